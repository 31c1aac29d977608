/*
 * attacks/cw.c - the Carlini & Wagner L2 attack (Carlini & Wagner 2017,
 * "Towards Evaluating the Robustness of Neural Networks", sec. V-A; the
 * authors' code: carlini/nn_robust_attacks, l2_attack.py).
 *
 * Change of variables, per feature j with bounds [lo_j, hi_j]:
 *   x'_j(w) = mid_j + half_j * tanh(w_j),  mid = (lo + hi) / 2, half = (hi - lo) / 2
 * (the paper's lo + (hi - lo) (tanh(w) + 1) / 2), so every w is inside the
 * box. Features with lo == hi, and immutable ones, are fixed at x_j.
 * Minimised per example, for a constant c:
 *   F(w) = ||x'(w) - x||_2^2 + c * (f6(x'(w)) + kappa)
 *   f6 = max(z_y - max_{k!=y} z_k, -kappa)       (untargeted, FOIL_LOSS_MARGIN)
 *   f6 = max(max_{k!=t} z_k - z_t, -kappa)       (targeted, FOIL_LOSS_MARGIN_T)
 * (+ kappa makes the loss the reference's max(0, ... + kappa); it does not
 * change the gradient.) The gradient, by the chain rule:
 *   dF/dx'_j = 2 (x'_j - x_j) + c * df6/dx'_j   (the second term from foilEvasionGrad)
 *   dF/dw_j  = dF/dx'_j * half_j * (1 - tanh(w_j)^2).
 * Each binary-search step starts from w_0 = atanh(0.999999 (x - mid) / half)
 * (the factor keeps atanh finite at the bounds, as the reference does) with
 * a fresh Adam (lr 0.01, beta 0.9 / 0.999, eps 1e-8, TensorFlow's bias-
 * corrected step) and runs `steps` iterations. The 0.999999 factor moves
 * x'(w_0) off x by up to 1e-6 (hi - lo); such differences are snapped back
 * to x_j (a straight-through step for the gradient), so unchanged features
 * really are unchanged in the answer.
 *
 * As the reference does: every iterate that meets the goal with the margin
 * kappa (untargeted: argmax(z + kappa e_y) != y; targeted: argmax(z -
 * kappa e_t) == t) and has the smallest L2 so far becomes the answer;
 * after each binary-search step c is halved towards the last failure if
 * this step succeeded, else raised (x10 while no success is known,
 * otherwise bisected); with >= 10 binary steps the last one uses the upper
 * bound. Abort early: every steps/10 iterations the objective must have
 * fallen below 0.9999 of its value at the previous check. The reference
 * checks the sum over its batch; foil checks each example's own objective,
 * so an answer does not depend on which examples share its batch.
 *
 * Defaults: 9 binary-search steps, initial c 1e-3, lr 0.01, kappa 0, abort
 * early as the reference; 1000 iterations per binary step (the paper's and
 * cleverhans's setting; the reference's 10,000 buys little with abort
 * early on). --steps sets iterations per binary step, --step-size the
 * learning rate.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attacks/attack_internal.h"

#define CW_SCALE 0.999999f
#define CW_NO_BOUND 1e10

typedef struct cw_config {
    int64_t search_steps, steps;
    float lr, kappa, c0;
    int abort_early;
} cw_config;

/* ---- the objective ---- */

static int cw_free_feature(const FoilEvasionCtx *c, int64_t j)
{
    return c->t->upper[j] > c->t->lower[j] && !(c->t->immutable && c->t->immutable[j]);
}

/* x'(w) for one example: fixed features at x; others snapped to x when the
 * difference is the 0.999999 scaling's. */
static void cw_xprime(const FoilEvasionCtx *c, const float *x, const float *w, float *xp)
{
    const float *lo = c->t->lower, *hi = c->t->upper;
    for (int64_t j = 0; j < c->d; j++) {
        if (!cw_free_feature(c, j)) {
            xp[j] = x[j];
            continue;
        }
        float v = 0.5f * (lo[j] + hi[j]) + 0.5f * (hi[j] - lo[j]) * tanhf(w[j]);
        v = fminf(fmaxf(v, lo[j]), hi[j]);
        xp[j] = fabsf(v - x[j]) <= 1e-6f * (hi[j] - lo[j]) ? x[j] : v;
    }
}

