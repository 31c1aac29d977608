/*
 * nn/ops/broadcast.h - multidirectional (numpy) broadcasting for elementwise
 * ops, and the reduction of a gradient back over broadcast dimensions.
 * Private to the op families in src/nn/ops.
 *
 * Broadcasting rule (ONNX "multidirectional", numpy): shapes are aligned at
 * the right; in each position the dimensions must be equal or one of them 1,
 * and the output takes the larger. A missing leading dimension counts as 1.
 *
 * To run fast, an iteration is planned on a *coalesced* shape: output
 * dimensions of extent 1 are dropped and neighbouring dimensions that every
 * operand treats the same way (all present, or broadcast) are merged. Then
 * (3,4,5)+(3,4,5) becomes one run of 60, (N,C,H,W)+(1,C,1,1) becomes
 * (N, C, H*W) with operand strides (0, 1, 0), (B,T,C)+(C) becomes (B*T, C)
 * with strides (0, 1). Kernels walk the coalesced shape as "rows" (all but
 * the last dimension) times a contiguous-or-constant innermost run, so the
 * common cases are a single tight loop that gcc vectorizes.
 *
 * The end of this header also holds the small vectorizable exp/tanh the
 * elementwise and softmax kernels share (foilExpf, foilTanhf).
 */
#ifndef FOIL_NN_OPS_BROADCAST_H
#define FOIL_NN_OPS_BROADCAST_H

#include <math.h>
#include <stdint.h>

#include "foil/tensor.h"

#define FOIL_BCAST_MAX_OPS 3

typedef struct FoilBcast {
    int ndim;                                   /* coalesced rank, >= 1 */
    int nops;                                   /* operands planned (<= FOIL_BCAST_MAX_OPS) */
    int64_t n[FOIL_MAX_DIMS];                   /* coalesced output extents */
    int64_t s[FOIL_BCAST_MAX_OPS][FOIL_MAX_DIMS]; /* element strides per operand; 0 = broadcast */
    int64_t numel;                              /* output elements */
    int64_t inner;                              /* n[ndim-1]: length of one run */
    int64_t rows;                               /* numel / inner (0 when numel is 0) */
} FoilBcast;

/* Output shape of broadcasting shapes a (rank na) and b (rank nb) together.
 * Returns 0, or -1 when they are incompatible (then *bad_dim is the output
 * position, counted from the left, where they disagree). */
int foilBcastShape(int na, const int64_t *a, int nb, const int64_t *b, int *nout, int64_t *out,
                     int *bad_dim);

/* 1 when shape x (rank nx) broadcasts to shape out (rank nout) one-way
 * (numpy unidirectional: x is right-aligned, each dim equal or 1). */
int foilBcastTo(int nx, const int64_t *x, int nout, const int64_t *out);

/* Plan an iteration over the output shape (rank nout) for nops operands of
 * the given shapes (each must broadcast one-way to out). */
void foilBcastPlan(FoilBcast *bc, int nout, const int64_t *out, int nops, const int *nd,
                     const int64_t *const *shapes);

/* Offsets of operand k at the start of row `row` (0 <= row < bc->rows).
 * Cost: one division per coalesced dimension; call once per row. */
static inline int64_t foilBcastRowOffset(const FoilBcast *bc, int k, int64_t row)
{
    int64_t off = 0;
    for (int d = bc->ndim - 2; d >= 0 && row > 0; d--) {
        int64_t q = row / bc->n[d];
        off += (row - q * bc->n[d]) * bc->s[k][d];
        row = q;
    }
    return off;
}

/* Rows are further cut into chunks of at most FOIL_BCAST_CHUNK elements so
 * that a same-shape op on one long run still splits across threads. Task t
 * covers row t / chunks, elements [j0, j1) of that row. */
#define FOIL_BCAST_CHUNK 16384
static inline int64_t foilBcastChunks(const FoilBcast *bc)
{
    return (bc->inner + FOIL_BCAST_CHUNK - 1) / FOIL_BCAST_CHUNK;
}

/* Elementwise work below this many elements stays on one thread. */
#define FOIL_PAR_MIN 32768

/* Accumulate a broadcast gradient into an operand: for every output index i,
 *   dx[offset_x(i)] += f(i)
 * is done by the caller; this helper plans the iteration *by operand element*
 * so that threads never write the same dx element. The operand's full
 * dimensions become the outer index (in the operand's own memory order) and
 * its broadcast dimensions the inner, summed ones. */
typedef struct FoilBcastReduce {
    int nf, nr;                       /* full (kept) and reduced coalesced dims */
    int64_t fn[FOIL_MAX_DIMS];        /* extents of full dims, outer to inner */
    int64_t fs[FOIL_BCAST_MAX_OPS][FOIL_MAX_DIMS]; /* strides of each operand along them */
    int64_t rn[FOIL_MAX_DIMS];        /* extents of reduced dims */
    int64_t rs[FOIL_BCAST_MAX_OPS][FOIL_MAX_DIMS];
    int64_t nx;                       /* product of fn: elements of the reduced operand */
    int64_t nsum;                     /* product of rn: terms summed per element */
} FoilBcastReduce;

/* Plan the reduction into operand k of a plan bc. Stride tables cover every
 * operand of bc plus the output itself as operand index bc->nops (the output
 * strides are those of a contiguous tensor of the coalesced shape). Requires
 * bc->nops < FOIL_BCAST_MAX_OPS. */
void foilBcastReducePlan(FoilBcastReduce *r, const FoilBcast *bc, int k);

/* dx += g summed over the dimensions along which x was broadcast: g has the
 * output's shape (rank nout), dx x's (rank nx, broadcasting one-way to it).
 * The gradient of an operand of any broadcasting op, from the per-output
 * terms the op computed (Pow, Where). Threads split dx's elements. */
void foilBcastSumInto(float *dx, int nx, const int64_t *xs, const float *g, int nout, const int64_t *out);

struct FoilOpCtx;
/* Set out[0] to dtype dt and the broadcast shape of inputs [0, n) (all
 * present); a shape error names the node and the input. */
foil_status foilBcastInferOut(struct FoilOpCtx *c, int n, foil_dtype dt);
/* Plan an iteration over out[0] for inputs [0, n) (n <= FOIL_BCAST_MAX_OPS). */
void foilBcastPlanInputs(const struct FoilOpCtx *c, int n, FoilBcast *bc);

#endif
