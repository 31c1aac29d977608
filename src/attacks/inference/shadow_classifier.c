/*
 * attacks/inference/shadow_classifier.c - membership inference by an
 * attack classifier trained on shadow models (Shokri, Stronati, Song and
 * Shmatikov 2017, "Membership Inference Attacks Against Machine Learning
 * Models"; ART's MembershipInferenceBlackBox).
 *
 * Each shadow model's prediction vector on each candidate is one training
 * example of the attack: labelled "in" where that shadow trained on the
 * candidate, "out" where it did not. As in the paper, there is one attack
 * model per class (the candidate's true class), because a model's output
 * on a member looks different from class to class; each is a neural
 * network, here foil's mlp with one hidden layer of 64 ReLU units (the
 * attack model of Salem et al. 2019), trained by Adam. The target's
 * prediction vector on a candidate then goes to its class's attack model,
 * whose logit margin (in minus out) is the candidate's score.
 *
 * The paper feeds the probabilities themselves; here the features are
 * their logarithms (log-softmax of the logits, a class an output mode
 * zeroed at log FLT_MIN as foil_scores_as_logits gives it): the same
 * information, but 0.9999 and 0.999999 stay far apart, as they must for a
 * small network to tell a memorised member from a confident non-member.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foil/arch.h"
#include "foil/infer.h"

#include "attacks/inference/inference_internal.h"

enum { ATTACK_HIDDEN = 64, ATTACK_EPOCHS = 30, ATTACK_BATCH = 64 };
#define ATTACK_LR 1e-3

/* One prediction vector as log-probabilities, in double so that the shift
 * by the log-sum-exp loses nothing, floored where the probability is 0. */
static void log_softmax_row(const float *z, int64_t classes, float *out)
{
    const double lse = foilLogSumExp(z, classes, -1), floor = log(FLT_MIN);
    for (int64_t c = 0; c < classes; c++) {
        const double v = (double)z[c] - lse;
        out[c] = (float)(v > floor ? v : floor);
    }
}

/* The attack's training set for class c: every shadow's prediction on
 * every candidate of class c, labelled by whether that shadow trained on
 * it. */
static foil_status class_training_set(const float *shadow_logits, const uint8_t *shadow_in, int64_t shadows,
                                      const int64_t *y, int64_t n, int64_t classes, int64_t c, foil_dataset *d)
{
    int64_t count = 0;
    for (int64_t j = 0; j < n; j++) count += y[j] == c;
    const int64_t xs[2] = {count * shadows, classes}, ys[1] = {count * shadows}, fs[1] = {classes};
    memset(d, 0, sizeof *d);
    if (count == 0) return FOIL_OK; /* no candidate of class c: an empty set */
    foil_status st = foil_tensor_alloc(&d->x, FOIL_F32, 2, xs);
    if (!st) st = foil_tensor_alloc(&d->y, FOIL_I64, 1, ys);
    if (!st) st = foil_tensor_alloc(&d->lower, FOIL_F32, 1, fs);
    if (!st) st = foil_tensor_alloc(&d->upper, FOIL_F32, 1, fs);
    if (st) return st;
    snprintf(d->name, sizeof d->name, "attack data of class %lld", (long long)c);
    d->classes = 2;
    for (int64_t f = 0; f < classes; f++) foil_f32(&d->lower)[f] = logf(FLT_MIN), foil_f32(&d->upper)[f] = 0;
    int64_t row = 0;
    for (int64_t k = 0; k < shadows; k++)
        for (int64_t j = 0; j < n; j++) {
            if (y[j] != c) continue;
            log_softmax_row(shadow_logits + (k * n + j) * classes, classes, foil_f32(&d->x) + row * classes);
            foil_i64(&d->y)[row++] = shadow_in[k * n + j];
        }
    return FOIL_OK;
}

/* Class c's attack model: an mlp that normalizes its features by the
 * moments of its training set, trained by Adam. */
