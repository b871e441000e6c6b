// Started boxes (sbx_box_start): a box whose supervisor is pid 1, many
// processes spawned into it at once, and its POSIX-style process table
// (sbx_box_waitpid, sbx_box_signal, setpgid/setsid/getpgid/getsid, held
// signals, zombies, terminate-all), through the public C API only.
//
// Every test here fails if the feature it names is removed. Programs in the
// box sleep briefly; the host only asserts generous upper bounds ("returned
// within 5 s"), never tight timings.
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "box_helper.hpp"

extern char** environ;

using namespace sbx_it;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

int64_t ms_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

// An error slot for one call at a time: out() frees what the last call left.
class Err {
 public:
  Err() = default;
  ~Err() { sbx_error_free(e_); }
  Err(const Err&) = delete;
  Err& operator=(const Err&) = delete;
  sbx_error** out() {
    sbx_error_free(e_);
    e_ = nullptr;
    return &e_;
  }
  bool set() const { return e_ != nullptr; }
  int code() const { return e_ ? sbx_error_code(e_) : SBX_OK; }
  int sys_errno() const { return e_ ? sbx_error_errno(e_) : 0; }
  std::string step() const { return e_ ? sbx_error_step(e_) : ""; }
  std::string describe() const {
    if (!e_) return "(no error object)";
    return std::string(sbx_status_name(sbx_error_code(e_))) + " step=" + sbx_error_step(e_) +
           " errno=" + std::to_string(sbx_error_errno(e_)) + " (" +
           (sbx_error_errno(e_) ? strerror(sbx_error_errno(e_)) : "-") + ") \"" + sbx_error_message(e_) +
           "\"";
  }

 private:
  sbx_error* e_ = nullptr;
};

// RC and the error object say "this POSIX call failed with WANT".
::testing::AssertionResult posix_err(int rc, const Err& e, int want) {
  if (rc == SBX_E_PROCESS && e.code() == SBX_E_PROCESS && e.sys_errno() == want)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "expected SBX_E_PROCESS with errno " << want << " (" << strerror(want) << "), got rc "
         << sbx_status_name(rc) << ", error " << e.describe();
}

std::string rec(const sbx_exit_status& s) {
  return "{kind=" + std::to_string(s.kind) + " code=" + std::to_string(s.code) +
         " signal=" + std::to_string(s.signal) + " core=" + std::to_string(s.core_dumped) +
         " reason=" + sbx_exit_reason_name(s.reason) + " pid=" + std::to_string(s.pid) +
         " wall_ns=" + std::to_string(s.wall_ns) + "}";
}

bool same_record(const sbx_exit_status& a, const sbx_exit_status& b) {
  return a.kind == b.kind && a.code == b.code && a.signal == b.signal && a.core_dumped == b.core_dumped &&
         a.reason == b.reason && a.pid == b.pid && a.wall_ns == b.wall_ns;
}

std::string wstatus(int st) {
  if (WIFEXITED(st)) return "exited(" + std::to_string(WEXITSTATUS(st)) + ")";
  if (WIFSIGNALED(st)) return "signaled(" + std::to_string(WTERMSIG(st)) + ")";
  if (WIFSTOPPED(st)) return "stopped(" + std::to_string(WSTOPSIG(st)) + ")";
  if (WIFCONTINUED(st)) return "continued";
  return "raw(" + std::to_string(st) + ")";
}

constexpr uint64_t bit(int sig) {
  return 1ull << (sig - 1);
}

// ------------------------------------------------------------ boxes

// A default box (created, not started); MORE adjusts the config.
BoxPtr new_box(const std::function<void(sbx_config*)>& more = {}) {
  sbx_config* cfg = nullptr;
  if (sbx_config_new(&cfg, nullptr) != SBX_OK) {
    ADD_FAILURE() << "sbx_config_new";
    return nullptr;
  }
  ConfigPtr c(cfg);
  if (more) more(cfg);
  Err e;
  sbx_box* box = nullptr;
  int rc = sbx_box_create(&box, cfg, e.out());
  if (rc != SBX_OK) {
    ADD_FAILURE() << "sbx_box_create: " << e.describe();
    return nullptr;
  }
  return BoxPtr(box);
}

// A default box, started.
BoxPtr started_box(const std::function<void(sbx_config*)>& more = {}) {
  BoxPtr b = new_box(more);
  if (!b) return nullptr;
  Err e;
  int rc = sbx_box_start(b.get(), e.out());
  if (rc != SBX_OK) {
    ADD_FAILURE() << "sbx_box_start: " << e.describe();
    return nullptr;
  }
  return b;
}

sbx_box_state state_of(sbx_box* box) {
  sbx_box_state s = SBX_BOX_FAILED;
  EXPECT_EQ(sbx_box_state_get(box, &s), SBX_OK);
  return s;
}

// ------------------------------------------------------------ spawning

struct Opts {
  std::vector<std::string> env;
  std::string cwd;
  int pgmode = -1;  // -1: do not call sbx_spec_set_pgroup (the default, SBX_PGROUP_NEW)
  int pgid = 0;
  bool out = false;  // capture stdout (else /dev/null)
  bool err = false;  // capture stderr (else /dev/null)
  std::function<void(sbx_spec*)> more;
};

Opts pg(int mode, int pgid = 0) {
  Opts o;
  o.pgmode = mode;
  o.pgid = pgid;
  return o;
}
Opts captured() {
  Opts o;
  o.out = true;
  o.err = true;
  return o;
}

SpecPtr make(const std::vector<std::string>& argv, const Opts& o) {
  sbx_spec* raw = nullptr;
  EXPECT_EQ(sbx_spec_new(&raw, nullptr), SBX_OK);
  SpecPtr spec(raw);
  std::vector<const char*> a;
  for (const auto& x : argv) a.push_back(x.c_str());
  EXPECT_EQ(sbx_spec_set_argv(raw, a.size(), a.data(), nullptr), SBX_OK);
  for (const auto& kv : o.env) EXPECT_EQ(sbx_spec_set_env(raw, kv.c_str(), nullptr), SBX_OK);
  if (!o.cwd.empty()) {
    EXPECT_EQ(sbx_spec_set_cwd(raw, o.cwd.c_str(), nullptr), SBX_OK);
  }
  EXPECT_EQ(sbx_spec_set_stdio(raw, SBX_STDIN, SBX_STDIO_NULL, nullptr, -1, nullptr), SBX_OK);
  EXPECT_EQ(
      sbx_spec_set_stdio(raw, SBX_STDOUT, o.out ? SBX_STDIO_CAPTURE : SBX_STDIO_NULL, nullptr, -1, nullptr),
      SBX_OK);
  EXPECT_EQ(
      sbx_spec_set_stdio(raw, SBX_STDERR, o.err ? SBX_STDIO_CAPTURE : SBX_STDIO_NULL, nullptr, -1, nullptr),
      SBX_OK);
  if (o.pgmode >= 0) {
    Err e;
    EXPECT_EQ(sbx_spec_set_pgroup(raw, o.pgmode, o.pgid, e.out()), SBX_OK) << e.describe();
  }
  if (o.more) o.more(raw);
  return spec;
}

int try_spawn(sbx_box* box, const std::vector<std::string>& argv, const Opts& o, ProcPtr* out, Err* e) {
  SpecPtr spec = make(argv, o);
  sbx_proc* p = nullptr;
  int rc = sbx_box_spawn(box, spec.get(), &p, e->out());
  out->reset(p);
  return rc;
}

// Spawns and expects success (an empty handle and a test failure otherwise).
ProcPtr spawn(sbx_box* box, const std::vector<std::string>& argv, const Opts& o = {}) {
  ProcPtr p;
  Err e;
  int rc = try_spawn(box, argv, o, &p, &e);
  if (rc != SBX_OK) ADD_FAILURE() << "sbx_box_spawn " << argv.back() << ": " << e.describe();
  return p;
}

ProcPtr spawn_sh(sbx_box* box, const std::string& script, const Opts& o = {}) {
  return spawn(box, {"/bin/sh", "-c", script}, o);
}

int bpid(const sbx_proc* p) {
  int x = -1;
  EXPECT_EQ(sbx_proc_box_pid(p, &x), SBX_OK);
  return x;
}

// The exit record (a test failure if it does not come within TIMEOUT_MS).
sbx_exit_status wait_exit(sbx_proc* p, int timeout_ms = 10000) {
  sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  Err e;
  int rc = sbx_proc_wait(p, timeout_ms, &st, e.out());
  EXPECT_EQ(rc, SBX_OK) << "sbx_proc_wait: " << e.describe();
  return st;
}

// Reads STREAM to end of file (each read waits at most 20 s).
std::string read_all(sbx_proc* p, int stream) {
  std::string out;
  char buf[65536];
  for (;;) {
    size_t n = 0;
    Err e;
    int rc = sbx_proc_read(p, stream, buf, sizeof buf, &n, 20000, e.out());
    if (rc != SBX_OK) {
      ADD_FAILURE() << "sbx_proc_read: " << e.describe();
      return out;
    }
    if (n == 0) return out;
    out.append(buf, n);
  }
}

// Reads STREAM into ACC until it contains WANT, end of file, or TIMEOUT_MS.
bool read_until(sbx_proc* p, int stream, std::string& acc, const std::string& want, int timeout_ms = 5000) {
  const auto t0 = Clock::now();
  char buf[4096];
  while (acc.find(want) == std::string::npos && ms_since(t0) < timeout_ms) {
    size_t n = 0;
    int rc = sbx_proc_read(p, stream, buf, sizeof buf, &n, 50, nullptr);
    if (rc == SBX_OK && n == 0) break;  // end of file
    if (rc == SBX_OK) acc.append(buf, n);
  }
  return acc.find(want) != std::string::npos;
}

// Everything readable right now (waits WAIT_MS for the first byte).
std::string drain(sbx_proc* p, int wait_ms) {
  std::string acc;
  char buf[4096];
  for (;;) {
    size_t n = 0;
    if (sbx_proc_read(p, SBX_STDOUT, buf, sizeof buf, &n, wait_ms, nullptr) != SBX_OK || n == 0) return acc;
    acc.append(buf, n);
    wait_ms = 0;
  }
}

// ------------------------------------------------------------ the table

bool info(sbx_box* box, int pid, sbx_proc_info* out, Err* e = nullptr) {
  Err local;
  memset(out, 0, sizeof *out);
  out->size = sizeof *out;
  return sbx_box_proc_info(box, pid, out, (e ? e : &local)->out()) == SBX_OK;
}

int state_in_table(sbx_box* box, int pid) {
  sbx_proc_info i;
  return info(box, pid, &i) ? i.state : -1;
}

std::vector<int> table(sbx_box* box) {
  int* pids = nullptr;
  size_t n = 0;
  Err e;
  int rc = sbx_box_list(box, &pids, &n, e.out());
  EXPECT_EQ(rc, SBX_OK) << e.describe();
  std::vector<int> v;
  if (rc == SBX_OK) v.assign(pids, pids + n);
  sbx_free(pids);
  return v;
}

