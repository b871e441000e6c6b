#!/usr/bin/env bash
# End-to-end tests of the `sbx` command-line tool against real boxes.
#
#   usage: cli_test.sh PATH/TO/sbx
#
# Works as root and as an unprivileged user (ctest runs it both ways:
# cli.root and cli.rootless). Every test is a function named test_*; the
# last line printed is "N passed, N failed" and the exit status is 1 if any
# test failed. Skipped tests (a host lacking what they need) are listed, and
# counted on the line before.

# Single-quoted $ expressions are meant for the shell inside the box.
# shellcheck disable=SC2016

set -u

if [ $# -ne 1 ]; then
  echo "usage: $0 PATH/TO/sbx" >&2
  exit 2
fi
SBX=$(realpath -- "$1") || exit 2
if [ ! -x "$SBX" ]; then
  echo "$0: $SBX is not executable" >&2
  exit 2
fi

# Each sbx call gets a generous deadline so that a hang fails the test instead
# of the whole suite.
DEADLINE=60
MARK="sbxclitest$$x$RANDOM"  # a string no other process has in its cmdline
export LC_ALL=C

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sbx-cli-test.XXXXXX") || exit 2
# Boxes run under other uids (1000 by default); let them traverse into WORK.
chmod 0755 "$WORK"
cleanup() { rm -rf -- "$WORK" 2>/dev/null || true; }
trap cleanup EXIT

PASSED=0
FAILED=0
SKIPPED=0
FAILED_NAMES=()
CUR_FAILED=0
CUR_SKIPPED=""

fail() {
  echo "    FAIL: $*"
  CUR_FAILED=1
}
skip() { CUR_SKIPPED="$*"; }

# run_sbx ARGS...: runs sbx with stdin from /dev/null; sets RC, OUT, ERR.
run_sbx() {
  timeout -k 5 "$DEADLINE" "$SBX" "$@" >"$WORK/.out" 2>"$WORK/.err" </dev/null
  RC=$?
  OUT=$(cat "$WORK/.out")
  ERR=$(cat "$WORK/.err")
}

show() { printf '%s' "$1" | head -c 600; }

expect_rc() {
  if [ "$RC" -ne "$1" ]; then
    fail "expected exit status $1, got $RC (stdout: '$(show "$OUT")', stderr: '$(show "$ERR")')"
    return 1
  fi
}
expect_out() {
  if [ "$OUT" != "$1" ]; then
    fail "expected stdout '$1', got '$(show "$OUT")' (exit $RC, stderr: '$(show "$ERR")')"
    return 1
  fi
}
expect_err_contains() {
  if [[ "$ERR" != *"$1"* ]]; then
    fail "expected stderr to contain '$1', got '$(show "$ERR")'"
    return 1
  fi
}
expect_nonzero() {
  if [ "$RC" -eq 0 ]; then
    fail "expected a failure, got exit status 0 (stdout: '$(show "$OUT")')"
    return 1
  fi
}

# usage_error NEEDLE ARGS...: `sbx ARGS...` must exit 125, print nothing on
# stdout, and name NEEDLE (usually the option) on stderr.
usage_error() {
  local needle=$1
  shift
  run_sbx "$@"
  if [ "$RC" -ne 125 ]; then
    fail "sbx $*: expected exit status 125, got $RC (stderr: '$(show "$ERR")')"
  elif [[ "$ERR" != *"$needle"* ]]; then
    fail "sbx $*: expected stderr to name '$needle', got '$(show "$ERR")'"
  elif [ -n "$OUT" ]; then
    fail "sbx $*: expected no stdout, got '$(show "$OUT")'"
  fi
}

# py_check FILE EXPR...: each EXPR must hold for d = json.load(FILE).
py_check() {
  local file=$1
  shift
  local expr
  for expr in "$@"; do
    if ! python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($expr) else 1)" \
        "$file" 2>"$WORK/.pyerr"; then
      fail "JSON check '$expr' failed: $(head -c 400 "$file") $(head -c 300 "$WORK/.pyerr")"
    fi
  done
}

