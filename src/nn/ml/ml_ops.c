/*
 * nn/ml/ml_ops.c - the ai.onnx.ml operator table and its lookup (nn/ml/ml.h),
 * with the small operators of scikit-learn's pipelines: Scaler, Normalizer,
 * LinearClassifier, LinearRegressor, ZipMap (the default-domain operators
 * the exports use, Cast among them, are the kernel set's).
 * Trees are in tree.c, support vector machines in svm.c.
 *
 * Shapes: X (N, F) float32 rows of F features (a rank-1 (F) input is one
 * row); scores (N, C) float32; labels (N) int64.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ml/ml.h"

/* ---------------------------------------------------------------------------
 * shared helpers
 */

foil_status foilMlParsePost(const FoilNode *n, FoilMlPost *out)
{
    const char *s = foilAttrString(n, "post_transform", "NONE");
    static const char *names[] = {"NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO", "PROBIT"};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (FoilMlPost)i;
            return FOIL_OK;
        }
    return foilNodeInitError(n, FOIL_ERR_FORMAT, "post_transform '%s' is not one of NONE, SOFTMAX, LOGISTIC, "
                             "SOFTMAX_ZERO, PROBIT", s);
}

double foilMlLogistic(double v)
{
    /* 1 / (1 + e^-v), computed on |v| so that e^x never overflows. */
    double e = 1.0 / (1.0 + exp(-fabs(v)));
    return v < 0 ? 1.0 - e : e;
}

/* The inverse of the standard normal CDF, Phi^-1(p): bisection on
 * Phi(x) = 0.5 erfc(-x / sqrt 2) down to adjacent doubles (PROBIT is rare:
 * exactness over speed). */
double foilMlProbit(double p)
{
    if (isnan(p) || p < 0 || p > 1) return NAN;
    if (p == 0) return -INFINITY;
    if (p == 1) return INFINITY;
    double lo = -40, hi = 40;
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi) break;
        if (0.5 * erfc(-mid / 1.4142135623730951) < p) lo = mid;
        else hi = mid;
    }
    return 0.5 * (lo + hi);
}

void foilMlPostRow(FoilMlPost post, double *s, int64_t k)
{
    switch (post) {
    case FOIL_ML_POST_NONE: break;
    case FOIL_ML_POST_LOGISTIC:
        for (int64_t i = 0; i < k; i++) s[i] = foilMlLogistic(s[i]);
        break;
    case FOIL_ML_POST_PROBIT:
        for (int64_t i = 0; i < k; i++) s[i] = foilMlProbit(s[i]);
        break;
    case FOIL_ML_POST_SOFTMAX:
    case FOIL_ML_POST_SOFTMAX_ZERO: {
        /* SOFTMAX_ZERO leaves (near) zero scores at zero: a class no tree
         * voted for gets no probability. */
        int zero = post == FOIL_ML_POST_SOFTMAX_ZERO;
        double m = -INFINITY, sum = 0;
        for (int64_t i = 0; i < k; i++) m = s[i] > m ? s[i] : m;
        for (int64_t i = 0; i < k; i++) {
            if (zero && fabs(s[i]) <= 1e-7) s[i] = 0;
            else {
                s[i] = exp(s[i] - m);
                sum += s[i];
            }
        }
        for (int64_t i = 0; i < k; i++) s[i] = sum > 0 ? s[i] / sum : s[i];
        break;
    }
    }
}

