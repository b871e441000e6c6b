#include "core/monitor/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/cgroup/cgroup.hpp"
#include "core/common/error.hpp"
#include "core/common/util.hpp"
#include "core/launch/init_loop.hpp"

namespace sbx {

Process::Process(Launched&& l, ProcessLimits limits, ProcessIo io)
    : pidfd_(std::move(l.pidfd)),
      signal_fd_(std::move(l.signal_fd)),
      shim_(l.shim),
      status_rd_(std::move(l.status_rd)),
      pid_(l.pid),
      start_ns_(l.start_ns),
      box_init_(l.box_init),
      supervised_(l.supervised),
      box_pid_(l.box_pid),
      cpu_rlimit_hard_s_(l.cpu_rlimit_hard_s),
      limits_(std::move(limits)),
      io_(std::move(io)) {
  for (int i = 0; i < 3; ++i) stdio_[i] = std::move(l.stdio[i]);
  // Captured streams belong to the process object, never to the caller.
  for (int i = 1; i <= 2; ++i)
    if (io_.capture[i]) {
      out_[i - 1].captured = true;
      out_[i - 1].fd = std::move(stdio_[i]);
    }
  if (io_.capture[0]) {
    stdin_captured_ = true;
    stdin_ = std::move(stdio_[0]);
  }
  if (l.pty && stdin_) pty_ctl_.reset(fcntl(stdin_.get(), F_DUPFD_CLOEXEC, 3));
  for (int i = 0; i < 2; ++i) stacks_[i] = std::move(l.stacks[i]);
  rec_.pid = pid_;
  if (supervised_) {
    ready_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!ready_fd_) throw_system("eventfd", "eventfd for a process", errno);
  }
}

Process::~Process() {
  stop_callbacks();
  cancel_timers();
  terminate();
}

namespace {
constexpr size_t kMaxBuffered = size_t{1} << 20;  // per stream, for sbx_proc_read
}

void Process::start_io() {
  std::weak_ptr<Process> weak = weak_from_this();
  std::lock_guard<std::mutex> lk(mu_);
  for (int i = 0; i < 2; ++i) {
    if (!out_[i].captured || !out_[i].fd) continue;
    out_[i].watch = Reactor::instance().watch(out_[i].fd.get(), EPOLLIN, [weak, i](uint32_t) {
      if (auto self = weak.lock()) self->on_readable(i);
    });
  }
  if (io_.on_exit && !supervised_) {
    end_watch_ = Reactor::instance().watch(pidfd_.get(), EPOLLIN, [weak](uint32_t) {
      if (auto self = weak.lock()) self->on_end_ready();
    });
  }
}

void Process::stop_callbacks() {
  Reactor::Id ids[3];
  {
    std::lock_guard<std::mutex> lk(mu_);
    callbacks_stopped_ = true;
    ids[0] = std::exchange(out_[0].watch, 0);
    ids[1] = std::exchange(out_[1].watch, 0);
    ids[2] = std::exchange(end_watch_, 0);
  }
  for (auto id : ids)
    if (id != 0) Reactor::instance().cancel(id);  // waits for a running callback
  std::lock_guard<std::mutex> lk(mu_);
  // No callback of ours runs any more: the fds are closed here (readers
  // waiting for output must not wait for a stream nobody reads).
  for (auto& o : out_)
    if (o.captured) {
      o.eof = true;
      o.fd.reset();
    }
  io_cv_.notify_all();
  notify_waiters_locked();
}

bool Process::streams_done_locked() const {
  for (const auto& o : out_)
    if (o.captured && !o.eof) return false;
  return true;
}

void Process::notify_waiters_locked() {
  for (int fd : waiters_) {
    uint64_t one = 1;
    (void)!write(fd, &one, sizeof one);
  }
}

// Once the process has ended and every captured stream is at end of file:
// the output's share of the record, final from here on (every waiter and
// the exit callback read the same record).
void Process::complete_output_locked() {
  if (output_completed_ || !ended_ || !streams_done_locked()) return;
  output_completed_ = true;
  if (ready_fd_) {
    uint64_t one = 1;
    (void)!::write(ready_fd_.get(), &one, sizeof one);
  }
  if (!out_[0].captured && !out_[1].captured) return;
  rec_.output_bytes = output_total_;
  rec_.usage_valid |= SBX_USAGE_OUTPUT;
  if (output_truncated_) rec_.limits_hit |= SBX_HIT_OUTPUT;
  if (output_killed_ && rec_.kind == SBX_EXIT_SIGNALED && rec_.reason != SBX_REASON_KILLED &&
      rec_.reason != SBX_REASON_TIMEOUT)
    rec_.reason = SBX_REASON_OUTPUT;
}

