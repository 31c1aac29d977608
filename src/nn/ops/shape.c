/*
 * nn/ops/shape.c - ops that change how a tensor is viewed, not its values:
 * Flatten, Reshape, Squeeze, Unsqueeze, Identity, Shape, Constant, Dropout.
 *
 * What this file is: the "view" family. Every op here keeps the element order
 * of its input (row-major), so forward is one memcpy into the output the
 * planner allocated and backward is d_in += d_out over numel elements. Dropout
 * lives here because at inference it is exactly Identity.
 * What it deliberately is not: anything that moves elements (Transpose,
 * Concat, Pad, Gather live in layout.c).
 *
 * All ops are dtype-generic (they copy bytes by element size) because int64
 * shape tensors and uint8/bool data flow through them; gradients exist only
 * for float32.
 *
 * Shape-determining inputs (Reshape's shape, Squeeze/Unsqueeze's axes from
 * opset 13) must be known at plan time (c->known[i]); infer reads their data.
 * Everything that depends on the plan (not the node) is recomputed from the
 * ctx, so node->state only holds parsed attributes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "foil/rng.h"
#include "nn/op.h"
#include "nn/ops/op_checks.h"

/* Elementwise work below this many elements stays single-threaded. */
#define PAR_MIN ((int64_t)1 << 16)

/* ------------------------------------------------------------------------- */
/* shared helpers (foilOpCheckArity ... foilKnownInts: op_checks.h)         */

/* d[i] += g[i] for n floats. */
static void add_f32(float *restrict d, const float *restrict g, int64_t n)
{
#pragma omp parallel for simd if (n > PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) d[i] += g[i];
}

foil_status foilOpCheckArity(FoilOpCtx *c, int min_in, int max_in)
{
    if (c->n_in < min_in || c->n_in > max_in) {
        if (min_in == max_in)
            return foilNodeError(c, FOIL_ERR_FORMAT, "expects %d input(s), got %d", min_in, c->n_in);
        return foilNodeError(c, FOIL_ERR_FORMAT, "expects %d to %d inputs, got %d", min_in, max_in, c->n_in);
    }
    for (int i = 0; i < min_in; i++)
        if (!c->in[i]) return foilNodeError(c, FOIL_ERR_FORMAT, "required input %d is missing", i);
    if (c->n_out < 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "output 0 is missing");
    if (foil_dtype_size(c->in[0]->dtype) == 0)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "input element type %d is not supported",
                               (int)c->in[0]->dtype);
    return FOIL_OK;
}

foil_status foilOpCheckAttr(const FoilNode *n, const char *name, FoilAttrType type)
{
    const FoilAttr *a = foilAttrGet(n, name);
    if (a && a->type != type)
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "attribute '%s' has type %d, expected %d", name,
                                    (int)a->type, (int)type);
    return FOIL_OK;
}

foil_status foilKnownInts(FoilOpCtx *c, int i, const char *what, int64_t *vals, int max, int *n)
{
    const foil_tensor *t = c->in[i];
    if (!c->known || !c->known[i] || !t->data)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED,
                               "input '%s' must be known when the model is loaded (a constant or an "
                               "initializer, or computed from shapes); a data-dependent %s is not supported",
                               what, what);
    if (t->dtype != FOIL_I64 && t->dtype != FOIL_I32)
        return foilNodeError(c, FOIL_ERR_FORMAT, "input '%s' must be int64, got %s", what,
                               foil_dtype_name(t->dtype));
    if (t->ndim > 1) return foilNodeError(c, FOIL_ERR_FORMAT, "input '%s' must be 1-D, got rank %d", what, t->ndim);
    if (t->numel > max)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "input '%s' has %lld values (at most %d supported)", what,
                               (long long)t->numel, max);
    for (int64_t k = 0; k < t->numel; k++)
        vals[k] = t->dtype == FOIL_I64 ? ((const int64_t *)t->data)[k] : ((const int32_t *)t->data)[k];
    *n = (int)t->numel;
    return FOIL_OK;
}

