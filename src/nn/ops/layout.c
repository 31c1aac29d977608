/*
 * nn/ops/layout.c - ops that move elements: Transpose, Concat, Pad, Gather,
 * GatherElements, ScatterElements (and its old name Scatter).
 *
 * What this file is: dtype-generic data movement (elements are copied by
 * size: 1, 2, 4 or 8 bytes; int64 shape tensors, uint8 images and bool masks
 * flow through these ops as well as float32), with float32 gradients.
 * What it deliberately is not: a general strided-tensor library. Every op
 * reduces its problem to a few plain loops over contiguous memory; shapes
 * are row-major, and "outer x axis x inner" decompositions are used
 * throughout: for an axis a of a shape (d0..d_{r-1}),
 *   outer = d0 * .. * d_{a-1},  inner = d_{a+1} * .. * d_{r-1}.
 *
 * Plan-dependent values (pads, index maps) are recomputed from the ctx in
 * forward from inputs known at plan time; scratch lives in c->work, sized by
 * infer. Nothing here allocates after infer.
 */
#include <string.h>

#include "nn/op.h"
#include "nn/ops/op_checks.h"

#define PAR_MIN ((int64_t)1 << 15) /* elements below which loops stay serial */

/* One output, as every op here has. */
static foil_status check_io(FoilOpCtx *c, int min_in, int max_in)
{
    foil_status st = foilOpCheckArity(c, min_in, max_in);
    if (!st && c->n_out != 1) st = foilNodeError(c, FOIL_ERR_FORMAT, "expects 1 output, got %d", c->n_out);
    return st;
}

/* ========================================================================= */
/* Transpose                                                                 */
/*   out[i_0, .., i_{r-1}] = in[j] where j_{perm[k]} = i_k                   */
/* i.e. output dim k is input dim perm[k]; perm defaults to reversed.        */
/*                                                                           */
/* The kernel first simplifies the problem: size-1 dims are dropped and      */
/* output dims that are also adjacent (in order) in the input are merged, so */
/* NCHW->NHWC becomes a batch of (C, HW) -> (HW, C) matrix transposes. Then  */
/*   - if the innermost output dim is contiguous in the input, rows are      */
/*     copied whole (memcpy);                                                */
/*   - otherwise the innermost output dim and the output dim that is         */
/*     innermost in the input form a 2-D transpose done in 32x32 tiles, for  */
/*     every index of the remaining dims.                                    */
/* Backward is the transpose of d_out by the inverse permutation, added.     */

typedef struct tp_plan {
    int r;                      /* rank after simplification */
    int64_t n[FOIL_MAX_DIMS];   /* output dim sizes */
    int64_t is[FOIL_MAX_DIMS];  /* input stride (elements) of each output dim */
    int64_t os[FOIL_MAX_DIMS];  /* output stride of each output dim */
    int64_t total;
} tp_plan;

static void tp_make(tp_plan *p, int rank, const int64_t *in_shape, const int *perm)
{
    int64_t istride[FOIL_MAX_DIMS];
    int64_t s = 1;
    for (int d = rank - 1; d >= 0; d--) {
        istride[d] = s;
        s *= in_shape[d];
    }
    p->total = s;
    p->r = 0;
    for (int k = 0; k < rank; k++) {
        int64_t n = in_shape[perm[k]], st = istride[perm[k]];
        if (n == 1) continue;
        if (p->r > 0 && p->is[p->r - 1] == st * n) {
            p->n[p->r - 1] *= n; /* contiguous in the input after the previous: merge */
            p->is[p->r - 1] = st;
            continue;
        }
        p->n[p->r] = n;
        p->is[p->r] = st;
        p->r++;
    }
    s = 1;
    for (int k = p->r - 1; k >= 0; k--) {
        p->os[k] = s;
        s *= p->n[k];
    }
}

#define TP_TILE 32

/* One kernel per element type and per store operation (copy, or += for
 * float32 gradients). `skip` are the two dims handled by the tile loop (or
 * one, the innermost, for the row-copy case); the others are walked by an
 * odometer, each thread starting from its first outer index. */
#define TP_KERNEL(NAME, T, STORE)                                                              \
    static void NAME(const tp_plan *p, const T *restrict in, T *restrict out)                  \
    {                                                                                          \
        const int r = p->r;                                                                    \
        if (p->total == 0) return;                                                             \
        if (r == 0) { STORE(out[0], in[0]); return; }                                          \
        const int last = r - 1;                                                                \
        int q = last; /* output dim with input stride 1 */                                     \
        for (int k = 0; k < r; k++)                                                            \
            if (p->is[k] == 1) q = k;                                                          \
        const int rowcopy = (q == last);                                                       \
        int64_t outer = 1;                                                                     \
        for (int k = 0; k < r; k++)                                                            \
            if (k != last && k != q) outer *= p->n[k];                                         \
        _Pragma("omp parallel if (p->total > PAR_MIN)")                                        \
        {                                                                                      \
            int nth = 1, tid = 0;                                                              \
            FOIL_TP_THREADS(nth, tid);                                                         \
            int64_t m0 = outer * tid / nth, m1 = outer * (tid + 1) / nth;                      \
            int64_t idx[FOIL_MAX_DIMS] = {0};                                                  \
            int64_t rem = m0, ioff = 0, ooff = 0;                                              \
            for (int k = r - 1; k >= 0; k--) {                                                 \
                if (k == last || k == q) continue;                                             \
                idx[k] = rem % p->n[k];                                                        \
                rem /= p->n[k];                                                                \
                ioff += idx[k] * p->is[k];                                                     \
                ooff += idx[k] * p->os[k];                                                     \
            }                                                                                  \
            for (int64_t m = m0; m < m1; m++) {                                                \
                const T *src = in + ioff;                                                      \
                T *dst = out + ooff;                                                           \
                if (rowcopy) {                                                                 \
                    const int64_t len = p->n[last];                                            \
                    for (int64_t j = 0; j < len; j++) STORE(dst[j], src[j]);                   \
                } else {                                                                       \
                    const int64_t A = p->n[q], B = p->n[last];                                 \
                    const int64_t isb = p->is[last], osa = p->os[q];                           \
                    for (int64_t a0 = 0; a0 < A; a0 += TP_TILE) {                              \
                        const int64_t a1 = a0 + TP_TILE < A ? a0 + TP_TILE : A;                \
                        for (int64_t b0 = 0; b0 < B; b0 += TP_TILE) {                          \
                            const int64_t b1 = b0 + TP_TILE < B ? b0 + TP_TILE : B;            \
                            for (int64_t a = a0; a < a1; a++)                                  \
                                for (int64_t b = b0; b < b1; b++)                              \
                                    STORE(dst[a * osa + b], src[a + b * isb]);                 \
                        }                                                                      \
                    }                                                                          \
                }                                                                              \
                /* advance the odometer over the outer dims */                                 \
                for (int k = r - 1; k >= 0; k--) {                                             \
                    if (k == last || k == q) continue;                                         \
                    if (++idx[k] < p->n[k]) {                                                  \
                        ioff += p->is[k];                                                      \
                        ooff += p->os[k];                                                      \
                        break;                                                                 \
                    }                                                                          \
                    ioff -= (p->n[k] - 1) * p->is[k];                                          \
                    ooff -= (p->n[k] - 1) * p->os[k];                                          \
                    idx[k] = 0;                                                                \
                }                                                                              \
            }                                                                                  \
        }                                                                                      \
    }

