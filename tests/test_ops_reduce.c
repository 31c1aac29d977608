/*
 * tests/test_ops_reduce.c - ReduceSum, ReduceMean, ReduceMax, ReduceMin,
 * ReduceL2 over every subset of axes of a rank-4 tensor (as an attribute,
 * as an input, negative, keepdims 0/1, noop_with_empty_axes) against a naive
 * reduction written here, gradients by finite differences, large tensors on
 * the OpenMP paths, ties of Max/Min sharing the gradient; ArgMax/ArgMin with
 * keepdims and select_last_index; the errors.
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

enum { K_SUM, K_MEAN, K_MAX, K_MIN, K_L2 };
static const char *const kinds[5] = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceL2"};

/* Naive: out[o] for every output o of reducing x (shape s, rank r) over mask. */
static void naive_reduce(int kind, const float *x, int r, const int64_t *s, unsigned mask, double *out, int64_t nout)
{
    int64_t *cnt = calloc((size_t)nout, sizeof *cnt);
    for (int64_t o = 0; o < nout; o++) out[o] = kind == K_MAX ? -INFINITY : kind == K_MIN ? INFINITY : 0.0;
    int64_t n = 1;
    for (int d = 0; d < r; d++) n *= s[d];
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, o = 0, mul = 1;
        for (int d = r - 1; d >= 0; d--) {
            int64_t c = rem % s[d];
            rem /= s[d];
            if (!((mask >> d) & 1u)) {
                o += c * mul;
                mul *= s[d];
            }
        }
        double v = x[i];
        switch (kind) {
        case K_MAX: out[o] = v > out[o] ? v : out[o]; break;
        case K_MIN: out[o] = v < out[o] ? v : out[o]; break;
        case K_L2: out[o] += v * v; break;
        default: out[o] += v; break;
        }
        cnt[o]++;
    }
    for (int64_t o = 0; o < nout; o++) {
        if (kind == K_MEAN) out[o] /= (double)cnt[o];
        if (kind == K_L2) out[o] = sqrt(out[o]);
    }
    free(cnt);
}

/* A reduction node over the axes in mask (rank r), the axes given as
 * `how`: 0 attribute (opset 11), 1 input (opset 18; 13 for ReduceSum),
 * with the axes negative when neg. */
static op_case *make_reduce(int kind, int r, const int64_t *s, unsigned mask, int keepdims, int how, int neg,
                            uint64_t seed)
{
    int64_t axes[8];
    int na = 0;
    for (int d = 0; d < r; d++)
        if ((mask >> d) & 1u) axes[na++] = neg ? d - r : d;
    op_case *oc = opc_new(kinds[kind], how ? 2 : 1, 1);
    oc->node.opset = how ? (kind == K_SUM ? 13 : 18) : 11;
    opc_attr_int(oc, "keepdims", keepdims);
    if (how) {
        const int64_t as[1] = {na};
        opc_input(oc, 1, FOIL_I64, 1, as, axes, 1);
    } else {
        opc_attr_ints(oc, "axes", na, axes);
    }
    opc_input_randn(oc, 0, r, s, 1.0f, seed);
    return oc;
}

static void check_output(int kind, op_case *oc, unsigned mask, int keepdims)
{
    const foil_tensor *x = &oc->in[0], *y = &oc->out[0];
    int want_rank = 0;
    for (int d = 0; d < x->ndim; d++) {
        int red = (mask >> d) & 1u;
        if (!red || keepdims) {
            assert_true(want_rank < y->ndim);
            assert_int_equal(y->shape[want_rank], red ? 1 : x->shape[d]);
            want_rank++;
        }
    }
    assert_int_equal(y->ndim, want_rank);
    double *want = malloc((size_t)y->numel * sizeof *want);
    naive_reduce(kind, foil_f32(x), x->ndim, x->shape, mask, want, y->numel);
    const float *got = foil_f32(y);
    for (int64_t o = 0; o < y->numel; o++)
        if (fabs(got[o] - want[o]) > 1e-4 * (1 + fabs(want[o])))
            fail_msg("%s mask %x: output %lld is %g, expected %g", kinds[kind], mask, (long long)o, got[o], want[o]);
    free(want);
}

static void test_reduce_all_axes(void **state)
{
    (void)state;
    const int64_t s[4] = {2, 3, 4, 5};
    for (int kind = 0; kind < 5; kind++)
        for (unsigned mask = 1; mask < 16; mask++)
            for (int variant = 0; variant < 4; variant++) {
                const int keepdims = variant & 1, how = (variant >> 1) & 1;
                op_case *oc = make_reduce(kind, 4, s, mask, keepdims, how, (int)(mask & 1u), 100 + mask);
                assert_int_equal(opc_prepare(oc), FOIL_OK);
                assert_int_equal(opc_forward(oc, 0), FOIL_OK);
                check_output(kind, oc, mask, keepdims);
                if (variant == 1) {
                    double err = opc_gradcheck(oc, 0, 1e-3f, 0);
                    if (err > 5e-3) fail_msg("%s mask %x: gradcheck err %g", kinds[kind], mask, err);
                }
                opc_free(oc);
            }
}

