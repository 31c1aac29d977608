/*
 * verify/verify.c - the verifier's public API (foil/verify.h): bounds of
 * C . logits over boxes, by IBP or CROWN, and Linf verification.
 *
 * Per example, in order:
 *   1. plain IBP through every layer (bounds P, error weights T);
 *   2. IBP: each spec row folded back through the affine layers after the
 *      last Relu/MaxPool and concretized on P there;
 *   3. CROWN: layer by layer, the best bounds Q of every slot: IBP on the
 *      inputs' Q (intersected with P unless crown_only), then, for a slot
 *      that a Relu or MaxPool reads and that is not already exact (the
 *      first affine layer after the input, copies, Relu and MaxPool
 *      outputs), CROWN on each neuron that IBP leaves unstable (every
 *      neuron when a MaxPool reads it), intersected with Q unless
 *      crown_only; finally CROWN on each spec row over Q, intersected with
 *      the IBP rows of 2 (on P and on Q) unless crown_only.
 * Rows of one example run in parallel (OpenMP), each with its own row
 * buffers; examples run one after another.
 */
#include <assert.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "verify/verify_internal.h"

const char *foil_bounds_method_name(foil_bounds_method m)
{
    return m == FOIL_BOUNDS_IBP ? "ibp" : m == FOIL_BOUNDS_CROWN ? "crown" : NULL;
}

foil_status foil_bounds_method_parse(const char *s, foil_bounds_method *m)
{
    if (s && strcmp(s, "ibp") == 0) *m = FOIL_BOUNDS_IBP;
    else if (s && strcmp(s, "crown") == 0) *m = FOIL_BOUNDS_CROWN;
    else return foil_error(FOIL_ERR_ARG, "unknown bound method '%s' (ibp or crown)", s ? s : "");
    return FOIL_OK;
}

void foil_bounds_linf_box(int64_t n, int64_t f, const float *x, float eps, const float *lower, const float *upper,
                          float *lo, float *hi)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < f; j++) {
            double xv = x[i * f + j];
            float l = foilRoundDown(xv - (double)eps), h = foilRoundUp(xv + (double)eps);
            if (lower && l < lower[j]) l = lower[j];
            if (upper && h > upper[j]) h = upper[j];
            lo[i * f + j] = l;
            hi[i * f + j] = h;
        }
}

void foil_bounds_margin_spec(int64_t classes, const int64_t *y, int64_t n, float *C)
{
    const int64_t k = classes - 1;
    memset(C, 0, (size_t)(n * k * classes) * sizeof *C);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0, r = 0; j < classes; j++) {
            if (j == y[i]) continue;
            float *row = C + (i * k + r++) * classes;
            row[y[i]] = 1.0f;
            row[j] = -1.0f;
        }
}

typedef struct Work {
    float *plo, *phi, *qlo, *qhi;  /* plain IBP and best bounds, total_numel each */
    double *T;
    FoilBoundsRow **rows;          /* one per thread */
    int n_rows;
    int64_t *todo;                 /* neurons to refine */
    float *cl, *cu;                /* their CROWN bounds */
    int keep_intermediate;         /* subdomains: the parent's bounds with the split, no new CROWN pass */
    const double *enough;          /* NULL, or per spec row: d, a bound well above it needs no optimizing */
} Work;

static void work_free(Work *w)
{
    free(w->plo), free(w->phi), free(w->qlo), free(w->qhi), free(w->T), free(w->todo), free(w->cl), free(w->cu);
    for (int i = 0; i < w->n_rows; i++) foilBoundsRowFree(w->rows[i]);
    free(w->rows);
}

static foil_status work_alloc(const foil_verifier *v, Work *w)
{
    size_t n = (size_t)v->total_numel;
    w->plo = malloc(n * sizeof *w->plo), w->phi = malloc(n * sizeof *w->phi);
    w->qlo = malloc(n * sizeof *w->qlo), w->qhi = malloc(n * sizeof *w->qhi);
    w->T = malloc(n * sizeof *w->T);
    w->todo = malloc((size_t)v->max_numel * sizeof *w->todo);
    w->cl = malloc((size_t)v->max_numel * sizeof *w->cl), w->cu = malloc((size_t)v->max_numel * sizeof *w->cu);
    w->n_rows = omp_get_max_threads();
    w->rows = calloc((size_t)w->n_rows, sizeof *w->rows);
    int ok = w->plo && w->phi && w->qlo && w->qhi && w->T && w->todo && w->cl && w->cu && w->rows;
    for (int i = 0; ok && i < w->n_rows; i++) ok = (w->rows[i] = foilBoundsRowNew(v)) != NULL;
    if (!ok) {
        work_free(w);
        return foil_error(FOIL_ERR_NOMEM, "%s: out of memory for the verifier's buffers", v->path);
    }
    return FOIL_OK;
}

