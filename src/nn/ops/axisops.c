/*
 * nn/ops/axisops.c - ops that work along one axis or on blocks of the last
 * ones: Trilu, CumSum, Hardmax, DepthToSpace, SpaceToDepth.
 *
 *   Trilu    X (..., N, M), optional k (int64 scalar, default 0), upper
 *            (default 1): keeps X[i, j] where j - i >= k (upper) or j - i <= k
 *            (lower), zeros elsewhere. Any dtype (elements moved by size).
 *            Gradient (float32): the same mask on dY.
 *   CumSum   X, axis (int32/int64 scalar), exclusive, reverse (default 0):
 *            running sums along axis. float32, float64, int32, int64, uint32,
 *            uint64. Gradient (float32): the cumulative sum of dY the other
 *            way (reverse flipped, exclusive kept).
 *   Hardmax  1 at the first maximum along axis (default -1; before opset 13
 *            X is coerced to 2-D at axis, default 1), 0 elsewhere. float32.
 *            No gradient (zero almost everywhere).
 *   DepthToSpace (N, C, H, W) -> (N, C/b^2, H b, W b), blocksize b, mode
 *            DCR (default: channel (i b + j) C' + c) or CRD (c b^2 + i b + j);
 *   SpaceToDepth the inverse of DCR. Any dtype; the gradient (float32) moves
 *            dY back along the same bijection.
 * Trilu's k and CumSum's axis are read when the op runs (they do not change
 * the output's shape), so they may be graph inputs.
 */
#include <stdlib.h>
#include <string.h>

#include "nn/op.h"

static foil_status need_io(FoilOpCtx *c, int min_in, int max_in)
{
    if (c->n_in < min_in || c->n_in > max_in || !c->in[0])
        return foilNodeError(c, FOIL_ERR_FORMAT, "needs %d to %d inputs, got %d", min_in, max_in, c->n_in);
    if (c->n_out < 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs an output");
    c->work_bytes = 0;
    return FOIL_OK;
}

static foil_status same_shape_out(FoilOpCtx *c)
{
    const foil_tensor *x = c->in[0];
    if (foil_tensor_set_shape(c->out[0], x->dtype, x->ndim, x->shape))
        return foilNodeError(c, FOIL_ERR_SHAPE, "%s", foil_last_error());
    return FOIL_OK;
}

/* An optional integer scalar input i (int32 or int64; one element), or def;
 * its value is read only when `read` (not at infer, where it may be unknown). */
static foil_status int_scalar(const FoilOpCtx *c, int i, const char *what, int64_t def, int64_t *v, int read)
{
    const foil_tensor *t = c->n_in > i ? c->in[i] : NULL;
    *v = def;
    if (!t) return FOIL_OK;
    if ((t->dtype != FOIL_I64 && t->dtype != FOIL_I32) || t->numel != 1 || t->ndim > 1)
        return foilNodeError(c, FOIL_ERR_FORMAT, "input '%s' must be one int64 or int32 value", what);
    if (!read) return FOIL_OK;
    *v = t->dtype == FOIL_I64 ? ((const int64_t *)t->data)[0] : ((const int32_t *)t->data)[0];
    return FOIL_OK;
}

/* ------------------------------------------------------------------------- */
/* Trilu                                                                      */

static foil_status trilu_infer(FoilOpCtx *c)
{
    foil_status s = need_io(c, 1, 2);
    if (s) return s;
    if (c->in[0]->ndim < 2) return foilNodeError(c, FOIL_ERR_SHAPE, "input must have rank >= 2, got %d", c->in[0]->ndim);
    size_t es = foil_dtype_size(c->in[0]->dtype);
    if (es != 1 && es != 2 && es != 4 && es != 8)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "type %s is not supported", foil_dtype_name(c->in[0]->dtype));
    int64_t k;
    if ((s = int_scalar(c, 1, "k", 0, &k, 0))) return s;
    return same_shape_out(c);
}

/* Whether element (i, j) of a matrix is kept. */
static inline int trilu_keep(int upper, int64_t k, int64_t i, int64_t j) { return upper ? j - i >= k : j - i <= k; }

