/*
 * data/data_internal.h - what the dataset loaders share (not public).
 *
 * Every loader produces a FoilDataFull: all of a file's examples, converted to
 * float32 (N, ...) with int64 labels, plus what the bounds should be. Then
 * foilDataFinish() cuts the requested split out of it (see data.c for the split
 * procedure) and fills the public foil_dataset.
 */
#ifndef FOIL_DATA_INTERNAL_H
#define FOIL_DATA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "foil/data.h"

/* Labels must lie in [0, DL_MAX_CLASSES): larger ones are a wrong column or a
 * regression target, not class labels. */
#define DL_MAX_CLASSES 1000

typedef struct FoilDataFull {
    foil_tensor x;          /* float32 (N, ...) */
    foil_tensor y;          /* int64 (N) */
    int64_t classes;
    int is_image;           /* x has rank >= 4: (N, C, H, W, ...) */
    int from_bytes;         /* x holds uint8 values / 255, to be mapped onto the input range */
    char **feature_names;   /* NULL-terminated, or NULL */
    char **class_names;     /* NULL-terminated, or NULL */
} FoilDataFull;

void foilDataFullFree(FoilDataFull *f);

/* How foilDataFinish cuts the split: a seeded stratified split with a fraction
 * num/den of each class in TRAIN, or none (the loader already read exactly
 * the split asked for). */
typedef struct FoilDataSplitRule {
    int stratified;
    int64_t num, den;
    uint64_t seed;
} FoilDataSplitRule;

/* Move f (consumed, even on failure) into out as the split asked for, with
 * the bounds foil/data.h describes (spec: the --bounds range, if given).
 * `what` names the dataset in errors. */
foil_status foilDataFinish(FoilDataFull *f, const char *name, const char *what, FoilDataSplitRule rule, const foil_data_spec *spec,
                      foil_split split, foil_dataset *out);

/* Seeded stratified split of labels y[0..n) (classes in [0, classes)):
 * is_train[i] = 1 for the training examples. See data.c for the procedure. */
foil_status foilDataStratifiedSplit(const int64_t *y, int64_t n, int64_t classes, int64_t num, int64_t den,
                                uint64_t seed, uint8_t *is_train);

/* Check labels of a tensor (any integer dtype, converted to int64 into *out,
 * or float values that are integral) against [0, DL_MAX_CLASSES); *classes =
 * max + 1. Errors name `path`. Accepts shapes (N) and (N, 1). */
foil_status foilDataLabelsFromTensor(const char *path, foil_tensor *src, foil_tensor *out, int64_t *classes);

/* Check that every value of a float32 tensor is finite; `path` names it. */
foil_status foilDataCheckFinite(const char *path, const foil_tensor *x);

/* malloc'd NULL-terminated string vectors. */
char **foilDataStrvNew(int64_t n);
void foilDataStrvFree(char **v);
char *foilDataStrdup(const char *s);

/* Read a whole file, plain or gzip-compressed, into a NUL-terminated buffer. */
foil_status foilDataReadText(const char *path, char **buf, size_t *len);

/* ------------------------------------------------------------------------- */
/* CSV records (RFC 4180 with the usual leniencies, see csv.c)              */

typedef struct FoilDataCsv {
    const char *path;
    const char *p, *end;          /* cursor into the text */
    int64_t line;                 /* line number at the cursor (1-based) */
    const char *line_start;       /* start of the cursor's line */
    /* the record just read: */
    int64_t nfields;
    char **field;                 /* NUL-terminated, unquoted, unquoted ones trimmed */
    int64_t *field_line, *field_col; /* where each field starts (1-based) */
    int64_t rec_line;
    /* storage */
    char *scratch;
    size_t scratch_len, scratch_cap;
    size_t *offs;
    int64_t cap;
} FoilDataCsv;

void foilDataCsvInit(FoilDataCsv *r, const char *path, const char *text, size_t len);
void foilDataCsvFree(FoilDataCsv *r);
/* Read the next non-blank record: 1 if one was read, 0 at the end, -1 on a
 * syntax error (message set, *st the code). */
int foilDataCsvNext(FoilDataCsv *r, foil_status *st);

/* Parse field i of the current record as a finite number that fits float32.
 * Errors read "path:line:col: ...", naming `colname` when given. */
foil_status foilDataCsvNumber(const FoilDataCsv *r, int64_t i, const char *colname, double *v);

/* Loaders. */
foil_status foilDataLoadCsv(const foil_data_spec *spec, FoilDataFull *f);
foil_status foilDataLoadArrayPair(const foil_data_spec *spec, int data_is_idx, FoilDataFull *f);
/* Convert a raw array of examples (any numeric dtype, N first) to the FoilDataFull
 * conventions: uint8 / 255 (from_bytes), rank 3 -> (N, 1, H, W), NHWC ->
 * NCHW, finite check, image = rank >= 4. Consumes *raw. */
foil_status foilDataExamplesFromTensor(const char *path, foil_tensor *raw, FoilDataFull *f);

/* PGM images (pgm.c). */
typedef struct FoilPgm {
    int64_t width, height, maxval;
    int binary;             /* P5; 0 for the ASCII P2 */
    uint8_t *pixels;        /* height rows of width values, each <= maxval */
} FoilPgm;
/* Parse the PGM in buf[0..len) (errors name path); foilDataPgmFree after success. */
foil_status foilDataParsePgm(const char *path, const uint8_t *buf, size_t len, FoilPgm *img);
foil_status foilDataReadPgm(const char *path, FoilPgm *img);
void foilDataPgmFree(FoilPgm *img);
/* spec->data a directory of class folders of .pgm images (pgm.c). */
foil_status foilDataLoadPgmDir(const foil_data_spec *spec, FoilDataFull *f);
/* The image files of a directory of class folders, in the order
 * foilDataLoadPgmDir reads them (example i is (*paths)[i]); free each
 * path and the array. */
foil_status foilDataPgmDirFiles(const char *dir, char ***paths, int64_t *n);

foil_status foilDataLoadFashionMnist(foil_split split, FoilDataFull *f);
foil_status foilDataLoadSklearn(const char *which, FoilDataFull *f);
/* The files built-in dataset `name` is read from (at most max, training
 * split first); 0 for a name that is not built in. */
int foilDataBuiltinFiles(const char *name, char paths[][4096], int max);

#endif
