#!/usr/bin/env bash
# Issue 11's target for PGD adversarial training: cnn-small on Fashion-MNIST
# at eps 0.1 Linf, judged on the full test set by PGD-40 and APGD-CE and on
# the first 1,000 test images by AutoAttack, next to the same network
# trained plainly. Prints each figure and how long training took.
#
#   bench/adversarial_training_fashion_mnist.sh BUILD_DIR [OUT_DIR] [EPOCHS]
#
# Training: 5 epochs of PGD-7 (2.5 eps / 7 steps, random start), SGD
# momentum 0.9, lr 0.05 cosine, batch 64, seed 0; the last 1,000 training
# images held out to pick the most robust epoch (--keep-best).
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR [OUT_DIR] [EPOCHS]}
out=${2:-/tmp/foil-adversarial-training}
epochs=${3:-5}
foil="$build/foil"
mkdir -p "$out"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $OMP_NUM_THREADS threads, $(date -u +%F)"
if [ ! -f "$out/pgd-at.onnx" ]; then
  "$foil" train --arch cnn-small --data fashion-mnist --epochs "$epochs" --adv pgd --eps 0.1 --keep-best --seed 0 \
    --json --quiet --output "$out/pgd-at.onnx" >"$out/pgd-at.json"
fi
if [ ! -f "$out/plain.onnx" ]; then
  "$foil" train --arch cnn-small --data fashion-mnist --epochs 2 --seed 0 --quiet --output "$out/plain.onnx"
fi
/usr/bin/python3 - "$out/pgd-at.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for i, e in enumerate(r["epochs"]):
    print(f"epoch {i + 1}: {e['seconds']:.0f} s, test accuracy {e['val_accuracy']:.4f}, "
          f"held-out PGD-10 accuracy {e['holdout_pgd_accuracy']:.4f}")
print(f"training: {r['seconds']:.0f} s in all; kept epoch {r['adversarial_training'].get('kept_epoch')}")
PY
for model in pgd-at plain; do
  for run in "pgd --steps 40" "apgd-ce" "autoattack --limit 1000"; do
    set -- $run
    "$foil" attack --model "$out/$model.onnx" --data fashion-mnist --eps 0.1 --attack "$@" --json --quiet |
      /usr/bin/python3 -c "import json,sys; r=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(f\"$model: {r['attack']} ({r['examples']} images): clean {r['clean_accuracy']:.4f}, robust {r['robust_accuracy']:.4f}, {r['seconds']:.0f} s\")"
  done
done
