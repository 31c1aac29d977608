/*
 * nn/ops/softmax.c - Softmax, LogSoftmax, SoftmaxCrossEntropyLoss,
 * NegativeLogLikelihoodLoss, and the
 * graph-independent foil_softmax_xent (include/foil/loss.h).
 *
 * All of them rest on softmax_core(), the one place where the stable
 * log-sum-exp lives:  lse(x) = m + log(sum_k exp(x_k - m)),  m = max_k x_k.
 *
 * Shapes. Softmax/LogSoftmax normalize "lines" of n values, each line a
 * strided slice of the input: (outer, n, inner) with line stride `inner`.
 *   opset >= 13: the single dimension `axis` (default -1):
 *       outer = prod(shape[:axis]), n = shape[axis], inner = prod(shape[axis+1:])
 *   opset < 13:  the input is coerced to 2-D at `axis` (default 1) and each row
 *       of the flattened trailing block is normalized:
 *       outer = prod(shape[:axis]), n = prod(shape[axis:]), inner = 1
 * SoftmaxCrossEntropyLoss: scores (N, C, d1..dk) are lines of C values with
 * stride D = d1*...*dk, one line per position (n, d).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "foil/loss.h"
#include "nn/op.h"
#include "nn/ops/broadcast.h"
#include "nn/ops/vmath.h"

/* Parallelize exp-heavy loops above this many elements. */
#define SOFTMAX_PAR_MIN 8192

/* The stable log-sum-exp of a line of n values x[0], x[stride], ...:
 *     lse = max + logsum,  max = max_k x_k,  logsum = log(sum_k exp(x_k - max))
 * kept as two parts so that callers form log-probabilities as
 * (x_k - max) - logsum, which stays exact for large logits where x_k - lse
 * would lose digits in float. When p is not NULL the softmax
 * p[k*stride] = exp(x_k - max) / sum is stored alongside (p may be the output
 * buffer). NaN inputs give NaN; all -inf gives NaN probabilities, as numpy.
 *
 * The core takes w adjacent lines at once (line j starts at x + j), which is
 * how lines lie when the normalized axis is not the last one: the loops then
 * run across lines, contiguous in memory, and vectorize. A contiguous line
 * (stride 1, w 1) is done with 8 independent lanes instead. */
typedef struct lse_parts {
    float max, logsum;
} lse_parts;

#define LSE_BLOCK 64

static void lse_contiguous(const float *x, int64_t n, float *p, lse_parts *out)
{
    float mx[8], acc[8];
    for (int l = 0; l < 8; l++) {
        mx[l] = -INFINITY;
        acc[l] = 0.0f;
    }
    int64_t k = 0;
    for (; k + 8 <= n; k += 8)
        for (int l = 0; l < 8; l++) mx[l] = x[k + l] > mx[l] ? x[k + l] : mx[l];
    float m = -INFINITY;
    for (int l = 0; l < 8; l++) m = mx[l] > m ? mx[l] : m;
    for (; k < n; k++) m = x[k] > m ? x[k] : m;
    k = 0;
    if (p) {
        for (; k + 8 <= n; k += 8)
            for (int l = 0; l < 8; l++) {
                const float e = foilExpf(x[k + l] - m);
                p[k + l] = e;
                acc[l] += e;
            }
    } else {
        for (; k + 8 <= n; k += 8)
            for (int l = 0; l < 8; l++) acc[l] += foilExpf(x[k + l] - m);
    }
    float sum = 0.0f;
    for (int l = 0; l < 8; l++) sum += acc[l];
    for (; k < n; k++) {
        const float e = foilExpf(x[k] - m);
        if (p) p[k] = e;
        sum += e;
    }
    if (p) {
        const float inv = 1.0f / sum;
        for (k = 0; k < n; k++) p[k] *= inv;
    }
    out->max = m;
    out->logsum = logf(sum);
}

