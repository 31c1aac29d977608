/*
 * verify/crown.c - CROWN's backward linear relaxation (Zhang et al. 2018),
 * one row at a time (verify/verify_internal.h; foil/verify.h is the design).
 *
 * A row is a linear function lam . h of one slot h (a spec row on the
 * logits, or +-1 on one neuron). Walking the layers backward, we keep
 *
 *     row(x) >= sum_s lam_s . h_s + d          for every x in the box,
 *
 * over the slots s reached so far, replacing each layer's output by its
 * input:
 *   affine     y = A x + b:   lam_y . y = (lam_y A) . x + lam_y . b
 *   Relu       lam >= 0: relu(z) >= alpha z, alpha = 1 if u > -l else 0
 *              lam <  0: relu(z) <= s (z - l), s = u / (u - l)   (l < 0 < u)
 *              (stable neurons: z or 0, exactly)
 *   MaxPool    lam >= 0: max >= x_j*, j* the input with the largest l
 *              lam <  0: max <= x_j* when l_j* >= u_j for every other j,
 *                        else max <= max_j u_j (a constant)
 * and at the input, lam . x >= sum_j lam_j (lam_j >= 0 ? lo_j : hi_j).
 * The upper bound of a row is minus the lower bound of its negation.
 *
 * Rows are sparse where they can be: lam of a slot lives in a window
 * (a box of channels x rows x columns) that grows as the row flows back
 * through convolutions and pools, so the bounds of one neuron of a conv
 * layer touch only its receptive field (auto_LiRPA's "patches" serve the
 * same purpose). A row never allocates: its buffers are sized once.
 *
 * Floating point: every product and sum above is computed in double; the
 * row also accumulates A = sum over layers of sum_i |lam_i| T_i and
 * B = sum |lam_j| M_j at concretization, and its lower bound is reduced by
 * gamma (A + B + |S| + |d|), which bounds all of the rounding (see
 * verify_internal.h). Relu's slope s is rounded up (a steeper line through
 * (l, 0) is still above relu on [l, u]).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "verify/verify_internal.h"

typedef struct Win {
    int64_t c0, c1, h0, h1, w0, w1; /* half-open */
} Win;

struct FoilBoundsRow {
    double *lam;          /* total_numel: slot s's window data at slots[s].off */
    double *tmp;          /* max_numel */
    Win *win;
    unsigned char *has;
    unsigned char *seen;  /* n_slots: the last pass propagated through the slot */
    double d, A, B;
};

FoilBoundsRow *foilBoundsRowNew(const foil_verifier *v)
{
    FoilBoundsRow *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->lam = malloc((size_t)v->total_numel * sizeof *r->lam);
    r->tmp = malloc((size_t)v->max_numel * sizeof *r->tmp);
    r->win = calloc((size_t)v->n_slots, sizeof *r->win);
    r->has = calloc((size_t)v->n_slots, 1);
    r->seen = calloc((size_t)v->n_slots, 1);
    if (!r->lam || !r->tmp || !r->win || !r->has || !r->seen) {
        foilBoundsRowFree(r);
        return NULL;
    }
    return r;
}

void foilBoundsRowFree(FoilBoundsRow *r)
{
    if (!r) return;
    free(r->lam);
    free(r->tmp);
    free(r->win);
    free(r->has);
    free(r->seen);
    free(r);
}

static inline int64_t win_size(const Win *w) { return (w->c1 - w->c0) * (w->h1 - w->h0) * (w->w1 - w->w0); }
static inline int64_t win_at(const Win *w, int64_t c, int64_t h, int64_t x)
{
    return ((c - w->c0) * (w->h1 - w->h0) + (h - w->h0)) * (w->w1 - w->w0) + (x - w->w0);
}
/* for every (c, h, x) of window w, in memory order */
#define WIN_FOREACH(w, c, h, x)                       \
    for (int64_t c = (w).c0; c < (w).c1; c++)         \
        for (int64_t h = (w).h0; h < (w).h1; h++)     \
            for (int64_t x = (w).w0; x < (w).w1; x++)

