/*
 * attacks/hsj.c - HopSkipJumpAttack (Chen, Jordan, Wainwright 2020,
 * "HopSkipJumpAttack: A Query-Efficient Decision-Based Attack"),
 * decision-based: it sees only top-1 labels, through foilEvasionLabels.
 * A minimal-perturbation attack (L2 or Linf): it finds some adversarial
 * point, then walks along the decision boundary towards x. Ported from the
 * authors' code (Jianbo-Lab/HSJA, hsja.py).
 *
 * phi(x') = 1 when x' meets the goal (label != y untargeted, == t
 * targeted), else 0. d = D features, theta = gamma / d^(3/2) (L2) or
 * gamma / d^2 (Linf), gamma = 1.
 *
 *   init      untargeted: uniform noise in the bounds until phi = 1, then a
 *             binary search on the blend (1 - a) x + a noise down to
 *             |a_hi - a_lo| <= 0.001 (hsja.py initialize). Targeted: an
 *             image of the target class, as the reference's main.py takes
 *             from held-out data: here another input of this run whose true
 *             label is t and that the model puts in t (up to 10 tried), and
 *             failing that the noise search.
 *   boundary  binary search between x and x' (binary_search_batch): L2 on
 *             the segment (1 - a) x + a x', a in [0, 1], until the interval
 *             is below theta; Linf on the box clip(x', x - a, x + a), a in
 *             [0, ||x' - x||_inf], until below min(theta ||.||, theta);
 *             x' <- the adversarial end. Here the search also stops once
 *             the interval is below 1e-5 of its initial length (this only
 *             changes Linf, where theta = 1.6e-6 for 28x28 images): finer
 *             steps are beneath what float32 inputs and logits resolve, and
 *             a point that close to the boundary can change class between
 *             batch compositions (logits differ by ~1e-6), so the runner's
 *             check would see it fail.
 *   iterate   for j = 1, 2, ...:
 *             delta_j = 0.1 * range (j = 1), else sqrt(d) theta dist_post
 *             (L2) or d theta dist_post (Linf), dist_post = ||x' - x|| before
 *             the last boundary search (select_delta);
 *             B_j = min(100 sqrt(j), 10000) evaluations (init_num_evals,
 *             max_num_evals): u_b uniform on the sphere (L2: Gaussian
 *             normalised; Linf: uniform in [-1, 1]^d normalised),
 *             x_b = clip(x' + delta u_b), u_b <- (x_b - x') / delta,
 *             f_b = 2 phi(x_b) - 1, and with fbar their mean
 *               g = mean(u_b) if all f_b = 1, -mean(u_b) if all = -1,
 *                   else mean((f_b - fbar) u_b),  g <- g / ||g||;
 *             v = g (L2) or sign(g) (Linf);
 *             geometric progression: xi = ||x' - x|| / sqrt(j), halved
 *             until phi(x' + xi v) = 1; x' <- clip(x' + xi v); boundary
 *             search again.
 *
 * Budget: every label costs one query of the example's budget; a phase
 * that would exceed it stops, keeping the last adversarial point (every
 * point kept is one the model labelled adversarial). The evaluations of
 * an estimate are cut so that the step and the boundary search after it
 * still fit. The answer is the closest adversarial point seen (the
 * reference returns the last, which is almost always the same). With
 * eps > 0 an example stops as soon as it is within eps (no more queries
 * are needed to count it fooled).
 *
 * Batching: each phase runs in lockstep over the examples of a group, so
 * every call holds one query per example still in that phase, and the
 * estimate's evaluations of all examples go together (calls of at most
 * 8192 rows). Randomness is drawn per example, so results do not depend
 * on batching. "range" is the reference's clip_max - clip_min; with
 * per-feature bounds, the root mean square of upper - lower.
 *
 * Defaults: iterations 40 (hsja.py num_iterations), queries 5000 per
 * example, gamma 1, init_evals 100, max_evals 10000.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attacks/attack_internal.h"

#define CALL_ROWS 8192
#define TARGET_TRIES 10
#define NOISE_TRIES 10000
#define MAX_HALVINGS 60
/* The boundary search stops at this fraction of its initial interval at the
 * latest; see the top of the file. */
