// Policy helpers: action names, rule validation, custom rules, describe().
#include <sbx/sbx.h>
#include <seccomp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "core/common/error.hpp"
#include "core/seccomp/internal.hpp"

namespace sbx::seccomp {

namespace detail {

uint32_t scmp_action(Action a, int errno_value) {
  switch (a) {
    case Action::kAllow:
      return SCMP_ACT_ALLOW;
    case Action::kErrno:
      return SCMP_ACT_ERRNO(static_cast<uint32_t>(errno_value));
    case Action::kKillProcess:
      return SCMP_ACT_KILL_PROCESS;
    case Action::kKillThread:
      return SCMP_ACT_KILL_THREAD;
    case Action::kTrap:
      return SCMP_ACT_TRAP;
    case Action::kLog:
      return SCMP_ACT_LOG;
  }
  return SCMP_ACT_KILL_PROCESS;  // unreachable for validated input
}

std::string action_text(Action a, int errno_value) {
  if (a == Action::kErrno) return "errno " + errno_name(errno_value);
  return action_name(a);
}

bool valid_action(Action a) {
  switch (a) {
    case Action::kAllow:
    case Action::kErrno:
    case Action::kKillProcess:
    case Action::kKillThread:
    case Action::kTrap:
    case Action::kLog:
      return true;
  }
  return false;
}

namespace {

const char* op_text(ArgCmp::Op op) {
  switch (op) {
    case ArgCmp::kNe:
      return "!=";
    case ArgCmp::kLt:
      return "<";
    case ArgCmp::kLe:
      return "<=";
    case ArgCmp::kEq:
      return "==";
    case ArgCmp::kGe:
      return ">=";
    case ArgCmp::kGt:
      return ">";
    case ArgCmp::kMaskedEq:
      return "&";
  }
  return "?";
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

[[noreturn]] void invalid(const std::string& message) {
  throw Error(SBX_E_INVALID, "seccomp", 0, message);
}

}  // namespace

std::string conditions_text(const Rule& r) {
  std::string s;
  for (const auto& c : r.args) {
    if (!s.empty()) s += " && ";
    s += "arg" + std::to_string(c.index) + " " + op_text(c.op) + " " + hex(c.value);
    if (c.op == ArgCmp::kMaskedEq) s += " == " + hex(c.value2);
  }
  return s;
}

std::string rule_label(const Rule& r) {
  std::string s;
  if (!r.origin.empty()) s = r.origin + " ";
  s += "'" + r.syscall + "' (" + action_text(r.action, r.errno_value);
  std::string cond = conditions_text(r);
  if (!cond.empty()) s += " if " + cond;
  return s + ")";
}

// The conditions of a rule as a canonical string: they are a conjunction
// with one comparison per argument, so sorting by index makes equal sets
// equal strings.
std::string condition_key(const Rule& r) {
  std::vector<ArgCmp> args = r.args;
  std::sort(args.begin(), args.end(), [](const ArgCmp& a, const ArgCmp& b) { return a.index < b.index; });
  std::string key;
  for (const auto& c : args)
    key += std::to_string(c.index) + ":" + std::to_string(static_cast<unsigned>(c.op)) + ":" +
           std::to_string(c.value) + ":" + std::to_string(c.op == ArgCmp::kMaskedEq ? c.value2 : 0) + ";";
  return key;
}

void validate_rule_shape(const Rule& r, int min_errno) {
  std::string who =
      "seccomp rule " + (r.origin.empty() ? std::string() : r.origin + " ") + "for '" + r.syscall + "'";
  if (r.syscall.empty())
    invalid("seccomp rule" + (r.origin.empty() ? "" : " " + r.origin) + ": empty syscall name");
  if (!valid_action(r.action))
    invalid(who + ": unknown action " + std::to_string(static_cast<int>(r.action)));
  if (r.action == Action::kErrno) {
    if (r.errno_value < min_errno || r.errno_value > 4095)
      invalid(who + ": errno " + std::to_string(r.errno_value) + " is out of range (" +
              std::to_string(min_errno) + "..4095)");
  } else if (r.errno_value != 0) {
    invalid(who + ": an errno (" + std::to_string(r.errno_value) +
            ") is only valid with the errno action, not " + action_name(r.action));
  }
  if (r.args.size() > 6)
    invalid(who + ": " + std::to_string(r.args.size()) + " argument conditions (at most 6)");
  unsigned seen = 0;
  for (size_t i = 0; i < r.args.size(); ++i) {
    const ArgCmp& c = r.args[i];
    if (c.index > 5)
      invalid(who + ": condition " + std::to_string(i) + ": argument index " + std::to_string(c.index) +
              " (must be 0..5)");
    if (static_cast<unsigned>(c.op) > static_cast<unsigned>(ArgCmp::kMaskedEq))
      invalid(who + ": condition " + std::to_string(i) + ": unknown operator " +
              std::to_string(static_cast<unsigned>(c.op)));
    // libseccomp builds one comparison per argument into a rule and refuses
    // a second one (EINVAL); ranges need two rules.
    if (seen & (1u << c.index))
      invalid(who + ": argument " + std::to_string(c.index) +
              " is compared twice (one comparison per argument and rule; use separate rules)");
    seen |= 1u << c.index;
  }
}

}  // namespace detail

using namespace detail;

const char* action_name(Action a) {
  switch (a) {
    case Action::kAllow:
      return "allow";
    case Action::kErrno:
      return "errno";
    case Action::kKillProcess:
      return "kill-process";
    case Action::kKillThread:
      return "kill-thread";
    case Action::kTrap:
      return "trap";
    case Action::kLog:
      return "log";
  }
  return "unknown";
}

Policy custom_policy(Action default_action, int default_errno) {
  auto bad = [](const std::string& m) {
    throw Error(SBX_E_INVALID, "seccomp", 0, "seccomp custom policy: " + m);
  };
  if (!valid_action(default_action))
    bad("unknown default action " + std::to_string(static_cast<int>(default_action)));
  if (default_action == Action::kErrno && (default_errno < 1 || default_errno > 4095))
    bad("default errno " + std::to_string(default_errno) + " is out of range (1..4095)");
  if (default_action != Action::kErrno && default_errno != 0)
    bad("a default errno (" + std::to_string(default_errno) + ") is only valid with the errno action, not " +
        action_name(default_action));
  Policy p;
  p.name = "custom";
  p.default_action = default_action;
  p.default_errno = default_errno;
  p.skip_unknown_syscalls = false;
  return p;
}

void add_rule(Policy& policy, Rule rule) {
  if (!policy.install)
    throw Error(SBX_E_INVALID, "seccomp", 0,
                "seccomp rule for '" + rule.syscall + "': the '" + policy.name +
                    "' profile installs no filter; start from 'default', 'compute' or a custom policy");
  if (rule.origin.empty()) {
    // "custom rule N", N one more than any before (replaced rules leave gaps).
    unsigned long last = 0;
    for (const auto& r : policy.rules)
      if (r.origin.rfind("custom rule ", 0) == 0)
        last = std::max(last, std::strtoul(r.origin.c_str() + 12, nullptr, 10));
    rule.origin = "custom rule " + std::to_string(last + 1);
  }
  validate_rule_shape(rule, 1);
  auto resolved = resolve_native(rule.syscall);
  std::string arch = arch_name(native_arch());
  if (!resolved)
    throw Error(SBX_E_INVALID, "seccomp", 0,
                "seccomp " + rule.origin + ": unknown system call '" + rule.syscall + "' on " + arch);
  if (resolved->nr < 0)
    throw Error(SBX_E_INVALID, "seccomp", 0,
                "seccomp " + rule.origin + ": system call '" + rule.syscall + "' does not exist on " + arch);

  // Precedence: the user's rule overrides what the profile says about the
  // same calls, so that e.g. "allow ptrace" on top of the default profile
  // really allows it (libseccomp itself keeps the first of two conflicting
  // rules without an error).
  auto& rules = policy.rules;
  if (rule.args.empty()) {
    std::erase_if(rules, [&](const Rule& r) { return r.syscall == rule.syscall; });
  } else {
    for (const auto& r : rules) {
      if (r.syscall == rule.syscall && r.args.empty() &&
          scmp_action(r.action, r.errno_value) != scmp_action(rule.action, rule.errno_value))
        throw Error(SBX_E_INVALID, "seccomp", 0,
                    "seccomp " + rule.origin + " for '" + rule.syscall +
                        "': the policy already decides every '" + rule.syscall + "' call (" +
                        action_text(r.action, r.errno_value) +
                        "); a conditional rule cannot make an exception to that (add an unconditional rule "
                        "for it first)");
    }
    const std::string key = condition_key(rule);
    std::erase_if(rules, [&](const Rule& r) { return r.syscall == rule.syscall && condition_key(r) == key; });
  }
  rules.push_back(std::move(rule));
}

std::string describe(const Policy& policy) {
  std::string s = "seccomp " + policy.name + ": ";
  if (!policy.install) return s + "no filter";
  std::set<std::string> names;
  for (const auto& r : policy.rules) names.insert(r.syscall);
  s += std::to_string(policy.rules.size()) + (policy.rules.size() == 1 ? " rule" : " rules") + " on " +
       std::to_string(names.size()) + (names.size() == 1 ? " syscall" : " syscalls");
  s += ", default " + action_text(policy.default_action, policy.default_errno);
  if (policy.extra_arches.empty()) {
    s += ", foreign ABIs killed";
  } else {
    s += ", foreign ABIs ";
    for (size_t i = 0; i < policy.extra_arches.size(); ++i) s += (i ? ", " : "") + policy.extra_arches[i];
    s += " filtered (others killed)";
  }
  return s;
}

}  // namespace sbx::seccomp
