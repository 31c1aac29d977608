/*
 * nn/ops/op_checks.h - the checks ops share at init and infer: input and
 * output counts, attribute types, output shapes, and inputs whose values
 * are known at plan time (c->known[i]: constants, initializers, values the
 * planner folded) for the ops whose output shapes they decide. Defined in
 * shape.c; private to src/nn/ops (each kernel set has its copy, renamed by
 * kset_names.h).
 */
#ifndef FOIL_NN_OPS_OP_CHECKS_H
#define FOIL_NN_OPS_OP_CHECKS_H

#include "nn/op.h"

/* min_in..max_in inputs, the first min_in present, output 0 present, and
 * input 0 of an element type foil has. */
foil_status foilOpCheckArity(FoilOpCtx *c, int min_in, int max_in);

/* Attribute name, when present, has the given type (at init). */
foil_status foilOpCheckAttr(const FoilNode *n, const char *name, FoilAttrType type);

/* Output k gets dtype dt and the shape; an error naming the node when the
 * rank is beyond FOIL_MAX_DIMS or the size overflows. */
foil_status foilOpSetOutput(FoilOpCtx *c, int k, foil_dtype dt, int ndim, const int64_t *shape);

/* Input i, a 1-D (or scalar) int64/int32 tensor known at plan time, into
 * vals[0..*n) (at most max values). Otherwise an error naming it `what`:
 * FOIL_ERR_UNSUPPORTED when it is computed from data at run time,
 * FOIL_ERR_FORMAT for a wrong type or rank. */
foil_status foilKnownInts(FoilOpCtx *c, int i, const char *what, int64_t *vals, int max, int *n);

/* d[from] * ... * d[to - 1]. */
static inline int64_t foilShapeProd(const int64_t *d, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++) p *= d[i];
    return p;
}

#endif