static void softmax_core(const float *x, int64_t n, int64_t stride, int64_t w, float *p, lse_parts *out)
{
    if (stride == 1 && w == 1) {
        lse_contiguous(x, n, p, out);
        return;
    }
    float m[LSE_BLOCK], s[LSE_BLOCK];
    for (int64_t j = 0; j < w; j++) {
        m[j] = -INFINITY;
        s[j] = 0.0f;
    }
    for (int64_t k = 0; k < n; k++) {
        const float *xk = x + k * stride;
        for (int64_t j = 0; j < w; j++) m[j] = xk[j] > m[j] ? xk[j] : m[j];
    }
    for (int64_t k = 0; k < n; k++) {
        const float *xk = x + k * stride;
        if (p) {
            float *pk = p + k * stride;
            for (int64_t j = 0; j < w; j++) {
                const float e = foilExpf(xk[j] - m[j]);
                pk[j] = e;
                s[j] += e;
            }
        } else {
            for (int64_t j = 0; j < w; j++) s[j] += foilExpf(xk[j] - m[j]);
        }
    }
    if (p) {
        float inv[LSE_BLOCK];
        for (int64_t j = 0; j < w; j++) inv[j] = 1.0f / s[j];
        for (int64_t k = 0; k < n; k++) {
            float *pk = p + k * stride;
            for (int64_t j = 0; j < w; j++) pk[j] *= inv[j];
        }
    }
    for (int64_t j = 0; j < w; j++) {
        out[j].max = m[j];
        out[j].logsum = logf(s[j]);
    }
}

/* ------------------------------------------------------------------------- */
/* Softmax, LogSoftmax                                                        */

typedef struct softmax_state {
    int legacy;     /* opset < 13: coerce to 2-D */
    int64_t axis;
    int log;        /* LogSoftmax */
} softmax_state;

static foil_status softmax_init_common(FoilNode *n, int log)
{
    softmax_state *st = calloc(1, sizeof *st);
    if (!st) return foilNodeInitError(n, FOIL_ERR_NOMEM, "out of memory");
    st->legacy = n->opset < 13;
    st->axis = foilAttrInt(n, "axis", st->legacy ? 1 : -1);
    st->log = log;
    n->state = st;
    return FOIL_OK;
}

static foil_status softmax_init(FoilNode *n) { return softmax_init_common(n, 0); }
static foil_status logsoftmax_init(FoilNode *n) { return softmax_init_common(n, 1); }

/* outer, n, inner of the lines for input x; -1 on a bad axis. */
static int softmax_lines(const softmax_state *st, const foil_tensor *x, int64_t *outer, int64_t *n, int64_t *inner)
{
    int axis = foilNormAxis(st->axis, x->ndim);
    if (axis < 0) return -1;
    *outer = 1;
    for (int i = 0; i < axis; i++) *outer *= x->shape[i];
    if (st->legacy) {
        *n = 1;
        for (int i = axis; i < x->ndim; i++) *n *= x->shape[i];
        *inner = 1;
    } else {
        *n = x->shape[axis];
        *inner = 1;
        for (int i = axis + 1; i < x->ndim; i++) *inner *= x->shape[i];
    }
    return 0;
}

