/*
 * attacks/runner.c - the attack registry and foil_evasion_run: check the
 * request, classify the clean inputs, pick targets, run the attack, then
 * verify its output against the threat model before anyone sees it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attacks/attack_internal.h"
#include "attacks/gather.h"

#define BIT(n) (1u << (n))

typedef struct attack_entry {
    foil_evasion_info info;
    FoilEvasionFn run;
} attack_entry;

static const attack_entry attacks[] = {
    {{.name = "fgsm",
      .paper = "Goodfellow, Shlens, Szegedy 2015, Explaining and Harnessing Adversarial Examples",
      .summary = "one gradient step of size eps (sign for Linf, normalized for L2)",
      .norms = BIT(FOIL_NORM_LINF) | BIT(FOIL_NORM_L2),
      .targeted = 1,
      .defaults = "step size eps, params: loss=ce (or margin, dlr)"},
     foilEvasionFgsm},
    {{.name = "bim",
      .paper = "Kurakin, Goodfellow, Bengio 2017, Adversarial Examples in the Physical World",
      .summary = "iterated FGSM from x, projected each step, no random start",
      .norms = BIT(FOIL_NORM_LINF) | BIT(FOIL_NORM_L2) | BIT(FOIL_NORM_L1),
      .targeted = 1,
      .defaults = "steps 10, step size 2.5 eps / steps, params: loss=ce (or margin, dlr), early_stop=1, "
                  "l1_sparsity=0.99 (L1 only)"},
     foilEvasionBim},
    {{.name = "pgd",
      .paper = "Madry, Makelov, Schmidt, Tsipras, Vladu 2018, Towards Deep Learning Models Resistant to Adversarial "
               "Attacks; L1: Tramer & Boneh 2019, Adversarial Training and Robustness for Multiple Perturbations",
      .summary = "projected gradient ascent on cross-entropy (or the margin or DLR loss) from a random start; "
                 "restarts keep the best per example; L1 by sparse L1 descent",
      .norms = BIT(FOIL_NORM_LINF) | BIT(FOIL_NORM_L2) | BIT(FOIL_NORM_L1),
      .targeted = 1,
      .defaults = "steps 10, step size 2.5 eps / steps, restarts 1, params: loss=ce (or margin, dlr), random_start=1, "
                  "early_stop=1, l1_sparsity=0.99"},
     foilEvasionPgd},
    {{.name = "square",
      .paper = "Andriushchenko, Croce, Flammarion, Hein 2020, Square Attack: a Query-Efficient Black-Box "
               "Adversarial Attack via Random Search",
      .summary = "score-based random search: one random square window per query, kept when the margin loss "
                 "drops; images only",
      .norms = BIT(FOIL_NORM_LINF) | BIT(FOIL_NORM_L2),
      .black_box = 1,
      .needs = FOIL_NEEDS_SCORES,
      .targeted = 1,
      .defaults = "queries 5000 (the first on the initial point), restarts 1 (restarts split the budget), "
                  "params: p_init=0.8"},
     foilEvasionSquare},
    {{.name = "apgd-ce",
      .paper = "Croce & Hein 2020, Reliable evaluation of adversarial robustness with an ensemble of diverse "
               "parameter-free attacks (AutoAttack)",
      .summary = "Auto-PGD on cross-entropy: momentum, step size 2 eps halved at checkpoints when progress stalls, "
                 "restarts from the best point; targeted threat: -CE towards the target",
      .norms = BIT(FOIL_NORM_LINF) | BIT(FOIL_NORM_L2),
      .targeted = 1,
      .defaults = "steps 100, restarts 1, random start on the eps-sphere, params: rho=0.75"},
     foilEvasionApgdCe},
    {{.name = "apgd-dlr",
      .paper = "Croce & Hein 2020, Reliable evaluation of adversarial robustness with an ensemble of diverse "
               "parameter-free attacks (AutoAttack)",
      .summary = "Auto-PGD on the Difference of Logits Ratio loss (shift- and scale-invariant); needs >= 3 classes",
      .norms = BIT(FOIL_NORM_LINF) | BIT(FOIL_NORM_L2),
      .defaults = "steps 100, restarts 1, random start on the eps-sphere, params: rho=0.75"},
     foilEvasionApgdDlr},
    {{.name = "apgd-t",
      .paper = "Croce & Hein 2020, Reliable evaluation of adversarial robustness with an ensemble of diverse "
               "parameter-free attacks (AutoAttack)",
      .summary = "Auto-PGD on the targeted DLR loss towards each of the top n_target_classes other classes in turn "
                 "(untargeted goal); targeted threat: the given target only; needs >= 4 classes",
      .norms = BIT(FOIL_NORM_LINF) | BIT(FOIL_NORM_L2),
      .targeted = 1,
      .defaults = "steps 100 per target, restarts 1, params: n_target_classes=9, rho=0.75"},
     foilEvasionApgdT},
    {{.name = "cw-l2",
      .paper = "Carlini & Wagner 2017, Towards Evaluating the Robustness of Neural Networks",
      .summary = "minimises ||x' - x||_2^2 + c * margin loss in tanh space with Adam; binary search over c per "
                 "example; keeps the smallest successful x'",
      .norms = BIT(FOIL_NORM_L2),
      .minimal = 1,
      .targeted = 1,
      .defaults = "steps 1000 per binary step (--step-size: Adam learning rate 0.01), params: "
                  "binary_search_steps=9, initial_const=0.001, confidence=0, learning_rate=0.01, abort_early=1"},
     foilEvasionCwL2},
    {{.name = "deepfool",
      .paper = "Moosavi-Dezfooli, Fawzi, Frossard 2016, DeepFool: a simple and accurate method to fool deep neural "
               "networks",
      .summary = "steps to the nearest linearised decision boundary among the top classes until the label changes "
                 "(Linf via the l1 dual norm)",
      .norms = BIT(FOIL_NORM_LINF) | BIT(FOIL_NORM_L2),
      .minimal = 1,
      .defaults = "steps 50 (max_iter), params: overshoot=0.02, nb_candidate=10"},
     foilEvasionDeepfool},
    {{.name = "universal",
      .paper = "Moosavi-Dezfooli, Fawzi, Fawzi, Frossard 2017, Universal adversarial perturbations",
      .summary = "learns one perturbation on the fit set by accumulating DeepFool steps, projected onto the eps-ball "
                 "(the best of its passes); adds it to every input",
      .norms = BIT(FOIL_NORM_LINF) | BIT(FOIL_NORM_L2),
      .fits = 1,
      .defaults = "params: delta=0.2, max_passes=5, df_iter=10, overshoot=0.02, nb_candidate=10, fit_batch=32"},
     foilEvasionUniversal},
    {{.name = "patch",
      .paper = "Brown, Mane, Roy, Abadi, Gilmer 2017, Adversarial Patch",
      .summary = "learns one square patch on the fit set at random locations (signed gradient ascent on CE); pastes "
                 "it at a random location; images only, side from the L0 eps",
      .norms = BIT(FOIL_NORM_L0),
      .fits = 1,
      .defaults = "steps 500, step size 0.02 of the bounds' range, params: size=floor(sqrt(eps/C)), target=-1 "
                  "(untargeted; K: towards class K), fit_batch=32"},
     foilEvasionPatch},
    {{.name = "fab-t",
      .paper = "Croce & Hein 2020, Minimally distorted adversarial examples with a fast adaptive boundary attack; "
               "targeted version from Croce & Hein 2020, Reliable evaluation of adversarial robustness with an "
               "ensemble of diverse parameter-free attacks",
      .summary = "targeted Fast Adaptive Boundary: projects onto the linearised boundary to each of the top "
                 "n_target_classes other classes in turn, biased towards x; minimal perturbation (eps 0 = unbounded; "
                 "with eps > 0 an example stops once found within eps)",
      .norms = BIT(FOIL_NORM_LINF) | BIT(FOIL_NORM_L2),
      .minimal = 1,
      .targeted = 1,
      .defaults = "steps 100 per target, restarts 1, params: n_target_classes=9, alpha_max=0.1, eta=1.05, beta=0.9"},
     foilEvasionFabT},
    {{.name = "simba-pixel",
      .paper = "Guo, Gardner, You, Wilson, Weinberger 2019, Simple Black-box Adversarial Attacks",
      .summary = "score-based coordinate search: tries -step, then +step along each feature in random order, kept "
                 "when the goal class probability improves; any input shape",
      .norms = BIT(FOIL_NORM_LINF) | BIT(FOIL_NORM_L2),
      .black_box = 1,
      .needs = FOIL_NEEDS_SCORES,
      .targeted = 1,
      .defaults = "queries 10000 (one on x, then 1 or 2 per direction), step size 0.2"},
     foilEvasionSimbaPixel},
    {{.name = "simba-dct",
      .paper = "Guo, Gardner, You, Wilson, Weinberger 2019, Simple Black-box Adversarial Attacks",
      .summary = "SimBA along the orthonormal 2-D DCT basis, low frequencies first; images only",
      .norms = BIT(FOIL_NORM_LINF) | BIT(FOIL_NORM_L2),
      .black_box = 1,
      .needs = FOIL_NEEDS_SCORES,
      .targeted = 1,
      .defaults = "queries 10000, step size 0.2, params: freq_dims=round(H/8), stride=max(1,round(H/32)), "
                  "strided=1 (0: only the freq_dims^2 low frequencies, random order)"},
     foilEvasionSimbaDct},
    {{.name = "nes",
      .paper = "Ilyas, Engstrom, Athalye, Lin 2018, Black-box Adversarial Attacks with Limited Queries and "
               "Information",
      .summary = "score-based: NES gradient estimates of cross-entropy from antithetic Gaussian samples, momentum and "
                 "plateau annealing, projected sign (Linf) or normalised (L2) steps",
      .norms = BIT(FOIL_NORM_LINF) | BIT(FOIL_NORM_L2),
      .black_box = 1,
      .needs = FOIL_NEEDS_SCORES,
      .targeted = 1,
      .defaults = "queries 10000 (samples + 1 per step), step size eps/5, params: sigma=0.001, samples=50, "
                  "momentum=0.9"},
     foilEvasionNes},
    {{.name = "hsj",
      .paper = "Chen, Jordan, Wainwright 2020, HopSkipJumpAttack: A Query-Efficient Decision-Based Attack",
      .summary = "decision-based (labels only): binary search to the boundary, gradient direction from label "
                 "samples, geometric step; minimal perturbation (eps 0 = unbounded; with eps > 0 an example stops "
                 "once within eps)",
      .norms = BIT(FOIL_NORM_LINF) | BIT(FOIL_NORM_L2),
      .black_box = 1,
      .needs = FOIL_NEEDS_LABELS,
      .minimal = 1,
      .targeted = 1,
      .defaults = "queries 5000, steps 40, params: gamma=1, init_evals=100, max_evals=10000"},
     foilEvasionHsj},
    {{.name = "autoattack",
      .paper = "Croce & Hein 2020, Reliable evaluation of adversarial robustness with an ensemble of diverse "
               "parameter-free attacks (AutoAttack, standard version)",
      .summary = "APGD-CE, APGD-T, FAB-T, then Square, each on the examples still robust; worst case per example; "
                 "warns on randomized models, probability outputs, zero gradients and when Square beats the "
                 "white-box attacks (gradient masking)",
      .norms = BIT(FOIL_NORM_LINF) | BIT(FOIL_NORM_L2),
      .defaults = "steps 100 (APGD, FAB), restarts 1 (APGD-CE), queries 5000 (Square, p_init 0.8), "
                  "params: n_target_classes=9"},
     foilEvasionAutoattack},
};

#define N_ATTACKS ((int)(sizeof attacks / sizeof attacks[0]))

int foil_evasion_count(void) { return N_ATTACKS; }

const foil_evasion_info *foil_evasion_at(int i) { return i >= 0 && i < N_ATTACKS ? &attacks[i].info : NULL; }

static const attack_entry *find_entry(const char *name)
{
    for (int i = 0; name && i < N_ATTACKS; i++)
        if (strcmp(attacks[i].info.name, name) == 0) return &attacks[i];
    return NULL;
}

const foil_evasion_info *foil_evasion_find(const char *name)
{
    const attack_entry *e = find_entry(name);
    return e ? &e->info : NULL;
}

const char *foil_norm_name(foil_norm norm)
{
    static const char *names[] = {"linf", "l2", "l1", "l0"};
    return (unsigned)norm < 4 ? names[norm] : "?";
}

int foil_norm_parse(const char *s)
{
    if (!s) return -1;
    if (strcmp(s, "linf") == 0 || strcmp(s, "inf") == 0) return FOIL_NORM_LINF;
    if (strcmp(s, "l2") == 0) return FOIL_NORM_L2;
    if (strcmp(s, "l1") == 0) return FOIL_NORM_L1;
    if (strcmp(s, "l0") == 0) return FOIL_NORM_L0;
    return -1;
}

const char *foil_evasion_needs_name(foil_evasion_needs needs)
{
    switch (needs) {
    case FOIL_NEEDS_GRADIENTS: return "input gradients";
    case FOIL_NEEDS_SCORES: return "per-class scores";
    case FOIL_NEEDS_LABELS: return "labels";
    }
    return "?";
}

/* ---- the request ---- */

