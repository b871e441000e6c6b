// The `sbx` command-line tool, built on the public C API only (<sbx/sbx.h>).
//
//   sbx run [OPTIONS] -- PROGRAM [ARGS...]   run one program in a fresh box
//   sbx check [--json]                       what this host supports
//   sbx version                              library, ABI and header versions
//
// Exit codes of `sbx run` (SPEC §4): the program's code, 128+N when it was
// killed by signal N, 125 when sbx itself failed (including usage errors),
// 126 when the program could not be executed, 127 when it was not found.
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sbx/sbx.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "json.hpp"
#include "options.hpp"

namespace sbx_cli {
namespace {

constexpr int kExitSbxFailed = 125;
constexpr int kExitCannotExecute = 126;
constexpr int kExitNotFound = 127;

// ------------------------------------------------------------------ usage

const char kUsage[] =
    "usage: sbx COMMAND [ARGS...]\n"
    "\n"
    "Commands:\n"
    "  run [OPTIONS] -- PROGRAM [ARGS...]  run PROGRAM in a fresh sandbox box\n"
    "  check [--json]                      show which isolation features this host supports\n"
    "  version                             show the library, ABI and header versions\n"
    "  help [COMMAND]                      show this help, or a command's help\n"
    "\n"
    "Run 'sbx run --help' for the options of 'sbx run'.\n";

const char kRunUsage[] =
    "usage: sbx run [OPTIONS] [--] PROGRAM [ARGS...]\n"
    "\n"
    "Runs PROGRAM in a fresh box (new user, pid, mount, network, uts, ipc and\n"
    "cgroup namespaces; read-only system directories; a clean environment;\n"
    "uid/gid 1000; the default seccomp profile, Landlock, no capabilities) and\n"
    "streams its stdout/stderr. '--' is needed only when PROGRAM starts with '-'.\n"
    "A PROGRAM without '/' is searched in the box's PATH.\n"
    "\n"
    "Filesystem:\n"
    "  --rootfs DIR          use host directory DIR (read-only) as the root\n"
    "  --ro-bind SRC DST     bind host path SRC read-only at DST\n"
    "  --bind SRC DST        bind host path SRC writable at DST\n"
    "  --tmpfs DST[:SIZE]    a writable tmpfs at DST, SIZE in bytes or with a\n"
    "                        k/m/g suffix (e.g. --tmpfs /tmp:64m)\n"
    "  --workdir DIR         the program's working directory inside the box\n"
    "Process:\n"
    "  -e, --env KEY=VALUE   set an environment variable\n"
    "  -e, --env KEY         copy KEY from sbx's own environment (if set)\n"
    "  --user UID[:GID]      numeric identity inside the box (GID defaults to UID)\n"
    "  --stdin FILE          read the program's stdin from host file FILE\n"
    "  --rlimit NAME=SOFT[:HARD]\n"
    "                        a resource limit of the program and its children\n"
    "                        (setrlimit; repeatable). NAME: nofile, cpu (plain\n"
    "                        numbers), fsize, as, core, stack, memlock (bytes, k/m/g\n"
    "                        suffixes); case-insensitive, RLIMIT_ prefix optional.\n"
    "                        'unlimited' (or 'inf') for no limit; HARD defaults to\n"
    "                        SOFT and cannot exceed sbx's own. nproc is refused (it\n"
    "                        counts host-wide): use --pids-limit\n"
    "Box:\n"
    "  --hostname NAME       hostname inside the box (default 'sbx')\n"
    "  --network none|host   'none' (default): only loopback; 'host': the host's network\n"
    "Limits of the whole box (every process in it):\n"
    "  --memory SIZE         memory limit, e.g. 256m; beyond it the box is\n"
    "                        OOM-killed (reason \"memory\")\n"
    "  --pids-limit N        at most N processes and threads at once (the fork-bomb\n"
    "                        cap; refused forks fail with EAGAIN)\n"
    "  --cpus FLOAT          CPU bandwidth in CPUs, 0.01..1024 (e.g. 0.5)\n"
    "  --cpu-time SECONDS    total CPU time (user+system) of the box, e.g. 1.5;\n"
    "                        beyond it the box is killed (reason \"cpu-time\")\n"
    "  --timeout SECONDS     wall-clock limit from the start, e.g. 10 or 0.5: SIGTERM\n"
    "                        to every process of the box, the kill grace, then\n"
    "                        SIGKILL (reason \"timeout\")\n"
    "  --kill-grace SECONDS  time between that SIGTERM and SIGKILL (default 1;\n"
    "                        0 = SIGKILL at once)\n"
    "  --output-limit SIZE   at most SIZE bytes of stdout and stderr together. sbx\n"
    "                        then relays the program's stdout/stderr through pipes\n"
    "                        (the program sees pipes, not a terminal); past SIZE it\n"
    "                        writes nothing more, kills the box and exits 137\n"
    "                        (reason \"output-limit\")\n"
    "  --cgroup-parent PATH  where the box's cgroup is created: an absolute path in\n"
    "                        a cgroup v2 mount, or relative to each v1 controller\n"
    "                        mount (default: 'sbx' below the root as root; a\n"
    "                        delegated subtree rootless)\n"
    "  --strict              exit 125 instead of running when a limit or security\n"
    "                        layer cannot be enforced on this host\n"
    "Security:\n"
    "  --seccomp PROFILE     'default' (what every box gets), 'compute' (an\n"
    "                        allow-list for single-process computation: no fork, no\n"
    "                        sockets; anything else kills the program), 'none', or a\n"
    "                        Docker/OCI seccomp profile FILE.json (a value that\n"
    "                        contains '/' or ends in '.json' is a file)\n"
    "  --cap-add CAP         grant capability CAP inside the box (repeatable), e.g.\n"
    "                        net_bind_service; only capabilities that act within the\n"
    "                        box's own user namespace are accepted\n"
    "  --no-landlock         no Landlock rules (note: with Landlock on and no network,\n"
    "                        TCP bind and connect are denied, even on loopback)\n"
    "  --allow-loopback-tcp  keep Landlock but leave TCP alone, so programs can use\n"
    "                        TCP on the loopback of the box's own network namespace\n"
    "Result:\n"
    "  --report              print the box's enforcement report (what is enforced,\n"
    "                        degraded or off, and how) to stderr before running\n"
    "  --json FILE           write the result record as JSON to FILE (not '-': stdout\n"
    "                        carries the program's output); written on failures too,\n"
    "                        once the options have been parsed. It has the status,\n"
    "                        the reason, usage (wall, CPU, peak memory, pids, output\n"
    "                        bytes; null when not measured), the limits hit and the\n"
    "                        enforcement report\n"
    "  -h, --help            show this help\n"
    "\n"
    "Limits this host cannot enforce (e.g. cgroup limits for an unprivileged user\n"
    "without a delegated cgroup) are applied as far as possible and reported as\n"
    "degraded (--report, --json); --strict turns that into an error.\n"
    "SECONDS are decimal (e.g. 2, 1.5, 0.25), SIZE plain bytes or with a k/m/g suffix.\n"
    "\n"
    "SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to sbx are\n"
    "forwarded to the box.\n"
    "\n"
    "Exit status: the program's exit code; 128+N if it was killed by signal N\n"
    "(timeout: 143 if the program ended on SIGTERM, 137 if it was killed after the\n"
    "grace; memory, output-limit: 137; cpu-time: 137, or 152 for SIGXCPU;\n"
    "seccomp: 159; file size: 153); 125 if sbx itself failed (including invalid\n"
    "options and limits that --strict cannot enforce); 126 if PROGRAM could not be\n"
    "executed; 127 if it was not found. The --json record says why (\"reason\").\n";

const char kCheckUsage[] =
    "usage: sbx check [--json]\n"
    "\n"
    "Probes which isolation features this host supports (by trying them) and\n"
    "prints one line per feature, with a fix for those that are unsupported.\n"
    "  --json      print the probe as a JSON document\n"
    "Exit status: 0 (also when some features are unsupported), 125 on failure.\n";

const char kVersionUsage[] =
    "usage: sbx version\n"
    "\n"
    "Prints the version of the loaded library, its ABI major and the version of\n"
    "the header sbx was built with.\n";

// ------------------------------------------------------------- RAII helpers

struct ErrorDeleter {
  void operator()(sbx_error* e) const { sbx_error_free(e); }
};
struct ConfigDeleter {
  void operator()(sbx_config* c) const { sbx_config_free(c); }
};
struct SpecDeleter {
  void operator()(sbx_spec* s) const { sbx_spec_free(s); }
};
struct BoxDeleter {
  void operator()(sbx_box* b) const { sbx_box_free(b); }
};
struct ProcDeleter {
  void operator()(sbx_proc* p) const { sbx_proc_free(p); }
};
struct ProbeDeleter {
  void operator()(sbx_probe* p) const { sbx_probe_free(p); }
};
struct LibFree {
  void operator()(char* p) const { sbx_free(p); }
};

using ErrorPtr = std::unique_ptr<sbx_error, ErrorDeleter>;

// The message of ERR, or a generic one built from STATUS when the library
// could not even allocate the error object.
std::string error_text(const sbx_error* err, int status) {
  if (err != nullptr) return sbx_error_message(err);
  return std::string("failed with ") + sbx_status_name(status);
}

bool write_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

double monotonic_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// -------------------------------------------------------- signal forwarding

// Signals that sbx passes on to the box instead of acting on them itself.
constexpr int kForwardedSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

// Forwards the signals sbx receives to the box.
//
// block() runs in the main thread before the box exists, so these signals
// are never delivered to sbx itself: they stay pending until a dedicated
// thread reads them from a signalfd and passes them on with sbx_box_kill.
// That thread starts only once the program runs (attach), so no second
// thread exists while the library clones the box's first process (code
// between clone and exec must not depend on other threads), and a signal
// that arrives during setup is simply forwarded as soon as the program
// runs. Signals that sbx inherited as ignored (nohup, `cmd &` in a script)
// stay ignored: the kernel discards them.
class SignalForwarder {
 public:
  SignalForwarder() { sigemptyset(&set_); }
  SignalForwarder(const SignalForwarder&) = delete;
  SignalForwarder& operator=(const SignalForwarder&) = delete;
  ~SignalForwarder() { stop(); }

