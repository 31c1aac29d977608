/*
 * tests/test_defenses.c - preprocessing defenses (foil/defense.h).
 *
 * Checks: median smoothing against scipy.ndimage.median_filter(mode=
 * "reflect"), the function ART's SpatialSmoothing calls (values computed
 * with scipy and written here); its exact backward against central
 * differences of the forward pass; Gaussian blur's backward likewise; the
 * --preprocess list parser's forms, order and refusals; `foil defend`'s
 * core: squeezing and blur written into an ONNX graph, saved and reloaded,
 * give the logits of the model wrapped in the same preprocessors; the
 * ensemble model's logits and gradients.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <unistd.h>

#include "foil/arch.h"
#include "foil/defense.h"
#include "foil/rng.h"

static void run_median(int64_t k, int64_t h, int64_t w, const float *x, float *y)
{
    foil_preprocessor p;
    assert_int_equal(foil_preprocessor_median(k, 1, h, w, &p), FOIL_OK);
    assert_int_equal(p.forward(p.ctx, x, y, 1, h * w, NULL), FOIL_OK);
    p.destroy(p.ctx);
}

static void test_median_matches_scipy(void **state)
{
    (void)state;
    const float x[16] = {5, 1, 7, 3, 2, 9, 4, 8, 6, 0, 3, 1, 7, 2, 8, 5};
    const float want[16] = {5, 5, 4, 4, 5, 4, 3, 3, 6, 4, 4, 5, 6, 6, 3, 5}; /* scipy, size 3, reflect */
    float y[16];
    run_median(3, 4, 4, x, y);
    assert_memory_equal(y, want, sizeof want);
    /* 5 x 5, window 5: every window reaches past two edges */
    float x5[25], y5[25];
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) x5[i * 5 + j] = (float)((4 - i) * 5 + j) * 0.1f;
    const float want5[25] = {1.6f, 1.7f, 1.8f, 1.9f, 1.9f, 1.6f, 1.6f, 1.7f, 1.8f, 1.8f, 1.1f, 1.1f, 1.2f,
                             1.3f, 1.3f, 0.6f, 0.6f, 0.7f, 0.8f, 0.8f, 0.5f, 0.5f, 0.6f, 0.7f, 0.8f};
    run_median(5, 5, 5, x5, y5);
    for (int i = 0; i < 25; i++) assert_true(fabsf(y5[i] - want5[i]) < 1e-6f);
}

/* The preprocessor's backward pass against central differences of
 * sum(g * forward(x)) at x (d values, one example). */
static void check_backward(const foil_preprocessor *p, float *x, int64_t d, float h, double tol, uint64_t seed)
{
    float g[512], dx[512], y[512];
    assert_true(d <= 512);
    foil_rng r = foil_rng_make(seed, 1);
    for (int64_t i = 0; i < d; i++) g[i] = (float)foil_rng_normal(&r);
    assert_int_equal(p->backward(p->ctx, x, g, dx, 1, d, NULL), FOIL_OK);
    for (int64_t i = 0; i < d; i++) {
        const float keep = x[i];
        double up = 0, down = 0;
        x[i] = keep + h;
        p->forward(p->ctx, x, y, 1, d, NULL);
        for (int64_t j = 0; j < d; j++) up += (double)g[j] * y[j];
        x[i] = keep - h;
        p->forward(p->ctx, x, y, 1, d, NULL);
        for (int64_t j = 0; j < d; j++) down += (double)g[j] * y[j];
        x[i] = keep;
        double numeric = (up - down) / (2.0 * h);
        if (fabs(numeric - dx[i]) > tol * (1 + fabs(numeric)))
            fail_msg("%s, value %lld: backward %.5f, central differences %.5f", p->name, (long long)i, dx[i], numeric);
    }
}

/* Distinct random values (no ties within a window, so the median's
 * position is stable under a small nudge): the backward pass must be the
 * derivative of sum(g * median(x)). */
