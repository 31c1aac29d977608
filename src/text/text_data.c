/*
 * text/text_data.c - labelled messages (foil/text.h): the LABEL<TAB>TEXT
 * file, the stratified split and the tokenized foil_dataset.
 *
 * The split is data.c's (foilDataStratifiedSplit), so a text file and a
 * CSV file with the same labels and seed split alike; the string vectors
 * are data's too (foilDataStrv*, NULL-terminated), which is what
 * foil_dataset_free frees class names with.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"
#include "foil/text.h"

#define TSV_MAX_LINE ((size_t)1 << 20)

typedef struct Label {
    const char *s;
    size_t len;
} Label;

static int label_cmp(const char *a, size_t na, const char *b, size_t nb)
{
    int c = memcmp(a, b, na < nb ? na : nb);
    return c ? c : (na > nb) - (na < nb);
}

/* Index of s[0..n) in the sorted classes, or -(insertion point) - 1. */
static int64_t label_find(const Label *cls, int64_t k, const char *s, size_t n)
{
    int64_t lo = 0, hi = k;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = label_cmp(cls[mid].s, cls[mid].len, s, n);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -lo - 1;
}

void foil_text_dataset_free(foil_text_dataset *d)
{
    if (!d) return;
    foilDataStrvFree(d->texts);
    free(d->labels);
    foilDataStrvFree(d->class_names);
    memset(d, 0, sizeof *d);
}

/* The messages of a file, read in one pass: each message's label as it
 * appears (mapped to a class once all classes are known). */
typedef struct TsvRead {
    const char *path;
    Label *label;  /* per message */
    int64_t n, cap;
    Label cls[DL_MAX_CLASSES];
    int64_t classes;
} TsvRead;

static foil_status tsv_line(TsvRead *r, foil_text_dataset *out, long long line, const char *p, size_t len)
{
    const char *tab = memchr(p, '\t', len);
    if (!tab)
        return foil_error(FOIL_ERR_FORMAT, "%s:%lld: no tab; every line is LABEL<TAB>TEXT%s", r->path, line,
                          len ? "" : " (an empty line)");
    if (tab == p) return foil_error(FOIL_ERR_FORMAT, "%s:%lld: empty label (the line starts with a tab)", r->path, line);
    size_t nl = (size_t)(tab - p);
    int64_t c = label_find(r->cls, r->classes, p, nl);
    if (c < 0) {
        if (r->classes == DL_MAX_CLASSES)
            return foil_error(FOIL_ERR_FORMAT, "%s:%lld: label \"%.*s\" would be class %d; at most %d classes", r->path,
                              line, (int)(nl < 40 ? nl : 40), p, DL_MAX_CLASSES + 1, DL_MAX_CLASSES);
        int64_t at = -c - 1;
        memmove(r->cls + at + 1, r->cls + at, (size_t)(r->classes - at) * sizeof *r->cls);
        r->cls[at] = (Label){p, nl};
        r->classes++;
    }
    if (r->n == r->cap) {
        int64_t cap = r->cap ? 2 * r->cap : 1024;
        Label *l = realloc(r->label, (size_t)cap * sizeof *l);
        char **t = realloc(out->texts, ((size_t)cap + 1) * sizeof *t);
        if (l) r->label = l;
        if (t) out->texts = t, t[r->n] = NULL;
        if (!l || !t) return foil_error(FOIL_ERR_NOMEM, "%s:%lld: out of memory", r->path, line);
        r->cap = cap;
    }
    size_t nt = len - nl - 1;
    char *text = malloc(nt + 1);
    if (!text) return foil_error(FOIL_ERR_NOMEM, "%s:%lld: out of memory", r->path, line);
    memcpy(text, tab + 1, nt);
    text[nt] = '\0';
    r->label[r->n] = (Label){p, nl};
    out->texts[r->n++] = text;
    out->texts[r->n] = NULL;
    return FOIL_OK;
}

