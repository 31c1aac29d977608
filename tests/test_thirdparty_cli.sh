#!/usr/bin/env bash
# End-to-end runs of foil on models nobody here wrote, as a new user types
# them (../shared/data; skips with 77 when it is absent):
#   - the model zoo's mnist-8 takes 0-255 pixels: attacked on the IDX MNIST
#     files with --bounds 0,255; its adversarial examples come back in 0-255
#     and evaluate to the reported robust accuracy; without --bounds they are
#     refused with the range seen and the option to pass;
#   - the VNN-COMP MNIST nets (declared batch 1, one of them [1, 784, 1]) are
#     attacked on a 1,000-image NPY, every image of it, without reshaping;
#   - the VNN-COMP CIFAR-10 nets get pixels in [0, 1] and --normalize, and
#     score what their documented normalization gives (73 and 77 of 100).
set -uo pipefail
FOIL=${FOIL_BIN:?}
DATA=${FOIL_SHARED_DATA:-../shared/data}
if [ ! -f "$DATA/onnx_mnist8/mnist-8.onnx" ] || [ ! -f "$DATA/mnist/t10k-images-idx3-ubyte.gz" ]; then
  echo "SKIP: third-party models not found under $DATA (../shared/data is optional)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/cli_helpers.sh"
json_num() { grep -oE "\"$1\":[0-9.e+-]+" <<<"$2" | head -1 | cut -d: -f2; }
expect_num() { # NAME VALUE OP BOUND (awk comparison)
  if awk -v v="$2" -v b="$4" "BEGIN { exit !(v $3 b) }"; then echo "ok   $1: $2 $3 $4"; else fail "$1: $2, want $3 $4"; fi
}

IMAGES=$DATA/mnist/t10k-images-idx3-ubyte.gz
LABELS=$DATA/mnist/t10k-labels-idx1-ubyte.gz
MNIST8=$DATA/onnx_mnist8/mnist-8.onnx
VNN=$DATA/onnx_vnncomp2021

# ---- mnist-8: 0-255 inputs ----
# (Square: mnist-8's cross-entropy saturates on 0-255 inputs, so gradient
# attacks with it move nothing; a black-box attack shows the round trip.)
{ npy_header '|u1' '50,'; zcat "$LABELS" | tail -c +9 | head -c 50; } > "$tmp/y50.npy"
check "mnist-8 attacked with --bounds 0,255" 0 '"examples":50' -- "$FOIL" attack --model "$MNIST8" --data "$IMAGES" \
  --labels "$LABELS" --bounds 0,255 --attack square --eps 50 --queries 100 --limit 50 --json --quiet \
  --out "$tmp/adv.npy"
robust=$(json_num robust_accuracy "$out")
expect_num "mnist-8 clean accuracy on 0-255 pixels" "$(json_num clean_accuracy "$out")" ">=" 0.98
expect_num "mnist-8 robust accuracy, Square eps 50 of 255" "$robust" "<" 0.9
check "0-255 images without --bounds" 1 \
  'image values lie in \[0, 255\], outside the default image range \[0, 1\].*--bounds 0,255' -- \
  "$FOIL" eval --model "$MNIST8" --data "$tmp/adv.npy" --labels "$tmp/y50.npy"
check "mnist-8 on its own adversarial examples" 0 '"split":"all","examples":50' -- "$FOIL" eval --model "$MNIST8" \
  --data "$tmp/adv.npy" --labels "$tmp/y50.npy" --bounds 0,255 --json
expect_num "eval accuracy on adv.npy equals the attack's robust accuracy ($robust)" "$(json_num accuracy "$out")" "==" \
  "$robust"

# ---- VNN-COMP MNIST nets on a 1,000-image NPY: every image, at batch ----
{ npy_header '|u1' '1000, 1, 28, 28'; zcat "$IMAGES" | tail -c +17 | head -c 784000; } > "$tmp/x1000.npy"
{ npy_header '|u1' '1000,'; zcat "$LABELS" | tail -c +9 | head -c 1000; } > "$tmp/y1000.npy"
for net in Convnet_avgpool:0.974 Convnet_maxpool:0.976 mnist-net_256x2:0.978; do
  name=${net%%:*} acc=${net##*:}
  check "$name attacked on all 1,000 images of an NPY" 0 '"examples":1000' -- "$FOIL" attack \
    --model "$VNN/mnist/$name.onnx" --data "$tmp/x1000.npy" --labels "$tmp/y1000.npy" --attack pgd --eps 0.05 \
    --limit 1000 --json --quiet
  expect_num "$name clean accuracy (README: $acc)" "$(json_num clean_accuracy "$out")" "==" "$acc"
done
check "[1, 784, 1] takes 28x28 images, with one note" 0 \
  'note: .*mnist-net_256x2.onnx declares its input \[1, 784, 1\]; the examples of .*x1000.npy, shaped \[1, 28, 28\]' \
  -- "$FOIL" eval --model "$VNN/mnist/mnist-net_256x2.onnx" --data "$tmp/x1000.npy" --labels "$tmp/y1000.npy"
notes=$(grep -c "note:" <<<"$out")
[ "$notes" = 1 ] && echo "ok   the note is printed once" || fail "the note is printed $notes times"

# ---- CIFAR-10 nets: pixels in [0, 1], normalization moved into the graph ----
# ERAN's CSV holds label, then 32x32 RGB pixel-interleaved bytes; reorder to
# NCHW and scale to [0, 1], with a header so that foil reads it as a CSV.
awk -F, 'NR == 1 { printf "label"; for (i = 0; i < 3072; i++) printf ",p%d", i; printf "\n" }
         { printf "%s", $1; for (c = 0; c < 3; c++) for (p = 0; p < 1024; p++) printf ",%.9g", $(2 + 3 * p + c) / 255
           printf "\n" }' "$DATA/cifar10_test100/cifar10_test.csv" > "$tmp/cifar.csv"
KW=$VNN/cifar10/cifar_base_kw.onnx
RN=$VNN/cifar10/resnet_2b.onnx
check "cifar_base_kw with --normalize" 0 '"accuracy":0.73' -- "$FOIL" eval --model "$KW" --data "$tmp/cifar.csv" \
  --label-column label --bounds 0,1 --normalize 0.485,0.456,0.406/0.225 --json
check "resnet_2b with --normalize" 0 '"accuracy":0.77' -- "$FOIL" eval --model "$RN" --data "$tmp/cifar.csv" \
  --label-column label --bounds 0,1 --normalize 0.4914,0.4822,0.4465/0.2471,0.2435,0.2616 --json
check "cifar_base_kw attacked in pixel space, eps 2/255" 0 '"examples":100' -- "$FOIL" attack --model "$KW" \
  --data "$tmp/cifar.csv" --label-column label --bounds 0,1 --normalize 0.485,0.456,0.406/0.225 --attack pgd \
  --eps 0.00784 --json --quiet
expect_num "cifar_base_kw robust accuracy at eps 2/255 below its clean 0.73" "$(json_num robust_accuracy "$out")" "<" 0.73
check "--normalize with two means for three channels" 2 'gives 2 means, but the input of .*cifar_base_kw.onnx, \[1, 3, 32, 32\], has 3 channels' \
  -- "$FOIL" eval --model "$KW" --data "$tmp/cifar.csv" --label-column label --bounds 0,1 --normalize 0.5,0.5/0.25

if [ $failures -ne 0 ]; then echo "$failures third-party CLI check(s) failed"; exit 1; fi
echo "all third-party CLI checks passed"
