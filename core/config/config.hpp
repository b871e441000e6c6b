// What the user asked for: a box configuration and a process spec. Setters
// validate each value on entry so errors name the offending argument early;
// cross-field checks happen in validate() when a box is created.
#pragma once

#include <sbx/sbx.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sbx {

struct ExitRecord;

struct BindSpec {
  std::string src;  // as given (absolute); canonicalised at box creation
  std::string dst;  // normalised absolute path inside the box
  bool writable = false;
  bool optional = false;
};

struct TmpfsSpec {
  std::string dst;
  uint64_t size_bytes = 0;  // 0 = kernel default
  unsigned mode = 01777;
};

// One mount request in the order the user gave it (binds and tmpfs interleave).
struct MountRequest {
  enum class Kind { kBind, kTmpfs } kind;
  BindSpec bind;
  TmpfsSpec tmpfs;
};

// Limits of the whole box (cgroup, time); 0 = none.
struct BoxLimits {
  uint64_t memory_max = 0;
  uint64_t memory_high = 0;
  uint64_t pids_max = 0;
  double cpus = 0;
  uint32_t cpu_weight = 0;
  uint64_t cpu_time_ms = 0;
  uint64_t timeout_ms = 0;
  uint64_t kill_grace_ms = 1000;
  std::optional<std::string> cgroup_parent;
  uint64_t zombie_ttl_ms = 60000;  // a started box's table keeps exited processes this long
};

struct SeccompRuleSpec {
  std::string syscall;
  int action;
  int errno_value;
  std::vector<sbx_seccomp_arg> args;
};

// The security policy as asked for; compiled when the box is created.
struct SecuritySpec {
  std::string seccomp_profile = "default";  // named profile, unless json is set
  std::optional<std::string> seccomp_json_path;
  std::vector<SeccompRuleSpec> seccomp_rules;
  bool landlock = true;
  bool landlock_allow_tcp = false;
  std::vector<int> caps;  // capability numbers to keep (sorted, unique)
};

struct BoxConfig {
  unsigned namespaces = SBX_NS_ALL;
  BoxLimits limits;
  SecuritySpec security;
  bool strict = false;
  std::optional<std::string> rootfs;
  std::vector<MountRequest> mounts;
  std::string hostname = "sbx";

  void set_namespaces(unsigned mask);
  void set_rootfs(const char* dir);
  void add_bind(const char* src, const char* dst, unsigned flags);
  void add_tmpfs(const char* dst, uint64_t size, unsigned mode);
  void set_hostname(const char* name);
  void set_memory_limit(uint64_t bytes);
  void set_memory_high(uint64_t bytes);
  void set_pids_limit(uint64_t n);
  void set_cpus(double cpus);
  void set_cpu_weight(uint32_t w);
  void set_cpu_time_limit(uint64_t ms);
  void set_timeout(uint64_t ms);
  void set_kill_grace(uint64_t ms);
  void set_zombie_ttl(uint64_t ms);
  void set_cgroup_parent(const char* path);
  void set_seccomp_profile(const char* name);
  void load_seccomp_json(const char* path);
  void add_seccomp_rule(const char* syscall, int action, int errno_value, size_t n_args,
                        const sbx_seccomp_arg* args);
  void add_capability(const char* name);
  void set_landlock(unsigned flags);
  // Cross-field validation; throws sbx::Error naming the problem.
  void validate() const;
};

struct StdioSpec {
  sbx_stdio_mode mode = SBX_STDIO_INHERIT;
  std::string path;
  int fd = -1;
};

struct ProcSpec {
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;  // ordered, unique keys
  std::vector<std::string> allow_env;
  std::vector<std::string> explicit_keys;  // set through set_env
  std::string cwd = "/";
  std::optional<std::pair<uint32_t, uint32_t>> user;
  StdioSpec stdio[3];
  std::vector<int> preserve_fds;
  struct Rlimit {
    int resource;  // RLIMIT_*
    uint64_t soft, hard;
  };
  std::vector<Rlimit> rlimits;  // one per resource, in the order set
  uint64_t timeout_ms = 0;
  // Captured streams (SBX_STDIO_CAPTURE): delivered on the monitor thread.
  std::function<void(int stream, const void* data, size_t len)> on_output;
  std::function<void(const ExitRecord&)> on_exit;
  uint64_t output_limit = 0;  // 0: none
  bool output_limit_kill = false;
  int pgroup_mode = SBX_PGROUP_NEW;  // a started box only
  int pgroup_id = 0;                 // SBX_PGROUP_JOIN: the group (0: the box init's)
  bool pty = false;                  // stdio is a pseudo-terminal of pty_rows x pty_cols
  uint16_t pty_rows = 24, pty_cols = 80;

  ProcSpec();
  void set_argv(size_t argc, const char* const* argv);
  void set_env(const char* key_value);
  void allow(const char* name);
  void set_cwd(const char* dir);
  void set_user(uint32_t uid, uint32_t gid);
  void set_stdio(int which, int mode, const char* path, int fd);
  void preserve(int fd);
  void set_rlimit(int sbx_resource, uint64_t soft, uint64_t hard);
  void set_timeout(uint64_t ms);
  void set_output_limit(uint64_t max_bytes, int action);
  void set_pty(uint16_t rows, uint16_t cols);
  void set_pgroup(int mode, int pgid);
  // stdin and stdout are captured on a pty (its master); stderr goes there too.
  bool captures(int which) const {
    return pty ? which != SBX_STDERR : stdio[which].mode == SBX_STDIO_CAPTURE;
  }
  void validate() const;
  // The final environment: defaults, then allowed host variables, then
  // explicit ones (explicit wins).
  std::vector<std::string> build_env() const;
};

// Capability name ("CAP_CHOWN", "chown") -> number, or -1.
int capability_from_name(const std::string& name);
std::string capability_name(int cap);
// Capabilities that act only inside the box's own user namespace.
bool capability_grantable(int cap);

constexpr size_t kMaxArgs = 65536;
constexpr size_t kMaxEnv = 65536;
constexpr size_t kMaxMounts = 1024;
constexpr size_t kMaxPreserve = 1024;

}  // namespace sbx
