/* io_uring_setup: io_uring executes operations in kernel workers that
 * seccomp never sees (an io_uring openat/connect bypasses a syscall filter)
 * and has been a rich source of kernel bugs. The default profile refuses
 * io_uring_setup/enter/register. Layers: seccomp (EPERM); the host's
 * kernel.io_uring_disabled. */
#define TECH "io_uring_setup"
#include <linux/io_uring.h>

#include "escape.h"

#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup 425
#endif

int main(void) {
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  long fd = syscall(SYS_io_uring_setup, 4, &p);
  if (fd >= 0) {
    close((int)fd);
    escaped("io_uring_setup created a ring (sq %u entries)", p.sq_entries);
  }
  int e = errno;
  if (!errno_in(e, EPERM, EACCES, ENOSYS, 0)) setup_error("io_uring_setup: unexpected %s", errname(e));
  blocked("io_uring_setup: %s", errname(e));
}
