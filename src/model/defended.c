/*
 * model/defended.c - a model behind preprocessing defenses and an output
 * postprocessor: a query returns output(inner(pre_k(...pre_1(x)))).
 *
 * Gradients chain through the preprocessors in reverse, each by its exact
 * derivative (what an attack unaware of the defense computes: zero almost
 * everywhere through a quantizer, so gradient attacks stall and the defense
 * looks strong) or by its BPDA approximation (Athalye, Carlini, Wagner
 * 2018: the forward pass is the real defense, the backward pass that of a
 * differentiable stand-in, identity by default). Reporting both, side by
 * side, is how a preprocessing defense is evaluated honestly.
 */
#include <stdlib.h>
#include <string.h>

#include "foil/defense.h"
#include "model/model_internal.h"

typedef struct defended {
    foil_model *inner;         /* first: see foilWrapperNumClasses */
    foil_preprocessor *pre;
    int n_pre;
    foil_output output;
    foil_gradient_mode mode;
    char *name;
    /* Kept between calls, so that an attack's steps (same batch shape) do
     * not allocate: xs[k] holds x_k, the input after k stages (k >= 1),
     * and scratch one backward's output. */
    foil_tensor *xs;
    float *scratch;
    size_t scratch_bytes;
} defended;

/* x_0 = x, x_{k+1} = pre_k(x_k) for the n_pre stages; m->xs[k] holds x_k
 * for k >= 1. Returns x_{n_pre} (x itself without preprocessors). */
static foil_status run_forward(defended *m, const foil_tensor *x, const uint64_t *seeds, const foil_tensor **z)
{
    const int64_t n = x->shape[0], d = x->numel / n;
    const float *in = foil_f32(x);
    *z = x;
    for (int k = 0; k < m->n_pre; k++) {
        foil_tensor *out = &m->xs[k + 1];
        foil_status st = FOIL_OK;
        if (!out->data || !foil_tensor_same_shape(out, x)) {
            foil_tensor_free(out);
            st = foil_tensor_alloc(out, FOIL_F32, x->ndim, x->shape);
        }
        if (!st) st = m->pre[k].forward(m->pre[k].ctx, in, foil_f32(out), n, d, seeds);
        if (st) return foil_error_prefix(st, "%s: preprocessor %s", m->name, m->pre[k].name);
        in = foil_f32(out);
        *z = out;
    }
    return FOIL_OK;
}

static foil_status defended_predict(void *state, const foil_tensor *x, const uint64_t *seeds, foil_tensor *scores)
{
    defended *m = state;
    const foil_tensor *z;
    foil_status st = run_forward(m, x, seeds, &z);
    if (!st) st = foil_model_predict_seeded(m->inner, z, seeds, scores);
    if (!st)
        st = foil_output_apply(&m->output, foil_model_capabilities(m->inner), foil_f32(scores), x->shape[0],
                               scores->shape[1], seeds);
    return st;
}

/* grad holds d/dx_{k+1}; replace it by d/dx_k through stage k. */
static foil_status stage_backward(const defended *m, int k, const float *xk, foil_tensor *grad, float *scratch,
                                  const uint64_t *seeds)
{
    const foil_preprocessor *p = &m->pre[k];
    const int64_t n = grad->shape[0], d = grad->numel / n;
    if (m->mode == FOIL_GRADIENT_BPDA && !p->bpda_backward) return FOIL_OK; /* identity */
    foil_status st = m->mode == FOIL_GRADIENT_BPDA ? p->bpda_backward(p->ctx, xk, foil_f32(grad), scratch, n, d, seeds)
                                                   : p->backward(p->ctx, xk, foil_f32(grad), scratch, n, d, seeds);
    if (st) return foil_error_prefix(st, "%s: preprocessor %s backward", m->name, p->name);
    memcpy(foil_f32(grad), scratch, (size_t)(n * d) * sizeof *scratch);
    return FOIL_OK;
}

