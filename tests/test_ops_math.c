/*
 * tests/test_ops_math.c - Sqrt, Exp, Log, Neg, Abs, Reciprocal, Erf, Gelu
 * (both forms), HardSigmoid, HardSwish and Pow: forward against double
 * precision references written here (small tensors and ones large enough
 * for the OpenMP paths), backward against finite differences (opc_gradcheck,
 * which also checks accumulation and fresh writes), Pow's broadcasting and
 * mixed dtypes, and the errors.
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

typedef double (*ref1)(double x);

static double r_sqrt(double x) { return sqrt(x); }
static double r_exp(double x) { return exp(x); }
static double r_log(double x) { return log(x); }
static double r_neg(double x) { return -x; }
static double r_abs(double x) { return fabs(x); }
static double r_recip(double x) { return 1.0 / x; }
static double r_erf(double x) { return erf(x); }
static double r_gelu(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }
static double r_gelu_tanh(double x)
{
    return 0.5 * x * (1.0 + tanh(sqrt(2.0 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)));
}
static double r_hsig(double x) { return fmax(0.0, fmin(1.0, 0.2 * x + 0.5)); }
static double r_hsig_ab(double x) { return fmax(0.0, fmin(1.0, 0.5 * x + 0.25)); }
static double r_hswish(double x) { return x * fmax(0.0, fmin(1.0, x / 6.0 + 0.5)); }

enum { DOM_ANY, DOM_POS, DOM_NONZERO };

/* Input values in the op's domain, kept away from its kinks. */
static void fill_input(op_case *oc, int64_t n, uint64_t seed, int dom, const float *kinks, int nk)
{
    const int64_t shape[2] = {n / 10 > 0 ? n / 10 : 1, 10};
    opc_input_randn(oc, 0, 2, shape, 2.0f, seed);
    float *x = foil_f32(&oc->in[0]);
    for (int64_t i = 0; i < oc->in[0].numel; i++) {
        if (dom == DOM_POS) x[i] = 0.2f + fabsf(x[i]);
        if (dom == DOM_NONZERO) x[i] = (x[i] >= 0 ? 1.0f : -1.0f) * (0.3f + fabsf(x[i]));
        for (int k = 0; k < nk; k++)
            if (fabsf(x[i] - kinks[k]) < 0.05f) x[i] = kinks[k] + (x[i] >= kinks[k] ? 0.05f : -0.05f);
    }
}

typedef struct ucase {
    const char *type;
    ref1 f;
    int dom;
    float kinks[2];
    int nk;
    const char *approx; /* Gelu's attribute, or NULL */
    float alpha, beta;  /* HardSigmoid's, 0: default */
} ucase;

static void check_unary(const ucase *u, int64_t n, uint64_t seed)
{
    op_case *oc = opc_new(u->type, 1, 1);
    if (u->approx) opc_attr_string(oc, "approximate", u->approx);
    if (u->alpha != 0) {
        opc_attr_float(oc, "alpha", u->alpha);
        opc_attr_float(oc, "beta", u->beta);
    }
    fill_input(oc, n, seed, u->dom, u->kinks, u->nk);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    const float *x = foil_f32(&oc->in[0]), *y = foil_f32(&oc->out[0]);
    for (int64_t i = 0; i < oc->in[0].numel; i++) {
        double want = u->f(x[i]);
        if (fabs(y[i] - want) > 2e-6 + 2e-6 * fabs(want))
            fail_msg("%s(%g) = %.9g, expected %.9g", u->type, x[i], y[i], want);
    }
    if (n <= 200) {
        double err = opc_gradcheck(oc, 0, 1e-3f, 0);
        if (err > 5e-3) fail_msg("%s: gradcheck err %g", u->type, err);
    }
    opc_free(oc);
}

