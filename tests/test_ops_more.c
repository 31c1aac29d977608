/*
 * tests/test_ops_more.c - the ops added for issue 17's conformance goal:
 * Max/Min/Sum/Mean (variadic, broadcast), ReduceL1/SumSquare/LogSum/
 * LogSumExp/Prod, NegativeLogLikelihoodLoss, GatherElements, Size, the
 * activations and trigonometric ops, PRelu, Mod and the logic ops, Trilu,
 * CumSum, Hardmax, DepthToSpace, SpaceToDepth, GlobalMaxPool, Shrink, IsNaN,
 * IsInf, BitShift, ScatterElements, EyeLike. Forward
 * against double references written here, backward against finite
 * differences (opc_gradcheck), and the errors.
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

static void check_grad(op_case *oc, int i, const char *what)
{
    double err = opc_gradcheck(oc, i, 1e-3f, 0);
    if (err > 5e-3) fail_msg("%s: gradcheck of input %d: err %g", what, i, err);
}

/* ---- Max, Min, Sum, Mean ------------------------------------------------ */

static void test_variadic(void **state)
{
    (void)state;
    const char *types[4] = {"Max", "Min", "Sum", "Mean"};
    const int64_t s0[3] = {2, 3, 4}, s1[2] = {3, 1}, s2[1] = {4};
    for (int t = 0; t < 4; t++) {
        op_case *oc = opc_new(types[t], 3, 1);
        opc_input_randn(oc, 0, 3, s0, 1.0f, 1 + t);
        opc_input_randn(oc, 1, 2, s1, 1.0f, 11 + t);
        opc_input_randn(oc, 2, 1, s2, 1.0f, 21 + t);
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        assert_int_equal(oc->out[0].ndim, 3);
        const float *y = foil_f32(&oc->out[0]);
        for (int64_t i = 0; i < 24; i++) {
            const double a = foil_f32(&oc->in[0])[i], b = foil_f32(&oc->in[1])[opc_bcast_index(2, s1, 3, s0, i)],
                         c = foil_f32(&oc->in[2])[opc_bcast_index(1, s2, 3, s0, i)];
            const double want = t == 0 ? fmax(a, fmax(b, c)) : t == 1 ? fmin(a, fmin(b, c)) : t == 2 ? a + b + c
                                                                                               : (a + b + c) / 3;
            assert_float_equal(y[i], want, 1e-5);
        }
        for (int k = 0; k < 3; k++) check_grad(oc, k, types[t]);
        opc_free(oc);
    }
    /* ties share the gradient: Max(x, x) gives each half */
    op_case *oc = opc_new("Max", 2, 1);
    const float v[2] = {1.0f, -2.0f};
    const int64_t s[1] = {2};
    opc_input(oc, 0, FOIL_F32, 1, s, v, 0);
    opc_input(oc, 1, FOIL_F32, 1, s, v, 0);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    foil_tensor g = {0}, d0 = {0}, d1 = {0};
    assert_int_equal(foil_tensor_alloc(&g, FOIL_F32, 1, s), FOIL_OK);
    assert_int_equal(foil_tensor_alloc(&d0, FOIL_F32, 1, s), FOIL_OK);
    assert_int_equal(foil_tensor_alloc(&d1, FOIL_F32, 1, s), FOIL_OK);
    foil_f32(&g)[0] = 2.0f, foil_f32(&g)[1] = 4.0f;
    oc->pdout[0] = &g;
    oc->pdin[0] = &d0;
    oc->pdin[1] = &d1;
    oc->node.op->backward(&oc->node.ctx);
    assert_float_equal(foil_f32(&d0)[0], 1.0f, 0);
    assert_float_equal(foil_f32(&d1)[1], 2.0f, 0);
    oc->pdout[0] = oc->pdin[0] = oc->pdin[1] = NULL;
    opc_free(oc);
    foil_tensor_free(&g);
    foil_tensor_free(&d0);
    foil_tensor_free(&d1);
}

