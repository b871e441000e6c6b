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
  std::vector<std::string> argv;  // PROGRAM [ARGS...]
};

// Parses ARGS (everything after "run"). On failure returns false and sets
// ERROR to a complete one-line message ("sbx run: ...").
bool parse_run_args(const std::vector<std::string>& args, RunOptions& out, std::string& error);

// "4096", "64m", "1G": plain bytes or a k/m/g suffix (powers of 1024, any
// case). Rejects 0, signs, spaces, other suffixes and values above 2^64-1.
bool parse_size(std::string_view text, uint64_t& out);

// A decimal uid or gid in 0..4294967294 (4294967295 is (uid_t)-1).
bool parse_id(std::string_view text, uint32_t& out);

}  // namespace sbx_cli
