/*
 * tests/test_ops_elementwise.c - Add/Sub/Mul/Div (every broadcasting pattern,
 * legacy opset-6 broadcast, integer dtypes) and Relu, LeakyRelu, Sigmoid,
 * Tanh, Clip: forward against naive loops written here, backward against
 * finite differences (opc_gradcheck) and, for large tensors that take the
 * OpenMP paths, against a naive gradient.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "foil/rng.h"
#include "nn/ops/broadcast.h"
#include "nn/ops/vmath.h"
#include "op_harness.h"


static const char *const binops[4] = {"Add", "Sub", "Mul", "Div"};

static double ref_op(int op, double a, double b)
{
    switch (op) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    default: return a / b;
    }
}

static int64_t numel(int n, const int64_t *s)
{
    int64_t t = 1;
    for (int i = 0; i < n; i++) t *= s[i];
    return t;
}

/* Fill in[i] with values away from 0 (for Div's denominator). */
static void away_from_zero(op_case *oc, int i)
{
    float *x = foil_f32(&oc->in[i]);
    for (int64_t j = 0; j < oc->in[i].numel; j++) x[j] = (x[j] >= 0 ? 1.0f : -1.0f) * (0.7f + fabsf(x[j]));
}

typedef struct bpat {
    int na;
    int64_t a[4];
    int nb;
    int64_t b[4];
    int no;
    int64_t o[4];
} bpat;

static const bpat patterns[] = {
    {3, {3, 4, 5}, 3, {3, 4, 5}, 3, {3, 4, 5}},       /* same shape */
    {3, {3, 4, 5}, 1, {5}, 3, {3, 4, 5}},             /* bias row */
    {3, {3, 4, 5}, 2, {4, 1}, 3, {3, 4, 5}},          /* column */
    {4, {2, 3, 4, 5}, 4, {1, 3, 1, 1}, 4, {2, 3, 4, 5}}, /* per channel */
    {3, {2, 3, 4}, 0, {0}, 3, {2, 3, 4}},             /* scalar */
    {2, {3, 1}, 2, {1, 4}, 2, {3, 4}},                /* both broadcast */
    {1, {5}, 3, {3, 4, 5}, 3, {3, 4, 5}},             /* A is the small one */
    {1, {1}, 2, {2, 3}, 2, {2, 3}},                   /* one-element A */
    {4, {2, 1, 4, 1}, 3, {3, 1, 5}, 4, {2, 3, 4, 5}}, /* interleaved */
    {2, {1, 1}, 0, {0}, 2, {1, 1}},                   /* one element */
};
#define NPAT (int)(sizeof patterns / sizeof patterns[0])

static void test_binary_forward_patterns(void **state)
{
    (void)state;
    for (int op = 0; op < 4; op++) {
        for (int p = 0; p < NPAT; p++) {
            const bpat *P = &patterns[p];
            op_case *oc = opc_new(binops[op], 2, 1);
            opc_input_randn(oc, 0, P->na, P->a, 1.0f, 10 + (uint64_t)p);
            opc_input_randn(oc, 1, P->nb, P->b, 1.0f, 20 + (uint64_t)p);
            if (op == 3) away_from_zero(oc, 1);
            assert_int_equal(opc_prepare(oc), FOIL_OK);
            assert_int_equal(oc->out[0].ndim, P->no);
            for (int d = 0; d < P->no; d++) assert_int_equal(oc->out[0].shape[d], P->o[d]);
            assert_int_equal(opc_forward(oc, 0), FOIL_OK);
            const float *a = foil_f32(&oc->in[0]), *b = foil_f32(&oc->in[1]), *y = foil_f32(&oc->out[0]);
            for (int64_t i = 0; i < numel(P->no, P->o); i++) {
                double want = ref_op(op, a[opc_bcast_index(P->na, P->a, P->no, P->o, i)],
                                     b[opc_bcast_index(P->nb, P->b, P->no, P->o, i)]);
                assert_float_equal(y[i], want, 1e-5 * (1 + fabs(want)));
            }
            opc_free(oc);
        }
    }
}

