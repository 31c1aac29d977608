/*
 * nn/ops/slice.c - ops that pick or repeat elements along each axis: Slice,
 * Split, Expand, Tile (op.h is the interface they implement).
 *
 * What this file is: one "index map" kernel and the ops that reduce to it.
 * An index map gives, for every output axis d and output index o on it, the
 * offset of the source element along that axis (input index * input stride):
 *   out[o_0, .., o_{r-1}] = in[map_0(o_0) + .. + map_{r-1}(o_{r-1})]
 *   Slice:  map_d(o) = (start_d + o * step_d) * stride_d
 *   Expand: map_d(o) = in_d == 1 ? 0 : o * stride_d   (broadcast)
 *   Tile:   map_d(o) = (o mod in_d) * stride_d
 * The maps take sum(out dims) int64 in c->work, filled at every forward and
 * backward (that is O(sum of dims), nothing next to the copy). Backward is
 *   d_in[map(o)] += d_out[o]
 * in parallel when the map is one-to-one (Slice), serially otherwise.
 * Split is a Concat backwards: outer/inner around the axis, contiguous
 * blocks (as layout.c's Concat).
 * What it deliberately is not: a view mechanism; outputs are always copies.
 *
 * All ops are dtype-generic (elements copied by size); gradients are float32.
 * Shape-deciding inputs (Slice's starts/ends/axes/steps, Split's split,
 * Expand's shape, Tile's repeats) must be known at plan time (c->known[i]):
 * constants, or computed from shapes by Shape/Gather/Concat, which the
 * planner folds.
 */
#include <stdlib.h>
#include <string.h>

#include "nn/op.h"
#include "nn/ops/broadcast.h"
#include "nn/ops/op_checks.h"

#define PAR_MIN ((int64_t)1 << 15) /* elements below which loops stay serial */

/* ========================================================================= */
/* the index-map kernel                                                      */

typedef struct imap {
    int r;                        /* output rank */
    int64_t n[FOIL_MAX_DIMS];     /* output dims */
    int64_t *map[FOIL_MAX_DIMS];  /* map[d][o]: source offset of output index o on axis d */
} imap;

/* Lay out the maps of an output shape in buf (sum of dims int64). */
static void imap_init(imap *m, const foil_tensor *y, int64_t *buf)
{
    m->r = y->ndim;
    for (int d = 0; d < y->ndim; d++) {
        m->n[d] = y->shape[d];
        m->map[d] = buf;
        buf += y->shape[d];
    }
}

static size_t imap_bytes(const foil_tensor *y)
{
    int64_t s = 0;
    for (int d = 0; d < y->ndim; d++) s += y->shape[d];
    return (size_t)s * sizeof(int64_t);
}

static void in_strides(const foil_tensor *x, int64_t *stride)
{
    int64_t s = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        stride[d] = s;
        s *= x->shape[d];
    }
}

/* Source offset of the first element of output row `row` (all axes but the last). */
static int64_t imap_row(const imap *m, int64_t row)
{
    int64_t off = 0;
    for (int d = m->r - 2; d >= 0; d--) {
        int64_t q = row / m->n[d];
        off += m->map[d][row - q * m->n[d]];
        row = q;
    }
    return off;
}

/* A row whose last-axis map is a contiguous run (last[j] = last[0] + j: a
 * slice with step 1, an unbroadcast axis) is one memcpy. */
static int imap_last_contiguous(const imap *m)
{
    const int64_t *last = m->map[m->r - 1];
    for (int64_t j = 1; j < m->n[m->r - 1]; j++)
        if (last[j] != last[0] + j) return 0;
    return 1;
}

#define IMAP_GATHER(NAME, T)                                                              \
    static void NAME(const imap *m, const T *restrict in, T *restrict out, int64_t rows, \
                     int64_t inner)                                                       \
    {                                                                                     \
        const int64_t *last = m->map[m->r - 1];                                           \
        const int run = imap_last_contiguous(m);                                          \
        _Pragma("omp parallel for if (rows * inner > PAR_MIN) schedule(static)")          \
        for (int64_t row = 0; row < rows; row++) {                                        \
            const T *src = in + imap_row(m, row);                                         \
            T *dst = out + row * inner;                                                   \
            if (run) memcpy(dst, src + last[0], (size_t)inner * sizeof(T));               \
            else                                                                          \
                for (int64_t j = 0; j < inner; j++) dst[j] = src[last[j]];                \
        }                                                                                 \
    }
