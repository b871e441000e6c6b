/* ptrace(PTRACE_ATTACH / PTRACE_SEIZE) of pid 1, the box init (which holds
 * the box's control pipes): it is not dumpable, and ptrace is on the
 * default profile's deny list. Layers: dumpability / ptrace access (EPERM),
 * seccomp (EPERM). */
#define TECH "ptrace_init"
#include <sys/ptrace.h>

#include "escape.h"

int main(void) {
  struct esc_log log = {0};
  if (ptrace(PTRACE_ATTACH, 1, NULL, NULL) == 0) {
    ptrace(PTRACE_DETACH, 1, NULL, NULL);
    escaped("PTRACE_ATTACH to pid 1 succeeded");
  }
  int e = errno;
  if (!errno_in(e, EPERM, EACCES, 0)) setup_error("PTRACE_ATTACH 1: unexpected %s", errname(e));
  esc_logf(&log, "PTRACE_ATTACH 1: %s", errname(e));
  if (ptrace(PTRACE_SEIZE, 1, NULL, NULL) == 0) {
    ptrace(PTRACE_DETACH, 1, NULL, NULL);
    escaped("PTRACE_SEIZE of pid 1 succeeded");
  }
  e = errno;
  if (!errno_in(e, EPERM, EACCES, 0)) setup_error("PTRACE_SEIZE 1: unexpected %s", errname(e));
  esc_logf(&log, "PTRACE_SEIZE 1: %s", errname(e));
  blocked("%s", log.text);
}
