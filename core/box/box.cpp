#include "core/box/box.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "core/box/supervisor_link.hpp"
#include "core/cgroup/cgroup.hpp"
#include "core/common/error.hpp"
#include "core/launch/launcher.hpp"
#include "core/seccomp/seccomp.hpp"

namespace sbx {

namespace {

// Box ids name cgroup directories: [a-z0-9-] only (SPEC L4), unique per
// host process and unlikely to meet a stale directory of an earlier one.
std::string new_box_id() {
  static std::atomic<uint64_t> counter{0};
  static const uint32_t salt = [] {
    std::random_device rd;
    return static_cast<uint32_t>(rd());
  }();
  char buf[64];
  snprintf(buf, sizeof buf, "sbx-%d-%llu-%08x", static_cast<int>(getpid()),
           static_cast<unsigned long long>(counter.fetch_add(1) + 1), salt);
  return buf;
}

std::string ms_text(uint64_t ms) {
  char b[32];
  if (ms % 1000 == 0)
    snprintf(b, sizeof b, "%llu s", static_cast<unsigned long long>(ms / 1000));
  else
    snprintf(b, sizeof b, "%llu ms", static_cast<unsigned long long>(ms));
  return b;
}

seccomp::Action action_of(int a) {
  switch (a) {
    case SBX_SECCOMP_ALLOW:
      return seccomp::Action::kAllow;
    case SBX_SECCOMP_ERRNO:
      return seccomp::Action::kErrno;
    case SBX_SECCOMP_KILL_PROCESS:
      return seccomp::Action::kKillProcess;
    case SBX_SECCOMP_KILL_THREAD:
      return seccomp::Action::kKillThread;
    case SBX_SECCOMP_TRAP:
      return seccomp::Action::kTrap;
    default:
      return seccomp::Action::kLog;
  }
}

seccomp::ArgCmp::Op op_of(int op) {
  switch (op) {
    case SBX_SECCOMP_CMP_NE:
      return seccomp::ArgCmp::kNe;
    case SBX_SECCOMP_CMP_LT:
      return seccomp::ArgCmp::kLt;
    case SBX_SECCOMP_CMP_LE:
      return seccomp::ArgCmp::kLe;
    case SBX_SECCOMP_CMP_EQ:
      return seccomp::ArgCmp::kEq;
    case SBX_SECCOMP_CMP_GE:
      return seccomp::ArgCmp::kGe;
    case SBX_SECCOMP_CMP_GT:
      return seccomp::ArgCmp::kGt;
    default:
      return seccomp::ArgCmp::kMaskedEq;
  }
}

// A named profile compiles to the same program every time: compile it once
// per process (libseccomp takes about half a millisecond per profile).
seccomp::Program compile_seccomp(const seccomp::Policy& pol, bool named) {
  if (!named) return seccomp::compile(pol);
  static std::mutex mu;
  static std::map<std::string, seccomp::Program> cache;
  std::lock_guard<std::mutex> lk(mu);
  auto it = cache.find(pol.name);
  if (it == cache.end()) it = cache.emplace(pol.name, seccomp::compile(pol)).first;
  return it->second;
}

}  // namespace

Box::Box(const BoxConfig& cfg) : cfg_(resolve_config(cfg)), id_(new_box_id()) {
  setup_cgroup();
  setup_security();
}

Box::~Box() {
  if (started_) {
    try {
      stop(0);
    } catch (...) {
      // Already being stopped by its time limit: finish it here.
      Reactor::Id ids[2];
      {
        std::lock_guard<std::mutex> lk(mu_);
        no_timers_ = true;
        ids[0] = std::exchange(box_deadline_, 0);
      }
      if (ids[0] != 0) Reactor::instance().cancel(ids[0]);
      {
        std::lock_guard<std::mutex> lk(mu_);
        ids[1] = std::exchange(box_grace_, 0);
      }
      if (ids[1] != 0) Reactor::instance().cancel(ids[1]);
      if (link_) link_->close();
      on_supervisor_closed();
    }
    if (init_) {
      init_->stop_callbacks();
      init_->terminate();
    }
    link_.reset();
  }
  if (proc_) {
    proc_->stop_callbacks();
    proc_->cancel_timers();  // no limit action may hold the cgroup past here
    proc_->terminate();
  }
  // The process has dropped its reference once its record was final: this
  // removes the box's cgroup directories.
  cgroup_.reset();
}

void Box::add(std::string name, int state, std::string mechanism, std::string detail) {
  report_.push_back({std::move(name), state, std::move(mechanism), std::move(detail)});
}

void Box::setup_cgroup() {
  const BoxLimits& l = cfg_.cfg.limits;
  const bool strict = cfg_.cfg.strict;
  cgroup::Limits lim;
  if (l.memory_max) lim.memory_max = l.memory_max;
  if (l.memory_high) lim.memory_high = l.memory_high;
  if (l.pids_max) lim.pids_max = l.pids_max;
  if (l.cpus > 0) lim.cpus = l.cpus;
  if (l.cpu_weight) lim.cpu_weight = l.cpu_weight;
  cgroup::Options opt;
  if (l.cgroup_parent) opt.parent = *l.cgroup_parent;
  opt.strict = strict;
  opt.want_accounting = true;
  std::vector<cgroup::Enforcement> rows;
  std::unique_ptr<cgroup::BoxCgroup> cg =
      cgroup::BoxCgroup::create(cgroup::Layout::detect(), id_, lim, opt, &rows);
  for (auto& r : rows) add(r.limit, r.enforced ? SBX_ENFORCED : SBX_DEGRADED, r.mechanism, r.detail);
  if (cg) {
    policy_.cgroup_dir_fd = cg->clone_into_fd();
    policy_.cgroup_procs_fds = cg->attach_fds();
    cgroup_ = std::shared_ptr<cgroup::BoxCgroup>(std::move(cg));
  }

  // Time limits, enforced by the monitor thread.
  const bool pidns = (cfg_.cfg.namespaces & SBX_NS_PID) != 0;
  const bool cg_kill = cgroup_ && cgroup_->kills_tree();
  if (l.timeout_ms != 0) {
    std::string how = "monitor thread at " + ms_text(l.timeout_ms) +
                      ": SIGTERM to every process of the box, " + ms_text(l.kill_grace_ms) +
                      " grace, SIGKILL";
    if (pidns || cg_kill) {
      add("timeout", SBX_ENFORCED, how + (pidns ? " (via the box init)" : " (via the cgroup)"));
    } else {
      if (strict)
        throw Error(SBX_E_UNSUPPORTED, "timeout", 0,
                    "strict: the timeout cannot reach every process of the box (no pid namespace and no "
                    "cgroup to kill the tree)");
      add("timeout", SBX_DEGRADED, how,
          "only the program itself is signalled: no pid namespace and no cgroup to reach its children");
    }
  }
  if (l.cpu_time_ms != 0) {
    bool accounted = false;
    if (cgroup_) accounted = cgroup_->usage().cpu_usage_ns.has_value();
    // RLIMIT_CPU per process as a backstop (and the only mechanism without
    // accounting); never above the caller's own hard limit.
    uint64_t secs = (l.cpu_time_ms + 999) / 1000;
    uint64_t soft = accounted ? secs + 1 : secs;
    uint64_t hard = soft + 1;
    struct rlimit cur;
    if (getrlimit(RLIMIT_CPU, &cur) == 0 && cur.rlim_max != RLIM_INFINITY) {
      hard = std::min<uint64_t>(hard, cur.rlim_max);
      soft = std::min(soft, hard);
    }
    policy_.rlimits.push_back({RLIMIT_CPU, soft, hard});
    if (accounted) {
      add("cpu-time", SBX_ENFORCED,
          "cgroup CPU accounting checked by the monitor thread (limit " + ms_text(l.cpu_time_ms) +
              " for the whole box, SIGKILL on excess); RLIMIT_CPU " + std::to_string(soft) +
              " s per process as a backstop");
    } else {
      if (strict)
        throw Error(SBX_E_UNSUPPORTED, "cpu-time", 0,
                    "strict: no cgroup CPU accounting for this box, so the CPU-time limit could only be "
                    "enforced per process (RLIMIT_CPU)");
      add("cpu-time", SBX_DEGRADED, "RLIMIT_CPU " + std::to_string(soft) + " s per process",
          "no cgroup CPU accounting: each process has its own budget, so a forking program can use more "
          "in total");
    }
  }
}

void Box::setup_security() {
  const SecuritySpec& sec = cfg_.cfg.security;
  const bool strict = cfg_.cfg.strict;
  const unsigned ns = cfg_.cfg.namespaces;

  // seccomp: compiled here, installed by the program last before execve.
  seccomp::Policy pol;
  if (sec.seccomp_json_path) {
    seccomp::OciContext ctx;
    for (int c : sec.caps) ctx.capabilities.push_back(capability_name(c));
    pol = seccomp::load_oci_profile_file(*sec.seccomp_json_path, ctx);
  } else {
    pol = seccomp::named_profile(sec.seccomp_profile);
  }
  for (const auto& r : sec.seccomp_rules) {
    seccomp::Rule rule;
    rule.syscall = r.syscall;
    rule.action = action_of(r.action);
    rule.errno_value = r.errno_value;
    for (const auto& a : r.args) rule.args.push_back({a.index, op_of(a.op), a.value, a.value2});
    seccomp::add_rule(pol, std::move(rule));
  }
  if (pol.install) {
    const bool named = !sec.seccomp_json_path && sec.seccomp_rules.empty();
    seccomp_default_ = named && sec.seccomp_profile == "default";
    seccomp::Program prog = compile_seccomp(pol, named);
    seccomp_insns_ = std::move(prog.insns);
    seccomp_kills_ = prog.kill_means_violation;
    std::string detail;
    if (!prog.skipped.empty()) {
      detail = "skipped unknown system calls:";
      for (auto& n : prog.skipped) detail += " " + n;
    }
    for (auto& n : pol.notes) detail += (detail.empty() ? "" : "; ") + n;
    add("seccomp", SBX_ENFORCED, seccomp::describe(pol), detail);
    policy_.seccomp = &seccomp_insns_;
  } else {
    add("seccomp", SBX_OFF, "none", "turned off by the configuration");
  }

  // Landlock: rules from the box's mounts (the targets do not depend on the
  // identity; the plan built here only serves to list them).
  if (!sec.landlock) {
    add("landlock", SBX_OFF, "none", "turned off by the configuration");
  } else if ((ns & SBX_NS_MOUNT) == 0) {
    if (strict)
      throw Error(SBX_E_UNSUPPORTED, "landlock", 0,
                  "strict: Landlock rules are derived from the box's mounts, which need the mount namespace");
    add("landlock", SBX_DEGRADED, "none",
        "the rules are derived from the box's mounts: needs the mount namespace");
  } else {
    MountPlanInput in{&cfg_, 1000, 1000, (ns & SBX_NS_PID) != 0, (ns & SBX_NS_NET) != 0};
    MountPlan mp = build_mount_plan(in);
    landlock_ = landlock::prepare(
        landlock::request_from_mounts(mp, (ns & SBX_NS_NET) != 0 && !sec.landlock_allow_tcp));
    std::string notes;
    for (auto& n : landlock_.notes) notes += (notes.empty() ? "" : "; ") + n;
    if (!landlock_.active()) {
      if (strict)
        throw Error(SBX_E_UNSUPPORTED, "landlock", 0,
                    "strict: Landlock is not available on this kernel" + (notes.empty() ? "" : ": " + notes));
      add("landlock", SBX_DEGRADED, "none",
          notes.empty() ? "Landlock is not available on this kernel" : notes);
    } else {
      if (!notes.empty() && strict)
        throw Error(SBX_E_UNSUPPORTED, "landlock", 0,
                    "strict: Landlock is only partly available on this kernel: " + notes);
      add("landlock", notes.empty() ? SBX_ENFORCED : SBX_DEGRADED, landlock_.describe(), notes);
      policy_.landlock_fd = landlock_.ruleset.get();
      policy_.landlock_rules = &landlock_.rules;
      policy_.landlock_flags = landlock_.restrict_flags;
    }
  }

  // Capabilities.
  uint64_t keep = 0;
  std::string kept;
  for (int c : sec.caps) {
    keep |= 1ull << c;
    kept += (kept.empty() ? "" : ", ") + capability_name(c);
  }
  policy_.keep_caps = keep;
  add("capabilities", SBX_ENFORCED,
      keep == 0
          ? "all dropped from every set (bounding, permitted, effective, inheritable, ambient); securebits "
            "locked"
          : "kept (permitted, effective, inheritable, ambient, bounding): " + kept +
                "; every other capability dropped; securebits locked");
  add("no_new_privs", SBX_ENFORCED, "PR_SET_NO_NEW_PRIVS before execve");
}

std::string Box::report_json() const {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& r : report_) {
    const char* st = r.state == SBX_ENFORCED ? "enforced" : r.state == SBX_DEGRADED ? "degraded" : "off";
    arr.push_back({{"name", r.name}, {"state", st}, {"mechanism", r.mechanism}, {"detail", r.detail}});
  }
  return arr.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::shared_ptr<Process> Box::spawn(const ProcSpec& spec) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    // A started box takes any number of processes (core/box/started.cpp).
    if (!started_) {
      if (spawning_ || state_ != SBX_BOX_CONFIGURED)
        throw Error(SBX_E_STATE, "state", 0,
                    std::string("cannot spawn: the box is ") +
                        sbx_box_state_name(spawning_ ? SBX_BOX_RUNNING : state_) +
                        " (a box that was not started runs one process; see sbx_box_start)");
      spawning_ = true;
    }
  }
  if (started_) return spawn_supervised(spec);
  try {
    const BoxLimits& l = cfg_.cfg.limits;
    ProcessLimits pl;
    pl.timeout_ms = l.timeout_ms;
    if (spec.timeout_ms != 0 && (pl.timeout_ms == 0 || spec.timeout_ms < pl.timeout_ms))
      pl.timeout_ms = spec.timeout_ms;
    pl.kill_grace_ms = l.kill_grace_ms;
    pl.cpu_time_ms = l.cpu_time_ms;
    pl.cpus = l.cpus;
    pl.seccomp_kills = seccomp_kills_;
    pl.cgroup = cgroup_;
    ProcessIo io;
    for (int i = 0; i < 3; ++i) io.capture[i] = spec.captures(i);
    io.on_output = spec.on_output;
    io.on_exit = spec.on_exit;
    io.output_limit = spec.output_limit;
    io.output_limit_kill = spec.output_limit_kill;
    auto p = std::make_shared<Process>(launch_process(cfg_, spec, policy_), std::move(pl), std::move(io));
    p->arm_limits();
    p->start_io();
    std::lock_guard<std::mutex> lk(mu_);
    proc_ = p;
    state_ = SBX_BOX_RUNNING;
    spawning_ = false;
    return p;
  } catch (const Error& e) {
    std::lock_guard<std::mutex> lk(mu_);
    spawning_ = false;
    // A bad argument leaves the box as it was; a failed setup marks it.
    if (e.code() != SBX_E_INVALID) state_ = SBX_BOX_FAILED;
    throw;
  } catch (...) {
    std::lock_guard<std::mutex> lk(mu_);
    spawning_ = false;
    throw;
  }
}

