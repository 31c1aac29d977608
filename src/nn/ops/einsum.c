/*
 * nn/ops/einsum.c - Einsum with one or two float32 (or float64, without
 * gradient) operands (op.h is the interface it implements).
 *
 * The equation names every axis of every operand with a label (a-z, A-Z;
 * "..." stands for the leading axes, right-aligned across operands as in
 * numpy); the output keeps the labels after "->" (or, without "->", every
 * label used once, in ASCII order, after the "..." axes), and every other
 * label is summed over:
 *   out[o] = sum over the summed labels s of  prod_i  in_i[labels of i]
 * A label repeated in one operand takes the diagonal ("ii->i").
 *
 * Two paths:
 *   - the matmul path, for two operands with no repeated label in either
 *     and every summed label in both (the forms transformers use:
 *     "bij,bjk->bik", "bhqd,bhkd->bhqk", "...ij,...jk->...ik", "i,i"):
 *     labels are classed batch (A, B, out), m (A, out), n (B, out), k (A, B);
 *     A is copied to (batch, m, k), B to (batch, k, n) in c->work, one
 *     OpenBLAS sgemm per batch gives (batch, m, n), copied to the output's
 *     label order. Backward: dA_p = dY_p B_p^T, dB_p = A_p^T dY_p, added
 *     back through the same copies;
 *   - the direct path for everything else with one or two operands (sums,
 *     transposes, diagonals, a label summed in one operand only): a loop
 *     over output elements and, inside, over the summed labels.
 * Three or more operands, and sizes that differ for one label (numpy would
 * broadcast a size-1 "..." axis), are refused with the equation in the
 * message.
 */
#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "nn/op.h"

#define PAR_MIN ((int64_t)1 << 15)
#define EQ_MAX 256       /* equation characters */
#define NL (2 * FOIL_MAX_DIMS) /* distinct labels of at most two operands */

typedef struct einsum_plan {
    int nops;                       /* 1 or 2 */
    int nl;                         /* distinct labels */
    int64_t size[NL];               /* extent of each label */
    int64_t stride[2][NL];          /* element stride of each operand along each label (0: absent;
                                     * a repeated label: the sum of its axes' strides) */
    int no, out[NL];                /* output labels, in output order */
    int64_t ostride[NL];            /* output stride of each label (0: summed) */
    int ns, sum[NL];                /* summed labels */
    int matmul;                     /* the matmul path applies */
    int nb, nm, nn, nk;             /* label classes, for the matmul path */
    int lb[NL], lm[NL], ln[NL], lk[NL];
    int64_t B, M, N, K;             /* products of their extents */
} einsum_plan;

static foil_status einsum_init(FoilNode *n)
{
    const FoilAttr *a = foilAttrGet(n, "equation");
    if (!a || a->type != FOIL_ATTR_STRING || !a->s)
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "attribute 'equation' (string) is required");
    if (strlen(a->s) >= EQ_MAX)
        return foilNodeInitError(n, FOIL_ERR_UNSUPPORTED, "equation is longer than %d characters", EQ_MAX - 1);
    if (!(n->state = calloc(1, sizeof(einsum_plan)))) return foilNodeInitError(n, FOIL_ERR_NOMEM, "out of memory");
    return FOIL_OK;
}

/* Raw label ids: a-z 0..25, A-Z 26..51, the j-th "..." axis (of E, counted
 * from the left of the widest "...") 52 + j. */
enum { RAW_ELL = 52, RAW_MAX = 52 + FOIL_MAX_DIMS };

static int letter_id(char ch)
{
    if (ch >= 'a' && ch <= 'z') return ch - 'a';
    if (ch >= 'A' && ch <= 'Z') return 26 + (ch - 'A');
    return -1;
}

/* Parse one term (no spaces) for an operand of rank `rank` (-1: the output,
 * whose "..." has E axes) into raw ids. Returns the count, or -1. */
