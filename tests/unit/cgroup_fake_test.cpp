// The cgroup layer against a fake tree: plain files in a temporary directory
// and a FakeOps that plays the kernel's part (interface files appear on
// mkdir, writes to cgroup.kill / cgroup.freeze / subtree_control have their
// effects, signals are recorded). Runs without root. The same backend code
// runs against the real kernel in cgroup_real_test.cpp.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/cgroup/cgroup.hpp"
#include "core/cgroup/parse.hpp"
#include "core/common/error.hpp"

namespace sbx::cgroup {
namespace {

namespace fs = std::filesystem;
using Files = std::vector<std::pair<std::string, std::string>>;

std::string slurp(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void put(const std::string& p, const std::string& content) {
  fs::create_directories(fs::path(p).parent_path());
  std::ofstream(p, std::ios::trunc) << content;
}

bool under_path(const std::string& p, const std::string& dir) {
  return p == dir || (p.size() > dir.size() && p.compare(0, dir.size(), dir) == 0 && p[dir.size()] == '/');
}

std::string base_name(const std::string& p) {
  return p.substr(p.find_last_of('/') + 1);
}
std::string dir_name(const std::string& p) {
  return p.substr(0, p.find_last_of('/'));
}

// The kernel's part, played on plain files.
class FakeOps : public Ops {
 public:
  explicit FakeOps(std::string root) : root_(std::move(root)) {}

  // Interface files a mkdir below MOUNT creates (name, initial content).
  std::map<std::string, Files> files_for;
  // Every write in order: (path, data).
  std::vector<std::pair<std::string, std::string>> writes;
  std::vector<std::string> mkdirs, rmdirs;
  std::vector<std::pair<pid_t, int>> signals;
  // Failure injection: a path suffix and the errno; COUNT failures (-1: all).
  struct Fail {
    std::string suffix;
    int err = 0;
    int count = -1;
  };
  Fail fail_write, fail_mkdir;
  // Identity: when set, owners and writability come from the maps below.
  bool fake_ids = false;
  uid_t fake_euid = 0;
  std::map<std::string, uid_t> owners;  // path -> uid; default 0
  bool kill_removes = true;             // SIGKILL / cgroup.kill empty cgroup.procs
  std::set<pid_t> vanish_on_pin;        // pidfd_open of these removes them from every cgroup.procs
  int sleeps = 0;

  int make_dir(const std::string& path, mode_t mode) override {
    if (int e = take(&fail_mkdir, path)) return e;
    int e = Ops::make_dir(path, mode);
    if (e != 0) return e;
    mkdirs.push_back(path);
    std::string best;
    for (const auto& [m, f] : files_for)
      if (under_path(path, m) && m.size() > best.size()) best = m;
    if (!best.empty()) {
      for (const auto& [name, content] : files_for[best]) put(path + "/" + name, content);
      // A v2 child offers what its parent enabled for its children.
      if (fs::exists(dir_name(path) + "/cgroup.subtree_control") && fs::exists(path + "/cgroup.controllers"))
        put(path + "/cgroup.controllers", slurp(dir_name(path) + "/cgroup.subtree_control"));
    }
    return 0;
  }

  int remove_dir(const std::string& path) override {
    rmdirs.push_back(path);
    if (!under_path(path, root_)) return EPERM;  // the fake never leaves its tree
    if (!parse_pids(slurp(path + "/cgroup.procs")).empty()) return EBUSY;
    std::error_code ec;
    for (const auto& ent : fs::directory_iterator(path, ec))
      if (ent.is_regular_file()) fs::remove(ent.path(), ec);
    return Ops::remove_dir(path);
  }

  int write_file(const std::string& path, std::string_view data) override {
    if (int e = take(&fail_write, path)) return e;
    writes.push_back({path, std::string(data)});
    if (!fs::exists(path)) return ENOENT;  // like a kernel file that does not exist
    std::string b = base_name(path), d = dir_name(path);
    if (b == "cgroup.subtree_control") {
      std::vector<std::string> on = split_words(slurp(path));
      for (const auto& w : split_words(data)) {
        std::string n = w.substr(1);
        auto it = std::find(on.begin(), on.end(), n);
        if (w[0] == '+' && it == on.end()) on.push_back(n);
        if (w[0] == '-' && it != on.end()) on.erase(it);
      }
      std::string out;
      for (const auto& n : on) out += (out.empty() ? "" : " ") + n;
      put(path, out + "\n");
      return 0;
    }
    if (b == "cgroup.freeze") {
      put(path, std::string(data) + "\n");
      put(d + "/cgroup.events", std::string("populated 0\nfrozen ") + (data == "1" ? "1" : "0") + "\n");
      return 0;
    }
    if (b == "cgroup.kill" && data == "1" && kill_removes) put(d + "/cgroup.procs", "");
    put(path, std::string(data));
    return 0;
  }

  int open_file(const std::string& path, int flags) override {
    // Appending, so that several attach writes stay readable lines.
    if (base_name(path) == "cgroup.procs" && (flags & O_ACCMODE) == O_WRONLY) flags |= O_APPEND;
    return Ops::open_file(path, flags);
  }

  int owner(const std::string& path, uid_t* uid) override {
    if (!fake_ids) return Ops::owner(path, uid);
    if (!fs::exists(path)) return ENOENT;
    auto it = owners.find(path);
    *uid = it == owners.end() ? 0 : it->second;
    return 0;
  }
  bool writable(const std::string& path) override {
    if (!fake_ids) return Ops::writable(path);
    if (fake_euid == 0) return true;
    auto it = owners.find(path);
    return it != owners.end() && it->second == fake_euid;
  }
  uid_t euid() override { return fake_ids ? fake_euid : Ops::euid(); }

  int pidfd_open(pid_t pid) override {
    if (vanish_on_pin.count(pid)) remove_pid(pid);
    return ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  int send_signal(int, pid_t pid, int sig) override {
    signals.push_back({pid, sig});
    if (sig == SIGKILL && kill_removes) remove_pid(pid);
    return 0;
  }
  void sleep_for(std::chrono::microseconds d) override {
    ++sleeps;
    now_ += d;
  }
  std::chrono::steady_clock::time_point now() override { return now_; }

  // The data of every write to a file named NAME (in order).
  std::vector<std::string> writes_to(const std::string& name) const {
    std::vector<std::string> out;
    for (const auto& [p, d] : writes)
      if (base_name(p) == name) out.push_back(d);
    return out;
  }
  std::string last_write(const std::string& path) const {
    for (auto it = writes.rbegin(); it != writes.rend(); ++it)
      if (it->first == path) return it->second;
    return "<none>";
  }

 private:
  static int take(Fail* f, const std::string& path) {
    if (f->err == 0 || f->count == 0) return 0;
    if (path.size() < f->suffix.size() ||
        path.compare(path.size() - f->suffix.size(), f->suffix.size(), f->suffix))
      return 0;
    if (f->count > 0) --f->count;
    return f->err;
  }
  void remove_pid(pid_t pid) {
    for (const auto& d : mkdirs) {
      std::string p = d + "/cgroup.procs";
      if (!fs::exists(p)) continue;
      std::string out;
      for (pid_t q : parse_pids(slurp(p)))
        if (q != pid) out += std::to_string(q) + "\n";
      put(p, out);
    }
  }

  std::string root_;
  std::chrono::steady_clock::time_point now_{};
};

const Files kV2Files = {{"cgroup.controllers", ""},
                        {"cgroup.subtree_control", ""},
                        {"cgroup.procs", ""},
                        {"cgroup.kill", ""},
                        {"cgroup.freeze", "0\n"},
                        {"cgroup.events", "populated 0\nfrozen 0\n"},
                        {"memory.max", "max\n"},
                        {"memory.high", "max\n"},
                        {"memory.swap.max", "max\n"},
                        {"memory.peak", "0\n"},
                        {"memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"},
                        {"cpu.max", "max 100000\n"},
                        {"cpu.weight", "100\n"},
                        {"cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n"},
                        {"pids.max", "max\n"},
                        {"pids.peak", "0\n"},
                        {"pids.events", "max 0\n"}};

const Files kV1Memory = {{"cgroup.procs", ""},
                         {"memory.limit_in_bytes", "9223372036854771712\n"},
                         {"memory.memsw.limit_in_bytes", "9223372036854771712\n"},
                         {"memory.max_usage_in_bytes", "0\n"},
                         {"memory.failcnt", "0\n"},
                         {"memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"}};
const Files kV1Pids = {
    {"cgroup.procs", ""}, {"pids.max", "max\n"}, {"pids.peak", "0\n"}, {"pids.events", "max 0\n"}};
const Files kV1CpuCpuacct = {{"cgroup.procs", ""},
                             {"cpu.cfs_period_us", "100000\n"},
                             {"cpu.cfs_quota_us", "-1\n"},
                             {"cpu.shares", "1024\n"},
                             {"cpu.stat", "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n"},
                             {"cpuacct.usage", "0\n"},
                             {"cpuacct.usage_user", "0\n"},
                             {"cpuacct.usage_sys", "0\n"},
                             {"cpuacct.stat", "user 0\nsystem 0\n"}};
const Files kV1Freezer = {{"cgroup.procs", ""}, {"freezer.state", "THAWED\n"}};

// A temporary host: mountinfo, /proc/self/cgroup and the hierarchies.
class FakeHost {
 public:
  enum Kind { kV2Only, kV1Only, kHybrid };

  explicit FakeHost(Kind kind) {
    char tmpl[] = "/tmp/sbx-cgroup-fake-XXXXXX";
    char* d = ::mkdtemp(tmpl);
    if (d == nullptr) throw std::runtime_error("mkdtemp");
    root = d;
    hp.mountinfo = root + "/mountinfo";
    hp.proc_self_cgroup = root + "/self_cgroup";
    hp.cgroup_root = root + "/cg";
    ops = std::make_shared<FakeOps>(root);
    // Identity from the fake too, so that the tests behave the same whoever
    // runs them: root unless a test says otherwise.
    ops->fake_ids = true;
    std::string mi =
        "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
        "31 23 0:28 / " +
        root + "/cg rw,relatime - tmpfs tmpfs rw,mode=755\n";
    std::string self;
    if (kind == kV2Only) {
      v2 = root + "/cg";
      mi += "32 31 0:29 / " + v2 +
            " rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
      put(v2 + "/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
      put(v2 + "/cgroup.subtree_control", "\n");
      put(v2 + "/cgroup.procs", "1\n");
      ops->files_for[v2] = kV2Files;
      self = "0::/\n";
    } else {
      memory = root + "/cg/memory";
      pids = root + "/cg/pids";
      cpu = root + "/cg/cpu,cpuacct";
      freezer = root + "/cg/freezer";
      mi +=
          "33 31 0:30 / " + memory + " rw,nosuid,nodev,noexec,relatime shared:5 - cgroup cgroup rw,memory\n";
      mi += "34 31 0:31 / " + pids + " rw,relatime shared:6 - cgroup cgroup rw,pids\n";
      mi += "35 31 0:32 / " + cpu + " rw,relatime shared:7 - cgroup cgroup rw,cpu,cpuacct\n";
      mi += "36 31 0:33 / " + freezer + " rw,relatime - cgroup cgroup rw,freezer\n";
      mi += "37 31 0:34 / " + root + "/cg/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n";
      for (const auto& [m, files] : std::vector<std::pair<std::string, Files>>{
               {memory, kV1Memory}, {pids, kV1Pids}, {cpu, kV1CpuCpuacct}, {freezer, kV1Freezer}}) {
        for (const auto& [n, c] : files) put(m + "/" + n, c);
        ops->files_for[m] = files;
      }
      self = "9:name=systemd:/\n8:pids:/\n6:freezer:/\n4:memory:/agent/x1\n2:cpu,cpuacct:/\n";
      if (kind == kHybrid) {
        v2 = root + "/cg/unified";
        mi += "41 31 0:38 / " + v2 + " rw,relatime - cgroup2 cgroup2 rw\n";
        put(v2 + "/cgroup.controllers", "hugetlb\n");
        put(v2 + "/cgroup.subtree_control", "\n");
        put(v2 + "/cgroup.procs", "1\n");
        ops->files_for[v2] = kV2Files;
        self += "0::/\n";
      }
    }
    put(hp.mountinfo, mi);
    put(hp.proc_self_cgroup, self);
  }
  ~FakeHost() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }

  Layout layout() const { return Layout::detect(hp); }
  Options options() const {
    Options o;
    o.ops = ops;
    return o;
  }

  std::string root, v2, memory, pids, cpu, freezer;
  HostPaths hp;
  std::shared_ptr<FakeOps> ops;
};

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

Limits standard_limits() {
  Limits l;
  l.memory_max = 64ull << 20;
  l.pids_max = 16;
  l.cpus = 0.5;
  l.cpu_weight = 200;
  return l;
}

// ------------------------------------------------------------------ layout

TEST(CgroupFakeLayout, V2Only) {
  FakeHost h(FakeHost::kV2Only);
  put(h.hp.proc_self_cgroup, "0::/user.slice/user-1000.slice/session-2.scope\n");
  Layout l = h.layout();
  EXPECT_EQ(l.v2_mount, h.v2);
  EXPECT_EQ(l.v2_root, "/");
  EXPECT_EQ(l.v2_controllers,
            (std::vector<std::string>{"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"}));
  EXPECT_EQ(l.v2_self, "/user.slice/user-1000.slice/session-2.scope");
  EXPECT_EQ(l.v2_self_dir(), h.v2 + "/user.slice/user-1000.slice/session-2.scope");
  EXPECT_TRUE(l.v1.empty());
  for (Controller c : kAllControllers) EXPECT_EQ(l.version_of(c), Version::kV2) << controller_name(c);
  EXPECT_EQ(l.describe().rfind("v2: memory v2 (" + h.v2 + ")", 0), 0u) << l.describe();
}

TEST(CgroupFakeLayout, V1OnlyWithCoMountedCpuAndNamedHierarchy) {
  FakeHost h(FakeHost::kV1Only);
  Layout l = h.layout();
  EXPECT_EQ(l.v2_mount, "");
  EXPECT_EQ(l.v1.size(), 5u);
  EXPECT_EQ(l.v1.at(Controller::kMemory).mount, h.memory);
  EXPECT_EQ(l.v1.at(Controller::kMemory).self, "/agent/x1");
  EXPECT_EQ(l.v1.at(Controller::kPids).mount, h.pids);
  EXPECT_EQ(l.v1.at(Controller::kCpu).mount, h.cpu);
  EXPECT_EQ(l.v1.at(Controller::kCpuacct).mount, h.cpu);
  EXPECT_EQ(l.v1.at(Controller::kCpu).comounted, (std::vector<std::string>{"cpu", "cpuacct"}));
  EXPECT_EQ(l.v1.at(Controller::kFreezer).mount, h.freezer);
  // name=systemd carries no controller: ignored everywhere.
  for (const auto& [c, v] : l.v1) EXPECT_EQ(v.mount.find("systemd"), std::string::npos);
  for (Controller c : kAllControllers) EXPECT_EQ(l.version_of(c), Version::kV1) << controller_name(c);
  EXPECT_EQ(l.describe().rfind("v1: memory v1 (" + h.memory + ")", 0), 0u) << l.describe();
}

TEST(CgroupFakeLayout, HybridUsesV2CoreForFreezerAndCpuacct) {
  FakeHost h(FakeHost::kHybrid);
  Layout l = h.layout();
  EXPECT_EQ(l.v2_mount, h.v2);
  EXPECT_EQ(l.v2_controllers, std::vector<std::string>{"hugetlb"});
  EXPECT_EQ(l.version_of(Controller::kMemory), Version::kV1);
  EXPECT_EQ(l.version_of(Controller::kPids), Version::kV1);
  EXPECT_EQ(l.version_of(Controller::kCpu), Version::kV1);
  EXPECT_EQ(l.version_of(Controller::kCpuacct), Version::kV2);
  EXPECT_EQ(l.version_of(Controller::kFreezer), Version::kV2);
  std::string d = l.describe();
  EXPECT_EQ(d.rfind("hybrid: memory v1", 0), 0u) << d;
  EXPECT_NE(d.find("freezer v2 core (" + h.v2 + ")"), std::string::npos) << d;
  EXPECT_NE(d.find("offers: hugetlb"), std::string::npos) << d;
  // Without the v2 mount the same host is plain v1.
  l.v2_mount.clear();
  EXPECT_EQ(l.version_of(Controller::kFreezer), Version::kV1);
}

TEST(CgroupFakeLayout, EscapedMountPointsBindMountsAndFallback) {
  FakeHost h(FakeHost::kV1Only);
  put(h.hp.mountinfo,
      "40 31 0:40 /sub /mnt/bind rw - cgroup cgroup rw,memory\n"
      "41 31 0:40 / /sys/fs/my\\040cg rw shared:1 master:2 - cgroup cgroup rw,memory,clone_children\n"
      "42 31 0:41 / /x rw - cgroup cgroup rw,release_agent=/bin/true,pids\n"
      "garbage line\n");
  put(h.hp.proc_self_cgroup, "3:memory:/a/b\n");
  Layout l = h.layout();
  ASSERT_EQ(l.v1.count(Controller::kMemory), 1u);
  // The mount showing the whole hierarchy wins over a bind mount of a sub-tree.
  EXPECT_EQ(l.v1.at(Controller::kMemory).mount, "/sys/fs/my cg");
  EXPECT_EQ(l.v1.at(Controller::kMemory).comounted, std::vector<std::string>{"memory"});
  EXPECT_EQ(l.v1.at(Controller::kMemory).self, "/a/b");
  EXPECT_EQ(l.v1.at(Controller::kPids).mount, "/x");
  EXPECT_EQ(l.v1.count(Controller::kCpu), 0u);
  EXPECT_EQ(l.version_of(Controller::kCpu), Version::kNone);

  // No mountinfo: the usual places below cgroup_root.
  HostPaths hp = h.hp;
  hp.mountinfo = h.root + "/does-not-exist";
  Layout f = Layout::detect(hp);
  EXPECT_EQ(f.v1.at(Controller::kMemory).mount, h.memory);
  EXPECT_EQ(f.v1.at(Controller::kFreezer).mount, h.freezer);
  EXPECT_EQ(f.v2_mount, "");
}

TEST(CgroupFakeLayout, ParseHelpers) {
  EXPECT_EQ(parse_u64(" 42\n"), 42u);
  EXPECT_EQ(parse_u64("max"), std::nullopt);
  EXPECT_EQ(parse_u64("-1"), std::nullopt);
  EXPECT_EQ(parse_u64("18446744073709551616"), std::nullopt);
  EXPECT_EQ(parse_u64("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(keyed_value("low 1\nmax 7\noom_kill 3\n", "max"), 7u);
  EXPECT_EQ(keyed_value("low 1\nmaxx 7\n", "max"), std::nullopt);
  EXPECT_EQ(parse_pids("12\n13\nbad\n0\n"), (std::vector<pid_t>{12, 13}));
  EXPECT_EQ(unescape_mount_field("a\\040b\\011c\\\\"), "a b\tc\\\\");
  EXPECT_EQ(join_path("/a/", "/b"), "/a/b");
  EXPECT_EQ(join_path("/a", ""), "/a");
}

// ------------------------------------------------------------------ names, limits, parents

TEST(CgroupFakeNames, BadNamesAreInvalidAndCreateNothing) {
  FakeHost h(FakeHost::kV1Only);
  Layout l = h.layout();
  for (const std::string& bad :
       {std::string(""), std::string("../x"), std::string("a/b"), std::string("/abs"), std::string(65, 'a'),
        std::string("."), std::string(".."), std::string("x\ny"), std::string("sp ace"),
        std::string("nul\0x", 5)}) {
    try {
      BoxCgroup::create(l, bad, standard_limits(), h.options(), nullptr);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), SBX_E_INVALID) << bad;
      EXPECT_NE(std::string(e.what()).find("cgroup name"), std::string::npos) << e.what();
    }
  }
  EXPECT_TRUE(h.ops->mkdirs.empty());
  auto ok = BoxCgroup::create(l, std::string(64, 'z'), {}, h.options(), nullptr);
  EXPECT_EQ(ok->paths().size(), 4u);
  auto dots = BoxCgroup::create(l, "a.b-c_D9...", {}, h.options(), nullptr);
  EXPECT_EQ(dots->paths().size(), 4u);
}

TEST(CgroupFakeNames, LimitsOutOfRangeAreInvalid) {
  FakeHost h(FakeHost::kV1Only);
  Layout l = h.layout();
  auto expect_invalid = [&](Limits lim, const std::string& word) {
    try {
      BoxCgroup::create(l, "b", lim, h.options(), nullptr);
      ADD_FAILURE() << "accepted " << word;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), SBX_E_INVALID);
      EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << e.what();
    }
  };
  Limits a;
  a.cpus = 0;
  expect_invalid(a, "cpus");
  a.cpus = std::nan("");
  expect_invalid(a, "cpus");
  Limits b;
  b.cpu_weight = 0;
  expect_invalid(b, "cpu_weight");
  b.cpu_weight = 10001;
  expect_invalid(b, "cpu_weight");
  Limits c;
  c.pids_max = 0;
  expect_invalid(c, "pids_max");
  Limits d;
  d.memory_max = 100;
  expect_invalid(d, "memory_max");
  Limits e;
  e.memory_max = 1ull << 40;
  e.memory_swap_max = UINT64_MAX;
  expect_invalid(e, "overflows");
  EXPECT_TRUE(h.ops->mkdirs.empty());
}

TEST(CgroupFakeParent, RelativeAndAbsoluteParents) {
  FakeHost h(FakeHost::kHybrid);
  Layout l = h.layout();
  Options o = h.options();
  o.parent = "sbx/ci";
  {
    auto b = BoxCgroup::create(l, "b1", {}, o, nullptr);
    std::vector<std::string> p = b->paths();
    EXPECT_NE(std::find(p.begin(), p.end(), h.v2 + "/sbx/ci/b1"), p.end());
    EXPECT_NE(std::find(p.begin(), p.end(), h.memory + "/sbx/ci/b1"), p.end());
  }
  // The created parents stay (shared); the box directories are gone.
  EXPECT_TRUE(fs::is_directory(h.memory + "/sbx/ci"));
  EXPECT_FALSE(fs::exists(h.memory + "/sbx/ci/b1"));
  EXPECT_FALSE(fs::exists(h.v2 + "/sbx/ci/b1"));

  // An absolute parent inside one mount means the same relative path in all.
  fs::create_directories(h.v2 + "/sbx-999");
  o.parent = h.v2 + "/sbx-999";
  {
    auto b = BoxCgroup::create(l, "b2", {}, o, nullptr);
    std::vector<std::string> p = b->paths();
    EXPECT_NE(std::find(p.begin(), p.end(), h.v2 + "/sbx-999/b2"), p.end());
    EXPECT_NE(std::find(p.begin(), p.end(), h.pids + "/sbx-999/b2"), p.end());
  }
  for (const std::string& bad :
       {std::string("/etc"), std::string("a/../b"), std::string("./x"), h.v2 + "/../x", std::string("/")}) {
    o.parent = bad;
    try {
      BoxCgroup::create(l, "b3", {}, o, nullptr);
      ADD_FAILURE() << "accepted parent " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), SBX_E_INVALID) << bad;
      EXPECT_NE(std::string(e.what()).find("cgroup parent"), std::string::npos) << e.what();
    }
  }
}

