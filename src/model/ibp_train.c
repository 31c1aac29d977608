/*
 * model/ibp_train.c - differentiable interval bound propagation
 * (model/ibp_train.h is the design: what it is, what it is not).
 *
 * An interval is kept as its center and radius, (mu, r) with l = mu - r and
 * u = mu + r, as Gowal et al. 2018 write it (their equations 6): affine
 * layers then cost two ordinary products,
 *     mu' = W mu + b,   r' = |W| r,
 * and the monotone ones (Relu, MaxPool) act on the ends,
 *     l' = f(l),  u' = f(u),  mu' = (u' + l') / 2,  r' = (u' - l') / 2.
 * Backward runs the same list of layers in reverse with the gradients
 * (dmu, dr) of every activation, accumulating (+=) as llm.c does.
 *
 * Shapes. b examples per batch. An image activation (C, H, W) per example
 * is stored channel-major for the whole batch, "CNHW": element (c, n, h, w)
 * at ((c b + n) H + h) W + w. A convolution is then one im2col of the whole
 * batch, (K = Ci kh kw rows, b Ho Wo columns), and one sgemm by the (Co, K)
 * weight gives its output already in CNHW. A flat activation (F) per
 * example is stored (b, F), as Gemm wants it; Flatten transposes between
 * the two.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "foil/status.h"
#include "model/ibp_train.h"

typedef enum IbpKind { IK_CONV, IK_GEMM, IK_RELU, IK_MAXPOOL, IK_FLATTEN, IK_CONST } IbpKind;

/* An activation that depends on the input: its interval and gradients. */
typedef struct IbpVal {
    int active;
    int image;                /* 1: (c, h, w) stored CNHW; 0: (per) stored (b, per) */
    int needs_grad;           /* 0 for the graph input */
    int64_t c, h, w, per;
    float *mu, *r, *dmu, *dr; /* max_batch * per each */
} IbpVal;

typedef struct IbpLayer {
    IbpKind kind;
    const FoilNode *node;
    int x, y;                 /* input and output value */
    int wv, bv;               /* CONV, GEMM: weight and bias values (bv -1: none) */
    int64_t kh, kw, sh, sw, ph, pw; /* CONV, MAXPOOL windows */
    int trans_b;              /* GEMM */
    char op;                  /* CONST: '+', '-', '*', '/' */
    int const_first;          /* CONST '-': y = c - x */
    float *cval;              /* CONST: a copy of the constant (a folded node's value lives in a plan),
                               * cn values: 1, one per channel, or one per element of an example */
    int64_t cn;
    float *col_mu, *col_r;    /* CONV: im2col of the input's mu and r, kept for backward */
    int32_t *arg_l, *arg_u;   /* MAXPOOL: where the max of l and of u came from */
    float *absw, *tmp;        /* CONV, GEMM: |W|, and a weight-sized scratch */
} IbpLayer;

struct FoilIbp {
    FoilGraph *g;
    int64_t max_batch, b, classes;
    IbpVal *vals;             /* one per graph value */
    IbpLayer *layers;
    int n_layers;
    int input, output;
    int elide;                /* the logits come from the last layer, a Gemm: fold the margin into it */
    float **grad;             /* per graph value: its weight gradient (NULL: none) */
    float *dcol;              /* CONV backward scratch, the largest K x N */
};

static float *alloc_floats(int64_t n) { return calloc((size_t)(n > 0 ? n : 1), sizeof(float)); }

static foil_status node_error(const FoilIbp *ib, const FoilNode *n, const char *what)
{
    return foil_error(FOIL_ERR_UNSUPPORTED, "%s: node '%s' (%s): IBP training %s", ib->g->path ? ib->g->path : "model",
                      n->name ? n->name : "", n->op_type, what);
}

static int is_const(const FoilGraph *g, int v)
{
    return v >= 0 && (g->values[v].known || g->values[v].kind == FOIL_VALUE_PARAM ||
                      g->values[v].kind == FOIL_VALUE_CONST) && g->values[v].t.dtype == FOIL_F32;
}

/* ---------------------------------------------------------------------------
 * Compilation: the nodes that depend on the input, as layers.
 */

static foil_status activate(FoilIbp *ib, int v)
{
    const foil_tensor *t = &ib->g->values[v].t;
    IbpVal *a = &ib->vals[v];
    if (t->ndim == 4) {
        a->image = 1;
        a->c = t->shape[1];
        a->h = t->shape[2];
        a->w = t->shape[3];
        a->per = a->c * a->h * a->w;
    } else if (t->ndim == 2) {
        a->per = a->c = t->shape[1];
        a->h = a->w = 1;
    } else {
        return foil_error(FOIL_ERR_UNSUPPORTED, "%s: value '%s': IBP training needs (N, C, H, W) or (N, F) "
                          "activations, not rank %d", ib->g->path ? ib->g->path : "model", ib->g->values[v].name,
                          t->ndim);
    }
    int64_t n = ib->max_batch * a->per;
    a->active = 1;
    a->needs_grad = 1;
    if (!(a->mu = alloc_floats(n)) || !(a->r = alloc_floats(n)) || !(a->dmu = alloc_floats(n)) ||
        !(a->dr = alloc_floats(n)))
        return foil_error(FOIL_ERR_NOMEM, "out of memory for IBP bounds");
    return FOIL_OK;
}

static foil_status want_grad(FoilIbp *ib, int v)
{
    if (v < 0 || ib->grad[v]) return FOIL_OK;
    if (!(ib->grad[v] = alloc_floats(ib->g->values[v].t.numel)))
        return foil_error(FOIL_ERR_NOMEM, "out of memory for IBP gradients");
    return FOIL_OK;
}

/* Window attributes of a 2-D Conv or MaxPool: strides, begin pads; no
 * dilation, no auto_pad (the output shape comes from the plan). */
