/*
 * model/ibp_train.h - differentiable interval bound propagation for IBP
 * training (Gowal et al. 2018), the bounds half of `foil train --adv ibp`
 * (foil/train.h). Internal; model/train.c runs the training half.
 *
 * What it is: the interval [mu - r, mu + r] of every activation of a box
 * of inputs, propagated in float through the graph's own weights, and the
 * exact gradient of a loss on the resulting worst-case logits with respect
 * to those weights. What it is not: a verifier. Its bounds are rounded like
 * any float forward pass, so they may be a few ulps tighter than the true
 * ones; foil/verify.h's IBP (double, rounded outward) is the one that
 * certifies. The tests check that the two agree up to that rounding.
 *
 * Supported nodes (those that depend on the graph input): Conv (2-D,
 * group 1, no dilation), Gemm (alpha = beta = 1, transA = 0), Relu, MaxPool
 * (2-D), Flatten, Reshape to 2-D, Identity, and Add/Sub/Mul/Div by a
 * constant (a scalar, one value per channel, or one per element of an
 * example: the normalization foil's tabular models put in front). Any other
 * node is an error naming it (BatchNorm, Dropout: not yet).
 *
 * Use, per training step (b examples, at most max_batch):
 *   foilIbpForward(ib, b, lo, hi);          box -> bounds of every activation
 *   foilIbpWorstLogits(ib, labels, z);      z[i, j] >= logit_j - logit_{y_i}
 *   ... loss on z, dz = dloss/dz ...
 *   foilIbpBackward(ib, labels, dz);        weight gradients, foilIbpGrad
 */
#ifndef FOIL_MODEL_IBP_TRAIN_H
#define FOIL_MODEL_IBP_TRAIN_H

#include <stdint.h>

#include "foil/status.h"
#include "nn/graph.h"

typedef struct FoilIbp FoilIbp;

/* Compile g (planned: its per-example shapes are read from the plan) for
 * batches of up to max_batch examples. Errors name an unsupported node. */
foil_status foilIbpNew(FoilGraph *g, int64_t max_batch, FoilIbp **out);
void foilIbpFree(FoilIbp *ib);

/* Bounds of every activation for the boxes lo <= x <= hi (b examples laid
 * out as the graph's input, lo <= hi). */
foil_status foilIbpForward(FoilIbp *ib, int64_t b, const float *lo, const float *hi);

/* After forward: lower and upper bounds of the logits (b x classes). */
void foilIbpLogitBounds(const FoilIbp *ib, float *lb, float *ub);
int64_t foilIbpClasses(const FoilIbp *ib);

/* After forward: the worst-case logits, z[i, j] an upper bound of
 * logit_j - logit_{y_i} over the box (0 for j = y_i). When the logits come
 * from a Gemm, the margin is folded into it (Gowal et al.'s elision of the
 * last layer): the bound of (W_j - W_y) h + b_j - b_y over h's interval,
 * tighter than upper(logit_j) - lower(logit_y). */
void foilIbpWorstLogits(FoilIbp *ib, const int64_t *labels, float *z);

/* Gradient of a loss with dloss/dz = dz (b x classes; entries at j = y_i
 * are ignored) through foilIbpWorstLogits and the bounds to every weight:
 * written (not accumulated) to the buffers foilIbpGrad returns. */
void foilIbpBackward(FoilIbp *ib, const int64_t *labels, const float *dz);

/* That gradient for the graph's value `value` (a trained weight, numel of
 * it), NULL for a value the bounds do not depend on. */
const float *foilIbpGrad(const FoilIbp *ib, int value);

#endif
