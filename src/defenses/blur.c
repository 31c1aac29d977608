/*
 * defenses/blur.c - Gaussian smoothing, a preprocessor for
 * foil_model_defended and for `foil defend`, which writes it into the ONNX
 * graph as Pad(reflect) + a depthwise Conv.
 *
 * Each channel of each (C, H, W) image is convolved with the normalized
 * Gaussian g[t] ~ exp(-t^2 / (2 sigma^2)), |t| <= r = ceil(3 sigma) (r
 * capped below the image size), along the rows and then the columns, the
 * image extended by ONNX Pad's "reflect" (numpy's: the edge pixel is not
 * repeated, -1 -> 1). Linear, so its exact derivative is the transposed
 * convolution, which backward computes; the attack on it needs no BPDA.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "defenses/preprocessor_internal.h"

static int64_t reflect(int64_t i, int64_t n)
{
    if (n == 1) return 0;
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
}

/* One axis, forward (y = K x) or transposed (y += K^T x): `count` lines of
 * `len` values, consecutive values `step` apart, lines `stride` apart. */
static void blur_axis(const FoilBlur *b, const float *x, float *y, int64_t count, int64_t len, int64_t step,
                      int64_t stride, int transpose)
{
    for (int64_t l = 0; l < count; l++) {
        const float *in = x + l * stride;
        float *out = y + l * stride;
        for (int64_t i = 0; i < len; i++) {
            if (!transpose) {
                double acc = 0;
                for (int64_t t = -b->r; t <= b->r; t++) acc += b->g[t + b->r] * in[reflect(i + t, len) * step];
                out[i * step] = (float)acc;
            }
            else
                for (int64_t t = -b->r; t <= b->r; t++) out[reflect(i + t, len) * step] += b->g[t + b->r] * in[i * step];
        }
    }
}

static foil_status check_size(const FoilBlur *b, int64_t d)
{
    if (d == b->c * b->h * b->w) return FOIL_OK;
    return foil_error(FOIL_ERR_SHAPE, "%s: examples have %lld values, not %lld x %lld x %lld", b->name, (long long)d,
                      (long long)b->c, (long long)b->h, (long long)b->w);
}

/* rows (along w), then columns (along h), through a scratch image */
static foil_status blur_forward(void *ctx, const float *x, float *y, int64_t n, int64_t d, const uint64_t *seeds)
{
    (void)seeds;
    FoilBlur *b = ctx;
    foil_status st = check_size(b, d);
    if (st) return st;
    float *tmp = malloc((size_t)d * sizeof *tmp);
    if (!tmp) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        blur_axis(b, x + i * d, tmp, b->c * b->h, b->w, 1, b->w, 0);
        for (int64_t ch = 0; ch < b->c; ch++)
            blur_axis(b, tmp + ch * b->h * b->w, y + i * d + ch * b->h * b->w, b->w, b->h, b->w, 1, 0);
    }
    free(tmp);
    return FOIL_OK;
}

/* In the forward pass this was y = Kc (Kr x), so now dx = Kr^T (Kc^T dy). */
static foil_status blur_backward(void *ctx, const float *x, const float *dy, float *dx, int64_t n, int64_t d,
                                 const uint64_t *seeds)
{
    (void)x, (void)seeds;
    FoilBlur *b = ctx;
    foil_status st = check_size(b, d);
    if (st) return st;
    float *tmp = malloc((size_t)d * sizeof *tmp);
    if (!tmp) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    memset(dx, 0, (size_t)(n * d) * sizeof *dx);
    for (int64_t i = 0; i < n; i++) {
        memset(tmp, 0, (size_t)d * sizeof *tmp);
        for (int64_t ch = 0; ch < b->c; ch++)
            blur_axis(b, dy + i * d + ch * b->h * b->w, tmp + ch * b->h * b->w, b->w, b->h, b->w, 1, 1);
        blur_axis(b, tmp, dx + i * d, b->c * b->h, b->w, 1, b->w, 1);
    }
    free(tmp);
    return FOIL_OK;
}

foil_status foil_preprocessor_gaussian_blur(float sigma, int64_t c, int64_t h, int64_t w, foil_preprocessor *out)
{
    memset(out, 0, sizeof *out);
    if (!(sigma > 0) || sigma > 16 || !isfinite(sigma))
        return foil_error(FOIL_ERR_ARG, "blur: sigma must be > 0 and at most 16, not %g", sigma);
    if (c < 1 || h < 2 || w < 2) return foil_error(FOIL_ERR_ARG, "blur: smooths images (C, H, W) of 2 x 2 or more");
    FoilBlur *b = calloc(1, sizeof *b);
    if (!b) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    int64_t r = (int64_t)ceil(3.0 * sigma), cap = (h < w ? h : w) - 1;
    b->r = r < cap ? r : cap;
    if (b->r > FOIL_BLUR_MAX_RADIUS) b->r = FOIL_BLUR_MAX_RADIUS;
    b->c = c, b->h = h, b->w = w, b->sigma = sigma;
    double sum = 0;
    for (int64_t t = -b->r; t <= b->r; t++) sum += (b->g[t + b->r] = (float)exp(-(double)(t * t) / (2.0 * sigma * sigma)));
    for (int64_t t = 0; t <= 2 * b->r; t++) b->g[t] = (float)(b->g[t] / sum);
    snprintf(b->name, sizeof b->name, "blur(%g)", sigma);
    out->name = b->name;
    out->ctx = b;
    out->forward = blur_forward;
    out->backward = blur_backward;
    out->bpda_backward = blur_backward; /* differentiable: the adaptive attack uses the exact derivative */
    out->destroy = free;
    out->kind = FOIL_PREPROCESSOR_BLUR;
    return FOIL_OK;
}
