/* Overwrite the runtime's binary through /proc/<pid>/exe (runc
 * CVE-2019-5736): the box init's executable must not open for writing,
 * neither directly nor by re-opening an O_PATH descriptor through
 * /proc/self/fd. Nothing is ever written. Layers: dumpability (EACCES),
 * ETXTBSY for a running binary, read-only mounts. */
#define TECH "proc_init_exe"
#include "escape.h"

int main(void) {
  struct esc_log log = {0};
  int fd = open("/proc/1/exe", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) escaped("opened /proc/1/exe for writing");
  int e = errno;
  if (!errno_in(e, EACCES, EPERM, ETXTBSY, EROFS, 0))
    setup_error("open /proc/1/exe: unexpected %s", errname(e));
  esc_logf(&log, "open(/proc/1/exe, O_WRONLY): %s", errname(e));

  int path = open("/proc/1/exe", O_PATH | O_CLOEXEC);
  if (path < 0) {
    e = errno;
    if (!errno_in(e, EACCES, EPERM, 0)) setup_error("open /proc/1/exe O_PATH: unexpected %s", errname(e));
    esc_logf(&log, "open(/proc/1/exe, O_PATH): %s", errname(e));
  } else {
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", path);
    fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) escaped("re-opened /proc/1/exe for writing through an O_PATH descriptor");
    e = errno;
    if (!errno_in(e, EACCES, EPERM, ETXTBSY, EROFS, 0)) setup_error("reopen: unexpected %s", errname(e));
    esc_logf(&log, "O_PATH then reopen O_WRONLY: %s", errname(e));
    close(path);
  }
  // Our own executable, which lives on the harness's read-only bind.
  fd = open("/proc/self/exe", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) escaped("opened /proc/self/exe for writing");
  e = errno;
  if (!errno_in(e, EACCES, EPERM, ETXTBSY, EROFS, 0))
    setup_error("open /proc/self/exe: unexpected %s", errname(e));
  esc_logf(&log, "open(/proc/self/exe, O_WRONLY): %s", errname(e));
  blocked("%s", log.text);
}