/* w_0 = atanh(0.999999 (x - mid) / half), 0 for fixed features. */
static void cw_w0(const FoilEvasionCtx *c, const float *x, float *w)
{
    const float *lo = c->t->lower, *hi = c->t->upper;
    for (int64_t j = 0; j < c->d; j++) {
        if (!cw_free_feature(c, j)) {
            w[j] = 0;
            continue;
        }
        float half = 0.5f * (hi[j] - lo[j]), s = (x[j] - 0.5f * (lo[j] + hi[j])) / half;
        w[j] = atanhf(CW_SCALE * fminf(fmaxf(s, -1.0f), 1.0f));
    }
}

foil_status foilCwObjective(FoilEvasionCtx *c, FoilCwBatch *b)
{
    int64_t d = c->d;
    for (int64_t r = 0; r < b->rows; r++) {
        int64_t i = b->example[r];
        b->label[r] = c->y[i];
        b->other[r] = c->target[i];
        cw_xprime(c, c->x + i * d, b->w + r * d, b->xp + r * d);
    }
    FoilLogitLoss L = {c->targeted ? FOIL_LOSS_MARGIN_T : FOIL_LOSS_MARGIN, b->label, b->other, b->kappa};
    foil_status st = foilEvasionGrad(c, b->xp, b->example, b->rows, foilLogitLossFn, &L, b->value, b->logits,
                                      b->grad);
    if (st) return st;
    const float *lo = c->t->lower, *hi = c->t->upper;
    for (int64_t r = 0; r < b->rows; r++) {
        const float *x = c->x + b->example[r] * d, *xp = b->xp + r * d, *w = b->w + r * d;
        float *g = b->grad + r * d, cst = b->cst[r];
        double l2 = 0;
        for (int64_t j = 0; j < d; j++) {
            double diff = (double)xp[j] - x[j];
            l2 += diff * diff;
            if (!cw_free_feature(c, j)) {
                g[j] = 0;
                continue;
            }
            /* dF/dw_j = (2 (x'_j - x_j) + c df6/dx'_j) * half_j * (1 - tanh(w_j)^2) */
            float th = tanhf(w[j]);
            g[j] = (2.0f * (float)diff + cst * g[j]) * 0.5f * (hi[j] - lo[j]) * (1.0f - th * th);
        }
        b->l2[r] = (float)l2;
        b->value[r] = (float)(l2 + (double)cst * ((double)b->value[r] + b->kappa));
    }
    return FOIL_OK;
}

/* ---- the attack ---- */

typedef struct cw_work {
    int64_t rows;
    int64_t *example;
    float *w, *m, *v;            /* rows x D: tanh-space variables, Adam moments */
    double *cst, *lower, *upper; /* rows: binary search over c */
    double *best_l2, *step_l2;   /* rows: best overall, best in this binary step */
    double *prev;                /* rows: objective at the last abort-early check */
    uint8_t *live, *step_success;
    int64_t *map;                /* live slot -> row */
    float *wl, *cl;              /* live rows' w and c */
    FoilCwBatch b;
    FoilBuffers mem;       /* owns every array above */
} cw_work;

