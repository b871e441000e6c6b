#include "box_helper.hpp"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace sbx_it {

namespace {

// A pipe whose reader went away must give EPIPE, not kill the test binary.
[[maybe_unused]] const bool kSigpipeIgnored = [] {
  signal(SIGPIPE, SIG_IGN);
  return true;
}();

uint64_t now_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000u + static_cast<uint64_t>(ts.tv_nsec) / 1000000u;
}

bool fail_with(int rc, sbx_error** err, const char* call, ErrorInfo* einfo, std::string* failed_call) {
  *einfo = take_error(rc, err);
  *failed_call = call;
  return false;
}

}  // namespace

void Fd::reset(int fd) {
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
}

std::string ErrorInfo::describe() const {
  std::ostringstream o;
  o << sbx_status_name(code) << " step=" << step << " errno=" << sys_errno << " ("
    << (sys_errno ? strerror(sys_errno) : "-") << ") message=\"" << message << "\"";
  return o.str();
}

ErrorInfo take_error(int rc, sbx_error** err) {
  ErrorInfo e;
  e.code = rc;
  if (err != nullptr && *err != nullptr) {
    e.had_error_object = true;
    e.code = sbx_error_code(*err);
    e.sys_errno = sbx_error_errno(*err);
    e.step = sbx_error_step(*err);
    e.message = sbx_error_message(*err);
    sbx_error_free(*err);
    *err = nullptr;
  }
  return e;
}

Mount bind_ro(std::string src, std::string dst) {
  Mount m;
  m.kind = Mount::kBind;
  m.src = std::move(src);
  m.dst = std::move(dst);
  m.flags = SBX_BIND_RO;
  return m;
}

Mount bind_rw(std::string src, std::string dst) {
  Mount m = bind_ro(std::move(src), std::move(dst));
  m.flags = SBX_BIND_RW;
  return m;
}

Mount tmpfs(std::string dst, uint64_t size, unsigned mode) {
  Mount m;
  m.kind = Mount::kTmpfs;
  m.dst = std::move(dst);
  m.size = size;
  m.mode = mode;
  return m;
}

std::string RunResult::describe() const {
  std::ostringstream o;
  if (!ok()) {
    o << failed_call << " failed: " << error.describe() << "\n";
  } else {
    o << "exit kind=" << exit.kind << " code=" << exit.code << " signal=" << exit.signal
      << " core=" << exit.core_dumped << " reason=" << exit.reason << (timed_out ? " (TIMED OUT)" : "")
      << "\n";
  }
  o << "--- stdout ---\n" << out << "--- stderr ---\n" << err << "---";
  return o.str();
}

ConfigPtr make_config(const BoxOptions& opts, ErrorInfo* einfo, std::string* failed_call) {
  sbx_error* err = nullptr;
  sbx_config* raw = nullptr;
  int rc = sbx_config_new(&raw, &err);
  if (rc != SBX_OK) {
    fail_with(rc, &err, "sbx_config_new", einfo, failed_call);
    return nullptr;
  }
  ConfigPtr cfg(raw);
  if (opts.namespaces && (rc = sbx_config_set_namespaces(cfg.get(), *opts.namespaces, &err)) != SBX_OK) {
    fail_with(rc, &err, "sbx_config_set_namespaces", einfo, failed_call);
    return nullptr;
  }
  if (opts.hostname && (rc = sbx_config_set_hostname(cfg.get(), opts.hostname->c_str(), &err)) != SBX_OK) {
    fail_with(rc, &err, "sbx_config_set_hostname", einfo, failed_call);
    return nullptr;
  }
  if (opts.rootfs && (rc = sbx_config_set_rootfs(cfg.get(), opts.rootfs->c_str(), &err)) != SBX_OK) {
    fail_with(rc, &err, "sbx_config_set_rootfs", einfo, failed_call);
    return nullptr;
  }
  for (const Mount& m : opts.mounts) {
    if (m.kind == Mount::kBind) {
      rc = sbx_config_add_bind(cfg.get(), m.src.c_str(), m.dst.c_str(), m.flags, &err);
      if (rc != SBX_OK) {
        fail_with(rc, &err, "sbx_config_add_bind", einfo, failed_call);
        return nullptr;
      }
    } else {
      rc = sbx_config_add_tmpfs(cfg.get(), m.dst.c_str(), m.size, m.mode, &err);
      if (rc != SBX_OK) {
        fail_with(rc, &err, "sbx_config_add_tmpfs", einfo, failed_call);
        return nullptr;
      }
    }
  }
  if (opts.configure && (rc = opts.configure(cfg.get(), &err)) != SBX_OK) {
    fail_with(rc, &err, "configure (sbx_config_*)", einfo, failed_call);
    return nullptr;
  }
  return cfg;
}

