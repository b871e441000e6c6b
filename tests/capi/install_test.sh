#!/bin/bash
# Installs libsbx into a private temporary prefix and consumes it like an
# out-of-tree user would. Run by ctest (see tests/capi/CMakeLists.txt):
#
#   install_test.sh pkgconfig   capi.install_pkgconfig
#       cmake --install into TMP/a/prefix; sbx.pc has the project version, a
#       prefix that resolves to the install prefix, and --static adds the
#       Libs.private entries; pc_consumer.c built with
#       `cc $(pkg-config --cflags --libs sbx)` runs a box (exit 3) and prints
#       "ok" with LD_LIBRARY_PATH=<prefix>/<libdir>, loading the installed
#       library. Then the prefix is copied elsewhere, the original deleted,
#       and the same is repeated with only PKG_CONFIG_PATH changed
#       (relocatable .pc).
#   install_test.sh cmake       capi.install_cmake
#       the same prefix consumed by tests/capi/cmake_consumer through
#       find_package(sbx) and sbx::sbx, before and after relocation, plus the
#       version policy of sbxConfigVersion.cmake.
#   install_test.sh uninstalled capi.pkgconfig_uninstalled
#       PKG_CONFIG_PATH=<build>/pkgconfig resolves sbx to the build tree
#       (sbx-uninstalled.pc) and the consumer runs against the build tree's
#       library without LD_LIBRARY_PATH.
#
# Options (all required unless noted):
#   --build=DIR --source=DIR --libdir=REL (CMAKE_INSTALL_LIBDIR)
#   --cc=C_COMPILER --cmake=CMAKE --generator=GEN --version=X.Y.Z
#   --lib=PATH (the build tree's libsbx.so)
#   --pkg-config=PATH (pkgconfig/uninstalled; exit 77 = skipped if missing)
#   --libs-private="A B" (pkgconfig; space-separated, as in Libs.private)
#   --requires-private="mod >= 1, mod2" (optional; comma-separated)
#   --sanitize=LIST (optional; SBX_SANITIZE of the build, so that consumers
#                    of an instrumented library are instrumented too)
#
# Nothing is written outside a fresh temporary directory, which is removed on
# exit. The one exception is out of our hands: `cmake --install` always
# rewrites <build>/install_manifest.txt; it is saved before and restored (or
# removed if it did not exist) afterwards.
set -u

mode="${1:-}"
shift || true
build="" source="" libdir="" cc="" cmake="" generator="" version="" lib=""
pkg_config="" libs_private="" requires_private="" sanitize=""
for arg in "$@"; do
  case "$arg" in
    --build=*) build="${arg#*=}" ;;
    --source=*) source="${arg#*=}" ;;
    --libdir=*) libdir="${arg#*=}" ;;
    --cc=*) cc="${arg#*=}" ;;
    --cmake=*) cmake="${arg#*=}" ;;
    --generator=*) generator="${arg#*=}" ;;
    --version=*) version="${arg#*=}" ;;
    --lib=*) lib="${arg#*=}" ;;
    --pkg-config=*) pkg_config="${arg#*=}" ;;
    --libs-private=*) libs_private="${arg#*=}" ;;
    --requires-private=*) requires_private="${arg#*=}" ;;
    --sanitize=*) sanitize="${arg#*=}" ;;
    *) echo "install_test.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done
case "$mode" in pkgconfig | cmake | uninstalled) ;; *)
  echo "usage: install_test.sh pkgconfig|cmake|uninstalled --build=DIR ..." >&2; exit 2 ;;
esac
for v in build source libdir cc cmake generator version lib; do
  [ -n "${!v}" ] || { echo "install_test.sh: --$v=... is required" >&2; exit 2; }
done
if [ "$mode" != cmake ]; then
  if [ -z "$pkg_config" ] || ! command -v "$pkg_config" >/dev/null 2>&1; then
    echo "SKIPPED: pkg-config not found" >&2
    exit 77
  fi
