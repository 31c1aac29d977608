/*
 * tests/test_verify.c - the bound-propagation verifier (foil/verify.h):
 * IBP and CROWN bounds are sound and CROWN is never looser than IBP.
 *
 * Soundness: on randomly initialized nets of every op the verifier supports
 * (an MLP with input normalization, cnn-small and lenet5 on small images,
 * resnet-mini with batch norm and residual Adds, a net saved to ONNX and
 * loaded back) and on the trained cnn-small of the attack_models fixture,
 * for boxes x +- eps clipped to [0, 1]: the spec values C . logits at
 * uniform points of the box, at random corners, and at points that PGD
 * pushes up and down each row stay inside the IBP bounds, the CROWN bounds,
 * the bounds of CROWN alone (crown_only) and of CROWN on IBP's intermediate
 * bounds (ibp_intermediate). foil's float32 forward pass
 * rounds (foil/verify.h): a point may pass a bound by TOL relative to the
 * logits' size, never more.
 * Tightness: CROWN's bounds (the default, intersected with IBP) are never
 * looser than IBP's on any row; on a box of one point every bound is
 * within a hair of the logits; a purely affine net's IBP bounds are the
 * exact extremes (attained at corners).
 * Errors: an op the verifier does not support names the op and the node.
 *
 * FOIL_TEST_FILTER=name runs one test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "attack_fixture.h"
#include "foil/arch.h"
#include "foil/progress.h"
#include "foil/rng.h"
#include "foil/verify.h"
#include "model/model_internal.h"
#include "nn/builder.h"

#define TOL 2e-5
#define SAMPLES 64
#define PGD_STEPS 20

/* The sanitizer build (which attacks fewer fixture images, FOIL_ATTACK_EXAMPLES
 * < 1000) runs fewer boxes, to stay near the release build's time. */
static int sanitizer_build(void)
{
    const char *e = getenv("FOIL_ATTACK_EXAMPLES");
    return e && atoi(e) < 1000;
}

typedef struct SpecCtx {
    const float *coef;   /* per example: classes coefficients */
    int64_t classes;
} SpecCtx;

/* value = coef_i . logits_i */
static foil_status spec_fn(void *ctx, int64_t first, int64_t count, int64_t classes, const float *logits,
                           float *value, float *dvalue)
{
    const SpecCtx *s = ctx;
    for (int64_t i = 0; i < count; i++) {
        const float *c = s->coef + (first + i) * classes;
        double v = 0;
        for (int64_t j = 0; j < classes; j++) v += (double)c[j] * logits[i * classes + j], dvalue[i * classes + j] = c[j];
        if (value) value[i] = (float)v;
    }
    return FOIL_OK;
}

typedef struct Bounds {
    float *lb, *ub;
} Bounds;

/* Every point's spec values inside every method's bounds. */
static void check_points(foil_model *m, const foil_tensor *pts, const float *C, int64_t k, int64_t K,
                         const Bounds *b, int nb, const char *what)
{
    foil_tensor logits = {0};
    assert_int_equal(foil_model_predict(m, pts, &logits), FOIL_OK);
    const float *y = foil_f32(&logits);
    for (int64_t p = 0; p < pts->shape[0]; p++)
        for (int64_t r = 0; r < k; r++) {
            double v = 0, scale = 1;
            for (int64_t j = 0; j < K; j++) v += (double)C[r * K + j] * y[p * K + j], scale += fabs(y[p * K + j]);
            for (int i = 0; i < nb; i++) {
                double tol = TOL * scale;
                if (!(v >= b[i].lb[r] - tol && v <= b[i].ub[r] + tol)) {
                    fprintf(stderr, "%s: point %lld, row %lld: value %.9g outside bounds %d [%.9g, %.9g]\n", what,
                            (long long)p, (long long)r, v, i, (double)b[i].lb[r], (double)b[i].ub[r]);
                    fail();
                }
            }
        }
    foil_tensor_free(&logits);
}