static int parse_term(const char *t, size_t len, int rank, int E, int *ids, int *has_ell, const char **why)
{
    int letters = 0, ell = -1;
    for (size_t i = 0; i < len; i++) {
        if (t[i] == '.') {
            if (ell >= 0 || len - i < 3 || t[i + 1] != '.' || t[i + 2] != '.') {
                *why = "a '.' that is not part of one '...'";
                return -1;
            }
            ell = letters;
            i += 2;
        } else if (letter_id(t[i]) >= 0) {
            letters++;
        } else {
            *why = "a character other than a letter, '...', ',' or '->'";
            return -1;
        }
    }
    *has_ell = ell >= 0;
    int e = rank < 0 ? (ell >= 0 ? E : 0) : rank - letters;
    if (e < 0 || (ell < 0 && e != 0)) {
        *why = "the number of labels differs from the operand's rank";
        return -1;
    }
    if (e > FOIL_MAX_DIMS || letters + e > FOIL_MAX_DIMS) {
        *why = "too many axes";
        return -1;
    }
    int n = 0;
    for (size_t i = 0; i < len; i++) {
        if (t[i] == '.') {
            for (int j = 0; j < e; j++) ids[n++] = RAW_ELL + (E - e) + j;
            i += 2;
        } else {
            ids[n++] = letter_id(t[i]);
        }
    }
    return n;
}

/* Build the plan from the equation and the operands' shapes; NULL or a
 * message for what is wrong. */