fi

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
die() {
  echo "FAIL: $*" >&2
  exit 1
}
step() { echo "--- $*"; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/sbx-capi-$mode.XXXXXX")" || die "mktemp -d failed"
manifest="$build/install_manifest.txt"
manifest_saved=""
# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
  if [ "$manifest_saved" = yes ]; then
    cat "$tmp/install_manifest.orig" >"$manifest"
  elif [ "$manifest_saved" = no ]; then
    rm -f "$manifest"
  fi
  rm -rf -- "$tmp"
}
trap cleanup EXIT

consumer_src="$source/tests/capi/pc_consumer.c"
[ -f "$consumer_src" ] || die "$consumer_src is missing"
san_flags=()
[ -z "$sanitize" ] || san_flags=("-fsanitize=$sanitize" -fno-omit-frame-pointer)

# install_into PREFIX: cmake --install, keeping the build tree unchanged.
install_into() {
  if [ -e "$manifest" ]; then
    cp "$manifest" "$tmp/install_manifest.orig" && manifest_saved=yes
  else
    manifest_saved=no
  fi
  step "cmake --install $build --prefix $1"
  if ! "$cmake" --install "$build" --prefix "$1" >"$tmp/install.log" 2>&1; then
    cat "$tmp/install.log" >&2
    die "cmake --install failed"
  fi
  [ -f "$1/include/sbx/sbx.h" ] || fail "sbx.h not installed to $1/include/sbx"
  [ -e "$1/$libdir/libsbx.so" ] || fail "libsbx.so not installed to $1/$libdir"
}

# run_consumer EXE EXPECTED_LIBDIR [env assignments...]: runs EXE, which must
# print exactly "ok", and checks that it loads libsbx from EXPECTED_LIBDIR.
run_consumer() {
  local exe="$1" want_dir="$2" out loaded
  shift 2
  loaded="$(env "$@" ldd "$exe" 2>/dev/null | sed -n 's/^[[:space:]]*libsbx\.so[^ ]* => \([^ ]*\) .*/\1/p')"
  if [ -z "$loaded" ] || [ "$(realpath "$(dirname "$loaded")")" != "$(realpath "$want_dir")" ]; then
    fail "$(basename "$exe") resolves libsbx to '${loaded:-nothing}', expected a library in $want_dir"
  fi
  out="$(env "$@" timeout 60 "$exe")"
  local rc=$?
  if [ $rc -ne 0 ] || [ "$out" != ok ]; then
    fail "$(basename "$exe") exited $rc and printed '$out' (expected 0 and 'ok')"
  else
    echo "$(basename "$exe"): ok (libsbx from $want_dir)"
  fi
}

# pc_build_and_run PC_DIR LIB_DIR EXE [ld_library_path]: builds pc_consumer.c
# from `pkg-config --cflags --libs sbx` alone and runs it.
pc_build_and_run() {
  local pc_dir="$1" lib_dir="$2" exe="$3" use_ldpath="$4" flags
  flags="$(PKG_CONFIG_PATH="$pc_dir" "$pkg_config" --cflags --libs sbx)" ||
    { fail "pkg-config --cflags --libs sbx failed with PKG_CONFIG_PATH=$pc_dir"; return; }
  local -a flag_array
  read -ra flag_array <<<"$flags"
  step "cc pc_consumer.c $flags"
  if ! "$cc" -std=c99 -Wall -Wextra -pedantic -Werror "${san_flags[@]}" \
       -o "$exe" "$consumer_src" "${flag_array[@]}"; then
    fail "pc_consumer.c does not build with: $flags"
    return
  fi
  if [ "$use_ldpath" = yes ]; then
    run_consumer "$exe" "$lib_dir" LD_LIBRARY_PATH="$lib_dir"
  else
    run_consumer "$exe" "$lib_dir" -u LD_LIBRARY_PATH
  fi
}

