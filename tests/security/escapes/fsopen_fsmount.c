/* The new mount API: fsopen("tmpfs") + fsconfig + fsmount + move_mount, and
 * open_tree(OPEN_TREE_CLONE) to copy a mount. Each needs CAP_SYS_ADMIN over
 * the mount namespace. Layers: caps (EPERM), seccomp (EPERM). */
#define TECH "fsopen_fsmount"
#include <linux/mount.h>

#include "escape.h"

#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef FSCONFIG_CMD_CREATE
#define FSCONFIG_CMD_CREATE 6
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif

int main(void) {
  struct esc_log log = {0};
  int fs = (int)syscall(SYS_fsopen, "tmpfs", 0);
  if (fs >= 0) {
    const char* what = "fsopen(tmpfs) succeeded";
    if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0) {
      int mnt = (int)syscall(SYS_fsmount, fs, 0, 0);
      if (mnt >= 0) {
        what = "fsopen+fsconfig+fsmount created a detached tmpfs mount";
        close(mnt);
      }
    }
    close(fs);
    escaped("%s", what);
  }
  int e = errno;
  if (!errno_in(e, EPERM, EACCES, 0)) escaped("fsopen(tmpfs): %s - the privilege check passed", errname(e));
  esc_logf(&log, "fsopen(tmpfs): %s", errname(e));

  int tree = (int)syscall(SYS_open_tree, AT_FDCWD, "/usr", OPEN_TREE_CLONE | O_CLOEXEC);
  if (tree >= 0) {
    close(tree);
    escaped("open_tree(/usr, OPEN_TREE_CLONE) cloned a mount");
  }
  e = errno;
  if (!errno_in(e, EPERM, EACCES, 0))
    escaped("open_tree(OPEN_TREE_CLONE): %s - the privilege check passed", errname(e));
  esc_logf(&log, "open_tree(OPEN_TREE_CLONE): %s", errname(e));
  blocked("%s", log.text);
}
