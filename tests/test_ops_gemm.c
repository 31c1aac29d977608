/*
 * tests/test_ops_gemm.c - Gemm (trans flags, alpha/beta, every C shape, the
 * opset-6 broadcast attribute) and MatMul (numpy semantics: 1-D promotion,
 * batched broadcasting): forward against naive triple loops, every gradient
 * against finite differences, and shape/dtype errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ops/im2col.h"
#include "op_harness.h"


/* ------------------------------------------------------------------------- */
/* Gemm                                                                       */

typedef struct cshape {
    int nd;          /* -1: no C */
    int64_t s[2];    /* in units of M/N: -1 = M, -2 = N */
} cshape;

static const cshape cshapes[] = {
    {-1, {0}}, {0, {0}}, {1, {1}}, {1, {-2}}, {2, {1, -2}}, {2, {-1, 1}}, {2, {-1, -2}}, {2, {1, 1}},
};
#define NC (int)(sizeof cshapes / sizeof cshapes[0])

static void gemm_case(int ta, int tb, int ci, float alpha, float beta, int set_ab, int64_t M, int64_t N, int64_t K,
                      int grads)
{
    const cshape *cs = &cshapes[ci];
    int has_c = cs->nd >= 0;
    op_case *oc = opc_new("Gemm", has_c ? 3 : 2, 1);
    if (ta) opc_attr_int(oc, "transA", 1);
    if (tb) opc_attr_int(oc, "transB", 1);
    if (set_ab) {
        opc_attr_float(oc, "alpha", alpha);
        opc_attr_float(oc, "beta", beta);
    }
    const int64_t as[2] = {ta ? K : M, ta ? M : K}, bs[2] = {tb ? N : K, tb ? K : N};
    opc_input_randn(oc, 0, 2, as, 1.0f, 1 + (uint64_t)ci);
    opc_input_randn(oc, 1, 2, bs, 1.0f, 2 + (uint64_t)ci);
    int64_t c_s[2] = {0, 0};
    if (has_c) {
        for (int d = 0; d < cs->nd; d++) c_s[d] = cs->s[d] == -1 ? M : cs->s[d] == -2 ? N : cs->s[d];
        opc_input_randn(oc, 2, cs->nd, c_s, 1.0f, 3 + (uint64_t)ci);
    }
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(oc->out[0].ndim, 2);
    assert_int_equal(oc->out[0].shape[0], M);
    assert_int_equal(oc->out[0].shape[1], N);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    const float *a = foil_f32(&oc->in[0]), *b = foil_f32(&oc->in[1]), *y = foil_f32(&oc->out[0]);
    const float *cv = has_c ? foil_f32(&oc->in[2]) : NULL;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++) {
                double av = ta ? a[k * M + i] : a[i * K + k];
                double bv = tb ? b[j * K + k] : b[k * N + j];
                s += av * bv;
            }
            double want = alpha * s;
            if (has_c) {
                /* C right-aligned against (M, N), size-1 dims repeat */
                int64_t cm = cs->nd == 2 ? c_s[0] : 1, cn = cs->nd >= 1 ? c_s[cs->nd - 1] : 1;
                want += beta * cv[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
            }
            assert_float_equal(y[i * N + j], want, 1e-4 * (1 + fabs(want)));
        }
    if (grads)
        for (int k = 0; k < (has_c ? 3 : 2); k++) {
            double err = opc_gradcheck(oc, k, 1e-2f, 0);
            if (err > 1e-2) print_error("gemm ta=%d tb=%d C#%d input %d: err %g\n", ta, tb, ci, k, err);
            assert_true(err < 1e-2);
        }
    opc_free(oc);
}

static void test_gemm(void **state)
{
    (void)state;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int ci = 0; ci < NC; ci++) {
                gemm_case(ta, tb, ci, 1.0f, 1.0f, 0, 3, 5, 4, 1);
                gemm_case(ta, tb, ci, 0.25f, 0.35f, 1, 4, 3, 6, 1); /* test_gemm_all_attributes style */
                gemm_case(ta, tb, ci, -1.5f, 0.0f, 1, 2, 4, 3, 0);  /* beta 0 ignores C */
            }
    /* Bigger, through multithreaded BLAS. */
    gemm_case(0, 1, 3, 1.0f, 1.0f, 0, 64, 96, 128, 0);
    gemm_case(1, 0, 6, 0.5f, 2.0f, 1, 70, 33, 100, 0);
    /* M = 1, N = 1 edge shapes */
    gemm_case(0, 0, 6, 1.0f, 1.0f, 0, 1, 1, 5, 1);
    gemm_case(1, 1, 5, 1.0f, 1.0f, 0, 1, 4, 2, 1);
}