  bool block(std::string& error) {
    for (int sig : kForwardedSignals) sigaddset(&set_, sig);
    if (int e = pthread_sigmask(SIG_BLOCK, &set_, nullptr); e != 0) {
      error = std::string("cannot block signals: ") + std::strerror(e);
      return false;
    }
    sigfd_ = signalfd(-1, &set_, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd_ < 0) {
      error = std::string("signalfd: ") + std::strerror(errno);
      return false;
    }
    stopfd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stopfd_ < 0) {
      error = std::string("eventfd: ") + std::strerror(errno);
      return false;
    }
    return true;
  }

  // The program runs in BOX: forward pending and later signals to it until
  // stop(). Returns false (with ERROR) if the thread cannot be started.
  bool attach(sbx_box* box, std::string& error) {
    box_ = box;
    try {
      thread_ = std::thread([this] { loop(); });
    } catch (const std::exception& ex) {
      error = std::string("cannot start the signal thread: ") + ex.what();
      return false;
    }
    return true;
  }

  // After this returns the box is no longer touched (call it before freeing
  // the box).
  void stop() {
    if (thread_.joinable()) {
      const uint64_t one = 1;
      ssize_t n;
      do {
        n = ::write(stopfd_, &one, sizeof one);
      } while (n < 0 && errno == EINTR);
      thread_.join();
    }
    box_ = nullptr;
    if (sigfd_ >= 0) ::close(sigfd_);
    if (stopfd_ >= 0) ::close(stopfd_);
    sigfd_ = stopfd_ = -1;
  }

