/*
 * foil/manifest.h - dataset integrity manifests: which data made which
 * model.
 *
 * A manifest is a JSON file (schema "foil-manifest/1") that records a
 * dataset as --data names it: the SHA-256 and size of every file it is read
 * from, and the SHA-256 of every example as foil loads it (its float32
 * values, then its int64 label, little-endian), in the order of the whole
 * dataset (FOIL_SPLIT_ALL: for a built-in dataset its training split, then
 * its test split). The dataset's own hash is the SHA-256 of the example
 * hashes in that order: one value a model's metadata can carry.
 *
 * Checking data against a manifest finds every changed file (by its bytes)
 * and the first changed example (by its values), so that a corrupted
 * example is named, not only the file it sits in; a dataset with more or
 * fewer examples is refused too.
 */
#ifndef FOIL_MANIFEST_H
#define FOIL_MANIFEST_H

#include "foil/data.h"
#include "foil/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct foil_manifest_file {
    char *path;
    int64_t bytes;
    char sha256[65];                 /* lower-case hex */
} foil_manifest_file;

typedef struct foil_manifest {
    char *data;                      /* --data as given */
    char *labels;                    /* --labels, or NULL */
    char *label_column;              /* --label-column, or NULL */
    int64_t examples;
    int64_t classes;
    char sha256[65];                 /* the dataset: SHA-256 of the example hashes */
    foil_manifest_file *files;
    int n_files;
    unsigned char (*example_sha256)[32];  /* one per example */
} foil_manifest;

/* Load spec's whole dataset, hash its files and its examples. */
foil_status foil_manifest_create(const foil_data_spec *spec, foil_manifest *out);

/* Write as JSON (atomically) / read one back; errors name the file and
 * the problem (not JSON, a field missing or malformed, a count that
 * disagrees). */
foil_status foil_manifest_write(const foil_manifest *m, const char *path);
foil_status foil_manifest_read(const char *path, foil_manifest *out);

/* Check the data spec names against the manifest read from manifest_path:
 * FOIL_ERR_FORMAT naming the manifest, every file whose bytes changed, and
 * the first example whose values or label differ (its index in the whole
 * dataset, and its file and row where the dataset is one array), or a
 * dataset of another size or another --data. FOIL_OK when every file and
 * every example is as manifested. */
foil_status foil_manifest_verify(const foil_manifest *m, const char *manifest_path, const foil_data_spec *spec);

void foil_manifest_free(foil_manifest *m);

#ifdef __cplusplus
}
#endif
#endif