// ------------------------------------------------------------------ v2 backend

TEST(CgroupFakeV2, WritesEveryLimitFile) {
  FakeHost h(FakeHost::kV2Only);
  std::vector<Enforcement> rep;
  auto b = BoxCgroup::create(h.layout(), "box1", standard_limits(), h.options(), &rep);
  std::string dir = h.v2 + "/sbx/box1";
  ASSERT_EQ(b->paths(), std::vector<std::string>{dir});
  auto& o = *h.ops;
  // Enabled in the root (offered, not yet on) and in sbx, in this order.
  EXPECT_EQ(o.last_write(h.v2 + "/cgroup.subtree_control"), "+memory +pids +cpu");
  EXPECT_EQ(o.last_write(h.v2 + "/sbx/cgroup.subtree_control"), "+memory +pids +cpu");
  EXPECT_EQ(o.last_write(dir + "/memory.max"), "67108864");
  EXPECT_EQ(o.last_write(dir + "/memory.high"), "60397977");  // 90%
  EXPECT_EQ(o.last_write(dir + "/memory.swap.max"), "0");
  EXPECT_EQ(o.last_write(dir + "/cpu.max"), "50000 100000");
  EXPECT_EQ(o.last_write(dir + "/cpu.weight"), "200");
  EXPECT_EQ(o.last_write(dir + "/pids.max"), "16");
  // Nothing else was written (no v1 files, nothing outside the box).
  EXPECT_EQ(o.writes.size(), 8u);
  EXPECT_EQ(o.mkdirs, (std::vector<std::string>{h.v2 + "/sbx", dir}));

  for (const char* name : {"memory.max", "memory.high", "memory.swap.max", "cpu.max", "cpu.weight",
                           "pids.max", "accounting", "kill-tree", "freeze"}) {
    const Enforcement* r = row(rep, name);
    ASSERT_NE(r, nullptr) << name << "\n" << dump(rep);
    EXPECT_TRUE(r->enforced) << dump(rep);
    EXPECT_NE(r->mechanism.find("cgroup v2"), std::string::npos) << dump(rep);
    EXPECT_NE(r->mechanism.find(dir), std::string::npos) << dump(rep);
  }
  EXPECT_NE(row(rep, "memory.high")->detail.find("default: 90%"), std::string::npos);
  EXPECT_NE(row(rep, "kill-tree")->mechanism.find("cgroup.kill"), std::string::npos);
  EXPECT_EQ(rep.size(), 9u) << dump(rep);

  EXPECT_GE(b->clone_into_fd(), 0);
  EXPECT_TRUE(b->attach_fds().empty());
  EXPECT_GE(b->v2_procs_fd(), 0);
  EXPECT_TRUE(b->kills_tree());
  EXPECT_EQ(b->version_of(Controller::kMemory), Version::kV2);
  EXPECT_EQ(b->path_of(Controller::kFreezer), dir);
}

