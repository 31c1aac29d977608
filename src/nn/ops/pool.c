/*
 * nn/ops/pool.c - MaxPool, AveragePool and GlobalAveragePool over 1, 2 or 3
 * spatial axes, forward and backward.
 *
 * Shapes (stated once): X (N, C, in...), Y (N, C, out...); a "plane" is one
 * (n, c) pair, P = prod(out) outputs per plane. Window geometry (kernel_shape,
 * strides, dilations, pads / auto_pad, ceil_mode) comes from im2col.h, in its
 * canonical 3-D form (d, h, w), so one triple loop serves every rank.
 *
 *   MaxPool:     Y[p, o] = max over the window's taps that fall inside X
 *                (padding never wins); the optional Indices output holds the
 *                flat index of the winner in X: row-major (storage_order 0) or
 *                with the first spatial axis fastest (storage_order 1), plus
 *                plane * prod(in). float32 and uint8 (uint8: forward only).
 *   AveragePool: Y[p, o] = sum of the window's taps inside X / count, where
 *                count is the number of taps inside X (count_include_pad 0) or
 *                inside the padded extent [-pad_begin, in + pad_end)
 *                (count_include_pad 1; differs only for ceil_mode windows that
 *                run past the end padding, as in PyTorch and ONNX Runtime).
 *   GlobalAveragePool: Y[p] = mean of plane p.
 *
 * What it is: plain loops over planes (OpenMP-parallel when large); MaxPool
 * saves each output's winner (index within its plane) in the workspace for
 * backward; a tight special case for 2x2 stride-2 unpadded max pooling.
 * What it is not: LpPool, GlobalMaxPool, MaxUnpool (not implemented here).
 */
#include <assert.h>
#include <float.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "nn/op.h"
#include "nn/ops/im2col.h"

/* Parallelize over planes when a call touches at least this many taps. */
#define POOL_PAR_WORK 32768

typedef struct pool_state {
    int is_max;
    FoilWinattr wa;
    int ceil_mode, count_include_pad, storage_order;
    /* resolved by infer for the current plan */
    FoilWindow w;
    int64_t planes;
    int fast2x2;     /* MaxPool 2x2, stride 2, no padding or dilation, no partial window */
    int fast3x3s2;   /* MaxPool 2-D 3x3, stride 2, no dilation, any padding */
    int64_t sample_fl;   /* pool_in: floats of one sample's input (a buffer a thread) */
    int nthr;            /* ... and how many buffers */
} pool_state;

/* Per canonical axis a and window position o: the taps inside the input,
 * [lo, hi), and the number of taps inside the padded extent (npad). Computed
 * once per call into the front of the workspace, so the window loops do no
 * divisions. */
typedef struct tap_table {
    int32_t *lo[FOIL_WIN_DIMS], *hi[FOIL_WIN_DIMS], *npad[FOIL_WIN_DIMS];
} tap_table;

static size_t tap_table_bytes(const FoilWindow *w)
{
    size_t n = (size_t)(w->out[0] + w->out[1] + w->out[2]) * 3 * sizeof(int32_t);
    return (n + 63) / 64 * 64;
}

static void tap_table_fill(const FoilWindow *w, void *work, tap_table *tt)
{
    int32_t *p = work;
    for (int a = 0; a < FOIL_WIN_DIMS; a++) {
        tt->lo[a] = p, tt->hi[a] = p + w->out[a], tt->npad[a] = p + 2 * w->out[a];
        p += 3 * w->out[a];
        for (int64_t o = 0; o < w->out[a]; o++) {
            int64_t lo, hi, plo, phi;
            foilWinRange(o * w->s[a] - w->p0[a], w->d[a], w->in[a], w->k[a], &lo, &hi);
            foilWinRange(o * w->s[a], w->d[a], w->in[a] + w->p0[a] + w->p1[a], w->k[a], &plo, &phi);
            tt->lo[a][o] = (int32_t)lo, tt->hi[a][o] = (int32_t)hi, tt->npad[a][o] = (int32_t)(phi - plo);
        }
    }
}

static foil_status get_flag(const FoilNode *n, const char *name, int *v)
{
    const FoilAttr *a = foilAttrGet(n, name);
    *v = 0;
    if (!a) return FOIL_OK;
    if (a->type != FOIL_ATTR_INT)
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "attribute '%s' must be an int", name);
    if (a->i != 0 && a->i != 1)
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "attribute '%s' = %lld must be 0 or 1", name,
                                    (long long)a->i);
    *v = (int)a->i;
    return FOIL_OK;
}

