#include "core/launch/launcher.hpp"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "core/common/error.hpp"
#include "core/common/util.hpp"
#include "core/launch/child.hpp"
#include "core/launch/init_image.hpp"

namespace sbx {

namespace {

using launch::ChildError;
using launch::ChildPlan;
using launch::Step;

int last_cap() {
  // Read once: the value cannot change while the system runs.
  static const int value = [] {
    std::string s;
    if (read_small_file("/proc/sys/kernel/cap_last_cap", &s)) {
      int v = atoi(s.c_str());
      if (v > 0 && v < 64) return v;
    }
    return 40;  // CAP_CHECKPOINT_RESTORE, the last one in Linux 6.x
  }();
  return value;
}

unsigned long clone_flags_for(unsigned ns) {
  unsigned long f = 0;
  if (ns & SBX_NS_USER) f |= CLONE_NEWUSER;
  if (ns & SBX_NS_PID) f |= CLONE_NEWPID;
  if (ns & SBX_NS_MOUNT) f |= CLONE_NEWNS;
  if (ns & SBX_NS_NET) f |= CLONE_NEWNET;
  if (ns & SBX_NS_UTS) f |= CLONE_NEWUTS;
  if (ns & SBX_NS_IPC) f |= CLONE_NEWIPC;
  if (ns & SBX_NS_CGROUP) f |= CLONE_NEWCGROUP;
  return f;
}

// The host's argv + environment strings of this process, from
// /proc/self/stat fields 48..51 (arg_start, arg_end, env_start, env_end).
std::pair<char*, size_t> host_args_region() {
  static const std::pair<uintptr_t, size_t> region = []() -> std::pair<uintptr_t, size_t> {
    std::string stat;
    if (!read_small_file("/proc/self/stat", &stat)) return {0, 0};
    size_t rp = stat.rfind(')');
    if (rp == std::string::npos) return {0, 0};
    std::vector<unsigned long long> fields;  // fields 3.. (after "pid (comm)")
    const char* c = stat.c_str() + rp + 2;
    while (*c != '\0') {
      char* end = nullptr;
      unsigned long long v = strtoull(c, &end, 10);
      if (end == c) {  // the state letter (field 3)
        fields.push_back(0);
        while (*c != ' ' && *c != '\0') ++c;
      } else {
        fields.push_back(v);
        c = end;
      }
      while (*c == ' ' || *c == '\n') ++c;
    }
    if (fields.size() < 49) return {0, 0};
    unsigned long long arg_start = fields[48 - 3], env_end = fields[51 - 3];
    if (arg_start == 0 || env_end <= arg_start || env_end - arg_start > (1u << 24)) return {0, 0};
    return {static_cast<uintptr_t>(arg_start), static_cast<size_t>(env_end - arg_start)};
  }();
  return {reinterpret_cast<char*>(region.first), region.second};
}

void write_proc_file(int dirfd, const char* name, const std::string& content) {
  UniqueFd fd(openat(dirfd, name, O_WRONLY | O_CLOEXEC));
  if (!fd) throw_system(name, std::string("open /proc/PID/") + name, errno);
  ssize_t n = write(fd.get(), content.data(), content.size());
  if (n < 0) {
    int e = errno;
    throw Error(
        SBX_E_SETUP, name, e,
        std::string("write ") + name + " '" + content.substr(0, content.size() - 1) + "': " + errno_text(e));
  }
}

// Blocks every signal in the calling thread around clone3 so no host handler
// runs in the child before it resets dispositions (the raw syscall also
// blocks glibc's internal signals).
}  // namespace

StackMapping::StackMapping(size_t size) : len_(size + 4096) {
  void* m = mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (m == MAP_FAILED) throw_system("clone3", "mmap of a child stack", errno);
  // A guard page below: an overflow faults instead of writing host memory.
  if (mprotect(m, 4096, PROT_NONE) < 0) {
    int e = errno;
    munmap(m, len_);
    throw_system("clone3", "guard page of a child stack", e);
  }
  map_ = m;
}

StackMapping& StackMapping::operator=(StackMapping&& o) noexcept {
  if (this != &o) {
    if (map_ != nullptr) munmap(map_, len_);
    map_ = o.map_;
    len_ = o.len_;
    o.map_ = nullptr;
    o.len_ = 0;
  }
  return *this;
}

StackMapping::~StackMapping() {
  if (map_ != nullptr) munmap(map_, len_);
}

void* StackMapping::base() const {
  return static_cast<char*>(map_) + 4096;
}
size_t StackMapping::size() const {
  return len_ - 4096;
}

namespace {

class SignalBlock {
 public:
  SignalBlock() {
    uint64_t all = ~0ull;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old_, sizeof all);
  }
  ~SignalBlock() { syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old_, nullptr, sizeof old_); }

