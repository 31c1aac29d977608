/*
 * nn/ml/svm.c - SVMClassifier (ai.onnx.ml; nn/ml/ml.h): scikit-learn's SVC
 * and NuSVC (libsvm) as skl2onnx exports them, with probability estimates.
 *
 * For every pair of classes i < j (libsvm's one-vs-one), the decision value
 *   d_ij(x) = sum_{v in class i} a_(j-1),v K(x, sv_v) + sum_{v in class j} a_i,v K(x, sv_v) + rho_ij
 * with the kernel K of kernel_type (LINEAR <a,b>, POLY (g <a,b> + c0)^deg,
 * RBF exp(-g |a-b|^2), SIGMOID tanh(g <a,b> + c0); kernel_params
 * [g, c0, deg]). Probabilities: Platt's r_ij = 1 - logistic(d_ij A_ij + B_ij)
 * (prob_a, prob_b), clipped to [1e-7, 1 - 1e-7], coupled into one
 * distribution over the classes by Wu, Lin and Weng's method (libsvm's
 * multiclass_probability), in double; label = argmax. Then post_transform.
 *
 * Refused with a clear error: a model without support vectors (the linear
 * mode: LinearSVC exports as LinearClassifier) or without probabilities
 * (export SVC(probability=True)): foil attacks scores, and the bare
 * decision values of a one-vs-one SVM are not per-class scores.
 *
 * Shapes: X (N, F) float32; labels (N) int64; scores (N, C) float32.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ml/ml.h"

enum { K_LINEAR = 0, K_POLY, K_RBF, K_SIGMOID };

typedef struct SvmState {
    int kernel;
    double gamma, coef0, degree;
    double *sv, *coef, *rho, *pa, *pb;
    int64_t n_sv, n_features, n_classes, n_pairs;
    int64_t *per_class, *start;  /* support vectors of each class, and where they start */
    int64_t *labels;
    FoilMlPost post;
} SvmState;

static void svm_destroy(FoilNode *n)
{
    SvmState *s = n->state;
    if (s) {
        free(s->sv); free(s->coef); free(s->rho); free(s->pa); free(s->pb);
        free(s->per_class); free(s->start); free(s->labels);
    }
    free(s);
    n->state = NULL;
}

