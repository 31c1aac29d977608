/*
 * defenses/detectors.c - the detectors of foil/detect.h: scores, and the
 * scores' input gradients for the attacker who knows the detector.
 *
 * Scores are computed from the classifier's logits (max-softmax, energy),
 * from its softmax on x and on squeezed copies of x (squeeze), or from a
 * layer's features (mahalanobis). Each gradient is a vector-Jacobian
 * product through the model (foil_model_input_grad with a function of the
 * output), so it costs one forward and one backward pass per model input.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "foil/detect.h"

/* LAPACK (OpenBLAS ships it): Cholesky factorization and inverse. */
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
extern void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info);

typedef enum { DETECT_MAX_SOFTMAX, DETECT_ENERGY, DETECT_SQUEEZE, DETECT_MAHALANOBIS } detector_kind;

#define MAX_SQUEEZERS 8

struct foil_detector {
    detector_kind kind;
    foil_model *model;          /* the classifier (borrowed); the features model for mahalanobis (owned) */
    float temperature;          /* energy */
    foil_preprocessor squeezers[MAX_SQUEEZERS];
    int n_squeezers;
    int64_t classes, dim;       /* mahalanobis: class means (classes x dim) and the precision matrix (dim x dim) */
    float *means, *precision;
    float *precision_means;     /* classes x dim: P mu_c */
};

static const char *const detector_names[] = {"max-softmax", "energy", "squeeze", "mahalanobis"};

const char *foil_detector_name(const foil_detector *d) { return detector_names[d->kind]; }

static foil_status new_detector(detector_kind kind, foil_model *m, foil_detector **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    (*out)->kind = kind;
    (*out)->model = m;
    return FOIL_OK;
}

foil_status foil_detector_max_softmax(foil_model *m, foil_detector **out)
{
    return new_detector(DETECT_MAX_SOFTMAX, m, out);
}

foil_status foil_detector_energy(foil_model *m, float temperature, foil_detector **out)
{
    *out = NULL;
    if (!(temperature > 0) || !isfinite(temperature))
        return foil_error(FOIL_ERR_ARG, "the energy detector's temperature must be positive (got %g)", temperature);
    foil_status st = new_detector(DETECT_ENERGY, m, out);
    if (!st) (*out)->temperature = temperature;
    return st;
}

foil_status foil_detector_squeeze(foil_model *m, const foil_preprocessor *squeezers, int n, foil_detector **out)
{
    *out = NULL;
    foil_status st = FOIL_OK;
    if (n < 1 || n > MAX_SQUEEZERS)
        st = foil_error(FOIL_ERR_ARG, "feature squeezing takes 1 to %d squeezers (got %d)", MAX_SQUEEZERS, n);
    for (int k = 0; k < n && !st; k++)
        if (squeezers[k].randomized)
            st = foil_error(FOIL_ERR_ARG, "feature squeezing: squeezer '%s' is randomized; a squeezer must give the "
                            "same output for the same input", squeezers[k].name);
    if (!st) st = new_detector(DETECT_SQUEEZE, m, out);
    if (st) {
        foil_preprocessors_free((foil_preprocessor *)squeezers, n);
        return st;
    }
    memcpy((*out)->squeezers, squeezers, (size_t)n * sizeof *squeezers);
    (*out)->n_squeezers = n;
    return FOIL_OK;
}

void foil_detector_free(foil_detector *d)
{
    if (!d) return;
    foil_preprocessors_free(d->squeezers, d->n_squeezers);
    if (d->kind == DETECT_MAHALANOBIS) foil_model_free(d->model);
    free(d->means);
    free(d->precision);
    free(d->precision_means);
    free(d);
}

/* ---------------------------------------------------------------------------
 * scores from logits
 */

static void softmax_row(const float *z, int64_t c, float temperature, float *p)
{
    float zmax = z[0];
    for (int64_t j = 1; j < c; j++) zmax = z[j] > zmax ? z[j] : zmax;
    double sum = 0;
    for (int64_t j = 0; j < c; j++) sum += p[j] = expf((z[j] - zmax) / temperature);
    for (int64_t j = 0; j < c; j++) p[j] = (float)(p[j] / sum);
}

