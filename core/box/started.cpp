// A started box: the supervisor, spawning into it, and its process table.
// See core/launch/supervisor_loop.hpp for the box side and docs/process-model.md.
//
// Locks: mu_ (box state) and table_mu_ (the table) are never held together,
// and neither is held while waiting for the supervisor: its replies and
// events are read on the monitor thread, which takes table_mu_.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/box/box.hpp"
#include "core/box/supervisor_link.hpp"
#include "core/cgroup/cgroup.hpp"
#include "core/common/error.hpp"
#include "core/common/util.hpp"
#include "core/launch/child.hpp"

namespace sbx {

namespace sup = launch::sup;

namespace {

[[noreturn]] void posix_error(int e, const std::string& what) {
  throw Error(SBX_E_PROCESS, "process", e, what + ": " + errno_text(e));
}

int wait_status_of(int code, int status) {
  if (code == CLD_EXITED) return (status & 0xff) << 8;
  if (code == CLD_DUMPED) return (status & 0x7f) | 0x80;
  return status & 0x7f;
}

constexpr uint64_t sigbit(int sig) {
  return 1ull << (sig - 1);
}
constexpr uint64_t kUnholdable = sigbit(SIGKILL) | sigbit(SIGSTOP) | sigbit(SIGCONT);

std::string command_of(const ProcSpec& spec) {
  std::string c;
  for (const auto& a : spec.argv) {
    if (!c.empty()) c += ' ';
    c += a;
    if (c.size() >= 127) break;
  }
  return c.substr(0, 127);
}

// The innermost value of an "NSxxx:" line of /proc/PID/status: the one the
// box sees.
bool ns_field(const std::string& status, const char* key, int* out) {
  size_t at = status.find(std::string("\n") + key);
  if (at == std::string::npos) return false;
  size_t end = status.find('\n', at + 1);
  std::string line = status.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1);
  size_t sp = line.find_last_of(" \t");
  if (sp == std::string::npos) return false;
  *out = atoi(line.c_str() + sp + 1);
  return true;
}

}  // namespace

void Box::ensure_started(const char* what) {
  std::lock_guard<std::mutex> lk(mu_);
  if (!started_)
    throw Error(SBX_E_STATE, "state", 0,
                std::string(what) + ": the box was not started (sbx_box_start); its state is " +
                    sbx_box_state_name(state_));
}

// ------------------------------------------------------------ lifecycle