/* Axes absent: every axis, or none with noop_with_empty_axes (input form). */
static void test_reduce_default_axes(void **state)
{
    (void)state;
    const int64_t s[3] = {3, 4, 5};
    for (int kind = 0; kind < 5; kind++)
        for (int v = 0; v < 4; v++) {
            op_case *oc = opc_new(kinds[kind], v >= 2 ? 2 : 1, 1);
            oc->node.opset = v == 0 ? 11 : 18;
            if (v == 1) opc_attr_int(oc, "noop_with_empty_axes", 1);
            if (v == 3) { /* an empty axes input, with noop */
                opc_attr_int(oc, "noop_with_empty_axes", 1);
                const int64_t es[1] = {0};
                opc_input(oc, 1, FOIL_I64, 1, es, NULL, 1);
            }
            opc_input_randn(oc, 0, 3, s, 1.0f, 7 + kind);
            assert_int_equal(opc_prepare(oc), FOIL_OK);
            assert_int_equal(opc_forward(oc, 0), FOIL_OK);
            const int noop = v == 1 || v == 3;
            if (noop) {
                assert_int_equal(oc->out[0].numel, 60);
                const float *x = foil_f32(&oc->in[0]), *y = foil_f32(&oc->out[0]);
                for (int i = 0; i < 60; i++) assert_float_equal(y[i], kind == K_L2 ? fabsf(x[i]) : x[i], 0);
            } else {
                check_output(kind, oc, 7u, 1);
            }
            double err = opc_gradcheck(oc, 0, 1e-3f, 0);
            if (err > 5e-3) fail_msg("%s default axes %d: gradcheck err %g", kinds[kind], v, err);
            opc_free(oc);
        }
}

/* Large tensors: the innermost block reduced (runs) and kept (rows), in
 * parallel; the gradient against the formula. */
static void test_reduce_large(void **state)
{
    (void)state;
    const int64_t s[3] = {64, 40, 50};
    for (int kind = 0; kind < 5; kind++)
        for (unsigned mask = 1; mask < 8; mask++) {
            op_case *oc = make_reduce(kind, 3, s, mask, 1, 0, 0, 300 + mask);
            assert_int_equal(opc_prepare(oc), FOIL_OK);
            assert_int_equal(opc_forward(oc, 0), FOIL_OK);
            check_output(kind, oc, mask, 1);
            if (kind == K_MEAN || kind == K_L2) {
                foil_tensor g = {0}, dx = {0};
                assert_int_equal(foil_tensor_alloc(&g, FOIL_F32, oc->out[0].ndim, oc->out[0].shape), FOIL_OK);
                assert_int_equal(foil_tensor_alloc(&dx, FOIL_F32, 3, s), FOIL_OK);
                for (int64_t o = 0; o < g.numel; o++) foil_f32(&g)[o] = (float)(o % 5) - 2.0f;
                oc->pdout[0] = &g;
                oc->pdin[0] = &dx;
                oc->node.op->backward(&oc->node.ctx);
                const float *x = foil_f32(&oc->in[0]), *y = foil_f32(&oc->out[0]);
                const int64_t m = oc->in[0].numel / oc->out[0].numel;
                for (int64_t i = 0; i < oc->in[0].numel; i++) {
                    int64_t rem = i, o = 0, mul = 1;
                    for (int d = 2; d >= 0; d--) {
                        int64_t c = rem % s[d];
                        rem /= s[d];
                        if (!((mask >> d) & 1u)) {
                            o += c * mul;
                            mul *= s[d];
                        }
                    }
                    double want = kind == K_MEAN ? foil_f32(&g)[o] / (double)m : foil_f32(&g)[o] * x[i] / y[o];
                    assert_float_equal(foil_f32(&dx)[i], want, 1e-5 * (1 + fabs(want)));
                }
                oc->pdout[0] = oc->pdin[0] = NULL;
                foil_tensor_free(&g);
                foil_tensor_free(&dx);
            }
            opc_free(oc);
        }
}

/* Ties of Max/Min share the gradient evenly (PyTorch's amax/amin). */
static void test_reduce_ties(void **state)
{
    (void)state;
    const float x[6] = {1, 3, 3, -2, -2, 0};
    const int64_t s[2] = {2, 3};
    for (int k = 0; k < 2; k++) {
        op_case *oc = opc_new(k ? "ReduceMin" : "ReduceMax", 1, 1);
        oc->node.opset = 13;
        const int64_t ax[1] = {1};
        opc_attr_ints(oc, "axes", 1, ax);
        opc_input(oc, 0, FOIL_F32, 2, s, x, 0);
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        foil_tensor g = {0}, dx = {0};
        assert_int_equal(foil_tensor_alloc(&g, FOIL_F32, oc->out[0].ndim, oc->out[0].shape), FOIL_OK);
        assert_int_equal(foil_tensor_alloc(&dx, FOIL_F32, 2, s), FOIL_OK);
        foil_f32(&g)[0] = 1.0f;
        foil_f32(&g)[1] = 4.0f;
        oc->pdout[0] = &g;
        oc->pdin[0] = &dx;
        oc->node.op->backward(&oc->node.ctx);
        const float max_want[6] = {0, 0.5f, 0.5f, 0, 0, 4}, min_want[6] = {1, 0, 0, 2, 2, 0};
        for (int i = 0; i < 6; i++) assert_float_equal(foil_f32(&dx)[i], k ? min_want[i] : max_want[i], 0);
        oc->pdout[0] = oc->pdin[0] = NULL;
        foil_tensor_free(&g);
        foil_tensor_free(&dx);
        opc_free(oc);
    }
}

