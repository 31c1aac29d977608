/*
 * eval/audit.c - the audit's stages and figures (see audit.h).
 *
 * Every attack runs on the same seeded sample, so the worst case over the
 * attacks at one (norm, eps) is taken per example: robust only when no
 * attack fooled it (AutoAttack's rule). Confidence intervals are Wilson
 * score intervals at 95%, which stay inside [0, 1] and behave at 0 and n
 * (Brown, Cai and DasGupta 2001), where the normal approximation does not.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eval/audit.h"
#include "eval/audit_detection.h"
#include "eval/audit_examples.h"
#include "foil/progress.h"
#include "foil/rng.h"

/* What a profile runs: sample size and budgets. */
typedef struct profile_budget {
    int64_t examples;
    int64_t verify_examples;     /* the first ones of the sample, bounded by CROWN (about 0.4 s each for cnn-small) */
    int64_t backdoor_images;     /* the first ones, Neural Cleanse's clean images (its time does not grow with them:
                                    each step draws a batch of 32) */
    int64_t pgd_steps, apgd_steps, queries;
    int autoattack;              /* also AutoAttack (standard version) at every Linf eps */
} profile_budget;

static const profile_budget budgets[] = {
    [FOIL_AUDIT_QUICK] = {500, 20, 500, 20, 50, 1000, 0},
    [FOIL_AUDIT_STANDARD] = {1000, 100, 1000, 50, 100, 5000, 0},
    [FOIL_AUDIT_THOROUGH] = {10000, 500, 1000, 100, 100, 10000, 1},
};

/* eps in units of the data's range (images): Linf 0.03 ... 0.2 and L2 0.5 ... 2
 * for [0, 1] pixels, the budgets the robustness literature reports on MNIST-
 * and CIFAR-sized images. */
static const double linf_eps[] = {0.03, 0.05, 0.1, 0.2};
static const double l2_eps[] = {0.5, 1.0, 2.0};

int foilAuditProfileParse(const char *name)
{
    for (int p = FOIL_AUDIT_QUICK; p <= FOIL_AUDIT_THOROUGH; p++)
        if (name && strcmp(name, foilAuditProfileName((FoilAuditProfile)p)) == 0) return p;
    return -1;
}

const char *foilAuditProfileName(FoilAuditProfile p)
{
    return p == FOIL_AUDIT_QUICK ? "quick" : p == FOIL_AUDIT_STANDARD ? "standard" : "thorough";
}

FoilAuditFigure foilAuditFigure(int64_t k, int64_t n)
{
    FoilAuditFigure f = {k, n, NAN, 0, 1};
    if (n <= 0) return f;
    const double z = 1.959963984540054, p = (double)k / (double)n, z2n = z * z / (double)n;
    double centre = (p + z2n / 2) / (1 + z2n);
    double half = z / (1 + z2n) * sqrt(p * (1 - p) / (double)n + z2n / (4 * (double)n));
    f.value = p;
    f.low = k == 0 ? 0 : fmax(0, centre - half); /* exact ends: no rounding residue at 0 and n */
    f.high = k == n ? 1 : fmin(1, centre + half);
    return f;
}

/* ---- the sample ---- */

/* n of d's examples, each subset equally likely, in index order so that
 * the sample reads like the data: selection sampling (Knuth, TAOCP vol. 2,
 * 3.4.2, Algorithm S) keeps example i with probability (n - taken) /
 * (total - i). */
static foil_status take_sample(const foil_dataset *d, int64_t n, uint64_t seed, foil_tensor *x, int64_t **y)
{
    int64_t total = d->x.shape[0], f = foil_dataset_example_size(d);
    int64_t shape[FOIL_MAX_DIMS];
    memcpy(shape, d->x.shape, sizeof shape);
    shape[0] = n;
    *y = malloc((size_t)n * sizeof **y);
    if (!*y) return foil_error(FOIL_ERR_NOMEM, "audit: out of memory for the sample");
    foil_status st = foil_tensor_alloc(x, FOIL_F32, d->x.ndim, shape);
    foil_rng rng = foil_rng_make(seed, 0xa0d17);
    for (int64_t i = 0, taken = 0; !st && taken < n; i++) {
        if (foil_rng_uniform_d(&rng) * (double)(total - i) >= (double)(n - taken)) continue;
        memcpy(foil_f32(x) + taken * f, foil_f32(&d->x) + i * f, (size_t)f * sizeof(float));
        (*y)[taken++] = foil_i64(&d->y)[i];
    }
    return st;
}