 private:
  void loop() {
    for (;;) {
      pollfd fds[2] = {{sigfd_, POLLIN, 0}, {stopfd_, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[1].revents != 0) return;
      signalfd_siginfo info{};
      while (::read(sigfd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        // SBX_E_STATE once the program has ended: nothing left to signal.
        sbx_box_kill(box_, static_cast<int>(info.ssi_signo), nullptr);
      }
    }
  }

  sigset_t set_;
  int sigfd_ = -1;
  int stopfd_ = -1;
  std::thread thread_;
  sbx_box* box_ = nullptr;
};

// ------------------------------------------------------------ run: result

// One line of the box's enforcement report (sbx_box_report_entry).
struct ReportEntry {
  std::string name;
  int state = 0;  // sbx_enforcement
  std::string mechanism;
  std::string detail;
};

const char* enforcement_name(int state) {
  switch (state) {
    case SBX_ENFORCED:
      return "enforced";
    case SBX_DEGRADED:
      return "degraded";
    case SBX_OFF:
      return "off";
    default:
      return "unknown";
  }
}

struct RunResult {
  // "exited" | "signaled" | "setup_failed" | "exec_failed" | "not_found" | "error"
  std::string status = "error";
  bool ended = false;  // st is valid
  sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  int shell_code = kExitSbxFailed;
  std::optional<long> pid;
  double wall_ms = 0;
  // The failure, when status is not exited/signaled.
  bool failed = false;
  std::string error_code;
  int error_errno = 0;
  std::string error_step;
  std::string error_message;
  // The box's enforcement report, once the box exists.
  bool have_report = false;
  std::vector<ReportEntry> report;
  // --output-limit: what sbx itself counted and did.
  bool output_counted = false;   // --output-limit was given and the relay ran
  uint64_t output_bytes = 0;     // bytes read from the program's stdout + stderr
  bool output_exceeded = false;  // more than the limit: output cut, box killed
  bool stderr_mid_line = false;  // the relayed stderr did not end with a newline
};

// The record's "reason": the library's for a process that ran (overridden by
// sbx's own output limit), "setup" when the program never ran.
std::string result_reason(const RunResult& r) {
  if (!r.ended) return "setup";
  if (r.output_exceeded) return "output-limit";
  return sbx_exit_reason_name(r.st.reason);
}

std::string json_ms(double ms) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", ms);
  return buf;
}

std::string json_ns_as_ms(uint64_t ns) {
  // Exact to the microsecond, without going through a double for large values.
  char buf[64];
  std::snprintf(buf, sizeof buf, "%" PRIu64 ".%03" PRIu64, ns / 1000000, (ns / 1000) % 1000);
  return buf;
}

std::string result_json(const RunResult& r) {
  std::string j = "{\"version\":2";
  j += ",\"status\":" + json_string(r.status);
  const bool exited = r.ended && r.st.kind == SBX_EXIT_EXITED;
  const bool signaled = r.ended && r.st.kind == SBX_EXIT_SIGNALED;
  j += ",\"exit_code\":" + (exited ? std::to_string(r.st.code) : std::string("null"));
  j += ",\"signal\":" + (signaled ? std::to_string(r.st.signal) : std::string("null"));
  j += std::string(",\"core_dumped\":") + (signaled && r.st.core_dumped ? "true" : "false");
  j += ",\"reason\":" + json_string(result_reason(r));
  j += ",\"shell_code\":" + std::to_string(r.shell_code);
  j += ",\"pid\":" + (r.pid ? std::to_string(*r.pid) : std::string("null"));
  j += ",\"wall_ms\":" + json_ms(r.wall_ms);

  // usage: null for what was not measured.
  const uint32_t valid = r.ended ? r.st.usage_valid : 0;
  const std::string null = "null";
  j += ",\"usage\":{\"wall_ms\":" + json_ms(r.wall_ms);
  j += ",\"cpu_user_ms\":" + ((valid & SBX_USAGE_CPU) ? json_ns_as_ms(r.st.cpu_user_ns) : null);
  j += ",\"cpu_system_ms\":" + ((valid & SBX_USAGE_CPU) ? json_ns_as_ms(r.st.cpu_system_ns) : null);
  j += ",\"memory_peak_bytes\":" +
       ((valid & SBX_USAGE_MEMORY) ? std::to_string(r.st.memory_peak_bytes) : null);
  j += ",\"pids_peak\":" + ((valid & SBX_USAGE_PIDS) ? std::to_string(r.st.pids_peak) : null);
  j += ",\"output_bytes\":" + (r.output_counted ? std::to_string(r.output_bytes) : null) + "}";

  j += ",\"limits_hit\":[";
  static constexpr struct {
    uint32_t bit;
    const char* name;
  } kHits[] = {{SBX_HIT_TIMEOUT, "timeout"},
               {SBX_HIT_CPU_TIME, "cpu-time"},
               {SBX_HIT_MEMORY, "memory"},
               {SBX_HIT_PIDS, "pids"},
               {SBX_HIT_FILE_SIZE, "file-size"}};
  bool first = true;
  const uint32_t hits = r.ended ? r.st.limits_hit : 0;
  for (const auto& h : kHits) {
    if ((hits & h.bit) == 0) continue;
    j += first ? "" : ",";
    j += json_string(h.name);
    first = false;
  }
  if (r.output_exceeded) j += std::string(first ? "" : ",") + json_string("output-limit");
  j += "]";
  j += std::string(",\"output_truncated\":") + (r.output_exceeded ? "true" : "false");

  if (r.have_report) {
    j += ",\"enforcement\":[";
    for (size_t i = 0; i < r.report.size(); ++i) {
      const ReportEntry& e = r.report[i];
      j += i == 0 ? "{" : ",{";
      j += "\"name\":" + json_string(e.name);
      j += ",\"state\":" + json_string(enforcement_name(e.state));
      j += ",\"mechanism\":" + json_string(e.mechanism);
      j += ",\"detail\":" + json_string(e.detail) + "}";
    }
    j += "]";
  } else {
    j += ",\"enforcement\":null";
  }

  if (r.failed) {
    j += ",\"error\":{\"code\":" + json_string(r.error_code);
    j += ",\"errno\":" + std::to_string(r.error_errno);
    j += ",\"step\":" + json_string(r.error_step);
    j += ",\"message\":" + json_string(r.error_message) + "}";
  } else {
    j += ",\"error\":null";
  }
  j += "}\n";
  return j;
}

// Prints the enforcement report as a table (--report).
void print_report(const std::vector<ReportEntry>& report) {
  size_t width = 12;
  for (const ReportEntry& e : report) width = std::max(width, e.name.size() + 1);
  std::string text = "sbx: enforcement report\n";
  for (const ReportEntry& e : report) {
    char head[256];
    std::snprintf(head, sizeof head, "  %-*s %-9s ", static_cast<int>(width), e.name.c_str(),
                  enforcement_name(e.state));
    text += head + e.mechanism + "\n";
    if (!e.detail.empty()) text += std::string(width + 15, ' ') + e.detail + "\n";
  }
  std::fputs(text.c_str(), stderr);
  std::fflush(stderr);
}

// A one-line note on stderr when a limit ended the program, so that a user
// who sees exit status 137 knows why.
void print_limit_note(const RunResult& r, const RunOptions& o) {
  const std::string reason = result_reason(r);
  std::string note;
  if (reason == "timeout") {
    note = "the wall-clock timeout ended the program";
  } else if (reason == "cpu-time") {
    note = "the CPU-time limit ended the program";
  } else if (reason == "memory") {
    note = "the program was killed at the memory limit";
  } else if (reason == "seccomp") {
    note = "the program was killed by the seccomp filter (a system call its profile does not allow)";
  } else if (reason == "file-size") {
    note = "the program was killed for writing past the file-size limit (RLIMIT_FSIZE)";
  } else if (reason == "pids") {
    note = "the program failed after forks were refused at the pids limit";
  } else if (reason == "output-limit") {
    note = "the output passed the limit of " + std::to_string(o.output_limit.value_or(0)) +
           " bytes; the rest was dropped and the box killed";
  } else {
    return;
  }
  // On a line of its own, also after relayed output without a final newline.
  std::fprintf(stderr, "%ssbx: %s (exit status %d)\n", r.stderr_mid_line ? "\n" : "", note.c_str(),
               r.shell_code);
}

// ------------------------------------------------------- run: output relay

// --output-limit: relays the program's stdout and stderr pipes to sbx's own
// fd 1 and 2 (bytes as they come, each stream in order), counts them, and
// once the total passes the limit writes nothing more and kills the box.
// Runs on the main thread until both pipes reach end-of-file or the box has
// ended (its pollfd); a write error on one of sbx's own streams (EPIPE: the
// reader went away; SIGPIPE is ignored) stops relaying that stream, while
// its pipe keeps being drained so the program never blocks on it.
class OutputRelay {
 public:
  OutputRelay(uint64_t limit, sbx_box* box) : limit_(limit), box_(box) {}

