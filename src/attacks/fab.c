/*
 * attacks/fab.c - FAB-T, the targeted Fast Adaptive Boundary attack (Croce &
 * Hein 2020, "Minimally distorted adversarial examples with a fast adaptive
 * boundary attack"; targeted version from "Reliable evaluation of
 * adversarial robustness with an ensemble of diverse parameter-free
 * attacks"), Linf and L2. Ported from fra31/auto-attack: fab_base.py /
 * fab_pt.py (attack_single_run with is_targeted, perturb with targeted =
 * True) and fab_projections.py (projection_linf, projection_l2).
 *
 * FAB looks for the adversarial example closest to x. With y the label, t
 * the target and f(v) = z_t(v) - z_y(v) (negative while v is classified y),
 * each iteration linearises f at the current point x1 and projects both x1
 * and the original x0 onto the linearised boundary intersected with the box:
 *   hyperplane  { v : <w, v> = b },  w = grad f(x1),  b = <w, x1> - f(x1)
 *   d1 = proj(x1) - x1,  d2 = proj(x0) - x0        (the box is the bounds)
 *   alpha = clip(||d1|| / (||d1|| + ||d2||), 0, alpha_max)
 *   x1 <- clip((x1 + eta d1)(1 - alpha) + (x0 + eta d2) alpha)
 * and, when the model misclassifies x1 (untargeted goal), records x1 if it
 * is the closest adversarial point so far and steps back towards x0:
 *   x1 <- x0 + beta (x1 - x0).
 * Defaults as the reference: 100 iterations, alpha_max 0.1, eta 1.05,
 * beta 0.9, one run per target; restarts (> 1) start from x0 plus a random
 * point of norm eps_init / 2 (eps_init = the threat's eps, or the
 * reference's 0.3 Linf / 1.0 L2 when unbounded). Targets: the 2nd, ...,
 * (n_target_classes + 1)-th most likely classes of the clean logits, each
 * run on the examples not fooled yet; with a targeted threat, the given
 * target only (and success means argmax = target).
 *
 * The projections (the heart of FAB) minimise ||d|| subject to
 * <w, t + d> = b and lo <= t + d <= hi. The reference's box is [0, 1]; here
 * it is the threat's bounds, so its "0" and "1" become lo_j and hi_j.
 * Features that cannot move (immutable, or lo = hi) get w_j = 0, which both
 * projections leave at d_j = 0.
 *   Linf (projection_linf): orient w so that <w, t> >= b; every feature moves
 *     towards the bound a_j that lowers <w, .> (hi where w_j < 0, else lo),
 *     at most p_j = |a_j - t_j|. Moving all by min(lambda, p_j) changes
 *     <w, .> by a piecewise-linear function of lambda; sorting p and taking
 *     cumulative sums gives it at every breakpoint, a binary search finds the
 *     segment that reaches b and lambda solves the linear piece. If b is out
 *     of reach every feature goes to its bound (the closest one can get).
 *   L2 (projection_l2): orient w so that c = <w, t> - b >= 0; d = -lambda w
 *     until feature j hits its bound at lambda = r_j, after which it stays
 *     there; the same sort / cumulative-sum / binary-search finds the lambda
 *     with <w, d> = -c.
 *
 * Queries per example and iteration, as the reference: one gradient of f
 * (with its forward pass) and one forward pass of the new x1. The clean
 * logits that pick the targets cost one query per example and group.
 *
 * What foil changes: with eps > 0 an example stops as soon as FAB has found
 * an adversarial point within eps (whether it is fooled within eps is then
 * settled, which is all the reference's perturb reports); its norm is then
 * not minimised further. Unbounded (eps = 0) every example runs all
 * iterations and the first target that yields an adversarial point wins
 * (the reference with eps = infinity). Not implemented: the L1 version
 * (projection_l1) and untargeted FAB (which needs the gradients of all
 * classes at every step).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "attacks/attack_internal.h"

#define FAB_NONE 1e10f   /* the reference's "no adversarial point yet" */

typedef struct fab_config {
    int64_t steps, restarts, n_targets; /* n_targets 0: the threat's targets */
    float alpha_max, eta, beta;
    float eps_init;                     /* random restarts: radius 2 x this / 2 */
    float accept;                       /* eps: answers beyond it do not count; 0 = any */
} fab_config;

