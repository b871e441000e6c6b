// Capability probe (SPEC I5): which sandbox layers this host supports, found
// by trying each one (in short-lived children where it changes process
// state), and, for every layer that does not work, why and how to fix it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sbx {

struct ProbeEntry {
  std::string name;  // stable key, e.g. "namespace.user", "cgroup.v1.memory"
  bool supported = false;
  std::string detail;  // what was found, e.g. "ABI 7" or "EPERM: ..."
  std::string fix;     // how to make it work; empty when supported
};

// Runs every check. Never throws except std::bad_alloc; a check that cannot
// run is reported as an unsupported entry, not as an error. Leaves no fds,
// processes or files behind and reaps only the children it started.
std::vector<ProbeEntry> run_probe();

// {"rootless":..,"euid":..,"kernel":..,"entries":[..],"summary":{..}}.
std::string probe_to_json(const std::vector<ProbeEntry>& entries);

// The body of a JSON string literal (without the quotes). Invalid UTF-8 is
// replaced by U+FFFD so that the document stays valid JSON whatever bytes
// the host puts into paths or proc files.
std::string json_escape(std::string_view s);

}  // namespace sbx