bool contains(const std::vector<int>& v, int x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// Polls PRED every 10 ms for at most TIMEOUT_MS.
bool eventually(const std::function<bool()>& pred, int timeout_ms = 5000) {
  const auto t0 = Clock::now();
  while (ms_since(t0) < timeout_ms) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

struct Waited {
  int rc = SBX_E_INTERNAL;
  int pid = -1;
  int status = -1;
  std::string error;
  int err_errno = 0;
};

Waited wpid(sbx_box* box, int pid, int options, int timeout_ms = 5000) {
  Waited w;
  Err e;
  w.rc = sbx_box_waitpid(box, pid, options, timeout_ms, &w.pid, &w.status, e.out());
  w.error = e.describe();
  w.err_errno = e.sys_errno();
  return w;
}

std::string describe(const Waited& w) {
  return "rc=" + std::string(sbx_status_name(w.rc)) + " pid=" + std::to_string(w.pid) +
         " status=" + (w.rc == SBX_OK && w.pid > 0 ? wstatus(w.status) : std::to_string(w.status)) +
         " error=" + w.error;
}

}  // namespace

// ================================================================ lifecycle

TEST(StartedLifecycle, StartRunStop) {
  BoxPtr box = new_box();
  ASSERT_TRUE(box);
  EXPECT_EQ(state_of(box.get()), SBX_BOX_CONFIGURED);
  Err e;
  ASSERT_EQ(sbx_box_start(box.get(), e.out()), SBX_OK) << e.describe();
  EXPECT_EQ(state_of(box.get()), SBX_BOX_RUNNING);
  EXPECT_EQ(sbx_box_start(box.get(), e.out()), SBX_E_STATE) << "a second start";
  EXPECT_EQ(e.code(), SBX_E_STATE);
  EXPECT_EQ(state_of(box.get()), SBX_BOX_RUNNING) << "a refused second start changes nothing";

  // Running without a program; processes come and go, the box stays.
  ProcPtr a = spawn_sh(box.get(), "exit 3");
  ASSERT_TRUE(a);
  EXPECT_GT(bpid(a.get()), 1) << "a spawned process is not the supervisor (box pid 1)";
  EXPECT_EQ(wait_exit(a.get()).code, 3);
  EXPECT_EQ(state_of(box.get()), SBX_BOX_RUNNING) << "the box outlives its processes";
  ProcPtr b = spawn(box.get(), {"/bin/sleep", "100"});
  ASSERT_TRUE(b);
  EXPECT_EQ(sbx_box_kill(box.get(), 0, e.out()), SBX_OK) << e.describe();
  ASSERT_EQ(sbx_box_stop(box.get(), 1000, e.out()), SBX_OK) << e.describe();
  EXPECT_EQ(state_of(box.get()), SBX_BOX_STOPPED);
  sbx_exit_status st = wait_exit(b.get(), 0);
  EXPECT_EQ(st.kind, SBX_EXIT_SIGNALED) << rec(st);
  EXPECT_EQ(st.signal, SIGTERM) << rec(st);
  EXPECT_EQ(sbx_box_stop(box.get(), 1000, e.out()), SBX_OK) << "stopping a stopped box: " << e.describe();
  EXPECT_EQ(state_of(box.get()), SBX_BOX_STOPPED);

  ProcPtr c;
  EXPECT_EQ(try_spawn(box.get(), {"/bin/true"}, {}, &c, &e), SBX_E_STATE) << "spawn after stop";
  EXPECT_EQ(e.code(), SBX_E_STATE);
  EXPECT_FALSE(c);
  EXPECT_EQ(sbx_box_start(box.get(), e.out()), SBX_E_STATE) << "a stopped box does not start again";
}

TEST(StartedLifecycle, StopOfANeverStartedBoxIsAStateError) {
  BoxPtr box = new_box();
  ASSERT_TRUE(box);
  Err e;
  EXPECT_EQ(sbx_box_stop(box.get(), 100, e.out()), SBX_E_STATE);
  EXPECT_EQ(e.code(), SBX_E_STATE) << e.describe();
  EXPECT_EQ(state_of(box.get()), SBX_BOX_CONFIGURED);
  // Still startable afterwards.
  EXPECT_EQ(sbx_box_start(box.get(), e.out()), SBX_OK) << e.describe();
}

TEST(StartedLifecycle, NeedsThePidNamespace) {
  BoxPtr box = new_box([](sbx_config* c) {
    ASSERT_EQ(sbx_config_set_namespaces(c, SBX_NS_ALL & ~static_cast<unsigned>(SBX_NS_PID), nullptr), SBX_OK);
  });
  ASSERT_TRUE(box);
  Err e;
  EXPECT_EQ(sbx_box_start(box.get(), e.out()), SBX_E_UNSUPPORTED) << e.describe();
  EXPECT_NE(e.describe().find("pid"), std::string::npos)
      << "the message names the pid namespace: " << e.describe();
  // Nothing was started; the box can still run one program.
  ProcPtr p;
  EXPECT_EQ(try_spawn(box.get(), {"/bin/sh", "-c", "exit 4"}, {}, &p, &e), SBX_OK) << e.describe();
  if (p) {
    EXPECT_EQ(wait_exit(p.get()).code, 4);
  }
}

TEST(StartedLifecycle, TableCallsNeedAStartedBox) {
  // A configured box, and a box that runs one program (not started): both
  // are state errors for every table call.
  BoxPtr configured = new_box();
  ASSERT_TRUE(configured);
  BoxPtr single = new_box();
  ASSERT_TRUE(single);
  ProcPtr one = spawn(single.get(), {"/bin/sleep", "100"});
  ASSERT_TRUE(one);
  EXPECT_EQ(bpid(one.get()), 0) << "the one process of a box that was not started has no box pid";
  for (sbx_box* box : {configured.get(), single.get()}) {
    SCOPED_TRACE(box == configured.get() ? "configured box" : "single-program box");
    Err e;
    int pid = 0, status = 0, out = 0;
    uint64_t mask = 0;
    int* pids = nullptr;
    size_t n = 0;
    sbx_proc_info pi;
    memset(&pi, 0, sizeof pi);
    pi.size = sizeof pi;
    EXPECT_EQ(sbx_box_signal(box, 2, SIGTERM, e.out()), SBX_E_STATE) << e.describe();
    EXPECT_EQ(sbx_box_waitpid(box, -1, SBX_WNOHANG, 0, &pid, &status, e.out()), SBX_E_STATE) << e.describe();
    EXPECT_EQ(sbx_box_setpgid(box, 2, 0, e.out()), SBX_E_STATE) << e.describe();
    EXPECT_EQ(sbx_box_setsid(box, 2, e.out()), SBX_E_STATE) << e.describe();
    EXPECT_EQ(sbx_box_getpgid(box, 2, &out, e.out()), SBX_E_STATE) << e.describe();
    EXPECT_EQ(sbx_box_getsid(box, 2, &out, e.out()), SBX_E_STATE) << e.describe();
    EXPECT_EQ(sbx_box_sigmask(box, 2, SBX_SIG_BLOCK, bit(SIGTERM), &mask, e.out()), SBX_E_STATE)
        << e.describe();
    EXPECT_EQ(sbx_box_sigpending(box, 2, &mask, e.out()), SBX_E_STATE) << e.describe();
    EXPECT_EQ(sbx_box_list(box, &pids, &n, e.out()), SBX_E_STATE) << e.describe();
    EXPECT_EQ(sbx_box_proc_info(box, 2, &pi, e.out()), SBX_E_STATE) << e.describe();
    EXPECT_EQ(sbx_box_terminate_all(box, 100, e.out()), SBX_E_STATE) << e.describe();
    EXPECT_EQ(e.code(), SBX_E_STATE);
  }
  // The single program was left alone by all of that.
  EXPECT_EQ(sbx_proc_kill(one.get(), 0, nullptr), SBX_OK);
  Err e;
  EXPECT_EQ(sbx_box_start(single.get(), e.out()), SBX_E_STATE) << "a box running one program does not start";
}

TEST(StartedLifecycle, FreeWithRunningProcessesReturnsAndTheyDieOfSigkill) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  std::vector<ProcPtr> procs;
  procs.push_back(spawn(box.get(), {"/bin/sleep", "100"}));
  procs.push_back(spawn(box.get(), {"/bin/sleep", "100"}, pg(SBX_PGROUP_NEW_SESSION)));
  procs.push_back(spawn_sh(box.get(), "trap '' TERM HUP INT; sleep 100"));
  for (auto& p : procs) ASSERT_TRUE(p);
  box.reset();  // sbx_box_free
  for (auto& p : procs) {
    sbx_exit_status st = wait_exit(p.get(), 5000);
    EXPECT_EQ(st.kind, SBX_EXIT_SIGNALED) << rec(st);
    EXPECT_EQ(st.signal, SIGKILL) << rec(st);
  }
}

TEST(StartedLifecycle, StopAPausedBox) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  ProcPtr a = spawn(box.get(), {"/bin/sleep", "100"});
  ProcPtr b = spawn(box.get(), {"/bin/sleep", "100"}, pg(SBX_PGROUP_NEW_SESSION));
  ASSERT_TRUE(a && b);
  Err e;
  ASSERT_EQ(sbx_box_pause(box.get(), e.out()), SBX_OK) << e.describe();
  ASSERT_EQ(sbx_box_stop(box.get(), 300, e.out()), SBX_OK) << e.describe();
  EXPECT_EQ(state_of(box.get()), SBX_BOX_STOPPED);
  for (sbx_proc* p : {a.get(), b.get()}) {
    sbx_exit_status st = wait_exit(p, 5000);
    EXPECT_EQ(st.kind, SBX_EXIT_SIGNALED) << rec(st);
    EXPECT_EQ(st.signal, SIGTERM) << "a paused process still gets the SIGTERM first: " << rec(st);
  }
}

TEST(StartedLifecycle, TheBoxTimeoutStopsAStartedBox) {
  BoxPtr box = started_box([](sbx_config* c) {
    ASSERT_EQ(sbx_config_set_timeout(c, 300, nullptr), SBX_OK);
    ASSERT_EQ(sbx_config_set_kill_grace(c, 200, nullptr), SBX_OK);
  });
  ASSERT_TRUE(box);
  ProcPtr plain = spawn(box.get(), {"/bin/sleep", "100"});
  ProcPtr stubborn = spawn_sh(box.get(), "trap '' TERM; echo ready; sleep 100", captured());
  ASSERT_TRUE(plain && stubborn);
  std::string acc;
  ASSERT_TRUE(read_until(stubborn.get(), SBX_STDOUT, acc, "ready")) << acc;
  sbx_exit_status a = wait_exit(plain.get(), 5000), b = wait_exit(stubborn.get(), 5000);
  EXPECT_EQ(a.signal, SIGTERM) << rec(a);
  EXPECT_EQ(a.reason, SBX_REASON_TIMEOUT) << rec(a);
  EXPECT_TRUE(a.limits_hit & SBX_HIT_TIMEOUT) << rec(a);
  EXPECT_EQ(b.signal, SIGKILL) << rec(b);
  EXPECT_EQ(b.reason, SBX_REASON_TIMEOUT) << rec(b);
  EXPECT_TRUE(eventually([&] { return state_of(box.get()) == SBX_BOX_STOPPED; })) << state_of(box.get());
  ProcPtr late;
  Err e;
  EXPECT_EQ(try_spawn(box.get(), {"/bin/true"}, {}, &late, &e), SBX_E_STATE) << e.describe();
}

// ================================================================ spawning

TEST(StartedSpawn, ConcurrentSpawnsFromEightThreads) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  constexpr int kThreads = 8, kPerThread = 5;
  const char* cwds[kThreads] = {"/", "/usr", "/usr/bin", "/usr/lib", "/usr/share", "/etc", "/dev", "/proc"};
  const std::string script = "echo \"arg=$1 env=$TAG cwd=$(pwd -P) pid=$$\"; sleep 0.2; exit $2";
  std::mutex mu;
  std::vector<int> box_pids;
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ProcPtr procs[kPerThread];
      for (int j = 0; j < kPerThread; ++j) {
        const std::string tag = "t" + std::to_string(t) + "_" + std::to_string(j);
        const int code = 1 + t * kPerThread + j;
        Opts o;
        o.out = true;
        o.env = {"TAG=" + tag};
        o.cwd = cwds[t];
        procs[j] = spawn(box.get(), {"/bin/sh", "-c", script, "sh", "a" + tag, std::to_string(code)}, o);
      }
      for (int j = 0; j < kPerThread; ++j) {
        if (!procs[j]) continue;
        const std::string tag = "t" + std::to_string(t) + "_" + std::to_string(j);
        const int code = 1 + t * kPerThread + j;
        const int pid = bpid(procs[j].get());
        std::string out = read_all(procs[j].get(), SBX_STDOUT);
        EXPECT_EQ(out,
                  "arg=a" + tag + " env=" + tag + " cwd=" + cwds[t] + " pid=" + std::to_string(pid) + "\n");
        sbx_exit_status st = wait_exit(procs[j].get());
        EXPECT_EQ(st.kind, SBX_EXIT_EXITED) << tag << " " << rec(st);
        EXPECT_EQ(st.code, code) << tag << " " << rec(st);
        std::lock_guard<std::mutex> lk(mu);
        box_pids.push_back(pid);
        ++done;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(done.load(), kThreads * kPerThread);
  std::set<int> distinct(box_pids.begin(), box_pids.end());
  EXPECT_EQ(distinct.size(), box_pids.size()) << "box pids are not distinct";
  EXPECT_EQ(distinct.count(1), 0u) << "no spawn is box pid 1";
  EXPECT_EQ(state_of(box.get()), SBX_BOX_RUNNING);
}

TEST(StartedSpawn, FailuresLeaveNothingBehind) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  ProcPtr p;
  Err e;
  EXPECT_EQ(try_spawn(box.get(), {"/nonexistent/prog"}, {}, &p, &e), SBX_E_NOTFOUND) << e.describe();
  EXPECT_FALSE(p);
  Opts o;
  o.cwd = "/nonexistent";
  EXPECT_EQ(try_spawn(box.get(), {"/bin/true"}, o, &p, &e), SBX_E_SETUP) << e.describe();
  EXPECT_EQ(e.step(), "chdir") << e.describe();
  EXPECT_EQ(e.sys_errno(), ENOENT) << e.describe();
  EXPECT_EQ(try_spawn(box.get(), {"/etc/passwd"}, {}, &p, &e), SBX_E_EXEC) << e.describe();
  EXPECT_TRUE(table(box.get()).empty()) << "a failed spawn leaves no table entry";
  Waited w = wpid(box.get(), -1, SBX_WNOHANG);
  EXPECT_EQ(w.rc, SBX_E_PROCESS) << describe(w);
  EXPECT_EQ(w.err_errno, ECHILD) << describe(w);
  EXPECT_EQ(state_of(box.get()), SBX_BOX_RUNNING);
  ProcPtr ok = spawn_sh(box.get(), "exit 1");
  ASSERT_TRUE(ok);
  EXPECT_EQ(wait_exit(ok.get()).code, 1);
}

// ================================================================ exit records

