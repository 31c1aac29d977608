/*
 * Text classifiers over token ids: the built-in text architectures
 * (text-cnn, text-lstm, bow-logreg) run, refuse bad ids by name, have weight
 * gradients that match finite differences, learn a task that needs one
 * token anywhere in the text, and export and reload as int64-input ONNX.
 * Also: an integer input bound at plan time (it decides shapes) refuses new
 * values at forward instead of silently answering for the old ones.
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

#include "foil/arch.h"
#include "foil/data.h"
#include "foil/model.h"
#include "foil/rng.h"
#include "foil/train.h"
#include "model/model_internal.h"
#include "nn/builder.h"
#include "nn/graph.h"

enum { VOCAB = 30, LEN = 12, SIGNAL = 7, PAD = 0 };

static const char *const text_archs[3] = {"text-cnn", "text-lstm", "bow-logreg"};

static foil_model *build_text(const char *name, int64_t classes, uint64_t seed)
{
    foil_arch_spec s = {.name = name, .input_rank = 2, .input_shape = {LEN}, .classes = classes, .seed = seed,
                        .vocab_size = VOCAB, .pad_id = PAD};
    foil_model *m = NULL;
    if (foil_arch_build(&s, &m)) fail_msg("%s: %s", name, foil_last_error());
    return m;
}

/* n texts of LEN ids: a length in [3, LEN], tokens from [2, VOCAB) (1 is
 * left unused, like an unknown-word id), then padding; label 1 when the
 * SIGNAL token occurs (about half of them). */
static void make_texts(foil_dataset *d, int64_t n, uint64_t seed)
{
    memset(d, 0, sizeof *d);
    assert_int_equal(foil_tensor_alloc(&d->x, FOIL_F32, 2, (int64_t[]){n, LEN}), FOIL_OK);
    assert_int_equal(foil_tensor_alloc(&d->y, FOIL_I64, 1, (int64_t[]){n}), FOIL_OK);
    assert_int_equal(foil_tensor_alloc(&d->lower, FOIL_F32, 1, (int64_t[]){LEN}), FOIL_OK);
    assert_int_equal(foil_tensor_alloc(&d->upper, FOIL_F32, 1, (int64_t[]){LEN}), FOIL_OK);
    for (int j = 0; j < LEN; j++) foil_f32(&d->upper)[j] = VOCAB - 1;
    d->classes = 2;
    foil_rng r = foil_rng_make(seed, 5);
    for (int64_t i = 0; i < n; i++) {
        float *x = foil_f32(&d->x) + i * LEN;
        const int64_t len = 3 + (int64_t)(foil_rng_uniform_d(&r) * (LEN - 2));
        const int positive = foil_rng_uniform_d(&r) < 0.5;
        for (int64_t j = 0; j < LEN; j++) {
            int64_t t = j < len ? 2 + (int64_t)(foil_rng_uniform_d(&r) * (VOCAB - 2)) : PAD;
            if (t == SIGNAL) t = SIGNAL + 1;
            x[j] = (float)t;
        }
        if (positive) x[(int64_t)(foil_rng_uniform_d(&r) * (double)len)] = SIGNAL;
        foil_i64(&d->y)[i] = positive;
    }
}

static void test_text_archs_run(void **state)
{
    (void)state;
    foil_dataset d;
    make_texts(&d, 5, 1);
    for (int a = 0; a < 3; a++) {
        foil_model *m = build_text(text_archs[a], 3, 1);
        foil_tensor logits = {0};
        if (foil_model_predict(m, &d.x, &logits)) fail_msg("%s: %s", text_archs[a], foil_last_error());
        assert_int_equal(logits.shape[0], 5);
        assert_int_equal(logits.shape[1], 3);
        for (int64_t i = 0; i < logits.numel; i++) assert_true(isfinite(foil_f32(&logits)[i]));
        /* ids have no gradient: gradient attacks are told why */
        assert_false(foil_model_capabilities(m) & FOIL_MODEL_GRADIENTS);
        const char *why = foil_model_why_no_gradients(m);
        assert_non_null(why);
        assert_non_null(strstr(why, "token ids"));
        const FoilGraph *g = foilGraphModelOf(m)->g;
        assert_int_equal(g->values[g->inputs[0]].decl_dtype, FOIL_I64);
        foil_tensor_free(&logits);
        foil_model_free(m);
    }
    /* bow-logreg starts at zero weights: every logit is 0 */
    foil_model *m = build_text("bow-logreg", 2, 3);
    foil_tensor logits = {0};
    assert_int_equal(foil_model_predict(m, &d.x, &logits), FOIL_OK);
    for (int64_t i = 0; i < logits.numel; i++) assert_true(foil_f32(&logits)[i] == 0.0f);
    foil_tensor_free(&logits);
    foil_model_free(m);
    foil_dataset_free(&d);
}

