/*
 * nn/ops/reduce.c - ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceL2,
 * ReduceL1, ReduceSumSquare, ReduceLogSum, ReduceLogSumExp, ReduceProd,
 * GlobalMaxPool (ReduceMax over the axes after N and C, kept), and ArgMax,
 * ArgMin.
 *
 * Reductions. X (any shape, float32) is reduced over a set of axes:
 *   - ReduceSum from opset 13 and the others from opset 18 take the axes as
 *     an optional int64 input, which must be known when the model is planned
 *     (a constant or an initializer); an absent or empty one means every axis,
 *     or none when noop_with_empty_axes=1 (then Y = X, |X| for ReduceL2);
 *   - before that the axes are the attribute `axes` (absent: every axis).
 * keepdims (default 1) keeps reduced axes as 1s. L1, SumSquare, LogSum,
 * LogSumExp and Prod also take float64 (forward only, something reduced). Negative axes count from
 * the end; a repeated axis is an error.
 *   Sum  y = sum x          dx = dy
 *   Mean y = sum x / m      dx = dy / m          (m values per output)
 *   L2   y = sqrt(sum x^2)  dx = dy x / y        (0 where y = 0)
 *   Max, Min                dx = dy / t at the t elements equal to y
 *                           (ties share, as PyTorch's amax/amin)
 *   L1   y = sum |x|        dx = dy sign(x)
 *   SumSquare y = sum x^2  dx = 2 dy x
 *   LogSum    y = log sum x            dx = dy / exp(y)
 *   LogSumExp y = log sum exp x        dx = dy exp(x - y)
 *   Prod y = prod x         dx = dy * (product of the other factors)
 * An empty reduction gives 0 (Sum, L2, L1, SumSquare), NaN (Mean), -inf
 * (Max, LogSum, LogSumExp), +inf (Min), 1 (Prod). With nothing reduced
 * (noop_with_empty_axes) Y is X, |X| for L1 and L2, X^2 for SumSquare, log X
 * for LogSum.
 *
 * The iteration: input dimensions of extent 1 are dropped and neighbours
 * that are both kept or both reduced are merged, so the input is alternating
 * blocks. When the innermost block is reduced, each output sums contiguous
 * runs; when it is kept (extent L), rows of L outputs accumulate contiguous
 * rows of the input, which vectorizes. Either way each output belongs to one
 * thread, and so does each input element (it feeds one output).
 *
 * ArgMax, ArgMin: the index (int64) of the largest / smallest value along
 * `axis` (default 0), the first one, or the last with select_last_index=1;
 * keepdims as above. float32, int32, int64. No gradient (integer output).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/op.h"
#include "nn/ops/broadcast.h"

enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_L2, R_L1, R_SUMSQ, R_LOGSUM, R_LSE, R_PROD };

typedef struct red_state {
    int kind;
    int axes_input;      /* axes come from input 1 */
    int keepdims;
    int noop_empty;      /* noop_with_empty_axes */
    int global_pool;     /* GlobalMaxPool: every axis after N and C, kept */
    int n_axes;          /* attribute form: -1 = absent (all axes) */
    int64_t axes[FOIL_MAX_DIMS];
} red_state;

static foil_status red_init_kind(FoilNode *n, int kind)
{
    red_state *st = calloc(1, sizeof *st);
    if (!st) return foilNodeInitError(n, FOIL_ERR_NOMEM, "out of memory");
    st->kind = kind;
    st->axes_input = kind == R_SUM ? n->opset >= 13 : n->opset >= 18;
    st->keepdims = foilAttrInt(n, "keepdims", 1) != 0;
    st->noop_empty = foilAttrInt(n, "noop_with_empty_axes", 0) != 0;
    const int64_t *ax = NULL;
    st->n_axes = foilAttrInts(n, "axes", &ax);
    if (st->axes_input && st->n_axes >= 0) {
        free(st);
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "axes is an input from opset %d, not an attribute",
                                 kind == R_SUM ? 13 : 18);
    }
    if (st->n_axes > FOIL_MAX_DIMS) {
        int k = st->n_axes;
        free(st);
        return foilNodeInitError(n, FOIL_ERR_UNSUPPORTED, "%d axes (at most %d)", k, FOIL_MAX_DIMS);
    }
    if (st->n_axes > 0) memcpy(st->axes, ax, sizeof(int64_t) * (size_t)st->n_axes);
    n->state = st;
    return FOIL_OK;
}

