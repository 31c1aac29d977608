/*
 * serve/serve_internal.h - what the files of src/serve share (the design is
 * in include/foil/serve.h). Internal names are foilServe...: keys and their
 * limits (keys.c), the counters behind /v1/metrics (metrics.c), the audit
 * log (audit.c); server.c holds HTTP, the batch worker and the jobs.
 */
#ifndef FOIL_SERVE_INTERNAL_H
#define FOIL_SERVE_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "foil/serve.h"

/* ---- keys and per-key limits (keys.c) ---- */

enum { FOIL_SERVE_HASH_BYTES = 32, FOIL_SERVE_NAME_MAX = 64 };

typedef struct FoilServeKey {
    char name[FOIL_SERVE_NAME_MAX + 1];
    unsigned char hash[FOIL_SERVE_HASH_BYTES];
    double requests_per_s, examples_per_s; /* 0: no limit */
    int64_t budget;                        /* 0: none */
    /* token buckets and the budget spent, under FoilServeKeys.lock */
    double req_tokens, ex_tokens, last;
    int64_t spent;
} FoilServeKey;

typedef struct FoilServeKeys {
    FoilServeKey *keys;  /* n of them, then one more: "-", the anonymous key of --no-auth */
    int n;
    pthread_mutex_t lock;
} FoilServeKeys;

/* Load path's keys (NULL: none), every key (and the anonymous one) with the
 * server's default limits unless its line sets its own. */
foil_status foilServeKeysLoad(FoilServeKeys *k, const char *path, const foil_serve_options *o);
void foilServeKeysFree(FoilServeKeys *k);
/* The index of the key whose hash matches token (every hash compared in
 * constant time), or -1. */
int foilServeKeysFind(const FoilServeKeys *k, const char *token, size_t len);
/* Take one request token of key i: 0 ok, else the seconds until one is
 * there (> 0). */
double foilServeTakeRequest(FoilServeKeys *k, int i, double now);
/* Take n example tokens and n of the budget: 0 ok; *why set to a message
 * and > 0 returned otherwise (the seconds to wait, or 1e9: the budget is
 * spent, waiting will not help). */
double foilServeTakeExamples(FoilServeKeys *k, int i, int64_t n, double now, const char **why);
/* Give back n examples of the budget (a request that was not answered). */
void foilServeRefund(FoilServeKeys *k, int i, int64_t n);

/* ---- metrics (metrics.c) ---- */

enum { FOIL_SERVE_N_STATUS = 12, FOIL_SERVE_LAT_BUCKETS = 14, FOIL_SERVE_BATCH_BUCKETS = 10 };

typedef struct FoilServeMetrics {
    pthread_mutex_t lock;
    int n_keys;                     /* keys + 1 (the anonymous key, or a request without a valid key) */
    int64_t *requests;              /* [n_keys][FOIL_SERVE_N_STATUS] */
    int64_t *examples;              /* [n_keys]: examples answered (200) */
    int64_t *alarms;                /* [n_keys][FOIL_SERVE_MAX_MONITORS] */
    int64_t lat_count[FOIL_SERVE_LAT_BUCKETS + 1];
    double lat_sum;
    int64_t batch_count[FOIL_SERVE_BATCH_BUCKETS + 1];
    double batch_sum;
    int64_t batches;
    int64_t audit_failures;
} FoilServeMetrics;

foil_status foilServeMetricsInit(FoilServeMetrics *m, int n_keys);
void foilServeMetricsFree(FoilServeMetrics *m);
/* One answered request: key index (-1: none), HTTP status, examples, seconds. */
void foilServeMetricsRequest(FoilServeMetrics *m, int key, int status, int64_t examples, double seconds);
void foilServeMetricsBatch(FoilServeMetrics *m, int64_t size);
void foilServeMetricsAlarm(FoilServeMetrics *m, int key, int monitor);
/* The Prometheus text exposition (malloc'ed). */
char *foilServeMetricsText(FoilServeMetrics *m, const FoilServeKeys *k, const foil_serve_options *o, size_t *len);

/* ---- the audit log (audit.c) ---- */

typedef struct FoilServeAuditRow {
    double time;                /* Unix time */
    const char *key, *remote, *path;
    int status;
    int64_t examples, classes;
    const unsigned char *input_sha256; /* NULL: no input read */
    const int32_t *argmax;      /* examples of them, or NULL */
    const float *scores;        /* examples x classes as answered, or NULL */
    double latency_ms;
    const char *alarms, *error; /* NULL: none */
} FoilServeAuditRow;

typedef struct FoilServeAudit FoilServeAudit;
foil_status foilServeAuditOpen(const char *path, int sync_full, FoilServeAudit **out);
void foilServeAuditClose(FoilServeAudit *a);
foil_status foilServeAuditBegin(FoilServeAudit *a);
/* Insert one row inside the transaction; *id its request id. */
foil_status foilServeAuditInsert(FoilServeAudit *a, const FoilServeAuditRow *r, int64_t *id);
foil_status foilServeAuditCommit(FoilServeAudit *a);
void foilServeAuditRollback(FoilServeAudit *a);
/* The examples answered (200) per key so far, for the budgets: fn per key. */
foil_status foilServeAuditSpent(FoilServeAudit *a, void (*fn)(void *ctx, const char *key, int64_t examples), void *ctx);

/* ---- the monitors' statistics (monitor_prada.c, monitor_drift.c) ---- */

/* The Shapiro-Wilk W of x[0..n), sorted ascending, 3 <= n, and its p-value
 * (p may be NULL): Royston's algorithm AS R94 (1995), as scipy.stats.shapiro
 * computes it (p approximate beyond n = 5000). FOIL_ERR_ARG when n < 3 or
 * every value is the same. */
foil_status foilServeShapiroWilk(const double *x, int64_t n, double *w, double *p);
/* The two-sample Kolmogorov-Smirnov statistic of a[0..na) and b[0..nb),
 * both sorted ascending (ties handled: the ECDFs are compared after every
 * distinct value), and its asymptotic two-sided p-value, the Kolmogorov
 * distribution's survival at sqrt(na nb / (na + nb)) D (scipy's
 * kstwobign.sf). */
double foilServeKs2(const double *a, int64_t na, const double *b, int64_t nb, double *p);
/* The Kolmogorov distribution's survival function Q(lambda). */
double foilServeKolmogorovSf(double lambda);

#endif
