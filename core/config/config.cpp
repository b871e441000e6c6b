#include "core/config/config.hpp"

#include <fcntl.h>
#include <limits.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/common/error.hpp"
#include "core/common/util.hpp"

namespace sbx {

namespace {

std::string need_str(const char* s, const char* what) {
  if (s == nullptr) throw_invalid(what, "must not be NULL");
  return s;
}

bool valid_env_name(const std::string& k) {
  if (k.empty()) return false;
  for (char c : k)
    if (c == '=' || c == '\0') return false;
  return true;
}

}  // namespace

void BoxConfig::set_namespaces(unsigned mask) {
  if ((mask & ~static_cast<unsigned>(SBX_NS_ALL)) != 0)
    throw_invalid(
        "namespaces", "unknown namespace bits 0x" + [&] {
          char b[16];
          snprintf(b, sizeof b, "%x", mask & ~static_cast<unsigned>(SBX_NS_ALL));
          return std::string(b);
        }());
  namespaces = mask;
}

void BoxConfig::set_rootfs(const char* dir) {
  if (dir == nullptr) {
    rootfs.reset();
    return;
  }
  std::string d = dir;
  require_absolute(d, "rootfs");
  rootfs = d;
}

void BoxConfig::add_bind(const char* src, const char* dst, unsigned flags) {
  if (mounts.size() >= kMaxMounts) throw_invalid("bind", "too many mounts (limit 1024)");
  if ((flags & ~static_cast<unsigned>(SBX_BIND_RW | SBX_BIND_OPTIONAL)) != 0)
    throw_invalid("bind flags", "unknown flag bits");
  MountRequest m{MountRequest::Kind::kBind, {}, {}};
  m.bind.src = need_str(src, "bind source");
  require_absolute(m.bind.src, "bind source");
  m.bind.dst = normalize_box_path(need_str(dst, "bind target"), "bind target");
  if (m.bind.dst == "/") throw_invalid("bind target", "cannot bind over '/' (use a rootfs)");
  m.bind.writable = (flags & SBX_BIND_RW) != 0;
  m.bind.optional = (flags & SBX_BIND_OPTIONAL) != 0;
  mounts.push_back(std::move(m));
}

void BoxConfig::add_tmpfs(const char* dst, uint64_t size, unsigned mode) {
  if (mounts.size() >= kMaxMounts) throw_invalid("tmpfs", "too many mounts (limit 1024)");
  MountRequest m{MountRequest::Kind::kTmpfs, {}, {}};
  m.tmpfs.dst = normalize_box_path(need_str(dst, "tmpfs target"), "tmpfs target");
  if (m.tmpfs.dst == "/") throw_invalid("tmpfs target", "cannot mount a tmpfs over '/'");
  // A 1 PiB cap is far above any real machine and catches unit mistakes
  // (e.g. a size in bits or a negative number cast to unsigned).
  if (size > (1ull << 50)) throw_invalid("tmpfs size", "absurd size (more than 1 PiB)");
  if (mode > 07777) throw_invalid("tmpfs mode", "mode must be at most 07777");
  m.tmpfs.size_bytes = size;
  m.tmpfs.mode = mode;
  mounts.push_back(std::move(m));
}

void BoxConfig::set_hostname(const char* name) {
  std::string h = need_str(name, "hostname");
  if (h.empty() || h.size() > 64) throw_invalid("hostname", "must be 1 to 64 characters");
  for (char c : h) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok) throw_invalid("hostname", "'" + h + "' has characters outside [A-Za-z0-9.-]");
  }
  hostname = h;
}

void BoxConfig::validate() const {
  bool mnt = (namespaces & SBX_NS_MOUNT) != 0;
  if (!mnt && (rootfs || !mounts.empty()))
    throw_invalid("namespaces", "binds, tmpfs and rootfs need the mount namespace");
}

ProcSpec::ProcSpec() {
  env.emplace_back("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin");
  env.emplace_back("HOME", "/");
}

void ProcSpec::set_argv(size_t argc, const char* const* args) {
  if (argc == 0) throw_invalid("argv", "needs at least the program (argc is 0)");
  if (argc > kMaxArgs) throw_invalid("argv", "too many arguments (limit 65536)");
  if (args == nullptr) throw_invalid("argv", "must not be NULL");
  std::vector<std::string> v;
  v.reserve(argc);
  for (size_t i = 0; i < argc; ++i) {
    if (args[i] == nullptr) throw_invalid("argv", "argv[" + std::to_string(i) + "] is NULL");
    v.emplace_back(args[i]);
  }
  if (v[0].empty()) throw_invalid("argv", "argv[0] (the program) is empty");
  argv = std::move(v);
}

