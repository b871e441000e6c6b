#include "core/monitor/process.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core/common/error.hpp"
#include "core/common/util.hpp"

namespace sbx {

Process::Process(Launched&& l)
    : pidfd_(std::move(l.pidfd)),
      signal_fd_(std::move(l.signal_fd)),
      shim_(l.shim),
      status_rd_(std::move(l.status_rd)),
      pid_(l.pid),
      start_ns_(l.start_ns) {
  for (int i = 0; i < 3; ++i) stdio_[i] = std::move(l.stdio[i]);
  for (int i = 0; i < 2; ++i) stacks_[i] = std::move(l.stacks[i]);
  rec_.pid = pid_;
}

Process::~Process() {
  terminate();
}

void Process::terminate() {
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
  if (status_rd_) {
    int raw = 0;
    if (read(status_rd_.get(), &raw, sizeof raw) == static_cast<ssize_t>(sizeof raw)) {
      record_raw_status_locked(raw);
      return;
    }
  }
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
  rec_.reason = sent ? SBX_REASON_KILLED : SBX_REASON_NORMAL;
  status_rd_.reset();
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
  if (ended_) {
    reap_nonblocking_locked();
    return true;
  }
  // The init writes the program's status as the program ends, before its
  // own exit and the namespace teardown: report it right away.
  if (status_rd_) {
    int raw = 0;
    ssize_t n = read(status_rd_.get(), &raw, sizeof raw);
    if (n == static_cast<ssize_t>(sizeof raw)) {
      record_raw_status_locked(raw);
      reap_nonblocking_locked();
      return true;
    }
    // EOF: the init is gone without a report (it was killed); its own
    // status, from the pidfd, is the record.
    if (n == 0) status_rd_.reset();
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
  if (try_end_locked()) {
    *out = rec_;
    return SBX_OK;
  }
  if (timeout_ms == 0) return SBX_E_TIMEOUT;
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
    struct pollfd fds[3] = {{pidfd_.get(), POLLIN, 0}, {efd.get(), POLLIN, 0}, {status_fd, POLLIN, 0}};
    int r = poll(fds, status_fd >= 0 ? 3 : 2, wait_ms);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw_system("poll", "poll on pidfd", errno);
    }
    if (fds[1].revents & POLLIN) return SBX_E_INTERRUPTED;
    if ((fds[0].revents & (POLLIN | POLLHUP)) || (status_fd >= 0 && fds[2].revents != 0)) {
      lk.lock();
      if (status_fd >= 0 && !status_rd_) status_fd = -1;
      if (try_end_locked()) {
        *out = rec_;
        return SBX_OK;
      }
      lk.unlock();
    }
  }
}

void Process::interrupt() {
  std::lock_guard<std::mutex> lk(mu_);
  for (int fd : waiters_) {
    uint64_t one = 1;
    (void)!write(fd, &one, sizeof one);
  }
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
  return SBX_OK;
}

int Process::take_stdio(int which) {
  if (which < 0 || which > 2) throw_invalid("which", "must be SBX_STDIN, SBX_STDOUT or SBX_STDERR");
  std::lock_guard<std::mutex> lk(mu_);
  return stdio_[which].release();
}

}  // namespace sbx
