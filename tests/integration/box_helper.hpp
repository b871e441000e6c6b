// Helpers for the integration tests: run a program in a real box through the
// public C API only (<sbx/sbx.h>), capture its output, and check that the
// test process leaked nothing.
//
//   BoxOptions box;                       // namespaces, hostname, rootfs, mounts
//   ProcOptions proc;                     // env, cwd, user, stdio, preserved fds
//   auto r = run_box(box, {"/bin/sh", "-c", "echo $$"});
//   EXPECT_TRUE(r.ok()) << r.describe();
//   EXPECT_EQ(r.out, "2\n");
#pragma once

#include <sbx/sbx.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sbx_it {

// ---------------------------------------------------------------- handles

struct ConfigDeleter {
  void operator()(sbx_config* p) const { sbx_config_free(p); }
};
struct SpecDeleter {
  void operator()(sbx_spec* p) const { sbx_spec_free(p); }
};
struct BoxDeleter {
  void operator()(sbx_box* p) const { sbx_box_free(p); }
};
struct ProcDeleter {
  void operator()(sbx_proc* p) const { sbx_proc_free(p); }
};
struct ErrorDeleter {
  void operator()(sbx_error* p) const { sbx_error_free(p); }
};
using ConfigPtr = std::unique_ptr<sbx_config, ConfigDeleter>;
using SpecPtr = std::unique_ptr<sbx_spec, SpecDeleter>;
using BoxPtr = std::unique_ptr<sbx_box, BoxDeleter>;
using ProcPtr = std::unique_ptr<sbx_proc, ProcDeleter>;
using ErrorPtr = std::unique_ptr<sbx_error, ErrorDeleter>;

// An owned fd, closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1);
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// The details of a failed call, copied out of an sbx_error.
struct ErrorInfo {
  int code = SBX_OK;  // sbx_error_code, or the returned status if no error object
  int sys_errno = 0;
  std::string step;
  std::string message;
  bool had_error_object = false;

  std::string describe() const;
};
// Takes (and frees) *ERR; RC is the status the call returned.
ErrorInfo take_error(int rc, sbx_error** err);

// ---------------------------------------------------------------- options

struct Mount {
  enum Kind { kBind, kTmpfs } kind = kBind;
  std::string src;  // bind
  std::string dst;
  unsigned flags = SBX_BIND_RO;  // bind
  uint64_t size = 0;             // tmpfs
  unsigned mode = 01777;         // tmpfs
};
Mount bind_ro(std::string src, std::string dst);
Mount bind_rw(std::string src, std::string dst);
Mount tmpfs(std::string dst, uint64_t size = 0, unsigned mode = 01777);

struct BoxOptions {
  std::optional<unsigned> namespaces;
  std::optional<std::string> hostname;
  std::optional<std::string> rootfs;
  std::vector<Mount> mounts;  // applied in this order
  // Further setters (limits, policy): called last; return the call's status.
  std::function<int(sbx_config*, sbx_error**)> configure;
};

struct StdioOverride {
  sbx_stdio_mode mode = SBX_STDIO_PIPE;
  std::string path;  // SBX_STDIO_FILE
  int fd = -1;       // SBX_STDIO_FD
};

struct ProcOptions {
  std::vector<std::string> env;        // "KEY=VALUE"
  std::vector<std::string> allow_env;  // host names
  std::optional<std::string> cwd;
  std::optional<std::pair<uint32_t, uint32_t>> user;
  std::vector<int> preserve_fds;
  // Default: stdin NULL, stdout and stderr PIPE (captured). With stdin_data
  // set, stdin is a PIPE fed with these bytes, then closed.
  std::optional<std::string> stdin_data;
  std::optional<StdioOverride> stdio[3];
  int timeout_ms = 20000;  // safety net: the box is killed after this
  // Further setters (rlimits, timeout): called last; return the call's status.
  std::function<int(sbx_spec*, sbx_error**)> configure;
};

// ---------------------------------------------------------------- running

struct RunResult {
  int status = SBX_E_INTERNAL;  // of the first call that failed, or SBX_OK
  std::string failed_call;      // which call failed ("" when status is SBX_OK)
  ErrorInfo error;              // details when status != SBX_OK
  sbx_exit_status exit = SBX_EXIT_STATUS_INIT;
  std::string out;
  std::string err;
  bool timed_out = false;  // the safety net had to kill the box

  bool ok() const { return status == SBX_OK; }
  bool exited(int code) const { return ok() && exit.kind == SBX_EXIT_EXITED && exit.code == code; }
  std::string describe() const;
};

ConfigPtr make_config(const BoxOptions& opts, ErrorInfo* einfo, std::string* failed_call);
SpecPtr make_spec(const std::vector<std::string>& argv, const ProcOptions& opts, ErrorInfo* einfo,
                  std::string* failed_call);

// A box with its process running, pipes taken.
struct Running {
  BoxPtr box;
  ProcPtr proc;
  Fd in, out, err;  // host ends of pipes (only those that are pipes)
  std::string stdin_data;
  int timeout_ms = 20000;
};

// Creates and spawns. On failure returns nullopt and fills RESULT's status,
// failed_call and error.
std::optional<Running> start_box(const BoxOptions& box, const std::vector<std::string>& argv,
                                 const ProcOptions& proc, RunResult* result);
// Feeds stdin, reads stdout/stderr to EOF (poll on all of them), waits.
RunResult collect(Running& r);

RunResult run_box(const BoxOptions& box, const std::vector<std::string>& argv, const ProcOptions& proc = {});
// Convenience: the default box.
RunResult run(const std::vector<std::string>& argv, const ProcOptions& proc = {});
RunResult sh(const std::string& script, const ProcOptions& proc = {}, const BoxOptions& box = {});

// ---------------------------------------------------------------- host side

// A private directory under ${TMPDIR:-/tmp}, removed (recursively) on
// destruction.
// The host uid/gid a box's user has when sbx runs as root.
constexpr unsigned kBoxHostIdAsRoot = 65534;

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void write_file(const std::string& path, const std::string& content, unsigned mode = 0644);
std::string read_file(const std::string& path);
bool path_exists(const std::string& path);
std::vector<std::string> split_lines(const std::string& s);
std::vector<std::string> split_words(const std::string& s);
std::vector<std::string> list_dir(const std::string& path);  // sorted, without . and ..
// Interface names in a /proc/net/dev text.
std::vector<std::string> net_dev_names(const std::string& proc_net_dev);

// What the test process holds: open fds, child processes, visible mounts.
struct Resources {
  int fds = 0;
  int children = 0;
  int mounts = 0;
  bool operator==(const Resources& o) const {
    return fds == o.fds && children == o.children && mounts == o.mounts;
  }
  std::string describe() const;
};
Resources snapshot();

bool is_root();

}  // namespace sbx_it

namespace sbx_it {}  // namespace sbx_it
