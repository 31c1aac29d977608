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
 * What it is: five ways to compute the same thing, chosen in infer.
 *   - im2col + cblas_sgemm per sample and group (the general path);
 *   - 1x1 kernels with stride 1 and no padding: X already is the column matrix,
 *     so sgemm runs on it directly;
 *   - few taps (K <= SMALLK_MAX_K, group 1: the first layer of an image CNN):
 *     im2col, then the few-row kernels of kernels.h (a K-row column matrix
 *     leaves sgemm nothing but overhead);
 *   - 1-D or 2-D, group 1, stride 1, a padded sample within DIRECT_MAX_PAD:
 *     kernels.h's direct correlation (no im2col), or for 3x3 kernels without
 *     dilation Winograd where that pays (F(4x4, 3x3), 4x fewer multiplies,
 *     where it needs at most 0.6x F(2x2)'s, see wino_tile; else F(2x2,
 *     3x3), 2.25x fewer; transformed weights cached, see wino_weights). Both beat
 *     im2col + sgemm at every batch size here (OpenBLAS runs its AVX2
 *     kernels), by 2x for cnn-small's second layer at batch 256.
 * Batches of at least as many samples as threads run one sample per thread
 * (single-threaded kernels inside, each thread with its own scratch). Smaller
 * batches run samples in order, the threads sharing each one when it is large
 * enough (sample_par): im2col/col2im split by channels, the sgemms by output
 * rows, the few-row products by columns, the direct kernel by blocks of
 * output channels or positions, Winograd by tiles.
 * Backward: dX = col2im(W^T dY) (the direct paths: the same correlation with
 * the weights flipped), dW += dY col^T, dB += sum dY; weight work is skipped
 * when only dX is wanted. In batch-parallel mode dW and dB go to per-thread
 * partial buffers reduced in thread order; every other output is summed by
 * one thread in a fixed order, so results are deterministic for a given
 * thread count.
 * What it is not: FFT convolution, integer convolution.
 */
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "nn/op.h"
#include "nn/ops/im2col.h"
#include "nn/ops/kernels.h"

enum { CONV_IM2COL, CONV_1X1, CONV_DIRECT, CONV_SMALLK };

/* Convolutions with at most this many taps per output (C * kernel size: the
 * first layer of an image CNN) multiply their tiny column matrix with the
 * few-row kernels instead of sgemm. */
#define SMALLK_MAX_K 32
/* The direct path while a padded sample stays within this many floats
 * (cache-sized: every block of output planes rereads it). */
#define DIRECT_MAX_PAD ((int64_t)1 << 18)
/* Floats of a forward im2col chunk (512 KB: in L2 for sgemm to pack). */
#define IM2COL_CHUNK_FL ((int64_t)1 << 17)
/* The few-tap and direct paths split one sample over the threads from this
 * many multiply-adds (see sample_par). */
#define DIRECT_PAR_WORK 1048576.0

typedef struct conv_state {
    FoilWinattr wa;
    int64_t group;
    /* resolved by infer for the current plan */
    FoilWindow w;
    int64_t N, C, M, Cg, Mg, K, P;
    int path;
    int nthr;           /* threads the workspace was sized for */
    int batch_par;      /* one sample per thread */
    FoilDconv dfwd;    /* direct path: forward correlation, and dx's */
    FoilDconv dbwd;
    FoilWino wfwd;     /* ... the same by Winograd (dx's: F(2x2, 3x3)) */
    FoilWino wbwd;
    int wino_fwd, wino_bwd; /* direct path: Winograd for the forward / for dx */
    size_t cache_fl;    /* offset (floats) in the workspace of the Winograd weight cache */
    size_t scratch_fl;  /* per-thread scratch floats (col matrix / padded planes) */
    size_t part_fl;     /* per-thread dW + dB partial floats (batch_par only) */
} conv_state;

static size_t round16(size_t n) { return (n + 15) / 16 * 16; }

static int direct_setup(conv_state *st);
static int wino_setup(conv_state *st);
static int wino_pays(const FoilDconv *d, const FoilWino *f);

static foil_status conv_init(FoilNode *node)
{
    conv_state *st = calloc(1, sizeof *st);
    if (!st) return foilNodeInitError(node, FOIL_ERR_NOMEM, "out of memory");
    node->state = st;
    foil_status s = foilWinattrParse(node, &st->wa);
    if (s) return s;
    const FoilAttr *g = foilAttrGet(node, "group");
    st->group = 1;
    if (g) {
        if (g->type != FOIL_ATTR_INT)
            return foilNodeInitError(node, FOIL_ERR_FORMAT, "attribute 'group' must be an int");
        if (g->i < 1 || g->i > ((int64_t)1 << 31))
            return foilNodeInitError(node, FOIL_ERR_FORMAT, "group = %lld is out of range", (long long)g->i);
        st->group = g->i;
    }
    return FOIL_OK;
}