# check_pc PC_DIR PREFIX: the metadata of sbx.pc.
check_pc() {
  local pc_dir="$1" prefix="$2" got item static_libs
  export PKG_CONFIG_PATH="$pc_dir" PKG_CONFIG_DISABLE_UNINSTALLED=1
  [ -f "$pc_dir/sbx.pc" ] || { fail "$pc_dir/sbx.pc not installed"; return; }
  "$pkg_config" --validate sbx || fail "pkg-config --validate sbx"
  got="$("$pkg_config" --modversion sbx)"
  [ "$got" = "$version" ] || fail "pkg-config --modversion sbx = '$got', expected '$version'"
  for item in prefix libdir includedir; do
    got="$("$pkg_config" --variable="$item" sbx)"
    case "$item" in
      prefix) want="$prefix" ;;
      libdir) want="$prefix/$libdir" ;;
      includedir) want="$prefix/include" ;;
    esac
    if [ -z "$got" ] || [ "$(realpath -m "$got")" != "$(realpath -m "$want")" ]; then
      fail "sbx.pc $item = '$got', does not resolve to $want"
    fi
  done
  static_libs="$("$pkg_config" --static --libs sbx)" || fail "pkg-config --static --libs sbx"
  read -ra items <<<"$libs_private"
  for item in "${items[@]}"; do
    [ -n "$item" ] || continue
    case " $static_libs " in
      *" $item "*) ;;
      *) fail "pkg-config --static --libs sbx = '$static_libs' lacks Libs.private entry '$item'" ;;
    esac
  done
  got="$("$pkg_config" --libs sbx)"
  case " $got " in *" -lsbx "*) ;; *) fail "pkg-config --libs sbx = '$got' lacks -lsbx" ;; esac
  IFS=',' read -ra items <<<"$requires_private"
  for item in "${items[@]}"; do
    item="${item#"${item%%[! ]*}"}"   # trim leading blanks
    [ -n "$item" ] || continue
    "$pkg_config" --print-requires-private sbx | grep -q "^${item%% *}" ||
      fail "sbx.pc Requires.private lacks '$item'"
  done
  unset PKG_CONFIG_PATH PKG_CONFIG_DISABLE_UNINSTALLED
}

# cmake_consume PREFIX BUILD_DIR [extra -D...]: configure + build the
# cmake_consumer project against PREFIX; returns the configure status.
cmake_configure() {
  local prefix="$1" bdir="$2"
  shift 2
  local -a extra=()
  if [ -n "$sanitize" ]; then
    extra+=("-DCMAKE_C_FLAGS=${san_flags[*]}" "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=$sanitize")
  fi
  "$cmake" -S "$source/tests/capi/cmake_consumer" -B "$bdir" -G "$generator" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF \
    "${extra[@]}" "$@" >"$bdir.log" 2>&1
}

cmake_build_and_run() {
  local prefix="$1" bdir="$2" got
  step "find_package(sbx) with CMAKE_PREFIX_PATH=$prefix"
  if ! cmake_configure "$prefix" "$bdir"; then
    cat "$bdir.log" >&2
    fail "cmake_consumer does not configure against $prefix"
    return
  fi
  got="$(sed -n 's/^sbx_DIR:PATH=//p' "$bdir/CMakeCache.txt")"
  if [ "$(realpath -m "$got")" != "$(realpath -m "$prefix/$libdir/cmake/sbx")" ]; then
    fail "find_package(sbx) used '$got', expected $prefix/$libdir/cmake/sbx"
  fi
  if ! "$cmake" --build "$bdir" >"$bdir.build.log" 2>&1; then
    cat "$bdir.build.log" >&2
    fail "cmake_consumer does not build against $prefix"
    return
  fi
  # No LD_LIBRARY_PATH: CMake's build RPATH must come from sbx::sbx's location.
  run_consumer "$bdir/cmake_consumer" "$prefix/$libdir" -u LD_LIBRARY_PATH
}

# relocate: copy the prefix away and delete the original, so that any path
# baked in at install time would now dangle.
relocate() {
  step "relocating $tmp/a/prefix -> $tmp/b/moved"
  if ! { mkdir -p "$tmp/b" && cp -a "$tmp/a/prefix" "$tmp/b/moved" && rm -rf "$tmp/a"; }; then
    die "could not relocate the prefix"
  fi
}