static foil_status pool_init(FoilNode *node, int is_max)
{
    pool_state *st = calloc(1, sizeof *st);
    if (!st) return foilNodeInitError(node, FOIL_ERR_NOMEM, "out of memory");
    node->state = st;
    st->is_max = is_max;
    foil_status s = foilWinattrParse(node, &st->wa);
    if (s) return s;
    if (st->wa.nk < 1) return foilNodeInitError(node, FOIL_ERR_FORMAT, "attribute 'kernel_shape' is required");
    if ((s = get_flag(node, "ceil_mode", &st->ceil_mode))) return s;
    if (is_max) {
        if ((s = get_flag(node, "storage_order", &st->storage_order))) return s;
    } else {
        if ((s = get_flag(node, "count_include_pad", &st->count_include_pad))) return s;
    }
    return FOIL_OK;
}

static foil_status maxpool_init(FoilNode *node) { return pool_init(node, 1); }
static foil_status averagepool_init(FoilNode *node) { return pool_init(node, 0); }

/* MaxPool's winners (int32 per output), 64-byte rounded, after the tap table. */
static size_t arg_bytes(const FoilOpCtx *c) { return ((size_t)c->out[0]->numel * sizeof(int32_t) + 63) / 64 * 64; }

static int32_t *pool_args(const FoilOpCtx *c)
{
    const pool_state *st = c->state;
    return (int32_t *)((char *)c->work + tap_table_bytes(&st->w));
}

static foil_status pool_infer(FoilOpCtx *c)
{
    pool_state *st = c->state;
    int max_out = st->is_max ? 2 : 1;
    if (c->n_in != 1 || !c->in[0] || c->n_out < 1 || c->n_out > max_out || !c->out[0])
        return foilNodeError(c, FOIL_ERR_FORMAT, "takes one input and has %s",
                               st->is_max ? "one or two outputs" : "one output");
    const foil_tensor *x = c->in[0];
    if (x->dtype != FOIL_F32 && !(st->is_max && x->dtype == FOIL_U8))
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "input type %s is not supported",
                               foil_dtype_name(x->dtype));
    int nsp = x->ndim - 2;
    if (nsp != st->wa.nk)
        return foilNodeError(c, FOIL_ERR_SHAPE, "X has rank %d but kernel_shape has %d values", x->ndim,
                               st->wa.nk);
    foil_status s = foilWindowResolve(c, &st->wa, nsp, x->shape + 2, st->wa.k, st->ceil_mode, &st->w);
    if (s) return s;
    const FoilWindow *w = &st->w;
    /* winners and tap counts are kept as int32 */
    if (w->in_size > INT32_MAX)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "spatial size %lld is too large", (long long)w->in_size);
    for (int a = 0; a < FOIL_WIN_DIMS; a++)
        if (w->k[a] > INT32_MAX || w->in[a] + w->p0[a] + w->p1[a] > INT32_MAX)
            return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "window too large (kernel %lld, padded input %lld)",
                                   (long long)w->k[a], (long long)(w->in[a] + w->p0[a] + w->p1[a]));
    int64_t yshape[FOIL_MAX_DIMS];
    yshape[0] = x->shape[0];
    yshape[1] = x->shape[1];
    for (int j = 0; j < nsp; j++) yshape[2 + j] = w->out[FOIL_WIN_DIMS - nsp + j];
    if (foil_tensor_set_shape(c->out[0], x->dtype, x->ndim, yshape))
        return foilNodeError(c, FOIL_ERR_SHAPE, "%s", foil_last_error());
    if (c->n_out > 1 && c->out[1] && foil_tensor_set_shape(c->out[1], FOIL_I64, x->ndim, yshape))
        return foilNodeError(c, FOIL_ERR_SHAPE, "%s", foil_last_error());
    st->planes = x->shape[0] * x->shape[1];
    st->fast2x2 = foilOpsFastPaths && st->is_max && x->dtype == FOIL_F32 && nsp == 2 && w->k[1] == 2 &&
                  w->k[2] == 2 && w->s[1] == 2 && w->s[2] == 2 && w->d[1] == 1 && w->d[2] == 1 && !w->p0[1] &&
                  !w->p0[2] && !w->p1[1] && !w->p1[2] && 2 * w->out[1] <= w->in[1] && 2 * w->out[2] <= w->in[2];
    st->fast3x3s2 = foilOpsFastPaths && st->is_max && x->dtype == FOIL_F32 && nsp == 2 && w->k[1] == 3 &&
                    w->k[2] == 3 && w->s[1] == 2 && w->s[2] == 2 && w->d[1] == 1 && w->d[2] == 1;
    /* MaxPool keeps each output's winner (int32 index within its plane) */
    c->work_bytes = tap_table_bytes(w) + (st->is_max ? arg_bytes(c) : 0);
    /* its producer's offer to run the forward (graph.c, pool_producer): the
     * 2x2 path, without Indices; then a buffer of one sample's input for
     * each thread follows the winners */
    if (c->pool_in && !(st->fast2x2 && (c->n_out == 1 || !c->out[1]))) c->pool_in = 0;
    st->sample_fl = c->pool_in ? x->shape[1] * w->in_size : 0;
    st->nthr = omp_get_max_threads() > 0 ? omp_get_max_threads() : 1;
    c->work_bytes += (size_t)st->nthr * (size_t)st->sample_fl * sizeof(float);
    return FOIL_OK;
}

