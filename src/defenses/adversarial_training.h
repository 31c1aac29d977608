/*
 * defenses/adversarial_training.h - the attack half of adversarial training
 * (foil/train.h, foil_adv_options): the examples each training step learns
 * from, and the robust accuracy each epoch is judged by. model/train.c runs
 * the training half. Internal.
 *
 * Shapes: x and xadv are (n, ...) float32 with d = numel / n values per
 * example; lo and hi hold the d per-feature bounds (foil_dataset.lower and
 * .upper). Attacks query the model through its interface, in inference mode
 * (the graph model's inference plan, beside training's: FoilPlanUse).
 */
#ifndef FOIL_DEFENSES_ADVERSARIAL_TRAINING_H
#define FOIL_DEFENSES_ADVERSARIAL_TRAINING_H

#include <stdint.h>

#include "foil/model.h"
#include "foil/train.h"

/* The Linf budget and attack of one epoch, defaults resolved. */
typedef struct FoilAdvAttack {
    foil_adv_mode mode;
    float eps, step;
    int steps;
    float beta;
    const float *lo, *hi;
} FoilAdvAttack;

/* o's attack at epoch `epoch` of `epochs` (eps warmed up), bounds lo/hi. */
FoilAdvAttack foilAdvAttackAt(const foil_adv_options *o, int64_t epoch, const float *lo, const float *hi);

/* Linf PGD maximizing cross-entropy: `steps` signed-gradient steps of
 * `step`, each projected onto the eps-ball around x and the bounds, from a
 * uniform random start in the ball when random_start (steps 1, step 1.25
 * eps: FGSM-RS; steps 1, step eps, no random start: FGSM). xadv gets the
 * result (allocated like x when empty). key seeds the starts: example i's
 * from (key, i), so they do not depend on chunking. */
foil_status foilAdvLinfPgd(foil_model *m, const foil_tensor *x, const int64_t *labels, float eps, float step,
                           int steps, int random_start, const float *lo, const float *hi, uint64_t key,
                           foil_tensor *xadv);

/* TRADES's inner maximization: from x + 0.001 N(0, I), `steps` signed steps
 * up the KL divergence between the model's prediction at x and at xadv,
 * projected onto the eps-ball and the bounds. */
foil_status foilAdvTradesExamples(foil_model *m, const foil_tensor *x, const FoilAdvAttack *a, uint64_t key,
                                  foil_tensor *xadv);

/* TRADES's outer loss on 2b rows of logits: rows [0, b) the clean batch,
 * [b, 2b) its adversarial examples. loss[i] = CE(clean_i, y_i) + beta
 * KL(p(clean_i) || p(adv_i)) for i < b; dlogits (2b x classes) receives the
 * gradient of the batch mean (1/b) sum_i loss[i]. */
foil_status foilAdvTradesLoss(const float *logits, const int64_t *labels, int64_t b, int64_t classes, float beta,
                              float *loss, float *dlogits);

/* Accuracy of m on x (n examples, labels) under foilAdvLinfPgd with these
 * parameters, attacked in chunks of 256. */
foil_status foilAdvAccuracy(foil_model *m, const foil_tensor *x, const int64_t *labels, float eps, float step,
                            int steps, int random_start, const float *lo, const float *hi, uint64_t key,
                            double *accuracy);

/* Defensive distillation's loss (foil_train_options.temperature,
 * .teacher): for each of the b rows, loss[i] = CE(softmax(z_i / T),
 * target_i) with target_i the teacher's soft labels soft[i, :] (when soft
 * is not NULL) or the one-hot label; dlogits gets the gradient of the batch
 * mean, (softmax(z / T) - target) / (T b). */
foil_status foilDistillLoss(const float *logits, const int64_t *labels, const float *soft, int64_t b, int64_t classes,
                            float temperature, float *loss, float *dlogits);

/* A teacher's logits (b x classes) into its soft labels softmax(z / T),
 * in place. */
void foilDistillSoftLabels(float *z, int64_t b, int64_t classes, float temperature);

#endif
