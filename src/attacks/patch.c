/*
 * attacks/patch.c - the adversarial patch (Brown, Mané, Roy, Abadi, Gilmer
 * 2017, "Adversarial Patch"; cf. ART's AdversarialPatchNumpy), L0.
 *
 * Images (N, C, H, W) only. A patch P of C x s x s values is pasted over
 * the image at a location l (top-left corner, uniform over the positions
 * where it fits): A(P, x, l) replaces those s*s*C features of x by P
 * (clipped to their bounds; immutable features keep x). It changes at most
 * s*s*C features, so the L0 threat eps gives the side: s = floor(sqrt(eps /
 * C)) unless params size=s is given (then s*s*C <= eps is required).
 *
 * P is learned on the fit set (opt->fit_x) to maximise, over examples and
 * locations (expectation over transformation),
 *   untargeted:          E_{x,l} CE(model(A(P, x, l)), y)
 *   targeted (target=K): E_{x,l} -CE(model(A(P, x, l)), K) = E log p_K
 * by signed gradient ascent, ART's update:
 *   P <- clip(P + alpha * sign(sum_b dL_b/dP)),  dL_b/dP = dL_b/dx at the pasted features
 * Each step draws fit_batch fit examples (with replacement) and a fresh
 * location per example; P starts uniform at random in the bounds.
 * Defaults: 500 steps (ART's max_iter), alpha = 0.02 * (upper - lower),
 * fit_batch 32.
 *
 * What is left out, plainly: the paper's EOT also rotates and scales the
 * patch (and ART does so); here the patch is only moved, and it is pasted
 * at its own size and orientation when evaluated. ART's numpy version uses
 * every fit example at every step; this uses a random mini-batch per step.
 *
 * A patch is one image for every input, so a targeted patch takes its one
 * target class from params (target=K) rather than the runner's per-example
 * targets; the runner then scores misclassification, and a warning line
 * reports how often class K itself was reached.
 *
 * Evaluation on the runner's x: each attacked example gets the patch at a
 * random location drawn from its own seeded stream; x' is queried once (in
 * batches). Fitting is charged to fit_queries / fit_grads.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attacks/attack_internal.h"

typedef struct patch_config {
    int64_t side, steps, fit_batch, target; /* target -1: untargeted */
    float alpha;
} patch_config;

typedef struct patch_geom {
    int64_t ch, h, w, side;
} patch_geom;

/* Paste P at (r0, c0) into a (a copy of example i of ctx c). */
static void paste(const FoilEvasionCtx *c, const patch_geom *g, const float *P, int64_t i, int64_t r0, int64_t c0,
                  float *a)
{
    memcpy(a, c->x + i * c->d, (size_t)c->d * sizeof *a);
    for (int64_t k = 0; k < g->ch; k++)
        for (int64_t u = 0; u < g->side; u++)
            memcpy(a + (k * g->h + r0 + u) * g->w + c0, P + (k * g->side + u) * g->side,
                   (size_t)g->side * sizeof *a);
    foilEvasionClip(c, i, a);
}

static void random_location(foil_rng *r, const patch_geom *g, int64_t *r0, int64_t *c0)
{
    *r0 = (int64_t)foil_rng_below(r, (uint64_t)(g->h - g->side + 1));
    *c0 = (int64_t)foil_rng_below(r, (uint64_t)(g->w - g->side + 1));
}

/* Per channel, the widest bounds of its features (P's own box). */
static void channel_range(const FoilEvasionCtx *c, const patch_geom *g, float *lo, float *hi)
{
    int64_t hw = g->h * g->w;
    for (int64_t k = 0; k < g->ch; k++) {
        lo[k] = INFINITY;
        hi[k] = -INFINITY;
        for (int64_t j = k * hw; j < (k + 1) * hw; j++) {
            lo[k] = fminf(lo[k], c->t->lower[j]);
            hi[k] = fmaxf(hi[k], c->t->upper[j]);
        }
    }
}

typedef struct patch_work {
    float *xs, *grad, *sum, *lo, *hi;
    int64_t *ex, *label, *r0, *c0;
    FoilBuffers mem;       /* owns every array above */
} patch_work;