static foil_status trilu_forward(FoilOpCtx *c)
{
    int64_t k;
    foil_status s = int_scalar(c, 1, "k", 0, &k, 1);
    if (s) return s;
    const int upper = foilAttrInt(c->node, "upper", 1) != 0;
    const foil_tensor *x = c->in[0];
    const int64_t N = x->shape[x->ndim - 2], M = x->shape[x->ndim - 1];
    const size_t es = foil_dtype_size(x->dtype);
    const char *src = x->data;
    char *dst = c->out[0]->data;
    const int64_t rows = N && M ? x->numel / M : 0; /* an empty matrix: nothing to copy */
    for (int64_t r = 0; r < rows; r++) {
        const int64_t i = r % N;
        for (int64_t j = 0; j < M; j++) {
            const size_t off = (size_t)(r * M + j) * es;
            if (trilu_keep(upper, k, i, j)) memcpy(dst + off, src + off, es);
            else memset(dst + off, 0, es);
        }
    }
    return FOIL_OK;
}

/* In the forward pass Y = X on the kept triangle, 0 elsewhere. */
static void trilu_backward(FoilOpCtx *c)
{
    if (!c->d_in[0] || !c->d_out[0] || c->in[0]->dtype != FOIL_F32) return;
    int64_t k;
    if (int_scalar(c, 1, "k", 0, &k, 1)) return;
    const int upper = foilAttrInt(c->node, "upper", 1) != 0;
    const foil_tensor *x = c->in[0];
    const int64_t N = x->shape[x->ndim - 2], M = x->shape[x->ndim - 1];
    const int64_t rows = N && M ? x->numel / M : 0; /* an empty matrix: nothing to copy */
    const float *g = foil_f32(c->d_out[0]);
    float *dx = foil_f32(c->d_in[0]);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < M; j++)
            if (trilu_keep(upper, k, r % N, j)) dx[r * M + j] += g[r * M + j];
}

static foil_status trilu_init(FoilNode *n)
{
    const FoilAttr *a = foilAttrGet(n, "upper");
    if (a && a->type != FOIL_ATTR_INT) return foilNodeInitError(n, FOIL_ERR_FORMAT, "attribute 'upper' must be an int");
    return FOIL_OK;
}

const FoilOp foilOpTrilu = {
    .type = "Trilu", .grad_inputs = 1u,
    .init = trilu_init, .infer = trilu_infer, .forward = trilu_forward, .backward = trilu_backward,
};

/* ------------------------------------------------------------------------- */
/* CumSum: X as (outer, n, inner) around axis.                                */

static foil_status cumsum_axis(const FoilOpCtx *c, int *axis)
{
    int64_t a;
    foil_status s = int_scalar(c, 1, "axis", 0, &a, 1);
    if (s) return s;
    *axis = foilNormAxis(a, c->in[0]->ndim);
    if (*axis < 0)
        return foilNodeError(c, FOIL_ERR_FORMAT, "axis %lld is out of range for rank %d", (long long)a, c->in[0]->ndim);
    return FOIL_OK;
}

static foil_status cumsum_infer(FoilOpCtx *c)
{
    foil_status s = need_io(c, 2, 2);
    if (s) return s;
    if (!c->in[1]) return foilNodeError(c, FOIL_ERR_FORMAT, "input 'axis' is missing");
    switch (c->in[0]->dtype) {
    case FOIL_F32: case FOIL_F64: case FOIL_I32: case FOIL_I64: case FOIL_U32: case FOIL_U64: break;
    default:
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "type %s is not supported (float32, float64, int32, int64, "
                             "uint32, uint64)", foil_dtype_name(c->in[0]->dtype));
    }
    if (c->in[0]->ndim < 1) return foilNodeError(c, FOIL_ERR_SHAPE, "input must have rank >= 1");
    int64_t a;
    if ((s = int_scalar(c, 1, "axis", 0, &a, 0))) return s;
    return same_shape_out(c);
}

/* y[k] = sum of x[k'] for k' before k (exclusive) or up to k, along the
 * axis, from its end when reverse. Unsigned arithmetic wraps. */
