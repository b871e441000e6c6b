// Header test (C++): compiled as C++11 and as C++20 with -Wall -Wextra
// -pedantic -Werror -Wold-style-cast (see CMakeLists.txt), so anything a
// strict C++ consumer would reject fails the BUILD. The header comes first:
// it must be self-contained. No library symbol is referenced (decltype and
// sizeof are unevaluated), so this needs no linkable libsbx.
#include <sbx/sbx.h>
#include <sbx/sbx.h>  // the include guard works

#include <cstddef>
#include <type_traits>

#define SBX_HT_CAT2(a, b) a##b
#define SBX_HT_CAT(a, b) SBX_HT_CAT2(a, b)
#define SBX_HT_CHECK SBX_HT_CAT(sbx_header_check_, SBX_HEADER_VARIANT)

// The declarations have C linkage and C-compatible types.
static_assert(std::is_standard_layout<sbx_exit_status>::value, "sbx_exit_status is C layout");
static_assert(std::is_trivial<sbx_exit_status>::value, "sbx_exit_status is trivial");
static_assert(offsetof(sbx_exit_status, size) == 0, "size comes first");
static_assert(std::is_same<decltype(&sbx_abi_version), int (*)()>::value, "prototype");
static_assert(std::is_same<decltype(&sbx_version), const char* (*)(int*, int*, int*)>::value, "prototype");
static_assert(SBX_OK == 0, "SBX_OK is 0");

extern "C" int SBX_HT_CHECK(void);

extern "C" int SBX_HT_CHECK(void) {
  int failures = 0;
  sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  sbx_box* box = nullptr;
  sbx_proc* proc = nullptr;
  sbx_error* err = nullptr;
  static_cast<void>(box);
  static_cast<void>(proc);
  static_cast<void>(err);
  if (st.size != sizeof(sbx_exit_status)) ++failures;
  if ((static_cast<unsigned>(SBX_NS_ALL) & static_cast<unsigned>(SBX_NS_NET)) == 0) ++failures;
  sbx_stdio_mode mode = SBX_STDIO_NULL;
  switch (mode) {  // every enumerator is a usable case label
    case SBX_STDIO_INHERIT:
    case SBX_STDIO_NULL:
    case SBX_STDIO_PIPE:
    case SBX_STDIO_FILE:
    case SBX_STDIO_FD:
    case SBX_STDIO_STDOUT:
    case SBX_STDIO_CAPTURE:
      break;
  }
  return failures;
}
