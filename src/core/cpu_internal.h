/*
 * core/cpu_internal.h - the kernel set chosen by core/cpu.c, for nn/kernel_sets.c
 * (internal; the public side is include/foil/cpu.h).
 */
#ifndef FOIL_CORE_CPU_INTERNAL_H
#define FOIL_CORE_CPU_INTERNAL_H

/* Kernel sets, narrowest first. CMakeLists.txt defines FOIL_KSET_BUILT_<NAME>
 * (BASELINE, AVX2, AVX512, NATIVE) for the ones it compiles. */
typedef enum FoilKsetId {
    FOIL_KSET_BASELINE,
    FOIL_KSET_AVX2,
    FOIL_KSET_AVX512,
    FOIL_KSET_NATIVE,
    FOIL_KSET_COUNT
} FoilKsetId;

/* The set in use, chosen at the first call (FOIL_KERNELS, else the widest the
 * CPU runs); -1, with foil_last_error() saying why, when the requested set is
 * not built or not supported by this CPU. */
int foilCpuKset(void);

/* Whether this CPU (and its OS) runs kernel set id's instructions (the
 * sets' psABI levels; FOIL_KSET_NATIVE: always). */
int foilCpuRuns(int id);

/* Have OpenBLAS choose its kernels again where it took this CPU for a
 * Prescott (core/blas.c); once per process, before foil's first BLAS call. */
void foilBlasCheck(void);

#endif
