/*
 * data/pgm.c - greyscale PGM images (Netpbm's P5 and P2) and a directory of
 * class folders of them as a dataset (foil/data.h, data/data_internal.h).
 *
 * A PGM file is a header of ASCII tokens, "P5" (binary) or "P2" (ASCII),
 * width, height and maxval, separated by whitespace and '#' comments, then
 * the raster: for P5 one byte per pixel after exactly one whitespace byte,
 * for P2 whitespace-separated decimals. foil reads maxval 1..255 (16-bit
 * PGMs are refused), one image per file (bytes after the raster other than
 * whitespace are an error, not a second image silently dropped).
 *
 * A directory DIR as --data: every subfolder of DIR holding .pgm files is a
 * class, in natural order of the folder names (s1, s2, ..., s10, as
 * strverscmp orders them), its images in natural order of the file names;
 * files directly in DIR (a README) are ignored. This is the AT&T/ORL face
 * database's layout (orl_faces/s1/1.pgm ...). Every image must have the
 * same size. Pixels become v / maxval in [0, 1], so they span the input
 * range as uint8 data does (foil/data.h); a folder without images, an
 * unreadable or malformed file, or an image of another size is an error
 * naming the file.
 */
#define _GNU_SOURCE /* strverscmp */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data/data_internal.h"
#include "io/file.h"

/* Largest side and pixel count of one image, and of a whole dataset:
 * beyond these a header is more likely corrupt than a real face. */
#define PGM_MAX_SIDE 65535
#define PGM_MAX_PIXELS ((int64_t)1 << 28)
#define PGM_MAX_FILE ((size_t)1 << 31)
#define PGM_MAX_IMAGES 1000000

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* Skip whitespace and '#' comments (a comment runs to the end of its line). */
static size_t skip_blank(const uint8_t *b, size_t len, size_t p)
{
    while (p < len) {
        if (is_space(b[p])) p++;
        else if (b[p] == '#')
            while (p < len && b[p] != '\n' && b[p] != '\r') p++;
        else break;
    }
    return p;
}

/* One unsigned decimal token at *p (after blanks): 0 on success. A token
 * that is not digits, or too large, is an error naming `what`. */
static foil_status read_number(const char *path, const uint8_t *b, size_t len, size_t *p, const char *what,
                               int64_t max, int64_t *out)
{
    size_t q = skip_blank(b, len, *p);
    if (q >= len) return foil_error(FOIL_ERR_FORMAT, "%s: truncated PGM: the file ends before its %s", path, what);
    if (b[q] < '0' || b[q] > '9')
        return foil_error(FOIL_ERR_FORMAT, "%s: bad PGM %s: expected a number at byte %zu", path, what, q);
    int64_t v = 0;
    while (q < len && b[q] >= '0' && b[q] <= '9') {
        v = v * 10 + (b[q++] - '0');
        if (v > max) return foil_error(FOIL_ERR_FORMAT, "%s: PGM %s is larger than %lld", path, what, (long long)max);
    }
    if (q < len && !is_space(b[q]) && b[q] != '#')
        return foil_error(FOIL_ERR_FORMAT, "%s: bad PGM %s: '%c' after the number at byte %zu", path, what, b[q], q);
    *p = q;
    *out = v;
    return FOIL_OK;
}

