/*
 * eval/metrics.c - accuracy, confusion matrix and calibration (foil/eval.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "foil/eval.h"
#include "foil/progress.h"

void foil_metrics_free(foil_metrics *mt)
{
    free(mt->per_class_accuracy);
    free(mt->confusion);
    memset(mt, 0, sizeof *mt);
}

/* Top class and its softmax probability for one row of logits. */
static int64_t top_class(const float *row, int64_t classes, double *confidence)
{
    int64_t best = 0;
    for (int64_t c = 1; c < classes; c++)
        if (row[c] > row[best]) best = c;
    double sum = 0;
    for (int64_t c = 0; c < classes; c++) sum += exp((double)row[c] - (double)row[best]);
    *confidence = 1.0 / sum;
    return best;
}

foil_status foil_metrics_from_logits(const foil_tensor *logits, const int64_t *labels, int64_t classes, foil_metrics *out)
{
    memset(out, 0, sizeof *out);
    int64_t n = logits->shape[0], width = logits->shape[1];
    if (logits->ndim != 2 || width < classes)
        return foil_error(FOIL_ERR_SHAPE, "the model gives %lld scores per example but the data has %lld classes",
                          (long long)width, (long long)classes);
    out->examples = n;
    out->classes = classes;
    out->per_class_accuracy = calloc((size_t)classes, sizeof *out->per_class_accuracy);
    out->confusion = calloc((size_t)(classes * width), sizeof *out->confusion);
    if (!out->per_class_accuracy || !out->confusion) {
        foil_metrics_free(out);
        return foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    double bin_conf[FOIL_ECE_BINS] = {0}, bin_correct[FOIL_ECE_BINS] = {0}, bin_count[FOIL_ECE_BINS] = {0};
    int64_t correct = 0;
    double conf_sum = 0;
    /* A NaN logit would make a NaN confidence and an undefined bin below. */
    int64_t bad = foil_first_nonfinite(foil_f32(logits), n * width);
    if (bad >= 0) {
        foil_metrics_free(out);
        return foil_error(FOIL_ERR_ARG, "the logits of example %lld are not finite (class %lld is %g)",
                          (long long)(bad / width), (long long)(bad % width), (double)foil_f32(logits)[bad]);
    }
    for (int64_t i = 0; i < n; i++) {
        double conf;
        int64_t pred = top_class(foil_f32(logits) + i * width, width, &conf);
        int64_t y = labels[i];
        if (y < 0 || y >= classes) {
            foil_metrics_free(out);
            return foil_error(FOIL_ERR_ARG, "label %lld of example %lld is outside [0, %lld)", (long long)y,
                              (long long)i, (long long)classes);
        }
        int hit = pred == y;
        correct += hit;
        conf_sum += conf;
        if (pred < classes) out->confusion[y * classes + pred]++;
        /* Bins are (k/15, (k+1)/15]; confidence is at least 1/classes > 0. */
        int bin = (int)ceil(conf * FOIL_ECE_BINS) - 1;
        bin = bin < 0 ? 0 : bin >= FOIL_ECE_BINS ? FOIL_ECE_BINS - 1 : bin;
        bin_conf[bin] += conf;
        bin_correct[bin] += hit;
        bin_count[bin] += 1;
    }
    for (int64_t c = 0; c < classes; c++) {
        int64_t total = 0;
        for (int64_t p = 0; p < classes; p++) total += out->confusion[c * classes + p];
        out->per_class_accuracy[c] = total ? (double)out->confusion[c * classes + c] / (double)total : NAN;
    }
    for (int b = 0; b < FOIL_ECE_BINS; b++)
        if (bin_count[b] > 0) out->ece += bin_count[b] / (double)n * fabs(bin_correct[b] / bin_count[b] - bin_conf[b] / bin_count[b]);
    out->accuracy = n ? (double)correct / (double)n : 0;
    out->mean_confidence = n ? conf_sum / (double)n : 0;
    return FOIL_OK;
}

foil_status foil_evaluate_scores(const foil_model *m, foil_tensor *scores, const foil_dataset *d,
                                 foil_metrics *out)
{
    foil_scores_as_logits(foil_model_capabilities(m), foil_f32(scores), scores->numel);
    return foil_metrics_from_logits(scores, foil_i64(&d->y), d->classes, out);
}

foil_status foil_evaluate(foil_model *m, const foil_dataset *d, foil_metrics *out)
{
    double start = foil_now();
    foil_tensor logits = {0};
    foil_status st = foil_model_predict(m, &d->x, &logits);
    if (!st) st = foil_evaluate_scores(m, &logits, d, out);
    foil_tensor_free(&logits);
    if (!st) out->seconds = foil_now() - start;
    return st;
}
