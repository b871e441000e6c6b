#include "core/probe/probe.hpp"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>

#include "core/cgroup/cgroup.hpp"
#include "core/common/error.hpp"
#include "core/common/fd.hpp"
#include "core/common/util.hpp"
#include "core/launch/init_image.hpp"

// Older userspace headers lack some of the numbers; the kernel has them. The
// values are the asm-generic ones shared by every architecture since 5.1.
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif
#ifndef SECCOMP_RET_USER_NOTIF
#define SECCOMP_RET_USER_NOTIF 0x7fc00000U
#endif
#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif
#ifndef SECCOMP_GET_ACTION_AVAIL
#define SECCOMP_GET_ACTION_AVAIL 2
#endif

namespace sbx {
namespace {

// ------------------------------------------------------------ small helpers

std::string errno_reason(int e) {
  char buf[128];
  const char* s = strerror_r(e, buf, sizeof buf);
  return errno_name(e) + ": " + s;
}

// Reads a whole (small, usually /proc or /sys) file. O_CLOEXEC because the
// host may fork+exec on another thread while we hold the fd.
std::optional<std::string> read_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) return std::nullopt;
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\n' || s[b] == '\t' || s[b] == '\r')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\n' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
  return std::string(s.substr(b, e - b));
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t pos = s.find(sep, start);
    out.emplace_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

// Whitespace-separated words; empty input gives no words.
std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t')) ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\n' && s[j] != '\t') ++j;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

bool contains(const std::vector<std::string>& v, std::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

ProbeEntry ok(std::string name, std::string detail) {
  return ProbeEntry{std::move(name), true, std::move(detail), {}};
}

ProbeEntry bad(std::string name, std::string detail, std::string fix) {
  return ProbeEntry{std::move(name), false, std::move(detail), std::move(fix)};
}

// "value" of a sysctl file, or nullopt when the knob does not exist here.
std::optional<std::string> sysctl_value(const std::string& path) {
  auto v = read_file(path);
  if (!v) return std::nullopt;
  return trim(*v);
}

// ----------------------------------------------------------- child runner

// Runs in the child between clone and exit. The host may be multithreaded,
// so only async-signal-safe code is allowed: raw syscalls on data prepared by
// the parent. Returns the child's exit code (0 = success, else an errno or
// one of the kChild* codes below).
using ChildFn = int (*)(const void* ctx) noexcept;

// Exit codes above any errno value for "the call worked but had no effect".
constexpr int kChildNotEnforced = 250;
constexpr int kChildNoEffect = 251;

// struct clone_args, first version (64 bytes). Declared here because
// <linux/sched.h> clashes with glibc's <sched.h> on some header versions.
struct CloneArgs {
  uint64_t flags;
  uint64_t pidfd;
  uint64_t child_tid;
  uint64_t parent_tid;
  uint64_t exit_signal;
  uint64_t stack;
  uint64_t stack_size;
  uint64_t tls;
};

struct ChildOutcome {
  bool started = false;
  int clone_errno = 0;     // why it did not start
  bool via_clone3 = true;  // false: clone3 was ENOSYS and legacy clone ran it
  bool status_known = false;
  int exit_code = -1;   // when it exited normally
  int term_signal = 0;  // when it was killed
  bool got_pidfd = false;
  bool pidfd_pollable = false;
};

// exit_group directly rather than _exit: sanitizer runtimes intercept _exit
// and would run their (not async-signal-safe) finalizers in the child.
[[noreturn]] void child_body(ChildFn fn, const void* ctx) noexcept {
  ::syscall(SYS_exit_group, fn != nullptr ? fn(ctx) : 0);
  __builtin_unreachable();
}

// Starts a child with FLAGS (namespace flags and the like), runs FN in it
// and reaps exactly that child. Never waitpid(-1): other children of the
// host are not ours to reap.
ChildOutcome run_child(uint64_t flags, ChildFn fn, const void* ctx, bool want_pidfd, bool allow_legacy) {
  ChildOutcome out;
  int pidfd = -1;
  CloneArgs args{};
  args.flags = flags | (want_pidfd ? static_cast<uint64_t>(CLONE_PIDFD) : 0);
  args.pidfd = want_pidfd ? static_cast<uint64_t>(reinterpret_cast<uintptr_t>(&pidfd)) : 0;
  args.exit_signal = SIGCHLD;

  long r = ::syscall(SYS_clone3, &args, sizeof args);
  if (r == 0) child_body(fn, ctx);
  if (r < 0 && errno == ENOSYS && allow_legacy) {
    // Kernels before 5.3, or container seccomp profiles that hide clone3 so
    // that libc falls back: legacy clone takes the same namespace flags.
    out.via_clone3 = false;
    // With a zero stack the child runs on its copy of our stack, as in fork.
    r = ::syscall(SYS_clone, static_cast<unsigned long>(flags) | SIGCHLD, 0UL, nullptr, nullptr, 0UL);
    if (r == 0) child_body(fn, ctx);
  }
  if (r < 0) {
    out.clone_errno = errno;
    return out;
  }
  out.started = true;
  const auto pid = static_cast<pid_t>(r);

  UniqueFd pfd(want_pidfd ? pidfd : -1);
  if (pfd) {
    out.got_pidfd = true;
    // The child exits at once; the timeout only guards against a kernel
    // that never signals the pidfd.
    struct pollfd p = {pfd.get(), POLLIN, 0};
    int pr;
    do {
      pr = ::poll(&p, 1, 2000);
    } while (pr < 0 && errno == EINTR);
    out.pidfd_pollable = pr == 1 && (p.revents & POLLIN) != 0;
  }

  int st = 0;
  pid_t w;
  do {
    w = ::waitpid(pid, &st, 0);
  } while (w < 0 && errno == EINTR);
  // ECHILD: the host set SIGCHLD to SIG_IGN, so the kernel reaped the child
  // itself; the child is gone, only its status is lost.
  if (w == pid) {
    out.status_known = true;
    if (WIFEXITED(st)) out.exit_code = WEXITSTATUS(st);
    if (WIFSIGNALED(st)) out.term_signal = WTERMSIG(st);
  }
  return out;
}

std::string child_failure(const ChildOutcome& c) {
  if (!c.status_known) return "child status unknown (SIGCHLD is ignored by this process)";
  if (c.term_signal != 0) {
    const char* abbrev = sigabbrev_np(c.term_signal);
    return std::string("child killed by SIG") + (abbrev ? abbrev : std::to_string(c.term_signal));
  }
  if (c.exit_code == kChildNotEnforced) return "the call succeeded but was not enforced";
  if (c.exit_code == kChildNoEffect) return "the call succeeded but had no effect";
  return errno_reason(c.exit_code);
}

// ------------------------------------------------------------- identity

struct Identity {
  uid_t euid;
  uid_t uid;
  bool rootless;
};

Identity identity() {
  Identity id{::geteuid(), ::getuid(), false};
  id.rootless = id.euid != 0;
  return id;
}

// Whether CAP_SYS_ADMIN is in this process's effective set (a root inside a
// container often lacks it, which changes what namespaces root can create).
std::optional<bool> has_cap_sys_admin() {
  auto status = read_file("/proc/self/status");
  if (!status) return std::nullopt;
  for (const auto& line : split(*status, '\n')) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    unsigned long long caps = std::strtoull(line.c_str() + 7, nullptr, 16);
    return ((caps >> 21) & 1ULL) != 0;  // CAP_SYS_ADMIN = 21
  }
  return std::nullopt;
}