static void test_variadic_types(void **state)
{
    (void)state;
    const int64_t s[1] = {3}, s1[1] = {1};
    const uint64_t a[3] = {5, UINT64_MAX, 0}, b[1] = {7};
    op_case *oc = opc_new("Max", 2, 1);
    opc_input(oc, 0, FOIL_U64, 1, s, a, 0);
    opc_input(oc, 1, FOIL_U64, 1, s1, b, 0);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    const uint64_t *y = oc->out[0].data;
    assert_true(y[0] == 7 && y[1] == UINT64_MAX && y[2] == 7);
    opc_free(oc);
    const int8_t c[3] = {-128, 127, 3}, d[3] = {0, -1, 3};
    oc = opc_new("Min", 2, 1);
    opc_input(oc, 0, FOIL_I8, 1, s, c, 0);
    opc_input(oc, 1, FOIL_I8, 1, s, d, 0);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    const int8_t *z = oc->out[0].data;
    assert_true(z[0] == -128 && z[1] == -1 && z[2] == 3);
    opc_free(oc);
    /* NaN propagates */
    const float f[3] = {NAN, 1.0f, 2.0f}, e[3] = {0.0f, NAN, 3.0f};
    oc = opc_new("Max", 2, 1);
    opc_input(oc, 0, FOIL_F32, 1, s, f, 0);
    opc_input(oc, 1, FOIL_F32, 1, s, e, 0);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    assert_true(isnan(foil_f32(&oc->out[0])[0]) && isnan(foil_f32(&oc->out[0])[1]));
    assert_float_equal(foil_f32(&oc->out[0])[2], 3.0f, 0);
    opc_free(oc);
    /* Sum of integers, mixed types, bad shapes: errors */
    oc = opc_new("Sum", 2, 1);
    opc_input(oc, 0, FOIL_I8, 1, s, c, 0);
    opc_input(oc, 1, FOIL_I8, 1, s, d, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_UNSUPPORTED);
    opc_free(oc);
    oc = opc_new("Min", 2, 1);
    opc_input(oc, 0, FOIL_I8, 1, s, c, 0);
    opc_input(oc, 1, FOIL_F32, 1, s, f, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_FORMAT);
    opc_free(oc);
    const int64_t s2[1] = {2};
    oc = opc_new("Mean", 2, 1);
    opc_input(oc, 0, FOIL_F32, 1, s, f, 0);
    opc_input(oc, 1, FOIL_F32, 1, s2, f, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    opc_free(oc);
}

/* ---- the extra reductions ------------------------------------------------ */

static void test_reduce_more(void **state)
{
    (void)state;
    const char *types[5] = {"ReduceL1", "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp", "ReduceProd"};
    const int64_t shape[3] = {3, 4, 5};
    const unsigned masks[4] = {0x1, 0x2, 0x5, 0x7};
    for (int t = 0; t < 5; t++)
        for (int m = 0; m < 4; m++) {
            op_case *oc = opc_new(types[t], 2, 1);
            opc_input_randn(oc, 0, 3, shape, 1.0f, 100 + t * 10 + m);
            float *x = foil_f32(&oc->in[0]);
            for (int64_t i = 0; i < 60; i++) {
                if (t == 2) x[i] = 0.2f + fabsf(x[i]);                           /* LogSum: positive sums */
                if (t == 0 && fabsf(x[i]) < 0.05f) x[i] = 0.1f;                   /* L1: off the kink */
                if (t == 4) x[i] = (x[i] >= 0 ? 1.0f : -1.0f) * (0.5f + 0.5f * fabsf(x[i])); /* Prod: moderate */
            }
            int64_t axes[3], na = 0;
            for (int d = 0; d < 3; d++)
                if ((masks[m] >> d) & 1u) axes[na++] = d;
            opc_input(oc, 1, FOIL_I64, 1, &na, axes, 1);
            opc_attr_int(oc, "keepdims", m & 1);
            assert_int_equal(opc_prepare(oc), FOIL_OK);
            assert_int_equal(opc_forward(oc, 0), FOIL_OK);
            /* naive reference over the output elements */
            const float *y = foil_f32(&oc->out[0]);
            int64_t no = 0;
            for (int64_t i0 = 0; i0 < 3; i0++)
                for (int64_t i1 = 0; i1 < 4; i1++)
                    for (int64_t i2 = 0; i2 < 5; i2++) {
                        const int64_t idx[3] = {i0, i1, i2};
                        int first = 1;
                        for (int d = 0; d < 3; d++)
                            if (((masks[m] >> d) & 1u) && idx[d] != 0) first = 0;
                        if (!first) continue;
                        double acc = t == 4 ? 1.0 : 0.0;
                        for (int64_t j = 0; j < 60; j++) {
                            const int64_t jd[3] = {j / 20, (j / 5) % 4, j % 5};
                            int same = 1;
                            for (int d = 0; d < 3; d++)
                                if (!((masks[m] >> d) & 1u) && jd[d] != idx[d]) same = 0;
                            if (!same) continue;
                            const double v = x[j];
                            if (t == 0) acc += fabs(v);
                            else if (t == 1) acc += v * v;
                            else if (t == 2) acc += v;
                            else if (t == 3) acc += exp(v);
                            else acc *= v;
                        }
                        const double want = t == 2 || t == 3 ? log(acc) : acc;
                        assert_float_equal(y[no], want, 1e-4 * (1 + fabs(want)));
                        no++;
                    }
            assert_int_equal(no, oc->out[0].numel);
            check_grad(oc, 0, types[t]);
            opc_free(oc);
        }
}

static void test_reduce_prod_zeros(void **state)
{
    (void)state;
    /* one zero: only it gets a gradient (the product of the others); two: none */
    const float x[6] = {2.0f, 0.0f, 3.0f, 0.0f, 5.0f, 0.0f};
    const int64_t s[2] = {2, 3}, ax[1] = {1}, na = 1;
    op_case *oc = opc_new("ReduceProd", 2, 1);
    opc_input(oc, 0, FOIL_F32, 2, s, x, 0);
    opc_input(oc, 1, FOIL_I64, 1, &na, ax, 1);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    check_grad(oc, 0, "ReduceProd with zeros");
    opc_free(oc);
    /* LogSumExp of large values does not overflow */
    const float big[2] = {1000.0f, 1000.0f};
    const int64_t s2[1] = {2};
    oc = opc_new("ReduceLogSumExp", 1, 1);
    opc_input(oc, 0, FOIL_F32, 1, s2, big, 0);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    assert_float_equal(foil_f32(&oc->out[0])[0], 1000.0f + logf(2.0f), 1e-3);
    opc_free(oc);
}

/* ---- NegativeLogLikelihoodLoss ------------------------------------------ */

static void test_nll(void **state)
{
    (void)state;
    const char *reds[3] = {"none", "sum", "mean"};
    const int64_t xs[3] = {3, 4, 2}, ls[2] = {3, 2}, ws[1] = {4};
    const int64_t lab[6] = {0, 3, -1, 2, 1, -1};
    const float w[4] = {0.5f, 1.0f, 2.0f, 1.5f};
    for (int r = 0; r < 3; r++)
        for (int withw = 0; withw < 2; withw++) {
            op_case *oc = opc_new("NegativeLogLikelihoodLoss", withw ? 3 : 2, 1);
            opc_input_randn(oc, 0, 3, xs, 1.0f, 40 + r);
            opc_input(oc, 1, FOIL_I64, 2, ls, lab, 0);
            if (withw) opc_input(oc, 2, FOIL_F32, 1, ws, w, 0);
            opc_attr_string(oc, "reduction", reds[r]);
            opc_attr_int(oc, "ignore_index", -1);
            assert_int_equal(opc_prepare(oc), FOIL_OK);
            assert_int_equal(opc_forward(oc, 0), FOIL_OK);
            const float *x = foil_f32(&oc->in[0]), *y = foil_f32(&oc->out[0]);
            double sum = 0, wsum = 0;
            for (int64_t p = 0; p < 6; p++) {
                const int64_t n = p / 2, d = p % 2, l = lab[p];
                const double wl = l < 0 ? 0 : withw ? w[l] : 1.0;
                const double lp = l < 0 ? 0 : -wl * x[(n * 4 + l) * 2 + d];
                if (r == 0) assert_float_equal(y[p], lp, 1e-6);
                sum += lp, wsum += wl;
            }
            if (r == 1) assert_float_equal(y[0], sum, 1e-5);
            if (r == 2) assert_float_equal(y[0], sum / wsum, 1e-5);
            check_grad(oc, 0, "NegativeLogLikelihoodLoss");
            opc_free(oc);
        }
    /* a label outside [0, C) that is not ignored */
    const int64_t bad[6] = {0, 4, 1, 1, 1, 1};
    op_case *oc = opc_new("NegativeLogLikelihoodLoss", 2, 1);
    opc_input_randn(oc, 0, 3, xs, 1.0f, 9);
    opc_input(oc, 1, FOIL_I64, 2, ls, bad, 0);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_ERR_ARG);
    opc_free(oc);
}

