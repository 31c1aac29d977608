/*
 * attacks/inference/membership.c - membership inference scores
 * (foil/infer.h): the threshold attacks on the target's outputs, and
 * LiRA's Gaussian likelihood ratio over shadow models.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/stats.h"
#include "foil/infer.h"

#include "attacks/inference/inference_internal.h"

static const char *const attack_names[FOIL_MI_COUNT] = {
    "loss", "confidence", "entropy", "modified-entropy", "lira-offline", "lira-online", "gap", "label-noise",
    "shadow-classifier"};

const char *foil_membership_attack_name(foil_membership_attack a)
{
    return a >= 0 && a < FOIL_MI_COUNT ? attack_names[a] : "?";
}

foil_status foil_membership_attack_parse(const char *s, foil_membership_attack *a)
{
    for (int i = 0; s && i < FOIL_MI_COUNT; i++)
        if (strcmp(s, attack_names[i]) == 0) {
            *a = (foil_membership_attack)i;
            return FOIL_OK;
        }
    return foil_error(FOIL_ERR_ARG, "unknown membership attack '%s' (loss, confidence, entropy, modified-entropy, "
                      "lira-offline, lira-online, gap, label-noise, shadow-classifier)", s ? s : "");
}

int foil_membership_label_only(foil_membership_attack a)
{
    return a == FOIL_MI_GAP || a == FOIL_MI_LABEL_NOISE;
}

int foil_membership_needs_shadows(foil_membership_attack a)
{
    return a == FOIL_MI_LIRA_OFFLINE || a == FOIL_MI_LIRA_ONLINE || a == FOIL_MI_SHADOW_CLASSIFIER;
}

double foilLogSumExp(const float *z, int64_t classes, int64_t skip)
{
    double top = -INFINITY, sum = 0;
    for (int64_t i = 0; i < classes; i++)
        if (i != skip && z[i] > top) top = z[i];
    if (top == -INFINITY) return -INFINITY;
    for (int64_t i = 0; i < classes; i++)
        if (i != skip) sum += exp((double)z[i] - top);
    return top + log(sum);
}

static foil_status check_labels(const int64_t *y, int64_t n, int64_t classes)
{
    for (int64_t k = 0; k < n; k++)
        if (y[k] < 0 || y[k] >= classes)
            return foil_error(FOIL_ERR_ARG, "membership inference: example %lld has label %lld of %lld classes",
                              (long long)k, (long long)y[k], (long long)classes);
    return FOIL_OK;
}

/* log(-log(1 - q)) from x = log q and w = log(1 - q), accurate for every
 * q in (0, 1): from w where q is near 1, from x elsewhere, and x itself
 * where q is so small that -log(1 - q) = q to double precision. */
static double log_neg_log1m(double x, double w)
{
    if (x < -40) return x;
    if (x < -0.7) return log(-log1p(-exp(x)));
    return log(-w);
}

/* log sum exp of v (m values). */
static double log_sum(const double *v, int64_t m)
{
    double top = -INFINITY, sum = 0;
    for (int64_t i = 0; i < m; i++)
        if (v[i] > top) top = v[i];
    if (top == -INFINITY) return -INFINITY;
    for (int64_t i = 0; i < m; i++) sum += exp(v[i] - top);
    return top + log(sum);
}

/* One example's threshold score from its logits z, in log space
 * throughout: lp[i] = log p_i and lq[i] = log(1 - p_i) from the logits
 * directly, so that a model that is right with p_y = 1 - 1e-40 still
 * ranks above one right with 1 - 1e-30 (in float, both are 1, a tie).
 * Each score is a monotone transform of the attack's statistic, which is
 * all a ROC curve sees: loss and confidence as log-odds, log p - log(1 - p)
 * (of the label's probability, the same order as -CE; of the largest), the
 * two entropies as -log H. */
