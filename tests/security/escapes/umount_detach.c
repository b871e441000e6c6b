/* umount2(MNT_DETACH) /proc, /usr or /dev to uncover what lies below (the
 * classic way to unmask a masked path). may_mount() is checked first, so
 * any errno but EPERM (e.g. EINVAL for a locked mount) means the privilege
 * check passed. Layers: caps (EPERM), seccomp (EPERM). */
#define TECH "umount_detach"
#include <sys/mount.h>

#include "escape.h"

int main(void) {
  struct esc_log log = {0};
  const char* targets[] = {"/proc", "/usr", "/dev", "/"};
  for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
    if (umount2(targets[i], MNT_DETACH) == 0) escaped("umount2(%s, MNT_DETACH) succeeded", targets[i]);
    int e = errno;
    if (!errno_in(e, EPERM, EACCES, 0))
      escaped("umount2(%s): %s - the privilege check passed", targets[i], errname(e));
    esc_logf(&log, "umount2(%s): %s", targets[i], errname(e));
  }
  blocked("%s", log.text);
}