static foil_status tsv_parse(TsvRead *r, const char *buf, size_t len, foil_text_dataset *out)
{
    const char *p = buf, *end = buf + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;
    long long line = 1, blank = 0; /* blank: the first of the empty lines just read */
    for (; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        if (n > TSV_MAX_LINE)
            return foil_error(FOIL_ERR_FORMAT, "%s:%lld: line longer than 1 MiB (%zu bytes)", r->path, line, n);
        if (memchr(p, '\0', n))
            return foil_error(FOIL_ERR_FORMAT, "%s:%lld: a NUL byte (not a text file?)", r->path, line);
        const char *s = p;
        p = nl ? nl + 1 : end;
        if (n && s[n - 1] == '\r') n--;
        if (n == 0) { /* empty lines are fine at the end of the file only */
            if (!blank) blank = line;
            continue;
        }
        if (blank) return tsv_line(r, out, blank, "", 0);
        foil_status st = tsv_line(r, out, line, s, n);
        if (st) return st;
    }
    if (r->n == 0) return foil_error(FOIL_ERR_FORMAT, "%s: no messages (every line is LABEL<TAB>TEXT)", r->path);
    return FOIL_OK;
}

foil_status foil_text_load_tsv(const char *path, foil_text_dataset *out)
{
    if (!out) return foil_error(FOIL_ERR_ARG, "foil_text_load_tsv: no place for the result");
    memset(out, 0, sizeof *out);
    if (!path || !path[0]) return foil_error(FOIL_ERR_ARG, "foil_text_load_tsv: no path");
    char *buf;
    size_t len;
    foil_status st = foilDataReadText(path, &buf, &len);
    if (st) return st;
    TsvRead *r = calloc(1, sizeof *r);
    if (!r) st = foil_error(FOIL_ERR_NOMEM, "%s: out of memory", path);
    else {
        r->path = path;
        st = tsv_parse(r, buf, len, out);
    }
    if (!st) {
        out->n = r->n;
        out->classes = r->classes;
        out->labels = malloc((size_t)r->n * sizeof *out->labels);
        out->class_names = foilDataStrvNew(r->classes);
        if (!out->labels || !out->class_names) st = foil_error(FOIL_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int64_t i = 0; !st && i < r->n; i++) out->labels[i] = label_find(r->cls, r->classes, r->label[i].s, r->label[i].len);
    for (int64_t c = 0; !st && c < r->classes; c++) {
        if (!(out->class_names[c] = malloc(r->cls[c].len + 1))) {
            st = foil_error(FOIL_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        memcpy(out->class_names[c], r->cls[c].s, r->cls[c].len);
        out->class_names[c][r->cls[c].len] = '\0';
    }
    if (!st) { /* the name: the file's base name without its last extension */
        const char *b = strrchr(path, '/');
        snprintf(out->name, sizeof out->name, "%s", b ? b + 1 : path);
        char *dot = strrchr(out->name, '.');
        if (dot && dot != out->name) *dot = '\0';
    }
    if (r) free(r->label);
    free(r);
    free(buf);
    if (st) foil_text_dataset_free(out);
    return st;
}

static foil_status check_labels(const foil_text_dataset *d, const char *what)
{
    if (d->n < 0 || d->classes < 1 || (d->n > 0 && (!d->texts || !d->labels)))
        return foil_error(FOIL_ERR_ARG, "%s: the text dataset is empty or malformed", what);
    for (int64_t i = 0; i < d->n; i++) {
        if (!d->texts[i]) return foil_error(FOIL_ERR_ARG, "%s: message %lld is NULL", what, (long long)i);
        if (d->labels[i] < 0 || d->labels[i] >= d->classes)
            return foil_error(FOIL_ERR_ARG, "%s: label %lld of message %lld is not in [0, %lld)", what,
                              (long long)d->labels[i], (long long)i, (long long)d->classes);
    }
    return FOIL_OK;
}

static char **names_copy(char *const *names, int64_t classes)
{
    if (!names) return NULL;
    char **c = foilDataStrvNew(classes);
    for (int64_t i = 0; c && i < classes && names[i]; i++)
        if (!(c[i] = foilDataStrdup(names[i]))) {
            foilDataStrvFree(c);
            return NULL;
        }
    return c;
}

/* dst: the messages i of src with pick[i] == want, in file order. */
static foil_status subset(const foil_text_dataset *src, const uint8_t *pick, uint8_t want, foil_text_dataset *dst)
{
    int64_t n = 0;
    for (int64_t i = 0; i < src->n; i++) n += pick[i] == want;
    dst->n = n;
    dst->classes = src->classes;
    memcpy(dst->name, src->name, sizeof dst->name);
    dst->texts = foilDataStrvNew(n);
    dst->labels = malloc((size_t)(n ? n : 1) * sizeof *dst->labels);
    dst->class_names = names_copy(src->class_names, src->classes);
    if (!dst->texts || !dst->labels || (src->class_names && !dst->class_names))
        return foil_error(FOIL_ERR_NOMEM, "%s: out of memory splitting", src->name);
    for (int64_t i = 0, k = 0; i < src->n; i++) {
        if (pick[i] != want) continue;
        if (!(dst->texts[k] = foilDataStrdup(src->texts[i])))
            return foil_error(FOIL_ERR_NOMEM, "%s: out of memory splitting", src->name);
        dst->labels[k++] = src->labels[i];
    }
    return FOIL_OK;
}

foil_status foil_text_split(const foil_text_dataset *all, uint64_t seed, double test_fraction, foil_text_dataset *train,
                            foil_text_dataset *test)
{
    if (!all || !train || !test) return foil_error(FOIL_ERR_ARG, "foil_text_split: a dataset is missing");
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (!(test_fraction > 0 && test_fraction < 1))
        return foil_error(FOIL_ERR_ARG, "test fraction %g: it must lie strictly between 0 and 1", test_fraction);
    foil_status st = check_labels(all, all->name[0] ? all->name : "foil_text_split");
    if (st) return st;
    /* the train fraction in millionths: 0.2 gives 800000 / 1000000, which
     * splits as data.c's 4/5 does for the user's files */
    const int64_t den = 1000000, num = llround((1.0 - test_fraction) * (double)den);
    uint8_t *is_train = malloc((size_t)(all->n ? all->n : 1));
    if (!is_train) return foil_error(FOIL_ERR_NOMEM, "%s: out of memory splitting", all->name);
    st = foilDataStratifiedSplit(all->labels, all->n, all->classes, num, den, seed, is_train);
    if (!st) st = subset(all, is_train, 1, train);
    if (!st) st = subset(all, is_train, 0, test);
    if (!st && (train->n == 0 || test->n == 0))
        st = foil_error(FOIL_ERR_ARG, "%s: the %s split is empty (%lld messages, test fraction %g)", all->name,
                        train->n ? "test" : "train", (long long)all->n, test_fraction);
    free(is_train);
    if (st) {
        foil_text_dataset_free(train);
        foil_text_dataset_free(test);
    }
    return st;
}

foil_status foil_text_encode(const foil_text_dataset *d, const foil_tokenizer *t, foil_dataset *out)
{
    if (!out) return foil_error(FOIL_ERR_ARG, "foil_text_encode: no place for the result");
    memset(out, 0, sizeof *out);
    if (!d || !t) return foil_error(FOIL_ERR_ARG, "foil_text_encode: no %s", d ? "tokenizer" : "dataset");
    foil_status st = check_labels(d, d->name[0] ? d->name : "foil_text_encode");
    if (st) return st;
    const int64_t N = d->n, L = foil_tokenizer_max_length(t);
    int64_t xs[2] = {N, L}, ys[1] = {N}, fs[1] = {L};
    memcpy(out->name, d->name, sizeof out->name);
    out->classes = d->classes;
    st = foil_tensor_alloc(&out->x, FOIL_F32, 2, xs);
    if (!st) st = foil_tensor_alloc(&out->y, FOIL_I64, 1, ys);
    if (!st) st = foil_tensor_alloc(&out->lower, FOIL_F32, 1, fs);
    if (!st) st = foil_tensor_alloc(&out->upper, FOIL_F32, 1, fs);
    if (!st && d->class_names && !(out->class_names = names_copy(d->class_names, d->classes)))
        st = foil_error(FOIL_ERR_NOMEM, "%s: out of memory", d->name);
    if (st) {
        foil_dataset_free(out);
        return st;
    }
    const float top = (float)(foil_tokenizer_vocab_size(t) - 1);
    for (int64_t j = 0; j < L; j++) foil_f32(&out->lower)[j] = 0.0f, foil_f32(&out->upper)[j] = top;
    for (int64_t i = 0; i < N && !st; i++) {
        foil_i64(&out->y)[i] = d->labels[i];
        st = foil_tokenizer_encode(t, d->texts[i], strlen(d->texts[i]), foil_f32(&out->x) + i * L, NULL);
    }
    if (st) foil_dataset_free(out);
    return st;
}
