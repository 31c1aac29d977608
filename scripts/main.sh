#!/usr/bin/env bash
# foil's main job on the built-in default. Installs what is missing, builds,
# and then does the most that foil can do today:
#   - today (engine landed; training and attacks are the next issues): runs
#     the engine's conformance suite against the official ONNX operator tests
#     and prints the per-operator table.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
echo "foil built: build/foil ($(build/foil --version))"
build/tests/test_onnx_conformance
