/*
 * attacks/square.c - Square Attack (Andriushchenko, Croce, Flammarion, Hein
 * 2020, "Square Attack: a query-efficient black-box adversarial attack via
 * random search"), Linf and L2, score-based: it sees only logits, through
 * foilEvasionLogits. Ported from the authors' code (max-andr/square-attack,
 * attack.py) and AutoAttack's version (fra31/auto-attack, square.py).
 *
 * Images x are (C, H, W), D = C H W features, eps the radius. Random search
 * on the loss L, lower is better:
 *   untargeted  L = margin = z_y - max_{k!=y} z_k
 *   targeted    L = CE(z, t) = logsumexp(z) - z_t      (the reference's
 *               choice; its margin max_{k!=t} z_k - z_t only says "done")
 * One query per example per iteration: a candidate x_new that differs from
 * the best point x_best in one random square window is kept when
 * L(x_new) < L(x_best) or x_new already meets the goal (AutoAttack). An
 * example stops as soon as it meets the goal (no further queries).
 *
 * Schedule. With Q queries per run (the first one spent on the initial
 * point, so Q - 1 iterations), iteration i uses the fraction of pixels
 *   p = p_init / 2^k,  k from i' = floor(i / Q * 10000) by the thresholds
 *   10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000 (p_selection, rescaled
 *   to Q as the reference does for n_iters != 10000),
 * and the square side s = round(sqrt(p D / C)).
 *
 * Linf (attack.py, square_attack_linf):
 *   init     x_best = clip(x + eps * sigma_{c,w}), one random sign per
 *            channel and column: vertical stripes.
 *   step     s clamped to [1, min(H, W) - 1], a window at a uniform
 *            position (top-left in [0, H - s) x [0, W - s)); its values
 *            become clip(x + eps * sigma_c), a random sign per channel,
 *            redrawn while that would change nothing (|diff| < 1e-7
 *            everywhere in the window; at most 100 draws here).
 * L2 (square_attack_l2):
 *   init     a grid of (H / 5)-sized tiles, each eta(s) times a random
 *            sign per channel, rescaled to norm eps, clipped.
 *   step     s = max(round(.), 3), made odd, clamped to min(H, W) - 1; two
 *            windows W1, W2. With delta = x_best - x, per channel c:
 *              n1_c = ||delta_c on W1||, nw_c = ||delta_c on W1 u W2||,
 *              u_c  = eta(s) sigma_c + delta_c|W1 / (1e-10 + n1_c),
 *              u_c <- u_c / ||u_c|| * sqrt(max(eps^2 - ||delta||^2, 0) / C + nw_c^2),
 *            then delta|W2 = 0, delta|W1 = u, x_new = clip(x + eps delta / ||delta||).
 *   eta(s)   the reference's pseudo-Gaussian bump: two stacked rectangles
 *            of opposite sign, each a sum of nested boxes weighted
 *            1 / (k + 1)^2, unit L2 norm, transposed with probability 1/2.
 *
 * Differences from the reference, all deliberate: randomness is drawn per
 * example (so results do not depend on batch composition), which for L2
 * also means each example gets its own windows and bump, where the
 * reference shares them across a batch; the per-feature bounds and
 * immutable features of the threat replace the reference's [0, 1] clip;
 * restarts split the budget Q (each restart gets Q / R queries and
 * attacks the examples not fooled yet); the per-channel norms of the L2
 * step are attack.py's (AutoAttack uses one norm over all channels, the
 * same when C = 1). Inputs must be images (N, C, H, W); tabular data is
 * rejected because a square window needs two spatial dimensions.
 *
 * Defaults: queries 5000 (AutoAttack's), p_init 0.8 for both norms
 * (AutoAttack's; attack.py suggests 0.05 Linf / 0.1 L2 for undefended
 * ImageNet models), restarts 1.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attacks/attack_internal.h"

#define SIGN_REDRAWS 100

typedef struct sq_config {
    int64_t queries;       /* per restart, the initial query included */
    int64_t restarts;
    double p_init;
    int64_t C, H, W;
} sq_config;

