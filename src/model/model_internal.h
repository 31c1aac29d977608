/*
 * model/model_internal.h - the estimator's insides, shared by the files of
 * src/model (loading, training, built-in architectures). Not public.
 */
#ifndef FOIL_MODEL_INTERNAL_H
#define FOIL_MODEL_INTERNAL_H

#include "foil/model.h"
#include "nn/graph.h"

enum { BATCH_UNTRIED = 0, BATCH_FREE, BATCH_DECLARED };

struct foil_model {
    foil_graph *g;
    int64_t fixed_batch;       /* > 0 when the ONNX input fixes it */
    int batch_mode;            /* with a fixed batch: BATCH_UNTRIED, _FREE (runs at any), _DECLARED (only its own) */
    int64_t max_batch;
    int64_t planned_batch;     /* chunk size of the current plan (0: none) */
    int64_t classes;
    foil_tensor chunk_x;       /* (B, ...) staging for one chunk */
    foil_tensor chunk_dlogits; /* (B, classes) */
    float *chunk_loss;         /* B */
    const foil_tensor **d_outputs; /* one per graph output, for backward: only the logits' is set */
};

/* Wrap a finalized graph (one float32 input with a batch dimension; the
 * first output the logits). Takes ownership of g, also on failure. */
foil_status foil_model_from_graph(foil_graph *g, foil_model **out);

/* The output gradients for foil_graph_backward, which reads one per graph
 * output: d_logits for the first, none (zero) for any others a model has. */
const foil_tensor *const *foil_model_output_grads(foil_model *m, const foil_tensor *d_logits);

#endif
