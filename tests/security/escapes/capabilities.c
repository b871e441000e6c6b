/* No capabilities at all: capget(2) shows empty effective, permitted and
 * inheritable sets, PR_CAPBSET_READ is 0 for every capability up to
 * cap_last_cap (so no execve can regain any), and no ambient capability is
 * raised. Layers: caps. */
#define TECH "capabilities"
#include <linux/capability.h>
#include <sys/prctl.h>

#include "escape.h"

int main(void) {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  if (syscall(SYS_capget, &hdr, data) != 0) setup_error("capget: %s", errname(errno));
  for (int i = 0; i < 2; i++) {
    if (data[i].effective || data[i].permitted || data[i].inheritable)
      escaped("capget: effective %08x%08x permitted %08x%08x inheritable %08x%08x", data[1].effective,
              data[0].effective, data[1].permitted, data[0].permitted, data[1].inheritable,
              data[0].inheritable);
  }
  int last = 40;
  char buf[32];
  if (read_line("/proc/sys/kernel/cap_last_cap", buf, sizeof buf) == 0) last = atoi(buf);
  if (last < 30 || last > 63) setup_error("implausible cap_last_cap %d", last);
  for (int c = 0; c <= last; c++) {
    int r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
    if (r < 0) setup_error("PR_CAPBSET_READ %d: %s", c, errname(errno));
    if (r == 1) escaped("capability %d is in the bounding set", c);
    r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0);
    if (r == 1) escaped("capability %d is in the ambient set", c);
  }
  blocked("capget: effective/permitted/inheritable all 0; bounding set empty (0..%d); no ambient caps", last);
}
