/*
 * nn/ops/kernels.c - register-blocked kernels for small problems; see
 * kernels.h for what each computes.
 *
 * Tiles keep their sums in vector registers: a direct-correlation tile holds
 * MB output planes x NB vectors of 16 positions (24 sums for the main 8 x 3
 * tile: per tap, 3 vector loads and 8 weight broadcasts feed 24 fused
 * multiply-adds); a Winograd product tile RT tiles x MV vectors of output
 * channels; a dot tile MR rows of A x NR rows of B; an axpy tile MR rows x NV
 * vectors of C. Each output element is one sum in a fixed order (taps, input
 * channels, or k, ascending), whatever tile or thread computes it.
 */
#include <assert.h>
#include <string.h>

#include "nn/ops/im2col.h"
#if defined(__AVX2__) && !defined(__AVX512F__)
#include <immintrin.h>
#endif
#include "nn/ops/kernels.h"

/* The tiles' multiply-adds are fused: the build passes -ffp-contract=fast
 * (C17 mode would otherwise turn contraction off). */


/* ---------------------------------------------------------------------------
 * Direct correlation
 */

int foilDconvSetup(FoilDconv *d, int64_t nin, int64_t nout, int64_t sh, int64_t sw, int64_t top, int64_t left,
                     int64_t rows, int64_t cols, int64_t kh, int64_t kw, int64_t dh, int64_t dw, int64_t wo,
                     int64_t wi, int64_t wky, int64_t wkx)
{
    memset(d, 0, sizeof *d);
    d->nin = nin, d->nout = nout, d->sh = sh, d->sw = sw, d->top = top, d->left = left;
    d->rows = rows, d->cols = cols, d->kh = kh, d->kw = kw, d->dh = dh, d->dw = dw;
    d->wo = wo, d->wi = wi, d->wky = wky, d->wkx = wkx;
    d->hp = rows + (kh - 1) * dh;
    d->wp = cols + (kw - 1) * dw;
    int64_t pos, plane, slack, fl;
    if (__builtin_mul_overflow(rows, d->wp, &pos) || pos > ((int64_t)1 << 40) ||
        __builtin_mul_overflow(d->hp, d->wp, &plane) || __builtin_mul_overflow(nin, plane, &fl))
        return -1;
    d->nvec = (pos + 15) / 16;
    d->ext = (kh - 1) * dh * d->wp + (kw - 1) * dw;
    /* the last vector of the last plane reads up to 15 + (kw-1)*dw floats
     * past the plane's last row: whole zero rows after the planes */
    slack = (15 + (kw - 1) * dw) / d->wp + 2;
    if (__builtin_add_overflow(fl, slack * d->wp, &d->pad_fl)) return -1;
    return 0;
}

/* Padded row a (may be >= hp: rows of the next plane, or slack past the
 * last) of plane i, from src. */
static void pad_row(const FoilDconv *d, const float *src, float *pad, int64_t i, int64_t a)
{
    while (a >= d->hp) a -= d->hp, i++;
    int64_t sr = a - d->top;
    float *row = pad + (i * d->hp + a) * d->wp;
    int64_t b0 = max64(d->left, 0), b1 = min64(d->left + d->sw, d->wp);
    if (i >= d->nin || sr < 0 || sr >= d->sh || b1 <= b0) {
        foilZeroFloats(row, d->wp);
        return;
    }
    foilZeroFloats(row, b0);
    foilCopyFloats(row + b0, src + (i * d->sh + sr) * d->sw + (b0 - d->left), b1 - b0);
    foilZeroFloats(row + b1, d->wp - b1);
}

void foilDconvPad(const FoilDconv *d, const float *src, float *pad, int64_t v0, int64_t v1)
{
    if (v1 <= v0) return;
    /* vectors [v0, v1) of plane i read its flattened floats
     * [16 v0, 16 v1 - 1 + ext]: rows [a0, a1) counted from the plane's start
     * (a1 may run into the next plane, or into the slack after the last) */
    int64_t a0 = 16 * v0 / d->wp, a1 = (16 * v1 - 1 + d->ext) / d->wp + 1;
    int64_t done = 0; /* global rows (plane * hp + row) below this are filled */
    for (int64_t i = 0; i < d->nin; i++) {
        int64_t first = max64(i * d->hp + a0, done) - i * d->hp;
        for (int64_t a = first; a < a1; a++) pad_row(d, src, pad, i, a);
        done = max64(done, i * d->hp + a1);
    }
}

/* Flattened positions [16 v, 16 v + 16 nb) of planes o .. o + mb - 1, held
 * in buf (mb x nb*16), into out: the positions with r < rows and q < cols. */
static void dconv_put(const FoilDconv *d, const float *buf, int mb, int nb, int64_t o, int64_t v, float *out,
                      int accumulate)
{
    const int64_t wp = d->wp, cols = d->cols, plane = d->rows * cols;
    const int64_t j0 = 16 * v, j1 = min64(j0 + 16 * nb, d->rows * wp);
    const int64_t r0 = j0 / wp, q0 = j0 - r0 * wp;
    float *op = out + o * plane;
    /* row by row: positions [t, t + n) are columns [q, q + n) of row r */
    for (int64_t t = j0, r = r0, q = q0; t < j1; r++, q = 0) {
        int64_t n = min64(wp - q, j1 - t);
        int64_t nc = q < cols ? min64(cols - q, n) : 0; /* of which real columns */
        const float *s = buf + (t - j0);
        float *dst = op + r * cols + q;
        for (int j = 0; j < mb; j++, s += (int64_t)nb * 16, dst += plane) {
            if (accumulate) {
                int64_t k = 0;
                for (; k + VN <= nc; k += VN) vn_store(dst + k, vn_load(dst + k) + vn_load(s + k));
                if (k < nc) vn_store_part(dst + k, vn_load_part(dst + k, nc - k) + vn_load_part(s + k, nc - k), nc - k);
            } else {
                foilCopyFloats(dst, s, nc);
            }
        }
        t += n;
    }
}

/* One tile: MB planes from o, NB vectors of 16 positions from v (as
 * W = 16 NB / VN native vectors). */