/* ---- GatherElements, Size ------------------------------------------------ */

static void test_gather_elements(void **state)
{
    (void)state;
    const int64_t xs[2] = {3, 3}, is[2] = {2, 3};
    const int64_t idx[6] = {1, 2, 0, 2, -3, 1};
    for (int axis = 0; axis < 2; axis++) {
        op_case *oc = opc_new("GatherElements", 2, 1);
        opc_input_randn(oc, 0, 2, xs, 1.0f, 5 + axis);
        opc_input(oc, 1, FOIL_I64, 2, is, idx, 0);
        opc_attr_int(oc, "axis", axis);
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        const float *x = foil_f32(&oc->in[0]), *y = foil_f32(&oc->out[0]);
        for (int64_t i = 0; i < 2; i++)
            for (int64_t j = 0; j < 3; j++) {
                int64_t k = idx[i * 3 + j];
                if (k < 0) k += 3;
                assert_float_equal(y[i * 3 + j], axis ? x[i * 3 + k] : x[k * 3 + j], 0);
            }
        check_grad(oc, 0, "GatherElements");
        opc_free(oc);
    }
    const int64_t oob[6] = {0, 0, 3, 0, 0, 0};
    op_case *oc = opc_new("GatherElements", 2, 1);
    opc_input_randn(oc, 0, 2, xs, 1.0f, 1);
    opc_input(oc, 1, FOIL_I64, 2, is, oob, 0);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_ERR_ARG);
    opc_free(oc);

    oc = opc_new("Size", 1, 1);
    opc_input_randn(oc, 0, 2, is, 1.0f, 1);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    assert_int_equal(oc->out[0].ndim, 0);
    assert_int_equal(((int64_t *)oc->out[0].data)[0], 6);
    opc_free(oc);
}

/* ---- unary activations ---------------------------------------------------- */

