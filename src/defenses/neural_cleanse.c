/*
 * defenses/neural_cleanse.c - Neural Cleanse's trigger reverse-engineering
 * and anomaly index (foil/scan.h is the design).
 *
 * The mask and pattern live in tanh space, as in the paper's code:
 * m = (tanh(a) + 1) / 2 and p = lo + (hi - lo) (tanh(b) + 1) / 2, so that
 * Adam's steps never leave [0, 1] and the input range. Adam's betas are
 * the paper's (0.5, 0.9). Success and lambda's schedule are checked every
 * CHECK_EVERY steps (the paper checks once an epoch).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/stats.h"
#include "foil/progress.h"
#include "foil/rng.h"
#include "foil/scan.h"

enum { CHECK_EVERY = 10, PATIENCE = 5 };

typedef struct Adam {
    double *m, *v;
    int64_t t;
} Adam;

static void adam_step(Adam *a, double *param, const double *grad, int64_t n, double lr)
{
    const double b1 = 0.5, b2 = 0.9;
    a->t++;
    const double c1 = 1 - pow(b1, (double)a->t), c2 = 1 - pow(b2, (double)a->t);
    for (int64_t i = 0; i < n; i++) {
        a->m[i] = b1 * a->m[i] + (1 - b1) * grad[i];
        a->v[i] = b2 * a->v[i] + (1 - b2) * grad[i] * grad[i];
        param[i] -= lr * (a->m[i] / c1) / (sqrt(a->v[i] / c2) + 1e-8);
    }
}

typedef struct Cleanse {
    foil_model *model;
    const foil_tensor *images;
    const float *lo, *hi;
    int64_t n, c, hw, f;         /* images, channels, pixels per channel, floats per image */
    double *a, *b, *ga, *gb;     /* raw mask (hw) and pattern (f), their gradients */
    double *mask, *pat;          /* current mask and pattern */
    foil_tensor x, grad;         /* a batch of triggered images, the loss gradient */
    int64_t *labels, *pick;      /* a batch's target labels, and which images it took */
    float *loss;
} Cleanse;

static void current(Cleanse *s)
{
    for (int64_t j = 0; j < s->hw; j++) s->mask[j] = (tanh(s->a[j]) + 1) / 2;
    for (int64_t j = 0; j < s->f; j++) s->pat[j] = s->lo[j] + (s->hi[j] - s->lo[j]) * (tanh(s->b[j]) + 1) / 2;
}

/* One step's gradient on a batch; returns how many of its images went to t. */
static foil_status step(Cleanse *s, int64_t t, int64_t batch, double cost, foil_rng *rng, int64_t *hits)
{
    current(s);
    float *x = foil_f32(&s->x);
    for (int64_t k = 0; k < batch; k++) {
        s->pick[k] = (int64_t)foil_rng_below(rng, (uint64_t)s->n);
        const float *img = foil_f32(s->images) + s->pick[k] * s->f;
        for (int64_t j = 0; j < s->f; j++) {
            double m = s->mask[j % s->hw];
            x[k * s->f + j] = (float)((1 - m) * img[j] + m * s->pat[j]);
        }
        s->labels[k] = t;
    }
    foil_tensor logits = {0};
    foil_status st = foil_model_loss_input_grad(s->model, &s->x, s->labels, s->loss, &logits, &s->grad);
    if (st) return st;
    const int64_t k_classes = logits.numel / batch;
    *hits = 0;
    for (int64_t k = 0; k < batch; k++) {
        const float *z = foil_f32(&logits) + k * k_classes;
        int64_t top = 0;
        for (int64_t j = 1; j < k_classes; j++) top = z[j] > z[top] ? j : top;
        *hits += top == t;
    }
    foil_tensor_free(&logits);
    /* chain rule through the blend and tanh; the loss is the batch mean */
    for (int64_t j = 0; j < s->hw; j++) s->ga[j] = cost;
    for (int64_t j = 0; j < s->f; j++) s->gb[j] = 0;
    const float *g = foil_f32(&s->grad);
    for (int64_t k = 0; k < batch; k++) {
        const float *img = foil_f32(s->images) + s->pick[k] * s->f;
        for (int64_t j = 0; j < s->f; j++) {
            double gj = g[k * s->f + j] / (double)batch;
            s->ga[j % s->hw] += gj * (s->pat[j] - img[j]);
            s->gb[j] += gj * s->mask[j % s->hw];
        }
    }
    for (int64_t j = 0; j < s->hw; j++) s->ga[j] *= (1 - tanh(s->a[j]) * tanh(s->a[j])) / 2;
    for (int64_t j = 0; j < s->f; j++)
        s->gb[j] *= (s->hi[j] - s->lo[j]) * (1 - tanh(s->b[j]) * tanh(s->b[j])) / 2;
    return FOIL_OK;
}

