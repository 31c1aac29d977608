/*
 * data/augment.c - crop-after-padding and flip augmentation, forward and
 * adjoint (data/augment.h).
 */
#include <string.h>

#include "data/augment.h"

FoilAugmentDraw foilAugmentDraw(foil_rng *r, int64_t pad, int flip)
{
    FoilAugmentDraw a = {0, 0, 0};
    a.dy = pad ? (int64_t)foil_rng_below(r, (uint64_t)(2 * pad + 1)) - pad : 0;
    a.dx = pad ? (int64_t)foil_rng_below(r, (uint64_t)(2 * pad + 1)) - pad : 0;
    a.mirror = flip && (foil_rng_u64(r) & 1);
    return a;
}

/* The input column output column j reads, in range or not. */
static int64_t source_column(int64_t j, int64_t w, FoilAugmentDraw a)
{
    return (a.mirror ? w - 1 - j : j) + a.dx;
}

void foilAugmentApply(const float *src, float *dst, int64_t c, int64_t h, int64_t w, FoilAugmentDraw a)
{
    for (int64_t ch = 0; ch < c; ch++)
        for (int64_t i = 0; i < h; i++)
            for (int64_t j = 0; j < w; j++) {
                int64_t si = i + a.dy, sj = source_column(j, w, a);
                dst[(ch * h + i) * w + j] = si >= 0 && si < h && sj >= 0 && sj < w ? src[(ch * h + si) * w + sj] : 0.0f;
            }
}

void foilAugmentAdjoint(const float *d_dst, float *d_src, int64_t c, int64_t h, int64_t w, FoilAugmentDraw a)
{
    /* Each input pixel feeds at most one output pixel: a scatter with no sums. */
    memset(d_src, 0, (size_t)(c * h * w) * sizeof *d_src);
    for (int64_t ch = 0; ch < c; ch++)
        for (int64_t i = 0; i < h; i++)
            for (int64_t j = 0; j < w; j++) {
                int64_t si = i + a.dy, sj = source_column(j, w, a);
                if (si >= 0 && si < h && sj >= 0 && sj < w) d_src[(ch * h + si) * w + sj] = d_dst[(ch * h + i) * w + j];
            }
}