/* One thread's projection workspace. */
typedef struct fab_scratch {
    float *w, *d1, *d2, *delta, *p; /* D */
    double *s, *sb, *ws;            /* D + 1 */
    uint32_t *key;                  /* D */
    int32_t *ord, *tmp;             /* D */
} fab_scratch;

typedef struct fab_group {
    int64_t rows;
    int64_t *example, *target;
    uint8_t *done;
    float *res;                 /* rows: norm of the closest adversarial point found in this run */
    float *x1, *best;           /* rows x D */
    float *w, *g, *z, *val;     /* live buffers */
    int64_t *owner, *lab, *oth, *live;
    int threads;
    fab_scratch *S;             /* one per thread */
    FoilBuffers mem;           /* owns every array above */
} fab_group;

/* Thread t's scratch: slice t of arrays taken once for all threads. */
static void scratch_take(fab_group *g, int64_t d)
{
    size_t T = (size_t)g->threads, n = (size_t)d, n1 = n + 1;
    size_t fl = T * n * sizeof(float), db = T * n1 * sizeof(double), ix = T * n * sizeof(int32_t);
    float *w = foilBuffersTake(&g->mem, fl), *d1 = foilBuffersTake(&g->mem, fl);
    float *d2 = foilBuffersTake(&g->mem, fl), *delta = foilBuffersTake(&g->mem, fl);
    float *p = foilBuffersTake(&g->mem, fl);
    double *s = foilBuffersTake(&g->mem, db), *sb = foilBuffersTake(&g->mem, db);
    double *ws = foilBuffersTake(&g->mem, db);
    uint32_t *key = foilBuffersTake(&g->mem, ix);
    int32_t *ord = foilBuffersTake(&g->mem, ix), *tmp = foilBuffersTake(&g->mem, ix);
    if (g->mem.failed) return;
    for (size_t t = 0; t < T; t++)
        g->S[t] = (fab_scratch){.w = w + t * n, .d1 = d1 + t * n, .d2 = d2 + t * n, .delta = delta + t * n,
                                .p = p + t * n, .s = s + t * n1, .sb = sb + t * n1, .ws = ws + t * n1,
                                .key = key + t * n, .ord = ord + t * n, .tmp = tmp + t * n};
}

static foil_status group_alloc(fab_group *g, int64_t rows, int64_t d, int64_t classes)
{
    memset(g, 0, sizeof *g);
    size_t r = (size_t)rows, rd = (size_t)(rows * d), fs = sizeof(float), is = sizeof(int64_t);
    g->rows = rows;
    g->example = foilBuffersTake(&g->mem, r * is);
    g->target = foilBuffersTake(&g->mem, r * is);
    g->done = foilBuffersTake(&g->mem, r);
    g->res = foilBuffersTake(&g->mem, r * fs);
    g->x1 = foilBuffersTake(&g->mem, rd * fs);
    g->best = foilBuffersTake(&g->mem, rd * fs);
    g->w = foilBuffersTake(&g->mem, rd * fs);
    g->g = foilBuffersTake(&g->mem, rd * fs);
    g->z = foilBuffersTake(&g->mem, r * (size_t)classes * fs);
    g->val = foilBuffersTake(&g->mem, r * fs);
    g->owner = foilBuffersTake(&g->mem, r * is);
    g->lab = foilBuffersTake(&g->mem, r * is);
    g->oth = foilBuffersTake(&g->mem, r * is);
    g->live = foilBuffersTake(&g->mem, r * is);
    g->threads = omp_get_max_threads();
    g->S = foilBuffersTake(&g->mem, (size_t)g->threads * sizeof *g->S);
    if (g->S) scratch_take(g, d);
    return foilBuffersStatus(&g->mem, "fab-t", rows);
}

/* ---- projections onto {v : <w, v> = b} intersected with [lo, hi] ---- */

/* An order-preserving map of floats to unsigned integers. */
static uint32_t float_key(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u & 0x80000000u ? ~u : u | 0x80000000u;
}

/* ord = 0..n-1 sorted by v ascending, ties by index: a stable LSD radix
 * sort on the keys, 4 passes of 8 bits (the projections sort D values per
 * row and iteration, the largest cost outside the model). */