static const ucase unary_cases[] = {
    {"Sqrt", r_sqrt, DOM_POS, {0}, 0, NULL, 0, 0},
    {"Exp", r_exp, DOM_ANY, {0}, 0, NULL, 0, 0},
    {"Log", r_log, DOM_POS, {0}, 0, NULL, 0, 0},
    {"Neg", r_neg, DOM_ANY, {0}, 0, NULL, 0, 0},
    {"Abs", r_abs, DOM_ANY, {0}, 1, NULL, 0, 0},
    {"Reciprocal", r_recip, DOM_NONZERO, {0}, 0, NULL, 0, 0},
    {"Erf", r_erf, DOM_ANY, {0}, 0, NULL, 0, 0},
    {"Gelu", r_gelu, DOM_ANY, {0}, 0, NULL, 0, 0},
    {"Gelu", r_gelu, DOM_ANY, {0}, 0, "none", 0, 0},
    {"Gelu", r_gelu_tanh, DOM_ANY, {0}, 0, "tanh", 0, 0},
    {"HardSigmoid", r_hsig, DOM_ANY, {-2.5f, 2.5f}, 2, NULL, 0, 0},
    {"HardSigmoid", r_hsig_ab, DOM_ANY, {-0.5f, 1.5f}, 2, NULL, 0.5f, 0.25f},
    {"HardSwish", r_hswish, DOM_ANY, {-3.0f, 3.0f}, 2, NULL, 0, 0},
};

static void test_unary(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof unary_cases / sizeof unary_cases[0]; k++) {
        check_unary(&unary_cases[k], 60, 10 + k);
        check_unary(&unary_cases[k], 40000, 30 + k); /* the OpenMP path */
    }
}

/* Values the references would get wrong if an op's special cases were not
 * handled: HardSwish and HardSigmoid saturate, Abs has no gradient at 0, Gelu
 * of large |x| is x or 0, and the two Gelu forms agree to about 1e-3. */
static void test_unary_special(void **state)
{
    (void)state;
    const float xs[6] = {-10.0f, -3.0f, 0.0f, 3.0f, 10.0f, 1.0f};
    const int64_t shape[1] = {6};
    op_case *oc = opc_new("HardSwish", 1, 1);
    opc_input(oc, 0, FOIL_F32, 1, shape, xs, 0);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    const float hs[6] = {0, 0, 0, 3, 10, 1.0f * (1.0f / 6.0f + 0.5f)};
    for (int i = 0; i < 6; i++) assert_float_equal(foil_f32(&oc->out[0])[i], hs[i], 1e-6);
    opc_free(oc);

    oc = opc_new("Abs", 1, 1);
    opc_input(oc, 0, FOIL_F32, 1, shape, xs, 0);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    foil_tensor g = {0}, d = {0};
    assert_int_equal(foil_tensor_alloc(&g, FOIL_F32, 1, shape), FOIL_OK);
    assert_int_equal(foil_tensor_alloc(&d, FOIL_F32, 1, shape), FOIL_OK);
    for (int i = 0; i < 6; i++) foil_f32(&g)[i] = 1.0f;
    oc->pdout[0] = &g;
    oc->pdin[0] = &d;
    oc->node.op->backward(&oc->node.ctx);
    const float want[6] = {-1, -1, 0, 1, 1, 1};
    for (int i = 0; i < 6; i++) assert_float_equal(foil_f32(&d)[i], want[i], 0);
    oc->pdout[0] = oc->pdin[0] = NULL;
    opc_free(oc);
    foil_tensor_free(&g);
    foil_tensor_free(&d);

    for (int t = 0; t < 2; t++) {
        oc = opc_new("Gelu", 1, 1);
        if (t) opc_attr_string(oc, "approximate", "tanh");
        opc_input(oc, 0, FOIL_F32, 1, shape, xs, 0);
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        const float *y = foil_f32(&oc->out[0]);
        assert_float_equal(y[0], 0.0f, 1e-6);
        assert_float_equal(y[4], 10.0f, 1e-5);
        assert_float_equal(y[5], r_gelu(1.0), 1e-3); /* both forms */
        opc_free(oc);
    }
}

