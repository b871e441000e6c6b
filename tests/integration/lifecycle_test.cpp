// Processes in real boxes: exit codes, signals, kill, waits (timeout,
// interrupt, sticky), the pollable fd, exec failures, box states, and a
// multithreaded host.
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "box_helper.hpp"

using namespace sbx_it;
using namespace std::chrono_literals;

namespace {

// A running `sleep 100` (or ARGV) in a default box.
Running start(const std::vector<std::string>& argv = {"/bin/sleep", "100"}, const ProcOptions& o = {}) {
  RunResult res;
  auto r = start_box({}, argv, o, &res);
  if (!r) throw std::runtime_error("start_box failed: " + res.describe());
  return std::move(*r);
}

int64_t ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
}

bool same_record(const sbx_exit_status& a, const sbx_exit_status& b) {
  return a.size == b.size && a.kind == b.kind && a.code == b.code && a.signal == b.signal &&
         a.core_dumped == b.core_dumped && a.reason == b.reason && a.pid == b.pid && a.wall_ns == b.wall_ns;
}

std::string rec(const sbx_exit_status& s) {
  return "{kind=" + std::to_string(s.kind) + " code=" + std::to_string(s.code) +
         " signal=" + std::to_string(s.signal) + " core=" + std::to_string(s.core_dumped) +
         " reason=" + std::to_string(s.reason) + " pid=" + std::to_string(s.pid) +
         " wall_ns=" + std::to_string(s.wall_ns) + "}";
}

sbx_box_state state_of(sbx_box* box) {
  sbx_box_state s = SBX_BOX_FAILED;
  EXPECT_EQ(sbx_box_state_get(box, &s), SBX_OK);
  return s;
}

}  // namespace

// ------------------------------------------------------------ exit codes

TEST(ExitStatus, Codes) {
  for (int code : {0, 7, 255}) {
    auto r = sh("exit " + std::to_string(code));
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.exit.kind, SBX_EXIT_EXITED) << code;
    EXPECT_EQ(r.exit.code, code);
    EXPECT_EQ(r.exit.signal, 0);
    EXPECT_EQ(r.exit.reason, SBX_REASON_NORMAL);
    EXPECT_EQ(sbx_exit_shell_code(&r.exit), code);
    EXPECT_GT(r.exit.pid, 0);
    EXPECT_GT(r.exit.wall_ns, 0u);
  }
  auto f = run({"/bin/false"});
  ASSERT_TRUE(f.ok()) << f.describe();
  EXPECT_EQ(f.exit.kind, SBX_EXIT_EXITED);
  EXPECT_EQ(f.exit.code, 1);
}

TEST(ExitStatus, SignalledBySelf) {
  auto t = sh("kill -TERM $$; sleep 5");
  ASSERT_TRUE(t.ok()) << t.describe();
  EXPECT_EQ(t.exit.kind, SBX_EXIT_SIGNALED) << t.describe();
  EXPECT_EQ(t.exit.signal, SIGTERM);
  EXPECT_EQ(t.exit.code, 0);
  EXPECT_EQ(t.exit.reason, SBX_REASON_NORMAL);  // nobody asked sbx to kill it
  EXPECT_EQ(sbx_exit_shell_code(&t.exit), 143);

  auto s = sh("kill -SEGV $$; sleep 5");
  ASSERT_TRUE(s.ok()) << s.describe();
  EXPECT_EQ(s.exit.kind, SBX_EXIT_SIGNALED) << s.describe();
  EXPECT_EQ(s.exit.signal, SIGSEGV);
  EXPECT_EQ(sbx_exit_shell_code(&s.exit), 128 + SIGSEGV);
  EXPECT_TRUE(s.exit.core_dumped == 0 || s.exit.core_dumped == 1);
  struct rlimit rl;
  if (getrlimit(RLIMIT_CORE, &rl) == 0 && rl.rlim_cur == 0) {
    EXPECT_EQ(s.exit.core_dumped, 0) << "RLIMIT_CORE is 0: no core can have been dumped";
  }
}

// ------------------------------------------------------------ kill

