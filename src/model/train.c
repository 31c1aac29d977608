/*
 * model/train.c - minibatch training of a classifier (foil/train.h), plain
 * or adversarial.
 *
 * One step: gather a shuffled batch (augmented if asked); for adversarial
 * training, replace it by adversarial examples (PGD, FGSM-RS) or append them
 * (TRADES: rows [b, 2b)), made by defenses/adversarial_training.c through
 * the model's inference plan; forward in training mode on the training plan,
 * the loss (mean softmax cross-entropy, or TRADES's), backward for the
 * weights only, one optimizer update. Everything random is keyed by (seed,
 * epoch, step), never by a running generator, so that resuming needs only
 * the counters.
 *
 * IBP training (Gowal et al. 2018) makes no examples: after the clean
 * forward pass, model/ibp_train.c bounds the logits over the box of radius
 * eps_t around each example, the loss mixes the clean and the worst-case
 * cross-entropy with weight kappa, and the bounds' weight gradients are
 * added to the clean pass's before the optimizer step. eps_t and kappa
 * are functions of the global step (ibp_schedule), so resuming needs
 * nothing more.
 *
 * DP-SGD (dp_step) samples each step's batch by Poisson sampling, runs it
 * in chunks of at most DP_MAX_ROWS, clips each example's gradient and adds
 * noise (model/dp_sgd.h) before the optimizer step; the privacy spent is
 * accounted by foil/privacy.h after each epoch.
 *
 * TRADES runs its clean and adversarial halves as one training-mode batch
 * of 2b: a model with BatchNorm normalizes them together, where the
 * reference code makes two forward passes (the same for models without
 * BatchNorm, as cnn-small).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foil/loss.h"
#include "foil/privacy.h"
#include "foil/progress.h"
#include "foil/rng.h"
#include "foil/train.h"
#include "core/dist.h"
#include "data/augment.h"
#include "foil/verify.h"
#include "defenses/adversarial_training.h"
#include "model/checkpoint.h"
#include "model/dp_sgd.h"
#include "model/ibp_train.h"
#include "model/model_internal.h"

enum { STREAM_SHUFFLE = 1, STREAM_AUGMENT = 2, STREAM_DROPOUT = 3, STREAM_ATTACK = 4, STREAM_EVAL = 5, STREAM_NOISE = 6 };

/* DP-SGD runs a step's Poisson batch in chunks of at most this many rows
 * (a plan's batch: cnn-small's takes about 0.4 MB a row). */
enum { DP_MAX_ROWS = 512 };

/* FGSM-RS's catastrophic-overfitting probe: this many training examples;
 * and the largest gap between its FGSM and PGD accuracy a model that has
 * not overfitted shows (1-5 points in foil's runs at eps 0.1; 40 to 65
 * points in a run at eps 0.3 with step 2 eps, overfitted from epoch 1). */
#define FGSM_PGD_GAP 0.30
enum { PROBE_EXAMPLES = 512 };

void foil_train_defaults(foil_train_options *o)
{
    memset(o, 0, sizeof *o);
    o->epochs = 2;
    o->batch = 64;
    o->optim = foil_optim_defaults(FOIL_OPT_SGD);
    o->optim.schedule = FOIL_LR_COSINE;
    o->adv.kappa_final = 0.5f;
    o->dp.max_grad_norm = 1.0;
    o->dp.delta = 1e-5;
}

typedef struct trainer {
    foil_model *m;
    FoilGraphModel *gm;        /* m's graph: training needs one */
    const foil_dataset *data;
    const foil_train_options *o;
    int64_t n, per_example, batch, planned;
    int64_t *perm;
    foil_tensor x;             /* (planned, ...) staging */
    foil_tensor dlogits;       /* (planned, classes) */
    int64_t *labels;
    float *loss;
    foil_optim opt;
    FoilAdvAttack attack;      /* adversarial training: this epoch's attack (mode NONE: plain) */
    foil_tensor *soft;         /* distillation: the teacher's soft labels of the batch, (b, classes) */
    foil_tensor soft_storage;
    foil_tensor xadv;          /* (batch, ...) the attack's examples */
    int64_t steps_per_epoch;
    /* IBP training */
    FoilIbp *ibp;              /* made at the first step with eps_t > 0 */
    float *box_lo, *box_hi;    /* (batch, ...) the boxes */
    float *zw, *dzw, *wloss;   /* (batch, classes) worst-case logits and their gradient; (batch) their loss */
    double eps_now, kappa_now; /* at the last step */
    int64_t ibp_verified, ibp_seen; /* this epoch: examples whose bounds verified them, of those bounded */
    /* DP-SGD */
    double dp_q, dp_sigma;     /* sampling rate, noise multiplier */
    int64_t *dp_idx;           /* (n) the step's Poisson batch */
    float *dp_sq;              /* (rows) squared norms of the chunk's per-example gradients */
    float *dp_acc;             /* the clipped sums of a step's earlier chunks, optimizer order (made when needed) */
    int64_t dp_clipped;        /* this epoch: examples whose gradient was clipped */
} trainer;

static void shuffle(trainer *t, int64_t epoch)
{
    foil_rng r = foil_rng_make(t->o->seed, ((uint64_t)STREAM_SHUFFLE << 56) | (uint64_t)epoch);
    for (int64_t i = 0; i < t->n; i++) t->perm[i] = i;
    for (int64_t i = t->n - 1; i > 0; i--) { /* Fisher-Yates */
        int64_t j = (int64_t)foil_rng_below(&r, (uint64_t)i + 1);
        int64_t tmp = t->perm[i];
        t->perm[i] = t->perm[j];
        t->perm[j] = tmp;
    }
}

/* Make the graph hold the training plan, for batches of b. Validation and
 * attacks in between run the model's inference plan, which lives beside
 * this one (FoilPlanUse), so switching back costs no re-plan. */
static foil_status plan_batch(trainer *t, int64_t b) /* b rows: 2 x the batch for TRADES */
{
    foil_status st = foilGraphModelUsePlan(t->gm, FOIL_PLAN_TRAINING);
    if (st || t->planned == b) return st;
    t->planned = 0;
    foil_tensor_free(&t->x);
    foil_tensor_free(&t->dlogits);
    int64_t shape[FOIL_MAX_DIMS];
    memcpy(shape, t->data->x.shape, sizeof shape);
    shape[0] = b;
    if ((st = foil_tensor_alloc(&t->x, FOIL_F32, t->data->x.ndim, shape))) return st;
    const foil_tensor *in[1] = {&t->x};
    if ((st = foilGraphPlan(t->gm->g, in))) return st;
    const foil_tensor *y = foilGraphOutput(t->gm->g, 0);
    int64_t classes = y->numel / b;
    if (y->ndim < 1 || y->shape[0] != b || classes < t->data->classes)
        return foil_error(FOIL_ERR_SHAPE, "%s: the model gives %lld outputs per example but the data has %lld classes",
                          t->gm->g->path, (long long)classes, (long long)t->data->classes);
    int64_t dshape[2] = {b, classes};
    if ((st = foil_tensor_alloc(&t->dlogits, FOIL_F32, 2, dshape))) return st;
    t->planned = b;
    return FOIL_OK;
}