/* ---- stages ---- */

/* The headline eps: the middle of the Linf list, the larger of two middles (0.1 on [0, 1] images). */
static double headline_eps(const FoilAudit *a) { return a->config.eps_linf[a->config.n_eps_linf / 2]; }


typedef struct audit_state {
    FoilAudit *a;
    const FoilAuditModels *models;
    const foil_dataset *d;
    foil_tensor x;
    int64_t *y;
    uint8_t *fooled[2 * FOIL_AUDIT_MAX_EPS]; /* per worst[] entry, per example */
    int stage, stages;
} audit_state;

/* One attack run the audit plans. */
typedef struct audit_stage {
    const char *attack;
    foil_norm norm;
    double eps;
    int64_t steps, queries;
    int adaptive;                /* on the adaptive model */
} audit_stage;

/* *w: the worst case at (norm, eps), made on first use. */
static foil_status worst_index(audit_state *s, foil_norm norm, double eps, int *w)
{
    FoilAudit *a = s->a;
    for (*w = 0; *w < a->n_worst; (*w)++)
        if (a->worst[*w].norm == norm && a->worst[*w].eps == eps) return FOIL_OK;
    if (a->n_worst == 2 * FOIL_AUDIT_MAX_EPS)
        return foil_error(FOIL_ERR_ARG, "audit: more than %d (norm, eps) pairs", 2 * FOIL_AUDIT_MAX_EPS);
    if (!(s->fooled[a->n_worst] = calloc((size_t)s->x.shape[0], 1)))
        return foil_error(FOIL_ERR_NOMEM, "audit: out of memory");
    a->worst[a->n_worst] = (FoilAuditWorst){.norm = norm, .eps = eps};
    *w = a->n_worst++;
    return FOIL_OK;
}

/* The same attack at the same (norm, eps) on the defense as given, run just
 * before its adaptive twin; NULL when there was none. */
static const FoilAuditRun *plain_twin(const FoilAudit *a, const FoilAuditRun *run)
{
    for (int i = a->n_runs - 2; i >= 0; i--) {
        const FoilAuditRun *r = &a->runs[i];
        if (!foilAuditRunVariant(r)[0] && r->attack == run->attack && r->norm == run->norm && r->eps == run->eps) return r;
    }
    return NULL;
}

/* An adaptive attack that leaves far less than the plain one did: the
 * defense's robustness was gradient masking (Athalye et al. 2018). */
static void flag_masking(FoilAudit *a, FoilAuditRun *run)
{
    const FoilAuditRun *plain = plain_twin(a, run);
    if (!plain || !(plain->robust.value - run->robust.value > 0.05)) return;
    a->gradient_masking++;
    size_t len = strlen(run->warnings);
    snprintf(run->warnings + len, sizeof run->warnings - len,
             "%sgradient masking: %.1f%% robust against the defense as given, %.1f%% once the attack adapts (%s); "
             "the adaptive figure is the one to report", len ? "\n" : "", 100 * plain->robust.value,
             100 * run->robust.value, run->variant + 1);
}

