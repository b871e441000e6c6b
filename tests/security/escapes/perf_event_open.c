/* perf_event_open of a software counter on the calling process, user space
 * only - the least privileged form, which kernel.perf_event_paranoid <= 2
 * allows. perf has a long history of kernel bugs and side channels; the
 * default profile refuses it. Layers: seccomp (EPERM); perf_event_paranoid. */
#define TECH "perf_event_open"
#include <linux/perf_event.h>

#include "escape.h"

int main(void) {
  struct perf_event_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.size = sizeof attr;
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = PERF_COUNT_SW_TASK_CLOCK;
  attr.disabled = 1;
  attr.exclude_kernel = 1;
  attr.exclude_hv = 1;
  long fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0UL);
  if (fd >= 0) {
    close((int)fd);
    escaped("perf_event_open(task clock, self, user only) returned a descriptor");
  }
  int e = errno;
  if (!errno_in(e, EPERM, EACCES, ENOSYS, 0)) setup_error("perf_event_open: unexpected %s", errname(e));
  blocked("perf_event_open: %s", errname(e));
}
