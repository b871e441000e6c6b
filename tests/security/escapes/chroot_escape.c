/* The classic chroot escape: keep a descriptor to the current root,
 * chroot() into a subdirectory, fchdir() back out, walk "..", chroot(".").
 * chroot needs CAP_SYS_CHROOT; even if it were allowed the walk may only
 * reach the box's own root (pivot_root, old root detached).
 * Layers: caps (EPERM); mount namespace. */
#define TECH "chroot_escape"
#include "escape.h"

int main(void) {
  struct stat boxroot;
  if (stat("/", &boxroot) != 0) setup_error("stat /: %s", errname(errno));
  int old = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (old < 0) setup_error("open /: %s", errname(errno));
  if (chroot("/usr") != 0) {
    int e = errno;
    if (!errno_in(e, EPERM, EACCES, 0)) setup_error("chroot(/usr): unexpected %s", errname(e));
    blocked("chroot(/usr): %s", errname(e));
  }
  if (fchdir(old) != 0) setup_error("fchdir: %s", errname(errno));
  for (int i = 0; i < 64; i++) {
    if (chdir("..") != 0) break;
  }
  if (chroot(".") != 0)
    escaped("chroot(/usr) succeeded (CAP_SYS_CHROOT held); chroot(.) then: %s", errname(errno));
  struct stat st;
  if (stat("/", &st) != 0) escaped("chroot succeeded; stat / then: %s", errname(errno));
  if (st.st_dev != boxroot.st_dev || st.st_ino != boxroot.st_ino)
    escaped("chroot + fchdir + \"..\" reached a root outside the box (dev %lu ino %lu)",
            (unsigned long)st.st_dev, (unsigned long)st.st_ino);
  escaped("chroot(2) is allowed (CAP_SYS_CHROOT held); the walk only reached the box's own root");
}