static foil_status softmax_infer(FoilOpCtx *c)
{
    const softmax_state *st = c->node->state;
    if (c->n_in != 1 || !c->in[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs 1 input");
    if (c->n_out < 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs an output");
    const foil_tensor *x = c->in[0];
    if (x->dtype != FOIL_F32)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "type %s is not supported (float32 only)",
                               foil_dtype_name(x->dtype));
    int64_t outer, n, inner;
    if (softmax_lines(st, x, &outer, &n, &inner))
        return foilNodeError(c, FOIL_ERR_FORMAT, "axis %lld is out of range for a rank-%d input", (long long)st->axis,
                               x->ndim);
    if (foil_tensor_set_shape(c->out[0], FOIL_F32, x->ndim, x->shape))
        return foilNodeError(c, FOIL_ERR_SHAPE, "%s", foil_last_error());
    c->work_bytes = 0;
    return FOIL_OK;
}

static foil_status softmax_forward(FoilOpCtx *c)
{
    const softmax_state *st = c->node->state;
    const foil_tensor *xt = c->in[0];
    int64_t outer, n, inner;
    if (softmax_lines(st, xt, &outer, &n, &inner)) return foilNodeError(c, FOIL_ERR_FORMAT, "bad axis");
    const float *x = foil_f32(xt);
    float *y = foil_f32(c->out[0]);
    /* tasks: (o, block of up to LSE_BLOCK adjacent lines) */
    const int64_t blocks = (inner + LSE_BLOCK - 1) / LSE_BLOCK, tasks = outer * blocks;
    const int log = st->log;
#pragma omp parallel for if (xt->numel >= SOFTMAX_PAR_MIN && tasks > 1) schedule(static)
    for (int64_t t = 0; t < tasks; t++) {
        const int64_t o = t / blocks, i0 = (t - o * blocks) * LSE_BLOCK;
        const int64_t w = inner - i0 < LSE_BLOCK ? inner - i0 : LSE_BLOCK, base = o * n * inner + i0;
        lse_parts L[LSE_BLOCK];
        softmax_core(x + base, n, inner, w, log ? NULL : y + base, L);
        if (log)
            for (int64_t k = 0; k < n; k++) {
                const float *xk = x + base + k * inner;
                float *yk = y + base + k * inner;
                for (int64_t j = 0; j < w; j++) yk[j] = (xk[j] - L[j].max) - L[j].logsum;
            }
    }
    return FOIL_OK;
}

/*
 * Softmax. In the forward pass this was y_k = exp(x_k) / sum_j exp(x_j), so
 * dy_k/dx_i = y_k (delta_ki - y_i) and
 *     dx_i += sum_k dy_k y_k (delta_ki - y_i) = y_i (dy_i - sum_k dy_k y_k).
 * LogSoftmax. In the forward pass this was y_k = x_k - lse(x), and
 * d lse / dx_i = softmax_i = exp(y_i), so
 *     dx_i += dy_i - exp(y_i) sum_k dy_k.
 * Both use the saved output y.
 */
static void softmax_backward(FoilOpCtx *c)
{
    const softmax_state *st = c->node->state;
    if (!c->d_in[0] || !c->d_out[0]) return;
    int64_t outer, n, inner;
    if (softmax_lines(st, c->in[0], &outer, &n, &inner)) return;
    const float *y = foil_f32(c->out[0]), *dy = foil_f32(c->d_out[0]);
    float *dx = foil_f32(c->d_in[0]);
    const int64_t lines = outer * inner;
    const int log = st->log;
#pragma omp parallel for if (c->in[0]->numel >= SOFTMAX_PAR_MIN && lines > 1) schedule(static)
    for (int64_t l = 0; l < lines; l++) {
        const int64_t o = l / inner, i = l - o * inner, base = o * n * inner + i;
        const float *yl = y + base, *gl = dy + base;
        float *dl = dx + base;
        double s = 0;
        if (!log) {
            for (int64_t k = 0; k < n; k++) s += (double)gl[k * inner] * yl[k * inner];
            const float sf = (float)s;
            for (int64_t k = 0; k < n; k++) dl[k * inner] += yl[k * inner] * (gl[k * inner] - sf);
        } else {
            for (int64_t k = 0; k < n; k++) s += gl[k * inner];
            const float sf = (float)s;
            for (int64_t k = 0; k < n; k++) dl[k * inner] += gl[k * inner] - foilExpf(yl[k * inner]) * sf;
        }
    }
}

const FoilOp foilOpSoftmax = {
    .type = "Softmax",
    .grad_inputs = 0x1,
    .init = softmax_init,
    .infer = softmax_infer,
    .forward = softmax_forward,
    .backward = softmax_backward,
};

const FoilOp foilOpLogSoftmax = {
    .type = "LogSoftmax",
    .grad_inputs = 0x1,
    .init = logsoftmax_init,
    .infer = softmax_infer,
    .forward = softmax_forward,
    .backward = softmax_backward,
};

/* ------------------------------------------------------------------------- */
/* foil_softmax_xent                                                           */

foil_status foil_softmax_xent(const float *logits, const int64_t *labels, int64_t n, int64_t c, float *loss,
                              float *dlogits)
{
    if (n < 0 || c < 1)
        return foil_error(FOIL_ERR_ARG, "softmax cross-entropy: bad size (%lld examples, %lld classes)", (long long)n,
                          (long long)c);
    if (n == 0) return FOIL_OK;
    if (!logits || !labels) return foil_error(FOIL_ERR_ARG, "softmax cross-entropy: NULL logits or labels");
    for (int64_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= c)
            return foil_error(FOIL_ERR_ARG, "softmax cross-entropy: label %lld of example %lld is outside [0, %lld)",
                              (long long)labels[i], (long long)i, (long long)c);
#pragma omp parallel for if (n * c >= SOFTMAX_PAR_MIN && n > 1) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float *x = logits + i * c;
        float *d = dlogits ? dlogits + i * c : NULL;
        /* loss_i = lse(x) - x_y;  d loss_i / dx = softmax(x) - onehot(y) */
        lse_parts L;
        softmax_core(x, c, 1, 1, d, &L);
        if (loss) loss[i] = L.logsum - (x[labels[i]] - L.max);
        if (d) d[labels[i]] -= 1.0f;
    }
    return FOIL_OK;
}

/* ------------------------------------------------------------------------- */
/* SoftmaxCrossEntropyLoss (opset 12, 13)
 *
 *   scores (N, C, d1..dk) float32, labels (N, d1..dk) int64 or int32,
 *   optional weights (C). Per position p = (n, d):
 *     w_p    = 0 if labels_p == ignore_index, else weights[labels_p] (or 1)
 *     loss_p = w_p * (lse_p - scores[n, labels_p, d])
 *   reduction none: output loss_p (shape of labels); sum: sum_p loss_p;
 *   mean: sum_p loss_p / sum_p w_p (NaN when every position is ignored, as in
 *   the ONNX reference and PyTorch). Optional output 2: log_prob = scores - lse
 *   (shape of scores). A label outside [0, C) that is not ignore_index is an
 *   error at forward time.
 * Workspace: wsum (double), then the lse parts (max, logsum)[P] and w[P], P = N*D.
 */
enum { RED_NONE, RED_SUM, RED_MEAN };

typedef struct sce_state {
    int reduction;
    int has_ignore;
    int64_t ignore_index;
} sce_state;

static foil_status sce_init(FoilNode *n)
{
    const char *red = foilAttrString(n, "reduction", "mean");
    int r;
    if (strcmp(red, "none") == 0) r = RED_NONE;
    else if (strcmp(red, "sum") == 0) r = RED_SUM;
    else if (strcmp(red, "mean") == 0) r = RED_MEAN;
    else return foilNodeInitError(n, FOIL_ERR_FORMAT, "reduction '%s' is not one of none, sum, mean", red);
    sce_state *st = calloc(1, sizeof *st);
    if (!st) return foilNodeInitError(n, FOIL_ERR_NOMEM, "out of memory");
    st->reduction = r;
    const FoilAttr *ii = foilAttrGet(n, "ignore_index");
    if (ii) {
        if (ii->type != FOIL_ATTR_INT) {
            free(st);
            return foilNodeInitError(n, FOIL_ERR_FORMAT, "attribute 'ignore_index' must be an int");
        }
        st->has_ignore = 1;
        st->ignore_index = ii->i;
    }
    n->state = st;
    return FOIL_OK;
}

typedef struct sce_dims {
    int64_t n, c, d, p; /* batch, classes, positions per example, n*d */
} sce_dims;

static sce_dims sce_get_dims(const foil_tensor *x)
{
    sce_dims s = {x->shape[0], x->shape[1], 1, 0};
    for (int i = 2; i < x->ndim; i++) s.d *= x->shape[i];
    s.p = s.n * s.d;
    return s;
}

static const foil_tensor *sce_weights(const FoilOpCtx *c) { return c->n_in > 2 ? c->in[2] : NULL; }
static foil_tensor *sce_logprob(const FoilOpCtx *c) { return c->n_out > 1 ? c->out[1] : NULL; }

static foil_status sce_infer(FoilOpCtx *c)
{
    const sce_state *st = c->node->state;
    if (c->n_in < 2 || c->n_in > 3 || !c->in[0] || !c->in[1])
        return foilNodeError(c, FOIL_ERR_FORMAT, "needs inputs scores, labels and optionally weights");
    if (c->n_out < 1 || c->n_out > 2 || !c->out[0])
        return foilNodeError(c, FOIL_ERR_FORMAT, "needs output loss and optionally log_prob");
    const foil_tensor *x = c->in[0], *lab = c->in[1], *w = sce_weights(c);
    char s1[96], s2[96];
    if (x->dtype != FOIL_F32)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "scores of type %s are not supported (float32 only)",
                               foil_dtype_name(x->dtype));
    if (lab->dtype != FOIL_I64 && lab->dtype != FOIL_I32)
        return foilNodeError(c, FOIL_ERR_FORMAT, "labels must be int64 or int32, not %s", foil_dtype_name(lab->dtype));
    if (x->ndim < 2) return foilNodeError(c, FOIL_ERR_SHAPE, "scores must be (N, C, ...), got rank %d", x->ndim);
    int ok = lab->ndim == x->ndim - 1 && lab->shape[0] == x->shape[0];
    for (int i = 1; ok && i < lab->ndim; i++) ok = lab->shape[i] == x->shape[i + 1];
    if (!ok)
        return foilNodeError(c, FOIL_ERR_SHAPE, "labels %s do not match scores %s (want N, d1..dk)",
                               foil_shape_str(lab, s1, sizeof s1), foil_shape_str(x, s2, sizeof s2));
    if (w && (w->dtype != FOIL_F32 || w->ndim != 1 || w->shape[0] != x->shape[1]))
        return foilNodeError(c, FOIL_ERR_SHAPE, "weights must be float32 of shape (%lld), got %s %s",
                               (long long)x->shape[1], foil_dtype_name(w->dtype), foil_shape_str(w, s1, sizeof s1));
    foil_status e = st->reduction == RED_NONE ? foil_tensor_set_shape(c->out[0], FOIL_F32, lab->ndim, lab->shape)
                                              : foil_tensor_set_shape(c->out[0], FOIL_F32, 0, NULL);
    if (!e && sce_logprob(c)) e = foil_tensor_set_shape(c->out[1], FOIL_F32, x->ndim, x->shape);
    if (e) return foilNodeError(c, FOIL_ERR_SHAPE, "%s", foil_last_error());
    sce_dims s = sce_get_dims(x);
    c->work_bytes = 64 + (size_t)s.p * (sizeof(lse_parts) + sizeof(float));
    return FOIL_OK;
}

