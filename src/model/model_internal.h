/*
 * model/model_internal.h - the estimator's insides, shared by the files of
 * src/model (the interface, the ONNX graph model, the wrappers, training,
 * built-in architectures). Not public.
 */
#ifndef FOIL_MODEL_INTERNAL_H
#define FOIL_MODEL_INTERNAL_H

#include "foil/model.h"
#include "nn/graph.h"

/* Every model: the interface (model.c) over an implementation's state. */
struct foil_model {
    const foil_model_ops *ops;
    void *state;
    unsigned caps;             /* FOIL_MODEL_* */
    char *name;
    int input_rank;            /* 0: not declared */
    int64_t input_shape[FOIL_MAX_DIMS];
    int64_t queries, grads;    /* see "Counting" in foil/model.h */
    char *why_no_gradients;    /* NULL, or why a graph model is not differentiable (foil_model_why_no_gradients) */
};

/* Record why m has no gradients (copied); FOIL_ERR_NOMEM. */
foil_status foilModelSetWhyNoGradients(foil_model *m, const char *why);

enum { BATCH_UNTRIED = 0, BATCH_FREE, BATCH_DECLARED };

/* A graph model keeps one plan per use, side by side: attacks and
 * predictions run the inference plan (chunks of up to max_batch, input
 * gradients), training runs its own (the training batch, weight gradients).
 * Adversarial training alternates the two every step; each switch is a
 * foilGraphSwapPlan, never a re-plan. */
typedef enum FoilPlanUse { FOIL_PLAN_INFERENCE = 0, FOIL_PLAN_TRAINING = 1 } FoilPlanUse;

/* The ONNX graph model's state (graph_model.c). */
typedef struct FoilGraphModel {
    FoilGraph *g;
    int64_t fixed_batch;       /* > 0 when the ONNX input fixes it */
    int batch_mode;            /* with a fixed batch: BATCH_UNTRIED, _FREE (runs at any), _DECLARED (only its own) */
    int64_t max_batch;
    int64_t planned_batch;     /* chunk size of the current plan (0: none) */
    int64_t classes;
    foil_tensor chunk_x;       /* (B, ...) staging for one chunk */
    foil_tensor chunk_dlogits; /* (B, classes) */
    float *chunk_loss;         /* B */
    const foil_tensor **d_outputs; /* one per graph output, for backward: only the logits' is set */
    foil_model *self;              /* the model whose state this is (training evaluates it through the interface) */
    FoilPlanUse plan_in_graph;   /* whose plan the graph holds now */
    FoilPlanSlot other_plan;     /* the other use's plan (planned_batch and the chunk buffers are inference's) */
} FoilGraphModel;

/* Wrap a finalized graph (one float32 input with a batch dimension; the
 * first output the logits). Takes ownership of g, also on failure. */
foil_status foilModelFromGraph(FoilGraph *g, foil_model **out);

/* m's graph model, or NULL when m is not an ONNX graph model (a wrapper, a
 * remote model). */
FoilGraphModel *foilGraphModelOf(const foil_model *m);

/* The graph model of m, or FOIL_ERR_CAPABILITY naming m and `what` needs
 * it ("training", "saving"). */
foil_status foilGraphModelRequire(const foil_model *m, const char *what, FoilGraphModel **gm);

/* Make the graph hold the plan for `use` (planned or not yet). */
foil_status foilGraphModelUsePlan(FoilGraphModel *gm, FoilPlanUse use);

/* Release the plan for `use` (and, for inference, the chunk buffers). */
void foilGraphModelDropPlan(FoilGraphModel *gm, FoilPlanUse use);

/* Drop both plans and the slot (the graph is about to change: nodes or
 * values added). */
void foilGraphModelUnplan(FoilGraphModel *gm);

/* The gradient of sum_n fn(logits[n]) with respect to the trainable
 * weights, added to param_sum (graph order, as foil_model_params_get lays
 * them out); value as in foil_model_input_grad. Inference mode, the
 * inference plan's chunks. */
foil_status foilGraphModelParamGrad(FoilGraphModel *m, const foil_tensor *x, foil_logit_fn fn, void *ctx, float *value,
                                    float *param_sum);

/* The graph model's fit (train.c): minibatch training of its graph. */
foil_status foilGraphModelFit(void *state, const struct foil_dataset *train, const struct foil_dataset *val,
                                 const struct foil_train_options *o, struct foil_train_report *report);

/* Wrappers (black_box.c, defended.c) keep the model they wrap as the FIRST
 * member of their state, so that these operations, which pass the call on
 * to it, serve them all. */
foil_status foilWrapperNumClasses(void *state, int64_t *classes);
/* Frees the wrapped model and the state (for states that own nothing else). */
void foilWrapperDestroy(void *state);
void foilWrapperSetMaxBatch(void *state, int64_t max_batch);

/* The output gradients for foilGraphBackward, which reads one per graph
 * output: d_logits for the first, none (zero) for any others a model has. */
const foil_tensor *const *foilModelOutputGrads(FoilGraphModel *gm, const foil_tensor *d_logits);

#endif
