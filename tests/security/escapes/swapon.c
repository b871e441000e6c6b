/* swapon(2) / swapoff(2): host-wide memory management, CAP_SYS_ADMIN in the
 * initial namespace checked first (a directory as "swap file" could never be
 * accepted). Layers: caps (EPERM), seccomp (EPERM); ENOSYS without swap. */
#define TECH "swapon"
#include "escape.h"

int main(void) {
  struct esc_log log = {0};
  long r = syscall(SYS_swapon, "/dev/shm", 0);
  int e = errno;
  if (r == 0) escaped("swapon(/dev/shm) returned 0");
  if (!errno_in(e, EPERM, EACCES, ENOSYS, 0)) escaped("swapon: %s - the privilege check passed", errname(e));
  esc_logf(&log, "swapon: %s", errname(e));
  r = syscall(SYS_swapoff, "/dev/shm");
  e = errno;
  if (r == 0) escaped("swapoff(/dev/shm) returned 0");
  if (!errno_in(e, EPERM, EACCES, ENOSYS, 0)) escaped("swapoff: %s - the privilege check passed", errname(e));
  esc_logf(&log, "swapoff: %s", errname(e));
  blocked("%s", log.text);
}