std::string describe_helper(const char* path) {
  struct stat sb {};
  if (::stat(path, &sb) != 0) return std::string(path) + " missing";
  std::string s = path;
  if ((sb.st_mode & S_ISUID) != 0 && sb.st_uid == 0)
    s += " (setuid root)";
  else if (::access(path, X_OK) != 0)
    s += " (not executable)";
  return s;
}

ProbeEntry probe_identity(const Identity& id) {
  std::string d = id.rootless ? "rootless" : "root";
  d += " (euid " + std::to_string(id.euid) + ", uid " + std::to_string(id.uid) + ")";
  if (auto cap = has_cap_sys_admin()) d += std::string("; CAP_SYS_ADMIN: ") + (*cap ? "yes" : "no");
  d += "; newuidmap: " + describe_helper("/usr/bin/newuidmap");
  d += "; newgidmap: " + describe_helper("/usr/bin/newgidmap");
  return ok("identity", std::move(d));
}

// ----------------------------------------------------------- namespaces

struct NsKind {
  const char* name;
  uint64_t flag;
  const char* max_knob;  // under /proc/sys/user/
  const char* kconfig;
};

constexpr NsKind kNamespaces[] = {
    {"user", CLONE_NEWUSER, "max_user_namespaces", "CONFIG_USER_NS"},
    {"pid", CLONE_NEWPID, "max_pid_namespaces", "CONFIG_PID_NS"},
    {"mount", CLONE_NEWNS, "max_mnt_namespaces", "CONFIG_NAMESPACES"},
    {"net", CLONE_NEWNET, "max_net_namespaces", "CONFIG_NET_NS"},
    {"uts", CLONE_NEWUTS, "max_uts_namespaces", "CONFIG_UTS_NS"},
    {"ipc", CLONE_NEWIPC, "max_ipc_namespaces", "CONFIG_IPC_NS"},
    {"cgroup", CLONE_NEWCGROUP, "max_cgroup_namespaces", "CONFIG_CGROUPS"},
};

// Prepared by the parent: the child may not format strings.
struct UidMapCtx {
  char line[64];
  size_t len;
};

