// The host end of a started box's control socket: requests to the box
// supervisor (core/launch/supervisor_loop.hpp) and the events it sends.
// The socket is read on the monitor thread; a request waits for its reply
// on the calling thread. Requests from the monitor thread itself (time
// limits) are posted without waiting: the monitor thread is the one that
// reads replies.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "core/common/fd.hpp"
#include "core/launch/supervisor_proto.hpp"
#include "core/monitor/reactor.hpp"

namespace sbx {

// The host pid a pidfd names ("Pid:" of its fdinfo), or 0 once reaped.
int host_pid_of_pidfd(int pidfd);

class SupervisorLink : public std::enable_shared_from_this<SupervisorLink> {
 public:
  using Msg = launch::sup::Msg;
  // ON_EVENT runs on the monitor thread for every kChild message and for
  // every successful kSpawnReply (with x[0] = the process's host pid, 0 if
  // it was already reaped) before its caller wakes up; ON_CLOSED once
  // when the supervisor goes away unasked (end of file).
  SupervisorLink(UniqueFd fd, std::function<void(const Msg&)> on_event, std::function<void()> on_closed);
  ~SupervisorLink();
  SupervisorLink(const SupervisorLink&) = delete;
  SupervisorLink& operator=(const SupervisorLink&) = delete;

  void start();
  // Sends REQ (its seq is assigned here) with FDS and waits for the reply;
  // a passed fd goes to *FD_OUT. Throws SBX_E_STATE once the supervisor is
  // gone. Not on the monitor thread.
  Msg call(Msg req, const int* fds, size_t nfds, UniqueFd* fd_out);
  // Sends REQ without waiting for its reply (safe on the monitor thread).
  void post(Msg req);
  // Closes the socket: the supervisor kills what is left, reaps and exits.
  // No event is delivered once this returns.
  void close();
  bool alive();

 private:
  void on_readable();
  void send_locked_free(const Msg& m, const int* fds, size_t nfds);

  struct Pending {
    bool done = false;
    Msg msg{};
    UniqueFd fd;
  };

  std::mutex mu_;
  std::condition_variable cv_;
  UniqueFd fd_;
  Reactor::Id watch_ = 0;
  uint64_t next_seq_ = 1;
  bool dead_ = false;
  bool closing_ = false;
  int senders_ = 0;
  std::map<uint64_t, Pending*> pending_;
  std::function<void(const Msg&)> on_event_;
  std::function<void()> on_closed_;
};

}  // namespace sbx