static foil_status rsum_init(FoilNode *n) { return red_init_kind(n, R_SUM); }
static foil_status rmean_init(FoilNode *n) { return red_init_kind(n, R_MEAN); }
static foil_status rmax_init(FoilNode *n) { return red_init_kind(n, R_MAX); }
static foil_status rmin_init(FoilNode *n) { return red_init_kind(n, R_MIN); }
static foil_status rl2_init(FoilNode *n) { return red_init_kind(n, R_L2); }
static foil_status rl1_init(FoilNode *n) { return red_init_kind(n, R_L1); }
static foil_status rsumsq_init(FoilNode *n) { return red_init_kind(n, R_SUMSQ); }
static foil_status rlogsum_init(FoilNode *n) { return red_init_kind(n, R_LOGSUM); }
static foil_status rlse_init(FoilNode *n) { return red_init_kind(n, R_LSE); }
static foil_status rprod_init(FoilNode *n) { return red_init_kind(n, R_PROD); }
/* GlobalMaxPool (N, C, d1..dk) -> (N, C, 1..1): ReduceMax over d1..dk */
static foil_status gmaxpool_init(FoilNode *n)
{
    if (n->n_attrs) return foilNodeInitError(n, FOIL_ERR_FORMAT, "takes no attributes");
    foil_status s = red_init_kind(n, R_MAX);
    if (s) return s;
    red_state *st = n->state;
    st->axes_input = 0;
    st->keepdims = 1;
    st->global_pool = 1;
    return FOIL_OK;
}

/* Which axes of X are reduced: mask bit d. Returns an error status (with a
 * message) on bad axes. */
static foil_status red_mask(const FoilOpCtx *c, unsigned *mask)
{
    const red_state *st = c->node->state;
    const int r = c->in[0]->ndim;
    if (st->global_pool) {
        if (r < 3) return foilNodeError(c, FOIL_ERR_SHAPE, "input must be (N, C, d1, ...), got rank %d", r);
        *mask = ((1u << r) - 1u) & ~3u;
        return FOIL_OK;
    }
    int64_t axes[FOIL_MAX_DIMS];
    int n = st->n_axes;
    if (st->axes_input) {
        n = -1;
        const foil_tensor *t = c->n_in > 1 ? c->in[1] : NULL;
        if (t) {
            if (!c->known || !c->known[1] || (!t->data && t->numel))
                return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "input 'axes' must be known when the model is loaded "
                                     "(a constant or an initializer)");
            if (t->dtype != FOIL_I64 || t->ndim > 1)
                return foilNodeError(c, FOIL_ERR_FORMAT, "input 'axes' must be a 1-D int64 tensor");
            if (t->numel > FOIL_MAX_DIMS)
                return foilNodeError(c, FOIL_ERR_FORMAT, "input 'axes' has %lld values", (long long)t->numel);
            n = (int)t->numel;
            if (n) memcpy(axes, t->data, sizeof(int64_t) * (size_t)n);
        }
        if (n == 0) n = -1;
        if (n < 0 && st->noop_empty) {
            *mask = 0;
            return FOIL_OK;
        }
    } else if (n > 0) {
        memcpy(axes, st->axes, sizeof(int64_t) * (size_t)n);
    }
    if (n < 0) {
        *mask = (1u << r) - 1u;
        return FOIL_OK;
    }
    unsigned m = 0;
    for (int k = 0; k < n; k++) {
        int a = foilNormAxis(axes[k], r);
        if (a < 0) return foilNodeError(c, FOIL_ERR_FORMAT, "axis %lld is out of range for rank %d", (long long)axes[k], r);
        if (m & (1u << a)) return foilNodeError(c, FOIL_ERR_FORMAT, "axis %lld is repeated", (long long)axes[k]);
        m |= 1u << a;
    }
    *mask = m;
    return FOIL_OK;
}

