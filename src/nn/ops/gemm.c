/*
 * nn/ops/gemm.c - Gemm and MatMul, on OpenBLAS cblas_sgemm (few-row Gemm on
 * the kernels of kernels.h).
 *
 * Gemm:   Y (M,N) = alpha * op(A) op(B) + beta * C
 *         op(A) = A (M,K), or A^T when transA (A stored (K,M));
 *         op(B) = B (K,N), or B^T when transB (B stored (N,K)).
 *         C is broadcast one-way to (M,N): scalar, (N), (1,N), (M,1), (M,N)...
 *         Opset 6: C is required and broadcast only with attribute
 *         broadcast=1 (else it must be (M,N)); opsets 7-10: C required;
 *         opset >= 11: C optional.
 * MatMul: numpy matmul. A (..., M, K) @ B (..., K, N) -> (..., M, N) with the
 *         leading (batch) dims broadcast; a 1-D A is (1,K) with M dropped from
 *         the result, a 1-D B is (K,1) with N dropped.
 *
 * float32 only (the engine computes in float32). Row-major throughout.
 * Gradients are accumulated by sgemm with beta = 1, which also sums over a
 * broadcast batch for free.
 *
 * Gemm with few rows (an attack on one image: M = 1 makes it a matrix-vector
 * product) skips sgemm, whose packing of B costs more than the product, for
 * the kernels of kernels.h, which read B once: op(B) rows split over the
 * threads, and the input gradient split the same way, so each thread reads
 * the same part of B in both passes (whatever of it its core's caches keep).
 */
#include <cblas.h>
#include <limits.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "nn/op.h"
#include "nn/ops/broadcast.h"
#include "nn/ops/im2col.h"
#include "nn/ops/kernels.h"

/* Gemm with at most this many rows (M, untransposed A) takes the few-row
 * kernels; with M * N * K at least GEMV_PAR_WORK they run on all threads. */
#define GEMV_MAX_M 4
#define GEMV_PAR_WORK 32768

/* ------------------------------------------------------------------------- */
/* Gemm                                                                       */

typedef struct gemm_state {
    float alpha, beta;
    int trans_a, trans_b;
    int c_required;   /* opset < 11 */
    int c_exact;      /* opset 6 without broadcast=1: C must be (M,N) */
    /* resolved by infer for the current plan */
    int small;        /* few-row kernels instead of sgemm */
    int nthr;         /* threads for them (1: serial) */
} gemm_state;

static foil_status gemm_init(FoilNode *n)
{
    gemm_state *st = calloc(1, sizeof *st);
    if (!st) return foilNodeInitError(n, FOIL_ERR_NOMEM, "out of memory");
    st->alpha = foilAttrFloat(n, "alpha", 1.0f);
    st->beta = foilAttrFloat(n, "beta", 1.0f);
    int64_t ta = foilAttrInt(n, "transA", 0), tb = foilAttrInt(n, "transB", 0);
    if ((ta != 0 && ta != 1) || (tb != 0 && tb != 1)) {
        free(st);
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "transA/transB must be 0 or 1 (got %lld, %lld)",
                                    (long long)ta, (long long)tb);
    }
    st->trans_a = (int)ta;
    st->trans_b = (int)tb;
    st->c_required = n->opset < 11;
    st->c_exact = n->opset < 7 && foilAttrInt(n, "broadcast", 0) == 0;
    n->state = st;
    return FOIL_OK;
}

/* M, N, K from the stored shapes of A and B. */
static void gemm_dims(const gemm_state *st, const foil_tensor *a, const foil_tensor *b, int64_t *m, int64_t *n,
                      int64_t *k)
{
    *m = st->trans_a ? a->shape[1] : a->shape[0];
    *k = st->trans_a ? a->shape[0] : a->shape[1];
    *n = st->trans_b ? b->shape[0] : b->shape[1];
}

