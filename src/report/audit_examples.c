/*
 * report/audit_examples.c - the audit's example grid as images: each
 * example clean and adversarial, the perturbation magnified, and the
 * integrated-gradients maps, drawn as PNGs for DIR/examples/ and for
 * report.html (one encoding for both); and the backdoor scan's recovered
 * trigger, its mask, and a clean image stamped with it.
 *
 * Images are scaled up by whole pixels (nearest neighbour) to about 112
 * pixels, so the files are readable alone; a saliency map is drawn
 * diverging around white, red where a pixel pushed the explained class's
 * probability up and blue where it pushed it down, both maps of one example
 * on the same scale so that they compare.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/file.h"
#include "report/report.h"

static const char *const view_names[FOIL_VIEW_COUNT] = {"clean", "adversarial", "perturbation", "saliency-clean",
                                                         "saliency-adversarial"};

const char *foilExampleViewName(FoilExampleView v) { return view_names[v]; }

int foilReportExampleHas(const FoilAuditExample *e, FoilExampleView v)
{
    switch (v) {
    case FOIL_VIEW_CLEAN: return 1;
    case FOIL_VIEW_ADVERSARIAL:
    case FOIL_VIEW_PERTURBATION: return e->attack != NULL;
    case FOIL_VIEW_SALIENCY_CLEAN: return e->saliency_clean.attribution != NULL;
    case FOIL_VIEW_SALIENCY_ADVERSARIAL: return e->saliency_adv.attribution != NULL;
    default: return 0;
    }
}

void foilReportExampleFile(int k, FoilExampleView v, char *buf, size_t size)
{
    snprintf(buf, size, "examples/%02d-%s.png", k, view_names[v]);
}

/* The canvas: the image's pixels scaled by a whole factor. */
typedef struct canvas {
    int64_t c, h, w;             /* the image */
    int scale, channels;         /* the PNG: (h * scale) x (w * scale) x channels */
    uint8_t *px;
} canvas;

static foil_status canvas_make(const FoilAudit *a, int channels, canvas *cv)
{
    cv->c = a->image_shape[0], cv->h = a->image_shape[1], cv->w = a->image_shape[2];
    int64_t side = cv->h > cv->w ? cv->h : cv->w;
    cv->scale = side >= 112 ? 1 : (int)(112 / side);
    cv->channels = channels;
    cv->px = malloc((size_t)(cv->h * cv->scale) * (size_t)(cv->w * cv->scale) * (size_t)channels);
    return cv->px ? FOIL_OK : foil_error(FOIL_ERR_NOMEM, "audit report: out of memory for an example image");
}

static void canvas_set(canvas *cv, int64_t y, int64_t x, const uint8_t *rgb)
{
    int64_t width = cv->w * cv->scale;
    for (int dy = 0; dy < cv->scale; dy++)
        for (int dx = 0; dx < cv->scale; dx++)
            memcpy(cv->px + ((y * cv->scale + dy) * width + x * cv->scale + dx) * cv->channels, rgb,
                   (size_t)cv->channels);
}

static uint8_t to_byte(double unit) { return (uint8_t)lrint(255 * fmin(1, fmax(0, unit))); }

/* Each pixel's channels shaded by shade(ctx, j) in [0, 1], j the feature. */
typedef double (*shade_fn)(const void *ctx, int64_t j);

static void draw_planes(canvas *cv, shade_fn shade, const void *ctx)
{
    int64_t plane = cv->h * cv->w;
    for (int64_t y = 0; y < cv->h; y++)
        for (int64_t i = 0; i < cv->w; i++) {
            uint8_t rgb[3];
            for (int64_t ch = 0; ch < cv->c; ch++) rgb[ch] = to_byte(shade(ctx, ch * plane + y * cv->w + i));
            canvas_set(cv, y, i, rgb);
        }
}

/* An image as the data's range maps to black ... white. */
typedef struct image_shade {
    const FoilAudit *a;
    const float *x;
} image_shade;

static double shade_image(const void *ctx, int64_t j)
{
    const image_shade *s = ctx;
    double range = s->a->upper[j] - s->a->lower[j];
    return range > 0 ? (s->x[j] - s->a->lower[j]) / range : 0;
}

/* adv - x, gray at 0 and black or white at -eps or +eps: magnified by
 * range / (2 eps), so a perturbation too faint to see in the adversarial
 * image shows its pattern. */
typedef struct perturbation_shade {
    const FoilAuditExample *e;
    double eps;
} perturbation_shade;

