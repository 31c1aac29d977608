/*
 * attacks/pgd.c - the gradient-step family: FGSM, BIM and PGD.
 *
 *   FGSM (Goodfellow et al. 2015):  x' = P(x + eps * s(grad_x L(x, y)))
 *   BIM  (Kurakin et al. 2017):     x_{k+1} = P(x_k + alpha * s(grad L(x_k, y))), x_0 = x
 *   PGD  (Madry et al. 2018):       the same from x_0 drawn uniformly from the
 *                                   eps-ball; R restarts, keeping per example
 *                                   the first success, else the highest loss.
 *
 * L is chosen by the parameter loss (all three ascended):
 *   ce      (default) the cross-entropy with the true label (untargeted) or
 *           its negative with the target (targeted)
 *   margin  max_{k!=y} z_k - z_y (targeted: z_t - max_{k!=t} z_k), the C&W
 *           margin with its sign turned for ascent and no cap
 *   dlr     Croce & Hein's DLR (targeted: their targeted DLR), as APGD-DLR
 * Cross-entropy saturates on large logits (softmax rounds to one-hot in
 * float32 and its gradient is exactly 0: a model fed 0-255 pixels, a
 * distilled model); margin and DLR do not (see losses.c). P is
 * foilEvasionProject (ball, bounds, immutable features). The step
 * direction s depends on the norm:
 *   Linf  sign(g)
 *   L2    g / ||g||_2
 *   L1    sparse L1 descent (Tramer & Boneh 2019, "SLIDE"): sign(g) on the
 *         coordinates whose |g| is at or above the q-th quantile (q = 0.99 by
 *         default), zero elsewhere and where the step would leave the
 *         bounds, normalised to unit L1 norm.
 * Early stop per example (default; param early_stop=0 runs every step): an
 * example leaves the batch as soon as the logits that come with its
 * gradient show it fooled; its current iterate is kept. Without early stop
 * the answer is the last iterate (the textbook PGD that PyTorch code runs).
 * The last iterate of each restart costs one more (counted) forward pass.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attacks/attack_internal.h"

typedef struct step_config {
    int64_t steps, restarts;
    float alpha;          /* step size */
    int random_start;
    int early_stop;
    float l1_quantile;
    FoilLossKind loss;  /* ascended */
} step_config;

/* Workspace for one group of examples. */
typedef struct pgd_work {
    int64_t rows;         /* examples in the group */
    int64_t *example;     /* rows: example index */
    float *cur;           /* rows x D: current iterate */
    float *best_loss;     /* rows */
    uint8_t *done;        /* rows: fooled */
    float *w, *g, *z;     /* live-row buffers: iterates, gradients, logits */
    int64_t *owner, *label, *target, *live; /* label: true class; target: c->target */
    float *loss, *scratch;
    FoilBuffers mem;       /* owns every array above */
} pgd_work;

static foil_status work_alloc(pgd_work *w, int64_t rows, int64_t d, int64_t classes)
{
    memset(w, 0, sizeof *w);
    size_t r = (size_t)rows, rd = (size_t)(rows * d);
    w->example = foilBuffersTake(&w->mem, r * sizeof *w->example);
    w->cur = foilBuffersTake(&w->mem, rd * sizeof *w->cur);
    w->best_loss = foilBuffersTake(&w->mem, r * sizeof *w->best_loss);
    w->done = foilBuffersTake(&w->mem, r);
    w->w = foilBuffersTake(&w->mem, rd * sizeof *w->w);
    w->g = foilBuffersTake(&w->mem, rd * sizeof *w->g);
    w->z = foilBuffersTake(&w->mem, r * (size_t)classes * sizeof *w->z);
    w->owner = foilBuffersTake(&w->mem, r * sizeof *w->owner);
    w->label = foilBuffersTake(&w->mem, r * sizeof *w->label);
    w->target = foilBuffersTake(&w->mem, r * sizeof *w->target);
    w->live = foilBuffersTake(&w->mem, r * sizeof *w->live);
    w->loss = foilBuffersTake(&w->mem, r * sizeof *w->loss);
    w->scratch = foilBuffersTake(&w->mem, (size_t)d * 2 * sizeof *w->scratch);
    return foilBuffersStatus(&w->mem, "pgd", rows);
}

