#include "core/config/config.hpp"

#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/common/error.hpp"
#include "core/common/util.hpp"
#include "core/seccomp/seccomp.hpp"

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

void BoxConfig::set_memory_limit(uint64_t bytes) {
  if (bytes != 0 && bytes < (uint64_t{1} << 20))
    throw_invalid("memory limit", std::to_string(bytes) + " bytes is below the minimum of 1 MiB");
  if (bytes > (uint64_t{1} << 60)) throw_invalid("memory limit", "absurd size (more than 1 EiB)");
  limits.memory_max = bytes;
}

void BoxConfig::set_memory_high(uint64_t bytes) {
  if (bytes != 0 && bytes < (uint64_t{1} << 20))
    throw_invalid("memory high", std::to_string(bytes) + " bytes is below the minimum of 1 MiB");
  if (bytes > (uint64_t{1} << 60)) throw_invalid("memory high", "absurd size (more than 1 EiB)");
  limits.memory_high = bytes;
}

void BoxConfig::set_pids_limit(uint64_t n) {
  if (n > (uint64_t{1} << 22))
    throw_invalid("pids limit", std::to_string(n) + " is above the kernel's pid_max limit");
  limits.pids_max = n;
}

void BoxConfig::set_cpus(double cpus) {
  if (!std::isfinite(cpus) || cpus < 0 || (cpus != 0 && cpus < 0.01) || cpus > 1024)
    throw_invalid("cpus", "must be 0 (no limit) or between 0.01 and 1024");
  limits.cpus = cpus;
}

void BoxConfig::set_cpu_weight(uint32_t w) {
  if (w > 10000) throw_invalid("cpu weight", std::to_string(w) + " is outside 1..10000");
  limits.cpu_weight = w;
}

void BoxConfig::set_cpu_time_limit(uint64_t ms) {
  if (ms > (uint64_t{1} << 40)) throw_invalid("cpu time", "absurd limit (more than 34 years)");
  limits.cpu_time_ms = ms;
}

void BoxConfig::set_timeout(uint64_t ms) {
  if (ms > (uint64_t{1} << 40)) throw_invalid("timeout", "absurd timeout (more than 34 years)");
  limits.timeout_ms = ms;
}

void BoxConfig::set_kill_grace(uint64_t ms) {
  if (ms > 3600000) throw_invalid("kill grace", "more than an hour");
  limits.kill_grace_ms = ms;
}

void BoxConfig::set_zombie_ttl(uint64_t ms) {
  if (ms > 86400000ull) throw_invalid("zombie ttl", "more than a day");
  limits.zombie_ttl_ms = ms;
}

