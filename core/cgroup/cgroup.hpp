// The cgroup layer (SPEC R1, R5; kill-tree for R3/D1, pause for L3).
//
// Layout::detect() finds out which controllers the host offers and on which
// cgroup version; BoxCgroup::create() makes one directory per hierarchy a box
// needs, applies the limits and says, row by row, what is enforced and what
// degraded (with the path, the missing piece and the fix). The destructor
// kills whatever is left in the box and removes exactly the directories it
// created. Nothing here ever touches a cgroup sbx did not create or was not
// told to use, and no existing process is ever moved.
//
// Hybrid hosts: each resource controller (memory, pids, cpu) is used where
// it has a hierarchy, v2 preferred. The v2 core features that need no
// controller at all (cgroup.kill, cgroup.freeze, CLONE_INTO_CGROUP and the
// basic cpu.stat) are used whenever a cgroup2 tree is mounted, also on hybrid
// hosts whose v2 tree holds no controller; that is why version_of(kFreezer)
// and version_of(kCpuacct) are kV2 there. A caller that wants the pure v1
// behaviour clears Layout::v2_mount.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/cgroup/ops.hpp"

namespace sbx::cgroup {

enum class Version { kNone, kV1, kV2 };
// kCpuacct and kFreezer are v1 accounting and pause; on v2 the core files
// cpu.stat and cgroup.freeze serve them.
enum class Controller { kMemory, kPids, kCpu, kCpuacct, kFreezer };
inline constexpr Controller kAllControllers[] = {Controller::kMemory, Controller::kPids, Controller::kCpu,
                                                 Controller::kCpuacct, Controller::kFreezer};

// "memory", "pids", "cpu", "cpuacct", "freezer".
const char* controller_name(Controller c);

struct HostPaths {                             // injectable so tests can point at a fake tree
  std::string cgroup_root = "/sys/fs/cgroup";  // only a fallback; mounts come from mountinfo
  std::string mountinfo = "/proc/self/mountinfo";
  std::string proc_self_cgroup = "/proc/self/cgroup";
};

struct Layout {  // what the host has, per controller
  // Parses mountinfo (fs types cgroup and cgroup2; a v1 mount's super options
  // name its controllers, and hierarchies without one of ours, such as
  // name=systemd, are ignored) and /proc/self/cgroup. Without a readable
  // mountinfo it looks at cgroup_root. Never throws except std::bad_alloc;
  // what it cannot read is simply absent.
  static Layout detect(const HostPaths& = {});

  std::string v2_mount;                     // "" if no cgroup2 mount
  std::string v2_root = "/";                // the cgroup shown at v2_mount (mountinfo field 4)
  std::vector<std::string> v2_controllers;  // from <v2_mount>/cgroup.controllers
  std::string v2_self;                      // the caller's cgroup from the "0::" line

  struct V1 {
    std::string mount;                   // e.g. /sys/fs/cgroup/memory
    std::string self;                    // the caller's cgroup in this hierarchy
    std::string root = "/";              // the cgroup shown at the mount point
    std::vector<std::string> comounted;  // every controller of the hierarchy ("cpu", "cpuacct")
  };
  std::map<Controller, V1> v1;  // only the controllers that have a v1 hierarchy