#define DEFINE_DCONV_TILE(MB, NB)                                                                                    \
    static void dconv_tile_##MB##x##NB(const FoilDconv *d, const float *pad, const float *w, const float *bias,     \
                                       int64_t o, int64_t v, float *out, int accumulate)                             \
    {                                                                                                                \
        enum { W = NB * 16 / VN };                                                                                   \
        vn acc[MB][W];                                                                                               \
        _Pragma("GCC unroll 16") for (int j = 0; j < MB; j++)                                                        \
        {                                                                                                            \
            float b0 = bias && !accumulate ? bias[o + j] : 0.0f;                                                     \
            _Pragma("GCC unroll 16") for (int u = 0; u < W; u++) acc[j][u] = (vn){0} + b0;                           \
        }                                                                                                            \
        const int64_t plane = d->hp * d->wp, wo = d->wo, kh = d->kh, kw = d->kw;                                     \
        const int64_t rstep = d->dh * d->wp, wky = d->wky, wkx = d->wkx, dw = d->dw;                                 \
        const float *src = pad + 16 * v, *wb = w + o * wo;                                                           \
        for (int64_t i = 0; i < d->nin; i++, src += plane, wb += d->wi)                                              \
            for (int64_t ky = 0; ky < kh; ky++) {                                                                    \
                const float *row = src + ky * rstep, *wr = wb + ky * wky;                                            \
                for (int64_t kx = 0; kx < kw; kx++) {                                                                \
                    const float *p = row + kx * dw, *wk = wr + kx * wkx;                                             \
                    vn xv[W];                                                                                        \
                    _Pragma("GCC unroll 16") for (int u = 0; u < W; u++) xv[u] = vn_load(p + VN * u);                \
                    _Pragma("GCC unroll 16") for (int j = 0; j < MB; j++)                                            \
                    {                                                                                                \
                        float s = wk[j * wo];                                                                        \
                        _Pragma("GCC unroll 16") for (int u = 0; u < W; u++) acc[j][u] += xv[u] * s;                 \
                    }                                                                                                \
                }                                                                                                    \
            }                                                                                                        \
        float buf[MB * NB * 16];                                                                                     \
        _Pragma("GCC unroll 16") for (int j = 0; j < MB; j++)                                                        \
            _Pragma("GCC unroll 16") for (int u = 0; u < W; u++) vn_store(buf + j * NB * 16 + VN * u, acc[j][u]);    \
        dconv_put(d, buf, MB, NB, o, v, out, accumulate);                                                            \
    }

/* Tiles of at most 24 native vectors of sums on AVX-512 (of 32 registers),
 * at most 12 on AVX2 (of 16): there 16-float vectors take two registers. */
#ifdef __AVX512F__
DEFINE_DCONV_TILE(8, 3)
DEFINE_DCONV_TILE(8, 2)
DEFINE_DCONV_TILE(8, 1)
DEFINE_DCONV_TILE(4, 4)
DEFINE_DCONV_TILE(4, 2)
DEFINE_DCONV_TILE(4, 1)
DEFINE_DCONV_TILE(1, 8)
DEFINE_DCONV_TILE(1, 4)
DEFINE_DCONV_TILE(1, 1)
#define DCONV_TILES                                                                                                  \
    {8, {3, 2, 1}, {dconv_tile_8x3, dconv_tile_8x2, dconv_tile_8x1}},                                                \
        {4, {4, 2, 1}, {dconv_tile_4x4, dconv_tile_4x2, dconv_tile_4x1}},                                            \
        {1, {8, 4, 1}, {dconv_tile_1x8, dconv_tile_1x4, dconv_tile_1x1}},
#else
DEFINE_DCONV_TILE(6, 1)
DEFINE_DCONV_TILE(3, 2)
DEFINE_DCONV_TILE(3, 1)
DEFINE_DCONV_TILE(1, 4)
DEFINE_DCONV_TILE(1, 2)
DEFINE_DCONV_TILE(1, 1)
#define DCONV_TILES                                                                                                  \
    {6, {1, 1, 1}, {dconv_tile_6x1, dconv_tile_6x1, dconv_tile_6x1}},                                                \
        {3, {2, 1, 1}, {dconv_tile_3x2, dconv_tile_3x1, dconv_tile_3x1}},                                            \
        {1, {4, 2, 1}, {dconv_tile_1x4, dconv_tile_1x2, dconv_tile_1x1}},
#endif

typedef void (*dconv_tile_fn)(const FoilDconv *, const float *, const float *, const float *, int64_t, int64_t,
                              float *, int);

void foilDconvRun(const FoilDconv *d, const float *pad, const float *w, const float *bias, int64_t o0, int64_t o1,
                    int64_t v0, int64_t v1, float *out, int accumulate)
{
    /* per tile height: the widths available, widest first */
    static const struct {
        int mb, nb[3];
        dconv_tile_fn fn[3];
    } tiles[3] = {DCONV_TILES};
    for (int64_t o = o0; o < o1;) {
        int h = 0;
        while (tiles[h].mb > o1 - o) h++; /* the last is one plane high */
        for (int64_t v = v0; v < v1;) {
            int k = 0;
            while (tiles[h].nb[k] > v1 - v) k++;
            tiles[h].fn[k](d, pad, w, bias, o, v, out, accumulate);
            v += tiles[h].nb[k];
        }
        o += tiles[h].mb;
    }
}

/* ---------------------------------------------------------------------------
 * Few-row products
 */

/* Sum of 16 lanes held in 16 / VN native vectors, in a fixed order: the
 * halves added lane by lane, then their halves, down to one lane (the
 * same order whatever the vector width). */
FOIL_V16_INLINE float hsum16(const vn *v)
{
    float t[16];
    for (int u = 0; u < 16 / VN; u++) vn_store(t + VN * u, v[u]);
    for (int s = 8; s >= 1; s /= 2)
        for (int i = 0; i < s; i++) t[i] += t[i + s];
    return t[0];
}

/* C[m, r] = sum_k A[m, k] * B[r, k], m < MR, r < NR; lane l of a sum takes
 * the k = l mod 16 (each sum: W = 16 / VN native vectors). */
