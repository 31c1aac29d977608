/*
 * nn/ml/ml.h - the ai.onnx.ml operators (scikit-learn, XGBoost, LightGBM
 * exports) and the default-domain operators those exports use that the
 * kernel sets lack (internal to libfoil; design: DESIGN.md section 2, "The
 * engine").
 *
 * These operators are not kernels: they run on float32 tabular rows
 * (N, F), once per query, and have no gradient. They live in one table of
 * their own, compiled once (not per kernel set): the graph asks
 * foilOpFindDomain for a node's operator, which looks ai.onnx.ml nodes up
 * here and default-domain nodes in the kernel set first, then here.
 *
 * Semantics follow the ONNX-ML operator specification; where it is silent
 * (two classes with one score column, base_values of odd length) they
 * follow onnxruntime's CPU kernels, the reference every exporter is tested
 * against. Differences, on purpose:
 *   - PROBIT is the exact inverse of the normal CDF (onnxruntime uses a
 *     closed-form approximation of erfinv, good to about 1e-3);
 *   - string class labels are accepted and mapped to their indices: the
 *     label output is then the index of the class (int64), as foil has
 *     no string tensors;
 *   - ZipMap (a sequence of maps, not a tensor) passes its input tensor of
 *     probabilities through.
 */
#ifndef FOIL_NN_ML_H
#define FOIL_NN_ML_H

#include "nn/graph.h"
#include "nn/op.h"

#define FOIL_ML_DOMAIN "ai.onnx.ml"

/* The operator for (domain, op_type): ai.onnx.ml in this file's table;
 * the default domain (""/"ai.onnx") in the kernel set. NULL when unsupported (foilOpListDomain says what is). */
const FoilOp *foilOpFindDomain(const char *domain, const char *type);
/* Comma-separated supported op types of a domain, for messages. */
const char *foilOpListDomain(const char *domain);

/* The first node (index) through which graph output `out` depends on graph
 * input 0 and that has no gradient (an op of this table without backward:
 * a tree ensemble, an SVM, a label), or -1 when every path is
 * differentiable as far as this table knows (the kernel sets' ops keep
 * their own rules: Round's gradient is zero, not absent). */
int foilMlGradientBlocker(const FoilGraph *g, int out);

/* Post-transforms of the ONNX-ML classifiers and regressors. */
typedef enum FoilMlPost {
    FOIL_ML_POST_NONE = 0,
    FOIL_ML_POST_SOFTMAX,
    FOIL_ML_POST_LOGISTIC,
    FOIL_ML_POST_SOFTMAX_ZERO,
    FOIL_ML_POST_PROBIT
} FoilMlPost;

/* Parse node's post_transform (default NONE); an error naming the node and
 * the five accepted values otherwise. */
foil_status foilMlParsePost(const FoilNode *n, FoilMlPost *out);
double foilMlLogistic(double v);
double foilMlProbit(double p);
/* Apply post to s[0..k) in place (k >= 2: each element, or the row's
 * softmax), as onnxruntime's write_scores does for two or more scores. */
void foilMlPostRow(FoilMlPost post, double *s, int64_t k);

/* A FLOATS attribute, or its *_as_tensor twin (float or double tensor), as
 * doubles: *vals malloc'd (NULL and *n = 0 when absent). Errors name the
 * node and the attribute. */
foil_status foilMlFloats(const FoilNode *n, const char *name, double **vals, int64_t *count);
/* An INTS attribute: count (0 when absent) and values; an attribute of
 * another type is an error. */
foil_status foilMlInts(const FoilNode *n, const char *name, const int64_t **vals, int64_t *count);
/* The class labels of a classifier: classlabels_int64s / classlabels_ints,
 * or classlabels_strings (mapped to their indices 0..k-1). */
foil_status foilMlClassLabels(const FoilNode *n, const char *ints_name, int64_t **labels, int64_t *count);

/* calloc'd op state of `size` bytes, set as n->state (NULL: out of memory). */
void *foilMlNewState(FoilNode *n, size_t size);

/* Shared checks for infer: input 0 float32 of rank 1 or 2 ((F) = one row);
 * rows and features out. */
foil_status foilMlRowsIn(FoilOpCtx *c, int64_t *rows, int64_t *features);
foil_status foilMlSetOut(FoilOpCtx *c, int k, foil_dtype dt, int ndim, const int64_t *shape);

extern const FoilOp foilMlTreeEnsembleClassifier, foilMlTreeEnsembleRegressor, foilMlSVMClassifier;

#endif