static foil_status conv_infer(FoilOpCtx *c)
{
    conv_state *st = c->state;
    if (c->n_in < 2 || c->n_in > 3 || !c->in[0] || !c->in[1] || c->n_out != 1 || !c->out[0])
        return foilNodeError(c, FOIL_ERR_FORMAT, "Conv takes X, W and an optional B, and has one output");
    const foil_tensor *x = c->in[0], *w = c->in[1], *b = c->n_in > 2 ? c->in[2] : NULL;
    if (x->dtype != FOIL_F32 || w->dtype != FOIL_F32 || (b && b->dtype != FOIL_F32))
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "only float32 Conv is supported");
    if (x->ndim < 3 || x->ndim > 2 + FOIL_WIN_DIMS)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "X has rank %d; Conv supports 1 to 3 spatial axes",
                               x->ndim);
    if (w->ndim != x->ndim)
        return foilNodeError(c, FOIL_ERR_SHAPE, "W has rank %d but X has rank %d", w->ndim, x->ndim);
    int nsp = x->ndim - 2;
    int64_t N = x->shape[0], C = x->shape[1], M = w->shape[0], Cg = w->shape[1], G = st->group;
    if (C < 1 || M < 1 || Cg < 1)
        return foilNodeError(c, FOIL_ERR_SHAPE, "empty channel dimension (X has %lld, W has %lld x %lld)",
                               (long long)C, (long long)M, (long long)Cg);
    if (C % G || C / G != Cg)
        return foilNodeError(c, FOIL_ERR_SHAPE,
                               "X has %lld channels but W expects %lld per group with group = %lld", (long long)C,
                               (long long)Cg, (long long)G);
    if (M % G)
        return foilNodeError(c, FOIL_ERR_SHAPE, "%lld output channels do not divide into %lld groups",
                               (long long)M, (long long)G);
    if (st->wa.nk >= 0) {
        if (st->wa.nk != nsp)
            return foilNodeError(c, FOIL_ERR_SHAPE, "kernel_shape has %d values but W has %d spatial axes",
                                   st->wa.nk, nsp);
        for (int j = 0; j < nsp; j++)
            if (st->wa.k[j] != w->shape[2 + j])
                return foilNodeError(c, FOIL_ERR_SHAPE, "kernel_shape[%d] = %lld but W has %lld", j,
                                       (long long)st->wa.k[j], (long long)w->shape[2 + j]);
    }
    if (b && (b->ndim != 1 || b->shape[0] != M))
        return foilNodeError(c, FOIL_ERR_SHAPE, "B must have shape [%lld]", (long long)M);
    foil_status s = foilWindowResolve(c, &st->wa, nsp, x->shape + 2, w->shape + 2, 0, &st->w);
    if (s) return s;
    const FoilWindow *win = &st->w;

    int64_t yshape[FOIL_MAX_DIMS];
    yshape[0] = N;
    yshape[1] = M;
    for (int j = 0; j < nsp; j++) yshape[2 + j] = win->out[FOIL_WIN_DIMS - nsp + j];
    if (foil_tensor_set_shape(c->out[0], FOIL_F32, x->ndim, yshape))
        return foilNodeError(c, FOIL_ERR_SHAPE, "%s", foil_last_error());

    st->N = N, st->C = C, st->M = M, st->Cg = Cg, st->Mg = M / G;
    st->K = Cg * win->k_size;
    st->P = win->out_size;
    if (st->K > INT32_MAX || st->P > INT32_MAX || M > INT32_MAX)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "convolution too large for BLAS (K %lld, P %lld)",
                               (long long)st->K, (long long)st->P);
    st->nthr = omp_get_max_threads();
    if (st->nthr < 1) st->nthr = 1;
    st->batch_par = st->nthr > 1 && N >= st->nthr;

    int one = 1;
    for (int a = 0; a < FOIL_WIN_DIMS; a++)
        if (win->k[a] != 1 || win->s[a] != 1 || win->p0[a] || win->p1[a]) one = 0;
    int direct = 0, smallk = 0;
    st->wino_fwd = st->wino_bwd = 0;
    if (foilOpsFastPaths && !one && G == 1 && C * win->k_size <= SMALLK_MAX_K) smallk = 1;
    if (!smallk && foilOpsFastPaths && !one && nsp <= 2 && G == 1 && win->s[1] == 1 && win->s[2] == 1 &&
        !direct_setup(st)) {
        int64_t pad = st->dfwd.pad_fl > st->dbwd.pad_fl ? st->dfwd.pad_fl : st->dbwd.pad_fl;
        direct = pad <= DIRECT_MAX_PAD;
        if (direct && !wino_setup(st)) {
            st->wino_fwd = wino_pays(&st->dfwd, &st->wfwd);
            st->wino_bwd = wino_pays(&st->dbwd, &st->wbwd);
            if (foilOpsFastPaths == 2) st->wino_fwd = st->wino_bwd = 1; /* tests: wherever it applies */
        }
    }
    st->path = one ? CONV_1X1 : smallk ? CONV_SMALLK : direct ? CONV_DIRECT : CONV_IM2COL;

    /* Workspace: per thread, scratch for the column matrix (im2col path, and
     * the direct path's dW), the padded planes (direct path) or Winograd's
     * buffers and, in batch-parallel mode, dW + dB partial sums; then the
     * Winograd weight cache (shared). */
    int64_t col = 0, pad = 0;
    if (st->path == CONV_DIRECT) {
        pad = st->dfwd.pad_fl > st->dbwd.pad_fl ? st->dfwd.pad_fl : st->dbwd.pad_fl;
        if (st->wino_fwd && (int64_t)st->wfwd.scratch_fl > pad) pad = (int64_t)st->wfwd.scratch_fl;
        if (st->wino_bwd && (int64_t)st->wbwd.scratch_fl > pad) pad = (int64_t)st->wbwd.scratch_fl;
    }
    if (st->path != CONV_1X1 && __builtin_mul_overflow(st->K, st->P, &col))
        return foilNodeError(c, FOIL_ERR_SHAPE, "column matrix too large");
    size_t scratch = round16((size_t)(col > pad ? col : pad));
    size_t part = st->batch_par ? round16((size_t)(M * st->K + M)) : 0;
    st->scratch_fl = scratch;
    st->part_fl = part;
    size_t per_thread = scratch + part;
    if (per_thread > ((size_t)1 << 38) / (size_t)st->nthr)
        return foilNodeError(c, FOIL_ERR_SHAPE, "convolution workspace too large");
    st->cache_fl = (size_t)st->nthr * per_thread;
    size_t cache = 0;
    if (st->path == CONV_SMALLK) cache = round16((size_t)(M * st->K)); /* W^T */
    if (st->wino_fwd || st->wino_bwd)
        cache = 16 + round16((size_t)(M * st->K)) + round16(st->wfwd.u_fl) + round16(st->wbwd.u_fl);
    c->work_bytes = (st->cache_fl + cache) * sizeof(float);
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