TEST(Kill, SigtermAndSigkillThroughTheBox) {
  for (int sig : {SIGTERM, SIGKILL}) {
    SCOPED_TRACE(strsignal(sig));
    Running r = start();
    sbx_error* err = nullptr;
    EXPECT_EQ(sbx_box_kill(r.box.get(), 0, &err), SBX_OK) << take_error(SBX_OK, &err).describe();
    EXPECT_EQ(state_of(r.box.get()), SBX_BOX_RUNNING);
    ASSERT_EQ(sbx_box_kill(r.box.get(), sig, &err), SBX_OK) << take_error(SBX_OK, &err).describe();
    sbx_exit_status st = SBX_EXIT_STATUS_INIT;
    ASSERT_EQ(sbx_proc_wait(r.proc.get(), 10000, &st, &err), SBX_OK) << take_error(SBX_OK, &err).describe();
    EXPECT_EQ(st.kind, SBX_EXIT_SIGNALED) << rec(st);
    EXPECT_EQ(st.signal, sig) << rec(st);
    EXPECT_EQ(st.reason, SBX_REASON_KILLED) << rec(st);
    EXPECT_EQ(sbx_exit_shell_code(&st), 128 + sig);
    EXPECT_EQ(state_of(r.box.get()), SBX_BOX_STOPPED);
    // Reaped: nothing left to signal, with or without a real signal.
    int rc = sbx_box_kill(r.box.get(), 0, &err);
    EXPECT_EQ(rc, SBX_E_STATE);
    ErrorInfo e = take_error(rc, &err);
    EXPECT_TRUE(e.had_error_object);
    EXPECT_EQ(sbx_box_kill(r.box.get(), SIGTERM, nullptr), SBX_E_STATE);
    EXPECT_EQ(sbx_proc_kill(r.proc.get(), 0, nullptr), SBX_E_STATE);
  }
}

TEST(Kill, ProcKill) {
  Running r = start();
  EXPECT_EQ(sbx_proc_kill(r.proc.get(), 0, nullptr), SBX_OK);
  ASSERT_EQ(sbx_proc_kill(r.proc.get(), SIGKILL, nullptr), SBX_OK);
  sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  ASSERT_EQ(sbx_proc_wait(r.proc.get(), 10000, &st, nullptr), SBX_OK);
  EXPECT_EQ(st.kind, SBX_EXIT_SIGNALED);
  EXPECT_EQ(st.signal, SIGKILL);
  EXPECT_EQ(st.reason, SBX_REASON_KILLED);
}

// ------------------------------------------------------------ waiting

TEST(Wait, TimeoutReturnsQuicklyAndChangesNothing) {
  Running r = start();
  sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  st.kind = 42;
  st.code = 43;
  st.signal = 44;
  st.reason = 45;
  st.pid = 46;
  st.wall_ns = 47;
  sbx_exit_status copy = st;
  sbx_error* err = nullptr;
  auto t0 = std::chrono::steady_clock::now();
  int rc = sbx_proc_wait(r.proc.get(), 100, &st, &err);
  auto elapsed = ms_since(t0);
  EXPECT_EQ(rc, SBX_E_TIMEOUT);
  ErrorInfo e = take_error(rc, &err);
  EXPECT_EQ(e.code, SBX_E_TIMEOUT);
  EXPECT_GE(elapsed, 90);  // it did wait; that it came back at all is the point
  EXPECT_TRUE(same_record(st, copy)) << rec(st);
  // Polling (0) as well.
  EXPECT_EQ(sbx_proc_wait(r.proc.get(), 0, &st, nullptr), SBX_E_TIMEOUT);
  EXPECT_EQ(sbx_box_wait(r.box.get(), 50, &st, nullptr), SBX_E_TIMEOUT);
  EXPECT_TRUE(same_record(st, copy)) << rec(st);
  EXPECT_EQ(sbx_proc_kill(r.proc.get(), 0, nullptr), SBX_OK) << "the timeout disturbed the process";
  EXPECT_EQ(state_of(r.box.get()), SBX_BOX_RUNNING);
  // A later wait succeeds.
  ASSERT_EQ(sbx_box_kill(r.box.get(), SIGTERM, nullptr), SBX_OK);
  sbx_exit_status fin = SBX_EXIT_STATUS_INIT;
  ASSERT_EQ(sbx_proc_wait(r.proc.get(), -1, &fin, nullptr), SBX_OK);
  EXPECT_EQ(fin.kind, SBX_EXIT_SIGNALED);
  EXPECT_EQ(fin.signal, SIGTERM);
}