TEST(CgroupFakeV2, ExplicitHighAndSwapAndExistingControllers) {
  FakeHost h(FakeHost::kV2Only);
  put(h.v2 + "/cgroup.subtree_control", "memory pids cpu\n");
  Limits l;
  l.memory_max = 1ull << 30;
  l.memory_high = 512ull << 20;
  l.memory_swap_max = 1ull << 20;
  std::vector<Enforcement> rep;
  auto b = BoxCgroup::create(h.layout(), "box2", l, h.options(), &rep);
  std::string dir = h.v2 + "/sbx/box2";
  auto& o = *h.ops;
  // Already enabled in the root: not written again.
  EXPECT_EQ(o.last_write(h.v2 + "/cgroup.subtree_control"), "<none>");
  EXPECT_EQ(o.last_write(h.v2 + "/sbx/cgroup.subtree_control"), "+memory +pids");
  EXPECT_EQ(o.last_write(dir + "/memory.max"), "1073741824");
  EXPECT_EQ(o.last_write(dir + "/memory.high"), "536870912");
  EXPECT_EQ(o.last_write(dir + "/memory.swap.max"), "1048576");
  EXPECT_EQ(row(rep, "cpu.max"), nullptr);
  EXPECT_TRUE(row(rep, "memory.high")->enforced);
  EXPECT_EQ(row(rep, "memory.high")->detail.find("default"), std::string::npos);
}