static foil_status run_one(audit_state *s, const audit_stage *g)
{
    FoilAudit *a = s->a;
    const char *variant = g->adaptive ? s->models->adaptive_tag : "";
    if (a->n_runs == FOIL_AUDIT_MAX_RUNS) return foil_error(FOIL_ERR_ARG, "audit: too many attack runs");
    s->stage++;
    /* a terminal gets the attack's progress bar, labelled with the stage;
     * a log (CI) a line per stage */
    if (!a->config.quiet && !isatty(STDERR_FILENO))
        fprintf(stderr, "foil audit: [%d/%d] %s%s %s eps %g\n", s->stage, s->stages, g->attack, variant,
                foil_norm_name(g->norm), g->eps);
    foil_threat t = {.norm = g->norm, .eps = (float)g->eps, .lower = foil_f32(&s->d->lower),
                     .upper = foil_f32(&s->d->upper), .steps = g->steps, .queries = g->queries, .seed = a->config.seed};
    char label[48];
    snprintf(label, sizeof label, "[%d/%d] %s%s %s %g", s->stage, s->stages, g->attack, variant,
             foil_norm_name(g->norm), g->eps);
    foil_evasion_options opt = {.batch = a->config.batch > 0 ? a->config.batch : 250, .quiet = a->config.quiet,
                                .label = label};
    foil_evasion_result r = {0};
    foil_model *model = g->adaptive ? s->models->adaptive : s->models->model;
    foil_status st = foil_evasion_run(g->attack, model, &s->x, s->y, &t, &opt, &r);
    if (st) return foil_error_prefix(st, "audit: %s%s %s eps %g", g->attack, variant, foil_norm_name(g->norm), g->eps);
    FoilAuditRun *run = &a->runs[a->n_runs++];
    *run = (FoilAuditRun){.attack = foil_evasion_find(g->attack)->name, .variant = variant, .norm = g->norm,
                          .eps = g->eps, .steps = g->steps, .queries = g->queries};
    foil_evasion_summarize(&r, &run->summary);
    run->robust = foilAuditFigure(run->summary.attacked - run->summary.fooled, run->summary.examples);
    snprintf(run->warnings, sizeof run->warnings, "%s", r.warnings);
    if (g->adaptive) flag_masking(a, run);
    if (g->norm == FOIL_NORM_LINF && g->eps == headline_eps(a)) {
        foilAuditKeepAdversarial(a, run->attack, &r);
        if (!g->adaptive) st = foilAuditScoreRun(a, s->models, run->attack, &r);
    }
    /* a worst case that cannot be kept fails the audit: it must not report a
     * figure that leaves out an attack */
    int w = -1;
    if (!st) st = worst_index(s, g->norm, g->eps, &w);
    if (!st) {
        a->worst[w].attacks++;
        for (int64_t i = 0; i < r.n; i++) s->fooled[w][i] |= r.success[i];
    }
    foil_evasion_result_free(&r);
    return st;
}

static foil_status clean_stage(audit_state *s, int64_t **pred)
{
    FoilAudit *a = s->a;
    foil_tensor logits = {0};
    foil_status st = foil_model_predict(s->models->model, &s->x, &logits);
    if (st) return foil_error_prefix(st, "audit: clean evaluation");
    int64_t n = s->x.shape[0], classes = logits.numel / n, right = 0;
    if (classes != s->d->classes) {
        foil_tensor_free(&logits);
        return foil_error(FOIL_ERR_SHAPE, "audit: the model gives %lld scores per example but %s has %lld classes",
                          (long long)classes, s->d->name, (long long)s->d->classes);
    }
    *pred = malloc((size_t)n * sizeof **pred);
    if (!*pred) {
        foil_tensor_free(&logits);
        return foil_error(FOIL_ERR_NOMEM, "audit: out of memory");
    }
    for (int64_t i = 0; i < n; i++) {
        const float *row = foil_f32(&logits) + i * classes;
        int64_t best = 0;
        for (int64_t c = 1; c < classes; c++)
            if (row[c] > row[best]) best = c;
        (*pred)[i] = best;
        right += best == s->y[i];
    }
    foil_tensor_free(&logits);
    a->clean = foilAuditFigure(right, n);
    return FOIL_OK;
}

/* Accuracy per class of the sample: right[i] marks example i. */
static void per_class(const audit_state *s, const uint8_t *right, double *out)
{
    int64_t classes = s->a->classes;
    for (int64_t c = 0; c < classes; c++) {
        int64_t n = 0, k = 0;
        for (int64_t i = 0; i < s->x.shape[0]; i++)
            if (s->y[i] == c) n++, k += right[i];
        out[c] = n ? (double)k / (double)n : NAN;
    }
}

void foilAuditSkip(FoilAudit *a, const char *why)
{
    if (a->n_skipped < FOIL_AUDIT_MAX_SKIPPED) a->skipped[a->n_skipped++] = why;
}

