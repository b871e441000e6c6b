// The extern "C" surface of libsbx: handle wrappers around the C++ core,
// argument checks, and the exception-to-status boundary (SBX_TRY /
// SBX_CATCH_RETURN). Nothing here does real work.
#include <signal.h>
#include <string.h>

#include <cstdlib>
#include <memory>

#include "capi/capi_internal.hpp"
#include "core/box/box.hpp"
#include "core/config/config.hpp"
#include "core/monitor/process.hpp"

struct sbx_config {
  sbx::BoxConfig c;
};
struct sbx_spec {
  sbx::ProcSpec s;
};
struct sbx_box {
  std::unique_ptr<sbx::Box> b;
};
struct sbx_proc {
  std::shared_ptr<sbx::Process> p;
};

namespace sbx::capi {

int set_error(sbx_error** err, int code, const std::string& step, int sys_errno,
              const std::string& message) noexcept {
  if (err == nullptr) return code;
  *err = nullptr;
  try {
    *err = new sbx_error{code, sys_errno, step, message};
  } catch (...) {
    // Out of memory while reporting: the status code still says what failed.
  }
  return code;
}

}  // namespace sbx::capi

namespace {

using sbx::capi::clear_error;
using sbx::capi::set_error;

int fill_exit(const sbx::ExitRecord& r, sbx_exit_status* out, sbx_error** err) {
  sbx_exit_status full;
  memset(&full, 0, sizeof full);
  full.size = sizeof full;
  full.kind = r.kind;
  full.code = r.code;
  full.signal = r.signal;
  full.core_dumped = r.core_dumped;
  full.reason = r.reason;
  full.pid = r.pid;
  full.wall_ns = r.wall_ns;
  full.cpu_user_ns = r.cpu_user_ns;
  full.cpu_system_ns = r.cpu_system_ns;
  full.memory_peak_bytes = r.memory_peak_bytes;
  full.pids_peak = r.pids_peak;
  full.output_bytes = r.output_bytes;
  full.limits_hit = r.limits_hit;
  full.usage_valid = r.usage_valid;
  size_t n = out->size < sizeof full ? out->size : sizeof full;
  memcpy(reinterpret_cast<char*>(out) + sizeof(size_t), reinterpret_cast<const char*>(&full) + sizeof(size_t),
         n - sizeof(size_t));
  clear_error(err);
  return SBX_OK;
}

// A caller's exit struct must be at least the first released layout and, if
// larger (a newer header), zero past our end.
int check_exit_struct(const sbx_exit_status* out, sbx_error** err) {
  const size_t v1 = offsetof(sbx_exit_status, wall_ns) + sizeof(uint64_t);
  if (out->size < v1)
    return set_error(err, SBX_E_INVALID, "argument", 0,
                     "sbx_exit_status.size is " + std::to_string(out->size) +
                         " (set it to sizeof(sbx_exit_status), or use SBX_EXIT_STATUS_INIT)");
  if (out->size > (1u << 16))
    return set_error(err, SBX_E_INVALID, "argument", 0,
                     "sbx_exit_status.size is " + std::to_string(out->size) + ": not a sbx_exit_status");
  const char* bytes = reinterpret_cast<const char*>(out);
  for (size_t i = sizeof(sbx_exit_status); i < out->size; ++i)
    if (bytes[i] != 0)
      return set_error(err, SBX_E_INVALID, "argument", 0,
                       "sbx_exit_status has non-zero bytes beyond the fields this library knows");
  return SBX_OK;
}

int wait_status(int r, const sbx::ExitRecord& rec, sbx_exit_status* out, sbx_error** err, const char* what) {
  if (r == SBX_OK) return fill_exit(rec, out, err);
  if (r == SBX_E_TIMEOUT) return set_error(err, r, "wait", ETIMEDOUT, std::string(what) + ": timed out");
  return set_error(err, r, "wait", EINTR, std::string(what) + ": interrupted");
}

}  // namespace