// A user namespace is only useful if the child can map itself into it;
// AppArmor's userns restriction lets the clone succeed but strips the
// capabilities this write needs.
int child_write_uid_map(const void* ctx) noexcept {
  const auto* m = static_cast<const UidMapCtx*>(ctx);
  int fd = ::open("/proc/self/uid_map", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  ssize_t n = ::write(fd, m->line, m->len);
  int e = n < 0 ? errno : (static_cast<size_t>(n) == m->len ? 0 : EIO);
  ::close(fd);
  return e;
}

struct UsernsKnobs {
  std::string summary;  // "user.max_user_namespaces=0, ..."
  std::vector<std::string> fixes;
};

UsernsKnobs userns_knobs() {
  UsernsKnobs k;
  std::vector<std::string> seen;
  if (auto v = sysctl_value("/proc/sys/user/max_user_namespaces")) {
    seen.push_back("user.max_user_namespaces=" + *v);
    if (*v == "0") k.fixes.emplace_back("sysctl -w user.max_user_namespaces=15000");
  }
  if (auto v = sysctl_value("/proc/sys/kernel/unprivileged_userns_clone")) {
    seen.push_back("kernel.unprivileged_userns_clone=" + *v);
    if (*v == "0") k.fixes.emplace_back("sysctl -w kernel.unprivileged_userns_clone=1");
  }
  if (auto v = sysctl_value("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")) {
    seen.push_back("kernel.apparmor_restrict_unprivileged_userns=" + *v);
    if (*v == "1")
      k.fixes.emplace_back(
          "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or give the host program "
          "an AppArmor profile that allows 'userns,'");
  }
  k.summary = seen.empty() ? "no userns sysctls present" : join(seen, ", ");
  return k;
}

std::string ns_errno_reason(const NsKind& ns, int e, bool rootless) {
  switch (e) {
    case EPERM:
      if (ns.flag == CLONE_NEWUSER)
        return rootless ? "unprivileged user namespaces are disabled here, or a seccomp/LSM policy "
                          "denies them"
                        : "denied by a seccomp/LSM policy";
      return rootless ? "denied: user namespaces unusable, or a seccomp/LSM policy"
                      : "denied: no CAP_SYS_ADMIN, or a seccomp/LSM policy";
    case ENOSPC:
      return std::string("the limit /proc/sys/user/") + ns.max_knob + " is reached";
    case EUSERS:
      return "user namespaces are nested too deeply";
    case EINVAL:
      return std::string("the kernel does not support it (") + ns.kconfig + " off?)";
    case ENOMEM:
    case EAGAIN:
      return "out of memory or processes (RLIMIT_NPROC)";
    default:
      return "clone failed";
  }
}

std::string ns_fix(const NsKind& ns, int e, const Identity& id, const UsernsKnobs& knobs) {
  std::string max_path = std::string("/proc/sys/user/") + ns.max_knob;
  if (e == ENOSPC) {
    auto v = sysctl_value(max_path);
    return "raise " + max_path + " (now " + (v ? *v : "?") + "), e.g. sysctl -w user." + ns.max_knob +
           "=15000";
  }
  if (e == EINVAL) return std::string("use a kernel built with ") + ns.kconfig + "=y";
  if (e == EUSERS) return "run sbx from a shallower user namespace";
  if (e == ENOMEM || e == EAGAIN) return "free memory or raise the process limit and retry";
  if (ns.flag == CLONE_NEWUSER || id.rootless) {
    std::string fix;
    if (ns.flag != CLONE_NEWUSER) fix = "needs namespace.user when not root (see its fix); ";
    if (!knobs.fixes.empty()) fix += join(knobs.fixes, "; ") + "; ";
    fix +=
        "in a container, allow clone/unshare of namespaces in its seccomp profile "
        "(e.g. docker --security-opt seccomp=unconfined)";
    fix += " (current: " + knobs.summary + ")";
    return fix;
  }
  return "run with CAP_SYS_ADMIN, or allow namespaces in the container's seccomp/LSM profile";
}

std::string via(const ChildOutcome& c) {
  return c.via_clone3 ? "clone3" : "legacy clone; clone3 unavailable";
}

ProbeEntry probe_namespace(const NsKind& ns, const Identity& id, const UsernsKnobs& knobs) {
  const std::string name = std::string("namespace.") + ns.name;

  if (ns.flag == CLONE_NEWUSER) {
    UidMapCtx map{};
    int n = std::snprintf(map.line, sizeof map.line, "0 %u 1\n", static_cast<unsigned>(id.euid));
    map.len = n > 0 ? static_cast<size_t>(n) : 0;
    ChildOutcome c = run_child(CLONE_NEWUSER, child_write_uid_map, &map, false, true);
    if (!c.started)
      return bad(name,
                 errno_reason(c.clone_errno) + " (" + ns_errno_reason(ns, c.clone_errno, id.rootless) +
                     "); " + knobs.summary,
                 ns_fix(ns, c.clone_errno, id, knobs));
    if (c.status_known && c.exit_code != 0)
      return bad(
          name,
          "created, but the child could not write its uid_map: " + child_failure(c) + "; " + knobs.summary,
          knobs.fixes.empty() ? "check LSM policy (AppArmor/SELinux) for user namespaces; " + knobs.summary
                              : join(knobs.fixes, "; "));
    std::string d = "created and uid_map written (" + via(c) + ")";
    if (!c.status_known) d = "created (" + via(c) + "); " + child_failure(c);
    return ok(name, std::move(d));
  }

  // Root tries the namespace alone first: that is what a root box uses.
  bool inside_userns = id.rootless;
  ChildOutcome c = run_child(ns.flag | (inside_userns ? CLONE_NEWUSER : 0), nullptr, nullptr, false, true);
  if (!c.started && !inside_userns && c.clone_errno == EPERM) {
    // Root without CAP_SYS_ADMIN (a container) may still get it this way.
    ChildOutcome c2 = run_child(ns.flag | CLONE_NEWUSER, nullptr, nullptr, false, true);
    if (c2.started) {
      return ok(name, "created inside a user namespace only (plain clone: EPERM; " + via(c2) + ")");
    }
  }
  if (!c.started)
    return bad(name,
               errno_reason(c.clone_errno) + " (" + ns_errno_reason(ns, c.clone_errno, id.rootless) + ")" +
                   (inside_userns ? " inside a user namespace" : ""),
               ns_fix(ns, c.clone_errno, id, knobs));
  return ok(name,
            std::string("created") + (inside_userns ? " inside a user namespace" : "") + " (" + via(c) + ")");
}

// --------------------------------------------------- process primitives

ProbeEntry probe_clone3() {
  ChildOutcome c = run_child(0, nullptr, nullptr, true, false);
  if (!c.started) {
    std::string fix = c.clone_errno == ENOSYS
                          ? "Linux >= 5.3 is needed (or the container's seccomp profile hides clone3); "
                            "sbx falls back to legacy clone without pidfds"
                          : "allow clone3 in the host's seccomp profile";
    return bad("clone3", "clone3(CLONE_PIDFD): " + errno_reason(c.clone_errno), std::move(fix));
  }
  if (!c.got_pidfd)
    return bad("clone3", "clone3 ran but returned no pidfd (CLONE_PIDFD ignored)",
               "Linux >= 5.3 is needed for CLONE_PIDFD; sbx falls back to (pid, start time)");
  if (!c.pidfd_pollable)
    return bad("clone3", "clone3 returned a pidfd that did not signal the child's exit",
               "Linux >= 5.3 is needed for pollable pidfds; sbx falls back to (pid, start time)");
  return ok("clone3", "clone3 with CLONE_PIDFD works; the pidfd polls readable on exit");
}

ProbeEntry probe_pidfd() {
  UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0)));
  if (!fd) {
    int e = errno;
    return bad("pidfd", "pidfd_open: " + errno_reason(e),
               e == ENOSYS ? "Linux >= 5.3 is needed; sbx falls back to (pid, start time)"
                           : "allow pidfd_open in the host's seccomp profile");
  }
  if (::syscall(SYS_pidfd_send_signal, fd.get(), 0, nullptr, 0) != 0) {
    int e = errno;
    return bad("pidfd", "pidfd_open works; pidfd_send_signal(0): " + errno_reason(e),
               e == ENOSYS ? "Linux >= 5.1 is needed for pidfd_send_signal"
                           : "allow pidfd_send_signal in the host's seccomp profile");
  }
  return ok("pidfd", "pidfd_open and pidfd_send_signal work");
}