/* Lower and upper bounds of k spec rows (C: k x classes) over the bounds in
 * ctx; writes lb, ub (doubles before rounding). */
static void spec_rows(const foil_verifier *v, Work *w, const FoilBoundsCtx *ctx, const float *C, int64_t k,
                      double *lb, double *ub)
{
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t r = 0; r < 2 * k; r++) {
        FoilBoundsRow *row = w->rows[omp_get_thread_num()];
        const float *coef = C + (r / 2) * v->classes;
        if (r % 2 == 0) lb[r / 2] = foilBoundsRowLower(v, ctx, row, v->output, coef, 0, 1.0);
        else ub[r / 2] = -foilBoundsRowLower(v, ctx, row, v->output, coef, 0, -1.0);
    }
}

/* Whether CROWN can tighten slot s's IBP bounds (see the file comment). */
static int refinable(const foil_verifier *v, int s)
{
    const FoilBoundsSlot *sl = &v->slots[s];
    if (!sl->relaxed_reader || sl->producer < 0) return 0;
    const FoilBoundsLayer *L = &v->layers[sl->producer];
    if (L->kind == FOIL_BL_RELU || L->kind == FOIL_BL_MAXPOOL || L->kind == FOIL_BL_COPY) return 0;
    if (L->n_in == 1 && v->slots[L->in[0]].box) return 0; /* one affine layer on a box: IBP is exact */
    return 1;
}

/* CROWN's bounds of slot s's neurons that IBP leaves unstable (every
 * neuron under a MaxPool); optimize: with optimized slopes, each bound
 * until it shows the neuron stable. */
static void crown_slot(const foil_verifier *v, Work *w, const foil_bounds_options *o, int s, int optimize)
{
    const FoilBoundsSlot *sl = &v->slots[s];
    float *ql = w->qlo + sl->off, *qh = w->qhi + sl->off;
    int64_t n = 0;
    for (int64_t i = 0; i < sl->numel; i++)
        if (sl->maxpool_reader || (ql[i] < 0 && qh[i] > 0)) w->todo[n++] = i;
    FoilBoundsCtx ctx = {.lo = w->qlo, .hi = w->qhi, .T = w->T};
#pragma omp parallel for schedule(dynamic, 16)
    for (int64_t t = 0; t < n; t++) {
        FoilBoundsRow *row = w->rows[omp_get_thread_num()];
        if (optimize) {
            const double enough = sl->maxpool_reader ? INFINITY : 0.0;
            const int steps = o->alpha_intermediate_steps;
            w->cl[t] = foilRoundDown(foilBoundsRowOptimized(v, &ctx, row, s, NULL, w->todo[t], 1.0, steps, enough));
            w->cu[t] =
                foilRoundUp(-foilBoundsRowOptimized(v, &ctx, row, s, NULL, w->todo[t], -1.0, steps, enough));
            continue;
        }
        w->cl[t] = foilRoundDown(foilBoundsRowLower(v, &ctx, row, s, NULL, w->todo[t], 1.0));
        w->cu[t] = foilRoundUp(-foilBoundsRowLower(v, &ctx, row, s, NULL, w->todo[t], -1.0));
    }
    for (int64_t t = 0; t < n; t++) {
        int64_t i = w->todo[t];
        if (o->crown_only) {
            ql[i] = w->cl[t], qh[i] = w->cu[t];
        } else {
            if (w->cl[t] > ql[i]) ql[i] = w->cl[t];
            if (w->cu[t] < qh[i]) qh[i] = w->cu[t];
        }
    }
}

