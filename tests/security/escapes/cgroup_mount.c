/* The cgroup v1 release_agent escape (CVE-2022-0492): mount a cgroup v1
 * hierarchy, set release_agent, trigger it. Here: the mount itself (v1 and
 * v2) must fail, and no cgroupfs may be visible. Layers: caps (EPERM),
 * no /sys (mounts), seccomp (EPERM). */
#define TECH "cgroup_mount"
#include <sys/mount.h>

#include "escape.h"

int main(void) {
  struct esc_log log = {0};
  struct stat st;
  const char* visible[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/memory/release_agent"};
  for (size_t i = 0; i < 2; i++) {
    if (stat(visible[i], &st) == 0) {
      int fd = open(visible[i], O_WRONLY | O_CLOEXEC);
      if (fd >= 0) escaped("%s is writable", visible[i]);
      esc_logf(&log, "%s visible but not writable (%s)", visible[i], errname(errno));
    }
  }
  char dir[64];
  snprintf(dir, sizeof dir, "/dev/shm/sbx-cg-%d", (int)getpid());
  if (mkdir(dir, 0700) != 0) setup_error("mkdir %s: %s", dir, errname(errno));
  const char* types[][2] = {{"cgroup", "rdma"}, {"cgroup", "none,name=sbxescape"}, {"cgroup2", NULL}};
  for (size_t i = 0; i < 3; i++) {
    if (mount("cgroup", dir, types[i][0], 0, types[i][1]) == 0) {
      umount2(dir, MNT_DETACH);
      rmdir(dir);
      escaped("mounted %s (%s)", types[i][0], types[i][1] ? types[i][1] : "");
    }
    int e = errno;
    if (!errno_in(e, EPERM, EACCES, 0)) {
      rmdir(dir);
      escaped("mount %s: %s - the privilege check passed", types[i][0], errname(e));
    }
    esc_logf(&log, "mount(%s%s%s): %s", types[i][0], types[i][1] ? " " : "", types[i][1] ? types[i][1] : "",
             errname(e));
  }
  rmdir(dir);
  blocked("%s", log.text);
}
