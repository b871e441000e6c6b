// The child side of Landlock: runs between clone3 and execve, after the
// box's filesystem view is in place (rules name paths INSIDE the box, and
// are bound to whatever inode a path names at that moment, so the mounts
// must be final).
//
// Same rules as core/launch/child.cpp: system calls through sbx::sys only,
// no errno, no allocation, no locks, nothing from libc. Everything it needs
// (the ruleset fd and the rule strings) was prepared by the parent in a
// landlock::Prepared.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "core/landlock/landlock_uapi.hpp"
#include "core/launch/raw_syscalls.hpp"

namespace sbx::landlock {

// One path rule, prepared by the parent (see Prepared::rules).
struct ChildRule {
  const char* path;  // absolute, inside the box
  uint64_t allowed;  // LANDLOCK_ACCESS_FS_* bits, already within the ruleset's handled set
};

inline long add_path_rule(int ruleset_fd, int path_fd, uint64_t allowed) {
  PathBeneathAttr attr;
  attr.allowed_access = allowed;
  attr.parent_fd = path_fd;
  return sys::raw(SYS_landlock_add_rule, ruleset_fd, kRulePathBeneath, sys::L(&attr), 0);
}

// Adds every rule, then restricts the calling thread with RULESET_FD.
//
//  - A path missing in this box (ENOENT: an optional bind whose source was
//    absent, a host directory that does not exist here) is skipped: a rule
//    can only grant, so skipping one never widens access.
//  - The parent cannot always know whether a box path is a directory; a
//    rule the kernel refuses (EINVAL) on a non-directory is retried with the
//    file rights only, and dropped if nothing is left.
//  - The paths are opened with O_PATH, which needs search permission on the
//    components but no read permission. sbx applies the rules as the box's
//    user: a path that user cannot traverse (EACCES) is skipped like a
//    missing one, since that user could not reach it anyway.
//
// PR_SET_NO_NEW_PRIVS must already be set (or the caller must hold
// CAP_SYS_ADMIN in its user namespace). The ruleset fd stays open (it is
// O_CLOEXEC); closing it is the caller's business since, in shim mode, the
// fd table may be shared with the host.
//
// Returns 0, or -errno with *FAILED_INDEX = the index of the failing rule
// (N when landlock_restrict_self itself failed). FAILED_INDEX may be null.
inline long apply_in_child(int ruleset_fd, const ChildRule* rules, size_t n, uint32_t restrict_flags,
                           size_t* failed_index) {
  for (size_t i = 0; i < n; ++i) {
    uint64_t allowed = rules[i].allowed;
    if (allowed == 0) continue;  // the kernel refuses empty rules (ENOMSG); nothing to grant
    int fd = sys::openat(AT_FDCWD, rules[i].path, O_PATH | O_CLOEXEC);
    // EACCES: a component the box's user cannot search; that user cannot
    // reach the path either, and a missing rule only denies.
    if (fd == -ENOENT || fd == -EACCES) continue;
    if (fd < 0) {
      if (failed_index != nullptr) *failed_index = i;
      return fd;
    }
    long r = add_path_rule(ruleset_fd, fd, allowed);
    if (r == -EINVAL && (allowed & ~kFsFileRights) != 0) {
      // Only a non-directory justifies the retry; on a directory EINVAL has
      // another cause (rights outside the handled set) and is reported.
      struct stat st;
      if (sys::fstatat(fd, "", &st, AT_EMPTY_PATH) == 0 && !S_ISDIR(st.st_mode)) {
        uint64_t file_rights = allowed & kFsFileRights;
        r = file_rights == 0 ? 0 : add_path_rule(ruleset_fd, fd, file_rights);
      }
    }
    sys::close(fd);
    if (r < 0) {
      if (failed_index != nullptr) *failed_index = i;
      return r;
    }
  }
  long r = sys::raw(SYS_landlock_restrict_self, ruleset_fd, restrict_flags);
  if (r < 0) {
    if (failed_index != nullptr) *failed_index = n;
    return r;
  }
  return 0;
}

}  // namespace sbx::landlock