/* Gemm with few rows (M <= 4, A untransposed) runs on the few-row kernels
 * instead of sgemm, split over the threads when large: forward and every
 * gradient against the sgemm path (fast paths off), both transB layouts,
 * alpha/beta and C shapes, tails of every size; run twice, bitwise equal. */
static void run_gemm(int fast, int tb, int ci, float alpha, float beta, int64_t M, int64_t N, int64_t K, float **out,
                     int64_t *sizes)
{
    foilOpsFastPaths = fast;
    const cshape *cs = &cshapes[ci];
    int has_c = cs->nd >= 0;
    op_case *oc = opc_new("Gemm", has_c ? 3 : 2, 1);
    if (tb) opc_attr_int(oc, "transB", 1);
    opc_attr_float(oc, "alpha", alpha);
    opc_attr_float(oc, "beta", beta);
    const int64_t as[2] = {M, K}, bs[2] = {tb ? N : K, tb ? K : N};
    opc_input_randn(oc, 0, 2, as, 1.0f, 31);
    opc_input_randn(oc, 1, 2, bs, 1.0f, 32);
    if (has_c) {
        int64_t c_s[2];
        for (int d = 0; d < cs->nd; d++) c_s[d] = cs->s[d] == -1 ? M : cs->s[d] == -2 ? N : cs->s[d];
        opc_input_randn(oc, 2, cs->nd, c_s, 1.0f, 33);
    }
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    foil_tensor *y = &oc->out[0];
    foil_tensor_alloc(&oc->d_out[0], FOIL_F32, 2, y->shape);
    for (int64_t j = 0; j < y->numel; j++) foil_f32(&oc->d_out[0])[j] = (float)((j * 7) % 11) * 0.25f - 1.0f;
    oc->pdout[0] = &oc->d_out[0];
    for (int i = 0; i < oc->n_in; i++) {
        foil_tensor_alloc(&oc->d_in[i], FOIL_F32, oc->in[i].ndim, oc->in[i].shape);
        for (int64_t j = 0; j < oc->d_in[i].numel; j++) foil_f32(&oc->d_in[i])[j] = 0.5f; /* accumulates onto this */
        oc->pdin[i] = &oc->d_in[i];
    }
    oc->node.op->backward(&oc->node.ctx);
    const foil_tensor *res[4] = {y, &oc->d_in[0], &oc->d_in[1], has_c ? &oc->d_in[2] : NULL};
    for (int r = 0; r < 4; r++) {
        sizes[r] = res[r] ? res[r]->numel : 0;
        out[r] = res[r] ? malloc((size_t)res[r]->numel * sizeof(float)) : NULL;
        if (res[r]) memcpy(out[r], res[r]->data, (size_t)res[r]->numel * sizeof(float));
    }
    opc_free(oc);
    foilOpsFastPaths = 1;
}