/* ---------------------------------------------------------------------------
 * MaxPool
 */

/* One window, output (od, oh, ow) of a plane: *y = max over the window's
 * taps inside x; *arg = index of the first tap reaching it (row-major within
 * the plane), or -1 (and *y = LOWEST) for a window that lies entirely in the
 * padding. A NaN first tap stays the result (later comparisons with it are
 * false), as on the vector paths. */
#define DEFINE_MAX_WINDOW(NAME, T, LOWEST)                                                                           \
    static inline void NAME(const FoilWindow *w, const tap_table *tt, const T *x, int64_t od, int64_t oh,            \
                            int64_t ow, T *y, int32_t *arg)                                                          \
    {                                                                                                                \
        const int64_t I1 = w->in[1], I2 = w->in[2];                                                                  \
        int64_t lo0 = tt->lo[0][od], hi0 = tt->hi[0][od], b0 = od * w->s[0] - w->p0[0];                              \
        int64_t lo1 = tt->lo[1][oh], hi1 = tt->hi[1][oh], b1 = oh * w->s[1] - w->p0[1];                              \
        int64_t lo2 = tt->lo[2][ow], hi2 = tt->hi[2][ow], b2 = ow * w->s[2] - w->p0[2];                              \
        if (lo0 >= hi0 || lo1 >= hi1 || lo2 >= hi2) {                                                                \
            *y = LOWEST;                                                                                             \
            *arg = -1;                                                                                               \
            return;                                                                                                  \
        }                                                                                                            \
        /* start from the first inside tap; branch-free after that */                                                \
        int64_t bi = ((b0 + lo0 * w->d[0]) * I1 + b1 + lo1 * w->d[1]) * I2 + b2 + lo2 * w->d[2];                     \
        T best = x[bi];                                                                                              \
        for (int64_t t0 = lo0; t0 < hi0; t0++)                                                                       \
            for (int64_t t1 = lo1; t1 < hi1; t1++) {                                                                 \
                int64_t row = ((b0 + t0 * w->d[0]) * I1 + b1 + t1 * w->d[1]) * I2 + b2;                              \
                for (int64_t t2 = lo2; t2 < hi2; t2++) {                                                             \
                    int64_t i = row + t2 * w->d[2];                                                                  \
                    T v = x[i];                                                                                      \
                    int64_t m = -(int64_t)(v > best); /* all ones when v wins */                                     \
                    best = v > best ? v : best;                                                                      \
                    bi = (i & m) | (bi & ~m);                                                                        \
                }                                                                                                    \
            }                                                                                                        \
        *y = best;                                                                                                   \
        *arg = (int32_t)bi;                                                                                          \
    }                                                                                                                \
    static void NAME##_plane(const FoilWindow *w, const tap_table *tt, const T *x, T *y, int32_t *arg)               \
    {                                                                                                                \
        int64_t j = 0;                                                                                               \
        for (int64_t od = 0; od < w->out[0]; od++)                                                                   \
            for (int64_t oh = 0; oh < w->out[1]; oh++)                                                               \
                for (int64_t ow = 0; ow < w->out[2]; ow++, j++) NAME(w, tt, x, od, oh, ow, y + j, arg + j);          \
    }

DEFINE_MAX_WINDOW(max_window_f32, float, -FLT_MAX)
DEFINE_MAX_WINDOW(max_window_u8, uint8_t, 0)

/* Where a row of OW outputs ends in a partial vector: when the row holds a
 * whole one, the last vector is moved back to end at the row's end instead
 * (it recomputes some outputs, to the same values), so every load and store
 * is a plain one; masked stores (vmaskmovps) are slow on AMD's Zen 2. */
static int64_t last_vec_start(int64_t ox, int64_t OW) { return OW - ox < VN && OW >= VN ? OW - VN : ox; }

/* 2x2 stride-2 windows fully inside an (H, W) plane, VN outputs at a time:
 * each pair of input rows is split into even (a, c) and odd (b, d) columns,
 * and the taps are compared in row-major order (a, b, c, d) as the general
 * loop does, so the first maximum wins, ties and NaNs included (a pairwise
 * tournament, (a, b) against (c, d), kept a NaN c where the loop skips it). */
