// Child side of a launch. Async-signal-safe code only: see child.hpp.
//
// Order of work in the child (the box init when a pid namespace is used):
//   1. signal dispositions reset, every fd not in the keep list closed
//   2. wait for the parent to write uid/gid maps (sync pipe)
//   3. setsid, hostname, loopback up
//   4. filesystem: private propagation, tmpfs base, pivot into it, build the
//      new root from binds/tmpfs/proc/dev/etc, make it read-only, pivot
//   5. identity: drop the bounding set, set groups/gid/uid, clear all
//      capability sets, no_new_privs
//   6. with a box init: fork the program; the init reaps, forwards signals
//      and reports the program's exact wait status
//   7. program: stdio, preserved fds, cwd, default signals, execve
#include "core/launch/child.hpp"
#include "core/launch/raw_syscalls.hpp"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sbx::launch {

namespace {

// ------------------------------------------------------------ tiny helpers

size_t c_strlen(const char* s) {
  size_t n = 0;
  while (s[n] != '\0') ++n;
  return n;
}

// Appends S to BUF (capacity CAP, current length *LEN); false on overflow.
bool append(char* buf, size_t cap, size_t* len, const char* s) {
  size_t n = c_strlen(s);
  if (*len + n + 1 > cap) return false;
  for (size_t i = 0; i < n; ++i) buf[*len + i] = s[i];
  *len += n;
  buf[*len] = '\0';
  return true;
}

void append_uint(char* buf, size_t cap, size_t* len, unsigned v) {
  char tmp[16];
  int i = 0;
  do {
    tmp[i++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0 && i < 15);
  char rev[16];
  for (int j = 0; j < i; ++j) rev[j] = tmp[i - 1 - j];
  rev[i] = '\0';
  append(buf, cap, len, rev);
}

// "/oldroot/proc/self/fd/N": the magic link that names an fd for sys::mount(2).
// While the host tree sits at /oldroot this is the host's procfs, in which
// "self" is this process.
struct FdPath {
  char buf[48];
  explicit FdPath(int fd) {
    size_t len = 0;
    buf[0] = '\0';
    append(buf, sizeof buf, &len, "/oldroot/proc/self/fd/");
    append_uint(buf, sizeof buf, &len, static_cast<unsigned>(fd));
  }
};

[[noreturn]] void fail(const ChildPlan* p, Step step, int err, int index = -1) {
  ChildError e{static_cast<int32_t>(step), err, index};
  ssize_t r;
  do {
    r = sys::write(p->err_fd, &e, sizeof e);
  } while (r < 0 && errno == EINTR);
  sys::exit_group(125);
}

void close_fd(int fd) {
  // sys::close(2) may report EINTR after the fd is gone; never retry.
  if (fd >= 0) (void)sys::close(fd);
}

int sys_close_range(unsigned first, unsigned last, unsigned flags) {
  return static_cast<int>(syscall(SYS_close_range, first, last, flags));
}

// Closes (or marks close-on-exec) every fd >= FROM that is not listed in
// KEEP (sorted ascending).
int close_except(unsigned from, const int* keep, size_t n, unsigned flags) {
  unsigned next = from;
  for (size_t i = 0; i < n; ++i) {
    if (keep[i] < 0 || static_cast<unsigned>(keep[i]) < next) continue;  // duplicate or below FROM
    unsigned k = static_cast<unsigned>(keep[i]);
    if (k > next && sys_close_range(next, k - 1, flags) < 0) return -1;
    next = k + 1;
  }
  if (sys_close_range(next, ~0u, flags) < 0) return -1;
  return 0;
}

void reset_signal_dispositions() {
  for (int sig = 1; sig <= 64; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    (void)sys::set_default_disposition(sig);
  }
}

void set_all_signals_blocked(bool blocked) {
  // The parent blocked every signal (glibc's internal ones too, through the
  // raw syscall) around clone3.
  (void)sys::set_signal_mask(blocked ? ~0ull : 0ull);
}

// ------------------------------------------------------------ path walking

int sys_openat2_path(int dirfd, const char* path, uint64_t resolve) {
  struct open_how how = {};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = resolve;
  return static_cast<int>(syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

enum class Want { kDir, kFile, kAny };

// The filesystems the box itself mounted (its tmpfs root, /dev, user tmpfs).
// Missing mount points are created only there: sbx never creates anything
// in a host directory (a rootfs or a bind source).
struct OwnedFs {
  static constexpr size_t kMax = 1100;
  dev_t dev[kMax];
  size_t n = 0;
  void add(int fd) {
    struct stat st;
    if (n < kMax && sys::fstatat(fd, "", &st, AT_EMPTY_PATH) == 0) dev[n++] = st.st_dev;
  }
  bool owns(int dirfd) const {
    struct stat st;
    if (sys::fstatat(dirfd, "", &st, AT_EMPTY_PATH) < 0) return false;
    for (size_t i = 0; i < n; ++i)
      if (dev[i] == st.st_dev) return true;
    return false;
  }
};

// Opens REL below DIRFD component by component without following any
// symlink, creating missing components when CREATE is set (directories
// 0755, a final file 0644 when WANT is kFile). Returns an O_PATH fd or -1
// with errno set; a symlink anywhere on the way is ELOOP.
// Type checks shared by both resolution paths; closes FD on failure.
int check_walked(int fd, Want want) {
  struct stat st;
  if (sys::fstatat(fd, "", &st, AT_EMPTY_PATH) < 0) {
    int e = errno;
    close_fd(fd);
    errno = e;
    return -1;
  }
  int err = 0;
  if (S_ISLNK(st.st_mode)) err = ELOOP;
  else if (want == Want::kDir && !S_ISDIR(st.st_mode)) err = ENOTDIR;
  else if (want == Want::kFile && S_ISDIR(st.st_mode)) err = EISDIR;
  if (err != 0) {
    close_fd(fd);
    errno = err;
    return -1;
  }
  return fd;
}

int walk_components(int dirfd, const char* rel, const OwnedFs* create_on, Want want);

int walk(int dirfd, const char* rel, const OwnedFs* create_on, Want want) {
  // Fast path: one openat2 that refuses every symlink and never leaves
  // DIRFD's tree; only a missing component needs the walk that creates.
  const char* r = rel;
  while (*r == '/') ++r;
  int fd = sys_openat2_path(dirfd, *r != '\0' ? r : ".", RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  if (fd >= 0) return check_walked(fd, want);
  if (errno == ELOOP || errno == EXDEV) {
    errno = ELOOP;
    return -1;
  }
  if (errno != ENOENT && errno != ENOSYS && errno != EAGAIN) return -1;
  if (errno == ENOENT && create_on == nullptr) return -1;
  return walk_components(dirfd, rel, create_on, want);
}

// Opens REL below DIRFD component by component without following any
// symlink, creating missing components on filesystems in CREATE_ON.
int walk_components(int dirfd, const char* rel, const OwnedFs* create_on, Want want) {
  const bool create = create_on != nullptr;
  int cur = sys::fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
  if (cur < 0) return -1;
  const char* p = rel;
  while (*p == '/') ++p;
  while (*p != '\0') {
    char comp[NAME_MAX + 1];
    size_t n = 0;
    while (p[n] != '\0' && p[n] != '/') {
      if (n >= NAME_MAX) {
        close_fd(cur);
        errno = ENAMETOOLONG;
        return -1;
      }
      comp[n] = p[n];
      ++n;
    }
    comp[n] = '\0';
    p += n;
    while (*p == '/') ++p;
    bool last = (*p == '\0');
    bool need_dir = !last || want == Want::kDir;

    int next = sys::openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT && create) {
      if (!create_on->owns(cur)) {
        sys::close(cur);
        errno = ENOENT;  // would have to create it in a host directory
        return -1;
      }
      int r;
      if (need_dir) {
        r = sys::mkdirat(cur, comp, 0755);
      } else {
        r = sys::openat(cur, comp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (r >= 0) {
          close_fd(r);
          r = 0;
        }
      }
      if (r < 0 && errno != EEXIST) {
        int e = errno;
        close_fd(cur);
        errno = e;
        return -1;
      }
      next = sys::openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    }
    if (next < 0) {
      int e = errno;
      close_fd(cur);
      errno = e;
      return -1;
    }
    close_fd(cur);
    cur = next;
    struct stat st;
    if (sys::fstatat(cur, "", &st, AT_EMPTY_PATH) < 0) {
      int e = errno;
      close_fd(cur);
      errno = e;
      return -1;
    }
    if (S_ISLNK(st.st_mode)) {
      close_fd(cur);
      errno = ELOOP;  // a symlink inside the box root: refuse, never follow
      return -1;
    }
    if (need_dir && !S_ISDIR(st.st_mode)) {
      close_fd(cur);
      errno = ENOTDIR;
      return -1;
    }
    if (last && want == Want::kFile && S_ISDIR(st.st_mode)) {
      close_fd(cur);
      errno = EISDIR;
      return -1;
    }
  }
  return cur;
}

// Splits "a/b/c" into the parent "a/b" (written to PARENT) and returns a
// pointer to "c" inside REL.
const char* split_parent(const char* rel, char* parent, size_t cap) {
  size_t n = c_strlen(rel);
  size_t slash = n;
  while (slash > 0 && rel[slash - 1] != '/') --slash;
  size_t plen = slash > 0 ? slash - 1 : 0;
  if (plen + 1 > cap) plen = cap - 1;
  for (size_t i = 0; i < plen; ++i) parent[i] = rel[i];
  parent[plen] = '\0';
  return rel + slash;
}

int sys_mount_setattr(int fd, uint64_t set, bool recursive) {
  struct mount_attr attr = {};
  attr.attr_set = set;
  unsigned flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
  int r = static_cast<int>(syscall(SYS_mount_setattr, fd, "", flags, &attr, sizeof attr));
  if (r < 0 && errno == ENOSYS) {
    // Kernels before 5.12: a bind remount, keeping the flags the kernel
    // locked on the source (nosuid/nodev/noexec) so the remount is allowed
    // inside a user namespace. Not recursive.
    unsigned long mflags = MS_BIND | MS_REMOUNT;
    if (set & MOUNT_ATTR_RDONLY) mflags |= MS_RDONLY;
    if (set & MOUNT_ATTR_NOSUID) mflags |= MS_NOSUID;
    if (set & MOUNT_ATTR_NODEV) mflags |= MS_NODEV;
    FdPath fp(fd);
    r = sys::mount(nullptr, fp.buf, nullptr, mflags, nullptr);
  }
  return r;
}

// ------------------------------------------------------------ mount ops

// Returns 0, or -1 with errno set and *SOURCE_FAILED telling which side.
int do_mount_op(const MountOp& op, int root_fd, int oldroot_fd, OwnedFs* owned, bool* source_failed) {
  *source_failed = false;
  switch (op.kind) {
    case MountOp::kBind: {
      // The source is a canonical host path; resolving it without symlinks
      // under the old root means a component swapped for a symlink since the
      // box was created is refused rather than followed.
      const char* src = op.source;
      while (*src == '/') ++src;
      int sfd = sys_openat2_path(oldroot_fd, *src ? src : ".",
                                 RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
      if (sfd < 0 && errno == ENOSYS) sfd = sys::openat(oldroot_fd, *src ? src : ".", O_PATH | O_NOFOLLOW | O_CLOEXEC);
      if (sfd < 0) {
        if (errno == ENOENT && op.optional) return 0;
        *source_failed = true;
        return -1;
      }
      struct stat st;
      if (sys::fstatat(sfd, "", &st, AT_EMPTY_PATH) < 0) {
        int e = errno;
        close_fd(sfd);
        errno = e;
        *source_failed = true;
        return -1;
      }
      // The box was configured with this very file: a path that now names
      // another one (replaced since sbx_box_create) is refused.
      if (op.check_identity && (st.st_dev != op.src_dev || st.st_ino != op.src_ino)) {
        close_fd(sfd);
        errno = ESTALE;
        *source_failed = true;
        return -1;
      }
      int tfd = walk(root_fd, op.target, owned, S_ISDIR(st.st_mode) ? Want::kDir : Want::kFile);
      if (tfd < 0) {
        int e = errno;
        close_fd(sfd);
        errno = e;
        return -1;
      }
      FdPath sp(sfd), tp(tfd);
      int r = sys::mount(sp.buf, tp.buf, nullptr, MS_BIND | MS_REC, nullptr);
      int e = errno;
      close_fd(sfd);
      close_fd(tfd);
      if (r < 0) {
        errno = e;
        return -1;
      }
      // Reopen: the old target fd names the directory under the new mount.
      int mfd = walk(root_fd, op.target, nullptr, Want::kAny);
      if (mfd < 0) return -1;
      uint64_t attrs = MOUNT_ATTR_NOSUID;
      if (!op.writable) attrs |= MOUNT_ATTR_RDONLY;
      if (!op.allow_devices) attrs |= MOUNT_ATTR_NODEV;
      r = sys_mount_setattr(mfd, attrs, true);
      e = errno;
      close_fd(mfd);
      errno = e;
      return r;
    }
    case MountOp::kTmpfs: {
      int tfd = walk(root_fd, op.target, owned, Want::kDir);
      if (tfd < 0) return -1;
      FdPath tp(tfd);
      int r = sys::mount("tmpfs", tp.buf, "tmpfs", MS_NOSUID | MS_NODEV, op.data);
      int e = errno;
      close_fd(tfd);
      if (r == 0) {
        int mfd = walk(root_fd, op.target, nullptr, Want::kDir);
        if (mfd >= 0) {
          owned->add(mfd);
          close_fd(mfd);
        }
      }
      errno = e;
      return r;
    }
    case MountOp::kProc: {
      int tfd = walk(root_fd, op.target, owned, Want::kDir);
      if (tfd < 0) return -1;
      FdPath tp(tfd);
      int r;
      if (op.fresh_proc) {
        r = sys::mount("proc", tp.buf, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
      } else {
        r = sys::mount("/oldroot/proc", tp.buf, nullptr, MS_BIND | MS_REC, nullptr);
      }
      int e = errno;
      close_fd(tfd);
      errno = e;
      return r;
    }
    case MountOp::kSymlink:
    case MountOp::kWriteFile: {
      char parent[PATH_MAX];
      const char* name = split_parent(op.target, parent, sizeof parent);
      int dfd = walk(root_fd, parent, owned, Want::kDir);
      if (dfd < 0) return -1;
      int e;
      int r = 0;
      if (op.kind == MountOp::kSymlink) {
        r = sys::symlinkat(op.data, dfd, name);
        if (r < 0 && errno == EEXIST) r = 0;
      } else {
        int f = sys::openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (f < 0) {
          r = -1;
        } else {
          size_t off = 0;
          while (off < op.data_len) {
            ssize_t w = sys::write(f, op.data + off, op.data_len - off);
            if (w < 0) {
              if (errno == EINTR) continue;
              r = -1;
              break;
            }
            off += static_cast<size_t>(w);
          }
          e = errno;
          close_fd(f);
          errno = e;
        }
      }
      e = errno;
      close_fd(dfd);
      errno = e;
      return r;
    }
    case MountOp::kReadOnly: {
      int mfd = walk(root_fd, op.target, nullptr, Want::kDir);
      if (mfd < 0) return -1;
      int r = sys_mount_setattr(mfd, MOUNT_ATTR_RDONLY, false);
      int e = errno;
      close_fd(mfd);
      errno = e;
      return r;
    }
  }
  errno = EINVAL;
  return -1;
}

void build_filesystem(const ChildPlan* p) {
  // Nothing we mount may propagate back to the host.
  if (sys::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0)
    fail(p, Step::kMountPrivate, errno);
  // A scratch tmpfs becomes the root for a moment, with the host tree at
  // /oldroot (so host paths stay reachable for binds) and the box root
  // being assembled at /newroot. /tmp only serves as an existing mount point.
  if (sys::mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=64k") < 0)
    fail(p, Step::kBaseTmpfs, errno);
  if (sys::mkdirat(AT_FDCWD, "/tmp/newroot", 0755) < 0 || sys::mkdirat(AT_FDCWD, "/tmp/oldroot", 0700) < 0)
    fail(p, Step::kBaseTmpfs, errno);
  if (sys::chdir("/tmp") < 0) fail(p, Step::kPivotBase, errno);
  if (sys::pivot_root(".", "oldroot") < 0) fail(p, Step::kPivotBase, errno);
  if (sys::chdir("/") < 0) fail(p, Step::kPivotBase, errno);

  int oldroot_fd = sys::openat(AT_FDCWD, "/oldroot", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (oldroot_fd < 0) fail(p, Step::kPivotBase, errno);

  // The box root is always a tmpfs of the box's own; a rootfs is mirrored
  // into it entry by entry (planned by the parent), so nothing is ever
  // created inside the host's rootfs directory.
  if (sys::mount("tmpfs", "/newroot", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4m,nr_inodes=4096") < 0)
    fail(p, Step::kRootTmpfs, errno);
  int root_fd = sys::openat(AT_FDCWD, "/newroot", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) fail(p, Step::kRootTmpfs, errno);

  OwnedFs owned;
  owned.add(root_fd);
  for (size_t i = 0; i < p->n_ops; ++i) {
    bool source_failed = false;
    if (do_mount_op(p->ops[i], root_fd, oldroot_fd, &owned, &source_failed) < 0)
      fail(p, source_failed ? Step::kMountSource : Step::kMountOp, errno, static_cast<int>(i));
  }
  // The root itself goes read-only last (binds below keep their own flags).
  if (sys_mount_setattr(root_fd, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, false) < 0)
    fail(p, Step::kRootTmpfs, errno);

  close_fd(oldroot_fd);
  if (sys::fchdir(root_fd) < 0) fail(p, Step::kPivotRoot, errno);
  close_fd(root_fd);
  // pivot_root(".", ".") stacks the old root on top of the new one; the
  // detach below removes it (and the scratch tmpfs and the host tree with it).
  if (sys::pivot_root(".", ".") < 0) fail(p, Step::kPivotRoot, errno);
  if (sys::umount2(".", MNT_DETACH) < 0) fail(p, Step::kUmountOld, errno);
  if (sys::chdir("/") < 0) fail(p, Step::kPivotRoot, errno);
}

void bring_loopback_up(const ChildPlan* p) {
  int s = sys::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) fail(p, Step::kLoopback, errno);
  struct ifreq ifr = {};
  ifr.ifr_name[0] = 'l';
  ifr.ifr_name[1] = 'o';
  if (sys::ioctl(s, SIOCGIFFLAGS, &ifr) < 0) fail(p, Step::kLoopback, errno);
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
  if (sys::ioctl(s, SIOCSIFFLAGS, &ifr) < 0) fail(p, Step::kLoopback, errno);
  close_fd(s);
}

void set_ids(const ChildPlan* p, Step failed_step_override) {
  auto step = [&](Step st) { return failed_step_override == Step::kNone ? st : failed_step_override; };
  if (p->setgroups_allowed) {
    if (sys::setgroups(0, nullptr) < 0) fail(p, step(Step::kSetgroups), errno);
  }
  if (sys::setresgid(p->gid, p->gid, p->gid) < 0) fail(p, step(Step::kSetgid), errno);
  if (sys::setresuid(p->uid, p->uid, p->uid) < 0) fail(p, step(Step::kSetuid), errno);
}

void drop_identity(const ChildPlan* p) {
  // The bounding set first: dropping needs CAP_SETPCAP, which goes away below.
  for (int cap = 0; cap <= p->last_cap; ++cap) {
    if (sys::prctl(PR_CAPBSET_DROP, static_cast<unsigned long>(cap)) < 0 && errno != EINVAL)
      fail(p, Step::kCapBounding, errno);
  }
  if (!p->early_identity) set_ids(p, Step::kNone);
  if (sys::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL) < 0 && errno != EINVAL) fail(p, Step::kCapClear, errno);
  struct __user_cap_header_struct hdr = {};
  hdr.version = _LINUX_CAPABILITY_VERSION_3;
  hdr.pid = 0;
  struct __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capset, &hdr, data) < 0) fail(p, Step::kCapClear, errno);
  if (sys::prctl(PR_SET_NO_NEW_PRIVS, 1) < 0) fail(p, Step::kNoNewPrivs, errno);
}

// ------------------------------------------------------------ program side

bool is_slash_in(const char* s) {
  for (; *s != '\0'; ++s)
    if (*s == '/') return true;
  return false;
}

[[noreturn]] void exec_program(const ChildPlan* p) {
  // Stdio: first move every source out of 0..2, then into place, so that a
  // source that is itself 0..2 cannot be clobbered before it is used.
  int tmp[3];
  for (int i = 0; i < 3; ++i) {
    tmp[i] = -1;
    int src = p->stdio_src[i];
    if (src >= 0) tmp[i] = sys::fcntl(src, F_DUPFD_CLOEXEC, 3);
    if (tmp[i] < 0) {
      // No source, or an inherited stream the host had closed: /dev/null, so
      // the program never finds a random file at fd 0..2.
      tmp[i] = sys::openat(AT_FDCWD, "/dev/null", i == 0 ? O_RDONLY : O_WRONLY);
      if (tmp[i] >= 0 && tmp[i] < 3) {
        int t = sys::fcntl(tmp[i], F_DUPFD_CLOEXEC, 3);
        close_fd(tmp[i]);
        tmp[i] = t;
      }
      if (tmp[i] < 0) fail(p, Step::kStdio, errno, i);
    }
  }
  for (int i = 0; i < 3; ++i) {
    if (sys::dup3(tmp[i], i, 0) < 0) fail(p, Step::kStdio, errno, i);
  }
  // Everything above 2 closes at execve except the preserved fds (the error
  // pipe stays usable until then).
  if (close_except(3, p->preserve_fds, p->n_preserve, CLOSE_RANGE_CLOEXEC) < 0)
    fail(p, Step::kPreserveFd, errno);
  for (size_t i = 0; i < p->n_preserve; ++i) {
    if (sys::fcntl(p->preserve_fds[i], F_SETFD, 0) < 0) fail(p, Step::kPreserveFd, errno, static_cast<int>(i));
  }
  if (sys::chdir(p->cwd) < 0) fail(p, Step::kChdir, errno);

  // Dispositions are already SIG_DFL (reset at the start of the child and
  // never changed since); only the mask is left to clear.
  set_all_signals_blocked(false);

  const char* file = p->argv[0];
  char* const* argv = const_cast<char* const*>(p->argv);
  char* const* envp = const_cast<char* const*>(p->envp);
  if (is_slash_in(file) || p->path_value == nullptr) {
    sys::execve(file, argv, envp);
    fail(p, Step::kExec, errno);
  }
  // PATH search like execvp, without its allocation: EACCES from any entry
  // wins over ENOENT (as the shells report it).
  bool saw_eacces = false;
  const char* dir = p->path_value;
  for (;;) {
    const char* end = dir;
    while (*end != '\0' && *end != ':') ++end;
    char full[PATH_MAX];
    size_t len = 0;
    full[0] = '\0';
    size_t dlen = static_cast<size_t>(end - dir);
    if (dlen == 0) {
      append(full, sizeof full, &len, "./");
    } else if (dlen + 2 < sizeof full) {
      for (size_t i = 0; i < dlen; ++i) full[i] = dir[i];
      len = dlen;
      full[len] = '\0';
      append(full, sizeof full, &len, "/");
    }
    if (append(full, sizeof full, &len, file)) {
      sys::execve(full, argv, envp);
      int e = errno;
      if (e == EACCES) {
        saw_eacces = true;
      } else if (e != ENOENT && e != ENOTDIR && e != ENAMETOOLONG) {
        fail(p, Step::kExec, e);
      }
    }
    if (*end == '\0') break;
    dir = end + 1;
  }
  fail(p, Step::kExec, saw_eacces ? EACCES : ENOENT);
}

// ------------------------------------------------------------ box init

[[noreturn]] void run_init(const ChildPlan* p, pid_t program) {
  // From here on the init only reaps and forwards. It keeps nothing open but
  // the status pipe: holding the program's stdio would delay EOF for the host.
  close_fd(p->err_fd);
  if (p->status_fd > 0) (void)sys_close_range(0, static_cast<unsigned>(p->status_fd) - 1, 0);
  (void)sys_close_range(static_cast<unsigned>(p->status_fd) + 1, ~0u, 0);
  // The program may not ptrace or read the init's memory.
  (void)sys::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // The init is a copy of the host process: its argv and environment strings
  // are the host's, and /proc/1/cmdline is world-readable. Overwrite them in
  // this copy (the host's memory is not touched: it is copy-on-write).
  if (p->host_args != nullptr) {
    volatile char* a = p->host_args;
    for (size_t i = 0; i < p->host_args_len; ++i) a[i] = 0;
    const char name[] = "sbx-init";
    for (size_t i = 0; i < sizeof name && i < p->host_args_len; ++i) a[i] = name[i];
  }
  (void)sys::prctl(PR_SET_NAME, reinterpret_cast<unsigned long>("sbx-init"));

  int program_status = 0;
  bool program_done = false;
  while (!program_done) {
    siginfo_t si;
    int sig = sys::sigtimedwait_all(&si);
    if (sig < 0) continue;  // EINTR
    if (sig == SIGCHLD) {
      for (;;) {
        int st = 0;
        pid_t r = sys::wait4(-1, &st, WNOHANG | __WALL);
        if (r <= 0) break;
        if (r == program) {
          program_status = st;
          program_done = true;
        }
      }
      continue;
    }
    // Forward to the program; if it is already gone the signal is moot.
    (void)sys::kill(program, sig);
  }
  ssize_t w;
  do {
    w = sys::write(p->status_fd, &program_status, sizeof program_status);
  } while (w < 0 && errno == EINTR);
  // Leaving ends the pid namespace: the kernel kills whatever the program
  // left behind.
  sys::exit_group(0);
}

// The program process: its own session and group (no controlling terminal,
// and kill(-pgid) reaches the program's group without touching the init).
[[noreturn]] void program_main(const ChildPlan* p) {
  close_fd(p->status_fd);
  if (sys::setsid() < 0) fail(p, Step::kSetsid, errno);
  exec_program(p);
}

#if defined(__x86_64__)
// clone(CLONE_VM | CLONE_VFORK) onto a separate stack, calling FN(ARG) there.
// The init (itself a copy of a possibly large host) is suspended until the
// program has executed or failed, so sharing its memory is safe, and no page
// tables are copied. glibc's clone() is not used: TSan intercepts it and
// would take locks that were copied from the host in an unknown state.
extern "C" long sbx_raw_clone_vfork(unsigned long flags, void* stack_top, void (*fn)(const void*), const void* arg);
asm(R"(
  .text
  .p2align 4
  .globl sbx_raw_clone_vfork
  .hidden sbx_raw_clone_vfork
  .type sbx_raw_clone_vfork, @function
sbx_raw_clone_vfork:
  subq $16, %rsi
  movq %rdx, 0(%rsi)
  movq %rcx, 8(%rsi)
  movl $56, %eax
  xorl %edx, %edx
  xorl %r10d, %r10d
  xorl %r8d, %r8d
  syscall
  testq %rax, %rax
  jnz 1f
  xorl %ebp, %ebp
  popq %rax
  popq %rdi
  andq $-16, %rsp
  callq *%rax
  movl $127, %edi
  movl $231, %eax
  syscall
  hlt
1:
  ret
  .size sbx_raw_clone_vfork, .-sbx_raw_clone_vfork
)");

void program_trampoline(const void* arg) { program_main(static_cast<const ChildPlan*>(arg)); }

long start_program(const ChildPlan* p) {
  // The program's stack lives in the init's own frame: the init does not
  // run until the program has executed or exited.
  alignas(16) char stack[64 * 1024];
  long r = sbx_raw_clone_vfork(CLONE_VM | CLONE_VFORK | SIGCHLD, stack + sizeof stack, program_trampoline, p);
  if (r < 0) {
    errno = static_cast<int>(-r);
    return -1;
  }
  return r;
}
#else
long start_program(const ChildPlan* p) {
  long pid = syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  if (pid == 0) program_main(p);
  return pid;
}
#endif

}  // namespace

void child_main(const ChildPlan* p) {
  // The parent blocked every signal around clone3; handlers inherited from
  // the host must never run here.
  reset_signal_dispositions();
  if (close_except(3, p->keep_fds, p->n_keep, 0) < 0) fail(p, Step::kCloseFds, errno);

  char byte;
  ssize_t r;
  do {
    r = sys::read(p->sync_fd, &byte, 1);
  } while (r < 0 && errno == EINTR);
  if (r != 1) sys::exit_group(125);  // the parent gave up; it reports why
  close_fd(p->sync_fd);

  if (p->early_identity) set_ids(p, Step::kNone);
  if (sys::setsid() < 0) fail(p, Step::kSetsid, errno);
  if (p->set_hostname && sys::sethostname(p->hostname, p->hostname_len) < 0) fail(p, Step::kHostname, errno);
  if (p->loopback_up) bring_loopback_up(p);
  if (p->mount_ns) build_filesystem(p);
  drop_identity(p);

  if (!p->box_init) exec_program(p);

  // Signals stay blocked in the init: a blocked signal is queued even for a
  // pid-namespace init (which would otherwise discard signals it has no
  // handler for), and sigtimedwait picks them up for forwarding.
  long pid = start_program(p);
  if (pid < 0) fail(p, Step::kFork, errno);
  run_init(p, static_cast<pid_t>(pid));
}

const char* step_name(Step s) {
  switch (s) {
    case Step::kNone: return "none";
    case Step::kSignals: return "signals";
    case Step::kCloseFds: return "close_fds";
    case Step::kSync: return "sync";
    case Step::kSetsid: return "setsid";
    case Step::kHostname: return "hostname";
    case Step::kLoopback: return "loopback";
    case Step::kMountPrivate: return "mount_private";
    case Step::kBaseTmpfs: return "base_tmpfs";
    case Step::kPivotBase: return "pivot_base";
    case Step::kRootfs: return "rootfs";
    case Step::kRootTmpfs: return "root_tmpfs";
    case Step::kMountOp: return "mount";
    case Step::kMountSource: return "mount_source";
    case Step::kEarlyIdentity: return "early_identity";
    case Step::kPivotRoot: return "pivot_root";
    case Step::kUmountOld: return "umount_old_root";
    case Step::kCapBounding: return "cap_bounding";
    case Step::kSetgroups: return "setgroups";
    case Step::kSetgid: return "setgid";
    case Step::kSetuid: return "setuid";
    case Step::kCapClear: return "capset";
    case Step::kNoNewPrivs: return "no_new_privs";
    case Step::kFork: return "fork";
    case Step::kStdio: return "stdio";
    case Step::kPreserveFd: return "preserve_fd";
    case Step::kChdir: return "chdir";
    case Step::kExec: return "execve";
  }
  return "unknown";
}

}  // namespace sbx::launch