TEST(Wait, InterruptFromAnotherThread) {
  Running r = start();
  // sbx_proc_interrupt wakes a blocked sbx_proc_wait.
  {
    std::atomic<bool> done{false};
    sbx_exit_status st = SBX_EXIT_STATUS_INIT;
    auto fut = std::async(std::launch::async, [&] {
      int rc = sbx_proc_wait(r.proc.get(), -1, &st, nullptr);
      done = true;
      return rc;
    });
    // Waits started after an interrupt are not affected, so keep
    // interrupting until the waiter (which may not have started yet) wakes.
    auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(50ms);
    while (!done && ms_since(t0) < 10000) {
      EXPECT_EQ(sbx_proc_interrupt(r.proc.get(), nullptr), SBX_OK);
      std::this_thread::sleep_for(20ms);
    }
    if (!done) sbx_box_kill(r.box.get(), SIGKILL, nullptr);  // unblock the waiter before failing
    ASSERT_TRUE(done) << "sbx_proc_wait(-1) was not interrupted";
    EXPECT_EQ(fut.get(), SBX_E_INTERRUPTED);
    EXPECT_EQ(st.kind, SBX_EXIT_NONE);
  }
  // sbx_box_interrupt wakes both a box wait and a process wait.
  {
    std::atomic<int> done{0};
    sbx_exit_status s1 = SBX_EXIT_STATUS_INIT, s2 = SBX_EXIT_STATUS_INIT;
    auto f1 = std::async(std::launch::async, [&] {
      int rc = sbx_box_wait(r.box.get(), -1, &s1, nullptr);
      ++done;
      return rc;
    });
    auto f2 = std::async(std::launch::async, [&] {
      int rc = sbx_proc_wait(r.proc.get(), 30000, &s2, nullptr);
      ++done;
      return rc;
    });
    auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(50ms);
    while (done < 2 && ms_since(t0) < 10000) {
      EXPECT_EQ(sbx_box_interrupt(r.box.get(), nullptr), SBX_OK);
      std::this_thread::sleep_for(20ms);
    }
    if (done < 2) sbx_box_kill(r.box.get(), SIGKILL, nullptr);  // unblock the waiters before failing
    ASSERT_EQ(done, 2) << "sbx_box_interrupt did not wake every wait";
    EXPECT_EQ(f1.get(), SBX_E_INTERRUPTED);
    EXPECT_EQ(f2.get(), SBX_E_INTERRUPTED);
  }
  // Nothing changed: still running, and a new wait is not interrupted.
  EXPECT_EQ(sbx_proc_kill(r.proc.get(), 0, nullptr), SBX_OK);
  sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  EXPECT_EQ(sbx_proc_wait(r.proc.get(), 100, &st, nullptr), SBX_E_TIMEOUT);
  ASSERT_EQ(sbx_box_kill(r.box.get(), SIGKILL, nullptr), SBX_OK);
  ASSERT_EQ(sbx_proc_wait(r.proc.get(), -1, &st, nullptr), SBX_OK);
  EXPECT_EQ(st.signal, SIGKILL);
}