/* max-softmax: s = -max_j p_j; ds/dz_k = -p_m (delta_mk - p_k), m the argmax. */
static float max_softmax_row(const float *z, int64_t c, float *p, float *dz)
{
    softmax_row(z, c, 1.0f, p);
    int64_t m = 0;
    for (int64_t j = 1; j < c; j++) m = p[j] > p[m] ? j : m;
    if (dz)
        for (int64_t k = 0; k < c; k++) dz[k] = -p[m] * ((k == m) - p[k]);
    return -p[m];
}

/* energy: s = -T logsumexp(z / T); ds/dz_k = -softmax(z / T)_k. */
static float energy_row(const float *z, int64_t c, float t, float *p, float *dz)
{
    float zmax = z[0];
    for (int64_t j = 1; j < c; j++) zmax = z[j] > zmax ? z[j] : zmax;
    double sum = 0;
    for (int64_t j = 0; j < c; j++) sum += exp((double)(z[j] - zmax) / t);
    if (dz) {
        softmax_row(z, c, t, p);
        for (int64_t k = 0; k < c; k++) dz[k] = -p[k];
    }
    return (float)(-(double)zmax - t * log(sum));
}

/* Mahalanobis: s = min_c (f - mu_c)^T P (f - mu_c) over a chunk of feature
 * rows, computed as (f - mu_c) . (P f - P mu_c); ds/df = 2 P (f - mu_c*). */
static foil_status mahalanobis_rows(const foil_detector *d, const float *f, int64_t rows, float *value, float *df)
{
    const int64_t dim = d->dim;
    float *pf = malloc((size_t)(rows * dim) * sizeof *pf);
    if (!pf) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)dim, (int)dim, 1.0f, f, (int)dim,
                d->precision, (int)dim, 0.0f, pf, (int)dim);
    for (int64_t i = 0; i < rows; i++) {
        const float *fi = f + i * dim, *pfi = pf + i * dim;
        double best = INFINITY;
        int64_t best_c = 0;
        for (int64_t c = 0; c < d->classes; c++) {
            const float *mu = d->means + c * dim, *pmu = d->precision_means + c * dim;
            double q = 0;
            for (int64_t k = 0; k < dim; k++) q += (double)(fi[k] - mu[k]) * (pfi[k] - pmu[k]);
            if (q < best) best = q, best_c = c;
        }
        if (value) value[i] = (float)best;
        if (df)
            for (int64_t k = 0; k < dim; k++) df[i * dim + k] = 2.0f * (pfi[k] - d->precision_means[best_c * dim + k]);
    }
    free(pf);
    return FOIL_OK;
}

/* The foil_logit_fn of every detector but squeeze: its score and the
 * score's gradient with respect to the model's output. */
static foil_status score_fn(void *ctx, int64_t first, int64_t count, int64_t classes, const float *out, float *value,
                            float *dout)
{
    (void)first;
    const foil_detector *d = ctx;
    if (d->kind == DETECT_MAHALANOBIS) {
        if (classes != d->dim)
            return foil_error(FOIL_ERR_SHAPE, "the features have %lld values per example, the detector was fitted on "
                              "%lld", (long long)classes, (long long)d->dim);
        return mahalanobis_rows(d, out, count, value, dout);
    }
    float *p = malloc((size_t)classes * sizeof *p);
    if (!p) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < count; i++) {
        float *dz = dout ? dout + i * classes : NULL;
        float s = d->kind == DETECT_ENERGY ? energy_row(out + i * classes, classes, d->temperature, p, dz)
                                           : max_softmax_row(out + i * classes, classes, p, dz);
        if (value) value[i] = s;
    }
    free(p);
    return FOIL_OK;
}

/* ---------------------------------------------------------------------------
 * feature squeezing
 */

