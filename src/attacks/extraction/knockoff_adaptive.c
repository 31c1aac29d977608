/*
 * attacks/extraction/knockoff_adaptive.c - Knockoff Nets' adaptive
 * strategy (Orekondy et al. 2019, sec. 4.1.2; foil/extraction.h): a
 * gradient-bandit policy picks which class of the surrogate data to query
 * next, rewarded for answers that are certain, diverse and that the
 * knockoff, trained online, got wrong.
 *
 * Where foil follows the paper rather than ART's KnockoffNets
 * (art/attacks/extraction/knockoff_nets.py, 1.20):
 *   - the victim's probabilities are the labels (soft) when it gives them;
 *     ART's adaptive strategy always keeps only the argmax;
 *   - the loss reward is the cross-entropy of the victim's probabilities
 *     against the knockoff's, taken before the knockoff learns the new
 *     query; ART softmaxes the (already normalized) victim output again and
 *     takes it after one fit on the query;
 *   - images are drawn without replacement (an exhausted class is no longer
 *     an action); ART may query the same image again;
 *   - the diversity mean may be over the last `window` answers (the
 *     paper's Delta); window 0 is ART's mean over all.
 * As ART: the step 1 / pulls(a), the rewards standardized by their running
 * mean and variance, one level of actions (the surrogate's classes; the
 * paper's coarse-to-fine hierarchy is not built).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attacks/extraction/extraction_internal.h"

foil_status foil_knockoff_policy_init(foil_knockoff_policy *p, int64_t actions, int64_t classes, int64_t window)
{
    memset(p, 0, sizeof *p);
    if (actions < 1 || classes < 1 || window < 0)
        return foil_error(FOIL_ERR_ARG, "knockoff policy: %lld actions, %lld classes, window %lld",
                          (long long)actions, (long long)classes, (long long)window);
    p->actions = actions, p->classes = classes, p->window = window;
    p->h = calloc((size_t)actions, sizeof *p->h);
    p->pi = malloc((size_t)actions * sizeof *p->pi);
    p->pulls = calloc((size_t)actions, sizeof *p->pulls);
    p->y_sum = calloc((size_t)classes, sizeof *p->y_sum);
    p->recent = window ? calloc((size_t)(window * classes), sizeof *p->recent) : NULL;
    if (!p->h || !p->pi || !p->pulls || !p->y_sum || (window && !p->recent)) {
        foil_knockoff_policy_free(p);
        return foil_error(FOIL_ERR_NOMEM, "out of memory for the knockoff policy");
    }
    for (int64_t a = 0; a < actions; a++) p->pi[a] = 1.0 / (double)actions;
    return FOIL_OK;
}

void foil_knockoff_policy_free(foil_knockoff_policy *p)
{
    free(p->h), free(p->pi), free(p->pulls), free(p->y_sum), free(p->recent);
    memset(p, 0, sizeof *p);
}

int64_t foil_knockoff_policy_sample(const foil_knockoff_policy *p, const uint8_t *exhausted, foil_rng *rng)
{
    double total = 0;
    for (int64_t a = 0; a < p->actions; a++)
        if (!exhausted || !exhausted[a]) total += p->pi[a];
    if (!(total > 0)) return -1;
    double u = foil_rng_uniform_d(rng) * total;
    int64_t last = -1;
    for (int64_t a = 0; a < p->actions; a++) {
        if (exhausted && exhausted[a]) continue;
        last = a;
        if ((u -= p->pi[a]) < 0) return a;
    }
    return last; /* rounding */
}