#define DEFINE_DOT_TILE(MR, NR)                                                                                      \
    static void dot_tile_##MR##x##NR(int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb, float *C,  \
                                     int64_t ldc)                                                                    \
    {                                                                                                                \
        enum { W = 16 / VN };                                                                                        \
        vn acc[MR][NR][W];                                                                                           \
        _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++)                                                        \
            _Pragma("GCC unroll 16") for (int r = 0; r < NR; r++)                                                    \
                _Pragma("GCC unroll 4") for (int u = 0; u < W; u++) acc[m][r][u] = (vn){0};                          \
        int64_t k = 0;                                                                                               \
        for (; k + 16 <= K; k += 16) {                                                                               \
            vn a[MR][W];                                                                                             \
            _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++)                                                    \
                _Pragma("GCC unroll 4") for (int u = 0; u < W; u++) a[m][u] = vn_load(A + m * lda + k + VN * u);     \
            _Pragma("GCC unroll 16") for (int r = 0; r < NR; r++)                                                    \
                _Pragma("GCC unroll 4") for (int u = 0; u < W; u++)                                                  \
                {                                                                                                    \
                    vn b = vn_load(B + r * ldb + k + VN * u);                                                        \
                    _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++) acc[m][r][u] += a[m][u] * b;               \
                }                                                                                                    \
        }                                                                                                            \
        if (k < K) {                                                                                                 \
            vn a[MR][W];                                                                                             \
            _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++)                                                    \
                _Pragma("GCC unroll 4") for (int u = 0; u < W; u++)                                                  \
                    a[m][u] = vn_load_part(A + m * lda + k + VN * u, K - k - VN * u);                                \
            _Pragma("GCC unroll 16") for (int r = 0; r < NR; r++)                                                    \
                _Pragma("GCC unroll 4") for (int u = 0; u < W; u++)                                                  \
                {                                                                                                    \
                    vn b = vn_load_part(B + r * ldb + k + VN * u, K - k - VN * u);                                   \
                    _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++) acc[m][r][u] += a[m][u] * b;               \
                }                                                                                                    \
        }                                                                                                            \
        for (int m = 0; m < MR; m++)                                                                                 \
            for (int r = 0; r < NR; r++) C[m * ldc + r] = hsum16(acc[m][r]);                                        \
    }

/* The widest tile of MR rows: DOT_NRx sums of 16 lanes (16 registers on
 * AVX-512; 8 on AVX2, where each takes two). */
#ifdef __AVX512F__
#define DOT_NR4 4
#define DOT_NR2 4
#define DOT_NR1 16
#define DOT_NR1_HALF 8
#else
#define DOT_NR4 1
#define DOT_NR2 2
#define DOT_NR1 4
#define DOT_NR1_HALF 2
#endif
#define DOT_TILE(MR, NR) DOT_TILE_(MR, NR)
#define DOT_TILE_(MR, NR) dot_tile_##MR##x##NR
#define DEFINE_DOT_TILE_(MR, NR) DEFINE_DOT_TILE(MR, NR)

#if DOT_NR4 != 1
DEFINE_DOT_TILE_(4, DOT_NR4)
#endif
DEFINE_DOT_TILE(4, 1)
DEFINE_DOT_TILE_(2, DOT_NR2)
DEFINE_DOT_TILE(2, 1)
DEFINE_DOT_TILE_(1, DOT_NR1)
DEFINE_DOT_TILE_(1, DOT_NR1_HALF)
DEFINE_DOT_TILE(1, 1)

void foilGemvDot(int64_t M, int64_t n0, int64_t n1, int64_t K, const float *A, int64_t lda, const float *B,
                   int64_t ldb, float *C, int64_t ldc)
{
    for (int64_t m = 0; m < M;) {
        const float *a = A + m * lda;
        float *c = C + m * ldc;
        int64_t n = n0;
        if (M - m >= 4) {
            for (; n + DOT_NR4 <= n1; n += DOT_NR4) DOT_TILE(4, DOT_NR4)(K, a, lda, B + n * ldb, ldb, c + n, ldc);
            for (; n < n1; n++) dot_tile_4x1(K, a, lda, B + n * ldb, ldb, c + n, ldc);
            m += 4;
        } else if (M - m >= 2) {
            for (; n + DOT_NR2 <= n1; n += DOT_NR2) DOT_TILE(2, DOT_NR2)(K, a, lda, B + n * ldb, ldb, c + n, ldc);
            for (; n < n1; n++) dot_tile_2x1(K, a, lda, B + n * ldb, ldb, c + n, ldc);
            m += 2;
        } else {
            for (; n + DOT_NR1 <= n1; n += DOT_NR1) DOT_TILE(1, DOT_NR1)(K, a, lda, B + n * ldb, ldb, c + n, ldc);
            for (; n + DOT_NR1_HALF <= n1; n += DOT_NR1_HALF)
                DOT_TILE(1, DOT_NR1_HALF)(K, a, lda, B + n * ldb, ldb, c + n, ldc);
            for (; n < n1; n++) dot_tile_1x1(K, a, lda, B + n * ldb, ldb, c + n, ldc);
            m += 1;
        }
    }
}

/* C[m, 0 : 16 NV) (+)= sum_{k0 <= k < k1} A[m, k] * B[k, 0 : 16 NV), m < MR,
 * starting from C (accumulate), bias[m] (bias != NULL) or 0; the last 16
 * columns hold only `last` (1..16). In W = 16 NV / VN native vectors per
 * row, indexed only by unrolled loops, so they stay in registers; native
 * vector u holds cols(u) columns (callers pass last = 16 as a constant for
 * whole tiles, and gcc folds the masks away). */
