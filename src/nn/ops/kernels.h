/*
 * nn/ops/kernels.h - register-blocked compute kernels (private to
 * src/nn/ops) for the shapes where OpenBLAS spends more time packing small
 * matrices than multiplying them (an attack on one image), and for
 * convolutions, where (with OpenBLAS held to its AVX2 kernels) they beat
 * im2col + sgemm at every batch size.
 *
 * Three families, all single-threaded on a caller-given range (the ops split
 * the ranges over their threads), all with a fixed summation order per
 * output, so a result never depends on the split:
 *
 *   - foil_dconv_*: direct 2-D correlation, stride 1, over "flattened" padded
 *     planes: Conv's forward and, with flipped weight strides, its input
 *     gradient, without im2col.
 *   - foil_wino_*: the same for 3x3 kernels by Winograd F(2x2, 3x3) or
 *     F(4x4, 3x3).
 *   - foilGemvDot / foilGemvAxpy: products with a few rows, C = A op(B),
 *     reading B once per 4 rows of A (Gemm at batch 1 is a matrix-vector
 *     product, its input gradient the transposed one; a first conv layer's
 *     column matrix has a handful of rows).
 *
 * The vector code uses the 16-float vectors of im2col.h: one AVX-512 register
 * each when the compiler targets AVX-512, pieces of narrower registers
 * otherwise (correct everywhere, tuned for AVX-512).
 */
#ifndef FOIL_NN_OPS_KERNELS_H
#define FOIL_NN_OPS_KERNELS_H

#include <stdint.h>

/*
 * Direct correlation of nin source planes into nout output planes:
 *
 *   out[o, r, q] (=|+=) bias[o] + sum_{i, ky, kx} W(o, i, ky, kx) * P[i, r + ky*dh, q + kx*dw]
 *
 * for r < rows, q < cols, where P[i] is source plane i (sh x sw) placed at
 * (top, left) in a zero plane of hp x wp (top/left < 0 crop it), rows =
 * hp - (kh-1)*dh, cols = wp - (kw-1)*dw, and W(o, i, ky, kx) =
 * w[o*wo + i*wi + ky*wky + kx*wkx] (strides may be negative: Conv's input
 * gradient reads the forward weights flipped and transposed this way).
 *
 * Flattened: with P stored row-major (rows of wp floats) and the output
 * computed at every flattened position t = r*wp + q, the sum is a 1-D
 * correlation, out'[t] = sum W * P[i][t + ky*dh*wp + kx*dw], so 16
 * consecutive positions are one vector whatever the plane width; positions
 * with q >= cols are computed and dropped. Positions are split into nvec
 * vectors (ranges [v0, v1) of them may go to different threads).
 */
typedef struct FoilDconv {
    int64_t nin, nout;
    int64_t sh, sw, top, left;
    int64_t hp, wp, kh, kw, dh, dw;
    int64_t rows, cols;
    int64_t wo, wi, wky, wkx;
    int64_t nvec;    /* 16-float vectors covering rows * wp positions */
    int64_t ext;     /* reach of the taps beyond a position: (kh-1)*dh*wp + (kw-1)*dw */
    int64_t pad_fl;  /* floats of padded-source scratch (planes plus slack rows) */
} FoilDconv;

/* Fill in d (geometry as above). Returns 0, or -1 when a size overflows. */
int foilDconvSetup(FoilDconv *d, int64_t nin, int64_t nout, int64_t sh, int64_t sw, int64_t top, int64_t left,
                     int64_t rows, int64_t cols, int64_t kh, int64_t kw, int64_t dh, int64_t dw, int64_t wo,
                     int64_t wi, int64_t wky, int64_t wkx);

/* Pad what vectors [v0, v1) read, of every plane, from src (nin, sh, sw)
 * into pad (d->pad_fl floats). */
void foilDconvPad(const FoilDconv *d, const float *src, float *pad, int64_t v0, int64_t v1);

/* Output planes [o0, o1), vectors [v0, v1) (padded by foilDconvPad for at
 * least that vector range) into out (nout, rows, cols): out = bias + sum
 * (bias may be NULL), or out += sum when accumulate. */
void foilDconvRun(const FoilDconv *d, const float *pad, const float *w, const float *bias, int64_t o0, int64_t o1,
                    int64_t v0, int64_t v1, float *out, int accumulate);

/*
 * Few-row products (any M; B is read once per 4 rows of A):
 *   foilGemvDot:  C[m, n]  = sum_{k < K} A[m, k] * B[n, k]      n in [n0, n1)
 *   foilGemvAxpy: C[m, n] (+)= sum_{k0 <= k < k1} A[m, k] * B[k, n]   n in [n0, n1)
 * Row-major with leading dimensions lda, ldb, ldc. axpy adds to C when
 * accumulate, else writes bias[m] + the sum (bias may be NULL).
 */
