/*
 * tests/test_certify_smoothing.c - randomized smoothing (foil/certify.h)
 * and the statistics under it (eval/binomial.h):
 *   - the binomial tail against an exact sum, Clopper-Pearson at its
 *     defining equation (below alpha at the bound, above just past it),
 *     the binomial test, the normal quantile below and near the exact one;
 *   - a base classifier whose smoothed version is known exactly: a
 *     threshold on one coordinate. Rounded to the grid and smoothed, it is
 *     again a threshold, at a known place, so every certified radius can be
 *     checked against the true distance to the smoothed boundary, and every
 *     count against its exact binomial law (which tests the sampler);
 *   - on the trained fixture CNN: results do not depend on the batch size,
 *     and for every certified image, random points on the sphere of the
 *     radius and a PGD attack on the smoothed model (EOT) within it leave
 *     the smoothed prediction unchanged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attack_fixture.h"
#include "eval/binomial.h"
#include "foil/certify.h"
#include "foil/defense.h"
#include "foil/rng.h"

/* ---- statistics ---- */

/* P(X >= k), X ~ Binomial(n, p), summed term by term from the lgamma form. */
static double exact_tail(int64_t k, int64_t n, double p)
{
    long double sum = 0;
    for (int64_t j = k; j <= n; j++)
        sum += expl(lgammal(n + 1.0L) - lgammal(j + 1.0L) - lgammal(n - j + 1.0L) + j * logl(p) + (n - j) * log1pl(-p));
    return (double)sum;
}

static void test_binomial_tail(void **state)
{
    (void)state;
    const int64_t ns[] = {1, 10, 57, 400};
    const double ps[] = {0.01, 0.3, 0.5, 0.77, 0.999};
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 5; b++)
            for (int64_t k = 0; k <= ns[a] + 1; k += 1 + ns[a] / 13) {
                double want = exact_tail(k, ns[a], ps[b]), got = foilBinomialUpperTail(k, ns[a], ps[b]);
                if (fabs(got - want) > 1e-12 * fmax(want, 1e-300) + 1e-15)
                    fail_msg("P(X >= %lld | n %lld, p %g) = %.17g, exact %.17g", (long long)k, (long long)ns[a],
                             ps[b], got, want);
            }
}

static void test_clopper_pearson(void **state)
{
    (void)state;
    const int64_t cases[][2] = {{1, 10}, {7, 10}, {10, 10}, {500, 1000}, {99000, 100000}, {99990, 100000},
                                {100000, 100000}, {3, 100000}};
    const double alphas[] = {0.001, 0.05};
    for (int c = 0; c < 8; c++)
        for (int a = 0; a < 2; a++) {
            int64_t k = cases[c][0], n = cases[c][1];
            double lo = foilClopperPearsonLower(k, n, alphas[a]);
            /* The bound solves P(X >= k | p) = alpha: at it the tail is at
             * most alpha; a hair above it, more. */
            assert_true(lo >= 0 && lo <= (double)k / (double)n);
            assert_true(foilBinomialUpperTail(k, n, lo) <= alphas[a]);
            double above = lo + 1e-7 * (lo > 0 ? lo : 1);
            if (foilBinomialUpperTail(k, n, above) <= alphas[a])
                fail_msg("Clopper-Pearson(%lld/%lld, %g) = %.12g is not tight", (long long)k, (long long)n, alphas[a],
                         lo);
        }
    /* k = n: the bound is alpha^(1/n) exactly. */
    double lo = foilClopperPearsonLower(100, 100, 0.001);
    assert_true(lo <= pow(0.001, 0.01) && lo > pow(0.001, 0.01) - 1e-9);
    assert_true(foilClopperPearsonLower(0, 100, 0.001) == 0);
}

static void test_binomial_test(void **state)
{
    (void)state;
    /* scipy.stats.binom_test(60, 100, 0.5) = 0.056887933640980784 */
    assert_true(fabs(foilBinomialTestHalf(60, 100) - 0.056887933640980784) < 1e-12);
    assert_true(fabs(foilBinomialTestHalf(40, 100) - 0.056887933640980784) < 1e-12);
    assert_true(foilBinomialTestHalf(50, 100) == 1);
    assert_true(foilBinomialTestHalf(0, 0) == 1);
    assert_true(fabs(foilBinomialTestHalf(10, 10) - 2 * pow(0.5, 10)) < 1e-15);
}

