/*
 * attacks/deepfool.c - DeepFool (Moosavi-Dezfooli, Fawzi, Frossard 2016,
 * "DeepFool: a simple and accurate method to fool deep neural networks",
 * Algorithm 2, multi-class), L2 and Linf.
 *
 * DeepFool linearises the classifier around the current point x_t and steps
 * to the nearest linearised decision boundary. With y the label, z the
 * logits and, for each candidate class k != y,
 *   f'_k = z_k(x_t) - z_y(x_t)          (negative while x_t is still y)
 *   w'_k = grad_x (z_k - z_y)(x_t)
 * the closest boundary is l = argmin_k |f'_k| / ||w'_k||_q with q the dual
 * of the threat's norm p (1/p + 1/q = 1), and the step onto it is
 *   r_t = |f'_l| / ||w'_l||_q^q * |w'_l|^(q-1) (.) sign(w'_l)
 * i.e.  L2 (q = 2):   r_t = |f'_l| / ||w'_l||_2^2 * w'_l
 *       Linf (q = 1): r_t = |f'_l| / ||w'_l||_1 * sign(w'_l).
 * As in the authors' code (LTS4/DeepFool) the step length gets 1e-4 added
 * (so that a point exactly on the boundary still crosses it), the steps
 * are summed into r_tot, and every iterate is x_0 + (1 + overshoot) r_tot;
 * the loop ends when the label changes or after max_iter steps.
 *
 * What foil adds: each iterate is clipped to the input bounds (and
 * immutable features reset), after which r_tot is set to the clipped
 * point's (x_t - x_0) / (1 + overshoot), so the next linearisation is taken
 * where the model really is. Features that cannot move (lower == upper, or
 * immutable) get a zero gradient, so the step is the closest boundary point
 * within the features that can change.
 *
 * Candidate classes are the top nb_candidate classes of the logits at the
 * start point (the label among them), as in the reference code and ART.
 * Queries per iteration and example: one gradient of z_k - z_y per
 * candidate k != y (FOIL_LOSS_LOGIT_DIFF, all live examples in one batch),
 * then one forward pass at the new iterate to test the label; plus one
 * forward pass at the start.
 *
 * foilDeepfoolRun is shared with the universal perturbation (universal.c),
 * which runs DeepFool from x_i + v.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attacks/attack_internal.h"

typedef struct df_work {
    int64_t rows, ncand;         /* ncand = candidates - 1 classes other than y per row */
    int64_t *cand;               /* rows x ncand: candidate classes, best first */
    float *rtot;                 /* rows x D */
    uint8_t *live;               /* rows: still moving */
    int64_t *map;                /* live slot -> row */
    float *xs, *g, *best_w, *best_p, *z, *val;
    int64_t *owner, *label, *other;
    uint8_t *fixed;              /* D: features that cannot move */
    FoilBuffers mem;       /* owns every array above */
} df_work;

static foil_status df_alloc(df_work *w, const FoilEvasionCtx *c, int64_t rows, int64_t ncand)
{
    memset(w, 0, sizeof *w);
    w->rows = rows;
    w->ncand = ncand;
    size_t r = (size_t)rows, rd = (size_t)(rows * c->d);
    w->cand = foilBuffersTake(&w->mem, r * (size_t)(ncand ? ncand : 1) * sizeof *w->cand);
    w->rtot = foilBuffersTake(&w->mem, rd * sizeof *w->rtot);
    w->live = foilBuffersTake(&w->mem, r);
    w->map = foilBuffersTake(&w->mem, r * sizeof *w->map);
    w->xs = foilBuffersTake(&w->mem, rd * sizeof *w->xs);
    w->g = foilBuffersTake(&w->mem, rd * sizeof *w->g);
    w->best_w = foilBuffersTake(&w->mem, rd * sizeof *w->best_w);
    w->best_p = foilBuffersTake(&w->mem, r * sizeof *w->best_p);
    w->z = foilBuffersTake(&w->mem, r * (size_t)c->classes * sizeof *w->z);
    w->val = foilBuffersTake(&w->mem, r * sizeof *w->val);
    w->owner = foilBuffersTake(&w->mem, r * sizeof *w->owner);
    w->label = foilBuffersTake(&w->mem, r * sizeof *w->label);
    w->other = foilBuffersTake(&w->mem, r * sizeof *w->other);
    w->fixed = foilBuffersTake(&w->mem, (size_t)c->d);
    foil_status st = foilBuffersStatus(&w->mem, "deepfool", rows);
    if (st) return st;
    for (int64_t j = 0; j < c->d; j++)
        w->fixed[j] = c->t->lower[j] == c->t->upper[j] || (c->t->immutable && c->t->immutable[j]);
    return FOIL_OK;
}

