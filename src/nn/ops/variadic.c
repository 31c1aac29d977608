/*
 * nn/ops/variadic.c - Max, Min, Sum, Mean: elementwise over any number of
 * inputs (at least one), broadcast together multidirectionally (numpy).
 *
 * Dtypes: every input has the output's type. Max and Min take float32,
 * float64 and the signed and unsigned 8/16/32/64-bit integers; Sum and Mean
 * take float32 and float64. NaN propagates through Max and Min (numpy's
 * maximum/minimum). Gradients (float32), summed over each input's broadcast
 * dimensions:
 *   Sum   d x_k += dy
 *   Mean  d x_k += dy / n                  (n inputs)
 *   Max, Min  d x_k += dy / t where x_k equals y (t inputs tie there; PyTorch's
 *         maximum/minimum share a tie the same way), 0 elsewhere
 *
 * The forward folds the inputs into the output one at a time: y = x_0, then
 * y = f(y, x_k), each a broadcast row walk (broadcast.h) over y's shape.
 */
#include <stdlib.h>
#include <string.h>

#include "nn/op.h"
#include "nn/ops/broadcast.h"

enum { V_MAX, V_MIN, V_SUM, V_MEAN };

typedef struct var_state {
    int kind;
} var_state;

static foil_status var_init_kind(FoilNode *n, int kind)
{
    var_state *st = calloc(1, sizeof *st);
    if (!st) return foilNodeInitError(n, FOIL_ERR_NOMEM, "out of memory");
    st->kind = kind;
    n->state = st;
    return FOIL_OK;
}
static foil_status max_init(FoilNode *n) { return var_init_kind(n, V_MAX); }
static foil_status min_init(FoilNode *n) { return var_init_kind(n, V_MIN); }
static foil_status sum_init(FoilNode *n) { return var_init_kind(n, V_SUM); }
static foil_status mean_init(FoilNode *n) { return var_init_kind(n, V_MEAN); }

static int var_dtype_ok(foil_dtype dt, int kind)
{
    switch (dt) {
    case FOIL_F32: case FOIL_F64: return 1;
    case FOIL_I8: case FOIL_U8: case FOIL_I16: case FOIL_U16:
    case FOIL_I32: case FOIL_U32: case FOIL_I64: case FOIL_U64: return kind == V_MAX || kind == V_MIN;
    default: return 0;
    }
}

static foil_status var_infer(FoilOpCtx *c)
{
    const var_state *st = c->node->state;
    if (c->n_in < 1) return foilNodeError(c, FOIL_ERR_FORMAT, "needs at least one input");
    if (c->n_out < 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs an output");
    for (int k = 0; k < c->n_in; k++)
        if (!c->in[k]) return foilNodeError(c, FOIL_ERR_FORMAT, "input %d is absent", k);
    const foil_dtype dt = c->in[0]->dtype;
    if (!var_dtype_ok(dt, st->kind))
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "type %s is not supported (%s)", foil_dtype_name(dt),
                             st->kind == V_MAX || st->kind == V_MIN ? "float32, float64, 8- to 64-bit integers"
                                                                    : "float32, float64");
    for (int k = 1; k < c->n_in; k++)
        if (c->in[k]->dtype != dt)
            return foilNodeError(c, FOIL_ERR_FORMAT, "input %d is %s, input 0 %s", k, foil_dtype_name(c->in[k]->dtype),
                                 foil_dtype_name(dt));
    foil_status s = foilBcastInferOut(c, c->n_in, dt);
    if (s) return s;
    /* backward: the per-output term of one input, and Max/Min's tie counts */
    const size_t n = (size_t)c->out[0]->numel;
    c->work_bytes = dt != FOIL_F32 || st->kind == V_SUM ? 0 : n * sizeof(float) * (st->kind == V_MEAN ? 1 : 2);
    return FOIL_OK;
}

static void var_plan(const FoilOpCtx *c, int k, FoilBcast *bc)
{
    const int nd[1] = {c->in[k]->ndim};
    const int64_t *shapes[1] = {c->in[k]->shape};
    foilBcastPlan(bc, c->out[0]->ndim, c->out[0]->shape, 1, nd, shapes);
}

static inline int is_nan(double v) { return v != v; }

/* y = x_k (first) or y = EXPR(a = y, b = x_k) along input k's broadcast. */
#define VAR_FOLD(T, EXPR)                                                                          \
    do {                                                                                           \
        const T *X = c->in[k]->data;                                                               \
        T *Y = c->out[0]->data;                                                                    \
        _Pragma("omp parallel for if (bc.numel >= FOIL_PAR_MIN && bc.rows > 1) schedule(static)")  \
        for (int64_t row = 0; row < bc.rows; row++) {                                              \
            const T *x = X + foilBcastRowOffset(&bc, 0, row);                                      \
            T *y = Y + row * bc.inner;                                                             \
            if (k == 0)                                                                            \
                for (int64_t j = 0; j < bc.inner; j++) y[j] = x[j * sx];                           \
            else                                                                                   \
                for (int64_t j = 0; j < bc.inner; j++) {                                           \
                    const T a = y[j], b = x[j * sx];                                               \
                    y[j] = (EXPR);                                                                 \
                }                                                                                  \
        }                                                                                          \
    } while (0)