static void test_normal_quantile(void **state)
{
    (void)state;
    /* Reference values: Python's statistics.NormalDist().inv_cdf (Wichura's
     * AS241, relative error about 1e-16). */
    const double p[] = {0.5, 0.975, 0.9999, 0.001, 1 - 1e-12};
    const double z[] = {0, 1.9599639845400536, 3.7190164854557084, -3.090232306167813, 7.0344869100478356};
    for (int i = 0; i < 5; i++) {
        double got = foilNormalQuantileBelow(p[i]);
        if (!(got <= z[i] + 1e-15 * fabs(z[i]) && got > z[i] - 1e-8))
            fail_msg("Phi^-1(%.17g): %.17g, want at most and near %.17g", p[i], got, z[i]);
    }
    assert_true(isinf(foilNormalQuantileBelow(0)) && foilNormalQuantileBelow(0) < 0);
    assert_true(isinf(foilNormalQuantileBelow(1)) && foilNormalQuantileBelow(1) > 0);
}

/* ---- a threshold whose smoothed version is known ---- */

/* Logits (0, x_0 - theta): class 1 iff the first coordinate exceeds theta.
 * Rounded to the grid lo + k step, with theta between grid values k0 - 1
 * and k0, class 1 iff k >= k0; under noise at x, k >= k0 iff x_0 + N >=
 * theta* = lo + (k0 - 1/2) step, so the smoothed classifier is the
 * threshold at theta*, and the distance to its boundary is |x_0 - theta*|. */
typedef struct threshold_model {
    float theta;
    int64_t d;
} threshold_model;

static foil_status threshold_predict(void *state, const foil_tensor *x, const uint64_t *seeds, foil_tensor *scores)
{
    (void)seeds;
    const threshold_model *t = state;
    int64_t shape[2] = {x->shape[0], 2};
    foil_status st = foil_model_ensure_output("threshold", scores, 2, shape, "scores");
    if (st) return st;
    for (int64_t i = 0; i < x->shape[0]; i++) {
        foil_f32(scores)[2 * i] = 0;
        foil_f32(scores)[2 * i + 1] = foil_f32(x)[i * t->d] - t->theta;
    }
    return FOIL_OK;
}

static foil_status threshold_classes(void *state, int64_t *classes)
{
    (void)state;
    *classes = 2;
    return FOIL_OK;
}

static foil_model *threshold_model_make(float theta, int64_t d)
{
    static const foil_model_ops ops = {.kind = "threshold", .predict = threshold_predict,
                                       .num_classes = threshold_classes, .destroy = free};
    threshold_model *t = malloc(sizeof *t);
    t->theta = theta;
    t->d = d;
    int64_t shape[2] = {-1, d};
    foil_model_desc desc = {.name = "threshold", .input_rank = 2, .input_shape = shape};
    foil_model *m;
    if (foil_model_create(&ops, t, &desc, &m)) fail_msg("%s", foil_last_error());
    return m;
}

