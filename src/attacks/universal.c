/*
 * attacks/universal.c - the universal adversarial perturbation
 * (Moosavi-Dezfooli, Fawzi, Fawzi, Frossard 2017, "Universal adversarial
 * perturbations", Algorithm 1; the authors' code: LTS4/universal,
 * universal_pert.py), Linf and L2.
 *
 * One perturbation v, learned on the fit set {x_i} (opt->fit_x), fools
 * the model on most inputs at once:
 *   v = 0
 *   while fooling rate on the fit set < 1 - delta and passes < max_passes:
 *     for x_i in the fit set, in a fresh random order:
 *       if k(x_i + v) == k(x_i):
 *         dv = DeepFool(x_i + v)         (minimal extra perturbation)
 *         if DeepFool changed the label: v = P_{p,eps}(v + dv)
 *   P_{p,eps}: Linf clips every v_j to [-eps, eps]; L2 rescales v onto the ball.
 * DeepFool is the L2 version (Algorithm 1 asks for the smallest ||dv||_2)
 * with overshoot 0.02 and 10 iterations, as in the authors' code and ART,
 * for both norms (the projection then makes v an Linf or L2 perturbation);
 * an update is kept only when DeepFool fooled the example (ART's
 * condition; the authors' code asks that DeepFool ended before its last
 * iteration). x_i + v is clipped to the bounds.
 * Defaults: delta 0.2, max_passes 5 (the authors' code has no cap, ART
 * stops at 20), df_iter 10, nb_candidate 10, fit_batch 32.
 *
 * Deviations, said plainly:
 * - fit examples the model already misclassifies are left out (the
 *   runner does the same with the evaluated ones), so k(x_i) is the label
 *   y_i and the fooling rate is measured on the correctly classified ones;
 * - with fit_batch = B > 1 (default 32) DeepFool runs on B fit examples at
 *   once, all from the same v, and their dv are then added to v one after
 *   the other (each projected). fit_batch = 1 is the paper's per-example
 *   loop exactly; B > 1 is many times faster on a CPU because the model
 *   sees batches;
 * - the fooling rate on the fit set is measured after every pass (as the
 *   paper's stopping test does) and the v of the best pass is returned,
 *   not necessarily the last: later passes can lower the rate (measured
 *   on cnn-small / Fashion-MNIST at Linf 0.15: 34% after one pass, 24-26%
 *   after two or three).
 *
 * The fitting is charged to the result's fit_queries / fit_grads. The
 * evaluation on the runner's x costs one forward pass per example: x' =
 * clip(x + v) is queried once (an adversary deploying v needs no model at
 * all; the query is counted so that the per-example numbers stay honest).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attacks/attack_internal.h"

/* ---- the fit set (shared with patch.c) ---- */

static foil_status check_fit_set(const FoilEvasionCtx *c, const foil_tensor *fx, const int64_t *fy)
{
    const char *name = c->info->name;
    if (!fx || !fy)
        return foil_error(FOIL_ERR_ARG, "%s learns on a fit set: give fit_x and fit_y in the attack options "
                                        "(foil attack: --fit-split, --fit-limit)",
                          name);
    int same = fx->dtype == FOIL_F32 && fx->ndim == c->ndim && fx->shape[0] >= 1;
    for (int k = 1; same && k < c->ndim; k++) same = fx->shape[k] == c->shape[k];
    if (!same) return foil_error(FOIL_ERR_SHAPE, "%s: the fit set must be float32 shaped like x, (N, ...)", name);
    int64_t n = fx->shape[0];
    const float *xs = foil_f32(fx);
    for (int64_t i = 0; i < n; i++) {
        if (fy[i] < 0 || fy[i] >= c->classes)
            return foil_error(FOIL_ERR_ARG, "%s: fit label %lld of example %lld is outside [0, %lld)", name,
                              (long long)fy[i], (long long)i, (long long)c->classes);
        for (int64_t j = 0; j < c->d; j++)
            if (!(xs[i * c->d + j] >= c->t->lower[j] && xs[i * c->d + j] <= c->t->upper[j]))
                return foil_error(FOIL_ERR_ARG, "%s: fit example %lld, feature %lld lies outside its bounds", name,
                                  (long long)i, (long long)j);
    }
    return FOIL_OK;
}

