/*
 * attacks/common.c - what every attack family uses: counted model access,
 * projection onto the threat model, goal tests, seeded streams, parameters.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attacks/attack_internal.h"

/* ---- counted model access ---- */

/* A (rows, ...) tensor view of rows examples of the context's shape. */
static foil_tensor rows_view(const FoilEvasionCtx *c, const float *xs, int64_t rows)
{
    foil_tensor t = {0};
    int64_t shape[FOIL_MAX_DIMS];
    memcpy(shape, c->shape, sizeof shape);
    shape[0] = rows;
    foil_tensor_set_shape(&t, FOIL_F32, c->ndim, shape);
    t.data = (void *)xs;
    return t;
}

static foil_tensor logits_view(const FoilEvasionCtx *c, float *logits, int64_t rows)
{
    foil_tensor t = {0};
    int64_t shape[2] = {rows, c->classes};
    foil_tensor_set_shape(&t, FOIL_F32, 2, shape);
    t.data = logits;
    return t;
}

static void charge(int64_t *counter, const int64_t *owner, int64_t rows)
{
    for (int64_t r = 0; r < rows; r++) counter[owner[r]]++;
}

/* Charge one query per row and, for a randomized model, give each row the
 * seed of (attack seed, example, that example's query number): its draw
 * then depends on neither the batch it came in nor the threads. *seeds is
 * NULL for a deterministic model, else to be freed by the caller. */
static foil_status charge_queries(FoilEvasionCtx *c, const int64_t *owner, int64_t rows, uint64_t **seeds)
{
    *seeds = NULL;
    if (!(foil_model_capabilities(c->model) & FOIL_MODEL_RANDOMIZED)) {
        charge(c->queries, owner, rows);
        return FOIL_OK;
    }
    *seeds = malloc((size_t)rows * sizeof **seeds);
    if (!*seeds) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    const uint64_t key = foil_rng_at(c->t->seed, 0x72616e646f6dULL);
    for (int64_t r = 0; r < rows; r++) {
        int64_t i = owner[r];
        (*seeds)[r] = foil_rng_at(foil_rng_at(key, (uint64_t)(c->first_example + i)), (uint64_t)c->queries[i]++);
    }
    return FOIL_OK;
}

foil_status foilEvasionLogits(FoilEvasionCtx *c, const float *xs, const int64_t *owner, int64_t rows,
                               float *logits)
{
    if (rows == 0) return FOIL_OK;
    foil_tensor x = rows_view(c, xs, rows), z = logits_view(c, logits, rows);
    uint64_t *seeds;
    foil_status st = charge_queries(c, owner, rows, &seeds);
    if (!st) st = foil_model_predict_seeded(c->model, &x, seeds, &z);
    free(seeds);
    if (!st) foil_scores_as_logits(foil_model_capabilities(c->model), logits, rows * c->classes);
    return st;
}

foil_status foilEvasionLabels(FoilEvasionCtx *c, const float *xs, const int64_t *owner, int64_t rows,
                               int64_t *labels)
{
    if (rows == 0) return FOIL_OK;
    float *z = malloc((size_t)(rows * c->classes) * sizeof *z);
    if (!z) return foil_error(FOIL_ERR_NOMEM, "out of memory for %lld logits", (long long)(rows * c->classes));
    foil_status st = foilEvasionLogits(c, xs, owner, rows, z);
    for (int64_t r = 0; !st && r < rows; r++) labels[r] = foilArgmax(z + r * c->classes, c->classes);
    free(z);
    return st;
}

/* Whether a gradient row gives no direction to move in: zero on every
 * feature the attack may change, or non-finite anywhere. A saturated
 * softmax (p_y rounds to 1 in float32, so dCE/dz = p - onehot is exactly 0)
 * gives this, and a gradient attack then reports robustness it never
 * tested. */
static int flat_gradient(const FoilEvasionCtx *c, const float *g)
{
    const uint8_t *fixed = c->t->immutable;
    int moves = 0;
    for (int64_t j = 0; j < c->d; j++) {
        if (!isfinite(g[j])) return 1;
        if (g[j] != 0 && !(fixed && fixed[j]) && c->t->lower[j] < c->t->upper[j]) moves = 1;
    }
    return !moves;
}