/* Output rows a forward im2col chunk covers: its columns (K x rows x
 * out[2] floats) stay in L2 between im2col writing them and sgemm packing
 * them (a whole stem's column matrix is 7 MB a sample). All rows when the
 * window has a depth axis. */
static int64_t im2col_chunk_rows(const conv_state *st)
{
    const int64_t per_row = st->K * st->w.out[0] * st->w.out[2];
    if (st->w.out[0] > 1 || per_row <= 0) return st->w.out[1];
    int64_t rows = IM2COL_CHUNK_FL / per_row;
    return rows < 1 ? 1 : rows > st->w.out[1] ? st->w.out[1] : rows;
}

/* y (M, P) of one sample from x (C, in...): per group, col = im2col(x_g),
 * y_g = W_g col + B_g, the columns of col a chunk of output rows at a
 * time (each output's sum is the same, whatever the chunks). */
static void gemm_forward_sample(const conv_state *st, const float *x, const float *w, const float *b, float *y,
                                float *col)
{
    const int64_t Cg = st->Cg, Mg = st->Mg, K = st->K, P = st->P, O1 = st->w.out[1], per = P / O1;
    const int64_t chunk = st->path == CONV_1X1 ? O1 : im2col_chunk_rows(st);
    for (int64_t g = 0; g < st->group; g++) {
        const float *xg = x + g * Cg * st->w.in_size;
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
        for (int64_t r0 = 0; r0 < O1; r0 += chunk) {
            const int64_t r1 = r0 + chunk < O1 ? r0 + chunk : O1, n = (r1 - r0) * per;
            const float *cg = xg + r0 * per; /* 1x1: x itself, ld P */
            int64_t ld = P;
            if (st->path != CONV_1X1) {
                foilIm2colRows(&st->w, Cg, xg, r0, r1, col);
                cg = col, ld = n;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Mg, (int)n, (int)K, 1.0f, w + g * Mg * K,
                        (int)K, cg, (int)ld, beta, yg + r0 * per, (int)P);
        }
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
                foilIm2col(&st->w, Cg, xg, col);
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
                foilCol2im(&st->w, Cg, col, dxg);
            }
        }
    }
}

/*
 * The same for one sample shared by the threads of a new team (batches
 * smaller than the thread count): im2col and col2im split by input channels,
 * the sgemms by rows of their output, each sgemm single-threaded inside the
 * team. col is one shared scratch (K x P).
 */
static void gemm_forward_sample_par(const conv_state *st, const float *x, const float *w, const float *b, float *y,
                                    float *col, int nthr)
{
    const int64_t Cg = st->Cg, Mg = st->Mg, K = st->K, P = st->P, isz = st->w.in_size, ksz = st->w.k_size;
#pragma omp parallel num_threads(nthr)
    {
        int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t c0 = Cg * t / nt, c1 = Cg * (t + 1) / nt, m0 = Mg * t / nt, m1 = Mg * (t + 1) / nt;
        for (int64_t g = 0; g < st->group; g++) {
            const float *xg = x + g * Cg * isz, *cg = xg;
            if (st->path != CONV_1X1) {
                foilIm2col(&st->w, c1 - c0, xg + c0 * isz, col + c0 * ksz * P);
#pragma omp barrier
                cg = col;
            }
            float *yg = y + g * Mg * P;
            float beta = 0.0f;
            if (b) {
                for (int64_t m = m0; m < m1; m++)
                    for (int64_t p = 0; p < P; p++) yg[m * P + p] = b[g * Mg + m];
                beta = 1.0f;
            }
            if (m1 > m0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(m1 - m0), (int)P, (int)K, 1.0f,
                            w + (g * Mg + m0) * K, (int)K, cg, (int)P, beta, yg + m0 * P, (int)P);
            /* col is rewritten by the next group */
#pragma omp barrier
        }
    }
}

/* dx of one sample (see gemm_backward_sample), shared by a team: dcol rows
 * [k0, k1) = (W_g[:, k0:k1])^T dy_g, then col2im by channels. */