# count_procs STRING: processes (other than the counter) whose command line
# contains STRING. The string travels in the environment so that the
# counter's own command line does not match.
count_procs() {
  NEEDLE="$1" python3 - <<'EOF'
import os
needle = os.environ["NEEDLE"].encode()
me = os.getpid()
n = 0
for p in os.listdir("/proc"):
    if not p.isdigit() or int(p) == me:
        continue
    try:
        with open("/proc/%s/cmdline" % p, "rb") as f:
            cmd = f.read().replace(b"\0", b" ")
    except OSError:
        continue
    if needle in cmd:
        n += 1
print(n)
EOF
}

# wait_for_procs STRING: until a process with STRING runs (up to 10 s).
wait_for_procs() {
  for _ in $(seq 100); do
    [ "$(count_procs "$1")" -gt 0 ] && return 0
    sleep 0.1
  done
  return 1
}

# newdir NAME MODE: a fresh directory under WORK.
newdir() {
  local d="$WORK/$1"
  mkdir -p -- "$d" && chmod "$2" "$d"
  printf '%s' "$d"
}

# not_on_host PATH...: paths a box tried to write must not exist on the host.
# Every such path has MARK in its name, so removing it is harmless.
not_on_host() {
  local p
  for p in "$@"; do
    if [ -e "$p" ] || [ -L "$p" ]; then
      fail "$p appeared on the host"
      rm -rf -- "$p" 2>/dev/null
    fi
  done
}

host_interfaces() { tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort; }

# ------------------------------------------------------------- commands

test_version() {
  run_sbx version
  expect_rc 0 || return
  [[ "$OUT" =~ ^sbx\ [0-9]+\.[0-9]+\.[0-9]+[^\ ]*\ \(library\),\ ABI\ [0-9]+,\ header\ [0-9]+\.[0-9]+\.[0-9]+$ ]] ||
    fail "unexpected version line '$OUT'"
  local first=$OUT
  run_sbx --version
  expect_rc 0 && expect_out "$first"
  usage_error "extra" version extra
}

test_help() {
  run_sbx --help
  expect_rc 0 || return
  [[ "$OUT" == *usage* && "$OUT" == *run* && "$OUT" == *check* ]] || fail "--help: '$(show "$OUT")'"
  run_sbx help
  expect_rc 0
  run_sbx run --help
  expect_rc 0 || return
  local opt
  for opt in --rootfs --ro-bind --bind --tmpfs --workdir --env --user --hostname --network --json --stdin; do
    [[ "$OUT" == *"$opt"* ]] || fail "'run --help' does not mention $opt"
  done
  run_sbx help run
  expect_rc 0
  # No arguments: usage on stderr, exit 125.
  run_sbx
  expect_rc 125 && expect_err_contains usage
  [ -z "$OUT" ] || fail "no-argument usage went to stdout"
  usage_error "frobnicate" frobnicate
}

test_check() {
  run_sbx check
  expect_rc 0 || return
  [ -n "$OUT" ] || fail "sbx check printed nothing"
  echo "$OUT" | grep -Eq '^  \[(ok|no)\] +[a-z]' || fail "no '[ok]'/'[no]' entry lines: '$(show "$OUT")'"
  if echo "$OUT" | grep -q '^  \[no\]'; then
    echo "$OUT" | grep -q '^ \+fix: ' || fail "unsupported entries but no 'fix:' line"
  fi
  usage_error "--bogus" check --bogus
}

test_check_json() {
  run_sbx check --json
  expect_rc 0 || return
  printf '%s' "$OUT" >"$WORK/probe.json"
  python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$WORK/probe.json" 2>"$WORK/.pyerr" ||
    fail "sbx check --json is not valid JSON: $(head -c 300 "$WORK/.pyerr")"
}

# ------------------------------------------------------------ exit codes