static const foil_tensor *gemm_c(const FoilOpCtx *c) { return c->n_in > 2 ? c->in[2] : NULL; }

static foil_status gemm_infer(FoilOpCtx *c)
{
    const gemm_state *st = c->state;
    if (c->n_in < 2 || !c->in[0] || !c->in[1]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs inputs A and B");
    if (c->n_in > 3) return foilNodeError(c, FOIL_ERR_FORMAT, "takes at most 3 inputs, got %d", c->n_in);
    if (c->n_out < 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs an output");
    const foil_tensor *a = c->in[0], *b = c->in[1], *cc = gemm_c(c);
    char s1[96], s2[96];
    if (!cc && st->c_required) return foilNodeError(c, FOIL_ERR_FORMAT, "input C is required before opset 11");
    if (a->dtype != FOIL_F32 || b->dtype != FOIL_F32 || (cc && cc->dtype != FOIL_F32))
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "only float32 is supported (A is %s, B is %s)",
                               foil_dtype_name(a->dtype), foil_dtype_name(b->dtype));
    if (a->ndim != 2 || b->ndim != 2)
        return foilNodeError(c, FOIL_ERR_SHAPE, "A and B must be 2-D, got %s and %s", foil_shape_str(a, s1, sizeof s1),
                               foil_shape_str(b, s2, sizeof s2));
    int64_t m, n, k;
    gemm_dims(st, a, b, &m, &n, &k);
    int64_t kb = st->trans_b ? b->shape[1] : b->shape[0];
    if (kb != k)
        return foilNodeError(c, FOIL_ERR_SHAPE, "inner dimensions differ: A %s%s, B %s%s", foil_shape_str(a, s1, sizeof s1),
                               st->trans_a ? " (transposed)" : "", foil_shape_str(b, s2, sizeof s2),
                               st->trans_b ? " (transposed)" : "");
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "dimensions too large for BLAS (%lld, %lld, %lld)",
                               (long long)m, (long long)n, (long long)k);
    const int64_t ys[2] = {m, n};
    if (cc) {
        int ok = cc->ndim <= 2 && foilBcastTo(cc->ndim, cc->shape, 2, ys);
        if (st->c_exact) ok = cc->ndim == 2 && cc->shape[0] == m && cc->shape[1] == n;
        if (!ok)
            return foilNodeError(c, FOIL_ERR_SHAPE, "C %s cannot be broadcast to (%lld, %lld)%s",
                                   foil_shape_str(cc, s1, sizeof s1), (long long)m, (long long)n,
                                   st->c_exact ? " (opset < 7 without broadcast=1)" : "");
    }
    if (foil_tensor_set_shape(c->out[0], FOIL_F32, 2, ys))
        return foilNodeError(c, FOIL_ERR_SHAPE, "%s", foil_last_error());
    gemm_state *sm = c->state;
    sm->small = foilOpsFastPaths && !st->trans_a && m <= GEMV_MAX_M && m > 0 && n > 0 && k > 0;
    sm->nthr = 1;
    if (sm->small && (double)m * (double)n * (double)k >= GEMV_PAR_WORK) {
        sm->nthr = omp_get_max_threads();
        if (sm->nthr < 1) sm->nthr = 1;
        if (sm->nthr > n) sm->nthr = (int)n;
    }
    /* the input gradient's per-thread partial sums (M x K each) */
    c->work_bytes = sm->small ? (size_t)sm->nthr * (size_t)(m * k) * sizeof(float) : 0;
    return FOIL_OK;
}

/* C's (row, column) strides when read as an (M,N) matrix: 0 where broadcast. */
static void gemm_c_strides(const foil_tensor *cc, int64_t m, int64_t n, int64_t *rs, int64_t *cs)
{
    int64_t cm = cc->ndim == 2 ? cc->shape[0] : 1;
    int64_t cn = cc->ndim >= 1 ? cc->shape[cc->ndim - 1] : 1;
    *cs = (cn == n && n > 1) ? 1 : 0;
    *rs = (cm == m && m > 1) ? cn : 0;
}