void Box::start() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (spawning_ || state_ != SBX_BOX_CONFIGURED)
      throw Error(SBX_E_STATE, "state", 0,
                  std::string("cannot start: the box is ") +
                      sbx_box_state_name(spawning_ ? SBX_BOX_RUNNING : state_) +
                      " (only a configured box starts)");
    if ((cfg_.cfg.namespaces & SBX_NS_PID) == 0)
      throw Error(SBX_E_UNSUPPORTED, "start", 0,
                  "a started box needs the pid namespace (SBX_NS_PID): its supervisor is pid 1");
    spawning_ = true;
  }
  try {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
      throw_system("socketpair", "control socket of the box", errno);
    UniqueFd host_end(sv[0]), box_end(sv[1]);
    (void)fcntl(host_end.get(), F_SETFL, O_NONBLOCK);
    // The seccomp program reaches the supervisor as a sealed memfd.
    UniqueFd filter;
    if (policy_.seccomp != nullptr && !policy_.seccomp->empty()) {
      filter.reset(memfd_create("sbx-seccomp", MFD_CLOEXEC | MFD_ALLOW_SEALING));
      if (!filter) throw_system("seccomp", "memfd for the seccomp program", errno);
      const size_t bytes = policy_.seccomp->size() * sizeof(struct sock_filter);
      const char* data = reinterpret_cast<const char*>(policy_.seccomp->data());
      size_t off = 0;
      while (off < bytes) {
        ssize_t n = write(filter.get(), data + off, bytes - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw_system("seccomp", "write the seccomp program", errno);
        off += static_cast<size_t>(n);
      }
      (void)fcntl(filter.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    }
    ProcSpec sp;
    const char* argv[] = {"sbx-init"};
    sp.set_argv(1, argv);
    for (int i = 0; i < 3; ++i) sp.set_stdio(i, SBX_STDIO_NULL, nullptr, -1);
    SupervisorLaunch sl;
    sl.ctrl_fd = box_end.get();
    sl.seccomp_fd = filter.get();
    sl.seccomp_self = seccomp_default_;
    Launched l = launch_process(cfg_, sp, policy_, &sl);
    box_end.reset();
    filter.reset();
    auto init = std::make_shared<Process>(std::move(l));
    auto link = std::make_shared<SupervisorLink>(
        std::move(host_end), [this](const sup::Msg& m) { on_supervisor_event(m); },
        [this] { on_supervisor_closed(); });
    link->start();
    // The identity the supervisor runs as (and spawns get by default).
    const bool userns = (cfg_.cfg.namespaces & SBX_NS_USER) != 0;
    box_uid_ = userns ? 1000 : (geteuid() == 0 ? 65534 : getuid());
    box_gid_ = userns ? 1000 : (geteuid() == 0 ? 65534 : getgid());
    {
      std::lock_guard<std::mutex> lk(mu_);
      init_ = std::move(init);
      link_ = std::move(link);
      started_ = true;
      state_ = SBX_BOX_RUNNING;
      spawning_ = false;
    }
    const BoxLimits& lim = cfg_.cfg.limits;
    if (lim.timeout_ms != 0) {
      Reactor::Id id = Reactor::instance().schedule(monotonic_ns() + lim.timeout_ms * 1000000ull,
                                                    [this] { on_box_deadline(); });
      std::lock_guard<std::mutex> lk(mu_);
      box_deadline_ = id;
    }
    if (lim.cpu_time_ms != 0) {
      for (auto& r : report_)
        if (r.name == "cpu-time") {
          r.state = SBX_DEGRADED;
          r.detail =
              "a started box enforces CPU time per process only (RLIMIT_CPU); the box-wide check of the "
              "cgroup's accounting applies to a box that runs one program";
        }
    }
  } catch (const Error& e) {
    std::lock_guard<std::mutex> lk(mu_);
    spawning_ = false;
    if (e.code() != SBX_E_INVALID) state_ = SBX_BOX_FAILED;
    throw;
  } catch (...) {
    std::lock_guard<std::mutex> lk(mu_);
    spawning_ = false;
    state_ = SBX_BOX_FAILED;
    throw;
  }
}

void Box::kill_via_supervisor(int target, int sig) {
  std::shared_ptr<SupervisorLink> link;
  {
    std::lock_guard<std::mutex> lk(mu_);
    link = link_;
  }
  if (!link) throw Error(SBX_E_STATE, "state", ESRCH, "the box's supervisor has ended");
  sup::Msg m{};
  m.type = sup::kKill;
  m.a = target;
  m.b = sig;
  if (Reactor::instance().on_monitor_thread()) {
    link->post(m);
    return;
  }
  sup::Msg r = link->call(m, nullptr, 0, nullptr);
  // ESRCH: the group has only exited members left (the kernel has already
  // forgotten it; for POSIX a group of zombies still takes the signal).
  if (r.a < 0 && r.a != -ESRCH) posix_error(-r.a, "kill");
}

void Box::signal_everything(int sig) {
  {
    std::lock_guard<std::mutex> lk(table_mu_);
    for (auto& kv : table_)
      if (kv.second.state != SBX_PROC_ZOMBIE)
        if (auto p = kv.second.proc.lock()) p->note_signal_sent(sig);
  }
  kill_via_supervisor(-1, sig);
}

bool Box::wait_all_exited(uint64_t deadline_ns) {
  std::unique_lock<std::mutex> lk(table_mu_);
  for (;;) {
    bool all = true;
    for (auto& kv : table_)
      if (kv.second.state != SBX_PROC_ZOMBIE) all = false;
    if (all || supervisor_gone_) return true;
    uint64_t now = monotonic_ns();
    if (now >= deadline_ns) return false;
    table_cv_.wait_for(lk, std::chrono::nanoseconds(deadline_ns - now));
  }
}

void Box::terminate_all(int grace_ms) {
  ensure_started("terminate-all");
  {
    std::unique_lock<std::mutex> lk(mu_);
    if (state_ == SBX_BOX_PAUSED)
      throw Error(SBX_E_STATE, "state", 0, "cannot terminate the processes of a paused box: resume it first");
    if (state_ != SBX_BOX_RUNNING && state_ != SBX_BOX_STOPPING)
      throw Error(SBX_E_STATE, "state", 0,
                  std::string("cannot terminate: the box is ") + sbx_box_state_name(state_));
  }
  if (grace_ms < -1) throw_invalid("grace_ms", "must be -1 (the box's kill grace) or >= 0");
  const uint64_t grace = grace_ms < 0 ? cfg_.cfg.limits.kill_grace_ms : static_cast<uint64_t>(grace_ms);
  if (grace > 0) {
    signal_everything(SIGTERM);
    if (wait_all_exited(monotonic_ns() + grace * 1000000ull)) return;
  }
  signal_everything(SIGKILL);
  wait_all_exited(monotonic_ns() + 30000000000ull);
}

void Box::stop(int grace_ms) {
  if (grace_ms < -1) throw_invalid("grace_ms", "must be -1 (the box's kill grace) or >= 0");
  std::shared_ptr<Process> one;
  bool was_paused = false;
  Reactor::Id deadline;
  {
    std::unique_lock<std::mutex> lk(mu_);
    if (state_ == SBX_BOX_STOPPED) return;
    if (state_ == SBX_BOX_CONFIGURED || state_ == SBX_BOX_FAILED)
      throw Error(SBX_E_STATE, "state", 0,
                  std::string("cannot stop: the box is ") + sbx_box_state_name(state_) + " (it never ran)");
    if (stop_called_) throw Error(SBX_E_STATE, "state", 0, "the box is already being stopped");
    stop_called_ = true;
    was_paused = state_ == SBX_BOX_PAUSED;
    state_ = SBX_BOX_STOPPING;
    no_timers_ = true;  // a running deadline callback schedules nothing more
    deadline = std::exchange(box_deadline_, 0);
    // New spawns fail from here on; wait for those in flight to register.
    spawn_cv_.wait(lk, [&] { return inflight_spawns_ == 0; });
    one = proc_;
  }
  if (deadline != 0) Reactor::instance().cancel(deadline);  // waits for a running callback
  Reactor::Id grace_timer;
  {
    std::lock_guard<std::mutex> lk(mu_);
    grace_timer = std::exchange(box_grace_, 0);
  }
  if (grace_timer != 0) Reactor::instance().cancel(grace_timer);
  const uint64_t grace = grace_ms < 0 ? cfg_.cfg.limits.kill_grace_ms : static_cast<uint64_t>(grace_ms);
  if (!started_) {
    // A box running one program: the same sequence on its tree.
    if (one) {
      if (was_paused) one->set_paused(false);
      ExitRecord rec;
      if (grace > 0) {
        one->note_signal_sent(SIGTERM);
        one->signal_tree(SIGTERM);
        if (one->wait(static_cast<int>(std::min<uint64_t>(grace, 1u << 30)), &rec) == SBX_OK) {
          std::lock_guard<std::mutex> lk(mu_);
          state_ = SBX_BOX_STOPPED;
          return;
        }
      }
      one->note_signal_sent(SIGKILL);
      one->signal_tree(SIGKILL);
      one->wait(-1, &rec);
    }
    std::lock_guard<std::mutex> lk(mu_);
    state_ = SBX_BOX_STOPPED;
    return;
  }
  if (was_paused) {
    if (frozen_ && cgroup_) {
      try {
        cgroup_->thaw();
      } catch (const Error&) {
      }
      frozen_ = false;
    }
  }
  try {
    if (grace > 0 && !supervisor_gone_) {
      signal_everything(SIGTERM);
      if (was_paused) kill_via_supervisor(-1, SIGCONT);  // stopped processes must see the SIGTERM
      wait_all_exited(monotonic_ns() + grace * 1000000ull);
    }
    if (!supervisor_gone_) {
      signal_everything(SIGKILL);
      wait_all_exited(monotonic_ns() + 30000000000ull);
    }
  } catch (const Error&) {
    // The supervisor went away meanwhile: it took everything with it.
  }
  std::shared_ptr<SupervisorLink> link;
  std::shared_ptr<Process> init;
  {
    std::lock_guard<std::mutex> lk(mu_);
    link = link_;
    init = init_;
  }
  if (link) link->close();  // the supervisor kills what is left, reaps and exits
  on_supervisor_closed();   // anything still unreported died with it
  if (init) {
    ExitRecord rec;
    init->wait(-1, &rec);
  }
  std::lock_guard<std::mutex> lk(mu_);
  state_ = SBX_BOX_STOPPED;
}

// The box's wall-clock limit (monitor thread): SIGTERM, grace, SIGKILL,
// then the supervisor ends once every exit has been reported.
void Box::on_box_deadline() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    box_deadline_ = 0;
    if (no_timers_ || (state_ != SBX_BOX_RUNNING && state_ != SBX_BOX_PAUSED)) return;
    if (frozen_ && cgroup_) {
      try {
        cgroup_->thaw();
      } catch (const Error&) {
      }
      frozen_ = false;
    }
    state_ = SBX_BOX_STOPPING;
  }
  {
    std::lock_guard<std::mutex> lk(table_mu_);
    box_hits_ |= SBX_HIT_TIMEOUT;
    for (auto& kv : table_)
      if (auto p = kv.second.proc.lock()) p->note_hit(SBX_HIT_TIMEOUT);
  }
  const uint64_t grace = cfg_.cfg.limits.kill_grace_ms;
  if (grace > 0) kill_via_supervisor(-1, SIGTERM);
  std::lock_guard<std::mutex> guard(mu_);
  if (no_timers_) return;
  box_grace_ = Reactor::instance().schedule(monotonic_ns() + grace * 1000000ull, [this] {
    {
      std::lock_guard<std::mutex> lk(mu_);
      box_grace_ = 0;
      if (no_timers_) return;
    }
    kill_via_supervisor(-1, SIGKILL);
    bool all = true;
    {
      std::lock_guard<std::mutex> lk(table_mu_);
      for (auto& kv : table_)
        if (kv.second.state != SBX_PROC_ZOMBIE) all = false;
      // Otherwise on_supervisor_event ends the supervisor once every exit
      // has been reported.
      timeout_closing_ = !all;
    }
    if (all) {
      std::shared_ptr<SupervisorLink> link;
      {
        std::lock_guard<std::mutex> lk(mu_);
        link = link_;
        state_ = SBX_BOX_STOPPED;
      }
      if (link) link->close();
      on_supervisor_closed();
    }
  });
}