TEST(Wait, StatusIsStickyAcrossWaiters) {
  ProcOptions o;
  o.stdio[SBX_STDIN] = StdioOverride{SBX_STDIO_PIPE, "", -1};  // the program ends when we close it
  Running r = start({"/bin/sh", "-c", "read x; exit 5"}, o);
  std::vector<std::future<std::pair<int, sbx_exit_status>>> waiters;
  for (int i = 0; i < 3; ++i) {
    waiters.push_back(std::async(std::launch::async, [&r, i] {
      sbx_exit_status st = SBX_EXIT_STATUS_INIT;
      int rc = i == 2 ? sbx_box_wait(r.box.get(), 20000, &st, nullptr)
                      : sbx_proc_wait(r.proc.get(), 20000, &st, nullptr);
      return std::make_pair(rc, st);
    }));
  }
  std::this_thread::sleep_for(100ms);
  r.in.reset();  // EOF: `read` returns, the shell exits 5
  std::vector<sbx_exit_status> recs;
  for (auto& f : waiters) {
    auto [rc, st] = f.get();
    EXPECT_EQ(rc, SBX_OK);
    recs.push_back(st);
  }
  // Waits after the end: a box poll, a process poll, a blocking wait.
  sbx_exit_status late[3] = {SBX_EXIT_STATUS_INIT, SBX_EXIT_STATUS_INIT, SBX_EXIT_STATUS_INIT};
  EXPECT_EQ(sbx_box_wait(r.box.get(), 0, &late[0], nullptr), SBX_OK);
  EXPECT_EQ(sbx_proc_wait(r.proc.get(), 0, &late[1], nullptr), SBX_OK);
  EXPECT_EQ(sbx_proc_wait(r.proc.get(), -1, &late[2], nullptr), SBX_OK);
  recs.insert(recs.end(), late, late + 3);
  EXPECT_EQ(recs[0].kind, SBX_EXIT_EXITED);
  EXPECT_EQ(recs[0].code, 5);
  for (const auto& s : recs) EXPECT_TRUE(same_record(s, recs[0])) << rec(s) << " vs " << rec(recs[0]);
}

TEST(Wait, PollfdBecomesReadableOnExit) {
  ProcOptions o;
  o.stdio[SBX_STDIN] = StdioOverride{SBX_STDIO_PIPE, "", -1};
  Running r = start({"/bin/sh", "-c", "read x"}, o);
  int pfd = -1;
  ASSERT_EQ(sbx_proc_pollfd(r.proc.get(), &pfd), SBX_OK);
  ASSERT_GE(pfd, 0);
  struct pollfd p = {pfd, POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 100), 0) << "readable while the program runs";
  r.in.reset();
  p.revents = 0;
  ASSERT_EQ(poll(&p, 1, 10000), 1);
  EXPECT_TRUE(p.revents & POLLIN);
  sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  EXPECT_EQ(sbx_proc_wait(r.proc.get(), 0, &st, nullptr), SBX_OK);
  EXPECT_EQ(st.kind, SBX_EXIT_EXITED);
  pid_t pid = 0;
  EXPECT_EQ(sbx_proc_pid(r.proc.get(), &pid), SBX_OK);
  EXPECT_EQ(pid, st.pid);
}

// ------------------------------------------------------------ exec errors

TEST(Exec, NotFound) {
  Resources before = snapshot();
  for (const char* prog : {"/nonexistent", "/usr/bin/sbx-it-no-such-program", "sbx-it-no-such-program"}) {
    SCOPED_TRACE(prog);
    auto r = run({prog});
    EXPECT_EQ(r.status, SBX_E_NOTFOUND) << r.describe();
    EXPECT_EQ(r.error.sys_errno, ENOENT) << r.error.describe();
    EXPECT_EQ(r.error.step, "execve");
    EXPECT_NE(r.error.message.find(prog), std::string::npos) << r.error.message;
  }
  EXPECT_EQ(snapshot(), before);
  // A bare name that does exist is found through PATH.
  auto ok = run({"echo", "found"});
  ASSERT_TRUE(ok.exited(0)) << ok.describe();
  EXPECT_EQ(ok.out, "found\n");
}

// ------------------------------------------------------------ box states

