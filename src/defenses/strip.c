/*
 * defenses/strip.c - STRIP's entropy of blended inputs (foil/scan.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "foil/rng.h"
#include "foil/scan.h"

/* Mean entropy (bits) of the softmax of rows [0, rows) of logits (rows x k). */
static double mean_entropy(const float *logits, int64_t rows, int64_t k)
{
    double total = 0;
    for (int64_t r = 0; r < rows; r++) {
        const float *z = logits + r * k;
        double top = z[0], sum = 0, h = 0;
        for (int64_t j = 1; j < k; j++) top = z[j] > top ? z[j] : top;
        for (int64_t j = 0; j < k; j++) sum += exp((double)z[j] - top);
        for (int64_t j = 0; j < k; j++) { /* -p log2 p with p = e^(z - top) / sum */
            double lp = (double)z[j] - top - log(sum), p = exp(lp);
            if (p > 0) h -= p * lp;
        }
        total += h / log(2.0);
    }
    return rows ? total / (double)rows : 0;
}

foil_status foil_strip_entropy(foil_model *m, const foil_tensor *x, const foil_tensor *pool,
                               const foil_strip_options *o, double *entropy)
{
    if (!m || !x || !pool || !o || !entropy) return foil_error(FOIL_ERR_ARG, "foil_strip_entropy: missing argument");
    const int64_t overlays = o->overlays ? o->overlays : 100, batch = o->batch ? o->batch : 10;
    const double alpha = o->alpha ? o->alpha : 0.5;
    if (overlays < 1 || batch < 1 || !(alpha > 0 && alpha < 1))
        return foil_error(FOIL_ERR_ARG, "STRIP: overlays and batch must be >= 1 and alpha in (0, 1)");
    if (x->dtype != FOIL_F32 || pool->dtype != FOIL_F32 || x->ndim < 1 || pool->ndim != x->ndim)
        return foil_error(FOIL_ERR_SHAPE, "STRIP: inputs and pool must be float32 examples of one shape");
    const int64_t n = x->shape[0], n_pool = pool->shape[0], F = n ? x->numel / n : 0;
    if (n_pool < 1 || pool->numel / n_pool != F)
        return foil_error(FOIL_ERR_SHAPE, "STRIP: the pool must hold images of the inputs' shape");
    int64_t shape[8];
    for (int i = 0; i < x->ndim && i < 8; i++) shape[i] = x->shape[i];
    foil_tensor blends = {0}, logits = {0};
    foil_status st = FOIL_OK;
    for (int64_t first = 0; !st && first < n; first += batch) {
        const int64_t count = first + batch <= n ? batch : n - first;
        shape[0] = count * overlays;
        foil_tensor_free(&blends);
        if ((st = foil_tensor_alloc(&blends, FOIL_F32, x->ndim, shape))) break;
        float *b = foil_f32(&blends);
        for (int64_t i = 0; i < count; i++) {
            foil_rng rng = foil_rng_make(o->seed, (uint64_t)(first + i));
            const float *xi = foil_f32(x) + (first + i) * F;
            for (int64_t t = 0; t < overlays; t++, b += F) {
                const float *p = foil_f32(pool) + (int64_t)foil_rng_below(&rng, (uint64_t)n_pool) * F;
                for (int64_t f = 0; f < F; f++) b[f] = (float)(alpha * xi[f] + (1 - alpha) * p[f]);
            }
        }
        foil_tensor_free(&logits);
        if ((st = foil_model_predict(m, &blends, &logits))) break;
        const int64_t k = logits.numel / (count * overlays);
        for (int64_t i = 0; i < count; i++)
            entropy[first + i] = mean_entropy(foil_f32(&logits) + i * overlays * k, overlays, k);
    }
    foil_tensor_free(&blends), foil_tensor_free(&logits);
    return st;
}
