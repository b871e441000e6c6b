// Parent side of a launch: prepares the ChildPlan, clones the child into
// its namespaces, writes the id maps while it waits, and returns once the
// program has been executed (or throws the child's error).
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "core/common/fd.hpp"
#include "core/config/config.hpp"
#include "core/mounts/mount_plan.hpp"

namespace sbx {

// Memory mapped for the stacks of children that share the host's memory;
// unmapped only once they are gone.
class StackMapping {
 public:
  StackMapping() = default;
  StackMapping(size_t size);  // size bytes of stack above a guard page
  StackMapping(StackMapping&& o) noexcept : map_(o.map_), len_(o.len_) {
    o.map_ = nullptr;
    o.len_ = 0;
  }
  StackMapping& operator=(StackMapping&& o) noexcept;
  StackMapping(const StackMapping&) = delete;
  StackMapping& operator=(const StackMapping&) = delete;
  ~StackMapping();
  void* base() const;
  size_t size() const;

 private:
  void* map_ = nullptr;
  size_t len_ = 0;
};

struct Launched {
  Launched() = default;
  Launched(Launched&&) = default;
  Launched& operator=(Launched&&) = delete;
  // A Launched that was not moved into a Process (e.g. an allocation failed
  // in between) kills and reaps what it holds before its stacks go away.
  ~Launched();

  // The host's direct child: the box process itself, or (shim mode) the
  // shim that is its parent. Waited for and reaped through this pidfd.
  UniqueFd pidfd;
  // Signals go here: the box process (its pid-1 init). Empty when it is
  // the same process as PIDFD.
  UniqueFd signal_fd;
  bool shim = false;  // pidfd's exit code is 128+N when the box died of signal N
  StackMapping stacks[2];
  pid_t pid = -1;
  bool box_init = false;  // pidfd names a box init that reports via status_rd
  UniqueFd status_rd;
  UniqueFd stdio[3];  // host ends of SBX_STDIO_PIPE streams
  uint64_t start_ns = 0;
};

// As root with a user namespace, the box's uid and gid are mapped to this
// unprivileged host id (nobody/nogroup on Debian).
constexpr unsigned kRootBoxHostId = 65534;

// Tests only: force the classic launch mode (the box process is a copy of
// the host, with an in-process init), which other architectures and hosts
// without executable memfds use, so that it stays tested here too.
void force_classic_launch_for_tests(bool on);

Launched launch_process(const ResolvedConfig& box, const ProcSpec& spec);

// Reaps a process known to be ending (after SIGKILL); retries EINTR.
void reap_blocking(int pidfd);

}  // namespace sbx