typedef struct sq_work {
    int64_t rows;
    int64_t *example;      /* rows */
    float *best;           /* rows x D: x_best */
    float *best_loss;      /* rows, over all restarts */
    float *run_loss;       /* rows, this restart */
    uint8_t *done;         /* rows: fooled */
    foil_rng *rng;         /* rows: this restart's stream */
    float *cand, *z;       /* live rows: candidates, logits */
    float *keep;           /* rows x D: the lowest-loss point over restarts */
    int64_t *owner, *live;
    float *delta, *eta, *bump; /* D, H*W, H*W scratch */
    FoilBuffers mem;       /* owns every array above */
} sq_work;

static foil_status work_alloc(sq_work *w, int64_t rows, int64_t d, int64_t classes, int64_t hw)
{
    memset(w, 0, sizeof *w);
    size_t r = (size_t)rows, rd = (size_t)(rows * d);
    w->example = foilBuffersTake(&w->mem, r * sizeof *w->example);
    w->best = foilBuffersTake(&w->mem, rd * sizeof *w->best);
    w->best_loss = foilBuffersTake(&w->mem, r * sizeof *w->best_loss);
    w->run_loss = foilBuffersTake(&w->mem, r * sizeof *w->run_loss);
    w->done = foilBuffersTake(&w->mem, r);
    w->rng = foilBuffersTake(&w->mem, r * sizeof *w->rng);
    w->cand = foilBuffersTake(&w->mem, rd * sizeof *w->cand);
    w->z = foilBuffersTake(&w->mem, r * (size_t)classes * sizeof *w->z);
    w->keep = foilBuffersTake(&w->mem, rd * sizeof *w->keep);
    w->owner = foilBuffersTake(&w->mem, r * sizeof *w->owner);
    w->live = foilBuffersTake(&w->mem, r * sizeof *w->live);
    w->delta = foilBuffersTake(&w->mem, (size_t)d * sizeof *w->delta);
    w->eta = foilBuffersTake(&w->mem, (size_t)hw * sizeof *w->eta);
    w->bump = foilBuffersTake(&w->mem, (size_t)hw * sizeof *w->bump);
    return foilBuffersStatus(&w->mem, "square", rows);
}

/* ---- the loss ---- */

/* L on one logit row (lower is better), see the top of the file. */
static float square_loss(const FoilEvasionCtx *c, int64_t i, const float *z)
{
    int64_t C = c->classes;
    if (c->targeted) {
        int64_t t = c->target[i];
        double m = z[0];
        for (int64_t k = 1; k < C; k++) m = fmax(m, z[k]);
        double s = 0;
        for (int64_t k = 0; k < C; k++) s += exp((double)z[k] - m);
        return (float)(m + log(s) - z[t]);
    }
    int64_t y = c->y[i];
    double other = -INFINITY;
    for (int64_t k = 0; k < C; k++)
        if (k != y) other = fmax(other, z[k]);
    return (float)(z[y] - other);
}

/* ---- the schedule ---- */

/* p_selection of the reference, with the iteration rescaled to 10000. */
static double p_selection(double p_init, int64_t it, int64_t n_iters)
{
    static const int thresholds[] = {10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000};
    int64_t i = (int64_t)((double)it / (double)n_iters * 10000);
    double p = p_init;
    for (int k = 0; k < 9; k++)
        if (i > thresholds[k]) p = p_init / (double)(2 << k);
    return p;
}

static int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }

static float sign_draw(foil_rng *r) { return foil_rng_u64(r) & 1 ? 1.0f : -1.0f; }

/* Feature j of example i moved to v: inside its bounds, or x's own value
 * when immutable. */