static int ld(int64_t x) { return x > 1 ? (int)x : 1; }

/*
 * Few rows: columns [n0, n1) of Y = alpha * A op(B) + beta * C, by one thread.
 * op(B) = B^T (B stored (N,K)): each Y element is a dot product of rows;
 * op(B) = B: Y rows are sums of B's rows scaled by A's elements.
 */
static void gemm_small_cols(const gemm_state *st, const float *a, const float *b, const foil_tensor *cc, int64_t m,
                            int64_t n, int64_t k, int64_t n0, int64_t n1, float *y)
{
    if (st->trans_b) foilGemvDot(m, n0, n1, k, a, k, b, k, y, n);
    else foilGemvAxpy(m, n0, n1, 0, k, a, k, b, n, y, n, NULL, 0);
    int64_t rs = 0, cs = 0;
    const float *cv = NULL;
    if (cc && st->beta != 0.0f) {
        gemm_c_strides(cc, m, n, &rs, &cs);
        cv = foil_f32(cc);
    }
    for (int64_t i = 0; i < m; i++) {
        float *yr = y + i * n;
        if (cv)
            for (int64_t j = n0; j < n1; j++) yr[j] = st->alpha * yr[j] + st->beta * cv[i * rs + j * cs];
        else if (st->alpha != 1.0f)
            for (int64_t j = n0; j < n1; j++) yr[j] *= st->alpha;
    }
}

static foil_status gemm_product(FoilOpCtx *c)
{
    const gemm_state *st = c->state;
    const foil_tensor *a = c->in[0], *b = c->in[1], *cc = gemm_c(c);
    int64_t m, n, k;
    gemm_dims(st, a, b, &m, &n, &k);
    float *y = foil_f32(c->out[0]);
    if (m == 0 || n == 0) return FOIL_OK;
    if (st->small) {
        const float *av = foil_f32(a), *bv = foil_f32(b);
        if (st->nthr == 1) {
            gemm_small_cols(st, av, bv, cc, m, n, k, 0, n, y);
            return FOIL_OK;
        }
#pragma omp parallel num_threads(st->nthr)
        {
            int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
            gemm_small_cols(st, av, bv, cc, m, n, k, n * t / nt, n * (t + 1) / nt, y);
        }
        return FOIL_OK;
    }
    float beta = 0.0f;
    if (cc && st->beta != 0.0f) {
        /* Y = beta * C (broadcast), then sgemm accumulates alpha A B onto it. */
        int64_t rs, cs;
        gemm_c_strides(cc, m, n, &rs, &cs);
        const float *cv = foil_f32(cc);
        for (int64_t i = 0; i < m; i++) {
            float *yr = y + i * n;
            const float *cr = cv + i * rs;
            if (cs)
                for (int64_t j = 0; j < n; j++) yr[j] = st->beta * cr[j];
            else
                for (int64_t j = 0; j < n; j++) yr[j] = st->beta * cr[0];
        }
        beta = 1.0f;
    }
    if (k == 0) {
        if (beta == 0.0f) memset(y, 0, (size_t)(m * n) * sizeof(float));
        return FOIL_OK;
    }
    cblas_sgemm(CblasRowMajor, st->trans_a ? CblasTrans : CblasNoTrans, st->trans_b ? CblasTrans : CblasNoTrans,
                (int)m, (int)n, (int)k, st->alpha, foil_f32(a), ld(a->shape[1]), foil_f32(b), ld(b->shape[1]), beta,
                y, ld(n));
    return FOIL_OK;
}

static foil_status gemm_forward(FoilOpCtx *c)
{
    foil_status st = gemm_product(c);
    if (!st && c->relu_out) foilReluInplace(foil_f32(c->out[0]), c->out[0]->numel);
    return st;
}

