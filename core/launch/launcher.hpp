// Parent side of a launch: prepares the ChildPlan, clones the child into
// its namespaces, writes the id maps while it waits, and returns once the
// program has been executed (or throws the child's error).
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "core/common/fd.hpp"
#include "core/config/config.hpp"
#include "core/landlock/landlock.hpp"
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
  UniqueFd stdio[3];  // host ends of SBX_STDIO_PIPE and _CAPTURE streams (CAPTURE: non-blocking)
  bool pty = false;   // stdio[0] and stdio[1] are (dups of) a pty master
  uint64_t start_ns = 0;
  // The program's RLIMIT_CPU hard limit in seconds (0: none): a SIGKILL
  // after that much CPU time is the kernel enforcing it.
  uint64_t cpu_rlimit_hard_s = 0;
  // Spawned into a started box: PIDFD names a child of the box supervisor
  // (not ours: signalled, never waited for); its status arrives from the
  // supervisor (Process::deliver_status).
  bool supervised = false;
  int box_pid = 0;
};

// As root with a user namespace, the box's uid and gid are mapped to this
// unprivileged host id (nobody/nogroup on Debian).
constexpr unsigned kRootBoxHostId = 65534;

// Tests only: force the classic launch mode (the box process is a copy of
// the host, with an in-process init), which other architectures and hosts
// without executable memfds use, so that it stays tested here too.
void force_classic_launch_for_tests(bool on);

// What the box adds to every launch: its cgroup, capability set, and the
// compiled policies (prepared once per box, used by every spawn).
struct LaunchPolicy {
  int cgroup_dir_fd = -1;             // v2: CLONE_INTO_CGROUP
  std::vector<int> cgroup_procs_fds;  // v1: pid written before release
  uint64_t keep_caps = 0;
  const std::vector<struct sock_filter>* seccomp = nullptr;  // nullptr: no filter
  int landlock_fd = -1;
  const std::vector<landlock::ChildRule>* landlock_rules = nullptr;
  uint32_t landlock_flags = 0;
  std::vector<launch::RlimitOp> rlimits;  // box-wide defaults (spec entries win)
};

// A started box (sbx_box_start): instead of a program, pid 1 becomes the
// box supervisor (core/launch/supervisor_loop.hpp) serving CTRL_FD, the
// box's end of the control socket; SECCOMP_FD is a memfd with the box's
// seccomp program (or -1). Both are the caller's; it closes them after.
struct SupervisorLaunch {
  int ctrl_fd = -1;
  int seccomp_fd = -1;
  bool seccomp_self = false;  // the filter allows the supervisor's own calls (the default profile)
};

Launched launch_process(const ResolvedConfig& box, const ProcSpec& spec, const LaunchPolicy& policy,
                        const SupervisorLaunch* supervisor = nullptr);

// The host side of a spec's stdio: opens files, /dev/null, pipes and ptys;
// the host ends go to OUT->stdio (and OUT->pty), the fds the program gets
// are SRC[0..2] (-1: /dev/null), kept open by CHILD_OWNED until it has them.
void prepare_stdio(const ProcSpec& spec, Launched* out, std::vector<UniqueFd>* child_owned, int src[3]);
// The rlimits a program gets: the box's (ceilings), then the spec's, and
// RLIMIT_CORE 0 unless asked. *CPU_HARD_S: RLIMIT_CPU's hard limit (or 0).
std::vector<launch::RlimitOp> merge_rlimits(const LaunchPolicy& policy, const ProcSpec& spec,
                                            uint64_t* cpu_hard_s);

// Reaps a process known to be ending (after SIGKILL); retries EINTR.
void reap_blocking(int pidfd);

}  // namespace sbx