static inline Win full_win(const FoilBoundsSlot *s) { return (Win){0, s->c, 0, s->h, 0, s->w}; }
static inline int win_is_full(const Win *w, const FoilBoundsSlot *s)
{
    return w->c0 == 0 && w->c1 == s->c && w->h0 == 0 && w->h1 == s->h && w->w0 == 0 && w->w1 == s->w;
}

/* Make slot s's window cover want (zeroed where new); returns its data. */
static double *ensure(const foil_verifier *v, FoilBoundsRow *r, int s, Win want)
{
    double *data = r->lam + v->slots[s].off;
    if (!r->has[s]) {
        r->has[s] = 1;
        r->win[s] = want;
        memset(data, 0, (size_t)win_size(&want) * sizeof *data);
        return data;
    }
    Win *o = &r->win[s];
    if (want.c0 >= o->c0 && want.c1 <= o->c1 && want.h0 >= o->h0 && want.h1 <= o->h1 && want.w0 >= o->w0 &&
        want.w1 <= o->w1)
        return data;
    Win u = {want.c0 < o->c0 ? want.c0 : o->c0, want.c1 > o->c1 ? want.c1 : o->c1,
             want.h0 < o->h0 ? want.h0 : o->h0, want.h1 > o->h1 ? want.h1 : o->h1,
             want.w0 < o->w0 ? want.w0 : o->w0, want.w1 > o->w1 ? want.w1 : o->w1};
    int64_t n = win_size(o);
    memcpy(r->tmp, data, (size_t)n * sizeof *data);
    memset(data, 0, (size_t)win_size(&u) * sizeof *data);
    WIN_FOREACH (*o, c, h, x) data[win_at(&u, c, h, x)] = r->tmp[win_at(o, c, h, x)];
    *o = u;
    return data;
}

/* The input window that a window of outputs reads through geometry g
 * (rows and columns; clipped to the input). */
static void window_back(const FoilBoundsGeom *g, const Win *wo, const FoilBoundsSlot *in, Win *wi)
{
    int64_t h0 = wo->h0 * g->sh - g->ph, h1 = (wo->h1 - 1) * g->sh - g->ph + (g->kh - 1) * g->dh + 1;
    int64_t w0 = wo->w0 * g->sw - g->pw, w1 = (wo->w1 - 1) * g->sw - g->pw + (g->kw - 1) * g->dw + 1;
    wi->h0 = h0 < 0 ? 0 : h0;
    wi->h1 = h1 > in->h ? in->h : h1;
    wi->w0 = w0 < 0 ? 0 : w0;
    wi->w1 = w1 > in->w ? in->w : w1;
    if (wi->h1 <= wi->h0) wi->h0 = 0, wi->h1 = 1; /* an all-padding window: keep it valid (reads nothing) */
    if (wi->w1 <= wi->w0) wi->w0 = 0, wi->w1 = 1;
}

static void back_conv(const foil_verifier *v, const FoilBoundsCtx *ctx, FoilBoundsRow *r, const FoilBoundsLayer *L)
{
    const FoilBoundsSlot *in = &v->slots[L->in[0]], *out = &v->slots[L->out];
    const FoilBoundsGeom *g = &L->g;
    const Win wo = r->win[L->out];
    const double *lo = r->lam + out->off, *T = ctx->T + out->off;
    const int64_t cpg = in->c / g->group, opg = out->c / g->group;
    Win wi;
    window_back(g, &wo, in, &wi);
    wi.c0 = (wo.c0 / opg) * cpg;
    wi.c1 = ((wo.c1 - 1) / opg + 1) * cpg;
    double *li = ensure(v, r, L->in[0], wi);
    wi = r->win[L->in[0]];
    for (int64_t co = wo.c0; co < wo.c1; co++) {
        const int64_t c0 = (co / opg) * cpg;
        const double *wc = L->w + co * cpg * g->kh * g->kw;
        for (int64_t oh = wo.h0; oh < wo.h1; oh++)
            for (int64_t ow = wo.w0; ow < wo.w1; ow++) {
                double lam = lo[win_at(&wo, co, oh, ow)];
                if (lam == 0) continue;
                if (L->b) r->d += lam * L->b[co];
                r->A += fabs(lam) * T[(co * out->h + oh) * out->w + ow];
                for (int64_t ci = 0; ci < cpg; ci++)
                    for (int64_t kh = 0; kh < g->kh; kh++) {
                        int64_t ih = oh * g->sh - g->ph + kh * g->dh;
                        if (ih < 0 || ih >= in->h) continue;
                        const double *wk = wc + (ci * g->kh + kh) * g->kw;
                        double *row = li + win_at(&wi, c0 + ci, ih, wi.w0);
                        for (int64_t kw = 0; kw < g->kw; kw++) {
                            int64_t iw = ow * g->sw - g->pw + kw * g->dw;
                            if (iw < 0 || iw >= in->w) continue;
                            row[iw - wi.w0] += lam * wk[kw];
                        }
                    }
            }
    }
}

