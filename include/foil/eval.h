/*
 * foil/eval.h - how well a classifier does on a labelled set.
 *
 * Expected calibration error (Guo et al. 2017): examples binned by their top
 * softmax probability into 15 equal-width bins over [0, 1];
 * ECE = sum over bins of (bin size / N) * |accuracy(bin) - mean confidence(bin)|.
 */
#ifndef FOIL_EVAL_H
#define FOIL_EVAL_H

#include <stdint.h>

#include "foil/data.h"
#include "foil/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FOIL_ECE_BINS 15

typedef struct foil_metrics {
    int64_t examples, classes;
    double accuracy;
    double *per_class_accuracy;  /* classes entries; NaN for a class with no examples */
    int64_t *confusion;          /* classes x classes, row = true label, column = prediction */
    double mean_confidence;      /* mean top softmax probability */
    double ece;
    double seconds;
} foil_metrics;

/* Metrics from logits (N, classes) and labels (N). */
foil_status foil_metrics_from_logits(const foil_tensor *logits, const int64_t *labels, int64_t classes,
                                     foil_metrics *out);

/* Run the model on the whole dataset (in batches) and compute the metrics. */
foil_status foil_evaluate(foil_model *m, const foil_dataset *d, foil_metrics *out);

void foil_metrics_free(foil_metrics *mt);

#ifdef __cplusplus
}
#endif
#endif
