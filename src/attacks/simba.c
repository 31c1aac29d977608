/*
 * attacks/simba.c - SimBA, the Simple Black-box Attack (Guo, Gardner, You,
 * Wilson, Weinberger 2019, "Simple Black-box Adversarial Attacks"),
 * score-based: it sees only logits, through foilEvasionLogits. Ported from
 * the authors' code (cg563/simple-blackbox-attack, simba.py simba_batch,
 * utils.py block_order / block_idct).
 *
 * Orthonormal directions q_1, q_2, ... are tried in a random order, each
 * once. With p(x) the softmax probability of the true class y
 * (untargeted; lower is better) or of the target t (targeted; higher is
 * better), delta the perturbation and step the step size:
 *   try  delta - step q_k;  keep it if p improves,
 *   else try delta + step q_k;  keep it if p improves on p(x + delta),
 * and move on to q_{k+1}. An example stops as soon as its prediction meets
 * the goal, when its directions run out, or when its query budget would be
 * exceeded. Each call to the model carries the next probe of every
 * still-active example of the group (some at their -step, some at their
 * +step): each example's sequence of probes is exactly SimBA's.
 *
 * Bases.
 *   simba-pixel  the standard basis, a random order of all D coordinates
 *                (run_simba.py --pixel_attack); works on any input shape.
 *   simba-dct    the 2-D DCT-II basis of each channel of an (N, C, H, W)
 *                image, q_{c,u,v}(h, w) = a_u a_v cos(pi (2h+1) u / 2H)
 *                cos(pi (2w+1) v / 2W), a_0 = sqrt(1/H), a_u = sqrt(2/H)
 *                (scipy's idct with norm='ortho'). Order "strided"
 *                (utils.block_order, the README's SimBA-DCT command): first
 *                the C f^2 frequencies with u, v < f in random order, then
 *                bands of `stride` rows and columns further out, each band
 *                in random order, until all C H W are used. Order "rand"
 *                (strided=0): only the C f^2 low frequencies, in random
 *                order (simba_batch with order='rand').
 *
 * The threat: delta lives in the eps-ball (Linf: clamped per coordinate to
 * [-eps, eps], which is the reference's linf_bound; L2: rescaled to norm eps
 * when a step would leave the ball, which the reference, unbounded, does
 * not need); each query is x + delta clipped to the bounds, immutable
 * features kept. As in the reference, delta is not clipped to the bounds,
 * only the image sent to the model is; unlike it, the delta kept is the
 * one projected onto the ball (the reference keeps its coefficients
 * unclamped and applies linf_bound to each query).
 *
 * Differences from the reference, all deliberate: each example draws its
 * own random order (simba_batch shares one order across a batch; its
 * comment says it means to draw one per example), so results do not depend
 * on batch composition; a probe that would not change the image at all
 * (e.g. a pixel already at its bound) is not sent to the model, since its
 * answer is known; a probe that meets the goal is kept even when p did
 * not improve; the reference's extra query per round on the current image
 * (only to read its label) is not needed, as the accepted probe's logits
 * give it; the initial query on x (uncounted in the reference) is counted.
 *
 * Defaults: queries 10000 per example (the README's --num_iters 10000;
 * each iteration costs one or two queries), step 0.2 (--epsilon), f =
 * round(H / 8) (the README's 28 of 224) and stride = max(1, round(H / 32))
 * (its 7 of 224) for simba-dct.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attacks/attack_internal.h"

#define PI 3.14159265358979323846

typedef struct simba_config {
    int dct, strided;
    int64_t queries;       /* per example, the initial query included */
    float step;
    int64_t freq, stride;  /* simba-dct */
    int64_t C, H, W;
    int64_t n_dirs;        /* directions per example */
    double *cos_h, *cos_w; /* DCT: a_u cos(pi (2h+1) u / 2H), (H x H) and (W x W) */
} simba_config;

typedef struct simba_work {
    int64_t rows;
    int64_t *example;      /* rows */
    int64_t *start;        /* rows: the example's query count when this attack began */
    int32_t *order;        /* rows x n_dirs: direction indices */
    int64_t *next;         /* rows: position in order */
    float *delta;          /* rows x D: current perturbation (unclipped) */
    float *cur;            /* rows x D: x + delta in the bounds */
    double *p_best;        /* rows: probability at cur */
    uint8_t *done, *right; /* rows: fooled; the -step of the current direction failed */
    float *cand, *cand_delta, *z; /* probes: images, their deltas, logits */
    int64_t *owner, *live;
    float *basis;          /* D: one direction */
    FoilBuffers mem;       /* owns every array above */
} simba_work;

