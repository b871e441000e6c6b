/* An x32 syscall number (getpid | __X32_SYSCALL_BIT) on the x86_64 entry:
 * same architecture token, different numbers; the default profile must KILL
 * the process (SIGSYS, reason "seccomp"). Kernels without CONFIG_X86_X32_ABI
 * answer ENOSYS by themselves - the program then survives and says so.
 * Layers: seccomp (x32 bit check -> kill). */
#define TECH "x32"
#include <sys/resource.h>

#include "escape.h"

#define ESC_X32_SYSCALL_BIT 0x40000000L

int main(void) {
#if defined(__x86_64__)
  // The expected SIGSYS kill dumps core by default; never leave a core file
  // (or wake the host's core handler) - lowering a limit is always allowed.
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  attempt("syscall(__X32_SYSCALL_BIT | 39) (x32 getpid)");
  long r = syscall(ESC_X32_SYSCALL_BIT | 39);
  if (r >= 0) escaped("the x32 ABI ran getpid() = %ld and the process was not killed", r);
  blocked("x32 getpid returned %s (refused by the kernel, but the process was not killed)", errname(errno));
#else
  setup_error("x86_64 only");
#endif
}
