// Import of Docker/OCI seccomp profile JSON (SPEC S2). Every problem is an
// SBX_E_INVALID whose message names the file and the JSON path of the field.
#include <fcntl.h>
#include <sbx/sbx.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "core/common/error.hpp"
#include "core/common/fd.hpp"
#include "core/seccomp/internal.hpp"

namespace sbx::seccomp {

using json = nlohmann::json;
using namespace detail;

namespace {

class Loader {
 public:
  Loader(std::string_view origin, const OciContext& ctx) : origin_(origin), ctx_(ctx) {}

  Policy load(std::string_view text) {
    if (text.size() > kMaxOciProfileBytes)
      fail_at("", "profile is " + std::to_string(text.size()) + " bytes; the limit is " +
                      std::to_string(kMaxOciProfileBytes >> 20) + " MiB");
    json doc;
    try {
      doc = json::parse(text.data(), text.data() + text.size());
    } catch (const json::parse_error& e) {
      std::string what = e.what();
      // "[json.exception.parse_error.101] parse error at line 1, column 2: ..."
      auto cut = what.find("] ");
      if (cut != std::string::npos) what = what.substr(cut + 2);
      fail_at("", "invalid JSON at byte " + std::to_string(e.byte) + ": " + what);
    }
    if (!doc.is_object()) fail_at("", "expected a JSON object at the top level, got " + type_of(doc));

    policy_.name = "oci:" + origin_;
    policy_.skip_unknown_syscalls = true;
    native_ = arch_name(native_arch());

    for (const auto& [key, value] : doc.items()) {
      if (key == "defaultAction" || key == "defaultErrnoRet" || key == "architectures" || key == "archMap" ||
          key == "syscalls" || key == "listenerMetadata" || key == "comment")
        continue;
      if (key == "flags") {
        load_flags(value);
      } else if (key == "listenerPath") {
        if (!value.is_string()) fail_at(key, "expected a string, got " + type_of(value));
        if (!value.get_ref<const std::string&>().empty())
          fail_at(key, "seccomp user notification (a listener agent) is not supported by sbx");
      } else {
        note("ignored unknown key '" + key + "'");
      }
    }

    if (!doc.contains("defaultAction"))
      fail_at("defaultAction", "missing (every profile needs a default action)");
    policy_.default_action = action(doc.at("defaultAction"), "defaultAction");
    if (doc.contains("defaultErrnoRet")) {
      if (policy_.default_action != Action::kErrno)
        fail_at("defaultErrnoRet", "only valid with defaultAction SCMP_ACT_ERRNO");
      policy_.default_errno = static_cast<int>(uint_at(doc.at("defaultErrnoRet"), "defaultErrnoRet", 4095));
    } else if (policy_.default_action == Action::kErrno) {
      policy_.default_errno = EPERM;  // what runtimes use when the profile names none
    }

    if (doc.contains("architectures") && doc.contains("archMap"))
      fail_at("archMap", "'architectures' and 'archMap' are both given; use one");
    if (doc.contains("architectures")) load_architectures(doc.at("architectures"));
    if (doc.contains("archMap")) load_arch_map(doc.at("archMap"));

    if (doc.contains("syscalls")) {
      const json& calls = doc.at("syscalls");
      if (!calls.is_array()) fail_at("syscalls", "expected an array, got " + type_of(calls));
      for (size_t i = 0; i < calls.size(); ++i) load_entry(calls[i], "syscalls[" + std::to_string(i) + "]");
    }
    return std::move(policy_);
  }

 private:
  [[noreturn]] void fail_at(const std::string& path, const std::string& message) const {
    throw Error(SBX_E_INVALID, "seccomp", 0, origin_ + ": " + (path.empty() ? "" : path + ": ") + message);
  }

  void note(const std::string& text) { policy_.notes.push_back(origin_ + ": " + text); }

  static std::string type_of(const json& j) {
    if (j.is_number_float()) return "a fractional number";
    if (j.is_number_integer() && !j.is_number_unsigned()) return "a negative number";
    return j.type_name();
  }