namespace {
// The monitor thread's read buffer (only that thread reads captured
// streams): as large as a capture pipe, so one read drains it.
alignas(64) char g_read_buf[1 << 20];
}  // namespace

void Process::on_readable(int idx) {
  OutStream& o = out_[idx];
  for (;;) {
    int fd;
    char* buf = g_read_buf;
    size_t buf_size = sizeof g_read_buf;
    bool into_ring = false;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (!o.fd || o.paused) return;
      fd = o.fd.get();
      if (!io_.on_output) {
        // Straight into the ring's free part (after the buffered bytes,
        // up to the end of the ring): one copy less.
        if (!o.ring) o.ring.reset(new char[kMaxBuffered]);
        const size_t tail = (o.head + o.buffered) % kMaxBuffered;
        buf = o.ring.get() + tail;
        buf_size = std::min(kMaxBuffered - o.buffered, kMaxBuffered - tail);
        into_ring = true;
        if (buf_size == 0) return;  // full: paused until a reader drains it
      }
    }
    ssize_t n = ::read(fd, buf, buf_size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      // End of file (or a read error, which ends the stream the same way).
      Reactor::Id w;
      {
        std::lock_guard<std::mutex> lk(mu_);
        w = std::exchange(o.watch, 0);
      }
      // Whoever takes the watch id removes it and only then closes the fd:
      // here, or stop_callbacks (which waits for this callback to return).
      if (w != 0) Reactor::instance().cancel(w);  // before the close
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (w != 0) o.fd.reset();
        o.eof = true;
        complete_output_locked();
        io_cv_.notify_all();
        notify_waiters_locked();
      }
      maybe_fire_exit();
      return;
    }
    size_t deliver = static_cast<size_t>(n);
    bool kill = false;
    std::function<void(int, const void*, size_t)> cb;
    {
      std::lock_guard<std::mutex> lk(mu_);
      const uint64_t before = output_total_;
      output_total_ += static_cast<uint64_t>(n);
      if (io_.output_limit != 0 && output_total_ > io_.output_limit) {
        deliver = before >= io_.output_limit ? 0 : static_cast<size_t>(io_.output_limit - before);
        if (!output_truncated_) {
          output_truncated_ = true;
          if (io_.output_limit_kill) kill = output_killed_ = true;
        }
      }
      if (deliver > 0) {
        if (!into_ring) {
          if (!callbacks_stopped_) cb = io_.on_output;
        } else {
          // Already in place; bytes beyond the output cap are just not kept.
          o.buffered += deliver;
          io_cv_.notify_all();
          if (o.buffered >= kMaxBuffered && !o.paused) {
            o.paused = true;
            Reactor::instance().set_events(o.watch, 0);
          }
        }
      }
    }
    if (cb) cb(idx + 1, buf, deliver);
    if (kill) signal_tree(SIGKILL);
  }
}

void Process::on_end_ready() {
  Reactor::Id w = 0;
  {
    std::lock_guard<std::mutex> lk(mu_);
    try {
      try_end_locked();
    } catch (const Error&) {
      reaped_ = true;  // the status is lost (reaped elsewhere): stop watching
    }
    if (reaped_) w = std::exchange(end_watch_, 0);
    complete_output_locked();
  }
  if (w != 0) Reactor::instance().cancel(w);
  maybe_fire_exit();
}

void Process::maybe_fire_exit() {
  std::function<void(const ExitRecord&)> cb;
  ExitRecord rec;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (exit_fired_ || !io_.on_exit || callbacks_stopped_ || !ended_ || !streams_done_locked()) return;
    exit_fired_ = true;
    complete_output_locked();
    rec = rec_;
    cb = io_.on_exit;
  }
  cb(rec);
}

