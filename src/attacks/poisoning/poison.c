/*
 * attacks/poisoning/poison.c - label flipping and the BadNets and blended
 * backdoors (foil/poison.h is the design): choose the examples, change
 * their labels, stamp their trigger, and keep the manifest.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attacks/poisoning/poisoning_internal.h"
#include "foil/evasion.h"
#include "foil/rng.h"

/* Random streams of one seed: which examples, their new labels, the blend pattern. */
enum { STREAM_CHOICE = 1, STREAM_LABELS = 2, STREAM_PATTERN = 3 };

static const char *const attack_names[] = {"label-flip", "targeted-flip",     "badnets",          "blend",
                                           "clean-label", "gradient-matching", "feature-collision"};

const char *foil_poison_attack_name(foil_poison_attack a)
{
    return (unsigned)a < sizeof attack_names / sizeof *attack_names ? attack_names[a] : "?";
}

foil_status foil_poison_attack_parse(const char *s, foil_poison_attack *a)
{
    for (unsigned i = 0; s && i < sizeof attack_names / sizeof *attack_names; i++)
        if (strcmp(s, attack_names[i]) == 0) {
            *a = (foil_poison_attack)i;
            return FOIL_OK;
        }
    return foil_error(FOIL_ERR_ARG,
                      "unknown poisoning attack '%s' (label-flip, targeted-flip, badnets, blend, clean-label, "
                      "gradient-matching or feature-collision)",
                      s ? s : "");
}

static int is_backdoor(const foil_poison_options *o)
{
    return o->attack == FOIL_POISON_BADNETS || o->attack == FOIL_POISON_BLEND || o->attack == FOIL_POISON_CLEAN_LABEL;
}

/* A backdoor's target for an input of label y: the attack succeeds when a
 * triggered input of that label gets it. */
static int64_t backdoor_target(const foil_poison_options *o, int64_t classes, int64_t y)
{
    return o->all_to_all && o->attack != FOIL_POISON_CLEAN_LABEL ? (y + 1) % classes : o->target;
}

/* An image's layout: channels (every dimension before the last two), rows, columns. */
typedef struct Layout {
    int64_t channels, h, w;
} Layout;

