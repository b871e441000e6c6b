/* Signal a host process: the harness passes its own host pid
 * (SBX_SEC_HOSTPID); kill(pid, 0) must fail with ESRCH because that pid does
 * not exist in the box's pid namespace. kill(-1, 0) must reach nobody but
 * box processes. Only signal 0 (an existence/permission probe) is ever sent.
 * Layers: pid namespace (ESRCH). */
#define TECH "kill_host_pid"
#include <signal.h>

#include "escape.h"

int main(void) {
  const char* s = need_env("SBX_SEC_HOSTPID");
  pid_t host = (pid_t)atol(s);
  if (host <= 1) setup_error("bad SBX_SEC_HOSTPID '%s'", s);
  if (getpid() == host) setup_error("our pid equals the host pid %d: no pid namespace?", (int)host);
  if (kill(host, 0) == 0)
    escaped("kill(%d, 0) succeeded: the host process is visible and signalable", (int)host);
  int e = errno;
  if (e == EPERM)
    escaped("kill(%d, 0): EPERM - the host process is visible (only the permission check stopped it)",
            (int)host);
  if (e != ESRCH) setup_error("kill(%d, 0): unexpected %s", (int)host, errname(e));
  const char* minus1;
  if (kill(-1, 0) == 0)
    minus1 = "kill(-1, 0) reaches other processes of the box";  // not the host: getpid() is small
  else
    minus1 = errno == ESRCH ? "kill(-1, 0): ESRCH (nobody else)" : errname(errno);
  if (getpid() > 1000) escaped("our pid is %d: not a fresh pid namespace", (int)getpid());
  blocked("kill(host pid %d, 0): %s; %s; our pid %d", (int)host, errname(e), minus1, (int)getpid());
}
