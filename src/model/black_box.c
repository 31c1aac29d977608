/*
 * model/black_box.c - a model that only answers queries: the inner model's
 * gradients are hidden, a query budget is enforced before anything is
 * evaluated, and what a query returns follows an output mode. This is the
 * threat model of an attacker who can call a deployed model's API but
 * cannot read its weights: attacks that need gradients are refused by the
 * runner, and score- or decision-based ones run unchanged.
 */
#include <stdlib.h>

#include "model/model_internal.h"

typedef struct black_box {
    foil_model *inner;         /* first: see foilWrapperNumClasses */
    int64_t budget;            /* 0: no limit */
    int64_t used;              /* queries answered so far */
    foil_output output;
} black_box;

static foil_status black_box_predict(void *state, const foil_tensor *x, const uint64_t *seeds, foil_tensor *scores)
{
    black_box *b = state;
    const int64_t n = x->shape[0];
    if (b->budget && b->used + n > b->budget)
        return foil_error(FOIL_ERR_BUDGET, "%s: query budget of %lld spent (%lld used; this call asks %lld more)",
                          foil_model_name(b->inner), (long long)b->budget, (long long)b->used, (long long)n);
    foil_status st = foil_model_predict_seeded(b->inner, x, seeds, scores);
    if (!st)
        st = foil_output_apply(&b->output, foil_model_capabilities(b->inner), foil_f32(scores), n, scores->shape[1],
                               seeds);
    if (!st) b->used += n;
    return st;
}

static const foil_model_ops black_box_ops = {
    .kind = "black-box",
    .predict = black_box_predict,
    .num_classes = foilWrapperNumClasses,
    .set_max_batch = foilWrapperSetMaxBatch,
    .destroy = foilWrapperDestroy,
};

foil_status foil_model_black_box(foil_model *inner, int64_t budget, const foil_output *output, foil_model **out)
{
    *out = NULL;
    foil_output logits = {.mode = FOIL_OUTPUT_LOGITS};
    if (!output) output = &logits;
    const unsigned inner_caps = foil_model_capabilities(inner);
    foil_status st = FOIL_OK;
    if (budget < 0) st = foil_error(FOIL_ERR_ARG, "%s: a query budget must be >= 0", foil_model_name(inner));
    else st = foil_output_check(output, inner_caps, foil_model_name(inner));
    black_box *b = st ? NULL : calloc(1, sizeof *b);
    if (!st && !b) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    if (st) {
        foil_model_free(inner);
        return st;
    }
    b->inner = inner;
    b->budget = budget;
    b->output = *output;
    foil_model_desc desc = {
        .name = foil_model_name(inner),
        .capabilities = foil_output_capabilities(output, inner_caps) & ~(unsigned)FOIL_MODEL_GRADIENTS,
        .input_rank = foil_model_input_rank(inner),
        .input_shape = foil_model_input_shape(inner),
    };
    return foil_model_create(&black_box_ops, b, &desc, out);
}