/* PGD (sign steps, projected on the box) pushing each row up and down. */
static void pgd_points(foil_model *m, const float *lo, const float *hi, int64_t f, const float *C, int64_t k,
                       int64_t K, float eps, foil_tensor *pts)
{
    const int64_t n = 2 * k;
    int64_t shape[FOIL_MAX_DIMS];
    memcpy(shape, pts->shape, sizeof shape);
    float *coef = malloc((size_t)(n * K) * sizeof *coef);
    assert_non_null(coef);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < K; j++) coef[i * K + j] = (i % 2 ? -1.0f : 1.0f) * C[(i / 2) * K + j];
    float *x = foil_f32(pts);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < f; j++) x[i * f + j] = 0.5f * (lo[j] + hi[j]);
    SpecCtx ctx = {coef, K};
    foil_tensor grad = {0};
    float step = eps > 0 ? eps / 4 : 0;
    for (int s = 0; s < PGD_STEPS && step > 0; s++) {
        assert_int_equal(foil_model_input_grad(m, pts, spec_fn, &ctx, NULL, NULL, &grad), FOIL_OK);
        const float *g = foil_f32(&grad);
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < f; j++) {
                float v = x[i * f + j] + (g[i * f + j] > 0 ? step : g[i * f + j] < 0 ? -step : 0);
                x[i * f + j] = v < lo[j] ? lo[j] : v > hi[j] ? hi[j] : v;
            }
        if (s == PGD_STEPS / 2) step /= 4;
    }
    foil_tensor_free(&grad);
    free(coef);
}

typedef struct Stats {
    double ibp_width, crown_width;
    int64_t rows;
    int64_t only_looser;  /* rows where CROWN alone is looser than IBP on a side */
} Stats;

/* The whole check on one example x (f features, one example's shape
 * ex_shape) at radius eps, for the spec C (k x K). */
static void check_box(foil_model *m, foil_verifier *v, const float *x, int rank, const int64_t *ex_shape, float eps,
                      const float *C, int64_t k, uint64_t seed, Stats *stats, const char *what)
{
    const int64_t f = foil_verify_input_size(v), K = foil_verify_classes(v);
    float *lo = malloc((size_t)f * sizeof *lo), *hi = malloc((size_t)f * sizeof *hi);
    float *lower = malloc((size_t)f * sizeof *lower), *upper = malloc((size_t)f * sizeof *upper);
    Bounds b[4];
    for (int i = 0; i < 4; i++) {
        b[i].lb = malloc((size_t)k * sizeof(float));
        b[i].ub = malloc((size_t)k * sizeof(float));
    }
    for (int64_t j = 0; j < f; j++) lower[j] = 0, upper[j] = 1;
    foil_bounds_linf_box(1, f, x, eps, lower, upper, lo, hi);
    foil_bounds_options o[4] = {{.method = FOIL_BOUNDS_IBP}, {.method = FOIL_BOUNDS_CROWN},
                                {.method = FOIL_BOUNDS_CROWN, .crown_only = 1},
                                {.method = FOIL_BOUNDS_CROWN, .ibp_intermediate = 1}};
    for (int i = 0; i < 4; i++) {
        if (foil_bounds_compute(v, &o[i], 1, lo, hi, C, k, b[i].lb, b[i].ub) != FOIL_OK)
            fprintf(stderr, "%s\n", foil_last_error()), fail();
        for (int64_t r = 0; r < k; r++) assert_true(b[i].lb[r] <= b[i].ub[r]);
    }
    /* CROWN (intersected) never looser than IBP */
    for (int64_t r = 0; r < k; r++) {
        if (!(b[1].lb[r] >= b[0].lb[r] && b[1].ub[r] <= b[0].ub[r])) {
            fprintf(stderr, "%s: row %lld: CROWN [%.9g, %.9g] looser than IBP [%.9g, %.9g]\n", what, (long long)r,
                    (double)b[1].lb[r], (double)b[1].ub[r], (double)b[0].lb[r], (double)b[0].ub[r]);
            fail();
        }
        if (stats) {
            stats->only_looser += b[2].lb[r] < b[0].lb[r] || b[2].ub[r] > b[0].ub[r];
            stats->ibp_width += b[0].ub[r] - b[0].lb[r];
            stats->crown_width += b[1].ub[r] - b[1].lb[r];
            stats->rows++;
        }
    }
    /* points: uniform, corners, and PGD's */
    int64_t shape[FOIL_MAX_DIMS] = {SAMPLES};
    for (int d = 0; d < rank; d++) shape[d + 1] = ex_shape[d];
    foil_tensor pts = {0};
    assert_int_equal(foil_tensor_alloc(&pts, FOIL_F32, rank + 1, shape), FOIL_OK);
    foil_rng rng = foil_rng_make(seed, 7);
    float *p = foil_f32(&pts);
    for (int64_t s = 0; s < SAMPLES; s++)
        for (int64_t j = 0; j < f; j++) {
            float u = foil_rng_uniform(&rng);
            p[s * f + j] = s % 2 ? (u < 0.5f ? lo[j] : hi[j]) : lo[j] + u * (hi[j] - lo[j]);
            if (p[s * f + j] > hi[j]) p[s * f + j] = hi[j];
        }
    check_points(m, &pts, C, k, K, b, 4, what);
    foil_tensor_free(&pts);
    shape[0] = 2 * k;
    assert_int_equal(foil_tensor_alloc(&pts, FOIL_F32, rank + 1, shape), FOIL_OK);
    pgd_points(m, lo, hi, f, C, k, K, eps, &pts);
    check_points(m, &pts, C, k, K, b, 4, what);
    foil_tensor_free(&pts);
    for (int i = 0; i < 4; i++) free(b[i].lb), free(b[i].ub);
    free(lo), free(hi), free(lower), free(upper);
}

