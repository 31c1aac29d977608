/*
 * tests/test_detect.c - detectors (foil/detect.h) and the detection
 * metrics of foil/eval.h.
 *
 * Checks: ROC AUC with ties against scikit-learn's roc_auc_score (value
 * computed with it and written here) and against a brute-force count on
 * random scores; the threshold at a false-positive rate never flags more
 * than that rate of its negatives, ties included; each detector's score
 * against its formula, computed here in double from the model's logits or
 * features; each score's input gradient against central differences
 * (feature squeezing with a Gaussian-blur squeezer, which is
 * differentiable, so its BPDA pass is the exact one); the penultimate
 * features of an MLP and the refusal of an unknown layer; Mahalanobis
 * means and precision against a direct computation.
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
#include "foil/detect.h"
#include "foil/eval.h"
#include "foil/rng.h"

static void test_roc_auc_matches_sklearn(void **state)
{
    (void)state;
    const float neg[] = {0.1f, 0.4f, 0.35f, 0.8f, 0.5f, 0.5f, 0.2f};
    const float pos[] = {0.9f, 0.5f, 0.35f, 0.7f, 0.95f};
    /* sklearn.metrics.roc_auc_score([0] * 7 + [1] * 5, neg + pos) */
    assert_true(fabs(foil_roc_auc(neg, 7, pos, 5) - 0.7857142857142858) < 1e-12);
    assert_true(fabs(foil_roc_auc(pos, 5, neg, 7) - (1 - 0.7857142857142858)) < 1e-12);
    assert_true(isnan(foil_roc_auc(neg, 0, pos, 5)));
    const float with_nan[] = {0.1f, NAN};
    assert_true(isnan(foil_roc_auc(with_nan, 2, pos, 5)));
}

/* The O(n log n) walk against counting every pair, on scores with many ties. */
static void test_roc_auc_brute_force(void **state)
{
    (void)state;
    enum { NN = 300, NP = 200 };
    float neg[NN], pos[NP];
    foil_rng r = foil_rng_make(7, 0);
    for (int i = 0; i < NN; i++) neg[i] = (float)(int)(foil_rng_uniform(&r) * 20);
    for (int i = 0; i < NP; i++) pos[i] = (float)(int)(foil_rng_uniform(&r) * 20 + 4);
    double wins = 0;
    for (int i = 0; i < NP; i++)
        for (int j = 0; j < NN; j++) wins += pos[i] > neg[j] ? 1.0 : pos[i] == neg[j] ? 0.5 : 0.0;
    assert_true(fabs(foil_roc_auc(neg, NN, pos, NP) - wins / (NN * NP)) < 1e-12);
}

static void test_threshold_at_fpr(void **state)
{
    (void)state;
    const float neg[] = {5, 1, 3, 3, 3, 2, 4, 3, 0, 6};
    /* 10% of 10: one flagged, the 6 */
    float t = foil_threshold_at_fpr(neg, 10, 0.10);
    assert_true(t == 5.0f);
    assert_true(foil_rate_above(neg, 10, t) <= 0.10);
    /* 35%: three allowed, but the fourth-highest ties with three more 3s,
     * so only 4, 5, 6 are flagged */
    t = foil_threshold_at_fpr(neg, 10, 0.35);
    assert_true(t == 3.0f);
    assert_true(fabs(foil_rate_above(neg, 10, t) - 0.3) < 1e-12);
    /* none allowed: the maximum, nothing above it */
    t = foil_threshold_at_fpr(neg, 10, 0.0);
    assert_true(t == 6.0f && foil_rate_above(neg, 10, t) == 0.0);
    assert_true(foil_rate_above(neg, 10, foil_threshold_at_fpr(neg, 10, 1.0)) == 1.0);
}

/* ---- detectors on a small MLP over 1 x 4 x 4 "images" ---- */

enum { C = 1, H = 4, W = 4, D = C * H * W, CLASSES = 4, HIDDEN = 6, N = 5 };

static foil_model *small_mlp(const char *save_to)
{
    int64_t hidden[] = {HIDDEN};
    foil_arch_spec spec = {.name = "mlp", .input_rank = 4, .input_shape = {C, H, W}, .classes = CLASSES,
                           .hidden = hidden, .n_hidden = 1, .seed = 3};
    foil_model *m = NULL;
    assert_int_equal(foil_arch_build(&spec, &m), FOIL_OK);
    if (save_to) assert_int_equal(foil_model_save(m, save_to), FOIL_OK);
    return m;
}

static void random_inputs(foil_tensor *x, int64_t n, uint64_t seed)
{
    int64_t shape[4] = {n, C, H, W};
    assert_int_equal(foil_tensor_alloc(x, FOIL_F32, 4, shape), FOIL_OK);
    foil_rng r = foil_rng_make(seed, 0);
    for (int64_t i = 0; i < x->numel; i++) foil_f32(x)[i] = (float)foil_rng_uniform(&r);
}