#ifdef _OPENMP
#include <omp.h>
#define FOIL_TP_THREADS(nth, tid) do { nth = omp_get_num_threads(); tid = omp_get_thread_num(); } while (0)
#else
#define FOIL_TP_THREADS(nth, tid) do { (void)nth; (void)tid; } while (0)
#endif

#define ST_COPY(d, s) ((d) = (s))
#define ST_ADD(d, s) ((d) += (s))
TP_KERNEL(tp_u8, uint8_t, ST_COPY)
TP_KERNEL(tp_u16, uint16_t, ST_COPY)
TP_KERNEL(tp_u32, uint32_t, ST_COPY)
TP_KERNEL(tp_u64, uint64_t, ST_COPY)
TP_KERNEL(tp_add_f32, float, ST_ADD)

static void tp_run(const tp_plan *p, size_t esize, const void *in, void *out)
{
    switch (esize) {
    case 1: tp_u8(p, in, out); break;
    case 2: tp_u16(p, in, out); break;
    case 4: tp_u32(p, in, out); break;
    default: tp_u64(p, in, out); break;
    }
}

static foil_status transpose_init(FoilNode *n)
{
    const int64_t *perm;
    int k = foilAttrInts(n, "perm", &perm);
    if (foilAttrGet(n, "perm") && k < 0)
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "attribute 'perm' must be a list of ints");
    if (k > FOIL_MAX_DIMS)
        return foilNodeInitError(n, FOIL_ERR_UNSUPPORTED, "perm has %d values (at most %d supported)", k,
                                    FOIL_MAX_DIMS);
    int seen[FOIL_MAX_DIMS] = {0};
    for (int i = 0; i < k; i++) {
        if (perm[i] < 0 || perm[i] >= k || seen[perm[i]])
            return foilNodeInitError(n, FOIL_ERR_FORMAT, "perm is not a permutation of 0..%d", k - 1);
        seen[perm[i]] = 1;
    }
    return FOIL_OK;
}

/* The permutation for a rank-r input (the attribute, or reversed) and, when
 * inv is not NULL, its inverse inv[perm[i]] = i. The inverse is filled as
 * each perm[i] is made: a separate loop over perm[0..r) lets gcc (AVX-512
 * gathers and scatters, -O3) lose track of which elements were written and
 * warn that perm may be used uninitialized. */
static void transpose_perm(const FoilNode *n, int r, int *perm, int *inv)
{
    const int64_t *v;
    int k = foilAttrInts(n, "perm", &v);
    for (int i = 0; i < r; i++) {
        const int p = k >= 0 ? (int)v[i] : r - 1 - i;
        perm[i] = p;
        if (inv) inv[p] = i;
    }
}

static foil_status transpose_infer(FoilOpCtx *c)
{
    foil_status st = check_io(c, 1, 1);
    if (st) return st;
    const foil_tensor *x = c->in[0];
    const int64_t *v;
    int k = foilAttrInts(c->node, "perm", &v);
    if (k >= 0 && k != x->ndim)
        return foilNodeError(c, FOIL_ERR_SHAPE, "perm has %d values but the input has rank %d", k, x->ndim);
    int perm[FOIL_MAX_DIMS];
    transpose_perm(c->node, x->ndim, perm, NULL);
    int64_t shape[FOIL_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[perm[i]];
    return foilOpSetOutput(c, 0, x->dtype, x->ndim, shape);
}

static foil_status transpose_forward(FoilOpCtx *c)
{
    const foil_tensor *x = c->in[0];
    int perm[FOIL_MAX_DIMS];
    transpose_perm(c->node, x->ndim, perm, NULL);
    tp_plan p;
    tp_make(&p, x->ndim, x->shape, perm);
    tp_run(&p, foil_dtype_size(x->dtype), x->data, c->out[0]->data);
    return FOIL_OK;
}

/*
 * In the forward pass this was: out[i] = in[j] with j_{perm[k]} = i_k, a
 * bijection between elements, so d_in[j] += d_out[i] for the same pairs: the
 * transpose of d_out (whose shape is the output's) by the inverse permutation
 * inv[perm[k]] = k.
 */
static void transpose_backward(FoilOpCtx *c)
{
    if (!c->d_in || !c->d_in[0] || !c->d_out || !c->d_out[0] || c->d_in[0]->dtype != FOIL_F32) return;
    const foil_tensor *dy = c->d_out[0];
    int r = dy->ndim, perm[FOIL_MAX_DIMS], inv[FOIL_MAX_DIMS];
    transpose_perm(c->node, r, perm, inv);
    tp_plan p;
    tp_make(&p, r, dy->shape, inv);
    tp_add_f32(&p, foil_f32(dy), foil_f32(c->d_in[0]));
}

const FoilOp foilOpTranspose = {
    .type = "Transpose", .grad_inputs = 1u,
    .init = transpose_init, .infer = transpose_infer, .forward = transpose_forward, .backward = transpose_backward,
};

/* ========================================================================= */
/* Concat: out = [in_0, in_1, ...] along axis (negative from the back).      */
/* With outer/inner around the axis, each input contributes a contiguous     */
/* block of d_i * inner elements to every outer row:                         */
/*   out[o, off_i + j] = in_i[o, j],  j < d_i * inner                         */

static foil_status concat_init(FoilNode *n)
{
    foil_status st = foilOpCheckAttr(n, "axis", FOIL_ATTR_INT);
    if (st) return st;
    if (n->opset >= 4 && !foilAttrGet(n, "axis"))
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "attribute 'axis' is required");
    return FOIL_OK;
}