static inline int64_t sce_label(const foil_tensor *lab, int64_t p)
{
    return lab->dtype == FOIL_I64 ? ((const int64_t *)lab->data)[p] : (int64_t)((const int32_t *)lab->data)[p];
}

/* Every label not ignored names a class. */
static foil_status sce_check_labels(const FoilOpCtx *c, const sce_state *st, const foil_tensor *lab, sce_dims s)
{
    for (int64_t p = 0; p < s.p; p++) {
        int64_t l = sce_label(lab, p);
        if (st->has_ignore && l == st->ignore_index) continue;
        if (l < 0 || l >= s.c)
            return foilNodeError(c, FOIL_ERR_ARG, "label %lld at position %lld is outside [0, %lld)", (long long)l,
                                 (long long)p, (long long)s.c);
    }
    return FOIL_OK;
}

static foil_status sce_forward(FoilOpCtx *c)
{
    const sce_state *st = c->node->state;
    const foil_tensor *xt = c->in[0], *lab = c->in[1], *wt = sce_weights(c);
    foil_tensor *lpt = sce_logprob(c);
    const sce_dims s = sce_get_dims(xt);
    double *wsum_slot = c->work;
    lse_parts *lse = (lse_parts *)((char *)c->work + 64);
    float *wp = (float *)(lse + s.p);
    /* Validate labels first: forward must not fail half-way in a parallel loop. */
    foil_status bad = sce_check_labels(c, st, lab, s);
    if (bad) return bad;
    const float *x = foil_f32(xt), *w_in = wt ? foil_f32(wt) : NULL;
    float *lp = lpt ? foil_f32(lpt) : NULL, *loss = foil_f32(c->out[0]);
    const int red = st->reduction;
    double lsum = 0, wsum = 0;
    /* tasks: (example nn, block of up to LSE_BLOCK adjacent positions d) */
    const int64_t blocks = (s.d + LSE_BLOCK - 1) / LSE_BLOCK, tasks = s.n * blocks;
#pragma omp parallel for if (xt->numel >= SOFTMAX_PAR_MIN && tasks > 1) schedule(static) reduction(+ : lsum, wsum)
    for (int64_t t = 0; t < tasks; t++) {
        const int64_t nn = t / blocks, d0 = (t - nn * blocks) * LSE_BLOCK;
        const int64_t w = s.d - d0 < LSE_BLOCK ? s.d - d0 : LSE_BLOCK;
        const int64_t base = nn * s.c * s.d + d0, p0 = nn * s.d + d0;
        lse_parts *L = lse + p0;
        softmax_core(x + base, s.c, s.d, w, NULL, L);
        if (lp)
            for (int64_t k = 0; k < s.c; k++) {
                const float *xk = x + base + k * s.d;
                float *lk = lp + base + k * s.d;
                for (int64_t j = 0; j < w; j++) lk[j] = (xk[j] - L[j].max) - L[j].logsum;
            }
        for (int64_t j = 0; j < w; j++) {
            const int64_t l = sce_label(lab, p0 + j);
            float wl = 0, lossp = 0;
            if (!(st->has_ignore && l == st->ignore_index)) {
                wl = w_in ? w_in[l] : 1.0f;
                lossp = wl * (L[j].logsum - (x[base + l * s.d + j] - L[j].max));
            }
            wp[p0 + j] = wl;
            if (red == RED_NONE) loss[p0 + j] = lossp;
            lsum += lossp;
            wsum += wl;
        }
    }
    *wsum_slot = wsum;
    if (red == RED_SUM) loss[0] = (float)lsum;
    else if (red == RED_MEAN) loss[0] = (float)(lsum / wsum);
    return FOIL_OK;
}