IMAP_GATHER(imap_gather1, uint8_t)
IMAP_GATHER(imap_gather2, uint16_t)
IMAP_GATHER(imap_gather4, uint32_t)
IMAP_GATHER(imap_gather8, uint64_t)

/* out[o] = in[map(o)] for every output element. */
static void imap_gather(const imap *m, size_t es, const void *in, void *out)
{
    if (m->r == 0) {
        memcpy(out, in, es);
        return;
    }
    int64_t inner = m->n[m->r - 1], rows = foilShapeProd(m->n, 0, m->r - 1);
    if (inner == 0 || rows == 0) return;
    switch (es) {
    case 1: imap_gather1(m, in, out, rows, inner); break;
    case 2: imap_gather2(m, in, out, rows, inner); break;
    case 4: imap_gather4(m, in, out, rows, inner); break;
    default: imap_gather8(m, in, out, rows, inner); break;
    }
}

/* d_in[map(o)] += d_out[o]; rows in parallel only when the map is one-to-one. */
static void imap_scatter_add(const imap *m, const float *dy, float *dx, int one_to_one)
{
    if (m->r == 0) {
        dx[0] += dy[0];
        return;
    }
    const int64_t inner = m->n[m->r - 1], rows = foilShapeProd(m->n, 0, m->r - 1);
    if (inner == 0 || rows == 0) return;
    const int64_t *last = m->map[m->r - 1];
    const int run = imap_last_contiguous(m);
#pragma omp parallel for if (one_to_one && rows * inner > PAR_MIN) schedule(static)
    for (int64_t row = 0; row < rows; row++) {
        float *d = dx + imap_row(m, row);
        const float *g = dy + row * inner;
        if (run) {
            float *restrict dr = d + last[0];
            for (int64_t j = 0; j < inner; j++) dr[j] += g[j];
        } else {
            for (int64_t j = 0; j < inner; j++) d[last[j]] += g[j];
        }
    }
}

static int grad_wanted(const FoilOpCtx *c)
{
    return c->d_in && c->d_in[0] && c->d_out && c->d_out[0] && c->d_in[0]->dtype == FOIL_F32;
}

/* ========================================================================= */
/* Slice                                                                     */
/*   opset >= 10: inputs data, starts, ends, axes (optional), steps          */
/*   (optional; from opset 10), all known at plan time. opset 1: attributes  */
/*   starts, ends, axes; step 1.                                             */
/* On each sliced axis of size d, with step t != 0 (numpy semantics):        */
/*   s, e < 0: add d; then t > 0: clamp s, e to [0, d];                      */
/*                         t < 0: clamp s to [0, d-1], e to [-1, d-1];       */
/*   count = t > 0 ? max(0, ceil((e - s) / t)) : max(0, ceil((s - e) / -t))  */
/*   out index o takes input index s + o * t.                                */
/* Other axes are kept whole (start 0, step 1).                              */

typedef struct slice_state {
    int64_t start[FOIL_MAX_DIMS], step[FOIL_MAX_DIMS]; /* per axis, for this plan */
} slice_state;

static foil_status slice_init(FoilNode *n)
{
    if (n->opset < 10) {
        const int64_t *v;
        foil_status st;
        if ((st = foilOpCheckAttr(n, "starts", FOIL_ATTR_INTS)) || (st = foilOpCheckAttr(n, "ends", FOIL_ATTR_INTS)) ||
            (st = foilOpCheckAttr(n, "axes", FOIL_ATTR_INTS)))
            return st;
        if (foilAttrInts(n, "starts", &v) < 0 || foilAttrInts(n, "ends", &v) < 0)
            return foilNodeInitError(n, FOIL_ERR_FORMAT, "attributes 'starts' and 'ends' are required before opset 10");
    }
    if (!(n->state = calloc(1, sizeof(slice_state)))) return foilNodeInitError(n, FOIL_ERR_NOMEM, "out of memory");
    return FOIL_OK;
}