// ------------------------------------------------------------ events

void Box::on_supervisor_event(const sup::Msg& m) {
  std::shared_ptr<Process> deliver;
  bool close_now = false;
  {
    std::lock_guard<std::mutex> lk(table_mu_);
    if (m.type == sup::kSpawnReply) {
      // Registered before the spawning thread wakes up: no event can miss it.
      Entry e;
      e.pid = m.a;
      e.pgid = m.c;
      e.sid = m.d;
      e.host_pid = static_cast<int>(m.x[0]);
      table_[m.a] = std::move(e);
      return;
    }
    auto it = table_.find(m.a);
    if (it == table_.end()) return;  // not spawned through sbx (an orphan the supervisor reaped)
    Entry& e = it->second;
    // An entry that has exited keeps its status: an event for the same pid
    // can only be about another process the box forked after the pid was
    // reused (its orphans are the supervisor's children too).
    if (e.state == SBX_PROC_ZOMBIE) return;
    switch (m.b) {
      case CLD_EXITED:
      case CLD_KILLED:
      case CLD_DUMPED:
        e.state = SBX_PROC_ZOMBIE;
        e.wait_status = wait_status_of(m.b, m.c);
        e.code = m.b;
        e.status = m.c;
        e.utime_us = m.x[0];
        e.stime_us = m.x[1];
        e.maxrss_kb = m.x[2];
        e.exit_ns = monotonic_ns();
        e.stop_unreported = e.cont_unreported = false;
        e.pending = 0;
        e.pidfd.reset();
        // The handle's record is final before the table shows the exit:
        // a waitpid that reports it is never ahead of sbx_proc_wait.
        if (e.registered) deliver = e.proc.lock();
        if (deliver) deliver->deliver_status(e.code, e.status, e.utime_us, e.stime_us, e.maxrss_kb, false);
        break;
      case CLD_STOPPED:
        if (e.state == SBX_PROC_ZOMBIE) break;
        e.state = SBX_PROC_STOPPED;
        e.stop_sig = m.c;
        e.stop_unreported = true;
        e.cont_unreported = false;
        break;
      case CLD_CONTINUED:
        if (e.state == SBX_PROC_ZOMBIE) break;
        e.state = SBX_PROC_RUNNING;
        e.cont_unreported = true;
        e.stop_unreported = false;
        break;
      default:
        break;
    }
    table_cv_.notify_all();
    if (timeout_closing_) {
      bool all = true;
      for (auto& kv : table_)
        if (kv.second.state != SBX_PROC_ZOMBIE) all = false;
      if (all) {
        timeout_closing_ = false;
        close_now = true;
      }
    }
  }
  if (deliver) deliver->fire_exit();
  if (close_now) {
    std::shared_ptr<SupervisorLink> link;
    {
      std::lock_guard<std::mutex> lk(mu_);
      link = link_;
      state_ = SBX_BOX_STOPPED;
    }
    if (link) link->close();  // from a callback of its own watch: does not wait for itself
    on_supervisor_closed();
  }
}