foil_status foilEvasionGrad(FoilEvasionCtx *c, const float *xs, const int64_t *owner, int64_t rows,
                             foil_logit_fn fn, void *fn_ctx, float *value, float *logits, float *grad)
{
    if (rows == 0) return FOIL_OK;
    foil_tensor x = rows_view(c, xs, rows), g = rows_view(c, grad, rows), z = logits_view(c, logits, rows);
    uint64_t *seeds;
    foil_status st = charge_queries(c, owner, rows, &seeds);
    if (!st) st = foil_model_input_grad_seeded(c->model, &x, seeds, fn, fn_ctx, value, logits ? &z : NULL, &g);
    free(seeds);
    if (!st && logits) foil_scores_as_logits(foil_model_capabilities(c->model), logits, rows * c->classes);
    /* Charged after the call so that grads[i] == 0 marks example i's first
     * gradient: one scan per example, of a gradient already computed. */
    for (int64_t r = 0; r < rows; r++) {
        int64_t i = owner[r];
        if (!st && c->grads[i] == 0 && c->zero_grad && flat_gradient(c, grad + r * c->d)) c->zero_grad[i] = 1;
        c->grads[i]++;
    }
    return st;
}

/* ---- projection ---- */

/* Euclidean projection of v (n floats) onto the L1 ball of radius eps, in
 * place (Duchi, Shalev-Shwartz, Singer, Chandra 2008, fig. 1): find the
 * threshold theta with sum_j max(|v_j| - theta, 0) = eps by sorting |v|. */
static int cmp_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

static void project_l1(float *v, int64_t n, float eps, float *scratch)
{
    double norm = 0;
    for (int64_t j = 0; j < n; j++) norm += fabsf(v[j]);
    if (norm <= eps) return;
    for (int64_t j = 0; j < n; j++) scratch[j] = fabsf(v[j]);
    qsort(scratch, (size_t)n, sizeof *scratch, cmp_desc);
    double cum = 0, theta = 0;
    for (int64_t k = 0; k < n; k++) {
        cum += scratch[k];
        double t = (cum - eps) / (double)(k + 1);
        if (scratch[k] > t) theta = t;
        else break;
    }
    for (int64_t j = 0; j < n; j++) {
        float m = fabsf(v[j]) - (float)theta;
        v[j] = m > 0 ? copysignf(m, v[j]) : 0.0f;
    }
}

void foilEvasionClip(const FoilEvasionCtx *c, int64_t i, float *a)
{
    const float *lo = c->t->lower, *hi = c->t->upper, *x = c->x + i * c->d;
    for (int64_t j = 0; j < c->d; j++) a[j] = fminf(fmaxf(a[j], lo[j]), hi[j]);
    if (c->t->immutable)
        for (int64_t j = 0; j < c->d; j++)
            if (c->t->immutable[j]) a[j] = x[j];
}

/* x + step rounded to a float no farther than |step| from x: with large
 * features (tabular data in raw units) x + step can round to well past the
 * step, and over many coordinates past an L2 or L1 eps. (Linf keeps the
 * plain clamp to x +- eps that every implementation uses; the runner
 * allows its last-place rounding.) */
static float ball_edge(float x, float step)
{
    float e = x + step;
    while (fabsf(e - x) > fabsf(step)) e = nextafterf(e, x);
    return e;
}

void foilEvasionProject(const FoilEvasionCtx *c, int64_t i, float *a)
{
    const float *x = c->x + i * c->d;
    float eps = c->t->eps;
    int64_t d = c->d;
    if (eps > 0) {
        switch (c->t->norm) {
        case FOIL_NORM_LINF:
            for (int64_t j = 0; j < d; j++) a[j] = fminf(fmaxf(a[j], x[j] - eps), x[j] + eps);
            break;
        case FOIL_NORM_L2: {
            double s = 0;
            for (int64_t j = 0; j < d; j++) s += (double)(a[j] - x[j]) * (a[j] - x[j]);
            if (s > (double)eps * eps) {
                /* A hair below eps, and no coordinate rounded away from x. */
                float f = (float)(eps / sqrt(s)) * (1.0f - 1e-6f);
                for (int64_t j = 0; j < d; j++) a[j] = ball_edge(x[j], (a[j] - x[j]) * f);
            }
            break;
        }
        case FOIL_NORM_L1: {
            float *delta = malloc((size_t)d * 2 * sizeof *delta);
            if (!delta) { /* cannot project: fall back to no change */
                memcpy(a, x, (size_t)d * sizeof *a);
                return;
            }
            for (int64_t j = 0; j < d; j++) delta[j] = a[j] - x[j];
            project_l1(delta, d, eps * (1.0f - 1e-6f), delta + d);
            for (int64_t j = 0; j < d; j++) a[j] = ball_edge(x[j], delta[j]);
            free(delta);
            break;
        }
        case FOIL_NORM_L0: break; /* L0 attacks keep their own support */
        }
    }
    foilEvasionClip(c, i, a);
}

