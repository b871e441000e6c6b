/* Raw I/O port access: iopl(3) and ioperm(0x80, 1, 1). Needs CAP_SYS_RAWIO.
 * Layers: caps (EPERM), seccomp (EPERM); ENOSYS on kernels without
 * CONFIG_X86_IOPL_IOPERM. */
#define TECH "iopl_ioperm"
#include "escape.h"

int main(void) {
#if defined(__x86_64__)
  struct esc_log log = {0};
  if (syscall(SYS_iopl, 3) == 0) escaped("iopl(3) succeeded");
  int e = errno;
  if (!errno_in(e, EPERM, EACCES, ENOSYS, 0)) setup_error("iopl: unexpected %s", errname(e));
  esc_logf(&log, "iopl(3): %s", errname(e));
  if (syscall(SYS_ioperm, 0x80UL, 1UL, 1) == 0) escaped("ioperm(0x80) succeeded");
  e = errno;
  if (!errno_in(e, EPERM, EACCES, ENOSYS, 0)) setup_error("ioperm: unexpected %s", errname(e));
  esc_logf(&log, "ioperm(0x80): %s", errname(e));
  blocked("%s", log.text);
#else
  setup_error("x86_64 only");
#endif
}
