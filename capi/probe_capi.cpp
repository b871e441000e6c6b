// C API of the capability probe (sbx.h, "capability probe").
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "capi/capi_internal.hpp"
#include "core/probe/probe.hpp"

// Immutable after sbx_probe_run, so the borrowed strings handed out by
// sbx_probe_entry stay valid until sbx_probe_free.
struct sbx_probe {
  std::vector<sbx::ProbeEntry> entries;
};

extern "C" {

int sbx_probe_run(sbx_probe** out, sbx_error** err) {
  SBX_TRY
  SBX_REQUIRE_ARG(out != nullptr, err, "out");
  *out = nullptr;
  auto p = std::make_unique<sbx_probe>();
  p->entries = sbx::run_probe();
  *out = p.release();
  sbx::capi::clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

void sbx_probe_free(sbx_probe* probe) {
  delete probe;
}

size_t sbx_probe_count(const sbx_probe* probe) {
  return probe != nullptr ? probe->entries.size() : 0;
}

int sbx_probe_entry(const sbx_probe* probe, size_t i, const char** name, int* supported, const char** detail,
                    const char** fix, sbx_error** err) {
  SBX_TRY
  SBX_REQUIRE_ARG(probe != nullptr, err, "probe");
  if (i >= probe->entries.size())
    return sbx::capi::set_error(err, SBX_E_INVALID, "argument", 0,
                                "sbx_probe_entry: index " + std::to_string(i) +
                                    " is out of range (the probe has " +
                                    std::to_string(probe->entries.size()) + " entries)");
  const sbx::ProbeEntry& e = probe->entries[i];
  if (name != nullptr) *name = e.name.c_str();
  if (supported != nullptr) *supported = e.supported ? 1 : 0;
  if (detail != nullptr) *detail = e.detail.c_str();
  if (fix != nullptr) *fix = e.fix.c_str();
  sbx::capi::clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

int sbx_probe_json(const sbx_probe* probe, char** out, sbx_error** err) {
  SBX_TRY
  SBX_REQUIRE_ARG(out != nullptr, err, "out");
  *out = nullptr;
  SBX_REQUIRE_ARG(probe != nullptr, err, "probe");
  const std::string json = sbx::probe_to_json(probe->entries);
  // malloc, not new[]: the caller releases it with sbx_free (free).
  auto* buf = static_cast<char*>(std::malloc(json.size() + 1));
  if (buf == nullptr)
    return sbx::capi::set_error(err, SBX_E_NOMEM, "memory", ENOMEM, "sbx_probe_json: out of memory");
  std::memcpy(buf, json.c_str(), json.size() + 1);
  *out = buf;
  sbx::capi::clear_error(err);
  return SBX_OK;
  SBX_CATCH_RETURN(err)
}

}  // extern "C"
