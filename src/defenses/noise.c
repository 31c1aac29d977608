/*
 * defenses/noise.c - random Gaussian noise on the input, a randomized
 * preprocessor for foil_model_defended: y = x + sigma * N(0, I), drawn
 * afresh on every query (the randomized defenses that EOT, Athalye,
 * Carlini, Wagner 2018, was made to evaluate; the noise of randomized
 * smoothing, Cohen et al. 2019). Not clipped to the input range, as in
 * randomized smoothing, so its derivative is exactly the identity.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foil/defense.h"
#include "foil/rng.h"

typedef struct gaussian_noise {
    float sigma;
    uint64_t seed;
    uint64_t draws;              /* examples noised without a caller's seed, for fresh draws each query */
    char name[48];
} gaussian_noise;

/* Example i's noise comes from its own stream: the caller's seed for it
 * when given (an attack derives it from seed, example and query), else the
 * next of this preprocessor's own. */
static foil_status noise_forward(void *ctx, const float *x, float *y, int64_t n, int64_t d, const uint64_t *seeds)
{
    gaussian_noise *g = ctx;
    for (int64_t i = 0; i < n; i++) {
        foil_rng r = foil_rng_make(seeds ? seeds[i] : g->seed, seeds ? 0x6e6f697365ULL : g->draws + (uint64_t)i + 1);
        for (int64_t j = 0; j < d; j++) y[i * d + j] = x[i * d + j] + g->sigma * (float)foil_rng_normal(&r);
    }
    if (!seeds) g->draws += (uint64_t)n;
    return FOIL_OK;
}

static foil_status noise_backward(void *ctx, const float *x, const float *dy, float *dx, int64_t n, int64_t d,
                                  const uint64_t *seeds)
{
    (void)ctx, (void)x, (void)seeds;
    memcpy(dx, dy, (size_t)(n * d) * sizeof *dx);
    return FOIL_OK;
}

foil_status foil_preprocessor_gaussian_noise(float sigma, uint64_t seed, foil_preprocessor *out)
{
    memset(out, 0, sizeof *out);
    if (!(sigma > 0) || !isfinite(sigma))
        return foil_error(FOIL_ERR_ARG, "gaussian-noise: sigma must be a finite number > 0, not %g", sigma);
    gaussian_noise *g = calloc(1, sizeof *g);
    if (!g) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    g->sigma = sigma;
    g->seed = seed;
    snprintf(g->name, sizeof g->name, "gaussian-noise(%g)", sigma);
    out->name = g->name;
    out->ctx = g;
    out->randomized = 1;
    out->forward = noise_forward;
    out->backward = noise_backward;
    out->destroy = free;
    out->kind = FOIL_PREPROCESSOR_NOISE;
    return FOIL_OK;
}
