// A box: a validated configuration, the resources and policies it owns
// (cgroup, compiled seccomp filter, Landlock ruleset, capability set) and
// what runs in it. This version hosts one process per box; the state
// machine is the one later versions extend.
#pragma once

#include <linux/filter.h>
#include <sbx/sbx.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/config/config.hpp"
#include "core/landlock/landlock.hpp"
#include "core/launch/launcher.hpp"
#include "core/monitor/process.hpp"
#include "core/mounts/mount_plan.hpp"

namespace sbx {

namespace cgroup {
class BoxCgroup;
}

// One row of the enforcement report (SPEC R5).
struct ReportEntry {
  std::string name;
  int state;  // sbx_enforcement
  std::string mechanism;
  std::string detail;
};

class Box {
 public:
  explicit Box(const BoxConfig& cfg);
  ~Box();

  std::shared_ptr<Process> spawn(const ProcSpec& spec);
  int kill(int sig);
  void pause();
  void resume();
  int wait(int timeout_ms, ExitRecord* out);
  void interrupt();
  sbx_box_state state();

  const std::string& id() const { return id_; }
  const std::vector<ReportEntry>& report() const { return report_; }
  std::string report_json() const;

 private:
  std::shared_ptr<Process> process();
  void setup_cgroup();
  void setup_security();
  void add(std::string name, int state, std::string mechanism, std::string detail = {});

  std::mutex mu_;
  ResolvedConfig cfg_;
  std::string id_;
  std::shared_ptr<cgroup::BoxCgroup> cgroup_;
  std::vector<struct sock_filter> seccomp_insns_;
  bool seccomp_kills_ = false;
  landlock::Prepared landlock_;
  LaunchPolicy policy_;
  std::vector<ReportEntry> report_;
  std::shared_ptr<Process> proc_;
  sbx_box_state state_ = SBX_BOX_CONFIGURED;
  bool spawning_ = false;
};

}  // namespace sbx
