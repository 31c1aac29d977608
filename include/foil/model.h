/*
 * foil/model.h - the estimator: the one interface through which every
 * attack and defense reaches a classifier.
 *
 * A model maps a batch x (N, ...) of float32 inputs to per-class scores
 * (N, classes): logits, probabilities, or one-hot labels, as its
 * capabilities say. A white-box model also gives the gradient of a function
 * of its logits with respect to x. foil_model is an interface (a table of
 * operations, foil_model_ops, with capability flags and counters); its
 * implementations are
 *
 *   - the ONNX graph model (foil_model_load): foil's own engine, gradients;
 *   - wrappers that take a model and are models themselves, so they compose:
 *     foil_model_black_box (no gradients, a query budget, an output mode),
 *     and the remote models of foil/remote.h (an HTTP endpoint or a local
 *     command that foil can only query);
 *   - any table of operations a program registers (foil_model_create).
 *
 * Counting. Every input a model evaluates is one query (foil_model_queries)
 * and every input whose gradient it returns also one gradient, whoever asks:
 * an attack, the attack runner's own clean and final predictions, eval. A
 * wrapper counts what it is asked; the model inside counts what the wrapper
 * asks of it.
 *
 * The ONNX graph model. Batches of any size are accepted: the model runs
 * them in chunks of up to `max_batch` examples, planning memory once per
 * chunk size, so repeated calls with the same N allocate nothing. A model
 * whose ONNX input declares a fixed batch (often 1) runs at that chunk size
 * too when its graph gives every example its own logits, else in chunks of
 * its declared batch. Examples are fed in their own shape when it fits the
 * declared input, or else in the declared per-example shape when that holds
 * the same number of values (a model declaring [1, 784, 1] takes
 * (N, 1, 28, 28) images); see foil_model_check_input. Outputs and gradients
 * keep the caller's shape.
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

/* ---- what a model can do ---- */

enum {
    FOIL_MODEL_GRADIENTS = 1u << 0,     /* input gradients (white box) */
    FOIL_MODEL_SCORES = 1u << 1,        /* per-class scores; without it a query returns one-hot labels only */
    FOIL_MODEL_PROBABILITIES = 1u << 2, /* the scores are probabilities (rows sum to 1), not logits */
    FOIL_MODEL_RANDOMIZED = 1u << 3,    /* the same input may score differently on another query */
};

/* What a query returns (foil_model_black_box, --output-mode). */
typedef enum foil_output_mode {
    FOIL_OUTPUT_LOGITS = 0,        /* the scores as the model computes them */
    FOIL_OUTPUT_PROBABILITIES,     /* softmax of the logits */
    FOIL_OUTPUT_TOP_K,             /* probabilities of the k most likely classes, 0 for the others */
    FOIL_OUTPUT_ROUNDED,           /* probabilities rounded to `decimals` decimal places */
    FOIL_OUTPUT_LABELS,            /* one-hot top-1 label */
    FOIL_OUTPUT_REVERSE_SIGMOID,   /* probabilities minus the reverse-sigmoid perturbation (Lee et al. 2019) */
    FOIL_OUTPUT_NOISE,             /* probabilities plus Gaussian noise, clipped at 0 and renormalized */
} foil_output_mode;

typedef struct foil_output {
    foil_output_mode mode;
    int k;                         /* FOIL_OUTPUT_TOP_K: classes kept (>= 1) */
    int decimals;                  /* FOIL_OUTPUT_ROUNDED: decimal places (0..8) */
    float beta, gamma;             /* FOIL_OUTPUT_REVERSE_SIGMOID: magnitude and convergence (> 0) */
    float scale;                   /* FOIL_OUTPUT_NOISE: standard deviation (> 0) */
    uint64_t seed;                 /* FOIL_OUTPUT_NOISE: for rows queried without a caller's seed ... */
    uint64_t draws;                /* ... which are noised from (seed, rows before): apply advances it */
} foil_output;

/* Parse "logits", "probabilities", "top-k=K", "round=D", "labels",
 * "reverse-sigmoid[=BETA,GAMMA]" (default 1,0.1, as ART's) or
 * "noise=SCALE"; FOIL_ERR_ARG naming the accepted forms otherwise. */