static float feasible(const FoilEvasionCtx *c, int64_t i, int64_t j, float v)
{
    if (c->t->immutable && c->t->immutable[j]) return c->x[i * c->d + j];
    return fminf(fmaxf(v, c->t->lower[j]), c->t->upper[j]);
}

/* ---- Linf ---- */

static void linf_init(const FoilEvasionCtx *c, const sq_config *cfg, int64_t i, foil_rng *r, float *a)
{
    const float *x = c->x + i * c->d;
    float eps = c->t->eps;
    for (int64_t ch = 0; ch < cfg->C; ch++)
        for (int64_t col = 0; col < cfg->W; col++) {
            float sg = sign_draw(r);
            for (int64_t h = 0; h < cfg->H; h++) {
                int64_t j = (ch * cfg->H + h) * cfg->W + col;
                a[j] = feasible(c, i, j, x[j] + eps * sg);
            }
        }
}

/* The candidate: best with one s x s window set to x + eps * sigma_c. */
static void linf_step(const FoilEvasionCtx *c, const sq_config *cfg, int64_t i, foil_rng *r, double p,
                      const float *best, float *a)
{
    const float *x = c->x + i * c->d;
    int64_t C = cfg->C, H = cfg->H, W = cfg->W;
    float eps = c->t->eps;
    int64_t s = (int64_t)llround(sqrt(p * (double)c->d / (double)C));
    s = imin(imax(s, 1), imin(H, W) - 1);
    int64_t vh = (int64_t)foil_rng_below(r, (uint64_t)(H - s)), vw = (int64_t)foil_rng_below(r, (uint64_t)(W - s));
    memcpy(a, best, (size_t)c->d * sizeof *a);
    /* The reference first tries the window's current delta, which changes
     * nothing, so in effect it redraws the signs until something changes. */
    for (int tries = 0; tries < SIGN_REDRAWS; tries++) {
        int changed = 0;
        for (int64_t ch = 0; ch < C; ch++) {
            float sg = sign_draw(r);
            for (int64_t h = vh; h < vh + s; h++)
                for (int64_t q = vw; q < vw + s; q++) {
                    int64_t j = (ch * H + h) * W + q;
                    a[j] = feasible(c, i, j, x[j] + eps * sg);
                    changed |= fabsf(a[j] - best[j]) >= 1e-7f;
                }
        }
        if (changed) break;
    }
}

/* ---- L2 ---- */

/* The reference's eta_rectangles(xr, yr) into out (row stride ld): nested
 * boxes around the centre, box k weighted 1 / (k + 1)^2, unit L2 norm. */
static void eta_rect(int64_t xr, int64_t yr, float *out, int64_t ld)
{
    for (int64_t r = 0; r < xr; r++)
        for (int64_t q = 0; q < yr; q++) out[r * ld + q] = 0;
    int64_t c0 = xr / 2, c1 = yr / 2, n = imax(xr / 2 + 1, yr / 2 + 1);
    for (int64_t k = 0; k < n; k++, c0--, c1--) {
        float v = 1.0f / (float)((k + 1) * (k + 1));
        for (int64_t r = imax(c0, 0); r < imin(c0 + 2 * k + 1, xr); r++)
            for (int64_t q = imax(c1, 0); q < imin(c1 + 2 * k + 1, yr); q++) out[r * ld + q] += v;
    }
    double ss = 0;
    for (int64_t r = 0; r < xr; r++)
        for (int64_t q = 0; q < yr; q++) ss += (double)out[r * ld + q] * out[r * ld + q];
    float f = ss > 0 ? (float)(1 / sqrt(ss)) : 0;
    for (int64_t r = 0; r < xr; r++)
        for (int64_t q = 0; q < yr; q++) out[r * ld + q] *= f;
}

/* eta(s) into e (s x s): +rectangle on top, -rectangle below, unit norm,
 * transposed with probability 1/2; tmp is s x s scratch. */