static double threshold_score(foil_membership_attack a, const float *z, int64_t y, int64_t classes, double *lp,
                              double *lq)
{
    const double lse = foilLogSumExp(z, classes, -1);
    int64_t top = 0;
    for (int64_t i = 0; i < classes; i++) {
        lp[i] = (double)z[i] - lse;
        /* log(1 - p): log1p is exact below p = 1/2; above it (one class at
         * most) the other classes' mass, so p near 1 keeps its digits */
        lq[i] = lp[i] < -0.6931471805599453 ? log1p(-exp(lp[i])) : foilLogSumExp(z, classes, i) - lse;
        if (z[i] > z[top]) top = i;
    }
    if (a == FOIL_MI_LOSS) return lp[y] - lq[y];
    if (a == FOIL_MI_GAP) return z[top] == z[y] ? 1 : 0; /* a tie for the top counts as right */
    if (a == FOIL_MI_CONFIDENCE) return lp[top] - lq[top];
    /* the terms of H = sum -p log p, or of Song and Mittal's
     * -(1 - p_y) log p_y - sum_{i != y} p_i log(1 - p_i), as logs, into lp */
    for (int64_t i = 0; i < classes; i++) {
        /* log(-p log p); p = 0 (a class a top-k or rounded answer zeroed) adds nothing */
        const double p_term = lp[i] == -INFINITY ? -INFINITY : lp[i] + log_neg_log1m(lq[i], lp[i]);
        const double q_term = lq[i] + log_neg_log1m(lq[i], lp[i]);        /* log(-(1 - p) log p) */
        const double r_term = lp[i] + log_neg_log1m(lp[i], lq[i]);        /* log(-p log(1 - p)) */
        lp[i] = a == FOIL_MI_ENTROPY ? p_term : i == y ? q_term : r_term;
    }
    return -log_sum(lp, classes);
}

foil_status foil_membership_scores(foil_membership_attack a, const float *logits, const int64_t *y, int64_t n,
                                   int64_t classes, float *score)
{
    if (!(a >= FOIL_MI_LOSS && a <= FOIL_MI_MODIFIED_ENTROPY) && a != FOIL_MI_GAP)
        return foil_error(FOIL_ERR_ARG, "membership attack %s is not a threshold on the target's outputs",
                          foil_membership_attack_name(a));
    foil_status st = check_labels(y, n, classes);
    double *lp = malloc((size_t)(classes > 0 ? classes : 1) * 2 * sizeof *lp);
    if (!st && !lp) st = foil_error(FOIL_ERR_NOMEM, "out of memory for membership scores");
    for (int64_t k = 0; !st && k < n; k++)
        score[k] = (float)threshold_score(a, logits + k * classes, y[k], classes, lp, lp + classes);
    free(lp);
    return st;
}

foil_status foil_lira_statistic(const float *logits, const int64_t *y, int64_t n, int64_t classes, float *phi)
{
    foil_status st = check_labels(y, n, classes);
    if (!st && classes < 2) st = foil_error(FOIL_ERR_ARG, "LiRA: a model with %lld class", (long long)classes);
    for (int64_t k = 0; !st && k < n; k++) {
        const float *z = logits + k * classes;
        phi[k] = (float)((double)z[y[k]] - foilLogSumExp(z, classes, y[k]));
    }
    return st;
}

/* One side (in or out) of LiRA's fits: per example the median of the
 * shadows' phi on that side, and the sum of squared deviations from the
 * examples' own mean (for the per-example and pooled deviations). */
typedef struct Side {
    double *center, *sq;
    int64_t *count;
} Side;

static foil_status fit_side(const float *shadow_phi, const uint8_t *shadow_in, int64_t shadows, int64_t n, int in,
                            Side *s, double *buf)
{
    for (int64_t j = 0; j < n; j++) {
        int64_t m = 0;
        double mean = 0, sq = 0;
        for (int64_t k = 0; k < shadows; k++)
            if (!shadow_in[k * n + j] == !in) buf[m++] = shadow_phi[k * n + j];
        if (m == 0)
            return foil_error(FOIL_ERR_ARG, "LiRA: example %lld has no shadow model %s it; train more shadow models",
                              (long long)j, in ? "trained on" : "trained without");
        for (int64_t i = 0; i < m; i++) mean += buf[i] / (double)m;
        for (int64_t i = 0; i < m; i++) sq += (buf[i] - mean) * (buf[i] - mean);
        s->center[j] = foilMedianInPlace(buf, m), s->sq[j] = sq, s->count[j] = m;
    }
    return FOIL_OK;
}