/* The anomaly index of every class (norm - median over 1.4826 MAD, the
 * finite norms only) and the class flagged. */
static void anomaly(foil_cleanse_result *r)
{
    const int64_t k = r->classes;
    double *v = malloc((size_t)k * sizeof *v);
    int64_t n = 0;
    r->flagged = -1, r->flagged_anomaly = 0, r->median = r->mad = NAN;
    for (int64_t c = 0; c < k; c++) r->anomaly[c] = 0;
    for (int64_t c = 0; v && c < k; c++)
        if (isfinite(r->norm[c])) v[n++] = r->norm[c];
    if (!v || n < 3) {
        free(v);
        return;
    }
    const double med = foilMedianInPlace(v, n);
    for (int64_t i = 0; i < n; i++) v[i] = fabs(v[i] - med);
    const double mad = 1.4826 * foilMedianInPlace(v, n);
    r->median = med, r->mad = mad;
    for (int64_t c = 0; c < k; c++) {
        if (!isfinite(r->norm[c])) continue;
        r->anomaly[c] = mad > 0 ? fabs(r->norm[c] - med) / mad : (r->norm[c] == med ? 0 : INFINITY);
        if (r->norm[c] < med && r->anomaly[c] > r->flagged_anomaly) r->flagged_anomaly = r->anomaly[c];
    }
    for (int64_t c = 0; c < k; c++)
        if (r->norm[c] < med && r->anomaly[c] == r->flagged_anomaly && r->flagged_anomaly > 2) r->flagged = c;
    free(v);
}

void foil_cleanse_result_free(foil_cleanse_result *r)
{
    if (!r) return;
    free(r->norm), free(r->success), free(r->anomaly);
    foil_tensor_free(&r->mask), foil_tensor_free(&r->pattern);
    memset(r, 0, sizeof *r);
}

static void cleanse_free(Cleanse *s)
{
    free(s->a), free(s->b), free(s->ga), free(s->gb), free(s->mask), free(s->pat), free(s->labels), free(s->pick), free(s->loss);
    foil_tensor_free(&s->x), foil_tensor_free(&s->grad);
}

