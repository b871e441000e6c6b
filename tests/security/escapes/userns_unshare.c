/* unshare(CLONE_NEWUSER): a nested user namespace hands its creator a full
 * capability set inside it, the first step of most kernel-bug escapes that
 * need CAP_SYS_ADMIN / CAP_NET_ADMIN "in some namespace". The default
 * profile refuses namespace creation. Layers: seccomp (EPERM); a box may
 * also cap user.max_user_namespaces (ENOSPC). */
#define TECH "userns_unshare"
#include <sched.h>

#include "escape.h"

int main(void) {
  if (unshare(CLONE_NEWUSER) == 0) {
    char line[256] = "?";
    FILE* f = fopen("/proc/self/status", "re");
    if (f != NULL) {
      char buf[256];
      while (fgets(buf, sizeof buf, f) != NULL) {
        if (strncmp(buf, "CapEff:", 7) == 0) {
          snprintf(line, sizeof line, "%s", buf + 7);
          line[strcspn(line, "\n")] = '\0';
        }
      }
      fclose(f);
    }
    escaped("unshare(CLONE_NEWUSER) created a nested user namespace (CapEff there:%s)", line);
  }
  int e = errno;
  if (!errno_in(e, EPERM, EACCES, ENOSPC, 0))
    setup_error("unshare(CLONE_NEWUSER): unexpected %s", errname(e));
  blocked("unshare(CLONE_NEWUSER): %s", errname(e));
}