static foil_status svm_init(FoilNode *n)
{
    SvmState *s = foilMlNewState(n, sizeof *s);
    if (!s) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    const char *kt = foilAttrString(n, "kernel_type", "LINEAR");
    static const char *names[] = {"LINEAR", "POLY", "RBF", "SIGMOID"};
    s->kernel = -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(kt, names[i]) == 0) s->kernel = i;
    if (s->kernel < 0) return foilNodeInitError(n, FOIL_ERR_FORMAT, "kernel_type '%s' is not one of LINEAR, POLY, RBF, SIGMOID", kt);
    double *kp;
    int64_t n_kp, n_sv_vals, n_coef, n_rho, n_pa, n_pb;
    const int64_t *vpc;
    int64_t n_vpc;
    foil_status st;
    if ((st = foilMlFloats(n, "kernel_params", &kp, &n_kp))) return st;
    if (n_kp && n_kp != 3) { free(kp); return foilNodeInitError(n, FOIL_ERR_FORMAT, "kernel_params has %lld values (gamma, coef0, degree)", (long long)n_kp); }
    s->gamma = n_kp ? kp[0] : 0;
    s->coef0 = n_kp ? kp[1] : 0;
    s->degree = n_kp ? kp[2] : 0;
    free(kp);
    if ((st = foilMlParsePost(n, &s->post)) || (st = foilMlClassLabels(n, "classlabels_ints", &s->labels, &s->n_classes)) ||
        (st = foilMlFloats(n, "support_vectors", &s->sv, &n_sv_vals)) || (st = foilMlFloats(n, "coefficients", &s->coef, &n_coef)) ||
        (st = foilMlFloats(n, "rho", &s->rho, &n_rho)) || (st = foilMlFloats(n, "prob_a", &s->pa, &n_pa)) ||
        (st = foilMlFloats(n, "prob_b", &s->pb, &n_pb)) || (st = foilMlInts(n, "vectors_per_class", &vpc, &n_vpc)))
        return st;
    const int64_t k = s->n_classes;
    if (k < 2) return foilNodeInitError(n, FOIL_ERR_FORMAT, "a classifier needs at least two classes");
    if (n_vpc == 0)
        return foilNodeInitError(n, FOIL_ERR_UNSUPPORTED, "no support vectors (the linear mode); export a linear SVM as "
                                 "a LinearClassifier");
    if (n_vpc != k)
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "vectors_per_class has %lld entries for %lld classes", (long long)n_vpc,
                                 (long long)k);
    if (!(s->per_class = malloc((size_t)k * sizeof *s->per_class)) || !(s->start = malloc((size_t)k * sizeof *s->start)))
        return foil_error(FOIL_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < k; i++) {
        if (vpc[i] < 0 || vpc[i] > (int64_t)1 << 40)
            return foilNodeInitError(n, FOIL_ERR_FORMAT, "vectors_per_class[%lld] is %lld", (long long)i, (long long)vpc[i]);
        s->per_class[i] = vpc[i];
        s->start[i] = s->n_sv;
        s->n_sv += vpc[i];
    }
    if (s->n_sv == 0 || n_sv_vals % s->n_sv)
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "%lld support vector values for %lld vectors", (long long)n_sv_vals,
                                 (long long)s->n_sv);
    s->n_features = n_sv_vals / s->n_sv;
    s->n_pairs = k * (k - 1) / 2;
    if (n_coef != (k - 1) * s->n_sv)
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "%lld coefficients; %lld classes and %lld support vectors need %lld",
                                 (long long)n_coef, (long long)k, (long long)s->n_sv, (long long)((k - 1) * s->n_sv));
    if (n_rho != s->n_pairs)
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "%lld rho values for %lld class pairs", (long long)n_rho, (long long)s->n_pairs);
    if (n_pa == 0 && n_pb == 0)
        return foilNodeInitError(n, FOIL_ERR_UNSUPPORTED, "no probability estimates (prob_a, prob_b): export the SVC with "
                                 "probability=True, so that the model gives per-class scores");
    if (n_pa != s->n_pairs || n_pb != s->n_pairs)
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "prob_a has %lld and prob_b %lld values for %lld class pairs",
                                 (long long)n_pa, (long long)n_pb, (long long)s->n_pairs);
    return FOIL_OK;
}

static foil_status svm_infer(FoilOpCtx *c)
{
    const SvmState *s = c->state;
    int64_t rows, f;
    foil_status st = foilMlRowsIn(c, &rows, &f);
    if (st) return st;
    if (f != s->n_features)
        return foilNodeError(c, FOIL_ERR_SHAPE, "the support vectors have %lld features, the input %lld",
                             (long long)s->n_features, (long long)f);
    const int64_t k = s->n_classes;
    c->work_bytes = (size_t)(s->n_sv + s->n_pairs + 3 * k + 2 * k * k) * sizeof(double);
    int64_t shape[2] = {rows, k};
    if ((st = foilMlSetOut(c, 0, FOIL_I64, 1, shape))) return st;
    return foilMlSetOut(c, 1, FOIL_F32, 2, shape);
}

static double kernel(const SvmState *s, const float *x, const double *v)
{
    const int64_t f = s->n_features;
    double acc = 0;
    if (s->kernel == K_RBF) {
        for (int64_t j = 0; j < f; j++) {
            double d = x[j] - v[j];
            acc += d * d;
        }
        return exp(-s->gamma * acc);
    }
    for (int64_t j = 0; j < f; j++) acc += x[j] * v[j];
    switch (s->kernel) {
    case K_POLY: return pow(s->gamma * acc + s->coef0, s->degree);
    case K_SIGMOID: return tanh(s->gamma * acc + s->coef0);
    default: return acc;
    }
}

