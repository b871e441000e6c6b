// seccomp policies (S1, S2), proven for real: each case forks a child that
// sets PR_SET_NO_NEW_PRIVS, installs the compiled program with the raw
// seccomp() call (as the launcher does), makes the call under test and
// reports the result through a pipe; the parent checks the errno or the
// SIGSYS death. A small BPF interpreter additionally checks that the
// compiled programs decide every system call number the way the policy says.
#include "core/seccomp/seccomp.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/common/error.hpp"
#include "core/seccomp/internal.hpp"

namespace sbx::seccomp {
namespace {

// ------------------------------------------------------------ helpers

std::string profiles_dir() {
  std::string f = __FILE__;
  return f.substr(0, f.rfind("/unit/")) + "/security/profiles/";
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

struct Outcome {
  bool exited = false;
  int code = -1;
  int sig = 0;
  bool reported = false;  // the child got to write its result
  long ret = 0;
  int err = 0;
  std::string out;  // run_program only
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  os << (o.exited ? "exited " + std::to_string(o.code) : "signal " + std::to_string(o.sig));
  if (o.reported) os << ", returned " << o.ret << " errno " << errno_name(o.err);
  if (!o.out.empty()) os << ", output '" << o.out << "'";
  return os;
}

// In the child: what the launcher does last before execve.
void install_or_exit(const Program* prog) {
  if (prog == nullptr || prog->insns.empty()) return;
  struct sock_fprog fp = prog->fprog();
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(120);
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp) != 0) _exit(121);
}

void finish(Outcome& o, pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  o.exited = WIFEXITED(status);
  o.code = o.exited ? WEXITSTATUS(status) : -1;
  o.sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

// Runs BODY in a forked child under PROG (nullptr: no filter).
template <typename F>
Outcome run_filtered(const Program* prog, F body) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) ADD_FAILURE() << "pipe2";
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    install_or_exit(prog);
    errno = 0;
    long r = body();
    long msg[2] = {r, errno};
    // Raw exit_group, not _exit(): sanitizers hook calls to noreturn
    // functions and would make system calls the filter may refuse.
    syscall(SYS_exit_group, write(p[1], msg, sizeof msg) == sizeof msg ? 0 : 122);
  }
  close(p[1]);
  Outcome o;
  long msg[2];
  ssize_t n;
  while ((n = read(p[0], msg, sizeof msg)) < 0 && errno == EINTR) {
  }
  close(p[0]);
  if (n == sizeof msg) {
    o.reported = true;
    o.ret = msg[0];
    o.err = static_cast<int>(msg[1]);
  }
  finish(o, pid);
  return o;
}

// Runs ARGV (absolute path) under PROG with stdout+stderr captured.
Outcome run_program(const Program* prog, const std::vector<std::string>& argv) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) ADD_FAILURE() << "pipe2";
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const char* env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "LANG=C", "TMPDIR=/tmp", nullptr};
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0) _exit(123);
    install_or_exit(prog);
    execve(args[0], args.data(), const_cast<char**>(env));
    _exit(127);
  }
  close(p[1]);
  Outcome o;
  char buf[4096];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof buf)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    o.out.append(buf, static_cast<size_t>(n));
  }
  close(p[0]);
  finish(o, pid);
  return o;
}

bool killed_by_sigsys(const Outcome& o) {
  return !o.exited && o.sig == SIGSYS && !o.reported;
}

#if defined(__x86_64__)
// A system call through the i386 entry point from 64-bit code.
long int80(long nr, long a1 = 0, long a2 = 0, long a3 = 0) {
  long ret;
  asm volatile("int $0x80"
               : "=a"(ret)
               : "a"(nr), "b"(a1), "c"(a2), "d"(a3)
               : "memory", "cc", "r8", "r9", "r10", "r11");
  return ret;
}
constexpr long kI386Getpid = 20;
constexpr long kI386Sync = 36;
constexpr long kX32Bit = 0x40000000;
#endif

const Program& default_program() {
  static const Program p = compile(named_profile("default"));
  return p;
}
const Program& compute_program() {
  static const Program p = compile(named_profile("compute"));
  return p;
}

// ------------------------------------------------------------ a BPF interpreter

uint32_t run_bpf(const std::vector<sock_filter>& prog, const seccomp_data& d) {
  uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {};
  const auto* bytes = reinterpret_cast<const unsigned char*>(&d);
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const sock_filter& f = prog[pc];
    uint32_t operand = BPF_SRC(f.code) == BPF_X ? x : f.k;
    switch (BPF_CLASS(f.code)) {
      case BPF_LD:
        if (BPF_MODE(f.code) == BPF_ABS && BPF_SIZE(f.code) == BPF_W && f.k + 4 <= sizeof d) {
          std::memcpy(&a, bytes + f.k, 4);
        } else if (BPF_MODE(f.code) == BPF_IMM) {
          a = f.k;
        } else if (BPF_MODE(f.code) == BPF_MEM && f.k < BPF_MEMWORDS) {
          a = mem[f.k];
        } else {
          ADD_FAILURE() << "unsupported load at " << pc;
          return 0;
        }
        break;
      case BPF_LDX:
        x = BPF_MODE(f.code) == BPF_IMM ? f.k : mem[f.k % BPF_MEMWORDS];
        break;
      case BPF_ST:
        mem[f.k % BPF_MEMWORDS] = a;
        break;
      case BPF_STX:
        mem[f.k % BPF_MEMWORDS] = x;
        break;
      case BPF_ALU:
        switch (BPF_OP(f.code)) {
          case BPF_ADD:
            a += operand;
            break;
          case BPF_SUB:
            a -= operand;
            break;
          case BPF_MUL:
            a *= operand;
            break;
          case BPF_AND:
            a &= operand;
            break;
          case BPF_OR:
            a |= operand;
            break;
          case BPF_XOR:
            a ^= operand;
            break;
          case BPF_LSH:
            a <<= operand;
            break;
          case BPF_RSH:
            a >>= operand;
            break;
          case BPF_NEG:
            a = -a;
            break;
          default:
            ADD_FAILURE() << "unsupported alu at " << pc;
            return 0;
        }
        break;
      case BPF_JMP: {
        if (BPF_OP(f.code) == BPF_JA) {
          pc += f.k;
          break;
        }
        bool c = false;
        switch (BPF_OP(f.code)) {
          case BPF_JEQ:
            c = a == operand;
            break;
          case BPF_JGT:
            c = a > operand;
            break;
          case BPF_JGE:
            c = a >= operand;
            break;
          case BPF_JSET:
            c = (a & operand) != 0;
            break;
          default:
            ADD_FAILURE() << "unsupported jump at " << pc;
            return 0;
        }
        pc += c ? f.jt : f.jf;
        break;
      }
      case BPF_RET:
        return BPF_RVAL(f.code) == BPF_A ? a : f.k;
      case BPF_MISC:
        if (BPF_MISCOP(f.code) == BPF_TAX)
          x = a;
        else
          a = x;
        break;
    }
  }
  ADD_FAILURE() << "program fell off its end";
  return 0;
}

seccomp_data data_for(int nr, const uint64_t args[6], uint32_t arch = AUDIT_ARCH_X86_64) {
  seccomp_data d{};
  d.nr = nr;
  d.arch = arch;
  for (int i = 0; i < 6; ++i) d.args[i] = args[i];
  return d;
}

bool cmp_matches(const ArgCmp& c, uint64_t v) {
  switch (c.op) {
    case ArgCmp::kNe:
      return v != c.value;
    case ArgCmp::kLt:
      return v < c.value;
    case ArgCmp::kLe:
      return v <= c.value;
    case ArgCmp::kEq:
      return v == c.value;
    case ArgCmp::kGe:
      return v >= c.value;
    case ArgCmp::kGt:
      return v > c.value;
    case ArgCmp::kMaskedEq:
      return (v & c.value) == c.value2;
  }
  return false;
}

// The policy's own answer for a native call: the action of the matching
// rules, else the default. nullopt when matching rules disagree: libseccomp
// decides such overlaps by its own tree order, which the policy does not
// specify.
std::optional<uint32_t> policy_decision(const Policy& p, int nr, const uint64_t args[6]) {
  std::optional<uint32_t> found;
  for (const auto& r : p.rules) {
    auto res = detail::resolve_native(r.syscall);
    if (!res || res->nr != nr) continue;
    bool all = true;
    for (const auto& c : r.args) all = all && cmp_matches(c, args[c.index]);
    if (!all) continue;
    uint32_t a = detail::scmp_action(r.action, r.errno_value);
    if (found && *found != a) return std::nullopt;
    found = a;
  }
  if (found) return found;
  return detail::scmp_action(p.default_action, p.default_errno);
}

