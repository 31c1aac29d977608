#!/usr/bin/env bash
# Issue 11 item 6: robust accuracy against eps for each defense, next to the
# undefended model, every defense under the attack that adapts to it (BPDA
# through squeezing and JPEG, BPDA + EOT through noise and TV minimization,
# the margin loss against distillation's saturated softmax). Prints a table
# and writes an SVG plot (bench/plot_curves.py).
#
#   bench/robustness_curves.sh BUILD_DIR PLAIN.onnx [PGD_AT.onnx] [DISTILLED.onnx] [OUT_DIR]
#
# PGD (20 steps, step 2.5 eps / 20, random start) at eps 0 .. 0.2 on the
# first $LIMIT (default 500) Fashion-MNIST test images; EOT over 8 draws.
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR PLAIN.onnx [PGD_AT.onnx] [DISTILLED.onnx] [OUT_DIR]}
plain=${2:?the undefended model}
at=${3:-}
distilled=${4:-}
out=${5:-/tmp/foil-robustness-curves}
limit=${LIMIT:-500}
foil="$build/foil"
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
eps=0.02,0.05,0.1,0.15,0.2
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $OMP_NUM_THREADS threads, $(date -u +%F); PGD-20 on $limit images"

# run NAME ROW MODEL [foil attack options...]: the JSON rows of attack ROW
run() {
  local name=$1 row=$2 model=$3; shift 3
  local file="$out/curve$(wc -l <"$out/curves.txt").json"
  "$foil" attack --model "$model" --data fashion-mnist --limit "$limit" --attack pgd --steps 20 --eps "$eps" \
    --json --quiet "$@" 2>/dev/null | grep '^\[' >"$file"
  printf '%s\t%s\t%s\n' "$name" "$row" "$file" >>"$out/curves.txt"
}
: >"$out/curves.txt"
run "undefended" pgd "$plain"
[ -n "$at" ] && run "PGD adversarial training" pgd "$at"
run "squeeze 3 bits + median 3 (BPDA)" pgd "$plain" --preprocess squeeze:bits=3,median:3 --bpda
run "JPEG 75 (BPDA)" pgd "$plain" --preprocess jpeg:75 --bpda
run "Gaussian noise 0.1 (BPDA+EOT-8)" pgd "$plain" --preprocess noise:sigma=0.1 --bpda --eot 8
run "TV minimization 0.5 (BPDA+EOT-8)" pgd "$plain" --preprocess tv:lambda=0.5 --bpda --eot 8
[ -n "$distilled" ] && run "distillation T=100 (margin loss)" pgd "$distilled" --params loss=margin
/usr/bin/python3 "$here/plot_curves.py" "$out/curves.txt" "$out/robustness_curves.svg"
echo "plot: $out/robustness_curves.svg"
