// Bad input through the C API: NULL handles and out pointers for every
// function, malformed values for every setter, malformed exit records. Each
// must return SBX_E_INVALID (never crash), say what was wrong, and leave
// nothing behind (fds, child processes, mounts of the test process).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "box_helper.hpp"

using namespace sbx_it;

namespace {

// Checks RC == SBX_E_INVALID and that *ERR is a matching error whose
// message mentions every one of NAMES; frees it.
void expect_invalid(int rc, sbx_error*& err, std::initializer_list<const char*> names, const char* what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(rc, SBX_E_INVALID) << sbx_status_name(rc);
  ASSERT_NE(err, nullptr) << "no error object";
  EXPECT_EQ(sbx_error_code(err), SBX_E_INVALID);
  const std::string msg = sbx_error_message(err);
  EXPECT_FALSE(std::string(sbx_error_step(err)).empty());
  for (const char* n : names)
    EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' not named in: " << msg;
  sbx_error_free(err);
  err = nullptr;
}

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override { before_ = snapshot(); }
  void TearDown() override {
    Resources after = snapshot();
    EXPECT_EQ(after, before_) << "leaked: " << before_.describe() << " -> " << after.describe();
  }
  Resources before_;
};

ConfigPtr new_config() {
  sbx_config* c = nullptr;
  EXPECT_EQ(sbx_config_new(&c, nullptr), SBX_OK);
  return ConfigPtr(c);
}

SpecPtr new_spec(std::vector<const char*> argv = {"/bin/true"}) {
  sbx_spec* s = nullptr;
  EXPECT_EQ(sbx_spec_new(&s, nullptr), SBX_OK);
  EXPECT_EQ(sbx_spec_set_argv(s, argv.size(), argv.data(), nullptr), SBX_OK);
  return SpecPtr(s);
}

BoxPtr new_box() {
  ConfigPtr c = new_config();
  sbx_box* b = nullptr;
  EXPECT_EQ(sbx_box_create(&b, c.get(), nullptr), SBX_OK);
  return BoxPtr(b);
}

// An fd number that is certainly not open.
int unopened_fd() {
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int spare = fcntl(fd, F_DUPFD_CLOEXEC, 500);
  close(fd);
  close(spare);
  return spare;
}

}  // namespace

