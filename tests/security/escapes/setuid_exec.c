/* A setuid-root binary: the harness (as root) binds a directory holding a
 * setuid-root copy of print_euid read-only into the box (SBX_SEC_SUID names
 * it); executing it must not give euid 0. Layers: no_new_privs, nosuid
 * mounts, unmapped owner (whichever comes first). */
#define TECH "setuid_exec"
#include <sys/wait.h>

#include "escape.h"

int main(void) {
  const char* prog = need_env("SBX_SEC_SUID");
  struct stat st;
  if (stat(prog, &st) != 0) setup_error("stat %s: %s", prog, errname(errno));
  if (!(st.st_mode & S_ISUID))
    setup_error("%s is not setuid in the box (mode %o)", prog, (unsigned)st.st_mode);
  int pfd[2];
  if (pipe(pfd) != 0) setup_error("pipe: %s", errname(errno));
  pid_t pid = fork();
  if (pid < 0) setup_error("fork: %s", errname(errno));
  if (pid == 0) {
    dup2(pfd[1], 1);
    close(pfd[0]);
    close(pfd[1]);
    execl(prog, prog, (char*)NULL);
    printf("exec-failed %d\n", errno);
    fflush(stdout);
    _exit(127);
  }
  close(pfd[1]);
  char out[256];
  ssize_t n, len = 0;
  while (len < (ssize_t)sizeof out - 1 && (n = read(pfd[0], out + len, sizeof out - 1 - (size_t)len)) > 0)
    len += n;
  out[len > 0 ? len : 0] = '\0';
  int status = 0;
  waitpid(pid, &status, 0);
  int err = 0;
  if (sscanf(out, "exec-failed %d", &err) == 1) {
    if (!errno_in(err, EPERM, EACCES, 0)) setup_error("exec %s: unexpected %s", prog, errname(err));
    blocked("execve(%s) refused: %s", prog, errname(err));
  }
  long euid = -1, uid = -1;
  if (sscanf(out, "euid=%ld uid=%ld", &euid, &uid) != 2)
    setup_error("unexpected output of %s: '%s'", prog, out);
  if (euid == 0) escaped("the setuid-root binary ran with euid 0 (uid %ld)", uid);
  if (euid != (long)geteuid()) escaped("the setuid binary changed the euid to %ld", euid);
  blocked("setuid-root binary (owner uid %u in the box) ran with euid %ld, uid %ld", (unsigned)st.st_uid,
          euid, uid);
}
