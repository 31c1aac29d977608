/*
 * defenses/poison_scan.c - spectral signatures, activation clustering and
 * the loss filter (foil/scan.h is the design): per label, the features'
 * principal directions, then scores or two clusters; or the loss.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "foil/loss.h"
#include "foil/rng.h"
#include "foil/scan.h"

enum { MAX_FEATURES = 4096, JACOBI_SWEEPS = 60 };

static const char *const method_names[] = {"spectral", "clustering", "loss"};
enum { N_METHODS = sizeof method_names / sizeof *method_names };

const char *foil_scan_method_name(foil_scan_method m)
{
    return (unsigned)m < N_METHODS ? method_names[m] : "?";
}

foil_status foil_scan_method_parse(const char *s, foil_scan_method *m)
{
    for (unsigned i = 0; s && i < N_METHODS; i++)
        if (strcmp(s, method_names[i]) == 0) {
            *m = (foil_scan_method)i;
            return FOIL_OK;
        }
    return foil_error(FOIL_ERR_ARG, "unknown scan '%s' (spectral, clustering or loss)", s ? s : "");
}

/* The eigenvectors of the symmetric d x d matrix a (destroyed) by cyclic
 * Jacobi rotations: columns of v, eigenvalues in w, both by decreasing
 * eigenvalue. */
static void eigen_symmetric(int64_t d, double *a, double *v, double *w)
{
    for (int64_t i = 0; i < d * d; i++) v[i] = 0;
    for (int64_t i = 0; i < d; i++) v[i * d + i] = 1;
    for (int sweep = 0; sweep < JACOBI_SWEEPS; sweep++) {
        double off = 0, diag = 0;
        for (int64_t p = 0; p < d; p++) {
            diag += a[p * d + p] * a[p * d + p];
            for (int64_t q = p + 1; q < d; q++) off += a[p * d + q] * a[p * d + q];
        }
        if (off <= 1e-22 * diag || off == 0) break;
        for (int64_t p = 0; p < d; p++)
            for (int64_t q = p + 1; q < d; q++) {
                double apq = a[p * d + q];
                if (fabs(apq) < 1e-300) continue;
                double theta = (a[q * d + q] - a[p * d + p]) / (2 * apq);
                double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int64_t k = 0; k < d; k++) { /* a = J^T a J, rows and columns p, q */
                    double akp = a[k * d + p], akq = a[k * d + q];
                    a[k * d + p] = c * akp - s * akq, a[k * d + q] = s * akp + c * akq;
                }
                for (int64_t k = 0; k < d; k++) {
                    double apk = a[p * d + k], aqk = a[q * d + k];
                    a[p * d + k] = c * apk - s * aqk, a[q * d + k] = s * apk + c * aqk;
                }
                for (int64_t k = 0; k < d; k++) {
                    double vkp = v[k * d + p], vkq = v[k * d + q];
                    v[k * d + p] = c * vkp - s * vkq, v[k * d + q] = s * vkp + c * vkq;
                }
            }
    }
    for (int64_t i = 0; i < d; i++) w[i] = a[i * d + i];
    for (int64_t i = 0; i < d; i++) { /* selection sort of the columns, largest first */
        int64_t best = i;
        for (int64_t j = i + 1; j < d; j++)
            if (w[j] > w[best]) best = j;
        if (best == i) continue;
        double t = w[i];
        w[i] = w[best], w[best] = t;
        for (int64_t k = 0; k < d; k++) t = v[k * d + i], v[k * d + i] = v[k * d + best], v[k * d + best] = t;
    }
}

/* The rows `rows` (m of them) of the N x d features f, centred, as doubles
 * (m x d), and their covariance's eigenvectors (d x d, columns). */
typedef struct Label {
    int64_t m, d;
    double *c, *vec, *val, *mean;
} Label;

static void label_free(Label *l) { free(l->c), free(l->vec), free(l->val), free(l->mean); }

