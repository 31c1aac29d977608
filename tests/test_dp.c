/*
 * tests/test_dp.c - DP-SGD (foil train --dp; model/dp_sgd.h): the
 * per-example gradient norms of one backward pass (nn/graph.h,
 * foilGraphExampleNorms) against each example's own backward, for every
 * Conv path, Gemm, MatMul (one and several rows an example) and
 * elementwise weights; the clipped sum against sum_n c_n g_n made one
 * example at a time; a DP step at q = 1 with no clipping and negligible
 * noise against an ordinary full-batch step, and at q < 1 against the
 * batch it sampled, divided by q N; Poisson sampling and the noise's
 * statistics; the accounting foil_train reports; and what it refuses.
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
#include "foil/privacy.h"
#include "foil/rng.h"
#include "foil/train.h"
#include "model/dp_sgd.h"
#include "model/model_internal.h"
#include "nn/builder.h"
#include "toy_data.h"

/* ------------------------------------------------------------------------
 * Graphs
 */

static foil_model *arch(const char *name, int64_t side, int64_t classes, uint64_t seed)
{
    foil_arch_spec s;
    memset(&s, 0, sizeof s);
    s.name = name;
    s.input_rank = 4;
    s.input_shape[0] = 1;
    s.input_shape[1] = side;
    s.input_shape[2] = side;
    s.classes = classes;
    s.seed = seed;
    foil_model *m = NULL;
    if (foil_arch_build(&s, &m)) fail_msg("%s", foil_last_error());
    return m;
}

/* A weight of the given shape, uniform in [-scale, scale). */
static int weight(FoilBuilder *b, const char *name, int ndim, const int64_t *shape, float scale, foil_rng *r)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    float *v = malloc((size_t)n * sizeof *v);
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++) v[i] = scale * (2 * foil_rng_uniform(r) - 1);
    int id = foilBuilderParam(b, name, ndim, shape, v);
    free(v);
    return id;
}

static FoilGraph *finish(FoilBuilder *b)
{
    FoilGraph *g = NULL;
    if (foilBuilderFinish(b, &g)) fail_msg("%s", foil_last_error());
    return g;
}

/* Every Conv path of nn/ops/conv.c on a 1 x 8 x 8 input: few taps with a
 * fused Relu and MaxPool (conv1), direct (conv2), im2col with stride 2
 * (conv3), 1x1 (conv4), grouped without bias (conv5, then Tanh); then
 * Flatten, MatMul, Add of a bias and Mul by a learned scale. */
