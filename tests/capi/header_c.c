/* Header test (C): compiled as C99 and as C11 with -Wall -Wextra -pedantic
 * -Werror and stricter flags (see CMakeLists.txt), so any header construct a
 * strict C consumer would reject fails the BUILD. The header comes first: it
 * must be self-contained. SBX_HEADER_VARIANT names the checking function.
 * -Wstrict-prototypes catches old-style declarations. Nothing here references
 * a library symbol (_Generic operands are not evaluated), so this test needs
 * no linkable libsbx. */
#include <sbx/sbx.h>
#include <sbx/sbx.h> /* the include guard works */
#include <stddef.h>

#define SBX_HT_CAT2(a, b) a##b
#define SBX_HT_CAT(a, b) SBX_HT_CAT2(a, b)
#define SBX_HT_CHECK SBX_HT_CAT(sbx_header_check_, SBX_HEADER_VARIANT)

int SBX_HT_CHECK(void);

int SBX_HT_CHECK(void) {
  int failures = 0;
  sbx_exit_status st = SBX_EXIT_STATUS_INIT;
  /* Opaque handle types are usable as pointers by a C client. */
  sbx_config* cfg = NULL;
  sbx_box* box = NULL;
  sbx_spec* spec = NULL;
  sbx_proc* proc = NULL;
  sbx_error* err = NULL;
  sbx_probe* probe = NULL;
  unsigned ns = SBX_NS_ALL;
  sbx_status status = SBX_OK;
  sbx_stdio_mode mode = SBX_STDIO_PIPE;
  sbx_box_state state = SBX_BOX_RUNNING;

  (void)cfg;
  (void)box;
  (void)spec;
  (void)proc;
  (void)err;
  (void)probe;
  (void)mode;
  (void)state;

  if (st.size != sizeof(sbx_exit_status)) failures++;
  if (st.kind != SBX_EXIT_NONE || st.reason != SBX_REASON_NONE) failures++;
  if (offsetof(sbx_exit_status, size) != 0) failures++;
  if (status != 0) failures++;
  if ((ns & (unsigned)SBX_NS_USER) == 0 || (ns & (unsigned)SBX_NS_CGROUP) == 0) failures++;
  if (SBX_ABI_MAJOR < 0 || SBX_VERSION_MAJOR < 0) failures++;
  if (sizeof(SBX_VERSION_STRING) < 6) failures++;

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
  _Static_assert(offsetof(sbx_exit_status, size) == 0, "size field first");
  failures += _Generic(&sbx_abi_version, int (*)(void) : 0, default : 1);
  failures += _Generic(&sbx_version, const char* (*)(int*, int*, int*) : 0, default : 1);
#endif
  return failures;
}