static double shade_perturbation(const void *ctx, int64_t j)
{
    const perturbation_shade *s = ctx;
    return s->eps > 0 ? 0.5 + 0.5 * (s->e->adv[j] - s->e->clean[j]) / s->eps : 0.5;
}

/* A pixel's attribution: the sum over its channels. */
static double pixel_attribution(const canvas *cv, const float *attr, int64_t y, int64_t x)
{
    double sum = 0;
    for (int64_t ch = 0; ch < cv->c; ch++) sum += attr[(ch * cv->h + y) * cv->w + x];
    return sum;
}

static int by_value(const void *p, const void *q)
{
    double a = *(const double *)p, b = *(const double *)q;
    return (a > b) - (a < b);
}

/* The scale both maps of an example share: the 99th percentile of the
 * pixels' |attribution|, so that a few extreme pixels do not wash the rest
 * out (those saturate). */
static foil_status saliency_scale(const canvas *cv, const FoilAuditExample *e, double *scale)
{
    int64_t plane = cv->h * cv->w, n = 0;
    double *mags = malloc(2 * (size_t)plane * sizeof *mags);
    if (!mags) return foil_error(FOIL_ERR_NOMEM, "audit report: out of memory for a saliency map");
    const float *maps[2] = {e->saliency_clean.attribution, e->saliency_adv.attribution};
    for (int m = 0; m < 2; m++)
        for (int64_t p = 0; maps[m] && p < plane; p++) mags[n++] = fabs(pixel_attribution(cv, maps[m], p / cv->w, p % cv->w));
    qsort(mags, (size_t)n, sizeof *mags, by_value);
    *scale = n ? mags[(n - 1) * 99 / 100] : 0;
    free(mags);
    return FOIL_OK;
}

static foil_status draw_saliency(canvas *cv, const FoilAuditExample *e, const float *attr)
{
    double scale = 0;
    foil_status st = saliency_scale(cv, e, &scale);
    for (int64_t y = 0; y < cv->h && !st; y++)
        for (int64_t i = 0; i < cv->w; i++) {
            double v = scale > 0 ? fmax(-1, fmin(1, pixel_attribution(cv, attr, y, i) / scale)) : 0;
            uint8_t fade = to_byte(1 - fabs(v)), rgb[3] = {255, fade, fade};
            if (v < 0) rgb[0] = fade, rgb[2] = 255;
            canvas_set(cv, y, i, rgb);
        }
    return st;
}

foil_status foilReportExamplePng(const FoilAudit *a, int k, FoilExampleView v, FoilPng *png)
{
    const FoilAuditExample *e = &a->examples[k];
    memset(png, 0, sizeof *png);
    if (!foilReportExampleHas(e, v)) return foil_error(FOIL_ERR_ARG, "example %d has no %s image", k, view_names[v]);
    int saliency = v == FOIL_VIEW_SALIENCY_CLEAN || v == FOIL_VIEW_SALIENCY_ADVERSARIAL;
    canvas cv;
    foil_status st = canvas_make(a, saliency ? 3 : (int)a->image_shape[0], &cv);
    if (st) return st;
    if (v == FOIL_VIEW_CLEAN || v == FOIL_VIEW_ADVERSARIAL) {
        image_shade shade = {a, v == FOIL_VIEW_CLEAN ? e->clean : e->adv};
        draw_planes(&cv, shade_image, &shade);
    } else if (v == FOIL_VIEW_PERTURBATION) {
        perturbation_shade shade = {e, a->headline >= 0 ? a->worst[a->headline].eps : e->distance};
        draw_planes(&cv, shade_perturbation, &shade);
    } else st = draw_saliency(&cv, e, v == FOIL_VIEW_SALIENCY_CLEAN ? e->saliency_clean.attribution
                                                                   : e->saliency_adv.attribution);
    if (!st) st = foilPngEncode(cv.px, (int)(cv.w * cv.scale), (int)(cv.h * cv.scale), cv.channels, png);
    free(cv.px);
    return st;
}

/* ---- the backdoor scan's trigger ---- */

static const char *const backdoor_names[FOIL_BACKDOOR_VIEW_COUNT] = {"mask", "trigger", "stamped"};

int foilReportBackdoorHas(const FoilAudit *a, FoilBackdoorView v)
{
    const FoilAuditBackdoor *b = &a->backdoor;
    if (!b->ran || b->shown < 0 || !a->lower || v < 0 || v >= FOIL_BACKDOOR_VIEW_COUNT) return 0;
    return v != FOIL_BACKDOOR_STAMPED || b->stamped != NULL;
}