static FoilGraph *zoo_net(uint64_t seed)
{
    foil_rng r = foil_rng_make(seed, 1);
    FoilBuilder b;
    foilBuilderBegin(&b, "zoo", 13);
    int x = foilBuilderInput(&b, "input", FOIL_F32, 4, (int64_t[]){-1, 1, 8, 8}, NULL);
    const FoilBattr pad1 = FOIL_BATTR_INTS("pads", 1, 1, 1, 1);
    int h = foilBuilderOp(&b, "Conv", "conv1",
                          FOIL_B_IN(x, weight(&b, "w1", 4, (int64_t[]){8, 1, 3, 3}, 0.5f, &r),
                                    weight(&b, "b1", 1, (int64_t[]){8}, 0.1f, &r)),
                          FOIL_B_ATTRS(pad1));
    h = foilBuilderOp(&b, "Relu", "relu1", FOIL_B_IN(h), FOIL_B_NO_ATTRS);
    h = foilBuilderOp(&b, "MaxPool", "pool1", FOIL_B_IN(h),
                      FOIL_B_ATTRS(FOIL_BATTR_INTS("kernel_shape", 2, 2), FOIL_BATTR_INTS("strides", 2, 2)));
    h = foilBuilderOp(&b, "Conv", "conv2",
                      FOIL_B_IN(h, weight(&b, "w2", 4, (int64_t[]){8, 8, 3, 3}, 0.2f, &r),
                                weight(&b, "b2", 1, (int64_t[]){8}, 0.1f, &r)),
                      FOIL_B_ATTRS(pad1));
    h = foilBuilderOp(&b, "Relu", "relu2", FOIL_B_IN(h), FOIL_B_NO_ATTRS);
    h = foilBuilderOp(&b, "Conv", "conv3",
                      FOIL_B_IN(h, weight(&b, "w3", 4, (int64_t[]){6, 8, 3, 3}, 0.2f, &r),
                                weight(&b, "b3", 1, (int64_t[]){6}, 0.1f, &r)),
                      FOIL_B_ATTRS(pad1, FOIL_BATTR_INTS("strides", 2, 2)));
    h = foilBuilderOp(&b, "Conv", "conv4",
                      FOIL_B_IN(h, weight(&b, "w4", 4, (int64_t[]){6, 6, 1, 1}, 0.4f, &r),
                                weight(&b, "b4", 1, (int64_t[]){6}, 0.1f, &r)),
                      FOIL_B_NO_ATTRS);
    h = foilBuilderOp(&b, "Conv", "conv5", FOIL_B_IN(h, weight(&b, "w5", 4, (int64_t[]){6, 3, 3, 3}, 0.3f, &r)),
                      FOIL_B_ATTRS(pad1, FOIL_BATTR_INT("group", 2)));
    h = foilBuilderOp(&b, "Tanh", "tanh", FOIL_B_IN(h), FOIL_B_NO_ATTRS);
    h = foilBuilderOp(&b, "Flatten", "flatten", FOIL_B_IN(h), FOIL_B_NO_ATTRS);
    h = foilBuilderOp(&b, "MatMul", "fc", FOIL_B_IN(h, weight(&b, "wfc", 2, (int64_t[]){24, 10}, 0.3f, &r)),
                      FOIL_B_NO_ATTRS);
    h = foilBuilderOp(&b, "Add", "fc_bias", FOIL_B_IN(h, weight(&b, "bfc", 1, (int64_t[]){10}, 0.1f, &r)),
                      FOIL_B_NO_ATTRS);
    h = foilBuilderOp(&b, "Mul", "scale", FOIL_B_IN(weight(&b, "s", 2, (int64_t[]){1, 10}, 1.0f, &r), h),
                      FOIL_B_NO_ATTRS);
    foilBuilderOutput(&b, h, FOIL_F32, 2, (int64_t[]){-1, 10}, NULL);
    return finish(&b);
}

/* Three rows an example through one MatMul: x (N, 3, 5) W (5, 4), a
 * bias, Relu, Flatten, Gemm. */
static FoilGraph *rows_net(uint64_t seed)
{
    foil_rng r = foil_rng_make(seed, 2);
    FoilBuilder b;
    foilBuilderBegin(&b, "rows", 13);
    int x = foilBuilderInput(&b, "input", FOIL_F32, 3, (int64_t[]){-1, 3, 5}, NULL);
    int h = foilBuilderOp(&b, "MatMul", "mm", FOIL_B_IN(x, weight(&b, "w", 2, (int64_t[]){5, 4}, 0.5f, &r)),
                          FOIL_B_NO_ATTRS);
    h = foilBuilderOp(&b, "Add", "bias", FOIL_B_IN(h, weight(&b, "b", 1, (int64_t[]){4}, 0.2f, &r)),
                      FOIL_B_NO_ATTRS);
    h = foilBuilderOp(&b, "Relu", "relu", FOIL_B_IN(h), FOIL_B_NO_ATTRS);
    h = foilBuilderOp(&b, "Flatten", "flatten", FOIL_B_IN(h), FOIL_B_NO_ATTRS);
    h = foilBuilderOp(&b, "Gemm", "fc",
                      FOIL_B_IN(h, weight(&b, "wfc", 2, (int64_t[]){3, 12}, 0.5f, &r),
                                weight(&b, "bfc", 1, (int64_t[]){3}, 0.2f, &r)),
                      FOIL_B_ATTRS(FOIL_BATTR_INT("transB", 1)));
    foilBuilderOutput(&b, h, FOIL_F32, 2, (int64_t[]){-1, 3}, NULL);
    return finish(&b);
}

/* ------------------------------------------------------------------------
 * Per-example norms and the clipped sum against one example at a time
 */

static void fill_normal(foil_tensor *t, foil_rng *r, float scale)
{
    for (int64_t i = 0; i < t->numel; i++) foil_f32(t)[i] = scale * (float)foil_rng_normal(r);
}

