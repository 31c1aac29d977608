/*
 * nn/ops/cast.c - Cast and CastLike: convert elements to another type
 * (op.h is the interface they implement).
 *
 * Every element type foil's tensors have is supported both ways: float32,
 * float64, int8/16/32/64, uint8/16/32/64, bool. ONNX's float16, bfloat16,
 * float8 and string have no foil tensor type; a node asking for one is
 * refused at load with a message naming the type.
 *
 * Conversion rules (numpy's, which the ONNX reference follows):
 *   float -> integer: truncation toward zero; NaN gives 0 and values beyond
 *     int64 saturate (ONNX leaves out-of-range undefined; foil picks a
 *     defined answer), then integers narrow by wrapping (two's complement);
 *   anything -> bool: x != 0;  bool -> anything: 0 or 1.
 * Integers travel through int64 (uint64 through its bit pattern) and floats
 * through double, so int64 values beyond 2^53 cast exactly between integer
 * types.
 *
 * The gradient flows only float32 -> float32 (the engine's gradients are
 * float32): d_in += d_out.
 */
#include <math.h>
#include <string.h>

#include "nn/op.h"

#define PAR_MIN ((int64_t)1 << 15)

/* ONNX TensorProto.DataType names, for messages about types foil lacks. */
static const char *onnx_type_name(int64_t t)
{
    switch (t) {
    case 8: return "string";
    case 10: return "float16";
    case 14: return "complex64";
    case 15: return "complex128";
    case 16: return "bfloat16";
    case 17: case 18: case 19: case 20: return "float8";
    case 21: case 22: return "int4";
    default: return "unknown";
    }
}

static int is_foil_type(int64_t t) { return t > 0 && t < 64 && foil_dtype_size((foil_dtype)t) != 0; }

static int is_float(foil_dtype t) { return t == FOIL_F32 || t == FOIL_F64; }

static double load_f(const void *p, foil_dtype t, int64_t i)
{
    return t == FOIL_F32 ? (double)((const float *)p)[i] : ((const double *)p)[i];
}

static int64_t load_i(const void *p, foil_dtype t, int64_t i)
{
    switch (t) {
    case FOIL_I64: return ((const int64_t *)p)[i];
    case FOIL_U64: return (int64_t)((const uint64_t *)p)[i];
    case FOIL_I32: return ((const int32_t *)p)[i];
    case FOIL_U32: return ((const uint32_t *)p)[i];
    case FOIL_I16: return ((const int16_t *)p)[i];
    case FOIL_U16: return ((const uint16_t *)p)[i];
    case FOIL_I8: return ((const int8_t *)p)[i];
    case FOIL_BOOL: return ((const uint8_t *)p)[i] != 0;
    default: return ((const uint8_t *)p)[i];
    }
}

static void store_i(void *p, foil_dtype t, int64_t i, int64_t v)
{
    switch (t) {
    case FOIL_I64: ((int64_t *)p)[i] = v; break;
    case FOIL_U64: ((uint64_t *)p)[i] = (uint64_t)v; break;
    case FOIL_I32: ((int32_t *)p)[i] = (int32_t)(uint32_t)(uint64_t)v; break;
    case FOIL_U32: ((uint32_t *)p)[i] = (uint32_t)(uint64_t)v; break;
    case FOIL_I16: ((int16_t *)p)[i] = (int16_t)(uint16_t)(uint64_t)v; break;
    case FOIL_U16: ((uint16_t *)p)[i] = (uint16_t)(uint64_t)v; break;
    case FOIL_I8: ((int8_t *)p)[i] = (int8_t)(uint8_t)(uint64_t)v; break;
    case FOIL_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    default: ((uint8_t *)p)[i] = (uint8_t)(uint64_t)v; break;
    }
}

/* Float to integer: truncate, NaN -> 0, saturate at the int64 range. */
static int64_t f_to_i(double v)
{
    if (isnan(v)) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}

