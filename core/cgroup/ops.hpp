// The system operations of the cgroup layer, behind one interface.
//
// Every file-system and process operation the cgroup backends perform goes
// through Ops so that the unit tests can run the production code against a
// fake tree of plain files (which has no kernel behind it: mkdir creates no
// interface files, writes have no side effects) and inject failures at any
// step. The base class IS the production implementation; a test derives from
// it and overrides what it fakes. The backends contain no "if testing" branch.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>

namespace sbx::cgroup {

class Ops {
 public:
  Ops() = default;
  Ops(const Ops&) = delete;
  Ops& operator=(const Ops&) = delete;
  virtual ~Ops() = default;

  // All int results are 0 or a positive errno value unless noted.
  virtual int make_dir(const std::string& path, mode_t mode);
  virtual int remove_dir(const std::string& path);
  // open(O_WRONLY) + ONE write(2) of DATA: a cgroup file acts on each write
  // separately, so the data must never be split. No O_CREAT, no O_TRUNC.
  virtual int write_file(const std::string& path, std::string_view data);
  virtual int read_file(const std::string& path, std::string* out);
  virtual bool exists(const std::string& path);
  // An fd, or -errno.
  virtual int open_file(const std::string& path, int flags);
  virtual int owner(const std::string& path, uid_t* uid);
  // access(2) with the effective ids: may this process write PATH?
  virtual bool writable(const std::string& path);
  virtual uid_t euid();
  // pidfd_open(2): an fd, or -errno (-ENOSYS before Linux 5.3).
  virtual int pidfd_open(pid_t pid);
  // pidfd_send_signal(2) when PIDFD >= 0, else kill(2).
  virtual int send_signal(int pidfd, pid_t pid, int sig);
  virtual void sleep_for(std::chrono::microseconds d);
  virtual std::chrono::steady_clock::time_point now();
};

}  // namespace sbx::cgroup