foil_status foilEvasionFitBegin(const FoilEvasionCtx *c, FoilEvasionCtx *fit)
{
    const foil_tensor *fx = c->opt ? c->opt->fit_x : NULL;
    const int64_t *fy = c->opt ? c->opt->fit_y : NULL;
    foil_status st = check_fit_set(c, fx, fy);
    if (st) return st;
    *fit = *c;
    fit->n = fx->shape[0];
    fit->shape[0] = fit->n;
    fit->x = foil_f32(fx);
    fit->y = fit->target = fy;
    fit->targeted = 0;
    fit->first_example = 0; /* every share of a split run learns on the same fit set alike */
    fit->attacked = NULL;
    fit->adv = NULL;
    fit->queries = calloc((size_t)fit->n, sizeof *fit->queries);
    fit->grads = calloc((size_t)fit->n, sizeof *fit->grads);
    fit->zero_grad = calloc((size_t)fit->n, 1);
    if (!fit->queries || !fit->grads || !fit->zero_grad) {
        free(fit->queries);
        free(fit->grads);
        free(fit->zero_grad);
        return foil_error(FOIL_ERR_NOMEM, "%s: out of memory for %lld fit examples", c->info->name, (long long)fit->n);
    }
    return FOIL_OK;
}

void foilEvasionFitEnd(FoilEvasionCtx *c, FoilEvasionCtx *fit)
{
    for (int64_t i = 0; fit->queries && i < fit->n; i++) {
        *c->fit_queries += fit->queries[i];
        *c->fit_grads += fit->grads[i];
        *c->fit_grad_examples += fit->grads[i] > 0;
        *c->fit_zero_grads += fit->zero_grad[i];
    }
    free(fit->queries);
    free(fit->grads);
    free(fit->zero_grad);
    fit->queries = fit->grads = NULL;
    fit->zero_grad = NULL;
}

/* ---- the perturbation ---- */

typedef struct uni_config {
    FoilDeepfoolConfig df;
    float delta;
    int64_t max_passes, fit_batch;
} uni_config;

typedef struct uni_work {
    int64_t rows;                /* buffer capacity */
    int64_t *idx, *ex, *order;   /* usable fit examples; a batch's examples; shuffled order */
    float *start, *out, *z;
    uint8_t *fooled;
    FoilBuffers mem;       /* owns every array above */
} uni_work;

static foil_status uni_alloc(uni_work *w, const FoilEvasionCtx *f, int64_t rows)
{
    memset(w, 0, sizeof *w);
    w->rows = rows;
    size_t n = (size_t)f->n, r = (size_t)rows;
    w->idx = foilBuffersTake(&w->mem, n * sizeof *w->idx);
    w->order = foilBuffersTake(&w->mem, n * sizeof *w->order);
    w->ex = foilBuffersTake(&w->mem, r * sizeof *w->ex);
    w->start = foilBuffersTake(&w->mem, r * (size_t)f->d * sizeof *w->start);
    w->out = foilBuffersTake(&w->mem, r * (size_t)f->d * sizeof *w->out);
    w->z = foilBuffersTake(&w->mem, r * (size_t)f->classes * sizeof *w->z);
    w->fooled = foilBuffersTake(&w->mem, r);
    return foilBuffersStatus(&w->mem, "universal", rows);
}

/* P_{p,eps}: onto the eps-ball of the threat's norm; unmovable features 0. */
static void project_v(const FoilEvasionCtx *c, float *v)
{
    int64_t d = c->d;
    float eps = c->t->eps;
    for (int64_t j = 0; j < d; j++)
        if (c->t->lower[j] == c->t->upper[j] || (c->t->immutable && c->t->immutable[j])) v[j] = 0;
    if (c->t->norm == FOIL_NORM_LINF) {
        for (int64_t j = 0; j < d; j++) v[j] = fminf(fmaxf(v[j], -eps), eps);
        return;
    }
    double s = 0;
    for (int64_t j = 0; j < d; j++) s += (double)v[j] * v[j];
    if (s <= (double)eps * eps) return;
    /* A hair below eps so that float rounding cannot land outside. */
    float f = (float)(eps / sqrt(s)) * (1.0f - 1e-6f);
    for (int64_t j = 0; j < d; j++) v[j] *= f;
}

