/* Write host kernel settings through /proc/sys: kernel.core_pattern (a
 * "|/path" pattern runs a program as host root on the next crash - a classic
 * container escape), kernel.sysrq, vm.overcommit_memory, and the hostname
 * (namespaced, but not the box user's to change). Only open(O_WRONLY) is
 * attempted: an open that succeeds is already the escape, and nothing is
 * ever written. Layers: DAC (the files belong to the host's root, which is
 * not the box user) -> EACCES; a read-only /proc/sys mount -> EROFS. */
#define TECH "proc_sys_write"
#include "escape.h"

int main(void) {
  struct esc_log log = {0};
  const char* files[] = {"/proc/sys/kernel/core_pattern",  "/proc/sys/kernel/sysrq",
                         "/proc/sys/vm/overcommit_memory", "/proc/sys/kernel/hostname",
                         "/proc/sys/kernel/modprobe",      "/proc/sys/fs/suid_dumpable"};
  int tried = 0;
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    int fd = open(files[i], O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      close(fd);  // nothing written
      escaped("opened %s for writing", files[i]);
    }
    int e = errno;
    if (e == ENOENT) continue;  // not in this kernel
    if (!errno_in(e, EACCES, EPERM, EROFS, 0)) setup_error("open %s: unexpected %s", files[i], errname(e));
    esc_logf(&log, "%s: %s", files[i] + 10, errname(e));
    tried++;
  }
  if (tried == 0) setup_error("none of the /proc/sys files exists");
  blocked("open(O_WRONLY) %s", log.text);
}