static foil_status check_box(const foil_verifier *v, int64_t e, const float *lo, const float *hi)
{
    for (int64_t j = 0; j < v->input_size; j++)
        if (!(lo[j] <= hi[j]) || !isfinite(lo[j]) || !isfinite(hi[j]))
            return foil_error(FOIL_ERR_ARG,
                              "%s: bounds: example %lld, feature %lld: the box [%g, %g] is empty or not finite",
                              v->path, (long long)e, (long long)j, (double)lo[j], (double)hi[j]);
    return FOIL_OK;
}

/* Clip the best bounds Q of slot s to the ReLU splits on it; 1 when one
 * makes a neuron's interval empty (no input of the box is in the split's
 * subdomain). */
static int apply_splits(const foil_verifier *v, Work *w, int s, const FoilBoundsSplit *splits, int64_t n_splits)
{
    const FoilBoundsSlot *sl = &v->slots[s];
    for (int64_t t = 0; t < n_splits; t++) {
        int64_t j = splits[t].at;
        if (j < sl->off || j >= sl->off + sl->numel) continue;
        if (splits[t].active && w->qlo[j] < 0) w->qlo[j] = 0.0f;
        if (!splits[t].active && w->qhi[j] > 0) w->qhi[j] = 0.0f;
        if (w->qlo[j] > w->qhi[j]) return 1;
    }
    return 0;
}

/* start > 0: w->qlo/qhi already hold the best bounds of every slot that
 * layers [0, start) produce (a parent subdomain's, whose splits on those
 * slots are these splits but the last, which is on layer start - 1's
 * output): only that split is applied there and the layers from start on
 * are bounded again. */
