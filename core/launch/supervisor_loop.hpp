// The supervisor of a started box: pid 1 of its pid namespace, the parent
// of every process spawned into the box. Shared by the box init image (its
// "-S" mode) and the in-process init of the classic launch mode. Raw system
// calls only, no libc, single-threaded.
//
// Why the supervisor starts the processes (rather than the host entering
// the box's namespaces): only a parent sees its children stop and continue
// (waitid WSTOPPED / WCONTINUED) and gets their exact wait status; the host
// is often multithreaded (setns into a user or mount namespace is refused
// there), and a host child would raise SIGCHLD in the host and be visible
// to its waitpid(-1). Every status therefore starts here, exact, and
// reaches the host as a message (supervisor_proto.hpp); the supervisor also
// outlives a host thread or handle, which a later re-attach by id needs.
//
// A spawn: clone3(CLONE_VM | CLONE_VFORK | CLONE_PIDFD) onto a stack of
// the supervisor's; the child sets its process group, stdio and preserved
// fds, the controlling terminal, cwd, ids, rlimits, clears the signal mask,
// installs the box's seccomp program and executes. The supervisor resumes
// once the child has executed or failed (the child writes the failing step
// into the supervisor's memory, which it shares), then answers with the
// pid, its group and session, and a pidfd for the host.
#pragma once

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdint>

#include "core/launch/child.hpp"
#include "core/launch/exec_search.hpp"
#include "core/launch/init_loop.hpp"
#include "core/launch/raw_syscalls.hpp"
#include "core/launch/supervisor_proto.hpp"

// Defined by core/launch/raw_clone3.hpp in each binary.
extern "C" long sbx_raw_clone3(void* args, size_t size, void (*fn)(const void*), const void* arg);
extern "C" long sbx_raw_clone(unsigned long flags, void* stack_top, void (*fn)(const void*), const void* arg,
                              int* parent_tid);

