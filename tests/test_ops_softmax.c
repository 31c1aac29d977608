/*
 * tests/test_ops_softmax.c - Softmax and LogSoftmax (opset >= 13 single axis
 * vs opset < 13 coerced-to-2-D semantics), SoftmaxCrossEntropyLoss (every
 * reduction, weights, ignore_index including negative and out-of-range ones,
 * log_prob output, int32 labels) and the public foil_softmax_xent: forward
 * against naive references written here, gradients against finite
 * differences, and errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "foil/loss.h"
#include "foil/rng.h"
#include "op_harness.h"


/* Naive (log)softmax over the lines (outer, n, inner), in double. */
static void naive_softmax(const float *x, double *y, int64_t outer, int64_t n, int64_t inner, int log)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            double m = -INFINITY, s = 0;
            for (int64_t k = 0; k < n; k++) m = fmax(m, x[(o * n + k) * inner + i]);
            for (int64_t k = 0; k < n; k++) s += exp(x[(o * n + k) * inner + i] - m);
            for (int64_t k = 0; k < n; k++) {
                double v = x[(o * n + k) * inner + i] - m;
                y[(o * n + k) * inner + i] = log ? v - log1p(s - 1) : exp(v) / s;
            }
        }
}

static void check_softmax(const char *type, int opset, int has_axis, int64_t axis, int ndim, const int64_t *shape,
                          int grad, uint64_t seed)
{
    const int log = strcmp(type, "LogSoftmax") == 0;
    op_case *oc = opc_new(type, 1, 1);
    oc->node.opset = opset;
    if (has_axis) opc_attr_int(oc, "axis", axis);
    opc_input_randn(oc, 0, ndim, shape, 2.0f, seed);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    int64_t ax = has_axis ? axis : (opset < 13 ? 1 : -1);
    if (ax < 0) ax += ndim;
    int64_t outer = 1, n = 1, inner = 1;
    for (int i = 0; i < ax; i++) outer *= shape[i];
    if (opset < 13) {
        for (int i = (int)ax; i < ndim; i++) n *= shape[i];
    } else {
        n = shape[ax];
        for (int i = (int)ax + 1; i < ndim; i++) inner *= shape[i];
    }
    const int64_t total = oc->in[0].numel;
    double *want = malloc((size_t)total * sizeof *want);
    naive_softmax(foil_f32(&oc->in[0]), want, outer, n, inner, log);
    const float *y = foil_f32(&oc->out[0]);
    for (int64_t i = 0; i < total; i++) assert_float_equal(y[i], want[i], 1e-5 * (1 + fabs(want[i])));
    free(want);
    if (grad) {
        double err = opc_gradcheck(oc, 0, 1e-2f, 0);
        if (err > 1e-2) print_error("%s opset %d axis %lld: err %g\n", type, opset, (long long)axis, err);
        assert_true(err < 1e-2);
    }
    opc_free(oc);
}

static void test_softmax_axes(void **state)
{
    (void)state;
    const int64_t s345[3] = {3, 4, 5};
    const char *types[2] = {"Softmax", "LogSoftmax"};
    for (int t = 0; t < 2; t++) {
        /* opset 13: single axis (test_softmax_axis_{0,1,2}, default -1, negative) */
        for (int64_t axis = -3; axis < 3; axis++) check_softmax(types[t], 13, 1, axis, 3, s345, 1, 1 + (uint64_t)axis + 3);
        check_softmax(types[t], 13, 0, 0, 3, s345, 1, 7);
        /* opset 11 and 6: coerced to 2-D at axis (default 1) */
        for (int64_t axis = -3; axis < 3; axis++) check_softmax(types[t], 11, 1, axis, 3, s345, 1, 8 + (uint64_t)axis + 3);
        check_softmax(types[t], 11, 0, 0, 3, s345, 1, 14);
        const int64_t s2[2] = {10, 20}, s4[4] = {2, 3, 4, 5}, s128[2] = {2, 128};
        check_softmax(types[t], 6, 1, 1, 2, s2, 1, 15);    /* pytorch-converted/test_Softmax */
        check_softmax(types[t], 6, 1, 3, 4, s4, 0, 16);    /* test_softmax_functional_dim3 */
        check_softmax(types[t], 6, 1, -1, 2, s128, 0, 17); /* test_log_softmax_lastdim */
        check_softmax(types[t], 6, 0, 0, 4, s4, 0, 18);    /* default axis 1 flattens 3*4*5 */
        /* 1-D input, big rows (threaded), strided lines (threaded) */
        const int64_t s7[1] = {7}, big[2] = {64, 1000}, strided[3] = {16, 50, 40};
        check_softmax(types[t], 13, 0, 0, 1, s7, 1, 19);
        check_softmax(types[t], 13, 0, 0, 2, big, 0, 20);
        check_softmax(types[t], 13, 1, 1, 3, strided, 0, 21);
        check_softmax(types[t], 12, 1, 1, 3, strided, 0, 22);
    }
}