foil_status foil_output_parse(const char *s, foil_output *out);
/* "logits", "probabilities", "top-k=3", ... into buf. */
const char *foil_output_str(const foil_output *o, char *buf, int size);
/* Apply o in place to rows x classes scores of a model with capabilities
 * caps (logits, or probabilities when caps has FOIL_MODEL_PROBABILITIES);
 * LOGITS leaves them as they are. seeds (NULL, or one per row) key the
 * noise of FOIL_OUTPUT_NOISE, as a randomized model's draws are keyed. */
foil_status foil_output_apply(foil_output *o, unsigned caps, float *scores, int64_t rows, int64_t classes,
                              const uint64_t *seeds);
/* Whether o can apply to a model of capabilities caps (probabilities need
 * scores; k and decimals in range); errors name `who`. */
foil_status foil_output_check(const foil_output *o, unsigned caps, const char *who);
/* The capabilities a model of capabilities caps has once o applies. */
unsigned foil_output_capabilities(const foil_output *o, unsigned caps);

/* n scores of a model with capabilities caps, in place, as logits: log p
 * when they are probabilities (equal to the logits up to a constant per
 * example, to which softmax, cross-entropy, margins and argmax are blind),
 * else unchanged. */
void foil_scores_as_logits(unsigned caps, float *scores, int64_t n);

/* Capability flags (FOIL_MODEL_*), "onnx" / "black-box" / "remote" / ...,
 * and a name for messages (the ONNX path, the URL, the command). */
unsigned foil_model_capabilities(const foil_model *m);
const char *foil_model_kind(const foil_model *m);
const char *foil_model_name(const foil_model *m);

/* Why a model that could have had gradients has none: NULL, or for an ONNX
 * graph whose scores depend on an operator without a gradient (a tree
 * ensemble, an SVM: the ai.onnx.ml operators) a sentence naming that node
 * and its operator. Such a model lacks FOIL_MODEL_GRADIENTS: gradient
 * attacks refuse it, query attacks (square, hsj, ...) run. */
const char *foil_model_why_no_gradients(const foil_model *m);

/* Inputs evaluated and input gradients returned since the model was made
 * (or reset); see "Counting" above. */
int64_t foil_model_queries(const foil_model *m);
int64_t foil_model_gradients(const foil_model *m);
void foil_model_reset_counters(foil_model *m);

/* ---- the ONNX graph model ---- */

/* Load an ONNX classifier: one float32 input, or one int64/int32 input of
 * token ids (a text classifier: fed as float32 whole numbers, queried
 * without input gradients), first output = logits. A
 * scikit-learn / onnxmltools classifier export, whose first output is the
 * int64 label, is scored by its first float output instead (the
 * probabilities; a ZipMap's input). */
foil_status foil_model_load(const char *path, foil_model **out);
/* The same ONNX classifier cut at one layer: a model whose output (its
 * "scores", N x features) is the value named `layer`, or with layer NULL
 * the penultimate features, the input of the linear layer (Gemm, or
 * MatMul with or without an Add of a constant) that makes the logits.
 * With gradients, like the classifier (detectors and poison scans read
 * and differentiate features). FOIL_ERR_ARG names the layer when there is
 * no such value, or asks for one when the last layer is not linear. */
foil_status foil_model_load_features(const char *path, const char *layer, foil_model **out);
/* Write the model (current weights) as ONNX, atomically; FOIL_ERR_CAPABILITY
 * for a model that is not an ONNX graph. */
foil_status foil_model_save(const foil_model *m, const char *path);
/* The model's metadata (ONNX metadata_props: read from its file, written by
 * foil_model_save): set one key, replacing its value (FOIL_ERR_CAPABILITY
 * for a model that is not an ONNX graph), or read one (NULL when absent or
 * not a graph). foil train records there the data manifest and the
 * command a model came from (keys "foil.training_command",
 * "foil.data_manifest_sha256", ...). */
foil_status foil_model_set_metadata(foil_model *m, const char *key, const char *value);
const char *foil_model_metadata(const foil_model *m, const char *key);
/* Frees a wrapper together with the model it wraps. */
void foil_model_free(foil_model *m);