#define VAR_TYPED(T)                                                                               \
    do {                                                                                           \
        switch (kind) {                                                                            \
        case V_MAX: VAR_FOLD(T, b > a || is_nan((double)b) ? b : a); break;                        \
        case V_MIN: VAR_FOLD(T, b < a || is_nan((double)b) ? b : a); break;                        \
        default: VAR_FOLD(T, a + b); break;                                                        \
        }                                                                                          \
    } while (0)

static foil_status var_forward(FoilOpCtx *c)
{
    const int kind = ((const var_state *)c->node->state)->kind;
    const foil_tensor *yt = c->out[0];
    if (yt->numel == 0) return FOIL_OK;
    for (int k = 0; k < c->n_in; k++) {
        FoilBcast bc;
        var_plan(c, k, &bc);
        const int64_t sx = bc.s[0][bc.ndim - 1];
        switch (yt->dtype) {
        case FOIL_F32: VAR_TYPED(float); break;
        case FOIL_F64: VAR_TYPED(double); break;
        case FOIL_I8: VAR_TYPED(int8_t); break;
        case FOIL_U8: VAR_TYPED(uint8_t); break;
        case FOIL_I16: VAR_TYPED(int16_t); break;
        case FOIL_U16: VAR_TYPED(uint16_t); break;
        case FOIL_I32: VAR_TYPED(int32_t); break;
        case FOIL_U32: VAR_TYPED(uint32_t); break;
        case FOIL_I64: VAR_TYPED(int64_t); break;
        default: VAR_TYPED(uint64_t); break;
        }
    }
    if (kind == V_MEAN) {
        const int64_t n = yt->numel;
        if (yt->dtype == FOIL_F32) {
            float *y = foil_f32(yt);
            const float inv = 1.0f / (float)c->n_in;
            for (int64_t i = 0; i < n; i++) y[i] *= inv;
        } else {
            double *y = yt->data;
            for (int64_t i = 0; i < n; i++) y[i] /= (double)c->n_in;
        }
    }
    return FOIL_OK;
}

/* t[i] = OP(x_k at output i's broadcast position, i), over y's rows. */
#define VAR_TERM(EXPR)                                                                             \
    do {                                                                                           \
        FoilBcast bc;                                                                              \
        var_plan(c, k, &bc);                                                                       \
        const int64_t sx = bc.s[0][bc.ndim - 1];                                                   \
        _Pragma("omp parallel for if (bc.numel >= FOIL_PAR_MIN && bc.rows > 1) schedule(static)")  \
        for (int64_t row = 0; row < bc.rows; row++) {                                              \
            const float *x = foil_f32(c->in[k]) + foilBcastRowOffset(&bc, 0, row);                 \
            const int64_t o = row * bc.inner;                                                      \
            for (int64_t j = 0; j < bc.inner; j++) {                                               \
                const float v = x[j * sx];                                                         \
                EXPR;                                                                              \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* In the forward pass y = f(x_0, ..., x_{n-1}) elementwise, each x_k read at
 * its broadcast position: dy/dx_k is 1 (Sum), 1/n (Mean), or for Max/Min the
 * indicator that x_k is the extreme, shared by the t inputs equal to it. Each
 * input's per-output terms are summed back over its broadcast dimensions. */
static void var_backward(FoilOpCtx *c)
{
    const int kind = ((const var_state *)c->node->state)->kind;
    const foil_tensor *yt = c->out[0];
    if (yt->dtype != FOIL_F32 || !c->d_out[0] || yt->numel == 0) return;
    const float *g = foil_f32(c->d_out[0]), *y = foil_f32(yt);
    const int64_t n = yt->numel;
    float *term = c->work, *ties = term ? term + n : NULL;
    if (kind == V_MEAN) {
        const float inv = 1.0f / (float)c->n_in;
        for (int64_t i = 0; i < n; i++) term[i] = g[i] * inv;
    } else if (kind != V_SUM) {
        for (int64_t i = 0; i < n; i++) ties[i] = 0.0f;
        for (int k = 0; k < c->n_in; k++) VAR_TERM(ties[o + j] += v == y[o + j] ? 1.0f : 0.0f);
    }
    for (int k = 0; k < c->n_in; k++) {
        if (!c->d_in[k]) continue;
        const float *src = kind == V_SUM ? g : term;
        if (kind == V_MAX || kind == V_MIN) VAR_TERM(term[o + j] = v == y[o + j] ? g[o + j] / ties[o + j] : 0.0f);
        foilBcastSumInto(foil_f32(c->d_in[k]), c->in[k]->ndim, c->in[k]->shape, src, yt->ndim, yt->shape);
    }
}

#define VARIADIC_OP(NAME, init_fn)  \
    const FoilOp foilOp##NAME = {   \
        .type = #NAME,              \
        .grad_inputs = 0xffffffffu, \
        .init = init_fn,            \
        .infer = var_infer,         \
        .forward = var_forward,     \
        .backward = var_backward,   \
    };
VARIADIC_OP(Max, max_init)
VARIADIC_OP(Min, min_init)
VARIADIC_OP(Sum, sum_init)
VARIADIC_OP(Mean, mean_init)