static void test_gemm_few_rows(void **state)
{
    (void)state;
    const int64_t shapes[][3] = {{1, 128, 3136}, {1, 10, 128}, {2, 37, 17}, {3, 130, 300}, {4, 5, 1}, {1, 1, 33},
                                 {4, 200, 65}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int tb = 0; tb < 2; tb++)
            for (int ci = 0; ci < NC; ci += 3) {
                int64_t M = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
                float alpha = ci ? 0.75f : 1.0f, beta = ci == 6 ? -0.5f : 1.0f;
                float *a[4], *b[4], *c[4];
                int64_t n[4];
                run_gemm(1, tb, ci, alpha, beta, M, N, K, a, n);
                run_gemm(0, tb, ci, alpha, beta, M, N, K, b, n);
                run_gemm(1, tb, ci, alpha, beta, M, N, K, c, n);
                for (int r = 0; r < 4; r++) {
                    if (!a[r]) continue;
                    double err = 0, mag = 1;
                    for (int64_t j = 0; j < n[r]; j++) {
                        err = fmax(err, fabs(a[r][j] - b[r][j]));
                        mag = fmax(mag, fabs(b[r][j]));
                    }
                    if (err > 1e-5 * mag * sqrt((double)K))
                        print_error("few rows %lldx%lldx%lld tb=%d C#%d result %d: err %g\n", (long long)M,
                                    (long long)N, (long long)K, tb, ci, r, err);
                    assert_true(err <= 1e-5 * mag * sqrt((double)K));
                    assert_memory_equal(a[r], c[r], (size_t)n[r] * sizeof(float));
                    free(a[r]), free(b[r]), free(c[r]);
                }
            }
    /* finite differences through the threaded few-row path (M N K >= 32768) */
    for (int tb = 0; tb < 2; tb++) {
        op_case *oc = opc_new("Gemm", 3, 1);
        if (tb) opc_attr_int(oc, "transB", 1);
        opc_input_randn(oc, 0, 2, (int64_t[]){1, 300}, 1.0f, 41);
        opc_input_randn(oc, 1, 2, tb ? (int64_t[]){130, 300} : (int64_t[]){300, 130}, 1.0f, 42);
        opc_input_randn(oc, 2, 1, (int64_t[]){130}, 1.0f, 43);
        double err = opc_gradcheck(oc, 0, 1e-2f, 0);
        if (err > 1e-2) print_error("few rows tb=%d: gradient error %g\n", tb, err);
        assert_true(err < 1e-2);
        opc_free(oc);
    }
}

/* Opset 6 models: pytorch-operator/test_operator_addmm and _mm, pytorch-converted/test_Linear. */
static void test_gemm_opset6(void **state)
{
    (void)state;
    const int64_t as[2] = {2, 3}, bs[2] = {3, 4}, c4[1] = {4}, c1[1] = {1}, c24[2] = {2, 4};
    /* broadcast=1 with C (N): addmm */
    op_case *oc = opc_new("Gemm", 3, 1);
    oc->node.opset = 6;
    opc_attr_int(oc, "broadcast", 1);
    opc_input_randn(oc, 0, 2, as, 1.0f, 1);
    opc_input_randn(oc, 1, 2, bs, 1.0f, 2);
    opc_input_randn(oc, 2, 1, c4, 1.0f, 3);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    assert_true(opc_gradcheck(oc, 2, 1e-2f, 0) < 1e-2);
    opc_free(oc);
    /* broadcast=1, C = [0] (1,), beta = 0: mm */
    oc = opc_new("Gemm", 3, 1);
    oc->node.opset = 6;
    opc_attr_int(oc, "broadcast", 1);
    opc_attr_float(oc, "beta", 0.0f);
    const float zero = 0.0f;
    opc_input_randn(oc, 0, 2, as, 1.0f, 1);
    opc_input_randn(oc, 1, 2, bs, 1.0f, 2);
    opc_input(oc, 2, FOIL_F32, 1, c1, &zero, 1);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    const float *a = foil_f32(&oc->in[0]), *b = foil_f32(&oc->in[1]), *y = foil_f32(&oc->out[0]);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            double s = 0;
            for (int k = 0; k < 3; k++) s += (double)a[i * 3 + k] * b[k * 4 + j];
            assert_float_equal(y[i * 4 + j], s, 1e-5);
        }
    opc_free(oc);
    /* no broadcast attribute: C must be (M, N) */
    oc = opc_new("Gemm", 3, 1);
    oc->node.opset = 6;
    opc_input_randn(oc, 0, 2, as, 1.0f, 1);
    opc_input_randn(oc, 1, 2, bs, 1.0f, 2);
    opc_input_randn(oc, 2, 1, c4, 1.0f, 3);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    opc_free(oc);
    oc = opc_new("Gemm", 3, 1);
    oc->node.opset = 6;
    opc_input_randn(oc, 0, 2, as, 1.0f, 1);
    opc_input_randn(oc, 1, 2, bs, 1.0f, 2);
    opc_input_randn(oc, 2, 2, c24, 1.0f, 3);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    opc_free(oc);
    /* C required before opset 11, optional after */
    for (int opset = 9; opset <= 11; opset++) {
        oc = opc_new("Gemm", 2, 1);
        oc->node.opset = opset;
        opc_input_randn(oc, 0, 2, as, 1.0f, 1);
        opc_input_randn(oc, 1, 2, bs, 1.0f, 2);
        assert_int_equal(opc_prepare(oc), opset < 11 ? FOIL_ERR_FORMAT : FOIL_OK);
        opc_free(oc);
    }
}