/* Opset 13 vs 11 on the same input give different results for axis 1 of a 3-D tensor. */
static void test_softmax_opset_difference(void **state)
{
    (void)state;
    const int64_t s[3] = {2, 3, 4};
    float y13[24], y11[24];
    for (int v = 0; v < 2; v++) {
        op_case *oc = opc_new("Softmax", 1, 1);
        oc->node.opset = v ? 11 : 13;
        opc_attr_int(oc, "axis", 1);
        opc_input_randn(oc, 0, 3, s, 1.0f, 5);
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        memcpy(v ? y11 : y13, foil_f32(&oc->out[0]), sizeof y13);
        opc_free(oc);
    }
    /* opset 13: each (n, :, w) line sums to 1; opset 11: each n block of 12 sums to 1. */
    for (int n = 0; n < 2; n++) {
        double s11 = 0;
        for (int k = 0; k < 12; k++) s11 += y11[n * 12 + k];
        assert_float_equal(s11, 1.0, 1e-5);
        for (int w = 0; w < 4; w++) {
            double s13 = 0;
            for (int c = 0; c < 3; c++) s13 += y13[n * 12 + c * 4 + w];
            assert_float_equal(s13, 1.0, 1e-5);
        }
    }
    assert_true(fabsf(y11[0] - y13[0]) > 1e-3f);
}

static void test_softmax_extremes_and_errors(void **state)
{
    (void)state;
    /* test_softmax_large_number */
    const int64_t s24[2] = {2, 4};
    const float x[8] = {0, 1, 2, 3, 10000, 10001, 10002, 10003};
    const float sm[4] = {0.032058604f, 0.087144318f, 0.236882818f, 0.643914260f};
    const float lsm[4] = {-3.4401897f, -2.4401897f, -1.4401897f, -0.4401897f};
    for (int log = 0; log < 2; log++) {
        op_case *oc = opc_new(log ? "LogSoftmax" : "Softmax", 1, 1);
        opc_input(oc, 0, FOIL_F32, 2, s24, x, 0);
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        for (int i = 0; i < 8; i++) assert_float_equal(foil_f32(&oc->out[0])[i], log ? lsm[i % 4] : sm[i % 4], 1e-5);
        opc_free(oc);
    }
    const int64_t s3[1] = {3};
    op_case *oc = opc_new("Softmax", 1, 1);
    opc_attr_int(oc, "axis", 1);
    opc_input_randn(oc, 0, 1, s3, 1.0f, 1);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_FORMAT);
    assert_non_null(strstr(foil_last_error(), "axis"));
    opc_free(oc);
    oc = opc_new("LogSoftmax", 1, 1);
    oc->node.opset = 11;
    opc_attr_int(oc, "axis", -3);
    opc_input_randn(oc, 0, 2, s24, 1.0f, 1);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_FORMAT);
    opc_free(oc);
    oc = opc_new("Softmax", 1, 1);
    opc_input(oc, 0, FOIL_I64, 1, s3, NULL, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_UNSUPPORTED);
    opc_free(oc);
    const float one = 1.0f;
    oc = opc_new("Softmax", 1, 1);
    opc_input(oc, 0, FOIL_F32, 0, NULL, &one, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_FORMAT);
    opc_free(oc);
}

/* ------------------------------------------------------------------------- */
/* SoftmaxCrossEntropyLoss                                                    */

/* The ONNX reference (softmaxcrossentropy.py), in double. loss_out gets the
 * per-position losses (reduction none) or one value; lp_out the log_prob. */
