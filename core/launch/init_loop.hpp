// The loop of a box's pid 1, shared by the init image
// (core/launch/init_image/) and the in-process init of the classic launch
// mode (core/launch/child.cpp). Raw system calls only.
#pragma once

#include <signal.h>
#include <sys/wait.h>

#include "core/launch/raw_syscalls.hpp"

namespace sbx::launch {

// With every signal blocked: reaps every child (orphans of the box too),
// forwards every other signal to PROGRAM, and when PROGRAM has ended writes
// its raw wait status (4 bytes) to STATUS_FD and exits, which makes the
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
    // Forward to the program; if it is already gone the signal is moot.
    (void)sys::kill(program, sig);
  }
  long w;
  do {
    w = sys::write(status_fd, &program_status, sizeof program_status);
  } while (w == -EINTR);
  sys::exit_group(0);
}

}  // namespace sbx::launch