static void one_example(const foil_verifier *v, Work *w, const foil_bounds_options *o, const float *lo,
                        const float *hi, const float *C, int64_t k, float *lb, float *ub, double *dl, double *du,
                        const FoilBoundsSplit *splits, int64_t n_splits, int *empty, int start)
{
    const int64_t f = v->input_size;
    if (v->pc_valid && memcmp(v->pc_lo, lo, (size_t)f * sizeof *lo) == 0 &&
        memcmp(v->pc_hi, hi, (size_t)f * sizeof *hi) == 0) { /* foilBoundsSplitCompute's cache */
        memcpy(w->plo, v->pc_plo, (size_t)v->total_numel * sizeof *w->plo);
        memcpy(w->phi, v->pc_phi, (size_t)v->total_numel * sizeof *w->phi);
        memcpy(w->T, v->pc_T, (size_t)v->total_numel * sizeof *w->T);
    } else {
        memcpy(w->plo, lo, (size_t)f * sizeof *lo);
        memcpy(w->phi, hi, (size_t)f * sizeof *hi);
        for (int i = 0; i < v->n_layers; i++) foilBoundsIbp(v, &v->layers[i], w->plo, w->phi, w->T);
    }
    FoilBoundsCtx plain = {.lo = w->plo, .hi = w->phi, .T = w->T, .stop_nonlinear = 1};
    spec_rows(v, w, &plain, C, k, dl, du);
    for (int64_t r = 0; r < k; r++) lb[r] = foilRoundDown(dl[r]), ub[r] = foilRoundUp(du[r]);
    if (o->method == FOIL_BOUNDS_IBP) return;

    if (start == 0) {
        memcpy(w->qlo, lo, (size_t)f * sizeof *lo);
        memcpy(w->qhi, hi, (size_t)f * sizeof *hi);
    } else if (apply_splits(v, w, v->layers[start - 1].out, splits + n_splits - 1, 1)) {
        *empty = 1;
        return;
    }
    const int keep = start > 0 && w->keep_intermediate;
    for (int i = start; i < v->n_layers; i++) {
        const FoilBoundsLayer *L = &v->layers[i];
        const FoilBoundsSlot *s = &v->slots[L->out];
        if (start > 0) { /* the parent's bounds hold here too; IBP carries the split forward */
            memcpy(w->cl, w->qlo + s->off, (size_t)s->numel * sizeof *w->cl);
            memcpy(w->cu, w->qhi + s->off, (size_t)s->numel * sizeof *w->cu);
        }
        foilBoundsIbp(v, L, w->qlo, w->qhi, NULL);
        if (start > 0)
            for (int64_t j = 0; j < s->numel; j++) {
                if (w->cl[j] > w->qlo[s->off + j]) w->qlo[s->off + j] = w->cl[j];
                if (w->cu[j] < w->qhi[s->off + j]) w->qhi[s->off + j] = w->cu[j];
            }
        if (!o->crown_only)
            for (int64_t j = s->off; j < s->off + s->numel; j++) {
                if (w->plo[j] > w->qlo[j]) w->qlo[j] = w->plo[j];
                if (w->phi[j] < w->qhi[j]) w->qhi[j] = w->phi[j];
            }
        if (!o->ibp_intermediate && !keep && refinable(v, L->out))
            crown_slot(v, w, o, L->out, o->alpha_intermediate_steps > 0 && start == 0);
        if (n_splits && apply_splits(v, w, L->out, splits, n_splits)) {
            *empty = 1;
            return;
        }
    }
    float *ibp_lb = NULL, *ibp_ub = NULL;
    if (!o->crown_only) {
        /* IBP's rows on the refined bounds too: at least as tight as on P */
        ibp_lb = malloc((size_t)(2 * k) * sizeof *ibp_lb);
        FoilBoundsCtx best_ibp = {.lo = w->qlo, .hi = w->qhi, .T = w->T, .stop_nonlinear = 1};
        spec_rows(v, w, &best_ibp, C, k, dl, du);
        if (ibp_lb) {
            ibp_ub = ibp_lb + k;
            for (int64_t r = 0; r < k; r++) {
                float l = foilRoundDown(dl[r]), u = foilRoundUp(du[r]);
                ibp_lb[r] = l > lb[r] ? l : lb[r];
                ibp_ub[r] = u < ub[r] ? u : ub[r];
            }
        }
    }
    FoilBoundsCtx best = {.lo = w->qlo, .hi = w->qhi, .T = w->T};
    spec_rows(v, w, &best, C, k, dl, du);
    if (o->alpha_steps > 0) {
#pragma omp parallel for schedule(dynamic, 1)
        for (int64_t r = 0; r < k; r++) {
            /* well above d: past branch and bound's tolerance (tol_of) */
            const double enough =
                w->enough ? w->enough[r] + 2e-4 * (1 + fabs(w->enough[r]) + fabs(du[r])) + 1e-6 : INFINITY;
            if (dl[r] > enough) continue;
            FoilBoundsRow *row = w->rows[omp_get_thread_num()];
            const float *coef = C + r * v->classes;
            double l = n_splits
                           ? foilBoundsRowOptimizedSplits(v, &best, row, coef, o->alpha_steps, enough, splits, n_splits)
                           : foilBoundsRowOptimized(v, &best, row, v->output, coef, 0, 1.0, o->alpha_steps, enough);
            if (l > dl[r]) dl[r] = l;
        }
    }
    for (int64_t r = 0; r < k; r++) {
        float l = foilRoundDown(dl[r]), u = foilRoundUp(du[r]);
        if (o->crown_only) {
            lb[r] = l, ub[r] = u;
        } else { /* never looser than IBP: lb, ub hold IBP's rows on P */
            if (ibp_lb) {
                if (ibp_lb[r] > lb[r]) lb[r] = ibp_lb[r];
                if (ibp_ub[r] < ub[r]) ub[r] = ibp_ub[r];
            }
            if (l > lb[r]) lb[r] = l;
            if (u < ub[r]) ub[r] = u;
        }
    }
    free(ibp_lb);
}

