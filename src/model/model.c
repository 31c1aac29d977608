/*
 * model/model.c - the estimator: an ONNX graph seen as a classifier.
 *
 * Batching. ONNX models either leave the batch dimension symbolic or fix it
 * (often to 1). We run a batch of N in chunks of B: B = the fixed batch, or
 * min(N, max_batch) when it is dynamic. A short final chunk is padded by
 * repeating its last example, and the padded rows are dropped (and get no
 * loss gradient), so every chunk reuses the one plan.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "foil/loss.h"
#include "io/onnx.h"
#include "model/model_internal.h"


foil_status foil_model_from_graph(foil_graph *g, foil_model **out)
{
    *out = NULL;
    foil_status st = FOIL_OK;
    if (g->n_inputs != 1) {
        st = foil_error(FOIL_ERR_UNSUPPORTED, "%s: the model has %d inputs; foil attacks classifiers with exactly one "
                        "input tensor", g->path, g->n_inputs);
        foil_graph_free(g);
        return st;
    }
    const foil_value *in = &g->values[g->inputs[0]];
    if (in->decl_dtype != FOIL_F32 || in->decl_ndim < 1) {
        st = foil_error(FOIL_ERR_UNSUPPORTED, "%s: input '%s' must be a float32 tensor with a batch dimension (it is "
                        "%s of rank %d)", g->path, in->name, foil_dtype_name(in->decl_dtype), in->decl_ndim);
        foil_graph_free(g);
        return st;
    }
    foil_model *m = calloc(1, sizeof *m);
    if (m) m->d_outputs = calloc((size_t)(g->n_outputs > 1 ? g->n_outputs : 1), sizeof *m->d_outputs);
    if (!m || !m->d_outputs) {
        free(m);
        foil_graph_free(g);
        return foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    m->g = g;
    m->fixed_batch = in->decl_shape[0] > 0 ? in->decl_shape[0] : 0;
    m->max_batch = 256;
    *out = m;
    return FOIL_OK;
}

foil_status foil_model_load(const char *path, foil_model **out)
{
    *out = NULL;
    foil_graph *g;
    foil_status st = foil_onnx_load(path, &g);
    if (st) return st;
    return foil_model_from_graph(g, out);
}

static void free_chunk_buffers(foil_model *m)
{
    foil_tensor_free(&m->chunk_x);
    foil_tensor_free(&m->chunk_dlogits);
    free(m->chunk_loss);
    m->chunk_loss = NULL;
}

void foil_model_free(foil_model *m)
{
    if (!m) return;
    free_chunk_buffers(m);
    foil_graph_free(m->g);
    free(m->d_outputs);
    free(m);
}

const foil_tensor *const *foil_model_output_grads(foil_model *m, const foil_tensor *d_logits)
{
    m->d_outputs[0] = d_logits;
    return m->d_outputs;
}

foil_status foil_model_save(const foil_model *m, const char *path) { return foil_onnx_save(m->g, path); }

int foil_model_input_rank(const foil_model *m) { return m->g->values[m->g->inputs[0]].decl_ndim; }

const int64_t *foil_model_input_shape(const foil_model *m) { return m->g->values[m->g->inputs[0]].decl_shape; }

const char *foil_model_path(const foil_model *m) { return m->g->path; }

void foil_model_set_max_batch(foil_model *m, int64_t max_batch) { m->max_batch = max_batch > 0 ? max_batch : 1; }

/* Plan the graph for chunks of b examples shaped like x. */
static foil_status plan_chunk(foil_model *m, const foil_tensor *x, int64_t b)
{
    int64_t shape[FOIL_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[0] = b;
    if (m->planned_batch == b && m->chunk_x.ndim == x->ndim) {
        int same = 1;
        for (int d = 1; d < x->ndim; d++) same &= m->chunk_x.shape[d] == x->shape[d];
        if (same) return FOIL_OK;
    }
    free_chunk_buffers(m);
    m->planned_batch = 0;
    foil_status st = foil_tensor_alloc(&m->chunk_x, FOIL_F32, x->ndim, shape);
    if (st) return st;
    const foil_tensor *inputs[1] = {&m->chunk_x};
    if ((st = foil_graph_plan(m->g, inputs))) return st;
    const foil_tensor *y = foil_graph_output(m->g, 0);
    if (y->dtype != FOIL_F32 || y->ndim < 1 || y->shape[0] != b || y->numel == 0)
        return foil_error(FOIL_ERR_UNSUPPORTED, "%s: the first output must be float32 logits of shape (batch, classes)",
                          m->g->path);
    m->classes = y->numel / b;
    int64_t dshape[2] = {b, m->classes};
    if ((st = foil_tensor_alloc(&m->chunk_dlogits, FOIL_F32, 2, dshape))) return st;
    m->chunk_loss = calloc((size_t)b, sizeof *m->chunk_loss);
    if (!m->chunk_loss) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    m->planned_batch = b;
    return FOIL_OK;
}

static foil_status check_input(const foil_model *m, const foil_tensor *x)
{
    if (x->dtype != FOIL_F32)
        return foil_error(FOIL_ERR_ARG, "%s: input must be float32, got %s", m->g->path, foil_dtype_name(x->dtype));
    if (x->ndim < 1 || x->shape[0] < 1)
        return foil_error(FOIL_ERR_ARG, "%s: input must have a batch dimension with at least one example", m->g->path);
    return FOIL_OK;
}

static int64_t chunk_size(const foil_model *m, int64_t n)
{
    if (m->fixed_batch) return m->fixed_batch;
    return n < m->max_batch ? n : m->max_batch;
}

/* Stage examples [start, start+count) of x into the chunk, padding the rest
 * of the chunk with copies of the last example. */
static void stage_chunk(foil_model *m, const foil_tensor *x, int64_t start, int64_t count)
{
    size_t per = foil_tensor_nbytes(x) / (size_t)x->shape[0];
    char *dst = m->chunk_x.data;
    const char *src = (const char *)x->data + (size_t)start * per;
    memcpy(dst, src, (size_t)count * per);
    for (int64_t i = count; i < m->planned_batch; i++) memcpy(dst + (size_t)i * per, src + (size_t)(count - 1) * per, per);
}

static foil_status ensure_output(foil_model *m, foil_tensor *t, int ndim, const int64_t *shape, const char *what)
{
    if (!t->data) return foil_tensor_alloc(t, FOIL_F32, ndim, shape);
    foil_tensor want = {0};
    foil_status st = foil_tensor_set_shape(&want, FOIL_F32, ndim, shape);
    if (st) return st;
    if (t->dtype != FOIL_F32 || !foil_tensor_same_shape(t, &want))
        return foil_error(FOIL_ERR_ARG, "%s: %s tensor has the wrong shape", m->g->path, what);
    return FOIL_OK;
}

/* A model's output is untrusted too: a NaN or infinite logit (a broken
 * model, or an input that overflows float32 inside it) must never pass for
 * a prediction, a loss or an attack's success. first: the chunk's first
 * example in the caller's batch. */
static foil_status check_logits(const foil_model *m, const float *y, int64_t first, int64_t count)
{
    int64_t i = foil_first_nonfinite(y, count * m->classes);
    if (i < 0) return FOIL_OK;
    return foil_error(FOIL_ERR_RUNTIME, "%s: the model gave a %s logit for example %lld (class %lld); check that "
                      "input for huge values, or the model for a broken operation", m->g->path,
                      isnan(y[i]) ? "NaN" : "infinite", (long long)(first + i / m->classes),
                      (long long)(i % m->classes));
}

foil_status foil_model_predict(foil_model *m, const foil_tensor *x, foil_tensor *logits)
{
    return foil_model_input_grad(m, x, NULL, NULL, NULL, logits, NULL);
}

/* Cross-entropy as a foil_logit_fn: ctx is the caller's label array. */
static foil_status xent_fn(void *ctx, int64_t first, int64_t count, int64_t classes, const float *logits,
                           float *value, float *dvalue)
{
    const int64_t *labels = (const int64_t *)ctx + first;
    return foil_softmax_xent(logits, labels, count, classes, value, dvalue);
}

foil_status foil_model_loss_input_grad(foil_model *m, const foil_tensor *x, const int64_t *labels, float *loss,
                                       foil_tensor *logits, foil_tensor *grad)
{
    if ((grad || loss) && !labels) return foil_error(FOIL_ERR_ARG, "%s: labels are required for the loss", m->g->path);
    return foil_model_input_grad(m, x, labels ? xent_fn : NULL, (void *)labels, loss, logits, grad);
}

foil_status foil_model_input_grad(foil_model *m, const foil_tensor *x, foil_logit_fn fn, void *ctx, float *value,
                                  foil_tensor *logits, foil_tensor *grad)
{
    foil_status st = check_input(m, x);
    if (st) return st;
    int64_t n = x->shape[0];
    int64_t b = chunk_size(m, n);
    if ((st = plan_chunk(m, x, b))) return st;
    int64_t lshape[2] = {n, m->classes};
    if (logits && (st = ensure_output(m, logits, 2, lshape, "logits"))) return st;
    if (grad && (st = ensure_output(m, grad, x->ndim, x->shape, "gradient"))) return st;
    int want_value = value != NULL || grad != NULL;
    if (want_value && !fn) return foil_error(FOIL_ERR_ARG, "%s: a gradient needs a function of the logits", m->g->path);
    size_t per_x = foil_tensor_nbytes(x) / (size_t)n;
    const foil_tensor *inputs[1] = {&m->chunk_x};
    const foil_tensor *const *d_outputs = foil_model_output_grads(m, &m->chunk_dlogits);
    for (int64_t start = 0; start < n; start += b) {
        int64_t count = n - start < b ? n - start : b;
        stage_chunk(m, x, start, count);
        if ((st = foil_graph_forward(m->g, inputs, 0, 0))) return st;
        const float *y = foil_f32(foil_graph_output(m->g, 0));
        if ((st = check_logits(m, y, start, count))) return st;
        if (logits) memcpy(foil_f32(logits) + start * m->classes, y, (size_t)(count * m->classes) * sizeof(float));
        if (!want_value) continue;
        /* Only the chunk's real rows go to fn; padded rows get a zero
         * gradient, so they neither contribute to nor leak into it. */
        float *dl = foil_f32(&m->chunk_dlogits);
        if ((st = fn(ctx, start, count, m->classes, y, value ? m->chunk_loss : NULL, dl)))
            return foil_error_prefix(st, "%s", m->g->path);
        if (value) memcpy(value + start, m->chunk_loss, (size_t)count * sizeof *value);
        if (!grad) continue;
        memset(dl + count * m->classes, 0, (size_t)((b - count) * m->classes) * sizeof(float));
        if ((st = foil_graph_backward(m->g, d_outputs, FOIL_GRAD_INPUTS))) return st;
        memcpy((char *)grad->data + (size_t)start * per_x, foil_graph_input_grad(m->g, 0)->data, (size_t)count * per_x);
    }
    return FOIL_OK;
}

foil_status foil_model_num_classes(foil_model *m, int64_t *classes)
{
    if (!m->planned_batch) {
        const foil_value *in = &m->g->values[m->g->inputs[0]];
        int64_t shape[FOIL_MAX_DIMS];
        for (int d = 0; d < in->decl_ndim; d++) {
            shape[d] = d == 0 ? 1 : in->decl_shape[d];
            if (shape[d] < 0)
                return foil_error(FOIL_ERR_UNSUPPORTED, "%s: input dimension %d is dynamic; give an input to learn the "
                                  "number of classes", m->g->path, d);
        }
        foil_tensor x = {0};
        foil_status st = foil_tensor_set_shape(&x, FOIL_F32, in->decl_ndim, shape);
        if (st) return st;
        if ((st = plan_chunk(m, &x, m->fixed_batch ? m->fixed_batch : 1))) return st;
    }
    *classes = m->classes;
    return FOIL_OK;
}
