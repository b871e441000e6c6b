#include "core/box/box.hpp"

#include "core/common/error.hpp"
#include "core/launch/launcher.hpp"

namespace sbx {

Box::Box(const BoxConfig& cfg) : cfg_(resolve_config(cfg)) {}

Box::~Box() {
  if (proc_) proc_->terminate();
}

std::shared_ptr<Process> Box::spawn(const ProcSpec& spec) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (spawning_ || state_ != SBX_BOX_CONFIGURED)
      throw Error(SBX_E_STATE, "state", 0,
                  std::string("cannot spawn: the box is ") +
                      sbx_box_state_name(spawning_ ? SBX_BOX_RUNNING : state_) +
                      " (this version hosts one process per box)");
    spawning_ = true;
  }
  try {
    auto p = std::make_shared<Process>(launch_process(cfg_, spec));
    std::lock_guard<std::mutex> lk(mu_);
    proc_ = p;
    state_ = SBX_BOX_RUNNING;
    spawning_ = false;
    return p;
  } catch (const Error& e) {
    std::lock_guard<std::mutex> lk(mu_);
    spawning_ = false;
    // A bad argument leaves the box as it was; a failed setup marks it.
    if (e.code() != SBX_E_INVALID) state_ = SBX_BOX_FAILED;
    throw;
  } catch (...) {
    std::lock_guard<std::mutex> lk(mu_);
    spawning_ = false;
    throw;
  }
}

std::shared_ptr<Process> Box::process() {
  std::lock_guard<std::mutex> lk(mu_);
  return proc_;
}

int Box::kill(int sig) {
  auto p = process();
  if (!p) {
    if (sig < 0 || sig > SIGRTMAX)
      throw_invalid("signal", std::to_string(sig) + " is not a valid signal number");
    throw Error(SBX_E_STATE, "state", 0, "the box has no running process");
  }
  int r = p->kill(sig);
  if (r == SBX_E_STATE) throw Error(SBX_E_STATE, "state", ESRCH, "the box's process has ended");
  return r;
}

int Box::wait(int timeout_ms, ExitRecord* out) {
  auto p = process();
  if (!p) throw Error(SBX_E_STATE, "state", 0, "the box has no process to wait for");
  int r = p->wait(timeout_ms, out);
  if (r == SBX_OK) {
    std::lock_guard<std::mutex> lk(mu_);
    state_ = SBX_BOX_STOPPED;
  }
  return r;
}

void Box::interrupt() {
  auto p = process();
  if (p) p->interrupt();
}

sbx_box_state Box::state() {
  auto p = process();
  if (p && p->poll_ended()) {
    std::lock_guard<std::mutex> lk(mu_);
    state_ = SBX_BOX_STOPPED;
  }
  std::lock_guard<std::mutex> lk(mu_);
  return state_;
}

}  // namespace sbx