static foil_status work_alloc(patch_work *w, const FoilEvasionCtx *c, const patch_geom *g, int64_t rows)
{
    size_t r = (size_t)rows, rd = (size_t)(rows * c->d);
    w->xs = foilBuffersTake(&w->mem, rd * sizeof *w->xs);
    w->grad = foilBuffersTake(&w->mem, rd * sizeof *w->grad);
    w->sum = foilBuffersTake(&w->mem, (size_t)(g->ch * g->side * g->side) * sizeof *w->sum);
    w->lo = foilBuffersTake(&w->mem, (size_t)g->ch * sizeof *w->lo);
    w->hi = foilBuffersTake(&w->mem, (size_t)g->ch * sizeof *w->hi);
    w->ex = foilBuffersTake(&w->mem, r * sizeof *w->ex);
    w->label = foilBuffersTake(&w->mem, r * sizeof *w->label);
    w->r0 = foilBuffersTake(&w->mem, r * sizeof *w->r0);
    w->c0 = foilBuffersTake(&w->mem, r * sizeof *w->c0);
    foil_status st = foilBuffersStatus(&w->mem, "patch", rows);
    if (st) return st;
    channel_range(c, g, w->lo, w->hi);
    return FOIL_OK;
}

/* sum = sum over rows of the loss gradient at each row's pasted features. */
static void patch_gradient(const FoilEvasionCtx *c, const patch_geom *g, const patch_work *w, int64_t rows)
{
    int64_t s = g->side;
    memset(w->sum, 0, (size_t)(g->ch * s * s) * sizeof *w->sum);
    for (int64_t r = 0; r < rows; r++) {
        const float *gr = w->grad + r * c->d;
        for (int64_t k = 0; k < g->ch; k++)
            for (int64_t u = 0; u < s; u++)
                for (int64_t v = 0; v < s; v++)
                    w->sum[(k * s + u) * s + v] += gr[(k * g->h + w->r0[r] + u) * g->w + w->c0[r] + v];
    }
}

/* One step of signed ascent on a fresh mini-batch of (example, location). */
static foil_status fit_step(FoilEvasionCtx *f, const patch_config *cfg, const patch_geom *g, patch_work *w,
                            int64_t step, float *P)
{
    int64_t B = cfg->fit_batch, s = g->side;
    foil_rng rng = foilEvasionRunRng(f, 0x9a7c, step);
    for (int64_t r = 0; r < B; r++) {
        w->ex[r] = (int64_t)foil_rng_below(&rng, (uint64_t)f->n);
        random_location(&rng, g, &w->r0[r], &w->c0[r]);
        w->label[r] = cfg->target >= 0 ? cfg->target : f->y[w->ex[r]];
        paste(f, g, P, w->ex[r], w->r0[r], w->c0[r], w->xs + r * f->d);
    }
    FoilLogitLoss L = {cfg->target >= 0 ? FOIL_LOSS_NEG_CE : FOIL_LOSS_CE, w->label, NULL, 0};
    foil_status st = foilEvasionGrad(f, w->xs, w->ex, B, foilLogitLossFn, &L, NULL, NULL, w->grad);
    if (st) return st;
    patch_gradient(f, g, w, B);
    for (int64_t k = 0; k < g->ch; k++)
        for (int64_t e = k * s * s; e < (k + 1) * s * s; e++) {
            float sg = (float)((w->sum[e] > 0) - (w->sum[e] < 0));
            P[e] = fminf(fmaxf(P[e] + cfg->alpha * sg, w->lo[k]), w->hi[k]);
        }
    return FOIL_OK;
}

static foil_status fit_patch(FoilEvasionCtx *c, const patch_config *cfg, const patch_geom *g, float *P)
{
    FoilEvasionCtx f;
    patch_work w = {0};
    foil_status st = foilEvasionFitBegin(c, &f);
    if (st) return st;
    if ((st = work_alloc(&w, c, g, cfg->fit_batch))) {
        foilEvasionFitEnd(c, &f);
        return st;
    }
    foil_rng rng = foilEvasionRunRng(c, 0x9a7b, 0);
    for (int64_t k = 0; k < g->ch; k++)
        for (int64_t e = k * g->side * g->side; e < (k + 1) * g->side * g->side; e++)
            P[e] = w.lo[k] + (w.hi[k] - w.lo[k]) * foil_rng_uniform(&rng);
    for (int64_t step = 0; !st && step < cfg->steps; step++) {
        st = fit_step(&f, cfg, g, &w, step, P);
        if (step % 10 == 0) {
            char status[48];
            snprintf(status, sizeof status, "fit step %lld/%lld", (long long)step, (long long)cfg->steps);
            foil_progress_update(&c->progress, 0, status);
        }
    }
    foilBuffersFree(&w.mem);
    foilEvasionFitEnd(c, &f);
    return st;
}

