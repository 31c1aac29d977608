/*
 * nn/op.h - the interface every operator implements (internal to libfoil).
 *
 * An op is a table of functions: init (parse attributes once, at load),
 * infer (output dtypes and shapes, workspace size; once per plan), forward and
 * backward (every batch; never allocate). Ops see tensors only through a
 * FoilOpCtx that the planner prepares once per batch size, so the hot loop
 * does no bookkeeping.
 *
 * Gradient conventions (as in llm.c):
 *   - backward ACCUMULATES into d_in[i] (+=); the graph zeroes grads first,
 *     so a value consumed by several nodes gets the sum of their gradients.
 *   - except where the op lists input i in writes_grads and the graph sets
 *     bit i of ctx->d_in_fresh: then this node is the first to touch that
 *     gradient, its buffer holds garbage, and backward must WRITE every
 *     element (=). That saves the graph a pass zeroing activation-sized
 *     buffers and the op a read of them (about 6% of a training step).
 *   - d_in[i] is NULL when input i needs no gradient (not differentiable, or
 *     the caller asked for input gradients only / weight gradients only):
 *     skip that work entirely.
 *   - d_out[i] is NULL when no gradient flows back through output i.
 *   - forward may save what backward needs in ctx->work (argmax indices,
 *     batch statistics, dropout masks); the workspace lives as long as the plan.
 */
#ifndef FOIL_NN_OP_H
#define FOIL_NN_OP_H

#include <stdint.h>

#include "foil/status.h"
#include "foil/tensor.h"

/* Attribute types: ONNX AttributeProto.AttributeType values. */
typedef enum FoilAttrType {
    FOIL_ATTR_FLOAT = 1,
    FOIL_ATTR_INT = 2,
    FOIL_ATTR_STRING = 3,
    FOIL_ATTR_TENSOR = 4,
    FOIL_ATTR_FLOATS = 6,
    FOIL_ATTR_INTS = 7,
    FOIL_ATTR_STRINGS = 8
} FoilAttrType;

typedef struct FoilAttr {
    char *name;
    FoilAttrType type;
    int64_t i;
    float f;
    char *s;            /* STRING (NUL-terminated) */
    int64_t *ints;      /* INTS */
    float *floats;      /* FLOATS */
    char **strings;     /* STRINGS */
    int n;              /* element count of INTS / FLOATS / STRINGS */
    foil_tensor *t;     /* TENSOR (owned) */
} FoilAttr;

struct FoilNode;

typedef struct FoilOpCtx {
    struct FoilNode *node;
    void *state;                 /* node->state, or this plan's own copy of it (see plan_state_bytes) */
    const char *model;           /* model file name, for messages */
    int n_in, n_out;
    foil_tensor **in;            /* n_in; NULL where an optional input is absent */
    foil_tensor **out;           /* n_out; NULL where an optional output is absent */
    foil_tensor **d_in;          /* backward only: see conventions above */
    foil_tensor **d_out;         /* backward only */
    unsigned char *known;        /* infer: known[i] != 0 when in[i]->data holds its value */
    void *work;                  /* workspace of work_bytes bytes, 64-byte aligned, zeroed once */
    size_t work_bytes;           /* infer sets it (0 = none) */
    int training;                /* forward: training-mode behaviour wanted */
    uint64_t seed;               /* forward: RNG key for this node and step (Dropout) */
    uint32_t d_in_fresh;         /* backward: bit i set: write d_in[i], don't accumulate (see above) */
    int relu_out;                /* forward: write max(0, y) (the planner fused the Relu after this node) */
    int relu_in;                 /* backward: in[0] is a fused Relu's output read only here: mask d_in[0]
                                  * by in[0] > 0 (that Relu's backward, done here; see masks_relu_in) */
    int pool_in;                 /* pooling op: the planner offers (set before infer; infer clears it
                                  * when it cannot) to let in[0]'s producer run this forward, sample by
                                  * sample; still set after infer: forward is the producer's (fuses_pool),
                                  * and so is backward whenever d_in[0] is fresh */
    struct FoilOpCtx *pool_out;  /* forward: that pooling node's context (NULL: none): pool each sample's
                                  * output as soon as it is written, see FoilOp.pool_sample */
} FoilOpCtx;

