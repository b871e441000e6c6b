// sbx_stream_bench: throughput of a program's stdout as the host receives it,
// through each of sbx's output paths against a raw pipe, measured in one run.
//
// The producer is `dd if=/dev/zero bs=65536 count=... status=none`: it writes
// exactly N MiB to its stdout in 64 KiB write(2) calls and exits (dd writes
// whole blocks; head -c writes 4-8 KiB at a time). It lives in /usr, which
// the default box binds read-only, and reads /dev/zero, which the default box
// provides, so the sbx cases need no extra configuration.
//
// Every case is timed from the caller's first call to its last, box creation
// and teardown included. Every round runs every case once, in an order
// rotated by the round number, so that machine noise falls on all cases
// alike. Only the public C API (<sbx/sbx.h>) and libc are used.
//
// A pipe's throughput depends on whether its writer and reader run on the
// same CPU (cache-hot copies, no cross-CPU wake-ups) or not, which the
// scheduler decides run by run. --pin CPU takes that choice away: the
// benchmark, sbx's threads and every producer then share one CPU.
//
// Exit status: 0 when every run received exactly N MiB from a producer that
// exited 0, 1 when any run failed, 2 on a usage error.
#include <errno.h>
#include <fcntl.h>
#include <sbx/sbx.h>
#include <sched.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

extern char** environ;

namespace {

constexpr int kDefaultMib = 256;
constexpr int kDefaultRuns = 7;
constexpr int kDefaultWarmup = 1;
constexpr int kQuickMib = 16;
constexpr int kQuickRuns = 3;

// The producer's write size, and the size of every read on the host side.
constexpr size_t kChunk = 64 * 1024;

const char* const kDd = "/usr/bin/dd";

// Every host-side read (read() or sbx_proc_read) goes into this buffer: one
// run at a time, on the main thread. The output callback reads nothing.
alignas(64) char g_buf[kChunk];

uint64_t now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// User + system CPU time of this process (every thread, sbx's monitor
// thread included), in nanoseconds. The producer's time is not in here.
uint64_t self_cpu_ns() {
  struct rusage ru = {};
  getrusage(RUSAGE_SELF, &ru);
  auto tv_ns = [](const struct timeval& tv) {
    return static_cast<uint64_t>(tv.tv_sec) * 1000000000ull + static_cast<uint64_t>(tv.tv_usec) * 1000ull;
  };
  return tv_ns(ru.ru_utime) + tv_ns(ru.ru_stime);
}

enum class Kind {
  kRawPipe,      // posix_spawn with stdout on a pipe, read() until EOF
  kSbxRead,      // SBX_STDIO_CAPTURE, sbx_proc_read until EOF
  kSbxCallback,  // SBX_STDIO_CAPTURE, an output callback counts the bytes
  kSbxPipe,      // SBX_STDIO_PIPE, sbx_proc_take_stdio, read() until EOF
};

struct Case {
  std::string key;    // for --cases
  std::string label;  // for the table
  Kind kind = Kind::kRawPipe;

  // Results, one entry per measured run that succeeded.
  std::vector<double> mb_s;      // 10^6 bytes per second, whole run
  std::vector<double> start_ms;  // until the producer was started
  std::vector<double> cpu_ms;    // this process's CPU time during the run
  int failures = 0;              // warm-up included: any failure fails the run
  std::string first_error;
};

struct Run {
  bool ok = false;
  uint64_t bytes = 0;     // bytes the host received
  uint64_t total_ns = 0;  // first call .. last call
  uint64_t start_ns = 0;  // first call .. posix_spawn / sbx_box_spawn returned
  std::string error;
};

struct Options {
  int mib = kDefaultMib;
  int runs = kDefaultRuns;
  int warmup = kDefaultWarmup;
  bool mib_set = false, runs_set = false, warmup_set = false;
  bool quick = false;
  int pin = -1;  // --pin: the CPU everything runs on, -1 = no pinning
  std::string out;
  std::vector<std::string> only;  // --cases
};

// The producer's argv for MIB MiB in 64 KiB blocks (kept alive by the caller).
std::vector<std::string> producer_argv(int mib) {
  const uint64_t blocks = static_cast<uint64_t>(mib) * (1024 * 1024 / kChunk);
  return {kDd, "if=/dev/zero", "bs=" + std::to_string(kChunk), "count=" + std::to_string(blocks),
          "status=none"};
}

// Reads FD until end of file into g_buf, adding up the bytes.
bool drain_fd(int fd, uint64_t* bytes, std::string* error) {
  for (;;) {
    ssize_t n = read(fd, g_buf, sizeof g_buf);
    if (n > 0) {
      *bytes += static_cast<uint64_t>(n);
    } else if (n == 0) {
      return true;
    } else if (errno != EINTR) {
      *error = std::string("read: ") + strerror(errno);
      return false;
    }
  }
}

// Case 1, the floor: a pipe and posix_spawn, as a program without sbx does it.
Run run_raw_pipe(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  Run r;
  const uint64_t t0 = now_ns();
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) {
    r.error = std::string("pipe2: ") + strerror(errno);
    return r;
  }
  // dup2 onto fd 1 clears close-on-exec there; both original ends close at exec.
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(p[1]);  // or the host would never see end of file
  r.start_ns = now_ns() - t0;
  if (rc != 0) {
    close(p[0]);
    r.error = std::string("posix_spawn ") + argv[0] + ": " + strerror(rc);
    return r;
  }
  bool drained = drain_fd(p[0], &r.bytes, &r.error);
  close(p[0]);
  int status = 0;
  pid_t w;
  do {
    w = waitpid(pid, &status, 0);
  } while (w < 0 && errno == EINTR);
  r.total_ns = now_ns() - t0;
  if (!drained) return r;
  if (w < 0) {
    r.error = std::string("waitpid: ") + strerror(errno);
  } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    r.error = "the producer ended with wait status " + std::to_string(status);
  } else {
    r.ok = true;
  }
  return r;
}

