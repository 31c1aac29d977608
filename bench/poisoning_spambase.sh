#!/usr/bin/env bash
# Label flipping on a tabular spam filter (issue 14: "on tabular data too"):
# Spambase (UCI; ../shared/data/spambase, 4,601 e-mails, 57 features) as
# a CSV, its training split poisoned by random label flips and by targeted
# flips of spam to ham at several rates, an mlp trained on each, and on the
# test split: accuracy and the share of spam caught; then the loss scan
# (foil scan --method loss) of each flipped set with the model trained on
# it: precision and recall against the manifest.
#
#   bench/poisoning_spambase.sh [--foil BIN] [--work DIR] [--data DIR] [--epochs E]
#
# A minute on 2 cores.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
foil=$here/build/foil work=poisoning-spambase-work data=$here/../shared/data/spambase epochs=30
while (($#)); do
  case $1 in
    --foil) foil=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "poisoning_spambase.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -s "$data/spambase.data" ] || { echo "poisoning_spambase.sh: no $data/spambase.data" >&2; exit 1; }
mkdir -p "$work"
csv=$work/spambase.csv
{ for i in $(seq 0 56); do printf 'f%d,' "$i"; done; echo spam; cat "$data/spambase.data"; } >"$csv"
json_num() { sed -nE "s/.*\"$1\":([-0-9.e+]+).*/\1/p" | head -1; }
row() { printf '%-30s %8s %10s %10s %10s\n' "$@"; }

echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(getconf _NPROCESSORS_ONLN) cores, ${OMP_NUM_THREADS:-all} threads; mlp (128, 64), $epochs epochs, seed 1"
row "label flips (share of the set)" poisoned "test acc" "spam caught" "loss scan p/r"
for spec in "label-flip 0" "label-flip 0.1" "label-flip 0.2" "label-flip 0.3" "targeted-flip 0.2" \
            "targeted-flip 0.4"; do
  read -r attack rate <<<"$spec"
  d=$work/$attack-$rate
  extra=()
  [ "$attack" = targeted-flip ] && extra=(--source 1 --target 0)
  out=$("$foil" poison --data "$csv" --label-column spam --attack "$attack" --rate "$rate" "${extra[@]}" \
    --output-dir "$d" --seed 1 --json)
  "$foil" train --arch mlp --data "$d/train_x.npy" --labels "$d/train_y.npy" --epochs "$epochs" --seed 1 \
    --output "$d.onnx" --quiet
  ev=$("$foil" eval --model "$d.onnx" --data "$csv" --label-column spam --split test --seed 1 --json)
  caught=$(sed -nE 's/.*"per_class_accuracy":\[[0-9.e-]+,([0-9.e-]+)\].*/\1/p' <<<"$ev")
  scan=-
  if [ "$rate" != 0 ]; then
    s=$("$foil" scan --model "$d.onnx" --method loss --eps "$rate" --data "$d/train_x.npy" --labels "$d/train_y.npy" \
      --manifest "$d/manifest.json" --json)
    scan="$(printf '%.2f/%.2f' "$(json_num precision <<<"$s")" "$(json_num recall <<<"$s")")"
  fi
  row "$attack $rate" "$(json_num poisoned <<<"$out")" "$(printf '%.4f' "$(json_num accuracy <<<"$ev")")" \
    "$(printf '%.4f' "$caught")" "$scan"
done