TEST_F(BadInput, NullHandlesAndOutPointers) {
  sbx_error* err = nullptr;
  ConfigPtr cfg = new_config();
  SpecPtr spec = new_spec();
  BoxPtr box = new_box();

  // Free functions and accessors accept NULL.
  sbx_config_free(nullptr);
  sbx_spec_free(nullptr);
  sbx_box_free(nullptr);
  sbx_proc_free(nullptr);
  sbx_error_free(nullptr);
  sbx_probe_free(nullptr);
  sbx_free(nullptr);
  EXPECT_EQ(sbx_error_code(nullptr), SBX_OK);
  EXPECT_EQ(sbx_error_errno(nullptr), 0);
  EXPECT_NE(sbx_error_step(nullptr), nullptr);
  EXPECT_NE(sbx_error_message(nullptr), nullptr);
  EXPECT_NE(sbx_version(nullptr, nullptr, nullptr), nullptr);
  EXPECT_NE(sbx_status_name(12345), nullptr);
  EXPECT_NE(sbx_box_state_name(12345), nullptr);
  EXPECT_EQ(sbx_exit_shell_code(nullptr), -1);
  EXPECT_EQ(sbx_probe_count(nullptr), 0u);

  // Constructors.
  expect_invalid(sbx_config_new(nullptr, &err), err, {"out"}, "sbx_config_new");
  expect_invalid(sbx_spec_new(nullptr, &err), err, {"out"}, "sbx_spec_new");
  expect_invalid(sbx_probe_run(nullptr, &err), err, {"out"}, "sbx_probe_run");

  // Config setters.
  expect_invalid(sbx_config_set_namespaces(nullptr, SBX_NS_ALL, &err), err, {"cfg"}, "set_namespaces");
  unsigned ns = 0;
  EXPECT_EQ(sbx_config_get_namespaces(nullptr, &ns), SBX_E_INVALID);
  EXPECT_EQ(sbx_config_get_namespaces(cfg.get(), nullptr), SBX_E_INVALID);
  expect_invalid(sbx_config_set_rootfs(nullptr, "/", &err), err, {"cfg"}, "set_rootfs");
  expect_invalid(sbx_config_add_bind(nullptr, "/usr", "/x", 0, &err), err, {"cfg"}, "add_bind cfg");
  expect_invalid(sbx_config_add_bind(cfg.get(), nullptr, "/x", 0, &err), err, {"source"}, "add_bind src");
  expect_invalid(sbx_config_add_bind(cfg.get(), "/usr", nullptr, 0, &err), err, {"target"}, "add_bind dst");
  expect_invalid(sbx_config_add_tmpfs(nullptr, "/x", 0, 0755, &err), err, {"cfg"}, "add_tmpfs cfg");
  expect_invalid(sbx_config_add_tmpfs(cfg.get(), nullptr, 0, 0755, &err), err, {"target"}, "add_tmpfs dst");
  expect_invalid(sbx_config_set_hostname(nullptr, "x", &err), err, {"cfg"}, "set_hostname cfg");
  expect_invalid(sbx_config_set_hostname(cfg.get(), nullptr, &err), err, {"hostname"}, "set_hostname NULL");

  // Spec setters.
  const char* argv[] = {"/bin/true"};
  expect_invalid(sbx_spec_set_argv(nullptr, 1, argv, &err), err, {"spec"}, "set_argv spec");
  expect_invalid(sbx_spec_set_argv(spec.get(), 1, nullptr, &err), err, {"argv"}, "set_argv NULL");
  expect_invalid(sbx_spec_set_env(nullptr, "A=b", &err), err, {"spec"}, "set_env spec");
  expect_invalid(sbx_spec_set_env(spec.get(), nullptr, &err), err, {"env"}, "set_env NULL");
  expect_invalid(sbx_spec_allow_env(nullptr, "A", &err), err, {"spec"}, "allow_env spec");
  expect_invalid(sbx_spec_allow_env(spec.get(), nullptr, &err), err, {"env"}, "allow_env NULL");
  expect_invalid(sbx_spec_set_cwd(nullptr, "/", &err), err, {"spec"}, "set_cwd spec");
  expect_invalid(sbx_spec_set_cwd(spec.get(), nullptr, &err), err, {"cwd"}, "set_cwd NULL");
  expect_invalid(sbx_spec_set_user(nullptr, 1, 1, &err), err, {"spec"}, "set_user");
  expect_invalid(sbx_spec_set_stdio(nullptr, 1, SBX_STDIO_NULL, nullptr, -1, &err), err, {"spec"},
                 "set_stdio");
  expect_invalid(sbx_spec_set_stdio(spec.get(), 1, SBX_STDIO_FILE, nullptr, -1, &err), err, {"file"},
                 "set_stdio FILE NULL path");
  expect_invalid(sbx_spec_preserve_fd(nullptr, 3, &err), err, {"spec"}, "preserve_fd");

  // Box.
  sbx_box* b = reinterpret_cast<sbx_box*>(0x1);
  expect_invalid(sbx_box_create(nullptr, cfg.get(), &err), err, {"out"}, "box_create out");
  expect_invalid(sbx_box_create(&b, nullptr, &err), err, {"cfg"}, "box_create cfg");
  EXPECT_EQ(b, nullptr) << "*out must be cleared on failure";
  sbx_box_state st;
  EXPECT_EQ(sbx_box_state_get(nullptr, &st), SBX_E_INVALID);
  EXPECT_EQ(sbx_box_state_get(box.get(), nullptr), SBX_E_INVALID);
  sbx_proc* p = reinterpret_cast<sbx_proc*>(0x1);
  expect_invalid(sbx_box_spawn(nullptr, spec.get(), &p, &err), err, {"box"}, "spawn box");
  EXPECT_EQ(p, nullptr);
  expect_invalid(sbx_box_spawn(box.get(), nullptr, &p, &err), err, {"spec"}, "spawn spec");
  expect_invalid(sbx_box_spawn(box.get(), spec.get(), nullptr, &err), err, {"out"}, "spawn out");
  expect_invalid(sbx_box_kill(nullptr, SIGTERM, &err), err, {"box"}, "box_kill");
  sbx_exit_status es = SBX_EXIT_STATUS_INIT;
  expect_invalid(sbx_box_wait(nullptr, 0, &es, &err), err, {"box"}, "box_wait box");
  expect_invalid(sbx_box_wait(box.get(), 0, nullptr, &err), err, {"out"}, "box_wait out");
  expect_invalid(sbx_box_interrupt(nullptr, &err), err, {"box"}, "box_interrupt");

  // Process.
  expect_invalid(sbx_proc_wait(nullptr, 0, &es, &err), err, {"proc"}, "proc_wait");
  expect_invalid(sbx_proc_interrupt(nullptr, &err), err, {"proc"}, "proc_interrupt");
  expect_invalid(sbx_proc_kill(nullptr, SIGTERM, &err), err, {"proc"}, "proc_kill");
  pid_t pid;
  int fd;
  EXPECT_EQ(sbx_proc_pid(nullptr, &pid), SBX_E_INVALID);
  EXPECT_EQ(sbx_proc_pollfd(nullptr, &fd), SBX_E_INVALID);
  expect_invalid(sbx_proc_take_stdio(nullptr, 1, &fd, &err), err, {"proc"}, "take_stdio proc");

  // Probe accessors.
  expect_invalid(sbx_probe_entry(nullptr, 0, nullptr, nullptr, nullptr, nullptr, &err), err, {"probe"},
                 "probe_entry");
  char* json = nullptr;
  expect_invalid(sbx_probe_json(nullptr, &json, &err), err, {"probe"}, "probe_json probe");
  expect_invalid(sbx_probe_json(nullptr, nullptr, &err), err, {"out"}, "probe_json out");

  // The same calls with err == NULL: still a status, still no crash.
  EXPECT_EQ(sbx_config_new(nullptr, nullptr), SBX_E_INVALID);
  EXPECT_EQ(sbx_box_create(nullptr, nullptr, nullptr), SBX_E_INVALID);
  EXPECT_EQ(sbx_box_spawn(nullptr, nullptr, nullptr, nullptr), SBX_E_INVALID);
  EXPECT_EQ(sbx_config_add_bind(cfg.get(), nullptr, nullptr, 0, nullptr), SBX_E_INVALID);
  EXPECT_EQ(sbx_proc_wait(nullptr, -1, nullptr, nullptr), SBX_E_INVALID);
  EXPECT_EQ(sbx_box_wait(nullptr, -1, nullptr, nullptr), SBX_E_INVALID);
}

