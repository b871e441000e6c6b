// sbx_spawn_bench: start-and-wait latency of /bin/true, sbx against the
// posix_spawn floor and against peer sandboxes, measured in one run.
//
// Every iteration runs every variant once, in an order rotated by the
// iteration number, so that machine noise (other builds, the VM's neighbours)
// falls on all variants alike instead of on whichever ran during a burst.
// Only the public C API (<sbx/sbx.h>) and libc are used: this is what a
// program linking libsbx pays.
//
// Exit status: 0 when every installed variant ran /bin/true successfully on
// every iteration, 1 when any launch failed, 2 on a usage error.
#include <errno.h>
#include <fcntl.h>
#include <sbx/sbx.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

extern char** environ;

namespace {

constexpr int kDefaultIterations = 200;
constexpr int kDefaultWarmup = 10;
constexpr int kQuickIterations = 20;
constexpr int kQuickWarmup = 2;

const char* const kTrue = "/bin/true";
const char* const kUnshare = "/usr/bin/unshare";
const char* const kBwrap = "/usr/bin/bwrap";

uint64_t now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// CPU time (user + system) of this process plus every reaped descendant, in
// nanoseconds. Work the kernel defers to its own threads (namespace cleanup
// in workqueues, RCU callbacks) is not in here.
uint64_t cpu_ns() {
  auto tv_ns = [](const struct timeval& tv) {
    return static_cast<uint64_t>(tv.tv_sec) * 1000000000ull + static_cast<uint64_t>(tv.tv_usec) * 1000ull;
  };
  struct rusage self = {};
  struct rusage kids = {};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &kids);
  return tv_ns(self.ru_utime) + tv_ns(self.ru_stime) + tv_ns(kids.ru_utime) + tv_ns(kids.ru_stime);
}

// kCloneFloor: the kernel's share alone. clone(2) vfork-style straight into
// the namespaces and execve: no id maps, no filesystem view, no box init, no
// identity drop. Not a sandbox; a lower bound for any launcher that creates
// the same namespaces.
// kSbxWarm: a spawn into a box that was started once before the run (the
// box's namespaces, filesystem view and policies already exist; its
// supervisor starts /bin/true as its child): the cost per process of a
// multi-process box.
enum class Kind { kPosixSpawn, kSbx, kCloneFloor, kSbxWarm };

struct Variant {
  std::string key;    // for --variants
  std::string label;  // for the table
  Kind kind = Kind::kPosixSpawn;
  std::vector<std::string> argv;  // kPosixSpawn: argv[0] is an absolute path
  unsigned ns_mask = 0;           // kSbx
  unsigned long clone_flags = 0;  // kCloneFloor: CLONE_NEW* flags
  bool installed = true;
  std::string missing_note;

  // Results, one entry per measured iteration.
  std::vector<double> total_ms;
  std::vector<double> spawn_ms;  // kSbx: config_new .. box_spawn returned
  std::vector<double> wait_ms;   // kSbx: proc_wait .. last free
  uint64_t cpu_total_ns = 0;     // over the measured launches
  int measured_launches = 0;
  int failures = 0;  // warm-up included: any failure fails the run
  std::string first_error;
};

struct Sample {
  bool ok = false;
  double total_ms = 0, spawn_ms = 0, wait_ms = 0;
  std::string error;
};

Sample run_posix_spawn(const Variant& v) {
  std::vector<char*> argv;
  for (const auto& a : v.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  Sample s;
  uint64_t t0 = now_ns();
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ);
  if (rc != 0) {
    s.error = std::string("posix_spawn ") + argv[0] + ": " + strerror(rc);
    return s;
  }
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid, &status, 0);
  } while (r < 0 && errno == EINTR);
  uint64_t t1 = now_ns();
  s.total_ms = static_cast<double>(t1 - t0) / 1e6;
  if (r < 0) {
    s.error = std::string("waitpid: ") + strerror(errno);
  } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    char buf[96];
    if (WIFEXITED(status))
      snprintf(buf, sizeof buf, "exited with code %d", WEXITSTATUS(status));
    else
      snprintf(buf, sizeof buf, "killed by signal %d", WTERMSIG(status));
    s.error = v.argv[0] + " " + buf;
  } else {
    s.ok = true;
  }
  return s;
}