  void run(int out_fd, int err_fd, int box_pollfd) {
    streams_[0] = {out_fd, STDOUT_FILENO, true, true, false, "stdout"};
    streams_[1] = {err_fd, STDERR_FILENO, true, true, false, "stderr"};
    for (Stream& s : streams_) {
      const int fl = ::fcntl(s.src, F_GETFL);
      if (fl >= 0) (void)::fcntl(s.src, F_SETFL, fl | O_NONBLOCK);
    }
    std::vector<char> buf(64 * 1024);
    while (streams_[0].open || streams_[1].open) {
      pollfd fds[3];
      Stream* owner[3] = {nullptr, nullptr, nullptr};
      nfds_t n = 0;
      for (Stream& s : streams_) {
        if (!s.open) continue;
        owner[n] = &s;
        fds[n++] = {s.src, POLLIN, 0};
      }
      const nfds_t box_index = n;
      if (box_pollfd >= 0) fds[n++] = {box_pollfd, POLLIN, 0};
      if (::poll(fds, n, -1) < 0) {
        if (errno == EINTR) continue;
        std::fprintf(stderr, "sbx: poll on the program's output failed: %s\n", std::strerror(errno));
        break;
      }
      for (nfds_t i = 0; i < box_index; ++i)
        if (fds[i].revents != 0) pump(*owner[i], buf, false);
      if (box_pollfd >= 0 && fds[box_index].revents != 0) {
        // The box has ended: every writer is gone, so what is left in the
        // pipes is all there is. Drain it without waiting and stop.
        for (Stream& s : streams_)
          if (s.open) pump(s, buf, true);
        break;
      }
    }
    for (Stream& s : streams_) {
      if (s.src >= 0) ::close(s.src);
      s.src = -1;
      s.open = false;
    }
  }

  uint64_t total() const { return total_; }
  bool exceeded() const { return exceeded_; }
  // The last byte relayed to sbx's stderr was not a newline.
  bool stderr_mid_line() const { return streams_[1].mid_line; }

 private:
  struct Stream {
    int src = -1;           // the pipe from the program
    int dst = -1;           // sbx's own fd 1 or 2
    bool open = false;      // the pipe has not reached end-of-file
    bool sink_ok = false;   // dst still accepts writes
    bool mid_line = false;  // the last byte written to dst was not '\n'
    const char* label = "";
  };