/* The attack's needs against the model's capabilities: a white-box attack
 * on a model that only answers queries would otherwise fail midway, or, on
 * a labels-only model, a score-based one would search a flat landscape. */
static foil_status check_capabilities(const attack_entry *e, const foil_model *model)
{
    const unsigned caps = foil_model_capabilities(model);
    const char *name = e->info.name;
    if (e->info.needs == FOIL_NEEDS_GRADIENTS && !(caps & FOIL_MODEL_GRADIENTS) && foil_model_why_no_gradients(model))
        return foil_error(FOIL_ERR_CAPABILITY, "%s needs input gradients, but %s is not differentiable: %s; attack it "
                          "with a score-based attack (square, simba-pixel, simba-dct, nes) or a decision-based one "
                          "(hsj)", name, foil_model_name(model), foil_model_why_no_gradients(model));
    if (e->info.needs == FOIL_NEEDS_GRADIENTS && !(caps & FOIL_MODEL_GRADIENTS))
        return foil_error(FOIL_ERR_CAPABILITY, "%s needs input gradients, but %s is a %s model that only answers "
                          "queries; attack it with a score-based attack (square, simba-pixel, simba-dct, nes) or a "
                          "decision-based one (hsj)", name, foil_model_name(model), foil_model_kind(model));
    if (e->info.needs == FOIL_NEEDS_SCORES && !(caps & FOIL_MODEL_SCORES))
        return foil_error(FOIL_ERR_CAPABILITY, "%s needs per-class scores, but %s returns labels only; attack it with "
                          "the decision-based hsj", name, foil_model_name(model));
    return FOIL_OK;
}