ProbeEntry probe_close_range() {
  // O_PATH needs no file to be readable and works in any mount namespace.
  UniqueFd fd(::open("/", O_PATH | O_CLOEXEC));
  if (!fd)
    return bad("close_range", "could not open a test fd: " + errno_reason(errno),
               "check that / is accessible");
  const auto n = static_cast<unsigned>(fd.get());
  bool cloexec_ok = ::syscall(SYS_close_range, n, n, CLOSE_RANGE_CLOEXEC) == 0;
  int cloexec_errno = cloexec_ok ? 0 : errno;
  if (::syscall(SYS_close_range, n, n, 0) != 0) {
    int e = errno;
    return bad("close_range", "close_range: " + errno_reason(e),
               e == ENOSYS ? "Linux >= 5.9 is needed; sbx closes fds one by one instead"
                           : "allow close_range in the host's seccomp profile");
  }
  (void)fd.release();  // closed by close_range
  if (!cloexec_ok)
    return ok("close_range", "close_range works; CLOSE_RANGE_CLOEXEC: " + errno_reason(cloexec_errno) +
                                 " (needs Linux >= 5.11)");
  return ok("close_range", "close_range works, including CLOSE_RANGE_CLOEXEC");
}

ProbeEntry probe_mount_setattr() {
  // A zero-sized attr is rejected after the syscall exists, before it does
  // anything: EINVAL proves support without touching a mount.
  long r = ::syscall(SYS_mount_setattr, -1, nullptr, 0U, nullptr, static_cast<size_t>(0));
  int e = r == 0 ? 0 : errno;
  if (e == EINVAL || e == EBADF)
    return ok("mount_setattr", "present (" + errno_name(e) + " on a deliberately invalid call)");
  if (e == ENOSYS)
    return bad("mount_setattr", errno_reason(e),
               "Linux >= 5.12 is needed for recursive read-only binds; sbx falls back to remounting "
               "each mount");
  return bad("mount_setattr",
             "unexpected result on an invalid call: " + (e ? errno_reason(e) : std::string("success")),
             "allow mount_setattr in the host's seccomp profile");
}

// ------------------------------------------------------------ seccomp

int child_install_allow_filter(const void*) noexcept {
  static const struct sock_filter insn[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
  struct sock_fprog prog {
    1, const_cast<struct sock_filter*>(insn)
  };
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) return errno;
  return 0;
}

ProbeEntry probe_seccomp() {
  int mode = ::prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
  if (mode < 0) {
    int e = errno;
    return bad("seccomp", "PR_GET_SECCOMP: " + errno_reason(e), "use a kernel built with CONFIG_SECCOMP=y");
  }
  std::string d = mode == 0 ? "this process is not filtered"
                            : "this process already runs under a filter (mode " + std::to_string(mode) +
                                  "; box filters stack on top)";
  if (auto a = read_file("/proc/sys/kernel/seccomp/actions_avail"))
    d += "; actions_avail: " + trim(*a);
  else
    d += "; /proc/sys/kernel/seccomp/actions_avail is missing";
  return ok("seccomp", std::move(d));
}

std::string action_avail(uint32_t action) {
  if (::syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0) return "yes";
  return errno_name(errno);
}

ProbeEntry probe_seccomp_filter() {
  uint32_t kill = SECCOMP_RET_KILL_PROCESS;
  bool kill_ok = ::syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &kill) == 0;
  int kill_errno = kill_ok ? 0 : errno;
  std::string actions = "KILL_PROCESS: " + (kill_ok ? std::string("yes") : errno_name(kill_errno)) +
                        ", USER_NOTIF: " + action_avail(SECCOMP_RET_USER_NOTIF);

  ChildOutcome c = run_child(0, child_install_allow_filter, nullptr, false, true);
  if (!c.started)
    return bad("seccomp.filter",
               "could not start a test child: " + errno_reason(c.clone_errno) + "; " + actions,
               "see clone3 / process limits");
  if (c.status_known && c.exit_code != 0) {
    int e = c.term_signal == 0 ? c.exit_code : 0;
    std::string fix = (e == EINVAL || e == ENOSYS)
                          ? "use a kernel built with CONFIG_SECCOMP_FILTER=y"
                          : "the host's own seccomp/LSM policy forbids installing filters; relax it";
    return bad("seccomp.filter",
               "installing a filter in a child failed: " + child_failure(c) + "; " + actions, std::move(fix));
  }
  if (!c.status_known && !kill_ok)
    return bad("seccomp.filter", child_failure(c) + "; " + actions,
               "use a kernel built with CONFIG_SECCOMP_FILTER=y");
  std::string d = c.status_known ? "a filter installed in a child; " : child_failure(c) + "; ";
  return ok("seccomp.filter", d + actions);
}