#define CUMSUM(T, X, Y)                                                                       \
    do {                                                                                      \
        for (int64_t o = 0; o < outer; o++)                                                   \
            for (int64_t j = 0; j < inner; j++) {                                             \
                T acc = 0;                                                                    \
                for (int64_t q = 0; q < n; q++) {                                             \
                    const int64_t kk = rev ? n - 1 - q : q, at = (o * n + kk) * inner + j;    \
                    const T v = (X)[at];                                                      \
                    if (excl) {                                                               \
                        (Y)[at] = acc;                                                        \
                        acc += v;                                                             \
                    } else {                                                                  \
                        acc += v;                                                             \
                        (Y)[at] = acc;                                                        \
                    }                                                                         \
                }                                                                             \
            }                                                                                 \
    } while (0)

static void cumsum_dims(const foil_tensor *x, int axis, int64_t *outer, int64_t *n, int64_t *inner)
{
    *outer = *inner = 1;
    for (int d = 0; d < axis; d++) *outer *= x->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) *inner *= x->shape[d];
    *n = x->shape[axis];
}

static foil_status cumsum_forward(FoilOpCtx *c)
{
    int axis;
    foil_status s = cumsum_axis(c, &axis);
    if (s) return s;
    const int excl = foilAttrInt(c->node, "exclusive", 0) != 0, rev = foilAttrInt(c->node, "reverse", 0) != 0;
    int64_t outer, n, inner;
    cumsum_dims(c->in[0], axis, &outer, &n, &inner);
    void *xp = c->in[0]->data, *yp = c->out[0]->data;
    switch (c->in[0]->dtype) {
    case FOIL_F32: CUMSUM(float, (const float *)xp, (float *)yp); break;
    case FOIL_F64: CUMSUM(double, (const double *)xp, (double *)yp); break;
    case FOIL_I32: CUMSUM(uint32_t, (const uint32_t *)xp, (uint32_t *)yp); break;
    case FOIL_U32: CUMSUM(uint32_t, (const uint32_t *)xp, (uint32_t *)yp); break;
    default: CUMSUM(uint64_t, (const uint64_t *)xp, (uint64_t *)yp); break; /* int64, uint64 */
    }
    return FOIL_OK;
}

/* In the forward pass y[k] summed x[k'] over k' <= k (< k when exclusive)
 * in the scan's direction, so dx[k'] sums dy[k] over those k >= k' (> k'):
 * the same scan of dy the other way. */
static void cumsum_backward(FoilOpCtx *c)
{
    if (!c->d_in[0] || !c->d_out[0] || c->in[0]->dtype != FOIL_F32) return;
    int axis;
    if (cumsum_axis(c, &axis)) return;
    const int excl = foilAttrInt(c->node, "exclusive", 0) != 0, rev = foilAttrInt(c->node, "reverse", 0) == 0;
    int64_t outer, n, inner;
    cumsum_dims(c->in[0], axis, &outer, &n, &inner);
    const float *g = foil_f32(c->d_out[0]);
    float *dx = foil_f32(c->d_in[0]);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            float acc = 0;
            for (int64_t q = 0; q < n; q++) {
                const int64_t kk = rev ? n - 1 - q : q, at = (o * n + kk) * inner + j;
                if (excl) {
                    dx[at] += acc;
                    acc += g[at];
                } else {
                    acc += g[at];
                    dx[at] += acc;
                }
            }
        }
}

const FoilOp foilOpCumSum = {
    .type = "CumSum", .grad_inputs = 1u,
    .infer = cumsum_infer, .forward = cumsum_forward, .backward = cumsum_backward,
};

/* ------------------------------------------------------------------------- */
/* Hardmax                                                                    */