/*
 * Few rows: dA (M,K) += alpha dY op(B)^T (see below), on st->nthr threads.
 * op(B) = B^T (B stored (N,K)): dA = alpha dY B, a sum over B's rows; thread
 * t takes the rows [N t / T, N (t+1) / T) it read in the forward pass, into
 * its own partial (M x K), and the partials are added in thread order.
 * op(B) = B (stored (K,N)): dA[m, j] = alpha <dY[m], B[j]>, dot products
 * split over j.
 */
static void gemm_small_da(const gemm_state *st, FoilOpCtx *c, int64_t m, int64_t n, int64_t k, const float *dy,
                          const float *b, float *da)
{
    float *parts = c->work;
    const int fresh = foilGradFresh(c, 0);
    const size_t mk = (size_t)(m * k);
    const float alpha = st->alpha;
#pragma omp parallel num_threads(st->nthr) if (st->nthr > 1)
    {
        int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t k0 = k * t / nt, k1 = k * (t + 1) / nt;
        if (st->trans_b) {
            foilGemvAxpy(m, 0, k, n * t / nt, n * (t + 1) / nt, dy, n, b, k, parts + (size_t)t * mk, k, NULL, 0);
#pragma omp barrier
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = k0; j < k1; j++) {
                    float s = 0.0f;
                    for (int64_t u = 0; u < nt; u++) s += parts[(size_t)u * mk + (size_t)(i * k + j)];
                    da[i * k + j] = fresh ? alpha * s : da[i * k + j] + alpha * s;
                }
        } else {
            foilGemvDot(m, k0, k1, n, dy, n, b, n, parts, k);
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = k0; j < k1; j++)
                    da[i * k + j] = fresh ? alpha * parts[i * k + j] : da[i * k + j] + alpha * parts[i * k + j];
        }
    }
}

/*
 * In the forward pass this was: Y = alpha * op(A) op(B) + beta * C, so
 *   d op(A) = alpha * dY op(B)^T   (M,K)
 *   d op(B) = alpha * op(A)^T dY   (K,N)
 *   dC      = beta * dY, summed over the dims where C was broadcast.
 * With A stored transposed, dA = (d op(A))^T = alpha * op(B) dY^T (K,M); with
 * B stored transposed, dB = alpha * dY^T op(A) (N,K). Each is one sgemm with
 * beta = 1 (accumulate).
 */
