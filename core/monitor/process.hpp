// A process started by sbx: pidfd-based waiting and signalling with a
// sticky exit record. No SIGCHLD handler, no waitpid(-1): the pidfd is the
// only handle on the process, so a recycled pid can never be signalled.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <mutex>
#include <vector>

#include "core/common/fd.hpp"
#include "core/launch/launcher.hpp"

namespace sbx {

struct ExitRecord {
  int kind = SBX_EXIT_NONE;
  int code = 0;
  int signal = 0;
  int core_dumped = 0;
  int reason = SBX_REASON_NONE;
  int pid = 0;
  uint64_t wall_ns = 0;
};

class Process {
 public:
  explicit Process(Launched&& l);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // SBX_OK with *out filled, SBX_E_TIMEOUT or SBX_E_INTERRUPTED.
  int wait(int timeout_ms, ExitRecord* out);
  // Wakes every wait in progress.
  void interrupt();
  // SBX_OK, or SBX_E_STATE once reaped. Throws on an invalid signal.
  int kill(int sig);
  // Checks without blocking whether the process has ended; true once ended.
  bool poll_ended();
  // SIGKILL (if still running) and reap.
  void terminate();

  pid_t pid() const { return pid_; }
  int pollfd() const { return pidfd_.get(); }
  // The host end of a pipe stream; -1 if none or already taken.
  int take_stdio(int which);

 private:
  // True once the exit record is final (the program's status arrived from
  // the box init, or the process was reaped). Never blocks.
  bool try_end_locked();
  void reap_nonblocking_locked();
  void record_raw_status_locked(int raw);
  void record_siginfo_locked(const siginfo_t& si);
  void finalize_locked();
  int signal_target() const { return signal_fd_ ? signal_fd_.get() : pidfd_.get(); }

  std::mutex mu_;
  UniqueFd pidfd_;      // the host's direct child: waited for, reaped
  UniqueFd signal_fd_;  // the box process, when it is not pidfd_'s process
  bool shim_;
  StackMapping stacks_[2];  // freed only after the reap
  UniqueFd status_rd_;
  UniqueFd stdio_[3];
  pid_t pid_;
  uint64_t start_ns_;
  bool ended_ = false;         // the exit record is final
  bool reaped_ = false;        // the pidfd's process has been reaped
  uint64_t sent_signals_ = 0;  // bit N-1: signal N was sent through sbx
  ExitRecord rec_;
  std::vector<int> waiters_;  // eventfds of the waits in progress
};

}  // namespace sbx
