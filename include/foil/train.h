/*
 * foil/train.h - supervised training of a classifier (the `fit` of the
 * estimator): minibatch SGD or Adam on the mean softmax cross-entropy, with
 * seeded shuffling, optional image augmentation, per-epoch validation, and
 * checkpoints that a killed run resumes from exactly.
 *
 * Determinism: for a given seed and thread count, the data order, the
 * augmentation and dropout masks are functions of (seed, epoch, step) only,
 * so a run resumed from any checkpoint ends with the same weights, bit for
 * bit, as one that was never interrupted.
 */
#ifndef FOIL_TRAIN_H
#define FOIL_TRAIN_H

#include <stdint.h>

#include "foil/data.h"
#include "foil/model.h"
#include "foil/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Adversarial training (foil train --adv): each step trains on examples an
 * attack made from the batch, under the Linf budget eps.
 *   PGD      Madry et al. 2018: the batch replaced by PGD examples (random
 *            start, `steps` signed-gradient steps of `step`, projected).
 *   FGSM_RS  Wong, Rice and Kolter 2020 ("Fast is better than free"): one
 *            FGSM step of `step` (default 1.25 eps) from a uniform random
 *            start, projected; checked each epoch for catastrophic
 *            overfitting (see foil_epoch_stats).
 *   TRADES   Zhang et al. 2019: CE on the clean batch plus beta times the KL
 *            divergence between the model's clean and adversarial
 *            predictions, the adversarial examples maximizing that KL.
 *   IBP      Gowal et al. 2018: no attack; the loss is
 *            kappa CE(z, y) + (1 - kappa) CE(z_worst, y), z_worst the
 *            worst-case logits that interval bound propagation gives over
 *            the Linf box of radius eps_t around each example (its margin
 *            folded into the last Gemm). The schedule, per step: clean
 *            training (eps_t = 0, kappa = 1) for warmup_epochs, then eps_t
 *            grows linearly from 0 to train_eps and kappa from 1 to
 *            kappa_final over ramp_epochs, then both stay. Verify the model
 *            with foil/verify.h at eps.
 * Attack steps run the model in inference mode (dropout off, BatchNorm on
 * its running statistics), as ART's trainers do; training steps in training
 * mode. Everything random is keyed by (seed, epoch, step). */
typedef enum foil_adv_mode {
    FOIL_ADV_NONE = 0,
    FOIL_ADV_PGD,
    FOIL_ADV_FGSM_RS,
    FOIL_ADV_TRADES,
    FOIL_ADV_IBP
} foil_adv_mode;

typedef struct foil_adv_options {
    foil_adv_mode mode;
    float eps;                 /* Linf radius in input units (> 0) */
    float step;                /* 0: PGD and TRADES 2.5 eps / steps, FGSM-RS 1.25 eps */
    int steps;                 /* PGD, TRADES: attack steps per batch (0: 7 for PGD, 10 for TRADES) */
    float beta;                /* TRADES: weight of the KL term (0: 6, the paper's) */
    int64_t warmup_epochs;     /* eps grows linearly to its value over these epochs (0: from the start);
                                * IBP: epochs of clean training before the ramp (0: none) */
    int64_t holdout;           /* the last `holdout` training examples are held out (not trained on) to measure
                                * robust accuracy each epoch (0: none) */
    int eval_steps;            /* PGD steps of that measurement (0: 10) */
    int keep_best;             /* end with the weights of the epoch with the best held-out robust accuracy
                                * (early stopping against robust overfitting, Rice et al. 2020) */
    /* IBP (see above) */
    float train_eps;           /* the eps trained at after the ramp (0: eps; Gowal et al. train at 1.1 eps) */
    int64_t ramp_epochs;       /* epochs of the eps and kappa ramp (0: half the epochs after the warm-up, >= 1) */
    float kappa_final;         /* kappa after the ramp, in [0, 1] (foil_train_defaults: 0.5, the paper's) */
} foil_adv_options;

/* "pgd", "fgsm-rs", "trades", "ibp" -> mode; -1 for another name. */
int foil_adv_mode_parse(const char *name);
const char *foil_adv_mode_name(foil_adv_mode mode);

/* DP-SGD (Abadi et al. 2016; foil train --dp): each step takes a Poisson
 * sample of the training set (every example independently with
 * probability q = batch / N; round(N / batch) steps an epoch), clips each
 * example's gradient to L2 norm max_grad_norm (C), adds Gaussian noise of
 * standard deviation noise_multiplier * C to every coordinate of the sum,
 * divides by q N and steps (SGD or Adam). The privacy spent is (epsilon,
 * delta) by the RDP accountant of foil/privacy.h (Balle et al. 2020's
 * conversion) for q, sigma and the steps taken. Per-example gradients come
 * from two backward passes a step, not one per example (model/dp_sgd.h);
 * models must keep their examples apart: Conv, Gemm, MatMul and
 * elementwise weights, no BatchNormalization. Refused, since the
 * accounting would not hold or is not done: adversarial training,
 * distillation and temperature, fine-tuning, augmentation, checkpoints,
 * MPI ranks, models with a fixed batch size.
 * The noise and the batches are drawn from `seed`: the guarantee holds
 * only while the seed is secret (foil train --dp draws one from
 * /dev/urandom unless --seed is given). The generator is not a
 * cryptographic one, and floating-point Gaussian noise leaks through its
 * low bits (Mironov 2012); foil does not defend against either. */
