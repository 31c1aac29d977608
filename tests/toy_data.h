/*
 * tests/toy_data.h - a learnable toy image problem the training tests
 * share (toy_data.c): class c brightens quadrant c of a noisy image.
 */
#ifndef FOIL_TEST_TOY_DATA_H
#define FOIL_TEST_TOY_DATA_H

#include <stdint.h>

#include "foil/data.h"

/* n images of 1 x side x side in [0, 1] (with those bounds), labels i mod
 * classes (at most 4, one per quadrant), drawn from seed. */
void toy_quadrants(foil_dataset *d, int64_t n, int64_t classes, int64_t side, uint64_t seed);

#endif
