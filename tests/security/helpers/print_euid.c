/* Helper of the setuid_exec escape test: prints its effective and real uid.
 * The harness installs a setuid-root copy of it (only when run as root). */
#include <stdio.h>
#include <unistd.h>

int main(void) {
  printf("euid=%ld uid=%ld\n", (long)geteuid(), (long)getuid());
  return 0;
}
