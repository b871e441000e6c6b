/* bpf(BPF_PROG_LOAD) of a minimal socket filter ("r0 = 0; exit"): the eBPF
 * verifier and JIT are a large kernel attack surface. Layers: the host's
 * kernel.unprivileged_bpf_disabled (EPERM), caps (CAP_BPF is checked in the
 * initial user namespace), seccomp (EPERM). */
#define TECH "bpf_prog_load"
#include <linux/bpf.h>
#include <stdint.h>

#include "escape.h"

int main(void) {
  struct bpf_insn insns[2];
  memset(insns, 0, sizeof insns);
  insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;  // r0 = 0
  insns[0].dst_reg = BPF_REG_0;
  insns[0].imm = 0;
  insns[1].code = BPF_JMP | BPF_EXIT;
  static const char license[] = "GPL";
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  attr.insn_cnt = 2;
  attr.insns = (uint64_t)(uintptr_t)insns;
  attr.license = (uint64_t)(uintptr_t)license;
  long fd = syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
  if (fd >= 0) {
    close((int)fd);
    escaped("bpf(BPF_PROG_LOAD) loaded a socket filter program");
  }
  int e = errno;
  if (!errno_in(e, EPERM, EACCES, ENOSYS, 0)) setup_error("bpf(BPF_PROG_LOAD): unexpected %s", errname(e));
  blocked("bpf(BPF_PROG_LOAD): %s", errname(e));
}
