/*
 * defenses/tv_min.c - total-variation minimization (Guo, Rana, Cisse, van
 * der Maaten 2018, "Countering Adversarial Images using Input
 * Transformations"), a randomized preprocessor, with ART's defaults.
 *
 * Each channel x (h x w) of an image is replaced by
 *
 *   z* = argmin_z ||m * (z - x)||_2 + lambda * TV_p(z),
 *   TV_p(z) = sum_i ||z[i+1, :] - z[i, :]||_p + sum_j ||z[:, j+1] - z[:, j]||_p
 *
 * where m keeps each pixel with probability `prob`, drawn afresh on every
 * query (the random pixel dropout that makes the reconstruction hard to
 * differentiate and to predict), then clipped to the input range. Like
 * ART's TotalVarMin (prob 0.3, p = 2, lambda 0.5, 10 iterations of
 * scipy's L-BFGS-B from z = x), the problem is solved only roughly: here by
 * 10 iterations of L-BFGS (memory 10, backtracking Armijo line search)
 * from z = x. Unlike ART, whose derivative of the p = 2 term is p times too
 * large, the gradient here is the objective's own. No exact derivative
 * (backward NULL); BPDA: the identity, as Athalye et al. 2018 broke it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foil/defense.h"
#include "foil/rng.h"

#define LBFGS_MEMORY 10
#define NORM_FLOOR 1e-6

typedef struct tv_min {
    float prob, lambda;
    int norm, iterations;
    int64_t c, h, w;
    float lo, hi;
    uint64_t seed, draws;
    char name[48];
} tv_min;

/* The objective at z for one channel (m = h * w values), and its gradient. */
static double tv_objective(const tv_min *t, const double *z, const double *x, const unsigned char *mask, double *g)
{
    const int64_t h = t->h, w = t->w, m = h * w;
    double fid = 0;
    for (int64_t k = 0; k < m; k++) fid += mask[k] ? (z[k] - x[k]) * (z[k] - x[k]) : 0;
    fid = sqrt(fid);
    const double denom = fid > NORM_FLOOR ? fid : NORM_FLOOR;
    for (int64_t k = 0; k < m; k++) g[k] = mask[k] ? (z[k] - x[k]) / denom : 0;
    double tv = 0;
    /* pass 0: for each row i, the vector z[i+1, :] - z[i, :] (over columns);
     * pass 1: for each column j, z[:, j+1] - z[:, j] (over rows) */
    for (int pass = 0; pass < 2; pass++) {
        const int64_t outer = pass ? w - 1 : h - 1, inner = pass ? h : w, next = pass ? 1 : w;
        for (int64_t a = 0; a < outer; a++) {
            double nrm = 0;
            for (int64_t b = 0; b < inner; b++) {
                int64_t k = pass ? b * w + a : a * w + b;
                double d = z[k + next] - z[k];
                nrm += t->norm == 1 ? fabs(d) : d * d;
            }
            if (t->norm == 2) nrm = sqrt(nrm);
            tv += nrm;
            for (int64_t b = 0; b < inner; b++) {
                int64_t k = pass ? b * w + a : a * w + b;
                double d = z[k + next] - z[k];
                double gd = t->norm == 1 ? (double)((d > 0) - (d < 0)) : d / (nrm > NORM_FLOOR ? nrm : NORM_FLOOR);
                g[k + next] += t->lambda * gd;
                g[k] -= t->lambda * gd;
            }
        }
    }
    return fid + t->lambda * tv;
}

static double dot(const double *a, const double *b, int64_t m)
{
    double s = 0;
    for (int64_t k = 0; k < m; k++) s += a[k] * b[k];
    return s;
}

/* The L-BFGS two-loop recursion: d = -H g from the stored pairs (s, y). */
static void lbfgs_direction(const double *g, double *const *s, double *const *y, const double *rho, int stored,
                            int newest, int64_t m, double *d)
{
    double alpha[LBFGS_MEMORY];
    for (int64_t k = 0; k < m; k++) d[k] = -g[k];
    for (int i = 0; i < stored; i++) {
        int j = (newest - i + LBFGS_MEMORY) % LBFGS_MEMORY;
        alpha[j] = rho[j] * dot(s[j], d, m);
        for (int64_t k = 0; k < m; k++) d[k] -= alpha[j] * y[j][k];
    }
    if (stored) {
        double gamma = dot(s[newest], y[newest], m) / dot(y[newest], y[newest], m);
        for (int64_t k = 0; k < m; k++) d[k] *= gamma;
    }
    for (int i = stored - 1; i >= 0; i--) {
        int j = (newest - i + LBFGS_MEMORY) % LBFGS_MEMORY;
        double beta = rho[j] * dot(y[j], d, m);
        for (int64_t k = 0; k < m; k++) d[k] += (alpha[j] - beta) * s[j][k];
    }
}

/* Minimize one channel in place: z starts as x. work holds 2 + 2 *
 * LBFGS_MEMORY + 3 vectors of m doubles. */