foil_status foilOpSetOutput(FoilOpCtx *c, int k, foil_dtype dt, int ndim, const int64_t *shape)
{
    if (ndim > FOIL_MAX_DIMS)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "output rank %d exceeds the maximum of %d", ndim,
                               FOIL_MAX_DIMS);
    foil_status st = foil_tensor_set_shape(c->out[k], dt, ndim, shape);
    if (st) return foilNodeError(c, st, "output %d: %s", k, foil_last_error());
    return FOIL_OK;
}

/*
 * The view family's forward and backward. The output holds the same elements
 * in the same order as the input:
 *   out[i] = in[i]            for i in [0, numel)
 * so the gradient is the identity:
 *   d_in[i] += d_out[i]
 */
static foil_status view_forward(FoilOpCtx *c)
{
    size_t bytes = foil_tensor_nbytes(c->in[0]);
    if (bytes && c->out[0]->data != c->in[0]->data) memcpy(c->out[0]->data, c->in[0]->data, bytes);
    return FOIL_OK;
}

static void view_backward(FoilOpCtx *c)
{
    if (!c->d_in || !c->d_in[0] || !c->d_out || !c->d_out[0]) return;
    if (c->d_in[0]->dtype != FOIL_F32 || c->d_out[0]->dtype != FOIL_F32) return;
    if (foilGradFresh(c, 0)) memcpy(c->d_in[0]->data, c->d_out[0]->data, foil_tensor_nbytes(c->d_in[0]));
    else add_f32(foil_f32(c->d_in[0]), foil_f32(c->d_out[0]), c->d_in[0]->numel);
}

/* ------------------------------------------------------------------------- */
/* Flatten: (d0..d_{a-1}, d_a..d_{r-1}) -> (prod(d0..d_{a-1}), prod(d_a..))   */
/* axis in [-r, r] (negative from opset 11), default 1.                      */

static foil_status flatten_init(FoilNode *n) { return foilOpCheckAttr(n, "axis", FOIL_ATTR_INT); }

static foil_status flatten_infer(FoilOpCtx *c)
{
    foil_status st = foilOpCheckArity(c, 1, 1);
    if (st) return st;
    const foil_tensor *x = c->in[0];
    int64_t axis = foilAttrInt(c->node, "axis", 1);
    int r = x->ndim;
    if (axis < -r || axis > r)
        return foilNodeError(c, FOIL_ERR_FORMAT, "axis %lld is out of range [%d, %d] for a rank-%d input",
                               (long long)axis, -r, r, r);
    if (axis < 0) axis += r;
    int64_t shape[2] = {1, 1};
    for (int i = 0; i < r; i++) shape[i < axis ? 0 : 1] *= x->shape[i];
    return foilOpSetOutput(c, 0, x->dtype, 2, shape);
}

const FoilOp foilOpFlatten = {
    .type = "Flatten", .grad_inputs = 1u,
    .init = flatten_init, .infer = flatten_infer, .forward = view_forward, .backward = view_backward,
    .writes_grads = 1u,
};

/* ------------------------------------------------------------------------- */
/* Reshape: data, shape (int64, known at plan time; opset < 5: attribute).   */
/* 0 copies the input's dim at that position (unless allowzero=1, opset 14), */
/* one -1 is inferred from the element count.                                */

static foil_status reshape_init(FoilNode *n)
{
    foil_status st;
    if ((st = foilOpCheckAttr(n, "allowzero", FOIL_ATTR_INT))) return st;
    if (n->opset < 5) {
        const int64_t *v;
        if (foilAttrInts(n, "shape", &v) < 0)
            return foilNodeInitError(n, FOIL_ERR_FORMAT, "attribute 'shape' (ints) is required before opset 5");
    }
    return FOIL_OK;
}