static void test_median_backward(void **state)
{
    (void)state;
    enum { C = 2, H = 6, W = 5, D = C * H * W };
    foil_preprocessor p;
    assert_int_equal(foil_preprocessor_median(3, C, H, W, &p), FOIL_OK);
    float x[D];
    foil_rng r = foil_rng_make(4, 4);
    for (int i = 0; i < D; i++) x[i] = (float)i / D + 0.3f * foil_rng_uniform(&r);
    check_backward(&p, x, D, 1e-4f, 1e-2, 4);
    float wrong[D];
    assert_int_equal(p.forward(p.ctx, x, wrong, 1, D - 1, NULL), FOIL_ERR_SHAPE);
    p.destroy(p.ctx);
}

static void test_blur_backward(void **state)
{
    (void)state;
    enum { C = 2, H = 7, W = 6, D = C * H * W };
    foil_preprocessor p;
    assert_int_equal(foil_preprocessor_gaussian_blur(0.9f, C, H, W, &p), FOIL_OK);
    float x[D], y[D];
    foil_rng r = foil_rng_make(5, 5);
    for (int i = 0; i < D; i++) x[i] = foil_rng_uniform(&r);
    double sum_in = 0, sum_out = 0;
    assert_int_equal(p.forward(p.ctx, x, y, 1, D, NULL), FOIL_OK);
    for (int i = 0; i < D; i++) sum_in += x[i], sum_out += y[i];
    /* the weights sum to 1, but reflection counts some pixels twice: sums stay close, not equal */
    assert_true(fabs(sum_in - sum_out) < 0.2 * sum_in);
    check_backward(&p, x, D, 1e-2f, 1e-3, 5);
    p.destroy(p.ctx);
}

static foil_model *small_cnn_seeded(uint64_t seed);
static foil_model *small_cnn(void) { return small_cnn_seeded(8); }

static foil_model *small_cnn_seeded(uint64_t seed)
{
    foil_arch_spec s;
    memset(&s, 0, sizeof s);
    s.name = "cnn-small";
    s.input_rank = 4;
    s.input_shape[0] = 1, s.input_shape[1] = 12, s.input_shape[2] = 12;
    s.classes = 4;
    s.seed = seed;
    foil_model *m = NULL;
    if (foil_arch_build(&s, &m)) fail_msg("%s", foil_last_error());
    return m;
}

static void test_defend_writes_onnx(void **state)
{
    (void)state;
    const foil_input_desc in = {.is_image = 1, .c = 1, .h = 12, .w = 12, .lo = 0, .hi = 1};
    const char *list = "squeeze:bits=4,blur:sigma=0.8";
    foil_preprocessor a[4], b[4];
    int na, nb, first;
    assert_int_equal(foil_preprocessors_parse(list, &in, 1, a, 4, &na), FOIL_OK);
    assert_int_equal(foil_preprocessors_parse(list, &in, 1, b, 4, &nb), FOIL_OK);
    foil_model *written = small_cnn(), *wrapped = NULL, *reloaded = NULL;
    assert_int_equal(foil_model_prepend_preprocessors(written, a, na, &first), FOIL_OK);
    assert_int_equal(first, 0);
    char path[64];
    snprintf(path, sizeof path, "/tmp/foil-test-defend-%d.onnx", (int)getpid());
    assert_int_equal(foil_model_save(written, path), FOIL_OK);
    if (foil_model_load(path, &reloaded)) fail_msg("%s", foil_last_error());
    unlink(path);
    assert_int_equal(foil_model_defended(small_cnn(), b, nb, NULL, FOIL_GRADIENT_EXACT, &wrapped), FOIL_OK);
    foil_tensor x = {0}, la = {0}, lb = {0};
    assert_int_equal(foil_tensor_alloc(&x, FOIL_F32, 4, (const int64_t[]){20, 1, 12, 12}), FOIL_OK);
    foil_rng r = foil_rng_make(6, 6);
    for (int64_t i = 0; i < x.numel; i++) foil_f32(&x)[i] = foil_rng_uniform(&r);
    assert_int_equal(foil_model_predict(reloaded, &x, &la), FOIL_OK);
    assert_int_equal(foil_model_predict(wrapped, &x, &lb), FOIL_OK);
    double worst = 0;
    for (int64_t i = 0; i < la.numel; i++) worst = fmax(worst, fabs(foil_f32(&la)[i] - foil_f32(&lb)[i]));
    printf("  squeeze + blur in the graph vs wrapped: largest logit difference %.2e\n", worst);
    assert_true(worst < 1e-4);
    /* a median first: only the stages after it go in */
    foil_preprocessor c[4];
    int nc;
    assert_int_equal(foil_preprocessors_parse("blur:1,median:3,squeeze:bits=2", &in, 1, c, 4, &nc), FOIL_OK);
    foil_model *partial = small_cnn();
    assert_int_equal(foil_model_prepend_preprocessors(partial, c, nc, &first), FOIL_OK);
    assert_int_equal(first, 2);
    foil_preprocessors_free(c, nc);
    foil_preprocessors_free(a, na);
    foil_model_free(partial);
    foil_model_free(written);
    foil_model_free(reloaded);
    foil_model_free(wrapped);
    foil_tensor_free(&x);
    foil_tensor_free(&la);
    foil_tensor_free(&lb);
}