static foil_status work_alloc(simba_work *w, int64_t rows, int64_t d, int64_t classes, int64_t n_dirs)
{
    memset(w, 0, sizeof *w);
    size_t r = (size_t)rows, rd = (size_t)(rows * d);
    w->example = foilBuffersTake(&w->mem, r * sizeof *w->example);
    w->start = foilBuffersTake(&w->mem, r * sizeof *w->start);
    w->order = foilBuffersTake(&w->mem, r * (size_t)n_dirs * sizeof *w->order);
    w->next = foilBuffersTake(&w->mem, r * sizeof *w->next);
    w->delta = foilBuffersTake(&w->mem, rd * sizeof *w->delta);
    w->cur = foilBuffersTake(&w->mem, rd * sizeof *w->cur);
    w->p_best = foilBuffersTake(&w->mem, r * sizeof *w->p_best);
    w->done = foilBuffersTake(&w->mem, r);
    w->right = foilBuffersTake(&w->mem, r);
    w->cand = foilBuffersTake(&w->mem, rd * sizeof *w->cand);
    w->cand_delta = foilBuffersTake(&w->mem, rd * sizeof *w->cand_delta);
    w->z = foilBuffersTake(&w->mem, r * (size_t)classes * sizeof *w->z);
    w->owner = foilBuffersTake(&w->mem, r * sizeof *w->owner);
    w->live = foilBuffersTake(&w->mem, r * sizeof *w->live);
    w->basis = foilBuffersTake(&w->mem, (size_t)d * sizeof *w->basis);
    return foilBuffersStatus(&w->mem, "simba", rows);
}

/* ---- directions ---- */

static void shuffle(int32_t *v, int64_t n, foil_rng *r)
{
    for (int64_t k = n - 1; k > 0; k--) {
        int64_t m = (int64_t)foil_rng_below(r, (uint64_t)(k + 1));
        int32_t t = v[k];
        v[k] = v[m];
        v[m] = t;
    }
}

/* Append the frequencies (c, u, v) with u in [u0, u1), v in [v0, v1) (cut
 * to the image) for every channel; returns the new length. */
static int64_t add_block(const simba_config *cfg, int32_t *o, int64_t n, int64_t u0, int64_t u1, int64_t v0,
                         int64_t v1)
{
    for (int64_t ch = 0; ch < cfg->C; ch++)
        for (int64_t u = u0; u < u1 && u < cfg->H; u++)
            for (int64_t v = v0; v < v1 && v < cfg->W; v++) o[n++] = (int32_t)((ch * cfg->H + u) * cfg->W + v);
    return n;
}

/* One example's order of directions (indices into (C, H, W)). */
static void make_order(const simba_config *cfg, foil_rng *r, int32_t *o)
{
    if (!cfg->dct) {
        for (int64_t j = 0; j < cfg->n_dirs; j++) o[j] = (int32_t)j;
        shuffle(o, cfg->n_dirs, r);
        return;
    }
    int64_t f = cfg->freq, n = add_block(cfg, o, 0, 0, f, 0, f);
    shuffle(o, n, r);
    if (!cfg->strided) return;
    /* block_order: the band of columns [i, i+stride) over rows [0, i+stride)
     * and of rows [i, i+stride) over columns [0, i), shuffled together. */
    int64_t side = cfg->H > cfg->W ? cfg->H : cfg->W;
    for (int64_t i = f; i < side; i += cfg->stride) {
        int64_t first = n;
        n = add_block(cfg, o, n, 0, i + cfg->stride, i, i + cfg->stride);
        n = add_block(cfg, o, n, i, i + cfg->stride, 0, i);
        shuffle(o + first, n - first, r);
    }
}

/* The unit vector of direction j into b (D floats). */
static void direction(const simba_config *cfg, int64_t d, int64_t j, float *b)
{
    memset(b, 0, (size_t)d * sizeof *b);
    if (!cfg->dct) {
        b[j] = 1;
        return;
    }
    int64_t H = cfg->H, W = cfg->W, ch = j / (H * W), u = (j / W) % H, v = j % W;
    float *plane = b + ch * H * W;
    for (int64_t h = 0; h < H; h++)
        for (int64_t q = 0; q < W; q++) plane[h * W + q] = (float)(cfg->cos_h[u * H + h] * cfg->cos_w[v * W + q]);
}

/* a_u cos(pi (2h + 1) u / 2n) for u, h < n: the orthonormal DCT-II basis. */
static double *dct_table(int64_t n)
{
    double *t = malloc((size_t)(n * n) * sizeof *t);
    for (int64_t u = 0; t && u < n; u++)
        for (int64_t h = 0; h < n; h++)
            t[u * n + h] = sqrt((u ? 2.0 : 1.0) / (double)n) * cos(PI * (double)((2 * h + 1) * u) / (2.0 * n));
    return t;
}

/* ---- probes ---- */

