/*
 * attacks/gather.h - one attack result from the shares of a run split
 * between MPI ranks (gather.c; core/dist.h).
 */
#ifndef FOIL_ATTACKS_GATHER_H
#define FOIL_ATTACKS_GATHER_H

#include "foil/evasion.h"

/* Every rank passes the result of its contiguous block of x (x: the whole
 * set, the same on every rank); rank 0 gets in *whole the result on all of
 * x, rank by rank, as one process would have computed it: per-example
 * fields concatenated; the fit totals (each rank learned on the same fit
 * set alike) counted once; the model's counts summed without the repeated
 * fits; the slowest rank's seconds; the warnings of every rank, each line
 * once, with the zero-gradient warning recomputed on the whole. Other ranks
 * get an empty *whole. part is left as it was. */
/* The zero-gradient warning the runner gives result r of attack `name`
 * (written to out; returns 1), or 0 when r does not call for it. */
int foilEvasionZeroGradientWarning(const char *name, const foil_evasion_result *r, char *out, size_t len);

foil_status foilEvasionGather(const char *attack, const foil_evasion_result *part, const foil_tensor *x,
                              foil_evasion_result *whole);

#endif