static void test_binary_gradcheck_patterns(void **state)
{
    (void)state;
    for (int op = 0; op < 4; op++) {
        for (int p = 0; p < NPAT; p++) {
            const bpat *P = &patterns[p];
            for (int k = 0; k < 2; k++) {
                op_case *oc = opc_new(binops[op], 2, 1);
                opc_input_randn(oc, 0, P->na, P->a, 1.0f, 30 + (uint64_t)p);
                opc_input_randn(oc, 1, P->nb, P->b, 1.0f, 40 + (uint64_t)p);
                if (op == 3) away_from_zero(oc, 1);
                double err = opc_gradcheck(oc, k, 1e-3f, 0);
                if (err > 1e-2) print_error("%s pattern %d input %d: err %g\n", binops[op], p, k, err);
                assert_true(err < 1e-2);
                opc_free(oc);
            }
        }
    }
}

/* Large tensors take the threaded paths (chunked runs, parallel reduction):
 * compare forward and both gradients with naive loops. */
static void test_binary_large(void **state)
{
    (void)state;
    static const bpat big[] = {
        {2, {300, 257}, 2, {300, 257}, 2, {300, 257}},
        {2, {300, 257}, 1, {257}, 2, {300, 257}},
        {4, {8, 16, 20, 20}, 4, {1, 16, 1, 1}, 4, {8, 16, 20, 20}},
        {3, {4, 1, 9000}, 3, {1, 5, 9000}, 3, {4, 5, 9000}},
        {1, {70000}, 0, {0}, 1, {70000}},
    };
    for (int op = 0; op < 4; op++) {
        for (size_t p = 0; p < sizeof big / sizeof big[0]; p++) {
            const bpat *P = &big[p];
            op_case *oc = opc_new(binops[op], 2, 1);
            opc_input_randn(oc, 0, P->na, P->a, 1.0f, 50 + p);
            opc_input_randn(oc, 1, P->nb, P->b, 1.0f, 60 + p);
            if (op == 3) away_from_zero(oc, 1);
            assert_int_equal(opc_prepare(oc), FOIL_OK);
            assert_int_equal(opc_forward(oc, 0), FOIL_OK);
            const float *a = foil_f32(&oc->in[0]), *b = foil_f32(&oc->in[1]), *y = foil_f32(&oc->out[0]);
            const int64_t n = numel(P->no, P->o);
            double *ga = calloc((size_t)oc->in[0].numel, sizeof(double));
            double *gb = calloc((size_t)oc->in[1].numel, sizeof(double));
            foil_tensor dy = {0}, da = {0}, db = {0};
            foil_tensor_alloc(&dy, FOIL_F32, P->no, P->o);
            foil_tensor_alloc(&da, FOIL_F32, oc->in[0].ndim, oc->in[0].shape);
            foil_tensor_alloc(&db, FOIL_F32, oc->in[1].ndim, oc->in[1].shape);
            foil_rng r = foil_rng_make(9, p);
            float *g = foil_f32(&dy);
            for (int64_t i = 0; i < n; i++) g[i] = (float)foil_rng_normal(&r);
            for (int64_t i = 0; i < n; i++) {
                int64_t ia = opc_bcast_index(P->na, P->a, P->no, P->o, i);
                int64_t ib = opc_bcast_index(P->nb, P->b, P->no, P->o, i);
                double want = ref_op(op, a[ia], b[ib]);
                assert_float_equal(y[i], want, 1e-5 * (1 + fabs(want)));
                double dA = op == 2 ? b[ib] : op == 3 ? 1.0 / b[ib] : 1.0;
                double dB = op == 0 ? 1.0 : op == 1 ? -1.0 : op == 2 ? a[ia] : -(double)a[ia] / ((double)b[ib] * b[ib]);
                ga[ia] += g[i] * dA;
                gb[ib] += g[i] * dB;
            }
            oc->pdout[0] = &dy;
            oc->pdin[0] = &da;
            oc->pdin[1] = &db;
            oc->node.op->backward(&oc->node.ctx);
            for (int64_t i = 0; i < oc->in[0].numel; i++)
                assert_float_equal(foil_f32(&da)[i], ga[i], 1e-3 * (1 + fabs(ga[i])));
            for (int64_t i = 0; i < oc->in[1].numel; i++)
                assert_float_equal(foil_f32(&db)[i], gb[i], 1e-3 * (1 + fabs(gb[i])));
            oc->pdout[0] = NULL;
            oc->pdin[0] = oc->pdin[1] = NULL;
            foil_tensor_free(&dy);
            foil_tensor_free(&da);
            foil_tensor_free(&db);
            free(ga);
            free(gb);
            opc_free(oc);
        }
    }
}