static double softmax_at(const float *z, int64_t c, double t, int64_t k)
{
    double zmax = z[0], sum = 0;
    for (int64_t j = 1; j < c; j++) zmax = fmax(zmax, z[j]);
    for (int64_t j = 0; j < c; j++) sum += exp((z[j] - zmax) / t);
    return exp((z[k] - zmax) / t) / sum;
}

static void test_logit_scores(void **state)
{
    (void)state;
    foil_model *m = small_mlp(NULL);
    foil_tensor x = {0}, z = {0};
    random_inputs(&x, N, 1);
    assert_int_equal(foil_model_predict(m, &x, &z), FOIL_OK);
    foil_detector *ms, *en;
    assert_int_equal(foil_detector_max_softmax(m, &ms), FOIL_OK);
    assert_int_equal(foil_detector_energy(m, 2.0f, &en), FOIL_OK);
    assert_string_equal(foil_detector_name(en), "energy");
    float s_ms[N], s_en[N];
    assert_int_equal(foil_detector_score(ms, &x, s_ms), FOIL_OK);
    assert_int_equal(foil_detector_score(en, &x, s_en), FOIL_OK);
    for (int i = 0; i < N; i++) {
        const float *zi = foil_f32(&z) + i * CLASSES;
        double top = 0, lse = 0;
        for (int k = 0; k < CLASSES; k++) top = fmax(top, softmax_at(zi, CLASSES, 1, k));
        for (int k = 0; k < CLASSES; k++) lse += exp(zi[k] / 2.0);
        assert_true(fabs(s_ms[i] + top) < 1e-6);
        assert_true(fabs(s_en[i] + 2.0 * log(lse)) < 1e-5);
    }
    foil_detector *bad;
    assert_int_equal(foil_detector_energy(m, 0.0f, &bad), FOIL_ERR_ARG);
    foil_detector_free(ms);
    foil_detector_free(en);
    foil_tensor_free(&x);
    foil_tensor_free(&z);
    foil_model_free(m);
}

/* Central differences of the score of example 0 against its gradient. */
static void check_score_grad(foil_detector *d, double tol)
{
    foil_tensor x = {0}, g = {0};
    random_inputs(&x, 2, 11);
    float s[2];
    assert_int_equal(foil_detector_score_grad(d, &x, s, &g), FOIL_OK);
    const float h = 1e-3f;
    for (int j = 0; j < D; j++) {
        float keep = foil_f32(&x)[j], up[2], down[2];
        foil_f32(&x)[j] = keep + h;
        assert_int_equal(foil_detector_score(d, &x, up), FOIL_OK);
        foil_f32(&x)[j] = keep - h;
        assert_int_equal(foil_detector_score(d, &x, down), FOIL_OK);
        foil_f32(&x)[j] = keep;
        double numeric = ((double)up[0] - down[0]) / (2.0 * h);
        if (fabs(numeric - foil_f32(&g)[j]) > tol * (1 + fabs(numeric)))
            fail_msg("%s, input %d: gradient %.6f, central differences %.6f", foil_detector_name(d), j,
                     foil_f32(&g)[j], numeric);
    }
    foil_tensor_free(&x);
    foil_tensor_free(&g);
}

static void test_score_gradients(void **state)
{
    (void)state;
    foil_model *m = small_mlp(NULL);
    foil_detector *d;
    assert_int_equal(foil_detector_max_softmax(m, &d), FOIL_OK);
    check_score_grad(d, 2e-2);
    foil_detector_free(d);
    assert_int_equal(foil_detector_energy(m, 1.5f, &d), FOIL_OK);
    check_score_grad(d, 2e-2);
    foil_detector_free(d);
    foil_preprocessor blur;
    assert_int_equal(foil_preprocessor_gaussian_blur(0.6f, C, H, W, &blur), FOIL_OK);
    assert_int_equal(foil_detector_squeeze(m, &blur, 1, &d), FOIL_OK);
    check_score_grad(d, 2e-2);
    foil_detector_free(d);
    foil_model_free(m);
}

/* A randomized squeezer is refused, and freed. */
static void test_squeeze_refuses_noise(void **state)
{
    (void)state;
    foil_model *m = small_mlp(NULL);
    foil_preprocessor noise;
    assert_int_equal(foil_preprocessor_gaussian_noise(0.1f, 0, &noise), FOIL_OK);
    foil_detector *d = NULL;
    assert_int_equal(foil_detector_squeeze(m, &noise, 1, &d), FOIL_ERR_ARG);
    assert_null(d);
    foil_model_free(m);
}

/* Mahalanobis: the score against means and precision computed here in
 * double (Gauss-Jordan), on the MLP's hidden layer. */
