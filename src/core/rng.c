/*
 * core/rng.c - the non-inline part of the counter-based RNG.
 */
#include <math.h>

#include "foil/rng.h"

double foil_rng_normal(foil_rng *r)
{
    double u1 = foil_rng_uniform_d(r);
    double u2 = foil_rng_uniform_d(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
