/*
 * defenses/adversarial_training.c - the attack half of adversarial training
 * (defenses/adversarial_training.h): PGD and FGSM-RS examples, TRADES's
 * inner maximization and outer loss, robust accuracy.
 *
 * What it is not: the evasion attacks of src/attacks (those report, count
 * and summarize; these only make training batches), nor L2 training (Linf
 * only, as the three papers train).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "defenses/adversarial_training.h"
#include "foil/rng.h"

enum { EVAL_CHUNK = 256 };

int foil_adv_mode_parse(const char *name)
{
    if (!name) return -1;
    if (strcmp(name, "pgd") == 0) return FOIL_ADV_PGD;
    if (strcmp(name, "fgsm-rs") == 0) return FOIL_ADV_FGSM_RS;
    if (strcmp(name, "trades") == 0) return FOIL_ADV_TRADES;
    if (strcmp(name, "ibp") == 0) return FOIL_ADV_IBP;
    return -1;
}

const char *foil_adv_mode_name(foil_adv_mode mode)
{
    switch (mode) {
    case FOIL_ADV_NONE: return "none";
    case FOIL_ADV_PGD: return "pgd";
    case FOIL_ADV_FGSM_RS: return "fgsm-rs";
    case FOIL_ADV_TRADES: return "trades";
    case FOIL_ADV_IBP: return "ibp";
    }
    return "?";
}

FoilAdvAttack foilAdvAttackAt(const foil_adv_options *o, int64_t epoch, const float *lo, const float *hi)
{
    FoilAdvAttack a = {.mode = o->mode, .eps = o->eps, .step = o->step, .steps = o->steps, .beta = o->beta,
                       .lo = lo, .hi = hi};
    if (o->warmup_epochs > 0 && epoch < o->warmup_epochs)
        a.eps = o->eps * (float)(epoch + 1) / (float)o->warmup_epochs;
    if (a.steps <= 0) a.steps = o->mode == FOIL_ADV_TRADES ? 10 : 7;
    if (o->mode == FOIL_ADV_FGSM_RS) a.steps = 1;
    if (a.beta <= 0) a.beta = 6.0f;
    /* a step given for the full eps scales with it during warm-up */
    float scale = o->eps > 0 ? a.eps / o->eps : 1.0f;
    if (o->step > 0) a.step = o->step * scale;
    else a.step = o->mode == FOIL_ADV_FGSM_RS ? 1.25f * a.eps : 2.5f * a.eps / (float)a.steps;
    return a;
}

static foil_status ensure_like(foil_tensor *t, const foil_tensor *x)
{
    if (t->data && foil_tensor_same_shape(t, x)) return FOIL_OK;
    foil_tensor_free(t);
    return foil_tensor_alloc(t, FOIL_F32, x->ndim, x->shape);
}

/* v projected onto [x - eps, x + eps] and the bounds. */
static inline float project(float v, float x, float eps, float lo, float hi)
{
    v = fminf(fmaxf(v, x - eps), x + eps);
    return fminf(fmaxf(v, lo), hi);
}

/* One signed-gradient step of every coordinate, projected. */
static void signed_step(float *xa, const float *x, const float *grad, int64_t n, int64_t d, float step, float eps,
                        const float *lo, const float *hi)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++) {
            int64_t k = i * d + j;
            float g = grad[k], s = g > 0 ? step : g < 0 ? -step : 0.0f;
            xa[k] = project(xa[k] + s, x[k], eps, lo[j], hi[j]);
        }
}

foil_status foilAdvLinfPgd(foil_model *m, const foil_tensor *x, const int64_t *labels, float eps, float step,
                           int steps, int random_start, const float *lo, const float *hi, uint64_t key,
                           foil_tensor *xadv)
{
    foil_status st = ensure_like(xadv, x);
    if (st) return st;
    const int64_t n = x->shape[0], d = x->numel / n;
    const float *x0 = foil_f32(x);
    float *xa = foil_f32(xadv);
    for (int64_t i = 0; i < n; i++) {
        foil_rng r = foil_rng_make(key, (uint64_t)i);
        for (int64_t j = 0; j < d; j++) {
            float delta = random_start ? eps * (2.0f * foil_rng_uniform(&r) - 1.0f) : 0.0f;
            xa[i * d + j] = project(x0[i * d + j] + delta, x0[i * d + j], eps, lo[j], hi[j]);
        }
    }
    foil_tensor grad = {0};
    for (int s = 0; s < steps && !st; s++) {
        st = foil_model_loss_input_grad(m, xadv, labels, NULL, NULL, &grad);
        if (!st) signed_step(xa, x0, foil_f32(&grad), n, d, step, eps, lo, hi);
    }
    foil_tensor_free(&grad);
    return st;
}