std::shared_ptr<Process> Box::process() {
  std::lock_guard<std::mutex> lk(mu_);
  return proc_;
}

int Box::kill(int sig) {
  if (started_) {
    if (sig < 0 || sig > SIGRTMAX)
      throw_invalid("signal", std::to_string(sig) + " is not a valid signal number");
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (state_ != SBX_BOX_RUNNING && state_ != SBX_BOX_PAUSED && state_ != SBX_BOX_STOPPING)
        throw Error(SBX_E_STATE, "state", 0,
                    std::string("the box is ") + sbx_box_state_name(state_) + ": nothing to signal");
    }
    if (sig == 0) return SBX_OK;
    try {
      signal(-1, sig);  // every process in the box (the supervisor stays)
    } catch (const Error& e) {
      if (e.code() != SBX_E_PROCESS) throw;  // ESRCH: nothing runs in it right now
    }
    return SBX_OK;
  }
  auto p = process();
  if (!p) {
    if (sig < 0 || sig > SIGRTMAX)
      throw_invalid("signal", std::to_string(sig) + " is not a valid signal number");
    throw Error(SBX_E_STATE, "state", 0, "the box has no running process");
  }
  int r = p->kill(sig);
  if (r == SBX_E_STATE) throw Error(SBX_E_STATE, "state", ESRCH, "the box's process has ended");
  return r;
}