/* The header: magic, width, height, maxval; *p ends after the last digit of maxval. */
static foil_status parse_header(const char *path, const uint8_t *b, size_t len, FoilPgm *img, size_t *p)
{
    if (len < 2 || b[0] != 'P' || (b[1] != '5' && b[1] != '2'))
        return foil_error(FOIL_ERR_FORMAT, "%s: not a PGM image (it does not start with P5 or P2)", path);
    img->binary = b[1] == '5';
    *p = 2;
    if (*p < len && !is_space(b[*p]) && b[*p] != '#')
        return foil_error(FOIL_ERR_FORMAT, "%s: not a PGM image (the magic P%c runs on)", path, b[1]);
    foil_status st;
    if ((st = read_number(path, b, len, p, "width", PGM_MAX_SIDE, &img->width)) ||
        (st = read_number(path, b, len, p, "height", PGM_MAX_SIDE, &img->height)) ||
        (st = read_number(path, b, len, p, "maxval", 65535, &img->maxval)))
        return st;
    if (img->width < 1 || img->height < 1)
        return foil_error(FOIL_ERR_FORMAT, "%s: PGM size %lldx%lld has no pixels", path, (long long)img->width,
                          (long long)img->height);
    if (img->width * img->height > PGM_MAX_PIXELS)
        return foil_error(FOIL_ERR_FORMAT, "%s: PGM size %lldx%lld is too large (over %lld pixels)", path,
                          (long long)img->width, (long long)img->height, (long long)PGM_MAX_PIXELS);
    if (img->maxval < 1)
        return foil_error(FOIL_ERR_FORMAT, "%s: PGM maxval is 0 (it must be 1 to 255)", path);
    if (img->maxval > 255)
        return foil_error(FOIL_ERR_UNSUPPORTED, "%s: a 16-bit PGM (maxval %lld) is not supported; foil reads maxval "
                          "1 to 255", path, (long long)img->maxval);
    return FOIL_OK;
}

/* The raster into img->pixels (width * height values, each <= maxval). */
static foil_status parse_raster(const char *path, const uint8_t *b, size_t len, size_t p, FoilPgm *img)
{
    const int64_t n = img->width * img->height;
    if (img->binary) {
        /* exactly one whitespace byte separates maxval from the raster (a
         * pixel may itself be a space or '#', so nothing more is skipped) */
        if (p >= len || !is_space(b[p]))
            return foil_error(FOIL_ERR_FORMAT, "%s: truncated PGM: no raster after the header", path);
        p++;
        if (len - p < (size_t)n)
            return foil_error(FOIL_ERR_FORMAT, "%s: truncated PGM: %lldx%lld needs %lld bytes of pixels, the file has "
                              "%zu", path, (long long)img->width, (long long)img->height, (long long)n, len - p);
        memcpy(img->pixels, b + p, (size_t)n);
        p += (size_t)n;
        for (int64_t i = 0; i < n; i++)
            if (img->pixels[i] > img->maxval)
                return foil_error(FOIL_ERR_FORMAT, "%s: pixel %lld is %d, above the PGM's maxval %lld", path,
                                  (long long)i, img->pixels[i], (long long)img->maxval);
    } else {
        for (int64_t i = 0; i < n; i++) {
            int64_t v;
            foil_status st = read_number(path, b, len, &p, "pixels", img->maxval, &v);
            if (st) return st;
            img->pixels[i] = (uint8_t)v;
        }
    }
    p = skip_blank(b, len, p);
    if (p < len)
        return foil_error(FOIL_ERR_FORMAT, "%s: %zu bytes after the PGM's pixels (a second image? foil reads one "
                          "image per file)", path, len - p);
    return FOIL_OK;
}

foil_status foilDataParsePgm(const char *path, const uint8_t *buf, size_t len, FoilPgm *img)
{
    memset(img, 0, sizeof *img);
    size_t p;
    foil_status st = parse_header(path, buf, len, img, &p);
    if (st) return st;
    img->pixels = malloc((size_t)(img->width * img->height));
    if (!img->pixels) return foil_error(FOIL_ERR_NOMEM, "%s: out of memory", path);
    if ((st = parse_raster(path, buf, len, p, img))) foilDataPgmFree(img);
    return st;
}

void foilDataPgmFree(FoilPgm *img)
{
    free(img->pixels);
    memset(img, 0, sizeof *img);
}

foil_status foilDataReadPgm(const char *path, FoilPgm *img)
{
    memset(img, 0, sizeof *img);
    uint8_t *buf;
    size_t len;
    foil_status st = foilReadFile(path, PGM_MAX_FILE, &buf, &len);
    if (st) return st;
    st = foilDataParsePgm(path, buf, len, img);
    free(buf);
    return st;
}

/* ------------------------------------------------------------------------- */
/* a directory of class folders                                              */

typedef struct NameList {
    char **name;
    int64_t n, cap;
} NameList;

static void names_free(NameList *l)
{
    for (int64_t i = 0; i < l->n; i++) free(l->name[i]);
    free(l->name);
    memset(l, 0, sizeof *l);
}