int Process::read(int stream, void* buf, size_t cap, size_t* n, int timeout_ms) {
  if (stream != SBX_STDOUT && stream != SBX_STDERR)
    throw_invalid("stream", "must be SBX_STDOUT or SBX_STDERR");
  if (timeout_ms < -1) throw_invalid("timeout_ms", "must be -1 (forever), 0 (poll) or positive");
  if (buf == nullptr && cap > 0) throw_invalid("buf", "is NULL");
  *n = 0;
  std::unique_lock<std::mutex> lk(mu_);
  OutStream& o = out_[stream - 1];
  if (!o.captured)
    throw Error(SBX_E_STATE, "stdio", 0, std::string(stream == 1 ? "stdout" : "stderr") + " is not captured");
  if (io_.on_output)
    throw Error(SBX_E_STATE, "stdio", 0, "the output goes to the output callback; there is nothing to read");
  const uint64_t gen = interrupt_gen_;
  auto ready = [&] { return o.buffered > 0 || o.eof || interrupt_gen_ != gen; };
  if (timeout_ms < 0) {
    io_cv_.wait(lk, ready);
  } else if (!io_cv_.wait_for(lk, std::chrono::milliseconds(timeout_ms), ready)) {
    return SBX_E_TIMEOUT;
  }
  if (o.buffered == 0 && !o.eof) return SBX_E_INTERRUPTED;
  size_t got = 0;
  while (got < cap && o.buffered > 0) {
    size_t take = std::min({cap - got, o.buffered, kMaxBuffered - o.head});
    memcpy(static_cast<char*>(buf) + got, o.ring.get() + o.head, take);
    got += take;
    o.head = (o.head + take) % kMaxBuffered;
    o.buffered -= take;
  }
  *n = got;
  if (o.paused && o.buffered < kMaxBuffered / 2 && o.watch != 0) {
    o.paused = false;
    Reactor::instance().set_events(o.watch, EPOLLIN);
  }
  return SBX_OK;
}

int Process::write_stdin(const void* data, size_t len, size_t* written, int timeout_ms) {
  if (timeout_ms < -1) throw_invalid("timeout_ms", "must be -1 (forever), 0 (poll) or positive");
  if (data == nullptr && len > 0) throw_invalid("data", "is NULL");
  *written = 0;
  int fd;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!stdin_captured_) throw Error(SBX_E_STATE, "stdio", 0, "stdin is not captured");
    if (!stdin_) throw Error(SBX_E_STATE, "stdio", EPIPE, "stdin is closed");
    fd = stdin_.get();
  }
  const uint64_t deadline =
      timeout_ms < 0 ? 0 : monotonic_ns() + static_cast<uint64_t>(timeout_ms) * 1000000ull;
  size_t done = 0;
  while (done < len) {
    // A reader that went away must not cost the host a SIGPIPE: block it in
    // this thread around the write and consume the one the write raised.
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    ssize_t w = ::write(fd, static_cast<const char*>(data) + done, len - done);
    int e = errno;
    if (w < 0 && e == EPIPE) {
      struct timespec zero = {0, 0};
      while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (w > 0) {
      done += static_cast<size_t>(w);
      continue;
    }
    if (w < 0 && e == EINTR) continue;
    if (w < 0 && e == EPIPE) {
      *written = done;
      throw Error(SBX_E_STATE, "stdio", EPIPE, "the program has closed its stdin");
    }
    if (w < 0 && e != EAGAIN) throw_system("stdio", "write to stdin", e);
    int wait_ms = -1;
    if (timeout_ms >= 0) {
      uint64_t now = monotonic_ns();
      if (now >= deadline) break;
      wait_ms = static_cast<int>((deadline - now + 999999) / 1000000);
    }
    struct pollfd pf = {fd, POLLOUT, 0};
    if (poll(&pf, 1, wait_ms) == 0) break;
  }
  *written = done;
  return done == len || len == 0 ? SBX_OK : SBX_E_TIMEOUT;
}

void Process::close_stdin() {
  std::unique_lock<std::mutex> lk(mu_);
  if (!stdin_captured_) throw Error(SBX_E_STATE, "stdio", 0, "stdin is not captured");
  if (pty_ctl_) {
    // Closing the master would hang up the terminal: end the input the way
    // a terminal user does.
    lk.unlock();
    size_t w = 0;
    write_stdin("\x04", 1, &w, 1000);
    return;
  }
  stdin_.reset();
}

void Process::resize(uint16_t rows, uint16_t cols) {
  if (rows < 1 || rows > 10000 || cols < 1 || cols > 10000)
    throw_invalid("pty",
                  "size " + std::to_string(rows) + "x" + std::to_string(cols) + " is outside 1..10000");
  std::lock_guard<std::mutex> lk(mu_);
  if (!pty_ctl_) throw Error(SBX_E_STATE, "pty", 0, "the process is not on a pseudo-terminal");
  struct winsize ws = {};
  ws.ws_row = rows;
  ws.ws_col = cols;
  if (ioctl(pty_ctl_.get(), TIOCSWINSZ, &ws) < 0) throw_system("pty", "TIOCSWINSZ", errno);
}

