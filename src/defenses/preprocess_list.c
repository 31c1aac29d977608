/*
 * defenses/preprocess_list.c - a preprocessing defense from its description
 * ("squeeze:bits=4,median:3"), as --preprocess takes it (foil/defense.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foil/defense.h"

#define FORMS                                                                                                 \
    "squeeze:bits=B, median:size=K, blur:sigma=S, jpeg:quality=Q, tv:lambda=L, noise:sigma=S (comma-separated, "  \
    "applied in order)"

/* The stage's one parameter: "name", "name:V" or "name:key=V" (key must be
 * `key`). *has is 0 for the bare name. */
static int stage_value(const char *args, const char *key, double *v, int *has)
{
    *has = 0;
    if (!*args) return 1;
    if (*args++ != ':') return 0;
    size_t klen = strlen(key);
    if (strncmp(args, key, klen) == 0 && args[klen] == '=') args += klen + 1;
    char *end;
    *v = strtod(args, &end);
    *has = 1;
    return end != args && !*end && isfinite(*v);
}

static foil_status need_image(const char *stage, const foil_input_desc *in)
{
    if (in->is_image) return FOIL_OK;
    return foil_error(FOIL_ERR_ARG, "--preprocess %s works on images (one input range), and these inputs are "
                      "tabular", stage);
}

static foil_status make_stage(const char *stage, const foil_input_desc *in, uint64_t seed, foil_preprocessor *p)
{
    double v = 0;
    int has;
    size_t len = strcspn(stage, ":");
    const char *args = stage + len;
    foil_status st;
    if (len == 7 && strncmp(stage, "squeeze", 7) == 0) {
        if (!stage_value(args, "bits", &v, &has) || !has || v != floor(v)) goto bad;
        if ((st = need_image(stage, in))) return st;
        return foil_preprocessor_bit_depth((int)v, in->lo, in->hi, p);
    }
    if (strncmp(stage, "bit-depth=", 10) == 0) { /* the first spelling --preprocess took */
        char *end;
        long bits = strtol(stage + 10, &end, 10);
        if (*end || end == stage + 10) goto bad;
        if ((st = need_image(stage, in))) return st;
        return foil_preprocessor_bit_depth((int)bits, in->lo, in->hi, p);
    }
    if (len == 6 && strncmp(stage, "median", 6) == 0) {
        if (!stage_value(args, "size", &v, &has) || (has && v != floor(v))) goto bad;
        if ((st = need_image(stage, in))) return st;
        return foil_preprocessor_median(has ? (int64_t)v : 3, in->c, in->h, in->w, p);
    }
    if (len == 4 && strncmp(stage, "blur", 4) == 0) {
        if (!stage_value(args, "sigma", &v, &has) || !has) goto bad;
        if ((st = need_image(stage, in))) return st;
        return foil_preprocessor_gaussian_blur((float)v, in->c, in->h, in->w, p);
    }
    if (len == 4 && strncmp(stage, "jpeg", 4) == 0) {
        if (!stage_value(args, "quality", &v, &has) || (has && v != floor(v))) goto bad;
        if ((st = need_image(stage, in))) return st;
        return foil_preprocessor_jpeg(has ? (int)v : 75, in->c, in->h, in->w, in->lo, in->hi, p);
    }
    if (len == 2 && strncmp(stage, "tv", 2) == 0) {
        if (!stage_value(args, "lambda", &v, &has)) goto bad;
        if ((st = need_image(stage, in))) return st;
        return foil_preprocessor_tv_min(0.3f, has ? (float)v : 0.5f, 2, 10, in->c, in->h, in->w, in->lo, in->hi, seed,
                                        p);
    }
    if (len == 5 && strncmp(stage, "noise", 5) == 0) {
        if (!stage_value(args, "sigma", &v, &has) || !has) goto bad;
        return foil_preprocessor_gaussian_noise((float)v, seed, p);
    }
bad:
    return foil_error(FOIL_ERR_ARG, "--preprocess: '%s' is not one of: " FORMS, stage);
}

foil_status foil_preprocessors_parse(const char *list, const foil_input_desc *in, uint64_t seed,
                                     foil_preprocessor *out, int max, int *count)
{
    *count = 0;
    if (!list || !*list) return foil_error(FOIL_ERR_ARG, "--preprocess is empty; give one or more of: " FORMS);
    char *copy = strdup(list);
    if (!copy) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    foil_status st = FOIL_OK;
    char *save = NULL;
    for (char *stage = strtok_r(copy, ",", &save); stage && !st; stage = strtok_r(NULL, ",", &save)) {
        if (*count == max) st = foil_error(FOIL_ERR_ARG, "--preprocess: at most %d stages", max);
        else if (!(st = make_stage(stage, in, seed + (uint64_t)*count, &out[*count]))) (*count)++;
    }
    free(copy);
    if (!st && !*count) st = foil_error(FOIL_ERR_ARG, "--preprocess is empty; give one or more of: " FORMS);
    if (st) {
        foil_preprocessors_free(out, *count);
        *count = 0;
    }
    return st;
}

void foil_preprocessors_free(foil_preprocessor *pre, int n)
{
    for (int k = 0; k < n; k++)
        if (pre[k].destroy) pre[k].destroy(pre[k].ctx);
}