static void argsort(const float *v, int64_t n, fab_scratch *S)
{
    int32_t *src = S->ord, *dst = S->tmp;
    for (int64_t j = 0; j < n; j++) {
        S->key[j] = float_key(v[j]);
        src[j] = (int32_t)j;
    }
    for (int shift = 0; shift < 32; shift += 8) {
        int64_t start[257] = {0};
        for (int64_t j = 0; j < n; j++) start[((S->key[src[j]] >> shift) & 255) + 1]++;
        for (int b = 0; b < 256; b++) start[b + 1] += start[b];
        for (int64_t j = 0; j < n; j++) dst[start[(S->key[src[j]] >> shift) & 255]++] = src[j];
        int32_t *t = src;
        src = dst;
        dst = t;
    }
    /* four passes: the result is back in S->ord */
}

/* Binary-search steps over D breakpoints: ceil(log2(D)). */
static int search_steps(int64_t d)
{
    int n = 0;
    while (((int64_t)1 << n) < d) n++;
    return n;
}

/* projection_linf: d = argmin ||d||_inf with <w, t + d> = b, t + d in the
 * box (or, when b is out of reach, every feature at its bound). */
static void project_linf(const float *t, const float *w_in, double b_in, const float *lo, const float *hi,
                         int64_t D, float *d, fab_scratch *S)
{
    float *w = S->w, *p = S->p;
    double *s = S->s, *sb = S->sb;
    const int32_t *ord = S->ord;
    double wt = 0;
    for (int64_t j = 0; j < D; j++) wt += (double)w_in[j] * t[j];
    /* sign = 2 * (<w, t> - b >= 0) - 1: afterwards <w, t> >= b. */
    float sign = wt - b_in >= 0 ? 1.0f : -1.0f;
    double b = sign * b_in;
    double b0 = 0; /* <w, d> with every feature at its bound */
    for (int64_t j = 0; j < D; j++) {
        w[j] = sign * w_in[j];
        int up = w[j] < 0;                    /* a_j = 1 in the reference */
        d[j] = w[j] != 0 ? (up ? hi[j] : lo[j]) - t[j] : 0;
        p[j] = up ? hi[j] - t[j] : t[j] - lo[j];
        b0 += (double)w[j] * d[j];
    }
    argsort(p, D, S);
    b -= sign * wt; /* b - <w, t>: the change of <w, .> needed (<= 0) */
    /* In decreasing order of p: s = cumsum |w|, sb = b0 + cumsum(-w d).
     * Moving every feature by min(lambda, p_j) with lambda = p of the m-th
     * largest changes <w, .> by sb[m] - s[m] lambda. */
    double as = 0, ab = b0;
    for (int64_t m = 0; m < D; m++) {
        int64_t j = ord[D - 1 - m];
        as += fabsf(w[j]);
        ab += -(double)w[j] * d[j];
        s[m] = as;
        sb[m] = ab;
    }
    double b2 = sb[D - 1] - s[D - 1] * p[ord[0]];
    int below_all = b - b2 > 0;                /* c_l: lambda below every p_j */
    int reachable = b - b0 > 0 && !below_all;  /* c2 */
    if (below_all) {
        double lambda = fmax((b - sb[D - 1]) / -s[D - 1], 0);
        for (int64_t j = 0; j < D; j++) d[j] = (float)(w[j] < 0 ? lambda : -lambda);
    } else if (reachable) {
        int64_t lb = 0, ub = D - 1;
        for (int it = search_steps(D); it > 0; it--) {
            int64_t mid = (lb + ub) / 2;
            double bm = sb[mid] - s[mid] * p[ord[D - 1 - mid]];
            if (b - bm > 0) lb = mid;
            else ub = mid;
        }
        double lambda = fmax((b - sb[lb]) / -s[lb], 0);
        for (int64_t j = 0; j < D; j++)
            d[j] = w[j] < 0 ? fminf((float)lambda, d[j]) : fmaxf((float)-lambda, d[j]);
    }
    for (int64_t j = 0; j < D; j++)
        if (w[j] == 0) d[j] = 0;
}

/* projection_l2: d = argmin ||d||_2 with <w, t + d> = b, t + d in the box
 * (or, when b is out of reach, every feature at its bound along -w). */