#define RESOLUTION 1e-5

enum { PENDING = 0, RUNNING = 1, FINISHED = 2 };

typedef struct hsj_config {
    int linf;
    int64_t queries, iterations, init_evals, max_evals;
    double theta, range;
    int64_t reserve;       /* queries kept back for a step and a boundary search */
} hsj_config;

typedef struct hsj_work {
    int64_t rows;
    int64_t *example, *start;
    uint8_t *state, *flag; /* PENDING/RUNNING/FINISHED; per phase: still searching */
    uint8_t *blend;        /* the starting point came from noise */
    float *pert;           /* rows x D: the current adversarial point x' */
    float *start_pt;       /* rows x D: the starting point (noise or target image) */
    float *best;           /* rows x D */
    double *best_dist, *dist, *dist_post, *lo, *hi, *thr, *xi, *delta;
    int64_t *evals, *tries, *halvings;
    float *upd;            /* rows x D: the step direction v */
    double *s1, *s2;       /* rows x D: sums of f_b u_b and of u_b */
    double *sum_f;
    foil_rng *rng;
    float *cand;           /* CALL_ROWS x D */
    int64_t *owner, *slot, *labels;
    float *scratch;        /* D */
    int64_t *by_class, *class_start; /* examples by true label (targeted) */
    FoilBuffers mem;       /* owns every array above */
} hsj_work;

static foil_status work_alloc(hsj_work *w, const FoilEvasionCtx *c, int64_t rows)
{
    memset(w, 0, sizeof *w);
    size_t r = (size_t)rows, rd = (size_t)(rows * c->d), d = (size_t)c->d, cr = CALL_ROWS > r ? CALL_ROWS : r;
    w->example = foilBuffersTake(&w->mem, r * sizeof(int64_t));
    w->start = foilBuffersTake(&w->mem, r * sizeof(int64_t));
    w->state = foilBuffersTake(&w->mem, r);
    w->flag = foilBuffersTake(&w->mem, r);
    w->blend = foilBuffersTake(&w->mem, r);
    w->pert = foilBuffersTake(&w->mem, rd * sizeof(float));
    w->start_pt = foilBuffersTake(&w->mem, rd * sizeof(float));
    w->best = foilBuffersTake(&w->mem, rd * sizeof(float));
    w->best_dist = foilBuffersTake(&w->mem, r * sizeof(double));
    w->dist = foilBuffersTake(&w->mem, r * sizeof(double));
    w->dist_post = foilBuffersTake(&w->mem, r * sizeof(double));
    w->lo = foilBuffersTake(&w->mem, r * sizeof(double));
    w->hi = foilBuffersTake(&w->mem, r * sizeof(double));
    w->thr = foilBuffersTake(&w->mem, r * sizeof(double));
    w->xi = foilBuffersTake(&w->mem, r * sizeof(double));
    w->delta = foilBuffersTake(&w->mem, r * sizeof(double));
    w->evals = foilBuffersTake(&w->mem, r * sizeof(int64_t));
    w->tries = foilBuffersTake(&w->mem, r * sizeof(int64_t));
    w->halvings = foilBuffersTake(&w->mem, r * sizeof(int64_t));
    w->upd = foilBuffersTake(&w->mem, rd * sizeof(float));
    w->s1 = foilBuffersTake(&w->mem, rd * sizeof(double));
    w->s2 = foilBuffersTake(&w->mem, rd * sizeof(double));
    w->sum_f = foilBuffersTake(&w->mem, r * sizeof(double));
    w->rng = foilBuffersTake(&w->mem, r * sizeof(foil_rng));
    w->cand = foilBuffersTake(&w->mem, cr * d * sizeof(float));
    w->owner = foilBuffersTake(&w->mem, cr * sizeof(int64_t));
    w->slot = foilBuffersTake(&w->mem, cr * sizeof(int64_t));
    w->labels = foilBuffersTake(&w->mem, cr * sizeof(int64_t));
    w->scratch = foilBuffersTake(&w->mem, d * sizeof(float));
    w->by_class = foilBuffersTake(&w->mem, (size_t)c->n * sizeof(int64_t));
    w->class_start = foilBuffersTake(&w->mem, ((size_t)c->classes + 1) * sizeof(int64_t));
    return foilBuffersStatus(&w->mem, "hsj", rows);
}