static void invert(double *a, int n, double *inv)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) inv[i * n + j] = i == j;
    for (int c = 0; c < n; c++) {
        int p = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(a[r * n + c]) > fabs(a[p * n + c])) p = r;
        for (int j = 0; j < n; j++) {
            double t = a[c * n + j];
            a[c * n + j] = a[p * n + j], a[p * n + j] = t;
            t = inv[c * n + j];
            inv[c * n + j] = inv[p * n + j], inv[p * n + j] = t;
        }
        double piv = a[c * n + c];
        for (int j = 0; j < n; j++) a[c * n + j] /= piv, inv[c * n + j] /= piv;
        for (int r = 0; r < n; r++) {
            if (r == c) continue;
            double f = a[r * n + c];
            for (int j = 0; j < n; j++) a[r * n + j] -= f * a[c * n + j], inv[r * n + j] -= f * inv[c * n + j];
        }
    }
}

static void test_mahalanobis(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/foil-test-detect-%d.onnx", (int)getpid());
    foil_model *m = small_mlp(path), *features = NULL;
    assert_int_equal(foil_model_load_features(path, NULL, &features), FOIL_OK);
    foil_model *bad = NULL;
    assert_int_equal(foil_model_load_features(path, "no-such-layer", &bad), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "no-such-layer"));

    enum { FIT = 400 };
    foil_tensor x = {0}, f = {0}, probe = {0};
    random_inputs(&x, FIT, 5);
    int64_t y[FIT];
    for (int i = 0; i < FIT; i++) y[i] = i % CLASSES;
    assert_int_equal(foil_model_predict(features, &x, &f), FOIL_OK);
    assert_int_equal(f.shape[1], HIDDEN);
    /* The features are the hidden ReLU layer: non-negative, and not all zero. */
    double total = 0;
    for (int64_t i = 0; i < f.numel; i++) {
        assert_true(foil_f32(&f)[i] >= 0);
        total += foil_f32(&f)[i];
    }
    assert_true(total > 0);
    double mu[CLASSES][HIDDEN] = {{0}}, cov[HIDDEN * HIDDEN] = {0}, prec[HIDDEN * HIDDEN];
    for (int i = 0; i < FIT; i++)
        for (int k = 0; k < HIDDEN; k++) mu[y[i]][k] += foil_f32(&f)[i * HIDDEN + k] / (FIT / CLASSES);
    for (int i = 0; i < FIT; i++)
        for (int a = 0; a < HIDDEN; a++)
            for (int b = 0; b < HIDDEN; b++)
                cov[a * HIDDEN + b] += (foil_f32(&f)[i * HIDDEN + a] - mu[y[i]][a]) *
                                       (foil_f32(&f)[i * HIDDEN + b] - mu[y[i]][b]) / FIT;
    double trace = 0;
    for (int a = 0; a < HIDDEN; a++) trace += cov[a * HIDDEN + a];
    for (int a = 0; a < HIDDEN; a++) cov[a * HIDDEN + a] += 1e-6 * trace / HIDDEN;
    invert(cov, HIDDEN, prec);

    foil_detector *d;
    assert_int_equal(foil_detector_mahalanobis(features, &x, y, CLASSES, &d), FOIL_OK);
    assert_string_equal(foil_detector_name(d), "mahalanobis");
    random_inputs(&probe, N, 9);
    foil_tensor fp = {0};
    float s[N];
    assert_int_equal(foil_detector_score(d, &probe, s), FOIL_OK);
    /* the features model is the detector's now; score the probe's features through a fresh one */
    foil_model *again;
    assert_int_equal(foil_model_load_features(path, NULL, &again), FOIL_OK);
    assert_int_equal(foil_model_predict(again, &probe, &fp), FOIL_OK);
    for (int i = 0; i < N; i++) {
        double best = INFINITY;
        for (int c = 0; c < CLASSES; c++) {
            double q = 0;
            for (int a = 0; a < HIDDEN; a++)
                for (int b = 0; b < HIDDEN; b++)
                    q += (foil_f32(&fp)[i * HIDDEN + a] - mu[c][a]) * prec[a * HIDDEN + b] *
                         (foil_f32(&fp)[i * HIDDEN + b] - mu[c][b]);
            best = fmin(best, q);
        }
        if (fabs(s[i] - best) > 1e-3 * (1 + fabs(best))) fail_msg("example %d: score %.6f, direct %.6f", i, s[i], best);
    }
    /* A class with no examples is refused, naming it. */
    int64_t one_class[FIT];
    for (int i = 0; i < FIT; i++) one_class[i] = 0;
    foil_detector *d2 = NULL;
    assert_int_equal(foil_detector_mahalanobis(again, &x, one_class, CLASSES, &d2), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "class 1"));
    foil_detector_free(d);
    foil_tensor_free(&x);
    foil_tensor_free(&f);
    foil_tensor_free(&fp);
    foil_tensor_free(&probe);
    foil_model_free(m);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roc_auc_matches_sklearn), cmocka_unit_test(test_roc_auc_brute_force),
        cmocka_unit_test(test_threshold_at_fpr),        cmocka_unit_test(test_logit_scores),
        cmocka_unit_test(test_score_gradients),         cmocka_unit_test(test_squeeze_refuses_noise),
        cmocka_unit_test(test_mahalanobis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