// The supervisor has gone (unasked, or after close): the kernel killed
// every process of the box with it.
void Box::on_supervisor_closed() {
  std::vector<std::shared_ptr<Process>> lost;
  {
    std::lock_guard<std::mutex> lk(table_mu_);
    supervisor_gone_ = true;
    for (auto& kv : table_) {
      Entry& e = kv.second;
      if (e.state == SBX_PROC_ZOMBIE) continue;
      e.state = SBX_PROC_ZOMBIE;
      e.code = CLD_KILLED;
      e.status = SIGKILL;
      e.wait_status = SIGKILL;
      e.exit_ns = monotonic_ns();
      e.pidfd.reset();
      if (auto p = e.proc.lock()) {
        p->deliver_lost(false);
        lost.push_back(std::move(p));
      }
    }
    table_cv_.notify_all();
  }
  for (auto& p : lost) p->fire_exit();
  std::lock_guard<std::mutex> lk(mu_);
  if (state_ == SBX_BOX_RUNNING || state_ == SBX_BOX_PAUSED) state_ = SBX_BOX_STOPPED;
}

// ------------------------------------------------------------ spawning

std::shared_ptr<Process> Box::spawn_supervised(const ProcSpec& spec) {
  spec.validate();
  std::shared_ptr<SupervisorLink> link;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (state_ != SBX_BOX_RUNNING)
      throw Error(SBX_E_STATE, "state", 0,
                  std::string("cannot spawn: the box is ") + sbx_box_state_name(state_) +
                      (state_ == SBX_BOX_PAUSED ? " (resume it first)" : ""));
    link = link_;
    ++inflight_spawns_;
  }
  struct Inflight {
    Box* box;
    ~Inflight() {
      std::lock_guard<std::mutex> lk(box->mu_);
      if (--box->inflight_spawns_ == 0) box->spawn_cv_.notify_all();
    }
  } inflight{this};

  // The payload: head, argv and env offsets, strings.
  std::vector<std::string> env = spec.build_env();
  sup::SpawnHead head;
  memset(&head, 0, sizeof head);
  head.magic = sup::kMagic;
  head.flags = spec.pty ? sup::kPgroupSession : static_cast<uint32_t>(spec.pgroup_mode);
  if (spec.pty) head.flags |= sup::kControllingTty;
  head.pgid = spec.pgroup_id;
  head.uid = spec.user ? spec.user->first : box_uid_;
  head.gid = spec.user ? spec.user->second : box_gid_;
  Launched l;
  std::vector<launch::RlimitOp> rl = merge_rlimits(policy_, spec, &l.cpu_rlimit_hard_s);
  if (rl.size() > sup::kMaxRlimits) throw_invalid("rlimit", "too many rlimits");
  head.n_rlimits = static_cast<uint32_t>(rl.size());
  for (size_t i = 0; i < rl.size(); ++i) {
    head.rlimits[i].resource = rl[i].resource;
    head.rlimits[i].soft = rl[i].soft;
    head.rlimits[i].hard = rl[i].hard;
  }
  if (3 + spec.preserve_fds.size() > sup::kMaxFds)
    throw_invalid("preserve_fd", "a process spawned into a started box keeps at most " +
                                     std::to_string(sup::kMaxFds - 3) + " preserved fds");
  head.argc = static_cast<uint32_t>(spec.argv.size());
  head.envc = static_cast<uint32_t>(env.size());
  std::string strings;
  const size_t arrays = sizeof head + (spec.argv.size() + env.size() + 2) * sizeof(uint64_t);
  auto add = [&](const std::string& str) {
    uint64_t off = arrays + strings.size();
    strings.append(str);
    strings.push_back('\0');
    return off;
  };
  std::vector<uint64_t> offs;
  for (const auto& a : spec.argv) offs.push_back(add(a));
  offs.push_back(0);
  for (const auto& e : env) offs.push_back(add(e));
  offs.push_back(0);
  head.cwd_off = add(spec.cwd);
  for (const auto& e : env)
    if (e.compare(0, 5, "PATH=") == 0) head.path_off = add(e.substr(5));
  head.total = arrays + strings.size();
  UniqueFd memfd(memfd_create("sbx-spawn", MFD_CLOEXEC));
  if (!memfd) throw_system("spawn", "memfd for the spawn request", errno);
  {
    std::string buf(reinterpret_cast<const char*>(&head), sizeof head);
    buf.append(reinterpret_cast<const char*>(offs.data()), offs.size() * sizeof(uint64_t));
    buf += strings;
    size_t off = 0;
    while (off < buf.size()) {
      ssize_t n = write(memfd.get(), buf.data() + off, buf.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw_system("spawn", "write the spawn request", errno);
      off += static_cast<size_t>(n);
    }
  }

  // The fds: the request, stdio 0..2, then the preserved fds.
  std::vector<UniqueFd> child_owned;
  int src[3] = {-1, -1, -1};
  prepare_stdio(spec, &l, &child_owned, src);
  UniqueFd devnull;
  std::vector<int> fds = {memfd.get()};
  for (int i = 0; i < 3; ++i) {
    if (src[i] < 0) {
      if (!devnull) devnull.reset(open("/dev/null", O_RDWR | O_CLOEXEC));
      if (!devnull) throw_system("stdio", "open /dev/null", errno);
      src[i] = devnull.get();
    }
    fds.push_back(src[i]);
    head.fd_target[i] = i;
  }
  for (size_t i = 0; i < spec.preserve_fds.size(); ++i) {
    if (fcntl(spec.preserve_fds[i], F_GETFD) < 0)
      throw Error(SBX_E_INVALID, "preserve_fd", EBADF,
                  "preserved fd " + std::to_string(spec.preserve_fds[i]) + " is not open");
    fds.push_back(spec.preserve_fds[i]);
    head.fd_target[3 + i] = spec.preserve_fds[i];
  }
  head.n_fds = static_cast<uint32_t>(fds.size() - 1);
  if (pwrite(memfd.get(), &head, sizeof head, 0) != static_cast<ssize_t>(sizeof head))
    throw_system("spawn", "write the spawn request", errno);

  sup::Msg req{};
  req.type = sup::kSpawn;
  UniqueFd pidfd;
  const uint64_t start_ns = monotonic_ns();
  sup::Msg rep = link->call(req, fds.data(), fds.size(), &pidfd);
  child_owned.clear();
  if (rep.a < 0) {
    const int e = -rep.a;
    const auto step = static_cast<launch::Step>(rep.b);
    switch (step) {
      case launch::Step::kExec:
        throw Error(e == ENOENT || e == ENOTDIR ? SBX_E_NOTFOUND : SBX_E_EXEC, "execve", e,
                    "execve " + spec.argv[0] + ": " + errno_text(e));
      case launch::Step::kChdir:
        throw Error(SBX_E_SETUP, "chdir", e, "chdir " + spec.cwd + ": " + errno_text(e));
      case launch::Step::kSetpgid:
        throw Error(
            SBX_E_SETUP, "setpgid", e,
            (spec.pgroup_mode == SBX_PGROUP_JOIN ? "joining process group " + std::to_string(spec.pgroup_id)
                                                 : std::string("a new process group or session")) +
                ": " + errno_text(e) + (e == EPERM ? " (no such group in the box init's session)" : ""));
      case launch::Step::kSetuid:
      case launch::Step::kSetgid:
        throw Error(SBX_E_SETUP, launch::step_name(step), e,
                    std::string(launch::step_name(step)) + ": " + errno_text(e) + " (uid " +
                        std::to_string(head.uid) + " / gid " + std::to_string(head.gid) +
                        " is not the box's identity " + std::to_string(box_uid_) + ":" +
                        std::to_string(box_gid_) + ", the only one mapped in its user namespace)");
      default:
        throw Error(SBX_E_SETUP, launch::step_name(step), e,
                    std::string(launch::step_name(step)) + ": " + errno_text(e));
    }
  }
  if (!pidfd) throw Error(SBX_E_INTERNAL, "spawn", 0, "the supervisor sent no pidfd");
  const int box_pid = rep.a;
  const int pgid = rep.c;
  // From here the process runs: whatever fails must not leave it behind.
  struct Register {
    Box* box;
    int pid;
    int pidfd;
    bool ok = false;
    ~Register() {
      if (ok) return;
      syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
      std::lock_guard<std::mutex> lk(box->table_mu_);
      auto it = box->table_.find(pid);
      if (it != box->table_.end()) it->second.registered = true;  // a plain zombie from now on
    }
  } reg{this, box_pid, pidfd.get()};

  auto shared_pidfd = std::make_shared<UniqueFd>(fcntl(pidfd.get(), F_DUPFD_CLOEXEC, 3));
  if (!*shared_pidfd) throw_system("spawn", "dup of a pidfd", errno);
  l.pidfd = std::move(pidfd);
  l.pid = 0;  // from the table entry below (read when the reply arrived)
  l.supervised = true;
  l.box_pid = box_pid;
  l.start_ns = start_ns;
  ProcessLimits pl;
  pl.timeout_ms = spec.timeout_ms;
  pl.kill_grace_ms = cfg_.cfg.limits.kill_grace_ms;
  pl.seccomp_kills = seccomp_kills_;
  // A time limit ends the process's group (it leads one unless it joined
  // another: then the process alone).
  std::weak_ptr<SupervisorLink> weak_link = link;
  const int target = pgid == box_pid ? -box_pid : box_pid;
  pl.tree_signal = [weak_link, target](int sig) {
    if (auto k = weak_link.lock()) {
      sup::Msg m{};
      m.type = sup::kKill;
      m.a = target;
      m.b = sig;
      k->post(m);
    }
  };
  ProcessIo io;
  for (int i = 0; i < 3; ++i) io.capture[i] = spec.captures(i);
  io.on_output = spec.on_output;
  io.on_exit = spec.on_exit;
  io.output_limit = spec.output_limit;
  io.output_limit_kill = spec.output_limit_kill;
  {
    std::lock_guard<std::mutex> lk(table_mu_);
    auto it = table_.find(box_pid);
    if (it != table_.end()) l.pid = it->second.host_pid;
  }
  auto p = std::make_shared<Process>(std::move(l), std::move(pl), std::move(io));
  p->arm_limits();
  p->start_io();
  bool ended = false;
  {
    std::lock_guard<std::mutex> lk(table_mu_);
    auto it = table_.find(box_pid);
    if (it == table_.end())
      throw Error(SBX_E_INTERNAL, "spawn", 0, "the spawned process is not in the table");
    Entry& e = it->second;
    e.registered = true;
    e.proc = p;
    e.command = command_of(spec);
    if (box_hits_ & SBX_HIT_TIMEOUT) p->note_hit(SBX_HIT_TIMEOUT);
    if (e.state != SBX_PROC_ZOMBIE) e.pidfd = shared_pidfd;
    if (e.state == SBX_PROC_ZOMBIE) {
      ended = true;
      p->deliver_status(e.code, e.status, e.utime_us, e.stime_us, e.maxrss_kb, false);
    }
    table_cv_.notify_all();
  }
  reg.ok = true;
  if (ended) p->fire_exit();
  return p;
}