foil_status foil_bounds_compute(foil_verifier *v, const foil_bounds_options *o, int64_t n, const float *lo,
                                const float *hi, const float *C, int64_t k, float *lb, float *ub)
{
    static const foil_bounds_options defaults = {.method = FOIL_BOUNDS_CROWN};
    if (!o) o = &defaults;
    if (!v || !lo || !hi || !lb || !ub || n < 0 || k < 1)
        return foil_error(FOIL_ERR_ARG, "foil_bounds_compute: missing argument or k < 1");
    if (o->method != FOIL_BOUNDS_IBP && o->method != FOIL_BOUNDS_CROWN)
        return foil_error(FOIL_ERR_ARG, "foil_bounds_compute: unknown method %d", (int)o->method);
    if (!C && k != v->classes)
        return foil_error(FOIL_ERR_ARG, "foil_bounds_compute: without C, k must be the %lld classes",
                          (long long)v->classes);
    float *eye = NULL;
    if (!C) {
        eye = calloc((size_t)(k * k), sizeof *eye);
        if (!eye) return foil_error(FOIL_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; i < k; i++) eye[i * k + i] = 1.0f;
    }
    for (int64_t e = 0; e < n; e++) {
        foil_status st = check_box(v, e, lo + e * v->input_size, hi + e * v->input_size);
        if (st) {
            free(eye);
            return st;
        }
    }
    Work w = {0};
    foil_status st = work_alloc(v, &w);
    double *dl = malloc((size_t)(2 * k) * sizeof *dl);
    if (!st && !dl) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    for (int64_t e = 0; e < n && !st; e++) {
        const float *Ce = C ? C + e * k * v->classes : eye;
        int empty = 0;
        one_example(v, &w, o, lo + e * v->input_size, hi + e * v->input_size, Ce, k, lb + e * k, ub + e * k, dl,
                    dl + k, NULL, 0, &empty, 0);
    }
    free(dl);
    free(eye);
    if (!st) work_free(&w);
    return st;
}

foil_status foil_verify_linf(foil_verifier *v, const foil_bounds_options *o, const foil_tensor *x, const int64_t *y,
                             float eps, const float *lower, const float *upper, uint8_t *verified, float *margin)
{
    if (!v || !x || !y || !verified || x->dtype != FOIL_F32 || x->ndim < 1)
        return foil_error(FOIL_ERR_ARG, "foil_verify_linf: missing argument or x not float32");
    const int64_t n = x->shape[0], f = v->input_size, K = v->classes, k = K - 1;
    if (n && x->numel / n != f)
        return foil_error(FOIL_ERR_SHAPE, "%s: examples of %lld values, the verifier was made for %lld", v->path,
                          (long long)(x->numel / n), (long long)f);
    if (!(eps >= 0) || !isfinite(eps)) return foil_error(FOIL_ERR_ARG, "eps must be finite and >= 0, not %g", (double)eps);
    if (K < 2) return foil_error(FOIL_ERR_ARG, "%s: verification needs at least 2 classes", v->path);
    for (int64_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= K)
            return foil_error(FOIL_ERR_ARG, "label %lld of example %lld is not a class of the model's %lld",
                              (long long)y[i], (long long)i, (long long)K);
    float *lo = malloc((size_t)f * sizeof *lo), *hi = malloc((size_t)f * sizeof *hi);
    float *C = malloc((size_t)(k * K) * sizeof *C), *lb = malloc((size_t)k * sizeof *lb),
          *ub = malloc((size_t)k * sizeof *ub);
    foil_status st = lo && hi && C && lb && ub ? FOIL_OK : foil_error(FOIL_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n && !st; i++) {
        foil_bounds_linf_box(1, f, foil_f32(x) + i * f, eps, lower, upper, lo, hi);
        foil_bounds_margin_spec(K, y + i, 1, C);
        st = foil_bounds_compute(v, o, 1, lo, hi, C, k, lb, ub);
        if (st) break;
        float m = INFINITY;
        for (int64_t r = 0; r < k; r++) m = lb[r] < m ? lb[r] : m;
        verified[i] = m > 0;
        if (margin) margin[i] = m;
    }
    free(lo), free(hi), free(C), free(lb), free(ub);
    return st;
}

/* Lagrangian of the splits at the input. Each split i holds on the
 * subdomain D as a linear inequality in x: with lam_i . x + c_i <= scale_i
 * z_i(x) the CROWN lower form of scale_i z_i (scale -1 for an active split,
 * z >= 0; +1 for an inactive one, z <= 0), z's sign gives
 * lam_i . x + c_i <= 0 on D. For any beta >= 0 and a spec row's lower form
 * a . x + c_f <= row(x) on D,
 *     min_D row >= min over the box of (a + sum_i beta_i lam_i) . x + c_f + sum_i beta_i c_i,
 * since every added term is <= 0 on D. beta is chosen by projected
 * supergradient ascent (the supergradient of beta_i is lam_i . x* + c_i at
 * the box's minimizer x*); the bound at the best beta is then evaluated
 * with a rigorous error term: it rests on no assumption about beta. */
