/*
 * attacks/apgd.c - Auto-PGD (Croce & Hein 2020, "Reliable evaluation of
 * adversarial robustness with an ensemble of diverse parameter-free
 * attacks", Algorithm 1), Linf and L2, on three objectives:
 *   apgd-ce   cross-entropy CE(z, y), ascended (targeted threat: -CE(z, t))
 *   apgd-dlr  DLR(z, y) = -(z_y - max_{k!=y} z_k) / (z_pi1 - z_pi3)
 *   apgd-t    targeted DLR(z, y, t) = -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2),
 *             run for t = the 2nd, 3rd, ..., (n_target_classes + 1)-th most
 *             likely class of the clean logits in turn, each on the examples
 *             not fooled yet; the goal stays untargeted (argmax != y).
 * Ported from the authors' code, fra31/auto-attack, autoattack/autopgd_base.py
 * (attack_single_run, perturb, APGDAttack_targeted.perturb).
 *
 * One run of N_iter steps from x^(0), eta = 2 eps, P = projection onto the
 * eps-ball and the bounds (foilEvasionProject), s(g) = sign(g) (Linf) or
 * g / (||g||_2 + 1e-12) (L2):
 *   x^(0)   = P(x + eps * u / ||u||), u uniform in [-1, 1]^D (Linf, max-norm) or
 *             standard normal (L2): a random point on the sphere of radius eps
 *   z^(k+1) = P(x^(k) + eta^(k) s(grad f(x^(k))))
 *   x^(k+1) = P(x^(k) + a (z^(k+1) - x^(k)) + (1 - a)(x^(k) - x^(k-1))),
 *             a = 1 for k = 0 (no momentum), a = 0.75 after
 *   x_max, f_max: the point with the highest loss so far and its loss (its
 *             gradient is kept too: a restart from x_max needs no new one).
 * Checkpoints: interval lengths h_0 = max(floor(0.22 N), 1), then
 * h_{j+1} = max(h_j - max(floor(0.03 N), 1), max(floor(0.06 N), 1)) (the
 * paper's w_j = ceil(p_j N) with p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03,
 * 0.06), computed as the reference computes it). At a checkpoint, per
 * example, the step size is halved and the iterate restarts from x_max
 * (x^(k) = x_max, gradient = grad f(x_max)) when
 *   condition 1: #{k in the interval : f(x^(k+1)) > f(x^(k))} <= rho h_j
 *                (rho = 0.75; the paper writes <, the reference <=), or
 *   condition 2: the step size was not halved at the previous checkpoint
 *                and f_max did not increase since then (never at the
 *                first checkpoint, as in the reference).
 * The first comparison of condition 1 is f(x^(1)) > f(x^(0)) as in the
 * paper; the reference compares its first loss with an unfilled (zero)
 * entry of its loss history there.
 *
 * What foil changes, none of which changes whether an example is fooled:
 * an example leaves the batch at its first iterate that fools the model
 * (the reference keeps stepping it, but every quantity of an example's
 * run depends only on that example, and once fooled its outcome is
 * fixed), and that first fooling iterate is its answer (the reference
 * returns the last one). Immutable features get a zero gradient (so the
 * L2 step length is spent on features that can move) and are reset by P.
 * Examples not fooled keep adv = x, as the reference returns.
 *
 * AutoAttack's check_zero_gradients (the reference warns when a DLR run's
 * gradient at the start is exactly zero) is the runner's, for every
 * gradient attack: foilEvasionGrad flags an example whose first gradient
 * is flat, and the result warns (runner.c).
 *
 * Not implemented: the L1 version (the reference's L1 APGD with adaptive
 * sparsity and its L1-box projection), EOT iterations (deterministic
 * models only) and use_largereps.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attacks/attack_internal.h"

typedef struct apgd_config {
    int64_t steps, restarts;
    int64_t n_targets;      /* apgd-t: top-k target classes; 0 = the run's own targets */
    FoilLossKind loss;
    float rho;
} apgd_config;

/* State of one group of examples (rows); per-row arrays are indexed by
 * the row r within the group, live buffers by the position s among the
 * rows still being attacked. */