static void back_gemm(const foil_verifier *v, const FoilBoundsCtx *ctx, FoilBoundsRow *r, const FoilBoundsLayer *L)
{
    const FoilBoundsSlot *in = &v->slots[L->in[0]], *out = &v->slots[L->out];
    const Win wo = r->win[L->out];
    const double *lo = r->lam + out->off, *T = ctx->T + out->off;
    const int64_t K = in->numel;
    double *li = ensure(v, r, L->in[0], full_win(in)); /* a union with the whole slot is the whole slot */
    assert(win_is_full(&r->win[L->in[0]], in));
    for (int64_t o = wo.c0; o < wo.c1; o++) {
        double lam = lo[o - wo.c0];
        if (lam == 0) continue;
        if (L->b) r->d += lam * L->b[o];
        r->A += fabs(lam) * T[o];
        const double *w = L->w + o * K;
        for (int64_t k = 0; k < K; k++) li[k] += lam * w[k];
    }
}

/* Elementwise layers keep the window: AFFINE, ADD2, COPY between slots of
 * one shape, RELU. */
static void back_affine(const foil_verifier *v, const FoilBoundsCtx *ctx, FoilBoundsRow *r, const FoilBoundsLayer *L)
{
    const FoilBoundsSlot *out = &v->slots[L->out];
    const Win wo = r->win[L->out];
    const double *lo = r->lam + out->off, *T = ctx->T + out->off;
    double *li = ensure(v, r, L->in[0], wo);
    const Win wi = r->win[L->in[0]];
    WIN_FOREACH (wo, c, h, x) {
        double lam = lo[win_at(&wo, c, h, x)];
        if (lam == 0) continue;
        int64_t i = (c * out->h + h) * out->w + x;
        if (L->b) r->d += lam * L->b[i];
        r->A += fabs(lam) * T[i];
        li[win_at(&wi, c, h, x)] += lam * L->w[i];
    }
}

static void back_add2(const foil_verifier *v, const FoilBoundsCtx *ctx, FoilBoundsRow *r, const FoilBoundsLayer *L)
{
    const FoilBoundsSlot *out = &v->slots[L->out];
    const Win wo = r->win[L->out];
    const double *lo = r->lam + out->off, *T = ctx->T + out->off;
    for (int k = 0; k < 2; k++) {
        double *li = ensure(v, r, L->in[k], wo);
        const Win wi = r->win[L->in[k]];
        const double sign = k ? L->sign : 1.0;
        WIN_FOREACH (wo, c, h, x) {
            double lam = lo[win_at(&wo, c, h, x)];
            if (lam == 0) continue;
            if (k == 0) r->A += fabs(lam) * T[(c * out->h + h) * out->w + x];
            li[win_at(&wi, c, h, x)] += sign * lam;
        }
    }
}