SpecPtr make_spec(const std::vector<std::string>& argv, const ProcOptions& opts, ErrorInfo* einfo,
                  std::string* failed_call) {
  sbx_error* err = nullptr;
  sbx_spec* raw = nullptr;
  int rc = sbx_spec_new(&raw, &err);
  if (rc != SBX_OK) {
    fail_with(rc, &err, "sbx_spec_new", einfo, failed_call);
    return nullptr;
  }
  SpecPtr spec(raw);
  std::vector<const char*> cargv;
  for (const auto& a : argv) cargv.push_back(a.c_str());
  if ((rc = sbx_spec_set_argv(spec.get(), cargv.size(), cargv.data(), &err)) != SBX_OK) {
    fail_with(rc, &err, "sbx_spec_set_argv", einfo, failed_call);
    return nullptr;
  }
  for (const auto& e : opts.env) {
    if ((rc = sbx_spec_set_env(spec.get(), e.c_str(), &err)) != SBX_OK) {
      fail_with(rc, &err, "sbx_spec_set_env", einfo, failed_call);
      return nullptr;
    }
  }
  for (const auto& n : opts.allow_env) {
    if ((rc = sbx_spec_allow_env(spec.get(), n.c_str(), &err)) != SBX_OK) {
      fail_with(rc, &err, "sbx_spec_allow_env", einfo, failed_call);
      return nullptr;
    }
  }
  if (opts.cwd && (rc = sbx_spec_set_cwd(spec.get(), opts.cwd->c_str(), &err)) != SBX_OK) {
    fail_with(rc, &err, "sbx_spec_set_cwd", einfo, failed_call);
    return nullptr;
  }
  if (opts.user &&
      (rc = sbx_spec_set_user(spec.get(), opts.user->first, opts.user->second, &err)) != SBX_OK) {
    fail_with(rc, &err, "sbx_spec_set_user", einfo, failed_call);
    return nullptr;
  }
  for (int fd : opts.preserve_fds) {
    if ((rc = sbx_spec_preserve_fd(spec.get(), fd, &err)) != SBX_OK) {
      fail_with(rc, &err, "sbx_spec_preserve_fd", einfo, failed_call);
      return nullptr;
    }
  }
  for (int i = 0; i < 3; ++i) {
    StdioOverride s;
    if (opts.stdio[i]) {
      s = *opts.stdio[i];
    } else if (i == SBX_STDIN) {
      s.mode = opts.stdin_data ? SBX_STDIO_PIPE : SBX_STDIO_NULL;
    } else {
      s.mode = SBX_STDIO_PIPE;
    }
    const char* path = s.mode == SBX_STDIO_FILE ? s.path.c_str() : nullptr;
    int fd = s.mode == SBX_STDIO_FD ? s.fd : -1;
    if ((rc = sbx_spec_set_stdio(spec.get(), i, s.mode, path, fd, &err)) != SBX_OK) {
      fail_with(rc, &err, "sbx_spec_set_stdio", einfo, failed_call);
      return nullptr;
    }
  }
  if (opts.configure && (rc = opts.configure(spec.get(), &err)) != SBX_OK) {
    fail_with(rc, &err, "configure (sbx_spec_*)", einfo, failed_call);
    return nullptr;
  }
  return spec;
}

