// Resource limits and the result record in real boxes: cgroup limits
// (memory, pids, CPU bandwidth), time limits, rlimits, usage, the
// enforcement report, and cgroup cleanup. As root this machine enforces
// through its v1 controllers; rootless it has no delegated cgroup, so the
// tests check that the report says so (and that time limits and rlimits,
// which need no cgroup, still act).
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "box_helper.hpp"

using namespace sbx_it;

namespace {

struct ReportRow {
  std::string name;
  int state = 0;
  std::string mechanism, detail;
};

std::vector<ReportRow> report_of(sbx_box* box) {
  std::vector<ReportRow> rows;
  size_t n = 0;
  if (sbx_box_report_count(box, &n) != SBX_OK) return rows;
  for (size_t i = 0; i < n; ++i) {
    const char *name, *mech, *detail;
    int state;
    if (sbx_box_report_entry(box, i, &name, &state, &mech, &detail, nullptr) == SBX_OK)
      rows.push_back({name, state, mech, detail});
  }
  return rows;
}

const ReportRow* find_row(const std::vector<ReportRow>& rows, const std::string& name) {
  for (auto& r : rows)
    if (r.name == name) return &r;
  return nullptr;
}

// Creates a box from OPTS and returns its report (the box is freed).
std::vector<ReportRow> report_for(const BoxOptions& opts, ErrorInfo* einfo = nullptr) {
  std::string failed;
  ErrorInfo e;
  auto cfg = make_config(opts, &e, &failed);
  if (!cfg) {
    if (einfo) *einfo = e;
    return {};
  }
  sbx_box* box = nullptr;
  sbx_error* err = nullptr;
  int rc = sbx_box_create(&box, cfg.get(), &err);
  if (rc != SBX_OK) {
    if (einfo) *einfo = take_error(rc, &err);
    return {};
  }
  auto rows = report_of(box);
  sbx_box_free(box);
  return rows;
}

// True when this run can enforce cgroup limits (root on this machine).
bool cgroups_enforced() {
  BoxOptions o;
  o.configure = [](sbx_config* c, sbx_error** e) { return sbx_config_set_memory_limit(c, 64 << 20, e); };
  auto rows = report_for(o);
  auto* r = find_row(rows, "memory.max");
  return r != nullptr && r->state == SBX_ENFORCED;
}

// Every cgroup directory sbx made for boxes of this test process.
std::vector<std::string> my_cgroup_dirs() {
  std::vector<std::string> found;
  const std::string prefix = "sbx-" + std::to_string(getpid()) + "-";
  for (const auto& ctrl : list_dir("/sys/fs/cgroup")) {
    for (const std::string& base : {"/sys/fs/cgroup/" + ctrl + "/sbx", "/sys/fs/cgroup/" + ctrl}) {
      for (const auto& d : list_dir(base))
        if (d.rfind(prefix, 0) == 0) found.push_back(base + "/" + d);
    }
  }
  return found;
}

// Host processes whose command line contains MARKER.
int count_marked(const std::string& marker) {
  int n = 0;
  for (const auto& d : list_dir("/proc")) {
    if (d.find_first_not_of("0123456789") != std::string::npos) continue;
    // read_file: a process may vanish while it is read (ESRCH).
    std::string cmd = read_file("/proc/" + d + "/cmdline");
    if (cmd.find(marker) != std::string::npos && cmd.rfind("<cannot open", 0) != 0) ++n;
  }
  return n;
}

std::string unique_marker(const char* what) {
  return std::string("sbx-mark-") + what + "-" + std::to_string(getpid()) + "-" + std::to_string(rand());
}

}  // namespace