/* Row n of t (a view). */
static foil_tensor row(const foil_tensor *t, int64_t n)
{
    foil_tensor v = *t;
    const int64_t per = t->numel / t->shape[0];
    v.shape[0] = 1;
    v.numel = per;
    v.data = foil_f32(t) + n * per;
    v.owns_data = 0;
    return v;
}

/* Example n alone: plan for 1, forward, backward of its logits' gradient;
 * the squared norm of its weight gradient, and (when sum is given) the
 * gradient times c added to sum (graph order). */
static double one_example(FoilGraph *g, const foil_tensor *x, const foil_tensor *dl, int64_t n, double c, double *sum)
{
    foil_tensor xn = row(x, n), dn = row(dl, n);
    const foil_tensor *in[1] = {&xn}, *d[1] = {&dn};
    assert_int_equal(foilGraphPlan(g, in), FOIL_OK);
    assert_int_equal(foilGraphForward(g, in, 1, 0), FOIL_OK);
    assert_int_equal(foilGraphBackward(g, d, FOIL_GRAD_PARAMS), FOIL_OK);
    double sq = 0;
    int64_t at = 0;
    for (int i = 0; i < g->n_values; i++) {
        const FoilValue *v = &g->values[i];
        if (v->kind != FOIL_VALUE_PARAM || !v->trainable) continue;
        for (int64_t j = 0; j < v->grad.numel; j++) {
            const double gj = foil_f32(&v->grad)[j];
            sq += gj * gj;
            if (sum) sum[at + j] += c * gj;
        }
        at += v->grad.numel;
    }
    return sq;
}

static int64_t weight_count(const FoilGraph *g)
{
    int64_t n = 0;
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].kind == FOIL_VALUE_PARAM && g->values[i].trainable) n += g->values[i].t.numel;
    return n;
}

/* x: `batch` inputs of the given shape (without the batch), normal. */
static void inputs(foil_tensor *x, foil_tensor *dl, int rank, const int64_t *shape, int64_t batch, int64_t classes,
                   uint64_t seed)
{
    int64_t s[FOIL_MAX_DIMS] = {batch};
    memcpy(s + 1, shape, (size_t)rank * sizeof *shape);
    assert_int_equal(foil_tensor_alloc(x, FOIL_F32, rank + 1, s), FOIL_OK);
    assert_int_equal(foil_tensor_alloc(dl, FOIL_F32, 2, (int64_t[]){batch, classes}), FOIL_OK);
    foil_rng r = foil_rng_make(seed, 3);
    fill_normal(x, &r, 1.0f);
    fill_normal(dl, &r, 0.5f);
}

/* The norms pass on a batch equals, example by example, the norm of that
 * example's own backward, to a relative 1e-5. */
static void check_norms(FoilGraph *g, int rank, const int64_t *shape, int64_t batch, int64_t classes)
{
    foil_tensor x = {0}, dl = {0};
    inputs(&x, &dl, rank, shape, batch, classes, (uint64_t)batch);
    const foil_tensor *in[1] = {&x}, *d[1] = {&dl};
    float *sq = malloc((size_t)batch * sizeof *sq);
    assert_non_null(sq);
    assert_int_equal(foilGraphPlan(g, in), FOIL_OK);
    assert_int_equal(foilGraphForward(g, in, 1, 0), FOIL_OK);
    assert_int_equal(foilGraphExampleNorms(g, d, batch, sq), FOIL_OK);
    double worst = 0;
    for (int64_t n = 0; n < batch; n++) {
        const double want = one_example(g, &x, &dl, n, 0, NULL), err = fabs(sq[n] - want) / want;
        assert_true(want > 0);
        if (err > worst) worst = err;
        if (err > 1e-5) fail_msg("%s, batch %lld: example %lld's squared norm %.8g, alone %.8g", g->path,
                                 (long long)batch, (long long)n, sq[n], want);
    }
    print_message("%s, batch %lld: per-example squared norms within %.1e of each example's own backward\n", g->path,
                  (long long)batch, worst);
    free(sq);
    foil_tensor_free(&x);
    foil_tensor_free(&dl);
}