  const std::string& string_at(const json& j, const std::string& path) const {
    if (!j.is_string()) fail_at(path, "expected a string, got " + type_of(j));
    return j.get_ref<const std::string&>();
  }

  uint64_t uint_at(const json& j, const std::string& path, uint64_t max) const {
    if (!j.is_number_unsigned()) fail_at(path, "expected an unsigned integer, got " + type_of(j));
    uint64_t v = j.get<uint64_t>();
    if (v > max) fail_at(path, std::to_string(v) + " is out of range (0.." + std::to_string(max) + ")");
    return v;
  }

  const json& array_at(const json& j, const std::string& path) const {
    if (!j.is_array()) fail_at(path, "expected an array, got " + type_of(j));
    return j;
  }

  Action action(const json& j, const std::string& path) const {
    const std::string& s = string_at(j, path);
    if (s == "SCMP_ACT_ALLOW") return Action::kAllow;
    if (s == "SCMP_ACT_ERRNO") return Action::kErrno;
    // libseccomp's SCMP_ACT_KILL is the thread-killing action.
    if (s == "SCMP_ACT_KILL" || s == "SCMP_ACT_KILL_THREAD") return Action::kKillThread;
    if (s == "SCMP_ACT_KILL_PROCESS") return Action::kKillProcess;
    if (s == "SCMP_ACT_TRAP") return Action::kTrap;
    if (s == "SCMP_ACT_LOG") return Action::kLog;
    if (s == "SCMP_ACT_TRACE" || s == "SCMP_ACT_NOTIFY")
      fail_at(path, s + " is not supported by sbx (it needs a tracer or a notification agent)");
    fail_at(path, "unknown action '" + s +
                      "' (known: SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD, "
                      "SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_LOG)");
  }

  // "SCMP_ARCH_X86_64" -> "x86_64" (libseccomp's spelling).
  std::string arch_at(const json& j, const std::string& path) const {
    const std::string& s = string_at(j, path);
    static constexpr std::string_view kPrefix = "SCMP_ARCH_";
    if (s.size() <= kPrefix.size() || s.compare(0, kPrefix.size(), kPrefix) != 0)
      fail_at(path, "unknown architecture '" + s + "' (expected SCMP_ARCH_<NAME>, e.g. SCMP_ARCH_X86_64)");
    std::string name = s.substr(kPrefix.size());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return name;
  }

  // The ABIs a process on this machine can use: the native one and its
  // compat ABIs. Rules for other architectures could never match here.
  bool runnable(const std::string& arch) const {
    if (arch == native_) return true;
    if (native_ == "x86_64") return arch == "x86" || arch == "x32";
    if (native_ == "aarch64") return arch == "arm";
    return false;
  }

  void use_arch(const std::string& arch, std::vector<std::string>& ignored) {
    if (!runnable(arch) || arch_token(arch) == 0) {
      ignored.push_back(arch);
      return;
    }
    if (arch == native_) return;
    if (std::find(policy_.extra_arches.begin(), policy_.extra_arches.end(), arch) ==
        policy_.extra_arches.end())
      policy_.extra_arches.push_back(arch);
  }

  void note_ignored_arches(const std::string& path, const std::vector<std::string>& ignored) {
    if (ignored.empty()) return;
    std::string list;
    for (const auto& a : ignored) list += (list.empty() ? "" : ", ") + a;
    note(path + ": ignored " + list + " (not runnable on " + native_ + ")");
  }

  void load_architectures(const json& j) {
    array_at(j, "architectures");
    std::vector<std::string> ignored;
    for (size_t i = 0; i < j.size(); ++i)
      use_arch(arch_at(j[i], "architectures[" + std::to_string(i) + "]"), ignored);
    note_ignored_arches("architectures", ignored);
  }