void Process::cancel_timers() {
  Reactor::Id ids[3];
  {
    std::lock_guard<std::mutex> lk(timer_mu_);
    ids[0] = std::exchange(deadline_timer_, 0);
    ids[1] = std::exchange(grace_timer_, 0);
    ids[2] = std::exchange(cpu_timer_, 0);
    timers_cancelled_ = true;
  }
  for (auto id : ids)
    if (id != 0) Reactor::instance().cancel(id);
}

void Process::arm_limits() {
  std::weak_ptr<Process> weak = weak_from_this();
  std::lock_guard<std::mutex> lk(timer_mu_);
  if (timers_cancelled_) return;
  if (limits_.timeout_ms != 0) {
    deadline_timer_ = Reactor::instance().schedule(start_ns_ + limits_.timeout_ms * 1000000ull, [weak] {
      if (auto self = weak.lock()) self->on_deadline(SBX_HIT_TIMEOUT);
    });
  }
  if (limits_.cpu_time_ms != 0 && limits_.cgroup) {
    cpu_timer_ = Reactor::instance().schedule(monotonic_ns() + 10000000ull, [weak] {
      if (auto self = weak.lock()) self->check_cpu_time();
    });
  }
}

bool Process::signal_tree(int sig) {
  std::shared_ptr<cgroup::BoxCgroup> cg;  // finalize may drop ours meanwhile
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (reaped_) return true;
    cg = limits_.cgroup;
  }
  if (limits_.tree_signal) {
    limits_.tree_signal(sig);
    return true;
  }
  // The pidfds stay open as long as this object: a signal can only reach
  // this box, or nothing (ESRCH once it has ended).
  bool thaw_after = false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    thaw_after = sig == SIGKILL && paused_ && !paused_by_stop_;
  }
  struct Thaw {
    bool on;
    std::shared_ptr<cgroup::BoxCgroup> cg;
    // A v1-frozen task only dies once thawed (v2 lets fatal signals through).
    ~Thaw() {
      if (on && cg) try {
          cg->thaw();
        } catch (...) {
        }
    }
  } thaw{thaw_after, cg};
  if (box_init_) {
    if (sig == SIGKILL) {
      // pid 1's end takes the whole pid namespace with it.
      syscall(SYS_pidfd_send_signal, signal_target(), SIGKILL, nullptr, 0);
    } else {
      siginfo_t info;
      memset(&info, 0, sizeof info);
      info.si_signo = launch::kTreeSignalCarrier;
      info.si_code = SI_QUEUE;
      info.si_pid = 0;
      info.si_uid = 0;
      info.si_value.sival_int = launch::tree_signal_value(sig);
      syscall(SYS_pidfd_send_signal, signal_target(), launch::kTreeSignalCarrier, &info, 0);
    }
    return true;
  }
  if (cg && cg->kills_tree()) {
    if (sig == SIGKILL)
      cg->kill_all();
    else
      cg->signal_all(sig);
    return true;
  }
  syscall(SYS_pidfd_send_signal, signal_target(), sig, nullptr, 0);
  return false;
}

bool Process::set_paused(bool on) {
  std::shared_ptr<cgroup::BoxCgroup> cg;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!on && !paused_) return true;
    if (on && (ended_ || reaped_)) return false;
    cg = limits_.cgroup;
  }
  const bool freezer = cg && cg->can_freeze();
  if (freezer) {
    if (on)
      cg->freeze();
    else
      cg->thaw();
  } else {
    signal_tree(on ? SIGSTOP : SIGCONT);
  }
  std::lock_guard<std::mutex> lk(mu_);
  paused_ = on;
  paused_by_stop_ = on && !freezer;
  return true;
}

void Process::on_deadline(uint32_t hit) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (ended_ || reaped_) return;
    hits_ |= hit;
  }
  if (limits_.kill_grace_ms == 0) {
    signal_tree(SIGKILL);
    return;
  }
  signal_tree(SIGTERM);
  std::weak_ptr<Process> weak = weak_from_this();
  std::lock_guard<std::mutex> lk(timer_mu_);
  if (timers_cancelled_) return;
  grace_timer_ = Reactor::instance().schedule(monotonic_ns() + limits_.kill_grace_ms * 1000000ull, [weak] {
    if (auto self = weak.lock()) self->signal_tree(SIGKILL);
  });
}