static foil_status label_pca(const float *f, int64_t d, const int64_t *rows, int64_t m, Label *l)
{
    *l = (Label){m, d, malloc((size_t)(m * d) * sizeof(double)), malloc((size_t)(d * d) * sizeof(double)),
                 malloc((size_t)d * sizeof(double)), calloc((size_t)d, sizeof(double))};
    double *cov = calloc((size_t)(d * d), sizeof *cov), *mean = l->mean;
    if (!l->c || !l->vec || !l->val || !cov || !mean) {
        free(cov), label_free(l);
        return foil_error(FOIL_ERR_NOMEM, "poison scan: out of memory");
    }
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < d; j++) mean[j] += f[rows[i] * d + j];
    for (int64_t j = 0; j < d; j++) mean[j] /= (double)(m ? m : 1);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < d; j++) l->c[i * d + j] = f[rows[i] * d + j] - mean[j];
    for (int64_t i = 0; i < m; i++) {
        const double *ci = l->c + i * d;
        for (int64_t p = 0; p < d; p++) {
            if (ci[p] == 0) continue;
            for (int64_t q = p; q < d; q++) cov[p * d + q] += ci[p] * ci[q];
        }
    }
    for (int64_t p = 0; p < d; p++)
        for (int64_t q = 0; q < p; q++) cov[p * d + q] = cov[q * d + p];
    eigen_symmetric(d, cov, l->vec, l->val);
    free(cov);
    return FOIL_OK;
}

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* Flag the 1.5 eps m highest scores among one label's rows. */
static foil_status flag_highest(const int64_t *rows, int64_t m, double eps, foil_scan_result *r)
{
    double *sorted = malloc((size_t)(m ? m : 1) * sizeof *sorted);
    if (!sorted) return foil_error(FOIL_ERR_NOMEM, "poison scan: out of memory");
    for (int64_t i = 0; i < m; i++) sorted[i] = r->score[rows[i]];
    int64_t remove = (int64_t)floor(1.5 * eps * (double)m);
    if (remove > m) remove = m;
    qsort(sorted, (size_t)m, sizeof *sorted, cmp_desc);
    for (int64_t i = 0; remove > 0 && i < m; i++)
        if (r->score[rows[i]] >= sorted[remove - 1] && r->score[rows[i]] > 0) r->flagged[rows[i]] = 1;
    free(sorted);
    return FOIL_OK;
}

/* Spectral signatures on one label: scores, and the 1.5 eps m highest flagged. */
static foil_status spectral(const Label *l, const int64_t *rows, double eps, foil_scan_result *r)
{
    const int64_t m = l->m, d = l->d;
    for (int64_t i = 0; i < m; i++) {
        double s = 0;
        for (int64_t j = 0; j < d; j++) s += l->c[i * d + j] * l->vec[j * d]; /* the first column: top direction */
        r->score[rows[i]] = s * s;
    }
    return flag_highest(rows, m, eps, r);
}

/* Cross-entropy of each example (rows of logits, N x k) under its label, into out. */
static foil_status losses(const float *logits, int64_t n, int64_t k, const int64_t *y, double *out)
{
    float *l = malloc((size_t)(n ? n : 1) * sizeof *l);
    if (!l) return foil_error(FOIL_ERR_NOMEM, "poison scan: out of memory");
    foil_status st = foil_softmax_xent(logits, y, n, k, l, NULL);
    for (int64_t i = 0; !st && i < n; i++) out[i] = l[i];
    free(l);
    return st;
}

static double dist2(const double *a, const double *b, int64_t k)
{
    double s = 0;
    for (int64_t j = 0; j < k; j++) s += (a[j] - b[j]) * (a[j] - b[j]);
    return s;
}

/* Two-means of m points p (m x k): labels into as (0/1); returns the inertia. */
static double two_means(const double *p, int64_t m, int64_t k, foil_rng *rng, uint8_t *as)
{
    double c[2][64], *d2 = malloc((size_t)m * sizeof *d2);
    if (!d2) return INFINITY;
    int64_t first = (int64_t)foil_rng_below(rng, (uint64_t)m); /* k-means++: the second centre by d^2 */
    memcpy(c[0], p + first * k, (size_t)k * sizeof(double));
    double total = 0;
    for (int64_t i = 0; i < m; i++) total += d2[i] = dist2(p + i * k, c[0], k);
    double pick = foil_rng_uniform_d(rng) * total, acc = 0;
    int64_t second = m - 1;
    for (int64_t i = 0; i < m; i++)
        if ((acc += d2[i]) >= pick) {
            second = i;
            break;
        }
    memcpy(c[1], p + second * k, (size_t)k * sizeof(double));
    double inertia = INFINITY;
    for (int it = 0; it < 100; it++) {
        int changed = it == 0;
        double sum[2][64] = {{0}}, next = 0;
        int64_t count[2] = {0, 0};
        for (int64_t i = 0; i < m; i++) {
            double a = dist2(p + i * k, c[0], k), b = dist2(p + i * k, c[1], k);
            uint8_t g = b < a;
            changed |= g != as[i];
            as[i] = g;
            next += g ? b : a;
            count[g]++;
            for (int64_t j = 0; j < k; j++) sum[g][j] += p[i * k + j];
        }
        inertia = next;
        for (int g = 0; g < 2; g++)
            for (int64_t j = 0; j < k && count[g]; j++) c[g][j] = sum[g][j] / (double)count[g];
        if (!changed) break;
    }
    free(d2);
    return inertia;
}

