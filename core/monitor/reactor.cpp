#include "core/monitor/reactor.hpp"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "core/common/error.hpp"
#include "core/common/util.hpp"

namespace sbx {

Reactor& Reactor::instance() {
  // A function-local static: constructed on first use, destroyed at exit or
  // dlclose (its destructor joins the thread). No thread_local anywhere.
  static Reactor r;
  return r;
}

// fork() in a host whose monitor thread holds the lock would leave the
// child a lock nobody releases: hold it across every fork of the process
// (the monitor thread never blocks while holding it).
Reactor::Reactor() {
  pthread_atfork([] { Reactor::instance().mu_.lock(); }, [] { Reactor::instance().mu_.unlock(); },
                 [] { Reactor::instance().mu_.unlock(); });
}

Reactor::~Reactor() {
  std::unique_lock<std::mutex> lk(mu_);
  stopping_ = true;
  timers_.clear();
  deadline_of_.clear();
  watches_.clear();
  if (owner_ != getpid()) {
    (void)thread_.release();  // not ours: a forked child has no such thread
    return;
  }
  wake_locked();
  if (thread_ && thread_->joinable()) {
    lk.unlock();
    thread_->join();
    lk.lock();
  }
  if (epfd_ >= 0) ::close(epfd_);
  if (wakefd_ >= 0) ::close(wakefd_);
}

// A forked child inherits this object but not the thread, nor the parent's
// processes (the timers and watches act on those). Its epoll fd is the
// parent's epoll instance: drop our copy and start from scratch.
void Reactor::adopt_after_fork() {
  (void)thread_.release();  // leaked on purpose: joining it is impossible here
  thread_alive_ = false;
  thread_id_ = std::thread::id();
  running_ = 0;
  timers_.clear();
  deadline_of_.clear();
  watches_.clear();
  if (epfd_ >= 0) ::close(epfd_);
  if (wakefd_ >= 0) ::close(wakefd_);
  epfd_ = wakefd_ = -1;
  owner_ = getpid();
}

void Reactor::wake_locked() {
  if (wakefd_ < 0) return;
  uint64_t one = 1;
  (void)!::write(wakefd_, &one, sizeof one);
}

void Reactor::ensure_running_locked() {
  if (owner_ != getpid()) adopt_after_fork();
  if (epfd_ < 0) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) throw_system("monitor", "epoll_create1", errno);
    int ev = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ev < 0) {
      int e = errno;
      ::close(ep);
      throw_system("monitor", "eventfd", e);
    }
    struct epoll_event e {};
    e.events = EPOLLIN;
    e.data.u64 = 0;  // ids start at 1: 0 is the wake-up fd
    if (epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e) < 0) {
      int err = errno;
      ::close(ep);
      ::close(ev);
      throw_system("monitor", "epoll_ctl", err);
    }
    epfd_ = ep;
    wakefd_ = ev;
  }
  if (!thread_alive_ && !stopping_) {
    // A previous thread that found nothing to do has left run() (it clears
    // thread_alive_ as its last step under the lock): joining cannot block.
    if (thread_ && thread_->joinable()) thread_->join();
    thread_alive_ = true;
    thread_ = std::make_unique<std::thread>([this] { run(); });
  } else {
    wake_locked();
  }
}

Reactor::Id Reactor::schedule(uint64_t deadline_ns, std::function<void()> fn) {
  std::lock_guard<std::mutex> lk(mu_);
  if (owner_ != getpid()) adopt_after_fork();
  Id id = next_id_++;
  timers_.emplace(std::make_pair(deadline_ns, id), std::move(fn));
  deadline_of_[id] = deadline_ns;
  try {
    ensure_running_locked();
  } catch (...) {
    timers_.erase({deadline_ns, id});
    deadline_of_.erase(id);
    throw;
  }
  return id;
}

