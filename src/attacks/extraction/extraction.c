/*
 * attacks/extraction/extraction.c - model extraction (foil/extraction.h):
 * the runner every attack shares (queries counted against the budget, the
 * queried set, copies trained and judged at checkpoints) and the two
 * sampling attacks, Copycat CNN and Knockoff Nets' random strategy.
 *
 * Soft labels. foil_train learns from a teacher's probabilities (the
 * distillation path, temperature 1: the cross-entropy against the
 * teacher's softmax). The teacher here is a lookup model: it answers each
 * training example, found by its bytes, with the log of the victim
 * probabilities recorded when it was queried, so softmax gives them back.
 * Training copies examples bit for bit (no augmentation), so every row it
 * asks about is in the table.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attacks/extraction/extraction_internal.h"

static const char *const attack_names[FOIL_EXTRACT_COUNT] = {"copycat", "knockoff-random", "knockoff-adaptive",
                                                             "jacobian"};

const char *foil_extraction_name(foil_extraction_attack a)
{
    return a >= 0 && a < FOIL_EXTRACT_COUNT ? attack_names[a] : "?";
}

foil_status foil_extraction_parse(const char *name, foil_extraction_attack *out)
{
    for (int a = 0; a < FOIL_EXTRACT_COUNT; a++)
        if (name && strcmp(name, attack_names[a]) == 0) {
            *out = (foil_extraction_attack)a;
            return FOIL_OK;
        }
    return foil_error(FOIL_ERR_ARG, "unknown extraction attack '%s' (copycat, knockoff-random, knockoff-adaptive, "
                      "jacobian)", name ? name : "(null)");
}

void foil_extraction_defaults(foil_extraction_options *o)
{
    memset(o, 0, sizeof *o);
    o->attack = FOIL_EXTRACT_KNOCKOFF_RANDOM;
    o->budget = 10000;
    foil_train_defaults(&o->train);
    o->policy_batch = 1;
    o->online_batch = 32;
    o->lambda = 0.1f;
    o->tau = 3;
    o->seed_size = 150;
}

void foil_extraction_report_free(foil_extraction_report *r)
{
    if (!r) return;
    free(r->policy);
    free(r->pulls);
    r->policy = NULL, r->pulls = NULL;
}

foil_tensor foilExtractRows(const foil_tensor *t, int64_t first, int64_t count)
{
    foil_tensor v = *t;
    const int64_t per = t->shape[0] ? t->numel / t->shape[0] : 0;
    v.shape[0] = count;
    v.numel = count * per;
    v.data = (char *)t->data + (size_t)(first * per) * foil_dtype_size(t->dtype);
    v.owns_data = 0;
    return v;
}

static int64_t argmax_row(const float *p, int64_t classes)
{
    int64_t best = 0;
    for (int64_t k = 1; k < classes; k++)
        if (p[k] > p[best]) best = k;
    return best;
}

void foilExtractSoftmax(float *s, int64_t rows, int64_t classes)
{
    for (int64_t i = 0; i < rows; i++) {
        float *z = s + i * classes, max = z[0];
        for (int64_t k = 1; k < classes; k++) max = fmaxf(max, z[k]);
        double sum = 0;
        for (int64_t k = 0; k < classes; k++) sum += (z[k] = expf(z[k] - max));
        for (int64_t k = 0; k < classes; k++) z[k] = (float)(z[k] / sum);
    }
}

/* The victim's scores as probabilities: as they are, softmax of logits, or
 * the one-hot labels of a labels-only victim. */
static void as_probabilities(unsigned caps, float *s, int64_t rows, int64_t classes)
{
    if ((caps & FOIL_MODEL_SCORES) && !(caps & FOIL_MODEL_PROBABILITIES)) foilExtractSoftmax(s, rows, classes);
}