TEST(Limits, DefaultBoxReportsSecurityLayers) {
  auto rows = report_for({});
  ASSERT_FALSE(rows.empty());
  for (const char* name : {"seccomp", "landlock", "capabilities", "no_new_privs"}) {
    auto* r = find_row(rows, name);
    ASSERT_NE(r, nullptr) << name;
    EXPECT_EQ(r->state, SBX_ENFORCED) << name << ": " << r->mechanism << " / " << r->detail;
  }
  char* json = nullptr;
  sbx_box* box = nullptr;
  auto cfg = make_config({}, nullptr, nullptr);
  ASSERT_EQ(sbx_box_create(&box, cfg.get(), nullptr), SBX_OK);
  ASSERT_EQ(sbx_box_report_json(box, &json, nullptr), SBX_OK);
  std::string j = json;
  sbx_free(json);
  sbx_box_free(box);
  EXPECT_NE(j.find("\"name\":\"seccomp\""), std::string::npos) << j;
  EXPECT_EQ(sbx_box_report_entry(nullptr, 0, nullptr, nullptr, nullptr, nullptr, nullptr), SBX_E_INVALID);
}

TEST(Limits, MemoryHogIsOomKilledAndReported) {
  BoxOptions o;
  o.configure = [](sbx_config* c, sbx_error** e) { return sbx_config_set_memory_limit(c, 64 << 20, e); };
  if (!cgroups_enforced()) {
    auto rows = report_for(o);
    auto* r = find_row(rows, "memory.max");
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->state, SBX_DEGRADED);
    EXPECT_FALSE(r->detail.empty()) << "a degraded limit must say why";
    GTEST_SKIP() << "no cgroup for this user here: degraded report checked (" << r->detail << ")";
  }
  // Touch 256 MiB page by page: far beyond the limit.
  auto r = run_box(o, {"/usr/bin/python3", "-c", "b = bytearray(256 << 20)\nprint('survived')"});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.exit.kind, SBX_EXIT_SIGNALED) << r.describe();
  EXPECT_EQ(r.exit.signal, SIGKILL);
  EXPECT_EQ(r.exit.reason, SBX_REASON_MEMORY) << sbx_exit_reason_name(r.exit.reason);
  EXPECT_TRUE(r.exit.limits_hit & SBX_HIT_MEMORY);
  EXPECT_EQ(r.out.find("survived"), std::string::npos);
  ASSERT_TRUE(r.exit.usage_valid & SBX_USAGE_MEMORY);
  EXPECT_LE(r.exit.memory_peak_bytes, (64u << 20) + (4u << 20));
  EXPECT_GE(r.exit.memory_peak_bytes, 16u << 20);
}

TEST(Limits, ForkBombStopsAtPidsLimit) {
  // A number, so that it can be a second (added) argument of sleep: it marks
  // the sleepers' command lines without making them fail.
  const std::string marker = "0.000" + std::to_string(getpid()) + std::to_string(rand() % 100000);
  BoxOptions o;
  o.configure = [](sbx_config* c, sbx_error** e) {
    int rc = sbx_config_set_pids_limit(c, 24, e);
    return rc != SBX_OK ? rc : sbx_config_set_timeout(c, 20000, e);
  };
  if (!cgroups_enforced()) {
    auto rows = report_for(o);
    auto* r = find_row(rows, "pids.max");
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->state, SBX_DEGRADED);
    GTEST_SKIP() << "no cgroup for this user here: degraded report checked";
  }
  // 200 sleepers that stay; forks beyond the limit fail (EAGAIN) and the
  // shell gives up.
  auto r = sh(
      "i=0; while [ $i -lt 200 ]; do sleep 30 " + marker + " 2>/dev/null & i=$((i+1)); done; echo started $i",
      {}, o);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_TRUE(r.exit.limits_hit & SBX_HIT_PIDS) << r.describe();
  EXPECT_EQ(r.out.find("started 200"), std::string::npos) << "all 200 forks succeeded: " << r.describe();
  EXPECT_NE(r.exit.reason, SBX_REASON_TIMEOUT) << "the bomb was stopped by pids.max, not by the timeout";
  if (r.exit.usage_valid & SBX_USAGE_PIDS) {
    EXPECT_LE(r.exit.pids_peak, 24u);
  }
  // The box is gone: nothing of it remains, and the host can still fork.
  EXPECT_EQ(count_marked(marker), 0);
  pid_t pid;
  const char* argv[] = {"/bin/true", nullptr};
  ASSERT_EQ(posix_spawn(&pid, "/bin/true", nullptr, nullptr, const_cast<char**>(argv), environ), 0);
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