test_true() {
  run_sbx run /bin/true
  expect_rc 0
  run_sbx run -- true  # PATH search inside the box
  expect_rc 0
  run_sbx run echo hello world  # '--' is optional
  expect_rc 0 && expect_out "hello world"
}

test_exit_code() {
  run_sbx run -- sh -c 'exit 7'
  expect_rc 7
  run_sbx run -- sh -c 'echo out; echo err >&2; exit 42'
  expect_rc 42 && expect_out out && expect_err_contains err
}

test_killed_by_signal() {
  run_sbx run -- sh -c 'kill -TERM $$'
  expect_rc 143
  run_sbx run -- sh -c 'kill -KILL $$'
  expect_rc 137
}

test_not_found() {
  run_sbx run /nonexistent
  expect_rc 127 && expect_err_contains nonexistent
  run_sbx run -- sbx-no-such-program-$MARK
  expect_rc 127
  run_sbx run -- -dash-program
  expect_rc 127
}

test_not_executable() {
  local d
  d=$(newdir noexec 0755)
  printf '#!/bin/sh\necho should-not-run\n' >"$d/script"
  chmod 0644 "$d/script"
  run_sbx run --ro-bind "$d" /mnt/t -- /mnt/t/script
  expect_rc 126 && expect_out ""
  run_sbx run -- /usr  # a directory
  expect_rc 126
}

# ------------------------------------------------------------ isolation

test_pid_namespace() {
  run_sbx run -- sh -c 'echo $$'
  expect_rc 0 || return
  if ! [[ "$OUT" =~ ^[0-9]+$ ]] || [ "$OUT" -gt 3 ]; then
    fail "the program's pid is '$OUT', expected a small pid (<= 3) in a new pid namespace"
  fi
  run_sbx run -- ls /proc
  expect_rc 0 || return
  local n
  n=$(printf '%s\n' "$OUT" | grep -cE '^[0-9]+$')
  if [ "$n" -lt 1 ] || [ "$n" -gt 4 ]; then
    fail "/proc in the box lists $n processes: $(echo "$OUT" | tr "\n" " " | head -c 300)"
  fi
}

test_hostname() {
  run_sbx run -- cat /proc/sys/kernel/hostname
  expect_rc 0 && expect_out sbx
  run_sbx run --hostname box-42.example -- cat /proc/sys/kernel/hostname
  expect_rc 0 && expect_out box-42.example
  usage_error --hostname run --hostname 'bad name!' -- true
}

test_network_none() {
  run_sbx run -- cat /proc/net/dev
  expect_rc 0 || return
  local ifs
  ifs=$(printf '%s\n' "$OUT" | tail -n +3 | cut -d: -f1 | tr -d ' ')
  [ "$ifs" = lo ] || fail "default network: interfaces '$ifs', expected only lo"
  run_sbx run --network none -- cat /proc/net/dev
  expect_rc 0 || return
  ifs=$(printf '%s\n' "$OUT" | tail -n +3 | cut -d: -f1 | tr -d ' ')
  [ "$ifs" = lo ] || fail "--network none: interfaces '$ifs', expected only lo"
}

test_network_host() {
  local host
  host=$(host_interfaces)
  if [ "$(printf '%s\n' "$host" | wc -l)" -le 1 ]; then
    skip "the host has only '$host'"
    return
  fi
  run_sbx run --network host -- cat /proc/net/dev
  expect_rc 0 || return
  local ifs
  ifs=$(printf '%s\n' "$OUT" | tail -n +3 | cut -d: -f1 | tr -d ' ' | sort)
  [ "$(printf '%s\n' "$ifs" | wc -l)" -gt 1 ] ||
    fail "--network host: interfaces '$ifs', expected the host's ($host)"
}