foil_status foilMlFloats(const FoilNode *n, const char *name, double **vals, int64_t *count)
{
    *vals = NULL;
    *count = 0;
    const FoilAttr *a = foilAttrGet(n, name);
    char tname[128];
    snprintf(tname, sizeof tname, "%s_as_tensor", name);
    const FoilAttr *t = foilAttrGet(n, tname);
    if (a && t)
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "both '%s' and '%s' are given (one or the other)", name, tname);
    if (a) {
        if (a->type != FOIL_ATTR_FLOATS && !(a->type == FOIL_ATTR_FLOAT))
            return foilNodeInitError(n, FOIL_ERR_FORMAT, "attribute '%s' must be a list of floats", name);
        int64_t k = a->type == FOIL_ATTR_FLOAT ? 1 : a->n;
        *vals = malloc((size_t)(k ? k : 1) * sizeof **vals);
        if (!*vals) return foil_error(FOIL_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; i < k; i++) (*vals)[i] = a->type == FOIL_ATTR_FLOAT ? a->f : a->floats[i];
        *count = k;
        return FOIL_OK;
    }
    if (!t) return FOIL_OK;
    if (t->type != FOIL_ATTR_TENSOR || !t->t || (t->t->dtype != FOIL_F32 && t->t->dtype != FOIL_F64))
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "attribute '%s' must be a float or double tensor", tname);
    int64_t k = t->t->numel;
    *vals = malloc((size_t)(k ? k : 1) * sizeof **vals);
    if (!*vals) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < k; i++)
        (*vals)[i] = t->t->dtype == FOIL_F64 ? ((const double *)t->t->data)[i] : ((const float *)t->t->data)[i];
    *count = k;
    return FOIL_OK;
}

foil_status foilMlInts(const FoilNode *n, const char *name, const int64_t **vals, int64_t *count)
{
    *vals = NULL;
    *count = 0;
    const FoilAttr *a = foilAttrGet(n, name);
    if (!a) return FOIL_OK;
    if (a->type != FOIL_ATTR_INTS)
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "attribute '%s' must be a list of integers", name);
    *vals = a->ints;
    *count = a->n;
    return FOIL_OK;
}

foil_status foilMlClassLabels(const FoilNode *n, const char *ints_name, int64_t **labels, int64_t *count)
{
    *labels = NULL;
    *count = 0;
    const int64_t *ints;
    int64_t ni;
    foil_status st = foilMlInts(n, ints_name, &ints, &ni);
    if (st) return st;
    const FoilAttr *s = foilAttrGet(n, "classlabels_strings");
    if (s && s->type != FOIL_ATTR_STRINGS)
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "attribute 'classlabels_strings' must be a list of strings");
    int64_t ns = s ? s->n : 0;
    if (ni && ns)
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "both '%s' and 'classlabels_strings' are given", ints_name);
    int64_t k = ni ? ni : ns;
    if (k == 0) return foilNodeInitError(n, FOIL_ERR_FORMAT, "no class labels ('%s' or 'classlabels_strings')", ints_name);
    *labels = malloc((size_t)k * sizeof **labels);
    if (!*labels) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    /* String labels become their indices: foil has no string tensors. */
    for (int64_t i = 0; i < k; i++) (*labels)[i] = ni ? ints[i] : i;
    *count = k;
    return FOIL_OK;
}

void *foilMlNewState(FoilNode *n, size_t size)
{
    return n->state = calloc(1, size);
}

foil_status foilMlSetOut(FoilOpCtx *c, int k, foil_dtype dt, int ndim, const int64_t *shape)
{
    if (k >= c->n_out || !c->out[k]) return FOIL_OK; /* an omitted optional output */
    foil_status st = foil_tensor_set_shape(c->out[k], dt, ndim, shape);
    if (st) return foilNodeError(c, st, "output %d: %s", k, foil_last_error());
    return FOIL_OK;
}

/* For ops whose one output is their point: it must be there. */
static foil_status need_out0(FoilOpCtx *c)
{
    if (c->n_out < 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "output 0 is missing");
    return FOIL_OK;
}

foil_status foilMlRowsIn(FoilOpCtx *c, int64_t *rows, int64_t *features)
{
    if (c->n_in < 1 || !c->in[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "input X is missing");
    const foil_tensor *x = c->in[0];
    if (x->dtype != FOIL_F32)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "input X is %s; foil runs this operator on float32 (export the "
                             "model with a FloatTensorType input)", foil_dtype_name(x->dtype));
    if (x->ndim != 1 && x->ndim != 2)
        return foilNodeError(c, FOIL_ERR_SHAPE, "input X has rank %d; rows of features (N, F) are expected", x->ndim);
    *rows = x->ndim == 2 ? x->shape[0] : 1;
    *features = x->shape[x->ndim - 1];
    return FOIL_OK;
}