TEST_F(BadInput, NullOutPointersOnALiveProcess) {
  sbx_error* err = nullptr;
  RunResult res;
  auto r = start_box({}, {"/bin/sleep", "100"}, {}, &res);
  ASSERT_TRUE(r) << res.describe();
  expect_invalid(sbx_proc_wait(r->proc.get(), 0, nullptr, &err), err, {"out"}, "proc_wait out");
  EXPECT_EQ(sbx_proc_pid(r->proc.get(), nullptr), SBX_E_INVALID);
  EXPECT_EQ(sbx_proc_pollfd(r->proc.get(), nullptr), SBX_E_INVALID);
  expect_invalid(sbx_proc_take_stdio(r->proc.get(), SBX_STDIN, nullptr, &err), err, {"out_fd"},
                 "take_stdio out");
  int fd = 99;
  expect_invalid(sbx_proc_take_stdio(r->proc.get(), 3, &fd, &err), err, {"which"}, "take_stdio which=3");
  expect_invalid(sbx_proc_take_stdio(r->proc.get(), -1, &fd, &err), err, {"which"}, "take_stdio which=-1");
  EXPECT_EQ(fd, -1);
  // Invalid signal numbers, on the box and on the process, while running.
  for (int sig : {-1, 65, 1000}) {
    SCOPED_TRACE(sig);
    expect_invalid(sbx_box_kill(r->box.get(), sig, &err), err, {"signal"}, "box_kill");
    expect_invalid(sbx_proc_kill(r->proc.get(), sig, &err), err, {"signal"}, "proc_kill");
  }
  EXPECT_EQ(sbx_proc_kill(r->proc.get(), 0, nullptr), SBX_OK) << "still running after the bad calls";
  // A wait with a negative timeout other than -1.
  sbx_exit_status es = SBX_EXIT_STATUS_INIT;
  expect_invalid(sbx_proc_wait(r->proc.get(), -5, &es, &err), err, {"timeout"}, "wait -5");
  sbx_box_kill(r->box.get(), SIGKILL, nullptr);
  collect(*r);
}