static void test_unary_int(void **state)
{
    (void)state;
    const int64_t v[4] = {-5, 0, 7, INT64_MIN};
    const int64_t shape[1] = {4};
    const int64_t neg[4] = {5, 0, -7, INT64_MIN}, abs_[4] = {5, 0, 7, INT64_MIN}; /* wraps */
    for (int k = 0; k < 2; k++) {
        op_case *oc = opc_new(k ? "Abs" : "Neg", 1, 1);
        opc_input(oc, 0, FOIL_I64, 1, shape, v, 0);
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        assert_int_equal(oc->out[0].dtype, FOIL_I64);
        for (int i = 0; i < 4; i++) assert_int_equal(((int64_t *)oc->out[0].data)[i], k ? abs_[i] : neg[i]);
        opc_free(oc);
    }
    const int32_t w[3] = {-3, 4, 0};
    const int64_t s3[1] = {3};
    op_case *oc = opc_new("Abs", 1, 1);
    opc_input(oc, 0, FOIL_I32, 1, s3, w, 0);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    assert_int_equal(((int32_t *)oc->out[0].data)[0], 3);
    opc_free(oc);
}

static void test_unary_errors(void **state)
{
    (void)state;
    const int64_t shape[1] = {2};
    const int64_t v[2] = {1, 2};
    op_case *oc = opc_new("Sqrt", 1, 1);
    opc_input(oc, 0, FOIL_I64, 1, shape, v, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_UNSUPPORTED);
    assert_non_null(strstr(foil_last_error(), "Sqrt"));
    opc_free(oc);
    oc = opc_new("Gelu", 1, 1);
    opc_attr_string(oc, "approximate", "fast");
    opc_input_randn(oc, 0, 1, shape, 1.0f, 1);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_UNSUPPORTED);
    assert_non_null(strstr(foil_last_error(), "approximate"));
    opc_free(oc);
}

/* ------------------------------------------------------------------------- */
/* Pow                                                                        */

typedef struct ppat {
    int na;
    int64_t a[3];
    int nb;
    int64_t b[3];
    int no;
    int64_t o[3];
} ppat;

static void test_pow(void **state)
{
    (void)state;
    static const ppat pats[] = {
        {3, {3, 4, 5}, 3, {3, 4, 5}, 3, {3, 4, 5}},
        {3, {3, 4, 5}, 1, {5}, 3, {3, 4, 5}},
        {3, {3, 4, 5}, 0, {0}, 3, {3, 4, 5}},    /* scalar exponent */
        {3, {3, 1, 5}, 2, {4, 1}, 3, {3, 4, 5}}, /* both broadcast */
        {1, {5}, 3, {2, 3, 5}, 3, {2, 3, 5}},    /* base broadcast */
    };
    for (size_t p = 0; p < sizeof pats / sizeof pats[0]; p++) {
        for (int two = 0; two < 2; two++) {
            const ppat *t = &pats[p];
            op_case *oc = opc_new("Pow", 2, 1);
            opc_input_randn(oc, 0, t->na, t->a, 1.0f, 100 + p);
            opc_input_randn(oc, 1, t->nb, t->b, 1.0f, 200 + p);
            float *a = foil_f32(&oc->in[0]), *b = foil_f32(&oc->in[1]);
            for (int64_t i = 0; i < oc->in[0].numel; i++) a[i] = 0.3f + fabsf(a[i]);
            for (int64_t i = 0; i < oc->in[1].numel; i++) b[i] = two ? 2.0f : 1.5f * b[i];
            assert_int_equal(opc_prepare(oc), FOIL_OK);
            assert_int_equal(opc_forward(oc, 0), FOIL_OK);
            assert_int_equal(oc->out[0].ndim, t->no);
            const float *y = foil_f32(&oc->out[0]);
            for (int64_t i = 0; i < oc->out[0].numel; i++) {
                double want = pow(a[opc_bcast_index(t->na, t->a, t->no, t->o, i)], b[opc_bcast_index(t->nb, t->b, t->no, t->o, i)]);
                assert_float_equal(y[i], want, 1e-5 * (1 + fabs(want)));
            }
            for (int k = 0; k < 2; k++) {
                double err = opc_gradcheck(oc, k, 1e-3f, 0);
                if (err > 5e-3) fail_msg("Pow pattern %zu, input %d: gradcheck err %g", p, k, err);
            }
            opc_free(oc);
        }
    }
}

