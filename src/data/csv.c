/*
 * data/csv.c - CSV records, and the user's CSV datasets.
 *
 * The reader takes RFC 4180 with the leniencies real files need:
 *   - fields are separated by ','; records end in LF, CRLF or a lone CR;
 *   - a field may be quoted ("..."), with "" for a quote inside; quoted
 *     fields may hold commas and line breaks;
 *   - spaces and tabs around a field are dropped (inside quotes they stay);
 *   - blank lines (anywhere, including trailing ones) are skipped;
 *   - a UTF-8 byte-order mark at the start is skipped.
 * Errors say "FILE:LINE:COLUMN: problem", COLUMN counting bytes from 1.
 *
 * A user CSV (foilDataLoadCsv) has a header row naming the columns; the column
 * named by --label-column holds the labels and every other column is a
 * numeric feature (float32; empty cells, NaN and infinities are errors).
 * Labels are either all integers in [0, 1000) ("3", "3.0"), giving classes =
 * max + 1 and no class names, or, when any label cell is not a number,
 * strings: the distinct strings sorted bytewise are classes 0, 1, ... and
 * become the class names.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

/* ------------------------------------------------------------------------- */
/* the record reader                                                         */

void foilDataCsvInit(FoilDataCsv *r, const char *path, const char *text, size_t len)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->p = text;
    r->end = text + len;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) r->p += 3;
    r->line = 1;
    r->line_start = r->p;
}

void foilDataCsvFree(FoilDataCsv *r)
{
    free(r->scratch);
    free(r->offs);
    free(r->field);
    free(r->field_line);
    free(r->field_col);
    memset(r, 0, sizeof *r);
}

static int put(FoilDataCsv *r, char c)
{
    if (r->scratch_len == r->scratch_cap) {
        size_t cap = r->scratch_cap ? 2 * r->scratch_cap : 256;
        char *s = realloc(r->scratch, cap);
        if (!s) return 0;
        r->scratch = s;
        r->scratch_cap = cap;
    }
    r->scratch[r->scratch_len++] = c;
    return 1;
}

static int grow_fields(FoilDataCsv *r)
{
    if (r->nfields < r->cap) return 1;
    int64_t cap = r->cap ? 2 * r->cap : 16;
    size_t *o = realloc(r->offs, (size_t)cap * sizeof *o);
    if (o) r->offs = o;
    char **f = realloc(r->field, (size_t)cap * sizeof *f);
    if (f) r->field = f;
    int64_t *l = realloc(r->field_line, (size_t)cap * sizeof *l);
    if (l) r->field_line = l;
    int64_t *c = realloc(r->field_col, (size_t)cap * sizeof *c);
    if (c) r->field_col = c;
    if (!o || !f || !l || !c) return 0;
    r->cap = cap;
    return 1;
}

/* Step over the line break at r->p (LF, CRLF or CR). */
static void newline(FoilDataCsv *r)
{
    if (*r->p == '\r' && r->p + 1 < r->end && r->p[1] == '\n') r->p++;
    r->p++;
    r->line++;
    r->line_start = r->p;
}

static int64_t col_of(const FoilDataCsv *r, const char *p) { return (int64_t)(p - r->line_start) + 1; }

