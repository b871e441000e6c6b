/* Write through a read-only bind: the harness binds a directory (mode 0777,
 * holding a file of mode 0666, so that file permissions allow everything)
 * read-only at /ro; every write must fail with EROFS - any other errno would
 * mean something other than the read-only mount refused it. /usr (read-only
 * system bind) is tried as well. Layers: mounts (EROFS). */
#define TECH "ro_bind_write"
#include "escape.h"

int main(void) {
  struct esc_log log = {0};
  struct stat st;
  if (stat("/ro/file", &st) != 0) setup_error("stat /ro/file: %s", errname(errno));
  if ((st.st_mode & 0666) != 0666)
    setup_error("/ro/file has mode %o, expected 0666", (unsigned)st.st_mode & 07777);
  int fd = open("/ro/file", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) escaped("opened /ro/file for writing");
  int e = errno;
  if (e != EROFS) setup_error("open(/ro/file, O_WRONLY): %s, expected EROFS", errname(e));
  esc_logf(&log, "open(O_WRONLY): EROFS");
  char name[64];
  snprintf(name, sizeof name, "/ro/new-%d", (int)getpid());
  fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd >= 0) {
    close(fd);
    unlink(name);
    escaped("created %s", name);
  }
  e = errno;
  if (e != EROFS) setup_error("create %s: %s, expected EROFS", name, errname(e));
  esc_logf(&log, "create: EROFS");
  if (mkdir(name, 0755) == 0) {
    rmdir(name);
    escaped("mkdir %s succeeded", name);
  }
  e = errno;
  if (e != EROFS) setup_error("mkdir %s: %s, expected EROFS", name, errname(e));
  esc_logf(&log, "mkdir: EROFS");
  if (truncate("/ro/file", 0) == 0) escaped("truncated /ro/file");
  e = errno;
  if (e != EROFS) setup_error("truncate: %s, expected EROFS", errname(e));
  esc_logf(&log, "truncate: EROFS");
  if (rename("/ro/file", "/ro/file2") == 0) escaped("renamed /ro/file");
  e = errno;
  if (e != EROFS) setup_error("rename: %s, expected EROFS", errname(e));
  esc_logf(&log, "rename: EROFS");
  fd = open("/usr/sbx-escape-test", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd >= 0) {
    close(fd);
    unlink("/usr/sbx-escape-test");
    escaped("created a file in /usr");
  }
  esc_logf(&log, "create in /usr: %s", errname(errno));
  blocked("%s", log.text);
}
