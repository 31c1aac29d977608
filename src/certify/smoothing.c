/*
 * certify/smoothing.c - randomized smoothing's PREDICT and CERTIFY (Cohen,
 * Rosenfeld and Kolter 2019, Algorithms 1 and 2) on a base classifier that
 * rounds its input to a grid, with a sampler exact enough to be sound in
 * floating point (foil/certify.h says why and how).
 *
 * The noise at a grid point: per coordinate an integer J with
 * P(|J| > m) = erfc((m + 1/2) t / sqrt 2), t = step / sigma, and a fair
 * sign. The table holds those tails as 64-bit thresholds U_m = T_m 2^64,
 * so |J| is the first m with U_m <= u for a uniform 64-bit u: inverse
 * transform sampling with no float arithmetic between the coin flips and
 * the grid index. A guide table on u's top 12 bits starts the search
 * within a step or two of the answer.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/binomial.h"
#include "foil/certify.h"
#include "foil/progress.h"
#include "foil/rng.h"

enum { GUIDE_BITS = 12, MAX_TABLE = 1 << 22 };
enum { PHASE_SELECT = 0, PHASE_ESTIMATE = 1, PHASE_PREDICT = 2 };

/* glibc's erfc is within a few ulps (about 1e-15 relative); each threshold
 * is charged 1e-13 of its tail plus two 2^-64 units for its conversion. */
#define ERFC_RELATIVE_ERROR 1e-13

struct foil_smoothed {
    foil_model *model;
    foil_smoothing_options o;
    double step;               /* grid spacing */
    int64_t classes;
    uint64_t *threshold;       /* U_0 > U_1 > ... > U_max = 0 */
    int64_t n_threshold;
    int32_t guide[1 << GUIDE_BITS];
    double tv_per_coordinate;  /* bound on the sampler's TV distance, one coordinate */
    /* per example (allocated at its first use) */
    int64_t d;                 /* values per example */
    int64_t *grid_index;       /* x's nearest grid point */
    foil_tensor noisy, scores;
    int64_t *counts;
};

void foil_smoothing_defaults(foil_smoothing_options *o)
{
    memset(o, 0, sizeof *o);
    o->sigma = 0.25f;
    o->n0 = 100;
    o->n = 100000;
    o->alpha = 0.001;
    o->batch = 1000;
    o->lo = 0;
    o->hi = 1;
    o->levels = 256;
}

static foil_status check_options(const foil_smoothing_options *o)
{
    if (!(o->sigma > 0) || !isfinite(o->sigma)) return foil_error(FOIL_ERR_ARG, "smoothing: sigma must be > 0, not %g", o->sigma);
    if (o->n0 < 1 || o->n < 1 || o->batch < 1)
        return foil_error(FOIL_ERR_ARG, "smoothing: n0, n and the batch must be at least 1");
    if (!(o->alpha > 0 && o->alpha < 0.5))
        return foil_error(FOIL_ERR_ARG, "smoothing: alpha must lie in (0, 0.5), not %g", o->alpha);
    if (!(o->lo < o->hi) || !isfinite(o->lo) || !isfinite(o->hi))
        return foil_error(FOIL_ERR_ARG, "smoothing: the input range [%g, %g] is empty", o->lo, o->hi);
    if (o->levels < 2) return foil_error(FOIL_ERR_ARG, "smoothing: the grid needs at least 2 levels, not %d", o->levels);
    return FOIL_OK;
}

/* The thresholds U_m and their error bound; the table ends at the first
 * zero threshold, beyond which the exact tail is below 2^-64. */
static foil_status build_sampler(foil_smoothed *s)
{
    const double t = s->step / s->o.sigma;
    int64_t cap = 1024;
    s->threshold = malloc((size_t)cap * sizeof *s->threshold);
    if (!s->threshold) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    double tv = 0;
    for (int64_t m = 0;; m++) {
        if (m == cap) {
            if (cap >= MAX_TABLE)
                return foil_error(FOIL_ERR_ARG, "smoothing: sigma %g is more than %d grid steps of %g; use a coarser "
                                  "grid (fewer levels)", s->o.sigma, MAX_TABLE / 10, s->step);
            uint64_t *grown = realloc(s->threshold, (size_t)(2 * cap) * sizeof *grown);
            if (!grown) return foil_error(FOIL_ERR_NOMEM, "out of memory");
            s->threshold = grown;
            cap *= 2;
        }
        double tail = erfc(((double)m + 0.5) * t / 1.4142135623730951);
        double scaled = ldexp(tail, 64);
        s->threshold[m] = scaled >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)scaled;
        tv += ERFC_RELATIVE_ERROR * tail + ldexp(2.0, -64);
        if (s->threshold[m] == 0) {
            s->n_threshold = m + 1;
            break;
        }
    }
    s->tv_per_coordinate = tv;
    /* guide[b]: the answer for the largest u of bucket b, a lower bound
     * for every u in it; it grows as b falls. */
    for (int64_t b = (1 << GUIDE_BITS) - 1, m = 0; b >= 0; b--) {
        uint64_t top = ((uint64_t)(b + 1) << (64 - GUIDE_BITS)) - 1;
        while (s->threshold[m] > top) m++;
        s->guide[b] = (int32_t)m;
    }
    return FOIL_OK;
}