static void resolve_config(FoilAudit *a, const foil_dataset *d)
{
    FoilAuditConfig *c = &a->config;
    const profile_budget *b = &budgets[c->profile];
    if (c->examples <= 0) c->examples = b->examples;
    if (c->examples > d->x.shape[0]) c->examples = d->x.shape[0];
    if (c->queries <= 0) c->queries = b->queries;
    double range = d->is_image ? (double)(foil_f32(&d->upper)[0] - foil_f32(&d->lower)[0]) : 1.0;
    if (!c->n_eps_linf) {
        c->n_eps_linf = (int)(sizeof linf_eps / sizeof *linf_eps);
        for (int k = 0; k < c->n_eps_linf; k++) c->eps_linf[k] = linf_eps[k] * range;
    }
    if (!c->n_eps_l2 && d->is_image) {
        /* L2 budgets grow with the image: these are for 28 x 28; sqrt(features / 784) scales them */
        double scale = range * sqrt((double)foil_dataset_example_size(d) / 784.0);
        c->n_eps_l2 = (int)(sizeof l2_eps / sizeof *l2_eps);
        for (int k = 0; k < c->n_eps_l2; k++) c->eps_l2[k] = l2_eps[k] * scale;
    }
    a->profile_name = foilAuditProfileName(c->profile);
}

/* Which models an attack runs on: the model as given when it can take the
 * attack, and the adaptive one (a declared defense) when it can and the
 * attack differs there: gradients through BPDA, or EOT's averaged draws. */
typedef struct audit_targets {
    int plain_gradients;
    int adaptive_gradients, adaptive_queries; /* black-box attacks adapt only to a randomized defense (EOT) */
} audit_targets;

static int add_stage(audit_stage *list, int n, const audit_stage *g)
{
    if (n < FOIL_AUDIT_MAX_RUNS) list[n] = *g;
    return n + 1;
}

/* A white-box attack on each model that gives gradients. */
static int add_white(audit_stage *list, int n, const audit_targets *t, audit_stage g)
{
    if (t->plain_gradients) n = add_stage(list, n, &g);
    g.adaptive = 1;
    return t->adaptive_gradients ? add_stage(list, n, &g) : n;
}

static int add_black(audit_stage *list, int n, const audit_targets *t, audit_stage g)
{
    n = add_stage(list, n, &g);
    g.adaptive = 1;
    return t->adaptive_queries ? add_stage(list, n, &g) : n;
}

/* Every attack run, in order: per Linf eps FGSM, PGD, APGD-CE, APGD-DLR
 * (3 classes or more) and, thorough, AutoAttack; per L2 eps PGD and
 * APGD-CE; at the headline eps one score-based and one decision-based
 * attack under the query budget. Returns the count; at most
 * FOIL_AUDIT_MAX_RUNS are written. */
static int plan_stages(const FoilAudit *a, const audit_targets *t, int scores, int is_image, audit_stage *list)
{
    const FoilAuditConfig *c = &a->config;
    const profile_budget *b = &budgets[c->profile];
    int n = 0;
    for (int k = 0; k < c->n_eps_linf; k++) {
        double e = c->eps_linf[k];
        n = add_white(list, n, t, (audit_stage){"fgsm", FOIL_NORM_LINF, e, 0, 0, 0});
        n = add_white(list, n, t, (audit_stage){"pgd", FOIL_NORM_LINF, e, b->pgd_steps, 0, 0});
        n = add_white(list, n, t, (audit_stage){"apgd-ce", FOIL_NORM_LINF, e, b->apgd_steps, 0, 0});
        if (a->classes >= 3)
            n = add_white(list, n, t, (audit_stage){"apgd-dlr", FOIL_NORM_LINF, e, b->apgd_steps, 0, 0});
        if (b->autoattack) n = add_white(list, n, t, (audit_stage){"autoattack", FOIL_NORM_LINF, e, 0, 0, 0});
    }
    for (int k = 0; k < c->n_eps_l2; k++) {
        double e = c->eps_l2[k];
        n = add_white(list, n, t, (audit_stage){"pgd", FOIL_NORM_L2, e, b->pgd_steps, 0, 0});
        n = add_white(list, n, t, (audit_stage){"apgd-ce", FOIL_NORM_L2, e, b->apgd_steps, 0, 0});
    }
    double h = headline_eps(a);
    if (scores)
        n = add_black(list, n, t, (audit_stage){is_image ? "square" : "simba-pixel", FOIL_NORM_LINF, h, 0, c->queries, 0});
    return add_black(list, n, t, (audit_stage){"hsj", FOIL_NORM_LINF, h, 0, c->queries, 0});
}

