// The protocol between the host (core/box) and the supervisor of a started
// box (supervisor_loop.hpp): messages on a SOCK_SEQPACKET socket pair, one
// fixed-size Msg per packet, fds passed with SCM_RIGHTS. Plain structs, no
// pointers: the supervisor is a separate program without libc.
//
// Host -> supervisor:
//   kSpawn    fds: [0] a memfd holding a SpawnHead and its strings, [1..]
//             the fds the program gets (SpawnHead::fd_target). Answered by
//             kSpawnReply (a = box pid or -errno, b = the failing Step,
//             c = pgid, d = sid; fd: a pidfd of the process).
//   kKill     a = pid (box pid, -pgid, or -1 for every process), b = signal.
//             Answered by kReply (a = 0 or -errno).
//   kSetpgid  a = pid, b = pgid. Answered by kReply.
//   (end of file: kill everything, reap, report, exit)
// Supervisor -> host, unasked:
//   kChild    a = box pid, b = si_code (CLD_*), c = si_status,
//             x[0] = user CPU us, x[1] = system CPU us, x[2] = max RSS KiB
//             (a stop or continue event carries no usage).
#pragma once

#include <cstdint>

namespace sbx::launch::sup {

constexpr uint32_t kMagic = 0x53627853;  // "SxbS"

enum MsgType : uint32_t {
  kSpawn = 1,
  kKill = 2,
  kSetpgid = 3,
  kSpawnReply = 101,
  kReply = 102,
  kChild = 103,
};

struct Msg {
  uint32_t magic;
  uint32_t type;
  uint64_t seq;  // echoed in replies
  int32_t a, b, c, d;
  int64_t x[3];
};

// SpawnHead::flags
enum : uint32_t {
  kPgroupNew = 0,      // a new process group led by the process (default)
  kPgroupJoin = 1,     // join group SpawnHead::pgid (0: the supervisor's)
  kPgroupSession = 2,  // a new session (and group)
  kPgroupMask = 3,
  kControllingTty = 1u << 4,  // stdin is a terminal to take as controlling terminal
};

constexpr uint32_t kMaxRlimits = 16;
constexpr uint32_t kMaxFds = 64;  // stdio + preserved fds per spawn

struct SpawnRlimit {
  int32_t resource;
  uint32_t pad;
  uint64_t soft, hard;
};

// At offset 0 of the spawn memfd; offsets are from the start of the memfd.
// After the head: uint64_t argv_off[argc + 1], uint64_t env_off[envc + 1]
// (the last entry of each is 0), then the NUL-terminated strings.
struct SpawnHead {
  uint32_t magic;
  uint32_t flags;
  int32_t pgid;
  uint32_t uid, gid;
  uint32_t n_rlimits;
  SpawnRlimit rlimits[kMaxRlimits];
  uint32_t n_fds;  // fds passed after the memfd
  int32_t fd_target[kMaxFds];
  uint32_t argc, envc;
  uint64_t cwd_off;
  uint64_t path_off;  // PATH for the program search; 0: none
  uint64_t total;     // bytes used in the memfd
};

}  // namespace sbx::launch::sup