TEST(Limits, CpuBandwidthLimitsTheShare) {
  BoxOptions o;
  o.configure = [](sbx_config* c, sbx_error** e) { return sbx_config_set_cpus(c, 0.2, e); };
  if (!cgroups_enforced()) GTEST_SKIP() << "no cgroup for this user here";
  // Spin for 2 s of wall time; with 0.2 CPUs it may use about 0.4 s.
  auto r = sh("end=$(( $(date +%s) + 3 )); while [ $(date +%s) -lt $end ]; do :; done", {}, o);
  ASSERT_TRUE(r.exited(0)) << r.describe();
  ASSERT_TRUE(r.exit.usage_valid & SBX_USAGE_CPU);
  const double cpu = static_cast<double>(r.exit.cpu_user_ns + r.exit.cpu_system_ns);
  const double wall = static_cast<double>(r.exit.wall_ns);
  EXPECT_LT(cpu, 0.45 * wall) << "cpu " << cpu / 1e6 << " ms over " << wall / 1e6 << " ms wall";
  EXPECT_GT(cpu, 0.05 * wall) << "the spinner should still get its share";
}

TEST(Limits, TimeoutKillsTermIgnoringForkingTree) {
  const std::string marker = unique_marker("timeout");
  BoxOptions o;
  o.configure = [](sbx_config* c, sbx_error** e) {
    int rc = sbx_config_set_timeout(c, 1000, e);
    return rc != SBX_OK ? rc : sbx_config_set_kill_grace(c, 300, e);
  };
  // Children that ignore SIGTERM and carry the marker in their command line.
  const std::string child = "sh -c 'trap \"\" TERM; sleep 100; :' " + marker;
  auto r = sh("trap '' TERM; " + child + " & " + child + " & " + child, {}, o);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.exit.reason, SBX_REASON_TIMEOUT) << r.describe();
  EXPECT_EQ(r.exit.kind, SBX_EXIT_SIGNALED);
  EXPECT_EQ(r.exit.signal, SIGKILL);
  EXPECT_TRUE(r.exit.limits_hit & SBX_HIT_TIMEOUT);
  EXPECT_FALSE(r.timed_out) << "the helper's safety net had to act";
  EXPECT_EQ(count_marked(marker), 0) << "processes of the box survived its timeout";
}

TEST(Limits, TimeoutSendsTermFirst) {
  BoxOptions o;
  o.configure = [](sbx_config* c, sbx_error** e) { return sbx_config_set_timeout(c, 500, e); };
  auto r = run_box(o, {"/bin/sleep", "100"});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.exit.reason, SBX_REASON_TIMEOUT);
  EXPECT_EQ(r.exit.signal, SIGTERM) << r.describe();
}

TEST(Limits, SpecTimeoutApplies) {
  ProcOptions p;
  p.configure = [](sbx_spec* s, sbx_error** e) { return sbx_spec_set_timeout(s, 400, e); };
  auto r = run({"/bin/sleep", "100"}, p);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.exit.reason, SBX_REASON_TIMEOUT);
  EXPECT_EQ(r.exit.signal, SIGTERM);
}