namespace sbx::launch {

struct SupChildResult {
  volatile int32_t step;  // 0: executed
  volatile int32_t err;
};

struct SupSpawn {
  const sup::SpawnHead* head;
  char* const* argv;
  char* const* envp;
  const char* cwd;
  const char* path;
  const int* fds;  // the received fds (after the memfd), head->n_fds of them
  int join_pgid;   // the group to join for kPgroupJoin
  const struct sock_filter* filter;
  unsigned short filter_len;
  SupChildResult* result;
};

[[noreturn]] inline void sup_child_fail(const SupSpawn* s, Step step, long err) {
  s->result->err = static_cast<int32_t>(err < 0 ? -err : err);
  s->result->step = static_cast<int32_t>(step);
  sys::exit_group(127);
}

// The spawned process, between clone and execve.
[[noreturn]] inline void sup_child_main(const SupSpawn* s) {
  const sup::SpawnHead* h = s->head;
  long r;
  switch (h->flags & sup::kPgroupMask) {
    case sup::kPgroupSession:
      r = sys::setsid();
      break;
    case sup::kPgroupJoin:
      r = sys::setpgid(0, s->join_pgid);
      break;
    default:
      r = sys::setpgid(0, 0);
      break;
  }
  if (r < 0) sup_child_fail(s, Step::kSetpgid, r);

  // fds: every source is first moved above every source and target, then
  // dup'ed onto its target (which clears close-on-exec there). Everything
  // else is close-on-exec already (the supervisor's own fds and every fd it
  // received), so only the targets survive execve.
  int high = 3;
  for (uint32_t i = 0; i < h->n_fds; ++i) {
    if (s->fds[i] >= high) high = s->fds[i] + 1;
    if (h->fd_target[i] >= high) high = h->fd_target[i] + 1;
  }
  int tmp[sup::kMaxFds];
  for (uint32_t i = 0; i < h->n_fds; ++i) {
    tmp[i] = sys::fcntl(s->fds[i], F_DUPFD_CLOEXEC, high);
    if (tmp[i] < 0) sup_child_fail(s, h->fd_target[i] <= 2 ? Step::kStdio : Step::kPreserveFd, tmp[i]);
  }
  for (uint32_t i = 0; i < h->n_fds; ++i) {
    r = sys::dup3(tmp[i], h->fd_target[i], 0);
    if (r < 0) sup_child_fail(s, h->fd_target[i] <= 2 ? Step::kStdio : Step::kPreserveFd, r);
  }
  for (uint32_t i = 0; i < h->n_fds; ++i) (void)sys::close(tmp[i]);
  if (h->flags & sup::kControllingTty) {
    r = sys::ioctl(0, TIOCSCTTY, nullptr);
    if (r < 0) sup_child_fail(s, Step::kStdio, r);
  }
  r = sys::chdir(s->cwd);
  if (r < 0) sup_child_fail(s, Step::kChdir, r);
  // The supervisor runs as the box's identity; another one needs a mapped
  // id and a granted CAP_SETUID / CAP_SETGID.
  r = sys::setresgid(h->gid, h->gid, h->gid);
  if (r < 0) sup_child_fail(s, Step::kSetgid, r);
  r = sys::setresuid(h->uid, h->uid, h->uid);
  if (r < 0) sup_child_fail(s, Step::kSetuid, r);
  for (uint32_t i = 0; i < h->n_rlimits; ++i) {
    uint64_t lim[2] = {h->rlimits[i].soft, h->rlimits[i].hard};
    r = sys::prlimit(h->rlimits[i].resource, lim);
    if (r < 0) sup_child_fail(s, Step::kRlimit, r);
  }
  (void)sys::set_signal_mask(0);
  if (s->filter != nullptr) {
    struct sock_fprog prog;
    prog.len = s->filter_len;
    prog.filter = const_cast<struct sock_filter*>(s->filter);
    r = sys::seccomp_set_filter(&prog);
    if (r < 0) sup_child_fail(s, Step::kSeccomp, r);
  }
  sup_child_fail(s, Step::kExec, exec_search(s->argv[0], s->argv, s->envp, s->path));
}

inline void sup_child_trampoline(const void* arg) {
  sup_child_main(static_cast<const SupSpawn*>(arg));
}

class Supervisor {
 public:
  // SECCOMP_SELF: install the filter on the supervisor itself, so that every
  // process inherits it at clone (the kernel prepares a filter, JIT
  // included, once instead of per spawn). Only for a profile known to allow
  // what the supervisor does (the default profile: it answers clone3 with
  // ENOSYS, so clone(2) is used).
  Supervisor(int ctrl, int status_fd, int seccomp_fd, bool seccomp_self)
      : ctrl_(ctrl), status_fd_(status_fd), self_filter_(seccomp_self) {
    // Nothing of ours may reach a spawned program.
    (void)sys::fcntl(ctrl_, F_SETFD, FD_CLOEXEC);
    (void)sys::fcntl(status_fd_, F_SETFD, FD_CLOEXEC);
    load_filter(seccomp_fd);
    if (self_filter_ && filter_ != nullptr) {
      struct sock_fprog prog;
      prog.len = filter_len_;
      prog.filter = const_cast<struct sock_filter*>(filter_);
      if (sys::seccomp_set_filter(&prog) < 0) filter_missing_ = true;
      filter_ = nullptr;  // inherited: the children install nothing
    }
    stack_size_ = 256 * 1024;
    void* m = sys::mmap(nullptr, stack_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                        -1, 0);
    stack_ = reinterpret_cast<long>(m) < 0 ? nullptr : m;
    my_pgid_ = sys::getpgid(0);
    sfd_ = sys::signalfd_all(SFD_CLOEXEC | SFD_NONBLOCK);
  }

