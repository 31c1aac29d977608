/*
 * foil/infer.h - inference attacks on a trained model: membership
 * inference (ART's vocabulary: MembershipInferenceBlackBox and its
 * rule-based cousins, here as scores to threshold).
 *
 * Every attack gives each candidate example a score, higher meaning "more
 * likely a member of the training set"; how well a score separates members
 * from non-members is its ROC curve (foil/eval.h: foil_roc_auc,
 * foil_threshold_at_fpr), read as Carlini et al. 2022 ask: the true-positive
 * rate at a low false-positive rate (0.1%, 1%), not only the AUC.
 *
 *   loss            Yeom et al. 2018: -CE(f(x), y). A threshold on it is
 *                   the loss attack; the ROC sweeps every threshold.
 *   confidence      Salem et al. 2019: the largest softmax probability (no
 *                   label needed).
 *   entropy         Salem et al. 2019: minus the Shannon entropy of the
 *                   softmax (no label needed).
 *   modified-entropy  Song and Mittal 2021: minus
 *                   -(1 - p_y) log p_y - sum_{i != y} p_i log(1 - p_i),
 *                   which, unlike the entropy, is high only when the model
 *                   is confidently right.
 *   gap             Yeom et al. 2018's baseline, labels only: 1 when the
 *                   target classifies the example right, else 0.
 *   label-noise     Choquette-Choo et al. 2021, labels only: the share of
 *                   `queries` noisy copies of x, Gaussian noise of standard
 *                   deviation sigma times each feature's range, clipped to
 *                   the range, that the target still classifies right; a
 *                   member sits further from the decision boundary.
 *   lira-offline, lira-online  Carlini et al. 2022, the likelihood-ratio
 *                   attack: each example's scaled logit
 *                   phi = log p_y - log(1 - p_y) on the target model
 *                   compared with its distribution over shadow models
 *                   trained without it (offline) or with and without it
 *                   (online), each fitted by a Gaussian (see
 *                   foil_lira_scores). foil queries each example once;
 *                   the paper also averages over queries of its augmented
 *                   copies (flips, shifts), which strengthens the attack
 *                   on models trained with augmentation: not done here.
 *   shadow-classifier  Shokri et al. 2017: an attack classifier per class,
 *                   trained on the shadow models' prediction vectors
 *                   labelled in or out (see foil_shadow_classifier_scores).
 */
#ifndef FOIL_INFER_H
#define FOIL_INFER_H

#include <stdint.h>

#include "foil/data.h"
#include "foil/model.h"
#include "foil/status.h"
#include "foil/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum foil_membership_attack {
    FOIL_MI_LOSS = 0,
    FOIL_MI_CONFIDENCE,
    FOIL_MI_ENTROPY,
    FOIL_MI_MODIFIED_ENTROPY,
    FOIL_MI_LIRA_OFFLINE,
    FOIL_MI_LIRA_ONLINE,
    FOIL_MI_GAP,
    FOIL_MI_LABEL_NOISE,
    FOIL_MI_SHADOW_CLASSIFIER,
    FOIL_MI_COUNT
} foil_membership_attack;

/* "loss", "confidence", "entropy", "modified-entropy", "lira-offline", "lira-online", "gap", "label-noise",
 * "shadow-classifier"; parse: FOIL_ERR_ARG naming s. */
const char *foil_membership_attack_name(foil_membership_attack a);
foil_status foil_membership_attack_parse(const char *s, foil_membership_attack *a);

/* 1 for an attack that needs only the target's labels (gap, label-noise). */
int foil_membership_label_only(foil_membership_attack a);

/* 1 for an attack that needs shadow models (LiRA, shadow-classifier). */
int foil_membership_needs_shadows(foil_membership_attack a);

/* The score of a threshold attack (loss, confidence, entropy,
 * modified-entropy, gap) for n examples from the target's logits (n, classes)
 * and their labels y. Computed from the logits in double precision with
 * the log-sum-exp shifted, so a confident model's scores stay finite and
 * ordered. FOIL_ERR_ARG for a LiRA attack or a label out of range. */
foil_status foil_membership_scores(foil_membership_attack a, const float *logits, const int64_t *y, int64_t n,
                                   int64_t classes, float *score);

/* label-noise: for each example of x (labels y, input range lower..upper,
 * one example's shape each), the share of `queries` noisy copies, noise
 * N(0, (sigma (upper - lower))^2) per value drawn from (seed, the example's
 * index), that the model classifies as y. Only its labels are used: it works on a model
 * that returns nothing else. */
