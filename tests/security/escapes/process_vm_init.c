/* process_vm_readv / process_vm_writev of pid 1 (the box init): needs ptrace
 * access, which a non-dumpable init denies; the syscalls are also on the
 * default profile's deny list. EFAULT would mean the permission check passed
 * (only the address was wrong), so it counts as an escape.
 * Layers: dumpability (EPERM), seccomp (EPERM). */
#define TECH "process_vm_init"
#include <sys/uio.h>

#include "escape.h"

int main(void) {
  struct esc_log log = {0};
  static char buf[64];
  // The remote address is the second page, which no process can map
  // (vm.mmap_min_addr): the permission check comes before any copy, and even
  // a granted write cannot change anything in the init.
  struct iovec local = {buf, sizeof buf};
  struct iovec remote = {(void*)0x1000, sizeof buf};
  ssize_t n = process_vm_readv(1, &local, 1, &remote, 1, 0);
  if (n >= 0) escaped("process_vm_readv(pid 1) read %zd bytes", n);
  int e = errno;
  if (e == EFAULT) escaped("process_vm_readv(pid 1) passed the permission check (EFAULT on the address)");
  if (!errno_in(e, EPERM, EACCES, ESRCH, 0)) setup_error("process_vm_readv(1): unexpected %s", errname(e));
  esc_logf(&log, "process_vm_readv(1): %s", errname(e));
  n = process_vm_writev(1, &local, 1, &remote, 1, 0);
  if (n >= 0) escaped("process_vm_writev(pid 1) was permitted");
  e = errno;
  if (e == EFAULT) escaped("process_vm_writev(pid 1) passed the permission check");
  if (!errno_in(e, EPERM, EACCES, ESRCH, 0)) setup_error("process_vm_writev(1): unexpected %s", errname(e));
  esc_logf(&log, "process_vm_writev(1): %s", errname(e));
  blocked("%s", log.text);
}
