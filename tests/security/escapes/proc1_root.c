/* /proc/<pid>/root traversal: for every other visible process (pid 1 is the
 * box init) /proc/<pid>/root must either be refused or lead back to the
 * box's own root, never to the host's; the host secret path
 * (SBX_SEC_SECRET) must not be reachable through it.
 * Layers: pid namespace, dumpability (EACCES), mount namespace. */
#define TECH "proc1_root"
#include <ctype.h>
#include <dirent.h>

#include "escape.h"

int main(void) {
  struct esc_log log = {0};
  const char* secret = need_env("SBX_SEC_SECRET");
  struct stat boxroot;
  if (stat("/", &boxroot) != 0) setup_error("stat /: %s", errname(errno));
  DIR* d = opendir("/proc");
  if (d == NULL) setup_error("opendir /proc: %s", errname(errno));
  int checked = 0;
  struct dirent* de;
  pid_t self = getpid();
  while ((de = readdir(d)) != NULL) {
    if (!isdigit((unsigned char)de->d_name[0]) || atoi(de->d_name) == self) continue;
    char path[1200];
    snprintf(path, sizeof path, "/proc/%s/root/", de->d_name);
    checked++;
    struct stat st;
    if (stat(path, &st) != 0) {
      int e = errno;
      if (e == ENOENT) continue;  // exited meanwhile
      if (!errno_in(e, EACCES, EPERM, 0)) setup_error("stat %s: unexpected %s", path, errname(e));
      esc_logf(&log, "/proc/%s/root: %s", de->d_name, errname(e));
      continue;
    }
    if (st.st_dev != boxroot.st_dev || st.st_ino != boxroot.st_ino)
      escaped("/proc/%s/root is a different root (dev %lu ino %lu) than the box's", de->d_name,
              (unsigned long)st.st_dev, (unsigned long)st.st_ino);
    snprintf(path, sizeof path, "/proc/%s/root%s", de->d_name, secret);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) escaped("read the host secret through %s", path);
    esc_logf(&log, "/proc/%s/root is the box's root; secret: %s", de->d_name, errname(errno));
  }
  closedir(d);
  if (checked == 0) setup_error("no other process visible in /proc (pid 1 should be)");
  blocked("%s", log.text);
}