static foil_status reshape_infer(FoilOpCtx *c)
{
    int opset = c->node->opset;
    foil_status st = foilOpCheckArity(c, opset < 5 ? 1 : 2, 2);
    if (st) return st;
    const foil_tensor *x = c->in[0];
    int64_t req[FOIL_MAX_DIMS + 1];
    int n;
    if (opset < 5) {
        const int64_t *v;
        n = foilAttrInts(c->node, "shape", &v);
        if (n > FOIL_MAX_DIMS)
            return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "shape has %d values (at most %d supported)", n,
                                   FOIL_MAX_DIMS);
        for (int i = 0; i < n; i++) req[i] = v[i];
    } else if ((st = foilKnownInts(c, 1, "shape", req, FOIL_MAX_DIMS, &n))) {
        return st;
    }
    int allowzero = opset >= 14 && foilAttrInt(c->node, "allowzero", 0) != 0;
    int64_t shape[FOIL_MAX_DIMS];
    int infer_at = -1, has_zero = 0;
    int64_t known = 1;
    for (int i = 0; i < n; i++) {
        int64_t d = req[i];
        if (d == -1) {
            if (infer_at >= 0) return foilNodeError(c, FOIL_ERR_FORMAT, "shape has more than one -1");
            infer_at = i;
            shape[i] = 1;
            continue;
        }
        if (d < -1) return foilNodeError(c, FOIL_ERR_FORMAT, "shape[%d] = %lld is invalid", i, (long long)d);
        if (d == 0 && !allowzero) {
            if (i >= x->ndim)
                return foilNodeError(c, FOIL_ERR_FORMAT,
                                       "shape[%d] = 0 copies input dimension %d, but the input has rank %d", i,
                                       i, x->ndim);
            d = x->shape[i];
        }
        if (d == 0) has_zero = 1;
        shape[i] = d;
        if (d > 0 && known > INT64_MAX / d)
            return foilNodeError(c, FOIL_ERR_FORMAT, "shape's element count overflows");
        known *= d;
    }
    if (allowzero && has_zero && infer_at >= 0)
        return foilNodeError(c, FOIL_ERR_FORMAT, "with allowzero=1 the shape may not contain both 0 and -1");
    if (infer_at >= 0) {
        if (known == 0 || x->numel % known != 0) {
            char buf[96];
            return foilNodeError(c, FOIL_ERR_SHAPE, "cannot infer the -1 in shape: input %s has %lld elements",
                                   foil_shape_str(x, buf, sizeof buf), (long long)x->numel);
        }
        shape[infer_at] = x->numel / known;
        known = x->numel;
    }
    if (known != x->numel) {
        char buf[96];
        return foilNodeError(c, FOIL_ERR_SHAPE, "cannot reshape input %s (%lld elements) to %lld elements",
                               foil_shape_str(x, buf, sizeof buf), (long long)x->numel, (long long)known);
    }
    return foilOpSetOutput(c, 0, x->dtype, n, shape);
}

const FoilOp foilOpReshape = {
    .type = "Reshape", .grad_inputs = 1u,
    .init = reshape_init, .infer = reshape_infer, .forward = view_forward, .backward = view_backward,
    .writes_grads = 1u,
};

/* ------------------------------------------------------------------------- */
/* Squeeze / Unsqueeze: axes as attribute (opset < 13) or optional input     */
/* (opset >= 13, known at plan time). Negative and unsorted axes allowed.    */

static foil_status axes_init(FoilNode *n) { return foilOpCheckAttr(n, "axes", FOIL_ATTR_INTS); }

/* The axes list: attribute before opset 13, optional input 1 after. *n = -1
 * when absent. */
static foil_status get_axes(FoilOpCtx *c, int64_t *axes, int *n)
{
    *n = -1;
    if (c->node->opset < 13) {
        const int64_t *v;
        int k = foilAttrInts(c->node, "axes", &v);
        if (k > FOIL_MAX_DIMS)
            return foilNodeError(c, FOIL_ERR_FORMAT, "axes has %d values (at most %d possible)", k,
                                   FOIL_MAX_DIMS);
        for (int i = 0; i < k; i++) axes[i] = v[i];
        *n = k;
        return FOIL_OK;
    }
    if (c->n_in < 2 || !c->in[1]) return FOIL_OK;
    return foilKnownInts(c, 1, "axes", axes, FOIL_MAX_DIMS, n);
}