static foil_status cw_alloc(cw_work *w, const FoilEvasionCtx *c, int64_t rows)
{
    memset(w, 0, sizeof *w);
    w->rows = rows;
    size_t r = (size_t)rows, rd = (size_t)(rows * c->d);
    w->example = foilBuffersTake(&w->mem, r * sizeof *w->example);
    w->w = foilBuffersTake(&w->mem, rd * sizeof *w->w);
    w->m = foilBuffersTake(&w->mem, rd * sizeof *w->m);
    w->v = foilBuffersTake(&w->mem, rd * sizeof *w->v);
    w->cst = foilBuffersTake(&w->mem, r * sizeof *w->cst);
    w->lower = foilBuffersTake(&w->mem, r * sizeof *w->lower);
    w->upper = foilBuffersTake(&w->mem, r * sizeof *w->upper);
    w->best_l2 = foilBuffersTake(&w->mem, r * sizeof *w->best_l2);
    w->step_l2 = foilBuffersTake(&w->mem, r * sizeof *w->step_l2);
    w->prev = foilBuffersTake(&w->mem, r * sizeof *w->prev);
    w->live = foilBuffersTake(&w->mem, r);
    w->step_success = foilBuffersTake(&w->mem, r);
    w->map = foilBuffersTake(&w->mem, r * sizeof *w->map);
    w->wl = foilBuffersTake(&w->mem, rd * sizeof *w->wl);
    w->cl = foilBuffersTake(&w->mem, r * sizeof *w->cl);
    w->b.example = foilBuffersTake(&w->mem, r * sizeof *w->b.example);
    w->b.xp = foilBuffersTake(&w->mem, rd * sizeof *w->b.xp);
    w->b.l2 = foilBuffersTake(&w->mem, r * sizeof *w->b.l2);
    w->b.value = foilBuffersTake(&w->mem, r * sizeof *w->b.value);
    w->b.logits = foilBuffersTake(&w->mem, r * (size_t)c->classes * sizeof *w->b.logits);
    w->b.grad = foilBuffersTake(&w->mem, rd * sizeof *w->b.grad);
    w->b.label = foilBuffersTake(&w->mem, r * sizeof *w->b.label);
    w->b.other = foilBuffersTake(&w->mem, r * sizeof *w->b.other);
    foil_status st = foilBuffersStatus(&w->mem, "cw-l2", rows);
    if (st) return st;
    w->b.w = w->wl;
    w->b.cst = w->cl;
    return FOIL_OK;
}

/* The reference's compare(): the goal with the margin kappa (z is changed). */
static int cw_success(const FoilEvasionCtx *c, int64_t i, float *z, float kappa)
{
    if (c->targeted) {
        z[c->target[i]] -= kappa;
        return foilArgmax(z, c->classes) == c->target[i];
    }
    z[c->y[i]] += kappa;
    return foilArgmax(z, c->classes) != c->y[i];
}

/* TensorFlow's Adam step on one row (t = 1, 2, ...). */
static void adam_row(float *w, float *m, float *v, const float *g, int64_t d, float lr, int64_t t)
{
    const double b1 = 0.9, b2 = 0.999;
    float lr_t = (float)(lr * sqrt(1 - pow(b2, (double)t)) / (1 - pow(b1, (double)t)));
    for (int64_t j = 0; j < d; j++) {
        m[j] = (float)b1 * m[j] + (float)(1 - b1) * g[j];
        v[j] = (float)b2 * v[j] + (float)(1 - b2) * g[j] * g[j];
        w[j] -= lr_t * m[j] / (sqrtf(v[j]) + 1e-8f);
    }
}

static int64_t gather_live(const FoilEvasionCtx *c, cw_work *w)
{
    int64_t k = 0;
    for (int64_t r = 0; r < w->rows; r++) {
        if (!w->live[r]) continue;
        memcpy(w->wl + k * c->d, w->w + r * c->d, (size_t)c->d * sizeof(float));
        w->cl[k] = (float)w->cst[r];
        w->b.example[k] = w->example[r];
        w->map[k++] = r;
    }
    w->b.rows = k;
    return k;
}

/* One iteration's bookkeeping for live slot s: abort early (the row leaves
 * this binary step), else keep the best success and take the Adam step. */
static void cw_row(FoilEvasionCtx *c, cw_work *w, const cw_config *cfg, int64_t s, int64_t it)
{
    int64_t r = w->map[s], i = w->example[r], d = c->d;
    int64_t every = cfg->steps / 10 > 0 ? cfg->steps / 10 : 1;
    double value = w->b.value[s], l2 = w->b.l2[s];
    if (cfg->abort_early && it % every == 0) {
        if (value > w->prev[r] * 0.9999) {
            w->live[r] = 0;
            return;
        }
        w->prev[r] = value;
    }
    if (cw_success(c, i, w->b.logits + s * c->classes, cfg->kappa)) {
        if (l2 < w->step_l2[r]) {
            w->step_l2[r] = l2;
            w->step_success[r] = 1;
        }
        if (l2 < w->best_l2[r]) {
            w->best_l2[r] = l2;
            memcpy(c->adv + i * d, w->b.xp + s * d, (size_t)d * sizeof(float));
            foilEvasionClip(c, i, c->adv + i * d);
        }
    }
    adam_row(w->w + r * d, w->m + r * d, w->v + r * d, w->b.grad + s * d, d, cfg->lr, it + 1);
}