/* Opset 6 broadcast=1 with axis, as in pytorch-operator/test_operator_add_*broadcast. */
static void test_binary_legacy(void **state)
{
    (void)state;
    struct {
        int64_t b[2];
        int nb;
        int axis; /* -100: no axis attribute */
    } cases[] = {
        {{3}, 1, 1},     /* test_operator_add_broadcast */
        {{2, 1}, 2, 0},  /* add_size1_broadcast */
        {{3}, 1, 1},     /* add_size1_right_broadcast */
        {{1, 3}, 2, 0},  /* add_size1_singleton_broadcast */
        {{0}, 0, -100},  /* addconstant: scalar */
        {{3}, 1, -100},  /* suffix matching */
        {{2}, 1, 0},     /* B = (2) at axis 0 */
        {{1}, 1, 0},     /* one element at any axis */
    };
    const int64_t as[2] = {2, 3};
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        for (int op = 0; op < 4; op++) {
            op_case *oc = opc_new(binops[op], 2, 1);
            oc->node.opset = 6;
            opc_attr_int(oc, "broadcast", 1);
            if (cases[t].axis != -100) opc_attr_int(oc, "axis", cases[t].axis);
            opc_input_randn(oc, 0, 2, as, 1.0f, 70 + t);
            opc_input_randn(oc, 1, cases[t].nb, cases[t].b, 1.0f, 80 + t);
            if (op == 3) away_from_zero(oc, 1);
            assert_int_equal(opc_prepare(oc), FOIL_OK);
            assert_int_equal(oc->out[0].ndim, 2);
            assert_int_equal(oc->out[0].shape[0], 2);
            assert_int_equal(oc->out[0].shape[1], 3);
            assert_int_equal(opc_forward(oc, 0), FOIL_OK);
            const float *a = foil_f32(&oc->in[0]), *b = foil_f32(&oc->in[1]), *y = foil_f32(&oc->out[0]);
            /* Naive: B's dims sit at axis (suffix when absent); size-1 dims repeat. */
            int nb = cases[t].nb, axis = cases[t].axis == -100 ? 2 - nb : cases[t].axis;
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 3; j++) {
                    int64_t idx[2] = {i, j}, bi = 0;
                    if (oc->in[1].numel > 1)
                        for (int d = 0; d < nb; d++) {
                            int64_t bd = cases[t].b[d];
                            bi = bi * bd + (bd == 1 ? 0 : idx[axis + d]);
                        }
                    double want = ref_op(op, a[i * 3 + j], b[bi]);
                    assert_float_equal(y[i * 3 + j], want, 1e-5 * (1 + fabs(want)));
                }
            double err = opc_gradcheck(oc, 1, 1e-3f, 0);
            assert_true(err < 1e-2);
            err = opc_gradcheck(oc, 0, 1e-3f, 0);
            assert_true(err < 1e-2);
            opc_free(oc);
        }
    }
    /* Opset 6 without broadcast: equal shapes work (test_operator_non_float_params), others fail. */
    op_case *oc = opc_new("Add", 2, 1);
    oc->node.opset = 6;
    const int64_t a3[1] = {3};
    opc_input_randn(oc, 0, 2, as, 1.0f, 1);
    opc_input_randn(oc, 1, 1, a3, 1.0f, 2);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    opc_free(oc);
    /* B that does not fit at axis. */
    oc = opc_new("Mul", 2, 1);
    oc->node.opset = 6;
    opc_attr_int(oc, "broadcast", 1);
    opc_attr_int(oc, "axis", 1);
    const int64_t b2[1] = {2};
    opc_input_randn(oc, 0, 2, as, 1.0f, 1);
    opc_input_randn(oc, 1, 1, b2, 1.0f, 2);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    opc_free(oc);
    oc = opc_new("Mul", 2, 1);
    oc->node.opset = 6;
    opc_attr_int(oc, "broadcast", 1);
    opc_attr_int(oc, "axis", 2);
    opc_input_randn(oc, 0, 2, as, 1.0f, 1);
    opc_input_randn(oc, 1, 1, a3, 1.0f, 2);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    opc_free(oc);
    /* Opset 6 int64 same shape: pytorch-operator/test_operator_non_float_params. */
    oc = opc_new("Add", 2, 1);
    oc->node.opset = 6;
    const int64_t s22[2] = {2, 2};
    const int64_t x[4] = {1, 2, 3, 4}, w[4] = {1, 2, 3, 4};
    opc_input(oc, 0, FOIL_I64, 2, s22, x, 0);
    opc_input(oc, 1, FOIL_I64, 2, s22, w, 1);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    for (int i = 0; i < 4; i++) assert_int_equal(foil_i64(&oc->out[0])[i], 2 * x[i]);
    opc_free(oc);
}