TEST(Limits, TimeoutWithoutPidNamespaceUsesTheCgroup) {
  const std::string marker = unique_marker("nopidns");
  BoxOptions o;
  o.namespaces = SBX_NS_ALL & ~static_cast<unsigned>(SBX_NS_PID);
  o.configure = [](sbx_config* c, sbx_error** e) {
    int rc = sbx_config_set_timeout(c, 800, e);
    return rc != SBX_OK ? rc : sbx_config_set_kill_grace(c, 200, e);
  };
  auto rows = report_for(o);
  auto* row = find_row(rows, "timeout");
  ASSERT_NE(row, nullptr);
  if (row->state != SBX_ENFORCED) {
    EXPECT_NE(row->detail.find("only the program"), std::string::npos) << row->detail;
    GTEST_SKIP() << "no cgroup to reach the tree without a pid namespace: degraded report checked";
  }
  const std::string child = "sh -c 'trap \"\" TERM; sleep 100; :' " + marker;
  auto r = sh("trap '' TERM; " + child + " & " + child, {}, o);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.exit.reason, SBX_REASON_TIMEOUT) << r.describe();
  EXPECT_EQ(count_marked(marker), 0) << "the cgroup kill missed a process";
}

TEST(Limits, CpuTimeLimitEndsTheBox) {
  BoxOptions o;
  o.configure = [](sbx_config* c, sbx_error** e) {
    int rc = sbx_config_set_cpu_time_limit(c, 500, e);
    return rc != SBX_OK ? rc : sbx_config_set_timeout(c, 15000, e);
  };
  auto r = sh("while :; do :; done", {}, o);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.exit.reason, SBX_REASON_CPU_TIME) << r.describe();
  EXPECT_TRUE(r.exit.limits_hit & SBX_HIT_CPU_TIME);
  ASSERT_TRUE(r.exit.usage_valid & SBX_USAGE_CPU);
  EXPECT_GE(r.exit.cpu_user_ns + r.exit.cpu_system_ns, 400000000u);
}

TEST(Limits, FileSizeLimitRaisesSigxfsz) {
  BoxOptions o;
  o.mounts.push_back(tmpfs("/scratch", 64 << 20));
  ProcOptions p;
  p.configure = [](sbx_spec* s, sbx_error** e) {
    return sbx_spec_set_rlimit(s, SBX_RLIMIT_FSIZE, 1 << 20, 1 << 20, e);
  };
  auto r = sh("exec dd if=/dev/zero of=/scratch/big bs=65536 count=64 2>/dev/null", p, o);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.exit.kind, SBX_EXIT_SIGNALED) << r.describe();
  EXPECT_EQ(r.exit.signal, SIGXFSZ);
  EXPECT_EQ(r.exit.reason, SBX_REASON_FILE_SIZE);
  EXPECT_TRUE(r.exit.limits_hit & SBX_HIT_FILE_SIZE);
}

TEST(Limits, NofileLimitActs) {
  ProcOptions p;
  p.configure = [](sbx_spec* s, sbx_error** e) {
    return sbx_spec_set_rlimit(s, SBX_RLIMIT_NOFILE, 16, 16, e);
  };
  auto r = sh("ulimit -n; exec 3</dev/null 4</dev/null 5</dev/null; echo opened", p);
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_EQ(r.out, "16\nopened\n");
  // Beyond the limit: python cannot open 40 files.
  auto r2 = run({"/usr/bin/python3", "-c",
                 "import sys\nfs=[]\ntry:\n  [fs.append(open('/dev/null')) for _ in range(40)]\nexcept "
                 "OSError as e:\n  "
                 "print(e.errno); sys.exit(3)"},
                p);
  ASSERT_TRUE(r2.ok()) << r2.describe();
  EXPECT_TRUE(r2.exited(3)) << r2.describe();
  EXPECT_EQ(r2.out, "24\n");  // EMFILE
}

TEST(Limits, CoreLimitDefaultsToZero) {
  auto r = sh("ulimit -c");
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_EQ(r.out, "0\n");
}