static foil_status finish(audit_state *s, const int64_t *pred)
{
    FoilAudit *a = s->a;
    int64_t n = s->x.shape[0];
    uint8_t *right = malloc((size_t)n);
    a->clean_per_class = malloc((size_t)a->classes * sizeof(double));
    a->robust_per_class = malloc((size_t)a->classes * sizeof(double));
    if (!right || !a->clean_per_class || !a->robust_per_class) {
        free(right);
        return foil_error(FOIL_ERR_NOMEM, "audit: out of memory");
    }
    for (int64_t i = 0; i < n; i++) right[i] = pred[i] == s->y[i];
    per_class(s, right, a->clean_per_class);
    for (int w = 0; w < a->n_worst; w++) {
        int64_t k = 0;
        for (int64_t i = 0; i < n; i++) k += right[i] && !s->fooled[w][i];
        a->worst[w].robust = foilAuditFigure(k, n);
    }
    a->headline = -1;
    for (int w = 0; w < a->n_worst; w++)
        if (a->worst[w].norm == FOIL_NORM_LINF && a->worst[w].eps == headline_eps(a)) a->headline = w;
    if (a->headline >= 0) {
        for (int64_t i = 0; i < n; i++) right[i] = right[i] && !s->fooled[a->headline][i];
        per_class(s, right, a->robust_per_class);
    } else {
        for (int64_t c = 0; c < a->classes; c++) a->robust_per_class[c] = NAN;
    }
    free(right);
    return FOIL_OK;
}

/* What the models can take, and a note in the report for each kind of
 * attack they cannot. */
static audit_targets targets_of(FoilAudit *a, const FoilAuditModels *m, int *scores)
{
    unsigned caps = foil_model_capabilities(m->model), adaptive = m->adaptive ? foil_model_capabilities(m->adaptive) : 0;
    audit_targets t = {.plain_gradients = (caps & FOIL_MODEL_GRADIENTS) != 0,
                       .adaptive_gradients = (adaptive & FOIL_MODEL_GRADIENTS) != 0,
                       .adaptive_queries = m->adaptive && (caps & FOIL_MODEL_RANDOMIZED)};
    *scores = (caps & FOIL_MODEL_SCORES) != 0;
    if (!t.plain_gradients && !t.adaptive_gradients) {
        foilAuditSkip(a, "white-box attacks (FGSM, PGD, APGD): the model gives no input gradients (a remote or black-box "
                "model); its robust accuracy is an upper bound that only black-box attacks tested");
        a->config.n_eps_l2 = 0;
    } else if (!t.plain_gradients) {
        foilAuditSkip(a, "white-box attacks on the defense as given: a preprocessor has no derivative (JPEG, total "
                "variation); the white-box attacks ran adaptively (BPDA) only");
    }
    if (!*scores) foilAuditSkip(a, "score-based attack: the model returns labels only");
    return t;
}

static foil_status attack_stages(audit_state *s, const audit_targets *t, int scores)
{
    audit_stage *list = malloc(FOIL_AUDIT_MAX_RUNS * sizeof *list);
    if (!list) return foil_error(FOIL_ERR_NOMEM, "audit: out of memory");
    s->stages = plan_stages(s->a, t, scores, s->d->is_image, list);
    foil_status st = FOIL_OK;
    if (s->stages > FOIL_AUDIT_MAX_RUNS)
        st = foil_error(FOIL_ERR_ARG, "audit: %d attack runs planned, at most %d: give fewer eps", s->stages,
                        FOIL_AUDIT_MAX_RUNS);
    for (int i = 0; i < s->stages && !st; i++) st = run_one(s, &list[i]);
    free(list);
    return st;
}

/* The attacker who knows the detectors, at the headline eps. */
static foil_status detector_stage(audit_state *s, int gradients)
{
    FoilAudit *a = s->a;
    if (!a->n_detectors) return FOIL_OK;
    if (!gradients) {
        foilAuditSkip(a, "the attack that evades the detectors: it needs the model's input gradients");
        return FOIL_OK;
    }
    if (!a->config.quiet)
        fprintf(stderr, "foil audit: orthogonal and selective PGD against %d detector(s) at Linf eps %g\n",
                a->n_detectors, headline_eps(a));
    foil_threat t = {.norm = FOIL_NORM_LINF, .eps = (float)headline_eps(a), .lower = foil_f32(&s->d->lower),
                     .upper = foil_f32(&s->d->upper), .seed = a->config.seed};
    return foilAuditEvadeDetectors(a, s->models, &s->x, s->y, &t);
}