// ------------------------------------------------------------ the table

void Box::purge_zombies_locked() {
  const uint64_t ttl_ns = cfg_.cfg.limits.zombie_ttl_ms * 1000000ull;
  const uint64_t now = monotonic_ns();
  for (auto it = table_.begin(); it != table_.end();) {
    const Entry& e = it->second;
    if (e.registered && e.state == SBX_PROC_ZOMBIE && now - e.exit_ns >= ttl_ns)
      it = table_.erase(it);
    else
      ++it;
  }
}

Box::Entry* Box::find_locked(int pid) {
  auto it = table_.find(pid);
  if (it == table_.end() || !it->second.registered) return nullptr;
  return &it->second;
}

void Box::refresh_ids_locked(Entry& e) {
  if (e.state == SBX_PROC_ZOMBIE || !e.pidfd || e.host_pid <= 0) return;
  std::string st;
  if (!read_small_file("/proc/" + std::to_string(e.host_pid) + "/status", &st)) return;
  int pgid = 0, sid = 0;
  if (!ns_field(st, "NSpgid:", &pgid) || !ns_field(st, "NSsid:", &sid)) return;
  // The pid may have been reused after the read began: trust it only if the
  // pidfd still names a live process (it was not reaped: no event yet).
  if (syscall(SYS_pidfd_send_signal, e.pidfd->get(), 0, nullptr, 0) < 0) return;
  e.pgid = pgid;
  e.sid = sid;
}