typedef double (*ref1)(double x);
static double r_elu(double x) { return x > 0 ? x : 0.7 * (exp(x) - 1); }
static double r_selu(double x) { return 1.0507009873554805 * (x > 0 ? x : 1.6732632423543772 * (exp(x) - 1)); }
static double r_celu(double x) { return x > 0 ? x : 2.0 * (exp(x / 2.0) - 1); }
static double r_softplus(double x) { return log1p(exp(x)); }
static double r_softsign(double x) { return x / (1 + fabs(x)); }
static double r_threlu(double x) { return x > 0.5 ? x : 0; }
static double r_sign(double x) { return x > 0 ? 1 : x < 0 ? -1 : 0; }

static const struct {
    const char *type;
    ref1 f;
    float alpha;   /* 0: default */
    float lo, hi;  /* input range */
    int grad;      /* differentiable away from kinks */
} ucases[] = {
    {"Elu", r_elu, 0.7f, -3, 3, 1},      {"Selu", r_selu, 0, -3, 3, 1},     {"Celu", r_celu, 2.0f, -3, 3, 1},
    {"Softplus", r_softplus, 0, -5, 5, 1}, {"Softsign", r_softsign, 0, -3, 3, 1}, {"ThresholdedRelu", r_threlu, 0.5f, -2, 2, 1},
    {"Sin", sin, 0, -3, 3, 1},           {"Cos", cos, 0, -3, 3, 1},         {"Tan", tan, 0, -1.2f, 1.2f, 1},
    {"Asin", asin, 0, -0.9f, 0.9f, 1},   {"Acos", acos, 0, -0.9f, 0.9f, 1}, {"Atan", atan, 0, -3, 3, 1},
    {"Sinh", sinh, 0, -3, 3, 1},         {"Cosh", cosh, 0, -3, 3, 1},       {"Asinh", asinh, 0, -3, 3, 1},
    {"Acosh", acosh, 0, 1.1f, 4, 1},     {"Atanh", atanh, 0, -0.9f, 0.9f, 1}, {"Floor", floor, 0, -3, 3, 1},
    {"Ceil", ceil, 0, -3, 3, 1},         {"Sign", r_sign, 0, -3, 3, 1},
};

static void test_unary_more(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof ucases / sizeof ucases[0]; k++) {
        for (int big = 0; big < 2; big++) {
            const int64_t n = big ? 40000 : 64, shape[1] = {n};
            op_case *oc = opc_new(ucases[k].type, 1, 1);
            if (ucases[k].alpha != 0) opc_attr_float(oc, "alpha", ucases[k].alpha);
            opc_input_randn(oc, 0, 1, shape, 1.0f, 70 + k);
            float *x = foil_f32(&oc->in[0]);
            for (int64_t i = 0; i < n; i++) {
                /* uniform in [lo, hi], away from the integers (Floor, Ceil), 0 and alpha (kinks) */
                float u = (float)((i * 7919 + 13 * k) % 1000) / 1000.0f;
                float v = ucases[k].lo + (ucases[k].hi - ucases[k].lo) * u;
                if (fabsf(v - roundf(v)) < 0.02f) v += 0.05f;
                if (fabsf(v - ucases[k].alpha) < 0.02f) v += 0.05f;
                x[i] = v;
            }
            assert_int_equal(opc_prepare(oc), FOIL_OK);
            assert_int_equal(opc_forward(oc, 0), FOIL_OK);
            const float *y = foil_f32(&oc->out[0]);
            for (int64_t i = 0; i < n; i++) {
                const double want = ucases[k].f(x[i]);
                if (fabs(y[i] - want) > 2e-6 + 2e-6 * fabs(want))
                    fail_msg("%s(%g) = %.9g, expected %.9g", ucases[k].type, x[i], y[i], want);
            }
            if (!big) check_grad(oc, 0, ucases[k].type);
            opc_free(oc);
        }
    }
    /* Celu's alpha = 0 divides by zero: refused at load */
    op_case *oc = opc_new("Celu", 1, 1);
    opc_attr_float(oc, "alpha", 0.0f);
    const int64_t s[1] = {2};
    opc_input_randn(oc, 0, 1, s, 1.0f, 1);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_FORMAT);
    opc_free(oc);
}

static void test_prelu(void **state)
{
    (void)state;
    const int64_t xs[3] = {2, 3, 4}, ss[3][3] = {{1, 3, 1}, {2, 3, 4}, {1, 1, 4}};
    const int sr[3] = {3, 3, 1};
    const int64_t s1[1] = {4};
    for (int k = 0; k < 3; k++) {
        op_case *oc = opc_new("PRelu", 2, 1);
        opc_input_randn(oc, 0, 3, xs, 1.0f, 3 + k);
        if (sr[k] == 1) opc_input_randn(oc, 1, 1, s1, 0.5f, 13 + k);
        else opc_input_randn(oc, 1, 3, ss[k], 0.5f, 13 + k);
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        const foil_tensor *sl = &oc->in[1];
        for (int64_t i = 0; i < 24; i++) {
            const float v = foil_f32(&oc->in[0])[i];
            const float a = foil_f32(sl)[opc_bcast_index(sl->ndim, sl->shape, 3, xs, i)];
            assert_float_equal(foil_f32(&oc->out[0])[i], v < 0 ? a * v : v, 1e-7);
        }
        check_grad(oc, 0, "PRelu x");
        check_grad(oc, 1, "PRelu slope");
        opc_free(oc);
    }
    op_case *oc = opc_new("PRelu", 2, 1);
    const int64_t bad[1] = {3};
    opc_input_randn(oc, 0, 3, xs, 1.0f, 1);
    opc_input_randn(oc, 1, 1, bad, 1.0f, 2);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    opc_free(oc);
}

