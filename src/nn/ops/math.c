/*
 * nn/ops/math.c - pointwise math: Sqrt, Exp, Log, Neg, Abs, Reciprocal, Erf,
 * Gelu, HardSigmoid, HardSwish, Elu, Selu, Celu, Softplus, Softsign,
 * ThresholdedRelu, Shrink, the trigonometric and hyperbolic functions,
 * Floor, Ceil, Sign; Pow and PRelu (with broadcasting).
 *
 * Shapes: x any tensor, y the same shape; n = numel. Pow broadcasts X and Y
 * multidirectionally (numpy), the output has X's type.
 *
 * Dtypes: float32 (forward and backward) for all; Neg and Abs also take
 * int8, int32 and int64 (forward only; integer negation wraps). Pow takes X
 * in float32, float64, int32, int64 and Y in those or uint32, uint64 (the
 * ONNX test set's mixtures); it differentiates only float32 X and Y. Integer
 * results of Pow that overflow the type saturate (a model's data must not be
 * able to crash foil).
 *
 *   Sqrt        y = sqrt(x)                    dy/dx = 1 / (2 y)
 *   Exp         y = exp(x)                     dy/dx = y
 *   Log         y = log(x)                     dy/dx = 1 / x
 *   Neg         y = -x                         dy/dx = -1
 *   Abs         y = |x|                        dy/dx = sign(x) (0 at 0)
 *   Reciprocal  y = 1 / x                      dy/dx = -y^2
 *   Erf         y = erf(x)                     dy/dx = 2/sqrt(pi) exp(-x^2)
 *   Gelu        y = x Phi(x) (approximate="none"), or
 *               y = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) ("tanh")
 *   HardSigmoid y = max(0, min(1, alpha x + beta))  (alpha 0.2, beta 0.5)
 *               dy/dx = alpha inside (0, 1), 0 outside
 *   HardSwish   y = x max(0, min(1, x/6 + 1/2))
 *               dy/dx = 0 (x < -3), x/3 + 1/2 (-3 <= x <= 3), 1 (x > 3)
 *   Pow         z = x^y     dz/dx = y x^(y-1) (0 where y = 0),
 *                           dz/dy = z log(x) (0 where x = 0 and y >= 0; NaN
 *                           for x < 0, as PyTorch)
 *
 *   Elu         y = x (x > 0), alpha (e^x - 1)        (alpha 1)
 *   Selu        y = gamma Elu_alpha(x)   (alpha 1.6732632, gamma 1.0507010)
 *   Celu        y = x (x > 0), alpha (e^(x/alpha) - 1)  (alpha 1)
 *   Softplus    y = log(1 + e^x)            dy/dx = sigmoid(x)
 *   Softsign    y = x / (1 + |x|)           dy/dx = 1 / (1 + |x|)^2
 *   ThresholdedRelu  y = x (x > alpha), 0   (alpha 1)
 *   Sin Cos Tan Asin Acos Atan Sinh Cosh Asinh Acosh Atanh: the C library's,
 *               with their derivatives
 *   Shrink      y = x + bias (x < -lambd), x - bias (x > lambd), 0 between
 *               (lambd 0.5, bias 0)        dy/dx = 1 outside, 0 between
 *   Floor, Ceil, Sign (0 at 0, NaN stays NaN): gradient 0
 *
 * Kinks take PyTorch's side (Abs at 0: 0; HardSigmoid/HardSwish: the
 * inside derivative at the boundaries of HardSwish, none at HardSigmoid's).
 * Every unary backward honours d_in_fresh (writes_grads).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/op.h"
#include "nn/ops/broadcast.h"
#include "nn/ops/vmath.h"

enum {
    U_SQRT, U_EXP, U_LOG, U_NEG, U_ABS, U_RECIP, U_ERF, U_GELU, U_HSIG, U_HSWISH,
    U_ELU, U_SELU, U_CELU, U_SOFTPLUS, U_SOFTSIGN, U_THRELU,
    U_SIN, U_COS, U_TAN, U_ASIN, U_ACOS, U_ATAN, U_SINH, U_COSH, U_ASINH, U_ACOSH, U_ATANH,
    U_FLOOR, U_CEIL, U_SIGN, U_SHRINK
};

typedef struct unary_state {
    int kind;
    int tanh_approx; /* Gelu */
    float alpha, beta; /* HardSigmoid; alpha of Elu, Celu, ThresholdedRelu; Selu's alpha, gamma */
} unary_state;