static int concat_axis(const FoilOpCtx *c, int r)
{
    return foilNormAxis(foilAttrInt(c->node, "axis", 1), r);
}

static foil_status concat_infer(FoilOpCtx *c)
{
    if (c->n_in < 1) return foilNodeError(c, FOIL_ERR_FORMAT, "expects at least 1 input");
    foil_status st = check_io(c, c->n_in, c->n_in);
    if (st) return st;
    const foil_tensor *x0 = c->in[0];
    int r = x0->ndim;
    if (r == 0) return foilNodeError(c, FOIL_ERR_SHAPE, "cannot concatenate scalars");
    int axis = concat_axis(c, r);
    if (axis < 0)
        return foilNodeError(c, FOIL_ERR_FORMAT, "axis %lld is out of range for rank %d",
                               (long long)foilAttrInt(c->node, "axis", 1), r);
    int64_t shape[FOIL_MAX_DIMS];
    memcpy(shape, x0->shape, sizeof shape);
    shape[axis] = 0;
    for (int i = 0; i < c->n_in; i++) {
        const foil_tensor *x = c->in[i];
        char b0[96], b1[96];
        if (x->dtype != x0->dtype)
            return foilNodeError(c, FOIL_ERR_FORMAT, "input %d is %s but input 0 is %s", i,
                                   foil_dtype_name(x->dtype), foil_dtype_name(x0->dtype));
        int ok = x->ndim == r;
        for (int d = 0; ok && d < r; d++) ok = d == axis || x->shape[d] == x0->shape[d];
        if (!ok)
            return foilNodeError(c, FOIL_ERR_SHAPE, "input %d has shape %s, incompatible with input 0 %s on axis %d",
                                   i, foil_shape_str(x, b0, sizeof b0), foil_shape_str(x0, b1, sizeof b1), axis);
        shape[axis] += x->shape[axis];
    }
    return foilOpSetOutput(c, 0, x0->dtype, r, shape);
}

static foil_status concat_forward(FoilOpCtx *c)
{
    const foil_tensor *y = c->out[0];
    int r = y->ndim, axis = concat_axis(c, r);
    size_t es = foil_dtype_size(y->dtype);
    int64_t outer = foilShapeProd(y->shape, 0, axis), inner = foilShapeProd(y->shape, axis + 1, r);
    size_t orow = (size_t)(y->shape[axis] * inner) * es;
    size_t off = 0;
    for (int i = 0; i < c->n_in; i++) {
        const foil_tensor *x = c->in[i];
        size_t irow = (size_t)(x->shape[axis] * inner) * es;
        const char *src = x->data;
        char *dst = (char *)y->data + off;
        if (irow) {
#pragma omp parallel for if (x->numel > PAR_MIN && outer > 1) schedule(static)
            for (int64_t o = 0; o < outer; o++) memcpy(dst + (size_t)o * orow, src + (size_t)o * irow, irow);
        }
        off += irow;
    }
    return FOIL_OK;
}

/* In the forward pass this was: out[o, off_i + j] = in_i[o, j], so
 * d_in_i[o, j] += d_out[o, off_i + j]: the gradient is split back. */
static void concat_backward(FoilOpCtx *c)
{
    if (!c->d_in || !c->d_out || !c->d_out[0] || c->d_out[0]->dtype != FOIL_F32) return;
    const foil_tensor *dy = c->d_out[0];
    int r = dy->ndim, axis = concat_axis(c, r);
    int64_t outer = foilShapeProd(dy->shape, 0, axis), inner = foilShapeProd(dy->shape, axis + 1, r);
    int64_t orow = dy->shape[axis] * inner, off = 0;
    for (int i = 0; i < c->n_in; i++) {
        int64_t irow = c->in[i]->shape[axis] * inner;
        if (c->d_in[i] && irow) {
            float *dx = foil_f32(c->d_in[i]);
            const float *g = foil_f32(dy) + off;
#pragma omp parallel for if (c->in[i]->numel > PAR_MIN && outer > 1) schedule(static)
            for (int64_t o = 0; o < outer; o++) {
                float *restrict a = dx + o * irow;
                const float *restrict b = g + o * orow;
                for (int64_t j = 0; j < irow; j++) a[j] += b[j];
            }
        }
        off += irow;
    }
}

const FoilOp foilOpConcat = {
    .type = "Concat", .grad_inputs = 0xffffffffu,
    .init = concat_init, .infer = concat_infer, .forward = concat_forward, .backward = concat_backward,
};

/* ========================================================================= */
/* Pad                                                                       */
/*   opset < 11: attributes pads, value (float, 0); opset >= 11: inputs      */
/*   data, pads (int64 [2*n], known at plan time), constant_value (optional  */
/*   scalar of data's type); opset 18: optional axes (the n axes that pads   */
/*   refers to; others are not padded). pads = [b_0..b_{n-1}, e_0..e_{n-1}].*/
/*   mode: constant (default), reflect, edge.                                */
/*                                                                           */
/* Negative pads crop. As in ONNX Runtime the crop comes first: on each axis */
/* the source is the input range [lo, hi) = [max(0,-b), d - max(0,-e)) of    */
/* length m, which is then padded by max(0,b) before and max(0,e) after:     */
/*   out_d = m + max(0,b) + max(0,e)                                         */
/* Each axis gets an index map src(o) for o < out_d, with j = o - max(0,b):  */
/*   0 <= j < m:  src = lo + j                                               */
/*   otherwise:   constant: -1 (the fill value); edge: clamp j to [0, m-1];  */
/*                reflect: j mod 2(m-1), folded: j >= m -> 2(m-1) - j        */
/*                (numpy's reflect, also for pads wider than m; m = 1 repeats)*/
/* and out[o_0..o_{r-1}] = in[src_0(o_0), .., src_{r-1}(o_{r-1})].            */
/* The maps (sum of output dims, int64) live in c->work.                     */

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE };

