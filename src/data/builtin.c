/*
 * data/builtin.c - the built-in datasets.
 *
 * fashion-mnist: Debian's dataset-fashion-mnist, the four IDX .gz files in
 *   /usr/share/datasets/fashion-mnist (FOIL_FASHION_MNIST_DIR overrides the
 *   directory). uint8 (N, 28, 28) images become float32 (N, 1, 28, 28) =
 *   byte / 255; labels 0..9 with the names Zalando gives them.
 *
 * digits, breast-cancer, wine: the CSV files python3-sklearn ships in
 *   /usr/lib/python3/dist-packages/sklearn/datasets/data
 *   (FOIL_SKLEARN_DATA_DIR overrides), read exactly as sklearn's load_digits,
 *   load_breast_cancer and load_wine read them (sklearn/datasets/_base.py):
 *   - breast_cancer.csv, wine_data.csv (load_csv_data): a first line
 *     "n_samples,n_features,class name,class name,...", then rows of
 *     n_features numbers and an integer label;
 *   - digits.csv.gz (load_gzip_compressed_csv_data): no header, rows of 64
 *     pixel values 0..16 and the label; class names "0".."9".
 *   Features are kept as they are (float32, no scaling), feature names are
 *   the ones sklearn hard-codes. The train/test split is foilDataFinish's seeded
 *   stratified 75/25 split.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"
#include "foil/idx.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"
#define SKLEARN_DIR "/usr/lib/python3/dist-packages/sklearn/datasets/data"

static const char *const fmnist_classes[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

static char **strv_from(const char *const *names, int64_t n)
{
    char **v = foilDataStrvNew(n);
    for (int64_t i = 0; v && i < n; i++)
        if (!(v[i] = foilDataStrdup(names[i]))) {
            foilDataStrvFree(v);
            v = NULL;
        }
    return v;
}

static const char *env_or(const char *var, const char *dflt)
{
    const char *v = getenv(var);
    return v && *v ? v : dflt;
}

/* ------------------------------------------------------------------------- */
/* fashion-mnist                                                             */

/*
 * Inflating the 26 MB train-images file is most of the cost (zlib, one
 * thread); first-touching the 188 MB float32 tensor is the next largest. The
 * labels (small) are read first, which gives N; then the image files are
 * inflated while another thread allocates x, and the uint8 -> float32
 * conversion runs in parallel.
 */

typedef struct fm_part {
    char ipath[4096], lpath[4096];
    foil_tensor img, lab; /* uint8 (N, 28, 28), uint8 (N) */
    foil_status st;
    char err[1024];       /* the message of a failure on a worker thread */
} fm_part;

