/*
 * foil/idx.h - IDX files (the MNIST / Fashion-MNIST format), plain or gzip.
 */
#ifndef FOIL_IDX_H
#define FOIL_IDX_H

#include "foil/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Read an IDX file (gzip-compressed or not) into a new tensor of its own
 * element type: uint8, int8, int16 (as int32), int32, float32 or float64,
 * with the file's dimensions. Errors name the file and the problem: bad
 * magic, unknown type, truncated data, trailing bytes, absurd dimensions. */
foil_status foil_idx_read(const char *path, foil_tensor *out);

#ifdef __cplusplus
}
#endif
#endif