TEST_F(BadInput, InvalidSignalOnABoxWithNothingRunning) {
  BoxPtr box = new_box();
  sbx_error* err = nullptr;
  for (int sig : {-1, 65, 1000}) expect_invalid(sbx_box_kill(box.get(), sig, &err), err, {"signal"}, "kill");
}

TEST_F(BadInput, ExitStatusStruct) {
  RunResult res;
  auto r = start_box({}, {"/bin/true"}, {}, &res);
  ASSERT_TRUE(r) << res.describe();
  sbx_error* err = nullptr;

  sbx_exit_status zero = SBX_EXIT_STATUS_INIT;
  zero.size = 0;
  expect_invalid(sbx_proc_wait(r->proc.get(), -1, &zero, &err), err, {"size"}, "size 0");
  expect_invalid(sbx_box_wait(r->box.get(), -1, &zero, &err), err, {"size"}, "box size 0");

  sbx_exit_status small = SBX_EXIT_STATUS_INIT;
  small.size = sizeof(size_t) + sizeof(int);
  expect_invalid(sbx_proc_wait(r->proc.get(), -1, &small, &err), err, {"size"}, "size too small");

  // A huge size on a normal struct: must be refused without reading past it.
  sbx_exit_status huge = SBX_EXIT_STATUS_INIT;
  huge.size = static_cast<size_t>(-1);
  expect_invalid(sbx_proc_wait(r->proc.get(), -1, &huge, &err), err, {"size"}, "size SIZE_MAX");
  huge.size = size_t{1} << 40;
  expect_invalid(sbx_proc_wait(r->proc.get(), -1, &huge, &err), err, {"size"}, "size 2^40");

  // A "newer" struct: larger, with trailing bytes that must be zero.
  struct Newer {
    sbx_exit_status base;
    uint64_t future_field;
  } newer;
  memset(&newer, 0, sizeof newer);
  newer.base.size = sizeof newer;
  newer.future_field = 1;
  expect_invalid(sbx_proc_wait(r->proc.get(), -1, &newer.base, &err), err, {"non-zero"}, "trailing bytes");
  newer.future_field = 0;
  ASSERT_EQ(sbx_proc_wait(r->proc.get(), -1, &newer.base, &err), SBX_OK)
      << take_error(SBX_OK, &err).describe();
  EXPECT_EQ(newer.base.kind, SBX_EXIT_EXITED);
  EXPECT_EQ(newer.future_field, 0u) << "the library wrote past the fields it knows";
  EXPECT_EQ(newer.base.size, sizeof newer) << "size must not be rewritten";
  collect(*r);
}