  void load_arch_map(const json& j) {
    array_at(j, "archMap");
    bool found = false;
    for (size_t i = 0; i < j.size(); ++i) {
      std::string path = "archMap[" + std::to_string(i) + "]";
      const json& e = j[i];
      if (!e.is_object()) fail_at(path, "expected an object, got " + type_of(e));
      if (!e.contains("architecture")) fail_at(path + ".architecture", "missing");
      std::string arch = arch_at(e.at("architecture"), path + ".architecture");
      std::vector<std::string> subs;
      if (e.contains("subArchitectures")) {
        const json& s = array_at(e.at("subArchitectures"), path + ".subArchitectures");
        for (size_t k = 0; k < s.size(); ++k)
          subs.push_back(arch_at(s[k], path + ".subArchitectures[" + std::to_string(k) + "]"));
      }
      // Only the entry for the architecture we run on matters; the others
      // describe other machines.
      if (arch != native_) continue;
      found = true;
      std::vector<std::string> ignored;
      for (const auto& s : subs) use_arch(s, ignored);
      note_ignored_arches(path + ".subArchitectures", ignored);
    }
    if (!found) note("archMap: no entry for " + native_ + "; only the native ABI is allowed");
  }

  void load_flags(const json& j) {
    array_at(j, "flags");
    for (size_t i = 0; i < j.size(); ++i) {
      std::string path = "flags[" + std::to_string(i) + "]";
      const std::string& f = string_at(j[i], path);
      if (f == "SECCOMP_FILTER_FLAG_TSYNC") {
        note(path + ": " + f + " ignored (the filter is installed before exec, when there is one thread)");
      } else if (f == "SECCOMP_FILTER_FLAG_LOG") {
        note(path + ": " + f + " ignored (sbx reports violations itself)");
      } else if (f == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") {
        note(path + ": " + f + " ignored (sbx keeps the speculative store bypass mitigation)");
      } else if (f == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") {
        note(path + ": " + f + " ignored (only meaningful with user notification)");
      } else {
        fail_at(path, "unknown flag '" + f + "'");
      }
    }
  }

  // "x86_64" for the spellings profiles use in includes/excludes.arches:
  // Go's names ("amd64"), libseccomp's, and SCMP_ARCH_*.
  static std::string canonical_arch(std::string s) {
    static constexpr std::string_view kPrefix = "SCMP_ARCH_";
    if (s.compare(0, kPrefix.size(), kPrefix) == 0) s = s.substr(kPrefix.size());
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (s == "amd64") return "x86_64";
    if (s == "386" || s == "i386" || s == "i686") return "x86";
    if (s == "arm64") return "aarch64";
    if (s == "loong64") return "loongarch64";
    return s;
  }

  static std::string canonical_cap(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (s.compare(0, 4, "CAP_") != 0) s = "CAP_" + s;
    return s;
  }

  bool has_cap(const std::string& cap) const {
    std::string want = canonical_cap(cap);
    return std::any_of(ctx_.capabilities.begin(), ctx_.capabilities.end(),
                       [&](const std::string& c) { return canonical_cap(c) == want; });
  }

  // "6.18.44-fc" -> {6, 18, 44}; false if it does not start with "N.N".
  static bool parse_version(const std::string& s, unsigned v[3]) {
    v[0] = v[1] = v[2] = 0;
    size_t pos = 0;
    for (int part = 0; part < 3; ++part) {
      if (pos >= s.size() || !std::isdigit(static_cast<unsigned char>(s[pos]))) return part >= 2;
      unsigned long n = 0;
      while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
        n = n * 10 + static_cast<unsigned long>(s[pos++] - '0');
        if (n > 100000) return false;
      }
      v[part] = static_cast<unsigned>(n);
      if (pos < s.size() && s[pos] == '.') {
        ++pos;
      } else {
        return part >= 1;
      }
    }
    return true;
  }

  // Whether the running kernel is at least the version in J.
  bool kernel_at_least(const json& j, const std::string& path) {
    const std::string& want = string_at(j, path);
    unsigned w[3], k[3];
    if (!parse_version(want, w) || want.find_first_not_of("0123456789.") != std::string::npos)
      fail_at(path, "invalid kernel version '" + want + "' (expected e.g. \"5.4\")");
    if (kernel_.empty()) {
      kernel_ = ctx_.kernel_release;
      if (kernel_.empty()) {
        struct utsname u;
        if (uname(&u) == 0) kernel_ = u.release;
      }
    }
    if (!parse_version(kernel_, k)) return false;  // unknown kernel: assume too old
    return std::lexicographical_compare(w, w + 3, k, k + 3) || std::equal(w, w + 3, k);
  }

