/* Boot another kernel: kexec_load with too many segments and
 * kexec_file_load with invalid flags. The privilege check comes first, the
 * argument checks after it, so EINVAL means the privilege check passed and
 * nothing can ever be loaded. Layers: caps (EPERM), seccomp (EPERM);
 * ENOSYS without CONFIG_KEXEC. */
#define TECH "kexec_load"
#include "escape.h"

int main(void) {
  struct esc_log log = {0};
  long r = syscall(SYS_kexec_load, 0UL, 17UL /* > KEXEC_SEGMENT_MAX */, NULL, 0UL);
  int e = errno;
  if (r == 0) escaped("kexec_load returned 0");
  if (!errno_in(e, EPERM, EACCES, ENOSYS, 0))
    escaped("kexec_load: %s - the privilege check passed", errname(e));
  esc_logf(&log, "kexec_load: %s%s", errname(e), e == ENOSYS ? " (kernel without kexec)" : "");
  r = syscall(SYS_kexec_file_load, -1, -1, 0UL, "", 0x80000000UL /* invalid flag */);
  e = errno;
  if (r == 0) escaped("kexec_file_load returned 0");
  if (!errno_in(e, EPERM, EACCES, ENOSYS, 0))
    escaped("kexec_file_load: %s - the privilege check passed", errname(e));
  esc_logf(&log, "kexec_file_load: %s", errname(e));
  blocked("%s", log.text);
}