/* Gaussian augmentation: example k of the batch gets sigma * N(0, I) from
 * the stream of (epoch, its position in the epoch), so a resumed run draws
 * the same noise. */
static void add_training_noise(trainer *t, int64_t epoch, int64_t first, int64_t b)
{
    const double sigma = t->o->noise_sigma;
    for (int64_t k = 0; k < b; k++) {
        foil_rng r = foil_rng_make(t->o->seed, ((uint64_t)STREAM_NOISE << 56) | ((uint64_t)epoch << 32) |
                                                   (uint64_t)(first + k));
        float *dst = foil_f32(&t->x) + k * t->per_example;
        for (int64_t i = 0; i < t->per_example; i++) dst[i] += (float)(sigma * foil_rng_normal(&r));
    }
}

/* Rows [0, b) of the batch: the examples order[first .. first+b). */
static void gather_batch(trainer *t, const int64_t *order, int64_t epoch, int64_t first, int64_t b)
{
    const foil_tensor *x = &t->data->x;
    int augment = t->data->is_image && x->ndim == 4 && (t->o->crop_pad > 0 || t->o->flip);
    for (int64_t k = 0; k < b; k++) {
        int64_t idx = order[first + k];
        const float *src = foil_f32(x) + idx * t->per_example;
        float *dst = foil_f32(&t->x) + k * t->per_example;
        t->labels[k] = foil_i64(&t->data->y)[idx];
        if (!augment) {
            memcpy(dst, src, (size_t)t->per_example * sizeof *dst);
            continue;
        }
        foil_rng r = foil_rng_make(t->o->seed, ((uint64_t)STREAM_AUGMENT << 56) | ((uint64_t)epoch << 32) |
                                                   (uint64_t)(first + k));
        FoilAugmentDraw a = foilAugmentDraw(&r, t->o->crop_pad, t->o->flip);
        foilAugmentApply(src, dst, x->shape[1], x->shape[2], x->shape[3], a);
    }
    if (t->o->noise_sigma > 0) add_training_noise(t, epoch, first, b);
}

/* Distillation: the teacher's soft labels softmax(teacher(x) / T) for the
 * b gathered examples (the teacher runs in inference mode). */
static foil_status teacher_labels(trainer *t, int64_t b)
{
    foil_tensor clean = t->x; /* a view of the first b rows */
    clean.shape[0] = b;
    clean.numel = b * t->per_example;
    clean.owns_data = 0;
    if (t->soft_storage.data && t->soft_storage.shape[0] != b) foil_tensor_free(&t->soft_storage); /* last batch */
    foil_status st = foil_model_predict(t->o->teacher, &clean, &t->soft_storage);
    if (st) return foil_error_prefix(st, "the teacher");
    const int64_t classes = t->soft_storage.shape[1];
    if (classes != t->dlogits.shape[1])
        return foil_error(FOIL_ERR_SHAPE, "the teacher gives %lld classes and the model %lld", (long long)classes,
                          (long long)t->dlogits.shape[1]);
    foilDistillSoftLabels(foil_f32(&t->soft_storage), b, classes, t->o->temperature > 0 ? t->o->temperature : 1.0f);
    t->soft = &t->soft_storage;
    return FOIL_OK;
}

/* Rows [0, b) of t->x hold the gathered batch: replace them by their
 * adversarial examples (PGD, FGSM-RS), or write those to rows [b, 2b)
 * (TRADES). */
static foil_status adversarial_batch(trainer *t, int64_t b, uint64_t key)
{
    foil_tensor clean = t->x; /* a view of the first b rows */
    clean.shape[0] = b;
    clean.numel = b * t->per_example;
    clean.owns_data = 0;
    const FoilAdvAttack *a = &t->attack;
    foil_status st = a->mode == FOIL_ADV_TRADES
                         ? foilAdvTradesExamples(t->m, &clean, a, key, &t->xadv)
                         : foilAdvLinfPgd(t->m, &clean, t->labels, a->eps, a->step, a->steps, 1, a->lo, a->hi, key,
                                          &t->xadv);
    if (st) return st;
    float *dst = foil_f32(&t->x) + (a->mode == FOIL_ADV_TRADES ? b * t->per_example : 0);
    memcpy(dst, t->xadv.data, (size_t)(b * t->per_example) * sizeof(float));
    return FOIL_OK;
}

/* Data parallelism (core/dist.h): every rank holds the same weights; each
 * takes a contiguous part of every batch, back-propagates the whole batch's
 * mean loss restricted to its rows, and the gradients are summed over the
 * ranks before the (identical) optimizer step. */
static void share_of_batch(int64_t b, int64_t *offset, int64_t *rows)
{
    const int64_t size = foilDistSize(), rank = foilDistRank();
    *offset = b * rank / size;
    *rows = b * (rank + 1) / size - *offset;
}

/* Sum the trainable weights' gradients over the ranks. */
static foil_status all_reduce_gradients(trainer *t)
{
    FoilGraph *g = t->gm->g;
    foil_status st = FOIL_OK;
    for (int i = 0; !st && i < g->n_values; i++) {
        FoilValue *v = &g->values[i];
        if (v->kind == FOIL_VALUE_PARAM && v->trainable && v->grad.data)
            st = foilDistSumFloats(foil_f32(&v->grad), v->grad.numel);
    }
    return st;
}

static void zero_gradients(trainer *t)
{
    FoilGraph *g = t->gm->g;
    for (int i = 0; i < g->n_values; i++) {
        FoilValue *v = &g->values[i];
        if (v->kind == FOIL_VALUE_PARAM && v->trainable && v->grad.data)
            memset(v->grad.data, 0, (size_t)v->grad.numel * sizeof(float));
    }
}

static int64_t ibp_ramp_epochs(const foil_train_options *o)
{
    if (o->adv.ramp_epochs > 0) return o->adv.ramp_epochs;
    int64_t r = (o->epochs - o->adv.warmup_epochs) / 2;
    return r > 1 ? r : 1;
}

/* IBP's eps_t and kappa at global step `step` (from 0): clean training
 * through the warm-up, then both ramp linearly, step by step (as Gowal et
 * al.'s schedule does), reaching train_eps and kappa_final at the ramp's
 * last step. */
static void ibp_schedule(const trainer *t, int64_t step, double *eps, double *kappa)
{
    const foil_adv_options *a = &t->o->adv;
    const int64_t warm = a->warmup_epochs * t->steps_per_epoch, ramp = ibp_ramp_epochs(t->o) * t->steps_per_epoch;
    double p = step < warm ? 0.0 : (double)(step - warm + 1) / (double)ramp;
    if (p > 1) p = 1;
    *eps = p * (a->train_eps > 0 ? a->train_eps : a->eps);
    *kappa = 1.0 - p * (1.0 - a->kappa_final);
}

/* IBP's part of a step, after the clean forward pass: on entry dl holds the
 * clean cross-entropy's per-example gradients and t->loss its values; on
 * exit dl holds kappa / b times them, t->loss the mixed loss, and the
 * worst-case gradient waits in t->dzw for ibp_add_grads. */
