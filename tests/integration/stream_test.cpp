// Captured streams (SBX_STDIO_CAPTURE): the pull API, callbacks on the
// monitor thread, the exit callback after all output, output caps, stdin
// writes without SIGPIPE, timeouts and interrupts, and the free guarantee.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include "box_helper.hpp"

using namespace sbx_it;

namespace {

struct Started {
  BoxPtr box;
  ProcPtr proc;
};

// A default box running ARGV with the given streams captured.
Started start(const std::vector<std::string>& argv, bool cap_in, bool cap_out, bool cap_err,
              const std::function<void(sbx_spec*)>& more = {}) {
  Started s;
  sbx_config* cfg = nullptr;
  EXPECT_EQ(sbx_config_new(&cfg, nullptr), SBX_OK);
  sbx_box* box = nullptr;
  EXPECT_EQ(sbx_box_create(&box, cfg, nullptr), SBX_OK);
  sbx_config_free(cfg);
  s.box.reset(box);
  sbx_spec* spec = nullptr;
  EXPECT_EQ(sbx_spec_new(&spec, nullptr), SBX_OK);
  std::vector<const char*> a;
  for (auto& x : argv) a.push_back(x.c_str());
  EXPECT_EQ(sbx_spec_set_argv(spec, a.size(), a.data(), nullptr), SBX_OK);
  sbx_spec_set_stdio(spec, SBX_STDIN, cap_in ? SBX_STDIO_CAPTURE : SBX_STDIO_NULL, nullptr, -1, nullptr);
  sbx_spec_set_stdio(spec, SBX_STDOUT, cap_out ? SBX_STDIO_CAPTURE : SBX_STDIO_NULL, nullptr, -1, nullptr);
  sbx_spec_set_stdio(spec, SBX_STDERR, cap_err ? SBX_STDIO_CAPTURE : SBX_STDIO_NULL, nullptr, -1, nullptr);
  if (more) more(spec);
  sbx_proc* proc = nullptr;
  sbx_error* err = nullptr;
  int rc = sbx_box_spawn(box, spec, &proc, &err);
  EXPECT_EQ(rc, SBX_OK) << (err ? sbx_error_message(err) : "");
  sbx_error_free(err);
  sbx_spec_free(spec);
  s.proc.reset(proc);
  return s;
}

// Reads STREAM to end of file.
std::string read_all(sbx_proc* p, int stream) {
  std::string out;
  char buf[65536];
  for (;;) {
    size_t n = 0;
    int rc = sbx_proc_read(p, stream, buf, sizeof buf, &n, 20000, nullptr);
    if (rc != SBX_OK) {
      ADD_FAILURE() << "sbx_proc_read: " << sbx_status_name(rc);
      return out;
    }
    if (n == 0) return out;
    out.append(buf, n);
  }
}

std::string seq_text(int n) {
  std::string s;
  for (int i = 1; i <= n; ++i) s += std::to_string(i) + "\n";
  return s;
}

}  // namespace

TEST(Streams, PullStdoutAndStderrSeparately) {
  auto s = start({"/bin/sh", "-c", "echo out; echo err >&2; echo more"}, false, true, true);
  ASSERT_TRUE(s.proc);
  EXPECT_EQ(read_all(s.proc.get(), SBX_STDOUT), "out\nmore\n");
  EXPECT_EQ(read_all(s.proc.get(), SBX_STDERR), "err\n");
  sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  ASSERT_EQ(sbx_proc_wait(s.proc.get(), 20000, &st, nullptr), SBX_OK);
  EXPECT_EQ(st.kind, SBX_EXIT_EXITED);
  EXPECT_TRUE(st.usage_valid & SBX_USAGE_OUTPUT);
  EXPECT_EQ(st.output_bytes, 13u);
  EXPECT_EQ(st.limits_hit & SBX_HIT_OUTPUT, 0u);
}