static void test_norms_mlp(void **state)
{
    (void)state;
    foil_model *m = arch("mlp", 8, 10, 1);
    const int64_t shape[3] = {1, 8, 8};
    check_norms(foilGraphModelOf(m)->g, 3, shape, 6, 10);
    check_norms(foilGraphModelOf(m)->g, 3, shape, 1, 10);
    foil_model_free(m);
}

static void test_norms_cnn(void **state)
{
    (void)state;
    const int64_t shape[3] = {1, 8, 8};
    foil_model *m = arch("cnn-small", 8, 10, 2);
    check_norms(foilGraphModelOf(m)->g, 3, shape, 5, 10); /* one sample a thread (2 threads) */
    check_norms(foilGraphModelOf(m)->g, 3, shape, 1, 10); /* threads share the sample */
    foil_model_free(m);
    m = arch("lenet5", 12, 10, 3);
    const int64_t big[3] = {1, 12, 12};
    check_norms(foilGraphModelOf(m)->g, 3, big, 4, 10);
    foil_model_free(m);
    /* cnn-tanh at 28x28, as DP-SGD trains it: strided 8x8 and 4x4 convolutions, Tanh, MaxPool stride 1 */
    m = arch("cnn-tanh", 28, 10, 5);
    const int64_t mnist[3] = {1, 28, 28};
    check_norms(foilGraphModelOf(m)->g, 3, mnist, 5, 10);
    check_norms(foilGraphModelOf(m)->g, 3, mnist, 1, 10);
    foil_model_free(m);
    FoilGraph *g = zoo_net(4);
    check_norms(g, 3, shape, 5, 10);
    check_norms(g, 3, shape, 1, 10);
    foilGraphFree(g);
}

static void test_norms_rows(void **state)
{
    (void)state;
    FoilGraph *g = rows_net(5);
    const int64_t shape[2] = {3, 5};
    check_norms(g, 2, shape, 4, 3);
    foilGraphFree(g);
}

/* foilDpClippedSum: the weights' gradients equal sum_n c_n g_n with c_n =
 * min(1, C / ||g_n||), each g_n from its own backward; C at the median
 * norm, so that about half the examples are clipped. */
static void test_clipped_sum(void **state)
{
    (void)state;
    enum { B = 6 };
    foil_model *m = arch("cnn-small", 8, 10, 6);
    FoilGraphModel *gm = foilGraphModelOf(m);
    FoilGraph *g = gm->g;
    const int64_t shape[3] = {1, 8, 8};
    foil_tensor x = {0}, dl = {0};
    inputs(&x, &dl, 3, shape, B, 10, 7);
    const int64_t nw = weight_count(g);
    double *want = calloc((size_t)nw, sizeof *want), norms[B], sorted[B];
    assert_non_null(want);
    for (int64_t n = 0; n < B; n++) sorted[n] = norms[n] = sqrt(one_example(g, &x, &dl, n, 0, NULL));
    for (int i = 0; i < B; i++)
        for (int j = i + 1; j < B; j++)
            if (sorted[j] < sorted[i]) {
                double t = sorted[i];
                sorted[i] = sorted[j];
                sorted[j] = t;
            }
    const double clip = 0.5 * (sorted[B / 2 - 1] + sorted[B / 2]);
    int64_t want_clipped = 0;
    for (int64_t n = 0; n < B; n++) {
        const double c = norms[n] > clip ? clip / norms[n] : 1.0;
        want_clipped += c < 1;
        one_example(g, &x, &dl, n, c, want);
    }
    const foil_tensor *in[1] = {&x};
    float sq[B];
    int64_t clipped = -1;
    assert_int_equal(foilGraphPlan(g, in), FOIL_OK);
    assert_int_equal(foilGraphForward(g, in, 1, 0), FOIL_OK);
    assert_int_equal(foilDpClippedSum(gm, &dl, B, clip, sq, &clipped), FOIL_OK);
    assert_int_equal(clipped, want_clipped);
    assert_int_equal(clipped, B / 2);
    double err2 = 0, ref2 = 0;
    int64_t at = 0;
    for (int i = 0; i < g->n_values; i++) {
        const FoilValue *v = &g->values[i];
        if (v->kind != FOIL_VALUE_PARAM || !v->trainable) continue;
        for (int64_t j = 0; j < v->grad.numel; j++) {
            const double d = foil_f32(&v->grad)[j] - want[at + j];
            err2 += d * d;
            ref2 += want[at + j] * want[at + j];
        }
        at += v->grad.numel;
    }
    print_message("clipped sum at C = %.4g (%lld of %d clipped): relative error %.1e\n", clip, (long long)clipped, B,
                  sqrt(err2 / ref2));
    assert_true(sqrt(err2 / ref2) < 1e-5);
    free(want);
    foil_tensor_free(&x);
    foil_tensor_free(&dl);
    foil_model_free(m);
}