void Box::pause() {
  std::unique_lock<std::mutex> lk(mu_);
  if (started_) {
    if (state_ != SBX_BOX_RUNNING)
      throw Error(SBX_E_STATE, "state", 0,
                  std::string("cannot pause: the box is ") + sbx_box_state_name(state_) + " (not running)");
    if (cgroup_ && cgroup_->can_freeze()) {
      cgroup_->freeze();  // the supervisor too: requests wait until resume
      frozen_ = true;
    } else {
      lk.unlock();
      kill_via_supervisor(-1, SIGSTOP);
      lk.lock();
    }
    state_ = SBX_BOX_PAUSED;
    return;
  }
  if (state_ != SBX_BOX_RUNNING || !proc_)
    throw Error(SBX_E_STATE, "state", 0,
                std::string("cannot pause: the box is ") + sbx_box_state_name(state_) + " (not running)");
  auto p = proc_;
  lk.unlock();
  if (p->poll_ended() || !p->set_paused(true)) {
    lk.lock();
    state_ = SBX_BOX_STOPPED;
    throw Error(SBX_E_STATE, "state", 0, "cannot pause: the box's process has ended");
  }
  lk.lock();
  state_ = SBX_BOX_PAUSED;
}

void Box::resume() {
  std::unique_lock<std::mutex> lk(mu_);
  if (started_) {
    if (state_ != SBX_BOX_PAUSED)
      throw Error(SBX_E_STATE, "state", 0,
                  std::string("cannot resume: the box is ") + sbx_box_state_name(state_) + " (not paused)");
    if (frozen_) {
      cgroup_->thaw();
      frozen_ = false;
    } else {
      lk.unlock();
      kill_via_supervisor(-1, SIGCONT);
      lk.lock();
    }
    if (state_ == SBX_BOX_PAUSED) state_ = SBX_BOX_RUNNING;
    return;
  }
  if (state_ != SBX_BOX_PAUSED || !proc_)
    throw Error(SBX_E_STATE, "state", 0,
                std::string("cannot resume: the box is ") + sbx_box_state_name(state_) + " (not paused)");
  auto p = proc_;
  lk.unlock();
  p->set_paused(false);
  lk.lock();
  if (state_ == SBX_BOX_PAUSED) state_ = SBX_BOX_RUNNING;
}