std::string take_error(sbx_error* err, const char* call) {
  std::string msg = call;
  if (err != nullptr) {
    msg += ": ";
    msg += sbx_status_name(sbx_error_code(err));
    msg += " (";
    msg += sbx_error_step(err);
    msg += "): ";
    msg += sbx_error_message(err);
    sbx_error_free(err);
  }
  return msg;
}

// The output callback of case 3: runs on sbx's monitor thread. The count is
// read on the main thread after sbx_proc_wait, which returns only once
// every captured stream has reached end of file.
void count_output(void* user_data, int stream, const void*, size_t len) {
  if (stream == SBX_STDOUT)
    static_cast<std::atomic<uint64_t>*>(user_data)->fetch_add(len, std::memory_order_relaxed);
}

// Cases 2-4: the whole life of a one-shot default box, as a C caller writes
// it, with the producer's stdout captured or piped.
Run run_sbx(Kind kind, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  Run r;
  sbx_error* err = nullptr;
  sbx_config* cfg = nullptr;
  sbx_box* box = nullptr;
  sbx_spec* spec = nullptr;
  sbx_proc* proc = nullptr;
  sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  std::atomic<uint64_t> counted{0};
  const sbx_stdio_mode mode = kind == Kind::kSbxPipe ? SBX_STDIO_PIPE : SBX_STDIO_CAPTURE;

  const uint64_t t0 = now_ns();
  bool ok = false;
  if (sbx_config_new(&cfg, &err) != SBX_OK) {
    r.error = take_error(err, "sbx_config_new");
  } else if (sbx_box_create(&box, cfg, &err) != SBX_OK) {
    r.error = take_error(err, "sbx_box_create");
  } else if (sbx_spec_new(&spec, &err) != SBX_OK) {
    r.error = take_error(err, "sbx_spec_new");
  } else if (sbx_spec_set_argv(spec, argv.size(), argv.data(), &err) != SBX_OK) {
    r.error = take_error(err, "sbx_spec_set_argv");
  } else if (sbx_spec_set_stdio(spec, SBX_STDOUT, mode, nullptr, -1, &err) != SBX_OK) {
    r.error = take_error(err, "sbx_spec_set_stdio");
  } else if (kind == Kind::kSbxCallback &&
             sbx_spec_set_output_callback(spec, count_output, &counted, &err) != SBX_OK) {
    r.error = take_error(err, "sbx_spec_set_output_callback");
  } else if (sbx_box_spawn(box, spec, &proc, &err) != SBX_OK) {
    r.error = take_error(err, "sbx_box_spawn");
  } else {
    ok = true;
  }
  r.start_ns = now_ns() - t0;

  if (ok && kind == Kind::kSbxRead) {
    // The pull API: each call copies what the monitor thread buffered.
    for (;;) {
      size_t n = 0;
      if (sbx_proc_read(proc, SBX_STDOUT, g_buf, sizeof g_buf, &n, -1, &err) != SBX_OK) {
        r.error = take_error(err, "sbx_proc_read");
        ok = false;
        break;
      }
      if (n == 0) break;  // end of file
      r.bytes += n;
    }
  } else if (ok && kind == Kind::kSbxPipe) {
    // The pipe's read end itself: sbx is not on the data path.
    int fd = -1;
    if (sbx_proc_take_stdio(proc, SBX_STDOUT, &fd, &err) != SBX_OK) {
      r.error = take_error(err, "sbx_proc_take_stdio");
      ok = false;
    } else {
      ok = drain_fd(fd, &r.bytes, &r.error);
      close(fd);
    }
  }
  if (ok && sbx_proc_wait(proc, -1, &st, &err) != SBX_OK) {
    r.error = take_error(err, "sbx_proc_wait");
    ok = false;
  }
  sbx_proc_free(proc);  // kills and reaps the producer if a step above failed
  sbx_box_free(box);
  sbx_spec_free(spec);
  sbx_config_free(cfg);
  r.total_ns = now_ns() - t0;

  if (kind == Kind::kSbxCallback) r.bytes = counted.load(std::memory_order_relaxed);
  if (ok && sbx_exit_shell_code(&st) != 0) {
    r.error = "the producer in the box ended with shell code " + std::to_string(sbx_exit_shell_code(&st));
    ok = false;
  }
  // sbx's own count of the captured bytes must agree with what arrived.
  if (ok && mode == SBX_STDIO_CAPTURE && (st.usage_valid & SBX_USAGE_OUTPUT) != 0 &&
      st.output_bytes != r.bytes) {
    r.error = "the exit record counts " + std::to_string(st.output_bytes) + " output bytes, the host got " +
              std::to_string(r.bytes);
    ok = false;
  }
  r.ok = ok;
  return r;
}

