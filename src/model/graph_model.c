/*
 * model/graph_model.c - the ONNX graph model: foil's engine behind the
 * model interface (model.c), with gradients.
 *
 * Batching. ONNX models either leave the batch dimension symbolic or fix it
 * (often to 1, as exporters and VNN-COMP do). We run a batch of N in chunks
 * of B = min(N, max_batch), planning once per chunk size. A model that fixes
 * its batch is tried at B too (choose_chunk): it keeps B when the plan
 * succeeds, gives (B, classes) logits and its rows do not depend on each
 * other (probe_per_example); otherwise (a Reshape to a constant shape, as in
 * the model zoo's mnist-8) it runs in chunks of its declared batch. A short
 * final chunk is padded by repeating its last example, and the padded rows
 * are dropped (and get no loss gradient), so every chunk reuses the one plan.
 *
 * Shapes. The interface (model.c) hands examples over in the shape the
 * declared input takes (a model declaring [1, 784, 1] gets MNIST's
 * (N, 1, 28, 28) as (N, 784, 1)); the bytes are the same, so inputs,
 * gradients and adversarial examples keep the caller's shape.
 *
 * Token ids. A text classifier's input is int64 (or int32) token ids
 * (N, L); the interface hands them over as float32 whole numbers, which the
 * graph converts at every forward (foilGraphPlan). Such a model has no input
 * gradient (foil_model_why_no_gradients says so): text attacks query it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foil/loss.h"
#include "io/onnx.h"
#include "model/model_internal.h"
#include "nn/ml/ml.h"


static const foil_model_ops graph_ops;

foil_status foilModelFromGraph(FoilGraph *g, foil_model **out)
{
    *out = NULL;
    foil_status st = FOIL_OK;
    if (g->n_inputs != 1) {
        st = foil_error(FOIL_ERR_UNSUPPORTED, "%s: the model has %d inputs; foil attacks classifiers with exactly one "
                        "input tensor", g->path, g->n_inputs);
        foilGraphFree(g);
        return st;
    }
    const FoilValue *in = &g->values[g->inputs[0]];
    const int token_ids = in->decl_dtype == FOIL_I64 || in->decl_dtype == FOIL_I32;
    if ((in->decl_dtype != FOIL_F32 && !token_ids) || in->decl_ndim < 1) {
        st = foil_error(FOIL_ERR_UNSUPPORTED, "%s: input '%s' must be a float32 tensor, or int64 token ids, with a "
                        "batch dimension (it is %s of rank %d)", g->path, in->name, foil_dtype_name(in->decl_dtype),
                        in->decl_ndim);
        foilGraphFree(g);
        return st;
    }
    FoilGraphModel *gm = calloc(1, sizeof *gm);
    if (gm) gm->d_outputs = calloc((size_t)(g->n_outputs > 1 ? g->n_outputs : 1), sizeof *gm->d_outputs);
    if (!gm || !gm->d_outputs) {
        free(gm);
        foilGraphFree(g);
        return foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    /* A classifier exported from scikit-learn, XGBoost or LightGBM gives
     * (label, probabilities): score by the probabilities. */
    if (g->n_outputs > 1) {
        const FoilValue *o0 = &g->values[g->outputs[0]];
        if (o0->has_decl && o0->decl_dtype != FOIL_F32)
            for (int i = 1; i < g->n_outputs; i++) {
                const FoilValue *o = &g->values[g->outputs[i]];
                if (o->has_decl && o->decl_dtype != FOIL_F32) continue;
                int v = g->outputs[i];
                memmove(g->outputs + 1, g->outputs, (size_t)i * sizeof *g->outputs);
                g->outputs[0] = v;
                /* Nothing reads the label; its declared shape goes
                 * unchecked (onnxmltools declares [1] for LightGBM's). */
                g->values[g->outputs[1]].has_decl = 0;
                break;
            }
    }
    char why[512] = "";
    int blocker = foilMlGradientBlocker(g, 0);
    if (token_ids) {
        /* The interface feeds them as float32 whole numbers (the graph
         * converts them): a text model is queried, not differentiated. */
        snprintf(why, sizeof why, "its input '%s' is %s token ids, which have no gradient; text attacks query it",
                 in->name, foil_dtype_name(in->decl_dtype));
        blocker = 0;
    } else if (blocker >= 0) {
        const FoilNode *b = &g->nodes[blocker];
        snprintf(why, sizeof why, "its scores '%s' depend on node '%s' (%s%s%s), which has no gradient",
                 g->values[g->outputs[0]].name, b->name[0] ? b->name : b->op_type, b->op_type, b->domain[0] ? ", " : "",
                 b->domain);
    }
    gm->g = g;
    gm->fixed_batch = in->decl_shape[0] > 0 ? in->decl_shape[0] : 0;
    gm->max_batch = 256;
    foil_model_desc desc = {.name = g->path,
                            .capabilities = blocker >= 0 ? FOIL_MODEL_SCORES : FOIL_MODEL_GRADIENTS | FOIL_MODEL_SCORES,
                            .input_rank = in->decl_ndim,
                            .input_shape = in->decl_shape};
    foil_status st2 = foil_model_create(&graph_ops, gm, &desc, out);
    if (!st2) gm->self = *out;
    if (!st2 && why[0] && (st2 = foilModelSetWhyNoGradients(*out, why))) {
        foil_model_free(*out);
        *out = NULL;
    }
    return st2;
}