static int64_t argmax(const double *s, int64_t k)
{
    int64_t best = 0;
    for (int64_t i = 1; i < k; i++)
        if (s[i] > s[best]) best = i;
    return best;
}

/* ---------------------------------------------------------------------------
 * Scaler: Y = (X - offset) * scale, offset and scale of length 1 or F.
 */

typedef struct ScalerState {
    double *offset, *scale;
    int64_t n_offset, n_scale;
} ScalerState;

static void scaler_destroy(FoilNode *n)
{
    ScalerState *s = n->state;
    if (s) { free(s->offset); free(s->scale); }
    free(s);
    n->state = NULL;
}

static foil_status scaler_init(FoilNode *n)
{
    ScalerState *s = foilMlNewState(n, sizeof *s);
    if (!s) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    foil_status st = foilMlFloats(n, "offset", &s->offset, &s->n_offset);
    if (!st) st = foilMlFloats(n, "scale", &s->scale, &s->n_scale);
    return st;
}

static foil_status scaler_infer(FoilOpCtx *c)
{
    const ScalerState *s = c->state;
    int64_t rows, f;
    foil_status st = foilMlRowsIn(c, &rows, &f);
    if (!st) st = need_out0(c);
    if (st) return st;
    if ((s->n_offset > 1 && s->n_offset != f) || (s->n_scale > 1 && s->n_scale != f))
        return foilNodeError(c, FOIL_ERR_SHAPE, "offset has %lld and scale %lld values, but the input has %lld "
                             "features (1 or %lld each)", (long long)s->n_offset, (long long)s->n_scale, (long long)f,
                             (long long)f);
    return foilMlSetOut(c, 0, FOIL_F32, c->in[0]->ndim, c->in[0]->shape);
}

static foil_status scaler_forward(FoilOpCtx *c)
{
    const ScalerState *s = c->state;
    const foil_tensor *x = c->in[0];
    const int64_t f = x->shape[x->ndim - 1], rows = x->numel / (f ? f : 1);
    const float *xp = foil_f32(x);
    float *y = foil_f32(c->out[0]);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < f; j++) {
            double o = s->n_offset == 0 ? 0 : s->offset[s->n_offset == 1 ? 0 : j];
            double k = s->n_scale == 0 ? 1 : s->scale[s->n_scale == 1 ? 0 : j];
            y[r * f + j] = (float)(((double)xp[r * f + j] - o) * k);
        }
    return FOIL_OK;
}

/* ---------------------------------------------------------------------------
 * Normalizer: each row divided by its max (MAX), sum of |x| (L1) or
 * Euclidean norm (L2). A row whose norm is 0 is left as it is.
 */

typedef struct NormState { int norm; } NormState; /* 0 MAX, 1 L1, 2 L2 */

static foil_status normalizer_init(FoilNode *n)
{
    const char *s = foilAttrString(n, "norm", "MAX");
    int k = strcmp(s, "MAX") == 0 ? 0 : strcmp(s, "L1") == 0 ? 1 : strcmp(s, "L2") == 0 ? 2 : -1;
    if (k < 0) return foilNodeInitError(n, FOIL_ERR_FORMAT, "norm '%s' is not one of MAX, L1, L2", s);
    NormState *st = calloc(1, sizeof *st);
    if (!st) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    st->norm = k;
    n->state = st;
    return FOIL_OK;
}

static foil_status normalizer_infer(FoilOpCtx *c)
{
    int64_t rows, f;
    foil_status st = foilMlRowsIn(c, &rows, &f);
    if (!st) st = need_out0(c);
    return st ? st : foilMlSetOut(c, 0, FOIL_F32, c->in[0]->ndim, c->in[0]->shape);
}

static foil_status normalizer_forward(FoilOpCtx *c)
{
    const NormState *s = c->state;
    const foil_tensor *x = c->in[0];
    const int64_t f = x->shape[x->ndim - 1], rows = x->numel / (f ? f : 1);
    const float *xp = foil_f32(x);
    float *y = foil_f32(c->out[0]);
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = xp + r * f;
        double d = 0;
        if (s->norm == 0) {
            d = -INFINITY;
            for (int64_t j = 0; j < f; j++) d = xr[j] > d ? xr[j] : d;
        } else if (s->norm == 1) {
            for (int64_t j = 0; j < f; j++) d += fabs((double)xr[j]);
        } else {
            for (int64_t j = 0; j < f; j++) d += (double)xr[j] * xr[j];
            d = sqrt(d);
        }
        for (int64_t j = 0; j < f; j++) y[r * f + j] = d != 0 && isfinite(d) ? (float)(xr[j] / d) : xr[j];
    }
    return FOIL_OK;
}

