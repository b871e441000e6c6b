// BoxCgroup: the directories of one box, its limits, its report, kill,
// freeze and usage. All system access goes through Ops (ops.hpp).
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>

#include "core/cgroup/cgroup.hpp"
#include "core/cgroup/parse.hpp"
#include "core/common/error.hpp"
#include "core/common/fd.hpp"
#include "core/common/util.hpp"

namespace sbx::cgroup {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::microseconds;
using std::chrono::milliseconds;

constexpr uint64_t kCpuPeriodUs = 100000;
constexpr uint64_t kPidMaxLimit = 4194304;  // PID_MAX_LIMIT on 64-bit kernels
constexpr size_t kNameMax = 64;
constexpr int kMkdirRetries = 4;

size_t idx(Controller c) {
  return static_cast<size_t>(c);
}

bool is_resource(Controller c) {
  return c == Controller::kMemory || c == Controller::kPids || c == Controller::kCpu;
}

std::string parent_dir(const std::string& p) {
  size_t s = p.find_last_of('/');
  if (s == std::string::npos || s == 0) return "/";
  return p.substr(0, s);
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string joined(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

// True if DIR is MOUNT or below it.
bool under(const std::string& dir, const std::string& mount) {
  if (mount.empty()) return false;
  if (dir == mount) return true;
  if (mount == "/") return !dir.empty() && dir[0] == '/';
  return dir.size() > mount.size() && dir.compare(0, mount.size(), mount) == 0 && dir[mount.size()] == '/';
}

// The deepest directory both A and B are in (both absolute, normalised).
std::string common_ancestor(const std::string& a, const std::string& b) {
  std::string c = a;
  while (!(under(b, c))) {
    if (c == "/") break;
    c = parent_dir(c);
  }
  return c;
}

void validate_name(const std::string& name) {
  const std::string what = "cgroup name";
  if (name.empty()) throw_invalid(what, "is empty");
  if (name.size() > kNameMax)
    throw_invalid(what, "'" + name.substr(0, kNameMax) + "...' is longer than 64 characters");
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-';
    if (!ok) {
      // Printable in the message even when the byte is not.
      std::string shown;
      for (char d : name) shown += (d >= 0x20 && d < 0x7f) ? d : '?';
      throw_invalid(what, "'" + shown + "' may only contain A-Z a-z 0-9 _ . - (no '/')");
    }
  }
  if (name == "." || name == "..") throw_invalid(what, "'" + name + "' is not a directory name");
}

void validate_limits(const Limits& l) {
  const std::string what = "cgroup limits";
  if (l.memory_max && *l.memory_max < 4096)
    throw_invalid(what, "memory_max " + std::to_string(*l.memory_max) + " is below one page (4096 bytes)");
  if (l.memory_high && *l.memory_high < 4096)
    throw_invalid(what, "memory_high " + std::to_string(*l.memory_high) + " is below one page (4096 bytes)");
  if (l.memory_max && l.memory_swap_max && *l.memory_swap_max > UINT64_MAX - *l.memory_max)
    throw_invalid(what, "memory_max + memory_swap_max overflows 64 bits");
  if (l.cpus && (!std::isfinite(*l.cpus) || *l.cpus < 0.01 || *l.cpus > 1e6)) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", *l.cpus);
    throw_invalid(what, std::string("cpus ") + buf + " is outside 0.01 .. 1000000");
  }
  if (l.cpu_weight && (*l.cpu_weight < 1 || *l.cpu_weight > 10000))
    throw_invalid(what, "cpu_weight " + std::to_string(*l.cpu_weight) + " is outside 1 .. 10000");
  if (l.pids_max && (*l.pids_max < 1 || *l.pids_max > kPidMaxLimit))
    throw_invalid(what, "pids_max " + std::to_string(*l.pids_max) + " is outside 1 .. 4194304");
}

// Where the box directories go, relative to each hierarchy's mount.
struct ParentSpec {
  bool explicit_parent = false;
  std::string rel = "sbx";
};

ParentSpec resolve_parent(const Layout& layout, const std::string& parent) {
  ParentSpec ps;
  if (parent.empty()) return ps;
  const std::string what = "cgroup parent";
  ps.explicit_parent = true;
  if (has_nul(parent)) throw_invalid(what, "contains a NUL byte");
  if (parent[0] == '/') {
    std::string p = normalize_box_path(parent, what);
    std::string best;
    std::vector<std::string> mounts;
    if (!layout.v2_mount.empty()) mounts.push_back(layout.v2_mount);
    for (const auto& [c, v] : layout.v1) mounts.push_back(v.mount);
    for (const auto& m : mounts)
      if (under(p, m) && m.size() > best.size()) best = m;
    if (best.empty())
      throw_invalid(what, "'" + parent + "' is not inside a cgroup mount (" + joined(mounts, ", ") + ")");
    ps.rel = p.size() > best.size() ? p.substr(best.size() + (best == "/" ? 0 : 1)) : "";
    return ps;
  }
  std::string rel;
  size_t i = 0;
  while (i < parent.size()) {
    size_t j = parent.find('/', i);
    if (j == std::string::npos) j = parent.size();
    std::string comp = parent.substr(i, j - i);
    i = j + 1;
    if (comp.empty()) continue;
    if (comp == "." || comp == "..")
      throw_invalid(what, "'" + parent + "' contains a '" + comp + "' component");
    if (comp.size() > NAME_MAX)
      throw_invalid(what, "a component of '" + parent + "' is longer than NAME_MAX");
    rel = join_path(rel, comp);
  }
  if (rel.empty()) throw_invalid(what, "'" + parent + "' names no directory");
  ps.rel = rel;
  return ps;
}

std::string why(const std::string& what, int e) {
  return what + ": " + errno_text(e);
}

uint64_t ninety_percent(uint64_t v) {
  return static_cast<uint64_t>(static_cast<unsigned __int128>(v) * 9 / 10);
}

std::string fmt_cpus(double cpus) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", cpus);
  return buf;
}

}  // namespace

// ------------------------------------------------------------------ Dir

