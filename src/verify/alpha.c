/*
 * verify/alpha.c - optimized ReLU lower slopes for the bounds of spec rows,
 * the optimization of alpha-CROWN (Xu et al. 2021, "Fast and Complete"):
 * every slope alpha in [0, 1] of a lower line relu(z) >= alpha z gives a
 * sound bound, so the slopes are free parameters, and projected gradient
 * ascent (Adam, as auto_LiRPA's 'optimized' bounds use) looks for the
 * tightest. The first point is CROWN's choice and the best bound seen is
 * kept, so the result is never looser than CROWN's.
 *
 * Each row bounded (a spec row, or one intermediate neuron's lower or
 * upper bound) gets its own slopes, as in the paper. With ReLU splits
 * (branch and bound), the splits' multipliers of beta-CROWN (Wang et al.
 * 2021) are optimized jointly with the slopes for the spec rows.
 *
 * The gradient. With the row's signs fixed, its lower bound is the
 * minimum over the box of its linear lower form f(x), and f(x) is the
 * network with every relaxed ReLU replaced by the line the backward pass
 * chose, evaluated at x: f(x) = lam_y . y + (terms without alpha_j) with
 * y_j = alpha_j z_j(x), lam_y the row's coefficients on that ReLU's output
 * and z_j(x) computed through earlier layers only. At the box's minimizer
 * x* (lo where the input's coefficient is >= 0, else hi) the derivative in
 * alpha_j is therefore lam_y_j z_j(x*) (the envelope theorem), with z(x*)
 * from one forward pass through the lines (in double, point_layer).
 * MaxPool stays the true max in that pass (its lines are not followed:
 * the gradient is approximate there, the bound is not).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "verify/verify_internal.h"

typedef struct AlphaWork {
    double *cur, *grad, *m, *s, *lam;
    double *val;  /* the forward pass through the lines, total_numel */
} AlphaWork;

static void alpha_work_free(AlphaWork *a)
{
    free(a->cur), free(a->grad), free(a->m), free(a->s), free(a->lam), free(a->val);
}

static int alpha_work_alloc(const foil_verifier *v, AlphaWork *a)
{
    size_t n = (size_t)v->total_numel;
    a->cur = malloc(n * sizeof *a->cur), a->grad = calloc(n, sizeof *a->grad);
    a->m = calloc(n, sizeof *a->m), a->s = calloc(n, sizeof *a->s);
    a->lam = malloc((size_t)v->max_numel * sizeof *a->lam);
    a->val = malloc(n * sizeof *a->val);
    if (a->cur && a->grad && a->m && a->s && a->lam && a->val) return 1;
    alpha_work_free(a);
    return 0;
}

/* CROWN's slopes: 1 where u > -l, else 0 (only unstable inputs matter). */
static void crown_slopes(const foil_verifier *v, const FoilBoundsCtx *ctx, double *alpha)
{
    for (int i = 0; i < v->n_layers; i++) {
        const FoilBoundsLayer *L = &v->layers[i];
        if (L->kind != FOIL_BL_RELU) continue;
        const FoilBoundsSlot *in = &v->slots[L->in[0]];
        for (int64_t j = in->off; j < in->off + in->numel; j++) alpha[j] = ctx->hi[j] > -ctx->lo[j] ? 1.0 : 0.0;
    }
}

/* One layer at a point, in double (a gradient, not a bound: no rounding
 * terms); val holds every slot, per-example offsets. Not RELU. */