static foil_status check_request(const attack_entry *e, foil_model *model, const foil_tensor *x, const int64_t *y,
                                 const foil_threat *t, int64_t classes)
{
    const char *name = e->info.name;
    if (x->dtype != FOIL_F32 || x->ndim < 2 || x->shape[0] < 1)
        return foil_error(FOIL_ERR_ARG, "%s: inputs must be float32 (N, ...) with N >= 1", name);
    if (!(e->info.norms & BIT(t->norm)))
        return foil_error(FOIL_ERR_ARG, "%s does not support the %s norm", name, foil_norm_name(t->norm));
    if (!isfinite(t->eps) || t->eps < 0) return foil_error(FOIL_ERR_ARG, "%s: eps must be a finite number >= 0", name);
    if (t->eps == 0 && !e->info.minimal)
        return foil_error(FOIL_ERR_ARG, "%s needs eps > 0 (only minimal-perturbation attacks run unbounded)", name);
    if (t->steps < 0 || t->restarts < 0 || t->queries < 0 || !isfinite(t->step_size) || t->step_size < 0)
        return foil_error(FOIL_ERR_ARG, "%s: steps, restarts, queries and step size must be >= 0", name);
    if (t->target_mode != FOIL_UNTARGETED && !e->info.targeted)
        return foil_error(FOIL_ERR_ARG, "%s has no targeted mode", name);
    if (t->target_mode != FOIL_UNTARGETED && classes < 2)
        return foil_error(FOIL_ERR_ARG, "%s: a targeted attack needs at least two classes", name);
    if (t->target_mode == FOIL_TARGET_GIVEN && !t->targets)
        return foil_error(FOIL_ERR_ARG, "%s: targeted mode 'given' needs target labels", name);
    if (!t->lower || !t->upper) return foil_error(FOIL_ERR_ARG, "%s: input bounds are required", name);
    int64_t d = x->numel / x->shape[0];
    for (int64_t j = 0; j < d; j++)
        if (!(t->lower[j] <= t->upper[j]))
            return foil_error(FOIL_ERR_ARG, "%s: feature %lld has lower bound above upper bound", name, (long long)j);
    for (int64_t i = 0; i < x->shape[0]; i++) {
        if (y[i] < 0 || y[i] >= classes)
            return foil_error(FOIL_ERR_ARG, "%s: label %lld of example %lld is outside [0, %lld) of %s", name,
                              (long long)y[i], (long long)i, (long long)classes, foil_model_path(model));
        if (t->target_mode == FOIL_TARGET_GIVEN && (t->targets[i] < 0 || t->targets[i] >= classes))
            return foil_error(FOIL_ERR_ARG, "%s: target %lld of example %lld is outside [0, %lld)", name,
                              (long long)t->targets[i], (long long)i, (long long)classes);
    }
    const float *xs = foil_f32(x);
    for (int64_t i = 0; i < x->shape[0]; i++)
        for (int64_t j = 0; j < d; j++) {
            float v = xs[i * d + j];
            if (!(v >= t->lower[j] && v <= t->upper[j]))
                return foil_error(FOIL_ERR_ARG,
                                  "%s: example %lld, feature %lld = %g lies outside its bounds [%g, %g] "
                                  "(the clean input must be valid)",
                                  name, (long long)i, (long long)j, v, t->lower[j], t->upper[j]);
        }
    return FOIL_OK;
}

