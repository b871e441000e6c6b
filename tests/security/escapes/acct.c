/* Process accounting: acct(2) makes the kernel append a record for every
 * process exit on the host to a file of the caller's choice. Needs
 * CAP_SYS_PACCT in the initial namespace. If it ever succeeds, accounting is
 * switched off again at once. Layers: caps (EPERM), seccomp (EPERM). */
#define TECH "acct"
#include "escape.h"

int main(void) {
  char path[64];
  snprintf(path, sizeof path, "/dev/shm/sbx-acct-%d", (int)getpid());
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) setup_error("create %s: %s", path, errname(errno));
  close(fd);
  int r = acct(path);
  int e = errno;
  if (r == 0) acct(NULL);
  unlink(path);
  if (r == 0) escaped("acct(%s) switched process accounting on", path);
  if (!errno_in(e, EPERM, EACCES, ENOSYS, 0)) setup_error("acct: unexpected %s", errname(e));
  blocked("acct(%s): %s", path, errname(e));
}
