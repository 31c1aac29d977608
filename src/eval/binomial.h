/*
 * eval/binomial.h - the statistics randomized smoothing rests on
 * (binomial.c): binomial tails, the Clopper-Pearson bound, the binomial
 * test, and the standard normal quantile. Each is computed so that the
 * direction of its error is known: a certificate built on them must never
 * claim more than the data support.
 */
#ifndef FOIL_EVAL_BINOMIAL_H
#define FOIL_EVAL_BINOMIAL_H

#include <stdint.h>

/* P(X >= k) for X ~ Binomial(n, p), relative error below 1e-12 wherever
 * the value is below 1/2 (summed in long double from the term at k
 * outward); 0 <= k, p in [0, 1]. */
double foilBinomialUpperTail(int64_t k, int64_t n, double p);

/* The one-sided Clopper-Pearson lower confidence bound on p from k
 * successes in n trials at level 1 - alpha: the p at which
 * P(X >= k) = alpha, rounded down (the value returned is never above the
 * exact bound). 0 when k == 0; alpha in (0, 1/2). */
double foilClopperPearsonLower(int64_t k, int64_t n, double alpha);

/* The two-sided binomial test of k successes in n trials against p = 1/2
 * (scipy's binom_test(k, n, 0.5)): the probability of an outcome at least
 * as far from n/2 as k. 1 when n == 0. */
double foilBinomialTestHalf(int64_t k, int64_t n);

/* A lower bound on the standard normal quantile Phi^-1(p), p in (0, 1):
 * bisection on the tails 0.5 erfc(|z| / sqrt 2), each compared with a
 * relative margin far above libm's erfc error, so the result is below the
 * exact quantile by at most about 1e-9 and never above it. -inf at p <= 0,
 * +inf at p >= 1. */
double foilNormalQuantileBelow(double p);

#endif