static foil_status squeeze_infer(FoilOpCtx *c)
{
    foil_status st = foilOpCheckArity(c, 1, 2);
    if (st) return st;
    const foil_tensor *x = c->in[0];
    int64_t axes[FOIL_MAX_DIMS];
    int n;
    if ((st = get_axes(c, axes, &n))) return st;
    int drop[FOIL_MAX_DIMS] = {0};
    if (n <= 0) { /* no axes, or an empty list (as ONNX Runtime): every 1 */
        for (int i = 0; i < x->ndim; i++) drop[i] = x->shape[i] == 1;
    } else {
        for (int k = 0; k < n; k++) {
            int a = foilNormAxis(axes[k], x->ndim);
            if (a < 0)
                return foilNodeError(c, FOIL_ERR_FORMAT, "axis %lld is out of range for a rank-%d input",
                                       (long long)axes[k], x->ndim);
            if (drop[a]) return foilNodeError(c, FOIL_ERR_FORMAT, "axis %lld is repeated", (long long)axes[k]);
            if (x->shape[a] != 1)
                return foilNodeError(c, FOIL_ERR_SHAPE, "cannot squeeze axis %d of size %lld (must be 1)", a,
                                       (long long)x->shape[a]);
            drop[a] = 1;
        }
    }
    int64_t shape[FOIL_MAX_DIMS];
    int r = 0;
    for (int i = 0; i < x->ndim; i++)
        if (!drop[i]) shape[r++] = x->shape[i];
    return foilOpSetOutput(c, 0, x->dtype, r, shape);
}

static foil_status unsqueeze_infer(FoilOpCtx *c)
{
    foil_status st = foilOpCheckArity(c, c->node->opset < 13 ? 1 : 2, 2);
    if (st) return st;
    const foil_tensor *x = c->in[0];
    int64_t axes[FOIL_MAX_DIMS];
    int n;
    if ((st = get_axes(c, axes, &n))) return st;
    if (n < 0) return foilNodeError(c, FOIL_ERR_FORMAT, "axes are required");
    int r = x->ndim + n;
    if (r > FOIL_MAX_DIMS)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "output rank %d exceeds the maximum of %d", r,
                               FOIL_MAX_DIMS);
    int is_new[FOIL_MAX_DIMS] = {0};
    for (int k = 0; k < n; k++) {
        int a = foilNormAxis(axes[k], r);
        if (a < 0)
            return foilNodeError(c, FOIL_ERR_FORMAT, "axis %lld is out of range for a rank-%d output",
                                   (long long)axes[k], r);
        if (is_new[a]) return foilNodeError(c, FOIL_ERR_FORMAT, "axis %lld is repeated", (long long)axes[k]);
        is_new[a] = 1;
    }
    int64_t shape[FOIL_MAX_DIMS];
    for (int i = 0, j = 0; i < r; i++) shape[i] = is_new[i] ? 1 : x->shape[j++];
    return foilOpSetOutput(c, 0, x->dtype, r, shape);
}

const FoilOp foilOpSqueeze = {
    .type = "Squeeze", .grad_inputs = 1u,
    .init = axes_init, .infer = squeeze_infer, .forward = view_forward, .backward = view_backward,
    .writes_grads = 1u,
};

const FoilOp foilOpUnsqueeze = {
    .type = "Unsqueeze", .grad_inputs = 1u,
    .init = axes_init, .infer = unsqueeze_infer, .forward = view_forward, .backward = view_backward,
    .writes_grads = 1u,
};

/* ------------------------------------------------------------------------- */
/* Identity                                                                  */

