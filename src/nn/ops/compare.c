/*
 * nn/ops/compare.c - Equal, Less, Greater, GreaterOrEqual, LessOrEqual,
 * And, Or, Xor, Not, IsNaN, IsInf (bool outputs), Where, Mod and BitShift.
 *
 * And, Or, Xor: bool inputs, broadcast as below. Mod: A and B of one numeric
 * type, broadcast; fmod=1 gives C's fmod/% (sign of A), fmod=0 (integers
 * only) Python's remainder (sign of B); an integer remainder by 0 is 0. No
 * gradients.
 *
 * Equal, Less, Greater: A and B of one type (any numeric type, and bool for
 * Equal), broadcast multidirectionally (numpy); C is bool (one byte per
 * element, 0 or 1). Comparisons are those of C on the type itself (int64
 * compares exactly; NaN compares unequal to everything). Not: bool to bool.
 * None of them has a gradient: their outputs are bool, and a step function's
 * derivative is zero where it exists.
 *
 * Where: C = condition ? X : Y, the three broadcast together (numpy);
 * condition is bool, X and Y of one type (any; the data is moved, not
 * interpreted). Gradients (float32): dX += dC where condition, summed over
 * X's broadcast dimensions; dY += dC where not. The condition gets none.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/op.h"
#include "nn/ops/broadcast.h"

enum { CMP_EQ, CMP_LT, CMP_GT, CMP_GE, CMP_LE, CMP_AND, CMP_OR, CMP_XOR };
/* cmp_state.op of BitShift (Mod's is its fmod, 0 or 1) */
enum { INTBIN_RIGHT = 2, INTBIN_LEFT = 3 };

typedef struct cmp_state {
    int op;
} cmp_state;

static foil_status cmp_init_op(FoilNode *n, int op)
{
    cmp_state *st = calloc(1, sizeof *st);
    if (!st) return foilNodeInitError(n, FOIL_ERR_NOMEM, "out of memory");
    st->op = op;
    n->state = st;
    return FOIL_OK;
}
static foil_status equal_init(FoilNode *n) { return cmp_init_op(n, CMP_EQ); }
static foil_status less_init(FoilNode *n) { return cmp_init_op(n, CMP_LT); }
static foil_status greater_init(FoilNode *n) { return cmp_init_op(n, CMP_GT); }
static foil_status ge_init(FoilNode *n) { return cmp_init_op(n, CMP_GE); }
static foil_status le_init(FoilNode *n) { return cmp_init_op(n, CMP_LE); }
static foil_status and_init(FoilNode *n) { return cmp_init_op(n, CMP_AND); }
static foil_status or_init(FoilNode *n) { return cmp_init_op(n, CMP_OR); }
static foil_status xor_init(FoilNode *n) { return cmp_init_op(n, CMP_XOR); }

static int cmp_dtype_ok(foil_dtype dt, int op)
{
    if (op >= CMP_AND) return dt == FOIL_BOOL;
    switch (dt) {
    case FOIL_F32: case FOIL_F64: case FOIL_I8: case FOIL_U8: case FOIL_I16: case FOIL_U16:
    case FOIL_I32: case FOIL_U32: case FOIL_I64: case FOIL_U64: return 1;
    case FOIL_BOOL: return op == CMP_EQ;
    default: return 0;
    }
}

static foil_status cmp_infer(FoilOpCtx *c)
{
    const cmp_state *st = c->node->state;
    if (c->n_in != 2 || !c->in[0] || !c->in[1]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs 2 inputs");
    if (c->n_out < 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs an output");
    const foil_tensor *a = c->in[0], *b = c->in[1];
    if (a->dtype != b->dtype)
        return foilNodeError(c, FOIL_ERR_FORMAT, "inputs have different types (%s and %s)", foil_dtype_name(a->dtype),
                             foil_dtype_name(b->dtype));
    if (!cmp_dtype_ok(a->dtype, st->op))
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "type %s is not supported", foil_dtype_name(a->dtype));
    if (c->node->opset < 7 && !foil_tensor_same_shape(a, b) && b->numel != 1)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "opset %d broadcasting (attribute broadcast/axis) is not supported",
                             c->node->opset);
    c->work_bytes = 0;
    return foilBcastInferOut(c, 2, FOIL_BOOL);
}