  [[noreturn]] void run() {
    if (stack_ == nullptr || sfd_ < 0) shutdown();
    for (;;) {
      struct pollfd fds[2];
      fds[0].fd = ctrl_;
      fds[0].events = POLLIN;
      fds[0].revents = 0;
      fds[1].fd = sfd_;
      fds[1].events = POLLIN;
      fds[1].revents = 0;
      int r = sys::ppoll(fds, 2);
      if (r < 0) continue;  // EINTR
      if (fds[1].revents != 0) drain_signals();
      if (fds[0].revents != 0 && !handle_request()) shutdown();
    }
  }

 private:
  void load_filter(int fd) {
    if (fd < 0) return;
    struct stat st;
    if (sys::fstat(fd, &st) == 0 && st.st_size > 0 && st.st_size % sizeof(struct sock_filter) == 0 &&
        st.st_size <= 4096 * static_cast<long>(sizeof(struct sock_filter))) {
      void* m = sys::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
      if (reinterpret_cast<long>(m) >= 0) {
        filter_ = static_cast<const struct sock_filter*>(m);
        filter_len_ = static_cast<unsigned short>(st.st_size / sizeof(struct sock_filter));
      }
    }
    (void)sys::close(fd);
    // A box asked for a filter: without it no process may start.
    filter_missing_ = filter_ == nullptr;
  }

  void send(const sup::Msg& m, int fd = -1) {
    struct iovec iov;
    iov.iov_base = const_cast<sup::Msg*>(&m);
    iov.iov_len = sizeof m;
    struct msghdr mh;
    char* z = reinterpret_cast<char*>(&mh);
    for (size_t i = 0; i < sizeof mh; ++i) z[i] = 0;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
    if (fd >= 0) {
      for (size_t i = 0; i < sizeof cbuf; ++i) cbuf[i] = 0;
      mh.msg_control = cbuf;
      mh.msg_controllen = sizeof cbuf;
      struct cmsghdr* c = CMSG_FIRSTHDR(&mh);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      *reinterpret_cast<int*>(CMSG_DATA(c)) = fd;
    }
    long r;
    do {
      r = sys::sendmsg(ctrl_, &mh, MSG_NOSIGNAL);
    } while (r == -EINTR);
  }

  static sup::Msg msg(uint32_t type, uint64_t seq) {
    sup::Msg m;
    char* z = reinterpret_cast<char*>(&m);
    for (size_t i = 0; i < sizeof m; ++i) z[i] = 0;
    m.magic = sup::kMagic;
    m.type = type;
    m.seq = seq;
    return m;
  }

  void drain_signals() {
    struct signalfd_siginfo si;
    for (;;) {
      long n = sys::read(sfd_, &si, sizeof si);
      if (n != static_cast<long>(sizeof si)) break;
      if (static_cast<int>(si.ssi_signo) == kTreeSignalCarrier && si.ssi_code == SI_QUEUE &&
          si.ssi_pid == 0 && (si.ssi_int >> 8) == kTreeSignalTag) {
        int target = si.ssi_int & 0xff;
        if (target >= 1 && target <= 64) (void)sys::kill(-1, target);
      }
      // Anything else (from inside the box) is ignored; SIGCHLD is handled
      // below whatever arrived.
    }
    reap();
  }

  // Reports every change of every child: exits (reaped here, usage
  // attached), stops and continues. Orphans of the box are reaped too; the
  // host ignores pids it did not spawn.
  void reap() {
    for (;;) {
      siginfo_t si;
      char* z = reinterpret_cast<char*>(&si);
      for (size_t i = 0; i < sizeof si; ++i) z[i] = 0;
      KernelRusage ru;
      z = reinterpret_cast<char*>(&ru);
      for (size_t i = 0; i < sizeof ru; ++i) z[i] = 0;
      int r = sys::waitid(P_ALL, 0, &si, WEXITED | WSTOPPED | WCONTINUED | WNOHANG | __WALL, &ru);
      if (r < 0 || si.si_pid == 0) return;
      sup::Msg m = msg(sup::kChild, 0);
      m.a = si.si_pid;
      m.b = si.si_code;
      m.c = si.si_status;
      if (si.si_code == CLD_EXITED || si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED) {
        m.x[0] = ru.utime_sec * 1000000 + ru.utime_usec;
        m.x[1] = ru.stime_sec * 1000000 + ru.stime_usec;
        m.x[2] = ru.maxrss;
      }
      send(m);
    }
  }

