/*
 * nn/ops/conv.c - Conv (ONNX opsets 1 and 11): grouped convolution over 1, 2
 * or 3 spatial axes, forward and backward.
 *
 * Shapes (stated once):
 *   X (N, C, in...)   W (M, C/G, k...)   B (M)   Y (N, M, out...)
 *   G groups; per group Cg = C/G input and Mg = M/G output channels.
 *   K = Cg * prod(k): rows of the im2col matrix of one sample and group;
 *   P = prod(out):    its columns (output positions).
 *
 *   Y[n, g*Mg + m, o] = B[g*Mg + m] + sum_{c < Cg, t < k} W[g*Mg + m, c, t] * X[n, g*Cg + c, o*s - p0 + t*d]
 *   (X reads 0 in the padding.)
 *
 * What it is: three ways to compute the same thing, chosen in infer.
 *   - im2col + cblas_sgemm per sample and group (the general path);
 *   - 1x1 kernels with stride 1 and no padding: X already is the column matrix,
 *     so sgemm runs on it directly;
 *   - a direct kernel for 2-D, ungrouped, stride-1 convs with few input
 *     channels (the first layer of an image CNN: K is tiny, so sgemm would be
 *     all overhead and the layer is bound by writing Y).
 * Batches of at least as many samples as threads run one sample per thread
 * (sgemm single-threaded inside, each thread with its own scratch); smaller
 * batches run samples in order and let OpenBLAS thread each sgemm.
 * Backward: dX = col2im(W^T dY), dW += dY col^T, dB += sum dY; in batch-parallel
 * mode dW and dB go to per-thread partial buffers reduced in thread order, so
 * results are deterministic for a given thread count.
 * What it is not: Winograd or FFT convolution, integer convolution.
 */
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "nn/op.h"
#include "nn/ops/im2col.h"

enum { CONV_IM2COL, CONV_1X1, CONV_DIRECT };

/* Direct kernel tiles: DIRECT_MB output channels x DIRECT_VW output columns. */
#define DIRECT_MB 4
#define DIRECT_VW 16
/* The direct path is used when C * kh * kw is at most this (few input taps). */
#define DIRECT_MAX_TAPS 32

typedef struct conv_state {
    foil_winattr wa;
    int64_t group;
    /* resolved by infer for the current plan */
    foil_window w;
    int64_t N, C, M, Cg, Mg, K, P;
    int path;
    int nthr;           /* threads the workspace was sized for */
    int batch_par;      /* one sample per thread */
    int64_t Hp, Wp;     /* direct path: padded input plane */
    size_t scratch_fl;  /* per-thread scratch floats (col matrix / padded planes) */
    size_t part_fl;     /* per-thread dW + dB partial floats (batch_par only) */
} conv_state;

static size_t round16(size_t n) { return (n + 15) / 16 * 16; }

static foil_status conv_init(foil_node *node)
{
    conv_state *st = calloc(1, sizeof *st);
    if (!st) return foil_node_init_error(node, FOIL_ERR_NOMEM, "out of memory");
    node->state = st;
    foil_status s = foil_winattr_parse(node, &st->wa);
    if (s) return s;
    const foil_attr *g = foil_attr_get(node, "group");
    st->group = 1;
    if (g) {
        if (g->type != FOIL_ATTR_INT)
            return foil_node_init_error(node, FOIL_ERR_FORMAT, "attribute 'group' must be an int");
        if (g->i < 1 || g->i > ((int64_t)1 << 31))
            return foil_node_init_error(node, FOIL_ERR_FORMAT, "group = %lld is out of range", (long long)g->i);
        st->group = g->i;
    }
    return FOIL_OK;
}

