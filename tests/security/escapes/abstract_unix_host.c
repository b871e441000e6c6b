/* Reach a host service on an abstract unix socket (no file, so no mount
 * hides it; abstract names belong to the network namespace): the harness
 * listens on "@<SBX_SEC_ABSTRACT>" on the host. Layers: network namespace
 * (ECONNREFUSED), Landlock's abstract-unix scope (EPERM). */
#define TECH "abstract_unix_host"
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "escape.h"

int main(void) {
  const char* name = need_env("SBX_SEC_ABSTRACT");
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  size_t len = strlen(name);
  if (len + 1 > sizeof sa.sun_path) setup_error("name too long");
  memcpy(sa.sun_path + 1, name, len);  // sun_path[0] == '\0': abstract
  socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) setup_error("socket(AF_UNIX): %s", errname(errno));
  if (connect(s, (struct sockaddr*)&sa, salen) == 0)
    escaped("connected to the host's abstract socket @%s", name);
  int e = errno;
  if (!errno_in(e, ECONNREFUSED, EACCES, EPERM, ENOENT, 0))
    setup_error("connect(@%s): unexpected %s", name, errname(e));
  blocked("connect(@%s): %s", name, errname(e));
}