static foil_status alloc_result(foil_evasion_result *r, const foil_tensor *x)
{
    memset(r, 0, sizeof *r);
    int64_t n = x->shape[0];
    r->n = n;
    foil_status st = foil_tensor_copy(&r->adv, x);
    if (st) return st;
    size_t sn = (size_t)n;
    r->clean_pred = calloc(sn, sizeof *r->clean_pred);
    r->adv_pred = calloc(sn, sizeof *r->adv_pred);
    r->target = calloc(sn, sizeof *r->target);
    r->attacked = calloc(sn, 1);
    r->success = calloc(sn, 1);
    r->norm = calloc(sn, sizeof *r->norm);
    r->norm_l0 = calloc(sn, sizeof *r->norm_l0);
    r->queries = calloc(sn, sizeof *r->queries);
    r->grads = calloc(sn, sizeof *r->grads);
    r->zero_grad = calloc(sn, 1);
    if (!r->clean_pred || !r->adv_pred || !r->target || !r->attacked || !r->success || !r->norm || !r->norm_l0 ||
        !r->queries || !r->grads || !r->zero_grad)
        return foil_error(FOIL_ERR_NOMEM, "out of memory for attack results of %lld examples", (long long)n);
    return FOIL_OK;
}

void foil_evasion_result_free(foil_evasion_result *r)
{
    if (!r) return;
    foil_tensor_free(&r->adv);
    free(r->clean_pred);
    free(r->adv_pred);
    free(r->target);
    free(r->attacked);
    free(r->success);
    free(r->norm);
    free(r->norm_l0);
    free(r->queries);
    free(r->grads);
    free(r->zero_grad);
    memset(r, 0, sizeof *r);
}