void BoxConfig::set_cgroup_parent(const char* path) {
  if (path == nullptr) {
    limits.cgroup_parent.reset();
    return;
  }
  std::string p = path;
  if (p.empty()) throw_invalid("cgroup parent", "must not be empty (NULL restores the default)");
  if (p.size() > 1024) throw_invalid("cgroup parent", "longer than 1024 characters");
  std::string rest = p;
  size_t pos = 0;
  while (pos <= rest.size()) {
    size_t next = rest.find('/', pos);
    std::string comp = rest.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    if (comp == "." || comp == "..")
      throw_invalid("cgroup parent", "'" + p + "' has a '.' or '..' component");
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  limits.cgroup_parent = p;
}

void BoxConfig::set_seccomp_profile(const char* name) {
  std::string n = need_str(name, "seccomp profile");
  (void)seccomp::named_profile(n);  // throws for an unknown name
  security.seccomp_profile = n;
  security.seccomp_json_path.reset();
  security.seccomp_rules.clear();
}

void BoxConfig::load_seccomp_json(const char* path) {
  std::string p = need_str(path, "seccomp profile path");
  // Checked now, so that a malformed profile is reported where it is named;
  // parsed again at box creation with the box's final capability set.
  (void)seccomp::load_oci_profile_file(p, seccomp::OciContext{});
  security.seccomp_json_path = p;
  security.seccomp_rules.clear();
}

void BoxConfig::add_seccomp_rule(const char* syscall, int action, int errno_value, size_t n_args,
                                 const sbx_seccomp_arg* args) {
  std::string name = need_str(syscall, "seccomp rule syscall");
  if (seccomp_syscall_resolve_name(name.c_str()) == __NR_SCMP_ERROR)
    throw_invalid("seccomp rule", "unknown system call '" + name + "' on this architecture");
  if (action < SBX_SECCOMP_ALLOW || action > SBX_SECCOMP_LOG)
    throw_invalid("seccomp rule", "unknown action " + std::to_string(action) + " for '" + name + "'");
  if (action == SBX_SECCOMP_ERRNO && (errno_value < 1 || errno_value > 4095))
    throw_invalid("seccomp rule",
                  "errno " + std::to_string(errno_value) + " for '" + name + "' is outside 1..4095");
  if (n_args > 6) throw_invalid("seccomp rule", "more than 6 argument conditions for '" + name + "'");
  if (n_args > 0 && args == nullptr) throw_invalid("seccomp rule", "args is NULL with n_args > 0");
  SeccompRuleSpec r{name, action, action == SBX_SECCOMP_ERRNO ? errno_value : 0, {}};
  for (size_t i = 0; i < n_args; ++i) {
    if (args[i].index > 5)
      throw_invalid("seccomp rule", "argument index " + std::to_string(args[i].index) + " for '" + name +
                                        "' is outside 0..5");
    if (args[i].op < SBX_SECCOMP_CMP_NE || args[i].op > SBX_SECCOMP_CMP_MASKED_EQ)
      throw_invalid("seccomp rule",
                    "unknown comparison " + std::to_string(args[i].op) + " for '" + name + "'");
    r.args.push_back(args[i]);
  }
  if (security.seccomp_rules.size() >= 4096) throw_invalid("seccomp rule", "too many rules (limit 4096)");
  security.seccomp_rules.push_back(std::move(r));
}

namespace {
const char* const kCapNames[] = {"chown",
                                 "dac_override",
                                 "dac_read_search",
                                 "fowner",
                                 "fsetid",
                                 "kill",
                                 "setgid",
                                 "setuid",
                                 "setpcap",
                                 "linux_immutable",
                                 "net_bind_service",
                                 "net_broadcast",
                                 "net_admin",
                                 "net_raw",
                                 "ipc_lock",
                                 "ipc_owner",
                                 "sys_module",
                                 "sys_rawio",
                                 "sys_chroot",
                                 "sys_ptrace",
                                 "sys_pacct",
                                 "sys_admin",
                                 "sys_boot",
                                 "sys_nice",
                                 "sys_resource",
                                 "sys_time",
                                 "sys_tty_config",
                                 "mknod",
                                 "lease",
                                 "audit_write",
                                 "audit_control",
                                 "setfcap",
                                 "mac_override",
                                 "mac_admin",
                                 "syslog",
                                 "wake_alarm",
                                 "block_suspend",
                                 "audit_read",
                                 "perfmon",
                                 "bpf",
                                 "checkpoint_restore"};
}  // namespace

int capability_from_name(const std::string& name) {
  std::string n;
  for (char c : name) n += static_cast<char>(tolower(static_cast<unsigned char>(c)));
  if (n.rfind("cap_", 0) == 0) n = n.substr(4);
  for (size_t i = 0; i < sizeof kCapNames / sizeof kCapNames[0]; ++i)
    if (n == kCapNames[i]) return static_cast<int>(i);
  return -1;
}

std::string capability_name(int cap) {
  if (cap < 0 || static_cast<size_t>(cap) >= sizeof kCapNames / sizeof kCapNames[0])
    return "CAP_" + std::to_string(cap);
  std::string s = "CAP_";
  for (const char* c = kCapNames[cap]; *c != '\0'; ++c)
    s += static_cast<char>(toupper(static_cast<unsigned char>(*c)));
  return s;
}

bool capability_grantable(int cap) {
  switch (cap) {
    case CAP_CHOWN:
    case CAP_DAC_OVERRIDE:
    case CAP_DAC_READ_SEARCH:
    case CAP_FOWNER:
    case CAP_FSETID:
    case CAP_KILL:
    case CAP_SETGID:
    case CAP_SETUID:
    case CAP_NET_BIND_SERVICE:
    case CAP_NET_RAW:
    case CAP_NET_ADMIN:
    case CAP_SYS_CHROOT:
    case CAP_SETFCAP:
    case CAP_AUDIT_WRITE:
    case CAP_MKNOD:
      return true;
    default:
      return false;
  }
}

void BoxConfig::set_landlock(unsigned flags) {
  if ((flags & ~static_cast<unsigned>(SBX_LANDLOCK_ON | SBX_LANDLOCK_ALLOW_TCP)) != 0)
    throw_invalid("landlock flags", "unknown flag bits");
  if (flags == SBX_LANDLOCK_ALLOW_TCP)
    throw_invalid("landlock flags", "SBX_LANDLOCK_ALLOW_TCP needs SBX_LANDLOCK_ON");
  security.landlock = (flags & SBX_LANDLOCK_ON) != 0;
  security.landlock_allow_tcp = (flags & SBX_LANDLOCK_ALLOW_TCP) != 0;
}

void BoxConfig::add_capability(const char* name) {
  std::string n = need_str(name, "capability");
  int cap = capability_from_name(n);
  if (cap < 0) throw_invalid("capability", "unknown capability '" + n + "'");
  if (!capability_grantable(cap))
    throw_invalid("capability", capability_name(cap) +
                                    " cannot be granted: it acts beyond the box's own user namespace "
                                    "(grantable: CHOWN, DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER, FSETID, KILL, "
                                    "SETGID, SETUID, NET_BIND_SERVICE, NET_RAW, NET_ADMIN, SYS_CHROOT, "
                                    "SETFCAP, AUDIT_WRITE, MKNOD)");
  auto& v = security.caps;
  if (std::find(v.begin(), v.end(), cap) == v.end()) {
    v.push_back(cap);
    std::sort(v.begin(), v.end());
  }
}

void BoxConfig::validate() const {
  bool mnt = (namespaces & SBX_NS_MOUNT) != 0;
  if (!mnt && (rootfs || !mounts.empty()))
    throw_invalid("namespaces", "binds, tmpfs and rootfs need the mount namespace");
  if (!security.caps.empty() && (namespaces & SBX_NS_USER) == 0)
    throw_invalid("capability",
                  "capabilities can be granted only with a user namespace (without one they would be "
                  "host capabilities)");
  if (limits.memory_high != 0 && limits.memory_max != 0 && limits.memory_high > limits.memory_max)
    throw_invalid("memory high", "is above the memory limit");
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
  if (mode < SBX_STDIO_INHERIT || mode > SBX_STDIO_CAPTURE)
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

void ProcSpec::set_rlimit(int res, uint64_t soft, uint64_t hard) {
  static const struct {
    int sbx;
    int sys;
    const char* name;
  } kMap[] = {{SBX_RLIMIT_NOFILE, RLIMIT_NOFILE, "RLIMIT_NOFILE"},
              {SBX_RLIMIT_FSIZE, RLIMIT_FSIZE, "RLIMIT_FSIZE"},
              {SBX_RLIMIT_AS, RLIMIT_AS, "RLIMIT_AS"},
              {SBX_RLIMIT_CPU, RLIMIT_CPU, "RLIMIT_CPU"},
              {SBX_RLIMIT_CORE, RLIMIT_CORE, "RLIMIT_CORE"},
              {SBX_RLIMIT_STACK, RLIMIT_STACK, "RLIMIT_STACK"},
              {SBX_RLIMIT_MEMLOCK, RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"}};
  if (res == SBX_RLIMIT_NPROC)
    throw_invalid("rlimit",
                  "RLIMIT_NPROC is refused: it counts every process of the host uid, not the box's "
                  "(use the pids limit, sbx_config_set_pids_limit / --pids-limit)");
  const char* name = nullptr;
  int sys_res = -1;
  for (auto& m : kMap)
    if (m.sbx == res) {
      name = m.name;
      sys_res = m.sys;
    }
  if (name == nullptr) throw_invalid("rlimit", "unknown resource " + std::to_string(res));
  auto show = [](uint64_t v) {
    return v == SBX_RLIM_INFINITY ? std::string("unlimited") : std::to_string(v);
  };
  if (soft > hard)
    throw_invalid("rlimit", std::string(name) + ": soft limit " + show(soft) + " is above the hard limit " +
                                show(hard));
  struct rlimit cur;
  if (getrlimit(sys_res, &cur) == 0) {
    uint64_t cur_hard = cur.rlim_max == RLIM_INFINITY ? SBX_RLIM_INFINITY : cur.rlim_max;
    if (hard > cur_hard)
      throw_invalid("rlimit", std::string(name) + ": hard limit " + show(hard) +
                                  " is above this process's own (" + show(cur_hard) +
                                  "); raising a hard limit needs CAP_SYS_RESOURCE in the host, which sbx "
                                  "never uses");
  }
  if (res == SBX_RLIMIT_NOFILE && soft < 3)
    throw_invalid("rlimit",
                  "RLIMIT_NOFILE: soft limit " + show(soft) + " leaves no room for stdio (minimum 3)");
  for (auto& r : rlimits)
    if (r.resource == sys_res) {
      r.soft = soft;
      r.hard = hard;
      return;
    }
  rlimits.push_back({sys_res, soft, hard});
}

void ProcSpec::set_timeout(uint64_t ms) {
  if (ms > (uint64_t{1} << 40)) throw_invalid("timeout", "absurd timeout (more than 34 years)");
  timeout_ms = ms;
}

void ProcSpec::set_output_limit(uint64_t max_bytes, int action) {
  if (max_bytes == 0) throw_invalid("output limit", "must be at least 1 byte");
  if (action != SBX_OUTPUT_LIMIT_TRUNCATE && action != SBX_OUTPUT_LIMIT_KILL)
    throw_invalid("output limit", "unknown action " + std::to_string(action));
  output_limit = max_bytes;
  output_limit_kill = action == SBX_OUTPUT_LIMIT_KILL;
}

void ProcSpec::set_pgroup(int mode, int pgid) {
  if (mode != SBX_PGROUP_NEW && mode != SBX_PGROUP_JOIN && mode != SBX_PGROUP_NEW_SESSION)
    throw_invalid("pgroup mode",
                  std::to_string(mode) + " is not SBX_PGROUP_NEW, SBX_PGROUP_JOIN or SBX_PGROUP_NEW_SESSION");
  if (mode == SBX_PGROUP_JOIN && pgid < 0)
    throw_invalid("pgid", std::to_string(pgid) + " is negative (0 means the box init's group)");
  if (mode != SBX_PGROUP_JOIN && pgid != 0)
    throw_invalid("pgid", "only SBX_PGROUP_JOIN takes a group (pass 0)");
  pgroup_mode = mode;
  pgroup_id = pgid;
}

void ProcSpec::set_pty(uint16_t rows, uint16_t cols) {
  if (rows < 1 || rows > 10000 || cols < 1 || cols > 10000)
    throw_invalid("pty",
                  "size " + std::to_string(rows) + "x" + std::to_string(cols) + " is outside 1..10000");
  pty = true;
  pty_rows = rows;
  pty_cols = cols;
}

void ProcSpec::validate() const {
  if (argv.empty()) throw_invalid("argv", "no program set (call sbx_spec_set_argv)");
  const bool captured_out = captures(SBX_STDOUT) || captures(SBX_STDERR);
  if (on_output && !captured_out)
    throw_invalid("output callback", "set, but neither stdout nor stderr is SBX_STDIO_CAPTURE");
  if (output_limit != 0 && !captured_out)
    throw_invalid("output limit", "set, but neither stdout nor stderr is SBX_STDIO_CAPTURE");
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
