/*
 * attacks/inference/model_inversion.c - MIFace (Fredrikson, Jha and
 * Ristenpart, CCS 2015), the model inversion of foil/inversion.h, which
 * states the algorithm and where foil departs from ART; and the class means
 * its reconstructions are judged against.
 *
 * Shapes: n classes are inverted at once, each reconstruction d values
 * (one example of the model's input). The run keeps only the examples still
 * descending, packed at the top of its buffers (row i is example act[i]),
 * so each step costs one forward and one backward pass of the active rows
 * and nothing is allocated inside the loop.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foil/inversion.h"
#include "foil/progress.h"

void foil_inversion_defaults(foil_inversion_options *o)
{
    memset(o, 0, sizeof *o);
    o->max_iter = 5000;
    o->window_length = 100;
    o->threshold = 0.01;
    o->learning_rate = 0.1;
}

const char *foil_inversion_stop_name(foil_inversion_stop s)
{
    return s == FOIL_INVERSION_WINDOW ? "window" : s == FOIL_INVERSION_THRESHOLD ? "threshold" : "max-iter";
}

void foil_inversion_result_free(foil_inversion_result *r)
{
    if (!r) return;
    foil_tensor_free(&r->x);
    free(r->cost);
    free(r->probability);
    free(r->iterations);
    free(r->best_iteration);
    free(r->stop);
    memset(r, 0, sizeof *r);
}

typedef struct MifaceRun {
    foil_model *m;
    const foil_inversion_options *o;
    const int64_t *labels;
    const float *lower, *upper;
    int probabilities;         /* the model's scores are probabilities, not logits */
    int64_t n, d;
    foil_tensor cur, grad;     /* (n, ...): the active rows' iterates and cost gradients */
    float *model_cost;         /* (n) 1 - f_y(x) of each active row */
    float *cost;               /* (n) plus AuxTerm */
    float *window;             /* (n, window_length): each example's last costs, a ring */
    int64_t *act;              /* act[i]: the example in row i */
    int64_t active;            /* rows in use */
} MifaceRun;

/* c = 1 - f_y(z) of each row and dc/dz. For logits, f_y = softmax(z)_y,
 * p_j = exp(z_j - max) / sum: d p_y / d z_j = p_y ([j = y] - p_j), so
 * dc/dz_j = p_y p_j - [j = y] p_y. For probabilities, dc/dz_j = -[j = y]. */
static foil_status miface_cost(void *ctx, int64_t first, int64_t count, int64_t classes, const float *z, float *value,
                               float *dz)
{
    const MifaceRun *run = ctx;
    for (int64_t i = 0; i < count; i++) {
        const int64_t y = run->labels[run->act[first + i]];
        const float *zi = z + i * classes;
        float *gi = dz + i * classes;
        if (run->probabilities) {
            for (int64_t j = 0; j < classes; j++) gi[j] = 0.0f;
            gi[y] = -1.0f;
            if (value) value[i] = 1.0f - zi[y];
            continue;
        }
        double mx = zi[0], sum = 0;
        for (int64_t j = 1; j < classes; j++) mx = zi[j] > mx ? zi[j] : mx;
        for (int64_t j = 0; j < classes; j++) sum += exp(zi[j] - mx);
        const double py = exp(zi[y] - mx) / sum;
        for (int64_t j = 0; j < classes; j++) gi[j] = (float)(py * exp(zi[j] - mx) / sum);
        gi[y] -= (float)py;
        if (value) value[i] = (float)(1.0 - py);
    }
    return FOIL_OK;
}

/* The rows [0, active) of t as a tensor of their own. */
static foil_tensor rows_of(const foil_tensor *t, int64_t active)
{
    foil_tensor v = *t;
    v.shape[0] = active;
    v.numel = active * (t->numel / t->shape[0]);
    v.owns_data = 0;
    return v;
}