/* ---- Mod, logic ------------------------------------------------------------ */

static void test_mod_logic(void **state)
{
    (void)state;
    const int64_t s[1] = {6};
    const int32_t a[6] = {-4, 7, 5, -3, 8, INT32_MIN}, b[6] = {3, -3, 0, -2, 3, -1};
    const int32_t py[6] = {2, -2, 0, -1, 2, 0}, cm[6] = {-1, 1, 0, -1, 2, 0};
    for (int fm = 0; fm < 2; fm++) {
        op_case *oc = opc_new("Mod", 2, 1);
        opc_input(oc, 0, FOIL_I32, 1, s, a, 0);
        opc_input(oc, 1, FOIL_I32, 1, s, b, 0);
        opc_attr_int(oc, "fmod", fm);
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        for (int i = 0; i < 6; i++) assert_int_equal(((int32_t *)oc->out[0].data)[i], fm ? cm[i] : py[i]);
        opc_free(oc);
    }
    const float fa[2] = {-4.5f, 7.0f}, fb[2] = {2.0f, -3.0f};
    const int64_t s2[1] = {2};
    op_case *oc = opc_new("Mod", 2, 1);
    opc_input(oc, 0, FOIL_F32, 1, s2, fa, 0);
    opc_input(oc, 1, FOIL_F32, 1, s2, fb, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_FORMAT); /* floats need fmod=1 */
    opc_free(oc);
    oc = opc_new("Mod", 2, 1);
    opc_input(oc, 0, FOIL_F32, 1, s2, fa, 0);
    opc_input(oc, 1, FOIL_F32, 1, s2, fb, 0);
    opc_attr_int(oc, "fmod", 1);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    assert_float_equal(foil_f32(&oc->out[0])[0], -0.5f, 0);
    assert_float_equal(foil_f32(&oc->out[0])[1], 1.0f, 0);
    opc_free(oc);

    const char *types[5] = {"And", "Or", "Xor", "GreaterOrEqual", "LessOrEqual"};
    const uint8_t p[4] = {0, 0, 1, 1}, q[4] = {0, 1, 0, 1};
    const int64_t s4[1] = {4};
    const uint8_t want[5][4] = {{0, 0, 0, 1}, {0, 1, 1, 1}, {0, 1, 1, 0}, {1, 0, 1, 1}, {1, 1, 0, 1}};
    for (int t = 0; t < 5; t++) {
        oc = opc_new(types[t], 2, 1);
        const float fp[4] = {0, 0, 1, 1}, fq[4] = {0, 1, 0, 1};
        if (t < 3) {
            opc_input(oc, 0, FOIL_BOOL, 1, s4, p, 0);
            opc_input(oc, 1, FOIL_BOOL, 1, s4, q, 0);
        } else {
            opc_input(oc, 0, FOIL_F32, 1, s4, fp, 0);
            opc_input(oc, 1, FOIL_F32, 1, s4, fq, 0);
        }
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        for (int i = 0; i < 4; i++) assert_int_equal(((uint8_t *)oc->out[0].data)[i], want[t][i]);
        opc_free(oc);
    }
    /* And of floats is refused */
    oc = opc_new("And", 2, 1);
    opc_input(oc, 0, FOIL_F32, 1, s2, fa, 0);
    opc_input(oc, 1, FOIL_F32, 1, s2, fb, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_UNSUPPORTED);
    opc_free(oc);
}

/* ---- Trilu, CumSum, Hardmax, DepthToSpace/SpaceToDepth, GlobalMaxPool ----- */

static void test_trilu(void **state)
{
    (void)state;
    const int64_t xs[3] = {2, 3, 4};
    for (int upper = 0; upper < 2; upper++)
        for (int64_t k = -2; k <= 2; k++) {
            op_case *oc = opc_new("Trilu", 2, 1);
            opc_input_randn(oc, 0, 3, xs, 1.0f, 30 + upper);
            opc_input(oc, 1, FOIL_I64, 0, NULL, &k, 0);
            opc_attr_int(oc, "upper", upper);
            assert_int_equal(opc_prepare(oc), FOIL_OK);
            assert_int_equal(opc_forward(oc, 0), FOIL_OK);
            for (int64_t e = 0; e < 24; e++) {
                const int64_t i = (e / 4) % 3, j = e % 4;
                const int keep = upper ? j - i >= k : j - i <= k;
                assert_float_equal(foil_f32(&oc->out[0])[e], keep ? foil_f32(&oc->in[0])[e] : 0.0f, 0);
            }
            check_grad(oc, 0, "Trilu");
            opc_free(oc);
        }
    /* found by fuzz_onnx: rows of no columns divided by zero; an empty
     * matrix is an empty answer */
    const int64_t empty[3] = {2, 3, 0};
    op_case *oe = opc_new("Trilu", 1, 1);
    opc_input_randn(oe, 0, 3, empty, 1.0f, 1);
    assert_int_equal(opc_prepare(oe), FOIL_OK);
    assert_int_equal(opc_forward(oe, 0), FOIL_OK);
    assert_int_equal(oe->out[0].numel, 0);
    opc_free(oe);
    /* rank 1 is refused */
    const int64_t s1[1] = {4};
    op_case *oc = opc_new("Trilu", 1, 1);
    opc_input_randn(oc, 0, 1, s1, 1.0f, 1);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    opc_free(oc);
}

