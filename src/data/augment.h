/*
 * data/augment.h - the image augmentation foil train applies (a random crop
 * of the zero-padded image and a random horizontal flip, as torchvision's
 * RandomCrop(padding) + RandomHorizontalFlip), split into the draw, the
 * transform and its adjoint, so that gradient matching can brew poisons
 * through the same augmentation the victim trains with and carry their
 * gradient back (internal to libfoil).
 */
#ifndef FOIL_DATA_AUGMENT_H
#define FOIL_DATA_AUGMENT_H

#include <stdint.h>

#include "foil/rng.h"

/* One image's draw: output pixel (i, j) is the input's (i + dy, j' + dx),
 * j' = w - 1 - j when mirrored, else j; zero outside the image. */
typedef struct FoilAugmentDraw {
    int64_t dy, dx;
    int mirror;
} FoilAugmentDraw;

/* dy and dx uniform in [-pad, pad] (in that order), then the flip's coin. */
FoilAugmentDraw foilAugmentDraw(foil_rng *r, int64_t pad, int flip);

/* dst = the augmented src, (c, h, w) each. */
void foilAugmentApply(const float *src, float *dst, int64_t c, int64_t h, int64_t w, FoilAugmentDraw a);

/* d_src = the transpose of the transform applied to d_dst (written, every
 * element): the gradient with respect to src of a function of dst. */
void foilAugmentAdjoint(const float *d_dst, float *d_src, int64_t c, int64_t h, int64_t w, FoilAugmentDraw a);

#endif