/* ---- goals, norms ---- */

int64_t foilArgmax(const float *v, int64_t n)
{
    int64_t best = 0;
    for (int64_t k = 1; k < n; k++)
        if (v[k] > v[best]) best = k;
    return best;
}

void *foilBuffersTake(FoilBuffers *b, size_t bytes)
{
    void *p = b->n < (int)(sizeof b->ptr / sizeof b->ptr[0]) ? calloc(bytes ? bytes : 1, 1) : NULL;
    if (!p) {
        b->failed = 1;
        return NULL;
    }
    b->ptr[b->n++] = p;
    return p;
}

void foilBuffersFree(FoilBuffers *b)
{
    for (int k = 0; k < b->n; k++) free(b->ptr[k]);
    memset(b, 0, sizeof *b);
}

foil_status foilBuffersStatus(FoilBuffers *b, const char *who, int64_t rows)
{
    if (!b->failed) return FOIL_OK;
    foilBuffersFree(b);
    return foil_error(FOIL_ERR_NOMEM, "%s: out of memory for a group of %lld examples", who, (long long)rows);
}

int64_t foilTopClasses(const float *z, int64_t classes, int64_t skip, int64_t k, int64_t *out)
{
    int64_t n = 0;
    for (int64_t j = 0; j < classes && k > 0; j++) {
        if (j == skip || (n == k && !(z[j] > z[out[n - 1]]))) continue;
        int64_t pos = n < k ? n++ : n - 1;
        for (; pos > 0 && z[j] > z[out[pos - 1]]; pos--) out[pos] = out[pos - 1];
        out[pos] = j;
    }
    return n;
}

int foilEvasionFooled(const FoilEvasionCtx *c, int64_t i, const float *logits)
{
    int64_t p = foilArgmax(logits, c->classes);
    return c->targeted ? p == c->target[i] : p != c->y[i];
}

float foil_vec_norm(foil_norm norm, const float *v, int64_t n)
{
    double s = 0;
    switch (norm) {
    case FOIL_NORM_LINF:
        for (int64_t j = 0; j < n; j++) s = fmax(s, fabsf(v[j]));
        return (float)s;
    case FOIL_NORM_L2:
        for (int64_t j = 0; j < n; j++) s += (double)v[j] * v[j];
        return (float)sqrt(s);
    case FOIL_NORM_L1:
        for (int64_t j = 0; j < n; j++) s += fabsf(v[j]);
        return (float)s;
    case FOIL_NORM_L0:
        for (int64_t j = 0; j < n; j++) s += v[j] != 0;
        return (float)s;
    }
    return NAN;
}

/* ---- helpers ---- */

foil_rng foilEvasionRng(const FoilEvasionCtx *c, uint64_t purpose, int64_t example)
{
    return foil_rng_make(foil_rng_at(c->t->seed, purpose), (uint64_t)(c->first_example + example));
}

foil_rng foilEvasionRunRng(const FoilEvasionCtx *c, uint64_t purpose, int64_t counter)
{
    return foil_rng_make(foil_rng_at(c->t->seed, purpose), (uint64_t)counter);
}

int64_t *foilEvasionActive(const FoilEvasionCtx *c, int64_t *count)
{
    int64_t *idx = malloc((size_t)(c->n ? c->n : 1) * sizeof *idx);
    *count = 0;
    if (!idx) return NULL;
    for (int64_t i = 0; i < c->n; i++)
        if (c->attacked[i]) idx[(*count)++] = i;
    return idx;
}

int64_t foilEvasionBatch(const FoilEvasionCtx *c) { return c->opt && c->opt->batch > 0 ? c->opt->batch : 250; }

foil_status foilEvasionEachGroup(FoilEvasionCtx *c, FoilGroupFn fn, void *arg)
{
    int64_t n_active;
    int64_t *active = foilEvasionActive(c, &n_active);
    if (!active) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    int64_t batch = foilEvasionBatch(c);
    foil_status st = FOIL_OK;
    c->groups_done = 0;
    for (int64_t s = 0; !st && s < n_active; s += batch) {
        int64_t rows = n_active - s < batch ? n_active - s : batch;
        st = fn(c, arg, active + s, rows);
        c->groups_done += rows;
        foil_progress_update(&c->progress, c->groups_done, NULL);
    }
    free(active);
    return st;
}