// The floor child shares the parent's memory (CLONE_VM) and the parent is
// suspended until it executes (CLONE_VFORK), as in posix_spawn: it runs on
// this stack and touches nothing else.
alignas(64) char g_floor_stack[64 * 1024];
char* const g_floor_argv[] = {const_cast<char*>(kTrue), nullptr};
char* const g_floor_envp[] = {nullptr};

int floor_child(void*) {
  execve(kTrue, g_floor_argv, g_floor_envp);
  _exit(127);
}

Sample run_clone_floor(const Variant& v) {
  Sample s;
  uint64_t t0 = now_ns();
  int flags = static_cast<int>(v.clone_flags | CLONE_VM | CLONE_VFORK | SIGCHLD);
  pid_t pid = clone(floor_child, g_floor_stack + sizeof g_floor_stack, flags, nullptr);
  if (pid < 0) {
    s.error = std::string("clone: ") + strerror(errno);
    return s;
  }
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid, &status, 0);
  } while (r < 0 && errno == EINTR);
  s.total_ms = static_cast<double>(now_ns() - t0) / 1e6;
  if (r < 0)
    s.error = std::string("waitpid: ") + strerror(errno);
  else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    s.error = "/bin/true in the cloned namespaces failed, wait status " + std::to_string(status);
  else
    s.ok = true;
  return s;
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

// The whole life of a one-shot box, as a C API user writes it.
Sample run_sbx(const Variant& v) {
  Sample s;
  sbx_error* err = nullptr;
  sbx_config* cfg = nullptr;
  sbx_box* box = nullptr;
  sbx_spec* spec = nullptr;
  sbx_proc* proc = nullptr;
  sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  const char* const argv[] = {kTrue};

  uint64_t t0 = now_ns();
  bool ok = false;
  if (sbx_config_new(&cfg, &err) != SBX_OK) {
    s.error = take_error(err, "sbx_config_new");
  } else if (v.ns_mask != SBX_NS_ALL && sbx_config_set_namespaces(cfg, v.ns_mask, &err) != SBX_OK) {
    s.error = take_error(err, "sbx_config_set_namespaces");
  } else if (sbx_box_create(&box, cfg, &err) != SBX_OK) {
    s.error = take_error(err, "sbx_box_create");
  } else if (sbx_spec_new(&spec, &err) != SBX_OK) {
    s.error = take_error(err, "sbx_spec_new");
  } else if (sbx_spec_set_argv(spec, 1, argv, &err) != SBX_OK) {
    s.error = take_error(err, "sbx_spec_set_argv");
  } else if (sbx_box_spawn(box, spec, &proc, &err) != SBX_OK) {
    s.error = take_error(err, "sbx_box_spawn");
  } else {
    ok = true;
  }
  uint64_t t_spawned = now_ns();
  if (ok && sbx_proc_wait(proc, -1, &st, &err) != SBX_OK) {
    s.error = take_error(err, "sbx_proc_wait");
    ok = false;
  }
  sbx_proc_free(proc);
  sbx_box_free(box);
  sbx_spec_free(spec);
  sbx_config_free(cfg);
  uint64_t t1 = now_ns();

  s.total_ms = static_cast<double>(t1 - t0) / 1e6;
  s.spawn_ms = static_cast<double>(t_spawned - t0) / 1e6;
  s.wait_ms = static_cast<double>(t1 - t_spawned) / 1e6;
  if (ok && sbx_exit_shell_code(&st) != 0) {
    s.error = "/bin/true in the box ended with shell code " + std::to_string(sbx_exit_shell_code(&st));
    ok = false;
  }
  s.ok = ok;
  return s;
}

// One started box per process, kept for the whole run.
sbx_box* g_warm_box = nullptr;
std::string g_warm_error;

