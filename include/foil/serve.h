/*
 * foil/serve.h - the guarded model server behind `foil serve`: one ONNX
 * classifier over HTTP (libmicrohttpd), speaking foil's remote protocol
 * (docs/remote-protocol.md), so `foil attack --endpoint` works against it.
 * The API is in docs/serve-api.md.
 *
 *   foil_serve_options o;
 *   foil_serve_options_default(&o);
 *   o.keys_path = "keys.txt";            // API keys, stored hashed
 *   o.audit_path = "audit.db";           // SQLite, WAL
 *   o.port = 0;                          // any free port
 *   foil_server *s;
 *   if (foil_serve_start("cnn.onnx", &o, &s)) die(foil_last_error());
 *   printf("port %d\n", foil_serve_port(s));
 *   ... wait for SIGTERM ...
 *   foil_serve_stop(s);                  // answers what is in flight, then closes
 *
 * What a request goes through: the key (Authorization: Bearer KEY, checked
 * against hashes in constant time), the key's request rate (a token
 * bucket), the body's size, the body's format and shape, the key's example
 * rate and total budget; then a queue from which one worker thread takes
 * what is waiting (up to max_batch examples, waiting at most max_wait_ms
 * for more) into one forward pass; the output mode; the monitors; then one
 * SQLite transaction for everything answered together (group commit),
 * committed BEFORE any of those answers is sent. Requests refused before
 * their body is read (401, 404, 405, 413 by Content-Length, 429 by request
 * rate) are logged in the next group commit instead: the server does not
 * read an unauthenticated body to log it.
 */
#ifndef FOIL_SERVE_H
#define FOIL_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "foil/model.h"
#include "foil/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct foil_server foil_server;

/* A monitor watches the stream of predictions per API key (PRADA, input
 * drift: issue 16 part 4) and may raise an alarm. observe is called by the
 * batch worker (one thread, so a monitor needs no lock) once per answered
 * prediction request, in the order answered: key is the key's name ("-"
 * without keys), x the request's n examples of d values, scores the model's
 * logits (n x classes, before the output mode). To raise an alarm, write a
 * short message (no newline) into alarm (cap bytes) and return 1; it goes
 * to the request's audit row and to /v1/metrics
 * (foil_serve_alarms_total{key, monitor}). destroy (may be NULL) frees ctx
 * when the server stops. */
typedef struct foil_serve_monitor {
    const char *name; /* a Prometheus label value: letters, digits, '_' */
    void *ctx;
    int (*observe)(void *ctx, const char *key, const float *x, int64_t n, int64_t d, const float *scores,
                   int64_t classes, char *alarm, size_t cap);
    void (*destroy)(void *ctx);
} foil_serve_monitor;

enum { FOIL_SERVE_MAX_MONITORS = 8 };

/* PRADA (Juuti, Szyller, Marchal, Asokan, EuroS&P 2019), per API key: the
 * minimum L2 distance of each query to the key's earlier queries of the same
 * predicted class (a growing set per class, as the paper's Algorithm 1);
 * once more than min_distances of those distances remain after dropping
 * the ones 3 standard deviations from their mean, an alarm while their
 * Shapiro-Wilk W is below delta (benign queries give near-normal distances,
 * synthetic extraction queries do not). src/serve/monitor_prada.c. */
typedef struct foil_prada_options {
    double delta;          /* W below it raises the alarm; default 0.9 */
    int64_t min_distances; /* the paper's 100: no test before more than this */
    int64_t max_stored;    /* queries kept per key in the growing sets, default 10000 (memory: 4 d bytes each);
                              beyond it a query is still measured but joins no set; 0: no limit */
} foil_prada_options;
void foil_prada_options_default(foil_prada_options *o);
foil_status foil_serve_monitor_prada(const foil_prada_options *o, foil_serve_monitor *out);

/* Drift against a reference (the training distribution): over tumbling
 * windows of `window` examples (all keys together), three two-sample
 * Kolmogorov-Smirnov tests of the window against the reference: the inputs
 * projected on the reference's first principal component, the inputs' L2
 * distance to the reference mean, and the model's confidence (max softmax).
 * An alarm when a p-value is below alpha / 3 (Bonferroni). ref_x: n
 * reference examples of d values, ref_logits their logits (n x classes).
 * src/serve/monitor_drift.c. */