/* The standard deviation of example j's side: its own, or pooled over
 * every example's deviations from its own mean. Floored so that a
 * side whose shadows all agree cannot divide by zero. */
static double side_std(const Side *s, int64_t n, int64_t j, int global)
{
    double sd;
    if (global) {
        double sq = 0;
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++) sq += s->sq[i], m += s->count[i];
        sd = sqrt(sq / (double)(m > n ? m - n : 1));
    } else {
        sd = sqrt(s->sq[j] / (double)(s->count[j] > 1 ? s->count[j] - 1 : 1));
    }
    return sd > 1e-6 ? sd : 1e-6;
}

static double log_normal(double x, double mu, double sd)
{
    const double z = (x - mu) / sd;
    return -0.5 * z * z - log(sd) - 0.9189385332046728; /* log sqrt(2 pi) */
}

static foil_status check_counts(const Side *s, int64_t n, int global, const char *side)
{
    for (int64_t j = 0; !global && j < n; j++)
        if (s->count[j] < 2)
            return foil_error(FOIL_ERR_ARG, "LiRA: example %lld has %lld shadow model %s it, too few for its own "
                              "variance (use the global variance or more shadow models)", (long long)j,
                              (long long)s->count[j], side);
    return FOIL_OK;
}

foil_status foil_lira_scores(const float *phi, const float *shadow_phi, const uint8_t *shadow_in, int64_t shadows,
                             int64_t n, int online, foil_lira_variance variance, float *score)
{
    if (shadows < 1 || n < 0) return foil_error(FOIL_ERR_ARG, "LiRA: %lld shadow models", (long long)shadows);
    const int global = variance == FOIL_LIRA_VARIANCE_GLOBAL || (variance == FOIL_LIRA_VARIANCE_AUTO && shadows < 64);
    Side in = {0}, out = {0};
    double *buf = malloc((size_t)shadows * sizeof *buf);
    Side *sides[2] = {&out, &in};
    foil_status st = buf ? FOIL_OK : foil_error(FOIL_ERR_NOMEM, "out of memory for LiRA");
    for (int i = 0; !st && i < 1 + (online != 0); i++) {
        Side *s = sides[i];
        s->center = malloc((size_t)(n ? n : 1) * sizeof *s->center);
        s->sq = malloc((size_t)(n ? n : 1) * sizeof *s->sq);
        s->count = malloc((size_t)(n ? n : 1) * sizeof *s->count);
        if (!s->center || !s->sq || !s->count) st = foil_error(FOIL_ERR_NOMEM, "out of memory for LiRA");
        if (!st) st = fit_side(shadow_phi, shadow_in, shadows, n, i, s, buf);
        if (!st) st = check_counts(s, n, global, i ? "trained on" : "trained without");
    }
    /* the pooled deviations are the same for every example: once each */
    const double out_global = !st && global && n ? side_std(&out, n, 0, 1) : 0;
    const double in_global = !st && global && n && online ? side_std(&in, n, 0, 1) : 0;
    for (int64_t j = 0; !st && j < n; j++) {
        const double sd_out = global ? out_global : side_std(&out, n, j, 0);
        if (!online) {
            score[j] = (float)(((double)phi[j] - out.center[j]) / sd_out);
            continue;
        }
        const double sd_in = global ? in_global : side_std(&in, n, j, 0);
        score[j] = (float)(log_normal(phi[j], in.center[j], sd_in) - log_normal(phi[j], out.center[j], sd_out));
    }
    for (int i = 0; i < 2; i++) free(sides[i]->center), free(sides[i]->sq), free(sides[i]->count);
    free(buf);
    return st;
}
