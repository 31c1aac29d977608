/*
 * nn/builder.h - build a FoilGraph in code, as the ONNX importer would have
 * built it from a file (internal to libfoil).
 *
 * The graph comes out exactly like an imported one: declared inputs with a
 * symbolic batch dimension, float initializers as PARAM values, int64 ones as
 * CONST values, nodes with ONNX attributes, declared outputs; finalized, so
 * it plans, runs, and exports with foilOnnxSave as a valid ONNX model.
 *
 *   FoilBuilder b;
 *   foilBuilderBegin(&b, "my-net", 13);
 *   int x = foilBuilderInput(&b, "input", FOIL_F32, 2, (int64_t[]){-1, 30}, dyn_n);
 *   int w = foilBuilderParam(&b, "fc.weight", 2, (int64_t[]){10, 30}, NULL);
 *   int bias = foilBuilderParam(&b, "fc.bias", 1, (int64_t[]){10}, NULL);
 *   int y = foilBuilderOp(&b, "Gemm", "fc", FOIL_B_IN(x, w, bias),
 *                           FOIL_B_ATTRS(FOIL_BATTR_INT("transB", 1)));
 *   foilBuilderOutput(&b, y, FOIL_F32, 2, (int64_t[]){-1, 10}, dyn_n);
 *   FoilGraph *g;
 *   foil_status st = foilBuilderFinish(&b, &g);
 *
 * Errors are sticky, as in a stream: the first failure is recorded in b->st
 * (its message in foil_last_error()), every later call does nothing and
 * returns -1, and foilBuilderFinish returns the status. So model-definition
 * code can be written straight through and checked once at the end.
 */
#ifndef FOIL_NN_BUILDER_H
#define FOIL_NN_BUILDER_H

#include <stdint.h>

#include "nn/graph.h"

/* One attribute to attach to a node. Strings and arrays are copied. */
typedef struct FoilBattr {
    const char *name;
    FoilAttrType type;   /* FOIL_ATTR_INT, _FLOAT, _STRING, _INTS or _TENSOR */
    int64_t i;
    float f;
    const char *s;
    const int64_t *ints;
    int n;                 /* number of ints */
    const foil_tensor *t;  /* FOIL_ATTR_TENSOR (copied) */
} FoilBattr;

#define FOIL_BATTR_INT(nm, v) ((FoilBattr){.name = (nm), .type = FOIL_ATTR_INT, .i = (v)})
#define FOIL_BATTR_FLOAT(nm, v) ((FoilBattr){.name = (nm), .type = FOIL_ATTR_FLOAT, .f = (v)})
#define FOIL_BATTR_STRING(nm, v) ((FoilBattr){.name = (nm), .type = FOIL_ATTR_STRING, .s = (v)})
/* FOIL_BATTR_INTS("pads", 1, 1, 1, 1) */
#define FOIL_BATTR_INTS(nm, ...)                                                                  \
    ((FoilBattr){.name = (nm), .type = FOIL_ATTR_INTS, .ints = (const int64_t[]){__VA_ARGS__}, \
                  .n = (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t))})
/* From an array of n values. */
#define FOIL_BATTR_INTS_N(nm, count, arr) \
    ((FoilBattr){.name = (nm), .type = FOIL_ATTR_INTS, .ints = (arr), .n = (count)})

/* Argument pairs (count, array) for the node functions:
 *   foilBuilderOp(&b, "Add", "add1", FOIL_B_IN(a, c), FOIL_B_NO_ATTRS) */
#define FOIL_B_IN(...) (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int)), (const int[]){__VA_ARGS__}
#define FOIL_B_ATTRS(...) \
    (int)(sizeof((const FoilBattr[]){__VA_ARGS__}) / sizeof(FoilBattr)), (const FoilBattr[]){__VA_ARGS__}
#define FOIL_B_NO_ATTRS 0, NULL

typedef struct FoilBuilder {
    FoilGraph *g;
    foil_status st;        /* first error (FOIL_OK while all is well) */
    int cap_inputs, cap_outputs;
} FoilBuilder;

/* Start a graph named `name` (also used as the "file" in error messages) of
 * default-domain opset `opset`. */
foil_status foilBuilderBegin(FoilBuilder *b, const char *name, int opset);

/* Record an error raised by the caller (message already set with foil_error)
 * unless an earlier one is recorded; returns b->st. */
foil_status foilBuilderFail(FoilBuilder *b, foil_status st);

/* A graph input. shape[d] < 0 marks a dynamic dimension, named by
 * dim_params[d] (dim_params may be NULL, or hold NULL for fixed dims; a
 * dynamic dimension without a name is written as "N"). Returns the value
 * index, -1 on error. */
int foilBuilderInput(FoilBuilder *b, const char *name, foil_dtype dt, int ndim, const int64_t *shape,
                       const char *const *dim_params);

/* A float32 initializer (a PARAM value: a weight, or a constant operand).
 * data: numel values to copy, or NULL for zeros. */
int foilBuilderParam(FoilBuilder *b, const char *name, int ndim, const int64_t *shape, const float *data);

/* An int64 initializer (a CONST value: shapes, axes, indices). */
int foilBuilderConstI64(FoilBuilder *b, const char *name, int ndim, const int64_t *shape, const int64_t *data);

/* A node with n_out outputs named out_names[] (new values; their indices go
 * to out[] when out is not NULL). Returns the first output's index, -1 on
 * error. */
int foilBuilderNode(FoilBuilder *b, const char *op_type, const char *name, int n_in, const int *in, int n_out,
                      const char *const *out_names, int *out, int n_attrs, const FoilBattr *attrs);

/* The common case: one output, named like the node. */
int foilBuilderOp(FoilBuilder *b, const char *op_type, const char *name, int n_in, const int *in, int n_attrs,
                    const FoilBattr *attrs);

/* Mark a value as a graph output, with a declared type (ndim < 0: no shape
 * declared; shape and dim_params as for inputs). */
/* A float32 Constant node (its value copied): data that is part of the
 * model but no weight, such as input normalization statistics. Constants
 * are folded at plan time and are never trained, here or after export. */
int foilBuilderConstant(FoilBuilder *b, const char *name, int ndim, const int64_t *shape, const float *data);

foil_status foilBuilderOutput(FoilBuilder *b, int value, foil_dtype dt, int ndim, const int64_t *shape,
                                const char *const *dim_params);

/* Finalize (foilGraphFinalize: structure checks, each op's init) and hand
 * the graph over. On any error, recorded earlier or raised now, the graph is
 * freed, *out is NULL and the status is returned. The builder is spent either
 * way. */
foil_status foilBuilderFinish(FoilBuilder *b, FoilGraph **out);

/* Give up: free the graph under construction. */
void foilBuilderAbort(FoilBuilder *b);

/* Putting nodes in front of a finished graph's input (foil_model_normalize,
 * `foil defend`): foilGraphSplitInput makes a new graph input that takes
 * over the old one's name and declaration, the old one becoming the
 * activation NAME+suffix (returns the new input's index, -1 out of
 * memory); add nodes from the new input to the old one (they are appended
 * at the end); then foilGraphMoveToFront(g, first) moves the nodes
 * [first, n_nodes) to the front, records producers anew and gives the moved
 * nodes their ops. The graph must be unplanned. */
int foilGraphSplitInput(FoilGraph *g, const char *suffix);
foil_status foilGraphMoveToFront(FoilGraph *g, int first);

#endif