FoilGraphModel *foilGraphModelOf(const foil_model *m)
{
    return m && foil_model_state(m) && m->ops == &graph_ops ? foil_model_state(m) : NULL;
}

foil_status foilGraphModelRequire(const foil_model *m, const char *what, FoilGraphModel **gm)
{
    *gm = foilGraphModelOf(m);
    if (*gm) return FOIL_OK;
    return foil_error(FOIL_ERR_CAPABILITY, "%s: %s needs an ONNX graph model, and this is a %s model",
                      m ? foil_model_name(m) : "(no model)", what, m ? foil_model_kind(m) : "missing");
}

foil_status foil_model_load(const char *path, foil_model **out)
{
    *out = NULL;
    FoilGraph *g;
    foil_status st = foilOnnxLoad(path, &g);
    if (st) return st;
    return foilModelFromGraph(g, out);
}

/* The value a linear last layer reads: Gemm(f, W, b), MatMul(f, W), or
 * Add(MatMul(f, W), b) with b a weight; -1 when the logits come otherwise. */
static int penultimate_value(const FoilGraph *g)
{
    int v = g->outputs[0];
    for (int hops = 0; hops < 2; hops++) {
        int p = g->values[v].producer;
        if (p < 0) return -1;
        const FoilNode *n = &g->nodes[p];
        if ((strcmp(n->op_type, "Gemm") == 0 || strcmp(n->op_type, "MatMul") == 0) && n->n_in >= 2 && n->in[0] >= 0)
            return g->values[n->in[1]].kind == FOIL_VALUE_PARAM ? n->in[0] : -1;
        if (strcmp(n->op_type, "Add") != 0 || n->n_in != 2 || n->in[0] < 0 || n->in[1] < 0) return -1;
        int param = g->values[n->in[1]].kind == FOIL_VALUE_PARAM ? 1 : g->values[n->in[0]].kind == FOIL_VALUE_PARAM ? 0 : -1;
        if (param < 0) return -1;
        v = n->in[1 - param];
    }
    return -1;
}