/* Gather the live rows' current points (out) into w->xs; returns how many. */
static int64_t gather_live(const FoilEvasionCtx *c, df_work *w, const int64_t *examples, const float *out)
{
    int64_t k = 0;
    for (int64_t r = 0; r < w->rows; r++) {
        if (!w->live[r]) continue;
        memcpy(w->xs + k * c->d, out + r * c->d, (size_t)c->d * sizeof(float));
        w->owner[k] = examples[r];
        w->label[k] = c->y[examples[r]];
        w->map[k++] = r;
    }
    return k;
}

/* ||g||_q over the movable features (fixed ones are zeroed first). */
static double dual_norm(const df_work *w, foil_norm norm, float *g, int64_t d)
{
    double s = 0;
    for (int64_t j = 0; j < d; j++) {
        if (w->fixed[j]) g[j] = 0;
        s += norm == FOIL_NORM_LINF ? fabs((double)g[j]) : (double)g[j] * g[j];
    }
    return norm == FOIL_NORM_LINF ? s : sqrt(s);
}

/* One gradient call per candidate rank j: keep, per live row, the class
 * whose linearised boundary is closest (smallest |f'_k| / ||w'_k||_q). */
static foil_status closest_boundary(FoilEvasionCtx *c, df_work *w, const FoilDeepfoolConfig *cfg, int64_t k)
{
    int64_t d = c->d;
    FoilLogitLoss L = {FOIL_LOSS_LOGIT_DIFF, w->label, w->other, 0};
    for (int64_t s = 0; s < k; s++) w->best_p[s] = INFINITY;
    for (int64_t j = 0; j < w->ncand; j++) {
        for (int64_t s = 0; s < k; s++) w->other[s] = w->cand[w->map[s] * w->ncand + j];
        foil_status st = foilEvasionGrad(c, w->xs, w->owner, k, foilLogitLossFn, &L, w->val, NULL, w->g);
        if (st) return st;
        for (int64_t s = 0; s < k; s++) {
            float *g = w->g + s * d;
            double n = dual_norm(w, cfg->norm, g, d);
            if (!(n > 0)) continue;
            double p = fabs((double)w->val[s]) / n;
            if (p < w->best_p[s]) {
                w->best_p[s] = (float)p;
                memcpy(w->best_w + s * d, g, (size_t)d * sizeof *g);
            }
        }
    }
    return FOIL_OK;
}

/* r_tot += r_t; x_t = clip(x_0 + (1 + overshoot) r_tot); r_tot follows the clip. */
static void step_row(const FoilEvasionCtx *c, const FoilDeepfoolConfig *cfg, int64_t i, const float *wl, float p,
                     const float *x0, float *rtot, float *cur)
{
    int64_t d = c->d;
    double len = (double)p + 1e-4, scale;
    if (cfg->norm == FOIL_NORM_LINF) {
        for (int64_t j = 0; j < d; j++) rtot[j] += (float)(len * ((wl[j] > 0) - (wl[j] < 0)));
    } else {
        double n2 = 0;
        for (int64_t j = 0; j < d; j++) n2 += (double)wl[j] * wl[j];
        scale = len / sqrt(n2);
        for (int64_t j = 0; j < d; j++) rtot[j] += (float)(scale * wl[j]);
    }
    float f = 1 + cfg->overshoot;
    for (int64_t j = 0; j < d; j++) cur[j] = x0[j] + f * rtot[j];
    foilEvasionClip(c, i, cur);
    for (int64_t j = 0; j < d; j++) rtot[j] = (cur[j] - x0[j]) / f;
}

/* Initial label test and candidate classes from the logits at the start. */
static void start_rows(const FoilEvasionCtx *c, df_work *w, const int64_t *examples, const float *z0,
                       uint8_t *fooled)
{
    for (int64_t r = 0; r < w->rows; r++) {
        int64_t i = examples[r];
        const float *z = z0 + r * c->classes;
        fooled[r] = foilArgmax(z, c->classes) != c->y[i];
        w->live[r] = !fooled[r] && w->ncand > 0;
        foilTopClasses(z, c->classes, c->y[i], w->ncand, w->cand + r * w->ncand);
    }
}