TEST(BoxState, ConfiguredRunningStopped) {
  sbx_config* cfg = nullptr;
  ASSERT_EQ(sbx_config_new(&cfg, nullptr), SBX_OK);
  ConfigPtr c(cfg);
  sbx_box* b = nullptr;
  ASSERT_EQ(sbx_box_create(&b, cfg, nullptr), SBX_OK);
  BoxPtr box(b);
  EXPECT_EQ(state_of(b), SBX_BOX_CONFIGURED);
  EXPECT_EQ(sbx_box_kill(b, 0, nullptr), SBX_E_STATE) << "nothing runs yet";
  sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  EXPECT_EQ(sbx_box_wait(b, 0, &st, nullptr), SBX_E_STATE) << "nothing to wait for yet";

  sbx_spec* s = nullptr;
  ASSERT_EQ(sbx_spec_new(&s, nullptr), SBX_OK);
  SpecPtr spec(s);
  const char* argv[] = {"/bin/sleep", "100"};
  ASSERT_EQ(sbx_spec_set_argv(s, 2, argv, nullptr), SBX_OK);
  ASSERT_EQ(sbx_spec_set_stdio(s, SBX_STDOUT, SBX_STDIO_NULL, nullptr, -1, nullptr), SBX_OK);
  sbx_proc* p = nullptr;
  ASSERT_EQ(sbx_box_spawn(b, s, &p, nullptr), SBX_OK);
  ProcPtr proc(p);
  EXPECT_EQ(state_of(b), SBX_BOX_RUNNING);

  // One process per box in this version.
  Resources before = snapshot();
  sbx_proc* p2 = nullptr;
  sbx_error* err = nullptr;
  int rc = sbx_box_spawn(b, s, &p2, &err);
  EXPECT_EQ(rc, SBX_E_STATE);
  EXPECT_EQ(p2, nullptr);
  ErrorInfo e = take_error(rc, &err);
  EXPECT_TRUE(e.had_error_object);
  EXPECT_EQ(state_of(b), SBX_BOX_RUNNING);
  EXPECT_EQ(snapshot(), before);

  ASSERT_EQ(sbx_box_kill(b, SIGKILL, nullptr), SBX_OK);
  ASSERT_EQ(sbx_box_wait(b, 10000, &st, nullptr), SBX_OK);
  EXPECT_EQ(state_of(b), SBX_BOX_STOPPED);
  EXPECT_EQ(sbx_box_spawn(b, s, &p2, nullptr), SBX_E_STATE) << "a stopped box cannot be reused";
  EXPECT_EQ(p2, nullptr);
}

TEST(BoxState, StoppedWithoutAnExplicitWait) {
  Running r = start({"/bin/true"});
  sbx_box_state s = SBX_BOX_RUNNING;
  for (int i = 0; i < 500 && s != SBX_BOX_STOPPED; ++i) {
    std::this_thread::sleep_for(10ms);
    s = state_of(r.box.get());
  }
  EXPECT_EQ(s, SBX_BOX_STOPPED);
}

TEST(BoxState, FailedAfterASetupFailure) {
  sbx_config* cfg = nullptr;
  ASSERT_EQ(sbx_config_new(&cfg, nullptr), SBX_OK);
  ConfigPtr c(cfg);
  sbx_box* b = nullptr;
  ASSERT_EQ(sbx_box_create(&b, cfg, nullptr), SBX_OK);
  BoxPtr box(b);
  sbx_spec* s = nullptr;
  ASSERT_EQ(sbx_spec_new(&s, nullptr), SBX_OK);
  SpecPtr spec(s);
  const char* argv[] = {"/bin/true"};
  ASSERT_EQ(sbx_spec_set_argv(s, 1, argv, nullptr), SBX_OK);
  ASSERT_EQ(sbx_spec_set_cwd(s, "/no/such/dir", nullptr), SBX_OK);
  Resources before = snapshot();
  sbx_proc* p = nullptr;
  EXPECT_EQ(sbx_box_spawn(b, s, &p, nullptr), SBX_E_SETUP);
  EXPECT_EQ(p, nullptr);
  EXPECT_EQ(state_of(b), SBX_BOX_FAILED);
  EXPECT_EQ(snapshot(), before);
  // A failed box stays failed.
  ASSERT_EQ(sbx_spec_set_cwd(s, "/", nullptr), SBX_OK);
  EXPECT_EQ(sbx_box_spawn(b, s, &p, nullptr), SBX_E_STATE);
  EXPECT_EQ(sbx_box_kill(b, 0, nullptr), SBX_E_STATE);
  EXPECT_EQ(state_of(b), SBX_BOX_FAILED);
}