TEST(StartedExit, ExactCodesAndSignals) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  for (int code : {0, 7, 255}) {
    ProcPtr p = spawn_sh(box.get(), "exit " + std::to_string(code));
    ASSERT_TRUE(p);
    sbx_exit_status st = wait_exit(p.get());
    EXPECT_EQ(st.kind, SBX_EXIT_EXITED) << rec(st);
    EXPECT_EQ(st.code, code) << rec(st);
    EXPECT_EQ(st.signal, 0);
    EXPECT_EQ(st.reason, SBX_REASON_NORMAL) << rec(st);
  }
  struct Case {
    const char* script;
    int sig;
  } cases[] = {{"kill -TERM $$; sleep 5", SIGTERM}, {"kill -SEGV $$; sleep 5", SIGSEGV}};
  for (const auto& c : cases) {
    ProcPtr p = spawn_sh(box.get(), c.script);
    ASSERT_TRUE(p);
    sbx_exit_status st = wait_exit(p.get());
    EXPECT_EQ(st.kind, SBX_EXIT_SIGNALED) << c.script << " " << rec(st);
    EXPECT_EQ(st.signal, c.sig) << c.script << " " << rec(st);
    EXPECT_EQ(st.code, 0);
    EXPECT_EQ(st.reason, SBX_REASON_NORMAL) << "nobody asked sbx to kill it: " << rec(st);
    EXPECT_EQ(sbx_exit_shell_code(&st), 128 + c.sig);
  }
  // Killed through the table: reason "killed".
  for (int sig : {SIGTERM, SIGKILL}) {
    ProcPtr p = spawn(box.get(), {"/bin/sleep", "100"});
    ASSERT_TRUE(p);
    Err e;
    ASSERT_EQ(sbx_box_signal(box.get(), bpid(p.get()), sig, e.out()), SBX_OK) << e.describe();
    sbx_exit_status st = wait_exit(p.get());
    EXPECT_EQ(st.kind, SBX_EXIT_SIGNALED) << rec(st);
    EXPECT_EQ(st.signal, sig) << rec(st);
    EXPECT_EQ(st.reason, SBX_REASON_KILLED) << rec(st);
  }
}

TEST(StartedExit, HostPidIsKnownWhileRunningAndNeverNegative) {
  // The host pid is for display: read from the pidfd when the spawn is
  // answered. A process that is still running then has it in its handle,
  // its record and its table entry; one that has already ended and been
  // reaped by the supervisor by then has 0 (never -1 or a stale value).
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  {
    ProcPtr p = spawn_sh(box.get(), "sleep 0.3");
    ASSERT_TRUE(p);
    pid_t host = 0;
    EXPECT_EQ(sbx_proc_pid(p.get(), &host), SBX_OK);
    EXPECT_GT(host, 1);
    sbx_proc_info i;
    ASSERT_TRUE(info(box.get(), bpid(p.get()), &i));
    EXPECT_EQ(i.host_pid, host);
    // It is this process: its /proc entry's innermost NSpid is the box pid.
    std::string status = read_file("/proc/" + std::to_string(host) + "/status");
    size_t at = status.find("NSpid:");
    ASSERT_NE(at, std::string::npos);
    std::string line = status.substr(at, status.find('\n', at) - at);
    EXPECT_EQ(line.substr(line.find_last_of(" \t") + 1), std::to_string(bpid(p.get()))) << line;
    sbx_exit_status st = wait_exit(p.get());
    EXPECT_EQ(st.pid, host);
  }
  for (int k = 0; k < 50; ++k) {
    ProcPtr p = spawn(box.get(), {"/bin/true"});
    ASSERT_TRUE(p);
    pid_t host = -1;
    EXPECT_EQ(sbx_proc_pid(p.get(), &host), SBX_OK);
    sbx_exit_status st = wait_exit(p.get());
    EXPECT_GE(host, 0);
    EXPECT_EQ(st.pid, host);
  }
}

TEST(StartedExit, WaitsBeforeAndAfterTheExitReadTheSameRecord) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  ProcPtr p = spawn_sh(box.get(), "sleep 0.3; exit 5");
  ASSERT_TRUE(p);
  sbx_exit_status early = SBX_EXIT_STATUS_INIT;
  int early_rc = SBX_E_INTERNAL;
  std::thread waiter([&] { early_rc = sbx_proc_wait(p.get(), 10000, &early, nullptr); });
  // Not over yet: a poll changes nothing.
  sbx_exit_status none = SBX_EXIT_STATUS_INIT;
  EXPECT_EQ(sbx_proc_wait(p.get(), 0, &none, nullptr), SBX_E_TIMEOUT);
  waiter.join();
  ASSERT_EQ(early_rc, SBX_OK);
  EXPECT_EQ(early.kind, SBX_EXIT_EXITED) << rec(early);
  EXPECT_EQ(early.code, 5);
  sbx_exit_status late = wait_exit(p.get(), 0);
  EXPECT_TRUE(same_record(early, late)) << rec(early) << " vs " << rec(late);
  // Reaping it from the table does not change the handle's record.
  Waited w = wpid(box.get(), bpid(p.get()), 0);
  ASSERT_EQ(w.rc, SBX_OK) << describe(w);
  EXPECT_TRUE(WIFEXITED(w.status) && WEXITSTATUS(w.status) == 5) << describe(w);
  sbx_exit_status after = wait_exit(p.get(), 0);
  EXPECT_TRUE(same_record(early, after)) << rec(early) << " vs " << rec(after);
}

TEST(StartedExit, ProcInterruptWakesAWait) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  ProcPtr p = spawn(box.get(), {"/bin/sleep", "100"});
  ASSERT_TRUE(p);
  std::atomic<int> rc{SBX_OK};
  std::atomic<bool> returned{false};
  std::thread waiter([&] {
    sbx_exit_status st = SBX_EXIT_STATUS_INIT;
    rc = sbx_proc_wait(p.get(), -1, &st, nullptr);
    returned = true;
  });
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(returned.load());
  ASSERT_EQ(sbx_proc_interrupt(p.get(), nullptr), SBX_OK);
  waiter.join();
  EXPECT_EQ(rc.load(), SBX_E_INTERRUPTED);
  // The process was not touched.
  EXPECT_EQ(sbx_box_signal(box.get(), bpid(p.get()), 0, nullptr), SBX_OK);
  EXPECT_EQ(state_in_table(box.get(), bpid(p.get())), SBX_PROC_RUNNING);
}

TEST(StartedExit, StopEndsEveryWaitPromptly) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  std::vector<ProcPtr> procs;
  for (int i = 0; i < 3; ++i) procs.push_back(spawn(box.get(), {"/bin/sleep", "100"}));
  procs.push_back(spawn_sh(box.get(), "trap '' TERM; echo ready; sleep 100", captured()));
  for (auto& p : procs) ASSERT_TRUE(p);
  std::string acc;
  ASSERT_TRUE(read_until(procs.back().get(), SBX_STDOUT, acc, "ready")) << acc;
  struct Result {
    int rc = SBX_E_INTERNAL;
    sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  };
  std::vector<Result> results(procs.size());
  std::vector<std::thread> waiters;
  for (size_t i = 0; i < procs.size(); ++i)
    waiters.emplace_back([&, i] {
      // 20 s against programs that run 100 s: SBX_OK means the stop ended it.
      results[i].rc = sbx_proc_wait(procs[i].get(), 20000, &results[i].st, nullptr);
    });
  std::this_thread::sleep_for(50ms);
  Err e;
  EXPECT_EQ(sbx_box_stop(box.get(), 300, e.out()), SBX_OK) << e.describe();
  for (auto& w : waiters) w.join();
  EXPECT_EQ(state_of(box.get()), SBX_BOX_STOPPED);
  for (size_t i = 0; i < procs.size(); ++i) {
    SCOPED_TRACE("process " + std::to_string(i));
    EXPECT_EQ(results[i].rc, SBX_OK);
    EXPECT_EQ(results[i].st.kind, SBX_EXIT_SIGNALED) << rec(results[i].st);
    const int want = i + 1 == procs.size() ? SIGKILL : SIGTERM;  // the last one ignores SIGTERM
    EXPECT_EQ(results[i].st.signal, want) << rec(results[i].st);
  }
}

// ================================================================ the table

TEST(StartedTable, ListAndProcInfo) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  ProcPtr a = spawn(box.get(), {"/bin/sleep", "100"});                              // new group
  ProcPtr s = spawn(box.get(), {"/bin/sleep", "100"}, pg(SBX_PGROUP_NEW_SESSION));  // new session
  ProcPtr st = spawn(box.get(), {"/bin/sleep", "100"}, pg(SBX_PGROUP_NEW));         // to be stopped
  ProcPtr z = spawn_sh(box.get(), "exit 7");                                        // a zombie
  ASSERT_TRUE(a && s && st && z);
  const int pa = bpid(a.get()), ps = bpid(s.get()), pst = bpid(st.get()), pz = bpid(z.get());
  EXPECT_EQ(wait_exit(z.get()).code, 7);  // sbx_proc_wait does not reap the table entry
  Err e;
  ASSERT_EQ(sbx_box_signal(box.get(), pst, SIGSTOP, e.out()), SBX_OK) << e.describe();
  EXPECT_TRUE(eventually([&] { return state_in_table(box.get(), pst) == SBX_PROC_STOPPED; }))
      << "state " << state_in_table(box.get(), pst);

  std::vector<int> list = table(box.get());
  std::vector<int> want = {pa, ps, pst, pz};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(list, want) << "the list is the spawned processes, ascending";

  sbx_proc_info i;
  ASSERT_TRUE(info(box.get(), pa, &i));
  EXPECT_EQ(i.size, sizeof i);
  EXPECT_EQ(i.pid, pa);
  EXPECT_EQ(i.ppid, 1);
  EXPECT_EQ(i.pgid, pa) << "SBX_PGROUP_NEW leads its own group";
  EXPECT_EQ(i.sid, 1) << "in the box init's session";
  EXPECT_EQ(i.state, SBX_PROC_RUNNING);
  EXPECT_EQ(i.wait_status, 0);
  EXPECT_GT(i.host_pid, 0);
  EXPECT_STREQ(i.command, "/bin/sleep 100");

  ASSERT_TRUE(info(box.get(), ps, &i));
  EXPECT_EQ(i.ppid, 1);
  EXPECT_EQ(i.pgid, ps);
  EXPECT_EQ(i.sid, ps) << "SBX_PGROUP_NEW_SESSION leads its own session";
  EXPECT_EQ(i.state, SBX_PROC_RUNNING);

  ASSERT_TRUE(info(box.get(), pst, &i));
  EXPECT_EQ(i.pgid, pst);
  EXPECT_EQ(i.state, SBX_PROC_STOPPED);

  ASSERT_TRUE(info(box.get(), pz, &i));
  EXPECT_EQ(i.state, SBX_PROC_ZOMBIE);
  EXPECT_TRUE(WIFEXITED(i.wait_status) && WEXITSTATUS(i.wait_status) == 7) << wstatus(i.wait_status);
  EXPECT_STREQ(i.command, "/bin/sh -c exit 7");

  // Continued: running again.
  ASSERT_EQ(sbx_box_signal(box.get(), pst, SIGCONT, e.out()), SBX_OK) << e.describe();
  EXPECT_TRUE(eventually([&] { return state_in_table(box.get(), pst) == SBX_PROC_RUNNING; }));

  // Unknown pids.
  EXPECT_FALSE(info(box.get(), 1, &i, &e)) << "the supervisor is not in the table";
  EXPECT_TRUE(posix_err(SBX_E_PROCESS, e, ESRCH));
  EXPECT_FALSE(info(box.get(), 99999, &i, &e));
  EXPECT_TRUE(posix_err(SBX_E_PROCESS, e, ESRCH));

  // A reaped zombie leaves the table.
  Waited w = wpid(box.get(), pz, 0);
  ASSERT_EQ(w.rc, SBX_OK) << describe(w);
  EXPECT_EQ(w.pid, pz);
  EXPECT_FALSE(contains(table(box.get()), pz));
}

TEST(StartedTable, JoinAnExistingGroup) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  ProcPtr leader = spawn(box.get(), {"/bin/sleep", "100"});
  ASSERT_TRUE(leader);
  const int pl = bpid(leader.get());
  ProcPtr member = spawn(box.get(), {"/bin/sleep", "100"}, pg(SBX_PGROUP_JOIN, pl));
  ASSERT_TRUE(member);
  const int pm = bpid(member.get());
  sbx_proc_info i;
  ASSERT_TRUE(info(box.get(), pm, &i));
  EXPECT_EQ(i.pgid, pl);
  EXPECT_EQ(i.sid, 1);
  int g = -1;
  Err e;
  EXPECT_EQ(sbx_box_getpgid(box.get(), pm, &g, e.out()), SBX_OK) << e.describe();
  EXPECT_EQ(g, pl);
}

TEST(StartedTable, JoinAGroupOfAnotherSessionFailsAtSpawn) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  ProcPtr sl = spawn(box.get(), {"/bin/sleep", "100"}, pg(SBX_PGROUP_NEW_SESSION));
  ASSERT_TRUE(sl);
  const std::vector<int> before = table(box.get());
  ProcPtr p;
  Err e;
  EXPECT_EQ(try_spawn(box.get(), {"/bin/sleep", "100"}, pg(SBX_PGROUP_JOIN, bpid(sl.get())), &p, &e),
            SBX_E_SETUP);
  EXPECT_EQ(e.code(), SBX_E_SETUP) << e.describe();
  EXPECT_EQ(e.step(), "setpgid") << e.describe();
  EXPECT_EQ(e.sys_errno(), EPERM) << e.describe();
  EXPECT_FALSE(p);
  EXPECT_EQ(table(box.get()), before) << "a failed spawn leaves nothing in the table";
  // A group that does not exist at all: also EPERM, as setpgid(2) says.
  EXPECT_EQ(try_spawn(box.get(), {"/bin/sleep", "100"}, pg(SBX_PGROUP_JOIN, 4242), &p, &e), SBX_E_SETUP);
  EXPECT_EQ(e.step(), "setpgid") << e.describe();
  EXPECT_EQ(e.sys_errno(), EPERM) << e.describe();
  // The box is fine.
  ProcPtr ok = spawn_sh(box.get(), "exit 2");
  ASSERT_TRUE(ok);
  EXPECT_EQ(wait_exit(ok.get()).code, 2);
}