static void cast_elements(const foil_tensor *x, foil_tensor *y)
{
    const foil_dtype st = x->dtype, dt = y->dtype;
    const int64_t n = x->numel;
    const void *src = x->data;
    void *dst = y->data;
    if (n == 0) return;
    if (st == dt) {
        memcpy(dst, src, foil_tensor_nbytes(x));
        return;
    }
    if (dt == FOIL_F32 && st == FOIL_U8) { /* images */
        const uint8_t *s = src;
        float *d = dst;
#pragma omp parallel for simd if (n > PAR_MIN) schedule(static)
        for (int64_t i = 0; i < n; i++) d[i] = (float)s[i];
        return;
    }
    if (dt == FOIL_F32 && st == FOIL_F64) {
        const double *s = src;
        float *d = dst;
#pragma omp parallel for simd if (n > PAR_MIN) schedule(static)
        for (int64_t i = 0; i < n; i++) d[i] = (float)s[i];
        return;
    }
    if (dt == FOIL_BOOL) {
        uint8_t *d = dst;
#pragma omp parallel for if (n > PAR_MIN) schedule(static)
        for (int64_t i = 0; i < n; i++) d[i] = is_float(st) ? load_f(src, st, i) != 0.0 : load_i(src, st, i) != 0;
        return;
    }
#pragma omp parallel for if (n > PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        if (is_float(dt)) {
            double v = is_float(st) ? load_f(src, st, i)
                       : st == FOIL_U64 ? (double)((const uint64_t *)src)[i] : (double)load_i(src, st, i);
            if (dt == FOIL_F32) ((float *)dst)[i] = (float)v;
            else ((double *)dst)[i] = v;
        } else {
            store_i(dst, dt, i, is_float(st) ? f_to_i(load_f(src, st, i)) : load_i(src, st, i));
        }
    }
}

static foil_status cast_check_type(const FoilNode *n, int64_t to, const char *what)
{
    if (!is_foil_type(to))
        return foilNodeInitError(n, FOIL_ERR_UNSUPPORTED,
                                    "%s element type %lld (%s) is not supported: foil's tensors are float32/64, "
                                    "(u)int8/16/32/64 or bool", what, (long long)to, onnx_type_name(to));
    return FOIL_OK;
}

static foil_status cast_init(FoilNode *n)
{
    const FoilAttr *a = foilAttrGet(n, "to");
    if (!a || a->type != FOIL_ATTR_INT)
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "attribute 'to' (int) is required");
    return cast_check_type(n, a->i, "target");
}

static foil_status cast_infer_to(FoilOpCtx *c, int n_in, foil_dtype to)
{
    if (c->n_in != n_in || !c->in[0])
        return foilNodeError(c, FOIL_ERR_FORMAT, "expects %d input(s), got %d", n_in, c->n_in);
    if (c->n_out != 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "expects 1 output");
    if (foil_dtype_size(c->in[0]->dtype) == 0)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "input element type %d is not supported", (int)c->in[0]->dtype);
    foil_status st = foil_tensor_set_shape(c->out[0], to, c->in[0]->ndim, c->in[0]->shape);
    if (st) return foilNodeError(c, st, "output: %s", foil_last_error());
    return FOIL_OK;
}

static foil_status cast_infer(FoilOpCtx *c)
{
    return cast_infer_to(c, 1, (foil_dtype)foilAttrInt(c->node, "to", FOIL_F32));
}

static foil_status cast_forward(FoilOpCtx *c)
{
    cast_elements(c->in[0], c->out[0]);
    return FOIL_OK;
}

/* In the forward pass this was y = x (float32 to float32), so d_x += d_y. */
static void cast_backward(FoilOpCtx *c)
{
    if (!c->d_in || !c->d_in[0] || !c->d_out || !c->d_out[0]) return;
    if (c->d_in[0]->dtype != FOIL_F32 || c->d_out[0]->dtype != FOIL_F32) return;
    float *dx = foil_f32(c->d_in[0]);
    const float *dy = foil_f32(c->d_out[0]);
    const int64_t n = c->d_in[0]->numel;
#pragma omp parallel for simd if (n > PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) dx[i] += dy[i];
}

const FoilOp foilOpCast = {
    .type = "Cast", .grad_inputs = 1u,
    .init = cast_init, .infer = cast_infer, .forward = cast_forward, .backward = cast_backward,
};

/* CastLike (opset 15): Cast to the element type of input 1 (only its type
 * is read). */
static foil_status castlike_infer(FoilOpCtx *c)
{
    if (c->n_in != 2 || !c->in[1]) return foilNodeError(c, FOIL_ERR_FORMAT, "expects 2 inputs, got %d", c->n_in);
    return cast_infer_to(c, 2, c->in[1]->dtype);
}

const FoilOp foilOpCastLike = {
    .type = "CastLike", .grad_inputs = 1u,
    .infer = castlike_infer, .forward = cast_forward, .backward = cast_backward,
};
