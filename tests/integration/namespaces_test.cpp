// Each namespace is switchable: with its bit the box is isolated, without it
// the program sees the host's view.
#include <errno.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "box_helper.hpp"

using namespace sbx_it;

namespace {

BoxOptions without(unsigned ns) {
  BoxOptions b;
  b.namespaces = SBX_NS_ALL & ~ns;
  return b;
}

// Every line of a /proc/PID/cgroup text ends in ":/".
bool all_cgroups_root(const std::string& text) {
  for (const auto& l : split_lines(text))
    if (l.size() < 2 || l.compare(l.size() - 2, 2, ":/") != 0) return false;
  return true;
}

}  // namespace

TEST(Namespaces, DefaultMaskIsAll) {
  sbx_config* c = nullptr;
  ASSERT_EQ(sbx_config_new(&c, nullptr), SBX_OK);
  ConfigPtr cfg(c);
  unsigned ns = 0;
  ASSERT_EQ(sbx_config_get_namespaces(c, &ns), SBX_OK);
  EXPECT_EQ(ns, static_cast<unsigned>(SBX_NS_ALL));
}

TEST(Namespaces, WithoutPidNamespaceTheProgramHasAHostPid) {
  auto r = sh("echo $$; exit 3", {}, without(SBX_NS_PID));
  ASSERT_TRUE(r.exited(3)) << r.describe();
  // No box init: the program itself is the process sbx started.
  EXPECT_EQ(r.out, std::to_string(r.exit.pid) + "\n");
  EXPECT_NE(r.out, "2\n");

  RunResult res;
  auto run = start_box(without(SBX_NS_PID), {"/bin/sleep", "100"}, {}, &res);
  ASSERT_TRUE(run) << res.describe();
  ASSERT_EQ(sbx_box_kill(run->box.get(), SIGTERM, nullptr), SBX_OK);
  RunResult fin = collect(*run);
  ASSERT_TRUE(fin.ok()) << fin.describe();
  EXPECT_EQ(fin.exit.kind, SBX_EXIT_SIGNALED);
  EXPECT_EQ(fin.exit.signal, SIGTERM);
  EXPECT_EQ(fin.exit.reason, SBX_REASON_KILLED);
}

TEST(Namespaces, WithoutUtsNamespaceTheHostnameIsTheHosts) {
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof host - 1), 0);
  if (std::string(host) == "sbx") GTEST_SKIP() << "the host is called sbx too";
  auto r = run_box(without(SBX_NS_UTS), {"/bin/uname", "-n"});
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_EQ(r.out, std::string(host) + "\n");
}

TEST(Namespaces, WithoutMountNamespaceTheHostTreeIsVisible) {
  auto r = run_box(without(SBX_NS_MOUNT), {"/bin/ls", "-A", "/"});
  ASSERT_TRUE(r.exited(0)) << r.describe();
  std::string expected;
  for (const auto& e : list_dir("/")) expected += e + "\n";
  // ls sorts by locale; compare as sets.
  auto got = split_lines(r.out);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, list_dir("/"));
}

TEST(Namespaces, IpcNamespaceHidesHostSysvObjects) {
  int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
  ASSERT_GE(id, 0);
  const std::string sid = std::to_string(id);
  auto isolated = run({"/bin/cat", "/proc/sysvipc/shm"});
  auto shared = run_box(without(SBX_NS_IPC), {"/bin/cat", "/proc/sysvipc/shm"});
  shmctl(id, IPC_RMID, nullptr);
  ASSERT_TRUE(isolated.exited(0)) << isolated.describe();
  ASSERT_TRUE(shared.exited(0)) << shared.describe();
  auto has_id = [&](const std::string& text) {
    for (const auto& l : split_lines(text)) {
      auto w = split_words(l);
      if (w.size() > 1 && w[1] == sid) return true;
    }
    return false;
  };
  EXPECT_FALSE(has_id(isolated.out)) << isolated.out;
  EXPECT_TRUE(has_id(shared.out)) << shared.out;
}

TEST(Namespaces, CgroupNamespaceRootsTheCgroupPaths) {
  std::string host = read_file("/proc/self/cgroup");
  if (all_cgroups_root(host)) GTEST_SKIP() << "the test process is in the root cgroup everywhere";
  auto isolated = run({"/bin/cat", "/proc/self/cgroup"});
  auto shared = run_box(without(SBX_NS_CGROUP), {"/bin/cat", "/proc/self/cgroup"});
  ASSERT_TRUE(isolated.exited(0)) << isolated.describe();
  ASSERT_TRUE(shared.exited(0)) << shared.describe();
  EXPECT_TRUE(all_cgroups_root(isolated.out)) << isolated.out;
  EXPECT_FALSE(all_cgroups_root(shared.out)) << shared.out;
}

TEST(Namespaces, WithoutUserNamespace) {
  Resources before = snapshot();
  auto r = run_box(without(SBX_NS_USER), {"/bin/sh", "-c", "id -u; id -g; grep CapEff /proc/self/status"});
  if (is_root()) {
    // Root may do it; the program runs as nobody, without capabilities.
    ASSERT_TRUE(r.exited(0)) << r.describe();
    EXPECT_EQ(r.out, "65534\n65534\nCapEff:\t0000000000000000\n");
  } else {
    // An unprivileged host cannot create the other namespaces without one.
    EXPECT_EQ(r.status, SBX_E_SETUP) << r.describe();
    EXPECT_EQ(r.error.step, "clone3");
    EXPECT_EQ(r.error.sys_errno, EPERM);
    EXPECT_NE(r.error.message.find("SBX_NS_USER"), std::string::npos) << r.error.message;
  }
  EXPECT_EQ(snapshot(), before);
}
