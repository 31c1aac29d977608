/*
 * model/ensemble.c - an ensemble of classifiers as one model: its logits
 * are the mean of its members' logits (foil_model_ensemble, foil/model.h).
 *
 * A gradient is that of the attack's function at the mean logits z:
 * d fn(z) / dx = sum_i (1/n) J_i^T (d fn / d z), so the members are first
 * queried for their logits, fn is evaluated once at their mean, and each
 * member then back-propagates the same d fn / d z, divided by n (a fixed
 * function of its logits, fixed_dvalue). Each input costs each member one
 * query, and one more with its gradient.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

typedef struct ensemble {
    foil_model *members[FOIL_ENSEMBLE_MAX];
    int n;
    char name[512];
} ensemble;

/* The members' mean logits into z (allocated or checked like scores). */
static foil_status mean_logits(ensemble *e, const foil_tensor *x, const uint64_t *seeds, foil_tensor *z)
{
    foil_tensor zi = {0};
    foil_status st = FOIL_OK;
    for (int i = 0; i < e->n && !st; i++) {
        if ((st = foil_model_predict_seeded(e->members[i], x, seeds, &zi))) break;
        if (i == 0 && (st = foil_model_ensure_output(e->name, z, 2, zi.shape, "logits"))) break;
        if (i == 0) memset(z->data, 0, foil_tensor_nbytes(z));
        if (zi.shape[1] != z->shape[1])
            st = foil_error(FOIL_ERR_SHAPE, "%s: member %d gives %lld classes, member 1 %lld", e->name, i + 1,
                            (long long)zi.shape[1], (long long)z->shape[1]);
        for (int64_t k = 0; !st && k < z->numel; k++) foil_f32(z)[k] += foil_f32(&zi)[k] / (float)e->n;
        foil_tensor_free(&zi);
    }
    foil_tensor_free(&zi);
    return st;
}

static foil_status ensemble_predict(void *state, const foil_tensor *x, const uint64_t *seeds, foil_tensor *scores)
{
    return mean_logits(state, x, seeds, scores);
}

/* d fn / d z at the ensemble's logits, already divided by n: every member
 * back-propagates it whatever its own logits are. */
typedef struct fixed_dvalue {
    const float *dz;           /* N x classes */
} fixed_dvalue;

static foil_status fixed_dvalue_fn(void *ctx, int64_t first, int64_t count, int64_t classes, const float *logits,
                                   float *value, float *dvalue)
{
    (void)logits, (void)value;
    const fixed_dvalue *f = ctx;
    memcpy(dvalue, f->dz + first * classes, (size_t)(count * classes) * sizeof *dvalue);
    return FOIL_OK;
}

static foil_status ensemble_input_grad(void *state, const foil_tensor *x, const uint64_t *seeds, foil_logit_fn fn,
                                       void *ctx, float *value, foil_tensor *scores, foil_tensor *grad)
{
    ensemble *e = state;
    if (!fn) return mean_logits(e, x, seeds, scores);
    const int64_t n = x->shape[0];
    foil_tensor z = {0}, gi = {0};
    foil_status st = mean_logits(e, x, seeds, &z);
    const int64_t classes = st ? 0 : z.shape[1];
    float *dz = st ? NULL : malloc((size_t)(n * classes) * sizeof *dz);
    if (!st && !dz) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    if (!st && (st = fn(ctx, 0, n, classes, foil_f32(&z), value, dz))) st = foil_error_prefix(st, "%s", e->name);
    for (int64_t k = 0; !st && k < n * classes; k++) dz[k] /= (float)e->n;
    fixed_dvalue f = {dz};
    if (!st && grad) memset(grad->data, 0, foil_tensor_nbytes(grad));
    for (int i = 0; !st && grad && i < e->n; i++) {
        if ((st = foil_model_input_grad_seeded(e->members[i], x, seeds, fixed_dvalue_fn, &f, NULL, NULL, &gi))) break;
        for (int64_t k = 0; k < gi.numel; k++) foil_f32(grad)[k] += foil_f32(&gi)[k];
    }
    if (!st && scores) {
        st = foil_model_ensure_output(e->name, scores, 2, z.shape, "logits");
        if (!st) memcpy(scores->data, z.data, foil_tensor_nbytes(&z));
    }
    free(dz);
    foil_tensor_free(&z);
    foil_tensor_free(&gi);
    return st;
}

static foil_status ensemble_num_classes(void *state, int64_t *classes)
{
    ensemble *e = state;
    return foil_model_num_classes(e->members[0], classes);
}

static void ensemble_set_max_batch(void *state, int64_t max_batch)
{
    ensemble *e = state;
    for (int i = 0; i < e->n; i++) foil_model_set_max_batch(e->members[i], max_batch);
}

static void ensemble_destroy(void *state)
{
    ensemble *e = state;
    if (!e) return;
    for (int i = 0; i < e->n; i++) foil_model_free(e->members[i]);
    free(e);
}

static const foil_model_ops ensemble_ops = {
    .kind = "ensemble",
    .predict = ensemble_predict,
    .input_grad = ensemble_input_grad,
    .num_classes = ensemble_num_classes,
    .set_max_batch = ensemble_set_max_batch,
    .destroy = ensemble_destroy,
};

foil_status foil_model_ensemble(foil_model *const *members, int n, foil_model **out)
{
    *out = NULL;
    foil_status st = n >= 1 && n <= FOIL_ENSEMBLE_MAX
                         ? FOIL_OK
                         : foil_error(FOIL_ERR_ARG, "an ensemble takes 1 to %d models, not %d", FOIL_ENSEMBLE_MAX, n);
    unsigned caps = FOIL_MODEL_GRADIENTS | FOIL_MODEL_SCORES;
    for (int i = 0; !st && i < n; i++) {
        unsigned c = foil_model_capabilities(members[i]);
        if (!(c & FOIL_MODEL_SCORES) || (c & FOIL_MODEL_PROBABILITIES))
            st = foil_error(FOIL_ERR_CAPABILITY, "%s: an ensemble averages logits, and this model gives %s",
                            foil_model_name(members[i]), c & FOIL_MODEL_SCORES ? "probabilities" : "labels only");
        if (!(c & FOIL_MODEL_GRADIENTS)) caps &= ~(unsigned)FOIL_MODEL_GRADIENTS;
        caps |= c & FOIL_MODEL_RANDOMIZED;
    }
    ensemble *e = st ? NULL : calloc(1, sizeof *e);
    if (!st && !e) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    if (st) {
        for (int i = 0; i < n; i++) foil_model_free(members[i]);
        return st;
    }
    e->n = n;
    memcpy(e->members, members, (size_t)n * sizeof *members);
    int len = snprintf(e->name, sizeof e->name, "ensemble(");
    for (int i = 0; i < n && len < (int)sizeof e->name; i++)
        len += snprintf(e->name + len, sizeof e->name - (size_t)len, "%s%s", i ? ", " : "", foil_model_name(members[i]));
    if (len < (int)sizeof e->name) snprintf(e->name + len, sizeof e->name - (size_t)len, ")");
    foil_model_desc desc = {.name = e->name, .capabilities = caps, .input_rank = foil_model_input_rank(members[0]),
                            .input_shape = foil_model_input_shape(members[0])};
    return foil_model_create(&ensemble_ops, e, &desc, out);
}