static void naive_sce(const float *x, const int64_t *lab, const float *w, int64_t N, int64_t C, int64_t D,
                      const char *red, int has_ii, int64_t ii, double *loss_out, double *lp_out)
{
    double sum = 0, wsum = 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t d = 0; d < D; d++) {
            double m = -INFINITY, s = 0;
            for (int64_t c = 0; c < C; c++) m = fmax(m, x[(n * C + c) * D + d]);
            for (int64_t c = 0; c < C; c++) s += exp(x[(n * C + c) * D + d] - m);
            double lse = m + log(s);
            for (int64_t c = 0; c < C; c++) lp_out[(n * C + c) * D + d] = x[(n * C + c) * D + d] - lse;
            int64_t l = lab[n * D + d];
            double wl = (has_ii && l == ii) ? 0.0 : (w ? w[l] : 1.0);
            double lv = wl == 0.0 ? 0.0 : -wl * lp_out[(n * C + l) * D + d];
            if (strcmp(red, "none") == 0) loss_out[n * D + d] = lv;
            sum += lv;
            wsum += wl;
        }
    if (strcmp(red, "sum") == 0) loss_out[0] = sum;
    if (strcmp(red, "mean") == 0) loss_out[0] = sum / wsum;
}

typedef struct sce_case {
    const char *red;
    int nd;
    int64_t shape[4]; /* scores (N, C, d...) */
    int weights;
    int has_ii;
    int64_t ii;
    int log_prob;
    int i32;
} sce_case;

static const sce_case sce_cases[] = {
    {"none", 2, {3, 5}, 0, 0, 0, 0, 0},          /* test_sce_none */
    {"sum", 2, {3, 5}, 0, 0, 0, 1, 0},           /* test_sce_sum_log_prob */
    {"mean", 2, {3, 5}, 0, 0, 0, 0, 0},          /* test_sce_mean */
    {"none", 2, {3, 5}, 1, 0, 0, 1, 0},          /* test_sce_none_weights_log_prob */
    {"mean", 2, {3, 5}, 1, 0, 0, 0, 0},          /* test_sce_mean_weight */
    {"mean", 2, {3, 5}, 1, 1, 0, 1, 0},          /* test_sce_mean_weight_ii_log_prob */
    {"mean", 2, {3, 5}, 0, 1, 2, 0, 0},          /* test_sce_mean_no_weight_ii */
    {"mean", 3, {3, 5, 2}, 0, 0, 0, 1, 0},       /* test_sce_mean_3d_log_prob */
    {"mean", 3, {3, 5, 6}, 1, 1, -1, 0, 0},      /* test_sce_NCd1_mean_weight_negative_ii */
    {"mean", 4, {3, 5, 2, 7}, 1, 1, 2, 1, 0},    /* test_sce_mean_weight_ii_4d_log_prob */
    {"none", 4, {3, 5, 3, 2}, 0, 1, -5, 1, 0},   /* NCd1d2.._none_no_weight_negative_ii */
    {"sum", 2, {3, 5}, 1, 1, 10, 0, 0},          /* NCd1d2d3_sum_weight_high_ii */
    {"mean", 3, {4, 6, 3}, 1, 1, 1, 1, 1},       /* int32 labels */
    {"sum", 3, {2, 4, 3}, 0, 0, 0, 0, 1},
};
#define NSCE (int)(sizeof sce_cases / sizeof sce_cases[0])