foil_status foilAuditRun(const FoilAuditModels *models, const foil_dataset *d, const FoilAuditConfig *config,
                         FoilAudit *out)
{
    memset(out, 0, sizeof *out);
    out->config = *config;
    out->classes = d->classes;
    out->defense = models->defense;
    if (config->profile < FOIL_AUDIT_QUICK || config->profile > FOIL_AUDIT_THOROUGH)
        return foil_error(FOIL_ERR_ARG, "audit: unknown profile %d", (int)config->profile);
    if (config->privacy_examples < 0)
        return foil_error(FOIL_ERR_ARG, "audit: %lld membership inference examples; expected 1 or more (0: the "
                          "default)", (long long)config->privacy_examples);
    if (config->backdoor_steps < 0)
        return foil_error(FOIL_ERR_ARG, "audit: %lld backdoor scan steps per class; expected 1 or more (0: the "
                          "default)", (long long)config->backdoor_steps);
    if (d->x.shape[0] < 1) return foil_error(FOIL_ERR_ARG, "audit: %s has no examples", d->name);
    resolve_config(out, d);
    double start = foil_now();
    audit_state s = {.a = out, .models = models, .d = d};
    int scores;
    audit_targets t = targets_of(out, models, &scores);
    int64_t *pred = NULL;
    foil_status st = take_sample(d, out->config.examples, config->seed, &s.x, &s.y);
    if (!st) st = clean_stage(&s, &pred);
    if (!st) st = foilAuditPickExamples(out, d, &s.x, s.y, pred);
    if (!st) st = foilAuditCalibrateDetectors(out, models, &s.x);
    if (!st) st = attack_stages(&s, &t, scores);
    if (!st) st = detector_stage(&s, t.plain_gradients);
    if (!st) st = foilAuditVerify(out, models, d, &s.x, s.y, budgets[out->config.profile].verify_examples);
    if (!st) st = foilAuditBackdoorScan(out, models, d, &s.x, s.y, budgets[out->config.profile].backdoor_images);
    if (!st) st = foilAuditPrivacy(out, models, d);
    /* behind a declared defense the exact gradients are those of its
     * preprocessing (zero almost everywhere for quantization): no maps */
    int explain = t.plain_gradients && !models->adaptive;
    if (!st) st = foilAuditExplainExamples(out, models->model, explain);
    if (!st && out->n_examples && !explain)
        foilAuditSkip(out, models->adaptive ? "saliency maps (integrated gradients): not drawn behind a declared defense "
                                     "(they would explain its preprocessing, or one random draw of it)"
                                   : "saliency maps (integrated gradients): the model gives no input gradients");
    if (!st) st = finish(&s, pred);
    out->seconds = foil_now() - start;
    free(pred);
    for (int w = 0; w < out->n_worst; w++) free(s.fooled[w]);
    foil_tensor_free(&s.x);
    free(s.y);
    if (st) foilAuditFree(out);
    return st;
}

void foilAuditFree(FoilAudit *a)
{
    free(a->clean_per_class);
    free(a->robust_per_class);
    foilAuditFreeExamples(a);
    foilAuditFreeDetectors(a);
    foilAuditFreeBackdoor(a);
    foilAuditFreePrivacy(a);
    a->clean_per_class = a->robust_per_class = NULL;
}

/* ---- figures and requirements ---- */

void foilAuditRunKey(const FoilAuditRun *r, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s-%s@%g", r->attack, foilAuditRunVariant(r), foil_norm_name(r->norm), r->eps);
}

void foilAuditWorstKey(const FoilAuditWorst *w, char *buf, size_t size)
{
    snprintf(buf, size, "worst-%s@%g", foil_norm_name(w->norm), w->eps);
}

const FoilAuditFigure *foilAuditFind(const FoilAudit *a, const char *key)
{
    char k[96];
    if (strcmp(key, "clean") == 0) return &a->clean;
    if (strcmp(key, FOIL_AUDIT_STRIP_KEY) == 0) return a->backdoor.strip.images ? &a->backdoor.strip.tpr : NULL;
    for (int i = 0; i < a->n_worst; i++) {
        foilAuditWorstKey(&a->worst[i], k, sizeof k);
        if (strcmp(k, key) == 0) return &a->worst[i].robust;
    }
    for (int i = 0; i < a->n_runs; i++) {
        foilAuditRunKey(&a->runs[i], k, sizeof k);
        if (strcmp(k, key) == 0) return &a->runs[i].robust;
    }
    for (int i = 0; i < a->n_verified; i++) {
        foilAuditVerifiedKey(&a->verified[i], k, sizeof k);
        if (strcmp(k, key) == 0) return &a->verified[i].verified;
    }
    return NULL;
}