/* Softmax of n rows, max-shifted, in double for the KL terms. */
static void softmax_rows(const float *z, int64_t n, int64_t classes, double *p)
{
    for (int64_t i = 0; i < n; i++) {
        const float *row = z + i * classes;
        double max = row[0], sum = 0;
        for (int64_t k = 1; k < classes; k++) max = fmax(max, row[k]);
        for (int64_t k = 0; k < classes; k++) sum += (p[i * classes + k] = exp(row[k] - max));
        for (int64_t k = 0; k < classes; k++) p[i * classes + k] /= sum;
    }
}

/* KL(p_clean || softmax(z)) for TRADES's inner maximization: value
 * sum_k p_k (log p_k - log q_k), gradient d/dz = q - p. */
typedef struct kl_ctx {
    const double *p_clean; /* n x classes */
    double *q;             /* scratch, one row */
} kl_ctx;

static foil_status kl_to_clean(void *ctx, int64_t first, int64_t count, int64_t classes, const float *logits,
                               float *value, float *dvalue)
{
    kl_ctx *c = ctx;
    for (int64_t i = 0; i < count; i++) {
        const double *p = c->p_clean + (first + i) * classes;
        softmax_rows(logits + i * classes, 1, classes, c->q);
        double kl = 0;
        for (int64_t k = 0; k < classes; k++) {
            if (p[k] > 0) kl += p[k] * (log(p[k]) - log(fmax(c->q[k], 1e-300)));
            dvalue[i * classes + k] = (float)(c->q[k] - p[k]);
        }
        if (value) value[i] = (float)kl;
    }
    return FOIL_OK;
}

foil_status foilAdvTradesExamples(foil_model *m, const foil_tensor *x, const FoilAdvAttack *a, uint64_t key,
                                  foil_tensor *xadv)
{
    foil_status st = ensure_like(xadv, x);
    if (st) return st;
    const int64_t n = x->shape[0], d = x->numel / n;
    foil_tensor logits = {0}, grad = {0};
    if ((st = foil_model_predict(m, x, &logits))) return st;
    const int64_t classes = logits.shape[1];
    double *p = malloc((size_t)(n * classes) * sizeof *p), *q = malloc((size_t)classes * sizeof *q);
    if (!p || !q) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    if (!st) softmax_rows(foil_f32(&logits), n, classes, p);
    const float *x0 = foil_f32(x);
    float *xa = foil_f32(xadv);
    for (int64_t i = 0; !st && i < n; i++) { /* TRADES starts at x + 0.001 N(0, I) */
        foil_rng r = foil_rng_make(key, (uint64_t)i);
        for (int64_t j = 0; j < d; j++) {
            int64_t k = i * d + j;
            xa[k] = project(x0[k] + 0.001f * (float)foil_rng_normal(&r), x0[k], a->eps, a->lo[j], a->hi[j]);
        }
    }
    kl_ctx ctx = {p, q};
    for (int s = 0; s < a->steps && !st; s++) {
        st = foil_model_input_grad(m, xadv, kl_to_clean, &ctx, NULL, NULL, &grad);
        if (!st) signed_step(xa, x0, foil_f32(&grad), n, d, a->step, a->eps, a->lo, a->hi);
    }
    foil_tensor_free(&logits);
    foil_tensor_free(&grad);
    free(p);
    free(q);
    return st;
}

/*
 * TRADES's objective for one example, with z the clean logits, w the
 * adversarial ones, p = softmax(z), q = softmax(w):
 *   L = CE(z, y) + beta KL(p || q),  KL = sum_k p_k (log p_k - log q_k).
 * Gradients:
 *   dL/dw_j = beta (q_j - p_j)                       (as in kl_to_clean)
 *   dKL/dz_j = p_j (g_j - KL) with g_k = log p_k - log q_k
 *              (dKL/dp_k = g_k + 1, through the softmax's Jacobian
 *              p_j (delta_jk - p_k); the +1 cancels since sum_k p_k = 1)
 *   dL/dz_j = p_j - [j = y] + beta p_j (g_j - KL).
 * Everything is divided by b for the batch mean, as TRADES's code divides
 * its summed KL by the batch size.
 */
