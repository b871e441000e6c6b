#!/bin/bash
# run_as_user.sh COMMAND [ARGS...]
#
# Runs COMMAND as an unprivileged user, for the rootless variants of the tests.
#   - Already non-root: exec COMMAND unchanged.
#   - Root: create the system user `sbxtest` if missing, check that COMMAND,
#     every existing path among ARGS and the working directory are reachable
#     by that user (fail loudly otherwise: a rootless test that cannot even
#     start must not look like a pass), then run COMMAND with that user's
#     uid/gid, HOME and TMPDIR set to a fresh private directory (removed
#     afterwards), PATH and test-related variables kept, everything else reset.
# Exit status: COMMAND's (128+N if it was killed by signal N); 1 when the
# wrapper itself fails.
#
# Environment: SBX_TEST_USER (default sbxtest) picks the user.
set -u

user="${SBX_TEST_USER:-sbxtest}"

die() {
  echo "run_as_user.sh: $*" >&2
  exit 1
}

[ $# -ge 1 ] || die "usage: run_as_user.sh COMMAND [ARGS...]"

if [ "$(id -u)" -ne 0 ]; then
  echo "running as uid $(id -u)" >&2
  exec "$@"
fi

for tool in setpriv useradd; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found (util-linux / passwd); cannot drop privileges"
done

# ------------------------------------------------------------------ the user
ensure_user() {
  id -u "$user" >/dev/null 2>&1 && return 0
  useradd --system --user-group --no-create-home --home-dir /nonexistent \
          --shell /usr/sbin/nologin --comment "sbx rootless tests" "$user" ||
    id -u "$user" >/dev/null 2>&1   # lost a race to a parallel test: fine
}
if command -v flock >/dev/null 2>&1; then
  # ctest -j runs several wrappers at once; useradd fails on a locked passwd.
  lockdir=/tmp
  for d in /run/lock /var/lock; do
    if [ -d "$d" ] && [ -w "$d" ]; then lockdir="$d"; break; fi
  done
  exec 9>"$lockdir/sbx-run-as-user.lock" || die "cannot open $lockdir/sbx-run-as-user.lock"
  flock 9
  ensure_user || die "could not create user '$user' with useradd"
  flock -u 9
  exec 9>&-
else
  ensure_user || die "could not create user '$user' with useradd"
fi

uid="$(id -u "$user")"
gid="$(id -g "$user")"
[ "$uid" -ne 0 ] || die "user '$user' has uid 0; refusing"

as_user() {
  setpriv --reuid="$uid" --regid="$gid" --init-groups --reset-env "$@"
}

# -------------------------------------------------------- reachability checks
# Prints why PATH is not reachable for the user and returns 1, or returns 0.
# WANT is what the last component must allow: x (execute / enter) or r (read);
# every directory on the way must be traversable in any case.
check_path() {
  local path="$1" want="$2" dir="" comp rest
  case "$path" in /*) ;; *) path="$PWD/$path" ;; esac
  rest="${path#/}"
  while [ -n "$rest" ]; do
    comp="${rest%%/*}"
    if [ "$comp" = "$rest" ]; then rest=""; else rest="${rest#*/}"; fi
    [ -n "$comp" ] || continue
    if [ -n "$rest" ] || [ -d "$dir/$comp" ]; then
      if [ -d "$dir/$comp" ] && ! as_user test -x "$dir/$comp"; then
        echo "run_as_user.sh: user '$user' (uid $uid) cannot traverse directory" \
             "$dir/$comp ($(stat -c '%A %U:%G' "$dir/$comp")) on the way to $path;" \
             "make it world-searchable (chmod o+x) or move the build tree" >&2
        return 1
      fi
    fi
    dir="$dir/$comp"
  done
  case "$want" in
    x) as_user test -x "$path" || {
         echo "run_as_user.sh: user '$user' (uid $uid) cannot execute $path" \
              "($(stat -c '%A %U:%G' "$path"))" >&2; return 1; } ;;
    r) as_user test -r "$path" || {
         echo "run_as_user.sh: user '$user' (uid $uid) cannot read $path" \
              "($(stat -c '%A %U:%G' "$path"))" >&2; return 1; } ;;
  esac
  return 0
}

prog="$1"
case "$prog" in
  */*) ;;
  *) prog="$(type -P -- "$prog")" || die "command not found: $1" ;;
esac
[ -e "$prog" ] || die "command not found: $prog"
check_path "$prog" x || exit 1
shift_args=("${@:2}")
for arg in "${shift_args[@]}"; do
  # Absolute paths among the arguments (test data, helper binaries) must be
  # readable, directories traversable.
  case "$arg" in
    /*) if [ -d "$arg" ]; then check_path "$arg" x || exit 1
        elif [ -e "$arg" ]; then check_path "$arg" r || exit 1; fi ;;
  esac
done
check_path "$PWD" x || exit 1

# ------------------------------------------------------------ private $HOME
base="${SBX_RUN_AS_USER_TMPDIR:-/tmp}"
home="$(mktemp -d "$base/sbxtest-home.XXXXXX")" || die "mktemp -d in $base failed"
# shellcheck disable=SC2317  # invoked by the trap
cleanup() { rm -rf -- "$home"; }
trap cleanup EXIT
if ! chown "$uid:$gid" "$home" || ! chmod 0700 "$home"; then
  die "cannot hand $home to $user"
fi
check_path "$home" x || exit 1

# Variables kept across --reset-env: the search path and what test harnesses
# and sanitizers read. Everything else (credentials, root's XDG dirs, ...) is
# dropped.
keep=("PATH=$PATH" "HOME=$home" "TMPDIR=$home" "USER=$user" "LOGNAME=$user")
while IFS= read -r name; do
  case "$name" in
    LANG | LC_* | TERM | TZ | LD_LIBRARY_PATH | \
    ASAN_OPTIONS | UBSAN_OPTIONS | LSAN_OPTIONS | TSAN_OPTIONS | MSAN_OPTIONS | \
    GTEST_* | CTEST_* | SBX_*)
      keep+=("$name=${!name}") ;;
  esac
done < <(compgen -e)

echo "running as uid $uid" >&2

# Run in the background (not exec) so that the private HOME is removed
# afterwards; forward termination signals so a ctest timeout reaches the test.
child=""
# shellcheck disable=SC2317  # invoked by the traps
forward() { [ -z "$child" ] || kill -s "$1" "$child" 2>/dev/null; }
trap 'forward TERM' TERM
trap 'forward INT' INT
trap 'forward HUP' HUP
# setpriv execs env, which execs the command: $child is the command's pid.
# A background job of a non-interactive shell gets stdin from /dev/null and
# SIGINT/SIGQUIT ignored; `<&0` and --default-signal undo both, so the
# command sees what it would have seen in the foreground.
setpriv --reuid="$uid" --regid="$gid" --init-groups --reset-env \
  env -i --default-signal=INT,QUIT "${keep[@]}" "$prog" "${shift_args[@]}" <&0 &
child=$!
while :; do
  wait "$child"
  rc=$?
  # wait returns >128 also when a trapped signal interrupts it; the child may
  # still be running (or be an unreaped zombie), so wait again until it has
  # really been reaped.
  if [ "$rc" -le 128 ] || ! kill -0 "$child" 2>/dev/null; then break; fi
done
exit "$rc"
