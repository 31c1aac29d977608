/*
 * foil/optim.h - optimizers and learning-rate schedules, with PyTorch's
 * update rules so that a recipe carries over unchanged.
 *
 *   SGD (momentum mu, weight decay wd, as torch.optim.SGD):
 *       g <- g + wd * w;  v <- mu * v + g  (v = g on the first step);  w <- w - lr * v
 *   Adam (Kingma and Ba 2015, as torch.optim.Adam; wd is L2 added to g):
 *       g <- g + wd * w;  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
 *       w <- w - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 *
 * Schedules give the learning rate for step t of T (0-based):
 *   constant: lr;  step: lr * gamma^floor(epoch / step_size);
 *   cosine (Loshchilov and Hutter 2017, no restarts): lr * (1 + cos(pi t / T)) / 2
 */
#ifndef FOIL_OPTIM_H
#define FOIL_OPTIM_H

#include <stdint.h>

#include "foil/status.h"
#include "foil/tensor.h"

typedef enum { FOIL_OPT_SGD = 0, FOIL_OPT_ADAM = 1 } foil_opt_kind;
typedef enum { FOIL_LR_CONSTANT = 0, FOIL_LR_STEP = 1, FOIL_LR_COSINE = 2 } foil_lr_schedule;

typedef struct foil_optim_config {
    foil_opt_kind kind;
    double lr, momentum, weight_decay;
    double beta1, beta2, eps;            /* Adam: 0.9, 0.999, 1e-8 */
    foil_lr_schedule schedule;
    int64_t step_size;                   /* epochs, for FOIL_LR_STEP */
    double gamma;                        /* decay, for FOIL_LR_STEP */
} foil_optim_config;

typedef struct foil_optim {
    foil_optim_config cfg;
    int n;                               /* parameters */
    foil_tensor **params, **grads;       /* not owned */
    foil_tensor *state1, *state2;        /* momentum / Adam moments, owned */
    int64_t step;                        /* updates done */
} foil_optim;

/* Defaults: SGD lr 0.05 momentum 0.9; Adam lr 1e-3 betas (0.9, 0.999) eps 1e-8;
 * constant learning rate. */
foil_optim_config foil_optim_defaults(foil_opt_kind kind);

foil_status foil_optim_init(foil_optim *o, const foil_optim_config *cfg, int n, foil_tensor **params,
                            foil_tensor **grads);
void foil_optim_free(foil_optim *o);

/* One update with learning rate lr (from foil_lr_at). */
void foil_optim_step(foil_optim *o, double lr);

/* Learning rate for global step t (0-based) of total_steps, in epoch `epoch`. */
double foil_lr_at(const foil_optim_config *cfg, int64_t t, int64_t total_steps, int64_t epoch);

#endif
