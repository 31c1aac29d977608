/*
 * tests/test_ops_layernorm.c - LayerNormalization (every axis of ranks 2 to
 * 4, with and without B, with the optional Mean and InvStdDev outputs) and
 * InstanceNormalization: forward against a naive double-precision
 * normalization, gradients of X, scale and B by finite differences (through
 * all outputs, so Mean's and InvStdDev's gradients are checked too), a large
 * case on the OpenMP paths, the errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op_harness.h"

/* Naive: rows of d values of x normalized, then y = xhat * scale[k] + bias[k]
 * with k = j (per column, LayerNorm) or row % ch (per channel, InstanceNorm). */
static void naive_norm(const float *x, int64_t rows, int64_t d, const float *scale, const float *bias, int per_col,
                       int64_t ch, double eps, double *y, double *mean, double *rstd)
{
    for (int64_t r = 0; r < rows; r++) {
        double s = 0, v = 0;
        for (int64_t j = 0; j < d; j++) s += x[r * d + j];
        const double m = s / (double)d;
        for (int64_t j = 0; j < d; j++) v += (x[r * d + j] - m) * (x[r * d + j] - m);
        const double rs = 1.0 / sqrt(v / (double)d + eps);
        mean[r] = m;
        rstd[r] = rs;
        for (int64_t j = 0; j < d; j++) {
            const int64_t k = per_col ? j : r % ch;
            y[r * d + j] = (x[r * d + j] - m) * rs * scale[k] + (bias ? bias[k] : 0.0);
        }
    }
}

static void check_close(const char *what, const float *got, const double *want, int64_t n, double tol)
{
    for (int64_t i = 0; i < n; i++)
        if (fabs(got[i] - want[i]) > tol * (1 + fabs(want[i])))
            fail_msg("%s[%lld] = %.7g, expected %.7g", what, (long long)i, got[i], want[i]);
}

/* LayerNorm on shape s (rank r) at axis; n_out outputs; bias or not. */
static op_case *make_ln(int r, const int64_t *s, int64_t axis, int with_bias, int n_out, float eps, uint64_t seed)
{
    op_case *oc = opc_new("LayerNormalization", with_bias ? 3 : 2, n_out);
    oc->node.opset = 17;
    opc_attr_int(oc, "axis", axis);
    if (eps > 0) opc_attr_float(oc, "epsilon", eps);
    opc_input_randn(oc, 0, r, s, 2.0f, seed);
    float *x = foil_f32(&oc->in[0]);
    for (int64_t i = 0; i < oc->in[0].numel; i++) x[i] += 0.7f; /* nonzero mean */
    const int a = (int)(axis < 0 ? axis + r : axis);
    opc_input_randn(oc, 1, r - a, s + a, 1.0f, seed + 1);
    if (with_bias) opc_input_randn(oc, 2, r - a, s + a, 1.0f, seed + 2);
    return oc;
}

static void run_ln_case(int r, const int64_t *s, int64_t axis, int with_bias, int n_out, float eps, int grad,
                        uint64_t seed)
{
    op_case *oc = make_ln(r, s, axis, with_bias, n_out, eps, seed);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    const int a = (int)(axis < 0 ? axis + r : axis);
    int64_t rows = 1, d = 1;
    for (int i = 0; i < r; i++) *(i < a ? &rows : &d) *= s[i];
    double *y = malloc((size_t)(rows * d) * sizeof *y), *mean = malloc((size_t)rows * sizeof *mean);
    double *rstd = malloc((size_t)rows * sizeof *rstd);
    naive_norm(foil_f32(&oc->in[0]), rows, d, foil_f32(&oc->in[1]), with_bias ? foil_f32(&oc->in[2]) : NULL, 1, 1,
               eps > 0 ? eps : 1e-5, y, mean, rstd);
    check_close("Y", foil_f32(&oc->out[0]), y, rows * d, 1e-4);
    if (n_out > 1) {
        assert_int_equal(oc->out[1].ndim, r);
        for (int i = 0; i < r; i++) assert_int_equal(oc->out[1].shape[i], i < a ? s[i] : 1);
        check_close("Mean", foil_f32(&oc->out[1]), mean, rows, 1e-5);
    }
    if (n_out > 2) check_close("InvStdDev", foil_f32(&oc->out[2]), rstd, rows, 1e-4);
    if (grad)
        for (int k = 0; k < (with_bias ? 3 : 2); k++) {
            double err = opc_gradcheck(oc, k, 1e-3f, 0);
            if (err > 3e-3)
                fail_msg("LayerNorm axis %lld outputs %d: input %d gradcheck err %g", (long long)axis, n_out, k, err);
        }
    free(y);
    free(mean);
    free(rstd);
    opc_free(oc);
}