TEST(StartedTable, JoinZeroIsTheInitGroup) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  ProcPtr p = spawn(box.get(), {"/bin/sleep", "100"}, pg(SBX_PGROUP_JOIN, 0));
  ASSERT_TRUE(p);
  sbx_proc_info i;
  ASSERT_TRUE(info(box.get(), bpid(p.get()), &i));
  EXPECT_EQ(i.pgid, 1);
  EXPECT_EQ(i.sid, 1);
  int g = -1, s = -1;
  EXPECT_EQ(sbx_box_getpgid(box.get(), 0, &g, nullptr), SBX_OK);
  EXPECT_EQ(g, 1) << "getpgid(0): the box init";
  EXPECT_EQ(sbx_box_getsid(box.get(), 0, &s, nullptr), SBX_OK);
  EXPECT_EQ(s, 1);
}

TEST(StartedTable, ZombieTtlRemovesUnwaitedExits) {
  BoxPtr box =
      started_box([](sbx_config* c) { ASSERT_EQ(sbx_config_set_zombie_ttl(c, 200, nullptr), SBX_OK); });
  ASSERT_TRUE(box);
  ProcPtr p = spawn_sh(box.get(), "exit 3");
  ASSERT_TRUE(p);
  const int pid = bpid(p.get());
  EXPECT_EQ(wait_exit(p.get()).code, 3);
  std::this_thread::sleep_for(500ms);
  EXPECT_FALSE(contains(table(box.get()), pid)) << "the zombie outlived its TTL";
  Waited w = wpid(box.get(), pid, SBX_WNOHANG);
  EXPECT_EQ(w.rc, SBX_E_PROCESS) << describe(w);
  EXPECT_EQ(w.err_errno, ECHILD) << describe(w);
  sbx_proc_info i;
  Err e;
  EXPECT_FALSE(info(box.get(), pid, &i, &e));
  EXPECT_TRUE(posix_err(SBX_E_PROCESS, e, ESRCH));
  // The handle's record is kept.
  EXPECT_EQ(wait_exit(p.get(), 0).code, 3);
}

// With a zombie TTL of 0 ("removed at once unless waited for"), a
// sbx_box_waitpid that is already blocking on the process when it exits
// still gets its status (expired zombies are purged when a call starts,
// never while it waits).
TEST(StartedTable, ZombieTtlZeroRemovesAtOnceUnlessWaitedFor) {
  BoxPtr box =
      started_box([](sbx_config* c) { ASSERT_EQ(sbx_config_set_zombie_ttl(c, 0, nullptr), SBX_OK); });
  ASSERT_TRUE(box);
  // Not waited for: gone as soon as it has exited.
  ProcPtr p = spawn_sh(box.get(), "exit 3");
  ASSERT_TRUE(p);
  const int pid = bpid(p.get());
  EXPECT_EQ(wait_exit(p.get()).code, 3);
  EXPECT_FALSE(contains(table(box.get()), pid));
  // Waited for (a waitpid blocking when it exits): the waiter gets it.
  ProcPtr q = spawn_sh(box.get(), "sleep 0.2; exit 4");
  ASSERT_TRUE(q);
  const int qid = bpid(q.get());
  Waited w = wpid(box.get(), qid, 0, 5000);
  ASSERT_EQ(w.rc, SBX_OK) << "TTL 0 \"removed at once unless waited for\": " << describe(w);
  EXPECT_EQ(w.pid, qid);
  EXPECT_TRUE(WIFEXITED(w.status) && WEXITSTATUS(w.status) == 4) << describe(w);
}

TEST(StartedTable, DefaultTtlKeepsTheZombie) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  ProcPtr p = spawn_sh(box.get(), "exit 3");
  ASSERT_TRUE(p);
  const int pid = bpid(p.get());
  EXPECT_EQ(wait_exit(p.get()).code, 3);
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(contains(table(box.get()), pid));
  sbx_proc_info i;
  ASSERT_TRUE(info(box.get(), pid, &i));
  EXPECT_EQ(i.state, SBX_PROC_ZOMBIE);
  EXPECT_TRUE(WIFEXITED(i.wait_status) && WEXITSTATUS(i.wait_status) == 3) << wstatus(i.wait_status);
  // A zombie accepts signals and ignores them.
  EXPECT_EQ(sbx_box_signal(box.get(), pid, SIGKILL, nullptr), SBX_OK);
  EXPECT_EQ(sbx_box_signal(box.get(), pid, 0, nullptr), SBX_OK);
  Waited w = wpid(box.get(), pid, SBX_WNOHANG);
  ASSERT_EQ(w.rc, SBX_OK) << describe(w);
  EXPECT_EQ(w.pid, pid);
  EXPECT_TRUE(WIFEXITED(w.status) && WEXITSTATUS(w.status) == 3) << describe(w);
}

// ================================================================ signals

TEST(StartedSignals, KillOnePidDelivers) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  ProcPtr p =
      spawn_sh(box.get(), "trap 'echo got USR1' USR1; echo ready; while :; do sleep 0.05; done", captured());
  ASSERT_TRUE(p);
  std::string acc;
  ASSERT_TRUE(read_until(p.get(), SBX_STDOUT, acc, "ready")) << acc;
  Err e;
  ASSERT_EQ(sbx_box_signal(box.get(), bpid(p.get()), SIGUSR1, e.out()), SBX_OK) << e.describe();
  EXPECT_TRUE(read_until(p.get(), SBX_STDOUT, acc, "got USR1")) << "the trap never ran: " << acc;
  EXPECT_EQ(sbx_box_signal(box.get(), bpid(p.get()), 0, e.out()), SBX_OK) << "still alive: " << e.describe();
  ASSERT_EQ(sbx_box_signal(box.get(), bpid(p.get()), SIGKILL, e.out()), SBX_OK) << e.describe();
  EXPECT_EQ(wait_exit(p.get()).signal, SIGKILL);
}

TEST(StartedSignals, KillAGroupReachesEveryMemberEvenAStoppedOne) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  ProcPtr leader = spawn(box.get(), {"/bin/sleep", "100"});
  ASSERT_TRUE(leader);
  const int pl = bpid(leader.get());
  ProcPtr member = spawn(box.get(), {"/bin/sleep", "100"}, pg(SBX_PGROUP_JOIN, pl));
  ProcPtr other = spawn(box.get(), {"/bin/sleep", "100"});  // another group: untouched
  ASSERT_TRUE(member && other);
  Err e;
  ASSERT_EQ(sbx_box_signal(box.get(), bpid(member.get()), SIGSTOP, e.out()), SBX_OK) << e.describe();
  ASSERT_TRUE(eventually([&] { return state_in_table(box.get(), bpid(member.get())) == SBX_PROC_STOPPED; }));
  ASSERT_EQ(sbx_box_signal(box.get(), -pl, SIGKILL, e.out()), SBX_OK) << e.describe();
  sbx_exit_status a = wait_exit(leader.get(), 5000), b = wait_exit(member.get(), 5000);
  EXPECT_EQ(a.signal, SIGKILL) << rec(a);
  EXPECT_EQ(b.signal, SIGKILL) << "the stopped member: " << rec(b);
  EXPECT_EQ(b.reason, SBX_REASON_KILLED) << rec(b);
  EXPECT_EQ(sbx_box_signal(box.get(), bpid(other.get()), 0, e.out()), SBX_OK) << e.describe();

  // A catchable signal to a group of running members.
  ProcPtr l2 = spawn(box.get(), {"/bin/sleep", "100"});
  ASSERT_TRUE(l2);
  ProcPtr m2 = spawn(box.get(), {"/bin/sleep", "100"}, pg(SBX_PGROUP_JOIN, bpid(l2.get())));
  ASSERT_TRUE(m2);
  ASSERT_EQ(sbx_box_signal(box.get(), -bpid(l2.get()), SIGTERM, e.out()), SBX_OK) << e.describe();
  EXPECT_EQ(wait_exit(l2.get(), 5000).signal, SIGTERM);
  EXPECT_EQ(wait_exit(m2.get(), 5000).signal, SIGTERM);

  // pid 0: the box init's group (processes that joined group 0), nothing else.
  ProcPtr j1 = spawn(box.get(), {"/bin/sleep", "100"}, pg(SBX_PGROUP_JOIN, 0));
  ProcPtr j2 = spawn(box.get(), {"/bin/sleep", "100"}, pg(SBX_PGROUP_JOIN, 0));
  ASSERT_TRUE(j1 && j2);
  ASSERT_EQ(sbx_box_signal(box.get(), 0, SIGTERM, e.out()), SBX_OK) << e.describe();
  EXPECT_EQ(wait_exit(j1.get(), 5000).signal, SIGTERM);
  EXPECT_EQ(wait_exit(j2.get(), 5000).signal, SIGTERM);
  EXPECT_EQ(sbx_box_signal(box.get(), bpid(other.get()), 0, e.out()), SBX_OK) << e.describe();
  EXPECT_EQ(state_of(box.get()), SBX_BOX_RUNNING) << "the supervisor survived a signal to its own group";
  ProcPtr after = spawn_sh(box.get(), "exit 6");
  ASSERT_TRUE(after);
  EXPECT_EQ(wait_exit(after.get()).code, 6);

  // pid -1: everything.
  ASSERT_EQ(sbx_box_signal(box.get(), -1, SIGKILL, e.out()), SBX_OK) << e.describe();
  EXPECT_EQ(wait_exit(other.get(), 5000).signal, SIGKILL);
}

TEST(StartedSignals, SignalZeroAndErrors) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  ProcPtr p = spawn(box.get(), {"/bin/sleep", "100"});
  ASSERT_TRUE(p);
  const int pid = bpid(p.get());
  Err e;
  EXPECT_EQ(sbx_box_signal(box.get(), pid, 0, e.out()), SBX_OK) << e.describe();
  EXPECT_EQ(sbx_box_signal(box.get(), -pid, 0, e.out()), SBX_OK) << e.describe();
  int rc = sbx_box_signal(box.get(), 99999, 0, e.out());
  EXPECT_TRUE(posix_err(rc, e, ESRCH)) << "unknown pid";
  rc = sbx_box_signal(box.get(), 99999, SIGTERM, e.out());
  EXPECT_TRUE(posix_err(rc, e, ESRCH)) << "unknown pid";
  rc = sbx_box_signal(box.get(), -99999, SIGTERM, e.out());
  EXPECT_TRUE(posix_err(rc, e, ESRCH)) << "unknown group";
  rc = sbx_box_signal(box.get(), 0, SIGTERM, e.out());
  EXPECT_TRUE(posix_err(rc, e, ESRCH)) << "group 0 (the init's group) has no member in the table";
  // A group whose only member has exited (not waited for) takes signals.
  ProcPtr z = spawn_sh(box.get(), "exit 0");
  ASSERT_TRUE(z);
  wait_exit(z.get());
  EXPECT_EQ(sbx_box_signal(box.get(), -bpid(z.get()), SIGTERM, e.out()), SBX_OK) << e.describe();
  EXPECT_EQ(sbx_box_signal(box.get(), -bpid(z.get()), 0, e.out()), SBX_OK) << e.describe();
  for (int bad : {99, -1, 65}) {
    rc = sbx_box_signal(box.get(), pid, bad, e.out());
    EXPECT_TRUE(posix_err(rc, e, EINVAL)) << "signal " << bad;
  }
  EXPECT_EQ(sbx_box_signal(box.get(), pid, 0, e.out()), SBX_OK) << "nothing happened to it: " << e.describe();
}