typedef struct Lagrange {
    int64_t n, m;       /* inputs, splits */
    double *lam, *c;    /* m x n, m */
    double *a, *coef, *beta, *best, *grad;
    double *xs;         /* n: the box's minimizer */
} Lagrange;

/* min over the box of the Lagrangian at beta; x* into grad's terms when want_grad. */
static double lagrange_value(const Lagrange *L, const float *lo, const float *hi, const double *beta, double c_f,
                             int rigorous, double *grad)
{
    const int64_t n = L->n, m = L->m;
    double konst = c_f, kmag = fabs(c_f), cmag = 0, S = 0, smag = 0;
    for (int64_t j = 0; j < n; j++) L->coef[j] = L->a[j];
    for (int64_t i = 0; i < m; i++) {
        if (beta[i] == 0) continue;
        const double *li = L->lam + i * n;
        for (int64_t j = 0; j < n; j++) L->coef[j] += beta[i] * li[j];
        konst += beta[i] * L->c[i];
        kmag += beta[i] * fabs(L->c[i]);
    }
    for (int64_t j = 0; j < n; j++) {
        double x = L->coef[j] >= 0 ? lo[j] : hi[j];
        S += L->coef[j] * x;
        if (rigorous) {
            double M = foilMag(lo[j], hi[j]), mag = fabs(L->a[j]);
            for (int64_t i = 0; i < m; i++) mag += beta[i] * fabs(L->lam[i * n + j]);
            cmag += mag * M;
            smag += fabs(L->coef[j] * x);
        }
    }
    if (grad) {
        for (int64_t j = 0; j < n; j++) L->xs[j] = L->coef[j] >= 0 ? lo[j] : hi[j];
        for (int64_t i = 0; i < m; i++) {
            const double *li = L->lam + i * n;
            double g = 0;
            for (int64_t j = 0; j < n; j++) g += li[j] * L->xs[j];
            grad[i] = g + L->c[i];
        }
    }
    double h = S + konst;
    if (rigorous) { /* every sum above has at most n + m + 2 terms */
        double gamma = (double)(n + m + 8) * ldexp(1.0, -53) * 1.01;
        h -= 2 * gamma * (cmag + kmag + smag + fabs(S) + fabs(konst));
    }
    return h == h ? h : -INFINITY;
}

/* A better lower bound of spec row coef (or -inf) from the splits' Lagrangian. */
static double lagrange_row(const foil_verifier *v, Work *w, Lagrange *L, const float *lo, const float *hi,
                           const float *coef)
{
    FoilBoundsCtx ctx = {.lo = w->qlo, .hi = w->qhi, .T = w->T};
    double c_f = foilBoundsRowLinear(v, &ctx, w->rows[0], v->output, coef, 0, 1.0, L->a);
    if (!isfinite(c_f)) return -INFINITY;
    double an = 0, ln = 0;
    for (int64_t j = 0; j < L->n; j++) an += fabs(L->a[j]);
    for (int64_t k = 0; k < L->m * L->n; k++) ln += fabs(L->lam[k]);
    ln /= (double)L->m;
    double eta = ln > 0 ? an / ln : 1.0, best = -INFINITY;
    memset(L->beta, 0, (size_t)L->m * sizeof *L->beta);
    memcpy(L->best, L->beta, (size_t)L->m * sizeof *L->beta);
    for (int t = 0; t < 60; t++) {
        double h = lagrange_value(L, lo, hi, L->beta, c_f, 0, L->grad);
        if (h > best) best = h, memcpy(L->best, L->beta, (size_t)L->m * sizeof *L->beta);
        double g2 = 0;
        for (int64_t i = 0; i < L->m; i++) {
            if (L->beta[i] == 0 && L->grad[i] < 0) L->grad[i] = 0; /* projected */
            g2 += L->grad[i] * L->grad[i];
        }
        if (g2 == 0) break;
        double step = eta / sqrt(g2);
        for (int64_t i = 0; i < L->m; i++) {
            double b = L->beta[i] + step * L->grad[i];
            L->beta[i] = b > 0 ? b : 0;
        }
        eta *= 0.93;
    }
    return lagrange_value(L, lo, hi, L->best, c_f, 1, NULL);
}