// Checks the compiled program against the policy on every native number up
// to 600, each with argument values around those the rules compare.
void cross_check(const Policy& policy, const Program& prog) {
  std::mt19937_64 rng(42);
  for (int nr = 0; nr < 600; ++nr) {
    std::vector<uint64_t> cand[6];
    for (auto& c : cand) c = {0, 1, 0xffffffffull, ~0ull};
    for (const auto& r : policy.rules) {
      auto res = detail::resolve_native(r.syscall);
      if (!res || res->nr != nr) continue;
      for (const auto& c : r.args) {
        auto& v = cand[c.index];
        for (uint64_t x : {c.value, c.value - 1, c.value + 1, c.value2, c.value2 | ~c.value,
                           c.value2 ^ (c.value & (~c.value + 1)), c.value2 | (uint64_t{1} << 32)})
          v.push_back(x);
      }
    }
    uint64_t args[6] = {};
    auto check = [&] {
      seccomp_data d = data_for(nr, args);
      auto want = policy_decision(policy, nr, args);
      if (!want) return;
      ASSERT_EQ(run_bpf(prog.insns, d), *want) << policy.name << ": nr " << nr << " args " << std::hex
                                               << args[0] << " " << args[1] << " " << args[2];
    };
    check();
    for (int i = 0; i < 6; ++i) {
      for (uint64_t v : cand[i]) {
        uint64_t saved = args[i];
        args[i] = v;
        check();
        args[i] = saved;
      }
    }
    for (int k = 0; k < 40; ++k) {
      for (int i = 0; i < 6; ++i) args[i] = cand[i][rng() % cand[i].size()];
      check();
    }
  }
}

// ------------------------------------------------------------ named profiles

TEST(SeccompProfile, NamedProfiles) {
  Policy d = named_profile("default");
  EXPECT_TRUE(d.install);
  EXPECT_EQ(d.default_action, Action::kAllow);
  EXPECT_TRUE(d.extra_arches.empty());
  EXPECT_TRUE(d.skip_unknown_syscalls);
  Policy c = named_profile("compute");
  EXPECT_EQ(c.default_action, Action::kKillProcess);
  Policy n = named_profile("none");
  EXPECT_FALSE(n.install);
  EXPECT_TRUE(compile(n).insns.empty());
  EXPECT_FALSE(compile(n).kill_means_violation);
}

TEST(SeccompProfile, UnknownNameIsAnError) {
  try {
    named_profile("strict");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), SBX_E_INVALID);
    EXPECT_EQ(e.step(), "seccomp");
    EXPECT_STREQ(e.what(), "unknown seccomp profile 'strict' (known: default, compute, none)");
  }
}

TEST(SeccompProfile, DescribeAndCompileSummary) {
  Policy d = named_profile("default");
  std::string s = describe(d);
  EXPECT_EQ(s.rfind("seccomp default: ", 0), 0u) << s;
  EXPECT_NE(s.find(" rules on "), std::string::npos) << s;
  EXPECT_NE(s.find(", default allow, foreign ABIs killed"), std::string::npos) << s;
  EXPECT_EQ(describe(named_profile("none")), "seccomp none: no filter");
  EXPECT_NE(describe(named_profile("compute")).find("default kill-process"), std::string::npos);

  const Program& p = default_program();
  EXPECT_TRUE(p.kill_means_violation);
  EXPECT_EQ(p.rule_count, d.rules.size());
  EXPECT_TRUE(p.skipped.empty()) << p.skipped.front();  // every name known here
  EXPECT_LE(p.insns.size(), 4096u);
  EXPECT_TRUE(compute_program().kill_means_violation);
  EXPECT_STREQ(action_name(Action::kKillProcess), "kill-process");
  EXPECT_STREQ(action_name(Action::kErrno), "errno");
}

TEST(SeccompBpf, DefaultAndComputeDecideLikeThePolicy) {
  cross_check(named_profile("default"), default_program());
  cross_check(named_profile("compute"), compute_program());
}

TEST(SeccompBpf, ForeignAbisAreKilled) {
  uint64_t args[6] = {};
  for (const Program* p : {&default_program(), &compute_program()}) {
    EXPECT_EQ(run_bpf(p->insns, data_for(20, args, AUDIT_ARCH_I386)), SCMP_ACT_KILL_PROCESS);
    // x32 numbers arrive with the x86-64 audit arch: libseccomp's x86-64
    // filter sends every number >= 0x40000000 to the bad-arch action.
    EXPECT_EQ(run_bpf(p->insns, data_for(0x40000000 | SYS_getpid, args)), SCMP_ACT_KILL_PROCESS);
    EXPECT_EQ(run_bpf(p->insns, data_for(0x40000000 | SYS_write, args)), SCMP_ACT_KILL_PROCESS);
    EXPECT_EQ(run_bpf(p->insns, data_for(static_cast<int>(0xffffff00u), args)), SCMP_ACT_KILL_PROCESS);
    EXPECT_EQ(run_bpf(p->insns, data_for(SYS_getpid, args, AUDIT_ARCH_AARCH64)), SCMP_ACT_KILL_PROCESS);
  }
}

TEST(SeccompBpf, PersonalityAllowsExactlyTheHarmlessValues) {
  Policy d = named_profile("default");
  const Program& p = default_program();
  auto decide = [&](uint64_t v) {
    uint64_t args[6] = {v};
    return run_bpf(p.insns, data_for(SYS_personality, args));
  };
  const uint32_t allow = SCMP_ACT_ALLOW, eperm = SCMP_ACT_ERRNO(EPERM);
  for (uint64_t v : std::initializer_list<uint64_t>{0x0ull, 0x8ull, 0x20000ull, 0x20008ull, 0x40000ull,
                                                    0x40008ull, 0x60000ull, 0x60008ull, 0xffffffffull,
                                                    0x1ffffffffull, ~0ull, 0x100000000ull})
    EXPECT_EQ(decide(v), allow) << std::hex << v;
  for (uint64_t v : std::initializer_list<uint64_t>{READ_IMPLIES_EXEC, MMAP_PAGE_ZERO, PER_SVR4,
                                                    0xfffffffeull, 0x7fffffffull, 0x100400000ull, 0x1ull})
    EXPECT_EQ(decide(v), eperm) << std::hex << v;
  // The rule as stated, on many values: allowed iff only bits 3/17/18 are
  // set, or it is the query (the kernel looks at the low 32 bits only).
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200000; ++i) {
    uint64_t v = rng();
    if (i % 3 == 0) v &= 0x60008 | (1ull << (rng() % 32));
    if (i % 3 == 1) v |= 0xffffffffull ^ (1ull << (rng() % 32)) ^ (i % 2 ? 0 : 1ull << (rng() % 32));
    uint32_t low = static_cast<uint32_t>(v);
    bool ok = low == 0xffffffffu || (low & ~0x60008u) == 0;
    ASSERT_EQ(decide(v), ok ? allow : eperm) << std::hex << v;
  }
  for (int b = 0; b < 32; ++b) {
    uint64_t one = 1ull << b, all_but = 0xffffffffull ^ one;
    EXPECT_EQ(decide(one), (0x60008 & one) ? allow : eperm) << b;
    EXPECT_EQ(decide(all_but), eperm) << b;
  }
}

// ------------------------------------------------------------ default profile, for real

struct Case {
  const char* what;
  long (*call)();
  int want_errno;
};

