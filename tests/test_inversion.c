/*
 * tests/test_inversion.c - MIFace (foil/inversion.h).
 *
 * On a linear softmax model whose answer is known, logits z = 4 x[0..3) of
 * x in [0, 1]^4 (x[3] unused): the reconstruction of class c is the corner
 * e_c (its pixel at the top of the range, the rivals' at the bottom, the
 * unused one where it started), where p_c = e^4 / (e^4 + 2) < 0.99, so the
 * descent ends when the cost stops falling (the window). Three steps are
 * checked against the update written out by hand; the threshold stops at
 * the first step at or below it and not one step earlier; max_iter, the
 * bounds, AuxTerm and Process do what foil/inversion.h says; bad arguments
 * are errors. And on the AT&T faces (skipped without ../shared/data): a
 * softmax regression trained here, MIFace for all 40 subjects, and each
 * reconstruction compared with every subject's mean training image.
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
#include <sys/stat.h>

#include "foil/arch.h"
#include "foil/data.h"
#include "foil/inversion.h"
#include "foil/progress.h"
#include "foil/train.h"

enum { TOY_F = 4, TOY_C = 3 };

/* The toy model: a Gemm with W = 4 [I_3 | 0] and no bias. */
static foil_model *toy_model(void)
{
    int64_t none[1] = {0};
    foil_arch_spec s = {.name = "mlp", .input_rank = 2, .input_shape = {TOY_F}, .classes = TOY_C, .hidden = none};
    foil_model *m;
    assert_int_equal(foil_arch_build(&s, &m), FOIL_OK);
    int64_t count;
    assert_int_equal(foil_model_param_count(m, &count), FOIL_OK);
    assert_int_equal(count, TOY_C * TOY_F + TOY_C);
    float theta[TOY_C * TOY_F + TOY_C] = {0};
    for (int c = 0; c < TOY_C; c++) theta[c * TOY_F + c] = 4.0f;
    assert_int_equal(foil_model_params_set(m, theta), FOIL_OK);
    /* the weights are where we think: z = 4 x[0..3) */
    float xv[TOY_F] = {0.25f, 0.5f, 0.75f, 1.0f};
    int64_t shape[2] = {1, TOY_F};
    foil_tensor x = {0}, z = {0};
    assert_int_equal(foil_tensor_alloc(&x, FOIL_F32, 2, shape), FOIL_OK);
    memcpy(x.data, xv, sizeof xv);
    assert_int_equal(foil_model_predict(m, &x, &z), FOIL_OK);
    for (int c = 0; c < TOY_C; c++) assert_float_equal(foil_f32(&z)[c], 4 * xv[c], 1e-6);
    foil_tensor_free(&x);
    foil_tensor_free(&z);
    return m;
}

static const float lo01[TOY_F] = {0, 0, 0, 0}, hi01[TOY_F] = {1, 1, 1, 1};
static const int64_t all3[TOY_C] = {0, 1, 2};

static void test_reaches_the_corner(void **state)
{
    (void)state;
    foil_model *m = toy_model();
    foil_inversion_options o;
    foil_inversion_defaults(&o);
    o.learning_rate = 1.0;
    o.quiet = 1;
    foil_inversion_result r;
    assert_int_equal(foil_miface(m, all3, TOY_C, lo01, hi01, NULL, &o, &r), FOIL_OK);
    const double p_best = exp(4.0) / (exp(4.0) + 2.0);
    for (int k = 0; k < TOY_C; k++) {
        for (int j = 0; j < TOY_F; j++) assert_float_equal(foil_f32(&r.x)[k * TOY_F + j], j == k ? 1.0f : 0.0f, 1e-6);
        assert_float_equal(r.probability[k], p_best, 1e-5);
        assert_float_equal(r.cost[k], 1 - p_best, 1e-5);
        assert_int_equal(r.stop[k], FOIL_INVERSION_WINDOW);
        /* the window waits for 100 costs and then one that is no lower than them all */
        assert_true(r.iterations[k] >= o.window_length && r.iterations[k] < o.max_iter);
        assert_true(r.best_iteration[k] <= r.iterations[k]);
    }
    assert_true(foil_model_gradients(m) > 0);
    foil_inversion_result_free(&r);
    foil_model_free(m);
}

/* Three steps of x <- clip(x - lr grad c(x)) for class y, written out:
 * grad_x c = W^T dc/dz with dc/dz_j = p_y p_j - [j = y] p_y. */