/* ---- small helpers ---- */

static int64_t remaining(const FoilEvasionCtx *c, const hsj_config *cfg, const hsj_work *w, int64_t r)
{
    return cfg->queries - (c->queries[w->example[r]] - w->start[r]);
}

static int goal(const FoilEvasionCtx *c, int64_t i, int64_t label)
{
    return c->targeted ? label == c->target[i] : label != c->y[i];
}

/* ||a - x_i|| in the threat's norm, computed as the runner computes it. */
static double distance(const FoilEvasionCtx *c, hsj_work *w, int64_t i, const float *a)
{
    const float *x = c->x + i * c->d;
    for (int64_t j = 0; j < c->d; j++) w->scratch[j] = a[j] - x[j];
    return foil_vec_norm(c->t->norm, w->scratch, c->d);
}

/* The point at parameter a between x_i and p (project() of hsja.py). */
static void project_to(const FoilEvasionCtx *c, int linf, int64_t i, const float *p, double a, float *out)
{
    const float *x = c->x + i * c->d;
    if (linf) {
        float fa = (float)a;
        for (int64_t j = 0; j < c->d; j++) out[j] = fminf(fmaxf(p[j], x[j] - fa), x[j] + fa);
    } else {
        for (int64_t j = 0; j < c->d; j++) out[j] = (float)((1 - a) * x[j] + a * p[j]);
    }
}

static void keep_best(const FoilEvasionCtx *c, hsj_work *w, int64_t r)
{
    int64_t d = c->d;
    double dist = distance(c, w, w->example[r], w->pert + r * d);
    if (dist < w->best_dist[r]) {
        w->best_dist[r] = dist;
        memcpy(w->best + r * d, w->pert + r * d, (size_t)d * sizeof(float));
    }
    if (c->t->eps > 0 && w->best_dist[r] <= c->t->eps) w->state[r] = FINISHED;
}

/* Send the k candidates gathered in w->cand (owners set) for labels. */
static foil_status ask(FoilEvasionCtx *c, hsj_work *w, int64_t k)
{
    return foilEvasionLabels(c, w->cand, w->owner, k, w->labels);
}

/* One round of a batched binary search: ask the k candidates (row
 * w->slot[s] at the midpoint of its [lo, hi]) and halve each interval on
 * the side the answer rules out. */
static foil_status ask_and_bisect(FoilEvasionCtx *c, hsj_work *w, int64_t k)
{
    foil_status st = ask(c, w, k);
    for (int64_t s = 0; !st && s < k; s++) {
        int64_t r = w->slot[s];
        double mid = (w->hi[r] + w->lo[r]) / 2;
        if (goal(c, w->example[r], w->labels[s])) w->hi[r] = mid;
        else w->lo[r] = mid;
    }
    return st;
}

/* ---- initialisation ---- */

/* Examples by true label, for targeted starting points. */
static foil_status index_classes(const FoilEvasionCtx *c, hsj_work *w)
{
    int64_t *pos = malloc((size_t)c->classes * sizeof *pos);
    if (!pos) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < c->n; i++) w->class_start[c->y[i] + 1]++;
    for (int64_t k = 0; k < c->classes; k++) w->class_start[k + 1] += w->class_start[k];
    memcpy(pos, w->class_start, (size_t)c->classes * sizeof *pos);
    for (int64_t i = 0; i < c->n; i++) w->by_class[pos[c->y[i]]++] = i;
    free(pos);
    return FOIL_OK;
}

/* A candidate starting point for row r into a: an input of class t
 * (targeted, first TARGET_TRIES tries) or uniform noise in the bounds. */