/* A logit function whose gradient is given (ctx: N x 4). */
static foil_status given_dvalue(void *ctx, int64_t first, int64_t count, int64_t classes, const float *logits,
                                float *value, float *dvalue)
{
    (void)logits, (void)value;
    memcpy(dvalue, (const float *)ctx + first * classes, (size_t)(count * classes) * sizeof *dvalue);
    return FOIL_OK;
}

static double mean_ce(foil_model *m, const foil_tensor *x, const int64_t *y)
{
    float loss[8];
    assert_int_equal(foil_model_loss_input_grad(m, x, y, loss, NULL, NULL), FOIL_OK);
    double sum = 0;
    for (int64_t i = 0; i < x->shape[0]; i++) sum += loss[i];
    return sum;
}

/* An ensemble's logits are its members' mean; its input gradient is that
 * of the loss at the mean logits (central differences along a random
 * direction); an ensemble of a model with its copy is that model. */
static void test_ensemble(void **state)
{
    (void)state;
    foil_model *members[2] = {small_cnn_seeded(1), small_cnn_seeded(2)}, *ens = NULL;
    foil_model *a = small_cnn_seeded(1), *b = small_cnn_seeded(2);
    assert_int_equal(foil_model_ensemble(members, 2, &ens), FOIL_OK);
    foil_tensor x = {0}, za = {0}, zb = {0}, ze = {0}, g = {0}, xp = {0};
    assert_int_equal(foil_tensor_alloc(&x, FOIL_F32, 4, (const int64_t[]){5, 1, 12, 12}), FOIL_OK);
    foil_rng r = foil_rng_make(7, 7);
    for (int64_t i = 0; i < x.numel; i++) foil_f32(&x)[i] = foil_rng_uniform(&r);
    const int64_t y[5] = {0, 1, 2, 3, 0};
    assert_int_equal(foil_model_predict(a, &x, &za), FOIL_OK);
    assert_int_equal(foil_model_predict(b, &x, &zb), FOIL_OK);
    assert_int_equal(foil_model_predict(ens, &x, &ze), FOIL_OK);
    for (int64_t i = 0; i < ze.numel; i++)
        assert_true(fabsf(foil_f32(&ze)[i] - 0.5f * (foil_f32(&za)[i] + foil_f32(&zb)[i])) < 1e-5f);
    assert_int_equal(foil_model_loss_input_grad(ens, &x, y, NULL, NULL, &g), FOIL_OK);
    assert_int_equal(foil_tensor_copy(&xp, &x), FOIL_OK);
    double analytic = 0;
    const float h = 1e-4f;
    float *v = malloc((size_t)x.numel * sizeof *v);
    assert_non_null(v);
    for (int64_t i = 0; i < x.numel; i++) v[i] = (float)foil_rng_normal(&r), analytic += (double)foil_f32(&g)[i] * v[i];
    for (int64_t i = 0; i < x.numel; i++) foil_f32(&xp)[i] = foil_f32(&x)[i] + h * v[i];
    double up = mean_ce(ens, &xp, y);
    for (int64_t i = 0; i < x.numel; i++) foil_f32(&xp)[i] = foil_f32(&x)[i] - h * v[i];
    double down = mean_ce(ens, &xp, y), numeric = (up - down) / (2.0 * h);
    printf("  ensemble gradient along a random direction: %.6f, central differences %.6f\n", analytic, numeric);
    /* central differences through ReLUs and max-pools are noisy: a loose
     * check here, an exact one of the chain rule below */
    assert_true(fabs(analytic - numeric) < 1e-2);
    free(v);
    /* d CE(mean z) / dx = sum_i J_i^T (softmax(mean z) - onehot) / 2, the
     * members' parts computed here through foil_model_input_grad */
    float dz[5 * 4];
    for (int i = 0; i < 5; i++) {
        const float *row = foil_f32(&ze) + i * 4;
        double max = row[0], sum = 0;
        for (int k = 1; k < 4; k++) max = fmax(max, row[k]);
        for (int k = 0; k < 4; k++) sum += exp(row[k] - max);
        for (int k = 0; k < 4; k++) dz[i * 4 + k] = (float)((exp(row[k] - max) / sum - (k == y[i])) / 2);
    }
    foil_tensor gsum = {0}, gi = {0};
    foil_model *parts[2] = {a, b};
    for (int m = 0; m < 2; m++) {
        assert_int_equal(foil_model_input_grad(parts[m], &x, given_dvalue, dz, NULL, NULL, &gi), FOIL_OK);
        if (m == 0) assert_int_equal(foil_tensor_copy(&gsum, &gi), FOIL_OK);
        else
            for (int64_t i = 0; i < gi.numel; i++) foil_f32(&gsum)[i] += foil_f32(&gi)[i];
    }
    for (int64_t i = 0; i < g.numel; i++) assert_true(fabsf(foil_f32(&g)[i] - foil_f32(&gsum)[i]) < 1e-6f);
    foil_tensor_free(&gsum);
    foil_tensor_free(&gi);
    foil_model_free(ens);
    /* a model and its copy: the ensemble is the model */
    foil_model *twins[2] = {small_cnn_seeded(1), small_cnn_seeded(1)};
    foil_tensor g1 = {0}, g2 = {0};
    assert_int_equal(foil_model_ensemble(twins, 2, &ens), FOIL_OK);
    assert_int_equal(foil_model_loss_input_grad(ens, &x, y, NULL, NULL, &g1), FOIL_OK);
    assert_int_equal(foil_model_loss_input_grad(a, &x, y, NULL, NULL, &g2), FOIL_OK);
    for (int64_t i = 0; i < g1.numel; i++) assert_true(fabsf(foil_f32(&g1)[i] - foil_f32(&g2)[i]) < 1e-6f);
    foil_model_free(ens);
    assert_int_equal(foil_model_ensemble(twins, 0, &ens), FOIL_ERR_ARG);
    foil_model_free(a);
    foil_model_free(b);
    foil_tensor *ts[] = {&x, &za, &zb, &ze, &g, &xp, &g1, &g2};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) foil_tensor_free(ts[i]);
}