static op_case *make_sce(const sce_case *S, uint64_t seed, int64_t *labels_out)
{
    const int64_t N = S->shape[0], C = S->shape[1];
    int64_t D = 1;
    for (int i = 2; i < S->nd; i++) D *= S->shape[i];
    op_case *oc = opc_new("SoftmaxCrossEntropyLoss", S->weights ? 3 : 2, S->log_prob ? 2 : 1);
    oc->node.opset = 13;
    opc_attr_string(oc, "reduction", S->red);
    if (S->has_ii) opc_attr_int(oc, "ignore_index", S->ii);
    opc_input_randn(oc, 0, S->nd, S->shape, 1.0f, seed);
    /* labels: valid classes, with every third position set to ignore_index when there is one */
    foil_rng r = foil_rng_make(seed, 99);
    for (int64_t p = 0; p < N * D; p++) {
        labels_out[p] = (int64_t)foil_rng_below(&r, (uint64_t)C);
        if (S->has_ii && p % 3 == 0) labels_out[p] = S->ii;
    }
    int64_t lshape[3];
    lshape[0] = N;
    for (int i = 2; i < S->nd; i++) lshape[i - 1] = S->shape[i];
    if (S->i32) {
        int32_t l32[256];
        for (int64_t p = 0; p < N * D; p++) l32[p] = (int32_t)labels_out[p];
        opc_input(oc, 1, FOIL_I32, S->nd - 1, lshape, l32, 0);
    } else {
        opc_input(oc, 1, FOIL_I64, S->nd - 1, lshape, labels_out, 0);
    }
    if (S->weights) {
        const int64_t cs[1] = {C};
        opc_input_randn(oc, 2, 1, cs, 1.0f, seed + 7);
        float *w = foil_f32(&oc->in[2]);
        for (int64_t c = 0; c < C; c++) w[c] = 0.2f + fabsf(w[c]);
    }
    return oc;
}

static void test_sce(void **state)
{
    (void)state;
    for (int t = 0; t < NSCE; t++) {
        const sce_case *S = &sce_cases[t];
        int64_t labels[256];
        op_case *oc = make_sce(S, 100 + (uint64_t)t, labels);
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        const int64_t N = S->shape[0], C = S->shape[1], numel = oc->in[0].numel, D = numel / (N * C);
        double *lp = malloc((size_t)numel * sizeof *lp), loss[256];
        naive_sce(foil_f32(&oc->in[0]), labels, S->weights ? foil_f32(&oc->in[2]) : NULL, N, C, D, S->red, S->has_ii,
                  S->ii, loss, lp);
        if (strcmp(S->red, "none") == 0) {
            assert_int_equal(oc->out[0].ndim, S->nd - 1);
            for (int64_t p = 0; p < N * D; p++) assert_float_equal(foil_f32(&oc->out[0])[p], loss[p], 1e-5);
        } else {
            assert_int_equal(oc->out[0].ndim, 0);
            assert_float_equal(foil_f32(&oc->out[0])[0], loss[0], 1e-5 * (1 + fabs(loss[0])));
        }
        if (S->log_prob) {
            assert_int_equal(oc->out[1].ndim, S->nd);
            for (int64_t i = 0; i < numel; i++) assert_float_equal(foil_f32(&oc->out[1])[i], lp[i], 1e-5);
        }
        free(lp);
        double err = opc_gradcheck(oc, 0, 1e-2f, 0);
        if (err > 1e-2) print_error("sce case %d: err %g\n", t, err);
        assert_true(err < 1e-2);
        opc_free(oc);
    }
}

/* A hand-checked value: scores 0 everywhere give loss log(C) per position. */
static void test_sce_values(void **state)
{
    (void)state;
    const int64_t s[2] = {2, 4}, ls[1] = {2};
    const float x[8] = {0};
    const int64_t lab[2] = {1, 3};
    const float w[4] = {1, 2, 3, 4};
    op_case *oc = opc_new("SoftmaxCrossEntropyLoss", 3, 1);
    opc_attr_string(oc, "reduction", "mean");
    opc_input(oc, 0, FOIL_F32, 2, s, x, 0);
    opc_input(oc, 1, FOIL_I64, 1, ls, lab, 0);
    const int64_t cs[1] = {4};
    opc_input(oc, 2, FOIL_F32, 1, cs, w, 0);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    /* (2 log4 + 4 log4) / (2 + 4) = log 4 */
    assert_float_equal(foil_f32(&oc->out[0])[0], logf(4.0f), 1e-6);
    opc_free(oc);
    /* every position ignored: mean is 0/0 = NaN (ONNX reference, PyTorch), gradient 0 */
    const int64_t ign[2] = {-1, -1};
    oc = opc_new("SoftmaxCrossEntropyLoss", 2, 1);
    opc_attr_int(oc, "ignore_index", -1);
    opc_input_randn(oc, 0, 2, s, 1.0f, 3);
    opc_input(oc, 1, FOIL_I64, 1, ls, ign, 0);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    assert_true(isnan(foil_f32(&oc->out[0])[0]));
    opc_free(oc);
}