static void project_l2(const float *t, const float *w_in, double b_in, const float *lo, const float *hi, int64_t D,
                       float *d, fab_scratch *S)
{
    float *w = S->w, *r = S->p;
    double *s = S->s, *ws = S->ws;
    const int32_t *ord = S->ord;
    const float big = 1e12f;
    double c = -b_in;
    for (int64_t j = 0; j < D; j++) c += (double)w_in[j] * t[j];
    float sign = c < 0 ? -1.0f : 1.0f;
    c *= sign;
    double w5 = 0, dw = 0;
    for (int64_t j = 0; j < D; j++) {
        w[j] = sign * w_in[j];
        /* r_j: the lambda at which t_j - lambda w_j reaches its bound. */
        if (fabsf(w[j]) < 1e-8f) {
            r[j] = big;
        } else {
            float v = fmaxf((t[j] - lo[j]) / w[j], (t[j] - hi[j]) / w[j]);
            v = fminf(fmaxf(v, -big), big);
            r[j] = v == -big ? big : v;
        }
        d[j] = fabsf(w[j]) > 1e-8f ? -r[j] * w[j] : 0;
        w5 += (double)w[j] * w[j];
        dw += (double)d[j] * w[j];
    }
    argsort(r, D, S);
    /* rs = sorted r, rs2 = rs shifted left (0 at the end), both with the
     * never-saturating 1e12 entries set to 0; ws[m] = sum of w^2 over the
     * features after the m-th; s[m] = <w, d(lambda)> at lambda = rs[m]. */
#define RS(m) (r[ord[m]] == big ? 0.0 : (double)r[ord[m]])
#define RS2(m) ((m) + 1 < D ? RS((m) + 1) : 0.0)
    double acc = 0;
    for (int64_t m = 0; m < D; m++) {
        double wj = w[ord[m]];
        acc += wj * wj;
        ws[m] = w5 - acc;
    }
    s[0] = -w5 * RS(0);
    for (int64_t m = 0; m < D; m++) s[m + 1] = s[m] + (RS(m) - RS2(m)) * ws[m];
    int unconstrained = s[0] + c < 0;          /* c4 */
    int unreachable = dw + c > 0;              /* c3 */
    if (unconstrained) {
        double alpha = c / w5;
        for (int64_t j = 0; j < D; j++) d[j] = (float)(-alpha * w[j]);
    } else if (!unreachable) {                 /* c2 */
        int64_t lb = 0, ub = D - 1;
        for (int it = search_steps(D); it > 0; it--) {
            int64_t mid = (lb + ub) / 2;
            if (s[mid] + c > 0) lb = mid;
            else ub = mid;
        }
        double alpha = ws[lb] == 0 ? 0 : (s[lb] + c) / ws[lb] + RS(lb);
        for (int64_t j = 0; j < D; j++)
            if (!(alpha > r[j])) d[j] = (float)(-alpha * w[j]);
    }
#undef RS
#undef RS2
    for (int64_t j = 0; j < D; j++)
        if (!(fabsf(w[j]) > 1e-8f)) d[j] = 0;
}

/* ---- one iteration ---- */

static float dist(foil_norm norm, const float *d, int64_t n)
{
    return foil_vec_norm(norm == FOIL_NORM_L2 ? FOIL_NORM_L2 : FOIL_NORM_LINF, d, n);
}

/* x1 <- the FAB step for example i, with f = val and w = grad (features
 * that cannot move already zeroed). */
static void fab_step(const FoilEvasionCtx *c, const fab_config *cfg, int64_t i, float *x1, float f, const float *w,
                     fab_scratch *S)
{
    int64_t D = c->d;
    const float *x0 = c->x + i * D, *lo = c->t->lower, *hi = c->t->upper;
    double b = -(double)f;
    for (int64_t j = 0; j < D; j++) b += (double)w[j] * x1[j];
    if (c->t->norm == FOIL_NORM_L2) {
        project_l2(x1, w, b, lo, hi, D, S->d1, S);
        project_l2(x0, w, b, lo, hi, D, S->d2, S);
    } else {
        project_linf(x1, w, b, lo, hi, D, S->d1, S);
        project_linf(x0, w, b, lo, hi, D, S->d2, S);
    }
    float a1 = fmaxf(dist(c->t->norm, S->d1, D), 1e-8f), a2 = fmaxf(dist(c->t->norm, S->d2, D), 1e-8f);
    float alpha = fminf(fmaxf(a1 / (a1 + a2), 0), cfg->alpha_max);
    for (int64_t j = 0; j < D; j++)
        x1[j] = (x1[j] + cfg->eta * S->d1[j]) * (1 - alpha) + (x0[j] + cfg->eta * S->d2[j]) * alpha;
    foilEvasionClip(c, i, x1);
}

/* Zero the gradient on features that cannot move. */
static void freeze(const FoilEvasionCtx *c, float *w)
{
    const uint8_t *imm = c->t->immutable;
    for (int64_t j = 0; j < c->d; j++)
        if ((imm && imm[j]) || c->t->lower[j] == c->t->upper[j]) w[j] = 0;
}

