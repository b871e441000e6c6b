/* capi.version: the version numbers agree everywhere.
 *   compile time  SBX_VERSION_MAJOR/MINOR/PATCH and SBX_VERSION_STRING in
 *                 sbx.h == project(VERSION) in CMakeLists.txt;
 *                 SBX_ABI_MAJOR == SOVERSION of the libsbx target;
 *   run time      sbx_version() and sbx_abi_version() of the loaded libsbx
 *                 == the header this was compiled against.
 * The EXPECTED_* values come from CMake (-D). Mismatches are reported as test
 * failures naming both values rather than #error, so a version bump in
 * progress does not break everyone's build. */
#include <sbx/sbx.h>
#include <stdio.h>
#include <string.h>

#if !defined(EXPECTED_VERSION_MAJOR) || !defined(EXPECTED_VERSION_MINOR) || \
    !defined(EXPECTED_VERSION_PATCH) || !defined(EXPECTED_VERSION_STRING) || !defined(EXPECTED_SOVERSION)
#error "build with -DEXPECTED_VERSION_{MAJOR,MINOR,PATCH,STRING} and -DEXPECTED_SOVERSION"
#endif

static int failures;

static void check_int(const char* what, long got, long want) {
  if (got != want) {
    fprintf(stderr, "MISMATCH %s: %ld, expected %ld\n", what, got, want);
    failures++;
  }
}

static void check_str(const char* what, const char* got, const char* want) {
  if (got == NULL || strcmp(got, want) != 0) {
    fprintf(stderr, "MISMATCH %s: \"%s\", expected \"%s\"\n", what, got != NULL ? got : "(null)", want);
    failures++;
  }
}

int main(void) {
  char composed[64];
  int major = -1, minor = -1, patch = -1;
  const char* runtime;

  /* header vs. CMake project */
  check_int("SBX_VERSION_MAJOR vs project", SBX_VERSION_MAJOR, EXPECTED_VERSION_MAJOR);
  check_int("SBX_VERSION_MINOR vs project", SBX_VERSION_MINOR, EXPECTED_VERSION_MINOR);
  check_int("SBX_VERSION_PATCH vs project", SBX_VERSION_PATCH, EXPECTED_VERSION_PATCH);
  check_str("SBX_VERSION_STRING vs project", SBX_VERSION_STRING, EXPECTED_VERSION_STRING);
  snprintf(composed, sizeof composed, "%d.%d.%d", SBX_VERSION_MAJOR, SBX_VERSION_MINOR, SBX_VERSION_PATCH);
  check_str("SBX_VERSION_STRING vs SBX_VERSION_MAJOR.MINOR.PATCH", SBX_VERSION_STRING, composed);
  check_int("SBX_ABI_MAJOR vs SOVERSION", SBX_ABI_MAJOR, EXPECTED_SOVERSION);

  /* loaded library vs. header */
  runtime = sbx_version(&major, &minor, &patch);
  check_int("sbx_version() major", major, SBX_VERSION_MAJOR);
  check_int("sbx_version() minor", minor, SBX_VERSION_MINOR);
  check_int("sbx_version() patch", patch, SBX_VERSION_PATCH);
  check_str("sbx_version() string", runtime, SBX_VERSION_STRING);
  check_str("sbx_version(NULL, NULL, NULL)", sbx_version(NULL, NULL, NULL), SBX_VERSION_STRING);
  check_int("sbx_abi_version()", sbx_abi_version(), SBX_ABI_MAJOR);

  if (failures == 0) {
    printf("version %s, ABI %d: header, project, SONAME and library agree\n", SBX_VERSION_STRING,
           SBX_ABI_MAJOR);
  }
  return failures == 0 ? 0 : 1;
}