typedef struct pad_geom {
    int r, mode;
    int64_t lo[FOIL_MAX_DIMS], m[FOIL_MAX_DIMS], before[FOIL_MAX_DIMS], out[FOIL_MAX_DIMS];
} pad_geom;

static int pad_mode(const FoilNode *n)
{
    const char *s = foilAttrString(n, "mode", "constant");
    if (strcmp(s, "constant") == 0) return PAD_CONSTANT;
    if (strcmp(s, "reflect") == 0) return PAD_REFLECT;
    if (strcmp(s, "edge") == 0) return PAD_EDGE;
    return -1;
}

static foil_status pad_init(FoilNode *n)
{
    foil_status st;
    if ((st = foilOpCheckAttr(n, "mode", FOIL_ATTR_STRING))) return st;
    if (pad_mode(n) < 0)
        return foilNodeInitError(n, strcmp(foilAttrString(n, "mode", ""), "wrap") == 0 ? FOIL_ERR_UNSUPPORTED
                                                                                               : FOIL_ERR_FORMAT,
                                    "mode '%s' is not supported (constant, reflect, edge)",
                                    foilAttrString(n, "mode", ""));
    if (n->opset < 11) {
        if ((st = foilOpCheckAttr(n, "value", FOIL_ATTR_FLOAT))) return st;
        const int64_t *v;
        if (foilAttrInts(n, "pads", &v) < 0)
            return foilNodeInitError(n, FOIL_ERR_FORMAT, "attribute 'pads' (ints) is required before opset 11");
    }
    return FOIL_OK;
}

/* Read a known int tensor input (int64 or int32) into vals; count in *n. */
static foil_status pad_read_ints(const FoilOpCtx *c, int i, const char *what, int64_t *vals, int max, int *n)
{
    const foil_tensor *t = c->in[i];
    if (!c->known || !c->known[i] || !t->data)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED,
                               "input '%s' must be known when the model is loaded (a constant or initializer); "
                               "data-dependent %s are not supported",
                               what, what);
    if (t->dtype != FOIL_I64 && t->dtype != FOIL_I32)
        return foilNodeError(c, FOIL_ERR_FORMAT, "input '%s' must be int64, got %s", what,
                               foil_dtype_name(t->dtype));
    if (t->ndim > 1) return foilNodeError(c, FOIL_ERR_FORMAT, "input '%s' must be 1-D", what);
    if (t->numel > max)
        return foilNodeError(c, FOIL_ERR_FORMAT, "input '%s' has %lld values (at most %d possible)", what,
                               (long long)t->numel, max);
    for (int64_t k = 0; k < t->numel; k++)
        vals[k] = t->dtype == FOIL_I64 ? ((const int64_t *)t->data)[k] : ((const int32_t *)t->data)[k];
    *n = (int)t->numel;
    return FOIL_OK;
}

/* Compute the geometry from attributes / known inputs (used by infer and,
 * identically, by forward and backward). */
static foil_status pad_geometry(const FoilOpCtx *c, pad_geom *g)
{
    const foil_tensor *x = c->in[0];
    const int r = x->ndim;
    int64_t raw[2 * FOIL_MAX_DIMS], axes_v[FOIL_MAX_DIMS];
    int npads, naxes = -1;
    foil_status st;
    if (c->node->opset < 11) {
        const int64_t *v;
        npads = foilAttrInts(c->node, "pads", &v);
        if (npads > 2 * FOIL_MAX_DIMS)
            return foilNodeError(c, FOIL_ERR_FORMAT, "pads has %d values for a rank-%d input", npads, r);
        for (int i = 0; i < npads; i++) raw[i] = v[i];
    } else if ((st = pad_read_ints(c, 1, "pads", raw, 2 * FOIL_MAX_DIMS, &npads))) {
        return st;
    }
    if (c->node->opset >= 18 && c->n_in > 3 && c->in[3] &&
        (st = pad_read_ints(c, 3, "axes", axes_v, FOIL_MAX_DIMS, &naxes)))
        return st;
    int axis_of[FOIL_MAX_DIMS];
    if (naxes < 0) {
        naxes = r;
        for (int i = 0; i < r; i++) axis_of[i] = i;
    } else {
        int seen[FOIL_MAX_DIMS] = {0};
        for (int i = 0; i < naxes; i++) {
            int a = foilNormAxis(axes_v[i], r);
            if (a < 0 || seen[a])
                return foilNodeError(c, FOIL_ERR_FORMAT, "axes[%d] = %lld is out of range or repeated", i,
                                       (long long)axes_v[i]);
            seen[a] = 1;
            axis_of[i] = a;
        }
    }
    if (npads != 2 * naxes)
        return foilNodeError(c, FOIL_ERR_FORMAT, "pads has %d values, expected %d (2 per padded axis, rank %d)",
                               npads, 2 * naxes, r);
    int64_t b[FOIL_MAX_DIMS] = {0}, e[FOIL_MAX_DIMS] = {0};
    for (int i = 0; i < naxes; i++) {
        b[axis_of[i]] = raw[i];
        e[axis_of[i]] = raw[naxes + i];
    }
    g->r = r;
    g->mode = pad_mode(c->node);
    for (int d = 0; d < r; d++) {
        const int64_t n = x->shape[d];
        if (b[d] < -n || e[d] < -n || b[d] > ((int64_t)1 << 40) || e[d] > ((int64_t)1 << 40))
            return foilNodeError(c, FOIL_ERR_FORMAT, "pads (%lld, %lld) on axis %d are out of range for size %lld",
                                   (long long)b[d], (long long)e[d], d, (long long)n);
        g->lo[d] = b[d] < 0 ? -b[d] : 0;
        g->m[d] = n - g->lo[d] - (e[d] < 0 ? -e[d] : 0);
        if (g->m[d] < 0)
            return foilNodeError(c, FOIL_ERR_SHAPE, "negative pads (%lld, %lld) crop more than axis %d's size %lld",
                                   (long long)b[d], (long long)e[d], d, (long long)n);
        g->before[d] = b[d] > 0 ? b[d] : 0;
        g->out[d] = g->m[d] + g->before[d] + (e[d] > 0 ? e[d] : 0);
        if (g->mode != PAD_CONSTANT && g->m[d] == 0 && g->out[d] > 0)
            return foilNodeError(c, FOIL_ERR_SHAPE, "cannot %s-pad axis %d: nothing is left to copy from",
                                   g->mode == PAD_EDGE ? "edge" : "reflect", d);
    }
    return FOIL_OK;
}