static foil_status conv_infer(foil_op_ctx *c)
{
    conv_state *st = c->node->state;
    if (c->n_in < 2 || c->n_in > 3 || !c->in[0] || !c->in[1] || c->n_out != 1 || !c->out[0])
        return foil_node_error(c, FOIL_ERR_FORMAT, "Conv takes X, W and an optional B, and has one output");
    const foil_tensor *x = c->in[0], *w = c->in[1], *b = c->n_in > 2 ? c->in[2] : NULL;
    if (x->dtype != FOIL_F32 || w->dtype != FOIL_F32 || (b && b->dtype != FOIL_F32))
        return foil_node_error(c, FOIL_ERR_UNSUPPORTED, "only float32 Conv is supported");
    if (x->ndim < 3 || x->ndim > 2 + FOIL_WIN_DIMS)
        return foil_node_error(c, FOIL_ERR_UNSUPPORTED, "X has rank %d; Conv supports 1 to 3 spatial axes",
                               x->ndim);
    if (w->ndim != x->ndim)
        return foil_node_error(c, FOIL_ERR_SHAPE, "W has rank %d but X has rank %d", w->ndim, x->ndim);
    int nsp = x->ndim - 2;
    int64_t N = x->shape[0], C = x->shape[1], M = w->shape[0], Cg = w->shape[1], G = st->group;
    if (C < 1 || M < 1 || Cg < 1)
        return foil_node_error(c, FOIL_ERR_SHAPE, "empty channel dimension (X has %lld, W has %lld x %lld)",
                               (long long)C, (long long)M, (long long)Cg);
    if (C % G || C / G != Cg)
        return foil_node_error(c, FOIL_ERR_SHAPE,
                               "X has %lld channels but W expects %lld per group with group = %lld", (long long)C,
                               (long long)Cg, (long long)G);
    if (M % G)
        return foil_node_error(c, FOIL_ERR_SHAPE, "%lld output channels do not divide into %lld groups",
                               (long long)M, (long long)G);
    if (st->wa.nk >= 0) {
        if (st->wa.nk != nsp)
            return foil_node_error(c, FOIL_ERR_SHAPE, "kernel_shape has %d values but W has %d spatial axes",
                                   st->wa.nk, nsp);
        for (int j = 0; j < nsp; j++)
            if (st->wa.k[j] != w->shape[2 + j])
                return foil_node_error(c, FOIL_ERR_SHAPE, "kernel_shape[%d] = %lld but W has %lld", j,
                                       (long long)st->wa.k[j], (long long)w->shape[2 + j]);
    }
    if (b && (b->ndim != 1 || b->shape[0] != M))
        return foil_node_error(c, FOIL_ERR_SHAPE, "B must have shape [%lld]", (long long)M);
    foil_status s = foil_window_resolve(c, &st->wa, nsp, x->shape + 2, w->shape + 2, 0, &st->w);
    if (s) return s;
    const foil_window *win = &st->w;

    int64_t yshape[FOIL_MAX_DIMS];
    yshape[0] = N;
    yshape[1] = M;
    for (int j = 0; j < nsp; j++) yshape[2 + j] = win->out[FOIL_WIN_DIMS - nsp + j];
    if (foil_tensor_set_shape(c->out[0], FOIL_F32, x->ndim, yshape))
        return foil_node_error(c, FOIL_ERR_SHAPE, "%s", foil_last_error());

    st->N = N, st->C = C, st->M = M, st->Cg = Cg, st->Mg = M / G;
    st->K = Cg * win->k_size;
    st->P = win->out_size;
    st->nthr = omp_get_max_threads();
    if (st->nthr < 1) st->nthr = 1;
    st->batch_par = st->nthr > 1 && N >= st->nthr;

    int one = 1;
    for (int a = 0; a < FOIL_WIN_DIMS; a++)
        if (win->k[a] != 1 || win->s[a] != 1 || win->p0[a] || win->p1[a]) one = 0;
    int64_t Hp = win->in[1] + win->p0[1] + win->p1[1], Wp = win->in[2] + win->p0[2] + win->p1[2];
    int64_t planes = 0;
    int direct = foil_ops_fast_paths && nsp == 2 && G == 1 && win->s[1] == 1 && win->s[2] == 1 &&
                 C * win->k_size <= DIRECT_MAX_TAPS && !__builtin_mul_overflow(Hp, Wp, &planes) &&
                 planes <= ((int64_t)1 << 22) / C;
    st->path = one ? CONV_1X1 : direct ? CONV_DIRECT : CONV_IM2COL;
    st->Hp = Hp, st->Wp = Wp;

    /* per-thread scratch: the column matrix (im2col path forward/backward, and
     * the direct path's dW), the padded planes (direct path) */
    int64_t col = 0, pad = 0;
    if (st->path != CONV_1X1 && __builtin_mul_overflow(st->K, st->P, &col))
        return foil_node_error(c, FOIL_ERR_SHAPE, "column matrix too large");
    if (st->path == CONV_DIRECT) pad = C * Hp * Wp + DIRECT_VW;
    size_t scratch = round16((size_t)(col > pad ? col : pad));
    size_t part = st->batch_par ? round16((size_t)(M * st->K + M)) : 0;
    st->scratch_fl = scratch;
    st->part_fl = part;
    size_t per_thread = scratch + part;
    if (per_thread > ((size_t)1 << 40) / sizeof(float) / (size_t)st->nthr)
        return foil_node_error(c, FOIL_ERR_SHAPE, "convolution workspace too large");
    c->work_bytes = (size_t)st->nthr * per_thread * sizeof(float);
    return FOIL_OK;
}

