/*
 * data/arrays.c - the user's IDX and NPY pairs: an array of examples and an
 * array of labels.
 *
 * Examples (N, ...), at least 2-D, become float32:
 *   - uint8 is divided by 255 (and later mapped onto the input range, see
 *     foil/data.h); float32 is kept; float64 is
 *     rounded to float32 (an error if a value overflows it); other integer
 *     and bool types are converted as they are;
 *   - NaN and infinities are errors;
 *   - (N, H, W) becomes (N, 1, H, W); a 4-D array (N, H, W, C) with C 1 or 3
 *     and H, W >= 8 is taken as NHWC (the NumPy/TensorFlow layout) and
 *     transposed to NCHW; (N, C, H, W) with C >= 8 and W 1 or 3 would be
 *     misread, but such images do not occur;
 *   - a result of rank >= 4 is an image (one input range for every pixel);
 *     a 2-D one is tabular, with feature names "feature_0", "feature_1", ...
 * Labels: one integer per example, shape (N) or (N, 1), in [0, 1000); float
 * arrays are accepted when every value is integral. classes = max + 1.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data/data_internal.h"
#include "foil/idx.h"
#include "foil/npy.h"

#define CONVERT(T, EXPR)                                      \
    do {                                                      \
        const T *s = raw->data;                               \
        for (int64_t i = 0; i < n; i++) dst[i] = (EXPR);      \
    } while (0)

foil_status foilDataExamplesFromTensor(const char *path, foil_tensor *raw, FoilDataFull *f)
{
    foil_status st = FOIL_OK;
    char sh[96];
    foil_tensor x;
    memset(&x, 0, sizeof x);
    if (raw->ndim < 2) {
        st = foil_error(FOIL_ERR_SHAPE, "%s: the examples array has shape %s; expected (examples, features...) with at "
                        "least 2 dimensions", path, foil_shape_str(raw, sh, sizeof sh));
        goto out;
    }
    if (raw->shape[0] == 0 || raw->numel == 0) {
        st = foil_error(FOIL_ERR_SHAPE, "%s: the examples array has shape %s: no examples", path,
                        foil_shape_str(raw, sh, sizeof sh));
        goto out;
    }
    /* the shape: (N, H, W) -> (N, 1, H, W); NHWC -> NCHW */
    int ndim = raw->ndim;
    int64_t shape[FOIL_MAX_DIMS];
    memcpy(shape, raw->shape, sizeof shape);
    int nhwc = 0;
    if (ndim == 3) {
        shape[3] = shape[2];
        shape[2] = shape[1];
        shape[1] = 1;
        ndim = 4;
    } else if (ndim == 4 && (shape[3] == 1 || shape[3] == 3) && shape[1] >= 8 && shape[2] >= 8) {
        nhwc = 1;
        int64_t c = shape[3];
        shape[3] = shape[2];
        shape[2] = shape[1];
        shape[1] = c;
    }
    if ((st = foil_tensor_alloc(&x, FOIL_F32, ndim, shape))) {
        st = foil_error_prefix(st, "%s", path);
        goto out;
    }
    float *dst = foil_f32(&x);
    const int64_t n = raw->numel;
    switch (raw->dtype) {
    case FOIL_F32: memcpy(dst, raw->data, (size_t)n * sizeof(float)); break;
    case FOIL_F64: CONVERT(double, (float)s[i]); break;
    case FOIL_U8: CONVERT(uint8_t, (float)s[i] / 255.0f); break;
    case FOIL_BOOL: CONVERT(uint8_t, (float)s[i]); break;
    case FOIL_I8: CONVERT(int8_t, (float)s[i]); break;
    case FOIL_U16: CONVERT(uint16_t, (float)s[i]); break;
    case FOIL_I16: CONVERT(int16_t, (float)s[i]); break;
    case FOIL_I32: CONVERT(int32_t, (float)s[i]); break;
    case FOIL_U32: CONVERT(uint32_t, (float)s[i]); break;
    case FOIL_I64: CONVERT(int64_t, (float)s[i]); break;
    case FOIL_U64: CONVERT(uint64_t, (float)s[i]); break;
    default:
        st = foil_error(FOIL_ERR_UNSUPPORTED, "%s: examples of type %s are not supported", path,
                        foil_dtype_name(raw->dtype));
        goto out;
    }
    if (raw->dtype == FOIL_F64) {
        /* a finite double that overflows float32 is its own error */
        const double *s = raw->data;
        for (int64_t i = 0; i < n; i++)
            if (isfinite(s[i]) && !isfinite(dst[i])) {
                int64_t per = n / raw->shape[0];
                st = foil_error(FOIL_ERR_FORMAT, "%s: example %lld, feature %lld is %g, out of float32 range", path,
                                (long long)(i / per), (long long)(i % per), s[i]);
                goto out;
            }
    }
    if (raw->dtype == FOIL_F32 || raw->dtype == FOIL_F64) {
        /* check in the file's layout so the indices match the user's array */
        foil_tensor view = x;
        view.ndim = raw->ndim;
        memcpy(view.shape, raw->shape, sizeof view.shape);
        if ((st = foilDataCheckFinite(path, &view))) goto out;
    }
    if (nhwc) {
        /* dst holds NHWC order; rewrite it as NCHW */
        const int64_t N = shape[0], C = shape[1], H = shape[2], W = shape[3];
        float *t = malloc((size_t)(C * H * W) * sizeof *t);
        if (!t) {
            st = foil_error(FOIL_ERR_NOMEM, "%s: out of memory", path);
            goto out;
        }
        for (int64_t b = 0; b < N; b++) {
            float *img = dst + b * C * H * W;
            for (int64_t h = 0; h < H; h++)
                for (int64_t w = 0; w < W; w++)
                    for (int64_t c = 0; c < C; c++) t[(c * H + h) * W + w] = img[(h * W + w) * C + c];
            memcpy(img, t, (size_t)(C * H * W) * sizeof *t);
        }
        free(t);
    }
    f->is_image = ndim >= 4;
    f->from_bytes = raw->dtype == FOIL_U8;
    if (!f->is_image) {
        int64_t F = n / shape[0];
        if (!(f->feature_names = foilDataStrvNew(F))) {
            st = foil_error(FOIL_ERR_NOMEM, "%s: out of memory", path);
            goto out;
        }
        for (int64_t j = 0; j < F; j++) {
            char b[32];
            snprintf(b, sizeof b, "feature_%lld", (long long)j);
            if (!(f->feature_names[j] = foilDataStrdup(b))) {
                st = foil_error(FOIL_ERR_NOMEM, "%s: out of memory", path);
                goto out;
            }
        }
    }
    f->x = x;
    memset(&x, 0, sizeof x);