foil_status foil_model_load_features(const char *path, const char *layer, foil_model **out)
{
    *out = NULL;
    FoilGraph *g;
    foil_status st = foilOnnxLoad(path, &g);
    if (st) return st;
    int v = layer ? foilGraphFindValue(g, layer) : penultimate_value(g);
    if (v < 0 || (layer && g->values[v].kind != FOIL_VALUE_ACTIVATION)) {
        st = layer ? foil_error(FOIL_ERR_ARG, "%s: no layer output named '%s' (name a value that a node of the graph "
                                "computes)", path, layer)
                   : foil_error(FOIL_ERR_ARG, "%s: the logits do not come from a linear layer (Gemm or MatMul), so "
                                "there are no penultimate features to take; name a layer's output", path);
        foilGraphFree(g);
        return st;
    }
    /* The features become output 0, what the model interface returns and
     * differentiates; the logits stay an output, their gradient zero. */
    int *outputs = realloc(g->outputs, (size_t)(g->n_outputs + 1) * sizeof *outputs);
    if (!outputs) {
        foilGraphFree(g);
        return foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    memmove(outputs + 1, outputs, (size_t)g->n_outputs * sizeof *outputs);
    outputs[0] = v;
    g->outputs = outputs;
    g->n_outputs++;
    return foilModelFromGraph(g, out);
}

static void free_chunk_buffers(FoilGraphModel *m)
{
    foil_tensor_free(&m->chunk_x);
    foil_tensor_free(&m->chunk_dlogits);
    free(m->chunk_loss);
    m->chunk_loss = NULL;
}

foil_status foilGraphModelUsePlan(FoilGraphModel *gm, FoilPlanUse use)
{
    if (gm->plan_in_graph == use) return FOIL_OK;
    foil_status st = foilGraphSwapPlan(gm->g, &gm->other_plan);
    if (!st) gm->plan_in_graph = use;
    return st;
}

void foilGraphModelDropPlan(FoilGraphModel *gm, FoilPlanUse use)
{
    if (gm->plan_in_graph == use) foilGraphUnplan(gm->g);
    else if (gm->other_plan.values) {
        foilGraphSwapPlan(gm->g, &gm->other_plan); /* cannot fail: the slot exists */
        foilGraphUnplan(gm->g);
        foilGraphSwapPlan(gm->g, &gm->other_plan);
    }
    if (use == FOIL_PLAN_INFERENCE) {
        free_chunk_buffers(gm);
        gm->planned_batch = 0;
    }
}

void foilGraphModelUnplan(FoilGraphModel *gm)
{
    /* The slot's arrays are sized for the graph as it is now: free them too. */
    foilGraphFreePlanSlot(gm->g, &gm->other_plan);
    foilGraphUnplan(gm->g);
    gm->plan_in_graph = FOIL_PLAN_INFERENCE;
    free_chunk_buffers(gm);
    gm->planned_batch = 0;
}

static void graph_destroy(void *state)
{
    FoilGraphModel *m = state;
    if (!m) return;
    free_chunk_buffers(m);
    foilGraphFreePlanSlot(m->g, &m->other_plan);
    foilGraphFree(m->g);
    free(m->d_outputs);
    free(m);
}

const foil_tensor *const *foilModelOutputGrads(FoilGraphModel *m, const foil_tensor *d_logits)
{
    m->d_outputs[0] = d_logits;
    return m->d_outputs;
}

foil_status foil_model_save(const foil_model *m, const char *path)
{
    FoilGraphModel *gm;
    foil_status st = foilGraphModelRequire(m, "saving as ONNX", &gm);
    return st ? st : foilOnnxSave(gm->g, path);
}

foil_status foil_model_set_metadata(foil_model *m, const char *key, const char *value)
{
    FoilGraphModel *gm;
    foil_status st = foilGraphModelRequire(m, "metadata", &gm);
    return st ? st : foilGraphSetMeta(gm->g, key, value);
}

const char *foil_model_metadata(const foil_model *m, const char *key)
{
    FoilGraphModel *gm = foilGraphModelOf(m);
    return gm ? foilGraphMeta(gm->g, key) : NULL;
}

static void graph_set_max_batch(void *state, int64_t max_batch)
{
    FoilGraphModel *m = state;
    m->max_batch = max_batch;
}

/* Plan the graph for chunks of b examples of the per-example shape
 * shape[1..ndim). Failure leaves nothing planned. */
static foil_status plan_chunk(FoilGraphModel *m, int ndim, const int64_t *feed, int64_t b)
{
    int64_t shape[FOIL_MAX_DIMS];
    memcpy(shape, feed, (size_t)ndim * sizeof *shape);
    shape[0] = b;
    if (m->planned_batch == b && m->chunk_x.ndim == ndim) {
        int same = 1;
        for (int d = 1; d < ndim; d++) same &= m->chunk_x.shape[d] == shape[d];
        if (same) return FOIL_OK;
    }
    foilGraphModelDropPlan(m, FOIL_PLAN_INFERENCE);
    foil_status st = foil_tensor_alloc(&m->chunk_x, FOIL_F32, ndim, shape);
    if (st) return st;
    const foil_tensor *inputs[1] = {&m->chunk_x};
    m->g->relax_batch = m->fixed_batch > 0 && b != m->fixed_batch;
    st = foilGraphPlan(m->g, inputs);
    m->g->relax_batch = 0;
    if (st) return st;
    const foil_tensor *y = foilGraphOutput(m->g, 0);
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

/* Stage examples [start, start+count) of x into the chunk, padding the rest
 * of the chunk with copies of the last example. */
static void stage_chunk(FoilGraphModel *m, const foil_tensor *x, int64_t start, int64_t count)
{
    size_t per = foil_tensor_nbytes(x) / (size_t)x->shape[0];
    char *dst = m->chunk_x.data;
    const char *src = (const char *)x->data + (size_t)start * per;
    memcpy(dst, src, (size_t)count * per);
    for (int64_t i = count; i < m->planned_batch; i++) memcpy(dst + (size_t)i * per, src + (size_t)(count - 1) * per, per);
}

/* A graph declared for a fixed batch may still mix examples at a larger one
 * (a Reshape to a constant shape that happens to fit, a Transpose of the
 * batch axis). With chunk 0 of x staged, run it, then again with example 0
 * changed: the other rows' logits must not move. FOIL_ERR_SHAPE if they do. */
static foil_status probe_per_example(FoilGraphModel *m, const foil_tensor *x)
{
    const int64_t b = m->planned_batch, c = m->classes, count = x->shape[0] < b ? x->shape[0] : b;
    const foil_tensor *inputs[1] = {&m->chunk_x};
    float *before = malloc((size_t)(b * c) * sizeof *before);
    if (!before) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    stage_chunk(m, x, 0, count);
    foil_status st = foilGraphForward(m->g, inputs, 0, 0);
    if (!st) {
        memcpy(before, foil_f32(foilGraphOutput(m->g, 0)), (size_t)(b * c) * sizeof *before);
        float *x0 = foil_f32(&m->chunk_x);
        for (int64_t i = 0; i < m->chunk_x.numel / b; i++) x0[i] += 1.0f;
        st = foilGraphForward(m->g, inputs, 0, 0);
    }
    if (!st) {
        const float *after = foil_f32(foilGraphOutput(m->g, 0));
        for (int64_t i = c; i < b * c && !st; i++)
            if (!(fabsf(after[i] - before[i]) <= 1e-5f * (1.0f + fabsf(before[i]))))
                st = foil_error(FOIL_ERR_SHAPE, "%s: at batch %lld one example's logits depend on another's",
                                m->g->path, (long long)b);
    }
    free(before);
    return st;
}

/* Plan for x: chunks of min(N, max_batch), also for a model that declares
 * a fixed batch when its graph allows it (see the file comment); else
 * chunks of the declared batch. */
static foil_status choose_chunk(FoilGraphModel *m, const foil_tensor *x, int ndim, const int64_t *shape)
{
    const int64_t n = x->shape[0];
    int64_t b = n < m->max_batch ? n : m->max_batch;
    if (m->fixed_batch && (m->batch_mode == BATCH_DECLARED || b <= m->fixed_batch)) b = m->fixed_batch;
    if (!m->fixed_batch || b == m->fixed_batch || m->batch_mode == BATCH_FREE) return plan_chunk(m, ndim, shape, b);
    foil_status st = plan_chunk(m, ndim, shape, b);
    if (!st) st = probe_per_example(m, x);
    if (st == FOIL_ERR_NOMEM) return st;
    m->batch_mode = st ? BATCH_DECLARED : BATCH_FREE;
    return st ? plan_chunk(m, ndim, shape, m->fixed_batch) : FOIL_OK;
}

/* A model's output is untrusted too: a NaN or infinite logit (a broken
 * model, or an input that overflows float32 inside it) must never pass for
 * a prediction, a loss or an attack's success. first: the chunk's first
 * example in the caller's batch. */
static foil_status check_logits(const FoilGraphModel *m, const float *y, int64_t first, int64_t count)
{
    int64_t i = foil_first_nonfinite(y, count * m->classes);
    if (i < 0) return FOIL_OK;
    return foil_error(FOIL_ERR_RUNTIME, "%s: the model gave a %s logit for example %lld (class %lld); check that "
                      "input for huge values, or the model for a broken operation", m->g->path,
                      isnan(y[i]) ? "NaN" : "infinite", (long long)(first + i / m->classes),
                      (long long)(i % m->classes));
}

/* Add every trainable weight's gradient, in graph order, to sum. */
static void add_param_grads(const FoilGraph *g, float *sum)
{
    for (int i = 0; i < g->n_values; i++) {
        const FoilValue *v = &g->values[i];
        if (v->kind != FOIL_VALUE_PARAM || !v->trainable) continue;
        const float *d = v->grad.data;
        for (int64_t k = 0; d && k < v->t.numel; k++) sum[k] += d[k];
        sum += v->t.numel;
    }
}

/* The forward pass of every chunk, and when grad or param_sum is wanted the
 * backward pass of fn's gradient too: into grad for the inputs (or, with
 * leaf >= 0, for that value, the graph's grad leaf: grad then holds N of its
 * per-example slices), added to param_sum (foil_model_param_count floats)
 * for the weights. model.c hands x over in the declared shape (see
 * foil_model_check_input) and has shaped grad. */
static foil_status run_chunks_at(FoilGraphModel *m, const foil_tensor *x, int leaf, foil_logit_fn fn, void *ctx,
                                 float *value, foil_tensor *logits, foil_tensor *grad, float *param_sum)
{
    foil_status st = foilGraphModelUsePlan(m, FOIL_PLAN_INFERENCE);
    if (!st) st = choose_chunk(m, x, x->ndim, x->shape);
    if (st) return st;
    const int64_t n = x->shape[0], b = m->planned_batch;
    int64_t lshape[2] = {n, m->classes};
    if (logits && (st = foil_model_ensure_output(m->g->path, logits, 2, lshape, "logits"))) return st;
    int want_value = value != NULL || grad != NULL || param_sum != NULL;
    int want = (grad ? FOIL_GRAD_INPUTS : 0) | (param_sum ? FOIL_GRAD_PARAMS : 0);
    if (want_value && !fn) return foil_error(FOIL_ERR_ARG, "%s: a gradient needs a function of the logits", m->g->path);
    size_t per_x = foil_tensor_nbytes(x) / (size_t)n;
    if (leaf >= 0 && grad) {
        const foil_tensor *lg = &m->g->values[leaf].grad;
        per_x = lg->data ? foil_tensor_nbytes(lg) / (size_t)b : 0;
        if (!per_x || foil_tensor_nbytes(grad) != per_x * (size_t)n)
            return foil_error(FOIL_ERR_SHAPE, "%s: the gradient buffer does not fit value '%s'", m->g->path,
                              m->g->values[leaf].name);
    }
    const foil_tensor *inputs[1] = {&m->chunk_x};
    const foil_tensor *const *d_outputs = foilModelOutputGrads(m, &m->chunk_dlogits);
    for (int64_t start = 0; start < n; start += b) {
        int64_t count = n - start < b ? n - start : b;
        stage_chunk(m, x, start, count);
        if ((st = foilGraphForward(m->g, inputs, 0, 0))) return st;
        const float *y = foil_f32(foilGraphOutput(m->g, 0));
        if ((st = check_logits(m, y, start, count))) return st;
        if (logits) memcpy(foil_f32(logits) + start * m->classes, y, (size_t)(count * m->classes) * sizeof(float));
        if (!want_value) continue;
        /* Only the chunk's real rows go to fn; padded rows get a zero
         * gradient, so they neither contribute to nor leak into it. */
        float *dl = foil_f32(&m->chunk_dlogits);
        if ((st = fn(ctx, start, count, m->classes, y, value ? m->chunk_loss : NULL, dl)))
            return foil_error_prefix(st, "%s", m->g->path);
        if (value) memcpy(value + start, m->chunk_loss, (size_t)count * sizeof *value);
        if (!want) continue;
        memset(dl + count * m->classes, 0, (size_t)((b - count) * m->classes) * sizeof(float));
        if ((st = foilGraphBackward(m->g, d_outputs, want))) return st;
        if (grad)
            memcpy((char *)grad->data + (size_t)start * per_x,
                   leaf >= 0 ? m->g->values[leaf].grad.data : foilGraphInputGrad(m->g, 0)->data, (size_t)count * per_x);
        if (param_sum) add_param_grads(m->g, param_sum);
    }
    return FOIL_OK;
}

static foil_status run_chunks(FoilGraphModel *m, const foil_tensor *x, foil_logit_fn fn, void *ctx, float *value,
                              foil_tensor *logits, foil_tensor *grad, float *param_sum)
{
    return run_chunks_at(m, x, -1, fn, ctx, value, logits, grad, param_sum);
}

/* The Gather that embeds a text model's token ids: its data a weight of
 * rank 2 (vocab, dim), its indices the graph input. -1: none. */
static int embedding_node(const FoilGraph *g)
{
    for (int k = 0; k < g->n_nodes; k++) {
        const FoilNode *n = &g->nodes[k];
        if (strcmp(n->op_type, "Gather") != 0 || n->n_in != 2 || n->in[0] < 0 || n->in[1] != g->inputs[0]) continue;
        const FoilValue *t = &g->values[n->in[0]];
        if (t->kind == FOIL_VALUE_PARAM && t->t.ndim == 2 && foilAttrInt(n, "axis", 0) == 0) return k;
    }
    return -1;
}

foil_status foil_model_embedding_grad(foil_model *model, const foil_tensor *x, foil_logit_fn fn, void *ctx,
                                      float *value, foil_tensor *logits, foil_tensor *grad, const foil_tensor **table)
{
    FoilGraphModel *m;
    foil_status st = foilGraphModelRequire(model, "the gradient of the embedded tokens", &m);
    if (st) return st;
    const int k = embedding_node(m->g);
    if (k < 0)
        return foil_error(FOIL_ERR_UNSUPPORTED, "%s: no Gather of an embedding table (vocab, dim) reads the token ids "
                          "'%s'", m->g->path, m->g->values[m->g->inputs[0]].name);
    const FoilNode *n = &m->g->nodes[k];
    const int64_t dim = m->g->values[n->in[0]].t.shape[1];
    if ((st = foilGraphModelUsePlan(m, FOIL_PLAN_INFERENCE))) return st;
    foilGraphSetGradLeaf(m->g, n->out[0]);
    int64_t shape[FOIL_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim] = dim;
    if ((st = foil_model_ensure_output(m->g->path, grad, x->ndim + 1, shape, "embedding gradient"))) return st;
    st = run_chunks_at(m, x, n->out[0], fn, ctx, value, logits, grad, NULL);
    foilGraphSetGradLeaf(m->g, -1);
    *table = &m->g->values[n->in[0]].t;
    return st;
}

static foil_status graph_input_grad(void *state, const foil_tensor *x, const uint64_t *seeds, foil_logit_fn fn,
                                    void *ctx, float *value, foil_tensor *logits, foil_tensor *grad)
{
    (void)seeds; /* deterministic: dropout and the like run in inference mode */
    return run_chunks(state, x, fn, ctx, value, logits, grad, NULL);
}

foil_status foilGraphModelParamGrad(FoilGraphModel *m, const foil_tensor *x, foil_logit_fn fn, void *ctx, float *value,
                                    float *param_sum)
{
    return run_chunks(m, x, fn, ctx, value, NULL, NULL, param_sum);
}

static foil_status graph_predict(void *state, const foil_tensor *x, const uint64_t *seeds, foil_tensor *logits)
{
    return graph_input_grad(state, x, seeds, NULL, NULL, NULL, logits, NULL);
}

static foil_status graph_num_classes(void *state, int64_t *classes)
{
    FoilGraphModel *m = state;
    foil_status st = foilGraphModelUsePlan(m, FOIL_PLAN_INFERENCE);
    if (st) return st;
    if (!m->planned_batch) {
        const FoilValue *in = &m->g->values[m->g->inputs[0]];
        int64_t shape[FOIL_MAX_DIMS];
        for (int d = 0; d < in->decl_ndim; d++) {
            shape[d] = d == 0 ? 1 : in->decl_shape[d];
            if (shape[d] < 0)
                return foil_error(FOIL_ERR_UNSUPPORTED, "%s: input dimension %d is dynamic; give an input to learn the "
                                  "number of classes", m->g->path, d);
        }
        if ((st = plan_chunk(m, in->decl_ndim, shape, m->fixed_batch ? m->fixed_batch : 1))) return st;
    }
    *classes = m->classes;
    return FOIL_OK;
}

static const foil_model_ops graph_ops = {
    .kind = "onnx",
    .predict = graph_predict,
    .input_grad = graph_input_grad,
    .num_classes = graph_num_classes,
    .set_max_batch = graph_set_max_batch,
    .destroy = graph_destroy,
    .fit = foilGraphModelFit,
};