static foil_status pad_infer(FoilOpCtx *c)
{
    foil_status st = check_io(c, c->node->opset < 11 ? 1 : 2, c->node->opset < 11 ? 1 : (c->node->opset >= 18 ? 4 : 3));
    if (st) return st;
    const foil_tensor *x = c->in[0];
    if (c->n_in > 2 && c->in[2]) {
        const foil_tensor *v = c->in[2];
        if (v->dtype != x->dtype || v->numel > 1)
            return foilNodeError(c, FOIL_ERR_FORMAT, "constant_value must be a %s scalar",
                                   foil_dtype_name(x->dtype));
    }
    pad_geom g;
    if ((st = pad_geometry(c, &g))) return st;
    size_t maps = 0;
    for (int d = 0; d < g.r; d++) maps += (size_t)g.out[d];
    if ((st = foilOpSetOutput(c, 0, x->dtype, g.r, g.out))) return st;
    c->work_bytes = maps * sizeof(int64_t);
    return FOIL_OK;
}

/* Fill the per-axis source-index maps; returns pointers to each in map[d]. */
static void pad_maps(const pad_geom *g, int64_t *buf, int64_t **map)
{
    for (int d = 0; d < g->r; d++) {
        map[d] = buf;
        const int64_t m = g->m[d], lo = g->lo[d];
        for (int64_t o = 0; o < g->out[d]; o++) {
            int64_t j = o - g->before[d];
            if (j < 0 || j >= m) {
                if (g->mode == PAD_CONSTANT) {
                    buf[o] = -1;
                    continue;
                }
                if (g->mode == PAD_EDGE || m == 1) {
                    j = j < 0 ? 0 : m - 1;
                } else {
                    const int64_t period = 2 * (m - 1);
                    j %= period;
                    if (j < 0) j += period;
                    if (j >= m) j = period - j;
                }
            }
            buf[o] = lo + j;
        }
        buf += g->out[d];
    }
}

/* Convert a double to one element of dtype dt at p (for the opset < 11
 * float attribute 'value'). */
static void store_scalar(double v, foil_dtype dt, void *p)
{
    switch (dt) {
    case FOIL_F32: *(float *)p = (float)v; break;
    case FOIL_F64: *(double *)p = v; break;
    case FOIL_U8: *(uint8_t *)p = (uint8_t)v; break;
    case FOIL_I8: *(int8_t *)p = (int8_t)v; break;
    case FOIL_U16: *(uint16_t *)p = (uint16_t)v; break;
    case FOIL_I16: *(int16_t *)p = (int16_t)v; break;
    case FOIL_I32: *(int32_t *)p = (int32_t)v; break;
    case FOIL_U32: *(uint32_t *)p = (uint32_t)v; break;
    case FOIL_I64: *(int64_t *)p = (int64_t)v; break;
    case FOIL_U64: *(uint64_t *)p = (uint64_t)v; break;
    case FOIL_BOOL: *(uint8_t *)p = v != 0; break;
    default: break;
    }
}

/* One output row (the last axis) of the pad: the middle part is contiguous
 * in the source; the borders go through the map. */
#define PAD_ROW(NAME, T)                                                                        \
    static void NAME(T *restrict dst, const T *restrict src, const int64_t *map, int64_t n,     \
                     int64_t mid0, int64_t mid1, T value, int constant_row)                     \
    {                                                                                           \
        if (constant_row) {                                                                     \
            for (int64_t o = 0; o < n; o++) dst[o] = value;                                     \
            return;                                                                             \
        }                                                                                       \
        for (int64_t o = 0; o < mid0; o++) dst[o] = map[o] < 0 ? value : src[map[o]];           \
        if (mid1 > mid0) memcpy(dst + mid0, src + map[mid0], (size_t)(mid1 - mid0) * sizeof(T)); \
        for (int64_t o = mid1; o < n; o++) dst[o] = map[o] < 0 ? value : src[map[o]];           \
    }
PAD_ROW(pad_row_u8, uint8_t)
PAD_ROW(pad_row_u16, uint16_t)
PAD_ROW(pad_row_u32, uint32_t)
PAD_ROW(pad_row_u64, uint64_t)

/* Source row offset (elements) of output row `row` (an index over all output
 * dims but the last), or -1 when some axis maps it to the fill value. */
static int64_t pad_src_row(const pad_geom *g, int64_t *const *map, const int64_t *istride, int64_t row)
{
    int64_t off = 0;
    for (int d = g->r - 2; d >= 0; d--) {
        int64_t o = row % g->out[d];
        row /= g->out[d];
        int64_t s = map[d][o];
        if (s < 0) return -1;
        off += s * istride[d];
    }
    return off;
}

static foil_status pad_forward(FoilOpCtx *c)
{
    const foil_tensor *x = c->in[0];
    foil_tensor *y = c->out[0];
    const size_t es = foil_dtype_size(x->dtype);
    if (x->ndim == 0) {
        memcpy(y->data, x->data, es);
        return FOIL_OK;
    }
    pad_geom g;
    foil_status st = pad_geometry(c, &g);
    if (st) return st;
    if (y->numel == 0) return FOIL_OK;
    int64_t *map[FOIL_MAX_DIMS];
    pad_maps(&g, c->work, map);

    uint64_t value = 0; /* the fill element's bytes */
    if (c->node->opset < 11)
        store_scalar(foilAttrFloat(c->node, "value", 0.0f), x->dtype, &value);
    else if (c->n_in > 2 && c->in[2] && c->in[2]->numel == 1)
        memcpy(&value, c->in[2]->data, es);

    const int r = g.r;
    int64_t istride[FOIL_MAX_DIMS], s = 1;
    for (int d = r - 1; d >= 0; d--) {
        istride[d] = s;
        s *= x->shape[d];
    }
    const int64_t W = g.out[r - 1], rows = y->numel / W;
    const int64_t mid0 = g.before[r - 1], mid1 = mid0 + g.m[r - 1];
    const int64_t *lmap = map[r - 1];
#pragma omp parallel for if (y->numel > PAR_MIN) schedule(static)
    for (int64_t row = 0; row < rows; row++) {
        int64_t off = pad_src_row(&g, map, istride, row);
        int cr = off < 0;
        if (cr) off = 0;
        switch (es) {
        case 1: {
            uint8_t v;
            memcpy(&v, &value, 1);
            pad_row_u8((uint8_t *)y->data + row * W, (const uint8_t *)x->data + off, lmap, W, mid0, mid1, v, cr);
            break;
        }
        case 2: {
            uint16_t v;
            memcpy(&v, &value, 2);
            pad_row_u16((uint16_t *)y->data + row * W, (const uint16_t *)x->data + off, lmap, W, mid0, mid1, v, cr);
            break;
        }
        case 4: {
            uint32_t v;
            memcpy(&v, &value, 4);
            pad_row_u32((uint32_t *)y->data + row * W, (const uint32_t *)x->data + off, lmap, W, mid0, mid1, v, cr);
            break;
        }
        default:
            pad_row_u64((uint64_t *)y->data + row * W, (const uint64_t *)x->data + off, lmap, W, mid0, mid1, value,
                        cr);
            break;
        }
    }
    return FOIL_OK;
}