static void gemm_dx_sample_par(const conv_state *st, const float *w, const float *dy, float *dx, float *col,
                               int nthr)
{
    const int64_t Cg = st->Cg, Mg = st->Mg, K = st->K, P = st->P, isz = st->w.in_size, ksz = st->w.k_size;
#pragma omp parallel num_threads(nthr)
    {
        int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t c0 = Cg * t / nt, c1 = Cg * (t + 1) / nt, k0 = K * t / nt, k1 = K * (t + 1) / nt;
        for (int64_t g = 0; g < st->group; g++) {
            const float *wg = w + g * Mg * K, *dyg = dy + g * Mg * P;
            float *dxg = dx + g * Cg * isz;
            if (st->path == CONV_1X1) {
                /* K = Cg: rows of dcol are rows of dx */
                if (k1 > k0)
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(k1 - k0), (int)P, (int)Mg, 1.0f,
                                wg + k0, (int)K, dyg, (int)P, 1.0f, dxg + k0 * P, (int)P);
                continue;
            }
            if (k1 > k0)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(k1 - k0), (int)P, (int)Mg, 1.0f, wg + k0,
                            (int)K, dyg, (int)P, 0.0f, col + k0 * P, (int)P);
#pragma omp barrier
            foilCol2im(&st->w, c1 - c0, col + c0 * ksz * P, dxg + c0 * isz);
#pragma omp barrier
        }
    }
}

/* ---------------------------------------------------------------------------
 * Direct path (2-D, group 1, stride 1): the correlation kernels of kernels.h,
 * no im2col. Forward: source X padded by (ph, pw), weights W.
 *
 * In the forward pass this was:
 *   y[m, oy, ox] = b[m] + sum_{c, ky, kx} w[m, c, ky, kx] * x[c, oy + ky*dh - ph, ox + kx*dw - pw]
 * so every x element gets the gradients of the outputs that read it:
 *   dx[c, iy, ix] += sum_{m, ky, kx} w[m, c, ky, kx] * dy[m, iy - ky*dh + ph, ix - kx*dw + pw]
 * (dy is 0 outside its extent). With ky' = KH-1-ky, kx' = KW-1-kx this is the
 * same stride-1 correlation, over dy placed at ((KH-1)*dh - ph, (KW-1)*dw - pw)
 * in zero planes of (H + (KH-1)*dh) x (W + (KW-1)*dw), with weights
 * W'(c, m, ky', kx') = w[m, c, KH-1-ky', KW-1-kx']: the forward weights read
 * with strides (KH*KW, C*KH*KW, -KW, -1) from w[0, 0, KH-1, KW-1], so nothing
 * is flipped or copied.
 */
static int direct_setup(conv_state *st)
{
    const FoilWindow *win = &st->w;
    const int64_t KH = win->k[1], KW = win->k[2], DH = win->d[1], DW = win->d[2], C = st->C, M = st->M;
    const int64_t H = win->in[1], W = win->in[2], OH = win->out[1], OW = win->out[2];
    if (foilDconvSetup(&st->dfwd, C, M, H, W, win->p0[1], win->p0[2], OH, OW, KH, KW, DH, DW, C * KH * KW,
                         KH * KW, KW, 1))
        return -1;
    return foilDconvSetup(&st->dbwd, M, C, OH, OW, (KH - 1) * DH - win->p0[1], (KW - 1) * DW - win->p0[2], H, W,
                            KH, KW, DH, DW, KH * KW, C * KH * KW, -KW, -1);
}

/* One sample's correlation d (src -> out, (=|+=) as accumulate says). With
 * par, the threads of a new team split it: by blocks of 8 output planes when
 * they share out evenly, else by vectors of positions; each pads what it
 * reads into its own scratch (scratch + thread * sf). Every output is summed
 * by one thread in the kernel's fixed order, so the split does not change
 * results. */
static void direct_sample(const FoilDconv *d, const float *src, const float *w, const float *b, float *out,
                          int accumulate, float *scratch, size_t sf, int nthr, int par)
{
    if (!par) {
        foilDconvPad(d, src, scratch, 0, d->nvec);
        foilDconvRun(d, scratch, w, b, 0, d->nout, 0, d->nvec, out, accumulate);
        return;
    }
#pragma omp parallel num_threads(nthr)
    {
        int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t nblk = (d->nout + 7) / 8, o0 = 0, o1 = d->nout, v0 = 0, v1 = d->nvec;
        if (nblk >= nt && (nblk % nt == 0 || nblk >= 4 * nt)) {
            o0 = 8 * (nblk * t / nt);
            o1 = 8 * (nblk * (t + 1) / nt);
            if (o1 > d->nout) o1 = d->nout;
        } else {
            v0 = d->nvec * t / nt;
            v1 = d->nvec * (t + 1) / nt;
        }
        float *pad = scratch + (size_t)t * sf;
        foilDconvPad(d, src, pad, v0, v1);
        foilDconvRun(d, pad, w, b, o0, o1, v0, v1, out, accumulate);
    }
}

/* dx of one sample through the direct path (see above). */
static void direct_backward_dx(const conv_state *st, const float *w, const float *dy, float *dx, int accumulate,
                               float *scratch, size_t sf, int nthr, int par)
{
    const int64_t KH = st->w.k[1], KW = st->w.k[2];
    direct_sample(&st->dbwd, dy, w + (KH - 1) * KW + (KW - 1), NULL, dx, accumulate, scratch, sf, nthr, par);
}