static void test_cumsum(void **state)
{
    (void)state;
    const int64_t xs[2] = {3, 4};
    for (int axis = -1; axis < 2; axis++)
        for (int fl = 0; fl < 4; fl++) {
            const int excl = fl & 1, rev = fl >> 1;
            op_case *oc = opc_new("CumSum", 2, 1);
            opc_input_randn(oc, 0, 2, xs, 1.0f, 50 + fl);
            const int32_t ax = axis;
            opc_input(oc, 1, FOIL_I32, 0, NULL, &ax, 0);
            opc_attr_int(oc, "exclusive", excl);
            opc_attr_int(oc, "reverse", rev);
            assert_int_equal(opc_prepare(oc), FOIL_OK);
            assert_int_equal(opc_forward(oc, 0), FOIL_OK);
            const float *x = foil_f32(&oc->in[0]), *y = foil_f32(&oc->out[0]);
            const int a = axis < 0 ? 1 : axis;
            for (int64_t r = 0; r < 3; r++)
                for (int64_t c = 0; c < 4; c++) {
                    double want = 0;
                    const int64_t me = a ? c : r, n = a ? 4 : 3;
                    for (int64_t q = 0; q < n; q++) {
                        const int in = rev ? (excl ? q > me : q >= me) : (excl ? q < me : q <= me);
                        if (in) want += a ? x[r * 4 + q] : x[q * 4 + c];
                    }
                    assert_float_equal(y[r * 4 + c], want, 1e-5);
                }
            check_grad(oc, 0, "CumSum");
            opc_free(oc);
        }
    const int64_t iv[3] = {1, 2, 3}, s3[1] = {3}, zero = 0;
    op_case *oc = opc_new("CumSum", 2, 1);
    opc_input(oc, 0, FOIL_I64, 1, s3, iv, 0);
    opc_input(oc, 1, FOIL_I64, 0, NULL, &zero, 0);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    assert_int_equal(((int64_t *)oc->out[0].data)[2], 6);
    opc_free(oc);
    const int64_t two = 2;
    oc = opc_new("CumSum", 2, 1);
    opc_input(oc, 0, FOIL_I64, 1, s3, iv, 0);
    opc_input(oc, 1, FOIL_I64, 0, NULL, &two, 0);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_ERR_FORMAT); /* axis out of range */
    opc_free(oc);
}

static void test_hardmax(void **state)
{
    (void)state;
    const int64_t xs[2] = {2, 3};
    const float x[6] = {1, 3, 3, -1, -2, -5};
    op_case *oc = opc_new("Hardmax", 1, 1);
    opc_input(oc, 0, FOIL_F32, 2, xs, x, 0);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    const float want[6] = {0, 1, 0, 1, 0, 0};
    for (int i = 0; i < 6; i++) assert_float_equal(foil_f32(&oc->out[0])[i], want[i], 0);
    opc_free(oc);
    oc = opc_new("Hardmax", 1, 1);
    opc_input(oc, 0, FOIL_F32, 2, xs, x, 0);
    opc_attr_int(oc, "axis", 0);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    const float want0[6] = {1, 1, 1, 0, 0, 0};
    for (int i = 0; i < 6; i++) assert_float_equal(foil_f32(&oc->out[0])[i], want0[i], 0);
    opc_free(oc);
}