static void random_start(const FoilEvasionCtx *c, const fab_config *cfg, int64_t i, uint64_t stream, float *a)
{
    const float *x = c->x + i * c->d;
    foil_rng r = foilEvasionRng(c, stream, i);
    double n = 0;
    for (int64_t j = 0; j < c->d; j++) {
        a[j] = c->t->norm == FOIL_NORM_L2 ? (float)foil_rng_normal(&r) : 2 * foil_rng_uniform(&r) - 1;
        n = c->t->norm == FOIL_NORM_L2 ? n + (double)a[j] * a[j] : fmax(n, fabsf(a[j]));
    }
    if (c->t->norm == FOIL_NORM_L2) n = sqrt(n);
    float f = n > 0 ? (float)(cfg->eps_init / n) * 0.5f : 0;
    for (int64_t j = 0; j < c->d; j++) a[j] = x[j] + f * a[j];
    foilEvasionClip(c, i, a);
}

static int64_t gather_live(const FoilEvasionCtx *c, fab_group *g)
{
    int64_t k = 0;
    for (int64_t r = 0; r < g->rows; r++) {
        if (g->done[r]) continue;
        memcpy(g->w + k * c->d, g->x1 + r * c->d, (size_t)c->d * sizeof(float));
        g->owner[k] = g->example[r];
        g->lab[k] = c->y[g->example[r]];
        g->oth[k] = g->target[r];
        g->live[k++] = r;
    }
    return k;
}

static void accept_row(FoilEvasionCtx *c, fab_group *g, int64_t r)
{
    int64_t i = g->example[r];
    memcpy(c->adv + i * c->d, g->best + r * c->d, (size_t)c->d * sizeof(float));
    g->done[r] = 1;
}

/* After the move: the rows whose new x1 fools the model record it when it
 * is the closest so far, and step back towards x0. */
static foil_status check_adv(FoilEvasionCtx *c, const fab_config *cfg, fab_group *g, int64_t k)
{
    int64_t D = c->d;
    foil_status st = foilEvasionLogits(c, g->w, g->owner, k, g->z);
    if (st) return st;
    for (int64_t s = 0; s < k; s++) {
        int64_t r = g->live[s], i = g->example[r];
        if (!foilEvasionFooled(c, i, g->z + s * c->classes)) continue;
        float *x1 = g->x1 + r * D;
        const float *x0 = c->x + i * D;
        for (int64_t j = 0; j < D; j++) g->S[0].delta[j] = x1[j] - x0[j];
        float t = foil_vec_norm(c->t->norm, g->S[0].delta, D);
        if (t < g->res[r]) {
            g->res[r] = t;
            memcpy(g->best + r * D, x1, (size_t)D * sizeof(float));
        }
        for (int64_t j = 0; j < D; j++) x1[j] = x0[j] + (x1[j] - x0[j]) * cfg->beta;
        if (cfg->accept > 0 && g->res[r] <= cfg->accept) accept_row(c, g, r);
    }
    return FOIL_OK;
}

static int64_t count_done(const fab_group *g)
{
    int64_t n = 0;
    for (int64_t r = 0; r < g->rows; r++) n += g->done[r];
    return n;
}

static foil_status single_run(FoilEvasionCtx *c, const fab_config *cfg, fab_group *g, uint64_t stream)
{
    int64_t D = c->d;
    for (int64_t r = 0; r < g->rows; r++) {
        if (g->done[r]) continue;
        int64_t i = g->example[r];
        g->res[r] = FAB_NONE;
        if (stream) random_start(c, cfg, i, stream, g->x1 + r * D);
        else memcpy(g->x1 + r * D, c->x + i * D, (size_t)D * sizeof(float));
    }
    FoilLogitLoss L = {FOIL_LOSS_LOGIT_DIFF, g->lab, g->oth, 0};
    foil_status st = FOIL_OK;
    for (int64_t it = 0; it < cfg->steps; it++) {
        int64_t k = gather_live(c, g);
        if (!k) break;
        if ((st = foilEvasionGrad(c, g->w, g->owner, k, foilLogitLossFn, &L, g->val, NULL, g->g))) return st;
        /* The projections sort D values twice per row: worth the threads
         * the model's forward and backward passes use anyway. */
#pragma omp parallel for schedule(dynamic, 4)
        for (int64_t s = 0; s < k; s++) {
            int64_t r = g->live[s];
            float *w = g->g + s * D;
            freeze(c, w);
            fab_step(c, cfg, g->example[r], g->x1 + r * D, g->val[s], w, &g->S[omp_get_thread_num()]);
            memcpy(g->w + s * D, g->x1 + r * D, (size_t)D * sizeof(float));
        }
        if ((st = check_adv(c, cfg, g, k))) return st;
        foilEvasionGroupProgress(c, count_done(g));
    }
    for (int64_t r = 0; r < g->rows; r++)
        if (!g->done[r] && g->res[r] < FAB_NONE && (cfg->accept == 0 || g->res[r] <= cfg->accept)) accept_row(c, g, r);
    return FOIL_OK;
}

