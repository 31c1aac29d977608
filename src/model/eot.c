/*
 * model/eot.c - Expectation over Transformation (Athalye, Engstrom, Ilyas,
 * Kwok 2018; Athalye, Carlini, Wagner 2018): a randomized model seen
 * through the average of n independent draws. A query returns the mean of
 * the draws' probabilities; a gradient is the mean of the draws' gradients
 * of the attack's function, the Monte Carlo estimate of the gradient of its
 * expectation over the model's randomness. An attack on eot(model, n) is
 * the adaptive attack on a randomized defense.
 *
 * Draw j of example i uses the seed mix(base_i, j), where base_i is the
 * caller's seed for the example (an attack derives it from its seed, the
 * example and that example's query count, see attacks/common.c), so results
 * depend on neither batch size nor thread count; without a caller's seeds,
 * base_i comes from this model's own seed and the examples it has seen.
 */
#include <stdlib.h>
#include <string.h>

#include "foil/rng.h"
#include "model/model_internal.h"

typedef struct eot {
    foil_model *inner;         /* first: see foilWrapperNumClasses */
    int draws;
    uint64_t seed;
    uint64_t seen;             /* examples queried without a caller's seeds */
} eot;

/* The seeds of draw j for n examples. */
static void draw_seeds(const eot *e, const uint64_t *base, int64_t n, int j, uint64_t *out)
{
    for (int64_t i = 0; i < n; i++) {
        uint64_t b = base ? base[i] : foil_rng_at(e->seed, e->seen + (uint64_t)i);
        out[i] = foil_rng_at(b, (uint64_t)j);
    }
}

/* Add a draw's scores, as probabilities, to acc. */
static void accumulate(const eot *e, const float *z, int64_t n, int64_t classes, float *acc)
{
    const unsigned caps = foil_model_capabilities(e->inner);
    if ((caps & FOIL_MODEL_SCORES) && !(caps & FOIL_MODEL_PROBABILITIES)) {
        float *p = malloc((size_t)classes * sizeof *p);
        foil_output soft = {.mode = FOIL_OUTPUT_PROBABILITIES};
        for (int64_t i = 0; p && i < n; i++) {
            memcpy(p, z + i * classes, (size_t)classes * sizeof *p);
            foil_output_apply(&soft, caps, p, 1, classes, NULL);
            for (int64_t k = 0; k < classes; k++) acc[i * classes + k] += p[k];
        }
        free(p);
        return;
    }
    for (int64_t i = 0; i < n * classes; i++) acc[i] += z[i]; /* probabilities, or one-hot votes */
}

typedef struct eot_call {
    const foil_tensor *x;
    const uint64_t *seeds;
    foil_logit_fn fn;
    void *ctx;
    float *value;
    foil_tensor *scores, *grad;
} eot_call;

static foil_status eot_run(eot *e, const eot_call *call)
{
    const int64_t n = call->x->shape[0];
    uint64_t *s = malloc((size_t)n * sizeof *s);
    float *v = call->value ? malloc((size_t)n * sizeof *v) : NULL;
    foil_tensor z = {0}, g = {0};
    foil_status st = s && (!call->value || v) ? FOIL_OK : foil_error(FOIL_ERR_NOMEM, "out of memory");
    float *acc = NULL;
    if (call->value) memset(call->value, 0, (size_t)n * sizeof *call->value);
    if (call->grad) memset(call->grad->data, 0, foil_tensor_nbytes(call->grad));
    for (int j = 0; !st && j < e->draws; j++) {
        draw_seeds(e, call->seeds, n, j, s);
        st = call->fn && (call->grad || call->value)
                 ? foil_model_input_grad_seeded(e->inner, call->x, s, call->fn, call->ctx, v, &z,
                                                call->grad ? &g : NULL)
                 : foil_model_predict_seeded(e->inner, call->x, s, &z);
        if (st) break;
        const int64_t classes = z.shape[1];
        if (!acc && !(acc = calloc((size_t)(n * classes), sizeof *acc))) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
        if (st) break;
        accumulate(e, foil_f32(&z), n, classes, acc);
        for (int64_t i = 0; call->grad && i < g.numel; i++) foil_f32(call->grad)[i] += foil_f32(&g)[i] / (float)e->draws;
        for (int64_t i = 0; v && i < n; i++) call->value[i] += v[i] / (float)e->draws;
    }
    if (!st && call->scores) {
        int64_t shape[2] = {n, z.shape[1]};
        st = foil_model_ensure_output(foil_model_name(e->inner), call->scores, 2, shape, "scores");
        for (int64_t i = 0; !st && i < n * shape[1]; i++) foil_f32(call->scores)[i] = acc[i] / (float)e->draws;
    }
    if (!st && !call->seeds) e->seen += (uint64_t)n;
    free(s);
    free(v);
    free(acc);
    foil_tensor_free(&z);
    foil_tensor_free(&g);
    return st;
}

static foil_status eot_predict(void *state, const foil_tensor *x, const uint64_t *seeds, foil_tensor *scores)
{
    eot_call call = {.x = x, .seeds = seeds, .scores = scores};
    return eot_run(state, &call);
}

static foil_status eot_input_grad(void *state, const foil_tensor *x, const uint64_t *seeds, foil_logit_fn fn, void *ctx,
                                  float *value, foil_tensor *scores, foil_tensor *grad)
{
    eot_call call = {.x = x, .seeds = seeds, .fn = fn, .ctx = ctx, .value = value, .scores = scores, .grad = grad};
    return eot_run(state, &call);
}

static const foil_model_ops eot_ops = {
    .kind = "eot",
    .predict = eot_predict,
    .input_grad = eot_input_grad,
    .num_classes = foilWrapperNumClasses,
    .set_max_batch = foilWrapperSetMaxBatch,
    .destroy = foilWrapperDestroy,
};

foil_status foil_model_eot(foil_model *inner, int draws, uint64_t seed, foil_model **out)
{
    *out = NULL;
    foil_status st = draws >= 1 && draws <= 100000
                         ? FOIL_OK
                         : foil_error(FOIL_ERR_ARG, "%s: EOT needs 1 to 100000 draws, not %d", foil_model_name(inner),
                                      draws);
    eot *e = st ? NULL : calloc(1, sizeof *e);
    if (!st && !e) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    if (st) {
        foil_model_free(inner);
        return st;
    }
    e->inner = inner;
    e->draws = draws;
    e->seed = seed;
    foil_model_desc desc = {
        .name = foil_model_name(inner),
        .capabilities = foil_model_capabilities(inner) | FOIL_MODEL_SCORES | FOIL_MODEL_PROBABILITIES,
        .input_rank = foil_model_input_rank(inner),
        .input_shape = foil_model_input_shape(inner),
    };
    return foil_model_create(&eot_ops, e, &desc, out);
}