static void minimize_channel(const tv_min *t, const double *x, const unsigned char *mask, double *z, double *work)
{
    const int64_t m = t->h * t->w;
    double *g = work, *d = g + m, *zt = d + m, *gt = zt + m, *s[LBFGS_MEMORY], *y[LBFGS_MEMORY], rho[LBFGS_MEMORY];
    for (int i = 0; i < LBFGS_MEMORY; i++) s[i] = gt + m + (2 * i) * m, y[i] = gt + m + (2 * i + 1) * m;
    memcpy(z, x, (size_t)m * sizeof *z);
    double f = tv_objective(t, z, x, mask, g);
    int stored = 0, newest = LBFGS_MEMORY - 1;
    for (int it = 0; it < t->iterations; it++) {
        lbfgs_direction(g, s, y, rho, stored, newest, m, d);
        double slope = dot(g, d, m);
        if (!(slope < 0)) break; /* not a descent direction: stationary */
        double step = stored ? 1.0 : fmin(1.0, 1.0 / sqrt(dot(g, g, m)));
        double ft = f;
        int accepted = 0;
        for (int tries = 0; tries < 30 && !accepted; tries++, step *= 0.5) {
            for (int64_t k = 0; k < m; k++) zt[k] = z[k] + step * d[k];
            ft = tv_objective(t, zt, x, mask, gt);
            accepted = ft <= f + 1e-4 * step * slope;
        }
        if (!accepted) break;
        newest = (newest + 1) % LBFGS_MEMORY;
        for (int64_t k = 0; k < m; k++) s[newest][k] = zt[k] - z[k], y[newest][k] = gt[k] - g[k];
        double sy = dot(s[newest], y[newest], m);
        if (sy > 1e-12) {
            rho[newest] = 1.0 / sy;
            stored += stored < LBFGS_MEMORY;
        }
        else newest = (newest - 1 + LBFGS_MEMORY) % LBFGS_MEMORY; /* curvature too small: drop the pair */
        memcpy(z, zt, (size_t)m * sizeof *z);
        memcpy(g, gt, (size_t)m * sizeof *g);
        f = ft;
    }
}

static foil_status tv_forward(void *ctx, const float *x, float *y, int64_t n, int64_t d, const uint64_t *seeds)
{
    tv_min *t = ctx;
    const int64_t m = t->h * t->w;
    if (d != t->c * m)
        return foil_error(FOIL_ERR_SHAPE, "%s: an example has %lld values, not %lld x %lld x %lld", t->name,
                          (long long)d, (long long)t->c, (long long)t->h, (long long)t->w);
    const uint64_t draws = t->draws;
    int failed = 0;
#pragma omp parallel
    {
        double *buf = malloc((size_t)(m * (2 + 5 + 2 * LBFGS_MEMORY)) * sizeof *buf);
        unsigned char *mask = malloc((size_t)m);
        if (!buf || !mask) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 4)
        for (int64_t i = 0; i < n; i++) {
            if (!buf || !mask) continue;
            foil_rng r = foil_rng_make(seeds ? seeds[i] : t->seed, seeds ? 0x74766d696eULL : draws + (uint64_t)i + 1);
            double *xc = buf, *z = buf + m, *work = buf + 2 * m;
            for (int64_t k = 0; k < t->c; k++) {
                for (int64_t p = 0; p < m; p++) {
                    xc[p] = x[i * d + k * m + p];
                    mask[p] = foil_rng_uniform(&r) < t->prob;
                }
                minimize_channel(t, xc, mask, z, work);
                for (int64_t p = 0; p < m; p++) y[i * d + k * m + p] = fminf(fmaxf((float)z[p], t->lo), t->hi);
            }
        }
        free(buf);
        free(mask);
    }
    if (!seeds) t->draws += (uint64_t)n;
    return failed ? foil_error(FOIL_ERR_NOMEM, "out of memory") : FOIL_OK;
}

foil_status foil_preprocessor_tv_min(float prob, float lambda, int norm, int iterations, int64_t c, int64_t h,
                                     int64_t w, float lo, float hi, uint64_t seed, foil_preprocessor *out)
{
    memset(out, 0, sizeof *out);
    if (!(prob > 0 && prob <= 1)) return foil_error(FOIL_ERR_ARG, "tv: prob must lie in (0, 1], not %g", prob);
    if (!(lambda > 0) || !isfinite(lambda))
        return foil_error(FOIL_ERR_ARG, "tv: lambda must be a finite number > 0, not %g", lambda);
    if (norm != 1 && norm != 2) return foil_error(FOIL_ERR_ARG, "tv: norm must be 1 or 2, not %d", norm);
    if (iterations < 1 || iterations > 1000)
        return foil_error(FOIL_ERR_ARG, "tv: iterations must be 1 to 1000, not %d", iterations);
    if (c < 1 || h < 2 || w < 2)
        return foil_error(FOIL_ERR_ARG, "tv: images must be at least 2 x 2 (got %lld x %lld)", (long long)h,
                          (long long)w);
    if (!(lo < hi) || !isfinite(lo) || !isfinite(hi))
        return foil_error(FOIL_ERR_ARG, "tv: the input range [%g, %g] is empty or not finite", lo, hi);
    tv_min *t = calloc(1, sizeof *t);
    if (!t) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    *t = (tv_min){.prob = prob, .lambda = lambda, .norm = norm, .iterations = iterations, .c = c, .h = h, .w = w,
                  .lo = lo, .hi = hi, .seed = seed};
    snprintf(t->name, sizeof t->name, "tv-min(%g)", lambda);
    out->name = t->name;
    out->ctx = t;
    out->randomized = 1;
    out->forward = tv_forward;
    out->backward = NULL;      /* an iterative solver's output: no exact derivative */
    out->bpda_backward = NULL; /* identity */
    out->destroy = free;
    out->kind = FOIL_PREPROCESSOR_TV;
    return FOIL_OK;
}