/* The parameters of one slice: starts, ends, axes, steps (count n each). */
static foil_status slice_params(FoilOpCtx *c, int64_t p[4][FOIL_MAX_DIMS], int *n)
{
    static const char *const names[4] = {"starts", "ends", "axes", "steps"};
    int cnt[4] = {-1, -1, -1, -1};
    foil_status st;
    if (c->node->opset < 10) {
        for (int k = 0; k < 3; k++) {
            const int64_t *v;
            cnt[k] = foilAttrInts(c->node, names[k], &v);
            if (cnt[k] > FOIL_MAX_DIMS)
                return foilNodeError(c, FOIL_ERR_FORMAT, "'%s' has %d values (at most %d possible)", names[k],
                                       cnt[k], FOIL_MAX_DIMS);
            for (int i = 0; i < cnt[k]; i++) p[k][i] = v[i];
        }
    } else {
        for (int k = 0; k < 4; k++)
            if (k + 1 < c->n_in && c->in[k + 1] && (st = foilKnownInts(c, k + 1, names[k], p[k], FOIL_MAX_DIMS, &cnt[k])))
                return st;
    }
    if (cnt[1] != cnt[0])
        return foilNodeError(c, FOIL_ERR_FORMAT, "starts has %d values but ends has %d", cnt[0], cnt[1]);
    for (int k = 2; k < 4; k++)
        if (cnt[k] >= 0 && cnt[k] != cnt[0])
            return foilNodeError(c, FOIL_ERR_FORMAT, "%s has %d values but starts has %d", names[k], cnt[k], cnt[0]);
    for (int i = 0; i < cnt[0]; i++) {
        if (cnt[2] < 0) p[2][i] = i;
        if (cnt[3] < 0) p[3][i] = 1;
    }
    *n = cnt[0];
    return FOIL_OK;
}

static foil_status slice_infer(FoilOpCtx *c)
{
    foil_status st = foilOpCheckArity(c, c->node->opset < 10 ? 1 : 3, c->node->opset < 10 ? 1 : 5);
    if (st) return st;
    if (c->n_out != 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "expects 1 output");
    const foil_tensor *x = c->in[0];
    int64_t p[4][FOIL_MAX_DIMS];
    int n = 0;
    if ((st = slice_params(c, p, &n))) return st;
    slice_state *s = c->state;
    int64_t shape[FOIL_MAX_DIMS];
    int seen[FOIL_MAX_DIMS] = {0};
    for (int d = 0; d < x->ndim; d++) {
        s->start[d] = 0;
        s->step[d] = 1;
        shape[d] = x->shape[d];
    }
    for (int i = 0; i < n; i++) {
        int a = foilNormAxis(p[2][i], x->ndim);
        if (a < 0)
            return foilNodeError(c, FOIL_ERR_FORMAT, "axis %lld is out of range for a rank-%d input",
                                   (long long)p[2][i], x->ndim);
        if (seen[a]) return foilNodeError(c, FOIL_ERR_FORMAT, "axis %lld is repeated", (long long)p[2][i]);
        seen[a] = 1;
        int64_t d = x->shape[a], b = p[0][i], e = p[1][i], t = p[3][i];
        if (t == 0) return foilNodeError(c, FOIL_ERR_FORMAT, "step 0 on axis %d", a);
        if (b < 0) b += d;
        if (e < 0) e += d;
        int64_t cnt;
        if (t > 0) {
            b = b < 0 ? 0 : b > d ? d : b;
            e = e < 0 ? 0 : e > d ? d : e;
            cnt = e > b ? 1 + (e - b - 1) / t : 0;
        } else {
            b = b < 0 ? 0 : b > d - 1 ? d - 1 : b;
            e = e < -1 ? -1 : e > d - 1 ? d - 1 : e;
            int64_t mt = t == INT64_MIN ? INT64_MAX : -t;
            cnt = b > e ? 1 + (b - e - 1) / mt : 0;
        }
        s->start[a] = b;
        s->step[a] = t;
        shape[a] = cnt;
    }
    if ((st = foilOpSetOutput(c, 0, x->dtype, x->ndim, shape))) return st;
    c->work_bytes = imap_bytes(c->out[0]);
    return FOIL_OK;
}

static void slice_map(const FoilOpCtx *c, imap *m)
{
    const slice_state *s = c->state;
    int64_t stride[FOIL_MAX_DIMS];
    in_strides(c->in[0], stride);
    imap_init(m, c->out[0], c->work);
    for (int d = 0; d < m->r; d++)
        for (int64_t o = 0; o < m->n[d]; o++) m->map[d][o] = (s->start[d] + o * s->step[d]) * stride[d];
}

static foil_status slice_forward(FoilOpCtx *c)
{
    imap m;
    slice_map(c, &m);
    imap_gather(&m, foil_dtype_size(c->in[0]->dtype), c->in[0]->data, c->out[0]->data);
    return FOIL_OK;
}