TEST_F(BadInput, PathsAndTargets) {
  sbx_error* err = nullptr;
  ConfigPtr cfg = new_config();
  SpecPtr spec = new_spec();
  // Relative paths.
  expect_invalid(sbx_config_add_bind(cfg.get(), "usr", "/usr2", 0, &err), err, {"usr"}, "relative bind src");
  expect_invalid(sbx_config_add_bind(cfg.get(), "/usr", "usr2", 0, &err), err, {"usr2"}, "relative bind dst");
  expect_invalid(sbx_config_add_tmpfs(cfg.get(), "scratch", 0, 0755, &err), err, {"scratch"},
                 "relative tmpfs");
  expect_invalid(sbx_config_set_rootfs(cfg.get(), "rootfs/dir", &err), err, {"rootfs/dir"},
                 "relative rootfs");
  expect_invalid(sbx_spec_set_cwd(spec.get(), "work", &err), err, {"work"}, "relative cwd");
  expect_invalid(sbx_spec_set_stdio(spec.get(), SBX_STDOUT, SBX_STDIO_FILE, "out.txt", -1, &err), err,
                 {"out.txt"}, "relative stdio file");
  expect_invalid(sbx_config_add_bind(cfg.get(), "", "/x", 0, &err), err, {"source"}, "empty bind src");
  expect_invalid(sbx_config_add_tmpfs(cfg.get(), "", 0, 0755, &err), err, {"tmpfs"}, "empty tmpfs target");
  // ".." (and ".") components in targets.
  expect_invalid(sbx_config_add_bind(cfg.get(), "/usr", "/a/../etc", 0, &err), err, {"/a/../etc"}, "bind ..");
  expect_invalid(sbx_config_add_bind(cfg.get(), "/usr", "/..", 0, &err), err, {"/.."}, "bind /..");
  expect_invalid(sbx_config_add_bind(cfg.get(), "/usr", "/a/./b", 0, &err), err, {"/a/./b"}, "bind .");
  expect_invalid(sbx_config_add_tmpfs(cfg.get(), "/tmp/..", 0, 0755, &err), err, {"/tmp/.."}, "tmpfs ..");
  expect_invalid(sbx_spec_set_cwd(spec.get(), "/usr/../etc", &err), err, {"/usr/../etc"}, "cwd ..");
  // Over the root itself.
  expect_invalid(sbx_config_add_bind(cfg.get(), "/usr", "/", 0, &err), err, {"/"}, "bind over /");
  expect_invalid(sbx_config_add_tmpfs(cfg.get(), "/", 0, 0755, &err), err, {"/"}, "tmpfs over /");
  // Unknown flags, absurd sizes and modes.
  expect_invalid(sbx_config_add_bind(cfg.get(), "/usr", "/x", 1u << 7, &err), err, {"flag"}, "bind flags");
  expect_invalid(sbx_config_add_tmpfs(cfg.get(), "/x", uint64_t{1} << 60, 0755, &err), err, {"size"},
                 "tmpfs 2^60");
  expect_invalid(sbx_config_add_tmpfs(cfg.get(), "/x", UINT64_MAX, 0755, &err), err, {"size"}, "tmpfs max");
  expect_invalid(sbx_config_add_tmpfs(cfg.get(), "/x", 0, 0100000, &err), err, {"mode"}, "tmpfs mode");
  // None of the refused requests was recorded: the config still works.
  sbx_box* b = nullptr;
  ASSERT_EQ(sbx_box_create(&b, cfg.get(), &err), SBX_OK) << take_error(SBX_OK, &err).describe();
  BoxPtr box(b);
}

TEST_F(BadInput, MountsWithoutMountNamespace) {
  sbx_error* err = nullptr;
  ConfigPtr cfg = new_config();
  ASSERT_EQ(sbx_config_set_namespaces(cfg.get(), SBX_NS_ALL & ~static_cast<unsigned>(SBX_NS_MOUNT), nullptr),
            SBX_OK);
  ASSERT_EQ(sbx_config_add_tmpfs(cfg.get(), "/x", 0, 0755, nullptr), SBX_OK);
  sbx_box* b = reinterpret_cast<sbx_box*>(0x1);
  expect_invalid(sbx_box_create(&b, cfg.get(), &err), err, {"mount"}, "tmpfs without mount ns");
  EXPECT_EQ(b, nullptr);
}

TEST_F(BadInput, ArgvAndEnv) {
  sbx_error* err = nullptr;
  sbx_spec* s = nullptr;
  ASSERT_EQ(sbx_spec_new(&s, nullptr), SBX_OK);
  SpecPtr spec(s);
  const char* one[] = {"/bin/true"};
  expect_invalid(sbx_spec_set_argv(s, 0, one, &err), err, {"argv"}, "argc 0");
  const char* with_null[] = {"/bin/echo", nullptr, "x"};
  expect_invalid(sbx_spec_set_argv(s, 3, with_null, &err), err, {"argv[1]"}, "NULL entry");
  const char* null0[] = {nullptr};
  expect_invalid(sbx_spec_set_argv(s, 1, null0, &err), err, {"argv[0]"}, "NULL argv[0]");
  const char* empty0[] = {""};
  expect_invalid(sbx_spec_set_argv(s, 1, empty0, &err), err, {"argv"}, "empty argv[0]");
  expect_invalid(sbx_spec_set_argv(s, size_t{1} << 40, one, &err), err, {"argv"}, "argc 2^40");
  expect_invalid(sbx_spec_set_env(s, "NOEQUALS", &err), err, {"NOEQUALS"}, "env without =");
  expect_invalid(sbx_spec_set_env(s, "=x", &err), err, {"=x"}, "env with empty name");
  expect_invalid(sbx_spec_allow_env(s, "", &err), err, {"env"}, "allow empty name");
  expect_invalid(sbx_spec_allow_env(s, "A=B", &err), err, {"A=B"}, "allow name with =");
  expect_invalid(sbx_spec_set_user(s, UINT32_MAX, 0, &err), err, {"4294967295"}, "uid -1");

  // A spec without argv cannot be spawned, and the box is still usable.
  BoxPtr box = new_box();
  sbx_proc* p = nullptr;
  expect_invalid(sbx_box_spawn(box.get(), s, &p, &err), err, {"argv"}, "spawn without argv");
  EXPECT_EQ(p, nullptr);
  sbx_box_state st;
  ASSERT_EQ(sbx_box_state_get(box.get(), &st), SBX_OK);
  EXPECT_EQ(st, SBX_BOX_CONFIGURED);
}