int foilDataCsvNext(FoilDataCsv *r, foil_status *st)
{
    *st = FOIL_OK;
    for (;;) {
        if (r->p >= r->end) return 0;
        r->nfields = 0;
        r->scratch_len = 0;
        r->rec_line = r->line;
        int blank = 1;
        for (;;) {
            if (!grow_fields(r)) goto nomem;
            while (r->p < r->end && (*r->p == ' ' || *r->p == '\t')) r->p++;
            int64_t fl = r->line, fc = col_of(r, r->p);
            r->offs[r->nfields] = r->scratch_len;
            r->field_line[r->nfields] = fl;
            r->field_col[r->nfields] = fc;
            if (r->p < r->end && *r->p == '"') {
                blank = 0;
                r->p++;
                for (;;) {
                    if (r->p >= r->end) {
                        *st = foil_error(FOIL_ERR_FORMAT, "%s:%lld:%lld: quoted field is never closed", r->path,
                                         (long long)fl, (long long)fc);
                        return -1;
                    }
                    char c = *r->p;
                    if (c == '"') {
                        if (r->p + 1 < r->end && r->p[1] == '"') {
                            if (!put(r, '"')) goto nomem;
                            r->p += 2;
                            continue;
                        }
                        r->p++;
                        break;
                    }
                    if (c == '\r' || c == '\n') {
                        if (!put(r, '\n')) goto nomem;
                        newline(r);
                        continue;
                    }
                    if (!put(r, c)) goto nomem;
                    r->p++;
                }
                while (r->p < r->end && (*r->p == ' ' || *r->p == '\t')) r->p++;
                if (r->p < r->end && *r->p != ',' && *r->p != '\r' && *r->p != '\n') {
                    *st = foil_error(FOIL_ERR_FORMAT, "%s:%lld:%lld: unexpected '%c' after a closing quote", r->path,
                                     (long long)r->line, (long long)col_of(r, r->p), *r->p);
                    return -1;
                }
            } else {
                while (r->p < r->end && *r->p != ',' && *r->p != '\r' && *r->p != '\n') {
                    if (!put(r, *r->p)) goto nomem;
                    r->p++;
                }
                while (r->scratch_len > r->offs[r->nfields] &&
                       (r->scratch[r->scratch_len - 1] == ' ' || r->scratch[r->scratch_len - 1] == '\t'))
                    r->scratch_len--;
                if (r->scratch_len > r->offs[r->nfields]) blank = 0;
            }
            if (!put(r, '\0')) goto nomem;
            r->nfields++;
            if (r->p < r->end && *r->p == ',') {
                blank = 0;
                r->p++;
                continue;
            }
            if (r->p < r->end) newline(r);
            break;
        }
        if (blank) continue;
        for (int64_t i = 0; i < r->nfields; i++) r->field[i] = r->scratch + r->offs[i];
        return 1;
    }
nomem:
    *st = foil_error(FOIL_ERR_NOMEM, "%s:%lld: out of memory", r->path, (long long)r->line);
    return -1;
}

foil_status foilDataCsvNumber(const FoilDataCsv *r, int64_t i, const char *colname, double *v)
{
    const char *s = r->field[i];
    char where[64 + 256];
    if (colname)
        snprintf(where, sizeof where, "%s:%lld:%lld: column '%.200s'", r->path, (long long)r->field_line[i],
                 (long long)r->field_col[i], colname);
    else
        snprintf(where, sizeof where, "%s:%lld:%lld: column %lld", r->path, (long long)r->field_line[i],
                 (long long)r->field_col[i], (long long)i + 1);
    if (!*s) return foil_error(FOIL_ERR_FORMAT, "%s: empty cell (missing values are not supported)", where);
    char *e;
    double d = strtod(s, &e);
    if (e == s || *e)
        return foil_error(FOIL_ERR_FORMAT, "%s: cannot parse '%.40s' as a number", where, s);
    if (isnan(d)) return foil_error(FOIL_ERR_FORMAT, "%s: NaN is not allowed", where);
    if (isinf(d)) return foil_error(FOIL_ERR_FORMAT, "%s: '%.40s' is infinite or out of range", where, s);
    if (fabs(d) > FLT_MAX) return foil_error(FOIL_ERR_FORMAT, "%s: %.40s is out of float32 range", where, s);
    *v = d;
    return FOIL_OK;
}

/* ------------------------------------------------------------------------- */
/* the user's CSV                                                            */

typedef struct csv_rows {
    float *x;
    char **label;             /* one malloc'd string per row */
    int64_t *lline, *lcol;    /* where each label cell is */
    int64_t n, cap;
} csv_rows;

static void rows_free(csv_rows *w)
{
    if (w->label)
        for (int64_t i = 0; i < w->n; i++) free(w->label[i]);
    free(w->x);
    free(w->label);
    free(w->lline);
    free(w->lcol);
    memset(w, 0, sizeof *w);
}

