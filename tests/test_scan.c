/*
 * test_scan.c - foil/scan.h on features whose poison is known: a model that
 * passes D features through (a Gemm by the identity), three labels of
 * Gaussian points, and in label 0 a share of points moved along one
 * direction, as a backdoor's trigger feature moves them. Both scans must
 * find them, and clustering must leave the clean labels alone.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "foil/rng.h"
#include "foil/scan.h"
#include "model/model_internal.h"
#include "nn/builder.h"
#include "toy_data.h"

enum { D = 16, PER_LABEL = 600, LABELS = 3, POISON = 120, N = PER_LABEL * LABELS };

static foil_model *identity_model(void)
{
    static float eye[D * D], zero[D];
    for (int i = 0; i < D; i++) eye[i * D + i] = 1.0f;
    FoilBuilder b;
    assert_int_equal(foilBuilderBegin(&b, "identity", 13), FOIL_OK);
    int x = foilBuilderInput(&b, "x", FOIL_F32, 2, (int64_t[]){-1, D}, NULL);
    int w = foilBuilderParam(&b, "w", 2, (int64_t[]){D, D}, eye);
    int c = foilBuilderParam(&b, "c", 1, (int64_t[]){D}, zero);
    int v = foilBuilderOp(&b, "Gemm", "fc", FOIL_B_IN(x, w, c), FOIL_B_ATTRS(FOIL_BATTR_INT("transB", 1)));
    foilBuilderOutput(&b, v, FOIL_F32, 2, (int64_t[]){-1, D}, NULL);
    FoilGraph *g;
    assert_int_equal(foilBuilderFinish(&b, &g), FOIL_OK);
    foil_model *m;
    assert_int_equal(foilModelFromGraph(g, &m), FOIL_OK);
    return m;
}

/* The first n_poison examples of label 0 are poison: shifted by 6 along a
 * fixed unit direction (the same for every seed). */
static void make_features_seeded(foil_tensor *x, int64_t *y, uint8_t *poison, int n_poison, uint64_t seed)
{
    assert_int_equal(foil_tensor_alloc(x, FOIL_F32, 2, (int64_t[]){N, D}), FOIL_OK);
    foil_rng rng = foil_rng_make(11, 0), noise = foil_rng_make(seed, 1);
    double dir[D], norm = 0;
    for (int j = 0; j < D; j++) dir[j] = foil_rng_normal(&rng), norm += dir[j] * dir[j];
    for (int i = 0; i < N; i++) {
        y[i] = i / PER_LABEL;
        poison[i] = i < n_poison;
        for (int j = 0; j < D; j++)
            foil_f32(x)[i * D + j] = (float)(foil_rng_normal(seed == 11 ? &rng : &noise) +
                                             (poison[i] ? 6 * dir[j] / sqrt(norm) : 0));
    }
}

static void make_features(foil_tensor *x, int64_t *y, uint8_t *poison)
{
    make_features_seeded(x, y, poison, POISON, 11);
}

static void score(const foil_scan_result *r, const uint8_t *poison, int *tp, int *fp)
{
    *tp = *fp = 0;
    for (int i = 0; i < N; i++) *tp += r->flagged[i] && poison[i], *fp += r->flagged[i] && !poison[i];
}

static void test_scans_find_poison(void **state)
{
    (void)state;
    foil_model *m = identity_model();
    foil_tensor x;
    int64_t y[N];
    uint8_t poison[N];
    make_features(&x, y, poison);
    int tp, fp;

    /* spectral, eps 0.2 of each label: 1.5 * 0.2 * 600 = 180 flagged per label */
    foil_scan_options o = {.method = FOIL_SCAN_SPECTRAL, .eps = 0.2};
    foil_scan_result r;
    assert_int_equal(foil_scan_data(m, &x, y, LABELS, &o, &r), FOIL_OK);
    score(&r, poison, &tp, &fp);
    printf("  spectral: %d of %d poisoned found, %d clean flagged of %d\n", tp, POISON, fp, N - POISON);
    assert_int_equal(r.n_flagged, 3 * 180);
    assert_true(tp >= 0.95 * POISON);
    for (int i = 0; i < POISON; i++) assert_true(r.score[i] >= 0);
    foil_scan_result_free(&r);

    /* clustering: the 120 of 600 (20%) are the smaller cluster of label 0;
     * the clean labels split about evenly, so nothing there is flagged */
    o = (foil_scan_options){.method = FOIL_SCAN_CLUSTERING, .dims = 4, .seed = 3};
    assert_int_equal(foil_scan_data(m, &x, y, LABELS, &o, &r), FOIL_OK);
    score(&r, poison, &tp, &fp);
    printf("  clustering: %d of %d poisoned found, %d clean flagged\n", tp, POISON, fp);
    assert_true(tp >= 0.95 * POISON);
    assert_true(fp <= 0.05 * POISON);
    for (int i = PER_LABEL; i < N; i++) assert_false(r.flagged[i]);
    foil_scan_result_free(&r);

    /* bad options and labels */
    o = (foil_scan_options){.method = FOIL_SCAN_SPECTRAL, .eps = 0.9};
    assert_int_equal(foil_scan_data(m, &x, y, LABELS, &o, &r), FOIL_ERR_ARG);
    o.eps = 0.1;
    y[5] = LABELS;
    assert_int_equal(foil_scan_data(m, &x, y, LABELS, &o, &r), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "label 3 of example 5"));
    foil_tensor_free(&x);
    foil_model_free(m);
}

