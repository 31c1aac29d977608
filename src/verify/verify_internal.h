/*
 * verify/verify_internal.h - the verifier's insides (foil/verify.h is the
 * design: what a bound means, the methods). Not public.
 *
 * compile.c turns the model's graph into a list of layers over "slots":
 * each slot is one activation of one example, shaped (C, H, W) (a flat
 * value is (numel, 1, 1)), stored at offset `off` of per-example arrays of
 * total_numel entries. Layers are in topological order; slot 0 is the input.
 * ibp.c propagates intervals through them, crown.c linear bounds backward.
 *
 * Soundness in floating point. Everything is computed in double from float
 * bounds. Every sum that a bound rests on gets a rigorous error term:
 * a sum of at most G products computed in double has error <= gamma *
 * sum |products|, gamma = G u / (1 - G u), u = 2^-53, G = total_numel + 64
 * (larger than any sum the verifier forms). Layer by layer that is
 * gamma * T, with T[i] = sum_j |coef_ij| M_j + |const_i| for output i and M
 * the magnitude max(|lo|, |hi|) of the layer's input (what foilBoundsIbp
 * writes into T). Results are rounded outward to float (foilRoundDown/Up).
 */
#ifndef FOIL_VERIFY_INTERNAL_H
#define FOIL_VERIFY_INTERNAL_H

#include <math.h>
#include <stdint.h>

#include "foil/verify.h"

typedef enum FoilBoundsKind {
    FOIL_BL_CONV = 0,  /* y = conv(x, W) + b                                      */
    FOIL_BL_GEMM,      /* y = W x + b, W (N, K): Gemm, MatMul by a constant         */
    FOIL_BL_AFFINE,    /* y_i = a_i x_i + b_i elementwise (BN, Add/Sub/Mul/Div by const) */
    FOIL_BL_ADD2,      /* y = x0 + sign * x1 (two activations of one shape)      */
    FOIL_BL_COPY,      /* y = x (Flatten, Reshape, Identity, Dropout)             */
    FOIL_BL_AVGPOOL,   /* y = mean of a window (AveragePool, GlobalAveragePool)   */
    FOIL_BL_RELU,      /* y = max(x, 0)                                           */
    FOIL_BL_MAXPOOL    /* y = max of a window                                     */
} FoilBoundsKind;

/* A 2-D sliding window (Conv, pools): output (oh, ow) reads input
 * (oh*sh - ph + kh*dh, ow*sw - pw + kw*dw) for kh < kh_n, kw < kw_n. */
typedef struct FoilBoundsGeom {
    int64_t kh, kw, sh, sw, ph, pw, dh, dw;
    int64_t ph_end, pw_end;  /* padding after (AveragePool's count_include_pad) */
    int count_include_pad;   /* AveragePool */
    int64_t group;           /* Conv */
} FoilBoundsGeom;

typedef struct FoilBoundsLayer {
    FoilBoundsKind kind;
    char *name, *op_type;    /* the node's, for messages */
    int in[2], n_in;         /* input slots */
    int out;                 /* output slot */
    double *w;               /* CONV (Co, Ci/group, kh, kw); GEMM (N, K); AFFINE a (numel) */
    double *b;               /* CONV (Co), GEMM (N), AFFINE (numel); NULL: none */
    double *ext;             /* AFFINE: |a_i| ext_i is added to T_i (BN: |mean|), NULL: none */
    double sign;             /* ADD2: +1 or -1 */
    FoilBoundsGeom g;
} FoilBoundsLayer;

typedef struct FoilBoundsSlot {
    int64_t c, h, w, numel;
    int64_t off;             /* into per-example arrays of total_numel */
    int producer;            /* layer index, -1 for the input */
    int box;                 /* ranges over a box whenever the input does (elementwise of the input) */
    int relaxed_reader;      /* read by a Relu or MaxPool (CROWN needs its bounds) */
    int maxpool_reader;      /* ... by a MaxPool (every neuron's bounds matter) */
} FoilBoundsSlot;

struct foil_verifier {
    char *path;
    FoilBoundsSlot *slots;
    int n_slots;
    FoilBoundsLayer *layers;
    int n_layers;
    int output;              /* the logits' slot */
    int64_t classes, input_size, total_numel, max_numel;
    double gamma;            /* see the file comment */
    /* plain IBP over the last box foilBoundsSplitCompute saw (branch and
     * bound bounds many subdomains of one box): the box, P and T */
    float *pc_lo, *pc_hi, *pc_plo, *pc_phi;
    double *pc_T;
    int pc_valid;
};

/* Round a double to the float below / above it (the nearest one that is
 * <= / >= it); NaN gives -inf / +inf. */