/*
 * In the forward pass this was: out[o] = in[src(o)] (or the fill value when
 * src(o) = -1), so every output element passes its gradient to the one
 * source element it was copied from:
 *   d_in[src(o)] += d_out[o]   for all o with src(o) >= 0
 * For constant mode that is a slice; for reflect/edge several outputs share a
 * source, so the adds are a scatter. Rows are independent only along axis 0
 * when axis 0 is neither padded nor cropped, which is where threads split.
 */
static void pad_backward(FoilOpCtx *c)
{
    if (!c->d_in || !c->d_in[0] || !c->d_out || !c->d_out[0] || c->d_in[0]->dtype != FOIL_F32) return;
    const foil_tensor *x = c->in[0];
    float *dx = foil_f32(c->d_in[0]);
    const float *dy = foil_f32(c->d_out[0]);
    if (x->ndim == 0) {
        dx[0] += dy[0];
        return;
    }
    pad_geom g;
    if (pad_geometry(c, &g) || c->d_out[0]->numel == 0) return;
    int64_t *map[FOIL_MAX_DIMS];
    pad_maps(&g, c->work, map);
    const int r = g.r;
    int64_t istride[FOIL_MAX_DIMS], s = 1;
    for (int d = r - 1; d >= 0; d--) {
        istride[d] = s;
        s *= x->shape[d];
    }
    const int64_t W = g.out[r - 1], rows = c->d_out[0]->numel / W;
    const int64_t *lmap = map[r - 1];
    /* rows per index of output axis 0 (r >= 2), for the parallel split */
    const int64_t n0 = r >= 2 ? g.out[0] : 1, per0 = rows / n0;
    const int par = r >= 2 && g.lo[0] == 0 && g.before[0] == 0 && g.out[0] == x->shape[0] &&
                    c->d_out[0]->numel > PAR_MIN;
#pragma omp parallel for if (par) schedule(static)
    for (int64_t i0 = 0; i0 < n0; i0++) {
        for (int64_t row = i0 * per0; row < (i0 + 1) * per0; row++) {
            int64_t off = pad_src_row(&g, map, istride, row);
            if (off < 0) continue;
            float *d = dx + off;
            const float *gy = dy + row * W;
            for (int64_t o = 0; o < W; o++)
                if (lmap[o] >= 0) d[lmap[o]] += gy[o];
        }
    }
}

const FoilOp foilOpPad = {
    .type = "Pad", .grad_inputs = 1u,
    .init = pad_init, .infer = pad_infer, .forward = pad_forward, .backward = pad_backward,
};

/* ========================================================================= */
/* Gather: out[o, k, i] = data[o, idx[k], i] with outer/inner around axis,   */
/* k over all indices (any rank), idx[k] < 0 counting from the end.          */
/* Output shape: data[:axis] + indices.shape + data[axis+1:].                */

static foil_status gather_init(FoilNode *n) { return foilOpCheckAttr(n, "axis", FOIL_ATTR_INT); }

static foil_status gather_infer(FoilOpCtx *c)
{
    foil_status st = check_io(c, 2, 2);
    if (st) return st;
    const foil_tensor *x = c->in[0], *ind = c->in[1];
    if (ind->dtype != FOIL_I64 && ind->dtype != FOIL_I32)
        return foilNodeError(c, FOIL_ERR_FORMAT, "indices must be int64 or int32, got %s",
                               foil_dtype_name(ind->dtype));
    int r = x->ndim;
    if (r < 1) return foilNodeError(c, FOIL_ERR_SHAPE, "data must have rank >= 1");
    int64_t a = foilAttrInt(c->node, "axis", 0);
    int axis = foilNormAxis(a, r);
    if (axis < 0)
        return foilNodeError(c, FOIL_ERR_FORMAT, "axis %lld is out of range for rank %d", (long long)a, r);
    int ro = r - 1 + ind->ndim;
    if (ro > FOIL_MAX_DIMS)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "output rank %d exceeds the maximum of %d", ro,
                               FOIL_MAX_DIMS);
    int64_t shape[FOIL_MAX_DIMS];
    int k = 0;
    for (int d = 0; d < axis; d++) shape[k++] = x->shape[d];
    for (int d = 0; d < ind->ndim; d++) shape[k++] = ind->shape[d];
    for (int d = axis + 1; d < r; d++) shape[k++] = x->shape[d];
    return foilOpSetOutput(c, 0, x->dtype, ro, shape);
}

static inline int64_t gather_index(const foil_tensor *ind, int64_t k)
{
    return ind->dtype == FOIL_I64 ? foil_i64(ind)[k] : ((const int32_t *)ind->data)[k];
}

/* Every index lies in [-n, n) (axis `axis`, of extent n). */
static foil_status gather_check(const FoilOpCtx *c, const foil_tensor *ind, int64_t n, int axis)
{
    for (int64_t k = 0; k < ind->numel; k++) {
        int64_t i = gather_index(ind, k);
        if (i < -n || i >= n)
            return foilNodeError(c, FOIL_ERR_ARG, "index %lld (position %lld) is out of range [%lld, %lld) on axis %d",
                                 (long long)i, (long long)k, (long long)-n, (long long)n, axis);
    }
    return FOIL_OK;
}