static foil_status ibp_step(trainer *t, int64_t b, int64_t classes, float *dl, double eps, double kappa)
{
    foil_status st;
    const int64_t f = t->per_example;
    if (!t->ibp) {
        if ((st = foilIbpNew(t->gm->g, t->batch, &t->ibp))) return st;
        if (foilIbpClasses(t->ibp) != classes)
            return foil_error(FOIL_ERR_SHAPE, "IBP: the logits have %lld classes, not %lld",
                              (long long)foilIbpClasses(t->ibp), (long long)classes);
        t->box_lo = malloc((size_t)(t->batch * f) * sizeof *t->box_lo);
        t->box_hi = malloc((size_t)(t->batch * f) * sizeof *t->box_hi);
        t->zw = malloc((size_t)(t->batch * classes) * sizeof *t->zw);
        t->dzw = malloc((size_t)(t->batch * classes) * sizeof *t->dzw);
        t->wloss = malloc((size_t)t->batch * sizeof *t->wloss);
        if (!t->box_lo || !t->box_hi || !t->zw || !t->dzw || !t->wloss) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    foil_bounds_linf_box(b, f, foil_f32(&t->x), (float)eps, foil_f32(&t->data->lower), foil_f32(&t->data->upper),
                         t->box_lo, t->box_hi);
    if ((st = foilIbpForward(t->ibp, b, t->box_lo, t->box_hi))) return st;
    foilIbpWorstLogits(t->ibp, t->labels, t->zw);
    if (foil_first_nonfinite(t->zw, b * classes) >= 0)
        return foil_error(FOIL_ERR_RUNTIME, "%s: IBP training diverged: a bound of the logits is not finite at eps "
                          "%g; lower --lr or lengthen --eps-ramp", t->data->name, eps);
    if ((st = foil_softmax_xent(t->zw, t->labels, b, classes, t->wloss, t->dzw))) return st;
    const float kc = (float)(kappa / (double)b), kw = (float)((1.0 - kappa) / (double)b);
    for (int64_t i = 0; i < b * classes; i++) {
        dl[i] *= kc;
        t->dzw[i] *= kw;
    }
    for (int64_t i = 0; i < b; i++) {
        t->loss[i] = (float)(kappa * t->loss[i] + (1.0 - kappa) * t->wloss[i]);
        int verified = 1;
        for (int64_t j = 0; j < classes; j++) verified &= j == t->labels[i] || t->zw[i * classes + j] < 0;
        t->ibp_verified += verified;
    }
    t->ibp_seen += b;
    return FOIL_OK;
}

/* The worst-case loss's weight gradients, added to the clean pass's. */
static void ibp_add_grads(trainer *t)
{
    foilIbpBackward(t->ibp, t->labels, t->dzw);
    FoilGraph *g = t->gm->g;
    for (int v = 0; v < g->n_values; v++) {
        const float *d = foilIbpGrad(t->ibp, v);
        FoilValue *val = &g->values[v];
        if (!d || val->kind != FOIL_VALUE_PARAM || !val->trainable || !val->grad.data) continue;
        float *gr = foil_f32(&val->grad);
        for (int64_t i = 0; i < val->t.numel; i++) gr[i] += d[i];
    }
}

static foil_status diverged(const trainer *t, int64_t epoch, int64_t global_step, int64_t example)
{
    return foil_error(FOIL_ERR_RUNTIME, "%s: training diverged at step %lld (epoch %lld): the model gave a "
                      "non-finite logit for training example %lld; lower --lr or check the data",
                      t->data->name, (long long)global_step + 1, (long long)epoch + 1, (long long)example);
}

/* Add the loss of the batch's b rows (t->loss) and how many the logits
 * classify right to sums[0] and sums[1]. */
static void add_batch_stats(const trainer *t, const float *logits, int64_t b, int64_t classes, double *sums)
{
    for (int64_t i = 0; i < b; i++) {
        sums[0] += t->loss[i];
        const float *row = logits + i * classes;
        int64_t best = 0;
        for (int64_t c = 1; c < classes; c++)
            if (row[c] > row[best]) best = c;
        sums[1] += best == t->labels[i];
    }
}

/* Forward and backward on this rank's b rows perm[first .. first+b) of a
 * batch of `whole` rows: the gradients of the whole batch's mean loss that
 * these rows contribute. */
static foil_status local_step(trainer *t, int64_t epoch, int64_t first, int64_t b, int64_t whole,
                              int64_t global_step, double *sums)
{
    const int trades = t->attack.mode == FOIL_ADV_TRADES, ibp = t->attack.mode == FOIL_ADV_IBP;
    const int64_t rows = trades ? 2 * b : b;
    double eps = 0, kappa = 1;
    if (ibp) ibp_schedule(t, global_step, &eps, &kappa);
    t->eps_now = eps;
    t->kappa_now = kappa;
    foil_status st = plan_batch(t, rows);
    if (st) return st;
    gather_batch(t, t->perm, epoch, first, b);
    if (t->o->teacher && (st = teacher_labels(t, b))) return st;
    if (t->attack.mode != FOIL_ADV_NONE && !ibp) {
        uint64_t key = foil_rng_at(t->o->seed ^ ((uint64_t)STREAM_ATTACK << 56), (uint64_t)global_step);
        if ((st = adversarial_batch(t, b, key))) return st;
        if ((st = plan_batch(t, rows))) return st; /* the attack ran the inference plan */
    }
    const foil_tensor *in[1] = {&t->x};
    uint64_t seed = foil_rng_at(t->o->seed ^ ((uint64_t)STREAM_DROPOUT << 56), (uint64_t)global_step);
    /* fine-tuning the last layer: the frozen rest runs as deployed (BatchNorm on its running statistics,
     * no dropout), a fixed feature extractor */
    if ((st = foilGraphForward(t->gm->g, in, !t->o->last_layer_only, seed))) return st;
    const float *logits = foil_f32(foilGraphOutput(t->gm->g, 0));
    int64_t classes = t->dlogits.shape[1];
    /* Diverged training must stop here, not write a model of NaN weights. */
    int64_t bad = foil_first_nonfinite(logits, rows * classes);
    if (bad >= 0) return diverged(t, epoch, global_step, t->perm[first + (bad / classes) % b]);
    float *dl = foil_f32(&t->dlogits);
    if (trades) st = foilAdvTradesLoss(logits, t->labels, b, classes, t->attack.beta, t->loss, dl);
    else if (t->o->teacher || (t->o->temperature > 0 && t->o->temperature != 1))
        st = foilDistillLoss(logits, t->labels, t->soft ? foil_f32(t->soft) : NULL, b, classes,
                             t->o->temperature > 0 ? t->o->temperature : 1.0f, t->loss, dl);
    else if (!(st = foil_softmax_xent(logits, t->labels, b, classes, t->loss, dl))) {
        /* d(mean loss)/dlogits: the per-example gradients divided by b. */
        float inv_b = 1.0f / (float)b;
        if (ibp && eps > 0) st = ibp_step(t, b, classes, dl, eps, kappa);
        else
            for (int64_t i = 0; i < b * classes; i++) dl[i] *= inv_b;
    }
    if (st) return foil_error_prefix(st, "%s", t->data->name);
    /* The losses above are means over these b rows; the whole batch's mean
     * weighs them b / whole. */
    if (b != whole) {
        const float share = (float)b / (float)whole;
        for (int64_t i = 0; i < rows * classes; i++) dl[i] *= share;
    }
    add_batch_stats(t, logits, b, classes, sums);
    if ((st = foilGraphBackward(t->gm->g, foilModelOutputGrads(t->gm, &t->dlogits), FOIL_GRAD_PARAMS))) return st;
    if (ibp && eps > 0) ibp_add_grads(t);
    return FOIL_OK;
}

/* One optimizer step on the batch perm[first .. first+b): this rank's rows
 * of it (all of them in one process). Adds the batch's summed loss and
 * correct count, over every rank, to *loss_sum and *correct. */
static foil_status train_step(trainer *t, int64_t epoch, int64_t first, int64_t b, int64_t global_step,
                              int64_t total_steps, double *loss_sum, uint64_t *correct)
{
    const int64_t whole = b;
    int64_t offset;
    share_of_batch(whole, &offset, &b);
    first += offset;
    double step_sums[2] = {0, 0}; /* loss, correct */
    foil_status st = b ? local_step(t, epoch, first, b, whole, global_step, step_sums) : FOIL_OK;
    if (!b) zero_gradients(t);
    if (foilDistSize() > 1) {
        if (!(st = foilDistAgree(st))) st = all_reduce_gradients(t);
        if (!st) st = foilDistSumDoubles(step_sums, 2);
    }
    if (st) return st;
    *loss_sum += step_sums[0];
    *correct += (uint64_t)step_sums[1];
    foil_optim_step(&t->opt, foil_lr_at(&t->o->optim, global_step, total_steps, epoch));
    return FOIL_OK;
}

/* The clipped sums of a step's chunks: the first copied into t->dp_acc
 * (optimizer order), later ones added. */
static foil_status dp_accumulate(trainer *t, int first)
{
    if (!t->dp_acc) {
        int64_t floats = 0;
        for (int p = 0; p < t->opt.n; p++) floats += t->opt.grads[p]->numel;
        if (!(t->dp_acc = malloc((size_t)floats * sizeof *t->dp_acc)))
            return foil_error(FOIL_ERR_NOMEM, "out of memory for DP-SGD's gradient sums");
    }
    float *acc = t->dp_acc;
    for (int p = 0; p < t->opt.n; p++) {
        const float *g = foil_f32(t->opt.grads[p]);
        const int64_t n = t->opt.grads[p]->numel;
        for (int64_t i = 0; i < n; i++) acc[i] = first ? g[i] : acc[i] + g[i];
        acc += n;
    }
    return FOIL_OK;
}

/* One DP-SGD step (model/dp_sgd.h): the Poisson batch of global step
 * `global_step`, in chunks of at most DP_MAX_ROWS rows, each example's
 * gradient clipped, the sum noised and divided by q N, one optimizer
 * update. The chunks of a step have one size (the last padded with rows
 * of zeros whose logits' gradient is 0), so a step re-plans at most once.
 * Adds the batch's loss and correct count to *loss_sum and *correct;
 * *taken: its size. */
static foil_status dp_step(trainer *t, int64_t epoch, int64_t global_step, int64_t total_steps, double *loss_sum,
                           uint64_t *correct, int64_t *taken)
{
    const foil_dp_options *dp = &t->o->dp;
    const uint64_t step = (uint64_t)global_step;
    const int64_t b = foilDpSample(t->o->seed, global_step, t->n, t->dp_q, t->dp_idx);
    const int64_t chunks = (b + DP_MAX_ROWS - 1) / DP_MAX_ROWS, rows = chunks ? (b + chunks - 1) / chunks : 0;
    const uint64_t dropout = foil_rng_at(t->o->seed ^ ((uint64_t)STREAM_DROPOUT << 56), step);
    double sums[2] = {0, 0};
    foil_status st = FOIL_OK;
    *taken = b;
    for (int64_t c = 0; !st && c < chunks; c++) {
        const int64_t first = c * rows, real = b - first < rows ? b - first : rows;
        if ((st = plan_batch(t, rows))) break;
        gather_batch(t, t->dp_idx, epoch, first, real);
        memset(foil_f32(&t->x) + real * t->per_example, 0, (size_t)((rows - real) * t->per_example) * sizeof(float));
        for (int64_t k = real; k < rows; k++) t->labels[k] = 0;
        const foil_tensor *in[1] = {&t->x};
        if ((st = foilGraphForward(t->gm->g, in, 1, foil_rng_at(dropout, (uint64_t)c)))) break;
        const float *logits = foil_f32(foilGraphOutput(t->gm->g, 0));
        const int64_t classes = t->dlogits.shape[1];
        int64_t bad = foil_first_nonfinite(logits, real * classes), clipped = 0;
        if (bad >= 0) return diverged(t, epoch, global_step, t->dp_idx[first + bad / classes]);
        /* each row: the gradient of that example's own loss */
        float *dl = foil_f32(&t->dlogits);
        if ((st = foil_softmax_xent(logits, t->labels, rows, classes, t->loss, dl)))
            return foil_error_prefix(st, "%s", t->data->name);
        memset(dl + real * classes, 0, (size_t)((rows - real) * classes) * sizeof *dl); /* padding: no gradient */
        add_batch_stats(t, logits, real, classes, sums);
        if ((st = foilDpClippedSum(t->gm, &t->dlogits, rows, dp->max_grad_norm, t->dp_sq, &clipped))) break;
        t->dp_clipped += clipped;
        if (chunks > 1) st = dp_accumulate(t, c == 0);
    }
    if (st) return st;
    if (chunks == 0) { /* an empty batch: the step is noise alone, on the training plan's gradients */
        if ((st = plan_batch(t, t->planned > 0 ? t->planned : 1))) return st;
        zero_gradients(t);
    }
    if (chunks > 1) {
        const float *acc = t->dp_acc;
        for (int p = 0; p < t->opt.n; p++) {
            memcpy(t->opt.grads[p]->data, acc, (size_t)t->opt.grads[p]->numel * sizeof *acc);
            acc += t->opt.grads[p]->numel;
        }
    }
    foilDpNoise(&t->opt, t->dp_sigma * dp->max_grad_norm, t->dp_q * (double)t->n, t->o->seed, global_step);
    *loss_sum += sums[0];
    *correct += (uint64_t)sums[1];
    foil_optim_step(&t->opt, foil_lr_at(&t->o->optim, global_step, total_steps, epoch));
    return FOIL_OK;
}

/* DP-SGD's preparations: the sampling rate, the noise multiplier (from the
 * target epsilon when asked), the buffers, and the training plan, checked
 * for per-example gradients before any step (a model with BatchNorm-
 * alization is refused here). */
static foil_status dp_setup(trainer *t, int64_t rows_cap, int64_t total_steps, foil_dp_report *r)
{
    const foil_dp_options *dp = &t->o->dp;
    t->dp_q = (double)t->batch / (double)t->n;
    t->dp_sigma = dp->noise_multiplier;
    foil_status st = FOIL_OK;
    if (!(t->dp_sigma > 0) &&
        (st = foil_dp_noise_for_epsilon(t->dp_q, total_steps, dp->delta, dp->target_epsilon, FOIL_DP_BALLE2020,
                                        &t->dp_sigma)))
        return foil_error_prefix(st, "DP-SGD: no noise multiplier reaches epsilon %g at delta %g in %lld steps at "
                                 "sampling rate %g", dp->target_epsilon, dp->delta, (long long)total_steps, t->dp_q);
    r->delta = dp->delta;
    r->noise_multiplier = t->dp_sigma;
    r->sample_rate = t->dp_q;
    r->max_grad_norm = dp->max_grad_norm;
    r->examples = t->n;
    r->epsilon = 0;
    t->dp_idx = malloc((size_t)t->n * sizeof *t->dp_idx);
    t->dp_sq = malloc((size_t)rows_cap * sizeof *t->dp_sq);
    if (!t->dp_idx || !t->dp_sq) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    const int64_t rows = t->batch < rows_cap ? t->batch : rows_cap;
    if ((st = plan_batch(t, rows))) return st;
    if ((st = foilGraphCheckExampleNorms(t->gm->g, rows))) return foil_error_prefix(st, "DP-SGD");
    return FOIL_OK;
}

/* The privacy spent by the first `steps` steps, into r. */
static foil_status dp_spent(const trainer *t, int64_t steps, foil_dp_report *r)
{
    foil_dp_spent spent;
    foil_status st = foil_dp_epsilon(t->dp_q, t->dp_sigma, steps, t->o->dp.delta, FOIL_DP_BALLE2020, &spent);
    if (st) return foil_error_prefix(st, "DP-SGD's accounting");
    r->epsilon = spent.epsilon;
    r->order = spent.order;
    r->steps = steps;
    return FOIL_OK;
}

static foil_status validation_accuracy(foil_model *m, const foil_dataset *val, double *acc)
{
    foil_tensor logits = {0};
    foil_status st = foil_model_predict(m, &val->x, &logits);
    if (st) {
        foil_tensor_free(&logits); /* predict may have allocated it before failing */
        return st;
    }
    int64_t n = val->x.shape[0], classes = logits.shape[1], correct = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *row = foil_f32(&logits) + i * classes;
        int64_t best = 0;
        for (int64_t c = 1; c < classes; c++)
            if (row[c] > row[best]) best = c;
        correct += best == foil_i64(&val->y)[i];
    }
    foil_tensor_free(&logits);
    *acc = (double)correct / (double)n;
    return FOIL_OK;
}

