/*
 * sbx.h - the public C API of libsbx, a Linux process-sandbox runtime.
 *
 * Lifecycle of a box, in five steps:
 *
 *   sbx_config_new(&cfg, &err);            describe the box (namespaces, mounts, ...)
 *   sbx_box_create(&box, cfg, &err);       validate it; the box copies the config
 *   sbx_spec_new(&spec, &err); ...         describe a process (argv, env, stdio, ...)
 *   sbx_box_spawn(box, spec, &proc, &err); start it inside fresh namespaces
 *   sbx_proc_wait(proc, -1, &st, &err);    wait (timeout, interruptible), then
 *   sbx_proc_free(proc); sbx_box_free(box); sbx_spec_free(spec); sbx_config_free(cfg);
 *
 * Exit codes as a shell reports them (sbx_exit_shell_code):
 *   0..255    the program exited with that code
 *   128+N     the program was killed by signal N
 * and, from the `sbx` CLI only: 125 sbx itself failed, 126 the program could
 * not be executed (EACCES, ENOEXEC, ...), 127 the program was not found.
 *
 * Conventions that hold for every call:
 *   - Every call returns an sbx_status: SBX_OK (0) or a negative code.
 *   - Every call that can fail takes a last parameter `sbx_error **err`. It may
 *     be NULL. When non-NULL and the call fails, *err receives a new error
 *     object (code, errno, failing step, message) that the caller frees with
 *     sbx_error_free(). On success *err is set to NULL. Errors are never kept
 *     only in thread-local storage.
 *   - Outputs come first in the parameter list; inputs follow.
 *   - Handles are opaque. Every *_free function accepts NULL.
 *   - Strings returned by the library are either borrowed (valid as long as
 *     the named handle lives, documented per call) or owned by the caller and
 *     released with sbx_free(). Never free() library memory.
 *   - No C++ exception crosses this boundary and the library never aborts or
 *     prints; it installs no signal handlers and never calls waitpid(-1).
 *
 * Thread safety:
 *   - sbx_config and sbx_spec are builders: not thread-safe; use one from a
 *     single thread at a time. They may be reused and freed right after the
 *     call that consumed them (sbx_box_create / sbx_box_spawn copy them).
 *   - sbx_box and sbx_proc are thread-safe: any thread may wait on, kill,
 *     interrupt or query them concurrently. Free them only once no other
 *     thread uses them.
 *   - sbx_error and sbx_probe are immutable after creation.
 */
#ifndef SBX_SBX_H
#define SBX_SBX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- export */

#if defined(SBX_BUILDING_LIBRARY)
#define SBX_API __attribute__((visibility("default")))
#else
#define SBX_API
#endif

/* --------------------------------------------------------------- version */

/* Compile-time version of this header. The ABI major is the SONAME suffix
 * (libsbx.so.SBX_ABI_MAJOR); it changes only on an incompatible change. */
#define SBX_VERSION_MAJOR 0
#define SBX_VERSION_MINOR 3
#define SBX_VERSION_PATCH 0
#define SBX_VERSION_STRING "0.3.0"
#define SBX_ABI_MAJOR 0

/* Run-time version of the loaded library. Any out pointer may be NULL.
 * Returns a static string such as "0.3.0" (never free it). */
SBX_API const char* sbx_version(int* major, int* minor, int* patch);
/* Run-time ABI major of the loaded library (compare with SBX_ABI_MAJOR). */
SBX_API int sbx_abi_version(void);

/* ---------------------------------------------------------------- status */

typedef enum sbx_status {
  SBX_OK = 0,
  SBX_E_INVALID = -1,      /* a bad argument; the message names it */
  SBX_E_NOMEM = -2,        /* out of memory */
  SBX_E_STATE = -3,        /* the call is not valid in the handle's state */
  SBX_E_SYSTEM = -4,       /* a system call failed in the host process */
  SBX_E_SETUP = -5,        /* box setup failed in the child (see step) */
  SBX_E_NOTFOUND = -6,     /* the program was not found (exit 127 semantics) */
  SBX_E_EXEC = -7,         /* the program could not be executed (126) */
  SBX_E_TIMEOUT = -8,      /* a wait timed out; nothing changed */
  SBX_E_INTERRUPTED = -9,  /* a wait was interrupted by sbx_*_interrupt */
  SBX_E_UNSUPPORTED = -10, /* this host or build cannot do what was asked */
  SBX_E_INTERNAL = -11,    /* a bug in libsbx; please report it */
  SBX_E_PROCESS = -12      /* a process-table call failed as POSIX defines it:
                              sbx_error_errno() is ESRCH, ECHILD, EPERM,
                              EACCES or EINVAL (since 0.3) */
} sbx_status;

/* A static name such as "SBX_E_SETUP" (never free it). */
SBX_API const char* sbx_status_name(int status);

/* ----------------------------------------------------------------- error */

typedef struct sbx_error sbx_error;

/* The sbx_status of the failed call. */
SBX_API int sbx_error_code(const sbx_error* err);
/* The errno behind the failure, or 0 when none applies. */
SBX_API int sbx_error_errno(const sbx_error* err);
/* The failing step, e.g. "bind", "pivot_root", "uid_map", "execve",
 * "argument"; never NULL. Borrowed from err. */
SBX_API const char* sbx_error_step(const sbx_error* err);
/* A complete human-readable message, e.g.
 * "bind /data -> /mnt: No such file or directory (ENOENT)". Borrowed. */
SBX_API const char* sbx_error_message(const sbx_error* err);
SBX_API void sbx_error_free(sbx_error* err);

/* Releases memory returned by the library as "owned by the caller". */
SBX_API void sbx_free(void* ptr);

/* ------------------------------------------------------------ box config */

typedef struct sbx_config sbx_config;

/* Namespaces; a new box uses SBX_NS_ALL. */
enum {
  SBX_NS_USER = 1u << 0,
  SBX_NS_PID = 1u << 1,
  SBX_NS_MOUNT = 1u << 2,
  SBX_NS_NET = 1u << 3, /* a new network namespace with only loopback, up */
  SBX_NS_UTS = 1u << 4,
  SBX_NS_IPC = 1u << 5,
  SBX_NS_CGROUP = 1u << 6,
  SBX_NS_ALL = (1u << 7) - 1u
};