int child_no_new_privs(const void*) noexcept {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  int v = ::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
  if (v < 0) return errno;
  return v == 1 ? 0 : kChildNoEffect;
}

ProbeEntry probe_no_new_privs() {
  int cur = ::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
  if (cur < 0) {
    int e = errno;
    return bad("no_new_privs", "PR_GET_NO_NEW_PRIVS: " + errno_reason(e), "Linux >= 3.5 is needed");
  }
  ChildOutcome c = run_child(0, child_no_new_privs, nullptr, false, true);
  std::string state = std::string("this process: ") + (cur ? "on" : "off");
  if (!c.started)
    return bad("no_new_privs", "could not start a test child: " + errno_reason(c.clone_errno) + "; " + state,
               "see clone3 / process limits");
  if (c.status_known && c.exit_code != 0)
    return bad("no_new_privs", "setting it in a child failed: " + child_failure(c) + "; " + state,
               "Linux >= 3.5 is needed");
  return ok("no_new_privs", "set in a child and read back; " + state);
}

// ------------------------------------------------------------ landlock

// Handles READ_DIR with no rule allowing it, so opening "/" as a directory
// must fail: proof that the ruleset is enforced, not merely accepted.
int child_landlock(const void*) noexcept {
  struct landlock_ruleset_attr attr {};
  attr.handled_access_fs = LANDLOCK_ACCESS_FS_READ_DIR;
  int rs = static_cast<int>(::syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0U));
  if (rs < 0) return errno;
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  if (::syscall(SYS_landlock_restrict_self, rs, 0U) != 0) return errno;
  int fd = ::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) return kChildNotEnforced;
  return errno == EACCES ? 0 : errno;
}

ProbeEntry probe_landlock() {
  long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, static_cast<size_t>(0),
                       LANDLOCK_CREATE_RULESET_VERSION);
  if (abi < 0) {
    int e = errno;
    std::string d = "landlock_create_ruleset: " + errno_reason(e);
    if (auto lsm = read_file("/sys/kernel/security/lsm")) d += "; active LSMs: " + trim(*lsm);
    if (e == EOPNOTSUPP)
      return bad("landlock", d + " (built in but disabled at boot)",
                 "add landlock to the lsm= boot parameter (e.g. lsm=landlock,lockdown,yama,apparmor,bpf; "
                 "see /sys/kernel/security/lsm for the current list)");
    if (e == ENOSYS)
      return bad("landlock", d + " (not built into this kernel)",
                 "use Linux >= 5.13 built with CONFIG_SECURITY_LANDLOCK=y and landlock in lsm=");
    return bad("landlock", d, "allow the landlock syscalls in the host's seccomp profile");
  }
  std::string d = "ABI " + std::to_string(abi);
  ChildOutcome c = run_child(0, child_landlock, nullptr, false, true);
  if (!c.started)
    return bad("landlock", d + "; could not start a test child: " + errno_reason(c.clone_errno),
               "see clone3 / process limits");
  if (c.status_known && c.exit_code != 0)
    return bad("landlock", d + "; restricting a child failed: " + child_failure(c),
               "check the host's seccomp/LSM policy for landlock_restrict_self");
  return ok("landlock", d + (c.status_known ? "; enforcement verified in a child" : "; " + child_failure(c)));
}

// ------------------------------------------------------------- cgroups