/* outer, n, inner of Hardmax's lines; -1 on a bad axis. */
static int hardmax_lines(const FoilOpCtx *c, int64_t *outer, int64_t *n, int64_t *inner)
{
    const foil_tensor *x = c->in[0];
    const int old = c->node->opset < 13;
    const int64_t a = foilAttrInt(c->node, "axis", old ? 1 : -1);
    const int axis = foilNormAxis(a, x->ndim);
    if (axis < 0) return -1;
    *outer = *n = *inner = 1;
    for (int d = 0; d < axis; d++) *outer *= x->shape[d];
    if (old) {
        for (int d = axis; d < x->ndim; d++) *n *= x->shape[d];
    } else {
        *n = x->shape[axis];
        for (int d = axis + 1; d < x->ndim; d++) *inner *= x->shape[d];
    }
    return 0;
}

static foil_status hardmax_infer(FoilOpCtx *c)
{
    foil_status s = need_io(c, 1, 1);
    if (s) return s;
    if (c->in[0]->dtype != FOIL_F32)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "type %s is not supported (float32 only)",
                             foil_dtype_name(c->in[0]->dtype));
    int64_t o, n, i;
    if (c->in[0]->ndim < 1 || hardmax_lines(c, &o, &n, &i))
        return foilNodeError(c, FOIL_ERR_FORMAT, "axis %lld is out of range for rank %d",
                             (long long)foilAttrInt(c->node, "axis", -1), c->in[0]->ndim);
    return same_shape_out(c);
}

static foil_status hardmax_forward(FoilOpCtx *c)
{
    int64_t outer, n, inner;
    hardmax_lines(c, &outer, &n, &inner);
    const float *x = foil_f32(c->in[0]);
    float *y = foil_f32(c->out[0]);
    memset(y, 0, sizeof(float) * (size_t)c->out[0]->numel);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            const float *l = x + o * n * inner + j;
            int64_t at = 0;
            for (int64_t k = 1; k < n; k++)
                if (l[k * inner] > l[at * inner]) at = k;
            if (n) y[(o * n + at) * inner + j] = 1.0f;
        }
    return FOIL_OK;
}

const FoilOp foilOpHardmax = {.type = "Hardmax", .infer = hardmax_infer, .forward = hardmax_forward};

/* ------------------------------------------------------------------------- */
/* DepthToSpace, SpaceToDepth: each element of the spatial tensor (N, C', H b,
 * W b) is one element of the deep tensor (N, C' b^2, H, W).                   */

typedef struct d2s_state {
    int to_space; /* DepthToSpace */
    int crd;      /* mode CRD */
    int64_t b;
} d2s_state;

static foil_status d2s_init_dir(FoilNode *n, int to_space)
{
    const int64_t b = foilAttrInt(n, "blocksize", 0);
    if (b < 1) return foilNodeInitError(n, FOIL_ERR_FORMAT, "attribute 'blocksize' must be >= 1, got %lld", (long long)b);
    const char *mode = foilAttrString(n, "mode", "DCR");
    if (strcmp(mode, "DCR") && !(to_space && strcmp(mode, "CRD") == 0))
        return foilNodeInitError(n, FOIL_ERR_UNSUPPORTED, "mode \"%s\" is not supported (%s)", mode,
                                 to_space ? "DCR or CRD" : "DCR");
    d2s_state *st = calloc(1, sizeof *st);
    if (!st) return foilNodeInitError(n, FOIL_ERR_NOMEM, "out of memory");
    st->to_space = to_space;
    st->crd = strcmp(mode, "CRD") == 0;
    st->b = b;
    n->state = st;
    return FOIL_OK;
}
static foil_status d2s_init(FoilNode *n) { return d2s_init_dir(n, 1); }
static foil_status s2d_init(FoilNode *n) { return d2s_init_dir(n, 0); }

