/*
 * tests/test_ops_norm.c - BatchNormalization: inference mode (opsets 6, 9,
 * 15; ranks 2 to 5), training mode requested by the model (training_mode=1,
 * or training outputs before opset 14) and by foil (ctx->training, with the
 * in-place PyTorch-style running-stat update): forward against naive
 * references, running statistics against the formulas, gradients of X,
 * scale and B against finite differences, errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "foil/rng.h"
#include "op_harness.h"


/* A BN node on X of the given shape with random parameters (var > 0). */
static op_case *make_bn(int opset, int n_out, int ndim, const int64_t *shape, uint64_t seed)
{
    op_case *oc = opc_new("BatchNormalization", 5, n_out);
    oc->node.opset = opset;
    const int64_t cs[1] = {shape[1]};
    opc_input_randn(oc, 0, ndim, shape, 1.5f, seed);
    float *x = foil_f32(&oc->in[0]);
    for (int64_t i = 0; i < oc->in[0].numel; i++) x[i] += 0.5f; /* nonzero mean */
    opc_input_randn(oc, 1, 1, cs, 1.0f, seed + 1);
    opc_input_randn(oc, 2, 1, cs, 1.0f, seed + 2);
    opc_input_randn(oc, 3, 1, cs, 1.0f, seed + 3);
    opc_input_randn(oc, 4, 1, cs, 1.0f, seed + 4);
    float *v = foil_f32(&oc->in[4]);
    for (int64_t c = 0; c < shape[1]; c++) v[c] = 0.1f + fabsf(v[c]);
    return oc;
}

typedef struct stats {
    double mean[64], var[64]; /* biased */
} stats;

static void batch_stats(const op_case *oc, stats *st)
{
    const foil_tensor *x = &oc->in[0];
    int64_t N = x->shape[0], C = x->shape[1], S = x->numel / (N * C);
    const float *xv = foil_f32(x);
    for (int64_t c = 0; c < C; c++) {
        double s = 0, s2 = 0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t j = 0; j < S; j++) s += xv[(n * C + c) * S + j];
        double m = s / (double)(N * S);
        for (int64_t n = 0; n < N; n++)
            for (int64_t j = 0; j < S; j++) {
                double d = xv[(n * C + c) * S + j] - m;
                s2 += d * d;
            }
        st->mean[c] = m;
        st->var[c] = s2 / (double)(N * S);
    }
}

/* y = scale (x - mean) / sqrt(var + eps) + B with the given statistics. */
static void check_y(const op_case *oc, const double *mean, const double *var, double eps)
{
    const foil_tensor *x = &oc->in[0];
    int64_t N = x->shape[0], C = x->shape[1], S = x->numel / (N * C);
    const float *xv = foil_f32(x), *sc = foil_f32(&oc->in[1]), *b = foil_f32(&oc->in[2]), *y = foil_f32(&oc->out[0]);
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t j = 0; j < S; j++) {
                int64_t i = (n * C + c) * S + j;
                double want = sc[c] * (xv[i] - mean[c]) / sqrt(var[c] + eps) + b[c];
                assert_float_equal(y[i], want, 1e-4 * (1 + fabs(want)));
            }
}

static void test_bn_inference(void **state)
{
    (void)state;
    const int64_t s4[4] = {2, 3, 4, 5}, s3[3] = {4, 5, 3}, s5[5] = {2, 3, 4, 4, 4}, s2[2] = {6, 4};
    struct {
        int opset;
        int ndim;
        const int64_t *shape;
        float eps;
        int is_test;
    } cases[] = {
        {15, 4, s4, 0, 0},     /* test_batchnorm_example */
        {15, 4, s4, 1e-2f, 0}, /* test_batchnorm_epsilon */
        {6, 3, s3, 0, 1},      /* pytorch-converted/test_BatchNorm1d_3d_input_eval */
        {6, 4, s4, 1e-3f, 1},  /* test_BatchNorm2d_momentum_eval */
        {6, 5, s5, 0, 1},      /* test_BatchNorm3d_eval */
        {9, 2, s2, 0, 0},      /* (N, C) */
        {7, 4, s4, 0, 0},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        op_case *oc = make_bn(cases[t].opset, 1, cases[t].ndim, cases[t].shape, 10 * t + 1);
        if (cases[t].eps) opc_attr_float(oc, "epsilon", cases[t].eps);
        if (cases[t].is_test) {
            opc_attr_int(oc, "is_test", 1);
            opc_attr_float(oc, "momentum", 0.2f);
        }
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        double mean[64], var[64];
        for (int64_t c = 0; c < cases[t].shape[1]; c++) {
            mean[c] = foil_f32(&oc->in[3])[c];
            var[c] = foil_f32(&oc->in[4])[c];
        }
        check_y(oc, mean, var, cases[t].eps ? cases[t].eps : 1e-5);
        for (int k = 0; k < 3; k++) {
            double err = opc_gradcheck(oc, k, 1e-2f, 0);
            if (err > 1e-2) print_error("bn inference case %zu input %d: err %g\n", t, k, err);
            assert_true(err < 1e-2);
        }
        /* statistics are not touched in inference */
        for (int64_t c = 0; c < cases[t].shape[1]; c++) assert_float_equal(foil_f32(&oc->in[3])[c], mean[c], 0);
        opc_free(oc);
    }
}

