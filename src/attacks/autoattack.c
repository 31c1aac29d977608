/*
 * attacks/autoattack.c - AutoAttack, standard version (Croce & Hein 2020,
 * "Reliable evaluation of adversarial robustness with an ensemble of
 * diverse parameter-free attacks"; fra31/auto-attack, autoattack.py
 * run_standard_evaluation with version='standard', and checks.py).
 *
 * Four attacks in sequence, each on the examples still robust after the
 * ones before; an example counts as fooled by the first attack that fools
 * it and keeps that attack's adversarial input (the worst case per
 * example):
 *   1. apgd-ce   APGD on cross-entropy, 100 iterations, 1 restart
 *   2. apgd-t    APGD on targeted DLR, 9 target classes x 100 iterations
 *   3. fab-t     targeted FAB, 9 target classes x 100 iterations
 *   4. square    Square Attack, 5000 queries, p_init 0.8 (score-based)
 * Whether an attack fooled an example is decided, as in the reference, by
 * a forward pass (counted) of that attack's output; rows it did not fool
 * keep x. --steps, --restarts (APGD-CE only) and --queries (Square) change
 * the budgets; n_target_classes the targets of APGD-T and FAB-T.
 *
 * The reference's checks, reported as warnings in the result:
 *   check_randomized    the first batch of attacked inputs is classified 5
 *                       times; differing predictions or L2-normalised logits
 *                       that differ by more than 1e-4 mean a randomized
 *                       model (AutoAttack's 'rand' version with EOT needed)
 *   check_range_output  outputs that are all in [0, 1] and sum to 1 look
 *                       like probabilities, not logits (DLR and the margin
 *                       losses then lose their meaning)
 *   check_n_classes     too few classes for targeted DLR (APGD-T skipped) or
 *                       for 9 targets (APGD-T and FAB-T say how many they use)
 *   check_zero_gradients  examples whose first gradient (APGD-CE's) is
 *                       exactly zero: the runner's check, for every attack
 *   check_square_sr     Square, a black-box attack, lowering robust
 *                       accuracy by more than 0.2 points after the three
 *                       white-box attacks: the gradients were misleading
 *                       (gradient masking), so the evaluation is unreliable
 * Not reproduced: check_dynamic (a Python-tracing test for models that
 * change at test time; a foil model is a fixed ONNX graph).
 * Where the model has too few classes for APGD-T (< 4) or the inputs are
 * not images (Square), that attack is skipped with a warning instead of
 * failing as the reference would.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attacks/attack_internal.h"

enum { AA_PARTS = 4 };

typedef struct aa_part {
    const char *name;
    FoilEvasionFn run;
} aa_part;

static const aa_part parts[AA_PARTS] = {
    {"apgd-ce", foilEvasionApgdCe},
    {"apgd-t", foilEvasionApgdT},
    {"fab-t", foilEvasionFabT},
    {"square", foilEvasionSquare},
};

typedef struct aa_config {
    int64_t steps, restarts, queries, n_targets;
} aa_config;

static int64_t count_robust(const uint8_t *robust, int64_t n)
{
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) k += robust[i];
    return k;
}

/* ---- checks on the model (checks.py) ---- */

static double l2_of(const float *v, int64_t n)
{
    double s = 0;
    for (int64_t k = 0; k < n; k++) s += (double)v[k] * v[k];
    return sqrt(s);
}

/* check_randomized and check_range_output on the first batch of robust
 * examples: 5 counted forward passes. */