 private:
  uint64_t old_ = 0;
};

Error child_error(const ChildError& ce, const launch::ChildPlan& plan, const MountPlan& mp,
                  const ProcSpec& spec) {
  auto step = static_cast<Step>(ce.step);
  int e = ce.err;
  if (step == Step::kExec) {
    bool not_found = (e == ENOENT || e == ENOTDIR);
    return Error(not_found ? SBX_E_NOTFOUND : SBX_E_EXEC, "execve", e,
                 "execve " + spec.argv[0] + ": " + errno_text(e));
  }
  if ((step == Step::kMountOp || step == Step::kMountSource) && ce.index >= 0 &&
      static_cast<size_t>(ce.index) < mp.describe.size()) {
    const std::string& d = mp.describe[static_cast<size_t>(ce.index)];
    std::string msg = d + ": " + (step == Step::kMountSource ? "source: " : "") + errno_text(e);
    if (step == Step::kMountSource && e == ESTALE)
      msg += " (the source path names another file than when the box was created)";
    else if (step == Step::kMountSource && e == ELOOP)
      msg += " (a symlink appeared in the source path since the box was created)";
    else if (e == ELOOP)
      msg += " (a symlink on the target path inside the box was refused)";
    else if (step == Step::kMountOp && e == ENOENT)
      msg += " (missing mount points are created only on the box's own tmpfs, never in a host directory)";
    return Error(SBX_E_SETUP, d.substr(0, d.find(' ')), e, msg);
  }
  std::string msg = std::string(launch::step_name(step)) + ": " + errno_text(e);
  if ((step == Step::kSetuid || step == Step::kSetgid) && e == EINVAL)
    msg += " (uid " + std::to_string(plan.uid) + " / gid " + std::to_string(plan.gid) +
           " is not mapped in the box's user namespace)";
  if (step == Step::kChdir) msg = "chdir " + spec.cwd + ": " + errno_text(e);
  return Error(SBX_E_SETUP, launch::step_name(step), e, msg);
}

}  // namespace

Launched::~Launched() {
  if (!pidfd) return;
  syscall(SYS_pidfd_send_signal, signal_fd ? signal_fd.get() : pidfd.get(), SIGKILL, nullptr, 0);
  reap_blocking(pidfd.get());
}

void reap_blocking(int pidfd) {
  siginfo_t si;
  while (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &si, WEXITED | __WALL) < 0 &&
         errno == EINTR) {
  }
}

namespace {
std::atomic<bool> g_force_classic{false};

// When the host is root, the box process changes its ids while it still
// shares the host's memory, and the kernel then marks that memory (the
// host's) non-dumpable. That is what we want while it lasts (no other
// process running as the box's host id may ptrace a process holding the
// host's memory), but the host must get its own setting back once no box
// process shares its memory any more: counted across concurrent spawns.
class DumpableGuard {
 public:
  explicit DumpableGuard(bool active) : active_(active) {
    if (!active_) return;
    std::lock_guard<std::mutex> lk(mu());
    if (inflight()++ == 0) saved() = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  }
  ~DumpableGuard() {
    if (!active_) return;
    std::lock_guard<std::mutex> lk(mu());
    if (--inflight() == 0 && saved() >= 0) prctl(PR_SET_DUMPABLE, saved(), 0, 0, 0);
  }
  DumpableGuard(const DumpableGuard&) = delete;
  DumpableGuard& operator=(const DumpableGuard&) = delete;