/* A poison that is most of its label (60% of label 0): the size rule takes
 * the smaller cluster, the clean one; a trusted clean reference (other
 * draws of the same labels, no poison) names the poisoned cluster, and
 * leaves the clean labels' two halves alone. */
static void test_clustering_trusted(void **state)
{
    (void)state;
    foil_model *m = identity_model();
    foil_tensor x, ref;
    int64_t y[N], ry[N];
    uint8_t poison[N], none[N];
    const int majority = PER_LABEL * 6 / 10;
    make_features_seeded(&x, y, poison, majority, 11);
    make_features_seeded(&ref, ry, none, 0, 12);
    ref.shape[0] = N / 3, ref.numel = N / 3 * D; /* 200 of each label: the first third of every label */
    for (int i = 0; i < N / 3; i++) {
        int from = (i % LABELS) * PER_LABEL + i / LABELS;
        memmove(foil_f32(&ref) + i * D, foil_f32(&ref) + from * D, D * sizeof(float));
        ry[i] = i % LABELS;
    }
    int tp, fp;
    foil_scan_options o = {.method = FOIL_SCAN_CLUSTERING, .dims = 4, .seed = 3};
    foil_scan_result r;
    assert_int_equal(foil_scan_data(m, &x, y, LABELS, &o, &r), FOIL_OK);
    score(&r, poison, &tp, &fp);
    printf("  size rule: %d of %d poisoned found, %d clean flagged\n", tp, majority, fp);
    assert_true(tp <= 0.05 * majority); /* it cannot see a majority */
    foil_scan_result_free(&r);
    o.trusted_x = &ref, o.trusted_y = ry;
    assert_int_equal(foil_scan_data(m, &x, y, LABELS, &o, &r), FOIL_OK);
    score(&r, poison, &tp, &fp);
    printf("  trusted reference: %d of %d poisoned found, %d clean flagged\n", tp, majority, fp);
    assert_true(tp >= 0.95 * majority);
    assert_true(fp <= 0.02 * majority);
    for (int i = PER_LABEL; i < N; i++) assert_false(r.flagged[i]);
    foil_scan_result_free(&r);
    ry[0] = LABELS;
    assert_int_equal(foil_scan_data(m, &x, y, LABELS, &o, &r), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "label 3 of trusted example 0"));
    foil_tensor_free(&x), foil_tensor_free(&ref);
    foil_model_free(m);
}

/* STRIP on a 2-class model whose logits are (100 x0, 0) on 4 features: a
 * "triggered" input (x0 = 1) keeps logit 50 or more in every blend (0
 * entropy), a clean one (x0 = 0) blended with clean images gives logits
 * (0, 0): exactly 1 bit. The blends of an input do not depend on the
 * batch it came in. */
