/* keyctl(KEYCTL_JOIN_SESSION_KEYRING): the kernel keyring is not isolated
 * by namespaces the way files are (keys of the same kuid are shared, the
 * user keyring outlives the box); the default profile refuses keyctl,
 * add_key and request_key. Layers: seccomp (EPERM). */
#define TECH "keyctl_join"
#include <linux/keyctl.h>

#include "escape.h"

int main(void) {
  long key = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL);
  if (key >= 0) escaped("keyctl(KEYCTL_JOIN_SESSION_KEYRING) joined a new session keyring (serial %ld)", key);
  int e = errno;
  if (!errno_in(e, EPERM, EACCES, ENOSYS, EDQUOT, 0)) setup_error("keyctl: unexpected %s", errname(e));
  blocked("keyctl(KEYCTL_JOIN_SESSION_KEYRING): %s", errname(e));
}