/* p of the goal class from one logit row. */
static double goal_prob(const FoilEvasionCtx *c, int64_t i, const float *z)
{
    int64_t k = c->targeted ? c->target[i] : c->y[i];
    double m = z[0];
    for (int64_t j = 1; j < c->classes; j++) m = fmax(m, z[j]);
    double s = 0;
    for (int64_t j = 0; j < c->classes; j++) s += exp((double)z[j] - m);
    return exp((double)z[k] - m) / s;
}

static int improves(const FoilEvasionCtx *c, double p, double best) { return c->targeted ? p > best : p < best; }

/* delta' = ball(delta + sg * step * b), image = clip(x + delta'); returns 0
 * when the image would equal the current one (the probe is skipped). */
static int make_probe(const FoilEvasionCtx *c, const simba_config *cfg, int64_t i, const float *delta,
                      const float *cur, const float *b, float sg, float *nd, float *a)
{
    int64_t d = c->d;
    const float *x = c->x + i * d;
    float eps = c->t->eps;
    for (int64_t j = 0; j < d; j++) nd[j] = delta[j] + sg * cfg->step * b[j];
    if (c->t->norm == FOIL_NORM_LINF) {
        for (int64_t j = 0; j < d; j++) nd[j] = fminf(fmaxf(nd[j], -eps), eps);
    } else {
        double ss = 0;
        for (int64_t j = 0; j < d; j++) ss += (double)nd[j] * nd[j];
        if (ss > (double)eps * eps) {
            float f = (float)(eps / sqrt(ss)) * (1.0f - 1e-6f);
            for (int64_t j = 0; j < d; j++) nd[j] *= f;
        }
    }
    for (int64_t j = 0; j < d; j++) a[j] = x[j] + nd[j];
    foilEvasionProject(c, i, a);
    for (int64_t j = 0; j < d; j++)
        if (a[j] != cur[j]) return 1;
    return 0;
}

static int64_t used(const FoilEvasionCtx *c, const simba_work *w, int64_t r)
{
    return c->queries[w->example[r]] - w->start[r];
}

static int live(const FoilEvasionCtx *c, const simba_config *cfg, const simba_work *w, int64_t r)
{
    return !w->done[r] && w->next[r] < cfg->n_dirs && used(c, w, r) < cfg->queries;
}

/* Row r is done with its current direction. */
static void advance(simba_work *w, int64_t r)
{
    w->next[r]++;
    w->right[r] = 0;
}

/* Build row r's next probe (its current direction, -step or, after a
 * failed -step, +step) into slot k; probes that would not change the
 * image are passed over without a query. Returns 0 when the row has
 * nothing left to try. */
static int next_probe(const FoilEvasionCtx *c, const simba_config *cfg, simba_work *w, int64_t r, int64_t k)
{
    int64_t d = c->d, i = w->example[r];
    while (live(c, cfg, w, r)) {
        direction(cfg, d, w->order[r * cfg->n_dirs + w->next[r]], w->basis);
        if (make_probe(c, cfg, i, w->delta + r * d, w->cur + r * d, w->basis, w->right[r] ? 1.0f : -1.0f,
                       w->cand_delta + k * d, w->cand + k * d))
            return 1;
        if (w->right[r]) advance(w, r);
        else w->right[r] = 1;
    }
    return 0;
}

/* One round: every live row of the group sends its next probe, all in one
 * call. Each row's own sequence of probes is SimBA's; rows at the -step
 * and at the +step of their direction share the call. */
static foil_status round_all(FoilEvasionCtx *c, const simba_config *cfg, simba_work *w, int64_t *n_live)
{
    int64_t d = c->d, k = 0;
    for (int64_t r = 0; r < w->rows; r++) {
        if (!next_probe(c, cfg, w, r, k)) continue;
        w->owner[k] = w->example[r];
        w->live[k++] = r;
    }
    *n_live = k;
    foil_status st = foilEvasionLogits(c, w->cand, w->owner, k, w->z);
    for (int64_t s = 0; !st && s < k; s++) {
        int64_t r = w->live[s], i = w->example[r];
        const float *z = w->z + s * c->classes;
        double p = goal_prob(c, i, z);
        int fooled = foilEvasionFooled(c, i, z);
        if (improves(c, p, w->p_best[r]) || fooled) {
            memcpy(w->delta + r * d, w->cand_delta + s * d, (size_t)d * sizeof(float));
            memcpy(w->cur + r * d, w->cand + s * d, (size_t)d * sizeof(float));
            w->p_best[r] = p;
            w->done[r] = (uint8_t)fooled;
            advance(w, r);
        } else if (w->right[r]) {
            advance(w, r);
        } else {
            w->right[r] = 1;
        }
    }
    return st;
}

