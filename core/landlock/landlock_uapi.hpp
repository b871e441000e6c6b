// The Landlock user-space ABI as this project needs it, up to ABI 7.
//
// Debian 12's <linux/landlock.h> stops at ABI 2 while the kernels we run on
// are newer, so the later constants are defined here, each guarded so that
// a newer header wins (the values are fixed kernel ABI and cannot differ).
// The structs the kernel reads are mirrored under our own names instead of
// being redefined: the header's struct landlock_ruleset_attr exists but is
// too short, and a second definition of a uapi struct would not compile.
// The kernel reads them by size (copy_struct_from_user), so what matters is
// the layout, checked below.
#pragma once

#include <linux/landlock.h>
#include <sys/syscall.h>

#include <cstddef>
#include <cstdint>

// System call numbers: 444..446 on every architecture with the unified
// table; glibc older than 2.34 does not name them.
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
#ifndef SYS_landlock_add_rule
#define SYS_landlock_add_rule 445
#endif
#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif

#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif

// ABI 2
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
// ABI 3
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
// ABI 4. LANDLOCK_RULE_NET_PORT is an enumerator in headers that have it;
// those headers also define the access macros, so the guard on the macro
// keeps our #define from shadowing the enumerator.
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0)
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1)
#define LANDLOCK_RULE_NET_PORT 2
struct landlock_net_port_attr {
  __u64 allowed_access;
  __u64 port;  // host byte order
};
#endif
// ABI 5
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
// ABI 6
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#endif
#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#endif
// ABI 7: audit logging of denials (landlock_restrict_self flags).
#ifndef LANDLOCK_RESTRICT_SELF_LOG_SAME_EXEC_OFF
#define LANDLOCK_RESTRICT_SELF_LOG_SAME_EXEC_OFF (1U << 0)
#endif
#ifndef LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON
#define LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON (1U << 1)
#endif
#ifndef LANDLOCK_RESTRICT_SELF_LOG_SUBDOMAINS_OFF
#define LANDLOCK_RESTRICT_SELF_LOG_SUBDOMAINS_OFF (1U << 2)
#endif

namespace sbx::landlock {

// The newest ABI this code knows how to use; newer kernels are driven at it.
inline constexpr int kMaxAbi = 7;

inline constexpr uint32_t kRulePathBeneath = 1;  // LANDLOCK_RULE_PATH_BENEATH
inline constexpr uint32_t kRuleNetPort = 2;      // LANDLOCK_RULE_NET_PORT

// struct landlock_ruleset_attr at ABI 6 and later. Smaller ABIs read a
// prefix: 8 bytes (fs only) before ABI 4, 16 (fs + net) before ABI 6.
struct RulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};
static_assert(sizeof(RulesetAttr) == 24 && offsetof(RulesetAttr, scoped) == 16);

inline constexpr size_t ruleset_attr_size(int abi) {
  return abi >= 6 ? 24 : abi >= 4 ? 16 : 8;
}

// struct landlock_path_beneath_attr (packed: 12 bytes).
struct __attribute__((packed)) PathBeneathAttr {
  uint64_t allowed_access;
  int32_t parent_fd;
};
static_assert(sizeof(PathBeneathAttr) == 12);

// The rights a rule on a non-directory may carry; the kernel refuses a rule
// on a file that names any other right (EINVAL).
inline constexpr uint64_t kFsFileRights = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                                          LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE |
                                          LANDLOCK_ACCESS_FS_IOCTL_DEV;

// Every filesystem right the kernel knows at ABI N (0 when Landlock is off).
inline constexpr uint64_t fs_rights_for_abi(int abi) {
  if (abi <= 0) return 0;
  uint64_t m = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;  // ABI 1: EXECUTE .. MAKE_SYM
  if (abi >= 2) m |= LANDLOCK_ACCESS_FS_REFER;
  if (abi >= 3) m |= LANDLOCK_ACCESS_FS_TRUNCATE;
  if (abi >= 5) m |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
  return m;
}

inline constexpr uint64_t net_rights_for_abi(int abi) {
  return abi >= 4 ? (LANDLOCK_ACCESS_NET_BIND_TCP | LANDLOCK_ACCESS_NET_CONNECT_TCP) : 0;
}

inline constexpr uint64_t scopes_for_abi(int abi) {
  return abi >= 6 ? (LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL) : 0;
}

inline constexpr uint32_t restrict_flags_for_abi(int abi) {
  return abi >= 7 ? (LANDLOCK_RESTRICT_SELF_LOG_SAME_EXEC_OFF | LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON |
                     LANDLOCK_RESTRICT_SELF_LOG_SUBDOMAINS_OFF)
                  : 0;
}

}  // namespace sbx::landlock