/*
 * In the forward pass this was loss_p = w_p (lse_p - x_{p,l_p}) and
 * log_prob_{p,k} = x_{p,k} - lse_p, with d lse_p / d x_{p,k} = softmax_{p,k}.
 * So with g_p = dloss_p (none), dloss (sum) or dloss / sum(w) (mean):
 *     dx_{p,k} += g_p w_p (softmax_{p,k} - [k == l_p])
 *              + dlogprob_{p,k} - softmax_{p,k} sum_j dlogprob_{p,j}
 * softmax is recomputed from the saved lse parts: exp((x - max) - logsum).
 */
static void sce_backward(FoilOpCtx *c)
{
    const sce_state *st = c->node->state;
    if (!c->d_in[0]) return;
    const foil_tensor *xt = c->in[0], *lab = c->in[1];
    const sce_dims s = sce_get_dims(xt);
    const float *dl = c->d_out[0] ? foil_f32(c->d_out[0]) : NULL;
    const float *dlp = (c->n_out > 1 && c->d_out[1] && c->out[1]) ? foil_f32(c->d_out[1]) : NULL;
    if (!dl && !dlp) return;
    const double wsum = *(const double *)c->work;
    const lse_parts *lse = (const lse_parts *)((const char *)c->work + 64);
    const float *wp = (const float *)(lse + s.p);
    const float *x = foil_f32(xt);
    float *dx = foil_f32(c->d_in[0]);
    const int red = st->reduction;
    float gscalar = 0;
    if (dl && red == RED_SUM) gscalar = dl[0];
    if (dl && red == RED_MEAN) gscalar = wsum != 0 ? (float)(dl[0] / wsum) : 0.0f;
#pragma omp parallel for if (xt->numel >= SOFTMAX_PAR_MIN && s.p > 1) schedule(static)
    for (int64_t p = 0; p < s.p; p++) {
        const int64_t nn = p / s.d, d = p - nn * s.d, base = nn * s.c * s.d + d;
        const float g = dl ? (red == RED_NONE ? dl[p] : gscalar) * wp[p] : 0.0f;
        float lps = 0;
        if (dlp)
            for (int64_t k = 0; k < s.c; k++) lps += dlp[base + k * s.d];
        if (g == 0.0f && !dlp) continue;
        for (int64_t k = 0; k < s.c; k++) {
            const int64_t i = base + k * s.d;
            const float sm = foilExpf((x[i] - lse[p].max) - lse[p].logsum);
            float v = g * sm;
            if (dlp) v += dlp[i] - sm * lps;
            dx[i] += v;
        }
        if (g != 0.0f) dx[base + sce_label(lab, p) * s.d] -= g;
    }
}