static foil_status gather_forward(FoilOpCtx *c)
{
    const foil_tensor *x = c->in[0], *ind = c->in[1];
    foil_tensor *y = c->out[0];
    const int axis = foilNormAxis(foilAttrInt(c->node, "axis", 0), x->ndim);
    const int64_t n = x->shape[axis], K = ind->numel;
    foil_status bad = gather_check(c, ind, n, axis);
    if (bad) return bad;
    const int64_t outer = foilShapeProd(x->shape, 0, axis), inner = foilShapeProd(x->shape, axis + 1, x->ndim);
    const size_t es = foil_dtype_size(x->dtype), blk = (size_t)inner * es;
    if (blk == 0 || K == 0) return FOIL_OK;
    const char *src = x->data;
    char *dst = y->data;
#pragma omp parallel for collapse(2) if (y->numel > PAR_MIN) schedule(static)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < K; k++) {
            int64_t i = gather_index(ind, k);
            if (i < 0) i += n;
            const char *s = src + ((size_t)(o * n + i)) * blk;
            char *d = dst + ((size_t)(o * K + k)) * blk;
            if (inner == 1 && es == 4) *(uint32_t *)d = *(const uint32_t *)s;
            else if (inner == 1 && es == 8) *(uint64_t *)d = *(const uint64_t *)s;
            else memcpy(d, s, blk);
        }
    return FOIL_OK;
}

/*
 * In the forward pass this was: out[o, k, i] = data[o, idx[k], i], so
 *   d_data[o, idx[k], i] += d_out[o, k, i]
 * Repeated indices accumulate (an embedding row used twice gets both
 * gradients), so k runs serially; different o touch disjoint rows. The
 * indices were validated by forward.
 */
static void gather_backward(FoilOpCtx *c)
{
    if (!c->d_in || !c->d_in[0] || !c->d_out || !c->d_out[0] || c->d_in[0]->dtype != FOIL_F32) return;
    const foil_tensor *x = c->in[0], *ind = c->in[1];
    const int axis = foilNormAxis(foilAttrInt(c->node, "axis", 0), x->ndim);
    const int64_t n = x->shape[axis], K = ind->numel;
    const int64_t outer = foilShapeProd(x->shape, 0, axis), inner = foilShapeProd(x->shape, axis + 1, x->ndim);
    float *dx = foil_f32(c->d_in[0]);
    const float *dy = foil_f32(c->d_out[0]);
#pragma omp parallel for if (outer > 1 && c->d_out[0]->numel > PAR_MIN) schedule(static)
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < K; k++) {
            int64_t i = gather_index(ind, k);
            if (i < 0) i += n;
            if (i < 0 || i >= n) continue;
            float *restrict d = dx + (o * n + i) * inner;
            const float *restrict g = dy + (o * K + k) * inner;
            for (int64_t j = 0; j < inner; j++) d[j] += g[j];
        }
}

const FoilOp foilOpGather = {
    .type = "Gather", .grad_inputs = 1u,
    .init = gather_init, .infer = gather_infer, .forward = gather_forward, .backward = gather_backward,
};

/* ========================================================================= */
/* GatherElements: out[j] = data[j with its axis coordinate replaced by      */
/* idx[j]], the output of indices' shape (indices rank = data rank, each     */
/* other dimension at most data's); idx < 0 counts from the end.             */

/* Offset in data of the element output position k reads (index validated). */
static inline int64_t gel_offset(const foil_tensor *x, const foil_tensor *ind, int axis, int64_t k)
{
    int64_t off = 0, stride = 1, q = k;
    const int64_t n = x->shape[axis];
    for (int d = x->ndim - 1; d >= 0; d--) {
        const int64_t e = ind->shape[d], coord = q % e;
        q /= e;
        int64_t v = coord;
        if (d == axis) {
            v = gather_index(ind, k);
            if (v < 0) v += n;
        }
        off += v * stride;
        stride *= x->shape[d];
    }
    return off;
}

/* indices (in[1]) against data (in[0]) and axis, for GatherElements and
 * ScatterElements */
static foil_status gel_check_indices(FoilOpCtx *c)
{
    const foil_tensor *x = c->in[0], *ind = c->in[1];
    if (ind->dtype != FOIL_I64 && ind->dtype != FOIL_I32)
        return foilNodeError(c, FOIL_ERR_FORMAT, "indices must be int64 or int32, got %s", foil_dtype_name(ind->dtype));
    const int r = x->ndim;
    if (r < 1 || ind->ndim != r)
        return foilNodeError(c, FOIL_ERR_SHAPE, "indices (rank %d) must have data's rank %d (>= 1)", ind->ndim, r);
    int64_t a = foilAttrInt(c->node, "axis", 0);
    int axis = foilNormAxis(a, r);
    if (axis < 0) return foilNodeError(c, FOIL_ERR_FORMAT, "axis %lld is out of range for rank %d", (long long)a, r);
    for (int d = 0; d < r; d++)
        if (d != axis && ind->shape[d] > x->shape[d])
            return foilNodeError(c, FOIL_ERR_SHAPE, "indices dim %d (%lld) exceeds data's (%lld)", d,
                                 (long long)ind->shape[d], (long long)x->shape[d]);
    return FOIL_OK;
}

static foil_status gel_infer(FoilOpCtx *c)
{
    foil_status st = check_io(c, 2, 2);
    if (st || (st = gel_check_indices(c))) return st;
    return foilOpSetOutput(c, 0, c->in[0]->dtype, c->in[0]->ndim, c->in[1]->shape);
}

static foil_status gel_forward(FoilOpCtx *c)
{
    const foil_tensor *x = c->in[0], *ind = c->in[1];
    const int axis = foilNormAxis(foilAttrInt(c->node, "axis", 0), x->ndim);
    const int64_t K = ind->numel;
    foil_status bad = gather_check(c, ind, x->shape[axis], axis);
    if (bad) return bad;
    const size_t es = foil_dtype_size(x->dtype);
    const char *src = x->data;
    char *dst = c->out[0]->data;
#pragma omp parallel for if (K > PAR_MIN) schedule(static)
    for (int64_t k = 0; k < K; k++) memcpy(dst + (size_t)k * es, src + (size_t)gel_offset(x, ind, axis, k) * es, es);
    return FOIL_OK;
}

