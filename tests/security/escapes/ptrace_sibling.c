/* ptrace(PTRACE_ATTACH) of a sibling process in the same box (same uid,
 * dumpable): the kernel's DAC rules allow it, so only the default seccomp
 * profile (ptrace -> EPERM) stops it. Tracing is a classic way to hijack a
 * more trusted process and to bypass seccomp itself on old kernels. */
#define TECH "ptrace_sibling"
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "escape.h"

int main(void) {
  pid_t target = fork();
  if (target < 0) setup_error("fork: %s", errname(errno));
  if (target == 0) {
    for (;;) pause();
  }
  int pfd[2];
  if (pipe(pfd) != 0) setup_error("pipe: %s", errname(errno));
  pid_t tracer = fork();
  if (tracer < 0) setup_error("fork: %s", errname(errno));
  if (tracer == 0) {
    close(pfd[0]);
    int result[2] = {0, 0};
    if (ptrace(PTRACE_ATTACH, target, NULL, NULL) == 0) {
      int st;
      waitpid(target, &st, __WALL);
      ptrace(PTRACE_DETACH, target, NULL, NULL);
      result[0] = 1;
    } else {
      result[1] = errno;
    }
    if (write(pfd[1], result, sizeof result) != (ssize_t)sizeof result) _exit(3);
    _exit(0);
  }
  close(pfd[1]);
  int result[2] = {0, 0};
  ssize_t n = read(pfd[0], result, sizeof result);
  waitpid(tracer, NULL, 0);
  kill(target, SIGKILL);
  waitpid(target, NULL, 0);
  if (n != (ssize_t)sizeof result) setup_error("the tracer process did not report");
  if (result[0] == 1) escaped("PTRACE_ATTACH of sibling pid %d succeeded", (int)target);
  if (!errno_in(result[1], EPERM, EACCES, 0))
    setup_error("PTRACE_ATTACH sibling: unexpected %s", errname(result[1]));
  blocked("PTRACE_ATTACH of sibling pid %d: %s", (int)target, errname(result[1]));
}