static void test_sce_errors(void **state)
{
    (void)state;
    const int64_t s[2] = {2, 4}, ls[1] = {2}, ls3[1] = {3}, cs[1] = {5};
    const int64_t bad[2] = {1, 4}, neg[2] = {-1, 0}, okl[2] = {0, 1};
    /* label outside [0, C) */
    op_case *oc = opc_new("SoftmaxCrossEntropyLoss", 2, 1);
    opc_input_randn(oc, 0, 2, s, 1.0f, 1);
    opc_input(oc, 1, FOIL_I64, 1, ls, bad, 0);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "outside"));
    opc_free(oc);
    /* negative label that is not ignore_index */
    oc = opc_new("SoftmaxCrossEntropyLoss", 2, 1);
    opc_attr_int(oc, "ignore_index", 3);
    opc_input_randn(oc, 0, 2, s, 1.0f, 1);
    opc_input(oc, 1, FOIL_I64, 1, ls, neg, 0);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_ERR_ARG);
    opc_free(oc);
    /* labels shape mismatch */
    oc = opc_new("SoftmaxCrossEntropyLoss", 2, 1);
    opc_input_randn(oc, 0, 2, s, 1.0f, 1);
    opc_input(oc, 1, FOIL_I64, 1, ls3, NULL, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    opc_free(oc);
    /* weights of the wrong size */
    oc = opc_new("SoftmaxCrossEntropyLoss", 3, 1);
    opc_input_randn(oc, 0, 2, s, 1.0f, 1);
    opc_input(oc, 1, FOIL_I64, 1, ls, okl, 0);
    opc_input_randn(oc, 2, 1, cs, 1.0f, 2);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    opc_free(oc);
    /* float labels */
    oc = opc_new("SoftmaxCrossEntropyLoss", 2, 1);
    opc_input_randn(oc, 0, 2, s, 1.0f, 1);
    opc_input_randn(oc, 1, 1, ls, 1.0f, 2);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_FORMAT);
    opc_free(oc);
    /* bad reduction */
    oc = opc_new("SoftmaxCrossEntropyLoss", 2, 1);
    opc_attr_string(oc, "reduction", "average");
    opc_input_randn(oc, 0, 2, s, 1.0f, 1);
    opc_input(oc, 1, FOIL_I64, 1, ls, okl, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_FORMAT);
    opc_free(oc);
    /* rank-1 scores */
    oc = opc_new("SoftmaxCrossEntropyLoss", 2, 1);
    opc_input_randn(oc, 0, 1, ls, 1.0f, 1);
    opc_input(oc, 1, FOIL_I64, 0, NULL, okl, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    opc_free(oc);
}

/* ------------------------------------------------------------------------- */
/* foil_softmax_xent                                                          */

static double naive_xent(const float *x, int64_t c, int64_t y)
{
    double m = -INFINITY, s = 0;
    for (int64_t k = 0; k < c; k++) m = fmax(m, x[k]);
    for (int64_t k = 0; k < c; k++) s += exp((double)x[k] - m);
    return m + log(s) - x[y];
}

