/*
 * verify/compile.c - foil_verify_new: a model's ONNX graph as the
 * verifier's layers (verify/verify_internal.h; foil/verify.h is the design).
 *
 * The graph is planned for one example (by running the model once on
 * zeros), which gives every activation its shape and folds constant
 * subgraphs (Shape, Gather, Concat feeding a Reshape). Only the nodes that
 * the first output depends on are compiled; each becomes one layer whose
 * weights are copied into doubles, so the verifier never touches the model
 * again. A node the verifier cannot bound is an error naming it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "nn/graph.h"
#include "verify/verify_internal.h"

typedef struct Compiler {
    foil_verifier *v;
    const FoilGraph *g;
    int64_t batch;            /* the plan's batch */
    int *slot_of;             /* graph value -> slot, -1 */
    int cap_slots, cap_layers;
} Compiler;

static foil_status node_error(const Compiler *cc, const FoilNode *n, const char *fmt, const char *detail)
{
    return foil_error(FOIL_ERR_UNSUPPORTED, "%s: node '%s' (%s): %s%s", cc->g->path ? cc->g->path : "model",
                      n->name ? n->name : "", n->op_type, fmt, detail ? detail : "");
}

static int is_const(const FoilGraph *g, int vi)
{
    return vi >= 0 && (g->values[vi].known || g->values[vi].kind == FOIL_VALUE_PARAM ||
                       g->values[vi].kind == FOIL_VALUE_CONST);
}

static int add_slot(Compiler *cc, int value)
{
    foil_verifier *v = cc->v;
    if (v->n_slots == cc->cap_slots) {
        int cap = cc->cap_slots ? 2 * cc->cap_slots : 16;
        FoilBoundsSlot *s = realloc(v->slots, (size_t)cap * sizeof *s);
        if (!s) return -1;
        v->slots = s;
        cc->cap_slots = cap;
    }
    const foil_tensor *t = &cc->g->values[value].t;
    FoilBoundsSlot *s = &v->slots[v->n_slots];
    memset(s, 0, sizeof *s);
    s->numel = t->numel / cc->batch;
    if (t->ndim == 4) {
        s->c = t->shape[1];
        s->h = t->shape[2];
        s->w = t->shape[3];
    } else {
        s->c = s->numel;
        s->h = s->w = 1;
    }
    s->off = v->total_numel;
    s->producer = -1;
    v->total_numel += s->numel;
    if (s->numel > v->max_numel) v->max_numel = s->numel;
    cc->slot_of[value] = v->n_slots;
    return v->n_slots++;
}

static FoilBoundsLayer *add_layer(Compiler *cc, const FoilNode *n, FoilBoundsKind kind)
{
    foil_verifier *v = cc->v;
    if (v->n_layers == cc->cap_layers) {
        int cap = cc->cap_layers ? 2 * cc->cap_layers : 16;
        FoilBoundsLayer *l = realloc(v->layers, (size_t)cap * sizeof *l);
        if (!l) return NULL;
        v->layers = l;
        cc->cap_layers = cap;
    }
    FoilBoundsLayer *L = &v->layers[v->n_layers++];
    memset(L, 0, sizeof *L);
    L->kind = kind;
    L->name = strdup(n->name ? n->name : "");
    L->op_type = strdup(n->op_type);
    L->sign = 1;
    if (!L->name || !L->op_type) return NULL;
    return L;
}

static double *copy_weights(const foil_tensor *t, int64_t count)
{
    double *w = malloc((size_t)(count > 0 ? count : 1) * sizeof *w);
    if (!w) return NULL;
    const float *f = foil_f32(t);
    for (int64_t i = 0; i < count; i++) w[i] = f[i];
    return w;
}

static int all_finite(const foil_tensor *t)
{
    return t->dtype == FOIL_F32 && foil_first_nonfinite(foil_f32(t), t->numel) < 0;
}

/* Window geometry (2-D) of Conv and the pools: kernel k, strides, dilations,
 * pads or auto_pad, resolved against the planned input and output sizes. */