static void test_depth_space(void **state)
{
    (void)state;
    /* DepthToSpace then SpaceToDepth (DCR) is the identity; CRD matches the
     * reshape-transpose definition at one element */
    const int64_t xs[4] = {2, 8, 2, 3};
    op_case *d2s = opc_new("DepthToSpace", 1, 1);
    opc_input_randn(d2s, 0, 4, xs, 1.0f, 77);
    opc_attr_int(d2s, "blocksize", 2);
    assert_int_equal(opc_prepare(d2s), FOIL_OK);
    assert_int_equal(opc_forward(d2s, 0), FOIL_OK);
    const int64_t ys[4] = {2, 2, 4, 6};
    for (int d = 0; d < 4; d++) assert_int_equal(d2s->out[0].shape[d], ys[d]);
    /* DCR: y[n, c, h*2+i, w*2+j] = x[n, (i*2+j)*2 + c, h, w] */
    const float *x = foil_f32(&d2s->in[0]), *y = foil_f32(&d2s->out[0]);
    assert_float_equal(y[((1 * 2 + 1) * 4 + 3) * 6 + 4], x[((1 * 8 + (1 * 2 + 0) * 2 + 1) * 2 + 1) * 3 + 2], 0);
    op_case *s2d = opc_new("SpaceToDepth", 1, 1);
    opc_input(s2d, 0, FOIL_F32, 4, ys, y, 0);
    opc_attr_int(s2d, "blocksize", 2);
    assert_int_equal(opc_prepare(s2d), FOIL_OK);
    assert_int_equal(opc_forward(s2d, 0), FOIL_OK);
    assert_true(max_abs_diff(foil_f32(&s2d->out[0]), x, 96) == 0);
    check_grad(s2d, 0, "SpaceToDepth");
    check_grad(d2s, 0, "DepthToSpace");
    opc_free(s2d);
    opc_free(d2s);
    op_case *crd = opc_new("DepthToSpace", 1, 1);
    opc_input_randn(crd, 0, 4, xs, 1.0f, 78);
    opc_attr_int(crd, "blocksize", 2);
    opc_attr_string(crd, "mode", "CRD");
    assert_int_equal(opc_prepare(crd), FOIL_OK);
    assert_int_equal(opc_forward(crd, 0), FOIL_OK);
    /* CRD: y[n, c, h*2+i, w*2+j] = x[n, c*4 + i*2 + j, h, w] */
    x = foil_f32(&crd->in[0]), y = foil_f32(&crd->out[0]);
    assert_float_equal(y[((0 * 2 + 1) * 4 + 2) * 6 + 5], x[((0 * 8 + 1 * 4 + 0 * 2 + 1) * 2 + 1) * 3 + 2], 0);
    check_grad(crd, 0, "DepthToSpace CRD");
    opc_free(crd);
    /* errors: channels not a multiple of b^2; CRD for SpaceToDepth; blocksize 0 */
    op_case *oc = opc_new("DepthToSpace", 1, 1);
    opc_input_randn(oc, 0, 4, xs, 1.0f, 1);
    opc_attr_int(oc, "blocksize", 3);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    opc_free(oc);
    oc = opc_new("SpaceToDepth", 1, 1);
    opc_input_randn(oc, 0, 4, ys, 1.0f, 1);
    opc_attr_int(oc, "blocksize", 2);
    opc_attr_string(oc, "mode", "CRD");
    assert_int_equal(opc_prepare(oc), FOIL_ERR_UNSUPPORTED);
    opc_free(oc);
    oc = opc_new("SpaceToDepth", 1, 1);
    opc_input_randn(oc, 0, 4, ys, 1.0f, 1);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_FORMAT);
    opc_free(oc);
}

static void test_global_max_pool(void **state)
{
    (void)state;
    const int64_t xs[4] = {2, 3, 4, 5};
    op_case *oc = opc_new("GlobalMaxPool", 1, 1);
    opc_input_randn(oc, 0, 4, xs, 1.0f, 91);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    const int64_t ys[4] = {2, 3, 1, 1};
    for (int d = 0; d < 4; d++) assert_int_equal(oc->out[0].shape[d], ys[d]);
    for (int64_t nc = 0; nc < 6; nc++) {
        float m = -INFINITY;
        for (int64_t k = 0; k < 20; k++) m = fmaxf(m, foil_f32(&oc->in[0])[nc * 20 + k]);
        assert_float_equal(foil_f32(&oc->out[0])[nc], m, 0);
    }
    check_grad(oc, 0, "GlobalMaxPool");
    opc_free(oc);
    const int64_t s2[2] = {2, 3};
    oc = opc_new("GlobalMaxPool", 1, 1);
    opc_input_randn(oc, 0, 2, s2, 1.0f, 1);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    opc_free(oc);
}

static void test_scatter_elements(void **state)
{
    (void)state;
    /* axis 1, a duplicate target (row 0 column 1 twice), a negative index */
    const int64_t xs[2] = {2, 3}, is[2] = {2, 2};
    const int64_t idx[4] = {1, 1, -1, 0};
    for (int add = 0; add < 2; add++) {
        op_case *oc = opc_new("ScatterElements", 3, 1);
        opc_input_randn(oc, 0, 2, xs, 1.0f, 61);
        opc_input(oc, 1, FOIL_I64, 2, is, idx, 0);
        opc_input_randn(oc, 2, 2, is, 1.0f, 62);
        opc_attr_int(oc, "axis", 1);
        if (add) opc_attr_string(oc, "reduction", "add");
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        const float *x = foil_f32(&oc->in[0]), *u = foil_f32(&oc->in[2]), *y = foil_f32(&oc->out[0]);
        float want[6];
        memcpy(want, x, sizeof want);
        if (add) {
            want[1] += u[0] + u[1];
            want[5] += u[2];
            want[3] += u[3];
        } else {
            want[1] = u[1];
            want[5] = u[2];
            want[3] = u[3];
        }
        for (int i = 0; i < 6; i++) assert_float_equal(y[i], want[i], 1e-6);
        check_grad(oc, 0, "ScatterElements data");
        check_grad(oc, 2, "ScatterElements updates");
        opc_free(oc);
    }
    op_case *oc = opc_new("ScatterElements", 3, 1);
    opc_attr_string(oc, "reduction", "max");
    opc_input_randn(oc, 0, 2, xs, 1.0f, 61);
    opc_input(oc, 1, FOIL_I64, 2, is, idx, 0);
    opc_input_randn(oc, 2, 2, is, 1.0f, 62);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_UNSUPPORTED);
    opc_free(oc);
}