/* Flags for sbx_config_add_bind. */
enum {
  SBX_BIND_RO = 0u,           /* read-only (the default) */
  SBX_BIND_RW = 1u << 0,      /* writable */
  SBX_BIND_OPTIONAL = 1u << 1 /* skip silently if the source does not exist */
};

SBX_API int sbx_config_new(sbx_config** out, sbx_error** err);
SBX_API void sbx_config_free(sbx_config* cfg);

/* Which namespaces to create: a mask of SBX_NS_*. Without SBX_NS_USER the
 * caller needs CAP_SYS_ADMIN (i.e. root) for the others. Without
 * SBX_NS_MOUNT no filesystem view is built (binds, tmpfs, rootfs are then
 * an error at sbx_box_create). */
SBX_API int sbx_config_set_namespaces(sbx_config* cfg, unsigned ns_mask, sbx_error** err);
SBX_API int sbx_config_get_namespaces(const sbx_config* cfg, unsigned* out);

/* Use DIR (absolute, an existing directory) as the box's root: its entries
 * are bound read-only into the box's own tmpfs root (symlinks recreated;
 * /proc and /dev are always the box's own). sbx never writes into DIR.
 * Without it the root is an empty read-only tmpfs holding read-only binds of
 * the host's /usr, /bin, /sbin, /lib, /lib64 (symlinks kept as symlinks) and
 * a minimal /etc. NULL restores the default. */
SBX_API int sbx_config_set_rootfs(sbx_config* cfg, const char* dir, sbx_error** err);

/* Bind host path SRC at DST inside the box. SRC must be absolute; it is
 * canonicalised (symlinks resolved on the host) when the box is created,
 * and its identity (device, inode) recorded: at spawn the canonical path is
 * reopened without following any symlink and must still name the same file,
 * or the spawn fails (SBX_E_SETUP, ESTALE or ELOOP). DST must be absolute,
 * without "." or ".." components. Missing directories on the way to DST are
 * created only on the box's own tmpfs filesystems, never in a host
 * directory, and no symlink inside the box root is ever followed while
 * walking DST (an escape is refused with ELOOP). */
SBX_API int sbx_config_add_bind(sbx_config* cfg, const char* src, const char* dst, unsigned flags,
                                sbx_error** err);

/* A writable tmpfs at DST (rules as for bind targets). SIZE_BYTES is the
 * size cap (0 = the kernel default, half of RAM); MODE its permissions,
 * e.g. 01777. */
SBX_API int sbx_config_add_tmpfs(sbx_config* cfg, const char* dst, uint64_t size_bytes, unsigned mode,
                                 sbx_error** err);

/* Hostname inside a UTS namespace (default "sbx"); 1..64 characters of
 * [A-Za-z0-9.-]. */
SBX_API int sbx_config_set_hostname(sbx_config* cfg, const char* hostname, sbx_error** err);

/* ------------------------------------------------- box resource limits */

/* Resource limits of the whole box (every process in it), enforced through
 * a cgroup created per box: cgroup v2 where the controller is on the v2
 * hierarchy, v1 where it is on a v1 hierarchy (hybrid hosts mix both; see
 * docs/limits.md). 0 means "no limit" for every setter. What was enforced,
 * and by which mechanism, is in the box's enforcement report
 * (sbx_box_report_*); with sbx_config_set_strict a limit that cannot be
 * enforced fails sbx_box_create instead of being reported as degraded. */

/* Memory limit in bytes (>= 1 MiB): memory.max (v2) or
 * memory.limit_in_bytes (v1), no swap beyond it. Exceeding it gets the
 * process OOM-killed (reason SBX_REASON_MEMORY). */
SBX_API int sbx_config_set_memory_limit(sbx_config* cfg, uint64_t bytes, sbx_error** err);
/* Memory throttling threshold (v2 memory.high). Default with a memory limit:
 * 90 % of it (v2 only; v1 has no equivalent). */
SBX_API int sbx_config_set_memory_high(sbx_config* cfg, uint64_t bytes, sbx_error** err);
/* Maximum number of processes and threads in the box at once (pids.max):
 * the fork-bomb cap. sbx never uses RLIMIT_NPROC (it counts per host uid). */
SBX_API int sbx_config_set_pids_limit(sbx_config* cfg, uint64_t max_pids, sbx_error** err);
/* CPU bandwidth in CPUs, e.g. 0.5 (0.01 .. 1024): cpu.max (v2) or
 * cpu.cfs_quota_us / cpu.cfs_period_us (v1), period 100 ms. */
SBX_API int sbx_config_set_cpus(sbx_config* cfg, double cpus, sbx_error** err);
/* Relative CPU weight 1..10000 (v2 cpu.weight; v1 cpu.shares scaled). */
SBX_API int sbx_config_set_cpu_weight(sbx_config* cfg, uint32_t weight, sbx_error** err);
/* Total CPU time of the box in milliseconds (user + system, all its
 * processes; from the cgroup's accounting, with RLIMIT_CPU per process as a
 * backstop). On excess the whole box is killed (reason SBX_REASON_CPU_TIME). */
SBX_API int sbx_config_set_cpu_time_limit(sbx_config* cfg, uint64_t ms, sbx_error** err);
/* Wall-clock limit of the box in milliseconds, counted from its first spawn:
 * then SIGTERM to every process in the box, the kill grace, SIGKILL to the
 * whole box (reason SBX_REASON_TIMEOUT). */
SBX_API int sbx_config_set_timeout(sbx_config* cfg, uint64_t ms, sbx_error** err);
/* Time between SIGTERM and SIGKILL when a time limit ends a box or process
 * (default 1000 ms; 0 = SIGKILL at once). */
SBX_API int sbx_config_set_kill_grace(sbx_config* cfg, uint64_t ms, sbx_error** err);
/* How long a started box's process table keeps a process that has exited
 * and was not waited for with sbx_box_waitpid (a zombie entry), in
 * milliseconds (default 60000; 0 = removed at once unless waited for). */