  // Evaluates an includes/excludes object: whether every condition in it
  // holds (includes) or any does (excludes).
  bool filter_matches(const json& f, const std::string& path, bool include) {
    if (!f.is_object()) fail_at(path, "expected an object, got " + type_of(f));
    bool all = true, any = false;
    for (const auto& [key, value] : f.items()) {
      std::string p = path + "." + key;
      bool hit;
      if (key == "arches") {
        array_at(value, p);
        // includes: the native architecture is listed; excludes: likewise.
        hit = false;
        for (size_t i = 0; i < value.size(); ++i)
          hit = hit || canonical_arch(string_at(value[i], p + "[" + std::to_string(i) + "]")) == native_;
        if (value.empty()) continue;
      } else if (key == "caps") {
        array_at(value, p);
        // includes: every listed capability is granted; excludes: any is.
        bool every = true, some = false;
        for (size_t i = 0; i < value.size(); ++i) {
          bool has = has_cap(string_at(value[i], p + "[" + std::to_string(i) + "]"));
          every = every && has;
          some = some || has;
        }
        if (value.empty()) continue;
        hit = include ? every : some;
      } else if (key == "minKernel") {
        hit = kernel_at_least(value, p);
      } else {
        note(p + ": ignored unknown key");
        continue;
      }
      all = all && hit;
      any = any || hit;
    }
    return include ? all : any;
  }

  ArgCmp load_arg(const json& a, const std::string& path) const {
    if (!a.is_object()) fail_at(path, "expected an object, got " + type_of(a));
    // A misspelt field here would silently widen a condition, so unknown
    // keys are errors (unlike elsewhere, where they are forward-compatible).
    for (const auto& [key, value] : a.items()) {
      (void)value;
      if (key != "index" && key != "value" && key != "valueTwo" && key != "op")
        fail_at(path + "." + key, "unknown key (known: index, value, valueTwo, op)");
    }
    if (!a.contains("index")) fail_at(path + ".index", "missing");
    if (!a.contains("op")) fail_at(path + ".op", "missing");
    if (!a.contains("value")) fail_at(path + ".value", "missing");
    ArgCmp c{};
    c.index = static_cast<unsigned>(uint_at(a.at("index"), path + ".index", 5));
    c.value = uint_at(a.at("value"), path + ".value", UINT64_MAX);
    c.value2 = a.contains("valueTwo") ? uint_at(a.at("valueTwo"), path + ".valueTwo", UINT64_MAX) : 0;
    const std::string& op = string_at(a.at("op"), path + ".op");
    if (op == "SCMP_CMP_NE") {
      c.op = ArgCmp::kNe;
    } else if (op == "SCMP_CMP_LT") {
      c.op = ArgCmp::kLt;
    } else if (op == "SCMP_CMP_LE") {
      c.op = ArgCmp::kLe;
    } else if (op == "SCMP_CMP_EQ") {
      c.op = ArgCmp::kEq;
    } else if (op == "SCMP_CMP_GE") {
      c.op = ArgCmp::kGe;
    } else if (op == "SCMP_CMP_GT") {
      c.op = ArgCmp::kGt;
    } else if (op == "SCMP_CMP_MASKED_EQ") {
      c.op = ArgCmp::kMaskedEq;
    } else {
      fail_at(path + ".op", "unknown operator '" + op + "'");
    }
    return c;
  }