static foil_status d2s_infer(FoilOpCtx *c)
{
    const d2s_state *st = c->node->state;
    foil_status s = need_io(c, 1, 1);
    if (s) return s;
    const foil_tensor *x = c->in[0];
    char sx[96];
    size_t es = foil_dtype_size(x->dtype);
    if (es != 1 && es != 2 && es != 4 && es != 8)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "type %s is not supported", foil_dtype_name(x->dtype));
    const int64_t b = st->b;
    if (x->ndim != 4) return foilNodeError(c, FOIL_ERR_SHAPE, "input must be (N, C, H, W), got %s", foil_shape_str(x, sx, sizeof sx));
    int64_t os[4] = {x->shape[0], 0, 0, 0};
    if (st->to_space) {
        if (x->shape[1] % (b * b))
            return foilNodeError(c, FOIL_ERR_SHAPE, "channels %lld are not a multiple of blocksize^2 = %lld",
                                 (long long)x->shape[1], (long long)(b * b));
        os[1] = x->shape[1] / (b * b), os[2] = x->shape[2] * b, os[3] = x->shape[3] * b;
    } else {
        if (x->shape[2] % b || x->shape[3] % b)
            return foilNodeError(c, FOIL_ERR_SHAPE, "H and W of %s are not multiples of blocksize %lld",
                                 foil_shape_str(x, sx, sizeof sx), (long long)b);
        os[1] = x->shape[1] * b * b, os[2] = x->shape[2] / b, os[3] = x->shape[3] / b;
    }
    if (foil_tensor_set_shape(c->out[0], x->dtype, 4, os)) return foilNodeError(c, FOIL_ERR_SHAPE, "%s", foil_last_error());
    return FOIL_OK;
}

/* Visit every element: s = its offset in the spatial tensor, d in the deep. */
#define D2S_VISIT(BODY)                                                                          \
    do {                                                                                         \
        const foil_tensor *sp_ = st->to_space ? c->out[0] : c->in[0];                            \
        const int64_t N_ = sp_->shape[0], C_ = sp_->shape[1], HB_ = sp_->shape[2], WB_ = sp_->shape[3]; \
        const int64_t b_ = st->b, H_ = HB_ / b_, W_ = WB_ / b_;                                  \
        for (int64_t n_ = 0; n_ < N_; n_++)                                                      \
            for (int64_t c_ = 0; c_ < C_; c_++)                                                  \
                for (int64_t h_ = 0; h_ < HB_; h_++)                                             \
                    for (int64_t w_ = 0; w_ < WB_; w_++) {                                       \
                        const int64_t i_ = h_ % b_, j_ = w_ % b_;                                \
                        const int64_t dc_ = st->crd ? (c_ * b_ + i_) * b_ + j_ : (i_ * b_ + j_) * C_ + c_; \
                        const int64_t s = ((n_ * C_ + c_) * HB_ + h_) * WB_ + w_;                \
                        const int64_t d = ((n_ * C_ * b_ * b_ + dc_) * H_ + h_ / b_) * W_ + w_ / b_; \
                        BODY;                                                                    \
                    }                                                                            \
    } while (0)

static foil_status d2s_forward(FoilOpCtx *c)
{
    const d2s_state *st = c->node->state;
    const size_t es = foil_dtype_size(c->in[0]->dtype);
    const char *x = c->in[0]->data;
    char *y = c->out[0]->data;
    if (st->to_space) D2S_VISIT(memcpy(y + (size_t)s * es, x + (size_t)d * es, es));
    else D2S_VISIT(memcpy(y + (size_t)d * es, x + (size_t)s * es, es));
    return FOIL_OK;
}

/* The forward pass moved each element along a bijection: move dy back. */
static void d2s_backward(FoilOpCtx *c)
{
    const d2s_state *st = c->node->state;
    if (!c->d_in[0] || !c->d_out[0] || c->in[0]->dtype != FOIL_F32) return;
    const float *g = foil_f32(c->d_out[0]);
    float *dx = foil_f32(c->d_in[0]);
    if (st->to_space) D2S_VISIT(dx[d] += g[s]);
    else D2S_VISIT(dx[s] += g[d]);
}

const FoilOp foilOpDepthToSpace = {
    .type = "DepthToSpace", .grad_inputs = 1u,
    .init = d2s_init, .infer = d2s_infer, .forward = d2s_forward, .backward = d2s_backward,
};
const FoilOp foilOpSpaceToDepth = {
    .type = "SpaceToDepth", .grad_inputs = 1u,
    .init = s2d_init, .infer = d2s_infer, .forward = d2s_forward, .backward = d2s_backward,
};