TEST(CgroupFakeV2, ControllerNotOfferedDegradesWithPathAndFix) {
  FakeHost h(FakeHost::kV2Only);
  put(h.v2 + "/cgroup.controllers", "cpu memory\n");
  std::vector<Enforcement> rep;
  auto b = BoxCgroup::create(h.layout(), "box3", standard_limits(), h.options(), &rep);
  EXPECT_EQ(h.ops->last_write(h.v2 + "/cgroup.subtree_control"), "+memory +cpu");
  const Enforcement* p = row(rep, "pids.max");
  ASSERT_NE(p, nullptr);
  EXPECT_FALSE(p->enforced);
  EXPECT_NE(p->detail.find("no 'pids' controller"), std::string::npos) << p->detail;
  EXPECT_NE(p->detail.find("offers: cpu memory"), std::string::npos) << p->detail;
  EXPECT_NE(p->detail.find("Fix:"), std::string::npos) << p->detail;
  EXPECT_TRUE(row(rep, "memory.max")->enforced);
  EXPECT_FALSE(row(rep, "accounting")->enforced);
  EXPECT_NE(row(rep, "accounting")->detail.find("pids:"), std::string::npos);

  // The same in strict mode: an error, and nothing left behind.
  Options so = h.options();
  so.strict = true;
  try {
    BoxCgroup::create(h.layout(), "box4", standard_limits(), so, nullptr);
    ADD_FAILURE() << "strict accepted a missing controller";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), SBX_E_UNSUPPORTED);
    EXPECT_EQ(e.step(), "cgroup");
    EXPECT_NE(std::string(e.what()).find("pids.max"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(h.v2 + "/sbx/box4"));
}

TEST(CgroupFakeV2, SubtreeControlRefusedDegrades) {
  FakeHost h(FakeHost::kV2Only);
  h.ops->fail_write = {"/sbx/cgroup.subtree_control", EBUSY};
  std::vector<Enforcement> rep;
  auto b = BoxCgroup::create(h.layout(), "box5", standard_limits(), h.options(), &rep);
  const Enforcement* m = row(rep, "memory.max");
  EXPECT_FALSE(m->enforced);
  EXPECT_NE(m->detail.find(h.v2 + "/sbx/cgroup.subtree_control"), std::string::npos) << m->detail;
  EXPECT_NE(m->detail.find("EBUSY"), std::string::npos) << m->detail;
  EXPECT_NE(m->detail.find("no-internal-process"), std::string::npos) << m->detail;
  // The core features still work: kill, freeze, cpu accounting.
  EXPECT_TRUE(row(rep, "kill-tree")->enforced);
  EXPECT_TRUE(row(rep, "freeze")->enforced);
}