SBX_API int sbx_config_set_zombie_ttl(sbx_config* cfg, uint64_t ms, sbx_error** err);
/* Where the box's cgroup is created. An absolute path inside a cgroup mount
 * (v2) or a path relative to each v1 controller mount ("sbx/ci"). Default:
 * "sbx" below the root as root; rootless, a delegated v2 subtree of the
 * caller (see docs/limits.md). NULL restores the default. */
SBX_API int sbx_config_set_cgroup_parent(sbx_config* cfg, const char* path, sbx_error** err);
/* Strict mode (STRICT != 0): every limit and security layer asked for (or on
 * by default) must be enforced, or sbx_box_create fails with
 * SBX_E_UNSUPPORTED naming what is missing. Default: best effort, reported. */
SBX_API int sbx_config_set_strict(sbx_config* cfg, int strict, sbx_error** err);

/* ------------------------------------------------ box security policy */

/* A named seccomp profile: "default" (every box gets it unless told
 * otherwise: refuses the system calls that reach outside a box or attack
 * the kernel; foreign syscall ABIs kill the process), "compute" (an
 * allow-list for single-process computation: no fork, no sockets; anything
 * else kills the process) or "none" (no filter). See docs/seccomp.md.
 * Replaces any profile or rules set before. */
SBX_API int sbx_config_set_seccomp_profile(sbx_config* cfg, const char* name, sbx_error** err);
/* Loads a seccomp profile in the Docker / OCI JSON format from PATH (read
 * and checked now: malformed profiles fail with a message naming the
 * field). Unknown system call names are skipped as Docker does. Replaces
 * any profile or rules set before. */
SBX_API int sbx_config_load_seccomp_json(sbx_config* cfg, const char* path, sbx_error** err);

typedef enum sbx_seccomp_action {
  SBX_SECCOMP_ALLOW = 0,
  SBX_SECCOMP_ERRNO = 1,        /* fail the call with an errno */
  SBX_SECCOMP_KILL_PROCESS = 2, /* reason SBX_REASON_SECCOMP */
  SBX_SECCOMP_KILL_THREAD = 3,
  SBX_SECCOMP_TRAP = 4, /* SIGSYS to the thread */
  SBX_SECCOMP_LOG = 5   /* allow and log to the kernel audit log */
} sbx_seccomp_action;

typedef enum sbx_seccomp_op {
  SBX_SECCOMP_CMP_NE = 0,
  SBX_SECCOMP_CMP_LT = 1,
  SBX_SECCOMP_CMP_LE = 2,
  SBX_SECCOMP_CMP_EQ = 3,
  SBX_SECCOMP_CMP_GE = 4,
  SBX_SECCOMP_CMP_GT = 5,
  SBX_SECCOMP_CMP_MASKED_EQ = 6 /* (arg & value) == value2 */
} sbx_seccomp_op;

typedef struct sbx_seccomp_arg {
  unsigned index; /* argument 0..5 */
  int op;         /* sbx_seccomp_op */
  uint64_t value;
  uint64_t value2; /* SBX_SECCOMP_CMP_MASKED_EQ only */
} sbx_seccomp_arg;

/* Adds a rule to the box's seccomp profile (the default profile unless
 * another was chosen): SYSCALL (a name known on this architecture, e.g.
 * "socket") gets ACTION when all N_ARGS conditions hold (at most 6).
 * ERRNO_VALUE (1..4095) is used with SBX_SECCOMP_ERRNO. */
SBX_API int sbx_config_add_seccomp_rule(sbx_config* cfg, const char* syscall, sbx_seccomp_action action,
                                        int errno_value, size_t n_args, const sbx_seccomp_arg* args,
                                        sbx_error** err);

/* Landlock, best effort up to the kernel's ABI: filesystem rules derived
 * from the box's mounts (read+execute for read-only binds and the system
 * directories, read+write+execute for writable binds and tmpfs, no execute
 * in /proc, /dev, /dev/shm), TCP bind and connect denied when the box has no
 * network (SBX_NS_NET), and the abstract-unix-socket and signal scopes.
 * FLAGS: SBX_LANDLOCK_OFF, or SBX_LANDLOCK_ON (the default) optionally with
 * SBX_LANDLOCK_ALLOW_TCP, which leaves TCP alone so that programs can use
 * TCP on the loopback of the box's own network namespace. */
enum { SBX_LANDLOCK_OFF = 0u, SBX_LANDLOCK_ON = 1u << 0, SBX_LANDLOCK_ALLOW_TCP = 1u << 1 };
SBX_API int sbx_config_set_landlock(sbx_config* cfg, unsigned flags, sbx_error** err);
/* Grants capability NAME ("CAP_NET_BIND_SERVICE" or "net_bind_service") to
 * the box's processes (permitted, effective, inheritable, ambient; kept in
 * the bounding set). Every other capability is dropped from every set, and
 * the securebits are locked. Only capabilities that act inside the box's
 * own user namespace are accepted (e.g. CHOWN, DAC_OVERRIDE, FOWNER,
 * FSETID, KILL, SETUID, SETGID, NET_BIND_SERVICE, NET_RAW, NET_ADMIN,
 * SYS_CHROOT, SETFCAP, AUDIT_WRITE, MKNOD); a box without a user namespace
 * cannot be granted any (they would be host capabilities). */
SBX_API int sbx_config_add_capability(sbx_config* cfg, const char* name, sbx_error** err);

/* ----------------------------------------------------------- process spec */

typedef struct sbx_spec sbx_spec;

/* Standard streams of a process. */
enum { SBX_STDIN = 0, SBX_STDOUT = 1, SBX_STDERR = 2 };

typedef enum sbx_stdio_mode {
  SBX_STDIO_INHERIT = 0, /* the host's own fd 0/1/2 (the default) */
  SBX_STDIO_NULL = 1,    /* /dev/null */
  SBX_STDIO_PIPE = 2,    /* a pipe whose other end the caller takes */
  SBX_STDIO_FILE = 3,    /* a host file: read for stdin, created/truncated
                            (mode 0644) for stdout/stderr */
  SBX_STDIO_FD = 4,      /* a host fd the caller passes (dup'ed at spawn) */
  SBX_STDIO_STDOUT = 5,  /* stderr only: the same target as stdout */
  SBX_STDIO_CAPTURE = 6  /* a pipe the library owns: output is read by the
                            monitor thread and delivered to the output
                            callback or kept for sbx_proc_read; stdin is
                            written with sbx_proc_write (since 0.2) */
} sbx_stdio_mode;

