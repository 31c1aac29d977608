#!/usr/bin/env bash
# `foil attack` on a saturated model, end to end: the fixture CNN with its
# logits layer scaled by 1000 (python3-onnx writes the copy; skipped with a
# message without it). CE PGD must print the zero_grad column and a warning
# on stderr naming the cause and the remedy, and put zero_gradient_fraction
# in --json; margin PGD must not warn; a black-box attack reports null.
set -u
PY=/usr/bin/python3
if ! [ -x "$PY" ] || ! "$PY" -c 'import onnx, numpy' 2>/dev/null; then
  echo "SKIP: Debian's python3-onnx and python3-numpy are not installed"
  exit 77
fi
: "${FOIL_BIN:?run through ctest}" "${FOIL_ATTACK_MODEL:?run through ctest}"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$PY" - "$FOIL_ATTACK_MODEL" "$dir/sat.onnx" <<'EOF' || fail "cannot write the scaled model"
import sys, onnx
from onnx import numpy_helper
m = onnx.load(sys.argv[1])
last = [n for n in m.graph.node if n.op_type == "Gemm"][-1]
for init in m.graph.initializer:
    if init.name in last.input[1:3]:
        init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * 1000, init.name))
onnx.save(m, sys.argv[2])
EOF

attack() { "$FOIL_BIN" attack --model "$dir/sat.onnx" --data fashion-mnist --limit 100 --eps 0.1 --quiet "$@"; }

attack --attack pgd >"$dir/table" 2>"$dir/err" || fail "pgd: $(cat "$dir/err")"
cat "$dir/table" "$dir/err"
grep -q "zero_grad" "$dir/table" || fail "no zero_grad column"
grep -q "warning.*exactly zero.*saturated softmax.*loss=margin" "$dir/err" || fail "no saturation warning on stderr"

attack --attack pgd,square --queries 100 --json >"$dir/json" 2>"$dir/err" || fail "json: $(cat "$dir/err")"
"$PY" - "$dir/json" <<'EOF' || fail "json check"
import json, sys
pgd, square = json.load(open(sys.argv[1]))
print("pgd zero_gradient_fraction", pgd["zero_gradient_fraction"], "robust", pgd["robust_accuracy"])
assert pgd["zero_gradient_fraction"] > 0.9, pgd
assert "saturated softmax" in pgd["warnings"], pgd
assert square["zero_gradient_fraction"] is None, square
EOF

attack --attack pgd --params loss=margin >"$dir/table" 2>"$dir/err" || fail "margin: $(cat "$dir/err")"
cat "$dir/table"
[ -s "$dir/err" ] && fail "margin PGD warned: $(cat "$dir/err")"
attack --attack pgd --params loss=hinge >/dev/null 2>"$dir/err" && fail "loss=hinge accepted"
grep -q "ce, margin, dlr" "$dir/err" || fail "loss=hinge: $(cat "$dir/err")"
echo "OK"
