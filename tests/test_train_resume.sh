#!/usr/bin/env bash
# A training run killed with SIGKILL at arbitrary moments and resumed from
# its checkpoint must end with exactly the weights of an uninterrupted run
# (same seed, same threads): the ONNX files must be byte-identical.
set -euo pipefail
FOIL=${FOIL_BIN:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "SKIP: dataset-fashion-mnist is not installed"; exit 77
fi
common=(--arch cnn-small --data fashion-mnist --limit 2000 --epochs 2 --batch 64 --seed 7 --threads 2 --quiet
        --optimizer sgd --lr 0.05 --schedule cosine --crop-pad 2 --flip)

"$FOIL" train "${common[@]}" --output "$tmp/full.onnx"

# Kill each run at a moment that depends on its own progress, not on the
# clock: wait until it has written a checkpoint newer than the last one,
# then let it run on for a little and SIGKILL it (mid-step, or mid-write).
ck="$tmp/run.ckpt"
kills=0
for delay in 0.05 0.3 0.15; do
  before=$(stat -c %y "$ck" 2>/dev/null || echo none)
  "$FOIL" train "${common[@]}" --checkpoint "$ck" --checkpoint-every 5 --resume --output "$tmp/resumed.onnx" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null && [ "$(stat -c %y "$ck" 2>/dev/null || echo none)" = "$before" ]; do
    sleep 0.02
  done
  sleep "$delay"
  if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
  wait "$pid" 2>/dev/null || true
done
if [ "$kills" -lt 2 ] || [ ! -e "$ck" ]; then
  echo "FAIL: the runs finished before they could be killed (kills: $kills); the test proved nothing"; exit 1
fi
json=$("$FOIL" train "${common[@]}" --checkpoint "$ck" --resume --output "$tmp/resumed.onnx" --json)
echo "final run: $json"
case "$json" in
  *'"resumed_epoch"'*) ;;
  *) echo "FAIL: the final run did not resume from the checkpoint"; exit 1 ;;
esac
if ! cmp -s "$tmp/full.onnx" "$tmp/resumed.onnx"; then
  echo "FAIL: resumed weights differ from the uninterrupted run's"; exit 1
fi
echo "killed $kills times; resumed model is byte-identical to the uninterrupted one"
