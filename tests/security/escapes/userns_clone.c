/* clone(CLONE_NEWUSER): the same nested user namespace through clone(2)
 * (raw syscall, fork-like). Layers: seccomp (EPERM, argument filter on the
 * clone flags); user.max_user_namespaces (ENOSPC). */
#define TECH "userns_clone"
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>

#include "escape.h"

int main(void) {
  long pid = syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), 0UL, NULL, NULL, 0UL);
  if (pid == 0) _exit(42);  // the child, in a new user namespace
  if (pid > 0) {
    int st = 0;
    waitpid((pid_t)pid, &st, 0);
    escaped("clone(CLONE_NEWUSER) started a child in a nested user namespace (its exit: %d)",
            WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  }
  int e = errno;
  if (!errno_in(e, EPERM, EACCES, ENOSPC, 0)) setup_error("clone(CLONE_NEWUSER): unexpected %s", errname(e));
  blocked("clone(CLONE_NEWUSER): %s", errname(e));
}