/* ---------------------------------------------------------------------------
 * LinearClassifier: scores = X W^T + b, W (C, F); labels by argmax, or for
 * one score column and two labels, the second when the score is > 0.
 * Scores out: C >= 2 columns, post-transformed per row; one column with
 * two labels: two columns, [-s, s] (NONE) or [1 - sigma(s), sigma(s)]
 * (LOGISTIC); one column otherwise.
 * LinearRegressor: Y = X W^T + b, W (T, F), post-transformed per row
 * (one target: PROBIT or nothing, as onnxruntime).
 */

typedef struct LinearState {
    double *coef, *bias;
    int64_t rows_w, n_coef;  /* C (or T) rows of W */
    int64_t *labels, n_labels;
    FoilMlPost post;
    int classifier;
} LinearState;

static void linear_destroy(FoilNode *n)
{
    LinearState *s = n->state;
    if (s) { free(s->coef); free(s->bias); free(s->labels); }
    free(s);
    n->state = NULL;
}

static foil_status linear_init_common(FoilNode *n, int classifier)
{
    LinearState *s = foilMlNewState(n, sizeof *s);
    if (!s) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    s->classifier = classifier;
    int64_t nb;
    foil_status st = foilMlFloats(n, "coefficients", &s->coef, &s->n_coef);
    if (!st) st = foilMlFloats(n, "intercepts", &s->bias, &nb);
    if (!st) st = foilMlParsePost(n, &s->post);
    if (!st && classifier) st = foilMlClassLabels(n, "classlabels_ints", &s->labels, &s->n_labels);
    if (st) return st;
    if (s->n_coef == 0) return foilNodeInitError(n, FOIL_ERR_FORMAT, "no coefficients");
    if (classifier) s->rows_w = nb ? nb : s->n_labels;
    else {
        s->rows_w = foilAttrInt(n, "targets", 1);
        if (s->rows_w < 1) return foilNodeInitError(n, FOIL_ERR_FORMAT, "targets must be >= 1");
    }
    if (nb && nb != s->rows_w)
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "%lld intercepts for %lld targets", (long long)nb,
                                 (long long)s->rows_w);
    if (s->n_coef % s->rows_w)
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "%lld coefficients are not a multiple of %lld %s",
                                 (long long)s->n_coef, (long long)s->rows_w, classifier ? "classes" : "targets");
    if (classifier && s->rows_w >= 2 && s->rows_w != s->n_labels)
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "%lld score rows but %lld class labels", (long long)s->rows_w,
                                 (long long)s->n_labels);
    if (classifier && s->rows_w == 1 && s->n_labels == 2 && s->post != FOIL_ML_POST_NONE &&
        s->post != FOIL_ML_POST_LOGISTIC)
        return foilNodeInitError(n, FOIL_ERR_UNSUPPORTED, "one score row for two classes with post_transform other "
                                 "than NONE or LOGISTIC");
    if (!nb) {
        s->bias = calloc((size_t)s->rows_w, sizeof *s->bias);
        if (!s->bias) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    return FOIL_OK;
}

static foil_status linclass_init(FoilNode *n) { return linear_init_common(n, 1); }
static foil_status linreg_init(FoilNode *n) { return linear_init_common(n, 0); }

static int64_t linear_out_cols(const LinearState *s)
{
    return s->classifier && s->rows_w == 1 && s->n_labels == 2 ? 2 : s->rows_w;
}