static void back_copy(const foil_verifier *v, FoilBoundsRow *r, const FoilBoundsLayer *L)
{
    const FoilBoundsSlot *in = &v->slots[L->in[0]], *out = &v->slots[L->out];
    if (in->c == out->c && in->h == out->h && in->w == out->w) {
        const Win wo = r->win[L->out];
        const double *lo = r->lam + out->off;
        double *li = ensure(v, r, L->in[0], wo);
        const Win wi = r->win[L->in[0]];
        WIN_FOREACH (wo, c, h, x) li[win_at(&wi, c, h, x)] += lo[win_at(&wo, c, h, x)];
        return;
    }
    /* another shape, one memory order: both windows whole */
    const double *lo = ensure(v, r, L->out, full_win(out));
    double *li = ensure(v, r, L->in[0], full_win(in));
    for (int64_t i = 0; i < out->numel; i++) li[i] += lo[i];
}

static void back_relu(const foil_verifier *v, const FoilBoundsCtx *ctx, FoilBoundsRow *r, const FoilBoundsLayer *L)
{
    const FoilBoundsSlot *in = &v->slots[L->in[0]], *out = &v->slots[L->out];
    const Win wo = r->win[L->out];
    const double *lo = r->lam + out->off, *T = ctx->T + out->off;
    const float *zl = ctx->lo + in->off, *zu = ctx->hi + in->off;
    double *li = ensure(v, r, L->in[0], wo);
    const Win wi = r->win[L->in[0]];
    const double up = 1 + ldexp(1.0, -50);
    WIN_FOREACH (wo, c, h, x) {
        double lam = lo[win_at(&wo, c, h, x)];
        if (lam == 0) continue;
        int64_t i = (c * out->h + h) * out->w + x;
        float l = zl[i], u = zu[i];
        if (!(u > 0)) continue; /* inactive: relu(z) = 0 (bounds are never NaN: foilRoundDown/Up) */
        double *dst = &li[win_at(&wi, c, h, x)];
        if (l >= 0) { /* active: relu(z) = z */
            *dst += lam;
            r->A += fabs(lam) * T[i];
            continue;
        }
        if (lam >= 0) { /* lower line: alpha z, alpha in [0, 1] */
            double a = u > -l ? 1.0 : 0.0;
            if (ctx->alpha) {
                double given = ctx->alpha[in->off + i];
                if (given >= 0 && given <= 1) a = given; /* else (NaN too) CROWN's */
                r->A += fabs(lam) * T[i];             /* the product lam * a is one more rounding */
            }
            *dst += lam * a;
            r->A += fabs(lam) * T[i];
            continue;
        }
        double s = (double)u / ((double)u - (double)l) * up; /* upper line s (z - l), s rounded up */
        *dst += lam * s;
        r->d -= lam * s * (double)l;
        r->A += fabs(lam) * s * (T[i] * 0.5 + fabs((double)l)) * up;
    }
}