TEST(Streams, LargeOutputArrivesCompleteAndInOrder) {
  // ~20 MiB through the pull API with 64 KiB reads (far beyond the 1 MiB
  // buffer: the program is paused by back-pressure, never loses a byte).
  auto s = start({"/usr/bin/seq", "1", "2500000"}, false, true, false);
  ASSERT_TRUE(s.proc);
  std::string out = read_all(s.proc.get(), SBX_STDOUT);
  EXPECT_EQ(out.size(), seq_text(2500000).size());
  EXPECT_TRUE(out == seq_text(2500000)) << "output differs";
  sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  ASSERT_EQ(sbx_proc_wait(s.proc.get(), 20000, &st, nullptr), SBX_OK);
  EXPECT_EQ(st.output_bytes, out.size());
}

TEST(Streams, CallbacksDeliverAllOutputBeforeTheExitEventOnce) {
  struct State {
    std::mutex mu;
    std::string out, err;
    int exits = 0;
    size_t out_at_exit = 0;
    sbx_exit_status st = SBX_EXIT_STATUS_INIT;
    std::thread::id cb_thread;
  } state;
  auto s =
      start({"/bin/sh", "-c", "seq 1 200000; echo done >&2; exit 3"}, false, true, true, [&](sbx_spec* spec) {
        sbx_spec_set_output_callback(
            spec,
            [](void* u, int stream, const void* d, size_t n) {
              auto* st = static_cast<State*>(u);
              std::lock_guard<std::mutex> lk(st->mu);
              (stream == SBX_STDOUT ? st->out : st->err).append(static_cast<const char*>(d), n);
              st->cb_thread = std::this_thread::get_id();
            },
            &state, nullptr);
        sbx_spec_set_exit_callback(
            spec,
            [](void* u, const struct sbx_exit_status* e) {
              auto* st = static_cast<State*>(u);
              std::lock_guard<std::mutex> lk(st->mu);
              ++st->exits;
              st->out_at_exit = st->out.size() + st->err.size();
              st->st = *e;
            },
            &state, nullptr);
      });
  ASSERT_TRUE(s.proc);
  sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  ASSERT_EQ(sbx_proc_wait(s.proc.get(), 20000, &st, nullptr), SBX_OK);
  EXPECT_EQ(st.code, 3);
  // The exit callback comes from the monitor thread; give it its moment.
  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard<std::mutex> lk(state.mu);
      if (state.exits > 0) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::lock_guard<std::mutex> lk(state.mu);
  EXPECT_EQ(state.exits, 1);
  EXPECT_EQ(state.out, seq_text(200000));
  EXPECT_EQ(state.err, "done\n");
  EXPECT_EQ(state.out_at_exit, state.out.size() + state.err.size()) << "output arrived after the exit event";
  EXPECT_EQ(state.st.code, 3);
  EXPECT_EQ(state.st.output_bytes, state.out.size() + state.err.size());
  EXPECT_NE(state.cb_thread, std::this_thread::get_id());
  size_t n = 0;
  char c;
  EXPECT_EQ(sbx_proc_read(s.proc.get(), SBX_STDOUT, &c, 1, &n, 0, nullptr), SBX_E_STATE)
      << "output went to the callback: nothing to read";
}

TEST(Streams, OutputCapTruncates) {
  auto s = start(
      {"/bin/sh", "-c", "head -c 100000 /dev/zero; echo tail >&2"}, false, true, true,
      [](sbx_spec* spec) { sbx_spec_set_output_limit(spec, 1000, SBX_OUTPUT_LIMIT_TRUNCATE, nullptr); });
  ASSERT_TRUE(s.proc);
  std::string out = read_all(s.proc.get(), SBX_STDOUT);
  std::string err = read_all(s.proc.get(), SBX_STDERR);
  EXPECT_EQ(out.size() + err.size(), 1000u);
  sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  ASSERT_EQ(sbx_proc_wait(s.proc.get(), 20000, &st, nullptr), SBX_OK);
  EXPECT_EQ(st.kind, SBX_EXIT_EXITED);
  EXPECT_EQ(st.code, 0) << "truncation does not end the program";
  EXPECT_EQ(st.reason, SBX_REASON_NORMAL);
  EXPECT_TRUE(st.limits_hit & SBX_HIT_OUTPUT);
  EXPECT_EQ(st.output_bytes, 100005u);
}

