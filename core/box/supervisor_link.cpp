#include "core/box/supervisor_link.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/common/error.hpp"
#include "core/common/util.hpp"

namespace sbx {

namespace sup = launch::sup;

int host_pid_of_pidfd(int pidfd) {
  std::string info;
  if (!read_small_file("/proc/self/fdinfo/" + std::to_string(pidfd), &info)) return 0;
  size_t at = info.find("\nPid:");
  if (at == std::string::npos) return 0;
  int pid = atoi(info.c_str() + at + 5);
  return pid > 0 ? pid : 0;  // -1: already reaped
}

SupervisorLink::SupervisorLink(UniqueFd fd, std::function<void(const Msg&)> on_event,
                               std::function<void()> on_closed)
    : fd_(std::move(fd)), on_event_(std::move(on_event)), on_closed_(std::move(on_closed)) {}

SupervisorLink::~SupervisorLink() {
  close();
}

void SupervisorLink::start() {
  std::weak_ptr<SupervisorLink> weak = weak_from_this();
  std::lock_guard<std::mutex> lk(mu_);
  watch_ = Reactor::instance().watch(fd_.get(), EPOLLIN, [weak](uint32_t) {
    if (auto self = weak.lock()) self->on_readable();
  });
}

bool SupervisorLink::alive() {
  std::lock_guard<std::mutex> lk(mu_);
  return !dead_ && !closing_;
}

void SupervisorLink::send_locked_free(const Msg& m, const int* fds, size_t nfds) {
  struct iovec iov;
  iov.iov_base = const_cast<Msg*>(&m);
  iov.iov_len = sizeof m;
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  std::vector<char> cbuf;
  if (nfds > 0) {
    cbuf.assign(CMSG_SPACE(sizeof(int) * nfds), 0);
    mh.msg_control = cbuf.data();
    mh.msg_controllen = cbuf.size();
    struct cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  int fd;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (dead_ || closing_) throw Error(SBX_E_STATE, "state", ESRCH, "the box's supervisor has ended");
    fd = fd_.get();
    ++senders_;  // close() waits for us before it closes the fd
  }
  struct Done {
    SupervisorLink* self;
    ~Done() {
      std::lock_guard<std::mutex> lk(self->mu_);
      if (--self->senders_ == 0) self->cv_.notify_all();
    }
  } done{this};
  // A SOCK_SEQPACKET send is atomic: concurrent senders need no lock.
  for (;;) {
    ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);
    if (n >= 0) return;
    if (errno == EINTR) continue;
    int e = errno;
    throw Error(SBX_E_STATE, "state", e,
                std::string("the box's supervisor is unreachable: ") + errno_text(e));
  }
}

SupervisorLink::Msg SupervisorLink::call(Msg req, const int* fds, size_t nfds, UniqueFd* fd_out) {
  Pending p;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (dead_ || closing_) throw Error(SBX_E_STATE, "state", ESRCH, "the box's supervisor has ended");
    req.magic = sup::kMagic;
    req.seq = next_seq_++;
    pending_[req.seq] = &p;
  }
  struct Unregister {
    SupervisorLink* self;
    uint64_t seq;
    ~Unregister() {
      std::lock_guard<std::mutex> lk(self->mu_);
      self->pending_.erase(seq);
    }
  } unregister{this, req.seq};
  send_locked_free(req, fds, nfds);
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait(lk, [&] { return p.done || dead_ || closing_; });
  if (!p.done) throw Error(SBX_E_STATE, "state", ESRCH, "the box's supervisor has ended");
  if (fd_out != nullptr) *fd_out = std::move(p.fd);
  return p.msg;
}

void SupervisorLink::post(Msg req) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (dead_ || closing_) return;
    req.magic = sup::kMagic;
    req.seq = next_seq_++;  // nobody waits for this one: its reply is dropped
  }
  try {
    send_locked_free(req, nullptr, 0);
  } catch (const Error&) {
    // Gone meanwhile: nothing left to signal.
  }
}

void SupervisorLink::on_readable() {
  for (;;) {
    Msg m;
    struct iovec iov;
    iov.iov_base = &m;
    iov.iov_len = sizeof m;
    alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * 4)];
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof cbuf;
    int fd;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (dead_ || closing_) return;
      fd = fd_.get();
    }
    ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    std::vector<int> got;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&mh); n > 0 && c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      const int* in = reinterpret_cast<const int*>(CMSG_DATA(c));
      got.insert(got.end(), in, in + k);
    }
    std::vector<UniqueFd> owned;
    for (int f : got) owned.emplace_back(f);
    if (n <= 0) {
      // The supervisor has gone (the box was killed, or it failed).
      Reactor::Id w;
      {
        std::lock_guard<std::mutex> lk(mu_);
        dead_ = true;
        w = std::exchange(watch_, 0);
        cv_.notify_all();
      }
      if (w != 0) Reactor::instance().cancel(w);  // from its own callback: does not wait
      if (on_closed_) on_closed_();
      return;
    }
    if (n != static_cast<ssize_t>(sizeof m) || m.magic != sup::kMagic)
      continue;  // never sent by a supervisor
    if (m.type == sup::kChild) {
      if (on_event_) on_event_(m);
      continue;
    }
    if (m.type == sup::kSpawnReply && m.a > 0) {
      // The host pid, read as early as possible: once the supervisor has
      // reaped the process its pidfd no longer names a pid.
      m.x[0] = owned.empty() ? 0 : host_pid_of_pidfd(owned.front().get());
      if (on_event_) on_event_(m);
    }
    std::lock_guard<std::mutex> lk(mu_);
    auto it = pending_.find(m.seq);
    if (it == pending_.end()) continue;  // a posted request
    it->second->msg = m;
    if (!owned.empty()) it->second->fd = std::move(owned.front());
    it->second->done = true;
    cv_.notify_all();
  }
}

void SupervisorLink::close() {
  Reactor::Id w;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (closing_) return;
    closing_ = true;
    w = std::exchange(watch_, 0);
    cv_.notify_all();
  }
  if (w != 0) Reactor::instance().cancel(w);  // waits for a running callback
  std::unique_lock<std::mutex> lk(mu_);
  // A sender blocked on a full socket (a frozen supervisor) is woken with
  // EPIPE; the number is closed only once no sender holds it.
  if (fd_) (void)::shutdown(fd_.get(), SHUT_RDWR);
  cv_.wait(lk, [&] { return senders_ == 0; });
  fd_.reset();
}

}  // namespace sbx
