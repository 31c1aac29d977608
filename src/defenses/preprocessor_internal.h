/*
 * defenses/preprocessor_internal.h - the state of foil's own preprocessors
 * (foil/defense.h), for the code that writes them into an ONNX graph
 * (defenses/defend.c). Internal.
 */
#ifndef FOIL_DEFENSES_PREPROCESSOR_INTERNAL_H
#define FOIL_DEFENSES_PREPROCESSOR_INTERNAL_H

#include "foil/defense.h"

/* squeeze.c: x -> lo + rint((clip(x, lo, hi) - lo) / (hi - lo) * levels) / levels * (hi - lo) */
typedef struct FoilBitDepth {
    float lo, hi, levels;      /* levels = 2^bits - 1 */
    char name[32];
} FoilBitDepth;

/* blur.c: separable Gaussian, weights g[0 .. 2r] */
#define FOIL_BLUR_MAX_RADIUS 48
typedef struct FoilBlur {
    int64_t c, h, w, r;
    float sigma;
    float g[2 * FOIL_BLUR_MAX_RADIUS + 1];
    char name[32];
} FoilBlur;

#endif