TEST(CgroupFakeV2, UsageParsing) {
  FakeHost h(FakeHost::kV2Only);
  Limits l;
  l.cpus = 1;
  auto b = BoxCgroup::create(h.layout(), "u", l, h.options(), nullptr);
  std::string d = h.v2 + "/sbx/u";
  put(d + "/memory.peak", "123456\n");
  put(d + "/memory.events", "low 0\nhigh 4\nmax 7\noom 2\noom_kill 1\noom_group_kill 0\n");
  put(d + "/cpu.stat",
      "usage_usec 5000\nuser_usec 3000\nsystem_usec 2000\nnice_usec 0\nnr_periods 9\nnr_throttled 3\n"
      "throttled_usec 250\n");
  put(d + "/pids.peak", "5\n");
  put(d + "/pids.events", "max 11\n");
  Usage u = b->usage();
  EXPECT_EQ(u.memory_peak, 123456u);
  EXPECT_EQ(u.memory_max_events, 7u);
  EXPECT_EQ(u.oom_kills, 1u);
  EXPECT_EQ(u.cpu_usage_ns, 5000000u);
  EXPECT_EQ(u.cpu_user_ns, 3000000u);
  EXPECT_EQ(u.cpu_system_ns, 2000000u);
  EXPECT_EQ(u.nr_throttled, 3u);
  EXPECT_EQ(u.throttled_ns, 250000u);
  EXPECT_EQ(u.pids_peak, 5u);
  EXPECT_EQ(u.pids_max_events, 11u);
  // Files a kernel does not have are simply not measurable.
  fs::remove(d + "/memory.peak");
  EXPECT_EQ(b->usage().memory_peak, std::nullopt);
}

TEST(CgroupFakeV2, KillFreezeSignalAttach) {
  FakeHost h(FakeHost::kV2Only);
  auto b = BoxCgroup::create(h.layout(), "k", {}, h.options(), nullptr);
  std::string d = h.v2 + "/sbx/k";
  auto& o = *h.ops;

  b->attach(4242);
  EXPECT_EQ(slurp(d + "/cgroup.procs"), "4242\n");
  EXPECT_FALSE(b->empty());
  EXPECT_EQ(b->pids(), std::vector<pid_t>{4242});

  put(d + "/cgroup.procs", "11\n12\n");
  o.vanish_on_pin = {12};  // exits (and its pid may be recycled) before the signal
  b->signal_all(SIGTERM);
  EXPECT_EQ(o.signals, (std::vector<std::pair<pid_t, int>>{{11, SIGTERM}}));

  b->freeze();
  EXPECT_EQ(o.last_write(d + "/cgroup.freeze"), "1");
  EXPECT_TRUE(b->frozen());
  b->thaw();
  EXPECT_EQ(o.last_write(d + "/cgroup.freeze"), "0");
  EXPECT_FALSE(b->frozen());

  o.signals.clear();
  put(d + "/cgroup.procs", "21\n22\n");
  EXPECT_TRUE(b->kill_all());
  EXPECT_EQ(o.last_write(d + "/cgroup.kill"), "1");
  EXPECT_TRUE(o.signals.empty());  // cgroup.kill did it all
  EXPECT_TRUE(b->empty());
}

TEST(CgroupFakeV2, KillWithoutCgroupKillFileFreezesAndKills) {
  FakeHost h(FakeHost::kV2Only);
  auto& files = h.ops->files_for[h.v2];
  files.erase(std::remove_if(files.begin(), files.end(), [](auto& f) { return f.first == "cgroup.kill"; }),
              files.end());
  std::vector<Enforcement> rep;
  auto b = BoxCgroup::create(h.layout(), "k2", {}, h.options(), &rep);
  std::string d = h.v2 + "/sbx/k2";
  EXPECT_NE(row(rep, "kill-tree")->mechanism.find("cgroup.freeze"), std::string::npos) << dump(rep);
  put(d + "/cgroup.procs", "31\n32\n");
  EXPECT_TRUE(b->kill_all());
  EXPECT_EQ(h.ops->writes_to("cgroup.freeze"), (std::vector<std::string>{"1", "0"}));
  EXPECT_EQ(h.ops->signals, (std::vector<std::pair<pid_t, int>>{{31, SIGKILL}, {32, SIGKILL}}));
}

TEST(CgroupFakeV2, CloneIntoOffPutsV2ProcsIntoAttachFds) {
  FakeHost h(FakeHost::kV2Only);
  Options o = h.options();
  o.clone_into = false;
  auto b = BoxCgroup::create(h.layout(), "c", {}, o, nullptr);
  EXPECT_EQ(b->clone_into_fd(), -1);
  ASSERT_EQ(b->attach_fds().size(), 1u);
  EXPECT_EQ(b->attach_fds()[0], b->v2_procs_fd());
}

TEST(CgroupFakeV2, DestructorRemovesOnlyWhatItCreated) {
  FakeHost h(FakeHost::kV2Only);
  fs::create_directories(h.v2 + "/other");  // someone else's
  std::string d;
  {
    auto b = BoxCgroup::create(h.layout(), "d", standard_limits(), h.options(), nullptr);
    d = b->paths()[0];
    put(d + "/cgroup.procs", "77\n");
  }
  EXPECT_FALSE(fs::exists(d));
  EXPECT_TRUE(fs::is_directory(h.v2 + "/sbx"));
  EXPECT_TRUE(fs::is_directory(h.v2 + "/other"));
  EXPECT_EQ(h.ops->rmdirs, std::vector<std::string>{d});
}

TEST(CgroupFakeV2, UnkillableProcessBoundsTheDestructor) {
  FakeHost h(FakeHost::kV2Only);
  h.ops->kill_removes = false;
  std::string d;
  {
    auto b = BoxCgroup::create(h.layout(), "stuck", {}, h.options(), nullptr);
    d = b->paths()[0];
    put(d + "/cgroup.procs", "88\n");
    EXPECT_FALSE(b->kill_all(std::chrono::milliseconds(300)));
  }
  // The fake clock advanced by the sleeps only: the budgets were honoured
  // and the populated directory was left alone rather than forced.
  EXPECT_TRUE(fs::exists(d));
  EXPECT_GT(h.ops->sleeps, 0);
  put(d + "/cgroup.procs", "");
}

TEST(CgroupFakeV2, RootlessFindsDelegatedSubtree) {
  FakeHost h(FakeHost::kV2Only);
  std::string svc = h.v2 + "/user.slice/user-1000.slice/user@1000.service";
  std::string app = svc + "/app.slice", scope = app + "/run-1.scope";
  for (const std::string& d : {h.v2 + "/user.slice", h.v2 + "/user.slice/user-1000.slice", svc, app, scope}) {
    fs::create_directories(d);
    put(d + "/cgroup.procs", "");
    put(d + "/cgroup.subtree_control", "");
    put(d + "/cgroup.controllers", "cpu memory pids\n");
  }
  put(scope + "/cgroup.procs", "4000\n");  // the caller lives here
  put(svc + "/cgroup.subtree_control", "cpu memory pids\n");
  auto& o = *h.ops;
  o.fake_ids = true;
  o.fake_euid = 1000;
  for (const std::string& d : {svc, app, scope})
    for (const char* f : {"", "/cgroup.procs", "/cgroup.subtree_control"}) o.owners[d + f] = 1000;
  put(h.hp.proc_self_cgroup, "0::/user.slice/user-1000.slice/user@1000.service/app.slice/run-1.scope\n");

  std::vector<Enforcement> rep;
  auto b = BoxCgroup::create(h.layout(), "r", standard_limits(), h.options(), &rep);
  // The scope has a process; app.slice is the nearest usable ancestor.
  EXPECT_EQ(b->paths(), std::vector<std::string>{app + "/sbx/r"});
  EXPECT_EQ(o.last_write(app + "/cgroup.subtree_control"), "+memory +pids +cpu");
  EXPECT_EQ(o.last_write(app + "/sbx/cgroup.subtree_control"), "+memory +pids +cpu");
  EXPECT_EQ(o.last_write(h.v2 + "/cgroup.subtree_control"), "<none>");
  EXPECT_TRUE(row(rep, "memory.max")->enforced) << dump(rep);
  EXPECT_TRUE(row(rep, "pids.max")->enforced) << dump(rep);
}