TEST(Streams, OutputCapCanKill) {
  auto s = start({"/usr/bin/yes"}, false, true, false, [](sbx_spec* spec) {
    sbx_spec_set_output_limit(spec, 4096, SBX_OUTPUT_LIMIT_KILL, nullptr);
  });
  ASSERT_TRUE(s.proc);
  std::string out = read_all(s.proc.get(), SBX_STDOUT);
  EXPECT_EQ(out.size(), 4096u);
  sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  ASSERT_EQ(sbx_proc_wait(s.proc.get(), 20000, &st, nullptr), SBX_OK);
  EXPECT_EQ(st.kind, SBX_EXIT_SIGNALED);
  EXPECT_EQ(st.signal, SIGKILL);
  EXPECT_EQ(st.reason, SBX_REASON_OUTPUT) << sbx_exit_reason_name(st.reason);
  EXPECT_TRUE(st.limits_hit & SBX_HIT_OUTPUT);
  EXPECT_GE(st.output_bytes, 4096u);
}

TEST(Streams, StdinWriteAndClose) {
  auto s = start({"/bin/cat"}, true, true, false);
  ASSERT_TRUE(s.proc);
  size_t w = 0;
  ASSERT_EQ(sbx_proc_write(s.proc.get(), "hello\n", 6, &w, 5000, nullptr), SBX_OK);
  EXPECT_EQ(w, 6u);
  ASSERT_EQ(sbx_proc_close_stdin(s.proc.get(), nullptr), SBX_OK);
  EXPECT_EQ(read_all(s.proc.get(), SBX_STDOUT), "hello\n");
  sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  ASSERT_EQ(sbx_proc_wait(s.proc.get(), 20000, &st, nullptr), SBX_OK);
  EXPECT_EQ(st.code, 0);
  sbx_error* err = nullptr;
  EXPECT_EQ(sbx_proc_write(s.proc.get(), "x", 1, &w, 0, &err), SBX_E_STATE);
  sbx_error_free(err);
}

TEST(Streams, AReaderThatWentAwayCostsNoSigpipe) {
  // SIGPIPE at its default would kill this test process.
  struct sigaction old {
  }, dfl{};
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGPIPE, &dfl, &old);
  auto s = start({"/bin/true"}, true, false, false);
  ASSERT_TRUE(s.proc);
  sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  ASSERT_EQ(sbx_proc_wait(s.proc.get(), 20000, &st, nullptr), SBX_OK);
  std::string big(1 << 20, 'x');
  size_t w = 0;
  sbx_error* err = nullptr;
  EXPECT_EQ(sbx_proc_write(s.proc.get(), big.data(), big.size(), &w, 2000, &err), SBX_E_STATE);
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(sbx_error_errno(err), EPIPE);
  sbx_error_free(err);
  sigaction(SIGPIPE, &old, nullptr);
}