TEST(Limits, RlimitValidation) {
  sbx_spec* spec = nullptr;
  ASSERT_EQ(sbx_spec_new(&spec, nullptr), SBX_OK);
  sbx_error* err = nullptr;
  EXPECT_EQ(sbx_spec_set_rlimit(spec, SBX_RLIMIT_NPROC, 10, 10, &err), SBX_E_INVALID);
  ASSERT_NE(err, nullptr);
  EXPECT_NE(std::string(sbx_error_message(err)).find("pids"), std::string::npos) << sbx_error_message(err);
  sbx_error_free(err);
  EXPECT_EQ(sbx_spec_set_rlimit(spec, SBX_RLIMIT_NOFILE, 20, 10, &err), SBX_E_INVALID);
  EXPECT_NE(std::string(sbx_error_message(err)).find("above the hard"), std::string::npos);
  sbx_error_free(err);
  EXPECT_EQ(sbx_spec_set_rlimit(spec, static_cast<sbx_rlimit_resource>(99), 1, 1, &err), SBX_E_INVALID);
  sbx_error_free(err);
  struct rlimit cur;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &cur), 0);
  if (cur.rlim_max != RLIM_INFINITY) {
    EXPECT_EQ(sbx_spec_set_rlimit(spec, SBX_RLIMIT_NOFILE, 64, cur.rlim_max + 1, &err), SBX_E_INVALID);
    EXPECT_NE(std::string(sbx_error_message(err)).find("CAP_SYS_RESOURCE"), std::string::npos)
        << sbx_error_message(err);
    sbx_error_free(err);
  }
  EXPECT_EQ(sbx_spec_set_rlimit(spec, SBX_RLIMIT_NOFILE, 64, 64, nullptr), SBX_OK);
  sbx_spec_free(spec);
}

TEST(Limits, ConfigValidation) {
  sbx_config* cfg = nullptr;
  ASSERT_EQ(sbx_config_new(&cfg, nullptr), SBX_OK);
  EXPECT_EQ(sbx_config_set_memory_limit(cfg, 1000, nullptr), SBX_E_INVALID);
  EXPECT_EQ(sbx_config_set_cpus(cfg, -1, nullptr), SBX_E_INVALID);
  EXPECT_EQ(sbx_config_set_cpus(cfg, 0.001, nullptr), SBX_E_INVALID);
  EXPECT_EQ(sbx_config_set_cpus(cfg, 1e9, nullptr), SBX_E_INVALID);
  EXPECT_EQ(sbx_config_set_cpu_weight(cfg, 10001, nullptr), SBX_E_INVALID);
  EXPECT_EQ(sbx_config_set_cgroup_parent(cfg, "../escape", nullptr), SBX_E_INVALID);
  EXPECT_EQ(sbx_config_set_cgroup_parent(cfg, "", nullptr), SBX_E_INVALID);
  EXPECT_EQ(sbx_config_set_memory_limit(cfg, 64 << 20, nullptr), SBX_OK);
  EXPECT_EQ(sbx_config_set_memory_high(cfg, 128 << 20, nullptr), SBX_OK);
  sbx_box* box = nullptr;
  sbx_error* err = nullptr;
  EXPECT_EQ(sbx_box_create(&box, cfg, &err), SBX_E_INVALID) << "memory.high above memory.max";
  sbx_error_free(err);
  sbx_config_free(cfg);
}

TEST(Limits, StrictFailsWhenALimitCannotBeEnforced) {
  BoxOptions o;
  o.configure = [](sbx_config* c, sbx_error** e) {
    int rc = sbx_config_set_memory_limit(c, 64 << 20, e);
    return rc != SBX_OK ? rc : sbx_config_set_strict(c, 1, e);
  };
  ErrorInfo einfo;
  auto rows = report_for(o, &einfo);
  if (cgroups_enforced()) {
    EXPECT_FALSE(rows.empty()) << einfo.describe();
  } else {
    EXPECT_TRUE(rows.empty());
    EXPECT_EQ(einfo.code, SBX_E_UNSUPPORTED) << einfo.describe();
    EXPECT_FALSE(einfo.message.empty());
  }
  EXPECT_TRUE(my_cgroup_dirs().empty());
}

