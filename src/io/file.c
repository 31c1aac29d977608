/*
 * io/file.c - see file.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/file.h"

foil_status foilReadFile(const char *path, size_t max_bytes, uint8_t **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return foil_error(FOIL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return foil_error(FOIL_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)sb.st_size > max_bytes) {
        fclose(f);
        return foil_error(FOIL_ERR_FORMAT, "%s: file is too large (%lld bytes; limit %zu)", path,
                          (long long)sb.st_size, max_bytes);
    }
    size_t size = (size_t)sb.st_size;
    uint8_t *data = malloc(size ? size : 1);
    if (!data) {
        fclose(f);
        return foil_error(FOIL_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, size);
    }
    size_t got = fread(data, 1, size, f);
    int err = ferror(f);
    fclose(f);
    if (err || got != size) {
        free(data);
        return foil_error(FOIL_ERR_IO, "%s: read failed", path);
    }
    *buf = data;
    *len = size;
    return FOIL_OK;
}

foil_status foilWriteFileAtomic(const char *path, const void *data, size_t len)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        foil_status st = foil_error(FOIL_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    int ok = fwrite(data, 1, len, f) == len;
    ok = fflush(f) == 0 && ok;
    ok = fsync(fileno(f)) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        foil_status st = foil_error(FOIL_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return st;
    }
    free(tmp);
    return FOIL_OK;
}

foil_status foilMakeDir(const char *path)
{
    if (mkdir(path, 0777) && errno != EEXIST)
        return foil_error(FOIL_ERR_IO, "%s: cannot create the directory: %s", path, strerror(errno));
    return FOIL_OK;
}