#define DEFINE_AXPY_TILE(MR, NV)                                                                                     \
    static void axpy_tile_##MR##x##NV(int64_t k0, int64_t k1, const float *A, int64_t lda, const float *B,           \
                                      int64_t ldb, float *C, int64_t ldc, const float *bias, int accumulate,          \
                                      int64_t last)                                                                  \
    {                                                                                                                \
        enum { W = NV * 16 / VN, G = 16 / VN };                                                                      \
        int64_t cols[W];                                                                                             \
        _Pragma("GCC unroll 16") for (int u = 0; u < W; u++) cols[u] = u < W - G ? VN : last - VN * (u - (W - G));   \
        vn acc[MR][W];                                                                                               \
        _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++)                                                        \
        {                                                                                                            \
            float b0 = bias ? bias[m] : 0.0f;                                                                        \
            _Pragma("GCC unroll 16") for (int u = 0; u < W; u++)                                                     \
                acc[m][u] = accumulate ? vn_load_part(C + m * ldc + VN * u, cols[u]) : (vn){0} + b0;                 \
        }                                                                                                            \
        for (int64_t k = k0; k < k1; k++) {                                                                          \
            vn b[W];                                                                                                 \
            _Pragma("GCC unroll 16") for (int u = 0; u < W; u++) b[u] = vn_load_part(B + k * ldb + VN * u, cols[u]); \
            _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++)                                                    \
            {                                                                                                        \
                float s = A[m * lda + k];                                                                            \
                _Pragma("GCC unroll 16") for (int u = 0; u < W; u++) acc[m][u] += b[u] * s;                          \
            }                                                                                                        \
        }                                                                                                            \
        _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++)                                                        \
            _Pragma("GCC unroll 16") for (int u = 0; u < W; u++)                                                     \
                vn_store_part(C + m * ldc + VN * u, acc[m][u], cols[u]);                                             \
    }

/* The widest tile of MR rows spans AXPY_NV_MR vectors of C: 16 sums on
 * AVX-512 (of its 32 registers). A 16-float vector is two AVX2 registers,
 * where 16 sums would spill (in a 4 x 4 tile, three quarters of the
 * instructions were stack moves) and 8 sums fit. Each element of C is the
 * same sum in the same order whatever the tile. */
#ifdef __AVX512F__
#define AXPY_NV4 4
#define AXPY_NV2 4
#define AXPY_NV1 8
#else
#define AXPY_NV4 1
#define AXPY_NV2 2
#define AXPY_NV1 4
#endif
#define AXPY_TILE(MR, NV) AXPY_TILE_(MR, NV)
#define AXPY_TILE_(MR, NV) axpy_tile_##MR##x##NV
#define DEFINE_AXPY_TILE_(MR, NV) DEFINE_AXPY_TILE(MR, NV)

#if AXPY_NV4 != 1
DEFINE_AXPY_TILE_(4, AXPY_NV4)
#endif
DEFINE_AXPY_TILE(4, 1)
DEFINE_AXPY_TILE_(2, AXPY_NV2)
DEFINE_AXPY_TILE(2, 1)
DEFINE_AXPY_TILE_(1, AXPY_NV1)
DEFINE_AXPY_TILE(1, 1)

void foilGemvAxpy(int64_t M, int64_t n0, int64_t n1, int64_t k0, int64_t k1, const float *A, int64_t lda,
                    const float *B, int64_t ldb, float *C, int64_t ldc, const float *bias, int accumulate)
{
    for (int64_t m = 0; m < M;) {
        const float *a = A + m * lda, *bm = bias ? bias + m : NULL;
        float *c = C + m * ldc;
        int mr = M - m >= 4 ? 4 : M - m >= 2 ? 2 : 1;
        int64_t n = n0;
        if (mr == 4) {
            for (; n + 16 * AXPY_NV4 <= n1; n += 16 * AXPY_NV4)
                AXPY_TILE(4, AXPY_NV4)(k0, k1, a, lda, B + n, ldb, c + n, ldc, bm, accumulate, 16);
            for (; n < n1; n += 16)
                axpy_tile_4x1(k0, k1, a, lda, B + n, ldb, c + n, ldc, bm, accumulate, min64(16, n1 - n));
        } else if (mr == 2) {
            for (; n + 16 * AXPY_NV2 <= n1; n += 16 * AXPY_NV2)
                AXPY_TILE(2, AXPY_NV2)(k0, k1, a, lda, B + n, ldb, c + n, ldc, bm, accumulate, 16);
            for (; n < n1; n += 16)
                axpy_tile_2x1(k0, k1, a, lda, B + n, ldb, c + n, ldc, bm, accumulate, min64(16, n1 - n));
        } else {
            for (; n + 16 * AXPY_NV1 <= n1; n += 16 * AXPY_NV1)
                AXPY_TILE(1, AXPY_NV1)(k0, k1, a, lda, B + n, ldb, c + n, ldc, bm, accumulate, 16);
            for (; n < n1; n += 16)
                axpy_tile_1x1(k0, k1, a, lda, B + n, ldb, c + n, ldc, bm, accumulate, min64(16, n1 - n));
        }
        m += mr;
    }
}

/* ---------------------------------------------------------------------------
 * Winograd F(2x2, 3x3)
 */

static int64_t round16_64(int64_t n) { return (n + 15) / 16 * 16; }

/* Tiles per block: the block's transformed inputs and products, one
 * position at a time, stay in L2 while the transformed weights of that
 * position stream past them once (with 16 tiles a block, the 16 MB of a
 * 512-channel layer's weights came from memory every 16 tiles, and its
 * 7x7 layers ran at half the speed of the 56x56 ones). */
#define WINO_TB 96
/* Floats from one transformed position's rows to the next's, in V and Mx:
 * a block's 16 positions are read (Mx) and written (V) together, and at a
 * multiple of 1 KB apart (WINO_TB tiles x 16k channels) they would fall in
 * the same few L1 sets; one extra cache line apart they spread over 16. */
#define WINO_XS(ch) (WINO_TB * (ch) + 16)