/* training_mode=1 (opset 15): batch statistics and ONNX's running-stat outputs. */
static void test_bn_training_mode(void **state)
{
    (void)state;
    const int64_t s4[4] = {2, 3, 4, 5}, s2[2] = {8, 3};
    const int64_t *shapes[2] = {s4, s2};
    const int ranks[2] = {4, 2};
    for (int t = 0; t < 2; t++) {
        op_case *oc = make_bn(15, 3, ranks[t], shapes[t], 50 + (uint64_t)t);
        opc_attr_int(oc, "training_mode", 1);
        opc_attr_float(oc, "epsilon", 1e-2f);
        opc_attr_float(oc, "momentum", 0.8f);
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        stats st;
        batch_stats(oc, &st);
        check_y(oc, st.mean, st.var, 1e-2);
        for (int64_t c = 0; c < 3; c++) {
            /* test_batchnorm_*_training_mode: input * momentum + batch * (1 - momentum), biased var */
            double rm = foil_f32(&oc->in[3])[c] * 0.8 + st.mean[c] * 0.2;
            double rv = foil_f32(&oc->in[4])[c] * 0.8 + st.var[c] * 0.2;
            assert_float_equal(foil_f32(&oc->out[1])[c], rm, 1e-5);
            assert_float_equal(foil_f32(&oc->out[2])[c], rv, 1e-5);
        }
        opc_free(oc);
        /* gradients through the batch statistics (running outputs absent:
         * they are not differentiated) */
        for (int k = 0; k < 3; k++) {
            oc = make_bn(15, 1, ranks[t], shapes[t], 60 + (uint64_t)t);
            opc_attr_int(oc, "training_mode", 1);
            double err = opc_gradcheck(oc, k, 1e-2f, 0);
            if (err > 1e-2) print_error("bn training shape %d input %d: err %g\n", t, k, err);
            assert_true(err < 1e-2);
            opc_free(oc);
        }
    }
}

/* Opsets 7-13: the training outputs (mean, var, saved_mean, saved_var) select training mode. */
static void test_bn_training_outputs_old_opset(void **state)
{
    (void)state;
    const int64_t s4[4] = {3, 2, 3, 3};
    op_case *oc = make_bn(9, 5, 4, s4, 70);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    stats st;
    batch_stats(oc, &st);
    check_y(oc, st.mean, st.var, 1e-5);
    for (int c = 0; c < 2; c++) {
        assert_float_equal(foil_f32(&oc->out[1])[c], foil_f32(&oc->in[3])[c] * 0.9 + st.mean[c] * 0.1, 1e-5);
        assert_float_equal(foil_f32(&oc->out[2])[c], foil_f32(&oc->in[4])[c] * 0.9 + st.var[c] * 0.1, 1e-5);
        assert_float_equal(foil_f32(&oc->out[3])[c], st.mean[c], 1e-5);
        assert_float_equal(foil_f32(&oc->out[4])[c], st.var[c], 1e-5);
    }
    opc_free(oc);
    /* opset 6 with is_test=1 stays in inference even with the outputs present */
    oc = make_bn(6, 5, 4, s4, 71);
    opc_attr_int(oc, "is_test", 1);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    double mean[2], var[2];
    for (int c = 0; c < 2; c++) {
        mean[c] = foil_f32(&oc->in[3])[c];
        var[c] = foil_f32(&oc->in[4])[c];
    }
    check_y(oc, mean, var, 1e-5);
    opc_free(oc);
}