static void test_preprocess_lists(void **state)
{
    (void)state;
    foil_input_desc image = {.is_image = 1, .c = 1, .h = 28, .w = 28, .lo = 0, .hi = 1};
    foil_preprocessor pre[8];
    int n;
    assert_int_equal(foil_preprocessors_parse("squeeze:bits=4,median:3", &image, 1, pre, 8, &n), FOIL_OK);
    assert_int_equal(n, 2);
    assert_string_equal(pre[0].name, "bit-depth(4)");
    assert_string_equal(pre[1].name, "median(3)");
    foil_preprocessors_free(pre, n);
    assert_int_equal(foil_preprocessors_parse("median,squeeze:5,noise:sigma=0.25,bit-depth=2,median:size=5", &image,
                                              1, pre, 8, &n), FOIL_OK);
    assert_int_equal(n, 5);
    assert_string_equal(pre[0].name, "median(3)");
    assert_string_equal(pre[1].name, "bit-depth(5)");
    assert_string_equal(pre[2].name, "gaussian-noise(0.25)");
    assert_true(pre[2].randomized && !pre[0].randomized);
    assert_string_equal(pre[4].name, "median(5)");
    foil_preprocessors_free(pre, n);

    const char *bad[] = {"",        "squeeze",         "squeeze:bits=x", "median:4", "median:2.5",
                         "noise",   "jpeg:101",        "squeeze:bits=17", "median:3,", "blur:sigma=-1",
                         "jpeg:q=5", "jpeg:7.5"};
    const char *why[] = {"empty",   "not one of", "not one of", "odd", "not one of", "not one of", "1 to 100",
                         "1 to 16", "",           "must be > 0", "not one of", "not one of"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        foil_status st = foil_preprocessors_parse(bad[k], &image, 1, pre, 8, &n);
        if (k == 8) { /* a trailing comma is an empty stage strtok skips: allowed */
            assert_int_equal(st, FOIL_OK);
            foil_preprocessors_free(pre, n);
            continue;
        }
        if (st != FOIL_ERR_ARG || !strstr(foil_last_error(), why[k]))
            fail_msg("'%s': status %d, message '%s'", bad[k], st, foil_last_error());
        assert_int_equal(n, 0);
    }
    foil_input_desc table = {.is_image = 0, .lo = 0, .hi = 1};
    assert_int_equal(foil_preprocessors_parse("median:3", &table, 1, pre, 8, &n), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "tabular"));
    assert_int_equal(foil_preprocessors_parse("median,median,median", &image, 1, pre, 2, &n), FOIL_ERR_ARG);
    assert_int_equal(n, 0);
}

