/* Read a host file outside the binds: the harness creates a secret file in
 * a host temp directory that is not bound into the box and passes its host
 * path (SBX_SEC_SECRET). Opening it, directly or through /proc/self/root
 * or "..", must fail. Layers: mount namespace + pivot_root (ENOENT). */
#define TECH "host_secret"
#include "escape.h"

int main(void) {
  struct esc_log log = {0};
  const char* secret = need_env("SBX_SEC_SECRET");
  char paths[3][1024];
  snprintf(paths[0], sizeof paths[0], "%s", secret);
  snprintf(paths[1], sizeof paths[1], "/proc/self/root%s", secret);
  snprintf(paths[2], sizeof paths[2], "/../../../..%s", secret);
  for (size_t i = 0; i < 3; i++) {
    int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      char buf[64] = "";
      ssize_t n = read(fd, buf, sizeof buf - 1);
      buf[n > 0 ? n : 0] = '\0';
      buf[strcspn(buf, "\n")] = '\0';
      escaped("read the host secret through %s: '%s'", paths[i], buf);
    }
    int e = errno;
    if (!errno_in(e, ENOENT, EACCES, EPERM, 0)) setup_error("open %s: unexpected %s", paths[i], errname(e));
    esc_logf(&log, "%s: %s", i == 0 ? "host path" : paths[i], errname(e));
  }
  blocked("%s", log.text);
}
