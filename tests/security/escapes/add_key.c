/* add_key("user", ...) into the process keyring (which dies with the
 * process, so nothing outlives the test even when it succeeds; the key is
 * invalidated at once). Layers: seccomp (EPERM). */
#define TECH "add_key"
#include <linux/keyctl.h>

#include "escape.h"

int main(void) {
  static const char payload[] = "sbx-escape-test";
  long key =
      syscall(SYS_add_key, "user", "sbx-escape-test", payload, sizeof payload - 1, KEY_SPEC_PROCESS_KEYRING);
  if (key >= 0) {
    syscall(SYS_keyctl, KEYCTL_INVALIDATE, key);
    escaped("add_key(user) created key %ld", key);
  }
  int e = errno;
  if (!errno_in(e, EPERM, EACCES, ENOSYS, EDQUOT, 0)) setup_error("add_key: unexpected %s", errname(e));
  blocked("add_key(user, process keyring): %s", errname(e));
}