long do_mount() {
  return mount("none", "/proc/sbx-no-such-dir", "tmpfs", 0, nullptr);
}
long do_umount() {
  return umount2("/proc/sbx-no-such-dir", 0);
}
long do_pivot_root() {
  return syscall(SYS_pivot_root, "/proc/sbx-a", "/proc/sbx-b");
}
long do_chroot() {
  return chroot("/proc/sbx-no-such-dir");
}
long do_fsopen() {
  return syscall(SYS_fsopen, "tmpfs", 0);
}
long do_open_tree() {
  return syscall(SYS_open_tree, -1, "/proc/sbx-x", 0);
}
long do_open_tree_attr() {
  return syscall(467, -1, "/proc/sbx-x", 0, nullptr, 0);
}
long do_mount_setattr() {
  return syscall(SYS_mount_setattr, -1, "", 0, nullptr, 0);
}
long do_move_mount() {
  return syscall(SYS_move_mount, -1, "", -1, "", 0);
}
long do_unshare_user() {
  return unshare(CLONE_NEWUSER);
}
long do_unshare_ns() {
  return unshare(CLONE_NEWNS);
}
long do_unshare_net_files() {
  return unshare(CLONE_NEWNET | CLONE_FILES);
}
long do_unshare_time() {
  return unshare(CLONE_NEWTIME);
}
long do_clone_newuser() {
  return syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, nullptr, nullptr, nullptr, 0);
}
long do_clone_newpid() {
  return syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, nullptr, nullptr, nullptr, 0);
}
long do_setns() {
  return setns(-1, 0);
}
long do_clone3() {
  return syscall(SYS_clone3, nullptr, 0);
}
long do_ptrace() {
  return syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);
}
long do_vm_readv() {
  return syscall(SYS_process_vm_readv, 1, nullptr, 0, nullptr, 0, 0);
}
long do_pidfd_getfd() {
  return syscall(SYS_pidfd_getfd, -1, -1, 0);
}
long do_kcmp() {
  return syscall(SYS_kcmp, getpid(), getpid(), 0, 0, 0);
}
long do_bpf() {
  return syscall(SYS_bpf, 0, nullptr, 0);
}
long do_perf() {
  return syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0);
}
long do_userfaultfd() {
  return syscall(SYS_userfaultfd, O_CLOEXEC);
}
long do_io_uring_setup() {
  return syscall(SYS_io_uring_setup, 1, nullptr);
}
long do_keyctl() {
  return syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0);
}
long do_add_key() {
  return syscall(SYS_add_key, "user", "sbx", "x", 1, -3);
}
long do_init_module() {
  return syscall(SYS_init_module, nullptr, 0, "");
}
long do_finit_module() {
  return syscall(SYS_finit_module, -1, "", 0);
}
long do_kexec_load() {
  return syscall(SYS_kexec_load, 0, 0, nullptr, 0);
}
long do_reboot() {
  return syscall(SYS_reboot, 0, 0, 0, nullptr);
}  // bad magic: harmless unfiltered
long do_swapon() {
  return syscall(SYS_swapon, "/proc/sbx-x", 0);
}
long do_iopl() {
  return syscall(SYS_iopl, 0);
}
long do_syslog() {
  return syscall(SYS_syslog, 10 /* SIZE_BUFFER */, nullptr, 0);
}
long do_settime() {
  return syscall(SYS_clock_settime, CLOCK_REALTIME, nullptr);
}
long do_adjtimex() {
  return syscall(SYS_adjtimex, nullptr);
}
long do_open_by_handle() {
  return syscall(SYS_open_by_handle_at, -1, nullptr, 0);
}
long do_name_to_handle() {
  return syscall(SYS_name_to_handle_at, -1, "", nullptr, nullptr, 0);
}
long do_tiocsti() {
  char c = 'x';
  return syscall(SYS_ioctl, -1, TIOCSTI, &c);
}
long do_tiocsti_high_bits() {
  char c = 'x';
  return syscall(SYS_ioctl, -1, (1ul << 32) | TIOCSTI, &c);
}
long do_tioclinux() {
  return syscall(SYS_ioctl, -1, TIOCLINUX, nullptr);
}
long do_personality_rie() {
  return syscall(SYS_personality, READ_IMPLIES_EXEC);
}
long do_personality_zero_page() {
  return syscall(SYS_personality, unsigned{MMAP_PAGE_ZERO} | unsigned{PER_LINUX32});
}
long do_migrate_pages() {
  return syscall(SYS_migrate_pages, 1, 0, nullptr, nullptr);
}
long do_move_pages_other() {
  return syscall(SYS_move_pages, 1, 0, nullptr, nullptr, nullptr, 0);
}
long do_modify_ldt() {
  return syscall(SYS_modify_ldt, 0, nullptr, 0);
}
long do_fanotify() {
  return syscall(SYS_fanotify_init, 0, 0);
}
long do_quotactl() {
  return syscall(SYS_quotactl, 0, nullptr, 0, nullptr);
}
long do_vhangup() {
  return syscall(SYS_vhangup);
}
long do_ustat() {
  return syscall(SYS_ustat, 0, nullptr);
}
long do_sysfs() {
  return syscall(SYS_sysfs, 3);
}

TEST(SeccompDefault, RefusesEscapeAndKernelAttackCalls) {
  const Case cases[] = {
      {"mount", do_mount, EPERM},
      {"umount2", do_umount, EPERM},
      {"pivot_root", do_pivot_root, EPERM},
      {"chroot", do_chroot, EPERM},
      {"fsopen", do_fsopen, EPERM},
      {"open_tree", do_open_tree, EPERM},
      {"open_tree_attr (unknown to libseccomp 2.5.4)", do_open_tree_attr, EPERM},
      {"mount_setattr", do_mount_setattr, EPERM},
      {"move_mount", do_move_mount, EPERM},
      {"unshare(CLONE_NEWUSER)", do_unshare_user, EPERM},
      {"unshare(CLONE_NEWNS)", do_unshare_ns, EPERM},
      {"unshare(CLONE_NEWNET|CLONE_FILES)", do_unshare_net_files, EPERM},
      {"unshare(CLONE_NEWTIME)", do_unshare_time, EPERM},
      {"clone(CLONE_NEWUSER)", do_clone_newuser, EPERM},
      {"clone(CLONE_NEWPID)", do_clone_newpid, EPERM},
      {"setns", do_setns, EPERM},
      {"clone3", do_clone3, ENOSYS},
      {"ptrace(TRACEME)", do_ptrace, EPERM},
      {"process_vm_readv", do_vm_readv, EPERM},
      {"pidfd_getfd", do_pidfd_getfd, EPERM},
      {"kcmp", do_kcmp, EPERM},
      {"bpf", do_bpf, EPERM},
      {"perf_event_open", do_perf, EPERM},
      {"userfaultfd", do_userfaultfd, EPERM},
      {"io_uring_setup", do_io_uring_setup, EPERM},
      {"keyctl", do_keyctl, EPERM},
      {"add_key", do_add_key, EPERM},
      {"init_module", do_init_module, EPERM},
      {"finit_module", do_finit_module, EPERM},
      {"kexec_load", do_kexec_load, EPERM},
      {"reboot", do_reboot, EPERM},
      {"swapon", do_swapon, EPERM},
      {"iopl", do_iopl, EPERM},
      {"syslog", do_syslog, EPERM},
      {"clock_settime", do_settime, EPERM},
      {"adjtimex", do_adjtimex, EPERM},
      {"open_by_handle_at", do_open_by_handle, EPERM},
      {"name_to_handle_at", do_name_to_handle, EPERM},
      {"ioctl(TIOCSTI)", do_tiocsti, EPERM},
      {"ioctl(TIOCSTI | 1<<32)", do_tiocsti_high_bits, EPERM},
      {"ioctl(TIOCLINUX)", do_tioclinux, EPERM},
      {"personality(READ_IMPLIES_EXEC)", do_personality_rie, EPERM},
      {"personality(MMAP_PAGE_ZERO|PER_LINUX32)", do_personality_zero_page, EPERM},
      {"migrate_pages", do_migrate_pages, EPERM},
      {"move_pages(pid 1)", do_move_pages_other, EPERM},
      {"modify_ldt", do_modify_ldt, EPERM},
      {"fanotify_init", do_fanotify, EPERM},
      {"quotactl", do_quotactl, EPERM},
      {"vhangup", do_vhangup, EPERM},
      {"ustat (obsolete)", do_ustat, ENOSYS},
      {"sysfs (obsolete)", do_sysfs, ENOSYS},
  };
  for (const Case& c : cases) {
    Outcome o = run_filtered(&default_program(), c.call);
    EXPECT_TRUE(o.exited && o.code == 0 && o.reported) << c.what << ": " << o;
    EXPECT_EQ(o.ret, -1) << c.what << ": " << o;
    EXPECT_EQ(o.err, c.want_errno) << c.what << ": " << o;
  }
}