void foilGemvDot(int64_t M, int64_t n0, int64_t n1, int64_t K, const float *A, int64_t lda, const float *B,
                   int64_t ldb, float *C, int64_t ldc);
void foilGemvAxpy(int64_t M, int64_t n0, int64_t n1, int64_t k0, int64_t k1, const float *A, int64_t lda,
                    const float *B, int64_t ldb, float *C, int64_t ldc, const float *bias, int accumulate);



/*
 * Winograd F(m x m, 3x3), m = 2 or 4: the same correlation as FoilDconv for
 * 3x3 kernels without dilation, in 2.25x (m = 2) or 4x (m = 4) fewer
 * multiplies. The output planes are cut into m x m tiles (th x tw of them,
 * ntile in all; a tile may hang over the bottom/right edge, its extra outputs
 * dropped); tile T = (ty, tx) reads the a x a window (a = m + 2) of padded
 * rows m ty.., columns m tx.. (padded planes of (m th + 2) x (m tw + 2), the
 * source at (top, left)). Per tile and channel pair, with d the window and g
 * the 3x3 kernel,
 *   out tile = A^T [ (G g G^T) .* (B^T d B) ] A
 * (Lavin & Gray 2015), so per transformed position xi (npos = a^2 of them)
 *   Mx[xi, T, o] = sum_i U[xi, i, o] * V[xi, T, i]:
 * npos products of (tiles x nin) by (nin x nout), with output channels in
 * the vector lanes (channel counts padded to multiples of 16, padding zero).
 * F(4x4, 3x3)'s transforms have entries up to 8 and 5, so it rounds more:
 * on test_kernels' 256-channel sum its largest error is 8.6e-6 of the
 * largest output, F(2x2)'s 4.8e-7.
 * Data is held channel-last: the source is transposed into padded HWC rows,
 * and the result transposed back into (nout, rows, cols). Tiles go through
 * in blocks (up to 96), each transformed position's weights read once a
 * block; where a sample has few tiles, a run may take several samples
 * (group, up to WINO_MAX_GROUP: a 7x7 plane is 4 tiles of 4x4) so that its
 * blocks are full.
 */
#define WINO_MAX_GROUP 24
typedef struct FoilWino {
    int64_t nin, nout, sh, sw, top, left, rows, cols;
    int64_t m, npos;          /* output tile side (2 or 4); transformed positions (m + 2)^2 */
    int64_t th, tw, ntile, hp, wp;
    int64_t cin_v, cout_v;    /* channel counts rounded up to 16 */
    int64_t wo, wi, wky, wkx; /* weight (o, i, ky, kx) as in FoilDconv */
    size_t u_fl;              /* floats of transformed weights (npos * nin * cout_v) */
    int64_t group;            /* samples foilWinoRunSamples takes at most */
    size_t scratch_fl;        /* floats of per-thread scratch for any tile range, or group samples */
} FoilWino;

/* Returns 0, or -1 when a size overflows or m is not 2 or 4. max_group: the
 * most samples a run may take (1: foilWinoRun only). */
int foilWinoSetup(FoilWino *d, int64_t nin, int64_t nout, int64_t sh, int64_t sw, int64_t top, int64_t left,
                    int64_t rows, int64_t cols, int64_t wo, int64_t wi, int64_t wky, int64_t wkx, int64_t m,
                    int64_t max_group);

/* u (d->u_fl floats) = the transformed weights G g G^T of w. */
void foilWinoWeights(const FoilWino *d, const float *w, float *u);

/* Tiles [t0, t1), output channels [c0, c1) (multiples of 16; c1 is clipped
 * to cout_v) of one sample: out (=|+=) the correlation of src (nin, sh, sw)
 * (+ bias, when not accumulate; may be NULL), writing exactly those outputs.
 * scratch: d->scratch_fl floats of this thread's. */
void foilWinoRun(const FoilWino *d, const float *u, const float *src, const float *bias, int64_t t0, int64_t t1,
                   int64_t c0, int64_t c1, float *scratch, float *out, int accumulate);

/* All tiles and output channels of nsamples samples (at most d->group; more
 * are not done): sample s from src + s xs into out + s ys, as foilWinoRun
 * does each, in the same order of sums (the same values). */
void foilWinoRunSamples(const FoilWino *d, const float *u, const float *src, int64_t xs, int64_t nsamples,
                          const float *bias, float *scratch, float *out, int64_t ys, int accumulate);
#endif