void start_warm_box() {
  sbx_error* err = nullptr;
  sbx_config* cfg = nullptr;
  if (sbx_config_new(&cfg, &err) != SBX_OK) {
    g_warm_error = take_error(err, "sbx_config_new");
  } else if (sbx_box_create(&g_warm_box, cfg, &err) != SBX_OK) {
    g_warm_error = take_error(err, "sbx_box_create");
  } else if (sbx_box_start(g_warm_box, &err) != SBX_OK) {
    g_warm_error = take_error(err, "sbx_box_start");
    sbx_box_free(g_warm_box);
    g_warm_box = nullptr;
  }
  sbx_config_free(cfg);
}

// A spawn into the warm box, as a C API user writes it: spec, spawn, wait,
// free.
Sample run_sbx_warm(const Variant&) {
  Sample s;
  if (g_warm_box == nullptr) {
    s.error = g_warm_error.empty() ? "no started box" : g_warm_error;
    return s;
  }
  sbx_error* err = nullptr;
  sbx_spec* spec = nullptr;
  sbx_proc* proc = nullptr;
  sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  const char* const argv[] = {kTrue};
  uint64_t t0 = now_ns();
  bool ok = false;
  if (sbx_spec_new(&spec, &err) != SBX_OK) {
    s.error = take_error(err, "sbx_spec_new");
  } else if (sbx_spec_set_argv(spec, 1, argv, &err) != SBX_OK) {
    s.error = take_error(err, "sbx_spec_set_argv");
  } else if (sbx_box_spawn(g_warm_box, spec, &proc, &err) != SBX_OK) {
    s.error = take_error(err, "sbx_box_spawn");
  } else {
    ok = true;
  }
  uint64_t t_spawned = now_ns();
  if (ok && sbx_proc_wait(proc, -1, &st, &err) != SBX_OK) {
    s.error = take_error(err, "sbx_proc_wait");
    ok = false;
  }
  sbx_proc_free(proc);
  sbx_spec_free(spec);
  uint64_t t1 = now_ns();
  s.total_ms = static_cast<double>(t1 - t0) / 1e6;
  s.spawn_ms = static_cast<double>(t_spawned - t0) / 1e6;
  s.wait_ms = static_cast<double>(t1 - t_spawned) / 1e6;
  if (ok && sbx_exit_shell_code(&st) != 0) {
    s.error = "/bin/true in the warm box ended with shell code " + std::to_string(sbx_exit_shell_code(&st));
    ok = false;
  }
  s.ok = ok;
  return s;
}

