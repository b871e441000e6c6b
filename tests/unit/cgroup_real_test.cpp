// The cgroup layer against this machine's kernel: real directories, real
// limits, real processes. Needs root (skips otherwise, except the rootless
// checks, which run as the test user `sbxtest` either directly or in a child
// that drops to it). Every directory a test creates is checked to be gone
// afterwards; the shared "sbx" parents stay by design.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <linux/sched.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "core/cgroup/cgroup.hpp"
#include "core/cgroup/parse.hpp"
#include "core/common/error.hpp"

namespace sbx::cgroup {
namespace {

std::string slurp(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trimmed(const std::string& p) {
  std::string s = slurp(p);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

bool exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

std::string unique_name(const char* what) {
  return std::string("ut-") + what + "-" + std::to_string(::getpid());
}

const Enforcement* row(const std::vector<Enforcement>& rep, const std::string& limit) {
  for (const auto& r : rep)
    if (r.limit == limit) return &r;
  return nullptr;
}

std::string dump(const std::vector<Enforcement>& rep) {
  std::string s;
  for (const auto& r : rep)
    s += r.limit + " " + (r.enforced ? "enforced" : "DEGRADED") + " [" + r.mechanism + "] " + r.detail + "\n";
  return s;
}

// Polls COND every 5 ms up to LIMIT; the limit only bounds a hang, no
// result depends on timing.
bool eventually(const std::function<bool()>& cond,
                std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Child side of placement, as the launcher does it: the decimal pid with one
// write() to each fd, nothing that allocates.
void child_attach(const std::vector<int>& fds) {
  char buf[24];
  long pid = ::syscall(SYS_getpid);
  int n = 0;
  char tmp[24];
  do {
    tmp[n++] = static_cast<char>('0' + pid % 10);
    pid /= 10;
  } while (pid > 0);
  for (int i = 0; i < n; ++i) buf[i] = tmp[n - 1 - i];
  for (int fd : fds)
    if (::write(fd, buf, static_cast<size_t>(n)) != n) ::_exit(120);
}

// fork + placement in the child through attach_fds (and the v2 cgroup.procs
// when the box has one, since fork cannot use CLONE_INTO_CGROUP) + exec.
pid_t spawn_attached(BoxCgroup& box, const char* script, int stdin_fd = -1) {
  std::vector<int> fds = box.attach_fds();
  if (box.clone_into_fd() >= 0) fds.push_back(box.v2_procs_fd());
  pid_t pid = ::fork();
  if (pid == 0) {
    child_attach(fds);
    if (stdin_fd >= 0) ::dup2(stdin_fd, 0);
    ::execl("/bin/sh", "sh", "-c", script, static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

// clone3(CLONE_INTO_CGROUP) for v2, attach_fds for v1, then exec.
pid_t spawn_clone_into(BoxCgroup& box, const char* script) {
  struct clone_args args = {};
  args.exit_signal = SIGCHLD;
  if (box.clone_into_fd() >= 0) {
    args.flags = CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(box.clone_into_fd());
  }
  std::vector<int> fds = box.attach_fds();
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid == 0) {
    child_attach(fds);
    ::execl("/bin/sh", "sh", "-c", script, static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return static_cast<pid_t>(pid);
}

int wait_status(pid_t pid) {
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return st;
}

std::vector<pid_t> procs_of(const std::string& dir) {
  return parse_pids(slurp(dir + "/cgroup.procs"));
}

class CgroupReal : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (the rootless checks are CgroupRealRootless*)";
    layout_ = Layout::detect();
    for (Controller c : {Controller::kMemory, Controller::kPids, Controller::kCpu})
      if (layout_.version_of(c) == Version::kNone)
        GTEST_SKIP() << "no " << controller_name(c) << " controller here: " << layout_.describe();
  }

  // The box is gone: every directory removed, the shared parents still there.
  static void expect_removed(const std::vector<std::string>& paths) {
    for (const auto& p : paths) {
      EXPECT_FALSE(exists(p)) << p;
      std::string parent = p.substr(0, p.find_last_of('/'));
      EXPECT_TRUE(exists(parent)) << parent;
    }
  }

  Layout layout_;
};

TEST_F(CgroupReal, LayoutOfThisMachine) {
  std::string d = layout_.describe();
  RecordProperty("layout", d);
  std::cout << "[ layout   ] " << d << "\n";
  for (const auto& [c, v] : layout_.v1) {
    EXPECT_TRUE(exists(v.mount + "/cgroup.procs")) << v.mount;
  }
  if (!layout_.v2_mount.empty()) {
    EXPECT_TRUE(exists(layout_.v2_mount + "/cgroup.controllers"));
  }
}

TEST_F(CgroupReal, LimitsReachTheKernelFiles) {
  Limits l;
  l.memory_max = 64ull << 20;
  l.pids_max = 16;
  l.cpus = 0.5;
  l.cpu_weight = 50;
  std::vector<Enforcement> rep;
  std::vector<std::string> paths;
  {
    auto b = BoxCgroup::create(layout_, unique_name("limits"), l, {}, &rep);
    paths = b->paths();
    ASSERT_FALSE(paths.empty());
    for (const auto& p : paths) EXPECT_TRUE(exists(p + "/cgroup.procs")) << p;
    for (const char* n :
         {"memory.max", "pids.max", "cpu.max", "cpu.weight", "accounting", "kill-tree", "freeze"}) {
      ASSERT_NE(row(rep, n), nullptr) << n << "\n" << dump(rep);
      EXPECT_TRUE(row(rep, n)->enforced) << dump(rep);
    }
    std::cout << dump(rep);

    std::string m = b->path_of(Controller::kMemory), p = b->path_of(Controller::kPids),
                c = b->path_of(Controller::kCpu);
    if (b->version_of(Controller::kMemory) == Version::kV1) {
      EXPECT_EQ(trimmed(m + "/memory.limit_in_bytes"), "67108864");
      if (exists(m + "/memory.memsw.limit_in_bytes")) {
        EXPECT_EQ(trimmed(m + "/memory.memsw.limit_in_bytes"), "67108864");
      }
    } else {
      EXPECT_EQ(trimmed(m + "/memory.max"), "67108864");
    }
    EXPECT_EQ(trimmed(p + "/pids.max"), "16");
    if (b->version_of(Controller::kCpu) == Version::kV1) {
      EXPECT_EQ(trimmed(c + "/cpu.cfs_period_us"), "100000");
      EXPECT_EQ(trimmed(c + "/cpu.cfs_quota_us"), "50000");
      EXPECT_EQ(trimmed(c + "/cpu.shares"), "512");
    } else {
      EXPECT_EQ(trimmed(c + "/cpu.max"), "50000 100000");
      EXPECT_EQ(trimmed(c + "/cpu.weight"), "50");
    }
  }
  expect_removed(paths);
}

TEST_F(CgroupReal, AttachedTreeIsSignalled) {
  auto b = BoxCgroup::create(layout_, unique_name("signal"), {}, {}, nullptr);
  std::vector<std::string> paths = b->paths();
  // The shell waits for a line before it forks, so that the parent-side
  // attach() happens before any child exists.
  int gate[2];
  ASSERT_EQ(::pipe2(gate, O_CLOEXEC), 0);
  pid_t sh = ::fork();
  if (sh == 0) {
    ::dup2(gate[0], 0);
    ::execl("/bin/sh", "sh", "-c", "read x; sleep 30 & sleep 30 & wait", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(gate[0]);
  b->attach(sh);
  ASSERT_EQ(::write(gate[1], "go\n", 3), 3);
  ::close(gate[1]);
  ASSERT_TRUE(eventually([&] { return b->pids().size() == 3; })) << b->pids().size();
  for (const auto& p : paths) {
    std::vector<pid_t> in = procs_of(p);
    EXPECT_EQ(in.size(), 3u) << p;
    EXPECT_NE(std::find(in.begin(), in.end(), sh), in.end()) << p;
  }
  b->signal_all(SIGTERM);
  int st = wait_status(sh);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM) << st;
  EXPECT_TRUE(eventually([&] { return b->empty(); })) << b->pids().size();
  b.reset();
  expect_removed(paths);
}

TEST_F(CgroupReal, KillAllEndsTheTreeCloneInto) {
  std::vector<Enforcement> rep;
  auto b = BoxCgroup::create(layout_, unique_name("kill"), {}, {}, &rep);
  std::vector<std::string> paths = b->paths();
  std::cout << "[ kill     ] " << row(rep, "kill-tree")->mechanism << "\n";
  pid_t sh = spawn_clone_into(*b, "sleep 30 & sleep 30 & wait");
  ASSERT_GT(sh, 0);
  ASSERT_TRUE(eventually([&] { return b->pids().size() == 3; })) << b->pids().size();
  if (b->clone_into_fd() >= 0) {
    std::vector<pid_t> v2 = procs_of(paths[0]);
    EXPECT_EQ(v2.size(), 3u) << "CLONE_INTO_CGROUP placed the tree in " << paths[0];
  }
  EXPECT_TRUE(b->kill_all());
  int st = wait_status(sh);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) << st;
  EXPECT_TRUE(b->empty());
  b.reset();
  expect_removed(paths);
}

TEST_F(CgroupReal, V1FreezerPauseAndKillWithoutV2) {
  Layout l = layout_;
  l.v2_mount.clear();  // as on a v1-only host
  if (l.version_of(Controller::kFreezer) != Version::kV1)
    GTEST_SKIP() << "no v1 freezer: " << layout_.describe();
  std::vector<Enforcement> rep;
  auto b = BoxCgroup::create(l, unique_name("v1kill"), {}, {}, &rep);
  std::vector<std::string> paths = b->paths();
  EXPECT_EQ(b->clone_into_fd(), -1);
  EXPECT_NE(row(rep, "kill-tree")->mechanism.find("cgroup v1 freezer"), std::string::npos) << dump(rep);
  pid_t sh = spawn_attached(*b, "sleep 30 & sleep 30 & wait");
  ASSERT_TRUE(eventually([&] { return b->pids().size() == 3; }));

  b->freeze();
  EXPECT_TRUE(b->frozen());
  EXPECT_EQ(trimmed(b->path_of(Controller::kFreezer) + "/freezer.state"), "FROZEN");
  b->thaw();
  EXPECT_FALSE(b->frozen());

  EXPECT_TRUE(b->kill_all());
  int st = wait_status(sh);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) << st;
  EXPECT_TRUE(b->empty());
  b.reset();
  expect_removed(paths);
}

TEST_F(CgroupReal, FreezeThawWithTheDefaultLayout) {
  auto b = BoxCgroup::create(layout_, unique_name("freeze"), {}, {}, nullptr);
  ASSERT_TRUE(b->can_freeze());
  std::vector<std::string> paths = b->paths();
  // A shell that counts; frozen, its counter file must not move.
  char tmpl[] = "/tmp/sbx-cgroup-freeze-XXXXXX";
  int fd = ::mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::string script = std::string("i=0; while :; do i=$((i+1)); echo $i > ") + tmpl + "; done";
  pid_t sh = spawn_attached(*b, script.c_str());
  ASSERT_TRUE(eventually([&] { return !trimmed(tmpl).empty(); }));
  b->freeze();
  ASSERT_TRUE(b->frozen());
  std::string a = trimmed(tmpl);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(trimmed(tmpl), a) << "a frozen shell made progress";
  b->thaw();
  EXPECT_FALSE(b->frozen());
  EXPECT_TRUE(eventually([&] { return trimmed(tmpl) != a; }));
  EXPECT_TRUE(b->kill_all());
  wait_status(sh);
  ::unlink(tmpl);
  b.reset();
  expect_removed(paths);
}

TEST_F(CgroupReal, UsageIsPlausible) {
  Limits l;
  l.memory_max = 64ull << 20;
  l.pids_max = 16;
  l.cpus = 0.5;
  auto b = BoxCgroup::create(layout_, unique_name("usage"), l, {}, nullptr);
  pid_t sh = spawn_attached(*b, "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; sleep 0 & wait");
  int st = wait_status(sh);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
  Usage u = b->usage();
  ASSERT_TRUE(u.cpu_usage_ns.has_value());
  EXPECT_GT(*u.cpu_usage_ns, 1000000u);  // the loop costs well over 1 ms
  ASSERT_TRUE(u.cpu_user_ns && u.cpu_system_ns);
  EXPECT_GT(*u.cpu_user_ns + *u.cpu_system_ns, 0u);
  ASSERT_TRUE(u.memory_peak.has_value());
  EXPECT_GT(*u.memory_peak, 0u);
  EXPECT_LE(*u.memory_peak, 64ull << 20);
  EXPECT_EQ(u.oom_kills, 0u);
  EXPECT_EQ(u.memory_max_events, 0u);
  ASSERT_TRUE(u.pids_peak.has_value());
  EXPECT_GE(*u.pids_peak, 2u);  // the shell and its sleep
  EXPECT_LE(*u.pids_peak, 16u);
  EXPECT_EQ(u.pids_max_events, 0u);
  EXPECT_TRUE(u.nr_throttled.has_value());
  EXPECT_TRUE(u.throttled_ns.has_value());
  std::cout << "[ usage    ] cpu " << *u.cpu_usage_ns << " ns (user " << *u.cpu_user_ns << ", sys "
            << *u.cpu_system_ns << "), memory peak " << *u.memory_peak << ", pids peak " << *u.pids_peak
            << ", throttled " << u.nr_throttled.value_or(0) << "x " << u.throttled_ns.value_or(0) << " ns\n";
}

TEST_F(CgroupReal, PidsMaxRefusesForks) {
  Limits l;
  l.pids_max = 16;
  auto b = BoxCgroup::create(layout_, unique_name("pids"), l, {}, nullptr);
  std::vector<std::string> paths = b->paths();
  // 40 forks of processes that stay; a C loop rather than a shell, because
  // it tells successes from refusals exactly (fork() fails with EAGAIN once
  // pids.max is reached) where a shell gives up at the first refusal.
  int res[2];
  ASSERT_EQ(::pipe2(res, O_CLOEXEC), 0);
  std::vector<int> fds = b->attach_fds();
  if (b->clone_into_fd() >= 0) fds.push_back(b->v2_procs_fd());
  pid_t forker = ::fork();
  if (forker == 0) {
    child_attach(fds);
    int ok = 0, refused = 0;
    for (int i = 0; i < 40; ++i) {
      pid_t p = ::fork();
      if (p == 0) {
        ::pause();
        ::_exit(0);
      }
      if (p > 0)
        ++ok;
      else if (errno == EAGAIN)
        ++refused;
    }
    int out[2] = {ok, refused};
    ssize_t w = ::write(res[1], out, sizeof out);
    ::_exit(w == sizeof out ? 0 : 1);
  }
  ::close(res[1]);
  int out[2] = {0, 0};
  ASSERT_EQ(::read(res[0], out, sizeof out), static_cast<ssize_t>(sizeof out));
  ::close(res[0]);
  wait_status(forker);
  std::cout << "[ pids     ] " << out[0] << " forks succeeded, " << out[1] << " refused (pids.max 16)\n";
  EXPECT_LT(out[0], 16);
  EXPECT_GT(out[0], 0);
  EXPECT_EQ(out[0] + out[1], 40);
  Usage u = b->usage();
  ASSERT_TRUE(u.pids_max_events.has_value());
  EXPECT_GE(*u.pids_max_events, 1u);
  EXPECT_EQ(u.pids_peak, 16u);
  // The paused children outlived the forker: the cgroup still holds them.
  EXPECT_EQ(b->pids().size(), static_cast<size_t>(out[0]));
  EXPECT_TRUE(b->kill_all());
  b.reset();
  expect_removed(paths);
}

TEST_F(CgroupReal, V2ResourceControllers) {
  if (layout_.v2_mount.empty()) GTEST_SKIP() << "no cgroup2 mount: " << layout_.describe();
  for (const char* c : {"memory", "pids", "cpu"})
    if (std::find(layout_.v2_controllers.begin(), layout_.v2_controllers.end(), c) ==
        layout_.v2_controllers.end())
      GTEST_SKIP() << "the cgroup2 tree at " << layout_.v2_mount << " does not offer '" << c
                   << "' (hybrid host; the v2 limit files are covered by CgroupFakeV2*, the v2 core "
                      "kill/freeze/CLONE_INTO_CGROUP by the other CgroupReal tests): "
                   << layout_.describe();
  Limits l;
  l.memory_max = 64ull << 20;
  l.pids_max = 16;
  l.cpus = 0.5;
  std::vector<Enforcement> rep;
  auto b = BoxCgroup::create(layout_, unique_name("v2"), l, {}, &rep);
  std::string d = b->path_of(Controller::kMemory);
  ASSERT_EQ(b->version_of(Controller::kMemory), Version::kV2) << dump(rep);
  EXPECT_EQ(trimmed(d + "/memory.max"), "67108864");
  uint64_t high = (64ull << 20) * 9 / 10;
  EXPECT_EQ(trimmed(d + "/memory.high"), std::to_string(high / 4096 * 4096));
  EXPECT_EQ(trimmed(d + "/cpu.max"), "50000 100000");
  EXPECT_EQ(trimmed(d + "/pids.max"), "16");
}

// ------------------------------------------------------------------ rootless

constexpr uid_t kTestUid = 999;

// Runs BODY as the test user: directly when already unprivileged, else in a
// forked child that drops to it. BODY returns "" or what went wrong.
std::string as_test_user(const std::function<std::string()>& body) {
  if (::geteuid() != 0) return body();
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return "pipe failed";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[0]);
    std::string r;
    struct passwd* pw = ::getpwuid(kTestUid);
    gid_t gid = pw != nullptr ? pw->pw_gid : kTestUid;
    if (::setgroups(0, nullptr) != 0 || ::setresgid(gid, gid, gid) != 0 ||
        ::setresuid(kTestUid, kTestUid, kTestUid) != 0) {
      r = "cannot drop to uid 999";
    } else {
      try {
        r = body();
      } catch (const std::exception& e) {
        r = std::string("exception: ") + e.what();
      }
    }
    ssize_t w = ::write(p[1], r.data(), r.size());
    ::_exit(w == static_cast<ssize_t>(r.size()) ? 0 : 1);
  }
  ::close(p[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(p[0]);
  int st = wait_status(pid);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) out += " (child status " + std::to_string(st) + ")";
  return out;
}

class CgroupRealRootless : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::getpwuid(kTestUid) == nullptr) GTEST_SKIP() << "no user with uid 999 (sbxtest)";
    if (::geteuid() != 0 && ::geteuid() != kTestUid) GTEST_SKIP() << "runs as root or as uid 999";
    layout_ = Layout::detect();
    if (layout_.version_of(Controller::kMemory) != Version::kV1)
      GTEST_SKIP() << "these checks are for v1 resource controllers: " << layout_.describe();
  }
  Layout layout_;
};

TEST_F(CgroupRealRootless, DefaultParentDegradesWithTheFix) {
  Layout l = layout_;
  std::string r = as_test_user([&]() -> std::string {
    std::string bad;
    Limits lim;
    lim.memory_max = 64ull << 20;
    lim.pids_max = 16;
    lim.cpus = 0.5;
    std::vector<Enforcement> rep;
    auto b = BoxCgroup::create(l, unique_name("rootless"), lim, {}, &rep);
    if (!b->paths().empty()) bad += "created " + b->paths()[0] + "; ";
    for (const char* n : {"memory.max", "pids.max", "cpu.max", "kill-tree", "freeze"}) {
      const Enforcement* e = row(rep, n);
      if (e == nullptr || e->enforced) bad += std::string(n) + " not degraded; ";
    }
    const Enforcement* m = row(rep, "memory.max");
    std::string mem = l.v1.at(Controller::kMemory).mount;
    if (m != nullptr) {
      for (const std::string& want : {mem + "/sbx", std::string("(EACCES)"), "chown 999 " + mem + "/sbx-999",
                                      std::string("pass 'sbx-999' as the cgroup parent")})
        if (m->detail.find(want) == std::string::npos) bad += "memory.max detail lacks '" + want + "'; ";
    }
    if (!l.v2_mount.empty()) {
      const Enforcement* k = row(rep, "kill-tree");
      for (const std::string& want : {std::string("no delegated cgroup v2 subtree for uid 999"),
                                      std::string("owned by uid 0, not 999"), std::string("Delegate=yes")})
        if (k != nullptr && k->detail.find(want) == std::string::npos)
          bad += "kill-tree detail lacks '" + want + "'; ";
    }
    Options so;
    so.strict = true;
    try {
      BoxCgroup::create(l, unique_name("rootless-strict"), lim, so, nullptr);
      bad += "strict accepted; ";
    } catch (const Error& e) {
      if (e.code() != SBX_E_UNSUPPORTED) bad += "strict code " + std::to_string(e.code()) + "; ";
    }
    if (!bad.empty())
      bad += "\n" + dump(rep);
    else
      std::cout << "[ rootless ] uid " << ::geteuid() << ", default parent:\n" << dump(rep);
    return bad;
  });
  EXPECT_EQ(r, "");
}

TEST_F(CgroupRealRootless, AdminPreparedV1ParentIsUsed) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to prepare the parent for uid 999";
  std::string rel = "sbx-ut999-" + std::to_string(::getpid());
  std::vector<std::string> made;
  for (const auto& [c, v] : layout_.v1) {
    std::string d = v.mount + "/" + rel;
    if (std::find(made.begin(), made.end(), d) != made.end()) continue;
    ASSERT_EQ(::mkdir(d.c_str(), 0755), 0) << d;
    made.push_back(d);
    ASSERT_EQ(::chown(d.c_str(), kTestUid, static_cast<gid_t>(-1)), 0) << d;
  }
  Layout l = layout_;
  std::string r = as_test_user([&]() -> std::string {
    std::string bad;
    Limits lim;
    lim.memory_max = 64ull << 20;
    lim.pids_max = 16;
    lim.cpus = 0.5;
    Options o;
    o.parent = rel;
    std::vector<Enforcement> rep;
    auto b = BoxCgroup::create(l, "box", lim, o, &rep);
    for (const char* n : {"memory.max", "pids.max", "cpu.max", "kill-tree", "freeze"})
      if (row(rep, n) == nullptr || !row(rep, n)->enforced) bad += std::string(n) + " not enforced; ";
    if (trimmed(b->path_of(Controller::kMemory) + "/memory.limit_in_bytes") != "67108864")
      bad += "memory file; ";
    if (trimmed(b->path_of(Controller::kPids) + "/pids.max") != "16") bad += "pids file; ";
    pid_t sh = spawn_attached(*b, "sleep 30 & wait");
    if (!eventually([&] { return b->pids().size() == 2; })) bad += "not attached; ";
    if (!b->kill_all()) bad += "kill_all; ";
    int st = wait_status(sh);
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) bad += "status " + std::to_string(st) + "; ";
    std::vector<std::string> paths = b->paths();
    b.reset();
    for (const auto& p : paths)
      if (exists(p)) bad += p + " left behind; ";
    if (!bad.empty()) bad += "\n" + dump(rep);
    return bad;
  });
  EXPECT_EQ(r, "");
  for (const auto& d : made) EXPECT_EQ(::rmdir(d.c_str()), 0) << d << ": " << errno;
}

}  // namespace
}  // namespace sbx::cgroup
