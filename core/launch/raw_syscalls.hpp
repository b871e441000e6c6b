// Raw system calls for the child side of a launch (and the box init image).
//
// Between clone3 and execve the child is not a normal thread of the host:
//   - on x86-64 it shares the host's memory (CLONE_VM, so that no page
//     tables are copied), and with it the TLS of the thread that called
//     sbx_box_spawn. errno lives there: the child must never write it.
//   - it was made without glibc's fork(): glibc's set*id()/setgroups()
//     would try to synchronise host threads that do not exist in the child,
//     and sanitizer interceptors would take locks copied in unknown states.
// So every call goes straight to the kernel and returns the kernel's value:
// >= 0 on success, -errno on failure. Nothing here touches errno.
#pragma once

#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace sbx::sys {

#if defined(__x86_64__)
// True when the child may share the host's memory (see launcher.cpp).
inline constexpr bool kErrnoFree = true;

inline long raw(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) {
  register long r10 asm("r10") = d;
  register long r8 asm("r8") = e;
  register long r9 asm("r9") = f;
  long ret;
  asm volatile("syscall"
               : "=a"(ret)
               : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
               : "rcx", "r11", "memory");
  return ret;
}
#else
// Other architectures: the child is a copy (no CLONE_VM), so glibc's
// syscall(2) and its errno are private to it.
inline constexpr bool kErrnoFree = false;

inline long raw(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) {
  long r = syscall(n, a, b, c, d, e, f);
  return r == -1 ? -errno : r;
}
#endif

template <typename T>
inline long L(T v) {
  return (long)(v);  // NOLINT: pointer and integer arguments alike
}

inline long read(int fd, void* buf, size_t n) {
  return raw(SYS_read, fd, L(buf), L(n));
}
inline long write(int fd, const void* buf, size_t n) {
  return raw(SYS_write, fd, L(buf), L(n));
}
inline int close(int fd) {
  return (int)raw(SYS_close, fd);
}
inline int openat(int dirfd, const char* path, int flags, mode_t mode = 0) {
  return (int)raw(SYS_openat, dirfd, L(path), flags, mode);
}
inline int openat2(int dirfd, const char* path, const void* how, size_t size) {
  return (int)raw(SYS_openat2, dirfd, L(path), L(how), L(size));
}
inline int mkdirat(int dirfd, const char* path, mode_t mode) {
  return (int)raw(SYS_mkdirat, dirfd, L(path), mode);
}
inline int symlinkat(const char* target, int dirfd, const char* path) {
  return (int)raw(SYS_symlinkat, L(target), dirfd, L(path));
}
inline int fstatat(int dirfd, const char* path, struct stat* st, int flags) {
  return (int)raw(SYS_newfstatat, dirfd, L(path), L(st), flags);
}
inline int fcntl(int fd, int cmd, long arg = 0) {
  return (int)raw(SYS_fcntl, fd, cmd, arg);
}
inline int dup3(int oldfd, int newfd, int flags) {
  return (int)raw(SYS_dup3, oldfd, newfd, flags);
}
inline int close_range(unsigned first, unsigned last, unsigned flags) {
  return (int)raw(SYS_close_range, first, last, flags);
}
inline int chdir(const char* path) {
  return (int)raw(SYS_chdir, L(path));
}
inline int fchdir(int fd) {
  return (int)raw(SYS_fchdir, fd);
}
inline int mount(const char* src, const char* target, const char* type, unsigned long flags,
                 const void* data) {
  return (int)raw(SYS_mount, L(src), L(target), L(type), L(flags), L(data));
}
inline int mount_setattr(int dirfd, const char* path, unsigned flags, const void* attr, size_t size) {
  return (int)raw(SYS_mount_setattr, dirfd, L(path), flags, L(attr), L(size));
}
inline int umount2(const char* target, int flags) {
  return (int)raw(SYS_umount2, L(target), flags);
}
inline int pivot_root(const char* new_root, const char* put_old) {
  return (int)raw(SYS_pivot_root, L(new_root), L(put_old));
}
inline int sethostname(const char* name, size_t len) {
  return (int)raw(SYS_sethostname, L(name), L(len));
}
inline int setsid() {
  return (int)raw(SYS_setsid);
}
inline int setgroups(size_t n, const gid_t* list) {
  return (int)raw(SYS_setgroups, L(n), L(list));
}
inline int setresgid(gid_t r, gid_t e, gid_t s) {
  return (int)raw(SYS_setresgid, r, e, s);
}
inline int setresuid(uid_t r, uid_t e, uid_t s) {
  return (int)raw(SYS_setresuid, r, e, s);
}
inline int capset(void* hdr, void* data) {
  return (int)raw(SYS_capset, L(hdr), L(data));
}
inline int prctl(int op, unsigned long a, unsigned long b = 0, unsigned long c = 0, unsigned long d = 0) {
  return (int)raw(SYS_prctl, op, L(a), L(b), L(c), L(d));
}
inline int socket(int domain, int type, int proto) {
  return (int)raw(SYS_socket, domain, type, proto);
}
inline int ioctl(int fd, unsigned long req, void* arg) {
  return (int)raw(SYS_ioctl, fd, L(req), L(arg));
}
inline int kill(pid_t pid, int sig) {
  return (int)raw(SYS_kill, pid, sig);
}
inline pid_t wait4(pid_t pid, int* status, int options) {
  return (pid_t)raw(SYS_wait4, pid, L(status), options, 0);
}
inline pid_t wait4_ru(pid_t pid, int* status, int options, void* rusage) {
  return (pid_t)raw(SYS_wait4, pid, L(status), options, L(rusage));
}
inline int getrusage(int who, void* rusage) {
  return (int)raw(SYS_getrusage, who, L(rusage));
}
inline int prlimit(int resource, const void* new_limit) {
  return (int)raw(SYS_prlimit64, 0, resource, L(new_limit), 0);
}
inline int execve(const char* path, char* const* argv, char* const* envp) {
  return (int)raw(SYS_execve, L(path), L(argv), L(envp));
}
inline int execveat(int dirfd, const char* path, char* const* argv, char* const* envp, int flags) {
  return (int)raw(SYS_execveat, dirfd, L(path), L(argv), L(envp), flags);
}
[[noreturn]] inline void exit_group(int code) {
  for (;;) raw(SYS_exit_group, code);
}