static inline float foilRoundDown(double d)
{
    if (!(d == d)) return -INFINITY;
    float f = (float)d;
    if ((double)f > d) f = nextafterf(f, -INFINITY);
    return f;
}
static inline float foilRoundUp(double d)
{
    if (!(d == d)) return INFINITY;
    float f = (float)d;
    if ((double)f < d) f = nextafterf(f, INFINITY);
    return f;
}
static inline double foilMag(float lo, float hi)
{
    double a = fabs((double)lo), b = fabs((double)hi);
    return a > b ? a : b;
}

/* For every tap (kh, kw) of window position (oh, ow) that reads the input
 * (not padding), at input row ih and column iw:
 *   FOIL_BOUNDS_TAPS (g, in, oh, ow, kh, kw, ih, iw) { ... } */
#define FOIL_BOUNDS_TAPS(g, in, oh, ow, kh, kw, ih, iw)                                    \
    for (int64_t kh = 0, ih; kh < (g)->kh; kh++)                                           \
        if ((ih = (oh) * (g)->sh - (g)->ph + kh * (g)->dh) >= 0 && ih < (in)->h)           \
            for (int64_t kw = 0, iw; kw < (g)->kw; kw++)                                   \
                if ((iw = (ow) * (g)->sw - (g)->pw + kw * (g)->dw) >= 0 && iw < (in)->w)

/* AveragePool's divisor at window position (oh, ow): the taps inside the
 * input, and with count_include_pad those on the padding too (not the
 * ceil-mode overhang past it). */
static inline int64_t foilBoundsPoolCount(const FoilBoundsGeom *g, const FoilBoundsSlot *in, int64_t oh, int64_t ow)
{
    int64_t count = 0;
    for (int64_t kh = 0; kh < g->kh; kh++) {
        int64_t ih = oh * g->sh - g->ph + kh * g->dh;
        for (int64_t kw = 0; kw < g->kw; kw++) {
            int64_t iw = ow * g->sw - g->pw + kw * g->dw;
            if (ih >= 0 && ih < in->h && iw >= 0 && iw < in->w) count++;
            else if (g->count_include_pad && ih >= -g->ph && ih < in->h + g->ph_end && iw >= -g->pw &&
                     iw < in->w + g->pw_end)
                count++;
        }
    }
    return count;
}

/* ibp.c: interval of layer L's output from its inputs' bounds (lo, hi are
 * per-example arrays indexed by slot offsets); writes lo/hi of L->out and,
 * when T is not NULL, T at L->out's offset (the error weights above; for
 * RELU and MAXPOOL the magnitude bound CROWN's error terms use). */
void foilBoundsIbp(const foil_verifier *v, const FoilBoundsLayer *L, float *lo, float *hi, double *T);

/* crown.c: linear bounds backward. A row is one linear function of a slot
 * (a spec row on the logits, or one neuron); its lower bound over the box
 * comes from propagating it back to the input. */
typedef struct FoilBoundsRow FoilBoundsRow;
FoilBoundsRow *foilBoundsRowNew(const foil_verifier *v);
void foilBoundsRowFree(FoilBoundsRow *r);

/* A ReLU split (branch and bound): the Relu input neuron at per-example
 * offset `at` is >= 0 (active) or <= 0 (not active) on the subdomain. */
typedef struct FoilBoundsSplit {
    int64_t at;
    int active;
} FoilBoundsSplit;

/* What the backward pass may use, for one example: lo/hi the bounds that
 * the relaxations use (the best known), T the error weights (from bounds
 * containing lo/hi), stop_nonlinear 1: concretize at the output of the
 * first Relu/MaxPool met instead of relaxing it (IBP's folded spec). */
typedef struct FoilBoundsCtx {
    const float *lo, *hi;
    const double *T;
    int stop_nonlinear;
    /* NULL, or per total_numel offset of a Relu's input: the slope in
     * [0, 1] of its lower line alpha z (used where the row's coefficient
     * is >= 0 and the neuron unstable); any other value: CROWN's choice */
    const double *alpha;
    /* NULL, or n_splits multipliers beta >= 0 of the splits (beta-CROWN,
     * Wang et al. 2021): the row gets beta_t (z_t for a split z_t <= 0,
     * -z_t for z_t >= 0), a term <= 0 on the subdomain, so its lower bound
     * still bounds the row there from below */
    const double *beta;
    const FoilBoundsSplit *splits;
    int64_t n_splits;
} FoilBoundsCtx;

/* Lower bound of coef . slot[target] over the box (ctx->lo/hi at the input
 * slot), coef dense over the slot (numel entries) or, when coef is NULL,
 * the one-hot row of neuron `neuron` scaled by `scale` (+1 or -1). */
double foilBoundsRowLower(const foil_verifier *v, const FoilBoundsCtx *ctx, FoilBoundsRow *r, int target,
                          const float *coef, int64_t neuron, double scale);

