/* Shared helpers of the escape programs (tests/security/escapes/).
 *
 * Every program defines TECH (its technique name, equal to its file name)
 * before including this header, attempts exactly one way out of the box or
 * one forbidden action, and ends with exactly one verdict line on stdout:
 *
 *   BLOCKED <technique>: <how it was refused>   exit 0
 *   ESCAPED <technique>: <what succeeded>       exit 1
 *   SETUP <technique>: <what is wrong>          exit 2  (the test itself is broken)
 *
 * Programs whose expected outcome is a seccomp kill (foreign ABIs) print an
 * "ATTEMPT" line first; when the kill happens nothing else is printed and the
 * harness checks the signal and the result's reason.
 *
 * Diagnostics go to stderr as "# ..." lines. Nothing here may harm the host
 * even if the box is completely broken: every probe is chosen so that the
 * permission check is the only step that could succeed (invalid magic,
 * out-of-range counts, open-without-write, signal 0, ...).
 */
#ifndef SBX_ESCAPE_H
#define SBX_ESCAPE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef TECH
#error "define TECH (the technique name) before including escape.h"
#endif

#define ESC_NORETURN __attribute__((noreturn))
#define ESC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define ESC_UNUSED __attribute__((unused))

/* The symbolic name of an errno value ("EPERM"), or "errno N". */
static ESC_UNUSED const char* errname(int e) {
  static char buf[32];
  switch (e) {
#define ESC_E(x) \
  case x:        \
    return #x
    ESC_E(EPERM);
    ESC_E(ENOENT);
    ESC_E(ESRCH);
    ESC_E(EINTR);
    ESC_E(EIO);
    ESC_E(ENXIO);
    ESC_E(E2BIG);
    ESC_E(ENOEXEC);
    ESC_E(EBADF);
    ESC_E(ECHILD);
    ESC_E(EAGAIN);
    ESC_E(ENOMEM);
    ESC_E(EACCES);
    ESC_E(EFAULT);
    ESC_E(EBUSY);
    ESC_E(EEXIST);
    ESC_E(EXDEV);
    ESC_E(ENODEV);
    ESC_E(ENOTDIR);
    ESC_E(EISDIR);
    ESC_E(EINVAL);
    ESC_E(ENFILE);
    ESC_E(EMFILE);
    ESC_E(ENOTTY);
    ESC_E(ETXTBSY);
    ESC_E(EFBIG);
    ESC_E(ENOSPC);
    ESC_E(ESPIPE);
    ESC_E(EROFS);
    ESC_E(EMLINK);
    ESC_E(EPIPE);
    ESC_E(ERANGE);
    ESC_E(ENAMETOOLONG);
    ESC_E(ENOSYS);
    ESC_E(ENOTEMPTY);
    ESC_E(ELOOP);
    ESC_E(ENOTSUP);
    ESC_E(EAFNOSUPPORT);
    ESC_E(EADDRINUSE);
    ESC_E(EADDRNOTAVAIL);
    ESC_E(ENETDOWN);
    ESC_E(ENETUNREACH);
    ESC_E(ECONNREFUSED);
    ESC_E(ECONNRESET);
    ESC_E(ETIMEDOUT);
    ESC_E(EHOSTUNREACH);
    ESC_E(EDQUOT);
    ESC_E(ENOKEY);
    ESC_E(EKEYREVOKED);
    ESC_E(ESTALE);
    ESC_E(EPROTONOSUPPORT);
    ESC_E(EOVERFLOW);
    ESC_E(ENOPKG);
#undef ESC_E
    default:
      snprintf(buf, sizeof buf, "errno %d", e);
      return buf;
  }
}

static ESC_PRINTF(2, 0) ESC_NORETURN
    void esc_verdict(int code, const char* word, const char* fmt, va_list ap) {
  printf("%s %s: ", word, TECH);
  vprintf(fmt, ap);
  printf("\n");
  fflush(stdout);
  exit(code);
}

/* The attempt was refused. */
static ESC_UNUSED ESC_PRINTF(1, 2) ESC_NORETURN void blocked(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  esc_verdict(0, "BLOCKED", fmt, ap);
}

/* The attempt succeeded: the box let something out. */
static ESC_UNUSED ESC_PRINTF(1, 2) ESC_NORETURN void escaped(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  esc_verdict(1, "ESCAPED", fmt, ap);
}

/* The test could not do what it is meant to do (not a verdict on sbx). */
static ESC_UNUSED ESC_PRINTF(1, 2) ESC_NORETURN void setup_error(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  esc_verdict(2, "SETUP", fmt, ap);
}

/* A diagnostic line on stderr. */
static ESC_UNUSED ESC_PRINTF(1, 2) void note(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "# %s: ", TECH);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
}

/* For the kill-type programs: announce the attempt before making it. */
static ESC_UNUSED ESC_PRINTF(1, 2) void attempt(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("ATTEMPT %s: ", TECH);
  vprintf(fmt, ap);
  printf("\n");
  fflush(stdout);
  va_end(ap);
}

/* errno_in(e, A, B, ..., 0): e is one of the listed (non-zero) errnos. */
static ESC_UNUSED int errno_in(int e, ...) {
  va_list ap;
  int x, found = 0;
  va_start(ap, e);
  while ((x = va_arg(ap, int)) != 0) {
    if (x == e) found = 1;
  }
  va_end(ap);
  return found;
}

/* A growing "what happened" text, for programs that make several attempts
 * and report them all on the verdict line. */
struct esc_log {
  char text[1536];
  size_t len;
};

static ESC_UNUSED ESC_PRINTF(2, 3) void esc_logf(struct esc_log* l, const char* fmt, ...) {
  va_list ap;
  if (l->len >= sizeof l->text - 1) return;
  if (l->len > 0) {
    int n = snprintf(l->text + l->len, sizeof l->text - l->len, "; ");
    if (n > 0) l->len += (size_t)n;
    if (l->len >= sizeof l->text - 1) return;
  }
  va_start(ap, fmt);
  int n = vsnprintf(l->text + l->len, sizeof l->text - l->len, fmt, ap);
  va_end(ap);
  if (n > 0) l->len += (size_t)n;
  if (l->len >= sizeof l->text) l->len = sizeof l->text - 1;
}

/* A required environment variable set by the harness, or a SETUP verdict. */
static ESC_UNUSED const char* need_env(const char* name) {
  const char* v = getenv(name);
  if (v == NULL || *v == '\0') setup_error("%s is not set (run me through escape_test.sh)", name);
  return v;
}

/* Reads a small file (first line, newline stripped) into buf; -1 + errno on failure. */
static ESC_UNUSED int read_line(const char* path, char* buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, size - 1);
  int saved = errno;
  close(fd);
  if (n < 0) {
    errno = saved;
    return -1;
  }
  buf[n] = '\0';
  char* nl = strchr(buf, '\n');
  if (nl != NULL) *nl = '\0';
  return 0;
}

#endif