TEST_F(BadInput, HostnameAndNamespaces) {
  sbx_error* err = nullptr;
  ConfigPtr cfg = new_config();
  const std::string too_long(65, 'a');
  expect_invalid(sbx_config_set_hostname(cfg.get(), too_long.c_str(), &err), err, {"hostname", "64"},
                 "65 chars");
  expect_invalid(sbx_config_set_hostname(cfg.get(), "", &err), err, {"hostname"}, "empty");
  for (const char* bad : {"bad_name", "has space", "new\nline", "slash/name", "\xc3\xa9t\xc3\xa9"})
    expect_invalid(sbx_config_set_hostname(cfg.get(), bad, &err), err, {"hostname"}, bad);
  EXPECT_EQ(sbx_config_set_hostname(cfg.get(), std::string(64, 'a').c_str(), nullptr), SBX_OK);

  for (unsigned bits : {1u << 7, 1u << 31, ~0u}) {
    SCOPED_TRACE(bits);
    expect_invalid(sbx_config_set_namespaces(cfg.get(), bits, &err), err, {"namespace"}, "unknown ns bits");
  }
  unsigned ns = 0;
  ASSERT_EQ(sbx_config_get_namespaces(cfg.get(), &ns), SBX_OK);
  EXPECT_EQ(ns, static_cast<unsigned>(SBX_NS_ALL)) << "a refused mask must not be stored";
}

TEST_F(BadInput, StdioAndPreservedFds) {
  sbx_error* err = nullptr;
  SpecPtr spec = new_spec();
  for (int fd : {0, 1, 2, -1}) {
    SCOPED_TRACE(fd);
    expect_invalid(sbx_spec_preserve_fd(spec.get(), fd, &err), err, {std::to_string(fd).c_str()}, "preserve");
  }
  const int closed = unopened_fd();
  expect_invalid(sbx_spec_preserve_fd(spec.get(), closed, &err), err, {std::to_string(closed).c_str()},
                 "preserve unopened");
  for (int which : {3, -1, 1000})
    expect_invalid(sbx_spec_set_stdio(spec.get(), which, SBX_STDIO_NULL, nullptr, -1, &err), err,
                   {std::to_string(which).c_str()}, "stdio which");
  expect_invalid(
      sbx_spec_set_stdio(spec.get(), SBX_STDOUT, static_cast<sbx_stdio_mode>(99), nullptr, -1, &err), err,
      {"99"}, "stdio mode 99");
  expect_invalid(sbx_spec_set_stdio(spec.get(), SBX_STDOUT, SBX_STDIO_FD, nullptr, closed, &err), err,
                 {std::to_string(closed).c_str()}, "stdio FD unopened");
  expect_invalid(sbx_spec_set_stdio(spec.get(), SBX_STDOUT, SBX_STDIO_FD, nullptr, -1, &err), err, {"-1"},
                 "stdio FD -1");
  expect_invalid(sbx_spec_set_stdio(spec.get(), SBX_STDOUT, SBX_STDIO_STDOUT, nullptr, -1, &err), err,
                 {"stderr"}, "STDOUT mode for stdout");
  expect_invalid(sbx_spec_set_stdio(spec.get(), SBX_STDIN, SBX_STDIO_STDOUT, nullptr, -1, &err), err,
                 {"stderr"}, "STDOUT mode for stdin");

  // A preserved fd closed between the setter and the spawn. (The box is
  // created first: it opens fds of its own, which could reuse the number.)
  BoxPtr box = new_box();
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(sbx_spec_preserve_fd(spec.get(), fd, nullptr), SBX_OK);
  close(fd);
  sbx_proc* p = nullptr;
  expect_invalid(sbx_box_spawn(box.get(), spec.get(), &p, &err), err, {std::to_string(fd).c_str()},
                 "preserved fd closed before spawn");
  EXPECT_EQ(p, nullptr);
}
