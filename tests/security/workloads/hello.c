/* The positive workload of escape_test.sh: compiled by gcc INSIDE a box
 * (default profile, writable tmpfs /work) and run there. It does what
 * ordinary programs do - threads (clone/clone3 fallback), fork + exec,
 * pipes, files in the working directory, mmap, getrandom, clocks - and
 * prints one line. Any of these refused by the default profile is a bug in
 * the profile, not in the program. */
#define _GNU_SOURCE
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

static void* worker(void* arg) {
  long* n = arg;
  for (int i = 0; i < 1000; i++) *n += i;
  return NULL;
}

#define CHECK(cond, what) \
  do {                    \
    if (!(cond)) {        \
      perror(what);       \
      return 1;           \
    }                     \
  } while (0)

int main(void) {
  pthread_t t[4];
  long sums[4] = {0, 0, 0, 0};
  for (int i = 0; i < 4; i++) CHECK(pthread_create(&t[i], NULL, worker, &sums[i]) == 0, "pthread_create");
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);

  pid_t pid;
  char* argv[] = {"/bin/sh", "-c", "exit 7", NULL};
  CHECK(posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ) == 0, "posix_spawn");
  int st = 0;
  CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 7, "waitpid");

  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  pid_t child = fork();
  CHECK(child >= 0, "fork");
  if (child == 0) {
    ssize_t w = write(p[1], "pong", 4);
    _exit(w == 4 ? 0 : 1);
  }
  char buf[8] = "";
  CHECK(read(p[0], buf, 4) == 4 && strcmp(buf, "pong") == 0, "read pipe");
  waitpid(child, NULL, 0);

  FILE* f = fopen("data.txt", "w");
  CHECK(f != NULL, "fopen");
  fprintf(f, "hello\n");
  fclose(f);
  f = fopen("data.txt", "r");
  CHECK(f != NULL && fgets(buf, sizeof buf, f) != NULL, "read back");
  fclose(f);

  char* m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(m != MAP_FAILED, "mmap");
  memset(m, 1, 1 << 20);
  munmap(m, 1 << 20);

  unsigned char rnd[16];
  CHECK(getrandom(rnd, sizeof rnd, 0) == (ssize_t)sizeof rnd, "getrandom");
  struct timespec ts;
  CHECK(clock_gettime(CLOCK_MONOTONIC, &ts) == 0, "clock_gettime");

  printf("workload ok: threads %ld, spawn, fork, pipe, file, mmap, getrandom\n",
         sums[0] + sums[1] + sums[2] + sums[3]);
  return 0;
}
