/* process_vm_readv of a sibling process in the same box (same uid,
 * dumpable): the kernel allows it; the default seccomp profile must refuse
 * the process_vm_* family (EPERM). Layers: seccomp. */
#define TECH "process_vm_sibling"
#include <signal.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "escape.h"

static volatile char secret[32] = "sibling-secret-4711";

int main(void) {
  pid_t child = fork();
  if (child < 0) setup_error("fork: %s", errname(errno));
  if (child == 0) {
    secret[0] = 'S';  // the copy in the child differs from the parent's
    for (;;) pause();
  }
  char buf[sizeof secret];
  memset(buf, 0, sizeof buf);
  struct iovec local = {buf, sizeof buf};
  struct iovec remote = {(void*)secret, sizeof secret};
  ssize_t n = process_vm_readv(child, &local, 1, &remote, 1, 0);
  int e = errno;
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  if (n >= 0) escaped("process_vm_readv read %zd bytes of sibling %d: '%.20s'", n, (int)child, buf);
  if (e == EFAULT) escaped("process_vm_readv(sibling) passed the permission check");
  if (!errno_in(e, EPERM, EACCES, 0)) setup_error("process_vm_readv(sibling): unexpected %s", errname(e));
  blocked("process_vm_readv(sibling %d): %s", (int)child, errname(e));
}