void Box::send_signal_locked(Entry& e, int sig) {
  if (sig == 0 || e.state == SBX_PROC_ZOMBIE) return;
  if ((e.held & sigbit(sig)) != 0) {
    e.pending |= sigbit(sig);
    return;
  }
  if (e.pidfd && syscall(SYS_pidfd_send_signal, e.pidfd->get(), sig, nullptr, 0) < 0 && errno != ESRCH)
    posix_error(errno, "kill " + std::to_string(e.pid));
  if (auto p = e.proc.lock()) p->note_signal_sent(sig);
}

void Box::signal(int pid, int sig) {
  ensure_started("kill");
  if (sig < 0 || sig > 64) posix_error(EINVAL, "kill: " + std::to_string(sig) + " is not a valid signal");
  bool paused;
  {
    std::lock_guard<std::mutex> lk(mu_);
    paused = frozen_;
  }
  {
    std::lock_guard<std::mutex> lk(table_mu_);
    purge_zombies_locked();
    if (pid > 0) {
      Entry* e = find_locked(pid);
      if (e == nullptr) posix_error(ESRCH, "kill " + std::to_string(pid));
      send_signal_locked(*e, sig);
      return;
    }
    const int group = pid == 0 ? 1 : -pid;
    std::vector<Entry*> members;
    for (auto& kv : table_) {
      if (!kv.second.registered) continue;
      if (pid == -1 || kv.second.pgid == group) members.push_back(&kv.second);
    }
    if (members.empty())
      posix_error(ESRCH, pid == -1 ? std::string("kill -1: no process") : "kill " + std::to_string(pid));
    if (sig == 0) return;
    bool held = false, live = false;
    for (Entry* e : members)
      if (e->state != SBX_PROC_ZOMBIE) {
        live = true;
        if (e->held & sigbit(sig)) held = true;
      }
    if (!live) return;  // a group of zombies takes the signal and ignores it
    if (held || paused) {
      // Per member, so that the held ones keep it pending (and a frozen
      // supervisor is not needed).
      for (Entry* e : members) send_signal_locked(*e, sig);
      return;
    }
    for (Entry* e : members)
      if (e->state != SBX_PROC_ZOMBIE)
        if (auto p = e->proc.lock()) p->note_signal_sent(sig);
  }
  // The kernel's kill(2) in the box: reaches every member of the group,
  // those the programs started themselves included.
  kill_via_supervisor(pid == 0 ? 0 : pid, sig);
}

