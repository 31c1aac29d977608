/*
 * tests/test_data.c - datasets: the built-in ones and the user's own files.
 *
 * fashion-mnist is checked against the IDX files decompressed here with zlib
 * and against known facts (60,000 / 10,000 examples, 6,000 per class, the
 * first training label is 9, Ankle boot). The sklearn datasets are checked
 * for counts, the exact stratified 75/25 split, determinism for a seed,
 * partition (train and test together are the file, nothing shared) and
 * bounds, and against sklearn.datasets.load_* itself when /usr/bin/python3
 * with sklearn exists. The user's NPY, IDX and CSV files are written here
 * (to a temporary directory) and read back, and every kind of bad file must
 * give a clear error naming the file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "foil/data.h"
#include "foil/npy.h"
#include "foil/tensor.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"
#define SKLEARN "/usr/lib/python3/dist-packages/sklearn/datasets/data"

static char tmpdir[256];

static const char *tpath(const char *name)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) rm_tree(p);
        else unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static int setup(void **state)
{
    (void)state;
    /* the fuzz test rewrites files hundreds of times: tmpfs when there is one */
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/foil_data_XXXXXX", base);
    if (mkdtemp(tmpdir)) return 0;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/foil_data_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rm_tree(tmpdir);
    return 0;
}

static int exists(const char *p) { return access(p, R_OK) == 0; }

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void write_text(const char *path, const char *s) { write_bytes(path, s, strlen(s)); }

static void write_gz(const char *path, const void *data, size_t len)
{
    gzFile g = gzopen(path, "wb");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, data, (unsigned)len), (int)len);
    assert_int_equal(gzclose(g), Z_OK);
}

/* Whole decompressed contents of a gzip file (independent of foil's reader). */
static uint8_t *gunzip_all(const char *path, size_t *len)
{
    gzFile g = gzopen(path, "rb");
    assert_non_null(g);
    size_t cap = 1 << 20, n = 0;
    uint8_t *b = malloc(cap);
    int r;
    while ((r = gzread(g, b + n, (unsigned)(cap - n))) > 0) {
        n += (size_t)r;
        if (n == cap) b = realloc(b, cap *= 2);
    }
    gzclose(g);
    *len = n;
    return b;
}

static void npy_write(const char *path, foil_dtype dt, int ndim, const int64_t *shape, const void *data)
{
    foil_tensor t;
    assert_int_equal(foil_tensor_alloc(&t, dt, ndim, shape), FOIL_OK);
    memcpy(t.data, data, foil_tensor_nbytes(&t));
    assert_int_equal(foil_npy_write(path, &t), FOIL_OK);
    foil_tensor_free(&t);
}

/* An IDX file: magic 0 0 type rank, big-endian dims, then `data` (already
 * big-endian). */
static void idx_write(const char *path, int type, int ndim, const uint32_t *dims, const void *data, size_t len, int gz)
{
    size_t hl = 4 + 4 * (size_t)ndim;
    uint8_t *b = malloc(hl + len + 1);
    b[0] = 0;
    b[1] = 0;
    b[2] = (uint8_t)type;
    b[3] = (uint8_t)ndim;
    for (int d = 0; d < ndim; d++) {
        b[4 + 4 * d] = (uint8_t)(dims[d] >> 24);
        b[5 + 4 * d] = (uint8_t)(dims[d] >> 16);
        b[6 + 4 * d] = (uint8_t)(dims[d] >> 8);
        b[7 + 4 * d] = (uint8_t)dims[d];
    }
    if (len) memcpy(b + hl, data, len);
    if (gz) write_gz(path, b, hl + len);
    else write_bytes(path, b, hl + len);
    free(b);
}

static foil_status load(const char *data, const char *labels, const char *col, uint64_t seed, foil_split split,
                        foil_dataset *d)
{
    foil_data_spec s = {.data = data, .labels = labels, .label_column = col, .seed = seed};
    return foil_data_load(&s, split, d);
}

/* Load must fail with `code`; the message must hold each non-NULL string. */
static void expect_fail(const char *data, const char *labels, const char *col, foil_status code, const char *m1,
                        const char *m2)
{
    foil_dataset d;
    foil_status st = load(data, labels, col, 0, FOIL_SPLIT_ALL, &d);
    const char *msg = foil_last_error();
    if (st == FOIL_OK || (code && st != code) || (m1 && !strstr(msg, m1)) || (m2 && !strstr(msg, m2)))
        print_error("data=%s: status %d (want %d), message \"%s\" (want \"%s\", \"%s\")\n", data, st, code, msg,
                    m1 ? m1 : "", m2 ? m2 : "");
    assert_int_not_equal(st, FOIL_OK);
    if (code) assert_int_equal(st, code);
    if (m1) assert_non_null(strstr(msg, m1));
    if (m2) assert_non_null(strstr(msg, m2));
    /* the output is left empty */
    assert_null(d.x.data);
    assert_null(d.y.data);
    assert_null(d.lower.data);
    assert_null(d.feature_names);
    assert_null(d.class_names);
    foil_dataset_free(&d);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int64_t strv_len(char **v)
{
    int64_t n = 0;
    while (v && v[n]) n++;
    return n;
}

/* ------------------------------------------------------------------------- */
/* fashion-mnist                                                             */

static void check_fmnist_part(const foil_dataset *d, int64_t off, const char *prefix, int64_t n)
{
    char ip[256], lp[256];
    snprintf(ip, sizeof ip, FMNIST "/%s-images-idx3-ubyte.gz", prefix);
    snprintf(lp, sizeof lp, FMNIST "/%s-labels-idx1-ubyte.gz", prefix);
    size_t il, ll;
    uint8_t *img = gunzip_all(ip, &il), *lab = gunzip_all(lp, &ll);
    assert_int_equal(il, 16 + (size_t)n * 784);
    assert_int_equal(ll, 8 + (size_t)n);
    const float *x = foil_f32(&d->x) + off * 784;
    const int64_t *y = foil_i64(&d->y) + off;
    int64_t bad = 0;
    for (int64_t i = 0; i < n * 784; i++) bad += x[i] != (float)img[16 + i] / 255.0f;
    assert_int_equal(bad, 0);
    for (int64_t i = 0; i < n; i++) bad += y[i] != lab[8 + i];
    assert_int_equal(bad, 0);
    free(img);
    free(lab);
}

static void test_fashion_mnist(void **state)
{
    (void)state;
    if (!exists(FMNIST "/train-images-idx3-ubyte.gz")) {
        print_message("skipping: Debian's dataset-fashion-mnist is not installed\n");
        skip();
    }
    foil_dataset tr, te, all;
    double t0 = now();
    assert_int_equal(load("fashion-mnist", NULL, NULL, 0, FOIL_SPLIT_TRAIN, &tr), FOIL_OK);
    double dt = now() - t0;
    /* Reported, not asserted: speed belongs to benchmarks, and a shared
     * machine makes any time limit here flaky. */
    print_message("fashion-mnist train loaded in %.3f s\n", dt);
    assert_string_equal(tr.name, "fashion-mnist");
    assert_int_equal(tr.x.dtype, FOIL_F32);
    assert_int_equal(tr.x.ndim, 4);
    assert_int_equal(tr.x.shape[0], 60000);
    assert_int_equal(tr.x.shape[1], 1);
    assert_int_equal(tr.x.shape[2], 28);
    assert_int_equal(tr.x.shape[3], 28);
    assert_int_equal(tr.y.dtype, FOIL_I64);
    assert_int_equal(tr.y.numel, 60000);
    assert_int_equal(tr.classes, 10);
    assert_int_equal(tr.is_image, 1);
    assert_null(tr.feature_names);
    assert_int_equal(strv_len(tr.class_names), 10);
    assert_string_equal(tr.class_names[0], "T-shirt/top");
    assert_string_equal(tr.class_names[9], "Ankle boot");
    assert_int_equal(foil_dataset_example_size(&tr), 784);
    /* known facts */
    assert_int_equal(foil_i64(&tr.y)[0], 9);
    int64_t count[10] = {0};
    for (int64_t i = 0; i < 60000; i++) count[foil_i64(&tr.y)[i]]++;
    for (int c = 0; c < 10; c++) assert_int_equal(count[c], 6000);
    float mn = 1, mx = 0;
    for (int64_t i = 0; i < tr.x.numel; i++) {
        mn = fminf(mn, foil_f32(&tr.x)[i]);
        mx = fmaxf(mx, foil_f32(&tr.x)[i]);
    }
    assert_true(mn == 0.0f && mx == 1.0f);
    assert_int_equal(tr.lower.ndim, 3);
    assert_int_equal(tr.lower.numel, 784);
    for (int j = 0; j < 784; j++) {
        assert_true(foil_f32(&tr.lower)[j] == 0.0f);
        assert_true(foil_f32(&tr.upper)[j] == 1.0f);
    }
    /* every pixel and label against an independent decompression */
    check_fmnist_part(&tr, 0, "train", 60000);

    /* moments: the pixel mean of Fashion-MNIST is about 0.286, std about 0.353 */
    float *mean = malloc(784 * sizeof *mean), *sd = malloc(784 * sizeof *sd);
    foil_dataset_moments(&tr, mean, sd);
    double m = 0;
    for (int j = 0; j < 784; j++) {
        m += mean[j];
        assert_true(sd[j] >= 1e-6f);
    }
    m /= 784;
    assert_true(fabs(m - 0.2860) < 0.001);
    assert_true(sd[0] < 0.01f);               /* the corner pixel is almost always 0 */
    assert_true(sd[14 * 28 + 14] > 0.2f);     /* the centre varies */
    free(mean);
    free(sd);

    assert_int_equal(load("fashion-mnist", NULL, NULL, 0, FOIL_SPLIT_TEST, &te), FOIL_OK);
    assert_int_equal(te.x.shape[0], 10000);
    assert_int_equal(te.y.numel, 10000);
    check_fmnist_part(&te, 0, "t10k", 10000);
    memset(count, 0, sizeof count);
    for (int64_t i = 0; i < 10000; i++) count[foil_i64(&te.y)[i]]++;
    for (int c = 0; c < 10; c++) assert_int_equal(count[c], 1000);

    /* ALL = train followed by test */
    assert_int_equal(load("Fashion_MNIST", NULL, NULL, 0, FOIL_SPLIT_ALL, &all), FOIL_OK);
    assert_int_equal(all.x.shape[0], 70000);
    assert_memory_equal(all.x.data, tr.x.data, 60000 * 784 * sizeof(float));
    assert_memory_equal(foil_f32(&all.x) + 60000 * 784, te.x.data, 10000 * 784 * sizeof(float));
    assert_memory_equal(foil_i64(&all.y) + 60000, te.y.data, 10000 * sizeof(int64_t));
    foil_dataset_free(&tr);
    foil_dataset_free(&te);
    foil_dataset_free(&all);
    assert_null(all.x.data);
}

/* ------------------------------------------------------------------------- */
/* sklearn datasets                                                          */

typedef struct sk_case {
    const char *name;
    int64_t n, f, classes;
    int64_t per_class[10];
} sk_case;

static const sk_case sk_cases[] = {
    {"digits", 1797, 64, 10, {178, 182, 177, 183, 181, 182, 181, 179, 174, 180}},
    {"breast-cancer", 569, 30, 2, {212, 357}},
    {"wine", 178, 13, 3, {59, 71, 48}},
};

/* train and test are subsequences of all that together use every row once */
static void assert_partition(const foil_dataset *all, const foil_dataset *tr, const foil_dataset *te)
{
    const int64_t F = foil_dataset_example_size(all), n = all->x.shape[0];
    assert_int_equal(tr->x.shape[0] + te->x.shape[0], n);
    int64_t a = 0, b = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *row = foil_f32(&all->x) + i * F;
        int64_t yi = foil_i64(&all->y)[i];
        if (a < tr->x.shape[0] && !memcmp(row, foil_f32(&tr->x) + a * F, F * sizeof(float)) && foil_i64(&tr->y)[a] == yi)
            a++;
        else if (b < te->x.shape[0] && !memcmp(row, foil_f32(&te->x) + b * F, F * sizeof(float)) &&
                 foil_i64(&te->y)[b] == yi)
            b++;
        else
            fail_msg("row %lld of the file is in neither split (or out of order)", (long long)i);
    }
    assert_int_equal(a, tr->x.shape[0]);
    assert_int_equal(b, te->x.shape[0]);
}

