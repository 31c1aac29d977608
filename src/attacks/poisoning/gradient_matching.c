/*
 * attacks/poisoning/gradient_matching.c - Witches' Brew (Geiping et al.
 * 2021): clean-label poisons whose training gradient points where the
 * target's adversarial gradient does, so that training on them moves the
 * model towards classifying one chosen test image as the intended class.
 *
 * With theta the weights of a model trained on clean data, x_t the target
 * image and y_adv the intended class:
 *   g   = d CE(f(x_t), y_adv) / d theta                      (fixed)
 *   G   = d sum_i CE(f(x_i + delta_i), y_i) / d theta        (the poisons, their own labels)
 *   J   = 1 - <G, g> / (|G| |g|)                             (minimized over delta)
 * with |delta_i|_inf <= eps and x_i + delta_i inside the input range. The
 * paper's recipe: signed Adam (the gradient's sign into Adam), step size
 * tau, decayed tenfold at 3/8, 5/8 and 7/8 of the steps, 250 steps, the
 * restart with the lowest J kept. With an ensemble of crafting models
 * (the paper's ensembles: the same architecture trained with other seeds,
 * so that the poisons do not depend on one model's initialization), J is
 * the mean of each model's J, and so is its gradient. Its tau is 0.1 in the normalized units of
 * CIFAR-10 (std about 0.25): 0.4 eps at its eps 16/255, which is what foil
 * uses at any eps. Its random start is Gaussian, clipped to the box; foil's
 * is uniform in the box. Like the reference code, foil augments the poisons
 * differentiably while brewing (--crop-pad, --flip: each step draws a new
 * crop and flip for every poison, J is taken at the augmented poisons and
 * its gradient carried back through the transform's adjoint), so that the
 * alignment holds for the augmented copies a victim trains on; the
 * reference shifts by fractions of a pixel (bilinear), foil by whole
 * pixels, as foil train augments.
 *
 * The gradient of J. dJ/dG = v = -(g / (|G||g|) - <G,g> G / (|G|^3 |g|)),
 * and dJ/d delta_i = d/dx <dCE(x_i)/dtheta, v>, a mixed second derivative.
 * The reference code gets it by double backpropagation; foil's engine has
 * first derivatives only, so foil takes it by central differences in weight
 * space: <dCE/dtheta, v> = d/ds CE(x; theta + s v) at s = 0, hence
 *   dJ/d delta_i = (dCE(x_i; theta + h v)/dx - dCE(x_i; theta - h v)/dx) / 2h,
 * two input-gradient passes, with h v one thousandth of |theta| (error
 * O(h^2) where the network is smooth; a ReLU that changes sign inside the
 * step adds a bounded error, rare at that size). tests/test_poison.c checks
 * the result against differences of J itself.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attacks/poisoning/poisoning_internal.h"
#include "data/augment.h"
#include "foil/optim.h"
#include "foil/progress.h"
#include "foil/rng.h"

enum { STREAM_START = 7, STREAM_AUGMENT = 8 };

/* The weight step of the central difference, as a share of |theta|. */
#define WEIGHT_STEP 1e-3

/* One crafting model: its weights and the vectors of the objective in its
 * weight space. */
typedef struct Crafter {
    foil_model *model;
    int64_t P;                 /* weights */
    float *theta, *g, *G, *v;  /* P each: the weights, the target's gradient, the poisons', dJ/dG */
    float *shifted;            /* P: theta + s v, the weights of a difference's side */
    double g_norm;
} Crafter;

typedef struct Brew {
    int64_t n, F;              /* poisons, values per example */
    const float *clean;        /* (n, F) the poisons before the attack */
    const float *lower, *upper;/* F each */
    const int64_t *labels;     /* n */
    float eps;
    Crafter *crafters;         /* the crafting models: J is the mean of theirs (the paper's ensembles) */
    int64_t n_crafters;
    foil_tensor x;             /* (n, ...) the poisons now, as the crafters see them (augmented) */
    foil_tensor grad_plus, grad_minus;
    int64_t crop_pad;          /* augmentation while brewing (0 and 0: none) */
    int flip;
    int64_t C, H, W;           /* an image's shape, when augmenting */
    float *placed;             /* (n, F) clean + delta, clipped, before augmentation */
    float *d_augmented;        /* (n, F) dJ/dx at the augmented poisons */
    FoilAugmentDraw *draws;    /* n: this step's augmentation of each poison */
} Brew;

