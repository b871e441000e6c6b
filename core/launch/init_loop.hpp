// The loop of a box's pid 1, shared by the init image
// (core/launch/init_image/) and the in-process init of the classic launch
// mode (core/launch/child.cpp). Raw system calls only.
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <cstdint>

#include "core/launch/raw_syscalls.hpp"

namespace sbx::launch {

// What a box init (or, without a pid namespace, the shim) reports when the
// program has ended: its exact wait status and the CPU time and peak RSS of
// every process of the box it has reaped. One write, below PIPE_BUF.
struct InitReport {
  int32_t wait_status;
  uint32_t magic;
  int64_t utime_us;
  int64_t stime_us;
  int64_t maxrss_kb;
};
constexpr uint32_t kInitReportMagic = 0x73627831;  // "sbx1"

// A signal to every process of the box (kill(-1) by the init) instead of to
// the program only: the host queues kTreeSignalCarrier to the init (SI_QUEUE
// from outside the box: si_pid 0) with the value (kTreeSignalTag << 8) | SIG.
// A carrier, because SIGSTOP never reaches a handler or sigtimedwait. The
// host uses it for time limits and pause; a process in the box that forges
// it can only signal what it could signal anyway.
constexpr int kTreeSignalCarrier = SIGUSR2;
constexpr int kTreeSignalTag = 0x737478;  // "stx"
constexpr int tree_signal_value(int sig) {
  return (kTreeSignalTag << 8) | (sig & 0xff);
}

struct KernelRusage {
  int64_t utime_sec, utime_usec, stime_sec, stime_usec;
  int64_t maxrss, ixrss, idrss, isrss, minflt, majflt, nswap, inblock, oublock, msgsnd, msgrcv, nsignals,
      nvcsw, nivcsw;
};

inline void write_report(int fd, int status, const KernelRusage& ru) {
  InitReport rep;
  rep.wait_status = status;
  rep.magic = kInitReportMagic;
  rep.utime_us = ru.utime_sec * 1000000 + ru.utime_usec;
  rep.stime_us = ru.stime_sec * 1000000 + ru.stime_usec;
  rep.maxrss_kb = ru.maxrss;
  long w;
  do {
    w = sys::write(fd, &rep, sizeof rep);
  } while (w == -EINTR);
}

// With every signal blocked: reaps every child (orphans of the box too),
// forwards every other signal to PROGRAM (or, marked with
// a tree signal, to every process of the box), and when PROGRAM has
// ended writes an InitReport to STATUS_FD and exits, which makes the
// kernel kill whatever is left in the pid namespace.
[[noreturn]] inline void run_init_loop(pid_t program, int status_fd) {
  int program_status = 0;
  bool program_done = false;
  while (!program_done) {
    siginfo_t si;
    int sig = sys::sigtimedwait_all(&si);
    if (sig < 0) continue;  // EINTR
    if (sig == SIGCHLD) {
      for (;;) {
        int st = 0;
        pid_t r = sys::wait4(-1, &st, WNOHANG | __WALL);
        if (r <= 0) break;
        if (r == program) {
          program_status = st;
          program_done = true;
        }
      }
      continue;
    }
    if (sig == kTreeSignalCarrier && si.si_code == SI_QUEUE && si.si_pid == 0 &&
        (si.si_value.sival_int >> 8) == kTreeSignalTag) {
      int target = si.si_value.sival_int & 0xff;
      if (target >= 1 && target <= 64) (void)sys::kill(-1, target);  // every process of the box but this one
      continue;
    }
    // Forward to the program; if it is already gone the signal is moot.
    (void)sys::kill(program, sig);
  }
  // Everything reaped so far: the program, its reaped children and the
  // orphans this init reaped.
  KernelRusage ru{};
  (void)sys::getrusage(RUSAGE_CHILDREN, &ru);
  write_report(status_fd, program_status, ru);
  sys::exit_group(0);
}

}  // namespace sbx::launch