/* Tabular bounds: each feature's min/max over the whole file, i.e. over the
 * train and test splits together, so every example lies inside them. */
static void assert_file_bounds(const foil_dataset *tr, const foil_dataset *other)
{
    const int64_t F = foil_dataset_example_size(tr);
    for (int64_t j = 0; j < F; j++) {
        float lo = INFINITY, hi = -INFINITY;
        for (int split = 0; split < 2; split++) {
            const foil_dataset *d = split ? other : tr;
            for (int64_t i = 0; i < d->x.shape[0]; i++) {
                float v = foil_f32(&d->x)[i * F + j];
                lo = fminf(lo, v);
                hi = fmaxf(hi, v);
            }
        }
        assert_true(foil_f32(&tr->lower)[j] == lo && foil_f32(&tr->upper)[j] == hi);
        assert_true(foil_f32(&other->lower)[j] == lo && foil_f32(&other->upper)[j] == hi);
    }
}

static void test_sklearn_datasets(void **state)
{
    (void)state;
    if (!exists(SKLEARN "/wine_data.csv")) {
        print_message("skipping: python3-sklearn's datasets are not installed\n");
        skip();
    }
    for (size_t k = 0; k < sizeof sk_cases / sizeof sk_cases[0]; k++) {
        const sk_case *c = &sk_cases[k];
        foil_dataset all, tr, te, tr2, tr7;
        assert_int_equal(load(c->name, NULL, NULL, 0, FOIL_SPLIT_ALL, &all), FOIL_OK);
        assert_string_equal(all.name, c->name);
        assert_int_equal(all.x.ndim, 2);
        assert_int_equal(all.x.shape[0], c->n);
        assert_int_equal(all.x.shape[1], c->f);
        assert_int_equal(all.classes, c->classes);
        assert_int_equal(all.is_image, 0);
        assert_int_equal(strv_len(all.feature_names), c->f);
        assert_int_equal(strv_len(all.class_names), c->classes);
        int64_t cnt[10] = {0};
        for (int64_t i = 0; i < c->n; i++) cnt[foil_i64(&all.y)[i]]++;
        for (int64_t j = 0; j < c->classes; j++) assert_int_equal(cnt[j], c->per_class[j]);

        assert_int_equal(load(c->name, NULL, NULL, 0, FOIL_SPLIT_TRAIN, &tr), FOIL_OK);
        assert_int_equal(load(c->name, NULL, NULL, 0, FOIL_SPLIT_TEST, &te), FOIL_OK);
        /* stratified: ceil(3/4 n_c) of each class in train */
        int64_t ctr[10] = {0}, cte[10] = {0}, want = 0;
        for (int64_t i = 0; i < tr.y.numel; i++) ctr[foil_i64(&tr.y)[i]]++;
        for (int64_t i = 0; i < te.y.numel; i++) cte[foil_i64(&te.y)[i]]++;
        for (int64_t j = 0; j < c->classes; j++) {
            assert_int_equal(ctr[j], (3 * c->per_class[j] + 3) / 4);
            assert_int_equal(ctr[j] + cte[j], c->per_class[j]);
            want += (3 * c->per_class[j] + 3) / 4;
        }
        assert_int_equal(tr.x.shape[0], want);
        assert_partition(&all, &tr, &te);
        assert_file_bounds(&tr, &te);
        assert_file_bounds(&tr, &all);
        assert_int_equal(te.classes, c->classes);
        assert_int_equal(strv_len(te.feature_names), c->f);

        /* the same seed gives the same split; another seed another one */
        assert_int_equal(load(c->name, NULL, NULL, 0, FOIL_SPLIT_TRAIN, &tr2), FOIL_OK);
        assert_int_equal(tr2.x.shape[0], tr.x.shape[0]);
        assert_memory_equal(tr2.x.data, tr.x.data, foil_tensor_nbytes(&tr.x));
        assert_memory_equal(tr2.y.data, tr.y.data, foil_tensor_nbytes(&tr.y));
        assert_int_equal(load(c->name, NULL, NULL, 7, FOIL_SPLIT_TRAIN, &tr7), FOIL_OK);
        assert_int_equal(tr7.x.shape[0], tr.x.shape[0]);
        assert_true(memcmp(tr7.x.data, tr.x.data, foil_tensor_nbytes(&tr.x)) != 0);

        /* moments over the train split, against a direct computation */
        const int64_t F = c->f, n = tr.x.shape[0];
        float *mean = malloc(F * sizeof *mean), *sd = malloc(F * sizeof *sd);
        foil_dataset_moments(&tr, mean, sd);
        for (int64_t j = 0; j < F; j++) {
            double s = 0, q = 0;
            for (int64_t i = 0; i < n; i++) s += foil_f32(&tr.x)[i * F + j];
            s /= n;
            for (int64_t i = 0; i < n; i++) q += pow(foil_f32(&tr.x)[i * F + j] - s, 2);
            double want_sd = sqrt(q / n) < 1e-6 ? 1 : sqrt(q / n); /* constant features: 1 */
            assert_true(fabs(mean[j] - s) <= 1e-5 * fmax(1, fabs(s)));
            assert_true(fabs(sd[j] - want_sd) <= 1e-5 * fmax(1e-6, want_sd));
        }
        free(mean);
        free(sd);
        foil_dataset_free(&all);
        foil_dataset_free(&tr);
        foil_dataset_free(&te);
        foil_dataset_free(&tr2);
        foil_dataset_free(&tr7);
    }
}