const FoilOp foilOpSoftmaxCrossEntropyLoss = {
    .type = "SoftmaxCrossEntropyLoss",
    .grad_inputs = 0x1,
    .init = sce_init,
    .infer = sce_infer,
    .forward = sce_forward,
    .backward = sce_backward,
};

/* ------------------------------------------------------------------------- */
/* NegativeLogLikelihoodLoss (opset 12, 13): SoftmaxCrossEntropyLoss's
 * inputs, attributes, checks and reductions, on log-probabilities:
 *     loss_p = -w_p input[n, labels_p, d]
 * with w_p as there (0 where labels_p == ignore_index, whose label need not
 * be a class). One output. Gradient: d input[n, labels_p, d] -= g_p w_p, with
 * g_p as in sce_backward. Workspace: the sum of the weights (double). */

static foil_status nll_infer(FoilOpCtx *c)
{
    if (c->n_out != 1) return foilNodeError(c, FOIL_ERR_FORMAT, "has one output (loss), not %d", c->n_out);
    foil_status e = sce_infer(c);
    c->work_bytes = sizeof(double);
    return e;
}

static inline float nll_weight(const sce_state *st, const float *w_in, int64_t l)
{
    return st->has_ignore && l == st->ignore_index ? 0.0f : w_in ? w_in[l] : 1.0f;
}

