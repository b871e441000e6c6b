/* TIOCSTI: push characters into the input queue of the terminal the box's
 * stdin is connected to - with the host's controlling terminal that types
 * commands into the user's shell after the box exits. The harness runs this
 * one with stdin on a pseudo-terminal that is sbx's controlling terminal.
 * The box runs in a new session (the terminal is not its controlling tty,
 * EPERM) and the default profile refuses ioctl(TIOCSTI) (EPERM).
 * Layers: new session (EPERM), seccomp (EPERM). */
#define TECH "tiocsti"
#include <sys/ioctl.h>
#include <termios.h>

#include "escape.h"

int main(void) {
  struct esc_log log = {0};
  if (!isatty(0)) setup_error("stdin is not a terminal (%s); run me through escape_test.sh", errname(errno));
  const char c = '#';
  if (ioctl(0, TIOCSTI, &c) == 0) escaped("ioctl(0, TIOCSTI) injected a character into the terminal");
  int e = errno;
  if (!errno_in(e, EPERM, EACCES, EIO, 0)) setup_error("ioctl(TIOCSTI): unexpected %s", errname(e));
  esc_logf(&log, "ioctl(stdin, TIOCSTI): %s", errname(e));
  pid_t sid = getsid(0), tty_pgrp = tcgetpgrp(0);
  esc_logf(&log, "session %d, terminal's foreground group %d", (int)sid, (int)tty_pgrp);
  int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (fd >= 0) {
    if (ioctl(fd, TIOCSTI, &c) == 0) escaped("ioctl(/dev/tty, TIOCSTI) injected a character");
    esc_logf(&log, "/dev/tty opened (a controlling terminal!), TIOCSTI: %s", errname(errno));
    close(fd);
  } else {
    esc_logf(&log, "open /dev/tty: %s (no controlling terminal)", errname(errno));
  }
  blocked("%s", log.text);
}