static foil_status parse_geometry(const Compiler *cc, const FoilNode *n, const FoilBoundsSlot *in,
                                  const FoilBoundsSlot *out, int64_t kh, int64_t kw, FoilBoundsGeom *g)
{
    const int64_t *vals;
    memset(g, 0, sizeof *g);
    g->kh = kh;
    g->kw = kw;
    g->sh = g->sw = g->dh = g->dw = 1;
    int cnt;
    if ((cnt = foilAttrInts(n, "strides", &vals)) >= 0) {
        if (cnt != 2) return node_error(cc, n, "only 2-D windows are supported", NULL);
        g->sh = vals[0];
        g->sw = vals[1];
    }
    if ((cnt = foilAttrInts(n, "dilations", &vals)) >= 0) {
        if (cnt != 2) return node_error(cc, n, "only 2-D windows are supported", NULL);
        g->dh = vals[0];
        g->dw = vals[1];
    }
    const char *ap = foilAttrString(n, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET") == 0) {
        if ((cnt = foilAttrInts(n, "pads", &vals)) >= 0) {
            if (cnt != 4) return node_error(cc, n, "only 2-D windows are supported", NULL);
            g->ph = vals[0];
            g->pw = vals[1];
            g->ph_end = vals[2];
            g->pw_end = vals[3];
        }
    } else if (strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0) {
        int64_t th = (out->h - 1) * g->sh + (kh - 1) * g->dh + 1 - in->h;
        int64_t tw = (out->w - 1) * g->sw + (kw - 1) * g->dw + 1 - in->w;
        th = th > 0 ? th : 0;
        tw = tw > 0 ? tw : 0;
        int upper = ap[5] == 'U';
        g->ph = upper ? th / 2 : th - th / 2;
        g->pw = upper ? tw / 2 : tw - tw / 2;
        g->ph_end = th - g->ph;
        g->pw_end = tw - g->pw;
    } else if (strcmp(ap, "VALID") != 0) {
        return node_error(cc, n, "unknown auto_pad ", ap);
    }
    if (g->sh < 1 || g->sw < 1 || g->dh < 1 || g->dw < 1 || g->ph < 0 || g->pw < 0)
        return node_error(cc, n, "bad window attributes", NULL);
    return FOIL_OK;
}

/* The constant c broadcast (ONNX, numpy rules) onto the output's shape
 * (ndim dims with the batch first), as out_numel per-example doubles. */
static double *broadcast_const(const foil_tensor *c, const foil_tensor *out, int64_t out_numel)
{
    if (c->dtype != FOIL_F32 || c->ndim > out->ndim || out->ndim < 1) return NULL;
    int r = out->ndim;
    int64_t cshape[FOIL_MAX_DIMS] = {0}, cstride[FOIL_MAX_DIMS] = {0};
    for (int d = 0; d < r; d++) {
        int cd = d - (r - c->ndim);
        cshape[d] = cd >= 0 ? c->shape[cd] : 1;
        if (cshape[d] != 1 && cshape[d] != out->shape[d]) return NULL;
    }
    if (cshape[0] != 1) return NULL; /* a constant per batch row is not a constant of the example */
    int64_t s = 1;
    for (int d = r - 1; d >= 0; d--) {
        cstride[d] = cshape[d] == 1 ? 0 : s;
        s *= cshape[d];
    }
    double *a = malloc((size_t)(out_numel > 0 ? out_numel : 1) * sizeof *a);
    if (!a) return NULL;
    const float *cf = foil_f32(c);
    for (int64_t i = 0; i < out_numel; i++) {
        int64_t rem = i, idx = 0;
        for (int d = r - 1; d >= 1; d--) {
            int64_t coord = rem % out->shape[d];
            rem /= out->shape[d];
            idx += coord * cstride[d];
        }
        a[i] = cf[idx];
    }
    return a;
}