static void test_layernorm(void **state)
{
    (void)state;
    const int64_t s2[2] = {3, 5}, s3[3] = {2, 3, 4}, s4[4] = {2, 2, 3, 3};
    for (int64_t axis = -2; axis < 2; axis++) run_ln_case(2, s2, axis, (int)(axis & 1), 3, 0, 1, 10 + axis);
    for (int64_t axis = -3; axis < 3; axis++)
        run_ln_case(3, s3, axis, 1, 1 + (int)((axis + 3) % 3), 0.01f, 1, 20 + axis);
    for (int64_t axis = -4; axis < 4; axis++) run_ln_case(4, s4, axis, (int)(axis & 1), 3, 0, 1, 30 + axis);
}

/* A ViT-sized row (768) on many tokens: the OpenMP paths, and the scale and
 * bias gradients against their sums. */
static void test_layernorm_large(void **state)
{
    (void)state;
    const int64_t s[3] = {4, 20, 768};
    op_case *oc = make_ln(3, s, -1, 1, 1, 0, 5);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    const int64_t rows = 80, d = 768;
    double *y = malloc((size_t)(rows * d) * sizeof *y), mean[80], rstd[80];
    const float *x = foil_f32(&oc->in[0]);
    naive_norm(x, rows, d, foil_f32(&oc->in[1]), foil_f32(&oc->in[2]), 1, 1, 1e-5, y, mean, rstd);
    check_close("Y", foil_f32(&oc->out[0]), y, rows * d, 1e-4);
    foil_tensor g = {0}, ds = {0}, db = {0};
    assert_int_equal(foil_tensor_alloc(&g, FOIL_F32, 3, s), FOIL_OK);
    assert_int_equal(foil_tensor_alloc(&ds, FOIL_F32, 1, s + 2), FOIL_OK);
    assert_int_equal(foil_tensor_alloc(&db, FOIL_F32, 1, s + 2), FOIL_OK);
    for (int64_t i = 0; i < g.numel; i++) foil_f32(&g)[i] = (float)(i % 11) * 0.1f - 0.5f;
    oc->pdout[0] = &g;
    oc->pdin[1] = &ds;
    oc->pdin[2] = &db;
    oc->node.op->backward(&oc->node.ctx);
    double *ws = calloc((size_t)d, sizeof *ws), *wb = calloc((size_t)d, sizeof *wb);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < d; j++) {
            ws[j] += foil_f32(&g)[r * d + j] * (x[r * d + j] - mean[r]) * rstd[r];
            wb[j] += foil_f32(&g)[r * d + j];
        }
    check_close("dScale", foil_f32(&ds), ws, d, 1e-4);
    check_close("dB", foil_f32(&db), wb, d, 1e-4);
    oc->pdout[0] = oc->pdin[1] = oc->pdin[2] = NULL;
    foil_tensor_free(&g);
    foil_tensor_free(&ds);
    foil_tensor_free(&db);
    free(ws);
    free(wb);
    free(y);
    opc_free(oc);
}

