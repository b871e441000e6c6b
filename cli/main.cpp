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
    "uid/gid 1000) and streams its stdout/stderr. '--' is needed only when\n"
    "PROGRAM starts with '-'. A PROGRAM without '/' is searched in the box's PATH.\n"
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
    "Box:\n"
    "  --hostname NAME       hostname inside the box (default 'sbx')\n"
    "  --network none|host   'none' (default): only loopback; 'host': the host's network\n"
    "Result:\n"
    "  --json FILE           write the result record as JSON to FILE (not '-': stdout\n"
    "                        carries the program's output); written on failures too,\n"
    "                        once the options have been parsed\n"
    "  -h, --help            show this help\n"
    "\n"
    "Not supported by this version (rejected with exit code 125): --memory,\n"
    "--pids-limit, --cpus, --cpu-time, --timeout, --rlimit, --seccomp, --output-limit.\n"
    "\n"
    "SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to sbx are\n"
    "forwarded to the box.\n"
    "\n"
    "Exit status: the program's exit code; 128+N if it was killed by signal N;\n"
    "125 if sbx itself failed; 126 if PROGRAM could not be executed; 127 if it\n"
    "was not found.\n";

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
};

const char* reason_name(int reason) {
  switch (reason) {
    case SBX_REASON_NORMAL:
      return "normal";
    case SBX_REASON_KILLED:
      return "killed";
    case SBX_REASON_NONE:
      return "none";
    default:
      return "unknown";
  }
}

std::string result_json(const RunResult& r) {
  std::string j = "{\"version\":1";
  j += ",\"status\":" + json_string(r.status);
  const bool exited = r.ended && r.st.kind == SBX_EXIT_EXITED;
  const bool signaled = r.ended && r.st.kind == SBX_EXIT_SIGNALED;
  j += ",\"exit_code\":" + (exited ? std::to_string(r.st.code) : std::string("null"));
  j += ",\"signal\":" + (signaled ? std::to_string(r.st.signal) : std::string("null"));
  j += std::string(",\"core_dumped\":") + (signaled && r.st.core_dumped ? "true" : "false");
  // The program never ran: setup (which ends with execve) failed.
  j += ",\"reason\":" + json_string(r.ended ? reason_name(r.st.reason) : "setup_failure");
  j += ",\"shell_code\":" + std::to_string(r.shell_code);
  j += ",\"pid\":" + (r.pid ? std::to_string(*r.pid) : std::string("null"));
  char wall[64];
  std::snprintf(wall, sizeof wall, "%.3f", r.wall_ms);
  j += std::string(",\"wall_ms\":") + wall;
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

    sbx_box* raw_box = nullptr;
    if (!call([&](sbx_error** e) { return sbx_box_create(&raw_box, cfg.get(), e); }, nullptr, rc)) return rc;
    std::unique_ptr<sbx_box, BoxDeleter> box(raw_box);
    cfg.reset();

    sbx_proc* raw_proc = nullptr;
    if (!call([&](sbx_error** e) { return sbx_box_spawn(box.get(), spec.get(), &raw_proc, e); }, nullptr, rc))
      return rc;
    std::unique_ptr<sbx_proc, ProcDeleter> proc(raw_proc);
    spec.reset();
    pid_t pid = 0;
    if (sbx_proc_pid(proc.get(), &pid) == SBX_OK) r_.pid = pid;

    std::string fwd_error;
    if (!fwd_.attach(box.get(), fwd_error))
      std::fprintf(stderr, "sbx: warning: signals will not be forwarded: %s\n", fwd_error.c_str());
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
    return code;
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