foil_status foilAdvTradesLoss(const float *logits, const int64_t *labels, int64_t b, int64_t classes, float beta,
                              float *loss, float *dlogits)
{
    double *pq = malloc((size_t)(2 * classes) * sizeof *pq);
    if (!pq) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    double *p = pq, *q = pq + classes;
    const double inv_b = 1.0 / (double)b;
    for (int64_t i = 0; i < b; i++) {
        int64_t y = labels[i];
        if (y < 0 || y >= classes) {
            free(pq);
            return foil_error(FOIL_ERR_ARG, "label %lld of training example %lld is out of range [0, %lld)",
                              (long long)y, (long long)i, (long long)classes);
        }
        softmax_rows(logits + i * classes, 1, classes, p);
        softmax_rows(logits + (b + i) * classes, 1, classes, q);
        double kl = 0;
        for (int64_t k = 0; k < classes; k++) kl += p[k] * (log(fmax(p[k], 1e-300)) - log(fmax(q[k], 1e-300)));
        loss[i] = (float)(-log(fmax(p[y], 1e-300)) + beta * kl);
        float *dz = dlogits + i * classes, *dw = dlogits + (b + i) * classes;
        for (int64_t k = 0; k < classes; k++) {
            double g = log(fmax(p[k], 1e-300)) - log(fmax(q[k], 1e-300));
            dz[k] = (float)((p[k] - (k == y) + beta * p[k] * (g - kl)) * inv_b);
            dw[k] = (float)(beta * (q[k] - p[k]) * inv_b);
        }
    }
    free(pq);
    return FOIL_OK;
}

void foilDistillSoftLabels(float *z, int64_t b, int64_t classes, float temperature)
{
    const double t = temperature;
    for (int64_t i = 0; i < b; i++) {
        float *row = z + i * classes;
        double max = row[0] / t, sum = 0;
        for (int64_t k = 1; k < classes; k++) max = fmax(max, row[k] / t);
        for (int64_t k = 0; k < classes; k++) sum += exp(row[k] / t - max);
        for (int64_t k = 0; k < classes; k++) row[k] = (float)(exp(row[k] / t - max) / sum);
    }
}

foil_status foilDistillLoss(const float *logits, const int64_t *labels, const float *soft, int64_t b, int64_t classes,
                            float temperature, float *loss, float *dlogits)
{
    double *p = malloc((size_t)classes * sizeof *p);
    float *scaled = malloc((size_t)classes * sizeof *scaled);
    if (!p || !scaled) {
        free(p);
        free(scaled);
        return foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    const double t = temperature;
    foil_status st = FOIL_OK;
    for (int64_t i = 0; i < b && !st; i++) {
        for (int64_t k = 0; k < classes; k++) scaled[k] = (float)(logits[i * classes + k] / t);
        softmax_rows(scaled, 1, classes, p);
        if (!soft && (labels[i] < 0 || labels[i] >= classes)) {
            st = foil_error(FOIL_ERR_ARG, "label %lld of training example %lld is out of range [0, %lld)",
                            (long long)labels[i], (long long)i, (long long)classes);
            break;
        }
        double ce = 0;
        for (int64_t k = 0; k < classes; k++) {
            double target = soft ? soft[i * classes + k] : (double)(k == labels[i]);
            if (target > 0) ce -= target * log(fmax(p[k], 1e-300));
            dlogits[i * classes + k] = (float)((p[k] - target) / (t * (double)b));
        }
        loss[i] = (float)ce;
    }
    free(p);
    free(scaled);
    return st;
}

foil_status foilAdvAccuracy(foil_model *m, const foil_tensor *x, const int64_t *labels, float eps, float step,
                            int steps, int random_start, const float *lo, const float *hi, uint64_t key,
                            double *accuracy)
{
    const int64_t n = x->shape[0], d = x->numel / n;
    foil_status st = FOIL_OK;
    foil_tensor xadv = {0}, logits = {0};
    int64_t correct = 0;
    for (int64_t first = 0; first < n && !st; first += EVAL_CHUNK) {
        foil_tensor chunk = *x; /* a view of rows [first, first + count) */
        chunk.shape[0] = n - first < EVAL_CHUNK ? n - first : EVAL_CHUNK;
        chunk.numel = chunk.shape[0] * d;
        chunk.data = foil_f32(x) + first * d;
        chunk.owns_data = 0;
        st = foilAdvLinfPgd(m, &chunk, labels + first, eps, step, steps, random_start, lo, hi,
                            foil_rng_at(key, (uint64_t)first), &xadv);
        if (!st) st = foil_model_predict(m, &xadv, &logits);
        for (int64_t i = 0; !st && i < chunk.shape[0]; i++) {
            const float *row = foil_f32(&logits) + i * logits.shape[1];
            int64_t best = 0;
            for (int64_t k = 1; k < logits.shape[1]; k++)
                if (row[k] > row[best]) best = k;
            correct += best == labels[first + i];
        }
        foil_tensor_free(&logits);
    }
    foil_tensor_free(&xadv);
    *accuracy = st ? 0 : (double)correct / (double)n;
    return st;
}
