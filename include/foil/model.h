/*
 * foil/model.h - a classifier loaded from ONNX: the estimator every attack
 * and defense talks to.
 *
 * A model maps a batch x (N, ...) of float32 inputs to logits (N, classes).
 * White-box code may also ask for the gradient of the softmax cross-entropy
 * loss with respect to x. Batches of any size are accepted: the model runs
 * them in chunks of up to `max_batch` examples, planning memory once per
 * chunk size, so repeated calls with the same N allocate nothing. A model
 * whose ONNX input declares a fixed batch (often 1) runs at that chunk size
 * too when its graph gives every example its own logits, else in chunks of
 * its declared batch.
 *
 * Examples are fed in their own shape when it fits the declared input, or
 * else in the declared per-example shape when that holds the same number of
 * values (a model declaring [1, 784, 1] takes (N, 1, 28, 28) images); see
 * foil_model_check_input. Outputs and gradients keep the caller's shape.
 */
#ifndef FOIL_MODEL_H
#define FOIL_MODEL_H

#include <stdint.h>

#include "foil/status.h"
#include "foil/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct foil_model foil_model;

/* Load an ONNX classifier: one float32 input, first output = logits. */
foil_status foil_model_load(const char *path, foil_model **out);
/* Write the model (current weights) as ONNX, atomically. */
foil_status foil_model_save(const foil_model *m, const char *path);
void foil_model_free(foil_model *m);

/* Declared input: rank, and shape with -1 for dynamic dimensions
 * (dimension 0 is the batch). */
int foil_model_input_rank(const foil_model *m);
const int64_t *foil_model_input_shape(const foil_model *m);
const char *foil_model_path(const foil_model *m);

/* Largest chunk run at once for models with a dynamic batch (default 256). */
void foil_model_set_max_batch(foil_model *m, int64_t max_batch);

/* logits = model(x). x is (N, ...) float32 matching the declared input
 * shape apart from the batch. logits is allocated (N, classes) by the call
 * when logits->data is NULL, else must already have that shape. */
foil_status foil_model_predict(foil_model *m, const foil_tensor *x, foil_tensor *logits);

/* For every example n: grad[n] = d CE(softmax(model(x)[n]), labels[n]) / d x[n],
 * i.e. the gradient of the summed (not averaged) loss. loss, if not NULL,
 * receives the N per-example losses; logits, if not NULL, the logits as in
 * foil_model_predict. grad is allocated like x when grad->data is NULL. */
foil_status foil_model_loss_input_grad(foil_model *m, const foil_tensor *x, const int64_t *labels, float *loss,
                                       foil_tensor *logits, foil_tensor *grad);

/* A differentiable function of the logits, for gradients of losses other
 * than cross-entropy (an attack's DLR or margin loss, one class's logit).
 * Called once per chunk with the chunk's `count` examples, which are
 * examples [first, first + count) of the caller's batch: it writes value[i]
 * (when value is not NULL) and dvalue[i, :] = d value[i] / d logits[i, :]
 * (count x classes, OVERWRITTEN). */
typedef foil_status (*foil_logit_fn)(void *ctx, int64_t first, int64_t count, int64_t classes, const float *logits,
                                     float *value, float *dvalue);

/* grad[n] = d fn(model(x)[n]) / d x[n] for every example n (a vector-Jacobian
 * product: one forward and one backward pass per chunk). value, logits and
 * grad as in foil_model_loss_input_grad (value: the N values of fn). */
foil_status foil_model_input_grad(foil_model *m, const foil_tensor *x, foil_logit_fn fn, void *ctx, float *value,
                                  foil_tensor *logits, foil_tensor *grad);

/* Whether x (N, ...) float32 can be fed: FOIL_OK with *reshaped = 0 when
 * its examples fit the declared input, 1 when they are fed in the declared
 * per-example shape (same number of values); FOIL_ERR_SHAPE, with a message
 * naming both shapes, when they cannot. */
foil_status foil_model_check_input(const foil_model *m, const foil_tensor *x, int *reshaped);

/* Prepend the input normalization (x - mean) / std to the model's graph, as
 * ONNX Sub and Div nodes with Constant operands broadcast along the channel
 * axis (dimension 1) of the declared input: the model then takes pixels, so
 * attacks, bounds and eps are in pixel space. n_mean and n_std are each 1 or
 * the number of channels; every std must be > 0. A bad argument is
 * FOIL_ERR_ARG naming the counts and the model's input shape, and leaves the
 * model as it was; after any other failure (out of memory) free the model. */
foil_status foil_model_normalize(foil_model *m, int n_mean, const float *mean, int n_std, const float *std);

/* Number of classes (the logits' last dimension), computed by planning the
 * graph for one example. */
foil_status foil_model_num_classes(foil_model *m, int64_t *classes);

#ifdef __cplusplus
}
#endif
#endif