/* Winograd's output tile for a plane of rows x cols: F(4x4, 3x3) where its
 * 36 products a tile come to at most 0.6x F(2x2)'s 16 a tile (its
 * transforms cost more a tile, and it rounds more), else F(2x2, 3x3). That
 * takes F(4x4) on 56x56, 28x28 and 7x7 planes (0.56x the multiplies) and
 * leaves F(2x2) on 14x14 (0.73x: F(2x2) tiles it exactly, F(4x4) pads a
 * quarter of it) and on 1-D convolutions. ResNet-18's 3x3 layers at batch
 * 32, 2 threads: F(4x4) took 0.66x, 0.74x and 0.67x F(2x2)'s time on the
 * 56x56, 28x28 and 7x7 planes, the same time on 14x14. */
static int64_t wino_tile(int64_t rows, int64_t cols)
{
    /* FOIL_WINOGRAD_TILE=2 or 4 forces one, for benchmarks side by side */
    const char *force = getenv("FOIL_WINOGRAD_TILE");
    if (force && (!strcmp(force, "2") || !strcmp(force, "4"))) return force[0] - '0';
    const double f2 = 16.0 * (double)((rows + 1) / 2) * (double)((cols + 1) / 2);
    const double f4 = 36.0 * (double)((rows + 3) / 4) * (double)((cols + 3) / 4);
    return f4 <= 0.6 * f2 ? 4 : 2;
}

/* Winograd for 3x3 kernels without dilation: the same two correlations. */
static int wino_setup(conv_state *st)
{
    const FoilDconv *f = &st->dfwd, *b = &st->dbwd;
    if (f->kh != 3 || f->kw != 3 || f->dh != 1 || f->dw != 1) return -1;
    /* the forward pass may take several samples a run (batch-parallel) */
    if (foilWinoSetup(&st->wfwd, f->nin, f->nout, f->sh, f->sw, f->top, f->left, f->rows, f->cols, f->wo, f->wi,
                        f->wky, f->wkx, wino_tile(f->rows, f->cols), st->batch_par ? WINO_MAX_GROUP : 1))
        return -1;
    return foilWinoSetup(&st->wbwd, b->nin, b->nout, b->sh, b->sw, b->top, b->left, b->rows, b->cols, b->wo, b->wi,
                           b->wky, b->wkx, 2, 1);
}

/* Winograd pays when its multiply-adds (npos products with the output
 * channels padded to vectors) and its transforms, weighted 1.5x for their
 * memory traffic, cost less than the direct kernel's multiply-adds (all
 * counted in 16-float vectors). */
static int wino_pays(const FoilDconv *d, const FoilWino *f)
{
    double direct = (double)d->nout * (double)d->nvec * (double)d->nin * 9.0;
    double cin = (double)(f->cin_v / 16), cout = (double)(f->cout_v / 16), nt = (double)f->ntile;
    double npos = (double)f->npos;
    double wino = npos * nt * (double)f->nin * cout + nt * (cin * 40.0 + cout * 30.0) * (npos / 16.0) +
                  6.0 * ((double)(f->hp * f->wp) * cin + (double)(f->rows * f->cols) * cout);
    return f->nin >= 8 && f->nout >= 8 && 1.5 * wino < direct;
}

/*
 * The transformed weights (for the forward pass, and for dx) are cached in
 * the workspace with a copy of the weights they came from: an attack runs
 * thousands of passes with the same weights, so each forward pass only
 * compares the copy (and after a training step, which changes them, the
 * transforms are redone, each when first needed). Backward trusts the
 * forward pass's comparison: it runs on the forward pass's inputs (op.h).
 * Layout (floats): 16 of flags (uint32 [0]: the copy is valid, [1]: forward
 * U, [2]: dx's U), the copy (M x K), U forward, U for dx.
 */
static const float *wino_weights(const conv_state *st, void *work, const float *w, int for_dx)
{
    float *cache = (float *)work + st->cache_fl, *wc = cache + 16;
    float *uf = wc + round16((size_t)(st->M * st->K)), *ub = uf + round16(st->wfwd.u_fl);
    uint32_t *flag = (uint32_t *)cache;
    size_t bytes = (size_t)(st->M * st->K) * sizeof(float);
    if (!for_dx || !flag[0]) {
        if (!flag[0] || memcmp(wc, w, bytes)) {
            memcpy(wc, w, bytes);
            flag[0] = 1, flag[1] = flag[2] = 0;
        }
    }
    if (!for_dx && !flag[1] && st->wino_fwd) {
        foilWinoWeights(&st->wfwd, w, uf);
        flag[1] = 1;
    }
    if (for_dx && !flag[2]) {
        foilWinoWeights(&st->wbwd, w + (st->w.k[1] - 1) * st->w.k[2] + (st->w.k[2] - 1), ub);
        flag[2] = 1;
    }
    return for_dx ? ub : uf;
}

/* One sample by Winograd; with par, the threads of a new team split the
 * tiles (each output is summed by one thread, in a fixed order). */
static void wino_sample(const FoilWino *f, const float *u, const float *src, const float *b, float *out,
                        int accumulate, float *scratch, size_t sf, int nthr, int par)
{
    if (!par) {
        foilWinoRun(f, u, src, b, 0, f->ntile, 0, f->cout_v, scratch, out, accumulate);
        return;
    }
#pragma omp parallel num_threads(nthr)
    {
        int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
        foilWinoRun(f, u, src, b, f->ntile * t / nt, f->ntile * (t + 1) / nt, 0, f->cout_v, scratch + (size_t)t * sf,
                      out, accumulate);
    }
}