static void test_gemm_errors(void **state)
{
    (void)state;
    const int64_t a3[3] = {2, 3, 4}, a2[2] = {2, 3}, b2[2] = {4, 5}, b3[2] = {3, 5}, cbad[2] = {3, 5}, cbad1[1] = {4};
    op_case *oc = opc_new("Gemm", 2, 1);
    opc_input_randn(oc, 0, 3, a3, 1.0f, 1);
    opc_input_randn(oc, 1, 2, b2, 1.0f, 2);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    opc_free(oc);
    oc = opc_new("Gemm", 2, 1);
    opc_input_randn(oc, 0, 2, a2, 1.0f, 1);
    opc_input_randn(oc, 1, 2, b2, 1.0f, 2);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    assert_non_null(strstr(foil_last_error(), "inner dimensions"));
    opc_free(oc);
    oc = opc_new("Gemm", 3, 1);
    opc_input_randn(oc, 0, 2, a2, 1.0f, 1);
    opc_input_randn(oc, 1, 2, b3, 1.0f, 2);
    opc_input_randn(oc, 2, 2, cbad, 1.0f, 3);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    opc_free(oc);
    oc = opc_new("Gemm", 3, 1);
    opc_input_randn(oc, 0, 2, a2, 1.0f, 1);
    opc_input_randn(oc, 1, 2, b3, 1.0f, 2);
    opc_input_randn(oc, 2, 1, cbad1, 1.0f, 3);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    opc_free(oc);
    oc = opc_new("Gemm", 2, 1);
    opc_input(oc, 0, FOIL_I64, 2, a2, NULL, 0);
    opc_input(oc, 1, FOIL_I64, 2, b3, NULL, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_UNSUPPORTED);
    opc_free(oc);
    oc = opc_new("Gemm", 2, 1);
    opc_attr_int(oc, "transA", 2);
    opc_input_randn(oc, 0, 2, a2, 1.0f, 1);
    opc_input_randn(oc, 1, 2, b3, 1.0f, 2);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_FORMAT);
    opc_free(oc);
}

/* ------------------------------------------------------------------------- */
/* MatMul                                                                     */

typedef struct mmcase {
    int na;
    int64_t a[4];
    int nb;
    int64_t b[4];
    int no;
    int64_t o[4];
} mmcase;

static const mmcase mmcases[] = {
    {2, {3, 4}, 2, {4, 5}, 2, {3, 5}},                       /* test_matmul_2d */
    {3, {2, 3, 4}, 3, {2, 4, 3}, 3, {2, 3, 3}},              /* test_matmul_3d */
    {4, {1, 2, 3, 4}, 4, {1, 2, 4, 3}, 4, {1, 2, 3, 3}},     /* test_matmul_4d */
    {1, {4}, 2, {4, 5}, 1, {5}},                             /* 1-D A */
    {2, {3, 4}, 1, {4}, 1, {3}},                             /* 1-D B */
    {1, {4}, 1, {4}, 0, {0}},                                /* dot */
    {3, {2, 3, 4}, 2, {4, 5}, 3, {2, 3, 5}},                 /* shared B (folded) */
    {2, {3, 4}, 3, {2, 4, 5}, 3, {2, 3, 5}},                 /* shared A */
    {4, {2, 1, 3, 4}, 4, {1, 3, 4, 2}, 4, {2, 3, 3, 2}},     /* both broadcast */
    {3, {5, 3, 4}, 1, {4}, 2, {5, 3}},                       /* batched, 1-D B */
    {1, {4}, 3, {2, 4, 5}, 2, {2, 5}},                       /* 1-D A, batched B */
    {3, {1, 3, 4}, 3, {3, 4, 2}, 3, {3, 3, 2}},              /* size-1 batch of A */
};
#define NMM (int)(sizeof mmcases / sizeof mmcases[0])

static int64_t prod(int n, const int64_t *s)
{
    int64_t p = 1;
    for (int i = 0; i < n; i++) p *= s[i];
    return p;
}