static const char *einsum_make(const char *equation, int nops, const foil_tensor *const *x, einsum_plan *p)
{
    char eq[EQ_MAX];
    size_t len = 0;
    for (const char *s = equation; *s && len + 1 < sizeof eq; s++)
        if (*s != ' ') eq[len++] = *s;
    eq[len] = 0;
    memset(p, 0, sizeof *p);
    const char *arrow = strstr(eq, "->");
    size_t lhs_len = arrow ? (size_t)(arrow - eq) : len;
    /* operand terms */
    const char *term[3];
    size_t tlen[3];
    int nterms = 0;
    const char *start = eq;
    for (size_t i = 0; i <= lhs_len; i++)
        if (i == lhs_len || eq[i] == ',') {
            if (nterms == 3) return "more than two operands (only one or two are supported)";
            term[nterms] = start;
            tlen[nterms++] = (size_t)(eq + i - start);
            start = eq + i + 1;
        }
    if (nterms > 2) return "more than two operands (only one or two are supported)";
    if (nterms != nops) return "the number of terms differs from the number of inputs";
    int E = 0;
    for (int i = 0; i < nops; i++) {
        int letters = 0;
        for (size_t j = 0; j < tlen[i]; j++) letters += letter_id(term[i][j]) >= 0;
        if (x[i]->ndim - letters > E) E = x[i]->ndim - letters;
    }
    int ids[2][FOIL_MAX_DIMS], n[2], has_ell;
    const char *why = NULL;
    int64_t raw_size[RAW_MAX];
    int raw_count[RAW_MAX] = {0}, raw_in[RAW_MAX] = {0};
    for (int i = 0; i < RAW_MAX; i++) raw_size[i] = -1;
    for (int i = 0; i < nops; i++) {
        if ((n[i] = parse_term(term[i], tlen[i], x[i]->ndim, E, ids[i], &has_ell, &why)) < 0) return why;
        for (int d = 0; d < n[i]; d++) {
            int r = ids[i][d];
            if (raw_size[r] >= 0 && raw_size[r] != x[i]->shape[d])
                return "one label has different sizes (size-1 broadcasting is not supported)";
            raw_size[r] = x[i]->shape[d];
            raw_count[r]++;
            raw_in[r] |= 1 << i;
        }
    }
    /* output labels */
    int oids[FOIL_MAX_DIMS], no = 0;
    if (arrow) {
        if ((no = parse_term(arrow + 2, strlen(arrow + 2), -1, E, oids, &has_ell, &why)) < 0) return why;
        for (int d = 0; d < no; d++) {
            if (raw_size[oids[d]] < 0) return "an output label that no input has";
            for (int e = 0; e < d; e++)
                if (oids[e] == oids[d]) return "an output label repeated";
        }
    } else {
        for (int r = RAW_ELL; r < RAW_ELL + E; r++) oids[no++] = r;
        /* ASCII order: A-Z (26..51) before a-z (0..25) */
        for (int k = 0; k < 52; k++) {
            int r = k < 26 ? 26 + k : k - 26;
            if (raw_count[r] == 1) {
                if (no == FOIL_MAX_DIMS) return "too many output axes";
                oids[no++] = r;
            }
        }
    }
    /* compact label indices */
    int idx[RAW_MAX];
    for (int r = 0; r < RAW_MAX; r++) idx[r] = -1;
    for (int i = 0; i < nops; i++)
        for (int d = 0; d < n[i]; d++)
            if (idx[ids[i][d]] < 0) {
                idx[ids[i][d]] = p->nl;
                p->size[p->nl++] = raw_size[ids[i][d]];
            }
    p->nops = nops;
    for (int i = 0; i < nops; i++) {
        int64_t s = 1;
        for (int d = n[i] - 1; d >= 0; d--) {
            p->stride[i][idx[ids[i][d]]] += s;
            s *= x[i]->shape[d];
        }
    }
    int is_out[NL] = {0};
    p->no = no;
    for (int d = 0; d < no; d++) {
        p->out[d] = idx[oids[d]];
        is_out[p->out[d]] = 1;
    }
    int64_t s = 1;
    for (int d = no - 1; d >= 0; d--) {
        p->ostride[p->out[d]] = s;
        s *= p->size[p->out[d]];
    }
    for (int l = 0; l < p->nl; l++)
        if (!is_out[l]) p->sum[p->ns++] = l;
    /* the matmul path */
    int repeated = 0;
    for (int r = 0; r < RAW_MAX; r++) repeated |= raw_count[r] > (raw_in[r] == 3 ? 2 : 1);
    p->matmul = nops == 2 && !repeated;
    p->B = p->M = p->N = p->K = 1;
    for (int l = 0; p->matmul && l < p->nl; l++) {
        int in_a = 0, in_b = 0;
        for (int r = 0; r < RAW_MAX; r++)
            if (idx[r] == l) {
                in_a = raw_in[r] & 1;
                in_b = (raw_in[r] >> 1) & 1;
            }
        if (in_a && in_b && is_out[l]) p->lb[p->nb++] = l, p->B *= p->size[l];
        else if (in_a && !in_b && is_out[l]) p->lm[p->nm++] = l, p->M *= p->size[l];
        else if (!in_a && in_b && is_out[l]) p->ln[p->nn++] = l, p->N *= p->size[l];
        else if (in_a && in_b) p->lk[p->nk++] = l, p->K *= p->size[l];
        else p->matmul = 0; /* summed in one operand only */
    }
    if (p->matmul && (p->M > INT_MAX || p->N > INT_MAX || p->K > INT_MAX)) p->matmul = 0;
    return NULL;
}

/* ------------------------------------------------------------------------- */
/* strided copies between an operand and a contiguous buffer                 */

/* Between a contiguous buffer c (over dims d[0..nd)) and the elements of a
 * strided tensor t at offsets sum_j i_j * s[j]: c = t (add = 0), or t += c
 * (add = 1; the offsets must be distinct: no repeated label). */
