#!/usr/bin/env bash
# Model extraction against cnn-small on Fashion-MNIST (issue 16): each
# attack's fidelity and accuracy against the query count, the transfer rate
# of PGD examples crafted on the copy, and what each output defense costs
# the victim and does to each attack.
#
# The victim: foil's cnn-small trained on the first 30,000 training images
# (4 epochs); the attacker's surrogate data: the other 30,000 (problem
# domain), or MNIST's 10,000 test digits (out of distribution, from
# shared/data/mnist). Copies: cnn-small, Adam 1e-3, batch 64, 10 epochs.
#
# Usage: bench/extraction_fashion_mnist.sh FOIL OUTDIR [VICTIM.onnx]
set -euo pipefail
FOIL=${1:?FOIL binary}
OUT=${2:?output directory}
VICTIM=${3:-$OUT/victim-cnn-small.onnx}
MNIST=${FOIL_SHARED_DATA:-$(dirname "$0")/../../shared/data}/mnist
mkdir -p "$OUT"
export OMP_WAIT_POLICY=passive
if [ ! -s "$VICTIM" ]; then
  "$FOIL" train --arch cnn-small --data fashion-mnist --limit 30000 --epochs 4 --output "$VICTIM" --quiet
fi
ext() { # NAME ARGS...: one run, its table on stdout, report in OUT/NAME
  local name=$1; shift
  echo "== $name: foil extract $*"
  "$FOIL" extract --model "$VICTIM" --data fashion-mnist --quiet --out "$OUT/$name" "$@"
  python3 - "$OUT/$name/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"victim accuracy {100*r['victim_accuracy']:.2f}%, through {r['output_mode']}: "
      f"{100*r['victim_accuracy_through_output_mode']:.2f}%; top-1 changed on {100*r['top1_changed_test']:.2f}% of "
      f"the test images, {100*r['top1_changed_surrogate']:.2f}% of the surrogate's first 2000")
print(f"{'attack':<18} {'labels':<6} {'queries':>8} {'fidelity':>9} {'accuracy':>9} {'seconds':>8}")
for a in r["attacks"]:
    for p in a["points"]:
        print(f"{a['attack']:<18} {a['labels']:<6} {p['queries']:>8} {100*p['fidelity']:8.2f}% "
              f"{100*p['accuracy']:8.2f}% {p['seconds']:8.1f}")
    t = a.get("transfer")
    if t:
        print(f"  transfer: PGD linf eps {t['eps']} on {t['examples']} test images: fools the copy "
              f"{100*t['copy_success_rate']:.1f}%, the victim {100*t['transfer_rate']:.1f}% "
              f"(of {t['victim_correct']} it classifies right)")
PY
}
SUR=(--surrogate fashion-mnist --surrogate-skip 30000)
CURVE=(--budget 10000 --checkpoints 1000,2000,5000,10000)
# 1. the curves, probabilities out, problem-domain surrogate
ext curves "${SUR[@]}" "${CURVE[@]}" --output-mode probabilities \
  --attack copycat,knockoff-random,knockoff-adaptive,jacobian --eps 0.1
# 2. out-of-distribution surrogate: MNIST digits
if [ -s "$MNIST/t10k-images-idx3-ubyte.gz" ]; then
  ext mnist-surrogate --surrogate "$MNIST/t10k-images-idx3-ubyte.gz" \
    --surrogate-labels "$MNIST/t10k-labels-idx1-ubyte.gz" "${CURVE[@]}" --output-mode probabilities \
    --attack copycat,knockoff-random,knockoff-adaptive --eps 0.1
fi
# 3. output defenses, 10,000 queries
for mode in labels top-k=3 round=1 reverse-sigmoid noise=0.1; do
  attacks=copycat,knockoff-random,knockoff-adaptive
  [ "$mode" = reverse-sigmoid ] && attacks=$attacks,jacobian
  ext "defense-${mode//=/}" "${SUR[@]}" --budget 10000 --output-mode "$mode" --attack "$attacks" --eps 0.1
done