static void test_matmul(void **state)
{
    (void)state;
    for (int t = 0; t < NMM; t++) {
        const mmcase *C = &mmcases[t];
        op_case *oc = opc_new("MatMul", 2, 1);
        opc_input_randn(oc, 0, C->na, C->a, 1.0f, 10 + (uint64_t)t);
        opc_input_randn(oc, 1, C->nb, C->b, 1.0f, 20 + (uint64_t)t);
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(oc->out[0].ndim, C->no);
        for (int d = 0; d < C->no; d++) assert_int_equal(oc->out[0].shape[d], C->o[d]);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        /* Naive: promote, broadcast batch dims, multiply. */
        int64_t M = C->na == 1 ? 1 : C->a[C->na - 2], K = C->a[C->na - 1], N = C->nb == 1 ? 1 : C->b[C->nb - 1];
        int ba = C->na > 2 ? C->na - 2 : 0, bb = C->nb > 2 ? C->nb - 2 : 0, nbt = ba > bb ? ba : bb;
        int64_t bshape[4];
        for (int i = 0; i < nbt; i++) {
            int ia = i - (nbt - ba), ib = i - (nbt - bb);
            int64_t da = ia >= 0 ? C->a[ia] : 1, db = ib >= 0 ? C->b[ib] : 1;
            bshape[i] = da > db ? da : db;
        }
        const float *a = foil_f32(&oc->in[0]), *b = foil_f32(&oc->in[1]), *y = foil_f32(&oc->out[0]);
        int64_t nbatch = prod(nbt, bshape);
        for (int64_t t2 = 0; t2 < nbatch; t2++) {
            int64_t ai = 0, bi = 0, rem = t2, am = 1, bm = 1;
            for (int d = nbt - 1; d >= 0; d--) {
                int64_t cix = rem % bshape[d];
                rem /= bshape[d];
                int ia = d - (nbt - ba), ib = d - (nbt - bb);
                if (ia >= 0) { ai += (C->a[ia] == 1 ? 0 : cix) * am; am *= C->a[ia]; }
                if (ib >= 0) { bi += (C->b[ib] == 1 ? 0 : cix) * bm; bm *= C->b[ib]; }
            }
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++) {
                    double s = 0;
                    for (int64_t k = 0; k < K; k++) s += (double)a[ai * M * K + i * K + k] * b[bi * K * N + k * N + j];
                    assert_float_equal(y[t2 * M * N + i * N + j], s, 1e-4 * (1 + fabs(s)));
                }
        }
        for (int k = 0; k < 2; k++) {
            double err = opc_gradcheck(oc, k, 1e-2f, 0);
            if (err > 1e-2) print_error("matmul case %d input %d: err %g\n", t, k, err);
            assert_true(err < 1e-2);
        }
        opc_free(oc);
    }
}

static void test_matmul_errors(void **state)
{
    (void)state;
    const int64_t a[2] = {3, 4}, b[2] = {5, 6}, a3[3] = {2, 3, 4}, b3[3] = {3, 4, 5};
    op_case *oc = opc_new("MatMul", 2, 1);
    opc_input_randn(oc, 0, 2, a, 1.0f, 1);
    opc_input_randn(oc, 1, 2, b, 1.0f, 2);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    opc_free(oc);
    oc = opc_new("MatMul", 2, 1);
    opc_input_randn(oc, 0, 3, a3, 1.0f, 1);
    opc_input_randn(oc, 1, 3, b3, 1.0f, 2);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    assert_non_null(strstr(foil_last_error(), "batch"));
    opc_free(oc);
    oc = opc_new("MatMul", 2, 1);
    const float one = 1.0f;
    opc_input(oc, 0, FOIL_F32, 0, NULL, &one, 0);
    opc_input_randn(oc, 1, 2, b, 1.0f, 2);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    opc_free(oc);
    oc = opc_new("MatMul", 2, 1);
    opc_input(oc, 0, FOIL_I32, 2, a, NULL, 0);
    opc_input(oc, 1, FOIL_I32, 2, a, NULL, 0);
    assert_int_equal(opc_prepare(oc), FOIL_ERR_UNSUPPORTED);
    opc_free(oc);
}

int main(void)
{
    opc_skip_unless_kernels_run();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm),
        cmocka_unit_test(test_gemm_few_rows),
        cmocka_unit_test(test_gemm_opset6),
        cmocka_unit_test(test_gemm_errors),
        cmocka_unit_test(test_matmul),
        cmocka_unit_test(test_matmul_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
