/*
 * model/dp_sgd.h - DP-SGD's private gradient (Abadi et al. 2016) on a graph
 * model's training plan (internal; foil train --dp, see foil/train.h; the
 * accounting is foil/privacy.h's).
 *
 * One step, as model/train.c runs it:
 *   1. Poisson sampling (foilDpSample): each of the N training examples
 *      joins the step's batch independently with probability q, so the
 *      batch size varies (it may be 0: the step is then noise alone);
 *   2. for each chunk of the batch (at most the rows one plan holds), a
 *      forward pass and foilDpClippedSum: one backward pass that gives
 *      each example's gradient norm ||g_n|| (nn/graph.h,
 *      foilGraphExampleNorms), the rows of the logits' gradient scaled by
 *      c_n = min(1, C / ||g_n||), and an ordinary backward of those rows,
 *      which, backward being linear in them, leaves sum_n c_n g_n in the
 *      weights' gradients: two backward passes, never one per example
 *      (the "ghost clipping" of Lee and Kifer 2021 and Opacus, with Conv's
 *      norms made on its im2col matrices);
 *   3. foilDpNoise: N(0, sigma^2 C^2) added to every coordinate of the
 *      sum, then divided by q N, the expected batch size (Opacus's
 *      convention for Poisson sampling), and the optimizer's step.
 * Both random draws are keyed by (seed, step), in streams of their own.
 */
#ifndef FOIL_MODEL_DP_SGD_H
#define FOIL_MODEL_DP_SGD_H

#include <stdint.h>

#include "foil/optim.h"
#include "model/model_internal.h"

/* The batch of step `step` of a run seeded `seed`: each of the n examples
 * with probability q (0 < q <= 1), independently (drawn by geometric
 * skips); their indices in increasing order in idx (room for n); returns
 * how many. */
int64_t foilDpSample(uint64_t seed, int64_t step, int64_t n, double q, int64_t *idx);

/* On gm's current forward pass over `rows` examples, with dl (rows x
 * classes) holding in row n the gradient of example n's loss with respect
 * to its logits: sq[n] = ||g_n||^2, the squared norm of example n's
 * gradient over all trainable weights; row n of dl scaled by c_n =
 * min(1, clip / ||g_n||) (0 for an infinite norm); and sum_n c_n g_n left
 * in the weights' gradients. *clipped: the rows with c_n < 1. The graph
 * must allow per-example norms (foilGraphCheckExampleNorms). */
foil_status foilDpClippedSum(FoilGraphModel *gm, foil_tensor *dl, int64_t rows, double clip, float *sq,
                             int64_t *clipped);

/* Every gradient the optimizer steps on: g <- (g + std z) / divisor, z
 * standard normal, drawn for step `step` of a run seeded `seed` (the same
 * for any thread count); std 0 draws nothing. */
void foilDpNoise(const foil_optim *opt, double std, double divisor, uint64_t seed, int64_t step);

#endif