static void three_steps_by_hand(int y, double lr, const double *start, double *x)
{
    memcpy(x, start, TOY_F * sizeof *x);
    for (int s = 0; s < 3; s++) {
        double z[TOY_C], sum = 0, p[TOY_C], g[TOY_F] = {0};
        for (int c = 0; c < TOY_C; c++) sum += exp(z[c] = 4 * x[c]);
        for (int c = 0; c < TOY_C; c++) p[c] = exp(z[c]) / sum;
        for (int c = 0; c < TOY_C; c++) g[c] = 4 * (p[y] * p[c] - (c == y) * p[y]);
        for (int j = 0; j < TOY_F; j++) x[j] = fmin(1, fmax(0, x[j] - lr * g[j]));
    }
}

static void test_steps_as_written(void **state)
{
    (void)state;
    foil_model *m = toy_model();
    foil_inversion_options o;
    foil_inversion_defaults(&o);
    o.max_iter = 3;
    o.learning_rate = 0.3;
    o.threshold = 0;
    o.quiet = 1;
    const double s0[TOY_F] = {0.5, 0.4, 0.6, 0.2};
    int64_t shape[2] = {2, TOY_F};
    foil_tensor start = {0};
    assert_int_equal(foil_tensor_alloc(&start, FOIL_F32, 2, shape), FOIL_OK);
    for (int j = 0; j < 2 * TOY_F; j++) foil_f32(&start)[j] = (float)s0[j % TOY_F];
    const int64_t labels[2] = {1, 2};
    foil_inversion_result r;
    assert_int_equal(foil_miface(m, labels, 2, lo01, hi01, &start, &o, &r), FOIL_OK);
    for (int k = 0; k < 2; k++) {
        double x[TOY_F];
        three_steps_by_hand((int)labels[k], o.learning_rate, s0, x);
        for (int j = 0; j < TOY_F; j++) assert_float_equal(foil_f32(&r.x)[k * TOY_F + j], x[j], 1e-5);
        assert_int_equal(r.iterations[k], 3);
        assert_int_equal(r.best_iteration[k], 3); /* each step lowered the cost */
        assert_int_equal(r.stop[k], FOIL_INVERSION_MAX_ITER);
    }
    /* 4 evaluations (x_0 .. x_3) of 2 examples */
    assert_int_equal(foil_model_gradients(m), 8);
    foil_inversion_result_free(&r);
    foil_tensor_free(&start);
    foil_model_free(m);
}

/* The threshold stops at the first step whose cost is at or below it. */
static void test_threshold_stops_first_time(void **state)
{
    (void)state;
    foil_model *m = toy_model();
    foil_inversion_options o;
    foil_inversion_defaults(&o);
    o.learning_rate = 0.05;
    o.threshold = 0.5;
    o.quiet = 1;
    foil_inversion_result r, before;
    assert_int_equal(foil_miface(m, all3, 1, lo01, hi01, NULL, &o, &r), FOIL_OK);
    assert_int_equal(r.stop[0], FOIL_INVERSION_THRESHOLD);
    assert_true(r.cost[0] <= 0.5f && r.probability[0] >= 0.5f);
    assert_true(r.iterations[0] > 1 && r.iterations[0] < o.max_iter);
    o.max_iter = r.iterations[0] - 1; /* one step fewer: not there yet */
    assert_int_equal(foil_miface(m, all3, 1, lo01, hi01, NULL, &o, &before), FOIL_OK);
    assert_int_equal(before.stop[0], FOIL_INVERSION_MAX_ITER);
    assert_true(before.cost[0] > 0.5f);
    foil_inversion_result_free(&r);
    foil_inversion_result_free(&before);
    foil_model_free(m);
}

static void test_bounds(void **state)
{
    (void)state;
    foil_model *m = toy_model();
    foil_inversion_options o;
    foil_inversion_defaults(&o);
    o.learning_rate = 1.0;
    o.max_iter = 300;
    o.quiet = 1;
    const float lo[TOY_F] = {0.2f, 0.1f, 0.3f, 0.4f}, hi[TOY_F] = {0.6f, 0.7f, 0.5f, 0.9f};
    foil_inversion_result r;
    assert_int_equal(foil_miface(m, all3, TOY_C, lo, hi, NULL, &o, &r), FOIL_OK);
    for (int k = 0; k < TOY_C; k++)
        for (int j = 0; j < TOY_F; j++) /* the zeros start clipped up to lo; the class's own feature driven to hi */
            assert_float_equal(foil_f32(&r.x)[k * TOY_F + j], j == k ? hi[j] : lo[j], 1e-6);
    foil_inversion_result_free(&r);
    foil_model_free(m);
}