static double dot(const float *a, const float *b, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static int augmenting(const Brew *b)
{
    return b->crop_pad > 0 || b->flip;
}

/* x = clip(clean + delta) into the input range (b->x; when augmenting,
 * b->placed, and b->x its augmented copy, drawn by augment_step). */
static void place(Brew *b, const float *delta)
{
    float *x = augmenting(b) ? b->placed : foil_f32(&b->x);
    for (int64_t i = 0; i < b->n; i++)
        for (int64_t f = 0; f < b->F; f++) {
            float t = b->clean[i * b->F + f] + delta[i * b->F + f];
            x[i * b->F + f] = fminf(fmaxf(t, b->lower[f]), b->upper[f]);
        }
}

/* b->x: the placed poisons, each augmented by a draw from (seed, restart,
 * step); without augmentation b->x already holds them. */
static void augment_step(Brew *b, uint64_t seed, int64_t r, int64_t step)
{
    if (!augmenting(b)) return;
    float *x = foil_f32(&b->x);
    foil_rng rng = foil_rng_make(seed, ((uint64_t)STREAM_AUGMENT << 56) | ((uint64_t)r << 40) | (uint64_t)step);
    for (int64_t i = 0; i < b->n; i++) {
        b->draws[i] = foilAugmentDraw(&rng, b->crop_pad, b->flip);
        foilAugmentApply(b->placed + i * b->F, x + i * b->F, b->C, b->H, b->W, b->draws[i]);
    }
}

/* The poisons unaugmented in b->x, for J as the victim sees them at last. */
static void unaugmented(Brew *b)
{
    if (augmenting(b)) memcpy(b->x.data, b->placed, (size_t)(b->n * b->F) * sizeof(float));
}

/* One crafter's J at the poisons in b->x; with v wanted, dJ/dG into c->v. */
static foil_status matching_loss(Brew *b, Crafter *c, double *J, int want_v)
{
    foil_status st = foil_model_loss_param_grad(c->model, &b->x, b->labels, NULL, c->G);
    if (st) return st;
    double gG = dot(c->g, c->G, c->P), G_norm = sqrt(dot(c->G, c->G, c->P));
    if (!(G_norm > 0)) return foil_error(FOIL_ERR_RUNTIME, "gradient matching: the poisons' gradient is zero");
    *J = 1 - gG / (G_norm * c->g_norm);
    if (!want_v) return FOIL_OK;
    const double a = 1 / (G_norm * c->g_norm), k = gG / (G_norm * G_norm * G_norm * c->g_norm);
    for (int64_t i = 0; i < c->P; i++) c->v[i] = (float)(-(a * c->g[i] - k * c->G[i]));
    return FOIL_OK;
}

/* The input gradient of the poisons' summed loss at theta + s v, into out. */
static foil_status input_grad_at(Brew *b, Crafter *c, double s, foil_tensor *out)
{
    for (int64_t i = 0; i < c->P; i++) c->shifted[i] = (float)(c->theta[i] + s * c->v[i]);
    foil_status st = foil_model_params_set(c->model, c->shifted);
    if (!st) st = foil_model_loss_input_grad(c->model, &b->x, b->labels, NULL, NULL, out);
    foil_status restored = foil_model_params_set(c->model, c->theta);
    return st ? st : restored;
}

/* One crafter's J, and its dJ/d x at the poisons in b->x added to dJ. */
static foil_status add_crafter_gradient(Brew *b, Crafter *c, double *J, float *dJ)
{
    foil_status st = matching_loss(b, c, J, 1);
    if (st) return st;
    double v_norm = sqrt(dot(c->v, c->v, c->P)), theta_norm = sqrt(dot(c->theta, c->theta, c->P));
    double h = WEIGHT_STEP * (theta_norm > 0 ? theta_norm : 1) / (v_norm > 0 ? v_norm : 1);
    if ((st = input_grad_at(b, c, h, &b->grad_plus)) || (st = input_grad_at(b, c, -h, &b->grad_minus))) return st;
    const float *p = foil_f32(&b->grad_plus), *m = foil_f32(&b->grad_minus);
    for (int64_t k = 0; k < b->n * b->F; k++) dJ[k] += (float)((p[k] - m[k]) / (2 * h));
    return FOIL_OK;
}

/* J, the crafters' mean, and dJ/d x (the sum of theirs: only its sign is
 * used) at the poisons in b->x. */
static foil_status matching_gradient(Brew *b, double *J, float *dJ)
{
    memset(dJ, 0, (size_t)(b->n * b->F) * sizeof *dJ);
    *J = 0;
    for (int64_t i = 0; i < b->n_crafters; i++) {
        double Ji = 0;
        foil_status st = add_crafter_gradient(b, &b->crafters[i], &Ji, dJ);
        if (st) return st;
        *J += Ji / (double)b->n_crafters;
    }
    return FOIL_OK;
}

/* J, the crafters' mean, at the poisons in b->x. */
static foil_status mean_matching_loss(Brew *b, double *J)
{
    *J = 0;
    for (int64_t i = 0; i < b->n_crafters; i++) {
        double Ji = 0;
        foil_status st = matching_loss(b, &b->crafters[i], &Ji, 0);
        if (st) return st;
        *J += Ji / (double)b->n_crafters;
    }
    return FOIL_OK;
}

/* The multistep decay of the paper's schedule. */
static double step_size(double tau, int64_t step, int64_t steps)
{
    double lr = tau;
    if (step >= (int64_t)(steps / 2.667)) lr *= 0.1;
    if (step >= (int64_t)(steps / 1.6)) lr *= 0.1;
    if (step >= (int64_t)(steps / 1.142)) lr *= 0.1;
    return lr;
}

/* Project delta: |delta| <= eps and clean + delta inside the range. */
static void project(const Brew *b, float *delta)
{
    for (int64_t i = 0; i < b->n; i++)
        for (int64_t f = 0; f < b->F; f++) {
            float *d = &delta[i * b->F + f], c = b->clean[i * b->F + f];
            *d = fminf(fmaxf(*d, -b->eps), b->eps);
            *d = fminf(fmaxf(*d, b->lower[f] - c), b->upper[f] - c);
        }
}

/* One restart from a uniform start drawn from (seed, r): delta and its J;
 * bar counts the steps of every restart. */
static foil_status brew_once(Brew *b, int64_t steps, uint64_t seed, int64_t r, foil_tensor *delta, double *J,
                             foil_progress *bar)
{
    float *d = foil_f32(delta);
    foil_rng rng = foil_rng_make(seed, STREAM_START + (uint64_t)r);
    for (int64_t k = 0; k < b->n * b->F; k++) d[k] = b->eps * (2 * foil_rng_uniform(&rng) - 1);
    project(b, d);
    foil_tensor grad = {0};
    foil_status st = foil_tensor_alloc(&grad, FOIL_F32, delta->ndim, delta->shape);
    foil_optim opt = {0};
    foil_optim_config cfg = foil_optim_defaults(FOIL_OPT_ADAM);
    foil_tensor *params[1] = {delta}, *grads[1] = {&grad};
    if (!st) st = foil_optim_init(&opt, &cfg, 1, params, grads);
    for (int64_t s = 0; !st && s < steps; s++) {
        place(b, d);
        augment_step(b, seed, r, s);
        float *gr = foil_f32(&grad);
        if ((st = matching_gradient(b, J, augmenting(b) ? b->d_augmented : gr))) break;
        for (int64_t i = 0; augmenting(b) && i < b->n; i++)
            foilAugmentAdjoint(b->d_augmented + i * b->F, gr + i * b->F, b->C, b->H, b->W, b->draws[i]);
        for (int64_t k = 0; k < b->n * b->F; k++) gr[k] = (float)((gr[k] > 0) - (gr[k] < 0));
        foil_optim_step(&opt, step_size(0.4 * b->eps, s, steps));
        project(b, d);
        char status[48];
        snprintf(status, sizeof status, "1 - cos %.3f", *J);
        foil_progress_update(bar, r * steps + s + 1, status);
    }
    place(b, d);
    unaugmented(b);
    if (!st) st = mean_matching_loss(b, J);
    foil_optim_free(&opt);
    foil_tensor_free(&grad);
    return st;
}

static void crafter_free(Crafter *c)
{
    free(c->theta), free(c->g), free(c->G), free(c->v), free(c->shifted);
}

static void brew_free(Brew *b)
{
    for (int64_t i = 0; b->crafters && i < b->n_crafters; i++) crafter_free(&b->crafters[i]);
    free(b->crafters);
    foil_tensor_free(&b->x), foil_tensor_free(&b->grad_plus), foil_tensor_free(&b->grad_minus);
    free(b->placed), free(b->d_augmented), free(b->draws);
}

/* c for model: its weights, the target's gradient g for class y_adv, the
 * buffers. target: the target image, (1, ...). */
static foil_status crafter_init(Crafter *c, foil_model *model, const foil_tensor *target, int64_t y_adv)
{
    c->model = model;
    foil_status st = foil_model_param_count(model, &c->P);
    if (st) return st;
    c->theta = malloc((size_t)c->P * sizeof *c->theta), c->g = malloc((size_t)c->P * sizeof *c->g);
    c->G = malloc((size_t)c->P * sizeof *c->G), c->v = malloc((size_t)c->P * sizeof *c->v);
    c->shifted = malloc((size_t)c->P * sizeof *c->shifted);
    if (!c->theta || !c->g || !c->G || !c->v || !c->shifted) return foil_error(FOIL_ERR_NOMEM, "out of memory for gradient matching");
    if ((st = foil_model_params_get(model, c->theta))) return st;
    st = foil_model_loss_param_grad(model, target, &y_adv, NULL, c->g);
    if (st) return foil_error_prefix(st, "gradient matching: the target's gradient");
    c->g_norm = sqrt(dot(c->g, c->g, c->P));
    if (!(c->g_norm > 0))
        return foil_error(FOIL_ERR_ARG, "gradient matching: the target's loss for class %lld has a zero gradient (the "
                          "model already gives it that class with certainty)", (long long)y_adv);
    return FOIL_OK;
}

/* Everything but the poisons' clean values and range: a crafter for each
 * of models, the buffers; b->x shaped like `like` with n rows. */
static foil_status brew_init(Brew *b, foil_model *const *models, int64_t n_models, const foil_tensor *like, int64_t n,
                             const float *target_x, int64_t y_adv)
{
    b->n = n;
    b->F = like->numel / (like->shape[0] ? like->shape[0] : 1);
    b->crafters = calloc((size_t)n_models, sizeof *b->crafters);
    if (!b->crafters) return foil_error(FOIL_ERR_NOMEM, "out of memory for gradient matching");
    b->n_crafters = n_models;
    int64_t shape[FOIL_MAX_DIMS];
    memcpy(shape, like->shape, sizeof shape);
    shape[0] = n;
    foil_status st = foil_tensor_alloc(&b->x, FOIL_F32, like->ndim, shape);
    if (st) return st;
    shape[0] = 1;
    foil_tensor target = {0};
    if ((st = foil_tensor_alloc(&target, FOIL_F32, like->ndim, shape))) return st;
    memcpy(target.data, target_x, (size_t)b->F * sizeof(float));
    for (int64_t i = 0; !st && i < n_models; i++) {
        st = crafter_init(&b->crafters[i], models[i], &target, y_adv);
        if (st && n_models > 1) st = foil_error_prefix(st, "crafting model %lld", (long long)i + 1);
    }
    foil_tensor_free(&target);
    return st;
}

/* The brew's augmentation (o->crop_pad, o->flip, checked by poison.c's
 * check: images only) and its buffers. */
static foil_status augmentation_init(Brew *b, const foil_poison_options *o, const foil_tensor *x)
{
    if (o->crop_pad <= 0 && !o->flip) return FOIL_OK;
    b->crop_pad = o->crop_pad, b->flip = o->flip;
    b->C = x->shape[1], b->H = x->shape[2], b->W = x->shape[3];
    size_t values = (size_t)(b->n ? b->n : 1) * (size_t)b->F;
    b->placed = malloc(values * sizeof *b->placed), b->d_augmented = malloc(values * sizeof *b->d_augmented);
    b->draws = malloc((size_t)(b->n ? b->n : 1) * sizeof *b->draws);
    if (!b->placed || !b->d_augmented || !b->draws) return foil_error(FOIL_ERR_NOMEM, "out of memory for gradient matching");
    return FOIL_OK;
}

foil_status foilGradientMatchingObjective(foil_model *model, const foil_tensor *x, const int64_t *labels,
                                          const float *target_x, int64_t y_adv, double *J, float *dJ)
{
    Brew b = {0};
    foil_status st = brew_init(&b, &model, 1, x, x->shape[0], target_x, y_adv);
    if (!st) {
        memcpy(b.x.data, x->data, foil_tensor_nbytes(x));
        b.labels = labels;
        st = dJ ? matching_gradient(&b, J, dJ) : mean_matching_loss(&b, J);
    }
    brew_free(&b);
    return st;
}

foil_status foilGradientMatching(const foil_poison_options *o, const foil_poison_manifest *m, foil_dataset *poisoned,
                                 double *objective)
{
    const int64_t F = foil_dataset_example_size(poisoned), n = m->n;
    if (!poisoned->lower.data || !poisoned->upper.data)
        return foil_error(FOIL_ERR_ARG, "gradient matching: %s has no input range", poisoned->name);
    if (o->ensemble_size < 0 || o->ensemble_size >= FOIL_ENSEMBLE_MAX || (o->ensemble_size && !o->ensemble))
        return foil_error(FOIL_ERR_ARG, "gradient matching: %lld more crafting models (0 to %d)",
                          (long long)o->ensemble_size, FOIL_ENSEMBLE_MAX - 1);
    foil_model *models[FOIL_ENSEMBLE_MAX] = {o->model};
    for (int64_t i = 0; i < o->ensemble_size; i++) models[i + 1] = o->ensemble[i];
    Brew b = {0};
    float *clean = malloc((size_t)(n ? n : 1) * (size_t)F * sizeof *clean);
    foil_tensor delta = {0}, best = {0};
    foil_status st = clean ? FOIL_OK : foil_error(FOIL_ERR_NOMEM, "out of memory for gradient matching");
    if (!st) st = brew_init(&b, models, 1 + o->ensemble_size, &poisoned->x, n, o->target_x, o->target);
    if (!st) st = foil_tensor_alloc(&delta, FOIL_F32, b.x.ndim, b.x.shape);
    if (!st) st = foil_tensor_alloc(&best, FOIL_F32, b.x.ndim, b.x.shape);
    for (int64_t k = 0; !st && k < n; k++)
        memcpy(clean + k * F, foil_f32(&poisoned->x) + m->index[k] * F, (size_t)F * sizeof *clean);
    b.clean = clean, b.labels = m->label_before, b.eps = (float)(o->eps ? o->eps : 16.0 / 255);
    b.lower = foil_f32(&poisoned->lower), b.upper = foil_f32(&poisoned->upper);
    if (!st) st = augmentation_init(&b, o, &poisoned->x);
    const int64_t restarts = o->restarts ? o->restarts : 8, steps = o->steps ? o->steps : 250;
    double best_J = INFINITY;
    foil_progress bar;
    foil_progress_start(&bar, b.n_crafters > 1 ? "gradient matching (ensemble)" : "gradient matching", restarts * steps,
                        "steps", o->quiet);
    for (int64_t r = 0; !st && n && r < restarts; r++) {
        double J;
        if ((st = brew_once(&b, steps, o->seed, r, &delta, &J, &bar))) break;
        if (J < best_J) best_J = J, memcpy(best.data, delta.data, foil_tensor_nbytes(&delta));
    }
    foil_progress_finish(&bar, NULL);
    if (!st && n) {
        place(&b, foil_f32(&best));
        unaugmented(&b);
        for (int64_t k = 0; k < n; k++)
            memcpy(foil_f32(&poisoned->x) + m->index[k] * F, foil_f32(&b.x) + k * F, (size_t)F * sizeof(float));
    }
    *objective = n ? best_J : NAN;
    brew_free(&b);
    foil_tensor_free(&delta), foil_tensor_free(&best);
    free(clean);
    return st;
}