/* Sum of n floats with 16 independent partial sums (vectorizes, fixed order). */
static float sum_f32(const float *x, int64_t n)
{
    float acc[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) acc[j] += x[i + j];
    float s = 0;
    for (; i < n; i++) s += x[i];
    for (int j = 0; j < 16; j++) s += acc[j];
    return s;
}

/* ---------------------------------------------------------------------------
 * General path: im2col + sgemm, one sample at a time.
 */

/* y (M, P) of one sample from x (C, in...): per group, col = im2col(x_g),
 * y_g = W_g col + B_g. */
static void gemm_forward_sample(const conv_state *st, const float *x, const float *w, const float *b, float *y,
                                float *col)
{
    const int64_t Cg = st->Cg, Mg = st->Mg, K = st->K, P = st->P;
    for (int64_t g = 0; g < st->group; g++) {
        const float *xg = x + g * Cg * st->w.in_size;
        const float *cg = xg;
        if (st->path != CONV_1X1) {
            foil_im2col(&st->w, Cg, xg, col);
            cg = col;
        }
        float *yg = y + g * Mg * P;
        float beta = 0.0f;
        if (b) {
            for (int64_t m = 0; m < Mg; m++) {
                float bm = b[g * Mg + m];
                float *yr = yg + m * P;
                for (int64_t p = 0; p < P; p++) yr[p] = bm;
            }
            beta = 1.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Mg, (int)P, (int)K, 1.0f, w + g * Mg * K,
                    (int)K, cg, (int)P, beta, yg, (int)P);
    }
}

/*
 * In the forward pass this was, per group (col = im2col(x_g), K x P):
 *   y_g (Mg x P) = W_g (Mg x K) col + B_g
 * so
 *   dW_g += dy_g col^T          (Mg x K)
 *   dB_g += dy_g summed over P
 *   dcol  = W_g^T dy_g          (K x P), and dx_g += col2im(dcol)
 * (for 1x1 kernels col is x_g itself and col2im is the identity).
 * dw/db/dx may each be NULL. col is this thread's scratch.
 */
static void gemm_backward_sample(const conv_state *st, const float *x, const float *w, const float *dy, float *dx,
                                 float *dw, float *db, float *col)
{
    const int64_t Cg = st->Cg, Mg = st->Mg, K = st->K, P = st->P, isz = st->w.in_size;
    for (int64_t g = 0; g < st->group; g++) {
        const float *xg = x + g * Cg * isz;
        const float *dyg = dy + g * Mg * P;
        if (db)
            for (int64_t m = 0; m < Mg; m++) db[g * Mg + m] += sum_f32(dyg + m * P, P);
        if (dw) {
            const float *cg = xg;
            if (st->path != CONV_1X1) {
                foil_im2col(&st->w, Cg, xg, col);
                cg = col;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Mg, (int)K, (int)P, 1.0f, dyg, (int)P, cg,
                        (int)P, 1.0f, dw + g * Mg * K, (int)K);
        }
        if (dx && st->path != CONV_DIRECT) {
            float *dxg = dx + g * Cg * isz;
            if (st->path == CONV_1X1) {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)P, (int)Mg, 1.0f, w + g * Mg * K,
                            (int)K, dyg, (int)P, 1.0f, dxg, (int)P);
            } else {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)P, (int)Mg, 1.0f, w + g * Mg * K,
                            (int)K, dyg, (int)P, 0.0f, col, (int)P);
                foil_col2im(&st->w, Cg, col, dxg);
            }
        }
    }
}