Run run_case(const Case& c, const std::vector<std::string>& args) {
  if (c.kind == Kind::kRawPipe) return run_raw_pipe(args);
  return run_sbx(c.kind, args);
}

std::vector<Case> make_cases() {
  std::vector<Case> cs(4);
  cs[0].key = "pipe";
  cs[0].label = "raw pipe: posix_spawn + read() (floor)";
  cs[0].kind = Kind::kRawPipe;
  cs[1].key = "sbx_read";
  cs[1].label = "sbx, SBX_STDIO_CAPTURE + sbx_proc_read";
  cs[1].kind = Kind::kSbxRead;
  cs[2].key = "sbx_callback";
  cs[2].label = "sbx, SBX_STDIO_CAPTURE + output callback";
  cs[2].kind = Kind::kSbxCallback;
  cs[3].key = "sbx_pipe";
  cs[3].label = "sbx, SBX_STDIO_PIPE + sbx_proc_take_stdio + read()";
  cs[3].kind = Kind::kSbxPipe;
  return cs;
}

// Percentile by linear interpolation between the closest ranks.
double percentile(std::vector<double> xs, double p) {
  if (xs.empty()) return 0.0;
  std::sort(xs.begin(), xs.end());
  double pos = p * static_cast<double>(xs.size() - 1);
  size_t lo = static_cast<size_t>(pos);
  size_t hi = std::min(lo + 1, xs.size() - 1);
  double frac = pos - static_cast<double>(lo);
  return xs[lo] + (xs[hi] - xs[lo]) * frac;
}

// X with DECIMALS digits after the point.
std::string fmt(double x, int decimals) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.*f", decimals, x);
  return buf;
}

std::string loadavg() {
  int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "unknown";
  char buf[128];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return "unknown";
  // "0.52 0.58 0.59 2/123 4567": the three averages only.
  std::string s;
  int fields = 0;
  for (ssize_t i = 0; i < n && buf[i] != '\n'; ++i) {
    if (buf[i] == ' ' && ++fields == 3) break;
    s += buf[i];
  }
  return s;
}

std::string utc_now() {
  time_t t = time(nullptr);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

void usage(FILE* f) {
  fprintf(f,
          "usage: sbx_stream_bench [--mib N] [--runs N] [--warmup N] [--quick] [--out FILE]\n"
          "                        [--cases KEY,KEY,...] [--pin CPU]\n"
          "  --mib N       bytes the producer writes, in MiB (default %d)\n"
          "  --runs N      measured runs per case (default %d)\n"
          "  --warmup N    unmeasured rounds first (default %d)\n"
          "  --quick       %d MiB, %d runs: a smoke run for CI (explicit options win)\n"
          "  --out FILE    also write the Markdown report to FILE\n"
          "  --cases L     run only these cases (keys: pipe, sbx_read, sbx_callback,\n"
          "                sbx_pipe); without pipe the ratio column is n/a\n"
          "  --pin CPU     run the benchmark, sbx's threads and the producers on CPU\n"
          "                only (the scheduler then cannot spread them over CPUs)\n"
          "Exit status: 0 every run got all bytes, 1 a run failed, 2 usage error.\n",
          kDefaultMib, kDefaultRuns, kDefaultWarmup, kQuickMib, kQuickRuns);
}

bool parse_int(const char* s, int* out) {
  char* end = nullptr;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 1000000) return false;
  *out = static_cast<int>(v);
  return true;
}

