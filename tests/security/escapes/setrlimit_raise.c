/* Raise a hard resource limit (RLIMIT_NOFILE hard + 1, else the first
 * limited resource): needs CAP_SYS_RESOURCE in the initial user namespace,
 * so a box can never lift the limits it was given. Layers: caps (EPERM). */
#define TECH "setrlimit_raise"
#include <sys/resource.h>

#include "escape.h"

int main(void) {
  const struct {
    int res;
    const char* name;
  } rs[] = {{RLIMIT_NOFILE, "NOFILE"},     {RLIMIT_RTPRIO, "RTPRIO"}, {RLIMIT_NICE, "NICE"},
            {RLIMIT_MEMLOCK, "MEMLOCK"},   {RLIMIT_NPROC, "NPROC"},   {RLIMIT_SIGPENDING, "SIGPENDING"},
            {RLIMIT_MSGQUEUE, "MSGQUEUE"}, {RLIMIT_CORE, "CORE"},     {RLIMIT_FSIZE, "FSIZE"}};
  long nr_open = 1048576;
  char buf[64];
  if (read_line("/proc/sys/fs/nr_open", buf, sizeof buf) == 0) nr_open = atol(buf);
  for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++) {
    struct rlimit rl;
    if (getrlimit(rs[i].res, &rl) != 0) setup_error("getrlimit(%s): %s", rs[i].name, errname(errno));
    if (rl.rlim_max == RLIM_INFINITY) continue;
    if (rs[i].res == RLIMIT_NOFILE && (long)rl.rlim_max >= nr_open)
      continue;  // EPERM regardless of privilege
    struct rlimit want = {rl.rlim_cur, rl.rlim_max + 1};
    if (setrlimit(rs[i].res, &want) == 0) {
      escaped("raised the hard RLIMIT_%s from %llu to %llu", rs[i].name, (unsigned long long)rl.rlim_max,
              (unsigned long long)want.rlim_max);
    }
    int e = errno;
    if (!errno_in(e, EPERM, EACCES, 0)) setup_error("setrlimit(%s): unexpected %s", rs[i].name, errname(e));
    blocked("setrlimit(RLIMIT_%s, hard %llu -> %llu): %s", rs[i].name, (unsigned long long)rl.rlim_max,
            (unsigned long long)want.rlim_max, errname(e));
  }
  setup_error("every hard limit is unlimited; nothing to raise");
}