struct BoxCgroup::Dir {
  Version version = Version::kNone;
  std::string path;
  std::vector<Controller> serves;
  UniqueFd procs_fd;
};

BoxCgroup::BoxCgroup(std::shared_ptr<Ops> ops) : ops_(std::move(ops)) {}

// ------------------------------------------------------------------ Plan

// The one-shot work of create(): decide, make the directories, apply the
// limits, write the report. A nested class so that it can fill the box.
struct BoxCgroup::Plan {
  const Layout& layout;
  const std::string& name;
  const Limits& lim;
  const Options& opt;
  BoxCgroup& box;
  Ops& ops;
  ParentSpec parent;
  uid_t euid = 0;

  bool need[5] = {};
  // Why a needed controller has no directory (each attempt adds a line).
  std::vector<std::string> reasons[5];
  int err[5] = {};
  std::vector<Enforcement> rows;
  // Requested limits that degraded (for strict mode): the message lines.
  std::vector<std::string> strict_failures;
  int strict_errno = 0;

  void fail(Controller c, const std::string& reason, int e) {
    reasons[idx(c)].push_back(reason);
    if (err[idx(c)] == 0) err[idx(c)] = e;
  }
  bool served(Controller c) const { return box.serving_[idx(c)] >= 0; }

  // ---------------------------------------------------------------- v2

  // The directory to create the box's parent in (BASE, which sbx may modify:
  // the v2 root as root, a delegated cgroup, or the parent it was told to
  // use) and the components to create below it. False with REASON when
  // there is none.
  bool locate_v2(const std::vector<Controller>& resources, std::string* base, std::vector<std::string>* comps,
                 std::string* reason, int* e) {
    const std::string& m = layout.v2_mount;
    if (parent.explicit_parent || euid == 0) {
      std::string target = join_path(m, parent.rel);
      // As root by default, BASE is the v2 root: controllers get enabled
      // there too (only those it offers and lacks). A parent we were told to
      // use is modified itself, nothing above it: BASE is its deepest
      // existing part.
      std::string d = m;
      if (parent.explicit_parent) {
        d = target;
        while (d != m && !ops.exists(d)) d = parent_dir(d);
      }
      *base = d;
      std::string rest = target.size() > d.size() ? target.substr(d.size() + 1) : "";
      size_t i = 0;
      while (i < rest.size()) {
        size_t j = rest.find('/', i);
        if (j == std::string::npos) j = rest.size();
        comps->push_back(rest.substr(i, j - i));
        i = j + 1;
      }
      return true;
    }
    // Rootless default: the nearest delegated ancestor-or-self of our cgroup.
    std::string self = layout.v2_self_dir();
    if (self.empty()) {
      *reason = "the caller's cgroup '" + layout.v2_self + "' is not visible under " + m;
      *e = ENOENT;
      return false;
    }
    std::vector<std::string> tried;
    for (std::string d = self;; d = parent_dir(d)) {
      uid_t owner = 0;
      int oe = ops.owner(d, &owner);
      std::string no;
      if (oe != 0) {
        no = why("stat", oe);
      } else if (owner != euid) {
        no = "owned by uid " + std::to_string(owner) + ", not " + std::to_string(euid);
      } else if (!ops.writable(join_path(d, "cgroup.subtree_control"))) {
        no = "cgroup.subtree_control is not writable";
      } else if (!ops.writable(join_path(d, "cgroup.procs"))) {
        no = "cgroup.procs is not writable";
      } else {
        std::string text;
        std::vector<pid_t> procs;
        if (ops.read_file(join_path(d, "cgroup.procs"), &text) == 0) procs = parse_pids(text);
        std::vector<std::string> enabled;
        if (ops.read_file(join_path(d, "cgroup.subtree_control"), &text) == 0) enabled = split_words(text);
        std::vector<std::string> missing;
        for (Controller c : resources)
          if (!contains(enabled, controller_name(c))) missing.push_back(controller_name(c));
        if (procs.empty() || missing.empty()) {
          *base = d;
          comps->push_back("sbx");
          return true;
        }
        no = "has processes of its own (e.g. pid " + std::to_string(procs[0]) +
             "), so the no-internal-process rule forbids enabling " + joined(missing, " ") + " below it";
      }
      tried.push_back(d + ": " + no);
      if (d == m || d == "/") break;
    }
    std::string ctl;
    for (Controller c : resources) ctl += std::string(ctl.empty() ? "+" : " +") + controller_name(c);
    std::string u = std::to_string(euid);
    std::string top = join_path(m, "sbx-" + u);
    *reason =
        "no delegated cgroup v2 subtree for uid " + u + " (caller in " + self + "; " + joined(tried, "; ") +
        "). Fix: run under a delegated systemd unit (systemd-run --user --scope -p Delegate=yes CMD), or "
        "as root: mkdir -p " +
        top + "/host && chown -R " + u + " " + top +
        (ctl.empty()
             ? std::string()
             : " && echo '" + ctl + "' > " + top + "/cgroup.subtree_control (after enabling them in " +
                   join_path(m, "cgroup.subtree_control") + ")") +
        ", start the host process in " + top + "/host (echo PID > " + top +
        "/host/cgroup.procs); sbx then uses " + top + " by itself";
    *e = EACCES;
    return false;
  }

  // Enables RESOURCES in DIR/cgroup.subtree_control where they are not yet;
  // the ones that fail are dropped from RESOURCES with a reason.
  void enable_in(const std::string& dir, std::vector<Controller>* resources) {
    if (resources->empty()) return;
    std::string sc = join_path(dir, "cgroup.subtree_control");
    std::string text;
    std::vector<std::string> enabled;
    if (ops.read_file(sc, &text) == 0) enabled = split_words(text);
    std::string add;
    for (Controller c : *resources)
      if (!contains(enabled, controller_name(c)))
        add += std::string(add.empty() ? "+" : " +") + controller_name(c);
    if (add.empty()) return;
    int e = ops.write_file(sc, add);
    if (e == 0) return;
    std::string r = "writing '" + add + "' to " + sc + " failed: " + errno_text(e);
    if (e == EBUSY)
      r += " (" + dir +
           " has processes of its own: the no-internal-process rule; use a parent without processes)";
    else if (e == EACCES || e == EPERM)
      r += ". Fix: run as the owner of " + dir + " (a delegated subtree) or pass a delegated parent";
    for (Controller c : *resources) fail(c, r, e);
    resources->clear();
  }