// 0 = go on, 1 = exit 0 (help), 2 = usage error.
int parse_args(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        fprintf(stderr, "sbx_stream_bench: %s needs a value\n", name);
        return nullptr;
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return 1;
    } else if (a == "--quick") {
      o->quick = true;
    } else if (a == "--pin") {
      const char* v = value("--pin");
      if (v == nullptr || !parse_int(v, &o->pin) || o->pin >= CPU_SETSIZE) {
        fprintf(stderr, "sbx_stream_bench: --pin wants a CPU number\n");
        return 2;
      }
    } else if (a == "--mib" || a == "--runs" || a == "--warmup") {
      const char* v = value(a.c_str());
      int n = 0;
      const bool positive = a != "--warmup";
      if (v == nullptr || !parse_int(v, &n) || (positive && n < 1)) {
        fprintf(stderr, "sbx_stream_bench: %s wants a whole number %s\n", a.c_str(),
                positive ? ">= 1" : ">= 0");
        return 2;
      }
      if (a == "--mib") {
        o->mib = n;
        o->mib_set = true;
      } else if (a == "--runs") {
        o->runs = n;
        o->runs_set = true;
      } else {
        o->warmup = n;
        o->warmup_set = true;
      }
    } else if (a == "--out") {
      const char* v = value("--out");
      if (v == nullptr) return 2;
      o->out = v;
    } else if (a == "--cases") {
      const char* v = value("--cases");
      if (v == nullptr) return 2;
      std::string list = v;
      size_t start = 0;
      while (start <= list.size()) {
        size_t comma = list.find(',', start);
        if (comma == std::string::npos) comma = list.size();
        if (comma > start) o->only.push_back(list.substr(start, comma - start));
        start = comma + 1;
      }
    } else {
      fprintf(stderr, "sbx_stream_bench: unknown argument '%s'\n", a.c_str());
      usage(stderr);
      return 2;
    }
  }
  if (o->quick) {
    if (!o->mib_set) o->mib = kQuickMib;
    if (!o->runs_set) o->runs = kQuickRuns;
  }
  return 0;
}

