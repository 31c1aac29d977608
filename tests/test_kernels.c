/*
 * tests/test_kernels.c - the small-problem kernels of src/nn/ops/kernels.c
 * against naive double-precision loops written here: the direct correlation
 * (every tile shape and tail, padding, cropping, dilation, flipped weight
 * strides, bias, accumulation), Winograd F(2x2, 3x3) (odd sizes, partial
 * tiles, channel counts off the vector width) and the few-row products (dot
 * and axpy forms, every row count and column tail). Each is also run split
 * into arbitrary ranges, as threads split them: the result must be bitwise
 * the same as one call over everything.
 *
 * Built once per kernel set (tests/CMakeLists.txt): compiled for the
 * baseline, with nn/ops/kset_names.h naming the set's kernels, so
 * test_kernels_avx512 calls the AVX-512 code and skips on a CPU without it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foil/cpu.h"
#include "foil/rng.h"
#include "nn/ops/kernels.h"

static float *randn(int64_t n, uint64_t seed)
{
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    foil_rng r = foil_rng_make(seed, 0);
    for (int64_t i = 0; i < n; i++) p[i] = (float)foil_rng_normal(&r);
    return p;
}

/* Scratch with a guard zone after it: writes past the kernel's stated size
 * show up as changed guard values (ASan catches them too). */
static float *scratch(size_t n)
{
    float *p = malloc((n + 64) * sizeof *p);
    for (size_t i = 0; i < n + 64; i++) p[i] = (float)i; /* stale, nonzero contents */
    return p;
}

static void check_guard(const float *p, size_t n)
{
    for (size_t i = n; i < n + 64; i++) assert_true(p[i] == (float)i);
}

/* ---- direct correlation ----------------------------------------------------- */

typedef struct dcase {
    int64_t nin, nout, sh, sw, top, left, rows, cols, kh, kw, dh, dw;
    int flip; /* weights read as Conv's input gradient reads them */
} dcase;

/* W(o, i, ky, kx) of a (nout, nin, kh, kw) array, or of a (nin, nout, kh, kw)
 * one read transposed and flipped. */
static void weight_strides(const dcase *c, int64_t *base, int64_t *wo, int64_t *wi, int64_t *wky, int64_t *wkx)
{
    if (!c->flip) {
        *base = 0, *wo = c->nin * c->kh * c->kw, *wi = c->kh * c->kw, *wky = c->kw, *wkx = 1;
    } else {
        *base = (c->kh - 1) * c->kw + c->kw - 1;
        *wo = c->kh * c->kw, *wi = c->nout * c->kh * c->kw, *wky = -c->kw, *wkx = -1;
    }
}

static void ref_corr(const dcase *c, const float *src, const float *w, const float *bias, double *out)
{
    int64_t base, wo, wi, wky, wkx;
    weight_strides(c, &base, &wo, &wi, &wky, &wkx);
    for (int64_t o = 0; o < c->nout; o++)
        for (int64_t r = 0; r < c->rows; r++)
            for (int64_t q = 0; q < c->cols; q++) {
                double s = bias ? bias[o] : 0.0;
                for (int64_t i = 0; i < c->nin; i++)
                    for (int64_t ky = 0; ky < c->kh; ky++)
                        for (int64_t kx = 0; kx < c->kw; kx++) {
                            int64_t sr = r + ky * c->dh - c->top, sc = q + kx * c->dw - c->left;
                            if (sr < 0 || sr >= c->sh || sc < 0 || sc >= c->sw) continue;
                            s += (double)w[base + o * wo + i * wi + ky * wky + kx * wkx] *
                                 src[(i * c->sh + sr) * c->sw + sc];
                        }
                out[(o * c->rows + r) * c->cols + q] = s;
            }
}

