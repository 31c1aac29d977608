/*
 * foil/verify.h - sound output bounds for a box of inputs: IBP and CROWN.
 *
 *   foil_model *m;  foil_verifier *v;
 *   foil_model_load("cnn.onnx", &m);
 *   int64_t shape[3] = {1, 28, 28};                  // one example
 *   foil_verify_new(m, 3, shape, &v);                // the graph, compiled once
 *   foil_bounds_linf_box(n, 784, x, 0.1f, lower, upper, lo, hi);  // x +- eps, clipped
 *   foil_bounds_margin_spec(10, y, n, C);            // rows e_y - e_j, j != y
 *   foil_bounds_options o = {.method = FOIL_BOUNDS_CROWN};
 *   foil_bounds_compute(v, &o, n, lo, hi, C, 9, lb, ub);  // lb <= C logits(x') <= ub
 *   foil_verify_free(v);                             // for every x' in the box
 *
 * What a bound means. For every example i and every input x' with
 * lo_i <= x' <= hi_i (per coordinate), each row k of C_i satisfies
 * lb[i,k] <= C_i[k] . logits(x') <= ub[i,k], where logits is the model's
 * graph evaluated in exact real arithmetic on its float32 weights. The
 * verifier computes in double and rounds every result outward to float,
 * adding a rigorous bound on its own rounding error, so no rounding of the
 * verifier's makes a bound too tight. foil's float32 forward pass rounds
 * too (a relative error of about 1e-6 of |W||x| per layer), so a logit that
 * foil predicts may lie that far outside a bound that the real network's
 * logit attains; it never lies further.
 *
 * Methods:
 *   IBP    interval bound propagation (Gowal et al. 2018): an interval per
 *          activation, layer by layer; the spec C is folded into the last
 *          affine layers before the first ReLU or MaxPool from the output
 *          (as Gowal et al. fold the margin into the last layer).
 *   CROWN  the backward linear relaxation of Zhang et al. 2018, as
 *          auto_LiRPA's compute_bounds(method='backward') computes it:
 *          ReLU upper line through (l, 0) and (u, u), lower slope 1 when
 *          u > -l else 0 ("adaptive"); MaxPool as auto_LiRPA relaxes it
 *          (lower: the input with the largest lower bound; upper: that
 *          input when it dominates, else the largest upper bound, a
 *          constant). Intermediate bounds of every ReLU input are CROWN's
 *          own, for the neurons IBP leaves unstable (stable ones keep IBP's,
 *          as auto_LiRPA's sparse intermediate bounds do); the first affine
 *          layer after the input gets IBP's, which are exact there.
 *          By default every intermediate and final bound is also
 *          intersected with IBP's, so CROWN is never looser than IBP on any
 *          row (CROWN alone can be: its ReLU lower line below 0 loses to
 *          IBP's [0, u] on some networks, see Zhang et al. 2020, CROWN-IBP);
 *          crown_only turns that off and gives auto_LiRPA's numbers.
 *
 * Supported ops (the graph's nodes that the first output depends on): Conv
 * (2-D), Gemm, MatMul by a constant, Relu, MaxPool and AveragePool (2-D),
 * GlobalAveragePool, BatchNormalization (inference), Flatten, Reshape,
 * Identity, Dropout (inference), Add/Sub of two activations of one shape,
 * Add/Sub/Mul/Div by a constant (the normalization models put in front).
 * Any other op is an error naming the node and the op.
 */
#ifndef FOIL_VERIFY_H
#define FOIL_VERIFY_H

#include <stdint.h>

#include "foil/model.h"
#include "foil/status.h"
#include "foil/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct foil_verifier foil_verifier;

typedef enum foil_bounds_method { FOIL_BOUNDS_IBP = 0, FOIL_BOUNDS_CROWN = 1 } foil_bounds_method;

typedef struct foil_bounds_options {
    foil_bounds_method method;
    /* CROWN: 1 = intermediate (ReLU input) bounds from IBP instead of CROWN:
     * faster, looser. */
    int ibp_intermediate;
    /* CROWN: 1 = CROWN's bounds as they come (auto_LiRPA's method='backward'),
     * not intersected with IBP's. Still sound; may be looser than IBP. */
    int crown_only;
    /* CROWN: > 0 = optimize the ReLU lower slopes of each final row by this
     * many projected Adam steps (alpha-CROWN's optimization, Xu et al.
     * 2021). Never looser than without; about steps times slower. */
    int alpha_steps;
    /* CROWN: > 0 = the same for every intermediate bound CROWN computes
     * (each neuron's own slopes, until it shows stable): tighter, and
     * slower by about this factor. */
    int alpha_intermediate_steps;
} foil_bounds_options;

/* "ibp" or "crown" (NULL for another value); parse: FOIL_ERR_ARG naming s. */
const char *foil_bounds_method_name(foil_bounds_method m);
foil_status foil_bounds_method_parse(const char *s, foil_bounds_method *m);

/* Compile model (an ONNX graph model, not a wrapper or a remote one) for
 * inputs of one example's shape (rank dims, without the batch). Runs the
 * model once on zeros of that shape. The verifier copies what it needs:
 * the model may change or go after this returns. Errors name an
 * unsupported op and its node. */
foil_status foil_verify_new(foil_model *model, int rank, const int64_t *example_shape, foil_verifier **out);
void foil_verify_free(foil_verifier *v);

int64_t foil_verify_classes(const foil_verifier *v);     /* logits per example */
int64_t foil_verify_input_size(const foil_verifier *v);  /* floats per example */

/* Bounds of C_i . logits over the box [lo_i, hi_i] for each of n examples.
 * lo, hi: n * input_size floats (lo <= hi, finite). C: n * k * classes
 * floats, row-major, one spec matrix per example; NULL = the identity
 * (k must then be classes). lb, ub: n * k floats each. */
foil_status foil_bounds_compute(foil_verifier *v, const foil_bounds_options *o, int64_t n, const float *lo,
                                const float *hi, const float *C, int64_t k, float *lb, float *ub);

/* The Linf box of x (n examples of f features) with radius eps, clipped to
 * the per-feature input domain [lower, upper] (one example's worth each;
 * NULL: unclipped): lo = max(x - eps, lower), hi = min(x + eps, upper),
 * rounded outward so that the box holds every x' with |x' - x| <= eps. */
void foil_bounds_linf_box(int64_t n, int64_t f, const float *x, float eps, const float *lower, const float *upper,
                          float *lo, float *hi);

/* The margin spec for labels y (n of them): for example i, classes - 1 rows
 * e_{y_i} - e_j for j != y_i in increasing j; C is n * (classes - 1) *
 * classes floats. A lower bound > 0 on every row proves that no input in
 * the box changes the top class away from y_i. */
void foil_bounds_margin_spec(int64_t classes, const int64_t *y, int64_t n, float *C);

/* Linf verification of n examples x (N, ...) with labels y at radius eps
 * inside [lower, upper] (as foil_bounds_linf_box): verified[i] = 1 when the
 * lower bound of every margin is > 0. margin (NULL: not wanted): the
 * smallest lower bound over the margins, per example. */
foil_status foil_verify_linf(foil_verifier *v, const foil_bounds_options *o, const foil_tensor *x, const int64_t *y,
                             float eps, const float *lower, const float *upper, uint8_t *verified, float *margin);

#ifdef __cplusplus
}
#endif

#endif
