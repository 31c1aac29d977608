/*
 * foil/evasion.h - evasion attacks: the threat model, the attack registry and
 * what every attack returns.
 *
 * An attack takes a batch of correctly labelled examples x (N, ...) and tries
 * to find, for each, an adversarial x' that the model misclassifies
 * (untargeted) or classifies as a chosen target (targeted), within the
 * threat model: ||x' - x|| <= eps in the chosen norm, every feature inside
 * its bounds, immutable features unchanged, integer features integral.
 *
 * Attacks reach the model only through foil/model.h: white-box attacks ask
 * for input gradients, black-box ones only for predictions (score-based:
 * logits; decision-based: the top label). Every input the model sees on an
 * attack's behalf is counted per example, so a reported query count is the
 * number of inputs the model actually evaluated.
 *
 * The runner, not each attack, checks every result before it is returned:
 * x' inside the bounds and (for eps-bounded attacks) within eps, constraints
 * kept. A violation is an error (an attack bug), never a silent repair.
 * Minimal-perturbation attacks (C&W, DeepFool, FAB, HopSkipJump) may run
 * with eps = 0 (unbounded: report the norms they found); with eps > 0 an
 * example whose perturbation exceeds eps counts as not fooled and x' = x.
 *
 * The runner also flags, per example, a first input gradient that is exactly
 * zero or non-finite on every feature the attack may move: the loss is flat
 * there (a saturated softmax when logits are large, e.g. a model fed 0-255
 * pixels or a distilled model; or gradient masking), so gradient steps
 * cannot move and the robust accuracy they report is not robustness. Above
 * FOIL_ZERO_GRADIENT_WARN of the examples whose gradient was taken, the
 * result carries a warning that says so and what to run instead.
 */
#ifndef FOIL_EVASION_H
#define FOIL_EVASION_H

#include <stdint.h>

#include "foil/constraints.h"
#include "foil/data.h"
#include "foil/model.h"
#include "foil/status.h"
#include "foil/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { FOIL_NORM_LINF = 0, FOIL_NORM_L2 = 1, FOIL_NORM_L1 = 2, FOIL_NORM_L0 = 3 } foil_norm;

typedef enum {
    FOIL_UNTARGETED = 0,
    FOIL_TARGET_GIVEN,        /* threat.targets */
    FOIL_TARGET_RANDOM,       /* uniform over the classes other than the true one (seeded) */
    FOIL_TARGET_LEAST_LIKELY, /* the class with the lowest clean logit */
} foil_target_mode;

typedef struct foil_threat {
    foil_norm norm;
    float eps;                   /* radius; 0 = unbounded (minimal-perturbation attacks only) */
    const float *lower, *upper;  /* per-feature bounds, one example's worth each (required) */
    const uint8_t *immutable;    /* per feature, 1 = must not change (NULL: none) */
    const uint8_t *integer;      /* per feature, 1 = must stay integral (NULL: none) */
    foil_target_mode target_mode;
    const int64_t *targets;      /* N target classes for FOIL_TARGET_GIVEN */
    int64_t steps;               /* iterations; 0 = the attack's default */
    float step_size;             /* 0 = the attack's default */
    int64_t restarts;            /* 0 = the attack's default */
    int64_t queries;             /* query budget per example; 0 = the attack's default */
    uint64_t seed;
} foil_threat;

/* Attack-specific settings as "key=value,key=value" (NULL or "" for the
 * defaults); each attack lists the keys it accepts and rejects others. */
typedef struct foil_evasion_options {
    const char *params;
    int64_t batch;               /* examples attacked together (default 250); the model runs them in chunks */
    int quiet;                   /* no progress bar */
    const char *label;           /* the progress bar's label (NULL: the attack's name) */
    /* Attacks that learn one perturbation for many inputs (universal
     * perturbation, adversarial patch) learn it on these examples (labels
     * fit_y) and are then evaluated on the x given to foil_evasion_run. */
    const foil_tensor *fit_x;
    const int64_t *fit_y;
    /* The index of x's first row in the whole set being attacked: every
     * random draw of example i is keyed by first_example + i, so a share
     * of a larger run (one MPI rank's block) draws what the whole run
     * would (0: x is the whole set). */
    int64_t first_example;
} foil_evasion_options;

