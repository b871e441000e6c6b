#include "core/landlock/landlock.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>

#include "core/common/error.hpp"
#include "core/common/util.hpp"
#include "core/mounts/mount_plan.hpp"

namespace sbx::landlock {

namespace {

constexpr uint64_t kReadRights = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;

// Changing a directory tree. MAKE_CHAR and MAKE_BLOCK are left out: a box
// has no business creating device nodes (its mounts are nodev and it lacks
// CAP_MKNOD anyway). REFER lets rename/link move entries between
// directories (mv, compilers and package tools do it); the kernel still
// requires the destination to grant at least what the source grants.
constexpr uint64_t kWriteTreeRights = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE |
                                      LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
                                      LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
                                      LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
                                      LANDLOCK_ACCESS_FS_MAKE_SYM | LANDLOCK_ACCESS_FS_REFER;

// Writing existing files. TRUNCATE belongs here because a shell's
// "> /dev/null" or "echo 1 > /proc/self/oom_score_adj" opens with O_TRUNC,
// which Landlock checks as a truncation from ABI 3 on.
constexpr uint64_t kWriteFileRights = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE;

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (const auto& x : v) {
    if (!s.empty()) s += sep;
    s += x;
  }
  return s;
}

std::string abi_note(int abi, const std::string& what) {
  return "ABI " + std::to_string(abi) + ": " + what;
}

// True if A is a proper ancestor of B (both normalised absolute paths).
bool is_ancestor(const std::string& a, const std::string& b) {
  if (a == b) return false;
  if (a == "/") return true;
  return b.size() > a.size() && b.compare(0, a.size(), a) == 0 && b[a.size()] == '/';
}

}  // namespace

uint64_t rights_of(PathAccess a) {
  switch (a) {
    case PathAccess::kRead:
      return kReadRights;
    case PathAccess::kReadExec:
      return kReadRights | LANDLOCK_ACCESS_FS_EXECUTE;
    case PathAccess::kReadWrite:
      return kReadRights | kWriteTreeRights;
    case PathAccess::kReadWriteExec:
      return kReadRights | kWriteTreeRights | LANDLOCK_ACCESS_FS_EXECUTE;
    case PathAccess::kDevices:
      // IOCTL_DEV: terminals (tcgetattr on /dev/tty) and friends need it.
      return kReadRights | kWriteFileRights | LANDLOCK_ACCESS_FS_IOCTL_DEV;
    case PathAccess::kReadWriteFiles:
      return kReadRights | kWriteFileRights;
  }
  throw_invalid("landlock access", "unknown PathAccess value " + std::to_string(static_cast<int>(a)));
}

const char* name_of(PathAccess a) {
  switch (a) {
    case PathAccess::kRead:
      return "read";
    case PathAccess::kReadExec:
      return "read+exec";
    case PathAccess::kReadWrite:
      return "read+write";
    case PathAccess::kReadWriteExec:
      return "read+write+exec";
    case PathAccess::kDevices:
      return "devices";
    case PathAccess::kReadWriteFiles:
      return "read+write-files";
  }
  return "?";
}

int kernel_abi() {
  // No lock needed: every thread computes the same value. -1 = not probed.
  static std::atomic<int> cached{-1};
  int v = cached.load(std::memory_order_relaxed);
  if (v >= 0) return v;
  int saved = errno;
  long r = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  errno = saved;
  // ENOSYS: not built in; EOPNOTSUPP: built in but not enabled (lsm=);
  // anything else (a seccomp filter around us) means we cannot use it either.
  v = r > 0 ? static_cast<int>(r) : 0;
  cached.store(v, std::memory_order_relaxed);
  return v;
}