static foil_status unary_init_kind(FoilNode *n, int kind)
{
    unary_state *st = calloc(1, sizeof *st);
    if (!st) return foilNodeInitError(n, FOIL_ERR_NOMEM, "out of memory");
    st->kind = kind;
    if (kind == U_HSIG) {
        st->alpha = foilAttrFloat(n, "alpha", 0.2f);
        st->beta = foilAttrFloat(n, "beta", 0.5f);
    }
    if (kind == U_ELU || kind == U_CELU || kind == U_THRELU) st->alpha = foilAttrFloat(n, "alpha", 1.0f);
    if (kind == U_SELU) {
        st->alpha = foilAttrFloat(n, "alpha", 1.67326319217681884765625f);
        st->beta = foilAttrFloat(n, "gamma", 1.05070102214813232421875f);
    }
    if (kind == U_SHRINK) {
        st->alpha = foilAttrFloat(n, "lambd", 0.5f);
        st->beta = foilAttrFloat(n, "bias", 0.0f);
    }
    if (kind == U_CELU && st->alpha == 0.0f) {
        free(st);
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "alpha must not be 0");
    }
    if (kind == U_GELU) {
        const char *a = foilAttrString(n, "approximate", "none");
        if (strcmp(a, "none") && strcmp(a, "tanh")) {
            free(st);
            return foilNodeInitError(n, FOIL_ERR_UNSUPPORTED, "approximate=\"%s\" is not supported (\"none\" or \"tanh\")",
                                     a);
        }
        st->tanh_approx = strcmp(a, "tanh") == 0;
    }
    n->state = st;
    return FOIL_OK;
}

#define UNARY_INIT(name, kind) \
    static foil_status name##_init(FoilNode *n) { return unary_init_kind(n, kind); }
UNARY_INIT(sqrt, U_SQRT)
UNARY_INIT(exp, U_EXP)
UNARY_INIT(log, U_LOG)
UNARY_INIT(neg, U_NEG)
UNARY_INIT(abs, U_ABS)
UNARY_INIT(recip, U_RECIP)
UNARY_INIT(erf, U_ERF)
UNARY_INIT(gelu, U_GELU)
UNARY_INIT(hsig, U_HSIG)
UNARY_INIT(hswish, U_HSWISH)
UNARY_INIT(elu, U_ELU)
UNARY_INIT(selu, U_SELU)
UNARY_INIT(celu, U_CELU)
UNARY_INIT(softplus, U_SOFTPLUS)
UNARY_INIT(softsign, U_SOFTSIGN)
UNARY_INIT(threlu, U_THRELU)
UNARY_INIT(sin, U_SIN)
UNARY_INIT(cos, U_COS)
UNARY_INIT(tan, U_TAN)
UNARY_INIT(asin, U_ASIN)
UNARY_INIT(acos, U_ACOS)
UNARY_INIT(atan, U_ATAN)
UNARY_INIT(sinh, U_SINH)
UNARY_INIT(cosh, U_COSH)
UNARY_INIT(asinh, U_ASINH)
UNARY_INIT(acosh, U_ACOSH)
UNARY_INIT(atanh, U_ATANH)
UNARY_INIT(floor, U_FLOOR)
UNARY_INIT(ceil, U_CEIL)
UNARY_INIT(sign, U_SIGN)
UNARY_INIT(shrink, U_SHRINK)