/* ---------------------------------------------------------------------------
 * Direct path (2-D, group 1, stride 1, few input taps). The input of one
 * sample is copied into zero-padded planes xp (C, Hp, Wp), with DIRECT_VW
 * floats of slack at the end so a tile may read past the last row:
 *   y[m, oy, ox] = b[m] + sum_{c, ky, kx} w[m, c, ky, kx] * xp[c, oy + ky*dh, ox + kx*dw]
 * Tiles of DIRECT_MB output channels x DIRECT_VW columns keep their sums in
 * registers; lanes past the row end are computed and dropped.
 */
static void direct_pad(const conv_state *st, const float *x, float *xp)
{
    const int64_t H = st->w.in[1], W = st->w.in[2], Hp = st->Hp, Wp = st->Wp;
    const int64_t ph = st->w.p0[1], pw = st->w.p0[2];
    memset(xp, 0, (size_t)(st->C * Hp * Wp + DIRECT_VW) * sizeof *xp);
    for (int64_t c = 0; c < st->C; c++)
        for (int64_t iy = 0; iy < H; iy++)
            memcpy(xp + (c * Hp + iy + ph) * Wp + pw, x + (c * H + iy) * W, (size_t)W * sizeof *x);
}

static inline __attribute__((always_inline)) void direct_tile_forward(const conv_state *st, const float *xp,
                                                                       const float *w, const float *b, float *y,
                                                                       int64_t m, const int MB)
{
    const int64_t C = st->C, KH = st->w.k[1], KW = st->w.k[2], DH = st->w.d[1], DW = st->w.d[2];
    const int64_t OH = st->w.out[1], OW = st->w.out[2], Hp = st->Hp, Wp = st->Wp;
    const int64_t taps = C * KH * KW;
    const float *wm = w + m * taps;
    for (int64_t oy = 0; oy < OH; oy++)
        for (int64_t ox = 0; ox < OW; ox += DIRECT_VW) {
            float acc[MB][DIRECT_VW];
            for (int j = 0; j < MB; j++) {
                float bj = b ? b[m + j] : 0.0f;
                for (int i = 0; i < DIRECT_VW; i++) acc[j][i] = bj;
            }
            int64_t t = 0;
            for (int64_t c = 0; c < C; c++)
                for (int64_t ky = 0; ky < KH; ky++) {
                    const float *xr = xp + (c * Hp + oy + ky * DH) * Wp + ox;
                    for (int64_t kx = 0; kx < KW; kx++, t++) {
                        const float *xv = xr + kx * DW;
                        for (int j = 0; j < MB; j++) {
                            float wv = wm[j * taps + t];
                            for (int i = 0; i < DIRECT_VW; i++) acc[j][i] += wv * xv[i];
                        }
                    }
                }
            int64_t nb = OW - ox < DIRECT_VW ? OW - ox : DIRECT_VW;
            for (int j = 0; j < MB; j++) {
                float *yr = y + ((m + j) * OH + oy) * OW + ox;
                for (int64_t i = 0; i < nb; i++) yr[i] = acc[j][i];
            }
        }
}

/* Output channels [m0, m1) of one sample from its padded planes. */
static void direct_forward_channels(const conv_state *st, const float *xp, const float *w, const float *b, float *y,
                                    int64_t m0, int64_t m1)
{
    int64_t m = m0;
    for (; m + DIRECT_MB <= m1; m += DIRECT_MB) direct_tile_forward(st, xp, w, b, y, m, DIRECT_MB);
    for (; m < m1; m++) direct_tile_forward(st, xp, w, b, y, m, 1);
}

/*
 * In the forward pass this was:
 *   y[m, oy, ox] = b[m] + sum_{c, ky, kx} w[m, c, ky, kx] * xp[c, oy + ky*dh, ox + kx*dw]
 * so each y gradient flows back to every padded input it read:
 *   dxp[c, oy + ky*dh, ox + kx*dw] += w[m, c, ky, kx] * dy[m, oy, ox]
 * and dx is the interior of dxp. Tiles of DIRECT_MB channels first combine
 * sum_j w[m+j, tap] * dy[m+j] in registers, then add once into dxp; lanes past
 * the row end carry dy = 0.
 */