// The grant table (box paths; targets in the plan are relative):
//
//   /                      read             the root tmpfs (read-only anyway);
//                                           also covers every /etc file and
//                                           symlink the plan writes into it
//   /usr /bin /sbin /lib*  read+exec        the system mirror of a default root
//   /<entry> of a rootfs   read+exec        a --rootfs is a whole system image
//   user read-only binds   read+exec        programs live in binds too
//   /etc/* mirrors         read             (base-layer binds below the top)
//   writable binds         read+write+exec  programs are built and run there
//   user tmpfs             read+write+exec  same: tmpfs workdirs
//   /proc                  read+write-files see below
//   /dev                   devices          the device binds below it are
//                                           covered by this grant
//   /dev/shm               read+write       shm_open/sem_open; never exec
//
// /proc gets write access to existing files because ordinary programs write
// there: pthread_setname_np on another thread writes
// /proc/self/task/TID/comm, runtimes adjust /proc/self/oom_score_adj, and
// tools that nest a user namespace write /proc/self/{uid_map,gid_map,
// setgroups}. What may actually be written is still decided by procfs'
// own permission checks; Landlock only stops it from being an escape
// hatch for creating or executing anything. No exec is needed: executing
// /proc/self/exe or /proc/self/fd/N is checked against the file the magic
// link points to, not against /proc.
//
// Which ops belong to the base layer (the system mirror or the rootfs) is
// read from the plan's shape: build_mount_plan emits them first, before the
// /proc op. Single-component bind targets there are exactly the system
// directories (a default root: /etc entries have two components) or the
// rootfs' top-level entries. tests/unit/landlock_test.cpp pins this against
// real build_mount_plan output.
Request request_from_mounts(const MountPlan& plan, bool network_off) {
  Request r;
  r.deny_tcp = network_off;
  r.grants.push_back({"/", PathAccess::kRead});
  bool base_layer = true;
  bool system_shm_seen = false;
  for (const launch::MountOp& op : plan.ops) {
    std::string target = op.target != nullptr ? op.target : "";
    std::string path = "/" + target;
    switch (op.kind) {
      case launch::MountOp::kProc:
        base_layer = false;
        r.grants.push_back({path, PathAccess::kReadWriteFiles});
        break;
      case launch::MountOp::kBind: {
        if (op.allow_devices) break;  // a device node under /dev: the /dev grant covers it
        // Programs live in binds as often as in the system directories
        // (--ro-bind /opt/tool /tool): read-only binds keep execute; base
        // layer entries below the top level (the /etc mirror) stay read-only.
        PathAccess a = PathAccess::kRead;
        if (op.writable)
          a = PathAccess::kReadWriteExec;
        else if (!base_layer || target.find('/') == std::string::npos)
          a = PathAccess::kReadExec;
        r.grants.push_back({path, a, !op.source_is_dir});
        break;
      }
      case launch::MountOp::kTmpfs:
        if (target == "dev") {
          r.grants.push_back({path, PathAccess::kDevices});
        } else if (target == "dev/shm" && !system_shm_seen) {
          system_shm_seen = true;
          r.grants.push_back({path, PathAccess::kReadWrite});
        } else {
          r.grants.push_back({path, PathAccess::kReadWriteExec});
        }
        break;
      case launch::MountOp::kSymlink:    // resolved on use: the target's grant applies
      case launch::MountOp::kWriteFile:  // a file in the root tmpfs: covered by "/"
      case launch::MountOp::kReadOnly:   // changes no path
        break;
    }
  }
  return r;
}

std::string Prepared::describe() const {
  if (!active()) {
    std::string s = "landlock unavailable";
    if (!notes.empty()) s += ": " + join(notes, "; ");
    return s;
  }
  std::string s = "landlock ABI " + std::to_string(abi) + ": fs ";
  if (rules.empty()) {
    s += "denied everywhere (no rules)";
  } else {
    bool ro = false, rw = false, exec = false;
    for (const auto& r : rules) {
      ((r.allowed & LANDLOCK_ACCESS_FS_WRITE_FILE) != 0 ? rw : ro) = true;
      exec = exec || (r.allowed & LANDLOCK_ACCESS_FS_EXECUTE) != 0;
    }
    std::vector<std::string> kinds;
    if (ro) kinds.push_back("ro");
    if (rw) kinds.push_back("rw");
    if (exec) kinds.push_back("exec");
    s += join(kinds, "/") + " rules on " + std::to_string(rules.size()) +
         (rules.size() == 1 ? " path" : " paths");
  }
  if ((handled_net & (LANDLOCK_ACCESS_NET_BIND_TCP | LANDLOCK_ACCESS_NET_CONNECT_TCP)) != 0)
    s += ", tcp bind/connect denied";
  std::vector<std::string> sc;
  if ((scoped & LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET) != 0) sc.push_back("abstract-unix");
  if ((scoped & LANDLOCK_SCOPE_SIGNAL) != 0) sc.push_back("signal");
  if (!sc.empty()) s += ", scopes " + join(sc, "+");
  if ((restrict_flags & LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON) != 0) s += ", denials audited after exec";
  if (!notes.empty()) s += " (degraded: " + join(notes, "; ") + ")";
  return s;
}