TEST(Limits, UsageOfANormalRun) {
  auto r = sh("i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo $i");
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_EQ(r.exit.reason, SBX_REASON_NORMAL);
  EXPECT_EQ(r.exit.limits_hit, 0u);
  EXPECT_GT(r.exit.wall_ns, 0u);
  ASSERT_TRUE(r.exit.usage_valid & SBX_USAGE_CPU);
  EXPECT_GT(r.exit.cpu_user_ns + r.exit.cpu_system_ns, 0u);
  ASSERT_TRUE(r.exit.usage_valid & SBX_USAGE_MEMORY);
  EXPECT_GT(r.exit.memory_peak_bytes, 100u * 1024);
  EXPECT_LT(r.exit.memory_peak_bytes, 1ull << 30);
}

TEST(Limits, NoCgroupRemainsAfterDestroyOrFailure) {
  BoxOptions o;
  o.configure = [](sbx_config* c, sbx_error** e) {
    int rc = sbx_config_set_memory_limit(c, 64 << 20, e);
    if (rc == SBX_OK) rc = sbx_config_set_pids_limit(c, 64, e);
    return rc != SBX_OK ? rc : sbx_config_set_cpus(c, 1, e);
  };
  auto r = run_box(o, {"/bin/true"});
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_TRUE(my_cgroup_dirs().empty());
  // A spawn that fails (program not found), and a box never spawned.
  auto r2 = run_box(o, {"/nonexistent/program"});
  EXPECT_EQ(r2.status, SBX_E_NOTFOUND) << r2.describe();
  EXPECT_TRUE(my_cgroup_dirs().empty());
  auto rows = report_for(o);
  EXPECT_FALSE(rows.empty());
  EXPECT_TRUE(my_cgroup_dirs().empty());
  if (cgroups_enforced()) {
    // While a box lives its directories exist (so the check above can fail).
    auto cfg = make_config(o, nullptr, nullptr);
    sbx_box* box = nullptr;
    ASSERT_EQ(sbx_box_create(&box, cfg.get(), nullptr), SBX_OK);
    EXPECT_FALSE(my_cgroup_dirs().empty());
    sbx_box_free(box);
    EXPECT_TRUE(my_cgroup_dirs().empty());
  }
}

TEST(Limits, TimeoutsWorkInAForkedHost) {
  // The parent's monitor thread is busy with a timed box when the host
  // forks; the child has no such thread and must start its own.
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "TSan cannot start threads after a multithreaded fork";
#endif
#if defined(__SANITIZE_ADDRESS__)
  // GCC 12's ASan allocator takes no lock around fork: a child forked while
  // another thread allocates inherits the allocator's lock held (seen here).
  GTEST_SKIP() << "ASan's allocator is not fork-safe in a multithreaded host";
#endif
  BoxOptions slow;
  slow.configure = [](sbx_config* c, sbx_error** e) { return sbx_config_set_timeout(c, 30000, e); };
  RunResult res;
  auto running = start_box(slow, {"/bin/sleep", "100"}, {}, &res);
  ASSERT_TRUE(running) << res.describe();
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    BoxOptions o;
    o.configure = [](sbx_config* c, sbx_error** e) { return sbx_config_set_timeout(c, 300, e); };
    auto r = run_box(o, {"/bin/sleep", "100"});
    _exit(r.ok() && r.exit.reason == SBX_REASON_TIMEOUT && !r.timed_out ? 0 : 1);
  }
  int st = 0;
  ASSERT_EQ(waitpid(child, &st, 0), child);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "the forked host's timeout did not fire";
  sbx_box_kill(running->box.get(), SIGKILL, nullptr);
}
