/*
 * attacks/attack_internal.h - what the attack families share (private to
 * src/attacks): the per-run context, the counted ways to reach the model,
 * projections onto the threat model, losses on logits, parameter parsing.
 *
 * Shapes: N examples of D features each (D = product of an example's
 * dimensions), stored row-major, x[i * D + j]. Attacks work on subsets of
 * the N examples ("rows"); an owner array maps each row of a query batch to
 * the example it is for, which is what the query counters are charged to.
 */
#ifndef FOIL_ATTACK_INTERNAL_H
#define FOIL_ATTACK_INTERNAL_H

#include <stdint.h>

#include "foil/evasion.h"
#include "foil/progress.h"
#include "foil/rng.h"

typedef struct FoilEvasionCtx {
    const foil_evasion_info *info;
    foil_model *model;
    const foil_threat *t;
    const foil_evasion_options *opt;
    int64_t n, d, classes;
    int ndim;                    /* of x, batch dimension included */
    int64_t shape[FOIL_MAX_DIMS];/* of x; shape[0] is N */
    const float *x;              /* N x D originals */
    const int64_t *y;            /* N true labels */
    const int64_t *target;       /* N targets (targeted) or true labels */
    int targeted;
    int64_t first_example;       /* the whole set's index of row 0, for random streams (0 for a fit set) */
    const uint8_t *attacked;     /* N: 1 = attack this example */
    float *adv;                  /* N x D: starts as a copy of x; the attack writes its result here */
    int64_t *queries, *grads;    /* N counters (charged by the oracle functions below) */
    uint8_t *zero_grad;          /* N: set by foilEvasionGrad when an example's first gradient is flat */
    foil_progress progress;      /* started by the runner: `total` = examples attacked */
    int64_t groups_done;         /* examples in the groups foilEvasionEachGroup has finished */
    int64_t *fit_queries, *fit_grads; /* the result's totals for learning on opt->fit_x */
    int64_t *fit_grad_examples, *fit_zero_grads; /* ... and its zero-gradient count over the fit examples */
    char *warnings;              /* the result's warning buffer */
    size_t warnings_len;
} FoilEvasionCtx;

/* An attack family's entry point: read ctx->x/y/target/attacked, write
 * ctx->adv. Must leave non-attacked rows equal to x. */
typedef foil_status (*FoilEvasionFn)(FoilEvasionCtx *ctx);

/* ---- counted access to the model (the only way attacks reach it) ---- */

/* logits (rows x classes) of rows inputs xs (rows x D); one query is
 * charged to owner[r] for each row r. */
foil_status foilEvasionLogits(FoilEvasionCtx *c, const float *xs, const int64_t *owner, int64_t rows,
                               float *logits);
/* Top-1 labels only (decision-based attacks): same charging. */
foil_status foilEvasionLabels(FoilEvasionCtx *c, const float *xs, const int64_t *owner, int64_t rows,
                               int64_t *labels);
/* grad (rows x D) = d fn(logits) / d xs; one query and one gradient charged
 * per row. value (rows) and logits (rows x classes) may be NULL. fn sees
 * rows in chunks; its `first` is the row index within this call. The first
 * gradient of each example is scanned once: zero on every movable feature
 * (not immutable, lower < upper) or non-finite anywhere sets zero_grad. */
foil_status foilEvasionGrad(FoilEvasionCtx *c, const float *xs, const int64_t *owner, int64_t rows,
                             foil_logit_fn fn, void *fn_ctx, float *value, float *logits, float *grad);

/* ---- per-group work buffers ---- */

/* The buffers of one attack group, allocated one by one and freed
 * together: an attack's work struct embeds one and takes every array from
 * it, so a failed allocation anywhere needs one check and one free. */
typedef struct FoilBuffers {
    void *ptr[48];
    int n;
    int failed;             /* an allocation failed (or there were too many) */
} FoilBuffers;

/* `bytes` zeroed bytes owned by b, or NULL (and b->failed set). */
void *foilBuffersTake(FoilBuffers *b, size_t bytes);
void foilBuffersFree(FoilBuffers *b);
/* After the takes: FOIL_OK, or (all freed) the out-of-memory error for a
 * group of `rows` examples of attack `who`. */
foil_status foilBuffersStatus(FoilBuffers *b, const char *who, int64_t rows);

/* ---- losses on logits (foil_logit_fn; ctx = FoilLogitLoss) ---- */