static foil_model *build(const char *name, int rank, int64_t d0, int64_t d1, int64_t d2, int64_t classes,
                         uint64_t seed, const float *mean, const float *std)
{
    foil_arch_spec s;
    memset(&s, 0, sizeof s);
    s.name = name;
    s.input_rank = rank;
    s.input_shape[0] = d0, s.input_shape[1] = d1, s.input_shape[2] = d2;
    s.classes = classes;
    s.seed = seed;
    s.mean = mean, s.std = std;
    static const int64_t hidden[2] = {16, 12};
    if (strcmp(name, "mlp") == 0) s.hidden = hidden, s.n_hidden = 2;
    foil_model *m = NULL;
    if (foil_arch_build(&s, &m) != FOIL_OK) fprintf(stderr, "%s\n", foil_last_error()), fail();
    return m;
}

/* Random nets: every method's bounds hold at sampled and attacked points. */
static void check_random_net(foil_model *m, int rank, const int64_t *ex, uint64_t seed, const char *what)
{
    foil_verifier *v = NULL;
    if (foil_verify_new(m, rank, ex, &v) != FOIL_OK) fprintf(stderr, "%s\n", foil_last_error()), fail();
    const int64_t f = foil_verify_input_size(v), K = foil_verify_classes(v);
    float *x = malloc((size_t)f * sizeof *x), *C = malloc((size_t)(K * K) * sizeof *C);
    float *I = calloc((size_t)(K * K), sizeof *I);
    for (int64_t j = 0; j < K; j++) I[j * K + j] = 1;
    foil_rng rng = foil_rng_make(seed, 1);
    Stats st = {0};
    for (int trial = sanitizer_build() ? 1 : 0; trial < 3; trial++) {
        for (int64_t j = 0; j < f; j++) x[j] = foil_rng_uniform(&rng);
        int64_t y = (int64_t)foil_rng_below(&rng, (uint64_t)K);
        float eps = trial == 0 ? 0.01f : trial == 1 ? 0.05f : 0.2f;
        foil_bounds_margin_spec(K, &y, 1, C);
        check_box(m, v, x, rank, ex, eps, C, K - 1, seed + trial, &st, what);
        /* the identity spec: bounds of the logits themselves */
        check_box(m, v, x, rank, ex, eps, I, K, seed + 10 + trial, NULL, what);
    }
    printf("  %-28s mean width over %lld margins: IBP %.4g, CROWN %.4g; CROWN alone looser than IBP on %lld\n",
           what, (long long)st.rows, st.ibp_width / (double)st.rows, st.crown_width / (double)st.rows,
           (long long)st.only_looser);
    free(x), free(C), free(I);
    foil_verify_free(v);
}

static void test_random_mlp(void **state)
{
    (void)state;
    float mean[20], std[20];
    for (int i = 0; i < 20; i++) mean[i] = 0.1f * (float)(i % 5), std[i] = 0.3f + 0.05f * (float)(i % 3);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        foil_model *m = build("mlp", 2, 20, 0, 0, 4, seed, seed == 2 ? mean : NULL, seed == 2 ? std : NULL);
        check_random_net(m, 1, (int64_t[]){20}, seed, seed == 2 ? "mlp (normalized)" : "mlp");
        foil_model_free(m);
    }
}

static void test_random_cnn(void **state)
{
    (void)state;
    foil_model *m = build("cnn-small", 4, 1, 8, 8, 5, 11, NULL, NULL);
    check_random_net(m, 3, (int64_t[]){1, 8, 8}, 11, "cnn-small 1x8x8");
    foil_model_free(m);
    m = build("lenet5", 4, 2, 12, 12, 3, 12, NULL, NULL);
    check_random_net(m, 3, (int64_t[]){2, 12, 12}, 12, "lenet5 2x12x12");
    foil_model_free(m);
}

