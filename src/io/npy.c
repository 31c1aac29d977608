/*
 * io/npy.c - NumPy .npy reader and writer (see foil/npy.h).
 *
 * The format (numpy/lib/format.py, NEP 1):
 *   "\x93NUMPY" major minor
 *   header length: uint16 LE (1.0) or uint32 LE (2.0, 3.0)
 *   header: a Python dict literal, ASCII (1.0, 2.0) or UTF-8 (3.0), e.g.
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 *   padded with spaces and ending in '\n'; the raw data follows.
 *
 * The header is parsed by a small recursive-descent reader that accepts only
 * what NumPy writes (string, bool and int-tuple values; the three keys, once
 * each), not arbitrary Python. The file size is checked against the header
 * before anything is allocated, so a header claiming 2^60 elements costs
 * nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "foil/npy.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "npy.c assumes a little-endian host");

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* NumPy itself refuses headers over 10000 bytes by default; ours are < 200. */
#define NPY_MAX_HEADER 65536
/* What foil writes: the dict of a rank-8 shape with 20-digit dimensions is < 300 bytes. */
#define NPY_HDR_CAP 512

/* ------------------------------------------------------------------------- */
/* dtype descriptors                                                         */

typedef struct npy_type {
    const char *code; /* descr without the byte-order character */
    foil_dtype dt;
} npy_type;

static const npy_type npy_types[] = {
    {"f4", FOIL_F32}, {"f8", FOIL_F64}, {"u1", FOIL_U8},  {"i1", FOIL_I8},  {"b1", FOIL_BOOL},
    {"i2", FOIL_I16}, {"u2", FOIL_U16}, {"i4", FOIL_I32}, {"u4", FOIL_U32}, {"i8", FOIL_I64},
    {"u8", FOIL_U64},
};

static foil_dtype npy_dtype_of(const char *code)
{
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
        if (strcmp(npy_types[i].code, code) == 0) return npy_types[i].dt;
    return FOIL_UNDEFINED;
}

static const char *npy_code_of(foil_dtype dt)
{
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
        if (npy_types[i].dt == dt) return npy_types[i].code;
    return NULL;
}

/* ------------------------------------------------------------------------- */
/* header parser                                                             */

typedef struct hdr {
    const char *p, *end;
    const char *path;
    /* results */
    char descr[16];
    int have_descr, have_fortran, have_shape;
    int fortran;
    int ndim;
    int64_t shape[FOIL_MAX_DIMS];
} hdr;

static foil_status hdr_bad(const hdr *h, const char *what)
{
    return foil_error(FOIL_ERR_FORMAT, "%s: malformed .npy header: %s", h->path, what);
}

static void skip_ws(hdr *h)
{
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r')) h->p++;
}

static int accept(hdr *h, char ch)
{
    skip_ws(h);
    if (h->p < h->end && *h->p == ch) {
        h->p++;
        return 1;
    }
    return 0;
}

/* A quoted string ('...' or "...", no escapes) into buf (truncation is an
 * error). */
