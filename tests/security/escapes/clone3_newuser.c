/* clone3(CLONE_NEWUSER): clone3 passes its flags in memory, where a seccomp
 * filter cannot look; the default profile therefore answers clone3 with
 * ENOSYS (libc falls back to clone, whose flags are filtered).
 * Layers: seccomp (ENOSYS). */
#define TECH "clone3_newuser"
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>

#include "escape.h"

#ifndef SYS_clone3
#define SYS_clone3 435
#endif

struct esc_clone_args {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

int main(void) {
  struct esc_clone_args args;
  memset(&args, 0, sizeof args);
  args.flags = CLONE_NEWUSER;
  args.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid == 0) syscall(SYS_exit_group, 42);  // the child: no libc state touched
  if (pid > 0) {
    int st = 0;
    waitpid((pid_t)pid, &st, 0);
    escaped("clone3(CLONE_NEWUSER) started a child in a nested user namespace (its exit: %d)",
            WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  }
  int e = errno;
  if (!errno_in(e, ENOSYS, EPERM, EACCES, ENOSPC, 0))
    setup_error("clone3(CLONE_NEWUSER): unexpected %s", errname(e));
  blocked("clone3(CLONE_NEWUSER): %s", errname(e));
}
