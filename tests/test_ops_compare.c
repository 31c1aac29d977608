/*
 * tests/test_ops_compare.c - Equal, Less, Greater, Not and Where: outputs
 * against naive loops over broadcast patterns (float32, int64 near its
 * limits, bool), Where's gradients to X and Y against finite differences
 * and (large, OpenMP path) a naive sum, the condition's lack of one, and
 * the errors.
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

typedef struct pat {
    int na;
    int64_t a[3];
    int nb;
    int64_t b[3];
    int no;
    int64_t o[3];
} pat;

static const pat pats[] = {
    {3, {2, 3, 4}, 3, {2, 3, 4}, 3, {2, 3, 4}},
    {3, {2, 3, 4}, 1, {4}, 3, {2, 3, 4}},
    {2, {3, 1}, 3, {2, 1, 4}, 3, {2, 3, 4}},
    {0, {0}, 2, {3, 4}, 2, {3, 4}},
    {2, {200, 300}, 1, {300}, 2, {200, 300}}, /* the OpenMP path */
};

static void test_compare_float(void **state)
{
    (void)state;
    static const char *const types[3] = {"Equal", "Less", "Greater"};
    for (int t = 0; t < 3; t++)
        for (size_t p = 0; p < sizeof pats / sizeof pats[0]; p++) {
            const pat *P = &pats[p];
            op_case *oc = opc_new(types[t], 2, 1);
            opc_input_randn(oc, 0, P->na, P->a, 1.0f, 10 + p);
            opc_input_randn(oc, 1, P->nb, P->b, 1.0f, 20 + p);
            /* round to a coarse grid so that Equal meets ties */
            for (int k = 0; k < 2; k++) {
                float *v = foil_f32(&oc->in[k]);
                for (int64_t i = 0; i < oc->in[k].numel; i++) v[i] = roundf(v[i]);
            }
            assert_int_equal(opc_prepare(oc), FOIL_OK);
            assert_int_equal(oc->out[0].dtype, FOIL_BOOL);
            assert_int_equal(oc->out[0].ndim, P->no);
            assert_int_equal(opc_forward(oc, 0), FOIL_OK);
            const float *a = foil_f32(&oc->in[0]), *b = foil_f32(&oc->in[1]);
            const uint8_t *y = oc->out[0].data;
            int64_t hits = 0;
            for (int64_t i = 0; i < oc->out[0].numel; i++) {
                float x = a[opc_bcast_index(P->na, P->a, P->no, P->o, i)];
                float z = b[opc_bcast_index(P->nb, P->b, P->no, P->o, i)];
                int want = t == 0 ? x == z : t == 1 ? x < z : x > z;
                assert_int_equal(y[i], want);
                hits += want;
            }
            if (oc->out[0].numel >= 24) assert_true(hits > 0 && hits < oc->out[0].numel); /* both outcomes met */
            assert_null(oc->node.op->backward); /* no gradient */
            opc_free(oc);
        }
}