/* cost and grad of the active rows at cur: the model's part, then AuxTerm. */
static foil_status evaluate(MifaceRun *run)
{
    foil_tensor x = rows_of(&run->cur, run->active), g = rows_of(&run->grad, run->active);
    foil_status st = foil_model_input_grad(run->m, &x, miface_cost, run, run->model_cost, NULL, &g);
    if (st) return st;
    memcpy(run->cost, run->model_cost, (size_t)run->active * sizeof *run->cost);
    if (run->o->aux) st = run->o->aux(run->o->aux_ctx, foil_f32(&x), run->active, run->d, run->cost, foil_f32(&g));
    return st;
}

/* Whether example k, at cost c after `it` steps, stops (Algorithm 1's
 * tests, then alpha): 1 and *why, or 0. */
static int should_stop(const MifaceRun *run, int64_t k, float c, int64_t it, foil_inversion_stop *why)
{
    const int64_t beta = run->o->window_length;
    if (c <= run->o->threshold) {
        *why = FOIL_INVERSION_THRESHOLD;
        return 1;
    }
    if (beta > 0 && it >= beta) {
        const float *w = run->window + k * beta;
        float mx = -FLT_MAX;
        for (int64_t j = 0; j < beta; j++) mx = w[j] > mx ? w[j] : mx;
        if (c >= mx) {
            *why = FOIL_INVERSION_WINDOW;
            return 1;
        }
    }
    if (it >= run->o->max_iter) {
        *why = FOIL_INVERSION_MAX_ITER;
        return 1;
    }
    return 0;
}

/* Record step `it` of every active row: keep the least-cost iterate, push
 * the cost into the window, and drop the rows that stop (packing the rest,
 * with their gradients, to the top). */
static void record(MifaceRun *run, int64_t it, foil_inversion_result *r)
{
    const int64_t d = run->d, beta = run->o->window_length;
    float *cur = foil_f32(&run->cur), *grad = foil_f32(&run->grad);
    int64_t kept = 0;
    for (int64_t i = 0; i < run->active; i++) {
        const int64_t k = run->act[i];
        const float c = run->cost[i];
        if (c < r->cost[k]) {
            r->cost[k] = c;
            r->probability[k] = 1.0f - run->model_cost[i];
            r->best_iteration[k] = it;
            memcpy(foil_f32(&r->x) + k * d, cur + i * d, (size_t)d * sizeof(float));
        }
        foil_inversion_stop why;
        const int stop = should_stop(run, k, c, it, &why);
        if (beta > 0) run->window[k * beta + it % beta] = c;
        if (stop) {
            r->stop[k] = why;
            r->iterations[k] = it;
            continue;
        }
        if (kept != i) {
            memcpy(cur + kept * d, cur + i * d, (size_t)d * sizeof(float));
            memcpy(grad + kept * d, grad + i * d, (size_t)d * sizeof(float));
            run->act[kept] = k;
        }
        kept++;
    }
    run->active = kept;
}

/* Clip the active rows into [lower, upper]. */
static void clip_rows(MifaceRun *run)
{
    float *x = foil_f32(&run->cur);
    for (int64_t i = 0; i < run->active; i++)
        for (int64_t j = 0; j < run->d; j++) {
            float v = x[i * run->d + j];
            x[i * run->d + j] = v < run->lower[j] ? run->lower[j] : v > run->upper[j] ? run->upper[j] : v;
        }
}

/* x_i = clip(Process(x_{i-1} - lambda grad c(x_{i-1}))) for the active rows. */
static foil_status step(MifaceRun *run)
{
    float *x = foil_f32(&run->cur);
    const float *g = foil_f32(&run->grad);
    const float lr = (float)run->o->learning_rate;
    const int64_t m = run->active * run->d;
    for (int64_t j = 0; j < m; j++) x[j] -= lr * g[j];
    foil_status st = FOIL_OK;
    if (run->o->process) st = run->o->process(run->o->process_ctx, x, run->active, run->d);
    clip_rows(run);
    return st;
}

