/*
 * serve/monitor_prada.c - PRADA (Juuti, Szyller, Marchal, Asokan, "PRADA:
 * Protecting Against DNN Model Stealing Attacks", EuroS&P 2019) as a
 * foil_serve_monitor (foil/serve.h), and the Shapiro-Wilk test it needs.
 *
 * The paper's Algorithm 1, per API key (the authors' code, Aalto SSG's
 * GrowingDistanceAgent, does the same):
 *
 *   for each query x, c = F(x) the predicted class:
 *     if G_c is empty:  G_c = {x}, D_Gc = {0}, T_c = 0
 *     else:
 *       d_min = min over y in G_c of ||x - y||_2
 *       D = D + {d_min}                         (every query but a class's first)
 *       if d_min > T_c:                          (x is far from what was seen)
 *         G_c = G_c + {x}, D_Gc = D_Gc + {d_min}
 *         T_c = max(T_c, mean(D_Gc) - std(D_Gc))
 *     D' = the values of D within 3 std of D's mean
 *     if |D'| > 100 and W(D') < delta: alarm
 *
 * Benign queries (natural images) give minimum distances that are close to
 * normally distributed; extraction queries (a few seeds and small synthetic
 * steps from them, or random samples from another distribution) give a
 * mixture of tiny and large ones: W drops. std is the population one (numpy's
 * np.std, as the authors' code). The authors' code tests every 10 queries
 * and pools only classes with at least 10 distances; here W is tested after
 * every query, as the paper writes it. An alarm is a state, not an event:
 * every request of the key is flagged while its latest W is below delta.
 *
 * D is kept sorted (insertion by binary search), so D' is a slice of it and
 * a test costs O(|D|), not a sort. A key's growing sets hold at most
 * max_stored queries (the paper has no cap: the sets grow with every benign
 * query, O(queries x d) memory per key); beyond it, queries are measured
 * against the sets but join none.
 *
 * Shapiro-Wilk: Royston's AS R94 (1995), the algorithm of R's shapiro.test
 * and scipy.stats.shapiro: coefficients from normal scores m_i = Phi^-1((i -
 * 3/8) / (n + 1/4)) with Royston's polynomial corrections for the two
 * outermost, W = (sum a_i x_(i))^2 / sum (x_i - mean)^2, and its p-value
 * from Royston's normalizing transformation.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_internal.h"

static const double PI = 3.14159265358979323846;

/* ------------------------------------------------------------------------- */
/* Shapiro-Wilk (AS R94)                                                     */
/* ------------------------------------------------------------------------- */

/* Phi^-1(p): Acklam's rational approximation (relative error 1.2e-9), then
 * one Halley step on erfc, which brings it to double precision. */