SBX_API int sbx_spec_new(sbx_spec** out, sbx_error** err);
SBX_API void sbx_spec_free(sbx_spec* spec);

/* The program and its arguments (ARGC >= 1, at most 65536 entries).
 * A program without '/' is searched in the box's PATH. */
SBX_API int sbx_spec_set_argv(sbx_spec* spec, size_t argc, const char* const* argv, sbx_error** err);
/* Adds or replaces one variable: "KEY=VALUE". The environment starts empty
 * except PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin
 * and HOME=/ (both replaceable). */
SBX_API int sbx_spec_set_env(sbx_spec* spec, const char* key_value, sbx_error** err);
/* Copies variable NAME from the host environment at spawn time, if set. */
SBX_API int sbx_spec_allow_env(sbx_spec* spec, const char* name, sbx_error** err);
/* Working directory inside the box (absolute; default "/"). */
SBX_API int sbx_spec_set_cwd(sbx_spec* spec, const char* dir, sbx_error** err);
/* Identity inside the box. Default 1000:1000 with a user namespace and
 * 65534:65534 (nobody) without one. 0 is allowed when asked for.
 * Host side: rootless, the box ids map to the caller's uid/gid; as root they
 * map to the unprivileged host id 65534 (never to host root), so files the
 * box creates in writable binds belong to 65534 on the host. */
SBX_API int sbx_spec_set_user(sbx_spec* spec, uint32_t uid, uint32_t gid, sbx_error** err);
/* How stream WHICH (SBX_STDIN/STDOUT/STDERR) is connected. PATH is used by
 * SBX_STDIO_FILE, FD by SBX_STDIO_FD; otherwise pass NULL / -1. */
SBX_API int sbx_spec_set_stdio(sbx_spec* spec, int which, sbx_stdio_mode mode, const char* path, int fd,
                               sbx_error** err);
/* Keeps host fd FD open, under the same number, in the program. Every other
 * fd above 2 is closed before the program starts. FD must be > 2 and open. */
SBX_API int sbx_spec_preserve_fd(sbx_spec* spec, int fd, sbx_error** err);

/* Resource limits of one process (setrlimit, inherited by its children).
 * RLIMIT_NPROC is refused: it counts every process of the host uid, not
 * the box's (use sbx_config_set_pids_limit). */
typedef enum sbx_rlimit_resource {
  SBX_RLIMIT_NOFILE = 0,  /* open files */
  SBX_RLIMIT_FSIZE = 1,   /* bytes per file written (SIGXFSZ beyond) */
  SBX_RLIMIT_AS = 2,      /* address space bytes */
  SBX_RLIMIT_CPU = 3,     /* CPU seconds (SIGXCPU at soft, SIGKILL at hard) */
  SBX_RLIMIT_CORE = 4,    /* core file bytes */
  SBX_RLIMIT_STACK = 5,   /* stack bytes */
  SBX_RLIMIT_MEMLOCK = 6, /* locked memory bytes */
  SBX_RLIMIT_NPROC = 7    /* always refused (see above) */
} sbx_rlimit_resource;

#define SBX_RLIM_INFINITY UINT64_MAX

/* Sets rlimit RESOURCE to SOFT/HARD (SBX_RLIM_INFINITY = unlimited).
 * SOFT <= HARD. A hard limit above the caller's own cannot be raised (that
 * needs CAP_SYS_RESOURCE in the host): it fails here with a message naming
 * the caller's limit. Defaults: the caller's limits, except RLIMIT_CORE 0. */
SBX_API int sbx_spec_set_rlimit(sbx_spec* spec, sbx_rlimit_resource resource, uint64_t soft, uint64_t hard,
                                sbx_error** err);
/* Wall-clock limit of this process in milliseconds (0 = none): SIGTERM to
 * every process of its box, the box's kill grace, then SIGKILL
 * (reason SBX_REASON_TIMEOUT). The earlier of this and the box's limit
 * applies. */
SBX_API int sbx_spec_set_timeout(sbx_spec* spec, uint64_t ms, sbx_error** err);

/* Captured output (SBX_STDIO_CAPTURE on stdout and/or stderr).
 *
 * With an output callback, FN(USER_DATA, STREAM, DATA, LEN) receives every
 * chunk, in order per stream, on the library's monitor thread (never on the
 * caller's; LEN > 0; DATA is valid during the call only). It must not block
 * for long and must not free the process (other sbx calls are fine). Without
 * one, output is kept in the process until read with sbx_proc_read (at most
 * 1 MiB per stream is buffered: the program then blocks on write until it
 * is read). No callback runs once sbx_proc_free has returned. */
typedef void (*sbx_output_fn)(void* user_data, int stream, const void* data, size_t len);
SBX_API int sbx_spec_set_output_callback(sbx_spec* spec, sbx_output_fn fn, void* user_data, sbx_error** err);

/* Called once, on the monitor thread, after the process has ended AND every
 * captured stream has reached end of file (so all output has been delivered
 * before it), with the final exit record. Not called if the process handle
 * is freed first. */
struct sbx_exit_status; /* defined below */
typedef void (*sbx_exit_fn)(void* user_data, const struct sbx_exit_status* status);
SBX_API int sbx_spec_set_exit_callback(sbx_spec* spec, sbx_exit_fn fn, void* user_data, sbx_error** err);

/* A cap on the captured output of the process (stdout and stderr
 * together, MAX_BYTES > 0). Beyond it output is dropped (limits_hit gets
 * SBX_HIT_OUTPUT) and, with SBX_OUTPUT_LIMIT_KILL, the box is killed
 * (reason SBX_REASON_OUTPUT). output_bytes in the exit record counts every
 * byte the program wrote to captured streams, delivered or dropped. */
enum { SBX_OUTPUT_LIMIT_TRUNCATE = 0, SBX_OUTPUT_LIMIT_KILL = 1 };
SBX_API int sbx_spec_set_output_limit(sbx_spec* spec, uint64_t max_bytes, int action, sbx_error** err);