Sample run_variant(const Variant& v) {
  switch (v.kind) {
    case Kind::kSbx:
      return run_sbx(v);
    case Kind::kSbxWarm:
      return run_sbx_warm(v);
    case Kind::kCloneFloor:
      return run_clone_floor(v);
    case Kind::kPosixSpawn:
      break;
  }
  return run_posix_spawn(v);
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
  std::string s;
  int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "unknown";
  char buf[128];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return "unknown";
  buf[n] = '\0';
  // "0.52 0.58 0.59 2/123 4567": the three averages only.
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

struct Options {
  int iterations = kDefaultIterations;
  int warmup = kDefaultWarmup;
  bool warmup_set = false;
  std::string out;
  std::vector<std::string> only;  // --variants
  int host_mb = 0;                // --host-mb
};

void usage(FILE* f) {
  fprintf(f,
          "usage: sbx_spawn_bench [--iterations N] [--warmup N] [--quick] [--out FILE]\n"
          "                       [--variants KEY,KEY,...] [--host-mb N]\n"
          "  --iterations N  measured iterations per variant (default %d)\n"
          "  --warmup N      unmeasured iterations first (default %d; %d with --quick)\n"
          "  --quick         %d iterations: a smoke run for CI\n"
          "  --out FILE      also write the Markdown report to FILE\n"
          "  --variants L    run only these variants (keys: posix_spawn, sbx_all, sbx_warm, unshare,\n"
          "                  bwrap, sbx_no_net, sbx_user_pid_mnt, floor_7ns, floor_6ns);\n"
          "                  without posix_spawn the ratio column is n/a (useful\n"
          "                  under strace or perf)\n"
          "  --host-mb N     first touch N MiB of private memory, to model a big host\n"
          "                  process (a JVM, a Go server): launchers that copy the\n"
          "                  caller's address space pay for it, posix_spawn does not\n"
          "Exit status: 0 all launches succeeded, 1 a launch failed, 2 usage error.\n",
          kDefaultIterations, kDefaultWarmup, kQuickWarmup, kQuickIterations);
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
        fprintf(stderr, "sbx_spawn_bench: %s needs a value\n", name);
        return nullptr;
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return 1;
    } else if (a == "--quick") {
      o->iterations = kQuickIterations;
      if (!o->warmup_set) o->warmup = kQuickWarmup;
    } else if (a == "--iterations" || a == "--warmup" || a == "--host-mb") {
      const char* v = value(a.c_str());
      int n = 0;
      if (v == nullptr || !parse_int(v, &n) || (a == "--iterations" && n < 1)) {
        fprintf(stderr, "sbx_spawn_bench: %s wants a whole number%s\n", a.c_str(),
                a == "--iterations" ? " >= 1" : " >= 0");
        return 2;
      }
      if (a == "--iterations") {
        o->iterations = n;
      } else if (a == "--host-mb") {
        o->host_mb = n;
      } else {
        o->warmup = n;
        o->warmup_set = true;
      }
    } else if (a == "--out") {
      const char* v = value("--out");
      if (v == nullptr) return 2;
      o->out = v;
    } else if (a == "--variants") {
      const char* v = value("--variants");
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
      fprintf(stderr, "sbx_spawn_bench: unknown argument '%s'\n", a.c_str());
      usage(stderr);
      return 2;
    }
  }
  return 0;
}

std::vector<Variant> make_variants() {
  std::vector<Variant> vs;
  {
    Variant v;
    v.key = "posix_spawn";
    v.label = "posix_spawn + waitpid (floor)";
    v.argv = {kTrue};
    vs.push_back(v);
  }
  {
    Variant v;
    v.key = "sbx_all";
    v.label = "sbx, all namespaces, default fs view";
    v.kind = Kind::kSbx;
    v.ns_mask = SBX_NS_ALL;
    vs.push_back(v);
  }
  {
    Variant v;
    v.key = "sbx_warm";
    v.label = "sbx, spawn into a started box (all namespaces)";
    v.kind = Kind::kSbxWarm;
    vs.push_back(v);
  }
  {
    Variant v;
    v.key = "unshare";
    v.label = "unshare -U -r -p -f -m -n -u -i";
    v.argv = {kUnshare,  "--user", "--map-root-user", "--pid", "--fork",
              "--mount", "--net",  "--uts",           "--ipc", kTrue};
    vs.push_back(v);
  }
  {
    Variant v;
    v.key = "bwrap";
    v.label = "bwrap --unshare-all, ro /usr";
    v.argv = {kBwrap,      "--unshare-all", "--ro-bind", "/usr",     "/usr",  "--symlink",
              "usr/bin",   "/bin",          "--symlink", "usr/lib",  "/lib",  "--symlink",
              "usr/lib64", "/lib64",        "--symlink", "usr/sbin", "/sbin", "--proc",
              "/proc",     "--dev",         "/dev",      kTrue};
    vs.push_back(v);
  }
  {
    Variant v;
    v.key = "sbx_no_net";
    v.label = "sbx, all but SBX_NS_NET";
    v.kind = Kind::kSbx;
    v.ns_mask = SBX_NS_ALL & ~static_cast<unsigned>(SBX_NS_NET);
    vs.push_back(v);
  }
  {
    Variant v;
    v.key = "sbx_user_pid_mnt";
    v.label = "sbx, USER+PID+MOUNT only";
    v.kind = Kind::kSbx;
    v.ns_mask = SBX_NS_USER | SBX_NS_PID | SBX_NS_MOUNT;
    vs.push_back(v);
  }
  const unsigned long all_ns = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS |
                               CLONE_NEWIPC | CLONE_NEWCGROUP;
  {
    Variant v;
    v.key = "floor_7ns";
    v.label = "kernel floor: clone 7 namespaces + exec";
    v.kind = Kind::kCloneFloor;
    v.clone_flags = all_ns;
    vs.push_back(v);
  }
  {
    Variant v;
    v.key = "floor_6ns";
    v.label = "kernel floor: clone 6 namespaces (no net) + exec";
    v.kind = Kind::kCloneFloor;
    v.clone_flags = all_ns & ~static_cast<unsigned long>(CLONE_NEWNET);
    vs.push_back(v);
  }
  for (auto& v : vs) {
    if (v.kind == Kind::kPosixSpawn && access(v.argv[0].c_str(), X_OK) != 0) {
      v.installed = false;
      v.missing_note = v.argv[0] + " not installed";
    }
  }
  return vs;
}

