// What the user asked for: a box configuration and a process spec. Setters
// validate each value on entry so errors name the offending argument early;
// cross-field checks happen in validate() when a box is created.
#pragma once

#include <sbx/sbx.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sbx {

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

struct BoxConfig {
  unsigned namespaces = SBX_NS_ALL;
  std::optional<std::string> rootfs;
  std::vector<MountRequest> mounts;
  std::string hostname = "sbx";

  void set_namespaces(unsigned mask);
  void set_rootfs(const char* dir);
  void add_bind(const char* src, const char* dst, unsigned flags);
  void add_tmpfs(const char* dst, uint64_t size, unsigned mode);
  void set_hostname(const char* name);
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

  ProcSpec();
  void set_argv(size_t argc, const char* const* argv);
  void set_env(const char* key_value);
  void allow(const char* name);
  void set_cwd(const char* dir);
  void set_user(uint32_t uid, uint32_t gid);
  void set_stdio(int which, int mode, const char* path, int fd);
  void preserve(int fd);
  void validate() const;
  // The final environment: defaults, then allowed host variables, then
  // explicit ones (explicit wins).
  std::vector<std::string> build_env() const;
};

constexpr size_t kMaxArgs = 65536;
constexpr size_t kMaxEnv = 65536;
constexpr size_t kMaxMounts = 1024;
constexpr size_t kMaxPreserve = 1024;

}  // namespace sbx