/* Process group of a process spawned into a started box (sbx_box_start):
 *   SBX_PGROUP_NEW          a new group led by the process (the default),
 *                           in the box init's session;
 *   SBX_PGROUP_JOIN         join group PGID (box pids; 0 = the box init's
 *                           own group), which must exist in the box init's
 *                           session (else the spawn fails, step "setpgid",
 *                           EPERM, as setpgid(2) does);
 *   SBX_PGROUP_NEW_SESSION  a new session and group (setsid).
 * PGID must be 0 except with SBX_PGROUP_JOIN. A pty (sbx_spec_set_pty)
 * always gets a new session. The one process of a box that was not
 * started always leads its own session. */
enum { SBX_PGROUP_NEW = 0, SBX_PGROUP_JOIN = 1, SBX_PGROUP_NEW_SESSION = 2 };
SBX_API int sbx_spec_set_pgroup(sbx_spec* spec, int mode, int pgid, sbx_error** err);

/* Runs the program on a pseudo-terminal of ROWS x COLS (both 1..10000): its
 * stdin, stdout and stderr are the terminal, which is its controlling
 * terminal (it leads its own session). The host side is the captured
 * stream API: output (stdout and stderr together, with the terminal's echo
 * and line discipline) is read as SBX_STDOUT (or goes to the output
 * callback), input is written with sbx_proc_write; sbx_proc_close_stdin
 * sends the terminal's end-of-file character (^D); sbx_proc_resize changes
 * the size and the program gets SIGWINCH. Overrides sbx_spec_set_stdio. */
SBX_API int sbx_spec_set_pty(sbx_spec* spec, uint16_t rows, uint16_t cols, sbx_error** err);

/* ------------------------------------------------------------------- box */

typedef struct sbx_box sbx_box;
typedef struct sbx_proc sbx_proc;

typedef enum sbx_box_state {
  SBX_BOX_CONFIGURED = 0, /* created, nothing running */
  SBX_BOX_RUNNING = 1,    /* its process is alive */
  SBX_BOX_STOPPING = 2,   /* sbx_box_stop is ending its processes */
  SBX_BOX_STOPPED = 3,    /* its process ended and was reaped */
  SBX_BOX_PAUSED = 4,     /* frozen by sbx_box_pause */
  SBX_BOX_FAILED = 5      /* setup failed; nothing is left running */
} sbx_box_state;

/* Validates CFG and creates a box. Host paths named by binds and the rootfs
 * are resolved and opened now; a missing or relative path fails here with a
 * message naming it. The box copies what it needs: CFG may be freed after. */
SBX_API int sbx_box_create(sbx_box** out, const sbx_config* cfg, sbx_error** err);

/* Destroys the box. If its process is still running it is killed
 * (SIGKILL to the whole box) and reaped first; a started box is stopped
 * with no grace (sbx_box_stop(box, 0)). No process, fd or mount outlives
 * this call. Processes obtained from the box stay valid handles until
 * freed; their records say how they ended. Every other thread must be done
 * with the box. NULL is accepted. */
SBX_API void sbx_box_free(sbx_box* box);

SBX_API int sbx_box_state_get(const sbx_box* box, sbx_box_state* out);
/* A static name such as "running". */
SBX_API const char* sbx_box_state_name(int state);

/* Starts SPEC in the box. Two kinds of box:
 *   - a box that was not started (SBX_BOX_CONFIGURED) runs SPEC as its one
 *     process: clone3 into the box's namespaces, build the filesystem view,
 *     drop identity and capabilities, close fds, execve. The box ends with
 *     it (a second spawn is SBX_E_STATE);
 *   - a started box (sbx_box_start, SBX_BOX_RUNNING) takes any number of
 *     processes, from any number of threads at once: its supervisor (pid 1
 *     of the box) starts each one as its child, in its own process group by
 *     default (sbx_spec_set_pgroup), and they appear in the box's process
 *     table (sbx_box_waitpid, sbx_box_signal, ...).
 * Returns only when the program has been executed, or with an error if
 * any step of that failed: SBX_E_SETUP (step + errno), SBX_E_NOTFOUND,
 * SBX_E_EXEC. On failure nothing is left behind. On success *OUT is a new
 * process handle owned by the caller (sbx_proc_free). */
SBX_API int sbx_box_spawn(sbx_box* box, const sbx_spec* spec, sbx_proc** out, sbx_error** err);

/* Sends SIG to everything in the box: the box init forwards catchable
 * signals to the program; SIGKILL ends the whole pid namespace at once.
 * In a started box: every process in it (kill(-1) by its supervisor, which
 * stays; the box keeps running). Signal 0 checks that the box is running.
 * Uses the pidfd, never a pid that could have been reused. SBX_E_STATE if
 * nothing is running. */
SBX_API int sbx_box_kill(sbx_box* box, int sig, sbx_error** err);

/* Pauses every process of a running box (state SBX_BOX_PAUSED): the box's
 * cgroup freezer (v2 cgroup.freeze or v1 freezer.state), else SIGSTOP to
 * every process through the box init (SIGCONT on resume; the processes can
 * see those). The enforcement report's "freeze" row says which. Wall-clock
 * limits keep counting while paused; killing or freeing a paused box works.
 * SBX_E_STATE unless running (resume: unless paused). */
SBX_API int sbx_box_pause(sbx_box* box, sbx_error** err);
SBX_API int sbx_box_resume(sbx_box* box, sbx_error** err);

/* ------------------------------------------------------- started boxes */

/* Starts the box without a program (SBX_BOX_CONFIGURED -> SBX_BOX_RUNNING):
 * its namespaces, filesystem view, cgroup and policies come to life around
 * a supervisor that is pid 1 of the box. It reaps every orphan of the box,
 * is the parent of every process spawned into it (sbx_box_spawn), and
 * reports each one's exit, stop and continue. The box runs until
 * sbx_box_stop or sbx_box_free; its wall-clock limit
 * (sbx_config_set_timeout) counts from here and stops it. Needs the pid
 * namespace (SBX_NS_PID). Failures are those of a spawn: SBX_E_SETUP with
 * the failing step; the box is then SBX_BOX_FAILED. */
SBX_API int sbx_box_start(sbx_box* box, sbx_error** err);