# Paths that boxes write to carry MARK, so that a box that is not isolated
# (a broken build) cannot damage the host, and such a leak is detected.
test_readonly_system() {
  local f="sbx-test-$MARK"
  run_sbx run -- sh -c "touch /usr/$f"
  expect_nonzero
  run_sbx run --user 0:0 -- sh -c "touch /usr/$f"
  expect_nonzero
  run_sbx run --user 0:0 -- sh -c "touch /$f"
  expect_nonzero
  run_sbx run --user 0:0 -- sh -c "touch /etc/$f"
  expect_nonzero
  run_sbx run --user 0:0 -- sh -c "mkdir /bin/$f"
  expect_nonzero
  # No writable /tmp unless asked for.
  run_sbx run -- sh -c "touch /tmp/$f"
  expect_nonzero
  not_on_host "/usr/$f" "/$f" "/etc/$f" "/bin/$f" "/usr/bin/$f" "/tmp/$f"
}

test_bind_rw() {
  local d
  d=$(newdir rw 0777)
  run_sbx run --bind "$d" "/sbx-data-$MARK" -- sh -c "echo written-in-box > /sbx-data-$MARK/f && cat /sbx-data-$MARK/f"
  expect_rc 0 && expect_out written-in-box
  [ "$(cat "$d/f" 2>/dev/null)" = written-in-box ] || fail "the file written in the box is not on the host"
  run_sbx run --bind "$d" /mnt/nested/deeper -- sh -c 'echo deep > /mnt/nested/deeper/g'
  expect_rc 0
  [ "$(cat "$d/g" 2>/dev/null)" = deep ] || fail "a bind at a nested new directory did not work"
  not_on_host "/sbx-data-$MARK"
}

test_ro_bind() {
  local d
  d=$(newdir ro 0777)
  echo host-content >"$d/f"
  chmod 0644 "$d/f"
  run_sbx run --ro-bind "$d" /data -- cat /data/f
  expect_rc 0 && expect_out host-content
  run_sbx run --ro-bind "$d" /data -- sh -c 'echo x > /data/new'
  expect_nonzero
  run_sbx run --user 0:0 --ro-bind "$d" /data -- sh -c 'echo x > /data/f'
  expect_nonzero
  [ ! -e "$d/new" ] || fail "a file was created through --ro-bind"
  [ "$(cat "$d/f")" = host-content ] || fail "the file was changed through --ro-bind"
}

test_tmpfs() {
  local f="/tmp/sbx-test-$MARK"
  run_sbx run --tmpfs /tmp:1m -- sh -c "echo hi > $f-a && cat $f-a"
  expect_rc 0 && expect_out hi
  run_sbx run --tmpfs /tmp:1m -- dd if=/dev/zero of="$f-big" bs=1M count=2
  expect_nonzero
  run_sbx run --tmpfs /tmp:1M -- dd if=/dev/zero of="$f-small" bs=1k count=512
  expect_rc 0
  run_sbx run --tmpfs "/sbx-scratch-$MARK" -- sh -c "echo y > /sbx-scratch-$MARK/b && cat /sbx-scratch-$MARK/b"
  expect_rc 0 && expect_out y
  run_sbx run --tmpfs=/tmp:4096 -- sh -c "echo z > $f-c && cat $f-c"
  expect_rc 0 && expect_out z
  not_on_host "$f-a" "$f-big" "$f-small" "$f-c" "/sbx-scratch-$MARK"
}

test_workdir() {
  local w="/sbx-work-$MARK"
  run_sbx run --workdir /usr/bin -- pwd
  expect_rc 0 && expect_out /usr/bin
  run_sbx run --tmpfs "$w" --workdir "$w" -- sh -c 'touch here && ls'
  expect_rc 0 && expect_out here
  run_sbx run -- pwd
  expect_rc 0 && expect_out /
  run_sbx run --workdir "/nonexistent-$MARK" -- true
  expect_rc 125 && expect_err_contains "nonexistent-$MARK"
  not_on_host "$w"
}