  // kMemory, kPids, kCpu: v2 when the controller is in v2_controllers, else v1
  // if mounted, else kNone. kCpuacct, kFreezer: v2 whenever a cgroup2 tree is
  // mounted (core files), else v1 if mounted, else kNone.
  Version version_of(Controller) const;
  // "hybrid: memory v1 (/sys/fs/cgroup/memory), ..., freezer v2 core
  // (/sys/fs/cgroup/unified); v2 /sys/fs/cgroup/unified offers: hugetlb".
  std::string describe() const;
  // The caller's v2 cgroup as a directory, "" without v2.
  std::string v2_self_dir() const;
};

struct Limits {
  std::optional<uint64_t> memory_max;  // bytes, >= 4096
  // v2 memory.high; default 90% of memory_max when memory_max is set. v1 has
  // no equivalent: reported degraded only when explicitly requested.
  std::optional<uint64_t> memory_high;
  // v2 memory.swap.max; v1 memory.memsw.limit_in_bytes = memory_max + swap
  // (where memsw exists). Default when memory_max is set: no swap, where the
  // file exists.
  std::optional<uint64_t> memory_swap_max;
  // 0.01 .. 1e6 CPUs; quota = cpus * 100000 us per 100000 us period (v2
  // cpu.max "QUOTA PERIOD"; v1 cpu.cfs_period_us / cpu.cfs_quota_us).
  std::optional<double> cpus;
  // 1..10000 (v2 cpu.weight); v1 cpu.shares = max(2, weight * 1024 / 100).
  std::optional<uint32_t> cpu_weight;
  std::optional<uint64_t> pids_max;  // 1 .. 4194304; v2/v1 pids.max
};

struct Enforcement {  // one row of the per-box enforcement report (SPEC R5)
  std::string limit;  // "memory.max", "memory.high", "memory.swap.max", "cpu.max", "cpu.weight",
                      // "pids.max", "accounting", "kill-tree", "freeze"
  bool enforced = false;
  std::string mechanism;  // e.g. "cgroup v1 memory.limit_in_bytes at /sys/fs/cgroup/memory/sbx/ID"
  std::string detail;     // the value; when degraded: why, with the path, the missing piece and the fix
};

struct Usage {                                // std::nullopt = not measurable with this layout
  std::optional<uint64_t> memory_peak;        // v2 memory.peak, v1 memory.max_usage_in_bytes
  std::optional<uint64_t> memory_max_events;  // v2 memory.events "max", v1 memory.failcnt
  std::optional<uint64_t> oom_kills;          // v2 memory.events "oom_kill", v1 memory.oom_control "oom_kill"
  // v2 cpu.stat usage_usec/user_usec/system_usec; v1 cpuacct.usage,
  // cpuacct.usage_user/usage_sys (else cpuacct.stat ticks).
  std::optional<uint64_t> cpu_usage_ns, cpu_user_ns, cpu_system_ns;
  std::optional<uint64_t> pids_peak;        // pids.peak (v2 and, on recent kernels, v1)
  std::optional<uint64_t> pids_max_events;  // pids.events "max"
  // The cpu controller's cpu.stat: v2 nr_throttled/throttled_usec, v1
  // nr_throttled/throttled_time (ns).
  std::optional<uint64_t> nr_throttled, throttled_ns;
};

struct Options {
  // "" = default: v1 "<mount>/sbx"; v2 "<v2 mount>/sbx" as root, "<delegated
  // cgroup>/sbx" otherwise. Else a path relative to each hierarchy's mount
  // ("sbx/ci"), or an absolute directory inside a cgroup mount, which stands
  // for its path relative to that mount in every hierarchy (so
  // "/sys/fs/cgroup/unified/sbx-999" also means "sbx-999" under each v1
  // mount). Missing components are created like the default and never removed.
  std::string parent;
  // Any requested limit that cannot be enforced -> throw
  // sbx::Error(SBX_E_UNSUPPORTED, "cgroup", errno, message) after removing
  // everything created. Accounting, kill-tree and freeze only ever degrade.
  bool strict = false;
  // Create cgroups even without limits, for usage and tree kill; failures
  // here only degrade.
  bool want_accounting = true;
  // The launcher places the box process with clone3(CLONE_INTO_CGROUP,
  // clone_into_fd()). When false, clone_into_fd() is -1 and the v2
  // cgroup.procs fd is one of attach_fds() instead.
  bool clone_into = true;
  // The system operations; null = the real kernel. Tests inject a fake.
  std::shared_ptr<Ops> ops;
};

// Thread-safety: after create() returns, the methods only read the object
// and act on kernel files, so any of them may run concurrently from several
// threads (the kernel serialises the writes; kill_all() ends with the box
// thawed). Destruction must not overlap any other call.
class BoxCgroup {
 public:
  // NAME: [A-Za-z0-9_.-]{1,64}, not "." or ".." (else SBX_E_INVALID naming
  // it); limits out of range are SBX_E_INVALID too. Creates one directory per
  // used hierarchy (v2: one; v1: one per hierarchy of a requested limit, plus
  // memory/pids/cpuacct/freezer for accounting, kill and pause), applies the
  // limits and fills REPORT (may be null): one row per requested limit (and
  // per applied default), plus "accounting", "kill-tree" and "freeze"; also
  // when strict mode throws. On any failure everything created so far is
  // removed before throwing.
  static std::unique_ptr<BoxCgroup> create(const Layout&, const std::string& name, const Limits&,
                                           const Options&, std::vector<Enforcement>* report);
  // noexcept: kill_all(), wait (bounded, ~2 s in all) for the cgroups to
  // empty, rmdir every directory created; never throws, never touches
  // anything else (the shared parents stay).
  ~BoxCgroup();

