#!/usr/bin/env bash
# The naming split (README "Layout", ../shared/DESIGN.md section 3), checked
# on libfoil.a itself: every global symbol it defines is either public, a
# foil_ name declared in include/foil/, or internal, foilCamelCase; an
# internal function left with a foil_ name (or with no prefix at all) would
# look public to a user and could clash with their own symbols.
set -uo pipefail
build=${FOIL_BUILD_DIR:?}
src=${FOIL_SOURCE_DIR:?}
command -v nm >/dev/null || { echo "skipped: nm (binutils) is not installed"; exit 77; }
lib="$build/libfoil.a"
[ -f "$lib" ] || { echo "FAIL: $lib is missing (build first)"; exit 1; }
# (version.h is generated from version.h.in, which declares its functions.)
public=$(grep -ho '\bfoil_[a-z0-9_]*' "$src"/include/foil/*.h "$src"/include/foil/*.h.in | sort -u)
failures=0 count=0
while read -r sym; do
  case $sym in
    __*) continue ;;                                       # the compiler's own (ASan's __odr_asan.NAME)
    foil[A-Z]*) ;;                                         # internal
    foil_*) grep -qx "$sym" <<<"$public" ||
              { echo "FAIL: $sym has a public-looking name but include/foil/ does not declare it"; failures=$((failures + 1)); } ;;
    *) echo "FAIL: $sym is neither foil_ (public) nor foilCamelCase (internal)"; failures=$((failures + 1)) ;;
  esac
  count=$((count + 1))
done < <(nm -g --defined-only "$lib" | awk 'NF == 3 && $2 ~ /^[TDBRGS]$/ {print $3}' | sort -u)
echo "$count global symbols, $failures misnamed"
[ "$count" -gt 100 ] || { echo "FAIL: only $count symbols read from $lib"; exit 1; }
[ "$failures" = 0 ]