static void back_pool(const foil_verifier *v, const FoilBoundsCtx *ctx, FoilBoundsRow *r, const FoilBoundsLayer *L)
{
    const FoilBoundsSlot *in = &v->slots[L->in[0]], *out = &v->slots[L->out];
    const FoilBoundsGeom *g = &L->g;
    const Win wo = r->win[L->out];
    const double *lo = r->lam + out->off, *T = ctx->T + out->off;
    const float *xl = ctx->lo + in->off, *xu = ctx->hi + in->off;
    const int maxpool = L->kind == FOIL_BL_MAXPOOL;
    Win wi;
    window_back(g, &wo, in, &wi);
    wi.c0 = wo.c0;
    wi.c1 = wo.c1;
    double *li = ensure(v, r, L->in[0], wi);
    wi = r->win[L->in[0]];
    for (int64_t c = wo.c0; c < wo.c1; c++)
        for (int64_t oh = wo.h0; oh < wo.h1; oh++)
            for (int64_t ow = wo.w0; ow < wo.w1; ow++) {
                double lam = lo[win_at(&wo, c, oh, ow)];
                if (lam == 0) continue;
                int64_t i = (c * out->h + oh) * out->w + ow;
                r->A += fabs(lam) * T[i];
                if (maxpool) {
                    /* j*: the first input with the largest lower bound (as
                     * torch's max_pool2d picks it); the largest upper bound
                     * of the others, and of all */
                    int64_t best = -1, bh = 0, bw = 0;
                    float bl = -INFINITY, others = -INFINITY, all = -INFINITY;
                    for (int pass = 0; pass < 2; pass++)
                        FOIL_BOUNDS_TAPS (g, in, oh, ow, kh, kw, ih, iw) {
                            int64_t j = (c * in->h + ih) * in->w + iw;
                            if (pass == 0) {
                                if (best < 0 || xl[j] > bl) best = j, bl = xl[j], bh = ih, bw = iw;
                                if (xu[j] > all) all = xu[j];
                            } else if (j != best && xu[j] > others) {
                                others = xu[j];
                            }
                        }
                    if (best < 0) continue; /* a window of padding only: no input */
                    if (lam >= 0 || bl >= others) {
                        li[win_at(&wi, c, bh, bw)] += lam;
                    } else {
                        r->d += lam * (double)all;
                        r->A += fabs(lam) * fabs((double)all);
                    }
                } else {
                    int64_t count = foilBoundsPoolCount(g, in, oh, ow);
                    double share = count ? lam / (double)count : 0.0;
                    FOIL_BOUNDS_TAPS (g, in, oh, ow, kh, kw, ih, iw)
                        li[win_at(&wi, c, ih, iw)] += share;
                }
            }
}

/* lam . h >= sum lam_j (lam_j >= 0 ? lo_j : hi_j) over slot s's bounds. */
static double concretize(const foil_verifier *v, const FoilBoundsCtx *ctx, FoilBoundsRow *r, int s)
{
    const FoilBoundsSlot *sl = &v->slots[s];
    const Win w = r->win[s];
    const double *lam = r->lam + sl->off;
    const float *lo = ctx->lo + sl->off, *hi = ctx->hi + sl->off;
    double S = 0;
    WIN_FOREACH (w, c, h, x) {
        double l = lam[win_at(&w, c, h, x)];
        if (l == 0) continue;
        int64_t j = (c * sl->h + h) * sl->w + x;
        S += l * (double)(l > 0 ? lo[j] : hi[j]);
        r->B += fabs(l) * foilMag(lo[j], hi[j]);
    }
    r->has[s] = 0;
    return S;
}

/* The backward pass of a row down to the input: returns what was
 * concretized before the input (stop_nonlinear), leaves the input's lam in
 * r (has[0], win[0]) and d, A in r. */
static double row_back(const foil_verifier *v, const FoilBoundsCtx *ctx, FoilBoundsRow *r, int target,
                       const float *coef, int64_t neuron, double scale);

double foilBoundsRowLower(const foil_verifier *v, const FoilBoundsCtx *ctx, FoilBoundsRow *r, int target,
                          const float *coef, int64_t neuron, double scale)
{
    double S = row_back(v, ctx, r, target, coef, neuron, scale);
    r->seen[0] = r->has[0];
    if (r->has[0]) S += concretize(v, ctx, r, 0);
    double err = v->gamma * (r->A + r->B + fabs(S) + fabs(r->d)) * (1 + 1e-9);
    double lower = S + r->d - err;
    return lower == lower ? lower : -INFINITY;
}

double foilBoundsRowLinear(const foil_verifier *v, const FoilBoundsCtx *ctx, FoilBoundsRow *r, int target,
                           const float *coef, int64_t neuron, double scale, double *lam)
{
    assert(!ctx->stop_nonlinear);
    const FoilBoundsSlot *in = &v->slots[0];
    double S = row_back(v, ctx, r, target, coef, neuron, scale);
    memset(lam, 0, (size_t)in->numel * sizeof *lam);
    double B = 0;
    r->seen[0] = r->has[0];
    if (r->has[0]) {
        const Win w = r->win[0];
        const double *src = r->lam + in->off;
        WIN_FOREACH (w, c, h, x) {
            int64_t j = (c * in->h + h) * in->w + x;
            lam[j] = src[win_at(&w, c, h, x)];
            B += fabs(lam[j]) * foilMag(ctx->lo[in->off + j], ctx->hi[in->off + j]);
        }
        r->has[0] = 0;
    }
    /* as foilBoundsRowLower's error with |S| <= B for every x of the box,
     * and what was concretized before the input counted as there */
    double err = v->gamma * (r->A + r->B + 2 * B + fabs(S) + fabs(r->d)) * (1 + 1e-9);
    double c = S + r->d - err;
    return c == c ? c : -INFINITY;
}

