/* The 32-bit syscall ABI from a 64-bit process (int $0x80): syscall numbers
 * differ between ABIs, so a filter written for x86_64 numbers is bypassed
 * unless it checks the architecture. The default profile must KILL the
 * process (SIGSYS; the result's reason is "seccomp"). The probe is the
 * i386 getpid (20), harmless if it runs. If this program prints a verdict at
 * all, the process was not killed. Layers: seccomp (arch check -> kill). */
#define TECH "int80"
#include <sys/resource.h>

#include "escape.h"

int main(void) {
#if defined(__x86_64__)
  // The expected SIGSYS kill dumps core by default; never leave a core file
  // (or wake the host's core handler) - lowering a limit is always allowed.
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  attempt("int $0x80 with eax=20 (i386 getpid)");
  long r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory", "r8", "r9", "r10", "r11");
  if (r >= 0) escaped("the i386 ABI ran getpid() = %ld and the process was not killed", r);
  blocked("int $0x80 returned %s (refused by the kernel, but the process was not killed)", errname((int)-r));
#else
  setup_error("x86_64 only");
#endif
}