/* ---- random starts ---- */

/* Uniform in the eps-ball: Linf per coordinate; L2 a Gaussian direction with
 * radius eps * U^(1/D); L1 exponentials with random signs over the sum of
 * D+1 exponentials (uniform in the L1 ball). */
static void random_start(const FoilEvasionCtx *c, int64_t i, uint64_t restart, float *a)
{
    const float *x = c->x + i * c->d;
    float eps = c->t->eps;
    int64_t d = c->d;
    foil_rng r = foilEvasionRng(c, 0x5747 + restart, i);
    switch (c->t->norm) {
    case FOIL_NORM_L2: {
        double s = 0;
        for (int64_t j = 0; j < d; j++) {
            a[j] = (float)foil_rng_normal(&r);
            s += (double)a[j] * a[j];
        }
        double radius = eps * pow(foil_rng_uniform_d(&r), 1.0 / (double)d);
        float f = s > 0 ? (float)(radius / sqrt(s)) : 0;
        for (int64_t j = 0; j < d; j++) a[j] = x[j] + a[j] * f;
        break;
    }
    case FOIL_NORM_L1: {
        double s = 0;
        for (int64_t j = 0; j <= d; j++) {
            double e = -log(1.0 - foil_rng_uniform_d(&r));
            s += e;
            if (j < d) a[j] = (float)e * (foil_rng_u64(&r) & 1 ? 1.0f : -1.0f);
        }
        for (int64_t j = 0; j < d; j++) a[j] = x[j] + (float)(eps / s) * a[j];
        break;
    }
    default:
        for (int64_t j = 0; j < d; j++) a[j] = x[j] + eps * (2 * foil_rng_uniform(&r) - 1);
        break;
    }
    foilEvasionProject(c, i, a);
}

/* ---- step directions ---- */

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* SLIDE's direction: sign(g) on the top (1 - q) fraction of |g| among the
 * coordinates that can still move that way, normalised to unit L1 norm. */
static void sparse_l1_direction(const FoilEvasionCtx *c, const float *a, float *g, float q, float *scratch)
{
    int64_t d = c->d, n = 0;
    for (int64_t j = 0; j < d; j++) {
        int blocked = (g[j] > 0 && a[j] >= c->t->upper[j]) || (g[j] < 0 && a[j] <= c->t->lower[j]) ||
                      (c->t->immutable && c->t->immutable[j]);
        if (blocked) g[j] = 0;
        scratch[n++] = fabsf(g[j]);
    }
    qsort(scratch, (size_t)n, sizeof *scratch, cmp_float);
    int64_t k = (int64_t)floor((double)q * (double)(n - 1));
    float threshold = scratch[k];
    int64_t count = 0;
    for (int64_t j = 0; j < d; j++) {
        int take = g[j] != 0 && fabsf(g[j]) >= threshold;
        g[j] = take ? (g[j] > 0 ? 1.0f : -1.0f) : 0.0f;
        count += take;
    }
    if (count)
        for (int64_t j = 0; j < d; j++) g[j] /= (float)count;
}

/* a <- P(a + alpha * s(g)) for example i; g is overwritten. */
static void take_step(const FoilEvasionCtx *c, int64_t i, float *a, float *g, float alpha, float q, float *scratch)
{
    int64_t d = c->d;
    switch (c->t->norm) {
    case FOIL_NORM_L2: {
        double s = 0;
        for (int64_t j = 0; j < d; j++) s += (double)g[j] * g[j];
        float f = s > 0 ? (float)(alpha / sqrt(s)) : 0;
        for (int64_t j = 0; j < d; j++) a[j] += f * g[j];
        break;
    }
    case FOIL_NORM_L1:
        sparse_l1_direction(c, a, g, q, scratch);
        for (int64_t j = 0; j < d; j++) a[j] += alpha * g[j];
        break;
    default:
        for (int64_t j = 0; j < d; j++) a[j] += alpha * (float)((g[j] > 0) - (g[j] < 0));
        break;
    }
    foilEvasionProject(c, i, a);
}