 private:
  static std::mutex& mu() {
    static std::mutex m;
    return m;
  }
  static int& inflight() {
    static int n = 0;
    return n;
  }
  static int& saved() {
    static int v = -1;
    return v;
  }
  bool active_;
};
}  // namespace

void force_classic_launch_for_tests(bool on) {
  g_force_classic.store(on);
}

namespace {
constexpr int kCapturePipeSize = 1 << 20;  // /proc/sys/fs/pipe-max-size's default
}  // namespace

void prepare_stdio(const ProcSpec& spec, Launched* out, std::vector<UniqueFd>* child_owned, int src[3]) {
  if (spec.pty) {
    // The master stays here; the slave, opened from the master (no path in
    // any mount namespace), becomes the program's stdin/stdout/stderr.
    UniqueFd master(open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK));
    if (!master) throw_system("pty", "open /dev/ptmx", errno);
    int unlock = 0;
    if (ioctl(master.get(), TIOCSPTLCK, &unlock) < 0) throw_system("pty", "unlock the pty", errno);
    struct winsize ws = {};
    ws.ws_row = spec.pty_rows;
    ws.ws_col = spec.pty_cols;
    if (ioctl(master.get(), TIOCSWINSZ, &ws) < 0) throw_system("pty", "set the window size", errno);
    int slave = ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) throw_system("pty", "open the pty's slave side", errno);
    child_owned->emplace_back(slave);
    UniqueFd writer(fcntl(master.get(), F_DUPFD_CLOEXEC, 3));
    if (!writer) throw_system("pty", "dup the pty master", errno);
    out->stdio[0] = std::move(writer);
    out->stdio[1] = std::move(master);
    out->pty = true;
    src[0] = src[1] = src[2] = slave;
  }
  for (int i = 0; i < 3 && !spec.pty; ++i) {
    const StdioSpec& s = spec.stdio[i];
    const char* name = i == 0 ? "stdin" : (i == 1 ? "stdout" : "stderr");
    switch (s.mode) {
      case SBX_STDIO_INHERIT:
        src[i] = fcntl(i, F_GETFD) >= 0 ? i : -1;
        break;
      case SBX_STDIO_NULL: {
        UniqueFd fd(open("/dev/null", O_RDWR | O_CLOEXEC));
        if (!fd) throw_system("stdio", "open /dev/null", errno);
        src[i] = fd.get();
        child_owned->push_back(std::move(fd));
        break;
      }
      case SBX_STDIO_PIPE:
      case SBX_STDIO_CAPTURE: {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0) throw_system("stdio", std::string("pipe for ") + name, errno);
        int child_end = i == 0 ? p[0] : p[1];
        int host_end = i == 0 ? p[1] : p[0];
        // The monitor thread reads captured output; writes to a captured
        // stdin wait in poll with a timeout.
        if (s.mode == SBX_STDIO_CAPTURE) {
          (void)fcntl(host_end, F_SETFL, O_NONBLOCK);
          // A larger pipe: fewer wake-ups of the monitor thread and of the
          // program per byte (best effort: the per-user pipe quota may say
          // no, and the default size stays).
          if (i != 0) (void)fcntl(host_end, F_SETPIPE_SZ, kCapturePipeSize);
        }
        out->stdio[i].reset(host_end);
        src[i] = child_end;
        child_owned->emplace_back(child_end);
        break;
      }
      case SBX_STDIO_FILE: {
        int flags = i == 0 ? O_RDONLY : (O_WRONLY | O_CREAT | O_TRUNC);
        UniqueFd fd(open(s.path.c_str(), flags | O_CLOEXEC | O_NOCTTY, 0644));
        if (!fd) {
          int e = errno;
          throw Error(SBX_E_INVALID, "stdio", e,
                      std::string(name) + " file " + s.path + ": " + errno_text(e));
        }
        src[i] = fd.get();
        child_owned->push_back(std::move(fd));
        break;
      }
      case SBX_STDIO_FD:
        if (fcntl(s.fd, F_GETFD) < 0)
          throw Error(SBX_E_INVALID, "stdio", EBADF,
                      std::string(name) + " fd " + std::to_string(s.fd) + " is not open");
        src[i] = s.fd;
        break;
      case SBX_STDIO_STDOUT:
        src[i] = src[1];
        break;
    }
  }
}

