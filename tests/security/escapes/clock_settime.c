/* Set the host's clock (CLOCK_REALTIME is not namespaced): clock_settime
 * and settimeofday to the time just read, so that even a success would only
 * step the clock by microseconds. Layers: caps (CAP_SYS_TIME, EPERM),
 * seccomp (EPERM). */
#define TECH "clock_settime"
#include <sys/time.h>
#include <time.h>

#include "escape.h"

int main(void) {
  struct esc_log log = {0};
  struct timespec ts;
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0) setup_error("clock_gettime: %s", errname(errno));
  if (clock_settime(CLOCK_REALTIME, &ts) == 0) escaped("clock_settime(CLOCK_REALTIME) succeeded");
  int e = errno;
  if (!errno_in(e, EPERM, EACCES, 0)) setup_error("clock_settime: unexpected %s", errname(e));
  esc_logf(&log, "clock_settime(CLOCK_REALTIME): %s", errname(e));
  struct timeval tv;
  gettimeofday(&tv, NULL);
  if (settimeofday(&tv, NULL) == 0) escaped("settimeofday succeeded");
  e = errno;
  if (!errno_in(e, EPERM, EACCES, 0)) setup_error("settimeofday: unexpected %s", errname(e));
  esc_logf(&log, "settimeofday: %s", errname(e));
  blocked("%s", log.text);
}
