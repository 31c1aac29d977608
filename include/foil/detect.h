/*
 * foil/detect.h - adversarial-example detectors, their calibration, and the
 * attack that evades classifier and detector together.
 *
 * A detector gives every input a score, higher meaning "more likely
 * adversarial"; an input is flagged when its score exceeds a threshold
 * calibrated on clean data at a chosen false-positive rate
 * (foil_threshold_at_fpr, foil/eval.h). The detectors:
 *
 *   squeeze      feature squeezing (Xu, Evans, Qi 2018): the largest L1
 *                distance between the model's softmax on x and on each
 *                squeezed version of x (bit-depth reduction, median
 *                smoothing: foil/defense.h's preprocessors, each applied on
 *                its own, not composed).
 *   max-softmax  the baseline of Hendrycks and Gimpel 2017: minus the top
 *                softmax probability.
 *   energy       the free energy of Liu et al. 2020, E(x) = -T logsumexp(
 *                logits / T): in-distribution inputs have lower energy.
 *   mahalanobis  Lee et al. 2018's score on one layer's features f(x) (by
 *                default the input of the classifier's last linear layer):
 *                min over classes c of (f - mu_c)^T Sigma^-1 (f - mu_c),
 *                class means and one shared covariance fitted on labelled
 *                clean data. This is the paper's score at one layer,
 *                without its input pre-processing (a small step against
 *                the score's gradient) and without its logistic-regression
 *                ensemble over layers.
 *
 * Every detector also gives the gradient of its score with respect to the
 * input, so that an attacker who knows the detector can descend it
 * (foil_detector_evasion_attack): through squeezers by BPDA (the identity,
 * Athalye et al. 2018), exactly for the others.
 */
#ifndef FOIL_DETECT_H
#define FOIL_DETECT_H

#include <stdint.h>

#include "foil/defense.h"
#include "foil/evasion.h"
#include "foil/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct foil_detector foil_detector;

/* The classifier m is borrowed (it must outlive the detector). */
foil_status foil_detector_max_softmax(foil_model *m, foil_detector **out);
/* temperature > 0 (1 in Liu et al.'s detection results). */
foil_status foil_detector_energy(foil_model *m, float temperature, foil_detector **out);
/* squeezers[0 .. n), 1 to 8 of them, deterministic; the detector takes
 * ownership of them (their destroy), also on failure. */
foil_status foil_detector_squeeze(foil_model *m, const foil_preprocessor *squeezers, int n, foil_detector **out);
/* features: a model whose output is the layer's features (e.g.
 * foil_model_load_features); the detector takes ownership of it, also on
 * failure. Fitted on x (N, ...) with labels y in [0, classes): every class
 * needs at least one example. The covariance gets a ridge of 1e-6 times
 * its mean diagonal (a ReLU layer's dead units make it singular). */
foil_status foil_detector_mahalanobis(foil_model *features, const foil_tensor *x, const int64_t *y, int64_t classes,
                                      foil_detector **out);
void foil_detector_free(foil_detector *d);

/* "squeeze", "max-softmax", "energy", "mahalanobis". */
const char *foil_detector_name(const foil_detector *d);

/* scores[i] for each of the N examples of x. */
foil_status foil_detector_score(foil_detector *d, const foil_tensor *x, float *scores);
/* The same, and grad (allocated like x when grad->data is NULL) = d
 * score[i] / d x[i] (squeezers passed by BPDA). */
foil_status foil_detector_score_grad(foil_detector *d, const foil_tensor *x, float *scores, foil_tensor *grad);

/* What the detector-evading attack found, per example. */
typedef struct foil_detector_evasion_result {
    int64_t n;
    foil_tensor adv;             /* the kept iterate: the least-detected misclassified one, else x */
    uint8_t *attacked;           /* 1 = the model classified x correctly, so the attack ran */
    uint8_t *fooled;             /* adv is misclassified */
    uint8_t *evaded;             /* fooled and its score is at most the threshold */
    float *score;                /* the detector's score of adv (NaN where not fooled) */
    double seconds;
} foil_detector_evasion_result;

/*
 * The adaptive attacker of a detector: Orthogonal and Selective PGD (Bryniarski,
 * Hingun, Pachuca, Wang, Carlini 2022), Linf, as their code runs it. From
 * x it takes `steps` signed steps of size step_size, clipped to the
 * eps-ball and the bounds. While the model still predicts the true class
 * (by a margin of 0.05 logits, as theirs), a step climbs the
 * cross-entropy with its component along the detector score's gradient
 * projected out; once it is fooled, a step descends the detector score
 * with its component along the cross-entropy's gradient projected out, so
 * that neither undoes the other. Of the misclassified iterates the least
 * detected is kept; it evades when its score is at most `threshold`.
 * Where the two gradients are nearly parallel (max-softmax) the
 * projections leave little; so the paper's Selective PGD (the same steps,
 * unprojected) then runs on the examples not yet evading, and each
 * example keeps the least detected misclassified iterate of the two.
 * t gives eps, bounds, steps (default 100) and step_size (default eps / 8,
 * the paper's 1/255 at 8/255); only the Linf norm.
 */
foil_status foil_detector_evasion_attack(foil_model *m, foil_detector *d, float threshold, const foil_tensor *x,
                                         const int64_t *y, const foil_threat *t, int quiet,
                                         foil_detector_evasion_result *r);
void foil_detector_evasion_result_free(foil_detector_evasion_result *r);

#ifdef __cplusplus
}
#endif
#endif