/* Integer and float64 forward: wrap-around, truncating division, x/0 = 0. */
static void test_binary_integer(void **state)
{
    (void)state;
    const int64_t s6[1] = {6};
    {
        const int64_t a[6] = {7, -7, 7, -7, INT64_MIN, INT64_MAX};
        const int64_t b[6] = {2, 2, -2, -2, -1, 0};
        const int64_t div[6] = {3, -3, -3, 3, INT64_MIN, 0};
        op_case *oc = opc_new("Div", 2, 1);
        opc_input(oc, 0, FOIL_I64, 1, s6, a, 0);
        opc_input(oc, 1, FOIL_I64, 1, s6, b, 0);
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(oc->out[0].dtype, FOIL_I64);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        for (int i = 0; i < 6; i++) assert_int_equal(foil_i64(&oc->out[0])[i], div[i]);
        opc_free(oc);
        oc = opc_new("Add", 2, 1);
        opc_input(oc, 0, FOIL_I64, 1, s6, a, 0);
        opc_input(oc, 1, FOIL_I64, 1, s6, b, 0);
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        assert_int_equal(foil_i64(&oc->out[0])[4], INT64_MAX); /* MIN + -1 wraps */
        opc_free(oc);
    }
    {
        const int32_t a[6] = {7, -7, INT32_MAX, -9, INT32_MIN, 5};
        const int32_t b[6] = {2, 2, 1, 4, -1, 0};
        const int32_t add[6] = {9, -5, INT32_MIN, -5, INT32_MAX, 5};
        const int32_t mul[6] = {14, -14, INT32_MAX, -36, INT32_MIN, 0};
        const int32_t div[6] = {3, -3, INT32_MAX, -2, INT32_MIN, 0};
        const int32_t *want[3] = {add, mul, div};
        const char *ops[3] = {"Add", "Mul", "Div"};
        for (int o = 0; o < 3; o++) {
            op_case *oc = opc_new(ops[o], 2, 1);
            opc_input(oc, 0, FOIL_I32, 1, s6, a, 0);
            opc_input(oc, 1, FOIL_I32, 1, s6, b, 0);
            assert_int_equal(opc_prepare(oc), FOIL_OK);
            assert_int_equal(opc_forward(oc, 0), FOIL_OK);
            for (int i = 0; i < 6; i++) assert_int_equal(((int32_t *)oc->out[0].data)[i], want[o][i]);
            opc_free(oc);
        }
    }
    {
        /* uint8 wraps: test_add_uint8 / test_sub_uint8 / test_mul_uint8 / test_div_uint8 */
        const uint8_t a[6] = {200, 3, 16, 250, 9, 0};
        const uint8_t b[6] = {100, 5, 11, 2, 0, 7};
        const uint8_t add[6] = {44, 8, 27, 252, 9, 7};
        const uint8_t sub[6] = {100, 254, 5, 248, 9, 249};
        const uint8_t mul[6] = {32, 15, 176, 244, 0, 0};
        const uint8_t div[6] = {2, 0, 1, 125, 0, 0};
        const uint8_t *want[4] = {add, sub, mul, div};
        for (int o = 0; o < 4; o++) {
            op_case *oc = opc_new(binops[o], 2, 1);
            opc_input(oc, 0, FOIL_U8, 1, s6, a, 0);
            opc_input(oc, 1, FOIL_U8, 1, s6, b, 0);
            assert_int_equal(opc_prepare(oc), FOIL_OK);
            assert_int_equal(opc_forward(oc, 0), FOIL_OK);
            for (int i = 0; i < 6; i++) assert_int_equal(((uint8_t *)oc->out[0].data)[i], want[o][i]);
            opc_free(oc);
        }
    }
    {
        /* int8 with a broadcast scalar */
        const int8_t a[6] = {-128, 127, -7, 7, 100, -3};
        const int8_t b[1] = {-1};
        const int8_t sub[6] = {-127, -128, -6, 8, 101, -2};
        const int8_t div[6] = {-128, -127, 7, -7, -100, 3};
        const int8_t *want[2] = {sub, div};
        const char *ops[2] = {"Sub", "Div"};
        for (int o = 0; o < 2; o++) {
            op_case *oc = opc_new(ops[o], 2, 1);
            opc_input(oc, 0, FOIL_I8, 1, s6, a, 0);
            opc_input(oc, 1, FOIL_I8, 0, NULL, b, 0);
            assert_int_equal(opc_prepare(oc), FOIL_OK);
            assert_int_equal(opc_forward(oc, 0), FOIL_OK);
            for (int i = 0; i < 6; i++) assert_int_equal(((int8_t *)oc->out[0].data)[i], want[o][i]);
            opc_free(oc);
        }
    }
    {
        /* float64 (pytorch-operator/test_operator_add_* carry doubles), including denormals. */
        const int64_t s23[2] = {2, 3}, s3[1] = {3};
        const double a[6] = {1.5, -2.0, 6.9e-310, 1e200, 3.0, 4.0};
        const double b[3] = {0.25, 6.9e-310, -1e200};
        op_case *oc = opc_new("Add", 2, 1);
        opc_input(oc, 0, FOIL_F64, 2, s23, a, 0);
        opc_input(oc, 1, FOIL_F64, 1, s3, b, 0);
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(oc->out[0].dtype, FOIL_F64);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        const double *y = oc->out[0].data;
        for (int i = 0; i < 6; i++) assert_true(y[i] == a[i] + b[i % 3]);
        opc_free(oc);
    }
}