/* In the forward pass this was out[o] = in[map(o)], distinct o reading
 * distinct elements, so d_in[map(o)] += d_out[o] (the rest gets nothing). */
static void slice_backward(FoilOpCtx *c)
{
    if (!grad_wanted(c)) return;
    imap m;
    slice_map(c, &m);
    imap_scatter_add(&m, foil_f32(c->d_out[0]), foil_f32(c->d_in[0]), 1);
}

const FoilOp foilOpSlice = {
    .type = "Slice", .grad_inputs = 1u,
    .init = slice_init, .infer = slice_infer, .forward = slice_forward, .backward = slice_backward,
    .plan_state_bytes = sizeof(slice_state),
};

/* ========================================================================= */
/* Split: outputs k = 0..K-1 take consecutive blocks of len_k along axis:    */
/*   out_k[o, j] = in[o, off_k * inner + j],  j < len_k * inner             */
/* with outer/inner around the axis. The lengths: attribute 'split' (opset   */
/* < 13) or input 1 (opset >= 13, known at plan time); without them, equal   */
/* parts (the axis must divide by K), or from opset 18 with num_outputs:     */
/* ceil(d / K) each and the remainder last.                                  */

static foil_status split_init(FoilNode *n)
{
    foil_status st;
    if ((st = foilOpCheckAttr(n, "axis", FOIL_ATTR_INT)) || (st = foilOpCheckAttr(n, "split", FOIL_ATTR_INTS)) ||
        (st = foilOpCheckAttr(n, "num_outputs", FOIL_ATTR_INT)))
        return st;
    if (n->opset >= 18 && foilAttrGet(n, "num_outputs") && foilAttrInt(n, "num_outputs", 0) != n->n_out)
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "num_outputs is %lld but the node has %d outputs",
                                    (long long)foilAttrInt(n, "num_outputs", 0), n->n_out);
    return FOIL_OK;
}

static int split_axis(const FoilOpCtx *c) { return foilNormAxis(foilAttrInt(c->node, "axis", 0), c->in[0]->ndim); }

static foil_status split_infer(FoilOpCtx *c)
{
    foil_status st = foilOpCheckArity(c, 1, c->node->opset >= 13 ? 2 : 1);
    if (st) return st;
    const foil_tensor *x = c->in[0];
    int K = c->n_out;
    if (K < 1 || K > 4096) return foilNodeError(c, FOIL_ERR_FORMAT, "expects 1 to 4096 outputs, got %d", K);
    int axis = split_axis(c);
    if (axis < 0)
        return foilNodeError(c, FOIL_ERR_FORMAT, "axis %lld is out of range for a rank-%d input",
                               (long long)foilAttrInt(c->node, "axis", 0), x->ndim);
    int64_t d = x->shape[axis];
    int64_t len[4096];
    int n = -1;
    if (c->node->opset < 13) {
        const int64_t *v;
        n = foilAttrInts(c->node, "split", &v);
        for (int k = 0; k < n && k < K; k++) len[k] = v[k];
    } else if (c->n_in > 1 && c->in[1] && (st = foilKnownInts(c, 1, "split", len, 4096, &n))) {
        return st;
    }
    if (n >= 0) {
        if (n != K) return foilNodeError(c, FOIL_ERR_FORMAT, "split has %d values for %d outputs", n, K);
        int64_t sum = 0;
        for (int k = 0; k < K; k++) {
            if (len[k] < 0) return foilNodeError(c, FOIL_ERR_FORMAT, "split[%d] = %lld is negative", k, (long long)len[k]);
            sum += len[k];
        }
        if (sum != d)
            return foilNodeError(c, FOIL_ERR_SHAPE, "split sums to %lld but axis %d has %lld", (long long)sum, axis,
                                   (long long)d);
    } else if (c->node->opset >= 18 && foilAttrGet(c->node, "num_outputs")) {
        int64_t chunk = (d + K - 1) / K;
        for (int k = 0; k < K; k++) len[k] = d - k * chunk < chunk ? (d - k * chunk > 0 ? d - k * chunk : 0) : chunk;
    } else {
        if (d % K)
            return foilNodeError(c, FOIL_ERR_SHAPE, "axis %d of size %lld cannot be split into %d equal parts", axis,
                                   (long long)d, K);
        for (int k = 0; k < K; k++) len[k] = d / K;
    }
    int64_t shape[FOIL_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    for (int k = 0; k < K; k++) {
        if (!c->out[k]) return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "output %d is omitted (every output of Split must be named)", k);
        shape[axis] = len[k];
        if ((st = foilOpSetOutput(c, k, x->dtype, x->ndim, shape))) return st;
    }
    return FOIL_OK;
}

