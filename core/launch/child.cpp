// Child side of a launch. Async-signal-safe code only: see child.hpp.
//
// Order of work in the child (the box init when a pid namespace is used):
//   1. signal dispositions reset, every fd not in the keep list closed
//   2. wait for the sync byte: meanwhile the shim (or the parent) has placed
//      it in its cgroup and written its uid/gid maps
//   3. cgroup namespace (rooted at the box's cgroup), bind sources opened
//      with the creating identity, then (root host) the box's ids
//   4. setsid, hostname, loopback up
//   5. filesystem: private propagation, tmpfs base, pivot into it, build the
//      new root from binds/tmpfs/proc/dev/etc, make it read-only, pivot
//   6. identity: bounding set (all but the add list), securebits locked,
//      groups/gid/uid, capability sets = the add list, ambient raised,
//      no_new_privs
//   7. with a box init: start the program (clone CLONE_VM, gated on a go
//      pipe), then become the init image (or, as a fallback, stay an
//      in-process init): it reaps, forwards signals and reports the
//      program's exact status and usage
//   8. program: stdio, preserved fds, cwd, Landlock, rlimits, wait for the go
//      byte, signal mask, seccomp filter (last), execve
//
// Errors are kernel results (-errno), never errno: on x86-64 this code runs
// in the host's memory and errno belongs to a host thread (raw_syscalls.hpp).
#include "core/launch/child.hpp"

#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <linux/securebits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/landlock/landlock_child.hpp"
#include "core/launch/exec_search.hpp"
#include "core/launch/init_loop.hpp"
#include "core/launch/raw_clone3.hpp"
#include "core/launch/raw_syscalls.hpp"
#include "core/launch/supervisor_loop.hpp"

