/*
 * eval/audit_backdoor.c - the audit's backdoor scan (eval/audit.h): Neural
 * Cleanse (foil/scan.h) on the first images of the sample, then STRIP on
 * the recovered trigger of the class it flags (or, when none, of the class
 * with the smallest mask).
 *
 * Neural Cleanse finds, for every class, the smallest trigger that sends
 * clean images there, and flags a class whose trigger is far smaller than
 * the rest. A small trigger can also be a natural shortcut or a universal
 * adversarial patch, which is why the report adds STRIP's view: stamped on
 * clean images and blended half and half with other images, a real
 * backdoor's trigger keeps the model on its class (low entropy, flagged
 * at a threshold that flags 5% of clean images), a patch that only just
 * crosses a decision boundary does not.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/audit.h"
#include "foil/progress.h"

/* STRIP's budget: clean images checked, and blends of each (the paper's 100). */
enum { STRIP_IMAGES = 100, STRIP_OVERLAYS = 100 };
static const double strip_fpr = 0.05;

/* Why the scan cannot run on this audit, or NULL when it can; what the
 * model or data rule out first, as it says more than the option does. */
static const char *why_not(const FoilAudit *a, const FoilAuditModels *m, const foil_dataset *d, const foil_tensor *x)
{
    if (!d->is_image || (x->ndim != 3 && x->ndim != 4))
        return "backdoor scan (Neural Cleanse): it looks for a trigger stamped on images, and the data are not images";
    if (!(foil_model_capabilities(m->model) & FOIL_MODEL_GRADIENTS))
        return "backdoor scan (Neural Cleanse): the model gives no input gradients (a remote or black-box model)";
    if (m->adaptive)
        return "backdoor scan (Neural Cleanse): not run behind a declared preprocessing defense (its gradients would "
               "be the preprocessing's); audit the model without --preprocess for it";
    if (a->classes < 3) return "backdoor scan (Neural Cleanse): its anomaly index needs 3 classes or more";
    if (a->config.no_backdoor_scan) return "backdoor scan (Neural Cleanse): turned off (--no-backdoor-scan)";
    return NULL;
}

/* The class whose trigger the report shows and STRIP checks: the one with
 * the smallest mask, which is the flagged one when a class is flagged;
 * -1 when no trigger reached the target success. */
static int64_t shown_class(const foil_cleanse_result *r)
{
    if (r->flagged >= 0) return r->flagged; /* the smallest mask but for ties */
    int64_t best = -1;
    for (int64_t c = 0; c < r->classes; c++)
        if (isfinite(r->norm[c]) && (best < 0 || r->norm[c] < r->norm[best])) best = c;
    return best;
}

/* out = (1 - m) img + m p for class c's mask m (per pixel) and pattern p. */
static void stamp(const foil_cleanse_result *r, int64_t c, const float *img, int64_t f, float *out)
{
    const int64_t hw = r->mask.numel / r->classes;
    const float *m = foil_f32(&r->mask) + c * hw, *p = foil_f32(&r->pattern) + c * f;
    for (int64_t j = 0; j < f; j++) out[j] = (1 - m[j % hw]) * img[j] + m[j % hw] * p[j];
}

/* rows picked from x into a new tensor. */
static foil_status gather(const foil_tensor *x, const int64_t *rows, int64_t n, foil_tensor *out)
{
    int64_t shape[FOIL_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[0] = n;
    const int64_t f = x->numel / x->shape[0];
    foil_status st = foil_tensor_alloc(out, FOIL_F32, x->ndim, shape);
    for (int64_t k = 0; !st && k < n; k++)
        memcpy(foil_f32(out) + k * f, foil_f32(x) + rows[k] * f, (size_t)f * sizeof(float));
    return st;
}

/* STRIP's scores (minus the mean entropy: flagged when high, as a detector's). */
static foil_status strip_scores(foil_model *model, const foil_tensor *x, const foil_tensor *pool, uint64_t seed,
                                float *score)
{
    const int64_t n = x->shape[0];
    double *h = malloc((size_t)n * sizeof *h);
    if (!h) return foil_error(FOIL_ERR_NOMEM, "audit: out of memory for STRIP");
    foil_strip_options o = {.overlays = STRIP_OVERLAYS, .seed = seed};
    foil_status st = foil_strip_entropy(model, x, pool, &o, h);
    for (int64_t i = 0; !st && i < n; i++) score[i] = (float)-h[i];
    free(h);
    return st;
}

/* The stamped images' predictions: how many went to c, and the first one's. */
static foil_status stamped_answers(FoilAuditBackdoor *b, foil_model *model, const foil_tensor *stamped, int64_t c)
{
    foil_tensor logits = {0};
    foil_status st = foil_model_predict(model, stamped, &logits);
    if (st) return foil_error_prefix(st, "audit: the stamped images");
    const int64_t n = stamped->shape[0], k = logits.numel / n;
    int64_t hits = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *z = foil_f32(&logits) + i * k;
        int64_t top = 0;
        for (int64_t j = 1; j < k; j++) top = z[j] > z[top] ? j : top;
        hits += top == c;
        if (i == 0) b->stamped_pred = top;
    }
    foil_tensor_free(&logits);
    b->strip.success = (double)hits / (double)n;
    return FOIL_OK;
}

/* Clean images and the same images stamped, both scored by STRIP with the
 * sample's even images as the blends' pool; the threshold flags at most 5%
 * of the clean ones. */