/* Large enough for the OpenMP loops, with the exponent broadcast (the
 * gradient of the exponent sums over every row). */
static void test_pow_large(void **state)
{
    (void)state;
    const int64_t as[2] = {400, 100}, bs[1] = {100};
    op_case *oc = opc_new("Pow", 2, 1);
    opc_input_randn(oc, 0, 2, as, 1.0f, 5);
    opc_input_randn(oc, 1, 1, bs, 1.0f, 6);
    float *a = foil_f32(&oc->in[0]);
    for (int64_t i = 0; i < oc->in[0].numel; i++) a[i] = 0.5f + fabsf(a[i]);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    foil_tensor g = {0}, db = {0};
    assert_int_equal(foil_tensor_alloc(&g, FOIL_F32, 2, as), FOIL_OK);
    assert_int_equal(foil_tensor_alloc(&db, FOIL_F32, 1, bs), FOIL_OK);
    for (int64_t i = 0; i < g.numel; i++) foil_f32(&g)[i] = (float)((i % 7) - 3) * 0.25f;
    oc->pdout[0] = &g;
    oc->pdin[0] = NULL;
    oc->pdin[1] = &db;
    oc->node.op->backward(&oc->node.ctx);
    const float *b = foil_f32(&oc->in[1]), *y = foil_f32(&oc->out[0]);
    for (int64_t j = 0; j < 100; j++) {
        double want = 0;
        for (int64_t r = 0; r < 400; r++) {
            int64_t i = r * 100 + j;
            want += foil_f32(&g)[i] * pow(a[i], b[j]) * log(a[i]);
            assert_float_equal(y[i], pow(a[i], b[j]), 1e-5 * (1 + y[i]));
        }
        assert_float_equal(foil_f32(&db)[j], want, 1e-4 * (1 + fabs(want)));
    }
    oc->pdout[0] = oc->pdin[1] = NULL;
    opc_free(oc);
    foil_tensor_free(&g);
    foil_tensor_free(&db);
}

/* One long run (more than one chunk of FOIL_BCAST_CHUNK) with a scalar
 * exponent, as x ** 2 in a decomposed LayerNorm: forward and d base. */
static void test_pow_long_run(void **state)
{
    (void)state;
    const int64_t as[1] = {50000};
    const float exps[2] = {2.0f, 1.5f};
    for (int k = 0; k < 2; k++) {
        op_case *oc = opc_new("Pow", 2, 1);
        opc_input_randn(oc, 0, 1, as, 1.0f, 8);
        opc_input(oc, 1, FOIL_F32, 0, NULL, &exps[k], 1);
        float *a = foil_f32(&oc->in[0]);
        for (int64_t i = 0; i < as[0]; i++) a[i] = 0.5f + fabsf(a[i]);
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        foil_tensor g = {0}, da = {0};
        assert_int_equal(foil_tensor_alloc(&g, FOIL_F32, 1, as), FOIL_OK);
        assert_int_equal(foil_tensor_alloc(&da, FOIL_F32, 1, as), FOIL_OK);
        for (int64_t i = 0; i < as[0]; i++) foil_f32(&g)[i] = (float)((i % 7) - 3) * 0.25f;
        oc->pdout[0] = &g;
        oc->pdin[0] = &da;
        oc->node.op->backward(&oc->node.ctx);
        const float *y = foil_f32(&oc->out[0]);
        for (int64_t i = 0; i < as[0]; i++) {
            const double e = exps[k], want = pow(a[i], e), dwant = foil_f32(&g)[i] * e * pow(a[i], e - 1);
            assert_float_equal(y[i], want, 1e-5 * (1 + want));
            assert_float_equal(foil_f32(&da)[i], dwant, 1e-5 * (1 + fabs(dwant)));
        }
        oc->pdout[0] = oc->pdin[0] = NULL;
        opc_free(oc);
        foil_tensor_free(&g);
        foil_tensor_free(&da);
    }
}