static foil_status linear_infer(FoilOpCtx *c)
{
    const LinearState *s = c->state;
    int64_t rows, f;
    foil_status st = foilMlRowsIn(c, &rows, &f);
    if (st) return st;
    if (s->n_coef != s->rows_w * f)
        return foilNodeError(c, FOIL_ERR_SHAPE, "%lld coefficients for %lld rows, but the input has %lld features",
                             (long long)s->n_coef, (long long)s->rows_w, (long long)f);
    int64_t shape[2] = {rows, linear_out_cols(s)};
    c->work_bytes = (size_t)(s->rows_w + 2) * sizeof(double);
    if (!s->classifier) return foilMlSetOut(c, 0, FOIL_F32, 2, shape);
    if ((st = foilMlSetOut(c, 0, FOIL_I64, 1, shape))) return st;
    return foilMlSetOut(c, 1, FOIL_F32, 2, shape);
}

static foil_status linear_forward(FoilOpCtx *c)
{
    const LinearState *s = c->state;
    const foil_tensor *x = c->in[0];
    const int64_t f = x->shape[x->ndim - 1], rows = x->ndim == 2 ? x->shape[0] : 1, k = s->rows_w;
    const int64_t cols = linear_out_cols(s);
    const float *xp = foil_f32(x);
    double *sc = c->work;
    foil_tensor *yl = s->classifier && c->n_out > 0 ? c->out[0] : NULL;
    foil_tensor *ys = s->classifier ? (c->n_out > 1 ? c->out[1] : NULL) : c->out[0];
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t t = 0; t < k; t++) {
            double acc = s->bias[t];
            for (int64_t j = 0; j < f; j++) acc += s->coef[t * f + j] * xp[r * f + j];
            sc[t] = acc;
        }
        if (yl) {
            int64_t lab;
            if (k == 1) {
                int pos = sc[0] > 0;
                lab = s->n_labels == 2 ? s->labels[pos] : pos;
            } else lab = s->labels[argmax(sc, k)];
            foil_i64(yl)[r] = lab;
        }
        if (!ys) continue;
        if (s->classifier && k == 1 && s->n_labels == 2) {
            double v = sc[0];
            if (s->post == FOIL_ML_POST_LOGISTIC) { sc[0] = foilMlLogistic(-v); sc[1] = foilMlLogistic(v); }
            else { sc[0] = -v; sc[1] = v; }
        } else if (k == 1) {
            if (s->post == FOIL_ML_POST_PROBIT || (s->classifier && s->post == FOIL_ML_POST_LOGISTIC))
                foilMlPostRow(s->post, sc, 1);
        } else foilMlPostRow(s->post, sc, k);
        for (int64_t t = 0; t < cols; t++) foil_f32(ys)[r * cols + t] = (float)sc[t];
    }
    return FOIL_OK;
}

/* ---------------------------------------------------------------------------
 * ZipMap: a sequence of {label: probability} maps in ONNX; foil keeps the
 * (N, C) tensor of probabilities it is made from (the loader accepts the
 * sequence-typed graph output it feeds).
 */

static foil_status zipmap_infer(FoilOpCtx *c)
{
    if (c->n_in != 1 || !c->in[0] || c->in[0]->dtype != FOIL_F32 || c->in[0]->ndim != 2)
        return foilNodeError(c, FOIL_ERR_FORMAT, "expects one float32 (N, C) input");
    foil_status st = need_out0(c);
    return st ? st : foilMlSetOut(c, 0, FOIL_F32, 2, c->in[0]->shape);
}

static foil_status copy_forward(FoilOpCtx *c)
{
    if (c->out[0]) memcpy(c->out[0]->data, c->in[0]->data, foil_tensor_nbytes(c->in[0]));
    return FOIL_OK;
}

/* in the forward pass this was: y = x; so dx += dy. */
static void copy_backward(FoilOpCtx *c)
{
    if (!c->d_in[0] || !c->d_out[0]) return;
    float *dx = foil_f32(c->d_in[0]);
    const float *dy = foil_f32(c->d_out[0]);
    for (int64_t i = 0; i < c->d_in[0]->numel; i++) dx[i] += dy[i];
}

/* ---------------------------------------------------------------------------
 * the tables
 */

static const FoilOp op_scaler = {.type = "Scaler", .init = scaler_init, .infer = scaler_infer,
                                 .forward = scaler_forward, .destroy = scaler_destroy};