struct CgMount {
  std::string root;  // the cgroup shown at the mount point
  std::string mountpoint;
  bool v2 = false;
  bool read_only = false;
  std::vector<std::string> controllers;  // v1 only
  std::string named;                     // v1 "name=" hierarchies
};

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mountinfo(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::set<std::string> known_v1_controllers() {
  std::set<std::string> k = {"cpu",     "cpuacct", "cpuset", "memory",     "devices",
                             "freezer", "net_cls", "blkio",  "perf_event", "net_prio",
                             "hugetlb", "pids",    "rdma",   "misc",       "debug"};
  if (auto c = read_file("/proc/cgroups")) {
    for (const auto& line : split(*c, '\n')) {
      if (line.empty() || line[0] == '#') continue;
      auto w = words(line);
      if (!w.empty()) k.insert(w[0]);
    }
  }
  return k;
}

std::vector<CgMount> cgroup_mounts() {
  std::vector<CgMount> out;
  auto mi = read_file("/proc/self/mountinfo");
  if (!mi) return out;
  const auto known = known_v1_controllers();
  for (const auto& line : split(*mi, '\n')) {
    auto f = words(line);
    auto sep = std::find(f.begin(), f.end(), "-");
    if (sep == f.end() || f.end() - sep < 4 || sep - f.begin() < 6) continue;
    const std::string& fstype = sep[1];
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    CgMount m;
    m.root = unescape_mountinfo(f[3]);
    m.mountpoint = unescape_mountinfo(f[4]);
    m.v2 = fstype == "cgroup2";
    m.read_only = contains(split(f[5], ','), "ro");
    if (!m.v2) {
      for (const auto& opt : split(sep[3], ',')) {
        if (opt.rfind("name=", 0) == 0)
          m.named = opt;
        else if (known.count(opt))
          m.controllers.push_back(opt);
      }
    }
    out.push_back(std::move(m));
  }
  return out;
}

struct SelfCgroups {
  std::optional<std::string> v2_path;
  // (controllers or "name=x", path) per v1 hierarchy
  std::vector<std::pair<std::vector<std::string>, std::string>> v1;
};

SelfCgroups self_cgroups() {
  SelfCgroups s;
  auto c = read_file("/proc/self/cgroup");
  if (!c) return s;
  for (const auto& line : split(*c, '\n')) {
    if (line.empty()) continue;
    size_t a = line.find(':');
    size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    std::string ctrls = line.substr(a + 1, b - a - 1);
    std::string path = line.substr(b + 1);
    if (line.compare(0, a, "0") == 0 && ctrls.empty())
      s.v2_path = path;
    else
      s.v1.emplace_back(split(ctrls, ','), path);
  }
  return s;
}

// Where cgroup PATH (as /proc/self/cgroup names it) appears under mount M.
std::optional<std::string> resolve(const CgMount& m, const std::string& path) {
  std::string rel;
  if (m.root == "/") {
    rel = path == "/" ? "" : path;
  } else if (path == m.root) {
    rel = "";
  } else if (path.size() > m.root.size() && path.compare(0, m.root.size(), m.root) == 0 &&
             path[m.root.size()] == '/') {
    rel = path.substr(m.root.size());
  } else {
    return std::nullopt;
  }
  if (m.mountpoint == "/") return rel.empty() ? "/" : rel;
  return m.mountpoint + rel;
}

bool writable(const std::string& path, int* err = nullptr) {
  if (::access(path.c_str(), W_OK) == 0) return true;
  if (err) *err = errno;
  return false;
}

std::vector<std::string> read_words(const std::string& path) {
  auto v = read_file(path);
  return v ? words(*v) : std::vector<std::string>{};
}

const CgMount* pick_v2(const std::vector<CgMount>& mounts) {
  const CgMount* best = nullptr;
  for (const auto& m : mounts) {
    if (!m.v2) continue;
    if (!best || (m.root == "/" && best->root != "/")) best = &m;
  }
  return best;
}

ProbeEntry probe_cgroup_layout(const std::vector<CgMount>& mounts) {
  std::vector<std::string> v1;
  std::vector<std::string> named;
  for (const auto& m : mounts) {
    if (m.v2) continue;
    for (const auto& c : m.controllers)
      if (!contains(v1, c)) v1.push_back(c);
    if (!m.named.empty() && !contains(named, m.named)) named.push_back(m.named);
  }
  const CgMount* v2 = pick_v2(mounts);
  if (v1.empty() && !v2) {
    return bad("cgroup.layout",
               named.empty() ? "no cgroup filesystem is mounted"
                             : "only named v1 hierarchies (" + join(named, ",") + "), no controllers",
               "mount cgroup2 (mount -t cgroup2 none /sys/fs/cgroup) or boot with "
               "systemd.unified_cgroup_hierarchy=1");
  }
  std::string kind = !v1.empty() && v2 ? "hybrid" : v2 ? "v2-only" : "v1-only";
  std::string d = kind + ":";
  if (!v1.empty()) d += " v1 " + join(v1, ",");
  if (!named.empty()) d += " (+" + join(named, ",") + ")";
  if (v2) {
    if (!v1.empty() || !named.empty()) d += ";";
    auto ctrls = read_words(v2->mountpoint + "/cgroup.controllers");
    d += " v2 at " + v2->mountpoint +
         (ctrls.empty() ? " with no controllers" : " with controllers " + join(ctrls, ","));
    if (v2->read_only) d += " (read-only)";
  }
  return ok("cgroup.layout", std::move(d));
}

constexpr const char* kLimitControllers[] = {"memory", "pids", "cpu"};

ProbeEntry probe_cgroup_v2(const std::vector<CgMount>& mounts, const SelfCgroups& self, const Identity& id) {
  const char* name = "cgroup.v2.delegation";
  const CgMount* v2 = pick_v2(mounts);
  if (!v2)
    return bad(name, "no cgroup2 filesystem is mounted",
               "mount cgroup2 or boot with systemd.unified_cgroup_hierarchy=1; sbx uses the v1 "
               "controllers "
               "meanwhile (see cgroup.v1.*)");
  if (!self.v2_path)
    return bad(name, "this process has no cgroup v2 entry in /proc/self/cgroup",
               "cgroup2 is mounted but this process is not in it; check the container runtime");
  const std::string& path = *self.v2_path;
  std::optional<std::string> dir;
  for (const auto& m : mounts)
    if (m.v2 && (dir = resolve(m, path))) break;
  if (!dir)
    return bad(name, "own cgroup " + path + " is not visible under any cgroup2 mount here",
               "mount the cgroup2 hierarchy that contains this process (or use a cgroup namespace)");

  int e_dir = 0;
  int e_procs = 0;
  int e_sub = 0;
  bool w_dir = writable(*dir, &e_dir);
  bool w_procs = writable(*dir + "/cgroup.procs", &e_procs);
  bool w_sub = writable(*dir + "/cgroup.subtree_control", &e_sub);
  auto ctrls = read_words(*dir + "/cgroup.controllers");
  auto root_ctrls = read_words(v2->mountpoint + "/cgroup.controllers");
  std::vector<std::string> useful;
  for (const char* c : kLimitControllers)
    if (contains(ctrls, c)) useful.emplace_back(c);

  std::string d = "own cgroup " + path + " (" + *dir + "): ";
  if (w_dir && w_procs && w_sub) {
    d += "writable";
  } else {
    std::vector<std::string> no;
    if (!w_dir) no.push_back("directory: " + errno_name(e_dir));
    if (!w_procs) no.push_back("cgroup.procs: " + errno_name(e_procs));
    if (!w_sub) no.push_back("cgroup.subtree_control: " + errno_name(e_sub));
    d += "not writable (" + join(no, ", ") + ")";
  }
  d += "; controllers: " + (ctrls.empty() ? std::string("none") : join(ctrls, ","));
  if (useful.empty()) d += " (none of memory,pids,cpu)";

  if (!(w_dir && w_procs && w_sub)) {
    std::string fix;
    if (id.rootless) {
      fix = "the cgroup is not delegated to uid " + std::to_string(id.euid) +
            ": start the host inside a delegated scope, e.g. systemd-run --user --scope -p "
            "Delegate=yes "
            "<command>, or have root chown a cgroup subtree (directory, cgroup.procs, "
            "cgroup.subtree_control) to this user";
    } else {
      fix = (e_dir == EROFS || v2->read_only)
                ? "cgroup2 is mounted read-only (a container?): mount it read-write or give the "
                  "container a "
                  "private, writable cgroup (e.g. docker --cgroupns=private with a delegated cgroup)"
                : "give this process a writable cgroup2 subtree";
    }
    return bad(name, std::move(d), std::move(fix));
  }
  if (useful.empty()) {
    std::vector<std::string> missing_here;
    for (const char* c : kLimitControllers)
      if (contains(root_ctrls, c)) missing_here.emplace_back(c);
    std::string fix =
        !missing_here.empty()
            ? "the v2 root has " + join(missing_here, ",") +
                  " but they are not enabled down to this cgroup: enable them in each ancestor's "
                  "cgroup.subtree_control (systemd: Delegate=yes)"
            : "the v2 hierarchy has no memory/pids/cpu controllers (they are bound to v1 "
              "hierarchies); sbx uses "
              "the v1 controllers instead (see cgroup.v1.*). To use v2, boot with "
              "systemd.unified_cgroup_hierarchy=1 or cgroup_no_v1=all";
    return bad(name, std::move(d), std::move(fix));
  }
  return ok(name, std::move(d));
}

constexpr const char* kV1Controllers[] = {"memory", "pids", "cpu", "cpuacct", "freezer"};

ProbeEntry probe_cgroup_v1(const std::string& ctrl, const std::vector<CgMount>& mounts,
                           const SelfCgroups& self, const Identity& id) {
  const std::string name = "cgroup.v1." + ctrl;
  std::vector<const CgMount*> hier;
  for (const auto& m : mounts)
    if (!m.v2 && contains(m.controllers, ctrl)) hier.push_back(&m);
  if (hier.empty()) {
    const CgMount* v2 = pick_v2(mounts);
    bool on_v2 =
        v2 && contains(read_words(v2->mountpoint + "/cgroup.controllers"), ctrl == "cpuacct" ? "cpu" : ctrl);
    if (on_v2)
      return bad(name, "not mounted as a v1 hierarchy; " + ctrl + " is on cgroup v2",
                 "nothing to do: sbx uses cgroup v2 for this (see cgroup.v2.delegation)");
    return bad(name, "not mounted as a v1 hierarchy, and not available on cgroup v2",
               "mount it (mount -t cgroup -o " + ctrl + " cgroup /sys/fs/cgroup/" + ctrl +
                   ") or enable it on cgroup v2");
  }
  std::string where = hier.front()->mountpoint;
  if (hier.front()->controllers.size() > 1) where += " (with " + join(hier.front()->controllers, ",") + ")";

  std::optional<std::string> path;
  for (const auto& [ctrls, p] : self.v1)
    if (contains(ctrls, ctrl)) path = p;
  if (!path)
    return bad(name, "mounted at " + where + ", but /proc/self/cgroup has no " + ctrl + " entry",
               "check the container runtime's cgroup setup");
  std::optional<std::string> dir;
  for (const CgMount* m : hier)
    if ((dir = resolve(*m, *path))) break;
  if (!dir)
    return bad(name, "mounted at " + where + ", but own cgroup " + *path + " is not visible under it",
               "mount the hierarchy root, or run sbx in a cgroup visible in this mount namespace");
  int e = 0;
  std::string d = "mounted at " + where + "; own cgroup " + *path;
  if (!writable(*dir, &e)) {
    d += " not writable (" + errno_name(e) + ")";
    std::string fix = e == EROFS    ? "the hierarchy is mounted read-only: remount it read-write"
                      : id.rootless ? "cgroup v1 has no delegation: have root create a directory for uid " +
                                          std::to_string(id.euid) + " (mkdir " + hier.front()->mountpoint +
                                          "/sbx && chown -R " + std::to_string(id.euid) + " " +
                                          hier.front()->mountpoint + "/sbx) and run sbx in it"
                                    : "give this process a writable cgroup in the " + ctrl + " hierarchy";
    return bad(name, std::move(d), std::move(fix));
  }
  return ok(name, d + " writable");
}

}  // namespace

