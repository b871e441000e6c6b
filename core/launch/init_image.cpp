#include "core/launch/init_image.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <string>

#include "core/common/util.hpp"

#if defined(SBX_INIT_IMAGE_PATH)
// The image's bytes, linked into the library's read-only data.
asm(".section .rodata\n"
    ".p2align 4\n"
    ".hidden sbx_init_image_begin\n"
    ".hidden sbx_init_image_end\n"
    "sbx_init_image_begin:\n"
    ".incbin \"" SBX_INIT_IMAGE_PATH
    "\"\n"
    "sbx_init_image_end:\n"
    ".previous\n");
extern "C" const char sbx_init_image_begin[];
extern "C" const char sbx_init_image_end[];
#endif

namespace sbx {

namespace {

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

int create_image_fd() {
#if defined(SBX_INIT_IMAGE_PATH)
  std::string policy;
  if (read_small_file("/proc/sys/vm/memfd_noexec", &policy) && !policy.empty() && policy[0] == '2') return -1;
  const size_t size = static_cast<size_t>(sbx_init_image_end - sbx_init_image_begin);
  if (size == 0) return -1;
  // MFD_EXEC (Linux 6.3+) asks for an executable memfd explicitly; older
  // kernels reject the flag and make every memfd executable.
  int fd = memfd_create("sbx-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (fd < 0 && errno == EINVAL) fd = memfd_create("sbx-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -1;
  size_t off = 0;
  while (off < size) {
    ssize_t n = write(fd, sbx_init_image_begin + off, size - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      return -1;
    }
    off += static_cast<size_t>(n);
  }
  // Sealed: nobody, not even this process, can change what boxes run as pid 1.
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
    close(fd);
    return -1;
  }
  return fd;
#else
  return -1;
#endif
}

// Closes the memfd when the library is unloaded (dlclose) or the host exits.
struct ImageFd {
  int fd = create_image_fd();
  ~ImageFd() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

int init_image_fd() {
  static const ImageFd image;  // created on first use, thread-safe
  return image.fd;
}

}  // namespace sbx
