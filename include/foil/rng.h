/*
 * foil/rng.h - a counter-based random number generator.
 *
 * Every draw is a pure function of (key, counter), so threads and MPI ranks
 * take independent streams by key and results do not depend on scheduling.
 * The mixing function is SplitMix64's finalizer applied to key and counter
 * (Steele, Lea and Flood 2014), which passes BigCrush as a stream generator.
 */
#ifndef FOIL_RNG_H
#define FOIL_RNG_H

#include <stdint.h>

typedef struct foil_rng {
    uint64_t key;
    uint64_t counter;
} foil_rng;

static inline uint64_t foil_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The i-th draw of stream `key`. */
static inline uint64_t foil_rng_at(uint64_t key, uint64_t i)
{
    return foil_mix64(foil_mix64(key) + (i + 1) * 0x9e3779b97f4a7c15ULL);
}

static inline foil_rng foil_rng_make(uint64_t seed, uint64_t stream)
{
    foil_rng r = {foil_mix64(seed ^ foil_mix64(stream + 0x632be59bd9b4e019ULL)), 0};
    return r;
}

static inline uint64_t foil_rng_u64(foil_rng *r) { return foil_rng_at(r->key, r->counter++); }

/* Uniform in [0, 1) with 24 random bits. */
static inline float foil_rng_uniform(foil_rng *r) { return (float)(foil_rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

/* Uniform in [0, 1) with 53 random bits. */
static inline double foil_rng_uniform_d(foil_rng *r) { return (double)(foil_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

/* Standard normal (Box-Muller; one value per call, the pair's twin discarded
 * so the stream position stays a simple count). */
double foil_rng_normal(foil_rng *r);

/* Uniform integer in [0, n). */
static inline uint64_t foil_rng_below(foil_rng *r, uint64_t n) { return n ? foil_rng_u64(r) % n : 0; }

#endif