Reactor::Id Reactor::watch(int fd, uint32_t events, std::function<void(uint32_t)> fn) {
  std::lock_guard<std::mutex> lk(mu_);
  if (owner_ != getpid()) adopt_after_fork();
  Id id = next_id_++;
  // The epoll fd must exist before the watch is added; the thread may start
  // after (it finds the watch when it runs).
  watches_[id] = Watch{fd, events, std::make_shared<std::function<void(uint32_t)>>(std::move(fn))};
  try {
    ensure_running_locked();
    struct epoll_event e {};
    e.events = events;
    e.data.u64 = id;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &e) < 0) throw_system("monitor", "epoll_ctl ADD", errno);
  } catch (...) {
    watches_.erase(id);
    throw;
  }
  return id;
}

void Reactor::set_events(Id id, uint32_t events) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = watches_.find(id);
  if (it == watches_.end() || it->second.events == events) return;
  it->second.events = events;
  struct epoll_event e {};
  e.events = events;
  e.data.u64 = id;
  (void)epoll_ctl(epfd_, EPOLL_CTL_MOD, it->second.fd, &e);
}

void Reactor::cancel(Id id) {
  std::unique_lock<std::mutex> lk(mu_);
  if (owner_ != getpid()) adopt_after_fork();
  auto it = deadline_of_.find(id);
  if (it != deadline_of_.end()) {
    timers_.erase({it->second, id});
    deadline_of_.erase(it);
    wake_locked();
  }
  auto w = watches_.find(id);
  if (w != watches_.end()) {
    (void)epoll_ctl(epfd_, EPOLL_CTL_DEL, w->second.fd, nullptr);
    watches_.erase(w);
    wake_locked();
  }
  if (std::this_thread::get_id() == thread_id_) return;  // from a callback
  idle_.wait(lk, [&] { return running_ != id; });
}

bool Reactor::on_monitor_thread() const {
  std::lock_guard<std::mutex> lk(mu_);
  return std::this_thread::get_id() == thread_id_;
}

void Reactor::run() {
  std::unique_lock<std::mutex> lk(mu_);
  thread_id_ = std::this_thread::get_id();
  std::vector<struct epoll_event> evs(64);
  while (!stopping_ && (!timers_.empty() || !watches_.empty())) {
    int timeout_ms = -1;
    if (!timers_.empty()) {
      uint64_t first = timers_.begin()->first.first, now = monotonic_ns();
      timeout_ms =
          first <= now ? 0 : static_cast<int>(std::min<uint64_t>((first - now + 999999) / 1000000, 1u << 30));
    }
    const int ep = epfd_;
    lk.unlock();
    int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), timeout_ms);
    if (n < 0 && errno != EINTR) {
      // Only if the host closed our epoll fd behind our back (EBADF): do
      // not spin on it; timers still run, late.
      struct timespec pause = {0, 100000000};
      nanosleep(&pause, nullptr);
    }
    lk.lock();
    if (n < 0) n = 0;  // EINTR: go round

    // Timers that are due.
    for (;;) {
      if (stopping_ || timers_.empty() || timers_.begin()->first.first > monotonic_ns()) break;
      auto first = timers_.begin();
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
      fn = nullptr;  // drop captures before the lock (they may cancel)
      lk.lock();
      running_ = 0;
      idle_.notify_all();
    }

    // Ready fds.
    for (int i = 0; i < n && !stopping_; ++i) {
      Id id = evs[static_cast<size_t>(i)].data.u64;
      if (id == 0) {
        uint64_t v;
        while (::read(wakefd_, &v, sizeof v) > 0) {
        }
        continue;
      }
      auto w = watches_.find(id);
      if (w == watches_.end() || w->second.events == 0) continue;  // cancelled or paused meanwhile
      auto fn = w->second.fn;
      running_ = id;
      lk.unlock();
      try {
        (*fn)(evs[static_cast<size_t>(i)].events);
      } catch (...) {
        // Reported through the process's own state.
      }
      fn.reset();
      lk.lock();
      running_ = 0;
      idle_.notify_all();
    }
  }
  thread_id_ = std::thread::id();
  thread_alive_ = false;
}

}  // namespace sbx