static int rows_grow(csv_rows *w, int64_t F)
{
    if (w->n < w->cap) return 1;
    int64_t cap = w->cap ? 2 * w->cap : 1024;
    float *x = realloc(w->x, (size_t)cap * (size_t)F * sizeof *x);
    if (x) w->x = x;
    char **l = realloc(w->label, (size_t)cap * sizeof *l);
    if (l) w->label = l;
    int64_t *ll = realloc(w->lline, (size_t)cap * sizeof *ll);
    if (ll) w->lline = ll;
    int64_t *lc = realloc(w->lcol, (size_t)cap * sizeof *lc);
    if (lc) w->lcol = lc;
    if (!x || !l || !ll || !lc) return 0;
    w->cap = cap;
    return 1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Turn the label cells into int64 classes (see the top of the file). */
static foil_status csv_labels(const char *path, const char *col, csv_rows *w, FoilDataFull *f)
{
    const int64_t n = w->n;
    int numeric = 1;
    for (int64_t i = 0; i < n && numeric; i++) {
        const char *s = w->label[i];
        char *e;
        if (!*s) return foil_error(FOIL_ERR_FORMAT, "%s:%lld:%lld: empty label in column '%s'", path,
                                   (long long)w->lline[i], (long long)w->lcol[i], col);
        (void)strtod(s, &e);
        if (e == s || *e) numeric = 0;
    }
    foil_status st = foil_tensor_alloc(&f->y, FOIL_I64, 1, &w->n);
    if (st) return foil_error_prefix(st, "%s", path);
    int64_t *y = foil_i64(&f->y);
    if (numeric) {
        int64_t mx = 0;
        for (int64_t i = 0; i < n; i++) {
            double v = strtod(w->label[i], NULL);
            if (!(v == floor(v)))
                return foil_error(FOIL_ERR_FORMAT, "%s:%lld:%lld: label '%.40s' in column '%s' is not an integer class",
                                  path, (long long)w->lline[i], (long long)w->lcol[i], w->label[i], col);
            if (v < 0 || v >= DL_MAX_CLASSES)
                return foil_error(FOIL_ERR_FORMAT, "%s:%lld:%lld: label %.40s in column '%s' is out of range; class "
                                  "labels must lie in [0, %d)", path, (long long)w->lline[i], (long long)w->lcol[i],
                                  w->label[i], col, DL_MAX_CLASSES);
            y[i] = (int64_t)v;
            mx = y[i] > mx ? y[i] : mx;
        }
        f->classes = mx + 1;
        return FOIL_OK;
    }
    /* strings: sorted distinct values */
    char **u = malloc((size_t)n * sizeof *u);
    if (!u) return foil_error(FOIL_ERR_NOMEM, "%s: out of memory", path);
    memcpy(u, w->label, (size_t)n * sizeof *u);
    qsort(u, (size_t)n, sizeof *u, cmp_str);
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (k == 0 || strcmp(u[k - 1], u[i]) != 0) u[k++] = u[i];
    if (k > DL_MAX_CLASSES) {
        free(u);
        return foil_error(FOIL_ERR_FORMAT, "%s: label column '%s' has %lld distinct values; foil supports up to %d "
                          "classes (is it the right column?)", path, col, (long long)k, DL_MAX_CLASSES);
    }
    for (int64_t i = 0; i < n; i++) {
        char **hit = bsearch(&w->label[i], u, (size_t)k, sizeof *u, cmp_str);
        y[i] = hit - u;
    }
    f->class_names = foilDataStrvNew(k);
    for (int64_t c = 0; f->class_names && c < k; c++)
        if (!(f->class_names[c] = foilDataStrdup(u[c]))) {
            foilDataStrvFree(f->class_names);
            f->class_names = NULL;
        }
    free(u);
    if (!f->class_names) return foil_error(FOIL_ERR_NOMEM, "%s: out of memory", path);
    f->classes = k;
    return FOIL_OK;
}

foil_status foilDataLoadCsv(const foil_data_spec *spec, FoilDataFull *f)
{
    const char *path = spec->data, *col = spec->label_column;
    memset(f, 0, sizeof *f);
    char *text;
    size_t len;
    foil_status st = foilDataReadText(path, &text, &len);
    if (st) return st;
    if (memchr(text, '\0', len)) {
        free(text);
        return foil_error(FOIL_ERR_FORMAT, "%s: holds NUL bytes; not a text CSV file", path);
    }
    FoilDataCsv r;
    foilDataCsvInit(&r, path, text, len);
    csv_rows w;
    memset(&w, 0, sizeof w);
    int64_t ncols = 0, lab = -1, F = 0;
    int got = foilDataCsvNext(&r, &st);
    if (got < 0) goto out;
    if (got == 0) {
        st = foil_error(FOIL_ERR_FORMAT, "%s: empty file (expected a header row naming the columns)", path);
        goto out;
    }
    ncols = r.nfields;
    for (int64_t j = 0; j < ncols; j++) {
        if (strcmp(r.field[j], col) != 0) continue;
        if (lab >= 0) {
            st = foil_error(FOIL_ERR_FORMAT, "%s:%lld: the header names column '%s' twice (columns %lld and %lld)",
                            path, (long long)r.rec_line, col, (long long)lab + 1, (long long)j + 1);
            goto out;
        }
        lab = j;
    }
    if (lab < 0) {
        char list[400];
        size_t k = 0;
        list[0] = '\0';
        for (int64_t j = 0; j < ncols && k + 8 < sizeof list; j++) {
            int m = snprintf(list + k, sizeof list - k, "%s'%s'", j ? ", " : "", r.field[j]);
            if (m < 0) break;
            k += (size_t)m;
        }
        if (k >= sizeof list) strcpy(list + sizeof list - 5, "...");
        st = foil_error(FOIL_ERR_FORMAT, "%s: no column named '%s' in the header (columns: %s)", path, col, list);
        goto out;
    }
    F = ncols - 1;
    if (F == 0) {
        st = foil_error(FOIL_ERR_FORMAT, "%s: the label column '%s' is the only column; there are no features", path, col);
        goto out;
    }
    f->feature_names = foilDataStrvNew(F);
    if (!f->feature_names) goto nomem;
    for (int64_t j = 0, k = 0; j < ncols; j++) {
        if (j == lab) continue;
        char gen[32];
        if (!r.field[j][0]) snprintf(gen, sizeof gen, "column_%lld", (long long)j + 1);
        if (!(f->feature_names[k++] = foilDataStrdup(r.field[j][0] ? r.field[j] : gen))) goto nomem;
    }

    while ((got = foilDataCsvNext(&r, &st)) == 1) {
        if (r.nfields != ncols) {
            st = foil_error(FOIL_ERR_FORMAT, "%s:%lld: this row has %lld fields but the header has %lld", path,
                            (long long)r.rec_line, (long long)r.nfields, (long long)ncols);
            goto out;
        }
        if (!rows_grow(&w, F)) goto nomem;
        float *row = w.x + w.n * F;
        for (int64_t j = 0, k = 0; j < ncols; j++) {
            if (j == lab) continue;
            double v;
            if ((st = foilDataCsvNumber(&r, j, f->feature_names[k], &v))) goto out;
            row[k++] = (float)v;
        }
        if (!(w.label[w.n] = foilDataStrdup(r.field[lab]))) goto nomem;
        w.lline[w.n] = r.field_line[lab];
        w.lcol[w.n] = r.field_col[lab];
        w.n++;
    }
    if (got < 0) goto out;
    if (w.n == 0) {
        st = foil_error(FOIL_ERR_FORMAT, "%s: no data rows after the header", path);
        goto out;
    }
    if ((st = csv_labels(path, col, &w, f))) goto out;
    int64_t shape[2] = {w.n, F};
    if ((st = foil_tensor_alloc(&f->x, FOIL_F32, 2, shape))) {
        st = foil_error_prefix(st, "%s", path);
        goto out;
    }
    memcpy(f->x.data, w.x, (size_t)(w.n * F) * sizeof(float));
    f->is_image = 0;
    f->from_bytes = 0;
    goto out;
nomem:
    st = foil_error(FOIL_ERR_NOMEM, "%s: out of memory", path);
out:
    rows_free(&w);
    foilDataCsvFree(&r);
    free(text);
    if (st) foilDataFullFree(f);
    return st;
}
