/*
 * defenses/jpeg.c - JPEG compression as a preprocessing defense (Dziugaite
 * et al. 2016; Das et al. 2017; ART's JpegCompression), with libjpeg-turbo.
 *
 * Each (c, h, w) image is mapped from [lo, hi] to 8-bit pixels (clipped,
 * rounded, as ART's x * 255 -> uint8), compressed in memory at the given
 * quality with libjpeg's defaults (baseline, YCbCr with 2x2 chroma
 * subsampling for 3 channels, grayscale for 1), decompressed, and mapped
 * back. It has no derivative foil can compute (NULL backward): the plain
 * attack is refused gradients through it, and the adaptive one passes the
 * gradient through as the identity (BPDA, Athalye et al. 2018).
 */
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "foil/defense.h"

typedef struct jpeg_stage {
    int quality;
    int64_t c, h, w;
    float lo, hi;
    char name[32];
} jpeg_stage;

/* libjpeg reports errors by calling error_exit, which must not return. */
typedef struct jpeg_failure {
    struct jpeg_error_mgr mgr;
    jmp_buf back;
    char message[JMSG_LENGTH_MAX];
} jpeg_failure;

static void jpeg_fail(j_common_ptr cinfo)
{
    jpeg_failure *f = (jpeg_failure *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, f->message);
    longjmp(f->back, 1);
}

static foil_status compress(const jpeg_stage *s, unsigned char *pixels, unsigned char **buf, unsigned long *len)
{
    struct jpeg_compress_struct ci;
    jpeg_failure err;
    ci.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_fail;
    if (setjmp(err.back)) {
        jpeg_destroy_compress(&ci);
        return foil_error(FOIL_ERR_RUNTIME, "%s: libjpeg: %s", s->name, err.message);
    }
    jpeg_create_compress(&ci);
    jpeg_mem_dest(&ci, buf, len);
    ci.image_width = (JDIMENSION)s->w;
    ci.image_height = (JDIMENSION)s->h;
    ci.input_components = (int)s->c;
    ci.in_color_space = s->c == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, s->quality, TRUE);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = pixels + (size_t)ci.next_scanline * (size_t)(s->w * s->c);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    return FOIL_OK;
}

static foil_status decompress(const jpeg_stage *s, const unsigned char *buf, unsigned long len,
                              unsigned char *pixels)
{
    struct jpeg_decompress_struct di;
    jpeg_failure err;
    di.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_fail;
    if (setjmp(err.back)) {
        jpeg_destroy_decompress(&di);
        return foil_error(FOIL_ERR_RUNTIME, "%s: libjpeg: %s", s->name, err.message);
    }
    jpeg_create_decompress(&di);
    jpeg_mem_src(&di, buf, len);
    jpeg_read_header(&di, TRUE);
    di.out_color_space = s->c == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_start_decompress(&di);
    while (di.output_scanline < di.output_height) {
        JSAMPROW row = pixels + (size_t)di.output_scanline * (size_t)(s->w * s->c);
        jpeg_read_scanlines(&di, &row, 1);
    }
    jpeg_finish_decompress(&di);
    jpeg_destroy_decompress(&di);
    return FOIL_OK;
}

/* One image: planar floats -> interleaved bytes -> JPEG -> back. */
static foil_status jpeg_image(const jpeg_stage *s, const float *x, float *y, unsigned char *pixels)
{
    const int64_t c = s->c, hw = s->h * s->w;
    const float range = s->hi - s->lo;
    for (int64_t k = 0; k < c; k++)
        for (int64_t p = 0; p < hw; p++) {
            float u = fminf(fmaxf((x[k * hw + p] - s->lo) / range, 0.0f), 1.0f);
            pixels[p * c + k] = (unsigned char)lrintf(u * 255.0f);
        }
    unsigned char *buf = NULL;
    unsigned long len = 0;
    foil_status st = compress(s, pixels, &buf, &len);
    if (!st) st = decompress(s, buf, len, pixels);
    free(buf);
    if (st) return st;
    for (int64_t k = 0; k < c; k++)
        for (int64_t p = 0; p < hw; p++) y[k * hw + p] = s->lo + (float)pixels[p * c + k] / 255.0f * range;
    return FOIL_OK;
}

static foil_status jpeg_forward(void *ctx, const float *x, float *y, int64_t n, int64_t d, const uint64_t *seeds)
{
    (void)seeds;
    const jpeg_stage *s = ctx;
    if (d != s->c * s->h * s->w)
        return foil_error(FOIL_ERR_SHAPE, "%s: an example has %lld values, not %lld x %lld x %lld", s->name,
                          (long long)d, (long long)s->c, (long long)s->h, (long long)s->w);
    foil_status st = FOIL_OK;
    char message[512] = ""; /* foil_error's slot is per thread: carry a worker's message out */
#pragma omp parallel
    {
        unsigned char *pixels = malloc((size_t)d);
        foil_status mine = pixels ? FOIL_OK : foil_error(FOIL_ERR_NOMEM, "out of memory");
#pragma omp for schedule(dynamic, 8)
        for (int64_t i = 0; i < n; i++)
            if (!mine) mine = jpeg_image(s, x + i * d, y + i * d, pixels);
        free(pixels);
#pragma omp critical
        if (mine && !st) {
            st = mine;
            snprintf(message, sizeof message, "%s", foil_last_error());
        }
    }
    return st ? foil_error(st, "%s", message) : FOIL_OK;
}

foil_status foil_preprocessor_jpeg(int quality, int64_t c, int64_t h, int64_t w, float lo, float hi,
                                   foil_preprocessor *out)
{
    memset(out, 0, sizeof *out);
    if (quality < 1 || quality > 100)
        return foil_error(FOIL_ERR_ARG, "jpeg: quality must be 1 to 100, not %d", quality);
    if (c != 1 && c != 3)
        return foil_error(FOIL_ERR_ARG, "jpeg: images must have 1 (gray) or 3 (RGB) channels, not %lld", (long long)c);
    if (h < 1 || w < 1 || h > JPEG_MAX_DIMENSION || w > JPEG_MAX_DIMENSION)
        return foil_error(FOIL_ERR_ARG, "jpeg: image size %lld x %lld is out of JPEG's range", (long long)h,
                          (long long)w);
    if (!(lo < hi) || !isfinite(lo) || !isfinite(hi))
        return foil_error(FOIL_ERR_ARG, "jpeg: the input range [%g, %g] is empty or not finite", lo, hi);
    jpeg_stage *s = calloc(1, sizeof *s);
    if (!s) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    *s = (jpeg_stage){.quality = quality, .c = c, .h = h, .w = w, .lo = lo, .hi = hi};
    snprintf(s->name, sizeof s->name, "jpeg(%d)", quality);
    out->name = s->name;
    out->ctx = s;
    out->forward = jpeg_forward;
    out->backward = NULL;      /* no exact derivative */
    out->bpda_backward = NULL; /* identity */
    out->destroy = free;
    out->kind = FOIL_PREPROCESSOR_JPEG;
    return FOIL_OK;
}
