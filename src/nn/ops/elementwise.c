/*
 * nn/ops/elementwise.c - Add, Sub, Mul, Div (with broadcasting) and the
 * pointwise activations Relu, LeakyRelu, Sigmoid, Tanh, Clip, and Round.
 *
 * Binary ops follow ONNX multidirectional (numpy) broadcasting from opset 7;
 * before that (opset 6) they take attributes `broadcast` and `axis`: without
 * broadcast=1 the shapes must be equal, with it B is broadcast one-way to A's
 * shape, its dimensions aligned at `axis` (suffix matching when absent), and
 * a B with a single element works at any rank. Dtypes: float32 (forward and
 * backward), float64, int64, int32, uint8, int8 (forward only). Integer
 * arithmetic wraps (two's complement), integer Div truncates toward zero as in
 * C, and an integer division by zero gives 0 (a model's data must not be able
 * to crash foil).
 *
 * Activations are float32 only, except Clip which also takes int8, uint8,
 * int32 and int64 (forward only).
 *
 * Shapes: x is any tensor; n = numel. The broadcast machinery (coalescing,
 * strides, reduction of gradients over broadcast dimensions) is in
 * broadcast.h.
 *
 * What this file deliberately is not: a general expression engine. Each op is
 * a plain loop; same-shape, scalar and bias (per-row or per-channel) patterns
 * reduce to one contiguous loop per run that gcc vectorizes.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/op.h"
#include "nn/ops/broadcast.h"
#include "nn/ops/vmath.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* ------------------------------------------------------------------------- */
/* Binary ops: state, shapes                                                  */

enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV };

typedef struct binary_state {
    int op;
    int legacy;        /* opset < 7: broadcast/axis attributes */
    int broadcast;     /* legacy only */
    int has_axis;
    int64_t axis;
} binary_state;

static foil_status binary_init(FoilNode *n, int op)
{
    binary_state *st = calloc(1, sizeof *st);
    if (!st) return foilNodeInitError(n, FOIL_ERR_NOMEM, "out of memory");
    st->op = op;
    st->legacy = n->opset < 7;
    if (st->legacy) {
        st->broadcast = (int)foilAttrInt(n, "broadcast", 0);
        const FoilAttr *ax = foilAttrGet(n, "axis");
        if (ax) {
            if (ax->type != FOIL_ATTR_INT) {
                free(st);
                return foilNodeInitError(n, FOIL_ERR_FORMAT, "attribute 'axis' must be an int");
            }
            st->has_axis = 1;
            st->axis = ax->i;
        }
        if (st->broadcast != 0 && st->broadcast != 1) {
            free(st);
            return foilNodeInitError(n, FOIL_ERR_FORMAT, "attribute 'broadcast' must be 0 or 1, not %lld",
                                        (long long)foilAttrInt(n, "broadcast", 0));
        }
    }
    n->state = st;
    return FOIL_OK;
}

static foil_status add_init(FoilNode *n) { return binary_init(n, OP_ADD); }
static foil_status sub_init(FoilNode *n) { return binary_init(n, OP_SUB); }
static foil_status mul_init(FoilNode *n) { return binary_init(n, OP_MUL); }
static foil_status div_init(FoilNode *n) { return binary_init(n, OP_DIV); }

/* The shape B takes part in the broadcast with. From opset 7 that is B's own
 * shape. In the legacy mode B is placed at `axis` of A (suffix matching when
 * no axis is given) and padded with 1s to A's rank; a one-element B works at
 * any rank. Returns 0, or -1 when B does not fit (message in *why). */
static int legacy_b_shape(const binary_state *st, const foil_tensor *a, const foil_tensor *b, int *nb,
                          int64_t *bs, const char **why)
{
    int ra = a->ndim, rb = b->ndim;
    if (!st->broadcast) {
        if (!foil_tensor_same_shape(a, b)) {
            *why = "shapes differ and attribute broadcast is not set (opset < 7)";
            return -1;
        }
        *nb = rb;
        memcpy(bs, b->shape, sizeof(int64_t) * (size_t)rb);
        return 0;
    }
    *nb = ra;
    for (int i = 0; i < ra; i++) bs[i] = 1;
    if (b->numel == 1) return 0;
    if (rb > ra) {
        *why = "B has a higher rank than A (opset < 7 broadcasting)";
        return -1;
    }
    int64_t axis = st->has_axis ? st->axis : ra - rb;
    if (axis < 0) axis += ra;
    if (axis < 0 || axis + rb > ra) {
        *why = "B's shape does not fit into A's at 'axis' (opset < 7 broadcasting)";
        return -1;
    }
    for (int i = 0; i < rb; i++) {
        int64_t d = b->shape[i], o = a->shape[axis + i];
        if (d != o && d != 1) {
            *why = "B's shape is not a contiguous subset of A's at 'axis' (opset < 7 broadcasting)";
            return -1;
        }
        bs[axis + i] = d;
    }
    return 0;
}

static int binary_dtype_ok(foil_dtype dt)
{
    return dt == FOIL_F32 || dt == FOIL_F64 || dt == FOIL_I64 || dt == FOIL_I32 || dt == FOIL_U8 ||
           dt == FOIL_I8;
}

