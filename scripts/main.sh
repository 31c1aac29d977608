#!/usr/bin/env bash
# foil's main job on the built-in default: install what is missing, build,
# train the Fashion-MNIST model (cnn-small, 2 epochs) unless it is already
# there, then audit it (foil audit --profile quick: white-box sweeps over
# Linf and L2 eps and two black-box attacks on 500 seeded test images) and
# print the summary and where the report is.
#   FOIL_MODEL=path   where the model lives (default models/fashion-mnist-cnn-small.onnx)
#   FOIL_AUDIT=dir    where the report goes (default audit/)
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
build/foil audit --model "$model" --data fashion-mnist --profile quick --out "${FOIL_AUDIT:-audit}"