foil_status foilExtractQuery(FoilExtractRun *r, const float *x, int64_t count, float *answers)
{
    const foil_extraction_options *o = r->o;
    if (count < 1) return FOIL_OK;
    if (r->n + count > o->budget)
        return foil_error(FOIL_ERR_BUDGET, "%s: %lld more queries would pass the budget of %lld",
                          foil_extraction_name(o->attack), (long long)count, (long long)o->budget);
    float *dst = foil_f32(&r->queried.x) + r->n * r->per_example;
    if (dst != x) memcpy(dst, x, (size_t)(count * r->per_example) * sizeof *dst);
    foil_tensor in = foilExtractRows(&r->queried.x, r->n, count), out = {0};
    const double t0 = foil_now();
    foil_status st = foil_model_predict(r->victim, &in, &out);
    r->report->query_seconds += foil_now() - t0;
    if (st) return foil_error_prefix(st, "querying the victim");
    const int64_t classes = out.shape[1];
    if (!r->probs) { /* the first answer tells the classes */
        if (r->test && r->test->classes != classes)
            st = foil_error(FOIL_ERR_SHAPE, "the victim %s gives %lld classes and the test data %s has %lld",
                            foil_model_name(r->victim), (long long)classes, r->test->name,
                            (long long)r->test->classes);
        r->probs = st ? NULL : malloc((size_t)(o->budget * classes) * sizeof *r->probs);
        if (!st && !r->probs) st = foil_error(FOIL_ERR_NOMEM, "out of memory for %lld answers", (long long)o->budget);
        r->classes = classes;
        r->queried.classes = classes;
    } else if (classes != r->classes) {
        st = foil_error(FOIL_ERR_SHAPE, "the victim answered with %lld classes, then %lld", (long long)r->classes,
                        (long long)classes);
    }
    if (!st) {
        float *p = r->probs + r->n * classes;
        memcpy(p, out.data, (size_t)(count * classes) * sizeof *p);
        as_probabilities(foil_model_capabilities(r->victim), p, count, classes);
        for (int64_t i = 0; i < count; i++) foil_i64(&r->queried.y)[r->n + i] = argmax_row(p + i * classes, classes);
        if (answers) memcpy(answers, p, (size_t)(count * classes) * sizeof *p);
        r->n += count;
        foil_progress_update(&r->bar, r->n, NULL);
    }
    foil_tensor_free(&out);
    return st;
}

/* ---- the lookup teacher: soft labels for foil_train ---- */

typedef struct Lookup {
    const float *x, *probs;       /* the queried rows and their victim probabilities (not owned) */
    int64_t n, per_example, classes;
    int64_t *slot;                /* open addressing: row index or -1 */
    uint64_t mask;
} Lookup;

