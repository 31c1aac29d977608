/*
 * eval/audit_examples.c - the report's example grid: a few correctly classified
 * images of the sample, the adversarial example the headline attacks found
 * for each, and integrated-gradients saliency maps (Sundararajan, Taly and
 * Yan 2017) of the clean and the adversarial image, so a reader sees what
 * the model looks at and how the attack moved it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/audit_examples.h"

/* (C, H, W) of d's images when they can be drawn: gray or RGB. */
static int image_shape(const foil_dataset *d, int64_t shape[3])
{
    const foil_tensor *x = &d->x;
    if (!d->is_image) return 0;
    if (x->ndim == 3) shape[0] = 1, shape[1] = x->shape[1], shape[2] = x->shape[2];
    else if (x->ndim == 4) shape[0] = x->shape[1], shape[1] = x->shape[2], shape[2] = x->shape[3];
    else return 0;
    return shape[0] == 1 || shape[0] == 3;
}

static float *copy_floats(const float *src, int64_t n)
{
    float *dst = malloc((size_t)n * sizeof *dst);
    if (dst) memcpy(dst, src, (size_t)n * sizeof *dst);
    return dst;
}

/* One correctly classified example per class, the first of each in the
 * sample (so a seed gives the same grid), classes in order. */
foil_status foilAuditPickExamples(FoilAudit *a, const foil_dataset *d, const foil_tensor *x, const int64_t *y,
                                  const int64_t *pred)
{
    if (!image_shape(d, a->image_shape)) return FOIL_OK;
    int64_t f = foil_dataset_example_size(d), n = x->shape[0];
    a->lower = copy_floats(foil_f32(&d->lower), f);
    a->upper = copy_floats(foil_f32(&d->upper), f);
    if (!a->lower || !a->upper) return foil_error(FOIL_ERR_NOMEM, "audit: out of memory for the examples");
    for (int64_t c = 0; c < a->classes && a->n_examples < FOIL_AUDIT_MAX_EXAMPLES; c++) {
        int64_t i = 0;
        while (i < n && !(y[i] == c && pred[i] == c)) i++;
        if (i == n) continue;
        FoilAuditExample *e = &a->examples[a->n_examples++];
        *e = (FoilAuditExample){.index = i, .label = c, .clean_pred = c, .adv_pred = c};
        e->clean = copy_floats(foil_f32(x) + i * f, f);
        e->adv = copy_floats(foil_f32(x) + i * f, f);
        if (!e->clean || !e->adv) return foil_error(FOIL_ERR_NOMEM, "audit: out of memory for the examples");
    }
    return FOIL_OK;
}

void foilAuditKeepAdversarial(FoilAudit *a, const char *attack, const foil_evasion_result *r)
{
    int64_t f = r->adv.numel / r->n;
    for (int k = 0; k < a->n_examples; k++) {
        FoilAuditExample *e = &a->examples[k];
        if (e->attack || !r->success[e->index]) continue;
        e->attack = attack;
        e->adv_pred = r->adv_pred[e->index];
        memcpy(e->adv, foil_f32(&r->adv) + e->index * f, (size_t)f * sizeof(float));
    }
}

/* The softmax of a row of logits, as its maximum and the sum of exp(l - max):
 * p_c = exp(l_c - top) / sum, with no array as long as the classes. */
typedef struct softmax_row {
    const float *logits;
    double top, sum;
} softmax_row;

static softmax_row softmax_of(const float *logits, int64_t classes)
{
    softmax_row r = {logits, logits[0], 0};
    for (int64_t c = 1; c < classes; c++) r.top = fmax(r.top, logits[c]);
    for (int64_t c = 0; c < classes; c++) r.sum += exp(logits[c] - r.top);
    return r;
}

static double softmax_p(const softmax_row *r, int64_t c) { return exp(r->logits[c] - r->top) / r->sum; }

/* F = softmax(logits)[target]: value p_t, dF/dlogit_j = p_t (delta_tj - p_j). */
static foil_status class_probability(void *ctx, int64_t first, int64_t count, int64_t classes, const float *logits,
                                     float *value, float *dvalue)
{
    (void)first;
    int64_t target = *(const int64_t *)ctx;
    for (int64_t i = 0; i < count; i++) {
        softmax_row r = softmax_of(logits + i * classes, classes);
        double pt = softmax_p(&r, target);
        if (value) value[i] = (float)pt;
        for (int64_t c = 0; c < classes; c++) dvalue[i * classes + c] = (float)(pt * ((c == target) - softmax_p(&r, c)));
    }
    return FOIL_OK;
}

/* n images of shape (C, H, W), uninitialized. */
static foil_status alloc_images(const int64_t image[3], int64_t n, foil_tensor *t)
{
    int64_t shape[FOIL_MAX_DIMS] = {n, image[0], image[1], image[2]};
    return foil_tensor_alloc(t, FOIL_F32, 4, shape);
}

/* The model's softmax probability of `target` at x and at `from` (images of
 * f values), from one prediction: F(x) - F(from). */
