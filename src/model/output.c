/*
 * model/output.c - output modes: what a query of a hardened or black-box
 * model returns (logits, probabilities, the top k probabilities, rounded
 * probabilities, or the label alone), the output-hardening defenses of
 * Tramer et al. 2016 and ART's postprocessors, with the reverse-sigmoid
 * perturbation (Lee et al. 2019, "Defending against NN model stealing
 * attacks using deceptive perturbations") and Gaussian noise on the
 * probabilities, both as ART's ReverseSigmoid and GaussianNoise compute
 * them. One mode applies at a time (ART chains postprocessors).
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foil/model.h"
#include "foil/rng.h"

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) return 0;
    *out = (int)v;
    return 1;
}

/* A finite number > 0 filling all of s (up to stop, when not NUL). */
static int parse_positive_until(const char *s, char stop, float *out)
{
    char *end;
    float v = strtof(s, &end);
    if (end == s || *end != stop || !(v > 0) || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

static int parse_positive(const char *s, float *out) { return parse_positive_until(s, '\0', out); }

static int parse_float_pair(const char *s, float *a, float *b)
{
    const char *comma = strchr(s, ',');
    return comma && parse_positive_until(s, ',', a) && parse_positive(comma + 1, b);
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
    if (s && (strcmp(s, "reverse-sigmoid") == 0 ||
              (strncmp(s, "reverse-sigmoid=", 16) == 0 && parse_float_pair(s + 16, &out->beta, &out->gamma)))) {
        out->mode = FOIL_OUTPUT_REVERSE_SIGMOID;
        if (!s[15]) out->beta = 1.0f, out->gamma = 0.1f;
        return FOIL_OK;
    }
    if (s && strncmp(s, "noise=", 6) == 0 && parse_positive(s + 6, &out->scale)) {
        out->mode = FOIL_OUTPUT_NOISE;
        return FOIL_OK;
    }
    return foil_error(FOIL_ERR_ARG, "output mode '%s' is not one of: logits, probabilities, top-k=K (K >= 1), "
                      "round=D (0 <= D <= 8 decimals), labels, reverse-sigmoid[=BETA,GAMMA] (both > 0), "
                      "noise=SCALE (> 0)", s ? s : "(null)");
}

const char *foil_output_str(const foil_output *o, char *buf, int size)
{
    switch (o->mode) {
    case FOIL_OUTPUT_LOGITS: snprintf(buf, (size_t)size, "logits"); break;
    case FOIL_OUTPUT_PROBABILITIES: snprintf(buf, (size_t)size, "probabilities"); break;
    case FOIL_OUTPUT_TOP_K: snprintf(buf, (size_t)size, "top-k=%d", o->k); break;
    case FOIL_OUTPUT_ROUNDED: snprintf(buf, (size_t)size, "round=%d", o->decimals); break;
    case FOIL_OUTPUT_LABELS: snprintf(buf, (size_t)size, "labels"); break;
    case FOIL_OUTPUT_REVERSE_SIGMOID: snprintf(buf, (size_t)size, "reverse-sigmoid=%g,%g", o->beta, o->gamma); break;
    case FOIL_OUTPUT_NOISE: snprintf(buf, (size_t)size, "noise=%g", o->scale); break;
    }
    return buf;
}

foil_status foil_output_check(const foil_output *o, unsigned caps, const char *who)
{
    if (o->mode != FOIL_OUTPUT_LOGITS && o->mode != FOIL_OUTPUT_LABELS && !(caps & FOIL_MODEL_SCORES))
        return foil_error(FOIL_ERR_CAPABILITY, "%s: the model returns labels only, so it cannot give probabilities",
                          who);
    if ((o->mode == FOIL_OUTPUT_TOP_K && o->k < 1) ||
        (o->mode == FOIL_OUTPUT_ROUNDED && (o->decimals < 0 || o->decimals > 8)) ||
        (o->mode == FOIL_OUTPUT_REVERSE_SIGMOID && !(o->beta > 0 && o->gamma > 0 && isfinite(o->beta * o->gamma))) ||
        (o->mode == FOIL_OUTPUT_NOISE && !(o->scale > 0 && isfinite(o->scale))))
        return foil_error(FOIL_ERR_ARG, "%s: top-k needs k >= 1, rounding 0 to 8 decimals, reverse-sigmoid a beta and "
                          "gamma > 0, noise a scale > 0", who);
    return FOIL_OK;
}

unsigned foil_output_capabilities(const foil_output *o, unsigned caps)
{
    switch (o->mode) {
    case FOIL_OUTPUT_LOGITS: return caps;
    case FOIL_OUTPUT_PROBABILITIES:
    case FOIL_OUTPUT_TOP_K:
    case FOIL_OUTPUT_ROUNDED:
    case FOIL_OUTPUT_REVERSE_SIGMOID: return caps | FOIL_MODEL_PROBABILITIES;
    case FOIL_OUTPUT_NOISE: return caps | FOIL_MODEL_PROBABILITIES | FOIL_MODEL_RANDOMIZED;
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
 * wins, as in foilArgmax. drop: classes flags of scratch. */
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

/* Scale a row of non-negative values to sum 1; a row clipped to all
 * zeros (ART would divide by zero) becomes uniform. */
static void renormalize(float *p, int64_t classes)
{
    double sum = 0;
    for (int64_t k = 0; k < classes; k++) sum += p[k];
    for (int64_t k = 0; k < classes; k++) p[k] = sum > 0 ? (float)(p[k] / sum) : 1.0f / (float)classes;
}

/* Lee et al. 2019, as ART computes it: r = beta (sigmoid(gamma logit(p)) -
 * 1/2), with p clipped to [1e-9, 1 - 1e-9] inside the logit; the answer is
 * clip(p - r, 0, 1) renormalized. It keeps the top-1 class for the usual
 * parameters while the scores no longer follow the model's logits. */
static void reverse_sigmoid(float *p, int64_t classes, float beta, float gamma)
{
    for (int64_t k = 0; k < classes; k++) {
        double pc = fmin(fmax((double)p[k], 1e-9), 1.0 - 1e-9);
        double r = beta * (1.0 / (1.0 + exp(-gamma * log(pc / (1.0 - pc)))) - 0.5);
        p[k] = (float)fmin(fmax((double)p[k] - r, 0.0), 1.0);
    }
    renormalize(p, classes);
}

static void add_noise(float *p, int64_t classes, float scale, uint64_t stream_seed, uint64_t stream)
{
    foil_rng r = foil_rng_make(stream_seed, stream);
    for (int64_t k = 0; k < classes; k++) p[k] = fmaxf(p[k] + scale * (float)foil_rng_normal(&r), 0.0f);
    renormalize(p, classes);
}

foil_status foil_output_apply(foil_output *o, unsigned caps, float *scores, int64_t rows, int64_t classes,
                              const uint64_t *seeds)
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
        if (o->mode == FOIL_OUTPUT_REVERSE_SIGMOID) reverse_sigmoid(z, classes, o->beta, o->gamma);
        if (o->mode == FOIL_OUTPUT_NOISE)
            add_noise(z, classes, o->scale, seeds ? seeds[r] : o->seed,
                      seeds ? 0x6f75747075744e4fULL : o->draws + (uint64_t)r + 1);
    }
    if (o->mode == FOIL_OUTPUT_NOISE && !seeds) o->draws += (uint64_t)rows;
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
