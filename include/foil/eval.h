/*
 * foil/eval.h - how well a classifier does: on a labelled set (accuracy,
 * calibration), and against an attack (the summary of an attack result).
 *
 * Expected calibration error (Guo et al. 2017): examples binned by their top
 * softmax probability into 15 equal-width bins over [0, 1];
 * ECE = sum over bins of (bin size / N) * |accuracy(bin) - mean confidence(bin)|.
 */
#ifndef FOIL_EVAL_H
#define FOIL_EVAL_H

#include <stdint.h>

#include "foil/evasion.h"
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

/* The metrics of scores the model m returned on d (N, classes), which are
 * turned into logits in place (probabilities from a remote model: their
 * logs). What foil_evaluate does after predicting, for scores predicted
 * elsewhere (another process's share). */
foil_status foil_evaluate_scores(const foil_model *m, foil_tensor *scores, const foil_dataset *d,
                                 foil_metrics *out);

void foil_metrics_free(foil_metrics *mt);

/* Aggregates, as `foil attack` prints them. */
typedef struct foil_evasion_summary {
    int64_t examples, attacked, fooled;
    double clean_accuracy;       /* attacked / examples */
    double robust_accuracy;      /* (attacked - fooled) / examples */
    double success_rate;         /* fooled / attacked (0 when nothing was attacked) */
    double median_norm, max_norm;/* over fooled examples (NaN when none) */
    double mean_queries;         /* per attacked example: inputs the model saw */
    double mean_grads;           /* per attacked example: input gradients */
    int64_t grad_examples;       /* examples whose input gradient was taken: the attacked ones (and, for
                                    attacks that learn on opt->fit_x, the fit examples) */
    int64_t zero_grad_examples;  /* ... of those, the ones whose first gradient was zero or non-finite */
    double zero_gradient_fraction; /* zero_grad_examples / grad_examples; NaN when no gradient was taken
                                      (black-box attacks) */
    double seconds, images_per_second;
} foil_evasion_summary;

void foil_evasion_summarize(const foil_evasion_result *r, foil_evasion_summary *s);
/* Over the fooled examples of r (attacked on x): features changed per
 * example, and the mean absolute change of a changed feature (tabular
 * reports). */
void foil_evasion_change_stats(const foil_evasion_result *r, const foil_tensor *x, double *changed, double *mean_abs);
/* Empirical robustness as ART defines it (Moosavi-Dezfooli et al. 2016's
 * rho for DeepFool): the mean, over the attacked (correctly classified)
 * examples that were fooled, of ||adv - x|| /
 * ||x|| in the threat's norm (the size of the smallest perturbation found,
 * relative to the input; meaningful for minimal attacks: deepfool, cw, fab,
 * hsj). NaN when none was fooled. */
double foil_evasion_empirical_robustness(const foil_evasion_result *r, const foil_tensor *x, foil_norm norm);

/* ---- telling two populations apart by a score (detectors, membership
 * inference): negatives (clean, non-members) should score low, positives
 * (adversarial, members) high. ---- */

/* Area under the ROC curve: the probability that a random positive scores
 * above a random negative, ties counting one half (the Mann-Whitney U
 * statistic over n_neg * n_pos). NaN when either set is empty or a score
 * is NaN. */
double foil_roc_auc(const float *negatives, int64_t n_neg, const float *positives, int64_t n_pos);
/* The threshold t for flagging "score > t" that flags at most a fraction
 * fpr of the negatives (n >= 1, 0 <= fpr <= 1): the negatives' score of
 * rank n - 1 - floor(fpr * n) in ascending order, so ties at t are never
 * flagged. */
float foil_threshold_at_fpr(const float *negatives, int64_t n, double fpr);
/* The fraction of scores above t (a TPR on positives, an FPR on negatives). */
double foil_rate_above(const float *scores, int64_t n, float t);
/* The best balanced accuracy (TPR + 1 - FPR) / 2 over every threshold of
 * "score >= t" (0.5 at worst: flag nothing). Sorts both arrays in place. */
double foil_best_balanced_accuracy(float *positives, int64_t n_pos, float *negatives, int64_t n_neg);

#ifdef __cplusplus
}
#endif
#endif
