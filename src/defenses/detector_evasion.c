/*
 * defenses/detector_evasion.c - Orthogonal PGD (Bryniarski, Hingun,
 * Pachuca, Wang, Carlini 2022): the attacker who knows the detector and
 * must fool the classifier and evade the detector at once (foil/detect.h).
 *
 * Summing the two losses makes each step a compromise that often serves
 * neither; the paper instead steps on one objective at a time, the one
 * not yet met, with the other's gradient direction projected out of it.
 * It lives with the detectors, not in attacks/, as the adaptive half of
 * their evaluation: attacks/ knows nothing of defenses (DESIGN.md).
 * As in the authors' code: no random start, sign steps (Linf), the
 * classifier counted as fooled only by a 0.05-logit margin when choosing
 * the step, and of the misclassified iterates the least detected kept.
 *
 * Projection fails where the two gradients are nearly parallel: for the
 * max-softmax detector, minus the true class's confidence climbs with the
 * cross-entropy, so with it projected out little is left to fool the
 * classifier. The paper's other attack, Selective PGD (the same steps
 * without the projections), does not care; it runs on the examples
 * orthogonal PGD did not get past the detector, and each example keeps
 * the least detected misclassified iterate of either.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "foil/detect.h"
#include "foil/progress.h"

#define EVASION_BATCH 250
#define FOOLED_MARGIN 0.05f

typedef struct evasion_batch {
    int64_t rows, per, classes;
    foil_tensor xa;              /* rows x per: the current iterates */
    foil_tensor gc, gd, logits;  /* cross-entropy gradient, detector-score gradient, logits */
    float *scores, *loss;
} evasion_batch;

static void batch_free(evasion_batch *b)
{
    foil_tensor_free(&b->xa);
    foil_tensor_free(&b->gc);
    foil_tensor_free(&b->gd);
    foil_tensor_free(&b->logits);
    free(b->scores);
    free(b->loss);
}

static int64_t argmax(const float *z, int64_t c)
{
    int64_t m = 0;
    for (int64_t j = 1; j < c; j++) m = z[j] > z[m] ? j : m;
    return m;
}

/* a - (a . b / b . b) b into out: a with its component along b removed. */
static void project_out(const float *a, const float *b, int64_t n, float *out)
{
    double ab = 0, bb = 0;
    for (int64_t k = 0; k < n; k++) ab += (double)a[k] * b[k], bb += (double)b[k] * b[k];
    float coef = (float)(ab / (bb + 1e-20));
    for (int64_t k = 0; k < n; k++) out[k] = a[k] - coef * b[k];
}

/* One signed step from row i's iterate, projected onto the eps-ball around
 * x0 and the bounds. */
static void step_row(float *xa, const float *x0, const float *dir, int64_t per, float step, float eps,
                     const float *lo, const float *hi)
{
    for (int64_t k = 0; k < per; k++) {
        float v = xa[k] + step * (float)((dir[k] > 0) - (dir[k] < 0));
        v = fminf(fmaxf(v, x0[k] - eps), x0[k] + eps);
        xa[k] = fminf(fmaxf(v, lo[k]), hi[k]);
    }
}

/* Attack examples idx[0 .. rows) of x; writes their kept iterates into r. */
static foil_status attack_batch(foil_model *m, foil_detector *d, const foil_tensor *x, const int64_t *y,
                                const int64_t *idx, evasion_batch *b, const foil_threat *t, int64_t steps, float step,
                                int project, foil_detector_evasion_result *r)
{
    const int64_t per = b->per;
    float *dir = malloc((size_t)per * sizeof *dir);
    int64_t *labels = malloc((size_t)b->rows * sizeof *labels);
    if (!dir || !labels) {
        free(dir);
        free(labels);
        return foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    for (int64_t i = 0; i < b->rows; i++) {
        labels[i] = y[idx[i]];
        memcpy(foil_f32(&b->xa) + i * per, foil_f32(x) + idx[i] * per, (size_t)per * sizeof(float));
    }
    foil_status st = FOIL_OK;
    for (int64_t s = 0; s <= steps && !st; s++) {
        /* the last iterate is only judged: no gradients */
        if (s == steps) st = foil_model_predict(m, &b->xa, &b->logits);
        else st = foil_model_loss_input_grad(m, &b->xa, labels, b->loss, &b->logits, &b->gc);
        if (st || (st = s == steps ? foil_detector_score(d, &b->xa, b->scores)
                                   : foil_detector_score_grad(d, &b->xa, b->scores, &b->gd)))
            break;
        for (int64_t i = 0; i < b->rows; i++) {
            float *z = foil_f32(&b->logits) + i * b->classes;
            int64_t e = idx[i];
            if (argmax(z, b->classes) != labels[i] && b->scores[i] < r->score[e]) {
                r->score[e] = b->scores[i];
                r->fooled[e] = 1;
                memcpy(foil_f32(&r->adv) + e * per, foil_f32(&b->xa) + i * per, (size_t)per * sizeof(float));
            }
            if (s == steps) continue;
            z[labels[i]] += FOOLED_MARGIN;
            int fooled = argmax(z, b->classes) != labels[i];
            const float *gc = foil_f32(&b->gc) + i * per, *gd = foil_f32(&b->gd) + i * per;
            if (fooled) { /* descend the score */
                if (project) project_out(gd, gc, per, dir);
                else memcpy(dir, gd, (size_t)per * sizeof *dir);
                for (int64_t k = 0; k < per; k++) dir[k] = -dir[k];
            }
            else if (project) project_out(gc, gd, per, dir); /* climb the cross-entropy */
            else memcpy(dir, gc, (size_t)per * sizeof *dir);
            step_row(foil_f32(&b->xa) + i * per, foil_f32(x) + e * per, dir, per, step, t->eps, t->lower, t->upper);
        }
    }
    free(dir);
    free(labels);
    return st;
}

static foil_status run_batch(foil_model *m, foil_detector *d, const foil_tensor *x, const int64_t *y,
                             const int64_t *idx, int64_t rows, int64_t classes, const foil_threat *t, int64_t steps,
                             float step, int project, foil_detector_evasion_result *r)
{
    evasion_batch b = {.rows = rows, .per = x->numel / x->shape[0], .classes = classes};
    int64_t shape[FOIL_MAX_DIMS];
    memcpy(shape, x->shape, (size_t)x->ndim * sizeof *shape);
    shape[0] = rows;
    foil_status st = FOIL_OK;
    b.scores = malloc((size_t)rows * sizeof *b.scores);
    b.loss = malloc((size_t)rows * sizeof *b.loss);
    if (!b.scores || !b.loss) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    if (!st) st = foil_tensor_alloc(&b.xa, FOIL_F32, x->ndim, shape);
    if (!st) st = attack_batch(m, d, x, y, idx, &b, t, steps, step, project, r);
    batch_free(&b);
    return st;
}

static foil_status result_alloc(foil_detector_evasion_result *r, const foil_tensor *x)
{
    memset(r, 0, sizeof *r);
    r->n = x->shape[0];
    foil_status st = foil_tensor_alloc(&r->adv, FOIL_F32, x->ndim, x->shape);
    if (st) return st;
    memcpy(r->adv.data, x->data, foil_tensor_nbytes(x));
    r->attacked = calloc((size_t)r->n, 1);
    r->fooled = calloc((size_t)r->n, 1);
    r->evaded = calloc((size_t)r->n, 1);
    r->score = malloc((size_t)r->n * sizeof *r->score);
    if (!r->attacked || !r->fooled || !r->evaded || !r->score) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < r->n; i++) r->score[i] = INFINITY;
    return FOIL_OK;
}