static void draw_start(const FoilEvasionCtx *c, hsj_work *w, int64_t r, float *a)
{
    int64_t i = w->example[r], d = c->d;
    w->blend[r] = 1;
    if (c->targeted && w->tries[r] < TARGET_TRIES) {
        int64_t t = c->target[i], lo = w->class_start[t], n = w->class_start[t + 1] - lo;
        if (n > 0) {
            int64_t j = w->by_class[lo + (int64_t)foil_rng_below(&w->rng[r], (uint64_t)n)];
            memcpy(a, c->x + j * d, (size_t)d * sizeof *a);
            foilEvasionClip(c, i, a);
            w->blend[r] = 0;
            return;
        }
    }
    for (int64_t j = 0; j < d; j++) {
        float lo = c->t->lower[j], hi = c->t->upper[j];
        a[j] = lo + (hi - lo) * foil_rng_uniform(&w->rng[r]);
    }
    foilEvasionClip(c, i, a);
}

static foil_status find_start(FoilEvasionCtx *c, const hsj_config *cfg, hsj_work *w)
{
    int64_t d = c->d;
    foil_status st = FOIL_OK;
    for (;;) {
        int64_t k = 0;
        for (int64_t r = 0; r < w->rows; r++) {
            if (w->state[r] != PENDING) continue;
            if (remaining(c, cfg, w, r) < 1 || w->tries[r] >= NOISE_TRIES) {
                w->state[r] = FINISHED; /* no adversarial start found: adv stays x */
                continue;
            }
            draw_start(c, w, r, w->cand + k * d);
            w->tries[r]++;
            w->owner[k] = w->example[r];
            w->slot[k++] = r;
        }
        if (!k || (st = ask(c, w, k))) return st;
        for (int64_t s = 0; s < k; s++) {
            int64_t r = w->slot[s];
            if (!goal(c, w->example[r], w->labels[s])) continue;
            memcpy(w->start_pt + r * d, w->cand + s * d, (size_t)d * sizeof(float));
            w->state[r] = RUNNING;
        }
    }
}

/* Blend search: the smallest a (to 0.001) with phi((1 - a) x + a start) = 1. */
static foil_status blend_search(FoilEvasionCtx *c, const hsj_config *cfg, hsj_work *w)
{
    int64_t d = c->d;
    for (int64_t r = 0; r < w->rows; r++) {
        w->lo[r] = 0;
        w->hi[r] = 1;
        w->flag[r] = w->state[r] == RUNNING && w->blend[r];
    }
    foil_status st = FOIL_OK;
    for (;;) {
        int64_t k = 0;
        for (int64_t r = 0; r < w->rows; r++) {
            if (!w->flag[r]) continue;
            if (w->hi[r] - w->lo[r] <= 0.001 || remaining(c, cfg, w, r) < 1) {
                w->flag[r] = 0;
                continue;
            }
            int64_t i = w->example[r];
            project_to(c, 0, i, w->start_pt + r * d, (w->hi[r] + w->lo[r]) / 2, w->cand + k * d);
            w->owner[k] = i;
            w->slot[k++] = r;
        }
        if (!k || (st = ask_and_bisect(c, w, k))) break;
    }
    for (int64_t r = 0; !st && r < w->rows; r++) {
        if (w->state[r] != RUNNING) continue;
        if (w->blend[r]) project_to(c, 0, w->example[r], w->start_pt + r * d, w->hi[r], w->pert + r * d);
        else memcpy(w->pert + r * d, w->start_pt + r * d, (size_t)d * sizeof(float));
    }
    return st;
}

/* ---- the boundary search (binary_search_batch) ---- */