static void point_layer(const foil_verifier *v, const FoilBoundsLayer *L, double *val)
{
    const FoilBoundsSlot *in = &v->slots[L->in[0]], *out = &v->slots[L->out];
    const double *x = val + in->off;
    double *y = val + out->off;
    const FoilBoundsGeom *g = &L->g;
    switch (L->kind) {
    case FOIL_BL_CONV: {
        const int64_t cpg = in->c / g->group, opg = out->c / g->group;
        for (int64_t co = 0; co < out->c; co++) {
            const int64_t c0 = (co / opg) * cpg;
            const double *wc = L->w + co * cpg * g->kh * g->kw;
            for (int64_t oh = 0; oh < out->h; oh++)
                for (int64_t ow = 0; ow < out->w; ow++) {
                    double acc = L->b ? L->b[co] : 0.0;
                    for (int64_t ci = 0; ci < cpg; ci++)
                        FOIL_BOUNDS_TAPS (g, in, oh, ow, kh, kw, ih, iw)
                            acc += wc[(ci * g->kh + kh) * g->kw + kw] * x[((c0 + ci) * in->h + ih) * in->w + iw];
                    y[(co * out->h + oh) * out->w + ow] = acc;
                }
        }
        break;
    }
    case FOIL_BL_GEMM:
        for (int64_t o = 0; o < out->numel; o++) {
            const double *w = L->w + o * in->numel;
            double acc = 0;
#pragma omp simd reduction(+ : acc)
            for (int64_t k = 0; k < in->numel; k++) acc += w[k] * x[k];
            y[o] = acc + (L->b ? L->b[o] : 0.0);
        }
        break;
    case FOIL_BL_AFFINE:
        for (int64_t i = 0; i < out->numel; i++) y[i] = L->w[i] * x[i] + (L->b ? L->b[i] : 0.0);
        break;
    case FOIL_BL_ADD2: {
        const double *x1 = val + v->slots[L->in[1]].off;
        for (int64_t i = 0; i < out->numel; i++) y[i] = x[i] + L->sign * x1[i];
        break;
    }
    case FOIL_BL_COPY: memcpy(y, x, (size_t)out->numel * sizeof *y); break;
    case FOIL_BL_AVGPOOL:
    case FOIL_BL_MAXPOOL:
        for (int64_t c = 0; c < out->c; c++)
            for (int64_t oh = 0; oh < out->h; oh++)
                for (int64_t ow = 0; ow < out->w; ow++) {
                    double acc = L->kind == FOIL_BL_MAXPOOL ? -INFINITY : 0;
                    FOIL_BOUNDS_TAPS (g, in, oh, ow, kh, kw, ih, iw) {
                        double e = x[(c * in->h + ih) * in->w + iw];
                        if (L->kind == FOIL_BL_AVGPOOL) acc += e;
                        else if (e > acc) acc = e;
                    }
                    if (L->kind == FOIL_BL_AVGPOOL) {
                        int64_t count = foilBoundsPoolCount(g, in, oh, ow);
                        acc = count ? acc / (double)count : 0.0;
                    }
                    y[(c * out->h + oh) * out->w + ow] = acc == -INFINITY ? 0.0 : acc;
                }
        break;
    case FOIL_BL_RELU: break;
    }
}

/* After a pass of r with slopes a->cur: the forward pass (layers up to
 * `last`) through the pass's lines at the box's minimizer, writing d bound / d alpha into
 * a->grad at every unstable Relu input the row's lower line used. */
static void slope_gradient(const foil_verifier *v, const FoilBoundsCtx *ctx, const FoilBoundsRow *r, int last,
                           AlphaWork *a)
{
    const FoilBoundsSlot *x = &v->slots[0];
    foilBoundsRowSlotLam(v, r, 0, a->lam);
    for (int64_t j = 0; j < x->numel; j++) {
        double lo = ctx->lo[x->off + j], hi = ctx->hi[x->off + j];
        a->val[x->off + j] = a->lam[j] > 0 ? lo : a->lam[j] < 0 ? hi : 0.5 * (lo + hi);
    }
    for (int i = 0; i <= last; i++) {
        const FoilBoundsLayer *L = &v->layers[i];
        if (L->kind != FOIL_BL_RELU) {
            point_layer(v, L, a->val);
            continue;
        }
        const FoilBoundsSlot *in = &v->slots[L->in[0]], *out = &v->slots[L->out];
        foilBoundsRowSlotLam(v, r, L->out, a->lam);
        for (int64_t j = 0; j < in->numel; j++) {
            const int64_t q = in->off + j;
            const double z = a->val[q], l = ctx->lo[q], u = ctx->hi[q];
            double y;
            a->grad[q] = 0;
            if (!(u > 0)) y = 0;
            else if (l >= 0) y = z;
            else if (a->lam[j] >= 0) y = a->cur[q] * z, a->grad[q] = a->lam[j] * z;
            else y = u / (u - l) * (z - l);
            a->val[out->off + j] = y;
        }
    }
}

