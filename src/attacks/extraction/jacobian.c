/*
 * attacks/extraction/jacobian.c - Jacobian-based dataset augmentation
 * (Papernot et al. 2017, "Practical black-box attacks against machine
 * learning", Algorithm 1 and sec. 6; foil/extraction.h).
 *
 * Shapes: x (N, ...) with D values an example; the substitute F gives
 * logits (N, C); the oracle O the victim's top-1 label.
 *
 *   S_0   = seed_size surrogate examples, labelled by the oracle
 *   for rho = 0, 1, ...:
 *       F     <- a fresh substitute trained on {(x, O(x)) : x in S_rho}
 *       S'    = S_rho, or after sigma rounds (reservoir sampling) kappa
 *               points of it drawn uniformly
 *       S_rho+1 = S_rho U {clip(x + lambda_rho sign(dF(x)[O(x)] / dx)) : x in S'}
 *       lambda_rho = lambda (-1)^floor(rho / tau)      (periodic step size)
 * Only the new points are queried; every round's substitute is a
 * checkpoint; the last round is cut to what is left of the budget (its
 * points then drawn uniformly, as the reservoir's are).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attacks/extraction/extraction_internal.h"

float foil_jacobian_step(float lambda, int64_t tau, int64_t rho)
{
    return tau > 0 && (rho / tau) % 2 ? -lambda : lambda;
}

/* fn for foil_model_input_grad: the logit of each example's label. */
static foil_status label_logit(void *ctx, int64_t first, int64_t count, int64_t classes, const float *logits,
                               float *value, float *dvalue)
{
    const int64_t *labels = (const int64_t *)ctx + first;
    for (int64_t i = 0; i < count; i++) {
        if (labels[i] < 0 || labels[i] >= classes)
            return foil_error(FOIL_ERR_ARG, "jacobian augmentation: label %lld of %lld classes", (long long)labels[i],
                              (long long)classes);
        if (value) value[i] = logits[i * classes + labels[i]];
        for (int64_t k = 0; k < classes; k++) dvalue[i * classes + k] = k == labels[i] ? 1.0f : 0.0f;
    }
    return FOIL_OK;
}

foil_status foil_jacobian_augment(foil_model *substitute, const foil_tensor *x, const int64_t *labels, float step,
                                  const float *lower, const float *upper, foil_tensor *out)
{
    foil_tensor grad = {0};
    foil_status st = foil_model_input_grad(substitute, x, label_logit, (void *)labels, NULL, NULL, &grad);
    if (!st && !out->data) st = foil_tensor_alloc(out, FOIL_F32, x->ndim, x->shape);
    if (!st && out->numel != x->numel)
        st = foil_error(FOIL_ERR_SHAPE, "jacobian augmentation: the output holds %lld values, the input %lld",
                        (long long)out->numel, (long long)x->numel);
    if (!st) {
        const int64_t n = x->shape[0], d = n ? x->numel / n : 0;
        const float *xs = foil_f32(x), *g = foil_f32(&grad);
        float *o = foil_f32(out);
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < d; j++) {
                const float gj = g[i * d + j];
                float v = xs[i * d + j] + (gj > 0 ? step : gj < 0 ? -step : 0.0f);
                if (lower && v < lower[j]) v = lower[j];
                if (upper && v > upper[j]) v = upper[j];
                o[i * d + j] = v;
            }
    }
    foil_tensor_free(&grad);
    return st;
}

/* m indices of [0, n) drawn uniformly (Algorithm R, reservoir sampling),
 * sorted; all of them in order when m >= n. */
static void reservoir(int64_t n, int64_t m, foil_rng *rng, int64_t *out)
{
    if (m >= n) {
        for (int64_t i = 0; i < n; i++) out[i] = i;
        return;
    }
    for (int64_t i = 0; i < m; i++) out[i] = i;
    for (int64_t i = m; i < n; i++) {
        const int64_t j = (int64_t)foil_rng_below(rng, (uint64_t)(i + 1));
        if (j < m) out[j] = i;
    }
    for (int64_t i = 1; i < m; i++) /* insertion sort: rows keep their order */
        for (int64_t k = i; k > 0 && out[k - 1] > out[k]; k--) {
            const int64_t t = out[k];
            out[k] = out[k - 1], out[k - 1] = t;
        }
}

foil_status foilExtractJacobian(FoilExtractRun *r)
{
    const foil_extraction_options *o = r->o;
    const foil_dataset *sur = r->surrogate;
    const int64_t n_sur = sur->y.numel, D = r->per_example;
    int64_t seeds = o->seed_size < n_sur ? o->seed_size : n_sur;
    if (seeds > o->budget) seeds = o->budget;
    int64_t *pick = malloc((size_t)o->budget * sizeof *pick), *labels = malloc((size_t)o->budget * sizeof *labels);
    float *rows = malloc((size_t)(seeds * D) * sizeof *rows);
    foil_status st = pick && labels && rows ? FOIL_OK : foil_error(FOIL_ERR_NOMEM, "out of memory for jacobian");
    foil_rng rng = foil_rng_make(o->seed, 0x7ac0b1a);
    if (!st) { /* the seed set: distinct surrogate examples */
        reservoir(n_sur, seeds, &rng, pick);
        for (int64_t i = 0; i < seeds; i++)
            memcpy(rows + i * D, foil_f32(&sur->x) + pick[i] * D, (size_t)D * sizeof *rows);
        st = foilExtractQuery(r, rows, seeds, NULL);
    }
    free(rows);
    const float *lower = foil_f32(&sur->lower), *upper = foil_f32(&sur->upper);
    for (int64_t rho = 0; !st; rho++) {
        st = foilExtractCheckpoint(r, r->n, o->seed + 1 + (uint64_t)rho);
        if (st || r->n >= o->budget) break;
        int64_t m = o->reservoir > 0 && rho >= o->sigma ? o->reservoir : r->n;
        if (m > r->n) m = r->n;
        if (m > o->budget - r->n) m = o->budget - r->n;
        reservoir(r->n, m, &rng, pick);
        foil_tensor x = {0}, aug = {0};
        int64_t shape[FOIL_MAX_DIMS];
        memcpy(shape, r->queried.x.shape, sizeof shape);
        shape[0] = m;
        st = foil_tensor_alloc(&x, FOIL_F32, r->queried.x.ndim, shape);
        for (int64_t i = 0; !st && i < m; i++) {
            memcpy(foil_f32(&x) + i * D, foil_f32(&r->queried.x) + pick[i] * D, (size_t)D * sizeof(float));
            labels[i] = foil_i64(&r->queried.y)[pick[i]];
        }
        if (!st)
            st = foil_jacobian_augment(r->copy, &x, labels, foil_jacobian_step(o->lambda, o->tau, rho), lower, upper,
                                       &aug);
        for (int64_t done = 0; !st && done < m; done += 256)
            st = foilExtractQuery(r, foil_f32(&aug) + done * D, m - done < 256 ? m - done : 256, NULL);
        foil_tensor_free(&x);
        foil_tensor_free(&aug);
        r->report->rounds = rho + 1;
    }
    free(pick), free(labels);
    return st;
}