TEST(StartedSignals, HeldSignalsStayPendingUntilReleased) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  ProcPtr p = spawn(box.get(), {"/bin/sleep", "100"});
  ASSERT_TRUE(p);
  const int pid = bpid(p.get());
  Err e;
  uint64_t old = 12345, pending = 12345;
  ASSERT_EQ(sbx_box_sigmask(box.get(), pid, SBX_SIG_BLOCK, bit(SIGTERM), &old, e.out()), SBX_OK)
      << e.describe();
  EXPECT_EQ(old, 0u);
  EXPECT_EQ(sbx_box_sigpending(box.get(), pid, &pending, e.out()), SBX_OK) << e.describe();
  EXPECT_EQ(pending, 0u);
  ASSERT_EQ(sbx_box_signal(box.get(), pid, SIGTERM, e.out()), SBX_OK) << e.describe();
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(sbx_box_signal(box.get(), pid, 0, e.out()), SBX_OK)
      << "a held SIGTERM killed it: " << e.describe();
  sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  EXPECT_EQ(sbx_proc_wait(p.get(), 0, &st, nullptr), SBX_E_TIMEOUT);
  EXPECT_EQ(sbx_box_sigpending(box.get(), pid, &pending, e.out()), SBX_OK) << e.describe();
  EXPECT_EQ(pending, bit(SIGTERM));
  // Old masks: BLOCK adds, SETMASK replaces, both report the mask before.
  ASSERT_EQ(sbx_box_sigmask(box.get(), pid, SBX_SIG_BLOCK, bit(SIGUSR1), &old, e.out()), SBX_OK)
      << e.describe();
  EXPECT_EQ(old, bit(SIGTERM));
  ASSERT_EQ(sbx_box_sigmask(box.get(), pid, SBX_SIG_SETMASK, bit(SIGTERM) | bit(SIGHUP), &old, e.out()),
            SBX_OK);
  EXPECT_EQ(old, bit(SIGTERM) | bit(SIGUSR1));
  ASSERT_EQ(sbx_box_sigmask(box.get(), pid, SBX_SIG_BLOCK, 0, &old, e.out()), SBX_OK) << e.describe();
  EXPECT_EQ(old, bit(SIGTERM) | bit(SIGHUP)) << "a query (BLOCK of nothing) returns the mask";
  // Release: it dies of the pending SIGTERM.
  ASSERT_EQ(sbx_box_sigmask(box.get(), pid, SBX_SIG_UNBLOCK, bit(SIGTERM), &old, e.out()), SBX_OK)
      << e.describe();
  EXPECT_EQ(old, bit(SIGTERM) | bit(SIGHUP));
  st = wait_exit(p.get(), 5000);
  EXPECT_EQ(st.kind, SBX_EXIT_SIGNALED) << rec(st);
  EXPECT_EQ(st.signal, SIGTERM) << rec(st);
  EXPECT_EQ(st.reason, SBX_REASON_KILLED) << rec(st);
  // Gone: ESRCH for the mask.
  int rc = sbx_box_sigmask(box.get(), pid, SBX_SIG_BLOCK, 0, &old, e.out());
  EXPECT_TRUE(posix_err(rc, e, ESRCH)) << "an exited process";
  rc = sbx_box_sigmask(box.get(), 99999, SBX_SIG_BLOCK, 0, &old, e.out());
  EXPECT_TRUE(posix_err(rc, e, ESRCH)) << "an unknown pid";
}

TEST(StartedSignals, HeldSignalInAGroupKill) {
  // A group signal reaches the members that do not hold it; the one that
  // holds it keeps it pending.
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  ProcPtr leader = spawn(box.get(), {"/bin/sleep", "100"});
  ASSERT_TRUE(leader);
  ProcPtr member = spawn(box.get(), {"/bin/sleep", "100"}, pg(SBX_PGROUP_JOIN, bpid(leader.get())));
  ASSERT_TRUE(member);
  const int pm = bpid(member.get());
  Err e;
  ASSERT_EQ(sbx_box_sigmask(box.get(), pm, SBX_SIG_BLOCK, bit(SIGTERM), nullptr, e.out()), SBX_OK)
      << e.describe();
  ASSERT_EQ(sbx_box_signal(box.get(), -bpid(leader.get()), SIGTERM, e.out()), SBX_OK) << e.describe();
  EXPECT_EQ(wait_exit(leader.get(), 5000).signal, SIGTERM);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(sbx_box_signal(box.get(), pm, 0, e.out()), SBX_OK) << "the holding member died: " << e.describe();
  uint64_t pending = 0;
  EXPECT_EQ(sbx_box_sigpending(box.get(), pm, &pending, e.out()), SBX_OK) << e.describe();
  EXPECT_EQ(pending, bit(SIGTERM));
  ASSERT_EQ(sbx_box_sigmask(box.get(), pm, SBX_SIG_SETMASK, 0, nullptr, e.out()), SBX_OK) << e.describe();
  EXPECT_EQ(wait_exit(member.get(), 5000).signal, SIGTERM);
}

TEST(StartedSignals, SigkillCannotBeHeld) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  ProcPtr p = spawn(box.get(), {"/bin/sleep", "100"});
  ASSERT_TRUE(p);
  const int pid = bpid(p.get());
  Err e;
  uint64_t old = 0;
  EXPECT_EQ(sbx_box_sigmask(box.get(), pid, SBX_SIG_BLOCK, bit(SIGKILL) | bit(SIGSTOP) | bit(SIGCONT), &old,
                            e.out()),
            SBX_OK)
      << "silently left out, as sigprocmask does: " << e.describe();
  EXPECT_EQ(sbx_box_sigmask(box.get(), pid, SBX_SIG_BLOCK, 0, &old, e.out()), SBX_OK) << e.describe();
  EXPECT_EQ(old, 0u) << "SIGKILL/SIGSTOP/SIGCONT are never held";
  ASSERT_EQ(sbx_box_signal(box.get(), pid, SIGKILL, e.out()), SBX_OK) << e.describe();
  sbx_exit_status st = wait_exit(p.get(), 5000);
  EXPECT_EQ(st.signal, SIGKILL) << rec(st);
  // A bad HOW.
  ProcPtr q = spawn(box.get(), {"/bin/sleep", "100"});
  ASSERT_TRUE(q);
  int rc = sbx_box_sigmask(box.get(), bpid(q.get()), 7, bit(SIGTERM), &old, e.out());
  EXPECT_TRUE(posix_err(rc, e, EINVAL));
}

// The kernel's orphaned-process-group rule, end to end: a group with a
// stopped member that becomes orphaned gets SIGHUP and SIGCONT.
//
// The process spawned with SBX_PGROUP_NEW_SESSION (pid P) leads session P;
// its parent, the supervisor, is in session 1, so P's own group is orphaned
// from the start: a child left in P's group (a shell without job control
// does that) never sees the kernel's SIGHUP (kill_orphaned_pgrp needs the
// exiting process's parent, or the child's old parent, in the same session
// but another group). The stopped child therefore moves to its own group
// (perl's setpgrp, perl-base is essential on Debian): that group has a
// link outside it (P, same session, other group) until P exits, and
// becomes orphaned then. (Checked on this kernel: with the child left in P's
// group no SIGHUP comes, with SBX_PGROUP_NEW_SESSION or SBX_PGROUP_NEW; with
// SBX_PGROUP_NEW and the child in its own group none comes either, since
// the supervisor, its new parent, is in the same session 1 and keeps the
// group linked. Note also that sbx_proc_wait on P returns only once the
// child, which shares P's captured stdout, has exited.)
TEST(StartedSignals, NewlyOrphanedStoppedGroupGetsHupAndCont) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  const std::string child = "trap 'echo got HUP; exit 3' HUP; echo child-stops; kill -STOP $$; sleep 5";
  const std::string parent =
      "perl -e 'setpgrp(0, 0) or die \"setpgrp: $!\"; exec @ARGV or die \"exec: $!\"' /bin/sh -c \"$1\" & "
      "sleep 0.3; echo parent-exits";
  ProcPtr p = spawn(box.get(), {"/bin/sh", "-c", parent, "sh", child}, [] {
    Opts o = captured();
    o.pgmode = SBX_PGROUP_NEW_SESSION;
    return o;
  }());
  ASSERT_TRUE(p);
  sbx_exit_status st = wait_exit(p.get(), 5000);
  EXPECT_EQ(st.kind, SBX_EXIT_EXITED) << rec(st);
  EXPECT_EQ(st.code, 0) << rec(st);
  std::string out;
  const bool got = read_until(p.get(), SBX_STDOUT, out, "got HUP", 5000);
  std::string err = drain(p.get(), 0);
  EXPECT_TRUE(got) << "stdout: " << out;
  EXPECT_NE(out.find("child-stops"), std::string::npos) << out;
  EXPECT_NE(out.find("parent-exits"), std::string::npos) << out;
  if (got) {
    // The child exits from its trap: end of file.
    std::string rest;
    EXPECT_FALSE(read_until(p.get(), SBX_STDOUT, rest, "never", 5000));
  }
}

TEST(StartedSignals, TerminateAllEscalatesAndTheBoxKeepsRunning) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  ProcPtr stubborn = spawn_sh(box.get(), "trap '' TERM; echo ready; sleep 100", captured());
  ProcPtr plain = spawn(box.get(), {"/bin/sleep", "100"});
  ProcPtr session = spawn(box.get(), {"/bin/sleep", "100"}, pg(SBX_PGROUP_NEW_SESSION));
  ASSERT_TRUE(stubborn && plain && session);
  std::string acc;
  ASSERT_TRUE(read_until(stubborn.get(), SBX_STDOUT, acc, "ready")) << acc;
  Err e;
  ASSERT_EQ(sbx_box_terminate_all(box.get(), 300, e.out()), SBX_OK) << e.describe();
  // Returned once every process had exited: already zombies in the table.
  for (sbx_proc* p : {stubborn.get(), plain.get(), session.get()})
    EXPECT_EQ(state_in_table(box.get(), bpid(p)), SBX_PROC_ZOMBIE) << "box pid " << bpid(p);
  // The handle's record of a process with captured output is final only
  // once its streams reach end of file (its own `sleep` child held stdout
  // until it was killed too): wait for it rather than poll.
  sbx_exit_status a = wait_exit(plain.get(), 0), b = wait_exit(stubborn.get(), 5000),
                  c = wait_exit(session.get(), 0);
  EXPECT_EQ(a.signal, SIGTERM) << rec(a);
  EXPECT_EQ(c.signal, SIGTERM) << rec(c);
  EXPECT_EQ(b.signal, SIGKILL) << "it ignored SIGTERM: " << rec(b);
  EXPECT_EQ(state_of(box.get()), SBX_BOX_RUNNING);
  ProcPtr next = spawn_sh(box.get(), "exit 4");
  ASSERT_TRUE(next);
  EXPECT_EQ(wait_exit(next.get()).code, 4);
  // With nothing running it returns at once.
  EXPECT_EQ(sbx_box_terminate_all(box.get(), 300, e.out()), SBX_OK) << e.describe();
}

// ================================================================ waitpid

TEST(StartedWait, StopsAndContinuesAreReportedOnce) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  ProcPtr p = spawn(box.get(), {"/bin/sleep", "100"});
  ASSERT_TRUE(p);
  const int pid = bpid(p.get());
  Err e;
  Waited w = wpid(box.get(), pid, SBX_WNOHANG | SBX_WUNTRACED | SBX_WCONTINUED);
  EXPECT_EQ(w.rc, SBX_OK) << describe(w);
  EXPECT_EQ(w.pid, 0) << "nothing to report yet";

  ASSERT_EQ(sbx_box_signal(box.get(), pid, SIGSTOP, e.out()), SBX_OK) << e.describe();
  w = wpid(box.get(), pid, SBX_WUNTRACED);
  ASSERT_EQ(w.rc, SBX_OK) << describe(w);
  EXPECT_EQ(w.pid, pid);
  EXPECT_TRUE(WIFSTOPPED(w.status)) << describe(w);
  EXPECT_EQ(WSTOPSIG(w.status), SIGSTOP) << describe(w);
  w = wpid(box.get(), pid, SBX_WNOHANG | SBX_WUNTRACED);
  EXPECT_EQ(w.rc, SBX_OK) << describe(w);
  EXPECT_EQ(w.pid, 0) << "a stop is reported once: " << describe(w);

  ASSERT_EQ(sbx_box_signal(box.get(), pid, SIGCONT, e.out()), SBX_OK) << e.describe();
  w = wpid(box.get(), pid, SBX_WCONTINUED);
  ASSERT_EQ(w.rc, SBX_OK) << describe(w);
  EXPECT_EQ(w.pid, pid);
  EXPECT_TRUE(WIFCONTINUED(w.status)) << describe(w);
  w = wpid(box.get(), pid, SBX_WNOHANG | SBX_WCONTINUED | SBX_WUNTRACED);
  EXPECT_EQ(w.rc, SBX_OK) << describe(w);
  EXPECT_EQ(w.pid, 0) << "a continue is reported once: " << describe(w);

  // Without WUNTRACED a stop is not reported: a blocking wait times out.
  ASSERT_EQ(sbx_box_signal(box.get(), pid, SIGSTOP, e.out()), SBX_OK) << e.describe();
  ASSERT_TRUE(eventually([&] { return state_in_table(box.get(), pid) == SBX_PROC_STOPPED; }));
  w = wpid(box.get(), pid, 0, 200);
  EXPECT_EQ(w.rc, SBX_E_TIMEOUT) << describe(w);

  ASSERT_EQ(sbx_box_signal(box.get(), pid, SIGKILL, e.out()), SBX_OK) << e.describe();
  w = wpid(box.get(), pid, 0);
  ASSERT_EQ(w.rc, SBX_OK) << describe(w);
  EXPECT_EQ(w.pid, pid);
  EXPECT_TRUE(WIFSIGNALED(w.status) && WTERMSIG(w.status) == SIGKILL) << describe(w);
  w = wpid(box.get(), pid, SBX_WNOHANG);
  EXPECT_EQ(w.rc, SBX_E_PROCESS) << "an exit is reported once: " << describe(w);
  EXPECT_EQ(w.err_errno, ECHILD) << describe(w);
  // The handle's record stays readable.
  EXPECT_EQ(wait_exit(p.get(), 0).signal, SIGKILL);
}