/* In the forward pass out[k] = data[gel_offset(k)], so d data at that offset
 * += d out[k]; indices may repeat, so this runs serially. */
static void gel_backward(FoilOpCtx *c)
{
    if (!c->d_in[0] || !c->d_out[0] || c->in[0]->dtype != FOIL_F32) return;
    const foil_tensor *x = c->in[0], *ind = c->in[1];
    const int axis = foilNormAxis(foilAttrInt(c->node, "axis", 0), x->ndim);
    float *dx = foil_f32(c->d_in[0]);
    const float *dy = foil_f32(c->d_out[0]);
    for (int64_t k = 0; k < ind->numel; k++) dx[gel_offset(x, ind, axis, k)] += dy[k];
}

const FoilOp foilOpGatherElements = {
    .type = "GatherElements", .grad_inputs = 1u,
    .init = gather_init, .infer = gel_infer, .forward = gel_forward, .backward = gel_backward,
};

/* ========================================================================= */
/* ScatterElements (and Scatter, its name before opset 11): out = data, then */
/* for each position k of indices out[gel_offset(k)] = updates[k] (reduction */
/* "none": the last write wins) or += updates[k] ("add"). Gradients          */
/* (float32): d data = d out where no update landed ("none") or everywhere   */
/* ("add"); d updates[k] = d out at its target (for "none", only the write   */
/* that won). Workspace ("none"): the winning k of each data element.        */

static foil_status sel_init(FoilNode *n)
{
    foil_status st = gather_init(n);
    if (st) return st;
    const char *red = foilAttrString(n, "reduction", "none");
    if (strcmp(red, "none") && strcmp(red, "add"))
        return foilNodeInitError(n, FOIL_ERR_UNSUPPORTED, "reduction \"%s\" is not supported (\"none\" or \"add\")", red);
    return FOIL_OK;
}

static int sel_add(const FoilOpCtx *c) { return strcmp(foilAttrString(c->node, "reduction", "none"), "add") == 0; }

static foil_status sel_infer(FoilOpCtx *c)
{
    foil_status st = check_io(c, 3, 3);
    if (st) return st;
    const foil_tensor *x = c->in[0], *ind = c->in[1], *upd = c->in[2];
    char s1[96], s2[96];
    if (!foil_tensor_same_shape(ind, upd))
        return foilNodeError(c, FOIL_ERR_SHAPE, "indices %s and updates %s differ in shape", foil_shape_str(ind, s1, sizeof s1),
                             foil_shape_str(upd, s2, sizeof s2));
    if (upd->dtype != x->dtype)
        return foilNodeError(c, FOIL_ERR_FORMAT, "updates are %s, data %s", foil_dtype_name(upd->dtype),
                             foil_dtype_name(x->dtype));
    if (sel_add(c) && x->dtype != FOIL_F32 && x->dtype != FOIL_F64 && x->dtype != FOIL_I32 && x->dtype != FOIL_I64)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "reduction \"add\" on %s is not supported (float32, float64, "
                             "int32, int64)", foil_dtype_name(x->dtype));
    if ((st = gel_check_indices(c))) return st;
    if ((st = foilOpSetOutput(c, 0, x->dtype, x->ndim, x->shape))) return st;
    c->work_bytes = x->dtype == FOIL_F32 && !sel_add(c) ? (size_t)x->numel * sizeof(int64_t) : 0;
    return FOIL_OK;
}

#define SEL_ADD(T)                                                                                 \
    for (int64_t k = 0; k < K; k++) ((T *)dst)[gel_offset(x, ind, axis, k)] += ((const T *)up)[k]

static foil_status sel_forward(FoilOpCtx *c)
{
    const foil_tensor *x = c->in[0], *ind = c->in[1], *upd = c->in[2];
    const int axis = foilNormAxis(foilAttrInt(c->node, "axis", 0), x->ndim);
    const int64_t K = ind->numel;
    foil_status bad = gather_check(c, ind, x->shape[axis], axis);
    if (bad) return bad;
    const size_t es = foil_dtype_size(x->dtype);
    char *dst = c->out[0]->data;
    const char *up = upd->data;
    memcpy(dst, x->data, (size_t)x->numel * es);
    if (!sel_add(c)) {
        for (int64_t k = 0; k < K; k++) memcpy(dst + (size_t)gel_offset(x, ind, axis, k) * es, up + (size_t)k * es, es);
        return FOIL_OK;
    }
    switch (x->dtype) {
    case FOIL_F32: SEL_ADD(float); break;
    case FOIL_F64: SEL_ADD(double); break;
    case FOIL_I32: SEL_ADD(int32_t); break;
    default: SEL_ADD(int64_t); break;
    }
    return FOIL_OK;
}

static void sel_backward(FoilOpCtx *c)
{
    const foil_tensor *x = c->in[0], *ind = c->in[1];
    if (!c->d_out[0] || x->dtype != FOIL_F32) return;
    const int axis = foilNormAxis(foilAttrInt(c->node, "axis", 0), x->ndim);
    const int64_t K = ind->numel;
    const float *g = foil_f32(c->d_out[0]);
    const int add = sel_add(c);
    int64_t *win = c->work;
    if (!add) {
        for (int64_t i = 0; i < x->numel; i++) win[i] = -1;
        for (int64_t k = 0; k < K; k++) win[gel_offset(x, ind, axis, k)] = k;
    }
    if (c->d_in[0]) {
        float *dx = foil_f32(c->d_in[0]);
        for (int64_t i = 0; i < x->numel; i++) dx[i] += add || win[i] < 0 ? g[i] : 0.0f;
    }
    if (c->d_in[2]) {
        float *du = foil_f32(c->d_in[2]);
        for (int64_t k = 0; k < K; k++) {
            const int64_t off = gel_offset(x, ind, axis, k);
            du[k] += add || win[off] == k ? g[off] : 0.0f;
        }
    }
}

const FoilOp foilOpScatterElements = {
    .type = "ScatterElements", .grad_inputs = 5u,
    .init = sel_init, .infer = sel_infer, .forward = sel_forward, .backward = sel_backward,
};
const FoilOp foilOpScatter = {
    .type = "Scatter", .grad_inputs = 5u,
    .init = sel_init, .infer = sel_infer, .forward = sel_forward, .backward = sel_backward,
};