std::optional<Running> start_box(const BoxOptions& bopts, const std::vector<std::string>& argv,
                                 const ProcOptions& popts, RunResult* res) {
  ConfigPtr cfg = make_config(bopts, &res->error, &res->failed_call);
  if (!cfg) {
    res->status = res->error.code;
    return std::nullopt;
  }
  SpecPtr spec = make_spec(argv, popts, &res->error, &res->failed_call);
  if (!spec) {
    res->status = res->error.code;
    return std::nullopt;
  }
  sbx_error* err = nullptr;
  sbx_box* braw = nullptr;
  int rc = sbx_box_create(&braw, cfg.get(), &err);
  if (rc != SBX_OK) {
    res->status = rc;
    fail_with(rc, &err, "sbx_box_create", &res->error, &res->failed_call);
    return std::nullopt;
  }
  Running r;
  r.box.reset(braw);
  r.timeout_ms = popts.timeout_ms;
  if (popts.stdin_data) r.stdin_data = *popts.stdin_data;
  sbx_proc* praw = nullptr;
  rc = sbx_box_spawn(r.box.get(), spec.get(), &praw, &err);
  if (rc != SBX_OK) {
    res->status = rc;
    fail_with(rc, &err, "sbx_box_spawn", &res->error, &res->failed_call);
    return std::nullopt;
  }
  r.proc.reset(praw);
  Fd* ends[3] = {&r.in, &r.out, &r.err};
  for (int i = 0; i < 3; ++i) {
    bool is_pipe = popts.stdio[i] ? popts.stdio[i]->mode == SBX_STDIO_PIPE
                                  : (i != SBX_STDIN || popts.stdin_data.has_value());
    if (!is_pipe) continue;
    int fd = -1;
    rc = sbx_proc_take_stdio(r.proc.get(), i, &fd, &err);
    if (rc != SBX_OK) {
      res->status = rc;
      fail_with(rc, &err, "sbx_proc_take_stdio", &res->error, &res->failed_call);
      return std::nullopt;
    }
    ends[i]->reset(fd);
  }
  res->status = SBX_OK;
  return r;
}

RunResult collect(Running& r) {
  RunResult res;
  res.status = SBX_OK;
  size_t in_off = 0;
  if (r.in && r.stdin_data.empty()) r.in.reset();
  if (r.in) fcntl(r.in.get(), F_SETFL, fcntl(r.in.get(), F_GETFL) | O_NONBLOCK);
  const uint64_t deadline = now_ms() + static_cast<uint64_t>(r.timeout_ms);
  bool killed = false;
  while (r.in || r.out || r.err) {
    struct pollfd fds[3];
    Fd* which[3];
    nfds_t n = 0;
    if (r.in) {
      fds[n] = {r.in.get(), POLLOUT, 0};
      which[n++] = &r.in;
    }
    if (r.out) {
      fds[n] = {r.out.get(), POLLIN, 0};
      which[n++] = &r.out;
    }
    if (r.err) {
      fds[n] = {r.err.get(), POLLIN, 0};
      which[n++] = &r.err;
    }
    uint64_t now = now_ms();
    int wait_ms = 200;
    if (!killed && now < deadline) wait_ms = static_cast<int>(std::min<uint64_t>(deadline - now, 200));
    int pr = poll(fds, n, wait_ms);
    if (pr < 0 && errno != EINTR) break;
    if (!killed && now_ms() >= deadline) {
      killed = true;
      res.timed_out = true;
      sbx_box_kill(r.box.get(), SIGKILL, nullptr);
    }
    if (pr <= 0) continue;
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      Fd* f = which[i];
      if (f == &r.in) {
        if (fds[i].revents & (POLLERR | POLLHUP)) {
          r.in.reset();
          continue;
        }
        ssize_t w = write(r.in.get(), r.stdin_data.data() + in_off, r.stdin_data.size() - in_off);
        if (w < 0) {
          if (errno != EAGAIN && errno != EINTR) r.in.reset();
          continue;
        }
        in_off += static_cast<size_t>(w);
        if (in_off == r.stdin_data.size()) r.in.reset();
        continue;
      }
      char buf[65536];
      ssize_t got = read(f->get(), buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        f->reset();
        continue;
      }
      (f == &r.out ? res.out : res.err).append(buf, static_cast<size_t>(got));
    }
  }
  sbx_error* err = nullptr;
  res.exit = SBX_EXIT_STATUS_INIT;
  int rc = sbx_proc_wait(r.proc.get(), killed ? -1 : std::max(1000, r.timeout_ms), &res.exit, &err);
  if (rc == SBX_E_TIMEOUT) {
    res.timed_out = true;
    sbx_box_kill(r.box.get(), SIGKILL, nullptr);
    rc = sbx_proc_wait(r.proc.get(), -1, &res.exit, &err);
  }
  if (rc != SBX_OK) {
    res.status = rc;
    fail_with(rc, &err, "sbx_proc_wait", &res.error, &res.failed_call);
  }
  return res;
}

RunResult run_box(const BoxOptions& box, const std::vector<std::string>& argv, const ProcOptions& proc) {
  RunResult res;
  std::optional<Running> r = start_box(box, argv, proc, &res);
  if (!r) return res;
  return collect(*r);
}

