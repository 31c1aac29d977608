/*
 * foil/privacy.h - differential privacy accounting for DP-SGD (Abadi et
 * al. 2016): the privacy a run of the sampled Gaussian mechanism spends,
 * by Renyi differential privacy (Mironov 2017; the sampled Gaussian
 * mechanism's RDP from Mironov, Talwar and Zhang 2019).
 *
 * One DP-SGD step with Poisson sampling at rate q (each example in the
 * batch independently with probability q), per-example gradients clipped
 * to L2 norm C and Gaussian noise of standard deviation sigma C added to
 * their sum, is the sampled Gaussian mechanism with noise multiplier
 * sigma. Its RDP at order alpha is log(A_alpha) / (alpha - 1), A_alpha the
 * expectation the paper gives in closed form for integer alpha and as a
 * series for fractional alpha; RDP adds up over steps; (epsilon, delta)
 * is the best over the orders of a conversion:
 *   classic     epsilon = rdp - log(delta) / (alpha - 1)          (Mironov 2017, Prop. 3;
 *               the TensorFlow Privacy tables of 2019 use it)
 *   balle2020   epsilon = rdp + log(1 - 1/alpha) - (log(delta) + log(alpha)) / (alpha - 1)
 *               (Balle et al. 2020, Thm. 21; Opacus's RDP accountant uses it; never larger)
 * The orders are Opacus's and TensorFlow Privacy's: 1.1, 1.2, ..., 10.9 and
 * 12, 13, ..., 63.
 *
 * The accounting is only right for Poisson sampling with add/remove-one
 * adjacency: a trainer that draws fixed-size shuffled batches must not
 * quote it.
 */
#ifndef FOIL_PRIVACY_H
#define FOIL_PRIVACY_H

#include <stdint.h>

#include "foil/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum foil_dp_conversion { FOIL_DP_BALLE2020 = 0, FOIL_DP_CLASSIC = 1 } foil_dp_conversion;

/* The RDP at order alpha > 1 of one step of the sampled Gaussian mechanism
 * (0 <= q <= 1, sigma > 0); INFINITY where it does not exist, NaN for
 * arguments out of range. */
double foil_rdp_sampled_gaussian(double q, double sigma, double alpha);

typedef struct foil_dp_spent {
    double epsilon;          /* the best over the orders */
    double order;            /* the order that gave it */
} foil_dp_spent;

/* The (epsilon, delta) of `steps` steps at sampling rate q and noise
 * multiplier sigma. FOIL_ERR_ARG names the argument out of range (q in
 * (0, 1], sigma > 0, steps >= 0, delta in (0, 1)). */
foil_status foil_dp_epsilon(double q, double sigma, int64_t steps, double delta, foil_dp_conversion conversion,
                            foil_dp_spent *spent);

/* The smallest noise multiplier whose run spends at most target_epsilon
 * (bisection to a relative 1e-4, rounded up so the target holds).
 * FOIL_ERR_ARG when no multiplier up to 1000 does. */
foil_status foil_dp_noise_for_epsilon(double q, int64_t steps, double delta, double target_epsilon,
                                      foil_dp_conversion conversion, double *sigma);

#ifdef __cplusplus
}
#endif
#endif