static void run_dcase(const dcase *c)
{
    FoilDconv d;
    int64_t base, wo, wi, wky, wkx;
    weight_strides(c, &base, &wo, &wi, &wky, &wkx);
    assert_int_equal(foilDconvSetup(&d, c->nin, c->nout, c->sh, c->sw, c->top, c->left, c->rows, c->cols, c->kh,
                                      c->kw, c->dh, c->dw, wo, wi, wky, wkx),
                     0);
    int64_t ny = c->nout * c->rows * c->cols;
    float *src = randn(c->nin * c->sh * c->sw, 1), *w = randn(c->nout * c->nin * c->kh * c->kw, 2);
    float *bias = randn(c->nout, 3), *init = randn(ny, 4);
    double *ref = malloc((size_t)ny * sizeof *ref);
    float *pad = scratch((size_t)d.pad_fl), *y = malloc((size_t)ny * sizeof *y), *y2 = malloc((size_t)ny * sizeof *y2);
    for (int mode = 0; mode < 3; mode++) { /* 0: bias, 1: no bias, 2: accumulate */
        const float *b = mode == 0 ? bias : NULL;
        int acc = mode == 2;
        ref_corr(c, src, w, b, ref);
        if (acc)
            for (int64_t j = 0; j < ny; j++) ref[j] += init[j];
        memcpy(y, init, (size_t)ny * sizeof *y);
        foilDconvPad(&d, src, pad, 0, d.nvec);
        check_guard(pad, (size_t)d.pad_fl);
        foilDconvRun(&d, pad, w + base, b, 0, d.nout, 0, d.nvec, y, acc);
        double err = 0, mag = 1;
        for (int64_t j = 0; j < ny; j++) {
            err = fmax(err, fabs(y[j] - ref[j]));
            mag = fmax(mag, fabs(ref[j]));
        }
        if (err > 1e-5 * mag)
            fprintf(stderr, "dconv %lldx%lld->%lld mode %d: error %g\n", (long long)c->sh, (long long)c->sw,
                    (long long)c->nout, mode, err);
        assert_true(err <= 1e-5 * mag);
        /* split into output ranges x vector ranges, each padded on its own
         * into stale scratch, as threads do: bitwise equal */
        const int64_t osplit[3] = {0, c->nout / 3, c->nout}, vsplit[4] = {0, d.nvec / 4, d.nvec / 4 + 1, d.nvec};
        memcpy(y2, init, (size_t)ny * sizeof *y2);
        for (int a = 0; a < 2; a++)
            for (int v = 0; v < 3; v++) {
                int64_t v0 = vsplit[v], v1 = vsplit[v + 1] > d.nvec ? d.nvec : vsplit[v + 1];
                if (v0 >= v1 || osplit[a] >= osplit[a + 1]) continue;
                for (size_t k = 0; k < (size_t)d.pad_fl; k++) pad[k] = NAN; /* unpadded rows would poison */
                foilDconvPad(&d, src, pad, v0, v1);
                foilDconvRun(&d, pad, w + base, b, osplit[a], osplit[a + 1], v0, v1, y2, acc);
            }
        assert_memory_equal(y, y2, (size_t)ny * sizeof *y);
    }
    free(src), free(w), free(bias), free(init), free(ref), free(pad), free(y), free(y2);
}