/* ------------------------------------------------------------------------
 * Whole steps through foil_train
 */

enum { TOY_N = 40, TOY_CLASSES = 4, TOY_SIDE = 6 };

static void sgd(foil_train_options *o, int64_t batch, int64_t epochs)
{
    foil_train_defaults(o);
    o->epochs = epochs;
    o->batch = batch;
    o->seed = 11;
    o->quiet = 1;
    o->optim.momentum = 0;
    o->optim.lr = 0.5;
    o->optim.schedule = FOIL_LR_CONSTANT;
}

/* Relative distance between two models' weights, and between the second
 * and a third (the step's own size, for scale). */
static double weight_distance(foil_model *a, foil_model *b)
{
    FoilGraph *ga = foilGraphModelOf(a)->g, *gb = foilGraphModelOf(b)->g;
    double d2 = 0, n2 = 0;
    for (int i = 0; i < ga->n_values; i++) {
        const FoilValue *va = &ga->values[i], *vb = &gb->values[i];
        if (va->kind != FOIL_VALUE_PARAM) continue;
        for (int64_t j = 0; j < va->t.numel; j++) {
            const double d = (double)foil_f32(&va->t)[j] - foil_f32(&vb->t)[j];
            d2 += d * d;
            n2 += (double)foil_f32(&vb->t)[j] * foil_f32(&vb->t)[j];
        }
    }
    return sqrt(d2 / n2);
}

/* q = 1 (batch = N: every example in every step), no clipping (C huge)
 * and noise of 1e-14 C: DP-SGD's (sum + noise) / (q N) is the ordinary
 * full-batch step's mean gradient, step for step; also for 601 examples,
 * run in two chunks (of 301 rows, the second padded with a row of zeros). */
static void full_batch(const char *name, int64_t n)
{
    foil_dataset d = {0};
    toy_quadrants(&d, n, TOY_CLASSES, TOY_SIDE, 1);
    foil_model *plain = arch(name, TOY_SIDE, TOY_CLASSES, 9), *dp = arch(name, TOY_SIDE, TOY_CLASSES, 9),
               *start = arch(name, TOY_SIDE, TOY_CLASSES, 9);
    foil_train_options o;
    foil_train_report r;
    sgd(&o, n, 3);
    assert_int_equal(foil_train(plain, &d, NULL, &o, &r), FOIL_OK);
    o.dp.enabled = 1;
    o.dp.max_grad_norm = 1e6;
    o.dp.noise_multiplier = 1e-14;
    assert_int_equal(foil_train(dp, &d, NULL, &o, &r), FOIL_OK);
    assert_int_equal(r.dp.steps, 3);
    assert_true(r.dp.sample_rate == 1.0);
    const double moved = weight_distance(plain, start), apart = weight_distance(dp, plain);
    print_message("%s, q = 1, N = %lld: DP-SGD vs full-batch SGD after 3 steps: weights %.1e apart (the steps moved "
                  "them %.1e)\n", name, (long long)n, apart, moved);
    assert_true(moved > 1e-3);
    assert_true(apart < 1e-4 * moved);
    foil_model_free(plain);
    foil_model_free(dp);
    foil_model_free(start);
    foil_dataset_free(&d);
}

static void test_step_at_q1_is_full_batch(void **state)
{
    (void)state;
    full_batch("cnn-small", TOY_N);
    full_batch("mlp", 601);
}

