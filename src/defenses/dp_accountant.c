/*
 * defenses/dp_accountant.c - the RDP accountant of the sampled Gaussian
 * mechanism (foil/privacy.h), in log space throughout: A_alpha for large
 * orders and small sigma is far beyond a double.
 */
#include <math.h>

#include "foil/privacy.h"

#define LOG_PI 1.1447298858494002 /* log(pi) */

/* log(e^a + e^b) */
static double log_add(double a, double b)
{
    double lo = a < b ? a : b, hi = a < b ? b : a;
    if (lo == -INFINITY) return hi;
    return hi + log1p(exp(lo - hi));
}

/* log(e^a - e^b), a >= b (the series' partial sums stay positive). */
static double log_sub(double a, double b)
{
    if (b == -INFINITY) return a;
    if (!(a > b)) return -INFINITY;
    return b + log(expm1(a - b));
}

/* log(erfc(x)), accurate where erfc(x) underflows: the asymptotic series
 * erfc(x) ~ exp(-x^2) / (x sqrt(pi)) (1 - 1/(2x^2) + 3/(4x^4) - ...) in
 * log form, as TensorFlow Privacy takes it. */
static double log_erfc(double x)
{
    double r = erfc(x);
    if (r > 1e-300) return log(r);
    return -0.5 * LOG_PI - log(x) - x * x - 0.5 / (x * x) + 0.625 / pow(x, 4) - 37.0 / 24.0 / pow(x, 6) +
           353.0 / 64.0 / pow(x, 8);
}

/* log A_alpha for integer alpha: the binomial expansion
 * A = sum_k C(alpha, k) (1 - q)^(alpha - k) q^k exp((k^2 - k) / (2 sigma^2)). */
static double log_a_int(double q, double sigma, int64_t alpha)
{
    double log_a = -INFINITY;
    for (int64_t k = 0; k <= alpha; k++) {
        const double log_binom = lgamma((double)alpha + 1) - lgamma((double)k + 1) - lgamma((double)(alpha - k) + 1);
        const double s = log_binom + (double)k * log(q) + (double)(alpha - k) * log1p(-q) +
                         ((double)k * (double)k - (double)k) / (2 * sigma * sigma);
        log_a = log_add(log_a, s);
    }
    return log_a;
}

/* log A_alpha for fractional alpha: the two halves of the integral, split
 * at z0 where the two Gaussians' densities cross, each an alternating
 * series in the generalized binomial coefficients, summed until a term
 * falls below e^-30 (Mironov, Talwar and Zhang 2019, Sec. 3.3). */
static double log_a_frac(double q, double sigma, double alpha)
{
    double log_a0 = -INFINITY, log_a1 = -INFINITY;
    const double z0 = sigma * sigma * log(1 / q - 1) + 0.5;
    double log_coef = 0; /* log |C(alpha, i)|, carried from i to i + 1 */
    int negative = 0;
    for (int64_t i = 0; i < 100000; i++) {
        const double j = alpha - (double)i;
        const double log_t0 = log_coef + (double)i * log(q) + j * log1p(-q);
        const double log_t1 = log_coef + j * log(q) + (double)i * log1p(-q);
        const double log_e0 = log(0.5) + log_erfc(((double)i - z0) / (sqrt(2) * sigma));
        const double log_e1 = log(0.5) + log_erfc((z0 - j) / (sqrt(2) * sigma));
        const double log_s0 = log_t0 + ((double)i * (double)i - (double)i) / (2 * sigma * sigma) + log_e0;
        const double log_s1 = log_t1 + (j * j - j) / (2 * sigma * sigma) + log_e1;
        if (!negative) log_a0 = log_add(log_a0, log_s0), log_a1 = log_add(log_a1, log_s1);
        else log_a0 = log_sub(log_a0, log_s0), log_a1 = log_sub(log_a1, log_s1);
        if (fmax(log_s0, log_s1) < -30) break;
        /* C(alpha, i + 1) = C(alpha, i) (alpha - i) / (i + 1) */
        log_coef += log(fabs(j)) - log((double)i + 1);
        if (j < 0) negative = !negative;
    }
    return log_add(log_a0, log_a1);
}

