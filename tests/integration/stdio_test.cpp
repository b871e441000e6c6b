// Standard streams of a boxed program: NULL, FILE, FD, PIPE, stderr merged
// into stdout, and the ownership of pipe ends.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "box_helper.hpp"

using namespace sbx_it;

TEST(Stdio, NullStdinReadsEofEvenIfTheHostStdinHasData) {
  // Put data on the test process's own fd 0: if NULL mode were ignored (and
  // the host stdin inherited), the program would read it.
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  ASSERT_EQ(write(p[1], "LEAKED-HOST-STDIN\n", 18), 18);
  close(p[1]);
  Fd saved(dup(0));
  ASSERT_TRUE(saved);
  ASSERT_EQ(dup2(p[0], 0), 0);
  close(p[0]);
  ProcOptions o;
  o.stdio[SBX_STDIN] = StdioOverride{SBX_STDIO_NULL, "", -1};
  auto r = sh("cat; echo cat-rc=$?; readlink /proc/self/fd/0", o);
  // And the default (INHERIT) does see it, which proves the setup works.
  ProcOptions inherit;
  inherit.stdio[SBX_STDIN] = StdioOverride{SBX_STDIO_INHERIT, "", -1};
  auto i = sh("cat", inherit);
  dup2(saved.get(), 0);
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_EQ(r.out, "cat-rc=0\n/dev/null\n");
  ASSERT_TRUE(i.exited(0)) << i.describe();
  EXPECT_EQ(i.out, "LEAKED-HOST-STDIN\n");
}

TEST(Stdio, FileForStdinAndStdout) {
  TempDir d;
  write_file(d / "in.txt", "line one\nline two\n");
  write_file(d / "out.txt", "old content that must be truncated away\n");
  ProcOptions o;
  o.stdio[SBX_STDIN] = StdioOverride{SBX_STDIO_FILE, d / "in.txt", -1};
  o.stdio[SBX_STDOUT] = StdioOverride{SBX_STDIO_FILE, d / "out.txt", -1};
  o.stdio[SBX_STDERR] = StdioOverride{SBX_STDIO_FILE, d / "err.txt", -1};
  auto r = sh("tr a-z A-Z; echo to-stderr >&2", o);
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_EQ(r.out, "");  // nothing captured: it went to the files
  EXPECT_EQ(read_file(d / "out.txt"), "LINE ONE\nLINE TWO\n");
  EXPECT_EQ(read_file(d / "err.txt"), "to-stderr\n");
}

TEST(Stdio, MissingStdinFileFailsWithoutLeaking) {
  TempDir d;
  Resources before = snapshot();
  ProcOptions o;
  o.stdio[SBX_STDIN] = StdioOverride{SBX_STDIO_FILE, d / "missing.txt", -1};
  auto r = run({"/bin/cat"}, o);
  EXPECT_NE(r.status, SBX_OK) << r.describe();
  EXPECT_EQ(r.failed_call, "sbx_box_spawn");
  EXPECT_NE(r.error.message.find(d / "missing.txt"), std::string::npos) << r.error.message;
  EXPECT_EQ(snapshot(), before);
}

TEST(Stdio, FdMode) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  Fd rd(p[0]), wr(p[1]);
  ProcOptions o;
  o.stdio[SBX_STDOUT] = StdioOverride{SBX_STDIO_FD, "", wr.get()};
  RunResult res;
  auto r = start_box({}, {"/bin/sh", "-c", "echo via-fd; echo on-stderr >&2"}, o, &res);
  ASSERT_TRUE(r) << res.describe();
  wr.reset();  // the box has its own copy now
  std::string got;
  char buf[256];
  ssize_t n;
  while ((n = read(rd.get(), buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
  RunResult fin = collect(*r);
  ASSERT_TRUE(fin.exited(0)) << fin.describe();
  EXPECT_EQ(got, "via-fd\n");
  EXPECT_EQ(fin.out, "");
  EXPECT_EQ(fin.err, "on-stderr\n");
}

TEST(Stdio, StderrMergedIntoStdout) {
  ProcOptions o;
  o.stdio[SBX_STDERR] = StdioOverride{SBX_STDIO_STDOUT, "", -1};
  RunResult res;
  auto r = start_box({}, {"/bin/sh", "-c", "echo one; echo two >&2; echo three"}, o, &res);
  ASSERT_TRUE(r) << res.describe();
  int fd = -1;
  sbx_error* err = nullptr;
  int rc = sbx_proc_take_stdio(r->proc.get(), SBX_STDERR, &fd, &err);
  EXPECT_EQ(rc, SBX_E_STATE) << "stderr is not a pipe of its own";
  EXPECT_EQ(fd, -1);
  take_error(rc, &err);
  RunResult fin = collect(*r);
  ASSERT_TRUE(fin.exited(0)) << fin.describe();
  EXPECT_EQ(fin.out, "one\ntwo\nthree\n");
  EXPECT_EQ(fin.err, "");
}

TEST(Stdio, PipeStdinIsEchoedBack) {
  std::string data;
  for (int i = 0; i < 20000; ++i) data += "line " + std::to_string(i) + "\n";  // > a pipe buffer
  ProcOptions o;
  o.stdin_data = data;
  auto r = run({"/bin/cat"}, o);
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_EQ(r.out.size(), data.size());
  EXPECT_TRUE(r.out == data);
}

TEST(Stdio, LargeOutputOnBothStreams) {
  // 1 MiB on each stream at once: neither pipe may fill up and block.
  auto r = sh("head -c 1048576 /dev/zero | tr '\\0' o & head -c 1048576 /dev/zero | tr '\\0' e >&2; wait");
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_EQ(r.out, std::string(1 << 20, 'o'));
  EXPECT_EQ(r.err, std::string(1 << 20, 'e'));
}

TEST(Stdio, TakeStdioTwiceIsAStateError) {
  RunResult res;
  auto r = start_box({}, {"/bin/true"}, {}, &res);
  ASSERT_TRUE(r) << res.describe();
  // start_box took stdout and stderr already.
  for (int which : {SBX_STDOUT, SBX_STDERR, SBX_STDIN}) {
    int fd = 12345;
    sbx_error* err = nullptr;
    int rc = sbx_proc_take_stdio(r->proc.get(), which, &fd, &err);
    EXPECT_EQ(rc, SBX_E_STATE) << which;
    EXPECT_EQ(fd, -1);
    ErrorInfo e = take_error(rc, &err);
    EXPECT_TRUE(e.had_error_object);
  }
  collect(*r);
}
