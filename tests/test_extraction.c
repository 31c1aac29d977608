/*
 * tests/test_extraction.c - model extraction (foil/extraction.h) on a
 * problem whose answer is known: the victim is the linear quadrant
 * classifier of toy_data.c (class k's logit is 8 times the mean of
 * quadrant k), the copy a softmax regression, which can match it exactly.
 * Each attack reaches high fidelity within a few hundred queries; the
 * budget is never passed, and every query is counted by the model
 * interface; Jacobian augmentation moves exactly the pixels its formula
 * says; the adaptive policy's reward and update match a hand computation.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "foil/arch.h"
#include "foil/extraction.h"
#include "toy_data.h"

static const int64_t no_hidden[1] = {0};

/* The copy: softmax regression on the examples' shape. */
static foil_status make_linear(void *ctx, const foil_dataset *train, uint64_t seed, foil_model **out)
{
    (void)ctx;
    foil_arch_spec s = {0};
    s.name = "mlp";
    s.input_rank = train->x.ndim;
    for (int d = 1; d < train->x.ndim; d++) s.input_shape[d - 1] = train->x.shape[d];
    s.classes = train->classes;
    s.hidden = no_hidden, s.n_hidden = 0;
    s.seed = seed;
    return foil_arch_build(&s, out);
}

static void options(foil_extraction_options *o, foil_extraction_attack a, int64_t budget)
{
    foil_extraction_defaults(o);
    o->attack = a;
    o->budget = budget;
    o->make = make_linear;
    o->train.optim = foil_optim_defaults(FOIL_OPT_ADAM);
    o->train.optim.lr = 0.05;
    o->train.epochs = 20;
    o->train.batch = 32;
    o->quiet = 1;
    o->seed = 5;
    o->seed_size = 20;
}

/* The victim's top-1 on the test set. */
static int64_t *victim_labels(const foil_dataset *test)
{
    foil_model *v = toy_quadrant_model(0);
    foil_tensor out = {0};
    assert_int_equal(foil_model_predict(v, &test->x, &out), FOIL_OK);
    int64_t n = test->y.numel, *pred = malloc((size_t)n * sizeof *pred);
    for (int64_t i = 0; i < n; i++) {
        const float *z = foil_f32(&out) + i * 4;
        pred[i] = 0;
        for (int k = 1; k < 4; k++)
            if (z[k] > z[pred[i]]) pred[i] = k;
    }
    foil_tensor_free(&out);
    foil_model_free(v);
    return pred;
}

/* Each attack against the victim behind a black box in the given output
 * mode: high fidelity, exactly the budget spent, and the counters agree. */