/* The shape of one reconstruction: start's examples, else the model's
 * declared input, which must then be fixed apart from the batch. */
static foil_status example_shape(foil_model *m, const foil_tensor *start, int64_t n, int64_t *shape, int *ndim)
{
    if (start) {
        if (start->dtype != FOIL_F32 || start->ndim < 2 || start->shape[0] != n)
            return foil_error(FOIL_ERR_SHAPE, "miface: %lld start images must be float32 (%lld, ...)", (long long)n,
                              (long long)n);
        *ndim = start->ndim;
        memcpy(shape, start->shape, sizeof start->shape);
        return FOIL_OK;
    }
    const int rank = foil_model_input_rank(m);
    const int64_t *in = foil_model_input_shape(m);
    if (rank < 2) return foil_error(FOIL_ERR_SHAPE, "miface: %s declares no input shape; give start images", foil_model_name(m));
    for (int j = 1; j < rank; j++)
        if (in[j] < 1)
            return foil_error(FOIL_ERR_SHAPE, "miface: %s's input has a dynamic dimension %d; give start images",
                              foil_model_name(m), j);
    *ndim = rank;
    memcpy(shape, in, (size_t)rank * sizeof *shape);
    shape[0] = n;
    return FOIL_OK;
}

static foil_status check_args(foil_model *m, const int64_t *labels, int64_t n, const foil_inversion_options *o)
{
    if (!(foil_model_capabilities(m) & FOIL_MODEL_GRADIENTS))
        return foil_error(FOIL_ERR_CAPABILITY, "miface: %s gives no input gradients; MIFace descends the gradient of "
                          "the class's probability (a white-box attack)", foil_model_name(m));
    if (!(foil_model_capabilities(m) & FOIL_MODEL_SCORES))
        return foil_error(FOIL_ERR_CAPABILITY, "miface: %s answers with labels only; MIFace needs its scores",
                          foil_model_name(m));
    if (n < 1) return foil_error(FOIL_ERR_ARG, "miface: no classes to invert");
    if (o->max_iter < 0 || o->window_length < 0 || !(o->learning_rate > 0) || !isfinite(o->learning_rate) ||
        !(o->threshold >= 0) || !isfinite(o->threshold))
        return foil_error(FOIL_ERR_ARG, "miface: max_iter %lld and window_length %lld must be >= 0, learning_rate %g "
                          "> 0 and threshold %g >= 0", (long long)o->max_iter, (long long)o->window_length,
                          o->learning_rate, o->threshold);
    int64_t classes;
    foil_status st = foil_model_num_classes(m, &classes);
    if (st) return st;
    for (int64_t k = 0; k < n; k++)
        if (labels[k] < 0 || labels[k] >= classes)
            return foil_error(FOIL_ERR_ARG, "miface: class %lld is not one of %s's %lld classes", (long long)labels[k],
                              foil_model_name(m), (long long)classes);
    return FOIL_OK;
}

static foil_status result_alloc(foil_inversion_result *r, int ndim, const int64_t *shape)
{
    const int64_t n = shape[0];
    r->n = n;
    foil_status st = foil_tensor_alloc(&r->x, FOIL_F32, ndim, shape);
    if (st) return st;
    r->cost = malloc((size_t)n * sizeof *r->cost);
    r->probability = calloc((size_t)n, sizeof *r->probability);
    r->iterations = calloc((size_t)n, sizeof *r->iterations);
    r->best_iteration = calloc((size_t)n, sizeof *r->best_iteration);
    r->stop = calloc((size_t)n, sizeof *r->stop);
    if (!r->cost || !r->probability || !r->iterations || !r->best_iteration || !r->stop)
        return foil_error(FOIL_ERR_NOMEM, "miface: out of memory");
    for (int64_t k = 0; k < n; k++) r->cost[k] = INFINITY;
    return FOIL_OK;
}