/* ---- targets, groups, entry point ---- */

static foil_status run_group(FoilEvasionCtx *c, void *arg, const int64_t *examples, int64_t rows)
{
    const fab_config *cfg = arg;
    fab_group g;
    foil_status st = group_alloc(&g, rows, c->d, c->classes);
    if (st) return st;
    int64_t *rank = NULL, C = c->classes;
    for (int64_t r = 0; r < rows; r++) {
        g.example[r] = examples[r];
        g.target[r] = c->target[examples[r]];
        g.owner[r] = examples[r];
        memcpy(g.w + r * c->d, c->x + examples[r] * c->d, (size_t)c->d * sizeof(float));
    }
    if (cfg->n_targets) {
        rank = malloc((size_t)(rows * C) * sizeof *rank);
        if (!rank) st = foil_error(FOIL_ERR_NOMEM, "out of memory for FAB-T target ranks");
        if (!st) st = foilEvasionLogits(c, g.w, g.owner, rows, g.z);
        for (int64_t r = 0; !st && r < rows; r++) foilTopClasses(g.z + r * C, C, -1, C, rank + r * C);
    }
    int64_t n_targets = cfg->n_targets ? cfg->n_targets : 1;
    for (int64_t t = 0; !st && t < n_targets; t++) {
        if (rank)
            for (int64_t r = 0; r < rows; r++) g.target[r] = rank[r * C + t + 1];
        for (int64_t restart = 0; !st && restart < cfg->restarts; restart++)
            st = single_run(c, cfg, &g, restart ? 0xFAB00000ull + ((uint64_t)t << 12) + (uint64_t)restart : 0);
    }
    free(rank);
    foilBuffersFree(&g.mem);
    return st;
}

static foil_status configure(FoilEvasionCtx *c, fab_config *cfg)
{
    const char *name = c->info->name;
    double n_targets = 9, alpha_max = 0.1, eta = 1.05, beta = 0.9;
    FoilParam params[] = {
        {"n_target_classes", &n_targets}, {"alpha_max", &alpha_max}, {"eta", &eta}, {"beta", &beta}};
    foil_status st = foilEvasionParams(c, params, 4);
    if (st) return st;
    if (!(n_targets >= 1 && n_targets == floor(n_targets)))
        return foil_error(FOIL_ERR_ARG, "%s: n_target_classes must be a positive integer", name);
    if (!(alpha_max >= 0 && alpha_max <= 1)) return foil_error(FOIL_ERR_ARG, "%s: alpha_max must be in [0, 1]", name);
    if (!(eta >= 1 && eta < 10)) return foil_error(FOIL_ERR_ARG, "%s: eta (overshoot) must be in [1, 10)", name);
    if (!(beta > 0 && beta <= 1)) return foil_error(FOIL_ERR_ARG, "%s: beta must be in (0, 1]", name);
    if (c->t->step_size > 0)
        return foil_error(FOIL_ERR_ARG, "%s chooses its steps by projection; drop --step-size", name);
    memset(cfg, 0, sizeof *cfg);
    cfg->steps = c->t->steps ? c->t->steps : 100;
    cfg->restarts = c->t->restarts ? c->t->restarts : 1;
    cfg->alpha_max = (float)alpha_max;
    cfg->eta = (float)eta;
    cfg->beta = (float)beta;
    cfg->accept = c->t->eps;
    cfg->eps_init = c->t->eps > 0 ? c->t->eps : c->t->norm == FOIL_NORM_L2 ? 1.0f : 0.3f;
    if (!c->targeted) {
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

foil_status foilEvasionFabT(FoilEvasionCtx *c)
{
    fab_config cfg;
    foil_status st = configure(c, &cfg);
    if (st) return st;
    return foilEvasionEachGroup(c, run_group, &cfg);
}