/* Compare with sklearn.datasets.load_* itself (one Python process: importing
 * sklearn takes a second or two). */
static void test_sklearn_crosscheck(void **state)
{
    (void)state;
    if (!exists(SKLEARN "/wine_data.csv") || !exists("/usr/bin/python3")) {
        print_message("skipping: /usr/bin/python3 with sklearn is not available\n");
        skip();
    }
    /* per dataset: "OK", feature names, class names, shape, then 3 rows (first,
     * middle, last): label then features */
    FILE *p = popen("/usr/bin/python3 -c \"\n"
                    "try:\n"
                    "    import sklearn.datasets as d\n"
                    "except Exception:\n"
                    "    print('NOSKLEARN'); raise SystemExit(0)\n"
                    "for f in (d.load_digits, d.load_breast_cancer, d.load_wine):\n"
                    "    b = f(); n = b.data.shape[0]; print('OK')\n"
                    "    print('|'.join(b.feature_names)); print('|'.join(str(t) for t in b.target_names))\n"
                    "    print(n, b.data.shape[1])\n"
                    "    for i in (0, n // 2, n - 1): print(int(b.target[i]), ' '.join(repr(float(v)) for v in b.data[i]))\n"
                    "\" 2>/dev/null",
                    "r");
    assert_non_null(p);
    static char line[65536];
    if (!fgets(line, sizeof line, p) || strncmp(line, "OK", 2) != 0) {
        pclose(p);
        print_message("skipping: /usr/bin/python3 cannot import sklearn\n");
        skip();
    }
    static const char *const nm[3] = {"digits", "breast-cancer", "wine"};
    for (int k = 0; k < 3; k++) {
        if (k) {
            assert_non_null(fgets(line, sizeof line, p));
            assert_int_equal(strncmp(line, "OK", 2), 0);
        }
        foil_dataset d;
        assert_int_equal(load(nm[k], NULL, NULL, 0, FOIL_SPLIT_ALL, &d), FOIL_OK);
        const int64_t F = foil_dataset_example_size(&d), n = d.x.shape[0];
        /* feature names */
        assert_non_null(fgets(line, sizeof line, p));
        line[strcspn(line, "\n")] = 0;
        char *save = NULL, *tok = strtok_r(line, "|", &save);
        for (int64_t j = 0; j < F; j++, tok = strtok_r(NULL, "|", &save)) {
            assert_non_null(tok);
            assert_string_equal(tok, d.feature_names[j]);
        }
        assert_null(tok);
        /* class names */
        assert_non_null(fgets(line, sizeof line, p));
        line[strcspn(line, "\n")] = 0;
        tok = strtok_r(line, "|", &save);
        for (int64_t c = 0; c < d.classes; c++, tok = strtok_r(NULL, "|", &save)) {
            assert_non_null(tok);
            assert_string_equal(tok, d.class_names[c]);
        }
        assert_null(tok);
        long long rn, rf;
        assert_non_null(fgets(line, sizeof line, p));
        assert_int_equal(sscanf(line, "%lld %lld", &rn, &rf), 2);
        assert_int_equal(rn, n);
        assert_int_equal(rf, F);
        int64_t rows[3] = {0, n / 2, n - 1};
        for (int r = 0; r < 3; r++) {
            assert_non_null(fgets(line, sizeof line, p));
            char *s = line, *e;
            long lab = strtol(s, &e, 10);
            assert_int_equal(lab, foil_i64(&d.y)[rows[r]]);
            s = e;
            for (int64_t j = 0; j < F; j++) {
                double v = strtod(s, &e);
                assert_true(e != s);
                s = e;
                assert_true(foil_f32(&d.x)[rows[r] * F + j] == (float)v);
            }
        }
        foil_dataset_free(&d);
    }
    assert_null(fgets(line, sizeof line, p));
    assert_int_equal(pclose(p), 0);
}

/* A damaged copy of the sklearn directory and a missing fashion-mnist. */
static void test_builtin_bad_files(void **state)
{
    (void)state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/sk", tmpdir);
    mkdir(dir, 0700);
    setenv("FOIL_SKLEARN_DATA_DIR", dir, 1);
    expect_fail("wine", NULL, NULL, FOIL_ERR_IO, "wine_data.csv", "python3-sklearn");
    write_text(tpath("sk/wine_data.csv"), "3,13,a,b,c\n1,2,3,4,5,6,7,8,9,10,11,12,13,0\n1,2,3\n");
    expect_fail("wine", NULL, NULL, FOIL_ERR_FORMAT, "wine_data.csv:3:", "3 fields");
    write_text(tpath("sk/wine_data.csv"), "2,13,a,b,c\n1,2,3,4,5,6,7,8,9,10,11,12,13,0\n1,2,3,4,5,6,7,8,9,10,11,12,13,3\n");
    expect_fail("wine", NULL, NULL, FOIL_ERR_FORMAT, "wine_data.csv:3:31", "label 3");
    write_text(tpath("sk/wine_data.csv"), "5,13,a,b,c\n1,2,3,4,5,6,7,8,9,10,11,12,13,0\n");
    expect_fail("wine", NULL, NULL, FOIL_ERR_FORMAT, "wine_data.csv", "promises 5");
    write_text(tpath("sk/breast_cancer.csv"), "1,29,a,b\n");
    expect_fail("breast-cancer", NULL, NULL, FOIL_ERR_FORMAT, "breast_cancer.csv:1", "header");
    write_gz(tpath("sk/digits.csv.gz"), "1,2,x\n", 6);
    expect_fail("digits", NULL, NULL, FOIL_ERR_FORMAT, "digits.csv.gz:1:", "fields");
    /* a truncated gzip stream */
    {
        uLongf cap = 4096;
        static char big[4000];
        for (size_t i = 0; i < sizeof big; i++) big[i] = (char)('0' + (i * 7 + i / 13) % 10);
        write_gz(tpath("sk/digits.csv.gz"), big, sizeof big);
        size_t len;
        FILE *f = fopen(tpath("sk/digits.csv.gz"), "rb");
        static uint8_t buf[8192];
        len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        (void)cap;
        write_bytes(tpath("sk/digits.csv.gz"), buf, len / 2);
        expect_fail("digits", NULL, NULL, FOIL_ERR_FORMAT, "digits.csv.gz", "gzip");
    }
    unsetenv("FOIL_SKLEARN_DATA_DIR");

    setenv("FOIL_FASHION_MNIST_DIR", dir, 1);
    expect_fail("fashion-mnist", NULL, NULL, FOIL_ERR_IO, "train-labels-idx1-ubyte.gz", "dataset-fashion-mnist");
    uint32_t dims[3] = {2, 28, 28};
    static uint8_t px[2 * 784];
    idx_write(tpath("sk/t10k-images-idx3-ubyte.gz"), 0x08, 3, dims, px, sizeof px, 1);
    uint8_t lab[3] = {1, 2, 3};
    uint32_t ld = 3;
    idx_write(tpath("sk/t10k-labels-idx1-ubyte.gz"), 0x08, 1, &ld, lab, 3, 1);
    foil_dataset d;
    assert_int_not_equal(load("fashion-mnist", NULL, NULL, 0, FOIL_SPLIT_TEST, &d), FOIL_OK);
    assert_non_null(strstr(foil_last_error(), "3 labels"));
    ld = 2;
    lab[1] = 10;
    idx_write(tpath("sk/t10k-labels-idx1-ubyte.gz"), 0x08, 1, &ld, lab, 2, 1);
    assert_int_not_equal(load("fashion-mnist", NULL, NULL, 0, FOIL_SPLIT_TEST, &d), FOIL_OK);
    assert_non_null(strstr(foil_last_error(), "label 1 is 10"));
    lab[1] = 2;
    idx_write(tpath("sk/t10k-labels-idx1-ubyte.gz"), 0x08, 1, &ld, lab, 2, 1);
    assert_int_equal(load("fashion-mnist", NULL, NULL, 0, FOIL_SPLIT_TEST, &d), FOIL_OK);
    assert_int_equal(d.x.shape[0], 2);
    assert_int_equal(foil_i64(&d.y)[1], 2);
    foil_dataset_free(&d);
    dims[1] = 27;
    idx_write(tpath("sk/t10k-images-idx3-ubyte.gz"), 0x08, 3, dims, px, 2 * 27 * 28, 1);
    assert_int_not_equal(load("fashion-mnist", NULL, NULL, 0, FOIL_SPLIT_TEST, &d), FOIL_OK);
    assert_non_null(strstr(foil_last_error(), "(N, 28, 28)"));
    unsetenv("FOIL_FASHION_MNIST_DIR");

    /* names */
    expect_fail("mnist", NULL, NULL, FOIL_ERR_ARG, "mnist", "fashion-mnist, digits, breast-cancer, wine");
    expect_fail("", NULL, NULL, FOIL_ERR_ARG, "fashion-mnist", NULL);
    expect_fail("wine", "y.npy", NULL, FOIL_ERR_ARG, "built-in", NULL);
    foil_data_spec s = {.data = "wine"};
    assert_int_equal(foil_data_load(&s, (foil_split)5, &d), FOIL_ERR_ARG);
}