static foil_status parse_string(hdr *h, char *buf, size_t cap)
{
    skip_ws(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"')) return hdr_bad(h, "expected a quoted string");
    char q = *h->p++;
    size_t n = 0;
    while (h->p < h->end && *h->p != q) {
        if (*h->p == '\\' || (unsigned char)*h->p < 0x20 || (unsigned char)*h->p >= 0x7f)
            return hdr_bad(h, "unexpected character in a string");
        if (n + 1 >= cap) return hdr_bad(h, "string too long");
        buf[n++] = *h->p++;
    }
    if (h->p >= h->end) return hdr_bad(h, "unterminated string");
    h->p++;
    buf[n] = '\0';
    return FOIL_OK;
}

static int accept_word(hdr *h, const char *w)
{
    skip_ws(h);
    size_t n = strlen(w);
    if ((size_t)(h->end - h->p) >= n && memcmp(h->p, w, n) == 0) {
        const char *after = h->p + n;
        if (after < h->end && ((*after >= 'a' && *after <= 'z') || (*after >= 'A' && *after <= 'Z') ||
                               (*after >= '0' && *after <= '9') || *after == '_'))
            return 0;
        h->p = after;
        return 1;
    }
    return 0;
}

/* A non-negative integer dimension (Python 2's 'L' suffix tolerated). */
static foil_status parse_dim(hdr *h, int64_t *v)
{
    skip_ws(h);
    if (h->p < h->end && *h->p == '-')
        return foil_error(FOIL_ERR_FORMAT, "%s: .npy header has a negative dimension", h->path);
    if (h->p >= h->end || *h->p < '0' || *h->p > '9') return hdr_bad(h, "expected an integer in 'shape'");
    int64_t x = 0;
    while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
        int dgt = *h->p++ - '0';
        if (x > (INT64_MAX - dgt) / 10)
            return foil_error(FOIL_ERR_FORMAT, "%s: .npy header has an absurdly large dimension", h->path);
        x = x * 10 + dgt;
    }
    if (h->p < h->end && (*h->p == 'L' || *h->p == 'l')) h->p++;
    *v = x;
    return FOIL_OK;
}

/* ( ) | ( d , ) | ( d , d [,] ) ... */
static foil_status parse_shape(hdr *h)
{
    foil_status st;
    if (!accept(h, '(')) return hdr_bad(h, "'shape' must be a tuple");
    h->ndim = 0;
    if (accept(h, ')')) return FOIL_OK;
    for (;;) {
        int64_t d = 0;
        if ((st = parse_dim(h, &d))) return st;
        if (h->ndim >= FOIL_MAX_DIMS)
            return foil_error(FOIL_ERR_UNSUPPORTED, "%s: .npy array has more than %d dimensions", h->path,
                              FOIL_MAX_DIMS);
        h->shape[h->ndim++] = d;
        int comma = accept(h, ',');
        if (accept(h, ')')) {
            if (h->ndim == 1 && !comma) return hdr_bad(h, "a 1-tuple needs a trailing comma");
            return FOIL_OK;
        }
        if (!comma) return hdr_bad(h, "expected ',' or ')' in 'shape'");
    }
}

static foil_status parse_header(hdr *h)
{
    foil_status st;
    if (!accept(h, '{')) return hdr_bad(h, "expected '{'");
    for (;;) {
        if (accept(h, '}')) break;
        char key[32];
        if ((st = parse_string(h, key, sizeof key))) return st;
        if (!accept(h, ':')) return hdr_bad(h, "expected ':' after a key");
        if (strcmp(key, "descr") == 0) {
            if (h->have_descr++) return hdr_bad(h, "'descr' appears twice");
            skip_ws(h);
            if (h->p < h->end && *h->p == '[')
                return foil_error(FOIL_ERR_UNSUPPORTED, "%s: structured (record) arrays are not supported", h->path);
            if ((st = parse_string(h, h->descr, sizeof h->descr))) return st;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (h->have_fortran++) return hdr_bad(h, "'fortran_order' appears twice");
            if (accept_word(h, "True")) h->fortran = 1;
            else if (accept_word(h, "False")) h->fortran = 0;
            else return hdr_bad(h, "'fortran_order' must be True or False");
        } else if (strcmp(key, "shape") == 0) {
            if (h->have_shape++) return hdr_bad(h, "'shape' appears twice");
            if ((st = parse_shape(h))) return st;
        } else {
            return foil_error(FOIL_ERR_FORMAT, "%s: malformed .npy header: unexpected key '%s'", h->path, key);
        }
        if (accept(h, ',')) continue;
        if (accept(h, '}')) break;
        return hdr_bad(h, "expected ',' or '}'");
    }
    skip_ws(h);
    if (h->p != h->end) return hdr_bad(h, "garbage after the dictionary");
    if (!h->have_descr) return hdr_bad(h, "missing key 'descr'");
    if (!h->have_fortran) return hdr_bad(h, "missing key 'fortran_order'");
    if (!h->have_shape) return hdr_bad(h, "missing key 'shape'");
    return FOIL_OK;
}