// ------------------------------------------------------------ run_probe

// How boxes are launched here: the shim mode (nothing copies the host's
// memory; pid 1 runs the embedded init image from a sealed memfd) or the
// classic mode (the box process is a copy of the host, which costs time in
// proportion to the host's memory).
ProbeEntry probe_launch_mode() {
  if (init_image_fd() >= 0)
    return ok("launch.init_image",
              "shim mode: boxes start without copying the host's memory; pid 1 runs the embedded init image");
  std::string policy;
  if (read_small_file("/proc/sys/vm/memfd_noexec", &policy) && !policy.empty() && policy[0] == '2')
    return bad(
        "launch.init_image",
        "vm.memfd_noexec = 2 forbids executable memfds: boxes use the classic mode (a copy of the host "
        "process per box; slower for large hosts)",
        "sysctl vm.memfd_noexec=0 (or 1) lets sbx run its init image");
  return bad(
      "launch.init_image",
      "this build has no init image (not x86-64) or the memfd could not be made: boxes use the classic "
      "mode (a copy of the host process per box; slower for large hosts)",
      "build sbx for x86-64, or check memfd_create in this environment");
}

// What a box's limits would get here, by creating (and removing) a real box
// cgroup with a memory, pids and CPU limit: the same code path as
// sbx_box_create, so the answer includes delegation, parents and
// per-controller versions.
ProbeEntry probe_box_limits() {
  const char* name = "cgroup.box_limits";
  cgroup::Limits lim;
  lim.memory_max = uint64_t{64} << 20;
  lim.pids_max = 64;
  lim.cpus = 1.0;
  std::vector<cgroup::Enforcement> rows;
  try {
    auto cg = cgroup::BoxCgroup::create(cgroup::Layout::detect(), "sbx-probe-" + std::to_string(getpid()),
                                        lim, cgroup::Options{}, &rows);
  } catch (const Error& e) {
    return bad(name, std::string("creating a box cgroup failed: ") + e.what(),
               "see the cgroup.* entries above and docs/limits.md");
  }
  std::vector<std::string> on, off, fixes;
  for (const auto& r : rows) {
    if (r.limit != "memory.max" && r.limit != "pids.max" && r.limit != "cpu.max") continue;
    if (r.enforced) {
      on.push_back(r.limit + " (" + r.mechanism.substr(0, r.mechanism.find(" at ")) + ")");
    } else {
      off.push_back(r.limit);
      if (!r.detail.empty()) fixes.push_back(r.limit + ": " + r.detail);
    }
  }
  auto join = [](const std::vector<std::string>& v, const char* sep) {
    std::string j;
    for (const auto& x : v) j += (j.empty() ? "" : sep) + x;
    return j;
  };
  if (off.empty()) return ok(name, "a box cgroup enforces " + join(on, ", "));
  return bad(
      name,
      "not enforced for this user: " + join(off, ", ") + (on.empty() ? "" : "; enforced: " + join(on, ", ")),
      join(fixes, " | "));
}

