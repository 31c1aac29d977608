/*
 * serve/metrics.c - the counters behind GET /v1/metrics, in Prometheus's
 * text exposition format (version 0.0.4): requests by key and status,
 * examples answered by key, alarms by key and monitor, a latency histogram
 * and a histogram of the batch sizes the worker ran. Labels are bounded:
 * keys come from the keys file ("-" for none or an invalid one), statuses
 * from the short list below.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_internal.h"

static const int statuses[FOIL_SERVE_N_STATUS] = {200, 400, 401, 403, 404, 405, 413, 429, 500, 503, 0, 0};
static const double lat_bounds[FOIL_SERVE_LAT_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                         0.1,    0.25,  0.5,    1,     2.5,  5,     10};
static const double batch_bounds[FOIL_SERVE_BATCH_BUCKETS] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};

foil_status foilServeMetricsInit(FoilServeMetrics *m, int n_keys)
{
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
    m->n_keys = n_keys;
    m->requests = calloc((size_t)n_keys * FOIL_SERVE_N_STATUS, sizeof *m->requests);
    m->examples = calloc((size_t)n_keys, sizeof *m->examples);
    m->alarms = calloc((size_t)n_keys * FOIL_SERVE_MAX_MONITORS, sizeof *m->alarms);
    if (!m->requests || !m->examples || !m->alarms) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    return FOIL_OK;
}

void foilServeMetricsFree(FoilServeMetrics *m)
{
    free(m->requests);
    free(m->examples);
    free(m->alarms);
    pthread_mutex_destroy(&m->lock);
}

static int status_index(int status)
{
    for (int i = 0; i < FOIL_SERVE_N_STATUS && statuses[i]; i++)
        if (statuses[i] == status) return i;
    return FOIL_SERVE_N_STATUS - 1; /* "other" */
}

static int key_index(const FoilServeMetrics *m, int key) { return key < 0 || key >= m->n_keys ? m->n_keys - 1 : key; }

void foilServeMetricsRequest(FoilServeMetrics *m, int key, int status, int64_t examples, double seconds)
{
    int b = 0;
    while (b < FOIL_SERVE_LAT_BUCKETS && seconds > lat_bounds[b]) b++;
    pthread_mutex_lock(&m->lock);
    int k = key_index(m, key);
    m->requests[k * FOIL_SERVE_N_STATUS + status_index(status)]++;
    if (status == 200) m->examples[k] += examples;
    m->lat_count[b]++;
    m->lat_sum += seconds;
    pthread_mutex_unlock(&m->lock);
}

void foilServeMetricsBatch(FoilServeMetrics *m, int64_t size)
{
    int b = 0;
    while (b < FOIL_SERVE_BATCH_BUCKETS && (double)size > batch_bounds[b]) b++;
    pthread_mutex_lock(&m->lock);
    m->batch_count[b]++;
    m->batch_sum += (double)size;
    m->batches++;
    pthread_mutex_unlock(&m->lock);
}

void foilServeMetricsAlarm(FoilServeMetrics *m, int key, int monitor)
{
    pthread_mutex_lock(&m->lock);
    m->alarms[key_index(m, key) * FOIL_SERVE_MAX_MONITORS + monitor]++;
    pthread_mutex_unlock(&m->lock);
}

typedef struct text {
    char *p;
    size_t len, cap;
    int failed;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = t->failed ? -1 : vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n + 1;
        char *p = realloc(t->p, cap);
        if (!p) {
            t->failed = 1;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
}

static void histogram(text *t, const char *name, const char *help, const double *bounds, int nb,
                      const int64_t *counts, double sum)
{
    put(t, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    int64_t cum = 0;
    for (int b = 0; b < nb; b++) {
        cum += counts[b];
        put(t, "%s_bucket{le=\"%g\"} %lld\n", name, bounds[b], (long long)cum);
    }
    cum += counts[nb];
    put(t, "%s_bucket{le=\"+Inf\"} %lld\n%s_sum %.9g\n%s_count %lld\n", name, (long long)cum, name, sum, name,
        (long long)cum);
}

char *foilServeMetricsText(FoilServeMetrics *m, const FoilServeKeys *k, const foil_serve_options *o, size_t *len)
{
    text t = {malloc(4096), 0, 4096, 0};
    if (!t.p) return NULL;
    pthread_mutex_lock(&m->lock);
    put(&t, "# HELP foil_serve_requests_total Prediction requests answered, by API key and HTTP status.\n"
            "# TYPE foil_serve_requests_total counter\n");
    for (int i = 0; i < m->n_keys; i++)
        for (int s = 0; s < FOIL_SERVE_N_STATUS; s++) {
            int64_t v = m->requests[i * FOIL_SERVE_N_STATUS + s];
            if (!v) continue;
            char code[16];
            if (statuses[s]) snprintf(code, sizeof code, "%d", statuses[s]);
            else snprintf(code, sizeof code, "other");
            put(&t, "foil_serve_requests_total{key=\"%s\",status=\"%s\"} %lld\n", k->keys[i].name, code, (long long)v);
        }
    put(&t, "# HELP foil_serve_examples_total Examples answered (queries), by API key.\n"
            "# TYPE foil_serve_examples_total counter\n");
    for (int i = 0; i < m->n_keys; i++)
        put(&t, "foil_serve_examples_total{key=\"%s\"} %lld\n", k->keys[i].name, (long long)m->examples[i]);
    put(&t, "# HELP foil_serve_alarms_total Alarms raised by the monitors, by API key and monitor.\n"
            "# TYPE foil_serve_alarms_total counter\n");
    for (int i = 0; i < m->n_keys; i++)
        for (int j = 0; j < o->n_monitors; j++)
            put(&t, "foil_serve_alarms_total{key=\"%s\",monitor=\"%s\"} %lld\n", k->keys[i].name, o->monitors[j].name,
                (long long)m->alarms[i * FOIL_SERVE_MAX_MONITORS + j]);
    histogram(&t, "foil_serve_request_duration_seconds", "Time from a request's headers to its answer.", lat_bounds,
              FOIL_SERVE_LAT_BUCKETS, m->lat_count, m->lat_sum);
    histogram(&t, "foil_serve_batch_size", "Examples per forward pass.", batch_bounds, FOIL_SERVE_BATCH_BUCKETS,
              m->batch_count, m->batch_sum);
    put(&t, "# HELP foil_serve_audit_failures_total Group commits of the audit log that failed (their requests got "
            "503).\n# TYPE foil_serve_audit_failures_total counter\nfoil_serve_audit_failures_total %lld\n",
        (long long)m->audit_failures);
    pthread_mutex_unlock(&m->lock);
    if (t.failed) {
        free(t.p);
        return NULL;
    }
    *len = t.len;
    return t.p;
}