/* ---- any model ---- */

/* Declared input: rank, and shape with -1 for dynamic dimensions
 * (dimension 0 is the batch); rank 0 when the model does not declare it
 * (a remote model that was not told). */
int foil_model_input_rank(const foil_model *m);
const int64_t *foil_model_input_shape(const foil_model *m);
/* Same as foil_model_name (the ONNX path for graph models). */
const char *foil_model_path(const foil_model *m);

/* Largest chunk run at once (default 256): graph models plan memory for it,
 * remote models send requests of at most this many examples. */
void foil_model_set_max_batch(foil_model *m, int64_t max_batch);

/* scores = model(x), N queries. x is (N, ...) float32 matching the declared
 * input shape apart from the batch. scores is allocated (N, classes) by the
 * call when scores->data is NULL, else must already have that shape. The
 * scores are logits unless the capabilities say otherwise. */
foil_status foil_model_predict(foil_model *m, const foil_tensor *x, foil_tensor *logits);

/* The gradient calls below are FOIL_ERR_CAPABILITY on a model without
 * FOIL_MODEL_GRADIENTS, with a message that names the model and says what to
 * run instead. Each counts N queries and N gradients.
 *
 * For every example n: grad[n] = d CE(softmax(model(x)[n]), labels[n]) / d x[n],
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

/* (ONNX text classifiers: token ids embedded by a Gather of a weight
 * table (vocab, dim).) *table: that table; grad (N, L, dim): d fn / d the
 * embedded tokens of x (N, L), which HotFlip reads as the gradient of the
 * one-hot tokens through the table. value and logits as in
 * foil_model_input_grad. FOIL_ERR_UNSUPPORTED naming the input when no
 * such Gather reads it. */
foil_status foil_model_embedding_grad(foil_model *m, const foil_tensor *x, foil_logit_fn fn, void *ctx,
                                      float *value, foil_tensor *logits, foil_tensor *grad, const foil_tensor **table);

/* Whether x (N, ...) float32 can be fed: FOIL_OK with *reshaped = 0 when
 * its examples fit the declared input, 1 when they are fed in the declared
 * per-example shape (same number of values); FOIL_ERR_SHAPE, with a message
 * naming both shapes, when they cannot. */
foil_status foil_model_check_input(const foil_model *m, const foil_tensor *x, int *reshaped);

/* (ONNX graph models only; FOIL_ERR_CAPABILITY for others.)
 * Prepend the input normalization (x - mean) / std to the model's graph, as
 * ONNX Sub and Div nodes with Constant operands broadcast along the channel
 * axis (dimension 1) of the declared input: the model then takes pixels, so
 * attacks, bounds and eps are in pixel space. n_mean and n_std are each 1 or
 * the number of channels; every std must be > 0. A bad argument is
 * FOIL_ERR_ARG naming the counts and the model's input shape, and leaves the
 * model as it was; after any other failure (out of memory) free the model. */
foil_status foil_model_normalize(foil_model *m, int n_mean, const float *mean, int n_std, const float *std);

/* (ONNX graph models only; FOIL_ERR_CAPABILITY for others.)
 * Weight space: the trainable weights (not BatchNorm's running statistics)
 * as one vector of foil_model_param_count floats, tensor after tensor in
 * graph order. For attacks that work on the training gradient (gradient
 * matching, foil/poison.h) and for moving a model along a direction in
 * weight space. params_set changes the model in place (foil_model_save
 * then writes the new weights). */
foil_status foil_model_param_count(const foil_model *m, int64_t *count);
foil_status foil_model_params_get(const foil_model *m, float *theta);
foil_status foil_model_params_set(foil_model *m, const float *theta);
/* grad (param_count floats, OVERWRITTEN) = d sum_n CE(model(x)[n], labels[n])
 * / d theta, the summed cross-entropy's weight gradient, in inference mode
 * (dropout off, BatchNorm on its running statistics). loss, if not NULL,
 * receives the N per-example losses. */
foil_status foil_model_loss_param_grad(foil_model *m, const foil_tensor *x, const int64_t *labels, float *loss,
                                       float *grad);

