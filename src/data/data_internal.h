/*
 * data/data_internal.h - what the dataset loaders share (not public).
 *
 * Every loader produces a dl_full: all of a file's examples, converted to
 * float32 (N, ...) with int64 labels, plus what the bounds should be. Then
 * dl_finish() cuts the requested split out of it (see data.c for the split
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

typedef struct dl_full {
    foil_tensor x;          /* float32 (N, ...) */
    foil_tensor y;          /* int64 (N) */
    int64_t classes;
    int is_image;           /* x has rank >= 4: (N, C, H, W, ...) */
    int from_bytes;         /* x holds uint8 values / 255, to be mapped onto the input range */
    char **feature_names;   /* NULL-terminated, or NULL */
    char **class_names;     /* NULL-terminated, or NULL */
} dl_full;

void dl_full_free(dl_full *f);

/* How dl_finish cuts the split: a seeded stratified split with a fraction
 * num/den of each class in TRAIN, or none (the loader already read exactly
 * the split asked for). */
typedef struct dl_split_rule {
    int stratified;
    int64_t num, den;
    uint64_t seed;
} dl_split_rule;

/* Move f (consumed, even on failure) into out as the split asked for, with
 * the bounds foil/data.h describes (spec: the --bounds range, if given).
 * `what` names the dataset in errors. */
foil_status dl_finish(dl_full *f, const char *name, const char *what, dl_split_rule rule, const foil_data_spec *spec,
                      foil_split split, foil_dataset *out);

/* Seeded stratified split of labels y[0..n) (classes in [0, classes)):
 * is_train[i] = 1 for the training examples. See data.c for the procedure. */
foil_status dl_stratified_split(const int64_t *y, int64_t n, int64_t classes, int64_t num, int64_t den,
                                uint64_t seed, uint8_t *is_train);

/* Check labels of a tensor (any integer dtype, converted to int64 into *out,
 * or float values that are integral) against [0, DL_MAX_CLASSES); *classes =
 * max + 1. Errors name `path`. Accepts shapes (N) and (N, 1). */
foil_status dl_labels_from_tensor(const char *path, foil_tensor *src, foil_tensor *out, int64_t *classes);

/* Check that every value of a float32 tensor is finite; `path` names it. */
foil_status dl_check_finite(const char *path, const foil_tensor *x);

/* malloc'd NULL-terminated string vectors. */
char **dl_strv_new(int64_t n);
void dl_strv_free(char **v);
char *dl_strdup(const char *s);

/* Read a whole file, plain or gzip-compressed, into a NUL-terminated buffer. */
foil_status dl_read_text(const char *path, char **buf, size_t *len);

/* ------------------------------------------------------------------------- */
/* CSV records (RFC 4180 with the usual leniencies, see csv.c)              */

typedef struct dl_csv {
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
} dl_csv;

void dl_csv_init(dl_csv *r, const char *path, const char *text, size_t len);
void dl_csv_free(dl_csv *r);
/* Read the next non-blank record: 1 if one was read, 0 at the end, -1 on a
 * syntax error (message set, *st the code). */
int dl_csv_next(dl_csv *r, foil_status *st);

/* Parse field i of the current record as a finite number that fits float32.
 * Errors read "path:line:col: ...", naming `colname` when given. */
foil_status dl_csv_number(const dl_csv *r, int64_t i, const char *colname, double *v);

/* Loaders. */
foil_status dl_load_csv(const foil_data_spec *spec, dl_full *f);
foil_status dl_load_array_pair(const foil_data_spec *spec, int data_is_idx, dl_full *f);
/* Convert a raw array of examples (any numeric dtype, N first) to the dl_full
 * conventions: uint8 / 255 (from_bytes), rank 3 -> (N, 1, H, W), NHWC ->
 * NCHW, finite check, image = rank >= 4. Consumes *raw. */
foil_status dl_examples_from_tensor(const char *path, foil_tensor *raw, dl_full *f);

foil_status dl_load_fashion_mnist(foil_split split, dl_full *f);
foil_status dl_load_sklearn(const char *which, dl_full *f);

#endif
