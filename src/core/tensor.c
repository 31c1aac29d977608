/*
 * core/tensor.c - tensor storage and shape bookkeeping.
 */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foil/tensor.h"

#define FOIL_ALIGN 64
/* No single tensor may exceed this many bytes: a corrupt file claiming a
 * 2^60-element tensor gets an error, not an attempted allocation.
 * 4 GiB is far above any activation batch foil plans. */
#define FOIL_MAX_TENSOR_BYTES ((int64_t)1 << 32)

void *foil_alloc(size_t bytes)
{
    if (bytes == 0) bytes = FOIL_ALIGN;
    size_t rounded = (bytes + FOIL_ALIGN - 1) / FOIL_ALIGN * FOIL_ALIGN;
    void *p = aligned_alloc(FOIL_ALIGN, rounded);
    if (p) memset(p, 0, rounded);
    return p;
}

void foil_free(void *p) { free(p); }

size_t foil_dtype_size(foil_dtype dt)
{
    switch (dt) {
    case FOIL_F32: case FOIL_I32: case FOIL_U32: return 4;
    case FOIL_U8: case FOIL_I8: case FOIL_BOOL: return 1;
    case FOIL_U16: case FOIL_I16: return 2;
    case FOIL_I64: case FOIL_F64: case FOIL_U64: return 8;
    default: return 0;
    }
}

const char *foil_dtype_name(foil_dtype dt)
{
    switch (dt) {
    case FOIL_F32: return "float32";
    case FOIL_U8: return "uint8";
    case FOIL_I8: return "int8";
    case FOIL_U16: return "uint16";
    case FOIL_I16: return "int16";
    case FOIL_I32: return "int32";
    case FOIL_I64: return "int64";
    case FOIL_BOOL: return "bool";
    case FOIL_F64: return "float64";
    case FOIL_U32: return "uint32";
    case FOIL_U64: return "uint64";
    default: return "unknown";
    }
}

foil_status foil_tensor_set_shape(foil_tensor *t, foil_dtype dt, int ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > FOIL_MAX_DIMS)
        return foil_error(FOIL_ERR_UNSUPPORTED, "tensor rank %d exceeds the maximum of %d", ndim, FOIL_MAX_DIMS);
    size_t esize = foil_dtype_size(dt);
    if (esize == 0)
        return foil_error(FOIL_ERR_UNSUPPORTED, "tensor element type %d is not supported", (int)dt);
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return foil_error(FOIL_ERR_SHAPE, "negative dimension %lld", (long long)shape[i]);
        if (shape[i] > 0 && numel > FOIL_MAX_TENSOR_BYTES / (int64_t)esize / shape[i])
            return foil_error(FOIL_ERR_SHAPE, "tensor too large (dimension %d = %lld)", i, (long long)shape[i]);
        numel *= shape[i];
    }
    t->dtype = dt;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    for (int i = ndim; i < FOIL_MAX_DIMS; i++) t->shape[i] = 0;
    t->numel = numel;
    return FOIL_OK;
}

foil_status foil_tensor_alloc(foil_tensor *t, foil_dtype dt, int ndim, const int64_t *shape)
{
    foil_tensor tmp = {0};
    foil_status st = foil_tensor_set_shape(&tmp, dt, ndim, shape);
    if (st) return st;
    tmp.data = foil_alloc(foil_tensor_nbytes(&tmp));
    if (!tmp.data) return foil_error(FOIL_ERR_NOMEM, "out of memory allocating %zu bytes", foil_tensor_nbytes(&tmp));
    tmp.owns_data = 1;
    *t = tmp;
    return FOIL_OK;
}

foil_status foil_tensor_copy(foil_tensor *dst, const foil_tensor *src)
{
    foil_status st = foil_tensor_alloc(dst, src->dtype, src->ndim, src->shape);
    if (st) return st;
    if (src->numel) memcpy(dst->data, src->data, foil_tensor_nbytes(src));
    return FOIL_OK;
}

void foil_tensor_free(foil_tensor *t)
{
    if (!t) return;
    if (t->owns_data) foil_free(t->data);
    memset(t, 0, sizeof *t);
}

size_t foil_tensor_nbytes(const foil_tensor *t)
{
    return (size_t)t->numel * foil_dtype_size(t->dtype);
}

int foil_tensor_same_shape(const foil_tensor *a, const foil_tensor *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

char *foil_shape_str(const foil_tensor *t, char *buf, size_t len)
{
    size_t used = 0;
    used += (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < t->ndim && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    if (used < len) snprintf(buf + used, len - used, "]");
    return buf;
}

int64_t foil_first_nonfinite(const float *v, int64_t n)
{
    /* A float is NaN or infinite exactly when its exponent bits are all
     * ones. An OR over that test vectorizes (a loop with an early exit, or a
     * float sum without -ffast-math, does not), so the all-finite case costs
     * one pass at memory speed; only a bad value pays for the second. */
    uint32_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, v + i, sizeof bits);
        bad |= (bits & 0x7f800000u) == 0x7f800000u;
    }
    if (!bad) return -1;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return i;
    return -1;
}

foil_status foil_check_finite_examples(const char *what, const foil_tensor *x)
{
    assert(x->dtype == FOIL_F32);
    int64_t i = foil_first_nonfinite(foil_f32(x), x->numel);
    if (i < 0) return FOIL_OK;
    int64_t per = x->ndim > 0 && x->shape[0] > 0 ? x->numel / x->shape[0] : 1;
    return foil_error(FOIL_ERR_FORMAT, "%s: example %lld, feature %lld is %s (NaN and infinite values are not allowed)",
                      what, (long long)(i / per), (long long)(i % per), isnan(foil_f32(x)[i]) ? "NaN" : "infinite");
}
