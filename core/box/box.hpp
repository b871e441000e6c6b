// A box: a validated configuration, the resources and policies it owns
// (cgroup, compiled seccomp filter, Landlock ruleset, capability set) and
// what runs in it: one program (box.cpp), or, once started, a supervisor
// and the processes spawned through it with their table (started.cpp).
#pragma once

#include <linux/filter.h>
#include <sbx/sbx.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/config/config.hpp"
#include "core/landlock/landlock.hpp"
#include "core/launch/launcher.hpp"
#include "core/launch/supervisor_proto.hpp"
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

class SupervisorLink;

class Box {
 public:
  explicit Box(const BoxConfig& cfg);
  ~Box();

  std::shared_ptr<Process> spawn(const ProcSpec& spec);
  // A started box (core/box/started.cpp).
  void start();
  void stop(int grace_ms);
  void terminate_all(int grace_ms);
  // The process table; POSIX failures throw Error(SBX_E_PROCESS, errno).
  void signal(int pid, int sig);
  // Returns the pid (0: nothing with WNOHANG) or SBX_E_TIMEOUT /
  // SBX_E_INTERRUPTED as a negative value.
  int waitpid(int pid, int options, int timeout_ms, int* status);
  void setpgid(int pid, int pgid);
  void setsid(int pid);
  int getpgid(int pid) { return ids_of(pid, false); }
  int getsid(int pid) { return ids_of(pid, true); }
  uint64_t hold_signals(int pid, int how, uint64_t set);
  uint64_t sigpending(int pid);
  std::vector<int> list();
  void proc_info(int pid, sbx_proc_info* out);
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
  std::shared_ptr<Process> spawn_supervised(const ProcSpec& spec);
  void on_supervisor_event(const launch::sup::Msg& m);
  void on_supervisor_closed();
  void on_box_deadline();
  void ensure_started(const char* what);
  int ids_of(int pid, bool session);
  // Entries of the process table (guarded by table_mu_).
  struct Entry {
    int pid = 0;
    int host_pid = 0;
    int pgid = 0;
    int sid = 0;
    std::string command;
    std::weak_ptr<Process> proc;
    std::shared_ptr<UniqueFd> pidfd;  // signals reach it while it runs
    int state = SBX_PROC_RUNNING;
    int wait_status = 0;
    int stop_sig = 0;
    bool stop_unreported = false;
    bool cont_unreported = false;
    uint64_t exit_ns = 0;
    uint64_t held = 0;
    uint64_t pending = 0;
    bool registered = false;   // the spawning thread has attached proc and pidfd
    int code = 0, status = 0;  // the exit as reported (CLD_*, si_status)
    int64_t utime_us = 0, stime_us = 0, maxrss_kb = 0;
  };
  void purge_zombies_locked();
  Entry* find_locked(int pid);
  void refresh_ids_locked(Entry& e);
  void send_signal_locked(Entry& e, int sig);
  void kill_via_supervisor(int target, int sig);
  bool wait_all_exited(uint64_t deadline_ns);
  void signal_everything(int sig);
  void setup_cgroup();
  void setup_security();
  void add(std::string name, int state, std::string mechanism, std::string detail = {});

  std::mutex mu_;
  ResolvedConfig cfg_;
  std::string id_;
  std::shared_ptr<cgroup::BoxCgroup> cgroup_;
  std::vector<struct sock_filter> seccomp_insns_;
  bool seccomp_kills_ = false;
  bool seccomp_default_ = false;  // the unmodified default profile (a supervisor may run under it)
  landlock::Prepared landlock_;
  LaunchPolicy policy_;
  std::vector<ReportEntry> report_;
  std::shared_ptr<Process> proc_;
  sbx_box_state state_ = SBX_BOX_CONFIGURED;
  bool spawning_ = false;

  // A started box.
  std::atomic<bool> started_{false};
  std::shared_ptr<Process> init_;  // the supervisor (pid 1)
  std::shared_ptr<SupervisorLink> link_;
  int inflight_spawns_ = 0;  // guarded by mu_
  std::condition_variable spawn_cv_;
  std::mutex table_mu_;
  std::condition_variable table_cv_;
  std::map<int, Entry> table_;
  std::vector<std::weak_ptr<Process>> procs_;  // every supervised process, for stop and loss
  uint64_t table_interrupt_gen_ = 0;
  bool supervisor_gone_ = false;
  Reactor::Id box_deadline_ = 0, box_grace_ = 0;
  uint32_t box_hits_ = 0;
  bool frozen_ = false;  // paused through the cgroup freezer (the supervisor too)
  bool timeout_closing_ = false;
  bool stop_called_ = false;
  bool no_timers_ = false;
  uid_t box_uid_ = 0;
  gid_t box_gid_ = 0;
};

}  // namespace sbx