/* ------------------------------------------------------------------------- */
/* reading                                                                   */

static foil_status read_exact(FILE *f, void *buf, size_t n, const char *path, const char *what)
{
    if (n && fread(buf, 1, n, f) != n) {
        if (ferror(f)) return foil_error(FOIL_ERR_IO, "%s: read error: %s", path, strerror(errno));
        return foil_error(FOIL_ERR_FORMAT, "%s: truncated .npy file (%s)", path, what);
    }
    return FOIL_OK;
}

/* Read the array from f, whose total size is `size` bytes when known (a
 * regular file, a buffer) and -1 otherwise (a pipe). */
static foil_status npy_read_stream(FILE *f, const char *path, int64_t size, foil_tensor *out)
{
    foil_status st;
    unsigned char pre[12];
    size_t got = fread(pre, 1, 10, f);
    if (ferror(f)) return foil_error(FOIL_ERR_IO, "%s: read error: %s", path, strerror(errno));
    if (got < NPY_MAGIC_LEN || memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return foil_error(FOIL_ERR_FORMAT, "%s: not a NumPy .npy file (bad magic)", path);
    if (got < 10) return foil_error(FOIL_ERR_FORMAT, "%s: truncated .npy file (in the preamble)", path);
    int major = pre[6], minor = pre[7];
    size_t hlen, pre_len;
    if (major == 1 && minor == 0) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
        pre_len = 10;
    } else if ((major == 2 || major == 3) && minor == 0) {
        if ((st = read_exact(f, pre + 10, 2, path, "in the preamble"))) return st;
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        pre_len = 12;
    } else {
        return foil_error(FOIL_ERR_UNSUPPORTED, "%s: .npy format version %d.%d is not supported (1.0, 2.0, 3.0)",
                          path, major, minor);
    }
    if (hlen > NPY_MAX_HEADER)
        return foil_error(FOIL_ERR_FORMAT, "%s: .npy header too long (%zu bytes; at most %d)", path, hlen,
                          NPY_MAX_HEADER);
    char *text = malloc(hlen + 1);
    if (!text) return foil_error(FOIL_ERR_NOMEM, "%s: out of memory", path);
    if ((st = read_exact(f, text, hlen, path, "in the header"))) {
        free(text);
        return st;
    }
    text[hlen] = '\0';
    hdr h = {.p = text, .end = text + hlen, .path = path};
    st = parse_header(&h);
    free(text);
    if (st) return st;

    /* descr: byte order + type code */
    const char *d = h.descr;
    char order = d[0];
    if (order != '<' && order != '>' && order != '|' && order != '=')
        return foil_error(FOIL_ERR_UNSUPPORTED, "%s: .npy dtype '%s' is not supported", path, d);
    foil_dtype dt = npy_dtype_of(d + 1);
    if (dt == FOIL_UNDEFINED)
        return foil_error(FOIL_ERR_UNSUPPORTED,
                          "%s: .npy dtype '%s' is not supported (float32, float64, int8/16/32/64, uint8/16/32/64, bool)",
                          path, d);
    size_t es = foil_dtype_size(dt);
    if (order == '>' && es > 1)
        return foil_error(FOIL_ERR_UNSUPPORTED, "%s: big-endian .npy data ('%s') is not supported", path, d);
    if ((order == '|' && es > 1) || order == '=')
        return foil_error(FOIL_ERR_UNSUPPORTED, "%s: .npy dtype '%s' has no explicit byte order", path, d);
    if (h.fortran)
        return foil_error(FOIL_ERR_UNSUPPORTED,
                          "%s: fortran_order (column-major) .npy arrays are not supported; save a C-ordered array",
                          path);

    /* shape: element count must not overflow, and the data must fit the file */
    int64_t numel = 1;
    for (int i = 0; i < h.ndim; i++) {
        if (h.shape[i] && numel > INT64_MAX / (int64_t)es / h.shape[i])
            return foil_error(FOIL_ERR_FORMAT, "%s: .npy shape is absurd (element count overflows)", path);
        numel *= h.shape[i];
    }
    uint64_t data_bytes = (uint64_t)numel * es;
    if (size >= 0) {
        uint64_t have = (uint64_t)size > pre_len + hlen ? (uint64_t)size - pre_len - hlen : 0;
        if (have < data_bytes)
            return foil_error(FOIL_ERR_FORMAT, "%s: truncated .npy file: the header says %llu data bytes, the file has %llu",
                              path, (unsigned long long)data_bytes, (unsigned long long)have);
        if (have > data_bytes)
            return foil_error(FOIL_ERR_FORMAT, "%s: .npy file is longer than its header says (%llu extra bytes)", path,
                              (unsigned long long)(have - data_bytes));
    }
    foil_tensor t = {0};
    if ((st = foil_tensor_alloc(&t, dt, h.ndim, h.shape)))
        return foil_error_prefix(st, "%s", path);
    if ((st = read_exact(f, t.data, (size_t)data_bytes, path, "in the data"))) {
        foil_tensor_free(&t);
        return st;
    }
    unsigned char extra;
    if (fread(&extra, 1, 1, f) == 1) {
        foil_tensor_free(&t);
        return foil_error(FOIL_ERR_FORMAT, "%s: .npy file is longer than its header says", path);
    }
    if (dt == FOIL_BOOL) {
        unsigned char *b = t.data;
        for (int64_t i = 0; i < numel; i++) b[i] = b[i] != 0;
    }
    *out = t;
    return FOIL_OK;
}

