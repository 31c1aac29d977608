/*
 * core/stats.h - small order statistics the library's parts share.
 */
#ifndef FOIL_CORE_STATS_H
#define FOIL_CORE_STATS_H

#include <stdint.h>

/* The median of v (n >= 1; the mean of the middle two when n is even),
 * sorting v in place. */
double foilMedianInPlace(double *v, int64_t n);

#endif
