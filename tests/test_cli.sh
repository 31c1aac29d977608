#!/usr/bin/env bash
# End-to-end checks of the foil command: help and exit codes, clear errors on
# bad input, and a real train -> eval -> predict -> grad round on a small
# tabular dataset (breast-cancer MLP must reach 95% test accuracy).
set -uo pipefail
FOIL=${FOIL_BIN:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/cli_helpers.sh"

check help 0 "commands:" -- "$FOIL" --help
for cmd in train eval predict grad; do
  check "$cmd --help" 0 "usage: foil $cmd" -- "$FOIL" "$cmd" --help
done
check "no command" 2 "usage" -- "$FOIL"
check "unknown command" 2 "unknown command" -- "$FOIL" frobnicate
check "unknown option" 2 "unknown option '--bogus'" -- "$FOIL" predict --bogus 1
check "missing required" 2 "--input is required" -- "$FOIL" predict --model m.onnx
check "missing model" 2 "exactly one of --model FILE.onnx, --endpoint URL or --command CMD" -- "$FOIL" predict --input x.npy
check "bad integer" 2 "expects an integer" -- "$FOIL" train --arch mlp --data wine --output m.onnx --epochs two
check "missing model file" 1 "nope.onnx: cannot open" -- "$FOIL" predict --model "$tmp/nope.onnx" --input x.npy
echo "not a model" > "$tmp/bad.onnx"
check "corrupt model file" 1 "bad.onnx" -- "$FOIL" eval --model "$tmp/bad.onnx" --data wine
check "unknown dataset" 1 "'no-such-data' is not a built-in dataset \(built-ins: fashion-mnist, digits, breast-cancer, wine\).*also takes a file" \
  -- "$FOIL" train --arch mlp --data no-such-data --output "$tmp/m.onnx"
check "bad --bounds" 2 "--bounds expects LOW,HIGH with LOW < HIGH" -- "$FOIL" eval --model m.onnx --data wine --bounds 1,0
check "unknown arch" 1 "frob" -- "$FOIL" train --arch frob --data wine --output "$tmp/m.onnx"

# Train, evaluate, predict and take gradients for real.
check "train breast-cancer" 0 "" -- "$FOIL" train --arch mlp --data breast-cancer --epochs 30 --batch 32 --seed 1 \
  --quiet --output "$tmp/bc.onnx"
json=$("$FOIL" eval --model "$tmp/bc.onnx" --data breast-cancer --json)
for key in accuracy per_class_accuracy confusion_matrix mean_confidence ece; do
  grep -q "\"$key\":" <<<"$json" || { echo "FAIL eval --json lacks $key: $json"; failures=$((failures + 1)); }
done
acc=$(grep -oE '"accuracy":[0-9.e-]+' <<<"$json" | cut -d: -f2)
echo "breast-cancer MLP test accuracy: $acc"
if awk -v a="$acc" 'BEGIN { exit !(a >= 0.95) }'; then echo "ok   breast-cancer accuracy >= 95%"
else echo "FAIL breast-cancer accuracy $acc < 95%"; failures=$((failures + 1)); fi

check "missing data file" 1 "$tmp/x.npy: no such file \(--data names a file here: check the path\)" -- \
  "$FOIL" eval --model "$tmp/bc.onnx" --data "$tmp/x.npy" --labels "$tmp/y.npy"

# A user's file is evaluated whole unless --split says otherwise: 40 rows of
# F features (breast-cancer's model takes 30) and a label, in a CSV of one's own.
user_csv() { # F
  awk -v F="$1" 'BEGIN { printf "y"; for (j = 0; j < F; j++) printf ",f%d", j; printf "\n"
    for (i = 0; i < 40; i++) { printf "%d", i % 2; for (j = 0; j < F; j++) printf ",%g", (i * 7 + j) % 13; printf "\n" } }'
}
user_csv 30 > "$tmp/mine.csv"
user_csv 29 > "$tmp/narrow.csv"
check "eval uses all of a user's file" 0 '"split":"all","examples":40' -- "$FOIL" eval --model "$tmp/bc.onnx" \
  --data "$tmp/mine.csv" --label-column y --json
check "eval --split test on a user's file" 0 '"split":"test","examples":8' -- "$FOIL" eval --model "$tmp/bc.onnx" \
  --data "$tmp/mine.csv" --label-column y --split test --json
check "attack uses all of a user's file" 0 '"examples":40' -- "$FOIL" attack --model "$tmp/bc.onnx" \
  --data "$tmp/mine.csv" --label-column y --attack fgsm --eps 1 --json
check "a built-in keeps its test split" 0 '"split":"test","examples":142' -- "$FOIL" eval --model "$tmp/bc.onnx" \
  --data breast-cancer --json
check "tabular --bounds narrower than the data" 1 "values lie in \[0, 12\], outside --bounds 0,10" -- "$FOIL" eval \
  --model "$tmp/bc.onnx" --data "$tmp/mine.csv" --label-column y --bounds 0,10
check "shapes that do not fit name both" 1 "examples of shape \[29\] \(29 values each\) do not fit the model's declared input \[-1, 30\]" \
  -- "$FOIL" eval --model "$tmp/bc.onnx" --data "$tmp/narrow.csv" --label-column y

# NPY files written here: header (format 1.0) + raw little-endian data.
{ npy_header '<f2' '4, 30'; head -c 240 /dev/zero; } > "$tmp/half.npy"
{ npy_header '|u1' '4,'; head -c 4 /dev/zero; } > "$tmp/y4.npy"
{ npy_header '|u1' '3,'; head -c 3 /dev/zero; } > "$tmp/y3.npy"
{ npy_header '|u1' '4, 30'; head -c 120 /dev/zero; } > "$tmp/x4.npy"
check "wrong dtype names the file, the dtype and those accepted" 1 \
  "half.npy: .npy dtype '<f2' is not supported \(float32, float64, int8/16/32/64, uint8/16/32/64, bool\)" -- \
  "$FOIL" eval --model "$tmp/bc.onnx" --data "$tmp/half.npy" --labels "$tmp/y4.npy"
check "labels of the wrong length name both files and counts" 1 "y3.npy has 3 labels but .*x4.npy has 4 examples" -- \
  "$FOIL" eval --model "$tmp/bc.onnx" --data "$tmp/x4.npy" --labels "$tmp/y3.npy"
check "bad --normalize" 2 "--normalize expects MEAN\[,MEAN...\]/STD" -- "$FOIL" predict --model "$tmp/bc.onnx" \
  --input "$tmp/x4.npy" --normalize 0.5
check "grad: labels of the wrong length" 1 "y3.npy holds labels of shape \[3\] but .*x4.npy has 4 examples" -- \
  "$FOIL" grad --model "$tmp/bc.onnx" --input "$tmp/x4.npy" --labels "$tmp/y3.npy" --output "$tmp/g.npy"

if [ $failures -ne 0 ]; then echo "$failures CLI check(s) failed"; exit 1; fi
echo "all CLI checks passed"
