#!/usr/bin/env bash
# Reverse sigmoid (Lee et al. 2019) against Knockoff Nets, trained the way
# ART's model-stealing notebook trains its copies (issue 16's anchor: 27.1%
# and 20.0% stolen accuracy under ReverseSigmoid(beta=1, gamma=0.2) on
# MNIST, against about 90% unprotected): Keras's "sgd" (learning rate 0.01,
# no momentum), 5 epochs, batch 64, 5,000 queries; and then the same copy
# trained as foil trains by default (Adam 1e-3, 10 epochs) or for longer,
# which is what an attacker who meets the defense would do.
#
# The victim: cnn-small on the first 30,000 Fashion-MNIST training images
# (bench/extraction_fashion_mnist.sh makes it); the surrogate: the other
# 30,000. One thread per run.
#
# Usage: bench/extraction_reverse_sigmoid.sh FOIL OUTDIR [VICTIM.onnx]
set -euo pipefail
FOIL=${1:?FOIL binary}
OUT=${2:?output directory}
VICTIM=${3:-$OUT/victim-cnn-small.onnx}
mkdir -p "$OUT"
export OMP_WAIT_POLICY=passive
if [ ! -s "$VICTIM" ]; then
  "$FOIL" train --arch cnn-small --data fashion-mnist --limit 30000 --epochs 4 --output "$VICTIM" --quiet
fi
echo "# $(lscpu | sed -n 's/^Model name: *//p'); victim $VICTIM; knockoff-random, 5000 queries"
printf '%-22s %-30s %9s %9s %8s\n' "answers" "copy training" fidelity accuracy seconds
run() { # MODE LABEL TRAINING-OPTIONS...
  local mode=$1 label=$2; shift 2
  local t0=$SECONDS
  "$FOIL" extract --model "$VICTIM" --data fashion-mnist --surrogate fashion-mnist --surrogate-skip 30000 \
    --budget 5000 --attack knockoff-random --eps 0 --output-mode "$mode" --threads 1 --quiet --json "$@" >"$OUT/r.json"
  python3 - "$OUT/r.json" "$mode" "$label" $((SECONDS - t0)) <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); p = r["attacks"][0]["points"][-1]
print(f"{sys.argv[2]:<22} {sys.argv[3]:<30} {100*p['fidelity']:8.2f}% {100*p['accuracy']:8.2f}% {sys.argv[4]:>8}")
PY
}
NOTEBOOK=(--optimizer sgd --lr 0.01 --epochs 5 --batch 64)
for mode in probabilities labels reverse-sigmoid=1,0.1 reverse-sigmoid=1,0.2; do
  run "$mode" "notebook: sgd 0.01, 5 epochs" "${NOTEBOOK[@]}"
done
for mode in probabilities reverse-sigmoid=1,0.2; do
  run "$mode" "adam 1e-3, 10 epochs" --optimizer adam --lr 0.001 --epochs 10 --batch 64
done
run reverse-sigmoid=1,0.2 "sgd 0.01, 50 epochs" --optimizer sgd --lr 0.01 --epochs 50 --batch 64