void foilReportBackdoorFile(FoilBackdoorView v, char *buf, size_t size)
{
    snprintf(buf, size, "examples/backdoor-%s.png", backdoor_names[v]);
}

/* The mask, one value in [0, 1] per pixel. */
static double shade_mask(const void *ctx, int64_t j) { return ((const float *)ctx)[j]; }

/* The trigger alone: (1 - m) lower + m p, what it makes of a black image. */
static float *trigger_on_black(const FoilAudit *a)
{
    const foil_cleanse_result *r = &a->backdoor.cleanse;
    const int64_t hw = a->image_shape[1] * a->image_shape[2], f = a->image_shape[0] * hw, c = a->backdoor.shown;
    const float *m = foil_f32(&r->mask) + c * hw, *p = foil_f32(&r->pattern) + c * f;
    float *x = malloc((size_t)f * sizeof *x);
    for (int64_t j = 0; x && j < f; j++) x[j] = (1 - m[j % hw]) * a->lower[j] + m[j % hw] * p[j];
    return x;
}

foil_status foilReportBackdoorPng(const FoilAudit *a, FoilBackdoorView v, FoilPng *png)
{
    memset(png, 0, sizeof *png);
    if (!foilReportBackdoorHas(a, v))
        return foil_error(FOIL_ERR_ARG, "the audit has no backdoor %s image",
                          v >= 0 && v < FOIL_BACKDOOR_VIEW_COUNT ? backdoor_names[v] : "?");
    canvas cv;
    foil_status st = canvas_make(a, v == FOIL_BACKDOOR_MASK ? 1 : (int)a->image_shape[0], &cv);
    if (st) return st;
    float *trigger = NULL;
    if (v == FOIL_BACKDOOR_MASK) {
        cv.c = 1;
        draw_planes(&cv, shade_mask, foil_f32(&a->backdoor.cleanse.mask) + a->backdoor.shown * cv.h * cv.w);
    } else if (v == FOIL_BACKDOOR_TRIGGER && !(trigger = trigger_on_black(a))) {
        st = foil_error(FOIL_ERR_NOMEM, "audit report: out of memory for the backdoor trigger");
    } else {
        image_shade shade = {a, trigger ? trigger : a->backdoor.stamped};
        draw_planes(&cv, shade_image, &shade);
    }
    if (!st) st = foilPngEncode(cv.px, (int)(cv.w * cv.scale), (int)(cv.h * cv.scale), cv.channels, png);
    free(trigger);
    free(cv.px);
    return st;
}

/* ---- files ---- */

static foil_status write_file(const char *path, const FoilPng *png)
{
    FILE *f = fopen(path, "wb");
    if (!f) return foil_error(FOIL_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    size_t wrote = fwrite(png->data, 1, png->size, f);
    if (fclose(f) || wrote != png->size) return foil_error(FOIL_ERR_IO, "%s: write failed", path);
    return FOIL_OK;
}

/* One image, encoded or failed: into dir/name. */
static foil_status write_png(const char *dir, const char *name, foil_status encoded, FoilPng *png)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    foil_status st = encoded ? encoded : write_file(path, png);
    foilPngFree(png);
    return st;
}

foil_status foilReportAuditExamples(const char *dir, const FoilAudit *a)
{
    if (!a->n_examples && !foilReportBackdoorHas(a, FOIL_BACKDOOR_MASK)) return FOIL_OK;
    char path[4096], name[64];
    snprintf(path, sizeof path, "%s/examples", dir);
    foil_status st = foilMakeDir(path);
    for (int k = 0; k < a->n_examples && !st; k++)
        for (int v = 0; v < FOIL_VIEW_COUNT && !st; v++) {
            if (!foilReportExampleHas(&a->examples[k], (FoilExampleView)v)) continue;
            FoilPng png;
            foilReportExampleFile(k, (FoilExampleView)v, name, sizeof name);
            st = write_png(dir, name, foilReportExamplePng(a, k, (FoilExampleView)v, &png), &png);
        }
    for (int v = 0; v < FOIL_BACKDOOR_VIEW_COUNT && !st; v++) {
        if (!foilReportBackdoorHas(a, (FoilBackdoorView)v)) continue;
        FoilPng png;
        foilReportBackdoorFile((FoilBackdoorView)v, name, sizeof name);
        st = write_png(dir, name, foilReportBackdoorPng(a, (FoilBackdoorView)v, &png), &png);
    }
    return st;
}
