/*
 * foil/extraction.h - model extraction: copy a classifier that can only be
 * queried (foil/model.h: an ONNX file behind foil_model_black_box, or a
 * remote model of foil/remote.h) by training a model of the attacker's own
 * on the victim's answers.
 *
 *     foil_extraction_options o;
 *     foil_extraction_defaults(&o);
 *     o.attack = FOIL_EXTRACT_KNOCKOFF_RANDOM;
 *     o.budget = 10000;                        // victim queries, in all
 *     o.make = my_factory;                     // the copy's architecture
 *     foil_model *api;                         // the victim as the attacker sees it
 *     foil_model_black_box(victim, o.budget, &output_mode, &api);
 *     foil_extraction_report r;
 *     foil_model *copy;
 *     foil_extract(api, &surrogate, &test, victim_test_labels, &o, &copy, &r);
 *     // r.point[i]: queries, fidelity, accuracy of the copy at each checkpoint
 *
 * Attacks (foil_extraction_attack):
 *   copycat            Correia-Silva et al. 2018, "Copycat CNN": a random
 *                      sample of the attacker's surrogate data (problem
 *                      domain or not) labelled with the victim's top-1
 *                      label (hard labels, as the paper), a copy trained on
 *                      it.
 *   knockoff-random    Orekondy et al. 2019, "Knockoff Nets", random
 *                      strategy: the same sample, the copy trained on the
 *                      victim's probabilities (soft labels) when the victim
 *                      gives scores, on its labels otherwise.
 *   knockoff-adaptive  Knockoff Nets' adaptive strategy: a gradient-bandit
 *                      policy over actions, the surrogate's classes (the
 *                      paper's hierarchy has one level here), rewarded by
 *                      certainty + diversity + loss (foil_knockoff_reward);
 *                      a knockoff trained online for the loss reward.
 *   jacobian           Papernot et al. 2017, "Practical black-box attacks":
 *                      a seed set, then rounds of substitute training and
 *                      Jacobian-based dataset augmentation
 *                      x + lambda_rho sign(J_F(x)[O(x)]) (foil_jacobian_augment),
 *                      lambda_rho = lambda (-1)^floor(rho / tau), optionally
 *                      with reservoir sampling (kappa new points a round
 *                      after sigma rounds). Each round is a checkpoint.
 *
 * Counting. Every query goes through the victim model (foil_model_predict),
 * so foil_model_queries counts it and a black_box budget refuses one query
 * too many; the attacks themselves never ask for more than o->budget
 * (foil_extract checks the victim's counter before and after).
 *
 * Copies. At each checkpoint (a query count) a fresh copy, o->make(ctx,
 * queried examples, seed), is trained with o->train on every example
 * queried so far and judged on `test`: fidelity, its top-1 agreeing with
 * the victim's (victim_pred, the labels of the undefended victim), and
 * accuracy against test's labels. The last copy is returned.
 */
#ifndef FOIL_EXTRACTION_H
#define FOIL_EXTRACTION_H

#include <stdint.h>

#include "foil/data.h"
#include "foil/infer.h"
#include "foil/model.h"
#include "foil/rng.h"
#include "foil/status.h"
#include "foil/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum foil_extraction_attack {
    FOIL_EXTRACT_COPYCAT = 0,
    FOIL_EXTRACT_KNOCKOFF_RANDOM,
    FOIL_EXTRACT_KNOCKOFF_ADAPTIVE,
    FOIL_EXTRACT_JACOBIAN,
    FOIL_EXTRACT_COUNT
} foil_extraction_attack;

/* "copycat", "knockoff-random", "knockoff-adaptive", "jacobian". */
const char *foil_extraction_name(foil_extraction_attack a);
/* FOIL_ERR_ARG naming the attacks for another name. */
foil_status foil_extraction_parse(const char *name, foil_extraction_attack *out);

enum { FOIL_EXTRACT_MAX_POINTS = 32 };

/* What the copy learns from: the victim's top-1 (hard) or its
 * probabilities (soft; softmax of logits). AUTO: soft for the Knockoff
 * attacks when the victim gives scores, hard otherwise. */
typedef enum { FOIL_LABELS_AUTO = 0, FOIL_LABELS_HARD, FOIL_LABELS_SOFT } foil_label_kind;

typedef struct foil_extraction_options {
    foil_extraction_attack attack;
    int64_t budget;               /* victim queries in all (>= 1) */
    int64_t checkpoints[FOIL_EXTRACT_MAX_POINTS]; /* increasing query counts <= budget where a copy is trained */
    int n_checkpoints;            /* 0: the budget alone (jacobian: every round, whatever these say) */
    foil_label_kind labels;
    foil_model_factory make;      /* the copy's architecture (required) */
    void *make_ctx;
    foil_train_options train;     /* how each copy trains (soft labels: through a teacher; keep it NULL) */
    uint64_t seed;
    int quiet;                    /* no progress bar */
    /* knockoff-adaptive */
    int64_t policy_batch;         /* actions drawn (and queried at once) per policy step (1: the paper's) */
    int64_t online_batch;         /* the online knockoff takes an SGD epoch on every this many queries (32) */
    int64_t window;               /* diversity: mean of the last `window` victim outputs (0: all, as ART) */
    /* jacobian */
    float lambda;                 /* step (0.1, the paper's) */
    int64_t tau;                  /* sign flips every tau rounds (3; 0: never) */
    int64_t seed_size;            /* initial examples (150, the paper's) */
    int64_t reservoir;            /* kappa: points augmented a round after `sigma` rounds (0: no reservoir) */
    int64_t sigma;
} foil_extraction_options;