/* outer/inner around the axis, the input's row (axis * inner) and each
 * output's block offset in it, from the outputs' shapes. */
static void split_blocks(const FoilOpCtx *c, int64_t *outer, int64_t *inner, int64_t *row, int64_t *off)
{
    const foil_tensor *x = c->in[0];
    int axis = split_axis(c);
    *outer = foilShapeProd(x->shape, 0, axis);
    *inner = foilShapeProd(x->shape, axis + 1, x->ndim);
    *row = x->shape[axis] * *inner;
    int64_t o = 0;
    for (int k = 0; k < c->n_out; k++) {
        off[k] = o;
        o += c->out[k]->shape[axis] * *inner;
    }
}

static foil_status split_forward(FoilOpCtx *c)
{
    int64_t outer, inner, row, off[4096];
    split_blocks(c, &outer, &inner, &row, off);
    size_t es = foil_dtype_size(c->in[0]->dtype);
    const char *src = c->in[0]->data;
    for (int k = 0; k < c->n_out; k++) {
        const foil_tensor *y = c->out[k];
        if (y->numel == 0) continue;
        size_t blk = (size_t)(y->numel / outer) * es;
        char *dst = y->data;
#pragma omp parallel for if (y->numel > PAR_MIN && outer > 1) schedule(static)
        for (int64_t o = 0; o < outer; o++) memcpy(dst + (size_t)o * blk, src + ((size_t)(o * row + off[k])) * es, blk);
    }
    return FOIL_OK;
}

/* In the forward pass this was out_k[o, j] = in[o, off_k + j], so
 * d_in[o, off_k + j] += d_out_k[o, j]: the gradients are concatenated back. */
static void split_backward(FoilOpCtx *c)
{
    if (!c->d_in || !c->d_in[0] || !c->d_out || c->d_in[0]->dtype != FOIL_F32) return;
    int64_t outer, inner, row, off[4096];
    split_blocks(c, &outer, &inner, &row, off);
    float *dx = foil_f32(c->d_in[0]);
    for (int k = 0; k < c->n_out; k++) {
        const foil_tensor *g = c->d_out[k];
        if (!g || c->out[k]->numel == 0) continue;
        int64_t blk = c->out[k]->numel / outer;
        const float *gy = foil_f32(g);
#pragma omp parallel for if (g->numel > PAR_MIN && outer > 1) schedule(static)
        for (int64_t o = 0; o < outer; o++) {
            float *restrict a = dx + o * row + off[k];
            const float *restrict b = gy + o * blk;
            for (int64_t j = 0; j < blk; j++) a[j] += b[j];
        }
    }
}

const FoilOp foilOpSplit = {
    .type = "Split", .grad_inputs = 1u,
    .init = split_init, .infer = split_infer, .forward = split_forward, .backward = split_backward,
};

/* ========================================================================= */
/* Expand: input broadcast (numpy, both ways) with shape (input 1, known at  */
/* plan time): output = broadcast(input.shape, shape).                        */
/*   map_d(o) = in_d == 1 ? 0 : o * stride_d (input right-aligned)           */
/* Tile: output dim d = in_d * repeats_d (input 1, known):                   */
/*   map_d(o) = (o mod in_d) * stride_d                                       */
/* Both read elements several times, so backward sums serially.              */

static foil_status expand_infer(FoilOpCtx *c)
{
    foil_status st = foilOpCheckArity(c, 2, 2);
    if (st) return st;
    if (c->n_out != 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "expects 1 output");
    const foil_tensor *x = c->in[0];
    int64_t req[FOIL_MAX_DIMS], shape[FOIL_MAX_DIMS];
    int n = 0, r, bad;
    if ((st = foilKnownInts(c, 1, "shape", req, FOIL_MAX_DIMS, &n))) return st;
    for (int i = 0; i < n; i++)
        if (req[i] < 0) return foilNodeError(c, FOIL_ERR_FORMAT, "shape[%d] = %lld is negative", i, (long long)req[i]);
    if (foilBcastShape(x->ndim, x->shape, n, req, &r, shape, &bad)) {
        char b[96];
        return foilNodeError(c, FOIL_ERR_SHAPE, "input %s cannot be expanded to the requested shape (dimension %d)",
                               foil_shape_str(x, b, sizeof b), bad);
    }
    if ((st = foilOpSetOutput(c, 0, x->dtype, r, shape))) return st;
    c->work_bytes = imap_bytes(c->out[0]);
    return FOIL_OK;
}

