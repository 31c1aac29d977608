/*
 * data/data.c - foil_data_load: which loader a spec names, the seeded
 * stratified train/test split, bounds, and the dataset helpers.
 *
 * What --data names, decided in this order:
 *   1. a built-in name (fashion-mnist, digits, breast-cancer, wine; case and
 *      '_' versus '-' do not matter). A file of that name needs a path: ./wine.
 *   2. a file, by extension: .npy -> NPY; .idx, .idx.gz, -ubyte, -ubyte.gz ->
 *      IDX; .csv, .csv.gz -> CSV;
 *   3. a directory: one folder of .pgm images per class (pgm.c);
 *   4. otherwise by content: "\x93NUMPY" -> NPY, an IDX magic (0, 0, a known
 *      type code, rank 1..8; gzip-compressed or not) -> IDX, anything else is
 *      read as CSV when --label-column is given.
 * The labels file of an IDX or NPY pair is recognized the same way (IDX or
 * NPY, independently of the data file's format).
 *
 * Splits. fashion-mnist has fixed files: TRAIN is train-*, TEST is t10k-*,
 * ALL is TRAIN followed by TEST (70,000 examples). Every other dataset is cut
 * by foilDataStratifiedSplit() below: 75/25 for the sklearn ones, 80/20 for the
 * user's files; ALL is every example in file order.
 *
 * Bounds (apply_range, rules in foil/data.h). Images and byte data: one
 * range, [0, 1] or --bounds. Tabular data: the per-feature [min, max] over
 * the whole file, whichever split was asked for, so that TRAIN, TEST and ALL
 * of one dataset and seed carry identical bounds and every example lies
 * inside them; or --bounds for every feature.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <zlib.h>

#include "data/data_internal.h"
#include "foil/rng.h"

/* Stream tag of the split RNG ("split\0\0\0"); the class id is added. */
#define DL_SPLIT_STREAM 0x73706c6974000000ULL

/* Text files (CSV) larger than this are refused rather than read. */
#define DL_MAX_TEXT ((size_t)1 << 31)

static const char *const builtin_names[] = {"fashion-mnist", "digits", "breast-cancer", "wine"};
#define BUILTINS_LIST "fashion-mnist, digits, breast-cancer, wine"

/* ------------------------------------------------------------------------- */
/* small helpers                                                             */

char *foilDataStrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

char **foilDataStrvNew(int64_t n)
{
    return calloc((size_t)n + 1, sizeof(char *));
}

void foilDataStrvFree(char **v)
{
    if (!v) return;
    for (char **p = v; *p; p++) free(*p);
    free(v);
}

void foilDataFullFree(FoilDataFull *f)
{
    foil_tensor_free(&f->x);
    foil_tensor_free(&f->y);
    foilDataStrvFree(f->feature_names);
    foilDataStrvFree(f->class_names);
    memset(f, 0, sizeof *f);
}

