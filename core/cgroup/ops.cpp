#include "core/cgroup/ops.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "core/common/fd.hpp"
#include "core/common/util.hpp"

namespace sbx::cgroup {

int Ops::make_dir(const std::string& path, mode_t mode) {
  return ::mkdir(path.c_str(), mode) == 0 ? 0 : errno;
}

int Ops::remove_dir(const std::string& path) {
  return ::rmdir(path.c_str()) == 0 ? 0 : errno;
}

int Ops::write_file(const std::string& path, std::string_view data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return errno;
  for (;;) {
    ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    // Kernel cgroup files take the whole buffer or fail; a short write would
    // mean the tail was never applied.
    return static_cast<size_t>(n) == data.size() ? 0 : EIO;
  }
}

int Ops::read_file(const std::string& path, std::string* out) {
  return read_small_file(path, out) ? 0 : errno;
}

bool Ops::exists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

int Ops::open_file(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  return fd >= 0 ? fd : -errno;
}

int Ops::owner(const std::string& path, uid_t* uid) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return errno;
  *uid = st.st_uid;
  return 0;
}

bool Ops::writable(const std::string& path) {
  return ::faccessat(AT_FDCWD, path.c_str(), W_OK, AT_EACCESS) == 0;
}

uid_t Ops::euid() {
  return ::geteuid();
}

int Ops::pidfd_open(pid_t pid) {
  long fd = ::syscall(SYS_pidfd_open, pid, 0);
  return fd >= 0 ? static_cast<int>(fd) : -errno;
}

int Ops::send_signal(int pidfd, pid_t pid, int sig) {
  if (pidfd >= 0) return ::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) == 0 ? 0 : errno;
  return ::kill(pid, sig) == 0 ? 0 : errno;
}

void Ops::sleep_for(std::chrono::microseconds d) {
  struct timespec ts;
  ts.tv_sec = static_cast<time_t>(d.count() / 1000000);
  ts.tv_nsec = static_cast<long>(d.count() % 1000000) * 1000;
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

std::chrono::steady_clock::time_point Ops::now() {
  return std::chrono::steady_clock::now();
}

}  // namespace sbx::cgroup