out:
    foil_tensor_free(&x);
    foil_tensor_free(raw);
    return st;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcasecmp(s + a - b, suf) == 0;
}

/* Read a labels file: NPY by extension or magic, else IDX. */
static foil_status read_labels(const char *path, foil_tensor *y, int64_t *classes)
{
    foil_tensor raw;
    int npy = ends_with(path, ".npy");
    if (!npy) {
        FILE *fp = fopen(path, "rb");
        if (!fp) return foil_error(FOIL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        char b[6];
        npy = fread(b, 1, 6, fp) == 6 && memcmp(b, "\x93NUMPY", 6) == 0;
        fclose(fp);
    }
    foil_status st = npy ? foil_npy_read_labels(path, &raw) : foil_idx_read(path, &raw);
    if (st) return st;
    return foilDataLabelsFromTensor(path, &raw, y, classes);
}

foil_status foilDataLoadArrayPair(const foil_data_spec *spec, int data_is_idx, FoilDataFull *f)
{
    memset(f, 0, sizeof *f);
    const char *path = spec->data;
    foil_tensor raw;
    foil_status st = data_is_idx ? foil_idx_read(path, &raw) : foil_npy_read(path, &raw);
    if (st) return st;
    if ((st = foilDataExamplesFromTensor(path, &raw, f))) return st;
    if ((st = read_labels(spec->labels, &f->y, &f->classes))) {
        foilDataFullFree(f);
        return st;
    }
    if (f->y.shape[0] != f->x.shape[0]) {
        st = foil_error(FOIL_ERR_SHAPE, "%s has %lld labels but %s has %lld examples; the two files must hold the "
                        "same examples in the same order", spec->labels, (long long)f->y.shape[0], path,
                        (long long)f->x.shape[0]);
        foilDataFullFree(f);
    }
    return st;
}