int foilWinoSetup(FoilWino *d, int64_t nin, int64_t nout, int64_t sh, int64_t sw, int64_t top, int64_t left,
                    int64_t rows, int64_t cols, int64_t wo, int64_t wi, int64_t wky, int64_t wkx, int64_t m,
                    int64_t max_group)
{
    memset(d, 0, sizeof *d);
    if (m != 2 && m != 4) return -1;
    d->nin = nin, d->nout = nout, d->sh = sh, d->sw = sw, d->top = top, d->left = left;
    d->rows = rows, d->cols = cols, d->wo = wo, d->wi = wi, d->wky = wky, d->wkx = wkx;
    d->m = m, d->npos = (m + 2) * (m + 2);
    d->th = (rows + m - 1) / m, d->tw = (cols + m - 1) / m;
    d->hp = m * d->th + 2, d->wp = m * d->tw + 2;
    d->cin_v = round16_64(nin), d->cout_v = round16_64(nout);
    int64_t nt, u, p, v, mx, y, s;
    if (__builtin_mul_overflow(d->th, d->tw, &nt) || __builtin_mul_overflow(d->npos * nin, d->cout_v, &u) ||
        __builtin_mul_overflow(d->hp * d->wp, d->cin_v, &p) ||
        __builtin_mul_overflow(d->npos, WINO_XS(d->cin_v), &v) ||
        __builtin_mul_overflow(d->npos, WINO_XS(d->cout_v), &mx) ||
        __builtin_mul_overflow(m * d->th * cols, d->cout_v, &y) || nt < 1)
        return -1;
    /* samples a run may take: as many as fill a block, so that small planes
     * (a 7x7 layer has 16 tiles of 2x2) share each pass over the weights */
    d->group = max64(1, min64(min64(WINO_TB / nt, max_group), WINO_MAX_GROUP));
    if (__builtin_mul_overflow(p, d->group, &p) || __builtin_mul_overflow(y, d->group, &y) ||
        __builtin_add_overflow(p + v, mx + y, &s) || s > ((int64_t)1 << 40))
        return -1;
    d->ntile = nt;
    d->u_fl = (size_t)u;
    d->scratch_fl = (size_t)s;
    return 0;
}

/* The 1-D transforms (Lavin & Gray 2015), on 16-float vectors:
 *   F(2, 3): G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
 *            B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], A^T = [1 1 1 0; 0 1 -1 -1];
 *   F(4, 3): interpolation points 0, +-1, +-2 and infinity:
 *            G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1],
 *            B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0;
 *                   0 4 0 -5 0 1],
 *            A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1].
 * x and y are read and written every step elements (a row or a column of a
 * tile held in an array). */
static inline void wino_g(int m, const v16 *g, int step, v16 *y, int ystep)
{
    const v16 g0 = g[0], g1 = g[step], g2 = g[2 * step];
    if (m == 2) {
        const float h = 0.5f;
        y[0] = g0, y[ystep] = h * (g0 + g1 + g2), y[2 * ystep] = h * (g0 - g1 + g2), y[3 * ystep] = g2;
        return;
    }
    const float s6 = 1.0f / 6, s12 = 1.0f / 12, s24 = 1.0f / 24;
    y[0] = 0.25f * g0;
    y[ystep] = -s6 * (g0 + g1 + g2);
    y[2 * ystep] = -s6 * (g0 - g1 + g2);
    y[3 * ystep] = s24 * g0 + s12 * g1 + s6 * g2;
    y[4 * ystep] = s24 * g0 - s12 * g1 + s6 * g2;
    y[5 * ystep] = g2;
}

static inline void wino_bt(int m, const vn *x, int step, vn *y, int ystep)
{
    if (m == 2) {
        const vn x0 = x[0], x1 = x[step], x2 = x[2 * step], x3 = x[3 * step];
        y[0] = x0 - x2, y[ystep] = x1 + x2, y[2 * ystep] = x2 - x1, y[3 * ystep] = x1 - x3;
        return;
    }
    const vn x0 = x[0], x1 = x[step], x2 = x[2 * step], x3 = x[3 * step], x4 = x[4 * step], x5 = x[5 * step];
    const vn a = x4 - 4.0f * x2, b = x3 - 4.0f * x1, c = x4 - x2, e = 2.0f * (x3 - x1);
    y[0] = 4.0f * x0 - 5.0f * x2 + x4;
    y[ystep] = a + b, y[2 * ystep] = a - b;
    y[3 * ystep] = c + e, y[4 * ystep] = c - e;
    y[5 * ystep] = 4.0f * x1 - 5.0f * x3 + x5;
}

static inline void wino_at(int m, const vn *x, int step, vn *y, int ystep)
{
    if (m == 2) {
        const vn x0 = x[0], x1 = x[step], x2 = x[2 * step], x3 = x[3 * step];
        y[0] = x0 + x1 + x2, y[ystep] = x1 - x2 - x3;
        return;
    }
    const vn x0 = x[0], x1 = x[step], x2 = x[2 * step], x3 = x[3 * step], x4 = x[4 * step], x5 = x[5 * step];
    const vn p = x1 + x2, q = x1 - x2, r = x3 + x4, t = x3 - x4;
    y[0] = x0 + p + r;
    y[ystep] = q + 2.0f * t;
    y[2 * ystep] = p + 4.0f * r;
    y[3 * ystep] = q + 8.0f * t + x5;
}

/* Where U[xi, i, o] lies: position xi's nin x cout_v floats hold the output
 * channels in blocks of WINO_UB (the last may be narrower), each block's nin rows
 * contiguous, so that the rows a product reads of one block are one run of
 * memory (rows cout_v floats apart, 2 KB for 512 channels, fell into the
 * same few L1 sets and evicted each other). */
#define WINO_UB 64

/* The block of output channel o: its first channel, and its width (the
 * stride of its rows). */
static inline int64_t wino_ublock(int64_t o, int64_t cout_v, int64_t *width)
{
    const int64_t ob = o / WINO_UB * WINO_UB;
    *width = min64(WINO_UB, cout_v - ob);
    return ob;
}

static inline size_t wino_u_offset(const FoilWino *d, int64_t xi, int64_t i, int64_t o)
{
    int64_t us, ob = wino_ublock(o, d->cout_v, &us);
    return (size_t)(xi * d->nin * d->cout_v + ob * d->nin + i * us + (o - ob));
}

/*
 * U[xi = (r, c), i, o] = (G g G^T)[r, c] for the 3x3 kernel g = W(o, i, ., .),
 * 16 output channels at a time (gathered: W's strides are arbitrary);
 * channels past nout get 0. Runs only when the weights change.
 */