static void strided_copy(int nd, const int64_t *d, const int64_t *s, float *t, float *c, int add)
{
    int64_t total = 1;
    for (int j = 0; j < nd; j++) total *= d[j];
    if (total == 0) return;
    int64_t inner = nd ? d[nd - 1] : 1, is = nd ? s[nd - 1] : 0, rows = total / inner;
#pragma omp parallel for if (total > PAR_MIN) schedule(static)
    for (int64_t row = 0; row < rows; row++) {
        int64_t off = 0, q = row;
        for (int j = nd - 2; j >= 0; j--) {
            off += (q % d[j]) * s[j];
            q /= d[j];
        }
        float *a = t + off, *b = c + row * inner;
        if (add)
            for (int64_t k = 0; k < inner; k++) a[k * is] += b[k];
        else
            for (int64_t k = 0; k < inner; k++) b[k] = a[k * is];
    }
}

/* Add to *ia, *ib the offsets in A and B of output element q (summed = 0),
 * or of combination q of the summed labels (summed = 1). */
static void label_offsets(const einsum_plan *p, int64_t q, int summed, int64_t *ia, int64_t *ib)
{
    const int n = summed ? p->ns : p->no;
    const int *ls = summed ? p->sum : p->out;
    for (int j = n - 1; j >= 0; j--) {
        int l = ls[j];
        int64_t v = q % p->size[l];
        q /= p->size[l];
        *ia += v * p->stride[0][l];
        *ib += v * p->stride[1][l];
    }
}

/* The dims and strides of operand i (0: A, 1: B, 2: the output) in the
 * order of label lists l1, l2, l3 (the matmul path's layouts). */
static int layout(const einsum_plan *p, int i, const int *l1, int n1, const int *l2, int n2, const int *l3, int n3,
                  int64_t *d, int64_t *s)
{
    const int *ls[3] = {l1, l2, l3};
    const int ns[3] = {n1, n2, n3};
    int nd = 0;
    for (int g = 0; g < 3; g++)
        for (int j = 0; j < ns[g]; j++) {
            int l = ls[g][j];
            d[nd] = p->size[l];
            s[nd++] = i == 2 ? p->ostride[l] : p->stride[i][l];
        }
    return nd;
}

/* Workspace floats of the matmul path: A_p, B_p, Y_p, and for backward the
 * permuted dA, dB. */
static void mm_parts(const einsum_plan *p, int64_t *na, int64_t *nb, int64_t *ny)
{
    *na = p->B * p->M * p->K;
    *nb = p->B * p->K * p->N;
    *ny = p->B * p->M * p->N;
}

static foil_status einsum_infer(FoilOpCtx *c)
{
    const char *eq = foilAttrString(c->node, "equation", "");
    if (c->n_in < 1 || c->n_in > 2)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "equation '%s': %d operands (only one or two are supported)", eq,
                               c->n_in);
    for (int i = 0; i < c->n_in; i++) {
        if (!c->in[i]) return foilNodeError(c, FOIL_ERR_FORMAT, "input %d is missing", i);
        if (c->in[i]->dtype != FOIL_F32 && c->in[i]->dtype != FOIL_F64)
            return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "equation '%s': input %d is %s (float32 or float64 supported)",
                                   eq, i, foil_dtype_name(c->in[i]->dtype));
        if (c->in[i]->dtype != c->in[0]->dtype)
            return foilNodeError(c, FOIL_ERR_FORMAT, "equation '%s': inputs of different types", eq);
    }
    if (c->n_out != 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "expects 1 output");
    einsum_plan *p = c->state;
    const char *why = einsum_make(eq, c->n_in, (const foil_tensor *const *)c->in, p);
    if (why) return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "equation '%s' is not supported: %s", eq, why);
    const foil_dtype dt = c->in[0]->dtype;
    if (dt == FOIL_F64) p->matmul = 0; /* float64 (no gradient) takes the direct path */
    int64_t shape[FOIL_MAX_DIMS];
    for (int d = 0; d < p->no; d++) shape[d] = p->size[p->out[d]];
    foil_status st = foil_tensor_set_shape(c->out[0], dt, p->no, shape);
    if (st) return foilNodeError(c, st, "output: %s", foil_last_error());
    c->work_bytes = 0;
    if (p->matmul) {
        int64_t na, nb, ny;
        mm_parts(p, &na, &nb, &ny);
        c->work_bytes = (size_t)(2 * (na + nb + ny)) * sizeof(float);
    }
    return FOIL_OK;
}

