/*
 * foil/model.h - a classifier loaded from ONNX: the estimator every attack
 * and defense talks to.
 *
 * A model maps a batch x (N, ...) of float32 inputs to logits (N, classes).
 * White-box code may also ask for the gradient of the softmax cross-entropy
 * loss with respect to x. Batches of any size are accepted: the model runs
 * them in chunks (of the model's fixed batch size, if its ONNX input declares
 * one, else of up to `max_batch` examples), planning memory once per chunk
 * size, so repeated calls with the same N allocate nothing.
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

/* Number of classes (the logits' last dimension), computed by planning the
 * graph for one example. */
foil_status foil_model_num_classes(foil_model *m, int64_t *classes);

#ifdef __cplusplus
}
#endif
#endif