/* q < 1: one step on the Poisson batch S that foilDpSample gives for step
 * 0 is sum_{n in S} g_n / (q N): an ordinary step on S alone (mean over
 * |S|) with the learning rate times |S| / (q N). */
static void test_step_divides_by_expected_batch(void **state)
{
    (void)state;
    foil_dataset d = {0};
    toy_quadrants(&d, TOY_N, TOY_CLASSES, TOY_SIDE, 2);
    foil_train_options o;
    foil_train_report r;
    sgd(&o, 30, 1); /* q = 0.75, round(40 / 30) = 1 step */
    int64_t idx[TOY_N];
    const int64_t b = foilDpSample(o.seed, 0, TOY_N, 0.75, idx);
    assert_true(b > 0 && b < TOY_N);
    foil_model *dp = arch("mlp", TOY_SIDE, TOY_CLASSES, 4), *plain = arch("mlp", TOY_SIDE, TOY_CLASSES, 4),
               *start = arch("mlp", TOY_SIDE, TOY_CLASSES, 4);
    o.dp.enabled = 1;
    o.dp.max_grad_norm = 1e6;
    o.dp.noise_multiplier = 1e-14;
    assert_int_equal(foil_train(dp, &d, NULL, &o, &r), FOIL_OK);
    assert_int_equal(r.dp.steps, 1);
    foil_dataset s = {0};
    assert_int_equal(foil_dataset_select(&s, &d, idx, b), FOIL_OK);
    foil_train_options p;
    sgd(&p, b, 1);
    p.optim.lr = o.optim.lr * (double)b / (0.75 * TOY_N);
    assert_int_equal(foil_train(plain, &s, NULL, &p, &r), FOIL_OK);
    const double moved = weight_distance(plain, start), apart = weight_distance(dp, plain);
    print_message("q = 0.75: a step on the %lld sampled examples, / (q N): %.1e apart (moved %.1e)\n", (long long)b,
                  apart, moved);
    assert_true(moved > 1e-3);
    assert_true(apart < 1e-4 * moved);
    foil_dataset_free(&s);
    foil_model_free(plain);
    foil_model_free(dp);
    foil_model_free(start);
    foil_dataset_free(&d);
}

/* The epsilon foil_train reports is the accountant's for its q, sigma and
 * steps; with a target epsilon, the chosen sigma spends at most that. */
static void test_reported_epsilon(void **state)
{
    (void)state;
    foil_dataset d = {0};
    toy_quadrants(&d, TOY_N, TOY_CLASSES, TOY_SIDE, 3);
    foil_model *m = arch("mlp", TOY_SIDE, TOY_CLASSES, 5);
    foil_train_options o;
    foil_train_report r;
    sgd(&o, 8, 2);
    o.dp.enabled = 1;
    o.dp.noise_multiplier = 1.3;
    o.dp.delta = 1e-3;
    assert_int_equal(foil_train(m, &d, NULL, &o, &r), FOIL_OK);
    foil_dp_spent want;
    assert_int_equal(foil_dp_epsilon(8.0 / TOY_N, 1.3, 10, 1e-3, FOIL_DP_BALLE2020, &want), FOIL_OK);
    assert_int_equal(r.dp.steps, 10); /* 2 epochs of round(40 / 8) */
    assert_true(r.dp.sample_rate == 8.0 / TOY_N);
    assert_true(r.dp.noise_multiplier == 1.3);
    assert_true(r.dp.epsilon == want.epsilon);
    assert_true(r.epoch[1].dp_epsilon == want.epsilon && r.epoch[0].dp_epsilon < want.epsilon);
    assert_true(r.epoch[0].dp_clipped >= 0 && r.epoch[0].dp_clipped <= 1);
    o.dp.noise_multiplier = 0;
    o.dp.target_epsilon = 4;
    assert_int_equal(foil_train(m, &d, NULL, &o, &r), FOIL_OK);
    print_message("target epsilon 4: sigma %.4f spends %.4f\n", r.dp.noise_multiplier, r.dp.epsilon);
    assert_true(r.dp.epsilon <= 4 && r.dp.epsilon > 3.95);
    foil_model_free(m);
    foil_dataset_free(&d);
}

/* ------------------------------------------------------------------------
 * Sampling and noise
 */

