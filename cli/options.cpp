#include "options.hpp"

#include <array>
#include <limits>

namespace sbx_cli {

namespace {

// Options that SPEC §4 reserves for later versions. They are recognised so
// that a script written for a newer sbx fails loudly here instead of running
// its program without the limit it asked for.
struct FutureOption {
  std::string_view name;
  std::string_view reason;
};
constexpr std::array<FutureOption, 8> kFutureOptions{{
    {"--memory", "resource limits are not implemented yet"},
    {"--pids-limit", "resource limits are not implemented yet"},
    {"--cpus", "resource limits are not implemented yet"},
    {"--cpu-time", "resource limits are not implemented yet"},
    {"--rlimit", "resource limits are not implemented yet"},
    {"--timeout", "timeouts are not implemented yet"},
    {"--seccomp", "seccomp filtering is not implemented yet"},
    {"--output-limit", "output limits are not implemented yet"},
}};

std::string quote(std::string_view s) {
  return "'" + std::string(s) + "'";
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// Decimal digits to uint64 with overflow detection.
bool parse_u64(std::string_view s, uint64_t& out) {
  if (!all_digits(s)) return false;
  uint64_t v = 0;
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  for (char c : s) {
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (kMax - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

class Parser {
 public:
  Parser(const std::vector<std::string>& args, RunOptions& out, std::string& error)
      : args_(args), out_(out), error_(error) {}

  bool run() {
    while (i_ < args_.size()) {
      const std::string& arg = args_[i_];
      if (arg == "--") {
        ++i_;
        break;
      }
      if (arg.size() < 2 || arg[0] != '-') break;  // PROGRAM (also a lone "-")
      if (!option(arg)) return false;
      if (out_.help) return true;
    }
    for (; i_ < args_.size(); ++i_) out_.argv.push_back(args_[i_]);
    if (out_.argv.empty())
      return fail("sbx run: missing PROGRAM (usage: sbx run [OPTIONS] -- PROGRAM [ARGS...])");
    if (out_.argv[0].empty()) return fail("sbx run: PROGRAM must not be empty");
    return true;
  }

 private:
  bool fail(std::string msg) {
    error_ = std::move(msg);
    return false;
  }

  // Splits "--name=value"; sets inline_value_ when a value was attached.
  bool option(const std::string& arg) {
    ++i_;
    std::string name = arg;
    inline_value_.reset();
    if (arg.rfind("--", 0) == 0) {
      const auto eq = arg.find('=');
      if (eq != std::string::npos) {
        name = arg.substr(0, eq);
        inline_value_ = arg.substr(eq + 1);
      }
    } else if (arg.size() > 2) {
      // Short option with an attached value: -eKEY=VALUE.
      name = arg.substr(0, 2);
      inline_value_ = arg.substr(2);
    }

    for (const auto& f : kFutureOptions) {
      if (name == f.name)
        return fail("sbx run: " + name + " is not supported by this version of sbx (" +
                    std::string(f.reason) + ")");
    }

    if (name == "-h" || name == "--help") {
      if (inline_value_) return fail("sbx run: " + name + " does not take a value");
      out_.help = true;
      return true;
    }
    if (name == "--rootfs") {
      std::string v;
      if (!once(out_.rootfs.has_value(), name) || !value(name, "DIR", v)) return false;
      out_.rootfs = v;
      return true;
    }
    if (name == "--bind" || name == "--ro-bind") {
      MountOption m{name == "--bind" ? MountOption::Kind::Bind : MountOption::Kind::RoBind, name, {}, {}, 0};
      if (!two_values(name, m.src, m.dst)) return false;
      out_.mounts.push_back(std::move(m));
      return true;
    }
    if (name == "--tmpfs") return tmpfs(name);
    if (name == "--workdir") {
      std::string v;
      if (!once(out_.workdir.has_value(), name) || !value(name, "DIR", v)) return false;
      out_.workdir = v;
      return true;
    }
    if (name == "-e" || name == "--env") return env(name);
    if (name == "--user") return user(name);
    if (name == "--hostname") {
      std::string v;
      if (!once(out_.hostname.has_value(), name) || !value(name, "NAME", v)) return false;
      out_.hostname = v;
      return true;
    }
    if (name == "--network") {
      std::string v;
      if (!once(out_.network_host.has_value(), name) || !value(name, "none|host", v)) return false;
      if (v == "none") {
        out_.network_host = false;
      } else if (v == "host") {
        out_.network_host = true;
      } else {
        return fail("sbx run: --network: invalid value " + quote(v) + " (expected 'none' or 'host')");
      }
      return true;
    }
    if (name == "--json") {
      std::string v;
      if (!once(out_.json_path.has_value(), name) || !value(name, "FILE", v)) return false;
      if (v == "-")
        return fail(
            "sbx run: --json: '-' (stdout) is not allowed: stdout carries the program's "
            "output; give a file name");
      if (v.empty()) return fail("sbx run: --json: the file name must not be empty");
      out_.json_path = v;
      return true;
    }
    if (name == "--stdin") {
      std::string v;
      if (!once(out_.stdin_path.has_value(), name) || !value(name, "FILE", v)) return false;
      if (v.empty()) return fail("sbx run: --stdin: the file name must not be empty");
      out_.stdin_path = v;
      return true;
    }
    // Name the option as typed ("-x", "--foo"), without an attached value.
    const std::string shown = arg.rfind("--", 0) == 0 ? name : arg;
    return fail("sbx run: unknown option " + quote(shown) + " (see 'sbx run --help')");
  }

  bool once(bool already, const std::string& name) {
    if (already) return fail("sbx run: " + name + " given more than once");
    return true;
  }

  // The option's single argument: attached ("--x=v", "-ev") or the next word.
  // A following "--" is not taken as a value: it is almost always a forgotten
  // argument.
  bool value(const std::string& name, std::string_view what, std::string& v) {
    if (inline_value_) {
      v = *inline_value_;
      return true;
    }
    if (i_ >= args_.size() || args_[i_] == "--")
      return fail("sbx run: " + name + " requires an argument (" + std::string(what) + ")");
    v = args_[i_++];
    return true;
  }

  bool two_values(const std::string& name, std::string& a, std::string& b) {
    if (inline_value_) return fail("sbx run: " + name + " takes two arguments: " + name + " SRC DST");
    if (i_ + 1 >= args_.size() || args_[i_] == "--" || args_[i_ + 1] == "--")
      return fail("sbx run: " + name + " requires two arguments (SRC DST)");
    a = args_[i_++];
    b = args_[i_++];
    return true;
  }

  bool tmpfs(const std::string& name) {
    std::string v;
    if (!value(name, "DST[:SIZE]", v)) return false;
    MountOption m{MountOption::Kind::Tmpfs, name, {}, v, 0};
    // SIZE never contains ':', so the last one separates it from DST.
    const auto colon = v.rfind(':');
    if (colon != std::string::npos) {
      m.dst = v.substr(0, colon);
      const std::string size = v.substr(colon + 1);
      if (!parse_size(size, m.size))
        return fail("sbx run: --tmpfs: invalid size " + quote(size) + " in " + quote(v) +
                    " (expected a positive number of bytes, optionally with a k, m or g "
                    "suffix, e.g. 64m)");
    }
    if (m.dst.empty())
      return fail("sbx run: --tmpfs: missing the mount point in " + quote(v) + " (expected DST[:SIZE])");
    out_.mounts.push_back(std::move(m));
    return true;
  }

  bool env(const std::string& name) {
    std::string v;
    if (!value(name, "KEY=VALUE or KEY", v)) return false;
    const auto eq = v.find('=');
    const std::string key = v.substr(0, eq);
    if (key.empty())
      return fail("sbx run: " + name + ": invalid variable " + quote(v) + " (expected KEY=VALUE or KEY)");
    out_.env.push_back(EnvOption{v, eq == std::string::npos, name});
    return true;
  }

  bool user(const std::string& name) {
    std::string v;
    if (!once(out_.has_user, name) || !value(name, "UID[:GID]", v)) return false;
    const auto colon = v.find(':');
    const std::string u = v.substr(0, colon);
    const bool has_gid = colon != std::string::npos;
    const std::string g = has_gid ? v.substr(colon + 1) : u;
    if (!parse_id(u, out_.uid) || !parse_id(g, out_.gid))
      return fail("sbx run: --user: invalid value " + quote(v) +
                  " (expected numeric UID[:GID], e.g. 1000 or 1000:1000)");
    out_.has_user = true;
    return true;
  }

  const std::vector<std::string>& args_;
  RunOptions& out_;
  std::string& error_;
  size_t i_ = 0;
  std::optional<std::string> inline_value_;
};

}  // namespace

bool parse_size(std::string_view text, uint64_t& out) {
  if (text.empty()) return false;
  uint64_t mult = 1;
  switch (text.back()) {
    case 'k':
    case 'K':
      mult = 1ull << 10;
      break;
    case 'm':
    case 'M':
      mult = 1ull << 20;
      break;
    case 'g':
    case 'G':
      mult = 1ull << 30;
      break;
    default:
      break;
  }
  if (mult != 1) text.remove_suffix(1);
  uint64_t n = 0;
  if (!parse_u64(text, n) || n == 0) return false;
  if (n > std::numeric_limits<uint64_t>::max() / mult) return false;
  out = n * mult;
  return true;
}

bool parse_id(std::string_view text, uint32_t& out) {
  uint64_t v = 0;
  if (!parse_u64(text, v) || v > 4294967294ull) return false;
  out = static_cast<uint32_t>(v);
  return true;
}

bool parse_run_args(const std::vector<std::string>& args, RunOptions& out, std::string& error) {
  return Parser(args, out, error).run();
}

}  // namespace sbx_cli
