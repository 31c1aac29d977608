#!/usr/bin/env bash
# Do two foil builds produce the same adversarial examples? For refactors
# that must not change results (e.g. the model interface, issue 10): runs
# every attack with the same seed, threads and settings on the first 100
# Fashion-MNIST test images through both binaries and compares the written
# examples byte for byte, and the robust accuracy and mean queries.
#
#   scripts/same-adversarial-examples.sh OLD_FOIL NEW_FOIL MODEL.onnx
#
# Exit status 0 when every attack matches. One thread each, so that results
# do not depend on OpenMP's reduction order.
set -u
[ $# -eq 3 ] || { sed -n '2,11p' "$0"; exit 2; }
old=$1 new=$2 model=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
attacks=(
  "fgsm --eps 0.05" "pgd --eps 0.05 --steps 10" "bim --eps 0.05 --norm l2 --steps 5"
  "apgd-ce --eps 0.05 --steps 20" "apgd-dlr --eps 0.05 --steps 20"
  "apgd-t --eps 0.05 --steps 10 --params n_target_classes=3" "fab-t --eps 0.1 --steps 10 --params n_target_classes=3"
  "cw-l2 --norm l2 --eps 0 --steps 50 --params binary_search_steps=3" "deepfool --eps 0 --norm l2"
  "square --eps 0.05 --queries 300" "simba-pixel --eps 0.05 --queries 300" "simba-dct --eps 0.05 --queries 300"
  "nes --eps 0.05 --queries 300" "hsj --eps 0 --norm l2 --queries 300 --steps 5"
  "universal --eps 0.1 --fit-limit 200" "patch --norm l0 --eps 64 --fit-limit 100 --steps 20"
)
summary() { sed -n 's/.*"robust_accuracy":\([^,]*\).*"mean_queries":\([^,]*\).*/robust \1, queries \2/p' "$1"; }
different=0
for spec in "${attacks[@]}"; do
  name=${spec%% *}
  for side in old new; do
    bin=$old; [ $side = new ] && bin=$new
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=1 "$bin" attack --model "$model" --data fashion-mnist --limit 100 --attack $spec --seed 5 \
      --threads 1 --quiet --json --out "$dir/$side-$name.npy" >"$dir/$side-$name.json" 2>"$dir/$side-$name.err" ||
      { echo "$name: the $side build failed: $(tail -1 "$dir/$side-$name.err")"; different=1; continue 2; }
  done
  if cmp -s "$dir/old-$name.npy" "$dir/new-$name.npy" &&
     [ "$(summary "$dir/old-$name.json")" = "$(summary "$dir/new-$name.json")" ]; then
    echo "same       $name: $(summary "$dir/new-$name.json")"
  else
    echo "DIFFERENT  $name: old $(summary "$dir/old-$name.json"); new $(summary "$dir/new-$name.json")"
    different=1
  fi
done
exit $different