static foil_status boundary_search(FoilEvasionCtx *c, const hsj_config *cfg, hsj_work *w, const uint8_t *which)
{
    int64_t d = c->d;
    for (int64_t r = 0; r < w->rows; r++) {
        w->flag[r] = which[r] && w->state[r] == RUNNING;
        if (!w->flag[r]) continue;
        double dist = distance(c, w, w->example[r], w->pert + r * d);
        w->dist_post[r] = dist;
        w->lo[r] = 0;
        w->hi[r] = cfg->linf ? dist : 1;
        w->thr[r] = cfg->linf ? fmin(dist * cfg->theta, cfg->theta) : cfg->theta;
        w->thr[r] = fmax(w->thr[r], RESOLUTION * w->hi[r]);
    }
    foil_status st = FOIL_OK;
    for (;;) {
        int64_t k = 0;
        for (int64_t r = 0; r < w->rows; r++) {
            if (!w->flag[r]) continue;
            if (!((w->hi[r] - w->lo[r]) / w->thr[r] > 1) || remaining(c, cfg, w, r) < 1) {
                w->flag[r] = 2; /* searched: settle below */
                continue;
            }
            project_to(c, cfg->linf, w->example[r], w->pert + r * d, (w->hi[r] + w->lo[r]) / 2, w->cand + k * d);
            w->owner[k] = w->example[r];
            w->slot[k++] = r;
        }
        if (!k || (st = ask_and_bisect(c, w, k))) break;
    }
    for (int64_t r = 0; !st && r < w->rows; r++) {
        if (!w->flag[r]) continue;
        w->flag[r] = 0;
        project_to(c, cfg->linf, w->example[r], w->pert + r * d, w->hi[r], w->scratch);
        memcpy(w->pert + r * d, w->scratch, (size_t)d * sizeof(float));
        w->dist[r] = distance(c, w, w->example[r], w->pert + r * d);
        keep_best(c, w, r);
    }
    return st;
}

/* ---- the gradient-direction estimate ---- */

/* One evaluation point of row r into a: clip(x' + delta u), u uniform on
 * the sphere (Gaussian for L2, uniform cube for Linf, normalised). */
static void draw_eval(const FoilEvasionCtx *c, const hsj_config *cfg, hsj_work *w, int64_t r, float *a)
{
    int64_t d = c->d;
    const float *p = w->pert + r * d;
    double ss = 0;
    for (int64_t j = 0; j < d; j++) {
        a[j] = cfg->linf ? 2 * foil_rng_uniform(&w->rng[r]) - 1 : (float)foil_rng_normal(&w->rng[r]);
        ss += (double)a[j] * a[j];
    }
    float f = (float)(w->delta[r] / (sqrt(ss) + 1e-30));
    for (int64_t j = 0; j < d; j++) a[j] = p[j] + f * a[j];
    foilEvasionClip(c, w->example[r], a);
}

static void accumulate(const FoilEvasionCtx *c, hsj_work *w, int64_t r, const float *a, int adversarial)
{
    int64_t d = c->d;
    const float *p = w->pert + r * d;
    double *s1 = w->s1 + r * d, *s2 = w->s2 + r * d, f = adversarial ? 1 : -1, inv = 1 / w->delta[r];
    for (int64_t j = 0; j < d; j++) {
        double u = (double)(a[j] - p[j]) * inv;
        s1[j] += f * u;
        s2[j] += u;
    }
    w->sum_f[r] += f;
}

/* v from the sums: the baseline-subtracted mean, normalised; sign for Linf. */
static void direction(const FoilEvasionCtx *c, const hsj_config *cfg, hsj_work *w, int64_t r)
{
    int64_t d = c->d, n = w->evals[r];
    double fbar = w->sum_f[r] / (double)n, ss = 0;
    const double *s1 = w->s1 + r * d, *s2 = w->s2 + r * d;
    float *v = w->upd + r * d;
    for (int64_t j = 0; j < d; j++) {
        double g = fbar == 1.0 ? s2[j] : fbar == -1.0 ? -s2[j] : s1[j] - fbar * s2[j];
        v[j] = (float)(g / (double)n);
        ss += (double)v[j] * v[j];
    }
    float inv = ss > 0 ? (float)(1 / sqrt(ss)) : 0;
    for (int64_t j = 0; j < d; j++) v[j] = cfg->linf ? (float)((v[j] > 0) - (v[j] < 0)) : v[j] * inv;
}