static foil_status run_alloc(MifaceRun *run, int ndim, const int64_t *shape)
{
    const int64_t n = run->n;
    foil_status st = foil_tensor_alloc(&run->cur, FOIL_F32, ndim, shape);
    if (!st) st = foil_tensor_alloc(&run->grad, FOIL_F32, ndim, shape);
    if (st) return st;
    run->model_cost = malloc((size_t)n * sizeof *run->model_cost);
    run->cost = malloc((size_t)n * sizeof *run->cost);
    run->window = malloc((size_t)(n * (run->o->window_length ? run->o->window_length : 1)) * sizeof *run->window);
    run->act = malloc((size_t)n * sizeof *run->act);
    if (!run->model_cost || !run->cost || !run->window || !run->act)
        return foil_error(FOIL_ERR_NOMEM, "miface: out of memory");
    for (int64_t k = 0; k < n; k++) run->act[k] = k;
    run->active = n;
    return FOIL_OK;
}

static void run_free(MifaceRun *run)
{
    foil_tensor_free(&run->cur);
    foil_tensor_free(&run->grad);
    free(run->model_cost);
    free(run->cost);
    free(run->window);
    free(run->act);
}

/* The descent itself, from run->cur (clipped); progress counts steps of the slowest example. */
static foil_status descend(MifaceRun *run, foil_inversion_result *r)
{
    foil_progress bar;
    foil_progress_start(&bar, "miface", run->o->max_iter, "steps", run->o->quiet);
    foil_status st = FOIL_OK;
    clip_rows(run);
    for (int64_t it = 0; !st && run->active > 0; it++) {
        if ((st = evaluate(run))) break;
        record(run, it, r);
        if (run->active > 0) st = step(run);
        char status[64];
        snprintf(status, sizeof status, "%lld of %lld still descending", (long long)run->active, (long long)run->n);
        foil_progress_update(&bar, it, status);
    }
    foil_progress_finish(&bar, NULL);
    return st;
}

foil_status foil_miface(foil_model *m, const int64_t *labels, int64_t n, const float *lower, const float *upper,
                        const foil_tensor *start, const foil_inversion_options *o, foil_inversion_result *out)
{
    memset(out, 0, sizeof *out);
    foil_inversion_options defaults;
    if (!o) foil_inversion_defaults(&defaults), o = &defaults;
    foil_status st = check_args(m, labels, n, o);
    int64_t shape[FOIL_MAX_DIMS];
    int ndim = 0;
    if (!st) st = example_shape(m, start, n, shape, &ndim);
    MifaceRun run = {.m = m, .o = o, .labels = labels, .lower = lower, .upper = upper, .n = n};
    run.probabilities = (foil_model_capabilities(m) & FOIL_MODEL_PROBABILITIES) != 0;
    if (!st) st = run_alloc(&run, ndim, shape);
    if (!st) st = result_alloc(out, ndim, shape);
    if (!st) {
        run.d = run.cur.numel / n;
        if (start) memcpy(run.cur.data, start->data, (size_t)run.cur.numel * sizeof(float));
        st = descend(&run, out);
    }
    run_free(&run);
    if (st) foil_inversion_result_free(out);
    return st;
}

/* ------------------------------------------------------------------------- */
/* judging the reconstructions                                               */

