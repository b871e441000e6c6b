/* setns(2) into the namespaces of pid 1 (the box init), through
 * /proc/1/ns/<type> and through pidfd_open(1). The init is not dumpable,
 * so its ns files must not even open; setns itself needs capabilities and
 * is on the default profile's deny list. Layers: ptrace access checks
 * (EACCES), caps (EPERM), seccomp (EPERM). */
#define TECH "setns_init"
#include <sched.h>

#include "escape.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

int main(void) {
  struct esc_log log = {0};
  const char* types[] = {"mnt", "pid", "net", "uts", "ipc", "cgroup", "user", "time"};
  int refused_open = 0, absent = 0;
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    char path[64];
    snprintf(path, sizeof path, "/proc/1/ns/%s", types[i]);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      if (e == ENOENT) {
        absent++;
        continue;
      }
      if (!errno_in(e, EACCES, EPERM, 0)) setup_error("open %s: unexpected %s", path, errname(e));
      refused_open++;
      continue;
    }
    if (setns(fd, 0) == 0) escaped("setns(%s) succeeded", path);
    int e = errno;
    close(fd);
    // EINVAL: joining the user namespace one is already in.
    if (!errno_in(e, EPERM, EACCES, EINVAL, 0)) setup_error("setns(%s): unexpected %s", path, errname(e));
    esc_logf(&log, "setns(%s): %s", path, errname(e));
  }
  if (refused_open > 0) esc_logf(&log, "open /proc/1/ns/*: EACCES for %d of %d", refused_open, 8 - absent);

  int pidfd = (int)syscall(SYS_pidfd_open, 1, 0);
  if (pidfd < 0) {
    int e = errno;
    if (!errno_in(e, EPERM, EACCES, ESRCH, ENOSYS, 0))
      setup_error("pidfd_open(1): unexpected %s", errname(e));
    esc_logf(&log, "pidfd_open(1): %s", errname(e));
  } else {
    const struct {
      int flag;
      const char* name;
    } ns[] = {{CLONE_NEWNS, "NEWNS"},     {CLONE_NEWPID, "NEWPID"},  {CLONE_NEWNET, "NEWNET"},
              {CLONE_NEWUTS, "NEWUTS"},   {CLONE_NEWIPC, "NEWIPC"},  {CLONE_NEWCGROUP, "NEWCGROUP"},
              {CLONE_NEWUSER, "NEWUSER"}, {CLONE_NEWTIME, "NEWTIME"}};
    struct esc_log pl = {0};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
      if (setns(pidfd, ns[i].flag) == 0) escaped("setns(pidfd of pid 1, CLONE_%s) succeeded", ns[i].name);
      int e = errno;
      if (!errno_in(e, EPERM, EACCES, EINVAL, 0))
        setup_error("setns(pidfd, CLONE_%s): unexpected %s", ns[i].name, errname(e));
      esc_logf(&pl, "%s %s", ns[i].name, errname(e));
    }
    close(pidfd);
    esc_logf(&log, "setns(pidfd_open(1)): %s", pl.text);
  }
  blocked("%s", log.text);
}