/* Whether a weight is trained: every trainable one, or with last_layer_only
 * those the node making the logits reads (and, when that node is an Add of
 * a bias, those of the MatMul it adds to). */
static int trained(const FoilGraph *g, int value, int last_layer_only)
{
    const FoilValue *v = &g->values[value];
    if (v->kind != FOIL_VALUE_PARAM || !v->trainable) return 0;
    if (!last_layer_only) return 1;
    int node = g->values[g->outputs[0]].producer;
    for (int hop = 0; node >= 0 && hop < 2; hop++) {
        const FoilNode *n = &g->nodes[node];
        int next = -1;
        for (int i = 0; i < n->n_in; i++) {
            if (n->in[i] == value) return 1;
            if (n->in[i] >= 0 && g->values[n->in[i]].kind == FOIL_VALUE_ACTIVATION) next = g->values[n->in[i]].producer;
        }
        node = strcmp(n->op_type, "Add") == 0 ? next : -1;
    }
    return 0;
}

static foil_status init_optimizer(trainer *t)
{
    FoilGraph *g = t->gm->g;
    int n = 0;
    for (int i = 0; i < g->n_values; i++) n += trained(g, i, t->o->last_layer_only);
    if (n == 0)
        return foil_error(FOIL_ERR_ARG, "%s: the model has no trainable weights%s", g->path,
                          t->o->last_layer_only ? " in the layer that makes its logits" : "");
    foil_tensor **params = malloc((size_t)n * sizeof *params), **grads = malloc((size_t)n * sizeof *grads);
    if (!params || !grads) {
        free(params);
        free(grads);
        return foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    n = 0;
    for (int i = 0; i < g->n_values; i++)
        if (trained(g, i, t->o->last_layer_only)) {
            params[n] = &g->values[i].t;
            grads[n++] = &g->values[i].grad; /* the struct is stable; its buffer is re-planned */
        }
    foil_status st = foil_optim_init(&t->opt, &t->o->optim, n, params, grads);
    free(params);
    free(grads);
    return st;
}

static void free_trainer(trainer *t)
{
    free(t->perm);
    free(t->dp_idx);
    free(t->dp_sq);
    free(t->dp_acc);
    free(t->labels);
    free(t->loss);
    foil_tensor_free(&t->x);
    foil_tensor_free(&t->dlogits);
    foil_tensor_free(&t->xadv);
    foil_tensor_free(&t->soft_storage);
    foil_optim_free(&t->opt);
    foilIbpFree(t->ibp);
    free(t->box_lo);
    free(t->box_hi);
    free(t->zw);
    free(t->dzw);
    free(t->wloss);
    foilGraphModelDropPlan(t->gm, FOIL_PLAN_TRAINING);
}

static foil_status check_adv_options(const foil_dataset *d, const foil_adv_options *a, int64_t batch)
{
    if (a->mode == FOIL_ADV_NONE) return FOIL_OK;
    const int64_t n = d->x.shape[0], f = foil_dataset_example_size(d);
    if (!(a->eps > 0) || !isfinite(a->eps)) return foil_error(FOIL_ERR_ARG, "adversarial training needs an eps > 0");
    if (a->step < 0 || !isfinite(a->step) || a->steps < 0 || a->steps > 1000 || a->beta < 0 || !isfinite(a->beta))
        return foil_error(FOIL_ERR_ARG, "adversarial training: step >= 0, steps in [0, 1000] and beta >= 0");
    if (a->warmup_epochs < 0 || a->eval_steps < 0 || a->eval_steps > 1000)
        return foil_error(FOIL_ERR_ARG, "adversarial training: warm-up epochs >= 0 and eval steps in [0, 1000]");
    if (a->holdout < 0 || a->holdout >= n || n - a->holdout < batch / 2 + 1)
        return foil_error(FOIL_ERR_ARG, "%s: cannot hold out %lld of %lld training examples and still train",
                          d->name, (long long)a->holdout, (long long)n);
    if (a->mode == FOIL_ADV_IBP &&
        (!(a->train_eps >= 0) || !isfinite(a->train_eps) || !(a->kappa_final >= 0 && a->kappa_final <= 1) ||
         a->ramp_epochs < 0 || a->steps || a->step || a->beta))
        return foil_error(FOIL_ERR_ARG, "IBP training: train eps >= 0, kappa in [0, 1], ramp epochs >= 0, and no "
                          "attack steps or TRADES beta");
    if (a->keep_best && !a->holdout)
        return foil_error(FOIL_ERR_ARG, "keeping the most robust epoch needs held-out examples to measure it on");
    if (d->lower.numel != f || d->upper.numel != f)
        return foil_error(FOIL_ERR_ARG, "%s: adversarial training needs the input bounds of every feature", d->name);
    return FOIL_OK;
}

/* DP-SGD's options, and what its accounting rules out: an epsilon is
 * quoted only for a run that is exactly the sampled Gaussian mechanism
 * foil/privacy.h accounts for. */
static foil_status check_dp_options(const FoilGraphModel *m, const foil_dataset *d, const foil_train_options *o)
{
    const foil_dp_options *dp = &o->dp;
    if (!dp->enabled) return FOIL_OK;
    const int64_t n = d->x.shape[0];
    if (!(dp->max_grad_norm > 0) || !isfinite(dp->max_grad_norm))
        return foil_error(FOIL_ERR_ARG, "DP-SGD: the clipping norm must be a finite number > 0, not %g",
                          dp->max_grad_norm);
    if (dp->noise_multiplier && dp->target_epsilon)
        return foil_error(FOIL_ERR_ARG, "DP-SGD: give the noise multiplier or the target epsilon, not both");
    if (!(dp->noise_multiplier > 0 && isfinite(dp->noise_multiplier)) &&
        !(dp->target_epsilon > 0 && isfinite(dp->target_epsilon)))
        return foil_error(FOIL_ERR_ARG, "DP-SGD needs a noise multiplier > 0 or a target epsilon > 0 (noise "
                          "multiplier %g, target epsilon %g)", dp->noise_multiplier, dp->target_epsilon);
    if (!(dp->delta > 0) || !(dp->delta < 1.0 / (double)n))
        return foil_error(FOIL_ERR_ARG, "DP-SGD: delta must lie in (0, 1/N) = (0, %.3g) for the %lld training "
                          "examples, not %g (a delta of 1/N allows publishing one example outright)",
                          1.0 / (double)n, (long long)n, dp->delta);
    const char *what = o->adv.mode != FOIL_ADV_NONE ? "adversarial training"
                       : o->teacher ? "distillation"
                       : o->temperature > 0 && o->temperature != 1 ? "a temperature"
                       : o->last_layer_only ? "fine-tuning"
                       : o->crop_pad > 0 || o->flip || o->noise_sigma > 0 ? "augmentation"
                       : o->checkpoint ? "checkpoints (the accounting of a resumed run would need the noise, clipping "
                                         "and sampling rate in the checkpoint, which does not keep them)"
                       : NULL;
    if (what) return foil_error(FOIL_ERR_UNSUPPORTED, "DP-SGD with %s is not supported", what);
    if (foilDistSize() > 1)
        return foil_error(FOIL_ERR_UNSUPPORTED, "DP-SGD does not share its work between MPI ranks yet; run it as one "
                          "process");
    if (m->fixed_batch)
        return foil_error(FOIL_ERR_UNSUPPORTED, "%s: the model's input fixes the batch size, and DP-SGD's Poisson "
                          "batches vary in size; export the model with a dynamic batch dimension", m->g->path);
    return FOIL_OK;
}

static foil_status check_options(const FoilGraphModel *m, const foil_dataset *d, const foil_train_options *o)
{
    if (o->epochs < 1 || o->epochs > 256) return foil_error(FOIL_ERR_ARG, "epochs must be between 1 and 256");
    if (o->batch < 1) return foil_error(FOIL_ERR_ARG, "batch size must be at least 1");
    if (o->optim.lr <= 0) return foil_error(FOIL_ERR_ARG, "learning rate must be positive");
    if (!(o->noise_sigma >= 0) || !isfinite(o->noise_sigma))
        return foil_error(FOIL_ERR_ARG, "the noise sigma must be a finite number >= 0, not %g", o->noise_sigma);
    if (d->x.ndim < 2 || d->x.shape[0] < 1) return foil_error(FOIL_ERR_ARG, "%s: no training examples", d->name);
    if (o->resume && !o->checkpoint) return foil_error(FOIL_ERR_ARG, "resuming needs a checkpoint file");
    if (m->fixed_batch && m->fixed_batch != o->batch)
        return foil_error(FOIL_ERR_ARG, "%s: the model's input fixes the batch size to %lld; train with that batch "
                          "size or export the model with a dynamic batch dimension", m->g->path,
                          (long long)m->fixed_batch);
    if (!(o->temperature >= 0) || o->temperature > 1000)
        return foil_error(FOIL_ERR_ARG, "the temperature must lie in (0, 1000], not %g", o->temperature);
    if (o->teacher && o->adv.mode != FOIL_ADV_NONE)
        return foil_error(FOIL_ERR_ARG, "distillation and adversarial training together are not supported");
    if (m->fixed_batch && o->adv.mode == FOIL_ADV_TRADES)
        return foil_error(FOIL_ERR_ARG, "%s: TRADES trains on clean and adversarial examples together (twice the "
                          "batch), which this model's fixed batch size does not allow", m->g->path);
    if (foilDistSize() > 1 && o->adv.mode != FOIL_ADV_NONE)
        return foil_error(FOIL_ERR_UNSUPPORTED, "adversarial training does not share its work between MPI ranks "
                          "yet; run it as one process");
    foil_status st = check_dp_options(m, d, o);
    return st ? st : check_adv_options(d, &o->adv, o->batch);
}

foil_status foil_train(foil_model *m, const foil_dataset *data, const foil_dataset *val, const foil_train_options *o,
                       foil_train_report *report)
{
    if (!m->ops->fit)
        return foil_error(FOIL_ERR_CAPABILITY, "%s: foil cannot train a %s model; train the ONNX model itself "
                          "(before wrapping it in defenses or serving it)", foil_model_name(m), foil_model_kind(m));
    return m->ops->fit(m->state, data, val, o, report);
}

/* A copy of every weight and statistic the model holds (its PARAM values:
 * weights and BatchNorm's running statistics), to go back to an earlier
 * epoch. */
typedef struct weights_copy {
    float *data;
    size_t floats;
} weights_copy;

static foil_status copy_weights(const FoilGraph *g, weights_copy *c)
{
    size_t floats = 0;
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].kind == FOIL_VALUE_PARAM) floats += (size_t)g->values[i].t.numel;
    if (!c->data) {
        c->data = malloc((floats ? floats : 1) * sizeof *c->data);
        if (!c->data) return foil_error(FOIL_ERR_NOMEM, "out of memory for a copy of the weights");
        c->floats = floats;
    }
    size_t at = 0;
    for (int i = 0; i < g->n_values; i++) {
        const FoilValue *v = &g->values[i];
        if (v->kind != FOIL_VALUE_PARAM) continue;
        memcpy(c->data + at, v->t.data, (size_t)v->t.numel * sizeof(float));
        at += (size_t)v->t.numel;
    }
    return FOIL_OK;
}

