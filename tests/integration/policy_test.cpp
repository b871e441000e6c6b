// The security policy of a box through the C API: capabilities (the add
// list and what it can never reach), custom seccomp rules and how a kill is
// reported, the Landlock switch. tests/security holds the escape suite.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "box_helper.hpp"

using namespace sbx_it;

namespace {

std::function<int(sbx_config*, sbx_error**)> caps(std::vector<const char*> names) {
  return [names](sbx_config* c, sbx_error** e) {
    for (const char* n : names)
      if (int rc = sbx_config_add_capability(c, n, e); rc != SBX_OK) return rc;
    return static_cast<int>(SBX_OK);
  };
}

}  // namespace

TEST(Policy, AddedCapabilitiesAreGrantedAndNothingElse) {
  BoxOptions o;
  o.configure = caps({"CAP_NET_BIND_SERVICE", "kill"});
  auto r = sh("grep -E '^Cap(Prm|Eff|Amb|Bnd|Inh)' /proc/self/status", {}, o);
  ASSERT_TRUE(r.exited(0)) << r.describe();
  // CAP_KILL is bit 5, CAP_NET_BIND_SERVICE bit 10: 0x420.
  for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"})
    EXPECT_NE(r.out.find(std::string(set) + ":\t0000000000000420"), std::string::npos) << set << "\n"
                                                                                       << r.out;
}

