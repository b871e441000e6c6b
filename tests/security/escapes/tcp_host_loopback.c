/* Reach a host service on 127.0.0.1: the harness listens on a host TCP port
 * (SBX_SEC_TCP=127.0.0.1:PORT) and counts connections. The box's loopback is
 * its own network namespace, so the connect must fail (ECONNREFUSED);
 * with Landlock's TCP rules, connect is denied outright (EACCES).
 * Layers: network namespace, Landlock (EACCES). */
#define TECH "tcp_host_loopback"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "escape.h"

int main(void) {
  const char* spec = need_env("SBX_SEC_TCP");
  char host[64];
  int port = 0;
  if (sscanf(spec, "%63[^:]:%d", host, &port) != 2 || port <= 0) setup_error("bad SBX_SEC_TCP '%s'", spec);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)port);
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) setup_error("bad address '%s'", host);
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    int e = errno;
    if (!errno_in(e, EPERM, EACCES, EAFNOSUPPORT, 0)) setup_error("socket: unexpected %s", errname(e));
    blocked("socket(AF_INET): %s", errname(e));
  }
  if (connect(s, (struct sockaddr*)&sa, sizeof sa) == 0)
    escaped("connected to the host's listener on %s", spec);
  int e = errno;
  if (!errno_in(e, ECONNREFUSED, EACCES, EPERM, ENETUNREACH, ENETDOWN, EHOSTUNREACH, EADDRNOTAVAIL, 0))
    setup_error("connect(%s): unexpected %s", spec, errname(e));
  blocked("connect(%s): %s", spec, errname(e));
}