static foil_status fm_labels(const char *prefix, fm_part *p)
{
    const char *dir = env_or("FOIL_FASHION_MNIST_DIR", FMNIST_DIR);
    snprintf(p->ipath, sizeof p->ipath, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    snprintf(p->lpath, sizeof p->lpath, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    char sh[96];
    foil_status st = foil_idx_read(p->lpath, &p->lab);
    if (st) return st;
    if (p->lab.dtype != FOIL_U8 || p->lab.ndim != 1)
        return foil_error(FOIL_ERR_FORMAT, "%s holds %s %s, not uint8 (N) labels", p->lpath,
                          foil_dtype_name(p->lab.dtype), foil_shape_str(&p->lab, sh, sizeof sh));
    for (int64_t i = 0; i < p->lab.numel; i++)
        if (((const uint8_t *)p->lab.data)[i] > 9)
            return foil_error(FOIL_ERR_FORMAT, "%s: label %lld is %d, not a class 0..9", p->lpath, (long long)i,
                              ((const uint8_t *)p->lab.data)[i]);
    return FOIL_OK;
}

static foil_status fm_images_check(const fm_part *p)
{
    char sh[96];
    if (p->img.dtype != FOIL_U8 || p->img.ndim != 3 || p->img.shape[1] != 28 || p->img.shape[2] != 28)
        return foil_error(FOIL_ERR_FORMAT, "%s holds %s %s, not uint8 (N, 28, 28) images", p->ipath,
                          foil_dtype_name(p->img.dtype), foil_shape_str(&p->img, sh, sizeof sh));
    if (p->lab.shape[0] != p->img.shape[0])
        return foil_error(FOIL_ERR_FORMAT, "%s has %lld labels but %s has %lld images", p->lpath,
                          (long long)p->lab.shape[0], p->ipath, (long long)p->img.shape[0]);
    return FOIL_OK;
}

foil_status foilDataLoadFashionMnist(foil_split split, FoilDataFull *f)
{
    memset(f, 0, sizeof *f);
    const char *prefix[2];
    int np = 0;
    if (split == FOIL_SPLIT_TRAIN || split == FOIL_SPLIT_ALL) prefix[np++] = "train";
    if (split == FOIL_SPLIT_TEST || split == FOIL_SPLIT_ALL) prefix[np++] = "t10k";
    fm_part *parts = calloc((size_t)np, sizeof *parts);
    if (!parts) return foil_error(FOIL_ERR_NOMEM, "fashion-mnist: out of memory");
    foil_status st = FOIL_OK;
    int64_t n = 0;
    for (int k = 0; k < np && !st; k++) {
        st = fm_labels(prefix[k], &parts[k]);
        if (!st) n += parts[k].lab.shape[0];
    }
    /* jobs 0..np-1 inflate the image files, job np allocates x */
    int64_t xs[4] = {n, 1, 28, 28};
    foil_status xst = FOIL_OK;
    char xerr[1024] = "";
    if (!st) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(np + 1)
        for (int k = 0; k <= np; k++) {
            if (k < np) {
                parts[k].st = foil_idx_read(parts[k].ipath, &parts[k].img);
                if (parts[k].st) snprintf(parts[k].err, sizeof parts[k].err, "%s", foil_last_error());
            } else {
                xst = foil_tensor_alloc(&f->x, FOIL_F32, 4, xs);
                if (xst) snprintf(xerr, sizeof xerr, "%s", foil_last_error());
            }
        }
        for (int k = 0; k < np && !st; k++)
            if (parts[k].st) st = foil_error(parts[k].st, "%s", parts[k].err);
            else st = fm_images_check(&parts[k]);
        if (!st && xst) st = foil_error(xst, "%s", xerr);
        if (!st && (st = foil_tensor_alloc(&f->y, FOIL_I64, 1, &n))) st = foil_error_prefix(st, "out of memory");
    }
    if (!st) {
        float *x = foil_f32(&f->x);
        int64_t *y = foil_i64(&f->y);
        int64_t off = 0;
        for (int k = 0; k < np; k++) {
            const uint8_t *img = parts[k].img.data, *lab = parts[k].lab.data;
            const int64_t m = parts[k].img.numel, nk = parts[k].img.shape[0];
            float *dst = x + off * 784;
#pragma omp parallel for schedule(static) if (m > 100000)
            for (int64_t i = 0; i < m; i++) dst[i] = (float)img[i] / 255.0f;
            for (int64_t i = 0; i < nk; i++) y[off + i] = lab[i];
            off += nk;
        }
        f->classes = 10;
        f->is_image = 1;
        f->from_bytes = 1;
        if (!(f->class_names = strv_from(fmnist_classes, 10))) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    for (int k = 0; k < np; k++) {
        foil_tensor_free(&parts[k].img);
        foil_tensor_free(&parts[k].lab);
    }
    free(parts);
    if (st) {
        foilDataFullFree(f);
        return foil_error_prefix(st, "fashion-mnist%s",
                                 st == FOIL_ERR_IO ? " (is Debian's dataset-fashion-mnist installed?)" : "");
    }
    return FOIL_OK;
}

/* ------------------------------------------------------------------------- */
/* the sklearn CSVs                                                          */

static const char *const breast_cancer_features[30] = {
    "mean radius", "mean texture", "mean perimeter", "mean area", "mean smoothness", "mean compactness",
    "mean concavity", "mean concave points", "mean symmetry", "mean fractal dimension", "radius error",
    "texture error", "perimeter error", "area error", "smoothness error", "compactness error", "concavity error",
    "concave points error", "symmetry error", "fractal dimension error", "worst radius", "worst texture",
    "worst perimeter", "worst area", "worst smoothness", "worst compactness", "worst concavity",
    "worst concave points", "worst symmetry", "worst fractal dimension"};

static const char *const wine_features[13] = {
    "alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols", "flavanoids",
    "nonflavanoid_phenols", "proanthocyanins", "color_intensity", "hue", "od280/od315_of_diluted_wines", "proline"};

/* A non-negative integer field, as Python's int() would take it. */
static int parse_count(const char *s, int64_t *v)
{
    char *e;
    long long x = strtoll(s, &e, 10);
    if (e == s || *e || x < 0) return 0;
    *v = x;
    return 1;
}

foil_status foilDataLoadSklearn(const char *which, FoilDataFull *f)
{
    memset(f, 0, sizeof *f);
    const int digits = strcmp(which, "digits") == 0;
    const int bc = strcmp(which, "breast-cancer") == 0;
    const char *const *fnames = bc ? breast_cancer_features : wine_features;
    int64_t F = digits ? 64 : bc ? 30 : 13;
    char path[1][4096];
    foilDataBuiltinFiles(which, path, 1);

    char *text;
    size_t len;
    foil_status st = foilDataReadText(path[0], &text, &len);
    if (st) return foil_error_prefix(st, "%s%s", which, st == FOIL_ERR_IO ? " (is python3-sklearn installed?)" : "");
    FoilDataCsv r;
    foilDataCsvInit(&r, path[0], text, len);
    int64_t n = 0, cap = 0, classes = 0, expect = -1;
    float *x = NULL;
    int64_t *y = NULL;
    int got;

    if (digits) {
        static const char *const dn[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
        classes = 10;
        if (!(f->class_names = strv_from(dn, 10))) goto nomem;
        if (!(f->feature_names = foilDataStrvNew(64))) goto nomem;
        for (int i = 0; i < 64; i++) {
            char b[16];
            snprintf(b, sizeof b, "pixel_%d_%d", i / 8, i % 8);
            if (!(f->feature_names[i] = foilDataStrdup(b))) goto nomem;
        }
    } else {
        /* load_csv_data: n_samples, n_features, target names */
        if ((got = foilDataCsvNext(&r, &st)) <= 0) {
            if (got == 0) st = foil_error(FOIL_ERR_FORMAT, "%s: empty file", path[0]);
            goto out;
        }
        int64_t hf;
        if (r.nfields < 3 || !parse_count(r.field[0], &expect) || !parse_count(r.field[1], &hf) || hf != F) {
            st = foil_error(FOIL_ERR_FORMAT, "%s:1: expected the header \"n_samples,%lld,class names...\"", path[0],
                            (long long)F);
            goto out;
        }
        classes = r.nfields - 2;
        if (!(f->class_names = foilDataStrvNew(classes))) goto nomem;
        for (int64_t c = 0; c < classes; c++)
            if (!(f->class_names[c] = foilDataStrdup(r.field[2 + c]))) goto nomem;
        if (!(f->feature_names = strv_from(fnames, F))) goto nomem;
    }

    while ((got = foilDataCsvNext(&r, &st)) == 1) {
        if (r.nfields != F + 1) {
            st = foil_error(FOIL_ERR_FORMAT, "%s:%lld: this row has %lld fields, expected %lld", path[0],
                            (long long)r.rec_line, (long long)r.nfields, (long long)F + 1);
            goto out;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 512;
            float *nx = realloc(x, (size_t)(cap * F) * sizeof *x);
            if (nx) x = nx;
            int64_t *ny = realloc(y, (size_t)cap * sizeof *y);
            if (ny) y = ny;
            if (!nx || !ny) goto nomem;
        }
        for (int64_t j = 0; j < F; j++) {
            double v;
            if ((st = foilDataCsvNumber(&r, j, f->feature_names[j], &v))) goto out;
            x[n * F + j] = (float)v;
        }
        /* digits: the label is a float column cast to int; the others: int() */
        double lv;
        if ((st = foilDataCsvNumber(&r, F, "target", &lv))) goto out;
        if (!(lv == (double)(int64_t)lv) || lv < 0 || lv >= (double)classes) {
            st = foil_error(FOIL_ERR_FORMAT, "%s:%lld:%lld: label %s is not a class 0..%lld", path[0],
                            (long long)r.field_line[F], (long long)r.field_col[F], r.field[F], (long long)classes - 1);
            goto out;
        }
        y[n++] = (int64_t)lv;
    }
    if (got < 0) goto out;
    if (n == 0) {
        st = foil_error(FOIL_ERR_FORMAT, "%s: no data rows", path[0]);
        goto out;
    }
    if (expect >= 0 && n != expect) {
        st = foil_error(FOIL_ERR_FORMAT, "%s: %lld data rows, but the header promises %lld", path[0], (long long)n,
                        (long long)expect);
        goto out;
    }
    int64_t xs[2] = {n, F};
    if ((st = foil_tensor_alloc(&f->x, FOIL_F32, 2, xs)) || (st = foil_tensor_alloc(&f->y, FOIL_I64, 1, &n))) {
        st = foil_error_prefix(st, "%s", which);
        goto out;
    }
    memcpy(f->x.data, x, (size_t)(n * F) * sizeof *x);
    memcpy(f->y.data, y, (size_t)n * sizeof *y);
    f->classes = classes;
    f->is_image = 0;
    f->from_bytes = 0;
    goto out;
nomem:
    st = foil_error(FOIL_ERR_NOMEM, "%s: out of memory", which);
out:
    free(x);
    free(y);
    foilDataCsvFree(&r);
    free(text);
    if (st) foilDataFullFree(f);
    return st;
}

/* The files a built-in dataset is read from, as its loader names them
 * (data manifests hash them): the whole dataset's, training split first. */
int foilDataBuiltinFiles(const char *name, char paths[][4096], int max)
{
    int n = 0;
    if (strcmp(name, "fashion-mnist") == 0) {
        static const char *const prefix[2] = {"train", "t10k"};
        const char *dir = env_or("FOIL_FASHION_MNIST_DIR", FMNIST_DIR);
        for (int k = 0; k < 2 && n + 2 <= max; k++) {
            snprintf(paths[n++], 4096, "%s/%s-images-idx3-ubyte.gz", dir, prefix[k]);
            snprintf(paths[n++], 4096, "%s/%s-labels-idx1-ubyte.gz", dir, prefix[k]);
        }
        return n;
    }
    const char *file = strcmp(name, "digits") == 0          ? "digits.csv.gz"
                       : strcmp(name, "breast-cancer") == 0 ? "breast_cancer.csv"
                       : strcmp(name, "wine") == 0          ? "wine_data.csv"
                                                            : NULL;
    if (!file || max < 1) return 0;
    snprintf(paths[n++], 4096, "%s/%s", env_or("FOIL_SKLEARN_DATA_DIR", SKLEARN_DIR), file);
    return n;
}