/* ---- the driver ---- */

/* The objective on the live rows: -CE takes the target as its label, the
 * others the true label (and the target as `other` when targeted). */
static FoilLogitLoss live_loss(const step_config *cfg, const pgd_work *w)
{
    FoilLogitLoss L = {cfg->loss, cfg->loss == FOIL_LOSS_NEG_CE ? w->target : w->label, w->target, 0};
    return L;
}

/* Gather the live rows (not done) into w->w / owner / label. */
static int64_t gather_live(const FoilEvasionCtx *c, pgd_work *w)
{
    int64_t k = 0;
    for (int64_t r = 0; r < w->rows; r++) {
        if (w->done[r]) continue;
        int64_t i = w->example[r];
        memcpy(w->w + k * c->d, w->cur + r * c->d, (size_t)c->d * sizeof(float));
        w->owner[k] = i;
        w->label[k] = c->y[i];
        w->target[k] = c->target[i];
        w->live[k++] = r;
    }
    return k;
}

/* Record the outcome of the restart for the rows just evaluated (logits in
 * w->z, iterates in w->w): success ends the example, otherwise the iterate
 * replaces the stored answer when its loss is the highest so far. */
static foil_status record(FoilEvasionCtx *c, pgd_work *w, int64_t k, FoilLogitLoss *L)
{
    foil_status st = foilLogitLossFn(L, 0, k, c->classes, w->z, w->loss, NULL);
    if (st) return st;
    for (int64_t s = 0; s < k; s++) {
        int64_t r = w->live[s], i = w->example[r];
        float loss = w->loss[s];
        int fooled = foilEvasionFooled(c, i, w->z + s * c->classes);
        if (fooled || loss > w->best_loss[r]) {
            memcpy(c->adv + i * c->d, w->w + s * c->d, (size_t)c->d * sizeof(float));
            w->best_loss[r] = loss;
        }
        if (fooled) w->done[r] = 1;
    }
    return FOIL_OK;
}

static foil_status run_restart(FoilEvasionCtx *c, pgd_work *w, const step_config *cfg, uint64_t restart)
{
    int64_t d = c->d;
    for (int64_t r = 0; r < w->rows; r++) {
        if (w->done[r]) continue;
        int64_t i = w->example[r];
        if (cfg->random_start) random_start(c, i, restart, w->cur + r * d);
        else memcpy(w->cur + r * d, c->x + i * d, (size_t)d * sizeof(float));
    }
    FoilLogitLoss L = live_loss(cfg, w);
    foil_status st = FOIL_OK;
    for (int64_t step = 0; step < cfg->steps; step++) {
        int64_t k = gather_live(c, w);
        if (!k) return FOIL_OK;
        if ((st = foilEvasionGrad(c, w->w, w->owner, k, foilLogitLossFn, &L, NULL, w->z, w->g))) return st;
        for (int64_t s = 0; s < k; s++) {
            int64_t r = w->live[s], i = w->example[r];
            if (cfg->early_stop && foilEvasionFooled(c, i, w->z + s * c->classes)) {
                memcpy(c->adv + i * d, w->w + s * d, (size_t)d * sizeof(float));
                w->done[r] = 1;
                continue;
            }
            take_step(c, i, w->cur + r * d, w->g + s * d, cfg->alpha, cfg->l1_quantile, w->scratch);
        }
        int64_t finished = 0;
        for (int64_t r = 0; r < w->rows; r++) finished += w->done[r];
        foilEvasionGroupProgress(c, finished);
    }
    int64_t k = gather_live(c, w);
    if ((st = foilEvasionLogits(c, w->w, w->owner, k, w->z))) return st;
    return record(c, w, k, &L);
}