TEST(StartedWait, ExitReportedOnceThenEchild) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  ProcPtr p = spawn_sh(box.get(), "sleep 0.1; exit 9");
  ASSERT_TRUE(p);
  const int pid = bpid(p.get());
  Waited w = wpid(box.get(), pid, 0);  // blocks until the exit
  ASSERT_EQ(w.rc, SBX_OK) << describe(w);
  EXPECT_EQ(w.pid, pid);
  EXPECT_TRUE(WIFEXITED(w.status) && WEXITSTATUS(w.status) == 9) << describe(w);
  w = wpid(box.get(), pid, 0);
  EXPECT_EQ(w.rc, SBX_E_PROCESS) << describe(w);
  EXPECT_EQ(w.err_errno, ECHILD) << describe(w);
  EXPECT_FALSE(contains(table(box.get()), pid));
  EXPECT_EQ(wait_exit(p.get(), 0).code, 9) << "independent of sbx_proc_wait";
}

TEST(StartedWait, Selectors) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  auto sh_exit = [&](int code, const Opts& o) {
    return spawn_sh(box.get(), "sleep 0.1; exit " + std::to_string(code), o);
  };
  ProcPtr a = sh_exit(11, {});  // leads group A
  ASSERT_TRUE(a);
  const int pa = bpid(a.get());
  ProcPtr b = sh_exit(12, pg(SBX_PGROUP_JOIN, pa));  // in group A
  ProcPtr c = sh_exit(13, pg(SBX_PGROUP_JOIN, 0));   // the init's group
  ProcPtr d = sh_exit(14, pg(SBX_PGROUP_JOIN, 0));   // the init's group
  ProcPtr e = sh_exit(15, {});                       // a group of its own
  ASSERT_TRUE(b && c && d && e);
  const int pb = bpid(b.get()), pc = bpid(c.get()), pd = bpid(d.get()), pe = bpid(e.get());
  std::map<int, int> code_of = {{pa, 11}, {pb, 12}, {pc, 13}, {pd, 14}, {pe, 15}};

  auto reap = [&](int selector, std::set<int> want) {
    SCOPED_TRACE("selector " + std::to_string(selector));
    std::set<int> got;
    for (size_t k = 0; k < want.size(); ++k) {
      Waited w = wpid(box.get(), selector, 0);
      ASSERT_EQ(w.rc, SBX_OK) << describe(w);
      got.insert(w.pid);
      EXPECT_TRUE(WIFEXITED(w.status) && WEXITSTATUS(w.status) == code_of[w.pid]) << describe(w);
    }
    EXPECT_EQ(got, want);
    Waited w = wpid(box.get(), selector, SBX_WNOHANG);
    EXPECT_EQ(w.rc, SBX_E_PROCESS) << "nothing left for this selector: " << describe(w);
    EXPECT_EQ(w.err_errno, ECHILD) << describe(w);
  };
  reap(-pa, {pa, pb});
  reap(0, {pc, pd});
  reap(pe, {pe});
  // Any.
  ProcPtr f = sh_exit(16, {});
  ProcPtr g = sh_exit(17, pg(SBX_PGROUP_NEW_SESSION));
  ASSERT_TRUE(f && g);
  code_of[bpid(f.get())] = 16;
  code_of[bpid(g.get())] = 17;
  reap(-1, {bpid(f.get()), bpid(g.get())});
  EXPECT_TRUE(table(box.get()).empty());
}

TEST(StartedWait, NohangTimeoutAndEchild) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  Waited w = wpid(box.get(), -1, 0, 1000);
  EXPECT_EQ(w.rc, SBX_E_PROCESS) << "an empty table: " << describe(w);
  EXPECT_EQ(w.err_errno, ECHILD) << describe(w);
  w = wpid(box.get(), -1, SBX_WNOHANG);
  EXPECT_EQ(w.rc, SBX_E_PROCESS) << describe(w);
  EXPECT_EQ(w.err_errno, ECHILD) << describe(w);

  ProcPtr p = spawn(box.get(), {"/bin/sleep", "100"});
  ASSERT_TRUE(p);
  const int pid = bpid(p.get());
  w = wpid(box.get(), pid, SBX_WNOHANG);
  EXPECT_EQ(w.rc, SBX_OK) << describe(w);
  EXPECT_EQ(w.pid, 0) << describe(w);
  w = wpid(box.get(), -1, SBX_WNOHANG);
  EXPECT_EQ(w.rc, SBX_OK) << describe(w);
  EXPECT_EQ(w.pid, 0) << describe(w);
  w = wpid(box.get(), pid, 0, 150);
  EXPECT_EQ(w.rc, SBX_E_TIMEOUT) << describe(w);
  // A pid or group that is not in the table.
  w = wpid(box.get(), 99999, SBX_WNOHANG);
  EXPECT_EQ(w.rc, SBX_E_PROCESS) << describe(w);
  EXPECT_EQ(w.err_errno, ECHILD) << describe(w);
  w = wpid(box.get(), -99999, 0, 1000);
  EXPECT_EQ(w.rc, SBX_E_PROCESS) << describe(w);
  EXPECT_EQ(w.err_errno, ECHILD) << describe(w);
  w = wpid(box.get(), 0, 0, 1000);
  EXPECT_EQ(w.rc, SBX_E_PROCESS) << "no process joined the init's group: " << describe(w);
  EXPECT_EQ(w.err_errno, ECHILD) << describe(w);
  EXPECT_EQ(sbx_box_signal(box.get(), pid, 0, nullptr), SBX_OK) << "none of that touched it";
}

TEST(StartedWait, BoxInterruptWakesABlockingWaitpid) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  ProcPtr p = spawn(box.get(), {"/bin/sleep", "100"});
  ASSERT_TRUE(p);
  Waited w;
  std::atomic<bool> returned{false};
  std::thread waiter([&] {
    w = wpid(box.get(), -1, 0, -1);
    returned = true;
  });
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(returned.load());
  Err e;
  ASSERT_EQ(sbx_box_interrupt(box.get(), e.out()), SBX_OK) << e.describe();
  waiter.join();
  EXPECT_EQ(w.rc, SBX_E_INTERRUPTED) << describe(w);
  // A later wait is not affected.
  Waited later = wpid(box.get(), -1, SBX_WNOHANG);
  EXPECT_EQ(later.rc, SBX_OK) << describe(later);
  EXPECT_EQ(later.pid, 0);
}

TEST(StartedWait, StopEndsABlockingWaitpid) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  ProcPtr p = spawn(box.get(), {"/bin/sleep", "100"});
  ASSERT_TRUE(p);
  const int pid = bpid(p.get());
  Waited w;
  std::thread waiter([&] { w = wpid(box.get(), pid, 0, 20000); });
  std::this_thread::sleep_for(100ms);
  Err e;
  EXPECT_EQ(sbx_box_stop(box.get(), 300, e.out()), SBX_OK) << e.describe();
  waiter.join();
  ASSERT_EQ(w.rc, SBX_OK) << describe(w);
  EXPECT_EQ(w.pid, pid);
  EXPECT_TRUE(WIFSIGNALED(w.status) && WTERMSIG(w.status) == SIGTERM) << describe(w);
}

// ================================================================ groups and sessions

TEST(StartedGroups, SetpgidAndSetsidErrors) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  ProcPtr leader = spawn(box.get(), {"/bin/sleep", "100"});
  ProcPtr sess = spawn(box.get(), {"/bin/sleep", "100"}, pg(SBX_PGROUP_NEW_SESSION));
  ASSERT_TRUE(leader && sess);
  const int pl = bpid(leader.get()), ps = bpid(sess.get());
  ProcPtr member = spawn(box.get(), {"/bin/sleep", "100"}, pg(SBX_PGROUP_JOIN, pl));
  ASSERT_TRUE(member);
  const int pm = bpid(member.get());
  Err e;
  int rc = sbx_box_setpgid(box.get(), pm, 0, e.out());
  EXPECT_TRUE(posix_err(rc, e, EACCES)) << "the child has executed its program";
  rc = sbx_box_setpgid(box.get(), pl, pl, e.out());
  EXPECT_TRUE(posix_err(rc, e, EACCES)) << "even a no-op change";
  rc = sbx_box_setpgid(box.get(), ps, 0, e.out());
  EXPECT_TRUE(posix_err(rc, e, EPERM)) << "a session leader";
  rc = sbx_box_setpgid(box.get(), 99999, 0, e.out());
  EXPECT_TRUE(posix_err(rc, e, ESRCH)) << "unknown pid";
  rc = sbx_box_setpgid(box.get(), pm, -5, e.out());
  EXPECT_TRUE(posix_err(rc, e, EINVAL)) << "negative pgid";
  rc = sbx_box_setsid(box.get(), pl, e.out());
  EXPECT_TRUE(posix_err(rc, e, EPERM)) << "a group leader";
  rc = sbx_box_setsid(box.get(), ps, e.out());
  EXPECT_TRUE(posix_err(rc, e, EPERM)) << "a session (and group) leader";
  rc = sbx_box_setsid(box.get(), 99999, e.out());
  EXPECT_TRUE(posix_err(rc, e, ESRCH)) << "unknown pid";
  EXPECT_EQ(sbx_box_setsid(box.get(), pm, e.out()), SBX_E_UNSUPPORTED) << e.describe();
  EXPECT_EQ(e.code(), SBX_E_UNSUPPORTED);
  int out = -1;
  rc = sbx_box_getpgid(box.get(), 99999, &out, e.out());
  EXPECT_TRUE(posix_err(rc, e, ESRCH));
  rc = sbx_box_getsid(box.get(), 99999, &out, e.out());
  EXPECT_TRUE(posix_err(rc, e, ESRCH));
  // Nothing changed.
  sbx_proc_info i;
  ASSERT_TRUE(info(box.get(), pm, &i));
  EXPECT_EQ(i.pgid, pl);
  EXPECT_EQ(i.sid, 1);
  ASSERT_TRUE(info(box.get(), ps, &i));
  EXPECT_EQ(i.pgid, ps);
  EXPECT_EQ(i.sid, ps);
}

TEST(StartedGroups, GetpgidAndGetsidMatchWhatTheProgramSees) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  // Field 5 and 6 of /proc/self/stat: process group and session (cut runs
  // in the shell's group and session).
  const std::string script = "cut -d' ' -f5,6 /proc/self/stat; sleep 100";
  ProcPtr leader = spawn_sh(box.get(), script, captured());
  ASSERT_TRUE(leader);
  const int pl = bpid(leader.get());
  std::vector<ProcPtr> procs;
  procs.push_back(std::move(leader));
  procs.push_back(spawn_sh(box.get(), script, [] {
    Opts o = captured();
    o.pgmode = SBX_PGROUP_NEW_SESSION;
    return o;
  }()));
  procs.push_back(spawn_sh(box.get(), script, [&] {
    Opts o = captured();
    o.pgmode = SBX_PGROUP_JOIN;
    o.pgid = pl;
    return o;
  }()));
  procs.push_back(spawn_sh(box.get(), script, [] {
    Opts o = captured();
    o.pgmode = SBX_PGROUP_JOIN;
    o.pgid = 0;
    return o;
  }()));
  const std::pair<int, int> expected[] = {{pl, 1}, {-1, -1}, {pl, 1}, {1, 1}};
  for (size_t k = 0; k < procs.size(); ++k) {
    ASSERT_TRUE(procs[k]);
    const int pid = bpid(procs[k].get());
    SCOPED_TRACE("process " + std::to_string(k) + " box pid " + std::to_string(pid));
    std::string line;
    ASSERT_TRUE(read_until(procs[k].get(), SBX_STDOUT, line, "\n")) << line;
    std::vector<std::string> seen = split_words(line);
    ASSERT_EQ(seen.size(), 2u) << line;
    int g = -1, s = -1;
    Err e;
    ASSERT_EQ(sbx_box_getpgid(box.get(), pid, &g, e.out()), SBX_OK) << e.describe();
    ASSERT_EQ(sbx_box_getsid(box.get(), pid, &s, e.out()), SBX_OK) << e.describe();
    EXPECT_EQ(std::to_string(g), seen[0]) << "getpgid vs the program's own view";
    EXPECT_EQ(std::to_string(s), seen[1]) << "getsid vs the program's own view";
    const int want_g = expected[k].first == -1 ? pid : expected[k].first;
    const int want_s = expected[k].second == -1 ? pid : expected[k].second;
    EXPECT_EQ(g, want_g);
    EXPECT_EQ(s, want_s);
  }
}