  // Reads from S once (DRAIN: until end-of-file or nothing is left).
  void pump(Stream& s, std::vector<char>& buf, bool drain) {
    do {
      const ssize_t n = ::read(s.src, buf.data(), buf.size());
      if (n > 0) {
        consume(s, buf.data(), static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      if (n < 0) std::fprintf(stderr, "sbx: reading the program's %s: %s\n", s.label, std::strerror(errno));
      s.open = false;  // end-of-file (or an unreadable pipe)
      return;
    } while (drain);
  }

  void consume(Stream& s, const char* data, size_t n) {
    const uint64_t before = total_;
    total_ += n;
    if (exceeded_) return;
    size_t allowed = n;
    if (before + n > limit_) {
      allowed = static_cast<size_t>(limit_ - before);
      exceeded_ = true;
    }
    if (allowed > 0 && s.sink_ok) write_out(s, data, allowed);
    if (exceeded_) {
      // SBX_E_STATE: the program has already ended by itself.
      sbx_box_kill(box_, SIGKILL, nullptr);
    }
  }

  void write_out(Stream& s, const char* data, size_t n) {
    size_t off = 0;
    while (off < n) {
      const ssize_t w = ::write(s.dst, data + off, n - off);
      if (w > 0) {
        off += static_cast<size_t>(w);
        s.mid_line = data[off - 1] != '\n';
        continue;
      }
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && errno == EAGAIN) {
        // sbx's own stream is non-blocking (inherited): wait until it drains.
        pollfd p{s.dst, POLLOUT, 0};
        (void)::poll(&p, 1, -1);
        continue;
      }
      if (!(w < 0 && errno == EPIPE) && s.dst != STDERR_FILENO)
        std::fprintf(stderr, "sbx: cannot write the program's %s: %s\n", s.label,
                     w < 0 ? std::strerror(errno) : "no progress");
      s.sink_ok = false;  // keep draining the pipe, relay no more of it
      return;
    }
  }

  const uint64_t limit_;
  sbx_box* const box_;
  Stream streams_[2];
  uint64_t total_ = 0;
  bool exceeded_ = false;
};

// ------------------------------------------------------------ run: the box

class Runner {
 public:
  Runner(const RunOptions& o, SignalForwarder& fwd, RunResult& r) : o_(o), fwd_(fwd), r_(r) {}

  int run() {
    const double t0 = monotonic_ms();
    const int rc = run_box();
    if (!r_.ended) r_.wall_ms = monotonic_ms() - t0;
    return rc;
  }

 private:
  // Records a library failure and prints it. OPTION names the command-line
  // option whose value the library rejected (nullptr: none applies).
  int fail(int status, const char* option) {
    const sbx_error* e = err_.get();
    r_.failed = true;
    r_.error_code = sbx_status_name(e != nullptr ? sbx_error_code(e) : status);
    r_.error_errno = e != nullptr ? sbx_error_errno(e) : 0;
    r_.error_step = e != nullptr ? sbx_error_step(e) : "";
    r_.error_message = error_text(e, status);
    switch (status) {
      case SBX_E_SETUP:
        r_.status = "setup_failed";
        r_.shell_code = kExitSbxFailed;
        break;
      case SBX_E_EXEC:
        r_.status = "exec_failed";
        r_.shell_code = kExitCannotExecute;
        break;
      case SBX_E_NOTFOUND:
        r_.status = "not_found";
        r_.shell_code = kExitNotFound;
        break;
      default:
        r_.status = "error";
        r_.shell_code = kExitSbxFailed;
        break;
    }
    if (option != nullptr) {
      std::fprintf(stderr, "sbx run: %s: %s\n", option, r_.error_message.c_str());
    } else {
      std::fprintf(stderr, "sbx: %s\n", r_.error_message.c_str());
    }
    if (status == SBX_E_UNSUPPORTED)
      std::fprintf(stderr, "sbx: run 'sbx check' to see what this host supports\n");
    return r_.shell_code;
  }

  // Calls F(&raw_err); on failure records it and returns false.
  template <class F>
  bool call(F&& f, const char* option, int& rc) {
    sbx_error* raw = nullptr;
    const int status = f(&raw);
    err_.reset(raw);
    if (status == SBX_OK) return true;
    rc = fail(status, option);
    return false;
  }