/* Number of classes (the scores' last dimension); a graph model plans
 * itself for one example to learn it, a remote model may need one query. */
foil_status foil_model_num_classes(foil_model *m, int64_t *classes);

/* The same calls with one seed per example for a randomized model's draws
 * (NULL: the model's own); an attack derives them from (seed, example,
 * query) so that results do not depend on batch size or threads. */
foil_status foil_model_predict_seeded(foil_model *m, const foil_tensor *x, const uint64_t *seeds, foil_tensor *scores);
foil_status foil_model_input_grad_seeded(foil_model *m, const foil_tensor *x, const uint64_t *seeds, foil_logit_fn fn,
                                         void *ctx, float *value, foil_tensor *scores, foil_tensor *grad);

/* ---- wrappers ---- */

/* A model that only answers queries: no gradients, at most `budget` queries
 * in all (0: no limit; past it a query is FOIL_ERR_BUDGET and nothing is
 * evaluated), scores in the given output mode (NULL: logits). Takes
 * ownership of inner, also on failure. */
foil_status foil_model_black_box(foil_model *inner, int64_t budget, const foil_output *output, foil_model **out);

/* A preprocessing defense in front of a model: x -> f(x), same shape
 * (bit-depth reduction, smoothing, JPEG, noise). forward and the backward
 * passes work on n examples of d values each; seeds (one per example, may
 * be NULL) drive a randomized one. backward is f's exact vector-Jacobian
 * product dx = (df/dx)^T dy at x, NULL when f has none (JPEG); a step
 * function's exact derivative is zero almost everywhere, and says so by
 * writing zeros. bpda_backward is the Backward Pass Differentiable
 * Approximation (Athalye, Carlini, Wagner 2018): the vector-Jacobian
 * product of a differentiable g with g(x) ~ f(x); NULL means g = identity,
 * the paper's choice for quantization and denoisers. destroy (may be NULL)
 * frees ctx. */
/* Which of foil's preprocessors this is (foil/defense.h), so that `foil
 * defend` can write it into an ONNX graph; CUSTOM for a program's own. */
typedef enum foil_preprocessor_kind {
    FOIL_PREPROCESSOR_CUSTOM = 0,
    FOIL_PREPROCESSOR_BIT_DEPTH,
    FOIL_PREPROCESSOR_MEDIAN,
    FOIL_PREPROCESSOR_NOISE,
    FOIL_PREPROCESSOR_BLUR,
    FOIL_PREPROCESSOR_JPEG,
    FOIL_PREPROCESSOR_TV,
} foil_preprocessor_kind;

typedef struct foil_preprocessor {
    const char *name;
    void *ctx;
    int randomized;
    foil_status (*forward)(void *ctx, const float *x, float *y, int64_t n, int64_t d, const uint64_t *seeds);
    foil_status (*backward)(void *ctx, const float *x, const float *dy, float *dx, int64_t n, int64_t d,
                            const uint64_t *seeds);
    foil_status (*bpda_backward)(void *ctx, const float *x, const float *dy, float *dx, int64_t n, int64_t d,
                                 const uint64_t *seeds);
    void (*destroy)(void *ctx);
    foil_preprocessor_kind kind;
} foil_preprocessor;

/* How a defended model differentiates through its preprocessors. */
typedef enum foil_gradient_mode {
    FOIL_GRADIENT_EXACT = 0, /* each preprocessor's exact derivative: what an attack unaware of it sees */
    FOIL_GRADIENT_BPDA,      /* each preprocessor's BPDA approximation: the adaptive attack */
} foil_gradient_mode;

/* inner behind preprocessors pre[0..n_pre) (applied in that order) and a
 * postprocessor (output mode; NULL: logits), as ART's estimators own their
 * defences. A query returns output(inner(pre(x))). Gradients (when inner
 * has them) are those of the attack's function of inner's logits, through
 * the preprocessors by `mode`; postprocessors change what a query returns,
 * not the gradient (as in ART). With FOIL_GRADIENT_EXACT and a
 * preprocessor without an exact backward, the defended model has no
 * gradients (white-box attacks are refused; use BPDA). Takes ownership of
 * inner and of the preprocessors (their destroy), also on failure. */