/* JPEG round trips against ART's JpegCompression (which saves with PIL),
 * values computed with ART 1.20 and Pillow and written here: an 8 x 8 gray
 * image at quality 50 and a 3 x 8 x 8 RGB one at quality 75 (chroma
 * subsampled). Pillow bundles its own libjpeg-turbo; both use the same
 * tables and integer DCT, so at most one level of 255 may differ. */
static void check_jpeg(int c, int quality, const unsigned char *want)
{
    enum { H = 8, W = 8 };
    float x[3 * H * W], y[3 * H * W];
    for (int k = 0; k < c; k++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) x[(k * H + i) * W + j] = (float)((i * 37 + j * 91 + k * 50) % 256) / 255.0f;
    foil_preprocessor p;
    assert_int_equal(foil_preprocessor_jpeg(quality, c, H, W, 0.0f, 1.0f, &p), FOIL_OK);
    assert_int_equal(p.forward(p.ctx, x, y, 1, c * H * W, NULL), FOIL_OK);
    int exact = 0;
    for (int i = 0; i < c * H * W; i++) {
        long got = lrintf(y[i] * 255.0f);
        if (labs(got - want[i]) > 1) fail_msg("jpeg(%d), value %d: %ld, ART %d", quality, i, got, want[i]);
        exact += got == want[i];
    }
    assert_true(exact >= c * H * W * 9 / 10);
    assert_null(p.backward); /* no exact derivative: the plain attack gets none */
    p.destroy(p.ctx);
}

static void test_jpeg_matches_art(void **state)
{
    (void)state;
    static const unsigned char gray50[] = {
        0, 94, 191, 8, 118, 205, 22, 120, 52, 144, 204, 63, 128, 221, 93, 172, 63, 159, 0, 105, 191, 0, 117, 175,
        141, 175, 25, 151, 217, 59, 159, 237, 154, 218, 72, 182, 0, 137, 127, 35, 169, 52, 122, 183, 55, 98, 232, 41,
        229, 45, 166, 241, 41, 201, 0, 107, 9, 70, 181, 13, 126, 193, 41, 116,
    };
    static const unsigned char rgb75[] = {
        19, 124, 175, 47, 144, 181, 85, 153, 56, 140, 67, 77, 172, 115, 93, 181, 82, 165, 24, 100, 208, 55, 153, 231,
        119, 197, 67, 146, 70, 90, 184, 110, 185, 68, 110, 177, 38, 122, 194, 41, 209, 69, 135, 204, 58, 144, 49, 59,
        83, 112, 190, 81, 108, 162, 26, 102, 55, 131, 188, 65, 139, 177, 47, 134, 42, 146, 197, 67, 162, 198, 99, 167,
        86, 169, 90, 97, 189, 127, 96, 182, 126, 204, 51, 118, 222, 57, 136, 205, 159, 233, 92, 163, 83, 95, 174, 92,
        199, 82, 126, 192, 54, 140, 215, 63, 209, 71, 143, 219, 79, 172, 88, 101, 74, 108, 193, 95, 135, 196, 63, 139,
        43, 125, 189, 79, 168, 215, 82, 170, 60, 157, 194, 55, 148, 182, 86, 154, 94, 175, 96, 95, 171, 105, 85, 174,
        111, 203, 78, 138, 196, 20, 126, 208, 135, 223, 114, 181, 65, 65, 165, 92, 182, 67, 115, 187, 54, 140, 206, 50,
        201, 58, 122, 200, 74, 173, 87, 100, 79, 107, 182, 70, 94, 171, 82, 181, 53, 129, 183, 53, 110, 176, 110, 232,
    };
    check_jpeg(1, 50, gray50);
    check_jpeg(3, 75, rgb75);
    foil_preprocessor p;
    assert_int_equal(foil_preprocessor_jpeg(0, 1, 8, 8, 0, 1, &p), FOIL_ERR_ARG);
    assert_int_equal(foil_preprocessor_jpeg(75, 2, 8, 8, 0, 1, &p), FOIL_ERR_ARG);
}