static void restore_weights(FoilGraph *g, const weights_copy *c)
{
    size_t at = 0;
    for (int i = 0; i < g->n_values; i++) {
        FoilValue *v = &g->values[i];
        if (v->kind != FOIL_VALUE_PARAM) continue;
        memcpy(v->t.data, c->data + at, (size_t)v->t.numel * sizeof(float));
        at += (size_t)v->t.numel;
    }
}

/* The first `count` rows of d's examples as a view (no copy). */
static foil_tensor rows_view(const foil_tensor *x, int64_t first, int64_t count)
{
    foil_tensor v = *x;
    const int64_t per = x->numel / x->shape[0];
    v.shape[0] = count;
    v.numel = count * per;
    v.data = (char *)x->data + (size_t)(first * per) * foil_dtype_size(x->dtype);
    v.owns_data = 0;
    return v;
}

/* Adversarial training's end-of-epoch measurements and decisions. */
typedef struct adv_epochs {
    const foil_adv_options *o;
    foil_tensor held_x, held_y, probe_x, probe_y; /* views into the training set */
    weights_copy best, previous;
    double best_robust, previous_probe_pgd;
    int64_t best_epoch;        /* -1: none yet */
} adv_epochs;

/* Robust accuracy on the held-out examples (PGD, full eps); for FGSM-RS
 * the probe's PGD and FGSM accuracies. 1 in *stop on catastrophic
 * overfitting: the probe's PGD accuracy fell more than 20 points in one
 * epoch (Wong et al. 2020 stop there and keep the epoch before), or its
 * FGSM accuracy is more than FGSM_PGD_GAP above its PGD accuracy. */