static inline __attribute__((always_inline)) void direct_tile_backward(const conv_state *st, const float *w,
                                                                        const float *dy, float *dxp, int64_t m,
                                                                        const int MB)
{
    const int64_t C = st->C, KH = st->w.k[1], KW = st->w.k[2], DH = st->w.d[1], DW = st->w.d[2];
    const int64_t OH = st->w.out[1], OW = st->w.out[2], Hp = st->Hp, Wp = st->Wp;
    const int64_t taps = C * KH * KW;
    const float *wm = w + m * taps;
    for (int64_t oy = 0; oy < OH; oy++)
        for (int64_t ox = 0; ox < OW; ox += DIRECT_VW) {
            int64_t nb = OW - ox < DIRECT_VW ? OW - ox : DIRECT_VW;
            float g[MB][DIRECT_VW];
            for (int j = 0; j < MB; j++) {
                const float *dyr = dy + ((m + j) * OH + oy) * OW + ox;
                for (int i = 0; i < DIRECT_VW; i++) g[j][i] = i < nb ? dyr[i] : 0.0f;
            }
            int64_t t = 0;
            for (int64_t c = 0; c < C; c++)
                for (int64_t ky = 0; ky < KH; ky++) {
                    float *dr = dxp + (c * Hp + oy + ky * DH) * Wp + ox;
                    for (int64_t kx = 0; kx < KW; kx++, t++) {
                        float acc[DIRECT_VW];
                        for (int i = 0; i < DIRECT_VW; i++) acc[i] = wm[t] * g[0][i];
                        for (int j = 1; j < MB; j++) {
                            float wv = wm[j * taps + t];
                            for (int i = 0; i < DIRECT_VW; i++) acc[i] += wv * g[j][i];
                        }
                        float *dv = dr + kx * DW;
                        for (int i = 0; i < DIRECT_VW; i++) dv[i] += acc[i];
                    }
                }
        }
}

static void direct_backward_dx(const conv_state *st, const float *w, const float *dy, float *dx, float *dxp)
{
    const int64_t H = st->w.in[1], W = st->w.in[2], Hp = st->Hp, Wp = st->Wp;
    const int64_t ph = st->w.p0[1], pw = st->w.p0[2];
    memset(dxp, 0, (size_t)(st->C * Hp * Wp + DIRECT_VW) * sizeof *dxp);
    int64_t m = 0;
    for (; m + DIRECT_MB <= st->M; m += DIRECT_MB) direct_tile_backward(st, w, dy, dxp, m, DIRECT_MB);
    for (; m < st->M; m++) direct_tile_backward(st, w, dy, dxp, m, 1);
    for (int64_t c = 0; c < st->C; c++)
        for (int64_t iy = 0; iy < H; iy++) {
            const float *src = dxp + (c * Hp + iy + ph) * Wp + pw;
            float *dst = dx + (c * H + iy) * W;
            for (int64_t ix = 0; ix < W; ix++) dst[ix] += src[ix];
        }
}

/* ---------------------------------------------------------------------------
 * forward / backward
 */

static foil_status conv_forward(foil_op_ctx *c)
{
    const conv_state *st = c->node->state;
    const float *x = foil_f32(c->in[0]), *w = foil_f32(c->in[1]);
    const float *b = c->n_in > 2 && c->in[2] ? foil_f32(c->in[2]) : NULL;
    float *y = foil_f32(c->out[0]);
    float *scratch = c->work;
    const int64_t N = st->N, xs = st->C * st->w.in_size, ys = st->M * st->P;
    const size_t sf = st->scratch_fl;

    if (st->path == CONV_DIRECT) {
        if (st->batch_par) {
#pragma omp parallel for schedule(static) num_threads(st->nthr)
            for (int64_t n = 0; n < N; n++) {
                float *xp = scratch + (size_t)omp_get_thread_num() * sf;
                direct_pad(st, x + n * xs, xp);
                direct_forward_channels(st, xp, w, b, y + n * ys, 0, st->M);
            }
        } else {
            /* few samples: split each sample's output channels over threads */
            int64_t nblk = (st->M + DIRECT_MB - 1) / DIRECT_MB;
            int par = st->nthr > 1 && nblk > 1 && st->M * st->P * st->K >= 65536;
            for (int64_t n = 0; n < N; n++) {
                direct_pad(st, x + n * xs, scratch);
#pragma omp parallel for schedule(static) num_threads(st->nthr) if (par)
                for (int64_t blk = 0; blk < nblk; blk++) {
                    int64_t m1 = (blk + 1) * DIRECT_MB < st->M ? (blk + 1) * DIRECT_MB : st->M;
                    direct_forward_channels(st, scratch, w, b, y + n * ys, blk * DIRECT_MB, m1);
                }
            }
        }
        return FOIL_OK;
    }

    if (st->batch_par) {
#pragma omp parallel for schedule(static) num_threads(st->nthr)
        for (int64_t n = 0; n < N; n++)
            gemm_forward_sample(st, x + n * xs, w, b, y + n * ys, scratch + (size_t)omp_get_thread_num() * sf);
    } else {
        for (int64_t n = 0; n < N; n++) gemm_forward_sample(st, x + n * xs, w, b, y + n * ys, scratch);
    }
    return FOIL_OK;
}