/* Stops a running or paused box (-> SBX_BOX_STOPPING -> SBX_BOX_STOPPED):
 * SIGTERM to every process in it, at most GRACE_MS milliseconds (-1: the
 * box's kill grace) for them to end, then SIGKILL to what is left; then the
 * supervisor ends. Every process's exit record is exact and every wait on
 * them returns. For a box that was not started, this ends its one process
 * the same way. SBX_OK on a box that is already stopped; SBX_E_STATE on a
 * box that never ran (configured, failed). */
SBX_API int sbx_box_stop(sbx_box* box, int grace_ms, sbx_error** err);

/* ---------------------------------------------- the box's process table
 *
 * A started box keeps a POSIX-style table of the processes spawned into it
 * with sbx_box_spawn, named by their pid inside the box (the "box pid";
 * sbx_proc_box_pid). Their parent is the box supervisor (box pid 1, which
 * leads its own session and process group 1): these calls act as that
 * parent would, with waitpid(2)/kill(2)/setpgid(2) semantics. A call that
 * fails as POSIX defines returns SBX_E_PROCESS with the errno in the error
 * (sbx_error_errno): ESRCH (no such process or group in the table), ECHILD
 * (nothing to wait for), EPERM, EACCES, EINVAL. Calls on a box that was not
 * started are SBX_E_STATE. Processes that the spawned programs start
 * themselves are not in the table (the supervisor reaps them). */

/* kill(2): PID > 0 one process; PID == 0 the box init's group (group 1);
 * PID == -1 every process in the box; PID < -1 the group -PID. SIG 0 only
 * checks that the target exists. EINVAL for an invalid signal, ESRCH for an
 * unknown pid or group. An exited process not yet waited for (a zombie)
 * accepts signals and ignores them. A signal held for a process
 * (sbx_box_sigmask) stays pending for it. As in the kernel, a stopped
 * process takes SIGKILL, SIGCONT and any signal that ends it by default
 * (without a handler) at once; others wait until it continues. */
SBX_API int sbx_box_signal(sbx_box* box, int pid, int sig, sbx_error** err);

/* waitpid(2) option bits (the values of Linux's <sys/wait.h>). */
enum { SBX_WNOHANG = 1, SBX_WUNTRACED = 2, SBX_WCONTINUED = 8 };

/* waitpid(2) over the table: PID > 0 that process; -1 any; 0 the box
 * init's group; < -1 the group -PID. An exit is reported once and removes
 * the process from the table; with SBX_WUNTRACED each stop, with
 * SBX_WCONTINUED each continue is reported once. *OUT_STATUS is a Linux wait
 * status (use WIFEXITED, WEXITSTATUS, WIFSIGNALED, WTERMSIG, WIFSTOPPED,
 * WSTOPSIG, WIFCONTINUED). With SBX_WNOHANG and nothing to report: SBX_OK
 * with *OUT_PID = 0. ECHILD when nothing in the table matches. Waits at
 * most TIMEOUT_MS (-1 forever): SBX_E_TIMEOUT; sbx_box_interrupt wakes it
 * with SBX_E_INTERRUPTED; stopping the box ends it (the exits are then
 * reported). Independent of sbx_proc_wait, whose record stays readable. */
SBX_API int sbx_box_waitpid(sbx_box* box, int pid, int options, int timeout_ms, int* out_pid, int* out_status,
                            sbx_error** err);

/* setpgid(2) applied by the box init to its child PID: PGID 0 means PID.
 * As in the kernel: ESRCH for a pid not in the table (or exited), EPERM for
 * a session leader or a group in another session, EACCES once the child
 * has executed its program (which every spawned process has: choose the
 * group at spawn with sbx_spec_set_pgroup), EINVAL for a negative PGID. */
SBX_API int sbx_box_setpgid(sbx_box* box, int pid, int pgid, sbx_error** err);
/* setsid(2) for process PID: EPERM when it leads a process group (every
 * process spawned with SBX_PGROUP_NEW or a new session does). A process
 * can only change its own session: for any other one this is
 * SBX_E_UNSUPPORTED (use SBX_PGROUP_NEW_SESSION at spawn). */
SBX_API int sbx_box_setsid(sbx_box* box, int pid, sbx_error** err);
/* getpgid(2) / getsid(2): PID 0 is the box init. Read from the kernel
 * while the process runs (a program may change its own group); the last
 * known value for a zombie. ESRCH for unknown pids. */
SBX_API int sbx_box_getpgid(sbx_box* box, int pid, int* out, sbx_error** err);
SBX_API int sbx_box_getsid(sbx_box* box, int pid, int* out, sbx_error** err);

/* Held signals: a mask per process, kept by sbx (the program's own signal
 * mask is not touched). A signal sent with sbx_box_signal while held
 * becomes pending and is delivered when released. HOW is SBX_SIG_BLOCK,
 * SBX_SIG_UNBLOCK or SBX_SIG_SETMASK; SET has bit N-1 for signal N;
 * SIGKILL, SIGSTOP and SIGCONT are never held (silently left out, as
 * sigprocmask does). *OLD (may be NULL) receives the mask before. ESRCH
 * for a pid that is unknown or has exited, EINVAL for a bad HOW. */
enum { SBX_SIG_BLOCK = 0, SBX_SIG_UNBLOCK = 1, SBX_SIG_SETMASK = 2 };
SBX_API int sbx_box_sigmask(sbx_box* box, int pid, int how, uint64_t set, uint64_t* old, sbx_error** err);
/* The signals pending for PID because they are held. */
SBX_API int sbx_box_sigpending(sbx_box* box, int pid, uint64_t* out, sbx_error** err);

/* The box pids in the table (running, stopped and zombies), ascending, as
 * an array owned by the caller (sbx_free); *N may be 0. */
SBX_API int sbx_box_list(sbx_box* box, int** pids, size_t* n, sbx_error** err);

typedef enum sbx_proc_state {
  SBX_PROC_RUNNING = 1,
  SBX_PROC_STOPPED = 2,
  SBX_PROC_ZOMBIE = 3 /* exited, not yet waited for */
} sbx_proc_state;