/* softmax of the model's logits on x (n x classes, allocated). */
static foil_status model_softmax(foil_model *m, const foil_tensor *x, foil_tensor *p)
{
    foil_status st = foil_model_predict(m, x, p);
    if (st) return st;
    foil_scores_as_logits(foil_model_capabilities(m), foil_f32(p), p->numel);
    const int64_t n = p->shape[0], c = p->shape[1];
    float *row = malloc((size_t)c * sizeof *row);
    if (!row) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        softmax_row(foil_f32(p) + i * c, c, 1.0f, row);
        memcpy(foil_f32(p) + i * c, row, (size_t)c * sizeof *row);
    }
    free(row);
    return FOIL_OK;
}

/* What a squeeze score keeps for its gradient: the softmax on x, the
 * squeezed copy of each example that scored highest, its softmax and which
 * squeezer made it. */
typedef struct squeeze_state {
    foil_tensor p0, p_best, x_best;
    int *which;
    const float *u;             /* rows x classes: the VJP's vector, for vjp_fn */
} squeeze_state;

static void squeeze_state_free(squeeze_state *s)
{
    foil_tensor_free(&s->p0);
    foil_tensor_free(&s->p_best);
    foil_tensor_free(&s->x_best);
    free(s->which);
}

static foil_status squeeze_scores(foil_detector *d, const foil_tensor *x, float *scores, squeeze_state *s)
{
    const int64_t n = x->shape[0], per = x->numel / n;
    foil_tensor xs = {0}, pk = {0};
    foil_status st = model_softmax(d->model, x, &s->p0);
    if (!st) st = foil_tensor_alloc(&xs, FOIL_F32, x->ndim, x->shape);
    if (!st) st = foil_tensor_alloc(&s->x_best, FOIL_F32, x->ndim, x->shape);
    if (!st && !(s->which = calloc((size_t)n, sizeof *s->which))) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    if (!st) st = foil_tensor_alloc(&s->p_best, FOIL_F32, 2, s->p0.shape);
    for (int64_t i = 0; i < n && !st; i++) scores[i] = -1.0f;
    const int64_t c = s->p0.shape[1];
    for (int k = 0; k < d->n_squeezers && !st; k++) {
        const foil_preprocessor *q = &d->squeezers[k];
        if ((st = q->forward(q->ctx, foil_f32(x), foil_f32(&xs), n, per, NULL)) ||
            (st = model_softmax(d->model, &xs, &pk)))
            break;
        for (int64_t i = 0; i < n; i++) {
            double l1 = 0;
            for (int64_t j = 0; j < c; j++) l1 += fabsf(foil_f32(&s->p0)[i * c + j] - foil_f32(&pk)[i * c + j]);
            if ((float)l1 <= scores[i]) continue;
            scores[i] = (float)l1;
            s->which[i] = k;
            memcpy(foil_f32(&s->x_best) + i * per, foil_f32(&xs) + i * per, (size_t)per * sizeof(float));
            memcpy(foil_f32(&s->p_best) + i * c, foil_f32(&pk) + i * c, (size_t)c * sizeof(float));
        }
    }
    foil_tensor_free(&xs);
    foil_tensor_free(&pk);
    return st;
}

/* The VJP of u . softmax(z): d/dz_j = p_j (u_j - sum_i u_i p_i). */
static foil_status softmax_vjp_fn(void *ctx, int64_t first, int64_t count, int64_t classes, const float *z,
                                  float *value, float *dz)
{
    const squeeze_state *s = ctx;
    float *p = malloc((size_t)classes * sizeof *p);
    if (!p) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < count; i++) {
        const float *u = s->u + (first + i) * classes;
        softmax_row(z + i * classes, classes, 1.0f, p);
        double up = 0;
        for (int64_t j = 0; j < classes; j++) up += (double)u[j] * p[j];
        if (value) value[i] = (float)up;
        for (int64_t j = 0; j < classes; j++) dz[i * classes + j] = p[j] * (float)(u[j] - up);
    }
    free(p);
    return FOIL_OK;
}

static float signf(float v) { return (float)((v > 0) - (v < 0)); }

/* d ||p(x) - p(q(x))||_1 / dx with the squeezer q passed by BPDA:
 * J_p(x)^T v + BPDA_q(J_p(q x)^T (-v)), v = sign(p(x) - p(q x)). */