extern "C" {

// ------------------------------------------------------------ version

SBX_API const char* sbx_version(int* major, int* minor, int* patch) {
  if (major) *major = SBX_VERSION_MAJOR;
  if (minor) *minor = SBX_VERSION_MINOR;
  if (patch) *patch = SBX_VERSION_PATCH;
  return SBX_VERSION_STRING;
}

SBX_API int sbx_abi_version(void) {
  return SBX_ABI_MAJOR;
}

SBX_API const char* sbx_status_name(int status) {
  switch (status) {
    case SBX_OK:
      return "SBX_OK";
    case SBX_E_INVALID:
      return "SBX_E_INVALID";
    case SBX_E_NOMEM:
      return "SBX_E_NOMEM";
    case SBX_E_STATE:
      return "SBX_E_STATE";
    case SBX_E_SYSTEM:
      return "SBX_E_SYSTEM";
    case SBX_E_SETUP:
      return "SBX_E_SETUP";
    case SBX_E_NOTFOUND:
      return "SBX_E_NOTFOUND";
    case SBX_E_EXEC:
      return "SBX_E_EXEC";
    case SBX_E_TIMEOUT:
      return "SBX_E_TIMEOUT";
    case SBX_E_INTERRUPTED:
      return "SBX_E_INTERRUPTED";
    case SBX_E_UNSUPPORTED:
      return "SBX_E_UNSUPPORTED";
    case SBX_E_INTERNAL:
      return "SBX_E_INTERNAL";
    case SBX_E_PROCESS:
      return "SBX_E_PROCESS";
  }
  return "SBX_E_UNKNOWN";
}

// ------------------------------------------------------------ errors

SBX_API int sbx_error_code(const sbx_error* err) {
  return err ? err->code : SBX_OK;
}
SBX_API int sbx_error_errno(const sbx_error* err) {
  return err ? err->sys_errno : 0;
}
SBX_API const char* sbx_error_step(const sbx_error* err) {
  return err ? err->step.c_str() : "";
}
SBX_API const char* sbx_error_message(const sbx_error* err) {
  return err ? err->message.c_str() : "";
}
SBX_API void sbx_error_free(sbx_error* err) {
  delete err;
}
SBX_API void sbx_free(void* ptr) {
  free(ptr);
}

// ------------------------------------------------------------ config

SBX_API int sbx_config_new(sbx_config** out, sbx_error** err) {
  SBX_REQUIRE_ARG(out, err, "out");
  *out = nullptr;
  SBX_TRY
  *out = new sbx_config{};
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API void sbx_config_free(sbx_config* cfg) {
  delete cfg;
}

SBX_API int sbx_config_set_namespaces(sbx_config* cfg, unsigned ns_mask, sbx_error** err) {
  SBX_REQUIRE_ARG(cfg, err, "cfg");
  SBX_TRY
  cfg->c.set_namespaces(ns_mask);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_config_get_namespaces(const sbx_config* cfg, unsigned* out) {
  if (cfg == nullptr || out == nullptr) return SBX_E_INVALID;
  *out = cfg->c.namespaces;
  return SBX_OK;
}

SBX_API int sbx_config_set_rootfs(sbx_config* cfg, const char* dir, sbx_error** err) {
  SBX_REQUIRE_ARG(cfg, err, "cfg");
  SBX_TRY
  cfg->c.set_rootfs(dir);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_config_add_bind(sbx_config* cfg, const char* src, const char* dst, unsigned flags,
                                sbx_error** err) {
  SBX_REQUIRE_ARG(cfg, err, "cfg");
  SBX_TRY
  cfg->c.add_bind(src, dst, flags);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_config_add_tmpfs(sbx_config* cfg, const char* dst, uint64_t size_bytes, unsigned mode,
                                 sbx_error** err) {
  SBX_REQUIRE_ARG(cfg, err, "cfg");
  SBX_TRY
  cfg->c.add_tmpfs(dst, size_bytes, mode);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_config_set_hostname(sbx_config* cfg, const char* hostname, sbx_error** err) {
  SBX_REQUIRE_ARG(cfg, err, "cfg");
  SBX_TRY
  cfg->c.set_hostname(hostname);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_config_set_memory_limit(sbx_config* cfg, uint64_t bytes, sbx_error** err) {
  SBX_REQUIRE_ARG(cfg, err, "cfg");
  SBX_TRY
  cfg->c.set_memory_limit(bytes);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_config_set_memory_high(sbx_config* cfg, uint64_t bytes, sbx_error** err) {
  SBX_REQUIRE_ARG(cfg, err, "cfg");
  SBX_TRY
  cfg->c.set_memory_high(bytes);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_config_set_pids_limit(sbx_config* cfg, uint64_t max_pids, sbx_error** err) {
  SBX_REQUIRE_ARG(cfg, err, "cfg");
  SBX_TRY
  cfg->c.set_pids_limit(max_pids);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_config_set_cpus(sbx_config* cfg, double cpus, sbx_error** err) {
  SBX_REQUIRE_ARG(cfg, err, "cfg");
  SBX_TRY
  cfg->c.set_cpus(cpus);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_config_set_cpu_weight(sbx_config* cfg, uint32_t weight, sbx_error** err) {
  SBX_REQUIRE_ARG(cfg, err, "cfg");
  SBX_TRY
  cfg->c.set_cpu_weight(weight);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_config_set_cpu_time_limit(sbx_config* cfg, uint64_t ms, sbx_error** err) {
  SBX_REQUIRE_ARG(cfg, err, "cfg");
  SBX_TRY
  cfg->c.set_cpu_time_limit(ms);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_config_set_timeout(sbx_config* cfg, uint64_t ms, sbx_error** err) {
  SBX_REQUIRE_ARG(cfg, err, "cfg");
  SBX_TRY
  cfg->c.set_timeout(ms);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_config_set_kill_grace(sbx_config* cfg, uint64_t ms, sbx_error** err) {
  SBX_REQUIRE_ARG(cfg, err, "cfg");
  SBX_TRY
  cfg->c.set_kill_grace(ms);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_config_set_zombie_ttl(sbx_config* cfg, uint64_t ms, sbx_error** err) {
  SBX_REQUIRE_ARG(cfg, err, "cfg");
  SBX_TRY
  cfg->c.set_zombie_ttl(ms);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_config_set_cgroup_parent(sbx_config* cfg, const char* path, sbx_error** err) {
  SBX_REQUIRE_ARG(cfg, err, "cfg");
  SBX_TRY
  cfg->c.set_cgroup_parent(path);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_config_set_strict(sbx_config* cfg, int strict, sbx_error** err) {
  SBX_REQUIRE_ARG(cfg, err, "cfg");
  SBX_TRY
  cfg->c.strict = strict != 0;
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_config_set_seccomp_profile(sbx_config* cfg, const char* name, sbx_error** err) {
  SBX_REQUIRE_ARG(cfg, err, "cfg");
  SBX_TRY
  cfg->c.set_seccomp_profile(name);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_config_load_seccomp_json(sbx_config* cfg, const char* path, sbx_error** err) {
  SBX_REQUIRE_ARG(cfg, err, "cfg");
  SBX_TRY
  cfg->c.load_seccomp_json(path);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_config_add_seccomp_rule(sbx_config* cfg, const char* syscall, sbx_seccomp_action action,
                                        int errno_value, size_t n_args, const sbx_seccomp_arg* args,
                                        sbx_error** err) {
  SBX_REQUIRE_ARG(cfg, err, "cfg");
  SBX_TRY
  cfg->c.add_seccomp_rule(syscall, static_cast<int>(action), errno_value, n_args, args);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_config_set_landlock(sbx_config* cfg, unsigned flags, sbx_error** err) {
  SBX_REQUIRE_ARG(cfg, err, "cfg");
  SBX_TRY
  cfg->c.set_landlock(flags);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_config_add_capability(sbx_config* cfg, const char* name, sbx_error** err) {
  SBX_REQUIRE_ARG(cfg, err, "cfg");
  SBX_TRY
  cfg->c.add_capability(name);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

// ------------------------------------------------------------ spec

SBX_API int sbx_spec_new(sbx_spec** out, sbx_error** err) {
  SBX_REQUIRE_ARG(out, err, "out");
  *out = nullptr;
  SBX_TRY
  *out = new sbx_spec{};
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API void sbx_spec_free(sbx_spec* spec) {
  delete spec;
}

SBX_API int sbx_spec_set_argv(sbx_spec* spec, size_t argc, const char* const* argv, sbx_error** err) {
  SBX_REQUIRE_ARG(spec, err, "spec");
  SBX_TRY
  spec->s.set_argv(argc, argv);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_spec_set_env(sbx_spec* spec, const char* key_value, sbx_error** err) {
  SBX_REQUIRE_ARG(spec, err, "spec");
  SBX_TRY
  spec->s.set_env(key_value);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_spec_allow_env(sbx_spec* spec, const char* name, sbx_error** err) {
  SBX_REQUIRE_ARG(spec, err, "spec");
  SBX_TRY
  spec->s.allow(name);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_spec_set_cwd(sbx_spec* spec, const char* dir, sbx_error** err) {
  SBX_REQUIRE_ARG(spec, err, "spec");
  SBX_TRY
  spec->s.set_cwd(dir);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_spec_set_user(sbx_spec* spec, uint32_t uid, uint32_t gid, sbx_error** err) {
  SBX_REQUIRE_ARG(spec, err, "spec");
  SBX_TRY
  spec->s.set_user(uid, gid);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_spec_set_stdio(sbx_spec* spec, int which, sbx_stdio_mode mode, const char* path, int fd,
                               sbx_error** err) {
  SBX_REQUIRE_ARG(spec, err, "spec");
  SBX_TRY
  spec->s.set_stdio(which, static_cast<int>(mode), path, fd);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_spec_preserve_fd(sbx_spec* spec, int fd, sbx_error** err) {
  SBX_REQUIRE_ARG(spec, err, "spec");
  SBX_TRY
  spec->s.preserve(fd);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_spec_set_rlimit(sbx_spec* spec, sbx_rlimit_resource resource, uint64_t soft, uint64_t hard,
                                sbx_error** err) {
  SBX_REQUIRE_ARG(spec, err, "spec");
  SBX_TRY
  spec->s.set_rlimit(static_cast<int>(resource), soft, hard);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_spec_set_timeout(sbx_spec* spec, uint64_t ms, sbx_error** err) {
  SBX_REQUIRE_ARG(spec, err, "spec");
  SBX_TRY
  spec->s.set_timeout(ms);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_spec_set_output_callback(sbx_spec* spec, sbx_output_fn fn, void* user_data, sbx_error** err) {
  SBX_REQUIRE_ARG(spec, err, "spec");
  SBX_TRY
  if (fn == nullptr) {
    spec->s.on_output = nullptr;
  } else {
    spec->s.on_output = [fn, user_data](int stream, const void* data, size_t len) {
      fn(user_data, stream, data, len);
    };
  }
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_spec_set_exit_callback(sbx_spec* spec, sbx_exit_fn fn, void* user_data, sbx_error** err) {
  SBX_REQUIRE_ARG(spec, err, "spec");
  SBX_TRY
  if (fn == nullptr) {
    spec->s.on_exit = nullptr;
  } else {
    spec->s.on_exit = [fn, user_data](const sbx::ExitRecord& r) {
      sbx_exit_status st;
      memset(&st, 0, sizeof st);
      st.size = sizeof st;
      fill_exit(r, &st, nullptr);
      fn(user_data, &st);
    };
  }
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_spec_set_output_limit(sbx_spec* spec, uint64_t max_bytes, int action, sbx_error** err) {
  SBX_REQUIRE_ARG(spec, err, "spec");
  SBX_TRY
  spec->s.set_output_limit(max_bytes, action);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

// ------------------------------------------------------------ box

SBX_API int sbx_box_create(sbx_box** out, const sbx_config* cfg, sbx_error** err) {
  SBX_REQUIRE_ARG(out, err, "out");
  *out = nullptr;
  SBX_REQUIRE_ARG(cfg, err, "cfg");
  SBX_TRY
  auto b = std::make_unique<sbx::Box>(cfg->c);
  *out = new sbx_box{std::move(b)};
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API void sbx_box_free(sbx_box* box) {
  if (box == nullptr) return;
  try {
    delete box;
  } catch (...) {
    // Destructors do not throw; this only keeps the boundary promise.
  }
}

SBX_API int sbx_box_state_get(const sbx_box* box, sbx_box_state* out) {
  if (box == nullptr || out == nullptr) return SBX_E_INVALID;
  try {
    *out = const_cast<sbx_box*>(box)->b->state();
  } catch (...) {
    return SBX_E_INTERNAL;
  }
  return SBX_OK;
}

SBX_API const char* sbx_box_state_name(int state) {
  switch (state) {
    case SBX_BOX_CONFIGURED:
      return "configured";
    case SBX_BOX_RUNNING:
      return "running";
    case SBX_BOX_STOPPING:
      return "stopping";
    case SBX_BOX_STOPPED:
      return "stopped";
    case SBX_BOX_PAUSED:
      return "paused";
    case SBX_BOX_FAILED:
      return "failed";
  }
  return "unknown";
}

SBX_API int sbx_box_spawn(sbx_box* box, const sbx_spec* spec, sbx_proc** out, sbx_error** err) {
  SBX_REQUIRE_ARG(out, err, "out");
  *out = nullptr;
  SBX_REQUIRE_ARG(box, err, "box");
  SBX_REQUIRE_ARG(spec, err, "spec");
  SBX_TRY
  auto p = box->b->spawn(spec->s);
  *out = new sbx_proc{std::move(p)};
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_box_kill(sbx_box* box, int sig, sbx_error** err) {
  SBX_REQUIRE_ARG(box, err, "box");
  SBX_TRY
  box->b->kill(sig);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_box_pause(sbx_box* box, sbx_error** err) {
  SBX_REQUIRE_ARG(box, err, "box");
  SBX_TRY
  box->b->pause();
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_box_resume(sbx_box* box, sbx_error** err) {
  SBX_REQUIRE_ARG(box, err, "box");
  SBX_TRY
  box->b->resume();
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

// ------------------------------------------------ started boxes, process table

SBX_API int sbx_box_start(sbx_box* box, sbx_error** err) {
  SBX_REQUIRE_ARG(box, err, "box");
  SBX_TRY
  box->b->start();
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_box_stop(sbx_box* box, int grace_ms, sbx_error** err) {
  SBX_REQUIRE_ARG(box, err, "box");
  SBX_TRY
  box->b->stop(grace_ms);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_box_terminate_all(sbx_box* box, int grace_ms, sbx_error** err) {
  SBX_REQUIRE_ARG(box, err, "box");
  SBX_TRY
  box->b->terminate_all(grace_ms);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_box_signal(sbx_box* box, int pid, int sig, sbx_error** err) {
  SBX_REQUIRE_ARG(box, err, "box");
  SBX_TRY
  box->b->signal(pid, sig);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_box_waitpid(sbx_box* box, int pid, int options, int timeout_ms, int* out_pid, int* out_status,
                            sbx_error** err) {
  SBX_REQUIRE_ARG(box, err, "box");
  SBX_REQUIRE_ARG(out_pid, err, "out_pid");
  SBX_TRY
  int status = 0;
  int r = box->b->waitpid(pid, options, timeout_ms, &status);
  if (r == SBX_E_TIMEOUT || r == SBX_E_INTERRUPTED) {
    set_error(err, r, "wait", 0, r == SBX_E_TIMEOUT ? "waitpid timed out" : "waitpid was interrupted");
    return r;
  }
  *out_pid = r;
  if (out_status != nullptr) *out_status = r > 0 ? status : 0;
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_box_setpgid(sbx_box* box, int pid, int pgid, sbx_error** err) {
  SBX_REQUIRE_ARG(box, err, "box");
  SBX_TRY
  box->b->setpgid(pid, pgid);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_box_setsid(sbx_box* box, int pid, sbx_error** err) {
  SBX_REQUIRE_ARG(box, err, "box");
  SBX_TRY
  box->b->setsid(pid);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_box_getpgid(sbx_box* box, int pid, int* out, sbx_error** err) {
  SBX_REQUIRE_ARG(box, err, "box");
  SBX_REQUIRE_ARG(out, err, "out");
  SBX_TRY
  *out = box->b->getpgid(pid);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_box_getsid(sbx_box* box, int pid, int* out, sbx_error** err) {
  SBX_REQUIRE_ARG(box, err, "box");
  SBX_REQUIRE_ARG(out, err, "out");
  SBX_TRY
  *out = box->b->getsid(pid);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_box_sigmask(sbx_box* box, int pid, int how, uint64_t set, uint64_t* old, sbx_error** err) {
  SBX_REQUIRE_ARG(box, err, "box");
  SBX_TRY
  uint64_t o = box->b->hold_signals(pid, how, set);
  if (old != nullptr) *old = o;
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_box_sigpending(sbx_box* box, int pid, uint64_t* out, sbx_error** err) {
  SBX_REQUIRE_ARG(box, err, "box");
  SBX_REQUIRE_ARG(out, err, "out");
  SBX_TRY
  *out = box->b->sigpending(pid);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_box_list(sbx_box* box, int** pids, size_t* n, sbx_error** err) {
  SBX_REQUIRE_ARG(box, err, "box");
  SBX_REQUIRE_ARG(pids, err, "pids");
  SBX_REQUIRE_ARG(n, err, "n");
  SBX_TRY
  std::vector<int> v = box->b->list();
  int* out = static_cast<int*>(malloc(sizeof(int) * (v.empty() ? 1 : v.size())));
  if (out == nullptr) throw std::bad_alloc();
  for (size_t i = 0; i < v.size(); ++i) out[i] = v[i];
  *pids = out;
  *n = v.size();
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_box_proc_info(sbx_box* box, int pid, sbx_proc_info* out, sbx_error** err) {
  SBX_REQUIRE_ARG(box, err, "box");
  SBX_REQUIRE_ARG(out, err, "out");
  SBX_REQUIRE_ARG(out->size >= offsetof(sbx_proc_info, pgid), err,
                  "out->size (set it to sizeof(sbx_proc_info))");
  SBX_TRY
  box->b->proc_info(pid, out);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_box_wait(sbx_box* box, int timeout_ms, sbx_exit_status* out, sbx_error** err) {
  SBX_REQUIRE_ARG(box, err, "box");
  SBX_REQUIRE_ARG(out, err, "out");
  if (int r = check_exit_struct(out, err); r != SBX_OK) return r;
  SBX_TRY
  sbx::ExitRecord rec;
  int r = box->b->wait(timeout_ms, &rec);
  return wait_status(r, rec, out, err, "sbx_box_wait");
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_box_interrupt(sbx_box* box, sbx_error** err) {
  SBX_REQUIRE_ARG(box, err, "box");
  SBX_TRY
  box->b->interrupt();
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_box_report_count(const sbx_box* box, size_t* out) {
  if (box == nullptr || out == nullptr) return SBX_E_INVALID;
  *out = box->b->report().size();
  return SBX_OK;
}

SBX_API int sbx_box_report_entry(const sbx_box* box, size_t i, const char** name, int* state,
                                 const char** mechanism, const char** detail, sbx_error** err) {
  SBX_REQUIRE_ARG(box, err, "box");
  const auto& rep = box->b->report();
  if (i >= rep.size())
    return set_error(err, SBX_E_INVALID, "argument", 0,
                     "sbx_box_report_entry: index " + std::to_string(i) + " is beyond the " +
                         std::to_string(rep.size()) + " entries");
  const auto& e = rep[i];
  if (name) *name = e.name.c_str();
  if (state) *state = e.state;
  if (mechanism) *mechanism = e.mechanism.c_str();
  if (detail) *detail = e.detail.c_str();
  clear_error(err);
  return SBX_OK;
}

SBX_API int sbx_box_report_json(const sbx_box* box, char** out, sbx_error** err) {
  SBX_REQUIRE_ARG(out, err, "out");
  *out = nullptr;
  SBX_REQUIRE_ARG(box, err, "box");
  SBX_TRY
  std::string j = box->b->report_json();
  char* c = static_cast<char*>(malloc(j.size() + 1));
  if (c == nullptr) throw std::bad_alloc();
  memcpy(c, j.c_str(), j.size() + 1);
  *out = c;
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API const char* sbx_exit_reason_name(int reason) {
  switch (reason) {
    case SBX_REASON_NONE:
      return "none";
    case SBX_REASON_NORMAL:
      return "normal";
    case SBX_REASON_KILLED:
      return "killed";
    case SBX_REASON_TIMEOUT:
      return "timeout";
    case SBX_REASON_CPU_TIME:
      return "cpu-time";
    case SBX_REASON_MEMORY:
      return "memory";
    case SBX_REASON_SECCOMP:
      return "seccomp";
    case SBX_REASON_FILE_SIZE:
      return "file-size";
    case SBX_REASON_PIDS:
      return "pids";
    case SBX_REASON_OUTPUT:
      return "output-limit";
  }
  return "unknown";
}

// ------------------------------------------------------------ process

SBX_API int sbx_exit_shell_code(const sbx_exit_status* st) {
  if (st == nullptr) return -1;
  if (st->kind == SBX_EXIT_EXITED) return st->code;
  if (st->kind == SBX_EXIT_SIGNALED) return 128 + st->signal;
  return -1;
}

SBX_API int sbx_proc_wait(sbx_proc* proc, int timeout_ms, sbx_exit_status* out, sbx_error** err) {
  SBX_REQUIRE_ARG(proc, err, "proc");
  SBX_REQUIRE_ARG(out, err, "out");
  if (int r = check_exit_struct(out, err); r != SBX_OK) return r;
  SBX_TRY
  sbx::ExitRecord rec;
  int r = proc->p->wait(timeout_ms, &rec);
  return wait_status(r, rec, out, err, "sbx_proc_wait");
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_proc_interrupt(sbx_proc* proc, sbx_error** err) {
  SBX_REQUIRE_ARG(proc, err, "proc");
  SBX_TRY
  proc->p->interrupt();
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_proc_kill(sbx_proc* proc, int sig, sbx_error** err) {
  SBX_REQUIRE_ARG(proc, err, "proc");
  SBX_TRY
  int r = proc->p->kill(sig);
  if (r != SBX_OK) return set_error(err, r, "kill", ESRCH, "sbx_proc_kill: the process has ended");
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_proc_pid(const sbx_proc* proc, pid_t* out) {
  if (proc == nullptr || out == nullptr) return SBX_E_INVALID;
  *out = proc->p->pid();
  return SBX_OK;
}

SBX_API int sbx_proc_box_pid(const sbx_proc* proc, int* out) {
  if (proc == nullptr || out == nullptr) return SBX_E_INVALID;
  *out = proc->p->box_pid();
  return SBX_OK;
}

SBX_API int sbx_proc_pollfd(const sbx_proc* proc, int* out) {
  if (proc == nullptr || out == nullptr) return SBX_E_INVALID;
  *out = proc->p->pollfd();
  return SBX_OK;
}

SBX_API int sbx_proc_take_stdio(sbx_proc* proc, int which, int* out_fd, sbx_error** err) {
  SBX_REQUIRE_ARG(proc, err, "proc");
  SBX_REQUIRE_ARG(out_fd, err, "out_fd");
  *out_fd = -1;
  SBX_TRY
  int fd = proc->p->take_stdio(which);
  if (fd < 0)
    return set_error(err, SBX_E_STATE, "stdio", 0,
                     "stream " + std::to_string(which) + " is not a pipe, or its fd was already taken");
  *out_fd = fd;
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_proc_read(sbx_proc* proc, int stream, void* buf, size_t cap, size_t* n_out, int timeout_ms,
                          sbx_error** err) {
  SBX_REQUIRE_ARG(n_out, err, "n_out");
  *n_out = 0;
  SBX_REQUIRE_ARG(proc, err, "proc");
  SBX_TRY
  int r = proc->p->read(stream, buf, cap, n_out, timeout_ms);
  if (r == SBX_E_TIMEOUT) return set_error(err, r, "read", ETIMEDOUT, "sbx_proc_read: timed out");
  if (r == SBX_E_INTERRUPTED) return set_error(err, r, "read", EINTR, "sbx_proc_read: interrupted");
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_proc_write(sbx_proc* proc, const void* data, size_t len, size_t* written, int timeout_ms,
                           sbx_error** err) {
  size_t dummy = 0;
  if (written == nullptr) written = &dummy;
  *written = 0;
  SBX_REQUIRE_ARG(proc, err, "proc");
  SBX_TRY
  int r = proc->p->write_stdin(data, len, written, timeout_ms);
  if (r == SBX_E_TIMEOUT)
    return set_error(err, r, "write", ETIMEDOUT,
                     "sbx_proc_write: timed out after " + std::to_string(*written) + " of " +
                         std::to_string(len) + " bytes");
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_proc_resize(sbx_proc* proc, uint16_t rows, uint16_t cols, sbx_error** err) {
  SBX_REQUIRE_ARG(proc, err, "proc");
  SBX_TRY
  proc->p->resize(rows, cols);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_spec_set_pgroup(sbx_spec* spec, int mode, int pgid, sbx_error** err) {
  SBX_REQUIRE_ARG(spec, err, "spec");
  SBX_TRY
  spec->s.set_pgroup(mode, pgid);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_spec_set_pty(sbx_spec* spec, uint16_t rows, uint16_t cols, sbx_error** err) {
  SBX_REQUIRE_ARG(spec, err, "spec");
  SBX_TRY
  spec->s.set_pty(rows, cols);
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API int sbx_proc_close_stdin(sbx_proc* proc, sbx_error** err) {
  SBX_REQUIRE_ARG(proc, err, "proc");
  SBX_TRY
  proc->p->close_stdin();
  clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

SBX_API void sbx_proc_free(sbx_proc* proc) {
  if (proc == nullptr) return;
  try {
    // The box may keep the process object: its callbacks end with the handle.
    proc->p->stop_callbacks();
    proc->p->terminate();
  } catch (...) {
  }
  delete proc;
}

}  // extern "C"
