/* Runs the checks compiled from header_c.c (C99, C11) and header_cxx.cpp
 * (C++11, C++20): the ctest capi.header. Compilation already proved the
 * header clean; this proves the objects agree at run time. */
#include <stdio.h>

int sbx_header_check_c99(void);
int sbx_header_check_c11(void);
int sbx_header_check_cxx11(void);
int sbx_header_check_cxx20(void);

int main(void) {
  struct {
    const char* name;
    int (*check)(void);
  } checks[] = {
      {"C99", sbx_header_check_c99},
      {"C11", sbx_header_check_c11},
      {"C++11", sbx_header_check_cxx11},
      {"C++20", sbx_header_check_cxx20},
  };
  int failures = 0;
  size_t i;
  for (i = 0; i < sizeof checks / sizeof checks[0]; i++) {
    int f = checks[i].check();
    printf("sbx.h as %-6s %s\n", checks[i].name, f == 0 ? "ok" : "FAILED");
    failures += f;
  }
  return failures == 0 ? 0 : 1;
}