TEST(Policy, GrantedCapabilitiesNeverReachHostRoot) {
  // Capabilities that act on ids: with host root mapped in the box's user
  // namespace they would let the box become host root (setuid), hand files
  // to it (chown) or read its files (DAC). Host root is never mapped.
  TempDir t;
  write_file(t / "rw-probe", "x");
  ASSERT_EQ(chmod((t / "rw-probe").c_str(), 0666), 0);
  write_file(t / "secret", "root only\n", 0600);
  if (is_root()) {
    // write_file hands files to the box's host id; this one is host root's.
    ASSERT_EQ(chown((t / "secret").c_str(), 0, 0), 0);
  }
  BoxOptions o;
  o.mounts.push_back(bind_rw(t.path(), "/w"));
  o.configure = caps({"setuid", "setgid", "chown", "fowner", "dac_override", "dac_read_search"});
  static const char* kProbe = R"PY(
import os, errno
def attempt(name, f):
    try:
        f(); print(name, "OK")
    except OSError as e:
        print(name, errno.errorcode.get(e.errno, e.errno))
attempt("setresuid0", lambda: os.setresuid(0, 0, 0))
attempt("setresgid0", lambda: os.setresgid(0, 0, 0))
attempt("chown0", lambda: os.chown("/w/rw-probe", 0, 0))
attempt("read_secret", lambda: open("/w/secret").read())
print("maps", open("/proc/self/uid_map").read().split())
)PY";
  auto r = run_box(o, {"/usr/bin/python3", "-c", kProbe});
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_NE(r.out.find("setresuid0 EINVAL"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("setresgid0 EINVAL"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("chown0 EINVAL"), std::string::npos) << r.out;
  if (is_root()) {
    // The secret belongs to host root: neither mapped nor overridable.
    EXPECT_NE(r.out.find("read_secret EACCES"), std::string::npos) << r.out;
  }
  struct stat st;
  ASSERT_EQ(stat((t / "rw-probe").c_str(), &st), 0);
  EXPECT_NE(st.st_uid, 0u) << "the box handed a host file to root";
  // One line: only the box's own uid.
  EXPECT_NE(r.out.find("maps ['1000', "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("'0', '0'"), std::string::npos) << r.out;
}

TEST(Policy, CapabilitiesOutsideTheUserNamespaceAreRefused) {
  sbx_config* cfg = nullptr;
  ASSERT_EQ(sbx_config_new(&cfg, nullptr), SBX_OK);
  sbx_error* err = nullptr;
  EXPECT_EQ(sbx_config_add_capability(cfg, "CAP_SYS_ADMIN", &err), SBX_E_INVALID);
  EXPECT_NE(std::string(sbx_error_message(err)).find("CAP_SYS_ADMIN cannot be granted"), std::string::npos);
  sbx_error_free(err);
  EXPECT_EQ(sbx_config_add_capability(cfg, "no_such_cap", &err), SBX_E_INVALID);
  sbx_error_free(err);
  EXPECT_EQ(sbx_config_add_capability(cfg, nullptr, &err), SBX_E_INVALID);
  sbx_error_free(err);
  // Without a user namespace any capability would be a host capability.
  ASSERT_EQ(sbx_config_add_capability(cfg, "kill", nullptr), SBX_OK);
  ASSERT_EQ(sbx_config_set_namespaces(cfg, SBX_NS_ALL & ~static_cast<unsigned>(SBX_NS_USER), nullptr),
            SBX_OK);
  sbx_box* box = nullptr;
  EXPECT_EQ(sbx_box_create(&box, cfg, &err), SBX_E_INVALID);
  EXPECT_NE(std::string(sbx_error_message(err)).find("user namespace"), std::string::npos);
  sbx_error_free(err);
  sbx_config_free(cfg);
}

TEST(Policy, CustomSeccompRuleKillIsReportedAsSeccomp) {
  BoxOptions o;
  o.configure = [](sbx_config* c, sbx_error** e) {
    return sbx_config_add_seccomp_rule(c, "getppid", SBX_SECCOMP_KILL_PROCESS, 0, 0, nullptr, e);
  };
  auto r = run_box(
      o, {"/usr/bin/python3", "-c", "import os\nprint('before', flush=True)\nos.getppid()\nprint('after')"});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.out, "before\n");
  EXPECT_EQ(r.exit.kind, SBX_EXIT_SIGNALED);
  EXPECT_EQ(r.exit.signal, SIGSYS);
  EXPECT_EQ(r.exit.reason, SBX_REASON_SECCOMP) << sbx_exit_reason_name(r.exit.reason);
}

TEST(Policy, CustomSeccompErrnoRuleWithArgumentCondition) {
  // mkdir with mode 0700 fails with EDQUOT; other modes work.
  BoxOptions o;
  o.mounts.push_back(tmpfs("/scratch"));
  o.configure = [](sbx_config* c, sbx_error** e) {
    sbx_seccomp_arg a{1, SBX_SECCOMP_CMP_EQ, 0700, 0};
    int rc = sbx_config_add_seccomp_rule(c, "mkdir", SBX_SECCOMP_ERRNO, EDQUOT, 1, &a, e);
    if (rc != SBX_OK) return rc;
    sbx_seccomp_arg b{2, SBX_SECCOMP_CMP_EQ, 0700, 0};
    return sbx_config_add_seccomp_rule(c, "mkdirat", SBX_SECCOMP_ERRNO, EDQUOT, 1, &b, e);
  };
  auto r = sh("mkdir -m 0755 /scratch/a && echo a-ok; mkdir -m 0700 /scratch/b 2>&1 | grep -o 'quota' ; true",
              {}, o);
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_EQ(r.out, "a-ok\nquota\n");
}

TEST(Policy, SeccompRuleValidation) {
  sbx_config* cfg = nullptr;
  ASSERT_EQ(sbx_config_new(&cfg, nullptr), SBX_OK);
  sbx_error* err = nullptr;
  EXPECT_EQ(sbx_config_add_seccomp_rule(cfg, "no_such_syscall", SBX_SECCOMP_ERRNO, 1, 0, nullptr, &err),
            SBX_E_INVALID);
  EXPECT_NE(std::string(sbx_error_message(err)).find("no_such_syscall"), std::string::npos);
  sbx_error_free(err);
  EXPECT_EQ(sbx_config_add_seccomp_rule(cfg, "mkdir", SBX_SECCOMP_ERRNO, 0, 0, nullptr, &err), SBX_E_INVALID);
  sbx_error_free(err);
  sbx_seccomp_arg bad{6, SBX_SECCOMP_CMP_EQ, 0, 0};
  EXPECT_EQ(sbx_config_add_seccomp_rule(cfg, "mkdir", SBX_SECCOMP_KILL_PROCESS, 0, 1, &bad, &err),
            SBX_E_INVALID);
  sbx_error_free(err);
  EXPECT_EQ(
      sbx_config_add_seccomp_rule(cfg, "mkdir", static_cast<sbx_seccomp_action>(42), 0, 0, nullptr, &err),
      SBX_E_INVALID);
  sbx_error_free(err);
  EXPECT_EQ(sbx_config_set_seccomp_profile(cfg, "strictest", &err), SBX_E_INVALID);
  EXPECT_NE(std::string(sbx_error_message(err)).find("strictest"), std::string::npos);
  sbx_error_free(err);
  EXPECT_EQ(sbx_config_load_seccomp_json(cfg, "/nonexistent/profile.json", &err), SBX_E_INVALID);
  EXPECT_NE(std::string(sbx_error_message(err)).find("/nonexistent/profile.json"), std::string::npos);
  sbx_error_free(err);
  EXPECT_EQ(sbx_config_set_landlock(cfg, 8, &err), SBX_E_INVALID);
  sbx_error_free(err);
  sbx_config_free(cfg);
}

TEST(Policy, SeccompNoneAndLandlockOffAreReportedOff) {
  BoxOptions o;
  o.configure = [](sbx_config* c, sbx_error** e) {
    int rc = sbx_config_set_seccomp_profile(c, "none", e);
    return rc != SBX_OK ? rc : sbx_config_set_landlock(c, SBX_LANDLOCK_OFF, e);
  };
  auto r =
      sh("grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; unshare -U true && echo nested-userns", {}, o);
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_NE(r.out.find("Seccomp:\t0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("nested-userns"), std::string::npos) << r.out;
  // The default refuses the nested user namespace.
  auto d = sh("unshare -U true && echo nested-userns");
  EXPECT_FALSE(d.exited(0)) << d.describe();
  EXPECT_EQ(d.out.find("nested-userns"), std::string::npos);
}