std::vector<launch::RlimitOp> merge_rlimits(const LaunchPolicy& policy, const ProcSpec& spec,
                                            uint64_t* cpu_hard_s) {
  // Policy. rlimits: the box's defaults, then the spec's (the spec wins per
  // resource); RLIMIT_CORE 0 unless asked (a core file of a sandboxed
  // program is rarely wanted and may be large).
  std::vector<launch::RlimitOp> rlimits = policy.rlimits;
  auto set_rlimit = [&](int res, uint64_t soft, uint64_t hard) {
    for (auto& r : rlimits)
      if (r.resource == res) {
        r.soft = soft;
        r.hard = hard;
        return;
      }
    rlimits.push_back({res, soft, hard});
  };
  if (std::none_of(rlimits.begin(), rlimits.end(),
                   [](const launch::RlimitOp& r) { return r.resource == RLIMIT_CORE; })) {
    struct rlimit core;
    uint64_t hard = (getrlimit(RLIMIT_CORE, &core) == 0) ? core.rlim_max : RLIM_INFINITY;
    set_rlimit(RLIMIT_CORE, 0, hard);
  }
  // The box's own entries (the CPU-time backstop) are ceilings: a spec may
  // lower them, never lift them.
  const std::vector<launch::RlimitOp>& ceilings = policy.rlimits;
  for (auto& r : spec.rlimits) {
    uint64_t soft = r.soft == SBX_RLIM_INFINITY ? RLIM_INFINITY : r.soft;
    uint64_t hard = r.hard == SBX_RLIM_INFINITY ? RLIM_INFINITY : r.hard;
    for (const auto& c : ceilings)
      if (c.resource == r.resource) {
        hard = std::min<uint64_t>(hard, c.hard);
        soft = std::min<uint64_t>(soft, std::min<uint64_t>(c.soft, hard));
      }
    set_rlimit(r.resource, soft, hard);
  }
  for (const auto& r : rlimits)
    if (r.resource == RLIMIT_CPU && r.hard != RLIM_INFINITY) *cpu_hard_s = r.hard;
  return rlimits;
}

