#!/usr/bin/env bash
# Quick start, step 2: build and run the whole test suite.
#   1. the normal build: unit, C API/header/export/install, CLI and
#      integration tests with real boxes, each as root and as an
#      unprivileged user (tests/run_as_user.sh);
#   2. the same tests under AddressSanitizer + UndefinedBehaviorSanitizer;
#   3. the concurrent parts (integration, unit) under ThreadSanitizer.
# Run ./setup.sh first on a fresh machine (it installs the packages).
set -euo pipefail
cd "$(dirname "$0")"
JOBS="$(nproc)"

# The rootless variants run the build tree as an unprivileged user
# (tests/run_as_user.sh), so every directory above it must be traversable by
# others. If this checkout lives below a private directory (e.g. /root),
# run the suite from a copy in a world-traversable temporary directory
# instead of changing permissions of directories sbx does not own.
if [ "$(id -u)" = 0 ] && [ -z "${SBX_TEST_RELOCATED:-}" ]; then
  d="$PWD"
  while [ "$d" != "/" ]; do
    mode="$(stat -c %A "$d")"
    case "${mode:9:1}" in x | t) ;; *)
      copy="$(mktemp -d /tmp/sbx-test.XXXXXX)"
      chmod 755 "$copy"
      echo "== $d is not traversable by other users: running the suite from $copy"
      tar --exclude=./build --exclude=./build-asan --exclude=./build-tsan -cf - . | tar -C "$copy" -xf -
      rc=0
      SBX_TEST_RELOCATED=1 bash "$copy/test.sh" || rc=$?
      rm -rf "$copy"
      exit $rc
      ;;
    esac
    d="$(dirname "$d")"
  done
fi

echo "== [1/3] normal build"
cmake --preset dev >/dev/null
cmake --build --preset dev
ctest --preset dev -j "$JOBS"

echo "== [2/3] ASan + UBSan"
cmake --preset asan >/dev/null
cmake --build --preset asan
# The install/pkg-config consumers link a sanitized library into
# unsanitized programs; they are covered by the normal build.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --preset asan -j "$JOBS" -E 'install|bench'

echo "== [3/3] TSan"
cmake --preset tsan >/dev/null
cmake --build --preset tsan
# TSan needs a conventional address-space layout; the kernel's default ASLR
# entropy is higher than the one GCC 12's TSan runtime expects.
# The seccomp unit tests install filters in forked children, where TSan's
# runtime makes system calls of its own (and a killed thread leaves its
# helper thread behind): they have no threads to check and run in stages 1-2.
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  setarch "$(uname -m)" -R ctest --preset tsan -j "$JOBS" -R 'integration|unit' -E '^unit\.Seccomp'
echo "== all test stages passed"
