// seccomp policy layer (SPEC S1, S2): policies as data, the named profiles,
// custom rules, import of Docker/OCI profile JSON, and compilation into a
// classic BPF program with libseccomp.
//
// The filter is compiled in the parent (libseccomp allocates and is not
// async-signal-safe) and the child installs Program::insns with the raw
// seccomp() system call, last before execve and after PR_SET_NO_NEW_PRIVS.
// See docs/seccomp.md for the profiles and the reasoning behind them.
#pragma once

#include <linux/filter.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sbx::seccomp {

enum class Action { kAllow, kErrno, kKillProcess, kKillThread, kTrap, kLog };

// One comparison of a system call argument. The comparisons of a rule are
// ANDed; libseccomp allows one comparison per argument index in a rule.
struct ArgCmp {
  unsigned index;  // 0..5
  // A fixed underlying type, so that a value from the C API outside the list
  // can be represented and refused (validate_rule_shape) rather than be UB.
  enum Op : unsigned { kNe, kLt, kLe, kEq, kGe, kGt, kMaskedEq } op;
  uint64_t value;
  uint64_t value2;  // kMaskedEq only: matches when (arg & value) == value2
};

struct Rule {
  std::string syscall;
  Action action;
  int errno_value = 0;  // kErrno only
  std::vector<ArgCmp> args;
  // Where the rule came from, for messages: "p.json: syscalls[3]" for an OCI
  // profile, "custom rule 2" for add_rule. Empty for the named profiles.
  std::string origin;
};

struct Policy {
  std::string name;     // "default", "compute", "none", "custom", "oci:<file>"
  bool install = true;  // false only for "none"
  Action default_action = Action::kAllow;
  int default_errno = 0;
  std::vector<Rule> rules;
  // Foreign ABIs explicitly allowed (libseccomp names, e.g. "x86", "x32" from
  // an OCI profile): their calls are filtered by the same rules. Empty =
  // native ABI only; every other ABI (i386 int 0x80, x32 numbers) kills the
  // process.
  std::vector<std::string> extra_arches;
  // Named and OCI profiles skip names this libseccomp/architecture does not
  // know (Program::skipped lists them); custom policies from the C API set
  // false so that such a name is an error naming the syscall.
  bool skip_unknown_syscalls = true;
  // What an OCI import ignored or adapted (unsupported flags, architectures
  // that cannot run here, unknown keys), for the enforcement report.
  std::vector<std::string> notes;
};

// "default" | "compute" | "none"; anything else is SBX_E_INVALID
// "unknown seccomp profile 'x' (known: default, compute, none)".
Policy named_profile(std::string_view name);

// An empty policy named "custom" for rules from the C API:
// skip_unknown_syscalls = false. kErrno needs errno 1..4095.
Policy custom_policy(Action default_action, int default_errno = 0);

// Adds a user rule (C API: sbx_config_seccomp_rule). Validates the action,
// errno (1..4095 for kErrno, 0 otherwise), the syscall name (known on the
// native architecture), at most 6 conditions, index 0..5, one condition per
// index. A later rule takes precedence over the policy's rules for the same
// syscall: an unconditional rule replaces them all, a conditional rule
// replaces one with identical conditions. A conditional rule for a syscall
// that the policy decides unconditionally with another action is refused
// (libseccomp would ignore it silently); add an unconditional rule first.
// On error the policy is unchanged.
void add_rule(Policy& policy, Rule rule);

struct OciContext {
  // The box's granted capabilities ("CAP_NET_BIND_SERVICE"; "NET_BIND_SERVICE"
  // is accepted too), for includes/excludes.caps.
  std::vector<std::string> capabilities;
  // Kernel release for includes/excludes.minKernel; empty = uname().release.
  std::string kernel_release;
};

// The largest profile accepted (Docker's default profile is about 20 KiB).
inline constexpr size_t kMaxOciProfileBytes = 4u << 20;

// Parses Docker/OCI seccomp profile JSON. Errors are SBX_E_INVALID with
// "<origin>: <json path>: <problem>", e.g.
// "p.json: syscalls[3].args[0].op: unknown operator 'SCMP_CMP_FOO'".
Policy load_oci_profile(std::string_view json_text, const OciContext& ctx, std::string_view origin);
// Reads PATH (a regular file of at most kMaxOciProfileBytes); errors name it.
Policy load_oci_profile_file(const std::string& path, const OciContext& ctx);

struct Program {
  std::vector<struct sock_filter> insns;  // ready for struct sock_fprog
  // A SIGSYS death of the program is attributable to the filter: some path
  // of it kills or traps (a kill/trap action, or the foreign-ABI kill that
  // every installed filter has).
  bool kill_means_violation = false;
  size_t rule_count = 0;  // rules handed to libseccomp
  // Names skipped as unknown here (for the report); "name (x86 ABIs)" when
  // only the listed extra ABIs miss the rule (calls newer than libseccomp).
  std::vector<std::string> skipped;

  // The program for seccomp(SECCOMP_SET_MODE_FILTER); valid while *this lives
  // unchanged. Needs no allocation, so the child may call it.
  struct sock_fprog fprog() const noexcept {
    return {static_cast<unsigned short>(insns.size()), const_cast<struct sock_filter*>(insns.data())};
  }
};

// Compiles POLICY with libseccomp (default action, foreign ABIs killed,
// NO_NEW_PRIVS left to the launcher) and exports the BPF through a memfd.
// Errors are sbx::Error naming the rule and syscall. A policy with
// install == false gives an empty program.
Program compile(const Policy& policy);

// "allow", "errno", "kill-process", "kill-thread", "trap", "log".
const char* action_name(Action a);

// One line for the enforcement report, e.g.
// "seccomp default: 112 rules on 67 syscalls, default allow, foreign ABIs killed".
std::string describe(const Policy& policy);

}  // namespace sbx::seccomp
