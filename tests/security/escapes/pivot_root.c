/* pivot_root(".", ".") from / (stack the old root on top and detach it):
 * changing the root of the mount namespace needs CAP_SYS_ADMIN, checked
 * before the arguments (so EINVAL means the check passed).
 * Layers: caps (EPERM), seccomp (EPERM). */
#define TECH "pivot_root"
#include "escape.h"

int main(void) {
  if (chdir("/usr") != 0) setup_error("chdir(/usr): %s", errname(errno));
  if (syscall(SYS_pivot_root, ".", ".") == 0) escaped("pivot_root(/usr, /usr) succeeded");
  int e = errno;
  if (!errno_in(e, EPERM, EACCES, 0)) escaped("pivot_root: %s - the privilege check passed", errname(e));
  blocked("pivot_root(\".\", \".\") in /usr: %s", errname(e));
}