typedef struct apgd_group {
    int64_t rows;
    int64_t *example;       /* rows: example index */
    int64_t *label, *other; /* rows: loss label (y, or t for -CE) and DLR_T target */
    uint8_t *done;          /* rows: fooled */
    float *xadv, *xold;     /* rows x D: x^(k), x^(k-1) */
    float *xbest, *grad, *gbest;
    float *step, *loss_best, *loss_prev, *loss_best_check;
    int64_t *increases;     /* rows: loss increases in the current interval */
    uint8_t *reduced;       /* rows: step size halved at the last checkpoint */
    float *w, *g, *z, *val; /* live buffers: iterates, gradients, logits, losses */
    int64_t *owner, *lab, *oth, *live;
    float *scratch;         /* D */
    FoilBuffers mem;       /* owns every array above */
} apgd_group;

static foil_status group_alloc(apgd_group *g, int64_t rows, int64_t d, int64_t classes)
{
    memset(g, 0, sizeof *g);
    size_t r = (size_t)rows, rd = (size_t)(rows * d), fs = sizeof(float), is = sizeof(int64_t);
    g->rows = rows;
    g->example = foilBuffersTake(&g->mem, r * is);
    g->label = foilBuffersTake(&g->mem, r * is);
    g->other = foilBuffersTake(&g->mem, r * is);
    g->done = foilBuffersTake(&g->mem, r);
    g->xadv = foilBuffersTake(&g->mem, rd * fs);
    g->xold = foilBuffersTake(&g->mem, rd * fs);
    g->xbest = foilBuffersTake(&g->mem, rd * fs);
    g->grad = foilBuffersTake(&g->mem, rd * fs);
    g->gbest = foilBuffersTake(&g->mem, rd * fs);
    g->step = foilBuffersTake(&g->mem, r * fs);
    g->loss_best = foilBuffersTake(&g->mem, r * fs);
    g->loss_prev = foilBuffersTake(&g->mem, r * fs);
    g->loss_best_check = foilBuffersTake(&g->mem, r * fs);
    g->increases = foilBuffersTake(&g->mem, r * is);
    g->reduced = foilBuffersTake(&g->mem, r);
    g->w = foilBuffersTake(&g->mem, rd * fs);
    g->g = foilBuffersTake(&g->mem, rd * fs);
    g->z = foilBuffersTake(&g->mem, r * (size_t)classes * fs);
    g->val = foilBuffersTake(&g->mem, r * fs);
    g->owner = foilBuffersTake(&g->mem, r * is);
    g->lab = foilBuffersTake(&g->mem, r * is);
    g->oth = foilBuffersTake(&g->mem, r * is);
    g->live = foilBuffersTake(&g->mem, r * is);
    g->scratch = foilBuffersTake(&g->mem, (size_t)d * fs);
    return foilBuffersStatus(&g->mem, "apgd", rows);
}

/* ---- one step ---- */

/* The random start: x + eps * u / ||u||, a point on the eps-sphere. */
static void random_start(const FoilEvasionCtx *c, int64_t i, uint64_t stream, float *a)
{
    const float *x = c->x + i * c->d;
    int64_t d = c->d;
    foil_rng r = foilEvasionRng(c, stream, i);
    double n = 0;
    if (c->t->norm == FOIL_NORM_L2) {
        for (int64_t j = 0; j < d; j++) {
            a[j] = (float)foil_rng_normal(&r);
            n += (double)a[j] * a[j];
        }
        n = sqrt(n);
    } else {
        for (int64_t j = 0; j < d; j++) {
            a[j] = 2 * foil_rng_uniform(&r) - 1;
            n = fmax(n, fabsf(a[j]));
        }
    }
    float f = (float)(c->t->eps / (n + 1e-12));
    for (int64_t j = 0; j < d; j++) a[j] = x[j] + f * a[j];
    foilEvasionProject(c, i, a);
}

/* z = P(x + eta s(g)) into scratch, then the momentum step
 * x <- P(x + a (z - x) + (1 - a)(x - x_old)), x_old <- the old x. */
