// Landlock for boxes (SPEC S3): filesystem rules derived from the box's
// mounts, TCP denied when the box has no network, and (ABI >= 6) scopes that
// keep the box from signalling or reaching abstract unix sockets outside
// itself. Best effort to the kernel's ABI: what a kernel cannot enforce is
// reported in Prepared::notes, never silently assumed.
//
// Landlock is a second wall behind the mount namespace, not a replacement
// for it: the read-only mounts already stop writes, but Landlock also
// survives a mistake in the mount plan, forbids exec outside the system and
// work directories, and covers what mounts cannot (TCP, signals).
//
// Split in two like the launcher: prepare() runs in the parent (allocates,
// may throw) and produces a ruleset fd plus C strings; apply_in_child()
// (landlock_child.hpp) runs in the child with raw system calls only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/common/fd.hpp"
#include "core/landlock/landlock_child.hpp"
#include "core/landlock/landlock_uapi.hpp"

namespace sbx {
struct MountPlan;
}

namespace sbx::landlock {

// The highest Landlock ABI the running kernel supports (landlock_create_
// ruleset(NULL, 0, VERSION)); 0 when Landlock is not built in or disabled
// (ENOSYS, EOPNOTSUPP) or the call is filtered. Probed once and cached.
int kernel_abi();

enum class PathAccess {
  kRead,            // read files, list directories
  kReadExec,        // + execute
  kReadWrite,       // kRead + write, truncate, create/remove entries (no device nodes), rename across dirs
  kReadWriteExec,   // kReadWrite + execute
  kDevices,         // read and write existing files, ioctl on devices; no exec, nothing created
  kReadWriteFiles,  // read, and write existing files (truncate included); nothing created, no exec
};

// Landlock rights (ABI 7 names) for an access class, before ABI masking.
uint64_t rights_of(PathAccess a);
const char* name_of(PathAccess a);

struct PathGrant {
  std::string box_path;  // absolute path INSIDE the box, no symlinks in it
  PathAccess access;
  // The path is known to be a non-directory: only file rights are kept.
  // When false and the path turns out to be a file, the child drops the
  // directory rights itself (one extra system call).
  bool is_file = false;
};

struct Request {
  std::vector<PathGrant> grants;
  // Network off: handle TCP bind and connect with no port rule, so every
  // TCP bind/connect is denied (ABI >= 4) — loopback inside the box too.
  bool deny_tcp = false;
  bool scope_abstract_unix = true;  // ABI >= 6
  bool scope_signal = true;         // ABI >= 6
  // ABI >= 7: audit-log denials of the executed program too
  // (LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON). Off by default: untrusted code
  // probing its walls would flood the host's audit log.
  bool log_after_exec = false;
};

// Grants for a box from its mount plan (see the table in landlock.cpp).
// NETWORK_OFF sets deny_tcp.
Request request_from_mounts(const MountPlan& plan, bool network_off);

// Single use: the child adds the rules to the ruleset itself (only it can
// open the box's paths), and that changes the kernel object behind every
// copy of the fd. Prepare once per spawn (one system call and a few string
// copies); a reused ruleset would accumulate the rules of earlier spawns
// and pin their inodes. The launcher keeps the fd across its fd sweep; it
// is O_CLOEXEC, so the program never sees it.
struct Prepared {
  UniqueFd ruleset;  // -1 when Landlock is unavailable
  int abi = 0;       // the ABI actually used: min(kernel, 7)
  uint64_t handled_fs = 0;
  uint64_t handled_net = 0;
  uint64_t scoped = 0;
  uint32_t restrict_flags = 0;
  std::vector<std::string> paths;  // owns the strings the rules point to
  // Point into paths ('allowed' already masked to handled_fs, and to the
  // file rights for grants known to be files). Never copy a Prepared (it is
  // move-only: moving a vector keeps its elements, so the pointers stay).
  std::vector<ChildRule> rules;
  std::vector<std::string> notes;  // what was degraded and why

  bool active() const { return ruleset.get() >= 0; }
  // One line for the enforcement report, e.g. "landlock ABI 7: fs ro/rw/exec
  // rules on 5 paths, tcp bind/connect denied, scopes abstract-unix+signal".
  std::string describe() const;
};

// Builds the ruleset (the kernel makes it O_CLOEXEC): every filesystem right
// of the ABI is handled (deny by default), granted back per rule; TCP
// bind/connect handled when deny_tcp and ABI >= 4; scopes when ABI >= 6.
// Grants for the same path are merged and grants already covered by an
// ancestor's grant are dropped (Landlock rights are inherited down the
// tree, across mount points), so fewer paths are opened in the child.
//
// ABI_OVERRIDE (tests): 0 = the kernel's ABI; 1..7 = behave as if the kernel
// had that ABI (capped at the real one, since the ruleset is still real);
// -1 = behave as if Landlock were unavailable.
//
// Throws sbx::Error for programming errors (relative path, bad override) and
// when the kernel refuses a ruleset it supports (EMFILE, ENOMEM): a box must
// not silently run without its wall. A kernel without Landlock is reported
// (ruleset -1, notes), not thrown.
Prepared prepare(const Request& req, int abi_override = 0);

}  // namespace sbx::landlock