static void max2x2_plane(const float *x, int64_t W, int64_t OH, int64_t OW, float *y, int32_t *arg)
{
    const vin iota = VN_IOTA, even = VN_EVEN, odd = VN_ODD;
    for (int64_t oy = 0; oy < OH; oy++) {
        const float *r0 = x + 2 * oy * W, *r1 = r0 + W;
        float *yr = y + oy * OW;
        int32_t *ar = arg + oy * OW;
        for (int64_t ox0 = 0; ox0 < OW; ox0 += VN) {
            int64_t ox = last_vec_start(ox0, OW);
            int64_t n = OW - ox < VN ? OW - ox : VN, n2 = 2 * n;
            vn t0 = vn_load_part(r0 + 2 * ox, n2), t1 = vn_load_part(r0 + 2 * ox + VN, n2 - VN);
            vn u0 = vn_load_part(r1 + 2 * ox, n2), u1 = vn_load_part(r1 + 2 * ox + VN, n2 - VN);
            vn a = vn_shuffle2(t0, t1, even), b = vn_shuffle2(t0, t1, odd);
            vn c = vn_shuffle2(u0, u1, even), d = vn_shuffle2(u0, u1, odd);
            vin m = b > a, off = m & 1;
            vn best = vn_select(m, b, a);
            m = c > best, best = vn_select(m, c, best), off = (m & (int32_t)W) | (~m & off);
            m = d > best, best = vn_select(m, d, best), off = (m & ((int32_t)W + 1)) | (~m & off);
            vin idx = (int32_t)(2 * oy * W + 2 * ox) + 2 * iota + off;
            vn_store_part(yr + ox, best, n);
            vn_store_part((float *)(ar + ox), (vn)idx, n);
        }
    }
}

/* 3x3 stride-2 windows of a 2-D plane, any padding (ResNet's stem pool):
 * the outputs whose three columns lie inside the plane VN at a time, the
 * rest one by one. A row's taps are split as in max2x2_plane: columns
 * 2 ox - p0 + kx for kx = 0, 1 are the even and odd lanes of one pair of
 * loads, kx = 2 the even lanes of a pair two floats on. The tournament
 * visits the taps in max_window_f32's order with its comparison, so the
 * winners are the same (ties and NaNs included). */
static void max3x3s2_plane(const FoilWindow *w, const tap_table *tt, const float *x, float *y, int32_t *arg)
{
    const int64_t W = w->in[2], OH = w->out[1], OW = w->out[2], p0 = w->p0[2];
    /* inside: 2 ox - p0 >= 0 and 2 ox - p0 + 2 <= W - 1 */
    const int64_t oa = min64((p0 + 1) / 2, OW), ob = W >= 3 ? max64(oa, min64(OW, (W - 3 + p0) / 2 + 1)) : oa;
    const vin iota = VN_IOTA, even = VN_EVEN, odd = VN_ODD;
    for (int64_t oh = 0; oh < OH; oh++) {
        float *yr = y + oh * OW;
        int32_t *ar = arg + oh * OW;
        const int64_t lo1 = tt->lo[1][oh], hi1 = tt->hi[1][oh], b1 = oh * 2 - w->p0[1];
        const int64_t vec_end = lo1 < hi1 ? ob : oa; /* a row wholly in the padding: all one by one */
        for (int64_t ox = 0; ox < oa; ox++) max_window_f32(w, tt, x, 0, oh, ox, yr + ox, ar + ox);
        for (int64_t ox0 = oa; ox0 < vec_end; ox0 += VN) {
            const int64_t ox = vec_end - ox0 < VN && vec_end - oa >= VN ? vec_end - VN : ox0;
            const int64_t n = min64(VN, vec_end - ox), n2 = 2 * n, col = 2 * ox - p0;
            vn best = {0};
            vin bi = {0};
            for (int64_t t1 = lo1; t1 < hi1; t1++) {
                const float *r = x + (b1 + t1) * W + col;
                vn t0 = vn_load_part(r, n2), t1v = vn_load_part(r + VN, n2 - VN);
                vn u0 = vn_load_part(r + 2, n2 - 1), u1 = vn_load_part(r + 2 + VN, n2 - 1 - VN);
                vn tap[3] = {vn_shuffle2(t0, t1v, even), vn_shuffle2(t0, t1v, odd), vn_shuffle2(u0, u1, even)};
                vin base = (int32_t)((b1 + t1) * W + col) + 2 * iota;
                for (int kx = 0; kx < 3; kx++) {
                    if (t1 == lo1 && kx == 0) {
                        best = tap[0], bi = base;
                        continue;
                    }
                    vin m = tap[kx] > best;
                    best = vn_select(m, tap[kx], best);
                    bi = (m & (base + kx)) | (~m & bi);
                }
            }
            vn_store_part(yr + ox, best, n);
            vn_store_part((float *)(ar + ox), (vn)bi, n);
        }
        for (int64_t ox = vec_end; ox < OW; ox++) max_window_f32(w, tt, x, 0, oh, ox, yr + ox, ar + ox);
    }
}