TEST(SeccompDefault, TheRefusalsComeFromTheFilter) {
  // Without the filter these calls succeed or fail differently, so the
  // errnos above are the filter's.
  Outcome o = run_filtered(nullptr, do_ptrace);
  EXPECT_EQ(o.ret, 0) << o;
  o = run_filtered(nullptr, do_unshare_user);
  EXPECT_EQ(o.ret, 0) << o;
  o = run_filtered(nullptr, do_clone3);
  EXPECT_EQ(o.err, EINVAL) << o;
  o = run_filtered(nullptr, do_tiocsti_high_bits);
  EXPECT_EQ(o.err, EBADF) << o;
  o = run_filtered(nullptr, do_open_tree_attr);
  EXPECT_NE(o.err, ENOSYS) << "syscall 467 is open_tree_attr on this kernel: " << o;
  o = run_filtered(nullptr, do_sysfs);
  EXPECT_NE(o.err, ENOSYS) << o;
}

TEST(SeccompDefault, OrdinaryCallsWork) {
  const Program* p = &default_program();
  Outcome o = run_filtered(p, [] { return static_cast<long>(getpid()); });
  EXPECT_TRUE(o.reported && o.ret > 0) << o;
  // fork() is clone() without namespace flags.
  o = run_filtered(p, [] {
    pid_t c = fork();
    if (c == 0) _exit(7);
    int st = 0;
    if (c < 0 || waitpid(c, &st, 0) != c) return -1L;
    return static_cast<long>(WEXITSTATUS(st));
  });
  EXPECT_EQ(o.ret, 7) << o;
  // Threads: glibc's clone3 gets ENOSYS and falls back to clone().
  o = run_filtered(p, [] {
    long v = 0;
    std::thread t([&v] { v = 42; });
    t.join();
    return v;
  });
  EXPECT_EQ(o.ret, 42) << o;
  o = run_filtered(p, [] { return unshare(CLONE_FILES | CLONE_FS) == 0 ? 1L : -1L; });
  EXPECT_EQ(o.ret, 1) << o;
  o = run_filtered(p, [] { return syscall(SYS_ioctl, -1, TCGETS, nullptr); });
  EXPECT_EQ(o.err, EBADF) << o;
  o = run_filtered(p, [] { return syscall(SYS_personality, 0xffffffffUL); });
  EXPECT_GE(o.ret, 0) << o;
  o = run_filtered(
      p, [] { return syscall(SYS_personality, unsigned{PER_LINUX32} | unsigned{ADDR_NO_RANDOMIZE}); });
  EXPECT_GE(o.ret, 0) << o;
  o = run_filtered(p, [] { return syscall(SYS_move_pages, 0, 0, nullptr, nullptr, nullptr, 0); });
  EXPECT_EQ(o.ret, 0) << o;
}

#if defined(__x86_64__)
TEST(SeccompDefault, ForeignAbisKillTheProcess) {
  // Without a filter, int 0x80 reaches the i386 getpid (IA32 emulation).
  Outcome base = run_filtered(nullptr, [] { return int80(kI386Getpid); });
  if (!base.reported || base.ret <= 0) GTEST_SKIP() << "no IA32 emulation here: " << base;
  Outcome o = run_filtered(&default_program(), [] { return int80(kI386Getpid); });
  EXPECT_TRUE(killed_by_sigsys(o)) << "int 0x80 under the default profile: " << o;
  // x32 numbers (bit 30) through the 64-bit entry: killed even though this
  // kernel has no x32 support (the filter runs before the dispatch).
  o = run_filtered(&default_program(), [] { return syscall(kX32Bit | SYS_getpid); });
  EXPECT_TRUE(killed_by_sigsys(o)) << "x32 getpid under the default profile: " << o;
  o = run_filtered(&compute_program(), [] { return int80(kI386Getpid); });
  EXPECT_TRUE(killed_by_sigsys(o)) << o;
}
#endif

TEST(SeccompDefault, RunsOrdinaryPrograms) {
  const Program* p = &default_program();
  Outcome o = run_program(p, {"/bin/sh", "-c", "echo ok"});
  EXPECT_TRUE(o.exited && o.code == 0 && o.out == "ok\n") << o;
  o = run_program(
      p, {"/bin/sh", "-c", "ls / >/dev/null && printf 'b\\na\\n' | sort | head -n1 && date >/dev/null"});
  EXPECT_TRUE(o.exited && o.code == 0 && o.out == "a\n") << o;
  if (access("/usr/bin/python3", X_OK) == 0) {
    o = run_program(p, {"/usr/bin/python3", "-c", "print(1)"});
    EXPECT_TRUE(o.exited && o.code == 0 && o.out == "1\n") << o;
  }
}

TEST(SeccompDefault, RunsCompilerAndJvm) {
  const Program* p = &default_program();
  if (access("/usr/bin/gcc", X_OK) == 0) {
    char dir[] = "/tmp/sbx-seccomp-gcc-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    std::string d = dir;
    Outcome o = run_program(
        p, {"/bin/sh", "-c",
            "cd " + d + " && printf 'int main(void){return 7;}\\n' > a.c && gcc a.c -o a && ./a"});
    EXPECT_TRUE(o.exited && o.code == 7) << "gcc + ld under the default profile: " << o;
    unlink((d + "/a.c").c_str());
    unlink((d + "/a").c_str());
    rmdir(dir);
  }
  if (access("/usr/bin/java", X_OK) == 0) {
    Outcome o = run_program(p, {"/usr/bin/java", "-version"});
    EXPECT_TRUE(o.exited && o.code == 0 && o.out.find("version") != std::string::npos)
        << "java -version under the default profile: " << o;
  }
}

// ------------------------------------------------------------ compute profile

TEST(SeccompCompute, AllowsComputeAndKillsTheRest) {
  const Program* p = &compute_program();
  Outcome o = run_filtered(p, [] { return static_cast<long>(write(-1, "x", 1)); });
  EXPECT_TRUE(o.reported && o.err == EBADF) << "write is allowed: " << o;
  o = run_filtered(p, [] { return static_cast<long>(socket(AF_UNIX, SOCK_STREAM, 0)); });
  EXPECT_TRUE(killed_by_sigsys(o)) << "socket: " << o;
  o = run_filtered(p, [] { return static_cast<long>(fork()); });
  EXPECT_TRUE(killed_by_sigsys(o)) << "fork: " << o;
  o = run_filtered(
      p, [] { return syscall(SYS_clone, CLONE_THREAD | CLONE_SIGHAND | CLONE_VM | CLONE_NEWNET, 0); });
  EXPECT_TRUE(killed_by_sigsys(o)) << "clone with a namespace flag: " << o;
  o = run_filtered(p, [] { return syscall(SYS_ioctl, -1, TIOCSTI, nullptr); });
  EXPECT_TRUE(killed_by_sigsys(o)) << "ioctl(TIOCSTI): " << o;
  o = run_filtered(p, [] { return syscall(SYS_ioctl, -1, TCGETS, nullptr); });
  EXPECT_EQ(o.err, EBADF) << o;
  o = run_filtered(p, [] { return syscall(SYS_clone3, nullptr, 0); });
  EXPECT_EQ(o.err, ENOSYS) << o;
  o = run_filtered(p, [] {
    long v = 0;
    std::thread t([&v] { v = 5; });
    t.join();
    return v;
  });
  EXPECT_EQ(o.ret, 5) << "threads are allowed: " << o;
}

TEST(SeccompCompute, RunsComputePrograms) {
  const Program* p = &compute_program();
  Outcome o = run_program(p, {"/bin/echo", "hi"});
  EXPECT_TRUE(o.exited && o.code == 0 && o.out == "hi\n") << o;
  if (access("/usr/bin/python3", X_OK) == 0) {
    o = run_program(p, {"/usr/bin/python3", "-c", "import math; print(int(math.sqrt(49)))"});
    EXPECT_TRUE(o.exited && o.code == 0 && o.out == "7\n") << o;
  }
  // A shell that starts a second program needs fork: a violation.
  o = run_program(p, {"/bin/sh", "-c", "/bin/true; /bin/true"});
  EXPECT_TRUE(!o.exited && o.sig == SIGSYS) << o;
}

// ------------------------------------------------------------ custom rules