static foil_status estimate(FoilEvasionCtx *c, const hsj_config *cfg, hsj_work *w, const uint8_t *which)
{
    int64_t d = c->d, row = 0, done_k = 0;
    for (int64_t r = 0; r < w->rows; r++) {
        if (!which[r]) continue;
        memset(w->s1 + r * d, 0, (size_t)d * sizeof(double));
        memset(w->s2 + r * d, 0, (size_t)d * sizeof(double));
        w->sum_f[r] = 0;
    }
    foil_status st = FOIL_OK;
    while (!st) {
        int64_t k = 0;
        while (k < CALL_ROWS && row < w->rows) {
            if (!which[row] || done_k == w->evals[row]) {
                row++;
                done_k = 0;
                continue;
            }
            draw_eval(c, cfg, w, row, w->cand + k * d);
            w->owner[k] = w->example[row];
            w->slot[k++] = row;
            done_k++;
        }
        if (!k) break;
        if ((st = ask(c, w, k))) break;
        for (int64_t s = 0; s < k; s++)
            accumulate(c, w, w->slot[s], w->cand + s * d, goal(c, w->example[w->slot[s]], w->labels[s]));
    }
    for (int64_t r = 0; !st && r < w->rows; r++)
        if (which[r]) direction(c, cfg, w, r);
    return st;
}

/* ---- the step (geometric_progression_for_stepsize) ---- */

static foil_status step(FoilEvasionCtx *c, const hsj_config *cfg, hsj_work *w, int64_t iter, uint8_t *which)
{
    int64_t d = c->d, *halvings = w->halvings;
    for (int64_t r = 0; r < w->rows; r++) {
        if (!which[r]) continue;
        w->xi[r] = w->dist[r] / sqrt((double)iter);
        halvings[r] = 0;
    }
    foil_status st = FOIL_OK;
    for (;;) {
        int64_t k = 0;
        for (int64_t r = 0; r < w->rows; r++) {
            if (which[r] != 1) continue;
            if (remaining(c, cfg, w, r) < 1 || halvings[r] > MAX_HALVINGS) {
                which[r] = 0; /* no step: x' stays */
                continue;
            }
            float *a = w->cand + k * d, f = (float)w->xi[r];
            const float *p = w->pert + r * d, *v = w->upd + r * d;
            for (int64_t j = 0; j < d; j++) a[j] = p[j] + f * v[j];
            foilEvasionClip(c, w->example[r], a);
            w->owner[k] = w->example[r];
            w->slot[k++] = r;
        }
        if (!k || (st = ask(c, w, k))) return st;
        for (int64_t s = 0; s < k; s++) {
            int64_t r = w->slot[s];
            if (goal(c, w->example[r], w->labels[s])) {
                memcpy(w->pert + r * d, w->cand + s * d, (size_t)d * sizeof(float));
                which[r] = 2; /* stepped */
            } else {
                w->xi[r] /= 2;
                halvings[r]++;
            }
        }
    }
}

/* ---- the driver ---- */

static foil_status iterate(FoilEvasionCtx *c, const hsj_config *cfg, hsj_work *w)
{
    uint8_t *which = malloc((size_t)w->rows);
    if (!which) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    foil_status st = FOIL_OK;
    for (int64_t j = 1; !st && j <= cfg->iterations; j++) {
        int64_t live = 0, n_done = 0;
        int64_t want = (int64_t)((double)cfg->init_evals * sqrt((double)j));
        if (want > cfg->max_evals) want = cfg->max_evals;
        for (int64_t r = 0; r < w->rows; r++) {
            which[r] = 0;
            if (w->state[r] != RUNNING) continue;
            int64_t n = remaining(c, cfg, w, r) - cfg->reserve;
            w->evals[r] = n < want ? n : want;
            if (w->evals[r] < 1) {
                w->state[r] = FINISHED;
                continue;
            }
            w->delta[r] = j == 1 ? 0.1 * cfg->range
                                 : (cfg->linf ? (double)c->d : sqrt((double)c->d)) * cfg->theta * w->dist_post[r];
            which[r] = 1;
            live++;
        }
        for (int64_t r = 0; r < w->rows; r++) n_done += w->state[r] == FINISHED;
        foilEvasionGroupProgress(c, n_done);
        if (!live) break;
        if ((st = estimate(c, cfg, w, which)) || (st = step(c, cfg, w, j, which))) break;
        for (int64_t r = 0; r < w->rows; r++) which[r] = which[r] == 2;
        st = boundary_search(c, cfg, w, which);
    }
    free(which);
    return st;
}

