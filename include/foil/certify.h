/*
 * foil/certify.h - randomized smoothing (Cohen, Rosenfeld and Kolter 2019,
 * "Certified adversarial robustness via randomized smoothing"): the
 * smoothed classifier g(x) = argmax_c P(h(x + N(0, sigma^2 I)) = c) of a
 * base classifier h, its PREDICT (a prediction or an abstention) and its
 * CERTIFY (a prediction with an L2 radius within which g provably does not
 * change, or an abstention), exactly as the paper's algorithms.
 *
 *   foil_smoothing_options o;
 *   foil_smoothing_defaults(&o);
 *   o.sigma = 0.25f;                          // the sigma the model was trained at
 *   foil_smoothed *s;
 *   foil_smoothed_create(model, &o, &s);
 *   foil_certificate c;
 *   foil_smoothed_certify(s, &data.x, i, i, &c);   // example i, its own noise stream
 *   // c.prediction == -1: abstained; else g(x') == c.prediction for all ||x' - x||_2 < c.radius
 *   foil_smoothed_free(s);
 *
 * Soundness in floating point. Voracek and Hein (2023) showed the usual
 * implementation unsound: x + noise rounded to float is not Gaussian
 * around x, and a classifier can tell. foil's base classifier is therefore
 * h(z) = f(Q(z)), where Q rounds each coordinate to a grid lo + k * step
 * (by default the 256 levels of 8-bit images) and f is the network. At a
 * point x on the grid, Q(x + N) = x + step * J with J_i independent and
 * P(J_i = j) = Phi((j + 1/2) t) - Phi((j - 1/2) t), t = step / sigma: an
 * integer variable that foil samples by inverse transform on 64-bit fair
 * coin flips, with no rounding of x + noise at all. The sampler's distance
 * in total variation from the exact law (from the table's erfc error and
 * the 2^-64 granularity) is bounded and subtracted from the Clopper-Pearson
 * bound; a point off the grid is certified at its nearest grid point with
 * the radius reduced by the distance between them. The bound, the radius
 * and the reduction are each rounded down. What remains assumed: that the
 * counter-based generator's bits are fair coins, and that f gives the same
 * output for the same input (foil's kernels do, for a given thread count;
 * every batch has the same size, so shapes never change a result).
 */
#ifndef FOIL_CERTIFY_H
#define FOIL_CERTIFY_H

#include <stdint.h>

#include "foil/model.h"
#include "foil/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct foil_smoothing_options {
    float sigma;          /* noise standard deviation, in input units (> 0) */
    int64_t n0;           /* CERTIFY: samples that select the class (default 100) */
    int64_t n;            /* CERTIFY: samples that estimate its probability; PREDICT: samples (default 100000) */
    double alpha;         /* failure probability (default 0.001) */
    int64_t batch;        /* noisy copies per forward pass (default 1000) */
    float lo, hi;         /* the input range: the grid starts at lo (default 0, 1) */
    int levels;           /* grid levels across [lo, hi] (default 256: step (hi - lo) / 255) */
    uint64_t seed;
} foil_smoothing_options;

void foil_smoothing_defaults(foil_smoothing_options *o);

typedef struct foil_certificate {
    int64_t prediction;   /* the smoothed classifier's class, or -1: abstain */
    double radius;        /* certified L2 radius (0 when abstaining) */
    int64_t count;        /* samples (of n) in the predicted class */
    double p_lower;       /* the sound lower bound on that class's probability */
    double grid_distance; /* L2 distance from x to the grid point certified (subtracted from the radius) */
    double seconds;
} foil_certificate;

typedef struct foil_smoothed foil_smoothed;

/* The smoothed classifier of m (not owned; must outlive it). */
foil_status foil_smoothed_create(foil_model *m, const foil_smoothing_options *o, foil_smoothed **out);
void foil_smoothed_free(foil_smoothed *s);

/* CERTIFY for row `row` of x (N, ...): n0 samples choose the class, n
 * others bound its probability; abstains when that bound is below 1/2.
 * `example_id` keys the noise (use the example's index in its dataset), so
 * the result does not depend on how examples are split between processes. */
foil_status foil_smoothed_certify(foil_smoothed *s, const foil_tensor *x, int64_t row, uint64_t example_id,
                                  foil_certificate *out);

/* PREDICT: n samples; the top class unless the binomial test of its count
 * against the runner-up's is above alpha (then -1). Off the grid, x + noise
 * is sampled in double precision and then rounded to the grid, which is
 * close to but not exactly h's law: PREDICT certifies nothing. */
foil_status foil_smoothed_predict(foil_smoothed *s, const foil_tensor *x, int64_t row, uint64_t example_id,
                                  int64_t *prediction);

/* The bound on the sampler's total-variation distance from the exact law
 * of Q(x + N), per noisy input (already subtracted from p_lower). */
double foil_smoothed_sampler_tv(const foil_smoothed *s);

#ifdef __cplusplus
}
#endif
#endif
