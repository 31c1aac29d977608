/*
 * attacks/poisoning/feature_collision.c - poison frogs (Shafahi et al.
 * 2018): clean-label poisons that look like their base image but sit on
 * the target image in the feature space of a model that a victim will
 * fine-tune the last layer of. Trained on them with their (base) label,
 * the new last layer draws the base class's region around the target.
 *
 * Each poison x starts at its base image b and solves
 *   min_x |f(x) - f(t)|^2 + beta |x - b|^2
 * by the paper's forward-backward splitting (its Algorithm 1):
 *   forward   x' = x - lr d|f(x) - f(t)|^2 / dx
 *   backward  x  = (x' + lr beta b) / (1 + lr beta)
 * then clipped into the input range; f the penultimate features (the
 * input of the logits' linear layer), t the target. beta = beta0 (dim f /
 * dim b)^2 with the paper's beta0 = 0.25. The step size is foil's choice:
 * it starts where the first step would move x by a tenth of |b| and is
 * halved whenever a step raises the objective (which is then undone), as
 * the reference code decays it; the paper does not give it for every
 * model. No watermark (the paper adds one for end-to-end training; this
 * attack is the transfer-learning one).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attacks/poisoning/poisoning_internal.h"

#define BETA0 0.25

typedef struct Collision {
    const float *target_features; /* d */
    int64_t d;
} Collision;

/* value = |f - f(t)|^2 per example, dvalue = 2 (f - f(t)). */
static foil_status feature_distance(void *ctx, int64_t first, int64_t count, int64_t classes, const float *f,
                                    float *value, float *dvalue)
{
    (void)first;
    const Collision *c = ctx;
    if (classes != c->d) return foil_error(FOIL_ERR_SHAPE, "poison frogs: the features changed size");
    for (int64_t i = 0; i < count; i++) {
        double s = 0;
        for (int64_t j = 0; j < classes; j++) {
            double diff = (double)f[i * classes + j] - c->target_features[j];
            s += diff * diff;
            dvalue[i * classes + j] = (float)(2 * diff);
        }
        if (value) value[i] = (float)s;
    }
    return FOIL_OK;
}

static double norm2(const float *a, const float *b, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return s;
}

/* One poison (a 1-row tensor x, at its base b on entry) to convergence or
 * `steps`; *ratio its final feature distance squared over its base's. */
static foil_status collide(foil_model *features, Collision *c, foil_tensor *x, const float *b, const float *lo,
                           const float *hi, double beta, int64_t steps, double *ratio)
{
    const int64_t F = x->numel;
    foil_tensor grad = {0};
    float *prev = malloc((size_t)F * sizeof *prev), dist = 0, start = 0;
    foil_status st = prev ? foil_model_input_grad(features, x, feature_distance, c, &start, NULL, &grad)
                          : foil_error(FOIL_ERR_NOMEM, "out of memory");
    double objective = start, g2 = 0, b2 = 0;
    for (int64_t k = 0; !st && k < F; k++) g2 += (double)foil_f32(&grad)[k] * foil_f32(&grad)[k];
    for (int64_t k = 0; k < F; k++) b2 += (double)b[k] * b[k];
    double lr = g2 > 0 ? 0.1 * sqrt(b2 / g2) : 0;
    for (int64_t s = 0; !st && s < steps && lr > 0; s++) {
        float *xv = foil_f32(x);
        memcpy(prev, xv, (size_t)F * sizeof *prev);
        const float *g = foil_f32(&grad);
        for (int64_t k = 0; k < F; k++) {
            double forward = xv[k] - lr * g[k];
            double back = (forward + lr * beta * b[k]) / (1 + lr * beta);
            xv[k] = fminf(fmaxf((float)back, lo[k]), hi[k]);
        }
        if ((st = foil_model_input_grad(features, x, feature_distance, c, &dist, NULL, &grad))) break;
        double next = dist + beta * norm2(xv, b, F);
        if (next > objective) { /* undo, halve the step, and take the gradient where we were */
            memcpy(xv, prev, (size_t)F * sizeof *prev);
            lr /= 2;
            if ((st = foil_model_input_grad(features, x, feature_distance, c, &dist, NULL, &grad))) break;
            continue;
        }
        objective = next;
    }
    if (!st) st = foil_model_input_grad(features, x, feature_distance, c, &dist, NULL, NULL);
    *ratio = start > 0 ? dist / start : 0;
    foil_tensor_free(&grad);
    free(prev);
    return st;
}

foil_status foilFeatureCollision(const foil_poison_options *o, const foil_poison_manifest *m, foil_dataset *poisoned,
                                 double *objective)
{
    const char *path = foil_model_path(o->model);
    if (!path) return foil_error(FOIL_ERR_CAPABILITY, "poison frogs: the model's features need an ONNX file");
    if (!poisoned->lower.data || !poisoned->upper.data)
        return foil_error(FOIL_ERR_ARG, "poison frogs: %s has no input range", poisoned->name);
    foil_model *features = NULL;
    foil_status st = foil_model_load_features(path, NULL, &features);
    if (st) return foil_error_prefix(st, "poison frogs");
    const int64_t F = foil_dataset_example_size(poisoned);
    int64_t shape[FOIL_MAX_DIMS];
    memcpy(shape, poisoned->x.shape, sizeof shape);
    shape[0] = 1;
    foil_tensor x = {0}, ft = {0};
    Collision c = {0};
    if (!(st = foil_tensor_alloc(&x, FOIL_F32, poisoned->x.ndim, shape))) {
        memcpy(x.data, o->target_x, (size_t)F * sizeof(float));
        st = foil_model_predict(features, &x, &ft);
    }
    if (!st) c.target_features = foil_f32(&ft), c.d = ft.numel;
    const double beta = BETA0 * ((double)c.d / (double)F) * ((double)c.d / (double)F);
    const int64_t steps = o->steps ? o->steps : 1000;
    double sum = 0;
    for (int64_t k = 0; !st && k < m->n; k++) {
        float *dst = foil_f32(&poisoned->x) + m->index[k] * F;
        memcpy(x.data, dst, (size_t)F * sizeof(float));
        double ratio;
        st = collide(features, &c, &x, dst, foil_f32(&poisoned->lower), foil_f32(&poisoned->upper), beta, steps, &ratio);
        if (!st) memcpy(dst, x.data, (size_t)F * sizeof(float)), sum += ratio;
    }
    *objective = m->n ? sum / (double)m->n : NAN;
    foil_tensor_free(&x), foil_tensor_free(&ft);
    foil_model_free(features);
    return st;
}
