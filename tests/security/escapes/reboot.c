/* reboot(2): the capability check (CAP_SYS_BOOT) comes before the magic
 * number check, so a call with a wrong second magic number can never do
 * anything yet tells which check refused it: EPERM = refused by privilege,
 * EINVAL = the privilege check passed (an escape). Layers: caps (EPERM),
 * seccomp (EPERM). */
#define TECH "reboot"
#include <linux/reboot.h>

#include "escape.h"

int main(void) {
  long r = syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, 0x0badc0de, LINUX_REBOOT_CMD_CAD_OFF, NULL);
  if (r == 0) escaped("reboot() with a wrong magic number returned 0");
  int e = errno;
  if (e == EINVAL)
    escaped("reboot(): EINVAL - the CAP_SYS_BOOT check passed (only the bad magic number stopped it)");
  if (!errno_in(e, EPERM, EACCES, 0)) setup_error("reboot: unexpected %s", errname(e));
  blocked("reboot(CAD_OFF, bad magic): %s", errname(e));
}