double foil_knockoff_reward(foil_knockoff_policy *p, const float *y, const float *yhat, double parts[3])
{
    const int64_t C = p->classes;
    double r[3];
    /* certainty: the margin of the victim's top two */
    double top1 = -INFINITY, top2 = -INFINITY;
    for (int64_t k = 0; k < C; k++) {
        if (y[k] > top1) top2 = top1, top1 = y[k];
        else if (y[k] > top2) top2 = y[k];
    }
    r[0] = C > 1 ? top1 - top2 : top1;
    /* diversity: how far y stands above the mean recent answer (this one included) */
    if (p->window) {
        float *slot = p->recent + (p->seen % p->window) * C;
        for (int64_t k = 0; k < C; k++) {
            if (p->seen >= p->window) p->y_sum[k] -= slot[k];
            p->y_sum[k] += (slot[k] = y[k]);
        }
    } else {
        for (int64_t k = 0; k < C; k++) p->y_sum[k] += y[k];
    }
    p->seen++;
    const double count = (double)(p->window && p->seen > p->window ? p->window : p->seen);
    r[1] = 0;
    for (int64_t k = 0; k < C; k++) r[1] += fmax(0.0, (double)y[k] - p->y_sum[k] / count);
    /* loss: the knockoff's cross-entropy against the victim */
    r[2] = 0;
    for (int64_t k = 0; k < C; k++) r[2] -= (double)y[k] * log(fmax((double)yhat[k], 1e-30));
    if (parts) memcpy(parts, r, sizeof r);
    /* standardized by the running statistics (ART's update rule) */
    const int64_t n = ++p->rewards;
    double sum = 0;
    for (int i = 0; i < 3; i++) {
        p->reward_mean[i] += (r[i] - p->reward_mean[i]) / (double)n;
        p->reward_var[i] += ((r[i] - p->reward_mean[i]) * (r[i] - p->reward_mean[i]) - p->reward_var[i]) / (double)n;
        if (n == 1) sum += fmin(fmax(r[i], 0.0), 1.0);
        else if (p->reward_var[i] > 1e-12) sum += (r[i] - p->reward_mean[i]) / sqrt(p->reward_var[i]);
    }
    return sum / 3;
}

void foil_knockoff_policy_update(foil_knockoff_policy *p, int64_t a, double r)
{
    p->steps++;
    p->mean_reward += (r - p->mean_reward) / (double)p->steps;
    const double step = 1.0 / (double)++p->pulls[a], adv = r - p->mean_reward;
    for (int64_t b = 0; b < p->actions; b++)
        p->h[b] += b == a ? step * adv * (1 - p->pi[b]) : -step * adv * p->pi[b];
    double max = p->h[0], sum = 0;
    for (int64_t b = 1; b < p->actions; b++) max = fmax(max, p->h[b]);
    for (int64_t b = 0; b < p->actions; b++) sum += (p->pi[b] = exp(p->h[b] - max));
    for (int64_t b = 0; b < p->actions; b++) p->pi[b] /= sum;
}

/* The knockoff's probabilities on rows of the queried set. */
static foil_status knockoff_probs(FoilExtractRun *r, foil_model *k, int64_t first, int64_t count, float *out)
{
    foil_tensor x = foilExtractRows(&r->queried.x, first, count), s = {0};
    foil_status st = foil_model_predict(k, &x, &s);
    if (!st && s.shape[1] != r->classes)
        st = foil_error(FOIL_ERR_SHAPE, "the knockoff gives %lld classes, the victim %lld", (long long)s.shape[1],
                        (long long)r->classes);
    if (!st) {
        foilExtractSoftmax(foil_f32(&s), count, r->classes);
        memcpy(out, s.data, (size_t)(count * r->classes) * sizeof *out);
    }
    foil_tensor_free(&s);
    return st;
}

