/*
 * model/dp_sgd.c - DP-SGD's sampling, clipping and noise; see
 * model/dp_sgd.h for the step they make.
 */
#include <math.h>
#include <string.h>

#include "foil/rng.h"
#include "model/dp_sgd.h"

/* Noise is drawn in chunks of this many coordinates, each its own stream,
 * so that threads split a weight without changing what it gets. */
#define NOISE_CHUNK 4096
/* The streams: foil_rng_make(seed, tag + step), apart from training's
 * others (model/train.c: small stream numbers in the top byte). */
#define SAMPLE_STREAM 0x5a3d1e0b00000000ULL
#define NOISE_STREAM 0x6e0153d900000000ULL

int64_t foilDpSample(uint64_t seed, int64_t step, int64_t n, double q, int64_t *idx)
{
    if (q >= 1) {
        for (int64_t i = 0; i < n; i++) idx[i] = i;
        return n;
    }
    /* The gap before the next example taken is geometric, P(gap >= k) =
     * (1 - q)^k: floor(log u / log(1 - q)) for u uniform in (0, 1], the
     * same as a coin of probability q for every example, in q n draws. */
    foil_rng r = foil_rng_make(seed, SAMPLE_STREAM + (uint64_t)step);
    const double log_keep = log1p(-q);
    int64_t b = 0;
    for (int64_t i = -1;;) {
        const double gap = floor(log(1.0 - foil_rng_uniform_d(&r)) / log_keep);
        if (!(gap < (double)(n - 1 - i))) break;
        i += (int64_t)gap + 1;
        idx[b++] = i;
    }
    return b;
}

foil_status foilDpClippedSum(FoilGraphModel *gm, foil_tensor *dl, int64_t rows, double clip, float *sq,
                             int64_t *clipped)
{
    foil_status st = foilGraphExampleNorms(gm->g, foilModelOutputGrads(gm, dl), rows, sq);
    if (st) return st;
    const int64_t classes = dl->numel / (rows > 0 ? rows : 1);
    float *d = foil_f32(dl);
    int64_t n_clipped = 0;
    for (int64_t n = 0; n < rows; n++) {
        const double norm = sqrt((double)sq[n]);
        if (norm <= clip) continue;
        const float c = isfinite(norm) ? (float)(clip / norm) : 0.0f;
        for (int64_t j = 0; j < classes; j++) d[n * classes + j] *= c;
        n_clipped++;
    }
    *clipped = n_clipped;
    /* backward is linear in the logits' gradient: these rows give sum_n c_n g_n */
    return foilGraphBackward(gm->g, foilModelOutputGrads(gm, dl), FOIL_GRAD_PARAMS);
}

/* Coordinates [from, to) of g: (g + std z) / divisor, z from stream `key`,
 * two per Box-Muller draw. */
static void noise_chunk(float *g, int64_t from, int64_t to, double std, double inv, uint64_t key)
{
    foil_rng r = foil_rng_make(key, 0);
    for (int64_t i = from; i < to; i += 2) {
        double u1 = 1.0 - foil_rng_uniform_d(&r), u2 = foil_rng_uniform_d(&r); /* u1 in (0, 1] */
        const double rad = std * sqrt(-2.0 * log(u1)), ang = 6.283185307179586 * u2;
        g[i] = (float)(((double)g[i] + rad * cos(ang)) * inv);
        if (i + 1 < to) g[i + 1] = (float)(((double)g[i + 1] + rad * sin(ang)) * inv);
    }
}

void foilDpNoise(const foil_optim *opt, double std, double divisor, uint64_t seed, int64_t step)
{
    const double inv = 1.0 / divisor;
    const uint64_t key = foil_rng_make(seed, NOISE_STREAM + (uint64_t)step).key;
    for (int p = 0; p < opt->n; p++) {
        float *g = foil_f32(opt->grads[p]);
        const int64_t n = opt->grads[p]->numel, chunks = (n + NOISE_CHUNK - 1) / NOISE_CHUNK;
        if (std == 0) {
            for (int64_t i = 0; i < n; i++) g[i] = (float)((double)g[i] * inv);
            continue;
        }
        const uint64_t weight_key = foil_rng_at(key, (uint64_t)p);
#pragma omp parallel for schedule(static) if (chunks > 1)
        for (int64_t c = 0; c < chunks; c++) {
            const int64_t to = (c + 1) * NOISE_CHUNK < n ? (c + 1) * NOISE_CHUNK : n;
            noise_chunk(g, c * NOISE_CHUNK, to, std, inv, foil_rng_at(weight_key, (uint64_t)c));
        }
    }
}