/* One table entry. Versioned by size like sbx_exit_status. */
typedef struct sbx_proc_info {
  size_t size;
  int pid;  /* box pid */
  int ppid; /* 1: the box supervisor */
  int pgid;
  int sid;
  int state;         /* sbx_proc_state */
  int wait_status;   /* a Linux wait status once a zombie, else 0 */
  int host_pid;      /* for display only */
  char command[128]; /* argv joined by spaces, truncated, NUL-terminated */
} sbx_proc_info;

SBX_API int sbx_box_proc_info(sbx_box* box, int pid, sbx_proc_info* out, sbx_error** err);

/* Terminate-all: SIGTERM to every process in the box, at most GRACE_MS
 * (-1: the box's kill grace) for them to end, SIGKILL to the survivors;
 * returns once every process of the table has exited. The box keeps
 * running (new spawns are fine afterwards). A process handle's record
 * (sbx_proc_wait) is final once its captured streams have reached end of
 * file too, which a child of the program that still holds them delays. */
SBX_API int sbx_box_terminate_all(sbx_box* box, int grace_ms, sbx_error** err);

/* The enforcement report of a box (available from sbx_box_create on):
 * one entry per limit and security layer, saying whether it is enforced and
 * by which mechanism, or why it was degraded. Names include "memory.max",
 * "pids.max", "cpu.max", "cpu.weight", "cpu-time", "timeout", "accounting",
 * "kill-tree", "seccomp", "landlock", "capabilities", "no_new_privs". */
typedef enum sbx_enforcement {
  SBX_ENFORCED = 1, /* applied as asked */
  SBX_DEGRADED = 2, /* asked for (or on by default) but not, or only partly, applied */
  SBX_OFF = 3       /* turned off by the configuration */
} sbx_enforcement;

SBX_API int sbx_box_report_count(const sbx_box* box, size_t* out);
/* Entry I: NAME, STATE (sbx_enforcement), MECHANISM (e.g. "cgroup v1
 * memory.limit_in_bytes") and DETAIL (why degraded, with the fix; may be
 * empty). Borrowed from BOX. Any out pointer may be NULL. */
SBX_API int sbx_box_report_entry(const sbx_box* box, size_t i, const char** name, int* state,
                                 const char** mechanism, const char** detail, sbx_error** err);
/* The report as a JSON array, owned by the caller (sbx_free). */
SBX_API int sbx_box_report_json(const sbx_box* box, char** out, sbx_error** err);

/* ----------------------------------------------------------------- process */

typedef enum sbx_exit_kind {
  SBX_EXIT_NONE = 0,    /* not ended yet */
  SBX_EXIT_EXITED = 1,  /* returned from main / called exit */
  SBX_EXIT_SIGNALED = 2 /* terminated by a signal */
} sbx_exit_kind;

/* Why the process ended. When several apply, the first in this order wins:
 * KILLED, TIMEOUT, CPU_TIME, MEMORY, SECCOMP, FILE_SIZE, PIDS, NORMAL. */
typedef enum sbx_exit_reason {
  SBX_REASON_NONE = 0,      /* not ended */
  SBX_REASON_NORMAL = 1,    /* ended by itself */
  SBX_REASON_KILLED = 2,    /* a signal sent through sbx_*_kill preceded the end */
  SBX_REASON_TIMEOUT = 3,   /* the wall-clock limit ended it */
  SBX_REASON_CPU_TIME = 4,  /* the CPU-time limit ended it (or SIGXCPU) */
  SBX_REASON_MEMORY = 5,    /* OOM-killed in the box's memory limit */
  SBX_REASON_SECCOMP = 6,   /* killed by the seccomp filter (SIGSYS) */
  SBX_REASON_FILE_SIZE = 7, /* SIGXFSZ: wrote beyond RLIMIT_FSIZE */
  SBX_REASON_PIDS = 8,      /* failed after forks were refused at pids.max */
  SBX_REASON_OUTPUT = 9     /* the output limit ended it (SBX_OUTPUT_LIMIT_KILL) */
} sbx_exit_reason;

/* A static name such as "timeout". */
SBX_API const char* sbx_exit_reason_name(int reason);

/* sbx_exit_status.limits_hit: every limit that was reached during the run
 * (a limit can be hit without ending the process, e.g. refused forks). */
enum {
  SBX_HIT_TIMEOUT = 1u << 0,
  SBX_HIT_CPU_TIME = 1u << 1,
  SBX_HIT_MEMORY = 1u << 2, /* memory.max reached (OOM kill or reclaim failure) */
  SBX_HIT_PIDS = 1u << 3,   /* a fork was refused at pids.max */
  SBX_HIT_FILE_SIZE = 1u << 4,
  SBX_HIT_OUTPUT = 1u << 5 /* captured output went beyond its cap (dropped) */
};

/* sbx_exit_status.usage_valid: which usage fields were measured. */
enum {
  SBX_USAGE_CPU = 1u << 0,    /* cpu_user_ns, cpu_system_ns */
  SBX_USAGE_MEMORY = 1u << 1, /* memory_peak_bytes */
  SBX_USAGE_PIDS = 1u << 2,   /* pids_peak */
  SBX_USAGE_OUTPUT = 1u << 3  /* output_bytes */
};

/* The exit record. Versioned by size: set .size = sizeof(sbx_exit_status)
 * before passing it in; a larger struct from a newer header must have zero
 * trailing bytes; a smaller one receives only its own fields. */
typedef struct sbx_exit_status {
  size_t size;
  int kind;         /* sbx_exit_kind */
  int code;         /* exit code when EXITED, else 0 */
  int signal;       /* signal number when SIGNALED, else 0 */
  int core_dumped;  /* 1 when SIGNALED and a core was dumped */
  int reason;       /* sbx_exit_reason */
  int pid;          /* host pid of the process (for display only) */
  uint64_t wall_ns; /* from spawn to reap, nanoseconds */
  /* Since 0.2: usage of the whole box tree (the cgroup's accounting when
   * the box has one; else what the box init collected from its children). */
  uint64_t cpu_user_ns;
  uint64_t cpu_system_ns;
  uint64_t memory_peak_bytes; /* peak memory of the box (cgroup) or max RSS */
  uint64_t pids_peak;         /* most processes at once (cgroup pids.peak) */
  uint64_t output_bytes;      /* bytes written to captured streams (or counted
                                 by a capping caller such as the CLI) */
  uint32_t limits_hit;        /* SBX_HIT_* */
  uint32_t usage_valid;       /* SBX_USAGE_*: which usage fields are measured */
} sbx_exit_status;