TEST(SeccompRules, CustomRuleErrors) {
  Policy p = custom_policy(Action::kAllow);
  auto rule = [](std::string name, Action a, int e, std::vector<ArgCmp> args = {}) {
    return Rule{std::move(name), a, e, std::move(args), {}};
  };
  EXPECT_NE(error_of([&] {
              add_rule(p, rule("no_such_call", Action::kErrno, EPERM));
            }).find("unknown system call 'no_such_call' on x86_64"),
            std::string::npos);
  EXPECT_NE(
      error_of([&] { add_rule(p, rule("vm86", Action::kErrno, EPERM)); }).find("'vm86' does not exist on"),
      std::string::npos);
  EXPECT_NE(error_of([&] { add_rule(p, rule("", Action::kErrno, EPERM)); }).find("empty syscall name"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              add_rule(p, rule("getppid", Action::kErrno, 0));
            }).find("errno 0 is out of range (1..4095)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { add_rule(p, rule("getppid", Action::kErrno, 4096)); }).find("out of range"),
            std::string::npos);
  EXPECT_NE(
      error_of([&] { add_rule(p, rule("getppid", Action::kAllow, 5)); }).find("only valid with the errno"),
      std::string::npos);
  EXPECT_NE(
      error_of([&] { add_rule(p, rule("getppid", static_cast<Action>(99), 0)); }).find("unknown action"),
      std::string::npos);
  EXPECT_NE(error_of([&] {
              add_rule(p, rule("read", Action::kErrno, EPERM, {ArgCmp{6, ArgCmp::kEq, 0, 0}}));
            }).find("argument index 6 (must be 0..5)"),
            std::string::npos);
  std::vector<ArgCmp> seven;
  for (unsigned i = 0; i < 7; ++i) seven.push_back(ArgCmp{i % 6, ArgCmp::kEq, 0, 0});
  EXPECT_NE(error_of([&] { add_rule(p, rule("read", Action::kErrno, EPERM, seven)); }).find("at most 6"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              add_rule(p, rule("read", Action::kErrno, EPERM,
                               {ArgCmp{0, ArgCmp::kGt, 1, 0}, ArgCmp{0, ArgCmp::kLt, 9, 0}}));
            }).find("argument 0 is compared twice"),
            std::string::npos);
  EXPECT_NE(
      error_of([&] {
        add_rule(p, rule("read", Action::kErrno, EPERM, {ArgCmp{0, static_cast<ArgCmp::Op>(42), 0, 0}}));
      }).find("unknown operator"),
      std::string::npos);
  EXPECT_TRUE(p.rules.empty()) << "nothing half-added";

  Policy none = named_profile("none");
  EXPECT_NE(error_of([&] { add_rule(none, rule("read", Action::kErrno, EPERM)); }).find("installs no filter"),
            std::string::npos);
  EXPECT_NE(error_of([] { custom_policy(Action::kErrno, 0); }).find("default errno 0 is out of range"),
            std::string::npos);
  EXPECT_NE(error_of([] { custom_policy(Action::kAllow, 3); }).find("only valid with the errno action"),
            std::string::npos);
}

TEST(SeccompRules, CustomRulesApplyWithArgumentConditions) {
  Policy p = custom_policy(Action::kAllow);
  // dup(fd): EBADFD (77) for fd >= 5000, ENOTUNIQ (76) for fd == 500,
  // (fd & 0xff00) == 0x0300 -> EREMCHG (78).
  add_rule(p, Rule{"dup", Action::kErrno, 77, {ArgCmp{0, ArgCmp::kGe, 5000, 0}}, {}});
  add_rule(p, Rule{"dup", Action::kErrno, 76, {ArgCmp{0, ArgCmp::kEq, 500, 0}}, {}});
  add_rule(p, Rule{"dup", Action::kErrno, 78, {ArgCmp{0, ArgCmp::kMaskedEq, 0xff00, 0x0300}}, {}});
  add_rule(p, Rule{"getppid", Action::kErrno, 79, {}, {}});
  EXPECT_EQ(p.rules.front().origin, "custom rule 1");
  Program prog = compile(p);
  EXPECT_EQ(prog.rule_count, 4u);
  EXPECT_TRUE(prog.kill_means_violation);  // the foreign-ABI kill
  auto dup_errno = [&](long fd) {
    Outcome o = run_filtered(&prog, [fd] { return syscall(SYS_dup, fd); });
    return o.err;
  };
  EXPECT_EQ(dup_errno(6000), 77);
  EXPECT_EQ(dup_errno(500), 76);
  EXPECT_EQ(dup_errno(0x0305), 78);
  EXPECT_EQ(dup_errno(4000), EBADF);
  // (glibc's getppid() never sets errno: use the raw call.)
  EXPECT_EQ(run_filtered(&prog, [] { return syscall(SYS_getppid); }).err, 79);
  cross_check(p, prog);
}

TEST(SeccompRules, EveryOperatorMatchesLikeTheKernelComparesIt) {
  // One policy per operator on dup's argument, checked with the interpreter
  // over values around the operand (64-bit comparisons).
  for (ArgCmp::Op op :
       {ArgCmp::kNe, ArgCmp::kLt, ArgCmp::kLe, ArgCmp::kEq, ArgCmp::kGe, ArgCmp::kGt, ArgCmp::kMaskedEq}) {
    for (uint64_t v : {uint64_t{0x10}, uint64_t{0x1'0000'0010}}) {
      Policy p = custom_policy(Action::kAllow);
      add_rule(p, Rule{"dup", Action::kErrno, 9, {ArgCmp{0, op, v, 0x10}}, {}});
      cross_check(p, compile(p));
    }
  }
}

TEST(SeccompRules, UserRulesTakePrecedenceOverTheProfile) {
  Policy p = named_profile("default");
  add_rule(p, Rule{"kcmp", Action::kAllow, 0, {}, {}});
  add_rule(p, Rule{"ioctl", Action::kAllow, 0, {}, {}});  // drops the TIOCSTI refusal
  Program prog = compile(p);
  Outcome o = run_filtered(&prog, [] { return syscall(SYS_kcmp, getpid(), getpid(), 0, 0, 0); });
  EXPECT_EQ(o.ret, 0) << o;
  o = run_filtered(&prog, do_tiocsti);
  EXPECT_EQ(o.err, EBADF) << o;
  o = run_filtered(&prog, do_ptrace);
  EXPECT_EQ(o.err, EPERM) << "the rest of the profile stays: " << o;

  // A conditional exception to an unconditional refusal cannot be expressed
  // (libseccomp would drop it silently): refused with a clear message.
  std::string e = error_of([&] {
    add_rule(p, Rule{"mount", Action::kErrno, EACCES, {ArgCmp{3, ArgCmp::kEq, 0, 0}}, {}});
  });
  EXPECT_NE(e.find("already decides every 'mount' call (errno EPERM)"), std::string::npos) << e;
  // An identical conditional rule replaces the earlier one.
  Policy c = custom_policy(Action::kAllow);
  add_rule(c, Rule{"dup", Action::kErrno, 5, {ArgCmp{0, ArgCmp::kEq, 3, 0}}, {}});
  add_rule(c, Rule{"dup", Action::kErrno, 6, {ArgCmp{0, ArgCmp::kEq, 3, 0}}, {}});
  ASSERT_EQ(c.rules.size(), 1u);
  EXPECT_EQ(c.rules[0].errno_value, 6);
}