static void gemm_backward(FoilOpCtx *c)
{
    const gemm_state *st = c->state;
    const foil_tensor *a = c->in[0], *b = c->in[1], *cc = gemm_c(c);
    if (!c->d_out[0]) return;
    int64_t m, n, k;
    gemm_dims(st, a, b, &m, &n, &k);
    /* sgemm with beta 0 writes C without reading it (BLAS semantics), so a
     * fresh dA or dB is simply a product with beta 0 */
    const float beta_a = foilGradFresh(c, 0) ? 0.0f : 1.0f, beta_b = foilGradFresh(c, 1) ? 0.0f : 1.0f;
    foilGradClearFresh(c, 2);
    if (m == 0 || n == 0) {
        foilGradClearFresh(c, 0);
        foilGradClearFresh(c, 1);
        return;
    }
    const float *dy = foil_f32(c->d_out[0]), *av = foil_f32(a), *bv = foil_f32(b);
    const int lda = ld(a->shape[1]), ldb = ld(b->shape[1]);
    if (st->small && c->d_in[0]) {
        gemm_small_da(st, c, m, n, k, dy, bv, foil_f32(c->d_in[0]));
    } else if (k > 0 && c->d_in[0]) {
        float *da = foil_f32(c->d_in[0]);
        if (!st->trans_a) /* dA (M,K) += alpha dY (M,N) . op(B)^T (N,K) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, st->trans_b ? CblasNoTrans : CblasTrans, (int)m, (int)k, (int)n,
                        st->alpha, dy, ld(n), bv, ldb, beta_a, da, ld(k));
        else /* dA (K,M) += alpha op(B) (K,N) . dY^T (N,M) */
            cblas_sgemm(CblasRowMajor, st->trans_b ? CblasTrans : CblasNoTrans, CblasTrans, (int)k, (int)m, (int)n,
                        st->alpha, bv, ldb, dy, ld(n), beta_a, da, ld(m));
    }
    if (k > 0 && c->d_in[1]) {
        float *db = foil_f32(c->d_in[1]);
        if (!st->trans_b) /* dB (K,N) += alpha op(A)^T (K,M) . dY (M,N) */
            cblas_sgemm(CblasRowMajor, st->trans_a ? CblasNoTrans : CblasTrans, CblasNoTrans, (int)k, (int)n, (int)m,
                        st->alpha, av, lda, dy, ld(n), beta_b, db, ld(n));
        else /* dB (N,K) += alpha dY^T (N,M) . op(A) (M,K) */
            cblas_sgemm(CblasRowMajor, CblasTrans, st->trans_a ? CblasTrans : CblasNoTrans, (int)n, (int)k, (int)m,
                        st->alpha, dy, ld(n), av, lda, beta_b, db, ld(k));
    }
    if (cc && c->n_in > 2 && c->d_in[2]) {
        int64_t rs, cs;
        gemm_c_strides(cc, m, n, &rs, &cs);
        float *dc = foil_f32(c->d_in[2]);
        const float beta = st->beta;
        for (int64_t i = 0; i < m; i++) {
            const float *g = dy + i * n;
            float *dr = dc + i * rs;
            if (cs) {
                for (int64_t j = 0; j < n; j++) dr[j] += beta * g[j];
            } else {
                float s = 0;
                for (int64_t j = 0; j < n; j++) s += g[j];
                dr[0] += beta * s;
            }
        }
    }
}

/* Sum of squares of n floats, in double (a norm that DP-SGD clips by). */
static double sum_squares(const float *x, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

/*
 * DP-SGD's per-example norms (op.h, example_norms). Example n is row n of
 * A (not transposed) and of Y. Its share of d op(B) is alpha A[n]^T dY[n],
 * an outer product, whose squared norm is alpha^2 ||A[n]||^2 ||dY[n]||^2
 * (Goodfellow 2015); its share of dC is beta dY[n], summed where C is
 * broadcast along the row (a scalar C). So the pass costs O(M (N + K)),
 * where the weight gradient's sgemm costs O(M N K).
 */
static foil_status gemm_example_norms(FoilOpCtx *c, uint32_t weights, int64_t examples, float *sq,
                                      float *const *scratch)
{
    (void)scratch;
    const gemm_state *st = c->state;
    const foil_tensor *a = c->in[0], *b = c->in[1], *cc = gemm_c(c);
    int64_t m, n, k;
    gemm_dims(st, a, b, &m, &n, &k);
    if ((weights & 1u) || st->trans_a || m != examples)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "per-example gradients need the %lld examples as the rows of "
                             "A (here %lld rows%s) and the weights in B and C", (long long)examples, (long long)m,
                             st->trans_a ? ", transposed" : (weights & 1u) ? ", and A is a weight" : "");
    if (c->d_in[1] || (cc && c->d_in[2]))
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "per-example gradients need B and C to be weights, not values "
                             "the graph computes");
    if (!sq) return FOIL_OK;
    gemm_backward(c); /* dA only: the weights' d_in are NULL */
    const float *dy = foil_f32(c->d_out[0]), *av = foil_f32(a);
    int64_t rs = 0, cs = 1;
    if (cc) gemm_c_strides(cc, m, n, &rs, &cs);
    const double alpha2 = (double)st->alpha * st->alpha, beta2 = (double)st->beta * st->beta;