int Box::waitpid(int pid, int options, int timeout_ms, int* status) {
  ensure_started("waitpid");
  if ((options & ~(SBX_WNOHANG | SBX_WUNTRACED | SBX_WCONTINUED)) != 0)
    posix_error(EINVAL, "waitpid: unknown option bits " + std::to_string(options));
  if (timeout_ms < -1) throw_invalid("timeout_ms", "must be -1 (forever), 0 (poll) or positive");
  const uint64_t deadline =
      timeout_ms < 0 ? 0 : monotonic_ns() + static_cast<uint64_t>(timeout_ms) * 1000000ull;
  std::unique_lock<std::mutex> lk(table_mu_);
  const uint64_t gen = table_interrupt_gen_;
  // Expired zombies go before the search, never while waiting: an exit this
  // call is waiting for is reported to it whatever the TTL.
  purge_zombies_locked();
  for (;;) {
    bool any = false;
    for (auto& kv : table_) {
      Entry& e = kv.second;
      if (!e.registered) continue;
      bool match =
          pid == -1 || (pid > 0 && e.pid == pid) || (pid == 0 && e.pgid == 1) || (pid < -1 && e.pgid == -pid);
      if (!match) continue;
      any = true;
      if (e.state == SBX_PROC_ZOMBIE) {
        *status = e.wait_status;
        int r = e.pid;
        table_.erase(kv.first);
        return r;
      }
      if ((options & SBX_WUNTRACED) && e.stop_unreported) {
        e.stop_unreported = false;
        *status = ((e.stop_sig & 0xff) << 8) | 0x7f;
        return e.pid;
      }
      if ((options & SBX_WCONTINUED) && e.cont_unreported) {
        e.cont_unreported = false;
        *status = 0xffff;
        return e.pid;
      }
    }
    if (!any) posix_error(ECHILD, "waitpid " + std::to_string(pid));
    if (options & SBX_WNOHANG) return 0;
    if (table_interrupt_gen_ != gen) return SBX_E_INTERRUPTED;
    if (timeout_ms < 0) {
      table_cv_.wait(lk);
    } else {
      uint64_t now = monotonic_ns();
      if (now >= deadline) return SBX_E_TIMEOUT;
      table_cv_.wait_for(lk, std::chrono::nanoseconds(deadline - now));
    }
    if (table_interrupt_gen_ != gen) return SBX_E_INTERRUPTED;
  }
}