static void run_attack(foil_extraction_attack a, foil_output_mode mode, int64_t budget, double want_fidelity)
{
    foil_dataset sur, test;
    toy_quadrants(&sur, 600, 4, 6, 1);
    toy_quadrants(&test, 300, 4, 6, 2);
    int64_t *pred = victim_labels(&test);
    foil_extraction_options o;
    options(&o, a, budget);
    o.checkpoints[0] = budget / 2, o.checkpoints[1] = budget, o.n_checkpoints = 2;
    foil_output out = {.mode = mode};
    foil_model *api = NULL, *copy = NULL;
    assert_int_equal(foil_model_black_box(toy_quadrant_model(0), budget, &out, &api), FOIL_OK);
    foil_extraction_report r;
    foil_status st = foil_extract(api, &sur, &test, pred, &o, &copy, &r);
    if (st) fail_msg("%s: %s", foil_extraction_name(a), foil_last_error());
    assert_non_null(copy);
    assert_int_equal(r.queries, budget);                 /* the whole budget, and not one query more */
    assert_int_equal(foil_model_queries(api), budget);   /* as the model interface counted them */
    assert_true(r.n_points >= 2);
    assert_int_equal(r.point[r.n_points - 1].queries, budget);
    for (int p = 1; p < r.n_points; p++) assert_true(r.point[p].queries > r.point[p - 1].queries);
    const double fid = r.point[r.n_points - 1].fidelity;
    if (fid < want_fidelity) fail_msg("%s: fidelity %.3f < %.3f", foil_extraction_name(a), fid, want_fidelity);
    assert_true(r.point[r.n_points - 1].accuracy > 0.8);
    const int knockoff = a == FOIL_EXTRACT_KNOCKOFF_RANDOM || a == FOIL_EXTRACT_KNOCKOFF_ADAPTIVE;
    assert_int_equal(r.soft, knockoff && mode != FOIL_OUTPUT_LABELS);
    if (a == FOIL_EXTRACT_KNOCKOFF_ADAPTIVE) {
        int64_t pulls = 0;
        double total = 0;
        for (int64_t k = 0; k < r.actions; k++) pulls += r.pulls[k], total += r.policy[k];
        assert_int_equal(r.actions, 4);
        assert_int_equal(pulls, budget);
        assert_true(fabs(total - 1) < 1e-9);
    }
    /* the copy is an ONNX model of its own: it predicts */
    foil_tensor z = {0};
    assert_int_equal(foil_model_predict(copy, &test.x, &z), FOIL_OK);
    assert_int_equal(z.shape[1], 4);
    foil_tensor_free(&z);
    foil_extraction_report_free(&r);
    foil_model_free(copy);
    foil_model_free(api);
    free(pred);
    foil_dataset_free(&sur);
    foil_dataset_free(&test);
}

static void test_copycat(void **state)
{
    (void)state;
    run_attack(FOIL_EXTRACT_COPYCAT, FOIL_OUTPUT_LABELS, 200, 0.9);
}

static void test_knockoff_random(void **state)
{
    (void)state;
    run_attack(FOIL_EXTRACT_KNOCKOFF_RANDOM, FOIL_OUTPUT_PROBABILITIES, 200, 0.9);
    run_attack(FOIL_EXTRACT_KNOCKOFF_RANDOM, FOIL_OUTPUT_LABELS, 137, 0.85); /* an odd budget, labels only */
}

static void test_knockoff_adaptive(void **state)
{
    (void)state;
    run_attack(FOIL_EXTRACT_KNOCKOFF_ADAPTIVE, FOIL_OUTPUT_PROBABILITIES, 200, 0.85);
}

static void test_jacobian(void **state)
{
    (void)state;
    /* 20 seeds, then 40, 80, 160, and a last round cut to 250 */
    run_attack(FOIL_EXTRACT_JACOBIAN, FOIL_OUTPUT_LABELS, 250, 0.8);
}

/* A victim whose own budget is smaller than the attack's: the attack
 * stops at its budget with FOIL_ERR_BUDGET, and nothing past it ran. */
static void test_victim_budget(void **state)
{
    (void)state;
    foil_dataset sur, test;
    toy_quadrants(&sur, 300, 4, 6, 1);
    toy_quadrants(&test, 50, 4, 6, 2);
    foil_extraction_options o;
    options(&o, FOIL_EXTRACT_COPYCAT, 200);
    foil_model *api = NULL, *copy = NULL;
    assert_int_equal(foil_model_black_box(toy_quadrant_model(0), 100, NULL, &api), FOIL_OK);
    foil_extraction_report r;
    assert_int_equal(foil_extract(api, &sur, &test, NULL, &o, &copy, &r), FOIL_ERR_BUDGET);
    assert_null(copy);
    assert_true(foil_model_queries(api) <= 100);
    foil_model_free(api);
    foil_dataset_free(&sur);
    foil_dataset_free(&test);
}