static void test_binary_errors(void **state)
{
    (void)state;
    const int64_t s34[2] = {3, 4}, s5[1] = {5}, s4[1] = {4};
    op_case *oc = opc_new("Add", 2, 1);
    opc_input_randn(oc, 0, 2, s34, 1.0f, 1);
    opc_input_randn(oc, 1, 1, s5, 1.0f, 2);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    assert_non_null(strstr(foil_last_error(), "cannot be broadcast"));
    opc_free(oc);
    /* dtype mismatch */
    oc = opc_new("Mul", 2, 1);
    opc_input_randn(oc, 0, 2, s34, 1.0f, 1);
    opc_input(oc, 1, FOIL_I64, 1, s4, NULL, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_FORMAT);
    opc_free(oc);
    /* unsupported dtype */
    oc = opc_new("Sub", 2, 1);
    opc_input(oc, 0, FOIL_BOOL, 1, s4, NULL, 0);
    opc_input(oc, 1, FOIL_BOOL, 1, s4, NULL, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_UNSUPPORTED);
    opc_free(oc);
    /* missing input */
    oc = opc_new("Div", 2, 1);
    opc_input_randn(oc, 0, 2, s34, 1.0f, 1);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_FORMAT);
    opc_free(oc);
    /* zero-size tensors are fine */
    const int64_t s03[2] = {0, 3}, s3[1] = {3};
    oc = opc_new("Add", 2, 1);
    opc_input_randn(oc, 0, 2, s03, 1.0f, 1);
    opc_input_randn(oc, 1, 1, s3, 1.0f, 2);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(oc->out[0].numel, 0);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    opc_free(oc);
}

/* ------------------------------------------------------------------------- */

typedef double (*ref1)(double x, double p);
static double r_relu(double x, double p) { (void)p; return x > 0 ? x : 0; }
static double r_leaky(double x, double p) { return x >= 0 ? x : p * x; }
static double r_sigmoid(double x, double p) { (void)p; return 1.0 / (1.0 + exp(-x)); }
static double r_tanh(double x, double p) { (void)p; return tanh(x); }

/* Inputs kept at least `gap` away from 0 (the kink) for finite differences. */
static void unary_input(op_case *oc, int ndim, const int64_t *shape, float scale, uint64_t seed, float gap)
{
    opc_input_randn(oc, 0, ndim, shape, scale, seed);
    float *x = foil_f32(&oc->in[0]);
    for (int64_t i = 0; i < oc->in[0].numel; i++)
        if (fabsf(x[i]) < gap) x[i] = x[i] >= 0 ? gap + x[i] : x[i] - gap;
}

static void check_unary(const char *type, ref1 f, double p, int has_alpha, int64_t n, uint64_t seed)
{
    const int64_t shape[3] = {n / 20 > 0 ? n / 20 : 1, 4, 5};
    op_case *oc = opc_new(type, 1, 1);
    if (has_alpha) opc_attr_float(oc, "alpha", (float)p);
    unary_input(oc, 3, shape, 2.0f, seed, 0.05f);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    const float *x = foil_f32(&oc->in[0]), *y = foil_f32(&oc->out[0]);
    for (int64_t i = 0; i < oc->in[0].numel; i++) assert_float_equal(y[i], f(x[i], p), 1e-6 + 1e-6 * fabs(y[i]));
    if (oc->in[0].numel <= 200) {
        double err = opc_gradcheck(oc, 0, 1e-3f, 0);
        if (err > 1e-2) print_error("%s: gradcheck err %g\n", type, err);
        assert_true(err < 1e-2);
    }
    opc_free(oc);
}