static void test_xent(void **state)
{
    (void)state;
    enum { N = 6, C = 7 };
    float logits[N * C], loss[N], dl[N * C];
    int64_t labels[N];
    foil_rng r = foil_rng_make(42, 0);
    for (int i = 0; i < N * C; i++) logits[i] = 3.0f * (float)foil_rng_normal(&r);
    for (int i = 0; i < N; i++) labels[i] = (int64_t)foil_rng_below(&r, C);
    /* extreme logits stay finite */
    logits[0] = 1000.0f;
    logits[1] = -1000.0f;
    logits[C] = -500.0f;
    assert_int_equal(foil_softmax_xent(logits, labels, N, C, loss, dl), FOIL_OK);
    for (int i = 0; i < N; i++) {
        double want = naive_xent(logits + i * C, C, labels[i]);
        assert_true(isfinite(loss[i]));
        assert_float_equal(loss[i], want, 1e-4 * (1 + fabs(want)));
        double s = 0;
        for (int k = 0; k < C; k++) s += dl[i * C + k];
        assert_float_equal(s, 0.0, 1e-5); /* softmax - onehot sums to 0 */
    }
    /* gradient of sum of losses vs central differences (in double) */
    for (int j = 0; j < N * C; j++) {
        if (j < 2 || j == C) continue; /* the extreme entries: float can't resolve h there */
        const float h = 1e-2f;
        float save = logits[j];
        double lp = 0, lm = 0;
        logits[j] = save + h;
        for (int i = 0; i < N; i++) lp += naive_xent(logits + i * C, C, labels[i]);
        logits[j] = save - h;
        for (int i = 0; i < N; i++) lm += naive_xent(logits + i * C, C, labels[i]);
        logits[j] = save;
        double num = (lp - lm) / (2.0 * h);
        assert_float_equal(dl[j], num, 1e-3);
    }
    /* NULL outputs are allowed; loss alone equals the above */
    float loss2[N];
    assert_int_equal(foil_softmax_xent(logits, labels, N, C, loss2, NULL), FOIL_OK);
    for (int i = 0; i < N; i++) assert_float_equal(loss2[i], loss[i], 0);
    float dl2[N * C];
    assert_int_equal(foil_softmax_xent(logits, labels, N, C, NULL, dl2), FOIL_OK);
    for (int i = 0; i < N * C; i++) assert_float_equal(dl2[i], dl[i], 0);
    /* the SCE op with reduction sum gives the same loss and gradient */
    op_case *oc = opc_new("SoftmaxCrossEntropyLoss", 2, 1);
    opc_attr_string(oc, "reduction", "sum");
    const int64_t xs[2] = {N, C}, ls[1] = {N};
    opc_input(oc, 0, FOIL_F32, 2, xs, logits, 0);
    opc_input(oc, 1, FOIL_I64, 1, ls, labels, 0);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    double tot = 0;
    for (int i = 0; i < N; i++) tot += loss[i];
    assert_float_equal(foil_f32(&oc->out[0])[0], tot, 1e-3);
    opc_free(oc);
    /* a large batch through the threaded path */
    enum { BN = 2000, BC = 10 };
    float *bl = malloc(BN * BC * sizeof(float)), *bd = malloc(BN * BC * sizeof(float)), *bo = malloc(BN * sizeof(float));
    int64_t *by = malloc(BN * sizeof(int64_t));
    for (int i = 0; i < BN * BC; i++) bl[i] = (float)foil_rng_normal(&r);
    for (int i = 0; i < BN; i++) by[i] = (int64_t)foil_rng_below(&r, BC);
    assert_int_equal(foil_softmax_xent(bl, by, BN, BC, bo, bd), FOIL_OK);
    for (int i = 0; i < BN; i += 37) assert_float_equal(bo[i], naive_xent(bl + i * BC, BC, by[i]), 1e-5);
    free(bl);
    free(bd);
    free(bo);
    free(by);
}

static void test_xent_errors(void **state)
{
    (void)state;
    float logits[6] = {0}, loss[2] = {-7.0f, -7.0f};
    int64_t bad[2] = {0, 3}, neg[2] = {-1, 0};
    assert_int_equal(foil_softmax_xent(logits, bad, 2, 3, loss, NULL), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "label 3 of example 1"));
    assert_float_equal(loss[0], -7.0f, 0); /* nothing written */
    assert_int_equal(foil_softmax_xent(logits, neg, 2, 3, loss, NULL), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "label -1 of example 0"));
    assert_int_equal(foil_softmax_xent(logits, neg + 1, 1, 0, loss, NULL), FOIL_ERR_ARG);
    assert_int_equal(foil_softmax_xent(NULL, neg + 1, 1, 3, loss, NULL), FOIL_ERR_ARG);
    assert_int_equal(foil_softmax_xent(logits, neg + 1, -1, 3, loss, NULL), FOIL_ERR_ARG);
    assert_int_equal(foil_softmax_xent(NULL, NULL, 0, 3, NULL, NULL), FOIL_OK);
}

int main(void)
{
    opc_skip_unless_kernels_run();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_softmax_axes),
        cmocka_unit_test(test_softmax_opset_difference),
        cmocka_unit_test(test_softmax_extremes_and_errors),
        cmocka_unit_test(test_sce),
        cmocka_unit_test(test_sce_values),
        cmocka_unit_test(test_sce_errors),
        cmocka_unit_test(test_xent),
        cmocka_unit_test(test_xent_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