/* ------------------------------------------------------------------------- */
/* the user's files                                                          */

/* 60 examples of 4 features, 3 classes of 30, 20 and 10 */
#define UN 60
#define UF 4
static float ux[UN * UF];
static int64_t uy[UN];

static void make_user_data(void)
{
    for (int i = 0; i < UN; i++) {
        uy[i] = i % 6 < 3 ? 0 : i % 6 < 5 ? 1 : 2;
        for (int j = 0; j < UF; j++) ux[i * UF + j] = (float)((i * 37 + j * 11) % 97) / 8.0f - 3.0f + (float)j;
    }
}

/* The 80/20 split of the user data: sizes, stratification, partition, bounds. */
static void check_user_split(const char *data, const char *labels, const char *col, const foil_dataset *all)
{
    foil_dataset tr, te;
    assert_int_equal(load(data, labels, col, 3, FOIL_SPLIT_TRAIN, &tr), FOIL_OK);
    assert_int_equal(load(data, labels, col, 3, FOIL_SPLIT_TEST, &te), FOIL_OK);
    int64_t ctr[3] = {0};
    for (int64_t i = 0; i < tr.y.numel; i++) ctr[foil_i64(&tr.y)[i]]++;
    assert_int_equal(ctr[0], 24);
    assert_int_equal(ctr[1], 16);
    assert_int_equal(ctr[2], 8);
    assert_int_equal(te.x.shape[0], 12);
    assert_partition(all, &tr, &te);
    assert_file_bounds(&tr, &te);
    foil_dataset all3;
    assert_int_equal(load(data, labels, col, 3, FOIL_SPLIT_ALL, &all3), FOIL_OK);
    assert_file_bounds(&tr, &all3);
    foil_dataset_free(&all3);
    foil_dataset_free(&tr);
    foil_dataset_free(&te);
}

static void test_npy_pair(void **state)
{
    (void)state;
    make_user_data();
    int64_t xs[2] = {UN, UF}, ys[1] = {UN}, ys2[2] = {UN, 1};
    npy_write(tpath("x.npy"), FOIL_F32, 2, xs, ux);
    npy_write(tpath("y.npy"), FOIL_I64, 1, ys, uy);
    int32_t y32[UN];
    for (int i = 0; i < UN; i++) y32[i] = (int32_t)uy[i];
    npy_write(tpath("y2.npy"), FOIL_I32, 2, ys2, y32);
    foil_dataset d;
    assert_int_equal(load(tpath("x.npy"), tpath("y.npy"), NULL, 0, FOIL_SPLIT_ALL, &d), FOIL_OK);
    assert_string_equal(d.name, "x");
    assert_int_equal(d.x.ndim, 2);
    assert_int_equal(d.x.shape[0], UN);
    assert_int_equal(d.x.shape[1], UF);
    assert_memory_equal(d.x.data, ux, sizeof ux);
    assert_memory_equal(d.y.data, uy, sizeof uy);
    assert_int_equal(d.classes, 3);
    assert_int_equal(d.is_image, 0);
    assert_null(d.class_names);
    assert_int_equal(strv_len(d.feature_names), UF);
    assert_string_equal(d.feature_names[3], "feature_3");
    check_user_split(tpath("x.npy"), tpath("y.npy"), NULL, &d);
    foil_dataset_free(&d);
    /* (N, 1) int32 labels */
    assert_int_equal(load(tpath("x.npy"), tpath("y2.npy"), NULL, 0, FOIL_SPLIT_ALL, &d), FOIL_OK);
    assert_memory_equal(d.y.data, uy, sizeof uy);
    foil_dataset_free(&d);

    /* float64 examples, float labels that are integral */
    double x64[UN * UF], yf[UN];
    for (int i = 0; i < UN * UF; i++) x64[i] = ux[i];
    for (int i = 0; i < UN; i++) yf[i] = (double)uy[i];
    npy_write(tpath("x64.npy"), FOIL_F64, 2, xs, x64);
    npy_write(tpath("yf.npy"), FOIL_F64, 1, ys, yf);
    assert_int_equal(load(tpath("x64.npy"), tpath("yf.npy"), NULL, 0, FOIL_SPLIT_ALL, &d), FOIL_OK);
    assert_memory_equal(d.x.data, ux, sizeof ux);
    assert_memory_equal(d.y.data, uy, sizeof uy);
    foil_dataset_free(&d);

    /* uint8 (N, 6, 5) images -> (N, 1, 6, 5) / 255, bounds [0, 1] */
    uint8_t img[UN * 30];
    for (int i = 0; i < UN * 30; i++) img[i] = (uint8_t)(i * 13);
    int64_t is[3] = {UN, 6, 5};
    npy_write(tpath("img.npy"), FOIL_U8, 3, is, img);
    assert_int_equal(load(tpath("img.npy"), tpath("y.npy"), NULL, 0, FOIL_SPLIT_TRAIN, &d), FOIL_OK);
    assert_int_equal(d.x.ndim, 4);
    assert_int_equal(d.x.shape[0], 48);
    assert_int_equal(d.x.shape[1], 1);
    assert_int_equal(d.x.shape[2], 6);
    assert_int_equal(d.x.shape[3], 5);
    assert_int_equal(d.is_image, 1);
    assert_null(d.feature_names);
    assert_int_equal(d.lower.ndim, 3);
    for (int j = 0; j < 30; j++) assert_true(foil_f32(&d.lower)[j] == 0.0f && foil_f32(&d.upper)[j] == 1.0f);
    foil_dataset_free(&d);
    assert_int_equal(load(tpath("img.npy"), tpath("y.npy"), NULL, 0, FOIL_SPLIT_ALL, &d), FOIL_OK);
    for (int i = 0; i < UN * 30; i++) assert_true(foil_f32(&d.x)[i] == (float)img[i] / 255.0f);
    foil_dataset_free(&d);

    /* NHWC float images in [0, 1]: (N, 8, 9, 3) -> (N, 3, 8, 9) */
    static float nhwc[UN * 216];
    for (int i = 0; i < UN * 216; i++) nhwc[i] = (float)(i % 61) / 60.0f;
    int64_t hs[4] = {UN, 8, 9, 3};
    npy_write(tpath("nhwc.npy"), FOIL_F32, 4, hs, nhwc);
    assert_int_equal(load(tpath("nhwc.npy"), tpath("y.npy"), NULL, 0, FOIL_SPLIT_ALL, &d), FOIL_OK);
    assert_int_equal(d.x.shape[1], 3);
    assert_int_equal(d.x.shape[2], 8);
    assert_int_equal(d.x.shape[3], 9);
    assert_int_equal(d.is_image, 1);
    for (int b = 0; b < UN; b++)
        for (int h = 0; h < 8; h++)
            for (int w = 0; w < 9; w++)
                for (int c = 0; c < 3; c++)
                    assert_true(foil_f32(&d.x)[((b * 3 + c) * 8 + h) * 9 + w] == nhwc[((b * 8 + h) * 9 + w) * 3 + c]);
    foil_dataset_free(&d);

    /* 4-D float not in [0, 1]: an image all the same, so without --bounds an
     * error that says the range seen and how to pass it; with --bounds one
     * range for every pixel */
    static float big[UN * 2 * 3 * 3];
    for (int i = 0; i < UN * 18; i++) big[i] = (float)(i % 23) * 2.0f - 5.0f;
    int64_t bs[4] = {UN, 2, 3, 3};
    npy_write(tpath("big.npy"), FOIL_F32, 4, bs, big);
    expect_fail(tpath("big.npy"), tpath("y.npy"), NULL, FOIL_ERR_ARG, "image values lie in [-5, 39]",
                "--bounds -5,39");
    foil_data_spec ranged = {.data = tpath("big.npy"), .labels = tpath("y.npy"), .has_bounds = 1,
                             .bounds_low = -5, .bounds_high = 40};
    assert_int_equal(foil_data_load(&ranged, FOIL_SPLIT_ALL, &d), FOIL_OK);
    assert_int_equal(d.is_image, 1);
    assert_int_equal(d.x.ndim, 4);
    assert_int_equal(d.x.shape[1], 2);
    assert_null(d.feature_names);
    assert_memory_equal(d.x.data, big, sizeof big);
    for (int j = 0; j < 18; j++) assert_true(foil_f32(&d.lower)[j] == -5.0f && foil_f32(&d.upper)[j] == 40.0f);
    foil_dataset_free(&d);
    ranged.bounds_high = 30; /* narrower than the data: an error naming both ranges */
    assert_int_equal(foil_data_load(&ranged, FOIL_SPLIT_ALL, &d), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "values lie in [-5, 39], outside --bounds -5,30"));
    ranged.bounds_low = 30; /* empty range */
    assert_int_equal(foil_data_load(&ranged, FOIL_SPLIT_ALL, &d), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "LOW must be below HIGH"));

    /* uint8 images with --bounds 0,255: the raw bytes, exactly */
    foil_data_spec raw255 = {.data = tpath("img.npy"), .labels = tpath("y.npy"), .has_bounds = 1,
                             .bounds_low = 0, .bounds_high = 255};
    assert_int_equal(foil_data_load(&raw255, FOIL_SPLIT_ALL, &d), FOIL_OK);
    for (int i = 0; i < UN * 30; i++) assert_true(foil_f32(&d.x)[i] == (float)img[i]);
    assert_true(foil_f32(&d.lower)[7] == 0.0f && foil_f32(&d.upper)[7] == 255.0f);
    foil_dataset_free(&d);

    /* tabular data with --bounds: that one range for every feature */
    foil_data_spec tab = {.data = tpath("x.npy"), .labels = tpath("y.npy"), .has_bounds = 1, .bounds_low = -1e6f,
                          .bounds_high = 1e6f};
    assert_int_equal(foil_data_load(&tab, FOIL_SPLIT_ALL, &d), FOIL_OK);
    assert_int_equal(d.is_image, 0);
    for (int j = 0; j < UF; j++) assert_true(foil_f32(&d.lower)[j] == -1e6f && foil_f32(&d.upper)[j] == 1e6f);
    foil_dataset_free(&d);

    /* data in IDX, labels in NPY (each file's format is its own) */
    uint32_t idims[3] = {UN, 6, 5};
    idx_write(tpath("imgs.idx"), 0x08, 3, idims, img, sizeof img, 0);
    assert_int_equal(load(tpath("imgs.idx"), tpath("y.npy"), NULL, 0, FOIL_SPLIT_ALL, &d), FOIL_OK);
    assert_int_equal(d.is_image, 1);
    assert_memory_equal(d.y.data, uy, sizeof uy);
    foil_dataset_free(&d);
}