static void test_random_resnet(void **state)
{
    (void)state;
    foil_model *m = build("resnet-mini", 4, 1, 4, 4, 3, 21, NULL, NULL);
    check_random_net(m, 3, (int64_t[]){1, 4, 4}, 21, "resnet-mini 1x4x4");
    foil_model_free(m);
}

/* Through an ONNX file: saved, loaded back, bounded. */
static void test_onnx_file(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "/tmp/foil-test-verify-%ld.onnx", (long)getpid());
    float mean[36], std[36];
    for (int i = 0; i < 36; i++) mean[i] = 0.5f, std[i] = 0.25f + 0.01f * (float)(i % 4);
    foil_model *m = build("cnn-small", 4, 1, 6, 6, 4, 31, mean, std);
    assert_int_equal(foil_model_save(m, path), FOIL_OK);
    foil_model_free(m);
    assert_int_equal(foil_model_load(path, &m), FOIL_OK);
    unlink(path);
    check_random_net(m, 3, (int64_t[]){1, 6, 6}, 31, "cnn-small from ONNX");
    foil_model_free(m);
}

/* A box of one point: bounds hug the logits. An affine net: IBP's bounds
 * are the exact extremes, attained at a corner. */
static void test_tightness(void **state)
{
    (void)state;
    FoilBuilder b;
    assert_int_equal(foilBuilderBegin(&b, "affine", 13), FOIL_OK);
    float w[3 * 5], bias[3];
    foil_rng rng = foil_rng_make(5, 0);
    for (int i = 0; i < 15; i++) w[i] = foil_rng_uniform(&rng) * 2 - 1;
    for (int i = 0; i < 3; i++) bias[i] = foil_rng_uniform(&rng) - 0.5f;
    int x = foilBuilderInput(&b, "x", FOIL_F32, 2, (int64_t[]){-1, 5}, NULL);
    int wv = foilBuilderParam(&b, "w", 2, (int64_t[]){3, 5}, w);
    int bv = foilBuilderParam(&b, "b", 1, (int64_t[]){3}, bias);
    int y = foilBuilderOp(&b, "Gemm", "fc", FOIL_B_IN(x, wv, bv), FOIL_B_ATTRS(FOIL_BATTR_INT("transB", 1)));
    foilBuilderOutput(&b, y, FOIL_F32, 2, (int64_t[]){-1, 3}, NULL);
    FoilGraph *g;
    assert_int_equal(foilBuilderFinish(&b, &g), FOIL_OK);
    foil_model *m;
    assert_int_equal(foilModelFromGraph(g, &m), FOIL_OK);
    foil_verifier *v;
    assert_int_equal(foil_verify_new(m, 1, (int64_t[]){5}, &v), FOIL_OK);
    float xv[5], lo[5], hi[5], lb[3], ub[3];
    for (int j = 0; j < 5; j++) xv[j] = foil_rng_uniform(&rng);
    foil_bounds_options o = {.method = FOIL_BOUNDS_CROWN};
    /* one point */
    assert_int_equal(foil_bounds_compute(v, &o, 1, xv, xv, NULL, 3, lb, ub), FOIL_OK);
    for (int r = 0; r < 3; r++) {
        double e = bias[r];
        for (int j = 0; j < 5; j++) e += (double)w[r * 5 + j] * xv[j];
        assert_true(lb[r] <= e && e <= ub[r]);
        assert_true(ub[r] - lb[r] <= 1e-6 * (1 + fabs(e)));
    }
    /* exact extremes */
    foil_bounds_linf_box(1, 5, xv, 0.3f, NULL, NULL, lo, hi);
    o.method = FOIL_BOUNDS_IBP;
    assert_int_equal(foil_bounds_compute(v, &o, 1, lo, hi, NULL, 3, lb, ub), FOIL_OK);
    for (int r = 0; r < 3; r++) {
        double emin = bias[r], emax = bias[r];
        for (int j = 0; j < 5; j++) {
            double a = (double)w[r * 5 + j] * lo[j], c = (double)w[r * 5 + j] * hi[j];
            emin += a < c ? a : c, emax += a < c ? c : a;
        }
        assert_true(lb[r] <= emin && emax <= ub[r]);
        assert_true(emin - lb[r] <= 1e-6 && ub[r] - emax <= 1e-6);
    }
    foil_verify_free(v);
    foil_model_free(m);
}

