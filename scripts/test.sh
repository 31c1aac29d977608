#!/usr/bin/env bash
# The test command: install what is missing, build, run every test.
#   scripts/test.sh           the portable build (build/), as users build it
#   FOIL_CROSSCHECK=1 ...     also install python3-torch/python3-onnx first
#   FOIL_SANITIZE=1 ...       build and test with AddressSanitizer + UBSan (build-asan/)
#   FOIL_NATIVE=1 ...         build for this CPU, -march=native (build-native/, or build-asan-native/)
#   FOIL_WERROR=1 ...         compiler warnings are errors (CI and developers)
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${FOIL_CROSSCHECK:-0}" == 1 ]]; then
  scripts/install-deps.sh --crosscheck
else
  scripts/install-deps.sh
fi

on_off() { [[ "${1:-0}" == 1 ]] && echo ON || echo OFF; }
build=build
flags=(-DCMAKE_BUILD_TYPE=Release)
if [[ "${FOIL_SANITIZE:-0}" == 1 ]]; then
  build=build-asan
  flags=(-DCMAKE_BUILD_TYPE=Debug -DFOIL_SANITIZE=ON)
fi
[[ "${FOIL_NATIVE:-0}" == 1 ]] && build=$build-native
# Both options always given, so that a build directory configured before
# keeps no stale choice.
flags+=(-DFOIL_NATIVE="$(on_off "${FOIL_NATIVE:-0}")" -DFOIL_WERROR="$(on_off "${FOIL_WERROR:-0}")")
cmake -S . -B "$build" "${flags[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"
"$build"/foil --version
cd "$build"
# The native build is there to compile and run foil's kernels for this CPU
# (a warning or a result only one CPU's code path gives); the long
# end-to-end CLI flows (label end-to-end, tests/CMakeLists.txt) exercise no
# kernel the rest of the suite does not, and run in the portable and
# sanitizer builds.
skip=()
[[ "${FOIL_NATIVE:-0}" == 1 ]] && skip=(-LE end-to-end)
ctest --output-on-failure -j"$(nproc)" --timeout 900 "${skip[@]}"
