#!/usr/bin/env bash
# Defensive distillation (Papernot et al. 2016) and why it is no defense
# (Carlini and Wagner 2016): a teacher and a student trained at temperature
# 100 run at temperature 1 with a saturated softmax. PGD on cross-entropy
# then meets zero gradients (foil warns, naming distillation) and reports
# a robustness that PGD on the logits' margin takes away.
set -uo pipefail
FOIL=${FOIL_BIN:?}
source "${FOIL_SOURCE_DIR:?}/tests/cli_helpers.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
need_fashion_mnist
py=/usr/bin/python3
train=(--arch cnn-small --data fashion-mnist --limit 3000 --epochs 3 --optimizer adam --temperature 100 --quiet)
check "teacher" 0 "" -- "$FOIL" train "${train[@]}" --seed 3 --output "$tmp/teacher.onnx"
check "student" 0 "" -- "$FOIL" train "${train[@]}" --seed 4 --distill "$tmp/teacher.onnx" --output "$tmp/student.onnx"
attack=(attack --model "$tmp/student.onnx" --data fashion-mnist --limit 300 --attack pgd --eps 0.1 --json --quiet)
field() { "$py" -c 'import json,sys; print(json.loads(sys.argv[1].strip().splitlines()[-1])[sys.argv[2]])' "$1" "$2"; }
check "pgd on cross-entropy" 0 "distilled model" -- "$FOIL" "${attack[@]}"
ce_json=$(grep -v "^foil attack:" <<<"$out")
check "pgd on the margin" 0 "" -- "$FOIL" "${attack[@]}" --params loss=margin
margin_json=$(grep -v "^foil attack:" <<<"$out")
ce=$(field "$ce_json" robust_accuracy) zero=$(field "$ce_json" zero_gradient_fraction)
margin=$(field "$margin_json" robust_accuracy)
echo "     distilled student: PGD-CE robust $ce ($zero of gradients exactly zero), PGD-margin robust $margin"
"$py" -c "import sys; sys.exit(0 if $zero >= 0.2 else 1)" || fail "the student's gradients did not saturate ($zero zero)"
"$py" -c "import sys; sys.exit(0 if $margin <= $ce - 0.1 else 1)" ||
  fail "the margin loss did not take distillation's robustness away (CE $ce, margin $margin)"
check "distill needs a temperature" 2 "needs --temperature" -- "$FOIL" train --arch cnn-small --data fashion-mnist \
  --distill "$tmp/teacher.onnx" --output "$tmp/x.onnx"
check "distill and adv" 2 "cannot be combined" -- "$FOIL" train --arch cnn-small --data fashion-mnist \
  --distill "$tmp/teacher.onnx" --temperature 10 --adv pgd --eps 0.1 --output "$tmp/x.onnx"
[ "$failures" = 0 ]