static foil_status compile_conv(Compiler *cc, const FoilNode *n, FoilBoundsLayer *L)
{
    const FoilGraph *g = cc->g;
    const foil_tensor *w = &g->values[n->in[1]].t;
    const FoilBoundsSlot *in = &cc->v->slots[L->in[0]], *out = &cc->v->slots[L->out];
    if (g->values[n->in[0]].t.ndim != 4 || w->ndim != 4) return node_error(cc, n, "only 2-D convolutions are supported", NULL);
    if (!all_finite(w)) return node_error(cc, n, "the weight is not finite float32", NULL);
    foil_status st = parse_geometry(cc, n, in, out, w->shape[2], w->shape[3], &L->g);
    if (st) return st;
    L->g.group = foilAttrInt(n, "group", 1);
    if (L->g.group < 1 || in->c % L->g.group || out->c != w->shape[0] || w->shape[1] * L->g.group != in->c)
        return node_error(cc, n, "weight shape does not match the input channels and group", NULL);
    if (!(L->w = copy_weights(w, w->numel))) return FOIL_ERR_NOMEM;
    if (n->n_in > 2 && n->in[2] >= 0) {
        const foil_tensor *b = &g->values[n->in[2]].t;
        if (!all_finite(b) || b->numel != out->c) return node_error(cc, n, "bad bias", NULL);
        if (!(L->b = copy_weights(b, b->numel))) return FOIL_ERR_NOMEM;
    }
    return FOIL_OK;
}

static foil_status compile_gemm(Compiler *cc, const FoilNode *n, FoilBoundsLayer *L, int matmul)
{
    const FoilGraph *g = cc->g;
    const foil_tensor *b = &g->values[n->in[1]].t;
    const FoilBoundsSlot *in = &cc->v->slots[L->in[0]], *out = &cc->v->slots[L->out];
    if (g->values[n->in[0]].t.ndim != 2 || b->ndim != 2)
        return node_error(cc, n, "only a 2-D activation times a 2-D constant is supported", NULL);
    if (!all_finite(b)) return node_error(cc, n, "the weight is not finite float32", NULL);
    int trans_b = matmul ? 0 : (int)foilAttrInt(n, "transB", 0);
    double alpha = matmul ? 1.0 : foilAttrFloat(n, "alpha", 1.0f), beta = matmul ? 1.0 : foilAttrFloat(n, "beta", 1.0f);
    if (!matmul && foilAttrInt(n, "transA", 0)) return node_error(cc, n, "transA = 1 is not supported", NULL);
    const int64_t N = out->numel, K = in->numel;
    if ((trans_b ? b->shape[0] : b->shape[1]) != N || (trans_b ? b->shape[1] : b->shape[0]) != K)
        return node_error(cc, n, "weight shape does not match", NULL);
    L->w = malloc((size_t)(N * K) * sizeof *L->w);
    if (!L->w) return FOIL_ERR_NOMEM;
    const float *bf = foil_f32(b);
    for (int64_t o = 0; o < N; o++)
        for (int64_t k = 0; k < K; k++) L->w[o * K + k] = alpha * (double)(trans_b ? bf[o * K + k] : bf[k * N + o]);
    if (!matmul && n->n_in > 2 && n->in[2] >= 0) {
        const foil_tensor *c = &g->values[n->in[2]].t;
        if (!all_finite(c)) return node_error(cc, n, "the bias is not finite float32", NULL);
        double *bb = broadcast_const(c, &g->values[n->out[0]].t, N);
        if (!bb) return node_error(cc, n, "the bias must broadcast along the batch", NULL);
        for (int64_t o = 0; o < N; o++) bb[o] *= beta;
        L->b = bb;
    }
    return FOIL_OK;
}