/* After a binary-search step: the reference's update of c. */
static void update_const(cw_work *w, int64_t r)
{
    if (w->step_success[r]) {
        w->upper[r] = fmin(w->upper[r], w->cst[r]);
        if (w->upper[r] < 1e9) w->cst[r] = (w->lower[r] + w->upper[r]) / 2;
    } else {
        w->lower[r] = fmax(w->lower[r], w->cst[r]);
        if (w->upper[r] < 1e9) w->cst[r] = (w->lower[r] + w->upper[r]) / 2;
        else w->cst[r] *= 10;
    }
}

static foil_status search_step(FoilEvasionCtx *c, cw_work *w, const cw_config *cfg, int64_t outer)
{
    int64_t d = c->d;
    for (int64_t r = 0; r < w->rows; r++) {
        cw_w0(c, c->x + w->example[r] * d, w->w + r * d);
        memset(w->m + r * d, 0, (size_t)d * sizeof(float));
        memset(w->v + r * d, 0, (size_t)d * sizeof(float));
        w->step_l2[r] = CW_NO_BOUND;
        w->step_success[r] = 0;
        w->prev[r] = INFINITY;
        w->live[r] = 1;
        if (cfg->search_steps >= 10 && outer == cfg->search_steps - 1) w->cst[r] = w->upper[r];
    }
    for (int64_t it = 0; it < cfg->steps; it++) {
        int64_t k = gather_live(c, w);
        if (!k) break;
        foil_status st = foilCwObjective(c, &w->b);
        if (st) return st;
        for (int64_t s = 0; s < k; s++) cw_row(c, w, cfg, s, it);
    }
    for (int64_t r = 0; r < w->rows; r++) update_const(w, r);
    return FOIL_OK;
}

static foil_status run_group(FoilEvasionCtx *c, void *arg, const int64_t *examples, int64_t rows)
{
    const cw_config *cfg = arg;
    cw_work w;
    foil_status st = cw_alloc(&w, c, rows);
    if (st) return st;
    memcpy(w.example, examples, (size_t)rows * sizeof *examples);
    for (int64_t r = 0; r < rows; r++) {
        w.cst[r] = cfg->c0;
        w.lower[r] = 0;
        w.upper[r] = CW_NO_BOUND;
        w.best_l2[r] = CW_NO_BOUND;
    }
    for (int64_t outer = 0; !st && outer < cfg->search_steps; outer++) {
        char status[48];
        snprintf(status, sizeof status, "binary step %lld/%lld", (long long)outer + 1, (long long)cfg->search_steps);
        foil_progress_update(&c->progress, c->groups_done, status);
        st = search_step(c, &w, cfg, outer);
    }
    foilBuffersFree(&w.mem);
    return st;
}

foil_status foilEvasionCwL2(FoilEvasionCtx *c)
{
    double search = 9, c0 = 1e-3, lr = 0.01, kappa = 0, abort_early = 1;
    FoilParam params[] = {{"binary_search_steps", &search},
                           {"initial_const", &c0},
                           {"learning_rate", &lr},
                           {"confidence", &kappa},
                           {"abort_early", &abort_early}};
    foil_status st = foilEvasionParams(c, params, 5);
    if (st) return st;
    if (!(search >= 1) || search != floor(search))
        return foil_error(FOIL_ERR_ARG, "cw-l2: binary_search_steps must be an integer >= 1");
    if (!(c0 > 0) || !(lr > 0) || !(kappa >= 0))
        return foil_error(FOIL_ERR_ARG, "cw-l2: initial_const and learning_rate must be > 0, confidence >= 0");
    if (c->t->step_size > 0) lr = c->t->step_size;
    cw_config cfg = {(int64_t)search, c->t->steps ? c->t->steps : 1000, (float)lr, (float)kappa, (float)c0,
                     abort_early != 0};
    return foilEvasionEachGroup(c, run_group, &cfg);
}