// The kernel's struct sigaction (x86-64 and most 64-bit ABIs): only used
// here to restore SIG_DFL, which needs no restorer.
struct KernelSigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)();
  uint64_t mask;
};
inline int set_default_disposition(int sig) {
  KernelSigaction sa{SIG_DFL, 0, nullptr, 0};
  return (int)raw(SYS_rt_sigaction, sig, L(&sa), 0, sizeof(uint64_t));
}
inline int set_signal_mask(uint64_t mask) {
  return (int)raw(SYS_rt_sigprocmask, SIG_SETMASK, L(&mask), 0, sizeof mask);
}
inline int sigtimedwait_all(siginfo_t* info) {
  uint64_t all = ~0ull;
  return (int)raw(SYS_rt_sigtimedwait, L(&all), L(info), 0, sizeof all);
}
inline int seccomp_set_filter(const void* fprog) {
  return (int)raw(SYS_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, 0, L(fprog));
}

// Used by the box supervisor (supervisor_loop.hpp).
inline int signalfd_all(int flags) {
  uint64_t all = ~0ull;
  return (int)raw(SYS_signalfd4, -1, L(&all), sizeof all, flags);
}
inline int ppoll(void* fds, unsigned long n) {
  return (int)raw(SYS_ppoll, L(fds), L(n), 0, 0, 0);
}
inline long recvmsg(int fd, void* msg, int flags) {
  return raw(SYS_recvmsg, fd, L(msg), flags);
}
inline long sendmsg(int fd, const void* msg, int flags) {
  return raw(SYS_sendmsg, fd, L(msg), flags);
}
inline void* mmap(void* addr, size_t len, int prot, int flags, int fd, long off) {
  return (void*)raw(SYS_mmap, L(addr), L(len), prot, flags, fd, off);  // NOLINT
}
inline int munmap(void* addr, size_t len) {
  return (int)raw(SYS_munmap, L(addr), L(len));
}
inline int fstat(int fd, struct stat* st) {
  return (int)raw(SYS_fstat, fd, L(st));
}
inline long pread(int fd, void* buf, size_t n, long off) {
  return raw(SYS_pread64, fd, L(buf), L(n), off);
}
inline int waitid(int idtype, int id, siginfo_t* info, int options, void* rusage) {
  return (int)raw(SYS_waitid, idtype, id, L(info), options, L(rusage));
}
inline int setpgid(pid_t pid, pid_t pgid) {
  return (int)raw(SYS_setpgid, pid, pgid);
}
inline pid_t getpgid(pid_t pid) {
  return (pid_t)raw(SYS_getpgid, pid);
}
inline pid_t getsid(pid_t pid) {
  return (pid_t)raw(SYS_getsid, pid);
}

}  // namespace sbx::sys