#pragma omp parallel for schedule(static) if (m * (n + k) >= GEMV_PAR_WORK)
    for (int64_t i = 0; i < m; i++) {
        const float *g = dy + i * n;
        double add = 0;
        if (weights & 2u) add += alpha2 * sum_squares(g, n) * sum_squares(av + i * k, k);
        if ((weights & 4u) && cs) add += beta2 * sum_squares(g, n);
        if ((weights & 4u) && !cs) {
            double s = 0;
            for (int64_t j = 0; j < n; j++) s += g[j];
            add += beta2 * s * s;
        }
        sq[i] += (float)add;
    }
    return FOIL_OK;
}

const FoilOp foilOpGemm = {
    .type = "Gemm",
    .grad_inputs = 0x7,
    .init = gemm_init,
    .infer = gemm_infer,
    .forward = gemm_forward,
    .backward = gemm_backward,
    .writes_grads = 0x7,
    .fuses_relu = 1,
    .plan_state_bytes = sizeof(gemm_state),
    .example_norms = gemm_example_norms,
};

/* ------------------------------------------------------------------------- */
/* MatMul                                                                     */

/* The matmul view of one call, from the input shapes. */
typedef struct mm_shape {
    int64_t m, k, n;
    int nbatch;                       /* rank of the broadcast batch shape */
    int64_t batch[FOIL_MAX_DIMS];     /* broadcast batch shape */
    int64_t sa[FOIL_MAX_DIMS];        /* A's matrix stride (in matrices) per batch dim, 0 = broadcast */
    int64_t sb[FOIL_MAX_DIMS];
    int64_t nb;                       /* product of batch */
    int64_t na_mats, nb_mats;         /* matrices stored in A and in B */
    int out_ndim;
    int64_t out[FOIL_MAX_DIMS];
} mm_shape;

/* Returns 0, or -1 with a message in why. */
static int mm_plan(const foil_tensor *a, const foil_tensor *b, mm_shape *p, const char **why)
{
    memset(p, 0, sizeof *p);
    if (a->ndim < 1 || b->ndim < 1) {
        *why = "MatMul inputs must have rank >= 1";
        return -1;
    }
    int ra = a->ndim, rb = b->ndim;
    p->m = ra == 1 ? 1 : a->shape[ra - 2];
    p->k = a->shape[ra - 1];
    int64_t kb = rb == 1 ? b->shape[0] : b->shape[rb - 2];
    p->n = rb == 1 ? 1 : b->shape[rb - 1];
    if (kb != p->k) {
        *why = "inner dimensions differ";
        return -1;
    }
    int ba = ra > 2 ? ra - 2 : 0, bb = rb > 2 ? rb - 2 : 0;
    int bad;
    if (foilBcastShape(ba, a->shape, bb, b->shape, &p->nbatch, p->batch, &bad)) {
        *why = "batch dimensions cannot be broadcast together";
        return -1;
    }
    if (p->nbatch + 2 > FOIL_MAX_DIMS) {
        *why = "too many dimensions";
        return -1;
    }
    if (p->m > INT_MAX || p->n > INT_MAX || p->k > INT_MAX) {
        *why = "dimensions too large for BLAS";
        return -1;
    }
    p->nb = 1;
    for (int i = 0; i < p->nbatch; i++) p->nb *= p->batch[i];
    /* Matrix strides of each operand along the broadcast batch dims. */
    int64_t s_a = 1, s_b = 1;
    for (int i = p->nbatch - 1; i >= 0; i--) {
        int ia = i - (p->nbatch - ba), ib = i - (p->nbatch - bb);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        p->sa[i] = (da == p->batch[i] && da != 1) ? s_a : 0;
        p->sb[i] = (db == p->batch[i] && db != 1) ? s_b : 0;
        s_a *= da;
        s_b *= db;
    }
    p->na_mats = s_a;
    p->nb_mats = s_b;
    int r = 0;
    for (int i = 0; i < p->nbatch; i++) p->out[r++] = p->batch[i];
    if (ra > 1) p->out[r++] = p->m;
    if (rb > 1) p->out[r++] = p->n;
    p->out_ndim = r;
    return 0;
}