void foilWinoWeights(const FoilWino *d, const float *w, float *u)
{
    const int m = (int)d->m, a = m + 2;
    for (int64_t i = 0; i < d->nin; i++)
        for (int64_t o0 = 0; o0 < d->cout_v; o0 += 16) {
            v16 g[3][3], t[6][3], x[6][6];
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++) {
                    float lane[16];
                    for (int l = 0; l < 16; l++)
                        lane[l] = o0 + l < d->nout ? w[(o0 + l) * d->wo + i * d->wi + ky * d->wky + kx * d->wkx] : 0.0f;
                    g[ky][kx] = v16_load(lane);
                }
            for (int kx = 0; kx < 3; kx++) wino_g(m, &g[0][kx], 3, &t[0][kx], 3);
            for (int r = 0; r < a; r++) wino_g(m, t[r], 1, x[r], 1);
            for (int r = 0; r < a; r++)
                for (int c = 0; c < a; c++) v16_store(u + wino_u_offset(d, r * a + c, i, o0), x[r][c]);
        }
}

/* M[t, 0 : 16 MV) (+)= sum_{k0 <= i < k1} V[t, i] * U[i, 0 : 16 MV) for t <
 * RT (rows of V every cv floats, of U every us, of M every ov): M = the sum
 * when k0 is 0, else M += it, continuing M's sums in the same order. */
#define DEFINE_WINO_TILE(RT, MV)                                                                                     \
    static void wino_tile_##RT##x##MV(int64_t k0, int64_t k1, const float *V, int64_t cv, const float *U,             \
                                      int64_t us, float *M, int64_t ov)                                              \
    {                                                                                                                \
        enum { W = MV * 16 / VN };                                                                                   \
        vn acc[RT][W];                                                                                               \
        _Pragma("GCC unroll 16") for (int r = 0; r < RT; r++)                                                        \
            _Pragma("GCC unroll 16") for (int v = 0; v < W; v++) acc[r][v] =                                         \
                k0 ? vn_load(M + r * ov + VN * v) : (vn){0};                                                         \
        for (int64_t i = k0; i < k1; i++) {                                                                          \
            vn uu[W];                                                                                                \
            _Pragma("GCC unroll 16") for (int v = 0; v < W; v++) uu[v] = vn_load(U + i * us + VN * v);               \
            _Pragma("GCC unroll 16") for (int r = 0; r < RT; r++)                                                    \
            {                                                                                                        \
                float s = V[r * cv + i];                                                                             \
                _Pragma("GCC unroll 16") for (int v = 0; v < W; v++) acc[r][v] += uu[v] * s;                         \
            }                                                                                                        \
        }                                                                                                            \
        _Pragma("GCC unroll 16") for (int r = 0; r < RT; r++)                                                        \
            _Pragma("GCC unroll 16") for (int v = 0; v < W; v++) vn_store(M + r * ov + VN * v, acc[r][v]);           \
    }

#ifdef __AVX512F__
DEFINE_WINO_TILE(6, 4)
DEFINE_WINO_TILE(3, 4)
DEFINE_WINO_TILE(1, 4)
DEFINE_WINO_TILE(8, 2)
DEFINE_WINO_TILE(4, 2)
DEFINE_WINO_TILE(1, 2)
DEFINE_WINO_TILE(8, 1)
DEFINE_WINO_TILE(4, 1)
#else
DEFINE_WINO_TILE(6, 1)
DEFINE_WINO_TILE(3, 1)
#endif
DEFINE_WINO_TILE(1, 1)

/* Input channels a product takes at a time: the U panel of a block of
 * columns (WINO_KB x 64 floats, 32 KB, contiguous: see wino_u_offset) stays
 * in L1 while every tile's rows stream past it. */
#define WINO_KB 128

/* M[t, c0 : c1) = sum_i V[t, i] U[i, c0 : c1) for t < nt: V's rows every
 * cv floats, M's every ov; U one position's transformed weights, in column
 * blocks of 64 (wino_u_offset). 64, 32 or 16 columns at a time (never across
 * a block), rows in tiles of 6 / 8 and their halves, then singles; the sums
 * over input channels in blocks of WINO_KB, each continuing the last (the
 * same order of sums as one pass, whatever the tiling). */
static void wino_gemm(int64_t nt, int64_t nin, const float *V, int64_t cv, const float *U, int64_t ov, float *M,
                      int64_t c0, int64_t c1)
{
#define WINO_ROWS(RT, RH, MV)                                                                                        \
    for (int64_t k0 = 0; k0 < nin; k0 += WINO_KB) {                                                                  \
        const int64_t k1 = min64(nin, k0 + WINO_KB);                                                                 \
        int64_t t = 0;                                                                                               \
        for (; t + RT <= nt; t += RT) wino_tile_##RT##x##MV(k0, k1, V + t * cv, cv, ub, us, M + t * ov + o, ov);     \
        for (; t + RH <= nt; t += RH) wino_tile_##RH##x##MV(k0, k1, V + t * cv, cv, ub, us, M + t * ov + o, ov);     \
        for (; t < nt; t++) wino_tile_1x##MV(k0, k1, V + t * cv, cv, ub, us, M + t * ov + o, ov);                    \
    }
    for (int64_t o = c0; o < c1;) {
        int64_t us, ob = wino_ublock(o, ov, &us);
        const int64_t left = min64(c1, ob + us) - o;
        const float *ub = U + ob * nin + (o - ob);
#ifndef __AVX512F__
        /* Narrower registers: a 16-float vector is two AVX2 registers (four
         * SSE ones), so the tiles below would spill their sums; 6 tiles x 16
         * columns keep 12 of AVX2's 16 registers for sums. */
        (void)left;
        WINO_ROWS(6, 3, 1)
        o += 16;
#else
        if (left >= 64) {
            WINO_ROWS(6, 3, 4)
            o += 64;
        } else if (left >= 32) {
            WINO_ROWS(8, 4, 2)
            o += 32;
        } else {
            WINO_ROWS(8, 4, 1)
            o += 16;
        }
#endif
    }
#undef WINO_ROWS
}

/* r[i][j] <- r[j][i] for a 16 x 16 block: four stages, stage k swapping bit k
 * of the row index with bit k of the column index (two-source shuffles,
 * constant index vectors: lane j takes a[j] or b[j ^ k] / a[j | k] or b[j]). */