TEST(SeccompRules, CompileRefusesConflictsAndNamesTheRules) {
  Policy p = custom_policy(Action::kErrno, EPERM);
  p.rules.push_back(Rule{"ioctl", Action::kAllow, 0, {}, "a.json: syscalls[0]"});
  p.rules.push_back(
      Rule{"ioctl", Action::kErrno, EACCES, {ArgCmp{1, ArgCmp::kEq, TIOCSTI, 0}}, "a.json: syscalls[4]"});
  std::string e = error_of([&] { compile(p); });
  EXPECT_NE(e.find("a.json: syscalls[0] 'ioctl' (allow)"), std::string::npos) << e;
  EXPECT_NE(e.find("a.json: syscalls[4] 'ioctl' (errno EACCES if arg1 == 0x5412)"), std::string::npos) << e;
  EXPECT_NE(e.find("would never apply"), std::string::npos) << e;

  Policy q = custom_policy(Action::kAllow);
  q.rules.push_back(Rule{"dup", Action::kErrno, 5, {ArgCmp{0, ArgCmp::kEq, 3, 0}}, "r1"});
  q.rules.push_back(Rule{"dup", Action::kErrno, 6, {ArgCmp{0, ArgCmp::kEq, 3, 0}}, "r2"});
  e = error_of([&] { compile(q); });
  EXPECT_NE(e.find("same conditions, different actions"), std::string::npos) << e;

  // Duplicates with the same action, and rules that repeat the default, are
  // harmless: emitted once / not at all.
  Policy r = custom_policy(Action::kAllow);
  r.rules.push_back(Rule{"dup", Action::kErrno, 5, {}, {}});
  r.rules.push_back(Rule{"dup", Action::kErrno, 5, {ArgCmp{0, ArgCmp::kEq, 3, 0}}, {}});
  r.rules.push_back(Rule{"getppid", Action::kAllow, 0, {}, {}});
  EXPECT_EQ(compile(r).rule_count, 1u);

  // Unknown names: an error for custom policies, skipped for profiles.
  Policy s = custom_policy(Action::kAllow);
  s.rules.push_back(Rule{"no_such_call", Action::kErrno, 5, {}, "custom rule 1"});
  e = error_of([&] { compile(s); });
  EXPECT_NE(e.find("custom rule 1 'no_such_call'"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown system call 'no_such_call'"), std::string::npos) << e;
  s.skip_unknown_syscalls = true;
  s.rules.push_back(Rule{"vm86", Action::kErrno, 5, {}, {}});
  Program sp = compile(s);
  EXPECT_EQ(sp.skipped, (std::vector<std::string>{"no_such_call", "vm86"}));
  EXPECT_EQ(sp.rule_count, 0u);

  Policy t = custom_policy(Action::kAllow);
  t.extra_arches = {"sparc9000"};
  EXPECT_NE(error_of([&] { compile(t); }).find("unknown architecture 'sparc9000'"), std::string::npos);
}

TEST(SeccompRules, TrapLogAndKillThreadActions) {
  Policy p = custom_policy(Action::kAllow);
  add_rule(p, Rule{"getppid", Action::kTrap, 0, {}, {}});
  add_rule(p, Rule{"getpgrp", Action::kLog, 0, {}, {}});
  add_rule(p, Rule{"getsid", Action::kKillThread, 0, {}, {}});
  Program prog = compile(p);
  EXPECT_TRUE(prog.kill_means_violation);

  // TRAP: SIGSYS with si_code SYS_SECCOMP and the call number; a handler may
  // catch it.
  static volatile int code, nr;
  Outcome o = run_filtered(&prog, [] {
    struct sigaction sa {};
    sa.sa_flags = SA_SIGINFO;
    sa.sa_sigaction = [](int, siginfo_t* si, void*) {
      code = si->si_code;
      nr = si->si_syscall;
    };
    sigaction(SIGSYS, &sa, nullptr);
    syscall(SYS_getppid);
    return code == 1 /* SYS_SECCOMP */ && nr == SYS_getppid ? 1L : 0L;
  });
  EXPECT_EQ(o.ret, 1) << o;
  o = run_filtered(&prog, [] { return syscall(SYS_getppid); });
  EXPECT_TRUE(killed_by_sigsys(o)) << "an unhandled trap kills with SIGSYS: " << o;
  o = run_filtered(&prog, [] { return syscall(SYS_getpgrp); });
  EXPECT_TRUE(o.reported && o.ret > 0) << "log allows: " << o;
  o = run_filtered(&prog, [] { return syscall(SYS_getsid, 0); });
  EXPECT_TRUE(killed_by_sigsys(o)) << "kill-thread of the only thread: " << o;
}

TEST(SeccompRules, NewSyscallsOutsideLibseccompAreNativeOnly) {
  // open_tree_attr is numbered from our table; libseccomp cannot translate
  // it for the i386 ABI, which the program then reports.
  Policy p = custom_policy(Action::kAllow);
  add_rule(p, Rule{"open_tree_attr", Action::kErrno, 91, {}, {}});
  add_rule(p, Rule{"getppid", Action::kErrno, 92, {}, {}});
  p.extra_arches = {"x86", "x86_64"};
  Program prog = compile(p);
  EXPECT_EQ(prog.skipped, (std::vector<std::string>{"open_tree_attr (x86 ABIs)"}));
  EXPECT_EQ(run_filtered(&prog, do_open_tree_attr).err, 91);
  EXPECT_EQ(run_filtered(&prog, [] { return syscall(SYS_getppid); }).err, 92);
  EXPECT_NE(describe(p).find("foreign ABIs x86, x86_64 filtered"), std::string::npos) << describe(p);
}

TEST(SeccompRules, OversizedFiltersAreRefused) {
  Policy p = custom_policy(Action::kAllow);
  for (uint64_t i = 0; i < 5000; ++i)
    p.rules.push_back(Rule{"dup", Action::kErrno, 5, {ArgCmp{0, ArgCmp::kEq, i, 0}}, {}});
  EXPECT_NE(error_of([&] { compile(p); }).find("5000 rules; a filter holds at most 4096 instructions"),
            std::string::npos);
  p.rules.resize(4090);  // about one instruction per rule: just over the limit
  EXPECT_NE(error_of([&] { compile(p); }).find("the kernel accepts at most 4096"), std::string::npos);
}

TEST(SeccompRules, NothingLeaksOnAnyPath) {
  auto count_fds = [] {
    int n = 0;
    for (int fd = 0; fd < 1024; ++fd) n += fcntl(fd, F_GETFD) >= 0;
    return n;
  };
  int before = count_fds();
  for (int i = 0; i < 20; ++i) {
    compile(named_profile("default"));
    Policy bad = custom_policy(Action::kAllow);
    bad.rules.push_back(Rule{"nope", Action::kErrno, 1, {}, {}});
    EXPECT_NE(error_of([&] { compile(bad); }), "<no error>");
    EXPECT_NE(error_of([] { load_oci_profile_file("/tmp", {}); }), "<no error>");
    load_oci_profile_file(profiles_dir() + "sbx-allowlist-profile.json", {});
  }
  EXPECT_EQ(count_fds(), before);
}

// ------------------------------------------------------------ OCI profiles

Policy load_text(const std::string& text, const OciContext& ctx = {}) {
  return load_oci_profile(text, ctx, "t.json");
}

TEST(SeccompOci, TestProfileLoads) {
  Policy p = load_oci_profile_file(profiles_dir() + "sbx-test-profile.json", {});
  EXPECT_EQ(p.name, "oci:" + profiles_dir() + "sbx-test-profile.json");
  EXPECT_EQ(p.default_action, Action::kAllow);
  EXPECT_TRUE(p.extra_arches.empty());
  ASSERT_EQ(p.notes.size(), 1u);
  EXPECT_NE(p.notes[0].find("architectures: ignored aarch64 (not runnable on x86_64)"), std::string::npos)
      << p.notes[0];
  std::set<std::string> names;
  for (const auto& r : p.rules) names.insert(r.syscall);
  for (const char* n : {"socket", "openat", "kill", "mount", "umount2", "chroot", "sethostname",
                        "setdomainname", "pidfd_getfd", "sbx_no_such_syscall", "userfaultfd", "kexec_load"})
    EXPECT_TRUE(names.count(n)) << n;
  for (const char* n : {"getppid", "getpgid", "getcpu"}) EXPECT_FALSE(names.count(n)) << n;

  // Capabilities and kernel versions switch entries on and off.
  OciContext ctx;
  ctx.capabilities = {"CAP_SYS_ADMIN", "sys_chroot"};
  ctx.kernel_release = "5.4.0-generic";
  Policy q = load_oci_profile_file(profiles_dir() + "sbx-test-profile.json", ctx);
  names.clear();
  for (const auto& r : q.rules) names.insert(r.syscall);
  for (const char* n : {"mount", "umount2", "chroot", "pidfd_getfd"}) EXPECT_FALSE(names.count(n)) << n;
  ctx.kernel_release = "5.6";
  q = load_oci_profile_file(profiles_dir() + "sbx-test-profile.json", ctx);
  names.clear();
  for (const auto& r : q.rules) names.insert(r.syscall);
  EXPECT_TRUE(names.count("pidfd_getfd"));
}

TEST(SeccompOci, TestProfileBehaviour) {
  Policy p = load_oci_profile_file(profiles_dir() + "sbx-test-profile.json", {});
  Program prog = compile(p);
  EXPECT_EQ(prog.skipped, (std::vector<std::string>{"sbx_no_such_syscall"}));
  EXPECT_TRUE(prog.kill_means_violation);
  const Program* pp = &prog;
  auto err = [&](long (*f)()) { return run_filtered(pp, f).err; };
  EXPECT_EQ(err([] { return static_cast<long>(socket(AF_INET6, SOCK_DGRAM, 0)); }), EAFNOSUPPORT);
  EXPECT_EQ(err([] { return socket(AF_UNIX, SOCK_DGRAM, 0) >= 0 ? 0L : -1L; }), 0);
  EXPECT_EQ(err([] {
              return static_cast<long>(openat(AT_FDCWD, "/tmp/sbx-seccomp-never", O_CREAT | O_WRONLY, 0600));
            }),
            EROFS);
  EXPECT_EQ(err([] { return openat(AT_FDCWD, "/dev/null", O_RDONLY) >= 0 ? 0L : -1L; }), 0);
  EXPECT_EQ(err([] { return static_cast<long>(kill(getpid(), 0)); }), 0);
  EXPECT_EQ(err([] { return static_cast<long>(kill(getpid(), SIGCONT)); }), ESRCH);
  EXPECT_EQ(err([] { return static_cast<long>(sethostname("x", 1)); }), EBUSY);
  EXPECT_EQ(err([] { return static_cast<long>(getppid() > 0 ? 0 : -1); }), 0);
  EXPECT_EQ(err([] { return static_cast<long>(getpgid(0) > 0 ? 0 : -1); }), 0);
  EXPECT_EQ(err([] { return syscall(SYS_pidfd_getfd, -1, -1, 0); }), ENOSYS);
  EXPECT_EQ(err([] { return syscall(SYS_userfaultfd, 0); }), EOPNOTSUPP);
  EXPECT_EQ(err(do_umount), EPERM);
  Outcome o = run_filtered(pp, do_kexec_load);
  EXPECT_TRUE(killed_by_sigsys(o)) << o;
#if defined(__x86_64__)
  o = run_filtered(pp, [] { return int80(kI386Getpid); });
  EXPECT_TRUE(killed_by_sigsys(o)) << "i386 is not in 'architectures': " << o;
#endif
  cross_check(p, prog);
}

TEST(SeccompOci, AllowListProfileRunsTheShell) {
  Policy p = load_oci_profile_file(profiles_dir() + "sbx-allowlist-profile.json", {});
  EXPECT_EQ(p.default_action, Action::kErrno);
  EXPECT_EQ(p.default_errno, EPERM);
  EXPECT_EQ(p.extra_arches, (std::vector<std::string>{"x86", "x32"}));
  Program prog = compile(p);
  EXPECT_EQ(prog.skipped, (std::vector<std::string>{"sbx_unknown_call"}));
  Outcome o = run_program(&prog, {"/bin/sh", "-c", "echo ok"});
  EXPECT_TRUE(o.exited && o.code == 0 && o.out == "ok\n") << o;
  o = run_program(&prog, {"/bin/sh", "-c", "/bin/true; echo no"});
  EXPECT_TRUE(o.exited && o.code != 0 && o.out.find("Cannot fork") != std::string::npos)
      << "fork is refused: " << o;
  o = run_filtered(&prog, [] { return syscall(SYS_uname, nullptr); });
  EXPECT_EQ(o.err, EPERM) << o;
  o = run_filtered(&prog, [] { return static_cast<long>(getpid()); });
  EXPECT_TRUE(o.reported && o.ret > 0) << o;
#if defined(__x86_64__)
  // The i386 and x32 ABIs are named by the profile: filtered, not killed.
  Outcome base = run_filtered(nullptr, [] { return int80(kI386Getpid); });
  if (base.reported && base.ret > 0) {
    o = run_filtered(&prog, [] { return int80(kI386Getpid); });
    EXPECT_TRUE(o.reported && o.ret > 0) << "i386 getpid is on the list: " << o;
    o = run_filtered(&prog, [] { return int80(kI386Sync); });
    EXPECT_TRUE(o.reported && o.ret == -EPERM) << "i386 sync is not: " << o;
  }
  o = run_filtered(&prog, [] { return syscall(kX32Bit | SYS_getpid); });
  EXPECT_TRUE(o.reported && o.ret == -1 && (o.err == ENOSYS || o.err == 0))
      << "x32 getpid passes the filter: " << o;
  uint64_t args[6] = {};
  EXPECT_EQ(run_bpf(prog.insns, data_for(kI386Getpid, args, AUDIT_ARCH_I386)), SCMP_ACT_ALLOW);
  EXPECT_EQ(run_bpf(prog.insns, data_for(kI386Sync, args, AUDIT_ARCH_I386)), SCMP_ACT_ERRNO(EPERM));
  EXPECT_EQ(run_bpf(prog.insns, data_for(SYS_getpid, args, AUDIT_ARCH_AARCH64)), SCMP_ACT_KILL_PROCESS);
#endif
  cross_check(p, prog);
}

TEST(SeccompOci, MalformedProfilesNameTheField) {
  struct Bad {
    std::string json;
    std::string want;
  };
  const std::string allow = R"("defaultAction": "SCMP_ACT_ALLOW")";
  auto with = [&](const std::string& entry) { return "{" + allow + R"(, "syscalls": [)" + entry + "]}"; };
  auto arg = [&](const std::string& a) {
    return with(R"({"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [)" + a + "]}");
  };
  const std::string ok_entry = R"({"names": ["read"], "action": "SCMP_ACT_ERRNO"})";
  const Bad cases[] = {
      {"{}", "t.json: defaultAction: missing"},
      {R"({"defaultAction": 5})", "t.json: defaultAction: expected a string, got number"},
      {R"({"defaultAction": "SCMP_ACT_FOO"})", "t.json: defaultAction: unknown action 'SCMP_ACT_FOO'"},
      {R"({"defaultAction": "SCMP_ACT_NOTIFY"})",
       "t.json: defaultAction: SCMP_ACT_NOTIFY is not supported by sbx"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1})",
       "t.json: defaultErrnoRet: only valid with defaultAction SCMP_ACT_ERRNO"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1})",
       "t.json: defaultErrnoRet: expected an unsigned integer, got a negative number"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 5000})",
       "t.json: defaultErrnoRet: 5000 is out of range (0..4095)"},
      {"{" + allow + R"(, "syscalls": {}})", "t.json: syscalls: expected an array, got object"},
      {with(R"("read")"), "t.json: syscalls[0]: expected an object, got string"},
      {with(ok_entry + R"(, {"names": "read", "action": "SCMP_ACT_ERRNO"})"),
       "t.json: syscalls[1].names: expected an array, got string"},
      {with(R"({"names": ["read", 3], "action": "SCMP_ACT_ERRNO"})"),
       "t.json: syscalls[0].names[1]: expected a string, got number"},
      {with(R"({"names": [""], "action": "SCMP_ACT_ERRNO"})"),
       "t.json: syscalls[0].names[0]: empty syscall name"},
      {with(R"({"action": "SCMP_ACT_ERRNO"})"), "t.json: syscalls[0]: no 'names'"},
      {with(R"({"name": "read", "names": ["read"], "action": "SCMP_ACT_ERRNO"})"),
       "t.json: syscalls[0]: 'name' and 'names' are both given; use one"},
      {with(R"({"names": ["read"]})"), "t.json: syscalls[0].action: missing"},
      {with(R"({"names": ["read"], "action": "SCMP_ACT_TRACE"})"),
       "t.json: syscalls[0].action: SCMP_ACT_TRACE is not supported by sbx"},
      {with(R"({"names": ["read"], "action": "SCMP_ACT_BOOM"})"),
       "t.json: syscalls[0].action: unknown action 'SCMP_ACT_BOOM'"},
      {with(R"({"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 4096})"),
       "t.json: syscalls[0].errnoRet: 4096 is out of range (0..4095)"},
      {with(R"({"names": ["read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1})"),
       "t.json: syscalls[0].errnoRet: only valid with action SCMP_ACT_ERRNO"},
      {with(
           ok_entry + "," + ok_entry + "," + ok_entry +
           R"(, {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_FOO"}]})"),
       "t.json: syscalls[3].args[0].op: unknown operator 'SCMP_CMP_FOO'"},
      {arg(R"({"index": 7, "value": 1, "op": "SCMP_CMP_EQ"})"),
       "t.json: syscalls[0].args[0].index: 7 is out of range (0..5)"},
      {arg(R"({"index": -1, "value": 1, "op": "SCMP_CMP_EQ"})"),
       "t.json: syscalls[0].args[0].index: expected an unsigned integer, got a negative number"},
      {arg(R"({"index": 0, "value": "1", "op": "SCMP_CMP_EQ"})"),
       "t.json: syscalls[0].args[0].value: expected an unsigned integer, got string"},
      {arg(R"({"index": 0, "value": 1.5, "op": "SCMP_CMP_EQ"})"),
       "t.json: syscalls[0].args[0].value: expected an unsigned integer, got a fractional number"},
      {arg(R"({"index": 0, "value": 1, "valueTwo": true, "op": "SCMP_CMP_MASKED_EQ"})"),
       "t.json: syscalls[0].args[0].valueTwo: expected an unsigned integer, got boolean"},
      {arg(R"({"index": 0, "value": 1, "op": 3})"),
       "t.json: syscalls[0].args[0].op: expected a string, got number"},
      {arg(R"({"index": 0, "value": 1})"), "t.json: syscalls[0].args[0].op: missing"},
      {arg(R"({"index": 0, "value": 1, "valuetwo": 1, "op": "SCMP_CMP_EQ"})"),
       "t.json: syscalls[0].args[0].valuetwo: unknown key"},
      {arg(R"({"index": 0, "value": 1, "op": "SCMP_CMP_GT"}, {"index": 0, "value": 9, "op": "SCMP_CMP_LT"})"),
       "t.json: syscalls[0].args[1].index: argument 0 is compared twice"},
      {arg(R"(1,2,3,4,5,6,7)"), "t.json: syscalls[0].args: 7 conditions (at most 6)"},
      {arg(R"("x")"), "t.json: syscalls[0].args[0]: expected an object, got string"},
      {with(R"({"names": ["read"], "action": "SCMP_ACT_ERRNO", "includes": {"minKernel": "abc"}})"),
       "t.json: syscalls[0].includes.minKernel: invalid kernel version 'abc'"},
      {with(R"({"names": ["read"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": "CAP_SYS_ADMIN"}})"),
       "t.json: syscalls[0].includes.caps: expected an array, got string"},
      {with(R"({"names": ["read"], "action": "SCMP_ACT_ERRNO", "excludes": {"arches": [1]}})"),
       "t.json: syscalls[0].excludes.arches[0]: expected a string, got number"},
      {with(R"({"names": ["read"], "action": "SCMP_ACT_ERRNO", "excludes": []})"),
       "t.json: syscalls[0].excludes: expected an object, got array"},
      {"{" + allow + R"(, "architectures": ["X86"]})",
       "t.json: architectures[0]: unknown architecture 'X86' (expected SCMP_ARCH_<NAME>"},
      {"{" + allow + R"(, "architectures": "SCMP_ARCH_X86"})",
       "t.json: architectures: expected an array, got string"},
      {"{" + allow +
           R"(, "architectures": ["SCMP_ARCH_X86"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]})",
       "t.json: archMap: 'architectures' and 'archMap' are both given; use one"},
      {"{" + allow + R"(, "archMap": [{"subArchitectures": []}]})",
       "t.json: archMap[0].architecture: missing"},
      {"{" + allow + R"(, "listenerPath": "/run/agent.sock"})",
       "t.json: listenerPath: seccomp user notification (a listener agent) is not supported by sbx"},
      {"{" + allow + R"(, "flags": ["SECCOMP_FILTER_FLAG_FOO"]})",
       "t.json: flags[0]: unknown flag 'SECCOMP_FILTER_FLAG_FOO'"},
      {R"({"defaultAction": })",
       "t.json: invalid JSON at byte 19: parse error at line 1, column 19: syntax error"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW",})", "t.json: invalid JSON at byte "},
      {"", "t.json: invalid JSON at byte 1"},
      {"[]", "t.json: expected a JSON object at the top level, got array"},
  };
  for (const Bad& b : cases) {
    try {
      load_text(b.json);
      ADD_FAILURE() << "no error for " << b.json;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), SBX_E_INVALID);
      EXPECT_EQ(std::string(e.what()).rfind(b.want, 0), 0u) << "got: " << e.what() << "\nwant: " << b.want;
    }
  }
  // The exact message for the documented example.
  EXPECT_EQ(error_of([&] { load_text(arg(R"({"index": 0, "value": 1, "op": "SCMP_CMP_FOO"})")); }),
            "t.json: syscalls[0].args[0].op: unknown operator 'SCMP_CMP_FOO'");
}

