// Layout detection: which controller lives on which cgroup hierarchy.
#include <sys/stat.h>

#include <string_view>

#include "core/cgroup/cgroup.hpp"
#include "core/cgroup/parse.hpp"
#include "core/common/util.hpp"

namespace sbx::cgroup {

namespace {

// Controller names a v1 super-option list can contain. Only these count as
// "co-mounted" (the rest of the list are mount flags such as rw, xattr or
// release_agent=...).
constexpr std::string_view kV1Names[] = {"cpuset",  "cpu",     "cpuacct", "blkio",      "memory",
                                         "devices", "freezer", "net_cls", "perf_event", "net_prio",
                                         "hugetlb", "pids",    "rdma",    "misc",       "io"};

bool known_v1_name(std::string_view w) {
  for (std::string_view n : kV1Names)
    if (n == w) return true;
  return false;
}

std::vector<std::string> split_on(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    size_t e = s.find(sep, pos);
    if (e == std::string_view::npos) {
      out.emplace_back(s.substr(pos));
      return out;
    }
    out.emplace_back(s.substr(pos, e - pos));
    pos = e + 1;
  }
}

std::optional<Controller> controller_from_name(std::string_view n) {
  for (Controller c : kAllControllers)
    if (n == controller_name(c)) return c;
  return std::nullopt;
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  for (const auto& x : v)
    if (x == s) return true;
  return false;
}

// Maps cgroup PATH (as /proc/self/cgroup names it) to a directory under a
// mount that shows cgroup ROOT; "" when the path is not visible there.
std::string dir_under(const std::string& mount, const std::string& root, const std::string& path) {
  if (mount.empty() || path.empty()) return "";
  if (root == "/" || root.empty()) return join_path(mount, path);
  if (path == root) return mount;
  if (path.size() > root.size() && path.compare(0, root.size(), root) == 0 && path[root.size()] == '/')
    return join_path(mount, path.substr(root.size()));
  return "";
}

void parse_mountinfo(const std::string& text, Layout* l) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string_view line(text.data() + pos, eol - pos);
    pos = eol + 1;
    std::vector<std::string> f = split_words(line);
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
    size_t dash = 0;
    for (size_t i = 6; i < f.size(); ++i)
      if (f[i] == "-") {
        dash = i;
        break;
      }
    if (dash == 0 || f.size() < dash + 4) continue;
    const std::string& fstype = f[dash + 1];
    std::string root = unescape_mount_field(f[3]);
    std::string mnt = unescape_mount_field(f[4]);
    if (fstype == "cgroup2") {
      // The first cgroup2 mount wins; later ones are usually bind mounts of
      // the same tree into containers.
      if (l->v2_mount.empty()) {
        l->v2_mount = mnt;
        l->v2_root = root;
      }
      continue;
    }
    if (fstype != "cgroup") continue;
    std::vector<std::string> comounted;
    for (const std::string& o : split_on(f[dash + 3], ','))
      if (known_v1_name(o)) comounted.push_back(o);
    for (const std::string& o : comounted) {
      auto c = controller_from_name(o);
      if (!c) continue;
      auto it = l->v1.find(*c);
      // Prefer a mount that shows the whole hierarchy over a bind mount of a
      // sub-tree.
      if (it != l->v1.end() && !(it->second.root != "/" && root == "/")) continue;
      Layout::V1 v;
      v.mount = mnt;
      v.root = root;
      v.comounted = comounted;
      l->v1[*c] = std::move(v);
    }
  }
}

void parse_self_cgroup(const std::string& text, Layout* l) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string_view line(text.data() + pos, eol - pos);
    pos = eol + 1;
    size_t c1 = line.find(':');
    if (c1 == std::string_view::npos) continue;
    size_t c2 = line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    std::string_view ctrls = line.substr(c1 + 1, c2 - c1 - 1);
    std::string path(line.substr(c2 + 1));
    if (line.substr(0, c1) == "0" && ctrls.empty()) {
      l->v2_self = path;
      continue;
    }
    for (const std::string& n : split_on(ctrls, ',')) {
      auto c = controller_from_name(n);
      if (!c) continue;
      auto it = l->v1.find(*c);
      if (it != l->v1.end()) it->second.self = path;
    }
  }
}