/* verify.c: one example's CROWN bounds (o: CROWN, not crown_only) of the
 * k rows C over the box [lo, hi], restricted to the subdomain of the box
 * where each split holds: the ReLU input neuron at per-example offset `at`
 * (of a slot a Relu reads) is >= 0 (active) or <= 0 (not active). A split
 * clips that neuron's best bounds once they are computed, so every later
 * bound rests on it; the sum over the two sides of a split covers the box.
 * *empty = 1 (and lb = +inf) when the splits contradict the bounds: no
 * input of the box lies in the subdomain. qlo, qhi (total_numel each, NULL:
 * not wanted): the best bounds of every slot, as the relaxations used them.
 * parent_qlo, parent_qhi (NULL: none): those of the parent subdomain, the
 * same splits without the last one; the slots that come before the last
 * split's slot keep them instead of being bounded again (their bounds do
 * not depend on that split). keep_intermediate 1 (with parent bounds):
 * the later slots keep the parent's bounds too, intersected with IBP's
 * from the clipped split (no CROWN pass per neuron: much faster, looser).
 * o->alpha_steps optimizes the spec rows' slopes (alpha.c), and with
 * splits their multipliers (instead of the Lagrangian below), for each
 * row until its bound is well above enough[row] (NULL: no early stop).
 * Beyond clipping, each split also bounds the spec rows through a
 * Lagrangian over the box (verify.c, lagrange_rows). */
foil_status foilBoundsSplitCompute(foil_verifier *v, const foil_bounds_options *o, const float *lo, const float *hi,
                                   const float *C, int64_t k, const FoilBoundsSplit *splits, int64_t n_splits,
                                   const float *parent_qlo, const float *parent_qhi, int keep_intermediate,
                                   const double *enough, float *lb, float *ub, float *qlo, float *qhi, int *empty);

/* crown.c: the same backward pass as foilBoundsRowLower (ctx without
 * stop_nonlinear), stopped at the input: row(x) >= lam . x + c for every x
 * of the box whose intermediate values lie in ctx's bounds, lam the input's
 * input_size coefficients (written), c returned, every rounding of the pass
 * (and of evaluating lam . x in double for x in the box) already taken off. */
double foilBoundsRowLinear(const foil_verifier *v, const FoilBoundsCtx *ctx, FoilBoundsRow *r, int target,
                           const float *coef, int64_t neuron, double scale, double *lam);
/* crown.c: after a pass of r, the coefficients lam it had on slot s when
 * it went through it (0 where it never reached; numel doubles); slot 0,
 * the input: the coefficients it was concretized with. */
void foilBoundsRowSlotLam(const foil_verifier *v, const FoilBoundsRow *r, int s, double *lam);

/* alpha.c: foilBoundsRowLower's bound of a row (target, coef, neuron,
 * scale as there) over ctx's bounds (ctx->alpha and stop_nonlinear
 * ignored) with the ReLU lower slopes optimized by up to `steps` projected
 * Adam steps from CROWN's (see the file), stopping once the bound exceeds
 * `enough` (INFINITY: never); the best bound seen, never below CROWN's. */
double foilBoundsRowOptimized(const foil_verifier *v, const FoilBoundsCtx *ctx, FoilBoundsRow *r, int target,
                              const float *coef, int64_t neuron, double scale, int steps, double enough);
/* alpha.c: a spec row (coef on the logits) on the subdomain of the
 * splits, with their beta-CROWN multipliers optimized jointly with the
 * slopes (from 0). */
double foilBoundsRowOptimizedSplits(const foil_verifier *v, const FoilBoundsCtx *ctx, FoilBoundsRow *r,
                                    const float *coef, int steps, double enough, const FoilBoundsSplit *splits,
                                    int64_t n_splits);

/* verify.c: a branching score per ReLU input neuron (total_numel floats,
 * 0 for stable neurons and others): |lam| on the Relu's output in the
 * backward pass of spec row `row` of C times the intercept -l u / (u - l)
 * of the neuron's upper line (BaBSR's estimate of what splitting it
 * gains), with the intercept alone as a small tie-breaker. */
foil_status foilBoundsSplitScores(foil_verifier *v, const float *lo, const float *hi, const float *qlo,
                                  const float *qhi, const float *coef, float *score);

/* verify.c: FSB's estimate of a split (De Palma et al. 2021): CROWN's
 * lower bound of spec row coef over the bounds qlo, qhi (a subdomain's,
 * after foilBoundsSplitScores on its box) with neuron j clipped to one
 * side; qlo, qhi are restored before it returns. */
double foilBoundsSplitTry(foil_verifier *v, FoilBoundsRow *row, float *qlo, float *qhi, const float *coef, int64_t j,
                          int active);

#endif
