// The classic launch mode (the box process is a copy of the host and pid 1
// an in-process init) is what other architectures and hosts that forbid
// executable memfds get. It is forced here so that it stays proven on this
// machine too; the integration suite covers the default (shim) mode.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <string>

#include "core/box/box.hpp"
#include "core/common/error.hpp"
#include "core/launch/launcher.hpp"

namespace sbx {
namespace {

class ClassicLaunch : public ::testing::Test {
 protected:
  void SetUp() override { force_classic_launch_for_tests(true); }
  void TearDown() override { force_classic_launch_for_tests(false); }

  // Runs ARGV in a default box and returns (record, stdout).
  std::pair<ExitRecord, std::string> run(std::vector<std::string> argv, unsigned ns = SBX_NS_ALL) {
    BoxConfig cfg;
    cfg.set_namespaces(ns);
    Box box(cfg);
    ProcSpec spec;
    std::vector<const char*> a;
    for (auto& s : argv) a.push_back(s.c_str());
    spec.set_argv(a.size(), a.data());
    spec.set_stdio(SBX_STDOUT, SBX_STDIO_PIPE, nullptr, -1);
    auto proc = box.spawn(spec);
    int fd = proc->take_stdio(SBX_STDOUT);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    close(fd);
    ExitRecord rec;
    EXPECT_EQ(proc->wait(-1, &rec), SBX_OK);
    return {rec, out};
  }
};

TEST_F(ClassicLaunch, ExitCodesPidNamespaceAndHiddenHostArgv) {
  auto [rec, out] = run({"/bin/sh", "-c", "echo $$; tr '\\0' ' ' </proc/1/cmdline; echo; exit 7"});
  EXPECT_EQ(rec.kind, SBX_EXIT_EXITED);
  EXPECT_EQ(rec.code, 7);
  EXPECT_EQ(out.substr(0, 2), "2\n") << out;
  EXPECT_NE(out.find("sbx-init"), std::string::npos) << out;
  EXPECT_EQ(out.find("sbx_unit_tests"), std::string::npos) << "host argv visible: " << out;
}

TEST_F(ClassicLaunch, SignalsAndKill) {
  auto [rec, out] = run({"/bin/sh", "-c", "kill -TERM $$"});
  EXPECT_EQ(rec.kind, SBX_EXIT_SIGNALED);
  EXPECT_EQ(rec.signal, SIGTERM);
  EXPECT_EQ(rec.reason, SBX_REASON_NORMAL);

  BoxConfig cfg;
  Box box(cfg);
  ProcSpec spec;
  const char* argv[] = {"/bin/sleep", "100"};
  spec.set_argv(2, argv);
  auto proc = box.spawn(spec);
  EXPECT_EQ(proc->kill(SIGTERM), SBX_OK);
  ExitRecord r2;
  ASSERT_EQ(proc->wait(10000, &r2), SBX_OK);
  EXPECT_EQ(r2.kind, SBX_EXIT_SIGNALED);
  EXPECT_EQ(r2.signal, SIGTERM);
  EXPECT_EQ(r2.reason, SBX_REASON_KILLED);
}

TEST_F(ClassicLaunch, WithoutPidNamespaceTheProgramIsTheChild) {
  auto [rec, out] = run({"/bin/sh", "-c", "exit 3"}, SBX_NS_ALL & ~static_cast<unsigned>(SBX_NS_PID));
  EXPECT_EQ(rec.kind, SBX_EXIT_EXITED);
  EXPECT_EQ(rec.code, 3);
}

TEST_F(ClassicLaunch, SetupFailureIsReported) {
  BoxConfig cfg;
  Box box(cfg);
  ProcSpec spec;
  const char* argv[] = {"/nonexistent/program"};
  spec.set_argv(1, argv);
  try {
    box.spawn(spec);
    FAIL() << "spawn succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), SBX_E_NOTFOUND);
    EXPECT_EQ(e.sys_errno(), ENOENT);
  }
}

}  // namespace
}  // namespace sbx