/* Predictions of the model on x: counted by the model, but not charged to
 * any example (the runner measuring, not the attack querying); also
 * returns the scores when asked. */
static foil_status predict_labels(foil_model *model, const foil_tensor *x, int64_t classes, int64_t *pred,
                                  float **logits_out)
{
    foil_tensor z = {0};
    foil_status st = foil_model_predict(model, x, &z);
    if (st) {
        foil_tensor_free(&z); /* predict may have allocated it before failing */
        return st;
    }
    for (int64_t i = 0; i < x->shape[0]; i++) pred[i] = foilArgmax(foil_f32(&z) + i * classes, classes);
    if (logits_out) {
        *logits_out = foil_f32(&z);
        z.owns_data = 0;
    }
    foil_tensor_free(&z);
    return FOIL_OK;
}

static void choose_targets(const foil_threat *t, const int64_t *y, const float *logits, int64_t n, int64_t classes,
                           int64_t first_example, int64_t *target)
{
    for (int64_t i = 0; i < n; i++) {
        switch (t->target_mode) {
        case FOIL_UNTARGETED: target[i] = y[i]; break;
        case FOIL_TARGET_GIVEN: target[i] = t->targets[i]; break;
        case FOIL_TARGET_RANDOM: {
            foil_rng r = foil_rng_make(foil_rng_at(t->seed, 0x7a5), (uint64_t)(first_example + i));
            int64_t k = (int64_t)foil_rng_below(&r, (uint64_t)(classes - 1));
            target[i] = k >= y[i] ? k + 1 : k;
            break;
        }
        case FOIL_TARGET_LEAST_LIKELY: {
            const float *z = logits + i * classes;
            int64_t m = 0;
            for (int64_t k = 1; k < classes; k++)
                if (z[k] < z[m]) m = k;
            target[i] = m;
            break;
        }
        }
    }
}

