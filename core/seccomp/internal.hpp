// Helpers shared by the seccomp sources (not part of the core's interface).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/seccomp/seccomp.hpp"

namespace sbx::seccomp::detail {

// libseccomp's token for the architecture this library runs on.
uint32_t native_arch();
// libseccomp's name of TOKEN ("x86_64", "x86", "x32", "aarch64" ...).
std::string arch_name(uint32_t token);
// The libseccomp token for NAME ("x86"), or 0 if libseccomp does not know it.
uint32_t arch_token(const std::string& name);

struct Resolved {
  int nr;           // >= 0: the native number; < 0: a libseccomp pseudo number
                    // (the call exists on other architectures only)
  bool from_table;  // libseccomp does not know the name; our table does
};
// Resolves NAME for the native ABI: libseccomp first, then a table of calls
// newer than this libseccomp. nullopt when neither knows the name.
std::optional<Resolved> resolve_native(const std::string& name);
// Whether NAME is a real (non-pseudo) system call on architecture TOKEN
// according to libseccomp.
bool exists_on(uint32_t token, const std::string& name);

bool valid_action(Action a);

// The libseccomp action value (SCMP_ACT_*) for an action and errno.
uint32_t scmp_action(Action a, int errno_value);

// "errno EPERM", "allow", "kill-process" ...
std::string action_text(Action a, int errno_value);
// "arg1 & 0xffffffff == 0x5412 && arg0 != 0" ("" for no conditions).
std::string conditions_text(const Rule& r);
// "'ioctl' (errno EPERM if arg1 & 0xffffffff == 0x5412)", with the origin in
// front when the rule has one: "syscalls[3] 'ioctl' (...)".
std::string rule_label(const Rule& r);

// The conditions of R in a canonical form: equal strings for equal sets.
std::string condition_key(const Rule& r);

// Validates the parts of a rule that do not depend on name resolution:
// action, errno range (MIN_ERRNO..4095 for kErrno, 0 otherwise), at most six
// conditions, index 0..5, one comparison per index, a known operator.
// Throws SBX_E_INVALID naming the rule.
void validate_rule_shape(const Rule& r, int min_errno);

}  // namespace sbx::seccomp::detail