static void lagrange_rows(const foil_verifier *v, Work *w, const float *lo, const float *hi, const float *C,
                          int64_t k, const FoilBoundsSplit *splits, int64_t n_splits, float *lb)
{
    const int64_t n = v->input_size, m = n_splits;
    Lagrange L = {n, m, malloc((size_t)(m * n) * sizeof(double)), malloc((size_t)m * sizeof(double)),
                  malloc((size_t)n * sizeof(double)), malloc((size_t)n * sizeof(double)),
                  malloc((size_t)m * sizeof(double)), malloc((size_t)m * sizeof(double)),
                  malloc((size_t)m * sizeof(double)), malloc((size_t)n * sizeof(double))};
    int ok = L.lam && L.c && L.a && L.coef && L.beta && L.best && L.grad && L.xs;
    FoilBoundsCtx ctx = {.lo = w->qlo, .hi = w->qhi, .T = w->T};
    for (int64_t i = 0; ok && i < m; i++) {
        int s = 0;
        while (s < v->n_slots && !(splits[i].at >= v->slots[s].off && splits[i].at < v->slots[s].off + v->slots[s].numel))
            s++;
        assert(s < v->n_slots);
        L.c[i] = foilBoundsRowLinear(v, &ctx, w->rows[0], s, NULL, splits[i].at - v->slots[s].off,
                                     splits[i].active ? -1.0 : 1.0, L.lam + i * n);
        if (!isfinite(L.c[i])) ok = 0;
    }
    for (int64_t r = 0; ok && r < k; r++) {
        double h = lagrange_row(v, w, &L, lo, hi, C + r * v->classes);
        float f = foilRoundDown(h);
        if (f > lb[r]) lb[r] = f;
    }
    free(L.lam), free(L.c), free(L.a), free(L.coef), free(L.beta), free(L.best), free(L.grad), free(L.xs);
}

