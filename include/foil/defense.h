/*
 * foil/defense.h - defenses: preprocessors that go in front of a model
 * (foil_model_defended in foil/model.h takes them).
 *
 * Each preprocessor says how to differentiate through it: its exact
 * derivative (what an attack unaware of the defense computes) and its BPDA
 * approximation (Athalye, Carlini, Wagner 2018), so that a defended model is
 * evaluated against the adaptive attack as well as the naive one.
 */
#ifndef FOIL_DEFENSE_H
#define FOIL_DEFENSE_H

#include "foil/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bit-depth reduction, the feature squeezer of Xu, Evans, Qi 2018 (Feature
 * Squeezing: Detecting Adversarial Examples in Deep Neural Networks):
 * each value of [lo, hi] is rounded to the nearest of 2^bits evenly spaced
 * levels, x -> lo + rint((x - lo) / (hi - lo) * (2^bits - 1)) / (2^bits - 1)
 * * (hi - lo), as in ART's FeatureSqueezing. Its exact derivative is zero
 * almost everywhere (a step function); its BPDA approximation the identity.
 * bits 1..16, lo < hi. */
foil_status foil_preprocessor_bit_depth(int bits, float lo, float hi, foil_preprocessor *out);

/* Random Gaussian noise, y = x + sigma * N(0, I), drawn afresh on every
 * query (a randomized defense; the noise of randomized smoothing). With a
 * caller's per-example seeds (foil_model_predict_seeded) example i's noise
 * is a function of seeds[i] alone; without, of `seed` and how many examples
 * were noised before. Not clipped; its derivative is the identity. */
foil_status foil_preprocessor_gaussian_noise(float sigma, uint64_t seed, foil_preprocessor *out);

#ifdef __cplusplus
}
#endif
#endif
