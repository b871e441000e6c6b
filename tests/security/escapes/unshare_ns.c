/* unshare(2) of each non-user namespace type on its own (mount, net, uts,
 * ipc, pid, cgroup, time): each needs CAP_SYS_ADMIN in the box's user
 * namespace. Layers: caps (EPERM), seccomp (EPERM). */
#define TECH "unshare_ns"
#include <sched.h>

#include "escape.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

int main(void) {
  struct esc_log log = {0};
  const struct {
    int flag;
    const char* name;
  } ns[] = {{CLONE_NEWNS, "NEWNS"},    {CLONE_NEWNET, "NEWNET"}, {CLONE_NEWUTS, "NEWUTS"},
            {CLONE_NEWIPC, "NEWIPC"},  {CLONE_NEWPID, "NEWPID"}, {CLONE_NEWCGROUP, "NEWCGROUP"},
            {CLONE_NEWTIME, "NEWTIME"}};
  for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
    if (unshare(ns[i].flag) == 0) escaped("unshare(CLONE_%s) succeeded", ns[i].name);
    int e = errno;
    if (!errno_in(e, EPERM, EACCES, 0))
      setup_error("unshare(CLONE_%s): unexpected %s", ns[i].name, errname(e));
    esc_logf(&log, "%s %s", ns[i].name, errname(e));
  }
  blocked("unshare: %s", log.text);
}
