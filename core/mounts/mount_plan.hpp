// The filesystem view of a box, planned in the parent. Host paths are
// resolved here (at box creation) and the result is a flat list of
// MountOps with every string prepared, which the child executes with plain
// system calls (core/launch/child.cpp).
#pragma once

#include <sys/types.h>

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "core/config/config.hpp"
#include "core/launch/child.hpp"

namespace sbx {

struct ResolvedMount {
  MountRequest::Kind kind;
  std::string src;  // canonical host path (binds)
  std::string dst;  // normalised path inside the box
  bool writable = false;
  bool optional = false;
  bool missing = false;  // optional bind whose source does not exist: skipped
  bool src_is_dir = false;
  dev_t src_dev = 0;  // identity of the source at box creation
  ino_t src_ino = 0;
  uint64_t size_bytes = 0;
  unsigned mode = 01777;
};

// A box configuration whose host paths have been checked and canonicalised.
struct ResolvedConfig {
  BoxConfig cfg;
  std::optional<std::string> rootfs;  // canonical
  std::vector<ResolvedMount> mounts;
};

ResolvedConfig resolve_config(const BoxConfig& cfg);

struct MountPlan {
  std::vector<launch::MountOp> ops;
  std::vector<std::string> describe;  // per op, for error messages
  std::deque<std::string> strings;    // owns every string the ops point to

  const char* keep(std::string s) {
    strings.push_back(std::move(s));
    return strings.back().c_str();
  }
};

struct MountPlanInput {
  const ResolvedConfig* box;
  uid_t uid;
  gid_t gid;
  bool fresh_proc;   // a pid namespace: mount a new procfs
  bool own_network;  // a net namespace: /etc/hosts is generated, no resolv.conf
};

MountPlan build_mount_plan(const MountPlanInput& in);

}  // namespace sbx
