// The runtime's monitor thread: runs deadlines (time limits, CPU-time
// checks) whether or not anyone waits on the process. One thread per
// loaded library, started on demand and ended when nothing is scheduled, so
// an idle host has no sbx thread and dlclose finds nothing running.
//
// Callbacks run on the monitor thread with no sbx lock held; they must be
// short (signal, schedule the next step). cancel() guarantees that once it
// returns the callback is neither running nor going to run — unless it is
// called from that very callback.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace sbx {

class Reactor {
 public:
  using Id = uint64_t;

  static Reactor& instance();

  // Runs FN once CLOCK_MONOTONIC reaches DEADLINE_NS. Never returns 0.
  Id schedule(uint64_t deadline_ns, std::function<void()> fn);
  void cancel(Id id);

  Reactor() = default;
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

 private:
  void run();
  void adopt_after_fork();

  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable idle_;  // a callback finished
  std::map<std::pair<uint64_t, Id>, std::function<void()>> timers_;
  std::unordered_map<Id, uint64_t> deadline_of_;
  Id next_id_ = 1;
  Id running_ = 0;  // the callback being run, 0 if none
  // Heap-held so that a forked child, which has no such thread, can drop it
  // without joining (see adopt_after_fork).
  std::unique_ptr<std::thread> thread_;
  std::thread::id thread_id_;
  pid_t owner_ = 0;  // the process whose thread this is
  bool thread_alive_ = false;
  bool stopping_ = false;
};

}  // namespace sbx