foil_status foil_npy_read(const char *path, foil_tensor *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return foil_error(FOIL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    int64_t size = -1;
    if (fstat(fileno(f), &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) {
            fclose(f);
            return foil_error(FOIL_ERR_IO, "%s: is a directory, not an .npy file", path);
        }
        if (S_ISREG(sb.st_mode)) size = (int64_t)sb.st_size;
    }
    foil_status st = npy_read_stream(f, path, size, out);
    fclose(f);
    return st;
}

foil_status foil_npy_read_mem(const void *buf, size_t len, const char *name, foil_tensor *out)
{
    memset(out, 0, sizeof *out);
    /* fmemopen may refuse an empty buffer, and there is nothing to read anyway */
    if (len == 0) return foil_error(FOIL_ERR_FORMAT, "%s: not a NumPy .npy array (no data)", name);
    FILE *f = fmemopen((void *)buf, len, "rb");
    if (!f) return foil_error(FOIL_ERR_NOMEM, "%s: cannot read from memory: %s", name, strerror(errno));
    foil_status st = npy_read_stream(f, name, (int64_t)len, out);
    fclose(f);
    return st;
}

/* ------------------------------------------------------------------------- */
/* conversions                                                               */

#define TO_F32(T)                                                          \
    do {                                                                   \
        const T *s = src.data;                                             \
        for (int64_t i = 0; i < n; i++) dst[i] = (float)s[i];              \
    } while (0)

foil_status foil_npy_read_f32(const char *path, foil_tensor *out)
{
    foil_tensor src;
    foil_status st = foil_npy_read(path, &src);
    if (st) return st;
    if (src.dtype == FOIL_F32) {
        *out = src;
        return FOIL_OK;
    }
    foil_tensor t;
    if ((st = foil_tensor_alloc(&t, FOIL_F32, src.ndim, src.shape))) {
        foil_tensor_free(&src);
        return foil_error_prefix(st, "%s", path);
    }
    float *dst = foil_f32(&t);
    const int64_t n = src.numel;
    switch (src.dtype) {
    case FOIL_F64: TO_F32(double); break;
    case FOIL_U8: case FOIL_BOOL: TO_F32(uint8_t); break;
    case FOIL_I8: TO_F32(int8_t); break;
    case FOIL_I16: TO_F32(int16_t); break;
    case FOIL_U16: TO_F32(uint16_t); break;
    case FOIL_I32: TO_F32(int32_t); break;
    case FOIL_U32: TO_F32(uint32_t); break;
    case FOIL_I64: TO_F32(int64_t); break;
    case FOIL_U64: TO_F32(uint64_t); break;
    default: break;
    }
    foil_tensor_free(&src);
    *out = t;
    return FOIL_OK;
}

foil_status foil_npy_read_labels(const char *path, foil_tensor *out)
{
    foil_tensor src;
    foil_status st = foil_npy_read(path, &src);
    if (st) return st;
    if (src.dtype == FOIL_I64) {
        *out = src;
        return FOIL_OK;
    }
    foil_tensor t;
    if ((st = foil_tensor_alloc(&t, FOIL_I64, src.ndim, src.shape))) {
        foil_tensor_free(&src);
        return foil_error_prefix(st, "%s", path);
    }
    int64_t *dst = foil_i64(&t);
    const int64_t n = src.numel;
    int64_t bad = -1;
    double badv = 0;
    switch (src.dtype) {
    case FOIL_U8: case FOIL_BOOL: { const uint8_t *s = src.data; for (int64_t i = 0; i < n; i++) dst[i] = s[i]; break; }
    case FOIL_I8: { const int8_t *s = src.data; for (int64_t i = 0; i < n; i++) dst[i] = s[i]; break; }
    case FOIL_I16: { const int16_t *s = src.data; for (int64_t i = 0; i < n; i++) dst[i] = s[i]; break; }
    case FOIL_U16: { const uint16_t *s = src.data; for (int64_t i = 0; i < n; i++) dst[i] = s[i]; break; }
    case FOIL_I32: { const int32_t *s = src.data; for (int64_t i = 0; i < n; i++) dst[i] = s[i]; break; }
    case FOIL_U32: { const uint32_t *s = src.data; for (int64_t i = 0; i < n; i++) dst[i] = s[i]; break; }
    case FOIL_U64: {
        const uint64_t *s = src.data;
        for (int64_t i = 0; i < n && bad < 0; i++) {
            if (s[i] > (uint64_t)INT64_MAX) { bad = i; badv = (double)s[i]; }
            else dst[i] = (int64_t)s[i];
        }
        break;
    }
    case FOIL_F32: case FOIL_F64:
        for (int64_t i = 0; i < n && bad < 0; i++) {
            double v = src.dtype == FOIL_F32 ? (double)((const float *)src.data)[i] : ((const double *)src.data)[i];
            /* integral and inside int64 (2^63 itself is not) */
            if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0) || v != (double)(int64_t)v) {
                bad = i;
                badv = v;
            } else {
                dst[i] = (int64_t)v;
            }
        }
        break;
    default: break;
    }
    foil_dtype sdt = src.dtype;
    foil_tensor_free(&src);
    if (bad >= 0) {
        foil_tensor_free(&t);
        return foil_error(FOIL_ERR_FORMAT, "%s: label %lld is %g, not an integer class label (dtype %s)", path,
                          (long long)bad, badv, foil_dtype_name(sdt));
    }
    *out = t;
    return FOIL_OK;
}