/* Zero-initialised with the size set. */
#define SBX_EXIT_STATUS_INIT \
  { sizeof(sbx_exit_status), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }

/* The shell's view: code for EXITED, 128+signal for SIGNALED, -1 if not
 * ended or ST is NULL. */
SBX_API int sbx_exit_shell_code(const sbx_exit_status* st);

/* Waits until the process ends, at most TIMEOUT_MS milliseconds (-1 =
 * forever, 0 = poll). On SBX_OK *OUT holds the exit record. Returns
 * SBX_E_TIMEOUT or SBX_E_INTERRUPTED otherwise, changing nothing. The status
 * is sticky: any number of threads may wait, before or after the end, and
 * all read the same record. */
SBX_API int sbx_proc_wait(sbx_proc* proc, int timeout_ms, sbx_exit_status* out, sbx_error** err);
/* Waits for the box's process; same contract as sbx_proc_wait. For a
 * started box: until it has stopped (its supervisor has ended; the record
 * then says exited 0, with the usage of everything the supervisor reaped). */
SBX_API int sbx_box_wait(sbx_box* box, int timeout_ms, sbx_exit_status* out, sbx_error** err);
/* Wakes every wait in progress on PROC (or on BOX and its processes) with
 * SBX_E_INTERRUPTED. Waits started afterwards are not affected.
 * Safe from any thread (not from a signal handler). */
SBX_API int sbx_proc_interrupt(sbx_proc* proc, sbx_error** err);
SBX_API int sbx_box_interrupt(sbx_box* box, sbx_error** err);

/* Sends SIG to the process through its pidfd. Signal 0 checks liveness.
 * SBX_E_STATE once the process has been reaped. */
SBX_API int sbx_proc_kill(sbx_proc* proc, int sig, sbx_error** err);

/* The process's pid inside its started box (its entry in the box's process
 * table); 0 for the one process of a box that was not started. */
SBX_API int sbx_proc_box_pid(const sbx_proc* proc, int* out);
/* Host pid of the box process (its pid-1 init when a pid namespace is used;
 * in a started box the process itself, or 0 if it had already ended and
 * been reaped when its spawn was answered), for display; use the handle,
 * never the pid, to signal it. */
SBX_API int sbx_proc_pid(const sbx_proc* proc, pid_t* out);
/* A pollable fd: for a box's one program a pidfd, readable once the box
 * has ended and been torn down; for a process in a started box an eventfd,
 * readable once its exit record is final. Call sbx_proc_wait(proc, 0, ...)
 * then. Borrowed from PROC; do not close it, read it, or wait on it with
 * waitid yourself. */
SBX_API int sbx_proc_pollfd(const sbx_proc* proc, int* out);
/* The host end of a SBX_STDIO_PIPE stream (write end for stdin, read end for
 * stdout/stderr). Ownership passes to the caller, who must close it; a
 * second call, or a stream that is not a pipe, is SBX_E_STATE. Pipe ends
 * not taken are closed by sbx_proc_free. */
SBX_API int sbx_proc_take_stdio(sbx_proc* proc, int which, int* out_fd, sbx_error** err);

/* Reads captured output of STREAM (SBX_STDOUT or SBX_STDERR, captured and
 * without an output callback): waits at most TIMEOUT_MS (-1 forever, 0
 * poll) for data, then copies up to CAP bytes to BUF. *N_OUT = 0 with SBX_OK
 * means end of file (every writer has gone). SBX_E_TIMEOUT / SBX_E_INTERRUPTED
 * (sbx_proc_interrupt) change nothing. Any thread may read. */
SBX_API int sbx_proc_read(sbx_proc* proc, int stream, void* buf, size_t cap, size_t* n_out, int timeout_ms,
                          sbx_error** err);
/* Writes to a captured stdin: waits at most TIMEOUT_MS for room, writes what
 * fits, *WRITTEN says how much. SBX_E_STATE once the program has closed its
 * stdin (never a SIGPIPE for the host) or after sbx_proc_close_stdin. */
SBX_API int sbx_proc_write(sbx_proc* proc, const void* data, size_t len, size_t* written, int timeout_ms,
                           sbx_error** err);
/* Closes a captured stdin: the program reads end of file. */
SBX_API int sbx_proc_close_stdin(sbx_proc* proc, sbx_error** err);
/* A process on a pseudo-terminal (sbx_spec_set_pty): new size; the kernel
 * sends SIGWINCH to its foreground process group. SBX_E_STATE otherwise. */
SBX_API int sbx_proc_resize(sbx_proc* proc, uint16_t rows, uint16_t cols, sbx_error** err);

/* Frees the handle. A process still running is killed (SIGKILL) and reaped
 * first, so nothing outlives its handle; callbacks stop before it returns
 * (do not call it from one of this process's callbacks). NULL is accepted. */
SBX_API void sbx_proc_free(sbx_proc* proc);

/* ------------------------------------------------------- capability probe */

typedef struct sbx_probe sbx_probe;

/* What this host supports, checked by trying it (in short-lived children),
 * not by reading version numbers only. */
SBX_API int sbx_probe_run(sbx_probe** out, sbx_error** err);
SBX_API void sbx_probe_free(sbx_probe* probe);
/* Number of entries. */
SBX_API size_t sbx_probe_count(const sbx_probe* probe);
/* Entry I: its NAME (e.g. "namespace.user", "cgroup.layout", "landlock"),
 * whether it is SUPPORTED (1/0), a DETAIL ("ABI 7", "hybrid: memory,pids on
 * v1", "EPERM: ...") and a FIX hint (empty when supported). All borrowed from
 * PROBE. Any out pointer may be NULL. */
SBX_API int sbx_probe_entry(const sbx_probe* probe, size_t i, const char** name, int* supported,
                            const char** detail, const char** fix, sbx_error** err);
/* The whole probe as a JSON document, owned by the caller (sbx_free). */
SBX_API int sbx_probe_json(const sbx_probe* probe, char** out, sbx_error** err);

#ifdef __cplusplus
}
#endif

#endif /* SBX_SBX_H */