foil_status foilDataReadText(const char *path, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    struct stat sb;
    if (stat(path, &sb) != 0) return foil_error(FOIL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return foil_error(FOIL_ERR_IO, "%s: not a regular file", path);
    gzFile g = gzopen(path, "rb");
    if (!g) return foil_error(FOIL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    foil_status st = b ? FOIL_OK : foil_error(FOIL_ERR_NOMEM, "%s: out of memory", path);
    while (!st) {
        if (cap - n < 2) {
            if (cap >= DL_MAX_TEXT) {
                st = foil_error(FOIL_ERR_FORMAT, "%s: too large (over %zu bytes of text)", path, DL_MAX_TEXT);
                break;
            }
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                st = foil_error(FOIL_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t want = cap - n - 1;
        if (want > (1u << 30)) want = 1u << 30;
        int r = gzread(g, b + n, (unsigned)want);
        if (r < 0) {
            int zerr;
            const char *zmsg = gzerror(g, &zerr);
            if (zerr == Z_ERRNO) st = foil_error(FOIL_ERR_IO, "%s: read failed: %s", path, strerror(errno));
            else st = foil_error(FOIL_ERR_FORMAT, "%s: truncated or corrupt gzip stream (%s)", path, zmsg);
            break;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    if (!st) {
        int zerr;
        const char *zmsg = gzerror(g, &zerr);
        if (zerr != Z_OK) st = foil_error(FOIL_ERR_FORMAT, "%s: truncated or corrupt gzip stream (%s)", path, zmsg);
    }
    gzclose(g);
    if (st) {
        free(b);
        return st;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return FOIL_OK;
}

foil_status foilDataCheckFinite(const char *path, const foil_tensor *x) { return foil_check_finite_examples(path, x); }

foil_status foilDataLabelsFromTensor(const char *path, foil_tensor *src, foil_tensor *out, int64_t *classes)
{
    memset(out, 0, sizeof *out);
    char sh[96];
    foil_status st = FOIL_OK;
    if (!(src->ndim == 1 || (src->ndim == 2 && src->shape[1] == 1))) {
        st = foil_error(FOIL_ERR_SHAPE, "%s: labels have shape %s; expected one label per example (N) or (N, 1)", path,
                        foil_shape_str(src, sh, sizeof sh));
        foil_tensor_free(src);
        return st;
    }
    int64_t n = src->shape[0];
    if ((st = foil_tensor_alloc(out, FOIL_I64, 1, &n))) {
        foil_tensor_free(src);
        return foil_error_prefix(st, "%s", path);
    }
    int64_t *y = foil_i64(out);
    int64_t bad = -1;
    double badv = 0;
    for (int64_t i = 0; i < n && bad < 0; i++) {
        double v;
        switch (src->dtype) {
        case FOIL_U8: case FOIL_BOOL: v = ((const uint8_t *)src->data)[i]; break;
        case FOIL_I8: v = ((const int8_t *)src->data)[i]; break;
        case FOIL_U16: v = ((const uint16_t *)src->data)[i]; break;
        case FOIL_I16: v = ((const int16_t *)src->data)[i]; break;
        case FOIL_I32: v = ((const int32_t *)src->data)[i]; break;
        case FOIL_U32: v = ((const uint32_t *)src->data)[i]; break;
        case FOIL_I64: v = (double)((const int64_t *)src->data)[i]; break;
        case FOIL_U64: v = (double)((const uint64_t *)src->data)[i]; break;
        case FOIL_F32: v = ((const float *)src->data)[i]; break;
        case FOIL_F64: v = ((const double *)src->data)[i]; break;
        default:
            st = foil_error(FOIL_ERR_UNSUPPORTED, "%s: labels of type %s are not supported", path,
                            foil_dtype_name(src->dtype));
            goto done;
        }
        if (!(v == floor(v)) || v < 0 || v >= DL_MAX_CLASSES) {
            bad = i;
            badv = v;
        } else {
            y[i] = (int64_t)v;
        }
    }
    if (bad >= 0) {
        if (!(badv == floor(badv)))
            st = foil_error(FOIL_ERR_FORMAT, "%s: label %lld is %g, not an integer class number", path, (long long)bad, badv);
        else
            st = foil_error(FOIL_ERR_FORMAT, "%s: label %lld is %.0f; class labels must lie in [0, %d)", path,
                            (long long)bad, badv, DL_MAX_CLASSES);
        goto done;
    }
    int64_t mx = -1;
    for (int64_t i = 0; i < n; i++) mx = y[i] > mx ? y[i] : mx;
    *classes = mx + 1;
done:
    foil_tensor_free(src);
    if (st) foil_tensor_free(out);
    return st;
}

/* ------------------------------------------------------------------------- */
/* the split                                                                 */

/*
 * The seeded stratified split, exactly: for each class c = 0, 1, ...,
 * classes-1, the indices of its n_c examples, in file order, are shuffled by
 * Fisher-Yates with r = foil_rng_make(seed, DL_SPLIT_STREAM + c): for
 * i = n_c-1 down to 1, swap entries i and foil_rng_below(&r, i + 1). The
 * first t_c = ceil(n_c * num / den) shuffled indices go to TRAIN and the
 * rest to TEST, except that a class with n_c >= 2 always leaves at least one
 * example to TEST (t_c <= n_c - 1). Each split then lists its examples in
 * file order. The result depends on the seed and the labels only (not on
 * thread count or on anything else in the file).
 */
foil_status foilDataStratifiedSplit(const int64_t *y, int64_t n, int64_t classes, int64_t num, int64_t den,
                                uint64_t seed, uint8_t *is_train)
{
    int64_t *start = calloc((size_t)classes + 1, sizeof *start);
    int64_t *idx = malloc((size_t)(n ? n : 1) * sizeof *idx);
    if (!start || !idx) {
        free(start);
        free(idx);
        return foil_error(FOIL_ERR_NOMEM, "out of memory splitting %lld examples", (long long)n);
    }
    /* counting sort by class, stable: idx[start[c] .. start[c+1]) is class c in file order */
    for (int64_t i = 0; i < n; i++) start[y[i] + 1]++;
    for (int64_t c = 0; c < classes; c++) start[c + 1] += start[c];
    int64_t *fill = malloc((size_t)(classes ? classes : 1) * sizeof *fill);
    if (!fill) {
        free(start);
        free(idx);
        return foil_error(FOIL_ERR_NOMEM, "out of memory splitting %lld examples", (long long)n);
    }
    memcpy(fill, start, (size_t)classes * sizeof *fill);
    for (int64_t i = 0; i < n; i++) idx[fill[y[i]]++] = i;
    free(fill);
    memset(is_train, 0, (size_t)n);
    for (int64_t c = 0; c < classes; c++) {
        int64_t *g = idx + start[c];
        int64_t nc = start[c + 1] - start[c];
        foil_rng r = foil_rng_make(seed, DL_SPLIT_STREAM + (uint64_t)c);
        for (int64_t i = nc - 1; i >= 1; i--) {
            int64_t j = (int64_t)foil_rng_below(&r, (uint64_t)i + 1);
            int64_t t = g[i];
            g[i] = g[j];
            g[j] = t;
        }
        int64_t tc = (nc * num + den - 1) / den;
        if (nc >= 2 && tc > nc - 1) tc = nc - 1;
        for (int64_t i = 0; i < tc; i++) is_train[g[i]] = 1;
    }
    free(start);
    free(idx);
    return FOIL_OK;
}

static const char *split_name(foil_split s)
{
    return s == FOIL_SPLIT_TRAIN ? "train" : s == FOIL_SPLIT_TEST ? "test" : "all";
}

/* The smallest and largest value of x. */
static void value_range(const foil_tensor *x, float *mn, float *mx)
{
    const float *v = foil_f32(x);
    float a = INFINITY, b = -INFINITY;
    for (int64_t i = 0; i < x->numel; i++) {
        a = v[i] < a ? v[i] : a;
        b = v[i] > b ? v[i] : b;
    }
    *mn = a;
    *mx = b;
}

/* Byte-valued x (v / 255) onto [lo, hi]: lo + v * (hi - lo) / 255, exact
 * for integers when hi - lo is 255 (raw 0-255 pixels). */
static void map_bytes(foil_tensor *x, float lo, float hi)
{
    float *v = foil_f32(x);
    for (int64_t i = 0; i < x->numel; i++) v[i] = lo + roundf(v[i] * 255.0f) * (hi - lo) / 255.0f;
}

/* Fill lo/hi (one example's worth) with the bounds foil/data.h describes,
 * mapping byte data onto the range and refusing values outside it. */
static foil_status apply_range(FoilDataFull *f, const foil_data_spec *spec, const char *what, float *lo, float *hi)
{
    const int64_t n = f->x.shape[0], F = n ? f->x.numel / n : 0;
    const int given = spec && spec->has_bounds;
    if (given && !(spec->bounds_low < spec->bounds_high))
        return foil_error(FOIL_ERR_ARG, "--bounds %g,%g: LOW must be below HIGH", spec->bounds_low, spec->bounds_high);
    if (!given && !f->is_image && !f->from_bytes) {
        /* tabular: each feature's observed range */
        const float *x = foil_f32(&f->x);
        for (int64_t j = 0; j < F; j++) {
            lo[j] = INFINITY;
            hi[j] = -INFINITY;
        }
        for (int64_t i = 0; i < n; i++) {
            const float *row = x + i * F;
            for (int64_t j = 0; j < F; j++) {
                lo[j] = row[j] < lo[j] ? row[j] : lo[j];
                hi[j] = row[j] > hi[j] ? row[j] : hi[j];
            }
        }
        return FOIL_OK;
    }
    const float low = given ? spec->bounds_low : 0.0f, high = given ? spec->bounds_high : 1.0f;
    if (f->from_bytes && (low != 0.0f || high != 1.0f)) map_bytes(&f->x, low, high);
    float mn, mx;
    value_range(&f->x, &mn, &mx);
    if (mn < low || mx > high) {
        if (given)
            return foil_error(FOIL_ERR_ARG, "%s: values lie in [%g, %g], outside --bounds %g,%g; widen --bounds to the "
                              "model's input range or check how the data was scaled", what, mn, mx, low, high);
        char hint[64];
        if (mn >= 0 && mx <= 255) snprintf(hint, sizeof hint, "0,255");
        else snprintf(hint, sizeof hint, "%g,%g", floor(mn), ceil(mx));
        return foil_error(FOIL_ERR_ARG, "%s: image values lie in [%g, %g], outside the default image range [0, 1]; "
                          "if the model takes such inputs, pass its input range with --bounds LOW,HIGH (here e.g. "
                          "--bounds %s)", what, mn, mx, hint);
    }
    for (int64_t j = 0; j < F; j++) {
        lo[j] = low;
        hi[j] = high;
    }
    return FOIL_OK;
}

foil_status foilDataFinish(FoilDataFull *f, const char *name, const char *what, FoilDataSplitRule rule, const foil_data_spec *spec,
                      foil_split split, foil_dataset *out)
{
    memset(out, 0, sizeof *out);
    foil_status st = FOIL_OK;
    const int64_t n = f->x.shape[0];
    const int64_t F = n ? f->x.numel / n : 0;
    uint8_t *is_train = NULL;
    uint8_t *keep = NULL;
    if (rule.stratified) {
        is_train = malloc((size_t)(n ? n : 1));
        if (!is_train) {
            st = foil_error(FOIL_ERR_NOMEM, "%s: out of memory", what);
            goto fail;
        }
        if ((st = foilDataStratifiedSplit(foil_i64(&f->y), n, f->classes, rule.num, rule.den, rule.seed, is_train)))
            goto fail;
    }
    /* which rows go out */
    int64_t m = n;
    if (is_train && split != FOIL_SPLIT_ALL) {
        keep = malloc((size_t)(n ? n : 1));
        if (!keep) {
            st = foil_error(FOIL_ERR_NOMEM, "%s: out of memory", what);
            goto fail;
        }
        m = 0;
        for (int64_t i = 0; i < n; i++) {
            keep[i] = is_train[i] == (split == FOIL_SPLIT_TRAIN);
            m += keep[i];
        }
    }
    if (m == 0) {
        st = foil_error(FOIL_ERR_FORMAT, "%s: the %s split is empty (%lld examples are too few to split)", what,
                        split_name(split), (long long)n);
        goto fail;
    }

    /* bounds: one range for images, bytes and a given --bounds; else each
     * feature's min/max over the whole file (both splits), so that every
     * example an attack starts from lies inside them */
    int64_t eshape[FOIL_MAX_DIMS];
    for (int d = 1; d < f->x.ndim; d++) eshape[d - 1] = f->x.shape[d];
    if ((st = foil_tensor_alloc(&out->lower, FOIL_F32, f->x.ndim - 1, eshape)) ||
        (st = foil_tensor_alloc(&out->upper, FOIL_F32, f->x.ndim - 1, eshape))) {
        st = foil_error_prefix(st, "%s", what);
        goto fail;
    }
    if ((st = apply_range(f, spec, what, foil_f32(&out->lower), foil_f32(&out->upper)))) goto fail;

    /* the rows */
    if (!keep) {
        out->x = f->x;
        out->y = f->y;
        memset(&f->x, 0, sizeof f->x);
        memset(&f->y, 0, sizeof f->y);
    } else {
        int64_t shape[FOIL_MAX_DIMS];
        memcpy(shape, f->x.shape, sizeof shape);
        shape[0] = m;
        if ((st = foil_tensor_alloc(&out->x, FOIL_F32, f->x.ndim, shape)) ||
            (st = foil_tensor_alloc(&out->y, FOIL_I64, 1, &m))) {
            st = foil_error_prefix(st, "%s", what);
            goto fail;
        }
        float *dx = foil_f32(&out->x);
        int64_t *dy = foil_i64(&out->y);
        const float *sx = foil_f32(&f->x);
        const int64_t *sy = foil_i64(&f->y);
        int64_t k = 0;
        for (int64_t i = 0; i < n; i++) {
            if (!keep[i]) continue;
            memcpy(dx + k * F, sx + i * F, (size_t)F * sizeof(float));
            dy[k++] = sy[i];
        }
    }
    snprintf(out->name, sizeof out->name, "%s", name);
    out->classes = f->classes;
    out->is_image = f->is_image;
    out->feature_names = f->feature_names;
    out->class_names = f->class_names;
    f->feature_names = NULL;
    f->class_names = NULL;
    free(is_train);
    free(keep);
    foilDataFullFree(f);
    return FOIL_OK;

fail:
    free(is_train);
    free(keep);
    foilDataFullFree(f);
    foil_dataset_free(out);
    return st;
}

/* ------------------------------------------------------------------------- */
/* format detection                                                          */

enum { FMT_UNKNOWN, FMT_NPY, FMT_IDX, FMT_CSV, FMT_NPZ, FMT_GZ_NPY };

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcasecmp(s + a - b, suf) == 0;
}

static int is_idx_magic(const unsigned char *b, size_t n)
{
    if (n < 4 || b[0] != 0 || b[1] != 0) return 0;
    int t = b[2];
    return (t == 0x08 || t == 0x09 || t == 0x0B || t == 0x0C || t == 0x0D || t == 0x0E) && b[3] >= 1 &&
           b[3] <= FOIL_MAX_DIMS;
}

/* *fmt for path. FMT_UNKNOWN means "text or anything else". */
static foil_status sniff(const char *path, int *fmt)
{
    *fmt = FMT_UNKNOWN;
    if (ends_with(path, ".npy")) return (*fmt = FMT_NPY), FOIL_OK;
    if (ends_with(path, ".npz")) return (*fmt = FMT_NPZ), FOIL_OK;
    if (ends_with(path, ".idx") || ends_with(path, ".idx.gz") || ends_with(path, "-ubyte") ||
        ends_with(path, "-ubyte.gz"))
        return (*fmt = FMT_IDX), FOIL_OK;
    if (ends_with(path, ".csv") || ends_with(path, ".csv.gz")) return (*fmt = FMT_CSV), FOIL_OK;
    struct stat sb;
    if (stat(path, &sb) != 0) return foil_error(FOIL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return foil_error(FOIL_ERR_IO, "%s: not a regular file", path);
    FILE *fp = fopen(path, "rb");
    if (!fp) return foil_error(FOIL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char b[8];
    size_t n = fread(b, 1, sizeof b, fp);
    fclose(fp);
    if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b) {
        gzFile g = gzopen(path, "rb");
        if (!g) return foil_error(FOIL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        int r = gzread(g, b, sizeof b);
        gzclose(g);
        n = r > 0 ? (size_t)r : 0;
        if (n >= 6 && memcmp(b, "\x93NUMPY", 6) == 0) return (*fmt = FMT_GZ_NPY), FOIL_OK;
    } else if (n >= 6 && memcmp(b, "\x93NUMPY", 6) == 0) {
        return (*fmt = FMT_NPY), FOIL_OK;
    } else if (n >= 4 && memcmp(b, "PK\x03\x04", 4) == 0) {
        return (*fmt = FMT_NPZ), FOIL_OK;
    }
    if (is_idx_magic(b, n)) *fmt = FMT_IDX;
    return FOIL_OK;
}

static foil_status fmt_refuse(const char *path, int fmt)
{
    if (fmt == FMT_NPZ)
        return foil_error(FOIL_ERR_UNSUPPORTED, "%s: .npz archives are not supported; save each array with numpy.save", path);
    return foil_error(FOIL_ERR_UNSUPPORTED, "%s: a gzip-compressed .npy is not supported; decompress it first", path);
}

/* The file's base name without directories, a .gz and one more extension. */
static void base_name(const char *path, char *buf, size_t len)
{
    const char *s = strrchr(path, '/');
    s = s ? s + 1 : path;
    snprintf(buf, len, "%s", s);
    size_t n = strlen(buf);
    if (n > 3 && ends_with(buf, ".gz")) buf[n -= 3] = '\0';
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf) *dot = '\0';
}

static int builtin_index(const char *name)
{
    for (size_t k = 0; k < sizeof builtin_names / sizeof builtin_names[0]; k++) {
        const char *a = builtin_names[k], *b = name;
        while (*a && *b && (tolower((unsigned char)*b) == *a || (*b == '_' && *a == '-'))) {
            a++;
            b++;
        }
        if (!*a && !*b) return (int)k;
    }
    return -1;
}

/* --data names nothing that exists. A name with a path separator or an
 * extension was meant as a file; anything else was probably meant as a
 * built-in dataset. Each gets the error that says what to do next. */
static foil_status missing_data(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (base != path || strchr(base, '.'))
        return foil_error(FOIL_ERR_ARG, "%s: no such file (--data names a file here: check the path)", path);
    return foil_error(FOIL_ERR_ARG, "'%s' is not a built-in dataset (built-ins: " BUILTINS_LIST "), nor a file here; "
                      "--data also takes a file: an NPY or IDX pair with --labels, or a CSV with --label-column", path);
}

/* A directory as --data: class folders of PGM images (pgm.c), named after
 * the directory, split as the user's files are. */
static foil_status load_image_dir(const foil_data_spec *spec, foil_split split, foil_dataset *out)
{
    FoilDataFull f;
    foil_status st = foilDataLoadPgmDir(spec, &f);
    if (st) return st;
    char dir[4096], name[64];
    snprintf(dir, sizeof dir, "%s", spec->data);
    for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/'; n--) dir[n - 1] = '\0'; /* "faces/" names "faces" */
    base_name(dir, name, sizeof name);
    FoilDataSplitRule r = {1, 4, 5, spec->seed};
    return foilDataFinish(&f, name, spec->data, r, spec, split, out);
}

/* ------------------------------------------------------------------------- */
/* the public API                                                            */

int foil_data_is_builtin(const char *name) { return name && builtin_index(name) >= 0; }

foil_status foil_data_load(const foil_data_spec *spec, foil_split split, foil_dataset *out)
{
    memset(out, 0, sizeof *out);
    if (!spec || !spec->data || !spec->data[0])
        return foil_error(FOIL_ERR_ARG, "no dataset given: --data takes a built-in (" BUILTINS_LIST ") or a file");
    if (split != FOIL_SPLIT_TRAIN && split != FOIL_SPLIT_TEST && split != FOIL_SPLIT_ALL)
        return foil_error(FOIL_ERR_ARG, "unknown split %d", (int)split);
    FoilDataFull f;
    memset(&f, 0, sizeof f);
    foil_status st;
    int b = builtin_index(spec->data);
    if (b >= 0) {
        const char *name = builtin_names[b];
        if (spec->labels || spec->label_column)
            return foil_error(FOIL_ERR_ARG, "%s is a built-in dataset; --labels and --label-column are for your own files",
                              name);
        if (b == 0) {
            if ((st = foilDataLoadFashionMnist(split, &f))) return st;
            FoilDataSplitRule none = {0, 0, 0, 0};
            return foilDataFinish(&f, name, name, none, spec, split, out);
        }
        if ((st = foilDataLoadSklearn(name, &f))) return st;
        FoilDataSplitRule r = {1, 3, 4, spec->seed};
        return foilDataFinish(&f, name, name, r, spec, split, out);
    }

    const char *path = spec->data;
    struct stat sb;
    if (stat(path, &sb) != 0 && errno == ENOENT) return missing_data(path);
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return load_image_dir(spec, split, out);
    int fmt;
    if ((st = sniff(path, &fmt))) return st;
    if (fmt == FMT_NPZ || fmt == FMT_GZ_NPY) return fmt_refuse(path, fmt);
    if (fmt == FMT_NPY || fmt == FMT_IDX) {
        if (!spec->labels)
            return foil_error(FOIL_ERR_ARG, "%s: an %s data file needs its labels file (--labels FILE)", path,
                              fmt == FMT_NPY ? "NPY" : "IDX");
        if (spec->label_column)
            return foil_error(FOIL_ERR_ARG, "%s: --label-column is for CSV files; this is an %s file", path,
                              fmt == FMT_NPY ? "NPY" : "IDX");
        st = foilDataLoadArrayPair(spec, fmt == FMT_IDX, &f);
    } else {
        if (!spec->label_column)
            return foil_error(FOIL_ERR_ARG,
                              "%s: not an IDX or NPY file; if it is a CSV, name its label column (--label-column NAME)",
                              path);
        if (spec->labels)
            return foil_error(FOIL_ERR_ARG, "%s: a CSV holds its own labels (--label-column); --labels is for IDX/NPY pairs",
                              path);
        st = foilDataLoadCsv(spec, &f);
    }
    if (st) return st;
    char name[64];
    base_name(path, name, sizeof name);
    FoilDataSplitRule r = {1, 4, 5, spec->seed};
    return foilDataFinish(&f, name, path, r, spec, split, out);
}

void foil_dataset_free(foil_dataset *d)
{
    if (!d) return;
    foil_tensor_free(&d->x);
    foil_tensor_free(&d->y);
    foil_tensor_free(&d->lower);
    foil_tensor_free(&d->upper);
    foilDataStrvFree(d->feature_names);
    foilDataStrvFree(d->class_names);
    memset(d, 0, sizeof *d);
}

static char **strv_dup(char *const *v)
{
    if (!v) return NULL;
    int64_t n = 0;
    while (v[n]) n++;
    char **c = foilDataStrvNew(n);
    for (int64_t i = 0; c && i < n; i++)
        if (!(c[i] = strdup(v[i]))) {
            foilDataStrvFree(c);
            return NULL;
        }
    return c;
}

foil_status foil_dataset_copy(foil_dataset *dst, const foil_dataset *src)
{
    memset(dst, 0, sizeof *dst);
    memcpy(dst->name, src->name, sizeof dst->name);
    dst->classes = src->classes;
    dst->is_image = src->is_image;
    foil_status st = foil_tensor_copy(&dst->x, &src->x);
    if (!st) st = foil_tensor_copy(&dst->y, &src->y);
    if (!st && src->lower.data) st = foil_tensor_copy(&dst->lower, &src->lower);
    if (!st && src->upper.data) st = foil_tensor_copy(&dst->upper, &src->upper);
    if (!st && ((src->feature_names && !(dst->feature_names = strv_dup(src->feature_names))) ||
                (src->class_names && !(dst->class_names = strv_dup(src->class_names)))))
        st = foil_error(FOIL_ERR_NOMEM, "%s: out of memory copying the dataset", src->name);
    if (st) foil_dataset_free(dst);
    return st;
}

foil_status foil_dataset_select(foil_dataset *dst, const foil_dataset *src, const int64_t *index, int64_t n)
{
    memset(dst, 0, sizeof *dst);
    const int64_t rows = src->x.ndim >= 1 ? src->x.shape[0] : 0, F = foil_dataset_example_size(src);
    if (n < 0) return foil_error(FOIL_ERR_ARG, "%s: %lld examples selected", src->name, (long long)n);
    for (int64_t k = 0; k < n; k++)
        if (index[k] < 0 || index[k] >= rows)
            return foil_error(FOIL_ERR_ARG, "%s: example %lld selected of %lld", src->name, (long long)index[k],
                              (long long)rows);
    memcpy(dst->name, src->name, sizeof dst->name);
    dst->classes = src->classes;
    dst->is_image = src->is_image;
    int64_t shape[FOIL_MAX_DIMS];
    memcpy(shape, src->x.shape, sizeof shape);
    shape[0] = n;
    foil_status st = foil_tensor_alloc(&dst->x, FOIL_F32, src->x.ndim, shape);
    if (!st) st = foil_tensor_alloc(&dst->y, FOIL_I64, 1, &n);
    if (!st && src->lower.data) st = foil_tensor_copy(&dst->lower, &src->lower);
    if (!st && src->upper.data) st = foil_tensor_copy(&dst->upper, &src->upper);
    if (!st && ((src->feature_names && !(dst->feature_names = strv_dup(src->feature_names))) ||
                (src->class_names && !(dst->class_names = strv_dup(src->class_names)))))
        st = foil_error(FOIL_ERR_NOMEM, "%s: out of memory selecting examples", src->name);
    for (int64_t k = 0; !st && k < n; k++) {
        memcpy(foil_f32(&dst->x) + k * F, foil_f32(&src->x) + index[k] * F, (size_t)F * sizeof(float));
        foil_i64(&dst->y)[k] = foil_i64(&src->y)[index[k]];
    }
    if (st) foil_dataset_free(dst);
    return st;
}

int64_t foil_dataset_example_size(const foil_dataset *d)
{
    int64_t n = 1;
    for (int i = 1; i < d->x.ndim; i++) n *= d->x.shape[i];
    return d->x.ndim >= 1 ? n : 0;
}

/* Two passes in double (mean, then the mean squared deviation), over blocks
 * of features so the accumulators live on the stack. */
void foil_dataset_moments(const foil_dataset *d, float *mean, float *std)
{
    enum { BLK = 256 };
    const int64_t F = foil_dataset_example_size(d);
    const int64_t n = d->x.ndim >= 1 ? d->x.shape[0] : 0;
    const float *x = foil_f32(&d->x);
    if (n == 0) {
        for (int64_t j = 0; j < F; j++) {
            mean[j] = 0.0f;
            std[j] = 1.0f;
        }
        return;
    }
    for (int64_t j0 = 0; j0 < F; j0 += BLK) {
        int64_t nb = F - j0 < BLK ? F - j0 : BLK;
        double s[BLK], q[BLK];
        for (int64_t j = 0; j < nb; j++) s[j] = q[j] = 0.0;
        for (int64_t i = 0; i < n; i++) {
            const float *row = x + i * F + j0;
            for (int64_t j = 0; j < nb; j++) s[j] += row[j];
        }
        for (int64_t j = 0; j < nb; j++) s[j] /= (double)n;
        for (int64_t i = 0; i < n; i++) {
            const float *row = x + i * F + j0;
            for (int64_t j = 0; j < nb; j++) {
                double t = row[j] - s[j];
                q[j] += t * t;
            }
        }
        for (int64_t j = 0; j < nb; j++) {
            double sd = sqrt(q[j] / (double)n);
            mean[j0 + j] = (float)s[j];
            std[j0 + j] = sd < 1e-6 ? 1.0f : (float)sd; /* constant: as sklearn's StandardScaler, not 1e-6 */
        }
    }
}