static foil_status measure_epoch(trainer *t, adv_epochs *ae, int64_t epoch, foil_epoch_stats *es, int *stop)
{
    const foil_adv_options *o = ae->o;
    const float *lo = foil_f32(&t->data->lower), *hi = foil_f32(&t->data->upper);
    uint64_t key = foil_rng_at(t->o->seed ^ ((uint64_t)STREAM_EVAL << 56), (uint64_t)epoch);
    int eval_steps = o->eval_steps > 0 ? o->eval_steps : 10;
    foil_status st = FOIL_OK;
    *stop = 0;
    es->eps = t->attack.eps;
    es->robust_accuracy = es->probe_pgd_accuracy = es->probe_fgsm_accuracy = -1;
    if (ae->held_x.data)
        st = foilAdvAccuracy(t->m, &ae->held_x, foil_i64(&ae->held_y), o->eps, 2.5f * o->eps / (float)eval_steps,
                             eval_steps, 1, lo, hi, key, &es->robust_accuracy);
    if (!st && o->mode == FOIL_ADV_FGSM_RS) {
        st = foilAdvAccuracy(t->m, &ae->probe_x, foil_i64(&ae->probe_y), o->eps, 0.25f * o->eps, 5, 1, lo, hi, key,
                             &es->probe_pgd_accuracy);
        if (!st)
            st = foilAdvAccuracy(t->m, &ae->probe_x, foil_i64(&ae->probe_y), o->eps, o->eps, 1, 0, lo, hi, key,
                                 &es->probe_fgsm_accuracy);
        /* Overfitting shows as PGD accuracy collapsing within an epoch, or,
         * when it sets in from the start, as a model that resists FGSM far
         * better than PGD: a robust model resists both about alike. */
        if (!st && ((epoch > 0 && es->probe_pgd_accuracy < ae->previous_probe_pgd - 0.2) ||
                    es->probe_fgsm_accuracy > es->probe_pgd_accuracy + FGSM_PGD_GAP))
            *stop = 1;
        if (!st && !*stop) {
            ae->previous_probe_pgd = es->probe_pgd_accuracy;
            st = copy_weights(t->gm->g, &ae->previous);
        }
    }
    if (!st && !*stop && o->keep_best && es->robust_accuracy > ae->best_robust) {
        ae->best_robust = es->robust_accuracy;
        ae->best_epoch = epoch;
        st = copy_weights(t->gm->g, &ae->best);
    }
    return st;
}