/* Plan for out = a (op) b; out shape comes from c->out[0]. */
static int binary_plan(const FoilOpCtx *c, FoilBcast *bc)
{
    const binary_state *st = c->node->state;
    const foil_tensor *a = c->in[0], *b = c->in[1], *y = c->out[0];
    int nb = b->ndim;
    int64_t bs[FOIL_MAX_DIMS];
    const char *why = NULL;
    if (st->legacy) {
        if (legacy_b_shape(st, a, b, &nb, bs, &why)) return -1;
    } else {
        memcpy(bs, b->shape, sizeof(int64_t) * (size_t)nb);
    }
    const int nd[2] = {a->ndim, nb};
    const int64_t *shapes[2] = {a->shape, bs};
    foilBcastPlan(bc, y->ndim, y->shape, 2, nd, shapes);
    return 0;
}

static foil_status binary_infer(FoilOpCtx *c)
{
    const binary_state *st = c->node->state;
    if (c->n_in < 2 || !c->in[0] || !c->in[1])
        return foilNodeError(c, FOIL_ERR_FORMAT, "needs 2 inputs");
    if (c->n_out < 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs an output");
    const foil_tensor *a = c->in[0], *b = c->in[1];
    if (a->dtype != b->dtype)
        return foilNodeError(c, FOIL_ERR_FORMAT, "inputs have different types (%s and %s)",
                               foil_dtype_name(a->dtype), foil_dtype_name(b->dtype));
    if (!binary_dtype_ok(a->dtype))
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "type %s is not supported", foil_dtype_name(a->dtype));
    char sa[96], sb[96];
    if (st->legacy) {
        int nb;
        int64_t bs[FOIL_MAX_DIMS];
        const char *why = NULL;
        if (legacy_b_shape(st, a, b, &nb, bs, &why))
            return foilNodeError(c, FOIL_ERR_SHAPE, "cannot broadcast %s with %s: %s", foil_shape_str(a, sa, sizeof sa),
                                   foil_shape_str(b, sb, sizeof sb), why);
        if (foil_tensor_set_shape(c->out[0], a->dtype, a->ndim, a->shape))
            return foilNodeError(c, FOIL_ERR_SHAPE, "%s", foil_last_error());
    } else {
        int no, bad = 0;
        int64_t os[FOIL_MAX_DIMS];
        if (foilBcastShape(a->ndim, a->shape, b->ndim, b->shape, &no, os, &bad))
            return foilNodeError(c, FOIL_ERR_SHAPE, "shapes %s and %s cannot be broadcast together (output dim %d)",
                                   foil_shape_str(a, sa, sizeof sa), foil_shape_str(b, sb, sizeof sb), bad);
        if (foil_tensor_set_shape(c->out[0], a->dtype, no, os))
            return foilNodeError(c, FOIL_ERR_SHAPE, "%s", foil_last_error());
    }
    c->work_bytes = 0;
    return FOIL_OK;
}

/* ------------------------------------------------------------------------- */
/* Binary forward: one row kernel per dtype, the op switch outside the loop.  */

/* Scalar semantics per dtype. Signed integers compute in the unsigned type of
 * the same width so that overflow wraps instead of being undefined. */
#define FLT_OPS(T, SUF)                                                           \
    ALWAYS_INLINE T add_##SUF(T x, T z) { return x + z; }                         \
    ALWAYS_INLINE T sub_##SUF(T x, T z) { return x - z; }                         \
    ALWAYS_INLINE T mul_##SUF(T x, T z) { return x * z; }                         \
    ALWAYS_INLINE T div_##SUF(T x, T z) { return x / z; }
#define INT_OPS(T, U, SUF)                                                        \
    ALWAYS_INLINE T add_##SUF(T x, T z) { return (T)((U)x + (U)z); }              \
    ALWAYS_INLINE T sub_##SUF(T x, T z) { return (T)((U)x - (U)z); }              \
    ALWAYS_INLINE T mul_##SUF(T x, T z) { return (T)((U)x * (U)z); }              \
    ALWAYS_INLINE T div_##SUF(T x, T z)                                           \
    {                                                                             \
        if (z == 0) return 0;                                                     \
        if ((T)-1 < 0 && z == (T)-1) return (T)((U)0 - (U)x); /* MIN / -1 */      \
        return (T)(x / z);                                                        \
    }
FLT_OPS(float, f32)
FLT_OPS(double, f64)
INT_OPS(int64_t, uint64_t, i64)
INT_OPS(int32_t, uint32_t, i32)
INT_OPS(uint8_t, unsigned, u8)
INT_OPS(int8_t, unsigned, i8)

/* One run of n outputs; sa/sb are 1 (operand advances) or 0 (constant). */
#define ROW_LOOP(T, F)                                                            \
    do {                                                                          \
        if (sa && sb) {                                                           \
            for (int64_t j = 0; j < n; j++) y[j] = F(a[j], b[j]);                 \
        } else if (sa) {                                                          \
            const T z = b[0];                                                     \
            for (int64_t j = 0; j < n; j++) y[j] = F(a[j], z);                    \
        } else if (sb) {                                                          \
            const T x = a[0];                                                     \
            for (int64_t j = 0; j < n; j++) y[j] = F(x, b[j]);                    \
        } else {                                                                  \
            const T v = F(a[0], b[0]);                                            \
            for (int64_t j = 0; j < n; j++) y[j] = v;                             \
        }                                                                         \
    } while (0)