static foil_status unary_infer(FoilOpCtx *c)
{
    const unary_state *st = c->node->state;
    if (c->n_in < 1 || !c->in[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs an input");
    if (c->n_out < 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs an output");
    const foil_tensor *x = c->in[0];
    int int_ok = (st->kind == U_NEG || st->kind == U_ABS) &&
                 (x->dtype == FOIL_I8 || x->dtype == FOIL_I32 || x->dtype == FOIL_I64);
    if (x->dtype != FOIL_F32 && !int_ok)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "type %s is not supported (float32%s)", foil_dtype_name(x->dtype),
                             st->kind == U_NEG || st->kind == U_ABS ? ", int8, int32, int64" : " only");
    if (foil_tensor_set_shape(c->out[0], x->dtype, x->ndim, x->shape))
        return foilNodeError(c, FOIL_ERR_SHAPE, "%s", foil_last_error());
    c->work_bytes = 0;
    return FOIL_OK;
}

#define PAR_FOR_N _Pragma("omp parallel for if (n >= FOIL_PAR_MIN) schedule(static)")
#define FWD_LOOP(EXPR)                                  \
    do {                                                \
        PAR_FOR_N                                       \
        for (int64_t i = 0; i < n; i++) {               \
            const float v = x[i];                       \
            y[i] = (EXPR);                              \
        }                                               \
    } while (0)

#define GELU_K 0.7978845608028654f /* sqrt(2 / pi) */
#define GELU_C 0.044715f
#define INV_SQRT2 0.7071067811865476f
#define INV_SQRT2PI 0.3989422804014327f
#define TWO_OVER_SQRTPI 1.1283791670955126f

/* log(1 + e^v) without overflow */
static inline float softplus(float v) { return v > 0.0f ? v + log1pf(expf(-v)) : log1pf(expf(v)); }

static inline float hsig(float v, float a, float b)
{
    float t = a * v + b;
    t = t > 0.0f ? t : 0.0f;
    return t < 1.0f ? t : 1.0f;
}

#define INT_UNARY(T, U)                                                       \
    do {                                                                      \
        const T *xi = c->in[0]->data;                                         \
        T *yi = c->out[0]->data;                                              \
        PAR_FOR_N                                                             \
        for (int64_t i = 0; i < n; i++) {                                     \
            T neg = (T)((U)0 - (U)xi[i]);                                     \
            yi[i] = st->kind == U_NEG ? neg : (xi[i] < 0 ? neg : xi[i]);      \
        }                                                                     \
    } while (0)

static foil_status unary_forward(FoilOpCtx *c)
{
    const unary_state *st = c->node->state;
    const int64_t n = c->in[0]->numel;
    switch (c->in[0]->dtype) {
    case FOIL_I8: INT_UNARY(int8_t, unsigned); return FOIL_OK;
    case FOIL_I32: INT_UNARY(int32_t, uint32_t); return FOIL_OK;
    case FOIL_I64: INT_UNARY(int64_t, uint64_t); return FOIL_OK;
    default: break;
    }
    const float *x = foil_f32(c->in[0]);
    float *y = foil_f32(c->out[0]);
    const float a = st->alpha, b = st->beta;
    switch (st->kind) {
    case U_SQRT: FWD_LOOP(sqrtf(v)); break;
    case U_EXP: FWD_LOOP(foilExpf(v)); break;
    case U_LOG: FWD_LOOP(logf(v)); break;
    case U_NEG: FWD_LOOP(-v); break;
    case U_ABS: FWD_LOOP(fabsf(v)); break;
    case U_RECIP: FWD_LOOP(1.0f / v); break;
    case U_ERF: FWD_LOOP(foilErff(v)); break;
    case U_GELU:
        if (st->tanh_approx)
            FWD_LOOP(0.5f * v * (1.0f + foilTanhf(GELU_K * (v + GELU_C * v * v * v))));
        else
            FWD_LOOP(0.5f * v * (1.0f + foilErff(v * INV_SQRT2)));
        break;
    case U_HSIG: FWD_LOOP(hsig(v, a, b)); break;
    case U_HSWISH: FWD_LOOP(v * hsig(v, 1.0f / 6.0f, 0.5f)); break;
    case U_ELU: FWD_LOOP(v > 0.0f ? v : a * (expf(v) - 1.0f)); break;
    case U_SELU: FWD_LOOP(b * (v > 0.0f ? v : a * (expf(v) - 1.0f))); break;
    case U_CELU: FWD_LOOP(v > 0.0f ? v : a * (expf(v / a) - 1.0f)); break;
    case U_SOFTPLUS: FWD_LOOP(softplus(v)); break;
    case U_SOFTSIGN: FWD_LOOP(v / (1.0f + fabsf(v))); break;
    case U_THRELU: FWD_LOOP(v > a ? v : 0.0f); break;
    case U_SIN: FWD_LOOP(sinf(v)); break;
    case U_COS: FWD_LOOP(cosf(v)); break;
    case U_TAN: FWD_LOOP(tanf(v)); break;
    case U_ASIN: FWD_LOOP(asinf(v)); break;
    case U_ACOS: FWD_LOOP(acosf(v)); break;
    case U_ATAN: FWD_LOOP(atanf(v)); break;
    case U_SINH: FWD_LOOP(sinhf(v)); break;
    case U_COSH: FWD_LOOP(coshf(v)); break;
    case U_ASINH: FWD_LOOP(asinhf(v)); break;
    case U_ACOSH: FWD_LOOP(acoshf(v)); break;
    case U_ATANH: FWD_LOOP(atanhf(v)); break;
    case U_FLOOR: FWD_LOOP(floorf(v)); break;
    case U_CEIL: FWD_LOOP(ceilf(v)); break;
    case U_SHRINK: FWD_LOOP(v < -a ? v + b : v > a ? v - b : 0.0f); break;
    default: FWD_LOOP(v > 0.0f ? 1.0f : v < 0.0f ? -1.0f : v); break; /* Sign: 0 and NaN stay */
    }
    return FOIL_OK;
}

/* dx = or += EXPR, with v = x[i], w = y[i], g = dy[i]. */
#define GRAD_LOOP(EXPR)                                                          \
    do {                                                                         \
        if (fresh) {                                                             \
            PAR_FOR_N                                                            \
            for (int64_t i = 0; i < n; i++) {                                    \
                const float v = x[i], w = y[i], g = dy[i];                       \
                (void)v, (void)w;                                                \
                dx[i] = (EXPR);                                                  \
            }                                                                    \
        } else {                                                                 \
            PAR_FOR_N                                                            \
            for (int64_t i = 0; i < n; i++) {                                    \
                const float v = x[i], w = y[i], g = dy[i];                       \
                (void)v, (void)w;                                                \
                dx[i] += (EXPR);                                                 \
            }                                                                    \
        }                                                                        \
    } while (0)

static inline float gelu_tanh_grad(float v)
{
    const float u = GELU_K * (v + GELU_C * v * v * v), t = foilTanhf(u);
    return 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * GELU_K * (1.0f + 3.0f * GELU_C * v * v);
}

static inline float gelu_erf_grad(float v)
{
    return 0.5f * (1.0f + foilErff(v * INV_SQRT2)) + v * INV_SQRT2PI * foilExpf(-0.5f * v * v);
}

static inline float hswish_grad(float v)
{
    return v < -3.0f ? 0.0f : (v > 3.0f ? 1.0f : v * (1.0f / 3.0f) + 0.5f);
}

static void unary_backward(FoilOpCtx *c)
{
    const unary_state *st = c->node->state;
    if (c->in[0]->dtype != FOIL_F32 || !c->d_in[0] || !c->d_out[0]) return;
    const float *x = foil_f32(c->in[0]), *y = foil_f32(c->out[0]), *dy = foil_f32(c->d_out[0]);
    float *dx = foil_f32(c->d_in[0]);
    const int64_t n = c->in[0]->numel;
    const int fresh = foilGradFresh(c, 0);
    const float a = st->alpha, b = st->beta;
    switch (st->kind) {
    case U_SQRT: GRAD_LOOP(g * 0.5f / w); break;
    case U_EXP: GRAD_LOOP(g * w); break;
    case U_LOG: GRAD_LOOP(g / v); break;
    case U_NEG: GRAD_LOOP(-g); break;
    case U_ABS: GRAD_LOOP(v > 0.0f ? g : (v < 0.0f ? -g : 0.0f)); break;
    case U_RECIP: GRAD_LOOP(-g * w * w); break;
    case U_ERF: GRAD_LOOP(g * TWO_OVER_SQRTPI * foilExpf(-v * v)); break;
    case U_GELU:
        if (st->tanh_approx)
            GRAD_LOOP(g * gelu_tanh_grad(v));
        else
            GRAD_LOOP(g * gelu_erf_grad(v));
        break;
    case U_HSIG: {
        GRAD_LOOP((a * v + b > 0.0f && a * v + b < 1.0f) ? g * a : 0.0f);
        break;
    }
    case U_HSWISH: GRAD_LOOP(g * hswish_grad(v)); break;
    case U_ELU: GRAD_LOOP(v > 0.0f ? g : g * (w + a)); break;         /* a e^v = y + a */
    case U_SELU: GRAD_LOOP(v > 0.0f ? g * b : g * (w + b * a)); break; /* b a e^v = y + b a */
    case U_CELU: GRAD_LOOP(v > 0.0f ? g : g * expf(v / a)); break;
    case U_SOFTPLUS: GRAD_LOOP(g / (1.0f + expf(-v))); break;        /* sigmoid */
    case U_SOFTSIGN: GRAD_LOOP(g / ((1.0f + fabsf(v)) * (1.0f + fabsf(v)))); break;
    case U_THRELU: GRAD_LOOP(v > a ? g : 0.0f); break;
    case U_SIN: GRAD_LOOP(g * cosf(v)); break;
    case U_COS: GRAD_LOOP(-g * sinf(v)); break;
    case U_TAN: GRAD_LOOP(g * (1.0f + w * w)); break;
    case U_ASIN: GRAD_LOOP(g / sqrtf(1.0f - v * v)); break;
    case U_ACOS: GRAD_LOOP(-g / sqrtf(1.0f - v * v)); break;
    case U_ATAN: GRAD_LOOP(g / (1.0f + v * v)); break;
    case U_SINH: GRAD_LOOP(g * coshf(v)); break;
    case U_COSH: GRAD_LOOP(g * sinhf(v)); break;
    case U_ASINH: GRAD_LOOP(g / sqrtf(v * v + 1.0f)); break;
    case U_ACOSH: GRAD_LOOP(g / sqrtf(v * v - 1.0f)); break;
    case U_ATANH: GRAD_LOOP(g / (1.0f - v * v)); break;
    case U_SHRINK: GRAD_LOOP(v < -a || v > a ? g : 0.0f); break;
    default: GRAD_LOOP(((void)g, 0.0f)); break; /* Floor, Ceil, Sign: piecewise constant */
    }
}

#define UNARY_OP(NAME, init_fn)          \
    const FoilOp foilOp##NAME = {        \
        .type = #NAME,                   \
        .grad_inputs = 0x1,              \
        .init = init_fn,                 \
        .infer = unary_infer,            \
        .forward = unary_forward,        \
        .backward = unary_backward,      \
        .writes_grads = 0x1,             \
    };
UNARY_OP(Sqrt, sqrt_init)
UNARY_OP(Exp, exp_init)
UNARY_OP(Log, log_init)
UNARY_OP(Neg, neg_init)
UNARY_OP(Abs, abs_init)
UNARY_OP(Reciprocal, recip_init)
UNARY_OP(Erf, erf_init)
UNARY_OP(Gelu, gelu_init)
UNARY_OP(HardSigmoid, hsig_init)
UNARY_OP(HardSwish, hswish_init)
UNARY_OP(Elu, elu_init)
UNARY_OP(Selu, selu_init)
UNARY_OP(Celu, celu_init)
UNARY_OP(Softplus, softplus_init)
UNARY_OP(Softsign, softsign_init)
UNARY_OP(ThresholdedRelu, threlu_init)
UNARY_OP(Sin, sin_init)
UNARY_OP(Cos, cos_init)
UNARY_OP(Tan, tan_init)
UNARY_OP(Asin, asin_init)
UNARY_OP(Acos, acos_init)
UNARY_OP(Atan, atan_init)
UNARY_OP(Sinh, sinh_init)
UNARY_OP(Cosh, cosh_init)
UNARY_OP(Asinh, asinh_init)
UNARY_OP(Acosh, acosh_init)
UNARY_OP(Atanh, atanh_init)
UNARY_OP(Floor, floor_init)
UNARY_OP(Ceil, ceil_init)
UNARY_OP(Sign, sign_init)
UNARY_OP(Shrink, shrink_init)

/* ------------------------------------------------------------------------- */
/* Pow                                                                        */

static int pow_x_ok(foil_dtype dt) { return dt == FOIL_F32 || dt == FOIL_F64 || dt == FOIL_I32 || dt == FOIL_I64; }
static int pow_y_ok(foil_dtype dt) { return pow_x_ok(dt) || dt == FOIL_U32 || dt == FOIL_U64; }

static inline double load_num(const void *p, foil_dtype dt, int64_t i)
{
    switch (dt) {
    case FOIL_F32: return ((const float *)p)[i];
    case FOIL_F64: return ((const double *)p)[i];
    case FOIL_I32: return ((const int32_t *)p)[i];
    case FOIL_I64: return (double)((const int64_t *)p)[i];
    case FOIL_U32: return ((const uint32_t *)p)[i];
    default: return (double)((const uint64_t *)p)[i];
    }
}

/* v into element i of p, saturating for integers (NaN -> 0). */
static inline void store_num(void *p, foil_dtype dt, int64_t i, double v)
{
    switch (dt) {
    case FOIL_F32: ((float *)p)[i] = (float)v; break;
    case FOIL_F64: ((double *)p)[i] = v; break;
    case FOIL_I32: ((int32_t *)p)[i] = v != v ? 0 : v <= INT32_MIN ? INT32_MIN : v >= INT32_MAX ? INT32_MAX : (int32_t)v; break;
    default:
        ((int64_t *)p)[i] = v != v ? 0 : v <= -9223372036854775808.0 ? INT64_MIN
                                       : v >= 9223372036854775807.0 ? INT64_MAX : (int64_t)v;
        break;
    }
}

static foil_status pow_infer(FoilOpCtx *c)
{
    if (c->n_in < 2 || !c->in[0] || !c->in[1]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs 2 inputs");
    if (c->n_out < 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs an output");
    const foil_tensor *a = c->in[0], *b = c->in[1];
    if (!pow_x_ok(a->dtype) || !pow_y_ok(b->dtype))
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "types %s ^ %s are not supported", foil_dtype_name(a->dtype),
                             foil_dtype_name(b->dtype));
    if (c->node->opset < 7 && !foil_tensor_same_shape(a, b) && b->numel != 1)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "opset %d broadcasting (attribute broadcast/axis) is not supported",
                             c->node->opset);
    int no, bad = 0;
    int64_t os[FOIL_MAX_DIMS];
    char sa[96], sb[96];
    if (foilBcastShape(a->ndim, a->shape, b->ndim, b->shape, &no, os, &bad))
        return foilNodeError(c, FOIL_ERR_SHAPE, "shapes %s and %s cannot be broadcast together (output dim %d)",
                             foil_shape_str(a, sa, sizeof sa), foil_shape_str(b, sb, sizeof sb), bad);
    if (foil_tensor_set_shape(c->out[0], a->dtype, no, os)) return foilNodeError(c, FOIL_ERR_SHAPE, "%s", foil_last_error());
    int64_t numel = c->out[0]->numel;
    /* backward's per-output terms of an operand that was broadcast */
    int bcast = a->numel != numel || b->numel != numel;
    c->work_bytes = a->dtype == FOIL_F32 && bcast ? (size_t)numel * sizeof(float) : 0;
    return FOIL_OK;
}

static void pow_plan(const FoilOpCtx *c, FoilBcast *bc)
{
    const foil_tensor *a = c->in[0], *b = c->in[1], *y = c->out[0];
    const int nd[2] = {a->ndim, b->ndim};
    const int64_t *shapes[2] = {a->shape, b->shape};
    foilBcastPlan(bc, y->ndim, y->shape, 2, nd, shapes);
}

static inline float powf_fast(float x, float e)
{
    return e == 2.0f ? x * x : (e == 1.0f ? x : powf(x, e));
}

static foil_status pow_forward(FoilOpCtx *c)
{
    FoilBcast bc;
    pow_plan(c, &bc);
    if (bc.numel == 0) return FOIL_OK;
    const foil_tensor *a = c->in[0], *b = c->in[1];
    const int64_t sa = bc.s[0][bc.ndim - 1], sb = bc.s[1][bc.ndim - 1];
    const int f32 = a->dtype == FOIL_F32 && b->dtype == FOIL_F32;
    const int64_t chunks = foilBcastChunks(&bc), tasks = bc.rows * chunks;
#pragma omp parallel for if (bc.numel >= FOIL_PAR_MIN && tasks > 1) schedule(static)
    for (int64_t t = 0; t < tasks; t++) {
        const int64_t row = t / chunks, j0 = (t - row * chunks) * FOIL_BCAST_CHUNK;
        const int64_t len = bc.inner - j0 < FOIL_BCAST_CHUNK ? bc.inner - j0 : FOIL_BCAST_CHUNK;
        const int64_t oa = foilBcastRowOffset(&bc, 0, row) + j0 * sa, ob = foilBcastRowOffset(&bc, 1, row) + j0 * sb;
        const int64_t oy = row * bc.inner + j0;
        if (f32) {
            const float *x = foil_f32(a) + oa, *e = foil_f32(b) + ob;
            float *y = foil_f32(c->out[0]) + oy;
            if (!sb) {
                const float e0 = e[0];
                for (int64_t j = 0; j < len; j++) y[j] = powf_fast(x[j * sa], e0);
            } else {
                for (int64_t j = 0; j < len; j++) y[j] = powf(x[j * sa], e[j]);
            }
        } else {
            for (int64_t j = 0; j < len; j++)
                store_num(c->out[0]->data, a->dtype, oy + j,
                          pow(load_num(a->data, a->dtype, oa + j * sa), load_num(b->data, b->dtype, ob + j * sb)));
        }
    }
    return FOIL_OK;
}

static inline float pow_dx(float g, float x, float e) { return e == 0.0f ? 0.0f : g * e * powf_fast(x, e - 1.0f); }
static inline float pow_dy(float g, float x, float e, float z)
{
    return x == 0.0f && e >= 0.0f ? 0.0f : g * z * logf(x);
}

/* In the forward pass this was z = x^y per output element (x and y broadcast),
 * so dz/dx = y x^(y-1) and dz/dy = x^y log x = z log x; an operand that was
 * broadcast sums the terms of all the outputs it fed.
 * d in[k] from the output gradient: the per-output term straight into d_in[k]
 * where in[k] was not broadcast, else into the workspace, then summed. */
static void pow_grad(const FoilOpCtx *c, const FoilBcast *bc, int k)
{
    const foil_tensor *a = c->in[0], *b = c->in[1], *yt = c->out[0];
    float *dst = foil_f32(c->d_in[k]);
    const int full = c->in[k]->numel == bc->numel;
    float *t = full ? dst : c->work;
    const float *g = foil_f32(c->d_out[0]), *z = foil_f32(yt), *x = foil_f32(a);
    const int64_t sa = bc->s[0][bc->ndim - 1], sb = bc->s[1][bc->ndim - 1];
    const int64_t chunks = foilBcastChunks(bc), tasks = bc->rows * chunks;
#pragma omp parallel for if (bc->numel >= FOIL_PAR_MIN && tasks > 1) schedule(static)
    for (int64_t q = 0; q < tasks; q++) {
        const int64_t row = q / chunks, j0 = (q - row * chunks) * FOIL_BCAST_CHUNK;
        const int64_t len = bc->inner - j0 < FOIL_BCAST_CHUNK ? bc->inner - j0 : FOIL_BCAST_CHUNK;
        const int64_t oa = foilBcastRowOffset(bc, 0, row) + j0 * sa, ob = foilBcastRowOffset(bc, 1, row) + j0 * sb;
        const int64_t oy = row * bc->inner + j0;
        for (int64_t j = 0; j < len; j++) {
            const float xv = x[oa + j * sa], ev = (float)load_num(b->data, b->dtype, ob + j * sb);
            const float term = k ? pow_dy(g[oy + j], xv, ev, z[oy + j]) : pow_dx(g[oy + j], xv, ev);
            if (full)
                t[oy + j] += term;
            else
                t[oy + j] = term;
        }
    }
    if (!full) foilBcastSumInto(dst, c->in[k]->ndim, c->in[k]->shape, t, yt->ndim, yt->shape);
}

static void pow_backward(FoilOpCtx *c)
{
    if (c->in[0]->dtype != FOIL_F32 || !c->d_out[0]) return;
    FoilBcast bc;
    pow_plan(c, &bc);
    if (bc.numel == 0) return;
    if (c->d_in[0]) pow_grad(c, &bc, 0);
    if (c->d_in[1] && c->in[1]->dtype == FOIL_F32) pow_grad(c, &bc, 1);
}

const FoilOp foilOpPow = {
    .type = "Pow",
    .grad_inputs = 0x3,
    .infer = pow_infer,
    .forward = pow_forward,
    .backward = pow_backward,
};

/* ------------------------------------------------------------------------- */
/* PRelu: y = x (x >= 0), slope x (x < 0); slope broadcasts to X (one-way,
 * numpy); before opset 7, a 1-D slope of X's channel count (dim 1) holds one
 * value per channel, as PyTorch exported it. float32. Gradients: dx = dy (x >= 0), slope dy (x < 0); d slope =
 * x dy where x < 0, summed over slope's broadcast dimensions. */

/* The shape slope takes against X (rank returned). */
static int prelu_slope_shape(const FoilOpCtx *c, int64_t *shape)
{
    const foil_tensor *x = c->in[0], *sl = c->in[1];
    if (c->node->opset < 7 && sl->ndim == 1 && x->ndim >= 2 && sl->shape[0] == x->shape[1] && sl->shape[0] != 1) {
        for (int d = 1; d < x->ndim; d++) shape[d - 1] = d == 1 ? sl->shape[0] : 1;
        return x->ndim - 1;
    }
    memcpy(shape, sl->shape, sizeof(int64_t) * (size_t)sl->ndim);
    return sl->ndim;
}

static foil_status prelu_infer(FoilOpCtx *c)
{
    if (c->n_in != 2 || !c->in[0] || !c->in[1]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs 2 inputs (X, slope)");
    if (c->n_out < 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs an output");
    const foil_tensor *x = c->in[0], *sl = c->in[1];
    char s1[96], s2[96];
    if (x->dtype != FOIL_F32 || sl->dtype != FOIL_F32)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "types %s, %s are not supported (float32 only)",
                             foil_dtype_name(x->dtype), foil_dtype_name(sl->dtype));
    int64_t ssh[FOIL_MAX_DIMS];
    const int sr = prelu_slope_shape(c, ssh);
    if (!foilBcastTo(sr, ssh, x->ndim, x->shape))
        return foilNodeError(c, FOIL_ERR_SHAPE, "slope %s does not broadcast to X %s", foil_shape_str(sl, s1, sizeof s1),
                             foil_shape_str(x, s2, sizeof s2));
    if (foil_tensor_set_shape(c->out[0], FOIL_F32, x->ndim, x->shape))
        return foilNodeError(c, FOIL_ERR_SHAPE, "%s", foil_last_error());
    /* backward: slope's per-output terms before summing */
    c->work_bytes = sl->numel != x->numel ? (size_t)x->numel * sizeof(float) : 0;
    return FOIL_OK;
}

/* Walk X's rows with slope along: BODY sees j (offset in X and Y), v = x,
 * a = the slope there. */
#define PRELU_ROWS(BODY)                                                                           \
    do {                                                                                           \
        FoilBcast bc;                                                                              \
        int64_t ssh_[FOIL_MAX_DIMS];                                                               \
        const int nd[1] = {prelu_slope_shape(c, ssh_)};                                            \
        const int64_t *shapes[1] = {ssh_};                                                         \
        foilBcastPlan(&bc, c->in[0]->ndim, c->in[0]->shape, 1, nd, shapes);                        \
        const int64_t ss = bc.s[0][bc.ndim - 1];                                                   \
        const float *X = foil_f32(c->in[0]), *S = foil_f32(c->in[1]);                              \
        _Pragma("omp parallel for if (bc.numel >= FOIL_PAR_MIN && bc.rows > 1) schedule(static)")  \
        for (int64_t row = 0; row < bc.rows; row++) {                                              \
            const float *sr = S + foilBcastRowOffset(&bc, 0, row);                                 \
            for (int64_t q = 0; q < bc.inner; q++) {                                               \
                const int64_t j = row * bc.inner + q;                                              \
                const float v = X[j], a = sr[q * ss];                                              \
                BODY;                                                                              \
            }                                                                                      \
        }                                                                                          \
    } while (0)

static foil_status prelu_forward(FoilOpCtx *c)
{
    if (c->in[0]->numel == 0) return FOIL_OK;
    float *Y = foil_f32(c->out[0]);
    PRELU_ROWS(Y[j] = v < 0.0f ? a * v : v);
    return FOIL_OK;
}

static void prelu_backward(FoilOpCtx *c)
{
    if (!c->d_out[0] || c->in[0]->numel == 0) return;
    const float *G = foil_f32(c->d_out[0]);
    if (c->d_in[0]) {
        float *DX = foil_f32(c->d_in[0]);
        PRELU_ROWS(DX[j] += v < 0.0f ? a * G[j] : G[j]);
    }
    if (c->d_in[1]) {
        const foil_tensor *x = c->in[0], *sl = c->in[1];
        float *ds = foil_f32(c->d_in[1]);
        if (sl->numel == x->numel) {
            PRELU_ROWS(ds[j] += v < 0.0f ? v * G[j] : ((void)a, 0.0f));
        } else {
            float *t = c->work;
            PRELU_ROWS(t[j] = v < 0.0f ? v * G[j] : ((void)a, 0.0f));
            int64_t ssh[FOIL_MAX_DIMS];
            const int sr = prelu_slope_shape(c, ssh);
            foilBcastSumInto(ds, sr, ssh, t, x->ndim, x->shape);
        }
    }
}

const FoilOp foilOpPRelu = {
    .type = "PRelu",
    .grad_inputs = 0x3,
    .infer = prelu_infer,
    .forward = prelu_forward,
    .backward = prelu_backward,
};
