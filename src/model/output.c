/*
 * model/output.c - output modes: what a query of a hardened or black-box
 * model returns (logits, probabilities, the top k probabilities, rounded
 * probabilities, or the label alone), the output-hardening defenses of
 * Tramer et al. 2016 and ART's postprocessors.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foil/model.h"

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) return 0;
    *out = (int)v;
    return 1;
}

foil_status foil_output_parse(const char *s, foil_output *out)
{
    memset(out, 0, sizeof *out);
    if (s && strcmp(s, "logits") == 0) return FOIL_OK;
    if (s && (strcmp(s, "probabilities") == 0 || strcmp(s, "probs") == 0)) {
        out->mode = FOIL_OUTPUT_PROBABILITIES;
        return FOIL_OK;
    }
    if (s && strcmp(s, "labels") == 0) {
        out->mode = FOIL_OUTPUT_LABELS;
        return FOIL_OK;
    }
    if (s && strncmp(s, "top-k=", 6) == 0 && parse_int(s + 6, 1, 1 << 20, &out->k)) {
        out->mode = FOIL_OUTPUT_TOP_K;
        return FOIL_OK;
    }
    if (s && strncmp(s, "round=", 6) == 0 && parse_int(s + 6, 0, 8, &out->decimals)) {
        out->mode = FOIL_OUTPUT_ROUNDED;
        return FOIL_OK;
    }
    return foil_error(FOIL_ERR_ARG, "output mode '%s' is not one of: logits, probabilities, top-k=K (K >= 1), "
                      "round=D (0 <= D <= 8 decimals), labels", s ? s : "(null)");
}

const char *foil_output_str(const foil_output *o, char *buf, int size)
{
    switch (o->mode) {
    case FOIL_OUTPUT_LOGITS: snprintf(buf, (size_t)size, "logits"); break;
    case FOIL_OUTPUT_PROBABILITIES: snprintf(buf, (size_t)size, "probabilities"); break;
    case FOIL_OUTPUT_TOP_K: snprintf(buf, (size_t)size, "top-k=%d", o->k); break;
    case FOIL_OUTPUT_ROUNDED: snprintf(buf, (size_t)size, "round=%d", o->decimals); break;
    case FOIL_OUTPUT_LABELS: snprintf(buf, (size_t)size, "labels"); break;
    }
    return buf;
}

foil_status foil_output_check(const foil_output *o, unsigned caps, const char *who)
{
    if (o->mode != FOIL_OUTPUT_LOGITS && o->mode != FOIL_OUTPUT_LABELS && !(caps & FOIL_MODEL_SCORES))
        return foil_error(FOIL_ERR_CAPABILITY, "%s: the model returns labels only, so it cannot give probabilities",
                          who);
    if ((o->mode == FOIL_OUTPUT_TOP_K && o->k < 1) ||
        (o->mode == FOIL_OUTPUT_ROUNDED && (o->decimals < 0 || o->decimals > 8)))
        return foil_error(FOIL_ERR_ARG, "%s: top-k needs k >= 1 and rounding 0 to 8 decimals", who);
    return FOIL_OK;
}

unsigned foil_output_capabilities(const foil_output *o, unsigned caps)
{
    switch (o->mode) {
    case FOIL_OUTPUT_LOGITS: return caps;
    case FOIL_OUTPUT_PROBABILITIES:
    case FOIL_OUTPUT_TOP_K:
    case FOIL_OUTPUT_ROUNDED: return caps | FOIL_MODEL_PROBABILITIES;
    case FOIL_OUTPUT_LABELS: return caps & ~(unsigned)(FOIL_MODEL_SCORES | FOIL_MODEL_PROBABILITIES);
    }
    return caps;
}

/* Softmax of one row in place, max-shifted so that large logits do not
 * overflow. */
static void softmax_row(float *z, int64_t classes)
{
    float max = z[0];
    for (int64_t k = 1; k < classes; k++) max = fmaxf(max, z[k]);
    double sum = 0;
    for (int64_t k = 0; k < classes; k++) sum += (z[k] = expf(z[k] - max));
    for (int64_t k = 0; k < classes; k++) z[k] = (float)(z[k] / sum);
}

/* Zero all but the k largest entries; among equal scores the lower class
 * wins, as in foil_argmax. drop: classes flags of scratch. */
static void keep_top_k(float *p, int64_t classes, int k, unsigned char *drop)
{
    if (k >= classes) return;
    for (int64_t c = 0; c < classes; c++) {
        int64_t above = 0;
        for (int64_t j = 0; j < classes && above < k; j++) above += p[j] > p[c] || (p[j] == p[c] && j < c);
        drop[c] = above >= k;
    }
    for (int64_t c = 0; c < classes; c++)
        if (drop[c]) p[c] = 0;
}

static void one_hot(float *z, int64_t classes)
{
    int64_t best = 0;
    for (int64_t k = 1; k < classes; k++)
        if (z[k] > z[best]) best = k;
    for (int64_t k = 0; k < classes; k++) z[k] = k == best ? 1.0f : 0.0f;
}

foil_status foil_output_apply(const foil_output *o, unsigned caps, float *scores, int64_t rows, int64_t classes)
{
    if (o->mode == FOIL_OUTPUT_LOGITS) return FOIL_OK;
    unsigned char *drop = o->mode == FOIL_OUTPUT_TOP_K ? malloc((size_t)classes) : NULL;
    if (o->mode == FOIL_OUTPUT_TOP_K && !drop) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    const int probabilities = (caps & FOIL_MODEL_PROBABILITIES) != 0;
    const float scale = powf(10.0f, (float)o->decimals);
    for (int64_t r = 0; r < rows; r++) {
        float *z = scores + r * classes;
        if (o->mode == FOIL_OUTPUT_LABELS) {
            one_hot(z, classes);
            continue;
        }
        if (!probabilities) softmax_row(z, classes);
        if (o->mode == FOIL_OUTPUT_TOP_K) keep_top_k(z, classes, o->k, drop);
        if (o->mode == FOIL_OUTPUT_ROUNDED)
            for (int64_t k = 0; k < classes; k++) z[k] = rintf(z[k] * scale) / scale;
    }
    free(drop);
    return FOIL_OK;
}

/* log p differs from the logits by one constant per row (the log of the
 * softmax's sum), to which every loss the attacks use (cross-entropy,
 * margin, DLR), every softmax and every argmax is blind. A class an output
 * mode zeroed (top-k, rounding) gets log FLT_MIN, about -87: far below
 * every kept class, yet finite. */
void foil_scores_as_logits(unsigned caps, float *scores, int64_t n)
{
    if (!(caps & FOIL_MODEL_PROBABILITIES)) return;
    for (int64_t i = 0; i < n; i++) scores[i] = logf(fmaxf(scores[i], FLT_MIN));
}