static void test_reduce_errors(void **state)
{
    (void)state;
    const int64_t s[2] = {3, 4};
    /* axes input not known at plan time */
    op_case *oc = opc_new("ReduceSum", 2, 1);
    opc_input_randn(oc, 0, 2, s, 1.0f, 1);
    const int64_t one[1] = {1}, ax[1] = {1};
    opc_input(oc, 1, FOIL_I64, 1, one, ax, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_UNSUPPORTED);
    assert_non_null(strstr(foil_last_error(), "axes"));
    opc_free(oc);
    /* out of range, repeated */
    const int64_t bad[2][2] = {{2, 0}, {1, -1}};
    for (int b = 0; b < 2; b++) {
        oc = opc_new("ReduceMean", 1, 1);
        oc->node.opset = 13;
        opc_attr_ints(oc, "axes", b ? 2 : 1, bad[b]);
        opc_input_randn(oc, 0, 2, s, 1.0f, 1);
        assert_int_equal(opc_prepare(oc), FOIL_ERR_FORMAT);
        assert_non_null(strstr(foil_last_error(), b ? "repeated" : "out of range"));
        opc_free(oc);
    }
    /* axes attribute where it must be an input */
    oc = opc_new("ReduceMean", 1, 1);
    opc_attr_ints(oc, "axes", 1, ax);
    opc_input_randn(oc, 0, 2, s, 1.0f, 1);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_FORMAT);
    opc_free(oc);
    /* integer data */
    const int64_t iv[12] = {0};
    oc = opc_new("ReduceMax", 1, 1);
    oc->node.opset = 13;
    opc_input(oc, 0, FOIL_I64, 2, s, iv, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_UNSUPPORTED);
    opc_free(oc);
}

static void test_argmax(void **state)
{
    (void)state;
    /* (2, 4) with ties in row 0 */
    const float x[8] = {1, 5, 5, 0, -1, -3, 2, -3};
    const int64_t s[2] = {2, 4};
    struct {
        const char *type;
        int64_t axis;
        int keepdims, last;
        int64_t want[4];
        int n;
    } cases[] = {
        {"ArgMax", 1, 1, 0, {1, 2}, 2},
        {"ArgMax", -1, 0, 1, {2, 2}, 2},
        {"ArgMax", 0, 1, 0, {0, 0, 0, 0}, 4},
        {"ArgMin", 1, 0, 0, {3, 1}, 2},
        {"ArgMin", 1, 0, 1, {3, 3}, 2},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        op_case *oc = opc_new(cases[k].type, 1, 1);
        opc_attr_int(oc, "axis", cases[k].axis);
        opc_attr_int(oc, "keepdims", cases[k].keepdims);
        opc_attr_int(oc, "select_last_index", cases[k].last);
        opc_input(oc, 0, FOIL_F32, 2, s, x, 0);
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(oc->out[0].dtype, FOIL_I64);
        assert_int_equal(oc->out[0].ndim, cases[k].keepdims ? 2 : 1);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        assert_int_equal(oc->out[0].numel, cases[k].n);
        assert_memory_equal(oc->out[0].data, cases[k].want, sizeof(int64_t) * (size_t)cases[k].n);
        assert_null(oc->node.op->backward);
        opc_free(oc);
    }
    /* a large one (OpenMP) against a naive scan; an out-of-range axis */
    const int64_t ls[3] = {50, 30, 40};
    op_case *oc = opc_new("ArgMax", 1, 1);
    opc_attr_int(oc, "axis", 1);
    opc_input_randn(oc, 0, 3, ls, 1.0f, 3);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    const float *lx = foil_f32(&oc->in[0]);
    const int64_t *y = oc->out[0].data;
    for (int64_t a = 0; a < 50; a++)
        for (int64_t c = 0; c < 40; c++) {
            int64_t best = 0;
            for (int64_t b = 1; b < 30; b++)
                if (lx[(a * 30 + b) * 40 + c] > lx[(a * 30 + best) * 40 + c]) best = b;
            assert_int_equal(y[a * 40 + c], best);
        }
    opc_free(oc);
    oc = opc_new("ArgMax", 1, 1);
    opc_attr_int(oc, "axis", 2);
    opc_input(oc, 0, FOIL_F32, 2, s, x, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_FORMAT);
    opc_free(oc);
}

int main(void)
{
    opc_skip_unless_kernels_run();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reduce_all_axes),
        cmocka_unit_test(test_reduce_default_axes),
        cmocka_unit_test(test_reduce_large),
        cmocka_unit_test(test_reduce_ties),
        cmocka_unit_test(test_reduce_errors),
        cmocka_unit_test(test_argmax),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
