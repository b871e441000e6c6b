#include "options.hpp"

#include <sbx/sbx.h>

#include <cctype>
#include <cstdlib>
#include <limits>

namespace sbx_cli {

namespace {

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

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

// "12", "12.5", ".5", "12.": digits with at most one '.', at least one digit.
// Sets INT_PART and FRAC to the two digit strings.
bool split_decimal(std::string_view s, std::string_view& int_part, std::string_view& frac) {
  const auto dot = s.find('.');
  int_part = s.substr(0, dot);
  frac = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  if (int_part.empty() && frac.empty()) return false;
  if (!int_part.empty() && !all_digits(int_part)) return false;
  if (!frac.empty() && !all_digits(frac)) return false;
  return true;
}

// SIZE for rlimits: like parse_size, but 0 is allowed (e.g. core=0).
bool parse_size_or_zero(std::string_view text, uint64_t& out) {
  if (text == "0") {
    out = 0;
    return true;
  }
  return parse_size(text, out);
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
    if (name == "--memory") return size_option(name, out_.memory);
    if (name == "--output-limit") return size_option(name, out_.output_limit);
    if (name == "--pids-limit") {
      std::string v;
      uint64_t n = 0;
      if (!once(out_.pids_limit.has_value(), name) || !value(name, "N", v)) return false;
      if (!parse_u64(v, n) || n == 0)
        return fail("sbx run: --pids-limit: " + quote(v) + " is not a positive whole number");
      out_.pids_limit = n;
      return true;
    }
    if (name == "--cpus") {
      std::string v;
      double c = 0;
      if (!once(out_.cpus.has_value(), name) || !value(name, "FLOAT", v)) return false;
      if (!parse_cpus(v, c))
        return fail("sbx run: --cpus: " + quote(v) +
                    " is not a number of CPUs between 0.01 and 1024 (e.g. 0.5)");
      out_.cpus = c;
      return true;
    }
    if (name == "--cpu-time") return seconds_option(name, out_.cpu_time_ms, false);
    if (name == "--timeout") return seconds_option(name, out_.timeout_ms, false);
    if (name == "--kill-grace") return seconds_option(name, out_.kill_grace_ms, true);
    if (name == "--rlimit") {
      std::string v, why;
      RlimitOption r;
      if (!value(name, "NAME=SOFT[:HARD]", v)) return false;
      if (!parse_rlimit(v, r, why)) return fail("sbx run: --rlimit: " + why);
      for (const RlimitOption& o : out_.rlimits)
        if (o.resource == r.resource) return fail("sbx run: --rlimit: " + r.name + " given more than once");
      out_.rlimits.push_back(std::move(r));
      return true;
    }
    if (name == "--seccomp") {
      std::string v;
      if (!once(out_.seccomp.has_value(), name) || !value(name, "default|compute|none|FILE.json", v))
        return false;
      if (v.empty())
        return fail(
            "sbx run: --seccomp: the value must not be empty (default, compute, none or a FILE.json)");
      const bool json_suffix = v.size() > 5 && v.compare(v.size() - 5, 5, ".json") == 0;
      out_.seccomp = SeccompOption{v.find('/') != std::string::npos || json_suffix, v};
      return true;
    }
    if (name == "--cgroup-parent") {
      std::string v;
      if (!once(out_.cgroup_parent.has_value(), name) || !value(name, "PATH", v)) return false;
      if (v.empty()) return fail("sbx run: --cgroup-parent: the path must not be empty");
      out_.cgroup_parent = v;
      return true;
    }
    if (name == "--cap-add") {
      std::string v;
      if (!value(name, "CAP", v)) return false;
      if (v.empty()) return fail("sbx run: --cap-add: the capability name must not be empty");
      out_.cap_add.push_back(v);
      return true;
    }
    if (name == "--strict") return flag(name, out_.strict);
    if (name == "--no-landlock") return flag(name, out_.no_landlock);
    if (name == "--allow-loopback-tcp") return flag(name, out_.landlock_allow_tcp);
    if (name == "--report") return flag(name, out_.report);
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

  // A flag: no value, at most once.
  bool flag(const std::string& name, bool& out) {
    if (inline_value_) return fail("sbx run: " + name + " does not take a value");
    if (!once(out, name)) return false;
    out = true;
    return true;
  }

  bool size_option(const std::string& name, std::optional<uint64_t>& out) {
    std::string v;
    uint64_t n = 0;
    if (!once(out.has_value(), name) || !value(name, "SIZE", v)) return false;
    if (!parse_size(v, n))
      return fail(
          "sbx run: " + name + ": " + quote(v) +
          " is not a size (a positive number of bytes, optionally with a k, m or g suffix, e.g. 64m)");
    out = n;
    return true;
  }

  // SECONDS in decimal, to milliseconds. ALLOW_ZERO: 0 is meaningful.
  bool seconds_option(const std::string& name, std::optional<uint64_t>& out, bool allow_zero) {
    std::string v;
    uint64_t ms = 0;
    if (!once(out.has_value(), name) || !value(name, "SECONDS", v)) return false;
    if (!parse_seconds_ms(v, ms))
      return fail("sbx run: " + name + ": " + quote(v) + " is not a number of seconds (e.g. 5 or 1.5)");
    if (ms == 0 && !allow_zero)
      return fail("sbx run: " + name + ": " + quote(v) + " must be more than 0 seconds (omit " + name +
                  " for no limit)");
    out = ms;
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

bool parse_seconds_ms(std::string_view text, uint64_t& out_ms) {
  std::string_view ip, frac;
  if (!split_decimal(text, ip, frac)) return false;
  uint64_t secs = 0;
  if (!ip.empty() && !parse_u64(ip, secs)) return false;
  if (secs > std::numeric_limits<uint64_t>::max() / 1000 - 1) return false;
  uint64_t ms = secs * 1000;
  // Milliseconds from the first three fractional digits; any further
  // non-zero digit rounds up.
  uint64_t part = 0;
  for (size_t k = 0; k < 3; ++k)
    part = part * 10 + (k < frac.size() ? static_cast<uint64_t>(frac[k] - '0') : 0);
  for (size_t k = 3; k < frac.size(); ++k)
    if (frac[k] != '0') {
      ++part;
      break;
    }
  out_ms = ms + part;
  return true;
}

bool parse_cpus(std::string_view text, double& out) {
  std::string_view ip, frac;
  if (text.size() > 32 || !split_decimal(text, ip, frac)) return false;
  const std::string s(text);
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return false;
  if (!(v >= 0.01 && v <= 1024)) return false;  // also false for NaN
  out = v;
  return true;
}

bool parse_rlimit(std::string_view text, RlimitOption& out, std::string& error) {
  struct Resource {
    std::string_view name;
    int resource;
    bool bytes;  // SIZE values (k/m/g); else plain numbers
  };
  static constexpr Resource kResources[] = {
      {"nofile", SBX_RLIMIT_NOFILE, false},  {"fsize", SBX_RLIMIT_FSIZE, true},
      {"as", SBX_RLIMIT_AS, true},           {"cpu", SBX_RLIMIT_CPU, false},
      {"core", SBX_RLIMIT_CORE, true},       {"stack", SBX_RLIMIT_STACK, true},
      {"memlock", SBX_RLIMIT_MEMLOCK, true},
  };
  const auto eq = text.find('=');
  if (eq == std::string_view::npos) {
    error = quote(text) + " is not NAME=SOFT[:HARD] (e.g. nofile=256 or fsize=10m:20m)";
    return false;
  }
  std::string name = lower(text.substr(0, eq));
  if (name.rfind("rlimit_", 0) == 0) name = name.substr(7);
  if (name == "nproc") {
    error =
        "RLIMIT_NPROC is refused: it counts every process of the user on the whole host, not the box's; "
        "use --pids-limit N to cap the processes in the box";
    return false;
  }
  const Resource* res = nullptr;
  for (const Resource& r : kResources)
    if (name == r.name) res = &r;
  if (res == nullptr) {
    error = "unknown resource " + quote(text.substr(0, eq)) +
            " (expected nofile, fsize, as, cpu, core, stack or memlock)";
    return false;
  }
  out.resource = res->resource;
  out.name = "RLIMIT_" + std::string(res->name);
  for (char& c : out.name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));

  const std::string_view values = text.substr(eq + 1);
  const auto colon = values.find(':');
  const std::string_view soft_text = values.substr(0, colon);
  const std::string_view hard_text = colon == std::string_view::npos ? soft_text : values.substr(colon + 1);
  const auto parse_value = [&](std::string_view v, uint64_t& n) {
    const std::string l = lower(v);
    if (l == "unlimited" || l == "inf" || l == "infinity") {
      n = SBX_RLIM_INFINITY;
      return true;
    }
    const bool ok = res->bytes ? parse_size_or_zero(v, n) : parse_u64(v, n);
    if (ok && n == SBX_RLIM_INFINITY) return false;  // would silently mean "unlimited"
    if (ok) return true;
    error = out.name + ": " + quote(v) + " is not a limit (" +
            (res->bytes ? "bytes, optionally with a k, m or g suffix" : "a whole number") +
            ", or 'unlimited')";
    return false;
  };
  if (!parse_value(soft_text, out.soft) || !parse_value(hard_text, out.hard)) {
    if (error.empty())
      error = out.name + ": value out of range in " + quote(text) + " (use 'unlimited' for no limit)";
    return false;
  }
  if (out.soft > out.hard) {
    const auto show = [](uint64_t v) {
      return v == SBX_RLIM_INFINITY ? std::string("unlimited") : std::to_string(v);
    };
    error = out.name + ": the soft limit " + show(out.soft) + " is above the hard limit " + show(out.hard) +
            " in " + quote(text);
    return false;
  }
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
