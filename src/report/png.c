/*
 * report/png.c - 8-bit gray or RGB pixels as a PNG in memory (libpng), so
 * one encoding serves both the file in DIR/examples/ and the copy inside
 * report.html.
 */
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

static void append(png_structp png, png_bytep data, png_size_t size)
{
    FoilPng *out = png_get_io_ptr(png);
    if (out->size + size > out->cap) {
        size_t cap = out->cap ? out->cap : 4096;
        while (cap < out->size + size) cap *= 2;
        unsigned char *grown = realloc(out->data, cap);
        if (!grown) png_error(png, "out of memory");
        out->data = grown, out->cap = cap;
    }
    memcpy(out->data + out->size, data, size);
    out->size += size;
}

static void no_flush(png_structp png) { (void)png; }

foil_status foilPngEncode(const uint8_t *pixels, int width, int height, int channels, FoilPng *out)
{
    memset(out, 0, sizeof *out);
    if (width < 1 || height < 1 || (channels != 1 && channels != 3))
        return foil_error(FOIL_ERR_ARG, "PNG: %d x %d pixels of %d channels cannot be written", width, height,
                          channels);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return foil_error(FOIL_ERR_NOMEM, "PNG: out of memory");
    }
    /* libpng reports errors by longjmp: everything the encoder allocates is
     * reachable from png, info and out, so the jump target frees it all */
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        foilPngFree(out);
        return foil_error(FOIL_ERR_NOMEM, "PNG: encoding failed (out of memory)");
    }
    png_set_write_fn(png, out, append, no_flush);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
                 channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int r = 0; r < height; r++) png_write_row(png, (png_const_bytep)(pixels + (size_t)r * width * channels));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return FOIL_OK;
}

void foilPngFree(FoilPng *png)
{
    free(png->data);
    memset(png, 0, sizeof *png);
}