static void eta(int64_t s, foil_rng *r, float *e, float *tmp)
{
    eta_rect(s / 2, s, e, s);
    eta_rect(s - s / 2, s, e + (s / 2) * s, s);
    double ss = 0;
    for (int64_t k = (s / 2) * s; k < s * s; k++) e[k] = -e[k];
    for (int64_t k = 0; k < s * s; k++) ss += (double)e[k] * e[k];
    float f = ss > 0 ? (float)(1 / sqrt(ss)) : 0;
    for (int64_t k = 0; k < s * s; k++) e[k] *= f;
    if (foil_rng_uniform(r) > 0.5f) {
        memcpy(tmp, e, (size_t)(s * s) * sizeof *tmp);
        for (int64_t a = 0; a < s; a++)
            for (int64_t b = 0; b < s; b++) e[a * s + b] = tmp[b * s + a];
    }
}

static double sumsq(const float *v, int64_t n)
{
    double s = 0;
    for (int64_t j = 0; j < n; j++) s += (double)v[j] * v[j];
    return s;
}

/* a = x + eps * delta / ||delta||, into the bounds and the ball. */
static void l2_place(const FoilEvasionCtx *c, int64_t i, const float *delta, float *a)
{
    const float *x = c->x + i * c->d;
    float f = (float)(c->t->eps / (sqrt(sumsq(delta, c->d)) + 1e-12));
    for (int64_t j = 0; j < c->d; j++) a[j] = x[j] + f * delta[j];
    foilEvasionProject(c, i, a);
}

static void l2_init(const FoilEvasionCtx *c, const sq_config *cfg, int64_t i, foil_rng *r, sq_work *w, float *a)
{
    int64_t C = cfg->C, H = cfg->H, W = cfg->W;
    int64_t s = imax(H / 5, 1), sph = imax((H - 5 * s) / 2, 0), spw = imax((W - 5 * s) / 2, 0);
    float *delta = w->delta;
    memset(delta, 0, (size_t)c->d * sizeof *delta);
    for (int64_t th = sph; th + s <= H && th < sph + (H / s) * s; th += s)
        for (int64_t tw = spw; tw + s <= W && tw < spw + (W / s) * s; tw += s) {
            eta(s, r, w->eta, w->bump);
            for (int64_t ch = 0; ch < C; ch++) {
                float sg = sign_draw(r);
                for (int64_t h = 0; h < s; h++)
                    for (int64_t q = 0; q < s; q++) delta[(ch * H + th + h) * W + tw + q] += sg * w->eta[h * s + q];
            }
        }
    l2_place(c, i, delta, a);
}

/* Sum of squares of channel ch of delta over the s x s window at (h0, w0),
 * and (when h1 >= 0) over its union with the window at (h1, w1). */
static double window_sumsq(const float *delta, const sq_config *cfg, int64_t ch, int64_t s, int64_t h0, int64_t w0,
                           int64_t h1, int64_t w1)
{
    double ss = 0;
    for (int64_t h = 0; h < cfg->H; h++)
        for (int64_t q = 0; q < cfg->W; q++) {
            int in0 = h >= h0 && h < h0 + s && q >= w0 && q < w0 + s;
            int in1 = h1 >= 0 && h >= h1 && h < h1 + s && q >= w1 && q < w1 + s;
            if (!in0 && !in1) continue;
            float v = delta[(ch * cfg->H + h) * cfg->W + q];
            ss += (double)v * v;
        }
    return ss;
}