static foil_status window(FoilIbp *ib, const FoilNode *n, IbpLayer *L)
{
    const int64_t *v;
    int cnt;
    L->sh = L->sw = 1;
    if ((cnt = foilAttrInts(n, "strides", &v)) >= 0) {
        if (cnt != 2) return node_error(ib, n, "supports 2-D windows only");
        L->sh = v[0];
        L->sw = v[1];
    }
    if ((cnt = foilAttrInts(n, "pads", &v)) >= 0) {
        if (cnt != 4) return node_error(ib, n, "supports 2-D windows only");
        L->ph = v[0];
        L->pw = v[1];
    }
    if ((cnt = foilAttrInts(n, "dilations", &v)) >= 0)
        for (int i = 0; i < cnt; i++)
            if (v[i] != 1) return node_error(ib, n, "does not support dilations");
    if (strcmp(foilAttrString(n, "auto_pad", "NOTSET"), "NOTSET") != 0)
        return node_error(ib, n, "does not support auto_pad");
    return FOIL_OK;
}

static foil_status compile_node(FoilIbp *ib, const FoilNode *n, IbpLayer *L)
{
    FoilGraph *g = ib->g;
    const char *op = n->op_type;
    foil_status st = FOIL_OK;
    L->node = n;
    L->bv = -1;
    L->x = n->in[0];
    L->y = n->out[0];
    if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx") != 0) return node_error(ib, n, "does not support it");
    if (strcmp(op, "Add") == 0 || strcmp(op, "Sub") == 0 || strcmp(op, "Mul") == 0 || strcmp(op, "Div") == 0) {
        if (n->n_in != 2) return node_error(ib, n, "needs two inputs");
        int first_active = ib->vals[n->in[0]].active, second_active = ib->vals[n->in[1]].active;
        if (first_active && second_active) return node_error(ib, n, "supports an operation by a constant only");
        int cv = first_active ? n->in[1] : n->in[0];
        if (!is_const(g, cv)) return node_error(ib, n, "supports an operation by a float constant only");
        if (!first_active && (op[0] == 'D')) return node_error(ib, n, "does not support a constant divided by x");
        L->kind = IK_CONST;
        L->op = op[0] == 'A' ? '+' : op[0] == 'S' ? '-' : op[0] == 'M' ? '*' : '/';
        L->x = first_active ? n->in[0] : n->in[1];
        L->const_first = !first_active;
        const foil_tensor *c = &g->values[cv].t;
        if (!(L->cval = alloc_floats(c->numel))) return foil_error(FOIL_ERR_NOMEM, "out of memory");
        memcpy(L->cval, foil_f32(c), (size_t)c->numel * sizeof *L->cval);
        L->cn = c->numel;
        const IbpVal *x = &ib->vals[L->x];
        /* a scalar, one value per channel (shape (.., C, 1, 1)), or one per element of an example */
        int per_channel = x->image && c->numel == x->c && c->ndim >= 3 && c->shape[c->ndim - 1] == 1 &&
                          c->shape[c->ndim - 2] == 1;
        if (c->numel != 1 && !per_channel && c->numel != x->per)
            return node_error(ib, n, "supports a scalar, per-channel or per-element constant only");
        if (c->numel == x->c && !per_channel && x->image && c->numel != x->per)
            return node_error(ib, n, "cannot tell how the constant broadcasts");
        if (per_channel && x->per != x->c) L->cn = -1; /* marks per-channel */
        if (L->op == '/')
            for (int64_t i = 0; i < c->numel; i++)
                if (L->cval[i] == 0) return node_error(ib, n, "divides by zero");
        return activate(ib, L->y);
    }
    if (strcmp(op, "Conv") == 0) {
        L->kind = IK_CONV;
        L->wv = n->in[1];
        L->bv = n->n_in > 2 ? n->in[2] : -1;
        const foil_tensor *w = &g->values[L->wv].t;
        if (g->values[L->wv].kind != FOIL_VALUE_PARAM || w->ndim != 4 || !ib->vals[L->x].image)
            return node_error(ib, n, "supports 2-D convolutions by a weight only");
        if (L->bv >= 0 && g->values[L->bv].kind != FOIL_VALUE_PARAM) return node_error(ib, n, "needs a constant bias");
        if (foilAttrInt(n, "group", 1) != 1) return node_error(ib, n, "does not support grouped convolutions");
        if ((st = window(ib, n, L))) return st;
        L->kh = w->shape[2];
        L->kw = w->shape[3];
        if ((st = activate(ib, L->y))) return st;
        const IbpVal *x = &ib->vals[L->x], *y = &ib->vals[L->y];
        if (w->shape[1] != x->c || w->shape[0] != y->c) return node_error(ib, n, "weight shape mismatch");
        int64_t K = x->c * L->kh * L->kw, N = ib->max_batch * y->h * y->w;
        if (!(L->col_mu = alloc_floats(K * N)) || !(L->col_r = alloc_floats(K * N)) ||
            !(L->absw = alloc_floats(w->numel)) || !(L->tmp = alloc_floats(w->numel)))
            return foil_error(FOIL_ERR_NOMEM, "out of memory for IBP bounds");
        float *d = realloc(ib->dcol, (size_t)(K * N > 0 ? K * N : 1) * sizeof *d);
        if (!d) return foil_error(FOIL_ERR_NOMEM, "out of memory for IBP bounds");
        ib->dcol = d;
        if ((st = want_grad(ib, L->wv)) || (st = want_grad(ib, L->bv))) return st;
        return FOIL_OK;
    }
    if (strcmp(op, "Gemm") == 0) {
        L->kind = IK_GEMM;
        L->wv = n->in[1];
        L->bv = n->n_in > 2 ? n->in[2] : -1;
        const foil_tensor *w = &g->values[L->wv].t;
        if (g->values[L->wv].kind != FOIL_VALUE_PARAM || w->ndim != 2 || ib->vals[L->x].image)
            return node_error(ib, n, "supports a (N, K) input times a weight only");
        if (foilAttrInt(n, "transA", 0) != 0 || foilAttrFloat(n, "alpha", 1) != 1 || foilAttrFloat(n, "beta", 1) != 1)
            return node_error(ib, n, "supports transA = 0, alpha = beta = 1 only");
        L->trans_b = foilAttrInt(n, "transB", 0) != 0;
        if ((st = activate(ib, L->y))) return st;
        int64_t K = ib->vals[L->x].per, N = ib->vals[L->y].per;
        if (w->shape[L->trans_b ? 1 : 0] != K || w->shape[L->trans_b ? 0 : 1] != N)
            return node_error(ib, n, "weight shape mismatch");
        if (L->bv >= 0 && (g->values[L->bv].kind != FOIL_VALUE_PARAM || g->values[L->bv].t.numel != N))
            return node_error(ib, n, "supports a bias of one value per output only");
        if (!(L->absw = alloc_floats(w->numel)) || !(L->tmp = alloc_floats(w->numel)))
            return foil_error(FOIL_ERR_NOMEM, "out of memory for IBP bounds");
        if ((st = want_grad(ib, L->wv)) || (st = want_grad(ib, L->bv))) return st;
        return FOIL_OK;
    }
    if (strcmp(op, "Relu") == 0) {
        L->kind = IK_RELU;
        return activate(ib, L->y);
    }
    if (strcmp(op, "MaxPool") == 0) {
        L->kind = IK_MAXPOOL;
        const int64_t *k;
        if (foilAttrInts(n, "kernel_shape", &k) != 2 || !ib->vals[L->x].image)
            return node_error(ib, n, "supports 2-D pooling only");
        if (n->n_out > 1 && n->out[1] >= 0) return node_error(ib, n, "does not support the Indices output");
        L->kh = k[0];
        L->kw = k[1];
        if ((st = window(ib, n, L)) || (st = activate(ib, L->y))) return st;
        int64_t outn = ib->max_batch * ib->vals[L->y].per;
        if (ib->max_batch * ib->vals[L->x].per > INT32_MAX) return node_error(ib, n, "input too large");
        L->arg_l = malloc((size_t)outn * sizeof *L->arg_l);
        L->arg_u = malloc((size_t)outn * sizeof *L->arg_u);
        if (!L->arg_l || !L->arg_u) return foil_error(FOIL_ERR_NOMEM, "out of memory for IBP bounds");
        return FOIL_OK;
    }
    if (strcmp(op, "Flatten") == 0 || strcmp(op, "Reshape") == 0 || strcmp(op, "Identity") == 0) {
        L->kind = IK_FLATTEN;
        if (strcmp(op, "Flatten") == 0 && foilAttrInt(n, "axis", 1) != 1) return node_error(ib, n, "needs axis 1");
        if ((st = activate(ib, L->y))) return st;
        if (ib->vals[L->y].image ? !ib->vals[L->x].image : ib->vals[L->y].per != ib->vals[L->x].per)
            return node_error(ib, n, "supports flattening to (N, F) only");
        if (ib->vals[L->y].image &&
            (ib->vals[L->y].c != ib->vals[L->x].c || ib->vals[L->y].h != ib->vals[L->x].h))
            return node_error(ib, n, "supports flattening to (N, F) only");
        return FOIL_OK;
    }
    return node_error(ib, n, "does not support this op");
}

