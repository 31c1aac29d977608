/*
 * nn/graph.h - a static computation graph with reverse-mode autodiff.
 *
 * A graph is a list of values (tensors with names) and a list of nodes in
 * topological order, as ONNX stores them. Using one takes three steps:
 *
 *   plan      once per set of input shapes: infer every shape, allocate every
 *             activation, gradient and workspace buffer, evaluate nodes
 *             whose inputs are all known (shape arithmetic, constants), and
 *             fuse each Relu it can into the Conv/Gemm/BatchNorm before it;
 *   forward   every batch: run the remaining nodes in order;
 *   backward  every batch: run them in reverse, accumulating gradients, for
 *             the inputs, the parameters, or both, as asked.
 *
 * forward and backward never allocate, so an attack's inner loop costs only
 * arithmetic.
 */
#ifndef FOIL_NN_GRAPH_H
#define FOIL_NN_GRAPH_H

#include <stdint.h>

#include "foil/tensor.h"
#include "nn/op.h"

typedef enum FoilValueKind {
    FOIL_VALUE_ACTIVATION = 0, /* produced by a node */
    FOIL_VALUE_INPUT,          /* fed by the caller */
    FOIL_VALUE_PARAM,          /* float initializer: a weight (may be trained) */
    FOIL_VALUE_CONST           /* non-float initializer: shapes, indices */
} FoilValueKind;

typedef struct FoilValue {
    char *name;
    FoilValueKind kind;
    foil_tensor t;             /* PARAM/CONST: owned data; others: planned buffer */
    foil_tensor grad;          /* planned for float values that may need one */
    int producer;              /* node index, or -1 */
    int known;                 /* data known at plan time */
    int needs_grad;            /* for the current backward mode */
    int trainable;             /* PARAM that some node differentiates (not BN running stats) */
    /* Declared type, from the model's graph inputs, outputs and value_info. */
    int has_decl;
    foil_dtype decl_dtype;
    int decl_ndim;
    int64_t decl_shape[FOIL_MAX_DIMS]; /* -1: symbolic (dim_param) or unknown */
    char *decl_dim_param[FOIL_MAX_DIMS];
} FoilValue;

enum { FOIL_GRAD_INPUTS = 1, FOIL_GRAD_PARAMS = 2 };

/* A buffer a plan allocated (an activation, a gradient, a workspace), and
 * its capacity in bytes. */
typedef struct FoilPlanBuf {
    void *p;
    size_t cap;
} FoilPlanBuf;

typedef struct FoilGraph {
    char *path;                /* for messages */
    FoilValue *values;
    int n_values, cap_values;
    FoilNode *nodes;
    int n_nodes, cap_nodes;
    int *inputs;               /* graph inputs fed by the caller */
    int n_inputs;
    int *outputs;
    int n_outputs;
    int opset;                 /* default-domain opset */
    int64_t ir_version;
    char *name;
    /* ONNX metadata_props, kept from the file and written back (provenance:
     * the data manifest and the command a model was trained by). */
    char **meta_keys, **meta_values;
    int n_meta;
    /* Plan: 1 = dimension 0 of declared shapes (inputs, outputs, value_info)
     * is not checked, so a graph declared for batch 1 can be planned for a
     * larger batch; the caller (model.c) then checks the outputs itself. */
    int relax_batch;
    /* 1 + the index of a value whose gradient a FOIL_GRAD_INPUTS backward
     * also computes, as if it were an input (0: none): the embedded tokens
     * of a text model, whose integer ids have no gradient (HotFlip).
     * Change it with foilGraphSetGradLeaf. */
    int grad_leaf;
    /* Plan state. */
    int planned;
    int grad_mode;             /* mode needs_grad was computed for (-1: none) */
    int64_t plans_made;        /* successful foilGraphPlan calls: tests check that switching modes does not re-plan */
    int64_t plan_bytes;        /* bytes the plan being made has allocated so far (foilGraphPlanLimit) */
    FoilPlanBuf *bufs;         /* every buffer the current plan allocated: re-planning reuses them (foilGraphPlan) */
    int n_bufs, cap_bufs;
    FoilPlanBuf *pool;         /* while a plan is made: the previous plan's buffers, free to reuse */
    int n_pool;
} FoilGraph;

/* A plan kept outside its graph (see foilGraphSwapPlan): the planned
 * buffers and node contexts, nothing the model owns (weights, constants). */
typedef struct FoilPlanSlot {
    struct FoilSavedValue *values; /* n_values entries; NULL: the slot is empty */
    struct FoilSavedNode *nodes;   /* n_nodes entries */
    int planned, grad_mode;
    FoilPlanBuf *bufs;             /* that plan's buffers (FoilGraph.bufs) */
    int n_bufs, cap_bufs;
} FoilPlanSlot;

FoilGraph *foilGraphNew(const char *path);
void foilGraphFree(FoilGraph *g);
/* The graph's metadata (ONNX metadata_props): set one key (replacing its
 * value), or read one (NULL when absent). */
foil_status foilGraphSetMeta(FoilGraph *g, const char *key, const char *value);
const char *foilGraphMeta(const FoilGraph *g, const char *key);

