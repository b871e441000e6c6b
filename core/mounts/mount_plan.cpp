#include "core/mounts/mount_plan.hpp"

#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core/common/error.hpp"
#include "core/common/util.hpp"

namespace sbx {

using launch::MountOp;

ResolvedConfig resolve_config(const BoxConfig& cfg) {
  cfg.validate();
  ResolvedConfig r;
  r.cfg = cfg;
  if (cfg.rootfs) {
    std::string c = canonical_host_path(*cfg.rootfs, "rootfs");
    struct stat st;
    if (stat(c.c_str(), &st) < 0 || !S_ISDIR(st.st_mode))
      throw Error(SBX_E_INVALID, "argument", ENOTDIR, "rootfs '" + *cfg.rootfs + "': not a directory");
    if (c == "/") throw_invalid("rootfs", "the host root '/' cannot be the box root");
    r.rootfs = c;
  }
  for (const auto& m : cfg.mounts) {
    ResolvedMount rm;
    rm.kind = m.kind;
    if (m.kind == MountRequest::Kind::kBind) {
      rm.dst = m.bind.dst;
      rm.writable = m.bind.writable;
      rm.optional = m.bind.optional;
      char buf[PATH_MAX];
      if (::realpath(m.bind.src.c_str(), buf) == nullptr) {
        int e = errno;
        if (e == ENOENT && m.bind.optional) {
          rm.missing = true;
          r.mounts.push_back(rm);
          continue;
        }
        throw Error(SBX_E_INVALID, "bind", e,
                    "bind " + m.bind.src + " -> " + m.bind.dst + ": " + errno_text(e));
      }
      rm.src = buf;
      struct stat st;
      if (stat(buf, &st) < 0) {
        int e = errno;
        throw Error(SBX_E_INVALID, "bind", e,
                    "bind " + m.bind.src + " -> " + m.bind.dst + ": " + errno_text(e));
      }
      rm.src_is_dir = S_ISDIR(st.st_mode);
      rm.src_dev = st.st_dev;
      rm.src_ino = st.st_ino;
    } else {
      rm.dst = m.tmpfs.dst;
      rm.size_bytes = m.tmpfs.size_bytes;
      rm.mode = m.tmpfs.mode;
    }
    r.mounts.push_back(rm);
  }
  return r;
}

namespace {

std::string rel(const std::string& abs) {
  return abs.size() > 1 ? abs.substr(1) : std::string();
}

void add_bind(MountPlan& p, const std::string& src, const std::string& dst, bool is_dir, bool writable,
              bool devices, bool optional, const struct stat* identity = nullptr) {
  MountOp op{};
  if (identity != nullptr) {
    op.check_identity = true;
    op.src_dev = identity->st_dev;
    op.src_ino = identity->st_ino;
  }
  op.kind = MountOp::kBind;
  op.source = p.keep(src);
  op.target = p.keep(rel(dst));
  op.source_is_dir = is_dir;
  op.writable = writable;
  op.allow_devices = devices;
  op.optional = optional;
  p.ops.push_back(op);
  p.describe.push_back("bind " + src + " -> " + dst);
}

void add_symlink(MountPlan& p, const std::string& dst, const std::string& content) {
  MountOp op{};
  op.kind = MountOp::kSymlink;
  op.target = p.keep(rel(dst));
  op.data = p.keep(content);
  op.data_len = content.size();
  p.ops.push_back(op);
  p.describe.push_back("symlink " + dst + " -> " + content);
}

void add_file(MountPlan& p, const std::string& dst, const std::string& content) {
  MountOp op{};
  op.kind = MountOp::kWriteFile;
  op.target = p.keep(rel(dst));
  op.data = p.keep(content);
  op.data_len = content.size();
  p.ops.push_back(op);
  p.describe.push_back("write " + dst);
}

void add_tmpfs(MountPlan& p, const std::string& dst, const std::string& options) {
  MountOp op{};
  op.kind = MountOp::kTmpfs;
  op.target = p.keep(rel(dst));
  op.data = p.keep(options);
  op.data_len = options.size();
  p.ops.push_back(op);
  p.describe.push_back("tmpfs " + dst);
}

void add_readonly(MountPlan& p, const std::string& dst) {
  MountOp op{};
  op.kind = MountOp::kReadOnly;
  op.target = p.keep(rel(dst));
  p.ops.push_back(op);
  p.describe.push_back("remount read-only " + dst);
}

// Host entries mirrored into a default (tmpfs) root: directories are bound
// read-only, symlinks (merged-/usr systems) are recreated as symlinks.
void mirror_host_entry(MountPlan& p, const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) < 0) return;  // absent on this host: nothing to mirror
  if (S_ISLNK(st.st_mode)) {
    char buf[PATH_MAX];
    ssize_t n = readlink(path.c_str(), buf, sizeof buf - 1);
    if (n <= 0) return;
    add_symlink(p, path, std::string(buf, static_cast<size_t>(n)));
    return;
  }
  if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode))
    add_bind(p, path, path, S_ISDIR(st.st_mode), false, false, true, &st);
}

