/*
 * foil/data.h - datasets: the built-in ones and the user's own files.
 *
 * Every dataset is float32 examples x (N, ...) with int64 labels y (N) in
 * [0, classes), plus per-feature bounds that attacks must respect.
 *
 * Bounds (the input range). Images are x of rank >= 4, (N, C, H, W, ...):
 * every pixel gets one range, [0, 1] unless the spec gives another
 * (`--bounds LOW,HIGH`), never a range observed per pixel in a file; image
 * values outside it are an error that says the range seen and how to pass
 * it. uint8 data (IDX, NPY, the built-in images) spans the range: a byte v
 * becomes LOW + v * (HIGH - LOW) / 255, so [0, 1] gives v / 255 and
 * `--bounds 0,255` the raw byte. Tabular data (N, F) of other types gets
 * each feature's observed [min, max] over the whole file (both splits, so
 * every example lies inside), or, with a given range, that one range for
 * every feature (values outside it are an error).
 *
 * Specs accepted by --data:
 *   fashion-mnist   Debian's dataset-fashion-mnist IDX files: 60,000 train /
 *                   10,000 test images (N, 1, 28, 28), pixels / 255.
 *   digits, breast-cancer, wine
 *                   the CSV datasets python3-sklearn ships; a seeded,
 *                   stratified 75/25 train/test split (seed 0 unless given).
 *   FILE.idx[.gz] with --labels FILE.idx[.gz]   an IDX pair (uint8 mapped
 *                   onto the range as above; other types used as they are).
 *   FILE.npy with --labels FILE.npy             an NPY pair (the same).
 *   FILE.csv with --label-column NAME           a CSV with a header row; every
 *                   other column is a numeric feature.
 *   DIR             a directory of class folders of PGM images (P5 or P2,
 *                   8-bit), one class per folder in natural order (s1, s2,
 *                   ..., s10), e.g. the AT&T faces: (N, 1, H, W), pixels /
 *                   maxval; every image the same size.
 * For the user's own files the TRAIN and TEST splits are a seeded, stratified
 * 80/20 split; FOIL_SPLIT_ALL is the whole file (what `foil eval` and
 * `foil attack` use by default: only `foil train` splits a user's file).
 */
#ifndef FOIL_DATA_H
#define FOIL_DATA_H

#include <stdint.h>

#include "foil/status.h"
#include "foil/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { FOIL_SPLIT_TRAIN = 0, FOIL_SPLIT_TEST = 1, FOIL_SPLIT_ALL = 2 } foil_split;

typedef struct foil_data_spec {
    const char *data;          /* built-in name or file path (required) */
    const char *labels;        /* label file for IDX/NPY pairs */
    const char *label_column;  /* label column for CSV */
    uint64_t seed;             /* split seed */
    int has_bounds;            /* 1: bounds_low/high is the input range (--bounds) */
    float bounds_low, bounds_high;
} foil_data_spec;

typedef struct foil_dataset {
    char name[64];             /* "fashion-mnist", "wine", or the file's base name */
    foil_tensor x;             /* float32 (N, ...) */
    foil_tensor y;             /* int64 (N) */
    int64_t classes;           /* labels lie in [0, classes) */
    foil_tensor lower, upper;  /* float32, shaped like one example: per-feature bounds */
    int is_image;              /* 1: (N, C, H, W, ...), one range for every pixel; 0: tabular (N, F) */
    char **feature_names;      /* tabular: F names (NULL for images) */
    char **class_names;        /* classes names when known (NULL otherwise) */
} foil_dataset;

/* Load one split of the dataset named by spec. Bad files (wrong magic,
 * truncated, wrong shapes, labels out of range or not integers, NaN/inf,
 * unparsable CSV cells, counts that disagree) give a clear error naming the
 * file and the problem. */
foil_status foil_data_load(const foil_data_spec *spec, foil_split split, foil_dataset *out);

void foil_dataset_free(foil_dataset *d);

/* A deep copy of src into dst (names, bounds and all). */
foil_status foil_dataset_copy(foil_dataset *dst, const foil_dataset *src);

/* dst: the examples index[0..n) of src, in that order (repeats allowed),
 * with src's names and bounds. FOIL_ERR_ARG for an index out of range. */
foil_status foil_dataset_select(foil_dataset *dst, const foil_dataset *src, const int64_t *index, int64_t n);

/* 1 when `name` is a built-in dataset (which has its own train/test split),
 * 0 when --data would read it as a file. */
int foil_data_is_builtin(const char *name);

/* Number of features of one example (product of x's non-batch dims). */
int64_t foil_dataset_example_size(const foil_dataset *d);

/* Per-feature mean and standard deviation over the examples (out arrays of
 * foil_dataset_example_size floats). Used to build a model's input
 * normalization from its training data; a feature constant there (std
 * below 1e-6) gets std 1, as sklearn's StandardScaler gives it: divided
 * by 1e-6, the smallest change to it at test time would swamp every other
 * feature (a model trained on digits, whose border pixels are 0 in some
 * training sets, then changed its answer under noise of 1e-6). */
void foil_dataset_moments(const foil_dataset *d, float *mean, float *std);

#ifdef __cplusplus
}
#endif
#endif