void foilIbpFree(FoilIbp *ib)
{
    if (!ib) return;
    for (int i = 0; i < ib->n_layers; i++) {
        IbpLayer *L = &ib->layers[i];
        free(L->col_mu);
        free(L->col_r);
        free(L->arg_l);
        free(L->arg_u);
        free(L->absw);
        free(L->tmp);
        free(L->cval);
    }
    for (int v = 0; ib->vals && v < ib->g->n_values; v++) {
        free(ib->vals[v].mu);
        free(ib->vals[v].r);
        free(ib->vals[v].dmu);
        free(ib->vals[v].dr);
        if (ib->grad) free(ib->grad[v]);
    }
    free(ib->vals);
    free(ib->grad);
    free(ib->layers);
    free(ib->dcol);
    free(ib);
}

foil_status foilIbpNew(FoilGraph *g, int64_t max_batch, FoilIbp **out)
{
    *out = NULL;
    if (!g->planned || g->n_inputs != 1 || g->n_outputs < 1 || max_batch < 1)
        return foil_error(FOIL_ERR_ARG, "IBP training needs a planned graph with one input");
    FoilIbp *ib = calloc(1, sizeof *ib);
    if (!ib) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    ib->g = g;
    ib->max_batch = max_batch;
    ib->vals = calloc((size_t)g->n_values, sizeof *ib->vals);
    ib->grad = calloc((size_t)g->n_values, sizeof *ib->grad);
    ib->layers = calloc((size_t)(g->n_nodes > 0 ? g->n_nodes : 1), sizeof *ib->layers);
    foil_status st = !ib->vals || !ib->grad || !ib->layers ? foil_error(FOIL_ERR_NOMEM, "out of memory") : FOIL_OK;
    ib->input = g->inputs[0];
    ib->output = g->outputs[0];
    if (!st) st = activate(ib, ib->input);
    if (!st) ib->vals[ib->input].needs_grad = 0;
    for (int i = 0; !st && i < g->n_nodes; i++) {
        const FoilNode *n = &g->nodes[i];
        if (n->folded || n->n_out < 1 || n->out[0] < 0) continue;
        int depends = 0;
        for (int k = 0; k < n->n_in; k++) depends |= n->in[k] >= 0 && ib->vals[n->in[k]].active;
        if (!depends) continue;
        st = compile_node(ib, n, &ib->layers[ib->n_layers]);
        if (!st) ib->n_layers++;
    }
    if (!st && (!ib->vals[ib->output].active || ib->vals[ib->output].image))
        st = foil_error(FOIL_ERR_UNSUPPORTED, "%s: IBP training needs (N, classes) logits that depend on the input",
                        g->path ? g->path : "model");
    if (!st) {
        ib->classes = ib->vals[ib->output].per;
        const IbpLayer *last = &ib->layers[ib->n_layers - 1];
        ib->elide = last->kind == IK_GEMM && last->y == ib->output;
    }
    if (st) {
        foilIbpFree(ib);
        return st;
    }
    *out = ib;
    return FOIL_OK;
}