static void l2_step(const FoilEvasionCtx *c, const sq_config *cfg, int64_t i, foil_rng *r, double p, sq_work *w,
                    const float *best, float *a)
{
    const float *x = c->x + i * c->d;
    int64_t C = cfg->C, H = cfg->H, W = cfg->W;
    double eps = c->t->eps;
    float *delta = w->delta, *u = w->bump;
    for (int64_t j = 0; j < c->d; j++) delta[j] = best[j] - x[j];
    int64_t s = imax((int64_t)llround(sqrt(p * (double)c->d / (double)C)), 3);
    if (s % 2 == 0) s++;
    s = imin(s, imin(H, W) - 1);
    int64_t vh = (int64_t)foil_rng_below(r, (uint64_t)(H - s)), vw = (int64_t)foil_rng_below(r, (uint64_t)(W - s));
    int64_t vh2 = (int64_t)foil_rng_below(r, (uint64_t)(H - s)), vw2 = (int64_t)foil_rng_below(r, (uint64_t)(W - s));
    double norm_image2 = sumsq(delta, c->d);
    eta(s, r, w->eta, u);
    for (int64_t ch = 0; ch < C; ch++) {
        double n1 = sqrt(window_sumsq(delta, cfg, ch, s, vh, vw, -1, -1));
        double nw2 = window_sumsq(delta, cfg, ch, s, vh, vw, vh2, vw2);
        float sg = sign_draw(r);
        for (int64_t h = 0; h < s; h++)
            for (int64_t q = 0; q < s; q++)
                u[h * s + q] = sg * w->eta[h * s + q] + (float)(delta[(ch * H + vh + h) * W + vw + q] / (1e-10 + n1));
        double target = sqrt(fmax(eps * eps - norm_image2, 0) / (double)C + nw2);
        float f = (float)(target / (sqrt(sumsq(u, s * s)) + 1e-12));
        for (int64_t h = 0; h < s; h++)
            for (int64_t q = 0; q < s; q++) delta[(ch * H + vh2 + h) * W + vw2 + q] = 0;
        for (int64_t h = 0; h < s; h++)
            for (int64_t q = 0; q < s; q++) delta[(ch * H + vh + h) * W + vw + q] = f * u[h * s + q];
    }
    l2_place(c, i, delta, a);
}

/* ---- the driver ---- */

/* Evaluate the k gathered candidates; keep improvements, retire the fooled. */
static foil_status evaluate(FoilEvasionCtx *c, sq_work *w, int64_t k, int initial)
{
    foil_status st = foilEvasionLogits(c, w->cand, w->owner, k, w->z);
    if (st) return st;
    for (int64_t s = 0; s < k; s++) {
        int64_t r = w->live[s], i = w->example[r];
        const float *z = w->z + s * c->classes, *a = w->cand + s * c->d;
        float loss = square_loss(c, i, z);
        int fooled = foilEvasionFooled(c, i, z);
        if (initial || fooled || loss < w->run_loss[r]) {
            memcpy(w->best + r * c->d, a, (size_t)c->d * sizeof *a);
            w->run_loss[r] = loss;
        }
        if (fooled || w->run_loss[r] < w->best_loss[r]) {
            memcpy(w->keep + r * c->d, w->best + r * c->d, (size_t)c->d * sizeof(float));
            w->best_loss[r] = w->run_loss[r];
        }
        if (fooled) w->done[r] = 1;
    }
    return FOIL_OK;
}

static int64_t count_done(const sq_work *w)
{
    int64_t n = 0;
    for (int64_t r = 0; r < w->rows; r++) n += w->done[r];
    return n;
}

