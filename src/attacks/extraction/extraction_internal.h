/*
 * attacks/extraction/extraction_internal.h - what the extraction attacks
 * (foil/extraction.h) share inside the library: the set of queried
 * examples with the victim's answers, and the training of a copy on it.
 */
#ifndef FOIL_EXTRACTION_INTERNAL_H
#define FOIL_EXTRACTION_INTERNAL_H

#include <stdint.h>

#include "foil/extraction.h"
#include "foil/progress.h"

/* One run of an attack. The queried examples live in `queried` (a dataset
 * of capacity `budget`, its first n rows filled, y the victim's top-1) and
 * their victim probabilities in probs (budget x classes). */
typedef struct FoilExtractRun {
    foil_model *victim;
    const foil_dataset *surrogate, *test;
    const int64_t *victim_pred;
    const foil_extraction_options *o;
    foil_extraction_report *report;
    int64_t classes, per_example, n;
    foil_dataset queried;
    float *probs;
    int soft;
    foil_model *copy;             /* the last copy trained */
    double started;
    foil_progress bar;
} FoilExtractRun;

/* A view of rows [first, first + count) of t, sharing its memory. */
foil_tensor foilExtractRows(const foil_tensor *t, int64_t first, int64_t count);

/* Softmax of rows x classes logits, in place (max-shifted). */
void foilExtractSoftmax(float *s, int64_t rows, int64_t classes);

/* Query the victim on count examples x (count x per_example floats) and
 * append them, with its answers, to the queried set; answers (when not
 * NULL) receives their probabilities (count x classes). FOIL_ERR_BUDGET
 * (before any query) when they would pass o->budget. */
foil_status foilExtractQuery(FoilExtractRun *r, const float *x, int64_t count, float *answers);

/* Train a fresh copy on the first n queried examples (soft or hard labels
 * as r->soft), judge it on the test set and record a point; r->copy
 * becomes it. */
foil_status foilExtractCheckpoint(FoilExtractRun *r, int64_t n, uint64_t seed);

/* Train model m (already made) on the first n queried examples, epochs and
 * the rest as o (soft labels through a lookup teacher when soft). */
foil_status foilExtractTrain(FoilExtractRun *r, foil_model *m, int64_t n, const foil_train_options *o, int soft);
/* The same on rows [first, first + n). */
foil_status foilExtractTrainRange(FoilExtractRun *r, foil_model *m, int64_t first, int64_t n,
                                  const foil_train_options *o, int soft);

/* The attacks. */
foil_status foilExtractSampled(FoilExtractRun *r);   /* copycat, knockoff-random */
foil_status foilExtractAdaptive(FoilExtractRun *r);  /* knockoff-adaptive */
foil_status foilExtractJacobian(FoilExtractRun *r);  /* jacobian */

#endif