/* The output shape of reducing x over mask. */
static int red_out_shape(const foil_tensor *x, unsigned mask, int keepdims, int64_t *os)
{
    int no = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (!(mask & (1u << d)))
            os[no++] = x->shape[d];
        else if (keepdims)
            os[no++] = 1;
    }
    return no;
}

static foil_status red_infer(FoilOpCtx *c)
{
    const red_state *st = c->node->state;
    if (c->n_in < 1 || !c->in[0] || c->n_in > 2) return foilNodeError(c, FOIL_ERR_FORMAT, "needs 1 or 2 inputs");
    if (c->n_out < 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs an output");
    if (!st->axes_input && c->n_in > 1 && c->in[1])
        return foilNodeError(c, FOIL_ERR_FORMAT, "axes is an attribute before opset %d, not an input",
                             st->kind == R_SUM ? 13 : 18);
    const foil_tensor *x = c->in[0];
    const int f64_ok = st->kind >= R_L1;
    if (x->dtype != FOIL_F32 && !(f64_ok && x->dtype == FOIL_F64))
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "type %s is not supported (float32%s)", foil_dtype_name(x->dtype),
                             f64_ok ? ", float64" : " only");
    unsigned mask;
    foil_status s = red_mask(c, &mask);
    if (s) return s;
    int64_t os[FOIL_MAX_DIMS];
    int no = red_out_shape(x, mask, st->keepdims, os);
    if (foil_tensor_set_shape(c->out[0], x->dtype, no, os)) return foilNodeError(c, FOIL_ERR_SHAPE, "%s", foil_last_error());
    /* backward of Max/Min: the number of ties of each output; forward of
     * LogSumExp: the sums of exp(x - max); backward of Prod: each output's
     * count of zeros and product of the other factors */
    const size_t per = st->kind == R_MAX || st->kind == R_MIN || st->kind == R_LSE ? 1 : st->kind == R_PROD ? 2 : 0;
    c->work_bytes = per * (size_t)c->out[0]->numel * foil_dtype_size(x->dtype);
    return FOIL_OK;
}

/* The coalesced iteration (see the top of the file). */
typedef struct red_plan {
    int nk, nr;
    int64_t kn[FOIL_MAX_DIMS], ks[FOIL_MAX_DIMS]; /* kept blocks: extents, input strides */
    int64_t rn[FOIL_MAX_DIMS], rs[FOIL_MAX_DIMS]; /* reduced blocks */
    int64_t nout, nred;
    int last_reduced;
    int64_t run;         /* last_reduced: innermost reduced extent; else innermost kept extent (L) */
} red_plan;

static void red_make_plan(const foil_tensor *x, unsigned mask, red_plan *p)
{
    int64_t ext[FOIL_MAX_DIMS];
    int red[FOIL_MAX_DIMS], m = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (x->shape[d] == 1) continue;
        int r = (mask >> d) & 1u;
        if (m > 0 && red[m - 1] == r) {
            ext[m - 1] *= x->shape[d];
        } else {
            ext[m] = x->shape[d];
            red[m++] = r;
        }
    }
    memset(p, 0, sizeof *p);
    p->nout = p->nred = 1;
    int64_t stride = 1, strides[FOIL_MAX_DIMS];
    for (int d = m - 1; d >= 0; d--) {
        strides[d] = stride;
        stride *= ext[d];
    }
    for (int d = 0; d < m; d++) {
        if (red[d]) {
            p->rn[p->nr] = ext[d];
            p->rs[p->nr++] = strides[d];
            p->nred *= ext[d];
        } else {
            p->kn[p->nk] = ext[d];
            p->ks[p->nk++] = strides[d];
            p->nout *= ext[d];
        }
    }
    if (x->numel == 0) { /* extents of 0 were merged above: count again */
        p->nout = p->nred = 1;
        for (int d = 0; d < x->ndim; d++) {
            if ((mask >> d) & 1u) p->nred *= x->shape[d];
            else p->nout *= x->shape[d];
        }
    }
    p->last_reduced = m > 0 && red[m - 1];
    p->run = m == 0 ? 1 : ext[m - 1];
}

