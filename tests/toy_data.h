/*
 * tests/toy_data.h - a learnable toy image problem the training tests
 * share (toy_data.c): class c brightens quadrant c of a noisy image; and a
 * model that solves it, with or without a backdoor (the backdoor scans'
 * tests).
 */
#ifndef FOIL_TEST_TOY_DATA_H
#define FOIL_TEST_TOY_DATA_H

#include <stdint.h>

#include "foil/data.h"
#include "foil/model.h"

/* n images of 1 x side x side in [0, 1] (with those bounds), labels i mod
 * classes (at most 4, one per quadrant), drawn from seed. */
void toy_quadrants(foil_dataset *d, int64_t n, int64_t classes, int64_t side, uint64_t seed);

/* A linear model that solves 1 x 6 x 6 quadrant images of 4 classes: class
 * k's logit is 8 times the mean of quadrant k. With backdoor = 1 it adds 12
 * times the corner pixel (5, 5) to class 0's logit: on images whose corner
 * is 0, that one pixel is a trigger to class 0, where every other class
 * needs a quadrant's worth of mask (Neural Cleanse's tests). */
foil_model *toy_quadrant_model(int backdoor);

#endif
