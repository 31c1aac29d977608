/*
 * attacks/nes.c - NES gradient estimation with projected steps (Ilyas,
 * Engstrom, Athalye, Lin 2018, "Black-box Adversarial Attacks with Limited
 * Queries and Information", the query-limited setting), score-based: it
 * sees only logits, through foilEvasionLogits. Ported from the authors'
 * code (labsix/limited-blackbox-attacks, attacks.py and main.py).
 *
 * Loss L(x) = CE(z(x), y) (untargeted, ascended) or CE(z(x), t) (targeted,
 * descended), as the reference's standard_loss. NES estimate with n
 * evaluations in antithetic pairs (n / 2 Gaussian u_k, each used as +u_k
 * and -u_k):
 *   g = 1 / (n sigma) sum_k [L(x + sigma u_k) - L(x - sigma u_k)] u_k
 * (the reference: the mean over the n samples of L_i noise_i / sigma).
 * Then, per example:
 *   momentum   g <- m g_prev + (1 - m) g                     (m = 0.9)
 *   plateau    the mean sampled loss of the last 5 steps: when the newest
 *              is worse than the oldest, lr <- max(lr / 2, lr_min) and the
 *              history restarts (plateau annealing; lr_min = lr / 200).
 *              "Worse" is "higher" in the reference, which attacks
 *              targeted; here it is higher CE(t) or lower CE(y).
 *   step       Linf: x <- P(x +- lr sign(g)); L2 (foil's addition, the
 *              paper has Linf only): x <- P(x +- lr g / ||g||),
 *              + untargeted, - targeted; P = foilEvasionProject
 *   check      one query on the new x: an example that meets the goal
 *              stops there (the reference's check at the top of its loop).
 * A step costs n + 1 queries and is taken only while they fit in the
 * example's budget. The reference's backtracking line search only queries
 * in its partial-information setting (top-k), which is not implemented
 * here, so with full logits every proposed step is taken, as there.
 * Evaluation points x +- sigma u are not clipped to the bounds (as in the
 * reference); every iterate is.
 *
 * Batching: the n evaluation points of every still-active example of the
 * group go to the model together (in calls of at most ~8192 rows).
 * Randomness is drawn per example, so results do not depend on batching.
 *
 * Defaults (main.py): sigma 0.001, n = 50 evaluations per estimate (its
 * samples_per_draw: 25 antithetic pairs), momentum 0.9, plateau length 5,
 * drop 2, lr = eps / 5 (its 0.01 at eps 0.05; --step-size overrides),
 * lr_min = lr / 200, queries 10000 per example (its max_queries).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attacks/attack_internal.h"
#include "foil/loss.h"

#define CALL_ROWS 8192
#define PLATEAU 5

typedef struct nes_config {
    int64_t queries, samples; /* per example; evaluations per estimate (even) */
    double sigma, momentum, lr, lr_min, drop;
} nes_config;

typedef struct nes_work {
    int64_t rows;
    int64_t *example, *start; /* rows: example index, its query count at the start */
    float *cur;               /* rows x D: iterate */
    float *g;                 /* rows x D: momentum-averaged estimate */
    double *lr;               /* rows: current step size */
    double *hist;             /* rows x PLATEAU: recent mean losses */
    int *n_hist;
    uint8_t *done, *stopped;  /* fooled; out of budget */
    foil_rng *rng;
    /* one call's worth: evaluation points, their noise, logits, losses */
    float *pts, *noise, *z, *loss;
    int64_t *owner, *label, *live;
    double *est;              /* D: one example's fresh estimate */
    FoilBuffers mem;       /* owns every array above */
} nes_work;

static foil_status work_alloc(nes_work *w, int64_t rows, int64_t d, int64_t classes, int64_t call_rows)
{
    memset(w, 0, sizeof *w);
    size_t r = (size_t)rows, rd = (size_t)(rows * d), cr = (size_t)call_rows;
    w->example = foilBuffersTake(&w->mem, r * sizeof *w->example);
    w->start = foilBuffersTake(&w->mem, r * sizeof *w->start);
    w->cur = foilBuffersTake(&w->mem, rd * sizeof *w->cur);
    w->g = foilBuffersTake(&w->mem, rd * sizeof *w->g);
    w->lr = foilBuffersTake(&w->mem, r * sizeof *w->lr);
    w->hist = foilBuffersTake(&w->mem, r * PLATEAU * sizeof *w->hist);
    w->n_hist = foilBuffersTake(&w->mem, r * sizeof *w->n_hist);
    w->done = foilBuffersTake(&w->mem, r);
    w->stopped = foilBuffersTake(&w->mem, r);
    w->rng = foilBuffersTake(&w->mem, r * sizeof *w->rng);
    w->pts = foilBuffersTake(&w->mem, cr * (size_t)d * sizeof *w->pts);
    w->noise = foilBuffersTake(&w->mem, cr / 2 * (size_t)d * sizeof *w->noise);
    w->z = foilBuffersTake(&w->mem, cr * (size_t)classes * sizeof *w->z);
    w->loss = foilBuffersTake(&w->mem, cr * sizeof *w->loss);
    w->owner = foilBuffersTake(&w->mem, (cr > r ? cr : r) * sizeof *w->owner);
    w->label = foilBuffersTake(&w->mem, cr * sizeof *w->label);
    w->live = foilBuffersTake(&w->mem, r * sizeof *w->live);
    w->est = foilBuffersTake(&w->mem, (size_t)d * sizeof *w->est);
    return foilBuffersStatus(&w->mem, "nes", rows);
}