int64_t foilIbpClasses(const FoilIbp *ib) { return ib->classes; }

const float *foilIbpGrad(const FoilIbp *ib, int value)
{
    return value >= 0 && value < ib->g->n_values ? ib->grad[value] : NULL;
}

/* ---------------------------------------------------------------------------
 * Convolution: mu' = conv(mu, W) + b, r' = conv(r, |W|).
 * im2col of a CNHW activation: row (ci, i, j), column (n, oh, ow), reading
 * input (ci, n, oh sh - ph + i, ow sw - pw + j), 0 in the padding.
 */

/* The output columns ow in [*lo, *hi) whose tap j reads inside the input
 * row: 0 <= ow sw - pw + j < w. */
static inline void valid_cols(const IbpLayer *L, const IbpVal *x, const IbpVal *y, int64_t j, int64_t *lo,
                              int64_t *hi)
{
    const int64_t off = j - L->pw;
    int64_t l = off >= 0 ? 0 : (-off + L->sw - 1) / L->sw, h = x->w - off <= 0 ? 0 : (x->w - off + L->sw - 1) / L->sw;
    *lo = l < y->w ? l : y->w;
    *hi = h < y->w ? h : y->w;
    if (*hi < *lo) *hi = *lo;
}

static void im2col(const IbpLayer *L, const IbpVal *x, const IbpVal *y, int64_t b, const float *src, float *col)
{
    const int64_t N = b * y->h * y->w, rows = x->c * L->kh * L->kw;
#pragma omp parallel for schedule(static) if (rows * N > 65536)
    for (int64_t row = 0; row < rows; row++) {
        const int64_t ci = row / (L->kh * L->kw), i = row / L->kw % L->kh, j = row % L->kw;
        int64_t lo, hi;
        valid_cols(L, x, y, j, &lo, &hi);
        float *dst = col + row * N;
        for (int64_t n = 0; n < b; n++)
            for (int64_t oh = 0; oh < y->h; oh++, dst += y->w) {
                const int64_t ih = oh * L->sh - L->ph + i;
                if (ih < 0 || ih >= x->h) {
                    memset(dst, 0, (size_t)y->w * sizeof *dst);
                    continue;
                }
                const float *line = src + ((ci * b + n) * x->h + ih) * x->w - L->pw + j;
                for (int64_t ow = 0; ow < lo; ow++) dst[ow] = 0.0f;
                if (L->sw == 1)
                    for (int64_t ow = lo; ow < hi; ow++) dst[ow] = line[ow];
                else
                    for (int64_t ow = lo; ow < hi; ow++) dst[ow] = line[ow * L->sw];
                for (int64_t ow = hi; ow < y->w; ow++) dst[ow] = 0.0f;
            }
    }
}

/* The adjoint: dx += col scattered back (one thread per input channel: the
 * rows of one channel write the same part of dx). */
static void col2im(const IbpLayer *L, const IbpVal *x, const IbpVal *y, int64_t b, const float *col, float *dx)
{
    const int64_t N = b * y->h * y->w;
#pragma omp parallel for schedule(static) if (x->c * L->kh * L->kw * N > 65536)
    for (int64_t ci = 0; ci < x->c; ci++)
        for (int64_t i = 0; i < L->kh; i++)
            for (int64_t j = 0; j < L->kw; j++) {
                const float *s = col + ((ci * L->kh + i) * L->kw + j) * N;
                int64_t lo, hi;
                valid_cols(L, x, y, j, &lo, &hi);
                for (int64_t n = 0; n < b; n++)
                    for (int64_t oh = 0; oh < y->h; oh++, s += y->w) {
                        const int64_t ih = oh * L->sh - L->ph + i;
                        if (ih < 0 || ih >= x->h) continue;
                        float *line = dx + ((ci * b + n) * x->h + ih) * x->w - L->pw + j;
                        if (L->sw == 1)
                            for (int64_t ow = lo; ow < hi; ow++) line[ow] += s[ow];
                        else
                            for (int64_t ow = lo; ow < hi; ow++) line[ow * L->sw] += s[ow];
                    }
            }
}

static void abs_weight(const FoilIbp *ib, IbpLayer *L)
{
    const foil_tensor *w = &ib->g->values[L->wv].t;
    const float *wf = foil_f32(w);
    for (int64_t i = 0; i < w->numel; i++) L->absw[i] = fabsf(wf[i]);
}

static void conv_forward(FoilIbp *ib, IbpLayer *L, int64_t b)
{
    const IbpVal *x = &ib->vals[L->x];
    IbpVal *y = &ib->vals[L->y];
    const int64_t Co = y->c, K = x->c * L->kh * L->kw, N = b * y->h * y->w;
    const float *W = foil_f32(&ib->g->values[L->wv].t);
    abs_weight(ib, L);
    im2col(L, x, y, b, x->mu, L->col_mu);
    im2col(L, x, y, b, x->r, L->col_r);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Co, (int)N, (int)K, 1.0f, W, (int)K, L->col_mu,
                (int)N, 0.0f, y->mu, (int)N);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Co, (int)N, (int)K, 1.0f, L->absw, (int)K, L->col_r,
                (int)N, 0.0f, y->r, (int)N);
    if (L->bv >= 0) {
        const float *bias = foil_f32(&ib->g->values[L->bv].t);
        for (int64_t co = 0; co < Co; co++)
            for (int64_t k = 0; k < N; k++) y->mu[co * N + k] += bias[co];
    }
}

/* In the forward pass this was: mu' = W col(mu) + b, r' = |W| col(r), so
 *   dW  += dmu' col(mu)^T + sign(W) . (dr' col(r)^T)   (d|W|/dW = sign W)
 *   db  += sum over columns of dmu'
 *   dmu += col2im(W^T dmu'),  dr += col2im(|W|^T dr'). */
