// Raw system calls for the child side of a launch.
//
// Between clone3 and execve the child is a copy of one thread of a possibly
// multithreaded host, made without glibc's fork(). glibc's own wrappers are
// not safe there: set*id() and setgroups() broadcast to the host's other
// threads (which do not exist in the child), and sanitizer runtimes
// intercept open/read/write/sigaction and take internal locks that another
// host thread may have held at clone time. Every call in core/launch/child.cpp
// therefore goes straight to the kernel through syscall(2), which neither
// glibc nor the sanitizers wrap with extra logic.
#pragma once

#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>

namespace sbx::sys {

inline int ret(long r) { return static_cast<int>(r); }

inline ssize_t read(int fd, void* buf, size_t n) { return syscall(SYS_read, fd, buf, n); }
inline ssize_t write(int fd, const void* buf, size_t n) { return syscall(SYS_write, fd, buf, n); }
inline int close(int fd) { return ret(syscall(SYS_close, fd)); }
inline int openat(int dirfd, const char* path, int flags, mode_t mode = 0) {
  return ret(syscall(SYS_openat, dirfd, path, flags, mode));
}
inline int mkdirat(int dirfd, const char* path, mode_t mode) { return ret(syscall(SYS_mkdirat, dirfd, path, mode)); }
inline int symlinkat(const char* target, int dirfd, const char* path) {
  return ret(syscall(SYS_symlinkat, target, dirfd, path));
}
inline int fstatat(int dirfd, const char* path, struct stat* st, int flags) {
  return ret(syscall(SYS_newfstatat, dirfd, path, st, flags));
}
inline int fcntl(int fd, int cmd, long arg = 0) { return ret(syscall(SYS_fcntl, fd, cmd, arg)); }
inline int dup3(int oldfd, int newfd, int flags) { return ret(syscall(SYS_dup3, oldfd, newfd, flags)); }
inline int chdir(const char* path) { return ret(syscall(SYS_chdir, path)); }
inline int fchdir(int fd) { return ret(syscall(SYS_fchdir, fd)); }
inline int mount(const char* src, const char* target, const char* type, unsigned long flags, const void* data) {
  return ret(syscall(SYS_mount, src, target, type, flags, data));
}
inline int umount2(const char* target, int flags) { return ret(syscall(SYS_umount2, target, flags)); }
inline int pivot_root(const char* new_root, const char* put_old) {
  return ret(syscall(SYS_pivot_root, new_root, put_old));
}
inline int sethostname(const char* name, size_t len) { return ret(syscall(SYS_sethostname, name, len)); }
inline int setsid() { return ret(syscall(SYS_setsid)); }
inline int setgroups(size_t n, const gid_t* list) { return ret(syscall(SYS_setgroups, n, list)); }
inline int setresgid(gid_t r, gid_t e, gid_t s) { return ret(syscall(SYS_setresgid, r, e, s)); }
inline int setresuid(uid_t r, uid_t e, uid_t s) { return ret(syscall(SYS_setresuid, r, e, s)); }
inline int prctl(int op, unsigned long a, unsigned long b = 0, unsigned long c = 0, unsigned long d = 0) {
  return ret(syscall(SYS_prctl, op, a, b, c, d));
}
inline int socket(int domain, int type, int proto) { return ret(syscall(SYS_socket, domain, type, proto)); }
inline int ioctl(int fd, unsigned long req, void* arg) { return ret(syscall(SYS_ioctl, fd, req, arg)); }
inline int kill(pid_t pid, int sig) { return ret(syscall(SYS_kill, pid, sig)); }
inline pid_t wait4(pid_t pid, int* status, int options) {
  return static_cast<pid_t>(syscall(SYS_wait4, pid, status, options, nullptr));
}
inline int execve(const char* path, char* const* argv, char* const* envp) {
  return ret(syscall(SYS_execve, path, argv, envp));
}
[[noreturn]] inline void exit_group(int code) {
  for (;;) syscall(SYS_exit_group, code);
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
  return ret(syscall(SYS_rt_sigaction, sig, &sa, nullptr, sizeof(uint64_t)));
}
inline int set_signal_mask(uint64_t mask) {
  return ret(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, nullptr, sizeof mask));
}
inline int sigtimedwait_all(siginfo_t* info) {
  uint64_t all = ~0ull;
  return ret(syscall(SYS_rt_sigtimedwait, &all, info, nullptr, sizeof all));
}

}  // namespace sbx::sys
