#!/usr/bin/env bash
# Poisoning and its detection on Fashion-MNIST with cnn-small, end to end
# (issue 14's figures): for each attack, a model trained on the poisoned
# training set next to one trained on the clean set (the same NPY path, so
# both see the same split), its clean accuracy and attack success; then,
# on the BadNets models (10% and 1% of the training set poisoned), the data
# scans (spectral signatures, activation clustering by size and by a trusted
# reference: precision, recall, and the attack success after retraining on
# what they keep), STRIP's true positives at 5%
# false positives, and Neural Cleanse's anomaly index for the backdoored
# and the clean model. Prints one table; keeps everything under WORK.
#
#   bench/poisoning_fashion_mnist.sh [--foil BIN] [--epochs E] [--work DIR] [--seed N]
#
# About half an hour on 2 cores at 10 epochs (a training run is 70 s).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
foil=$here/build/foil epochs=10 work=poisoning-work seed=1
while (($#)); do
  case $1 in
    --foil) foil=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "poisoning_fashion_mnist.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$work"
json_num() { sed -nE "s/.*\"$1\":([-0-9.e+]+).*/\1/p" | head -1; }
train() { # train NAME DIR: cnn-small on DIR's poisoned training set
  [ -s "$work/$1.onnx" ] || "$foil" train --arch cnn-small --data "$2/train_x.npy" --labels "$2/train_y.npy" \
    --epochs "$epochs" --seed "$seed" --output "$work/$1.onnx" --quiet
}
accuracy() { "$foil" eval --model "$1" --data "$2" ${3:+--labels "$3"} --json | json_num accuracy; }
row() { printf '%-34s %8s %10s %s\n' "$@"; }

"$foil" poison --data fashion-mnist --attack label-flip --rate 0 --output-dir "$work/clean" --seed "$seed" --quiet
"$foil" poison --data fashion-mnist --attack badnets --rate 0.1 --target 0 --output-dir "$work/badnets" --seed "$seed" --quiet
"$foil" poison --data fashion-mnist --attack badnets --rate 0.01 --target 0 --output-dir "$work/badnets1" \
  --seed "$seed" --quiet
"$foil" poison --data fashion-mnist --attack blend --rate 0.1 --target 0 --alpha 0.2 --output-dir "$work/blend" \
  --seed "$seed" --quiet
train clean "$work/clean"
[ -d "$work/clean-label" ] || "$foil" poison --data fashion-mnist --attack clean-label --rate 0.5 --target 0 \
  --model "$work/clean.onnx" --eps 0.1 --output-dir "$work/clean-label" --seed "$seed" --quiet
for a in badnets badnets1 blend clean-label; do train "$a" "$work/$a"; done

echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(getconf _NPROCESSORS_ONLN) cores, ${OMP_NUM_THREADS:-all} threads; cnn-small, $epochs epochs, seed $seed"
row attack "clean acc" "success" "poisoned"
row "none (clean training set)" "$(accuracy "$work/clean.onnx" fashion-mnist)" - 0
for a in badnets badnets1 blend clean-label; do
  row "$a" "$(accuracy "$work/$a.onnx" fashion-mnist)" \
    "$(accuracy "$work/$a.onnx" "$work/$a/test_triggered_x.npy" "$work/$a/test_triggered_y.npy")" \
    "$(json_num poisoned <"$work/$a/manifest.json")"
done

echo
row "scan (badnets: 10% of the set; badnets1: 1%)" precision recall "success after retraining"
for set in badnets badnets1; do
  for m in spectral clustering trusted; do
    method=$m extra=()
    [ "$m" = trusted ] && method=clustering extra=(--trusted fashion-mnist)
    out=$("$foil" scan --model "$work/$set.onnx" --method "$method" "${extra[@]}" --eps 0.1 \
      --data "$work/$set/train_x.npy" --labels "$work/$set/train_y.npy" --manifest "$work/$set/manifest.json" \
      --output-dir "$work/scan-$set-$m" --json)
    [ -s "$work/retrained-$set-$m.onnx" ] || "$foil" train --arch cnn-small --data "$work/scan-$set-$m/filtered_x.npy" \
      --labels "$work/scan-$set-$m/filtered_y.npy" --epochs "$epochs" --seed "$seed" \
      --output "$work/retrained-$set-$m.onnx" --quiet
    row "$set $m" "$(json_num precision <<<"$out")" "$(json_num recall <<<"$out")" \
      "$(accuracy "$work/retrained-$set-$m.onnx" "$work/$set/test_triggered_x.npy" "$work/$set/test_triggered_y.npy")"
  done
done

echo
out=$("$foil" scan --model "$work/badnets.onnx" --data fashion-mnist --method strip \
  --triggered "$work/badnets/test_triggered_x.npy" --json)
echo "STRIP on the badnets model: true positives $(json_num tpr <<<"$out") at false positives $(json_num fpr <<<"$out")"
for mdl in badnets clean; do
  out=$("$foil" scan --model "$work/$mdl.onnx" --data fashion-mnist --method cleanse --steps 1200 \
    --output-dir "$work/cleanse-$mdl" --json --quiet)
  echo "Neural Cleanse on the $mdl model: flagged class $(json_num flagged <<<"$out"), anomaly index" \
    "$(sed -nE 's/.*"flagged":[-0-9]+,"anomaly_index":([-0-9.e+]+).*/\1/p' <<<"$out")"
done
