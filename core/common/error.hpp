// The core's error type. Core code throws sbx::Error; the C boundary
// (capi/capi_internal.hpp) turns it into an sbx_status plus an sbx_error.
#pragma once

#include <sbx/sbx.h>

#include <stdexcept>
#include <string>

namespace sbx {

class Error : public std::runtime_error {
 public:
  Error(int code, std::string step, int sys_errno, const std::string& message)
      : std::runtime_error(message), code_(code), step_(std::move(step)), errno_(sys_errno) {}

  int code() const noexcept { return code_; }
  const std::string& step() const noexcept { return step_; }
  int sys_errno() const noexcept { return errno_; }

 private:
  int code_;
  std::string step_;
  int errno_;
};

// "ENOENT" for 2; "E<n>" for numbers without a name.
std::string errno_name(int e);
// "No such file or directory (ENOENT)".
std::string errno_text(int e);

[[noreturn]] void throw_invalid(const std::string& what_arg, const std::string& message);
// Throws SBX_E_SYSTEM with "<what>: <strerror> (<ENAME>)" for errno E.
[[noreturn]] void throw_system(const std::string& step, const std::string& what, int e);

}  // namespace sbx