static void test_bad_options(void **state)
{
    (void)state;
    foil_dataset sur, test, big;
    toy_quadrants(&sur, 50, 4, 6, 1);
    toy_quadrants(&test, 20, 4, 6, 2);
    toy_quadrants(&big, 20, 4, 8, 3);
    foil_model *v = toy_quadrant_model(0), *copy = NULL;
    foil_extraction_options o;
    foil_extraction_report r;
    options(&o, FOIL_EXTRACT_COPYCAT, 0);
    assert_int_equal(foil_extract(v, &sur, &test, NULL, &o, &copy, &r), FOIL_ERR_ARG);
    options(&o, FOIL_EXTRACT_COPYCAT, 40);
    o.checkpoints[0] = 30, o.checkpoints[1] = 20, o.n_checkpoints = 2;
    assert_int_equal(foil_extract(v, &sur, &test, NULL, &o, &copy, &r), FOIL_ERR_ARG);
    options(&o, FOIL_EXTRACT_COPYCAT, 40);
    o.make = NULL;
    assert_int_equal(foil_extract(v, &sur, &test, NULL, &o, &copy, &r), FOIL_ERR_ARG);
    options(&o, FOIL_EXTRACT_JACOBIAN, 40);
    o.lambda = 0;
    assert_int_equal(foil_extract(v, &sur, &test, NULL, &o, &copy, &r), FOIL_ERR_ARG);
    /* 8 x 8 images for a model of 6 x 6 ones: the victim of the wrong shape */
    options(&o, FOIL_EXTRACT_COPYCAT, 40);
    assert_int_equal(foil_extract(v, &big, NULL, NULL, &o, &copy, &r), FOIL_ERR_SHAPE);
    assert_non_null(strstr(foil_last_error(), "surrogate"));
    assert_int_equal(foil_model_queries(v), 0); /* refused before any query */
    foil_extraction_attack a;
    assert_int_equal(foil_extraction_parse("knockoff-adaptive", &a), FOIL_OK);
    assert_int_equal(a, FOIL_EXTRACT_KNOCKOFF_ADAPTIVE);
    assert_int_equal(foil_extraction_parse("knockoff", &a), FOIL_ERR_ARG);
    foil_model_free(v);
    foil_dataset_free(&sur);
    foil_dataset_free(&test);
    foil_dataset_free(&big);
}

/* x + lambda_rho sign(dF_label/dx), clipped: for the quadrant model
 * dF_k/dx is 8/9 on quadrant k and 0 elsewhere, so exactly quadrant k
 * moves, by the step, and stays in [0, 1]. */
static void test_jacobian_step(void **state)
{
    (void)state;
    const float want[7] = {0.1f, 0.1f, 0.1f, -0.1f, -0.1f, -0.1f, 0.1f};
    for (int rho = 0; rho < 7; rho++) assert_true(foil_jacobian_step(0.1f, 3, rho) == want[rho]);
    assert_true(foil_jacobian_step(0.1f, 0, 5) == 0.1f);
    foil_dataset d;
    toy_quadrants(&d, 8, 4, 6, 7);
    foil_model *f = toy_quadrant_model(0);
    int64_t labels[8] = {0, 1, 2, 3, 3, 2, 1, 0};
    for (int step = 0; step < 2; step++) {
        const float lambda = step ? -0.3f : 0.3f;
        foil_tensor out = {0};
        assert_int_equal(foil_jacobian_augment(f, &d.x, labels, lambda, foil_f32(&d.lower), foil_f32(&d.upper), &out),
                         FOIL_OK);
        for (int i = 0; i < 8; i++)
            for (int r = 0; r < 6; r++)
                for (int q = 0; q < 6; q++) {
                    const int k = (int)labels[i], in_k = (r < 3) == (k < 2) && (q < 3) == (k % 2 == 0);
                    const float x = foil_f32(&d.x)[i * 36 + r * 6 + q], y = foil_f32(&out)[i * 36 + r * 6 + q];
                    const float expect = in_k ? fminf(fmaxf(x + lambda, 0.0f), 1.0f) : x;
                    assert_true(y == expect);
                }
        foil_tensor_free(&out);
    }
    foil_model_free(f);
    foil_dataset_free(&d);
}