static foil_status run_group(FoilEvasionCtx *c, void *arg, const int64_t *examples, int64_t rows)
{
    const step_config *cfg = arg;
    pgd_work w;
    foil_status st = work_alloc(&w, rows, c->d, c->classes);
    if (st) return st;
    w.rows = rows;
    memcpy(w.example, examples, (size_t)rows * sizeof *examples);
    for (int64_t r = 0; r < rows; r++) w.best_loss[r] = -INFINITY;
    for (int64_t restart = 0; !st && restart < cfg->restarts; restart++)
        st = run_restart(c, &w, cfg, (uint64_t)restart);
    foilBuffersFree(&w.mem);
    return st;
}

/* ---- parameters and entry points ---- */

static const char *const loss_names[] = {"ce", "margin", "dlr", NULL};

/* The loss kind for the parameter loss=<loss_names[choice]> and the
 * threat's goal; DLR needs a third (targeted: fourth) largest logit. */
static foil_status choose_loss(const FoilEvasionCtx *c, int choice, FoilLossKind *kind)
{
    static const FoilLossKind untargeted[] = {FOIL_LOSS_CE, FOIL_LOSS_NEG_MARGIN, FOIL_LOSS_DLR};
    static const FoilLossKind targeted[] = {FOIL_LOSS_NEG_CE, FOIL_LOSS_NEG_MARGIN_T, FOIL_LOSS_DLR_T};
    *kind = c->targeted ? targeted[choice] : untargeted[choice];
    int64_t need = *kind == FOIL_LOSS_DLR ? 3 : *kind == FOIL_LOSS_DLR_T ? 4 : 2;
    if (c->classes < need)
        return foil_error(FOIL_ERR_ARG, "%s: loss=%s needs at least %lld classes here; the model has %lld",
                          c->info->name, loss_names[choice], (long long)need, (long long)c->classes);
    return FOIL_OK;
}

foil_status foilEvasionFgsm(FoilEvasionCtx *c)
{
    step_config cfg = {.steps = 1, .restarts = 1, .alpha = c->t->eps, .l1_quantile = 0.99f};
    int loss = 0;
    FoilWordParam words[] = {{"loss", loss_names, &loss}};
    foil_status st = foilEvasionParamsWords(c, NULL, 0, words, 1);
    if (!st) st = choose_loss(c, loss, &cfg.loss);
    return st ? st : foilEvasionEachGroup(c, run_group, &cfg);
}

/* BIM and PGD share defaults: 10 steps of 2.5 eps / steps (Madry et al.). */
static foil_status iterative(FoilEvasionCtx *c, int random_start_default)
{
    double random_start = random_start_default, quantile = 0.99, early_stop = 1;
    int loss = 0;
    FoilParam params[] = {{"l1_sparsity", &quantile}, {"early_stop", &early_stop}, {"random_start", &random_start}};
    FoilWordParam words[] = {{"loss", loss_names, &loss}};
    foil_status st = foilEvasionParamsWords(c, params, random_start_default ? 3 : 2, words, 1);
    step_config cfg;
    if (!st) st = choose_loss(c, loss, &cfg.loss);
    if (st) return st;
    if (!(quantile >= 0 && quantile < 1))
        return foil_error(FOIL_ERR_ARG, "%s: l1_sparsity must be in [0, 1)", c->info->name);
    cfg.steps = c->t->steps ? c->t->steps : 10;
    cfg.restarts = c->t->restarts ? c->t->restarts : 1;
    cfg.alpha = c->t->step_size > 0 ? c->t->step_size : 2.5f * c->t->eps / (float)cfg.steps;
    cfg.random_start = random_start != 0;
    cfg.early_stop = early_stop != 0;
    cfg.l1_quantile = (float)quantile;
    return foilEvasionEachGroup(c, run_group, &cfg);
}

foil_status foilEvasionBim(FoilEvasionCtx *c)
{
    /* BIM has no random start, so restarts would repeat themselves. */
    if (c->t->restarts > 1) return foil_error(FOIL_ERR_ARG, "bim is deterministic; use pgd for restarts");
    return iterative(c, 0);
}

foil_status foilEvasionPgd(FoilEvasionCtx *c) { return iterative(c, 1); }