/* ---------------------------------------------------------------------------
 * Few taps (K = C * kernel size <= SMALLK_MAX_K, group 1): the column matrix
 * is a few rows, so the products are the few-row kernels of kernels.h:
 *   y (M x P) = B + W (M x K) col, col = im2col(x)   (rows of col: axpy form)
 * and, as in the general path, dcol (K x P) = W^T dy, dx += col2im(dcol), with
 * W^T (K x M) transposed once per pass. With par, the threads of a new team
 * split im2col / col2im by channels and the products by columns.
 */
static void smallk_forward_sample(const conv_state *st, const float *x, const float *w, const float *b, float *y,
                                  float *col, int nthr, int par)
{
    const int64_t C = st->C, M = st->M, K = st->K, P = st->P, isz = st->w.in_size, ksz = st->w.k_size;
    if (!par) {
        foilIm2col(&st->w, C, x, col);
        foilGemvAxpy(M, 0, P, 0, K, w, K, col, P, y, P, b, 0);
        return;
    }
#pragma omp parallel num_threads(nthr)
    {
        int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t c0 = C * t / nt, c1 = C * (t + 1) / nt, p0 = P * t / nt, p1 = P * (t + 1) / nt;
        foilIm2col(&st->w, c1 - c0, x + c0 * isz, col + c0 * ksz * P);
#pragma omp barrier
        foilGemvAxpy(M, p0, p1, 0, K, w, K, col, P, y, P, b, 0);
    }
}

static void smallk_dx_sample(const conv_state *st, const float *wt, const float *dy, float *dx, float *col, int nthr,
                             int par)
{
    const int64_t C = st->C, M = st->M, K = st->K, P = st->P, isz = st->w.in_size, ksz = st->w.k_size;
    if (!par) {
        foilGemvAxpy(K, 0, P, 0, M, wt, M, dy, P, col, P, NULL, 0);
        foilCol2im(&st->w, C, col, dx);
        return;
    }
#pragma omp parallel num_threads(nthr)
    {
        int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t c0 = C * t / nt, c1 = C * (t + 1) / nt;
        foilGemvAxpy(K, P * t / nt, P * (t + 1) / nt, 0, M, wt, M, dy, P, col, P, NULL, 0);
#pragma omp barrier
        foilCol2im(&st->w, c1 - c0, col + c0 * ksz * P, dx + c0 * isz);
    }
}

/* wt (K x M) = W^T */
static float *smallk_transpose(const conv_state *st, void *work, const float *w)
{
    float *wt = (float *)work + st->cache_fl;
    for (int64_t m = 0; m < st->M; m++)
        for (int64_t k = 0; k < st->K; k++) wt[k * st->M + m] = w[m * st->K + k];
    return wt;
}

/* ---------------------------------------------------------------------------
 * forward / backward
 */

/* Whether the threads share each sample (batches smaller than the thread
 * count): for the im2col path from 64K multiply-adds; for the direct path
 * only from DIRECT_PAR_WORK, as its single-threaded kernels are fast enough
 * that a smaller layer loses more to the threads' handoff (its output then
 * lies half in the other core's cache) than it gains. */
static int sample_par(const conv_state *st)
{
    double work = (double)st->M * (double)st->P * (double)st->K;
    return st->nthr > 1 && work >= (st->path == CONV_DIRECT || st->path == CONV_SMALLK ? DIRECT_PAR_WORK : 65536.0);
}