std::string report(const std::vector<Variant>& vs, const Options& o, const std::string& date,
                   const std::string& load_start, const std::string& load_end, double wall_s) {
  struct utsname u {};
  uname(&u);
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  std::string r;
  r += "- Date: " + date + "\n";
  r += std::string("- Kernel: ") + u.sysname + " " + u.release + " " + u.machine + "\n";
  r += "- CPUs online (nproc): " + std::to_string(ncpu) + "\n";
  r += "- Load average (1/5/15 min): " + load_start + " at start, " + load_end + " at end\n";
  r += std::string("- libsbx: ") + sbx_version(nullptr, nullptr, nullptr) + "\n";
  if (o.host_mb > 0)
    r += "- Host process: " + std::to_string(o.host_mb) + " MiB of private memory touched before measuring\n";
  r += "- Iterations: " + std::to_string(o.iterations) + " measured per variant after " +
       std::to_string(o.warmup) + " warm-up, round-robin with rotated order; run took " + fmt(wall_s, 1) +
       " s\n\n";

  double floor_ms = 0;
  for (const auto& v : vs)
    if (v.key == "posix_spawn" && !v.total_ms.empty()) floor_ms = percentile(v.total_ms, 0.5);

  r += "| Variant | Median ms | p10 ms | p90 ms | Median / posix_spawn | CPU ms per launch | Failed |\n";
  r += "|---|---:|---:|---:|---:|---:|---:|\n";
  auto row = [&](const std::string& label, const std::vector<double>& xs, const std::string& cpu,
                 const std::string& failed) {
    double med = percentile(xs, 0.5);
    std::string ratio = floor_ms > 0 ? fmt(med / floor_ms, 2) + "x" : "n/a";
    r += "| " + label + " | " + fmt(med, 3) + " | " + fmt(percentile(xs, 0.1), 3) + " | " +
         fmt(percentile(xs, 0.9), 3) + " | " + ratio + " | " + cpu + " | " + failed + " |\n";
  };
  for (const auto& v : vs) {
    if (!v.installed) {
      r += "| " + v.label + " | " + v.missing_note + " | | | | | |\n";
      continue;
    }
    if (v.total_ms.empty()) {
      r += "| " + v.label + " | every launch failed | | | | | " + std::to_string(v.failures) + " |\n";
      continue;
    }
    std::string cpu =
        fmt(static_cast<double>(v.cpu_total_ns) / 1e6 / static_cast<double>(v.measured_launches), 3);
    row(v.label, v.total_ms, cpu, std::to_string(v.failures));
    if (v.kind == Kind::kSbx) {
      row("&nbsp;&nbsp;↳ create + spawn (until sbx_box_spawn returns)", v.spawn_ms, "", "");
      row("&nbsp;&nbsp;↳ wait + frees", v.wait_ms, "", "");
    }
    if (v.kind == Kind::kSbxWarm) {
      row("&nbsp;&nbsp;↳ spawn (until sbx_box_spawn returns)", v.spawn_ms, "", "");
      row("&nbsp;&nbsp;↳ wait + frees", v.wait_ms, "", "");
    }
  }
  bool any_failed = false;
  for (const auto& v : vs)
    if (v.failures > 0) any_failed = true;
  if (any_failed) {
    r += "\nFailures (first error of each variant):\n\n";
    for (const auto& v : vs)
      if (v.failures > 0) r += "- " + v.label + ": " + v.first_error + "\n";
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  int pr = parse_args(argc, argv, &o);
  if (pr == 1) return 0;
  if (pr != 0) return 2;

  std::vector<Variant> all = make_variants();
  std::vector<Variant> vs;
  for (auto& v : all) {
    bool wanted = o.only.empty() || std::find(o.only.begin(), o.only.end(), v.key) != o.only.end();
    if (wanted) vs.push_back(v);
  }
  for (const auto& k : o.only) {
    bool known = false;
    for (const auto& v : all) known = known || v.key == k;
    if (!known) {
      fprintf(stderr, "sbx_spawn_bench: unknown variant '%s'\n", k.c_str());
      usage(stderr);
      return 2;
    }
  }

  if (o.host_mb > 0) {
    // Private, written pages: what a copy of the address space has to map.
    size_t len = static_cast<size_t>(o.host_mb) << 20;
    void* mem = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
      fprintf(stderr, "sbx_spawn_bench: --host-mb %d: %s\n", o.host_mb, strerror(errno));
      return 2;
    }
    memset(mem, 1, len);  // kept mapped until exit
  }

  for (const auto& v : vs)
    if (v.kind == Kind::kSbxWarm && g_warm_box == nullptr) start_warm_box();

  const std::string date = utc_now();
  const std::string load_start = loadavg();
  const uint64_t run_t0 = now_ns();
  const size_t n = vs.size();
  const int total = o.warmup + o.iterations;
  for (int it = 0; it < total; ++it) {
    const bool measured = it >= o.warmup;
    for (size_t k = 0; k < n; ++k) {
      Variant& v = vs[(static_cast<size_t>(it) + k) % n];
      if (!v.installed) continue;
      uint64_t c0 = cpu_ns();
      Sample s = run_variant(v);
      uint64_t c1 = cpu_ns();
      if (!measured) {
        if (!s.ok && v.first_error.empty()) v.first_error = "warm-up: " + s.error;
        if (!s.ok) ++v.failures;
        continue;
      }
      v.cpu_total_ns += c1 - c0;
      ++v.measured_launches;
      if (!s.ok) {
        ++v.failures;
        if (v.first_error.empty()) v.first_error = s.error;
        continue;
      }
      v.total_ms.push_back(s.total_ms);
      if (v.kind == Kind::kSbx || v.kind == Kind::kSbxWarm) {
        v.spawn_ms.push_back(s.spawn_ms);
        v.wait_ms.push_back(s.wait_ms);
      }
    }
  }
  const double wall_s = static_cast<double>(now_ns() - run_t0) / 1e9;
  sbx_box_free(g_warm_box);
  g_warm_box = nullptr;

  std::string text = report(vs, o, date, load_start, loadavg(), wall_s);
  fputs(text.c_str(), stdout);
  fflush(stdout);
  int rc = 0;
  for (const auto& v : vs)
    if (v.failures > 0) {
      fprintf(stderr, "sbx_spawn_bench: %s: %d failed launch(es): %s\n", v.key.c_str(), v.failures,
              v.first_error.c_str());
      rc = 1;
    }
  if (!o.out.empty()) {
    FILE* f = fopen(o.out.c_str(), "w");
    bool written = f != nullptr && fputs(text.c_str(), f) >= 0;
    if (f != nullptr && fclose(f) != 0) written = false;
    if (!written) {
      fprintf(stderr, "sbx_spawn_bench: cannot write %s: %s\n", o.out.c_str(), strerror(errno));
      return 1;
    }
  }
  return rc;
}
