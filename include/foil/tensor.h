/*
 * foil/tensor.h - dense tensors.
 *
 * A tensor is a contiguous, row-major block of one dtype with up to
 * FOIL_MAX_DIMS dimensions. Images are NCHW: (batch, channels, height, width);
 * tabular data is NC. The engine computes in float32; integer dtypes exist for
 * shape arithmetic (int64), labels, and ONNX models that carry them.
 * Dtype codes are ONNX's TensorProto.DataType values so that import and export
 * need no translation table.
 */
#ifndef FOIL_TENSOR_H
#define FOIL_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "foil/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FOIL_MAX_DIMS 8

typedef enum foil_dtype {
    FOIL_UNDEFINED = 0,
    FOIL_F32 = 1,
    FOIL_U8 = 2,
    FOIL_I8 = 3,
    FOIL_U16 = 4,
    FOIL_I16 = 5,
    FOIL_I32 = 6,
    FOIL_I64 = 7,
    FOIL_BOOL = 9,
    FOIL_F64 = 11,
    FOIL_U32 = 12,
    FOIL_U64 = 13
} foil_dtype;

typedef struct foil_tensor {
    foil_dtype dtype;
    int ndim;                      /* 0 for a scalar */
    int64_t shape[FOIL_MAX_DIMS];
    int64_t numel;                 /* product of shape (1 for a scalar) */
    void *data;
    int owns_data;                 /* 1: foil_tensor_free() releases data */
} foil_tensor;

/* Bytes per element of a dtype; 0 for an unknown one. */
size_t foil_dtype_size(foil_dtype dt);
const char *foil_dtype_name(foil_dtype dt);

/* Set dtype and shape (computes numel); data is left alone. Fails on a
 * negative dimension, too many dimensions, or an element count that overflows. */
foil_status foil_tensor_set_shape(foil_tensor *t, foil_dtype dt, int ndim, const int64_t *shape);

/* Allocate (zero-filled, 64-byte aligned) storage of the given shape. */
foil_status foil_tensor_alloc(foil_tensor *t, foil_dtype dt, int ndim, const int64_t *shape);

/* Deep copy of src into a freshly allocated dst. */
foil_status foil_tensor_copy(foil_tensor *dst, const foil_tensor *src);

/* Release owned data and reset the struct to empty. */
void foil_tensor_free(foil_tensor *t);

size_t foil_tensor_nbytes(const foil_tensor *t);
int foil_tensor_same_shape(const foil_tensor *a, const foil_tensor *b);

/* "[2, 3, 28, 28]" into buf; returns buf. */
char *foil_shape_str(const foil_tensor *t, char *buf, size_t len);

static inline float *foil_f32(const foil_tensor *t) { return (float *)t->data; }
static inline int64_t *foil_i64(const foil_tensor *t) { return (int64_t *)t->data; }

/* Index of the first NaN or infinite value of v[0..n), or -1 when all are
 * finite. The all-finite case is one vectorized pass, cheap enough to run on
 * every model output (attacks evaluate a model thousands of times). */
int64_t foil_first_nonfinite(const float *v, int64_t n);

/* The one check of untrusted float32 inputs (batch first): a NaN or infinite
 * value is an error naming `what` (the file), the example and the feature. */
foil_status foil_check_finite_examples(const char *what, const foil_tensor *x);

/* 64-byte aligned allocation helpers (zero-filled); NULL on failure. */
void *foil_alloc(size_t bytes);
void foil_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