/* Plain IBP over the box [lo, hi] into v's cache (kept while the box is the same). */
static foil_status plain_cache(foil_verifier *v, const float *lo, const float *hi)
{
    const int64_t f = v->input_size, N = v->total_numel;
    if (v->pc_valid && memcmp(v->pc_lo, lo, (size_t)f * sizeof *lo) == 0 &&
        memcmp(v->pc_hi, hi, (size_t)f * sizeof *hi) == 0)
        return FOIL_OK;
    v->pc_valid = 0;
    if (!v->pc_lo) {
        v->pc_lo = malloc((size_t)f * sizeof *v->pc_lo), v->pc_hi = malloc((size_t)f * sizeof *v->pc_hi);
        v->pc_plo = malloc((size_t)N * sizeof *v->pc_plo), v->pc_phi = malloc((size_t)N * sizeof *v->pc_phi);
        v->pc_T = malloc((size_t)N * sizeof *v->pc_T);
    }
    if (!v->pc_lo || !v->pc_hi || !v->pc_plo || !v->pc_phi || !v->pc_T) {
        free(v->pc_lo), free(v->pc_hi), free(v->pc_plo), free(v->pc_phi), free(v->pc_T);
        v->pc_lo = v->pc_hi = v->pc_plo = v->pc_phi = NULL, v->pc_T = NULL;
        return foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    memcpy(v->pc_lo, lo, (size_t)f * sizeof *lo), memcpy(v->pc_hi, hi, (size_t)f * sizeof *hi);
    memcpy(v->pc_plo, lo, (size_t)f * sizeof *lo), memcpy(v->pc_phi, hi, (size_t)f * sizeof *hi);
    for (int i = 0; i < v->n_layers; i++) foilBoundsIbp(v, &v->layers[i], v->pc_plo, v->pc_phi, v->pc_T);
    v->pc_valid = 1;
    return FOIL_OK;
}

foil_status foilBoundsSplitCompute(foil_verifier *v, const foil_bounds_options *o, const float *lo, const float *hi,
                                   const float *C, int64_t k, const FoilBoundsSplit *splits, int64_t n_splits,
                                   const float *parent_qlo, const float *parent_qhi, int keep_intermediate,
                                   const double *enough, float *lb, float *ub, float *qlo, float *qhi, int *empty)
{
    assert(o && o->method == FOIL_BOUNDS_CROWN && !o->crown_only && C && k >= 1);
    foil_status st = check_box(v, 0, lo, hi);
    if (st) return st;
    for (int64_t t = 0; t < n_splits; t++) {
        int64_t j = splits[t].at;
        if (j < 0 || j >= v->total_numel) return foil_error(FOIL_ERR_ARG, "%s: a ReLU split outside the network", v->path);
    }
    if ((st = plain_cache(v, lo, hi))) return st;
    Work w = {0};
    if ((st = work_alloc(v, &w))) return st;
    w.keep_intermediate = keep_intermediate, w.enough = enough;
    double *dl = malloc((size_t)(2 * k) * sizeof *dl);
    if (!dl) {
        work_free(&w);
        return foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    *empty = 0;
    int start = 0;
    if (parent_qlo && parent_qhi && n_splits > 0) {
        const int64_t at = splits[n_splits - 1].at;
        int s = 0;
        while (s < v->n_slots && !(at >= v->slots[s].off && at < v->slots[s].off + v->slots[s].numel)) s++;
        if (s < v->n_slots && v->slots[s].producer >= 0) {
            start = v->slots[s].producer + 1;
            memcpy(w.qlo, parent_qlo, (size_t)v->total_numel * sizeof *w.qlo);
            memcpy(w.qhi, parent_qhi, (size_t)v->total_numel * sizeof *w.qhi);
        }
    }
    one_example(v, &w, o, lo, hi, C, k, lb, ub, dl, dl + k, splits, n_splits, empty, start);
    if (*empty) {
        for (int64_t r = 0; r < k; r++) lb[r] = INFINITY, ub[r] = -INFINITY;
    } else {
        if (n_splits && !o->alpha_steps) lagrange_rows(v, &w, lo, hi, C, k, splits, n_splits, lb);
        if (qlo && qhi) {
            memcpy(qlo, w.qlo, (size_t)v->total_numel * sizeof *qlo);
            memcpy(qhi, w.qhi, (size_t)v->total_numel * sizeof *qhi);
        }
    }
    free(dl);
    work_free(&w);
    return FOIL_OK;
}

foil_status foilBoundsSplitScores(foil_verifier *v, const float *lo, const float *hi, const float *qlo,
                                  const float *qhi, const float *coef, float *score)
{
    /* error weights of plain IBP over the box (only the pass's error terms use them) */
    const int64_t N = v->total_numel;
    double *lam = malloc((size_t)v->max_numel * sizeof *lam);
    FoilBoundsRow *row = foilBoundsRowNew(v);
    foil_status st = plain_cache(v, lo, hi);
    if (!st && (!lam || !row)) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    if (st) goto out;
    FoilBoundsCtx ctx = {.lo = qlo, .hi = qhi, .T = v->pc_T};
    (void)foilBoundsRowLower(v, &ctx, row, v->output, coef, 0, 1.0);
    memset(score, 0, (size_t)N * sizeof *score);
    for (int i = 0; i < v->n_layers; i++) {
        const FoilBoundsLayer *L = &v->layers[i];
        if (L->kind != FOIL_BL_RELU) continue;
        const FoilBoundsSlot *in = &v->slots[L->in[0]];
        foilBoundsRowSlotLam(v, row, L->out, lam);
        for (int64_t j = 0; j < in->numel; j++) {
            double l = qlo[in->off + j], u = qhi[in->off + j];
            if (!(l < 0 && u > 0)) continue;
            double icpt = -l * u / (u - l);
            score[in->off + j] = (float)(fabs(lam[j]) * icpt + 1e-4 * icpt);
        }
    }
out:
    free(lam);
    foilBoundsRowFree(row);
    return st;
}

double foilBoundsSplitTry(foil_verifier *v, FoilBoundsRow *row, float *qlo, float *qhi, const float *coef, int64_t j,
                          int active)
{
    float saved = active ? qlo[j] : qhi[j];
    if (active) qlo[j] = 0.0f;
    else qhi[j] = 0.0f;
    FoilBoundsCtx ctx = {.lo = qlo, .hi = qhi, .T = v->pc_T};
    double lower = foilBoundsRowLower(v, &ctx, row, v->output, coef, 0, 1.0);
    if (active) qlo[j] = saved;
    else qhi[j] = saved;
    return lower;
}
