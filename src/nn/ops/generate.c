/*
 * nn/ops/generate.c - ops that make a tensor from a few numbers known at
 * plan time: ConstantOfShape, Range and EyeLike (op.h is the interface they
 * implement).
 *
 * ConstantOfShape: input shape (1-D int64, known), attribute value (a
 *   one-element tensor; default float32 0): out = value everywhere, with
 *   out's shape = shape and dtype = value's.
 * Range: scalars start, limit, delta of one type (float32/64, int16/32/64):
 *   n = max(ceil((limit - start) / delta), 0), out[i] = start + i * delta.
 *   The inputs decide the output's length, so they must be known at plan
 *   time; Range lists them in value_inputs so that a float graph input is
 *   bound at plan time like an integer one (graph.c).
 * EyeLike: see below.
 * None has a gradient: both outputs are constants of the plan (the
 * planner folds these nodes when their inputs are known, which they must be).
 */
#include <math.h>
#include <string.h>

#include "nn/op.h"

static foil_status need_known(FoilOpCtx *c, int i, const char *what)
{
    if (!c->known || !c->known[i] || (c->in[i]->numel && !c->in[i]->data))
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED,
                               "input '%s' must be known when the model is loaded (a constant or an initializer, "
                               "or computed from shapes); a data-dependent %s is not supported", what, what);
    return FOIL_OK;
}

/* ------------------------------------------------------------------------- */
/* ConstantOfShape                                                           */

static foil_status cos_init(FoilNode *n)
{
    const FoilAttr *a = foilAttrGet(n, "value");
    if (!a) return FOIL_OK;
    if (a->type != FOIL_ATTR_TENSOR || !a->t)
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "attribute 'value' must be a tensor");
    if (foil_dtype_size(a->t->dtype) == 0)
        return foilNodeInitError(n, FOIL_ERR_UNSUPPORTED, "the value's element type %d is not supported",
                                    (int)a->t->dtype);
    if (a->t->numel != 1 || !a->t->data)
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "the value must hold one element, it has %lld",
                                    (long long)a->t->numel);
    return FOIL_OK;
}

static foil_status cos_infer(FoilOpCtx *c)
{
    if (c->n_in != 1 || !c->in[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "expects 1 input, got %d", c->n_in);
    if (c->n_out != 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "expects 1 output");
    const foil_tensor *s = c->in[0];
    foil_status st = need_known(c, 0, "shape");
    if (st) return st;
    if (s->dtype != FOIL_I64 || s->ndim != 1)
        return foilNodeError(c, FOIL_ERR_FORMAT, "input 'shape' must be a 1-D int64 tensor");
    if (s->numel > FOIL_MAX_DIMS)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "output rank %lld exceeds the maximum of %d",
                               (long long)s->numel, FOIL_MAX_DIMS);
    int64_t shape[FOIL_MAX_DIMS];
    for (int64_t i = 0; i < s->numel; i++) {
        shape[i] = foil_i64(s)[i];
        if (shape[i] < 0)
            return foilNodeError(c, FOIL_ERR_FORMAT, "shape[%lld] = %lld is negative", (long long)i, (long long)shape[i]);
    }
    const foil_tensor *v = foilAttrTensor(c->node, "value");
    if ((st = foil_tensor_set_shape(c->out[0], v ? v->dtype : FOIL_F32, (int)s->numel, shape)))
        return foilNodeError(c, st, "output: %s", foil_last_error());
    return FOIL_OK;
}

static foil_status cos_forward(FoilOpCtx *c)
{
    const foil_tensor *v = foilAttrTensor(c->node, "value");
    foil_tensor *y = c->out[0];
    size_t es = foil_dtype_size(y->dtype);
    if (!v) {
        memset(y->data, 0, foil_tensor_nbytes(y));
        return FOIL_OK;
    }
    char *d = y->data;
    for (int64_t i = 0; i < y->numel; i++) memcpy(d + (size_t)i * es, v->data, es);
    return FOIL_OK;
}

const FoilOp foilOpConstantOfShape = {
    .type = "ConstantOfShape", .grad_inputs = 0u,
    .init = cos_init, .infer = cos_infer, .forward = cos_forward,
};

/* ------------------------------------------------------------------------- */
/* Range                                                                     */

static double scalar_at(const foil_tensor *t)
{
    switch (t->dtype) {
    case FOIL_F32: return foil_f32(t)[0];
    case FOIL_F64: return ((const double *)t->data)[0];
    case FOIL_I16: return ((const int16_t *)t->data)[0];
    case FOIL_I32: return ((const int32_t *)t->data)[0];
    default: return (double)foil_i64(t)[0];
    }
}

static int64_t iscalar_at(const foil_tensor *t)
{
    switch (t->dtype) {
    case FOIL_I16: return ((const int16_t *)t->data)[0];
    case FOIL_I32: return ((const int32_t *)t->data)[0];
    default: return foil_i64(t)[0];
    }
}

static int range_is_int(foil_dtype t) { return t == FOIL_I16 || t == FOIL_I32 || t == FOIL_I64; }