/* ---- after the attack ---- */

/* Integer features: the nearest integer to the attack's value that stays in
 * the bounds and within eps (Linf) of x; if none does, x's own value. */
static void round_integers(const foil_threat *t, const float *x, float *a, int64_t d)
{
    if (!t->integer) return;
    for (int64_t j = 0; j < d; j++) {
        if (!t->integer[j] || a[j] == x[j]) continue;
        float lo = t->lower[j], hi = t->upper[j];
        if (t->norm == FOIL_NORM_LINF && t->eps > 0) {
            lo = fmaxf(lo, x[j] - t->eps);
            hi = fminf(hi, x[j] + t->eps);
        }
        float v = rintf(a[j]);
        if (v < lo) v = ceilf(lo);
        if (v > hi) v = floorf(hi);
        a[j] = v >= lo && v <= hi ? v : x[j];
    }
}

/* One unit in the last place of v (v >= 0). */
static float ulp(float v) { return nextafterf(v, INFINITY) - v; }

/* The guarantee: a violation is the attack's bug, reported, not repaired. */
static foil_status verify_row(const char *name, const foil_threat *t, const float *x, const float *a, int64_t d,
                              int64_t i, float norm, int bounded)
{
    const int linf = bounded && t->norm == FOIL_NORM_LINF;
    float rounding = 0; /* Linf: x + eps itself rounds by up to an ulp of |x| + eps */
    for (int64_t j = 0; j < d; j++) {
        if (linf) rounding = fmaxf(rounding, ulp(fabsf(x[j]) + t->eps));
        if (!(a[j] >= t->lower[j] && a[j] <= t->upper[j]))
            return foil_error(FOIL_ERR_RUNTIME, "%s: internal error: example %lld feature %lld = %g left its bounds",
                              name, (long long)i, (long long)j, a[j]);
        if (t->immutable && t->immutable[j] && a[j] != x[j])
            return foil_error(FOIL_ERR_RUNTIME, "%s: internal error: example %lld changed immutable feature %lld",
                              name, (long long)i, (long long)j);
        if (t->integer && t->integer[j] && a[j] != x[j] && a[j] != rintf(a[j]))
            return foil_error(FOIL_ERR_RUNTIME, "%s: internal error: example %lld integer feature %lld = %g", name,
                              (long long)i, (long long)j, a[j]);
    }
    /* Float rounding of x + delta may overshoot eps by a few ulps. */
    float slack = t->eps * 1e-5f + 1e-6f + rounding;
    if (bounded && t->norm != FOIL_NORM_L0 && norm > t->eps + slack)
        return foil_error(FOIL_ERR_RUNTIME, "%s: internal error: example %lld has %s norm %g > eps %g", name,
                          (long long)i, foil_norm_name(t->norm), norm, t->eps);
    if (bounded && t->norm == FOIL_NORM_L0 && norm > t->eps)
        return foil_error(FOIL_ERR_RUNTIME, "%s: internal error: example %lld changed %g > %g features", name,
                          (long long)i, norm, t->eps);
    return FOIL_OK;
}