  int run_box() {
    int rc = 0;
    sbx_config* raw_cfg = nullptr;
    if (!call([&](sbx_error** e) { return sbx_config_new(&raw_cfg, e); }, nullptr, rc)) return rc;
    std::unique_ptr<sbx_config, ConfigDeleter> cfg(raw_cfg);

    if (o_.rootfs &&
        !call([&](sbx_error** e) { return sbx_config_set_rootfs(cfg.get(), o_.rootfs->c_str(), e); },
              "--rootfs", rc))
      return rc;
    for (const MountOption& m : o_.mounts) {
      const bool ok = call(
          [&](sbx_error** e) {
            switch (m.kind) {
              case MountOption::Kind::Bind:
                return sbx_config_add_bind(cfg.get(), m.src.c_str(), m.dst.c_str(), SBX_BIND_RW, e);
              case MountOption::Kind::RoBind:
                return sbx_config_add_bind(cfg.get(), m.src.c_str(), m.dst.c_str(), SBX_BIND_RO, e);
              case MountOption::Kind::Tmpfs:
                break;
            }
            return sbx_config_add_tmpfs(cfg.get(), m.dst.c_str(), m.size, 01777, e);
          },
          m.option.c_str(), rc);
      if (!ok) return rc;
    }
    if (o_.hostname &&
        !call([&](sbx_error** e) { return sbx_config_set_hostname(cfg.get(), o_.hostname->c_str(), e); },
              "--hostname", rc))
      return rc;
    if (o_.network_host.value_or(false)) {
      unsigned mask = 0;
      if (!call([&](sbx_error**) { return sbx_config_get_namespaces(cfg.get(), &mask); }, "--network", rc) ||
          !call(
              [&](sbx_error** e) {
                return sbx_config_set_namespaces(cfg.get(), mask & ~static_cast<unsigned>(SBX_NS_NET), e);
              },
              "--network", rc))
        return rc;
    }

    if (!configure_limits(cfg.get(), rc) || !configure_security(cfg.get(), rc)) return rc;

    sbx_spec* raw_spec = nullptr;
    if (!call([&](sbx_error** e) { return sbx_spec_new(&raw_spec, e); }, nullptr, rc)) return rc;
    std::unique_ptr<sbx_spec, SpecDeleter> spec(raw_spec);

    std::vector<const char*> argv;
    argv.reserve(o_.argv.size());
    for (const std::string& a : o_.argv) argv.push_back(a.c_str());
    if (!call([&](sbx_error** e) { return sbx_spec_set_argv(spec.get(), argv.size(), argv.data(), e); },
              nullptr, rc))
      return rc;
    for (const EnvOption& v : o_.env) {
      const bool ok = call(
          [&](sbx_error** e) {
            return v.copy ? sbx_spec_allow_env(spec.get(), v.text.c_str(), e)
                          : sbx_spec_set_env(spec.get(), v.text.c_str(), e);
          },
          v.option.c_str(), rc);
      if (!ok) return rc;
    }
    if (o_.workdir &&
        !call([&](sbx_error** e) { return sbx_spec_set_cwd(spec.get(), o_.workdir->c_str(), e); },
              "--workdir", rc))
      return rc;
    if (o_.has_user &&
        !call([&](sbx_error** e) { return sbx_spec_set_user(spec.get(), o_.uid, o_.gid, e); }, "--user", rc))
      return rc;
    if (o_.stdin_path && !call(
                             [&](sbx_error** e) {
                               return sbx_spec_set_stdio(spec.get(), SBX_STDIN, SBX_STDIO_FILE,
                                                         o_.stdin_path->c_str(), -1, e);
                             },
                             "--stdin", rc))
      return rc;

    for (const RlimitOption& r : o_.rlimits) {
      const bool ok = call(
          [&](sbx_error** e) {
            return sbx_spec_set_rlimit(spec.get(), static_cast<sbx_rlimit_resource>(r.resource), r.soft,
                                       r.hard, e);
          },
          "--rlimit", rc);
      if (!ok) return rc;
    }
    if (o_.output_limit) {
      // sbx relays (and counts) the program's output itself.
      for (int which : {SBX_STDOUT, SBX_STDERR}) {
        const bool ok = call(
            [&](sbx_error** e) {
              return sbx_spec_set_stdio(spec.get(), which, SBX_STDIO_PIPE, nullptr, -1, e);
            },
            "--output-limit", rc);
        if (!ok) return rc;
      }
    }

    sbx_box* raw_box = nullptr;
    if (!call([&](sbx_error** e) { return sbx_box_create(&raw_box, cfg.get(), e); }, nullptr, rc)) return rc;
    std::unique_ptr<sbx_box, BoxDeleter> box(raw_box);
    cfg.reset();
    if (!read_report(box.get(), rc)) return rc;
    if (o_.report) print_report(r_.report);

    sbx_proc* raw_proc = nullptr;
    if (!call([&](sbx_error** e) { return sbx_box_spawn(box.get(), spec.get(), &raw_proc, e); }, nullptr, rc))
      return rc;
    std::unique_ptr<sbx_proc, ProcDeleter> proc(raw_proc);
    spec.reset();
    pid_t pid = 0;
    if (sbx_proc_pid(proc.get(), &pid) == SBX_OK) r_.pid = pid;

    int out_fd = -1, err_fd = -1;
    if (o_.output_limit) {
      if (!call([&](sbx_error** e) { return sbx_proc_take_stdio(proc.get(), SBX_STDOUT, &out_fd, e); },
                nullptr, rc))
        return rc;
      if (!call([&](sbx_error** e) { return sbx_proc_take_stdio(proc.get(), SBX_STDERR, &err_fd, e); },
                nullptr, rc)) {
        ::close(out_fd);
        return rc;
      }
    }

    std::string fwd_error;
    if (!fwd_.attach(box.get(), fwd_error))
      std::fprintf(stderr, "sbx: warning: signals will not be forwarded: %s\n", fwd_error.c_str());
    if (o_.output_limit) {
      int box_pollfd = -1;
      if (sbx_proc_pollfd(proc.get(), &box_pollfd) != SBX_OK) box_pollfd = -1;
      OutputRelay relay(*o_.output_limit, box.get());
      relay.run(out_fd, err_fd, box_pollfd);  // closes both
      r_.output_counted = true;
      r_.output_bytes = relay.total();
      r_.output_exceeded = relay.exceeded();
      r_.stderr_mid_line = relay.stderr_mid_line();
    }
    sbx_exit_status st = SBX_EXIT_STATUS_INIT;
    const bool waited = call([&](sbx_error** e) { return sbx_box_wait(box.get(), -1, &st, e); }, nullptr, rc);
    fwd_.stop();  // before the box is freed
    if (!waited) return rc;

    r_.ended = true;
    r_.st = st;
    r_.pid = st.pid;
    r_.wall_ms = static_cast<double>(st.wall_ns) / 1e6;
    r_.status = st.kind == SBX_EXIT_SIGNALED ? "signaled" : "exited";
    const int code = sbx_exit_shell_code(&st);
    if (code < 0) {
      r_.status = "error";
      r_.failed = true;
      r_.error_code = sbx_status_name(SBX_E_INTERNAL);
      r_.error_step = "wait";
      r_.error_message = "the library reported an exit record without an exit";
      std::fprintf(stderr, "sbx: %s\n", r_.error_message.c_str());
      r_.shell_code = kExitSbxFailed;
      return r_.shell_code;
    }
    r_.shell_code = code;
    // Past the output limit sbx killed the box: exit as a killed program
    // even if it happened to end by itself before the kill reached it.
    if (r_.output_exceeded) r_.shell_code = 128 + SIGKILL;
    print_limit_note(r_, o_);
    return r_.shell_code;
  }