static void take_step(const FoilEvasionCtx *c, int64_t i, float *x, float *x_old, const float *grad, float eta,
                      float a, float *z)
{
    int64_t d = c->d;
    if (c->t->norm == FOIL_NORM_L2) {
        double n = 0;
        for (int64_t j = 0; j < d; j++) n += (double)grad[j] * grad[j];
        float f = (float)(eta / (sqrt(n) + 1e-12));
        for (int64_t j = 0; j < d; j++) z[j] = x[j] + f * grad[j];
    } else {
        for (int64_t j = 0; j < d; j++) z[j] = x[j] + eta * (float)((grad[j] > 0) - (grad[j] < 0));
    }
    foilEvasionProject(c, i, z);
    for (int64_t j = 0; j < d; j++) {
        float next = x[j] + a * (z[j] - x[j]) + (1 - a) * (x[j] - x_old[j]);
        x_old[j] = x[j];
        x[j] = next;
    }
    foilEvasionProject(c, i, x);
}

/* ---- evaluating the live rows ---- */

static int64_t gather_live(const FoilEvasionCtx *c, apgd_group *g)
{
    int64_t k = 0;
    for (int64_t r = 0; r < g->rows; r++) {
        if (g->done[r]) continue;
        memcpy(g->w + k * c->d, g->xadv + r * c->d, (size_t)c->d * sizeof(float));
        g->owner[k] = g->example[r];
        g->lab[k] = g->label[r];
        g->oth[k] = g->other[r];
        g->live[k++] = r;
    }
    return k;
}

/* Loss, logits and gradient at the live rows' iterates. A row that fools
 * the model there is done: its iterate is the answer. The others get their
 * gradient (immutable features zeroed) in g->grad; returns how many. */
static foil_status evaluate(FoilEvasionCtx *c, apgd_group *g, const apgd_config *cfg, int64_t *k_out)
{
    int64_t d = c->d, k = gather_live(c, g);
    *k_out = 0;
    if (!k) return FOIL_OK;
    FoilLogitLoss L = {cfg->loss, g->lab, g->oth, 0};
    foil_status st = foilEvasionGrad(c, g->w, g->owner, k, foilLogitLossFn, &L, g->val, g->z, g->g);
    if (st) return st;
    int64_t kept = 0;
    for (int64_t s = 0; s < k; s++) {
        int64_t r = g->live[s], i = g->example[r];
        if (foilEvasionFooled(c, i, g->z + s * c->classes)) {
            memcpy(c->adv + i * d, g->xadv + r * d, (size_t)d * sizeof(float));
            g->done[r] = 1;
            continue;
        }
        float *gr = g->grad + r * d;
        memcpy(gr, g->g + s * d, (size_t)d * sizeof(float));
        if (c->t->immutable)
            for (int64_t j = 0; j < d; j++)
                if (c->t->immutable[j]) gr[j] = 0;
        g->live[kept] = r;
        g->val[kept++] = g->val[s];
    }
    *k_out = kept;
    return FOIL_OK;
}

/* The checkpoint test for row r over an interval of h steps. */
static void checkpoint(const FoilEvasionCtx *c, apgd_group *g, int64_t r, int64_t h, float rho)
{
    int64_t d = c->d;
    int oscillating = (double)g->increases[r] <= (double)h * rho;
    int stalled = !g->reduced[r] && g->loss_best_check[r] >= g->loss_best[r];
    int halve = oscillating || stalled;
    g->reduced[r] = (uint8_t)halve;
    g->loss_best_check[r] = g->loss_best[r];
    g->increases[r] = 0;
    if (!halve) return;
    g->step[r] /= 2;
    memcpy(g->xadv + r * d, g->xbest + r * d, (size_t)d * sizeof(float));
    memcpy(g->grad + r * d, g->gbest + r * d, (size_t)d * sizeof(float));
}

static int64_t count_done(const apgd_group *g)
{
    int64_t n = 0;
    for (int64_t r = 0; r < g->rows; r++) n += g->done[r];
    return n;
}

/* ---- one run of Algorithm 1 on the rows not done ---- */