static foil_status probability_change(const int64_t image[3], foil_model *model, const float *x, const float *from,
                                      int64_t f, int64_t target, double *change)
{
    foil_tensor in = {0}, logits = {0};
    foil_status st = alloc_images(image, 2, &in);
    if (!st) {
        memcpy(foil_f32(&in), x, (size_t)f * sizeof(float));
        memcpy(foil_f32(&in) + f, from, (size_t)f * sizeof(float));
        st = foil_model_predict(model, &in, &logits);
    }
    if (!st) {
        int64_t classes = logits.numel / 2;
        softmax_row at_x = softmax_of(foil_f32(&logits), classes), at_from = softmax_of(foil_f32(&logits) + classes, classes);
        *change = target < classes ? softmax_p(&at_x, target) - softmax_p(&at_from, target) : NAN;
    }
    foil_tensor_free(&in);
    foil_tensor_free(&logits);
    return st;
}

/* The gradients at the midpoints of FOIL_AUDIT_IG_STEPS equal segments of
 * the straight path, in one batch. */
foil_status foilAuditIntegratedGradients(foil_model *model, const int64_t image[3], const float *x, const float *from,
                                         FoilAuditSaliency *s)
{
    const int64_t m = FOIL_AUDIT_IG_STEPS, f = image[0] * image[1] * image[2];
    foil_tensor path = {0}, grad = {0};
    foil_status st = alloc_images(image, m, &path);
    s->attribution = calloc((size_t)f, sizeof(float));
    if (!st && !s->attribution) st = foil_error(FOIL_ERR_NOMEM, "audit: out of memory for a saliency map");
    for (int64_t k = 0; k < m && !st; k++) {
        float alpha = ((float)k + 0.5f) / (float)m;
        for (int64_t i = 0; i < f; i++) foil_f32(&path)[k * f + i] = from[i] + alpha * (x[i] - from[i]);
    }
    if (!st) st = foil_model_input_grad(model, &path, class_probability, &s->target, NULL, NULL, &grad);
    double sum = 0, change = NAN;
    for (int64_t i = 0; i < f && !st; i++) {
        double mean = 0;
        for (int64_t k = 0; k < m; k++) mean += foil_f32(&grad)[k * f + i];
        s->attribution[i] = (float)((x[i] - from[i]) * mean / (double)m);
        sum += s->attribution[i];
    }
    if (!st) st = probability_change(image, model, x, from, f, s->target, &change);
    s->gap = fabs(change) > 1e-6 ? fabs(sum - change) / fabs(change) : NAN;
    foil_tensor_free(&path);
    foil_tensor_free(&grad);
    return st;
}

/* Both examples' confidence, from one prediction of the clean and the
 * adversarial image. */
static foil_status confidences(const FoilAudit *a, foil_model *model, FoilAuditExample *e, int64_t f)
{
    foil_tensor in = {0}, logits = {0};
    foil_status st = alloc_images(a->image_shape, 2, &in);
    if (!st) {
        memcpy(foil_f32(&in), e->clean, (size_t)f * sizeof(float));
        memcpy(foil_f32(&in) + f, e->adv, (size_t)f * sizeof(float));
        st = foil_model_predict(model, &in, &logits);
    }
    if (!st) {
        int64_t classes = logits.numel / 2;
        softmax_row clean = softmax_of(foil_f32(&logits), classes), adv = softmax_of(foil_f32(&logits) + classes, classes);
        e->clean_confidence = softmax_p(&clean, e->clean_pred);
        e->adv_confidence = softmax_p(&adv, e->adv_pred);
    }
    foil_tensor_free(&in);
    foil_tensor_free(&logits);
    return st;
}

foil_status foilAuditExplainExamples(FoilAudit *a, foil_model *model, int gradients)
{
    int64_t f = a->image_shape[0] * a->image_shape[1] * a->image_shape[2];
    foil_status st = FOIL_OK;
    for (int k = 0; k < a->n_examples && !st; k++) {
        FoilAuditExample *e = &a->examples[k];
        e->distance = 0;
        for (int64_t i = 0; i < f; i++) e->distance = fmax(e->distance, fabs((double)e->adv[i] - e->clean[i]));
        st = confidences(a, model, e, f);
        e->saliency_clean.target = e->clean_pred;
        e->saliency_adv.target = e->adv_pred;
        if (!st && gradients) st = foilAuditIntegratedGradients(model, a->image_shape, e->clean, a->lower, &e->saliency_clean);
        if (!st && gradients && e->attack) st = foilAuditIntegratedGradients(model, a->image_shape, e->adv, a->lower, &e->saliency_adv);
    }
    return st ? foil_error_prefix(st, "audit: the example grid") : FOIL_OK;
}

void foilAuditFreeExamples(FoilAudit *a)
{
    for (int k = 0; k < a->n_examples; k++) {
        FoilAuditExample *e = &a->examples[k];
        free(e->clean);
        free(e->adv);
        free(e->saliency_clean.attribution);
        free(e->saliency_adv.attribution);
    }
    a->n_examples = 0;
    free(a->lower);
    free(a->upper);
    a->lower = a->upper = NULL;
}