static void test_compare_int_bool(void **state)
{
    (void)state;
    /* int64 values that differ by 1 near 2^63: a comparison through double would tie */
    const int64_t a[3] = {INT64_MAX, INT64_MAX - 1, -5}, b[3] = {INT64_MAX - 1, INT64_MAX - 1, -5};
    const int64_t s3[1] = {3};
    const uint8_t eq[3] = {0, 1, 1}, lt[3] = {0, 0, 0}, gt[3] = {1, 0, 0};
    static const char *const types[3] = {"Equal", "Less", "Greater"};
    const uint8_t *want[3] = {eq, lt, gt};
    for (int t = 0; t < 3; t++) {
        op_case *oc = opc_new(types[t], 2, 1);
        opc_input(oc, 0, FOIL_I64, 1, s3, a, 0);
        opc_input(oc, 1, FOIL_I64, 1, s3, b, 0);
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        for (int i = 0; i < 3; i++) assert_int_equal(((uint8_t *)oc->out[0].data)[i], want[t][i]);
        opc_free(oc);
    }
    /* Equal on bool; Less on bool is not an ONNX type */
    const uint8_t p[4] = {0, 0, 1, 1}, q[4] = {0, 1, 0, 1}, pq[4] = {1, 0, 0, 1};
    const int64_t s4[1] = {4};
    op_case *oc = opc_new("Equal", 2, 1);
    opc_input(oc, 0, FOIL_BOOL, 1, s4, p, 0);
    opc_input(oc, 1, FOIL_BOOL, 1, s4, q, 0);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    assert_memory_equal(oc->out[0].data, pq, 4);
    opc_free(oc);
    oc = opc_new("Less", 2, 1);
    opc_input(oc, 0, FOIL_BOOL, 1, s4, p, 0);
    opc_input(oc, 1, FOIL_BOOL, 1, s4, q, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_UNSUPPORTED);
    opc_free(oc);
    /* Not */
    oc = opc_new("Not", 1, 1);
    opc_input(oc, 0, FOIL_BOOL, 1, s4, q, 0);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    const uint8_t nq[4] = {1, 0, 1, 0};
    assert_memory_equal(oc->out[0].data, nq, 4);
    opc_free(oc);
    oc = opc_new("Not", 1, 1);
    opc_input(oc, 0, FOIL_I64, 1, s3, a, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_FORMAT);
    assert_non_null(strstr(foil_last_error(), "bool"));
    opc_free(oc);
    /* mixed types */
    const float f[3] = {1, 2, 3};
    oc = opc_new("Equal", 2, 1);
    opc_input(oc, 0, FOIL_I64, 1, s3, a, 0);
    opc_input(oc, 1, FOIL_F32, 1, s3, f, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_FORMAT);
    opc_free(oc);
}

/* A Where on the given shapes with a random condition. */
static op_case *make_where(int nc, const int64_t *cs, int nx, const int64_t *xs, int ny, const int64_t *ys,
                           uint64_t seed)
{
    op_case *oc = opc_new("Where", 3, 1);
    int64_t n = 1;
    for (int d = 0; d < nc; d++) n *= cs[d];
    uint8_t *cond = malloc((size_t)n);
    foil_rng r = foil_rng_make(seed, 0);
    for (int64_t i = 0; i < n; i++) cond[i] = foil_rng_normal(&r) > 0;
    opc_input(oc, 0, FOIL_BOOL, nc, cs, cond, 1);
    free(cond);
    opc_input_randn(oc, 1, nx, xs, 1.0f, seed + 1);
    opc_input_randn(oc, 2, ny, ys, 1.0f, seed + 2);
    return oc;
}

static void test_where(void **state)
{
    (void)state;
    typedef struct wpat {
        int nc, nx, ny, no;
        int64_t c[3], x[3], y[3], o[3];
    } wpat;
    static const wpat wp[] = {
        {3, 3, 3, 3, {2, 3, 4}, {2, 3, 4}, {2, 3, 4}, {2, 3, 4}},
        {3, 1, 0, 3, {2, 3, 4}, {4}, {0}, {2, 3, 4}},           /* X a row, Y a scalar */
        {2, 3, 2, 3, {3, 4}, {2, 1, 4}, {3, 1}, {2, 3, 4}},     /* all broadcast */
        {1, 3, 3, 3, {4}, {2, 3, 4}, {2, 3, 4}, {2, 3, 4}},     /* condition a row */
    };
    for (size_t p = 0; p < sizeof wp / sizeof wp[0]; p++) {
        const wpat *W = &wp[p];
        op_case *oc = make_where(W->nc, W->c, W->nx, W->x, W->ny, W->y, 40 + p);
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(oc->out[0].ndim, W->no);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        const uint8_t *c = oc->in[0].data;
        const float *x = foil_f32(&oc->in[1]), *y = foil_f32(&oc->in[2]), *o = foil_f32(&oc->out[0]);
        for (int64_t i = 0; i < oc->out[0].numel; i++) {
            float want = c[opc_bcast_index(W->nc, W->c, W->no, W->o, i)] ? x[opc_bcast_index(W->nx, W->x, W->no, W->o, i)]
                                                                       : y[opc_bcast_index(W->ny, W->y, W->no, W->o, i)];
            assert_float_equal(o[i], want, 0);
        }
        assert_int_equal(oc->node.op->grad_inputs & 1u, 0); /* the condition has none */
        for (int k = 1; k <= 2; k++) {
            double err = opc_gradcheck(oc, k, 1e-3f, 0);
            if (err > 1e-3) fail_msg("Where pattern %zu input %d: gradcheck err %g", p, k, err);
        }
        opc_free(oc);
    }
}

