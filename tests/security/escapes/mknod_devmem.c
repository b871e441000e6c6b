/* Physical memory through /dev/mem: the box's /dev has no mem node, and
 * mknod(2) of a character device (1:1 = /dev/mem) must fail (CAP_MKNOD is
 * never granted in a user namespace) - both in the writable /dev/shm and in
 * the read-only /dev. Layers: minimal /dev (ENOENT), caps / user namespace
 * (EPERM), nodev mounts, read-only /dev (EROFS). */
#define TECH "mknod_devmem"
#include <sys/sysmacros.h>

#include "escape.h"

int main(void) {
  struct esc_log log = {0};
  int fd = open("/dev/mem", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) escaped("opened /dev/mem");
  int e = errno;
  if (!errno_in(e, ENOENT, EACCES, EPERM, 0)) setup_error("open /dev/mem: unexpected %s", errname(e));
  esc_logf(&log, "open /dev/mem: %s", errname(e));

  char node[64];
  snprintf(node, sizeof node, "/dev/shm/sbx-mem-%d", (int)getpid());
  const char* places[] = {node, "/dev/sbx-mem"};
  for (size_t i = 0; i < 2; i++) {
    if (mknod(places[i], S_IFCHR | 0600, makedev(1, 1)) == 0) {
      fd = open(places[i], O_RDONLY | O_CLOEXEC);
      int oe = errno;
      unlink(places[i]);
      if (fd >= 0) escaped("created and opened a /dev/mem node at %s", places[i]);
      escaped("mknod(%s, c 1:1) created a device node (open: %s)", places[i], errname(oe));
    }
    e = errno;
    if (!errno_in(e, EPERM, EACCES, EROFS, 0)) setup_error("mknod %s: unexpected %s", places[i], errname(e));
    esc_logf(&log, "mknod(%s, c 1:1): %s", places[i], errname(e));
  }
  blocked("%s", log.text);
}
