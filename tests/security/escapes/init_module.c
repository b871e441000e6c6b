/* Load a kernel module: init_module with an empty image and finit_module on
 * /dev/null. The privilege check (CAP_SYS_MODULE in the initial namespace)
 * comes first; any other error (ENOEXEC, EINVAL, EFAULT) means it passed.
 * Layers: caps (EPERM), seccomp (EPERM); ENOSYS without CONFIG_MODULES. */
#define TECH "init_module"
#include "escape.h"

int main(void) {
  struct esc_log log = {0};
  static char image[16];
  long r = syscall(SYS_init_module, image, 0UL, "");
  int e = errno;
  if (r == 0) escaped("init_module(empty image) returned 0");
  if (!errno_in(e, EPERM, EACCES, ENOSYS, 0))
    escaped("init_module: %s - the privilege check passed", errname(e));
  esc_logf(&log, "init_module: %s%s", errname(e), e == ENOSYS ? " (kernel without modules)" : "");
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd < 0) setup_error("open /dev/null: %s", errname(errno));
  r = syscall(SYS_finit_module, fd, "", 0);
  e = errno;
  if (r == 0) escaped("finit_module(/dev/null) returned 0");
  if (!errno_in(e, EPERM, EACCES, ENOSYS, 0))
    escaped("finit_module: %s - the privilege check passed", errname(e));
  esc_logf(&log, "finit_module: %s", errname(e));
  blocked("%s", log.text);
}
