/*
 * verify/ibp.c - interval bound propagation through one layer (Gowal et
 * al. 2018), sound in floating point (verify/verify_internal.h says how).
 *
 * Every layer maps float bounds [lo, hi] of its inputs to float bounds of
 * its output. Affine layers use the positive and negative parts of each
 * coefficient: for y_i = sum_j a_ij x_j + b_i,
 *     lower_i = sum_j (a_ij > 0 ? a_ij lo_j : a_ij hi_j) + b_i
 *     upper_i = sum_j (a_ij > 0 ? a_ij hi_j : a_ij lo_j) + b_i
 * in double (a float times a float is exact in double), then
 *     lower_i - gamma T_i, upper_i + gamma T_i,  T_i = sum_j |a_ij| M_j + |b_i|
 * rounded outward to float. Relu and MaxPool are monotone: their bounds are
 * the op applied to the input's bounds, exactly.
 */
#include <math.h>
#include <string.h>

#include "verify/verify_internal.h"

/* Output i's bounds from its sums, and its error weight. */
static inline void finish(float *lo, float *hi, double *T, int64_t i, double acc_lo, double acc_hi, double t,
                          double gamma)
{
    lo[i] = foilRoundDown(acc_lo - gamma * t);
    hi[i] = foilRoundUp(acc_hi + gamma * t);
    if (T) T[i] = t;
}

static void ibp_conv(const foil_verifier *v, const FoilBoundsLayer *L, const float *xl, const float *xh, float *yl,
                     float *yh, double *T)
{
    const FoilBoundsSlot *in = &v->slots[L->in[0]], *out = &v->slots[L->out];
    const FoilBoundsGeom *g = &L->g;
    const int64_t cpg = in->c / g->group, opg = out->c / g->group;
#pragma omp parallel for schedule(static) if (out->numel > 4096)
    for (int64_t co = 0; co < out->c; co++) {
        const int64_t c0 = (co / opg) * cpg;
        const double *wc = L->w + co * cpg * g->kh * g->kw;
        for (int64_t oh = 0; oh < out->h; oh++)
            for (int64_t ow = 0; ow < out->w; ow++) {
                double b = L->b ? L->b[co] : 0.0;
                double al = b, ah = b, t = fabs(b);
                for (int64_t ci = 0; ci < cpg; ci++)
                    FOIL_BOUNDS_TAPS (g, in, oh, ow, kh, kw, ih, iw) {
                        double w = wc[(ci * g->kh + kh) * g->kw + kw];
                        if (w == 0) continue;
                        int64_t j = ((c0 + ci) * in->h + ih) * in->w + iw;
                        double l = xl[j], h = xh[j];
                        if (w > 0) al += w * l, ah += w * h;
                        else al += w * h, ah += w * l;
                        t += fabs(w) * foilMag(xl[j], xh[j]);
                    }
                finish(yl, yh, T, (co * out->h + oh) * out->w + ow, al, ah, t, v->gamma);
            }
    }
}

static void ibp_gemm(const foil_verifier *v, const FoilBoundsLayer *L, const float *xl, const float *xh, float *yl,
                     float *yh, double *T)
{
    const int64_t N = v->slots[L->out].numel, K = v->slots[L->in[0]].numel;
#pragma omp parallel for schedule(static) if (N * K > 65536)
    for (int64_t o = 0; o < N; o++) {
        const double *w = L->w + o * K;
        double b = L->b ? L->b[o] : 0.0;
        double al = b, ah = b, t = fabs(b);
        for (int64_t k = 0; k < K; k++) {
            if (w[k] == 0) continue;
            if (w[k] > 0) al += w[k] * xl[k], ah += w[k] * xh[k];
            else al += w[k] * xh[k], ah += w[k] * xl[k];
            t += fabs(w[k]) * foilMag(xl[k], xh[k]);
        }
        finish(yl, yh, T, o, al, ah, t, v->gamma);
    }
}

static void ibp_affine(const foil_verifier *v, const FoilBoundsLayer *L, const float *xl, const float *xh, float *yl,
                       float *yh, double *T)
{
    const int64_t n = v->slots[L->out].numel;
    for (int64_t i = 0; i < n; i++) {
        double a = L->w[i], b = L->b ? L->b[i] : 0.0;
        double l = a == 0 ? 0 : a * (a > 0 ? xl[i] : xh[i]), h = a == 0 ? 0 : a * (a > 0 ? xh[i] : xl[i]);
        double t = fabs(a) * (foilMag(xl[i], xh[i]) + (L->ext ? L->ext[i] : 0)) + fabs(b);
        finish(yl, yh, T, i, l + b, h + b, t, v->gamma);
    }
}