static const FoilOp op_normalizer = {.type = "Normalizer", .init = normalizer_init, .infer = normalizer_infer,
                                     .forward = normalizer_forward};
static const FoilOp op_linclass = {.type = "LinearClassifier", .init = linclass_init, .infer = linear_infer,
                                   .forward = linear_forward, .destroy = linear_destroy};
static const FoilOp op_linreg = {.type = "LinearRegressor", .init = linreg_init, .infer = linear_infer,
                                 .forward = linear_forward, .destroy = linear_destroy};
static const FoilOp op_zipmap = {.type = "ZipMap", .grad_inputs = 1u, .infer = zipmap_infer,
                                 .forward = copy_forward, .backward = copy_backward};

static const FoilOp *const ml_ops[] = {
    &op_linclass, &op_linreg, &op_normalizer, &op_scaler, &foilMlSVMClassifier,
    &foilMlTreeEnsembleClassifier, &foilMlTreeEnsembleRegressor, &op_zipmap,
};

#define COUNT(a) ((int)(sizeof(a) / sizeof(a)[0]))

static int is_ml_domain(const char *domain) { return domain && strcmp(domain, FOIL_ML_DOMAIN) == 0; }

const FoilOp *foilOpFindDomain(const char *domain, const char *type)
{
    if (is_ml_domain(domain)) {
        for (int i = 0; i < COUNT(ml_ops); i++)
            if (strcmp(ml_ops[i]->type, type) == 0) return ml_ops[i];
        return NULL;
    }
    return foilOpFind(type);
}

const char *foilOpListDomain(const char *domain)
{
    static char ml[256], dflt[4096];
    char *list = is_ml_domain(domain) ? ml : dflt;
    size_t cap = is_ml_domain(domain) ? sizeof ml : sizeof dflt;
    if (list[0]) return list;
    if (is_ml_domain(domain)) {
        size_t used = 0;
        for (int i = 0; i < COUNT(ml_ops); i++)
            used += (size_t)snprintf(list + used, cap - used, "%s%s", i ? ", " : "", ml_ops[i]->type);
    } else {
        snprintf(list, cap, "%s", foilOpList());
    }
    return list;
}

/* ---------------------------------------------------------------------------
 * the gradient rule
 */

static int blocks_gradient(const FoilOp *op)
{
    if (op->backward) return 0;
    for (int i = 0; i < COUNT(ml_ops); i++)
        if (ml_ops[i] == op) return 1;
    return 0;
}

int foilMlGradientBlocker(const FoilGraph *g, int out)
{
    /* dep[v]: v depends on graph input 0 along edges a backward pass
     * follows, or through a node of this table without one; blocker[v]:
     * the first such node on the way (-1: none). Nodes are in topological
     * order (foilGraphFinalize checked it). */
    if (g->n_inputs < 1 || out < 0 || out >= g->n_outputs) return -1;
    unsigned char *dep = calloc((size_t)g->n_values + 1, 1);
    int *blocker = malloc(((size_t)g->n_values + 1) * sizeof *blocker);
    if (!dep || !blocker) { free(dep); free(blocker); return -1; }
    for (int i = 0; i < g->n_values; i++) blocker[i] = -1;
    dep[g->inputs[0]] = 1;
    for (int k = 0; k < g->n_nodes; k++) {
        const FoilNode *n = &g->nodes[k];
        int any = 0, b = -1;
        const int blocks = blocks_gradient(n->op);
        for (int i = 0; i < n->n_in; i++) {
            int v = n->in[i];
            if (v < 0 || !dep[v]) continue;
            if (!blocks && (!n->op->backward || i >= 32 || !((n->op->grad_inputs >> i) & 1u))) continue;
            any = 1;
            if (blocker[v] >= 0 && (b < 0 || blocker[v] < b)) b = blocker[v];
        }
        if (blocks && any && b < 0) b = k;
        for (int i = 0; i < n->n_out; i++)
            if (n->out[i] >= 0 && any) { dep[n->out[i]] = 1; blocker[n->out[i]] = b; }
    }
    int v = g->outputs[out], r = dep[v] ? blocker[v] : -1;
    free(dep);
    free(blocker);
    return r;
}
