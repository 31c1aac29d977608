# Cross-compiling for 64-bit Arm with Debian's gcc-aarch64-linux-gnu, for the
# compile-only check of scripts/check-aarch64.sh: foil's portable build on a
# non-x86 CPU (the baseline kernel set alone, no -march). Libraries are not
# linked, so the host's headers (OpenBLAS, protobuf-c, zlib) serve.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
# find_package(ZLIB) wants an aarch64 libz; the static libfoil never links it.
set(ZLIB_LIBRARY ZLIB_LIBRARY-not-linked-in-a-compile-only-check CACHE FILEPATH "")