typedef enum {
    FOIL_LOSS_CE,        /* CE(z, label): untargeted attacks maximise it */
    FOIL_LOSS_NEG_CE,    /* -CE(z, label): targeted attacks maximise it with label = target */
    FOIL_LOSS_DLR,       /* -(z_y - max_{k!=y} z_k) / (z_pi1 - z_pi3 + 1e-12), maximised (Croce & Hein 2020) */
    FOIL_LOSS_DLR_T,     /* -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2 + 1e-12), maximised; t = other */
    FOIL_LOSS_MARGIN,    /* C&W f6, minimised: max(z_y - max_{k!=y} z_k, -kappa) */
    FOIL_LOSS_MARGIN_T,  /* C&W f6 targeted, minimised: max(max_{k!=t} z_k - z_t, -kappa); t = other */
    FOIL_LOSS_LOGIT_DIFF,/* z_k - z_y for k = other (DeepFool, FAB) */
    FOIL_LOSS_NEG_MARGIN,   /* max_{k!=y} z_k - z_y, maximised: -C&W f6 uncapped (PGD's loss=margin) */
    FOIL_LOSS_NEG_MARGIN_T, /* z_t - max_{k!=t} z_k, maximised; t = other (targeted loss=margin) */
} FoilLossKind;

typedef struct FoilLogitLoss {
    FoilLossKind kind;
    const int64_t *label;        /* per row: the true label (or, for NEG_CE, the target) */
    const int64_t *other;        /* per row: target (DLR_T, MARGIN_T) or class k (LOGIT_DIFF) */
    float kappa;                 /* MARGIN caps */
} FoilLogitLoss;

/* A foil_logit_fn; dvalue may be NULL for the values alone. */
foil_status foilLogitLossFn(void *ctx, int64_t first, int64_t count, int64_t classes, const float *logits,
                               float *value, float *dvalue);

/* ---- the threat model ---- */

/* Move row i's candidate a (D floats) into the feasible set around x_i:
 * the eps-ball of the threat's norm (Linf: clip; L2: rescale; L1: exact
 * Euclidean projection onto the L1 ball, Duchi et al. 2008), then the
 * bounds, then immutable features reset. eps = 0 skips the ball. Integer
 * features are rounded by the runner after the attack (rounding inside an
 * iterative attack would freeze small steps). */
void foilEvasionProject(const FoilEvasionCtx *c, int64_t i, float *a);
/* Clip to the bounds and reset immutable features only (no ball). */
void foilEvasionClip(const FoilEvasionCtx *c, int64_t i, float *a);

/* Goal test on one logit row for example i: untargeted argmax != y[i],
 * targeted argmax == target[i]. */
int foilEvasionFooled(const FoilEvasionCtx *c, int64_t i, const float *logits);
int64_t foilArgmax(const float *v, int64_t n);
/* The (at most) k classes with the largest logits z, best first, skipping
 * class `skip` (-1: none); ties keep the lower class first. Returns how many
 * were written (fewer than k when there are fewer classes). */
int64_t foilTopClasses(const float *z, int64_t classes, int64_t skip, int64_t k, int64_t *out);

/* ---- helpers ---- */

/* An independent generator for (purpose, example), example counted in the
 * whole set (first_example + example): results do not depend on batch
 * composition, thread count or how the set is split between processes. */
foil_rng foilEvasionRng(const FoilEvasionCtx *c, uint64_t purpose, int64_t example);
/* A generator for draws the whole run shares (a universal perturbation's
 * pass, a patch's training step): the same in every share of a split run. */
foil_rng foilEvasionRunRng(const FoilEvasionCtx *c, uint64_t purpose, int64_t counter);

/* Indices of the attacked examples (caller frees); *count receives how many. */
int64_t *foilEvasionActive(const FoilEvasionCtx *c, int64_t *count);

/* One group of attacked examples (examples[0..rows), at most
 * foilEvasionBatch(c) of them); arg is the family's own settings/state. */
typedef foil_status (*FoilGroupFn)(FoilEvasionCtx *c, void *arg, const int64_t *examples, int64_t rows);

/* Run fn over the attacked examples, group by group, advancing the
 * progress bar after each group. */
foil_status foilEvasionEachGroup(FoilEvasionCtx *c, FoilGroupFn fn, void *arg);

/* Progress inside the current group: `done` of its examples are finished. */
void foilEvasionGroupProgress(FoilEvasionCtx *c, int64_t done);

/* Examples attacked together (opt->batch, default 250). */
int64_t foilEvasionBatch(const FoilEvasionCtx *c);

