// execve with a PATH search like execvp, without its allocation, for code
// that runs between clone and execve (raw system calls only).
#pragma once

#include <limits.h>

#include <cerrno>
#include <cstddef>

#include "core/launch/raw_syscalls.hpp"

namespace sbx::launch {

// Executes FILE (searched in PATH when it has no '/' and PATH is not null).
// Returns only on failure, with the errno to report: EACCES from any PATH
// entry wins over ENOENT (as the shells report it).
inline int exec_search(const char* file, char* const* argv, char* const* envp, const char* path) {
  bool slash = false;
  for (const char* c = file; *c != '\0'; ++c)
    if (*c == '/') slash = true;
  if (slash || path == nullptr) return -sys::execve(file, argv, envp);
  size_t flen = 0;
  while (file[flen] != '\0') ++flen;
  bool saw_eacces = false;
  const char* dir = path;
  for (;;) {
    const char* end = dir;
    while (*end != '\0' && *end != ':') ++end;
    char full[PATH_MAX];
    size_t dlen = static_cast<size_t>(end - dir);
    size_t len = 0;
    if (dlen == 0) {
      full[len++] = '.';  // an empty entry is the current directory
    } else if (dlen < sizeof full) {
      for (size_t i = 0; i < dlen; ++i) full[len++] = dir[i];
    }
    if (len > 0 && len + 1 + flen + 1 <= sizeof full) {
      full[len++] = '/';
      for (size_t i = 0; i < flen; ++i) full[len++] = file[i];
      full[len] = '\0';
      int e = -sys::execve(full, argv, envp);
      if (e == EACCES)
        saw_eacces = true;
      else if (e != ENOENT && e != ENOTDIR && e != ENAMETOOLONG)
        return e;
    }
    if (*end == '\0') break;
    dir = end + 1;
  }
  return saw_eacces ? EACCES : ENOENT;
}

}  // namespace sbx::launch