static double normal_quantile(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                               1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                               6.680131188771972e+01,  -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                               -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    double x;
    if (p < 0.02425) {
        double q = sqrt(-2 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else if (p > 1 - 0.02425) {
        double q = sqrt(-2 * log(1 - p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
    double e = 0.5 * erfc(-x / sqrt(2.0)) - p;
    double u = e * sqrt(2 * PI) * exp(x * x / 2);
    return x - u / (1 + x * u / 2);
}

static double poly(const double *c, int nord, double x)
{
    double r = 0;
    for (int i = nord - 1; i >= 0; i--) r = r * x + c[i];
    return r;
}

foil_status foilServeShapiroWilk(const double *x, int64_t n, double *w_out, double *p_out)
{
    /* Royston's coefficients (AS R94) */
    static const double c1[] = {0.0, 0.221157, -0.147981, -2.071190, 4.434685, -2.706056};
    static const double c2[] = {0.0, 0.042981, -0.293762, -1.752461, 5.682633, -3.582633};
    static const double c3[] = {0.5440, -0.39978, 0.025054, -6.714e-4};
    static const double c4[] = {1.3822, -0.77857, 0.062767, -0.0020322};
    static const double c5[] = {-1.5861, -0.31082, -0.083751, 0.0038915};
    static const double c6[] = {-0.4803, -0.082676, 0.0030302};
    static const double g[] = {-2.273, 0.459};
    if (n < 3) return foil_error(FOIL_ERR_ARG, "Shapiro-Wilk needs at least 3 values, not %lld", (long long)n);
    const double range = x[n - 1] - x[0];
    if (!(range > 1e-19 * fabs(x[n - 1]) && range > 0))
        return foil_error(FOIL_ERR_ARG, "Shapiro-Wilk: all %lld values are the same", (long long)n);
    const int64_t half = n / 2;
    double *a = malloc((size_t)half * sizeof *a);
    if (!a) return foil_error(FOIL_ERR_NOMEM, "out of memory for Shapiro-Wilk of %lld values", (long long)n);
    const double an = (double)n;

    /* the coefficients a_1..a_half of the lower half (the upper half is -a) */
    if (n == 3) {
        a[0] = sqrt(0.5);
    } else {
        double summ2 = 0;
        for (int64_t i = 0; i < half; i++) { /* a[] holds m_i first: negative, the lower tail */
            a[i] = normal_quantile(((double)(i + 1) - 0.375) / (an + 0.25));
            summ2 += a[i] * a[i];
        }
        summ2 *= 2;
        const double ssumm2 = sqrt(summ2), rsn = 1 / sqrt(an);
        const double m0 = a[0], m1 = n > 1 ? a[1] : 0;
        const double a1 = poly(c1, 6, rsn) - m0 / ssumm2;
        int64_t first;
        double fac;
        if (n > 5) {
            const double a2 = -m1 / ssumm2 + poly(c2, 6, rsn);
            fac = sqrt((summ2 - 2 * m0 * m0 - 2 * m1 * m1) / (1 - 2 * a1 * a1 - 2 * a2 * a2));
            a[1] = a2;
            first = 2;
        } else {
            fac = sqrt((summ2 - 2 * m0 * m0) / (1 - 2 * a1 * a1));
            first = 1;
        }
        a[0] = a1;
        for (int64_t i = first; i < half; i++) a[i] = -a[i] / fac;
    }

    /* W = (sum A_i x_i)^2 / (sum A_i^2 sum (x_i - mean)^2), A the full
     * antisymmetric coefficient vector (A_i = -a_i below the middle, a_i
     * above), computed on x / range and centred, as AS R94 does: in
     * 1 - W = (s - sax)(s + sax) / (ssa ssx), s = sqrt(ssa ssx), the
     * difference is taken before it is squared. */
    double sx = 0, sa = 0;
    for (int64_t i = 0; i < n; i++) {
        sx += x[i] / range;
        if (i < half) sa -= a[i];
        else if (n - 1 - i < half) sa += a[n - 1 - i];
    }
    sx /= an, sa /= an;
    double ssa = 0, ssx = 0, sax = 0;
    for (int64_t i = 0; i < n; i++) {
        double ai = i < half ? -a[i] : (n - 1 - i < half ? a[n - 1 - i] : 0);
        double asa = ai - sa, xsx = x[i] / range - sx;
        ssa += asa * asa;
        ssx += xsx * xsx;
        sax += asa * xsx;
    }
    free(a);
    const double ssassx = sqrt(ssa * ssx);
    const double w1 = (ssassx - sax) * (ssassx + sax) / (ssa * ssx);
    const double w = 1 - w1;
    *w_out = w;
    if (!p_out) return FOIL_OK;

    /* the p-value: Royston's normalizing transformation of log(1 - W) */
    if (n == 3) {
        const double pw = 6 / PI * (asin(sqrt(w)) - asin(sqrt(0.75)));
        *p_out = pw < 0 ? 0 : pw;
        return FOIL_OK;
    }
    double y = log(w1), m, s;
    if (n <= 11) {
        const double gamma = poly(g, 2, an);
        if (y >= gamma) {
            *p_out = 1e-99; /* AS R94's "small" */
            return FOIL_OK;
        }
        y = -log(gamma - y);
        m = poly(c3, 4, an);
        s = exp(poly(c4, 4, an));
    } else {
        const double xx = log(an);
        m = poly(c5, 4, xx);
        s = exp(poly(c6, 3, xx));
    }
    *p_out = 0.5 * erfc((y - m) / s / sqrt(2.0));
    return FOIL_OK;
}

/* ------------------------------------------------------------------------- */
/* PRADA                                                                      */
/* ------------------------------------------------------------------------- */

typedef struct PradaClass {
    float *set;     /* G_c: count x d */
    int64_t count, cap;
    double gsum, gsum2; /* sum and sum of squares of D_Gc (its first value, 0, included) */
    int64_t gn;
    double threshold; /* T_c */
} PradaClass;

typedef struct PradaKey {
    char name[FOIL_SERVE_NAME_MAX + 1];
    PradaClass *classes;
    int64_t n_classes;
    int64_t stored;  /* queries in all the G_c */
    double *dist;    /* D, sorted ascending */
    int64_t n_dist, cap_dist;
    double dsum, dsum2;
    int flagged;
    double w;        /* the latest W (NAN: none yet) */
    int64_t tested;  /* |D'| of the latest test */
} PradaKey;

typedef struct Prada {
    foil_prada_options o;
    PradaKey *keys;
    int n_keys, cap_keys;
} Prada;

void foil_prada_options_default(foil_prada_options *o)
{
    o->delta = 0.9; /* the largest with no false alarm on 20 benign Fashion-MNIST keys (bench/serve_prada_benign.sh) */
    o->min_distances = 100;
    o->max_stored = 10000;
}

static PradaKey *prada_key(Prada *p, const char *name)
{
    for (int i = 0; i < p->n_keys; i++)
        if (strcmp(p->keys[i].name, name) == 0) return &p->keys[i];
    if (p->n_keys == p->cap_keys) {
        int cap = p->cap_keys ? 2 * p->cap_keys : 4;
        PradaKey *k = realloc(p->keys, (size_t)cap * sizeof *k);
        if (!k) return NULL;
        p->keys = k, p->cap_keys = cap;
    }
    PradaKey *k = &p->keys[p->n_keys++];
    memset(k, 0, sizeof *k);
    snprintf(k->name, sizeof k->name, "%s", name);
    k->w = NAN;
    return k;
}

static void prada_key_free(PradaKey *k)
{
    for (int64_t c = 0; c < k->n_classes; c++) free(k->classes[c].set);
    free(k->classes);
    free(k->dist);
}

static double l2(const float *a, const float *b, int64_t d)
{
    float s = 0;
    for (int64_t i = 0; i < d; i++) {
        float t = a[i] - b[i];
        s += t * t;
    }
    return sqrt((double)s);
}

static int set_add(PradaClass *g, const float *x, int64_t d)
{
    if (g->count == g->cap) {
        int64_t cap = g->cap ? 2 * g->cap : 16;
        float *s = realloc(g->set, (size_t)(cap * d) * sizeof *s);
        if (!s) return -1;
        g->set = s, g->cap = cap;
    }
    memcpy(g->set + g->count * d, x, (size_t)d * sizeof *x);
    g->count++;
    return 0;
}

static int dist_add(PradaKey *k, double v)
{
    if (k->n_dist == k->cap_dist) {
        int64_t cap = k->cap_dist ? 2 * k->cap_dist : 256;
        double *s = realloc(k->dist, (size_t)cap * sizeof *s);
        if (!s) return -1;
        k->dist = s, k->cap_dist = cap;
    }
    int64_t lo = 0, hi = k->n_dist; /* the first index whose value is > v */
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (k->dist[mid] <= v) lo = mid + 1;
        else hi = mid;
    }
    memmove(k->dist + lo + 1, k->dist + lo, (size_t)(k->n_dist - lo) * sizeof *k->dist);
    k->dist[lo] = v;
    k->n_dist++;
    k->dsum += v, k->dsum2 += v * v;
    return 0;
}

/* W of D' (D within 3 std of its mean), when D' has more than min values. */
static void prada_test(const Prada *p, PradaKey *k)
{
    const int64_t n = k->n_dist;
    if (n <= p->o.min_distances) return;
    const double mean = k->dsum / (double)n;
    double var = k->dsum2 / (double)n - mean * mean;
    const double sd = sqrt(var > 0 ? var : 0);
    int64_t lo = 0, hi = n; /* D' = dist[lo, hi): |v - mean| < 3 sd */
    while (lo < n && !(fabs(k->dist[lo] - mean) < 3 * sd)) lo++;
    while (hi > lo && !(fabs(k->dist[hi - 1] - mean) < 3 * sd)) hi--;
    if (hi - lo <= p->o.min_distances) return;
    double w;
    if (foilServeShapiroWilk(k->dist + lo, hi - lo, &w, NULL)) return; /* all equal: no verdict */
    k->w = w;
    k->tested = hi - lo;
    k->flagged = w < p->o.delta;
}

/* One query x of predicted class c through Algorithm 1. -1: out of memory. */
static int prada_query(const Prada *p, PradaKey *k, const float *x, int64_t d, int64_t c)
{
    if (c >= k->n_classes) {
        PradaClass *g = realloc(k->classes, (size_t)(c + 1) * sizeof *g);
        if (!g) return -1;
        memset(g + k->n_classes, 0, (size_t)(c + 1 - k->n_classes) * sizeof *g);
        k->classes = g, k->n_classes = c + 1;
    }
    PradaClass *g = &k->classes[c];
    const int room = p->o.max_stored <= 0 || k->stored < p->o.max_stored;
    if (g->count == 0) { /* G_c = {x}, D_Gc = {0}, T_c = 0 */
        if (!room) return 0;
        if (set_add(g, x, d)) return -1;
        k->stored++;
        g->gn = 1, g->gsum = g->gsum2 = 0, g->threshold = 0;
        return 0;
    }
    double dmin = INFINITY;
    for (int64_t i = 0; i < g->count; i++) {
        double t = l2(x, g->set + i * d, d);
        if (t < dmin) dmin = t;
    }
    if (dist_add(k, dmin)) return -1;
    if (dmin > g->threshold && room) {
        if (set_add(g, x, d)) return -1;
        k->stored++;
        g->gn++, g->gsum += dmin, g->gsum2 += dmin * dmin;
        const double mean = g->gsum / (double)g->gn, var = g->gsum2 / (double)g->gn - mean * mean;
        const double t = mean - sqrt(var > 0 ? var : 0);
        if (t > g->threshold) g->threshold = t;
    }
    prada_test(p, k);
    return 0;
}

static int prada_observe(void *ctx, const char *key, const float *x, int64_t n, int64_t d, const float *scores,
                         int64_t classes, char *alarm, size_t cap)
{
    Prada *p = ctx;
    PradaKey *k = prada_key(p, key);
    if (!k) {
        snprintf(alarm, cap, "out of memory: key %s is not watched", key);
        return 1;
    }
    int flagged = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *s = scores + i * classes;
        int64_t c = 0;
        for (int64_t j = 1; j < classes; j++)
            if (s[j] > s[c]) c = j;
        if (prada_query(p, k, x + i * d, d, c)) {
            snprintf(alarm, cap, "out of memory after %lld distances of key %s", (long long)k->n_dist, key);
            return 1;
        }
        flagged |= k->flagged;
    }
    if (!flagged) return 0;
    snprintf(alarm, cap, "extraction-like queries: Shapiro-Wilk W=%.4f < delta=%.4g over %lld distances", k->w,
             p->o.delta, (long long)k->tested);
    return 1;
}

static void prada_destroy(void *ctx)
{
    Prada *p = ctx;
    for (int i = 0; i < p->n_keys; i++) prada_key_free(&p->keys[i]);
    free(p->keys);
    free(p);
}

foil_status foil_serve_monitor_prada(const foil_prada_options *o, foil_serve_monitor *out)
{
    foil_prada_options def;
    foil_prada_options_default(&def);
    if (!o) o = &def;
    if (!(o->delta > 0 && o->delta <= 1)) return foil_error(FOIL_ERR_ARG, "prada: delta must be in (0, 1], not %g", o->delta);
    if (o->min_distances < 3) return foil_error(FOIL_ERR_ARG, "prada: min must be at least 3");
    if (o->max_stored < 0) return foil_error(FOIL_ERR_ARG, "prada: max-stored must be >= 0");
    Prada *p = calloc(1, sizeof *p);
    if (!p) return foil_error(FOIL_ERR_NOMEM, "out of memory for the PRADA monitor");
    p->o = *o;
    *out = (foil_serve_monitor){"prada", p, prada_observe, prada_destroy};
    return FOIL_OK;
}