/* Append a warning line to the result. */
void foilEvasionWarn(FoilEvasionCtx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parameters: "key=value,..." parsed against the accepted keys. */
typedef struct FoilParam {
    const char *key;
    double *value;               /* set when the key is given; holds its default otherwise */
} FoilParam;
foil_status foilEvasionParams(const FoilEvasionCtx *c, FoilParam *params, int n_params);
/* A parameter that takes one of a few words ("loss=ce|margin|dlr"). */
typedef struct FoilWordParam {
    const char *key;
    const char *const *words;    /* the accepted values, NULL-terminated */
    int *index;                  /* set to the given word's index; holds its default otherwise */
} FoilWordParam;
/* foilEvasionParams with word parameters too (words may be NULL when n_words = 0). */
foil_status foilEvasionParamsWords(const FoilEvasionCtx *c, FoilParam *params, int n_params,
                                     const FoilWordParam *words, int n_words);

/* Each family's entry points (one file per family under src/attacks). */
foil_status foilEvasionFgsm(FoilEvasionCtx *c);
foil_status foilEvasionBim(FoilEvasionCtx *c);
foil_status foilEvasionPgd(FoilEvasionCtx *c);
foil_status foilEvasionSquare(FoilEvasionCtx *c);
foil_status foilEvasionCwL2(FoilEvasionCtx *c);
foil_status foilEvasionDeepfool(FoilEvasionCtx *c);
foil_status foilEvasionUniversal(FoilEvasionCtx *c);
foil_status foilEvasionPatch(FoilEvasionCtx *c);
foil_status foilEvasionApgdCe(FoilEvasionCtx *c);
foil_status foilEvasionApgdDlr(FoilEvasionCtx *c);
foil_status foilEvasionApgdT(FoilEvasionCtx *c);
foil_status foilEvasionFabT(FoilEvasionCtx *c);
foil_status foilEvasionAutoattack(FoilEvasionCtx *c);
foil_status foilEvasionSimbaPixel(FoilEvasionCtx *c);
foil_status foilEvasionSimbaDct(FoilEvasionCtx *c);
foil_status foilEvasionNes(FoilEvasionCtx *c);
foil_status foilEvasionHsj(FoilEvasionCtx *c);

/* DeepFool from given start points (deepfool.c; universal.c builds on it).
 * rows examples (indices into c->x / c->y; each is moved away from its
 * label c->y[i]) start at start (rows x D, inside the bounds). out (rows x
 * D) receives the last iterate, fooled[r] whether its label changed.
 * start_logits: the logits at start (rows x classes) if the caller has
 * them, else NULL (one forward pass is then charged per row). */
typedef struct FoilDeepfoolConfig {
    foil_norm norm;              /* FOIL_NORM_L2 or FOIL_NORM_LINF */
    int64_t max_iter;
    float overshoot;
    int64_t candidates;          /* top classes at the start considered, the label included */
} FoilDeepfoolConfig;
foil_status foilDeepfoolRun(FoilEvasionCtx *c, const FoilDeepfoolConfig *cfg, const int64_t *examples,
                              int64_t rows, const float *start, const float *start_logits, float *out,
                              uint8_t *fooled);

/* The C&W L2 objective at tanh-space points w (cw.c; exposed for its
 * gradient test): for each row r, x' = x'(w_r), l2 = ||x' - x||^2,
 * value = l2 + cst * (f6(x') + kappa), grad = d value / d w_r, logits at
 * x'. label and other are scratch (rows each). One gradient is charged
 * per row. */
typedef struct FoilCwBatch {
    int64_t rows;
    int64_t *example;            /* rows: example index into c->x */
    const float *w, *cst;        /* rows x D, rows */
    float kappa;
    float *xp, *l2, *value, *logits, *grad;
    int64_t *label, *other;
} FoilCwBatch;
foil_status foilCwObjective(FoilEvasionCtx *c, FoilCwBatch *b);

/* Learning on opt->fit_x (universal.c, patch.c): *fit becomes a copy of c
 * whose examples are the fit set (labels opt->fit_y, untargeted, adv NULL)
 * with counters of its own; foilEvasionFitEnd adds them to c's fit
 * totals and frees them. */
foil_status foilEvasionFitBegin(const FoilEvasionCtx *c, FoilEvasionCtx *fit);
void foilEvasionFitEnd(FoilEvasionCtx *c, FoilEvasionCtx *fit);

#endif