static void test_activations(void **state)
{
    (void)state;
    for (int big = 0; big < 2; big++) {
        int64_t n = big ? 40000 : 60;
        check_unary("Relu", r_relu, 0, 0, n, 1);
        check_unary("LeakyRelu", r_leaky, 0.1, 1, n, 2);
        check_unary("LeakyRelu", r_leaky, 0.5, 1, n, 3);
        check_unary("LeakyRelu", r_leaky, 0.01, 0, n, 4); /* default alpha */
        check_unary("Sigmoid", r_sigmoid, 0, 0, n, 5);
        check_unary("Tanh", r_tanh, 0, 0, n, 6);
    }
    /* Extreme inputs: sigmoid saturates without NaN or overflow. */
    const int64_t s4[1] = {4};
    const float x[4] = {-100.0f, -30.0f, 30.0f, 100.0f};
    op_case *oc = opc_new("Sigmoid", 1, 1);
    opc_input(oc, 0, FOIL_F32, 1, s4, x, 0);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    const float *y = foil_f32(&oc->out[0]);
    assert_true(y[0] >= 0.0f && y[0] < 1e-38f); /* 3.7e-44: flushed below FLT_MIN */
    assert_float_equal(y[1], 9.357622968840175e-14, 1e-19);
    assert_float_equal(y[2], 1.0, 1e-7);
    assert_float_equal(y[3], 1.0, 0);
    opc_free(oc);
    /* The kink: relu passes no gradient at 0, leaky passes alpha. */
    const float z[1] = {0.0f};
    const int64_t s1[1] = {1};
    const char *types[2] = {"Relu", "LeakyRelu"};
    for (int t = 0; t < 2; t++) {
        oc = opc_new(types[t], 1, 1);
        if (t) opc_attr_float(oc, "alpha", 0.25f);
        opc_input(oc, 0, FOIL_F32, 1, s1, z, 0);
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        foil_tensor dy = {0}, dx = {0};
        foil_tensor_alloc(&dy, FOIL_F32, 1, s1);
        foil_tensor_alloc(&dx, FOIL_F32, 1, s1);
        foil_f32(&dy)[0] = 2.0f;
        oc->pdout[0] = &dy;
        oc->pdin[0] = &dx;
        oc->node.op->backward(&oc->node.ctx);
        assert_float_equal(foil_f32(&dx)[0], t ? 0.5f : 0.0f, 0);
        oc->pdout[0] = oc->pdin[0] = NULL;
        foil_tensor_free(&dy);
        foil_tensor_free(&dx);
        opc_free(oc);
    }
    /* float32 only */
    oc = opc_new("Relu", 1, 1);
    opc_input(oc, 0, FOIL_I64, 1, s4, NULL, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_UNSUPPORTED);
    opc_free(oc);
}