/* The backward of max2x2_plane, fresh, where its windows tile the plane
 * (H = 2 OH, W = 2 OW): every input lies in exactly one window, so each is
 * written once, VN windows at a time: the window's gradient at its winner
 * and 0 at the other three (with relu_in, the gradient only where the
 * winner y > 0). The same values as zeroing the plane and scattering. */
static void max2x2_plane_backward(const float *dy, const float *y, const int32_t *arg, int64_t W, int64_t OH,
                                  int64_t OW, int relu_in, float *dx)
{
    const vin iota = VN_IOTA, lo = VN_ZIP_LO, hi = VN_ZIP_HI;
    const vn zero = {0};
    for (int64_t oy = 0; oy < OH; oy++) {
        float *r0 = dx + 2 * oy * W, *r1 = r0 + W;
        for (int64_t ox0 = 0; ox0 < OW; ox0 += VN) {
            int64_t ox = last_vec_start(ox0, OW); /* a window written twice gets the same values */
            int64_t n = OW - ox < VN ? OW - ox : VN, n2 = 2 * n, j = oy * OW + ox;
            vn g = vn_load_part(dy + j, n);
            if (relu_in) g = vn_select(vn_load_part(y + j, n) > zero, g, zero);
            vin off = (vin)vn_load_part((const float *)(arg + j), n) - (int32_t)(2 * oy * W + 2 * ox) - 2 * iota;
            vn a = vn_select(off == 0, g, zero), b = vn_select(off == 1, g, zero);
            vn c = vn_select(off == (int32_t)W, g, zero), d = vn_select(off == (int32_t)W + 1, g, zero);
            vn_store_part(r0 + 2 * ox, vn_shuffle2(a, b, lo), n2);
            vn_store_part(r0 + 2 * ox + VN, vn_shuffle2(a, b, hi), n2 - VN);
            vn_store_part(r1 + 2 * ox, vn_shuffle2(c, d, lo), n2);
            vn_store_part(r1 + 2 * ox + VN, vn_shuffle2(c, d, hi), n2 - VN);
        }
    }
}

/* Indices output of one plane from its winners. */
static void write_indices(const FoilWindow *w, int storage_order, int64_t plane, const int32_t *arg, int64_t *ind)
{
    const int64_t I0 = w->in[0], I1 = w->in[1], I2 = w->in[2], base = plane * w->in_size;
    for (int64_t j = 0; j < w->out_size; j++) {
        int64_t i = arg[j];
        if (i >= 0 && storage_order) {
            /* column-major: the first spatial axis varies fastest */
            int64_t i0 = i / (I1 * I2), i1 = i / I2 % I1, i2 = i % I2;
            i = i0 + i1 * I0 + i2 * I0 * I1;
        }
        ind[j] = i < 0 ? -1 : base + i;
    }
}

static foil_status maxpool_forward(FoilOpCtx *c)
{
    const pool_state *st = c->state;
    const FoilWindow *w = &st->w;
    const int64_t isz = w->in_size, osz = w->out_size;
    if (c->pool_in) return FOIL_OK; /* the producer pooled each sample (maxpool_sample) */
    tap_table tt;
    tap_table_fill(w, c->work, &tt);
    int32_t *arg = pool_args(c);
    int64_t *ind = c->n_out > 1 && c->out[1] ? foil_i64(c->out[1]) : NULL;
    int u8 = c->in[0]->dtype == FOIL_U8;
    int par = (double)st->planes * (double)osz * (double)w->k_size >= POOL_PAR_WORK;
#pragma omp parallel for schedule(static) if (par)
    for (int64_t p = 0; p < st->planes; p++) {
        int32_t *ap = arg + p * osz;
        if (u8)
            max_window_u8_plane(w, &tt, (const uint8_t *)c->in[0]->data + p * isz, (uint8_t *)c->out[0]->data + p * osz, ap);
        else if (st->fast2x2)
            max2x2_plane(foil_f32(c->in[0]) + p * isz, w->in[2], w->out[1], w->out[2],
                         foil_f32(c->out[0]) + p * osz, ap);
        else if (st->fast3x3s2)
            max3x3s2_plane(w, &tt, foil_f32(c->in[0]) + p * isz, foil_f32(c->out[0]) + p * osz, ap);
        else
            max_window_f32_plane(w, &tt, foil_f32(c->in[0]) + p * isz, foil_f32(c->out[0]) + p * osz, ap);
        if (ind) write_indices(w, st->storage_order, p, ap, ind + p * osz);
    }
    return FOIL_OK;
}