/* AuxTerm 1 - x[3] (a prior that wants feature 3 high; never negative, so
 * the cost stays above the threshold 0); Process counts its calls. */
static foil_status aux_want_f3(void *ctx, const float *x, int64_t n, int64_t d, float *value, float *grad)
{
    (void)ctx;
    for (int64_t i = 0; i < n; i++) {
        value[i] += 1.0f - x[i * d + 3];
        grad[i * d + 3] -= 1.0f;
    }
    return FOIL_OK;
}

static foil_status count_process(void *ctx, float *x, int64_t n, int64_t d)
{
    (void)x, (void)n, (void)d;
    ++*(int *)ctx;
    return FOIL_OK;
}

static void test_aux_and_process(void **state)
{
    (void)state;
    foil_model *m = toy_model();
    foil_inversion_options o;
    foil_inversion_defaults(&o);
    o.learning_rate = 1.0;
    o.max_iter = 50;
    o.window_length = 0;
    o.threshold = 0;
    o.quiet = 1;
    int calls = 0;
    o.aux = aux_want_f3;
    o.process = count_process;
    o.process_ctx = &calls;
    foil_inversion_result r;
    assert_int_equal(foil_miface(m, all3, 1, lo01, hi01, NULL, &o, &r), FOIL_OK);
    assert_float_equal(foil_f32(&r.x)[3], 1.0f, 1e-6); /* without AuxTerm it would stay at 0 */
    assert_float_equal(r.cost[0], 1 - r.probability[0], 1e-5); /* AuxTerm 0 there */
    assert_int_equal(calls, 50);
    foil_inversion_result_free(&r);
    foil_model_free(m);
}

static void test_errors(void **state)
{
    (void)state;
    foil_model *m = toy_model();
    foil_inversion_options o;
    foil_inversion_defaults(&o);
    o.quiet = 1;
    foil_inversion_result r;
    const int64_t bad = 3;
    assert_int_equal(foil_miface(m, &bad, 1, lo01, hi01, NULL, &o, &r), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "class 3"));
    o.learning_rate = 0;
    assert_int_equal(foil_miface(m, all3, 1, lo01, hi01, NULL, &o, &r), FOIL_ERR_ARG);
    foil_model *bb;
    assert_int_equal(foil_model_black_box(m, 0, NULL, &bb), FOIL_OK);
    foil_inversion_defaults(&o);
    assert_int_equal(foil_miface(bb, all3, 1, lo01, hi01, NULL, &o, &r), FOIL_ERR_CAPABILITY);
    assert_non_null(strstr(foil_last_error(), "gradients"));
    foil_model_free(bb);
}

static void test_compare(void **state)
{
    (void)state;
    int64_t ms[2] = {3, 4}, xs[2] = {2, 4};
    foil_tensor means = {0}, x = {0};
    assert_int_equal(foil_tensor_alloc(&means, FOIL_F32, 2, ms), FOIL_OK);
    assert_int_equal(foil_tensor_alloc(&x, FOIL_F32, 2, xs), FOIL_OK);
    const float mv[12] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0};
    const float xv[8] = {0.9f, 0.1f, 0, 0, 0, 0.1f, 0.2f, 0};
    memcpy(means.data, mv, sizeof mv);
    memcpy(x.data, xv, sizeof xv);
    const int64_t labels[2] = {0, 1};
    foil_inversion_match mt[2];
    assert_int_equal(foil_inversion_compare(&x, labels, 2, &means, mt), FOIL_OK);
    assert_float_equal(mt[0].l2_own, sqrt(0.01 + 0.01), 1e-6);
    assert_int_equal(mt[0].rank_l2, 1);
    assert_int_equal(mt[0].rank_corr, 1);
    /* x[1] is nearest class 2's mean; its own ranks second by L2 and by correlation */
    assert_int_equal(mt[1].nearest_l2, 2);
    assert_int_equal(mt[1].rank_l2, 2);
    assert_int_equal(mt[1].rank_corr, 2);
    const int64_t out_of_range = 3;
    assert_int_equal(foil_inversion_compare(&x, &out_of_range, 1, &means, mt), FOIL_ERR_ARG);
    foil_tensor_free(&means);
    foil_tensor_free(&x);
}