TEST(CgroupFakeV2, RootlessWithoutDelegationDegradesWithTheFix) {
  FakeHost h(FakeHost::kV2Only);
  std::string scope = h.v2 + "/user.slice/session-3.scope";
  fs::create_directories(scope);
  put(scope + "/cgroup.procs", "4000\n");
  put(h.v2 + "/user.slice/cgroup.procs", "");
  put(h.hp.proc_self_cgroup, "0::/user.slice/session-3.scope\n");
  auto& o = *h.ops;
  o.fake_ids = true;
  o.fake_euid = 1000;

  std::vector<Enforcement> rep;
  auto b = BoxCgroup::create(h.layout(), "r2", standard_limits(), h.options(), &rep);
  EXPECT_TRUE(b->paths().empty());
  EXPECT_TRUE(o.mkdirs.empty());
  EXPECT_TRUE(o.writes.empty());
  for (const char* name :
       {"memory.max", "pids.max", "cpu.max", "cpu.weight", "accounting", "kill-tree", "freeze"}) {
    const Enforcement* r = row(rep, name);
    ASSERT_NE(r, nullptr) << name;
    EXPECT_FALSE(r->enforced) << name;
  }
  const std::string& det = row(rep, "memory.max")->detail;
  EXPECT_NE(det.find("no delegated cgroup v2 subtree for uid 1000"), std::string::npos) << det;
  EXPECT_NE(det.find(scope + ": owned by uid 0, not 1000"), std::string::npos) << det;
  EXPECT_NE(det.find("systemd-run --user --scope -p Delegate=yes"), std::string::npos) << det;
  EXPECT_NE(det.find("chown -R 1000 " + h.v2 + "/sbx-1000"), std::string::npos) << det;
  EXPECT_NE(det.find("echo '+memory +pids +cpu' > " + h.v2 + "/sbx-1000/cgroup.subtree_control"),
            std::string::npos)
      << det;
  EXPECT_FALSE(b->kills_tree());
  EXPECT_THROW(b->freeze(), Error);
  EXPECT_THROW(b->signal_all(SIGTERM), Error);

  // A scope that is ours but holds the caller, below a parent that is not.
  o.owners[scope] = 1000;
  o.owners[scope + "/cgroup.procs"] = 1000;
  o.owners[scope + "/cgroup.subtree_control"] = 1000;
  put(scope + "/cgroup.subtree_control", "");
  rep.clear();
  auto b2 = BoxCgroup::create(h.layout(), "r3", standard_limits(), h.options(), &rep);
  const std::string& det2 = row(rep, "pids.max")->detail;
  EXPECT_NE(det2.find("has processes of its own (e.g. pid 4000)"), std::string::npos) << det2;

  Options so = h.options();
  so.strict = true;
  try {
    BoxCgroup::create(h.layout(), "r4", standard_limits(), so, nullptr);
    ADD_FAILURE() << "strict accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), SBX_E_UNSUPPORTED);
    EXPECT_NE(std::string(e.what()).find("no delegated cgroup v2 subtree"), std::string::npos) << e.what();
  }
}

TEST(CgroupFakeV2, RootlessParentOutsideTheCallersSubtreeIsRefused) {
  FakeHost h(FakeHost::kV2Only);
  std::string given = h.v2 + "/sbx-1000";
  fs::create_directories(given);
  put(given + "/cgroup.controllers", "memory pids cpu\n");
  put(given + "/cgroup.subtree_control", "");
  put(given + "/cgroup.procs", "");
  put(h.hp.proc_self_cgroup, "0::/user.slice\n");
  fs::create_directories(h.v2 + "/user.slice");
  auto& o = *h.ops;
  o.fake_ids = true;
  o.fake_euid = 1000;
  for (const char* f : {"", "/cgroup.procs", "/cgroup.subtree_control"}) o.owners[given + f] = 1000;
  Options opt = h.options();
  opt.parent = given;
  std::vector<Enforcement> rep;
  auto b = BoxCgroup::create(h.layout(), "p", standard_limits(), opt, &rep);
  EXPECT_TRUE(b->paths().empty());
  const std::string& det = row(rep, "memory.max")->detail;
  EXPECT_NE(det.find("needs write access to " + h.v2 + "/cgroup.procs"), std::string::npos) << det;
}

TEST(CgroupFakeV2, StrictWriteFailureRemovesEverything) {
  FakeHost h(FakeHost::kV2Only);
  h.ops->fail_write = {"/cpu.max", EIO};
  Options so = h.options();
  so.strict = true;
  try {
    BoxCgroup::create(h.layout(), "s", standard_limits(), so, nullptr);
    ADD_FAILURE() << "strict accepted a failed write";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), SBX_E_UNSUPPORTED);
    EXPECT_EQ(e.sys_errno(), EIO);
    EXPECT_NE(std::string(e.what()).find(h.v2 + "/sbx/s/cpu.max"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(h.v2 + "/sbx/s"));
  // Non-strict: the same failure is one degraded row.
  std::vector<Enforcement> rep;
  auto b = BoxCgroup::create(h.layout(), "s", standard_limits(), h.options(), &rep);
  EXPECT_FALSE(row(rep, "cpu.max")->enforced);
  EXPECT_NE(row(rep, "cpu.max")->detail.find("EIO"), std::string::npos);
  EXPECT_TRUE(row(rep, "pids.max")->enforced);
}

// ------------------------------------------------------------------ v1 backend

TEST(CgroupFakeV1, WritesEveryLimitFile) {
  FakeHost h(FakeHost::kV1Only);
  std::vector<Enforcement> rep;
  auto b = BoxCgroup::create(h.layout(), "box1", standard_limits(), h.options(), &rep);
  auto& o = *h.ops;
  std::string m = h.memory + "/sbx/box1", p = h.pids + "/sbx/box1", c = h.cpu + "/sbx/box1",
              f = h.freezer + "/sbx/box1";
  EXPECT_EQ(b->paths(), (std::vector<std::string>{m, p, c, f}));
  EXPECT_EQ(o.last_write(m + "/memory.limit_in_bytes"), "67108864");
  EXPECT_EQ(o.last_write(m + "/memory.memsw.limit_in_bytes"), "67108864");
  EXPECT_EQ(o.last_write(c + "/cpu.cfs_period_us"), "100000");
  EXPECT_EQ(o.last_write(c + "/cpu.cfs_quota_us"), "50000");
  EXPECT_EQ(o.last_write(c + "/cpu.shares"), "2048");
  EXPECT_EQ(o.last_write(p + "/pids.max"), "16");
  EXPECT_EQ(o.writes.size(), 6u);
  // memsw after the memory limit (the kernel wants memsw >= limit); the
  // period before the quota.
  EXPECT_EQ(o.writes[0].first, m + "/memory.limit_in_bytes");
  EXPECT_EQ(o.writes[1].first, m + "/memory.memsw.limit_in_bytes");
  EXPECT_EQ(o.writes[2].first, c + "/cpu.cfs_period_us");
  EXPECT_EQ(o.writes[3].first, c + "/cpu.cfs_quota_us");

  EXPECT_EQ(row(rep, "memory.high"), nullptr) << dump(rep);  // not requested: no v1 row
  for (const char* name : {"memory.max", "memory.swap.max", "cpu.max", "cpu.weight", "pids.max", "accounting",
                           "kill-tree", "freeze"}) {
    const Enforcement* r = row(rep, name);
    ASSERT_NE(r, nullptr) << name;
    EXPECT_TRUE(r->enforced) << dump(rep);
  }
  EXPECT_EQ(row(rep, "memory.max")->mechanism, "cgroup v1 memory.limit_in_bytes at " + m);
  EXPECT_EQ(row(rep, "cpu.max")->mechanism, "cgroup v1 cpu.cfs_quota_us at " + c);
  EXPECT_NE(row(rep, "kill-tree")->mechanism.find("cgroup v1 freezer at " + f), std::string::npos);
  EXPECT_EQ(b->clone_into_fd(), -1);
  EXPECT_EQ(b->v2_procs_fd(), -1);
  EXPECT_EQ(b->attach_fds().size(), 4u);

  b->attach(555);
  for (const auto& d : b->paths()) EXPECT_EQ(slurp(d + "/cgroup.procs"), "555\n") << d;
  put(m + "/cgroup.procs", "");
  put(p + "/cgroup.procs", "");
  put(c + "/cgroup.procs", "");
  put(f + "/cgroup.procs", "");
}

