/*
 * foil/loss.h - losses that do not need a graph.
 *
 * The softmax cross-entropy here is the loss foil trains with and the loss
 * every white-box attack differentiates (FGSM, PGD, APGD-CE, ...): the model
 * produces logits, this turns them into per-example losses and d loss /
 * d logits, and the graph's backward pass takes it from there. It shares its
 * numerics (one stable log-sum-exp) with the ONNX SoftmaxCrossEntropyLoss,
 * Softmax and LogSoftmax operators.
 */
#ifndef FOIL_LOSS_H
#define FOIL_LOSS_H

#include <stdint.h>

#include "foil/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Softmax cross-entropy of n examples over c classes.
 *
 *   logits   n x c, row-major
 *   labels   n class indices, each in [0, c)
 *   loss     NULL, or n outputs: loss[i] = logsumexp(logits[i,:]) - logits[i, labels[i]]
 *   dlogits  NULL, or n x c outputs (OVERWRITTEN, not accumulated):
 *            d(sum_i loss[i]) / d logits = softmax(logits[i,:]) - onehot(labels[i])
 *
 * Numerically stable for any finite logits (the row maximum is subtracted
 * before exponentiating). Returns FOIL_ERR_ARG, with a message naming the
 * example, for a label outside [0, c), n < 0, c < 1, or a NULL input; nothing
 * is written then. OpenMP-parallel over examples for large n*c. */
foil_status foil_softmax_xent(const float *logits, const int64_t *labels, int64_t n, int64_t c, float *loss,
                              float *dlogits);

#ifdef __cplusplus
}
#endif
#endif