/* Build-up (used by the ONNX importer and by code that builds models). */
int foilGraphFindValue(const FoilGraph *g, const char *name);
/* Index of the value with this name, created as an activation if new; -1 on OOM. */
int foilGraphValue(FoilGraph *g, const char *name);
/* Append a node (takes ownership of name/op_type strings passed as copies). */
FoilNode *foilGraphAddNode(FoilGraph *g, const char *name, const char *op_type,
                               int n_in, const int *in, int n_out, const int *out);

/* Make value vi (-1: none) a leaf of FOIL_GRAD_INPUTS backward passes, its
 * gradient then in g->values[vi].grad (see grad_leaf). */
void foilGraphSetGradLeaf(FoilGraph *g, int vi);

/* Check the graph (topological order, single producers, ops found) and call
 * each op's init. */
foil_status foilGraphFinalize(FoilGraph *g);

/* Plan for the given input tensors (one per g->inputs, in order): their
 * shapes, and for non-float inputs their values (treated as known; forward
 * refuses other values). An input declared int64 or int32 may instead be
 * given as float32 whole numbers (token ids: foil's model interface hands
 * every input over as float32): it is then data, converted and checked at
 * every forward, and has no gradient.
 * Re-planning takes each buffer from the previous plan's where one holds
 * it (at most twice its size; zeroed, as new ones are) and allocates the
 * others with 1/8 to spare, so a batch size that varies (DP-SGD's Poisson
 * batches) re-plans without touching new memory; the previous plan's
 * unused buffers are freed at the end (until then a plan for a larger
 * batch holds both plans' memory). */
foil_status foilGraphPlan(FoilGraph *g, const foil_tensor *const *inputs);

/* Copy inputs in (shapes must match the plan) and run the graph. Random
 * ops (Dropout in training) draw from streams keyed by (seed, node): pass a
 * different seed for every step. */
foil_status foilGraphForward(FoilGraph *g, const foil_tensor *const *inputs, int training, uint64_t seed);

/* Seed the output gradients (NULL entries: zero) and run backward. `want` is
 * a mask of FOIL_GRAD_INPUTS and FOIL_GRAD_PARAMS. Gradients are left in
 * values[i].grad. */
foil_status foilGraphBackward(FoilGraph *g, const foil_tensor *const *d_outputs, int want);

/* DP-SGD's first pass (Abadi et al. 2016; model/dp_sgd.h): the backward of
 * foilGraphBackward(g, d_outputs, FOIL_GRAD_PARAMS), where row n of the
 * logits' gradient is that of example n's own loss, except that the
 * trainable weights' gradients are not summed over the batch: sq[n] (n <
 * examples, the plan's batch) becomes the squared L2 norm of example n's
 * gradient over all trainable weights together. Each node that reads a
 * weight takes its examples' shares from what its backward has at hand
 * (op.h, example_norms): Gemm ||dy_n||^2 ||x_n||^2 (Goodfellow 2015),
 * Conv the norm of each sample's weight gradient made on its im2col
 * matrix, so the pass costs about one backward. The weights' gradient
 * buffers serve as scratch: their contents are undefined afterwards. Run
 * after a forward pass. FOIL_ERR_UNSUPPORTED, before any work, names the
 * first node that cannot take part: a weight read by an op with no
 * per-example rule (BatchNormalization mixes a batch's examples), a weight
 * read twice, a layout whose first axis is not the examples. Only the
 * graph's structure is checked: ops without weights must not mix examples
 * either (a Reshape of the batch axis), which no check here can see. */
foil_status foilGraphExampleNorms(FoilGraph *g, const foil_tensor *const *d_outputs, int64_t examples, float *sq);

/* That check alone, on the current plan (for `examples` rows). */
foil_status foilGraphCheckExampleNorms(FoilGraph *g, int64_t examples);

/* Plans fuse a Relu into the node before it where they can (see graph.c,
 * absorb_relu); 1 by default. Tests set 0 to compare against the unfused
 * graph. Read at plan time. A fused Relu's input value then holds the
 * Relu's output: code that wants an intermediate value must make it a graph
 * output (a reader), which keeps it unfused. */
extern int foilGraphFuseRelu;

/* The most bytes one plan may allocate (activations, gradients,
 * workspaces); 0, the default, stands for the machine's physical memory. A
 * model whose shapes ask for more (a Conv padded by 2^31, or a batch too
 * large for the machine) gets a clear error at planning time instead of an
 * allocation the system kills foil for later. Read at plan time; the fuzz
 * targets lower it. */
extern int64_t foilGraphPlanLimit;

/* Release planned buffers (activations, gradients, workspaces). */
void foilGraphUnplan(FoilGraph *g);

/* Exchange g's plan with the one in slot (an empty slot {0} stands for no
 * plan). A model that alternates between two uses of one graph (attack
 * steps at inference and training steps with weight gradients, as
 * adversarial training does) keeps one plan per use this way instead of
 * re-planning at every switch; a swap moves pointers, O(values + nodes).
 * Fails only when the slot's first allocation does; g is then unchanged. */
foil_status foilGraphSwapPlan(FoilGraph *g, FoilPlanSlot *slot);

/* Release the plan held in slot (g is the graph it was made for). */
void foilGraphFreePlanSlot(FoilGraph *g, FoilPlanSlot *slot);

static inline foil_tensor *foilGraphOutput(FoilGraph *g, int i) { return &g->values[g->outputs[i]].t; }
static inline foil_tensor *foilGraphInputGrad(FoilGraph *g, int i) { return &g->values[g->inputs[i]].grad; }

#endif
