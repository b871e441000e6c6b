/* bpf(BPF_MAP_CREATE) of a one-element array map. Layers:
 * kernel.unprivileged_bpf_disabled (EPERM), caps, seccomp (EPERM). */
#define TECH "bpf_map_create"
#include <linux/bpf.h>

#include "escape.h"

int main(void) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.map_type = BPF_MAP_TYPE_ARRAY;
  attr.key_size = 4;
  attr.value_size = 4;
  attr.max_entries = 1;
  long fd = syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr);
  if (fd >= 0) {
    close((int)fd);
    escaped("bpf(BPF_MAP_CREATE) created an array map");
  }
  int e = errno;
  if (!errno_in(e, EPERM, EACCES, ENOSYS, 0)) setup_error("bpf(BPF_MAP_CREATE): unexpected %s", errname(e));
  blocked("bpf(BPF_MAP_CREATE): %s", errname(e));
}
