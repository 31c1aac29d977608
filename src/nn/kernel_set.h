/*
 * nn/kernel_set.h - one compiled copy of src/nn/ops, as a table (internal).
 *
 * CMakeLists.txt compiles the op files once per kernel set, each for its
 * instruction set and with nn/ops/kset_names.h renaming their symbols, so
 * every set exports exactly one thing: its foilKernelSetTable_<set>
 * (registry.c). nn/kernel_sets.c picks the table of the set core/cpu.c chose
 * and answers foilOpFind() and foil_softmax_xent() from it; the graph keeps
 * the op pointers it got at load, so the choice costs nothing per call.
 */
#ifndef FOIL_NN_KERNEL_SET_H
#define FOIL_NN_KERNEL_SET_H

#include <stdint.h>

#include "foil/status.h"
#include "nn/op.h"

typedef struct FoilKernelSet {
    const char *name;            /* "baseline", "avx2", "avx512" or "native" (core/cpu.c's names) */
    const FoilOp *const *ops;   /* every supported operator */
    int n_ops;
    /* include/foil/loss.h's foil_softmax_xent, compiled for this set */
    foil_status (*softmax_xent)(const float *logits, const int64_t *labels, int64_t n, int64_t c, float *loss,
                                float *dlogits);
} FoilKernelSet;

/* Defined by each set's registry.c (renamed per set by nn/ops/kset_names.h). */
extern const FoilKernelSet foilKernelSetTable;

#endif