static void conv_backward(FoilIbp *ib, IbpLayer *L, int64_t b)
{
    IbpVal *x = &ib->vals[L->x];
    const IbpVal *y = &ib->vals[L->y];
    const int64_t Co = y->c, K = x->c * L->kh * L->kw, N = b * y->h * y->w, nw = Co * K;
    const float *W = foil_f32(&ib->g->values[L->wv].t);
    float *dW = ib->grad[L->wv];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Co, (int)K, (int)N, 1.0f, y->dmu, (int)N, L->col_mu,
                (int)N, 1.0f, dW, (int)K);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Co, (int)K, (int)N, 1.0f, y->dr, (int)N, L->col_r,
                (int)N, 0.0f, L->tmp, (int)K);
    for (int64_t i = 0; i < nw; i++) dW[i] += W[i] > 0 ? L->tmp[i] : W[i] < 0 ? -L->tmp[i] : 0.0f;
    if (L->bv >= 0) {
        float *db = ib->grad[L->bv];
        for (int64_t co = 0; co < Co; co++) {
            double s = 0;
            for (int64_t k = 0; k < N; k++) s += y->dmu[co * N + k];
            db[co] += (float)s;
        }
    }
    if (!x->needs_grad) return;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)N, (int)Co, 1.0f, W, (int)K, y->dmu, (int)N,
                0.0f, ib->dcol, (int)N);
    col2im(L, x, y, b, ib->dcol, x->dmu);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)N, (int)Co, 1.0f, L->absw, (int)K, y->dr,
                (int)N, 0.0f, ib->dcol, (int)N);
    col2im(L, x, y, b, ib->dcol, x->dr);
}

/* ---------------------------------------------------------------------------
 * Gemm, (b, K) in, (b, N) out: mu' = mu op(W) + b, r' = r op(|W|), with
 * op(W) = W^T when transB (W stored (N, K)), W otherwise (stored (K, N)).
 */

static void gemm_forward(FoilIbp *ib, IbpLayer *L, int64_t b)
{
    const IbpVal *x = &ib->vals[L->x];
    IbpVal *y = &ib->vals[L->y];
    const int K = (int)x->per, N = (int)y->per, ldw = L->trans_b ? K : N;
    const CBLAS_TRANSPOSE tw = L->trans_b ? CblasTrans : CblasNoTrans;
    abs_weight(ib, L);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, tw, (int)b, N, K, 1.0f, x->mu, K, foil_f32(&ib->g->values[L->wv].t),
                ldw, 0.0f, y->mu, N);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, tw, (int)b, N, K, 1.0f, x->r, K, L->absw, ldw, 0.0f, y->r, N);
    if (L->bv >= 0) {
        const float *bias = foil_f32(&ib->g->values[L->bv].t);
        for (int64_t i = 0; i < b; i++)
            for (int o = 0; o < N; o++) y->mu[i * N + o] += bias[o];
    }
}

/* The weight's gradient from (dmu', dr') and the input's (mu, r):
 *   transB: dW (N, K) += dmu'^T mu + sign(W) . (dr'^T r)
 *   else:   dW (K, N) += mu^T dmu' + sign(W) . (r^T dr'). */
static void gemm_weight_grad(FoilIbp *ib, IbpLayer *L, int64_t b, const float *dmu, const float *dr, const float *mu,
                             const float *r)
{
    const int K = (int)ib->vals[L->x].per, N = (int)ib->vals[L->y].per, nw = K * N;
    const float *W = foil_f32(&ib->g->values[L->wv].t);
    float *dW = ib->grad[L->wv];
    if (L->trans_b) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, (int)b, 1.0f, dmu, N, mu, K, 1.0f, dW, K);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, (int)b, 1.0f, dr, N, r, K, 0.0f, L->tmp, K);
    } else {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, N, (int)b, 1.0f, mu, K, dmu, N, 1.0f, dW, N);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, N, (int)b, 1.0f, r, K, dr, N, 0.0f, L->tmp, N);
    }
    for (int i = 0; i < nw; i++) dW[i] += W[i] > 0 ? L->tmp[i] : W[i] < 0 ? -L->tmp[i] : 0.0f;
}

/* In the forward pass this was: mu' = mu op(W) + b, r' = r op(|W|), so
 *   dmu += dmu' op(W)^T,  dr += dr' op(|W|)^T,  db += sum over rows of dmu'. */
static void gemm_backward(FoilIbp *ib, IbpLayer *L, int64_t b)
{
    IbpVal *x = &ib->vals[L->x];
    const IbpVal *y = &ib->vals[L->y];
    const int K = (int)x->per, N = (int)y->per, ldw = L->trans_b ? K : N;
    gemm_weight_grad(ib, L, b, y->dmu, y->dr, x->mu, x->r);
    if (L->bv >= 0) {
        float *db = ib->grad[L->bv];
        for (int64_t i = 0; i < b; i++)
            for (int o = 0; o < N; o++) db[o] += y->dmu[i * N + o];
    }
    if (!x->needs_grad) return;
    const CBLAS_TRANSPOSE tw = L->trans_b ? CblasNoTrans : CblasTrans; /* op(W)^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, tw, (int)b, K, N, 1.0f, y->dmu, N, foil_f32(&ib->g->values[L->wv].t),
                ldw, 1.0f, x->dmu, K);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, tw, (int)b, K, N, 1.0f, y->dr, N, L->absw, ldw, 1.0f, x->dr, K);
}

/* ---------------------------------------------------------------------------
 * Relu on the ends: l' = max(l, 0), u' = max(u, 0).
 */

static void relu_forward(FoilIbp *ib, const IbpLayer *L, int64_t b)
{
    const IbpVal *x = &ib->vals[L->x];
    IbpVal *y = &ib->vals[L->y];
    const int64_t n = b * x->per;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) {
        float l = x->mu[i] - x->r[i], u = x->mu[i] + x->r[i];
        l = l > 0 ? l : 0.0f;
        u = u > 0 ? u : 0.0f;
        y->mu[i] = 0.5f * (u + l);
        y->r[i] = 0.5f * (u - l);
    }
}