TEST(BoxState, ConcurrentSpawnsIntoOneBox) {
  sbx_config* cfg = nullptr;
  ASSERT_EQ(sbx_config_new(&cfg, nullptr), SBX_OK);
  ConfigPtr c(cfg);
  sbx_box* b = nullptr;
  ASSERT_EQ(sbx_box_create(&b, cfg, nullptr), SBX_OK);
  BoxPtr box(b);
  sbx_spec* s = nullptr;
  ASSERT_EQ(sbx_spec_new(&s, nullptr), SBX_OK);
  SpecPtr spec(s);
  const char* argv[] = {"/bin/sleep", "100"};
  ASSERT_EQ(sbx_spec_set_argv(s, 2, argv, nullptr), SBX_OK);
  std::vector<std::future<std::pair<int, sbx_proc*>>> f;
  for (int i = 0; i < 4; ++i)
    f.push_back(std::async(std::launch::async, [b, s] {
      sbx_proc* p = nullptr;
      int rc = sbx_box_spawn(b, s, &p, nullptr);
      return std::make_pair(rc, p);
    }));
  int ok = 0, state = 0;
  std::vector<ProcPtr> procs;
  for (auto& x : f) {
    auto [rc, p] = x.get();
    procs.emplace_back(p);
    if (rc == SBX_OK) ++ok;
    if (rc == SBX_E_STATE) ++state;
    if (rc != SBX_OK) {
      EXPECT_EQ(p, nullptr);
    }
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(state, 3);
}

TEST(BoxState, ProcessHandleOutlivesTheBox) {
  Running r = start();
  sbx_proc* p = r.proc.release();
  ProcPtr proc(p);
  r.box.reset();  // kills and reaps what runs in the box
  sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  ASSERT_EQ(sbx_proc_wait(p, 0, &st, nullptr), SBX_OK);
  EXPECT_EQ(st.kind, SBX_EXIT_SIGNALED);
  EXPECT_EQ(st.signal, SIGKILL);
  EXPECT_EQ(sbx_proc_kill(p, 0, nullptr), SBX_E_STATE);
}

TEST(BoxState, FreeingARunningBoxKillsAndReapsIt) {
  Resources before = snapshot();
  {
    Running r = start();
    pid_t pid = 0;
    ASSERT_EQ(sbx_proc_pid(r.proc.get(), &pid), SBX_OK);
    EXPECT_EQ(kill(pid, 0), 0);
    // Running's members are destroyed: pipes, then the proc, then the box.
  }
  EXPECT_EQ(snapshot(), before);
}

// ------------------------------------------------------------ many threads

TEST(Concurrency, EightThreadsFiveBoxesEach) {
  constexpr int kThreads = 8, kBoxes = 5;
  Resources before = snapshot();
  std::vector<std::future<std::string>> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.push_back(std::async(std::launch::async, [t] {
      std::string problems;
      std::vector<Running> running;
      for (int b = 0; b < kBoxes; ++b) {
        RunResult res;
        ProcOptions o;
        o.env = {"WHO=t" + std::to_string(t) + "b" + std::to_string(b)};
        auto r = start_box({}, {"/bin/sh", "-c", "echo $WHO:$$; exit " + std::to_string(b)}, o, &res);
        if (!r) {
          problems += "spawn t" + std::to_string(t) + "b" + std::to_string(b) + ": " + res.describe() + "\n";
          continue;
        }
        running.push_back(std::move(*r));
      }
      for (size_t b = 0; b < running.size(); ++b) {
        RunResult res = collect(running[b]);
        std::string want = "t" + std::to_string(t) + "b" + std::to_string(b) + ":2\n";
        if (!res.exited(static_cast<int>(b)) || res.out != want)
          problems += "t" + std::to_string(t) + "b" + std::to_string(b) + ": want '" + want + "' got " +
                      res.describe() + "\n";
      }
      return problems;
    }));
  }
  for (auto& f : threads) EXPECT_EQ(f.get(), "");
  EXPECT_EQ(snapshot(), before);
}

// ------------------------------------------------------------ known bugs