/* Large: the OpenMP paths, X broadcast along rows so its gradient sums. */
static void test_where_large(void **state)
{
    (void)state;
    const int64_t cs[2] = {300, 200}, xs[1] = {200};
    op_case *oc = make_where(2, cs, 1, xs, 2, cs, 7);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    foil_tensor g = {0}, dx = {0}, dy = {0};
    assert_int_equal(foil_tensor_alloc(&g, FOIL_F32, 2, cs), FOIL_OK);
    assert_int_equal(foil_tensor_alloc(&dx, FOIL_F32, 1, xs), FOIL_OK);
    assert_int_equal(foil_tensor_alloc(&dy, FOIL_F32, 2, cs), FOIL_OK);
    float *gv = foil_f32(&g);
    for (int64_t i = 0; i < g.numel; i++) gv[i] = (float)(i % 13) - 6.0f;
    oc->pdout[0] = &g;
    oc->pdin[1] = &dx;
    oc->pdin[2] = &dy;
    oc->node.op->backward(&oc->node.ctx);
    const uint8_t *c = oc->in[0].data;
    for (int64_t j = 0; j < 200; j++) {
        double want = 0;
        for (int64_t r = 0; r < 300; r++) want += c[r * 200 + j] ? gv[r * 200 + j] : 0.0;
        assert_float_equal(foil_f32(&dx)[j], want, 1e-3);
    }
    for (int64_t i = 0; i < g.numel; i++) assert_float_equal(foil_f32(&dy)[i], c[i] ? 0.0f : gv[i], 0);
    oc->pdout[0] = oc->pdin[1] = oc->pdin[2] = NULL;
    opc_free(oc);
    foil_tensor_free(&g);
    foil_tensor_free(&dx);
    foil_tensor_free(&dy);
}

static void test_where_types_errors(void **state)
{
    (void)state;
    const int64_t s3[1] = {3}, s2[1] = {2};
    const uint8_t c[3] = {1, 0, 1};
    const int64_t x[3] = {1, 2, 3}, y[3] = {-1, -2, -3}, want[3] = {1, -2, 3};
    op_case *oc = opc_new("Where", 3, 1);
    opc_input(oc, 0, FOIL_BOOL, 1, s3, c, 0);
    opc_input(oc, 1, FOIL_I64, 1, s3, x, 0);
    opc_input(oc, 2, FOIL_I64, 1, s3, y, 0);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    assert_memory_equal(oc->out[0].data, want, sizeof want);
    opc_free(oc);
    /* a float condition, mixed X/Y types, shapes that do not broadcast */
    const float f[3] = {1, 0, 1};
    oc = opc_new("Where", 3, 1);
    opc_input(oc, 0, FOIL_F32, 1, s3, f, 0);
    opc_input(oc, 1, FOIL_F32, 1, s3, f, 0);
    opc_input(oc, 2, FOIL_F32, 1, s3, f, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_FORMAT);
    assert_non_null(strstr(foil_last_error(), "condition"));
    opc_free(oc);
    oc = opc_new("Where", 3, 1);
    opc_input(oc, 0, FOIL_BOOL, 1, s3, c, 0);
    opc_input(oc, 1, FOIL_F32, 1, s3, f, 0);
    opc_input(oc, 2, FOIL_I64, 1, s3, y, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_FORMAT);
    opc_free(oc);
    oc = opc_new("Where", 3, 1);
    opc_input(oc, 0, FOIL_BOOL, 1, s3, c, 0);
    opc_input(oc, 1, FOIL_F32, 1, s2, f, 0);
    opc_input(oc, 2, FOIL_F32, 1, s3, f, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    opc_free(oc);
}

int main(void)
{
    opc_skip_unless_kernels_run();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compare_float),
        cmocka_unit_test(test_compare_int_bool),
        cmocka_unit_test(test_where),
        cmocka_unit_test(test_where_large),
        cmocka_unit_test(test_where_types_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