#define CMP_ROWS(T)                                                                              \
    do {                                                                                         \
        const T *A = c->in[0]->data, *B = c->in[1]->data;                                        \
        _Pragma("omp parallel for if (bc.numel >= FOIL_PAR_MIN && bc.rows > 1) schedule(static)") \
        for (int64_t row = 0; row < bc.rows; row++) {                                            \
            const T *a = A + foilBcastRowOffset(&bc, 0, row), *b = B + foilBcastRowOffset(&bc, 1, row); \
            uint8_t *y = Y + row * bc.inner;                                                     \
            if (op == CMP_EQ)                                                                    \
                for (int64_t j = 0; j < bc.inner; j++) y[j] = a[j * sa] == b[j * sb];            \
            else if (op == CMP_LT)                                                               \
                for (int64_t j = 0; j < bc.inner; j++) y[j] = a[j * sa] < b[j * sb];             \
            else if (op == CMP_GT)                                                               \
                for (int64_t j = 0; j < bc.inner; j++) y[j] = a[j * sa] > b[j * sb];             \
            else if (op == CMP_GE)                                                               \
                for (int64_t j = 0; j < bc.inner; j++) y[j] = a[j * sa] >= b[j * sb];            \
            else if (op == CMP_LE)                                                               \
                for (int64_t j = 0; j < bc.inner; j++) y[j] = a[j * sa] <= b[j * sb];            \
            else if (op == CMP_AND)                                                              \
                for (int64_t j = 0; j < bc.inner; j++) y[j] = (a[j * sa] != 0) & (b[j * sb] != 0); \
            else if (op == CMP_OR)                                                               \
                for (int64_t j = 0; j < bc.inner; j++) y[j] = (a[j * sa] != 0) | (b[j * sb] != 0); \
            else                                                                                 \
                for (int64_t j = 0; j < bc.inner; j++) y[j] = (a[j * sa] != 0) ^ (b[j * sb] != 0); \
        }                                                                                        \
    } while (0)

static foil_status cmp_forward(FoilOpCtx *c)
{
    const int op = ((const cmp_state *)c->node->state)->op;
    FoilBcast bc;
    foilBcastPlanInputs(c, 2, &bc);
    if (bc.numel == 0) return FOIL_OK;
    const int64_t sa = bc.s[0][bc.ndim - 1], sb = bc.s[1][bc.ndim - 1];
    uint8_t *Y = c->out[0]->data;
    switch (c->in[0]->dtype) {
    case FOIL_F32: CMP_ROWS(float); break;
    case FOIL_F64: CMP_ROWS(double); break;
    case FOIL_I8: CMP_ROWS(int8_t); break;
    case FOIL_U8: case FOIL_BOOL: CMP_ROWS(uint8_t); break;
    case FOIL_I16: CMP_ROWS(int16_t); break;
    case FOIL_U16: CMP_ROWS(uint16_t); break;
    case FOIL_I32: CMP_ROWS(int32_t); break;
    case FOIL_U32: CMP_ROWS(uint32_t); break;
    case FOIL_I64: CMP_ROWS(int64_t); break;
    case FOIL_U64: CMP_ROWS(uint64_t); break;
    default: return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "unsupported type");
    }
    return FOIL_OK;
}

