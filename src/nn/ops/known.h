/*
 * nn/ops/known.h - reading inputs whose values are known at plan time
 * (c->known[i]: constants, initializers, values the planner folded), for the
 * ops whose output shapes they decide. Private to src/nn/ops.
 */
#ifndef FOIL_NN_OPS_KNOWN_H
#define FOIL_NN_OPS_KNOWN_H

#include "nn/op.h"

/* Input i, a 1-D (or scalar) int64/int32 tensor known at plan time, into
 * vals[0..*n) (at most max values). Otherwise an error naming it `what`:
 * FOIL_ERR_UNSUPPORTED when it is computed from data at run time,
 * FOIL_ERR_FORMAT for a wrong type or rank. (Defined in shape.c.) */
foil_status foilKnownInts(FoilOpCtx *c, int i, const char *what, int64_t *vals, int max, int *n);

#endif