/* foil trains the model (ctx->training) and the model has no running-stat
 * outputs: batch statistics, and input_mean/input_var updated in place with
 * PyTorch's rule (unbiased variance). */
static void test_bn_foil_training(void **state)
{
    (void)state;
    const int64_t s4[4] = {4, 3, 2, 3};
    op_case *oc = make_bn(15, 1, 4, s4, 80);
    opc_attr_float(oc, "momentum", 0.7f);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    float m0[3], v0[3];
    memcpy(m0, foil_f32(&oc->in[3]), sizeof m0);
    memcpy(v0, foil_f32(&oc->in[4]), sizeof v0);
    assert_int_equal(opc_forward(oc, 1), FOIL_OK);
    stats st;
    batch_stats(oc, &st);
    check_y(oc, st.mean, st.var, 1e-5);
    const double M = 4 * 2 * 3;
    for (int c = 0; c < 3; c++) {
        /* PyTorch: running = (1 - m') running + m' batch, m' = 1 - momentum = 0.3 */
        assert_float_equal(foil_f32(&oc->in[3])[c], 0.7 * m0[c] + 0.3 * st.mean[c], 1e-5);
        assert_float_equal(foil_f32(&oc->in[4])[c], 0.7 * v0[c] + 0.3 * st.var[c] * M / (M - 1), 1e-5);
    }
    /* inference afterwards uses the updated statistics */
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    double mean[3], var[3];
    for (int c = 0; c < 3; c++) {
        mean[c] = foil_f32(&oc->in[3])[c];
        var[c] = foil_f32(&oc->in[4])[c];
    }
    check_y(oc, mean, var, 1e-5);
    opc_free(oc);
    /* gradients in foil's training mode */
    for (int k = 0; k < 3; k++) {
        oc = make_bn(15, 1, 4, s4, 90);
        double err = opc_gradcheck(oc, k, 1e-2f, 1);
        if (err > 1e-2) print_error("bn foil training input %d: err %g\n", k, err);
        assert_true(err < 1e-2);
        opc_free(oc);
    }
    /* with running outputs present, foil's training writes them and leaves the inputs alone */
    oc = make_bn(15, 3, 4, s4, 81);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    memcpy(m0, foil_f32(&oc->in[3]), sizeof m0);
    assert_int_equal(opc_forward(oc, 1), FOIL_OK);
    batch_stats(oc, &st);
    for (int c = 0; c < 3; c++) {
        assert_float_equal(foil_f32(&oc->in[3])[c], m0[c], 0);
        assert_float_equal(foil_f32(&oc->out[1])[c], m0[c] * 0.9 + st.mean[c] * 0.1, 1e-5);
    }
    opc_free(oc);
}

/* Large tensors through the threaded paths: forward and all gradients against
 * the closed forms in double. */
