// Policy -> classic BPF with libseccomp. Runs in the parent: libseccomp
// allocates freely and is not async-signal-safe.
#include <sbx/sbx.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "core/common/error.hpp"
#include "core/common/fd.hpp"
#include "core/seccomp/internal.hpp"

namespace sbx::seccomp {

using namespace detail;

namespace {

// Every installed filter kills a process that makes a system call through an
// ABI the policy does not name (i386 int 0x80 from x86-64 code, x32 numbers):
// rules are written for the native numbers, and another ABI's numbers mean
// other calls.
constexpr uint32_t kBadArchAction = SCMP_ACT_KILL_PROCESS;

// The kernel refuses longer programs (BPF_MAXINSNS).
constexpr size_t kMaxInsns = 4096;

struct CtxRelease {
  void operator()(void* ctx) const noexcept { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxRelease>;

[[noreturn]] void fail(const std::string& message, int code = SBX_E_INVALID, int e = 0) {
  throw Error(code, "seccomp", e, "seccomp " + message);
}

bool kills_or_traps(uint32_t action) {
  uint32_t a = action & 0xffff0000u;  // drop the errno/trace data (SECCOMP_RET_ACTION_FULL)
  return a == SCMP_ACT_KILL_PROCESS || a == SCMP_ACT_KILL_THREAD || a == SCMP_ACT_TRAP;
}

scmp_compare scmp_op(ArgCmp::Op op) {
  switch (op) {
    case ArgCmp::kNe:
      return SCMP_CMP_NE;
    case ArgCmp::kLt:
      return SCMP_CMP_LT;
    case ArgCmp::kLe:
      return SCMP_CMP_LE;
    case ArgCmp::kEq:
      return SCMP_CMP_EQ;
    case ArgCmp::kGe:
      return SCMP_CMP_GE;
    case ArgCmp::kGt:
      return SCMP_CMP_GT;
    case ArgCmp::kMaskedEq:
      return SCMP_CMP_MASKED_EQ;
  }
  return _SCMP_CMP_MIN;  // unreachable for validated rules
}

struct Planned {
  const Rule* rule;
  int nr;           // native number (may be a libseccomp pseudo number)
  bool from_table;  // number from our table: native ABI only
};

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
  return s;
}

void add_to_ctx(void* ctx, const Planned& p, bool exact) {
  const Rule& r = *p.rule;
  scmp_arg_cmp cmps[6] = {};
  for (size_t i = 0; i < r.args.size(); ++i) {
    const ArgCmp& c = r.args[i];
    cmps[i].arg = c.index;
    cmps[i].op = scmp_op(c.op);
    cmps[i].datum_a = c.value;
    cmps[i].datum_b = c.op == ArgCmp::kMaskedEq ? c.value2 : 0;
  }
  uint32_t action = scmp_action(r.action, r.errno_value);
  unsigned count = static_cast<unsigned>(r.args.size());
  // _exact where the filter covers the native ABI only: the rule must then
  // land exactly as written (no silent rewriting). With foreign ABIs,
  // libseccomp has to translate it (numbers, i386 socketcall multiplexing)
  // and may drop it for an ABI without the call.
  int rc = exact ? seccomp_rule_add_exact_array(ctx, action, p.nr, count, cmps)
                 : seccomp_rule_add_array(ctx, action, p.nr, count, cmps);
  if (rc < 0)
    fail("rule " + rule_label(r) + ": libseccomp refused it: " + errno_text(-rc), SBX_E_INVALID, -rc);
}

std::vector<struct sock_filter> export_bpf(void* ctx) {
  // libseccomp 2.5 can export only to a file descriptor; a memfd keeps the
  // program off the filesystem.
  UniqueFd fd(memfd_create("sbx-seccomp-bpf", MFD_CLOEXEC));
  if (!fd) fail("export: memfd_create: " + errno_text(errno), SBX_E_SYSTEM, errno);
  int rc = seccomp_export_bpf(ctx, fd.get());
  if (rc < 0) fail("export: libseccomp could not generate the filter: " + errno_text(-rc), SBX_E_SYSTEM, -rc);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) fail("export: fstat: " + errno_text(errno), SBX_E_SYSTEM, errno);
  size_t size = static_cast<size_t>(st.st_size);
  if (size == 0 || size % sizeof(struct sock_filter) != 0)
    fail("export: libseccomp wrote " + std::to_string(size) + " bytes, not a whole BPF program",
         SBX_E_INTERNAL);
  size_t n = size / sizeof(struct sock_filter);
  if (n > kMaxInsns)
    fail("filter has " + std::to_string(n) + " instructions; the kernel accepts at most " +
         std::to_string(kMaxInsns) + " (fewer rules or argument conditions)");
  std::vector<struct sock_filter> insns(n);
  auto* out = reinterpret_cast<char*>(insns.data());
  size_t done = 0;
  while (done < size) {
    ssize_t got = pread(fd.get(), out + done, size - done, static_cast<off_t>(done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0)
      fail("export: reading the program back: " + (got < 0 ? errno_text(errno) : std::string("short read")),
           SBX_E_SYSTEM, got < 0 ? errno : 0);
    done += static_cast<size_t>(got);
  }
  return insns;
}

}  // namespace

Program compile(const Policy& policy) {
  Program prog;
  if (!policy.install) return prog;

  const std::string what = "policy '" + policy.name + "'";
  if (!valid_action(policy.default_action)) fail(what + ": unknown default action");
  if (policy.default_action == Action::kErrno && (policy.default_errno < 0 || policy.default_errno > 4095))
    fail(what + ": default errno " + std::to_string(policy.default_errno) + " is out of range (0..4095)");
  const uint32_t default_action = scmp_action(policy.default_action, policy.default_errno);

  const uint32_t native = native_arch();
  std::vector<uint32_t> extra;
  std::vector<std::string> extra_names;
  for (const auto& a : policy.extra_arches) {
    uint32_t token = arch_token(a);
    if (token == 0) fail(what + ": unknown architecture '" + a + "'");
    if (token == native) continue;
    bool dup = false;
    for (uint32_t t : extra) dup = dup || t == token;
    if (dup) continue;
    extra.push_back(token);
    extra_names.push_back(arch_name(token));
  }

  // Resolve names and drop what cannot apply here.
  std::vector<Planned> planned;
  std::set<std::string> skipped;
  for (const auto& r : policy.rules) {
    validate_rule_shape(r, 0);
    auto res = resolve_native(r.syscall);
    bool on_extra = false;
    for (uint32_t t : extra) on_extra = on_extra || exists_on(t, r.syscall);
    bool native_real = res && res->nr >= 0;
    if (!res || (!native_real && !on_extra)) {
      if (!policy.skip_unknown_syscalls)
        fail("rule " + rule_label(r) + ": " +
             (res ? "system call '" + r.syscall + "' does not exist on " + arch_name(native)
                  : "unknown system call '" + r.syscall + "' on " + arch_name(native)));
      if (skipped.insert(r.syscall).second) prog.skipped.push_back(r.syscall);
      continue;
    }
    // Our table numbers hold for the native ABI; libseccomp cannot translate
    // a name it does not know to another ABI, so there the rule is missing.
    if (res->from_table && !extra.empty() && skipped.insert(r.syscall).second)
      prog.skipped.push_back(r.syscall + " (" + join(extra_names) + " ABIs)");
    planned.push_back(Planned{&r, res->nr, res->from_table});
  }

  // libseccomp resolves conflicting rules silently: of two identical rules
  // the first wins, and an unconditional rule swallows conditional ones with
  // other actions. Refuse both, naming the rules, so that no rule is dropped
  // without the user knowing.
  std::map<std::string, std::vector<const Planned*>> by_name;
  std::vector<std::string> order;  // first appearance, for stable output
  for (const auto& p : planned) {
    auto& g = by_name[p.rule->syscall];
    if (g.empty()) order.push_back(p.rule->syscall);
    g.push_back(&p);
  }
  auto act = [](const Planned* p) { return scmp_action(p->rule->action, p->rule->errno_value); };
  std::vector<Planned> emit;
  for (const auto& name : order) {
    const auto& group = by_name[name];
    const Planned* uncond = nullptr;
    for (const Planned* p : group)
      if (p->rule->args.empty()) {
        uncond = p;
        break;
      }
    std::vector<const Planned*> kept;
    if (uncond) {
      for (const Planned* p : group)
        if (act(p) != act(uncond))
          fail("rules " + rule_label(*uncond->rule) + " and " + rule_label(*p->rule) + " conflict: " +
               (p->rule->args.empty()
                    ? std::string("both decide every '") + name + "' call"
                    : "the first decides every '" + name + "' call, so the second would never apply"));
      kept.push_back(uncond);
    } else {
      std::map<std::string, const Planned*> by_conditions;
      for (const Planned* p : group) {
        auto [it, fresh] = by_conditions.emplace(condition_key(*p->rule), p);
        if (fresh) {
          kept.push_back(p);
        } else if (act(it->second) != act(p)) {
          fail("rules " + rule_label(*it->second->rule) + " and " + rule_label(*p->rule) +
               " conflict: same conditions, different actions");
        }
      }
    }
    // A rule that does what the default does is a no-op, and libseccomp
    // refuses it (EACCES).
    for (const Planned* p : kept)
      if (act(p) != default_action) emit.push_back(*p);
  }
  // Every rule costs at least one instruction; stop before handing
  // libseccomp a filter the kernel would refuse anyway.
  if (emit.size() > kMaxInsns)
    fail(what + ": " + std::to_string(emit.size()) + " rules; a filter holds at most " +
         std::to_string(kMaxInsns) + " instructions");

  // libseccomp keeps process-wide state (the probed API level and kernel
  // features) in unsynchronised statics, and hosts may create boxes from
  // several threads at once.
  static std::mutex libseccomp_lock;
  std::lock_guard<std::mutex> hold(libseccomp_lock);

  Ctx ctx(seccomp_init(default_action));
  if (!ctx)
    fail(what + ": libseccomp refused the default action " +
         action_text(policy.default_action, policy.default_errno));
  auto set_attr = [&](scmp_filter_attr attr, uint32_t value, const char* name) {
    int rc = seccomp_attr_set(ctx.get(), attr, value);
    if (rc < 0) fail(std::string("setting ") + name + ": " + errno_text(-rc), SBX_E_SYSTEM, -rc);
  };
  // The launcher sets PR_SET_NO_NEW_PRIVS itself and installs the exported
  // program; libseccomp never loads anything here.
  set_attr(SCMP_FLTATR_CTL_NNP, 0, "SCMP_FLTATR_CTL_NNP");
  set_attr(SCMP_FLTATR_ACT_BADARCH, kBadArchAction, "SCMP_FLTATR_ACT_BADARCH");
  // A binary tree of syscall numbers instead of a linear chain: in a
  // default-allow profile every allowed call would otherwise walk past every
  // refused number before it is let through.
  set_attr(SCMP_FLTATR_CTL_OPTIMIZE, 2, "SCMP_FLTATR_CTL_OPTIMIZE");

  // Rules numbered from our table go in while the filter still has only the
  // native ABI (libseccomp translates existing rules to ABIs added later and
  // leaves out what it cannot translate); then the foreign ABIs; then the
  // rest, which libseccomp translates for every ABI.
  for (const auto& p : emit)
    if (p.from_table) add_to_ctx(ctx.get(), p, true);
  for (uint32_t t : extra) {
    int rc = seccomp_arch_add(ctx.get(), t);
    if (rc < 0 && rc != -EEXIST)
      fail(what + ": adding architecture " + arch_name(t) + ": " + errno_text(-rc), SBX_E_INVALID, -rc);
  }
  for (const auto& p : emit)
    if (!p.from_table) add_to_ctx(ctx.get(), p, extra.empty());
  prog.rule_count = emit.size();

  prog.insns = export_bpf(ctx.get());
  prog.kill_means_violation = kills_or_traps(kBadArchAction) || kills_or_traps(default_action);
  for (const auto& p : emit)
    prog.kill_means_violation =
        prog.kill_means_violation || kills_or_traps(scmp_action(p.rule->action, p.rule->errno_value));
  return prog;
}

}  // namespace sbx::seccomp