/* adv_i = x_i with P at its own random location; queried once in batches. */
static foil_status apply_patch(FoilEvasionCtx *c, const patch_config *cfg, const patch_geom *g, const float *P)
{
    int64_t n_active, batch = foilEvasionBatch(c), d = c->d, hits = 0;
    int64_t *active = foilEvasionActive(c, &n_active);
    float *xs = malloc((size_t)(batch * d) * sizeof *xs), *z = malloc((size_t)(batch * c->classes) * sizeof *z);
    foil_status st = active && xs && z ? FOIL_OK : foil_error(FOIL_ERR_NOMEM, "patch: out of memory");
    for (int64_t s = 0; !st && s < n_active; s += batch) {
        int64_t rows = n_active - s < batch ? n_active - s : batch;
        for (int64_t r = 0; r < rows; r++) {
            int64_t i = active[s + r], r0, c0;
            foil_rng rng = foilEvasionRng(c, 0x9a7d, i);
            random_location(&rng, g, &r0, &c0);
            paste(c, g, P, i, r0, c0, c->adv + i * d);
            memcpy(xs + r * d, c->adv + i * d, (size_t)d * sizeof *xs);
        }
        st = foilEvasionLogits(c, xs, active + s, rows, z);
        for (int64_t r = 0; !st && r < rows; r++) hits += foilArgmax(z + r * c->classes, c->classes) == cfg->target;
        foil_progress_update(&c->progress, s + rows, NULL);
    }
    if (!st && cfg->target >= 0)
        foilEvasionWarn(c, "patch: target class %lld reached on %lld of %lld attacked examples",
                         (long long)cfg->target, (long long)hits, (long long)n_active);
    free(active);
    free(xs);
    free(z);
    return st;
}

static foil_status patch_setup(const FoilEvasionCtx *c, double size, double target, double batch, patch_geom *g,
                               patch_config *cfg)
{
    if (c->ndim != 4) return foil_error(FOIL_ERR_UNSUPPORTED, "patch: needs image inputs (N, C, H, W)");
    g->ch = c->shape[1];
    g->h = c->shape[2];
    g->w = c->shape[3];
    int64_t most = g->h < g->w ? g->h : g->w;
    if (size != floor(size) || size < 0 || size > (double)most)
        return foil_error(FOIL_ERR_ARG, "patch: size must be an integer in [1, %lld] (0: from eps)", (long long)most);
    if (size == 0) {
        size = floor(sqrt((double)c->t->eps / (double)g->ch));
        if (size > (double)most) size = (double)most;
    }
    if (size < 1)
        return foil_error(FOIL_ERR_ARG, "patch: eps %g is too small for a 1x1 patch over %lld channels", c->t->eps,
                          (long long)g->ch);
    if (size * size * (double)g->ch > c->t->eps)
        return foil_error(FOIL_ERR_ARG, "patch: a %gx%g patch changes up to %g features, more than eps %g", size,
                          size, size * size * (double)g->ch, c->t->eps);
    if (target != floor(target) || target < -1 || target >= (double)c->classes)
        return foil_error(FOIL_ERR_ARG, "patch: target must be a class in [0, %lld) (or -1: untargeted)",
                          (long long)c->classes);
    if (batch != floor(batch) || batch < 1) return foil_error(FOIL_ERR_ARG, "patch: fit_batch must be >= 1");
    g->side = (int64_t)size;
    float range = 0;
    for (int64_t j = 0; j < c->d; j++) range = fmaxf(range, c->t->upper[j] - c->t->lower[j]);
    cfg->side = g->side;
    cfg->steps = c->t->steps ? c->t->steps : 500;
    cfg->fit_batch = (int64_t)batch;
    cfg->target = (int64_t)target;
    cfg->alpha = c->t->step_size > 0 ? c->t->step_size : 0.02f * range;
    return FOIL_OK;
}

foil_status foilEvasionPatch(FoilEvasionCtx *c)
{
    double size = 0, target = -1, batch = 32;
    FoilParam params[] = {{"size", &size}, {"target", &target}, {"fit_batch", &batch}};
    foil_status st = foilEvasionParams(c, params, 3);
    patch_geom g = {0};
    patch_config cfg = {0};
    if (st || (st = patch_setup(c, size, target, batch, &g, &cfg))) return st;
    float *P = malloc((size_t)(g.ch * g.side * g.side) * sizeof *P);
    if (!P) return foil_error(FOIL_ERR_NOMEM, "patch: out of memory");
    st = fit_patch(c, &cfg, &g, P);
    if (!st) st = apply_patch(c, &cfg, &g, P);
    free(P);
    return st;
}