// Without a readable mountinfo: the usual places under CGROUP_ROOT.
void probe_root(const std::string& cgroup_root, Layout* l) {
  struct stat st;
  auto has = [&](const std::string& p) { return ::stat(p.c_str(), &st) == 0; };
  if (has(join_path(cgroup_root, "cgroup.controllers"))) {
    l->v2_mount = cgroup_root;
    return;  // pure v2
  }
  if (has(join_path(cgroup_root, "unified/cgroup.controllers")))
    l->v2_mount = join_path(cgroup_root, "unified");
  for (Controller c : kAllControllers) {
    std::string m = join_path(cgroup_root, controller_name(c));
    if (!has(join_path(m, "cgroup.procs"))) continue;
    Layout::V1 v;
    v.mount = m;
    v.comounted = {controller_name(c)};
    l->v1[c] = std::move(v);
  }
}

}  // namespace

const char* controller_name(Controller c) {
  switch (c) {
    case Controller::kMemory:
      return "memory";
    case Controller::kPids:
      return "pids";
    case Controller::kCpu:
      return "cpu";
    case Controller::kCpuacct:
      return "cpuacct";
    case Controller::kFreezer:
      return "freezer";
  }
  return "?";
}

Layout Layout::detect(const HostPaths& hp) {
  Layout l;
  std::string text;
  if (read_small_file(hp.mountinfo, &text))
    parse_mountinfo(text, &l);
  else
    probe_root(hp.cgroup_root, &l);
  if (!l.v2_mount.empty() && read_small_file(join_path(l.v2_mount, "cgroup.controllers"), &text))
    l.v2_controllers = split_words(text);
  if (read_small_file(hp.proc_self_cgroup, &text)) parse_self_cgroup(text, &l);
  return l;
}

Version Layout::version_of(Controller c) const {
  bool v2 = false;
  if (!v2_mount.empty()) {
    if (c == Controller::kCpuacct || c == Controller::kFreezer)
      v2 = true;  // core files of every v2 cgroup: cpu.stat, cgroup.freeze
    else
      v2 = contains(v2_controllers, controller_name(c));
  }
  if (v2) return Version::kV2;
  if (v1.count(c) != 0) return Version::kV1;
  return Version::kNone;
}

std::string Layout::v2_self_dir() const {
  return dir_under(v2_mount, v2_root, v2_self.empty() ? "/" : v2_self);
}

std::string Layout::describe() const {
  bool any_v1 = !v1.empty();
  bool any_v2 = !v2_mount.empty();
  std::string out = any_v1 && any_v2 ? "hybrid" : any_v2 ? "v2" : any_v1 ? "v1" : "none";
  out += ":";
  bool first = true;
  for (Controller c : kAllControllers) {
    out += first ? " " : ", ";
    first = false;
    out += controller_name(c);
    switch (version_of(c)) {
      case Version::kV2:
        out += (c == Controller::kCpuacct || c == Controller::kFreezer) ? " v2 core (" : " v2 (";
        out += v2_mount + ")";
        break;
      case Version::kV1: {
        const V1& v = v1.at(c);
        out += " v1 (" + v.mount + ")";
        break;
      }
      case Version::kNone:
        out += " unavailable";
        break;
    }
  }
  if (any_v2) {
    out += "; v2 " + v2_mount + " offers: ";
    if (v2_controllers.empty()) out += "no controllers";
    for (size_t i = 0; i < v2_controllers.size(); ++i) out += (i ? " " : "") + v2_controllers[i];
  }
  return out;
}

}  // namespace sbx::cgroup