/* ------------------------------------------------------------------------- */
/* writing                                                                   */

/* The version 1.0 preamble and header of t into pre (10 bytes) and hdr_text
 * (*hlen bytes): the dict, padded with spaces so that the preamble plus the
 * header is a multiple of 64, ending in '\n'. */
static foil_status npy_header(const char *path, const foil_tensor *t, unsigned char pre[10], char hdr_text[NPY_HDR_CAP],
                              size_t *hlen_out)
{
    const char *code = npy_code_of(t->dtype);
    if (!code)
        return foil_error(FOIL_ERR_UNSUPPORTED, "%s: cannot write element type %s to .npy", path,
                          foil_dtype_name(t->dtype));
    if (t->ndim < 0 || t->ndim > FOIL_MAX_DIMS || (t->numel && !t->data))
        return foil_error(FOIL_ERR_ARG, "%s: invalid tensor", path);
    size_t es = foil_dtype_size(t->dtype);
    int len = snprintf(hdr_text, NPY_HDR_CAP, "{'descr': '%c%s', 'fortran_order': False, 'shape': (",
                       es == 1 ? '|' : '<', code);
    for (int i = 0; i < t->ndim; i++)
        len += snprintf(hdr_text + len, NPY_HDR_CAP - (size_t)len, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    len += snprintf(hdr_text + len, NPY_HDR_CAP - (size_t)len, "%s), }", t->ndim == 1 ? "," : "");
    size_t total = 10 + (size_t)len + 1;
    size_t padded = (total + 63) / 64 * 64;
    size_t hlen = padded - 10;
    const unsigned char magic[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                                     (unsigned char)(hlen >> 8)};
    memcpy(pre, magic, sizeof magic);
    memset(hdr_text + len, ' ', hlen - 1 - (size_t)len);
    hdr_text[hlen - 1] = '\n';
    *hlen_out = hlen;
    return FOIL_OK;
}

foil_status foil_npy_write_mem(const foil_tensor *t, void **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    unsigned char pre[10];
    char hdr_text[NPY_HDR_CAP];
    size_t hlen;
    foil_status st = npy_header("(npy in memory)", t, pre, hdr_text, &hlen);
    if (st) return st;
    size_t data_bytes = foil_tensor_nbytes(t);
    unsigned char *b = malloc(sizeof pre + hlen + data_bytes);
    if (!b) return foil_error(FOIL_ERR_NOMEM, "out of memory for a %zu-byte .npy array", data_bytes);
    memcpy(b, pre, sizeof pre);
    memcpy(b + sizeof pre, hdr_text, hlen);
    if (data_bytes) memcpy(b + sizeof pre + hlen, t->data, data_bytes);
    *buf = b;
    *len = sizeof pre + hlen + data_bytes;
    return FOIL_OK;
}

foil_status foil_npy_write(const char *path, const foil_tensor *t)
{
    unsigned char pre[10];
    char hdr_text[NPY_HDR_CAP];
    size_t hlen;
    foil_status st = npy_header(path, t, pre, hdr_text, &hlen);
    if (st) return st;

    size_t plen = strlen(path) + 32;
    char *tmp = malloc(plen);
    if (!tmp) return foil_error(FOIL_ERR_NOMEM, "%s: out of memory", path);
    snprintf(tmp, plen, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        foil_status st = foil_error(FOIL_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        foil_status st = foil_error(FOIL_ERR_IO, "%s: cannot open: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        free(tmp);
        return st;
    }
    size_t data_bytes = foil_tensor_nbytes(t);
    int ok = fwrite(pre, 1, sizeof pre, f) == sizeof pre && fwrite(hdr_text, 1, hlen, f) == hlen &&
             (data_bytes == 0 || fwrite(t->data, 1, data_bytes, f) == data_bytes) && fflush(f) == 0 &&
             fsync(fileno(f)) == 0;
    int err = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        err = errno;
    }
    if (!ok) {
        unlink(tmp);
        free(tmp);
        return foil_error(FOIL_ERR_IO, "%s: write failed: %s", path, strerror(err));
    }
    if (rename(tmp, path) != 0) {
        err = errno;
        unlink(tmp);
        free(tmp);
        return foil_error(FOIL_ERR_IO, "%s: cannot rename the temporary file into place: %s", path, strerror(err));
    }
    free(tmp);
    return FOIL_OK;
}