void foil_detector_evasion_result_free(foil_detector_evasion_result *r)
{
    foil_tensor_free(&r->adv);
    free(r->attacked);
    free(r->fooled);
    free(r->evaded);
    free(r->score);
    memset(r, 0, sizeof *r);
}

static foil_status check_threat(const foil_threat *t)
{
    if (t->norm != FOIL_NORM_LINF)
        return foil_error(FOIL_ERR_ARG, "the detector-evading attack (orthogonal PGD) runs in the Linf norm only");
    if (!(t->eps > 0) || !isfinite(t->eps))
        return foil_error(FOIL_ERR_ARG, "the detector-evading attack needs an eps > 0 (got %g)", t->eps);
    if (!t->lower || !t->upper) return foil_error(FOIL_ERR_ARG, "the detector-evading attack needs the input bounds");
    if (t->steps < 0 || t->step_size < 0 || !isfinite(t->step_size))
        return foil_error(FOIL_ERR_ARG, "the detector-evading attack: steps and step size must not be negative");
    return FOIL_OK;
}

/* Which examples the model classifies correctly: those are attacked. */
static foil_status mark_attacked(foil_model *m, const foil_tensor *x, const int64_t *y, foil_detector_evasion_result *r,
                                 int64_t *n_attacked)
{
    foil_tensor z = {0};
    foil_status st = foil_model_predict(m, x, &z);
    *n_attacked = 0;
    for (int64_t i = 0; i < r->n && !st; i++) {
        r->attacked[i] = argmax(foil_f32(&z) + i * z.shape[1], z.shape[1]) == y[i];
        *n_attacked += r->attacked[i];
    }
    foil_tensor_free(&z);
    return st;
}

foil_status foil_detector_evasion_attack(foil_model *m, foil_detector *d, float threshold, const foil_tensor *x,
                                         const int64_t *y, const foil_threat *t, int quiet,
                                         foil_detector_evasion_result *r)
{
    foil_status st = check_threat(t);
    if (st) return st;
    if ((st = result_alloc(r, x))) return st;
    double start = foil_now();
    const int64_t steps = t->steps ? t->steps : 100, n = r->n;
    const float step = t->step_size > 0 ? t->step_size : t->eps / 8;
    int64_t n_attacked, classes;
    if ((st = mark_attacked(m, x, y, r, &n_attacked)) || (st = foil_model_num_classes(m, &classes))) return st;
    int64_t *idx = malloc((size_t)(n ? n : 1) * sizeof *idx);
    if (!idx) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    foil_progress bar;
    foil_progress_start(&bar, "orthogonal + selective PGD", 2 * n_attacked, "img", quiet);
    int64_t done = 0;
    for (int project = 1; project >= 0 && !st; project--) {
        for (int64_t i = 0; i < n && !st;) {
            int64_t rows = 0; /* selective PGD: only where orthogonal PGD did not evade */
            for (; i < n && rows < EVASION_BATCH; i++)
                if (r->attacked[i] && (project || !(r->fooled[i] && r->score[i] <= threshold))) idx[rows++] = i;
            if (!rows) break;
            st = run_batch(m, d, x, y, idx, rows, classes, t, steps, step, project, r);
            done += rows;
            foil_progress_update(&bar, done, NULL);
        }
        if (project) done = n_attacked;
    }
    foil_progress_finish(&bar, NULL);
    free(idx);
    for (int64_t i = 0; i < n; i++) {
        r->evaded[i] = r->fooled[i] && r->score[i] <= threshold;
        if (!r->fooled[i]) r->score[i] = NAN;
    }
    r->seconds = foil_now() - start;
    return st;
}