void Box::setpgid(int pid, int pgid) {
  ensure_started("setpgid");
  if (pgid < 0) posix_error(EINVAL, "setpgid: negative group " + std::to_string(pgid));
  if (pid < 0) posix_error(EINVAL, "setpgid: negative pid " + std::to_string(pid));
  if (pid == 0) posix_error(EPERM, "setpgid 0: the box init leads its session");
  {
    std::lock_guard<std::mutex> lk(table_mu_);
    purge_zombies_locked();
    Entry* e = find_locked(pid);
    if (e == nullptr || e->state == SBX_PROC_ZOMBIE) posix_error(ESRCH, "setpgid " + std::to_string(pid));
  }
  std::shared_ptr<SupervisorLink> link;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (frozen_) throw Error(SBX_E_STATE, "state", 0, "setpgid: the box is paused");
    link = link_;
  }
  sup::Msg m{};
  m.type = sup::kSetpgid;
  m.a = pid;
  m.b = pgid == 0 ? pid : pgid;
  sup::Msg r = link->call(m, nullptr, 0, nullptr);
  if (r.a < 0) posix_error(-r.a, "setpgid " + std::to_string(pid) + " " + std::to_string(pgid));
  std::lock_guard<std::mutex> lk(table_mu_);
  if (Entry* e = find_locked(pid)) e->pgid = m.b;
}

void Box::setsid(int pid) {
  ensure_started("setsid");
  if (pid == 0) posix_error(EPERM, "setsid 0: the box init leads its process group");
  std::lock_guard<std::mutex> lk(table_mu_);
  purge_zombies_locked();
  Entry* e = find_locked(pid);
  if (e == nullptr || e->state == SBX_PROC_ZOMBIE) posix_error(ESRCH, "setsid " + std::to_string(pid));
  refresh_ids_locked(*e);
  if (e->pgid == e->pid) posix_error(EPERM, "setsid " + std::to_string(pid) + ": it leads a process group");
  throw Error(SBX_E_UNSUPPORTED, "setsid", 0,
              "setsid " + std::to_string(pid) +
                  ": a running program's session can only be changed by the program itself (choose "
                  "SBX_PGROUP_NEW_SESSION at spawn)");
}

int Box::ids_of(int pid, bool session) {
  const char* what = session ? "getsid" : "getpgid";
  ensure_started(what);
  if (pid < 0) posix_error(ESRCH, std::string(what) + " " + std::to_string(pid));
  if (pid == 0) return 1;  // the box init leads session 1 and group 1
  std::lock_guard<std::mutex> lk(table_mu_);
  purge_zombies_locked();
  Entry* e = find_locked(pid);
  if (e == nullptr) posix_error(ESRCH, std::string(what) + " " + std::to_string(pid));
  refresh_ids_locked(*e);
  return session ? e->sid : e->pgid;
}

uint64_t Box::hold_signals(int pid, int how, uint64_t set) {
  ensure_started("sigmask");
  if (how != SBX_SIG_BLOCK && how != SBX_SIG_UNBLOCK && how != SBX_SIG_SETMASK)
    posix_error(EINVAL, "sigmask: HOW must be SBX_SIG_BLOCK, SBX_SIG_UNBLOCK or SBX_SIG_SETMASK");
  set &= ~kUnholdable;
  std::lock_guard<std::mutex> lk(table_mu_);
  purge_zombies_locked();
  Entry* e = find_locked(pid);
  if (e == nullptr || e->state == SBX_PROC_ZOMBIE) posix_error(ESRCH, "sigmask " + std::to_string(pid));
  const uint64_t old = e->held;
  if (how == SBX_SIG_BLOCK)
    e->held |= set;
  else if (how == SBX_SIG_UNBLOCK)
    e->held &= ~set;
  else
    e->held = set;
  // Released signals are delivered now, lowest number first.
  uint64_t release = e->pending & ~e->held;
  e->pending &= e->held;
  for (int sig = 1; sig <= 64 && release != 0; ++sig)
    if (release & sigbit(sig)) {
      release &= ~sigbit(sig);
      send_signal_locked(*e, sig);
    }
  return old;
}

uint64_t Box::sigpending(int pid) {
  ensure_started("sigpending");
  std::lock_guard<std::mutex> lk(table_mu_);
  purge_zombies_locked();
  Entry* e = find_locked(pid);
  if (e == nullptr) posix_error(ESRCH, "sigpending " + std::to_string(pid));
  return e->pending;
}

std::vector<int> Box::list() {
  ensure_started("list");
  std::lock_guard<std::mutex> lk(table_mu_);
  purge_zombies_locked();
  std::vector<int> out;
  for (auto& kv : table_)
    if (kv.second.registered) out.push_back(kv.first);
  return out;
}

void Box::proc_info(int pid, sbx_proc_info* out) {
  ensure_started("proc_info");
  sbx_proc_info info;
  memset(&info, 0, sizeof info);
  {
    std::lock_guard<std::mutex> lk(table_mu_);
    purge_zombies_locked();
    Entry* e = find_locked(pid);
    if (e == nullptr) posix_error(ESRCH, "process " + std::to_string(pid));
    refresh_ids_locked(*e);
    info.pid = e->pid;
    info.ppid = 1;
    info.pgid = e->pgid;
    info.sid = e->sid;
    info.state = e->state;
    info.wait_status = e->state == SBX_PROC_ZOMBIE ? e->wait_status : 0;
    info.host_pid = e->host_pid;
    snprintf(info.command, sizeof info.command, "%s", e->command.c_str());
  }
  const size_t size = out->size;
  info.size = size;
  memcpy(out, &info, std::min(size, sizeof info));
}

}  // namespace sbx
