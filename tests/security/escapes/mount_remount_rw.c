/* Remount a read-only bind (/usr, the harness's /ro) read-write, or make /
 * writable: MS_REMOUNT|MS_BIND without MS_RDONLY. Layers: caps (EPERM),
 * locked mount flags in a less privileged mount namespace, seccomp (EPERM). */
#define TECH "mount_remount_rw"
#include <sys/mount.h>
#include <sys/statvfs.h>

#include "escape.h"

int main(void) {
  struct esc_log log = {0};
  const char* targets[] = {"/usr", "/ro", "/"};
  for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
    struct statvfs sv;
    if (statvfs(targets[i], &sv) != 0) setup_error("statvfs(%s): %s", targets[i], errname(errno));
    if (!(sv.f_flag & ST_RDONLY)) escaped("%s is already writable (not mounted read-only)", targets[i]);
    if (mount(NULL, targets[i], NULL, MS_REMOUNT | MS_BIND, NULL) == 0) {
      if (statvfs(targets[i], &sv) == 0 && !(sv.f_flag & ST_RDONLY))
        escaped("remounted %s read-write", targets[i]);
      escaped("mount(MS_REMOUNT|MS_BIND, %s) succeeded (still read-only)", targets[i]);
    }
    int e = errno;
    if (!errno_in(e, EPERM, EACCES, 0))
      escaped("remount %s: %s - the privilege check passed", targets[i], errname(e));
    esc_logf(&log, "remount rw %s: %s", targets[i], errname(e));
  }
  blocked("%s", log.text);
}