static void expect_refused(foil_model *m, const foil_tensor *x, const char *needle)
{
    foil_tensor logits = {0};
    foil_status st = foil_model_predict(m, x, &logits);
    if (st == FOIL_OK) fail_msg("ids were accepted; expected an error with '%s'", needle);
    if (!strstr(foil_last_error(), needle)) fail_msg("error '%s' does not say '%s'", foil_last_error(), needle);
    foil_tensor_free(&logits);
}

static void test_text_bad_ids(void **state)
{
    (void)state;
    foil_dataset d;
    make_texts(&d, 4, 2);
    foil_model *m = build_text("text-cnn", 2, 1);
    float *x = foil_f32(&d.x);
    x[5] = 2.5f;
    expect_refused(m, &d.x, "not a whole number");
    x[5] = NAN;
    expect_refused(m, &d.x, "not a whole number");
    x[5] = (float)VOCAB; /* one past the vocabulary */
    expect_refused(m, &d.x, "out of range");
    x[5] = -(float)VOCAB - 1;
    expect_refused(m, &d.x, "out of range");
    x[5] = 3.0f;
    foil_tensor logits = {0};
    assert_int_equal(foil_model_predict(m, &d.x, &logits), FOIL_OK);
    foil_tensor_free(&logits);
    foil_model_free(m);
    foil_dataset_free(&d);
}

/* sum(dy * logits) for the weights as they are now. */
static double weighted_logits(FoilGraph *g, const foil_tensor *x, const float *dy)
{
    const foil_tensor *in[1] = {x};
    assert_int_equal(foilGraphForward(g, in, 0, 0), FOIL_OK);
    const foil_tensor *y = foilGraphOutput(g, 0);
    double s = 0;
    for (int64_t i = 0; i < y->numel; i++) s += (double)dy[i] * foil_f32(y)[i];
    return s;
}

/* The weight gradient along a random direction (each weight's entries
 * scaled by its RMS) against central differences of step 1e-3: small
 * enough that no max (pooling over the text, over time) switches. */