TEST(Streams, ReadTimesOutAndCanBeInterrupted) {
  auto s = start({"/bin/sleep", "30"}, false, true, false);
  ASSERT_TRUE(s.proc);
  char buf[16];
  size_t n = 99;
  EXPECT_EQ(sbx_proc_read(s.proc.get(), SBX_STDOUT, buf, sizeof buf, &n, 50, nullptr), SBX_E_TIMEOUT);
  EXPECT_EQ(n, 0u);
  std::atomic<int> rc{SBX_OK};
  std::thread reader([&] { rc = sbx_proc_read(s.proc.get(), SBX_STDOUT, buf, sizeof buf, &n, -1, nullptr); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(sbx_proc_interrupt(s.proc.get(), nullptr), SBX_OK);
  reader.join();
  EXPECT_EQ(rc.load(), SBX_E_INTERRUPTED);
}

TEST(Streams, BadUse) {
  auto s = start({"/bin/sh", "-c", "echo x"}, false, true, false);
  ASSERT_TRUE(s.proc);
  char buf[4];
  size_t n = 0;
  sbx_error* err = nullptr;
  EXPECT_EQ(sbx_proc_read(s.proc.get(), SBX_STDERR, buf, sizeof buf, &n, 0, &err), SBX_E_STATE);
  sbx_error_free(err);
  EXPECT_EQ(sbx_proc_read(s.proc.get(), 7, buf, sizeof buf, &n, 0, &err), SBX_E_INVALID);
  sbx_error_free(err);
  int fd = -1;
  EXPECT_EQ(sbx_proc_take_stdio(s.proc.get(), SBX_STDOUT, &fd, &err), SBX_E_STATE);
  sbx_error_free(err);
  EXPECT_EQ(sbx_proc_write(s.proc.get(), "x", 1, &n, 0, &err), SBX_E_STATE) << "stdin is not captured";
  sbx_error_free(err);

  sbx_spec* spec = nullptr;
  ASSERT_EQ(sbx_spec_new(&spec, nullptr), SBX_OK);
  EXPECT_EQ(sbx_spec_set_output_limit(spec, 0, SBX_OUTPUT_LIMIT_KILL, &err), SBX_E_INVALID);
  sbx_error_free(err);
  EXPECT_EQ(sbx_spec_set_output_limit(spec, 10, 9, &err), SBX_E_INVALID);
  sbx_error_free(err);
  const char* argv[] = {"/bin/true"};
  sbx_spec_set_argv(spec, 1, argv, nullptr);
  sbx_spec_set_output_callback(
      spec, [](void*, int, const void*, size_t) {}, nullptr, nullptr);
  sbx_config* cfg = nullptr;
  sbx_config_new(&cfg, nullptr);
  sbx_box* box = nullptr;
  ASSERT_EQ(sbx_box_create(&box, cfg, nullptr), SBX_OK);
  sbx_proc* p = nullptr;
  EXPECT_EQ(sbx_box_spawn(box, spec, &p, &err), SBX_E_INVALID) << "a callback without a captured stream";
  EXPECT_NE(std::string(sbx_error_message(err)).find("SBX_STDIO_CAPTURE"), std::string::npos);
  sbx_error_free(err);
  EXPECT_EQ(p, nullptr);
  sbx_box_free(box);
  sbx_config_free(cfg);
  sbx_spec_free(spec);
}

TEST(Streams, NoCallbackAfterFreeReturns) {
  struct State {
    std::atomic<bool> freed{false};
    std::atomic<int> late{0};
    std::atomic<int> calls{0};
  } state;
  auto s = start({"/usr/bin/yes"}, false, true, false, [&](sbx_spec* spec) {
    sbx_spec_set_output_callback(
        spec,
        [](void* u, int, const void*, size_t) {
          auto* st = static_cast<State*>(u);
          st->calls++;
          if (st->freed) st->late++;
          std::this_thread::sleep_for(std::chrono::microseconds(200));
        },
        &state, nullptr);
  });
  ASSERT_TRUE(s.proc);
  while (state.calls < 5) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  s.proc.reset();  // sbx_proc_free: the box still holds the process
  state.freed = true;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(state.late.load(), 0);
  s.box.reset();
}

namespace {

// Reads the pty's output until it contains WANT (or 10 s pass).
bool read_until(sbx_proc* p, std::string& acc, const std::string& want) {
  char buf[4096];
  for (int i = 0; i < 200 && acc.find(want) == std::string::npos; ++i) {
    size_t n = 0;
    int rc = sbx_proc_read(p, SBX_STDOUT, buf, sizeof buf, &n, 50, nullptr);
    if (rc == SBX_OK && n == 0) break;
    if (rc == SBX_OK) acc.append(buf, n);
  }
  return acc.find(want) != std::string::npos;
}

}  // namespace

TEST(Pty, ControllingTerminalAndResize) {
  const char* script =
      "trap 'echo winch $(stty size)' WINCH; "
      "[ -t 0 ] && [ -t 1 ] && echo tty-yes; "
      "echo size $(stty size); "
      "echo ready; "
      "i=0; while [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done";
  auto s = start({"/bin/sh", "-c", script}, false, false, false,
                 [](sbx_spec* spec) { ASSERT_EQ(sbx_spec_set_pty(spec, 24, 80, nullptr), SBX_OK); });
  ASSERT_TRUE(s.proc);
  std::string acc;
  ASSERT_TRUE(read_until(s.proc.get(), acc, "ready")) << acc;
  EXPECT_NE(acc.find("tty-yes"), std::string::npos) << acc;
  EXPECT_NE(acc.find("size 24 80"), std::string::npos) << acc;
  ASSERT_EQ(sbx_proc_resize(s.proc.get(), 30, 100, nullptr), SBX_OK);
  EXPECT_TRUE(read_until(s.proc.get(), acc, "winch 30 100")) << "the program saw no SIGWINCH: " << acc;
  sbx_box_kill(s.box.get(), SIGKILL, nullptr);
}

TEST(Pty, InputIsEchoedAndEofEndsIt) {
  auto s = start({"/bin/cat"}, false, false, false,
                 [](sbx_spec* spec) { ASSERT_EQ(sbx_spec_set_pty(spec, 24, 80, nullptr), SBX_OK); });
  ASSERT_TRUE(s.proc);
  size_t w = 0;
  ASSERT_EQ(sbx_proc_write(s.proc.get(), "hi\n", 3, &w, 5000, nullptr), SBX_OK);
  std::string acc;
  // The terminal echoes "hi", then cat writes it back: twice, with CRLF.
  EXPECT_TRUE(read_until(s.proc.get(), acc, "hi\r\nhi\r\n")) << acc;
  ASSERT_EQ(sbx_proc_close_stdin(s.proc.get(), nullptr), SBX_OK);  // ^D
  sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  ASSERT_EQ(sbx_proc_wait(s.proc.get(), 10000, &st, nullptr), SBX_OK);
  EXPECT_EQ(st.kind, SBX_EXIT_EXITED);
  EXPECT_EQ(st.code, 0);
  sbx_error* err = nullptr;
  EXPECT_EQ(sbx_proc_resize(s.proc.get(), 0, 80, &err), SBX_E_INVALID);
  sbx_error_free(err);
}

TEST(Pty, ResizeWithoutPtyIsAStateError) {
  auto s = start({"/bin/true"}, false, true, false);
  ASSERT_TRUE(s.proc);
  sbx_error* err = nullptr;
  EXPECT_EQ(sbx_proc_resize(s.proc.get(), 10, 10, &err), SBX_E_STATE);
  sbx_error_free(err);
  sbx_spec* spec = nullptr;
  ASSERT_EQ(sbx_spec_new(&spec, nullptr), SBX_OK);
  EXPECT_EQ(sbx_spec_set_pty(spec, 0, 80, &err), SBX_E_INVALID);
  sbx_error_free(err);
  sbx_spec_free(spec);
}

namespace {

sbx_box_state box_state(sbx_box* b) {
  sbx_box_state st = SBX_BOX_FAILED;
  sbx_box_state_get(b, &st);
  return st;
}

// Everything readable right now (the program keeps writing).
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

}  // namespace

TEST(Pause, FreezesTheBoxAndResumes) {
  auto s =
      start({"/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo $i; sleep 0.02; done"}, false, true, false);
  ASSERT_TRUE(s.proc);
  ASSERT_FALSE(drain(s.proc.get(), 2000).empty()) << "the counter never started";
  ASSERT_EQ(sbx_box_pause(s.box.get(), nullptr), SBX_OK);
  EXPECT_EQ(box_state(s.box.get()), SBX_BOX_PAUSED);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  drain(s.proc.get(), 0);  // what was written before the pause took effect
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(drain(s.proc.get(), 0), "") << "the box ran while paused";
  sbx_error* err = nullptr;
  EXPECT_EQ(sbx_box_pause(s.box.get(), &err), SBX_E_STATE);
  sbx_error_free(err);
  ASSERT_EQ(sbx_box_resume(s.box.get(), nullptr), SBX_OK);
  EXPECT_EQ(box_state(s.box.get()), SBX_BOX_RUNNING);
  EXPECT_FALSE(drain(s.proc.get(), 2000).empty()) << "no progress after resume";
  EXPECT_EQ(sbx_box_resume(s.box.get(), &err), SBX_E_STATE);
  sbx_error_free(err);
  sbx_box_kill(s.box.get(), SIGKILL, nullptr);
}

TEST(Pause, KillAndTimeoutEndAPausedBox) {
  auto s = start({"/bin/sleep", "100"}, false, false, false);
  ASSERT_TRUE(s.proc);
  ASSERT_EQ(sbx_box_pause(s.box.get(), nullptr), SBX_OK);
  ASSERT_EQ(sbx_box_kill(s.box.get(), SIGKILL, nullptr), SBX_OK);
  sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  ASSERT_EQ(sbx_proc_wait(s.proc.get(), 10000, &st, nullptr), SBX_OK) << "a paused box did not die";
  EXPECT_EQ(st.signal, SIGKILL);

  // A time limit fires while paused.
  BoxOptions o;
  o.configure = [](sbx_config* c, sbx_error** e) {
    int rc = sbx_config_set_timeout(c, 300, e);
    return rc != SBX_OK ? rc : sbx_config_set_kill_grace(c, 200, e);
  };
  RunResult res;
  auto r = start_box(o, {"/bin/sleep", "100"}, {}, &res);
  ASSERT_TRUE(r) << res.describe();
  ASSERT_EQ(sbx_box_pause(r->box.get(), nullptr), SBX_OK);
  sbx_exit_status st2 = SBX_EXIT_STATUS_INIT;
  ASSERT_EQ(sbx_proc_wait(r->proc.get(), 10000, &st2, nullptr), SBX_OK)
      << "the timeout did not end a paused box";
  EXPECT_EQ(st2.reason, SBX_REASON_TIMEOUT);

  // Freeing a paused box returns.
  auto s2 = start({"/bin/sleep", "100"}, false, false, false);
  ASSERT_TRUE(s2.proc);
  ASSERT_EQ(sbx_box_pause(s2.box.get(), nullptr), SBX_OK);
  s2.proc.reset();
  s2.box.reset();
}

TEST(Pause, OnlyARunningBoxPauses) {
  sbx_config* cfg = nullptr;
  ASSERT_EQ(sbx_config_new(&cfg, nullptr), SBX_OK);
  sbx_box* box = nullptr;
  ASSERT_EQ(sbx_box_create(&box, cfg, nullptr), SBX_OK);
  sbx_error* err = nullptr;
  EXPECT_EQ(sbx_box_pause(box, &err), SBX_E_STATE);
  EXPECT_NE(std::string(sbx_error_message(err)).find("configured"), std::string::npos);
  sbx_error_free(err);
  EXPECT_EQ(sbx_box_resume(box, &err), SBX_E_STATE);
  sbx_error_free(err);
  EXPECT_EQ(sbx_box_pause(nullptr, &err), SBX_E_INVALID);
  sbx_error_free(err);
  sbx_box_free(box);
  sbx_config_free(cfg);
}