Prepared prepare(const Request& req, int abi_override) {
  if (abi_override < -1 || abi_override > kMaxAbi)
    throw_invalid("landlock abi override",
                  "must be -1, 0 or 1.." + std::to_string(kMaxAbi) + ", not " + std::to_string(abi_override));
  struct Merged {
    std::string path;
    uint64_t rights;  // before ABI masking: subset checks are then ABI-independent
    bool is_file;
  };
  std::vector<Merged> merged;
  for (const auto& g : req.grants) {
    std::string path = normalize_box_path(g.box_path, "landlock grant");
    uint64_t rights = rights_of(g.access);
    if (g.is_file) rights &= kFsFileRights;
    auto it = std::find_if(merged.begin(), merged.end(), [&](const Merged& m) { return m.path == path; });
    if (it == merged.end()) {
      merged.push_back({path, rights, g.is_file});
    } else {
      it->rights |= rights;
      it->is_file = it->is_file && g.is_file;
    }
  }

  Prepared p;
  int kernel = kernel_abi();
  int abi = std::min(kernel, kMaxAbi);
  if (abi_override == -1) {
    p.notes.push_back("disabled by override");
    return p;
  }
  if (abi_override > 0) {
    if (abi_override > abi)
      p.notes.push_back("override ABI " + std::to_string(abi_override) + " capped at the kernel's " +
                        std::to_string(abi));
    abi = std::min(abi, abi_override);
  }
  if (abi == 0) {
    p.notes.push_back("the kernel has no Landlock (not built in, or not enabled in lsm=)");
    return p;
  }
  p.abi = abi;
  p.handled_fs = fs_rights_for_abi(abi);
  if (abi < 2)
    p.notes.push_back(abi_note(abi, "renames and links across directories always fail (EXDEV; needs 2)"));
  if (abi < 3) p.notes.push_back(abi_note(abi, "truncation not restricted (needs 3)"));
  if (req.deny_tcp) {
    p.handled_net = net_rights_for_abi(abi);
    if (p.handled_net == 0) p.notes.push_back(abi_note(abi, "no TCP rules (needs 4)"));
  }
  if (abi < 5) p.notes.push_back(abi_note(abi, "device ioctls not restricted (needs 5)"));
  uint64_t want_scopes = (req.scope_abstract_unix ? LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET : 0) |
                         (req.scope_signal ? LANDLOCK_SCOPE_SIGNAL : 0);
  p.scoped = want_scopes & scopes_for_abi(abi);
  if (want_scopes != 0 && p.scoped != want_scopes)
    p.notes.push_back(abi_note(abi, "no abstract-unix/signal scoping (scopes need ABI 6)"));
  if (req.log_after_exec) {
    p.restrict_flags = LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON & restrict_flags_for_abi(abi);
    if (p.restrict_flags == 0) p.notes.push_back(abi_note(abi, "no audit log flags (needs 7)"));
  }

  RulesetAttr attr{p.handled_fs, p.handled_net, p.scoped};
  long fd = ::syscall(SYS_landlock_create_ruleset, &attr, ruleset_attr_size(abi), 0);
  if (fd < 0) throw_system("landlock", "landlock_create_ruleset", errno);
  p.ruleset.reset(static_cast<int>(fd));

  // A grant whose rights an ancestor's grant already gives adds nothing:
  // Landlock unions the rules met on the walk from a file up to the root,
  // across mount points. Lexical ancestry is enough because grant paths
  // hold no symlinks.
  std::vector<const Merged*> kept;
  for (const auto& m : merged) {
    uint64_t allowed = m.rights & p.handled_fs;
    if (allowed == 0) continue;
    bool covered = std::any_of(merged.begin(), merged.end(), [&](const Merged& a) {
      return is_ancestor(a.path, m.path) && (m.rights & ~a.rights) == 0;
    });
    if (!covered) kept.push_back(&m);
  }
  // All strings first: the rules point into them, and a growing vector
  // would move short (inline-buffer) strings.
  p.paths.reserve(kept.size());
  for (const Merged* m : kept) p.paths.push_back(m->path);
  p.rules.reserve(kept.size());
  for (size_t i = 0; i < kept.size(); ++i)
    p.rules.push_back({p.paths[i].c_str(), kept[i]->rights & p.handled_fs});
  return p;
}

}  // namespace sbx::landlock