static foil_status range_infer(FoilOpCtx *c)
{
    static const char *const names[3] = {"start", "limit", "delta"};
    if (c->n_in != 3) return foilNodeError(c, FOIL_ERR_FORMAT, "expects 3 inputs, got %d", c->n_in);
    if (c->n_out != 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "expects 1 output");
    foil_status st;
    for (int i = 0; i < 3; i++) {
        if (!c->in[i]) return foilNodeError(c, FOIL_ERR_FORMAT, "input '%s' is missing", names[i]);
        if ((st = need_known(c, i, names[i]))) return st;
        foil_dtype t = c->in[i]->dtype;
        if (t != FOIL_F32 && t != FOIL_F64 && !range_is_int(t))
            return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "input '%s' is %s (float32/64 or int16/32/64 supported)",
                                   names[i], foil_dtype_name(t));
        if (t != c->in[0]->dtype)
            return foilNodeError(c, FOIL_ERR_FORMAT, "inputs have different types (%s and %s)",
                                   foil_dtype_name(c->in[0]->dtype), foil_dtype_name(t));
        if (c->in[i]->numel != 1)
            return foilNodeError(c, FOIL_ERR_FORMAT, "input '%s' must be a scalar", names[i]);
    }
    int64_t n;
    if (range_is_int(c->in[0]->dtype)) {
        int64_t s = iscalar_at(c->in[0]), l = iscalar_at(c->in[1]), d = iscalar_at(c->in[2]);
        if (d == 0) return foilNodeError(c, FOIL_ERR_FORMAT, "delta is 0");
        /* ceil((l - s) / d) in floating point avoids overflow of l - s */
        double q = ceil(((double)l - (double)s) / (double)d);
        n = q > 0 ? (int64_t)q : 0;
    } else {
        double s = scalar_at(c->in[0]), l = scalar_at(c->in[1]), d = scalar_at(c->in[2]);
        if (d == 0.0 || !isfinite(s) || !isfinite(l) || !isfinite(d))
            return foilNodeError(c, FOIL_ERR_FORMAT, "start, limit and delta must be finite and delta non-zero");
        double q = ceil((l - s) / d);
        n = q > 0 ? (int64_t)q : 0;
    }
    if (n > ((int64_t)1 << 40)) return foilNodeError(c, FOIL_ERR_FORMAT, "the range has %lld elements", (long long)n);
    if ((st = foil_tensor_set_shape(c->out[0], c->in[0]->dtype, 1, &n)))
        return foilNodeError(c, st, "output: %s", foil_last_error());
    return FOIL_OK;
}

static foil_status range_forward(FoilOpCtx *c)
{
    foil_tensor *y = c->out[0];
    const int64_t n = y->numel;
    if (range_is_int(y->dtype)) {
        int64_t s = iscalar_at(c->in[0]), d = iscalar_at(c->in[2]);
        for (int64_t i = 0; i < n; i++) {
            int64_t v = s + i * d;
            if (y->dtype == FOIL_I64) foil_i64(y)[i] = v;
            else if (y->dtype == FOIL_I32) ((int32_t *)y->data)[i] = (int32_t)v;
            else ((int16_t *)y->data)[i] = (int16_t)v;
        }
    } else if (y->dtype == FOIL_F32) {
        float s = foil_f32(c->in[0])[0], d = foil_f32(c->in[2])[0];
        for (int64_t i = 0; i < n; i++) foil_f32(y)[i] = s + (float)i * d;
    } else {
        double s = scalar_at(c->in[0]), d = scalar_at(c->in[2]);
        for (int64_t i = 0; i < n; i++) ((double *)y->data)[i] = s + (double)i * d;
    }
    return FOIL_OK;
}

const FoilOp foilOpRange = {
    .type = "Range", .grad_inputs = 0u,
    .infer = range_infer, .forward = range_forward,
    .value_inputs = 7u,
};

/* ------------------------------------------------------------------------- */
/* EyeLike: a 2-D input's shape, ones on diagonal k (attribute, default 0:
 * out[i, i + k] = 1), zeros elsewhere; dtype the attribute's (an ONNX
 * element type) or the input's. Reads only the input's shape; no gradient
 * (the output does not depend on the input's values). */

static foil_status eyelike_infer(FoilOpCtx *c)
{
    if (c->n_in != 1 || !c->in[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs 1 input");
    if (c->n_out < 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs an output");
    const foil_tensor *x = c->in[0];
    if (x->ndim != 2) return foilNodeError(c, FOIL_ERR_SHAPE, "input must be 2-D, got rank %d", x->ndim);
    const int64_t dt = foilAttrInt(c->node, "dtype", x->dtype);
    if (dt <= 0 || dt > 64 || foil_dtype_size((foil_dtype)dt) == 0)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "dtype %lld is not supported", (long long)dt);
    c->work_bytes = 0;
    if (foil_tensor_set_shape(c->out[0], (foil_dtype)dt, 2, x->shape))
        return foilNodeError(c, FOIL_ERR_SHAPE, "%s", foil_last_error());
    return FOIL_OK;
}

static foil_status eyelike_forward(FoilOpCtx *c)
{
    foil_tensor *y = c->out[0];
    const int64_t R = y->shape[0], C = y->shape[1], k = foilAttrInt(c->node, "k", 0);
    const size_t es = foil_dtype_size(y->dtype);
    memset(y->data, 0, (size_t)y->numel * es);
    for (int64_t i = 0; i < R; i++) {
        const int64_t j = i + k;
        if (j < 0 || j >= C) continue;
        char *e = (char *)y->data + (size_t)(i * C + j) * es;
        switch (y->dtype) {
        case FOIL_F32: *(float *)e = 1.0f; break;
        case FOIL_F64: *(double *)e = 1.0; break;
        default: /* integers and bool: 1 of their width */
            if (es == 1) *(uint8_t *)e = 1;
            else if (es == 2) *(uint16_t *)e = 1;
            else if (es == 4) *(uint32_t *)e = 1;
            else *(uint64_t *)e = 1;
            break;
        }
    }
    return FOIL_OK;
}

const FoilOp foilOpEyeLike = {.type = "EyeLike", .infer = eyelike_infer, .forward = eyelike_forward};