/* start[r] = clip(x_i + v) for the rows examples ex[r] of ctx f. */
static void perturbed(const FoilEvasionCtx *f, const int64_t *ex, int64_t rows, const float *v, float *start)
{
    for (int64_t r = 0; r < rows; r++) {
        float *a = start + r * f->d;
        const float *x = f->x + ex[r] * f->d;
        for (int64_t j = 0; j < f->d; j++) a[j] = x[j] + v[j];
        foilEvasionClip(f, ex[r], a);
    }
}

/* Fit examples the model classifies correctly (one forward pass each). */
static foil_status usable_examples(FoilEvasionCtx *f, uni_work *w, int64_t *m)
{
    *m = 0;
    for (int64_t s = 0; s < f->n; s += w->rows) {
        int64_t rows = f->n - s < w->rows ? f->n - s : w->rows;
        for (int64_t r = 0; r < rows; r++) w->ex[r] = s + r;
        foil_status st = foilEvasionLogits(f, f->x + s * f->d, w->ex, rows, w->z);
        if (st) return st;
        for (int64_t r = 0; r < rows; r++)
            if (foilArgmax(w->z + r * f->classes, f->classes) == f->y[s + r]) w->idx[(*m)++] = s + r;
    }
    if (*m == 0) return foil_error(FOIL_ERR_ARG, "universal: the model misclassifies every fit example");
    return FOIL_OK;
}

/* Fooling rate of v over the m usable fit examples. */
static foil_status fooling_rate(FoilEvasionCtx *f, uni_work *w, int64_t m, const float *v, double *rate)
{
    int64_t fooled = 0;
    for (int64_t s = 0; s < m; s += w->rows) {
        int64_t rows = m - s < w->rows ? m - s : w->rows;
        memcpy(w->ex, w->idx + s, (size_t)rows * sizeof *w->ex);
        perturbed(f, w->ex, rows, v, w->start);
        foil_status st = foilEvasionLogits(f, w->start, w->ex, rows, w->z);
        if (st) return st;
        for (int64_t r = 0; r < rows; r++) fooled += foilArgmax(w->z + r * f->classes, f->classes) != f->y[w->ex[r]];
    }
    *rate = (double)fooled / (double)m;
    return FOIL_OK;
}

/* One mini-batch of Algorithm 1's inner loop: DeepFool from x_i + v for the
 * examples x_i + v does not fool yet, then v += dv_i (projected) in turn. */
static foil_status fit_batch(FoilEvasionCtx *f, uni_work *w, const uni_config *cfg, const int64_t *batch,
                             int64_t rows, float *v)
{
    int64_t d = f->d, classes = f->classes, k = 0;
    perturbed(f, batch, rows, v, w->start);
    foil_status st = foilEvasionLogits(f, w->start, batch, rows, w->z);
    if (st) return st;
    for (int64_t r = 0; r < rows; r++) {
        if (foilArgmax(w->z + r * classes, classes) != f->y[batch[r]]) continue;
        if (k != r) {
            memcpy(w->start + k * d, w->start + r * d, (size_t)d * sizeof(float));
            memcpy(w->z + k * classes, w->z + r * classes, (size_t)classes * sizeof(float));
        }
        w->ex[k++] = batch[r];
    }
    if ((st = foilDeepfoolRun(f, &cfg->df, w->ex, k, w->start, w->z, w->out, w->fooled))) return st;
    for (int64_t s = 0; s < k; s++) {
        if (!w->fooled[s]) continue;
        for (int64_t j = 0; j < d; j++) v[j] += w->out[s * d + j] - w->start[s * d + j];
        project_v(f, v);
    }
    return FOIL_OK;
}

static void shuffle(const FoilEvasionCtx *c, int64_t pass, int64_t *a, int64_t n)
{
    foil_rng r = foilEvasionRunRng(c, 0x0417, pass);
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t k = (int64_t)foil_rng_below(&r, (uint64_t)(i + 1)), t = a[i];
        a[i] = a[k];
        a[k] = t;
    }
}

/* Algorithm 1's passes; v receives the perturbation with the highest
 * fooling rate on the fit set measured after a pass. */
