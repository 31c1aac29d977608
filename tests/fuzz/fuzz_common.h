/*
 * tests/fuzz/fuzz_common.h - what the libFuzzer targets share.
 *
 * foil's loaders take a path (they read, and for IDX gunzip, a file), so a
 * target writes each input to one file per process in /dev/shm (memory, not
 * disk: thousands of executions a second) and loads that. A loader must
 * answer every input with FOIL_OK or a clean error; crashes, leaks,
 * undefined behaviour, hangs and runaway memory are the findings.
 */
#ifndef FOIL_FUZZ_COMMON_H
#define FOIL_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "foil/status.h"

/* Write data to a per-process file ending in `suffix` (which selects the
 * loader's format, e.g. ".csv"); returns its path. Aborts if it cannot: a
 * fuzzer that silently tests nothing is worse than one that stops. */
static inline const char *fuzz_input_file(const uint8_t *data, size_t size, const char *suffix)
{
    static char path[256];
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(path, sizeof path, "%s/foil-fuzz-%d%s", dir, (int)getpid(), suffix);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) {
        perror(path);
        abort();
    }
    return path;
}

/* Every failure must come with a message for the user: call
 * foil_clear_error() before the loader, this after it. */
static inline void fuzz_expect_message(foil_status st)
{
    if (st != FOIL_OK && !foil_last_error()[0]) {
        fprintf(stderr, "error status %d without a message\n", (int)st);
        abort();
    }
}

#endif