static void log_epoch(const foil_train_options *o, int64_t epoch, const foil_epoch_stats *es, int has_val)
{
    fprintf(stderr, "epoch %lld/%lld: loss %.4f, train accuracy %.2f%%", (long long)epoch + 1, (long long)o->epochs,
            es->train_loss, 100 * es->train_accuracy);
    if (has_val) fprintf(stderr, ", validation accuracy %.2f%%", 100 * es->val_accuracy);
    if (o->adv.mode != FOIL_ADV_NONE) fprintf(stderr, ", eps %g", es->eps);
    if (o->adv.mode != FOIL_ADV_NONE && es->robust_accuracy >= 0)
        fprintf(stderr, ", held-out PGD accuracy %.2f%%", 100 * es->robust_accuracy);
    if (o->adv.mode == FOIL_ADV_IBP) fprintf(stderr, ", kappa %.3g", es->kappa);
    if (o->adv.mode == FOIL_ADV_IBP && es->ibp_verified >= 0)
        fprintf(stderr, ", IBP-verified on training batches %.2f%%", 100 * es->ibp_verified);
    if (o->dp.enabled)
        fprintf(stderr, ", clipped %.1f%%, epsilon %.3g", 100 * es->dp_clipped, es->dp_epsilon);
    if (o->adv.mode != FOIL_ADV_NONE && es->probe_pgd_accuracy >= 0)
        fprintf(stderr, ", probe PGD/FGSM accuracy %.1f%%/%.1f%%", 100 * es->probe_pgd_accuracy,
                100 * es->probe_fgsm_accuracy);
    fprintf(stderr, ", %.1f s, %.0f img/s\n", es->seconds, es->images_per_second);
}