/* In the forward pass this was: mu' = (u' + l') / 2, r' = (u' - l') / 2,
 * l' = relu(mu - r), u' = relu(mu + r), so with dl' = (dmu' - dr') / 2 and
 * du' = (dmu' + dr') / 2 passed where l > 0 and u > 0:
 *   dmu += dl + du,  dr += du - dl. */
static void relu_backward(FoilIbp *ib, const IbpLayer *L, int64_t b)
{
    IbpVal *x = &ib->vals[L->x];
    const IbpVal *y = &ib->vals[L->y];
    const int64_t n = b * x->per;
    if (!x->needs_grad) return;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) {
        float l = x->mu[i] - x->r[i], u = x->mu[i] + x->r[i];
        float dl = l > 0 ? 0.5f * (y->dmu[i] - y->dr[i]) : 0.0f;
        float du = u > 0 ? 0.5f * (y->dmu[i] + y->dr[i]) : 0.0f;
        x->dmu[i] += dl + du;
        x->dr[i] += du - dl;
    }
}

/* ---------------------------------------------------------------------------
 * MaxPool on the ends: l' = max over the window of l, u' = max of u (the
 * padding takes no part); each plane (c, n) of CNHW is one image.
 */

static void maxpool_forward(FoilIbp *ib, IbpLayer *L, int64_t b)
{
    const IbpVal *x = &ib->vals[L->x];
    IbpVal *y = &ib->vals[L->y];
    const int64_t planes = x->c * b;
    const int two = L->kh == 2 && L->kw == 2 && L->sh == 2 && L->sw == 2 && L->ph == 0 && L->pw == 0 &&
                    2 * y->h <= x->h && 2 * y->w <= x->w;
#pragma omp parallel for schedule(static) if (planes * y->h * y->w > 16384)
    for (int64_t p = 0; p < planes; p++) {
        const float *mu = x->mu + p * x->h * x->w, *r = x->r + p * x->h * x->w;
        if (two) { /* the common 2x2 window, stride 2: 4 taps, all inside; the first maximum wins, as below */
            for (int64_t oh = 0; oh < y->h; oh++)
                for (int64_t ow = 0; ow < y->w; ow++) {
                    const int64_t k0 = 2 * oh * x->w + 2 * ow, taps[4] = {k0, k0 + 1, k0 + x->w, k0 + x->w + 1};
                    int64_t al = k0, au = k0;
                    float bl = mu[k0] - r[k0], bu = mu[k0] + r[k0];
                    for (int t = 1; t < 4; t++) {
                        const int64_t k = taps[t];
                        const float l = mu[k] - r[k], u = mu[k] + r[k];
                        if (l > bl) bl = l, al = k;
                        if (u > bu) bu = u, au = k;
                    }
                    const int64_t o = (p * y->h + oh) * y->w + ow;
                    L->arg_l[o] = (int32_t)(p * x->h * x->w + al);
                    L->arg_u[o] = (int32_t)(p * x->h * x->w + au);
                    y->mu[o] = 0.5f * (bu + bl);
                    y->r[o] = 0.5f * (bu - bl);
                }
            continue;
        }
        for (int64_t oh = 0; oh < y->h; oh++)
            for (int64_t ow = 0; ow < y->w; ow++) {
                float bl = -INFINITY, bu = -INFINITY;
                int32_t al = -1, au = -1;
                for (int64_t i = 0; i < L->kh; i++) {
                    const int64_t ih = oh * L->sh - L->ph + i;
                    if (ih < 0 || ih >= x->h) continue;
                    for (int64_t j = 0; j < L->kw; j++) {
                        const int64_t iw = ow * L->sw - L->pw + j;
                        if (iw < 0 || iw >= x->w) continue;
                        const int64_t k = ih * x->w + iw;
                        float l = mu[k] - r[k], u = mu[k] + r[k];
                        if (l > bl || al < 0) bl = l, al = (int32_t)(p * x->h * x->w + k);
                        if (u > bu || au < 0) bu = u, au = (int32_t)(p * x->h * x->w + k);
                    }
                }
                const int64_t o = (p * y->h + oh) * y->w + ow;
                if (al < 0) bl = bu = 0; /* a window wholly in the padding */
                L->arg_l[o] = al;
                L->arg_u[o] = au;
                y->mu[o] = 0.5f * (bu + bl);
                y->r[o] = 0.5f * (bu - bl);
            }
    }
}

/* In the forward pass this was: l' = l[arg_l], u' = u[arg_u], with
 * l = mu - r and u = mu + r, so dl' = (dmu' - dr') / 2 goes to mu and -r at
 * arg_l, and du' = (dmu' + dr') / 2 to mu and r at arg_u. */
static void maxpool_backward(FoilIbp *ib, const IbpLayer *L, int64_t b)
{
    IbpVal *x = &ib->vals[L->x];
    const IbpVal *y = &ib->vals[L->y];
    if (!x->needs_grad) return;
    const int64_t planes = x->c * b, per_plane = y->h * y->w;
#pragma omp parallel for schedule(static) if (planes * per_plane > 16384)
    for (int64_t p = 0; p < planes; p++)
        for (int64_t o = p * per_plane; o < (p + 1) * per_plane; o++) {
            if (L->arg_l[o] < 0) continue;
            float dl = 0.5f * (y->dmu[o] - y->dr[o]), du = 0.5f * (y->dmu[o] + y->dr[o]);
            x->dmu[L->arg_l[o]] += dl;
            x->dr[L->arg_l[o]] -= dl;
            x->dmu[L->arg_u[o]] += du;
            x->dr[L->arg_u[o]] += du;
        }
}