static foil_status compile_batchnorm(Compiler *cc, const FoilNode *n, FoilBoundsLayer *L)
{
    const FoilGraph *g = cc->g;
    if (n->n_in < 5 || foilAttrInt(n, "training_mode", 0)) return node_error(cc, n, "only inference mode is supported", NULL);
    for (int i = 1; i < 5; i++)
        if (!is_const(g, n->in[i]) || !all_finite(&g->values[n->in[i]].t))
            return node_error(cc, n, "scale, bias, mean and variance must be finite constants", NULL);
    const foil_tensor *x = &g->values[n->in[0]].t;
    const FoilBoundsSlot *out = &cc->v->slots[L->out];
    int64_t C = x->ndim >= 2 ? x->shape[1] : 1, inner = 1;
    for (int d = 2; d < x->ndim; d++) inner *= x->shape[d];
    for (int i = 1; i < 5; i++)
        if (g->values[n->in[i]].t.numel != C) return node_error(cc, n, "parameters must have one value per channel", NULL);
    const float *scale = foil_f32(&g->values[n->in[1]].t), *bias = foil_f32(&g->values[n->in[2]].t),
                *mean = foil_f32(&g->values[n->in[3]].t), *var = foil_f32(&g->values[n->in[4]].t);
    double eps = foilAttrFloat(n, "epsilon", 1e-5f);
    L->w = malloc((size_t)out->numel * sizeof *L->w);
    L->b = malloc((size_t)out->numel * sizeof *L->b);
    L->ext = malloc((size_t)out->numel * sizeof *L->ext);
    if (!L->w || !L->b || !L->ext) return FOIL_ERR_NOMEM;
    for (int64_t i = 0; i < out->numel; i++) {
        int64_t ch = (i / inner) % C;
        double den = (double)var[ch] + eps;
        if (!(den > 0)) return node_error(cc, n, "variance + epsilon is not positive", NULL);
        double a = (double)scale[ch] / sqrt(den);
        /* y = a (x - mean) + bias = a x + (bias - a mean); the rounding of a
         * and of a * mean is covered by T (|a| (M + |mean|) + |b|) */
        L->w[i] = a;
        L->b[i] = (double)bias[ch] - a * (double)mean[ch];
        L->ext[i] = fabs((double)mean[ch]);
    }
    return FOIL_OK;
}

/* Add, Sub, Mul, Div with one constant operand: y = a x + b elementwise. */
static foil_status compile_elementwise_const(Compiler *cc, const FoilNode *n, FoilBoundsLayer *L, int const_pos)
{
    const FoilGraph *g = cc->g;
    const foil_tensor *c = &g->values[n->in[const_pos]].t, *y = &g->values[n->out[0]].t;
    const FoilBoundsSlot *in = &cc->v->slots[L->in[0]], *out = &cc->v->slots[L->out];
    if (in->numel != out->numel) return node_error(cc, n, "the activation must not be broadcast", NULL);
    if (!all_finite(c)) return node_error(cc, n, "the constant is not finite float32", NULL);
    double *k = broadcast_const(c, y, out->numel);
    if (!k) return node_error(cc, n, "the constant must broadcast along the batch", NULL);
    const char *op = n->op_type;
    L->w = malloc((size_t)out->numel * sizeof *L->w);
    if (!L->w) {
        free(k);
        return FOIL_ERR_NOMEM;
    }
    L->b = k;
    for (int64_t i = 0; i < out->numel; i++) {
        double ci = k[i];
        if (strcmp(op, "Add") == 0) L->w[i] = 1, L->b[i] = ci;
        else if (strcmp(op, "Sub") == 0) L->w[i] = const_pos == 1 ? 1 : -1, L->b[i] = const_pos == 1 ? -ci : ci;
        else if (strcmp(op, "Mul") == 0) L->w[i] = ci, L->b[i] = 0;
        else { /* Div(x, c): 1 / c is rounded; T's |a| M covers it */
            if (const_pos == 0) return node_error(cc, n, "division by an activation is not supported", NULL);
            if (ci == 0) return node_error(cc, n, "division by zero", NULL);
            L->w[i] = 1.0 / ci, L->b[i] = 0;
        }
    }
    return FOIL_OK;
}