static foil_status conv_forward(FoilOpCtx *c)
{
    const conv_state *st = c->state;
    const float *x = foil_f32(c->in[0]), *w = foil_f32(c->in[1]);
    const float *b = c->n_in > 2 && c->in[2] ? foil_f32(c->in[2]) : NULL;
    float *y = foil_f32(c->out[0]);
    float *scratch = c->work;
    const int64_t N = st->N, xs = st->C * st->w.in_size, ys = st->M * st->P;
    const size_t sf = st->scratch_fl;

    const float *u = NULL;
    if (st->path == CONV_DIRECT && (st->wino_fwd || st->wino_bwd)) {
        u = wino_weights(st, c->work, w, 0); /* checks the cached copy, for backward too */
        if (!st->wino_fwd) u = NULL;
    }
    /* With a MaxPool fused after this node (graph.c, pool_producer), each
     * sample is pooled as soon as it is written: into the pool's buffer for
     * this thread when each thread has its own samples (the output tensor
     * is then not written at all), else into the output as usual. */
    const FoilOpCtx *pool = c->pool_out;
    if (st->batch_par && u && !pool && st->wfwd.group > 1) {
        /* Winograd on small planes: a thread takes a few samples a run, so
         * that they share each pass over the transformed weights (at most
         * group a run: N / runs <= group) */
        int64_t runs = (N + st->wfwd.group - 1) / st->wfwd.group;
        runs = (runs + st->nthr - 1) / st->nthr * st->nthr; /* runs of near-equal size, as many a thread */
#pragma omp parallel for schedule(static) num_threads(st->nthr)
        for (int64_t r = 0; r < runs; r++) {
            const int64_t n0 = N * r / runs, ns = N * (r + 1) / runs - n0;
            foilWinoRunSamples(&st->wfwd, u, x + n0 * xs, xs, ns, b, scratch + (size_t)omp_get_thread_num() * sf,
                                 y + n0 * ys, ys, 0);
            if (c->relu_out) foilReluInplace(y + n0 * ys, ns * ys);
        }
        return FOIL_OK;
    }
    if (st->batch_par) {
#pragma omp parallel for schedule(static) num_threads(st->nthr)
        for (int64_t n = 0; n < N; n++) {
            const int tid = omp_get_thread_num();
            float *mine = scratch + (size_t)tid * sf;
            float *yn = pool ? pool->node->op->pool_buffer(pool, tid) : y + n * ys;
            if (st->path == CONV_SMALLK) smallk_forward_sample(st, x + n * xs, w, b, yn, mine, 1, 0);
            else if (u) wino_sample(&st->wfwd, u, x + n * xs, b, yn, 0, mine, sf, 1, 0);
            else if (st->path == CONV_DIRECT) direct_sample(&st->dfwd, x + n * xs, w, b, yn, 0, mine, sf, 1, 0);
            else gemm_forward_sample(st, x + n * xs, w, b, yn, mine);
            if (c->relu_out) foilReluInplace(yn, ys);
            if (pool) pool->node->op->pool_sample(pool, n, yn);
        }
        return FOIL_OK;
    }
    /* fewer samples than threads: the threads split each sample */
    int par = sample_par(st);
    for (int64_t n = 0; n < N; n++) {
        if (st->path == CONV_SMALLK) smallk_forward_sample(st, x + n * xs, w, b, y + n * ys, scratch, st->nthr, par);
        else if (u) wino_sample(&st->wfwd, u, x + n * xs, b, y + n * ys, 0, scratch, sf, st->nthr, par);
        else if (st->path == CONV_DIRECT)
            direct_sample(&st->dfwd, x + n * xs, w, b, y + n * ys, 0, scratch, sf, st->nthr, par);
        else if (par) gemm_forward_sample_par(st, x + n * xs, w, b, y + n * ys, scratch, st->nthr);
        else gemm_forward_sample(st, x + n * xs, w, b, y + n * ys, scratch);
        if (c->relu_out) foilReluInplace(y + n * ys, ys);
        if (pool) pool->node->op->pool_sample(pool, n, y + n * ys);
    }
    return FOIL_OK;
}

/* dX, dW, dB of one sample (any may be NULL); scratch is this thread's; u:
 * dx's Winograd weights (direct path; NULL: no Winograd) or W^T (few taps).
 * dx_fresh: dx holds garbage; the direct kernels write it, the other paths
 * accumulate into it zeroed (one sample: in cache for them). */
static void backward_sample(const conv_state *st, const float *x, const float *w, const float *u, const float *dy,
                            float *dx, int dx_fresh, float *dw, float *db, float *scratch, size_t sf, int nthr,
                            int par)
{
    if (dx && dx_fresh && st->path != CONV_DIRECT) memset(dx, 0, (size_t)(st->C * st->w.in_size) * sizeof *dx);
    int own = st->path == CONV_DIRECT || st->path == CONV_SMALLK; /* dx by this file's kernels */
    int dx_par = dx && !own && par;
    if (dw || db || (dx && !own && !dx_par))
        gemm_backward_sample(st, x, w, dy, own || dx_par ? NULL : dx, dw, db, scratch);
    if (!dx) return;
    if (dx_par) gemm_dx_sample_par(st, w, dy, dx, scratch, nthr);
    else if (st->path == CONV_SMALLK) smallk_dx_sample(st, u, dy, dx, scratch, nthr, par);
    else if (st->path == CONV_DIRECT && u) wino_sample(&st->wbwd, u, dy, NULL, dx, !dx_fresh, scratch, sf, nthr, par);
    else if (st->path == CONV_DIRECT) direct_backward_dx(st, w, dy, dx, !dx_fresh, scratch, sf, nthr, par);
}

/* Squared L2 norm of sample n's share of dW (dw_n, M x K, when given) and
 * of dB (the sums of dy_n's rows, when with_b): DP-SGD's per-example norms. */
static float sample_sq(const conv_state *st, const float *dw_n, const float *dy_n, int with_b)
{
    double s = 0;
    for (int64_t i = 0; dw_n && i < st->M * st->K; i++) s += (double)dw_n[i] * dw_n[i];
    for (int64_t m = 0; with_b && m < st->M; m++) {
        const double bm = sum_f32(dy_n + m * st->P, st->P);
        s += bm * bm;
    }
    return (float)s;
}

/*
 * Backward; with sq, DP-SGD's per-example norms pass (op.h, example_norms)
 * for the weights in `weights` (W: bit 1, B: bit 2), whose d_in are NULL:
 * each sample's dW is made where backward would add it to the sum (the
 * same product of dy_n and its im2col matrix, into a buffer of its own:
 * this thread's partial in batch-parallel mode, else w_scratch), and its
 * squared norm, with that of dB_n, added to sq[n].
 */
static void conv_backward_sq(FoilOpCtx *c, uint32_t weights, float *sq, float *w_scratch);

static void conv_backward(FoilOpCtx *c) { conv_backward_sq(c, 0, NULL, NULL); }