static foil_status check_model(FoilEvasionCtx *c, const uint8_t *robust)
{
    enum { PASSES = 5 };
    int64_t rows = 0, cap = foilEvasionBatch(c), C = c->classes, D = c->d;
    int64_t *owner = malloc((size_t)cap * sizeof *owner);
    float *xs = malloc((size_t)(cap * D) * sizeof *xs), *z = malloc((size_t)(PASSES * cap * C) * sizeof *z);
    foil_status st = FOIL_OK;
    if (!owner || !xs || !z) st = foil_error(FOIL_ERR_NOMEM, "out of memory for AutoAttack's model checks");
    for (int64_t i = 0; !st && i < c->n && rows < cap; i++) {
        if (!robust[i]) continue;
        memcpy(xs + rows * D, c->x + i * D, (size_t)D * sizeof *xs);
        owner[rows++] = i;
    }
    for (int p = 0; !st && p < PASSES; p++) st = foilEvasionLogits(c, xs, owner, rows, z + p * rows * C);
    if (!st && rows) {
        double max_diff = 0;
        int label_changed = 0, probabilities = 1;
        for (int64_t r = 0; r < rows; r++) {
            const float *z0 = z + r * C;
            double n0 = l2_of(z0, C) + 1e-10, sum = 0;
            for (int64_t k = 0; k < C; k++) {
                sum += z0[k];
                if (!(z0[k] < 1 + 1e-5f && z0[k] > -1e-5f)) probabilities = 0;
            }
            if (!(fabs(sum - 1) < 1e-5)) probabilities = 0;
            for (int p = 1; p < PASSES; p++) {
                const float *zp = z + (p * rows + r) * C;
                double np = l2_of(zp, C) + 1e-10, diff = 0;
                for (int64_t k = 0; k < C; k++) diff += pow(z0[k] / n0 - zp[k] / np, 2);
                max_diff = fmax(max_diff, sqrt(diff));
                label_changed |= foilArgmax(zp, C) != foilArgmax(z0, C);
            }
        }
        if (label_changed || max_diff > 1e-4)
            foilEvasionWarn(c, "autoattack: the model's outputs change between identical queries (randomized "
                                "defense?); the standard AutoAttack assumes a deterministic model, a randomized one "
                                "needs EOT (AutoAttack's 'rand' version)");
        if (probabilities)
            foilEvasionWarn(c, "autoattack: the model's outputs look like a probability distribution; attacks "
                                "need the logits (DLR and margin losses are meaningless on probabilities)");
    }
    free(owner);
    free(xs);
    free(z);
    return st;
}

/* ---- one component ---- */

/* After a sub-attack wrote sub_adv: rows that differ from x are classified
 * (counted); the fooled ones are no longer robust and their input becomes
 * the answer, the others keep x. */
static foil_status collect(FoilEvasionCtx *c, uint8_t *robust, const float *sub_adv)
{
    int64_t D = c->d, cap = foilEvasionBatch(c), rows = 0;
    int64_t *owner = malloc((size_t)cap * sizeof *owner);
    float *xs = malloc((size_t)(cap * D) * sizeof *xs), *z = malloc((size_t)(cap * c->classes) * sizeof *z);
    foil_status st = FOIL_OK;
    if (!owner || !xs || !z) st = foil_error(FOIL_ERR_NOMEM, "out of memory for AutoAttack");
    for (int64_t i = 0; !st && i <= c->n; i++) {
        int last = i == c->n;
        if (!last && robust[i] && memcmp(sub_adv + i * D, c->x + i * D, (size_t)D * sizeof(float)) != 0) {
            memcpy(xs + rows * D, sub_adv + i * D, (size_t)D * sizeof *xs);
            owner[rows++] = i;
        }
        if (rows == cap || (last && rows)) {
            if ((st = foilEvasionLogits(c, xs, owner, rows, z))) break;
            for (int64_t r = 0; r < rows; r++) {
                if (!foilEvasionFooled(c, owner[r], z + r * c->classes)) continue;
                robust[owner[r]] = 0;
                memcpy(c->adv + owner[r] * D, xs + r * D, (size_t)D * sizeof(float));
            }
            rows = 0;
        }
    }
    free(owner);
    free(xs);
    free(z);
    return st;
}

/* Why a component cannot run on this model / data (NULL: it can). */
static const char *skip_reason(const FoilEvasionCtx *c, const aa_part *p)
{
    if (strcmp(p->name, "apgd-t") == 0 && c->classes < 4)
        return c->classes == 3 ? "with only 3 classes the targeted DLR loss is not defined"
                               : "with only 2 classes the DLR loss is not defined";
    if (strcmp(p->name, "square") == 0 && (c->ndim != 4 || c->shape[2] < 5 || c->shape[3] < 5))
        return "square attacks images (N, C, H, W) only";
    return NULL;
}