/* Pairwise coupling (Wu, Lin, Weng 2004, method 2, as libsvm's
 * multiclass_probability): r (k x k), r[i][j] ~ P(i | i or j); p out (k). */
static void couple(int64_t k, const double *r, double *p, double *q, double *qp)
{
    for (int64_t t = 0; t < k; t++) {
        p[t] = 1.0 / (double)k;
        q[t * k + t] = 0;
        for (int64_t j = 0; j < t; j++) {
            q[t * k + t] += r[j * k + t] * r[j * k + t];
            q[t * k + j] = q[j * k + t];
        }
        for (int64_t j = t + 1; j < k; j++) {
            q[t * k + t] += r[j * k + t] * r[j * k + t];
            q[t * k + j] = -r[j * k + t] * r[t * k + j];
        }
    }
    const double eps = 0.005 / (double)k;
    for (int iter = 0; iter < 100 && k > 1; iter++) {
        double pqp = 0;
        for (int64_t t = 0; t < k; t++) {
            qp[t] = 0;
            for (int64_t j = 0; j < k; j++) qp[t] += q[t * k + j] * p[j];
            pqp += p[t] * qp[t];
        }
        double max_err = 0;
        for (int64_t t = 0; t < k; t++) {
            double e = fabs(qp[t] - pqp);
            if (e > max_err) max_err = e;
        }
        if (max_err < eps) break;
        for (int64_t t = 0; t < k; t++) {
            double diff = (-qp[t] + pqp) / q[t * k + t];
            p[t] += diff;
            pqp = (pqp + diff * (diff * q[t * k + t] + 2 * qp[t])) / (1 + diff) / (1 + diff);
            for (int64_t j = 0; j < k; j++) {
                qp[j] = (qp[j] + diff * q[t * k + j]) / (1 + diff);
                p[j] /= 1 + diff;
            }
        }
    }
}

static foil_status svm_forward(FoilOpCtx *c)
{
    const SvmState *s = c->state;
    const foil_tensor *x = c->in[0];
    const int64_t f = s->n_features, rows = x->ndim == 2 ? x->shape[0] : 1, k = s->n_classes, nsv = s->n_sv;
    double *kv = c->work, *dec = kv + nsv, *p = dec + s->n_pairs, *qp = p + k, *r = qp + 2 * k, *q = r + k * k;
    for (int64_t row = 0; row < rows; row++) {
        const float *xr = foil_f32(x) + row * f;
        for (int64_t v = 0; v < nsv; v++) kv[v] = kernel(s, xr, s->sv + v * f);
        int64_t e = 0;
        for (int64_t i = 0; i < k; i++)
            for (int64_t j = i + 1; j < k; j++, e++) {
                double sum = s->rho[e];
                const double *ci = s->coef + (j - 1) * nsv, *cj = s->coef + i * nsv;
                for (int64_t v = s->start[i]; v < s->start[i] + s->per_class[i]; v++) sum += ci[v] * kv[v];
                for (int64_t v = s->start[j]; v < s->start[j] + s->per_class[j]; v++) sum += cj[v] * kv[v];
                dec[e] = sum;
                double pr = 1 - foilMlLogistic(sum * s->pa[e] + s->pb[e]);
                pr = pr < 1e-7 ? 1e-7 : pr > 1 - 1e-7 ? 1 - 1e-7 : pr;
                r[i * k + j] = pr;
                r[j * k + i] = 1 - pr;
            }
        couple(k, r, p, q, qp);
        int64_t best = 0;
        for (int64_t t = 1; t < k; t++)
            if (p[t] > p[best]) best = t;
        if (c->out[0]) foil_i64(c->out[0])[row] = s->labels[best];
        foilMlPostRow(s->post, p, k);
        if (c->n_out > 1 && c->out[1])
            for (int64_t t = 0; t < k; t++) foil_f32(c->out[1])[row * k + t] = (float)p[t];
    }
    return FOIL_OK;
}

const FoilOp foilMlSVMClassifier = {
    .type = "SVMClassifier",
    .init = svm_init, .infer = svm_infer, .forward = svm_forward, .destroy = svm_destroy,
};
