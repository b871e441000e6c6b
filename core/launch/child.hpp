// The child side of a launch: everything that runs between clone3 and
// execve. This code is async-signal-safe only — the host may be
// multithreaded, and the child is a copy of one of its threads. It calls
// system calls and nothing else: no allocation, no locks, no stdio, no
// exceptions. Every input is prepared by the parent in a ChildPlan (C
// strings, arrays, fds); every failure goes back to the parent as a
// ChildError through a close-on-exec pipe, after which the child _exits.
#pragma once

#include <linux/sched.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

struct sock_filter;
namespace sbx::landlock {
struct ChildRule;
}

namespace sbx::launch {

constexpr int kNoSource = -100000;  // bind_src_fds: not a bind, or an optional one that is missing

struct RlimitOp {
  int resource;
  uint64_t soft;  // RLIM_INFINITY = ~0
  uint64_t hard;
};

// The step that failed; the parent turns it into a message.
enum class Step : int32_t {
  kNone = 0,
  kCloseFds,
  kSetsid,
  kHostname,
  kLoopback,
  kMountPrivate,
  kBaseTmpfs,
  kPivotBase,
  kRootTmpfs,
  kMountOp,      // the target side of MountOp ChildError::index
  kMountSource,  // the source side of MountOp ChildError::index
  kPivotRoot,
  kUmountOld,
  kCapBounding,
  kSetgroups,
  kSetgid,
  kSetuid,
  kCapClear,
  kNoNewPrivs,
  kFork,
  kInitExec,
  kClone,  // the shim's clone3 of the box process
  kIdMap,  // the shim writing setgroups/uid_map/gid_map
  kStdio,
  kPreserveFd,
  kChdir,
  kExec,
  kCgroup,      // placing the box process in its cgroup
  kSecurebits,  // locking the securebits
  kCapAmbient,  // granting an added capability
  kRlimit,      // ChildError::index = the RlimitOp
  kLandlock,    // ChildError::index = the rule (or -1: restrict_self)
  kSeccomp,     // installing the filter
  kSetpgid,     // a spawn's process group (setpgid / setsid)
  kSupervisor,  // starting the box supervisor
};

struct ChildError {
  int32_t step;
  int32_t err;
  int32_t index;
};

// One filesystem operation, applied below the new root. Targets are
// relative to the new root ("usr/bin"); sources of binds are absolute host
// paths, reached through the old root after the first pivot.
struct MountOp {
  enum Kind : int32_t {
    kBind,       // source -> target (MS_BIND|MS_REC), then attributes
    kTmpfs,      // tmpfs at target with data = options
    kProc,       // a fresh procfs at target (or a bind of the host's)
    kSymlink,    // target is a symlink whose content is data
    kWriteFile,  // target is a new file (0644) holding data[0..data_len)
    kReadOnly,   // make the mount at target read-only (not recursive)
  };
  Kind kind;
  const char* target;
  const char* source;  // kBind
  const char* data;    // kTmpfs options, kSymlink content, kWriteFile bytes
  size_t data_len;
  bool source_is_dir;   // kBind: the mount point to create
  bool writable;        // kBind
  bool allow_devices;   // kBind: no MOUNT_ATTR_NODEV
  bool optional;        // kBind: a missing source is skipped
  bool fresh_proc;      // kProc: mount procfs (else bind host /proc)
  bool check_identity;  // kBind: the source must still be (src_dev, src_ino)
  dev_t src_dev;
  ino_t src_ino;
};

// Written by the shim (shared memory), read by the parent after the error
// pipe reached EOF.
struct ShimShared {
  volatile int init_pidfd;  // pidfd of the box process, in the host's fd table
  volatile int init_pid;
  // Set just before the shim closes each fd it owns in the shared table, so
  // that the host can tell, if the shim dies, which numbers are still its.
  volatile int sync_closed;
  volatile int err_closed;
  volatile int status_closed;
};

struct ChildPlan {
  // Pipes: the child reads one byte from sync_fd before it starts (the parent
  // writes uid/gid maps meanwhile), writes ChildError records to err_fd, and
  // the box init writes the program's raw wait status to status_fd.
  int sync_fd;
  int err_fd;
  int status_fd;  // -1 when there is no box init

  // fds that survive the first sweep (sorted ascending): stdio sources,
  // preserved fds and the pipes above.
  const int* keep_fds;
  size_t n_keep;
  const int* preserve_fds;  // sorted ascending
  size_t n_preserve;
  int stdio_src[3];      // source fd for 0/1/2 in the program; -1 = /dev/null
  bool controlling_tty;  // make stdin (a pty slave) the program's controlling terminal