  bool configure_limits(sbx_config* cfg, int& rc) {
    if (o_.memory &&
        !call([&](sbx_error** e) { return sbx_config_set_memory_limit(cfg, *o_.memory, e); }, "--memory", rc))
      return false;
    if (o_.pids_limit &&
        !call([&](sbx_error** e) { return sbx_config_set_pids_limit(cfg, *o_.pids_limit, e); },
              "--pids-limit", rc))
      return false;
    if (o_.cpus && !call([&](sbx_error** e) { return sbx_config_set_cpus(cfg, *o_.cpus, e); }, "--cpus", rc))
      return false;
    if (o_.cpu_time_ms &&
        !call([&](sbx_error** e) { return sbx_config_set_cpu_time_limit(cfg, *o_.cpu_time_ms, e); },
              "--cpu-time", rc))
      return false;
    if (o_.timeout_ms &&
        !call([&](sbx_error** e) { return sbx_config_set_timeout(cfg, *o_.timeout_ms, e); }, "--timeout", rc))
      return false;
    if (o_.kill_grace_ms &&
        !call([&](sbx_error** e) { return sbx_config_set_kill_grace(cfg, *o_.kill_grace_ms, e); },
              "--kill-grace", rc))
      return false;
    if (o_.cgroup_parent &&
        !call([&](sbx_error** e) { return sbx_config_set_cgroup_parent(cfg, o_.cgroup_parent->c_str(), e); },
              "--cgroup-parent", rc))
      return false;
    if (o_.strict && !call([&](sbx_error** e) { return sbx_config_set_strict(cfg, 1, e); }, "--strict", rc))
      return false;
    return true;
  }

  bool configure_security(sbx_config* cfg, int& rc) {
    if (o_.seccomp) {
      const SeccompOption& s = *o_.seccomp;
      const bool ok = call(
          [&](sbx_error** e) {
            return s.is_file ? sbx_config_load_seccomp_json(cfg, s.value.c_str(), e)
                             : sbx_config_set_seccomp_profile(cfg, s.value.c_str(), e);
          },
          "--seccomp", rc);
      if (!ok) return false;
    }
    if (o_.landlock_allow_tcp && !o_.no_landlock &&
        !call(
            [&](sbx_error** e) {
              return sbx_config_set_landlock(cfg, SBX_LANDLOCK_ON | SBX_LANDLOCK_ALLOW_TCP, e);
            },
            "--allow-loopback-tcp", rc))
      return false;
    if (o_.no_landlock &&
        !call([&](sbx_error** e) { return sbx_config_set_landlock(cfg, SBX_LANDLOCK_OFF, e); },
              "--no-landlock", rc))
      return false;
    for (const std::string& cap : o_.cap_add) {
      if (!call([&](sbx_error** e) { return sbx_config_add_capability(cfg, cap.c_str(), e); }, "--cap-add",
                rc))
        return false;
    }
    return true;
  }

  // Copies the box's enforcement report into the result.
  bool read_report(const sbx_box* box, int& rc) {
    size_t n = 0;
    if (!call([&](sbx_error**) { return sbx_box_report_count(box, &n); }, nullptr, rc)) return false;
    std::vector<ReportEntry> entries;
    for (size_t i = 0; i < n; ++i) {
      const char *name = nullptr, *mechanism = nullptr, *detail = nullptr;
      int state = 0;
      if (!call(
              [&](sbx_error** e) {
                return sbx_box_report_entry(box, i, &name, &state, &mechanism, &detail, e);
              },
              nullptr, rc))
        return false;
      entries.push_back({name ? name : "", state, mechanism ? mechanism : "", detail ? detail : ""});
    }
    r_.report = std::move(entries);
    r_.have_report = true;
    return true;
  }

  const RunOptions& o_;
  SignalForwarder& fwd_;
  RunResult& r_;
  ErrorPtr err_;
};

int cmd_run(const std::vector<std::string>& args) {
  RunOptions o;
  std::string error;
  if (!parse_run_args(args, o, error)) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return kExitSbxFailed;
  }
  if (o.help) {
    std::fputs(kRunUsage, stdout);
    return 0;
  }