TEST(StartedGroups, AProgramThatChangesItsOwnSessionIsSeen) {
  // getpgid/getsid read the kernel while the process runs: a program that
  // makes itself a session leader (setsid(1) of util-linux; it calls setsid
  // in place, without forking, since the process joined group 1 and leads
  // no group) then shows its new ids.
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  ProcPtr p = spawn(
      box.get(), {"/usr/bin/setsid", "/bin/sh", "-c", "cut -d' ' -f5,6 /proc/self/stat; exec sleep 100"}, [] {
        Opts o = captured();
        o.pgmode = SBX_PGROUP_JOIN;
        o.pgid = 0;
        return o;
      }());
  ASSERT_TRUE(p);
  const int pid = bpid(p.get());
  std::string line;
  ASSERT_TRUE(read_until(p.get(), SBX_STDOUT, line, "\n")) << line;
  EXPECT_EQ(line, std::to_string(pid) + " " + std::to_string(pid) + "\n");
  int g = -1, s = -1;
  EXPECT_EQ(sbx_box_getpgid(box.get(), pid, &g, nullptr), SBX_OK);
  EXPECT_EQ(sbx_box_getsid(box.get(), pid, &s, nullptr), SBX_OK);
  EXPECT_EQ(g, pid);
  EXPECT_EQ(s, pid);
  sbx_proc_info i;
  ASSERT_TRUE(info(box.get(), pid, &i));
  EXPECT_EQ(i.pgid, pid);
  EXPECT_EQ(i.sid, pid);
  // A group signal to its new group reaches it. (The shell execs sleep: a
  // child it forked after the signal would survive it and hold stdout.)
  Err e;
  EXPECT_EQ(sbx_box_signal(box.get(), -pid, SIGTERM, e.out()), SBX_OK) << e.describe();
  EXPECT_EQ(wait_exit(p.get(), 5000).signal, SIGTERM);
}

// ================================================================ pause, I/O

TEST(StartedIo, PauseAndResume) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  // Which mechanism pauses this box: the cgroup freezer, or SIGSTOP (then
  // the processes are visibly stopped).
  bool freezer = false;
  size_t n = 0;
  ASSERT_EQ(sbx_box_report_count(box.get(), &n), SBX_OK);
  for (size_t k = 0; k < n; ++k) {
    const char* name = nullptr;
    int st = 0;
    if (sbx_box_report_entry(box.get(), k, &name, &st, nullptr, nullptr, nullptr) == SBX_OK &&
        std::string(name) == "freeze")
      freezer = st == SBX_ENFORCED;
  }
  SCOPED_TRACE(freezer ? "cgroup freezer" : "SIGSTOP");
  RecordProperty("pause_mechanism", freezer ? "cgroup freezer" : "SIGSTOP");
  // A counter that never forks: a shell loop running `sleep` can be caught
  // by the SIGSTOP pause inside vfork (dash vforks), where the kernel
  // cannot stop it until the stopped child lets go of its memory, so it
  // would rightly never be reported as stopped.
  ProcPtr p = spawn(
      box.get(),
      {"/usr/bin/perl", "-e", "$| = 1; for (;;) { print ++$i, \"\\n\"; select(undef, undef, undef, 0.02) }"},
      captured());
  ASSERT_TRUE(p);
  const int pid = bpid(p.get());
  ASSERT_FALSE(drain(p.get(), 2000).empty()) << "the counter never started";
  Err e;
  ASSERT_EQ(sbx_box_pause(box.get(), e.out()), SBX_OK) << e.describe();
  EXPECT_EQ(state_of(box.get()), SBX_BOX_PAUSED);
  ProcPtr q;
  EXPECT_EQ(try_spawn(box.get(), {"/bin/true"}, {}, &q, &e), SBX_E_STATE) << "spawn into a paused box";
  EXPECT_FALSE(q);
  std::this_thread::sleep_for(100ms);
  drain(p.get(), 0);  // written before the pause took effect
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(drain(p.get(), 0), "") << "the box ran while paused";
  if (freezer) {
    EXPECT_EQ(state_in_table(box.get(), pid), SBX_PROC_RUNNING) << "frozen is not stopped";
  } else {
    EXPECT_TRUE(eventually([&] { return state_in_table(box.get(), pid) == SBX_PROC_STOPPED; }))
        << "paused by SIGSTOP: the table shows it stopped";
  }
  EXPECT_EQ(sbx_box_pause(box.get(), e.out()), SBX_E_STATE);
  ASSERT_EQ(sbx_box_resume(box.get(), e.out()), SBX_OK) << e.describe();
  EXPECT_EQ(state_of(box.get()), SBX_BOX_RUNNING);
  EXPECT_FALSE(drain(p.get(), 2000).empty()) << "no progress after resume";
  EXPECT_TRUE(eventually([&] { return state_in_table(box.get(), pid) == SBX_PROC_RUNNING; }));
  EXPECT_EQ(sbx_box_resume(box.get(), e.out()), SBX_E_STATE);
  ProcPtr r = spawn_sh(box.get(), "exit 8");
  ASSERT_TRUE(r);
  EXPECT_EQ(wait_exit(r.get()).code, 8);
}

TEST(StartedIo, PtyWindowSizeAndResize) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  const char* script =
      "trap 'echo winch $(stty size)' WINCH; "
      "[ -t 0 ] && [ -t 1 ] && echo tty-yes; "
      "echo size $(stty size); "
      "echo ready; "
      "i=0; while [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done";
  Opts o;
  o.more = [](sbx_spec* spec) { ASSERT_EQ(sbx_spec_set_pty(spec, 24, 80, nullptr), SBX_OK); };
  ProcPtr p = spawn(box.get(), {"/bin/sh", "-c", script}, o);
  ASSERT_TRUE(p);
  const int pid = bpid(p.get());
  std::string acc;
  ASSERT_TRUE(read_until(p.get(), SBX_STDOUT, acc, "ready")) << acc;
  EXPECT_NE(acc.find("tty-yes"), std::string::npos) << acc;
  EXPECT_NE(acc.find("size 24 80"), std::string::npos) << acc;
  int s = -1;
  EXPECT_EQ(sbx_box_getsid(box.get(), pid, &s, nullptr), SBX_OK);
  EXPECT_EQ(s, pid) << "a pty always gets a new session";
  ASSERT_EQ(sbx_proc_resize(p.get(), 30, 100, nullptr), SBX_OK);
  EXPECT_TRUE(read_until(p.get(), SBX_STDOUT, acc, "winch 30 100")) << "no SIGWINCH: " << acc;
  EXPECT_EQ(sbx_box_signal(box.get(), pid, SIGKILL, nullptr), SBX_OK);
  EXPECT_EQ(wait_exit(p.get()).signal, SIGKILL);
}

TEST(StartedIo, LargeCapturedOutputArrivesComplete) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  constexpr uint64_t kBytes = 209715200;  // 200 MiB
  Opts o;
  o.out = true;
  ProcPtr p = spawn(box.get(), {"/usr/bin/head", "-c", std::to_string(kBytes), "/dev/zero"}, o);
  ASSERT_TRUE(p);
  std::vector<char> buf(1 << 20);
  uint64_t total = 0;
  bool all_zero = true;
  for (;;) {
    size_t n = 0;
    Err e;
    int rc = sbx_proc_read(p.get(), SBX_STDOUT, buf.data(), buf.size(), &n, 20000, e.out());
    ASSERT_EQ(rc, SBX_OK) << e.describe() << " after " << total << " bytes";
    if (n == 0) break;
    for (size_t k = 0; k < n && all_zero; ++k) all_zero = buf[k] == 0;
    total += n;
  }
  EXPECT_EQ(total, kBytes);
  EXPECT_TRUE(all_zero);
  sbx_exit_status st = wait_exit(p.get());
  EXPECT_EQ(st.kind, SBX_EXIT_EXITED) << rec(st);
  EXPECT_EQ(st.code, 0);
  EXPECT_EQ(st.output_bytes, kBytes);
}

TEST(StartedIo, CallbacksDeliverAllOutputBeforeTheExitEventOnce) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  struct State {
    std::mutex mu;
    std::string out, err;
    int exits = 0;
    size_t out_at_exit = 0;
    sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  } state;
  Opts o = captured();
  o.more = [&](sbx_spec* spec) {
    sbx_spec_set_output_callback(
        spec,
        [](void* u, int stream, const void* d, size_t n) {
          auto* s = static_cast<State*>(u);
          std::lock_guard<std::mutex> lk(s->mu);
          (stream == SBX_STDOUT ? s->out : s->err).append(static_cast<const char*>(d), n);
        },
        &state, nullptr);
    sbx_spec_set_exit_callback(
        spec,
        [](void* u, const struct sbx_exit_status* e) {
          auto* s = static_cast<State*>(u);
          std::lock_guard<std::mutex> lk(s->mu);
          ++s->exits;
          s->out_at_exit = s->out.size() + s->err.size();
          s->st = *e;
        },
        &state, nullptr);
  };
  ProcPtr p = spawn_sh(box.get(), "seq 1 200000; echo done >&2; exit 3", o);
  ASSERT_TRUE(p);
  sbx_exit_status st = wait_exit(p.get(), 20000);
  EXPECT_EQ(st.code, 3);
  EXPECT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lk(state.mu);
    return state.exits > 0;
  }));
  std::this_thread::sleep_for(100ms);  // a second exit event would come now
  std::string expected;
  for (int k = 1; k <= 200000; ++k) expected += std::to_string(k) + "\n";
  std::lock_guard<std::mutex> lk(state.mu);
  EXPECT_EQ(state.exits, 1);
  EXPECT_EQ(state.out.size(), expected.size());
  EXPECT_TRUE(state.out == expected) << "stdout differs";
  EXPECT_EQ(state.err, "done\n");
  EXPECT_EQ(state.out_at_exit, state.out.size() + state.err.size()) << "output arrived after the exit event";
  EXPECT_EQ(state.st.code, 3);
}

// ================================================================ host hygiene

