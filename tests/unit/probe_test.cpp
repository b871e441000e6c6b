// Capability probe (I5): the entries, their JSON form and the C API.
#include "core/probe/probe.hpp"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sbx/sbx.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// ---- a strict little JSON reader: the probe's JSON must be real JSON, so
// the test parses it rather than grepping it.

struct JVal {
  enum Kind { kNull, kBool, kNum, kStr, kArr, kObj } kind = kNull;
  bool b = false;
  double num = 0;
  std::string str;
  std::vector<JVal> items;        // kArr, or the values of kObj
  std::vector<std::string> keys;  // kObj

  const JVal* get(const std::string& k) const {
    for (size_t i = 0; i < keys.size(); ++i)
      if (keys[i] == k) return &items[i];
    return nullptr;
  }
};

class JsonParser {
 public:
  explicit JsonParser(const std::string& s) : s_(s) {}

  // Throws std::runtime_error on anything that is not exactly one JSON value.
  JVal parse() {
    JVal v = value();
    ws();
    if (i_ != s_.size()) fail("trailing characters");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error(what + " at offset " + std::to_string(i_));
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
  }
  bool eat(char c) {
    ws();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }
  bool word(const char* w) {
    size_t n = std::char_traits<char>::length(w);
    if (s_.compare(i_, n, w) != 0) return false;
    i_ += n;
    return true;
  }
  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  static void put_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  std::string string() {
    expect('"');
    std::string out;
    for (;;) {
      if (i_ >= s_.size()) fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(s_[i_++]);
      if (c == '"') return out;
      if (c < 0x20) fail("raw control character in string");
      if (c != '\\') {
        out += static_cast<char>(c);
        continue;
      }
      if (i_ >= s_.size()) fail("dangling backslash");
      char e = s_[i_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          if (i_ + 4 > s_.size()) fail("short \\u escape");
          unsigned cp = 0;
          for (int k = 0; k < 4; ++k) {
            int h = hex(s_[i_++]);
            if (h < 0) fail("bad hex digit");
            cp = cp * 16 + static_cast<unsigned>(h);
          }
          put_utf8(out, cp);
          break;
        }
        default:
          fail(std::string("bad escape \\") + e);
      }
    }
  }
  JVal value() {
    ws();
    if (i_ >= s_.size()) fail("unexpected end");
    JVal v;
    char c = s_[i_];
    if (c == '{') {
      ++i_;
      v.kind = JVal::kObj;
      if (eat('}')) return v;
      do {
        ws();
        v.keys.push_back(string());
        expect(':');
        v.items.push_back(value());
      } while (eat(','));
      expect('}');
    } else if (c == '[') {
      ++i_;
      v.kind = JVal::kArr;
      if (eat(']')) return v;
      do v.items.push_back(value());
      while (eat(','));
      expect(']');
    } else if (c == '"') {
      v.kind = JVal::kStr;
      v.str = string();
    } else if (word("true")) {
      v.kind = JVal::kBool;
      v.b = true;
    } else if (word("false")) {
      v.kind = JVal::kBool;
    } else if (word("null")) {
      v.kind = JVal::kNull;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      size_t start = i_;
      if (s_[i_] == '-') ++i_;
      while (i_ < s_.size() && ((s_[i_] >= '0' && s_[i_] <= '9') || s_[i_] == '.' || s_[i_] == 'e' ||
                                s_[i_] == 'E' || s_[i_] == '+' || s_[i_] == '-'))
        ++i_;
      v.kind = JVal::kNum;
      v.num = std::stod(s_.substr(start, i_ - start));
    } else {
      fail(std::string("unexpected character '") + c + "'");
    }
    return v;
  }

  const std::string& s_;
  size_t i_ = 0;
};

JVal parse_json(const std::string& s) {
  return JsonParser(s).parse();
}

const sbx::ProbeEntry* find(const std::vector<sbx::ProbeEntry>& v, const std::string& name) {
  for (const auto& e : v)
    if (e.name == name) return &e;
  return nullptr;
}

std::set<std::string> open_fds() {
  std::set<std::string> out;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.insert(n);
  }
  closedir(d);
  return out;
}