test_env() {
  run_sbx run -e FOO=bar --env BAZ=a=b -e EMPTY= -- sh -c 'echo "$FOO|$BAZ|${EMPTY-unset}"'
  expect_rc 0 && expect_out "bar|a=b|"
  run_sbx run --env=X=1 -eY=2 -- sh -c 'echo $X$Y'
  expect_rc 0 && expect_out 12
  SBX_COPY_TEST=copied run_sbx run -e SBX_COPY_TEST -- sh -c 'echo $SBX_COPY_TEST'
  expect_rc 0 && expect_out copied
  run_sbx run -e SBX_UNSET_TEST_$MARK -- sh -c 'echo ${SBX_UNSET_TEST_'"$MARK"'-unset}'
  expect_rc 0 && expect_out unset
}

test_env_clean() {
  SBX_SECRET_TEST=s3cret-$MARK run_sbx run -- env
  expect_rc 0 || return
  [[ "$OUT" != *s3cret* && "$OUT" != *SBX_SECRET_TEST* ]] || fail "the host environment leaked: $OUT"
  printf '%s\n' "$OUT" | grep -q '^PATH=' || fail "no PATH in the box: $OUT"
  printf '%s\n' "$OUT" | grep -qx 'HOME=/' || fail "HOME is not / in the box: $OUT"
}

test_user() {
  run_sbx run --user 1234:2345 -- sh -c 'id -u; id -g'
  expect_rc 0 && expect_out $'1234\n2345'
  run_sbx run --user 4321 -- sh -c 'id -u; id -g'
  expect_rc 0 && expect_out $'4321\n4321'
  run_sbx run --user 0 -- id -u
  expect_rc 0 && expect_out 0
}

test_default_user_not_root() {
  run_sbx run -- sh -c 'id -u; id -g'
  expect_rc 0 || return
  local uid
  uid=$(printf '%s\n' "$OUT" | head -n1)
  if ! [[ "$uid" =~ ^[0-9]+$ ]] || [ "$uid" -eq 0 ]; then
    fail "default uid is '$uid', expected non-root"
  fi
}

test_stdin() {
  printf 'line one\nline two\n' >"$WORK/input"
  chmod 0644 "$WORK/input"
  run_sbx run --stdin "$WORK/input" -- cat
  expect_rc 0 && expect_out $'line one\nline two'
  run_sbx run --stdin "$WORK/missing-input-$MARK" -- cat
  expect_rc 125 && expect_err_contains "missing-input-$MARK"
}

test_rootfs() {
  local r
  r=$(newdir rootfs 0755)
  mkdir -p "$r/proc" "$r/dev" "$r/usr" "$r/tmp" "$r/etc"
  echo hello-rootfs >"$r/marker"
  chmod 0644 "$r/marker"
  local args=(--rootfs "$r" --ro-bind /usr /usr) d
  for d in bin sbin lib lib32 lib64 libx32; do
    if [ -L "/$d" ]; then
      ln -s "$(readlink "/$d")" "$r/$d"
    elif [ -d "/$d" ]; then
      mkdir "$r/$d"
      args+=(--ro-bind "/$d" "/$d")
    fi
  done
  run_sbx run "${args[@]}" -- /usr/bin/cat /marker
  expect_rc 0 && expect_out hello-rootfs
}

# ------------------------------------------------------------ --json

test_json_exited() {
  run_sbx run --json "$WORK/r1.json" -- sh -c 'exit 3'
  expect_rc 3 || return
  py_check "$WORK/r1.json" \
    "d['version'] == 1" "d['status'] == 'exited'" "d['exit_code'] == 3" \
    "d['signal'] is None" "d['core_dumped'] is False" "d['reason'] == 'normal'" \
    "d['shell_code'] == 3" "isinstance(d['pid'], int) and d['pid'] > 0" \
    "isinstance(d['wall_ms'], (int, float)) and d['wall_ms'] >= 0" "d['error'] is None"
}