RunResult run(const std::vector<std::string>& argv, const ProcOptions& proc) {
  return run_box({}, argv, proc);
}

RunResult sh(const std::string& script, const ProcOptions& proc, const BoxOptions& box) {
  return run_box(box, {"/bin/sh", "-c", script}, proc);
}

// ---------------------------------------------------------------- host side

TempDir::TempDir() {
  const char* base = getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/sbx-it.XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp " + tmpl + ": " + strerror(errno));
  // Canonical, so that tests can compare paths the library resolved.
  char real[PATH_MAX];
  if (realpath(buf.data(), real) == nullptr)
    throw std::runtime_error("realpath: " + std::string(strerror(errno)));
  path_ = real;
  // As root, a box's user is the unprivileged host id 65534 (never host
  // root): give it the test's directory, as a root user of sbx would.
  if (geteuid() == 0 && chown(path_.c_str(), kBoxHostIdAsRoot, kBoxHostIdAsRoot) != 0)
    throw std::runtime_error("chown " + path_ + ": " + strerror(errno));
}

namespace {
int remove_entry(const char* path, const struct stat*, int, struct FTW*) {
  remove(path);
  return 0;
}
}  // namespace

TempDir::~TempDir() {
  if (!path_.empty()) nftw(path_.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void write_file(const std::string& path, const std::string& content, unsigned mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw std::runtime_error("open " + path + ": " + strerror(errno));
  size_t off = 0;
  while (off < content.size()) {
    ssize_t w = write(fd, content.data() + off, content.size() - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      close(fd);
      throw std::runtime_error("write " + path + ": " + strerror(errno));
    }
    off += static_cast<size_t>(w);
  }
  close(fd);
  chmod(path.c_str(), mode);
  if (geteuid() == 0 && chown(path.c_str(), kBoxHostIdAsRoot, kBoxHostIdAsRoot) != 0)
    throw std::runtime_error("chown " + path + ": " + strerror(errno));
}

std::string read_file(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "<cannot open " + path + ": " + strerror(errno) + ">";
  std::string s;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    s.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return s;
}

bool path_exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) v.push_back(line);
  return v;
}

std::vector<std::string> split_words(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  std::string w;
  while (in >> w) v.push_back(w);
  return v;
}

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> v;
  DIR* d = opendir(path.c_str());
  if (d == nullptr) return v;
  while (struct dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") v.push_back(n);
  }
  closedir(d);
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<std::string> net_dev_names(const std::string& text) {
  std::vector<std::string> names;
  for (const auto& line : split_lines(text)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos || line.find('|') != std::string::npos) continue;
    std::string name = line.substr(0, colon);
    name.erase(0, name.find_first_not_of(' '));
    if (!name.empty()) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string Resources::describe() const {
  std::ostringstream o;
  o << "{fds=" << fds << " children=" << children << " mounts=" << mounts << "}";
  return o.str();
}

Resources snapshot() {
  Resources r;
  // fds: entries of /proc/self/fd, minus the one opendir uses and the
  // library's box init image (a memfd created once, on first use, and kept
  // for the life of the process by design).
  if (DIR* d = opendir("/proc/self/fd")) {
    int n = 0;
    while (struct dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      char target[256];
      ssize_t len = readlinkat(dirfd(d), e->d_name, target, sizeof target - 1);
      if (len > 0 && std::string(target, static_cast<size_t>(len)).rfind("/memfd:sbx-init", 0) == 0) continue;
      ++n;
    }
    closedir(d);
    r.fds = n - 1;
  }
  // children: processes whose parent is this process (the kernel here has
  // no /proc/PID/task/TID/children, so scan /proc/PID/stat).
  const pid_t self = getpid();
  if (DIR* d = opendir("/proc")) {
    while (struct dirent* e = readdir(d)) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      std::string stat = read_file(std::string("/proc/") + e->d_name + "/stat");
      size_t rp = stat.rfind(')');
      if (rp == std::string::npos) continue;
      std::istringstream in(stat.substr(rp + 1));
      std::string state;
      long ppid = 0;
      in >> state >> ppid;
      if (ppid == self) ++r.children;
    }
    closedir(d);
  }
  r.mounts = static_cast<int>(split_lines(read_file("/proc/self/mountinfo")).size());
  return r;
}

bool is_root() {
  return geteuid() == 0;
}

}  // namespace sbx_it