// Children of every thread of this process (CONFIG_PROC_CHILDREN); empty
// when the kernel does not expose them.
std::multiset<std::string> child_pids() {
  std::multiset<std::string> out;
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    std::string t = e->d_name;
    if (t == "." || t == "..") continue;
    std::ifstream f("/proc/self/task/" + t + "/children");
    std::string pid;
    while (f >> pid) out.insert(pid);
  }
  closedir(d);
  return out;
}

// ---------------------------------------------------------------- entries

TEST(Probe, EntriesAreWellFormed) {
  const auto entries = sbx::run_probe();
  ASSERT_FALSE(entries.empty());
  std::set<std::string> names;
  for (const auto& e : entries) {
    EXPECT_FALSE(e.name.empty());
    EXPECT_TRUE(names.insert(e.name).second) << "duplicate entry " << e.name;
    EXPECT_FALSE(e.detail.empty()) << e.name;
    if (e.supported)
      EXPECT_TRUE(e.fix.empty()) << e.name << " is supported but has a fix: " << e.fix;
    else
      EXPECT_FALSE(e.fix.empty()) << e.name << " is unsupported without a fix hint (" << e.detail << ")";
  }
}

TEST(Probe, HasEveryDocumentedEntry) {
  const auto entries = sbx::run_probe();
  for (const char* n : {"identity",
                        "namespace.user",
                        "namespace.pid",
                        "namespace.mount",
                        "namespace.net",
                        "namespace.uts",
                        "namespace.ipc",
                        "namespace.cgroup",
                        "clone3",
                        "pidfd",
                        "close_range",
                        "mount_setattr",
                        "seccomp",
                        "seccomp.filter",
                        "no_new_privs",
                        "landlock",
                        "cgroup.layout",
                        "cgroup.v2.delegation",
                        "cgroup.v1.memory",
                        "cgroup.v1.pids",
                        "cgroup.v1.cpu",
                        "cgroup.v1.cpuacct",
                        "cgroup.v1.freezer",
                        "cgroup.box_limits"})
    EXPECT_NE(find(entries, n), nullptr) << "missing entry " << n;
}

// MACHINE.md: every namespace type works here, root or not (non-root inside
// a user namespace), and so do the process primitives.
TEST(Probe, ThisMachineSupportsTheCoreLayers) {
  const auto entries = sbx::run_probe();
  for (const char* n : {"namespace.user", "namespace.pid", "namespace.mount", "namespace.net",
                        "namespace.uts", "namespace.ipc", "namespace.cgroup", "clone3", "pidfd", "seccomp",
                        "seccomp.filter", "no_new_privs", "identity", "cgroup.layout"}) {
    const auto* e = find(entries, n);
    ASSERT_NE(e, nullptr) << n;
    EXPECT_TRUE(e->supported) << n << ": " << e->detail << " / fix: " << e->fix;
  }
  const auto* id = find(entries, "identity");
  ASSERT_NE(id, nullptr);
  EXPECT_NE(id->detail.find(geteuid() == 0 ? "root" : "rootless"), std::string::npos) << id->detail;
}

TEST(Probe, LandlockReportsAnAbi) {
  const auto entries = sbx::run_probe();
  const auto* e = find(entries, "landlock");
  ASSERT_NE(e, nullptr);
  if (!e->supported) GTEST_SKIP() << "landlock unavailable here: " << e->detail;
  EXPECT_EQ(e->detail.rfind("ABI ", 0), 0u) << e->detail;
}

TEST(Probe, CgroupLayoutNamesAKind) {
  const auto entries = sbx::run_probe();
  const auto* e = find(entries, "cgroup.layout");
  ASSERT_NE(e, nullptr);
  if (!e->supported) GTEST_SKIP() << e->detail;
  const bool known = e->detail.rfind("hybrid:", 0) == 0 || e->detail.rfind("v1-only:", 0) == 0 ||
                     e->detail.rfind("v2-only:", 0) == 0;
  EXPECT_TRUE(known) << e->detail;
}