static foil_status run_part(FoilEvasionCtx *c, const aa_part *p, const aa_config *cfg, uint8_t *robust,
                            float *sub_adv)
{
    foil_threat t = *c->t;
    t.steps = strcmp(p->name, "square") == 0 ? 0 : cfg->steps;
    t.restarts = strcmp(p->name, "apgd-ce") == 0 ? cfg->restarts : 1;
    t.queries = strcmp(p->name, "square") == 0 ? cfg->queries : 0;
    t.step_size = 0;
    char params[64] = "";
    if (strcmp(p->name, "apgd-t") == 0 || strcmp(p->name, "fab-t") == 0)
        snprintf(params, sizeof params, "n_target_classes=%lld", (long long)cfg->n_targets);
    else if (strcmp(p->name, "square") == 0)
        snprintf(params, sizeof params, "p_init=0.8");
    foil_evasion_options opt = {0};
    if (c->opt) opt = *c->opt;
    opt.params = params;
    FoilEvasionCtx sub = *c;
    sub.info = foil_evasion_find(p->name);
    if (!sub.info) return foil_error(FOIL_ERR_RUNTIME, "autoattack: attack %s is not registered", p->name);
    sub.t = &t;
    sub.opt = &opt;
    sub.attacked = robust;
    sub.adv = sub_adv;
    memcpy(sub_adv, c->x, (size_t)(c->n * c->d) * sizeof(float));
    char label[48];
    snprintf(label, sizeof label, "autoattack/%s", p->name);
    foil_progress_start(&sub.progress, label, count_robust(robust, c->n), "img", opt.quiet);
    foil_status st = p->run(&sub);
    if (!st) st = collect(c, robust, sub_adv);
    char status[64];
    snprintf(status, sizeof status, "robust %.2f%%", 100.0 * (double)count_robust(robust, c->n) / (double)c->n);
    foil_progress_finish(&sub.progress, st ? NULL : status);
    return st;
}

/* ---- the ensemble ---- */

static foil_status configure(FoilEvasionCtx *c, aa_config *cfg)
{
    double n_targets = 9;
    FoilParam params[] = {{"n_target_classes", &n_targets}};
    foil_status st = foilEvasionParams(c, params, 1);
    if (st) return st;
    if (!(n_targets >= 1 && n_targets == floor(n_targets)))
        return foil_error(FOIL_ERR_ARG, "autoattack: n_target_classes must be a positive integer");
    if (c->t->step_size > 0)
        return foil_error(FOIL_ERR_ARG, "autoattack's attacks set their own step sizes; drop --step-size");
    cfg->n_targets = (int64_t)n_targets;
    cfg->steps = c->t->steps ? c->t->steps : 100;
    cfg->restarts = c->t->restarts ? c->t->restarts : 1;
    cfg->queries = c->t->queries ? c->t->queries : 5000;
    return FOIL_OK;
}

foil_status foilEvasionAutoattack(FoilEvasionCtx *c)
{
    aa_config cfg;
    foil_status st = configure(c, &cfg);
    if (st) return st;
    uint8_t *robust = malloc((size_t)c->n);
    float *sub_adv = malloc((size_t)(c->n * c->d) * sizeof *sub_adv);
    if (!robust || !sub_adv) st = foil_error(FOIL_ERR_NOMEM, "out of memory for AutoAttack");
    if (!st) {
        memcpy(robust, c->attacked, (size_t)c->n);
        st = check_model(c, robust);
    }
    /* Robust accuracy (of all n examples) after each component that ran. */
    double acc_white = st ? 1 : (double)count_robust(robust, c->n) / (double)c->n, acc_square = -1;
    for (int k = 0; !st && k < AA_PARTS; k++) {
        if (count_robust(robust, c->n) == 0) break;
        const char *why = skip_reason(c, &parts[k]);
        if (why) {
            foilEvasionWarn(c, "autoattack: %s skipped: %s", parts[k].name, why);
            continue;
        }
        st = run_part(c, &parts[k], &cfg, robust, sub_adv);
        double acc = (double)count_robust(robust, c->n) / (double)c->n;
        if (parts[k].run == foilEvasionSquare) acc_square = acc;
        else acc_white = fmin(acc_white, acc);
    }
    /* check_square_sr: a black-box attack should not beat the white-box ones. */
    if (!st && acc_square >= 0 && acc_square < acc_white - 0.002)
        foilEvasionWarn(c,
                         "autoattack: Square Attack reduced robust accuracy by %.2f points after APGD and FAB: "
                         "possible gradient masking, the evaluation may be unreliable (try more Square queries "
                         "and restarts, or an adaptive attack)",
                         100 * (acc_white - acc_square));
    foil_progress_update(&c->progress, c->progress.total, NULL);
    free(robust);
    free(sub_adv);
    return st;
}
