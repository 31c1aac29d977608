/*
 * io/file.h - whole-file reads with a size limit, and atomic writes.
 */
#ifndef FOIL_IO_FILE_H
#define FOIL_IO_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "foil/status.h"

/* Read all of `path` (at most max_bytes) into a malloc'd buffer. */
foil_status foilReadFile(const char *path, size_t max_bytes, uint8_t **buf, size_t *len);

/* Write to PATH.tmp.PID, fsync, then rename over PATH: readers see the old
 * file or the new one, never a torn one. */
foil_status foilWriteFileAtomic(const char *path, const void *data, size_t len);

/* Create directory `path` unless it exists; an error names it and why. */
foil_status foilMakeDir(const char *path);

#endif
