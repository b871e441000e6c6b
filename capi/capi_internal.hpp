// The one C/C++ boundary. Every extern "C" entry point wraps its body in
// SBX_TRY / SBX_CATCH_RETURN(err): no exception crosses into C, and every
// failure becomes an sbx_status plus an optional sbx_error out-parameter.
#pragma once

#include <sbx/sbx.h>

#include <new>
#include <string>

#include "core/common/error.hpp"

struct sbx_error {
  int code;
  int sys_errno;
  std::string step;
  std::string message;
};

namespace sbx::capi {

// Stores a new error in *err (if err is non-NULL) and returns CODE.
int set_error(sbx_error** err, int code, const std::string& step, int sys_errno,
              const std::string& message) noexcept;

inline void clear_error(sbx_error** err) noexcept {
  if (err != nullptr) *err = nullptr;
}

}  // namespace sbx::capi

#define SBX_TRY try {
#define SBX_CATCH_RETURN(err)                                                                 \
  }                                                                                           \
  catch (const ::sbx::Error& e_) {                                                            \
    return ::sbx::capi::set_error((err), e_.code(), e_.step(), e_.sys_errno(), e_.what());    \
  }                                                                                           \
  catch (const std::bad_alloc&) {                                                             \
    return ::sbx::capi::set_error((err), SBX_E_NOMEM, "memory", ENOMEM, "out of memory");     \
  }                                                                                           \
  catch (const std::exception& e_) {                                                          \
    return ::sbx::capi::set_error((err), SBX_E_INTERNAL, "internal", 0, e_.what());           \
  }                                                                                           \
  catch (...) {                                                                               \
    return ::sbx::capi::set_error((err), SBX_E_INTERNAL, "internal", 0, "unknown exception"); \
  }

// Argument checks that name the offending parameter.
#define SBX_REQUIRE_ARG(cond, err, name)                                                    \
  do {                                                                                      \
    if (!(cond))                                                                            \
      return ::sbx::capi::set_error((err), SBX_E_INVALID, "argument", 0,                    \
                                    std::string(__func__) + ": " name " must not be NULL"); \
  } while (0)
