/* dlopen, use, dlclose, and again: libsbx needs no global initialisation,
 * leaves no thread behind once unloaded (the monitor thread is joined), and
 * works the same when loaded a second time. Only the header's types are
 * used; every function comes from dlsym, as a language runtime without a
 * binding would do it.
 *
 *   capi_dlopen_test PATH/TO/libsbx.so.N
 *
 * Exit status 0 on success; every failure prints what went wrong. */
#include <dirent.h>
#include <dlfcn.h>
#include <sbx/sbx.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

typedef int (*config_new_fn)(sbx_config**, sbx_error**);
typedef void (*config_free_fn)(sbx_config*);
typedef int (*box_create_fn)(sbx_box**, const sbx_config*, sbx_error**);
typedef int (*box_start_fn)(sbx_box*, sbx_error**);
typedef int (*box_stop_fn)(sbx_box*, int, sbx_error**);
typedef void (*box_free_fn)(sbx_box*);
typedef int (*spec_new_fn)(sbx_spec**, sbx_error**);
typedef void (*spec_free_fn)(sbx_spec*);
typedef int (*spec_set_argv_fn)(sbx_spec*, size_t, const char* const*, sbx_error**);
typedef int (*spec_set_stdio_fn)(sbx_spec*, int, sbx_stdio_mode, const char*, int, sbx_error**);
typedef int (*spec_set_timeout_fn)(sbx_spec*, uint64_t, sbx_error**);
typedef int (*box_spawn_fn)(sbx_box*, const sbx_spec*, sbx_proc**, sbx_error**);
typedef int (*proc_read_fn)(sbx_proc*, int, void*, size_t, size_t*, int, sbx_error**);
typedef int (*proc_wait_fn)(sbx_proc*, int, sbx_exit_status*, sbx_error**);
typedef void (*proc_free_fn)(sbx_proc*);
typedef const char* (*error_message_fn)(const sbx_error*);
typedef void (*error_free_fn)(sbx_error*);
typedef const char* (*version_fn)(int*, int*, int*);

struct api {
  config_new_fn config_new;
  config_free_fn config_free;
  box_create_fn box_create;
  box_start_fn box_start;
  box_stop_fn box_stop;
  box_free_fn box_free;
  spec_new_fn spec_new;
  spec_free_fn spec_free;
  spec_set_argv_fn spec_set_argv;
  spec_set_stdio_fn spec_set_stdio;
  spec_set_timeout_fn spec_set_timeout;
  box_spawn_fn box_spawn;
  proc_read_fn proc_read;
  proc_wait_fn proc_wait;
  proc_free_fn proc_free;
  error_message_fn error_message;
  error_free_fn error_free;
  version_fn version;
};

static int failures = 0;