foil_status foil_evasion_judge(foil_model *judge, const foil_tensor *x, const int64_t *y, const foil_threat *t,
                               foil_evasion_result *r)
{
    foil_tensor clean = {0}, adv = {0};
    foil_status st = foil_model_predict(judge, x, &clean);
    if (!st) st = foil_model_predict(judge, &r->adv, &adv);
    const int64_t c = st ? 0 : clean.shape[1];
    const int targeted = t->target_mode != FOIL_UNTARGETED;
    for (int64_t i = 0; i < r->n && !st; i++) {
        r->clean_pred[i] = foilArgmax(foil_f32(&clean) + i * c, c);
        r->adv_pred[i] = foilArgmax(foil_f32(&adv) + i * c, c);
        r->attacked[i] = r->clean_pred[i] == y[i];
        r->success[i] = r->attacked[i] && (targeted ? r->adv_pred[i] == r->target[i] : r->adv_pred[i] != y[i]);
    }
    foil_tensor_free(&clean);
    foil_tensor_free(&adv);
    return st;
}

void foil_evasion_zero_gradients(const foil_evasion_result *r, int64_t *taken, int64_t *flat)
{
    *taken = r->fit_grad_examples;
    *flat = r->fit_zero_grads;
    for (int64_t i = 0; i < r->n; i++) {
        if (!r->attacked[i] || r->grads[i] == 0) continue;
        (*taken)++;
        *flat += r->zero_grad[i];
    }
}

/* What to run when attack `name` met flat gradients: losses that do not
 * saturate (margin, DLR) and AutoAttack, whose APGD-T, FAB-T and Square do
 * not use cross-entropy. */
static const char *zero_gradient_remedy(const char *name)
{
    if (strcmp(name, "fgsm") == 0 || strcmp(name, "bim") == 0 || strcmp(name, "pgd") == 0)
        return "the same attack with --params loss=margin (or loss=dlr), --attack apgd-dlr, or --attack autoattack";
    if (strcmp(name, "autoattack") == 0)
        return "--attack apgd-dlr or --attack pgd --params loss=margin, to compare with AutoAttack's own figure";
    return "--attack apgd-dlr, --attack pgd --params loss=margin, or --attack autoattack";
}

int foilEvasionZeroGradientWarning(const char *name, const foil_evasion_result *r, char *out, size_t len)
{
    int64_t taken, flat;
    foil_evasion_zero_gradients(r, &taken, &flat);
    if (!taken || !((double)flat > FOIL_ZERO_GRADIENT_WARN * (double)taken)) return 0;
    snprintf(out, len,
             "%s: %lld of %lld examples (%.1f%%) had an input gradient of exactly zero (or non-finite) at the "
             "attack's first step, so gradient steps could not move them and the robust accuracy overstates "
             "robustness. Cause: a flat loss, most often a saturated softmax (logits too large, e.g. a model fed "
             "0-255 pixels or a distilled model), else masked gradients. Run instead: %s",
             name, (long long)flat, (long long)taken, 100.0 * (double)flat / (double)taken, zero_gradient_remedy(name));
    return 1;
}

/* A gradient attack that could not move: say why and what works instead. */
static void warn_zero_gradients(FoilEvasionCtx *c, const foil_evasion_result *r)
{
    char line[1024];
    if (foilEvasionZeroGradientWarning(c->info->name, r, line, sizeof line)) foilEvasionWarn(c, "%s", line);
}