/* The reward's three terms and their standardization, by hand. */
static void test_reward(void **state)
{
    (void)state;
    foil_knockoff_policy p;
    assert_int_equal(foil_knockoff_policy_init(&p, 2, 3, 0), FOIL_OK);
    const float y1[3] = {0.7f, 0.2f, 0.1f}, h1[3] = {0.5f, 0.25f, 0.25f};
    const float y2[3] = {0.1f, 0.8f, 0.1f}, h2[3] = {1 / 3.0f, 1 / 3.0f, 1 / 3.0f};
    double parts[3];
    double r = foil_knockoff_reward(&p, y1, h1, parts);
    const double loss1 = -(0.7 * log(0.5) + 0.2 * log(0.25) + 0.1 * log(0.25));
    assert_true(fabs(parts[0] - 0.5) < 1e-6);      /* certainty: 0.7 - 0.2 */
    assert_true(fabs(parts[1]) < 1e-6);            /* diversity: y is the mean so far */
    assert_true(fabs(parts[2] - loss1) < 1e-6);
    assert_true(fabs(r - (0.5 + 0 + fmin(loss1, 1)) / 3) < 1e-6); /* the first: clipped to [0, 1] */
    r = foil_knockoff_reward(&p, y2, h2, parts);
    const double t2[3] = {0.7, 0.3, log(3.0)}, t1[3] = {0.5, 0, loss1};
    assert_true(fabs(parts[0] - t2[0]) < 1e-6);    /* 0.8 - 0.1 */
    assert_true(fabs(parts[1] - t2[1]) < 1e-6);    /* ybar (0.4, 0.5, 0.1): 0.8 - 0.5 */
    assert_true(fabs(parts[2] - t2[2]) < 1e-6);
    double want = 0;
    for (int i = 0; i < 3; i++) { /* ART's running mean and variance after two */
        double mean = t1[i], var = 0;
        mean += (t2[i] - mean) / 2;
        var += ((t2[i] - mean) * (t2[i] - mean) - var) / 2;
        want += (t2[i] - mean) / sqrt(var);
    }
    assert_true(fabs(r - want / 3) < 1e-5);
    /* the gradient-bandit update: a reward at the mean moves nothing ... */
    foil_knockoff_policy_update(&p, 0, 1.0);
    assert_true(fabs(p.pi[0] - 0.5) < 1e-12 && fabs(p.h[0]) < 1e-12);
    /* ... one below it (mean 0.5, step 1/1) lowers its action: h = (0.25, -0.25) */
    foil_knockoff_policy_update(&p, 1, 0.0);
    assert_true(fabs(p.h[0] - 0.25) < 1e-12 && fabs(p.h[1] + 0.25) < 1e-12);
    assert_true(fabs(p.pi[0] - 1 / (1 + exp(-0.5))) < 1e-12);
    /* sampling skips exhausted actions */
    foil_rng rng = foil_rng_make(1, 2);
    uint8_t ex[2] = {1, 0};
    for (int i = 0; i < 20; i++) assert_int_equal(foil_knockoff_policy_sample(&p, ex, &rng), 1);
    ex[1] = 1;
    assert_int_equal(foil_knockoff_policy_sample(&p, ex, &rng), -1);
    foil_knockoff_policy_free(&p);
    /* a window of 1: the diversity of any answer is 0 */
    assert_int_equal(foil_knockoff_policy_init(&p, 2, 3, 1), FOIL_OK);
    foil_knockoff_reward(&p, y1, h1, parts);
    foil_knockoff_reward(&p, y2, h2, parts);
    assert_true(fabs(parts[1]) < 1e-6);
    foil_knockoff_policy_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copycat),       cmocka_unit_test(test_knockoff_random),
        cmocka_unit_test(test_knockoff_adaptive), cmocka_unit_test(test_jacobian),
        cmocka_unit_test(test_victim_budget), cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_jacobian_step), cmocka_unit_test(test_reward),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
