#!/usr/bin/env bash
# foil's main job on the built-in default: install what is missing, build,
# train the Fashion-MNIST model (cnn-small, 2 epochs) unless it is already
# there, then attack it on 1,000 test images: APGD-CE and PGD (Linf) at
# eps 0.05, 0.1 and 0.2, and the black-box Square Attack at eps 0.1, and
# print the robust-accuracy table. (The full audit replaces this later.)
#   FOIL_MODEL=path   where the model lives (default models/fashion-mnist-cnn-small.onnx)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# FOIL_NATIVE given explicitly: a build/ configured by an older foil keeps no -march=native.
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DFOIL_NATIVE=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
model=${FOIL_MODEL:-models/fashion-mnist-cnn-small.onnx}
if [ -e "$model" ]; then
  echo "using the trained model $model"
else
  mkdir -p "$(dirname "$model")"
  echo "training cnn-small on Fashion-MNIST (2 epochs) -> $model"
  build/foil train --arch cnn-small --data fashion-mnist --epochs 2 --seed 0 \
    --checkpoint "$model.ckpt" --resume --output "$model"
  rm -f "$model.ckpt"
fi
build/foil attack --model "$model" --data fashion-mnist --limit 1000 --norm linf \
  --attack apgd-ce,pgd --eps 0.05,0.1,0.2
build/foil attack --model "$model" --data fashion-mnist --limit 1000 --norm linf \
  --attack square --eps 0.1 --queries 1000
