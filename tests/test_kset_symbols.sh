#!/usr/bin/env bash
# The kernel sets link side by side and only the chosen one runs (foil/cpu.h,
# src/nn/ops/kset_names.h). Checked on the object files themselves:
#   - every global symbol a set's objects define carries that set's suffix
#     (a name kset_names.h forgot would be shared between sets);
#   - no set's objects refer to another set's symbols or run code at load
#     time (constructors);
#   - the rest of libfoil refers to a set only through its table
#     (foilKernelSetTable_<set>), and only from nn/kernel_sets.c, which
#     hands a table out after core/cpu.c checked that the CPU runs it: so no
#     path reaches AVX-512 code on a CPU without AVX-512 except through that check.
set -uo pipefail
build=${FOIL_BUILD_DIR:?}
command -v nm >/dev/null && command -v objdump >/dev/null ||
  { echo "skipped: nm and objdump (binutils) are not installed"; exit 77; }
shopt -s nullglob
lists=("$build"/kset-objects-*.txt)
if [ ${#lists[@]} -eq 0 ] || [ ! -f "$build/libfoil-objects.txt" ]; then
  echo "FAIL: no object lists (kset-objects-*.txt, libfoil-objects.txt) in $build"; exit 1
fi
suffixes=$(for l in "${lists[@]}"; do s=${l##*/kset-objects-}; echo "${s%.txt}"; done | paste -sd'|')
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

for list in "${lists[@]}"; do
  set=${list##*/kset-objects-}; set=${set%.txt}
  objects=0 exported=0 before=$failures
  while read -r obj; do
    [ -n "$obj" ] || continue
    [ -f "$obj" ] || { fail "$set: $obj is missing (build first)"; continue; }
    objects=$((objects + 1))
    defined=$(nm -g --defined-only "$obj" | awk '{print $NF}')
    exported=$((exported + $(grep -c . <<<"$defined")))
    unsuffixed=$(grep -vE "_${set}\$" <<<"$defined" | grep .)
    [ -z "$unsuffixed" ] || fail "$set: ${obj##*/} defines names without _$set (add them to kset_names.h):" $unsuffixed
    # Constructors run before any CPU check. The only ones allowed are the
    # sanitizers' module constructors (_sub_I_00099_*: calls into the
    # runtime), and only without a vector register in them.
    if objdump -h "$obj" | grep -qE '\.(init_array|ctors|preinit_array)'; then
      ctors=$(nm "$obj" | awk '$2 ~ /^[tT]$/ && $3 ~ /_sub_I_/ {print $3}')
      others=$(grep -v '^_sub_I_00099_' <<<"$ctors" | grep .)
      vector=$(objdump -d --no-show-raw-insn "$obj" |
               awk '/^[0-9a-f]+ <_sub_I_/ {p=1; next} /^[0-9a-f]+ </ {p=0} p' | grep -E '%[yz]mm|%k[0-7]')
      if [ -z "$ctors" ] || [ -n "$others" ] || [ -n "$vector" ]; then
        fail "$set: ${obj##*/} has a constructor (${ctors:-unnamed}) that could run its set's code before any CPU check"
      fi
    fi
    foreign=$(nm -u "$obj" | awk '{print $NF}' | grep -E "_(${suffixes})\$" | grep -vE "_${set}\$")
    [ -z "$foreign" ] || fail "$set: ${obj##*/} refers to another set's symbols:" $foreign
  done <"$list"
  tables=$(while read -r obj; do [ -f "$obj" ] && nm -g --defined-only "$obj"; done <"$list" |
           grep -c " foilKernelSetTable_${set}\$")
  [ "$tables" = 1 ] || fail "$set: defines foilKernelSetTable_$set $tables times, expected once"
  [ "$failures" != "$before" ] || echo "ok   $set: $objects objects, $exported exported symbols, all ending in _$set"
done

while read -r obj; do
  [ -n "$obj" ] && [ -f "$obj" ] || continue
  refs=$(nm -u "$obj" | awk '{print $NF}' | grep -E "_(${suffixes})\$")
  [ -n "$refs" ] || continue
  if [ "${obj##*/}" != kernel_sets.c.o ]; then
    fail "${obj##*/} refers to kernel-set code directly (only nn/kernel_sets.c may):" $refs
  elif other=$(grep -v '^foilKernelSetTable_' <<<"$refs"); then
    fail "kernel_sets.c refers to a set's code other than its table:" $other
  else
    echo "ok   kernel_sets.c.o reaches the sets only through their tables:" $refs
  fi
done <"$build/libfoil-objects.txt"

[ "$failures" = 0 ] || { echo "$failures failure(s)"; exit 1; }