const FoilOp foilOpEqual = {.type = "Equal", .init = equal_init, .infer = cmp_infer, .forward = cmp_forward};
const FoilOp foilOpLess = {.type = "Less", .init = less_init, .infer = cmp_infer, .forward = cmp_forward};
const FoilOp foilOpGreater = {.type = "Greater", .init = greater_init, .infer = cmp_infer, .forward = cmp_forward};
const FoilOp foilOpGreaterOrEqual = {.type = "GreaterOrEqual", .init = ge_init, .infer = cmp_infer, .forward = cmp_forward};
const FoilOp foilOpLessOrEqual = {.type = "LessOrEqual", .init = le_init, .infer = cmp_infer, .forward = cmp_forward};
const FoilOp foilOpAnd = {.type = "And", .init = and_init, .infer = cmp_infer, .forward = cmp_forward};
const FoilOp foilOpOr = {.type = "Or", .init = or_init, .infer = cmp_infer, .forward = cmp_forward};
const FoilOp foilOpXor = {.type = "Xor", .init = xor_init, .infer = cmp_infer, .forward = cmp_forward};

/* ------------------------------------------------------------------------- */
/* Mod                                                                        */

static foil_status mod_init(FoilNode *n)
{
    cmp_state *st = calloc(1, sizeof *st);
    if (!st) return foilNodeInitError(n, FOIL_ERR_NOMEM, "out of memory");
    st->op = foilAttrInt(n, "fmod", 0) != 0;
    n->state = st;
    return FOIL_OK;
}

