// Command-line parsing for `sbx run`. Pure: no library calls, no I/O, so
// every usage error is found before anything is created.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sbx_cli {

struct MountOption {
  enum class Kind { Bind, RoBind, Tmpfs };
  Kind kind;
  std::string option;  // "--bind", "--ro-bind" or "--tmpfs", for messages
  std::string src;     // empty for tmpfs
  std::string dst;
  uint64_t size = 0;  // tmpfs only; 0 = the kernel's default
};

struct EnvOption {
  std::string text;    // "KEY=VALUE", or "KEY" when copy is true
  bool copy = false;   // -e KEY: copy KEY from the host environment
  std::string option;  // "-e" or "--env", for messages
};

// One --rlimit NAME=SOFT[:HARD].
struct RlimitOption {
  int resource = 0;  // sbx_rlimit_resource (SBX_RLIMIT_*)
  std::string name;  // "RLIMIT_NOFILE", for messages
  uint64_t soft = 0;
  uint64_t hard = 0;  // UINT64_MAX (SBX_RLIM_INFINITY) = unlimited
};

// --seccomp default|compute|none|FILE.json
struct SeccompOption {
  bool is_file = false;  // a value with '/' or ending in ".json" names a file
  std::string value;     // the profile name or the file path
};

struct RunOptions {
  bool help = false;
  std::optional<std::string> rootfs;
  std::vector<MountOption> mounts;  // in command-line order
  std::optional<std::string> workdir;
  std::vector<EnvOption> env;  // in command-line order
  bool has_user = false;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::optional<std::string> hostname;
  std::optional<bool> network_host;  // set when --network was given
  std::optional<std::string> json_path;
  std::optional<std::string> stdin_path;
  // Limits of the box (SPEC R1-R3); unset = none.
  std::optional<uint64_t> memory;         // bytes
  std::optional<uint64_t> pids_limit;     // >= 1
  std::optional<double> cpus;             // 0.01 .. 1024
  std::optional<uint64_t> cpu_time_ms;    // >= 1
  std::optional<uint64_t> timeout_ms;     // >= 1
  std::optional<uint64_t> kill_grace_ms;  // 0 = SIGKILL at once
  std::optional<uint64_t> output_limit;   // bytes of stdout + stderr
  std::optional<std::string> cgroup_parent;
  std::vector<RlimitOption> rlimits;  // in command-line order, one per resource
  bool strict = false;
  // Security policy (SPEC S1-S4).
  std::optional<SeccompOption> seccomp;
  bool no_landlock = false;
  bool landlock_allow_tcp = false;
  std::vector<std::string> cap_add;  // as typed; the library checks the names
  bool report = false;               // print the enforcement report to stderr
  std::vector<std::string> argv;     // PROGRAM [ARGS...]
};

// Parses ARGS (everything after "run"). On failure returns false and sets
// ERROR to a complete one-line message ("sbx run: ...").
bool parse_run_args(const std::vector<std::string>& args, RunOptions& out, std::string& error);

// "4096", "64m", "1G": plain bytes or a k/m/g suffix (powers of 1024, any
// case). Rejects 0, signs, spaces, other suffixes and values above 2^64-1.
bool parse_size(std::string_view text, uint64_t& out);

// A duration in decimal seconds ("2", "1.5", "0.25", ".5") to milliseconds,
// rounded up to the next millisecond (so a positive value never becomes 0).
// Rejects signs, exponents, spaces, "inf", "nan" and overflow. 0 is accepted
// (callers decide whether it is meaningful).
bool parse_seconds_ms(std::string_view text, uint64_t& out_ms);

// A CPU count: decimal without sign or exponent, 0.01 .. 1024.
bool parse_cpus(std::string_view text, double& out);

// The value of --rlimit: NAME=SOFT[:HARD]. On failure sets ERROR to the
// reason (without the "sbx run: --rlimit: " prefix).
bool parse_rlimit(std::string_view text, RlimitOption& out, std::string& error);

// A decimal uid or gid in 0..4294967294 (4294967295 is (uid_t)-1).
bool parse_id(std::string_view text, uint32_t& out);

}  // namespace sbx_cli