void Process::check_cpu_time() {
  std::shared_ptr<cgroup::BoxCgroup> cg;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (ended_ || reaped_ || !limits_.cgroup) return;
    cg = limits_.cgroup;
  }
  cgroup::Usage u = cg->usage();
  if (!u.cpu_usage_ns) return;  // no accounting after all: RLIMIT_CPU is the backstop
  const uint64_t limit_ns = limits_.cpu_time_ms * 1000000ull;
  if (*u.cpu_usage_ns >= limit_ns) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      hits_ |= SBX_HIT_CPU_TIME;
    }
    signal_tree(SIGKILL);
    return;
  }
  // The earliest the box can reach its limit, using every CPU it may have.
  double cpus =
      limits_.cpus > 0 ? limits_.cpus : static_cast<double>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  auto next = static_cast<uint64_t>(static_cast<double>(limit_ns - *u.cpu_usage_ns) / cpus);
  next = std::max<uint64_t>(next, 10000000ull);
  std::weak_ptr<Process> weak = weak_from_this();
  std::lock_guard<std::mutex> lk(timer_mu_);
  if (timers_cancelled_) return;
  cpu_timer_ = Reactor::instance().schedule(monotonic_ns() + next, [weak] {
    if (auto self = weak.lock()) self->check_cpu_time();
  });
}

void Process::read_report_locked() {
  if (!status_rd_) return;
  launch::InitReport rep;
  ssize_t n = ::read(status_rd_.get(), &rep, sizeof rep);
  if (n == static_cast<ssize_t>(sizeof rep) && rep.magic == launch::kInitReportMagic) {
    have_report_ = true;
    report_utime_us_ = rep.utime_us;
    report_stime_us_ = rep.stime_us;
    report_maxrss_kb_ = rep.maxrss_kb;
    record_raw_status_locked(rep.wait_status);
    return;
  }
  // EOF: the init is gone without a report (it was killed); its own
  // status, from the pidfd, is the record.
  if (n == 0) status_rd_.reset();
}

void Process::terminate() {
  if (supervised_) {
    std::unique_lock<std::mutex> lk(mu_);
    if (ended_ || !pidfd_) return;
    syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
    sent_signals_ |= 1ull << (SIGKILL - 1);
    // The last reference can drop on the monitor thread (a callback held
    // it): the death is reported through that very thread, so waiting
    // there would stall every box's events. Nobody can read this record
    // any more; the supervisor reaps the process.
    if (Reactor::instance().on_monitor_thread()) return;
    // The supervisor reports the death; the box marks every process lost
    // if the supervisor itself goes away, so this wait ends either way.
    io_cv_.wait_for(lk, std::chrono::seconds(10), [&] { return ended_; });
    return;
  }
  std::lock_guard<std::mutex> lk(mu_);
  if (reaped_ || !pidfd_) return;
  try {
    try_end_locked();
  } catch (const Error&) {
    // Reported to waiters; terminating must go on regardless.
  }
  if (reaped_) return;
  // After the program ended the init is already on its way out; SIGKILL
  // only makes sure nothing can keep the namespace alive. (In shim mode the
  // shim then reaps the box process and exits by itself.)
  syscall(SYS_pidfd_send_signal, signal_target(), SIGKILL, nullptr, 0);
  if (!ended_) sent_signals_ |= 1ull << (SIGKILL - 1);
  if (paused_ && !paused_by_stop_ && limits_.cgroup) {
    try {
      limits_.cgroup->thaw();  // a v1-frozen box would never die
    } catch (...) {
    }
  }
  siginfo_t si{};
  while (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), &si, WEXITED | __WALL) < 0) {
    if (errno != EINTR) return;  // nothing left to reap (ECHILD): nothing to leak either
  }
  reaped_ = true;
  if (!ended_) record_siginfo_locked(si);
}

void Process::record_raw_status_locked(int raw) {
  if (WIFEXITED(raw)) {
    rec_.kind = SBX_EXIT_EXITED;
    rec_.code = WEXITSTATUS(raw);
  } else {
    rec_.kind = SBX_EXIT_SIGNALED;
    rec_.signal = WTERMSIG(raw);
    rec_.core_dumped = WCOREDUMP(raw) ? 1 : 0;
  }
  finalize_locked();
}