namespace sbx::launch {

namespace {

// ------------------------------------------------------------ tiny helpers

size_t c_strlen(const char* s) {
  size_t n = 0;
  while (s[n] != '\0') ++n;
  return n;
}

// Sorts a handful of ints ascending (fd lists for close_except).
void sort_small(int* v, int n) {
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j)
      if (v[j] < v[i]) {
        int t = v[i];
        v[i] = v[j];
        v[j] = t;
      }
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

// A number as an argument of the init image; "-" for a negative one.
struct NumArg {
  char buf[16];
  explicit NumArg(long v) {
    size_t len = 0;
    buf[0] = '\0';
    if (v < 0)
      append(buf, sizeof buf, &len, "-");
    else
      append_uint(buf, sizeof buf, &len, static_cast<unsigned>(v));
  }
};

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
  long r;
  do {
    r = sys::write(p->err_fd, &e, sizeof e);
  } while (r == -EINTR);
  sys::exit_group(125);
}

// Fails with the error of a raw call result R (-errno) if it is negative.
inline void check(const ChildPlan* p, long r, Step step, int index = -1) {
  if (r < 0) fail(p, step, static_cast<int>(-r), index);
}

void close_fd(int fd) {
  // close(2) may report EINTR after the fd is gone; never retry.
  if (fd >= 0) (void)sys::close(fd);
}

// Closes (or marks close-on-exec) every fd >= FROM that is not listed in
// KEEP (sorted ascending). Returns 0 or -errno.
int close_except(unsigned from, const int* keep, size_t n, unsigned flags) {
  unsigned next = from;
  for (size_t i = 0; i < n; ++i) {
    if (keep[i] < 0 || static_cast<unsigned>(keep[i]) < next) continue;  // duplicate or below FROM
    unsigned k = static_cast<unsigned>(keep[i]);
    if (k > next) {
      int r = sys::close_range(next, k - 1, flags);
      if (r < 0) return r;
    }
    next = k + 1;
  }
  return sys::close_range(next, ~0u, flags);
}

void reset_signal_dispositions() {
  for (int sig = 1; sig <= 64; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    (void)sys::set_default_disposition(sig);
  }
}

// ------------------------------------------------------------ path walking

int openat2_path(int dirfd, const char* path, uint64_t resolve) {
  struct open_how how = {};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = resolve;
  return sys::openat2(dirfd, path, &how, sizeof how);
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

// Type checks shared by both resolution paths; closes FD on failure.
// Returns FD or -errno.
int check_walked(int fd, Want want) {
  struct stat st;
  int r = sys::fstatat(fd, "", &st, AT_EMPTY_PATH);
  int err = 0;
  if (r < 0)
    err = -r;
  else if (S_ISLNK(st.st_mode))
    err = ELOOP;
  else if (want == Want::kDir && !S_ISDIR(st.st_mode))
    err = ENOTDIR;
  else if (want == Want::kFile && S_ISDIR(st.st_mode))
    err = EISDIR;
  if (err != 0) {
    close_fd(fd);
    return -err;
  }
  return fd;
}

// Opens REL below DIRFD component by component without following any
// symlink, creating missing components on the filesystems in CREATE_ON
// (directories 0755, a final file 0644 when WANT is kFile).
int walk_components(int dirfd, const char* rel, const OwnedFs* create_on, Want want) {
  int cur = sys::fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
  if (cur < 0) return cur;
  const char* p = rel;
  while (*p == '/') ++p;
  while (*p != '\0') {
    char comp[NAME_MAX + 1];
    size_t n = 0;
    while (p[n] != '\0' && p[n] != '/') {
      if (n >= NAME_MAX) {
        close_fd(cur);
        return -ENAMETOOLONG;
      }
      comp[n] = p[n];
      ++n;
    }
    comp[n] = '\0';
    p += n;
    while (*p == '/') ++p;
    const bool last = (*p == '\0');
    const bool need_dir = !last || want == Want::kDir;

    int next = sys::openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (next == -ENOENT && create_on != nullptr) {
      if (!create_on->owns(cur)) {
        close_fd(cur);
        return -ENOENT;  // it would have to be created in a host directory
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
      if (r < 0 && r != -EEXIST) {
        close_fd(cur);
        return r;
      }
      next = sys::openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    }
    close_fd(cur);
    if (next < 0) return next;
    cur = check_walked(next, need_dir ? Want::kDir : (last ? want : Want::kAny));
    if (cur < 0) return cur;  // a symlink inside the box root is ELOOP: never followed
  }
  return cur;
}

// Returns an O_PATH fd for REL below DIRFD, or -errno; a symlink anywhere
// on the way is -ELOOP.
int walk(int dirfd, const char* rel, const OwnedFs* create_on, Want want) {
  // Fast path: one openat2 that refuses every symlink and never leaves
  // DIRFD's tree; only a missing component needs the walk that creates.
  const char* r = rel;
  while (*r == '/') ++r;
  int fd = openat2_path(dirfd, *r != '\0' ? r : ".",
                        RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  if (fd >= 0) return check_walked(fd, want);
  if (fd == -ELOOP || fd == -EXDEV) return -ELOOP;
  if (fd == -ENOENT && create_on == nullptr) return fd;
  if (fd != -ENOENT && fd != -ENOSYS && fd != -EAGAIN) return fd;
  return walk_components(dirfd, rel, create_on, want);
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

int set_mount_attrs(int fd, uint64_t set, bool recursive) {
  struct mount_attr attr = {};
  attr.attr_set = set;
  unsigned flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
  int r = sys::mount_setattr(fd, "", flags, &attr, sizeof attr);
  if (r == -ENOSYS) {
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

// Returns 0 or -errno, with *SOURCE_FAILED telling which side failed.
// Opens the source of bind OP (a canonical host path) from the host's tree,
// which is still this process's root. Resolving it without symlinks means a
// component swapped for a symlink since the box was created is refused
// rather than followed; a path that now names another file than the one the
// box was configured with is refused too (ESTALE). Returns the fd, -errno,
// or kNoSource for a missing optional source.
int open_bind_source(const MountOp& op) {
  const char* src = op.source;
  while (*src == '/') ++src;
  const char* rel_src = *src != '\0' ? src : ".";
  int root = sys::openat(AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return root;
  int sfd = openat2_path(root, rel_src, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  if (sfd == -ENOSYS) sfd = sys::openat(root, rel_src, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  close_fd(root);
  if (sfd < 0) return (sfd == -ENOENT && op.optional) ? kNoSource : sfd;
  struct stat st;
  int r = sys::fstatat(sfd, "", &st, AT_EMPTY_PATH);
  if (r == 0 && op.check_identity && (st.st_dev != op.src_dev || st.st_ino != op.src_ino)) r = -ESTALE;
  if (r < 0) {
    close_fd(sfd);
    return r;
  }
  return sfd;
}

// Before the box process takes the box's ids: as root, host root is not
// mapped in the box's user namespace at all (the box's ids are the only
// ones), so this is the one moment it can still reach root-only bind
// sources as their owner.
void open_bind_sources(const ChildPlan* p) {
  for (size_t i = 0; i < p->n_ops; ++i)
    p->bind_src_fds[i] = p->ops[i].kind == MountOp::kBind ? open_bind_source(p->ops[i]) : kNoSource;
}

int do_mount_op(const MountOp& op, int src_slot, int root_fd, OwnedFs* owned, bool* source_failed) {
  *source_failed = false;
  switch (op.kind) {
    case MountOp::kBind: {
      if (src_slot == kNoSource) return 0;  // optional and missing
      if (src_slot < 0) {
        *source_failed = true;
        return src_slot;
      }
      int sfd = src_slot;
      struct stat st;
      int r = sys::fstatat(sfd, "", &st, AT_EMPTY_PATH);
      if (r < 0) {
        close_fd(sfd);
        *source_failed = true;
        return r;
      }
      int tfd = walk(root_fd, op.target, owned, S_ISDIR(st.st_mode) ? Want::kDir : Want::kFile);
      if (tfd < 0) {
        close_fd(sfd);
        return tfd;
      }
      FdPath sp(sfd), tp(tfd);
      r = sys::mount(sp.buf, tp.buf, nullptr, MS_BIND | MS_REC, nullptr);
      close_fd(sfd);
      close_fd(tfd);
      if (r < 0) return r;
      // Reopen: the old target fd names the directory under the new mount.
      int mfd = walk(root_fd, op.target, nullptr, Want::kAny);
      if (mfd < 0) return mfd;
      uint64_t attrs = MOUNT_ATTR_NOSUID;
      if (!op.writable) attrs |= MOUNT_ATTR_RDONLY;
      if (!op.allow_devices) attrs |= MOUNT_ATTR_NODEV;
      r = set_mount_attrs(mfd, attrs, true);
      close_fd(mfd);
      return r;
    }
    case MountOp::kTmpfs: {
      int tfd = walk(root_fd, op.target, owned, Want::kDir);
      if (tfd < 0) return tfd;
      FdPath tp(tfd);
      int r = sys::mount("tmpfs", tp.buf, "tmpfs", MS_NOSUID | MS_NODEV, op.data);
      close_fd(tfd);
      if (r < 0) return r;
      int mfd = walk(root_fd, op.target, nullptr, Want::kDir);
      if (mfd < 0) return mfd;
      owned->add(mfd);
      close_fd(mfd);
      return 0;
    }
    case MountOp::kProc: {
      int tfd = walk(root_fd, op.target, owned, Want::kDir);
      if (tfd < 0) return tfd;
      FdPath tp(tfd);
      int r;
      if (op.fresh_proc) {
        r = sys::mount("proc", tp.buf, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
      } else {
        r = sys::mount("/oldroot/proc", tp.buf, nullptr, MS_BIND | MS_REC, nullptr);
      }
      close_fd(tfd);
      return r;
    }
    case MountOp::kSymlink:
    case MountOp::kWriteFile: {
      char parent[PATH_MAX];
      const char* name = split_parent(op.target, parent, sizeof parent);
      int dfd = walk(root_fd, parent, owned, Want::kDir);
      if (dfd < 0) return dfd;
      int r = 0;
      if (op.kind == MountOp::kSymlink) {
        r = sys::symlinkat(op.data, dfd, name);
        if (r == -EEXIST) r = 0;
      } else {
        int f = sys::openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (f < 0) {
          r = f;
        } else {
          size_t off = 0;
          while (off < op.data_len) {
            long w = sys::write(f, op.data + off, op.data_len - off);
            if (w == -EINTR) continue;
            if (w < 0) {
              r = static_cast<int>(w);
              break;
            }
            off += static_cast<size_t>(w);
          }
          close_fd(f);
        }
      }
      close_fd(dfd);
      return r;
    }
    case MountOp::kReadOnly: {
      int mfd = walk(root_fd, op.target, nullptr, Want::kDir);
      if (mfd < 0) return mfd;
      int r = set_mount_attrs(mfd, MOUNT_ATTR_RDONLY, false);
      close_fd(mfd);
      return r;
    }
  }
  return -EINVAL;
}

void build_filesystem(const ChildPlan* p) {
  // Nothing we mount may propagate back to the host.
  check(p, sys::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), Step::kMountPrivate);
  // A scratch tmpfs becomes the root for a moment, with the host tree at
  // /oldroot (so host paths stay reachable for binds) and the box root
  // being assembled at /newroot. /tmp only serves as an existing mount point.
  check(p, sys::mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=64k"),
        Step::kBaseTmpfs);
  check(p, sys::mkdirat(AT_FDCWD, "/tmp/newroot", 0755), Step::kBaseTmpfs);
  check(p, sys::mkdirat(AT_FDCWD, "/tmp/oldroot", 0700), Step::kBaseTmpfs);
  check(p, sys::chdir("/tmp"), Step::kPivotBase);
  check(p, sys::pivot_root(".", "oldroot"), Step::kPivotBase);
  check(p, sys::chdir("/"), Step::kPivotBase);

  // The box root is always a tmpfs of the box's own; a rootfs is mirrored
  // into it entry by entry (planned by the parent), so nothing is ever
  // created inside the host's rootfs directory.
  check(p, sys::mount("tmpfs", "/newroot", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4m,nr_inodes=4096"),
        Step::kRootTmpfs);
  int root_fd = sys::openat(AT_FDCWD, "/newroot", O_PATH | O_DIRECTORY | O_CLOEXEC);
  check(p, root_fd, Step::kRootTmpfs);

  OwnedFs owned;
  owned.add(root_fd);
  for (size_t i = 0; i < p->n_ops; ++i) {
    bool source_failed = false;
    int slot = p->bind_src_fds[i];
    p->bind_src_fds[i] = kNoSource;  // consumed (closed by do_mount_op)
    int r = do_mount_op(p->ops[i], slot, root_fd, &owned, &source_failed);
    check(p, r, source_failed ? Step::kMountSource : Step::kMountOp, static_cast<int>(i));
  }
  // The root itself goes read-only last (binds below keep their own flags).
  check(p, set_mount_attrs(root_fd, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, false), Step::kRootTmpfs);

  check(p, sys::fchdir(root_fd), Step::kPivotRoot);
  close_fd(root_fd);
  // pivot_root(".", ".") stacks the old root on top of the new one; the
  // detach below removes it (and the scratch tmpfs and the host tree with it).
  check(p, sys::pivot_root(".", "."), Step::kPivotRoot);
  check(p, sys::umount2(".", MNT_DETACH), Step::kUmountOld);
  check(p, sys::chdir("/"), Step::kPivotRoot);
}

void bring_loopback_up(const ChildPlan* p) {
  int s = sys::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  check(p, s, Step::kLoopback);
  struct ifreq ifr = {};
  ifr.ifr_name[0] = 'l';
  ifr.ifr_name[1] = 'o';
  check(p, sys::ioctl(s, SIOCGIFFLAGS, &ifr), Step::kLoopback);
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
  check(p, sys::ioctl(s, SIOCSIFFLAGS, &ifr), Step::kLoopback);
  close_fd(s);
}

void set_ids(const ChildPlan* p) {
  if (p->setgroups_allowed) check(p, sys::setgroups(0, nullptr), Step::kSetgroups);
  check(p, sys::setresgid(p->gid, p->gid, p->gid), Step::kSetgid);
  check(p, sys::setresuid(p->uid, p->uid, p->uid), Step::kSetuid);
}

void drop_identity(const ChildPlan* p) {
  // The bounding set first: dropping needs CAP_SETPCAP, which goes away below.
  for (int cap = 0; cap <= p->last_cap; ++cap) {
    if (cap < 64 && (p->keep_caps & (1ull << cap)) != 0) continue;
    int r = sys::prctl(PR_CAPBSET_DROP, static_cast<unsigned long>(cap));
    if (r != -EINVAL) check(p, r, Step::kCapBounding);
  }
  // Lock the securebits while CAP_SETPCAP is still held: uid 0 gains no
  // capabilities at execve (NOROOT), changing ids neither clears nor grants
  // any (NO_SETUID_FIXUP: the sets below are the whole truth), KEEP_CAPS
  // stays off, and without added capabilities no ambient one can ever be
  // raised. Locked, so nothing in the box can undo it.
  unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                       SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED;
  if (p->keep_caps == 0) bits |= SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
  check(p, sys::prctl(PR_SET_SECUREBITS, bits), Step::kSecurebits);
  if (!p->early_identity) set_ids(p);
  int r = sys::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL);
  if (r != -EINVAL) check(p, r, Step::kCapClear);
  struct __user_cap_header_struct hdr = {};
  hdr.version = _LINUX_CAPABILITY_VERSION_3;
  hdr.pid = 0;
  struct __user_cap_data_struct data[2] = {};
  for (int i = 0; i < 2; ++i) {
    auto word = static_cast<uint32_t>(p->keep_caps >> (32 * i));
    data[i].effective = word;
    data[i].permitted = word;
    data[i].inheritable = word;
  }
  check(p, sys::capset(&hdr, data), Step::kCapClear);
  // Ambient: what a non-root program keeps across execve.
  for (int cap = 0; cap < 64; ++cap)
    if ((p->keep_caps & (1ull << cap)) != 0)
      check(p, sys::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, static_cast<unsigned long>(cap)),
            Step::kCapAmbient, cap);
  check(p, sys::prctl(PR_SET_NO_NEW_PRIVS, 1), Step::kNoNewPrivs);
}

// ------------------------------------------------------------ program side

// GO_FD >= 0: block on it before execve until the init image is running
// (see start_program).
[[noreturn]] void exec_program(const ChildPlan* p, int go_fd) {
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
      tmp[i] = sys::openat(AT_FDCWD, "/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
      check(p, tmp[i], Step::kStdio, i);
      if (tmp[i] < 3) {  // the host had this very stream closed: move it up
        int t = sys::fcntl(tmp[i], F_DUPFD_CLOEXEC, 3);
        close_fd(tmp[i]);
        tmp[i] = t;
        check(p, tmp[i], Step::kStdio, i);
      }
    }
  }
  for (int i = 0; i < 3; ++i) check(p, sys::dup3(tmp[i], i, 0), Step::kStdio, i);
  // A pty: the program leads its own session, so it may take the terminal
  // as its controlling one (job control, SIGWINCH, /dev/tty).
  if (p->controlling_tty) check(p, sys::ioctl(0, TIOCSCTTY, nullptr), Step::kStdio, 0);
  // Everything above 2 closes at execve except the preserved fds (the error
  // pipe stays usable until then).
  check(p, close_except(3, p->preserve_fds, p->n_preserve, CLOSE_RANGE_CLOEXEC), Step::kPreserveFd);
  for (size_t i = 0; i < p->n_preserve; ++i)
    check(p, sys::fcntl(p->preserve_fds[i], F_SETFD, 0), Step::kPreserveFd, static_cast<int>(i));
  check(p, sys::chdir(p->cwd), Step::kChdir);

  // Landlock and the rlimits now (no_new_privs is set, the filesystem view
  // is final); the seccomp filter comes last, right before execve, so that
  // it needs to allow only what is left: read, rt_sigprocmask, execve.
  if (p->landlock_fd >= 0) {
    size_t bad = 0;
    long lr = landlock::apply_in_child(p->landlock_fd, p->landlock_rules, p->n_landlock_rules,
                                       p->landlock_flags, &bad);
    if (lr < 0)
      fail(p, Step::kLandlock, static_cast<int>(-lr), bad < p->n_landlock_rules ? static_cast<int>(bad) : -1);
  }
  for (size_t i = 0; i < p->n_rlimits; ++i) {
    uint64_t lim[2] = {p->rlimits[i].soft, p->rlimits[i].hard};
    check(p, sys::prlimit(p->rlimits[i].resource, lim), Step::kRlimit, static_cast<int>(i));
  }

  if (go_fd >= 0) {
    char go;
    long r;
    do {
      r = sys::read(go_fd, &go, 1);
    } while (r == -EINTR);
    if (r != 1) sys::exit_group(125);  // pid 1 failed before it ran the image; it reports why
    close_fd(go_fd);
  }

  // Dispositions are already SIG_DFL (reset at the start of the child and
  // never changed since); only the mask is left to clear.
  (void)sys::set_signal_mask(0);

  if (p->seccomp_insns != nullptr) {
    struct sock_fprog prog;
    prog.len = p->seccomp_len;
    prog.filter = const_cast<struct sock_filter*>(p->seccomp_insns);
    check(p, sys::seccomp_set_filter(&prog), Step::kSeccomp);
  }

  fail(p, Step::kExec,
       exec_search(p->argv[0], const_cast<char* const*>(p->argv), const_cast<char* const*>(p->envp),
                   p->path_value));
}

// The program process: its own session and group (no controlling terminal,
// and kill(-pgid) reaches the program's group without touching the init).
[[noreturn]] void program_main(const ChildPlan* p, int go_fd) {
  close_fd(p->status_fd);
  check(p, sys::setsid(), Step::kSetsid);
  exec_program(p, go_fd);
}

// ------------------------------------------------------------ box init

// Before the in-process init starts the program: it is a copy of the host
// process, so (1) nobody in the box may read its memory (it holds a copy of
// the host's), and (2) its argv and environment strings are the host's and
// /proc/1/cmdline is world-readable: overwrite them in this copy (the host's
// memory is copy-on-write). Both must be done before the program runs.
void hide_host_copy(const ChildPlan* p) {
  check(p, sys::prctl(PR_SET_DUMPABLE, 0), Step::kFork);
  if (p->host_args != nullptr) {
    volatile char* a = p->host_args;
    for (size_t i = 0; i < p->host_args_len; ++i) a[i] = 0;
    const char name[] = "sbx-init";
    for (size_t i = 0; i < sizeof name && i < p->host_args_len; ++i) a[i] = name[i];
  }
  (void)sys::prctl(PR_SET_NAME, reinterpret_cast<unsigned long>("sbx-init"));
}

// The in-process init: used only where the child is a copy of the host
// (no CLONE_VM), i.e. when no init image could be prepared.
[[noreturn]] void run_init(const ChildPlan* p, pid_t program) {
  // From here on the init only reaps and forwards. It keeps nothing open but
  // the status pipe: holding the program's stdio would delay EOF for the host.
  close_fd(p->err_fd);
  if (p->status_fd > 0) (void)sys::close_range(0, static_cast<unsigned>(p->status_fd) - 1, 0);
  (void)sys::close_range(static_cast<unsigned>(p->status_fd) + 1, ~0u, 0);

  run_init_loop(program, p->status_fd);
}

// Replaces this process (pid 1 of the box) with the init image: a small
// static program of its own, so the init holds none of the host's memory.
[[noreturn]] void exec_init_image(const ChildPlan* p, pid_t program, int go_wr) {
  // Keep only the status pipe (the image's output), the go pipe (it
  // releases the program), the error pipe and the image itself (those two
  // close on exec).
  int keep[4] = {p->err_fd, p->status_fd, p->init_image_fd, go_wr};
  sort_small(keep, 4);
  check(p, close_except(0, keep, 4, 0), Step::kInitExec);
  // Pipes are opened close-on-exec (like every fd sbx makes): the image
  // needs these two across this execve.
  check(p, sys::fcntl(p->status_fd, F_SETFD, 0), Step::kInitExec);
  check(p, sys::fcntl(go_wr, F_SETFD, 0), Step::kInitExec);
  NumArg status_arg(p->status_fd), pid_arg(program), go_arg(go_wr);
  char name[] = "sbx-init";
  char* argv[] = {name, status_arg.buf, pid_arg.buf, go_arg.buf, nullptr};
  char* envp[] = {nullptr};
  fail(p, Step::kInitExec, -sys::execveat(p->init_image_fd, "", argv, envp, AT_EMPTY_PATH));
}

// A started box: pid 1 becomes the supervisor (supervisor_loop.hpp). The
// Landlock domain is entered here, so the supervisor and everything it
// starts are inside it. Keeps the error pipe (close-on-exec: EOF tells the
// host that the supervisor runs), the status pipe, the control socket, the
// seccomp memfd and the image.
[[noreturn]] void become_supervisor(const ChildPlan* p) {
  if (p->landlock_fd >= 0) {
    size_t bad = 0;
    long lr = landlock::apply_in_child(p->landlock_fd, p->landlock_rules, p->n_landlock_rules,
                                       p->landlock_flags, &bad);
    if (lr < 0)
      fail(p, Step::kLandlock, static_cast<int>(-lr), bad < p->n_landlock_rules ? static_cast<int>(bad) : -1);
  }
  int keep[5] = {p->err_fd, p->status_fd, p->supervisor_fd, p->seccomp_fd, p->init_image_fd};
  sort_small(keep, 5);
  int first = 0;
  while (first < 5 && keep[first] < 0) ++first;
  check(p, close_except(0, keep + first, static_cast<size_t>(5 - first), 0), Step::kSupervisor);
#if defined(__x86_64__)
  if (p->init_image_fd >= 0) {
    check(p, sys::fcntl(p->status_fd, F_SETFD, 0), Step::kSupervisor);
    check(p, sys::fcntl(p->supervisor_fd, F_SETFD, 0), Step::kSupervisor);
    if (p->seccomp_fd >= 0) check(p, sys::fcntl(p->seccomp_fd, F_SETFD, 0), Step::kSupervisor);
    // "-": no seccomp program.
    NumArg status_arg(p->status_fd), ctrl_arg(p->supervisor_fd), filter_arg(p->seccomp_fd);
    char name[] = "sbx-init";
    char mode[] = "-S";
    char who_self[] = "self", who_child[] = "child";
    char* argv[] = {name,         mode,           status_arg.buf,
                    ctrl_arg.buf, filter_arg.buf, p->seccomp_self ? who_self : who_child,
                    nullptr};
    char* envp[] = {nullptr};
    fail(p, Step::kInitExec, -sys::execveat(p->init_image_fd, "", argv, envp, AT_EMPTY_PATH));
  }
#endif
  // Classic mode: this process is a private copy of the host.
  hide_host_copy(p);
  close_fd(p->err_fd);  // the host sees EOF: the supervisor runs
  run_supervisor(p->supervisor_fd, p->status_fd, p->seccomp_fd, p->seccomp_self);
}

#if defined(__x86_64__)
// clone(CLONE_VM | CLONE_VFORK) onto a separate stack, calling FN(ARG) there.
// The caller is suspended until the program has executed or failed, so
// sharing its memory is safe, and no page tables are copied. glibc's clone()
// is not used: TSan intercepts it and would take locks copied in unknown
// states.
// sbx_raw_clone: core/launch/raw_clone3.hpp.

void program_trampoline(const void* arg) {
  program_main(static_cast<const ChildPlan*>(arg), -1);
}

// Returns the program's pid or -errno.
long start_program(const ChildPlan* p) {
  // The program's stack lives in this frame: we do not run until the program
  // has executed or exited.
  alignas(16) char stack[64 * 1024];
  return sbx_raw_clone(CLONE_VM | CLONE_VFORK | SIGCHLD, stack + sizeof stack, program_trampoline, p,
                       nullptr);
}

// With the init image, pid 1 must already be the image when the program
// starts running untrusted code: until then pid 1 shares the host's memory.
// So the program is cloned without CLONE_VFORK, prepares everything, and
// waits on the go pipe; the image's first act is to write to it.
struct ProgramStart {
  const ChildPlan* plan;
  int go_rd;
  int go_wr;
};

void gated_program_trampoline(const void* arg) {
  const auto* s = static_cast<const ProgramStart*>(arg);
  close_fd(s->go_wr);  // only pid 1 may release the program
  program_main(s->plan, s->go_rd);
}

// Returns the program's pid (and *GO_WR) or -errno.
long start_gated_program(const ChildPlan* p, int* go_wr) {
  int go[2];
  long r = sys::raw(SYS_pipe2, sys::L(go), O_CLOEXEC);
  if (r < 0) return r;
  // The start record sits at the bottom of the program's own stack (which
  // grows down from the top), outside this frame: we go on running and
  // calling functions while the program reads it.
  auto* start = static_cast<ProgramStart*>(p->program_stack);
  start->plan = p;
  start->go_rd = go[0];
  start->go_wr = go[1];
  char* top = static_cast<char*>(p->program_stack) + p->program_stack_size;
  r = sbx_raw_clone(CLONE_VM | SIGCHLD, top, gated_program_trampoline, start, nullptr);
  close_fd(go[0]);
  if (r < 0) {
    close_fd(go[1]);
    return r;
  }
  *go_wr = go[1];
  return r;
}

// sbx_raw_clone3: core/launch/raw_clone3.hpp (included above).

void child_trampoline(const void* arg) {
  child_main(static_cast<const ChildPlan*>(arg));
}

// Writes CONTENT to /proc/PID/NAME; 0 or -errno.
int write_proc(pid_t pid, const char* name, const char* content) {
  char path[64];
  size_t len = 0;
  path[0] = '\0';
  append(path, sizeof path, &len, "/proc/");
  append_uint(path, sizeof path, &len, static_cast<unsigned>(pid));
  append(path, sizeof path, &len, "/");
  append(path, sizeof path, &len, name);
  int fd = sys::openat(AT_FDCWD, path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return fd;
  long w = sys::write(fd, content, c_strlen(content));
  close_fd(fd);
  return w < 0 ? static_cast<int>(w) : 0;
}

// The shim shares the host's fd table: it closes only the fds the parent
// handed over to it (sync_fd, err_fd, status_fd), each exactly once.
[[noreturn]] void shim_fail(const ChildPlan* p, Step step, int err) {
  ChildError e{static_cast<int32_t>(step), err, -1};
  long r;
  do {
    r = sys::write(p->err_fd, &e, sizeof e);
  } while (r == -EINTR);
  p->shared->err_closed = 1;
  close_fd(p->err_fd);
  p->shared->status_closed = 1;
  close_fd(p->status_fd);
  sys::exit_group(125);
}

[[noreturn]] void shim_main(const ChildPlan* p) {
  // Host handlers must never run here (this is not a host thread).
  reset_signal_dispositions();
  // The plan lives in the spawning thread's frame, which is gone once the
  // host has seen EOF on the error pipe: keep what is needed after that.
  const int status_fd = p->status_fd;
  const bool box_init = p->box_init;

  struct clone_args a;
  for (size_t i = 0; i < sizeof a; ++i) reinterpret_cast<volatile char*>(&a)[i] = 0;
  a.flags = CLONE_VM | CLONE_PIDFD | p->ns_flags;
  if (p->cgroup_dir_fd >= 0) {
    // v2: born in the box's cgroup, so it never runs (or forks) outside it.
    a.flags |= CLONE_INTO_CGROUP;
    a.cgroup = static_cast<uint64_t>(p->cgroup_dir_fd);
  }
  a.pidfd = reinterpret_cast<uint64_t>(&p->shared->init_pidfd);
  a.exit_signal = SIGCHLD;  // to the shim, which waits for it
  a.stack = reinterpret_cast<uint64_t>(p->child_stack);
  a.stack_size = p->child_stack_size;
  long pid = sbx_raw_clone3(&a, sizeof a, child_trampoline, p);
  p->shared->sync_closed = 1;
  close_fd(p->sync_fd);  // the box process has its own copy (or none: failed)
  if (pid < 0) shim_fail(p, Step::kClone, static_cast<int>(-pid));
  p->shared->init_pid = static_cast<int>(pid);

  // v1: into every hierarchy's box cgroup while the box process still
  // waits on the sync pipe (it has run nothing of its own yet).
  for (size_t i = 0; i < p->n_cgroup_procs; ++i) {
    char num[16];
    size_t len = 0;
    num[0] = '\0';
    append_uint(num, sizeof num, &len, static_cast<unsigned>(pid));
    long w = sys::write(p->cgroup_procs_fds[i], num, len);
    if (w < 0) {
      (void)sys::kill(static_cast<pid_t>(pid), SIGKILL);
      int st;
      while (sys::wait4(static_cast<pid_t>(pid), &st, __WALL) == -EINTR) {
      }
      shim_fail(p, Step::kCgroup, static_cast<int>(-w));
    }
  }

  if (p->uid_map != nullptr) {
    int r = 0;
    if (p->deny_setgroups) r = write_proc(static_cast<pid_t>(pid), "setgroups", "deny\n");
    if (r == 0) r = write_proc(static_cast<pid_t>(pid), "uid_map", p->uid_map);
    if (r == 0) r = write_proc(static_cast<pid_t>(pid), "gid_map", p->gid_map);
    if (r < 0) {
      (void)sys::kill(static_cast<pid_t>(pid), SIGKILL);
      int st;
      while (sys::wait4(static_cast<pid_t>(pid), &st, __WALL) == -EINTR) {
      }
      shim_fail(p, Step::kIdMap, -r);
    }
  }
  char go = 1;
  long w;
  do {
    w = sys::write(p->sync_wr_fd, &go, 1);
  } while (w == -EINTR);
  if (box_init) {
    // The init reports through its own copy; ours is not needed.
    p->shared->status_closed = 1;
    close_fd(status_fd);
  }
  // From here on only the box process reports errors; the host sees EOF
  // once it has executed. P must not be touched after this line.
  p->shared->err_closed = 1;
  close_fd(p->err_fd);
  // Stop sharing the host's fd table: the shim lives as long as the box,
  // and must not keep the host's sockets, pipes and files open (e.g. after
  // the host itself exits). Keep only the status pipe when we report.
  if (sys::raw(SYS_unshare, CLONE_FILES) == 0) {
    if (box_init) {
      (void)sys::close_range(0, ~0u, 0);
    } else {
      if (status_fd > 0) (void)sys::close_range(0, static_cast<unsigned>(status_fd) - 1, 0);
      (void)sys::close_range(static_cast<unsigned>(status_fd) + 1, ~0u, 0);
    }
  }

  int st = 0;
  long r;
  KernelRusage ru{};
  do {
    r = sys::wait4_ru(static_cast<pid_t>(pid), &st, __WALL, &ru);
  } while (r == -EINTR);
  if (!box_init) {
    // No init to report the program's status: the program is our child.
    write_report(status_fd, st, ru);
    close_fd(status_fd);
  }
  // The box process's end as our exit code: 128+N for signal N.
  sys::exit_group(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

void shim_trampoline(const void* arg) {
  shim_main(static_cast<const ChildPlan*>(arg));
}
#else
long start_program(const ChildPlan* p) {
  long pid = sys::raw(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) program_main(p, -1);
  return pid;
}
#endif

}  // namespace

#if defined(__x86_64__)
long clone3_shim(struct clone_args* args, const ChildPlan* plan) {
  return sbx_raw_clone3(args, sizeof *args, shim_trampoline, plan);
}
#endif

void child_main(const ChildPlan* p) {
  // The parent blocked every signal around clone3; handlers inherited from
  // the host must never run here.
  reset_signal_dispositions();
  check(p, close_except(3, p->keep_fds, p->n_keep, 0), Step::kCloseFds);

  char byte;
  long r;
  do {
    r = sys::read(p->sync_fd, &byte, 1);
  } while (r == -EINTR);
  if (r != 1) sys::exit_group(125);  // the parent gave up; it reports why
  close_fd(p->sync_fd);

  if (p->unshare_cgroupns) check(p, sys::raw(SYS_unshare, CLONE_NEWCGROUP), Step::kCgroup);
  if (p->mount_ns) open_bind_sources(p);
  if (p->early_identity) set_ids(p);
  check(p, sys::setsid(), Step::kSetsid);
  if (p->set_hostname) check(p, sys::sethostname(p->hostname, p->hostname_len), Step::kHostname);
  if (p->loopback_up) bring_loopback_up(p);
  if (p->mount_ns) build_filesystem(p);
  drop_identity(p);

  if (!p->box_init) exec_program(p, -1);
  if (p->supervisor_fd >= 0) become_supervisor(p);

    // Signals stay blocked in the init: a blocked signal is queued even for a
    // pid-namespace init (which would otherwise discard signals it has no
    // handler for), and sigtimedwait picks them up for forwarding.
#if defined(__x86_64__)
  if (p->init_image_fd >= 0) {
    int go_wr = -1;
    long gated = start_gated_program(p, &go_wr);
    check(p, gated, Step::kFork);
    exec_init_image(p, static_cast<pid_t>(gated), go_wr);
  }
#endif
  // Classic mode only (this process is a private copy of the host here;
  // in shim mode it shares the host's memory and must never touch it).
  hide_host_copy(p);
  long pid = start_program(p);
  check(p, pid, Step::kFork);
  run_init(p, static_cast<pid_t>(pid));
}

const char* step_name(Step s) {
  switch (s) {
    case Step::kNone:
      return "none";
    case Step::kCloseFds:
      return "close_fds";
    case Step::kSetsid:
      return "setsid";
    case Step::kHostname:
      return "hostname";
    case Step::kLoopback:
      return "loopback";
    case Step::kMountPrivate:
      return "mount_private";
    case Step::kBaseTmpfs:
      return "base_tmpfs";
    case Step::kPivotBase:
      return "pivot_base";
    case Step::kRootTmpfs:
      return "root_tmpfs";
    case Step::kMountOp:
      return "mount";
    case Step::kMountSource:
      return "mount_source";
    case Step::kPivotRoot:
      return "pivot_root";
    case Step::kUmountOld:
      return "umount_old_root";
    case Step::kCapBounding:
      return "cap_bounding";
    case Step::kSetgroups:
      return "setgroups";
    case Step::kSetgid:
      return "setgid";
    case Step::kSetuid:
      return "setuid";
    case Step::kCapClear:
      return "capset";
    case Step::kNoNewPrivs:
      return "no_new_privs";
    case Step::kFork:
      return "fork";
    case Step::kInitExec:
      return "init_exec";
    case Step::kClone:
      return "clone3";
    case Step::kIdMap:
      return "id_map";
    case Step::kStdio:
      return "stdio";
    case Step::kPreserveFd:
      return "preserve_fd";
    case Step::kChdir:
      return "chdir";
    case Step::kCgroup:
      return "cgroup";
    case Step::kSecurebits:
      return "securebits";
    case Step::kCapAmbient:
      return "capabilities";
    case Step::kRlimit:
      return "rlimit";
    case Step::kLandlock:
      return "landlock";
    case Step::kSeccomp:
      return "seccomp";
    case Step::kSetpgid:
      return "setpgid";
    case Step::kSupervisor:
      return "supervisor";
    case Step::kExec:
      return "execve";
  }
  return "unknown";
}

}  // namespace sbx::launch