static foil_status run_restart(FoilEvasionCtx *c, sq_work *w, const sq_config *cfg, int64_t restart)
{
    int64_t k = 0, d = c->d;
    int l2 = c->t->norm == FOIL_NORM_L2;
    for (int64_t r = 0; r < w->rows; r++) {
        if (w->done[r]) continue;
        int64_t i = w->example[r];
        w->rng[r] = foilEvasionRng(c, 0x5a0a + (uint64_t)restart, i);
        if (l2) l2_init(c, cfg, i, &w->rng[r], w, w->cand + k * d);
        else linf_init(c, cfg, i, &w->rng[r], w->cand + k * d);
        w->owner[k] = i;
        w->live[k++] = r;
    }
    foil_status st = evaluate(c, w, k, 1);
    for (int64_t it = 0; !st && it < cfg->queries - 1; it++) {
        double p = p_selection(cfg->p_init, it, cfg->queries);
        k = 0;
        for (int64_t r = 0; r < w->rows; r++) {
            if (w->done[r]) continue;
            int64_t i = w->example[r];
            if (l2) l2_step(c, cfg, i, &w->rng[r], p, w, w->best + r * d, w->cand + k * d);
            else linf_step(c, cfg, i, &w->rng[r], p, w->best + r * d, w->cand + k * d);
            w->owner[k] = i;
            w->live[k++] = r;
        }
        if (!k) break;
        st = evaluate(c, w, k, 0);
        foilEvasionGroupProgress(c, count_done(w));
    }
    return st;
}

static foil_status run_group(FoilEvasionCtx *c, void *arg, const int64_t *examples, int64_t rows)
{
    const sq_config *cfg = arg;
    sq_work w;
    foil_status st = work_alloc(&w, rows, c->d, c->classes, cfg->H * cfg->W);
    if (st) return st;
    w.rows = rows;
    memcpy(w.example, examples, (size_t)rows * sizeof *examples);
    for (int64_t r = 0; r < rows; r++) {
        w.best_loss[r] = INFINITY;
        memcpy(w.keep + r * c->d, c->x + examples[r] * c->d, (size_t)c->d * sizeof(float));
    }
    for (int64_t restart = 0; !st && restart < cfg->restarts; restart++)
        st = run_restart(c, &w, cfg, restart);
    for (int64_t r = 0; !st && r < rows; r++)
        memcpy(c->adv + examples[r] * c->d, w.keep + r * c->d, (size_t)c->d * sizeof(float));
    foilBuffersFree(&w.mem);
    return st;
}

static foil_status configure(const FoilEvasionCtx *c, sq_config *cfg)
{
    const char *name = c->info->name;
    double p_init = 0.8;
    FoilParam params[] = {{"p_init", &p_init}};
    foil_status st = foilEvasionParams(c, params, 1);
    if (st) return st;
    if (c->t->norm != FOIL_NORM_LINF && c->t->norm != FOIL_NORM_L2)
        return foil_error(FOIL_ERR_ARG, "%s: square supports the linf and l2 norms only", name);
    if (c->t->eps <= 0) return foil_error(FOIL_ERR_ARG, "%s: square needs eps > 0", name);
    if (!(p_init > 0 && p_init <= 1)) return foil_error(FOIL_ERR_ARG, "%s: p_init must be in (0, 1]", name);
    int64_t min_side = c->t->norm == FOIL_NORM_L2 ? 5 : 2;
    if (c->ndim != 4 || c->shape[2] < min_side || c->shape[3] < min_side)
        return foil_error(FOIL_ERR_ARG,
                          "%s: square attacks images (N, C, H, W) with H, W >= %lld (it perturbs square windows); "
                          "these inputs have %d dimensions%s",
                          name, (long long)min_side, c->ndim, c->ndim == 2 ? " (tabular data)" : "");
    cfg->C = c->shape[1];
    cfg->H = c->shape[2];
    cfg->W = c->shape[3];
    cfg->p_init = p_init;
    cfg->restarts = c->t->restarts ? c->t->restarts : 1;
    int64_t budget = c->t->queries ? c->t->queries : 5000;
    cfg->queries = budget / cfg->restarts;
    if (cfg->queries < 1)
        return foil_error(FOIL_ERR_ARG, "%s: a budget of %lld queries cannot be split over %lld restarts", name,
                          (long long)budget, (long long)cfg->restarts);
    return FOIL_OK;
}

foil_status foilEvasionSquare(FoilEvasionCtx *c)
{
    sq_config cfg = {0};
    foil_status st = configure(c, &cfg);
    if (st) return st;
    return foilEvasionEachGroup(c, run_group, &cfg);
}