static foil_status compile_pool(Compiler *cc, const FoilNode *n, FoilBoundsLayer *L, int global)
{
    const FoilBoundsSlot *in = &cc->v->slots[L->in[0]], *out = &cc->v->slots[L->out];
    if (cc->g->values[n->in[0]].t.ndim != 4) return node_error(cc, n, "only 2-D pooling is supported", NULL);
    if (global) {
        memset(&L->g, 0, sizeof L->g);
        L->g.kh = in->h, L->g.kw = in->w, L->g.sh = L->g.sw = L->g.dh = L->g.dw = 1;
        return FOIL_OK;
    }
    const int64_t *k;
    if (foilAttrInts(n, "kernel_shape", &k) != 2) return node_error(cc, n, "only 2-D pooling is supported", NULL);
    foil_status st = parse_geometry(cc, n, in, out, k[0], k[1], &L->g);
    if (st) return st;
    L->g.count_include_pad = (int)foilAttrInt(n, "count_include_pad", 0);
    if (out->c != in->c) return node_error(cc, n, "channel count changes", NULL);
    return FOIL_OK;
}

static foil_status compile_node(Compiler *cc, const FoilNode *n)
{
    const FoilGraph *g = cc->g;
    const char *op = n->op_type;
    if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx") != 0)
        return node_error(cc, n, "the verifier supports only default-domain ops", NULL);
    int act[8], n_act = 0, const_pos = -1;
    for (int i = 0; i < n->n_in; i++) {
        if (n->in[i] < 0) continue;
        if (is_const(g, n->in[i])) {
            if (const_pos < 0) const_pos = i;
            continue;
        }
        if (cc->slot_of[n->in[i]] < 0) return node_error(cc, n, "an input is neither constant nor bounded", NULL);
        if (n_act < 8) act[n_act++] = i;
    }
    FoilBoundsKind kind;
    int want_act = 1;
    if (strcmp(op, "Conv") == 0) kind = FOIL_BL_CONV;
    else if (strcmp(op, "Gemm") == 0 || strcmp(op, "MatMul") == 0) kind = FOIL_BL_GEMM;
    else if (strcmp(op, "Relu") == 0) kind = FOIL_BL_RELU;
    else if (strcmp(op, "MaxPool") == 0) kind = FOIL_BL_MAXPOOL;
    else if (strcmp(op, "AveragePool") == 0 || strcmp(op, "GlobalAveragePool") == 0) kind = FOIL_BL_AVGPOOL;
    else if (strcmp(op, "BatchNormalization") == 0) kind = FOIL_BL_AFFINE;
    else if (strcmp(op, "Flatten") == 0 || strcmp(op, "Reshape") == 0 || strcmp(op, "Identity") == 0 ||
             strcmp(op, "Dropout") == 0 || strcmp(op, "Squeeze") == 0 || strcmp(op, "Unsqueeze") == 0)
        kind = FOIL_BL_COPY;
    else if (strcmp(op, "Pad") == 0) {
        /* PyTorch exports AvgPool2d as a Pad of nothing and an AveragePool */
        const int64_t *pads = NULL;
        int64_t n_pads = foilAttrInts(n, "pads", &pads);
        if (n->n_in > 1 && n->in[1] >= 0 && is_const(g, n->in[1]) && g->values[n->in[1]].t.dtype == FOIL_I64)
            pads = foil_i64(&g->values[n->in[1]].t), n_pads = g->values[n->in[1]].t.numel;
        for (int64_t i = 0; i < n_pads; i++)
            if (pads[i]) return node_error(cc, n, "only a Pad that pads nothing is supported", NULL);
        kind = FOIL_BL_COPY;
    } else if (strcmp(op, "Add") == 0 || strcmp(op, "Sub") == 0 || strcmp(op, "Mul") == 0 || strcmp(op, "Div") == 0) {
        kind = n_act == 2 ? FOIL_BL_ADD2 : FOIL_BL_AFFINE;
        if (n_act == 2) {
            want_act = 2;
            if (strcmp(op, "Mul") == 0 || strcmp(op, "Div") == 0)
                return node_error(cc, n, "a product or quotient of two activations is not supported", NULL);
        }
    } else
        return node_error(cc, n, "the verifier does not support this op (supported: Conv, Gemm, MatMul, Relu, MaxPool, "
                                 "AveragePool, GlobalAveragePool, BatchNormalization, Flatten, Reshape, Identity, "
                                 "Dropout, Squeeze, Unsqueeze, Pad of nothing, Add, Sub, Mul, Div)",
                          NULL);
    if (n_act != want_act || (act[0] != 0 && kind != FOIL_BL_AFFINE))
        return node_error(cc, n, "unexpected constant or activation inputs", NULL);
    for (int i = 1; i < n->n_out; i++)
        if (n->out[i] >= 0 && g->values[n->out[i]].t.numel && kind != FOIL_BL_COPY)
            return node_error(cc, n, "extra outputs are not supported", NULL);
    if (g->values[n->out[0]].t.dtype != FOIL_F32) return node_error(cc, n, "the output is not float32", NULL);
    FoilBoundsLayer *L = add_layer(cc, n, kind);
    if (!L) return FOIL_ERR_NOMEM;
    L->n_in = n_act;
    for (int i = 0; i < n_act; i++) L->in[i] = cc->slot_of[n->in[act[i]]];
    int s = add_slot(cc, n->out[0]);
    if (s < 0) return FOIL_ERR_NOMEM;
    L = &cc->v->layers[cc->v->n_layers - 1];
    L->out = s;
    cc->v->slots[s].producer = cc->v->n_layers - 1;
    const FoilBoundsSlot *in = &cc->v->slots[L->in[0]], *out = &cc->v->slots[s];
    switch (kind) {
    case FOIL_BL_CONV: return compile_conv(cc, n, L);
    case FOIL_BL_GEMM: return compile_gemm(cc, n, L, op[0] == 'M');
    case FOIL_BL_AFFINE:
        return strcmp(op, "BatchNormalization") == 0 ? compile_batchnorm(cc, n, L)
                                                     : compile_elementwise_const(cc, n, L, const_pos);
    case FOIL_BL_ADD2:
        if (in->numel != out->numel || cc->v->slots[L->in[1]].numel != out->numel)
            return node_error(cc, n, "broadcasting between two activations is not supported", NULL);
        L->sign = op[0] == 'S' ? -1 : 1;
        return FOIL_OK;
    case FOIL_BL_COPY:
    case FOIL_BL_RELU:
        if (in->numel != out->numel) return node_error(cc, n, "the element count changes", NULL);
        if (strcmp(op, "Dropout") == 0 && n->n_in > 2 && n->in[2] >= 0 && is_const(g, n->in[2])) {
            const foil_tensor *t = &g->values[n->in[2]].t;
            if (t->dtype == FOIL_BOOL && t->numel && ((const uint8_t *)t->data)[0])
                return node_error(cc, n, "training-mode Dropout is random", NULL);
        }
        return FOIL_OK;
    case FOIL_BL_MAXPOOL:
        if (n->n_out > 1 && n->out[1] >= 0) return node_error(cc, n, "the Indices output is not supported", NULL);
        return compile_pool(cc, n, L, 0);
    case FOIL_BL_AVGPOOL: return compile_pool(cc, n, L, op[0] == 'G');
    }
    return FOIL_OK;
}