static foil_status identity_infer(FoilOpCtx *c)
{
    foil_status st = foilOpCheckArity(c, 1, 1);
    if (st) return st;
    return foilOpSetOutput(c, 0, c->in[0]->dtype, c->in[0]->ndim, c->in[0]->shape);
}

const FoilOp foilOpIdentity = {
    .type = "Identity", .grad_inputs = 1u,
    .infer = identity_infer, .forward = view_forward, .backward = view_backward,
    .writes_grads = 1u,
};

/* ------------------------------------------------------------------------- */
/* Shape: the input's dimensions as int64 [k]; opset 15 slices them with     */
/* start/end (negative from the back, clamped to [0, r]). Reads only         */
/* in[0]->shape: the planner evaluates it before the input's data exists.    */

static foil_status shape_init(FoilNode *n)
{
    foil_status st;
    if ((st = foilOpCheckAttr(n, "start", FOIL_ATTR_INT))) return st;
    return foilOpCheckAttr(n, "end", FOIL_ATTR_INT);
}

static void shape_range(const FoilOpCtx *c, int *start, int *end)
{
    int r = c->in[0]->ndim;
    int64_t s = 0, e = r;
    if (c->node->opset >= 15) {
        s = foilAttrInt(c->node, "start", 0);
        e = foilAttrInt(c->node, "end", r);
    }
    if (s < 0) s += r;
    if (e < 0) e += r;
    s = s < 0 ? 0 : s > r ? r : s;
    e = e < 0 ? 0 : e > r ? r : e;
    *start = (int)s;
    *end = (int)(e > s ? e : s);
}

static foil_status shape_infer(FoilOpCtx *c)
{
    if (c->n_in != 1 || !c->in[0])
        return foilNodeError(c, FOIL_ERR_FORMAT, "expects 1 input, got %d", c->n_in);
    if (c->n_out < 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "output 0 is missing");
    int s, e;
    shape_range(c, &s, &e);
    int64_t k = e - s;
    return foilOpSetOutput(c, 0, FOIL_I64, 1, &k);
}

static foil_status shape_forward(FoilOpCtx *c)
{
    int s, e;
    shape_range(c, &s, &e);
    int64_t *y = foil_i64(c->out[0]);
    for (int i = s; i < e; i++) y[i - s] = c->in[0]->shape[i];
    return FOIL_OK;
}

const FoilOp foilOpShape = {
    .type = "Shape", .grad_inputs = 0u,
    .init = shape_init, .infer = shape_infer, .forward = shape_forward, .backward = NULL,
};

/* Size: the input's element count as an int64 scalar (read from the shape
 * alone, like Shape). */