/* Clip, opset 6 (attributes) and opset 13 (optional inputs). */
static void test_clip(void **state)
{
    (void)state;
    const int64_t s8[1] = {8}, s1[1] = {1};
    const float x[8] = {-2.0f, -0.5f, -0.2f, 0.0f, 0.3f, 0.5f, 0.9f, NAN};
    struct {
        int opset, has_lo, has_hi;
        float lo, hi;
    } cases[] = {
        {6, 1, 1, -0.5f, 0.5f}, /* pytorch-operator/test_operator_clip */
        {6, 0, 1, 0, 0.4f},     {6, 1, 0, -0.3f, 0},      {6, 0, 0, 0, 0},
        {13, 1, 1, -0.5f, 0.5f}, {13, 1, 0, 0.0f, 0},     {13, 0, 1, 0, 0.0f},
        {13, 0, 0, 0, 0},        {13, 1, 1, 0.6f, -0.1f}, /* min > max: all max */
        {11, 1, 1, -1.0f, 1.0f},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        op_case *oc = opc_new("Clip", cases[t].opset >= 11 ? 3 : 1, 1);
        oc->node.opset = cases[t].opset;
        float lo = cases[t].has_lo ? cases[t].lo : -INFINITY, hi = cases[t].has_hi ? cases[t].hi : INFINITY;
        if (cases[t].opset < 11) {
            if (cases[t].has_lo) opc_attr_float(oc, "min", lo);
            if (cases[t].has_hi) opc_attr_float(oc, "max", hi);
        } else {
            if (cases[t].has_lo) opc_input(oc, 1, FOIL_F32, 0, NULL, &lo, 1);
            if (cases[t].has_hi) opc_input(oc, 2, FOIL_F32, 0, NULL, &hi, 1);
        }
        opc_input(oc, 0, FOIL_F32, 1, s8, x, 0);
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        const float *y = foil_f32(&oc->out[0]);
        for (int i = 0; i < 7; i++) {
            float want = fminf(fmaxf(x[i], lo), hi);
            assert_float_equal(y[i], want, 0);
        }
        assert_true(isnan(y[7]));
        /* Gradient: 1 where lo <= x <= hi (boundaries included, as PyTorch's clamp). */
        foil_tensor dy = {0}, dx = {0};
        foil_tensor_alloc(&dy, FOIL_F32, 1, s8);
        foil_tensor_alloc(&dx, FOIL_F32, 1, s8);
        for (int i = 0; i < 8; i++) foil_f32(&dy)[i] = (float)(i + 1);
        oc->pdout[0] = &dy;
        oc->pdin[0] = &dx;
        oc->node.op->backward(&oc->node.ctx);
        for (int i = 0; i < 7; i++) {
            float want = (x[i] >= lo && x[i] <= hi) ? (float)(i + 1) : 0.0f;
            assert_float_equal(foil_f32(&dx)[i], want, 0);
        }
        oc->pdout[0] = oc->pdin[0] = NULL;
        foil_tensor_free(&dy);
        foil_tensor_free(&dx);
        opc_free(oc);
    }
    /* Finite differences away from the bounds. */
    {
        const int64_t s[2] = {6, 7};
        op_case *oc = opc_new("Clip", 3, 1);
        float lo = -0.5f, hi = 0.7f;
        opc_input_randn(oc, 0, 2, s, 1.0f, 3);
        float *xv = foil_f32(&oc->in[0]);
        for (int i = 0; i < 42; i++)
            if (fabsf(xv[i] - lo) < 0.02f || fabsf(xv[i] - hi) < 0.02f) xv[i] += 0.05f;
        opc_input(oc, 1, FOIL_F32, 1, s1, &lo, 1);
        opc_input(oc, 2, FOIL_F32, 1, s1, &hi, 1);
        double err = opc_gradcheck(oc, 0, 1e-3f, 0);
        assert_true(err < 1e-2);
        opc_free(oc);
    }
    /* int8: test_clip_default_int8_{min,max,inbounds} */
    {
        const int8_t xi[6] = {-128, -5, 0, 3, 100, 127};
        const int8_t zero = 0, lo = -6, hi = 50;
        const int8_t want_min[6] = {0, 0, 0, 3, 100, 127};
        const int8_t want_max[6] = {-128, -5, 0, 0, 0, 0};
        const int8_t want_both[6] = {-6, -5, 0, 3, 50, 50};
        const int64_t s6[1] = {6};
        for (int t = 0; t < 4; t++) {
            op_case *oc = opc_new("Clip", t == 0 ? 2 : 3, 1);
            oc->node.opset = 13;
            opc_input(oc, 0, FOIL_I8, 1, s6, xi, 0);
            if (t == 0) opc_input(oc, 1, FOIL_I8, 0, NULL, &zero, 1);
            if (t == 1) opc_input(oc, 2, FOIL_I8, 0, NULL, &zero, 1);
            if (t == 2) {
                opc_input(oc, 1, FOIL_I8, 0, NULL, &lo, 1);
                opc_input(oc, 2, FOIL_I8, 0, NULL, &hi, 1);
            }
            assert_int_equal(opc_prepare(oc), FOIL_OK);
            assert_int_equal(opc_forward(oc, 0), FOIL_OK);
            const int8_t *y = oc->out[0].data;
            const int8_t *want = t == 0 ? want_min : t == 1 ? want_max : t == 2 ? want_both : xi;
            for (int i = 0; i < 6; i++) assert_int_equal(y[i], want[i]);
            opc_free(oc);
        }
    }
    /* Errors: non-scalar bound, bound of another type, int input before opset 11. */
    {
        const int64_t s2[1] = {2};
        const float two[2] = {0, 1};
        op_case *oc = opc_new("Clip", 2, 1);
        opc_input(oc, 0, FOIL_F32, 1, s8, x, 0);
        opc_input(oc, 1, FOIL_F32, 1, s2, two, 1);
        assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
        opc_free(oc);
        const int8_t z8 = 0;
        oc = opc_new("Clip", 2, 1);
        opc_input(oc, 0, FOIL_F32, 1, s8, x, 0);
        opc_input(oc, 1, FOIL_I8, 0, NULL, &z8, 1);
        assert_int_equal(opc_prepare(oc), FOIL_ERR_FORMAT);
        opc_free(oc);
        oc = opc_new("Clip", 1, 1);
        oc->node.opset = 6;
        opc_input(oc, 0, FOIL_I8, 1, s1, &z8, 0);
        assert_int_equal(opc_prepare(oc), FOIL_ERR_UNSUPPORTED);
        opc_free(oc);
    }
}

