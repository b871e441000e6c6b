// The box init image: pid 1 of a box with a pid namespace.
//
// A small static program with no libc, executed by the box's setup process
// (from a sealed memfd) once the program has been started, so that pid 1
// holds none of the host's memory. Its whole job:
//   - reap every process of the box (orphans included),
//   - forward every catchable signal it receives to the program (or, when
//     the host marks it, to every process of the box: time limits),
//   - when the program ends, write an InitReport (its raw wait status and
//     the CPU time and peak RSS of everything reaped) to the status pipe and
//     exit, which makes the kernel kill what is left.
// In a started box it is the box supervisor instead (supervisor_loop.hpp),
// invoked as: sbx-init -S STATUS_FD CTRL_FD SECCOMP_FD|- self|child (who
// installs the seccomp filter).
// Otherwise invoked as: sbx-init STATUS_FD PROGRAM_PID GO_FD (first writes one byte to
// GO_FD: the program waits for it before it executes). Every signal is already
// blocked (the mask survives execve), so signals queue for sigtimedwait even
// though a pid-namespace init would otherwise drop signals without handlers.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "core/launch/init_loop.hpp"
#include "core/launch/raw_clone3.hpp"
#include "core/launch/raw_syscalls.hpp"
#include "core/launch/supervisor_loop.hpp"

// The compiler may emit calls to these for struct copies and zeroing.
extern "C" void* memset(void* d, int c, size_t n) {
  auto* p = static_cast<volatile unsigned char*>(d);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<unsigned char>(c);
  return d;
}
extern "C" void* memcpy(void* d, const void* s, size_t n) {
  auto* p = static_cast<volatile unsigned char*>(d);
  const auto* q = static_cast<const unsigned char*>(s);
  for (size_t i = 0; i < n; ++i) p[i] = q[i];
  return d;
}

namespace {

long parse_long(const char* s) {
  long v = 0;
  if (s == nullptr || *s == '\0') return -1;
  for (; *s != '\0'; ++s) {
    if (*s < '0' || *s > '9') return -1;
    v = v * 10 + (*s - '0');
    if (v > 0x7fffffff) return -1;
  }
  return v;
}

[[noreturn]] void init_main(long argc, char** argv) {
  using namespace sbx;
  if (argc == 6 && argv[1][0] == '-' && argv[1][1] == 'S' && argv[1][2] == '\0') {
    // A started box: sbx-init -S STATUS_FD CTRL_FD SECCOMP_FD|- self|child
    const long status_fd = parse_long(argv[2]);
    const long ctrl = parse_long(argv[3]);
    const long filter = argv[4][0] == '-' ? -1 : parse_long(argv[4]);
    if (status_fd < 0 || ctrl < 0) sys::exit_group(125);
    (void)sys::prctl(PR_SET_DUMPABLE, 0);
    (void)sys::prctl(PR_SET_NAME, reinterpret_cast<unsigned long>("sbx-init"));
    const bool self = argv[5][0] == 's';
    sbx::launch::run_supervisor(static_cast<int>(ctrl), static_cast<int>(status_fd), static_cast<int>(filter),
                                self);
  }
  if (argc < 4) sys::exit_group(125);
  const long status_fd = parse_long(argv[1]);
  const long program = parse_long(argv[2]);
  const long go_fd = parse_long(argv[3]);
  if (status_fd < 0 || program <= 0 || go_fd < 0) sys::exit_group(125);
  // The program may not ptrace or read the init: set before it may run.
  (void)sys::prctl(PR_SET_DUMPABLE, 0);
  (void)sys::prctl(PR_SET_NAME, reinterpret_cast<unsigned long>("sbx-init"));

  // pid 1 is this image now (it no longer shares the host's memory): let the
  // program, which has been waiting for this, execute.
  char go = 1;
  long g;
  do {
    g = sys::write(static_cast<int>(go_fd), &go, 1);
  } while (g == -EINTR);
  (void)sys::close(static_cast<int>(go_fd));

  sbx::launch::run_init_loop(static_cast<pid_t>(program), static_cast<int>(status_fd));
}

}  // namespace

// The kernel enters here with argc at (%rsp), argv after it.
extern "C" [[noreturn]] void sbx_init_start_c(long* sp) {
  init_main(sp[0], reinterpret_cast<char**>(sp + 1));
}

asm(R"(
  .text
  .globl _start
  .type _start, @function
_start:
  xorl %ebp, %ebp
  movq %rsp, %rdi
  andq $-16, %rsp
  callq sbx_init_start_c
  hlt
  .size _start, .-_start
)");
