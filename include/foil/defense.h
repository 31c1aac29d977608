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

/* Spatial median smoothing (Xu, Evans, Qi 2018; ART's SpatialSmoothing):
 * each channel of each (c, h, w) image replaced by the median of the
 * window x window neighbourhood of every pixel, the image reflected about
 * its edges (scipy's mode "reflect", as ART). window odd, 1 to
 * FOIL_MEDIAN_MAX_WINDOW. Exact derivative: each output's gradient goes to
 * the input pixel that was the median; BPDA: the identity. */
#define FOIL_MEDIAN_MAX_WINDOW 15
foil_status foil_preprocessor_median(int64_t window, int64_t c, int64_t h, int64_t w, foil_preprocessor *out);

/* Gaussian smoothing: each channel of each (c, h, w) image convolved with
 * the normalized Gaussian of standard deviation sigma (radius ceil(3
 * sigma), below the image size), rows then columns, the image extended by
 * ONNX Pad's "reflect" (the edge pixel not repeated). Linear: its exact
 * derivative is used by the plain and the adaptive attack alike. */
foil_status foil_preprocessor_gaussian_blur(float sigma, int64_t c, int64_t h, int64_t w, foil_preprocessor *out);

/* JPEG compression (ART's JpegCompression): each (c, h, w) image, c 1
 * (gray) or 3 (RGB), of range [lo, hi] quantized to 8 bits, compressed at
 * `quality` (1-100) with libjpeg-turbo's defaults and decompressed. No
 * exact derivative (backward NULL); BPDA: the identity. */
foil_status foil_preprocessor_jpeg(int quality, int64_t c, int64_t h, int64_t w, float lo, float hi,
                                   foil_preprocessor *out);

/* Total-variation minimization (Guo et al. 2018; ART's TotalVarMin
 * defaults: prob 0.3, lambda 0.5, norm 2, 10 iterations): each channel of
 * each (c, h, w) image replaced by argmin_z ||m * (z - x)||_2 + lambda *
 * TV_norm(z), m keeping each pixel with probability prob, drawn afresh on
 * every query (randomized; per-example seeds as for the noise), solved
 * roughly by `iterations` of L-BFGS from x and clipped to [lo, hi]. norm 1
 * or 2; images at least 2 x 2. No exact derivative; BPDA: the identity. */
foil_status foil_preprocessor_tv_min(float prob, float lambda, int norm, int iterations, int64_t c, int64_t h,
                                     int64_t w, float lo, float hi, uint64_t seed, foil_preprocessor *out);

/* Write pre[k .. n) into m's ONNX graph, in front of its input, for the
 * smallest k such that ONNX expresses every one of them exactly (bit-depth
 * reduction: Round and arithmetic; blur: Pad and a depthwise Conv). pre[0 ..
 * k) (median smoothing, random noise, a program's own) must then run before
 * the model, outside it; *first gets k (n: nothing written). Needs opset 11. */
foil_status foil_model_prepend_preprocessors(foil_model *m, const foil_preprocessor *pre, int n, int *first);

/* What a preprocessor list needs to know about one input example. */
typedef struct foil_input_desc {
    int is_image;              /* 1: (c, h, w) images with one range [lo, hi] */
    int64_t c, h, w;
    float lo, hi;
} foil_input_desc;

/* Parse a comma-separated list of preprocessors, applied in order:
 *   squeeze:bits=B (or squeeze:B)   bit-depth reduction to B bits
 *   median:size=K (or median:K)     median smoothing, K x K (default 3)
 *   noise:sigma=S (or noise:S)      Gaussian noise (randomized), seeded by seed
 *   blur:sigma=S (or blur:S)        Gaussian smoothing
 *   jpeg:quality=Q (or jpeg:Q)      JPEG compression at quality Q (default 75)
 *   tv:lambda=L (or tv:L)           total-variation minimization (randomized;
 *                                   default lambda 0.5, ART's other defaults)
 * e.g. "squeeze:bits=4,median:3". Fills out[0 .. *count) (at most max);
 * errors name the stage and the accepted forms, and free what was made. */
foil_status foil_preprocessors_parse(const char *list, const foil_input_desc *in, uint64_t seed,
                                     foil_preprocessor *out, int max, int *count);
void foil_preprocessors_free(foil_preprocessor *pre, int n);

#ifdef __cplusplus
}
#endif
#endif
