/* /proc/sysrq-trigger (reboot, crash, kill-all on the host) and
 * /proc/sys/kernel/sysrq opened for writing. Nothing is ever written.
 * Layers: DAC (EACCES), absent without CONFIG_MAGIC_SYSRQ (ENOENT),
 * a read-only or masked /proc entry. */
#define TECH "sysrq_trigger"
#include "escape.h"

int main(void) {
  struct esc_log log = {0};
  const char* files[] = {"/proc/sysrq-trigger", "/proc/sys/kernel/sysrq"};
  for (size_t i = 0; i < 2; i++) {
    int fd = open(files[i], O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      close(fd);
      escaped("opened %s for writing", files[i]);
    }
    int e = errno;
    if (!errno_in(e, EACCES, EPERM, EROFS, ENOENT, 0))
      setup_error("open %s: unexpected %s", files[i], errname(e));
    esc_logf(&log, "open(%s, O_WRONLY): %s%s", files[i], errname(e),
             e == ENOENT ? " (not in this kernel/box)" : "");
  }
  blocked("%s", log.text);
}
