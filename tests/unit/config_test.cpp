// Validation of user input in the core (no boxes are started here; the
// integration suite proves the same rules end to end).
#include "core/config/config.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "core/common/error.hpp"
#include "core/common/util.hpp"
#include "core/mounts/mount_plan.hpp"

namespace sbx {
namespace {

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(BoxPath, NormalisesSlashes) {
  EXPECT_EQ(normalize_box_path("/a//b/", "x"), "/a/b");
  EXPECT_EQ(normalize_box_path("/", "x"), "/");
  EXPECT_EQ(normalize_box_path("///", "x"), "/");
}

TEST(BoxPath, RefusesRelativeDotDotAndNul) {
  EXPECT_NE(error_of([] { normalize_box_path("a/b", "target"); }).find("not an absolute path"),
            std::string::npos);
  EXPECT_NE(error_of([] { normalize_box_path("/a/../etc", "target"); }).find("'..'"), std::string::npos);
  EXPECT_NE(error_of([] { normalize_box_path("/a/./b", "target"); }).find("'.'"), std::string::npos);
  EXPECT_NE(error_of([] { normalize_box_path(std::string("/a\0b", 4), "target"); }).find("NUL"),
            std::string::npos);
  EXPECT_NE(error_of([] { normalize_box_path("", "target"); }).find("empty"), std::string::npos);
  EXPECT_NE(error_of([] { normalize_box_path("/" + std::string(5000, 'a'), "target"); }).find("PATH_MAX"),
            std::string::npos);
  EXPECT_NE(error_of([] { normalize_box_path("/" + std::string(300, 'a'), "target"); }).find("NAME_MAX"),
            std::string::npos);
}

TEST(BoxConfig, MessagesNameTheArgument) {
  BoxConfig c;
  EXPECT_NE(error_of([&] { c.add_bind("relative", "/x", 0); }).find("bind source"), std::string::npos);
  EXPECT_NE(error_of([&] { c.add_bind("/usr", "/", 0); }).find("bind target"), std::string::npos);
  EXPECT_NE(error_of([&] { c.add_bind("/usr", "/x", 0x80); }).find("flag"), std::string::npos);
  EXPECT_NE(error_of([&] { c.add_tmpfs("/tmp", 1ull << 60, 01777); }).find("absurd"), std::string::npos);
  EXPECT_NE(error_of([&] { c.add_tmpfs("/tmp", 0, 010000); }).find("mode"), std::string::npos);
  EXPECT_NE(error_of([&] { c.set_hostname("bad name"); }).find("hostname"), std::string::npos);
  EXPECT_NE(error_of([&] { c.set_hostname(std::string(65, 'a').c_str()); }).find("1 to 64"),
            std::string::npos);
  EXPECT_NE(error_of([&] { c.set_namespaces(1u << 9); }).find("unknown namespace bits"), std::string::npos);
  EXPECT_NE(error_of([&] { c.set_rootfs("rel"); }).find("rootfs"), std::string::npos);
  EXPECT_TRUE(c.mounts.empty());  // nothing half-added
}

TEST(BoxConfig, MountsNeedTheMountNamespace) {
  BoxConfig c;
  c.add_tmpfs("/tmp", 0, 01777);
  c.set_namespaces(SBX_NS_ALL & ~static_cast<unsigned>(SBX_NS_MOUNT));
  EXPECT_NE(error_of([&] { c.validate(); }).find("mount namespace"), std::string::npos);
}

TEST(ProcSpec, ArgvRules) {
  ProcSpec s;
  const char* none[] = {nullptr};
  EXPECT_NE(error_of([&] { s.set_argv(0, none); }).find("argc is 0"), std::string::npos);
  EXPECT_NE(error_of([&] { s.set_argv(1, none); }).find("argv[0] is NULL"), std::string::npos);
  const char* empty[] = {""};
  EXPECT_NE(error_of([&] { s.set_argv(1, empty); }).find("empty"), std::string::npos);
  EXPECT_NE(error_of([&] { s.validate(); }).find("no program"), std::string::npos);
  const char* ok[] = {"/bin/true", "x"};
  s.set_argv(2, ok);
  EXPECT_EQ(s.argv.size(), 2u);
}

TEST(ProcSpec, EnvironmentIsCleanWithExplicitAndAllowedValues) {
  setenv("SBX_UNIT_HOST_ONLY", "secret", 1);
  setenv("SBX_UNIT_ALLOWED", "allowed", 1);
  setenv("PATH", "/host/path", 1);
  ProcSpec s;
  s.set_env("A=1");
  s.set_env("A=2");  // replaces
  s.set_env("EMPTY=");
  s.allow("SBX_UNIT_ALLOWED");
  s.allow("SBX_UNIT_UNSET_VARIABLE");
  auto env = s.build_env();
  auto has = [&](const std::string& kv) { return std::find(env.begin(), env.end(), kv) != env.end(); };
  EXPECT_TRUE(has("A=2"));
  EXPECT_FALSE(has("A=1"));
  EXPECT_TRUE(has("EMPTY="));
  EXPECT_TRUE(has("SBX_UNIT_ALLOWED=allowed"));
  EXPECT_TRUE(has("HOME=/"));
  EXPECT_TRUE(has("PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"));
  for (auto& kv : env) EXPECT_EQ(kv.find("SBX_UNIT_HOST_ONLY"), std::string::npos) << kv;
  for (auto& kv : env) EXPECT_EQ(kv.find("SBX_UNIT_UNSET_VARIABLE"), std::string::npos) << kv;

  // An explicit PATH wins over an allowed host PATH.
  ProcSpec t;
  t.set_env("PATH=/explicit");
  t.allow("PATH");
  auto env2 = t.build_env();
  EXPECT_NE(std::find(env2.begin(), env2.end(), "PATH=/explicit"), env2.end());

  EXPECT_NE(error_of([&] { s.set_env("NOEQUALS"); }).find("KEY=VALUE"), std::string::npos);
  EXPECT_NE(error_of([&] { s.set_env("=x"); }).find("empty variable name"), std::string::npos);
  EXPECT_NE(error_of([&] { s.allow("A=B"); }).find("not a variable name"), std::string::npos);
}

TEST(ProcSpec, StdioAndFds) {
  ProcSpec s;
  EXPECT_NE(error_of([&] { s.set_stdio(3, SBX_STDIO_NULL, nullptr, -1); }).find("stream 3"),
            std::string::npos);
  EXPECT_NE(error_of([&] { s.set_stdio(1, 42, nullptr, -1); }).find("unknown mode"), std::string::npos);
  EXPECT_NE(error_of([&] { s.set_stdio(1, SBX_STDIO_FILE, "rel", -1); }).find("absolute"), std::string::npos);
  EXPECT_NE(error_of([&] { s.set_stdio(1, SBX_STDIO_STDOUT, nullptr, -1); }).find("only valid for stderr"),
            std::string::npos);
  EXPECT_NE(error_of([&] { s.set_stdio(1, SBX_STDIO_FD, nullptr, 999); }).find("not open"),
            std::string::npos);
  EXPECT_NE(error_of([&] { s.preserve(2); }).find("stdio"), std::string::npos);
  EXPECT_NE(error_of([&] { s.preserve(987); }).find("not open"), std::string::npos);
  int fd = open("/dev/null", O_RDONLY);
  ASSERT_GE(fd, 3);
  s.preserve(fd);
  s.preserve(fd);  // idempotent
  EXPECT_EQ(s.preserve_fds.size(), 1u);
  close(fd);
  const char* argv[] = {"/bin/true"};
  s.set_argv(1, argv);
  EXPECT_NE(error_of([&] { s.validate(); }).find("closed after it was added"), std::string::npos);
  EXPECT_NE(error_of([&] { s.set_user(UINT32_MAX, 1); }).find("reserved"), std::string::npos);
}

TEST(MountPlan, DefaultRootMirrorsHostAndEndsReadOnly) {
  BoxConfig c;
  c.add_tmpfs("/tmp", 1 << 20, 01777);
  ResolvedConfig r = resolve_config(c);
  MountPlan p = build_mount_plan({&r, 1000, 1000, true, true});
  ASSERT_EQ(p.ops.size(), p.describe.size());
  bool usr = false, proc = false, passwd = false, tmp = false, resolv = false;
  for (size_t i = 0; i < p.ops.size(); ++i) {
    const auto& op = p.ops[i];
    std::string t = op.target;
    EXPECT_TRUE(t.empty() || t[0] != '/') << "targets are relative to the new root: " << t;
    if (op.kind == launch::MountOp::kBind && t == "usr") usr = !op.writable;
    if (op.kind == launch::MountOp::kProc) proc = op.fresh_proc;
    if (op.kind == launch::MountOp::kWriteFile && t == "etc/passwd")
      passwd = std::string(op.data, op.data_len).find("sbx:x:1000:1000") != std::string::npos;
    if (op.kind == launch::MountOp::kTmpfs && t == "tmp")
      tmp = std::string(op.data).find("size=1048576") != std::string::npos;
    if (t == "etc/resolv.conf") resolv = true;
  }
  EXPECT_TRUE(usr);
  EXPECT_TRUE(proc);
  EXPECT_TRUE(passwd);
  EXPECT_TRUE(tmp);
  EXPECT_FALSE(resolv) << "own network namespace: the host resolver config is not exposed";
  EXPECT_EQ(p.ops.back().kind, launch::MountOp::kReadOnly);
}

TEST(MountPlan, MissingSourcesFailAtCreateUnlessOptional) {
  BoxConfig c;
  c.add_bind("/nonexistent/sbx-unit", "/x", 0);
  EXPECT_NE(error_of([&] { resolve_config(c); }).find("bind /nonexistent/sbx-unit -> /x"), std::string::npos);
  BoxConfig d;
  d.add_bind("/nonexistent/sbx-unit", "/x", SBX_BIND_OPTIONAL);
  ResolvedConfig r = resolve_config(d);
  ASSERT_EQ(r.mounts.size(), 1u);
  EXPECT_TRUE(r.mounts[0].missing);
}

TEST(MountPlan, SourcesAreCanonicalised) {
  char dir[] = "/tmp/sbx-unit-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string real = std::string(dir) + "/real";
  std::string link = std::string(dir) + "/link";
  ASSERT_EQ(mkdir(real.c_str(), 0755), 0);
  ASSERT_EQ(symlink("real", link.c_str()), 0);
  BoxConfig c;
  c.add_bind((link + "/../real/.").c_str(), "/data", SBX_BIND_RW);
  ResolvedConfig r = resolve_config(c);
  EXPECT_EQ(r.mounts[0].src, real);
  EXPECT_TRUE(r.mounts[0].src_is_dir);
  unlink(link.c_str());
  rmdir(real.c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace sbx
