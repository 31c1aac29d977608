#!/usr/bin/env bash
# The test command: install what is missing, build, run every test.
#   scripts/test.sh           tests (cross-checks skip if torch/onnx are absent)
#   FOIL_CROSSCHECK=1 ...     also install python3-torch/python3-onnx first
#   FOIL_SANITIZE=1 ...       build and test with AddressSanitizer + UBSan
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${FOIL_CROSSCHECK:-0}" == 1 ]]; then
  scripts/install-deps.sh --crosscheck
else
  scripts/install-deps.sh
fi

build=build
flags=(-DCMAKE_BUILD_TYPE=Release)
if [[ "${FOIL_SANITIZE:-0}" == 1 ]]; then
  build=build-asan
  flags=(-DCMAKE_BUILD_TYPE=Debug -DFOIL_SANITIZE=ON)
fi
cmake -S . -B "$build" "${flags[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure -j"$(nproc)" --timeout 900