void foilEvasionGroupProgress(FoilEvasionCtx *c, int64_t done)
{
    foil_progress_update(&c->progress, c->groups_done + done, NULL);
}

void foilEvasionWarn(FoilEvasionCtx *c, const char *fmt, ...)
{
    size_t used = strlen(c->warnings);
    if (used + 2 >= c->warnings_len) return;
    if (used) c->warnings[used++] = '\n';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->warnings + used, c->warnings_len - used, fmt, ap);
    va_end(ap);
}

/* The accepted keys, for the unknown-key message. */
static void list_keys(char *keys, size_t len, const FoilParam *params, int n_params, const FoilWordParam *words,
                      int n_words)
{
    keys[0] = 0;
    for (int k = 0; k < n_params + n_words; k++) {
        const char *key = k < n_params ? params[k].key : words[k - n_params].key;
        snprintf(keys + strlen(keys), len - strlen(keys), "%s%s", k ? ", " : "", key);
    }
    if (!keys[0]) snprintf(keys, len, "none");
}

/* Word parameter w set from the value text v (vlen bytes). */
static foil_status set_word(const FoilEvasionCtx *c, const FoilWordParam *w, const char *v, size_t vlen)
{
    char accepted[128] = "";
    for (int k = 0; w->words[k]; k++) {
        if (strlen(w->words[k]) == vlen && strncmp(w->words[k], v, vlen) == 0) {
            *w->index = k;
            return FOIL_OK;
        }
        snprintf(accepted + strlen(accepted), sizeof accepted - strlen(accepted), "%s%s", k ? ", " : "",
                 w->words[k]);
    }
    return foil_error(FOIL_ERR_ARG, "%s: parameter '%s' must be one of %s, not '%.*s'", c->info->name, w->key, accepted,
                      (int)vlen, v);
}

/* Number parameter p set from the value text v (vlen bytes). */
static foil_status set_number(const FoilEvasionCtx *c, const FoilParam *p, const char *v, size_t vlen)
{
    char buf[64];
    if (vlen == 0 || vlen >= sizeof buf)
        return foil_error(FOIL_ERR_ARG, "%s: parameter '%s' needs a number", c->info->name, p->key);
    memcpy(buf, v, vlen);
    buf[vlen] = 0;
    char *e;
    double x = strtod(buf, &e);
    if (*e || !isfinite(x))
        return foil_error(FOIL_ERR_ARG, "%s: parameter '%s' expects a number, got '%s'", c->info->name, p->key, buf);
    *p->value = x;
    return FOIL_OK;
}

foil_status foilEvasionParams(const FoilEvasionCtx *c, FoilParam *params, int n_params)
{
    return foilEvasionParamsWords(c, params, n_params, NULL, 0);
}

foil_status foilEvasionParamsWords(const FoilEvasionCtx *c, FoilParam *params, int n_params,
                                     const FoilWordParam *words, int n_words)
{
    const char *s = c->opt ? c->opt->params : NULL;
    while (s && *s) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        const char *eq = memchr(s, '=', len);
        if (!eq) return foil_error(FOIL_ERR_ARG, "%s: parameter '%.*s' is not key=value", c->info->name, (int)len, s);
        size_t klen = (size_t)(eq - s), vlen = len - klen - 1;
        const FoilParam *p = NULL;
        const FoilWordParam *w = NULL;
        for (int k = 0; k < n_params; k++)
            if (strlen(params[k].key) == klen && strncmp(params[k].key, s, klen) == 0) p = &params[k];
        for (int k = 0; k < n_words; k++)
            if (strlen(words[k].key) == klen && strncmp(words[k].key, s, klen) == 0) w = &words[k];
        if (!p && !w) {
            char keys[256];
            list_keys(keys, sizeof keys, params, n_params, words, n_words);
            return foil_error(FOIL_ERR_ARG, "%s: unknown parameter '%.*s' (accepted: %s)", c->info->name, (int)klen,
                              s, keys);
        }
        foil_status st = w ? set_word(c, w, eq + 1, vlen) : set_number(c, p, eq + 1, vlen);
        if (st) return st;
        s = end ? end + 1 : NULL;
    }
    return FOIL_OK;
}
