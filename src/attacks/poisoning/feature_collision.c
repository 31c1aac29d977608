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
#include "foil/progress.h"

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

/* All poisons at once (x: n rows, at their bases b on entry), each with
 * its own step size; *ratio gets the mean of their final feature distance
 * squared over their base's. */
static foil_status collide(foil_model *features, Collision *c, foil_tensor *x, const float *b, const float *lo,
                           const float *hi, double beta, int64_t steps, int quiet, double *ratio)
{
    foil_progress bar;
    foil_progress_start(&bar, "feature collision", steps, "steps", quiet);
    const int64_t n = x->shape[0], F = x->numel / n;
    foil_tensor grad = {0};
    float *prev = malloc((size_t)(n * F) * sizeof *prev), *dist = malloc((size_t)n * sizeof *dist),
          *start = malloc((size_t)n * sizeof *start);
    double *lr = malloc((size_t)n * sizeof *lr), *objective = malloc((size_t)n * sizeof *objective);
    foil_status st = prev && dist && start && lr && objective
                         ? foil_model_input_grad(features, x, feature_distance, c, start, NULL, &grad)
                         : foil_error(FOIL_ERR_NOMEM, "out of memory for poison frogs");
    for (int64_t i = 0; !st && i < n; i++) { /* the first step moves x by a tenth of |b| */
        double g2 = 0, b2 = 0;
        for (int64_t k = 0; k < F; k++)
            g2 += (double)foil_f32(&grad)[i * F + k] * foil_f32(&grad)[i * F + k], b2 += (double)b[i * F + k] * b[i * F + k];
        lr[i] = g2 > 0 ? 0.1 * sqrt(b2 / g2) : 0;
        objective[i] = start[i];
    }
    for (int64_t s = 0; !st && s < steps; s++) {
        float *xv = foil_f32(x);
        const float *g = foil_f32(&grad);
        memcpy(prev, xv, (size_t)(n * F) * sizeof *prev);
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < F; k++) {
                int64_t at = i * F + k;
                double forward = xv[at] - lr[i] * g[at];
                double back = (forward + lr[i] * beta * b[at]) / (1 + lr[i] * beta);
                xv[at] = fminf(fmaxf((float)back, lo[k]), hi[k]);
            }
        if ((st = foil_model_input_grad(features, x, feature_distance, c, dist, NULL, &grad))) break;
        int undone = 0;
        for (int64_t i = 0; i < n; i++) {
            double next = dist[i] + beta * norm2(xv + i * F, b + i * F, F);
            if (next <= objective[i]) {
                objective[i] = next;
                continue;
            }
            /* undo that poison's step and halve its step size */
            memcpy(xv + i * F, prev + i * F, (size_t)F * sizeof *prev);
            lr[i] /= 2, undone = 1;
        }
        if (undone) st = foil_model_input_grad(features, x, feature_distance, c, dist, NULL, &grad);
        foil_progress_update(&bar, s + 1, NULL);
    }
    foil_progress_finish(&bar, NULL);
    /* dist is x's: every pass above left it at the poisons as they now are */
    if (!st && steps == 0) memcpy(dist, start, (size_t)n * sizeof *dist);
    double sum = 0;
    for (int64_t i = 0; !st && i < n; i++) sum += start[i] > 0 ? dist[i] / start[i] : 0;
    *ratio = n ? sum / (double)n : NAN;
    foil_tensor_free(&grad);
    free(prev), free(dist), free(start), free(lr), free(objective);
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
    float *bases = malloc((size_t)((m->n ? m->n : 1) * F) * sizeof *bases);
    Collision c = {0};
    if (!bases) st = foil_error(FOIL_ERR_NOMEM, "out of memory for poison frogs");
    if (!st && !(st = foil_tensor_alloc(&x, FOIL_F32, poisoned->x.ndim, shape))) {
        memcpy(x.data, o->target_x, (size_t)F * sizeof(float));
        st = foil_model_predict(features, &x, &ft);
    }
    if (!st) c.target_features = foil_f32(&ft), c.d = ft.numel;
    const double beta = BETA0 * ((double)c.d / (double)F) * ((double)c.d / (double)F);
    shape[0] = m->n;
    foil_tensor_free(&x);
    double ratio = NAN;
    if (!st && m->n && !(st = foil_tensor_alloc(&x, FOIL_F32, poisoned->x.ndim, shape))) {
        for (int64_t k = 0; k < m->n; k++)
            memcpy(bases + k * F, foil_f32(&poisoned->x) + m->index[k] * F, (size_t)F * sizeof(float));
        memcpy(x.data, bases, (size_t)(m->n * F) * sizeof(float));
        st = collide(features, &c, &x, bases, foil_f32(&poisoned->lower), foil_f32(&poisoned->upper), beta,
                     o->steps ? o->steps : 1000, o->quiet, &ratio);
        for (int64_t k = 0; !st && k < m->n; k++)
            memcpy(foil_f32(&poisoned->x) + m->index[k] * F, foil_f32(&x) + k * F, (size_t)F * sizeof(float));
    }
    free(bases);
    *objective = ratio;
    foil_tensor_free(&x), foil_tensor_free(&ft);
    foil_model_free(features);
    return st;
}
