// Isolation seen from inside a real box: pid / uts / net namespaces, a fresh
// /proc, fd hygiene, capabilities, environment, identity, working directory.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "box_helper.hpp"

using namespace sbx_it;

namespace {

bool is_number(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

// ------------------------------------------------------------ pid namespace

TEST(PidNamespace, ProgramIsPid2UnderBoxInit) {
  auto r = sh("echo $$; cat /proc/self/stat | cut -d' ' -f4");
  ASSERT_TRUE(r.exited(0)) << r.describe();
  // The shell is pid 2 (pid 1 is the box init); cat is its child, whose
  // parent is therefore 2 as well.
  EXPECT_EQ(r.out, "2\n2\n");
}

TEST(PidNamespace, ProcShowsOnlyTheBoxProcesses) {
  const std::string host_pid = std::to_string(getpid());
  auto r =
      sh("ls /proc; echo ---; if test -e /proc/" + host_pid + "; then echo visible; else echo hidden; fi");
  ASSERT_TRUE(r.exited(0)) << r.describe();
  auto parts = r.out.substr(0, r.out.find("---"));
  std::vector<std::string> pids;
  for (const auto& w : split_words(parts))
    if (is_number(w)) pids.push_back(w);
  // init (1), sh (2), ls (3): a handful, never the host's hundreds.
  EXPECT_GE(pids.size(), 2u) << r.out;
  EXPECT_LE(pids.size(), 4u) << r.out;
  EXPECT_NE(std::find(pids.begin(), pids.end(), "1"), pids.end()) << r.out;
  EXPECT_NE(std::find(pids.begin(), pids.end(), "2"), pids.end()) << r.out;
  for (const auto& p : pids) EXPECT_LT(std::stoi(p), 10) << r.out;
  EXPECT_NE(r.out.find("hidden"), std::string::npos) << "host pid " << host_pid << " is visible: " << r.out;
}

TEST(PidNamespace, FreshProcIsNotTheHosts) {
  std::string host_init = read_file("/proc/1/cmdline");
  auto r = sh("cat /proc/1/cmdline; echo; cut -d' ' -f4 /proc/$$/stat; grep ' /proc ' /proc/self/mountinfo");
  ASSERT_TRUE(r.exited(0)) << r.describe();
  auto lines = split_lines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  // pid 1 in the box is the box init, not the host's init, and it is the
  // program's parent; /proc is a procfs of its own.
  EXPECT_NE(lines[0] + '\0', host_init);
  EXPECT_FALSE(host_init.empty());
  EXPECT_EQ(lines[1], "1");
  EXPECT_NE(lines[2].find(" - proc "), std::string::npos) << lines[2];
}

TEST(PidNamespace, BoxInitDoesNotExposeTheHostCommandLine) {
  std::string self = read_file("/proc/self/cmdline");
  auto r = run({"/bin/cat", "/proc/1/cmdline"});
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_NE(r.out, self) << "the box sees the host's command line";
  EXPECT_EQ(r.out.find("sbx_integration_tests"), std::string::npos) << r.out;
}

TEST(PidNamespace, BoxInitIsNotReadableByTheProgram) {
  // pid 1 is non-dumpable before the program may run: no environ, no exe
  // link, no memory, no ptrace for the program (same uid, no capabilities).
  auto r = sh(
      "for f in environ mem; do cat /proc/1/$f >/dev/null 2>&1 && echo $f:readable || echo $f:denied; done; "
      "readlink /proc/1/exe >/dev/null 2>&1 && echo exe:readable || echo exe:denied");
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_EQ(r.out, "environ:denied\nmem:denied\nexe:denied\n");
}

// ------------------------------------------------------------ uts namespace

TEST(UtsNamespace, DefaultHostnameIsSbx) {
  auto r = sh("uname -n; cat /proc/sys/kernel/hostname; cat /etc/hostname");
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_EQ(r.out, "sbx\nsbx\nsbx\n");
}

TEST(UtsNamespace, CustomHostname) {
  BoxOptions b;
  b.hostname = "box-42.example";
  auto r = sh("uname -n", {}, b);
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_EQ(r.out, "box-42.example\n");
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  EXPECT_NE(std::string(host), "box-42.example") << "the host's hostname changed";
  b.hostname = std::string(64, 'h');  // the longest allowed
  auto l = run_box(b, {"/bin/uname", "-n"});
  ASSERT_TRUE(l.exited(0)) << l.describe();
  EXPECT_EQ(l.out, std::string(64, 'h') + "\n");
}

// ------------------------------------------------------------ net namespace

static const char* kNetProbe = R"PY(
import socket, fcntl, struct
names = sorted(n for _, n in socket.if_nameindex())
print("ifaces=" + ",".join(names))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
req = struct.pack("16sh14x", b"lo", 0)
flags = struct.unpack("16sh14x", fcntl.ioctl(s, 0x8913, req))[1]   # SIOCGIFFLAGS
print("lo_up=%d" % (flags & 1))
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.bind(("127.0.0.1", 0))
srv.listen(1)
c = socket.create_connection(srv.getsockname(), timeout=5)
a, _ = srv.accept()
c.sendall(b"ping")
print("recv=" + a.recv(4).decode())
)PY";

TEST(NetNamespace, OnlyLoopbackAndItIsUp) {
  auto r = sh("cat /proc/net/dev");
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_EQ(net_dev_names(r.out), std::vector<std::string>{"lo"}) << r.out;

  // TCP on the box's own loopback: Landlock denies it unless allowed.
  BoxOptions tcp;
  tcp.configure = [](sbx_config* c, sbx_error** e) {
    return sbx_config_set_landlock(c, SBX_LANDLOCK_ON | SBX_LANDLOCK_ALLOW_TCP, e);
  };
  auto p = run_box(tcp, {"/usr/bin/python3", "-c", kNetProbe});
  ASSERT_TRUE(p.exited(0)) << p.describe();
  EXPECT_NE(p.out.find("ifaces=lo\n"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("lo_up=1\n"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("recv=ping\n"), std::string::npos) << p.out;

  // By default (no network): TCP bind is refused by Landlock (EACCES).
  auto d = run({"/usr/bin/python3", "-c", kNetProbe});
  EXPECT_TRUE(d.exited(1)) << d.describe();
  EXPECT_NE(d.err.find("PermissionError"), std::string::npos) << d.err;
  EXPECT_EQ(d.out.find("recv="), std::string::npos);
}

TEST(NetNamespace, WithoutNetNamespaceHostInterfacesAreVisible) {
  auto host = net_dev_names(read_file("/proc/net/dev"));
  if (host.size() <= 1) GTEST_SKIP() << "the host has only loopback";
  BoxOptions b;
  b.namespaces = SBX_NS_ALL & ~static_cast<unsigned>(SBX_NS_NET);
  auto r = sh("cat /proc/net/dev", {}, b);
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_EQ(net_dev_names(r.out), host) << r.out;
}

// ------------------------------------------------------------ fd hygiene

TEST(FdHygiene, OnlyStdioReachesTheProgram) {
  // Deliberately inheritable host fds: a file and both ends of a pipe.
  Fd file(open("/etc/hostname", O_RDONLY));
  ASSERT_TRUE(file) << "open /etc/hostname";
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  Fd prd(p[0]), pwr(p[1]);
  auto r = sh("ls /proc/$$/fd");
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_EQ(split_words(r.out), (std::vector<std::string>{"0", "1", "2"})) << r.out;
}

TEST(FdHygiene, PreservedFdKeepsItsNumberAndContent) {
  TempDir d;
  write_file(d / "secret.txt", "preserved-content\n");
  // Close-on-exec on the host: preserving must still pass it on.
  Fd keep(open((d / "secret.txt").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(keep);
  Fd other(open("/etc/hostname", O_RDONLY));  // not preserved
  ASSERT_TRUE(other);
  const std::string n = std::to_string(keep.get());
  ProcOptions o;
  o.preserve_fds = {keep.get()};
  auto r = sh("ls /proc/$$/fd; echo ---; cat <&" + n, o);
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_EQ(r.out, "0\n1\n2\n" + n + "\n---\npreserved-content\n");
}

// ------------------------------------------------------------ privileges

TEST(Privileges, NoCapabilitiesAndNoNewPrivs) {
  auto r = run({"/bin/grep", "-E", "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):", "/proc/self/status"});
  ASSERT_TRUE(r.exited(0)) << r.describe();
  int caps = 0;
  bool nnp = false;
  for (const auto& line : split_lines(r.out)) {
    auto w = split_words(line);
    ASSERT_EQ(w.size(), 2u) << line;
    if (w[0] == "NoNewPrivs:") {
      EXPECT_EQ(w[1], "1");
      nnp = true;
    } else {
      EXPECT_EQ(w[1], "0000000000000000") << line;
      ++caps;
    }
  }
  EXPECT_EQ(caps, 5) << r.out;
  EXPECT_TRUE(nnp) << r.out;
}

TEST(Identity, Default1000) {
  auto r = sh("id -u; id -g");
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_EQ(r.out, "1000\n1000\n");
}

TEST(Identity, SetUserIsHonoured) {
  ProcOptions o;
  o.user = std::make_pair(1234u, 2345u);
  BoxOptions b;
  b.mounts = {tmpfs("/tmp")};
  auto r = sh("id -u; id -g; touch /tmp/f && stat -c '%u:%g' /tmp/f", o, b);
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_EQ(r.out, "1234\n2345\n1234:2345\n");
}

TEST(Identity, RootInsideTheBoxHasNoCapabilities) {
  ProcOptions o;
  o.user = std::make_pair(0u, 0u);
  auto r = sh("id -u; id -g; grep -E '^Cap(Prm|Eff|Bnd)' /proc/self/status | cut -f2", o);
  ASSERT_TRUE(r.exited(0)) << r.describe();
  // execve as uid 0 grants no capability: the bounding set is empty.
  EXPECT_EQ(r.out, "0\n0\n0000000000000000\n0000000000000000\n0000000000000000\n");
}

// ------------------------------------------------------------ environment

TEST(Environment, CleanSetAndAllowed) {
  ASSERT_EQ(setenv("SBX_IT_HOST_SECRET", "must-not-leak", 1), 0);
  ASSERT_EQ(setenv("SBX_IT_ALLOWED", "copied-from-host", 1), 0);
  ProcOptions o;
  o.env = {"SBX_IT_SET=explicit value", "HOME=/home/box"};
  o.allow_env = {"SBX_IT_ALLOWED", "SBX_IT_NOT_SET_ON_HOST"};
  auto r = run({"/usr/bin/env"}, o);
  unsetenv("SBX_IT_HOST_SECRET");
  unsetenv("SBX_IT_ALLOWED");
  ASSERT_TRUE(r.exited(0)) << r.describe();
  auto lines = split_lines(r.out);
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "HOME=/home/box",
                       "PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
                       "SBX_IT_ALLOWED=copied-from-host",
                       "SBX_IT_SET=explicit value",
                   }))
      << r.out;
}

// ------------------------------------------------------------ cwd

TEST(WorkingDirectory, SetCwd) {
  ProcOptions o;
  o.cwd = "/usr/bin";
  auto r = run({"/bin/pwd"}, o);
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_EQ(r.out, "/usr/bin\n");
  auto d = run({"/bin/pwd"});
  ASSERT_TRUE(d.exited(0)) << d.describe();
  EXPECT_EQ(d.out, "/\n");
}

TEST(WorkingDirectory, MissingCwdIsASetupError) {
  Resources before = snapshot();
  ProcOptions o;
  o.cwd = "/does/not/exist";
  auto r = run({"/bin/true"}, o);
  EXPECT_EQ(r.status, SBX_E_SETUP) << r.describe();
  EXPECT_EQ(r.failed_call, "sbx_box_spawn");
  EXPECT_EQ(r.error.step, "chdir");
  EXPECT_EQ(r.error.sys_errno, ENOENT);
  EXPECT_NE(r.error.message.find("/does/not/exist"), std::string::npos) << r.error.message;
  EXPECT_EQ(snapshot(), before) << "before " << before.describe() << " after " << snapshot().describe();
}