case "$mode" in
  pkgconfig)
    install_into "$tmp/a/prefix"
    check_pc "$tmp/a/prefix/$libdir/pkgconfig" "$tmp/a/prefix"
    pc_build_and_run "$tmp/a/prefix/$libdir/pkgconfig" "$tmp/a/prefix/$libdir" "$tmp/consumer1" yes
    relocate
    check_pc "$tmp/b/moved/$libdir/pkgconfig" "$tmp/b/moved"
    flags="$(PKG_CONFIG_PATH="$tmp/b/moved/$libdir/pkgconfig" "$pkg_config" --cflags --libs sbx)"
    case "$flags" in *"$tmp/a/"*) fail "relocated sbx.pc still names the old prefix: $flags" ;; esac
    pc_build_and_run "$tmp/b/moved/$libdir/pkgconfig" "$tmp/b/moved/$libdir" "$tmp/consumer2" yes
    ;;
  cmake)
    install_into "$tmp/a/prefix"
    [ -f "$tmp/a/prefix/$libdir/cmake/sbx/sbxConfig.cmake" ] ||
      fail "sbxConfig.cmake not installed to $libdir/cmake/sbx"
    cmake_build_and_run "$tmp/a/prefix" "$tmp/consumer1"
    # Version policy (sbxConfigVersion.cmake): the installed X.Y satisfies a
    # request for X.Y; another major never does; while the major is 0 an
    # older minor does not either (SameMinorVersion).
    IFS=. read -r vmajor vminor _ <<<"$version"
    step "find_package(sbx $vmajor.$vminor) is accepted"
    cmake_configure "$tmp/a/prefix" "$tmp/v-same" -DSBX_REQUEST_VERSION="$vmajor.$vminor" ||
      { cat "$tmp/v-same.log" >&2; fail "find_package(sbx $vmajor.$vminor) was refused"; }
    rejected=("$((vmajor + 1)).0")
    if [ "$vmajor" -eq 0 ] && [ "$vminor" -gt 0 ]; then rejected+=("0.$((vminor - 1))"); fi
    for req in "${rejected[@]}"; do
      step "find_package(sbx $req) is refused"
      if cmake_configure "$tmp/a/prefix" "$tmp/v-$req" -DSBX_REQUEST_VERSION="$req"; then
        fail "find_package(sbx $req) accepted installed version $version"
      elif ! grep -q 'compatible' "$tmp/v-$req.log"; then
        cat "$tmp/v-$req.log" >&2
        fail "find_package(sbx $req) failed for another reason than the version"
      fi
    done
    relocate
    cmake_build_and_run "$tmp/b/moved" "$tmp/consumer2"
    ;;
  uninstalled)
    pc_dir="$build/pkgconfig"
    [ -f "$pc_dir/sbx-uninstalled.pc" ] || die "$pc_dir/sbx-uninstalled.pc was not generated"
    export PKG_CONFIG_PATH="$pc_dir"
    got="$("$pkg_config" --modversion sbx)"
    [ "$got" = "$version" ] || fail "pkg-config --modversion sbx = '$got', expected '$version'"
    got="$("$pkg_config" --variable=libdir sbx)"
    [ "$(realpath -m "$got")" = "$(realpath "$(dirname "$lib")")" ] ||
      fail "PKG_CONFIG_PATH=$pc_dir: libdir of sbx is '$got', expected the build tree $(dirname "$lib") (is sbx-uninstalled.pc preferred?)"
    got="$("$pkg_config" --variable=includedir sbx)"
    [ -f "$got/sbx/sbx.h" ] || fail "includedir '$got' of sbx-uninstalled.pc has no sbx/sbx.h"
    unset PKG_CONFIG_PATH
    pc_build_and_run "$pc_dir" "$(dirname "$lib")" "$tmp/consumer" no
    ;;
esac

if [ "$failures" -ne 0 ]; then
  echo "install_test.sh $mode: $failures problem(s)" >&2
  exit 1
fi
echo "install_test.sh $mode: all checks passed"