TEST(Kill, AfterTheEndBeforeTheReapIsNotAKill) {
  ProcOptions o;
  o.stdio[SBX_STDOUT] = StdioOverride{SBX_STDIO_NULL, "", -1};
  o.stdio[SBX_STDERR] = StdioOverride{SBX_STDIO_NULL, "", -1};
  Running r = start({"/bin/sh", "-c", "kill -SEGV $$"}, o);
  int pfd = -1;
  ASSERT_EQ(sbx_proc_pollfd(r.proc.get(), &pfd), SBX_OK);
  struct pollfd p = {pfd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 10000), 1) << "the program did not end";
  // Ended (the pollfd says so), not reaped: nothing is running any more.
  EXPECT_EQ(sbx_box_kill(r.box.get(), 0, nullptr), SBX_E_STATE);
  EXPECT_EQ(sbx_box_kill(r.box.get(), SIGTERM, nullptr), SBX_E_STATE);
  sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  ASSERT_EQ(sbx_proc_wait(r.proc.get(), -1, &st, nullptr), SBX_OK);
  EXPECT_EQ(st.kind, SBX_EXIT_SIGNALED);
  EXPECT_EQ(st.signal, SIGSEGV);
  EXPECT_EQ(st.reason, SBX_REASON_NORMAL) << "the program killed itself; sbx's signal came after the end";
}

// ------------------------------------------------------------ the host is not disturbed

namespace {
std::atomic<int> g_sigchld{0};
void count_sigchld(int) {
  ++g_sigchld;
}
}  // namespace

TEST(HostHygiene, NoSigchldAndWaitpidAnyCannotStealTheStatus) {
  struct sigaction sa = {}, old = {};
  sa.sa_handler = count_sigchld;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(SIGCHLD, &sa, &old), 0);
  g_sigchld = 0;
  ProcOptions o;
  o.stdio[SBX_STDIN] = StdioOverride{SBX_STDIO_PIPE, "", -1};
  Running r = start({"/bin/sh", "-c", "read x; exit 9"}, o);
  r.in.reset();
  int pfd = -1;
  ASSERT_EQ(sbx_proc_pollfd(r.proc.get(), &pfd), SBX_OK);
  struct pollfd p = {pfd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 10000), 1);
  // A host that reaps "any child" (as many runtimes do) must not get it.
  int raw = 0;
  pid_t got = waitpid(-1, &raw, WNOHANG);
  EXPECT_LE(got, 0) << "waitpid(-1) reaped pid " << got;
  sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  ASSERT_EQ(sbx_proc_wait(r.proc.get(), -1, &st, nullptr), SBX_OK);
  EXPECT_EQ(st.kind, SBX_EXIT_EXITED);
  EXPECT_EQ(st.code, 9);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(g_sigchld.load(), 0) << "the host received SIGCHLD for a box";
  sigaction(SIGCHLD, &old, nullptr);
}

TEST(BoxInit, LeftoverProcessesDieWithTheProgram) {
  // The background sleep keeps stdout open; it must be killed when the
  // program (the shell) ends, or the output never reaches EOF.
  ProcOptions o;
  o.timeout_ms = 10000;
  auto r = sh("sleep 100 & echo started", o);
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.out, "started\n");
}

TEST(BoxInit, ForwardsCatchableSignalsToTheProgram) {
  ProcOptions o;
  Running r = start(
      {"/bin/sh", "-c", "trap 'echo got-usr1; exit 4' USR1; echo ready; while :; do sleep 0.05; done"}, o);
  // Wait for the trap to be installed.
  std::string out;
  char buf[64];
  while (out.find("ready\n") == std::string::npos) {
    ssize_t n = read(r.out.get(), buf, sizeof buf);
    ASSERT_GT(n, 0);
    out.append(buf, static_cast<size_t>(n));
  }
  ASSERT_EQ(sbx_box_kill(r.box.get(), SIGUSR1, nullptr), SBX_OK);
  RunResult fin = collect(r);
  ASSERT_TRUE(fin.ok()) << fin.describe();
  EXPECT_EQ(fin.out, "got-usr1\n");
  EXPECT_EQ(fin.exit.kind, SBX_EXIT_EXITED);
  EXPECT_EQ(fin.exit.code, 4);
  EXPECT_EQ(fin.exit.reason, SBX_REASON_NORMAL) << "it exited by itself after handling the signal";
}

