#!/usr/bin/env bash
# Compile libfoil for aarch64 (compile only: nothing runs, nothing links),
# with warnings as errors: the portable build must configure and compile on a
# CPU without x86's instruction sets (foil/cpu.h: the baseline kernel set).
# Installs Debian's cross compiler (gcc-aarch64-linux-gnu) if it is missing.
# About a minute on a 2-core machine, so CI leaves it out; run it by hand
# after changing the build or code that tests __x86_64__/__AVX*__.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v aarch64-linux-gnu-gcc >/dev/null; then
  apt-get install -y -q --no-install-recommends gcc-aarch64-linux-gnu >/dev/null
fi
cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release \
  -DFOIL_BUILD_TESTS=OFF -DFOIL_NATIVE=OFF -DFOIL_WERROR=ON >/dev/null
cmake --build build-aarch64 --target libfoil -j"$(nproc)"
file build-aarch64/CMakeFiles/foil_objects.dir/src/core/cpu.c.o | grep -q 'ARM aarch64' ||
  { echo "check-aarch64: the objects are not aarch64 code"; exit 1; }
sets=$(cd build-aarch64 && ls kset-objects-*.txt | sed 's/kset-objects-//; s/\.txt$//' | paste -sd' ')
echo "check-aarch64: libfoil compiles for aarch64 (kernel sets: $sets)"