void Process::record_siginfo_locked(const siginfo_t& si) {
  // A box init reports the program's exact wait status before it exits. If
  // it did not (it was killed, e.g. by SIGKILL to the box), the init's own
  // end is the truth: its death took the whole pid namespace with it.
  read_report_locked();
  if (ended_) return;
  if (si.si_code == CLD_EXITED && shim_ && si.si_status >= 128) {
    // The shim mirrors the box process's death by signal N as 128+N.
    rec_.kind = SBX_EXIT_SIGNALED;
    rec_.signal = si.si_status - 128;
  } else if (si.si_code == CLD_EXITED) {
    rec_.kind = SBX_EXIT_EXITED;
    rec_.code = si.si_status;
  } else {
    rec_.kind = SBX_EXIT_SIGNALED;
    rec_.signal = si.si_status;
    rec_.core_dumped = si.si_code == CLD_DUMPED ? 1 : 0;
  }
  finalize_locked();
}

void Process::finalize_locked() {
  ended_ = true;
  rec_.wall_ns = monotonic_ns() - start_ns_;
  // Killed on request only if the program died of a signal that sbx sent
  // (the box init forwards it, so the program's own signal is the one to
  // compare); a program that crashed on its own stays NORMAL.
  const bool sent = rec_.kind == SBX_EXIT_SIGNALED && rec_.signal >= 1 && rec_.signal <= 64 &&
                    (sent_signals_ & (1ull << (rec_.signal - 1))) != 0;
  status_rd_.reset();

  // Usage: the cgroup's accounting covers every process of the box; the
  // init's report covers what it reaped (the program and orphans).
  uint32_t hits = hits_;
  uint64_t oom_kills = 0;
  if (limits_.cgroup) {
    cgroup::Usage u = limits_.cgroup->usage();
    if (u.cpu_user_ns && u.cpu_system_ns) {
      rec_.cpu_user_ns = *u.cpu_user_ns;
      rec_.cpu_system_ns = *u.cpu_system_ns;
      rec_.usage_valid |= SBX_USAGE_CPU;
    }
    if (u.memory_peak) {
      rec_.memory_peak_bytes = *u.memory_peak;
      rec_.usage_valid |= SBX_USAGE_MEMORY;
    }
    if (u.pids_peak) {
      rec_.pids_peak = *u.pids_peak;
      rec_.usage_valid |= SBX_USAGE_PIDS;
    }
    if (u.oom_kills) oom_kills = *u.oom_kills;
    if (oom_kills > 0 || (u.memory_max_events && *u.memory_max_events > 0)) hits |= SBX_HIT_MEMORY;
    if (u.pids_max_events && *u.pids_max_events > 0) hits |= SBX_HIT_PIDS;
    // The box's usage is final: the cgroup goes with the box.
    limits_.cgroup.reset();
  }
  if (have_report_) {
    if ((rec_.usage_valid & SBX_USAGE_CPU) == 0) {
      rec_.cpu_user_ns = static_cast<uint64_t>(report_utime_us_) * 1000;
      rec_.cpu_system_ns = static_cast<uint64_t>(report_stime_us_) * 1000;
      rec_.usage_valid |= SBX_USAGE_CPU;
    }
    if ((rec_.usage_valid & SBX_USAGE_MEMORY) == 0 && report_maxrss_kb_ > 0) {
      rec_.memory_peak_bytes = static_cast<uint64_t>(report_maxrss_kb_) * 1024;
      rec_.usage_valid |= SBX_USAGE_MEMORY;
    }
  }
  const bool signaled = rec_.kind == SBX_EXIT_SIGNALED;
  const bool failed = signaled || rec_.code != 0;
  if (signaled && rec_.signal == SIGXCPU) hits |= SBX_HIT_CPU_TIME;
  // RLIMIT_CPU's hard limit kills with SIGKILL (at once when soft == hard):
  // after that much CPU time, and not sent by sbx, it is the rlimit.
  if (signaled && rec_.signal == SIGKILL && !sent && cpu_rlimit_hard_s_ != 0 &&
      (rec_.usage_valid & SBX_USAGE_CPU) &&
      rec_.cpu_user_ns + rec_.cpu_system_ns + 50000000ull >= cpu_rlimit_hard_s_ * 1000000000ull)
    hits |= SBX_HIT_CPU_TIME;
  if (signaled && rec_.signal == SIGXFSZ) hits |= SBX_HIT_FILE_SIZE;
  rec_.limits_hit = hits;

  if (sent)
    rec_.reason = SBX_REASON_KILLED;
  else if (hits & SBX_HIT_TIMEOUT)
    rec_.reason = SBX_REASON_TIMEOUT;
  else if ((hits_ & SBX_HIT_CPU_TIME) || (signaled && rec_.signal == SIGXCPU) ||
           (signaled && rec_.signal == SIGKILL && (hits & SBX_HIT_CPU_TIME)))
    rec_.reason = SBX_REASON_CPU_TIME;
  else if (oom_kills > 0 && failed)
    rec_.reason = SBX_REASON_MEMORY;
  else if (signaled && rec_.signal == SIGSYS && limits_.seccomp_kills)
    rec_.reason = SBX_REASON_SECCOMP;
  else if (signaled && rec_.signal == SIGXFSZ)
    rec_.reason = SBX_REASON_FILE_SIZE;
  else if ((hits & SBX_HIT_PIDS) && failed)
    rec_.reason = SBX_REASON_PIDS;
  else
    rec_.reason = SBX_REASON_NORMAL;
}