static foil_status finish(const attack_entry *e, foil_model *model, const foil_tensor *x, const foil_threat *t,
                          int64_t classes, foil_evasion_result *r)
{
    int64_t n = r->n, d = x->numel / n;
    const float *xs = foil_f32(x);
    float *adv = foil_f32(&r->adv);
    float *delta = malloc((size_t)d * sizeof *delta);
    if (!delta) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        float *a = adv + i * d;
        if (!r->attacked[i]) memcpy(a, xs + i * d, (size_t)d * sizeof *a);
        round_integers(t, xs + i * d, a, d);
    }
    foil_status st = predict_labels(model, &r->adv, classes, r->adv_pred, NULL);
    for (int64_t i = 0; !st && i < n; i++) {
        float *a = adv + i * d;
        for (int64_t j = 0; j < d; j++) delta[j] = a[j] - xs[i * d + j];
        r->norm[i] = foil_vec_norm(t->norm, delta, d);
        r->norm_l0[i] = foil_vec_norm(FOIL_NORM_L0, delta, d);
        int goal = t->target_mode != FOIL_UNTARGETED ? r->adv_pred[i] == r->target[i] : r->adv_pred[i] != r->target[i];
        r->success[i] = r->attacked[i] && goal;
        /* A minimal-perturbation attack's answer beyond eps does not count. */
        if (t->eps > 0 && e->info.minimal && r->norm[i] > t->eps) {
            memcpy(a, xs + i * d, (size_t)d * sizeof *a);
            r->success[i] = 0;
            r->adv_pred[i] = r->clean_pred[i];
            r->norm[i] = r->norm_l0[i] = 0;
        }
        st = verify_row(e->info.name, t, xs + i * d, a, d, i, r->norm[i], t->eps > 0);
    }
    free(delta);
    return st;
}

foil_status foil_evasion_run(const char *name, foil_model *model, const foil_tensor *x, const int64_t *y,
                            const foil_threat *threat, const foil_evasion_options *opt, foil_evasion_result *r)
{
    memset(r, 0, sizeof *r);
    const attack_entry *e = find_entry(name);
    if (!e) return foil_error(FOIL_ERR_ARG, "unknown attack '%s' (see foil attack --help)", name ? name : "(null)");
    foil_evasion_options no_opt = {0};
    if (!opt) opt = &no_opt;
    foil_status st = check_capabilities(e, model);
    if (st) return st;
    int64_t classes;
    if ((st = foil_model_num_classes(model, &classes))) return st;
    if ((st = check_request(e, model, x, y, threat, classes))) return st;
    const int64_t queries_before = foil_model_queries(model), grads_before = foil_model_gradients(model);
    if ((st = alloc_result(r, x))) goto fail;
    float *clean_logits = NULL;
    foil_model_set_max_batch(model, opt->batch > 0 ? opt->batch : 250);
    if ((st = predict_labels(model, x, classes, r->clean_pred, &clean_logits))) goto fail;
    choose_targets(threat, y, clean_logits, r->n, classes, opt->first_example, r->target);
    foil_free(clean_logits);
    int64_t attacked = 0;
    for (int64_t i = 0; i < r->n; i++) {
        r->attacked[i] = r->clean_pred[i] == y[i] && (threat->target_mode == FOIL_UNTARGETED || r->target[i] != y[i]);
        attacked += r->attacked[i];
    }

    FoilEvasionCtx c = {0};
    c.info = &e->info;
    c.model = model;
    c.t = threat;
    c.opt = opt;
    c.first_example = opt->first_example;
    c.n = r->n;
    c.d = x->numel / r->n;
    c.classes = classes;
    c.ndim = x->ndim;
    memcpy(c.shape, x->shape, sizeof c.shape);
    c.x = foil_f32(x);
    c.y = y;
    c.target = r->target;
    c.targeted = threat->target_mode != FOIL_UNTARGETED;
    c.attacked = r->attacked;
    c.adv = foil_f32(&r->adv);
    c.queries = r->queries;
    c.grads = r->grads;
    c.zero_grad = r->zero_grad;
    c.fit_queries = &r->fit_queries;
    c.fit_grads = &r->fit_grads;
    c.fit_grad_examples = &r->fit_grad_examples;
    c.fit_zero_grads = &r->fit_zero_grads;
    c.warnings = r->warnings;
    c.warnings_len = sizeof r->warnings;
    foil_progress_start(&c.progress, opt->label ? opt->label : e->info.name, attacked, "img", opt->quiet);
    double t0 = foil_now();
    st = e->run(&c);
    r->seconds = foil_now() - t0;
    foil_progress_finish(&c.progress, NULL);
    if (!st) warn_zero_gradients(&c, r);
    if (!st) st = finish(e, model, x, threat, classes, r);
    r->model_queries = foil_model_queries(model) - queries_before;
    r->model_grads = foil_model_gradients(model) - grads_before;
    if (!st) return FOIL_OK;
fail:
    foil_evasion_result_free(r);
    return st;
}