/* Offset of multi-index number `idx` over blocks [0, nb) (row-major). */
static inline int64_t red_offset(const int64_t *n, const int64_t *s, int nb, int64_t idx)
{
    int64_t off = 0;
    for (int d = nb - 1; d >= 0 && idx > 0; d--) {
        int64_t q = idx / n[d];
        off += (idx - q * n[d]) * s[d];
        idx = q;
    }
    return off;
}

/* Visit every (output o, input i) pair, each output on one thread. BODY sees
 * o and i. Requires nr >= 1 (something is reduced). */
#define RED_VISIT(p, BODY)                                                                         \
    do {                                                                                           \
        const int64_t run_ = (p)->run;                                                             \
        const int par_ = (p)->nout * (p)->nred >= FOIL_PAR_MIN;                                    \
        if ((p)->last_reduced) {                                                                   \
            const int64_t outer_ = (p)->nred / run_;                                               \
            _Pragma("omp parallel for if (par_) schedule(static)")                                     \
            for (int64_t o = 0; o < (p)->nout; o++) {                                              \
                const int64_t base_ = red_offset((p)->kn, (p)->ks, (p)->nk, o);                    \
                for (int64_t u_ = 0; u_ < outer_; u_++) {                                          \
                    const int64_t b_ = base_ + red_offset((p)->rn, (p)->rs, (p)->nr - 1, u_);      \
                    for (int64_t j_ = 0; j_ < run_; j_++) {                                        \
                        const int64_t i = b_ + j_;                                                 \
                        BODY;                                                                      \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        } else {                                                                                   \
            const int64_t rows_ = (p)->nout / run_;                                                \
            _Pragma("omp parallel for if (par_) schedule(static)")                                     \
            for (int64_t q_ = 0; q_ < rows_; q_++) {                                               \
                const int64_t base_ = red_offset((p)->kn, (p)->ks, (p)->nk - 1, q_);               \
                for (int64_t u_ = 0; u_ < (p)->nred; u_++) {                                       \
                    const int64_t b_ = base_ + red_offset((p)->rn, (p)->rs, (p)->nr, u_);          \
                    for (int64_t j_ = 0; j_ < run_; j_++) {                                        \
                        const int64_t o = q_ * run_ + j_, i = b_ + j_;                             \
                        BODY;                                                                      \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* Sum (sq: of squares), max or min of a contiguous run, 8 lanes. */
static inline float run_reduce(int kind, const float *x, int64_t n)
{
    const float init = kind == R_MAX ? -INFINITY : kind == R_MIN ? INFINITY : 0.0f;
    float acc[8];
    for (int l = 0; l < 8; l++) acc[l] = init;
    int64_t k = 0;
    switch (kind) {
    case R_MAX:
        for (; k + 8 <= n; k += 8)
            for (int l = 0; l < 8; l++) acc[l] = x[k + l] > acc[l] || x[k + l] != x[k + l] ? x[k + l] : acc[l];
        for (; k < n; k++) acc[0] = x[k] > acc[0] || x[k] != x[k] ? x[k] : acc[0];
        break;
    case R_MIN:
        for (; k + 8 <= n; k += 8)
            for (int l = 0; l < 8; l++) acc[l] = x[k + l] < acc[l] || x[k + l] != x[k + l] ? x[k + l] : acc[l];
        for (; k < n; k++) acc[0] = x[k] < acc[0] || x[k] != x[k] ? x[k] : acc[0];
        break;
    case R_L2:
        for (; k + 8 <= n; k += 8)
            for (int l = 0; l < 8; l++) acc[l] += x[k + l] * x[k + l];
        for (; k < n; k++) acc[0] += x[k] * x[k];
        break;
    default:
        for (; k + 8 <= n; k += 8)
            for (int l = 0; l < 8; l++) acc[l] += x[k + l];
        for (; k < n; k++) acc[0] += x[k];
        break;
    }
    float s = acc[0];
    for (int l = 1; l < 8; l++) {
        if (kind == R_MAX) s = acc[l] > s || acc[l] != acc[l] ? acc[l] : s;
        else if (kind == R_MIN) s = acc[l] < s || acc[l] != acc[l] ? acc[l] : s;
        else s += acc[l];
    }
    return s;
}

/* The reduction of one value (nothing reduced, noop_with_empty_axes). */
static inline float red_one(int kind, float v)
{
    switch (kind) {
    case R_L2: case R_L1: return fabsf(v);
    case R_SUMSQ: return v * v;
    case R_LOGSUM: return logf(v);
    default: return v;
    }
}

/* L1, SumSquare, LogSum, LogSumExp, Prod: the generic walk (RED_VISIT), in
 * the input's type T (float32 or float64), with sums in T. LogSumExp:
 * y = m + log(sum exp(x - m)), m the maximum (y = m when m is infinite), so
 * large inputs do not overflow; the sums live in y's type in the workspace. */
#define RED_MORE(T, EXP, LOG, FABS)                                                                \
    do {                                                                                           \
        const T *x = c->in[0]->data;                                                               \
        T *y = c->out[0]->data;                                                                    \
        const T init = kind == R_LSE ? (T)-INFINITY : kind == R_PROD ? (T)1 : (T)0;                \
        for (int64_t o = 0; o < nout; o++) y[o] = init;                                            \
        switch (kind) {                                                                            \
        case R_L1: RED_VISIT(p, y[o] += FABS(x[i])); break;                                        \
        case R_SUMSQ: RED_VISIT(p, y[o] += x[i] * x[i]); break;                                    \
        case R_LOGSUM: RED_VISIT(p, y[o] += x[i]); break;                                          \
        case R_PROD: RED_VISIT(p, y[o] *= x[i]); break;                                            \
        default: {                                                                                 \
            T *s = c->work;                                                                        \
            RED_VISIT(p, y[o] = x[i] > y[o] || x[i] != x[i] ? x[i] : y[o]);                        \
            for (int64_t o = 0; o < nout; o++) s[o] = 0;                                           \
            RED_VISIT(p, s[o] += isfinite(y[o]) ? EXP(x[i] - y[o]) : (T)0);                        \
            for (int64_t o = 0; o < nout; o++)                                                     \
                if (isfinite(y[o])) y[o] += LOG(s[o]);                                             \
            break;                                                                                 \
        }                                                                                          \
        }                                                                                          \
        if (kind == R_LOGSUM)                                                                      \
            for (int64_t o = 0; o < nout; o++) y[o] = LOG(y[o]);                                   \
    } while (0)

static void red_forward_more(FoilOpCtx *c, const red_plan *p, int kind)
{
    const int64_t nout = c->out[0]->numel;
    if (c->in[0]->dtype == FOIL_F64)
        RED_MORE(double, exp, log, fabs);
    else
        RED_MORE(float, expf, logf, fabsf);
}

static foil_status red_forward(FoilOpCtx *c)
{
    const red_state *st = c->node->state;
    unsigned mask;
    foil_status s = red_mask(c, &mask);
    if (s) return s;
    red_plan p;
    red_make_plan(c->in[0], mask, &p);
    const int kind = st->kind;
    const int64_t nout = c->out[0]->numel;
    if (c->in[0]->dtype == FOIL_F64) { /* forward only, the generic walk */
        if (p.nr == 0 || p.nred == 0 || nout == 0)
            return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "float64 with nothing reduced or an empty reduction");
        red_forward_more(c, &p, kind);
        return FOIL_OK;
    }
    const float *x = foil_f32(c->in[0]);
    float *y = foil_f32(c->out[0]);
    if (p.nr == 0 || p.nred == 0 || nout == 0) { /* nothing reduced, or an empty reduction */
        const float v = kind == R_MEAN ? NAN : kind == R_MAX ? -INFINITY : kind == R_MIN ? INFINITY
                      : kind == R_LOGSUM || kind == R_LSE ? -INFINITY : kind == R_PROD ? 1.0f : 0.0f;
        for (int64_t o = 0; o < nout; o++) y[o] = p.nred == 0 ? v : red_one(kind, x[o]);
        return FOIL_OK;
    }
    if (kind >= R_L1) {
        red_forward_more(c, &p, kind);
        return FOIL_OK;
    }
    if (p.last_reduced) {
        const int64_t run = p.run, outer = p.nred / run;
#pragma omp parallel for if (nout * p.nred >= FOIL_PAR_MIN) schedule(static)
        for (int64_t o = 0; o < nout; o++) {
            const int64_t base = red_offset(p.kn, p.ks, p.nk, o);
            float acc = kind == R_MAX ? -INFINITY : kind == R_MIN ? INFINITY : 0.0f;
            double sum = 0;
            for (int64_t u = 0; u < outer; u++) {
                float v = run_reduce(kind, x + base + red_offset(p.rn, p.rs, p.nr - 1, u), run);
                if (kind == R_MAX) acc = v > acc || v != v ? v : acc;
                else if (kind == R_MIN) acc = v < acc || v != v ? v : acc;
                else sum += v;
            }
            y[o] = kind == R_MAX || kind == R_MIN ? acc : (float)sum;
        }
    } else {
        const float init = kind == R_MAX ? -INFINITY : kind == R_MIN ? INFINITY : 0.0f;
        for (int64_t o = 0; o < nout; o++) y[o] = init;
        switch (kind) {
        case R_MAX: RED_VISIT(&p, y[o] = x[i] > y[o] || x[i] != x[i] ? x[i] : y[o]); break;
        case R_MIN: RED_VISIT(&p, y[o] = x[i] < y[o] || x[i] != x[i] ? x[i] : y[o]); break;
        case R_L2: RED_VISIT(&p, y[o] += x[i] * x[i]); break;
        default: RED_VISIT(&p, y[o] += x[i]); break;
        }
    }
    if (kind == R_MEAN) {
        const float inv = 1.0f / (float)p.nred;
        for (int64_t o = 0; o < nout; o++) y[o] *= inv;
    } else if (kind == R_L2) {
        for (int64_t o = 0; o < nout; o++) y[o] = sqrtf(y[o]);
    }
    return FOIL_OK;
}

/* In the forward pass each output was y[o] = R(x[i] : i feeds o), so each
 * x[i] gets dy[o] times dy/dx[i] of its one output:
 *   Sum: 1;  Mean: 1/m;  L2 (y = sqrt(sum x^2)): x[i] / y[o];
 *   Max/Min: 1 at the maximum; at t tied elements y is their common value
 *   and each gets 1/t (a subgradient; PyTorch's amax/amin do the same). */
static void red_backward(FoilOpCtx *c)
{
    const red_state *st = c->node->state;
    if (!c->d_in[0] || !c->d_out[0] || c->in[0]->dtype != FOIL_F32) return;
    unsigned mask;
    if (red_mask(c, &mask)) return;
    red_plan p;
    red_make_plan(c->in[0], mask, &p);
    const float *x = foil_f32(c->in[0]), *y = foil_f32(c->out[0]), *g = foil_f32(c->d_out[0]);
    float *dx = foil_f32(c->d_in[0]);
    const int64_t nout = c->out[0]->numel;
    if (p.nred == 0 || nout == 0) return;
    if (p.nr == 0) { /* y = red_one(x) */
        for (int64_t i = 0; i < nout; i++) {
            switch (st->kind) {
            case R_L2: case R_L1: dx[i] += x[i] > 0 ? g[i] : x[i] < 0 ? -g[i] : 0.0f; break;
            case R_SUMSQ: dx[i] += 2.0f * x[i] * g[i]; break;
            case R_LOGSUM: dx[i] += g[i] / x[i]; break;
            default: dx[i] += g[i]; break;
            }
        }
        return;
    }
    switch (st->kind) {
    case R_SUM: RED_VISIT(&p, dx[i] += g[o]); break;
    case R_MEAN: {
        const float inv = 1.0f / (float)p.nred;
        RED_VISIT(&p, dx[i] += g[o] * inv);
        break;
    }
    case R_L2: RED_VISIT(&p, dx[i] += y[o] > 0.0f ? g[o] * x[i] / y[o] : 0.0f); break;
    case R_L1: RED_VISIT(&p, dx[i] += x[i] > 0.0f ? g[o] : x[i] < 0.0f ? -g[o] : 0.0f); break;
    case R_SUMSQ: RED_VISIT(&p, dx[i] += 2.0f * x[i] * g[o]); break;
    case R_LOGSUM: RED_VISIT(&p, dx[i] += g[o] / expf(y[o])); break; /* y = log S: dy/dx = 1/S */
    case R_LSE: RED_VISIT(&p, dx[i] += g[o] * expf(x[i] - y[o])); break; /* softmax over the reduced set */
    case R_PROD: {
        /* dy/dx[i] is the product of the other factors: with no zero y/x[i];
         * with one zero, the product of the nonzero ones at the zero and 0
         * elsewhere; with more, 0 everywhere. */
        float *zeros = c->work, *nz = zeros + nout;
        for (int64_t o = 0; o < nout; o++) zeros[o] = 0.0f, nz[o] = 1.0f;
        RED_VISIT(&p, if (x[i] == 0.0f) zeros[o] += 1.0f; else nz[o] *= x[i]);
        RED_VISIT(&p, dx[i] += x[i] != 0.0f ? (zeros[o] == 0.0f ? g[o] * nz[o] / x[i] : 0.0f)
                                            : (zeros[o] == 1.0f ? g[o] * nz[o] : 0.0f));
        break;
    }
    default: {
        float *ties = c->work;
        for (int64_t o = 0; o < nout; o++) ties[o] = 0.0f;
        RED_VISIT(&p, ties[o] += x[i] == y[o] ? 1.0f : 0.0f);
        RED_VISIT(&p, dx[i] += x[i] == y[o] ? g[o] / ties[o] : 0.0f);
        break;
    }
    }
}

#define REDUCE_OP(NAME, init_fn)  \
    const FoilOp foilOp##NAME = { \
        .type = #NAME,            \
        .grad_inputs = 0x1,       \
        .init = init_fn,          \
        .infer = red_infer,       \
        .forward = red_forward,   \
        .backward = red_backward, \
    };
REDUCE_OP(ReduceSum, rsum_init)
REDUCE_OP(ReduceMean, rmean_init)
REDUCE_OP(ReduceMax, rmax_init)
REDUCE_OP(ReduceMin, rmin_init)
REDUCE_OP(ReduceL2, rl2_init)
REDUCE_OP(ReduceL1, rl1_init)
REDUCE_OP(ReduceSumSquare, rsumsq_init)
REDUCE_OP(ReduceLogSum, rlogsum_init)
REDUCE_OP(ReduceLogSumExp, rlse_init)
REDUCE_OP(ReduceProd, rprod_init)
REDUCE_OP(GlobalMaxPool, gmaxpool_init)

/* ------------------------------------------------------------------------- */
/* ArgMax, ArgMin: X viewed as (outer, n, inner) around `axis`.              */

typedef struct arg_state {
    int is_min;
    int keepdims, last;
    int64_t axis;
} arg_state;

static foil_status arg_init_kind(FoilNode *n, int is_min)
{
    arg_state *st = calloc(1, sizeof *st);
    if (!st) return foilNodeInitError(n, FOIL_ERR_NOMEM, "out of memory");
    st->is_min = is_min;
    st->axis = foilAttrInt(n, "axis", 0);
    st->keepdims = foilAttrInt(n, "keepdims", 1) != 0;
    st->last = foilAttrInt(n, "select_last_index", 0) != 0;
    n->state = st;
    return FOIL_OK;
}
static foil_status argmax_init(FoilNode *n) { return arg_init_kind(n, 0); }
static foil_status argmin_init(FoilNode *n) { return arg_init_kind(n, 1); }

static foil_status arg_infer(FoilOpCtx *c)
{
    const arg_state *st = c->node->state;
    if (c->n_in != 1 || !c->in[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs 1 input");
    if (c->n_out < 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "needs an output");
    const foil_tensor *x = c->in[0];
    if (x->dtype != FOIL_F32 && x->dtype != FOIL_I32 && x->dtype != FOIL_I64)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "type %s is not supported (float32, int32, int64)",
                             foil_dtype_name(x->dtype));
    int a = foilNormAxis(st->axis, x->ndim);
    if (a < 0) return foilNodeError(c, FOIL_ERR_FORMAT, "axis %lld is out of range for rank %d", (long long)st->axis, x->ndim);
    if (x->shape[a] == 0) return foilNodeError(c, FOIL_ERR_SHAPE, "axis %d is empty", a);
    int64_t os[FOIL_MAX_DIMS];
    int no = red_out_shape(x, 1u << a, st->keepdims, os);
    if (foil_tensor_set_shape(c->out[0], FOIL_I64, no, os)) return foilNodeError(c, FOIL_ERR_SHAPE, "%s", foil_last_error());
    c->work_bytes = 0;
    return FOIL_OK;
}

#define ARG_SCAN(T)                                                                        \
    do {                                                                                   \
        const T *X = c->in[0]->data;                                                       \
        _Pragma("omp parallel for if (outer * n * inner >= FOIL_PAR_MIN) schedule(static)") \
        for (int64_t o = 0; o < outer; o++)                                                \
            for (int64_t j = 0; j < inner; j++) {                                          \
                const T *x = X + o * n * inner + j;                                        \
                T best = x[0];                                                             \
                int64_t at = 0;                                                            \
                for (int64_t k = 1; k < n; k++) {                                          \
                    T v = x[k * inner];                                                    \
                    int better = st->is_min ? (st->last ? v <= best : v < best)            \
                                            : (st->last ? v >= best : v > best);           \
                    if (better) {                                                          \
                        best = v;                                                          \
                        at = k;                                                            \
                    }                                                                      \
                }                                                                          \
                Y[o * inner + j] = at;                                                     \
            }                                                                              \
    } while (0)

static foil_status arg_forward(FoilOpCtx *c)
{
    const arg_state *st = c->node->state;
    const foil_tensor *xt = c->in[0];
    const int a = foilNormAxis(st->axis, xt->ndim);
    int64_t outer = 1, inner = 1;
    const int64_t n = xt->shape[a];
    for (int d = 0; d < a; d++) outer *= xt->shape[d];
    for (int d = a + 1; d < xt->ndim; d++) inner *= xt->shape[d];
    int64_t *Y = c->out[0]->data;
    switch (xt->dtype) {
    case FOIL_F32: ARG_SCAN(float); break;
    case FOIL_I32: ARG_SCAN(int32_t); break;
    default: ARG_SCAN(int64_t); break;
    }
    return FOIL_OK;
}

const FoilOp foilOpArgMax = {.type = "ArgMax", .init = argmax_init, .infer = arg_infer, .forward = arg_forward};
const FoilOp foilOpArgMin = {.type = "ArgMin", .init = argmin_init, .infer = arg_infer, .forward = arg_forward};