// A rootfs is mirrored into the box's tmpfs root entry by entry: directories
// and files are bound read-only, symlinks recreated. /proc and /dev are the
// box's own. Nothing is created in the rootfs directory itself.
void mirror_rootfs(MountPlan& p, const std::string& rootfs) {
  DIR* d = opendir(rootfs.c_str());
  if (d == nullptr) {
    int e = errno;
    throw Error(SBX_E_INVALID, "rootfs", e, "rootfs " + rootfs + ": " + errno_text(e));
  }
  std::vector<std::string> names;
  while (struct dirent* ent = readdir(d)) {
    std::string n = ent->d_name;
    if (n == "." || n == ".." || n == "proc" || n == "dev") continue;
    names.push_back(n);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    std::string host = rootfs + "/" + n;
    struct stat st;
    if (lstat(host.c_str(), &st) < 0) continue;  // vanished meanwhile
    if (S_ISLNK(st.st_mode)) {
      char buf[PATH_MAX];
      ssize_t len = readlink(host.c_str(), buf, sizeof buf - 1);
      if (len > 0) add_symlink(p, "/" + n, std::string(buf, static_cast<size_t>(len)));
    } else if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
      add_bind(p, host, "/" + n, S_ISDIR(st.st_mode), false, false, false, &st);
    }
  }
}

std::string passwd_for(uid_t uid, gid_t gid) {
  std::string s = "root:x:0:0:root:/root:/usr/sbin/nologin\n";
  if (uid != 0 && uid != 65534)
    s += "sbx:x:" + std::to_string(uid) + ":" + std::to_string(gid) + ":sbx:/:/bin/sh\n";
  s += "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
  return s;
}

std::string group_for(gid_t gid) {
  std::string s = "root:x:0:\n";
  if (gid != 0 && gid != 65534) s += "sbx:x:" + std::to_string(gid) + ":\n";
  s += "nogroup:x:65534:\n";
  return s;
}

// User tmpfs mounts belong to the box user (as root the setup runs as the
// namespace's root, which would otherwise own them).
std::string tmpfs_options(uint64_t size, unsigned mode, uid_t uid, gid_t gid) {
  char buf[96];
  snprintf(buf, sizeof buf, "mode=%04o,uid=%u,gid=%u", mode, static_cast<unsigned>(uid),
           static_cast<unsigned>(gid));
  std::string o = buf;
  if (size != 0) o += ",size=" + std::to_string(size);
  return o;
}

}  // namespace

MountPlan build_mount_plan(const MountPlanInput& in) {
  MountPlan p;
  const ResolvedConfig& box = *in.box;
  bool default_root = !box.rootfs.has_value();

  if (!default_root) mirror_rootfs(p, *box.rootfs);
  if (default_root) {
    for (const char* d : {"/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"})
      mirror_host_entry(p, d);
    // A minimal /etc: what the dynamic loader, libc's name service and TLS
    // need, and nothing that describes the host's users or secrets.
    for (const char* f : {"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/nsswitch.conf",
                          "/etc/localtime", "/etc/alternatives", "/etc/ssl", "/etc/ca-certificates"})
      mirror_host_entry(p, f);
    if (!in.own_network) {
      // Host networking: name resolution needs the host's resolver config.
      for (const char* f : {"/etc/resolv.conf", "/etc/hosts", "/etc/host.conf", "/etc/gai.conf"}) {
        char buf[PATH_MAX];
        if (::realpath(f, buf) != nullptr) add_bind(p, buf, f, false, false, false, true);
      }
    }
    add_file(p, "/etc/passwd", passwd_for(in.uid, in.gid));
    add_file(p, "/etc/group", group_for(in.gid));
    if (in.own_network) {
      std::string h = box.cfg.hostname;
      add_file(p, "/etc/hosts",
               "127.0.0.1\tlocalhost " + h + "\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    }
    if ((box.cfg.namespaces & SBX_NS_UTS) != 0) add_file(p, "/etc/hostname", box.cfg.hostname + "\n");
  }

  {
    MountOp op{};
    op.kind = MountOp::kProc;
    op.target = p.keep("proc");
    op.fresh_proc = in.fresh_proc;
    p.ops.push_back(op);
    p.describe.push_back(in.fresh_proc ? "mount proc at /proc" : "bind host /proc");
  }

  // A minimal /dev: a small tmpfs holding binds of the harmless device nodes
  // (no mknod in a user namespace) and the usual fd symlinks.
  add_tmpfs(p, "/dev", "mode=0755,size=64k,nr_inodes=64");
  for (const char* d : {"null", "zero", "full", "random", "urandom", "tty"})
    add_bind(p, std::string("/dev/") + d, std::string("/dev/") + d, false, true, true, false);
  add_symlink(p, "/dev/fd", "/proc/self/fd");
  add_symlink(p, "/dev/stdin", "/proc/self/fd/0");
  add_symlink(p, "/dev/stdout", "/proc/self/fd/1");
  add_symlink(p, "/dev/stderr", "/proc/self/fd/2");
  // POSIX shared memory and semaphores (shm_open, sem_open; Python's
  // multiprocessing) live here; capped like Docker's default.
  add_tmpfs(p, "/dev/shm", "mode=1777,size=64m");

  for (const auto& m : box.mounts) {
    if (m.kind == MountRequest::Kind::kBind) {
      if (m.missing) continue;
      struct stat id {};
      id.st_dev = m.src_dev;
      id.st_ino = m.src_ino;
      add_bind(p, m.src, m.dst, m.src_is_dir, m.writable, false, false, &id);
      p.describe.back() = "bind " + m.src + " -> " + m.dst;
    } else {
      add_tmpfs(p, m.dst, tmpfs_options(m.size_bytes, m.mode, in.uid, in.gid));
    }
  }
  add_readonly(p, "/dev");
  return p;
}

}  // namespace sbx