static void mark_slots(foil_verifier *v)
{
    v->slots[0].box = 1;
    for (int k = 0; k < v->n_layers; k++) {
        const FoilBoundsLayer *L = &v->layers[k];
        FoilBoundsSlot *in = &v->slots[L->in[0]], *out = &v->slots[L->out];
        if (L->kind == FOIL_BL_AFFINE || L->kind == FOIL_BL_COPY || L->kind == FOIL_BL_RELU) out->box = in->box;
        if (L->kind == FOIL_BL_RELU || L->kind == FOIL_BL_MAXPOOL) in->relaxed_reader = 1;
        if (L->kind == FOIL_BL_MAXPOOL) in->maxpool_reader = 1;
    }
}

static foil_status compile_graph(Compiler *cc)
{
    const FoilGraph *g = cc->g;
    if (g->n_inputs != 1 || g->n_outputs < 1)
        return foil_error(FOIL_ERR_UNSUPPORTED, "%s: the verifier needs a model with one input", g->path);
    int logits = g->outputs[0];
    char *needed = calloc((size_t)g->n_values, 1);
    if (!needed) return FOIL_ERR_NOMEM;
    needed[logits] = 1;
    for (int k = g->n_nodes - 1; k >= 0; k--) {
        const FoilNode *n = &g->nodes[k];
        int need = 0;
        for (int i = 0; i < n->n_out; i++) need |= n->out[i] >= 0 && needed[n->out[i]];
        if (!need) continue;
        for (int i = 0; i < n->n_in; i++)
            if (n->in[i] >= 0 && !is_const(g, n->in[i])) needed[n->in[i]] = 1;
    }
    foil_status st = FOIL_OK;
    if (add_slot(cc, g->inputs[0]) < 0) st = FOIL_ERR_NOMEM;
    for (int k = 0; k < g->n_nodes && !st; k++) {
        const FoilNode *n = &g->nodes[k];
        if (n->out[0] < 0 || !needed[n->out[0]] || is_const(g, n->out[0])) continue;
        st = compile_node(cc, n);
    }
    free(needed);
    if (st == FOIL_ERR_NOMEM) return foil_error(st, "%s: out of memory compiling the verifier", g->path);
    if (st) return st;
    if (cc->slot_of[logits] < 0)
        return foil_error(FOIL_ERR_UNSUPPORTED, "%s: the logits do not depend on the input", g->path);
    cc->v->output = cc->slot_of[logits];
    cc->v->classes = cc->v->slots[cc->v->output].numel;
    cc->v->input_size = cc->v->slots[0].numel;
    mark_slots(cc->v);
    double G = (double)cc->v->total_numel + 64, u = ldexp(1.0, -53);
    cc->v->gamma = G * u / (1 - G * u);
    return FOIL_OK;
}