static foil_status strip_stage(FoilAudit *a, foil_model *model, const foil_tensor *clean, const foil_tensor *pool)
{
    FoilAuditBackdoor *b = &a->backdoor;
    const int64_t n = clean->shape[0], f = clean->numel / n;
    foil_tensor stamped = {0};
    float *s_clean = malloc((size_t)n * sizeof *s_clean), *s_stamped = malloc((size_t)n * sizeof *s_stamped);
    foil_status st = s_clean && s_stamped ? foil_tensor_alloc(&stamped, FOIL_F32, clean->ndim, clean->shape)
                                          : foil_error(FOIL_ERR_NOMEM, "audit: out of memory for STRIP");
    for (int64_t i = 0; !st && i < n; i++)
        stamp(&b->cleanse, b->shown, foil_f32(clean) + i * f, f, foil_f32(&stamped) + i * f);
    if (!st && !(b->stamped = malloc((size_t)f * sizeof *b->stamped)))
        st = foil_error(FOIL_ERR_NOMEM, "audit: out of memory for STRIP");
    if (!st) memcpy(b->stamped, foil_f32(&stamped), (size_t)f * sizeof(float));
    if (!st) st = stamped_answers(b, model, &stamped, b->shown);
    if (!st) st = strip_scores(model, clean, pool, a->config.seed, s_clean);
    /* other blends for the stamped images, as foil scan --method strip draws them */
    if (!st) st = strip_scores(model, &stamped, pool, a->config.seed + 1, s_stamped);
    if (!st) {
        const float t = foil_threshold_at_fpr(s_clean, n, strip_fpr);
        FoilAuditStrip *s = &b->strip;
        s->images = n, s->overlays = STRIP_OVERLAYS, s->threshold_bits = -(double)t;
        int64_t flagged = 0;
        for (int64_t i = 0; i < n; i++) flagged += s_stamped[i] > t; /* as foil_rate_above counts */
        s->fpr = foil_rate_above(s_clean, n, t), s->tpr = foilAuditFigure(flagged, n);
    }
    free(s_clean), free(s_stamped);
    foil_tensor_free(&stamped);
    return st;
}

/* STRIP's images from the sample: the pool its even images, the images
 * checked its odd ones not of the class shown (stamping a trigger on its
 * own class's image shows nothing), at most STRIP_IMAGES. Fewer than 2
 * checked: no STRIP. */
static foil_status strip_check(FoilAudit *a, foil_model *model, const foil_tensor *x, const int64_t *y)
{
    FoilAuditBackdoor *b = &a->backdoor;
    const int64_t n = x->shape[0];
    int64_t *rows = malloc((size_t)n * sizeof *rows), n_pool = 0, n_clean = 0;
    if (!rows) return foil_error(FOIL_ERR_NOMEM, "audit: out of memory for STRIP");
    for (int64_t i = 0; i < n; i += 2) rows[n_pool++] = i;
    for (int64_t i = 1; i < n && n_clean < STRIP_IMAGES; i += 2)
        if (y[i] != b->shown) rows[n_pool + n_clean++] = i;
    foil_tensor pool = {0}, clean = {0};
    foil_status st = FOIL_OK;
    if (n_clean >= 2) {
        b->stamped_index = rows[n_pool], b->stamped_label = y[rows[n_pool]];
        st = gather(x, rows, n_pool, &pool);
        if (!st) st = gather(x, rows + n_pool, n_clean, &clean);
        if (!st) st = strip_stage(a, model, &clean, &pool);
    }
    free(rows);
    foil_tensor_free(&pool), foil_tensor_free(&clean);
    return st;
}

foil_status foilAuditBackdoorScan(FoilAudit *a, const FoilAuditModels *m, const foil_dataset *d, const foil_tensor *x,
                                  const int64_t *y, int64_t images)
{
    const char *why = why_not(a, m, d, x);
    if (why) {
        foilAuditSkip(a, why);
        return FOIL_OK;
    }
    FoilAuditBackdoor *b = &a->backdoor;
    const double start = foil_now();
    b->images = images < x->shape[0] ? images : x->shape[0];
    b->steps = a->config.backdoor_steps ? a->config.backdoor_steps : FOIL_CLEANSE_DEFAULT_STEPS;
    if (!a->config.quiet)
        fprintf(stderr, "foil audit: Neural Cleanse on %lld images, %lld steps per class\n", (long long)b->images,
                (long long)b->steps);
    foil_tensor head = *x;
    head.shape[0] = b->images, head.numel = b->images * (x->numel / x->shape[0]), head.owns_data = 0;
    foil_cleanse_options o = {.steps = b->steps, .seed = a->config.seed, .quiet = a->config.quiet};
    foil_status st = foil_neural_cleanse(m->model, &head, foil_f32(&d->lower), foil_f32(&d->upper), &o, &b->cleanse);
    if (st) return foil_error_prefix(st, "audit: backdoor scan");
    b->ran = 1;
    b->shown = shown_class(&b->cleanse);
    if (b->shown >= 0) st = strip_check(a, m->model, x, y);
    b->seconds = foil_now() - start;
    return st;
}

void foilAuditFreeBackdoor(FoilAudit *a)
{
    foil_cleanse_result_free(&a->backdoor.cleanse);
    free(a->backdoor.stamped);
    a->backdoor.stamped = NULL;
}