/* ---------------------------------------------------------------------------
 * Flatten: CNHW (or (b, F)) to (b, F), F = C H W in ONNX's order.
 */

static void flatten_forward(FoilIbp *ib, const IbpLayer *L, int64_t b)
{
    const IbpVal *x = &ib->vals[L->x];
    IbpVal *y = &ib->vals[L->y];
    if (!x->image || y->image) {
        memcpy(y->mu, x->mu, (size_t)(b * x->per) * sizeof *y->mu);
        memcpy(y->r, x->r, (size_t)(b * x->per) * sizeof *y->r);
        return;
    }
    const int64_t hw = x->h * x->w;
    for (int64_t c = 0; c < x->c; c++)
        for (int64_t n = 0; n < b; n++) {
            memcpy(y->mu + n * y->per + c * hw, x->mu + (c * b + n) * hw, (size_t)hw * sizeof(float));
            memcpy(y->r + n * y->per + c * hw, x->r + (c * b + n) * hw, (size_t)hw * sizeof(float));
        }
}

static void flatten_backward(FoilIbp *ib, const IbpLayer *L, int64_t b)
{
    IbpVal *x = &ib->vals[L->x];
    const IbpVal *y = &ib->vals[L->y];
    if (!x->needs_grad) return;
    if (!x->image || y->image) {
        for (int64_t i = 0; i < b * x->per; i++) x->dmu[i] += y->dmu[i], x->dr[i] += y->dr[i];
        return;
    }
    const int64_t hw = x->h * x->w;
    for (int64_t c = 0; c < x->c; c++)
        for (int64_t n = 0; n < b; n++) {
            float *dmu = x->dmu + (c * b + n) * hw, *dr = x->dr + (c * b + n) * hw;
            const float *gmu = y->dmu + n * y->per + c * hw, *gr = y->dr + n * y->per + c * hw;
            for (int64_t s = 0; s < hw; s++) dmu[s] += gmu[s], dr[s] += gr[s];
        }
}

/* ---------------------------------------------------------------------------
 * Add/Sub/Mul/Div by a constant c: mu' = mu op c (c - mu), r' = r (|c| r,
 * r / |c|).
 */

static float const_at(const IbpLayer *L, const IbpVal *x, int64_t b, int64_t i)
{
    if (L->cn == 1) return L->cval[0];
    if (!x->image) return L->cval[i % x->per];
    const int64_t hw = x->h * x->w, c = i / (b * hw);
    return L->cn < 0 ? L->cval[c] : L->cval[c * hw + i % hw];
}

static void const_forward(FoilIbp *ib, const IbpLayer *L, int64_t b)
{
    const IbpVal *x = &ib->vals[L->x];
    IbpVal *y = &ib->vals[L->y];
    const int64_t n = b * x->per;
    for (int64_t i = 0; i < n; i++) {
        float c = const_at(L, x, b, i), mu = x->mu[i], r = x->r[i];
        switch (L->op) {
        case '+': mu += c; break;
        case '-': mu = L->const_first ? c - mu : mu - c; break;
        case '*': mu *= c, r *= fabsf(c); break;
        default: mu /= c, r /= fabsf(c); break;
        }
        y->mu[i] = mu;
        y->r[i] = r;
    }
}

static void const_backward(FoilIbp *ib, const IbpLayer *L, int64_t b)
{
    IbpVal *x = &ib->vals[L->x];
    const IbpVal *y = &ib->vals[L->y];
    if (!x->needs_grad) return;
    const int64_t n = b * x->per;
    for (int64_t i = 0; i < n; i++) {
        float c = const_at(L, x, b, i), dmu = y->dmu[i], dr = y->dr[i];
        switch (L->op) {
        case '+': break;
        case '-': dmu = L->const_first ? -dmu : dmu; break;
        case '*': dmu *= c, dr *= fabsf(c); break;
        default: dmu /= c, dr /= fabsf(c); break;
        }
        x->dmu[i] += dmu;
        x->dr[i] += dr;
    }
}

/* ---------------------------------------------------------------------------
 * The whole pass.
 */

foil_status foilIbpForward(FoilIbp *ib, int64_t b, const float *lo, const float *hi)
{
    if (b < 1 || b > ib->max_batch)
        return foil_error(FOIL_ERR_ARG, "IBP: batch of %lld examples, planned for at most %lld", (long long)b,
                          (long long)ib->max_batch);
    ib->b = b;
    IbpVal *x = &ib->vals[ib->input];
    const int64_t hw = x->h * x->w, cs = x->image ? x->c : 1, inner = x->image ? hw : x->per;
    for (int64_t n = 0; n < b; n++) /* (b, C, H, W) -> CNHW; (b, F) stays */
        for (int64_t c = 0; c < cs; c++) {
            const float *l = lo + n * x->per + c * inner, *h = hi + n * x->per + c * inner;
            float *mu = x->mu + (x->image ? (c * b + n) * hw : n * x->per), *r = x->r + (mu - x->mu);
            for (int64_t k = 0; k < inner; k++) {
                mu[k] = 0.5f * (h[k] + l[k]);
                r[k] = 0.5f * (h[k] - l[k]);
            }
        }
    for (int i = 0; i < ib->n_layers; i++) {
        IbpLayer *L = &ib->layers[i];
        switch (L->kind) {
        case IK_CONV: conv_forward(ib, L, b); break;
        case IK_GEMM: gemm_forward(ib, L, b); break;
        case IK_RELU: relu_forward(ib, L, b); break;
        case IK_MAXPOOL: maxpool_forward(ib, L, b); break;
        case IK_FLATTEN: flatten_forward(ib, L, b); break;
        case IK_CONST: const_forward(ib, L, b); break;
        }
    }
    return FOIL_OK;
}

void foilIbpLogitBounds(const FoilIbp *ib, float *lb, float *ub)
{
    const IbpVal *z = &ib->vals[ib->output];
    for (int64_t i = 0; i < ib->b * ib->classes; i++) {
        lb[i] = z->mu[i] - z->r[i];
        ub[i] = z->mu[i] + z->r[i];
    }
}

