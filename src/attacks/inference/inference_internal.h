/*
 * attacks/inference/inference_internal.h - what the membership attacks
 * share inside the library.
 */
#ifndef FOIL_INFERENCE_INTERNAL_H
#define FOIL_INFERENCE_INTERNAL_H

#include <stdint.h>

/* log sum_i exp(z_i) over the classes, skipping class `skip` (-1: none),
 * in double and shifted by the largest term so that no term overflows;
 * -INFINITY when no class is left. */
double foilLogSumExp(const float *z, int64_t classes, int64_t skip);

#endif