static foil_status check(const foil_dataset *d, const foil_poison_options *o, Layout *lay)
{
    if ((unsigned)o->attack > FOIL_POISON_FEATURE_COLLISION)
        return foil_error(FOIL_ERR_ARG, "unknown poisoning attack %d", (int)o->attack);
    const char *name = foil_poison_attack_name(o->attack);
    if (!(o->rate >= 0 && o->rate <= 1)) return foil_error(FOIL_ERR_ARG, "%s: the rate must be in [0, 1], not %g", name, o->rate);
    if (d->classes < 2) return foil_error(FOIL_ERR_ARG, "%s: %s has fewer than 2 classes", name, d->name);
    const int matching = o->attack == FOIL_POISON_GRADIENT_MATCHING || o->attack == FOIL_POISON_FEATURE_COLLISION;
    int uses_target = o->attack == FOIL_POISON_TARGETED_FLIP || o->attack == FOIL_POISON_CLEAN_LABEL || matching ||
                      (is_backdoor(o) && !o->all_to_all);
    if (matching && (!o->model || !o->target_x))
        return foil_error(FOIL_ERR_ARG, "%s: needs a model trained on clean data and a target image", name);
    if (matching && (o->eps < 0 || !(o->eps <= 1) || o->steps < 0 || o->restarts < 0))
        return foil_error(FOIL_ERR_ARG, "%s: eps must be in [0, 1], steps and restarts >= 0", name);
    if ((o->crop_pad || o->flip) && o->attack != FOIL_POISON_GRADIENT_MATCHING)
        return foil_error(FOIL_ERR_ARG, "%s: augmentation while brewing is for gradient matching", name);
    if ((o->crop_pad || o->flip) && (!d->is_image || d->x.ndim != 4))
        return foil_error(FOIL_ERR_ARG, "%s: crops and flips augment images (N, C, H, W); %s is not one", name, d->name);
    if (o->crop_pad && (o->crop_pad < 0 || o->crop_pad > d->x.shape[2] || o->crop_pad > d->x.shape[3]))
        return foil_error(FOIL_ERR_ARG, "%s: a crop after padding by %lld pixels does not fit %lldx%lld images", name,
                          (long long)o->crop_pad, (long long)d->x.shape[2], (long long)d->x.shape[3]);
    if (o->attack == FOIL_POISON_CLEAN_LABEL && o->all_to_all)
        return foil_error(FOIL_ERR_ARG, "clean-label: the backdoor is all-to-one (labels stay as they are)");
    if (o->attack == FOIL_POISON_CLEAN_LABEL && !o->model)
        return foil_error(FOIL_ERR_ARG, "clean-label: PGD needs a model trained on clean data");
    if (o->attack == FOIL_POISON_CLEAN_LABEL && (o->eps < 0 || !(o->eps <= 1) || o->steps < 0))
        return foil_error(FOIL_ERR_ARG, "clean-label: eps must be in [0, 1] and steps >= 0");
    if (uses_target && (o->target < 0 || o->target >= d->classes))
        return foil_error(FOIL_ERR_ARG, "%s: target class %lld is not a class of %s (0 to %lld)", name,
                          (long long)o->target, d->name, (long long)d->classes - 1);
    if (o->attack == FOIL_POISON_TARGETED_FLIP && (o->source < 0 || o->source >= d->classes || o->source == o->target))
        return foil_error(FOIL_ERR_ARG, "%s: source class %lld must be a class of %s other than the target", name,
                          (long long)o->source, d->name);
    if (!is_backdoor(o)) return FOIL_OK;
    if (!d->is_image || d->x.ndim < 3)
        return foil_error(FOIL_ERR_ARG, "%s: a trigger needs images; %s is tabular", name, d->name);
    lay->h = d->x.shape[d->x.ndim - 2], lay->w = d->x.shape[d->x.ndim - 1];
    lay->channels = 1;
    for (int i = 1; i < d->x.ndim - 2; i++) lay->channels *= d->x.shape[i];
    int64_t p = o->patch_size ? o->patch_size : 3;
    if (o->attack != FOIL_POISON_BLEND && (p < 1 || p + 1 > lay->h || p + 1 > lay->w))
        return foil_error(FOIL_ERR_ARG, "%s: a %lld-pixel patch one pixel from the corner does not fit %lldx%lld images",
                          name, (long long)p, (long long)lay->h, (long long)lay->w);
    double a = o->blend_alpha ? o->blend_alpha : 0.2;
    if (o->attack == FOIL_POISON_BLEND && !(a > 0 && a <= 1))
        return foil_error(FOIL_ERR_ARG, "blend: alpha must be in (0, 1], not %g", o->blend_alpha);
    return FOIL_OK;
}

/* The input range of feature f (the dataset's bounds, else [0, 1]). */
static void feature_range(const foil_dataset *d, int64_t f, float *lo, float *hi)
{
    *lo = d->lower.data ? foil_f32(&d->lower)[f] : 0.0f;
    *hi = d->upper.data ? foil_f32(&d->upper)[f] : 1.0f;
}

/* Stamp the trigger on one example (F floats). */
static void add_trigger(const foil_dataset *d, const foil_poison_options *o, const Layout *lay, const float *pattern,
                        float *x)
{
    if (o->attack == FOIL_POISON_BLEND) {
        const double a = o->blend_alpha ? o->blend_alpha : 0.2;
        const int64_t F = lay->channels * lay->h * lay->w;
        for (int64_t f = 0; f < F; f++) x[f] = (float)((1 - a) * x[f] + a * pattern[f]);
        return;
    }
    const int64_t p = o->patch_size ? o->patch_size : 3;
    for (int64_t c = 0; c < lay->channels; c++)
        for (int64_t i = 0; i < p; i++)
            for (int64_t j = 0; j < p; j++) {
                int64_t f = (c * lay->h + (lay->h - 1 - p + i)) * lay->w + (lay->w - 1 - p + j);
                float lo, hi;
                feature_range(d, f, &lo, &hi);
                x[f] = (i + j) % 2 == 0 ? hi : lo;
            }
}