  void load_entry(const json& e, const std::string& path) {
    if (!e.is_object()) fail_at(path, "expected an object, got " + type_of(e));
    for (const auto& [key, value] : e.items()) {
      (void)value;
      if (key != "names" && key != "name" && key != "action" && key != "errnoRet" && key != "args" &&
          key != "includes" && key != "excludes" && key != "comment")
        note(path + ": ignored unknown key '" + key + "'");
    }

    std::vector<std::string> names;
    if (e.contains("names") && e.contains("name"))
      fail_at(path, "'name' and 'names' are both given; use one");
    if (e.contains("names")) {
      const json& n = array_at(e.at("names"), path + ".names");
      for (size_t i = 0; i < n.size(); ++i) {
        std::string p = path + ".names[" + std::to_string(i) + "]";
        names.push_back(string_at(n[i], p));
        if (names.back().empty()) fail_at(p, "empty syscall name");
      }
    } else if (e.contains("name")) {
      names.push_back(string_at(e.at("name"), path + ".name"));
      if (names.back().empty()) fail_at(path + ".name", "empty syscall name");
    } else {
      fail_at(path, "no 'names'");
    }

    if (!e.contains("action")) fail_at(path + ".action", "missing");
    Rule proto{};
    proto.action = action(e.at("action"), path + ".action");
    if (e.contains("errnoRet")) {
      if (proto.action != Action::kErrno)
        fail_at(path + ".errnoRet", "only valid with action SCMP_ACT_ERRNO");
      proto.errno_value = static_cast<int>(uint_at(e.at("errnoRet"), path + ".errnoRet", 4095));
    } else if (proto.action == Action::kErrno) {
      proto.errno_value = EPERM;
    }
    if (e.contains("args")) {
      const json& args = array_at(e.at("args"), path + ".args");
      if (args.size() > 6) fail_at(path + ".args", std::to_string(args.size()) + " conditions (at most 6)");
      unsigned seen = 0;
      for (size_t i = 0; i < args.size(); ++i) {
        std::string p = path + ".args[" + std::to_string(i) + "]";
        proto.args.push_back(load_arg(args[i], p));
        unsigned bit = 1u << proto.args.back().index;
        if (seen & bit)
          fail_at(p + ".index", "argument " + std::to_string(proto.args.back().index) +
                                    " is compared twice in one entry (libseccomp allows one comparison per "
                                    "argument; use separate entries)");
        seen |= bit;
      }
    }

    // Evaluate includes/excludes after validating the whole entry, so that a
    // malformed entry is reported even when it would not apply here.
    bool applies = true;
    if (e.contains("includes"))
      applies = filter_matches(e.at("includes"), path + ".includes", true) && applies;
    if (e.contains("excludes"))
      applies = !filter_matches(e.at("excludes"), path + ".excludes", false) && applies;
    if (!applies) return;

    proto.origin = origin_ + ": " + path;
    for (auto& n : names) {
      Rule r = proto;
      r.syscall = std::move(n);
      policy_.rules.push_back(std::move(r));
    }
  }

  std::string origin_;
  const OciContext& ctx_;
  Policy policy_;
  std::string native_;
  std::string kernel_;
};

}  // namespace

Policy load_oci_profile(std::string_view json_text, const OciContext& ctx, std::string_view origin) {
  return Loader(origin, ctx).load(json_text);
}

Policy load_oci_profile_file(const std::string& path, const OciContext& ctx) {
  auto fail = [&](int e, const std::string& what) -> void {
    throw Error(SBX_E_INVALID, "seccomp", e, "seccomp profile '" + path + "': " + what);
  };
  // O_NONBLOCK: a FIFO must not hang the caller; it is refused below.
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) fail(errno, errno_text(errno));
  struct stat st;
  if (fstat(fd.get(), &st) != 0) fail(errno, errno_text(errno));
  if (!S_ISREG(st.st_mode)) fail(0, "not a regular file");
  if (static_cast<uint64_t>(st.st_size) > kMaxOciProfileBytes)
    fail(EFBIG, "is " + std::to_string(st.st_size) + " bytes; the limit is " +
                    std::to_string(kMaxOciProfileBytes >> 20) + " MiB");
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(errno, errno_text(errno));
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    // The file may grow after fstat.
    if (text.size() > kMaxOciProfileBytes)
      fail(EFBIG, "is larger than " + std::to_string(kMaxOciProfileBytes >> 20) + " MiB");
  }
  return load_oci_profile(text, ctx, path);
}

}  // namespace sbx::seccomp