void foilAuditVerifiedKey(const FoilAuditVerified *v, char *buf, size_t size)
{
    snprintf(buf, size, "verified-linf@%g", v->eps);
}

foil_status foilAuditRequirementParse(const char *text, int confident, FoilAuditRequirement *req)
{
    memset(req, 0, sizeof *req);
    req->confident = confident;
    const char *op = strstr(text, ">=");
    req->at_least = 1;
    if (!op) {
        op = strstr(text, "<=");
        req->at_least = 0;
    }
    /* spaces around the key and the value are allowed: 'clean >= 0.85' */
    const char *key = text;
    while (*key == ' ') key++;
    size_t klen = op && op > key ? (size_t)(op - key) : 0;
    while (klen && key[klen - 1] == ' ') klen--;
    char *end = NULL;
    double v = op ? strtod(op + 2, &end) : NAN;
    int converted = op && end != op + 2;
    while (end && *end == ' ') end++;
    /* an accuracy is a fraction; the anomaly index any number from 0 up */
    int fraction = !(klen == strlen(FOIL_AUDIT_BACKDOOR_KEY) && memcmp(key, FOIL_AUDIT_BACKDOOR_KEY, klen) == 0);
    /* membership figures are fractions without an interval (their threshold is itself estimated) */
    int membership = strncmp(key, FOIL_AUDIT_MEMBERSHIP_PREFIX, strlen(FOIL_AUDIT_MEMBERSHIP_PREFIX)) == 0;
    if (!converted || klen == 0 || klen >= sizeof req->key || strlen(text) >= sizeof req->text || *end ||
        !isfinite(v) || v < 0 || (fraction && v > 1))
        return foil_error(FOIL_ERR_ARG, "requirement '%s': expected FIGURE>=VALUE or FIGURE<=VALUE with VALUE in "
                          "[0, 1], as in 'clean>=0.85' or 'pgd-linf@0.1>=0.6' (for " FOIL_AUDIT_BACKDOOR_KEY
                          ", an anomaly index >= 0: '" FOIL_AUDIT_BACKDOOR_KEY "<=2')", text);
    memcpy(req->key, key, klen);
    req->key[klen] = 0;
    req->threshold = v;
    req->confident = confident && fraction && !membership; /* no interval to take an end of */
    snprintf(req->text, sizeof req->text, "%s", text);
    return FOIL_OK;
}

/* The value requirement r judges into *v: a figure's value or its
 * interval's end; the anomaly index and the membership figures (never
 * `confident`) as they are. Returns 0 when the audit has no such figure
 * (a backdoor scan or a privacy section that did not run has none). */
static int judged_value(const FoilAudit *a, const FoilAuditRequirement *r, double *v)
{
    *v = NAN;
    if (strcmp(r->key, FOIL_AUDIT_BACKDOOR_KEY) == 0) {
        if (a->backdoor.ran) *v = a->backdoor.cleanse.flagged_anomaly;
        return a->backdoor.ran;
    }
    if (strncmp(r->key, FOIL_AUDIT_MEMBERSHIP_PREFIX, strlen(FOIL_AUDIT_MEMBERSHIP_PREFIX)) == 0)
        return foilAuditPrivacyValue(a, r->key, v);
    const FoilAuditFigure *f = foilAuditFind(a, r->key);
    if (f) *v = !r->confident ? f->value : r->at_least ? f->low : f->high;
    return f != NULL;
}

int foilAuditCheck(const FoilAudit *a, FoilAuditRequirement *reqs, int n)
{
    int failed = 0;
    for (int i = 0; i < n; i++) {
        FoilAuditRequirement *r = &reqs[i];
        r->found = judged_value(a, r, &r->used);
        r->passed = r->found && (r->at_least ? r->used >= r->threshold : r->used <= r->threshold);
        failed += !r->passed;
    }
    return failed;
}
