/*
 * eval/binomial.c - binomial tails, Clopper-Pearson, the binomial test and
 * a normal quantile, each erring on the known side (binomial.h).
 *
 * Why not a regularized incomplete beta by continued fraction, as most
 * libraries compute Clopper-Pearson: near the bound the wanted value is
 * alpha (say 1e-3) and the continued fraction's usual branch computes it as
 * 1 - I, losing digits to cancellation. Summing the binomial terms from k
 * outward in long double loses nothing: they fall geometrically, so a few
 * hundred terms reach 1e-30 of the sum, and each term comes from the last
 * by one exact-ratio multiplication.
 */
#include <math.h>

#include "eval/binomial.h"

/* log of the binomial term C(n, k) p^k (1-p)^(n-k), 0 < p < 1. */
static long double log_term(int64_t k, int64_t n, long double p)
{
    return lgammal((long double)n + 1) - lgammal((long double)k + 1) - lgammal((long double)(n - k) + 1) +
           (long double)k * logl(p) + (long double)(n - k) * log1pl(-p);
}

/* Sum of the terms from `from` in direction dir (+1 or -1) while they
 * matter: they decrease monotonically away from the mode, which lies
 * behind `from`. */
static long double tail_sum(int64_t from, int64_t n, long double p, int dir)
{
    long double term = expl(log_term(from, n, p)), sum = 0;
    const long double odds = p / (1 - p);
    for (int64_t j = from; j >= 0 && j <= n; j += dir) {
        sum += term;
        if (term < sum * 1e-30L) break;
        term *= dir > 0 ? (long double)(n - j) / (long double)(j + 1) * odds
                        : (long double)j / (long double)(n - j + 1) / odds;
    }
    return sum;
}

double foilBinomialUpperTail(int64_t k, int64_t n, double p)
{
    if (k <= 0) return 1;
    if (k > n) return 0;
    if (p <= 0) return 0;
    if (p >= 1) return 1;
    /* Above the mean the terms fall from k upwards; below it P(X >= k)
     * exceeds about 1/2 and is 1 - P(X <= k - 1), whose terms fall from
     * k - 1 downwards. */
    if ((long double)k >= (long double)n * p) return (double)tail_sum(k, n, p, +1);
    long double lower = tail_sum(k - 1, n, p, -1);
    return lower >= 1 ? 0 : (double)(1 - lower);
}

/* The bound is where P(X >= k | p) = alpha, increasing in p. The bisection
 * keeps `lo` where the tail is below alpha by more than any error of
 * foilBinomialUpperTail, so lo stays below the exact root. */
double foilClopperPearsonLower(int64_t k, int64_t n, double alpha)
{
    if (k <= 0 || n <= 0) return 0;
    if (k > n) k = n;
    const double target = alpha * (1 - 1e-9);
    double lo = 0, hi = (double)k / (double)n;
    for (int it = 0; it < 200 && hi - lo > 1e-17; it++) {
        double mid = 0.5 * (lo + hi);
        if (foilBinomialUpperTail(k, n, mid) < target) lo = mid;
        else hi = mid;
    }
    return lo;
}

double foilBinomialTestHalf(int64_t k, int64_t n)
{
    if (n <= 0) return 1;
    int64_t far = k > n - k ? k : n - k; /* the tail of whichever side k is on */
    if (2 * far == n) return 1;
    double p = 2 * foilBinomialUpperTail(far, n, 0.5);
    return p > 1 ? 1 : p;
}

/* Q(z) = P(N > z) = erfc(z / sqrt 2) / 2, accurate to a few ulps in glibc
 * for every z (the tail keeps its relative precision where 1 - Phi would
 * not). */
static double normal_upper(double z) { return 0.5 * erfc(z / 1.4142135623730951); }

double foilNormalQuantileBelow(double p)
{
    if (!(p > 0)) return -INFINITY;
    if (p >= 1) return INFINITY;
    /* z <= Phi^-1(p)  <=>  Q(z) >= 1 - p, tested as Q(z) (1 - 1e-12) >= 1 - p,
     * which a relative error of erfc below 1e-12 cannot make true wrongly.
     * 1 - p is exact for p >= 1/2 (Sterbenz); below, compare Phi(z) = Q(-z)
     * with p instead. */
    const double margin = 1e-12;
    double lo = -40, hi = 40;
    for (int it = 0; it < 200 && hi - lo > 1e-15; it++) {
        double mid = 0.5 * (lo + hi);
        int below = p >= 0.5 ? normal_upper(mid) * (1 - margin) >= 1 - p : normal_upper(-mid) * (1 + margin) <= p;
        if (below) lo = mid;
        else hi = mid;
    }
    return lo;
}