static void test_pow_types(void **state)
{
    (void)state;
    const int64_t shape[1] = {3};
    const int64_t i64[3] = {2, 3, -2}, e64[3] = {4, 3, 3};
    const float f[3] = {2.0f, 0.5f, -2.0f};
    const int32_t i32[3] = {1, 2, 3};
    /* int64 ^ int64 */
    op_case *oc = opc_new("Pow", 2, 1);
    opc_input(oc, 0, FOIL_I64, 1, shape, i64, 0);
    opc_input(oc, 1, FOIL_I64, 1, shape, e64, 0);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    assert_int_equal(oc->out[0].dtype, FOIL_I64);
    const int64_t want64[3] = {16, 27, -8};
    for (int i = 0; i < 3; i++) assert_int_equal(((int64_t *)oc->out[0].data)[i], want64[i]);
    opc_free(oc);
    /* float ^ int64: the output is float, the exponent takes no gradient */
    oc = opc_new("Pow", 2, 1);
    opc_input(oc, 0, FOIL_F32, 1, shape, f, 0);
    opc_input(oc, 1, FOIL_I64, 1, shape, e64, 1);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    assert_int_equal(oc->out[0].dtype, FOIL_F32);
    const float wantf[3] = {16.0f, 0.125f, -8.0f};
    for (int i = 0; i < 3; i++) assert_float_equal(foil_f32(&oc->out[0])[i], wantf[i], 1e-6);
    double err = opc_gradcheck(oc, 0, 1e-3f, 0);
    assert_true(err < 5e-3);
    opc_free(oc);
    /* int32 ^ float, and saturation of an overflowing integer result */
    oc = opc_new("Pow", 2, 1);
    const float ef[3] = {3.0f, 0.5f, 40.0f};
    opc_input(oc, 0, FOIL_I32, 1, shape, i32, 0);
    opc_input(oc, 1, FOIL_F32, 1, shape, ef, 0);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    assert_int_equal(oc->out[0].dtype, FOIL_I32);
    const int32_t want32[3] = {1, 1, INT32_MAX};
    for (int i = 0; i < 3; i++) assert_int_equal(((int32_t *)oc->out[0].data)[i], want32[i]);
    opc_free(oc);
    /* unsupported base type */
    const uint8_t u8[3] = {1, 2, 3};
    oc = opc_new("Pow", 2, 1);
    opc_input(oc, 0, FOIL_U8, 1, shape, u8, 0);
    opc_input(oc, 1, FOIL_F32, 1, shape, ef, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_UNSUPPORTED);
    opc_free(oc);
    /* incompatible shapes */
    const int64_t s2[1] = {2};
    oc = opc_new("Pow", 2, 1);
    opc_input(oc, 0, FOIL_F32, 1, shape, f, 0);
    opc_input(oc, 1, FOIL_F32, 1, s2, f, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    opc_free(oc);
}

int main(void)
{
    opc_skip_unless_kernels_run();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unary),
        cmocka_unit_test(test_unary_special),
        cmocka_unit_test(test_unary_int),
        cmocka_unit_test(test_unary_errors),
        cmocka_unit_test(test_pow),
        cmocka_unit_test(test_pow_large),
        cmocka_unit_test(test_pow_long_run),
        cmocka_unit_test(test_pow_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