/* A point's coordinates on the label's top k principal directions: its
 * centred features c (d of them) onto the first k columns of vec. */
static void project(const Label *l, const double *c, int64_t k, double *out)
{
    for (int64_t j = 0; j < k; j++) {
        double s = 0;
        for (int64_t q = 0; q < l->d; q++) s += c[q] * l->vec[q * l->d + j];
        out[j] = s;
    }
}

/* The trusted reference's verdict (see foil/scan.h): which cluster (0 or 1)
 * holds under a fifth of the reference's share that it holds of the data,
 * or -1 for neither (or fewer than MIN_TRUSTED trusted examples). tf: the
 * trusted features (N_t x d), trows: the t of this label. */
enum { MIN_TRUSTED = 10 };
static int trusted_verdict(const Label *l, const double *p, const uint8_t *as, int64_t k, const float *tf,
                           const int64_t *trows, int64_t t)
{
    if (t < MIN_TRUSTED) return -1;
    double centre[2][64] = {{0}}, c[MAX_FEATURES], q[64];
    int64_t data[2] = {0, 0}, held[2] = {0, 0};
    for (int64_t i = 0; i < l->m; i++) {
        data[as[i]]++;
        for (int64_t j = 0; j < k; j++) centre[as[i]][j] += p[i * k + j];
    }
    for (int g = 0; g < 2; g++)
        for (int64_t j = 0; j < k && data[g]; j++) centre[g][j] /= (double)data[g];
    for (int64_t i = 0; i < t; i++) {
        for (int64_t j = 0; j < l->d; j++) c[j] = tf[trows[i] * l->d + j] - l->mean[j];
        project(l, c, k, q);
        held[dist2(q, centre[1], k) < dist2(q, centre[0], k)]++;
    }
    for (int g = 0; g < 2; g++)
        if (data[g] && (double)held[g] / (double)t < 0.2 * (double)data[g] / (double)l->m) return g;
    return -1;
}

/* Activation clustering on one label; tf, trows, t: its trusted reference
 * (t = 0: none). */
static foil_status clustering(const Label *l, const int64_t *rows, const foil_scan_options *o, uint64_t label,
                              const float *tf, const int64_t *trows, int64_t t, foil_scan_result *r)
{
    const int64_t m = l->m, d = l->d;
    int64_t k = o->dims ? o->dims : 10;
    if (k > d) k = d;
    double *p = malloc((size_t)(m * k) * sizeof *p);
    uint8_t *as = calloc((size_t)(m ? m : 1), 1), *best = calloc((size_t)(m ? m : 1), 1);
    if (!p || !as || !best) {
        free(p), free(as), free(best);
        return foil_error(FOIL_ERR_NOMEM, "poison scan: out of memory");
    }
    for (int64_t i = 0; i < m; i++) project(l, l->c + i * d, k, p + i * k);
    foil_rng rng = foil_rng_make(o->seed, label);
    double least = INFINITY;
    for (int64_t t = 0; m >= 2 && t < (o->restarts ? o->restarts : 10); t++) {
        memset(as, 0, (size_t)m);
        double inertia = two_means(p, m, k, &rng, as);
        if (inertia < least) least = inertia, memcpy(best, as, (size_t)m);
    }
    int64_t ones = 0;
    for (int64_t i = 0; i < m; i++) ones += best[i];
    const uint8_t small = ones * 2 < m;
    const double share = (double)(small ? ones : m - ones) / (double)(m ? m : 1);
    const double threshold = o->size_threshold ? o->size_threshold : 0.35;
    /* the cluster flagged: by the trusted reference when there is one, else the smaller if small enough */
    int poison = o->trusted_x ? trusted_verdict(l, p, best, k, tf, trows, t) : share <= threshold ? small : -1;
    for (int64_t i = 0; i < m; i++) {
        r->score[rows[i]] = best[i] == small ? share : 1 - share;
        if (m >= 2 && best[i] == poison) r->flagged[rows[i]] = 1;
    }
    free(p), free(as), free(best);
    return FOIL_OK;
}

