/* /proc/1/mem of the box init opened for reading and writing (a write
 * there bypasses page protections): needs ptrace access.
 * Layers: dumpability / ptrace access checks (EACCES). */
#define TECH "proc_init_mem"
#include "escape.h"

int main(void) {
  struct esc_log log = {0};
  const int modes[] = {O_RDWR, O_RDONLY};
  for (size_t i = 0; i < 2; i++) {
    int fd = open("/proc/1/mem", modes[i] | O_CLOEXEC);
    if (fd >= 0) escaped("opened /proc/1/mem %s", modes[i] == O_RDWR ? "read-write" : "read-only");
    int e = errno;
    if (!errno_in(e, EACCES, EPERM, 0)) setup_error("open /proc/1/mem: unexpected %s", errname(e));
    esc_logf(&log, "open(/proc/1/mem, %s): %s", modes[i] == O_RDWR ? "O_RDWR" : "O_RDONLY", errname(e));
  }
  blocked("%s", log.text);
}
