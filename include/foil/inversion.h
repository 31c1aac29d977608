/*
 * foil/inversion.h - model inversion: reconstruct what a classifier takes
 * each class to look like from its gradients alone. MIFace, Fredrikson,
 * Jha and Ristenpart, "Model Inversion Attacks that Exploit Confidence
 * Information and Basic Countermeasures", CCS 2015 (ART: MIFace).
 *
 *   foil_inversion_options o;
 *   foil_inversion_defaults(&o);
 *   int64_t want[3] = {0, 1, 2};                      // the classes to invert
 *   foil_inversion_result r;
 *   foil_status st = foil_miface(model, want, 3, d.lower.data, d.upper.data, NULL, &o, &r);
 *   // r.x (3, C, H, W): each class's representative; r.cost, r.probability, r.iterations, r.stop
 *   foil_inversion_class_means(&train, &means);         // (classes, C, H, W)
 *   foil_inversion_compare(&r.x, want, &means, match); // distance to each class's mean, rank of its own
 *   foil_inversion_result_free(&r);
 *
 * The algorithm (the paper's Algorithm 1, its names in brackets, ART's
 * first). For a class y the cost is c(x) = 1 - f_y(x) + AuxTerm(x), f_y
 * the model's softmax probability of y (its score itself when the model
 * returns probabilities). From x_0 (zeros unless given), for i = 1 ..
 * max_iter [alpha]:
 *     x_i = clip(Process(x_{i-1} - learning_rate [lambda] * grad c(x_{i-1})))
 *     stop if c(x_i) >= max(c(x_{i-1}), ..., c(x_{i-window_length})) [beta]
 *     stop if c(x_i) <= threshold [gamma]
 * and the answer is the x_i of least cost. clip projects onto the input
 * range [lower, upper] (the paper's pixels lie in [0, 1]).
 *
 * Where foil differs from ART's MIFace (and says so): ART ascends the
 * gradient of the class's model output (logits for most models), returns
 * the last iterate, and keeps descending while the cost is at or below
 * the threshold or above the window's maximum, the reverse of Algorithm
 * 1's stopping rules; foil follows the paper in all three. The window
 * rule applies once window_length costs exist (ART starts its window at
 * +infinity, which gives the same). ART's default threshold 0.99 would,
 * read as Algorithm 1 reads gamma, stop a 40-class model at its first
 * step (p = 1/40 is a cost of 0.975); foil's default is 0.01, a class
 * probability of 0.99.
 */
#ifndef FOIL_INVERSION_H
#define FOIL_INVERSION_H

#include <stdint.h>

#include "foil/data.h"
#include "foil/model.h"
#include "foil/status.h"
#include "foil/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* AuxTerm: the attacker's side information as a cost on the input. For n
 * examples of d values, value[i] += term(x[i]) and grad[i] += d term / d
 * x[i] (both accumulate: add, do not overwrite). */
typedef foil_status (*foil_inversion_aux_fn)(void *ctx, const float *x, int64_t n, int64_t d, float *value,
                                             float *grad);
/* Process: applied in place to n examples of d values after each step and
 * before the clip (the paper's denoising and sharpening for its
 * autoencoder's inputs). */
typedef foil_status (*foil_inversion_process_fn)(void *ctx, float *x, int64_t n, int64_t d);

typedef struct foil_inversion_options {
    int64_t max_iter;          /* alpha: at most this many steps (default 5000) */
    int64_t window_length;     /* beta: the cost must fall below the highest of the last beta (default 100; 0: off) */
    double threshold;          /* gamma: stop once the cost is at or below it (default 0.01) */
    double learning_rate;      /* lambda: gradient step, in input units per unit of gradient (default 0.1) */
    foil_inversion_aux_fn aux; /* NULL: no AuxTerm */
    void *aux_ctx;
    foil_inversion_process_fn process; /* NULL: none */
    void *process_ctx;
    int quiet;                 /* no progress bar */
} foil_inversion_options;

void foil_inversion_defaults(foil_inversion_options *o);

/* Why an inversion stopped. */
typedef enum foil_inversion_stop {
    FOIL_INVERSION_MAX_ITER = 0, /* alpha steps taken */
    FOIL_INVERSION_WINDOW,       /* the cost stopped falling (beta) */
    FOIL_INVERSION_THRESHOLD,    /* the cost reached gamma */
} foil_inversion_stop;

const char *foil_inversion_stop_name(foil_inversion_stop s); /* "max-iter", "window", "threshold" */

typedef struct foil_inversion_result {
    int64_t n;
    foil_tensor x;             /* (n, ...) float32: each class's least-cost iterate */
    float *cost;               /* (n) c(x) there */
    float *probability;        /* (n) f_y(x) there */
    int64_t *iterations;       /* (n) steps taken */
    int64_t *best_iteration;   /* (n) the step that gave x (0: the start) */
    foil_inversion_stop *stop; /* (n) */
} foil_inversion_result;

void foil_inversion_result_free(foil_inversion_result *r);

/* MIFace for the n classes `labels` of model m (with gradients), all
 * inverted together in one batch. lower/upper: the input range, one
 * example's worth each. start: (n, ...) starting points, or NULL for
 * zeros (clipped into the range). The model's declared input shape gives
 * the shape of the reconstructions (start's when given). Counts on m as
 * any attack does (foil_model_queries, foil_model_gradients). */
foil_status foil_miface(foil_model *m, const int64_t *labels, int64_t n, const float *lower, const float *upper,
                        const foil_tensor *start, const foil_inversion_options *o, foil_inversion_result *out);

/* The mean example of each class of d: means (d->classes, ...) float32,
 * allocated; FOIL_ERR_ARG naming the class when one has no example. */
foil_status foil_inversion_class_means(const foil_dataset *d, foil_tensor *means);

/* How a reconstruction compares with the class means. */
typedef struct foil_inversion_match {
    double l2_own;             /* L2 distance to its own class's mean */
    double corr_own;           /* Pearson correlation with it */
    int64_t rank_l2;           /* 1 + the classes whose mean is nearer in L2 (1: its own is the nearest) */
    int64_t rank_corr;         /* 1 + the classes whose mean correlates better */
    int64_t nearest_l2;        /* the class of the nearest mean */
} foil_inversion_match;

/* For each k of n: x[k] (targeting class labels[k]) against every class's
 * mean (means: (classes, ...), one example's shape as x's). */
foil_status foil_inversion_compare(const foil_tensor *x, const int64_t *labels, int64_t n, const foil_tensor *means,
                                   foil_inversion_match *out);

#ifdef __cplusplus
}
#endif
#endif