/* A leading dimension BLAS accepts (>= 1). */
static int ldm(int64_t x) { return x > 1 ? (int)x : 1; }

static foil_status einsum_forward(FoilOpCtx *c)
{
    const einsum_plan *p = c->state;
    const int f64 = c->in[0]->dtype == FOIL_F64;
    const float *a = c->in[0]->data, *b = p->nops == 2 ? c->in[1]->data : NULL;
    const double *a64 = c->in[0]->data, *b64 = p->nops == 2 ? c->in[1]->data : NULL;
    float *y = c->out[0]->data;
    const int64_t ny_out = c->out[0]->numel;
    if (ny_out == 0) return FOIL_OK;
    if (p->matmul) {
        int64_t na, nb, ny, d[FOIL_MAX_DIMS * 2], s[FOIL_MAX_DIMS * 2];
        mm_parts(p, &na, &nb, &ny);
        float *ap = c->work, *bp = ap + na, *yp = bp + nb;
        int nd = layout(p, 0, p->lb, p->nb, p->lm, p->nm, p->lk, p->nk, d, s);
        strided_copy(nd, d, s, (float *)a, ap, 0);
        nd = layout(p, 1, p->lb, p->nb, p->lk, p->nk, p->ln, p->nn, d, s);
        strided_copy(nd, d, s, (float *)b, bp, 0);
        const int M = (int)p->M, N = (int)p->N, K = (int)p->K;
        for (int64_t t = 0; t < p->B; t++) {
            if (K == 0) {
                memset(yp + t * p->M * p->N, 0, (size_t)(p->M * p->N) * sizeof(float));
                continue;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, ap + t * p->M * p->K, ldm(K),
                        bp + t * p->K * p->N, ldm(N), 0.0f, yp + t * p->M * p->N, ldm(N));
        }
        /* y in output order from Y_p (batch, m, n): gather y's dims from Y_p's strides */
        int64_t ys[NL] = {0}, st = 1;
        const int *grp[3] = {p->lb, p->lm, p->ln};
        const int gn[3] = {p->nb, p->nm, p->nn};
        for (int g = 2; g >= 0; g--)
            for (int j = gn[g] - 1; j >= 0; j--) {
                ys[grp[g][j]] = st;
                st *= p->size[grp[g][j]];
            }
        for (int j = 0; j < p->no; j++) {
            d[j] = p->size[p->out[j]];
            s[j] = ys[p->out[j]];
        }
        strided_copy(p->no, d, s, yp, y, 0);
        return FOIL_OK;
    }
    /* direct path */
    int64_t nsum = 1;
    for (int j = 0; j < p->ns; j++) nsum *= p->size[p->sum[j]];
#pragma omp parallel for if (ny_out * nsum > PAR_MIN) schedule(static)
    for (int64_t o = 0; o < ny_out; o++) {
        int64_t offa = 0, offb = 0;
        label_offsets(p, o, 0, &offa, &offb);
        double acc = 0.0;
        for (int64_t t = 0; t < nsum; t++) {
            int64_t ia = offa, ib = offb;
            label_offsets(p, t, 1, &ia, &ib);
            if (f64) acc += b64 ? a64[ia] * b64[ib] : a64[ia];
            else acc += b ? (double)a[ia] * b[ib] : (double)a[ia];
        }
        if (f64) ((double *)c->out[0]->data)[o] = acc;
        else y[o] = (float)acc;
    }
    return FOIL_OK;
}