foil_status foil_verify_new(foil_model *model, int rank, const int64_t *example_shape, foil_verifier **out)
{
    *out = NULL;
    FoilGraphModel *gm;
    foil_status st = foilGraphModelRequire(model, "verification", &gm);
    if (st) return st;
    if (rank < 1 || rank >= FOIL_MAX_DIMS) return foil_error(FOIL_ERR_ARG, "foil_verify_new: bad example rank %d", rank);
    int64_t shape[FOIL_MAX_DIMS] = {1};
    for (int d = 0; d < rank; d++) shape[d + 1] = example_shape[d];
    foil_tensor x = {0}, logits = {0};
    if ((st = foil_tensor_alloc(&x, FOIL_F32, rank + 1, shape))) return st;
    /* a graph model plans for chunks of at most max_batch: one example */
    st = foil_model_predict(model, &x, &logits);
    foil_tensor_free(&x);
    foil_tensor_free(&logits);
    if (st) return foil_error_prefix(st, "verifier");
    const FoilGraph *g = gm->g;
    foil_verifier *v = calloc(1, sizeof *v);
    Compiler cc = {.v = v, .g = g, .batch = gm->planned_batch > 0 ? gm->planned_batch : 1};
    cc.slot_of = malloc((size_t)g->n_values * sizeof *cc.slot_of);
    if (!v || !cc.slot_of || !(v->path = strdup(g->path ? g->path : "model"))) {
        free(cc.slot_of);
        foil_verify_free(v);
        return foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < g->n_values; i++) cc.slot_of[i] = -1;
    st = compile_graph(&cc);
    free(cc.slot_of);
    if (st) {
        foil_verify_free(v);
        return st;
    }
    *out = v;
    return FOIL_OK;
}

void foil_verify_free(foil_verifier *v)
{
    if (!v) return;
    for (int k = 0; k < v->n_layers; k++) {
        FoilBoundsLayer *L = &v->layers[k];
        free(L->name);
        free(L->op_type);
        free(L->w);
        free(L->b);
        free(L->ext);
    }
    free(v->layers);
    free(v->slots);
    free(v->pc_lo), free(v->pc_hi), free(v->pc_plo), free(v->pc_phi), free(v->pc_T);
    free(v->path);
    free(v);
}

int64_t foil_verify_classes(const foil_verifier *v) { return v->classes; }
int64_t foil_verify_input_size(const foil_verifier *v) { return v->input_size; }
