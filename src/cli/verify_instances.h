/*
 * cli/verify_instances.h - `foil verify --instances LIST.csv`
 * (verify_instances.c).
 */
#ifndef FOIL_CLI_VERIFY_INSTANCES_H
#define FOIL_CLI_VERIFY_INSTANCES_H

#include <stdint.h>

#include "cli/cli.h"

typedef struct verify_instances_args {
    const char *list;            /* the csv */
    const char *benchmarks;      /* comma-separated names to keep (NULL: all) */
    double timeout;              /* > 0: every instance's timeout */
    double timeout_scale;        /* else the list's timeout times this */
    int64_t limit;               /* > 0: the first N selected instances */
    const char *results_dir;     /* VNN-COMP result files of the falsified instances (NULL: none) */
    int json;
} verify_instances_args;

/* Decide every selected instance (each rank every size-th) and print the
 * per-instance lines and the per-benchmark table (rank 0). */
int verify_instances(const verify_instances_args *a, const cli_common *common);

#endif