  // mkdir with EEXIST accepted; the error otherwise.
  int ensure_dir(const std::string& d) {
    int e = ops.make_dir(d, 0755);
    return e == EEXIST ? 0 : e;
  }

  void try_v2() {
    std::vector<Controller> want;
    for (Controller c : kAllControllers)
      if (need[idx(c)] && !served(c) && layout.version_of(c) == Version::kV2) want.push_back(c);
    if (want.empty()) return;
    auto fail_all = [&](const std::string& r, int e) {
      for (Controller c : want) fail(c, "cgroup v2: " + r, e);
    };
    std::vector<Controller> resources;
    for (Controller c : want)
      if (is_resource(c)) resources.push_back(c);

    std::string base, reason;
    std::vector<std::string> comps;
    int e = 0;
    if (!locate_v2(resources, &base, &comps, &reason, &e)) return fail_all(reason, e);

    std::string target = base;
    for (const auto& c : comps) target = join_path(target, c);
    // Moving a process between two cgroups takes write access to the
    // cgroup.procs of their common ancestor; check it before creating
    // anything that could never be used.
    std::string self = layout.v2_self_dir();
    if (!self.empty()) {
      std::string common = common_ancestor(self, target);
      std::string cp = join_path(common, "cgroup.procs");
      if (!ops.writable(cp))
        return fail_all("moving a process from " + self + " into " + target + "/" + name +
                            " needs write access to " + cp + " (their common ancestor), which uid " +
                            std::to_string(euid) + " lacks. Fix: start the host process inside " + target +
                            "'s delegated subtree (in a leaf such as " +
                            join_path(parent_dir(target), "host") +
                            ") or run under systemd-run --user --scope -p Delegate=yes",
                        EACCES);
    }

    // Controllers must be offered by BASE (its parent's subtree_control) to
    // be enabled below it.
    if (!resources.empty()) {
      std::string text;
      std::vector<std::string> offered;
      if (ops.read_file(join_path(base, "cgroup.controllers"), &text) == 0) offered = split_words(text);
      std::vector<Controller> ok;
      for (Controller c : resources) {
        if (contains(offered, controller_name(c))) {
          ok.push_back(c);
          continue;
        }
        fail(c,
             std::string("cgroup v2: '") + controller_name(c) + "' is absent from " + base +
                 "/cgroup.controllers (offered: " + (offered.empty() ? "none" : joined(offered, " ")) +
                 "). Fix: enable it in the parent's cgroup.subtree_control (echo +" + controller_name(c) +
                 " > " + join_path(parent_dir(base), "cgroup.subtree_control") +
                 " as its owner) or use a delegated parent",
             ENOENT);
      }
      resources = std::move(ok);
    }
    enable_in(base, &resources);

    std::string dir;
    for (int attempt = 0;; ++attempt) {
      std::string cur = base;
      bool parents_ok = true;
      for (const auto& c : comps) {
        cur = join_path(cur, c);
        int me = ensure_dir(cur);
        if (me != 0) {
          fail_all("creating " + cur + " failed: " + errno_text(me) + rootless_hint_v2(me), me);
          parents_ok = false;
          break;
        }
        enable_in(cur, &resources);
      }
      if (!parents_ok) return;
      dir = join_path(cur, name);
      int me = ops.make_dir(dir, 0755);
      if (me == 0) break;
      // The parent vanished between our mkdirs (someone removed an empty
      // shared parent): create it again.
      if (me == ENOENT && attempt + 1 < kMkdirRetries) continue;
      return fail_all(
          "creating " + dir + " failed: " + errno_text(me) + exists_hint(me, dir) + rootless_hint_v2(me), me);
    }
    Dir d;
    d.version = Version::kV2;
    d.path = dir;
    int fd = ops.open_file(join_path(dir, "cgroup.procs"), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      ops.remove_dir(dir);
      return fail_all("opening " + dir + "/cgroup.procs failed: " + errno_text(-fd), -fd);
    }
    d.procs_fd.reset(fd);
    if (opt.clone_into) {
      int dfd = ops.open_file(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dfd < 0) {
        ops.remove_dir(dir);
        return fail_all("opening " + dir + " failed: " + errno_text(-dfd), -dfd);
      }
      box.clone_fd_ = dfd;
    }
    box.has_kill_file_ = ops.exists(join_path(dir, "cgroup.kill"));
    for (Controller c : want) {
      if (is_resource(c) && !contains_c(resources, c)) continue;
      if (c == Controller::kFreezer && !ops.exists(join_path(dir, "cgroup.freeze"))) {
        fail(c, "cgroup v2: " + dir + "/cgroup.freeze does not exist (Linux < 5.2)", ENOENT);
        continue;
      }
      d.serves.push_back(c);
    }
    box.v2_ = static_cast<int>(box.dirs_.size());
    for (Controller c : d.serves) box.serving_[idx(c)] = box.v2_;
    box.dirs_.push_back(std::move(d));
  }

  static bool contains_c(const std::vector<Controller>& v, Controller c) {
    return std::find(v.begin(), v.end(), c) != v.end();
  }

  static std::string exists_hint(int e, const std::string& dir) {
    if (e != EEXIST) return "";
    return " (another box uses the name, or a leftover of a crashed one: rmdir " + dir + ")";
  }

  std::string rootless_hint_v2(int e) const {
    if (euid == 0 || (e != EACCES && e != EPERM)) return "";
    return ". Fix: pass a parent delegated to uid " + std::to_string(euid) +
           " or run under systemd-run --user --scope -p Delegate=yes";
  }

  // ---------------------------------------------------------------- v1

