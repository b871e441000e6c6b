/* no_new_privs is set (execve can never grant privileges: setuid bits and
 * file capabilities are ignored) and cannot be cleared (PR_SET_NO_NEW_PRIVS
 * with 0 -> EINVAL). Layers: NNP. */
#define TECH "no_new_privs"
#include <sys/prctl.h>

#include "escape.h"

int main(void) {
  int r = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
  if (r < 0) setup_error("PR_GET_NO_NEW_PRIVS: %s", errname(errno));
  if (r != 1) escaped("no_new_privs is not set");
  if (prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0 && prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0)
    escaped("no_new_privs was cleared");
  int e = errno;
  blocked("PR_GET_NO_NEW_PRIVS = 1; clearing it: %s", errname(e));
}