static foil_status size_infer(FoilOpCtx *c)
{
    if (c->n_in != 1 || !c->in[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "expects 1 input, got %d", c->n_in);
    if (c->n_out < 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "output 0 is missing");
    return foilOpSetOutput(c, 0, FOIL_I64, 0, NULL);
}

static foil_status size_forward(FoilOpCtx *c)
{
    foil_i64(c->out[0])[0] = c->in[0]->numel;
    return FOIL_OK;
}

const FoilOp foilOpSize = {.type = "Size", .infer = size_infer, .forward = size_forward};

/* ------------------------------------------------------------------------- */
/* Constant: attribute value (a tensor), or from opset 12 value_float,        */
/* value_floats, value_int, value_ints. The tensor is built once in init.    */

typedef struct constant_state {
    foil_tensor t; /* borrows the 'value' attribute's data, or owns a small copy */
} constant_state;

static void constant_destroy(FoilNode *n)
{
    constant_state *s = n->state;
    if (s) foil_tensor_free(&s->t);
    free(s);
    n->state = NULL;
}

static foil_status constant_init(FoilNode *n)
{
    static const char *const unsupported[] = {"sparse_value", "value_string", "value_strings"};
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
        if (foilAttrGet(n, unsupported[i]))
            return foilNodeInitError(n, FOIL_ERR_UNSUPPORTED, "attribute '%s' is not supported",
                                        unsupported[i]);
    static const char *const names[] = {"value", "value_float", "value_floats", "value_int", "value_ints"};
    static const FoilAttrType types[] = {FOIL_ATTR_TENSOR, FOIL_ATTR_FLOAT, FOIL_ATTR_FLOATS, FOIL_ATTR_INT,
                                           FOIL_ATTR_INTS};
    const FoilAttr *a = NULL;
    int which = -1;
    for (int i = 0; i < 5; i++) {
        const FoilAttr *b = foilAttrGet(n, names[i]);
        if (!b) continue;
        if (a) return foilNodeInitError(n, FOIL_ERR_FORMAT, "exactly one value attribute is allowed, got '%s' and '%s'",
                                           names[which], names[i]);
        if (b->type != types[i])
            return foilNodeInitError(n, FOIL_ERR_FORMAT, "attribute '%s' has the wrong type %d", names[i],
                                        (int)b->type);
        if (i > 0 && n->opset < 12)
            return foilNodeInitError(n, FOIL_ERR_FORMAT, "attribute '%s' needs opset 12 (model has %d)",
                                        names[i], n->opset);
        a = b;
        which = i;
    }
    if (!a) return foilNodeInitError(n, FOIL_ERR_FORMAT, "a 'value' attribute is required");
    constant_state *s = calloc(1, sizeof *s);
    if (!s) return foilNodeInitError(n, FOIL_ERR_NOMEM, "out of memory");
    foil_status st = FOIL_OK;
    int64_t len;
    switch (which) {
    case 0:
        if (!a->t || foil_dtype_size(a->t->dtype) == 0) {
            st = foilNodeInitError(n, FOIL_ERR_UNSUPPORTED, "the value tensor's element type %d is not supported",
                                      a->t ? (int)a->t->dtype : -1);
            break;
        }
        if (a->t->numel && !a->t->data) {
            st = foilNodeInitError(n, FOIL_ERR_FORMAT, "the value tensor has no data");
            break;
        }
        s->t = *a->t;
        s->t.owns_data = 0;
        break;
    case 1:
        if (!(st = foil_tensor_alloc(&s->t, FOIL_F32, 0, NULL))) foil_f32(&s->t)[0] = a->f;
        break;
    case 2:
        len = a->n;
        if (!(st = foil_tensor_alloc(&s->t, FOIL_F32, 1, &len)) && len) memcpy(s->t.data, a->floats, (size_t)len * 4);
        break;
    case 3:
        if (!(st = foil_tensor_alloc(&s->t, FOIL_I64, 0, NULL))) foil_i64(&s->t)[0] = a->i;
        break;
    default:
        len = a->n;
        if (!(st = foil_tensor_alloc(&s->t, FOIL_I64, 1, &len)) && len) memcpy(s->t.data, a->ints, (size_t)len * 8);
        break;
    }
    if (st) {
        if (which > 0) st = foilNodeInitError(n, st, "%s", foil_last_error());
        foil_tensor_free(&s->t);
        free(s);
        return st;
    }
    n->state = s;
    return FOIL_OK;
}

static foil_status constant_infer(FoilOpCtx *c)
{
    if (c->n_in != 0) return foilNodeError(c, FOIL_ERR_FORMAT, "expects no inputs, got %d", c->n_in);
    if (c->n_out < 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "output 0 is missing");
    const constant_state *s = c->node->state;
    if (!s) return foilNodeError(c, FOIL_ERR_RUNTIME, "not initialized");
    return foilOpSetOutput(c, 0, s->t.dtype, s->t.ndim, s->t.shape);
}

static foil_status constant_forward(FoilOpCtx *c)
{
    const constant_state *s = c->node->state;
    size_t bytes = foil_tensor_nbytes(&s->t);
    if (bytes) memcpy(c->out[0]->data, s->t.data, bytes);
    return FOIL_OK;
}

const FoilOp foilOpConstant = {
    .type = "Constant", .grad_inputs = 0u,
    .init = constant_init, .infer = constant_infer, .forward = constant_forward, .backward = NULL,
    .destroy = constant_destroy,
};

/* ------------------------------------------------------------------------- */
/* Dropout.                                                                  */
/*   opset < 12: attribute ratio (0.5); opset 6 also is_test (ignored: the   */
/*     engine's training flag decides, as in every runtime).                 */
/*   opset >= 12: optional inputs ratio (float scalar) and training_mode     */
/*     (bool scalar), read at forward time.                                  */
/*   Optional output mask: bool from opset 10, the data's type before.       */
/* Training (c->training, or training_mode true) with ratio r > 0:           */
/*   keep_i = u_i >= r, u_i uniform in [0, 1) from the counter-based RNG     */
/*   keyed by c->seed (draw i for element i, so threads do not matter);      */
/*   y_i = keep_i * x_i / (1 - r). Otherwise y = x and the mask is all true. */

typedef struct dropout_saved {
    float scale; /* 1/(1-r) when active; unused otherwise */
    int active;  /* the last forward dropped elements (mask below is valid) */
} dropout_saved;

#define DROPOUT_MASK_OFFSET 64 /* the uint8 mask follows the header, aligned */

static foil_status dropout_init(FoilNode *n)
{
    foil_status st;
    if ((st = foilOpCheckAttr(n, "ratio", FOIL_ATTR_FLOAT))) return st;
    if ((st = foilOpCheckAttr(n, "is_test", FOIL_ATTR_INT))) return st;
    if ((st = foilOpCheckAttr(n, "seed", FOIL_ATTR_INT))) return st;
    if (n->opset < 12) {
        float r = foilAttrFloat(n, "ratio", 0.5f);
        if (!(r >= 0.0f && r <= 1.0f))
            return foilNodeInitError(n, FOIL_ERR_FORMAT, "ratio %g is outside [0, 1]", (double)r);
    }
    return FOIL_OK;
}

static foil_status dropout_infer(FoilOpCtx *c)
{
    int opset = c->node->opset;
    foil_status st = foilOpCheckArity(c, 1, opset >= 12 ? 3 : 1);
    if (st) return st;
    const foil_tensor *x = c->in[0];
    if (x->dtype != FOIL_F32 && x->dtype != FOIL_F64)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "data must be float32 or float64, got %s",
                               foil_dtype_name(x->dtype));
    if (c->n_in > 1 && c->in[1]) {
        const foil_tensor *r = c->in[1];
        if ((r->dtype != FOIL_F32 && r->dtype != FOIL_F64) || r->numel != 1)
            return foilNodeError(c, FOIL_ERR_FORMAT, "ratio must be a float scalar");
    }
    if (c->n_in > 2 && c->in[2]) {
        const foil_tensor *t = c->in[2];
        if (t->dtype != FOIL_BOOL || t->numel != 1)
            return foilNodeError(c, FOIL_ERR_FORMAT, "training_mode must be a bool scalar");
    }
    if (c->n_out > 2) return foilNodeError(c, FOIL_ERR_FORMAT, "expects at most 2 outputs, got %d", c->n_out);
    if ((st = foilOpSetOutput(c, 0, x->dtype, x->ndim, x->shape))) return st;
    if (c->n_out > 1 && c->out[1] && (st = foilOpSetOutput(c, 1, opset >= 10 ? FOIL_BOOL : x->dtype, x->ndim, x->shape)))
        return st;
    c->work_bytes = DROPOUT_MASK_OFFSET + (size_t)x->numel;
    return FOIL_OK;
}