/* Each example in about q of the steps, the batch about q N in size and
 * sorted; q = 1 takes everyone; a step's batch depends on the step. */
static void test_poisson_sampling(void **state)
{
    (void)state;
    enum { N = 200, STEPS = 2000 };
    const double q = 0.1;
    static int64_t idx[N], hits[N];
    double total = 0;
    for (int64_t s = 0; s < STEPS; s++) {
        const int64_t b = foilDpSample(5, s, N, q, idx);
        total += (double)b;
        for (int64_t k = 0; k < b; k++) {
            assert_true(idx[k] >= 0 && idx[k] < N);
            if (k) assert_true(idx[k] > idx[k - 1]);
            hits[idx[k]]++;
        }
    }
    /* the mean batch: q N = 20, standard error sqrt(N q (1 - q) / STEPS) = 0.095 */
    assert_true(fabs(total / STEPS - q * N) < 0.5);
    /* each example's count: mean 200, standard deviation 13.4 */
    int64_t lo = STEPS, hi = 0;
    for (int64_t i = 0; i < N; i++) {
        lo = hits[i] < lo ? hits[i] : lo;
        hi = hits[i] > hi ? hits[i] : hi;
    }
    print_message("q = 0.1, N = 200: mean batch %.2f; each example taken %lld to %lld times in %d steps\n",
                  total / STEPS, (long long)lo, (long long)hi, STEPS);
    assert_true(lo > 140 && hi < 260);
    assert_int_equal(foilDpSample(5, 0, N, 1.0, idx), N);
    assert_int_equal(idx[N - 1], N - 1);
    int64_t a[N], b[N];
    const int64_t na = foilDpSample(5, 1, N, q, a), nb = foilDpSample(5, 2, N, q, b);
    assert_true(na != nb || memcmp(a, b, (size_t)na * sizeof *a) != 0);
    assert_int_equal(foilDpSample(5, 1, N, q, b), na);
    assert_memory_equal(a, b, (size_t)na * sizeof *a);
}

/* The noise: mean 0 and standard deviation std / divisor on every
 * coordinate, the same draw for the same (seed, step), another for the
 * next step. */
static void test_noise(void **state)
{
    (void)state;
    enum { W = 50000 };
    foil_tensor g1 = {0}, g2 = {0};
    assert_int_equal(foil_tensor_alloc(&g1, FOIL_F32, 1, (int64_t[]){W}), FOIL_OK);
    assert_int_equal(foil_tensor_alloc(&g2, FOIL_F32, 2, (int64_t[]){3, 7}), FOIL_OK);
    foil_tensor *params[2] = {&g1, &g2};
    foil_optim opt;
    const foil_optim_config cfg = foil_optim_defaults(FOIL_OPT_SGD);
    assert_int_equal(foil_optim_init(&opt, &cfg, 2, params, params), FOIL_OK);
    foilDpNoise(&opt, 3.0, 1.5, 8, 0);
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < W; i++) {
        s += foil_f32(&g1)[i];
        s2 += (double)foil_f32(&g1)[i] * foil_f32(&g1)[i];
    }
    const double mean = s / W, sd = sqrt(s2 / W - mean * mean);
    print_message("noise: mean %.4f, standard deviation %.4f (want 0 and 2)\n", mean, sd);
    assert_true(fabs(mean) < 0.03 && fabs(sd - 2.0) < 0.03);
    float first = foil_f32(&g2)[5];
    assert_true(first != 0);
    memset(g1.data, 0, foil_tensor_nbytes(&g1));
    memset(g2.data, 0, foil_tensor_nbytes(&g2));
    foilDpNoise(&opt, 3.0, 1.5, 8, 0);
    assert_true(foil_f32(&g2)[5] == first);
    memset(g2.data, 0, foil_tensor_nbytes(&g2));
    foilDpNoise(&opt, 3.0, 1.5, 8, 1);
    assert_true(foil_f32(&g2)[5] != first);
    foil_optim_free(&opt);
    foil_tensor_free(&g1);
    foil_tensor_free(&g2);
}

/* ------------------------------------------------------------------------
 * Refusals
 */