/* The blend pattern (F floats, uniform over each feature's range), or NULL for badnets. */
static foil_status make_pattern(const foil_dataset *d, const foil_poison_options *o, float **pattern)
{
    *pattern = NULL;
    if (o->attack != FOIL_POISON_BLEND) return FOIL_OK;
    const int64_t F = foil_dataset_example_size(d);
    float *k = malloc((size_t)F * sizeof *k);
    if (!k) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    foil_rng rng = foil_rng_make(o->seed, STREAM_PATTERN);
    for (int64_t f = 0; f < F; f++) {
        float lo, hi;
        feature_range(d, f, &lo, &hi);
        k[f] = lo + foil_rng_uniform(&rng) * (hi - lo);
    }
    *pattern = k;
    return FOIL_OK;
}

/* The label the attack gives example i of label y. */
static int64_t new_label(const foil_poison_options *o, int64_t classes, int64_t y, foil_rng *rng)
{
    switch (o->attack) {
    case FOIL_POISON_LABEL_FLIP: return (y + 1 + (int64_t)foil_rng_below(rng, (uint64_t)(classes - 1))) % classes;
    case FOIL_POISON_TARGETED_FLIP: return o->target;
    default: return backdoor_target(o, classes, y);
    }
}

/* Which examples an attack may poison. */
static int eligible(const foil_poison_options *o, int64_t y)
{
    if (o->attack == FOIL_POISON_TARGETED_FLIP) return y == o->source;
    if (o->attack == FOIL_POISON_CLEAN_LABEL || o->attack == FOIL_POISON_GRADIENT_MATCHING ||
        o->attack == FOIL_POISON_FEATURE_COLLISION)
        return y == o->target;
    if (is_backdoor(o) && !o->all_to_all) return y != o->target;
    return 1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

typedef struct Ranked {
    double distance;
    int64_t index;
} Ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const Ranked *x = a, *y = b;
    if (x->distance != y->distance) return x->distance < y->distance ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* Order pool (n_pool indices of d) by Euclidean distance to x, nearest first. */
static foil_status nearest_first(const foil_dataset *d, const float *x, int64_t *pool, int64_t n_pool)
{
    const int64_t F = foil_dataset_example_size(d);
    Ranked *r = malloc((size_t)(n_pool ? n_pool : 1) * sizeof *r);
    if (!r) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    for (int64_t k = 0; k < n_pool; k++) {
        const float *e = foil_f32(&d->x) + pool[k] * F;
        double s = 0;
        for (int64_t f = 0; f < F; f++) s += ((double)e[f] - x[f]) * ((double)e[f] - x[f]);
        r[k] = (Ranked){s, pool[k]};
    }
    qsort(r, (size_t)n_pool, sizeof *r, cmp_ranked);
    for (int64_t k = 0; k < n_pool; k++) pool[k] = r[k].index;
    free(r);
    return FOIL_OK;
}

/* count of the eligible examples, increasing: uniformly without
 * replacement, or for a targeted flip at an image the nearest to it. */
static foil_status choose(const foil_dataset *d, const foil_poison_options *o, foil_poison_manifest *m)
{
    const int64_t n = d->y.numel, *y = foil_i64(&d->y);
    int64_t *pool = malloc((size_t)(n ? n : 1) * sizeof *pool), n_pool = 0, n_source = 0, n_target = 0;
    if (!pool) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        if (eligible(o, y[i])) pool[n_pool++] = i;
        n_source += y[i] == o->source;
        n_target += y[i] == o->target;
    }
    const int64_t base = o->attack == FOIL_POISON_TARGETED_FLIP  ? n_source
                         : o->attack == FOIL_POISON_CLEAN_LABEL ? n_target
                                                                 : n;
    const int64_t count = (int64_t)llround(o->rate * (double)base);
    if (count > n_pool) {
        free(pool);
        return foil_error(FOIL_ERR_ARG, "%s: rate %g asks for %lld poisoned examples of %s, but only %lld can be poisoned",
                          foil_poison_attack_name(o->attack), o->rate, (long long)count, d->name, (long long)n_pool);
    }
    foil_status st = FOIL_OK;
    if (o->attack == FOIL_POISON_TARGETED_FLIP && o->target_x) st = nearest_first(d, o->target_x, pool, n_pool);
    else {
        foil_rng rng = foil_rng_make(o->seed, STREAM_CHOICE);
        for (int64_t i = 0; i < count; i++) { /* partial Fisher-Yates */
            int64_t j = i + (int64_t)foil_rng_below(&rng, (uint64_t)(n_pool - i));
            int64_t t = pool[i];
            pool[i] = pool[j], pool[j] = t;
        }
    }
    if (st) {
        free(pool);
        return st;
    }
    qsort(pool, (size_t)count, sizeof *pool, cmp_i64);
    m->n = count;
    m->index = pool;
    m->label_before = malloc((size_t)(count ? count : 1) * sizeof *m->label_before);
    m->label_after = malloc((size_t)(count ? count : 1) * sizeof *m->label_after);
    if (!m->label_before || !m->label_after) {
        foil_poison_manifest_free(m);
        return foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    return FOIL_OK;
}

/* Clean-label: move the chosen examples of `poisoned` by untargeted PGD
 * away from their (target) class on o->model, in place. */
static foil_status perturb(const foil_poison_options *o, const foil_poison_manifest *m, foil_dataset *poisoned)
{
    const int64_t F = foil_dataset_example_size(poisoned);
    foil_tensor x = {0};
    int64_t shape[8];
    for (int i = 0; i < poisoned->x.ndim && i < 8; i++) shape[i] = poisoned->x.shape[i];
    shape[0] = m->n;
    foil_status st = foil_tensor_alloc(&x, FOIL_F32, poisoned->x.ndim, shape);
    int64_t *y = malloc((size_t)(m->n ? m->n : 1) * sizeof *y);
    if (!st && !y) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    if (!st && (!poisoned->lower.data || !poisoned->upper.data))
        st = foil_error(FOIL_ERR_ARG, "clean-label: %s has no input range for PGD", poisoned->name);
    for (int64_t k = 0; !st && k < m->n; k++) {
        memcpy(foil_f32(&x) + k * F, foil_f32(&poisoned->x) + m->index[k] * F, (size_t)F * sizeof(float));
        y[k] = m->label_before[k];
    }
    foil_threat t = {.norm = FOIL_NORM_LINF, .eps = (float)(o->eps ? o->eps : 0.1), .lower = foil_f32(&poisoned->lower),
                     .upper = foil_f32(&poisoned->upper), .steps = o->steps ? o->steps : 20, .seed = o->seed};
    foil_evasion_options eo = {.quiet = 1};
    foil_evasion_result r = {0};
    if (!st && m->n) st = foil_evasion_run("pgd", o->model, &x, y, &t, &eo, &r);
    for (int64_t k = 0; !st && k < m->n; k++)
        memcpy(foil_f32(&poisoned->x) + m->index[k] * F, foil_f32(&r.adv) + k * F, (size_t)F * sizeof(float));
    foil_evasion_result_free(&r);
    foil_tensor_free(&x);
    free(y);
    return st;
}

foil_status foil_poison_dataset(const foil_dataset *train, const foil_poison_options *o, foil_dataset *poisoned,
                                foil_poison_manifest *manifest)
{
    if (!train || !o || !poisoned || !manifest) return foil_error(FOIL_ERR_ARG, "foil_poison_dataset: missing argument");
    memset(poisoned, 0, sizeof *poisoned);
    memset(manifest, 0, sizeof *manifest);
    Layout lay = {0};
    float *pattern = NULL;
    foil_status st = check(train, o, &lay);
    if (!st) st = make_pattern(train, o, &pattern);
    if (!st) st = choose(train, o, manifest);
    if (!st) st = foil_dataset_copy(poisoned, train);
    if (st) {
        free(pattern);
        foil_poison_manifest_free(manifest);
        return st;
    }
    const int64_t F = foil_dataset_example_size(train);
    int64_t *y = foil_i64(&poisoned->y);
    foil_rng rng = foil_rng_make(o->seed, STREAM_LABELS);
    for (int64_t k = 0; k < manifest->n; k++) {
        int64_t i = manifest->index[k];
        manifest->label_before[k] = y[i];
        y[i] = manifest->label_after[k] = new_label(o, train->classes, y[i], &rng);
    }
    manifest->objective = NAN;
    if (o->attack == FOIL_POISON_CLEAN_LABEL) st = perturb(o, manifest, poisoned);
    if (o->attack == FOIL_POISON_GRADIENT_MATCHING) st = foilGradientMatching(o, manifest, poisoned, &manifest->objective);
    if (o->attack == FOIL_POISON_FEATURE_COLLISION) st = foilFeatureCollision(o, manifest, poisoned, &manifest->objective);
    for (int64_t k = 0; !st && is_backdoor(o) && k < manifest->n; k++)
        add_trigger(train, o, &lay, pattern, foil_f32(&poisoned->x) + manifest->index[k] * F);
    free(pattern);
    if (st) {
        foil_dataset_free(poisoned);
        foil_poison_manifest_free(manifest);
    }
    return st;
}

foil_status foil_poison_add_trigger(const foil_dataset *d, const foil_poison_options *o, foil_tensor *x)
{
    Layout lay = {0};
    foil_status st = check(d, o, &lay);
    if (st) return st;
    if (!is_backdoor(o))
        return foil_error(FOIL_ERR_ARG, "%s has no trigger", foil_poison_attack_name(o->attack));
    const int64_t F = foil_dataset_example_size(d);
    if (x->dtype != FOIL_F32 || x->ndim < 1 || (x->shape[0] && x->numel / x->shape[0] != F))
        return foil_error(FOIL_ERR_SHAPE, "trigger: inputs must be float32 examples of %lld values like %s's",
                          (long long)F, d->name);
    float *pattern = NULL;
    if ((st = make_pattern(d, o, &pattern))) return st;
    for (int64_t i = 0; i < x->shape[0]; i++) add_trigger(d, o, &lay, pattern, foil_f32(x) + i * F);
    free(pattern);
    return FOIL_OK;
}

foil_status foil_poison_triggered_set(const foil_dataset *test, const foil_poison_options *o, foil_dataset *out)
{
    if (!test || !o || !out) return foil_error(FOIL_ERR_ARG, "foil_poison_triggered_set: missing argument");
    memset(out, 0, sizeof *out);
    Layout lay = {0};
    foil_status st = check(test, o, &lay);
    if (st) return st;
    if (!is_backdoor(o))
        return foil_error(FOIL_ERR_ARG, "%s has no trigger", foil_poison_attack_name(o->attack));
    const int64_t n = test->y.numel, F = foil_dataset_example_size(test), *y = foil_i64(&test->y);
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) m += backdoor_target(o, test->classes, y[i]) != y[i];
    foil_dataset whole;
    if ((st = foil_dataset_copy(&whole, test))) return st;
    float *x = foil_f32(&whole.x);
    int64_t *yo = foil_i64(&whole.y), k = 0;
    for (int64_t i = 0; i < n; i++) {
        if (backdoor_target(o, test->classes, y[i]) == y[i]) continue;
        memmove(x + k * F, x + i * F, (size_t)F * sizeof *x);
        yo[k++] = backdoor_target(o, test->classes, y[i]);
    }
    whole.x.shape[0] = m, whole.x.numel = m * F;
    whole.y.shape[0] = m, whole.y.numel = m;
    if ((st = foil_poison_add_trigger(test, o, &whole.x))) {
        foil_dataset_free(&whole);
        return st;
    }
    *out = whole;
    return FOIL_OK;
}

void foil_poison_manifest_free(foil_poison_manifest *m)
{
    if (!m) return;
    free(m->index), free(m->label_before), free(m->label_after);
    memset(m, 0, sizeof *m);
}