static foil_status dropout_forward(FoilOpCtx *c)
{
    const foil_tensor *x = c->in[0];
    foil_tensor *y = c->out[0];
    foil_tensor *mask_out = c->n_out > 1 ? c->out[1] : NULL;
    dropout_saved *saved = c->work;
    uint8_t *mask = (uint8_t *)c->work + DROPOUT_MASK_OFFSET;
    const int64_t n = x->numel;

    double ratio = 0.5;
    int training = c->training != 0;
    if (c->node->opset >= 12) {
        if (c->n_in > 1 && c->in[1])
            ratio = c->in[1]->dtype == FOIL_F32 ? (double)foil_f32(c->in[1])[0] : ((const double *)c->in[1]->data)[0];
        if (c->n_in > 2 && c->in[2] && ((const uint8_t *)c->in[2]->data)[0]) training = 1;
    } else {
        ratio = foilAttrFloat(c->node, "ratio", 0.5f);
    }
    if (!(ratio >= 0.0 && ratio <= 1.0))
        return foilNodeError(c, FOIL_ERR_ARG, "ratio %g is outside [0, 1]", ratio);

    saved->active = training && ratio > 0.0;
    if (!saved->active) {
        view_forward(c);
        memset(mask, 1, (size_t)n);
    } else {
        /* Keep with probability 1 - ratio; ratio 1 drops everything. */
        const float r = (float)ratio;
        const float scale = ratio < 1.0 ? (float)(1.0 / (1.0 - ratio)) : 0.0f;
        const uint64_t key = c->seed;
        saved->scale = scale;
        if (x->dtype == FOIL_F32) {
            const float *xp = foil_f32(x);
            float *yp = foil_f32(y);
#pragma omp parallel for if (n > PAR_MIN) schedule(static)
            for (int64_t i = 0; i < n; i++) {
                float u = (float)(foil_rng_at(key, (uint64_t)i) >> 40) * (1.0f / 16777216.0f);
                uint8_t keep = u >= r;
                mask[i] = keep;
                yp[i] = keep ? xp[i] * scale : 0.0f;
            }
        } else {
            const double *xp = x->data;
            double *yp = y->data;
            const double dscale = ratio < 1.0 ? 1.0 / (1.0 - ratio) : 0.0;
#pragma omp parallel for if (n > PAR_MIN) schedule(static)
            for (int64_t i = 0; i < n; i++) {
                float u = (float)(foil_rng_at(key, (uint64_t)i) >> 40) * (1.0f / 16777216.0f);
                uint8_t keep = u >= r;
                mask[i] = keep;
                yp[i] = keep ? xp[i] * dscale : 0.0;
            }
        }
    }
    if (mask_out) {
        if (mask_out->dtype == FOIL_BOOL) {
            memcpy(mask_out->data, mask, (size_t)n);
        } else if (mask_out->dtype == FOIL_F32) {
            float *m = foil_f32(mask_out);
            for (int64_t i = 0; i < n; i++) m[i] = mask[i];
        } else {
            double *m = mask_out->data;
            for (int64_t i = 0; i < n; i++) m[i] = mask[i];
        }
    }
    return FOIL_OK;
}

/*
 * In the forward pass this was:
 *   y_i = keep_i * x_i * scale    (active), or y_i = x_i (inactive)
 * so dy_i/dx_i = keep_i * scale, and:
 *   d_x_i += d_y_i * keep_i * scale
 */
static void dropout_backward(FoilOpCtx *c)
{
    if (!c->d_in || !c->d_in[0] || !c->d_out || !c->d_out[0]) return;
    if (c->d_in[0]->dtype != FOIL_F32) return;
    const dropout_saved *saved = c->work;
    if (!saved->active) {
        view_backward(c);
        return;
    }
    const uint8_t *mask = (const uint8_t *)c->work + DROPOUT_MASK_OFFSET;
    float *dx = foil_f32(c->d_in[0]);
    const float *dy = foil_f32(c->d_out[0]);
    const float scale = saved->scale;
    const int64_t n = c->d_in[0]->numel;
#pragma omp parallel for simd if (n > PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) dx[i] += mask[i] ? dy[i] * scale : 0.0f;
}

const FoilOp foilOpDropout = {
    .type = "Dropout", .grad_inputs = 1u,
    .init = dropout_init, .infer = dropout_infer, .forward = dropout_forward, .backward = dropout_backward,
};
