#!/usr/bin/env bash
# Issue 11's adversarial-training figures: cnn-small on Fashion-MNIST at eps
# 0.1 Linf, trained with PGD-AT, TRADES and FGSM-RS on one budget, judged on
# the full test set by PGD-40 and APGD-CE and on the first 1,000 test images
# by AutoAttack, next to the same network trained plainly. Prints each
# figure and how long each training took.
#
#   bench/adversarial_training_fashion_mnist.sh BUILD_DIR [OUT_DIR] [EPOCHS] [MODES]
#
# MODES: any of "pgd trades fgsm-rs plain" (all four by default). Training:
# EPOCHS (5) epochs, SGD momentum 0.9, lr 0.05 cosine, batch 64, seed 0;
# PGD-AT: PGD-7 (2.5 eps / 7 steps, random start); TRADES: beta 6, 7 steps
# of the same size, so its attack costs what PGD-AT's does; FGSM-RS: one
# step of 1.25 eps from a random start. Each keeps its most robust epoch
# on the last 1,000 training images, held out (--keep-best). The plain
# model trains 2 epochs. A model already in OUT_DIR is not trained again.
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR [OUT_DIR] [EPOCHS] [MODES]}
out=${2:-/tmp/foil-adversarial-training}
epochs=${3:-5}
modes=${4:-pgd trades fgsm-rs plain}
foil="$build/foil"
mkdir -p "$out"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $OMP_NUM_THREADS threads, $(date -u +%F)"
for mode in $modes; do
  case $mode in
    pgd) args=(--epochs "$epochs" --adv pgd --eps 0.1 --keep-best) ;;
    trades) args=(--epochs "$epochs" --adv trades --trades-beta 6 --adv-steps 7 --eps 0.1 --keep-best) ;;
    fgsm-rs) args=(--epochs "$epochs" --adv fgsm-rs --eps 0.1 --keep-best) ;;
    plain) args=(--epochs 2) ;;
    *) echo "unknown mode $mode: pgd, trades, fgsm-rs or plain" >&2; exit 2 ;;
  esac
  [ -f "$out/$mode.onnx" ] || "$foil" train --arch cnn-small --data fashion-mnist "${args[@]}" --seed 0 \
    --json --quiet --output "$out/$mode.onnx" >"$out/$mode.json"
  /usr/bin/python3 - "$mode" "$out/$mode.json" <<'PY'
import json, sys
mode, r = sys.argv[1], json.load(open(sys.argv[2]))
for i, e in enumerate(r["epochs"]):
    robust = f", held-out PGD-10 accuracy {e['holdout_pgd_accuracy']:.4f}" if "holdout_pgd_accuracy" in e else ""
    print(f"{mode} epoch {i + 1}: {e['seconds']:.0f} s, {e['images_per_second']:.0f} img/s, "
          f"test accuracy {e['val_accuracy']:.4f}{robust}")
a = r.get("adversarial_training", {})
print(f"{mode} training: {r['seconds']:.0f} s in all; kept epoch {a.get('kept_epoch', len(r['epochs']))}"
      + (f"; catastrophic overfitting at epoch {a['catastrophic_overfitting_epoch']}"
         if "catastrophic_overfitting_epoch" in a else ""))
PY
done
for mode in $modes; do
  for run in "pgd --steps 40" "apgd-ce" "autoattack --limit 1000"; do
    set -- $run
    "$foil" attack --model "$out/$mode.onnx" --data fashion-mnist --eps 0.1 --attack "$@" --json --quiet |
      /usr/bin/python3 -c "import json,sys; r=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(f\"$mode: {r['attack']} ({r['examples']} images): clean {r['clean_accuracy']:.4f}, robust {r['robust_accuracy']:.4f}, {r['seconds']:.0f} s\")"
  done
done
