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

struct Launched {
  UniqueFd pidfd;
  pid_t pid = -1;
  bool box_init = false;  // pidfd names a box init that reports via status_rd
  UniqueFd status_rd;
  UniqueFd stdio[3];  // host ends of SBX_STDIO_PIPE streams
  uint64_t start_ns = 0;
};

// As root with a user namespace, the box's uid and gid are mapped to this
// unprivileged host id (nobody/nogroup on Debian).
constexpr unsigned kRootBoxHostId = 65534;

Launched launch_process(const ResolvedConfig& box, const ProcSpec& spec);

// Reaps a process known to be ending (after SIGKILL); retries EINTR.
void reap_blocking(int pidfd);

}  // namespace sbx