void ProcSpec::set_env(const char* key_value) {
  std::string kv = need_str(key_value, "env");
  size_t eq = kv.find('=');
  if (eq == std::string::npos) throw_invalid("env", "'" + kv + "' is not of the form KEY=VALUE");
  std::string k = kv.substr(0, eq);
  if (!valid_env_name(k)) throw_invalid("env", "'" + kv + "' has an empty variable name");
  bool known = false;
  for (auto& ek : explicit_keys) known = known || ek == k;
  if (!known) explicit_keys.push_back(k);
  for (auto& [ek, ev] : env)
    if (ek == k) {
      ev = kv.substr(eq + 1);
      return;
    }
  if (env.size() >= kMaxEnv) throw_invalid("env", "too many variables (limit 65536)");
  env.emplace_back(k, kv.substr(eq + 1));
}

void ProcSpec::allow(const char* name) {
  std::string n = need_str(name, "env name");
  if (!valid_env_name(n)) throw_invalid("env name", "'" + n + "' is not a variable name");
  if (allow_env.size() >= kMaxEnv) throw_invalid("env", "too many variables (limit 65536)");
  allow_env.push_back(n);
}

void ProcSpec::set_cwd(const char* dir) {
  cwd = normalize_box_path(need_str(dir, "cwd"), "cwd");
}

void ProcSpec::set_user(uint32_t uid, uint32_t gid) {
  // (uid_t)-1 means "unchanged" to set*id(2); refuse it explicitly.
  if (uid == UINT32_MAX || gid == UINT32_MAX)
    throw_invalid("user", "uid/gid 4294967295 is reserved (it means 'no change' to the kernel)");
  user = std::make_pair(uid, gid);
}

void ProcSpec::set_stdio(int which, int mode, const char* path, int fd) {
  if (which < 0 || which > 2) throw_invalid("stdio", "stream " + std::to_string(which) + " is not 0, 1 or 2");
  if (mode < SBX_STDIO_INHERIT || mode > SBX_STDIO_STDOUT)
    throw_invalid("stdio", "unknown mode " + std::to_string(mode));
  StdioSpec s;
  s.mode = static_cast<sbx_stdio_mode>(mode);
  if (s.mode == SBX_STDIO_FILE) {
    s.path = need_str(path, "stdio file");
    require_absolute(s.path, "stdio file");
  } else if (s.mode == SBX_STDIO_FD) {
    if (fd < 0) throw_invalid("stdio fd", "fd " + std::to_string(fd) + " is negative");
    if (fcntl(fd, F_GETFD) < 0) throw_invalid("stdio fd", "fd " + std::to_string(fd) + " is not open");
    s.fd = fd;
  } else if (s.mode == SBX_STDIO_STDOUT && which != SBX_STDERR) {
    throw_invalid("stdio", "SBX_STDIO_STDOUT is only valid for stderr");
  }
  stdio[which] = s;
}

void ProcSpec::preserve(int fd) {
  if (fd <= 2)
    throw_invalid("preserve fd", "fd " + std::to_string(fd) + " is stdio (use sbx_spec_set_stdio)");
  if (fcntl(fd, F_GETFD) < 0) throw_invalid("preserve fd", "fd " + std::to_string(fd) + " is not open");
  for (int f : preserve_fds)
    if (f == fd) return;
  if (preserve_fds.size() >= kMaxPreserve) throw_invalid("preserve fd", "too many fds (limit 1024)");
  preserve_fds.push_back(fd);
}

void ProcSpec::validate() const {
  if (argv.empty()) throw_invalid("argv", "no program set (call sbx_spec_set_argv)");
  for (int fd : preserve_fds)
    if (fcntl(fd, F_GETFD) < 0)
      throw_invalid("preserve fd", "fd " + std::to_string(fd) + " was closed after it was added");
}

std::vector<std::string> ProcSpec::build_env() const {
  std::vector<std::pair<std::string, std::string>> e;
  auto put = [&](const std::string& k, const std::string& v) {
    for (auto& [ek, ev] : e)
      if (ek == k) {
        ev = v;
        return;
      }
    e.emplace_back(k, v);
  };
  // Defaults (PATH, HOME) live at the front of env; explicit settings overwrite
  // them in place, so apply env first, then allowed host values only where the
  // user did not set the variable explicitly.
  for (auto& [k, v] : env) put(k, v);
  for (auto& name : allow_env) {
    bool explicit_set = false;
    for (auto& k : explicit_keys) explicit_set = explicit_set || k == name;
    const char* hv = getenv(name.c_str());
    if (hv != nullptr && !explicit_set) put(name, hv);
  }
  std::vector<std::string> out;
  out.reserve(e.size());
  for (auto& [k, v] : e) out.push_back(k + "=" + v);
  return out;
}

}  // namespace sbx