/* Joint projected Adam on the slopes (in [0, 1], from CROWN's) and the
 * splits' multipliers (>= 0, from 0) for the row (target, coef, neuron,
 * scale) of foilBoundsRowLower; the best bound seen, stopping early once
 * it exceeds `enough`. */
static double optimize(const foil_verifier *v, const FoilBoundsCtx *ctx, FoilBoundsRow *r, int target,
                       const float *coef, int64_t neuron, double scale, int steps, double enough,
                       const FoilBoundsSplit *splits, int64_t n_splits)
{
    FoilBoundsCtx c = *ctx;
    c.stop_nonlinear = 0, c.alpha = NULL, c.beta = NULL, c.splits = splits, c.n_splits = n_splits;
    AlphaWork a = {0};
    double *beta = n_splits ? calloc((size_t)(3 * n_splits), sizeof *beta) : NULL;
    if (steps <= 0 || !alpha_work_alloc(v, &a) || (n_splits && !beta)) {
        free(beta);
        return foilBoundsRowLower(v, &c, r, target, coef, neuron, scale);
    }
    double *bm = beta ? beta + n_splits : NULL, *bs = beta ? beta + 2 * n_splits : NULL;
    const int64_t N = v->total_numel;
    crown_slopes(v, ctx, a.cur);
    c.alpha = a.cur, c.beta = beta;
    /* alpha-beta-CROWN's defaults: Adam, lr 0.1 for the slopes and 0.05 for
     * the multipliers, decaying by 0.98 a step */
    const double beta1 = 0.9, beta2 = 0.999;
    double lr = 0.1, best = -INFINITY, p1 = 1, p2 = 1;
    for (int t = 0;; t++) {
        double lower = foilBoundsRowLower(v, &c, r, target, coef, neuron, scale);
        if (lower > best) best = lower;
        if (t == steps || best > enough) break;
        slope_gradient(v, &c, r, v->slots[target].producer, &a);
        p1 *= beta1, p2 *= beta2;
        for (int64_t q = 0; q < N; q++) {
            double g = a.grad[q];
            if (g == 0 && a.m[q] == 0) continue;
            a.m[q] = beta1 * a.m[q] + (1 - beta1) * g;
            a.s[q] = beta2 * a.s[q] + (1 - beta2) * g * g;
            double next = a.cur[q] + lr * (a.m[q] / (1 - p1)) / (sqrt(a.s[q] / (1 - p2)) + 1e-8);
            a.cur[q] = next < 0 ? 0 : next > 1 ? 1 : next; /* ascent: the bound grows with g */
        }
        for (int64_t i = 0; i < n_splits; i++) { /* d bound / d beta_i: the split's term at x* */
            int64_t q = splits[i].at;
            double z = a.val[q], g = splits[i].active ? -z : z;
            bm[i] = beta1 * bm[i] + (1 - beta1) * g;
            bs[i] = beta2 * bs[i] + (1 - beta2) * g * g;
            double next = beta[i] + 0.5 * lr * (bm[i] / (1 - p1)) / (sqrt(bs[i] / (1 - p2)) + 1e-8);
            beta[i] = next > 0 ? next : 0;
        }
        lr *= 0.98;
    }
    alpha_work_free(&a);
    free(beta);
    return best;
}

double foilBoundsRowOptimized(const foil_verifier *v, const FoilBoundsCtx *ctx, FoilBoundsRow *r, int target,
                              const float *coef, int64_t neuron, double scale, int steps, double enough)
{
    return optimize(v, ctx, r, target, coef, neuron, scale, steps, enough, NULL, 0);
}

double foilBoundsRowOptimizedSplits(const foil_verifier *v, const FoilBoundsCtx *ctx, FoilBoundsRow *r,
                                    const float *coef, int steps, double enough, const FoilBoundsSplit *splits,
                                    int64_t n_splits)
{
    return optimize(v, ctx, r, v->output, coef, 0, 1.0, steps, enough, splits, n_splits);
}