static void check_weight_fd(const char *name)
{
    foil_model *m = build_text(name, 3, 4);
    FoilGraph *g = foilGraphModelOf(m)->g;
    foil_dataset d;
    make_texts(&d, 3, 3);
    if (strcmp(name, "bow-logreg") == 0) /* away from its all-zero start */
        for (int i = 0; i < g->n_values; i++) {
            foil_rng r = foil_rng_make(11, (uint64_t)i);
            if (g->values[i].kind == FOIL_VALUE_PARAM)
                for (int64_t j = 0; j < g->values[i].t.numel; j++) foil_f32(&g->values[i].t)[j] = (float)foil_rng_normal(&r);
        }
    const foil_tensor *in[1] = {&d.x};
    assert_int_equal(foilGraphPlan(g, in), FOIL_OK);
    const foil_tensor *y = foilGraphOutput(g, 0);
    foil_tensor dy = {0};
    assert_int_equal(foil_tensor_alloc(&dy, FOIL_F32, 2, y->shape), FOIL_OK);
    foil_rng r = foil_rng_make(8, 8);
    for (int64_t i = 0; i < dy.numel; i++) foil_f32(&dy)[i] = (float)foil_rng_normal(&r);
    const foil_tensor *dys[1] = {&dy};
    assert_int_equal(foilGraphForward(g, in, 0, 0), FOIL_OK);
    assert_int_equal(foilGraphBackward(g, dys, FOIL_GRAD_PARAMS), FOIL_OK);
    double analytic = 0;
    float **saved = calloc((size_t)g->n_values, sizeof *saved), **dir = calloc((size_t)g->n_values, sizeof *dir);
    assert_non_null(saved);
    assert_non_null(dir);
    int trained = 0;
    for (int i = 0; i < g->n_values; i++) {
        FoilValue *p = &g->values[i];
        if (p->kind != FOIL_VALUE_PARAM || !p->trainable) continue;
        trained++;
        size_t nb = (size_t)p->t.numel * sizeof(float);
        saved[i] = malloc(nb);
        dir[i] = malloc(nb);
        assert_non_null(saved[i]);
        assert_non_null(dir[i]);
        memcpy(saved[i], p->t.data, nb);
        double rms = 0;
        for (int64_t j = 0; j < p->t.numel; j++) rms += (double)saved[i][j] * saved[i][j];
        rms = rms > 0 ? sqrt(rms / (double)p->t.numel) : 0.1;
        for (int64_t j = 0; j < p->t.numel; j++) {
            dir[i][j] = (float)(foil_rng_normal(&r) * rms);
            analytic += (double)foil_f32(&p->grad)[j] * dir[i][j];
        }
    }
    assert_true(trained >= 2); /* the table, and at least a bias after it */
    const float h = 1e-3f;
    double l[2];
    for (int sgn = 0; sgn < 2; sgn++) {
        for (int i = 0; i < g->n_values; i++)
            if (saved[i])
                for (int64_t j = 0; j < g->values[i].t.numel; j++)
                    foil_f32(&g->values[i].t)[j] = saved[i][j] + (sgn ? -h : h) * dir[i][j];
        l[sgn] = weighted_logits(g, &d.x, foil_f32(&dy));
    }
    const double numeric = (l[0] - l[1]) / (2.0 * h);
    printf("  %-10s weight direction: analytic %.5f, finite differences %.5f\n", name, analytic, numeric);
    if (fabs(analytic - numeric) > 2e-2 * fabs(numeric) + 2e-2)
        fail_msg("%s: weight gradient %.6f vs finite differences %.6f", name, analytic, numeric);
    for (int i = 0; i < g->n_values; i++) {
        free(saved[i]);
        free(dir[i]);
    }
    free(saved);
    free(dir);
    foil_tensor_free(&dy);
    foil_dataset_free(&d);
    foil_model_free(m);
}

static void test_text_weight_gradients(void **state)
{
    (void)state;
    for (int a = 0; a < 3; a++) check_weight_fd(text_archs[a]);
}

static double accuracy(foil_model *m, const foil_dataset *d)
{
    foil_tensor logits = {0};
    if (foil_model_predict(m, &d->x, &logits)) fail_msg("%s", foil_last_error());
    int64_t right = 0, n = d->x.shape[0];
    for (int64_t i = 0; i < n; i++) {
        const float *z = foil_f32(&logits) + i * 2;
        right += (z[1] > z[0]) == (foil_i64(&d->y)[i] == 1);
    }
    foil_tensor_free(&logits);
    return (double)right / (double)n;
}

/* Each architecture learns "does token 7 occur anywhere": a bag of words
 * can, and so must convolutions max-pooled over the text and an LSTM. */
static void test_text_archs_learn(void **state)
{
    (void)state;
    foil_dataset train, test;
    make_texts(&train, 800, 10);
    make_texts(&test, 300, 11);
    for (int a = 0; a < 3; a++) {
        foil_model *m = build_text(text_archs[a], 2, 5);
        foil_train_options o;
        foil_train_defaults(&o);
        o.optim = foil_optim_defaults(FOIL_OPT_ADAM);
        o.optim.lr = 1e-2;
        o.epochs = 6;
        o.batch = 32;
        o.quiet = 1;
        o.seed = 3;
        foil_train_report rep;
        if (foil_train(m, &train, NULL, &o, &rep)) fail_msg("%s: %s", text_archs[a], foil_last_error());
        const double before = 0.5, acc = accuracy(m, &test);
        printf("  %-10s held-out accuracy %.3f after %lld epochs\n", text_archs[a], acc, (long long)o.epochs);
        if (acc < 0.95) fail_msg("%s: %.3f held-out accuracy (chance %.1f)", text_archs[a], acc, before);
        /* export, reload: the same logits from an int64-input ONNX file */
        char path[128];
        snprintf(path, sizeof path, "/tmp/foil-test-text-%ld-%d.onnx", (long)getpid(), a);
        assert_int_equal(foil_model_save(m, path), FOIL_OK);
        foil_model *back = NULL;
        if (foil_model_load(path, &back)) fail_msg("%s", foil_last_error());
        foil_tensor y1 = {0}, y2 = {0};
        assert_int_equal(foil_model_predict(m, &test.x, &y1), FOIL_OK);
        assert_int_equal(foil_model_predict(back, &test.x, &y2), FOIL_OK);
        assert_memory_equal(y1.data, y2.data, foil_tensor_nbytes(&y1));
        assert_false(foil_model_capabilities(back) & FOIL_MODEL_GRADIENTS);
        foil_tensor_free(&y1);
        foil_tensor_free(&y2);
        foil_model_free(back);
        foil_model_free(m);
        unlink(path);
    }
    foil_dataset_free(&train);
    foil_dataset_free(&test);
}