typedef struct foil_evasion_result {
    int64_t n;
    foil_tensor adv;             /* float32, shaped like x */
    int64_t *clean_pred;         /* N predicted classes on x */
    int64_t *adv_pred;           /* N predicted classes on adv */
    int64_t *target;             /* N: the target class (targeted), else the true label */
    uint8_t *attacked;           /* N: 1 = clean prediction was correct, so the attack ran */
    uint8_t *success;            /* N: attacked and adv meets the goal */
    float *norm;                 /* N: ||adv - x|| in the threat's norm */
    float *norm_l0;              /* N: features changed (|adv - x| > 0) */
    int64_t *queries;            /* N: inputs the model evaluated for this example */
    int64_t *grads;              /* N: of those, the ones with an input gradient */
    uint8_t *zero_grad;          /* N: its first input gradient was zero (or non-finite) on every movable feature */
    int64_t fit_queries;         /* learning on opt->fit_x: inputs the model evaluated */
    int64_t fit_grads;           /* ... and of those, input gradients */
    int64_t fit_grad_examples;   /* fit examples whose input gradient was taken */
    int64_t fit_zero_grads;      /* ... and of those, the ones flagged as zero_grad is */
    int64_t model_queries;       /* inputs the model evaluated during the run, the runner's own clean and final
                                    predictions included (foil_model_queries before and after) */
    int64_t model_grads;         /* ... and input gradients it returned */
    double seconds;              /* the attack alone (not the runner's checks) */
    char warnings[1024];         /* e.g. the zero-gradient warning, one per line; "" when none */
} foil_evasion_result;

/* Fraction of zero_grad examples above which the result warns. */
#define FOIL_ZERO_GRADIENT_WARN 0.01


/* What an attack needs from a model; the runner checks it against the
 * model's capabilities (foil/model.h) before running, as ART checks an
 * attack's estimator requirements. */
typedef enum foil_evasion_needs {
    FOIL_NEEDS_GRADIENTS = 0,    /* white-box: input gradients */
    FOIL_NEEDS_SCORES,           /* score-based: per-class scores (logits or probabilities) */
    FOIL_NEEDS_LABELS,           /* decision-based: the top label alone */
} foil_evasion_needs;

const char *foil_evasion_needs_name(foil_evasion_needs needs);

typedef struct foil_evasion_info {
    const char *name;            /* "pgd", "apgd-ce", "square", ... */
    const char *paper;           /* citation */
    const char *summary;
    unsigned norms;              /* bit (1 << foil_norm) per supported norm */
    int black_box;               /* 1: only predictions (queries) */
    foil_evasion_needs needs;
    int minimal;                 /* 1: minimal-perturbation attack (eps may be 0) */
    int targeted;                /* 1: supports targeted mode */
    int fits;                    /* 1: learns on opt->fit_x (universal perturbation, patch) */
    const char *defaults;        /* human-readable defaults of steps, queries, params */
} foil_evasion_info;

/* The registry, in the order `foil attack --help` lists it. */
int foil_evasion_count(void);
const foil_evasion_info *foil_evasion_at(int i);
const foil_evasion_info *foil_evasion_find(const char *name);

const char *foil_norm_name(foil_norm norm);
/* "linf", "l2", "l1", "l0" (also "inf"); returns -1 for anything else. */
int foil_norm_parse(const char *s);

/* Run the named attack on x (N, ...) with true labels y. result is filled
 * (allocated by the call; free with foil_evasion_result_free). Examples the
 * model already misclassifies are not attacked (attacked = 0, adv = x). */
foil_status foil_evasion_run(const char *name, foil_model *model, const foil_tensor *x, const int64_t *y,
                            const foil_threat *threat, const foil_evasion_options *opt, foil_evasion_result *result);

void foil_evasion_result_free(foil_evasion_result *r);

/* Judge r's examples (crafted on some model, against x and labels y)
 * by another model, `judge`: a transfer attack (examples from a surrogate
 * or from a model without its defense, scored on the target). Rewrites
 * clean_pred, adv_pred, attacked (judge classifies x correctly) and success
 * (attacked, and judge's prediction on adv meets the threat's goal: not y,
 * or the target); leaves the norms, counts and warnings of the crafting
 * run. One query of judge per example for x and one for adv. */
foil_status foil_evasion_judge(foil_model *judge, const foil_tensor *x, const int64_t *y, const foil_threat *t,
                               foil_evasion_result *r);

/* Examples whose input gradient was taken (the attacked ones, and the fit
 * examples of attacks that learn on opt->fit_x) and, of those, the ones
 * whose first gradient was zero or non-finite (zero_grad). */
void foil_evasion_zero_gradients(const foil_evasion_result *r, int64_t *taken, int64_t *flat);

/* ||v|| of n floats in the given norm (L0: count of nonzero entries). */
float foil_vec_norm(foil_norm norm, const float *v, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
