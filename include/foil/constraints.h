/*
 * foil/constraints.h - feasibility constraints on tabular data: features an
 * attacker may not change, features that must stay integers, per-feature
 * bounds; from comma-separated lists (--immutable, --integer) or a rules
 * file (--constraints). The threat model (foil/evasion.h) carries the
 * resulting arrays; poisoning and extraction will read them too.
 */
#ifndef FOIL_CONSTRAINTS_H
#define FOIL_CONSTRAINTS_H

#include <stdint.h>

#include "foil/data.h"
#include "foil/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The index of a feature of d by name (tabular datasets name their
 * columns) or by 0-based index written as a number. */
foil_status foil_feature_index(const foil_dataset *d, const char *name, int64_t *index);
/* Set mask[j] = 1 for each feature in a comma-separated list of names or
 * indices (blanks around each name are ignored). */
foil_status foil_features_mark(const foil_dataset *d, const char *list, uint8_t *mask);
/* Apply a constraint file to a tabular dataset's threat arrays (D entries
 * each): lines "immutable NAMES", "integer NAMES", "bounds NAME LOW HIGH";
 * '#' comments. Bounds replace lower/upper for that feature and must
 * contain every example of d. Errors name the file and the line. */
foil_status foil_constraints_load(const char *path, const foil_dataset *d, uint8_t *immutable, uint8_t *integer,
                                  float *lower, float *upper);

#ifdef __cplusplus
}
#endif
#endif