/* Fused forward (ctx->pool_in, see FoilOp.pool_sample): thread's buffer for
 * one sample's input, and the planes of sample n from x_n. */
static float *maxpool_buffer(const FoilOpCtx *c, int thread)
{
    const pool_state *st = c->state;
    assert(c->pool_in && thread >= 0 && thread < st->nthr);
    return (float *)((char *)c->work + tap_table_bytes(&st->w) + arg_bytes(c)) + (size_t)thread * st->sample_fl;
}

static void maxpool_sample(const FoilOpCtx *c, int64_t n, const float *x_n)
{
    const pool_state *st = c->state;
    const FoilWindow *w = &st->w;
    const int64_t C = c->in[0]->shape[1], osz = w->out_size;
    float *y = foil_f32(c->out[0]) + n * C * osz;
    int32_t *arg = pool_args(c) + n * C * osz;
    for (int64_t ch = 0; ch < C; ch++)
        max2x2_plane(x_n + ch * w->in_size, w->in[2], w->out[1], w->out[2], y + ch * osz, arg + ch * osz);
}

/*
 * In the forward pass this was: y[p, o] = x[p, arg[p, o]] (the window's
 * winner), so the gradient flows to the winner only:
 *   dx[p, arg[p, o]] += dy[p, o]
 * (planes are independent, so they run in parallel).
 */
/* One plane: d (its input's gradient) from g (its outputs'), with the
 * winners ap and outputs yp; written when fresh, else added to. */
static void max_plane_backward(const pool_state *st, const float *g, const float *yp, const int32_t *ap, int fresh,
                               int relu_in, float *d)
{
    const int64_t isz = st->w.in_size, osz = st->w.out_size;
    const int64_t H = st->w.in[1], W = st->w.in[2], OH = st->w.out[1], OW = st->w.out[2];
    if (st->fast2x2 && fresh && H == 2 * OH && W == 2 * OW) {
        max2x2_plane_backward(g, yp, ap, W, OH, OW, relu_in, d);
        return;
    }
    if (fresh) memset(d, 0, (size_t)isz * sizeof *d); /* one plane: still in cache for the scatter */
    if (relu_in) {
        /* the Relu before this pool passes gradient where its output
         * x > 0, and x[arg] is this pool's output y */
        for (int64_t j = 0; j < osz; j++)
            if (ap[j] >= 0 && yp[j] > 0.0f) d[ap[j]] += g[j];
    } else {
        for (int64_t j = 0; j < osz; j++)
            if (ap[j] >= 0) d[ap[j]] += g[j];
    }
}

static void maxpool_backward(FoilOpCtx *c)
{
    const pool_state *st = c->state;
    if (!c->d_in[0] || !c->d_out[0] || c->in[0]->dtype != FOIL_F32) return;
    const int64_t isz = st->w.in_size, osz = st->w.out_size;
    const int32_t *arg = pool_args(c);
    const float *dy = foil_f32(c->d_out[0]), *y = foil_f32(c->out[0]);
    float *dx = foil_f32(c->d_in[0]);
    const int fresh = foilGradFresh(c, 0);
    int par = st->planes * osz >= POOL_PAR_WORK;
#pragma omp parallel for schedule(static) if (par)
    for (int64_t p = 0; p < st->planes; p++)
        max_plane_backward(st, dy + p * osz, y + p * osz, arg + p * osz, fresh, c->relu_in, dx + p * isz);
}

/* Fused backward (see FoilOp.pool_sample_backward): the gradient of sample
 * n's input, written whole into dx_n. */
static void maxpool_sample_backward(const FoilOpCtx *c, int64_t n, float *dx_n)
{
    const pool_state *st = c->state;
    const int64_t C = c->in[0]->shape[1], isz = st->w.in_size, osz = st->w.out_size, first = n * C * osz;
    const float *dy = foil_f32(c->d_out[0]) + first, *y = foil_f32(c->out[0]) + first;
    const int32_t *arg = pool_args(c) + first;
    for (int64_t ch = 0; ch < C; ch++)
        max_plane_backward(st, dy + ch * osz, y + ch * osz, arg + ch * osz, 1, c->relu_in, dx_n + ch * isz);
}

/* ---------------------------------------------------------------------------
 * AveragePool
 */

/* Divisor of window o, whose inside taps are [lo, hi) per axis. */
static inline int64_t avg_count(const pool_state *st, const tap_table *tt, const int64_t *o, const int64_t *lo,
                                const int64_t *hi)
{
    int64_t n = 1;
    for (int a = 0; a < FOIL_WIN_DIMS; a++) n *= st->count_include_pad ? tt->npad[a][o[a]] : hi[a] - lo[a];
    return n;
}