static foil_status conv_example_norms(FoilOpCtx *c, uint32_t weights, int64_t examples, float *sq,
                                      float *const *scratch)
{
    const conv_state *st = c->state;
    if ((weights & 1u) || st->N != examples)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "per-example gradients need the %lld examples along X's first "
                             "axis (here %lld) and the weights in W and B", (long long)examples, (long long)st->N);
    if (c->d_in[1] || (c->n_in > 2 && c->d_in[2]))
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "per-example gradients need W and B to be weights, not values "
                             "the graph computes");
    if (sq) conv_backward_sq(c, weights, sq, (weights & 2u) ? scratch[1] : NULL);
    return FOIL_OK;
}

static void conv_backward_sq(FoilOpCtx *c, uint32_t weights, float *sq, float *w_scratch)
{
    const conv_state *st = c->state;
    if (!c->d_out[0]) return;
    float *dx = c->d_in[0] ? foil_f32(c->d_in[0]) : NULL;
    float *dw = c->d_in[1] ? foil_f32(c->d_in[1]) : NULL;
    float *db = c->n_in > 2 && c->in[2] && c->d_in[2] ? foil_f32(c->d_in[2]) : NULL;
    const int norm_w = sq && (weights & 2u), norm_b = sq && (weights & 4u);
    if (!dx && !dw && !db && !norm_w && !norm_b) return;
    const float *x = foil_f32(c->in[0]), *w = foil_f32(c->in[1]), *dy = foil_f32(c->d_out[0]);
    float *scratch = c->work;
    const int64_t N = st->N, xs = st->C * st->w.in_size, ys = st->M * st->P, M = st->M, MK = st->M * st->K;
    const size_t sf = st->scratch_fl, pf = st->part_fl;
    float *parts = scratch + (size_t)st->nthr * sf;
    const float *u = dx && st->path == CONV_DIRECT && st->wino_bwd ? wino_weights(st, c->work, w, 1) : NULL;
    if (dx && st->path == CONV_SMALLK) u = smallk_transpose(st, c->work, w);
    const int dx_fresh = foilGradFresh(c, 0);
    /* A fused MaxPool (graph.c, pool_producer) whose backward is left to
     * this node: each sample's dy comes from it just before it is used, into
     * this thread's buffer of the pool's when each thread has its own
     * samples (dy itself is then not written), else into dy. */
    const FoilOpCtx *pool = c->pool_out && c->pool_out->d_in[0] && foilGradFresh(c->pool_out, 0) ? c->pool_out : NULL;

    if (!st->batch_par) {
        /* in order; dW and dB accumulate straight into the gradients */
        foilGradClearFresh(c, 1);
        foilGradClearFresh(c, 2);
        int par = sample_par(st);
        for (int64_t n = 0; n < N; n++) {
            if (pool) pool->node->op->pool_sample_backward(pool, n, foil_f32(pool->d_in[0]) + n * ys); /* = dy */
            if (norm_w) memset(w_scratch, 0, (size_t)MK * sizeof *w_scratch);
            backward_sample(st, x + n * xs, w, u, dy + n * ys, dx ? dx + n * xs : NULL, dx_fresh,
                            norm_w ? w_scratch : dw, db, scratch, sf, st->nthr, par);
            if (sq) sq[n] += sample_sq(st, norm_w ? w_scratch : NULL, dy + n * ys, norm_b);
        }
        return;
    }
    const int dw_fresh = foilGradFresh(c, 1), db_fresh = foilGradFresh(c, 2);
#pragma omp parallel num_threads(st->nthr)
    {
        int tid = omp_get_thread_num(), nthr = omp_get_num_threads();
        float *mine = scratch + (size_t)tid * sf;
        float *part = parts + (size_t)tid * pf;
        if (dw || db) memset(part, 0, pf * sizeof *part);
#pragma omp for schedule(static)
        for (int64_t n = 0; n < N; n++) {
            const float *dyn = dy + n * ys;
            if (pool) {
                float *buf = pool->node->op->pool_buffer(pool, tid);
                pool->node->op->pool_sample_backward(pool, n, buf);
                dyn = buf;
            }
            if (norm_w) memset(part, 0, (size_t)MK * sizeof *part); /* this sample's dW alone */
            backward_sample(st, x + n * xs, w, u, dyn, dx ? dx + n * xs : NULL, dx_fresh, dw || norm_w ? part : NULL,
                            db ? part + MK : NULL, mine, sf, 1, 0);
            if (sq) sq[n] += sample_sq(st, norm_w ? part : NULL, dyn, norm_b);
        }
        /* implicit barrier: every partial is complete; reduce in thread order */
        if (dw) {
#pragma omp for schedule(static)
            for (int64_t i = 0; i < MK; i++) {
                float s = 0.0f;
                for (int t = 0; t < nthr; t++) s += parts[(size_t)t * pf + (size_t)i];
                dw[i] = dw_fresh ? s : dw[i] + s;
            }
        }
        if (db) {
#pragma omp single
            for (int64_t i = 0; i < M; i++) {
                float s = 0.0f;
                for (int t = 0; t < nthr; t++) s += parts[(size_t)t * pf + (size_t)(MK + i)];
                db[i] = db_fresh ? s : db[i] + s;
            }
        }
    }
}

const FoilOp foilOpConv = {
    .type = "Conv",
    .grad_inputs = 0x7,
    .init = conv_init,
    .infer = conv_infer,
    .forward = conv_forward,
    .backward = conv_backward,
    .writes_grads = 0x7,
    .fuses_relu = 1,
    .fuses_pool = 1,
    .plan_state_bytes = sizeof(conv_state),
    .example_norms = conv_example_norms,
};