static void test_strip_entropy(void **state)
{
    (void)state;
    static float w[2 * 4] = {100, 0, 0, 0, 0, 0, 0, 0}, c[2] = {0, 0};
    FoilBuilder b;
    assert_int_equal(foilBuilderBegin(&b, "trigger", 13), FOIL_OK);
    int x = foilBuilderInput(&b, "x", FOIL_F32, 2, (int64_t[]){-1, 4}, NULL);
    int wv = foilBuilderParam(&b, "w", 2, (int64_t[]){2, 4}, w), cv = foilBuilderParam(&b, "c", 1, (int64_t[]){2}, c);
    int v = foilBuilderOp(&b, "Gemm", "fc", FOIL_B_IN(x, wv, cv), FOIL_B_ATTRS(FOIL_BATTR_INT("transB", 1)));
    foilBuilderOutput(&b, v, FOIL_F32, 2, (int64_t[]){-1, 2}, NULL);
    FoilGraph *g;
    assert_int_equal(foilBuilderFinish(&b, &g), FOIL_OK);
    foil_model *m;
    assert_int_equal(foilModelFromGraph(g, &m), FOIL_OK);
    foil_tensor in, pool;
    assert_int_equal(foil_tensor_alloc(&in, FOIL_F32, 2, (int64_t[]){7, 4}), FOIL_OK);
    assert_int_equal(foil_tensor_alloc(&pool, FOIL_F32, 2, (int64_t[]){20, 4}), FOIL_OK);
    foil_rng rng = foil_rng_make(1, 0);
    for (int i = 0; i < 7 * 4; i++) foil_f32(&in)[i] = i % 4 == 0 ? (float)((i / 4) % 2) : foil_rng_uniform(&rng);
    for (int i = 0; i < 20 * 4; i++) foil_f32(&pool)[i] = i % 4 == 0 ? 0.0f : foil_rng_uniform(&rng);
    double h[7], h1[7];
    foil_strip_options o = {.overlays = 16, .batch = 7, .seed = 5};
    assert_int_equal(foil_strip_entropy(m, &in, &pool, &o, h), FOIL_OK);
    for (int i = 0; i < 7; i++) {
        if (i % 2) assert_true(h[i] < 1e-6);      /* triggered: the answer never moves */
        else assert_true(fabs(h[i] - 1) < 1e-9);  /* clean: a coin flip, 1 bit */
    }
    o.batch = 1;
    assert_int_equal(foil_strip_entropy(m, &in, &pool, &o, h1), FOIL_OK);
    assert_memory_equal(h, h1, sizeof h);
    o.alpha = 1.5;
    assert_int_equal(foil_strip_entropy(m, &in, &pool, &o, h1), FOIL_ERR_ARG);
    foil_tensor_free(&in), foil_tensor_free(&pool);
    foil_model_free(m);
}

/* Neural Cleanse on 1x6x6 images and 4 classes whose logits are 8 times
 * the mean of one quadrant each, the backdoored model adding 12 times the
 * corner pixel (5, 5) to class 0 (toy_quadrant_model): one pixel sends any
 * clean image (corner 0) to class 0, while every other class needs a
 * quadrant's worth of mask. The backdoored model's class 0 is flagged with
 * an anomaly index above 2; the clean one, with four alike classes, flags
 * none. */
static void test_neural_cleanse(void **state)
{
    (void)state;
    foil_tensor img;
    assert_int_equal(foil_tensor_alloc(&img, FOIL_F32, 4, (int64_t[]){64, 1, 6, 6}), FOIL_OK);
    foil_rng rng = foil_rng_make(2, 0);
    for (int i = 0; i < 64 * 36; i++) foil_f32(&img)[i] = i % 36 == 35 ? 0.0f : 0.4f * foil_rng_uniform(&rng);
    float lo[36], hi[36];
    for (int j = 0; j < 36; j++) lo[j] = 0, hi[j] = 1;
    foil_cleanse_options o = {.steps = 300, .batch = 16, .seed = 1, .quiet = 1};
    for (int backdoor = 1; backdoor >= 0; backdoor--) {
        foil_model *m = toy_quadrant_model(backdoor);
        foil_cleanse_result r;
        assert_int_equal(foil_neural_cleanse(m, &img, lo, hi, &o, &r), FOIL_OK);
        printf("  %s model: mask norms %.2f %.2f %.2f %.2f, anomaly of the smallest %.2f, flagged %lld\n",
               backdoor ? "backdoored" : "clean", r.norm[0], r.norm[1], r.norm[2], r.norm[3], r.flagged_anomaly,
               (long long)r.flagged);
        for (int k = 0; k < 4; k++) assert_true(isfinite(r.norm[k]) && r.success[k] >= 0.99);
        if (backdoor) {
            assert_int_equal(r.flagged, 0);
            assert_true(r.flagged_anomaly > 2);
            assert_true(r.norm[0] < 2); /* about the one corner pixel */
        } else {
            assert_int_equal(r.flagged, -1);
            assert_true(r.flagged_anomaly <= 2);
        }
        foil_cleanse_result_free(&r);
        foil_model_free(m);
    }
    foil_tensor_free(&img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_scans_find_poison), cmocka_unit_test(test_clustering_trusted),
                                       cmocka_unit_test(test_strip_entropy),
                                       cmocka_unit_test(test_neural_cleanse)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