TEST(CgroupFakeV1, MemoryHighAndSwap) {
  FakeHost h(FakeHost::kV1Only);
  Limits l;
  l.memory_max = 100 << 20;
  l.memory_swap_max = 50 << 20;
  l.memory_high = 80 << 20;
  std::vector<Enforcement> rep;
  auto b = BoxCgroup::create(h.layout(), "m", l, h.options(), &rep);
  EXPECT_EQ(h.ops->last_write(h.memory + "/sbx/m/memory.memsw.limit_in_bytes"), std::to_string(150 << 20));
  const Enforcement* hi = row(rep, "memory.high");
  ASSERT_NE(hi, nullptr);
  EXPECT_FALSE(hi->enforced);
  EXPECT_NE(hi->detail.find("cgroup v1 has no memory.high"), std::string::npos);
  EXPECT_TRUE(row(rep, "memory.swap.max")->enforced);

  Options so = h.options();
  so.strict = true;
  EXPECT_THROW(BoxCgroup::create(h.layout(), "m2", l, so, nullptr), Error);
  EXPECT_FALSE(fs::exists(h.memory + "/sbx/m2"));

  // No memsw file (swap accounting off): an explicit swap limit degrades, the
  // default is silently not applicable.
  auto& files = h.ops->files_for[h.memory];
  files.erase(std::remove_if(files.begin(), files.end(),
                             [](auto& f) { return f.first == "memory.memsw.limit_in_bytes"; }),
              files.end());
  l.memory_high.reset();
  rep.clear();
  auto b3 = BoxCgroup::create(h.layout(), "m3", l, h.options(), &rep);
  EXPECT_FALSE(row(rep, "memory.swap.max")->enforced);
  EXPECT_NE(row(rep, "memory.swap.max")->detail.find("swapaccount=1"), std::string::npos);
  l.memory_swap_max.reset();
  rep.clear();
  auto b4 = BoxCgroup::create(h.layout(), "m4", l, h.options(), &rep);
  EXPECT_EQ(row(rep, "memory.swap.max"), nullptr);
}

TEST(CgroupFakeV1, UsageParsing) {
  FakeHost h(FakeHost::kV1Only);
  Limits l;
  l.cpus = 1;
  auto b = BoxCgroup::create(h.layout(), "u", l, h.options(), nullptr);
  std::string m = h.memory + "/sbx/u", p = h.pids + "/sbx/u", c = h.cpu + "/sbx/u";
  put(m + "/memory.max_usage_in_bytes", "999424\n");
  put(m + "/memory.failcnt", "17\n");
  put(m + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  put(c + "/cpuacct.usage", "7000000\n");
  put(c + "/cpuacct.usage_user", "4000000\n");
  put(c + "/cpuacct.usage_sys", "3000000\n");
  put(c + "/cpu.stat", "nr_periods 10\nnr_throttled 4\nthrottled_time 123456\nnr_bursts 0\nburst_time 0\n");
  put(p + "/pids.peak", "9\n");
  put(p + "/pids.events", "max 3\n");
  Usage u = b->usage();
  EXPECT_EQ(u.memory_peak, 999424u);
  EXPECT_EQ(u.memory_max_events, 17u);
  EXPECT_EQ(u.oom_kills, 2u);
  EXPECT_EQ(u.cpu_usage_ns, 7000000u);
  EXPECT_EQ(u.cpu_user_ns, 4000000u);
  EXPECT_EQ(u.cpu_system_ns, 3000000u);
  EXPECT_EQ(u.nr_throttled, 4u);
  EXPECT_EQ(u.throttled_ns, 123456u);
  EXPECT_EQ(u.pids_peak, 9u);
  EXPECT_EQ(u.pids_max_events, 3u);

  // Older kernels: no usage_user/usage_sys, ticks in cpuacct.stat.
  fs::remove(c + "/cpuacct.usage_user");
  fs::remove(c + "/cpuacct.usage_sys");
  put(c + "/cpuacct.stat", "user 5\nsystem 2\n");
  uint64_t tick = 1000000000ull / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
  u = b->usage();
  EXPECT_EQ(u.cpu_user_ns, 5 * tick);
  EXPECT_EQ(u.cpu_system_ns, 2 * tick);
  // No pids.peak on older kernels.
  fs::remove(p + "/pids.peak");
  EXPECT_EQ(b->usage().pids_peak, std::nullopt);
}

TEST(CgroupFakeV1, KillFreezesKillsThaws) {
  FakeHost h(FakeHost::kV1Only);
  auto b = BoxCgroup::create(h.layout(), "k", {}, h.options(), nullptr);
  for (const auto& d : b->paths()) put(d + "/cgroup.procs", "5\n6\n");
  EXPECT_TRUE(b->kill_all());
  auto& o = *h.ops;
  EXPECT_EQ(o.writes_to("freezer.state"), (std::vector<std::string>{"FROZEN", "THAWED"}));
  EXPECT_EQ(o.signals, (std::vector<std::pair<pid_t, int>>{{5, SIGKILL}, {6, SIGKILL}}));
  EXPECT_TRUE(b->empty());

  b->freeze();
  EXPECT_TRUE(b->frozen());
  b->thaw();
  EXPECT_FALSE(b->frozen());
  EXPECT_EQ(o.writes_to("freezer.state").back(), "THAWED");
}

TEST(CgroupFakeV1, KillWithoutFreezerUsesRounds) {
  FakeHost h(FakeHost::kV1Only);
  Layout l = h.layout();
  l.v1.erase(Controller::kFreezer);
  std::vector<Enforcement> rep;
  auto b = BoxCgroup::create(l, "k", {}, h.options(), &rep);
  EXPECT_EQ(b->paths().size(), 3u);
  EXPECT_FALSE(row(rep, "freeze")->enforced);
  EXPECT_NE(row(rep, "freeze")->detail.find("SIGSTOP"), std::string::npos);
  EXPECT_NE(row(rep, "kill-tree")->mechanism.find("rounds of SIGKILL"), std::string::npos);
  EXPECT_FALSE(b->can_freeze());
  try {
    b->freeze();
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), SBX_E_UNSUPPORTED);
  }
  for (const auto& d : b->paths()) put(d + "/cgroup.procs", "8\n");
  EXPECT_TRUE(b->kill_all());
  EXPECT_TRUE(h.ops->writes_to("freezer.state").empty());
  EXPECT_EQ(h.ops->signals, (std::vector<std::pair<pid_t, int>>{{8, SIGKILL}}));
}

TEST(CgroupFakeV1, HybridFallsBackToV1FreezerWhenV2Fails) {
  FakeHost h(FakeHost::kHybrid);
  h.ops->fail_mkdir = {"/unified/sbx", EACCES};
  std::vector<Enforcement> rep;
  auto b = BoxCgroup::create(h.layout(), "fb", {}, h.options(), &rep);
  EXPECT_EQ(b->version_of(Controller::kFreezer), Version::kV1);
  EXPECT_EQ(b->version_of(Controller::kCpuacct), Version::kV1);
  EXPECT_EQ(b->path_of(Controller::kFreezer), h.freezer + "/sbx/fb");
  EXPECT_TRUE(row(rep, "kill-tree")->enforced);
  EXPECT_EQ(b->clone_into_fd(), -1);
}