/* ---- one step for a slice of rows ---- */

/* Fill the evaluation points of row r (slot s of this call). */
static void sample_points(const FoilEvasionCtx *c, const nes_config *cfg, nes_work *w, int64_t r, int64_t s)
{
    int64_t d = c->d, half = cfg->samples / 2;
    const float *x = w->cur + r * d;
    float *u = w->noise + s * half * d, *p = w->pts + s * cfg->samples * d;
    float sig = (float)cfg->sigma;
    for (int64_t k = 0; k < half; k++) {
        float *uk = u + k * d, *plus = p + k * d, *minus = p + (half + k) * d;
        for (int64_t j = 0; j < d; j++) {
            uk[j] = (float)foil_rng_normal(&w->rng[r]);
            plus[j] = x[j] + sig * uk[j];
            minus[j] = x[j] - sig * uk[j];
        }
    }
}

/* Plateau annealing on the history of mean sampled losses (lower is
 * better after the sign flip for untargeted attacks). */
static void anneal(const nes_config *cfg, nes_work *w, int64_t r, double loss)
{
    double *h = w->hist + r * PLATEAU;
    if (w->n_hist[r] == PLATEAU) {
        memmove(h, h + 1, (PLATEAU - 1) * sizeof *h);
        w->n_hist[r]--;
    }
    h[w->n_hist[r]++] = loss;
    if (w->n_hist[r] == PLATEAU && h[PLATEAU - 1] > h[0]) {
        if (w->lr[r] > cfg->lr_min) w->lr[r] = fmax(w->lr[r] / cfg->drop, cfg->lr_min);
        w->n_hist[r] = 0;
    }
}

/* From the losses of row r's points (slot s): the estimate, momentum,
 * annealing and the projected step. */
static void update_row(FoilEvasionCtx *c, const nes_config *cfg, nes_work *w, int64_t r, int64_t s)
{
    int64_t d = c->d, half = cfg->samples / 2, i = w->example[r];
    const float *loss = w->loss + s * cfg->samples, *u = w->noise + s * half * d;
    /* Untargeted attacks ascend CE(y); targeted ones descend CE(t): flip
     * so that the estimate is of the loss to minimise. */
    double sgn = c->targeted ? 1.0 : -1.0, mean = 0;
    for (int64_t k = 0; k < cfg->samples; k++) mean += sgn * loss[k];
    mean /= (double)cfg->samples;
    for (int64_t j = 0; j < d; j++) w->est[j] = 0;
    for (int64_t k = 0; k < half; k++) {
        double diff = sgn * ((double)loss[k] - loss[half + k]);
        const float *uk = u + k * d;
        for (int64_t j = 0; j < d; j++) w->est[j] += diff * uk[j];
    }
    float *g = w->g + r * d, *x = w->cur + r * d;
    double scale = 1.0 / ((double)cfg->samples * cfg->sigma), norm2 = 0;
    for (int64_t j = 0; j < d; j++) {
        g[j] = (float)(cfg->momentum * g[j] + (1 - cfg->momentum) * scale * w->est[j]);
        norm2 += (double)g[j] * g[j];
    }
    anneal(cfg, w, r, mean);
    float lr = (float)w->lr[r];
    if (c->t->norm == FOIL_NORM_L2) {
        float f = norm2 > 0 ? (float)(lr / sqrt(norm2)) : 0;
        for (int64_t j = 0; j < d; j++) x[j] -= f * g[j];
    } else {
        for (int64_t j = 0; j < d; j++) x[j] -= lr * (float)((g[j] > 0) - (g[j] < 0));
    }
    foilEvasionProject(c, i, x);
}

static int may_step(const FoilEvasionCtx *c, const nes_config *cfg, const nes_work *w, int64_t r)
{
    return !w->done[r] && !w->stopped[r] && c->queries[w->example[r]] - w->start[r] + cfg->samples + 1 <= cfg->queries;
}

/* One step for every row that can afford it: estimates in calls of at most
 * CALL_ROWS points, then one call checking all the new iterates. */
