/* mount(2) a tmpfs over / (and over /usr): a box without CAP_SYS_ADMIN in its
 * user namespace must not mount anything. The privilege check (may_mount)
 * comes before any argument check, so an errno other than EPERM means it
 * passed. Layers: caps (EPERM), seccomp (EPERM). */
#define TECH "mount_tmpfs"
#include <sys/mount.h>

#include "escape.h"

int main(void) {
  struct esc_log log = {0};
  const char* targets[] = {"/", "/usr", "/proc"};
  for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
    if (mount("sbx-escape", targets[i], "tmpfs", 0, "size=64k") == 0) {
      umount2(targets[i], MNT_DETACH);
      escaped("mount(tmpfs, %s) succeeded", targets[i]);
    }
    int e = errno;
    if (!errno_in(e, EPERM, EACCES, 0))
      escaped("mount(tmpfs, %s): %s - the privilege check passed", targets[i], errname(e));
    esc_logf(&log, "mount(tmpfs, %s): %s", targets[i], errname(e));
  }
  blocked("%s", log.text);
}