test_json_signaled() {
  run_sbx run --json "$WORK/r2.json" -- sh -c 'kill -TERM $$'
  expect_rc 143 || return
  py_check "$WORK/r2.json" \
    "d['status'] == 'signaled'" "d['exit_code'] is None" "d['signal'] == 15" \
    "d['shell_code'] == 143" "d['error'] is None"
}

test_json_failures() {
  run_sbx run --json "$WORK/r3.json" -- /nonexistent-$MARK
  expect_rc 127
  py_check "$WORK/r3.json" \
    "d['status'] == 'not_found'" "d['shell_code'] == 127" "d['exit_code'] is None" \
    "d['error']['code'] == 'SBX_E_NOTFOUND'" "isinstance(d['error']['errno'], int)" \
    "isinstance(d['error']['step'], str)" "'nonexistent-$MARK' in d['error']['message']"
  run_sbx run --json "$WORK/r4.json" -- /usr
  expect_rc 126
  py_check "$WORK/r4.json" "d['status'] == 'exec_failed'" "d['shell_code'] == 126" \
    "d['error']['code'] == 'SBX_E_EXEC'"
  # A setup failure before anything ran; the path has bytes that need escaping.
  local odd=$'/nonexistent-'"$MARK"$'-"q\\\t\x01'
  run_sbx run --json "$WORK/r5.json" --ro-bind "$odd" /mnt -- true
  expect_rc 125
  py_check "$WORK/r5.json" "d['status'] in ('error', 'setup_failed')" "d['shell_code'] == 125" \
    "d['exit_code'] is None" "d['error']['code'].startswith('SBX_E_')" "d['pid'] is None"
}

test_json_rejects_stdout() {
  usage_error --json run --json - -- true
  usage_error --json run --json=- -- true
  usage_error --json run --json "$WORK/no-such-dir/r.json" -- true
}

# ------------------------------------------------------------ bad input

test_malformed_options() {
  usage_error --user run --user abc -- true
  usage_error --user run --user 1:x -- true
  usage_error --user run --user -1 -- true
  usage_error --user run --user 1: -- true
  usage_error --user run --user 4294967296 -- true
  usage_error --user run --user
  usage_error --tmpfs run --tmpfs /x:12q -- true
  usage_error --tmpfs run --tmpfs /x:0 -- true
  usage_error --tmpfs run --tmpfs /x: -- true
  usage_error --tmpfs run --tmpfs /x:-5m -- true
  usage_error --tmpfs run --tmpfs /x:99999999999999999999 -- true
  usage_error --tmpfs run --tmpfs /x:18014398509481984k -- true
  usage_error --tmpfs run --tmpfs
  usage_error --network run --network bogus -- true
  usage_error --network run --network
  usage_error --bind run --bind /usr
  usage_error --ro-bind run --ro-bind
  usage_error --hostname run --hostname -- true
  usage_error --workdir run --workdir
  usage_error --rootfs run --rootfs
  usage_error --json run --json
  usage_error --stdin run --stdin
  usage_error -e run -e
  usage_error -e run -e =value -- true
  usage_error "'--foo'" run --foo -- true
  usage_error "'-z'" run -z -- true
  usage_error PROGRAM run
  usage_error PROGRAM run --tmpfs /tmp --
  usage_error "more than once" run --user 1 --user 2 -- true
}

test_paths_validated() {
  # The library validates paths and its message names them.
  usage_error relative-src-$MARK run --bind relative-src-$MARK /x -- true
  usage_error relroot-$MARK run --rootfs relroot-$MARK -- true
  usage_error /nonexistent-src-$MARK run --ro-bind /nonexistent-src-$MARK /x -- true
  usage_error relwork-$MARK run --workdir relwork-$MARK -- true
}

test_future_options() {
  local case
  for case in "--memory 64m" "--pids-limit 10" "--cpus 0.5" "--cpu-time 1" "--timeout 5" \
      "--rlimit NOFILE=64" "--seccomp default" "--output-limit 1m" "--memory=64m"; do
    # shellcheck disable=SC2086
    usage_error "${case%%[ =]*}" run $case -- sh -c 'echo ran'
    [[ "$ERR" == *"not supported"* ]] ||
      fail "$case: stderr should say it is not supported: '$(show "$ERR")'"
  done
}

