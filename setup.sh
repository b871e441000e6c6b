#!/usr/bin/env bash
# Quick start, step 1: install what sbx needs from Debian 12, build it, and
# run one program in a fully isolated box through the `sbx` CLI.
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(
  build-essential cmake ninja-build pkg-config python3 util-linux
  libgtest-dev googletest
  libseccomp-dev nlohmann-json3-dev libcap-dev uidmap bubblewrap hyperfine
  swig golang-go ruby ruby-dev ruby-minitest junit5 default-jdk-headless
)
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  $SUDO apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

echo "== building (cmake --preset dev)"
cmake --preset dev >/dev/null
cmake --build --preset dev

SBX=./build/cli/sbx
echo
echo "== what this host supports (sbx check)"
"$SBX" check
echo
echo "== a sandboxed command: sbx run --hostname demo --tmpfs /tmp:16m --memory 256m --pids-limit 64 --timeout 30 --report -- /bin/sh -c '...'"
export SBX_DEMO_SECRET="host-only value"
"$SBX" run --hostname demo --tmpfs /tmp:16m --memory 256m --pids-limit 64 --timeout 30 --report -- /bin/sh -c '
  echo "whoami:     $(id)"
  echo "hostname:   $(hostname)"
  echo "my pid:     $$ (pids visible: $(ls /proc | grep -c "^[0-9]"))"
  echo "network:    $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | tr "\n" " ")"
  echo "root dir:   $(ls / | tr "\n" " ")"
  printf "open fds:   "; ls /proc/$$/fd | tr "\n" " "; echo
  echo "secret env: ${SBX_DEMO_SECRET:-<not visible>}"
  grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status | tr "\t" " "
  unshare -U true 2>/dev/null && echo "nested userns allowed?!" || echo "nested userns: refused (seccomp)"
  touch /usr/probe 2>/dev/null && echo "/usr writable?!" || echo "/usr:       read-only"
  echo hello > /tmp/x && echo "/tmp:       writable tmpfs"'
echo "== exit code: $?"
