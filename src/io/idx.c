/*
 * io/idx.c - IDX reader (LeCun's MNIST format): a 4-byte magic 0x0000TTDD
 * (TT element type, DD rank), DD big-endian uint32 dimensions, then the
 * elements, big-endian. zlib's gzread reads gzip and plain files alike.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zlib.h>

#include "foil/idx.h"

/* Refuse headers claiming more than this (4 GiB) before reading them. */
#define IDX_MAX_BYTES ((int64_t)4 << 30)

static int read_exact(gzFile f, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        unsigned chunk = len - got > (1u << 30) ? (1u << 30) : (unsigned)(len - got);
        int r = gzread(f, (char *)buf + got, chunk);
        if (r <= 0) return 0;
        got += (size_t)r;
    }
    return 1;
}

/* Read exactly n bytes into a new buffer (*out, to free): 1, or 0 if the
 * file ends first, -1 out of memory. The buffer grows with what arrives
 * (from 1 MiB, doubling), so a gzip file of a few bytes whose header claims
 * gigabytes ends as truncated without allocating them first. */
static int read_growing(gzFile f, size_t n, uint8_t **out)
{
    size_t cap = n < ((size_t)1 << 20) ? n : (size_t)1 << 20, got = 0;
    uint8_t *buf = malloc(cap ? cap : 1);
    while (buf && got < n) {
        if (got == cap) {
            cap = cap > n / 2 ? n : 2 * cap;
            uint8_t *grown = realloc(buf, cap);
            if (!grown) break;
            buf = grown;
        }
        if (!read_exact(f, buf + got, cap - got)) {
            free(buf);
            return 0;
        }
        got = cap;
    }
    if (got < n || !buf) {
        free(buf);
        return -1;
    }
    *out = buf;
    return 1;
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static foil_status idx_type(const char *path, int code, foil_dtype *dt, size_t *file_esize)
{
    switch (code) {
    case 0x08: *dt = FOIL_U8; *file_esize = 1; return FOIL_OK;
    case 0x09: *dt = FOIL_I8; *file_esize = 1; return FOIL_OK;
    case 0x0B: *dt = FOIL_I32; *file_esize = 2; return FOIL_OK;
    case 0x0C: *dt = FOIL_I32; *file_esize = 4; return FOIL_OK;
    case 0x0D: *dt = FOIL_F32; *file_esize = 4; return FOIL_OK;
    case 0x0E: *dt = FOIL_F64; *file_esize = 8; return FOIL_OK;
    }
    return foil_error(FOIL_ERR_FORMAT, "%s: unknown IDX element type 0x%02x (not an IDX file?)", path, code);
}

/* Convert big-endian file elements from raw (which may be t->data itself)
 * to native little-endian in t. */
static void to_native(foil_tensor *t, const uint8_t *raw, size_t file_esize)
{
    for (int64_t i = 0; i < t->numel; i++) {
        const uint8_t *p = raw + (size_t)i * file_esize;
        switch (file_esize) {
        case 1: break;
        case 2: ((int32_t *)t->data)[i] = (int16_t)((uint16_t)p[0] << 8 | p[1]); break;
        case 4: {
            uint32_t v = be32(p);
            memcpy((char *)t->data + 4 * i, &v, 4);
            break;
        }
        case 8: {
            uint64_t v = (uint64_t)be32(p) << 32 | be32(p + 4);
            memcpy((char *)t->data + 8 * i, &v, 8);
            break;
        }
        }
    }
}

foil_status foil_idx_read(const char *path, foil_tensor *out)
{
    memset(out, 0, sizeof *out);
    gzFile f = gzopen(path, "rb");
    if (!f) return foil_error(FOIL_ERR_IO, "%s: cannot open", path);
    foil_status st = FOIL_OK;
    uint8_t head[4], dimbuf[4 * FOIL_MAX_DIMS];
    int64_t shape[FOIL_MAX_DIMS];
    foil_dtype dt = FOIL_UNDEFINED;
    size_t file_esize = 0;
    uint8_t *raw = NULL;
    if (!read_exact(f, head, 4)) st = foil_error(FOIL_ERR_FORMAT, "%s: too short to be an IDX file", path);
    else if (head[0] != 0 || head[1] != 0) st = foil_error(FOIL_ERR_FORMAT, "%s: bad IDX magic number (not an IDX file)", path);
    else st = idx_type(path, head[2], &dt, &file_esize);
    int rank = head[3];
    if (!st && (rank < 1 || rank > FOIL_MAX_DIMS))
        st = foil_error(FOIL_ERR_FORMAT, "%s: IDX rank %d is not between 1 and %d", path, rank, FOIL_MAX_DIMS);
    if (!st && !read_exact(f, dimbuf, 4 * (size_t)rank)) st = foil_error(FOIL_ERR_FORMAT, "%s: truncated IDX header", path);
    int64_t numel = 1;
    for (int d = 0; !st && d < rank; d++) {
        shape[d] = be32(dimbuf + 4 * d);
        if (shape[d] && numel > IDX_MAX_BYTES / (int64_t)file_esize / shape[d])
            st = foil_error(FOIL_ERR_FORMAT, "%s: IDX dimensions are absurdly large", path);
        else numel *= shape[d]; /* not after the check failed: the product would overflow */
    }
    /* An uncompressed file must hold exactly what its header promises; check
     * before allocating, so a corrupt header cannot demand gigabytes. */
    if (!st && gzdirect(f)) {
        struct stat sb;
        uint64_t want = 4 + 4 * (uint64_t)rank + (uint64_t)numel * file_esize;
        if (stat(path, &sb) == 0 && (uint64_t)sb.st_size != want)
            st = foil_error(FOIL_ERR_FORMAT, "%s: the header promises %llu bytes but the file has %llu", path,
                            (unsigned long long)want, (unsigned long long)sb.st_size);
    }
    if (!st) {
        size_t nbytes = (size_t)numel * file_esize;
        int got = read_growing(f, nbytes, &raw);
        if (got < 0) st = foil_error(FOIL_ERR_NOMEM, "%s: out of memory", path);
        else if (!got)
            st = foil_error(FOIL_ERR_FORMAT, "%s: truncated: the header promises %lld elements", path, (long long)numel);
        else {
            uint8_t extra;
            if (gzread(f, &extra, 1) > 0) st = foil_error(FOIL_ERR_FORMAT, "%s: unexpected bytes after the data", path);
        }
        if (!st) st = foil_tensor_alloc(out, dt, rank, shape);
        if (!st && file_esize == foil_dtype_size(dt)) {
            memcpy(out->data, raw, nbytes); /* then converted in place */
            to_native(out, out->data, file_esize);
        } else if (!st) {
            to_native(out, raw, file_esize);
        }
        free(raw);
    }
    int zerr;
    const char *zmsg = gzerror(f, &zerr);
    if (!st && zerr != Z_OK && zerr != Z_BUF_ERROR) st = foil_error(FOIL_ERR_FORMAT, "%s: corrupt gzip stream (%s)", path, zmsg);
    gzclose(f);
    if (st) foil_tensor_free(out);
    return st;
}