static void test_idx_pair(void **state)
{
    (void)state;
    make_user_data();
    /* uint8 images 7x3 in a gzip file named -ubyte.gz, labels plain */
    uint8_t img[UN * 21], lab[UN];
    for (int i = 0; i < UN * 21; i++) img[i] = (uint8_t)(i * 31 + 7);
    for (int i = 0; i < UN; i++) lab[i] = (uint8_t)uy[i];
    uint32_t dims[3] = {UN, 7, 3}, ld = UN;
    idx_write(tpath("im-ubyte.gz"), 0x08, 3, dims, img, sizeof img, 1);
    idx_write(tpath("lab-ubyte"), 0x08, 1, &ld, lab, sizeof lab, 0);
    foil_dataset d, d2;
    assert_int_equal(load(tpath("im-ubyte.gz"), tpath("lab-ubyte"), NULL, 0, FOIL_SPLIT_ALL, &d), FOIL_OK);
    assert_string_equal(d.name, "im-ubyte");
    assert_int_equal(d.x.ndim, 4);
    assert_int_equal(d.x.shape[1], 1);
    assert_int_equal(d.x.shape[2], 7);
    assert_int_equal(d.x.shape[3], 3);
    assert_int_equal(d.is_image, 1);
    for (int i = 0; i < UN * 21; i++) assert_true(foil_f32(&d.x)[i] == (float)img[i] / 255.0f);
    assert_memory_equal(d.y.data, uy, sizeof uy);
    assert_int_equal(d.classes, 3);
    /* the same files with names that say nothing: found by their magic */
    idx_write(tpath("images.bin"), 0x08, 3, dims, img, sizeof img, 1);
    idx_write(tpath("labels.dat"), 0x08, 1, &ld, lab, sizeof lab, 0);
    assert_int_equal(load(tpath("images.bin"), tpath("labels.dat"), NULL, 0, FOIL_SPLIT_ALL, &d2), FOIL_OK);
    assert_memory_equal(d2.x.data, d.x.data, foil_tensor_nbytes(&d.x));
    foil_dataset_free(&d2);
    foil_dataset_free(&d);

    /* float32 (N, F) big-endian: tabular, values as they are */
    uint8_t be[UN * UF * 4];
    for (int i = 0; i < UN * UF; i++) {
        uint32_t u;
        memcpy(&u, &ux[i], 4);
        be[4 * i] = (uint8_t)(u >> 24);
        be[4 * i + 1] = (uint8_t)(u >> 16);
        be[4 * i + 2] = (uint8_t)(u >> 8);
        be[4 * i + 3] = (uint8_t)u;
    }
    uint32_t fd[2] = {UN, UF};
    idx_write(tpath("tab.idx"), 0x0D, 2, fd, be, sizeof be, 0);
    /* int32 labels */
    uint8_t lb[UN * 4] = {0};
    for (int i = 0; i < UN; i++) lb[4 * i + 3] = (uint8_t)uy[i];
    idx_write(tpath("tabl.idx.gz"), 0x0C, 1, &ld, lb, sizeof lb, 1);
    assert_int_equal(load(tpath("tab.idx"), tpath("tabl.idx.gz"), NULL, 0, FOIL_SPLIT_ALL, &d), FOIL_OK);
    assert_int_equal(d.is_image, 0);
    assert_memory_equal(d.x.data, ux, sizeof ux);
    assert_memory_equal(d.y.data, uy, sizeof uy);
    check_user_split(tpath("tab.idx"), tpath("tabl.idx.gz"), NULL, &d);
    foil_dataset_free(&d);
}