static foil_status fit_universal(FoilEvasionCtx *c, FoilEvasionCtx *f, const uni_config *cfg, float *v)
{
    uni_work w = {0};
    int64_t m, d = f->d, rows = foilEvasionBatch(c) > cfg->fit_batch ? foilEvasionBatch(c) : cfg->fit_batch;
    float *cur = calloc((size_t)d, sizeof *cur);
    foil_status st = cur ? uni_alloc(&w, f, rows) : foil_error(FOIL_ERR_NOMEM, "universal: out of memory");
    if (st) {
        free(cur);
        return st;
    }
    if ((st = usable_examples(f, &w, &m))) goto done;
    double rate = 0, best = -1;
    for (int64_t pass = 0; pass < cfg->max_passes && rate < 1 - cfg->delta; pass++) {
        memcpy(w.order, w.idx, (size_t)m * sizeof *w.order);
        shuffle(c, pass, w.order, m);
        for (int64_t s = 0; !st && s < m; s += cfg->fit_batch)
            st = fit_batch(f, &w, cfg, w.order + s, m - s < cfg->fit_batch ? m - s : cfg->fit_batch, cur);
        if (st || (st = fooling_rate(f, &w, m, cur, &rate))) goto done;
        if (rate > best) {
            best = rate;
            memcpy(v, cur, (size_t)d * sizeof *v);
        }
        char status[64];
        snprintf(status, sizeof status, "fit pass %lld: fooling rate %.1f%%", (long long)pass + 1, 100 * rate);
        foil_progress_update(&c->progress, 0, status);
    }
    if (rate < 1 - cfg->delta)
        foilEvasionWarn(c, "universal: fooling rate on the fit set %.1f%% (best pass %.1f%%) < 1 - delta after %lld "
                            "passes",
                         100 * rate, 100 * best, (long long)cfg->max_passes);
done:
    foilBuffersFree(&w.mem);
    free(cur);
    return st;
}

/* adv_i = clip(x_i + v), each queried once (in batches). */
static foil_status apply_v(FoilEvasionCtx *c, const float *v)
{
    int64_t n_active, batch = foilEvasionBatch(c), d = c->d;
    int64_t *active = foilEvasionActive(c, &n_active);
    float *xs = malloc((size_t)(batch * d) * sizeof *xs), *z = malloc((size_t)(batch * c->classes) * sizeof *z);
    foil_status st = active && xs && z ? FOIL_OK : foil_error(FOIL_ERR_NOMEM, "universal: out of memory");
    for (int64_t s = 0; !st && s < n_active; s += batch) {
        int64_t rows = n_active - s < batch ? n_active - s : batch;
        for (int64_t r = 0; r < rows; r++) {
            int64_t i = active[s + r];
            float *a = c->adv + i * d;
            for (int64_t j = 0; j < d; j++) a[j] = c->x[i * d + j] + v[j];
            foilEvasionClip(c, i, a);
            memcpy(xs + r * d, a, (size_t)d * sizeof *a);
        }
        st = foilEvasionLogits(c, xs, active + s, rows, z);
        foil_progress_update(&c->progress, s + rows, NULL);
    }
    free(active);
    free(xs);
    free(z);
    return st;
}

foil_status foilEvasionUniversal(FoilEvasionCtx *c)
{
    double delta = 0.2, passes = 5, overshoot = 0.02, df_iter = 10, candidates = 10, batch = 32;
    FoilParam params[] = {{"delta", &delta},         {"max_passes", &passes},       {"overshoot", &overshoot},
                           {"df_iter", &df_iter},     {"nb_candidate", &candidates}, {"fit_batch", &batch}};
    foil_status st = foilEvasionParams(c, params, 6);
    if (st) return st;
    if (!(delta >= 0 && delta < 1)) return foil_error(FOIL_ERR_ARG, "universal: delta must be in [0, 1)");
    if (!(passes >= 1) || !(df_iter >= 1) || !(candidates >= 2) || !(batch >= 1) || !(overshoot >= 0))
        return foil_error(FOIL_ERR_ARG,
                          "universal: max_passes, df_iter, fit_batch must be >= 1, nb_candidate >= 2, overshoot >= 0");
    uni_config cfg = {{FOIL_NORM_L2, (int64_t)df_iter, (float)overshoot, (int64_t)candidates},
                      (float)delta,
                      (int64_t)passes,
                      (int64_t)batch};
    FoilEvasionCtx fit;
    if ((st = foilEvasionFitBegin(c, &fit))) return st;
    float *v = calloc((size_t)c->d, sizeof *v);
    if (!v) st = foil_error(FOIL_ERR_NOMEM, "universal: out of memory");
    if (!st) st = fit_universal(c, &fit, &cfg, v);
    foilEvasionFitEnd(c, &fit);
    if (!st) st = apply_v(c, v);
    free(v);
    return st;
}