// ------------------------------------------------------------ review findings

TEST(ExitStatus, HighExitCodesWithoutPidNamespaceAreExitsNotSignals) {
  // Without a box init the shim reports the program's exact status; its own
  // exit code (128+N for signal N) must not be what the record is built from.
  BoxOptions b;
  b.namespaces = SBX_NS_ALL & ~static_cast<unsigned>(SBX_NS_PID);
  for (int code : {128, 130, 255}) {
    auto r = sh("exit " + std::to_string(code), {}, b);
    EXPECT_EQ(r.exit.kind, SBX_EXIT_EXITED) << code;
    EXPECT_EQ(r.exit.code, code);
  }
  auto k = sh("kill -TERM $$", {}, b);
  EXPECT_EQ(k.exit.kind, SBX_EXIT_SIGNALED);
  EXPECT_EQ(k.exit.signal, SIGTERM);
}

TEST(HostHygiene, SpawningLeavesTheHostDumpable) {
  // As root the box process changes ids while it still shares the host's
  // memory; the host's own dumpable setting must come back.
  int before = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  auto r = run({"/bin/true"});
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_EQ(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), before);
}

TEST(HostHygiene, BoxesOutlivingTheirHostHoldNoHostFds) {
  // A host process that exits while its box still runs must not leave its
  // fds open behind it (e.g. a listening socket or a pipe peers wait on).
  int p[2], pidpipe[2];
  ASSERT_EQ(pipe(p), 0);  // deliberately inheritable
  ASSERT_EQ(pipe2(pidpipe, O_CLOEXEC), 0);
  pid_t host = fork();
  ASSERT_GE(host, 0);
  if (host == 0) {
    close(p[0]);
    sbx_config* cfg = nullptr;
    sbx_box* box = nullptr;
    sbx_spec* spec = nullptr;
    sbx_proc* proc = nullptr;
    const char* argv[] = {"/bin/sleep", "10"};
    if (sbx_config_new(&cfg, nullptr) || sbx_box_create(&box, cfg, nullptr) || sbx_spec_new(&spec, nullptr) ||
        sbx_spec_set_argv(spec, 2, argv, nullptr) || sbx_box_spawn(box, spec, &proc, nullptr))
      _exit(1);
    pid_t box_pid = -1;
    sbx_proc_pid(proc, &box_pid);
    if (write(pidpipe[1], &box_pid, sizeof box_pid) != static_cast<ssize_t>(sizeof box_pid)) _exit(1);
    _exit(0);  // leaves the box running, on purpose
  }
  close(p[1]);
  close(pidpipe[1]);
  int st = 0;
  ASSERT_EQ(waitpid(host, &st, 0), host);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "the forked host could not start its box";
  pid_t box_pid = -1;
  ASSERT_EQ(read(pidpipe[0], &box_pid, sizeof box_pid), static_cast<ssize_t>(sizeof box_pid));
  close(pidpipe[0]);
  // The box runs for 10 s: EOF well before that means nothing holds the
  // dead host's fds.
  struct pollfd pf = {p[0], POLLIN, 0};
  EXPECT_EQ(poll(&pf, 1, 3000), 1) << "the dead host's pipe end is still held open";
  char c;
  EXPECT_EQ(read(p[0], &c, 1), 0);
  close(p[0]);
  // The box our forked host left behind: its pid 1, which takes the rest.
  if (box_pid > 0) kill(box_pid, SIGKILL);
  // And the cgroup directories the dead host could not remove (boxes do
  // not yet die with their host, SPEC D1): only those named for its pid.
  const std::string prefix = "sbx-" + std::to_string(host) + "-";
  for (int attempt = 0; attempt < 200; ++attempt) {
    bool left = false;
    for (const auto& ctrl : list_dir("/sys/fs/cgroup"))
      for (const auto& d : list_dir("/sys/fs/cgroup/" + ctrl + "/sbx"))
        if (d.rfind(prefix, 0) == 0 && rmdir(("/sys/fs/cgroup/" + ctrl + "/sbx/" + d).c_str()) != 0)
          left = true;
    if (!left) break;
    usleep(10000);  // the killed box is still being torn down
  }
}