static void ibp_add2(const foil_verifier *v, const FoilBoundsLayer *L, const float *lo, const float *hi, float *yl,
                     float *yh, double *T)
{
    const FoilBoundsSlot *a = &v->slots[L->in[0]], *b = &v->slots[L->in[1]];
    const int64_t n = v->slots[L->out].numel;
    for (int64_t i = 0; i < n; i++) {
        double al = lo[a->off + i], ah = hi[a->off + i], bl = lo[b->off + i], bh = hi[b->off + i];
        double l = L->sign > 0 ? al + bl : al - bh, h = L->sign > 0 ? ah + bh : ah - bl;
        finish(yl, yh, T, i, l, h, foilMag((float)al, (float)ah) + foilMag((float)bl, (float)bh), v->gamma);
    }
}

static void ibp_pool(const foil_verifier *v, const FoilBoundsLayer *L, const float *xl, const float *xh, float *yl,
                     float *yh, double *T)
{
    const FoilBoundsSlot *in = &v->slots[L->in[0]], *out = &v->slots[L->out];
    const FoilBoundsGeom *g = &L->g;
    const int maxpool = L->kind == FOIL_BL_MAXPOOL;
    for (int64_t c = 0; c < out->c; c++)
        for (int64_t oh = 0; oh < out->h; oh++)
            for (int64_t ow = 0; ow < out->w; ow++) {
                const int64_t i = (c * out->h + oh) * out->w + ow;
                double al = maxpool ? -INFINITY : 0, ah = maxpool ? -INFINITY : 0, t = 0;
                FOIL_BOUNDS_TAPS (g, in, oh, ow, kh, kw, ih, iw) {
                    int64_t j = (c * in->h + ih) * in->w + iw;
                    double m = foilMag(xl[j], xh[j]);
                    if (maxpool) {
                        if (xl[j] > al) al = xl[j];
                        if (xh[j] > ah) ah = xh[j];
                        if (2 * m > t) t = 2 * m;
                    } else {
                        al += xl[j], ah += xh[j], t += m;
                    }
                }
                if (maxpool) {
                    yl[i] = (float)al; /* a float already: exact */
                    yh[i] = (float)ah;
                    if (T) T[i] = t;
                } else {
                    int64_t count = foilBoundsPoolCount(g, in, oh, ow);
                    double inv = count ? 1.0 / (double)count : 0.0;
                    finish(yl, yh, T, i, al * inv, ah * inv, t * inv, v->gamma);
                }
            }
}

void foilBoundsIbp(const foil_verifier *v, const FoilBoundsLayer *L, float *lo, float *hi, double *T)
{
    const FoilBoundsSlot *in = &v->slots[L->in[0]], *out = &v->slots[L->out];
    const float *xl = lo + in->off, *xh = hi + in->off;
    float *yl = lo + out->off, *yh = hi + out->off;
    double *t = T ? T + out->off : NULL;
    switch (L->kind) {
    case FOIL_BL_CONV: ibp_conv(v, L, xl, xh, yl, yh, t); break;
    case FOIL_BL_GEMM: ibp_gemm(v, L, xl, xh, yl, yh, t); break;
    case FOIL_BL_AFFINE: ibp_affine(v, L, xl, xh, yl, yh, t); break;
    case FOIL_BL_ADD2: ibp_add2(v, L, lo, hi, yl, yh, t); break;
    case FOIL_BL_COPY:
        memcpy(yl, xl, (size_t)out->numel * sizeof *yl);
        memcpy(yh, xh, (size_t)out->numel * sizeof *yh);
        if (t) memset(t, 0, (size_t)out->numel * sizeof *t);
        break;
    case FOIL_BL_RELU:
        for (int64_t i = 0; i < out->numel; i++) {
            yl[i] = xl[i] > 0 ? xl[i] : 0.0f;
            yh[i] = xh[i] > 0 ? xh[i] : 0.0f;
            if (t) t[i] = 2 * foilMag(xl[i], xh[i]); /* |slope| M + |slope l| <= 2 M */
        }
        break;
    case FOIL_BL_AVGPOOL:
    case FOIL_BL_MAXPOOL: ibp_pool(v, L, xl, xh, yl, yh, t); break;
    }
}