static foil_status nll_forward(FoilOpCtx *c)
{
    const sce_state *st = c->node->state;
    const foil_tensor *xt = c->in[0], *lab = c->in[1], *wt = sce_weights(c);
    const sce_dims s = sce_get_dims(xt);
    foil_status bad = sce_check_labels(c, st, lab, s);
    if (bad) return bad;
    const float *x = foil_f32(xt), *w_in = wt ? foil_f32(wt) : NULL;
    float *loss = foil_f32(c->out[0]);
    double lsum = 0, wsum = 0;
    for (int64_t p = 0; p < s.p; p++) {
        const int64_t nn = p / s.d, d = p - nn * s.d, l = sce_label(lab, p);
        const float wl = nll_weight(st, w_in, l);
        const float lossp = wl != 0.0f ? -wl * x[(nn * s.c + l) * s.d + d] : 0.0f;
        if (st->reduction == RED_NONE) loss[p] = lossp;
        lsum += lossp;
        wsum += wl;
    }
    *(double *)c->work = wsum;
    if (st->reduction == RED_SUM) loss[0] = (float)lsum;
    else if (st->reduction == RED_MEAN) loss[0] = (float)(lsum / wsum);
    return FOIL_OK;
}

/* In the forward pass loss_p = -w_p x[n, l_p, d]: the one input element each
 * position read gets -w_p times that position's share of the output gradient. */
static void nll_backward(FoilOpCtx *c)
{
    const sce_state *st = c->node->state;
    if (!c->d_in[0] || !c->d_out[0]) return;
    const foil_tensor *xt = c->in[0], *lab = c->in[1], *wt = sce_weights(c);
    const sce_dims s = sce_get_dims(xt);
    const float *dl = foil_f32(c->d_out[0]), *w_in = wt ? foil_f32(wt) : NULL;
    const double wsum = *(const double *)c->work;
    float *dx = foil_f32(c->d_in[0]);
    const int red = st->reduction;
    const float gs = red == RED_SUM ? dl[0] : red == RED_MEAN && wsum != 0 ? (float)(dl[0] / wsum) : 0.0f;
    for (int64_t p = 0; p < s.p; p++) {
        const int64_t nn = p / s.d, d = p - nn * s.d, l = sce_label(lab, p);
        const float wl = nll_weight(st, w_in, l);
        if (wl != 0.0f) dx[(nn * s.c + l) * s.d + d] -= (red == RED_NONE ? dl[p] : gs) * wl;
    }
}

const FoilOp foilOpNegativeLogLikelihoodLoss = {
    .type = "NegativeLogLikelihoodLoss",
    .grad_inputs = 0x1,
    .init = sce_init,
    .infer = nll_infer,
    .forward = nll_forward,
    .backward = nll_backward,
};