foil_status foil_inversion_class_means(const foil_dataset *d, foil_tensor *means)
{
    memset(means, 0, sizeof *means);
    const int64_t F = foil_dataset_example_size(d), N = d->x.ndim ? d->x.shape[0] : 0;
    int64_t shape[FOIL_MAX_DIMS];
    memcpy(shape, d->x.shape, sizeof shape);
    shape[0] = d->classes;
    foil_status st = foil_tensor_alloc(means, FOIL_F32, d->x.ndim, shape);
    double *sum = st ? NULL : calloc((size_t)(d->classes * F), sizeof *sum);
    int64_t *count = st ? NULL : calloc((size_t)d->classes, sizeof *count);
    if (!st && (!sum || !count)) st = foil_error(FOIL_ERR_NOMEM, "%s: out of memory", d->name);
    const float *x = foil_f32(&d->x);
    const int64_t *y = foil_i64(&d->y);
    for (int64_t i = 0; !st && i < N; i++) {
        count[y[i]]++;
        for (int64_t j = 0; j < F; j++) sum[y[i] * F + j] += x[i * F + j];
    }
    for (int64_t c = 0; !st && c < d->classes; c++) {
        if (!count[c]) {
            st = foil_error(FOIL_ERR_ARG, "%s: class %lld has no example to take the mean of", d->name, (long long)c);
            break;
        }
        for (int64_t j = 0; j < F; j++) foil_f32(means)[c * F + j] = (float)(sum[c * F + j] / (double)count[c]);
    }
    free(sum);
    free(count);
    if (st) foil_tensor_free(means);
    return st;
}

/* ||a - b|| and Pearson's correlation of a and b (d values each; 0 when one is constant). */
static void distance_and_correlation(const float *a, const float *b, int64_t d, double *l2, double *corr)
{
    double ma = 0, mb = 0, dd = 0;
    for (int64_t j = 0; j < d; j++) {
        ma += a[j];
        mb += b[j];
        dd += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
    }
    ma /= (double)d;
    mb /= (double)d;
    double sab = 0, saa = 0, sbb = 0;
    for (int64_t j = 0; j < d; j++) {
        sab += (a[j] - ma) * (b[j] - mb);
        saa += (a[j] - ma) * (a[j] - ma);
        sbb += (b[j] - mb) * (b[j] - mb);
    }
    *l2 = sqrt(dd);
    *corr = saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : 0.0;
}

/* One reconstruction x (targeting class own) against every mean. */
static void match_one(const float *x, int64_t own, const float *means, int64_t classes, int64_t d,
                      foil_inversion_match *out)
{
    distance_and_correlation(x, means + own * d, d, &out->l2_own, &out->corr_own);
    out->rank_l2 = out->rank_corr = 1;
    out->nearest_l2 = own;
    double best = out->l2_own;
    for (int64_t c = 0; c < classes; c++) {
        if (c == own) continue;
        double l2, corr;
        distance_and_correlation(x, means + c * d, d, &l2, &corr);
        out->rank_l2 += l2 < out->l2_own;
        out->rank_corr += corr > out->corr_own;
        if (l2 < best) {
            best = l2;
            out->nearest_l2 = c;
        }
    }
}

foil_status foil_inversion_compare(const foil_tensor *x, const int64_t *labels, int64_t n, const foil_tensor *means,
                                   foil_inversion_match *out)
{
    if (x->dtype != FOIL_F32 || means->dtype != FOIL_F32 || x->ndim < 1 || means->ndim < 1 || x->shape[0] < n ||
        means->shape[0] < 1)
        return foil_error(FOIL_ERR_SHAPE, "inversion: %lld reconstructions and the class means must be float32 "
                          "batches", (long long)n);
    const int64_t d = x->numel / x->shape[0], classes = means->shape[0];
    if (means->numel / classes != d)
        return foil_error(FOIL_ERR_SHAPE, "inversion: reconstructions of %lld values, class means of %lld",
                          (long long)d, (long long)(means->numel / classes));
    for (int64_t k = 0; k < n; k++) {
        if (labels[k] < 0 || labels[k] >= classes)
            return foil_error(FOIL_ERR_ARG, "inversion: class %lld has no mean (%lld classes)", (long long)labels[k],
                              (long long)classes);
        match_one(foil_f32(x) + k * d, labels[k], foil_f32(means), classes, d, out + k);
    }
    return FOIL_OK;
}