/* Reshape(x, shape) with `shape` a graph input: its values decide the
 * output shape, so they are fixed at plan time, and forward must refuse
 * others rather than answer for the planned ones. */
static void test_known_input_changed(void **state)
{
    (void)state;
    FoilBuilder b;
    assert_int_equal(foilBuilderBegin(&b, "reshape-input", 13), FOIL_OK);
    int x = foilBuilderInput(&b, "x", FOIL_F32, 2, (int64_t[]){2, 6}, NULL);
    int s = foilBuilderInput(&b, "shape", FOIL_I64, 1, (int64_t[]){2}, NULL);
    int y = foilBuilderOp(&b, "Reshape", "r", FOIL_B_IN(x, s), FOIL_B_NO_ATTRS);
    assert_int_equal(foilBuilderOutput(&b, y, FOIL_F32, 2, (int64_t[]){-1, -1}, NULL), FOIL_OK);
    FoilGraph *g = NULL;
    assert_int_equal(foilBuilderFinish(&b, &g), FOIL_OK);
    foil_tensor xt = {0}, st = {0};
    assert_int_equal(foil_tensor_alloc(&xt, FOIL_F32, 2, (int64_t[]){2, 6}), FOIL_OK);
    assert_int_equal(foil_tensor_alloc(&st, FOIL_I64, 1, (int64_t[]){2}), FOIL_OK);
    foil_i64(&st)[0] = 3;
    foil_i64(&st)[1] = 4;
    const foil_tensor *in[2] = {&xt, &st};
    assert_int_equal(foilGraphPlan(g, in), FOIL_OK);
    assert_int_equal(foilGraphForward(g, in, 0, 0), FOIL_OK);
    assert_int_equal(foilGraphOutput(g, 0)->shape[0], 3);
    foil_i64(&st)[0] = 4;
    foil_i64(&st)[1] = 3;
    assert_int_equal(foilGraphForward(g, in, 0, 0), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "'shape' decides shapes"));
    assert_int_equal(foilGraphPlan(g, in), FOIL_OK); /* a new plan takes them */
    assert_int_equal(foilGraphForward(g, in, 0, 0), FOIL_OK);
    assert_int_equal(foilGraphOutput(g, 0)->shape[0], 4);
    foil_tensor_free(&xt);
    foil_tensor_free(&st);
    foilGraphFree(g);
}

static void test_text_bad_specs(void **state)
{
    (void)state;
    foil_arch_spec s = {.name = "text-cnn", .input_rank = 2, .input_shape = {LEN}, .classes = 2, .vocab_size = 1};
    foil_model *m = NULL;
    assert_int_equal(foil_arch_build(&s, &m), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "vocabulary"));
    s.vocab_size = VOCAB;
    s.pad_id = VOCAB;
    assert_int_equal(foil_arch_build(&s, &m), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "padding id"));
    s.pad_id = 0;
    s.input_shape[0] = 4;
    assert_int_equal(foil_arch_build(&s, &m), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "too short"));
    s.input_shape[0] = LEN;
    s.input_rank = 4;
    assert_int_equal(foil_arch_build(&s, &m), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "rank 2"));
    assert_null(m);
    assert_true(foil_arch_is_text("text-lstm"));
    assert_false(foil_arch_is_text("cnn-small"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_bad_specs),
        cmocka_unit_test(test_text_archs_run),
        cmocka_unit_test(test_text_bad_ids),
        cmocka_unit_test(test_text_weight_gradients),
        cmocka_unit_test(test_text_archs_learn),
        cmocka_unit_test(test_known_input_changed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