static foil_status iterate(FoilEvasionCtx *c, df_work *w, const FoilDeepfoolConfig *cfg, const int64_t *examples,
                           const float *start, float *out, uint8_t *fooled)
{
    int64_t d = c->d;
    for (int64_t it = 0; it < cfg->max_iter; it++) {
        int64_t k = gather_live(c, w, examples, out);
        if (!k) break;
        foil_status st = closest_boundary(c, w, cfg, k);
        if (st) return st;
        for (int64_t s = 0; s < k; s++) {
            int64_t r = w->map[s];
            /* All candidate gradients vanish: no direction to move in. */
            if (isinf(w->best_p[s])) {
                w->live[r] = 0;
                continue;
            }
            step_row(c, cfg, examples[r], w->best_w + s * d, w->best_p[s], start + r * d, w->rtot + r * d,
                     out + r * d);
        }
        k = gather_live(c, w, examples, out);
        if ((st = foilEvasionLogits(c, w->xs, w->owner, k, w->z))) return st;
        for (int64_t s = 0; s < k; s++) {
            int64_t r = w->map[s];
            if (foilArgmax(w->z + s * c->classes, c->classes) != c->y[examples[r]]) {
                fooled[r] = 1;
                w->live[r] = 0;
            }
        }
    }
    return FOIL_OK;
}

foil_status foilDeepfoolRun(FoilEvasionCtx *c, const FoilDeepfoolConfig *cfg, const int64_t *examples,
                              int64_t rows, const float *start, const float *start_logits, float *out,
                              uint8_t *fooled)
{
    if (rows == 0) return FOIL_OK;
    int64_t cands = cfg->candidates < c->classes ? cfg->candidates : c->classes;
    df_work w;
    foil_status st = df_alloc(&w, c, rows, cands > 1 ? cands - 1 : 0);
    if (st) return st;
    memcpy(out, start, (size_t)(rows * c->d) * sizeof *out);
    const float *z0 = start_logits;
    if (!z0) {
        for (int64_t r = 0; r < rows; r++) w.owner[r] = examples[r];
        st = foilEvasionLogits(c, start, w.owner, rows, w.z);
        z0 = w.z;
    }
    if (!st) {
        start_rows(c, &w, examples, z0, fooled);
        st = iterate(c, &w, cfg, examples, start, out, fooled);
    }
    foilBuffersFree(&w.mem);
    return st;
}

/* ---- the attack ---- */

static foil_status run_group(FoilEvasionCtx *c, void *arg, const int64_t *examples, int64_t rows)
{
    const FoilDeepfoolConfig *cfg = arg;
    size_t rd = (size_t)(rows * c->d);
    float *start = calloc(rd, sizeof *start), *out = malloc(rd * sizeof *out);
    uint8_t *fooled = malloc((size_t)rows);
    foil_status st = FOIL_OK;
    if (!start || !out || !fooled) st = foil_error(FOIL_ERR_NOMEM, "deepfool: out of memory");
    for (int64_t r = 0; !st && r < rows; r++)
        memcpy(start + r * c->d, c->x + examples[r] * c->d, (size_t)c->d * sizeof *start);
    if (!st) st = foilDeepfoolRun(c, cfg, examples, rows, start, NULL, out, fooled);
    /* The last iterate also for examples not fooled in max_iter steps (as
     * ART does); the runner scores it. */
    for (int64_t r = 0; !st && r < rows; r++)
        memcpy(c->adv + examples[r] * c->d, out + r * c->d, (size_t)c->d * sizeof *out);
    free(start);
    free(out);
    free(fooled);
    return st;
}

foil_status foilEvasionDeepfool(FoilEvasionCtx *c)
{
    double overshoot = 0.02, candidates = 10;
    FoilParam params[] = {{"overshoot", &overshoot}, {"nb_candidate", &candidates}};
    foil_status st = foilEvasionParams(c, params, 2);
    if (st) return st;
    if (!(overshoot >= 0)) return foil_error(FOIL_ERR_ARG, "deepfool: overshoot must be >= 0");
    if (!(candidates >= 2) || candidates != floor(candidates))
        return foil_error(FOIL_ERR_ARG, "deepfool: nb_candidate must be an integer >= 2");
    FoilDeepfoolConfig cfg = {c->t->norm, c->t->steps ? c->t->steps : 50, (float)overshoot, (int64_t)candidates};
    return foilEvasionEachGroup(c, run_group, &cfg);
}