static foil_status step_all(FoilEvasionCtx *c, const nes_config *cfg, nes_work *w)
{
    int64_t per_call = CALL_ROWS / cfg->samples > 0 ? CALL_ROWS / cfg->samples : 1, n_live = 0;
    for (int64_t r = 0; r < w->rows; r++) {
        if (may_step(c, cfg, w, r)) w->live[n_live++] = r;
        else w->stopped[r] = !w->done[r];
    }
    FoilLogitLoss L = {FOIL_LOSS_CE, w->label, NULL, 0}; /* label: y, or t when targeted */
    foil_status st = FOIL_OK;
    for (int64_t a = 0; !st && a < n_live; a += per_call) {
        int64_t m = n_live - a < per_call ? n_live - a : per_call, rows = m * cfg->samples;
        for (int64_t s = 0; s < m; s++) {
            int64_t r = w->live[a + s], i = w->example[r];
            sample_points(c, cfg, w, r, s);
            for (int64_t k = 0; k < cfg->samples; k++) {
                w->owner[s * cfg->samples + k] = i;
                w->label[s * cfg->samples + k] = c->target[i];
            }
        }
        if ((st = foilEvasionLogits(c, w->pts, w->owner, rows, w->z))) break;
        if ((st = foilLogitLossFn(&L, 0, rows, c->classes, w->z, w->loss, NULL))) break;
        for (int64_t s = 0; s < m; s++) update_row(c, cfg, w, w->live[a + s], s);
    }
    /* The check: one query per stepped example, all in one call. */
    for (int64_t s = 0; !st && s < n_live; s++) {
        int64_t r = w->live[s];
        memcpy(w->pts + s * c->d, w->cur + r * c->d, (size_t)c->d * sizeof(float));
        w->owner[s] = w->example[r];
    }
    if (!st) st = foilEvasionLogits(c, w->pts, w->owner, n_live, w->z);
    for (int64_t s = 0; !st && s < n_live; s++)
        if (foilEvasionFooled(c, w->example[w->live[s]], w->z + s * c->classes)) w->done[w->live[s]] = 1;
    return st;
}

static foil_status run_group(FoilEvasionCtx *c, void *arg, const int64_t *examples, int64_t rows)
{
    const nes_config *cfg = arg;
    nes_work w;
    int64_t d = c->d, call_rows = CALL_ROWS / cfg->samples * cfg->samples;
    if (call_rows < cfg->samples) call_rows = cfg->samples;
    if (call_rows < rows) call_rows = rows; /* the check call holds one row per example */
    foil_status st = work_alloc(&w, rows, d, c->classes, call_rows);
    if (st) return st;
    w.rows = rows;
    for (int64_t r = 0; r < rows; r++) {
        int64_t i = examples[r];
        w.example[r] = i;
        w.start[r] = c->queries[i];
        w.lr[r] = cfg->lr;
        w.rng[r] = foilEvasionRng(c, 0x4e35, i);
        memcpy(w.cur + r * d, c->x + i * d, (size_t)d * sizeof(float));
    }
    for (;;) {
        int64_t live = 0, fooled = 0;
        for (int64_t r = 0; r < rows; r++) {
            live += may_step(c, cfg, &w, r);
            fooled += w.done[r];
        }
        foilEvasionGroupProgress(c, fooled);
        if (!live || (st = step_all(c, cfg, &w))) break;
    }
    for (int64_t r = 0; !st && r < rows; r++)
        memcpy(c->adv + examples[r] * d, w.cur + r * d, (size_t)d * sizeof(float));
    foilBuffersFree(&w.mem);
    return st;
}

static foil_status configure(const FoilEvasionCtx *c, nes_config *cfg)
{
    const char *name = c->info->name;
    double sigma = 0.001, samples = 50, momentum = 0.9;
    FoilParam params[] = {{"sigma", &sigma}, {"samples", &samples}, {"momentum", &momentum}};
    foil_status st = foilEvasionParams(c, params, 3);
    if (st) return st;
    if (c->t->norm != FOIL_NORM_LINF && c->t->norm != FOIL_NORM_L2)
        return foil_error(FOIL_ERR_ARG, "%s: nes supports the linf and l2 norms only", name);
    if (!(sigma > 0)) return foil_error(FOIL_ERR_ARG, "%s: sigma must be > 0", name);
    if (!(samples >= 2 && samples <= 100000 && samples == floor(samples) && fmod(samples, 2) == 0))
        return foil_error(FOIL_ERR_ARG, "%s: samples must be an even integer >= 2 (antithetic pairs)", name);
    if (!(momentum >= 0 && momentum < 1)) return foil_error(FOIL_ERR_ARG, "%s: momentum must be in [0, 1)", name);
    cfg->sigma = sigma;
    cfg->samples = (int64_t)samples;
    cfg->momentum = momentum;
    cfg->lr = c->t->step_size > 0 ? c->t->step_size : c->t->eps / 5;
    cfg->lr_min = cfg->lr / 200;
    cfg->drop = 2;
    cfg->queries = c->t->queries ? c->t->queries : 10000;
    if (cfg->queries < cfg->samples + 1)
        return foil_error(FOIL_ERR_ARG, "%s: a budget of %lld queries is less than one step (%lld)", name,
                          (long long)cfg->queries, (long long)(cfg->samples + 1));
    return FOIL_OK;
}

foil_status foilEvasionNes(FoilEvasionCtx *c)
{
    nes_config cfg = {0};
    foil_status st = configure(c, &cfg);
    if (st) return st;
    return foilEvasionEachGroup(c, run_group, &cfg);
}