foil_status foilExtractAdaptive(FoilExtractRun *r)
{
    const foil_extraction_options *o = r->o;
    const foil_dataset *sur = r->surrogate;
    const int64_t n_sur = sur->y.numel, actions = sur->classes, B = o->policy_batch;
    const int64_t total = o->budget < n_sur ? o->budget : n_sur;
    /* each action's images, shuffled; drawn from the front */
    int64_t *order = malloc((size_t)n_sur * sizeof *order), *start = calloc((size_t)actions + 1, sizeof *start);
    int64_t *used = calloc((size_t)actions, sizeof *used), *chosen = malloc((size_t)B * sizeof *chosen);
    uint8_t *exhausted = calloc((size_t)actions, 1);
    float *rows = malloc((size_t)(B * r->per_example) * sizeof *rows);
    float *y = NULL, *yhat = NULL;
    foil_knockoff_policy p = {0};
    foil_model *knockoff = NULL;
    foil_status st = order && start && used && chosen && exhausted && rows
                         ? foil_knockoff_policy_init(&p, actions, 1, o->window) /* classes set at the first answer */
                         : foil_error(FOIL_ERR_NOMEM, "out of memory for the adaptive strategy");
    foil_rng rng = foil_rng_make(o->seed, 0xada97);
    for (int64_t i = 0; !st && i < n_sur; i++) start[foil_i64(&sur->y)[i] + 1]++;
    for (int64_t a = 0; !st && a < actions; a++) start[a + 1] += start[a];
    for (int64_t i = 0, *fill = used; !st && i < n_sur; i++) {
        const int64_t a = foil_i64(&sur->y)[i];
        order[start[a] + fill[a]++] = i;
    }
    for (int64_t a = 0; !st && a < actions; a++) {
        const int64_t m = start[a + 1] - start[a];
        used[a] = 0;
        exhausted[a] = m == 0;
        for (int64_t i = m - 1; i > 0; i--) { /* Fisher-Yates */
            const int64_t j = (int64_t)foil_rng_below(&rng, (uint64_t)(i + 1)), t = order[start[a] + i];
            order[start[a] + i] = order[start[a] + j], order[start[a] + j] = t;
        }
    }
    foil_train_options online = o->train;
    online.epochs = 1, online.batch = o->online_batch, online.optim.schedule = FOIL_LR_CONSTANT;
    int64_t trained = 0;
    int c = 0;
    while (!st && r->n < total) {
        int64_t next = c < o->n_checkpoints ? o->checkpoints[c] : total;
        if (next > total) next = total;
        int64_t b = 0;
        const int64_t want = next - r->n < B ? next - r->n : B;
        while (b < want) { /* draw actions, then an unused image of each */
            const int64_t a = foil_knockoff_policy_sample(&p, exhausted, &rng);
            if (a < 0) break;
            chosen[b] = a;
            memcpy(rows + b * r->per_example, foil_f32(&sur->x) + order[start[a] + used[a]] * r->per_example,
                   (size_t)r->per_example * sizeof *rows);
            if (++used[a] == start[a + 1] - start[a]) exhausted[a] = 1;
            b++;
        }
        if (b == 0) break;
        const int64_t first = r->n;
        if (!y) { /* the first answer tells the classes */
            st = foilExtractQuery(r, rows, b, NULL);
            if (st) break;
            foil_knockoff_policy_free(&p);
            st = foil_knockoff_policy_init(&p, actions, r->classes, o->window);
            y = malloc((size_t)(B * r->classes) * sizeof *y);
            yhat = malloc((size_t)(B * r->classes) * sizeof *yhat);
            if (!st && (!y || !yhat)) st = foil_error(FOIL_ERR_NOMEM, "out of memory for the adaptive strategy");
            int64_t one = 0;
            foil_dataset shape = {0};
            if (!st) st = foil_dataset_select(&shape, &r->queried, &one, 1);
            if (!st) st = o->make(o->make_ctx, &shape, o->seed ^ 0x6b6e6f636bULL, &knockoff);
            foil_dataset_free(&shape);
            if (!st) memcpy(y, r->probs + first * r->classes, (size_t)(b * r->classes) * sizeof *y);
        } else {
            st = foilExtractQuery(r, rows, b, y);
        }
        if (!st) st = knockoff_probs(r, knockoff, first, b, yhat);
        for (int64_t i = 0; !st && i < b; i++)
            foil_knockoff_policy_update(&p, chosen[i],
                                        foil_knockoff_reward(&p, y + i * r->classes, yhat + i * r->classes, NULL));
        if (!st && r->n - trained >= o->online_batch) { /* the online knockoff learns the new queries */
            online.seed = o->seed + (uint64_t)r->n;
            st = foilExtractTrainRange(r, knockoff, trained, r->n - trained, &online, r->soft);
            trained = r->n;
        }
        if (!st && r->n == next) {
            st = foilExtractCheckpoint(r, r->n, o->seed + 1 + (uint64_t)c);
            c++;
        }
    }
    if (!st && r->n > 0 && (r->report->n_points == 0 || r->report->point[r->report->n_points - 1].queries != r->n))
        st = foilExtractCheckpoint(r, r->n, o->seed + 1 + (uint64_t)c); /* the surrogate ran out early */
    if (!st) {
        r->report->actions = actions;
        r->report->policy = malloc((size_t)actions * sizeof *r->report->policy);
        r->report->pulls = malloc((size_t)actions * sizeof *r->report->pulls);
        if (!r->report->policy || !r->report->pulls) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
        for (int64_t a = 0; !st && a < actions; a++) r->report->policy[a] = p.pi[a], r->report->pulls[a] = p.pulls[a];
    }
    foil_knockoff_policy_free(&p);
    foil_model_free(knockoff);
    free(order), free(start), free(used), free(chosen), free(exhausted), free(rows), free(y), free(yhat);
    return st;
}