/*
 * In the forward pass this was out[o] = sum_s A[o, s] (* B[o, s]), so
 *   dA[o, s] += dY[o] (* B[o, s]),  dB[o, s] += dY[o] * A[o, s].
 * The matmul path does it as two sgemms per batch on the permuted copies
 * (dA_p = dY_p B_p^T, dB_p = A_p^T dY_p; forward left A_p and B_p in the
 * workspace) and adds them back through the permutation. The direct path
 * loops as forward did, serially for two operands (different o may share an
 * element of A or B); with one operand each element of A belongs to one
 * (o, s), so output elements run in parallel.
 */
static void einsum_backward(FoilOpCtx *c)
{
    const einsum_plan *p = c->state;
    if (!c->d_out || !c->d_out[0] || !c->d_in || c->in[0]->dtype != FOIL_F32) return;
    float *da = c->d_in[0] ? foil_f32(c->d_in[0]) : NULL;
    float *db = p->nops == 2 && c->d_in[1] ? foil_f32(c->d_in[1]) : NULL;
    if (!da && !db) return;
    const float *a = foil_f32(c->in[0]), *b = p->nops == 2 ? foil_f32(c->in[1]) : NULL;
    const float *dy = foil_f32(c->d_out[0]);
    const int64_t ny_out = c->out[0]->numel;
    if (ny_out == 0) return;
    if (p->matmul) {
        int64_t na, nb, ny, d[FOIL_MAX_DIMS * 2], s[FOIL_MAX_DIMS * 2];
        mm_parts(p, &na, &nb, &ny);
        float *ap = c->work, *bp = ap + na, *yp = bp + nb, *dap = yp + ny, *dbp = dap + na;
        /* dY_p (batch, m, n) from dY */
        int nd = layout(p, 2, p->lb, p->nb, p->lm, p->nm, p->ln, p->nn, d, s);
        strided_copy(nd, d, s, (float *)dy, yp, 0);
        const int M = (int)p->M, N = (int)p->N, K = (int)p->K;
        if (K == 0) return;
        for (int64_t t = 0; t < p->B; t++) {
            const float *g = yp + t * p->M * p->N;
            if (da)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, K, N, 1.0f, g, ldm(N), bp + t * p->K * p->N,
                            ldm(N), 0.0f, dap + t * p->M * p->K, ldm(K));
            if (db)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, N, M, 1.0f, ap + t * p->M * p->K, ldm(K), g,
                            ldm(N), 0.0f, dbp + t * p->K * p->N, ldm(N));
        }
        if (da) {
            nd = layout(p, 0, p->lb, p->nb, p->lm, p->nm, p->lk, p->nk, d, s);
            strided_copy(nd, d, s, da, dap, 1);
        }
        if (db) {
            nd = layout(p, 1, p->lb, p->nb, p->lk, p->nk, p->ln, p->nn, d, s);
            strided_copy(nd, d, s, db, dbp, 1);
        }
        return;
    }
    int64_t nsum = 1;
    for (int j = 0; j < p->ns; j++) nsum *= p->size[p->sum[j]];
#pragma omp parallel for if (!b && ny_out * nsum > PAR_MIN) schedule(static)
    for (int64_t o = 0; o < ny_out; o++) {
        int64_t offa = 0, offb = 0;
        label_offsets(p, o, 0, &offa, &offb);
        const float g = dy[o];
        for (int64_t t = 0; t < nsum; t++) {
            int64_t ia = offa, ib = offb;
            label_offsets(p, t, 1, &ia, &ib);
            if (!b) {
                da[ia] += g;
                continue;
            }
            if (da) da[ia] += g * b[ib];
            if (db) db[ib] += g * a[ia];
        }
    }
}

const FoilOp foilOpEinsum = {
    .type = "Einsum", .grad_inputs = 3u,
    .init = einsum_init, .infer = einsum_infer, .forward = einsum_forward, .backward = einsum_backward,
    .plan_state_bytes = sizeof(einsum_plan),
};
