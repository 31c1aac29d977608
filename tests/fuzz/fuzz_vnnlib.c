/*
 * tests/fuzz/fuzz_vnnlib.c - libFuzzer target for the VNN-LIB property
 * parser (`foil verify --vnnlib`, foil/vnnlib.h): S-expressions, comments,
 * declarations, numbers, and/or nesting, the normal form's limits. A
 * property that loads must be consistent: both boxes ordered as the
 * header says, disjuncts' rows in order, every constant finite.
 */
#include <math.h>

#include "foil/vnnlib.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_input_file(data, size, ".vnnlib");
    foil_vnnlib *p = NULL;
    foil_clear_error();
    foil_status st = foil_vnnlib_load(path, &p);
    fuzz_expect_message(st);
    if (st) return 0;
    if (p->n_inputs < 1 || p->n_outputs < 1 || p->n_disjuncts < 1 || p->first[0] != 0 ||
        p->first[p->n_disjuncts] != p->n_rows)
        abort();
    for (int64_t i = 0; i < p->n_disjuncts; i++)
        if (p->first[i] > p->first[i + 1]) abort();
    for (int64_t j = 0; j < p->n_inputs; j++)
        if (!(p->lo[j] <= p->hi[j]) || !(p->lo[j] <= p->lo_in[j]) || !(p->hi_in[j] <= p->hi[j])) abort();
    for (int64_t r = 0; r < p->n_rows; r++)
        if (!(p->d_lo[r] <= p->d_hi[r]) || !isfinite(p->d_lo[r]) || !isfinite(p->d_hi[r])) abort();
    float *y = calloc((size_t)p->n_outputs, sizeof *y);
    if (y) (void)foil_vnnlib_unsafe(p, y);
    free(y);
    foil_vnnlib_free(p);
    return 0;
}