/* The vectorizable exp and tanh the kernels use, against libm in double. */
static void test_vector_math(void **state)
{
    (void)state;
    double worst_exp = 0, worst_tanh = 0;
    for (int i = 0; i <= 2000000; i++) {
        float x = -87.3f + (88.7f + 87.3f) * (float)i / 2000000.0f;
        double e = exp((double)x), got = foilExpf(x);
        double rel = fabs(got - e) / e;
        if (rel > worst_exp) worst_exp = rel;
        float t = -10.0f + 20.0f * (float)i / 2000000.0f;
        double th = tanh((double)t), gt = foilTanhf(t);
        double err = fabs(gt - th) / fmax(fabs(th), 1e-30);
        if (err > worst_tanh) worst_tanh = err;
    }
    if (worst_exp > 3e-7 || worst_tanh > 5e-7) print_error("exp rel err %g, tanh rel err %g\n", worst_exp, worst_tanh);
    assert_true(worst_exp < 3e-7);
    assert_true(worst_tanh < 5e-7);
    /* special values */
    assert_float_equal(foilExpf(0.0f), 1.0f, 0);
    assert_float_equal(foilExpf(-INFINITY), 0.0f, 0);
    assert_float_equal(foilExpf(-100.0f), 0.0f, 0);
    assert_true(isinf(foilExpf(INFINITY)) && isinf(foilExpf(89.0f)));
    assert_true(isnan(foilExpf(NAN)));
    assert_float_equal(foilTanhf(INFINITY), 1.0f, 0);
    assert_float_equal(foilTanhf(-INFINITY), -1.0f, 0);
    assert_float_equal(foilTanhf(0.0f), 0.0f, 0);
    assert_float_equal(foilTanhf(1e-30f), 1e-30f, 1e-37f);
    assert_true(isnan(foilTanhf(NAN)));
}

/* The rational erf of Erf and Gelu, against libm's erf in double: within
 * 5e-7 absolute and relative (measured: 3.3e-7 compiled with fused
 * multiply-add, 4.4e-7 without, near |x| = 3.9), odd, limits +-1, NaN
 * kept. */
static void test_vector_erf(void **state)
{
    (void)state;
    double worst_abs = 0, worst_rel = 0;
    for (int i = 0; i <= 2000000; i++) {
        float x = -6.0f + 12.0f * (float)i / 2000000.0f;
        double want = erf((double)x), err = fabs((double)foilErff(x) - want);
        if (err > worst_abs) worst_abs = err;
        if (want != 0 && err / fabs(want) > worst_rel) worst_rel = err / fabs(want);
        assert_true(foilErff(-x) == -foilErff(x));
    }
    for (float x = 1e-30f; x < 1e-2f; x *= 1.01f) {
        double rel = fabs((double)foilErff(x) - erf((double)x)) / erf((double)x);
        if (rel > worst_rel) worst_rel = rel;
    }
    if (worst_abs > 5e-7 || worst_rel > 5e-7) print_error("erf abs err %g, rel err %g\n", worst_abs, worst_rel);
    assert_true(worst_abs < 5e-7 && worst_rel < 5e-7);
    assert_float_equal(foilErff(0.0f), 0.0f, 0);
    assert_float_equal(foilErff(INFINITY), 1.0f, 0);
    assert_float_equal(foilErff(-INFINITY), -1.0f, 0);
    assert_true(isnan(foilErff(NAN)));
}

int main(void)
{
    opc_skip_unless_kernels_run();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_forward_patterns),
        cmocka_unit_test(test_binary_gradcheck_patterns),
        cmocka_unit_test(test_binary_large),
        cmocka_unit_test(test_binary_legacy),
        cmocka_unit_test(test_binary_integer),
        cmocka_unit_test(test_binary_errors),
        cmocka_unit_test(test_activations),
        cmocka_unit_test(test_clip),
        cmocka_unit_test(test_vector_math),
        cmocka_unit_test(test_vector_erf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