  // Open the record file first: a bad --json path fails before anything runs.
  int json_fd = -1;
  if (o.json_path) {
    json_fd = ::open(o.json_path->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
    if (json_fd < 0) {
      std::fprintf(stderr, "sbx run: --json: cannot open '%s': %s\n", o.json_path->c_str(),
                   std::strerror(errno));
      return kExitSbxFailed;
    }
  }

  // --output-limit: sbx writes the program's output itself. A reader that
  // goes away must not kill sbx (the box's processes start with every
  // signal at its default disposition, so this does not reach them).
  if (o.output_limit) ::signal(SIGPIPE, SIG_IGN);

  RunResult result;
  int rc;
  {
    SignalForwarder fwd;
    if (!fwd.block(error)) {
      std::fprintf(stderr, "sbx: %s\n", error.c_str());
      result.failed = true;
      result.error_code = sbx_status_name(SBX_E_SYSTEM);
      result.error_step = "signals";
      result.error_message = error;
      rc = kExitSbxFailed;
    } else {
      rc = Runner(o, fwd, result).run();
    }
  }

  if (json_fd >= 0) {
    const bool ok = write_all(json_fd, result_json(result));
    const int write_errno = errno;
    if (::close(json_fd) != 0 || !ok) {
      std::fprintf(stderr, "sbx run: --json: cannot write '%s': %s\n", o.json_path->c_str(),
                   std::strerror(ok ? errno : write_errno));
      return kExitSbxFailed;
    }
  }
  return rc;
}

// ------------------------------------------------------------------ check

int cmd_check(const std::vector<std::string>& args) {
  bool json = false;
  for (const std::string& a : args) {
    if (a == "--json") {
      json = true;
    } else if (a == "-h" || a == "--help") {
      std::fputs(kCheckUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "sbx check: unknown argument '%s' (see 'sbx check --help')\n", a.c_str());
      return kExitSbxFailed;
    }
  }

  sbx_probe* raw = nullptr;
  sbx_error* raw_err = nullptr;
  int status = sbx_probe_run(&raw, &raw_err);
  ErrorPtr err(raw_err);
  if (status != SBX_OK) {
    std::fprintf(stderr, "sbx: %s\n", error_text(err.get(), status).c_str());
    return kExitSbxFailed;
  }
  std::unique_ptr<sbx_probe, ProbeDeleter> probe(raw);

  if (json) {
    char* text = nullptr;
    raw_err = nullptr;
    status = sbx_probe_json(probe.get(), &text, &raw_err);
    err.reset(raw_err);
    if (status != SBX_OK) {
      std::fprintf(stderr, "sbx: %s\n", error_text(err.get(), status).c_str());
      return kExitSbxFailed;
    }
    std::unique_ptr<char, LibFree> owned(text);
    std::string out = text != nullptr ? text : "";
    if (out.empty() || out.back() != '\n') out.push_back('\n');
    std::fputs(out.c_str(), stdout);
    return std::fflush(stdout) == 0 ? 0 : kExitSbxFailed;
  }

  struct Entry {
    std::string name, detail, fix;
    bool supported;
  };
  std::vector<Entry> entries;
  const size_t n = sbx_probe_count(probe.get());
  size_t width = 20;
  for (size_t i = 0; i < n; ++i) {
    const char *name = nullptr, *detail = nullptr, *fix = nullptr;
    int supported = 0;
    raw_err = nullptr;
    status = sbx_probe_entry(probe.get(), i, &name, &supported, &detail, &fix, &raw_err);
    err.reset(raw_err);
    if (status != SBX_OK) {
      std::fprintf(stderr, "sbx: %s\n", error_text(err.get(), status).c_str());
      return kExitSbxFailed;
    }
    Entry e{name ? name : "", detail ? detail : "", fix ? fix : "", supported != 0};
    width = std::max(width, e.name.size() + 1);
    entries.push_back(std::move(e));
  }

  size_t supported = 0;
  std::printf("sbx %s: host capabilities\n", sbx_version(nullptr, nullptr, nullptr));
  for (const Entry& e : entries) {
    if (e.supported) ++supported;
    std::printf("  [%s]   %-*s %s\n", e.supported ? "ok" : "no", static_cast<int>(width), e.name.c_str(),
                e.detail.c_str());
    if (!e.supported && !e.fix.empty()) std::printf("         fix: %s\n", e.fix.c_str());
  }
  std::printf("%zu of %zu supported\n", supported, entries.size());
  return std::fflush(stdout) == 0 ? 0 : kExitSbxFailed;
}

// ---------------------------------------------------------------- version

int cmd_version(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "-h" || a == "--help") {
      std::fputs(kVersionUsage, stdout);
      return 0;
    }
    std::fprintf(stderr, "sbx version: unexpected argument '%s'\n", a.c_str());
    return kExitSbxFailed;
  }
  const int abi = sbx_abi_version();
  std::printf("sbx %s (library), ABI %d, header %s\n", sbx_version(nullptr, nullptr, nullptr), abi,
              SBX_VERSION_STRING);
  if (abi != SBX_ABI_MAJOR)
    std::fprintf(stderr, "sbx: warning: built for ABI %d but the loaded library has ABI %d\n", SBX_ABI_MAJOR,
                 abi);
  return std::fflush(stdout) == 0 ? 0 : kExitSbxFailed;
}

int cmd_help(const std::vector<std::string>& args) {
  if (args.empty()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const char* text = nullptr;
  if (args.size() == 1) {
    if (args[0] == "run") text = kRunUsage;
    if (args[0] == "check") text = kCheckUsage;
    if (args[0] == "version") text = kVersionUsage;
    if (args[0] == "help") text = kUsage;
  }
  if (text == nullptr) {
    std::fprintf(stderr, "sbx help: unknown command '%s' (commands: run, check, version)\n", args[0].c_str());
    return kExitSbxFailed;
  }
  std::fputs(text, stdout);
  return 0;
}

int dispatch(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return kExitSbxFailed;
  }
  const std::string cmd = argv[1];
  const std::vector<std::string> rest(argv + 2, argv + argc);
  if (cmd == "run") return cmd_run(rest);
  if (cmd == "check") return cmd_check(rest);
  if (cmd == "version" || cmd == "--version" || cmd == "-V") return cmd_version(rest);
  if (cmd == "help" || cmd == "--help" || cmd == "-h") return cmd_help(rest);
  std::fprintf(stderr, "sbx: unknown command '%s' (commands: run, check, version, help)\n", cmd.c_str());
  return kExitSbxFailed;
}

}  // namespace
}  // namespace sbx_cli

int main(int argc, char** argv) {
  try {
    const int rc = sbx_cli::dispatch(argc, argv);
    if (std::fflush(stdout) != 0 && rc == 0) return sbx_cli::kExitSbxFailed;
    return rc;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sbx: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "sbx: unexpected error\n");
  }
  return sbx_cli::kExitSbxFailed;
}