/* dX, dW, dB of one sample (any may be NULL); scratch is this thread's. */
static void backward_sample(const conv_state *st, const float *x, const float *w, const float *dy, float *dx,
                            float *dw, float *db, float *scratch)
{
    if (dw || db || (dx && st->path != CONV_DIRECT)) gemm_backward_sample(st, x, w, dy, dx, dw, db, scratch);
    if (dx && st->path == CONV_DIRECT) direct_backward_dx(st, w, dy, dx, scratch);
}

static void conv_backward(foil_op_ctx *c)
{
    const conv_state *st = c->node->state;
    if (!c->d_out[0]) return;
    float *dx = c->d_in[0] ? foil_f32(c->d_in[0]) : NULL;
    float *dw = c->d_in[1] ? foil_f32(c->d_in[1]) : NULL;
    float *db = c->n_in > 2 && c->in[2] && c->d_in[2] ? foil_f32(c->d_in[2]) : NULL;
    if (!dx && !dw && !db) return;
    const float *x = foil_f32(c->in[0]), *w = foil_f32(c->in[1]), *dy = foil_f32(c->d_out[0]);
    float *scratch = c->work;
    const int64_t N = st->N, xs = st->C * st->w.in_size, ys = st->M * st->P, M = st->M, MK = st->M * st->K;
    const size_t sf = st->scratch_fl, pf = st->part_fl;

    if (!st->batch_par) {
        /* in order; dW and dB accumulate straight into the gradients */
        for (int64_t n = 0; n < N; n++)
            backward_sample(st, x + n * xs, w, dy + n * ys, dx ? dx + n * xs : NULL, dw, db, scratch);
        return;
    }
    float *parts = scratch + (size_t)st->nthr * sf;
#pragma omp parallel num_threads(st->nthr)
    {
        int tid = omp_get_thread_num(), nthr = omp_get_num_threads();
        float *mine = scratch + (size_t)tid * sf;
        float *part = parts + (size_t)tid * pf;
        if (dw || db) memset(part, 0, pf * sizeof *part);
#pragma omp for schedule(static)
        for (int64_t n = 0; n < N; n++)
            backward_sample(st, x + n * xs, w, dy + n * ys, dx ? dx + n * xs : NULL, dw ? part : NULL,
                            db ? part + MK : NULL, mine);
        /* implicit barrier: every partial is complete; reduce in thread order */
        if (dw) {
#pragma omp for schedule(static)
            for (int64_t i = 0; i < MK; i++) {
                float s = 0.0f;
                for (int t = 0; t < nthr; t++) s += parts[(size_t)t * pf + (size_t)i];
                dw[i] += s;
            }
        }
        if (db) {
#pragma omp single
            for (int64_t i = 0; i < M; i++) {
                float s = 0.0f;
                for (int t = 0; t < nthr; t++) s += parts[(size_t)t * pf + (size_t)(MK + i)];
                db[i] += s;
            }
        }
    }
}

const foil_op foil_op_conv = {
    .type = "Conv",
    .grad_inputs = 0x7,
    .init = conv_init,
    .infer = conv_infer,
    .forward = conv_forward,
    .backward = conv_backward,
};
