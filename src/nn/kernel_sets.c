/*
 * nn/kernel_sets.c - the op tables of the kernel set in use (nn/kernel_set.h).
 *
 * core/cpu.c decides which compiled copy of src/nn/ops runs; this file maps
 * that decision to the copy's table. Everything here is compiled once, for
 * the build's baseline: it never runs a set's code, only hands out pointers
 * to the chosen one. The graph looks each operator up once, at load, and
 * calls node->op->forward/backward from then on, so no call pays for the
 * choice; foil_softmax_xent pays one indirect call per batch of losses.
 */
#include <assert.h>
#include <string.h>

#include "core/cpu_internal.h"
#include "foil/loss.h"
#include "nn/kernel_set.h"
#include "nn/ops/im2col.h"

/* Each set's registry.c, named by nn/ops/kset_names.h. */
extern const FoilKernelSet foilKernelSetTable_baseline, foilKernelSetTable_avx2,
    foilKernelSetTable_avx512, foilKernelSetTable_native;

static const FoilKernelSet *const tables[FOIL_KSET_COUNT] = {
#ifdef FOIL_KSET_BUILT_BASELINE
    [FOIL_KSET_BASELINE] = &foilKernelSetTable_baseline,
#endif
#ifdef FOIL_KSET_BUILT_AVX2
    [FOIL_KSET_AVX2] = &foilKernelSetTable_avx2,
#endif
#ifdef FOIL_KSET_BUILT_AVX512
    [FOIL_KSET_AVX512] = &foilKernelSetTable_avx512,
#endif
#ifdef FOIL_KSET_BUILT_NATIVE
    [FOIL_KSET_NATIVE] = &foilKernelSetTable_native,
#endif
};

/* Shared by every set (see im2col.h). */
int foilOpsFastPaths = 1;

/* The chosen set's table; NULL (foil_last_error() says why) when FOIL_KERNELS
 * asked for one this build or CPU lacks. */
static const FoilKernelSet *current_set(void)
{
    int id = foilCpuKset();
    return id < 0 ? NULL : tables[id];
}

const FoilOp *foilOpFind(const char *type)
{
    const FoilKernelSet *set = current_set();
    if (!set) return NULL;
    for (int i = 0; i < set->n_ops; i++)
        if (strcmp(set->ops[i]->type, type) == 0) return set->ops[i];
    return NULL;
}

const char *foilOpList(void)
{
    static char list[4096]; /* some 170 names */
    if (list[0]) return list;
    /* Every set has the same operators: any built one will do. */
    const FoilKernelSet *set = NULL;
    for (int id = 0; id < FOIL_KSET_COUNT && !set; id++) set = tables[id];
    assert(set); /* CMakeLists.txt builds at least one */
    size_t used = 0;
    for (int i = 0; i < set->n_ops; i++) {
        size_t len = strlen(set->ops[i]->type);
        if (used + len + 3 >= sizeof list) break;
        if (used) { memcpy(list + used, ", ", 2); used += 2; }
        memcpy(list + used, set->ops[i]->type, len);
        used += len;
    }
    list[used] = '\0';
    return list;
}

foil_status foil_softmax_xent(const float *logits, const int64_t *labels, int64_t n, int64_t c, float *loss,
                              float *dlogits)
{
    const FoilKernelSet *set = current_set();
    if (!set) return FOIL_ERR_ARG;
    return set->softmax_xent(logits, labels, n, c, loss, dlogits);
}
