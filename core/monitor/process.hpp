// A process started by sbx: pidfd-based waiting and signalling with a
// sticky exit record. No SIGCHLD handler, no waitpid(-1): the pidfd is the
// only handle on the process, so a recycled pid can never be signalled.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/common/fd.hpp"
#include "core/launch/launcher.hpp"
#include "core/monitor/reactor.hpp"

namespace sbx::cgroup {
class BoxCgroup;
}

namespace sbx {

struct ExitRecord {
  int kind = SBX_EXIT_NONE;
  int code = 0;
  int signal = 0;
  int core_dumped = 0;
  int reason = SBX_REASON_NONE;
  int pid = 0;
  uint64_t wall_ns = 0;
  uint64_t cpu_user_ns = 0;
  uint64_t cpu_system_ns = 0;
  uint64_t memory_peak_bytes = 0;
  uint64_t pids_peak = 0;
  uint64_t output_bytes = 0;
  uint32_t limits_hit = 0;
  uint32_t usage_valid = 0;
};

// What the box asks the monitor to enforce on a process, and how.
struct ProcessLimits {
  uint64_t timeout_ms = 0;  // wall clock from spawn; 0 = none
  uint64_t kill_grace_ms = 1000;
  uint64_t cpu_time_ms = 0;    // the box's CPU time (cgroup accounting); 0 = none
  double cpus = 0;             // the box's CPU bandwidth, to pace CPU-time checks
  bool seccomp_kills = false;  // a SIGSYS death is the filter's doing
  std::shared_ptr<cgroup::BoxCgroup> cgroup;
  // How a time limit reaches "every process" of this one (a process in a
  // started box: its process group through the supervisor). Unset: the
  // box init, the cgroup or the program (signal_tree).
  std::function<void(int)> tree_signal;
};

// Captured streams and their consumers (SBX_STDIO_CAPTURE).
struct ProcessIo {
  bool capture[3] = {false, false, false};
  std::function<void(int, const void*, size_t)> on_output;
  std::function<void(const ExitRecord&)> on_exit;
  uint64_t output_limit = 0;
  bool output_limit_kill = false;
};

class Process : public std::enable_shared_from_this<Process> {
 public:
  explicit Process(Launched&& l, ProcessLimits limits = {}, ProcessIo io = {});
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
  // Starts the time limits (after construction: they hold a weak reference).
  void arm_limits();
  // Stops them; once it returns no limit action runs or will run.
  void cancel_timers();
  // Starts reading captured output (and watching for the end when there is
  // an exit callback). After construction, like arm_limits.
  void start_io();
  // No output or exit callback runs once this returns (unless called from
  // one, on the monitor thread).
  void stop_callbacks();
  // Captured output: SBX_OK (*n = 0: end of file), SBX_E_TIMEOUT,
  // SBX_E_INTERRUPTED; throws SBX_E_STATE for a stream that is not captured
  // or has a callback.
  int read(int stream, void* buf, size_t cap, size_t* n, int timeout_ms);
  int write_stdin(const void* data, size_t len, size_t* written, int timeout_ms);
  void close_stdin();
  void resize(uint16_t rows, uint16_t cols);
  // Sends SIG to every process of the box: through the box init (a marked
  // SI_QUEUE signal; SIGKILL ends the pid namespace), else the cgroup, else
  // the program alone. Returns false when only the program could be reached.
  bool signal_tree(int sig);
  // Freezes (true) or thaws every process of the box: the cgroup freezer,
  // else SIGSTOP/SIGCONT to the tree. Returns false if the process has ended.
  bool set_paused(bool on);

  // A process in a started box: its status, reported by the supervisor
  // (CODE is the siginfo si_code CLD_EXITED / CLD_KILLED / CLD_DUMPED,
  // STATUS its si_status), with its own CPU time and peak RSS. LOST: the
  // supervisor went away first, which took the process with it (SIGKILL).
  // FIRE = false leaves the exit callback to fire_exit(), for a caller that
  // holds a lock of its own (the callback may call back into sbx).
  void deliver_status(int code, int status, int64_t utime_us, int64_t stime_us, int64_t maxrss_kb,
                      bool fire = true);
  void deliver_lost(bool fire = true);
  void fire_exit() { maybe_fire_exit(); }
  // Marks SIG as sent through sbx (the reason becomes "killed" if the
  // process dies of it).
  void note_signal_sent(int sig);
  // Records a limit (SBX_HIT_*) reached by the box on this process's watch.
  void note_hit(uint32_t hit);

  pid_t pid() const { return pid_; }
  int box_pid() const { return box_pid_; }
  bool supervised() const { return supervised_; }
  int pollfd() const { return supervised_ ? ready_fd_.get() : pidfd_.get(); }
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
  // A supervised process's end (USAGE: user us, system us, max RSS KiB, or null).
  void deliver(int code, int status, const int64_t* usage, bool fire);
  void read_report_locked();  // the InitReport, if the status pipe has one
  void on_deadline(uint32_t hit);
  void check_cpu_time();

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

  bool box_init_;
  bool supervised_;
  int box_pid_;
  UniqueFd ready_fd_;  // supervised: an eventfd, readable once the record is final
  uint64_t cpu_rlimit_hard_s_;
  bool paused_ = false;  // guarded by mu_
  bool paused_by_stop_ = false;
  ProcessLimits limits_;
  uint32_t hits_ = 0;  // SBX_HIT_* recorded by the monitor (timeout, CPU time)
  bool have_report_ = false;
  int64_t report_utime_us_ = 0, report_stime_us_ = 0, report_maxrss_kb_ = 0;
  std::mutex timer_mu_;  // guards the ids below (not held while cancelling)
  Reactor::Id deadline_timer_ = 0, grace_timer_ = 0, cpu_timer_ = 0;
  bool timers_cancelled_ = false;

  // Captured output. Guarded by mu_; the fds are read on the monitor thread.
  struct OutStream {
    bool captured = false;
    UniqueFd fd;
    Reactor::Id watch = 0;
    // sbx_proc_read's buffer: a ring of kMaxBuffered bytes, allocated on
    // first use. The monitor thread reads the pipe straight into its free
    // part (outside mu_: readers only touch the buffered part), readers
    // copy out of it under mu_.
    std::unique_ptr<char[]> ring;
    size_t head = 0;      // first buffered byte
    size_t buffered = 0;  // bytes in the ring
    bool eof = false;
    bool paused = false;  // the buffer is full: not reading until drained
  };
  void on_readable(int idx);
  void on_end_ready();
  void maybe_fire_exit();
  bool streams_done_locked() const;
  void complete_output_locked();
  void notify_waiters_locked();

  ProcessIo io_;
  OutStream out_[2];  // stdout, stderr
  UniqueFd stdin_;    // captured stdin (non-blocking write end)
  UniqueFd pty_ctl_;  // a pty master kept for resizing (sbx_spec_set_pty)
  bool stdin_captured_ = false;
  uint64_t output_total_ = 0;
  bool output_truncated_ = false;
  bool output_killed_ = false;
  bool output_completed_ = false;
  Reactor::Id end_watch_ = 0;
  bool exit_fired_ = false;
  bool callbacks_stopped_ = false;
  std::condition_variable io_cv_;
  uint64_t interrupt_gen_ = 0;
};

}  // namespace sbx