void Process::reap_nonblocking_locked() {
  if (reaped_) return;
  siginfo_t si{};
  int r;
  do {
    r = waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), &si,
               WEXITED | WNOHANG | __WALL);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    int e = errno;
    if (e == ECHILD) {
      // Someone else in this process reaped it (waitpid(-1, __WALL) or
      // waitid(P_ALL, __WALL)): the status is lost; never invent one.
      reaped_ = true;
      throw Error(SBX_E_SYSTEM, "waitid", e,
                  "the box process was reaped by another part of this program "
                  "(a waitpid(-1) or waitid(P_ALL) elsewhere); its status is lost");
    }
    throw_system("waitid", "waitid on pidfd", e);
  }
  if (si.si_pid == 0) return;
  reaped_ = true;
  if (!ended_) record_siginfo_locked(si);
}

bool Process::try_end_locked() {
  if (supervised_) return ended_;
  if (ended_) {
    reap_nonblocking_locked();
    return true;
  }
  // The init writes the program's status as the program ends, before its
  // own exit and the namespace teardown: report it right away.
  read_report_locked();
  if (ended_) {
    reap_nonblocking_locked();
    return true;
  }
  reap_nonblocking_locked();
  return ended_;
}

bool Process::poll_ended() {
  std::lock_guard<std::mutex> lk(mu_);
  return try_end_locked();
}

int Process::wait(int timeout_ms, ExitRecord* out) {
  if (timeout_ms < -1) throw_invalid("timeout_ms", "must be -1 (forever), 0 (poll) or positive");
  std::unique_lock<std::mutex> lk(mu_);
  // Ended, and every captured stream drained: then the record is final.
  auto done = [&] {
    if (!try_end_locked() || !streams_done_locked()) return false;
    complete_output_locked();
    return true;
  };
  if (done()) {
    *out = rec_;
    return SBX_OK;
  }
  if (timeout_ms == 0) return SBX_E_TIMEOUT;
  const uint64_t gen = interrupt_gen_;
  bool pidfd_poll_off = supervised_;  // the status comes from the supervisor (notify_waiters_locked)
  int status_fd = status_rd_ ? status_rd_.get() : -1;
  UniqueFd efd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!efd) throw_system("eventfd", "eventfd for wait", errno);
  // Registered while this wait runs, removed on every way out (an exception
  // included) before the eventfd is closed: interrupt() must never write to
  // a number that something else may have reopened.
  waiters_.push_back(efd.get());
  struct Unregister {
    Process* self;
    int fd;
    std::unique_lock<std::mutex>* lk;
    ~Unregister() {
      if (!lk->owns_lock()) lk->lock();
      auto& w = self->waiters_;
      w.erase(std::remove(w.begin(), w.end(), fd), w.end());
    }
  } unregister{this, efd.get(), &lk};
  lk.unlock();

  const uint64_t deadline =
      timeout_ms < 0 ? 0 : monotonic_ns() + static_cast<uint64_t>(timeout_ms) * 1000000ull;
  for (;;) {
    int wait_ms = -1;
    if (timeout_ms >= 0) {
      uint64_t now = monotonic_ns();
      if (now >= deadline) return SBX_E_TIMEOUT;
      wait_ms = static_cast<int>((deadline - now + 999999) / 1000000);
    }
    // The status pipe is only read under the mutex; another waiter may have
    // consumed and closed it meanwhile, which poll reports as POLLNVAL and
    // try_end_locked then resolves.
    struct pollfd fds[3] = {
        {pidfd_poll_off ? -1 : pidfd_.get(), POLLIN, 0}, {efd.get(), POLLIN, 0}, {status_fd, POLLIN, 0}};
    int r = poll(fds, status_fd >= 0 ? 3 : 2, wait_ms);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw_system("poll", "poll on pidfd", errno);
    }
    bool recheck = (fds[0].revents & (POLLIN | POLLHUP)) || (status_fd >= 0 && fds[2].revents != 0);
    if (fds[1].revents & POLLIN) {
      uint64_t v;
      (void)!::read(efd.get(), &v, sizeof v);
      lk.lock();
      if (interrupt_gen_ != gen) return SBX_E_INTERRUPTED;
      lk.unlock();
      recheck = true;  // a captured stream reached end of file
    }
    if (recheck) {
      lk.lock();
      if (status_fd >= 0 && !status_rd_) status_fd = -1;
      if (done()) {
        *out = rec_;
        return SBX_OK;
      }
      // Reaped but output still draining: the monitor thread signals each
      // end of file through the eventfd; do not spin on the readable pidfd.
      if (reaped_) pidfd_poll_off = true;
      lk.unlock();
    }
  }
}

