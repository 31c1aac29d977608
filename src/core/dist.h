/*
 * core/dist.h - many processes as one run (dist.c): Open MPI when foil was
 * built with it and started by mpirun (or srun), else one process, for
 * which every call below is trivial.
 *
 * The model of use: every rank runs the same command on the same inputs,
 * takes its share of the examples (foilDistShare), agrees with the others
 * on whether all succeeded (foilDistAgree: a failure anywhere is a failure
 * everywhere, named by its rank), and sends its results to rank 0
 * (foilDistGather), which alone prints. Results keyed by example, never by
 * rank, so that any number of ranks gives the one-process answer.
 */
#ifndef FOIL_CORE_DIST_H
#define FOIL_CORE_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "foil/status.h"

/* Start MPI if this process was launched as one rank of several (the
 * launcher's environment says so); harmless otherwise. Returns nonzero
 * when MPI would be needed but foil was built without it. */
int foilDistInit(int *argc, char ***argv);
void foilDistFinalize(void);
int foilDistRank(void);
int foilDistSize(void);
/* Between Begin and End this rank works alone, as one process of one:
 * its own job (one shadow model of many) runs code that would otherwise
 * share its work with the other ranks, such as data-parallel training,
 * and must not. Not nested; called outside parallel regions. */
void foilDistSoloBegin(void);
void foilDistSoloEnd(void);
/* "Open MPI 4.1.4" or "none": what foil was built with. */
const char *foilDistBackend(void);

/* This rank's share of n items: item i belongs to rank i % size. */
static inline int foilDistOwns(int64_t i) { return (int)(i % foilDistSize()) == foilDistRank(); }

/* Every rank passes its status; all get FOIL_OK only when every rank
 * succeeded, else the lowest failing rank's error (with its message and
 * rank) on every rank. */
foil_status foilDistAgree(foil_status mine);

/* Each rank gives `count` records of `size` bytes; rank 0 receives every
 * rank's, rank by rank, in *all (malloc'd; *total records). Other ranks get
 * *all = NULL, *total = 0. */
foil_status foilDistGather(const void *mine, int64_t count, size_t size, void **all, int64_t *total);

/* In place, on every rank: the element-wise sum over ranks. */
foil_status foilDistSumFloats(float *values, int64_t n);
foil_status foilDistSumDoubles(double *values, int64_t n);
/* In place, on every rank: the element-wise maximum over ranks. */
foil_status foilDistMax(double *values, int64_t n);

#endif