static void test_instancenorm(void **state)
{
    (void)state;
    const int64_t shapes[3][4] = {{2, 3, 4, 0}, {2, 2, 3, 3}, {8, 16, 32, 32}};
    const int ranks[3] = {3, 4, 4};
    for (int t = 0; t < 3; t++) {
        const int64_t *s = shapes[t];
        op_case *oc = opc_new("InstanceNormalization", 3, 1);
        oc->node.opset = 6;
        if (t == 1) opc_attr_float(oc, "epsilon", 0.01f);
        opc_input_randn(oc, 0, ranks[t], s, 2.0f, 50 + t);
        const int64_t cs[1] = {s[1]};
        opc_input_randn(oc, 1, 1, cs, 1.0f, 60 + t);
        opc_input_randn(oc, 2, 1, cs, 1.0f, 70 + t);
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        const int64_t rows = s[0] * s[1], d = oc->in[0].numel / rows;
        double *y = malloc((size_t)(rows * d) * sizeof *y), *mean = malloc((size_t)rows * sizeof(double));
        double *rstd = malloc((size_t)rows * sizeof(double));
        naive_norm(foil_f32(&oc->in[0]), rows, d, foil_f32(&oc->in[1]), foil_f32(&oc->in[2]), 0, s[1],
                   t == 1 ? 0.01 : 1e-5, y, mean, rstd);
        check_close("Y", foil_f32(&oc->out[0]), y, rows * d, 1e-4);
        if (t < 2)
            for (int k = 0; k < 3; k++) {
                double err = opc_gradcheck(oc, k, 1e-3f, 0);
                if (err > 3e-3) fail_msg("InstanceNorm case %d input %d: gradcheck err %g", t, k, err);
            }
        free(y);
        free(mean);
        free(rstd);
        opc_free(oc);
    }
}

static void test_norm_errors(void **state)
{
    (void)state;
    const int64_t s[2] = {3, 4}, bad[1] = {3};
    /* scale of the wrong size */
    op_case *oc = opc_new("LayerNormalization", 2, 1);
    opc_input_randn(oc, 0, 2, s, 1.0f, 1);
    opc_input_randn(oc, 1, 1, bad, 1.0f, 2);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    assert_non_null(strstr(foil_last_error(), "scale"));
    opc_free(oc);
    /* stash_type other than float */
    oc = opc_new("LayerNormalization", 2, 1);
    opc_attr_int(oc, "stash_type", 11);
    opc_input_randn(oc, 0, 2, s, 1.0f, 1);
    opc_input_randn(oc, 1, 1, s + 1, 1.0f, 2);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_UNSUPPORTED);
    assert_non_null(strstr(foil_last_error(), "stash_type"));
    opc_free(oc);
    /* axis out of range */
    oc = opc_new("LayerNormalization", 2, 1);
    opc_attr_int(oc, "axis", 2);
    opc_input_randn(oc, 0, 2, s, 1.0f, 1);
    opc_input_randn(oc, 1, 1, s + 1, 1.0f, 2);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_FORMAT);
    opc_free(oc);
    /* InstanceNorm on a rank-2 tensor, and without B */
    oc = opc_new("InstanceNormalization", 3, 1);
    opc_input_randn(oc, 0, 2, s, 1.0f, 1);
    opc_input_randn(oc, 1, 1, bad, 1.0f, 2);
    opc_input_randn(oc, 2, 1, bad, 1.0f, 3);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    opc_free(oc);
    const int64_t s3[3] = {2, 3, 4};
    oc = opc_new("InstanceNormalization", 2, 1);
    opc_input_randn(oc, 0, 3, s3, 1.0f, 1);
    opc_input_randn(oc, 1, 1, bad, 1.0f, 2);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_FORMAT);
    opc_free(oc);
}

int main(void)
{
    opc_skip_unless_kernels_run();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_layernorm_large),
        cmocka_unit_test(test_instancenorm),
        cmocka_unit_test(test_norm_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