static void expect_refusal(foil_model *m, const foil_dataset *d, const foil_train_options *o, const char *words)
{
    foil_train_report r;
    const foil_status st = foil_train(m, d, NULL, o, &r);
    if (st == FOIL_OK || !strstr(foil_last_error(), words))
        fail_msg("expected a refusal naming '%s', got %d: %s", words, st, st ? foil_last_error() : "(accepted)");
}

static void test_refusals(void **state)
{
    (void)state;
    foil_dataset d = {0};
    toy_quadrants(&d, TOY_N, TOY_CLASSES, TOY_SIDE, 4);
    foil_train_options o;
    sgd(&o, 8, 1);
    o.dp.enabled = 1;
    o.dp.noise_multiplier = 1;
    foil_model *resnet = arch("resnet-mini", TOY_SIDE, TOY_CLASSES, 1);
    expect_refusal(resnet, &d, &o, "batch normalization mixes the examples");
    foil_model_free(resnet);
    foil_model *m = arch("mlp", TOY_SIDE, TOY_CLASSES, 1);
    foil_train_options bad = o;
    bad.dp.noise_multiplier = 0;
    expect_refusal(m, &d, &bad, "needs a noise multiplier > 0 or a target epsilon");
    bad = o;
    bad.dp.noise_multiplier = -1;
    expect_refusal(m, &d, &bad, "needs a noise multiplier > 0");
    bad = o;
    bad.dp.max_grad_norm = 0;
    expect_refusal(m, &d, &bad, "clipping norm must be a finite number > 0");
    bad = o;
    bad.dp.delta = 1.0 / TOY_N;
    expect_refusal(m, &d, &bad, "delta must lie in (0, 1/N)");
    bad = o;
    bad.dp.target_epsilon = 3;
    expect_refusal(m, &d, &bad, "not both");
    bad = o;
    bad.adv.mode = FOIL_ADV_PGD;
    bad.adv.eps = 0.1f;
    expect_refusal(m, &d, &bad, "DP-SGD with adversarial training is not supported");
    bad = o;
    bad.flip = 1;
    expect_refusal(m, &d, &bad, "DP-SGD with augmentation");
    bad = o;
    bad.checkpoint = "never-written.ckpt";
    expect_refusal(m, &d, &bad, "DP-SGD with checkpoints");
    foil_model_free(m);
    /* a weight read by two nodes: its per-example norm is not a sum of two */
    foil_rng r = foil_rng_make(1, 1);
    FoilBuilder b;
    foilBuilderBegin(&b, "shared", 13);
    int x = foilBuilderInput(&b, "input", FOIL_F32, 2, (int64_t[]){-1, 4}, NULL);
    int w = weight(&b, "w", 2, (int64_t[]){4, 4}, 0.5f, &r);
    int h = foilBuilderOp(&b, "MatMul", "mm1", FOIL_B_IN(x, w), FOIL_B_NO_ATTRS);
    h = foilBuilderOp(&b, "MatMul", "mm2", FOIL_B_IN(h, w), FOIL_B_NO_ATTRS);
    foilBuilderOutput(&b, h, FOIL_F32, 2, (int64_t[]){-1, 4}, NULL);
    FoilGraph *g = finish(&b);
    foil_tensor xt = {0};
    assert_int_equal(foil_tensor_alloc(&xt, FOIL_F32, 2, (int64_t[]){3, 4}), FOIL_OK);
    const foil_tensor *in[1] = {&xt};
    assert_int_equal(foilGraphPlan(g, in), FOIL_OK);
    assert_int_equal(foilGraphCheckExampleNorms(g, 3), FOIL_ERR_UNSUPPORTED);
    assert_non_null(strstr(foil_last_error(), "is read 2 times"));
    foil_tensor_free(&xt);
    foilGraphFree(g);
    foil_dataset_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_norms_mlp),
        cmocka_unit_test(test_norms_cnn),
        cmocka_unit_test(test_norms_rows),
        cmocka_unit_test(test_clipped_sum),
        cmocka_unit_test(test_step_at_q1_is_full_batch),
        cmocka_unit_test(test_step_divides_by_expected_batch),
        cmocka_unit_test(test_reported_epsilon),
        cmocka_unit_test(test_poisson_sampling),
        cmocka_unit_test(test_noise),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