double foil_rdp_sampled_gaussian(double q, double sigma, double alpha)
{
    if (!(q >= 0 && q <= 1) || !(sigma > 0) || !(alpha > 1)) return NAN;
    if (q == 0) return 0;
    if (q == 1) return alpha / (2 * sigma * sigma);
    if (isinf(alpha)) return INFINITY;
    const double log_a = alpha == floor(alpha) && alpha < 1e6 ? log_a_int(q, sigma, (int64_t)alpha)
                                                              : log_a_frac(q, sigma, alpha);
    return log_a / (alpha - 1);
}

/* Opacus's and TensorFlow Privacy's orders: 1.1 to 10.9 by 0.1, 12 to 63. */
enum { N_ORDERS = 99 + 52 };

static double order_at(int k)
{
    return k < 99 ? 1 + (k + 1) / 10.0 : 12 + (k - 99);
}

static double epsilon_at(double rdp, double alpha, double delta, foil_dp_conversion conversion)
{
    if (conversion == FOIL_DP_CLASSIC) return rdp - log(delta) / (alpha - 1);
    return rdp + log1p(-1 / alpha) - (log(delta) + log(alpha)) / (alpha - 1);
}

foil_status foil_dp_epsilon(double q, double sigma, int64_t steps, double delta, foil_dp_conversion conversion,
                            foil_dp_spent *spent)
{
    if (!(q > 0 && q <= 1)) return foil_error(FOIL_ERR_ARG, "DP accounting: the sampling rate %g is not in (0, 1]", q);
    if (!(sigma > 0)) return foil_error(FOIL_ERR_ARG, "DP accounting: the noise multiplier %g is not positive", sigma);
    if (steps < 0) return foil_error(FOIL_ERR_ARG, "DP accounting: %lld steps", (long long)steps);
    if (!(delta > 0 && delta < 1)) return foil_error(FOIL_ERR_ARG, "DP accounting: delta %g is not in (0, 1)", delta);
    spent->epsilon = INFINITY, spent->order = NAN;
    for (int k = 0; k < N_ORDERS; k++) {
        const double alpha = order_at(k), rdp = (double)steps * foil_rdp_sampled_gaussian(q, sigma, alpha);
        const double eps = epsilon_at(rdp, alpha, delta, conversion);
        if (eps < spent->epsilon) spent->epsilon = eps, spent->order = alpha;
    }
    if (spent->epsilon < 0) spent->epsilon = 0;
    return FOIL_OK;
}

foil_status foil_dp_noise_for_epsilon(double q, int64_t steps, double delta, double target_epsilon,
                                      foil_dp_conversion conversion, double *sigma)
{
    if (!(target_epsilon > 0)) return foil_error(FOIL_ERR_ARG, "DP accounting: target epsilon %g", target_epsilon);
    foil_dp_spent s;
    double lo = 0.01, hi = 1000;
    foil_status st = foil_dp_epsilon(q, hi, steps, delta, conversion, &s);
    if (st) return st;
    if (s.epsilon > target_epsilon)
        return foil_error(FOIL_ERR_ARG, "DP accounting: even noise multiplier %g spends epsilon %g > %g", hi,
                          s.epsilon, target_epsilon);
    while (hi - lo > 1e-4 * hi) { /* epsilon falls as sigma grows */
        const double mid = 0.5 * (lo + hi);
        if ((st = foil_dp_epsilon(q, mid, steps, delta, conversion, &s))) return st;
        if (s.epsilon > target_epsilon) lo = mid;
        else hi = mid;
    }
    *sigma = hi;
    return FOIL_OK;
}