#define T16_LO(k)                                                                                                    \
    {0 & k ? 16 + (0 ^ k) : 0,    1 & k ? 16 + (1 ^ k) : 1,    2 & k ? 16 + (2 ^ k) : 2,    3 & k ? 16 + (3 ^ k) : 3,  \
     4 & k ? 16 + (4 ^ k) : 4,    5 & k ? 16 + (5 ^ k) : 5,    6 & k ? 16 + (6 ^ k) : 6,    7 & k ? 16 + (7 ^ k) : 7,  \
     8 & k ? 16 + (8 ^ k) : 8,    9 & k ? 16 + (9 ^ k) : 9,    10 & k ? 16 + (10 ^ k) : 10, 11 & k ? 16 + (11 ^ k) : 11, \
     12 & k ? 16 + (12 ^ k) : 12, 13 & k ? 16 + (13 ^ k) : 13, 14 & k ? 16 + (14 ^ k) : 14, 15 & k ? 16 + (15 ^ k) : 15}
#define T16_HI(k)                                                                                                    \
    {0 & k ? 16 : (0 | k),        1 & k ? 17 : (1 | k),        2 & k ? 18 : (2 | k),        3 & k ? 19 : (3 | k),      \
     4 & k ? 20 : (4 | k),        5 & k ? 21 : (5 | k),        6 & k ? 22 : (6 | k),        7 & k ? 23 : (7 | k),      \
     8 & k ? 24 : (8 | k),        9 & k ? 25 : (9 | k),        10 & k ? 26 : (10 | k),      11 & k ? 27 : (11 | k),    \
     12 & k ? 28 : (12 | k),      13 & k ? 29 : (13 | k),      14 & k ? 30 : (14 | k),      15 & k ? 31 : (15 | k)}
#define T16_STAGE(k)                                                                                                 \
    do {                                                                                                             \
        const vi16 lo = T16_LO(k), hi = T16_HI(k);                                                                   \
        _Pragma("GCC unroll 16") for (int i = 0; i < 16; i++) {                                                      \
            if (i & k) continue;                                                                                     \
            v16 a = r[i], b = r[i | k];                                                                              \
            r[i] = v16_shuffle2(a, b, lo);                                                                      \
            r[i | k] = v16_shuffle2(a, b, hi);                                                                  \
        }                                                                                                            \
    } while (0)

#if defined(__AVX2__) && !defined(__AVX512F__)
/* With 8-float registers gcc lowers the 16-lane two-source shuffles above to
 * scalar moves through the stack (a quarter of an attack step's time in the
 * avx2 set), and copies arrays of 16-float vectors with rep movs. There the
 * transposes work on 8 x 8 blocks of AVX2 registers. */