Launched launch_process(const ResolvedConfig& box, const ProcSpec& spec, const LaunchPolicy& policy,
                        const SupervisorLaunch* supervisor) {
  spec.validate();
  const unsigned ns = box.cfg.namespaces;
  const bool userns = (ns & SBX_NS_USER) != 0;
  const bool root = (geteuid() == 0);

  Launched out;
  out.box_init = (ns & SBX_NS_PID) != 0;

  // Identity inside the box.
  uid_t uid;
  gid_t gid;
  if (spec.user) {
    uid = spec.user->first;
    gid = spec.user->second;
  } else if (userns) {
    uid = 1000;
    gid = 1000;
  } else if (root) {
    uid = 65534;
    gid = 65534;
  } else {
    uid = getuid();
    gid = getgid();
  }

  MountPlan mp;
  if (ns & SBX_NS_MOUNT) {
    MountPlanInput in{&box, uid, gid, (ns & SBX_NS_PID) != 0, (ns & SBX_NS_NET) != 0};
    mp = build_mount_plan(in);
  }

  // argv / envp as C arrays that stay valid in the child's copy of memory.
  std::vector<std::string> env = spec.build_env();
  std::vector<const char*> envp;
  const char* path_value = nullptr;
  for (auto& e : env) {
    envp.push_back(e.c_str());
    if (e.compare(0, 5, "PATH=") == 0) path_value = e.c_str() + 5;
  }
  envp.push_back(nullptr);
  std::vector<const char*> argv;
  for (auto& a : spec.argv) argv.push_back(a.c_str());
  argv.push_back(nullptr);

  // Stdio sources; CHILD_OWNED are fds opened here only for the child.
  std::vector<UniqueFd> child_owned;
  int src[3] = {-1, -1, -1};
  prepare_stdio(spec, &out, &child_owned, src);

#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer models the life of every fd; it cannot see the shim
  // close the fds the host hands it (in the shared fd table) and then
  // reports the host reusing those numbers as races. TSan builds therefore
  // test the classic mode; the other builds test the shim.
  const bool classic = true;
#else
  const bool classic = g_force_classic.load();
#endif
  const int image_fd = out.box_init && !classic ? init_image_fd() : -1;
  // Shim mode (x86-64 with the init image): nothing the host starts ever
  // copies the host's page tables, so the cost of a box does not grow with
  // the size of the host (a JVM, a Go runtime), and the host never has an
  // exec'ed child of its own (see ChildPlan::shared). Otherwise the classic
  // mode: the box process is a copy of the host and its direct child.
#if defined(SBX_HAVE_SHIM)
  const bool shim = !classic && (image_fd >= 0 || !out.box_init);
#else
  const bool shim = false;
#endif

  int sync_p[2], err_p[2], status_p[2] = {-1, -1};
  if (pipe2(sync_p, O_CLOEXEC) < 0) throw_system("pipe", "sync pipe", errno);
  UniqueFd sync_rd(sync_p[0]), sync_wr(sync_p[1]);
  if (pipe2(err_p, O_CLOEXEC) < 0) throw_system("pipe", "error pipe", errno);
  UniqueFd err_rd(err_p[0]), err_wr(err_p[1]);
  UniqueFd status_wr;
  // The exact wait status of the program comes through this pipe: from the
  // box init, or (shim mode without a pid namespace) from the shim.
  if (out.box_init || shim) {
    if (pipe2(status_p, O_CLOEXEC | O_NONBLOCK) < 0) throw_system("pipe", "status pipe", errno);
    out.status_rd.reset(status_p[0]);
    status_wr.reset(status_p[1]);
  }

  std::vector<int> preserve(spec.preserve_fds.begin(), spec.preserve_fds.end());
  std::sort(preserve.begin(), preserve.end());
  std::vector<int> keep = {0, 1, 2, sync_rd.get(), err_wr.get()};
  if (status_wr) keep.push_back(status_wr.get());
  if (image_fd >= 0) keep.push_back(image_fd);
  if (policy.landlock_fd >= 0) keep.push_back(policy.landlock_fd);
  if (supervisor != nullptr) {
    keep.push_back(supervisor->ctrl_fd);
    if (supervisor->seccomp_fd >= 0) keep.push_back(supervisor->seccomp_fd);
  }
  for (int s : src)
    if (s >= 0) keep.push_back(s);
  keep.insert(keep.end(), preserve.begin(), preserve.end());
  std::sort(keep.begin(), keep.end());
  keep.erase(std::unique(keep.begin(), keep.end()), keep.end());

  ChildPlan plan{};
  plan.sync_fd = sync_rd.get();
  plan.err_fd = err_wr.get();
  plan.status_fd = status_wr ? status_wr.get() : -1;
  plan.keep_fds = keep.data();
  plan.n_keep = keep.size();
  plan.preserve_fds = preserve.data();
  plan.n_preserve = preserve.size();
  for (int i = 0; i < 3; ++i) plan.stdio_src[i] = src[i];
  plan.controlling_tty = spec.pty;
  plan.box_init = out.box_init;
  plan.set_hostname = (ns & SBX_NS_UTS) != 0;
  plan.hostname = box.cfg.hostname.c_str();
  plan.hostname_len = box.cfg.hostname.size();
  plan.loopback_up = (ns & SBX_NS_NET) != 0;
  plan.mount_ns = (ns & SBX_NS_MOUNT) != 0;
  plan.ops = mp.ops.data();
  plan.n_ops = mp.ops.size();
  std::vector<int> bind_src_fds(mp.ops.size(), launch::kNoSource);
  plan.bind_src_fds = bind_src_fds.data();
  // setgroups(2) inside a user namespace needs a gid map written by a
  // privileged parent; an unprivileged parent must deny it.
  plan.setgroups_allowed = root;
  // As root, the box's uid and gid are the only ids mapped in its user
  // namespace, to an unprivileged host id (never host root: whatever a box
  // process could do as, or to, a mapped id — setuid with an added
  // CAP_SETUID, chown with CAP_CHOWN, DAC overrides on files of that owner,
  // setuid-root files in a writable bind — must never concern host root).
  // So the box process takes the box's ids right after the maps are
  // written (it cannot create files in its own tmpfs with an unmapped
  // fsuid); the bind sources, which may be root's, are opened just before
  // that, while it still has the host identity it was created with.
  std::string uid_map, gid_map;
  if (userns && root) {
    const std::string host_id = std::to_string(kRootBoxHostId);
    uid_map = std::to_string(uid) + " " + host_id + " 1\n";
    gid_map = std::to_string(gid) + " " + host_id + " 1\n";
    plan.early_identity = true;
  } else if (userns) {
    uid_map = std::to_string(uid) + " " + std::to_string(geteuid()) + " 1\n";
    gid_map = std::to_string(gid) + " " + std::to_string(getegid()) + " 1\n";
  }
  {
    auto [args, len] = host_args_region();
    plan.host_args = args;
    plan.host_args_len = len;
  }
  plan.uid = uid;
  plan.gid = gid;
  plan.last_cap = last_cap();
  plan.cwd = spec.cwd.c_str();
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.path_value = path_value;

  plan.init_image_fd = image_fd;
  plan.supervisor_fd = supervisor != nullptr ? supervisor->ctrl_fd : -1;
  plan.seccomp_fd = supervisor != nullptr ? supervisor->seccomp_fd : -1;
  plan.seccomp_self = supervisor != nullptr && supervisor->seccomp_self;

  std::vector<launch::RlimitOp> rlimits = merge_rlimits(policy, spec, &out.cpu_rlimit_hard_s);
  plan.rlimits = rlimits.data();
  plan.n_rlimits = rlimits.size();
  plan.keep_caps = policy.keep_caps;
  plan.cgroup_dir_fd = policy.cgroup_dir_fd;
  const bool cgroupns_late =
      (ns & SBX_NS_CGROUP) != 0 && (policy.cgroup_dir_fd >= 0 || !policy.cgroup_procs_fds.empty());
  plan.unshare_cgroupns = cgroupns_late;
  plan.cgroup_procs_fds = shim ? policy.cgroup_procs_fds.data() : nullptr;
  plan.n_cgroup_procs = shim ? policy.cgroup_procs_fds.size() : 0;
  plan.landlock_fd = policy.landlock_fd;
  plan.landlock_rules = policy.landlock_rules != nullptr ? policy.landlock_rules->data() : nullptr;
  plan.n_landlock_rules = policy.landlock_rules != nullptr ? policy.landlock_rules->size() : 0;
  plan.landlock_flags = policy.landlock_flags;
  if (policy.seccomp != nullptr && !policy.seccomp->empty()) {
    if (policy.seccomp->size() > 0xffff)
      throw Error(SBX_E_INTERNAL, "seccomp", 0, "seccomp program too long");
    plan.seccomp_insns = policy.seccomp->data();
    plan.seccomp_len = static_cast<unsigned short>(policy.seccomp->size());
  }

  // Declared before anything that can kill or reap the box process, so it
  // ends after: on success after EOF (every process with changed ids has
  // executed), on failure after the reap.
  DumpableGuard dumpable(shim && root);
  launch::ShimShared shared{};
  shared.init_pidfd = -1;
  shared.init_pid = -1;
  if (shim) {
    out.stacks[0] = StackMapping(size_t{64} * 1024);   // the shim
    out.stacks[1] = StackMapping(size_t{512} * 1024);  // the box process (and the program's vfork)
    plan.shared = &shared;
    plan.ns_flags = clone_flags_for(ns) & ~static_cast<unsigned long>(cgroupns_late ? CLONE_NEWCGROUP : 0);
    // The box process's stack grows down from the top; the program's own
    // (until it executes) is the bottom 64 KiB.
    constexpr size_t kProgramStack = size_t{64} * 1024;
    plan.program_stack = out.stacks[1].base();
    plan.program_stack_size = kProgramStack;
    plan.child_stack = static_cast<char*>(out.stacks[1].base()) + kProgramStack;
    plan.child_stack_size = out.stacks[1].size() - kProgramStack;
    plan.sync_wr_fd = sync_wr.get();
    plan.uid_map = userns ? uid_map.c_str() : nullptr;
    plan.gid_map = userns ? gid_map.c_str() : nullptr;
    plan.deny_setgroups = userns && !root;
  }

  int pidfd = -1;
  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  // No exit signal: the host gets no SIGCHLD for boxes, and a host that
  // calls waitpid(-1) (without __WALL) cannot steal the status. (The process
  // cloned here never executes anything in shim mode; an execve would make
  // the kernel switch it to SIGCHLD.)
  args.exit_signal = 0;

  out.start_ns = monotonic_ns();
  long pid;
  int clone_errno = 0;
  {
    SignalBlock block;
#if defined(SBX_HAVE_SHIM)
    if (shim) {
      // Shares memory and the fd table with the host; no namespaces: the
      // box process it clones gets those.
      args.flags = CLONE_PIDFD | CLONE_VM | CLONE_FILES;
      args.stack = reinterpret_cast<uint64_t>(out.stacks[0].base());
      args.stack_size = out.stacks[0].size();
      pid = launch::clone3_shim(&args, &plan);
      if (pid < 0) clone_errno = static_cast<int>(-pid);
    } else
#endif
    {
      args.flags = CLONE_PIDFD |
                   (clone_flags_for(ns) & ~static_cast<unsigned long>(cgroupns_late ? CLONE_NEWCGROUP : 0));
      if (policy.cgroup_dir_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = static_cast<uint64_t>(policy.cgroup_dir_fd);
      }
      pid = syscall(SYS_clone3, &args, sizeof args);
      if (pid == 0) launch::child_main(&plan);  // never returns
      if (pid < 0) clone_errno = errno;
    }
  }
  if (pid < 0) {
    int e = clone_errno;
    std::string msg = "clone3: " + errno_text(e);
    if (e == EPERM && !userns)
      msg += " (namespaces without a user namespace need CAP_SYS_ADMIN; enable SBX_NS_USER)";
    else if (e == EPERM || e == ENOSPC)
      msg += " (user namespaces may be restricted: see 'sbx check')";
    throw Error(SBX_E_SETUP, "clone3", e, msg);
  }
  out.pid = static_cast<pid_t>(pid);
  out.pidfd.reset(pidfd);
  out.shim = shim;

  if (shim) {
    // The shim shares our fd table and closes these itself, each once:
    // closing them here too could close an unrelated fd that reused the
    // number. The stdio ends stay open until the box process has them.
    (void)sync_rd.release();
    (void)err_wr.release();
    (void)status_wr.release();
  } else {
    // The child holds its own copies now. (sync_rd stays open until the
    // release byte is written: with a reader left, a child that died early
    // cannot turn that write into a SIGPIPE for the whole host.)
    err_wr.reset();
    status_wr.reset();
    child_owned.clear();
  }

  auto abort_child = [&]() {
    if (shim) {
      // Kill the box process if it exists; the shim then reaps it and exits.
      if (shared.init_pidfd >= 0) {
        syscall(SYS_pidfd_send_signal, shared.init_pidfd, SIGKILL, nullptr, 0);
        close(shared.init_pidfd);
      }
    } else {
      syscall(SYS_pidfd_send_signal, out.pidfd.get(), SIGKILL, nullptr, 0);
    }
    reap_blocking(out.pidfd.get());
  };

  try {
    if (!shim) {
      if (userns) {
        std::string dir = "/proc/" + std::to_string(pid);
        UniqueFd procdir(open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!procdir) throw_system("uid_map", "open " + dir, errno);
        // The directory fd pins the process: if the child died and the pid
        // was reused before the open, the pidfd says so now.
        if (syscall(SYS_pidfd_send_signal, out.pidfd.get(), 0, nullptr, 0) < 0)
          throw Error(SBX_E_SETUP, "uid_map", errno, "the box process died before its id maps were written");
        if (!root) write_proc_file(procdir.get(), "setgroups", "deny\n");
        write_proc_file(procdir.get(), "uid_map", uid_map);
        write_proc_file(procdir.get(), "gid_map", gid_map);
      }
      // v1 cgroups: placed while it waits, before it runs anything.
      for (int fd : policy.cgroup_procs_fds) {
        std::string num = std::to_string(pid);
        if (write(fd, num.data(), num.size()) < 0) {
          int e = errno;
          throw Error(SBX_E_SETUP, "cgroup", e, "placing the box process in its cgroup: " + errno_text(e));
        }
      }
      char go = 1;
      if (write(sync_wr.get(), &go, 1) != 1) throw_system("sync", "release the box process", errno);
      sync_wr.reset();
      sync_rd.reset();
    }

    // EOF means execve succeeded (the pipe is close-on-exec); a record means
    // a step failed.
    ChildError ce{};
    size_t got = 0;
    bool watch_shim = shim;
    while (got < sizeof ce) {
      if (watch_shim) {
        // The shim holds the error pipe's write end in the fd table it
        // shares with us: if something killed it before it let go, EOF
        // would never come. Watch the shim too.
        struct pollfd fds[2] = {{err_rd.get(), POLLIN, 0}, {out.pidfd.get(), POLLIN, 0}};
        int r = poll(fds, 2, -1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) throw_system("poll", "poll on the error pipe", errno);
        if (!(fds[0].revents & (POLLIN | POLLHUP)) && (fds[1].revents & POLLIN)) {
          // The shim has ended. If it let go of the pipe first, it ended
          // normally (a fast box): EOF may still wait for a concurrent
          // spawn's child, which holds a copy until its first step.
          if (shared.err_closed) {
            watch_shim = false;
            continue;
          }
          {
            // Died holding it: the number is still ours to close.
            close(err_p[1]);
            if (!shared.status_closed) close(status_p[1]);
            if (!shared.sync_closed) close(sync_p[0]);
          }
          throw Error(SBX_E_SETUP, "shim", ESRCH,
                      "the launcher process died before the box started (killed?)");
        }
      }
      ssize_t n = read(err_rd.get(), reinterpret_cast<char*>(&ce) + got, sizeof ce - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    if (got == sizeof ce) {
      auto step = static_cast<Step>(ce.step);
      if (step == Step::kClone || step == Step::kIdMap) {
        std::string msg =
            std::string(step == Step::kClone ? "clone3" : "writing the id maps") + ": " + errno_text(ce.err);
        if (step == Step::kClone && ce.err == EPERM && !userns)
          msg += " (namespaces without a user namespace need CAP_SYS_ADMIN; enable SBX_NS_USER)";
        else if (step == Step::kClone && (ce.err == EPERM || ce.err == ENOSPC))
          msg += " (user namespaces may be restricted: see 'sbx check')";
        throw Error(SBX_E_SETUP, launch::step_name(step), ce.err, msg);
      }
      throw child_error(ce, plan, mp, spec);
    }
    if (got != 0) throw Error(SBX_E_INTERNAL, "error_pipe", 0, "short error record from the box process");
    if (shim) {
      if (shared.init_pidfd < 0) throw Error(SBX_E_INTERNAL, "clone3", 0, "the shim reported no box process");
      out.signal_fd.reset(shared.init_pidfd);
      shared.init_pidfd = -1;
      out.pid = shared.init_pid;  // the box process, not the shim
      sync_wr.reset();
      child_owned.clear();
    }
  } catch (...) {
    abort_child();
    throw;
  }
  return out;
}

}  // namespace sbx