#define DEFINE_BINARY_FWD(T, SUF)                                                               \
    static void bin_row_##SUF(int op, const T *restrict a, int64_t sa, const T *restrict b,     \
                              int64_t sb, T *restrict y, int64_t n)                             \
    {                                                                                           \
        switch (op) {                                                                           \
        case OP_ADD: ROW_LOOP(T, add_##SUF); break;                                             \
        case OP_SUB: ROW_LOOP(T, sub_##SUF); break;                                             \
        case OP_MUL: ROW_LOOP(T, mul_##SUF); break;                                             \
        default: ROW_LOOP(T, div_##SUF); break;                                                 \
        }                                                                                       \
    }                                                                                           \
    static void bin_fwd_##SUF(int op, const FoilBcast *bc, const void *va, const void *vb,     \
                              void *vy)                                                         \
    {                                                                                           \
        const T *a = va, *b = vb;                                                               \
        T *y = vy;                                                                              \
        const int64_t chunks = foilBcastChunks(bc), tasks = bc->rows * chunks;                \
        const int64_t sa = bc->s[0][bc->ndim - 1], sb = bc->s[1][bc->ndim - 1];                \
        _Pragma("omp parallel for if (bc->numel >= FOIL_PAR_MIN && tasks > 1) schedule(static)") \
        for (int64_t t = 0; t < tasks; t++) {                                                   \
            int64_t row = t / chunks, j0 = (t - row * chunks) * FOIL_BCAST_CHUNK;               \
            int64_t len = bc->inner - j0 < FOIL_BCAST_CHUNK ? bc->inner - j0 : FOIL_BCAST_CHUNK; \
            int64_t oa = foilBcastRowOffset(bc, 0, row) + j0 * sa;                           \
            int64_t ob = foilBcastRowOffset(bc, 1, row) + j0 * sb;                           \
            bin_row_##SUF(op, a + oa, sa, b + ob, sb, y + row * bc->inner + j0, len);           \
        }                                                                                       \
    }
DEFINE_BINARY_FWD(float, f32)
DEFINE_BINARY_FWD(double, f64)
DEFINE_BINARY_FWD(int64_t, i64)
DEFINE_BINARY_FWD(int32_t, i32)
DEFINE_BINARY_FWD(uint8_t, u8)
DEFINE_BINARY_FWD(int8_t, i8)

static foil_status binary_forward(FoilOpCtx *c)
{
    const binary_state *st = c->node->state;
    FoilBcast bc;
    if (binary_plan(c, &bc)) return foilNodeError(c, FOIL_ERR_SHAPE, "input shapes changed since planning");
    if (bc.numel == 0) return FOIL_OK;
    const void *a = c->in[0]->data, *b = c->in[1]->data;
    void *y = c->out[0]->data;
    switch (c->in[0]->dtype) {
    case FOIL_F32: bin_fwd_f32(st->op, &bc, a, b, y); break;
    case FOIL_F64: bin_fwd_f64(st->op, &bc, a, b, y); break;
    case FOIL_I64: bin_fwd_i64(st->op, &bc, a, b, y); break;
    case FOIL_I32: bin_fwd_i32(st->op, &bc, a, b, y); break;
    case FOIL_U8: bin_fwd_u8(st->op, &bc, a, b, y); break;
    case FOIL_I8: bin_fwd_i8(st->op, &bc, a, b, y); break;
    default: return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "unsupported type");
    }
    return FOIL_OK;
}

/* ------------------------------------------------------------------------- */
/* Binary backward (float32).
 *
 * In the forward pass this was, for every output element i (with a_i, b_i the
 * broadcast operands): y_i = a_i + b_i, a_i - b_i, a_i * b_i or a_i / b_i.
 * So the local derivatives are
 *   add: dy/da = 1,      dy/db = 1
 *   sub: dy/da = 1,      dy/db = -1
 *   mul: dy/da = b,      dy/db = a
 *   div: dy/da = 1/b,    dy/db = -a/b^2
 * and an operand that was broadcast receives the SUM of the terms of every
 * output element it was copied to: da[k] += sum over {i : a_i = a[k]} of
 * dy_i * dy/da_i.
 */
ALWAYS_INLINE float bin_dterm(int op, int k, float g, float a, float b)
{
    switch (op) {
    case OP_ADD: return g;
    case OP_SUB: return k ? -g : g;
    case OP_MUL: return k ? g * a : g * b;
    default: return k ? -g * a / (b * b) : g / b;
    }
}

/* Call FN(OP, K, args...) with OP and K as literal constants, so that the
 * always-inline kernels specialize (inside an OpenMP-outlined loop body a
 * variable op would not be constant-folded, and the switch in bin_dterm would
 * stop vectorization). Placed per run, outside the inner loops. */
#define DISPATCH_OPK(op, k, FN, ...)                                                  \
    switch ((op) * 2 + (k)) {                                                         \
    case OP_ADD * 2: FN(OP_ADD, 0, __VA_ARGS__); break;                               \
    case OP_ADD * 2 + 1: FN(OP_ADD, 1, __VA_ARGS__); break;                           \
    case OP_SUB * 2: FN(OP_SUB, 0, __VA_ARGS__); break;                               \
    case OP_SUB * 2 + 1: FN(OP_SUB, 1, __VA_ARGS__); break;                           \
    case OP_MUL * 2: FN(OP_MUL, 0, __VA_ARGS__); break;                               \
    case OP_MUL * 2 + 1: FN(OP_MUL, 1, __VA_ARGS__); break;                           \
    case OP_DIV * 2: FN(OP_DIV, 0, __VA_ARGS__); break;                               \
    default: FN(OP_DIV, 1, __VA_ARGS__); break;                                       \
    }

/* Operand k is not broadcast: dx[j] += term at the same flat index. */
ALWAYS_INLINE void grad_row(int op, int k, float *restrict dx, const float *restrict g, const float *a,
                            int64_t sa, const float *b, int64_t sb, int64_t n)
{
    if (sa && sb) {
        for (int64_t j = 0; j < n; j++) dx[j] += bin_dterm(op, k, g[j], a[j], b[j]);
    } else if (sa) {
        const float z = b[0];
        for (int64_t j = 0; j < n; j++) dx[j] += bin_dterm(op, k, g[j], a[j], z);
    } else if (sb) {
        const float x = a[0];
        for (int64_t j = 0; j < n; j++) dx[j] += bin_dterm(op, k, g[j], x, b[j]);
    } else {
        for (int64_t j = 0; j < n; j++) dx[j] += bin_dterm(op, k, g[j], a[0], b[0]);
    }
}

static void grad_full(int op, int k, const FoilBcast *bc, float *dx, const float *g, const float *a,
                             const float *b)
{
    const int64_t chunks = foilBcastChunks(bc), tasks = bc->rows * chunks;
    const int64_t sa = bc->s[0][bc->ndim - 1], sb = bc->s[1][bc->ndim - 1];
#pragma omp parallel for if (bc->numel >= FOIL_PAR_MIN && tasks > 1) schedule(static)
    for (int64_t t = 0; t < tasks; t++) {
        int64_t row = t / chunks, j0 = (t - row * chunks) * FOIL_BCAST_CHUNK;
        int64_t len = bc->inner - j0 < FOIL_BCAST_CHUNK ? bc->inner - j0 : FOIL_BCAST_CHUNK;
        int64_t oa = foilBcastRowOffset(bc, 0, row) + j0 * sa;
        int64_t ob = foilBcastRowOffset(bc, 1, row) + j0 * sb;
        int64_t oy = row * bc->inner + j0;
        DISPATCH_OPK(op, k, grad_row, dx + oy, g + oy, a + oa, sa, b + ob, sb, len);
    }
}

/* Sum of the terms of one run of `run` outputs with strides gg, ga, gb. The
 * common case (output contiguous, operands contiguous or constant) uses 8
 * independent lanes so that it vectorizes without reassociating a chain. */
ALWAYS_INLINE float reduce_run(int op, int k, const float *g, int64_t gg, const float *a, int64_t ga, const float *b,
                               int64_t gb, int64_t run)
{
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t j = 0;
    if (gg == 1 && (ga == 0 || ga == 1) && (gb == 0 || gb == 1)) {
        if (ga && gb) {
            for (; j + 8 <= run; j += 8)
                for (int l = 0; l < 8; l++) acc[l] += bin_dterm(op, k, g[j + l], a[j + l], b[j + l]);
        } else if (ga) {
            const float z = b[0];
            for (; j + 8 <= run; j += 8)
                for (int l = 0; l < 8; l++) acc[l] += bin_dterm(op, k, g[j + l], a[j + l], z);
        } else if (gb) {
            const float x = a[0];
            for (; j + 8 <= run; j += 8)
                for (int l = 0; l < 8; l++) acc[l] += bin_dterm(op, k, g[j + l], x, b[j + l]);
        } else {
            const float x = a[0], z = b[0];
            for (; j + 8 <= run; j += 8)
                for (int l = 0; l < 8; l++) acc[l] += bin_dterm(op, k, g[j + l], x, z);
        }
    }
    for (; j < run; j++) acc[0] += bin_dterm(op, k, g[j * gg], a[j * ga], b[j * gb]);
    float s = 0;
    for (int l = 0; l < 8; l++) s += acc[l];
    return s;
}

/* Operand k is broadcast: one thread per operand element sums its terms. */
static void grad_reduce(int op, int k, const FoilBcast *bc, float *dx, const float *g, const float *a,
                               const float *b)
{
    FoilBcastReduce r;
    foilBcastReducePlan(&r, bc, k);
    const int last = r.nr - 1; /* nr >= 1: operand k is broadcast somewhere */
    const int64_t run = r.rn[last], runs = r.nsum / run;
    const int64_t ga = r.rs[0][last], gb = r.rs[1][last], gg = r.rs[2][last];
#pragma omp parallel for if (bc->numel >= FOIL_PAR_MIN && r.nx > 1) schedule(static)
    for (int64_t e = 0; e < r.nx; e++) {
        int64_t oa = 0, ob = 0, og = 0, q = e;
        for (int d = r.nf - 1; d >= 0 && q > 0; d--) {
            int64_t p = q / r.fn[d], i = q - p * r.fn[d];
            oa += i * r.fs[0][d];
            ob += i * r.fs[1][d];
            og += i * r.fs[2][d];
            q = p;
        }
        double acc = 0;
        for (int64_t s = 0; s < runs; s++) {
            int64_t pa = oa, pb = ob, pg = og, u = s;
            for (int d = last - 1; d >= 0 && u > 0; d--) {
                int64_t p = u / r.rn[d], i = u - p * r.rn[d];
                pa += i * r.rs[0][d];
                pb += i * r.rs[1][d];
                pg += i * r.rs[2][d];
                u = p;
            }
            float part = 0;
            DISPATCH_OPK(op, k, part = reduce_run, g + pg, gg, a + pa, ga, b + pb, gb, run);
            acc += part;
        }
        dx[e] += (float)acc;
    }
}

static void binary_grad(int op, int k, const FoilBcast *bc, float *dx, const float *g, const float *a,
                        const float *b, int64_t nx)
{
    if (nx == bc->numel)
        grad_full(op, k, bc, dx, g, a, b);
    else
        grad_reduce(op, k, bc, dx, g, a, b);
}

static void binary_backward(FoilOpCtx *c)
{
    const binary_state *st = c->node->state;
    if (c->in[0]->dtype != FOIL_F32 || !c->d_out[0]) return;
    FoilBcast bc;
    if (binary_plan(c, &bc) || bc.numel == 0) return;
    const float *a = foil_f32(c->in[0]), *b = foil_f32(c->in[1]), *g = foil_f32(c->d_out[0]);
    for (int k = 0; k < 2; k++)
        if (c->d_in[k]) binary_grad(st->op, k, &bc, foil_f32(c->d_in[k]), g, a, b, c->in[k]->numel);
}

/*
 * DP-SGD's per-example norms (op.h, example_norms), for one operand k a
 * weight (a bias added after a MatMul, a learned scale) and the other, x,
 * carrying the examples along axis 0 of the output: example n's share of
 * d w is the backward above restricted to example n's slice of the output,
 * so it runs per example on the broadcast of that slice (the output's
 * shape without axis 0; w's without its axis 0, which must be 1), into
 * scratch, and adds its squared norm. Cost: one more pass over the output.
 */
static foil_status binary_example_norms(FoilOpCtx *c, uint32_t weights, int64_t examples, float *sq,
                                        float *const *scratch)
{
    const binary_state *st = c->node->state;
    const foil_tensor *y = c->out[0];
    const int k = weights == 2u; /* the weight's operand */
    const foil_tensor *x = c->in[1 - k];
    int nw = c->in[k]->ndim;
    int64_t ws[FOIL_MAX_DIMS];
    const char *why = NULL;
    if (st->legacy && k == 1 && legacy_b_shape(st, c->in[0], c->in[1], &nw, ws, &why))
        return foilNodeError(c, FOIL_ERR_SHAPE, "%s", why);
    if (!(st->legacy && k == 1)) memcpy(ws, c->in[k]->shape, sizeof(int64_t) * (size_t)nw);
    if ((weights != 1u && weights != 2u) || y->dtype != FOIL_F32 || y->ndim < 1 || y->shape[0] != examples ||
        x->ndim != y->ndim || x->shape[0] != examples || (nw == y->ndim && ws[0] != 1))
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "per-example gradients need one weight, shared by the %lld "
                             "examples along the first axis of the other operand", (long long)examples);
    if (!sq) return FOIL_OK;
    binary_backward(c); /* the other operand's gradient: the weight's d_in is NULL */
    /* one example's slice: the output's shape and x's without axis 0, w's aligned to them */
    const int r = y->ndim - 1 > 0 ? y->ndim - 1 : 1;
    int64_t ys[FOIL_MAX_DIMS], xs[FOIL_MAX_DIMS], wsl[FOIL_MAX_DIMS];
    for (int d = 0; d < r; d++) {
        ys[d] = y->ndim > 1 ? y->shape[d + 1] : 1;
        xs[d] = x->ndim > 1 ? x->shape[d + 1] : 1;
    }
    int nws = nw == y->ndim ? nw - 1 : nw;
    memcpy(wsl, nw == y->ndim ? ws + 1 : ws, sizeof(int64_t) * (size_t)nws);
    if (nws == 0) wsl[nws++] = 1;
    const int nd[2] = {k ? r : nws, k ? nws : r};
    const int64_t *shapes[2] = {k ? xs : wsl, k ? wsl : xs};
    FoilBcast bc;
    foilBcastPlan(&bc, r, ys, 2, nd, shapes);
    const int64_t per_y = bc.numel, per_x = x->numel / examples, wn = c->in[k]->numel;
    const float *g = foil_f32(c->d_out[0]), *xv = foil_f32(x), *wv = foil_f32(c->in[k]);
    float *dw = scratch[k];
    for (int64_t n = 0; n < examples; n++) {
        memset(dw, 0, (size_t)wn * sizeof *dw);
        const float *xn = xv + n * per_x;
        binary_grad(st->op, k, &bc, dw, g + n * per_y, k ? xn : wv, k ? wv : xn, wn);
        double s = 0;
        for (int64_t i = 0; i < wn; i++) s += (double)dw[i] * dw[i];
        sq[n] += (float)s;
    }
    return FOIL_OK;
}

const FoilOp foilOpAdd = {
    .type = "Add",
    .grad_inputs = 0x3,
    .init = add_init,
    .infer = binary_infer,
    .forward = binary_forward,
    .backward = binary_backward,
    .example_norms = binary_example_norms,
};

const FoilOp foilOpSub = {
    .type = "Sub",
    .grad_inputs = 0x3,
    .init = sub_init,
    .infer = binary_infer,
    .forward = binary_forward,
    .backward = binary_backward,
    .example_norms = binary_example_norms,
};

const FoilOp foilOpMul = {
    .type = "Mul",
    .grad_inputs = 0x3,
    .init = mul_init,
    .infer = binary_infer,
    .forward = binary_forward,
    .backward = binary_backward,
    .example_norms = binary_example_norms,
};

const FoilOp foilOpDiv = {
    .type = "Div",
    .grad_inputs = 0x3,
    .init = div_init,
    .infer = binary_infer,
    .forward = binary_forward,
    .backward = binary_backward,
    .example_norms = binary_example_norms,
};

/* ------------------------------------------------------------------------- */
/* Activations. Shapes: x (any), y same shape; n = numel. All float32.        */

static foil_status unary_infer(FoilOpCtx *c)
{
    if (c->n_in < 1 || !c->in[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs an input");
    if (c->n_out < 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs an output");
    const foil_tensor *x = c->in[0];
    if (x->dtype != FOIL_F32)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "type %s is not supported (float32 only)",
                               foil_dtype_name(x->dtype));
    if (foil_tensor_set_shape(c->out[0], x->dtype, x->ndim, x->shape))
        return foilNodeError(c, FOIL_ERR_SHAPE, "%s", foil_last_error());
    c->work_bytes = 0;
    return FOIL_OK;
}

#define PAR_FOR_N _Pragma("omp parallel for if (n >= FOIL_PAR_MIN) schedule(static)")

/* Relu: y = max(x, 0) */
static foil_status relu_forward(FoilOpCtx *c)
{
    const float *x = foil_f32(c->in[0]);
    float *y = foil_f32(c->out[0]);
    const int64_t n = c->in[0]->numel;
    PAR_FOR_N
    for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
    return FOIL_OK;
}

/* forward: y = max(x, 0), so dy/dx = 1 where x > 0 and 0 elsewhere (0 at the
 * kink x = 0, as PyTorch). */
static void relu_backward(FoilOpCtx *c)
{
    if (!c->d_in[0] || !c->d_out[0]) return;
    const float *x = foil_f32(c->in[0]), *dy = foil_f32(c->d_out[0]);
    float *dx = foil_f32(c->d_in[0]);
    const int64_t n = c->in[0]->numel;
    if (foilGradFresh(c, 0)) {
        PAR_FOR_N
        for (int64_t i = 0; i < n; i++) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
        return;
    }
    PAR_FOR_N
    for (int64_t i = 0; i < n; i++) dx[i] += x[i] > 0.0f ? dy[i] : 0.0f;
}

/* LeakyRelu: y = x for x >= 0, alpha * x otherwise (alpha default 0.01). */
typedef struct leaky_state {
    float alpha;
} leaky_state;

static foil_status leakyrelu_init(FoilNode *n)
{
    leaky_state *st = calloc(1, sizeof *st);
    if (!st) return foilNodeInitError(n, FOIL_ERR_NOMEM, "out of memory");
    st->alpha = foilAttrFloat(n, "alpha", 0.01f);
    n->state = st;
    return FOIL_OK;
}

static foil_status leakyrelu_forward(FoilOpCtx *c)
{
    const float alpha = ((const leaky_state *)c->node->state)->alpha;
    const float *x = foil_f32(c->in[0]);
    float *y = foil_f32(c->out[0]);
    const int64_t n = c->in[0]->numel;
    PAR_FOR_N
    for (int64_t i = 0; i < n; i++) y[i] = x[i] >= 0.0f ? x[i] : alpha * x[i];
    return FOIL_OK;
}

/* forward: y = x (x >= 0) or alpha*x, so dy/dx = 1 for x > 0, alpha for
 * x <= 0 (PyTorch's choice at the kink). */
static void leakyrelu_backward(FoilOpCtx *c)
{
    if (!c->d_in[0] || !c->d_out[0]) return;
    const float alpha = ((const leaky_state *)c->node->state)->alpha;
    const float *x = foil_f32(c->in[0]), *dy = foil_f32(c->d_out[0]);
    float *dx = foil_f32(c->d_in[0]);
    const int64_t n = c->in[0]->numel;
    PAR_FOR_N
    for (int64_t i = 0; i < n; i++) dx[i] += x[i] > 0.0f ? dy[i] : alpha * dy[i];
}

/* Sigmoid: y = 1 / (1 + exp(-x)), evaluated without overflow on both sides
 * (foilExpf: vectorizable; results below FLT_MIN flush to 0). */
static foil_status sigmoid_forward(FoilOpCtx *c)
{
    const float *x = foil_f32(c->in[0]);
    float *y = foil_f32(c->out[0]);
    const int64_t n = c->in[0]->numel;
    PAR_FOR_N
    for (int64_t i = 0; i < n; i++) {
        float e = foilExpf(-fabsf(x[i])); /* in [0, 1] */
        float s = 1.0f / (1.0f + e);  /* sigmoid(|x|) */
        y[i] = x[i] >= 0.0f ? s : e * s;
    }
    return FOIL_OK;
}

/* forward: y = sigmoid(x), so dy/dx = y (1 - y); uses the saved output. */
static void sigmoid_backward(FoilOpCtx *c)
{
    if (!c->d_in[0] || !c->d_out[0]) return;
    const float *y = foil_f32(c->out[0]), *dy = foil_f32(c->d_out[0]);
    float *dx = foil_f32(c->d_in[0]);
    const int64_t n = c->in[0]->numel;
    PAR_FOR_N
    for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * y[i] * (1.0f - y[i]);
}

/* Tanh: y = tanh(x) (foilTanhf: vectorizable, see broadcast.h) */
static foil_status tanh_forward(FoilOpCtx *c)
{
    const float *x = foil_f32(c->in[0]);
    float *y = foil_f32(c->out[0]);
    const int64_t n = c->in[0]->numel;
    PAR_FOR_N
    for (int64_t i = 0; i < n; i++) y[i] = foilTanhf(x[i]);
    return FOIL_OK;
}

/* forward: y = tanh(x), so dy/dx = 1 - y^2; uses the saved output. */
static void tanh_backward(FoilOpCtx *c)
{
    if (!c->d_in[0] || !c->d_out[0]) return;
    const float *y = foil_f32(c->out[0]), *dy = foil_f32(c->d_out[0]);
    float *dx = foil_f32(c->d_in[0]);
    const int64_t n = c->in[0]->numel;
    PAR_FOR_N
    for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * (1.0f - y[i] * y[i]);
}

/* Round: to the nearest integer, halves to even (ONNX's rule, and rintf's
 * in the default rounding mode). A step function: it has no gradient
 * (grad_inputs 0), so nothing flows back through it, as in ONNX and
 * PyTorch; bit-depth squeezing written into a model uses it. */
static foil_status round_forward(FoilOpCtx *c)
{
    const float *x = foil_f32(c->in[0]);
    float *y = foil_f32(c->out[0]);
    const int64_t n = c->in[0]->numel;
    PAR_FOR_N
    for (int64_t i = 0; i < n; i++) y[i] = rintf(x[i]);
    return FOIL_OK;
}

const FoilOp foilOpRound = {
    .type = "Round",
    .grad_inputs = 0,
    .infer = unary_infer,
    .forward = round_forward,
};

const FoilOp foilOpRelu = {
    .type = "Relu",
    .grad_inputs = 0x1,
    .infer = unary_infer,
    .forward = relu_forward,
    .backward = relu_backward,
    .writes_grads = 0x1,
};

const FoilOp foilOpLeakyRelu = {
    .type = "LeakyRelu",
    .grad_inputs = 0x1,
    .init = leakyrelu_init,
    .infer = unary_infer,
    .forward = leakyrelu_forward,
    .backward = leakyrelu_backward,
};

const FoilOp foilOpSigmoid = {
    .type = "Sigmoid",
    .grad_inputs = 0x1,
    .infer = unary_infer,
    .forward = sigmoid_forward,
    .backward = sigmoid_backward,
};

const FoilOp foilOpTanh = {
    .type = "Tanh",
    .grad_inputs = 0x1,
    .infer = unary_infer,
    .forward = tanh_forward,
    .backward = tanh_backward,
};

/* ------------------------------------------------------------------------- */
/* Clip: y = min(max(x, lo), hi).
 * Opset < 11: lo, hi are float attributes min/max (default -FLT_MAX, FLT_MAX).
 * Opset >= 11: optional inputs 1 (min) and 2 (max), one-element tensors of x's
 * type; an absent one defaults to the type's lowest / highest value.
 * When lo > hi every output is hi (ONNX and numpy.clip agree). NaN stays NaN.
 * Dtypes: float32 (forward and backward), int8, uint8, int32, int64.
 */
typedef struct clip_state {
    int from_inputs; /* opset >= 11 */
    float lo, hi;    /* opset < 11 */
} clip_state;

static foil_status clip_init(FoilNode *n)
{
    clip_state *st = calloc(1, sizeof *st);
    if (!st) return foilNodeInitError(n, FOIL_ERR_NOMEM, "out of memory");
    st->from_inputs = n->opset >= 11;
    st->lo = foilAttrFloat(n, "min", -FLT_MAX);
    st->hi = foilAttrFloat(n, "max", FLT_MAX);
    n->state = st;
    return FOIL_OK;
}

static int clip_dtype_ok(foil_dtype dt)
{
    return dt == FOIL_F32 || dt == FOIL_I8 || dt == FOIL_U8 || dt == FOIL_I32 || dt == FOIL_I64;
}

static foil_status clip_infer(FoilOpCtx *c)
{
    const clip_state *st = c->node->state;
    if (c->n_in < 1 || !c->in[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs an input");
    if (c->n_out < 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs an output");
    const foil_tensor *x = c->in[0];
    if (!clip_dtype_ok(x->dtype) || (!st->from_inputs && x->dtype != FOIL_F32))
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "type %s is not supported", foil_dtype_name(x->dtype));
    if (c->n_in > 3) return foilNodeError(c, FOIL_ERR_FORMAT, "takes at most 3 inputs, got %d", c->n_in);
    for (int i = 1; i < c->n_in; i++) {
        const foil_tensor *t = c->in[i];
        if (!t) continue;
        if (!st->from_inputs)
            return foilNodeError(c, FOIL_ERR_FORMAT, "min/max are attributes before opset 11, not inputs");
        if (t->dtype != x->dtype)
            return foilNodeError(c, FOIL_ERR_FORMAT, "input %s has type %s, the data %s", i == 1 ? "min" : "max",
                                   foil_dtype_name(t->dtype), foil_dtype_name(x->dtype));
        if (t->numel != 1)
            return foilNodeError(c, FOIL_ERR_SHAPE, "input %s must be a scalar, it has %lld elements",
                                   i == 1 ? "min" : "max", (long long)t->numel);
    }
    if (foil_tensor_set_shape(c->out[0], x->dtype, x->ndim, x->shape))
        return foilNodeError(c, FOIL_ERR_SHAPE, "%s", foil_last_error());
    c->work_bytes = 0;
    return FOIL_OK;
}

#define CLIP_INT(T, LOWEST, HIGHEST)                                               \
    do {                                                                           \
        const T *x = c->in[0]->data;                                               \
        T *y = c->out[0]->data;                                                    \
        T lo = LOWEST, hi = HIGHEST;                                               \
        if (c->n_in > 1 && c->in[1]) lo = *(const T *)c->in[1]->data;              \
        if (c->n_in > 2 && c->in[2]) hi = *(const T *)c->in[2]->data;              \
        PAR_FOR_N                                                                  \
        for (int64_t i = 0; i < n; i++) {                                          \
            T t = x[i] < lo ? lo : x[i];                                           \
            y[i] = t > hi ? hi : t;                                                \
        }                                                                          \
    } while (0)

/* The float bounds in effect for this call. */
static void clip_bounds(const FoilOpCtx *c, float *lo, float *hi)
{
    const clip_state *st = c->node->state;
    *lo = st->from_inputs ? -INFINITY : st->lo;
    *hi = st->from_inputs ? INFINITY : st->hi;
    if (st->from_inputs) {
        if (c->n_in > 1 && c->in[1]) *lo = *foil_f32(c->in[1]);
        if (c->n_in > 2 && c->in[2]) *hi = *foil_f32(c->in[2]);
    }
}

static foil_status clip_forward(FoilOpCtx *c)
{
    const int64_t n = c->in[0]->numel;
    switch (c->in[0]->dtype) {
    case FOIL_F32: {
        float lo, hi;
        clip_bounds(c, &lo, &hi);
        const float *x = foil_f32(c->in[0]);
        float *y = foil_f32(c->out[0]);
        PAR_FOR_N
        for (int64_t i = 0; i < n; i++) {
            float t = x[i] < lo ? lo : x[i];
            y[i] = t > hi ? hi : t;
        }
        break;
    }
    case FOIL_I8: CLIP_INT(int8_t, INT8_MIN, INT8_MAX); break;
    case FOIL_U8: CLIP_INT(uint8_t, 0, UINT8_MAX); break;
    case FOIL_I32: CLIP_INT(int32_t, INT32_MIN, INT32_MAX); break;
    case FOIL_I64: CLIP_INT(int64_t, INT64_MIN, INT64_MAX); break;
    default: return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "unsupported type");
    }
    return FOIL_OK;
}

/* forward: y = min(max(x, lo), hi), so dy/dx = 1 where lo <= x <= hi and 0
 * elsewhere. At the boundaries (x == lo or x == hi) the gradient flows, as in
 * PyTorch's clamp; when lo > hi no x qualifies and nothing flows. The bounds
 * themselves get no gradient (they are constants in every model we meet). */
static void clip_backward(FoilOpCtx *c)
{
    if (c->in[0]->dtype != FOIL_F32 || !c->d_in[0] || !c->d_out[0]) return;
    float lo, hi;
    clip_bounds(c, &lo, &hi);
    const float *x = foil_f32(c->in[0]), *dy = foil_f32(c->d_out[0]);
    float *dx = foil_f32(c->d_in[0]);
    const int64_t n = c->in[0]->numel;
    PAR_FOR_N
    for (int64_t i = 0; i < n; i++) dx[i] += (x[i] >= lo && x[i] <= hi) ? dy[i] : 0.0f;
}

const FoilOp foilOpClip = {
    .type = "Clip",
    .grad_inputs = 0x1,
    .init = clip_init,
    .infer = clip_infer,
    .forward = clip_forward,
    .backward = clip_backward,
};