static inline void transpose8(__m256 r[8])
{
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

/* Transposes go through TBLK x TBLK blocks of native registers. */
#define TBLK 8
typedef vn tblock;
#define tblock_transpose(r) transpose8((__m256 *)(r)) /* __m256 may alias any vector */
#define tblock_load vn_load
#define tblock_store vn_store
#define tblock_load_part vn_load_part
#define tblock_store_part vn_store_part
#else
#define TBLK 16
typedef v16 tblock;
static inline void tblock_transpose(v16 r[16])
{
    T16_STAGE(1);
    T16_STAGE(2);
    T16_STAGE(4);
    T16_STAGE(8);
}
#define tblock_load v16_load
#define tblock_store v16_store
#define tblock_load_part v16_load_part
#define tblock_store_part v16_store_part
#endif

/*
 * Tiles [t0, t1) of S samples' tiles, numbered sample by sample (sample s
 * holds [s ntile, (s + 1) ntile)): source s at src + s xs, its output at
 * out + s ys. Either S is 1 (any range of one sample's tiles) or the range
 * is whole samples; either way each sample's part is a range of its tiles.
 */
static void wino_run(const FoilWino *d, const float *u, const float *src, int64_t xs, int64_t S, const float *bias,
                     int64_t t0, int64_t t1, int64_t c0, int64_t c1, float *scratch, float *out, int64_t ys,
                     int accumulate)
{
    c1 = min64(c1, d->cout_v);
    if (t1 <= t0 || c1 <= c0) return;
    const int m = (int)d->m, a = m + 2, npos = a * a;
    const int64_t tw = d->tw, wp = d->wp, cv = d->cin_v, ov = d->cout_v, rows = d->rows, cols = d->cols;
    const int64_t nt = d->ntile, vs = WINO_XS(cv), ms = WINO_XS(ov);
    const int64_t p_fl = d->hp * wp * cv, y_fl = m * d->th * cols * ov; /* one sample's P and Y */
    /* per sample: its tiles [lt0, lt1), their tile rows [ty0, ty1) */
    int64_t lt0[WINO_MAX_GROUP], lt1[WINO_MAX_GROUP], ty0[WINO_MAX_GROUP], ty1[WINO_MAX_GROUP];
    assert(S >= 1 && S <= WINO_MAX_GROUP);
    for (int64_t s = 0; s < S; s++) {
        lt0[s] = max64(t0 - s * nt, 0), lt1[s] = min64(t1 - s * nt, nt);
        ty0[s] = lt0[s] / tw, ty1[s] = lt1[s] > lt0[s] ? (lt1[s] - 1) / tw + 1 : ty0[s];
    }
    float *P = scratch;           /* per sample: padded rows [m ty0, m ty1 + 2), channel-last, wp x cv each */
    float *V = P + S * p_fl;      /* npos x WINO_TB x cv, positions vs apart */
    float *Mx = V + npos * vs;    /* npos x WINO_TB x ov, positions ms apart */
    float *Y = Mx + npos * ms;    /* per sample: output rows [m ty0, m ty1), channel-last: . x cols x ov */

    /* 1. the sources, transposed into padded channel-last rows (16 x 16
     * blocks; channels past nin read as 0) */
    const int64_t b0 = max64(d->left, 0), b1 = min64(d->left + d->sw, wp);
    for (int64_t s = 0; s < S; s++) {
        if (lt1[s] <= lt0[s]) continue;
        const int64_t prow = m * (ty1[s] - ty0[s]) + 2;
        const float *xsrc = src + s * xs;
        float *Ps = P + s * p_fl;
        memset(Ps, 0, (size_t)(prow * wp * cv) * sizeof *Ps);
        for (int64_t h = 0; h < prow; h++) {
            int64_t sr = m * ty0[s] + h - d->top;
            if (sr < 0 || sr >= d->sh) continue;
            for (int64_t i0 = 0; i0 < d->nin; i0 += TBLK)
                for (int64_t b = b0; b < b1; b += TBLK) {
                    int64_t ni = min64(TBLK, d->nin - i0), nb = min64(TBLK, b1 - b);
                    tblock r[TBLK];
                    _Pragma("GCC unroll 16") for (int k = 0; k < TBLK; k++)
                        r[k] = k < ni ? tblock_load_part(xsrc + ((i0 + k) * d->sh + sr) * d->sw + (b - d->left), nb)
                                      : (tblock){0};
                    tblock_transpose(r);
                    _Pragma("GCC unroll 16") for (int j = 0; j < TBLK; j++)
                        if (j < nb) tblock_store(Ps + (h * wp + b + j) * cv + i0, r[j]);
                }
        }
    }

    /* per block of at most WINO_TB tiles: 2. V[xi, t, i] = (B^T d B)[xi];
     * 3. the npos products; 4. out tile = A^T M A (+ bias), into Y */
    const int64_t nblk = (t1 - t0 + WINO_TB - 1) / WINO_TB; /* blocks of equal size: no 1-tile block */
    for (int64_t k = 0, tb = t0; k < nblk; k++) {
        const int64_t nb = (t1 - t0) * (k + 1) / nblk - (t1 - t0) * k / nblk;
        for (int64_t t = tb; t < tb + nb; t++) {
            const int64_t s = t / nt, ty = (t - s * nt) / tw, tx = t - s * nt - ty * tw;
            const float *base = P + s * p_fl + (m * (ty - ty0[s]) * wp + m * tx) * cv;
            for (int64_t c = 0; c < cv; c += VN) {
                vn x[6][6], y[6][6];
                for (int i = 0; i < a; i++)
                    for (int j = 0; j < a; j++) x[i][j] = vn_load(base + (i * wp + j) * cv + c);
                for (int j = 0; j < a; j++) wino_bt(m, &x[0][j], 6, &y[0][j], 6);
                for (int i = 0; i < a; i++) {
                    wino_bt(m, y[i], 1, x[i], 1);
                    for (int j = 0; j < a; j++) vn_store(V + (i * a + j) * vs + (t - tb) * cv + c, x[i][j]);
                }
            }
        }
        for (int xi = 0; xi < npos; xi++)
            wino_gemm(nb, d->nin, V + xi * vs, cv, u + xi * d->nin * ov, ov, Mx + xi * ms, c0, c1);
        for (int64_t t = tb; t < tb + nb; t++) {
            const int64_t s = t / nt, ty = (t - s * nt) / tw, tx = t - s * nt - ty * tw;
            float *Ys = Y + s * y_fl;
            for (int64_t o = c0; o < c1; o += VN) {
                vn x[6][6], sm[4][6], r[4];
                for (int i = 0; i < a; i++)
                    for (int j = 0; j < a; j++) x[i][j] = vn_load(Mx + (i * a + j) * ms + (t - tb) * ov + o);
                for (int j = 0; j < a; j++) wino_at(m, &x[0][j], 6, &sm[0][j], 6);
                vn bv = bias && !accumulate ? vn_load_part(bias + o, d->nout - o) : (vn){0};
                for (int i = 0; i < m; i++) {
                    int64_t yr = m * ty + i, yc = m * tx;
                    if (yr >= rows) break;
                    wino_at(m, sm[i], 1, r, 1);
                    for (int j = 0; j < m && yc + j < cols; j++)
                        vn_store(Ys + ((yr - m * ty0[s]) * cols + yc + j) * ov + o, r[j] + bv);
                }
            }
        }
        tb += nb;
    }

    /* 5. Y back into (nout, rows, cols): each sample's outputs of its tiles */
    for (int64_t s = 0; s < S; s++)
        for (int64_t ty = ty0[s]; ty < ty1[s]; ty++) {
            int64_t tlo = max64(lt0[s], ty * tw) - ty * tw, thi = min64(lt1[s], (ty + 1) * tw) - ty * tw;
            int64_t q0 = m * tlo, q1 = min64(m * thi, cols);
            for (int64_t yr = m * ty; yr < m * ty + m && yr < rows; yr++) {
                const float *yrow = Y + s * y_fl + (yr - m * ty0[s]) * cols * ov;
                for (int64_t o0 = c0; o0 < min64(c1, d->nout); o0 += TBLK)
                    for (int64_t q = q0; q < q1; q += TBLK) {
                        int64_t nq = min64(TBLK, q1 - q), no = min64(TBLK, d->nout - o0);
                        tblock r[TBLK];
                        _Pragma("GCC unroll 16") for (int k = 0; k < TBLK; k++)
                            r[k] = k < nq ? tblock_load(yrow + (q + k) * ov + o0) : (tblock){0};
                        tblock_transpose(r);
                        _Pragma("GCC unroll 16") for (int l = 0; l < TBLK; l++) {
                            if (l >= no) break;
                            float *dst = out + s * ys + ((o0 + l) * rows + yr) * cols + q;
                            tblock_store_part(dst, accumulate ? r[l] + tblock_load_part(dst, nq) : r[l], nq);
                        }
                    }
            }
        }
}

void foilWinoRun(const FoilWino *d, const float *u, const float *src, const float *bias, int64_t t0, int64_t t1,
                   int64_t c0, int64_t c1, float *scratch, float *out, int accumulate)
{
    wino_run(d, u, src, 0, 1, bias, t0, t1, c0, c1, scratch, out, 0, accumulate);
}

void foilWinoRunSamples(const FoilWino *d, const float *u, const float *src, int64_t xs, int64_t nsamples,
                          const float *bias, float *scratch, float *out, int64_t ys, int accumulate)
{
    nsamples = min64(nsamples, d->group);
    wino_run(d, u, src, xs, nsamples, bias, 0, nsamples * d->ntile, 0, d->cout_v, scratch, out, ys, accumulate);
}