static foil_status single_run(FoilEvasionCtx *c, apgd_group *g, const apgd_config *cfg, uint64_t stream)
{
    int64_t d = c->d, n = cfg->steps, k;
    for (int64_t r = 0; r < g->rows; r++)
        if (!g->done[r]) random_start(c, g->example[r], stream, g->xadv + r * d);
    foil_status st = evaluate(c, g, cfg, &k);
    if (st) return st;
    float eta0 = 2 * c->t->eps;
    for (int64_t s = 0; s < k; s++) {
        int64_t r = g->live[s];
        float *gr = g->grad + r * d;
        memcpy(g->xold + r * d, g->xadv + r * d, (size_t)d * sizeof(float));
        memcpy(g->xbest + r * d, g->xadv + r * d, (size_t)d * sizeof(float));
        memcpy(g->gbest + r * d, gr, (size_t)d * sizeof(float));
        g->step[r] = eta0;
        g->loss_best[r] = g->loss_prev[r] = g->loss_best_check[r] = g->val[s];
        g->increases[r] = 0;
        g->reduced[r] = 1;
    }
    int64_t h = (int64_t)(0.22 * (double)n), h_min = (int64_t)(0.06 * (double)n), decr = (int64_t)(0.03 * (double)n);
    if (h < 1) h = 1;
    if (h_min < 1) h_min = 1;
    if (decr < 1) decr = 1;
    int64_t since_check = 0;
    for (int64_t it = 0; it < n && k > 0; it++) {
        float a = it > 0 ? 0.75f : 1.0f;
        for (int64_t s = 0; s < k; s++) {
            int64_t r = g->live[s];
            take_step(c, g->example[r], g->xadv + r * d, g->xold + r * d, g->grad + r * d, g->step[r], a,
                      g->scratch);
        }
        if ((st = evaluate(c, g, cfg, &k))) return st;
        for (int64_t s = 0; s < k; s++) {
            int64_t r = g->live[s];
            float v = g->val[s];
            g->increases[r] += v > g->loss_prev[r];
            g->loss_prev[r] = v;
            if (v > g->loss_best[r]) {
                g->loss_best[r] = v;
                memcpy(g->xbest + r * d, g->xadv + r * d, (size_t)d * sizeof(float));
                memcpy(g->gbest + r * d, g->grad + r * d, (size_t)d * sizeof(float));
            }
        }
        if (++since_check == h) {
            for (int64_t s = 0; s < k; s++) checkpoint(c, g, g->live[s], h, cfg->rho);
            h = h - decr > h_min ? h - decr : h_min;
            since_check = 0;
        }
        foilEvasionGroupProgress(c, count_done(g));
    }
    return FOIL_OK;
}

/* ---- targets and groups ---- */

/* apgd-t: the clean logits of the group (one counted query per example)
 * ranked per row into rank (rows x classes). */
static foil_status rank_group(FoilEvasionCtx *c, apgd_group *g, int64_t *rank)
{
    for (int64_t r = 0; r < g->rows; r++) {
        memcpy(g->w + r * c->d, c->x + g->example[r] * c->d, (size_t)c->d * sizeof(float));
        g->owner[r] = g->example[r];
    }
    foil_status st = foilEvasionLogits(c, g->w, g->owner, g->rows, g->z);
    const int64_t C = c->classes;
    for (int64_t r = 0; !st && r < g->rows; r++) foilTopClasses(g->z + r * C, C, -1, C, rank + r * C);
    return st;
}

/* A stream per (attack objective, target rank, restart). */
static uint64_t stream_of(const apgd_config *cfg, int64_t target_rank, int64_t restart)
{
    return 0xA96D0000ull + ((uint64_t)cfg->loss << 24) + ((uint64_t)target_rank << 12) + (uint64_t)restart;
}

