// clone3 onto a caller-given stack, calling FN(ARG) there: used for
// children that share the caller's memory (CLONE_VM). glibc's clone() is
// not used: TSan intercepts it and would take locks copied in unknown
// states, and the box init image has no libc. Include in exactly one
// translation unit per binary (the asm defines a symbol).
#pragma once

#include <cstddef>

#if defined(__x86_64__)
extern "C" long sbx_raw_clone3(void* args, size_t size, void (*fn)(const void*), const void* arg);
asm(R"(
  .text
  .p2align 4
  .globl sbx_raw_clone3
  .hidden sbx_raw_clone3
  .type sbx_raw_clone3, @function
sbx_raw_clone3:
  movq %rdx, %r8
  movq %rcx, %r9
  movl $435, %eax
  syscall
  testq %rax, %rax
  jnz 1f
  xorl %ebp, %ebp
  movq %r9, %rdi
  andq $-16, %rsp
  callq *%r8
  movl $127, %edi
  movl $231, %eax
  syscall
  hlt
1:
  ret
  .size sbx_raw_clone3, .-sbx_raw_clone3
)");

// clone(2) (FLAGS, a stack whose top is STACK_TOP), calling FN(ARG) there;
// PARENT_TID receives the pidfd with CLONE_PIDFD. For hosts or filters
// where clone3 is unavailable (the default seccomp profile answers clone3
// with ENOSYS).
extern "C" long sbx_raw_clone(unsigned long flags, void* stack_top, void (*fn)(const void*), const void* arg,
                              int* parent_tid);
asm(R"(
  .text
  .p2align 4
  .globl sbx_raw_clone
  .hidden sbx_raw_clone
  .type sbx_raw_clone, @function
sbx_raw_clone:
  subq $16, %rsi
  movq %rdx, 0(%rsi)
  movq %rcx, 8(%rsi)
  movq %r8, %rdx
  movl $56, %eax
  xorl %r10d, %r10d
  xorl %r8d, %r8d
  syscall
  testq %rax, %rax
  jnz 1f
  xorl %ebp, %ebp
  popq %rax
  popq %rdi
  andq $-16, %rsp
  callq *%rax
  movl $127, %edi
  movl $231, %eax
  syscall
  hlt
1:
  ret
  .size sbx_raw_clone, .-sbx_raw_clone
)");
#endif