/* Matrix index of A (or B) for output batch index t. */
static int64_t mm_index(const mm_shape *p, const int64_t *s, int64_t t)
{
    int64_t off = 0;
    for (int d = p->nbatch - 1; d >= 0 && t > 0; d--) {
        int64_t q = t / p->batch[d];
        off += (t - q * p->batch[d]) * s[d];
        t = q;
    }
    return off;
}

static foil_status matmul_infer(FoilOpCtx *c)
{
    if (c->n_in != 2 || !c->in[0] || !c->in[1]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs 2 inputs");
    if (c->n_out < 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs an output");
    const foil_tensor *a = c->in[0], *b = c->in[1];
    if (a->dtype != FOIL_F32 || b->dtype != FOIL_F32)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "only float32 is supported (got %s and %s)",
                               foil_dtype_name(a->dtype), foil_dtype_name(b->dtype));
    mm_shape p;
    const char *why = NULL;
    char s1[96], s2[96];
    if (mm_plan(a, b, &p, &why))
        return foilNodeError(c, FOIL_ERR_SHAPE, "cannot multiply %s by %s: %s", foil_shape_str(a, s1, sizeof s1),
                               foil_shape_str(b, s2, sizeof s2), why);
    if (foil_tensor_set_shape(c->out[0], FOIL_F32, p.out_ndim, p.out))
        return foilNodeError(c, FOIL_ERR_SHAPE, "%s", foil_last_error());
    c->work_bytes = 0;
    return FOIL_OK;
}

/* A's batch folds into M when B is one matrix shared by every batch and A is
 * not broadcast: then the whole product is a single (nb*M, K) x (K, N) sgemm. */
static int mm_fold(const mm_shape *p) { return p->nb_mats == 1 && p->na_mats == p->nb && p->nb * p->m <= INT_MAX; }

static foil_status matmul_forward(FoilOpCtx *c)
{
    mm_shape p;
    const char *why;
    if (mm_plan(c->in[0], c->in[1], &p, &why)) return foilNodeError(c, FOIL_ERR_SHAPE, "%s", why);
    const float *a = foil_f32(c->in[0]), *b = foil_f32(c->in[1]);
    float *y = foil_f32(c->out[0]);
    const int64_t m = p.m, k = p.k, n = p.n;
    if (p.nb == 0 || m == 0 || n == 0) return FOIL_OK;
    if (k == 0) {
        memset(y, 0, (size_t)(p.nb * m * n) * sizeof(float));
        return FOIL_OK;
    }
    if (mm_fold(&p)) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(p.nb * m), (int)n, (int)k, 1.0f, a, ld(k), b,
                    ld(n), 0.0f, y, ld(n));
        return FOIL_OK;
    }
    for (int64_t t = 0; t < p.nb; t++) {
        const float *at = a + mm_index(&p, p.sa, t) * m * k;
        const float *bt = b + mm_index(&p, p.sb, t) * k * n;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, at, ld(k), bt, ld(n),
                    0.0f, y + t * m * n, ld(n));
    }
    return FOIL_OK;
}

/*
 * In the forward pass this was, per batch t: Y_t (M,N) = A_t (M,K) B_t (K,N),
 * so dA_t += dY_t B_t^T and dB_t += A_t^T dY_t. Where A (or B) was broadcast
 * over the batch, several t map to the same stored matrix and sgemm's beta = 1
 * sums their contributions. 1-D operands need nothing special: a (K) vector
 * has the memory of a (1,K) or (K,1) matrix.
 */