static void test_csv(void **state)
{
    (void)state;
    make_user_data();
    /* label column in the middle, string labels, quotes, CRLF, blank lines */
    static const char *const names[3] = {"setosa", "Virginica", "versicolor, var. 2"};
    static char buf[1 << 16];
    size_t k = 0;
    k += (size_t)snprintf(buf + k, sizeof buf - k, "\xEF\xBB\xBF" "a, \"b \"\"q\"\"\",species,c,\r\n");
    for (int i = 0; i < UN; i++) {
        /* label classes in file order: setosa=0, Virginica=1, "versicolor, var. 2"=2 by uy; sorted bytewise:
         * "Virginica" < "setosa" < "versicolor, var. 2" */
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%.9g,\"%.9g\" ,\"%s\",  %.9g,%.9g%s", ux[i * 4], ux[i * 4 + 1],
                              names[uy[i]], ux[i * 4 + 2], ux[i * 4 + 3], i % 2 ? "\r\n" : "\n");
        if (i == 10) k += (size_t)snprintf(buf + k, sizeof buf - k, "\n");
    }
    k += (size_t)snprintf(buf + k, sizeof buf - k, "\r\n\n\n");
    write_text(tpath("iris.csv"), buf);
    foil_dataset d;
    assert_int_equal(load(tpath("iris.csv"), NULL, "species", 0, FOIL_SPLIT_ALL, &d), FOIL_OK);
    assert_string_equal(d.name, "iris");
    assert_int_equal(d.x.shape[0], UN);
    assert_int_equal(d.x.shape[1], UF);
    assert_memory_equal(d.x.data, ux, sizeof ux);
    assert_int_equal(d.classes, 3);
    assert_int_equal(strv_len(d.class_names), 3);
    assert_string_equal(d.class_names[0], "Virginica");
    assert_string_equal(d.class_names[1], "setosa");
    assert_string_equal(d.class_names[2], "versicolor, var. 2");
    static const int64_t remap[3] = {1, 0, 2};
    for (int i = 0; i < UN; i++) assert_int_equal(foil_i64(&d.y)[i], remap[uy[i]]);
    assert_int_equal(strv_len(d.feature_names), 4);
    assert_string_equal(d.feature_names[0], "a");
    assert_string_equal(d.feature_names[1], "b \"q\"");
    assert_string_equal(d.feature_names[2], "c");
    assert_string_equal(d.feature_names[3], "column_5");
    foil_dataset_free(&d);

    /* integer labels, last column, gzip-compressed */
    k = 0;
    k += (size_t)snprintf(buf + k, sizeof buf - k, "f0,f1,f2,f3,target\n");
    for (int i = 0; i < UN; i++)
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%.9g,%.9g,%.9g,%.9g,%s\n", ux[i * 4], ux[i * 4 + 1],
                              ux[i * 4 + 2], ux[i * 4 + 3], uy[i] == 2 ? "2.0" : uy[i] == 1 ? "1" : "0");
    write_gz(tpath("t.csv.gz"), buf, k);
    assert_int_equal(load(tpath("t.csv.gz"), NULL, "target", 0, FOIL_SPLIT_ALL, &d), FOIL_OK);
    assert_string_equal(d.name, "t");
    assert_memory_equal(d.x.data, ux, sizeof ux);
    assert_memory_equal(d.y.data, uy, sizeof uy);
    assert_null(d.class_names);
    assert_int_equal(d.classes, 3);
    check_user_split(tpath("t.csv.gz"), NULL, "target", &d);
    foil_dataset_free(&d);
    /* found as a CSV without the extension, given --label-column */
    write_bytes(tpath("table.txt"), buf, k);
    assert_int_equal(load(tpath("table.txt"), NULL, "target", 0, FOIL_SPLIT_ALL, &d), FOIL_OK);
    assert_memory_equal(d.y.data, uy, sizeof uy);
    foil_dataset_free(&d);

    /* a split of a tiny file still puts every class with 2+ examples in both */
    write_text(tpath("tiny.csv"), "x,y\n1,0\n2,0\n3,1\n4,1\n5,2\n");
    foil_dataset tr, te;
    assert_int_equal(load(tpath("tiny.csv"), NULL, "y", 0, FOIL_SPLIT_TRAIN, &tr), FOIL_OK);
    assert_int_equal(load(tpath("tiny.csv"), NULL, "y", 0, FOIL_SPLIT_TEST, &te), FOIL_OK);
    assert_int_equal(tr.x.shape[0], 3);
    assert_int_equal(te.x.shape[0], 2);
    assert_int_equal(foil_i64(&te.y)[0], 0);
    assert_int_equal(foil_i64(&te.y)[1], 1);
    foil_dataset_free(&tr);
    foil_dataset_free(&te);
    write_text(tpath("one.csv"), "x,y\n1,0\n");
    assert_int_not_equal(load(tpath("one.csv"), NULL, "y", 0, FOIL_SPLIT_TEST, &te), FOIL_OK);
    assert_non_null(strstr(foil_last_error(), "test split is empty"));
}

/* moments on a hand-made dataset */
static void test_moments(void **state)
{
    (void)state;
    foil_dataset d;
    memset(&d, 0, sizeof d);
    int64_t s[2] = {4, 3};
    assert_int_equal(foil_tensor_alloc(&d.x, FOIL_F32, 2, s), FOIL_OK);
    const float v[12] = {1, 5, 7, 2, 5, -7, 3, 5, 7, 4, 5, -7};
    memcpy(d.x.data, v, sizeof v);
    assert_int_equal(foil_dataset_example_size(&d), 3);
    float mean[3], sd[3];
    foil_dataset_moments(&d, mean, sd);
    assert_true(fabsf(mean[0] - 2.5f) < 1e-6f && fabsf(sd[0] - sqrtf(1.25f)) < 1e-6f);
    assert_true(mean[1] == 5.0f && sd[1] == 1.0f); /* constant: 1, as sklearn's StandardScaler */
    assert_true(fabsf(mean[2]) < 1e-6f && fabsf(sd[2] - 7.0f) < 1e-5f);
    foil_dataset_free(&d);
    foil_dataset_free(&d); /* freeing twice, or an empty dataset, is harmless */
    assert_int_equal(foil_dataset_example_size(&d), 0);
}

/* Selected rows in the order asked, repeats allowed, the bounds and names
 * kept; an index out of range is an error that leaves dst empty. */
static void test_select(void **state)
{
    (void)state;
    foil_dataset d;
    memset(&d, 0, sizeof d);
    snprintf(d.name, sizeof d.name, "toy");
    int64_t s[2] = {4, 2}, n = 4, f = 2;
    assert_int_equal(foil_tensor_alloc(&d.x, FOIL_F32, 2, s), FOIL_OK);
    assert_int_equal(foil_tensor_alloc(&d.y, FOIL_I64, 1, &n), FOIL_OK);
    assert_int_equal(foil_tensor_alloc(&d.lower, FOIL_F32, 1, &f), FOIL_OK);
    for (int i = 0; i < 8; i++) foil_f32(&d.x)[i] = (float)i;
    for (int i = 0; i < 4; i++) foil_i64(&d.y)[i] = 10 + i;
    foil_f32(&d.lower)[0] = -1, foil_f32(&d.lower)[1] = -2;
    d.classes = 14;
    foil_dataset e;
    const int64_t pick[3] = {3, 0, 3};
    assert_int_equal(foil_dataset_select(&e, &d, pick, 3), FOIL_OK);
    assert_int_equal(e.x.shape[0], 3);
    assert_int_equal(e.y.numel, 3);
    const float want[6] = {6, 7, 0, 1, 6, 7};
    assert_memory_equal(e.x.data, want, sizeof want);
    assert_int_equal(foil_i64(&e.y)[1], 10);
    assert_true(foil_f32(&e.lower)[1] == -2 && !e.upper.data && e.classes == 14 && strcmp(e.name, "toy") == 0);
    foil_dataset_free(&e);
    const int64_t bad[2] = {1, 4};
    assert_int_equal(foil_dataset_select(&e, &d, bad, 2), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "example 4 selected of 4"));
    assert_null(e.x.data);
    foil_dataset_free(&d);
}

/* ------------------------------------------------------------------------- */
/* bad user files                                                            */