TEST(SeccompOci, ForwardCompatibleAndNotes) {
  Policy p = load_text(R"({
    "defaultAction": "SCMP_ACT_KILL",
    "futureKey": {"x": 1},
    "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
    "listenerPath": "",
    "archMap": [{"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
                {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X32", "SCMP_ARCH_PPC"]}],
    "syscalls": [
      {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "comment": "hi", "future": 1},
      {"names": ["getpid"], "action": "SCMP_ACT_LOG", "includes": {"arches": ["SCMP_ARCH_X86_64"], "later": 2}},
      {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "excludes": {"arches": ["riscv64"]}},
      {"names": ["exit_group"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": []}, "excludes": {"caps": []}}
    ]
  })");
  EXPECT_EQ(p.default_action, Action::kKillThread);  // libseccomp's SCMP_ACT_KILL
  EXPECT_EQ(p.extra_arches, (std::vector<std::string>{"x32"}));
  ASSERT_EQ(p.rules.size(), 5u);
  EXPECT_EQ(p.rules[3].errno_value, EPERM);  // ERRNO without errnoRet
  EXPECT_EQ(p.rules[0].origin, "t.json: syscalls[0]");
  std::string notes;
  for (const auto& n : p.notes) notes += n + "\n";
  for (const char* want :
       {"ignored unknown key 'futureKey'", "flags[0]: SECCOMP_FILTER_FLAG_TSYNC ignored",
        "flags[1]: SECCOMP_FILTER_FLAG_SPEC_ALLOW ignored", "archMap[1].subArchitectures: ignored ppc",
        "syscalls[0]: ignored unknown key 'future'", "syscalls[1].includes.later: ignored unknown key"})
    EXPECT_NE(notes.find(want), std::string::npos) << want << " in\n" << notes;
  Program prog = compile(p);
  EXPECT_TRUE(prog.kill_means_violation);

  // Docker-style: unknown names are skipped and reported, not errors.
  Policy q = load_text(R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
    "syscalls": [{"names": ["read", "sbx_from_the_future", "mseal"], "action": "SCMP_ACT_ALLOW"}]})");
  Program qp = compile(q);
  EXPECT_EQ(qp.skipped, (std::vector<std::string>{"sbx_from_the_future"}));
  EXPECT_EQ(qp.rule_count, 2u);  // mseal comes from our table of newer calls
}

TEST(SeccompOci, LimitsAndHostileInput) {
  std::string big(kMaxOciProfileBytes + 1, ' ');
  EXPECT_NE(error_of([&] { load_text(big); }).find("the limit is 4 MiB"), std::string::npos);
  // Deep nesting must not overflow a stack.
  std::string deep(200000, '[');
  deep += std::string(200000, ']');
  EXPECT_NE(error_of([&] { load_text(deep); }).find("expected a JSON object"), std::string::npos);
  std::string deep_bad = R"({"defaultAction": "SCMP_ACT_ALLOW", "x": )" + std::string(100000, '[');
  EXPECT_NE(error_of([&] { load_text(deep_bad); }).find("invalid JSON at byte"), std::string::npos);
  EXPECT_NE(error_of([&] { load_text(std::string("{\"defaultAction\": \"\xff\"}")); }).find("invalid JSON"),
            std::string::npos);
}

TEST(SeccompOci, FileErrorsNameThePath) {
  try {
    load_oci_profile_file("/nonexistent/sbx/profile.json", {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), SBX_E_INVALID);
    EXPECT_EQ(e.sys_errno(), ENOENT);
    EXPECT_STREQ(e.what(),
                 "seccomp profile '/nonexistent/sbx/profile.json': No such file or directory (ENOENT)");
  }
  EXPECT_EQ(error_of([] { load_oci_profile_file("/tmp", {}); }),
            "seccomp profile '/tmp': not a regular file");

  char path[] = "/tmp/sbx-seccomp-big-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(kMaxOciProfileBytes) + 1), 0);
  close(fd);
  EXPECT_NE(error_of([&] { load_oci_profile_file(path, {}); }).find("the limit is 4 MiB"), std::string::npos);
  if (geteuid() != 0) {
    chmod(path, 0);
    EXPECT_NE(error_of([&] { load_oci_profile_file(path, {}); }).find("(EACCES)"), std::string::npos);
  }
  unlink(path);
}

}  // namespace
}  // namespace sbx::seccomp