/* Flat input index of tap (t0, t1, 0) of window o; adding t2 * d[2] for an
 * inside tap t2 gives a real input element (the base itself may be < 0). */
static inline int64_t window_row(const FoilWindow *w, const int64_t *o, int64_t t0, int64_t t1)
{
    return ((o[0] * w->s[0] - w->p0[0] + t0 * w->d[0]) * w->in[1] + o[1] * w->s[1] - w->p0[1] + t1 * w->d[1]) *
               w->in[2] +
           o[2] * w->s[2] - w->p0[2];
}

/* Visit every window of one plane: BODY runs with row (the flat input index of
 * tap (t0, t1, 0)), lo/hi (the inside taps) and j (the output index). */
#define FOR_EACH_WINDOW(w, tt, BODY)                                                                                 \
    do {                                                                                                             \
        int64_t j = 0, o[FOIL_WIN_DIMS], lo[FOIL_WIN_DIMS], hi[FOIL_WIN_DIMS];                                       \
        for (o[0] = 0; o[0] < (w)->out[0]; o[0]++) {                                                                 \
            lo[0] = (tt)->lo[0][o[0]], hi[0] = (tt)->hi[0][o[0]];                                                    \
            for (o[1] = 0; o[1] < (w)->out[1]; o[1]++) {                                                             \
                lo[1] = (tt)->lo[1][o[1]], hi[1] = (tt)->hi[1][o[1]];                                                \
                for (o[2] = 0; o[2] < (w)->out[2]; o[2]++, j++) {                                                    \
                    lo[2] = (tt)->lo[2][o[2]], hi[2] = (tt)->hi[2][o[2]];                                            \
                    BODY                                                                                             \
                }                                                                                                    \
            }                                                                                                        \
        }                                                                                                            \
    } while (0)

static void avg_plane(const pool_state *st, const tap_table *tt, const float *x, float *y)
{
    const FoilWindow *w = &st->w;
    FOR_EACH_WINDOW(w, tt, {
        float s = 0.0f;
        for (int64_t t0 = lo[0]; t0 < hi[0]; t0++)
            for (int64_t t1 = lo[1]; t1 < hi[1]; t1++) {
                int64_t row = window_row(w, o, t0, t1);
                for (int64_t t2 = lo[2]; t2 < hi[2]; t2++) s += x[row + t2 * w->d[2]];
            }
        int64_t n = avg_count(st, tt, o, lo, hi);
        y[j] = n ? s / (float)n : 0.0f;
    });
}

/*
 * In the forward pass this was: y[o] = (sum of x over the window's inside
 * taps) / count(o), so every inside tap gets an equal share:
 *   dx[i] += dy[o] / count(o)   for each inside tap i of window o.
 */
static void avg_plane_backward(const pool_state *st, const tap_table *tt, const float *dy, float *dx)
{
    const FoilWindow *w = &st->w;
    FOR_EACH_WINDOW(w, tt, {
        int64_t n = avg_count(st, tt, o, lo, hi);
        if (!n) continue;
        float g = dy[j] / (float)n;
        for (int64_t t0 = lo[0]; t0 < hi[0]; t0++)
            for (int64_t t1 = lo[1]; t1 < hi[1]; t1++) {
                int64_t row = window_row(w, o, t0, t1);
                for (int64_t t2 = lo[2]; t2 < hi[2]; t2++) dx[row + t2 * w->d[2]] += g;
            }
    });
}

static foil_status averagepool_forward(FoilOpCtx *c)
{
    const pool_state *st = c->state;
    const int64_t isz = st->w.in_size, osz = st->w.out_size;
    const float *x = foil_f32(c->in[0]);
    float *y = foil_f32(c->out[0]);
    tap_table tt;
    tap_table_fill(&st->w, c->work, &tt);
    int par = (double)st->planes * (double)osz * (double)st->w.k_size >= POOL_PAR_WORK;
#pragma omp parallel for schedule(static) if (par)
    for (int64_t p = 0; p < st->planes; p++) avg_plane(st, &tt, x + p * isz, y + p * osz);
    return FOIL_OK;
}

static void averagepool_backward(FoilOpCtx *c)
{
    const pool_state *st = c->state;
    if (!c->d_in[0] || !c->d_out[0]) return;
    const int64_t isz = st->w.in_size, osz = st->w.out_size;
    const float *dy = foil_f32(c->d_out[0]);
    float *dx = foil_f32(c->d_in[0]);
    tap_table tt;
    tap_table_fill(&st->w, c->work, &tt);
    int par = (double)st->planes * (double)osz * (double)st->w.k_size >= POOL_PAR_WORK;
    const int fresh = foilGradFresh(c, 0);
#pragma omp parallel for schedule(static) if (par)
    for (int64_t p = 0; p < st->planes; p++) {
        if (fresh) memset(dx + p * isz, 0, (size_t)isz * sizeof *dx);
        avg_plane_backward(st, &tt, dy + p * osz, dx + p * isz);
    }
}