# ------------------------------------------------------------ signals, leaks

# forward_case SIGNAL EXPECTED: sbx, running `sleep` in a box, gets SIGNAL;
# it must pass it on, exit with EXPECTED, and leave nothing running.
forward_case() {
  local sig=$1 expected=$2 pid
  # A unique duration marks the sleep; env restores SIGINT, which a script's
  # background jobs otherwise inherit as ignored.
  local secs="1000.$$$RANDOM"
  env --default-signal=INT "$SBX" run -- sleep "$secs" >/dev/null 2>"$WORK/fwd.err" </dev/null &
  pid=$!
  if ! wait_for_procs "sleep $secs"; then
    fail "SIG$sig: the boxed program did not start: $(head -c 300 "$WORK/fwd.err")"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return
  fi
  kill "-$sig" "$pid"
  wait "$pid"
  RC=$?
  ERR=$(cat "$WORK/fwd.err")
  OUT=""
  expect_rc "$expected"
  sleep 0.2
  [ "$(count_procs "sleep $secs")" -eq 0 ] || fail "SIG$sig: the boxed program outlived sbx"
}

test_signal_forwarding() {
  forward_case TERM 143
  forward_case INT 130
  forward_case HUP 129
}

test_nothing_leaked() {
  local mounts_before mounts_after d
  d=$(newdir leak 0777)
  local dst="/sbx-leak-$MARK"
  mounts_before=$(wc -l </proc/self/mountinfo)
  for _ in 1 2 3; do
    run_sbx run -- sh -c 'exit 0' "$MARK-leak"
    run_sbx run --bind "$d" "$dst" --tmpfs /tmp:1m -- sh -c 'echo > "$1/f"; exit 4' sh "$dst" "$MARK-leak"
    run_sbx run -- /nonexistent-"$MARK-leak"
    run_sbx run -- /usr
    run_sbx run --ro-bind /nonexistent-"$MARK-leak" /x -- true
    run_sbx run --bind relative /x -- true
    run_sbx run --memory 1m -- true
    run_sbx run --workdir "/nonexistent-$MARK" -- sh -c 'exit 0' "$MARK-leak"
    run_sbx run -- sh -c 'kill -KILL $$' "$MARK-leak"
  done
  mounts_after=$(wc -l </proc/self/mountinfo)
  [ "$mounts_before" -eq "$mounts_after" ] ||
    fail "host mounts changed: $mounts_before before, $mounts_after after"
  sleep 0.2
  local n
  n=$(count_procs "$MARK-leak")
  [ "$n" -eq 0 ] || fail "$n boxed processes are still running"
}

# ------------------------------------------------------------------ main

echo "sbx CLI tests: $SBX (uid $(id -u))"
if ! command -v python3 >/dev/null; then
  echo "python3 is required" >&2
  exit 2
fi

# Tests run in the order they are defined.
# shellcheck disable=SC2013  # test names are single words
for t in $(sed -n 's/^\(test_[a-z0-9_]*\)() {$/\1/p' "${BASH_SOURCE[0]}"); do
  CUR_FAILED=0
  CUR_SKIPPED=""
  "$t"
  if [ "$CUR_FAILED" -ne 0 ]; then
    echo "FAIL $t"
    FAILED=$((FAILED + 1))
    FAILED_NAMES+=("$t")
  elif [ -n "$CUR_SKIPPED" ]; then
    echo "skip $t ($CUR_SKIPPED)"
    SKIPPED=$((SKIPPED + 1))
  else
    echo "ok   $t"
    PASSED=$((PASSED + 1))
  fi
done

[ "$FAILED" -eq 0 ] || echo "failed: ${FAILED_NAMES[*]}"
echo "$SKIPPED skipped"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
