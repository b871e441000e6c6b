#!/bin/bash
# Records the system calls that mark the phases of a launch, with ftrace.
#
#   bench/profile/phases.sh OUT.txt [--all] -- COMMAND [ARGS...]
#   bench/profile/phases.py OUT.txt          # per-phase medians
#   bench/profile/syscalls.py OUT.txt        # per-process syscall counts (needs --all)
#
# Needs root and tracefs (/sys/kernel/tracing). Uses a private ftrace
# instance (removed afterwards), the monotonic clock, and traces only
# COMMAND and its descendants (set_event_pid + event-fork). With only the
# phase markers enabled the launches slow down by a few percent; --all adds
# every syscall the box init makes on the way (slower: use it for counts).
set -euo pipefail

if [ $# -lt 3 ]; then
  echo "usage: $0 OUT.txt [--all] -- COMMAND [ARGS...]" >&2
  exit 2
fi
out=$1
shift
markers="clone3 clone setsid socket mount pivot_root umount capset execve exit_group rt_sigtimedwait poll read write waitid getrusage"
extra="openat openat2 newfstatat close fcntl mkdirat symlinkat mount_setattr rt_sigaction prctl close_range dup3 chdir fchdir"
if [ "$1" = "--all" ]; then
  markers="$markers $extra"
  shift
fi
[ "$1" = "--" ] && shift

tracefs=/sys/kernel/tracing
[ -d "$tracefs/instances" ] || { echo "$0: tracefs is not mounted at $tracefs" >&2; exit 1; }
inst=$tracefs/instances/sbx-phases-$$
mkdir "$inst"
cleanup() {
  echo 0 > "$inst/tracing_on" 2>/dev/null || true
  rmdir "$inst" 2>/dev/null || true
}
trap cleanup EXIT

echo mono > "$inst/trace_clock"
echo 16384 > "$inst/buffer_size_kb"
echo 1 > "$inst/options/event-fork"
for s in $markers; do
  echo 1 > "$inst/events/syscalls/sys_enter_$s/enable"
  [ "$s" = exit_group ] || echo 1 > "$inst/events/syscalls/sys_exit_$s/enable"
done
echo 1 > "$inst/events/sched/sched_process_exit/enable"
echo 1 > "$inst/events/sched/sched_process_fork/enable"

# The inner shell puts its own pid in the filter, then becomes COMMAND.
bash -c 'echo $$ > "$1/set_event_pid"; echo 1 > "$1/tracing_on"; shift; exec "$@"' _ "$inst" "$@"
echo 0 > "$inst/tracing_on"
cat "$inst/trace" > "$out"