static void test_eyelike(void **state)
{
    (void)state;
    const int64_t xs[2] = {3, 4};
    const int32_t zeros[12] = {0};
    for (int64_t k = -1; k <= 1; k++) {
        op_case *oc = opc_new("EyeLike", 1, 1);
        opc_input(oc, 0, FOIL_I32, 2, xs, zeros, 0);
        opc_attr_int(oc, "k", k);
        if (k == 1) opc_attr_int(oc, "dtype", FOIL_F64);
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        assert_int_equal(oc->out[0].dtype, k == 1 ? FOIL_F64 : FOIL_I32);
        for (int64_t i = 0; i < 3; i++)
            for (int64_t j = 0; j < 4; j++) {
                const double v = k == 1 ? ((double *)oc->out[0].data)[i * 4 + j] : ((int32_t *)oc->out[0].data)[i * 4 + j];
                assert_true(v == (j == i + k ? 1.0 : 0.0));
            }
        opc_free(oc);
    }
    op_case *oc = opc_new("EyeLike", 1, 1);
    opc_input(oc, 0, FOIL_I32, 1, xs, zeros, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    opc_free(oc);
}

static void test_shrink_isx_bitshift(void **state)
{
    (void)state;
    const int64_t s5[1] = {5};
    const float x[5] = {-2.0f, -0.3f, 0.1f, 0.8f, 3.0f};
    op_case *oc = opc_new("Shrink", 1, 1);
    opc_input(oc, 0, FOIL_F32, 1, s5, x, 0);
    opc_attr_float(oc, "lambd", 0.5f);
    opc_attr_float(oc, "bias", 0.25f);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    const float want[5] = {-1.75f, 0.0f, 0.0f, 0.55f, 2.75f};
    for (int i = 0; i < 5; i++) assert_float_equal(foil_f32(&oc->out[0])[i], want[i], 1e-6);
    check_grad(oc, 0, "Shrink");
    opc_free(oc);

    const double d[5] = {NAN, INFINITY, -INFINITY, 0.0, 1e308};
    const uint8_t nan_w[5] = {1, 0, 0, 0, 0}, inf_w[5] = {0, 1, 1, 0, 0}, pos_w[5] = {0, 1, 0, 0, 0};
    for (int t = 0; t < 3; t++) {
        oc = opc_new(t ? "IsInf" : "IsNaN", 1, 1);
        opc_input(oc, 0, FOIL_F64, 1, s5, d, 0);
        if (t == 2) opc_attr_int(oc, "detect_negative", 0);
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        const uint8_t *w = t == 0 ? nan_w : t == 1 ? inf_w : pos_w;
        for (int i = 0; i < 5; i++) assert_int_equal(((uint8_t *)oc->out[0].data)[i], w[i]);
        opc_free(oc);
    }

    const uint16_t a[3] = {0xffff, 3, 40000}, b[3] = {15, 16, 1};
    const int64_t s3[1] = {3};
    const uint16_t lw[3] = {0x8000, 0, 14464}, rw[3] = {1, 0, 20000};
    for (int left = 0; left < 2; left++) {
        oc = opc_new("BitShift", 2, 1);
        opc_input(oc, 0, FOIL_U16, 1, s3, a, 0);
        opc_input(oc, 1, FOIL_U16, 1, s3, b, 0);
        opc_attr_string(oc, "direction", left ? "LEFT" : "RIGHT");
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        for (int i = 0; i < 3; i++) assert_int_equal(((uint16_t *)oc->out[0].data)[i], left ? lw[i] : rw[i]);
        opc_free(oc);
    }
    oc = opc_new("BitShift", 2, 1);
    opc_input(oc, 0, FOIL_U16, 1, s3, a, 0);
    opc_input(oc, 1, FOIL_U16, 1, s3, b, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_FORMAT); /* direction is required */
    opc_free(oc);
}

int main(void)
{
    opc_skip_unless_kernels_run();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_variadic),
        cmocka_unit_test(test_variadic_types),
        cmocka_unit_test(test_reduce_more),
        cmocka_unit_test(test_reduce_prod_zeros),
        cmocka_unit_test(test_nll),
        cmocka_unit_test(test_gather_elements),
        cmocka_unit_test(test_unary_more),
        cmocka_unit_test(test_prelu),
        cmocka_unit_test(test_mod_logic),
        cmocka_unit_test(test_trilu),
        cmocka_unit_test(test_cumsum),
        cmocka_unit_test(test_hardmax),
        cmocka_unit_test(test_depth_space),
        cmocka_unit_test(test_global_max_pool),
        cmocka_unit_test(test_shrink_isx_bitshift),
        cmocka_unit_test(test_scatter_elements),
        cmocka_unit_test(test_eyelike),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