/* Total-variation minimization: the solver starts at x, where the
 * objective is lambda * TV(x), and accepts only steps that lower it, so
 * the output's TV is below the input's (clipping, a 1-Lipschitz map per
 * pixel, cannot raise it); a flat image (TV 0, nothing to fit) comes back
 * as it went in; the pixel mask is drawn per query, so seeds decide it. */
static double total_variation(const float *z, int h, int w)
{
    double tv = 0;
    for (int i = 0; i + 1 < h; i++) {
        double s = 0;
        for (int j = 0; j < w; j++) s += pow(z[(i + 1) * w + j] - z[i * w + j], 2);
        tv += sqrt(s);
    }
    for (int j = 0; j + 1 < w; j++) {
        double s = 0;
        for (int i = 0; i < h; i++) s += pow(z[i * w + j + 1] - z[i * w + j], 2);
        tv += sqrt(s);
    }
    return tv;
}

static void test_tv_min(void **state)
{
    (void)state;
    enum { H = 12, W = 10, D = H * W };
    float x[2 * D], y[2 * D], y2[2 * D];
    foil_rng r = foil_rng_make(3, 0);
    for (int i = 0; i < D; i++) x[i] = x[D + i] = (float)foil_rng_uniform(&r);
    foil_preprocessor p;
    assert_int_equal(foil_preprocessor_tv_min(0.3f, 0.5f, 2, 10, 1, H, W, 0, 1, 7, &p), FOIL_OK);
    assert_true(p.randomized && !p.backward);
    uint64_t seeds[2] = {11, 12};
    assert_int_equal(p.forward(p.ctx, x, y, 2, D, seeds), FOIL_OK);
    double before = total_variation(x, H, W), after = total_variation(y, H, W);
    printf("  tv-min(0.5): TV %.3f -> %.3f\n", before, after);
    assert_true(after < 0.8 * before);
    for (int i = 0; i < D; i++) assert_true(y[i] >= 0 && y[i] <= 1);
    /* same seed, same mask, same output; another seed, another mask */
    assert_int_equal(p.forward(p.ctx, x, y2, 2, D, seeds), FOIL_OK);
    assert_memory_equal(y, y2, sizeof y);
    assert_memory_not_equal(y, y + D, D * sizeof(float));
    float flat[D], out[D];
    for (int i = 0; i < D; i++) flat[i] = 0.25f;
    assert_int_equal(p.forward(p.ctx, flat, out, 1, D, NULL), FOIL_OK);
    assert_memory_equal(flat, out, sizeof flat);
    assert_int_equal(p.forward(p.ctx, x, y, 1, D - 1, NULL), FOIL_ERR_SHAPE);
    p.destroy(p.ctx);
    assert_int_equal(foil_preprocessor_tv_min(0.0f, 0.5f, 2, 10, 1, H, W, 0, 1, 7, &p), FOIL_ERR_ARG);
    assert_int_equal(foil_preprocessor_tv_min(0.3f, 0.5f, 3, 10, 1, H, W, 0, 1, 7, &p), FOIL_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_median_matches_scipy),
        cmocka_unit_test(test_median_backward),
        cmocka_unit_test(test_blur_backward),
        cmocka_unit_test(test_preprocess_lists),
        cmocka_unit_test(test_defend_writes_onnx),
        cmocka_unit_test(test_ensemble),
        cmocka_unit_test(test_jpeg_matches_art),
        cmocka_unit_test(test_tv_min),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