/* The last Gemm's weight as (N, K) element (j, k), and its bias. */
static inline float last_w(const FoilIbp *ib, const IbpLayer *L, const float *W, int64_t j, int64_t k)
{
    return L->trans_b ? W[j * ib->vals[L->x].per + k] : W[k * ib->classes + j];
}

/* Elided: z_j = max over h in [mu - r, mu + r] of (W_j - W_y) h + b_j - b_y
 *            = d . mu + |d| . r + b_j - b_y,  d = W_j - W_y.
 * Otherwise: z_j = u_j - l_y. */
void foilIbpWorstLogits(FoilIbp *ib, const int64_t *labels, float *z)
{
    const int64_t b = ib->b, C = ib->classes;
    if (!ib->elide) {
        const IbpVal *o = &ib->vals[ib->output];
        for (int64_t i = 0; i < b; i++) {
            const int64_t y = labels[i];
            const float ly = o->mu[i * C + y] - o->r[i * C + y];
            for (int64_t j = 0; j < C; j++) z[i * C + j] = j == y ? 0.0f : o->mu[i * C + j] + o->r[i * C + j] - ly;
        }
        return;
    }
    const IbpLayer *L = &ib->layers[ib->n_layers - 1];
    const IbpVal *h = &ib->vals[L->x];
    const int64_t K = h->per;
    const float *W = foil_f32(&ib->g->values[L->wv].t), *bias = L->bv >= 0 ? foil_f32(&ib->g->values[L->bv].t) : NULL;
#pragma omp parallel for schedule(static) if (b * C * K > 65536)
    for (int64_t i = 0; i < b; i++) {
        const int64_t y = labels[i];
        const float *mu = h->mu + i * K, *r = h->r + i * K;
        for (int64_t j = 0; j < C; j++) {
            if (j == y) {
                z[i * C + j] = 0;
                continue;
            }
            float s = bias ? bias[j] - bias[y] : 0.0f;
            for (int64_t k = 0; k < K; k++) {
                float d = last_w(ib, L, W, j, k) - last_w(ib, L, W, y, k);
                s += d * mu[k] + fabsf(d) * r[k];
            }
            z[i * C + j] = s;
        }
    }
}

/* In the forward pass this was (elided): z_j = d . mu + |d| . r + b_j - b_y
 * with d = W_j - W_y, so
 *   dmu += dz_j d,  dr += dz_j |d|,
 *   dW_j += dz_j (mu + sign(d) r),  dW_y -= the same,  db_j += dz_j,  db_y -= dz_j. */
static void elided_backward(FoilIbp *ib, const int64_t *labels, const float *dz)
{
    const IbpLayer *L = &ib->layers[ib->n_layers - 1];
    IbpVal *h = &ib->vals[L->x];
    const int64_t b = ib->b, C = ib->classes, K = h->per;
    const float *W = foil_f32(&ib->g->values[L->wv].t);
    float *dW = ib->grad[L->wv], *db = L->bv >= 0 ? ib->grad[L->bv] : NULL;
    for (int64_t i = 0; i < b; i++) {
        const int64_t y = labels[i];
        const float *mu = h->mu + i * K, *r = h->r + i * K;
        float *dmu = h->dmu + i * K, *dr = h->dr + i * K;
        for (int64_t j = 0; j < C; j++) {
            const float g = dz[i * C + j];
            if (j == y || g == 0) continue;
            if (db) db[j] += g, db[y] -= g;
            for (int64_t k = 0; k < K; k++) {
                float d = last_w(ib, L, W, j, k) - last_w(ib, L, W, y, k);
                float s = d > 0 ? 1.0f : d < 0 ? -1.0f : 0.0f, gw = g * (mu[k] + s * r[k]);
                dmu[k] += g * d;
                dr[k] += g * fabsf(d);
                if (L->trans_b) dW[j * K + k] += gw, dW[y * K + k] -= gw;
                else dW[k * C + j] += gw, dW[k * C + y] -= gw;
            }
        }
    }
}

void foilIbpBackward(FoilIbp *ib, const int64_t *labels, const float *dz)
{
    const int64_t b = ib->b, C = ib->classes;
    for (int v = 0; v < ib->g->n_values; v++) {
        IbpVal *a = &ib->vals[v];
        if (a->active && a->needs_grad) {
            memset(a->dmu, 0, (size_t)(b * a->per) * sizeof *a->dmu);
            memset(a->dr, 0, (size_t)(b * a->per) * sizeof *a->dr);
        }
        if (ib->grad[v]) memset(ib->grad[v], 0, (size_t)ib->g->values[v].t.numel * sizeof(float));
    }
    int last = ib->n_layers;
    if (ib->elide) {
        elided_backward(ib, labels, dz);
        last--;
    } else { /* z_j = (mu_j + r_j) - (mu_y - r_y) */
        IbpVal *o = &ib->vals[ib->output];
        for (int64_t i = 0; i < b; i++)
            for (int64_t j = 0; j < C; j++) {
                const int64_t y = labels[i];
                const float g = dz[i * C + j];
                if (j == y) continue;
                o->dmu[i * C + j] += g;
                o->dr[i * C + j] += g;
                o->dmu[i * C + y] -= g;
                o->dr[i * C + y] += g;
            }
    }
    for (int i = last - 1; i >= 0; i--) {
        IbpLayer *L = &ib->layers[i];
        switch (L->kind) {
        case IK_CONV: conv_backward(ib, L, b); break;
        case IK_GEMM: gemm_backward(ib, L, b); break;
        case IK_RELU: relu_backward(ib, L, b); break;
        case IK_MAXPOOL: maxpool_backward(ib, L, b); break;
        case IK_FLATTEN: flatten_backward(ib, L, b); break;
        case IK_CONST: const_backward(ib, L, b); break;
        }
    }
}