static void test_threshold_exact(void **state)
{
    (void)state;
    enum { D = 16 };
    const double step = 1.0 / 255, sigma = 0.25;
    const int64_t k0 = 128;
    const double theta_star = (k0 - 0.5) * step;
    foil_model *m = threshold_model_make((float)((k0 - 0.5) * step), D);
    foil_smoothing_options o;
    foil_smoothing_defaults(&o);
    o.sigma = (float)sigma;
    o.seed = 5;
    foil_smoothed *s;
    assert_int_equal(foil_smoothed_create(m, &o, &s), FOIL_OK);
    /* Points on the grid at several distances on both sides, and one off it. */
    const double offsets[] = {0.05, 0.2, 0.45, 0.7, -0.1, -0.35, 0.3 + 0.37 * step};
    float xs[D];
    foil_tensor x = {.dtype = FOIL_F32, .ndim = 2, .shape = {1, D}, .numel = D, .data = xs};
    int certified = 0;
    for (int i = 0; i < 7; i++) {
        double want_x0 = theta_star + offsets[i];
        int on_grid = i < 6;
        double x0 = on_grid ? nearbyint(want_x0 / step) * step : want_x0;
        for (int j = 1; j < D; j++) xs[j] = (float)(((j * 37) % 256) * step); /* on the grid */
        xs[0] = (float)x0;
        double distance = fabs((double)xs[0] - theta_star);
        int64_t truth = xs[0] > theta_star;
        foil_certificate c;
        assert_int_equal(foil_smoothed_certify(s, &x, 0, (uint64_t)i, &c), FOIL_OK);
        /* The count of the true class follows Binomial(n, Phi(distance / sigma)). */
        double p = 0.5 * erfc(-distance / sigma / sqrt(2.0));
        int64_t count = c.prediction == truth || c.prediction < 0 ? c.count : o.n - c.count;
        double z = ((double)count - o.n * p) / sqrt(o.n * p * (1 - p) + 1e-300);
        if (fabs(z) > 5) fail_msg("offset %g: %lld of %lld noisy copies in the true class, expected %.1f", offsets[i],
                                  (long long)count, (long long)o.n, o.n * p);
        if (c.prediction >= 0) {
            certified++;
            assert_int_equal(c.prediction, truth);
            if (!(c.radius <= distance))
                fail_msg("offset %g: certified radius %.9g beyond the true distance %.9g", offsets[i], c.radius,
                         distance);
            /* n = 100000 bounds p within about 1%: the radius is nearly all of it. */
            if (distance < 0.8 && c.radius < 0.8 * distance)
                fail_msg("offset %g: radius %.6g, far inside the distance %.6g", offsets[i], c.radius, distance);
        }
        assert_true(on_grid ? c.grid_distance < 1e-6 : c.grid_distance > 0.3 * step);
    }
    assert_true(certified >= 6);
    foil_smoothed_free(s);
    foil_model_free(m);
}

/* ---- the trained CNN ---- */

static double l2_distance(const float *a, const float *b, int64_t d)
{
    double s = 0;
    for (int64_t i = 0; i < d; i++) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return sqrt(s);
}

/* A point at distance r from x in a random direction (not clipped: the
 * certificate holds in all of R^d). */
static void sphere_point(const float *x, float *out, int64_t d, double r, uint64_t seed)
{
    foil_rng g = foil_rng_make(seed, 0);
    double norm = 0;
    for (int64_t i = 0; i < d; i++) {
        out[i] = (float)foil_rng_normal(&g);
        norm += (double)out[i] * out[i];
    }
    for (int64_t i = 0; i < d; i++) out[i] = (float)(x[i] + out[i] * (r * (1 - 1e-6)) / sqrt(norm));
}