TEST(StartedHost, HostChildrenAreNeverReapedBySbx) {
  pid_t child = -1;
  char arg0[] = "/bin/sleep", arg1[] = "0.3";
  char* argv[] = {arg0, arg1, nullptr};
  ASSERT_EQ(posix_spawn(&child, "/bin/sleep", nullptr, nullptr, argv, environ), 0);
  const auto t0 = Clock::now();
  {
    BoxPtr box = started_box();
    ASSERT_TRUE(box);
    // Keep spawning (and reaping in the box) until well after the host child ended.
    int round = 0;
    while (ms_since(t0) < 700) {
      std::vector<ProcPtr> procs;
      for (int k = 0; k < 4; ++k)
        procs.push_back(spawn_sh(box.get(), "sleep 0.05; exit " + std::to_string(k)));
      for (int k = 0; k < 4; ++k) {
        ASSERT_TRUE(procs[k]);
        EXPECT_EQ(wait_exit(procs[k].get()).code, k);
      }
      Waited w;
      while ((w = wpid(box.get(), -1, SBX_WNOHANG)).rc == SBX_OK && w.pid > 0) {
      }
      ++round;
    }
    EXPECT_GT(round, 0);
    Err e;
    EXPECT_EQ(sbx_box_stop(box.get(), 300, e.out()), SBX_OK) << e.describe();
  }
  int status = -1;
  pid_t r = waitpid(child, &status, 0);
  ASSERT_EQ(r, child) << "the host's own child was reaped by someone else: " << strerror(errno);
  EXPECT_TRUE(WIFEXITED(status)) << wstatus(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// ================================================================ bad input

TEST(StartedBadInput, PgroupArguments) {
  sbx_spec* raw = nullptr;
  ASSERT_EQ(sbx_spec_new(&raw, nullptr), SBX_OK);
  SpecPtr spec(raw);
  Err e;
  EXPECT_EQ(sbx_spec_set_pgroup(raw, 7, 0, e.out()), SBX_E_INVALID) << e.describe();
  EXPECT_EQ(e.code(), SBX_E_INVALID);
  EXPECT_EQ(sbx_spec_set_pgroup(raw, -1, 0, e.out()), SBX_E_INVALID) << e.describe();
  EXPECT_EQ(sbx_spec_set_pgroup(raw, SBX_PGROUP_NEW, 5, e.out()), SBX_E_INVALID)
      << "PGID must be 0 except with JOIN: " << e.describe();
  EXPECT_EQ(sbx_spec_set_pgroup(raw, SBX_PGROUP_NEW_SESSION, 5, e.out()), SBX_E_INVALID) << e.describe();
  EXPECT_EQ(sbx_spec_set_pgroup(raw, SBX_PGROUP_JOIN, -3, e.out()), SBX_E_INVALID) << e.describe();
  EXPECT_EQ(sbx_spec_set_pgroup(nullptr, SBX_PGROUP_NEW, 0, e.out()), SBX_E_INVALID);
  EXPECT_EQ(sbx_spec_set_pgroup(raw, SBX_PGROUP_JOIN, 5, e.out()), SBX_OK) << e.describe();
  EXPECT_FALSE(e.set()) << "success clears *err";
}

TEST(StartedBadInput, NullPointersAndBadValues) {
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  ProcPtr p = spawn(box.get(), {"/bin/sleep", "100"});
  ASSERT_TRUE(p);
  const int pid = bpid(p.get());
  Err e;
  int x = 0, status = 0;
  uint64_t mask = 0;
  int* pids = nullptr;
  size_t n = 0;
  sbx_proc_info pi;
  memset(&pi, 0, sizeof pi);
  pi.size = sizeof pi;

  // NULL handles.
  EXPECT_EQ(sbx_box_start(nullptr, e.out()), SBX_E_INVALID);
  EXPECT_EQ(sbx_box_stop(nullptr, 0, e.out()), SBX_E_INVALID);
  EXPECT_EQ(sbx_box_terminate_all(nullptr, 0, e.out()), SBX_E_INVALID);
  EXPECT_EQ(sbx_box_signal(nullptr, pid, 0, e.out()), SBX_E_INVALID);
  EXPECT_EQ(sbx_box_waitpid(nullptr, -1, SBX_WNOHANG, 0, &x, &status, e.out()), SBX_E_INVALID);
  EXPECT_EQ(sbx_box_setpgid(nullptr, pid, 0, e.out()), SBX_E_INVALID);
  EXPECT_EQ(sbx_box_setsid(nullptr, pid, e.out()), SBX_E_INVALID);
  EXPECT_EQ(sbx_box_getpgid(nullptr, pid, &x, e.out()), SBX_E_INVALID);
  EXPECT_EQ(sbx_box_getsid(nullptr, pid, &x, e.out()), SBX_E_INVALID);
  EXPECT_EQ(sbx_box_sigmask(nullptr, pid, SBX_SIG_BLOCK, 0, &mask, e.out()), SBX_E_INVALID);
  EXPECT_EQ(sbx_box_sigpending(nullptr, pid, &mask, e.out()), SBX_E_INVALID);
  EXPECT_EQ(sbx_box_list(nullptr, &pids, &n, e.out()), SBX_E_INVALID);
  EXPECT_EQ(sbx_box_proc_info(nullptr, pid, &pi, e.out()), SBX_E_INVALID);
  EXPECT_EQ(sbx_proc_box_pid(nullptr, &x), SBX_E_INVALID);
  EXPECT_EQ(sbx_config_set_zombie_ttl(nullptr, 10, e.out()), SBX_E_INVALID);

  // NULL out pointers.
  EXPECT_EQ(sbx_box_waitpid(box.get(), -1, SBX_WNOHANG, 0, nullptr, &status, e.out()), SBX_E_INVALID);
  EXPECT_EQ(sbx_box_getpgid(box.get(), pid, nullptr, e.out()), SBX_E_INVALID);
  EXPECT_EQ(sbx_box_getsid(box.get(), pid, nullptr, e.out()), SBX_E_INVALID);
  EXPECT_EQ(sbx_box_sigpending(box.get(), pid, nullptr, e.out()), SBX_E_INVALID);
  EXPECT_EQ(sbx_box_list(box.get(), nullptr, &n, e.out()), SBX_E_INVALID);
  EXPECT_EQ(sbx_box_list(box.get(), &pids, nullptr, e.out()), SBX_E_INVALID);
  EXPECT_EQ(sbx_box_proc_info(box.get(), pid, nullptr, e.out()), SBX_E_INVALID);
  EXPECT_EQ(sbx_proc_box_pid(p.get(), nullptr), SBX_E_INVALID);
  // Optional outputs may be NULL.
  EXPECT_EQ(sbx_box_waitpid(box.get(), pid, SBX_WNOHANG, 0, &x, nullptr, e.out()), SBX_OK) << e.describe();
  EXPECT_EQ(x, 0);
  EXPECT_EQ(sbx_box_sigmask(box.get(), pid, SBX_SIG_BLOCK, 0, nullptr, e.out()), SBX_OK) << e.describe();

  // Bad values.
  int rc = sbx_box_waitpid(box.get(), -1, 0x40, 0, &x, &status, e.out());
  EXPECT_TRUE(posix_err(rc, e, EINVAL)) << "bogus option bits";
  rc = sbx_box_waitpid(box.get(), -1, SBX_WNOHANG | 0x1000000, 0, &x, &status, e.out());
  EXPECT_TRUE(posix_err(rc, e, EINVAL)) << "bogus option bits";
  EXPECT_EQ(sbx_box_waitpid(box.get(), -1, 0, -7, &x, &status, e.out()), SBX_E_INVALID) << "timeout < -1";
  pi.size = 0;
  EXPECT_EQ(sbx_box_proc_info(box.get(), pid, &pi, e.out()), SBX_E_INVALID) << "size 0";
  EXPECT_EQ(sbx_box_stop(box.get(), -2, e.out()), SBX_E_INVALID) << "grace < -1";
  EXPECT_EQ(sbx_box_terminate_all(box.get(), -2, e.out()), SBX_E_INVALID) << "grace < -1";
  EXPECT_EQ(state_of(box.get()), SBX_BOX_RUNNING) << "a refused stop changes nothing";

  // A smaller (older) proc_info receives only its own fields.
  struct Small {
    size_t size;
    int pid;
    int ppid;
    int pgid;
    int sid;
  } small{};
  small.size = sizeof small;
  EXPECT_EQ(sbx_box_proc_info(box.get(), pid, reinterpret_cast<sbx_proc_info*>(&small), e.out()), SBX_OK)
      << e.describe();
  EXPECT_EQ(small.pid, pid);
  EXPECT_EQ(small.ppid, 1);
  EXPECT_EQ(small.pgid, pid);
  EXPECT_EQ(small.size, sizeof small);

  EXPECT_EQ(sbx_box_signal(box.get(), pid, 0, e.out()), SBX_OK) << "it survived all of that";
}

TEST(StartedIo, FileNullMergedAndPreservedFdsPerProcess) {
  // Each spawn into one box has its own stdio: a host file for stdout with
  // stderr merged into it, /dev/null for stdin, a file for stdin, and a
  // preserved host fd under its own number.
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  char dir_tmpl[] = "/tmp/sbx-started-io-XXXXXX";
  ASSERT_NE(mkdtemp(dir_tmpl), nullptr);
  const std::string dir = dir_tmpl;
  chmod(dir.c_str(), 0777);  // the box identity writes here only through the host fd
  const std::string out_path = dir + "/out.txt", in_path = dir + "/in.txt";
  write_file(in_path, "from-a-file\n");
  int extra[2];
  ASSERT_EQ(pipe2(extra, O_CLOEXEC), 0);
  Fd extra_rd(extra[0]), extra_wr(extra[1]);
  // The preserved fd keeps its number (written with perl: sh redirects
  // only to fds 0..9).
  Fd preserved(fcntl(extra_wr.get(), F_DUPFD_CLOEXEC, 3));
  ASSERT_GE(preserved.get(), 3);
  const std::string num = std::to_string(preserved.get());
  const std::string script =
      "read line; echo \"in:$line\"; echo to-stderr >&2; "
      "perl -e 'open(my $f, \">&=\", shift) or die \"fd: $!\"; print $f \"via-fd\\n\"' " +
      num;
  ProcPtr p = spawn_sh(box.get(), script, [&] {
    Opts o;
    o.more = [&](sbx_spec* s) {
      ASSERT_EQ(sbx_spec_set_stdio(s, SBX_STDIN, SBX_STDIO_FILE, in_path.c_str(), -1, nullptr), SBX_OK);
      ASSERT_EQ(sbx_spec_set_stdio(s, SBX_STDOUT, SBX_STDIO_FILE, out_path.c_str(), -1, nullptr), SBX_OK);
      ASSERT_EQ(sbx_spec_set_stdio(s, SBX_STDERR, SBX_STDIO_STDOUT, nullptr, -1, nullptr), SBX_OK);
      ASSERT_EQ(sbx_spec_preserve_fd(s, preserved.get(), nullptr), SBX_OK);
    };
    return o;
  }());
  preserved = Fd();
  ASSERT_TRUE(p);
  ProcPtr q = spawn_sh(box.get(), "cat; echo done-q", [] {
    Opts o = captured();
    o.more = [](sbx_spec* s) {
      ASSERT_EQ(sbx_spec_set_stdio(s, SBX_STDIN, SBX_STDIO_NULL, nullptr, -1, nullptr), SBX_OK);
    };
    return o;
  }());
  ASSERT_TRUE(q);
  sbx_exit_status st = wait_exit(p.get());
  EXPECT_EQ(sbx_exit_shell_code(&st), 0) << rec(st);
  EXPECT_EQ(read_file(out_path), "in:from-a-file\nto-stderr\n");
  extra_wr = Fd();
  char buf[64] = {};
  ssize_t n = read(extra_rd.get(), buf, sizeof buf - 1);
  EXPECT_EQ(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0), "via-fd\n");
  // /dev/null as stdin: cat ends at once.
  std::string acc;
  EXPECT_TRUE(read_until(q.get(), SBX_STDOUT, acc, "done-q")) << acc;
  st = wait_exit(q.get());
  EXPECT_EQ(sbx_exit_shell_code(&st), 0) << rec(st);
  unlink(out_path.c_str());
  unlink(in_path.c_str());
  rmdir(dir.c_str());
}

// ================================================================ the supervisor as a target

TEST(StartedSecurity, ProcessesInTheBoxCannotReachTheSupervisor) {
  // pid 1 of a started box holds the control socket to the host. A process
  // in the box (same uid as the supervisor) must not be able to kill it,
  // trace it, read its memory or fds, or learn anything of the host from it.
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  const std::string script =
      "for s in KILL TERM INT HUP USR1 USR2 STOP; do kill -s $s 1 2>/dev/null; done; "
      "ls /proc/1/fd >/dev/null 2>&1 && echo fd-listed; "
      "cat /proc/1/environ >/dev/null 2>&1 && echo environ-read; "
      "head -c 1 /proc/1/mem >/dev/null 2>&1 && echo mem-read; "
      "readlink /proc/1/exe >/dev/null 2>&1 && echo exe-read; "
      "tr '\\0' ' ' </proc/1/cmdline; echo; "
      "grep -E '^(State|TracerPid):' /proc/1/status";
  ProcPtr p = spawn_sh(box.get(), script, captured());
  ASSERT_TRUE(p);
  std::string out = read_all(p.get(), SBX_STDOUT);
  sbx_exit_status st = wait_exit(p.get());
  EXPECT_EQ(sbx_exit_shell_code(&st), 0) << rec(st) << out;
  EXPECT_EQ(out.find("fd-listed"), std::string::npos) << out;
  EXPECT_EQ(out.find("environ-read"), std::string::npos) << out;
  EXPECT_EQ(out.find("mem-read"), std::string::npos) << out;
  EXPECT_EQ(out.find("exe-read"), std::string::npos) << out;
  // Its command line names only the init image (and, for the image, fd
  // numbers; the in-process supervisor of the classic mode has blanked the
  // host's arguments).
  EXPECT_EQ(out.compare(0, 8, "sbx-init"), 0) << out;
  EXPECT_EQ(out.find("sbx_integration_tests"), std::string::npos) << out;
  // Not stopped (SIGSTOP from inside the namespace does not reach pid 1),
  // not traced.
  EXPECT_EQ(out.find("State:\tT"), std::string::npos) << out;
  EXPECT_NE(out.find("TracerPid:\t0"), std::string::npos) << out;
  // The supervisor is alive and serves: another spawn works, the table
  // answers, and the box stops cleanly.
  ProcPtr q = spawn_sh(box.get(), "echo still-served", captured());
  ASSERT_TRUE(q);
  std::string acc;
  EXPECT_TRUE(read_until(q.get(), SBX_STDOUT, acc, "still-served")) << acc;
  wait_exit(q.get());
  sbx_box_state state;
  ASSERT_EQ(sbx_box_state_get(box.get(), &state), SBX_OK);
  EXPECT_EQ(state, SBX_BOX_RUNNING);
  Err e;
  EXPECT_EQ(sbx_box_stop(box.get(), 0, e.out()), SBX_OK) << e.describe();
}

TEST(StartedSecurity, SpawnedProcessesGetTheBoxPolicy) {
  // Every spawned process runs with the box's identity, no capabilities,
  // no_new_privs, the seccomp filter (inherited from the supervisor or
  // installed per spawn) and the Landlock domain.
  for (bool custom : {false, true}) {
    // The unmodified default profile is inherited from the supervisor; with
    // a custom rule each spawn installs the filter itself.
    SCOPED_TRACE(custom ? "default profile + a custom rule" : "default profile");
    BoxPtr box = started_box([&](sbx_config* c) {
      if (custom) {
        ASSERT_EQ(sbx_config_add_seccomp_rule(c, "acct", SBX_SECCOMP_ERRNO, EPERM, 0, nullptr, nullptr),
                  SBX_OK);
      }
    });
    ASSERT_TRUE(box);
    ProcPtr p = spawn(box.get(), {"/bin/cat", "/proc/self/status"}, captured());
    ASSERT_TRUE(p);
    std::string out = read_all(p.get(), SBX_STDOUT);
    sbx_exit_status st = wait_exit(p.get());
    EXPECT_EQ(sbx_exit_shell_code(&st), 0) << rec(st);
    EXPECT_NE(out.find("Seccomp:\t2"), std::string::npos) << out;
    EXPECT_NE(out.find("NoNewPrivs:\t1"), std::string::npos) << out;
    EXPECT_NE(out.find("CapEff:\t0000000000000000"), std::string::npos) << out;
    EXPECT_NE(out.find("CapBnd:\t0000000000000000"), std::string::npos) << out;
    EXPECT_NE(out.find("Uid:\t1000\t1000\t1000\t1000"), std::string::npos) << out;
  }
  // The default profile refuses a new user namespace in a spawned process,
  // and Landlock refuses writing where the box has no writable mount.
  BoxPtr box = started_box();
  ASSERT_TRUE(box);
  ProcPtr p = spawn_sh(box.get(),
                       "unshare -U true 2>/dev/null && echo userns-created; "
                       "echo x > /usr/sbx-probe 2>/dev/null && echo usr-written; echo checked",
                       captured());
  ASSERT_TRUE(p);
  std::string out = read_all(p.get(), SBX_STDOUT);
  wait_exit(p.get());
  EXPECT_EQ(out, "checked\n");
}
