/* sysfs: /sys must be absent from the box, or at least read-only (writable
 * sysfs reaches /sys/kernel/uevent_helper, a host-root program run on the
 * next uevent, and the cgroup v1 release_agent). Layers: mounts (no /sys). */
#define TECH "sys_absent"
#include <sys/statvfs.h>

#include "escape.h"

int main(void) {
  struct stat st;
  if (stat("/sys", &st) != 0) {
    int e = errno;
    if (e != ENOENT) setup_error("stat /sys: unexpected %s", errname(e));
    blocked("/sys: ENOENT (not mounted in the box)");
  }
  struct statvfs sv;
  if (statvfs("/sys", &sv) != 0) setup_error("statvfs /sys: %s", errname(errno));
  const char* files[] = {"/sys/kernel/uevent_helper", "/sys/fs/cgroup/memory/release_agent",
                         "/sys/power/state"};
  for (size_t i = 0; i < 3; i++) {
    int fd = open(files[i], O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      close(fd);
      escaped("opened %s for writing", files[i]);
    }
  }
  if (!(sv.f_flag & ST_RDONLY)) escaped("/sys is mounted read-write");
  blocked("/sys is present but read-only");
}