static foil_status squeeze_grad(foil_detector *d, const foil_tensor *x, squeeze_state *s, foil_tensor *grad)
{
    const int64_t n = x->shape[0], per = x->numel / n, c = s->p0.shape[1];
    float *u = malloc((size_t)(n * c) * sizeof *u);
    foil_tensor g2 = {0};
    float *dx = malloc((size_t)per * sizeof *dx);
    if (!u || !dx) {
        free(u);
        free(dx);
        return foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    for (int64_t i = 0; i < n * c; i++) u[i] = signf(foil_f32(&s->p0)[i] - foil_f32(&s->p_best)[i]);
    s->u = u;
    foil_status st = foil_model_input_grad(d->model, x, softmax_vjp_fn, s, NULL, NULL, grad);
    for (int64_t i = 0; i < n * c; i++) u[i] = -u[i];
    if (!st) st = foil_model_input_grad(d->model, &s->x_best, softmax_vjp_fn, s, NULL, NULL, &g2);
    for (int64_t i = 0; i < n && !st; i++) {
        const foil_preprocessor *q = &d->squeezers[s->which[i]];
        float *gi = foil_f32(&g2) + i * per;
        if (q->bpda_backward) {
            if ((st = q->bpda_backward(q->ctx, foil_f32(x) + i * per, gi, dx, 1, per, NULL))) break;
            gi = dx;
        }
        for (int64_t j = 0; j < per; j++) foil_f32(grad)[i * per + j] += gi[j];
    }
    free(u);
    free(dx);
    foil_tensor_free(&g2);
    return st;
}

/* ---------------------------------------------------------------------------
 * the interface
 */

static foil_status check_batch(const foil_tensor *x)
{
    if (x->dtype != FOIL_F32 || x->ndim < 1 || x->shape[0] < 1)
        return foil_error(FOIL_ERR_ARG, "a detector scores a float32 batch of at least one example");
    return FOIL_OK;
}

foil_status foil_detector_score(foil_detector *d, const foil_tensor *x, float *scores)
{
    foil_status st = check_batch(x);
    if (st) return st;
    if (d->kind == DETECT_SQUEEZE) {
        squeeze_state s = {0};
        st = squeeze_scores(d, x, scores, &s);
        squeeze_state_free(&s);
        return st;
    }
    if (d->kind == DETECT_MAHALANOBIS) {
        foil_tensor f = {0};
        st = foil_model_predict(d->model, x, &f);
        if (!st) st = score_fn(d, 0, f.shape[0], f.numel / f.shape[0], foil_f32(&f), scores, NULL);
        foil_tensor_free(&f);
        return st;
    }
    foil_tensor z = {0};
    st = foil_model_predict(d->model, x, &z);
    if (!st) {
        foil_scores_as_logits(foil_model_capabilities(d->model), foil_f32(&z), z.numel);
        st = score_fn(d, 0, z.shape[0], z.shape[1], foil_f32(&z), scores, NULL);
    }
    foil_tensor_free(&z);
    return st;
}

foil_status foil_detector_score_grad(foil_detector *d, const foil_tensor *x, float *scores, foil_tensor *grad)
{
    foil_status st = check_batch(x);
    if (st) return st;
    if (!grad->data && (st = foil_tensor_alloc(grad, FOIL_F32, x->ndim, x->shape))) return st;
    if (d->kind != DETECT_SQUEEZE) return foil_model_input_grad(d->model, x, score_fn, d, scores, NULL, grad);
    squeeze_state s = {0};
    st = squeeze_scores(d, x, scores, &s);
    if (!st) st = squeeze_grad(d, x, &s, grad);
    squeeze_state_free(&s);
    return st;
}

/* ---------------------------------------------------------------------------
 * Mahalanobis: class means and the shared covariance's inverse
 */

/* Class means of the n x dim features f (labels y), and the tied
 * covariance (1/n) sum_i (f_i - mu_y_i)(f_i - mu_y_i)^T in double. */
static foil_status class_statistics(const float *f, const int64_t *y, int64_t n, int64_t dim, int64_t classes,
                                    float *means, double *cov)
{
    double *sum = calloc((size_t)(classes * dim), sizeof *sum);
    int64_t *count = calloc((size_t)classes, sizeof *count);
    double *centred = malloc((size_t)(n * dim) * sizeof *centred);
    foil_status st = FOIL_OK;
    if (!sum || !count || !centred) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n && !st; i++) {
        if (y[i] < 0 || y[i] >= classes) {
            st = foil_error(FOIL_ERR_ARG, "the Mahalanobis detector: label %lld of example %lld is not a class of "
                            "0..%lld", (long long)y[i], (long long)i, (long long)classes - 1);
            break;
        }
        count[y[i]]++;
        for (int64_t k = 0; k < dim; k++) sum[y[i] * dim + k] += f[i * dim + k];
    }
    for (int64_t c = 0; c < classes && !st; c++) {
        if (!count[c]) {
            st = foil_error(FOIL_ERR_ARG, "the Mahalanobis detector needs examples of every class; class %lld has "
                            "none", (long long)c);
            break;
        }
        for (int64_t k = 0; k < dim; k++) means[c * dim + k] = (float)(sum[c * dim + k] / (double)count[c]);
    }
    if (!st) {
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < dim; k++) centred[i * dim + k] = (double)f[i * dim + k] - means[y[i] * dim + k];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)dim, (int)n, 1.0 / (double)n, centred, (int)dim, 0.0,
                    cov, (int)dim);
    }
    free(sum);
    free(count);
    free(centred);
    return st;
}