int Box::wait(int timeout_ms, ExitRecord* out) {
  if (started_) {
    std::shared_ptr<Process> init;
    {
      std::lock_guard<std::mutex> lk(mu_);
      init = init_;
    }
    // The supervisor's end: the box has stopped.
    int r = init->wait(timeout_ms, out);
    if (r == SBX_OK) {
      std::lock_guard<std::mutex> lk(mu_);
      if (state_ != SBX_BOX_STOPPING) state_ = SBX_BOX_STOPPED;
    }
    return r;
  }
  auto p = process();
  if (!p) throw Error(SBX_E_STATE, "state", 0, "the box has no process to wait for");
  int r = p->wait(timeout_ms, out);
  if (r == SBX_OK) {
    std::lock_guard<std::mutex> lk(mu_);
    state_ = SBX_BOX_STOPPED;
  }
  return r;
}

void Box::interrupt() {
  auto p = process();
  if (p) p->interrupt();
  std::shared_ptr<Process> init;
  {
    std::lock_guard<std::mutex> lk(mu_);
    init = init_;
  }
  if (init) init->interrupt();
  std::lock_guard<std::mutex> lk(table_mu_);
  ++table_interrupt_gen_;
  table_cv_.notify_all();
}

sbx_box_state Box::state() {
  if (started_) {
    std::lock_guard<std::mutex> lk(mu_);
    return state_;
  }
  auto p = process();
  if (p && p->poll_ended()) {
    std::lock_guard<std::mutex> lk(mu_);
    state_ = SBX_BOX_STOPPED;
  }
  std::lock_guard<std::mutex> lk(mu_);
  return state_;
}

}  // namespace sbx