static void test_bad_npy_idx(void **state)
{
    (void)state;
    make_user_data();
    int64_t xs[2] = {UN, UF}, ys[1] = {UN};
    npy_write(tpath("x.npy"), FOIL_F32, 2, xs, ux);
    npy_write(tpath("y.npy"), FOIL_I64, 1, ys, uy);

    /* missing partner files / options */
    expect_fail(tpath("x.npy"), NULL, NULL, FOIL_ERR_ARG, "x.npy", "--labels");
    expect_fail(tpath("x.npy"), tpath("y.npy"), "y", FOIL_ERR_ARG, "x.npy", "--label-column");
    /* a missing file and an unknown name get different advice */
    expect_fail(tpath("nothere.npy"), tpath("y.npy"), NULL, FOIL_ERR_ARG, "nothere.npy: no such file", "check the path");
    expect_fail("nothere.npy", "y.npy", NULL, FOIL_ERR_ARG, "nothere.npy: no such file", NULL);
    expect_fail("fashion_mnst", NULL, NULL, FOIL_ERR_ARG, "'fashion_mnst' is not a built-in dataset",
                "fashion-mnist, digits, breast-cancer, wine");
    expect_fail("fashion_mnst", NULL, NULL, FOIL_ERR_ARG, "also takes a file", NULL);
    expect_fail(tpath("x.npy"), tpath("nothere.npy"), NULL, FOIL_ERR_IO, "nothere.npy", NULL);
    /* a directory is a dataset of class folders, which holds its own labels */
    expect_fail(tmpdir, tpath("y.npy"), NULL, FOIL_ERR_ARG, "holds its own labels", NULL);

    /* wrong magic, truncated */
    write_text(tpath("bad.npy"), "this is not numpy at all");
    expect_fail(tpath("bad.npy"), tpath("y.npy"), NULL, FOIL_ERR_FORMAT, "bad.npy", NULL);
    {
        FILE *f = fopen(tpath("x.npy"), "rb");
        static uint8_t b[4096];
        size_t n = fread(b, 1, sizeof b, f);
        fclose(f);
        write_bytes(tpath("trunc.npy"), b, n - 10);
        expect_fail(tpath("trunc.npy"), tpath("y.npy"), NULL, FOIL_ERR_FORMAT, "trunc.npy", NULL);
        write_gz(tpath("x.npy.gz"), b, n);
        expect_fail(tpath("x.npy.gz"), tpath("y.npy"), NULL, FOIL_ERR_UNSUPPORTED, "x.npy.gz", "decompress");
    }
    write_text(tpath("a.npz"), "PK\x03\x04rest");
    expect_fail(tpath("a.npz"), tpath("y.npy"), NULL, FOIL_ERR_UNSUPPORTED, "a.npz", "numpy.save");

    /* shapes */
    int64_t s1[1] = {UN};
    npy_write(tpath("x1.npy"), FOIL_F32, 1, s1, ux);
    expect_fail(tpath("x1.npy"), tpath("y.npy"), NULL, FOIL_ERR_SHAPE, "x1.npy", "at least 2");
    int64_t s0[2] = {0, UF};
    npy_write(tpath("x0.npy"), FOIL_F32, 2, s0, ux);
    expect_fail(tpath("x0.npy"), tpath("y.npy"), NULL, FOIL_ERR_SHAPE, "x0.npy", "no examples");
    int64_t ys2[2] = {UN / 2, 2};
    npy_write(tpath("y2.npy"), FOIL_I64, 2, ys2, uy);
    expect_fail(tpath("x.npy"), tpath("y2.npy"), NULL, FOIL_ERR_SHAPE, "y2.npy", "one label per example");
    int64_t yshort[1] = {UN - 1};
    npy_write(tpath("ys.npy"), FOIL_I64, 1, yshort, uy);
    expect_fail(tpath("x.npy"), tpath("ys.npy"), NULL, FOIL_ERR_SHAPE, "ys.npy has 59 labels", "x.npy has 60");

    /* labels out of range, negative, non-integer */
    int64_t yb[UN];
    memcpy(yb, uy, sizeof yb);
    yb[17] = -1;
    npy_write(tpath("yneg.npy"), FOIL_I64, 1, ys, yb);
    expect_fail(tpath("x.npy"), tpath("yneg.npy"), NULL, FOIL_ERR_FORMAT, "yneg.npy: label 17 is -1", NULL);
    yb[17] = 1000;
    npy_write(tpath("ybig.npy"), FOIL_I64, 1, ys, yb);
    expect_fail(tpath("x.npy"), tpath("ybig.npy"), NULL, FOIL_ERR_FORMAT, "ybig.npy: label 17 is 1000", "[0, 1000)");
    float yfl[UN];
    for (int i = 0; i < UN; i++) yfl[i] = (float)uy[i];
    yfl[5] = 1.5f;
    npy_write(tpath("yfrac.npy"), FOIL_F32, 1, ys, yfl);
    expect_fail(tpath("x.npy"), tpath("yfrac.npy"), NULL, FOIL_ERR_FORMAT, "yfrac.npy", "not an integer");

    /* NaN and inf in features */
    float xb[UN * UF];
    memcpy(xb, ux, sizeof xb);
    xb[2 * UF + 1] = NAN;
    npy_write(tpath("xnan.npy"), FOIL_F32, 2, xs, xb);
    expect_fail(tpath("xnan.npy"), tpath("y.npy"), NULL, FOIL_ERR_FORMAT, "xnan.npy: example 2, feature 1 is NaN", NULL);
    xb[2 * UF + 1] = -INFINITY;
    npy_write(tpath("xinf.npy"), FOIL_F32, 2, xs, xb);
    expect_fail(tpath("xinf.npy"), tpath("y.npy"), NULL, FOIL_ERR_FORMAT, "xinf.npy: example 2, feature 1 is infinite", NULL);
    double xd[UN * UF];
    for (int i = 0; i < UN * UF; i++) xd[i] = ux[i];
    xd[7] = 1e300;
    npy_write(tpath("xd.npy"), FOIL_F64, 2, xs, xd);
    expect_fail(tpath("xd.npy"), tpath("y.npy"), NULL, FOIL_ERR_FORMAT, "xd.npy", "float32 range");

    /* IDX: wrong magic, truncated, labels not 1-D, count mismatch, bad labels */
    uint8_t img[UN * 4], lab[UN];
    for (int i = 0; i < UN * 4; i++) img[i] = (uint8_t)i;
    for (int i = 0; i < UN; i++) lab[i] = (uint8_t)uy[i];
    uint32_t dims[3] = {UN, 2, 2}, ld = UN;
    idx_write(tpath("ok.idx"), 0x08, 3, dims, img, sizeof img, 0);
    idx_write(tpath("okl.idx"), 0x08, 1, &ld, lab, sizeof lab, 0);
    write_text(tpath("magic.idx"), "\x01\x02\x08\x03garbage garbage garbage");
    expect_fail(tpath("magic.idx"), tpath("okl.idx"), NULL, FOIL_ERR_FORMAT, "magic.idx", "magic");
    idx_write(tpath("trunc.idx.gz"), 0x08, 3, dims, img, sizeof img - 5, 1);
    expect_fail(tpath("trunc.idx.gz"), tpath("okl.idx"), NULL, FOIL_ERR_FORMAT, "trunc.idx.gz", "truncated");
    uint32_t l2[2] = {UN / 2, 2};
    idx_write(tpath("l2.idx"), 0x08, 2, l2, lab, sizeof lab, 0);
    expect_fail(tpath("ok.idx"), tpath("l2.idx"), NULL, FOIL_ERR_SHAPE, "l2.idx", "one label per example");
    uint32_t lshort = UN - 2;
    idx_write(tpath("lshort.idx"), 0x08, 1, &lshort, lab, UN - 2, 0);
    expect_fail(tpath("ok.idx"), tpath("lshort.idx"), NULL, FOIL_ERR_SHAPE, "58 labels", "60 examples");
    int8_t sl[UN];
    for (int i = 0; i < UN; i++) sl[i] = (int8_t)uy[i];
    sl[9] = -3;
    idx_write(tpath("lneg.idx"), 0x09, 1, &ld, sl, sizeof sl, 0);
    expect_fail(tpath("ok.idx"), tpath("lneg.idx"), NULL, FOIL_ERR_FORMAT, "lneg.idx: label 9 is -3", NULL);
    /* a float IDX with NaN */
    uint8_t fbe[UN * 4 * 4] = {0};
    fbe[4 * 5] = 0x7f;
    fbe[4 * 5 + 1] = 0xc0; /* NaN at element 5 */
    uint32_t fd[2] = {UN, 4};
    idx_write(tpath("nan.idx"), 0x0D, 2, fd, fbe, sizeof fbe, 0);
    expect_fail(tpath("nan.idx"), tpath("okl.idx"), NULL, FOIL_ERR_FORMAT, "nan.idx: example 1, feature 1 is NaN", NULL);

    /* unknown content without --label-column */
    write_text(tpath("mystery.bin"), "\x01\x02\x03\x04\x05");
    expect_fail(tpath("mystery.bin"), NULL, NULL, FOIL_ERR_ARG, "mystery.bin", "--label-column");
}

static void csv_fail(const char *name, const char *text, const char *col, const char *m1, const char *m2)
{
    write_text(tpath(name), text);
    expect_fail(tpath(name), NULL, col, FOIL_ERR_FORMAT, m1, m2);
}

