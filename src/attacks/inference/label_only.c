/*
 * attacks/inference/label_only.c - membership inference from labels alone
 * (foil/infer.h): the label-noise attack of Choquette-Choo et al. 2021,
 * which measures how far each example sits from the decision boundary by
 * how much noise the target's answer survives.
 */
#include <stdlib.h>
#include <string.h>

#include "foil/infer.h"
#include "foil/rng.h"

/* Examples scored per batch of queries: about 1,000 noisy copies at once. */
static int64_t examples_per_batch(int64_t queries)
{
    int64_t e = 1000 / queries;
    return e > 0 ? e : 1;
}

/* The noisy copies of examples first .. first + e into q (e * queries rows). */
static void noisy_copies(const float *x, int64_t F, int64_t first, int64_t e, int64_t queries, const float *lower,
                         const float *upper, double sigma, uint64_t seed, float *q)
{
    for (int64_t i = 0; i < e; i++) {
        foil_rng rng = foil_rng_make(seed, (uint64_t)(first + i)); /* the example's own stream */
        const float *src = x + (first + i) * F;
        for (int64_t k = 0; k < queries; k++) {
            float *dst = q + (i * queries + k) * F;
            for (int64_t f = 0; f < F; f++) {
                float v = src[f] + (float)(sigma * (upper[f] - lower[f]) * foil_rng_normal(&rng));
                dst[f] = v < lower[f] ? lower[f] : v > upper[f] ? upper[f] : v;
            }
        }
    }
}

foil_status foil_membership_label_noise(foil_model *m, const foil_tensor *x, const int64_t *y, const float *lower,
                                        const float *upper, int64_t queries, double sigma, uint64_t seed,
                                        float *score)
{
    if (queries < 1 || !(sigma > 0))
        return foil_error(FOIL_ERR_ARG, "label-noise: %lld queries of noise %g (need >= 1 and > 0)",
                          (long long)queries, sigma);
    const int64_t n = x->shape[0], F = n ? x->numel / n : 0, per = examples_per_batch(queries);
    int64_t shape[FOIL_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    foil_tensor q = {0}, out = {0};
    shape[0] = per * queries;
    foil_status st = foil_tensor_alloc(&q, FOIL_F32, x->ndim, shape);
    for (int64_t first = 0; !st && first < n; first += per) {
        const int64_t e = n - first < per ? n - first : per;
        noisy_copies(foil_f32(x), F, first, e, queries, lower, upper, sigma, seed, foil_f32(&q));
        q.shape[0] = e * queries, q.numel = e * queries * F;
        if ((st = foil_model_predict(m, &q, &out))) break;
        const int64_t classes = out.ndim == 2 ? out.shape[1] : 0;
        if (classes < 1) {
            st = foil_error(FOIL_ERR_ARG, "label-noise: %s does not return one row of scores per input",
                            foil_model_name(m));
            break;
        }
        for (int64_t i = 0; i < e; i++) {
            int64_t right = 0;
            for (int64_t k = 0; k < queries; k++) {
                const float *z = foil_f32(&out) + (i * queries + k) * classes;
                int64_t best = 0;
                for (int64_t c = 1; c < classes; c++)
                    if (z[c] > z[best]) best = c;
                right += best == y[first + i];
            }
            score[first + i] = (float)right / (float)queries;
        }
        foil_tensor_free(&out);
    }
    foil_tensor_free(&q);
    return st;
}