/* An op the verifier cannot bound: an error naming it and its node. */
static void test_unsupported(void **state)
{
    (void)state;
    FoilBuilder b;
    assert_int_equal(foilBuilderBegin(&b, "softmax-net", 13), FOIL_OK);
    float w[4 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    int x = foilBuilderInput(&b, "x", FOIL_F32, 2, (int64_t[]){-1, 3}, NULL);
    int wv = foilBuilderParam(&b, "w", 2, (int64_t[]){4, 3}, w);
    int y = foilBuilderOp(&b, "Gemm", "fc", FOIL_B_IN(x, wv), FOIL_B_ATTRS(FOIL_BATTR_INT("transB", 1)));
    int s = foilBuilderOp(&b, "Tanh", "squash", FOIL_B_IN(y), FOIL_B_NO_ATTRS);
    foilBuilderOutput(&b, s, FOIL_F32, 2, (int64_t[]){-1, 4}, NULL);
    FoilGraph *g;
    assert_int_equal(foilBuilderFinish(&b, &g), FOIL_OK);
    foil_model *m;
    assert_int_equal(foilModelFromGraph(g, &m), FOIL_OK);
    foil_verifier *v = NULL;
    assert_int_equal(foil_verify_new(m, 1, (int64_t[]){3}, &v), FOIL_ERR_UNSUPPORTED);
    assert_null(v);
    const char *msg = foil_last_error();
    assert_non_null(strstr(msg, "'squash'"));
    assert_non_null(strstr(msg, "Tanh"));
    foil_model_free(m);
}

/* The trained cnn-small: sound and CROWN at least as tight, and timed. */
static void test_trained_cnn(void **state)
{
    (void)state;
    attack_fixture f;
    int rc = attack_fixture_load(&f, 0);
    if (rc == 77) skip();
    assert_int_equal(rc, 0);
    const int64_t ex[3] = {1, 28, 28};
    foil_verifier *v;
    if (foil_verify_new(f.model, 3, ex, &v) != FOIL_OK) fprintf(stderr, "%s\n", foil_last_error()), fail();
    const int64_t f_in = foil_verify_input_size(v), K = foil_verify_classes(v);
    float *C = malloc((size_t)((K - 1) * K) * sizeof *C);
    Stats st = {0};
    const int n = sanitizer_build() ? 1 : 2;
    for (int i = 0; i < n; i++) {
        const float *x = foil_f32(&f.data.x) + i * f_in;
        foil_bounds_margin_spec(K, foil_i64(&f.data.y) + i, 1, C);
        check_box(f.model, v, x, 3, ex, i ? 0.01f : 0.004f, C, K - 1, 100 + (uint64_t)i, &st, "trained cnn-small");
    }
    printf("  trained cnn-small, mean width over %lld margins: IBP %.4g, CROWN %.4g; CROWN alone looser than IBP on "
           "%lld\n",
           (long long)st.rows, st.ibp_width / (double)st.rows, st.crown_width / (double)st.rows,
           (long long)st.only_looser);
    /* timing, one example per method */
    float *lo = malloc((size_t)f_in * sizeof *lo), *hi = malloc((size_t)f_in * sizeof *hi);
    float lb[16], ub[16];
    foil_bounds_linf_box(1, f_in, foil_f32(&f.data.x), 0.01f, NULL, NULL, lo, hi);
    for (int meth = 0; meth < 2; meth++) {
        foil_bounds_options o = {.method = meth ? FOIL_BOUNDS_CROWN : FOIL_BOUNDS_IBP};
        double t0 = foil_now();
        assert_int_equal(foil_bounds_compute(v, &o, 1, lo, hi, C, K - 1, lb, ub), FOIL_OK);
        printf("  %s on one cnn-small example: %.3f s\n", meth ? "CROWN" : "IBP", foil_now() - t0);
    }
    free(lo), free(hi), free(C);
    foil_verify_free(v);
    attack_fixture_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tightness),     cmocka_unit_test(test_unsupported), cmocka_unit_test(test_random_mlp),
        cmocka_unit_test(test_random_cnn),    cmocka_unit_test(test_onnx_file),   cmocka_unit_test(test_random_resnet),
        cmocka_unit_test(test_trained_cnn),
    };
    if (getenv("FOIL_TEST_FILTER")) cmocka_set_test_filter(getenv("FOIL_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