  // For hierarchies that include cpuset: a new cpuset cgroup starts with no
  // cpus and mems, and attaching to it fails with ENOSPC until they are set.
  void init_cpuset(const std::string& parent_path, const std::string& dir) {
    for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
      std::string v;
      if (ops.read_file(join_path(parent_path, f), &v) != 0) continue;
      while (!v.empty() && v.back() == '\n') v.pop_back();
      if (!v.empty()) ops.write_file(join_path(dir, f), v);
    }
  }

  void try_v1() {
    // Group the controllers still needed by hierarchy (co-mounted cpu,cpuacct
    // share one directory).
    std::vector<std::pair<std::string, std::vector<Controller>>> groups;
    for (Controller c : kAllControllers) {
      if (!need[idx(c)] || served(c)) continue;
      auto it = layout.v1.find(c);
      if (it == layout.v1.end()) continue;
      auto g =
          std::find_if(groups.begin(), groups.end(), [&](auto& p) { return p.first == it->second.mount; });
      if (g == groups.end())
        groups.push_back({it->second.mount, {c}});
      else
        g->second.push_back(c);
    }
    for (auto& [mount, ctrls] : groups) make_v1(mount, ctrls);
  }

  void make_v1(const std::string& mount, const std::vector<Controller>& ctrls) {
    const Layout::V1& v = layout.v1.at(ctrls[0]);
    bool cpuset = contains(v.comounted, "cpuset");
    auto fail_all = [&](const std::string& r, int e) {
      for (Controller c : ctrls) fail(c, "cgroup v1: " + r, e);
    };
    std::string parent_path = join_path(mount, parent.rel);
    std::string dir = join_path(parent_path, name);
    for (int attempt = 0;; ++attempt) {
      // mkdir -p of the shared parent; it is never removed.
      std::string cur = mount;
      std::string rest = parent.rel;
      size_t i = 0;
      while (i < rest.size()) {
        size_t j = rest.find('/', i);
        if (j == std::string::npos) j = rest.size();
        std::string up = cur;
        cur = join_path(cur, rest.substr(i, j - i));
        i = j + 1;
        int me = ops.make_dir(cur, 0755);
        if (me == 0 && cpuset) init_cpuset(up, cur);
        if (me != 0 && me != EEXIST)
          return fail_all("creating " + cur + " failed: " + errno_text(me) + rootless_hint_v1(me, mount), me);
      }
      int me = ops.make_dir(dir, 0755);
      if (me == 0) break;
      if (me == ENOENT && attempt + 1 < kMkdirRetries) continue;
      return fail_all("creating " + dir + " failed: " + errno_text(me) + exists_hint(me, dir) +
                          rootless_hint_v1(me, mount),
                      me);
    }
    if (cpuset) init_cpuset(parent_path, dir);
    Dir d;
    d.version = Version::kV1;
    d.path = dir;
    int fd = ops.open_file(join_path(dir, "cgroup.procs"), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      ops.remove_dir(dir);
      return fail_all(
          "opening " + dir + "/cgroup.procs failed: " + errno_text(-fd) + rootless_hint_v1(-fd, mount), -fd);
    }
    d.procs_fd.reset(fd);
    d.serves = ctrls;
    int at = static_cast<int>(box.dirs_.size());
    for (Controller c : ctrls) box.serving_[idx(c)] = at;
    box.dirs_.push_back(std::move(d));
  }

  std::string rootless_hint_v1(int e, const std::string& mount) const {
    if (euid == 0 || (e != EACCES && e != EPERM)) return "";
    std::string u = std::to_string(euid);
    std::string p = join_path(mount, "sbx-" + u);
    return "; cgroup v1 directories belong to root. Fix: as root, mkdir -p " + p + " && chown " + u + " " +
           p +
           " (likewise in every v1 hierarchy sbx uses: memory, pids, cpu, cpuacct, freezer), then pass "
           "'sbx-" +
           u + "' as the cgroup parent";
  }

  // ---------------------------------------------------------------- limits

  std::string unavailable(Controller c) const {
    const auto& r = reasons[idx(c)];
    if (!r.empty()) return joined(r, "; ");
    std::string n = controller_name(c);
    std::string offered =
        layout.v2_mount.empty()
            ? std::string("no cgroup2 tree is mounted")
            : "the cgroup2 tree at " + layout.v2_mount +
                  " offers: " + (layout.v2_controllers.empty() ? "none" : joined(layout.v2_controllers, " "));
    const char* config = "";
    switch (c) {
      case Controller::kMemory:
        config = "CONFIG_MEMCG";
        break;
      case Controller::kPids:
        config = "CONFIG_CGROUP_PIDS";
        break;
      case Controller::kCpu:
        config = "CONFIG_CGROUP_SCHED, CONFIG_CFS_BANDWIDTH";
        break;
      case Controller::kCpuacct:
        config = "CONFIG_CGROUP_CPUACCT";
        break;
      case Controller::kFreezer:
        config = "CONFIG_CGROUP_FREEZER";
        break;
    }
    return "no '" + n + "' controller on this host: no cgroup v1 hierarchy has it and " + offered +
           ". Fix: enable it in the kernel (" + config + ", cgroup_enable=" + n +
           " on the kernel command line) and mount cgroup2 (mount -t cgroup2 none /sys/fs/cgroup)";
  }

  int unavailable_errno(Controller c) const { return err[idx(c)] != 0 ? err[idx(c)] : EOPNOTSUPP; }

  void add_row(std::string limit, bool enforced, std::string mechanism, std::string detail, bool requested,
               int e) {
    if (!enforced && requested) {
      strict_failures.push_back(limit + ": " + detail);
      if (strict_errno == 0) strict_errno = e;
    }
    rows.push_back(Enforcement{std::move(limit), enforced, std::move(mechanism), std::move(detail)});
  }

  // Writes VALUE to FILE in the directory serving C and adds the row.
  void apply(const std::string& limit, Controller c, const std::string& file, const std::string& value,
             const std::string& shown, bool requested) {
    const Dir* d = box.dir_of(c);
    if (d == nullptr) return add_row(limit, false, "", unavailable(c), requested, unavailable_errno(c));
    std::string ver = d->version == Version::kV2 ? "cgroup v2 " : "cgroup v1 ";
    std::string path = join_path(d->path, file);
    int e = ops.write_file(path, value);
    if (e != 0)
      return add_row(limit, false, ver + file + " at " + d->path,
                     "writing '" + value + "' to " + path + " failed: " + errno_text(e), requested, e);
    add_row(limit, true, ver + file + " at " + d->path, shown, requested, 0);
  }

  void apply_limits() {
    if (const Dir* d = box.dir_of(Controller::kMemory); d == nullptr || d->version == Version::kV2)
      memory_v2();
    else
      memory_v1(*d);
    if (lim.cpus) {
      uint64_t quota = static_cast<uint64_t>(std::llround(*lim.cpus * kCpuPeriodUs));
      std::string shown = fmt_cpus(*lim.cpus) + " CPUs (quota " + std::to_string(quota) + " us per " +
                          std::to_string(kCpuPeriodUs) + " us)";
      const Dir* d = box.dir_of(Controller::kCpu);
      if (d != nullptr && d->version == Version::kV1) {
        // The period first: the kernel checks the quota against it.
        std::string pp = join_path(d->path, "cpu.cfs_period_us");
        int e = ops.write_file(pp, std::to_string(kCpuPeriodUs));
        if (e != 0)
          add_row("cpu.max", false, "cgroup v1 cpu.cfs_period_us at " + d->path,
                  "writing '" + std::to_string(kCpuPeriodUs) + "' to " + pp + " failed: " + errno_text(e),
                  true, e);
        else
          apply("cpu.max", Controller::kCpu, "cpu.cfs_quota_us", std::to_string(quota), shown, true);
      } else {
        apply("cpu.max", Controller::kCpu, "cpu.max",
              std::to_string(quota) + " " + std::to_string(kCpuPeriodUs), shown, true);
      }
    }
    if (lim.cpu_weight) {
      const Dir* d = box.dir_of(Controller::kCpu);
      if (d != nullptr && d->version == Version::kV1) {
        uint64_t shares = std::max<uint64_t>(2, uint64_t{*lim.cpu_weight} * 1024 / 100);
        apply("cpu.weight", Controller::kCpu, "cpu.shares", std::to_string(shares),
              "weight " + std::to_string(*lim.cpu_weight) + " as " + std::to_string(shares) + " shares",
              true);
      } else {
        apply("cpu.weight", Controller::kCpu, "cpu.weight", std::to_string(*lim.cpu_weight),
              "weight " + std::to_string(*lim.cpu_weight), true);
      }
    }
    if (lim.pids_max)
      apply("pids.max", Controller::kPids, "pids.max", std::to_string(*lim.pids_max),
            std::to_string(*lim.pids_max) + " processes/threads", true);
  }

  void memory_v2() {
    if (lim.memory_max)
      apply("memory.max", Controller::kMemory, "memory.max", std::to_string(*lim.memory_max),
            std::to_string(*lim.memory_max) + " bytes", true);
    if (lim.memory_high) {
      apply("memory.high", Controller::kMemory, "memory.high", std::to_string(*lim.memory_high),
            std::to_string(*lim.memory_high) + " bytes", true);
    } else if (lim.memory_max && box.dir_of(Controller::kMemory) != nullptr) {
      uint64_t h = ninety_percent(*lim.memory_max);
      apply("memory.high", Controller::kMemory, "memory.high", std::to_string(h),
            std::to_string(h) + " bytes (default: 90% of memory.max)", false);
    }
    const Dir* d = box.dir_of(Controller::kMemory);
    if (lim.memory_swap_max) {
      if (d != nullptr && !ops.exists(join_path(d->path, "memory.swap.max")))
        return add_row("memory.swap.max", false, "cgroup v2 memory.swap.max at " + d->path,
                       d->path +
                           "/memory.swap.max does not exist: swap accounting is off. Fix: boot with "
                           "swapaccount=1 (CONFIG_MEMCG_SWAP)",
                       true, ENOENT);
      apply("memory.swap.max", Controller::kMemory, "memory.swap.max", std::to_string(*lim.memory_swap_max),
            std::to_string(*lim.memory_swap_max) + " bytes", true);
    } else if (lim.memory_max && d != nullptr && ops.exists(join_path(d->path, "memory.swap.max"))) {
      apply("memory.swap.max", Controller::kMemory, "memory.swap.max", "0", "0 bytes (default: no swap)",
            false);
    }
  }

  void memory_v1(const Dir& d) {
    if (lim.memory_max)
      apply("memory.max", Controller::kMemory, "memory.limit_in_bytes", std::to_string(*lim.memory_max),
            std::to_string(*lim.memory_max) + " bytes", true);
    if (lim.memory_high)
      add_row("memory.high", false, "",
              "cgroup v1 has no memory.high (throttling before the hard limit); " + d.path +
                  " is a v1 memory cgroup. Only memory.max is enforced. Fix: use a host with the memory "
                  "controller "
                  "on cgroup v2 (systemd.unified_cgroup_hierarchy=1)",
              true, EOPNOTSUPP);
    bool memsw = ops.exists(join_path(d.path, "memory.memsw.limit_in_bytes"));
    if (lim.memory_swap_max) {
      if (!lim.memory_max)
        return add_row("memory.swap.max", false, "",
                       "cgroup v1 limits memory+swap together (memory.memsw.limit_in_bytes at " + d.path +
                           "): a swap limit needs memory_max as well",
                       true, EINVAL);
      if (!memsw)
        return add_row("memory.swap.max", false, "",
                       d.path +
                           "/memory.memsw.limit_in_bytes does not exist: swap accounting is off. Fix: boot "
                           "with swapaccount=1 (CONFIG_MEMCG_SWAP)",
                       true, ENOENT);
    }
    if (lim.memory_max && memsw && box.dir_of(Controller::kMemory) != nullptr) {
      uint64_t swap = lim.memory_swap_max.value_or(0);
      uint64_t v = *lim.memory_max + swap;
      // Set after memory.limit_in_bytes: the kernel requires memsw >= limit.
      apply("memory.swap.max", Controller::kMemory, "memory.memsw.limit_in_bytes", std::to_string(v),
            std::to_string(swap) + " bytes of swap (memory+swap " + std::to_string(v) + " bytes" +
                (lim.memory_swap_max ? ")" : "; default: no swap)"),
            lim.memory_swap_max.has_value());
    }
  }

  // ---------------------------------------------------------------- report rows

  void status_rows() {
    // accounting
    std::vector<std::string> have, missing;
    auto part = [&](const char* what, Controller c, const char* files) {
      const Dir* d = box.dir_of(c);
      if (d != nullptr)
        have.push_back(std::string(what) + ": cgroup " + (d->version == Version::kV2 ? "v2 " : "v1 ") +
                       files + " at " + d->path);
      else
        missing.push_back(std::string(what) + ": " +
                          (opt.want_accounting || need[idx(c)] ? unavailable(c) : "not requested"));
    };
    part("memory", Controller::kMemory, "memory.*");
    if (const Dir* d = box.dir_of(Controller::kCpuacct); d != nullptr && d->version == Version::kV2)
      part("cpu", Controller::kCpuacct, "cpu.stat");
    else
      part("cpu", Controller::kCpuacct, "cpuacct.*");
    part("pids", Controller::kPids, "pids.*");
    rows.push_back(Enforcement{"accounting", missing.empty(), joined(have, "; "), joined(missing, "; ")});

    // kill-tree
    if (box.dirs_.empty()) {
      // The hierarchy that would have served the kill says why (the limit
      // rows give every other hierarchy's reason).
      std::string r = "no cgroup directory could be created";
      for (Controller c : {Controller::kFreezer, Controller::kMemory, Controller::kPids, Controller::kCpu}) {
        if (!need[idx(c)]) continue;
        r += " (" + std::string(controller_name(c)) + ": " + unavailable(c) + ")";
        break;
      }
      if (!opt.want_accounting) r = "no cgroup was requested (no limits, want_accounting=false)";
      rows.push_back(
          Enforcement{"kill-tree", false, "",
                      r + "; processes that leave the box's process group can survive a kill unless "
                          "a pid namespace holds them"});
    } else {
      std::string mech;
      const Dir* f = box.dir_of(Controller::kFreezer);
      if (box.v2_ >= 0 && box.has_kill_file_)
        mech = "cgroup v2 cgroup.kill at " + box.dirs_[static_cast<size_t>(box.v2_)].path;
      else if (f != nullptr)
        mech = std::string("freeze (") +
               (f->version == Version::kV2 ? "cgroup v2 cgroup.freeze" : "cgroup v1 freezer") + " at " +
               f->path + "), SIGKILL every pid in cgroup.procs, thaw, until empty";
      else
        mech = "rounds of SIGKILL over cgroup.procs at " + box.dirs_[0].path +
               " until empty (no freezer: a fast fork loop is only bounded by pids.max)";
      rows.push_back(Enforcement{"kill-tree", true, mech, ""});
    }

    // freeze
    if (const Dir* f = box.dir_of(Controller::kFreezer)) {
      rows.push_back(Enforcement{"freeze", true,
                                 f->version == Version::kV2 ? "cgroup v2 cgroup.freeze at " + f->path
                                                            : "cgroup v1 freezer.state at " + f->path,
                                 ""});
    } else {
      rows.push_back(Enforcement{
          "freeze", false, "",
          (need[idx(Controller::kFreezer)] ? unavailable(Controller::kFreezer)
                                           : std::string("not requested (want_accounting=false)")) +
              "; pausing falls back to SIGSTOP/SIGCONT"});
    }
  }

  void run() {
    euid = ops.euid();
    bool mem = lim.memory_max || lim.memory_high || lim.memory_swap_max;
    need[idx(Controller::kMemory)] = mem || opt.want_accounting;
    need[idx(Controller::kPids)] = lim.pids_max.has_value() || opt.want_accounting;
    need[idx(Controller::kCpu)] = lim.cpus.has_value() || lim.cpu_weight.has_value();
    need[idx(Controller::kCpuacct)] = opt.want_accounting;
    need[idx(Controller::kFreezer)] = opt.want_accounting;
    try_v2();
    // v1 for what v2 does not serve, including cpuacct/freezer when the v2
    // directory could not be made (e.g. rootless on a hybrid host).
    try_v1();
    apply_limits();
    status_rows();
  }
};