typedef struct foil_dp_options {
    int enabled;
    double noise_multiplier;   /* sigma (> 0), or 0 to choose it from target_epsilon */
    double target_epsilon;     /* > 0 with noise_multiplier 0: the smallest sigma that spends at most this over
                                * the run (foil_dp_noise_for_epsilon) */
    double max_grad_norm;      /* C (> 0; foil_train_defaults: 1) */
    double delta;              /* in (0, 1/N) (foil_train_defaults: 1e-5) */
} foil_dp_options;

typedef struct foil_train_options {
    int64_t epochs;            /* default 2 */
    int64_t batch;             /* default 64 */
    foil_optim_config optim;
    int64_t crop_pad;          /* random crop after zero padding by this many pixels (0: off) */
    int flip;                  /* random horizontal flip with probability 1/2 */
    uint64_t seed;
    const char *checkpoint;    /* checkpoint file, or NULL for none */
    int64_t checkpoint_every;  /* also checkpoint every N steps (0: at epoch ends only) */
    int resume;                /* continue from `checkpoint` if it exists */
    int quiet;                 /* no progress bar */
    int log_epochs;            /* print one line per epoch on stderr */
    foil_adv_options adv;      /* adversarial training (mode FOIL_ADV_NONE: plain training) */
    /* Defensive distillation (Papernot et al. 2016): the loss is the
     * cross-entropy of softmax(z / temperature) (0 or 1: plain), against
     * the labels, or with a teacher against its soft labels softmax(teacher
     * logits / temperature), unscaled as in the paper (its gradients shrink
     * by 1 / temperature: Adam, which is blind to their scale, trains it
     * in few epochs). The model is written as trained: deployed at
     * temperature 1, its logits are `temperature` times those it learned
     * with, the saturated softmax that masks gradients (Carlini and Wagner
     * 2016). */
    float temperature;
    foil_model *teacher;       /* not owned; queried in inference mode on each clean batch */
    /* Gaussian noise augmentation for randomized smoothing (Cohen, Rosenfeld
     * and Kolter 2019): every training example gets x + noise_sigma * N(0, I),
     * not clipped, drawn afresh each epoch (0: off). Train at the sigma the
     * model will be certified at (foil/certify.h). */
    float noise_sigma;
    /* Fine-tuning as transfer learning does it: only the weights of the
     * linear layer that makes the logits (the Gemm, or MatMul and Add)
     * change; the rest of the model stays as it came and runs in inference
     * mode (BatchNorm on its running statistics, no dropout): a fixed
     * feature extractor, the victim poison frogs attack (Shafahi et al.
     * 2018). */
    int last_layer_only;
    foil_dp_options dp;        /* DP-SGD (dp.enabled 0: ordinary training) */
} foil_train_options;

typedef struct foil_epoch_stats {
    double train_loss;         /* mean over the epoch's examples */
    double train_accuracy;     /* on the (augmented) training batches, in training mode */
    double val_accuracy;       /* on the validation set, inference mode (-1: none) */
    double seconds;
    double images_per_second;
    /* adversarial training */
    double eps;                /* the epoch's eps (after warm-up) */
    double robust_accuracy;    /* PGD accuracy on the held-out examples (-1: none held out) */
    double probe_pgd_accuracy; /* FGSM-RS: PGD and FGSM accuracy on a fixed training probe batch ... */
    double probe_fgsm_accuracy;/* ... (-1 otherwise); a collapse of the first is catastrophic overfitting */
    double kappa;              /* IBP: kappa at the epoch's end (eps: its eps_t then) */
    double ibp_verified;       /* IBP: share of the epoch's training examples whose IBP bounds at that step's
                                * eps_t verify them (-1: not IBP, or eps_t was 0 throughout) */
    double dp_clipped;         /* DP-SGD: share of the epoch's examples whose gradient was clipped */
    double dp_epsilon;         /* DP-SGD: epsilon spent by the end of the epoch (at dp.delta) */
} foil_epoch_stats;

/* What a DP-SGD run spent, and the parameters it was accounted for. */
typedef struct foil_dp_report {
    double epsilon;            /* at delta, by Balle et al. 2020's conversion */
    double order;              /* the RDP order that gave it */
    double delta;
    double noise_multiplier;   /* sigma, given or chosen for the target epsilon */
    double sample_rate;        /* q */
    double max_grad_norm;      /* C */
    int64_t steps;             /* steps taken (the accounting's T) */
    int64_t examples;          /* N, the training examples sampled from */
} foil_dp_report;

typedef struct foil_train_report {
    int64_t epochs;            /* entries in `epoch` */
    foil_epoch_stats epoch[256];
    int64_t resumed_epoch;     /* -1 when the run did not resume */
    int64_t resumed_step;
    double seconds;
    int64_t best_epoch;        /* keep_best: the epoch (from 0) whose weights the model ends with (-1: last) */
    int64_t catastrophic_epoch;/* FGSM-RS: the epoch (from 0) where catastrophic overfitting was detected and
                                * training stopped, with the weights of the epoch before (-1: none) */
    foil_dp_report dp;         /* DP-SGD runs */
} foil_train_report;

/* 2 epochs, batch 64, SGD with momentum 0.9, lr 0.05 on a cosine schedule:
 * cnn-small reaches 90% on Fashion-MNIST with exactly this. */
void foil_train_defaults(foil_train_options *o);

/* Train m on `train`, validating on `val` (may be NULL) after each epoch. */
foil_status foil_train(foil_model *m, const foil_dataset *train, const foil_dataset *val, const foil_train_options *o,
                       foil_train_report *report);

#ifdef __cplusplus
}
#endif
#endif
