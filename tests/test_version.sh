#!/usr/bin/env bash
# `foil --version` says which kernel set runs (foil/cpu.h), FOIL_KERNELS
# forces each set this CPU supports, and a set it cannot run, or one that
# does not exist, is refused by name: by --version and by every command that
# loads a model, with exit status 1, never by running it.
set -uo pipefail
FOIL=${FOIL_BIN:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

unset FOIL_KERNELS
line=$("$FOIL" --version) || fail "--version exited $?"
re='^foil [0-9]+\.[0-9]+\.[0-9]+ \(kernels: ([a-z0-9]+); this CPU supports: ([a-z0-9 ]+); build: (portable, sets ([a-z0-9 ]+)|native \(-march=native\)); MPI: (none|[A-Za-z0-9 .]+); BLAS: ([^;]+)\)$'
if [[ ! "$line" =~ $re ]]; then
  fail "--version printed '$line'"; exit 1
fi
kernels=${BASH_REMATCH[1]} supported=${BASH_REMATCH[2]} built=${BASH_REMATCH[4]:-native} blas=${BASH_REMATCH[6]}
echo "ok   --version: $line"
# OpenBLAS's SSE3 fallback (Prescott) never runs on a CPU with AVX2 unless
# asked for: foil has OpenBLAS choose again (core/blas.c); an explicit
# OPENBLAS_CORETYPE is the user's and is kept
if [[ " $supported " == *" avx2 "* && "$blas" == OpenBLAS* ]]; then
  if [[ "$blas" == *"Prescott kernels"* ]]; then fail "OpenBLAS runs its Prescott kernels on an AVX2 CPU: '$blas'"
  else echo "ok   BLAS: $blas"; fi
  forced=$(OPENBLAS_CORETYPE=Prescott "$FOIL" --version)
  if [[ "$forced" == *"BLAS: OpenBLAS, Prescott kernels)" ]]; then echo "ok   OPENBLAS_CORETYPE=Prescott kept"
  else fail "OPENBLAS_CORETYPE=Prescott: '$forced'"; fi
fi
# the default is the widest set the CPU runs, and every supported set is built
[ "$kernels" = "${supported##* }" ] || fail "runs $kernels, not the widest supported (${supported##* })"
for set in $supported; do
  [[ " $built " == *" $set "* ]] || fail "supports $set, which is not built ($built)"
done
[[ "$built" == native || "$built" == baseline* ]] || fail "a portable build lacks the baseline set ('$built')"

# FOIL_KERNELS picks each supported set
for set in $supported; do
  got=$(FOIL_KERNELS=$set "$FOIL" --version)
  if [[ "$got" == *"(kernels: $set;"* ]]; then echo "ok   FOIL_KERNELS=$set"; else fail "FOIL_KERNELS=$set: '$got'"; fi
done

# refused: every known set this CPU cannot run or this build lacks, and an unknown one
"$FOIL" train --arch mlp --data wine --epochs 1 --quiet --output "$tmp/m.onnx" >/dev/null 2>&1 ||
  fail "could not train a model to load"
for set in baseline avx2 avx512 native avx3000; do
  [[ " $supported " == *" $set "* ]] && continue
  out=$(FOIL_KERNELS=$set "$FOIL" --version 2>&1); rc=$?
  if [ "$rc" = 1 ] && [[ "$out" == *"FOIL_KERNELS=$set: "* ]]; then
    echo "ok   FOIL_KERNELS=$set refused: $out"
  else
    fail "FOIL_KERNELS=$set --version: exit $rc, '$out'"
  fi
  out=$(FOIL_KERNELS=$set "$FOIL" eval --model "$tmp/m.onnx" --data wine 2>&1); rc=$?
  if [ "$rc" = 1 ] && [[ "$out" == *"m.onnx"*"FOIL_KERNELS=$set: "* ]]; then
    echo "ok   FOIL_KERNELS=$set: foil eval refuses the model"
  else
    fail "FOIL_KERNELS=$set eval: exit $rc, '$out'"
  fi
done

[ "$failures" = 0 ] || { echo "$failures failure(s)"; exit 1; }
