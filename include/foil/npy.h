/*
 * foil/npy.h - NumPy .npy files.
 *
 * Reads format versions 1.0, 2.0 and 3.0 of C-ordered, little-endian arrays
 * ('|' for 1-byte types) of rank 0 to 8 with dtypes float32 '<f4', float64
 * '<f8', uint8 '|u1', int8 '|i1', bool '|b1', int16/uint16 '<i2'/'<u2',
 * int32/uint32 '<i4'/'<u4', int64/uint64 '<i8'/'<u8'. Files are untrusted:
 * anything malformed (bad magic or version, a header that is too long,
 * garbage or incomplete, fortran_order True, big-endian, an unknown dtype,
 * negative or absurd dimensions, a file shorter or longer than its header
 * says) gives FOIL_ERR_FORMAT or FOIL_ERR_UNSUPPORTED with a message naming
 * the file and the problem, and never an allocation larger than the file.
 *
 * Writes version 1.0 (header padded so the data starts at a multiple of 64
 * bytes), atomically: PATH.tmp.PID is written, fsync'ed and renamed.
 * Both also work on memory buffers (the remote model's protocol).
 */
#ifndef FOIL_NPY_H
#define FOIL_NPY_H

#include "foil/status.h"
#include "foil/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Read an .npy file into *out (allocated, owns_data; the dtype is the file's).
 * On failure *out is left empty. */
foil_status foil_npy_read(const char *path, foil_tensor *out);

/* Read and convert to float32: float64 is rounded, integer and bool values
 * are converted as they are (uint8 stays 0..255; scaling is the caller's). */
foil_status foil_npy_read_f32(const char *path, foil_tensor *out);

/* Read class labels as int64: integer and bool types convert; float types
 * are accepted only when every value is integral (and fits in int64). */
foil_status foil_npy_read_labels(const char *path, foil_tensor *out);

/* Write t to path (version 1.0, atomically). */
foil_status foil_npy_write(const char *path, const foil_tensor *t);

/* The same in memory (a request or response of a remote model): read
 * buf[0..len) as foil_npy_read reads a file, `name` standing for the path
 * in messages; write t as foil_npy_write would into *buf (malloc'ed, the
 * caller frees it) of *len bytes. */
foil_status foil_npy_read_mem(const void *buf, size_t len, const char *name, foil_tensor *out);
foil_status foil_npy_write_mem(const foil_tensor *t, void **buf, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