foil_status foil_smoothed_create(foil_model *m, const foil_smoothing_options *o, foil_smoothed **out)
{
    *out = NULL;
    foil_status st = check_options(o);
    if (st) return st;
    foil_smoothed *s = calloc(1, sizeof *s);
    if (!s) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    s->model = m;
    s->o = *o;
    s->step = ((double)o->hi - (double)o->lo) / (o->levels - 1);
    if (!(st = foil_model_num_classes(m, &s->classes)) && !(st = build_sampler(s))) {
        s->counts = calloc((size_t)s->classes, sizeof *s->counts);
        if (!s->counts) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    if (st) {
        foil_smoothed_free(s);
        return st;
    }
    foil_model_set_max_batch(m, o->batch);
    *out = s;
    return FOIL_OK;
}

void foil_smoothed_free(foil_smoothed *s)
{
    if (!s) return;
    free(s->threshold);
    free(s->grid_index);
    free(s->counts);
    foil_tensor_free(&s->noisy);
    foil_tensor_free(&s->scores);
    free(s);
}

double foil_smoothed_sampler_tv(const foil_smoothed *s) { return s->tv_per_coordinate * (double)s->d; }

/* Buffers for examples shaped like x's rows. */
static foil_status prepare(foil_smoothed *s, const foil_tensor *x, int64_t row)
{
    if (x->dtype != FOIL_F32 || x->ndim < 1 || row < 0 || row >= x->shape[0])
        return foil_error(FOIL_ERR_ARG, "smoothing: row %lld of a tensor of %lld float examples", (long long)row,
                          (long long)(x->ndim ? x->shape[0] : 0));
    const int64_t d = x->numel / x->shape[0];
    if (s->noisy.data && s->d == d && s->noisy.ndim == x->ndim &&
        !memcmp(s->noisy.shape + 1, x->shape + 1, (size_t)(x->ndim - 1) * sizeof x->shape[0]))
        return FOIL_OK;
    foil_tensor_free(&s->noisy);
    free(s->grid_index);
    s->d = d;
    s->grid_index = malloc((size_t)d * sizeof *s->grid_index);
    int64_t shape[FOIL_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[0] = s->o.batch;
    foil_status st = s->grid_index ? foil_tensor_alloc(&s->noisy, FOIL_F32, x->ndim, shape)
                                   : foil_error(FOIL_ERR_NOMEM, "out of memory");
    return st;
}

/* The value h feeds the network for grid index k: lo + k * step in
 * double, rounded to float (a fixed function of k). */
static inline float grid_value(const foil_smoothed *s, int64_t k) { return (float)(s->o.lo + (double)k * s->step); }

/* x's nearest grid point, and an upper bound on the L2 distance to it
 * (each coordinate's distance charged for the double rounding of the
 * grid point, 1e-15 of the magnitudes, and the sum for its own).
 * *exact: every value of x is its grid point's float. */
static double snap_to_grid(foil_smoothed *s, const float *x, int *exact)
{
    double sum = 0;
    *exact = 1;
    for (int64_t i = 0; i < s->d; i++) {
        double k = nearbyint(((double)x[i] - s->o.lo) / s->step);
        s->grid_index[i] = (int64_t)k;
        double gap = fabs((double)x[i] - (s->o.lo + k * s->step)) + 1e-15 * (fabs(x[i]) + fabs(s->o.lo) + 1);
        sum += gap * gap;
        *exact &= grid_value(s, (int64_t)k) == x[i];
    }
    return sqrt(sum) * (1 + 1e-12);
}

/* |J| for a uniform 64-bit u: the first m with U_m <= u. */
static inline int64_t sample_magnitude(const foil_smoothed *s, uint64_t u)
{
    int64_t m = s->guide[u >> (64 - GUIDE_BITS)];
    while (s->threshold[m] > u) m++;
    return m;
}

/* Row r of the batch: the grid point plus step * J, J drawn from copy
 * `copy`'s own stream of the example's key. The value fed to the network
 * is a fixed function of the grid index, lo + k * step in double, then
 * rounded to float. */
static void fill_on_grid(const foil_smoothed *s, float *dst, uint64_t key, uint64_t copy)
{
    foil_rng r = foil_rng_make(key, copy);
    uint64_t signs = 0;
    for (int64_t i = 0; i < s->d; i++) {
        if ((i & 63) == 0) signs = foil_rng_u64(&r);
        int64_t j = sample_magnitude(s, foil_rng_u64(&r));
        if (signs >> (i & 63) & 1) j = -j;
        dst[i] = grid_value(s, s->grid_index[i] + j);
    }
}

/* Off the grid (PREDICT at an arbitrary point): Q(x + sigma N) with the
 * noise and the sum in double. */
static void fill_off_grid(const foil_smoothed *s, const float *x, float *dst, uint64_t key, uint64_t copy)
{
    foil_rng r = foil_rng_make(key, copy);
    for (int64_t i = 0; i < s->d; i++) {
        double z = (double)x[i] + s->o.sigma * foil_rng_normal(&r);
        dst[i] = grid_value(s, (int64_t)nearbyint((z - s->o.lo) / s->step));
    }
}

/* Classify `total` noisy copies of x into s->counts. Every forward pass has
 * exactly `batch` rows (the last padded with further copies, uncounted), so
 * that the network never sees another shape. */
static foil_status sample_counts(foil_smoothed *s, const float *x, int on_grid, uint64_t key, int64_t total)
{
    memset(s->counts, 0, (size_t)s->classes * sizeof *s->counts);
    const int64_t batch = s->o.batch, d = s->d;
    for (int64_t first = 0; first < total; first += batch) {
        float *noisy = foil_f32(&s->noisy);
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < batch; r++) {
            if (on_grid) fill_on_grid(s, noisy + r * d, key, (uint64_t)(first + r));
            else fill_off_grid(s, x, noisy + r * d, key, (uint64_t)(first + r));
        }
        foil_status st = foil_model_predict(s->model, &s->noisy, &s->scores);
        if (st) return st;
        const int64_t classes = s->scores.shape[1];
        const float *sc = foil_f32(&s->scores);
        for (int64_t r = 0; r < batch && first + r < total; r++) {
            int64_t best = 0;
            for (int64_t c = 1; c < classes; c++)
                if (sc[r * classes + c] > sc[r * classes + best]) best = c;
            s->counts[best]++;
        }
    }
    return FOIL_OK;
}

static int64_t top_class(const int64_t *counts, int64_t classes, int64_t skip)
{
    int64_t best = -1;
    for (int64_t c = 0; c < classes; c++)
        if (c != skip && (best < 0 || counts[c] > counts[best])) best = c;
    return best;
}

/* Each phase of each example draws from its own key, a function of the
 * seed and the example's id alone. */
static uint64_t example_key(const foil_smoothed *s, uint64_t example_id, int phase)
{
    return foil_rng_at(s->o.seed ^ 0x5e0f7a11c0ffee00ULL, example_id * 4 + (uint64_t)phase);
}

foil_status foil_smoothed_certify(foil_smoothed *s, const foil_tensor *x, int64_t row, uint64_t example_id,
                                  foil_certificate *out)
{
    memset(out, 0, sizeof *out);
    out->prediction = -1;
    double start = foil_now();
    foil_status st = prepare(s, x, row);
    if (st) return st;
    const float *xr = foil_f32(x) + row * s->d;
    int exact;
    out->grid_distance = snap_to_grid(s, xr, &exact);
    /* Algorithm 2: n0 samples select cA, n independent ones bound pA. */
    if ((st = sample_counts(s, xr, 1, example_key(s, example_id, PHASE_SELECT), s->o.n0))) return st;
    const int64_t ca = top_class(s->counts, s->classes, -1);
    if ((st = sample_counts(s, xr, 1, example_key(s, example_id, PHASE_ESTIMATE), s->o.n))) return st;
    out->count = s->counts[ca];
    /* The Clopper-Pearson bound holds for the sampler's law; the exact
     * law's probability is lower by at most their TV distance. */
    out->p_lower = foilClopperPearsonLower(out->count, s->o.n, s->o.alpha) - foil_smoothed_sampler_tv(s);
    if (out->p_lower > 0.5) {
        /* Rounded down: the quantile's bound, times sigma less 1e-12 of it,
         * less the grid distance plus 1e-12 of it. The roundings of the
         * product and the difference (relative 2^-53 each) fall far inside
         * the margins. */
        double radius = s->o.sigma * foilNormalQuantileBelow(out->p_lower) * (1 - 1e-12) -
                        out->grid_distance * (1 + 1e-12);
        if (radius > 0) {
            out->prediction = ca;
            out->radius = radius;
        }
    }
    out->seconds = foil_now() - start;
    return FOIL_OK;
}

foil_status foil_smoothed_predict(foil_smoothed *s, const foil_tensor *x, int64_t row, uint64_t example_id,
                                  int64_t *prediction)
{
    *prediction = -1;
    foil_status st = prepare(s, x, row);
    if (st) return st;
    const float *xr = foil_f32(x) + row * s->d;
    int on_grid;
    snap_to_grid(s, xr, &on_grid);
    if ((st = sample_counts(s, xr, on_grid, example_key(s, example_id, PHASE_PREDICT), s->o.n))) return st;
    /* Algorithm 1: the top two counts; abstain unless the binomial test
     * rejects that they are equally likely. */
    int64_t a = top_class(s->counts, s->classes, -1), b = top_class(s->counts, s->classes, a);
    int64_t na = s->counts[a], nb = b >= 0 ? s->counts[b] : 0;
    if (foilBinomialTestHalf(na, na + nb) <= s->o.alpha) *prediction = a;
    return FOIL_OK;
}
