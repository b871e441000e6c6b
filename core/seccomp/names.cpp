// Architecture and system call names: libseccomp's tables, plus a small
// table of calls that are newer than the libseccomp we build against.
#include <seccomp.h>

#include <cstring>

#include "core/seccomp/internal.hpp"

namespace sbx::seccomp::detail {

namespace {

// System calls added to Linux after the libseccomp release we may be built
// with (Debian 12 ships 2.5.4, whose table ends near 5.18). Without these, a
// default-allow filter would let open_tree_attr (a mount-API call, 6.15)
// through, and allow-list profiles naming e.g. fchmodat2 or mseal would
// silently fail them. Since Linux 5.1 (number 424) every architecture except
// alpha, ia64 and MIPS uses one shared numbering, so these numbers hold for
// the architectures listed in table_applies(). libseccomp is asked first;
// the table only fills its gaps.
struct NewSyscall {
  const char* name;
  int nr;
};
constexpr NewSyscall kNewSyscalls[] = {
    {"pidfd_send_signal", 424},
    {"io_uring_setup", 425},
    {"io_uring_enter", 426},
    {"io_uring_register", 427},
    {"open_tree", 428},
    {"move_mount", 429},
    {"fsopen", 430},
    {"fsconfig", 431},
    {"fsmount", 432},
    {"fspick", 433},
    {"pidfd_open", 434},
    {"clone3", 435},
    {"close_range", 436},
    {"openat2", 437},
    {"pidfd_getfd", 438},
    {"faccessat2", 439},
    {"process_madvise", 440},
    {"epoll_pwait2", 441},
    {"mount_setattr", 442},
    {"quotactl_fd", 443},
    {"landlock_create_ruleset", 444},
    {"landlock_add_rule", 445},
    {"landlock_restrict_self", 446},
    {"memfd_secret", 447},
    {"process_mrelease", 448},
    {"futex_waitv", 449},
    {"set_mempolicy_home_node", 450},
    {"cachestat", 451},
    {"fchmodat2", 452},
    {"map_shadow_stack", 453},
    {"futex_wake", 454},
    {"futex_wait", 455},
    {"futex_requeue", 456},
    {"statmount", 457},
    {"listmount", 458},
    {"lsm_get_self_attr", 459},
    {"lsm_set_self_attr", 460},
    {"lsm_list_modules", 461},
    {"mseal", 462},
    {"setxattrat", 463},
    {"getxattrat", 464},
    {"listxattrat", 465},
    {"removexattrat", 466},
    {"open_tree_attr", 467},
    {"file_getattr", 468},
    {"file_setattr", 469},
};

bool table_applies(uint32_t token) {
  switch (token) {
    case SCMP_ARCH_X86_64:
    case SCMP_ARCH_X86:
    case SCMP_ARCH_AARCH64:
    case SCMP_ARCH_ARM:
    case SCMP_ARCH_RISCV64:
      return true;
    default:
      return false;
  }
}

}  // namespace

uint32_t native_arch() {
  return seccomp_arch_native();
}

std::string arch_name(uint32_t token) {
  // libseccomp has no token-to-name call; these are its spellings.
  switch (token) {
    case SCMP_ARCH_X86:
      return "x86";
    case SCMP_ARCH_X86_64:
      return "x86_64";
    case SCMP_ARCH_X32:
      return "x32";
    case SCMP_ARCH_ARM:
      return "arm";
    case SCMP_ARCH_AARCH64:
      return "aarch64";
    case SCMP_ARCH_RISCV64:
      return "riscv64";
    case SCMP_ARCH_PPC64LE:
      return "ppc64le";
    case SCMP_ARCH_S390X:
      return "s390x";
    default:
      return "arch-" + std::to_string(token);
  }
}

uint32_t arch_token(const std::string& name) {
  return seccomp_arch_resolve_name(name.c_str());
}

std::optional<Resolved> resolve_native(const std::string& name) {
  if (name.empty()) return std::nullopt;
  int nr = seccomp_syscall_resolve_name(name.c_str());
  if (nr != __NR_SCMP_ERROR) return Resolved{nr, false};
  if (table_applies(native_arch())) {
    for (const auto& s : kNewSyscalls) {
      if (name == s.name) return Resolved{s.nr, true};
    }
  }
  return std::nullopt;
}

bool exists_on(uint32_t token, const std::string& name) {
  return seccomp_syscall_resolve_name_arch(token, name.c_str()) >= 0;
}

}  // namespace sbx::seccomp::detail
