// Small helpers shared by the core: path rules, file I/O, number parsing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sbx {

// An absolute path without empty, "." or ".." components; at most PATH_MAX
// bytes. WHAT names the argument in the error message. Returns the path with
// duplicate and trailing slashes removed ("/a//b/" -> "/a/b").
std::string normalize_box_path(std::string_view path, const std::string& what);

// The same rules but for a host path that will be canonicalised later:
// absolute and without NUL; "." and ".." are allowed (realpath resolves them).
void require_absolute(std::string_view path, const std::string& what);

// realpath(3) with an error that names WHAT and the errno.
std::string canonical_host_path(const std::string& path, const std::string& what);

// Whole-file helpers that never throw on short files; errno-preserving.
bool read_small_file(const std::string& path, std::string* out);

// Monotonic clock in nanoseconds.
uint64_t monotonic_ns();

// True if STR contains a NUL byte (possible through std::string inputs).
inline bool has_nul(std::string_view s) {
  return s.find('\0') != std::string_view::npos;
}

}  // namespace sbx