// ------------------------------------------------------------------ create

std::unique_ptr<BoxCgroup> BoxCgroup::create(const Layout& layout, const std::string& name,
                                             const Limits& limits, const Options& options,
                                             std::vector<Enforcement>* report) {
  validate_name(name);
  validate_limits(limits);
  ParentSpec ps = resolve_parent(layout, options.parent);
  std::shared_ptr<Ops> ops = options.ops ? options.ops : std::make_shared<Ops>();
  // Owned from the first directory on: a throw anywhere below removes what
  // was created (the destructor).
  std::unique_ptr<BoxCgroup> box(new BoxCgroup(ops));
  Plan plan{layout, name, limits, options, *box, *ops, ps};
  plan.run();
  for (const Dir& d : box->dirs_) {
    if (d.version == Version::kV2 && options.clone_into) continue;
    box->attach_fds_.push_back(d.procs_fd.get());
  }
  // The report is filled in strict mode too: it says what the host lacks.
  if (report != nullptr) *report = std::move(plan.rows);
  if (options.strict && !plan.strict_failures.empty())
    throw Error(SBX_E_UNSUPPORTED, "cgroup", plan.strict_errno,
                "cgroup limits cannot be enforced (strict): " + joined(plan.strict_failures, "; "));
  return box;
}