  // False when the host has gone (end of file) or the socket broke.
  bool handle_request() {
    sup::Msg m;
    struct iovec iov;
    iov.iov_base = &m;
    iov.iov_len = sizeof m;
    alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * (sup::kMaxFds + 1))];
    struct msghdr mh;
    char* z = reinterpret_cast<char*>(&mh);
    for (size_t i = 0; i < sizeof mh; ++i) z[i] = 0;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof cbuf;
    long n = sys::recvmsg(ctrl_, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n == -EINTR || n == -EAGAIN) return true;
    if (n <= 0) return false;
    int fds[sup::kMaxFds + 1];
    uint32_t nfd = 0;
    struct cmsghdr* c = CMSG_FIRSTHDR(&mh);
    if (c != nullptr && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      uint32_t k = static_cast<uint32_t>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      const int* in = reinterpret_cast<const int*>(CMSG_DATA(c));
      for (uint32_t i = 0; i < k && i < sup::kMaxFds + 1; ++i) fds[nfd++] = in[i];
    }
    sup::Msg reply = msg(sup::kReply, m.seq);
    if (n != static_cast<long>(sizeof m) || m.magic != sup::kMagic || (mh.msg_flags & MSG_CTRUNC) != 0) {
      reply.a = -EINVAL;
      send(reply);
    } else if (m.type == sup::kSpawn) {
      spawn(m.seq, fds, nfd);
    } else if (m.type == sup::kKill) {
      reply.a = sys::kill(m.a, m.b);
      send(reply);
    } else if (m.type == sup::kSetpgid) {
      reply.a = sys::setpgid(m.a, m.b);
      send(reply);
    } else {
      reply.a = -EINVAL;
      send(reply);
    }
    for (uint32_t i = 0; i < nfd; ++i) (void)sys::close(fds[i]);
    return true;
  }

  void spawn(uint64_t seq, const int* fds, uint32_t nfd) {
    sup::Msg reply = msg(sup::kSpawnReply, seq);
    reply.a = -EINVAL;
    reply.b = static_cast<int32_t>(Step::kSupervisor);
    if (filter_missing_) {
      reply.a = -ENOEXEC;
      reply.b = static_cast<int32_t>(Step::kSeccomp);
      send(reply);
      return;
    }
    struct stat st;
    if (nfd < 1 || sys::fstat(fds[0], &st) < 0 || st.st_size < static_cast<long>(sizeof(sup::SpawnHead))) {
      send(reply);
      return;
    }
    const size_t size = static_cast<size_t>(st.st_size);
    void* m = sys::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fds[0], 0);
    if (reinterpret_cast<long>(m) < 0) {
      reply.a = static_cast<int32_t>(reinterpret_cast<long>(m));
      send(reply);
      return;
    }
    char* base = static_cast<char*>(m);
    auto* h = reinterpret_cast<sup::SpawnHead*>(base);
    const size_t arrays = sizeof(sup::SpawnHead) + (uint64_t{h->argc} + h->envc + 2) * sizeof(uint64_t);
    bool ok = h->magic == sup::kMagic && h->total <= size && h->total >= arrays &&
              base[h->total - 1] == '\0' && h->argc >= 1 && h->argc < (1u << 20) && h->envc < (1u << 20) &&
              h->n_fds == nfd - 1 && h->n_rlimits <= sup::kMaxRlimits && h->cwd_off < h->total &&
              h->path_off < h->total;
    // Offsets become pointers in our private copy.
    auto* offs = reinterpret_cast<uint64_t*>(base + sizeof(sup::SpawnHead));
    for (uint64_t i = 0; ok && i < uint64_t{h->argc} + h->envc + 2; ++i) {
      bool last = i == h->argc || i == uint64_t{h->argc} + h->envc + 1;
      if (last) {
        ok = offs[i] == 0;
        continue;
      }
      ok = offs[i] >= arrays && offs[i] < h->total;
      if (ok) offs[i] = reinterpret_cast<uint64_t>(base + offs[i]);
    }
    if (ok) {
      SupChildResult result;
      result.step = 0;
      result.err = 0;
      SupSpawn s;
      s.head = h;
      s.argv = reinterpret_cast<char* const*>(offs);
      s.envp = reinterpret_cast<char* const*>(offs + h->argc + 1);
      s.cwd = base + h->cwd_off;
      s.path = h->path_off != 0 ? base + h->path_off : nullptr;
      s.fds = fds + 1;
      s.join_pgid = h->pgid == 0 ? my_pgid_ : h->pgid;
      s.filter = filter_;
      s.filter_len = filter_len_;
      s.result = &result;

      int pidfd = -1;
      long pid;
      if (self_filter_) {
        pid = sbx_raw_clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD,
                            static_cast<char*>(stack_) + stack_size_, sup_child_trampoline, &s, &pidfd);
      } else {
        struct clone_args a;
        char* z = reinterpret_cast<char*>(&a);
        for (size_t i = 0; i < sizeof a; ++i) z[i] = 0;
        a.flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD;
        a.pidfd = reinterpret_cast<uint64_t>(&pidfd);
        a.exit_signal = SIGCHLD;
        a.stack = reinterpret_cast<uint64_t>(stack_);
        a.stack_size = stack_size_;
        pid = sbx_raw_clone3(&a, sizeof a, sup_child_trampoline, &s);
      }
      if (pid < 0) {
        reply.a = static_cast<int32_t>(pid);
        reply.b = static_cast<int32_t>(Step::kFork);
        send(reply);
      } else if (result.step != 0) {
        // It has exited already (CLONE_VFORK resumed us): reap it here, so
        // that no event is ever sent for a process the host never saw.
        int wst;
        while (sys::wait4(static_cast<pid_t>(pid), &wst, __WALL) == -EINTR) {
        }
        (void)sys::close(pidfd);
        reply.a = -result.err;
        reply.b = result.step;
        send(reply);
      } else {
        reply.a = static_cast<int32_t>(pid);
        reply.b = 0;
        reply.c = sys::getpgid(static_cast<pid_t>(pid));
        reply.d = sys::getsid(static_cast<pid_t>(pid));
        send(reply, pidfd);
        (void)sys::close(pidfd);
      }
    } else {
      send(reply);
    }
    (void)sys::munmap(m, size);
  }

  // The host has gone or let go: nothing may outlive the box.
  [[noreturn]] void shutdown() {
    (void)sys::kill(-1, SIGKILL);
    for (;;) {
      int st;
      pid_t r = sys::wait4(-1, &st, __WALL);
      if (r == -ECHILD) break;
    }
    KernelRusage ru;
    char* z = reinterpret_cast<char*>(&ru);
    for (size_t i = 0; i < sizeof ru; ++i) z[i] = 0;
    (void)sys::getrusage(RUSAGE_CHILDREN, &ru);
    write_report(status_fd_, 0, ru);
    sys::exit_group(0);
  }

  int ctrl_;
  int status_fd_;
  int sfd_ = -1;
  int my_pgid_ = 0;
  void* stack_ = nullptr;
  size_t stack_size_ = 0;
  const struct sock_filter* filter_ = nullptr;
  unsigned short filter_len_ = 0;
  bool filter_missing_ = false;
  bool self_filter_ = false;
};

// Runs the supervisor on CTRL until the host closes it; never returns.
// Every signal must be blocked already (they are read from a signalfd).
[[noreturn]] inline void run_supervisor(int ctrl, int status_fd, int seccomp_fd, bool seccomp_self) {
  Supervisor s(ctrl, status_fd, seccomp_fd, seccomp_self);
  s.run();
}

}  // namespace sbx::launch
