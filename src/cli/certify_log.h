/*
 * cli/certify_log.h - the resumable per-example log of `foil certify --log`
 * (certify_log.c).
 */
#ifndef FOIL_CLI_CERTIFY_LOG_H
#define FOIL_CLI_CERTIFY_LOG_H

#include <stdint.h>
#include <stdio.h>

#include "cli/cli.h"
#include "foil/certify.h"

typedef struct certify_log {
    FILE *f;
    const char *path;
} certify_log;

/* Open (or create) the log at path for a run with these settings (one JSON
 * line): the examples it already holds (index[i] for i < count) are copied
 * into cert[i] and marked done[i] = 1. Prints its error and returns
 * nonzero. */
int certify_log_open(const cli_command *cmd, const char *path, const char *settings, const int64_t *index,
                     int64_t count, foil_certificate *cert, uint8_t *done, certify_log *log);
/* Append one finished example (flushed). */
int certify_log_append(const cli_command *cmd, certify_log *log, int64_t index, int64_t label,
                       const foil_certificate *c);
void certify_log_close(certify_log *log);

#endif
