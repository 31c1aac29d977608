/*
 * data/constraints.c - tabular feasibility constraints: which features an
 * attacker may not change, which must stay integers, and per-feature bounds,
 * from a comma-separated list or from a small text file.
 *
 * File format, one rule per line; '#' starts a comment; blank lines skip:
 *   immutable NAME[, NAME...]
 *   integer NAME[, NAME...]
 *   bounds NAME LOW HIGH
 * A NAME is a feature name of the dataset (names may contain spaces) or a
 * 0-based index.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "foil/constraints.h"
#include "io/file.h"

enum { MAX_CONSTRAINTS_BYTES = 1 << 20, MAX_NAME = 256 };

foil_status foil_feature_index(const foil_dataset *d, const char *name, int64_t *index)
{
    int64_t f = foil_dataset_example_size(d);
    for (int64_t j = 0; d->feature_names && j < f; j++)
        if (strcmp(d->feature_names[j], name) == 0) {
            *index = j;
            return FOIL_OK;
        }
    char *end;
    long long v = strtoll(name, &end, 10);
    if (*name && !*end && v >= 0 && v < f) {
        *index = v;
        return FOIL_OK;
    }
    return foil_error(FOIL_ERR_ARG, "'%s' is not a feature name or index of %s (%lld features)", name, d->name,
                      (long long)f);
}

/* Copy s[0, len) without surrounding blanks into buf; 0 if it is too long. */
static int trimmed(const char *s, size_t len, char *buf, size_t size)
{
    while (len && isspace((unsigned char)*s)) s++, len--;
    while (len && isspace((unsigned char)s[len - 1])) len--;
    if (len >= size) return 0;
    memcpy(buf, s, len);
    buf[len] = 0;
    return 1;
}

foil_status foil_features_mark(const foil_dataset *d, const char *list, uint8_t *mask)
{
    char name[MAX_NAME];
    if (!list) return FOIL_OK;
    while (list) { /* every comma-separated item, the last one included */
        const char *comma = strchr(list, ',');
        size_t len = comma ? (size_t)(comma - list) : strlen(list);
        if (!trimmed(list, len, name, sizeof name) || !*name)
            return foil_error(FOIL_ERR_ARG, "empty or overlong feature name in the list '%s'", list);
        int64_t j;
        foil_status st = foil_feature_index(d, name, &j);
        if (st) return st;
        mask[j] = 1;
        list = comma ? comma + 1 : NULL;
    }
    return FOIL_OK;
}

/* "NAME LOW HIGH": the last two blank-separated words are the numbers. */
static foil_status parse_bounds(const foil_dataset *d, char *rule, float *lower, float *upper)
{
    char *hi_word = strrchr(rule, ' ');
    if (!hi_word) return foil_error(FOIL_ERR_FORMAT, "bounds needs NAME LOW HIGH");
    *hi_word++ = 0;
    char *lo_word = strrchr(rule, ' ');
    if (!lo_word) return foil_error(FOIL_ERR_FORMAT, "bounds needs NAME LOW HIGH");
    *lo_word++ = 0;
    char name[MAX_NAME], *e1, *e2;
    double lo = strtod(lo_word, &e1), hi = strtod(hi_word, &e2);
    if (*e1 || *e2 || !isfinite(lo) || !isfinite(hi) || lo > hi)
        return foil_error(FOIL_ERR_FORMAT, "bounds '%s %s' must be two finite numbers, LOW <= HIGH", lo_word,
                          hi_word);
    if (!trimmed(rule, strlen(rule), name, sizeof name) || !*name)
        return foil_error(FOIL_ERR_FORMAT, "bounds needs NAME LOW HIGH");
    int64_t j;
    foil_status st = foil_feature_index(d, name, &j);
    if (st) return st;
    /* The clean examples themselves must be feasible, or no attack output
     * could be both within eps of x and inside the bounds. */
    int64_t n = d->x.shape[0], f = foil_dataset_example_size(d);
    const float *x = foil_f32(&d->x);
    for (int64_t i = 0; i < n; i++)
        if (x[i * f + j] < lo || x[i * f + j] > hi)
            return foil_error(FOIL_ERR_ARG, "bounds [%g, %g] for '%s' exclude example %lld (value %g)", lo, hi, name,
                              (long long)i, x[i * f + j]);
    lower[j] = (float)lo;
    upper[j] = (float)hi;
    return FOIL_OK;
}

static foil_status apply_rule(const foil_dataset *d, char *line, uint8_t *immutable, uint8_t *integer, float *lower,
                              float *upper)
{
    char *hash = strchr(line, '#');
    if (hash) *hash = 0;
    while (isspace((unsigned char)*line)) line++;
    if (!*line) return FOIL_OK;
    size_t kw = strcspn(line, " \t");
    char *rest = line + kw;
    if (*rest) *rest++ = 0;
    for (char *p = rest; *p; p++)
        if (*p == '\t' || *p == '\r') *p = ' ';
    if (strcmp(line, "immutable") == 0) return foil_features_mark(d, rest, immutable);
    if (strcmp(line, "integer") == 0) return foil_features_mark(d, rest, integer);
    if (strcmp(line, "bounds") == 0) {
        size_t len = strlen(rest);
        while (len && rest[len - 1] == ' ') rest[--len] = 0;
        return parse_bounds(d, rest, lower, upper);
    }
    return foil_error(FOIL_ERR_FORMAT, "unknown rule '%s' (immutable, integer or bounds)", line);
}

foil_status foil_constraints_load(const char *path, const foil_dataset *d, uint8_t *immutable, uint8_t *integer,
                                  float *lower, float *upper)
{
    if (d->is_image) return foil_error(FOIL_ERR_ARG, "%s: constraints apply to tabular data, not images", path);
    uint8_t *buf;
    size_t len;
    foil_status st = foilReadFile(path, MAX_CONSTRAINTS_BYTES, &buf, &len);
    if (st) return st;
    char *text = malloc(len + 1);
    if (!text) {
        free(buf);
        return foil_error(FOIL_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(text, buf, len);
    text[len] = 0;
    free(buf);
    for (size_t k = 0; k < len && !st; k++)
        if ((unsigned char)text[k] < 0x20 && !isspace((unsigned char)text[k]))
            st = foil_error(FOIL_ERR_FORMAT, "%s: not a text file (control byte 0x%02x at offset %zu)", path,
                            (unsigned char)text[k], k);
    int line_no = 1;
    for (char *line = text; !st && line; line_no++) {
        char *next = strchr(line, '\n');
        if (next) *next++ = 0;
        if ((st = apply_rule(d, line, immutable, integer, lower, upper)))
            st = foil_error_prefix(st, "%s: line %d", path, line_no);
        line = next;
    }
    free(text);
    return st;
}