  bool box_init;  // pid namespace: fork the program under a pid-1 init
  bool set_hostname;
  const char* hostname;
  size_t hostname_len;
  bool loopback_up;

  bool mount_ns;  // build the filesystem view
  const MountOp* ops;
  size_t n_ops;
  // One slot per op, written by the child: the bind sources are opened
  // first, with the identity the box process was created with (host root,
  // as root), before it switches to the box's ids; the mounts then use
  // these fds. A slot holds the fd, -errno, or kNoSource.
  int* bind_src_fds;

  bool setgroups_allowed;  // we may call setgroups(0, NULL)
  // Switch uid/gid right after the id maps are written instead of after the
  // filesystem is built: needed when the child's own host ids are not
  // mapped in the box's user namespace (it could not create files there).
  bool early_identity;
  uid_t uid;
  gid_t gid;
  int last_cap;

  // Capabilities the program keeps (bit N = capability N); all others are
  // dropped from every set. The securebits are locked either way.
  uint64_t keep_caps;

  // cgroup placement of the box process before it runs anything: v2 by
  // clone3(CLONE_INTO_CGROUP) into CGROUP_DIR_FD, v1 by writing its host pid
  // to each of CGROUP_PROCS_FDS (by the shim, or the parent in classic
  // mode). Neither fd reaches the box process.
  int cgroup_dir_fd;  // -1: none
  // The cgroup namespace is made by the box process itself once it has been
  // placed (unshare after the sync byte), so that its root is the box's
  // cgroup in every hierarchy, v1 ones included (clone3 would root it where
  // the shim is).
  bool unshare_cgroupns;
  const int* cgroup_procs_fds;
  size_t n_cgroup_procs;

  // Applied by the program, in this order, last before execve: Landlock
  // (rules, restrict_self), rlimits, then the seccomp filter.
  int landlock_fd;  // -1: none
  const landlock::ChildRule* landlock_rules;
  size_t n_landlock_rules;
  uint32_t landlock_flags;
  const RlimitOp* rlimits;
  size_t n_rlimits;
  const struct sock_filter* seccomp_insns;  // nullptr: no filter
  unsigned short seccomp_len;

  // A started box (sbx_box_start): pid 1 becomes the box supervisor instead
  // of starting a program. It serves requests on SUPERVISOR_FD (a
  // SOCK_SEQPACKET socket; see supervisor_proto.hpp) and installs the
  // seccomp program read from SECCOMP_FD (a memfd, or -1) in every process
  // it starts. Landlock is applied to the supervisor itself, so that
  // everything it starts inherits the domain.
  int supervisor_fd;  // -1: a one-shot box (the program above)
  int seccomp_fd;
  bool seccomp_self;  // the supervisor installs the filter on itself (see Supervisor)

  const char* cwd;
  const char* const* argv;
  const char* const* envp;
  const char* path_value;  // PATH for the program search, may be nullptr

  // The box init image (a memfd holding core/launch/init_image), or -1:
  // then the init stays a copy of the host process (the fallback when the
  // child could not share the host's memory or no image is available).
  int init_image_fd;
  // Shim mode (x86-64): the host's direct child is a shim that shares the
  // host's memory and fd table, never executes anything, and is the parent
  // of the box process. It clones the box process (NS_FLAGS), writes its id
  // maps, releases it (SYNC_WR), then waits for it. The host therefore never
  // has an exec'ed child of its own: no SIGCHLD, invisible to waitpid(-1).
  ShimShared* shared;
  unsigned long ns_flags;
  void* child_stack;
  size_t child_stack_size;
  void* program_stack;  // the program's own stack before it executes
  size_t program_stack_size;
  int sync_wr_fd;
  const char* uid_map;  // nullptr: no user namespace (nothing to write)
  const char* gid_map;
  bool deny_setgroups;

  // The host's argv/environment strings, which an in-process init (a copy
  // of the host process) overwrites in its own memory so /proc/1/cmdline
  // shows nothing of the host.
  char* host_args;
  size_t host_args_len;
};

// Runs in the cloned child; never returns.
[[noreturn]] void child_main(const ChildPlan* plan);

#if defined(__x86_64__)
// clone3(ARGS) where ARGS has CLONE_VM|CLONE_FILES and a stack: the shim runs
// on that stack (see ChildPlan). Returns its pid or -errno (errno untouched).
long clone3_shim(struct clone_args* args, const ChildPlan* plan);
#define SBX_HAVE_SHIM 1
#endif

const char* step_name(Step s);

}  // namespace sbx::launch