static int names_push(NameList *l, const char *s)
{
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 64;
        char **nn = realloc(l->name, (size_t)cap * sizeof *nn);
        if (!nn) return -1;
        l->name = nn;
        l->cap = cap;
    }
    if (!(l->name[l->n] = foilDataStrdup(s))) return -1;
    l->n++;
    return 0;
}

static int natural_order(const void *a, const void *b) { return strverscmp(*(char *const *)a, *(char *const *)b); }

static int has_pgm_extension(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcasecmp(name + n - 4, ".pgm") == 0;
}

/* The entries of dir that are directories (want_dirs) or .pgm files, naturally sorted. */
static foil_status list_dir(const char *dir, int want_dirs, NameList *out)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d) return foil_error(FOIL_ERR_IO, "%s: cannot open the directory: %s", dir, strerror(errno));
    foil_status st = FOIL_OK;
    struct dirent *e;
    while (!st && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue; /* ., .., hidden files */
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) {
            st = foil_error(FOIL_ERR_IO, "%s/%s: path too long", dir, e->d_name);
            break;
        }
        struct stat sb;
        if (stat(path, &sb) != 0) continue; /* a dangling link: not an image or a class */
        int keep = want_dirs ? S_ISDIR(sb.st_mode) : S_ISREG(sb.st_mode) && has_pgm_extension(e->d_name);
        if (keep && names_push(out, e->d_name)) st = foil_error(FOIL_ERR_NOMEM, "%s: out of memory", dir);
    }
    closedir(d);
    if (st) names_free(out);
    else if (out->n) qsort(out->name, (size_t)out->n, sizeof *out->name, natural_order);
    return st;
}

foil_status foilDataPgmDirFiles(const char *dir, char ***paths, int64_t *n)
{
    *paths = NULL, *n = 0;
    NameList classes, all = {0};
    foil_status st = list_dir(dir, 1, &classes);
    for (int64_t c = 0; !st && c < classes.n; c++) {
        char folder[4096], path[8192];
        NameList files;
        snprintf(folder, sizeof folder, "%s/%s", dir, classes.name[c]);
        st = list_dir(folder, 0, &files);
        for (int64_t i = 0; !st && i < files.n; i++) {
            snprintf(path, sizeof path, "%s/%s", folder, files.name[i]);
            if (names_push(&all, path)) st = foil_error(FOIL_ERR_NOMEM, "%s: out of memory", dir);
        }
        names_free(&files); /* list_dir leaves it empty when it fails */
    }
    names_free(&classes);
    if (st) {
        names_free(&all);
        return st;
    }
    *paths = all.name, *n = all.n;
    return FOIL_OK;
}

/* What the images read so far have built: pixels (count x pixels each) and labels. */
typedef struct PgmSet {
    float *x;
    int64_t *y;
    int64_t count, cap;
    int64_t width, height;
    char first[4096];       /* the first image, named when another's size differs */
    int all_255;            /* every maxval is 255: the pixels are bytes (foil/data.h) */
} PgmSet;

/* Append the image at path as class `label`. */
static foil_status add_image(PgmSet *s, const char *path, int64_t label)
{
    FoilPgm img;
    foil_status st = foilDataReadPgm(path, &img);
    if (st) return st;
    if (s->count == 0) {
        s->width = img.width;
        s->height = img.height;
        snprintf(s->first, sizeof s->first, "%s", path);
    } else if (img.width != s->width || img.height != s->height) {
        st = foil_error(FOIL_ERR_SHAPE, "%s: a %lldx%lld image, but %s is %lldx%lld; every image of a dataset must "
                        "have one size", path, (long long)img.width, (long long)img.height, s->first,
                        (long long)s->width, (long long)s->height);
    }
    const int64_t px = s->width * s->height;
    if (!st && s->count == s->cap) {
        int64_t cap = s->cap ? 2 * s->cap : 64;
        if (cap * px > PGM_MAX_PIXELS || cap > PGM_MAX_IMAGES) cap = s->count + 1;
        if (cap * px > PGM_MAX_PIXELS || cap > PGM_MAX_IMAGES)
            st = foil_error(FOIL_ERR_FORMAT, "%s: too many images (over %lld pixels in all)", path,
                            (long long)PGM_MAX_PIXELS);
        float *nx = st ? NULL : realloc(s->x, (size_t)(cap * px) * sizeof *nx);
        if (nx) s->x = nx;
        int64_t *ny = nx ? realloc(s->y, (size_t)cap * sizeof *ny) : NULL;
        if (ny) s->y = ny;
        if (!st && (!nx || !ny)) st = foil_error(FOIL_ERR_NOMEM, "%s: out of memory", path);
        if (!st) s->cap = cap;
    }
    if (!st) {
        float *dst = s->x + s->count * px;
        const float scale = 1.0f / (float)img.maxval;
        for (int64_t i = 0; i < px; i++) dst[i] = (float)img.pixels[i] * scale;
        s->y[s->count++] = label;
        s->all_255 &= img.maxval == 255;
    }
    foilDataPgmFree(&img);
    return st;
}

