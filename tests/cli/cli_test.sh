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

# Host pids of the sbx processes this run started: a box's cgroup is named
# sbx-<pid of sbx>-..., so leftovers can be attributed to this run.
SBX_PIDS="$WORK/.sbx-pids"
: >"$SBX_PIDS"

# run_sbx ARGS...: runs sbx with stdin from /dev/null; sets RC, OUT, ERR.
# ULIMITS, if set, are `ulimit` arguments applied to sbx first (e.g.
# ULIMITS="-n 512": soft and hard limit of open files).
run_sbx() {
  # shellcheck disable=SC2016  # expanded by the inner shell
  timeout -k 5 "$DEADLINE" sh -c 'echo $$ >>"$1" && shift && { [ -z "${ULIMITS-}" ] || ulimit $ULIMITS; } &&
    exec "$@"' sh "$SBX_PIDS" "$SBX" "$@" >"$WORK/.out" 2>"$WORK/.err" </dev/null
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

# jq_py FILE EXPR: prints EXPR evaluated with d = json.load(FILE).
jq_py() {
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1" 2>/dev/null
}

# report_state FILE NAME: the state ("enforced", "degraded", "off") of entry
# NAME in the record's enforcement report, or "absent".
report_state() {
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
s = [e["state"] for e in (d.get("enforcement") or []) if e["name"] == sys.argv[2]]
print(s[0] if s else "absent")' "$1" "$2" 2>/dev/null || echo "unreadable"
}

# expect_report FILE NAME STATE: the record says NAME is STATE.
expect_report() {
  local got
  got=$(report_state "$1" "$2")
  [ "$got" = "$3" ] || fail "enforcement of '$2' is '$got', expected '$3': $(head -c 1500 "$1")"
}

is_root() { [ "$(id -u)" -eq 0 ]; }

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
  for opt in --rootfs --ro-bind --bind --tmpfs --workdir --env --user --hostname --network --json --stdin \
      --memory --pids-limit --cpus --cpu-time --timeout --kill-grace --rlimit --seccomp --output-limit \
      --cgroup-parent --strict --cap-add --no-landlock --report; do
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
    "d['version'] == 2" "d['status'] == 'exited'" "d['exit_code'] == 3" \
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

# ------------------------------------------------------------ limit options

test_limit_options_malformed() {
  usage_error "'12x' is not a size" run --memory 12x -- true
  usage_error --memory run --memory 0 -- true
  usage_error --memory run --memory -- true
  usage_error --memory run --memory 64m --memory 32m -- true
  usage_error --pids-limit run --pids-limit 0 -- true
  usage_error --pids-limit run --pids-limit x -- true
  usage_error --pids-limit run --pids-limit -5 -- true
  local v
  for v in abc -1 0 0.0 1025 nan inf 1e2 0.001 "" " 1" 0x10 1,5; do
    usage_error --cpus run --cpus "$v" -- true
  done
  for v in abc -1 0 1e3 inf 1s ""; do
    usage_error --cpu-time run --cpu-time "$v" -- true
    usage_error --timeout run --timeout "$v" -- true
  done
  usage_error --kill-grace run --kill-grace -1 -- true
  usage_error --kill-grace run --kill-grace x -- true
  usage_error --output-limit run --output-limit 0 -- true
  usage_error --output-limit run --output-limit 1q -- true
  usage_error --output-limit run --output-limit
  usage_error --cgroup-parent run --cgroup-parent "" -- true
  usage_error --strict run --strict=yes -- true
  usage_error --report run --report=1 -- true
  usage_error --no-landlock run --no-landlock=0 -- true
  usage_error --cap-add run --cap-add
  usage_error "--seccomp" run --seccomp "" -- true
  usage_error "more than once" run --seccomp none --seccomp default -- true
  # The library's own checks name the option and the problem.
  usage_error "--memory" run --memory 4k -- true
  usage_error "--cgroup-parent" run --cgroup-parent "a/../b" -- true
  usage_error "--seccomp" run --seccomp bogus-profile -- true
}

test_rlimit_malformed() {
  usage_error "--pids-limit" run --rlimit nproc=10 -- true
  usage_error "--pids-limit" run --rlimit RLIMIT_NPROC=10 -- true
  usage_error "unknown resource 'foo'" run --rlimit foo=1 -- true
  usage_error "'x' is not a limit" run --rlimit nofile=x -- true
  usage_error "soft limit 10 is above the hard limit 5" run --rlimit nofile=10:5 -- true
  usage_error "--rlimit" run --rlimit nofile -- true
  usage_error "--rlimit" run --rlimit nofile= -- true
  usage_error "--rlimit" run --rlimit nofile=10: -- true
  usage_error "--rlimit" run --rlimit cpu=1k -- true
  usage_error "--rlimit" run --rlimit fsize=1x -- true
  usage_error "more than once" run --rlimit nofile=10 --rlimit NOFILE=20 -- true
  # Below what stdio needs: the library refuses it.
  usage_error "--rlimit" run --rlimit nofile=2 -- true
  # A hard limit above sbx's own cannot be raised (the library's message).
  ULIMITS="-n 512" run_sbx run --rlimit nofile=256:1024 -- true
  expect_rc 125 && expect_err_contains "--rlimit" && expect_err_contains "above this process's own"
  [ -z "$OUT" ] || fail "the program ran: '$(show "$OUT")'"
  # At or below it is fine.
  ULIMITS="-n 512" run_sbx run --rlimit nofile=256:512 -- sh -c 'ulimit -n; ulimit -H -n'
  expect_rc 0 && expect_out $'256\n512'
}

# The memory limit, with a program that needs 256 MiB.
test_memory_limit() {
  local hog='b = b"x" * (256 << 20); print(len(b))'
  run_sbx run --memory 64m --timeout 30 --json "$WORK/mem.json" -- python3 -c "$hog"
  if ! is_root; then
    # No delegated cgroup: the limit is degraded, the program runs unlimited.
    expect_rc 0 && expect_out $((256 << 20))
    expect_report "$WORK/mem.json" memory.max degraded
    return
  fi
  expect_rc 137 || return
  expect_report "$WORK/mem.json" memory.max enforced
  py_check "$WORK/mem.json" "d['reason'] == 'memory'" "d['signal'] == 9" "'memory' in d['limits_hit']" \
    "d['usage']['memory_peak_bytes'] is not None" \
    "16 << 20 < d['usage']['memory_peak_bytes'] <= (64 << 20) + (8 << 20)"
  expect_err_contains "memory limit"
  # Within the limit the same box is fine.
  run_sbx run --memory 64m -- python3 -c 'b = b"x" * (16 << 20); print(len(b))'
  expect_rc 0 && expect_out $((16 << 20))
}

test_pids_limit() {
  local secs="30.$$$RANDOM" before after
  before=$(count_procs "sleep $secs")
  # 100 background sleeps; rootless (no cgroup) they all start and the
  # timeout ends them.
  run_sbx run --pids-limit 20 --timeout 3 --kill-grace 0.2 --json "$WORK/pids.json" -- \
    sh -c 'for i in $(seq 100); do sleep '"$secs"' & done; wait'
  sleep 0.2
  after=$(count_procs "sleep $secs")
  [ "$before" -eq 0 ] && [ "$after" -eq 0 ] || fail "boxed sleeps left running ($before before, $after after)"
  if ! is_root; then
    expect_report "$WORK/pids.json" pids.max degraded
    py_check "$WORK/pids.json" "d['reason'] == 'timeout'"
    return
  fi
  expect_report "$WORK/pids.json" pids.max enforced
  # The shell fails to fork at the limit; it may end at once (reason pids)
  # or wait for the sleeps it started until the timeout.
  py_check "$WORK/pids.json" "'pids' in d['limits_hit']" \
    "d['reason'] in ('pids', 'timeout') or (d['status'] == 'exited' and d['exit_code'] != 0)" \
    "d['usage']['pids_peak'] is None or d['usage']['pids_peak'] <= 20"
  [ "$RC" -ne 0 ] || fail "the fork loop succeeded under --pids-limit 20"
}

# A real fork bomb, root only: rootless there is no cgroup to cap it.
test_fork_bomb() {
  if ! is_root; then
    skip "needs the pids controller (root here)"
    return
  fi
  local marker="bomb$MARK"
  # The program stays for a second while the bomb spreads (its branches are
  # orphans that nobody waits for); it never has more than 20 processes, and
  # it ends with the box when the program does.
  run_sbx run --pids-limit 20 --timeout 10 --kill-grace 0.2 --json "$WORK/bomb.json" -- \
    sh -c 'f() { f | f & }; f; sleep 1' "$marker"
  expect_err_contains "fork"
  py_check "$WORK/bomb.json" "'pids' in d['limits_hit']" \
    "d['reason'] in ('normal', 'pids', 'timeout')" \
    "d['usage']['pids_peak'] is not None and d['usage']['pids_peak'] <= 20"
  sleep 0.2
  [ "$(count_procs "$marker")" -eq 0 ] || fail "fork-bomb processes outlived the box"
}

test_cpus() {
  local spin='end=$(( $(date +%s) + 2 )); while [ $(date +%s) -lt $end ]; do :; done'
  run_sbx run --cpus 0.2 --timeout 30 --json "$WORK/cpus.json" -- sh -c "$spin"
  expect_rc 0 || return
  if ! is_root; then
    expect_report "$WORK/cpus.json" cpu.max degraded
    return
  fi
  expect_report "$WORK/cpus.json" cpu.max enforced
  py_check "$WORK/cpus.json" "d['usage']['cpu_user_ms'] is not None" \
    "d['usage']['cpu_user_ms'] + d['usage']['cpu_system_ms'] <= 0.45 * d['usage']['wall_ms']" \
    "d['usage']['cpu_user_ms'] + d['usage']['cpu_system_ms'] > 0.05 * d['usage']['wall_ms']"
}

test_timeout_kills_tree() {
  local secs="100.$$$RANDOM"
  run_sbx run --timeout 1 --kill-grace 0.5 --json "$WORK/to1.json" -- \
    sh -c 'trap "" TERM; (trap "" TERM; sleep '"$secs"') & sleep '"$secs"
  expect_rc 137
  py_check "$WORK/to1.json" "d['reason'] == 'timeout'" "d['signal'] == 9" "'timeout' in d['limits_hit']"
  expect_report "$WORK/to1.json" timeout enforced
  expect_err_contains "timeout"
  sleep 0.2
  [ "$(count_procs "sleep $secs")" -eq 0 ] || fail "processes that ignore SIGTERM outlived the timeout"
}

test_timeout_sigterm() {
  run_sbx run --timeout 1.5 --json "$WORK/to2.json" -- sleep 100
  expect_rc 143
  py_check "$WORK/to2.json" "d['reason'] == 'timeout'" "d['signal'] == 15" "d['shell_code'] == 143"
  # A program that ends in time is not affected.
  run_sbx run --timeout 30 --json "$WORK/to3.json" -- sh -c 'echo quick'
  expect_rc 0 && expect_out quick
  py_check "$WORK/to3.json" "d['reason'] == 'normal'" "d['limits_hit'] == []"
}

test_cpu_time() {
  run_sbx run --cpu-time 1 --timeout 30 --json "$WORK/cpu.json" -- sh -c 'while :; do :; done'
  # Root: the cgroup's accounting and SIGKILL; rootless: RLIMIT_CPU, SIGXCPU.
  if [ "$RC" -ne 137 ] && [ "$RC" -ne 152 ]; then
    fail "expected exit status 137 or 152, got $RC (stderr: '$(show "$ERR")')"
  fi
  py_check "$WORK/cpu.json" "d['reason'] == 'cpu-time'" "'cpu-time' in d['limits_hit']"
  if is_root; then
    expect_report "$WORK/cpu.json" cpu-time enforced
  else
    expect_report "$WORK/cpu.json" cpu-time degraded
  fi
}

test_rlimit_fsize() {
  run_sbx run --rlimit fsize=1m --tmpfs /tmp --json "$WORK/fsize.json" -- \
    dd if=/dev/zero of=/tmp/x bs=1M count=4
  expect_rc 153
  py_check "$WORK/fsize.json" "d['reason'] == 'file-size'" "d['signal'] == 25" "'file-size' in d['limits_hit']"
  run_sbx run --rlimit RLIMIT_FSIZE=2m --tmpfs /tmp -- \
    sh -c 'dd if=/dev/zero of=/tmp/x bs=1M count=1 2>/dev/null && wc -c </tmp/x'
  expect_rc 0 && expect_out 1048576
}

test_rlimit_nofile() {
  run_sbx run --rlimit nofile=16 -- sh -c 'ulimit -n; ulimit -H -n'
  expect_rc 0 && expect_out $'16\n16'
  run_sbx run --rlimit Nofile=16:32 -- sh -c 'ulimit -n; ulimit -H -n'
  expect_rc 0 && expect_out $'16\n32'
  run_sbx run --rlimit nofile=16 -- python3 -c 'fs = [open("/dev/null") for _ in range(50)]'
  expect_nonzero && expect_err_contains "Too many open files"
  run_sbx run --rlimit core=0 --rlimit stack=8m:unlimited --rlimit as=inf -- sh -c 'ulimit -c; ulimit -s'
  expect_rc 0 && expect_out $'0\n8192'
}

test_output_limit() {
  run_sbx run --output-limit 1k --json "$WORK/out1.json" -- yes
  expect_rc 137
  local n
  n=$(wc -c <"$WORK/.out")
  [ "$n" -eq 1024 ] || fail "stdout has $n bytes, expected exactly 1024"
  [ "$(tr -d 'y\n' <"$WORK/.out" | wc -c)" -eq 0 ] || fail "stdout is not yes's output"
  py_check "$WORK/out1.json" "d['reason'] == 'output-limit'" "d['output_truncated'] is True" \
    "d['usage']['output_bytes'] > 1024" "'output-limit' in d['limits_hit']" "d['shell_code'] == 137"
  expect_err_contains "output"
  # Under the limit: relayed as is, and counted.
  run_sbx run --output-limit 1k --json "$WORK/out2.json" -- sh -c 'printf "%0100d" 0'
  expect_rc 0
  [ "$(wc -c <"$WORK/.out")" -eq 100 ] || fail "stdout has $(wc -c <"$WORK/.out") bytes, expected 100"
  py_check "$WORK/out2.json" "d['reason'] == 'normal'" "d['output_truncated'] is False" \
    "d['usage']['output_bytes'] == 100" "d['limits_hit'] == []"
  # Exactly at the limit is not past it.
  run_sbx run --output-limit 100 --json "$WORK/out3.json" -- sh -c 'printf "%0100d" 0'
  expect_rc 0
  py_check "$WORK/out3.json" "d['output_truncated'] is False" "d['usage']['output_bytes'] == 100"
  # Without --output-limit nothing is counted.
  run_sbx run --json "$WORK/out4.json" -- echo hi
  py_check "$WORK/out4.json" "d['usage']['output_bytes'] is None" "d['output_truncated'] is False"
}

test_output_limit_streams() {
  # stdout and stderr count together; each keeps its own bytes in order.
  run_sbx run --output-limit 1k --json "$WORK/out5.json" -- \
    sh -c 'head -c 600 /dev/zero | tr "\0" a; head -c 600 /dev/zero | tr "\0" b >&2; sleep 30'
  expect_rc 137
  [ "$(tr -cd a <"$WORK/.out" | wc -c)" -eq 600 ] || fail "stdout: $(wc -c <"$WORK/.out") bytes, expected 600 a"
  # sbx's own note about the limit follows on a line of its own.
  [ "$(grep -v '^sbx: ' "$WORK/.err" | tr -cd b | wc -c)" -eq 424 ] ||
    fail "stderr: $(grep -v '^sbx: ' "$WORK/.err" | tr -cd b | wc -c) b, expected 424"
  grep -q '^sbx: .*output' "$WORK/.err" || fail "no note about the output limit on its own line: $(show "$ERR")"
  py_check "$WORK/out5.json" "d['reason'] == 'output-limit'" "d['usage']['output_bytes'] == 1200"
  # Much more than a pipe buffer, under the limit: every byte, in order.
  run_sbx run --output-limit 10m -- seq 1 200000
  expect_rc 0
  seq 1 200000 | cmp -s - "$WORK/.out" || fail "relayed output differs from seq's"
  # Binary bytes pass unchanged (no NUL: bash warns about those in $OUT).
  head -c 70000 /dev/urandom | tr -d '\0' >"$WORK/random.bin"
  chmod 0644 "$WORK/random.bin"
  run_sbx run --output-limit 1m --stdin "$WORK/random.bin" -- cat
  expect_rc 0
  cmp -s "$WORK/random.bin" "$WORK/.out" || fail "binary output was changed by the relay"
}

test_output_limit_closed_stdout() {
  # sbx's own stdout goes away: no death by SIGPIPE; sbx keeps counting (and
  # dropping) the output until the limit ends the box.
  timeout -k 5 "$DEADLINE" "$SBX" run --output-limit 1m --json "$WORK/out6.json" -- yes \
    2>"$WORK/.err" </dev/null | head -c 10 >/dev/null
  RC=${PIPESTATUS[0]}
  ERR=$(cat "$WORK/.err")
  OUT=""
  expect_rc 137
  py_check "$WORK/out6.json" "d['reason'] == 'output-limit'" "d['usage']['output_bytes'] > 1048576"
}

test_seccomp_profiles() {
  run_sbx run --json "$WORK/sc0.json" -- unshare -U true
  expect_nonzero
  expect_report "$WORK/sc0.json" seccomp enforced
  run_sbx run --seccomp default -- unshare -U true
  expect_nonzero
  run_sbx run --seccomp none --json "$WORK/sc1.json" -- unshare -U true
  expect_rc 0
  expect_report "$WORK/sc1.json" seccomp off
  run_sbx run --seccomp compute -- /bin/true
  expect_rc 0
  # compute allows no new process.
  run_sbx run --seccomp compute --json "$WORK/sc2.json" -- sh -c '/bin/true & wait'
  expect_rc 159
  py_check "$WORK/sc2.json" "d['reason'] == 'seccomp'" "d['signal'] == 31"
  expect_err_contains "seccomp"
}

test_seccomp_file() {
  local dir
  dir=$(newdir seccomp 0755)
  printf '%s\n' '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [' \
    '{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}' >"$dir/deny-mkdir.json"
  printf '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [' >"$dir/broken.json"
  printf '{"defaultAction": "SCMP_ACT_BOGUS"}\n' >"$dir/bad-action.json"
  chmod 0644 "$dir/deny-mkdir.json" "$dir/broken.json" "$dir/bad-action.json"
  run_sbx run --tmpfs /tmp -- mkdir /tmp/d
  expect_rc 0
  run_sbx run --seccomp "$dir/deny-mkdir.json" --tmpfs /tmp --json "$WORK/sc3.json" -- mkdir /tmp/d
  expect_nonzero && expect_err_contains "Operation not permitted"
  expect_report "$WORK/sc3.json" seccomp enforced
  usage_error "--seccomp" run --seccomp "$dir/broken.json" -- true
  expect_err_contains "broken.json"
  usage_error "--seccomp" run --seccomp "$dir/bad-action.json" -- true
  usage_error "/nonexistent-$MARK.json" run --seccomp "/nonexistent-$MARK.json" -- true
  usage_error "nonexistent-$MARK.json" run --seccomp "nonexistent-$MARK.json" -- true
  local shared
  shared="$(dirname "$(dirname "$(realpath "${BASH_SOURCE[0]}")")")/security/profiles/sbx-test-profile.json"
  if [ ! -r "$shared" ]; then
    skip "$shared does not exist yet"
    return
  fi
  run_sbx run --seccomp "$shared" --json "$WORK/sc4.json" -- /bin/true
  expect_rc 0
  expect_report "$WORK/sc4.json" seccomp enforced
}

# Port 80 in the box's own network namespace needs CAP_NET_BIND_SERVICE
# there. Landlock (on by default) denies every TCP bind in a box without
# network, so the grant itself is tested with --no-landlock.
test_cap_add() {
  local bind='import socket; s = socket.socket(); s.bind(("127.0.0.1", 80)); print("bound")'
  run_sbx run --no-landlock --json "$WORK/cap0.json" -- python3 -c "$bind"
  expect_nonzero && expect_err_contains "Permission denied"
  expect_report "$WORK/cap0.json" landlock off
  run_sbx run --no-landlock --cap-add net_bind_service --json "$WORK/cap1.json" -- python3 -c "$bind"
  expect_rc 0 && expect_out bound
  expect_report "$WORK/cap1.json" capabilities enforced
  py_check "$WORK/cap1.json" \
    "'CAP_NET_BIND_SERVICE' in [e for e in d['enforcement'] if e['name'] == 'capabilities'][0]['mechanism']"
  run_sbx run --no-landlock --cap-add CAP_NET_BIND_SERVICE -- python3 -c "$bind"
  expect_rc 0 && expect_out bound
  # With Landlock's TCP rules the bind stays refused.
  run_sbx run --cap-add net_bind_service --json "$WORK/cap2.json" -- python3 -c "$bind"
  if [ "$(report_state "$WORK/cap2.json" landlock)" = enforced ] &&
      jq_py "$WORK/cap2.json" "[e for e in d['enforcement'] if e['name'] == 'landlock'][0]['mechanism']" |
      grep -qi tcp; then
    expect_nonzero
  fi
  # Landlock kept, its TCP rules left out: the bind works.
  run_sbx run --allow-loopback-tcp --cap-add net_bind_service --json "$WORK/cap3.json" -- python3 -c "$bind"
  expect_rc 0 && expect_out bound
  expect_report "$WORK/cap3.json" landlock enforced
  usage_error "CAP_SYS_ADMIN cannot be granted" run --cap-add sys_admin -- true
  usage_error "--cap-add" run --cap-add no_such_cap -- true
}

test_strict() {
  run_sbx run --strict --memory 64m -- echo ran
  if is_root; then
    expect_rc 0 && expect_out ran
  else
    expect_rc 125 && expect_err_contains "memory"
    [ -z "$OUT" ] || fail "the program ran under --strict: '$(show "$OUT")'"
  fi
  # Layers turned off on purpose are not missing.
  run_sbx run --strict --seccomp none --no-landlock -- echo ran
  expect_rc 0 && expect_out ran
}

test_report() {
  run_sbx run --report -- echo hi
  expect_rc 0 && expect_out hi
  expect_err_contains "enforcement report"
  local name
  for name in seccomp landlock capabilities no_new_privs; do
    printf '%s\n' "$ERR" | grep -Eq "^  $name +(enforced|degraded|off) " ||
      fail "--report has no '$name' row: '$(show "$ERR")'"
  done
  run_sbx run --report --memory 64m --timeout 10 -- true
  printf '%s\n' "$ERR" | grep -Eq "^  memory\.max +(enforced|degraded) " ||
    fail "no memory.max row: '$(show "$ERR")'"
  printf '%s\n' "$ERR" | grep -Eq "^  timeout +enforced " || fail "no timeout row: '$(show "$ERR")'"
}

test_cgroup_parent() {
  local parent="sbx/clitest-$MARK"
  run_sbx run --cgroup-parent "$parent" --memory 64m --json "$WORK/cgp.json" -- echo ok
  expect_rc 0 && expect_out ok
  if is_root; then
    expect_report "$WORK/cgp.json" memory.max enforced
    py_check "$WORK/cgp.json" \
      "'clitest-$MARK' in [e for e in d['enforcement'] if e['name'] == 'memory.max'][0]['mechanism']"
    # sbx leaves the parents it created; this one is the test's own.
    local d
    for d in /sys/fs/cgroup/*/"$parent" /sys/fs/cgroup/"$parent"; do
      if [ -d "$d" ]; then rmdir "$d" 2>/dev/null || fail "cannot remove the test's cgroup parent $d"; fi
    done
  else
    expect_report "$WORK/cgp.json" memory.max degraded
  fi
}

test_json_record() {
  run_sbx run --memory 64m --pids-limit 50 --timeout 10 --json "$WORK/rec.json" -- sh -c 'echo x; exit 4'
  expect_rc 4 || return
  py_check "$WORK/rec.json" \
    "d['version'] == 2" "d['reason'] == 'normal'" "d['shell_code'] == 4" "d['limits_hit'] == []" \
    "d['output_truncated'] is False" "isinstance(d['enforcement'], list) and len(d['enforcement']) > 0" \
    "set(d['usage']) == {'wall_ms', 'cpu_user_ms', 'cpu_system_ms', 'memory_peak_bytes', 'pids_peak', 'output_bytes'}" \
    "d['usage']['wall_ms'] == d['wall_ms']" \
    "all(set(e) == {'name', 'state', 'mechanism', 'detail'} for e in d['enforcement'])" \
    "all(e['state'] in ('enforced', 'degraded', 'off') for e in d['enforcement'])" \
    "all(isinstance(v, (int, float)) or v is None for v in d['usage'].values())"
  local name
  for name in seccomp landlock capabilities no_new_privs timeout; do
    expect_report "$WORK/rec.json" "$name" enforced
  done
  if is_root; then
    for name in memory.max pids.max; do expect_report "$WORK/rec.json" "$name" enforced; done
    py_check "$WORK/rec.json" "d['usage']['cpu_user_ms'] is not None" \
      "d['usage']['memory_peak_bytes'] is not None"
  else
    for name in memory.max pids.max; do expect_report "$WORK/rec.json" "$name" degraded; done
  fi
  # A setup failure: reason "setup", no measurements, the report of the box
  # that was created.
  run_sbx run --json "$WORK/rec2.json" -- "/nonexistent-$MARK"
  expect_rc 127
  py_check "$WORK/rec2.json" "d['reason'] == 'setup'" "d['usage']['cpu_user_ms'] is None" \
    "d['limits_hit'] == []" "isinstance(d['enforcement'], list)"
  # Refused by the library before a box exists: no report.
  run_sbx run --json "$WORK/rec3.json" --cap-add sys_admin -- true
  expect_rc 125
  py_check "$WORK/rec3.json" "d['reason'] == 'setup'" "d['enforcement'] is None" \
    "d['error']['code'] == 'SBX_E_INVALID'"
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
    run_sbx run --memory 64m --pids-limit 10 --output-limit 1k -- sh -c 'yes' "$MARK-leak"
    run_sbx run --timeout 0.3 --kill-grace 0 -- sh -c 'sleep 10' "$MARK-leak"
    run_sbx run --strict --memory 64m -- sh -c 'exit 0' "$MARK-leak"
    run_sbx run --seccomp compute -- sh -c '/bin/true & wait' "$MARK-leak"
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

# Runs last: no cgroup directory of a box started by this run is left.
test_no_cgroup_leftovers() {
  if ! is_root; then
    skip "no cgroups rootless here"
    return
  fi
  if [ ! -s "$SBX_PIDS" ]; then
    fail "no sbx pid was recorded"
    return
  fi
  local left
  left=$(find /sys/fs/cgroup -mindepth 2 -maxdepth 6 -type d -name 'sbx-*' 2>/dev/null |
    grep -E "/sbx-($(sort -u "$SBX_PIDS" | paste -sd'|'))-" || true)
  [ -z "$left" ] || fail "cgroup directories left by this run: $(echo "$left" | head -n 5 | tr '\n' ' ')"
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