static foil_status train_attack_model(const foil_dataset *d, int64_t classes, uint64_t seed, foil_model **out)
{
    float *mean = malloc((size_t)classes * sizeof *mean), *std = malloc((size_t)classes * sizeof *std);
    const int64_t hidden[1] = {ATTACK_HIDDEN};
    foil_status st = mean && std ? FOIL_OK : foil_error(FOIL_ERR_NOMEM, "out of memory for an attack model");
    if (!st) {
        foil_dataset_moments(d, mean, std);
        foil_arch_spec spec = {.name = "mlp", .input_rank = 2, .input_shape = {classes}, .classes = 2,
                               .hidden = hidden, .n_hidden = 1, .mean = mean, .std = std, .seed = seed};
        st = foil_arch_build(&spec, out);
    }
    free(mean), free(std);
    if (st) return st;
    foil_train_options o;
    foil_train_defaults(&o);
    o.optim = foil_optim_defaults(FOIL_OPT_ADAM);
    o.optim.lr = ATTACK_LR;
    o.epochs = ATTACK_EPOCHS, o.batch = ATTACK_BATCH, o.seed = seed, o.quiet = 1;
    foil_train_report report;
    st = foil_train(*out, d, NULL, &o, &report);
    if (st) foil_model_free(*out), *out = NULL;
    return st;
}

/* The scores of the candidates of class c: their prediction vectors on
 * the target through class c's attack model, as its logit margin. */
static foil_status score_class(foil_model *attack, const float *logits, const int64_t *y, int64_t n,
                               int64_t classes, int64_t c, float *score)
{
    int64_t count = 0;
    for (int64_t j = 0; j < n; j++) count += y[j] == c;
    const int64_t xs[2] = {count, classes};
    foil_tensor x = {0}, out = {0};
    foil_status st = foil_tensor_alloc(&x, FOIL_F32, 2, xs);
    for (int64_t j = 0, row = 0; !st && j < n; j++)
        if (y[j] == c) log_softmax_row(logits + j * classes, classes, foil_f32(&x) + row++ * classes);
    if (!st) st = foil_model_predict(attack, &x, &out);
    for (int64_t j = 0, row = 0; !st && j < n; j++)
        if (y[j] == c) {
            const float *z = foil_f32(&out) + 2 * row++;
            score[j] = z[1] - z[0];
        }
    foil_tensor_free(&x), foil_tensor_free(&out);
    return st;
}

foil_status foil_shadow_classifier_scores(const float *logits, const int64_t *y, int64_t n, int64_t classes,
                                          const float *shadow_logits, const uint8_t *shadow_in, int64_t shadows,
                                          uint64_t seed, float *score)
{
    if (shadows < 1 || n < 1 || classes < 2)
        return foil_error(FOIL_ERR_ARG, "the shadow-model attack needs shadow models, candidates and two classes");
    for (int64_t j = 0; j < n; j++)
        if (y[j] < 0 || y[j] >= classes)
            return foil_error(FOIL_ERR_ARG, "candidate %lld: label %lld outside the %lld classes", (long long)j,
                              (long long)y[j], (long long)classes);
    foil_status st = FOIL_OK;
    for (int64_t c = 0; !st && c < classes; c++) {
        foil_dataset d;
        foil_model *attack = NULL;
        st = class_training_set(shadow_logits, shadow_in, shadows, y, n, classes, c, &d);
        if (!st && d.y.numel == 0) {
            foil_dataset_free(&d);
            continue; /* no candidate of this class */
        }
        if (!st) st = train_attack_model(&d, classes, seed + (uint64_t)c, &attack);
        if (!st) st = score_class(attack, logits, y, n, classes, c, score);
        if (st) st = foil_error_prefix(st, "the attack model of class %lld", (long long)c);
        foil_model_free(attack);
        foil_dataset_free(&d);
    }
    return st;
}