static void test_dconv(void **state)
{
    (void)state;
    static const dcase cases[] = {
        /* nin nout sh sw top left rows cols kh kw dh dw flip */
        {32, 64, 14, 14, 1, 1, 14, 14, 3, 3, 1, 1, 0}, /* cnn-small conv2 */
        {64, 32, 14, 14, 1, 1, 14, 14, 3, 3, 1, 1, 1}, /* ... its input gradient */
        {1, 32, 28, 28, 1, 1, 28, 28, 3, 3, 1, 1, 0},  /* conv1 */
        {32, 1, 28, 28, 1, 1, 28, 28, 3, 3, 1, 1, 1},  /* ... its input gradient */
        {3, 13, 9, 11, 0, 2, 8, 12, 2, 3, 1, 1, 0},    /* every tile height: 8 + 4 + 1 (AVX-512) */
        {3, 10, 9, 11, 0, 2, 8, 12, 2, 3, 1, 1, 0},    /* every tile height: 6 + 3 + 1 (AVX2) */
        {5, 7, 5, 3, 2, 1, 7, 5, 3, 2, 2, 1, 1},       /* dilation, odd everything */
        {2, 9, 6, 40, 1, 0, 6, 37, 3, 4, 1, 1, 0},     /* wide rows: several vectors per row */
        {4, 12, 7, 7, -1, -2, 4, 3, 2, 2, 1, 1, 0},    /* source cropped at the top/left */
        {2, 3, 1, 1, 2, 2, 3, 3, 3, 3, 1, 1, 1},       /* 1x1 source, everything else padding */
        {6, 17, 1, 30, 0, 1, 1, 30, 1, 3, 1, 1, 0},    /* a 1-D convolution */
        {3, 20, 16, 16, 0, 0, 14, 14, 3, 3, 1, 1, 0},  /* unpadded: rows*wp a multiple of 16 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_dcase(&cases[i]);
}

/* ---- Winograd ------------------------------------------------------------------ */

/* f->group samples (and one more, which a run must leave alone) in one run
 * of foilWinoRunSamples: bitwise what foilWinoRun gives each. */
static void run_wgroup(const FoilWino *f, const dcase *c, const float *u, const float *b, int acc)
{
    const int64_t S = f->group, xs = c->nin * c->sh * c->sw, ys = c->nout * c->rows * c->cols;
    float *src = randn((S + 1) * xs, 11), *init = randn((S + 1) * ys, 12);
    float *y = malloc((size_t)((S + 1) * ys) * sizeof *y), *y2 = malloc((size_t)((S + 1) * ys) * sizeof *y2);
    float *scr = scratch(f->scratch_fl);
    memcpy(y, init, (size_t)((S + 1) * ys) * sizeof *y);
    memcpy(y2, init, (size_t)((S + 1) * ys) * sizeof *y2);
    for (int64_t s = 0; s < S; s++) foilWinoRun(f, u, src + s * xs, b, 0, f->ntile, 0, f->cout_v, scr, y + s * ys, acc);
    for (size_t j = 0; j < f->scratch_fl; j++) scr[j] = NAN;
    foilWinoRunSamples(f, u, src, xs, S + 1, b, scr, y2, ys, acc);
    check_guard(scr, f->scratch_fl);
    assert_memory_equal(y, y2, (size_t)((S + 1) * ys) * sizeof *y);
    free(src), free(init), free(y), free(y2), free(scr);
}

static void run_wcase(const dcase *c, int64_t m)
{
    FoilWino f;
    int64_t base, wo, wi, wky, wkx;
    weight_strides(c, &base, &wo, &wi, &wky, &wkx);
    assert_int_equal(c->kh, 3);
    assert_int_equal(foilWinoSetup(&f, c->nin, c->nout, c->sh, c->sw, c->top, c->left, c->rows, c->cols, wo, wi,
                                     wky, wkx, m, WINO_MAX_GROUP),
                     0);
    int64_t ny = c->nout * c->rows * c->cols;
    float *src = randn(c->nin * c->sh * c->sw, 5), *w = randn(c->nout * c->nin * 9, 6);
    float *bias = randn(c->nout, 7), *init = randn(ny, 8);
    double *ref = malloc((size_t)ny * sizeof *ref);
    float *u = scratch(f.u_fl), *scr = scratch(f.scratch_fl);
    float *y = malloc((size_t)ny * sizeof *y), *y2 = malloc((size_t)ny * sizeof *y2);
    foilWinoWeights(&f, w + base, u);
    check_guard(u, f.u_fl);
    for (int mode = 0; mode < 3; mode++) {
        const float *b = mode == 0 ? bias : NULL;
        int acc = mode == 2;
        ref_corr(c, src, w, b, ref);
        if (acc)
            for (int64_t j = 0; j < ny; j++) ref[j] += init[j];
        memcpy(y, init, (size_t)ny * sizeof *y);
        foilWinoRun(&f, u, src, b, 0, f.ntile, 0, f.cout_v, scr, y, acc);
        check_guard(scr, f.scratch_fl);
        double err = 0, mag = 1;
        for (int64_t j = 0; j < ny; j++) {
            err = fmax(err, fabs(y[j] - ref[j]));
            mag = fmax(mag, fabs(ref[j]));
        }
        if (err > 1e-5 * mag)
            fprintf(stderr, "wino F(%lld) %lldx%lld %lld->%lld mode %d: error %g\n", (long long)m, (long long)c->rows,
                    (long long)c->cols, (long long)c->nin, (long long)c->nout, mode, err);
        if (getenv("FOIL_TEST_WINO_ERR"))
            fprintf(stderr, "wino F(%lld) %lldx%lld %lld->%lld: max error %.3g of max |y| %.3g (%.3g)\n", (long long)m,
                    (long long)c->rows, (long long)c->cols, (long long)c->nin, (long long)c->nout, err, mag, err / mag);
        assert_true(err <= 1e-5 * mag);
        /* tile ranges split anywhere (mid tile row too), and output channels
         * in blocks of 16: bitwise equal */
        const int64_t cut[4] = {0, f.ntile / 3, f.ntile / 3 + 1, f.ntile};
        memcpy(y2, init, (size_t)ny * sizeof *y2);
        for (int k = 0; k < 3; k++)
            for (int64_t c = 0; c < f.cout_v; c += 16 * (1 + k % 2)) {
                for (size_t j = 0; j < f.scratch_fl; j++) scr[j] = NAN;
                foilWinoRun(&f, u, src, b, cut[k], cut[k + 1], c, c + 16 * (1 + k % 2), scr, y2, acc);
            }
        assert_memory_equal(y, y2, (size_t)ny * sizeof *y);
        run_wgroup(&f, c, u, b, acc);
    }
    free(src), free(w), free(bias), free(init), free(ref), free(u), free(scr), free(y), free(y2);
}

static void test_wino(void **state)
{
    (void)state;
    static const dcase cases[] = {
        {32, 64, 14, 14, 1, 1, 14, 14, 3, 3, 1, 1, 0}, /* cnn-small conv2 */
        {64, 32, 14, 14, 1, 1, 14, 14, 3, 3, 1, 1, 1}, /* ... its input gradient */
        {17, 35, 9, 30, 1, 1, 9, 30, 3, 3, 1, 1, 0},   /* channel tails, odd rows */
        {5, 3, 7, 5, 0, 0, 5, 3, 3, 3, 1, 1, 1},       /* unpadded, odd sizes, flipped */
        {16, 80, 6, 7, 2, 1, 8, 7, 3, 3, 1, 1, 0},     /* 4 + 1 output vectors */
        {3, 16, 1, 1, 1, 1, 1, 1, 3, 3, 1, 1, 0},      /* one output, one tile */
        {8, 20, 10, 9, -1, 0, 6, 7, 3, 3, 1, 1, 1},    /* cropped source */
        {33, 40, 4, 31, 1, 1, 4, 31, 3, 3, 1, 1, 0},   /* 2 x 16 tiles per row */
        {16, 24, 28, 28, 1, 1, 28, 28, 3, 3, 1, 1, 0}, /* 196 tiles: blocks of 98 */
        {24, 48, 7, 7, 1, 1, 7, 7, 3, 3, 1, 1, 0},     /* ResNet's 7x7 stage: 16 tiles (F(4x4): 4), 6 (24) samples a run */
        {64, 64, 56, 56, 1, 1, 56, 56, 3, 3, 1, 1, 0}, /* ResNet's 56x56 stage, F(4x4): 196 tiles */
        {256, 16, 9, 9, 1, 1, 9, 9, 3, 3, 1, 1, 1},    /* long sums; F(4x4): 3x3 tiles, 2 hanging over */
    };
    /* F(2x2, 3x3) and F(4x4, 3x3) on every case */
    for (int64_t m = 2; m <= 4; m += 2)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_wcase(&cases[i], m);
}

/* ---- few-row products ---------------------------------------------------------- */

static void test_gemv(void **state)
{
    (void)state;
    const int64_t Ms[] = {1, 2, 3, 4, 5, 7}, Ns[] = {1, 9, 37, 130, 1000}, Ks[] = {1, 15, 17, 100};
    for (size_t a = 0; a < 6; a++)
        for (size_t b = 0; b < 5; b++)
            for (size_t k = 0; k < 4; k++) {
                int64_t M = Ms[a], N = Ns[b], K = Ks[k], lda = K + 3, ldb = K + 1, ldc = N + 2;
                float *A = randn(M * lda, 10), *B = randn(N * ldb, 11), *C = randn(M * ldc, 12);
                float *C2 = malloc((size_t)(M * ldc) * sizeof *C2);
                /* dot form: C[m, n] = <A[m], B[n]>, columns split in two */
                memcpy(C2, C, (size_t)(M * ldc) * sizeof *C2);
                foilGemvDot(M, 0, N, K, A, lda, B, ldb, C, ldc);
                foilGemvDot(M, 0, N / 2, K, A, lda, B, ldb, C2, ldc);
                foilGemvDot(M, N / 2, N, K, A, lda, B, ldb, C2, ldc);
                assert_memory_equal(C, C2, (size_t)(M * ldc) * sizeof *C);
                for (int64_t m = 0; m < M; m++)
                    for (int64_t n = 0; n < N; n++) {
                        double s = 0;
                        for (int64_t j = 0; j < K; j++) s += (double)A[m * lda + j] * B[n * ldb + j];
                        assert_true(fabs(C[m * ldc + n] - s) <= 1e-5 * (1 + fabs(s)) * sqrt((double)K));
                    }
                free(B), free(C);
                /* axpy form: C[m, n] (+)= sum_k A[m, k] B[k, n], B (K, N) */
                int64_t ldb2 = N + 5;
                B = randn(K * ldb2, 13);
                C = randn(M * ldc, 14);
                float *C0 = malloc((size_t)(M * ldc) * sizeof *C0);
                memcpy(C0, C, (size_t)(M * ldc) * sizeof *C0);
                for (int acc = 0; acc < 3; acc++) {
                    memcpy(C, C0, (size_t)(M * ldc) * sizeof *C);
                    memcpy(C2, C0, (size_t)(M * ldc) * sizeof *C2);
                    /* acc 0: bias, 1: accumulate, 2: neither */
                    const float *bias = acc == 0 ? A + 1 : NULL;
                    foilGemvAxpy(M, 0, N, 0, K, A, lda, B, ldb2, C, ldc, bias, acc == 1);
                    foilGemvAxpy(M, 0, N / 3, 0, K, A, lda, B, ldb2, C2, ldc, bias, acc == 1);
                    foilGemvAxpy(M, N / 3, N, 0, K, A, lda, B, ldb2, C2, ldc, bias, acc == 1);
                    assert_memory_equal(C, C2, (size_t)(M * ldc) * sizeof *C);
                    for (int64_t m = 0; m < M; m++) {
                        for (int64_t n = 0; n < N; n++) {
                            double s = acc == 1 ? C0[m * ldc + n] : bias ? bias[m] : 0.0;
                            for (int64_t j = 0; j < K; j++) s += (double)A[m * lda + j] * B[j * ldb2 + n];
                            assert_true(fabs(C[m * ldc + n] - s) <= 1e-5 * (1 + fabs(s)) * sqrt((double)K));
                        }
                        /* columns past N (the leading-dimension gap) untouched */
                        for (int64_t n = N; n < ldc; n++) assert_true(C[m * ldc + n] == C0[m * ldc + n]);
                    }
                }
                /* a k range: rows [K/3, K) of B only, accumulated */
                memcpy(C, C0, (size_t)(M * ldc) * sizeof *C);
                foilGemvAxpy(M, 0, N, K / 3, K, A, lda, B, ldb2, C, ldc, NULL, 1);
                for (int64_t m = 0; m < M; m++)
                    for (int64_t n = 0; n < N; n++) {
                        double s = C0[m * ldc + n];
                        for (int64_t j = K / 3; j < K; j++) s += (double)A[m * lda + j] * B[j * ldb2 + n];
                        assert_true(fabs(C[m * ldc + n] - s) <= 1e-5 * (1 + fabs(s)) * sqrt((double)K));
                    }
                free(A), free(B), free(C), free(C2), free(C0);
            }
}

#define KSET_STRING_(x) #x
#define KSET_STRING(x) KSET_STRING_(x)

int main(void)
{
    /* Never call a set's code on a CPU that cannot run it: skip. */
    if (foil_cpu_use_kernels(KSET_STRING(FOIL_KSET_SUFFIX))) {
        fprintf(stderr, "skipped: %s\n", foil_last_error());
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dconv),
        cmocka_unit_test(test_wino),
        cmocka_unit_test(test_gemv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