static void test_cnn_sound(void **state)
{
    (void)state;
    attack_fixture f;
    int skip = attack_fixture_load(&f, 0);
    if (skip) {
        skip();
        return;
    }
    const int sanitized = f.examples < 1000;
    const int64_t count = sanitized ? 4 : 12;
    const int64_t d = foil_dataset_example_size(&f.data);
    foil_smoothing_options o;
    foil_smoothing_defaults(&o);
    o.sigma = 0.12f;
    o.n = sanitized ? 2000 : 10000;
    o.batch = 500;
    o.seed = 3;
    foil_smoothed *s, *s_odd, *s_pred;
    assert_int_equal(foil_smoothed_create(f.model, &o, &s), FOIL_OK);
    foil_certificate cert[12];
    for (int64_t i = 0; i < count; i++) assert_int_equal(foil_smoothed_certify(s, &f.data.x, i, (uint64_t)i, &cert[i]), FOIL_OK);
    foil_smoothed_free(s);

    /* Another batch size: every count the same (streams per copy, one
     * shape per forward pass, a network whose rows do not interact). */
    o.batch = 333;
    assert_int_equal(foil_smoothed_create(f.model, &o, &s_odd), FOIL_OK);
    for (int64_t i = 0; i < 3; i++) {
        foil_certificate again;
        assert_int_equal(foil_smoothed_certify(s_odd, &f.data.x, i, (uint64_t)i, &again), FOIL_OK);
        assert_int_equal(again.count, cert[i].count);
        assert_int_equal(again.prediction, cert[i].prediction);
        assert_true(again.radius == cert[i].radius);
    }
    foil_smoothed_free(s_odd);
    o.n = sanitized ? 500 : 2000; /* PREDICT's copies */
    assert_int_equal(foil_smoothed_create(f.model, &o, &s_pred), FOIL_OK);

    /* Soundness: the smoothed prediction (PREDICT, n noisy copies) at
     * points on the sphere of each certified radius and at a PGD-EOT
     * adversarial example within it is never another class. */
    foil_model *inner, *noisy, *smoothed;
    foil_preprocessor noise;
    if (foil_model_load(getenv("FOIL_ATTACK_MODEL"), &inner) ||
        foil_preprocessor_gaussian_noise(o.sigma, 17, &noise) ||
        foil_model_defended(inner, &noise, 1, NULL, FOIL_GRADIENT_EXACT, &noisy) ||
        foil_model_eot(noisy, sanitized ? 4 : 16, 23, &smoothed))
        fail_msg("%s", foil_last_error());
    int64_t certified = 0;
    float *probe = malloc((size_t)d * sizeof *probe);
    foil_tensor pt = {.dtype = FOIL_F32, .ndim = f.data.x.ndim, .numel = d, .data = probe};
    memcpy(pt.shape, f.data.x.shape, sizeof pt.shape);
    pt.shape[0] = 1;
    for (int64_t i = 0; i < count; i++) {
        if (cert[i].prediction < 0) continue;
        certified++;
        const float *x = foil_f32(&f.data.x) + i * d;
        for (int k = 0; k < 2; k++) {
            sphere_point(x, probe, d, cert[i].radius, 100 * (uint64_t)i + (uint64_t)k);
            int64_t pred;
            assert_int_equal(foil_smoothed_predict(s_pred, &pt, 0, 1000 + (uint64_t)i, &pred), FOIL_OK);
            if (pred >= 0 && pred != cert[i].prediction)
                fail_msg("image %lld: certified class %lld within %.4f, but a point at that distance is %lld",
                         (long long)i, (long long)cert[i].prediction, cert[i].radius, (long long)pred);
        }
        foil_tensor xi = pt;
        xi.data = (float *)x;
        foil_threat t = attack_fixture_threat(&f, FOIL_NORM_L2, (float)cert[i].radius);
        t.steps = sanitized ? 5 : 20;
        t.seed = 9;
        foil_evasion_options eo = {.quiet = 1, .batch = 1};
        foil_evasion_result r;
        int64_t label = cert[i].prediction;
        assert_int_equal(foil_evasion_run("pgd", smoothed, &xi, &label, &t, &eo, &r), FOIL_OK);
        const float *adv = foil_f32(&r.adv);
        assert_true(l2_distance(adv, x, d) <= cert[i].radius * (1 + 1e-5));
        memcpy(probe, adv, (size_t)d * sizeof *probe);
        int64_t pred;
        assert_int_equal(foil_smoothed_predict(s_pred, &pt, 0, 2000 + (uint64_t)i, &pred), FOIL_OK);
        if (pred >= 0 && pred != cert[i].prediction)
            fail_msg("image %lld: certified class %lld within %.4f, but PGD found %lld at distance %.4f", (long long)i,
                     (long long)cert[i].prediction, cert[i].radius, (long long)pred, l2_distance(adv, x, d));
        foil_evasion_result_free(&r);
    }
    /* A plain CNN at sigma 0.12 still certifies most of these images; the
     * checks above must have had something to check. */
    assert_true(certified >= count / 2);
    free(probe);
    foil_model_free(smoothed);
    foil_smoothed_free(s_pred);
    attack_fixture_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binomial_tail),  cmocka_unit_test(test_clopper_pearson),
        cmocka_unit_test(test_binomial_test),  cmocka_unit_test(test_normal_quantile),
        cmocka_unit_test(test_threshold_exact), cmocka_unit_test(test_cnn_sound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