static foil_status run_group(FoilEvasionCtx *c, void *arg, const int64_t *examples, int64_t rows)
{
    const apgd_config *cfg = arg;
    apgd_group g;
    foil_status st = group_alloc(&g, rows, c->d, c->classes);
    if (st) return st;
    int64_t *rank = NULL;
    for (int64_t r = 0; r < rows; r++) {
        int64_t i = examples[r];
        g.example[r] = i;
        g.label[r] = cfg->loss == FOIL_LOSS_NEG_CE ? c->target[i] : c->y[i];
        g.other[r] = c->target[i];
    }
    int64_t n_targets = cfg->n_targets ? cfg->n_targets : 1;
    if (cfg->n_targets) {
        rank = malloc((size_t)(rows * c->classes) * sizeof *rank);
        if (!rank) st = foil_error(FOIL_ERR_NOMEM, "out of memory for APGD-T target ranks");
        if (!st) st = rank_group(c, &g, rank);
    }
    for (int64_t t = 0; !st && t < n_targets; t++) {
        if (rank)
            for (int64_t r = 0; r < rows; r++) g.other[r] = rank[r * c->classes + t + 1];
        for (int64_t restart = 0; !st && restart < cfg->restarts; restart++)
            st = single_run(c, &g, cfg, stream_of(cfg, t, restart));
    }
    free(rank);
    foilBuffersFree(&g.mem);
    return st;
}

/* ---- configuration and entry points ---- */

static foil_status configure(FoilEvasionCtx *c, apgd_config *cfg, FoilLossKind loss, int targets)
{
    const char *name = c->info->name;
    double rho = 0.75, n_targets = 9;
    FoilParam params[] = {{"rho", &rho}, {"n_target_classes", &n_targets}};
    foil_status st = foilEvasionParams(c, params, targets ? 2 : 1);
    if (st) return st;
    if (!(rho > 0 && rho <= 1)) return foil_error(FOIL_ERR_ARG, "%s: rho must be in (0, 1]", name);
    if (c->t->step_size > 0)
        return foil_error(FOIL_ERR_ARG, "%s sets its own step size (2 eps, halved at checkpoints); drop --step-size",
                          name);
    int64_t need = loss == FOIL_LOSS_DLR ? 3 : loss == FOIL_LOSS_DLR_T ? 4 : 2;
    if (c->classes < need)
        return foil_error(FOIL_ERR_ARG, "%s needs at least %lld classes (its loss uses the %s-largest logit); the model "
                          "has %lld", name, (long long)need, need == 3 ? "third" : "fourth", (long long)c->classes);
    memset(cfg, 0, sizeof *cfg);
    cfg->loss = loss;
    cfg->rho = (float)rho;
    cfg->steps = c->t->steps ? c->t->steps : 100;
    cfg->restarts = c->t->restarts ? c->t->restarts : 1;
    if (targets && !c->targeted) {
        if (!(n_targets >= 1 && n_targets == floor(n_targets)))
            return foil_error(FOIL_ERR_ARG, "%s: n_target_classes must be a positive integer", name);
        cfg->n_targets = (int64_t)n_targets;
        if (cfg->n_targets > c->classes - 1) {
            foilEvasionWarn(c, "%s: %lld target classes asked, the model has only %lld other classes; using %lld",
                             name, (long long)cfg->n_targets, (long long)(c->classes - 1),
                             (long long)(c->classes - 1));
            cfg->n_targets = c->classes - 1;
        }
    }
    return FOIL_OK;
}

foil_status foilEvasionApgdCe(FoilEvasionCtx *c)
{
    apgd_config cfg;
    foil_status st = configure(c, &cfg, c->targeted ? FOIL_LOSS_NEG_CE : FOIL_LOSS_CE, 0);
    return st ? st : foilEvasionEachGroup(c, run_group, &cfg);
}

foil_status foilEvasionApgdDlr(FoilEvasionCtx *c)
{
    apgd_config cfg;
    foil_status st = configure(c, &cfg, FOIL_LOSS_DLR, 0);
    return st ? st : foilEvasionEachGroup(c, run_group, &cfg);
}

/* Untargeted threat: the top-k targets in turn; targeted threat: the
 * given target only (n_targets = 0, other = c->target). */
foil_status foilEvasionApgdT(FoilEvasionCtx *c)
{
    apgd_config cfg;
    foil_status st = configure(c, &cfg, FOIL_LOSS_DLR_T, 1);
    return st ? st : foilEvasionEachGroup(c, run_group, &cfg);
}
