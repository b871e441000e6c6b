// The named profiles: "default" (every box unless told otherwise), "compute"
// (an allow-list for one compute program) and "none". docs/seccomp.md gives
// the reasoning for every group; keep the two in step.
#include <errno.h>
#include <sbx/sbx.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>

#include <initializer_list>

#include "core/common/error.hpp"
#include "core/seccomp/seccomp.hpp"

namespace sbx::seccomp {

namespace {

void add_all(Policy& p, Action action, int errno_value, std::initializer_list<const char*> names) {
  for (const char* n : names) p.rules.push_back(Rule{n, action, errno_value, {}, {}});
}

ArgCmp masked(unsigned index, uint64_t mask, uint64_t value) {
  return ArgCmp{index, ArgCmp::kMaskedEq, mask, value};
}

// The CLONE_NEW* flags that create a namespace through clone(). CLONE_NEWTIME
// shares its bit with the exit signal in clone()'s flags and only works
// through unshare() and clone3().
constexpr uint64_t kCloneNamespaceFlags[] = {CLONE_NEWNS,   CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
                                             CLONE_NEWUSER, CLONE_NEWPID,    CLONE_NEWNET};

// Both ioctl(2)'s request and personality(2)'s argument are declared
// "unsigned int" by the kernel, which ignores the upper half of the 64-bit
// register. A filter comparing all 64 bits could be bypassed by setting
// upper bits (a known TIOCSTI filter bypass), so these comparisons mask to
// the low 32 bits.
constexpr uint64_t kLow32 = 0xffffffffu;

void add_personality_rules(Policy& p) {
  // Allowed: the query (0xffffffff, which changes nothing) and any value made
  // only of PER_LINUX32 (8), UNAME26 and ADDR_NO_RANDOMIZE: 32-bit personas
  // for building i386 software, old-uname emulation, and ASLR off for the
  // caller's own descendants (the kernel clears it again on setuid exec).
  // Refused: everything else, notably READ_IMPLIES_EXEC (turns the caller's
  // non-executable memory executable) and MMAP_PAGE_ZERO (maps page zero,
  // the classic aid for kernel NULL-dereference exploits).
  //
  // libseccomp accepts only one comparison per argument in a rule, and a
  // default-allow filter cannot hold "allow" exceptions, so "not one of these
  // values" is written as a union of single masked comparisons:
  //  - Let N be the 29 bits outside {3, 17, 18}. A value whose N-bits are
  //    neither all clear nor all set has, walking N cyclically, a set bit b
  //    followed by a clear bit c: one rule per neighbouring pair (b, c),
  //    "(x & (b|c)) == b".
  //  - A value with all N-bits set is refused unless it is the query, i.e.
  //    unless it also has bits 3, 17 and 18 set: one rule per free bit f,
  //    "(x & (N|f)) == N".
  // That is 32 rules, matching exactly the refused values (within the low
  // 32 bits the kernel looks at).
  constexpr uint64_t kPerLinux32 = PER_LINUX32, kUname26 = UNAME26, kNoRandomize = ADDR_NO_RANDOMIZE;
  constexpr uint64_t kFree = kPerLinux32 | kUname26 | kNoRandomize;
  constexpr uint64_t kRest = kLow32 & ~kFree;
  static_assert(kFree == ((1u << 3) | (1u << 17) | (1u << 18)));
  unsigned bits[32];
  unsigned n = 0;
  for (unsigned b = 0; b < 32; ++b)
    if (kRest & (1ull << b)) bits[n++] = b;
  for (unsigned i = 0; i < n; ++i) {
    uint64_t set = 1ull << bits[i], clear = 1ull << bits[(i + 1) % n];
    p.rules.push_back(Rule{"personality", Action::kErrno, EPERM, {masked(0, set | clear, set)}, {}});
  }
  for (uint64_t f : {kPerLinux32, kUname26, kNoRandomize})
    p.rules.push_back(Rule{"personality", Action::kErrno, EPERM, {masked(0, kRest | f, kRest)}, {}});
}

Policy default_profile() {
  Policy p;
  p.name = "default";
  p.default_action = Action::kAllow;
  const Action E = Action::kErrno;

  // Mounts and root changes: a box's filesystem view is fixed by sbx before
  // the program starts; changing it (even inside its own mount namespace)
  // is how container escapes and filesystem-driver bugs are reached.
  add_all(p, E, EPERM,
          {"mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "open_tree_attr", "fsopen",
           "fsconfig", "fsmount", "fspick", "mount_setattr"});

  // Namespaces: new namespaces (a user namespace above all) hand the process
  // a full capability set over fresh kernel objects, the largest source of
  // unprivileged kernel exploits; joining others' namespaces leaves the box.
  add_all(p, E, EPERM, {"setns"});
  for (uint64_t f : kCloneNamespaceFlags) {
    p.rules.push_back(Rule{"unshare", E, EPERM, {masked(0, f, f)}, {}});
    p.rules.push_back(Rule{"clone", E, EPERM, {masked(0, f, f)}, {}});
  }
  p.rules.push_back(Rule{"unshare", E, EPERM, {masked(0, CLONE_NEWTIME, CLONE_NEWTIME)}, {}});
  // clone3 passes its flags in memory, where a filter cannot look. ENOSYS
  // makes glibc (pthread_create, posix_spawn) fall back to clone(), whose
  // flags the rules above can see.
  add_all(p, E, ENOSYS, {"clone3"});

  // Other processes: reading, writing or steering another process (or
  // comparing its kernel objects) crosses the process boundary the box
  // relies on; debuggers and tracers do not work under this profile.
  add_all(p, E, EPERM,
          {"ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "pidfd_getfd", "kcmp"});

  // Kernel attack surface that ordinary programs do not need and that keeps
  // producing privilege escalations: eBPF, perf, userfaultfd (stretches race
  // windows), io_uring (bypasses per-syscall filtering), the key store,
  // fanotify, and the x86 LDT.
  add_all(p, E, EPERM,
          {"bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
           "keyctl", "add_key", "request_key", "fanotify_init", "modify_ldt"});

  // The machine itself: modules, kexec, reboot, swap, process accounting,
  // port I/O, the kernel log, terminal hangup and quotas belong to the host.
  add_all(p, E, EPERM,
          {"init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot",
           "swapon", "swapoff", "acct", "iopl", "ioperm", "syslog", "vhangup", "quotactl", "quotactl_fd"});

  // The clocks are shared by every process on the host.
  add_all(p, E, EPERM, {"settimeofday", "clock_settime", "clock_adjtime", "adjtimex"});

  // File handles open any inode of a filesystem by number, bypassing the
  // path walk and hence the box's mount view (the classic container escape).
  add_all(p, E, EPERM, {"open_by_handle_at", "name_to_handle_at"});

  // Terminal input injection: TIOCSTI pushes characters into the input of
  // whatever reads the terminal (the host shell when the box shares it);
  // TIOCLINUX can paste the console selection the same way.
  p.rules.push_back(Rule{"ioctl", E, EPERM, {masked(1, kLow32, TIOCSTI)}, {}});
  p.rules.push_back(Rule{"ioctl", E, EPERM, {masked(1, kLow32, TIOCLINUX)}, {}});

  add_personality_rules(p);

  // NUMA: a process may place its own memory (mbind, set_mempolicy and
  // move_pages with pid 0 stay allowed, within the cpuset); moving another
  // process's pages is refused like the other cross-process calls.
  add_all(p, E, EPERM, {"migrate_pages"});
  p.rules.push_back(Rule{"move_pages", E, EPERM, {ArgCmp{0, ArgCmp::kNe, 0, 0}}, {}});

  // Obsolete interfaces: removed or dead in current kernels and unused by
  // current libcs. ENOSYS is what a kernel without them answers, so programs
  // that probe for them take their fallback path.
  add_all(p, E, ENOSYS,
          {"uselib", "ustat", "sysfs", "_sysctl", "nfsservctl", "create_module", "get_kernel_syms",
           "query_module", "lookup_dcookie"});
  return p;
}

Policy compute_profile() {
  Policy p;
  p.name = "compute";
  p.default_action = Action::kKillProcess;
  const Action A = Action::kAllow;

  // What a single compute program (C/C++, Rust, Go, Python) needs to start
  // and run: no new processes, no sockets, no filesystem changes beyond
  // writing to files it may open. Anything else kills it (SIGSYS), which
  // the result reports as a seccomp violation.
  add_all(p, A, 0,
          {// files and descriptors
           "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
           "pwritev2", "lseek", "close", "fstat", "stat", "lstat", "newfstatat", "statx", "fcntl", "dup",
           "dup2", "dup3", "openat", "open", "access", "faccessat", "faccessat2", "readlink", "readlinkat",
           "getcwd", "getdents64", "ftruncate", "fsync", "fdatasync",
           // waiting on descriptors inside the process (Go's runtime poller)
           "pipe", "pipe2", "poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1",
           "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd2",
           // memory
           "mmap", "munmap", "mprotect", "mremap", "brk", "madvise",
           // signals (tgkill: raise/abort and Go's preemption; to itself in
           // practice, the box's pid namespace hides everyone else)
           "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigsuspend", "sigaltstack", "tgkill",
           "restart_syscall",
           // threads and the runtime
           "futex", "set_tid_address", "set_robust_list", "get_robust_list", "rseq", "sched_yield",
           "sched_getaffinity", "getcpu", "arch_prctl", "prlimit64", "getrlimit", "getrandom",
           // time
           "clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep", "clock_nanosleep", "times",
           "getrusage",
           // identity and machine queries
           "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid",
           "uname", "sysinfo",
           // leaving
           "exit", "exit_group",
           // execve: the filter is installed before the program is executed,
           // so its own execve must pass. A later exec replaces the program
           // by another one under the same filter: nothing gained.
           "execve"});

  // Threads but no processes: CLONE_THREAD implies CLONE_SIGHAND and
  // CLONE_VM, so the child can only be a thread of this process; the
  // namespace flags must be clear as well.
  uint64_t ns = CLONE_NEWTIME;
  for (uint64_t f : kCloneNamespaceFlags) ns |= f;
  p.rules.push_back(Rule{"clone", A, 0, {masked(0, CLONE_THREAD | ns, CLONE_THREAD)}, {}});
  // glibc tries clone3 first for threads; ENOSYS sends it to clone().
  add_all(p, Action::kErrno, ENOSYS, {"clone3"});

  // isatty(), terminal size and bytes-available queries; nothing that changes
  // a terminal or a device.
  for (uint64_t req : {uint64_t{TCGETS}, uint64_t{TIOCGWINSZ}, uint64_t{FIONREAD}})
    p.rules.push_back(Rule{"ioctl", A, 0, {masked(1, kLow32, req)}, {}});
  // Thread names (pthread_setname_np, Rust's and Java's thread builders).
  for (uint64_t op : {uint64_t{PR_SET_NAME}, uint64_t{PR_GET_NAME}})
    p.rules.push_back(Rule{"prctl", A, 0, {ArgCmp{0, ArgCmp::kEq, op, 0}}, {}});
  return p;
}

}  // namespace

Policy named_profile(std::string_view name) {
  if (name == "default") return default_profile();
  if (name == "compute") return compute_profile();
  if (name == "none") {
    Policy p;
    p.name = "none";
    p.install = false;
    p.default_action = Action::kAllow;
    return p;
  }
  throw Error(SBX_E_INVALID, "seccomp", 0,
              "unknown seccomp profile '" + std::string(name) + "' (known: default, compute, none)");
}

}  // namespace sbx::seccomp