foil_status foil_neural_cleanse(foil_model *m, const foil_tensor *images, const float *lower, const float *upper,
                                const foil_cleanse_options *o, foil_cleanse_result *r)
{
    if (!m || !images || !lower || !upper || !o || !r) return foil_error(FOIL_ERR_ARG, "foil_neural_cleanse: missing argument");
    memset(r, 0, sizeof *r);
    const int64_t steps = o->steps ? o->steps : FOIL_CLEANSE_DEFAULT_STEPS, batch = o->batch ? o->batch : 32;
    const double target = o->target_success ? o->target_success : 0.99, lr = o->lr ? o->lr : 0.1,
                 init_cost = o->init_cost ? o->init_cost : 1e-3;
    if (steps < 1 || batch < 1 || !(target > 0 && target <= 1) || !(lr > 0) || !(init_cost > 0))
        return foil_error(FOIL_ERR_ARG, "neural cleanse: steps and batch must be >= 1, the target success in (0, 1]");
    if (images->dtype != FOIL_F32 || (images->ndim != 3 && images->ndim != 4) || images->shape[0] < 1)
        return foil_error(FOIL_ERR_SHAPE, "neural cleanse: images must be float32 (N, C, H, W) or (N, H, W)");
    int64_t classes = 0;
    foil_status st = foil_model_num_classes(m, &classes);
    if (st) return st;
    Cleanse s = {.model = m, .images = images, .lo = lower, .hi = upper, .n = images->shape[0]};
    s.hw = images->shape[images->ndim - 2] * images->shape[images->ndim - 1];
    s.f = images->numel / s.n, s.c = s.f / s.hw;
    int64_t shape[4];
    for (int i = 0; i < images->ndim; i++) shape[i] = images->shape[i];
    shape[0] = batch;
    s.a = malloc((size_t)s.hw * sizeof *s.a), s.ga = malloc((size_t)s.hw * sizeof *s.ga);
    s.b = malloc((size_t)s.f * sizeof *s.b), s.gb = malloc((size_t)s.f * sizeof *s.gb);
    s.mask = malloc((size_t)s.hw * sizeof *s.mask), s.pat = malloc((size_t)s.f * sizeof *s.pat);
    s.labels = malloc((size_t)batch * sizeof *s.labels), s.pick = malloc((size_t)batch * sizeof *s.pick);
    s.loss = malloc((size_t)batch * sizeof *s.loss);
    double *adam = calloc((size_t)(2 * (s.hw + s.f)), sizeof *adam);
    r->classes = classes;
    r->norm = malloc((size_t)classes * sizeof *r->norm), r->success = calloc((size_t)classes, sizeof *r->success);
    r->anomaly = calloc((size_t)classes, sizeof *r->anomaly);
    if (!s.a || !s.ga || !s.b || !s.gb || !s.mask || !s.pat || !s.labels || !s.pick || !s.loss || !adam || !r->norm ||
        !r->success || !r->anomaly)
        st = foil_error(FOIL_ERR_NOMEM, "neural cleanse: out of memory");
    if (!st) st = foil_tensor_alloc(&s.x, FOIL_F32, images->ndim, shape);
    int64_t mshape[3] = {classes, images->shape[images->ndim - 2], images->shape[images->ndim - 1]}, pshape[4];
    for (int i = 0; i < images->ndim; i++) pshape[i] = images->shape[i];
    pshape[0] = classes;
    if (!st) st = foil_tensor_alloc(&r->mask, FOIL_F32, 3, mshape);
    if (!st) st = foil_tensor_alloc(&r->pattern, FOIL_F32, images->ndim, pshape);
    foil_progress bar;
    foil_progress_start(&bar, "neural cleanse", classes * steps, "steps", o->quiet);
    for (int64_t t = 0; !st && t < classes; t++) {
        foil_rng rng = foil_rng_make(o->seed, (uint64_t)t);
        for (int64_t j = 0; j < s.hw; j++) s.a[j] = 2 * foil_rng_uniform_d(&rng) - 1;
        for (int64_t j = 0; j < s.f; j++) s.b[j] = 2 * foil_rng_uniform_d(&rng) - 1;
        memset(adam, 0, (size_t)(2 * (s.hw + s.f)) * sizeof *adam);
        Adam am = {adam, adam + s.hw, 0}, ap = {adam + 2 * s.hw, adam + 2 * s.hw + s.f, 0};
        double cost = init_cost, best = INFINITY;
        int64_t up = 0, down = 0, hits = 0, seen = 0;
        for (int64_t i = 0; !st && i < steps; i++) {
            int64_t h = 0;
            if ((st = step(&s, t, batch, cost, &rng, &h))) break;
            hits += h, seen += batch;
            adam_step(&am, s.a, s.ga, s.hw, lr);
            adam_step(&ap, s.b, s.gb, s.f, lr);
            if ((i + 1) % CHECK_EVERY) continue;
            /* the success of the last CHECK_EVERY steps (their triggers, as the paper's epoch average) */
            const double success = (double)hits / (double)seen;
            hits = seen = 0;
            double norm = 0;
            for (int64_t j = 0; j < s.hw; j++) norm += s.mask[j];
            if (success >= target && norm < best) {
                best = norm, r->success[t] = success;
                for (int64_t j = 0; j < s.hw; j++) foil_f32(&r->mask)[t * s.hw + j] = (float)s.mask[j];
                for (int64_t j = 0; j < s.f; j++) foil_f32(&r->pattern)[t * s.f + j] = (float)s.pat[j];
            }
            if (success >= target) up++, down = 0;
            else up = 0, down++;
            if (up >= PATIENCE) up = 0, cost *= 1.5;
            else if (down >= PATIENCE) down = 0, cost /= pow(1.5, 1.5);
            foil_progress_update(&bar, t * steps + i + 1, NULL);
        }
        r->norm[t] = best;
    }
    foil_progress_finish(&bar, NULL);
    if (!st) anomaly(r);
    free(adam);
    cleanse_free(&s);
    if (st) foil_cleanse_result_free(r);
    return st;
}