/* Mod and BitShift: two inputs of one element type (into *dt), an output. */
static foil_status two_inputs_of_one_type(FoilOpCtx *c, foil_dtype *dt)
{
    if (c->n_in != 2 || !c->in[0] || !c->in[1]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs 2 inputs");
    if (c->n_out < 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs an output");
    *dt = c->in[0]->dtype;
    if (*dt != c->in[1]->dtype)
        return foilNodeError(c, FOIL_ERR_FORMAT, "inputs have different types (%s and %s)", foil_dtype_name(*dt),
                             foil_dtype_name(c->in[1]->dtype));
    return FOIL_OK;
}

static foil_status mod_infer(FoilOpCtx *c)
{
    const cmp_state *st = c->node->state;
    foil_dtype dt = FOIL_F32; /* set by the check when it passes */
    foil_status s = two_inputs_of_one_type(c, &dt);
    if (s) return s;
    if (dt == FOIL_BOOL || !cmp_dtype_ok(dt, CMP_EQ))
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "type %s is not supported", foil_dtype_name(dt));
    if ((dt == FOIL_F32 || dt == FOIL_F64) && !st->op)
        return foilNodeError(c, FOIL_ERR_FORMAT, "fmod=0 is for integers: a floating-point Mod needs fmod=1");
    c->work_bytes = 0;
    return foilBcastInferOut(c, 2, dt);
}

/* fmod=1: C's remainder of truncating division (sign of the dividend);
 * fmod=0: Python's (sign of the divisor). An integer division by 0 gives 0
 * (a model's data must not crash foil). */
#define MOD_ROWS(T, FMOD)                                                                         \
    do {                                                                                          \
        const T *A = c->in[0]->data, *B = c->in[1]->data;                                         \
        T *Y = c->out[0]->data;                                                                   \
        _Pragma("omp parallel for if (bc.numel >= FOIL_PAR_MIN && bc.rows > 1) schedule(static)") \
        for (int64_t row = 0; row < bc.rows; row++) {                                             \
            const T *a = A + foilBcastRowOffset(&bc, 0, row), *b = B + foilBcastRowOffset(&bc, 1, row); \
            T *y = Y + row * bc.inner;                                                            \
            for (int64_t j = 0; j < bc.inner; j++) {                                              \
                const T x = a[j * sa], d = b[j * sb];                                             \
                y[j] = FMOD;                                                                      \
            }                                                                                     \
        }                                                                                         \
    } while (0)

/* Python's remainder from C's r = x % d: move it to d's side. */
/* d == -1 is spelled out: INT_MIN % -1 traps. */
#define CMOD(T) (d == 0 || d == -1 ? (T)0 : (T)(x % d))
#define PYMOD(T) (d == 0 || d == -1 ? (T)0 : (T)(x % d != 0 && ((x % d < 0) != (d < 0)) ? x % d + d : x % d))
#define INT_MOD(T)                                          \
    do {                                                    \
        if (fm) MOD_ROWS(T, CMOD(T));                       \
        else MOD_ROWS(T, PYMOD(T));                         \
    } while (0)
/* unsigned: both remainders are C's; or BitShift (op) */
#define UINT_MOD(T)                                                                                    \
    do {                                                                                               \
        if (op == INTBIN_LEFT || op == INTBIN_RIGHT)                                                   \
            MOD_ROWS(T, d >= 8 * sizeof(T) ? (T)0 : op == INTBIN_LEFT ? (T)((uint64_t)x << d) : (T)(x >> d)); \
        else                                                                                           \
            MOD_ROWS(T, d == 0 ? (T)0 : (T)(x % d));                                                   \
    } while (0)

/* Mod (op: fmod) and BitShift (op: INTBIN_LEFT or INTBIN_RIGHT; unsigned
 * types only, which infer checked) */
static foil_status intbin_forward(FoilOpCtx *c)
{
    const int op = ((const cmp_state *)c->node->state)->op, fm = op == 1;
    FoilBcast bc;
    foilBcastPlanInputs(c, 2, &bc);
    if (bc.numel == 0) return FOIL_OK;
    const int64_t sa = bc.s[0][bc.ndim - 1], sb = bc.s[1][bc.ndim - 1];
    switch (c->in[0]->dtype) {
    case FOIL_F32: MOD_ROWS(float, fmodf(x, d)); break;
    case FOIL_F64: MOD_ROWS(double, fmod(x, d)); break;
    case FOIL_I8: INT_MOD(int8_t); break;
    case FOIL_U8: UINT_MOD(uint8_t); break;
    case FOIL_I16: INT_MOD(int16_t); break;
    case FOIL_U16: UINT_MOD(uint16_t); break;
    case FOIL_I32: INT_MOD(int32_t); break;
    case FOIL_U32: UINT_MOD(uint32_t); break;
    case FOIL_I64: INT_MOD(int64_t); break;
    default: UINT_MOD(uint64_t); break;
    }
    return FOIL_OK;
}

const FoilOp foilOpMod = {.type = "Mod", .init = mod_init, .infer = mod_infer, .forward = intbin_forward};

/* ------------------------------------------------------------------------- */
/* Not                                                                        */

static foil_status not_infer(FoilOpCtx *c)
{
    if (c->n_in != 1 || !c->in[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs an input");
    if (c->n_out < 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs an output");
    const foil_tensor *x = c->in[0];
    if (x->dtype != FOIL_BOOL)
        return foilNodeError(c, FOIL_ERR_FORMAT, "input must be bool, not %s", foil_dtype_name(x->dtype));
    c->work_bytes = 0;
    if (foil_tensor_set_shape(c->out[0], FOIL_BOOL, x->ndim, x->shape))
        return foilNodeError(c, FOIL_ERR_SHAPE, "%s", foil_last_error());
    return FOIL_OK;
}

static foil_status not_forward(FoilOpCtx *c)
{
    const uint8_t *x = c->in[0]->data;
    uint8_t *y = c->out[0]->data;
    const int64_t n = c->in[0]->numel;
#pragma omp parallel for if (n >= FOIL_PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) y[i] = !x[i];
    return FOIL_OK;
}

const FoilOp foilOpNot = {.type = "Not", .infer = not_infer, .forward = not_forward};

/* ------------------------------------------------------------------------- */
/* Where                                                                      */

static foil_status where_infer(FoilOpCtx *c)
{
    if (c->n_in != 3 || !c->in[0] || !c->in[1] || !c->in[2])
        return foilNodeError(c, FOIL_ERR_FORMAT, "needs 3 inputs (condition, X, Y)");
    if (c->n_out < 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs an output");
    if (c->in[0]->dtype != FOIL_BOOL)
        return foilNodeError(c, FOIL_ERR_FORMAT, "condition must be bool, not %s", foil_dtype_name(c->in[0]->dtype));
    const foil_dtype dt = c->in[1]->dtype;
    if (dt != c->in[2]->dtype)
        return foilNodeError(c, FOIL_ERR_FORMAT, "X and Y have different types (%s and %s)", foil_dtype_name(dt),
                             foil_dtype_name(c->in[2]->dtype));
    size_t es = foil_dtype_size(dt);
    if (es != 1 && es != 2 && es != 4 && es != 8)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "type %s is not supported", foil_dtype_name(dt));
    foil_status st = foilBcastInferOut(c, 3, dt);
    if (st) return st;
    /* backward: the selected gradient of a broadcast X or Y, before summing */
    const int64_t n = c->out[0]->numel;
    int bcast = c->in[1]->numel != n || c->in[2]->numel != n;
    c->work_bytes = dt == FOIL_F32 && bcast ? (size_t)n * sizeof(float) : 0;
    return FOIL_OK;
}

#define WHERE_ROWS(T)                                                                            \
    do {                                                                                         \
        const T *X = c->in[1]->data, *Yv = c->in[2]->data;                                       \
        T *O = c->out[0]->data;                                                                  \
        _Pragma("omp parallel for if (bc.numel >= FOIL_PAR_MIN && bc.rows > 1) schedule(static)") \
        for (int64_t row = 0; row < bc.rows; row++) {                                            \
            const uint8_t *k = C + foilBcastRowOffset(&bc, 0, row);                              \
            const T *x = X + foilBcastRowOffset(&bc, 1, row), *y = Yv + foilBcastRowOffset(&bc, 2, row); \
            T *o = O + row * bc.inner;                                                           \
            for (int64_t j = 0; j < bc.inner; j++) o[j] = k[j * sc] ? x[j * sx] : y[j * sy];     \
        }                                                                                        \
    } while (0)

static foil_status where_forward(FoilOpCtx *c)
{
    FoilBcast bc;
    foilBcastPlanInputs(c, 3, &bc);
    if (bc.numel == 0) return FOIL_OK;
    const int64_t sc = bc.s[0][bc.ndim - 1], sx = bc.s[1][bc.ndim - 1], sy = bc.s[2][bc.ndim - 1];
    const uint8_t *C = c->in[0]->data;
    switch (foil_dtype_size(c->in[1]->dtype)) {
    case 1: WHERE_ROWS(uint8_t); break;
    case 2: WHERE_ROWS(uint16_t); break;
    case 4: WHERE_ROWS(uint32_t); break;
    default: WHERE_ROWS(uint64_t); break;
    }
    return FOIL_OK;
}

/* forward: out = cond ? X : Y, so dX gets dout where cond holds and dY
 * where it does not (each summed over its broadcast dimensions). */
static void where_grad(const FoilOpCtx *c, const FoilBcast *bc, int k)
{
    const foil_tensor *o = c->out[0];
    float *dst = foil_f32(c->d_in[k]);
    const int full = c->in[k]->numel == bc->numel;
    float *t = full ? dst : c->work;
    const uint8_t want = k == 1;
    const uint8_t *C = c->in[0]->data;
    const float *g = foil_f32(c->d_out[0]);
    const int64_t sc = bc->s[0][bc->ndim - 1];
#pragma omp parallel for if (bc->numel >= FOIL_PAR_MIN && bc->rows > 1) schedule(static)
    for (int64_t row = 0; row < bc->rows; row++) {
        const uint8_t *cond = C + foilBcastRowOffset(bc, 0, row);
        const float *gr = g + row * bc->inner;
        float *tr = t + row * bc->inner;
        if (full)
            for (int64_t j = 0; j < bc->inner; j++) tr[j] += (cond[j * sc] != 0) == want ? gr[j] : 0.0f;
        else
            for (int64_t j = 0; j < bc->inner; j++) tr[j] = (cond[j * sc] != 0) == want ? gr[j] : 0.0f;
    }
    if (!full) foilBcastSumInto(dst, c->in[k]->ndim, c->in[k]->shape, t, o->ndim, o->shape);
}

static void where_backward(FoilOpCtx *c)
{
    if (c->in[1]->dtype != FOIL_F32 || !c->d_out[0]) return;
    FoilBcast bc;
    foilBcastPlanInputs(c, 3, &bc);
    if (bc.numel == 0) return;
    for (int k = 1; k <= 2; k++)
        if (c->d_in[k]) where_grad(c, &bc, k);
}

const FoilOp foilOpWhere = {
    .type = "Where",
    .grad_inputs = 0x6,
    .infer = where_infer,
    .forward = where_forward,
    .backward = where_backward,
};

/* ------------------------------------------------------------------------- */
/* IsNaN, IsInf (float32/float64 -> bool; IsInf's detect_negative and
 * detect_positive, default 1, choose the signs).                             */

static foil_status isx_infer(FoilOpCtx *c)
{
    if (c->n_in != 1 || !c->in[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs an input");
    if (c->n_out < 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs an output");
    const foil_tensor *x = c->in[0];
    if (x->dtype != FOIL_F32 && x->dtype != FOIL_F64)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "type %s is not supported (float32, float64)",
                             foil_dtype_name(x->dtype));
    c->work_bytes = 0;
    if (foil_tensor_set_shape(c->out[0], FOIL_BOOL, x->ndim, x->shape))
        return foilNodeError(c, FOIL_ERR_SHAPE, "%s", foil_last_error());
    return FOIL_OK;
}

static foil_status isx_forward(FoilOpCtx *c)
{
    const int nan = strcmp(c->node->op_type, "IsNaN") == 0;
    const int neg = foilAttrInt(c->node, "detect_negative", 1) != 0, pos = foilAttrInt(c->node, "detect_positive", 1) != 0;
    const foil_tensor *x = c->in[0];
    uint8_t *y = c->out[0]->data;
    for (int64_t i = 0; i < x->numel; i++) {
        const double v = x->dtype == FOIL_F32 ? foil_f32(x)[i] : ((const double *)x->data)[i];
        y[i] = nan ? isnan(v) : isinf(v) && (v > 0 ? pos : neg);
    }
    return FOIL_OK;
}

const FoilOp foilOpIsNaN = {.type = "IsNaN", .infer = isx_infer, .forward = isx_forward};
const FoilOp foilOpIsInf = {.type = "IsInf", .infer = isx_infer, .forward = isx_forward};

/* ------------------------------------------------------------------------- */
/* BitShift: X, Y unsigned integers of one type, broadcast; direction LEFT or
 * RIGHT (required). A shift by the type's width or more gives 0. Its forward
 * is Mod's (intbin_forward).                                                */

static foil_status bitshift_init(FoilNode *n)
{
    const char *d = foilAttrString(n, "direction", "");
    if (strcmp(d, "LEFT") && strcmp(d, "RIGHT"))
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "direction must be \"LEFT\" or \"RIGHT\", got \"%s\"", d);
    return cmp_init_op(n, strcmp(d, "LEFT") == 0 ? INTBIN_LEFT : INTBIN_RIGHT);
}

static foil_status bitshift_infer(FoilOpCtx *c)
{
    foil_dtype dt = FOIL_F32; /* set by the check when it passes */
    foil_status s = two_inputs_of_one_type(c, &dt);
    if (s) return s;
    if (dt != FOIL_U8 && dt != FOIL_U16 && dt != FOIL_U32 && dt != FOIL_U64)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "type %s is not supported (uint8 to uint64)", foil_dtype_name(dt));
    c->work_bytes = 0;
    return foilBcastInferOut(c, 2, dt);
}

const FoilOp foilOpBitShift = {.type = "BitShift", .init = bitshift_init, .infer = bitshift_infer, .forward = intbin_forward};