static foil_status defended_input_grad(void *state, const foil_tensor *x, const uint64_t *seeds, foil_logit_fn fn,
                                       void *ctx, float *value, foil_tensor *scores, foil_tensor *grad)
{
    defended *m = state;
    size_t bytes = foil_tensor_nbytes(x);
    if (grad && m->n_pre && bytes > m->scratch_bytes) {
        free(m->scratch);
        m->scratch_bytes = 0;
        if (!(m->scratch = malloc(bytes))) return foil_error(FOIL_ERR_NOMEM, "out of memory");
        m->scratch_bytes = bytes;
    }
    const foil_tensor *z;
    foil_status st = run_forward(m, x, seeds, &z);
    if (!st) st = foil_model_input_grad_seeded(m->inner, z, seeds, fn, ctx, value, scores, grad);
    for (int k = m->n_pre - 1; !st && grad && k >= 0; k--)
        st = stage_backward(m, k, k ? foil_f32(&m->xs[k]) : foil_f32(x), grad, m->scratch, seeds);
    if (!st && scores)
        st = foil_output_apply(&m->output, foil_model_capabilities(m->inner), foil_f32(scores), x->shape[0],
                               scores->shape[1], seeds);
    return st;
}

static void defended_destroy(void *state)
{
    defended *m = state;
    if (!m) return;
    foil_model_free(m->inner);
    foil_preprocessors_free(m->pre, m->n_pre);
    for (int k = 1; m->xs && k <= m->n_pre; k++) foil_tensor_free(&m->xs[k]);
    free(m->xs);
    free(m->scratch);
    free(m->pre);
    free(m->name);
    free(m);
}

static const foil_model_ops defended_ops = {
    .kind = "defended",
    .predict = defended_predict,
    .input_grad = defended_input_grad,
    .num_classes = foilWrapperNumClasses,
    .set_max_batch = foilWrapperSetMaxBatch,
    .destroy = defended_destroy,
};

/* The capabilities of inner once defended: randomized if a preprocessor
 * is; without gradients when inner has none or an exact gradient is asked
 * through a preprocessor that has no exact derivative. */
static unsigned defended_capabilities(const defended *m)
{
    unsigned caps = foil_output_capabilities(&m->output, foil_model_capabilities(m->inner));
    for (int k = 0; k < m->n_pre; k++) {
        if (m->pre[k].randomized) caps |= FOIL_MODEL_RANDOMIZED;
        if (m->mode == FOIL_GRADIENT_EXACT && !m->pre[k].backward) caps &= ~(unsigned)FOIL_MODEL_GRADIENTS;
    }
    return caps;
}

/* "inner + bit-depth(4) + median(3)": the name errors carry. */
static char *defended_name(const char *inner, const foil_preprocessor *pre, int n_pre)
{
    size_t len = strlen(inner) + 1;
    for (int k = 0; k < n_pre; k++) len += strlen(pre[k].name) + 3;
    char *s = malloc(len);
    if (!s) return NULL;
    strcpy(s, inner);
    for (int k = 0; k < n_pre; k++) strcat(strcat(s, " + "), pre[k].name);
    return s;
}

foil_status foil_model_defended(foil_model *inner, const foil_preprocessor *pre, int n_pre, const foil_output *output,
                                foil_gradient_mode mode, foil_model **out)
{
    *out = NULL;
    foil_status st = FOIL_OK;
    for (int k = 0; !st && k < n_pre; k++)
        if (!pre[k].name || !pre[k].forward)
            st = foil_error(FOIL_ERR_ARG, "%s: preprocessor %d has no name or forward pass", foil_model_name(inner), k);
    if (!st && n_pre < 0) st = foil_error(FOIL_ERR_ARG, "%s: negative preprocessor count", foil_model_name(inner));
    if (!st && output) st = foil_output_check(output, foil_model_capabilities(inner), foil_model_name(inner));
    defended *m = st ? NULL : calloc(1, sizeof *m);
    if (m) {
        m->pre = n_pre ? malloc((size_t)n_pre * sizeof *m->pre) : NULL;
        m->xs = calloc((size_t)n_pre + 1, sizeof *m->xs);
        m->name = defended_name(foil_model_name(inner), pre, n_pre);
    }
    if (!st && (!m || (n_pre && !m->pre) || !m->xs || !m->name)) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    if (st) {
        if (m) free(m->pre), free(m->xs), free(m->name), free(m);
        foil_preprocessors_free((foil_preprocessor *)pre, n_pre > 0 ? n_pre : 0);
        foil_model_free(inner);
        return st;
    }
    m->inner = inner;
    if (n_pre) memcpy(m->pre, pre, (size_t)n_pre * sizeof *pre);
    m->n_pre = n_pre;
    if (output) m->output = *output;
    m->mode = mode;
    foil_model_desc desc = {
        .name = m->name,
        .capabilities = defended_capabilities(m),
        .input_rank = foil_model_input_rank(inner),
        .input_shape = foil_model_input_shape(inner),
    };
    return foil_model_create(&defended_ops, m, &desc, out);
}