// ------------------------------------------------------------------ destruction

BoxCgroup::~BoxCgroup() {
  try {
    auto until = ops_->now() + milliseconds(2000);
    if (!dirs_.empty() && !empty()) {
      auto left = std::chrono::duration_cast<milliseconds>(until - ops_->now());
      kill_all(std::max(left, milliseconds(0)));
    }
    if (clone_fd_ >= 0) ::close(clone_fd_);
    clone_fd_ = -1;
    attach_fds_.clear();
    for (Dir& d : dirs_) d.procs_fd.reset();
    // Short first steps: the last exits of a box are usually accounted within
    // tens of microseconds, and this runs on every box's teardown.
    microseconds step(50);
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      for (;;) {
        int e = ops_->remove_dir(it->path);
        // EBUSY: the last exits are still being accounted; retry within the
        // budget. Anything else (ENOENT: already gone) ends the attempt.
        if (e != EBUSY || ops_->now() >= until) break;
        ops_->sleep_for(step);
        step = std::min(step * 2, microseconds(20000));
      }
    }
  } catch (...) {
    // A destructor must not throw; what could not be removed stays.
  }
}

// ------------------------------------------------------------------ accessors

const BoxCgroup::Dir* BoxCgroup::dir_of(Controller c) const {
  int i = serving_[idx(c)];
  return i >= 0 ? &dirs_[static_cast<size_t>(i)] : nullptr;
}