  BoxCgroup(const BoxCgroup&) = delete;
  BoxCgroup& operator=(const BoxCgroup&) = delete;

  // v2 directory fd (O_RDONLY|O_DIRECTORY|O_CLOEXEC) for clone3
  // CLONE_INTO_CGROUP, or -1 (no v2 directory, or Options::clone_into false).
  int clone_into_fd() const;
  // One O_WRONLY|O_CLOEXEC fd per v1 hierarchy's cgroup.procs (and v2's when
  // clone_into is not used). The launcher's child side writes the decimal
  // host pid with ONE write() to each. Open until destruction.
  const std::vector<int>& attach_fds() const { return attach_fds_; }
  // The v2 cgroup.procs fd (also when clone_into is used: a fallback for a
  // clone3 that refuses CLONE_INTO_CGROUP), or -1.
  int v2_procs_fd() const;

  // Parent-side placement through the same files (every hierarchy, v2
  // included). Throws sbx::Error naming the file on failure.
  void attach(pid_t pid);
  // Sends SIG to every process of the box. Each pid read from cgroup.procs is
  // pinned with a pidfd and signalled only if it is still listed afterwards,
  // so a recycled pid outside the box is never hit. ESRCH is ignored; other
  // errors are thrown after every process was tried. SBX_E_UNSUPPORTED
  // without any cgroup.
  void signal_all(int sig);
  // v2: "1" to cgroup.kill. v1 (or without cgroup.kill): rounds of freeze,
  // SIGKILL every listed pid, thaw, until empty; without a freezer, rounds
  // of SIGKILL. Returns once every directory is empty (true) or the budget
  // is spent (false).
  bool kill_all(std::chrono::milliseconds budget = std::chrono::milliseconds(2000));
  // v2 cgroup.freeze (+ cgroup.events "frozen 1"), v1 freezer.state. freeze()
  // waits (bounded, 1 s) for the kernel to report frozen; frozen() says
  // whether it did. SBX_E_UNSUPPORTED without a freezer; SBX_E_SYSTEM naming
  // the file when a write fails.
  void freeze();
  void thaw();
  bool frozen() const;
  bool can_freeze() const;

  bool empty() const;               // no process left in any of the box's directories
  std::vector<pid_t> pids() const;  // the union over all directories, sorted
  Usage usage() const;
  std::vector<std::string> paths() const;  // every directory created
  bool kills_tree() const;                 // kill_all() covers every process of the box
  // The directory serving controller C and its version (kNone, "" if none).
  Version version_of(Controller c) const;
  std::string path_of(Controller c) const;

 private:
  struct Dir;
  struct Plan;
  explicit BoxCgroup(std::shared_ptr<Ops> ops);

  const Dir* dir_of(Controller c) const;
  std::vector<pid_t> read_pids(const std::string& dir) const;
  void signal_members(int sig, int* first_error, pid_t* failed_pid);
  bool wait_empty(std::chrono::steady_clock::time_point until);
  bool set_frozen(bool on, std::chrono::steady_clock::time_point until);
  bool kill_round(std::chrono::steady_clock::time_point until);

  std::shared_ptr<Ops> ops_;
  std::vector<Dir> dirs_;                  // in creation order
  int serving_[5] = {-1, -1, -1, -1, -1};  // index into dirs_ per Controller
  int v2_ = -1;                            // index of the v2 directory
  int clone_fd_ = -1;
  std::vector<int> attach_fds_;
  bool has_kill_file_ = false;  // v2 cgroup.kill exists
};

}  // namespace sbx::cgroup