void Process::interrupt() {
  std::lock_guard<std::mutex> lk(mu_);
  ++interrupt_gen_;
  notify_waiters_locked();
  io_cv_.notify_all();
}

int Process::kill(int sig) {
  if (sig < 0 || sig > SIGRTMAX)
    throw_invalid("signal", std::to_string(sig) + " is not a valid signal number");
  std::lock_guard<std::mutex> lk(mu_);
  // A process that has ended (a zombie not yet reaped) still accepts
  // signals through its pidfd; it must read as gone.
  if (try_end_locked()) return SBX_E_STATE;
  if (syscall(SYS_pidfd_send_signal, signal_target(), sig, nullptr, 0) < 0) {
    int e = errno;
    if (e == ESRCH) return SBX_E_STATE;  // exited, not yet reaped
    throw_system("kill", "pidfd_send_signal", e);
  }
  if (sig != 0) sent_signals_ |= 1ull << (sig - 1);
  if (sig == SIGKILL && paused_ && !paused_by_stop_ && limits_.cgroup) {
    try {
      limits_.cgroup->thaw();  // a v1-frozen box only dies once thawed
    } catch (...) {
    }
  }
  return SBX_OK;
}

void Process::note_signal_sent(int sig) {
  std::lock_guard<std::mutex> lk(mu_);
  if (sig >= 1 && sig <= 64 && !ended_) sent_signals_ |= 1ull << (sig - 1);
}

void Process::note_hit(uint32_t hit) {
  std::lock_guard<std::mutex> lk(mu_);
  if (!ended_) hits_ |= hit;
}

void Process::deliver_status(int code, int status, int64_t utime_us, int64_t stime_us, int64_t maxrss_kb,
                             bool fire) {
  const int64_t usage[3] = {utime_us, stime_us, maxrss_kb};
  deliver(code, status, usage, fire);
}

void Process::deliver(int code, int status, const int64_t* usage, bool fire) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (ended_) return;
    if (usage != nullptr) {
      have_report_ = true;
      report_utime_us_ = usage[0];
      report_stime_us_ = usage[1];
      report_maxrss_kb_ = usage[2];
    }
    reaped_ = true;
    if (code == CLD_EXITED) {
      rec_.kind = SBX_EXIT_EXITED;
      rec_.code = status;
    } else {
      rec_.kind = SBX_EXIT_SIGNALED;
      rec_.signal = status;
      rec_.core_dumped = code == CLD_DUMPED ? 1 : 0;
    }
    finalize_locked();
    complete_output_locked();
    notify_waiters_locked();
    io_cv_.notify_all();
  }
  if (fire) maybe_fire_exit();
}

void Process::deliver_lost(bool fire) {
  // pid 1 of the box ended: the kernel killed everything in its pid
  // namespace with SIGKILL. No usage was reported.
  deliver(CLD_KILLED, SIGKILL, nullptr, fire);
}

int Process::take_stdio(int which) {
  if (which < 0 || which > 2) throw_invalid("which", "must be SBX_STDIN, SBX_STDOUT or SBX_STDERR");
  std::lock_guard<std::mutex> lk(mu_);
  return stdio_[which].release();
}

}  // namespace sbx