TEST(CgroupFakeV1, HybridUsesV2DirForKillAndV1ForLimits) {
  FakeHost h(FakeHost::kHybrid);
  std::vector<Enforcement> rep;
  auto b = BoxCgroup::create(h.layout(), "hy", standard_limits(), h.options(), &rep);
  EXPECT_EQ(b->paths(), (std::vector<std::string>{h.v2 + "/sbx/hy", h.memory + "/sbx/hy", h.pids + "/sbx/hy",
                                                  h.cpu + "/sbx/hy"}));
  // No resource controller on v2 here: no subtree_control write at all.
  EXPECT_TRUE(h.ops->writes_to("cgroup.subtree_control").empty());
  EXPECT_GE(b->clone_into_fd(), 0);
  EXPECT_EQ(b->attach_fds().size(), 3u);
  EXPECT_NE(row(rep, "kill-tree")->mechanism.find("cgroup.kill"), std::string::npos);
  EXPECT_NE(row(rep, "accounting")->mechanism.find("cpu: cgroup v2 cpu.stat"), std::string::npos)
      << row(rep, "accounting")->mechanism;
  EXPECT_EQ(row(rep, "memory.max")->mechanism, "cgroup v1 memory.limit_in_bytes at " + h.memory + "/sbx/hy");
}

TEST(CgroupFakeV1, MidwayFailureRemovesEverythingCreated) {
  FakeHost h(FakeHost::kV1Only);
  // pids.max is written after the four directories exist.
  h.ops->fail_write = {"/pids.max", EIO};
  Options so = h.options();
  so.strict = true;
  EXPECT_THROW(BoxCgroup::create(h.layout(), "mid", standard_limits(), so, nullptr), Error);
  for (const std::string& m : {h.memory, h.pids, h.cpu, h.freezer}) {
    EXPECT_FALSE(fs::exists(m + "/sbx/mid")) << m;
    EXPECT_TRUE(fs::is_directory(m + "/sbx")) << m;  // the shared parent stays
  }
  EXPECT_EQ(h.ops->rmdirs.size(), 4u);
}

TEST(CgroupFakeV1, MkdirFailureOnLaterHierarchyRemovesEarlierOnes) {
  FakeHost h(FakeHost::kV1Only);
  h.ops->fail_mkdir = {"/cpu,cpuacct/sbx/mid2", EIO};
  Options so = h.options();
  so.strict = true;
  try {
    BoxCgroup::create(h.layout(), "mid2", standard_limits(), so, nullptr);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), SBX_E_UNSUPPORTED);
    EXPECT_NE(std::string(e.what()).find(h.cpu + "/sbx/mid2"), std::string::npos) << e.what();
  }
  for (const std::string& m : {h.memory, h.pids, h.cpu, h.freezer})
    EXPECT_FALSE(fs::exists(m + "/sbx/mid2")) << m;
}

TEST(CgroupFakeV1, ConcurrentParentRemovalIsRetried) {
  FakeHost h(FakeHost::kV1Only);
  h.ops->fail_mkdir = {"/memory/sbx/race", ENOENT, 1};
  std::vector<Enforcement> rep;
  auto b = BoxCgroup::create(h.layout(), "race", standard_limits(), h.options(), &rep);
  EXPECT_TRUE(row(rep, "memory.max")->enforced) << dump(rep);
  EXPECT_TRUE(fs::is_directory(h.memory + "/sbx/race"));
}

TEST(CgroupFakeV1, ExistingDirectoryIsNeitherAdoptedNorRemoved) {
  FakeHost h(FakeHost::kV1Only);
  fs::create_directories(h.memory + "/sbx/taken");
  put(h.memory + "/sbx/taken/cgroup.procs", "");
  {
    std::vector<Enforcement> rep;
    auto b = BoxCgroup::create(h.layout(), "taken", standard_limits(), h.options(), &rep);
    EXPECT_FALSE(row(rep, "memory.max")->enforced);
    EXPECT_NE(row(rep, "memory.max")->detail.find("EEXIST"), std::string::npos);
    EXPECT_NE(row(rep, "memory.max")->detail.find("rmdir " + h.memory + "/sbx/taken"), std::string::npos);
    EXPECT_TRUE(row(rep, "pids.max")->enforced);
  }
  EXPECT_TRUE(fs::is_directory(h.memory + "/sbx/taken"));
}

TEST(CgroupFakeV1, RootlessDegradesWithPathAndFix) {
  FakeHost h(FakeHost::kV1Only);
  auto& o = *h.ops;
  o.fake_ids = true;
  o.fake_euid = 999;
  o.fail_mkdir = {"/sbx", EACCES};  // the fake runs as anyone; the kernel would refuse
  std::vector<Enforcement> rep;
  auto b = BoxCgroup::create(h.layout(), "rl", standard_limits(), h.options(), &rep);
  EXPECT_TRUE(b->paths().empty());
  const std::string& det = row(rep, "memory.max")->detail;
  EXPECT_NE(det.find("creating " + h.memory + "/sbx failed: Permission denied (EACCES)"), std::string::npos)
      << det;
  EXPECT_NE(det.find("mkdir -p " + h.memory + "/sbx-999 && chown 999 " + h.memory + "/sbx-999"),
            std::string::npos)
      << det;
  EXPECT_NE(det.find("pass 'sbx-999' as the cgroup parent"), std::string::npos) << det;
  EXPECT_FALSE(row(rep, "kill-tree")->enforced);
}

TEST(CgroupFakeV1, CpusetCoMountGetsCpusAndMems) {
  FakeHost h(FakeHost::kV1Only);
  std::string cs = h.root + "/cg/cpuset,cpu,cpuacct";
  std::string mi = slurp(h.hp.mountinfo);
  mi.replace(mi.find(h.cpu + " rw,relatime shared:7 - cgroup cgroup rw,cpu,cpuacct"),
             (h.cpu + " rw,relatime shared:7 - cgroup cgroup rw,cpu,cpuacct").size(),
             cs + " rw,relatime shared:7 - cgroup cgroup rw,cpuset,cpu,cpuacct");
  put(h.hp.mountinfo, mi);
  Files f = kV1CpuCpuacct;
  f.push_back({"cpuset.cpus", ""});
  f.push_back({"cpuset.mems", ""});
  h.ops->files_for[cs] = f;
  put(cs + "/cpuset.cpus", "0-1\n");
  put(cs + "/cpuset.mems", "0\n");
  put(cs + "/cgroup.procs", "");
  Limits l;
  l.cpus = 1;
  auto b = BoxCgroup::create(h.layout(), "cs", l, h.options(), nullptr);
  EXPECT_EQ(slurp(cs + "/sbx/cpuset.cpus"), "0-1");
  EXPECT_EQ(slurp(cs + "/sbx/cs/cpuset.cpus"), "0-1");
  EXPECT_EQ(slurp(cs + "/sbx/cs/cpuset.mems"), "0");
}

TEST(CgroupFakeV1, NothingRequestedCreatesNothing) {
  FakeHost h(FakeHost::kV1Only);
  Options o = h.options();
  o.want_accounting = false;
  std::vector<Enforcement> rep;
  auto b = BoxCgroup::create(h.layout(), "none", {}, o, &rep);
  EXPECT_TRUE(b->paths().empty());
  EXPECT_TRUE(h.ops->mkdirs.empty());
  EXPECT_EQ(rep.size(), 3u) << dump(rep);
  EXPECT_FALSE(row(rep, "accounting")->enforced);
  EXPECT_FALSE(row(rep, "kill-tree")->enforced);
  EXPECT_NE(row(rep, "kill-tree")->detail.find("no cgroup was requested"), std::string::npos);
  EXPECT_TRUE(b->kill_all());
  EXPECT_TRUE(b->empty());
}

}  // namespace
}  // namespace sbx::cgroup