std::vector<ProbeEntry> run_probe() {
  std::vector<ProbeEntry> out;
  const Identity id = identity();
  out.push_back(probe_identity(id));

  const UsernsKnobs knobs = userns_knobs();
  for (const auto& ns : kNamespaces) out.push_back(probe_namespace(ns, id, knobs));

  out.push_back(probe_clone3());
  out.push_back(probe_pidfd());
  out.push_back(probe_close_range());
  out.push_back(probe_mount_setattr());
  out.push_back(probe_seccomp());
  out.push_back(probe_seccomp_filter());
  out.push_back(probe_no_new_privs());
  out.push_back(probe_landlock());
  out.push_back(probe_launch_mode());

  const auto mounts = cgroup_mounts();
  const auto self = self_cgroups();
  out.push_back(probe_cgroup_layout(mounts));
  out.push_back(probe_cgroup_v2(mounts, self, id));
  for (const char* c : kV1Controllers) out.push_back(probe_cgroup_v1(c, mounts, self, id));
  out.push_back(probe_box_limits());

  // Every unsupported entry promises a fix; keep that promise even for a
  // path above that forgot one.
  for (auto& e : out)
    if (!e.supported && e.fix.empty()) e.fix = "no automatic fix known; see the detail";
  return out;
}

// ---------------------------------------------------------------- JSON

std::string json_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 8);
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (c < 0x20) {
            out += "\\u00";
            out += kHex[c >> 4];
            out += kHex[c & 0xf];
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    // Well-formed UTF-8 per RFC 3629 (no overlongs, no surrogates, <= U+10FFFF).
    size_t len = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
      len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    }
    bool valid = len != 0 && i + len <= n && p[i + 1] >= lo && p[i + 1] <= hi;
    for (size_t k = 2; valid && k < len; ++k) valid = p[i + k] >= 0x80 && p[i + k] <= 0xBF;
    if (valid) {
      out.append(reinterpret_cast<const char*>(p + i), len);
      i += len;
    } else {
      out += "\\ufffd";
      ++i;
    }
  }
  return out;
}

std::string probe_to_json(const std::vector<ProbeEntry>& entries) {
  const Identity id = identity();
  struct utsname u {};
  std::string kernel = ::uname(&u) == 0 ? u.release : "";

  auto str = [](std::string_view s) { return "\"" + json_escape(s) + "\""; };
  std::string j = "{\n";
  j += "  \"rootless\": " + std::string(id.rootless ? "true" : "false") + ",\n";
  j += "  \"euid\": " + std::to_string(id.euid) + ",\n";
  j += "  \"kernel\": " + str(kernel) + ",\n";
  j += "  \"entries\": [";
  size_t supported = 0;
  std::vector<std::string> unsupported;
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    j += i ? ",\n    " : "\n    ";
    j += "{\"name\": " + str(e.name) + ", \"supported\": " + (e.supported ? "true" : "false") +
         ", \"detail\": " + str(e.detail) + ", \"fix\": " + str(e.fix) + "}";
    if (e.supported)
      ++supported;
    else
      unsupported.push_back(str(e.name));
  }
  j += entries.empty() ? "],\n" : "\n  ],\n";
  j += "  \"summary\": {\"total\": " + std::to_string(entries.size()) +
       ", \"supported\": " + std::to_string(supported) + ", \"unsupported\": [" + join(unsupported, ", ") +
       "]}\n}\n";
  return j;
}

}  // namespace sbx
