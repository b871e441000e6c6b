/* Inherited host descriptors: the harness opens a host file on fd 7 and a
 * host directory on fd 8 (without O_CLOEXEC) before starting sbx; an fd to a
 * host directory is a full escape (openat(fd, "..") walks the host tree).
 * Every fd above 2 must be closed in the box, and the init's fds must not be
 * reachable through /proc/1/fd. Layers: fd hygiene (close_range), dumpability. */
#define TECH "inherited_fds"
#include <dirent.h>

#include "escape.h"

int main(void) {
  struct esc_log log = {0};
  const int wanted[] = {7, 8};
  for (size_t i = 0; i < 2; i++) {
    if (fcntl(wanted[i], F_GETFD) != -1) {
      char p[64], target[512] = "?";
      snprintf(p, sizeof p, "/proc/self/fd/%d", wanted[i]);
      ssize_t n = readlink(p, target, sizeof target - 1);
      if (n >= 0) target[n] = '\0';
      escaped("fd %d is open in the box (-> %s)", wanted[i], target);
    }
    if (errno != EBADF) setup_error("fcntl(%d, F_GETFD): unexpected %s", wanted[i], errname(errno));
    esc_logf(&log, "fcntl(%d, F_GETFD): EBADF", wanted[i]);
  }
  // Any other descriptor above stderr (the directory stream opened below is ours).
  DIR* d = opendir("/proc/self/fd");
  if (d == NULL) setup_error("opendir /proc/self/fd: %s", errname(errno));
  int own = dirfd(d);
  struct dirent* de;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.') continue;
    int fd = atoi(de->d_name);
    if (fd <= 2 || fd == own) continue;
    char p[64], target[512] = "?";
    snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(p, target, sizeof target - 1);
    if (n >= 0) target[n] = '\0';
    escaped("fd %d is open in the box (-> %s)", fd, target);
  }
  closedir(d);
  esc_logf(&log, "no fd above 2 open");
  d = opendir("/proc/1/fd");
  if (d != NULL) {
    int n = 0;
    while ((de = readdir(d)) != NULL) n += de->d_name[0] != '.';
    closedir(d);
    escaped("/proc/1/fd of the box init is listable (%d entries)", n);
  }
  if (!errno_in(errno, EACCES, EPERM, 0)) setup_error("opendir /proc/1/fd: unexpected %s", errname(errno));
  esc_logf(&log, "/proc/1/fd: %s", errname(errno));
  blocked("%s", log.text);
}