static void expand_map(const FoilOpCtx *c, imap *m)
{
    const foil_tensor *x = c->in[0];
    int64_t stride[FOIL_MAX_DIMS];
    in_strides(x, stride);
    imap_init(m, c->out[0], c->work);
    int lead = m->r - x->ndim;
    for (int d = 0; d < m->r; d++) {
        int xd = d - lead;
        int bcast = xd < 0 || x->shape[xd] == 1;
        for (int64_t o = 0; o < m->n[d]; o++) m->map[d][o] = bcast ? 0 : o * stride[xd];
    }
}

static foil_status expand_forward(FoilOpCtx *c)
{
    imap m;
    expand_map(c, &m);
    imap_gather(&m, foil_dtype_size(c->in[0]->dtype), c->in[0]->data, c->out[0]->data);
    return FOIL_OK;
}

/* In the forward pass this was out[o] = in[map(o)], many o per element, so
 * d_in[i] += sum over o with map(o) = i of d_out[o]. */
static void expand_backward(FoilOpCtx *c)
{
    if (!grad_wanted(c)) return;
    imap m;
    expand_map(c, &m);
    imap_scatter_add(&m, foil_f32(c->d_out[0]), foil_f32(c->d_in[0]), 0);
}

const FoilOp foilOpExpand = {
    .type = "Expand", .grad_inputs = 1u,
    .infer = expand_infer, .forward = expand_forward, .backward = expand_backward,
};

static foil_status tile_infer(FoilOpCtx *c)
{
    foil_status st = foilOpCheckArity(c, 2, 2);
    if (st) return st;
    if (c->n_out != 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "expects 1 output");
    const foil_tensor *x = c->in[0];
    int64_t rep[FOIL_MAX_DIMS], shape[FOIL_MAX_DIMS];
    int n = 0;
    if ((st = foilKnownInts(c, 1, "repeats", rep, FOIL_MAX_DIMS, &n))) return st;
    if (n != x->ndim)
        return foilNodeError(c, FOIL_ERR_FORMAT, "repeats has %d values for a rank-%d input", n, x->ndim);
    for (int d = 0; d < n; d++) {
        if (rep[d] < 0)
            return foilNodeError(c, FOIL_ERR_FORMAT, "repeats[%d] = %lld is negative", d, (long long)rep[d]);
        if (x->shape[d] && rep[d] > INT64_MAX / x->shape[d])
            return foilNodeError(c, FOIL_ERR_FORMAT, "repeats[%d] = %lld overflows", d, (long long)rep[d]);
        shape[d] = x->shape[d] * rep[d];
    }
    if ((st = foilOpSetOutput(c, 0, x->dtype, n, shape))) return st;
    c->work_bytes = imap_bytes(c->out[0]);
    return FOIL_OK;
}

static void tile_map(const FoilOpCtx *c, imap *m)
{
    const foil_tensor *x = c->in[0];
    int64_t stride[FOIL_MAX_DIMS];
    in_strides(x, stride);
    imap_init(m, c->out[0], c->work);
    for (int d = 0; d < m->r; d++)
        for (int64_t o = 0; o < m->n[d]; o++) m->map[d][o] = (o % x->shape[d]) * stride[d];
}

static foil_status tile_forward(FoilOpCtx *c)
{
    imap m;
    tile_map(c, &m);
    imap_gather(&m, foil_dtype_size(c->in[0]->dtype), c->in[0]->data, c->out[0]->data);
    return FOIL_OK;
}

/* As Expand's: d_in[i] += sum over the copies o of i of d_out[o]. */
static void tile_backward(FoilOpCtx *c)
{
    if (!grad_wanted(c)) return;
    imap m;
    tile_map(c, &m);
    imap_scatter_add(&m, foil_f32(c->d_out[0]), foil_f32(c->d_in[0]), 0);
}

const FoilOp foilOpTile = {
    .type = "Tile", .grad_inputs = 1u,
    .infer = tile_infer, .forward = tile_forward, .backward = tile_backward,
};
