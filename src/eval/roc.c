/*
 * eval/roc.c - ROC AUC, thresholds at a false-positive rate, rates above a
 * threshold: how well a score separates two populations (foil/eval.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "foil/eval.h"

static int compare_floats(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static float *sorted_copy(const float *v, int64_t n)
{
    float *s = malloc((size_t)(n ? n : 1) * sizeof *s);
    if (!s) return NULL;
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, compare_floats);
    return s;
}

static int any_nan(const float *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (isnan(v[i])) return 1;
    return 0;
}

/* Sort both sets and walk them together: each positive counts the
 * negatives below it, plus half of those equal to it. O((m + n) log). */
double foil_roc_auc(const float *negatives, int64_t n_neg, const float *positives, int64_t n_pos)
{
    if (n_neg < 1 || n_pos < 1 || any_nan(negatives, n_neg) || any_nan(positives, n_pos)) return NAN;
    float *neg = sorted_copy(negatives, n_neg), *pos = sorted_copy(positives, n_pos);
    double wins = NAN;
    if (neg && pos) {
        wins = 0;
        int64_t below = 0, equal_end = 0;
        for (int64_t i = 0; i < n_pos; i++) {
            while (below < n_neg && neg[below] < pos[i]) below++;
            if (equal_end < below) equal_end = below;
            while (equal_end < n_neg && neg[equal_end] == pos[i]) equal_end++;
            wins += (double)below + 0.5 * (double)(equal_end - below);
        }
        wins /= (double)n_neg * (double)n_pos;
    }
    free(neg);
    free(pos);
    return wins;
}

float foil_threshold_at_fpr(const float *negatives, int64_t n, double fpr)
{
    if (n < 1) return NAN;
    float *s = sorted_copy(negatives, n);
    if (!s) return NAN;
    if (!(fpr >= 0)) fpr = 0;
    if (fpr > 1) fpr = 1;
    int64_t allowed = (int64_t)floor(fpr * (double)n);
    float t = allowed >= n ? -INFINITY : s[n - 1 - allowed];
    free(s);
    return t;
}

double foil_rate_above(const float *scores, int64_t n, float t)
{
    if (n < 1) return NAN;
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) k += scores[i] > t;
    return (double)k / (double)n;
}

/* A threshold between two scores flags the same examples as one at the
 * higher of them, so only the positives' scores need trying: both sorted,
 * one sweep. */
double foil_best_balanced_accuracy(float *positives, int64_t n_pos, float *negatives, int64_t n_neg)
{
    if (n_pos < 1 || n_neg < 1) return NAN;
    qsort(positives, (size_t)n_pos, sizeof *positives, compare_floats);
    qsort(negatives, (size_t)n_neg, sizeof *negatives, compare_floats);
    double best = 0.5;
    for (int64_t i = 0, below = 0; i < n_pos; i++) {
        if (i > 0 && positives[i] == positives[i - 1]) continue; /* a tie: the first of them set the rates */
        while (below < n_neg && negatives[below] < positives[i]) below++;
        const double tpr = (double)(n_pos - i) / (double)n_pos, fpr = (double)(n_neg - below) / (double)n_neg;
        best = fmax(best, 0.5 * (tpr + 1 - fpr));
    }
    return best;
}