static foil_status run_group(FoilEvasionCtx *c, void *arg, const int64_t *examples, int64_t rows)
{
    const simba_config *cfg = arg;
    simba_work w;
    int64_t d = c->d;
    foil_status st = work_alloc(&w, rows, d, c->classes, cfg->n_dirs);
    if (st) return st;
    w.rows = rows;
    for (int64_t r = 0; r < rows; r++) {
        int64_t i = examples[r];
        w.example[r] = i;
        w.start[r] = c->queries[i];
        foil_rng rng = foilEvasionRng(c, 0x51b4, i);
        make_order(cfg, &rng, w.order + r * cfg->n_dirs);
        memcpy(w.cur + r * d, c->x + i * d, (size_t)d * sizeof(float));
        w.owner[r] = i;
    }
    /* p(x): the one query on the clean input. */
    if ((st = foilEvasionLogits(c, w.cur, w.owner, rows, w.z))) goto out;
    for (int64_t r = 0; r < rows; r++) w.p_best[r] = goal_prob(c, examples[r], w.z + r * c->classes);
    for (int64_t n_live = 1; !st && n_live;) {
        st = round_all(c, cfg, &w, &n_live);
        int64_t fooled = 0;
        for (int64_t r = 0; r < rows; r++) fooled += w.done[r];
        foilEvasionGroupProgress(c, fooled);
    }
    for (int64_t r = 0; !st && r < rows; r++)
        memcpy(c->adv + examples[r] * d, w.cur + r * d, (size_t)d * sizeof(float));
out:
    foilBuffersFree(&w.mem);
    return st;
}

/* ---- configuration ---- */

static foil_status configure(const FoilEvasionCtx *c, int dct, simba_config *cfg)
{
    const char *name = c->info->name;
    memset(cfg, 0, sizeof *cfg);
    cfg->dct = dct;
    int images = c->ndim == 4;
    int64_t H = images ? c->shape[2] : 1;
    double freq = images ? fmax(1, round((double)H / 8)) : 0, stride = images ? fmax(1, round((double)H / 32)) : 0,
           strided = 1;
    FoilParam params[] = {{"freq_dims", &freq}, {"stride", &stride}, {"strided", &strided}};
    foil_status st = foilEvasionParams(c, params, dct ? 3 : 0);
    if (st) return st;
    if (c->t->norm != FOIL_NORM_LINF && c->t->norm != FOIL_NORM_L2)
        return foil_error(FOIL_ERR_ARG, "%s: simba supports the linf and l2 norms only", name);
    cfg->step = c->t->step_size > 0 ? c->t->step_size : 0.2f;
    cfg->queries = c->t->queries ? c->t->queries : 10000;
    if (!dct) {
        cfg->n_dirs = c->d;
        return c->d <= INT32_MAX ? FOIL_OK : foil_error(FOIL_ERR_ARG, "%s: too many features", name);
    }
    if (!images)
        return foil_error(FOIL_ERR_ARG,
                          "%s: the DCT basis needs images (N, C, H, W); these inputs have %d dimensions "
                          "(use simba-pixel for tabular data)",
                          name, c->ndim);
    cfg->C = c->shape[1];
    cfg->H = H;
    cfg->W = c->shape[3];
    int64_t side = cfg->H < cfg->W ? cfg->H : cfg->W;
    if (!(freq >= 1 && freq <= (double)side && freq == floor(freq)))
        return foil_error(FOIL_ERR_ARG, "%s: freq_dims must be an integer in [1, %lld]", name, (long long)side);
    if (!(stride >= 1 && stride == floor(stride)))
        return foil_error(FOIL_ERR_ARG, "%s: stride must be a positive integer", name);
    if (strided != 0 && strided != 1) return foil_error(FOIL_ERR_ARG, "%s: strided must be 0 or 1", name);
    cfg->freq = (int64_t)freq;
    cfg->stride = (int64_t)stride;
    cfg->strided = strided != 0;
    cfg->n_dirs = cfg->strided ? c->d : cfg->C * cfg->freq * cfg->freq;
    cfg->cos_h = dct_table(cfg->H);
    cfg->cos_w = dct_table(cfg->W);
    if (!cfg->cos_h || !cfg->cos_w) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    return FOIL_OK;
}

static foil_status run(FoilEvasionCtx *c, int dct)
{
    simba_config cfg = {0};
    foil_status st = configure(c, dct, &cfg);
    if (!st) st = foilEvasionEachGroup(c, run_group, &cfg);
    free(cfg.cos_h);
    free(cfg.cos_w);
    return st;
}

foil_status foilEvasionSimbaPixel(FoilEvasionCtx *c) { return run(c, 0); }

foil_status foilEvasionSimbaDct(FoilEvasionCtx *c) { return run(c, 1); }
