#!/usr/bin/env bash
# DP-SGD on Fashion-MNIST at epsilon 3, delta 1e-5 (issue 15's done-when:
# Tramer and Boneh 2021 report 86.0% for an end-to-end CNN at that budget).
# cnn-tanh (their network) trained as their code trains it: SGD with
# momentum 0.9 at a constant rate, clipping norm 0.1, inputs in [0, 1]; from
# their grid batch 2048 and lr 4 (0.5 per 256 examples), 40 epochs. foil's
# accountant chooses sigma for epsilon 3 over the steps the trainer takes
# (--target-epsilon 3: Poisson q = 2048 / 60000, round(60000 / 2048) = 29
# steps an epoch). One run per seed, side by side (1 thread each), then the
# test accuracy of each and their median.
#
# usage: bench/dp_sgd_fashion_mnist.sh FOIL_BINARY OUT_DIR [EPOCHS [BATCH [LR [SEEDS...]]]]
set -euo pipefail
foil=$1 out=$2 epochs=${3:-40} batch=${4:-2048} lr=${5:-4}
shift $(($# < 5 ? $# : 5))
seeds=("$@")
((${#seeds[@]})) || seeds=(1 2 3)
mkdir -p "$out"
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; $("$foil" --version 2>/dev/null | head -1)"
echo "# cnn-tanh, fashion-mnist, --dp --target-epsilon 3 --delta 1e-5 --batch $batch --lr $lr --momentum 0.9" \
     "--schedule constant --max-grad-norm 0.1 --epochs $epochs; seeds ${seeds[*]}"
for s in "${seeds[@]}"; do
  OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive nice -n 10 "$foil" train --arch cnn-tanh --data fashion-mnist \
    --output "$out/seed$s.onnx" --dp --target-epsilon 3 --delta 1e-5 --batch "$batch" --lr "$lr" --momentum 0.9 \
    --schedule constant --max-grad-norm 0.1 --epochs "$epochs" --seed "$s" --threads 1 --json \
    > "$out/seed$s.json" 2> "$out/seed$s.log" &
done
wait
/usr/bin/python3 - "$out" "${seeds[@]}" <<'PYEOF'
import json, statistics, sys
out, seeds = sys.argv[1], sys.argv[2:]
accs = []
for s in seeds:
    r = json.loads(open(f"{out}/seed{s}.json").read().strip().splitlines()[-1])
    d, e = r["dp"], r["epochs"]
    accs.append(r["val_accuracy"])
    best = max(x["val_accuracy"] for x in e)
    print(f"seed {s}: test accuracy {r['val_accuracy']:.4f} after {len(e)} epochs (best epoch {best:.4f}); epsilon "
          f"{d['epsilon']:.4f} at delta {d['delta']:g}, sigma {d['noise_multiplier']:.4f}, q {d['sample_rate']:.6f}, "
          f"{d['steps']} steps; {statistics.median(x['seconds'] for x in e):.1f} s/epoch (median)")
print(f"median test accuracy over {len(accs)} seeds: {statistics.median(accs):.4f}")
PYEOF
