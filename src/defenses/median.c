/*
 * defenses/median.c - spatial median smoothing (Xu, Evans, Qi 2018's second
 * feature squeezer; ART's SpatialSmoothing), a preprocessor for
 * foil_model_defended.
 *
 * Each channel of each (C, H, W) image is replaced by the median of the k x k
 * window around every pixel, the image extended by reflection about its
 * edges (scipy.ndimage's mode "reflect", which ART uses: the row above the
 * top is the top row itself). k is odd, so the window is centred and the
 * median is one of its values.
 *
 * Exact derivative: the output pixel is the window value that is the median,
 * so its gradient goes to that input pixel (a subgradient where values tie:
 * the first one in window order). BPDA: the identity, as ART estimates it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foil/defense.h"

typedef struct median {
    int64_t c, h, w, k;
    char name[32];
} median;

/* Reflect an index into [0, n): -1 -> 0, n -> n - 1 (scipy's "reflect"). */
static int64_t reflect(int64_t i, int64_t n)
{
    while (i < 0 || i >= n) i = i < 0 ? -i - 1 : 2 * n - i - 1;
    return i;
}

/* The position (in plane) of the median of the k x k window at (y, x). vals
 * and idx hold k * k entries of scratch. Selection by partial insertion
 * sort: windows are small (9 or 25 values). */
static int64_t median_at(const median *m, const float *plane, int64_t y, int64_t x, float *vals, int64_t *idx)
{
    const int64_t r = m->k / 2, count = m->k * m->k;
    int64_t n = 0;
    for (int64_t dy = -r; dy <= r; dy++)
        for (int64_t dx = -r; dx <= r; dx++) {
            int64_t p = reflect(y + dy, m->h) * m->w + reflect(x + dx, m->w);
            /* insert keeping vals ascending; equal values keep window order */
            int64_t j = n++;
            while (j > 0 && vals[j - 1] > plane[p]) {
                vals[j] = vals[j - 1];
                idx[j] = idx[j - 1];
                j--;
            }
            vals[j] = plane[p];
            idx[j] = p;
        }
    return idx[count / 2];
}

static foil_status check_size(const median *m, int64_t d)
{
    if (d == m->c * m->h * m->w) return FOIL_OK;
    return foil_error(FOIL_ERR_SHAPE, "%s: examples have %lld values, not %lld x %lld x %lld", m->name, (long long)d,
                      (long long)m->c, (long long)m->h, (long long)m->w);
}

/* Both passes walk every pixel's window the same way. Forward (dy NULL):
 * out[i, j] = x[median position of (i, j)]. Backward: in the forward pass
 * this was y[i, j] = x[position], so now dx[position] += dy[i, j]. */
static foil_status median_pass(const median *m, const float *x, const float *dy, float *out, int64_t n, int64_t d)
{
    foil_status st = check_size(m, d);
    if (st) return st;
    float vals[FOIL_MEDIAN_MAX_WINDOW * FOIL_MEDIAN_MAX_WINDOW];
    int64_t idx[FOIL_MEDIAN_MAX_WINDOW * FOIL_MEDIAN_MAX_WINDOW];
    const int64_t hw = m->h * m->w;
    if (dy) memset(out, 0, (size_t)(n * d) * sizeof *out);
    for (int64_t p = 0; p < n * m->c; p++) {
        const float *plane = x + p * hw;
        float *o = out + p * hw;
        for (int64_t i = 0; i < m->h; i++)
            for (int64_t j = 0; j < m->w; j++) {
                int64_t at = median_at(m, plane, i, j, vals, idx);
                if (dy) o[at] += dy[p * hw + i * m->w + j];
                else o[i * m->w + j] = plane[at];
            }
    }
    return FOIL_OK;
}

static foil_status median_forward(void *ctx, const float *x, float *y, int64_t n, int64_t d, const uint64_t *seeds)
{
    (void)seeds;
    return median_pass(ctx, x, NULL, y, n, d);
}

static foil_status median_backward(void *ctx, const float *x, const float *dy, float *dx, int64_t n, int64_t d,
                                   const uint64_t *seeds)
{
    (void)seeds;
    return median_pass(ctx, x, dy, dx, n, d);
}

foil_status foil_preprocessor_median(int64_t window, int64_t c, int64_t h, int64_t w, foil_preprocessor *out)
{
    memset(out, 0, sizeof *out);
    if (window < 1 || window > FOIL_MEDIAN_MAX_WINDOW || window % 2 == 0)
        return foil_error(FOIL_ERR_ARG, "median: the window must be odd, 1 to %d, not %lld", FOIL_MEDIAN_MAX_WINDOW,
                          (long long)window);
    if (c < 1 || h < 1 || w < 1)
        return foil_error(FOIL_ERR_ARG, "median: smooths images (C, H, W), not inputs of this shape");
    median *m = calloc(1, sizeof *m);
    if (!m) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    m->c = c, m->h = h, m->w = w, m->k = window;
    snprintf(m->name, sizeof m->name, "median(%lld)", (long long)window);
    out->name = m->name;
    out->ctx = m;
    out->forward = median_forward;
    out->backward = median_backward;
    out->bpda_backward = NULL; /* identity */
    out->destroy = free;
    out->kind = FOIL_PREPROCESSOR_MEDIAN;
    return FOIL_OK;
}