TEST(Probe, LeavesNoFdsOrChildrenBehind) {
  (void)sbx::run_probe();  // warm up lazily opened library state
  const auto fds_before = open_fds();
  const auto kids_before = child_pids();
  for (int i = 0; i < 3; ++i) (void)sbx::run_probe();
  EXPECT_EQ(open_fds(), fds_before);
  EXPECT_EQ(child_pids(), kids_before);
}

// ------------------------------------------------------------------- JSON

TEST(ProbeJson, EscapeQuotesBackslashesAndControls) {
  EXPECT_EQ(sbx::json_escape("plain"), "plain");
  EXPECT_EQ(sbx::json_escape(""), "");
  EXPECT_EQ(sbx::json_escape("a\"b"), "a\\\"b");
  EXPECT_EQ(sbx::json_escape("a\\b"), "a\\\\b");
  EXPECT_EQ(sbx::json_escape("\n\r\t\b\f"), "\\n\\r\\t\\b\\f");
  EXPECT_EQ(sbx::json_escape("\x01\x1f"), "\\u0001\\u001f");
  EXPECT_EQ(sbx::json_escape(std::string_view("a\0b", 3)), "a\\u0000b");
  EXPECT_EQ(sbx::json_escape("/ and \x7f"), "/ and \x7f");
}