static void test_bn_large(void **state)
{
    (void)state;
    const int64_t s[4] = {16, 8, 24, 24};
    for (int train = 0; train < 2; train++) {
        for (int only_dx = 0; only_dx < 2; only_dx++) {
            op_case *oc = make_bn(15, 1, 4, s, 100 + (uint64_t)train);
            if (train) opc_attr_int(oc, "training_mode", 1);
            assert_int_equal(opc_prepare(oc), FOIL_OK);
            assert_int_equal(opc_forward(oc, 0), FOIL_OK);
            stats st;
            if (train) {
                batch_stats(oc, &st);
            } else {
                for (int c = 0; c < 8; c++) {
                    st.mean[c] = foil_f32(&oc->in[3])[c];
                    st.var[c] = foil_f32(&oc->in[4])[c];
                }
            }
            check_y(oc, st.mean, st.var, 1e-5);
            const int64_t N = 16, C = 8, S = 24 * 24, total = N * C * S;
            foil_tensor dy = {0}, dx = {0}, dsc = {0}, db = {0};
            foil_tensor_alloc(&dy, FOIL_F32, 4, s);
            foil_tensor_alloc(&dx, FOIL_F32, 4, s);
            foil_tensor_alloc(&dsc, FOIL_F32, 1, &C);
            foil_tensor_alloc(&db, FOIL_F32, 1, &C);
            foil_rng r = foil_rng_make(5, 5);
            float *g = foil_f32(&dy);
            for (int64_t i = 0; i < total; i++) g[i] = (float)foil_rng_normal(&r);
            oc->pdout[0] = &dy;
            oc->pdin[0] = &dx;
            oc->pdin[1] = only_dx ? NULL : &dsc;
            oc->pdin[2] = only_dx ? NULL : &db;
            oc->node.op->backward(&oc->node.ctx);
            const float *x = foil_f32(&oc->in[0]), *sc = foil_f32(&oc->in[1]);
            for (int64_t c = 0; c < C; c++) {
                double rs = 1.0 / sqrt(st.var[c] + 1e-5), sdy = 0, sdyx = 0;
                for (int64_t n = 0; n < N; n++)
                    for (int64_t j = 0; j < S; j++) {
                        int64_t i = (n * C + c) * S + j;
                        sdy += g[i];
                        sdyx += g[i] * (x[i] - st.mean[c]) * rs;
                    }
                if (!only_dx) {
                    assert_float_equal(foil_f32(&db)[c], sdy, 1e-3 * (1 + fabs(sdy)));
                    assert_float_equal(foil_f32(&dsc)[c], sdyx, 1e-3 * (1 + fabs(sdyx)));
                }
                const double M = (double)(N * S);
                for (int64_t n = 0; n < N; n++)
                    for (int64_t j = 0; j < S; j += 7) {
                        int64_t i = (n * C + c) * S + j;
                        double xh = (x[i] - st.mean[c]) * rs;
                        double want = train ? sc[c] * rs * (g[i] - sdy / M - xh * sdyx / M) : sc[c] * rs * g[i];
                        assert_float_equal(foil_f32(&dx)[i], want, 1e-4 * (1 + fabs(want)));
                    }
            }
            oc->pdout[0] = NULL;
            oc->pdin[0] = oc->pdin[1] = oc->pdin[2] = NULL;
            foil_tensor_free(&dy);
            foil_tensor_free(&dx);
            foil_tensor_free(&dsc);
            foil_tensor_free(&db);
            opc_free(oc);
        }
    }
}

static void test_bn_errors(void **state)
{
    (void)state;
    const int64_t s4[4] = {2, 3, 4, 5}, s1[1] = {3}, c4[1] = {4};
    /* spatial=0 is not supported */
    op_case *oc = make_bn(7, 1, 4, s4, 1);
    opc_attr_int(oc, "spatial", 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_UNSUPPORTED);
    opc_free(oc);
    /* scale of the wrong size */
    oc = make_bn(15, 1, 4, s4, 1);
    opc_input_randn(oc, 1, 1, c4, 1.0f, 9);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    assert_non_null(strstr(foil_last_error(), "scale"));
    opc_free(oc);
    /* rank-1 X */
    oc = opc_new("BatchNormalization", 5, 1);
    opc_input_randn(oc, 0, 1, s1, 1.0f, 1);
    for (int i = 1; i < 5; i++) opc_input_randn(oc, i, 1, s1, 1.0f, 2);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    opc_free(oc);
    /* missing input */
    oc = make_bn(15, 1, 4, s4, 1);
    foil_tensor_free(&oc->in[4]);
    oc->pin[4] = NULL;
    assert_int_equal(opc_prepare(oc), FOIL_ERR_FORMAT);
    opc_free(oc);
    /* integer X */
    oc = make_bn(15, 1, 4, s4, 1);
    opc_input(oc, 0, FOIL_I64, 4, s4, NULL, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_UNSUPPORTED);
    opc_free(oc);
    /* too many outputs for opset 15 */
    oc = make_bn(15, 5, 4, s4, 1);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_FORMAT);
    opc_free(oc);
    /* bad training_mode */
    oc = make_bn(15, 1, 4, s4, 1);
    opc_attr_int(oc, "training_mode", 3);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_FORMAT);
    opc_free(oc);
}

int main(void)
{
    opc_skip_unless_kernels_run();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bn_inference),
        cmocka_unit_test(test_bn_training_mode),
        cmocka_unit_test(test_bn_training_outputs_old_opset),
        cmocka_unit_test(test_bn_foil_training),
        cmocka_unit_test(test_bn_large),
        cmocka_unit_test(test_bn_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