int BoxCgroup::clone_into_fd() const {
  return clone_fd_;
}

int BoxCgroup::v2_procs_fd() const {
  return v2_ >= 0 ? dirs_[static_cast<size_t>(v2_)].procs_fd.get() : -1;
}

std::vector<std::string> BoxCgroup::paths() const {
  std::vector<std::string> out;
  for (const Dir& d : dirs_) out.push_back(d.path);
  return out;
}

bool BoxCgroup::kills_tree() const {
  return !dirs_.empty();
}

Version BoxCgroup::version_of(Controller c) const {
  const Dir* d = dir_of(c);
  return d != nullptr ? d->version : Version::kNone;
}

std::string BoxCgroup::path_of(Controller c) const {
  const Dir* d = dir_of(c);
  return d != nullptr ? d->path : std::string();
}

bool BoxCgroup::can_freeze() const {
  return dir_of(Controller::kFreezer) != nullptr;
}

// ------------------------------------------------------------------ processes

std::vector<pid_t> BoxCgroup::read_pids(const std::string& dir) const {
  std::string text;
  if (ops_->read_file(join_path(dir, "cgroup.procs"), &text) != 0) return {};
  return parse_pids(text);
}

std::vector<pid_t> BoxCgroup::pids() const {
  std::vector<pid_t> all;
  for (const Dir& d : dirs_) {
    std::vector<pid_t> p = read_pids(d.path);
    all.insert(all.end(), p.begin(), p.end());
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  return all;
}

bool BoxCgroup::empty() const {
  for (const Dir& d : dirs_)
    if (!read_pids(d.path).empty()) return false;
  return true;
}

void BoxCgroup::attach(pid_t pid) {
  std::string s = std::to_string(pid) + "\n";
  for (const Dir& d : dirs_) {
    ssize_t n;
    do {
      n = ::write(d.procs_fd.get(), s.data(), s.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      int e = errno;
      throw Error(SBX_E_SYSTEM, "cgroup", e,
                  "attaching pid " + std::to_string(pid) + ": writing " + join_path(d.path, "cgroup.procs") +
                      ": " + errno_text(e));
    }
  }
}

void BoxCgroup::signal_members(int sig, int* first_error, pid_t* failed_pid) {
  *first_error = 0;
  std::vector<pid_t> before = pids();
  if (before.empty()) return;
  // Pin each process first, then keep only those still listed: a pid that
  // was recycled by a process outside the box in between is not in the
  // second list (and the pidfd of the exited one gets ESRCH).
  std::vector<std::pair<pid_t, int>> pinned;
  pinned.reserve(before.size());
  for (pid_t p : before) {
    int fd = ops_->pidfd_open(p);
    if (fd == -ESRCH) continue;
    pinned.push_back({p, fd >= 0 ? fd : -1});  // -1: kill(2) (no pidfd on this kernel)
  }
  std::vector<pid_t> after = pids();
  for (auto& [p, fd] : pinned) {
    if (std::binary_search(after.begin(), after.end(), p)) {
      int e = ops_->send_signal(fd, p, sig);
      if (e != 0 && e != ESRCH && *first_error == 0) {
        *first_error = e;
        *failed_pid = p;
      }
    }
    if (fd >= 0) ::close(fd);
  }
}

void BoxCgroup::signal_all(int sig) {
  if (dirs_.empty())
    throw Error(SBX_E_UNSUPPORTED, "cgroup", 0,
                "signal_all: the box has no cgroup to enumerate its processes");
  int e = 0;
  pid_t p = 0;
  signal_members(sig, &e, &p);
  if (e != 0)
    throw Error(
        SBX_E_SYSTEM, "cgroup", e,
        "sending signal " + std::to_string(sig) + " to pid " + std::to_string(p) + ": " + errno_text(e));
}

bool BoxCgroup::wait_empty(Clock::time_point until) {
  microseconds step(50);
  for (;;) {
    if (empty()) return true;
    if (ops_->now() >= until) return false;
    ops_->sleep_for(step);
    step = std::min(step * 2, microseconds(10000));
  }
}

bool BoxCgroup::set_frozen(bool on, Clock::time_point until) {
  const Dir* f = dir_of(Controller::kFreezer);
  if (f == nullptr) return false;
  std::string file = join_path(f->path, f->version == Version::kV2 ? "cgroup.freeze" : "freezer.state");
  const char* v = f->version == Version::kV2 ? (on ? "1" : "0") : (on ? "FROZEN" : "THAWED");
  if (ops_->write_file(file, v) != 0) return false;
  if (!on) return true;
  microseconds step(500);
  for (;;) {
    if (frozen()) return true;
    if (ops_->now() >= until) return false;
    ops_->sleep_for(step);
    step = std::min(step * 2, microseconds(10000));
  }
}

bool BoxCgroup::kill_round(Clock::time_point until) {
  // Frozen, nothing in the box can fork between reading cgroup.procs and the
  // kills; the SIGKILLs take effect at the thaw.
  bool frz = can_freeze();
  if (frz) set_frozen(true, std::min(until, ops_->now() + milliseconds(500)));
  int e = 0;
  pid_t p = 0;
  signal_members(SIGKILL, &e, &p);
  if (frz) set_frozen(false, until);
  return e == 0;
}

bool BoxCgroup::kill_all(milliseconds budget) {
  if (dirs_.empty()) return true;
  auto until = ops_->now() + budget;
  if (v2_ >= 0 && has_kill_file_) {
    const std::string& d = dirs_[static_cast<size_t>(v2_)].path;
    if (ops_->write_file(join_path(d, "cgroup.kill"), "1") == 0 &&
        wait_empty(std::min(until, ops_->now() + milliseconds(500))))
      return true;
  }
  // Also the path for processes that are only in the v1 directories.
  for (;;) {
    if (empty()) return true;
    if (ops_->now() >= until) return false;
    kill_round(until);
    wait_empty(std::min(until, ops_->now() + milliseconds(100)));
  }
}

void BoxCgroup::freeze() {
  const Dir* f = dir_of(Controller::kFreezer);
  if (f == nullptr)
    throw Error(SBX_E_UNSUPPORTED, "cgroup", EOPNOTSUPP, "freeze: the box has no cgroup freezer");
  std::string file = join_path(f->path, f->version == Version::kV2 ? "cgroup.freeze" : "freezer.state");
  int e = ops_->write_file(file, f->version == Version::kV2 ? "1" : "FROZEN");
  if (e != 0) throw Error(SBX_E_SYSTEM, "cgroup", e, "freeze: writing " + file + ": " + errno_text(e));
  auto until = ops_->now() + milliseconds(1000);
  microseconds step(500);
  while (!frozen() && ops_->now() < until) {
    ops_->sleep_for(step);
    step = std::min(step * 2, microseconds(10000));
  }
}

void BoxCgroup::thaw() {
  const Dir* f = dir_of(Controller::kFreezer);
  if (f == nullptr)
    throw Error(SBX_E_UNSUPPORTED, "cgroup", EOPNOTSUPP, "thaw: the box has no cgroup freezer");
  std::string file = join_path(f->path, f->version == Version::kV2 ? "cgroup.freeze" : "freezer.state");
  int e = ops_->write_file(file, f->version == Version::kV2 ? "0" : "THAWED");
  if (e != 0) throw Error(SBX_E_SYSTEM, "cgroup", e, "thaw: writing " + file + ": " + errno_text(e));
}

bool BoxCgroup::frozen() const {
  const Dir* f = dir_of(Controller::kFreezer);
  if (f == nullptr)
    throw Error(SBX_E_UNSUPPORTED, "cgroup", EOPNOTSUPP, "frozen: the box has no cgroup freezer");
  std::string text;
  if (f->version == Version::kV2) {
    if (ops_->read_file(join_path(f->path, "cgroup.events"), &text) != 0) return false;
    return keyed_value(text, "frozen").value_or(0) == 1;
  }
  if (ops_->read_file(join_path(f->path, "freezer.state"), &text) != 0) return false;
  return split_words(text) == std::vector<std::string>{"FROZEN"};
}

// ------------------------------------------------------------------ usage

Usage BoxCgroup::usage() const {
  Usage u;
  std::string text;
  auto read = [&](const Dir* d, const char* file) {
    return d != nullptr && ops_->read_file(join_path(d->path, file), &text) == 0;
  };
  auto mul = [](std::optional<uint64_t> v, uint64_t f) -> std::optional<uint64_t> {
    if (!v) return v;
    return *v * f;
  };

  if (const Dir* m = dir_of(Controller::kMemory)) {
    if (m->version == Version::kV2) {
      if (read(m, "memory.peak")) u.memory_peak = parse_u64(text);
      if (read(m, "memory.events")) {
        u.memory_max_events = keyed_value(text, "max");
        u.oom_kills = keyed_value(text, "oom_kill");
      }
    } else {
      if (read(m, "memory.max_usage_in_bytes")) u.memory_peak = parse_u64(text);
      if (read(m, "memory.failcnt")) u.memory_max_events = parse_u64(text);
      if (read(m, "memory.oom_control")) u.oom_kills = keyed_value(text, "oom_kill");
    }
  }
  if (const Dir* a = dir_of(Controller::kCpuacct)) {
    if (a->version == Version::kV2) {
      if (read(a, "cpu.stat")) {
        u.cpu_usage_ns = mul(keyed_value(text, "usage_usec"), 1000);
        u.cpu_user_ns = mul(keyed_value(text, "user_usec"), 1000);
        u.cpu_system_ns = mul(keyed_value(text, "system_usec"), 1000);
      }
    } else {
      if (read(a, "cpuacct.usage")) u.cpu_usage_ns = parse_u64(text);
      if (read(a, "cpuacct.usage_user")) u.cpu_user_ns = parse_u64(text);
      if (read(a, "cpuacct.usage_sys")) u.cpu_system_ns = parse_u64(text);
      if ((!u.cpu_user_ns || !u.cpu_system_ns) && read(a, "cpuacct.stat")) {
        // Clock ticks (USER_HZ); older kernels have no usage_user/usage_sys.
        long hz = ::sysconf(_SC_CLK_TCK);
        uint64_t ns_per_tick = hz > 0 ? 1000000000ull / static_cast<uint64_t>(hz) : 10000000ull;
        if (!u.cpu_user_ns) u.cpu_user_ns = mul(keyed_value(text, "user"), ns_per_tick);
        if (!u.cpu_system_ns) u.cpu_system_ns = mul(keyed_value(text, "system"), ns_per_tick);
      }
    }
  }
  if (const Dir* c = dir_of(Controller::kCpu)) {
    if (read(c, "cpu.stat")) {
      u.nr_throttled = keyed_value(text, "nr_throttled");
      u.throttled_ns = c->version == Version::kV2 ? mul(keyed_value(text, "throttled_usec"), 1000)
                                                  : keyed_value(text, "throttled_time");
    }
  }
  if (const Dir* p = dir_of(Controller::kPids)) {
    if (read(p, "pids.peak")) u.pids_peak = parse_u64(text);
    if (read(p, "pids.events")) u.pids_max_events = keyed_value(text, "max");
  }
  return u;
}

}  // namespace sbx::cgroup
