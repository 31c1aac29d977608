/*
 * defenses/squeeze.c - feature squeezing by bit-depth reduction (Xu, Evans,
 * Qi 2018), a preprocessor for foil_model_defended.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "defenses/preprocessor_internal.h"

typedef FoilBitDepth bit_depth;

static foil_status bit_depth_forward(void *ctx, const float *x, float *y, int64_t n, int64_t d, const uint64_t *seeds)
{
    (void)seeds;
    const bit_depth *b = ctx;
    const float range = b->hi - b->lo;
    for (int64_t i = 0; i < n * d; i++) {
        float u = fminf(fmaxf((x[i] - b->lo) / range, 0.0f), 1.0f);
        y[i] = b->lo + rintf(u * b->levels) / b->levels * range;
    }
    return FOIL_OK;
}

/* The exact derivative of a step function: zero wherever it exists. */
static foil_status bit_depth_backward(void *ctx, const float *x, const float *dy, float *dx, int64_t n, int64_t d,
                                      const uint64_t *seeds)
{
    (void)ctx, (void)x, (void)dy, (void)seeds;
    memset(dx, 0, (size_t)(n * d) * sizeof *dx);
    return FOIL_OK;
}

foil_status foil_preprocessor_bit_depth(int bits, float lo, float hi, foil_preprocessor *out)
{
    memset(out, 0, sizeof *out);
    if (bits < 1 || bits > 16) return foil_error(FOIL_ERR_ARG, "bit-depth: bits must be 1 to 16, not %d", bits);
    if (!(lo < hi) || !isfinite(lo) || !isfinite(hi))
        return foil_error(FOIL_ERR_ARG, "bit-depth: the input range [%g, %g] is empty or not finite", lo, hi);
    bit_depth *b = calloc(1, sizeof *b);
    if (!b) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    b->lo = lo;
    b->hi = hi;
    b->levels = (float)((1 << bits) - 1);
    snprintf(b->name, sizeof b->name, "bit-depth(%d)", bits);
    out->name = b->name;
    out->ctx = b;
    out->forward = bit_depth_forward;
    out->backward = bit_depth_backward;
    out->bpda_backward = NULL; /* identity, as Athalye et al. do for quantization */
    out->destroy = free;
    out->kind = FOIL_PREPROCESSOR_BIT_DEPTH;
    return FOIL_OK;
}