static void fail(const char* what, const char* detail) {
  fprintf(stderr, "FAIL: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  ++failures;
}

/* Threads of this process: /proc/self/task entries. */
static int thread_count(void) {
  DIR* d = opendir("/proc/self/task");
  int n = 0;
  struct dirent* e;
  if (d == NULL) return -1;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n;
}

#define LOAD(field, name)                    \
  do {                                       \
    *(void**)(&a->field) = dlsym(lib, name); \
    if (a->field == NULL) {                  \
      fail("dlsym " name, dlerror());        \
      return 0;                              \
    }                                        \
  } while (0)

static int load(void* lib, struct api* a) {
  LOAD(config_new, "sbx_config_new");
  LOAD(config_free, "sbx_config_free");
  LOAD(box_create, "sbx_box_create");
  LOAD(box_start, "sbx_box_start");
  LOAD(box_stop, "sbx_box_stop");
  LOAD(box_free, "sbx_box_free");
  LOAD(spec_new, "sbx_spec_new");
  LOAD(spec_free, "sbx_spec_free");
  LOAD(spec_set_argv, "sbx_spec_set_argv");
  LOAD(spec_set_stdio, "sbx_spec_set_stdio");
  LOAD(spec_set_timeout, "sbx_spec_set_timeout");
  LOAD(box_spawn, "sbx_box_spawn");
  LOAD(proc_read, "sbx_proc_read");
  LOAD(proc_wait, "sbx_proc_wait");
  LOAD(proc_free, "sbx_proc_free");
  LOAD(error_message, "sbx_error_message");
  LOAD(error_free, "sbx_error_free");
  LOAD(version, "sbx_version");
  return 1;
}

/* One round: a started box, a spawn with captured output and a timeout (so
 * that the monitor thread runs), its exact exit, a stop. */
static void round_trip(const struct api* a, int round) {
  sbx_config* cfg = NULL;
  sbx_box* box = NULL;
  sbx_spec* spec = NULL;
  sbx_proc* proc = NULL;
  sbx_error* err = NULL;
  sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  const char* argv[] = {"/bin/sh", "-c", "echo hello-from-the-box; exit 3"};
  char out[256];
  size_t len = 0;
  char tag[64];
  snprintf(tag, sizeof tag, "round %d", round);

  if (a->config_new(&cfg, &err) != SBX_OK || a->box_create(&box, cfg, &err) != SBX_OK ||
      a->box_start(box, &err) != SBX_OK || a->spec_new(&spec, &err) != SBX_OK ||
      a->spec_set_argv(spec, 3, argv, &err) != SBX_OK ||
      a->spec_set_stdio(spec, SBX_STDOUT, SBX_STDIO_CAPTURE, NULL, -1, &err) != SBX_OK ||
      a->spec_set_timeout(spec, 60000, &err) != SBX_OK || a->box_spawn(box, spec, &proc, &err) != SBX_OK) {
    fail(tag, err ? a->error_message(err) : "setup");
  } else {
    for (;;) {
      size_t n = 0;
      if (a->proc_read(proc, SBX_STDOUT, out + len, sizeof out - 1 - len, &n, 10000, &err) != SBX_OK) {
        fail(tag, a->error_message(err));
        break;
      }
      if (n == 0) break;
      len += n;
    }
    out[len] = '\0';
    if (strcmp(out, "hello-from-the-box\n") != 0) fail(tag, "unexpected output");
    if (a->proc_wait(proc, 10000, &st, &err) != SBX_OK)
      fail(tag, a->error_message(err));
    else if (st.kind != SBX_EXIT_EXITED || st.code != 3)
      fail(tag, "exit record is not 'exited 3'");
    if (a->box_stop(box, 0, &err) != SBX_OK) fail(tag, a->error_message(err));
  }
  a->error_free(err);
  a->proc_free(proc);
  a->spec_free(spec);
  a->box_free(box);
  a->config_free(cfg);
}

int main(int argc, char** argv) {
  int round;
  if (argc != 2) {
    fprintf(stderr, "usage: %s PATH/TO/libsbx.so.N\n", argv[0]);
    return 2;
  }
  const int threads_before = thread_count();
  for (round = 1; round <= 2; ++round) {
    struct api a;
    void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
      fail("dlopen", dlerror());
      return 1;
    }
    if (!load(lib, &a)) return 1;
    const char* v = a.version(NULL, NULL, NULL);
    if (v == NULL || strcmp(v, SBX_VERSION_STRING) != 0) fail("sbx_version", v);
    round_trip(&a, round);
    if (dlclose(lib) != 0) fail("dlclose", dlerror());
    /* Nothing of the library keeps running once it is unloaded (its
     * monitor thread is joined at unload; were the library kept loaded, the
     * idle thread would still end by itself: allow it 2 s). */
    for (int tries = 0; tries < 200 && thread_count() != threads_before; ++tries) {
      struct timespec ts = {0, 10000000};
      nanosleep(&ts, NULL);
    }
    if (thread_count() != threads_before) {
      char msg[64];
      snprintf(msg, sizeof msg, "%d threads after dlclose, %d before", thread_count(), threads_before);
      fail("threads", msg);
    }
  }
  if (failures == 0) printf("dlopen/use/dlclose twice: ok\n");
  return failures == 0 ? 0 : 1;
}
