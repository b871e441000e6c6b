#!/bin/bash
# capi.exports: the dynamic symbol table of libsbx.so is exactly the public C API.
#
# usage: check_exports.sh LIBSBX_SO EXPECTED_SONAME VERSION_MAP NM OBJDUMP READELF HEADER...
#
# Checks:
#   1. `nm -D --defined-only` lists only sbx_* symbols (the version-node
#      symbols such as SBX_0.1 excepted): no C++ or helper symbol leaks.
#   2. every exported symbol carries a version node that VERSION_MAP defines
#      (objdump -T), and the library defines the first node of the map.
#   3. `readelf -d` shows SONAME EXPECTED_SONAME.
#   4. every function declared `SBX_API ... sbx_xxx(` in the HEADERs is
#      exported, and every exported symbol is declared in a HEADER.
set -u

if [ $# -lt 7 ]; then
  echo "usage: $0 LIBSBX_SO EXPECTED_SONAME VERSION_MAP NM OBJDUMP READELF HEADER..." >&2
  exit 2
fi
lib="$1" soname="$2" map="$3" nm="$4" objdump="$5" readelf="$6"
shift 6
headers=("$@")

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

[ -f "$lib" ] || { echo "FAIL: $lib does not exist (build the sbx target)" >&2; exit 1; }

# Version nodes defined by the linker map, e.g. "SBX_0.1".
mapfile -t nodes < <(sed -n 's/^[[:space:]]*\(SBX_[0-9][0-9.]*\)[[:space:]]*{.*/\1/p' "$map")
[ ${#nodes[@]} -gt 0 ] || { echo "FAIL: no SBX_x.y version node found in $map" >&2; exit 1; }
is_node() {
  local n
  for n in "${nodes[@]}"; do [ "$n" = "$1" ] && return 0; done
  return 1
}

# ---------------------------------------------------------------- 1. names
nm_out="$("$nm" -D --defined-only "$lib")" || { echo "FAIL: $nm -D failed on $lib" >&2; exit 1; }
exported=()
while read -r _addr type name; do
  [ -n "${name:-}" ] || continue
  name="${name%%@*}"               # binutils >= 2.37 prints name@@NODE
  if [ "$type" = "A" ] && is_node "$name"; then continue; fi
  case "$name" in
    sbx_*) exported+=("$name") ;;
    *) fail "exported symbol '$name' (type $type) is not sbx_*: a leak past visibility/the map" ;;
  esac
done <<<"$nm_out"
[ ${#exported[@]} -gt 0 ] || fail "libsbx exports no sbx_* symbol at all"

# ------------------------------------------------------------ 2. versions
declare -A version_of=()
while read -r version name; do
  version="${version#(}"
  version="${version%)}"
  [ "$version" = "-" ] && version=""
  version_of["$name"]="$version"
done < <("$objdump" -T "$lib" | awk '$1 ~ /^[0-9a-f]+$/ && $0 !~ /\*UND\*/ && NF >= 3 {
    # Without version info the column before the name is the size.
    print (($(NF-1) ~ /^[0-9a-f]+$/) ? "-" : $(NF-1)), $NF }')
for name in "${exported[@]}"; do
  v="${version_of[$name]:-}"
  if [ -z "$v" ]; then
    fail "$name has no symbol version (objdump -T)"
  elif ! is_node "$v"; then
    fail "$name has version '$v', which is not a node of $(basename "$map") (${nodes[*]})"
  fi
done
if ! "$objdump" -T "$lib" | awk -v n="${nodes[0]}" '$NF == n && /\*ABS\*/ { found = 1 } END { exit !found }'; then
  fail "the library does not define version node ${nodes[0]} (was the map passed to the linker?)"
fi

# -------------------------------------------------------------- 3. SONAME
actual_soname="$("$readelf" -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')"
[ "$actual_soname" = "$soname" ] || fail "SONAME is '${actual_soname:-<none>}', expected '$soname'"

# ------------------------------------------------ 4. header <-> exports
declared=()
for h in "${headers[@]}"; do
  [ -f "$h" ] || { fail "header $h does not exist"; continue; }
  while IFS= read -r line; do
    name="$(sed -n 's/^[[:space:]]*SBX_API[^(]*[^A-Za-z0-9_]\(sbx_[A-Za-z0-9_]*\)[[:space:]]*(.*/\1/p' <<<"$line")"
    if [ -z "$name" ]; then
      fail "$(basename "$h"): cannot find the function name in: $line (keep 'SBX_API <type> sbx_name(' on one line)"
    else
      declared+=("$name")
    fi
  done < <(grep -E '^[[:space:]]*SBX_API[[:space:]]' "$h")
done
[ ${#declared[@]} -gt 0 ] || fail "no SBX_API declaration found in ${headers[*]}"

declare -A is_exported=() is_declared=()
for n in "${exported[@]}"; do is_exported["$n"]=1; done
for n in "${declared[@]}"; do is_declared["$n"]=1; done
for n in "${declared[@]}"; do
  [ -n "${is_exported[$n]:-}" ] || fail "$n is declared SBX_API but not exported (missing definition, or not extern \"C\"?)"
done
for n in "${exported[@]}"; do
  [ -n "${is_declared[$n]:-}" ] || fail "$n is exported but declared in no public header"
done

if [ "$failures" -ne 0 ]; then
  echo "capi.exports: $failures problem(s) in $lib" >&2
  exit 1
fi
echo "capi.exports: ${#exported[@]} symbols, all sbx_*, all versioned (${nodes[*]}), SONAME $soname, header and exports agree"
