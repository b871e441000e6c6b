// The runtime's monitor thread: runs deadlines (time limits, CPU-time
// checks) and watches fds (captured output, process ends) whether or not
// anyone waits on the process. One thread per loaded library, started on
// demand and ended when nothing is scheduled or watched, so an idle host has
// no sbx thread and dlclose finds nothing running.
//
// Callbacks run on the monitor thread with no sbx lock held; they must be
// short (read what is ready, signal, schedule the next step). cancel()
// guarantees that once it returns the callback is neither running nor going
// to run — unless it is called from that very callback (or any callback:
// the monitor thread never waits for itself).
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
  // Calls FN(revents) whenever FD is ready for EVENTS (EPOLLIN, EPOLLOUT;
  // level-triggered) until cancelled. Cancel before closing FD.
  Id watch(int fd, uint32_t events, std::function<void(uint32_t)> fn);
  // Changes what a watch waits for; 0 pauses it (e.g. a full buffer).
  void set_events(Id id, uint32_t events);
  // Timers and watches alike.
  void cancel(Id id);
  bool on_monitor_thread() const;

  Reactor();
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

 private:
  struct Watch {
    int fd;
    uint32_t events;
    std::shared_ptr<std::function<void(uint32_t)>> fn;
  };

  void run();
  void adopt_after_fork();
  void ensure_running_locked();
  void wake_locked();

  mutable std::mutex mu_;
  std::condition_variable idle_;  // a callback finished
  std::map<std::pair<uint64_t, Id>, std::function<void()>> timers_;
  std::unordered_map<Id, uint64_t> deadline_of_;
  std::unordered_map<Id, Watch> watches_;
  Id next_id_ = 1;
  Id running_ = 0;  // the callback being run, 0 if none
  int epfd_ = -1;
  int wakefd_ = -1;
  // Heap-held so that a forked child, which has no such thread, can drop it
  // without joining (see adopt_after_fork).
  std::unique_ptr<std::thread> thread_;
  std::thread::id thread_id_;
  pid_t owner_ = 0;  // the process whose thread this is
  bool thread_alive_ = false;
  bool stopping_ = false;
};

}  // namespace sbx