foil_status foilGraphModelFit(void *state, const foil_dataset *data, const foil_dataset *val,
                              const foil_train_options *o, foil_train_report *report)
{
    FoilGraphModel *gm = state;
    foil_model *m = gm->self;
    foil_status st = check_options(gm, data, o);
    if (st) return st;
    memset(report, 0, sizeof *report);
    report->resumed_epoch = -1;
    report->best_epoch = report->catastrophic_epoch = -1;
    trainer t = {0};
    t.m = m;
    t.gm = gm;
    t.data = data;
    t.o = o;
    const int64_t holdout = o->adv.mode != FOIL_ADV_NONE ? o->adv.holdout : 0;
    t.n = data->x.shape[0] - holdout; /* the held-out examples are the last ones */
    t.per_example = data->x.numel / data->x.shape[0];
    t.batch = o->batch < t.n ? o->batch : t.n;
    /* DP-SGD: Poisson batches of q N examples expected, round(N / batch) of them an epoch */
    t.steps_per_epoch = o->dp.enabled ? llround((double)t.n / (double)t.batch) : (t.n + t.batch - 1) / t.batch;
    if (t.steps_per_epoch < 1) t.steps_per_epoch = 1;
    /* rows of one batch: DP-SGD's chunks of its Poisson batches */
    const int64_t rows_cap = o->dp.enabled ? (t.n < DP_MAX_ROWS ? t.n : DP_MAX_ROWS) : t.batch;
    adv_epochs ae = {.o = &o->adv, .best_robust = -1, .previous_probe_pgd = -1, .best_epoch = -1};
    int64_t last_epoch = -1;
    if (holdout) {
        ae.held_x = rows_view(&data->x, t.n, holdout);
        ae.held_y = rows_view(&data->y, t.n, holdout);
    }
    int64_t probe = t.n < PROBE_EXAMPLES ? t.n : PROBE_EXAMPLES;
    ae.probe_x = rows_view(&data->x, 0, probe);
    ae.probe_y = rows_view(&data->y, 0, probe);
    t.perm = malloc((size_t)t.n * sizeof *t.perm);
    t.labels = malloc((size_t)rows_cap * sizeof *t.labels);
    t.loss = malloc((size_t)rows_cap * sizeof *t.loss);
    if (!t.perm || !t.labels || !t.loss) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    if (!st) st = init_optimizer(&t);
    const int64_t steps_per_epoch = t.steps_per_epoch, total_steps = steps_per_epoch * o->epochs;
    if (!st && o->dp.enabled) st = dp_setup(&t, rows_cap, total_steps, &report->dp);
    FoilCkptState ck = {o->seed, (uint64_t)o->batch, (uint64_t)t.n, 0, 0, 0, 0, 0, 0};
    if (!st && o->resume) {
        FILE *f = fopen(o->checkpoint, "rb");
        if (f) {
            fclose(f);
            st = foilCheckpointLoad(o->checkpoint, m, &t.opt, &ck);
            report->resumed_epoch = (int64_t)ck.epoch;
            report->resumed_step = (int64_t)ck.step_in_epoch;
        }
    }
    double start = foil_now();
    for (int64_t epoch = (int64_t)ck.epoch; !st && epoch < o->epochs; epoch++) {
        shuffle(&t, epoch);
        t.attack = foilAdvAttackAt(&o->adv, epoch, foil_f32(&data->lower), foil_f32(&data->upper));
        char label[48], status[96];
        snprintf(label, sizeof label, "epoch %lld/%lld", (long long)epoch + 1, (long long)o->epochs);
        foil_progress bar;
        const int speaker = foilDistRank() == 0; /* one rank draws, logs and checkpoints */
        foil_progress_start(&bar, label, t.n, "img", o->quiet || !speaker);
        double epoch_start = foil_now();
        int64_t first_step = (int64_t)ck.step_in_epoch, seen_before = (int64_t)ck.seen;
        t.ibp_verified = t.ibp_seen = 0;
        t.dp_clipped = 0;
        for (int64_t s = first_step; !st && s < steps_per_epoch; s++) {
            int64_t first = s * t.batch, b = t.n - first < t.batch ? t.n - first : t.batch;
            if (o->dp.enabled)
                st = dp_step(&t, epoch, (int64_t)ck.global_step, total_steps, &ck.loss_sum, &ck.correct, &b);
            else
                st = train_step(&t, epoch, first, b, (int64_t)ck.global_step, total_steps, &ck.loss_sum, &ck.correct);
            ck.seen += (uint64_t)b;
            ck.global_step++;
            ck.step_in_epoch = (uint64_t)s + 1;
            const double seen = ck.seen ? (double)ck.seen : 1.0; /* DP-SGD's batches may all be empty */
            snprintf(status, sizeof status, "loss %.4f acc %.2f%%", ck.loss_sum / seen,
                     100.0 * (double)ck.correct / seen);
            foil_progress_update(&bar, (int64_t)ck.seen, status);
            if (!st && o->checkpoint && o->checkpoint_every && ck.global_step % (uint64_t)o->checkpoint_every == 0 &&
                s + 1 < steps_per_epoch)
                st = foilDistAgree(speaker ? foilCheckpointSave(o->checkpoint, m, &t.opt, &ck) : FOIL_OK);
        }
        if (st) break;
        foil_epoch_stats *es = &report->epoch[report->epochs++];
        const double seen = ck.seen ? (double)ck.seen : 1.0;
        es->train_loss = ck.loss_sum / seen;
        es->train_accuracy = (double)ck.correct / seen;
        es->seconds = foil_now() - epoch_start;
        es->images_per_second = (double)((int64_t)ck.seen - seen_before) / es->seconds;
        es->val_accuracy = es->robust_accuracy = es->probe_pgd_accuracy = es->probe_fgsm_accuracy = -1;
        es->dp_clipped = es->dp_epsilon = -1;
        if (o->dp.enabled) {
            es->dp_clipped = (double)t.dp_clipped / seen;
            if ((st = dp_spent(&t, (int64_t)ck.global_step, &report->dp))) break;
            es->dp_epsilon = report->dp.epsilon;
        }
        if (val && (st = validation_accuracy(m, val, &es->val_accuracy))) break;
        int stop = 0;
        if (o->adv.mode != FOIL_ADV_NONE && (st = measure_epoch(&t, &ae, epoch, es, &stop))) break;
        es->kappa = t.kappa_now;
        es->ibp_verified = t.ibp_seen ? (double)t.ibp_verified / (double)t.ibp_seen : -1;
        if (o->adv.mode == FOIL_ADV_IBP) es->eps = t.eps_now;
        snprintf(status, sizeof status, "loss %.4f acc %.2f%%", es->train_loss, 100 * es->train_accuracy);
        foil_progress_finish(&bar, status);
        if (o->log_epochs && speaker) log_epoch(o, epoch, es, val != NULL);
        last_epoch = epoch;
        if (stop) {
            report->catastrophic_epoch = epoch;
            fprintf(stderr, "foil: catastrophic overfitting at epoch %lld: on %lld training examples the model resists "
                    "FGSM (%.1f%%) but not PGD (%.1f%%",
                    (long long)epoch + 1, (long long)probe, 100 * es->probe_fgsm_accuracy,
                    100 * es->probe_pgd_accuracy);
            if (!ae.previous.data) {
                fprintf(stderr, "); no earlier epoch of this run is worth keeping. Use a smaller --adv-step, a smaller "
                        "--eps or --adv pgd\n");
                st = foil_error(FOIL_ERR_RUNTIME, "FGSM-RS overfitted catastrophically in the first epoch it ran: "
                                "no model written");
                break;
            }
            restore_weights(gm->g, &ae.previous);
            fprintf(stderr, ", down from %.1f%%). Stopped, keeping epoch %lld's weights; use a smaller --adv-step, "
                    "fewer epochs or --adv pgd\n", 100 * ae.previous_probe_pgd, (long long)epoch);
            break;
        }
        ck.epoch = (uint64_t)epoch + 1;
        ck.step_in_epoch = 0;
        ck.loss_sum = 0;
        ck.correct = ck.seen = 0;
        if (o->checkpoint) st = foilDistAgree(speaker ? foilCheckpointSave(o->checkpoint, m, &t.opt, &ck) : FOIL_OK);
    }
    report->seconds = foil_now() - start;
    /* Early stopping against robust overfitting: end with the most robust
     * epoch's weights (also when catastrophic overfitting stopped the run). */
    report->best_epoch = ae.best_epoch;
    if (!st && ae.best_epoch >= 0 && (ae.best_epoch != last_epoch || report->catastrophic_epoch >= 0))
        restore_weights(gm->g, &ae.best);
    free(ae.best.data);
    free(ae.previous.data);
    free_trainer(&t);
    return st;
}