/* beta-CROWN's terms on slot s: beta_t (z_t or -z_t) for the splits there. */
static void add_split_terms(const foil_verifier *v, const FoilBoundsCtx *ctx, FoilBoundsRow *r, int s)
{
    const FoilBoundsSlot *sl = &v->slots[s];
    for (int64_t t = 0; t < ctx->n_splits; t++) {
        int64_t j = ctx->splits[t].at - sl->off;
        if (j < 0 || j >= sl->numel || !(ctx->beta[t] > 0)) continue;
        int64_t c = j / (sl->h * sl->w), h = (j / sl->w) % sl->h, x = j % sl->w;
        double *lam = ensure(v, r, s, (Win){c, c + 1, h, h + 1, x, x + 1});
        lam[win_at(&r->win[s], c, h, x)] += ctx->splits[t].active ? -ctx->beta[t] : ctx->beta[t];
    }
}

static double row_back(const foil_verifier *v, const FoilBoundsCtx *ctx, FoilBoundsRow *r, int target,
                       const float *coef, int64_t neuron, double scale)
{
    const FoilBoundsSlot *ts = &v->slots[target];
    memset(r->has, 0, (size_t)v->n_slots);
    memset(r->seen, 0, (size_t)v->n_slots);
    r->d = r->A = r->B = 0;
    if (coef) {
        double *lam = ensure(v, r, target, full_win(ts));
        for (int64_t i = 0; i < ts->numel; i++) lam[i] = scale * (double)coef[i];
    } else {
        int64_t c = neuron / (ts->h * ts->w), h = (neuron / ts->w) % ts->h, x = neuron % ts->w;
        double *lam = ensure(v, r, target, (Win){c, c + 1, h, h + 1, x, x + 1});
        lam[0] = scale;
    }
    double S = 0;
    for (int k = ts->producer; k >= 0; k--) {
        const FoilBoundsLayer *L = &v->layers[k];
        if (ctx->beta) add_split_terms(v, ctx, r, L->out);
        if (!r->has[L->out]) continue;
        if (ctx->stop_nonlinear && (L->kind == FOIL_BL_RELU || L->kind == FOIL_BL_MAXPOOL)) {
            S += concretize(v, ctx, r, L->out);
            continue;
        }
        switch (L->kind) {
        case FOIL_BL_CONV: back_conv(v, ctx, r, L); break;
        case FOIL_BL_GEMM: back_gemm(v, ctx, r, L); break;
        case FOIL_BL_AFFINE: back_affine(v, ctx, r, L); break;
        case FOIL_BL_ADD2: back_add2(v, ctx, r, L); break;
        case FOIL_BL_COPY: back_copy(v, r, L); break;
        case FOIL_BL_RELU: back_relu(v, ctx, r, L); break;
        case FOIL_BL_AVGPOOL:
        case FOIL_BL_MAXPOOL: back_pool(v, ctx, r, L); break;
        }
        r->has[L->out] = 0;
        r->seen[L->out] = 1;
    }
    return S;
}

void foilBoundsRowSlotLam(const foil_verifier *v, const FoilBoundsRow *r, int s, double *lam)
{
    const FoilBoundsSlot *sl = &v->slots[s];
    memset(lam, 0, (size_t)sl->numel * sizeof *lam);
    if (!r->seen[s]) return;
    const Win w = r->win[s];
    const double *src = r->lam + sl->off;
    WIN_FOREACH (w, c, h, x) lam[(c * sl->h + h) * sl->w + x] = src[win_at(&w, c, h, x)];
}