foil_status foil_membership_label_noise(foil_model *m, const foil_tensor *x, const int64_t *y, const float *lower,
                                        const float *upper, int64_t queries, double sigma, uint64_t seed,
                                        float *score);

/* LiRA's statistic, the scaled logit phi = log p_y - log sum_{i != y} p_i,
 * taken as z_y - logsumexp_{i != y} z_i so it does not saturate where p_y
 * rounds to 1. */
foil_status foil_lira_statistic(const float *logits, const int64_t *y, int64_t n, int64_t classes, float *phi);

typedef enum foil_lira_variance {
    FOIL_LIRA_VARIANCE_AUTO = 0,    /* global below 64 shadow models, as the paper advises; per example above */
    FOIL_LIRA_VARIANCE_PER_EXAMPLE,
    FOIL_LIRA_VARIANCE_GLOBAL
} foil_lira_variance;

/* LiRA's scores of n examples: phi (n) on the target, shadow_phi (shadows,
 * n) on each shadow model, shadow_in (shadows, n) 1 where the shadow model
 * trained on the example. For each example, the shadows' phi without it
 * (and, online, with it) are fitted by a Gaussian: mean the median (as the
 * reference code does), standard deviation per example or pooled over
 * every example's own deviations (global). Online: score = log N(phi;
 * mu_in, s_in) - log N(phi; mu_out, s_out). Offline: the paper's one-sided
 * test, score = (phi - mu_out) / s_out, which orders examples exactly as
 * Pr[Z < phi], Z ~ N(mu_out, s_out), does (the reference code's two-sided
 * -log N(phi; mu_out, s_out) also flags examples far below the mean).
 * FOIL_ERR_ARG when an example has no shadow without it (online: or with
 * it), or fewer than two with a per-example variance. */
foil_status foil_lira_scores(const float *phi, const float *shadow_phi, const uint8_t *shadow_in, int64_t shadows,
                             int64_t n, int online, foil_lira_variance variance, float *score);

/* The shadow-model attack of Shokri et al. 2017 on n candidates: for each
 * class c, an attack model (foil's mlp, one hidden layer of 64 ReLU units,
 * Adam at 1e-3 for 30 epochs, from seed + c) learns from every shadow's
 * prediction vector on every candidate of class c (shadow_logits (shadows,
 * n, classes)) whether that shadow trained on it (shadow_in (shadows, n));
 * the candidate's score is the attack model's logit margin, in minus out,
 * on the target's prediction vector (logits (n, classes)). The features
 * are log-probabilities, where the paper feeds the probabilities: the same
 * information, but confident outputs stay apart in float. FOIL_ERR_ARG for
 * no shadows or a label out of range. */
foil_status foil_shadow_classifier_scores(const float *logits, const int64_t *y, int64_t n, int64_t classes,
                                          const float *shadow_logits, const uint8_t *shadow_in, int64_t shadows,
                                          uint64_t seed, float *score);

/* keep (models, n): which of n examples each of `models` models trains on,
 * drawn from seed so that every example is in exactly half of the models
 * (rounded down; Carlini et al.'s construction) and each model sees about
 * half the examples. */
foil_status foil_membership_keep(int64_t models, int64_t n, uint64_t seed, uint8_t *keep);

/* A fresh, untrained model from a seed, for the examples it will train on
 * (train: their shape, classes and, for tabular data, the moments of an
 * input normalization): the architecture of the shadow models. */
typedef foil_status (*foil_model_factory)(void *ctx, const foil_dataset *train, uint64_t seed, foil_model **out);

/* One model from make(ctx, examples, seed), trained with the options o at that seed
 * on the examples of pool that keep (pool's n) marks: a shadow model, or
 * the target an experiment trains (its training report in *report, unless
 * NULL: what DP-SGD spent). *out NULL on failure. */
foil_status foil_shadow_model(foil_model_factory make, void *ctx, const foil_dataset *pool, const uint8_t *keep,
                              const foil_train_options *o, uint64_t seed, foil_model **out,
                              foil_train_report *report);

/* Trains `models` models, model k from make(ctx, its examples, seed + k) on the examples
 * of pool that keep (models, pool's n) marks for it, with the training
 * options o at the seed seed + k, and writes every model's logits on every pool
 * example into logits (models, n, classes). The shadow models of LiRA and
 * of Shokri et al. 2017. Progress on stderr unless o->quiet. */
foil_status foil_shadow_logits(foil_model_factory make, void *ctx, const foil_dataset *pool, const uint8_t *keep,
                               int64_t models, const foil_train_options *o, uint64_t seed, float *logits);

#ifdef __cplusplus
}
#endif
#endif