static foil_status run_group(FoilEvasionCtx *c, void *arg, const int64_t *examples, int64_t rows)
{
    const hsj_config *cfg = arg;
    hsj_work w;
    int64_t d = c->d;
    foil_status st = work_alloc(&w, c, rows);
    if (st) return st;
    w.rows = rows;
    if ((st = index_classes(c, &w))) {
        foilBuffersFree(&w.mem);
        return st;
    }
    for (int64_t r = 0; r < rows; r++) {
        int64_t i = examples[r];
        w.example[r] = i;
        w.start[r] = c->queries[i];
        w.rng[r] = foilEvasionRng(c, 0x4a5a, i);
        w.best_dist[r] = INFINITY;
        memcpy(w.best + r * d, c->x + i * d, (size_t)d * sizeof(float));
    }
    if (!(st = find_start(c, cfg, &w)) && !(st = blend_search(c, cfg, &w))) {
        memset(w.flag, 0, (size_t)rows);
        uint8_t *all = malloc((size_t)rows);
        if (!all) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
        else {
            memset(all, 1, (size_t)rows);
            st = boundary_search(c, cfg, &w, all);
            free(all);
        }
    }
    if (!st) st = iterate(c, cfg, &w);
    for (int64_t r = 0; !st && r < rows; r++)
        memcpy(c->adv + examples[r] * d, w.best + r * d, (size_t)d * sizeof(float));
    foilBuffersFree(&w.mem);
    return st;
}

static foil_status configure(const FoilEvasionCtx *c, hsj_config *cfg)
{
    const char *name = c->info->name;
    double gamma = 1.0, init_evals = 100, max_evals = 10000;
    FoilParam params[] = {{"gamma", &gamma}, {"init_evals", &init_evals}, {"max_evals", &max_evals}};
    foil_status st = foilEvasionParams(c, params, 3);
    if (st) return st;
    if (c->t->norm != FOIL_NORM_LINF && c->t->norm != FOIL_NORM_L2)
        return foil_error(FOIL_ERR_ARG, "%s: hsj supports the linf and l2 norms only", name);
    if (!(gamma > 0)) return foil_error(FOIL_ERR_ARG, "%s: gamma must be > 0", name);
    if (!(init_evals >= 1 && max_evals >= init_evals && max_evals <= 1e7))
        return foil_error(FOIL_ERR_ARG, "%s: need 1 <= init_evals <= max_evals <= 1e7", name);
    double range2 = 0;
    for (int64_t j = 0; j < c->d; j++) {
        double w = (double)c->t->upper[j] - c->t->lower[j];
        if (!isfinite(w))
            return foil_error(FOIL_ERR_ARG, "%s: feature %lld has infinite bounds; the noise start needs finite ones",
                              name, (long long)j);
        range2 += w * w;
    }
    memset(cfg, 0, sizeof *cfg);
    cfg->linf = c->t->norm == FOIL_NORM_LINF;
    double dd = (double)c->d;
    cfg->theta = cfg->linf ? gamma / (dd * dd) : gamma / (dd * sqrt(dd));
    cfg->range = sqrt(range2 / dd);
    cfg->iterations = c->t->steps ? c->t->steps : 40;
    cfg->queries = c->t->queries ? c->t->queries : 5000;
    cfg->init_evals = (int64_t)init_evals;
    cfg->max_evals = (int64_t)max_evals;
    /* A step (at least one query) and a boundary search (log2(1 / theta)
     * halvings of the interval) after each estimate. */
    cfg->reserve = 2 + (int64_t)ceil(log2(1 / cfg->theta));
    return FOIL_OK;
}

foil_status foilEvasionHsj(FoilEvasionCtx *c)
{
    hsj_config cfg = {0};
    foil_status st = configure(c, &cfg);
    if (st) return st;
    return foilEvasionEachGroup(c, run_group, &cfg);
}