foil_status foil_model_defended(foil_model *inner, const foil_preprocessor *pre, int n_pre, const foil_output *output,
                                foil_gradient_mode mode, foil_model **out);

/* An ensemble of classifiers as one model: its logits are the mean of the
 * members' logits; its gradients those of the attack's function at that
 * mean (each member back-propagates it, divided by n), so attacks, defenses
 * and training of the members see the ensemble as one white box. The
 * members must give logits (not probabilities or labels) of the same
 * classes; the ensemble has gradients when all of them do. Takes ownership
 * of the members, also on failure. */
#define FOIL_ENSEMBLE_MAX 16
foil_status foil_model_ensemble(foil_model *const *members, int n, foil_model **out);

/* Expectation over Transformation (Athalye et al. 2018): inner (a
 * randomized model) seen through the mean of `draws` independent draws: a
 * query returns the mean of the draws' probabilities (so the result has
 * FOIL_MODEL_PROBABILITIES), a gradient is the mean of the draws'
 * gradients. Draw j of an example uses a seed mixed from the caller's seed
 * for that example and j (or, without caller's seeds, from `seed` and the
 * examples queried before), so results depend on neither batch size nor
 * threads. Each input costs the wrapper one query and inner `draws`.
 * Takes ownership of inner, also on failure. */
foil_status foil_model_eot(foil_model *inner, int draws, uint64_t seed, foil_model **out);

/* ---- implementing a model ---- */

/* The operations of a model. `state` is what foil_model_create was given.
 * predict and input_grad receive x already checked (float32, N >= 1) and
 * in the shape the declared input takes (foil_model_check_input: the
 * caller's examples, viewed in the declared per-example shape when that
 * is what fits); they allocate scores (N, classes) when scores->data is
 * NULL, else check its shape (foil_model_ensure_output does both); grad
 * comes already shaped like x. seeds, when not NULL, hold one seed per
 * example for a randomized model's draws (deterministic models ignore
 * them). input_grad is NULL for a model without gradients; fn, ctx, value,
 * scores and grad mean what they mean for foil_model_input_grad. fit is
 * foil_train's implementation (foil/train.h), NULL for a model foil cannot
 * train (a wrapper: train the model it wraps; a remote model). */
struct foil_dataset;
struct foil_train_options;
struct foil_train_report;
typedef struct foil_model_ops {
    const char *kind;
    foil_status (*predict)(void *state, const foil_tensor *x, const uint64_t *seeds, foil_tensor *scores);
    foil_status (*input_grad)(void *state, const foil_tensor *x, const uint64_t *seeds, foil_logit_fn fn, void *ctx,
                              float *value, foil_tensor *scores, foil_tensor *grad);
    foil_status (*num_classes)(void *state, int64_t *classes);
    void (*set_max_batch)(void *state, int64_t max_batch); /* NULL: ignored */
    void (*destroy)(void *state);
    foil_status (*fit)(void *state, const struct foil_dataset *train, const struct foil_dataset *val,
                       const struct foil_train_options *o, struct foil_train_report *report);
} foil_model_ops;

typedef struct foil_model_desc {
    const char *name;              /* for messages: a path, a URL, a command */
    unsigned capabilities;         /* FOIL_MODEL_*; GRADIENTS needs ops->input_grad */
    int input_rank;                /* 0: not declared */
    const int64_t *input_shape;    /* input_rank entries, -1 = dynamic */
} foil_model_desc;

/* A model over ops and state. Takes ownership of state (ops->destroy frees
 * it), also on failure. */
foil_status foil_model_create(const foil_model_ops *ops, void *state, const foil_model_desc *desc,
                              foil_model **out);
void *foil_model_state(const foil_model *m);
/* For an operation: scores (ndim, shape) allocated when t->data is NULL,
 * else FOIL_ERR_ARG naming `who` unless it already has that shape. */
foil_status foil_model_ensure_output(const char *who, foil_tensor *t, int ndim, const int64_t *shape,
                                     const char *what);

#ifdef __cplusplus
}
#endif
#endif