typedef struct foil_drift_options {
    int64_t window; /* examples per test, default 500 */
    double alpha;   /* family-wise false-alarm rate per window, default 0.01 */
} foil_drift_options;
void foil_drift_options_default(foil_drift_options *o);
foil_status foil_serve_monitor_drift(const foil_drift_options *o, const float *ref_x, const float *ref_logits,
                                     int64_t n, int64_t d, int64_t classes, foil_serve_monitor *out);

/* `foil serve --monitor SPEC`: "prada[:delta=D,min=N,max-stored=N]",
 * "drift[:window=W,alpha=A]", or both, comma-separated (an option's commas
 * belong to the monitor named before them). Sets *prada / *drift to 1 for
 * the monitors named and fills their options (defaults otherwise).
 * FOIL_ERR_ARG names what is wrong. */
foil_status foil_serve_monitors_parse(const char *spec, int *prada, foil_prada_options *po, int *drift,
                                      foil_drift_options *dro);

typedef struct foil_serve_options {
    const char *host;          /* address to bind, default "127.0.0.1" */
    int port;                  /* default 8080; 0: any free port (foil_serve_port says which) */
    const char *keys_path;     /* API keys file (foil_serve_add_key); NULL: see no_auth */
    int no_auth;               /* 1: serve without keys (every request is key "-"); refused with keys_path */
    const char *audit_path;    /* the SQLite audit log; NULL: none (no durability promise) */
    int audit_sync_full;       /* 1 (default): synchronous=FULL, survives power loss; 0: NORMAL, survives a process kill */
    foil_output output;        /* what a query returns (foil_output_parse), default logits */
    double requests_per_s;     /* per key, token bucket; 0: no limit */
    double examples_per_s;     /* per key, token bucket; 0: no limit */
    int64_t budget;            /* examples per key in all (counted across restarts from the audit log); 0: none */
    size_t max_body;           /* bytes per request body, default 8 MiB */
    int64_t max_examples;      /* examples per request, default 256 */
    int64_t max_batch;         /* examples per forward pass, default 64 */
    double max_wait_ms;        /* how long the worker waits for a batch to fill, default 2 ms */
    unsigned max_connections;  /* default 512 */
    unsigned max_per_ip;       /* connections per client address, default 128 (0: no limit) */
    unsigned timeout_s;        /* idle connection timeout, default 10 s */
    const char *tls_cert;      /* PEM files: serve HTTPS (both or neither) */
    const char *tls_key;
    foil_serve_monitor monitors[FOIL_SERVE_MAX_MONITORS]; /* copied; the server owns their ctx */
    int n_monitors;
    int threads;               /* HTTP threads (libmicrohttpd's pool), default 2 */
} foil_serve_options;

void foil_serve_options_default(foil_serve_options *o);

/* Load the model, open the keys and the audit log, bind and start serving.
 * FOIL_ERR_ARG names a bad option, FOIL_ERR_IO a file or an address that
 * cannot be used. On failure nothing runs and monitors' ctx are destroyed. */
foil_status foil_serve_start(const char *model_path, const foil_serve_options *o, foil_server **out);
/* The port the server listens on. */
int foil_serve_port(const foil_server *s);
/* Graceful stop: no new connections; what was accepted is answered (and
 * logged) for up to 10 s; then everything is closed and freed. */
void foil_serve_stop(foil_server *s);

/* A fresh API key for `name` (letters, digits, '-', '_', '.'; at most 64),
 * written into key (cap >= FOIL_SERVE_KEY_CHARS) to be shown once; only its
 * hash is appended to the keys file at path (created 0600 if absent;
 * rewritten atomically). FOIL_ERR_ARG if the name exists or is bad. */
enum { FOIL_SERVE_KEY_CHARS = 64 };
foil_status foil_serve_add_key(const char *path, const char *name, char *key, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
