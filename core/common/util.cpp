#include "core/common/util.hpp"

#include <fcntl.h>
#include <limits.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "core/common/error.hpp"
#include "core/common/fd.hpp"

namespace sbx {

std::string normalize_box_path(std::string_view path, const std::string& what) {
  if (path.empty()) throw_invalid(what, "path is empty");
  if (has_nul(path)) throw_invalid(what, "path contains a NUL byte");
  if (path.size() >= PATH_MAX) throw_invalid(what, "path is longer than PATH_MAX");
  if (path[0] != '/') throw_invalid(what, "'" + std::string(path) + "' is not an absolute path");
  std::string out;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = i;
    while (j < path.size() && path[j] != '/') ++j;
    if (j == i) break;
    std::string_view comp = path.substr(i, j - i);
    if (comp == "." || comp == "..")
      throw_invalid(what, "'" + std::string(path) + "' contains a '" + std::string(comp) + "' component");
    if (comp.size() > NAME_MAX) throw_invalid(what, "a path component is longer than NAME_MAX");
    out += '/';
    out += comp;
    i = j;
  }
  if (out.empty()) out = "/";
  return out;
}

void require_absolute(std::string_view path, const std::string& what) {
  if (path.empty()) throw_invalid(what, "path is empty");
  if (has_nul(path)) throw_invalid(what, "path contains a NUL byte");
  if (path.size() >= PATH_MAX) throw_invalid(what, "path is longer than PATH_MAX");
  if (path[0] != '/') throw_invalid(what, "'" + std::string(path) + "' is not an absolute path");
}

std::string canonical_host_path(const std::string& path, const std::string& what) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) {
    int e = errno;
    throw Error(SBX_E_INVALID, "argument", e, what + " '" + path + "': " + errno_text(e));
  }
  return buf;
}

bool read_small_file(const std::string& path, std::string* out) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  out->clear();
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
    if (out->size() > (1u << 20)) break;
  }
  return true;
}

uint64_t monotonic_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace sbx