static void test_bad_csv(void **state)
{
    (void)state;
    csv_fail("empty.csv", "", "y", "empty.csv: empty file", NULL);
    csv_fail("blank.csv", "\n\r\n  \n", "y", "blank.csv: empty file", NULL);
    csv_fail("hdr.csv", "a,b,y\r\n\r\n", "y", "hdr.csv: no data rows", NULL);
    csv_fail("nocol.csv", "a,b,c\n1,2,3\n", "y", "nocol.csv: no column named 'y'", "'a', 'b', 'c'");
    csv_fail("twice.csv", "y,a,y\n1,2,3\n", "y", "twice.csv:1:", "twice");
    csv_fail("only.csv", "y\n1\n2\n", "y", "only.csv", "no features");
    csv_fail("cell.csv", "a,b,y\n1,2,0\n3, abc ,1\n", "y", "cell.csv:3:4: column 'b'", "'abc'");
    csv_fail("ragged.csv", "a,b,y\n1,2,0\n3,1\n", "y", "ragged.csv:3:", "2 fields but the header has 3");
    csv_fail("ragged2.csv", "a,b,y\n1,2,0,9\n", "y", "ragged2.csv:2:", "4 fields");
    csv_fail("nan.csv", "a,b,y\n1,2,0\n3,NaN,1\n", "y", "nan.csv:3:3: column 'b'", "NaN");
    csv_fail("inf.csv", "a,b,y\n1,-inf,0\n", "y", "inf.csv:2:3", "infinite");
    csv_fail("huge.csv", "a,b,y\n1,1e300,0\n", "y", "huge.csv:2:3", "float32 range");
    csv_fail("missing.csv", "a,b,y\n1,,0\n", "y", "missing.csv:2:3", "empty cell");
    csv_fail("quote.csv", "a,b,y\n1,\"2,0\n3,4,1\n", "y", "quote.csv:2:3", "never closed");
    csv_fail("after.csv", "a,b,y\n1,\"2\"x,0\n", "y", "after.csv:2:6", "closing quote");
    csv_fail("frac.csv", "a,y\n1,0\n2,1.5\n", "y", "frac.csv:3:3", "not an integer");
    csv_fail("neg.csv", "a,y\n1,0\n2,-1\n", "y", "neg.csv:3:3", "out of range");
    csv_fail("big.csv", "a,y\n1,0\n2,1000\n", "y", "big.csv:3:3", "out of range");
    csv_fail("nolab.csv", "a,y\n1,0\n2,\n", "y", "nolab.csv:3:3", "empty label");
    write_bytes(tpath("nul.csv"), "a,y\n1,0\0\n", 9);
    expect_fail(tpath("nul.csv"), NULL, "y", FOIL_ERR_FORMAT, "nul.csv", "NUL");
    /* too many string classes: an id column */
    static char buf[1 << 16];
    size_t k = (size_t)snprintf(buf, sizeof buf, "a,id\n");
    for (int i = 0; i < 1001; i++) k += (size_t)snprintf(buf + k, sizeof buf - k, "1,x%d\n", i);
    csv_fail("ids.csv", buf, "y", "no column named 'y'", NULL);
    write_text(tpath("ids.csv"), buf);
    expect_fail(tpath("ids.csv"), NULL, "id", FOIL_ERR_FORMAT, "ids.csv", "1001 distinct");
    /* options that do not fit a CSV */
    write_text(tpath("ok.csv"), "a,y\n1,0\n2,1\n");
    expect_fail(tpath("ok.csv"), NULL, NULL, FOIL_ERR_ARG, "ok.csv", "--label-column");
    expect_fail(tpath("ok.csv"), tpath("ok.csv"), "y", FOIL_ERR_ARG, "ok.csv", "--labels");
}

/* Random CSV-like text and every truncation / byte flip of small IDX and NPY
 * files: each load either succeeds with consistent output or fails with a
 * message naming the file; never a crash (ASan/UBSan build). */
static void test_fuzz(void **state)
{
    (void)state;
    static const char alphabet[] = ",,,\"\r\n\n 01234.-eEnaix";
    uint64_t z = 12345;
    static char buf[512];
    for (int it = 0; it < 400; it++) {
        size_t len = 0;
        len += (size_t)snprintf(buf, sizeof buf, it % 3 ? "a,y,b\n" : "");
        size_t extra = (size_t)(it % 200);
        for (size_t i = 0; i < extra; i++) {
            z = z * 6364136223846793005ULL + 1442695040888963407ULL;
            buf[len++] = alphabet[(z >> 33) % (sizeof alphabet - 1)];
        }
        write_bytes(tpath("fz.csv"), buf, len);
        foil_dataset d;
        foil_status st = load(tpath("fz.csv"), NULL, "y", (uint64_t)it, (foil_split)(it % 3), &d);
        if (st == FOIL_OK) {
            assert_int_equal(d.x.ndim, 2);
            assert_int_equal(d.y.numel, d.x.shape[0]);
            for (int64_t i = 0; i < d.y.numel; i++) assert_true(foil_i64(&d.y)[i] >= 0 && foil_i64(&d.y)[i] < d.classes);
        } else {
            assert_non_null(strstr(foil_last_error(), "fz.csv"));
        }
        foil_dataset_free(&d);
    }

    /* IDX and NPY: every truncation, and byte flips in the headers */
    uint8_t img[6 * 3 * 2], lab[6] = {0, 1, 0, 1, 0, 1};
    for (size_t i = 0; i < sizeof img; i++) img[i] = (uint8_t)(i * 5);
    uint32_t dims[3] = {6, 3, 2}, ld = 6;
    idx_write(tpath("fz-l.idx"), 0x08, 1, &ld, lab, sizeof lab, 0);
    idx_write(tpath("fz-i.idx"), 0x08, 3, dims, img, sizeof img, 0);
    int64_t ys[1] = {6}, xs[3] = {6, 3, 2};
    int64_t yl[6] = {0, 1, 0, 1, 0, 1};
    npy_write(tpath("fz-l.npy"), FOIL_I64, 1, ys, yl);
    npy_write(tpath("fz-i.npy"), FOIL_U8, 3, xs, img);
    static const char *const files[4] = {"fz-i.idx", "fz-l.idx", "fz-i.npy", "fz-l.npy"};
    for (int fi = 0; fi < 4; fi++) {
        static uint8_t orig[4096], mod[4096];
        FILE *f = fopen(tpath(files[fi]), "rb");
        size_t n = fread(orig, 1, sizeof orig, f);
        fclose(f);
        const char *data = fi % 2 == 0 ? tpath(files[fi]) : tpath(fi < 2 ? "fz-i.idx" : "fz-i.npy");
        const char *labels = fi % 2 == 1 ? tpath(files[fi]) : tpath(fi < 2 ? "fz-l.idx" : "fz-l.npy");
        for (size_t cut = 0; cut < n + 24; cut++) {
            memcpy(mod, orig, n);
            size_t m = n;
            if (cut < n) m = cut; /* truncation */
            else {
                /* a changed header byte; in an IDX dimension only the low byte, since a
                 * dimension made huge costs a big allocation in the IDX reader */
                size_t pos = (cut - n) % 24 % n;
                if (fi < 2 && pos >= 4 && pos < 4 + 4 * (size_t)orig[3]) pos |= 3;
                mod[pos] ^= (uint8_t)(1 + cut % 7);
            }
            write_bytes(tpath(files[fi]), mod, m);
            foil_dataset d;
            foil_status st = load(data, labels, NULL, 0, FOIL_SPLIT_ALL, &d);
            if (st == FOIL_OK) {
                assert_int_equal(d.y.numel, d.x.shape[0]);
            } else {
                assert_non_null(strstr(foil_last_error(), "fz-"));
            }
            foil_dataset_free(&d);
        }
        write_bytes(tpath(files[fi]), orig, n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fashion_mnist),
        cmocka_unit_test(test_sklearn_datasets),
        cmocka_unit_test(test_sklearn_crosscheck),
        cmocka_unit_test(test_builtin_bad_files),
        cmocka_unit_test(test_npy_pair),
        cmocka_unit_test(test_idx_pair),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_moments),
        cmocka_unit_test(test_select),
        cmocka_unit_test(test_bad_npy_idx),
        cmocka_unit_test(test_bad_csv),
        cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
