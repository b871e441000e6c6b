#include "core/monitor/reactor.hpp"

#include <unistd.h>

#include <chrono>

#include "core/common/util.hpp"

namespace sbx {

Reactor& Reactor::instance() {
  // A function-local static: constructed on first use, destroyed at exit or
  // dlclose (its destructor joins the thread). No thread_local anywhere.
  static Reactor r;
  return r;
}

Reactor::~Reactor() {
  std::unique_lock<std::mutex> lk(mu_);
  stopping_ = true;
  timers_.clear();
  deadline_of_.clear();
  wake_.notify_all();
  if (owner_ != getpid()) {
    (void)thread_.release();  // not ours: a forked child has no such thread
    return;
  }
  if (thread_ && thread_->joinable()) {
    lk.unlock();
    thread_->join();
  }
}

// A forked child inherits this object but not the thread, nor the parent's
// processes (the timers act on those): start from scratch.
void Reactor::adopt_after_fork() {
  (void)thread_.release();  // leaked on purpose: joining it is impossible here
  thread_alive_ = false;
  thread_id_ = std::thread::id();
  running_ = 0;
  timers_.clear();
  deadline_of_.clear();
  owner_ = getpid();
}

Reactor::Id Reactor::schedule(uint64_t deadline_ns, std::function<void()> fn) {
  std::lock_guard<std::mutex> lk(mu_);
  if (owner_ != getpid()) adopt_after_fork();
  Id id = next_id_++;
  timers_.emplace(std::make_pair(deadline_ns, id), std::move(fn));
  deadline_of_[id] = deadline_ns;
  if (!thread_alive_ && !stopping_) {
    // A previous thread that found nothing to do has left run() (it clears
    // thread_alive_ as its last step under the lock): joining cannot block.
    if (thread_ && thread_->joinable()) thread_->join();
    thread_alive_ = true;
    thread_ = std::make_unique<std::thread>([this] { run(); });
  } else {
    wake_.notify_all();
  }
  return id;
}

void Reactor::cancel(Id id) {
  std::unique_lock<std::mutex> lk(mu_);
  if (owner_ != getpid()) adopt_after_fork();
  auto it = deadline_of_.find(id);
  if (it != deadline_of_.end()) {
    timers_.erase({it->second, id});
    deadline_of_.erase(it);
    wake_.notify_all();
  }
  if (std::this_thread::get_id() == thread_id_) return;  // from a callback
  idle_.wait(lk, [&] { return running_ != id; });
}

void Reactor::run() {
  std::unique_lock<std::mutex> lk(mu_);
  thread_id_ = std::this_thread::get_id();
  while (!stopping_ && !timers_.empty()) {
    auto first = timers_.begin();
    uint64_t now = monotonic_ns();
    if (first->first.first > now) {
      auto wait = std::chrono::nanoseconds(first->first.first - now);
      wake_.wait_for(lk, wait);
      continue;
    }
    Id id = first->first.second;
    std::function<void()> fn = std::move(first->second);
    timers_.erase(first);
    deadline_of_.erase(id);
    running_ = id;
    lk.unlock();
    try {
      fn();
    } catch (...) {
      // A limit action failed (e.g. the process is already gone); the
      // process's own wait reports the truth.
    }
    fn = nullptr;  // release captures outside the lock's protection window
    lk.lock();
    running_ = 0;
    idle_.notify_all();
  }
  thread_id_ = std::thread::id();
  thread_alive_ = false;
}

}  // namespace sbx