std::string report(const std::vector<Case>& cs, const Options& o, const std::vector<std::string>& args,
                   const std::string& date, const std::string& load_start, const std::string& load_end,
                   double wall_s) {
  struct utsname u {};
  uname(&u);
  std::string producer;
  for (const auto& a : args) producer += (producer.empty() ? "" : " ") + a;
  std::string r;
  r += "- Date: " + date + "\n";
  r += std::string("- Kernel: ") + u.sysname + " " + u.release + " " + u.machine + "\n";
  r += "- CPUs online (nproc): " + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + "\n";
  r += "- Load average (1/5/15 min): " + load_start + " at start, " + load_end + " at end\n";
  r += std::string("- libsbx: ") + sbx_version(nullptr, nullptr, nullptr) + "\n";
  if (o.pin >= 0)
    r += "- Pinned to CPU " + std::to_string(o.pin) + ": the benchmark, sbx's threads and every producer\n";
  r += "- Producer: `" + producer + "` (" + std::to_string(o.mib) + " MiB in 64 KiB writes)\n";
  r += "- Runs: " + std::to_string(o.runs) + " measured per case after " + std::to_string(o.warmup) +
       " warm-up round(s), round-robin with rotated order; run took " + fmt(wall_s, 1) + " s\n\n";

  double floor_mb_s = 0;
  for (const auto& c : cs)
    if (c.kind == Kind::kRawPipe && !c.mb_s.empty()) floor_mb_s = percentile(c.mb_s, 0.5);

  r += "| Case | Median MB/s | Min MB/s | Max MB/s | Median / raw pipe | Start ms | Host CPU ms | Failed |\n";
  r += "|---|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& c : cs) {
    if (c.mb_s.empty()) {
      r += "| " + c.label + " | every run failed | | | | | | " + std::to_string(c.failures) + " |\n";
      continue;
    }
    const double med = percentile(c.mb_s, 0.5);
    const std::string ratio = floor_mb_s > 0 ? fmt(100.0 * med / floor_mb_s, 0) + "%" : "n/a";
    const auto mm = std::minmax_element(c.mb_s.begin(), c.mb_s.end());
    r += "| " + c.label + " | " + fmt(med, 0) + " | " + fmt(*mm.first, 0) + " | " + fmt(*mm.second, 0) +
         " | " + ratio + " | " + fmt(percentile(c.start_ms, 0.5), 2) + " | " +
         fmt(percentile(c.cpu_ms, 0.5), 1) + " | " + std::to_string(c.failures) + " |\n";
  }
  bool any_failed = false;
  for (const auto& c : cs) any_failed = any_failed || c.failures > 0;
  if (any_failed) {
    r += "\nFailures (first error of each case):\n\n";
    for (const auto& c : cs)
      if (c.failures > 0) r += "- " + c.label + ": " + c.first_error + "\n";
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  int pr = parse_args(argc, argv, &o);
  if (pr == 1) return 0;
  if (pr != 0) return 2;

  std::vector<Case> all = make_cases();
  for (const auto& k : o.only) {
    bool known = false;
    for (const auto& c : all) known = known || c.key == k;
    if (!known) {
      fprintf(stderr, "sbx_stream_bench: unknown case '%s'\n", k.c_str());
      usage(stderr);
      return 2;
    }
  }
  std::vector<Case> cs;
  for (auto& c : all)
    if (o.only.empty() || std::find(o.only.begin(), o.only.end(), c.key) != o.only.end()) cs.push_back(c);
  if (access(kDd, X_OK) != 0) {
    fprintf(stderr, "sbx_stream_bench: the producer %s is not executable: %s\n", kDd, strerror(errno));
    return 1;
  }

  if (o.pin >= 0) {
    // Before the first sbx call: every thread and process started from here
    // on (sbx's monitor thread, the box processes, the producers) inherits
    // this mask.
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(o.pin, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
      fprintf(stderr, "sbx_stream_bench: --pin %d: %s\n", o.pin, strerror(errno));
      return 2;
    }
  }

  const std::vector<std::string> args = producer_argv(o.mib);
  const uint64_t expected = static_cast<uint64_t>(o.mib) << 20;
  const std::string date = utc_now();
  const std::string load_start = loadavg();
  const uint64_t run_t0 = now_ns();
  const size_t n = cs.size();
  for (int round = 0; round < o.warmup + o.runs; ++round) {
    const bool measured = round >= o.warmup;
    for (size_t k = 0; k < n; ++k) {
      Case& c = cs[(static_cast<size_t>(round) + k) % n];
      const uint64_t c0 = self_cpu_ns();
      Run r = run_case(c, args);
      const uint64_t c1 = self_cpu_ns();
      if (r.ok && r.bytes != expected) {
        r.ok = false;
        r.error = "received " + std::to_string(r.bytes) + " bytes, expected " + std::to_string(expected);
      }
      if (!r.ok) {
        ++c.failures;
        if (c.first_error.empty()) c.first_error = (measured ? "" : "warm-up: ") + r.error;
        continue;
      }
      if (!measured) continue;
      c.mb_s.push_back(static_cast<double>(r.bytes) / 1e6 / (static_cast<double>(r.total_ns) / 1e9));
      c.start_ms.push_back(static_cast<double>(r.start_ns) / 1e6);
      c.cpu_ms.push_back(static_cast<double>(c1 - c0) / 1e6);
    }
  }
  const double wall_s = static_cast<double>(now_ns() - run_t0) / 1e9;

  std::string text = report(cs, o, args, date, load_start, loadavg(), wall_s);
  fputs(text.c_str(), stdout);
  fflush(stdout);
  int rc = 0;
  for (const auto& c : cs)
    if (c.failures > 0) {
      fprintf(stderr, "sbx_stream_bench: %s: %d failed run(s): %s\n", c.key.c_str(), c.failures,
              c.first_error.c_str());
      rc = 1;
    }
  if (!o.out.empty()) {
    FILE* f = fopen(o.out.c_str(), "w");
    bool written = f != nullptr && fputs(text.c_str(), f) >= 0;
    if (f != nullptr && fclose(f) != 0) written = false;
    if (!written) {
      fprintf(stderr, "sbx_stream_bench: cannot write %s: %s\n", o.out.c_str(), strerror(errno));
      return 1;
    }
  }
  return rc;
}
