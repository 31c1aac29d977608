/*
 * serve/monitor_drift.c - input and confidence drift as a foil_serve_monitor
 * (foil/serve.h), the two-sample Kolmogorov-Smirnov test, and the parser
 * of `foil serve --monitor`.
 *
 * What is compared: the served examples, in tumbling windows of W (all keys
 * together: drift is a property of the traffic, not of one client), against
 * a reference set (the training distribution, --reference DATA), by three
 * statistics of one number per example:
 *   - the input projected on the reference's first principal component
 *     (a shift of the mean along the direction the data varies most),
 *   - the input's L2 distance to the reference mean (a shift in any other
 *     direction, more noise, another scale: anything that moves inputs away
 *     from where the training data sits),
 *   - the model's confidence, max softmax (what drift does to the model).
 * Each is a two-sample KS test of the window's W values against the
 * reference's n; an alarm when any p < alpha / 3 (Bonferroni over the three
 * tests), so a window of undrifted traffic raises one with probability at
 * most alpha.
 *
 * Why KS on 1-D projections and not a maximum mean discrepancy on the raw
 * inputs: MMD's threshold needs a permutation test, hundreds of kernel
 * sums over (W + n)^2 pairs of 784-value inputs per window, on the batch
 * worker's thread, which every request waits on; one KS test is a sort of
 * W values and a merge. Per-feature KS tests (784 of them, Bonferroni
 * dividing alpha by 784) see only large shifts of single pixels. The price:
 * a shift orthogonal to the first component that keeps distances to the
 * mean the same goes unseen (a rotation of the data around its mean); the
 * confidence test still sees it if the model does.
 *
 * Tumbling, not sliding, windows: a test per request on overlapping windows
 * makes thousands of correlated tests and a false alarm rate no one can
 * state; one test per W examples has alpha per window.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_internal.h"

double foilServeKolmogorovSf(double lambda)
{
    if (lambda <= 0) return 1;
    if (lambda < 0.2) return 1; /* Q(0.2) = 1 - 1e-10 or so */
    double q = 0;
    for (int k = 1; k <= 100; k++) {
        double t = exp(-2.0 * k * k * lambda * lambda);
        q += (k % 2 ? 2 : -2) * t;
        if (t < 1e-17) break;
    }
    return q < 0 ? 0 : (q > 1 ? 1 : q);
}

double foilServeKs2(const double *a, int64_t na, const double *b, int64_t nb, double *p)
{
    int64_t i = 0, j = 0;
    double dmax = 0;
    while (i < na && j < nb) {
        const double v = a[i] < b[j] ? a[i] : b[j];
        while (i < na && a[i] <= v) i++;
        while (j < nb && b[j] <= v) j++;
        const double diff = fabs((double)i / (double)na - (double)j / (double)nb);
        if (diff > dmax) dmax = diff;
    }
    /* once one sample is exhausted its ECDF is 1; the other's only rises
     * toward 1, so the gap is largest where the walk stopped */
    if (p) {
        const double en = (double)na * (double)nb / (double)(na + nb);
        *p = foilServeKolmogorovSf(sqrt(en) * dmax);
    }
    return dmax;
}

/* ------------------------------------------------------------------------- */

enum { DRIFT_TESTS = 3 };
static const char *const drift_test_names[DRIFT_TESTS] = {"input PC1", "input distance to mean", "confidence"};

typedef struct Drift {
    foil_drift_options o;
    int64_t d, classes;
    float *mean, *pc1;            /* d each: the reference's mean and first principal direction */
    double *ref[DRIFT_TESTS];     /* n_ref values each, sorted */
    int64_t n_ref;
    double *win[DRIFT_TESTS];     /* window values */
    int64_t filled, windows;
} Drift;