/* The defaults above; budget 10000, checkpoints none (the budget). */
void foil_extraction_defaults(foil_extraction_options *o);

/* One copy: trained after `queries` victim queries. */
typedef struct foil_extraction_point {
    int64_t queries;
    double fidelity;              /* share of test examples where copy and victim agree (-1: no victim_pred) */
    double accuracy;              /* the copy's test accuracy (-1: no test set) */
    double seconds;               /* since the attack began, this copy trained */
    double train_seconds;         /* training this copy */
} foil_extraction_point;

typedef struct foil_extraction_report {
    int n_points;
    foil_extraction_point point[FOIL_EXTRACT_MAX_POINTS];
    int64_t queries;              /* victim queries the attack made (its counter's difference) */
    int soft;                     /* 1: the copies learned soft labels */
    double query_seconds;         /* spent in victim queries */
    double judge_seconds;         /* spent judging the copies on the test set (in seconds, not in the attack's cost) */
    double seconds;
    /* knockoff-adaptive: the policy at the end and how often each action was drawn */
    int64_t actions;
    double *policy;               /* actions entries (allocated; foil_extraction_report_free) */
    int64_t *pulls;
    /* jacobian: rounds of augmentation */
    int64_t rounds;
} foil_extraction_report;

void foil_extraction_report_free(foil_extraction_report *r);

/* Run attack o->attack on victim, drawing from surrogate (its labels are
 * the adaptive strategy's actions; the others ignore them). test (may be
 * NULL) and victim_pred (NULL, or test's n victim top-1 labels) judge each
 * copy. *copy: the last copy (the caller frees it), NULL on failure.
 * Errors: FOIL_ERR_ARG for bad options, FOIL_ERR_SHAPE when the victim
 * does not take the surrogate's examples or gives another number of
 * classes than the test set has, and whatever the victim or the training
 * return (FOIL_ERR_BUDGET when the victim's own budget is smaller than
 * o->budget). */
foil_status foil_extract(foil_model *victim, const foil_dataset *surrogate, const foil_dataset *test,
                         const int64_t *victim_pred, const foil_extraction_options *o, foil_model **copy,
                         foil_extraction_report *report);

/* ---- the pieces, for tests and for programs of their own ---- */

/* Knockoff Nets' adaptive policy (Orekondy et al. 2019, sec. 4.1.2): a
 * gradient bandit over `actions` with preferences h, policy pi = softmax(h).
 * After action a earns reward r (with the mean reward so far, r included,
 * as baseline rbar), with step 1 / pulls(a) (ART's choice; the paper's
 * gradient bandit has a step alpha):
 *     h(a) += (r - rbar) (1 - pi(a)) / pulls(a),
 *     h(b) -= (r - rbar) pi(b) / pulls(a)   for b != a. */
typedef struct foil_knockoff_policy {
    int64_t actions, classes;
    double *h, *pi;               /* actions each */
    int64_t *pulls;               /* actions */
    int64_t steps;
    double mean_reward;           /* rbar */
    /* the reward's running statistics (certainty, diversity, loss) */
    double reward_mean[3], reward_var[3];
    int64_t rewards;
    int64_t window;               /* diversity: 0 = mean of all victim outputs so far */
    float *recent;                /* window x classes ring of victim outputs (window > 0) */
    double *y_sum;                /* classes: their sum */
    int64_t seen;
} foil_knockoff_policy;

foil_status foil_knockoff_policy_init(foil_knockoff_policy *p, int64_t actions, int64_t classes, int64_t window);
void foil_knockoff_policy_free(foil_knockoff_policy *p);
/* An action drawn from pi; actions whose flag in `exhausted` (NULL: none)
 * is set are never drawn (the others' probabilities renormalized). -1
 * when every action is exhausted. */
int64_t foil_knockoff_policy_sample(const foil_knockoff_policy *p, const uint8_t *exhausted, foil_rng *rng);
/* The reward of one query: victim probabilities y and the knockoff's
 * probabilities yhat (classes each), the three terms in parts[3] when not
 * NULL:
 *     certainty  y_(1) - y_(2), the margin of the victim's top two;
 *     diversity  sum_k max(0, y_k - ybar_k), ybar the mean victim output
 *                over the window (this y included);
 *     loss       -sum_k y_k log yhat_k, the knockoff's cross-entropy.
 * Each term is standardized by its running mean and variance (as ART; a
 * term of variance 0 counts 0; the first reward is each term clipped to
 * [0, 1]), and the reward is their mean. Updates the statistics. */
double foil_knockoff_reward(foil_knockoff_policy *p, const float *y, const float *yhat, double parts[3]);
/* The gradient-bandit update above for action a and reward r. */
void foil_knockoff_policy_update(foil_knockoff_policy *p, int64_t a, double r);

/* Jacobian-based dataset augmentation (Papernot et al. 2017, eq. 4): out
 * (allocated like x when out->data is NULL) = clip(x + step sign(dF_label/dx),
 * lower, upper) for each example, F the substitute's logits and label the
 * oracle's label of the example; step is lambda_rho, sign included. lower
 * and upper (one example's worth each) may be NULL: no clipping. */
foil_status foil_jacobian_augment(foil_model *substitute, const foil_tensor *x, const int64_t *labels, float step,
                                  const float *lower, const float *upper, foil_tensor *out);
/* lambda_rho = lambda (-1)^floor(rho / tau) (tau 0: lambda). */
float foil_jacobian_step(float lambda, int64_t tau, int64_t rho);

#ifdef __cplusplus
}
#endif
#endif
