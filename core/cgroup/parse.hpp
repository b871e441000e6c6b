// Text helpers of the cgroup layer: the kernel's cgroup files are small,
// whitespace separated and mostly "key value" lines.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sbx::cgroup {

// Splits on any ASCII whitespace; no empty words.
std::vector<std::string> split_words(std::string_view s);
// A decimal uint64 with surrounding whitespace; nullopt for anything else
// ("max", "-1", overflow, garbage).
std::optional<uint64_t> parse_u64(std::string_view s);
// The value of KEY in a flat keyed file ("key value" per line, e.g.
// memory.events, cpu.stat, pids.events, memory.oom_control).
std::optional<uint64_t> keyed_value(std::string_view content, std::string_view key);
// The pids of a cgroup.procs file, in file order; malformed lines skipped.
std::vector<pid_t> parse_pids(std::string_view content);
// Undoes mountinfo's octal escapes ("\040" for a space).
std::string unescape_mount_field(std::string_view s);
// A + "/" + B without doubling slashes; either may be empty.
std::string join_path(std::string_view a, std::string_view b);

}  // namespace sbx::cgroup
