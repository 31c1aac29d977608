/*
 * nn/optim.c - SGD with momentum and Adam; see foil/optim.h for the rules.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "foil/optim.h"

foil_optim_config foil_optim_defaults(foil_opt_kind kind)
{
    foil_optim_config c = {0};
    c.kind = kind;
    c.lr = kind == FOIL_OPT_ADAM ? 1e-3 : 0.05;
    c.momentum = 0.9;
    c.beta1 = 0.9;
    c.beta2 = 0.999;
    c.eps = 1e-8;
    c.schedule = FOIL_LR_CONSTANT;
    c.step_size = 1;
    c.gamma = 0.1;
    return c;
}

foil_status foil_optim_init(foil_optim *o, const foil_optim_config *cfg, int n, foil_tensor **params, foil_tensor **grads)
{
    memset(o, 0, sizeof *o);
    o->cfg = *cfg;
    o->n = n;
    o->params = malloc((size_t)(n ? n : 1) * sizeof *o->params);
    o->grads = malloc((size_t)(n ? n : 1) * sizeof *o->grads);
    o->state1 = calloc((size_t)(n ? n : 1), sizeof *o->state1);
    o->state2 = calloc((size_t)(n ? n : 1), sizeof *o->state2);
    if (!o->params || !o->grads || !o->state1 || !o->state2) {
        foil_optim_free(o);
        return foil_error(FOIL_ERR_NOMEM, "out of memory for the optimizer");
    }
    for (int i = 0; i < n; i++) {
        o->params[i] = params[i];
        o->grads[i] = grads[i];
        foil_status st = foil_tensor_alloc(&o->state1[i], FOIL_F32, params[i]->ndim, params[i]->shape);
        if (!st && cfg->kind == FOIL_OPT_ADAM)
            st = foil_tensor_alloc(&o->state2[i], FOIL_F32, params[i]->ndim, params[i]->shape);
        if (st) {
            foil_optim_free(o);
            return st;
        }
    }
    return FOIL_OK;
}

void foil_optim_free(foil_optim *o)
{
    for (int i = 0; o->state1 && i < o->n; i++) {
        foil_tensor_free(&o->state1[i]);
        foil_tensor_free(&o->state2[i]);
    }
    free(o->params);
    free(o->grads);
    free(o->state1);
    free(o->state2);
    memset(o, 0, sizeof *o);
}

static void sgd_update(float *w, const float *g, float *v, int64_t n, float lr, float mu, float wd, int first)
{
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i] + wd * w[i];
        v[i] = first ? gi : mu * v[i] + gi;
        w[i] -= lr * v[i];
    }
}

static void adam_update(float *w, const float *g, float *m, float *v, int64_t n, float lr, float b1, float b2,
                        float eps, float wd, float bias1, float bias2)
{
    float inv_sqrt_bias2 = 1.0f / sqrtf(bias2);
    float step = lr / bias1;
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i] + wd * w[i];
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        w[i] -= step * m[i] / (sqrtf(v[i]) * inv_sqrt_bias2 + eps);
    }
}

void foil_optim_step(foil_optim *o, double lr)
{
    const foil_optim_config *c = &o->cfg;
    o->step++;
    double bias1 = 1.0 - pow(c->beta1, (double)o->step), bias2 = 1.0 - pow(c->beta2, (double)o->step);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < o->n; i++) {
        float *w = foil_f32(o->params[i]);
        const float *g = foil_f32(o->grads[i]);
        int64_t n = o->params[i]->numel;
        if (c->kind == FOIL_OPT_SGD)
            sgd_update(w, g, foil_f32(&o->state1[i]), n, (float)lr, (float)c->momentum, (float)c->weight_decay,
                       o->step == 1 || c->momentum == 0);
        else
            adam_update(w, g, foil_f32(&o->state1[i]), foil_f32(&o->state2[i]), n, (float)lr, (float)c->beta1,
                        (float)c->beta2, (float)c->eps, (float)c->weight_decay, (float)bias1, (float)bias2);
    }
}

double foil_lr_at(const foil_optim_config *c, int64_t t, int64_t total_steps, int64_t epoch)
{
    switch (c->schedule) {
    case FOIL_LR_STEP: return c->lr * pow(c->gamma, (double)(epoch / (c->step_size > 0 ? c->step_size : 1)));
    case FOIL_LR_COSINE:
        return total_steps > 0 ? c->lr * 0.5 * (1.0 + cos(3.14159265358979323846 * (double)t / (double)total_steps)) : c->lr;
    default: return c->lr;
    }
}
