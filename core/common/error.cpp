#include "core/common/error.hpp"

#include <cerrno>
#include <cstring>

namespace sbx {

std::string errno_name(int e) {
  // strerrorname_np is glibc >= 2.32; Debian 12 ships 2.36.
  const char* n = strerrorname_np(e);
  if (n != nullptr) return n;
  return "E" + std::to_string(e);
}

std::string errno_text(int e) {
  char buf[128];
  const char* s = strerror_r(e, buf, sizeof buf);
  return std::string(s) + " (" + errno_name(e) + ")";
}

void throw_invalid(const std::string& what_arg, const std::string& message) {
  throw Error(SBX_E_INVALID, "argument", 0, what_arg + ": " + message);
}

void throw_system(const std::string& step, const std::string& what, int e) {
  throw Error(SBX_E_SYSTEM, step, e, what + ": " + errno_text(e));
}

}  // namespace sbx