/* Every .pgm file of the class folder dir/cls as class `label`. */
static foil_status add_class(PgmSet *s, const char *dir, const char *cls, int64_t label)
{
    char folder[4096], path[4096];
    snprintf(folder, sizeof folder, "%s/%s", dir, cls);
    NameList files;
    foil_status st = list_dir(folder, 0, &files);
    if (st) return st;
    if (files.n == 0) st = foil_error(FOIL_ERR_FORMAT, "%s: a class folder without .pgm images", folder);
    for (int64_t i = 0; !st && i < files.n; i++) {
        snprintf(path, sizeof path, "%s/%s", folder, files.name[i]);
        st = add_image(s, path, label);
    }
    names_free(&files);
    return st;
}

/* The set as FoilDataFull's tensors (N, 1, H, W) and (N). */
static foil_status set_to_full(PgmSet *s, const char *dir, FoilDataFull *f)
{
    int64_t xs[4] = {s->count, 1, s->height, s->width};
    foil_status st = foil_tensor_alloc(&f->x, FOIL_F32, 4, xs);
    if (!st) st = foil_tensor_alloc(&f->y, FOIL_I64, 1, &s->count);
    if (st) return foil_error_prefix(st, "%s", dir);
    memcpy(f->x.data, s->x, (size_t)f->x.numel * sizeof(float));
    memcpy(f->y.data, s->y, (size_t)s->count * sizeof(int64_t));
    f->is_image = 1;
    f->from_bytes = s->all_255;
    return FOIL_OK;
}

foil_status foilDataLoadPgmDir(const foil_data_spec *spec, FoilDataFull *f)
{
    memset(f, 0, sizeof *f);
    const char *dir = spec->data;
    if (spec->labels || spec->label_column)
        return foil_error(FOIL_ERR_ARG, "%s: a directory of class folders holds its own labels; --labels and "
                          "--label-column are for files", dir);
    NameList classes;
    foil_status st = list_dir(dir, 1, &classes);
    if (st) return st;
    if (classes.n == 0)
        st = foil_error(FOIL_ERR_FORMAT, "%s: no class folders; a directory as --data holds one folder of .pgm "
                        "images per class (DIR/s1/1.pgm, DIR/s2/1.pgm, ...)", dir);
    else if (classes.n > DL_MAX_CLASSES)
        st = foil_error(FOIL_ERR_FORMAT, "%s: %lld class folders (at most %d)", dir, (long long)classes.n,
                        DL_MAX_CLASSES);
    PgmSet s = {.all_255 = 1};
    for (int64_t c = 0; !st && c < classes.n; c++) st = add_class(&s, dir, classes.name[c], c);
    if (!st) st = set_to_full(&s, dir, f);
    if (!st && !(f->class_names = foilDataStrvNew(classes.n))) st = foil_error(FOIL_ERR_NOMEM, "%s: out of memory", dir);
    for (int64_t c = 0; !st && c < classes.n; c++) {
        f->class_names[c] = classes.name[c]; /* moved */
        classes.name[c] = NULL;
    }
    if (!st) f->classes = classes.n;
    free(s.x);
    free(s.y);
    names_free(&classes);
    if (st) foilDataFullFree(f);
    return st;
}