/* ------------------------------------------------------------------------- */
/* the AT&T faces                                                            */

static int faces_dir(char *buf, size_t size)
{
    const char *shared = getenv("FOIL_SHARED_DATA");
    struct stat sb;
    snprintf(buf, size, "%s/att_faces/orl_faces", shared ? shared : "../shared/data");
    return stat(buf, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Softmax regression (Fredrikson et al.'s first model) on the training split. */
static foil_model *train_faces(const foil_dataset *tr, const foil_dataset *te)
{
    int64_t none[1] = {0};
    foil_arch_spec s = {.name = "mlp", .input_rank = 4, .input_shape = {1, 112, 92}, .classes = 40, .hidden = none};
    foil_model *m;
    assert_int_equal(foil_arch_build(&s, &m), FOIL_OK);
    foil_train_options o;
    foil_train_defaults(&o);
    o.epochs = 30;
    o.batch = 32;
    o.optim.kind = FOIL_OPT_ADAM;
    o.optim.lr = 1e-3;
    o.quiet = 1;
    foil_train_report rep;
    assert_int_equal(foil_train(m, tr, te, &o, &rep), FOIL_OK);
    const double acc = rep.epoch[rep.epochs - 1].val_accuracy;
    printf("softmax regression: test accuracy %.2f%% (%lld test images)\n", 100 * acc, (long long)te->x.shape[0]);
    assert_true(acc > 0.85);
    return m;
}

static void test_faces(void **state)
{
    (void)state;
    char dir[1024];
    if (!faces_dir(dir, sizeof dir)) {
        printf("skipped: no AT&T faces at %s (FOIL_SHARED_DATA/att_faces)\n", dir);
        skip();
    }
    foil_data_spec spec = {.data = dir};
    foil_dataset tr, te;
    assert_int_equal(foil_data_load(&spec, FOIL_SPLIT_TRAIN, &tr), FOIL_OK);
    assert_int_equal(foil_data_load(&spec, FOIL_SPLIT_TEST, &te), FOIL_OK);
    assert_int_equal(tr.classes, 40);
    assert_int_equal(tr.x.shape[0] + te.x.shape[0], 400);
    double t0 = foil_now();
    foil_model *m = train_faces(&tr, &te);
    const double t_train = foil_now() - t0;
    int64_t labels[40];
    for (int k = 0; k < 40; k++) labels[k] = k;
    foil_inversion_options o;
    foil_inversion_defaults(&o);
    o.learning_rate = 1.0; /* ten times the paper's step, so 300 steps reach p 0.99 or near it */
    o.max_iter = 300;
    o.quiet = 1;
    foil_inversion_result r;
    t0 = foil_now();
    assert_int_equal(foil_miface(m, labels, 40, foil_f32(&tr.lower), foil_f32(&tr.upper), NULL, &o, &r), FOIL_OK);
    const double t_inv = foil_now() - t0;
    foil_tensor means;
    foil_inversion_match mt[40];
    assert_int_equal(foil_inversion_class_means(&tr, &means), FOIL_OK);
    assert_int_equal(foil_inversion_compare(&r.x, labels, 40, &means, mt), FOIL_OK);
    int corr = 0, l2 = 0;
    double p = 0;
    for (int k = 0; k < 40; k++) {
        corr += mt[k].rank_corr == 1;
        l2 += mt[k].rank_l2 == 1;
        p += r.probability[k] / 40;
    }
    printf("miface on 40 subjects (%.1f s training, %.1f s inversion): own mean the most correlated for %d, the "
           "nearest in L2 for %d; mean target probability %.3f\n", t_train, t_inv, corr, l2, p);
    assert_true(p > 0.9);    /* the descent did its job */
    assert_true(corr > 20);  /* most reconstructions look most like their own subject */
    foil_tensor_free(&means);
    foil_inversion_result_free(&r);
    foil_model_free(m);
    foil_dataset_free(&tr);
    foil_dataset_free(&te);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reaches_the_corner),
        cmocka_unit_test(test_steps_as_written),
        cmocka_unit_test(test_threshold_stops_first_time),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_aux_and_process),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_compare),
        cmocka_unit_test(test_faces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