foil_status foil_scan_data(foil_model *features, const foil_tensor *x, const int64_t *y, int64_t classes,
                           const foil_scan_options *o, foil_scan_result *r)
{
    if (!features || !x || !y || !o || !r) return foil_error(FOIL_ERR_ARG, "foil_scan_data: missing argument");
    memset(r, 0, sizeof *r);
    const double eps = o->eps ? o->eps : 0.1;
    if (o->method != FOIL_SCAN_CLUSTERING && !(eps > 0 && eps <= 0.66))
        return foil_error(FOIL_ERR_ARG, "%s scan: eps must be in (0, 0.66], not %g", foil_scan_method_name(o->method),
                          o->eps);
    if ((unsigned)o->method >= N_METHODS) return foil_error(FOIL_ERR_ARG, "unknown scan %d", (int)o->method);
    if (o->method == FOIL_SCAN_CLUSTERING &&
        (o->dims < 0 || o->dims > 64 || o->size_threshold < 0 || o->size_threshold >= 1 || o->restarts < 0))
        return foil_error(FOIL_ERR_ARG, "clustering scan: dims must be in [1, 64], the size threshold in (0, 1)");
    const int64_t n = x->ndim ? x->shape[0] : 0;
    for (int64_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= classes)
            return foil_error(FOIL_ERR_ARG, "poison scan: label %lld of example %lld is not in [0, %lld)",
                              (long long)y[i], (long long)i, (long long)classes);
    if (o->trusted_x && (!o->trusted_y || o->method != FOIL_SCAN_CLUSTERING))
        return foil_error(FOIL_ERR_ARG, "poison scan: a trusted reference needs its labels, and serves clustering");
    const int64_t n_trusted = o->trusted_x ? o->trusted_x->shape[0] : 0;
    for (int64_t i = 0; i < n_trusted; i++)
        if (o->trusted_y[i] < 0 || o->trusted_y[i] >= classes)
            return foil_error(FOIL_ERR_ARG, "poison scan: label %lld of trusted example %lld is not in [0, %lld)",
                              (long long)o->trusted_y[i], (long long)i, (long long)classes);
    foil_tensor f = {0}, tf = {0};
    foil_status st = foil_model_predict(features, x, &f);
    if (!st && n_trusted) st = foil_model_predict(features, o->trusted_x, &tf);
    if (st) {
        foil_tensor_free(&f);
        return st;
    }
    const int64_t d = n ? f.numel / n : 0;
    if (o->method == FOIL_SCAN_LOSS && d != classes) {
        foil_tensor_free(&f);
        return foil_error(FOIL_ERR_SHAPE, "loss scan: the model gives %lld scores, the data has %lld classes",
                          (long long)d, (long long)classes);
    }
    if (d < 1 || d > MAX_FEATURES) {
        foil_tensor_free(&f);
        return foil_error(FOIL_ERR_SHAPE, "poison scan: %lld features per example (1 to %d)", (long long)d,
                          MAX_FEATURES);
    }
    r->n = n;
    r->flagged = calloc((size_t)(n ? n : 1), 1);
    r->score = calloc((size_t)(n ? n : 1), sizeof *r->score);
    int64_t *rows = malloc((size_t)(n ? n : 1) * sizeof *rows);
    int64_t *trows = malloc((size_t)(n_trusted ? n_trusted : 1) * sizeof *trows);
    if (!r->flagged || !r->score || !rows || !trows) st = foil_error(FOIL_ERR_NOMEM, "poison scan: out of memory");
    if (!st && o->method == FOIL_SCAN_LOSS) st = losses(foil_f32(&f), n, d, y, r->score);
    for (int64_t c = 0; !st && c < classes; c++) {
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++)
            if (y[i] == c) rows[m++] = i;
        if (m < 2) continue;
        if (o->method == FOIL_SCAN_LOSS) {
            st = flag_highest(rows, m, eps, r);
            continue;
        }
        int64_t t = 0;
        for (int64_t i = 0; i < n_trusted; i++)
            if (o->trusted_y[i] == c) trows[t++] = i;
        Label l;
        if ((st = label_pca(foil_f32(&f), d, rows, m, &l))) break;
        st = o->method == FOIL_SCAN_SPECTRAL
                 ? spectral(&l, rows, eps, r)
                 : clustering(&l, rows, o, (uint64_t)c, n_trusted ? foil_f32(&tf) : NULL, trows, t, r);
        label_free(&l);
    }
    for (int64_t i = 0; i < n; i++) r->n_flagged += r->flagged[i];
    free(rows), free(trows);
    foil_tensor_free(&f), foil_tensor_free(&tf);
    if (st) foil_scan_result_free(r);
    return st;
}

void foil_scan_result_free(foil_scan_result *r)
{
    if (!r) return;
    free(r->flagged), free(r->score);
    memset(r, 0, sizeof *r);
}