static void matmul_backward(FoilOpCtx *c)
{
    if (!c->d_out[0] || (!c->d_in[0] && !c->d_in[1])) return;
    mm_shape p;
    const char *why;
    if (mm_plan(c->in[0], c->in[1], &p, &why)) return;
    const int64_t m = p.m, k = p.k, n = p.n;
    if (p.nb == 0 || m == 0 || n == 0 || k == 0) return;
    const float *a = foil_f32(c->in[0]), *b = foil_f32(c->in[1]), *dy = foil_f32(c->d_out[0]);
    float *da = c->d_in[0] ? foil_f32(c->d_in[0]) : NULL;
    float *db = c->d_in[1] ? foil_f32(c->d_in[1]) : NULL;
    if (mm_fold(&p)) {
        const int64_t rows = p.nb * m;
        if (da)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)k, (int)n, 1.0f, dy, ld(n), b, ld(n),
                        1.0f, da, ld(k));
        if (db)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)n, (int)rows, 1.0f, a, ld(k), dy, ld(n),
                        1.0f, db, ld(n));
        return;
    }
    for (int64_t t = 0; t < p.nb; t++) {
        const int64_t ia = mm_index(&p, p.sa, t) * m * k, ib = mm_index(&p, p.sb, t) * k * n;
        const float *g = dy + t * m * n;
        if (da)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)k, (int)n, 1.0f, g, ld(n), b + ib, ld(n),
                        1.0f, da + ia, ld(k));
        if (db)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)n, (int)m, 1.0f, a + ia, ld(k), g, ld(n),
                        1.0f, db + ib, ld(n));
    }
}

/*
 * DP-SGD's per-example norms (op.h, example_norms), for a weight B (K,N)
 * and A (E, ..., M, K) whose first axis holds the E examples: example e
 * owns R = rows / E consecutive rows of A folded to (rows, K), and its
 * share of dB is A_e^T dY_e (A_e: R x K, dY_e: R x N), whose squared norm
 * is sum over rows r, s of (a_r . a_s)(dy_r . dy_s): O(R^2 (K + N)) per
 * example, O(K + N) for the usual R = 1.
 */
static foil_status matmul_example_norms(FoilOpCtx *c, uint32_t weights, int64_t examples, float *sq,
                                        float *const *scratch)
{
    (void)scratch;
    const foil_tensor *a = c->in[0], *b = c->in[1];
    mm_shape p;
    const char *why = NULL;
    if (mm_plan(a, b, &p, &why)) return foilNodeError(c, FOIL_ERR_SHAPE, "%s", why);
    if (weights != 2u || b->ndim != 2 || a->ndim < 2 || a->shape[0] != examples || examples < 1)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "per-example gradients need the weight as the 2-D second "
                             "operand and the %lld examples along the first axis of the first", (long long)examples);
    if (!sq) return FOIL_OK;
    matmul_backward(c); /* dA only: dB's d_in is NULL */
    const int64_t k = p.k, n = p.n, r = p.nb * p.m / examples;
    const float *av = foil_f32(a), *dy = foil_f32(c->d_out[0]);
#pragma omp parallel for schedule(static) if (examples * r * r * (k + n) >= GEMV_PAR_WORK)
    for (int64_t e = 0; e < examples; e++) {
        const float *ae = av + e * r * k, *ge = dy + e * r * n;
        double s = 0;
        for (int64_t i = 0; i < r; i++)
            for (int64_t j = 0; j < r; j++) {
                double xa = 0, xg = 0;
                for (int64_t t = 0; t < k; t++) xa += (double)ae[i * k + t] * ae[j * k + t];
                for (int64_t t = 0; t < n; t++) xg += (double)ge[i * n + t] * ge[j * n + t];
                s += xa * xg;
            }
        sq[e] += (float)s;
    }
    return FOIL_OK;
}

const FoilOp foilOpMatMul = {
    .type = "MatMul",
    .grad_inputs = 0x3,
    .infer = matmul_infer,
    .forward = matmul_forward,
    .backward = matmul_backward,
    .example_norms = matmul_example_norms,
};