/* cov (upper triangle, row-major) -> its inverse with a ridge, both
 * triangles, as float. Row-major upper is column-major lower for LAPACK. */
static foil_status invert_covariance(double *cov, int64_t dim, float *precision)
{
    double trace = 0;
    for (int64_t k = 0; k < dim; k++) trace += cov[k * dim + k];
    double ridge = 1e-6 * (trace > 0 ? trace / (double)dim : 1.0);
    for (int64_t k = 0; k < dim; k++) cov[k * dim + k] += ridge;
    int n = (int)dim, info = 0;
    dpotrf_("L", &n, cov, &n, &info);
    if (!info) dpotri_("L", &n, cov, &n, &info);
    if (info)
        return foil_error(FOIL_ERR_RUNTIME, "the Mahalanobis detector: the features' covariance is not positive "
                          "definite (LAPACK info %d); fit on more examples", info);
    for (int64_t r = 0; r < dim; r++)
        for (int64_t c = r; c < dim; c++)
            precision[r * dim + c] = precision[c * dim + r] = (float)cov[r * dim + c];
    return FOIL_OK;
}

foil_status foil_detector_mahalanobis(foil_model *features, const foil_tensor *x, const int64_t *y, int64_t classes,
                                      foil_detector **out)
{
    *out = NULL;
    foil_tensor f = {0};
    double *cov = NULL;
    foil_detector *d = NULL;
    foil_status st = check_batch(x);
    if (!st && classes < 1) st = foil_error(FOIL_ERR_ARG, "the Mahalanobis detector needs at least one class");
    if (!st) st = foil_model_predict(features, x, &f);
    if (!st) st = new_detector(DETECT_MAHALANOBIS, features, &d);
    if (st) {
        foil_tensor_free(&f);
        if (!d) foil_model_free(features);
        foil_detector_free(d);
        return st;
    }
    const int64_t n = f.shape[0], dim = f.numel / n;
    d->classes = classes;
    d->dim = dim;
    d->means = malloc((size_t)(classes * dim) * sizeof *d->means);
    d->precision = malloc((size_t)(dim * dim) * sizeof *d->precision);
    d->precision_means = malloc((size_t)(classes * dim) * sizeof *d->precision_means);
    cov = calloc((size_t)(dim * dim), sizeof *cov);
    if (!d->means || !d->precision || !d->precision_means || !cov) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    if (!st) st = class_statistics(foil_f32(&f), y, n, dim, classes, d->means, cov);
    if (!st) st = invert_covariance(cov, dim, d->precision);
    if (!st)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)classes, (int)dim, (int)dim, 1.0f, d->means,
                    (int)dim, d->precision, (int)dim, 0.0f, d->precision_means, (int)dim);
    foil_tensor_free(&f);
    free(cov);
    if (st) foil_detector_free(d);
    else *out = d;
    return st;
}