TEST(ProbeJson, EscapeKeepsUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(sbx::json_escape("\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  EXPECT_EQ(sbx::json_escape("\x80"), "\\ufffd");                        // lone continuation
  EXPECT_EQ(sbx::json_escape("\xc0\xaf"), "\\ufffd\\ufffd");             // overlong '/'
  EXPECT_EQ(sbx::json_escape("\xe2\x82"), "\\ufffd\\ufffd");             // truncated
  EXPECT_EQ(sbx::json_escape("\xed\xa0\x80"), "\\ufffd\\ufffd\\ufffd");  // surrogate
  EXPECT_EQ(sbx::json_escape("\xf5\x80\x80\x80x"), "\\ufffd\\ufffd\\ufffd\\ufffdx");
}

TEST(ProbeJson, EscapedStringsRoundTripThroughAParser) {
  const std::string nasty = std::string("q\"b\\s/\n\t\x01 end") + '\0' + "z";
  const JVal v = parse_json("\"" + sbx::json_escape(nasty) + "\"");
  ASSERT_EQ(v.kind, JVal::kStr);
  EXPECT_EQ(v.str, nasty);
}

TEST(ProbeJson, DocumentMatchesTheEntries) {
  const auto entries = sbx::run_probe();
  const std::string json = sbx::probe_to_json(entries);
  JVal doc;
  ASSERT_NO_THROW(doc = parse_json(json)) << json;
  ASSERT_EQ(doc.kind, JVal::kObj);

  const JVal* rootless = doc.get("rootless");
  ASSERT_NE(rootless, nullptr);
  ASSERT_EQ(rootless->kind, JVal::kBool);
  EXPECT_EQ(rootless->b, geteuid() != 0);
  const JVal* euid = doc.get("euid");
  ASSERT_NE(euid, nullptr);
  ASSERT_EQ(euid->kind, JVal::kNum);
  EXPECT_EQ(static_cast<uid_t>(euid->num), geteuid());
  const JVal* kernel = doc.get("kernel");
  ASSERT_NE(kernel, nullptr);
  struct utsname u {};
  ASSERT_EQ(uname(&u), 0);
  EXPECT_EQ(kernel->str, u.release);

  const JVal* arr = doc.get("entries");
  ASSERT_NE(arr, nullptr);
  ASSERT_EQ(arr->kind, JVal::kArr);
  ASSERT_EQ(arr->items.size(), entries.size());
  size_t supported = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const JVal& e = arr->items[i];
    ASSERT_EQ(e.kind, JVal::kObj);
    ASSERT_NE(e.get("name"), nullptr);
    ASSERT_NE(e.get("supported"), nullptr);
    ASSERT_NE(e.get("detail"), nullptr);
    ASSERT_NE(e.get("fix"), nullptr);
    EXPECT_EQ(e.get("name")->str, entries[i].name);
    EXPECT_EQ(e.get("supported")->b, entries[i].supported);
    EXPECT_EQ(e.get("detail")->str, entries[i].detail);
    EXPECT_EQ(e.get("fix")->str, entries[i].fix);
    if (entries[i].supported) ++supported;
  }

  const JVal* summary = doc.get("summary");
  ASSERT_NE(summary, nullptr);
  ASSERT_EQ(summary->kind, JVal::kObj);
  ASSERT_NE(summary->get("total"), nullptr);
  EXPECT_EQ(summary->get("total")->num, static_cast<double>(entries.size()));
  ASSERT_NE(summary->get("supported"), nullptr);
  EXPECT_EQ(summary->get("supported")->num, static_cast<double>(supported));
  const JVal* unsupported = summary->get("unsupported");
  ASSERT_NE(unsupported, nullptr);
  EXPECT_EQ(unsupported->items.size(), entries.size() - supported);
}

TEST(ProbeJson, HostileEntryTextStaysValidJson) {
  const std::vector<sbx::ProbeEntry> entries = {
      {"we\"ird\\name", false, "line1\nline2\t\x02 \xff", "run \"this\""},
      {"ok", true, "", ""},
  };
  JVal doc;
  ASSERT_NO_THROW(doc = parse_json(sbx::probe_to_json(entries)));
  const JVal* arr = doc.get("entries");
  ASSERT_NE(arr, nullptr);
  ASSERT_EQ(arr->items.size(), 2u);
  EXPECT_EQ(arr->items[0].get("name")->str, "we\"ird\\name");
  EXPECT_EQ(arr->items[0].get("detail")->str, "line1\nline2\t\x02 \xef\xbf\xbd");
  EXPECT_EQ(arr->items[0].get("fix")->str, "run \"this\"");
  EXPECT_EQ(doc.get("summary")->get("unsupported")->items.at(0).str, "we\"ird\\name");
}

TEST(ProbeJson, EmptyListIsValid) {
  JVal doc;
  ASSERT_NO_THROW(doc = parse_json(sbx::probe_to_json({})));
  ASSERT_NE(doc.get("entries"), nullptr);
  EXPECT_TRUE(doc.get("entries")->items.empty());
  EXPECT_EQ(doc.get("summary")->get("total")->num, 0.0);
}

// ------------------------------------------------------------------ C API

struct ProbeFree {
  void operator()(sbx_probe* p) const { sbx_probe_free(p); }
};
using ProbePtr = std::unique_ptr<sbx_probe, ProbeFree>;

ProbePtr run_c_probe() {
  sbx_probe* p = nullptr;
  sbx_error* err = nullptr;
  EXPECT_EQ(sbx_probe_run(&p, &err), SBX_OK);
  EXPECT_EQ(err, nullptr);
  return ProbePtr(p);
}

// ERR by reference: it is read only after the call in the first argument
// has stored into it (argument evaluation order is unspecified).
void expect_invalid(int rc, sbx_error*& err, const char* param) {
  EXPECT_EQ(rc, SBX_E_INVALID);
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(sbx_error_code(err), SBX_E_INVALID);
  EXPECT_NE(std::string(sbx_error_message(err)).find(param), std::string::npos) << sbx_error_message(err);
  sbx_error_free(err);
  err = nullptr;
}

TEST(ProbeCapi, RunEntriesAndJson) {
  ProbePtr p = run_c_probe();
  ASSERT_NE(p, nullptr);
  const size_t n = sbx_probe_count(p.get());
  ASSERT_GT(n, 0u);
  bool saw_user = false;
  for (size_t i = 0; i < n; ++i) {
    const char* name = nullptr;
    const char* detail = nullptr;
    const char* fix = nullptr;
    int supported = -1;
    // A stale pointer must be replaced by NULL on success.
    sbx_error* err = reinterpret_cast<sbx_error*>(static_cast<uintptr_t>(1));
    ASSERT_EQ(sbx_probe_entry(p.get(), i, &name, &supported, &detail, &fix, &err), SBX_OK);
    EXPECT_EQ(err, nullptr);
    ASSERT_NE(name, nullptr);
    ASSERT_NE(detail, nullptr);
    ASSERT_NE(fix, nullptr);
    EXPECT_TRUE(supported == 0 || supported == 1);
    if (supported == 0) {
      EXPECT_STRNE(fix, "") << name;
    }
    if (std::string(name) == "namespace.user") {
      saw_user = true;
      EXPECT_EQ(supported, 1) << detail;
    }
    // Every out pointer may be NULL.
    EXPECT_EQ(sbx_probe_entry(p.get(), i, nullptr, nullptr, nullptr, nullptr, nullptr), SBX_OK);
  }
  EXPECT_TRUE(saw_user);

  char* json = nullptr;
  sbx_error* err = nullptr;
  ASSERT_EQ(sbx_probe_json(p.get(), &json, &err), SBX_OK);
  EXPECT_EQ(err, nullptr);
  ASSERT_NE(json, nullptr);
  JVal doc;
  EXPECT_NO_THROW(doc = parse_json(json));
  ASSERT_NE(doc.get("entries"), nullptr);
  EXPECT_EQ(doc.get("entries")->items.size(), n);
  sbx_free(json);
}

TEST(ProbeCapi, NullArgumentsAreInvalid) {
  sbx_error* err = nullptr;
  expect_invalid(sbx_probe_run(nullptr, &err), err, "out");

  err = nullptr;
  const char* name = nullptr;
  expect_invalid(sbx_probe_entry(nullptr, 0, &name, nullptr, nullptr, nullptr, &err), err, "probe");

  ProbePtr p = run_c_probe();
  ASSERT_NE(p, nullptr);
  err = nullptr;
  expect_invalid(sbx_probe_json(p.get(), nullptr, &err), err, "out");

  err = nullptr;
  char* json = reinterpret_cast<char*>(static_cast<uintptr_t>(1));
  expect_invalid(sbx_probe_json(nullptr, &json, &err), err, "probe");
  EXPECT_EQ(json, nullptr);

  // A NULL err is allowed everywhere: the status alone reports the failure.
  EXPECT_EQ(sbx_probe_run(nullptr, nullptr), SBX_E_INVALID);
  EXPECT_EQ(sbx_probe_json(nullptr, nullptr, nullptr), SBX_E_INVALID);
  EXPECT_EQ(sbx_probe_count(nullptr), 0u);
  sbx_probe_free(nullptr);
}

TEST(ProbeCapi, IndexOutOfRangeIsInvalid) {
  ProbePtr p = run_c_probe();
  ASSERT_NE(p, nullptr);
  const size_t n = sbx_probe_count(p.get());
  for (size_t i : {n, n + 1, static_cast<size_t>(-1)}) {
    sbx_error* err = nullptr;
    const char* name = "untouched";
    int rc = sbx_probe_entry(p.get(), i, &name, nullptr, nullptr, nullptr, &err);
    EXPECT_STREQ(name, "untouched");
    expect_invalid(rc, err, "index");
  }
  EXPECT_EQ(sbx_probe_entry(p.get(), n, nullptr, nullptr, nullptr, nullptr, nullptr), SBX_E_INVALID);
}

}  // namespace

TEST(Probe, BoxLimitsEntryTriesARealBoxCgroup) {
  auto entries = sbx::run_probe();
  const sbx::ProbeEntry* e = nullptr;
  for (const auto& x : entries)
    if (x.name == "cgroup.box_limits") e = &x;
  ASSERT_NE(e, nullptr);
  if (e->supported) {
    EXPECT_NE(e->detail.find("memory.max"), std::string::npos) << e->detail;
  } else {
    EXPECT_FALSE(e->fix.empty());
    EXPECT_NE(e->detail.find("not enforced"), std::string::npos) << e->detail;
  }
  // It created and removed a real cgroup: nothing named for this probe stays.
  const std::string probe_dir = "sbx-probe-" + std::to_string(getpid());
  for (const char* c : {"memory", "pids", "cpu", "unified"}) {
    struct stat st;
    EXPECT_NE(stat((std::string("/sys/fs/cgroup/") + c + "/sbx/" + probe_dir).c_str(), &st), 0) << c;
  }
}