typedef struct FoilOp {
    const char *type;            /* ONNX op_type, default domain */
    uint32_t grad_inputs;        /* bit i set: input i is differentiable */
    /* Parse and validate attributes (node->attrs) into node->state. Runs once at
     * load. NULL when the op has no attributes. */
    foil_status (*init)(struct FoilNode *node);
    /* Check input dtypes/shapes; set each present out[i]'s dtype and shape with
     * foil_tensor_set_shape(); set work_bytes. Inputs whose known[i] is set have
     * data (shape tensors, constants); others have shapes only. Never allocates
     * out[i]->data: the planner does. */
    foil_status (*infer)(FoilOpCtx *c);
    /* Compute outputs from inputs. May fail only on data-dependent problems
     * (an index out of range). */
    foil_status (*forward)(FoilOpCtx *c);
    /* Accumulate input gradients from output gradients. NULL: the op is not
     * differentiable (Shape, Constant, integer ops). */
    void (*backward)(FoilOpCtx *c);
    /* Free node->state. NULL: free(node->state) is enough (or nothing). */
    void (*destroy)(struct FoilNode *node);
    /* Bit i set: backward honours d_in_fresh bit i (writes every element of
     * d_in[i] on every path). Unset: the graph zeroes d_in[i] first. */
    uint32_t writes_grads;
    /* Forward honours ctx->relu_out on its one output, and backward never
     * reads that output: the planner may then fuse a following Relu into
     * this node (see graph.c, absorb_relu). */
    int fuses_relu;
    /* Backward honours ctx->relu_in, writing the gradient of in[0] only
     * where in[0] > 0: the planner may then leave a fused Relu's backward to
     * this node (graph.c, absorb_relu_backward). */
    int masks_relu_in;
    /* Forward honours ctx->pool_out: for each sample n, the output goes to
     * pool_buffer(pool, thread) (batches of a sample per thread) or to its
     * own output, and pool_sample(pool, n, that) runs at once, while the
     * sample is in cache; the output tensor itself is then not written, and
     * backward never reads it (see graph.c, pool_producer). Backward takes
     * each sample's output gradient from pool_sample_backward likewise. */
    int fuses_pool;
    /* A pooling op that can be fused so (honours ctx->pool_in): this plan's
     * buffer for one sample's input, per thread; and the forward of sample
     * n from x_n, that sample's input (wherever it lies). */
    float *(*pool_buffer)(const FoilOpCtx *c, int thread);
    void (*pool_sample)(const FoilOpCtx *c, int64_t n, const float *x_n);
    /* ... and backward: when the graph hands this pool a fresh d_in[0], it
     * leaves the backward to the producer (fuses_pool), whose backward then
     * has this write the gradient of sample n's input, whole, into dx_n (a
     * pool_buffer, or that sample's part of d_in[0]) just before using it. */
    void (*pool_sample_backward)(const FoilOpCtx *c, int64_t n, float *dx_n);
    /* > 0 (sizeof the op's state) when infer resolves per-plan decisions in
     * the state (window geometry, kernel paths, thread counts): each plan
     * then gets its own copy of node->state as ctx->state, made before
     * infer, so two plans of one graph (foilGraphSwapPlan) never share
     * them. The state must hold no pointers it owns. 0: ctx->state is
     * node->state itself. */
    size_t plan_state_bytes;
    /* DP-SGD's per-example gradient norms (graph.h, foilGraphExampleNorms):
     * this node's backward for the inputs whose d_in is set, and for each
     * input i in `weights` (trainable weights; d_in[i] is NULL) instead of
     * d in[i]: add to sq[n], for each example n, the squared L2 norm of
     * example n's own share of d in[i]. Example n is index n along axis 0
     * of the output and of the input that carries the examples; the
     * weights are shared by all of them. scratch[i] (i in weights) is a
     * buffer of in[i]'s size to use freely. sq NULL: only check that this
     * node allows it (FOIL_ERR_UNSUPPORTED by foilNodeError, saying why),
     * touching nothing. NULL: the op has no per-example rule (BatchNorm-
     * alization mixes a batch's examples). */
    foil_status (*example_norms)(FoilOpCtx *c, uint32_t weights, int64_t examples, float *sq, float *const *scratch);
    /* Bit i set: input i's value (not only its shape) decides the output
     * shapes, even when it is float (Resize's scales, Range's bounds). A
     * graph input read there is bound at plan time, as integer graph inputs
     * always are (graph.c, bind_input), so infer sees it as known; it is not
     * read again at forward. */
    uint32_t value_inputs;
} FoilOp;

typedef struct FoilNode {
    char *name;
    char *op_type;
    char *domain;
    const FoilOp *op;
    int opset;                   /* opset version of the node's domain in the model */
    int n_in, n_out;
    int *in, *out;               /* value indices; -1 for an omitted optional one */
    FoilAttr *attrs;
    int n_attrs;
    void *state;                 /* op-private, set by init */
    FoilOpCtx ctx;             /* prepared by the planner */
    int folded;                  /* evaluated once at plan time (constant inputs) */
    int absorbed;                /* a Relu fused into its producer: forward skips it */
    int masked_by_reader;        /* ... and its reader applies its mask: backward skips it too */
} FoilNode;

/* Whether backward must write d_in[i] rather than accumulate into it. */
static inline int foilGradFresh(const FoilOpCtx *c, int i) { return (int)((c->d_in_fresh >> i) & 1u); }
/* For a path that can only accumulate: zero d_in[i] first when it is fresh. */
void foilGradClearFresh(FoilOpCtx *c, int i);

/* y = max(y, 0) as Relu computes it (NaN -> 0), for ops honouring relu_out
 * on data they just wrote (still in cache). */
static inline void foilReluInplace(float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
}

/* Lookup by ONNX op_type (default domain ""/"ai.onnx") in the kernel set in
 * use (foil/cpu.h, nn/kernel_sets.c); NULL when unsupported, or when no set
 * can run (foil_cpu_kernels() is then NULL and foil_last_error() says why). */
const FoilOp *foilOpFind(const char *type);
/* Comma-separated list of supported op types, for messages and --help. */
const char *foilOpList(void);

/* Attribute accessors. Defaults are returned when the attribute is absent.
 * foilAttrInts returns the count (-1 when absent) and points *vals at them. */
const FoilAttr *foilAttrGet(const struct FoilNode *n, const char *name);
int64_t foilAttrInt(const struct FoilNode *n, const char *name, int64_t def);
float foilAttrFloat(const struct FoilNode *n, const char *name, float def);
const char *foilAttrString(const struct FoilNode *n, const char *name, const char *def);
int foilAttrInts(const struct FoilNode *n, const char *name, const int64_t **vals);
const foil_tensor *foilAttrTensor(const struct FoilNode *n, const char *name);

/* Set an error message prefixed with "MODEL: node 'NAME' (OPTYPE): ". */
foil_status foilNodeError(const FoilOpCtx *c, foil_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, for init (no ctx yet): prefix "node 'NAME' (OPTYPE): "; the loader adds the file. */
foil_status foilNodeInitError(const struct FoilNode *n, foil_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Normalize a possibly negative axis against rank; -1 when out of range. */
int foilNormAxis(int64_t axis, int rank);

#endif
