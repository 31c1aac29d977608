/*
 * tests/remote_linear.c - the remote tests' fixed linear classifier (see
 * remote_linear.h).
 */
#include "remote_linear.h"

/* splitmix64: the weights depend on nothing but this code */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* uniform in [-1, 1) with all 24 bits of a float's mantissa in use */
static float weight(uint64_t *s) { return (float)(next(s) >> 40) / 8388608.0f - 1.0f; }

void remote_linear_scores(const float *x, int64_t n, float *scores)
{
    /* drawn on every call: the server calls it from several threads */
    float w[REMOTE_LINEAR_CLASSES][REMOTE_LINEAR_FEATURES], b[REMOTE_LINEAR_CLASSES];
    uint64_t s = 20261204;
    for (int c = 0; c < REMOTE_LINEAR_CLASSES; c++) {
        for (int f = 0; f < REMOTE_LINEAR_FEATURES; f++) w[c][f] = weight(&s);
        b[c] = weight(&s);
    }
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < REMOTE_LINEAR_CLASSES; c++) {
            float acc = b[c];
            for (int f = 0; f < REMOTE_LINEAR_FEATURES; f++) acc += w[c][f] * x[i * REMOTE_LINEAR_FEATURES + f];
            scores[i * REMOTE_LINEAR_CLASSES + c] = acc;
        }
}