void foil_drift_options_default(foil_drift_options *o)
{
    o->window = 500;
    o->alpha = 0.01;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double max_softmax(const float *z, int64_t c)
{
    float m = z[0];
    for (int64_t j = 1; j < c; j++)
        if (z[j] > m) m = z[j];
    double s = 0;
    for (int64_t j = 0; j < c; j++) s += exp((double)(z[j] - m));
    return 1 / s;
}

/* The three statistics of one example x with logits z. */
static void drift_stats(const Drift *r, const float *x, const float *z, int64_t c, double out[DRIFT_TESTS])
{
    double proj = 0, dist = 0;
    for (int64_t i = 0; i < r->d; i++) {
        double t = (double)x[i] - r->mean[i];
        proj += t * r->pc1[i];
        dist += t * t;
    }
    out[0] = proj;
    out[1] = sqrt(dist);
    out[2] = c > 0 ? max_softmax(z, c) : 0;
}

/* The first principal direction of the centred reference by power
 * iteration (v <- X^T X v, normalized; 50 rounds: enough for a direction
 * whose eigenvalue stands apart, and for one that does not, any direction
 * of the top eigenspace serves the test as well). */
static void principal_direction(const float *x, const float *mean, int64_t n, int64_t d, float *v)
{
    double *u = malloc((size_t)d * sizeof *u), *next = malloc((size_t)d * sizeof *next);
    if (!u || !next) {
        for (int64_t i = 0; i < d; i++) v[i] = (float)(1 / sqrt((double)d));
        free(u), free(next);
        return;
    }
    for (int64_t i = 0; i < d; i++) u[i] = 1 + 0.01 * (double)(i % 7); /* not orthogonal to anything simple */
    for (int round = 0; round < 50; round++) {
        memset(next, 0, (size_t)d * sizeof *next);
        for (int64_t e = 0; e < n; e++) {
            const float *row = x + e * d;
            double s = 0;
            for (int64_t i = 0; i < d; i++) s += ((double)row[i] - mean[i]) * u[i];
            for (int64_t i = 0; i < d; i++) next[i] += s * ((double)row[i] - mean[i]);
        }
        double norm = 0;
        for (int64_t i = 0; i < d; i++) norm += next[i] * next[i];
        norm = sqrt(norm);
        if (!(norm > 0)) break; /* constant data: keep u */
        for (int64_t i = 0; i < d; i++) u[i] = next[i] / norm;
    }
    double norm = 0;
    for (int64_t i = 0; i < d; i++) norm += u[i] * u[i];
    norm = sqrt(norm);
    for (int64_t i = 0; i < d; i++) v[i] = (float)(u[i] / norm);
    free(u), free(next);
}

static void drift_destroy(void *ctx)
{
    Drift *r = ctx;
    if (!r) return;
    for (int t = 0; t < DRIFT_TESTS; t++) free(r->ref[t]), free(r->win[t]);
    free(r->mean), free(r->pc1);
    free(r);
}

static int drift_observe(void *ctx, const char *key, const float *x, int64_t n, int64_t d, const float *scores,
                         int64_t classes, char *alarm, size_t cap)
{
    (void)key;
    Drift *r = ctx;
    if (d != r->d) return 0; /* the server checked shapes against the same model */
    const int64_t c = classes == r->classes ? classes : 0;
    int raised = 0;
    for (int64_t e = 0; e < n; e++) {
        double s[DRIFT_TESTS];
        drift_stats(r, x + e * d, scores + e * classes, c, s);
        for (int t = 0; t < DRIFT_TESTS; t++) r->win[t][r->filled] = s[t];
        if (++r->filled < r->o.window) continue;
        r->filled = 0;
        r->windows++;
        double p[DRIFT_TESTS], dstat[DRIFT_TESTS];
        int worst = -1;
        for (int t = 0; t < DRIFT_TESTS; t++) {
            if (t == 2 && !c) {
                p[t] = 1, dstat[t] = 0;
                continue;
            }
            qsort(r->win[t], (size_t)r->o.window, sizeof(double), cmp_double);
            dstat[t] = foilServeKs2(r->win[t], r->o.window, r->ref[t], r->n_ref, &p[t]);
            if (p[t] < r->o.alpha / DRIFT_TESTS && (worst < 0 || p[t] < p[worst])) worst = t;
        }
        if (worst < 0 || raised) continue; /* one message per request: the first window that drifted */
        raised = 1;
        snprintf(alarm, cap,
                 "window %lld of %lld examples drifted from the reference: %s KS D=%.3f p=%.2g "
                 "(p: PC1 %.2g, distance %.2g, confidence %.2g; alarm below %.2g)",
                 (long long)r->windows, (long long)r->o.window, drift_test_names[worst], dstat[worst], p[worst],
                 p[0], p[1], p[2], r->o.alpha / DRIFT_TESTS);
    }
    return raised;
}

foil_status foil_serve_monitor_drift(const foil_drift_options *o, const float *ref_x, const float *ref_logits,
                                     int64_t n, int64_t d, int64_t classes, foil_serve_monitor *out)
{
    foil_drift_options def;
    foil_drift_options_default(&def);
    if (!o) o = &def;
    if (o->window < 20) return foil_error(FOIL_ERR_ARG, "drift: window must be at least 20 examples");
    if (!(o->alpha > 0 && o->alpha < 1)) return foil_error(FOIL_ERR_ARG, "drift: alpha must be in (0, 1)");
    if (n < 20 || d < 1 || classes < 1 || !ref_x || !ref_logits)
        return foil_error(FOIL_ERR_ARG, "drift: the reference needs at least 20 examples with their logits");
    Drift *r = calloc(1, sizeof *r);
    if (!r) return foil_error(FOIL_ERR_NOMEM, "out of memory for the drift monitor");
    r->o = *o, r->d = d, r->classes = classes, r->n_ref = n;
    r->mean = calloc((size_t)d, sizeof *r->mean);
    r->pc1 = malloc((size_t)d * sizeof *r->pc1);
    int ok = r->mean && r->pc1;
    for (int t = 0; t < DRIFT_TESTS && ok; t++) {
        r->ref[t] = malloc((size_t)n * sizeof(double));
        r->win[t] = malloc((size_t)o->window * sizeof(double));
        ok = r->ref[t] && r->win[t];
    }
    if (!ok) {
        drift_destroy(r);
        return foil_error(FOIL_ERR_NOMEM, "out of memory for the drift monitor's reference");
    }
    double *acc = calloc((size_t)d, sizeof *acc);
    if (!acc) {
        drift_destroy(r);
        return foil_error(FOIL_ERR_NOMEM, "out of memory for the drift monitor's reference");
    }
    for (int64_t e = 0; e < n; e++)
        for (int64_t i = 0; i < d; i++) acc[i] += ref_x[e * d + i];
    for (int64_t i = 0; i < d; i++) r->mean[i] = (float)(acc[i] / (double)n);
    free(acc);
    principal_direction(ref_x, r->mean, n, d, r->pc1);
    for (int64_t e = 0; e < n; e++) {
        double s[DRIFT_TESTS];
        drift_stats(r, ref_x + e * d, ref_logits + e * classes, classes, s);
        for (int t = 0; t < DRIFT_TESTS; t++) r->ref[t][e] = s[t];
    }
    for (int t = 0; t < DRIFT_TESTS; t++) qsort(r->ref[t], (size_t)n, sizeof(double), cmp_double);
    *out = (foil_serve_monitor){"drift", r, drift_observe, drift_destroy};
    return FOIL_OK;
}

/* ------------------------------------------------------------------------- */
/* --monitor prada[:delta=D,min=N,max-stored=N],drift[:window=W,alpha=A]     */
/* ------------------------------------------------------------------------- */

static int parse_number(const char *v, double *out)
{
    char *end;
    *out = strtod(v, &end);
    return end != v && *end == '\0' && isfinite(*out);
}

foil_status foil_serve_monitors_parse(const char *spec, int *prada, foil_prada_options *po, int *drift,
                                      foil_drift_options *dro)
{
    *prada = *drift = 0;
    foil_prada_options_default(po);
    foil_drift_options_default(dro);
    if (!spec || !*spec) return foil_error(FOIL_ERR_ARG, "--monitor: name prada, drift or both");
    char buf[512];
    if (strlen(spec) >= sizeof buf) return foil_error(FOIL_ERR_ARG, "--monitor: too long");
    strcpy(buf, spec);
    int current = 0; /* 1 prada, 2 drift: whose options follow */
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        char *opt = tok;
        if (colon || !strchr(tok, '=')) { /* a monitor's name, maybe with its first option */
            if (colon) *colon = '\0';
            if (strcmp(tok, "prada") == 0) current = 1;
            else if (strcmp(tok, "drift") == 0) current = 2;
            else return foil_error(FOIL_ERR_ARG, "--monitor: no monitor '%s' (prada, drift)", tok);
            if (current == 1 ? *prada : *drift) return foil_error(FOIL_ERR_ARG, "--monitor: %s named twice", tok);
            if (current == 1) *prada = 1;
            else *drift = 1;
            if (!colon) continue;
            opt = colon + 1;
        }
        if (!current) return foil_error(FOIL_ERR_ARG, "--monitor: '%s' before a monitor's name", tok);
        char *eq = strchr(opt, '=');
        if (!eq) return foil_error(FOIL_ERR_ARG, "--monitor: '%s' is not NAME=VALUE", opt);
        *eq = '\0';
        double v;
        if (!parse_number(eq + 1, &v)) return foil_error(FOIL_ERR_ARG, "--monitor: %s=%s is not a number", opt, eq + 1);
        if (current == 1 && strcmp(opt, "delta") == 0) po->delta = v;
        else if (current == 1 && strcmp(opt, "min") == 0 && v == floor(v) && v < 1e12) po->min_distances = (int64_t)v;
        else if (current == 1 && strcmp(opt, "max-stored") == 0 && v == floor(v) && v >= 0 && v < 1e12)
            po->max_stored = (int64_t)v;
        else if (current == 2 && strcmp(opt, "window") == 0 && v == floor(v) && v < 1e9) dro->window = (int64_t)v;
        else if (current == 2 && strcmp(opt, "alpha") == 0) dro->alpha = v;
        else
            return foil_error(FOIL_ERR_ARG, "--monitor: %s takes no option %s (prada: delta, min, max-stored; "
                                            "drift: window, alpha)",
                              current == 1 ? "prada" : "drift", opt);
    }
    if (*prada && !(po->delta > 0 && po->delta <= 1))
        return foil_error(FOIL_ERR_ARG, "--monitor: prada's delta must be in (0, 1]");
    if (*prada && po->min_distances < 3) return foil_error(FOIL_ERR_ARG, "--monitor: prada's min must be >= 3");
    if (*drift && dro->window < 20) return foil_error(FOIL_ERR_ARG, "--monitor: drift's window must be >= 20");
    if (*drift && !(dro->alpha > 0 && dro->alpha < 1))
        return foil_error(FOIL_ERR_ARG, "--monitor: drift's alpha must be in (0, 1)");
    return FOIL_OK;
}