/* ---------------------------------------------------------------------------
 * GlobalAveragePool: Y (N, C, 1, ..., 1), Y[p] = mean of plane p (S values).
 */

static foil_status globalaveragepool_infer(FoilOpCtx *c)
{
    if (c->n_in != 1 || !c->in[0] || c->n_out != 1 || !c->out[0])
        return foilNodeError(c, FOIL_ERR_FORMAT, "takes one input and has one output");
    const foil_tensor *x = c->in[0];
    if (x->dtype != FOIL_F32)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "input type %s is not supported",
                               foil_dtype_name(x->dtype));
    if (x->ndim < 2) return foilNodeError(c, FOIL_ERR_SHAPE, "X has rank %d; needs (N, C, ...)", x->ndim);
    int64_t yshape[FOIL_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) yshape[i] = i < 2 ? x->shape[i] : 1;
    if (foil_tensor_set_shape(c->out[0], FOIL_F32, x->ndim, yshape))
        return foilNodeError(c, FOIL_ERR_SHAPE, "%s", foil_last_error());
    for (int i = 2; i < x->ndim; i++)
        if (x->shape[i] < 1) return foilNodeError(c, FOIL_ERR_SHAPE, "spatial axis %d is empty", i);
    c->work_bytes = 0;
    return FOIL_OK;
}

static foil_status globalaveragepool_forward(FoilOpCtx *c)
{
    const foil_tensor *xt = c->in[0];
    const int64_t planes = xt->shape[0] * xt->shape[1], S = planes ? xt->numel / planes : 0;
    const float *x = foil_f32(xt);
    float *y = foil_f32(c->out[0]);
    const float inv = S ? 1.0f / (float)S : 0.0f;
#pragma omp parallel for schedule(static) if (xt->numel >= POOL_PAR_WORK)
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = x + p * S;
        float acc[16] = {0};
        int64_t i = 0;
        for (; i + 16 <= S; i += 16)
            for (int k = 0; k < 16; k++) acc[k] += xp[i + k];
        float s = 0.0f;
        for (; i < S; i++) s += xp[i];
        for (int k = 0; k < 16; k++) s += acc[k];
        y[p] = s * inv;
    }
    return FOIL_OK;
}

/* In the forward pass this was y[p] = (1/S) sum_i x[p, i], so dx[p, i] += dy[p] / S. */
static void globalaveragepool_backward(FoilOpCtx *c)
{
    if (!c->d_in[0] || !c->d_out[0]) return;
    const foil_tensor *xt = c->in[0];
    const int64_t planes = xt->shape[0] * xt->shape[1], S = planes ? xt->numel / planes : 0;
    const float *dy = foil_f32(c->d_out[0]);
    float *dx = foil_f32(c->d_in[0]);
    const float inv = S ? 1.0f / (float)S : 0.0f;
    const int fresh = foilGradFresh(c, 0);
#pragma omp parallel for schedule(static) if (xt->numel >= POOL_PAR_WORK)
    for (int64_t p = 0; p < planes; p++) {
        float g = dy[p] * inv;
        float *d = dx + p * S;
        if (fresh)
            for (int64_t i = 0; i < S; i++) d[i] = g;
        else
            for (int64_t i = 0; i < S; i++) d[i] += g;
    }
}

const FoilOp foilOpMaxPool = {
    .type = "MaxPool",
    .grad_inputs = 0x1,
    .init = maxpool_init,
    .infer = pool_infer,
    .forward = maxpool_forward,
    .backward = maxpool_backward,
    .writes_grads = 0x1,
    .masks_relu_in = 1,
    .pool_buffer = maxpool_buffer,
    .pool_sample = maxpool_sample,
    .pool_sample_backward = maxpool_sample_backward,
    .plan_state_bytes = sizeof(pool_state),
};

const FoilOp foilOpAveragePool = {
    .type = "AveragePool",
    .grad_inputs = 0x1,
    .init = averagepool_init,
    .infer = pool_infer,
    .forward = averagepool_forward,
    .backward = averagepool_backward,
    .writes_grads = 0x1,
    .plan_state_bytes = sizeof(pool_state),
};

const FoilOp foilOpGlobalAveragePool = {
    .type = "GlobalAveragePool",
    .grad_inputs = 0x1,
    .init = NULL,
    .infer = globalaveragepool_infer,
    .forward = globalaveragepool_forward,
    .backward = globalaveragepool_backward,
    .writes_grads = 0x1,
};
