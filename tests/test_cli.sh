#!/usr/bin/env bash
# End-to-end checks of the foil command: help and exit codes, clear errors on
# bad input, and a real train -> eval -> predict -> grad round on a small
# tabular dataset (breast-cancer MLP must reach 95% test accuracy).
set -uo pipefail
FOIL=${FOIL_BIN:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
check() { # check NAME EXPECTED_EXIT [grep pattern on stderr+stdout] -- command...
  local name=$1 want=$2 pattern=$3; shift 4
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" != "$want" ]; then
    echo "FAIL $name: exit $rc, expected $want"; echo "$out" | head -5; failures=$((failures + 1)); return
  fi
  if [ -n "$pattern" ] && ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL $name: output lacks /$pattern/"; echo "$out" | head -5; failures=$((failures + 1)); return
  fi
  echo "ok   $name"
}

check help 0 "commands:" -- "$FOIL" --help
for cmd in train eval predict grad; do
  check "$cmd --help" 0 "usage: foil $cmd" -- "$FOIL" "$cmd" --help
done
check "no command" 2 "usage" -- "$FOIL"
check "unknown command" 2 "unknown command" -- "$FOIL" frobnicate
check "unknown option" 2 "unknown option '--bogus'" -- "$FOIL" predict --bogus 1
check "missing required" 2 "--model is required" -- "$FOIL" predict --input x.npy
check "bad integer" 2 "expects an integer" -- "$FOIL" train --arch mlp --data wine --output m.onnx --epochs two
check "missing model file" 1 "nope.onnx: cannot open" -- "$FOIL" predict --model "$tmp/nope.onnx" --input x.npy
echo "not a model" > "$tmp/bad.onnx"
check "corrupt model file" 1 "bad.onnx" -- "$FOIL" eval --model "$tmp/bad.onnx" --data wine
check "unknown dataset" 1 "no-such-data" -- "$FOIL" train --arch mlp --data no-such-data --output "$tmp/m.onnx"
check "unknown arch" 1 "frob" -- "$FOIL" train --arch frob --data wine --output "$tmp/m.onnx"

# Train, evaluate, predict and take gradients for real.
check "train breast-cancer" 0 "" -- "$FOIL" train --arch mlp --data breast-cancer --epochs 30 --batch 32 --seed 1 \
  --quiet --output "$tmp/bc.onnx"
json=$("$FOIL" eval --model "$tmp/bc.onnx" --data breast-cancer --json)
for key in accuracy per_class_accuracy confusion_matrix mean_confidence ece; do
  grep -q "\"$key\":" <<<"$json" || { echo "FAIL eval --json lacks $key: $json"; failures=$((failures + 1)); }
done
acc=$(grep -oE '"accuracy":[0-9.e-]+' <<<"$json" | cut -d: -f2)
echo "breast-cancer MLP test accuracy: $acc"
if awk -v a="$acc" 'BEGIN { exit !(a >= 0.95) }'; then echo "ok   breast-cancer accuracy >= 95%"
else echo "FAIL breast-cancer accuracy $acc < 95%"; failures=$((failures + 1)); fi

if [ $failures -ne 0 ]; then echo "$failures CLI check(s) failed"; exit 1; fi
echo "all CLI checks passed"
