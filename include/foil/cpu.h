/*
 * foil/cpu.h - which compiled kernel set runs on this CPU.
 *
 *   const char *set = foil_cpu_kernels();          // "avx2"; NULL: see foil_last_error()
 *   printf("kernels: %s; this CPU supports: %s\n", set, foil_cpu_supported());
 *   if (foil_cpu_use_kernels("baseline")) ...      // force one (as FOIL_KERNELS=baseline does)
 *
 * foil's hot kernels (convolution, GEMM tiles, Winograd, pooling, elementwise,
 * softmax, batch norm: every operator of the engine) are compiled more than
 * once, and one copy, a kernel set, is chosen once per process, before the
 * first model is loaded:
 *
 *   baseline  the build's baseline: x86-64-v2 (SSE4.2, POPCNT) on x86-64, the
 *             compiler's default on other architectures
 *   avx2      x86-64-v3: AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE
 *   avx512    x86-64-v4: x86-64-v3 plus AVX-512 F, BW, CD, DQ, VL
 *   native    the only set of a FOIL_NATIVE=ON build (-march=native)
 *
 * The choice is the widest set this build has and this CPU (and its OS)
 * supports, unless the environment variable FOIL_KERNELS names one
 * ("baseline", "avx2", "avx512", "native"; empty or "auto": the default). A
 * set the build lacks or the CPU cannot run is an error, never a crash: every
 * model load then fails with the reason. Sets differ only in speed and in
 * float rounding (the baseline has no fused multiply-add).
 */
#ifndef FOIL_CPU_H
#define FOIL_CPU_H

#include "foil/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The kernel set in use ("baseline", "avx2", "avx512" or "native"), chosen
 * at the first call. NULL when FOIL_KERNELS (or foil_cpu_use_kernels) asked
 * for a set that this build lacks or this CPU cannot run; foil_last_error()
 * says which and what is available. */
const char *foil_cpu_kernels(void);

/* The sets of this build that this CPU can run, narrowest first, separated
 * by spaces ("baseline avx2"). */
const char *foil_cpu_supported(void);

/* The sets compiled into this build, narrowest first ("baseline avx2 avx512"). */
const char *foil_cpu_built(void);

/* "portable" (the default build: any x86-64-v2 CPU, or any CPU of the
 * architecture) or "native" (FOIL_NATIVE=ON: this build machine's CPU). */
const char *foil_cpu_build(void);

/* The BLAS and its kernels ("OpenBLAS, SkylakeX kernels"). Where OpenBLAS
 * took this CPU for Prescott, its SSE3 fallback for models newer than it
 * knows, and OPENBLAS_CORETYPE is not set, foil has it choose Haswell or
 * SkylakeX kernels instead, once, before foil's first BLAS call (at the
 * first model load, or at the first call of this function if that comes
 * sooner), and this says so. */
const char *foil_cpu_blas(void);

/* Use kernel set `name` for models loaded from now on (ones loaded before
 * keep theirs); "auto" restores the default choice. FOIL_ERR_ARG, with a
 * message naming the set and what is available, when the build lacks it or
 * the CPU cannot run it; the set in use is unchanged then. Not thread-safe
 * with concurrent model loads. */
foil_status foil_cpu_use_kernels(const char *name);

#ifdef __cplusplus
}
#endif
#endif
