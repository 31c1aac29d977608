/*
 * eval/detection_row.h - one detector against one attack's adversarial
 * examples (detection_row.c), as `foil detect` and `foil audit --detector`
 * both report it.
 */
#ifndef FOIL_EVAL_DETECTION_ROW_H
#define FOIL_EVAL_DETECTION_ROW_H

#include <stdint.h>

#include "foil/status.h"

/* The fooled examples are the positives, the clean examples' scores the
 * negatives. */
typedef struct FoilDetectionRow {
    const char *attack;          /* static */
    int adaptive;                /* the attack that evades model and detector together */
    int64_t attacked, fooled, evaded; /* evaded: fooled and scored at most the threshold */
    double roc_auc, tpr;         /* NaN when nothing was fooled */
    double seconds;              /* the attack's */
} FoilDetectionRow;

/* Fill row's counts, ROC AUC and TPR (at threshold) from the detector's
 * scores of n adversarial examples (attacked[i]: the attack ran on i;
 * fooled[i]: it is misclassified) against clean[0 .. n_clean). */
foil_status foilDetectionRowScore(const float *clean, int64_t n_clean, float threshold, const float *scores,
                                  const uint8_t *attacked, const uint8_t *fooled, int64_t n, FoilDetectionRow *row);

#endif
