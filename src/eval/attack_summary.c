/*
 * eval/attack_summary.c - an attack result in a few numbers: clean and
 * robust accuracy, success rate, perturbation norms of the fooled examples,
 * queries and gradients per attacked example, zero gradients, speed.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "foil/eval.h"

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

void foil_evasion_summarize(const foil_evasion_result *r, foil_evasion_summary *s)
{
    memset(s, 0, sizeof *s);
    s->examples = r->n;
    float *norms = malloc((size_t)(r->n ? r->n : 1) * sizeof *norms);
    int64_t q = 0, g = 0;
    for (int64_t i = 0; i < r->n; i++) {
        if (!r->attacked[i]) continue;
        s->attacked++;
        q += r->queries[i];
        g += r->grads[i];
        if (r->success[i]) {
            if (norms) norms[s->fooled] = r->norm[i];
            s->fooled++;
        }
    }
    s->clean_accuracy = r->n ? (double)s->attacked / (double)r->n : 0;
    s->robust_accuracy = r->n ? (double)(s->attacked - s->fooled) / (double)r->n : 0;
    s->success_rate = s->attacked ? (double)s->fooled / (double)s->attacked : 0;
    s->mean_queries = s->attacked ? (double)q / (double)s->attacked : 0;
    s->mean_grads = s->attacked ? (double)g / (double)s->attacked : 0;
    foil_evasion_zero_gradients(r, &s->grad_examples, &s->zero_grad_examples);
    s->zero_gradient_fraction = s->grad_examples ? (double)s->zero_grad_examples / (double)s->grad_examples : NAN;
    s->median_norm = s->max_norm = NAN;
    if (norms && s->fooled) {
        qsort(norms, (size_t)s->fooled, sizeof *norms, cmp_float);
        int64_t h = s->fooled / 2;
        s->median_norm = s->fooled % 2 ? norms[h] : 0.5 * ((double)norms[h - 1] + norms[h]);
        s->max_norm = norms[s->fooled - 1];
    }
    free(norms);
    s->seconds = r->seconds;
    s->images_per_second = r->seconds > 0 ? (double)r->n / r->seconds : 0;
}

/* Features changed and mean absolute change, over the fooled examples. */
void foil_evasion_change_stats(const foil_evasion_result *r, const foil_tensor *x, double *changed, double *mean_abs)
{
    int64_t d = x->numel / r->n, fooled = 0, total_changed = 0;
    double sum = 0;
    for (int64_t i = 0; i < r->n; i++) {
        if (!r->success[i]) continue;
        fooled++;
        for (int64_t j = 0; j < d; j++) {
            float v = foil_f32(&r->adv)[i * d + j] - foil_f32(x)[i * d + j];
            if (v != 0) {
                total_changed++;
                sum += fabs(v);
            }
        }
    }
    *changed = fooled ? (double)total_changed / (double)fooled : 0;
    *mean_abs = total_changed ? sum / (double)total_changed : 0;
}

double foil_evasion_empirical_robustness(const foil_evasion_result *r, const foil_tensor *x, foil_norm norm)
{
    const int64_t d = r->n ? x->numel / r->n : 0;
    double sum = 0;
    int64_t fooled = 0;
    for (int64_t i = 0; i < r->n; i++) {
        if (!r->attacked[i] || !r->success[i]) continue;
        float size = foil_vec_norm(norm, foil_f32(x) + i * d, d);
        if (!(size > 0)) continue; /* an all-zero input has no relative size */
        sum += r->norm[i] / size;
        fooled++;
    }
    return fooled ? sum / (double)fooled : NAN;
}