static uint64_t row_hash(const float *x, int64_t d)
{
    const unsigned char *b = (const unsigned char *)x;
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (size_t i = 0; i < (size_t)d * sizeof *x; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

static int64_t lookup_find(const Lookup *l, const float *row)
{
    for (uint64_t s = row_hash(row, l->per_example) & l->mask;; s = (s + 1) & l->mask) {
        const int64_t i = l->slot[s];
        if (i < 0) return -1;
        if (memcmp(l->x + i * l->per_example, row, (size_t)l->per_example * sizeof *row) == 0) return i;
    }
}

static foil_status lookup_predict(void *state, const foil_tensor *x, const uint64_t *seeds, foil_tensor *scores)
{
    (void)seeds;
    const Lookup *l = state;
    const int64_t n = x->shape[0], shape[2] = {n, l->classes};
    foil_status st = foil_model_ensure_output("the soft labels", scores, 2, shape, "scores");
    for (int64_t i = 0; !st && i < n; i++) {
        const int64_t j = lookup_find(l, foil_f32(x) + i * l->per_example);
        if (j < 0) return foil_error(FOIL_ERR_RUNTIME, "soft labels: a training example that was never queried");
        for (int64_t k = 0; k < l->classes; k++)
            foil_f32(scores)[i * l->classes + k] = logf(fmaxf(l->probs[j * l->classes + k], 1e-30f));
    }
    return st;
}

static foil_status lookup_classes(void *state, int64_t *classes)
{
    *classes = ((const Lookup *)state)->classes;
    return FOIL_OK;
}

static void lookup_destroy(void *state)
{
    Lookup *l = state;
    if (l) free(l->slot);
    free(l);
}

static const foil_model_ops lookup_ops = {"extraction-soft-labels", lookup_predict, NULL, lookup_classes, NULL,
                                          lookup_destroy, NULL};

/* A teacher answering rows [first, first + n) of the queried set. */
static foil_status lookup_model(const FoilExtractRun *r, int64_t first, int64_t n, foil_model **out)
{
    Lookup *l = calloc(1, sizeof *l);
    uint64_t size = 16;
    while (size < 2 * (uint64_t)n) size <<= 1;
    if (l) l->slot = malloc(size * sizeof *l->slot);
    if (!l || !l->slot) {
        lookup_destroy(l);
        return foil_error(FOIL_ERR_NOMEM, "out of memory for the soft labels");
    }
    l->x = foil_f32(&r->queried.x) + first * r->per_example;
    l->probs = r->probs + first * r->classes;
    l->n = n, l->per_example = r->per_example, l->classes = r->classes, l->mask = size - 1;
    for (uint64_t s = 0; s < size; s++) l->slot[s] = -1;
    for (int64_t i = 0; i < n; i++) {
        const float *row = l->x + i * l->per_example;
        if (lookup_find(l, row) >= 0) continue; /* the same input queried twice: the first answer */
        uint64_t s = row_hash(row, l->per_example) & l->mask;
        while (l->slot[s] >= 0) s = (s + 1) & l->mask;
        l->slot[s] = i;
    }
    const foil_tensor *qx = &r->queried.x;
    foil_model_desc desc = {"the victim's soft labels", FOIL_MODEL_SCORES, qx->ndim, NULL};
    int64_t shape[FOIL_MAX_DIMS];
    shape[0] = -1;
    for (int d = 1; d < qx->ndim; d++) shape[d] = qx->shape[d];
    desc.input_shape = shape;
    return foil_model_create(&lookup_ops, l, &desc, out);
}

foil_status foilExtractTrainRange(FoilExtractRun *r, foil_model *m, int64_t first, int64_t n,
                                  const foil_train_options *o, int soft)
{
    int64_t *index = malloc((size_t)(n ? n : 1) * sizeof *index);
    if (!index) return foil_error(FOIL_ERR_NOMEM, "out of memory for the copy's training set");
    for (int64_t i = 0; i < n; i++) index[i] = first + i;
    foil_dataset part = {0};
    foil_model *teacher = NULL;
    foil_train_options to = *o;
    to.quiet = 1, to.crop_pad = 0, to.flip = 0, to.noise_sigma = 0; /* rows as they were queried */
    foil_status st = foil_dataset_select(&part, &r->queried, index, n);
    free(index);
    if (!st && soft) st = lookup_model(r, first, n, &teacher);
    if (!st) {
        to.teacher = teacher;
        to.temperature = soft ? 1.0f : to.temperature;
        foil_train_report rep;
        st = foil_train(m, &part, NULL, &to, &rep);
    }
    foil_model_free(teacher);
    foil_dataset_free(&part);
    return st;
}

foil_status foilExtractTrain(FoilExtractRun *r, foil_model *m, int64_t n, const foil_train_options *o, int soft)
{
    return foilExtractTrainRange(r, m, 0, n, o, soft);
}

/* The copy's agreement with the victim and accuracy on the test set. */
static foil_status judge(FoilExtractRun *r, foil_model *copy, foil_extraction_point *pt)
{
    pt->fidelity = pt->accuracy = -1;
    if (!r->test) return FOIL_OK;
    foil_tensor out = {0};
    foil_status st = foil_model_predict(copy, &r->test->x, &out);
    if (st) return foil_error_prefix(st, "judging the copy");
    const int64_t n = r->test->y.numel;
    int64_t agree = 0, right = 0;
    for (int64_t i = 0; i < n; i++) {
        const int64_t c = argmax_row(foil_f32(&out) + i * out.shape[1], out.shape[1]);
        if (r->victim_pred) agree += c == r->victim_pred[i];
        right += c == foil_i64(&r->test->y)[i];
    }
    foil_tensor_free(&out);
    if (r->victim_pred) pt->fidelity = n ? (double)agree / (double)n : 0;
    pt->accuracy = n ? (double)right / (double)n : 0;
    return FOIL_OK;
}

foil_status foilExtractCheckpoint(FoilExtractRun *r, int64_t n, uint64_t seed)
{
    foil_extraction_report *rep = r->report;
    if (rep->n_points == FOIL_EXTRACT_MAX_POINTS)
        return foil_error(FOIL_ERR_ARG, "%s: more than %d checkpoints", foil_extraction_name(r->o->attack),
                          FOIL_EXTRACT_MAX_POINTS);
    int64_t one = 0;
    foil_dataset shape = {0};
    foil_model *m = NULL;
    /* the factory sees the examples' shape and the victim's classes */
    foil_status st = foil_dataset_select(&shape, &r->queried, &one, 1);
    if (!st) st = r->o->make(r->o->make_ctx, &shape, seed, &m);
    foil_dataset_free(&shape);
    const double t0 = foil_now();
    foil_train_options to = r->o->train;
    to.seed = seed;
    if (!st) st = foilExtractTrain(r, m, n, &to, r->soft);
    foil_extraction_point *pt = &rep->point[rep->n_points];
    pt->queries = n;
    pt->train_seconds = foil_now() - t0;
    const double t1 = foil_now();
    if (!st) st = judge(r, m, pt);
    rep->judge_seconds += foil_now() - t1;
    pt->seconds = foil_now() - r->started;
    if (st) {
        foil_model_free(m);
        return foil_error_prefix(st, "the copy at %lld queries", (long long)n);
    }
    rep->n_points++;
    foil_model_free(r->copy);
    r->copy = m;
    return FOIL_OK;
}

/* Copycat and Knockoff's random strategy: surrogate examples in a seeded
 * random order, without repeats, a copy at each checkpoint. */
foil_status foilExtractSampled(FoilExtractRun *r)
{
    const foil_extraction_options *o = r->o;
    const int64_t n_sur = r->surrogate->y.numel, total = o->budget < n_sur ? o->budget : n_sur;
    int64_t *perm = malloc((size_t)n_sur * sizeof *perm);
    float *rows = malloc((size_t)(256 * r->per_example) * sizeof *rows);
    foil_status st = perm && rows ? FOIL_OK : foil_error(FOIL_ERR_NOMEM, "out of memory sampling the surrogate");
    foil_rng rng = foil_rng_make(o->seed, 0x5ca1ab1e);
    for (int64_t i = 0; !st && i < n_sur; i++) perm[i] = i;
    for (int64_t i = 0; !st && i < total; i++) { /* partial Fisher-Yates */
        int64_t j = i + (int64_t)foil_rng_below(&rng, (uint64_t)(n_sur - i)), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    int c = 0;
    while (!st && r->n < total) {
        int64_t next = c < o->n_checkpoints ? o->checkpoints[c] : total;
        if (next > total) next = total;
        int64_t count = next - r->n < 256 ? next - r->n : 256;
        for (int64_t i = 0; i < count; i++)
            memcpy(rows + i * r->per_example, foil_f32(&r->surrogate->x) + perm[r->n + i] * r->per_example,
                   (size_t)r->per_example * sizeof *rows);
        st = foilExtractQuery(r, rows, count, NULL);
        if (!st && r->n == next) {
            st = foilExtractCheckpoint(r, r->n, o->seed + 1 + (uint64_t)c);
            c++;
        }
    }
    free(perm), free(rows);
    return st;
}

/* ---- the runner ---- */

static foil_status check_options(const foil_extraction_options *o)
{
    if (o->attack < 0 || o->attack >= FOIL_EXTRACT_COUNT) return foil_error(FOIL_ERR_ARG, "no such extraction attack");
    if (o->budget < 1) return foil_error(FOIL_ERR_ARG, "extraction: the budget must be at least 1 query");
    if (!o->make) return foil_error(FOIL_ERR_ARG, "extraction: no architecture for the copy (options.make)");
    if (o->n_checkpoints < 0 || o->n_checkpoints > FOIL_EXTRACT_MAX_POINTS)
        return foil_error(FOIL_ERR_ARG, "extraction: at most %d checkpoints", FOIL_EXTRACT_MAX_POINTS);
    for (int i = 0; i < o->n_checkpoints; i++)
        if (o->checkpoints[i] < 1 || o->checkpoints[i] > o->budget || (i && o->checkpoints[i] <= o->checkpoints[i - 1]))
            return foil_error(FOIL_ERR_ARG, "extraction: checkpoints must increase, from 1 to the budget (%lld)",
                              (long long)o->budget);
    if (o->train.teacher || o->train.adv.mode != FOIL_ADV_NONE || o->train.dp.enabled)
        return foil_error(FOIL_ERR_ARG, "extraction: the copy trains plainly (no teacher, adversarial training or "
                          "DP-SGD)");
    if (o->attack == FOIL_EXTRACT_KNOCKOFF_ADAPTIVE && (o->policy_batch < 1 || o->online_batch < 1 || o->window < 0))
        return foil_error(FOIL_ERR_ARG, "knockoff-adaptive: policy-batch and online-batch >= 1, window >= 0");
    if (o->attack == FOIL_EXTRACT_JACOBIAN &&
        (!(o->lambda > 0) || !isfinite(o->lambda) || o->tau < 0 || o->seed_size < 1 || o->reservoir < 0 ||
         o->sigma < 0))
        return foil_error(FOIL_ERR_ARG, "jacobian: lambda > 0, tau >= 0, seed-size >= 1, reservoir and sigma >= 0");
    return FOIL_OK;
}

foil_status foil_extract(foil_model *victim, const foil_dataset *surrogate, const foil_dataset *test,
                         const int64_t *victim_pred, const foil_extraction_options *o, foil_model **copy,
                         foil_extraction_report *report)
{
    *copy = NULL;
    memset(report, 0, sizeof *report);
    foil_status st = check_options(o);
    if (st) return st;
    const int64_t n_sur = surrogate->y.numel;
    if (n_sur < 1) return foil_error(FOIL_ERR_ARG, "extraction: the surrogate data %s is empty", surrogate->name);
    int reshaped = 0;
    if ((st = foil_model_check_input(victim, &surrogate->x, &reshaped)))
        return foil_error_prefix(st, "the victim cannot take the surrogate data %s", surrogate->name);
    if (test && foil_dataset_example_size(test) != foil_dataset_example_size(surrogate))
        return foil_error(FOIL_ERR_SHAPE, "extraction: the test data %s and the surrogate data %s have examples of "
                          "%lld and %lld values", test->name, surrogate->name,
                          (long long)foil_dataset_example_size(test), (long long)foil_dataset_example_size(surrogate));
    FoilExtractRun r = {.victim = victim, .surrogate = surrogate, .test = test, .victim_pred = victim_pred, .o = o,
                        .report = report};
    r.per_example = foil_dataset_example_size(surrogate);
    const unsigned caps = foil_model_capabilities(victim);
    const int knockoff = o->attack == FOIL_EXTRACT_KNOCKOFF_RANDOM || o->attack == FOIL_EXTRACT_KNOCKOFF_ADAPTIVE;
    r.soft = (caps & FOIL_MODEL_SCORES) && (o->labels == FOIL_LABELS_SOFT || (o->labels == FOIL_LABELS_AUTO && knockoff));
    report->soft = r.soft;
    /* the queried set: budget rows shaped like the surrogate's, filled as they are queried */
    int64_t *zeros = calloc((size_t)o->budget, sizeof *zeros);
    st = zeros ? foil_dataset_select(&r.queried, surrogate, zeros, o->budget)
               : foil_error(FOIL_ERR_NOMEM, "out of memory for %lld queries", (long long)o->budget);
    free(zeros);
    if (!st) {
        char **names = r.queried.class_names;
        r.queried.class_names = NULL; /* the labels are the victim's from here */
        foil_dataset_free(&(foil_dataset){.class_names = names});
    }
    const int64_t before = foil_model_queries(victim);
    r.started = foil_now();
    foil_progress_start(&r.bar, foil_extraction_name(o->attack), o->budget, "queries", o->quiet);
    if (!st) {
        switch (o->attack) {
        case FOIL_EXTRACT_COPYCAT:
        case FOIL_EXTRACT_KNOCKOFF_RANDOM: st = foilExtractSampled(&r); break;
        case FOIL_EXTRACT_KNOCKOFF_ADAPTIVE: st = foilExtractAdaptive(&r); break;
        case FOIL_EXTRACT_JACOBIAN: st = foilExtractJacobian(&r); break;
        default: st = foil_error(FOIL_ERR_ARG, "no such extraction attack");
        }
    }
    foil_progress_finish(&r.bar, NULL);
    report->queries = foil_model_queries(victim) - before;
    report->seconds = foil_now() - r.started;
    if (!st && report->queries > o->budget) /* the attacks ask for no more: a bug if they did */
        st = foil_error(FOIL_ERR_RUNTIME, "%s made %lld queries, over its budget of %lld",
                        foil_extraction_name(o->attack), (long long)report->queries, (long long)o->budget);
    if (!st && !r.copy) st = foil_error(FOIL_ERR_RUNTIME, "%s trained no copy", foil_extraction_name(o->attack));
    foil_dataset_free(&r.queried);
    free(r.probs);
    if (st) {
        foil_model_free(r.copy);
        foil_extraction_report_free(report);
        return st;
    }
    *copy = r.copy;
    return FOIL_OK;
}
