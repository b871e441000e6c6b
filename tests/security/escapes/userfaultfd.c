/* userfaultfd: lets a process stall the kernel at a chosen page fault, the
 * standard tool for winning kernel race conditions. Tried both without
 * flags (needs CAP_SYS_PTRACE unless vm.unprivileged_userfaultfd=1) and
 * with UFFD_USER_MODE_ONLY (allowed to everybody by the kernel).
 * Layers: seccomp (EPERM); vm.unprivileged_userfaultfd for the first form. */
#define TECH "userfaultfd"
#include "escape.h"

#ifndef SYS_userfaultfd
#define SYS_userfaultfd 323
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

int main(void) {
  struct esc_log log = {0};
  const struct {
    int flags;
    const char* name;
  } tries[] = {{O_CLOEXEC, "O_CLOEXEC"}, {O_CLOEXEC | UFFD_USER_MODE_ONLY, "UFFD_USER_MODE_ONLY"}};
  for (size_t i = 0; i < 2; i++) {
    long fd = syscall(SYS_userfaultfd, tries[i].flags);
    if (fd >= 0) {
      close((int)fd);
      escaped("userfaultfd(%s) returned a descriptor", tries[i].name);
    }
    int e = errno;
    if (!errno_in(e, EPERM, EACCES, ENOSYS, 0))
      setup_error("userfaultfd(%s): unexpected %s", tries[i].name, errname(e));
    esc_logf(&log, "userfaultfd(%s): %s", tries[i].name, errname(e));
  }
  blocked("%s", log.text);
}
