// A box: a validated configuration plus what runs in it. This version hosts
// one process per box; the state machine is the one later versions extend.
#pragma once

#include <sbx/sbx.h>

#include <memory>
#include <mutex>

#include "core/config/config.hpp"
#include "core/monitor/process.hpp"
#include "core/mounts/mount_plan.hpp"

namespace sbx {

class Box {
 public:
  explicit Box(const BoxConfig& cfg);
  ~Box();

  std::shared_ptr<Process> spawn(const ProcSpec& spec);
  int kill(int sig);
  int wait(int timeout_ms, ExitRecord* out);
  void interrupt();
  sbx_box_state state();

 private:
  std::shared_ptr<Process> process();

  std::mutex mu_;
  ResolvedConfig cfg_;
  std::shared_ptr<Process> proc_;
  sbx_box_state state_ = SBX_BOX_CONFIGURED;
  bool spawning_ = false;
};

}  // namespace sbx
