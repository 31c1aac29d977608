/*
 * serve/server.c - foil serve: HTTP (libmicrohttpd), the batch worker and
 * the audit writer. The design is in include/foil/serve.h, the API in
 * docs/serve-api.md.
 *
 * Threads and the life of a prediction request (a "job"):
 *
 *   HTTP threads (libmicrohttpd's pool)      headers: route, key, request
 *       |                                    rate, Content-Length; body:
 *       |                                    parsed and checked; then the
 *       v                                    connection is SUSPENDED
 *   compute queue --> compute worker         takes what waits (<= max_batch
 *       |                                    examples, <= max_wait_ms),
 *       v                                    one forward pass, output mode,
 *   audit queue  --> audit writer            monitors; one transaction for
 *                                            all that waits, COMMIT, then
 *                                            each connection is RESUMED and
 *                                            its answer sent
 *
 * So no answer leaves before its row is committed (audit.c says what that
 * survives). Requests refused on their headers alone are answered at once
 * and their rows go into the next commit (the body of an unauthenticated
 * request is never read). Suspended connections take no HTTP thread while
 * they wait, so slow model passes or commits do not starve other clients.
 *
 * The engine is run by the compute worker alone. It keeps one model per
 * batch size 1, 2, 4, ... max_batch, each planned once at start, and pads
 * a batch up to the next size (the padded rows are dropped): memory is
 * planned once per size and never in the hot loop. Queries are counted
 * per key here (the examples answered), as foil_model_black_box counts
 * them, without the padding.
 */
#define _GNU_SOURCE /* inet_ntop, pthread_cond_timedwait with CLOCK_MONOTONIC */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "foil/npy.h"
#include "foil/progress.h"
#include "io/file.h"
#include "serve/serve_internal.h"

enum { MAX_BUCKETS = 16 };
enum { ROUTE_PREDICT, ROUTE_HEALTH, ROUTE_METRICS, ROUTE_NONE };

typedef struct Job {
    struct Job *next;
    struct MHD_Connection *conn;   /* NULL: answered already (the audit writer frees the job) */
    int key;                       /* index into keys, or -1 */
    char remote[64];
    char path[64];                 /* copied: the URL's memory is libmicrohttpd's, gone with the connection */
    double t0, wall0, t_enqueued;  /* foil_now() at the headers, Unix time then, foil_now() when queued */
    int npy;                       /* answer in NPY */
    int64_t n, classes;
    float *x;                      /* n x d inputs */
    unsigned char sha[32];
    int have_sha;
    int status;                    /* 0 until decided */
    double retry_after;            /* 429: seconds, or 0 */
    char error[256];
    float *scores;                 /* n x classes, as answered */
    int32_t *argmax;               /* n */
    char alarms[512];
    int64_t id;                    /* the audit row; 0: none */
    char *body;                    /* the answer */
    size_t body_len;
    const char *type;
    int done;
} Job;

typedef struct Request {           /* one HTTP request (libmicrohttpd's con_cls) */
    int route, key;
    double t0, wall0;
    char *body;
    size_t len, cap;
    int too_large;
    Job *job;
} Request;

struct foil_server {
    foil_serve_options o;
    struct MHD_Daemon *daemon;
    int port;
    char *cert, *tls_key;

    foil_model *models[MAX_BUCKETS]; /* batch sizes sizes[i] */
    int64_t sizes[MAX_BUCKETS];
    int n_models;
    int input_rank;
    int64_t input_shape[FOIL_MAX_DIMS];
    int64_t d, classes;
    unsigned caps;
    char model_name[256];

    FoilServeKeys keys;
    FoilServeMetrics metrics;
    FoilServeAudit *audit;

    pthread_mutex_t qlock;         /* the compute queue */
    pthread_cond_t qcond;
    Job *queue, **queue_tail;
    int64_t queued_examples;
    int stop_compute;
    pthread_t compute;

    pthread_mutex_t alock;         /* the audit queue */
    pthread_cond_t acond;
    Job *aqueue, **aqueue_tail;
    int stop_audit;
    pthread_t auditor;

    atomic_int in_flight;          /* suspended connections */
    atomic_int draining;           /* stopping: new requests get 503 */
    int threads_started;
};

/* ------------------------------------------------------------------------- */
/* jobs and answers                                                          */

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void job_free(Job *j)
{
    if (!j) return;
    free(j->x);
    free(j->scores);
    free(j->argmax);
    free(j->body);
    free(j);
}

static Job *job_new(const Request *rq, struct MHD_Connection *conn)
{
    Job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->key = rq->key;
    j->t0 = rq->t0;
    j->wall0 = rq->wall0;
    strcpy(j->path, "/v1/predict");
    strcpy(j->remote, "?");
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, j->remote, sizeof j->remote);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, j->remote,
                      sizeof j->remote);
    }
    return j;
}

static void job_fail(Job *j, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void job_fail(Job *j, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->error, sizeof j->error, fmt, ap);
    va_end(ap);
    j->status = status;
}

/* {"error": ..., "status": ...} */
static char *error_body(int status, const char *msg, int64_t id, size_t *len)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "error", msg);
    cJSON_AddNumberToObject(root, "status", status);
    if (id) cJSON_AddNumberToObject(root, "request_id", (double)id);
    char *s = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    *len = s ? strlen(s) : 0;
    return s;
}

/* The answer of a decided job into j->body. */
static void job_answer(foil_server *s, Job *j)
{
    (void)s;
    j->type = "application/json";
    if (j->status != 200) {
        j->body = error_body(j->status, j->error, j->id, &j->body_len);
        return;
    }
    if (j->npy) {
        foil_tensor t = {0};
        int64_t shape[2] = {j->n, j->classes};
        void *buf = NULL;
        size_t len = 0;
        if (!foil_tensor_set_shape(&t, FOIL_F32, 2, shape)) {
            t.data = j->scores;
            if (!foil_npy_write_mem(&t, &buf, &len)) {
                j->body = buf;
                j->body_len = len;
                j->type = "application/x-npy";
                return;
            }
        }
        job_fail(j, 500, "out of memory for the answer");
        j->body = error_body(j->status, j->error, j->id, &j->body_len);
        return;
    }
    size_t cap = (size_t)(j->n * (j->classes + 1)) * 18 + 64, len = 0;
    char *b = malloc(cap);
    if (!b) {
        job_fail(j, 500, "out of memory for the answer");
        j->body = error_body(j->status, j->error, j->id, &j->body_len);
        return;
    }
    len += (size_t)sprintf(b, "{\"outputs\":[");
    for (int64_t i = 0; i < j->n; i++) {
        len += (size_t)sprintf(b + len, i ? ",[" : "[");
        for (int64_t c = 0; c < j->classes; c++)
            len += (size_t)sprintf(b + len, c ? ",%.9g" : "%.9g", (double)j->scores[i * j->classes + c]);
        b[len++] = ']';
    }
    len += (size_t)sprintf(b + len, "],\"request_id\":%lld}", (long long)j->id);
    j->body = b;
    j->body_len = len;
}

static enum MHD_Result send_body(struct MHD_Connection *conn, int status, char *body, size_t len, const char *type,
                                 int64_t id, double retry_after, int close)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body ? body : (char *)"",
                                                             body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    char v[32];
    if (id) {
        snprintf(v, sizeof v, "%lld", (long long)id);
        MHD_add_response_header(r, "X-Request-Id", v);
    }
    if (retry_after > 0 && retry_after < 1e8) {
        snprintf(v, sizeof v, "%d", (int)ceil(retry_after));
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    if (status == 401) MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"foil\"");
    if (close) MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

/* ------------------------------------------------------------------------- */
/* the audit writer                                                          */

static void audit_push(foil_server *s, Job *j)
{
    j->next = NULL;
    pthread_mutex_lock(&s->alock);
    *s->aqueue_tail = j;
    s->aqueue_tail = &j->next;
    pthread_cond_signal(&s->acond);
    pthread_mutex_unlock(&s->alock);
}

static const char *key_name(const foil_server *s, int key) { return key >= 0 ? s->keys.keys[key].name : "-"; }

/* Commit the rows of the jobs in list, then answer them. */
static void audit_group(foil_server *s, Job *list)
{
    if (s->audit && list) {
        foil_status st = foilServeAuditBegin(s->audit);
        for (Job *j = list; j && !st; j = j->next) {
            FoilServeAuditRow row = {
                .time = j->wall0, .key = key_name(s, j->key), .remote = j->remote, .path = j->path,
                .status = j->status, .examples = j->status == 200 ? j->n : (j->x ? j->n : 0),
                .classes = j->status == 200 ? j->classes : 0, .input_sha256 = j->have_sha ? j->sha : NULL,
                .argmax = j->status == 200 ? j->argmax : NULL, .scores = j->status == 200 ? j->scores : NULL,
                .latency_ms = (foil_now() - j->t0) * 1e3, .alarms = j->alarms, .error = j->error};
            st = foilServeAuditInsert(s->audit, &row, &j->id);
        }
        if (!st) st = foilServeAuditCommit(s->audit);
        if (st) {
            foilServeAuditRollback(s->audit);
            fprintf(stderr, "foil serve: %s\n", foil_last_error());
            pthread_mutex_lock(&s->metrics.lock);
            s->metrics.audit_failures++;
            pthread_mutex_unlock(&s->metrics.lock);
            for (Job *j = list; j; j = j->next) {
                if (j->status == 200) foilServeRefund(&s->keys, j->key < 0 ? s->keys.n : j->key, j->n);
                j->id = 0;
                if (j->conn) job_fail(j, 503, "the audit log cannot be written; nothing was answered");
            }
        }
    }
    for (Job *j = list, *next; j; j = next) {
        next = j->next;
        foilServeMetricsRequest(&s->metrics, j->key, j->status, j->n, foil_now() - j->t0);
        if (!j->conn) {
            job_free(j);
            continue;
        }
        job_answer(s, j);
        j->done = 1;
        struct MHD_Connection *conn = j->conn;
        atomic_fetch_sub(&s->in_flight, 1);
        MHD_resume_connection(conn); /* from here the HTTP thread owns j */
    }
}

/* Everything waiting, or NULL once stopped and empty. */
static Job *audit_take(foil_server *s, int wait)
{
    pthread_mutex_lock(&s->alock);
    while (wait && !s->aqueue && !s->stop_audit) pthread_cond_wait(&s->acond, &s->alock);
    Job *list = s->aqueue;
    s->aqueue = NULL;
    s->aqueue_tail = &s->aqueue;
    pthread_mutex_unlock(&s->alock);
    return list;
}

static void *audit_main(void *arg)
{
    foil_server *s = arg;
    for (Job *list; (list = audit_take(s, 1));) audit_group(s, list);
    return NULL;
}

/* ------------------------------------------------------------------------- */
/* the compute worker                                                        */

static void compute_push(foil_server *s, Job *j)
{
    j->next = NULL;
    j->t_enqueued = foil_now();
    pthread_mutex_lock(&s->qlock);
    *s->queue_tail = j;
    s->queue_tail = &j->next;
    s->queued_examples += j->n;
    pthread_cond_signal(&s->qcond);
    pthread_mutex_unlock(&s->qlock);
}

static struct timespec abs_time(double t)
{
    struct timespec ts;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) ts.tv_nsec = 999999999L;
    return ts;
}

/* The next batch: what waits, once max_batch examples wait or the oldest
 * has waited max_wait_ms; NULL when stopped and empty. */
static Job *compute_take(foil_server *s, int64_t *total)
{
    pthread_mutex_lock(&s->qlock);
    while (!s->queue && !s->stop_compute) pthread_cond_wait(&s->qcond, &s->qlock);
    while (s->queue && !s->stop_compute && s->queued_examples < s->o.max_batch) {
        double deadline = s->queue->t_enqueued + s->o.max_wait_ms * 1e-3;
        if (foil_now() >= deadline) break;
        struct timespec ts = abs_time(deadline);
        pthread_cond_timedwait(&s->qcond, &s->qlock, &ts);
    }
    Job *batch = NULL, **tail = &batch;
    *total = 0;
    while (s->queue && (*total == 0 || *total + s->queue->n <= s->o.max_batch)) {
        Job *j = s->queue;
        s->queue = j->next;
        j->next = NULL;
        *tail = j;
        tail = &j->next;
        *total += j->n;
        s->queued_examples -= j->n;
    }
    if (!s->queue) s->queue_tail = &s->queue;
    pthread_mutex_unlock(&s->qlock);
    return batch;
}

static int32_t argmax_row(const float *v, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return (int32_t)best;
}

/* One forward pass for the jobs of batch (total examples), then the output
 * mode and the monitors, job by job. */
static void run_batch(foil_server *s, Job *batch, int64_t total, float **xbuf, int64_t *xcap)
{
    int b = 0;
    while (b + 1 < s->n_models && s->sizes[b] < total) b++;
    const int64_t rows = total > s->sizes[b] ? total : s->sizes[b], d = s->d, c = s->classes;
    foil_status st = FOIL_OK;
    if (rows > *xcap) {
        float *p = realloc(*xbuf, (size_t)(rows * d) * sizeof *p);
        if (!p) st = foil_error(FOIL_ERR_NOMEM, "out of memory for a batch of %lld", (long long)rows);
        else *xbuf = p, *xcap = rows;
    }
    foil_tensor x = {0}, z = {0};
    if (!st) {
        int64_t r = 0;
        for (Job *j = batch; j; j = j->next) {
            memcpy(*xbuf + r * d, j->x, (size_t)(j->n * d) * sizeof(float));
            r += j->n;
        }
        for (; r < rows; r++) memcpy(*xbuf + r * d, *xbuf + (total - 1) * d, (size_t)d * sizeof(float));
        int64_t shape[FOIL_MAX_DIMS];
        memcpy(shape, s->input_shape, sizeof shape);
        shape[0] = rows;
        st = foil_tensor_set_shape(&x, FOIL_F32, s->input_rank, shape);
        x.data = *xbuf;
    }
    if (!st) st = foil_model_predict(s->models[b], &x, &z);
    foilServeMetricsBatch(&s->metrics, total);
    int64_t r = 0;
    for (Job *j = batch; j; j = j->next) {
        if (st) {
            job_fail(j, 500, "the model failed: %s", foil_last_error());
            continue;
        }
        const float *logits = foil_f32(&z) + r * c;
        r += j->n;
        j->classes = c;
        j->scores = malloc((size_t)(j->n * c) * sizeof *j->scores);
        j->argmax = malloc((size_t)j->n * sizeof *j->argmax);
        if (!j->scores || !j->argmax) {
            job_fail(j, 500, "out of memory");
            continue;
        }
        for (int64_t i = 0; i < j->n; i++) j->argmax[i] = argmax_row(logits + i * c, c);
        for (int m = 0; m < s->o.n_monitors; m++) {
            const foil_serve_monitor *mon = &s->o.monitors[m];
            char alarm[200] = "";
            if (!mon->observe(mon->ctx, key_name(s, j->key), j->x, j->n, d, logits, c, alarm, sizeof alarm)) continue;
            size_t len = strlen(j->alarms);
            snprintf(j->alarms + len, sizeof j->alarms - len, "%s%s: %s", len ? "; " : "", mon->name, alarm);
            foilServeMetricsAlarm(&s->metrics, j->key, m);
        }
        memcpy(j->scores, logits, (size_t)(j->n * c) * sizeof *j->scores);
        foil_status ost = foil_output_apply(&s->o.output, s->caps, j->scores, j->n, c, NULL);
        if (ost) job_fail(j, 500, "the output mode failed: %s", foil_last_error());
        else j->status = 200;
    }
    foil_tensor_free(&z);
}

static void *compute_main(void *arg)
{
    foil_server *s = arg;
    float *xbuf = NULL;
    int64_t xcap = 0, total;
    for (Job *batch; (batch = compute_take(s, &total));) {
        run_batch(s, batch, total, &xbuf, &xcap);
        for (Job *j = batch, *next; j; j = next) { /* to the audit writer, in order */
            next = j->next;
            if (j->status != 200) foilServeRefund(&s->keys, j->key < 0 ? s->keys.n : j->key, j->n);
            audit_push(s, j);
        }
    }
    free(xbuf);
    return NULL;
}

/* ------------------------------------------------------------------------- */
/* parsing a prediction request                                              */

/* Examples of shape [N, ...] fit when each holds d values. */
static int check_shape(foil_server *s, Job *j, int rank, const int64_t *shape)
{
    if (rank < 2 || rank > FOIL_MAX_DIMS) {
        job_fail(j, 400, "\"shape\" must have 2 to %d dimensions, the batch first (this model: [N, ...] of %lld values "
                 "per example)", FOIL_MAX_DIMS, (long long)s->d);
        return 0;
    }
    int64_t per = 1;
    for (int k = 1; k < rank; k++) {
        if (shape[k] < 1 || shape[k] > s->d) {
            per = -1;
            break;
        }
        per *= shape[k];
        if (per > s->d) break;
    }
    if (shape[0] < 1) {
        job_fail(j, 400, "the batch (shape[0]) must be at least 1");
        return 0;
    }
    if (shape[0] > s->o.max_examples) {
        job_fail(j, 413, "%lld examples in one request; at most %lld", (long long)shape[0],
                 (long long)s->o.max_examples);
        return 0;
    }
    if (per != s->d) {
        char want[128] = "";
        size_t len = 0;
        for (int k = 1; k < s->input_rank; k++)
            len += (size_t)snprintf(want + len, sizeof want - len, "%s%lld", k > 1 ? "," : "",
                                    (long long)s->input_shape[k]);
        job_fail(j, 400, "each example must hold %lld values (the model takes [N,%s]); the request's shape does not",
                 (long long)s->d, want);
        return 0;
    }
    j->n = shape[0];
    return 1;
}

static int parse_json(foil_server *s, Job *j, const char *body, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        job_fail(j, 400, "the body is not a JSON object {\"shape\": [N, ...], \"inputs\": [...]}");
        return 0;
    }
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(root, "shape");
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    int64_t dims[FOIL_MAX_DIMS];
    int rank = 0, ok = 1;
    if (!cJSON_IsArray(shape) || !cJSON_IsArray(inputs)) {
        job_fail(j, 400, "the body needs \"shape\" (a list of integers) and \"inputs\" (a flat list of numbers)");
        ok = 0;
    }
    const cJSON *v;
    if (ok) cJSON_ArrayForEach(v, shape) {
        if (rank == FOIL_MAX_DIMS || !cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
            !(fabs(v->valuedouble) < 1e15)) {
            job_fail(j, 400, "\"shape\" must be a list of at most %d integers", FOIL_MAX_DIMS);
            ok = 0;
            break;
        }
        dims[rank++] = (int64_t)v->valuedouble;
    }
    ok = ok && check_shape(s, j, rank, dims);
    if (ok && cJSON_GetArraySize(inputs) != j->n * s->d) {
        job_fail(j, 400, "\"inputs\" has %d numbers; shape [%lld, ...] needs %lld", cJSON_GetArraySize(inputs),
                 (long long)j->n, (long long)(j->n * s->d));
        ok = 0;
    }
    if (ok && !(j->x = malloc((size_t)(j->n * s->d) * sizeof *j->x))) {
        job_fail(j, 500, "out of memory");
        ok = 0;
    }
    int64_t i = 0;
    if (ok) cJSON_ArrayForEach(v, inputs) {
        float f = cJSON_IsNumber(v) ? (float)v->valuedouble : NAN;
        if (!isfinite(f)) {
            job_fail(j, 400, "input %lld is %s", (long long)i, cJSON_IsNumber(v) ? "not finite in float32" : "not a number");
            ok = 0;
            break;
        }
        j->x[i++] = f;
    }
    cJSON_Delete(root);
    return ok;
}

static int parse_npy(foil_server *s, Job *j, const char *body, size_t len)
{
    foil_tensor t;
    if (foil_npy_read_mem(body, len, "request body", &t)) {
        job_fail(j, 400, "%s", foil_last_error());
        return 0;
    }
    int ok = 1;
    if (t.dtype != FOIL_F32) {
        job_fail(j, 400, "the .npy array is %s; send float32 ('<f4')", foil_dtype_name(t.dtype));
        ok = 0;
    }
    ok = ok && check_shape(s, j, t.ndim, t.shape);
    if (ok) {
        int64_t bad = foil_first_nonfinite(foil_f32(&t), t.numel);
        if (bad >= 0) {
            job_fail(j, 400, "input %lld is not finite", (long long)bad);
            ok = 0;
        }
    }
    if (ok && !(j->x = malloc((size_t)t.numel * sizeof *j->x))) {
        job_fail(j, 500, "out of memory");
        ok = 0;
    }
    if (ok) memcpy(j->x, t.data, (size_t)t.numel * sizeof *j->x);
    foil_tensor_free(&t);
    return ok;
}

/* ------------------------------------------------------------------------- */
/* HTTP                                                                      */

/* An answer decided on the headers: sent now, its row in the next commit. */
static enum MHD_Result refuse_now(foil_server *s, struct MHD_Connection *conn, Request *rq, const char *path, int status,
                                  double retry_after, const char *msg)
{
    Job *j = job_new(rq, conn);
    if (j) {
        snprintf(j->path, sizeof j->path, "%s", path);
        snprintf(j->error, sizeof j->error, "%s", msg);
        j->status = status;
        audit_push(s, j);
    }
    size_t len;
    char *body = error_body(status, msg, 0, &len);
    return send_body(conn, status, body, len, "application/json", 0, retry_after, 1);
}

static int route_of(const char *url)
{
    if (strcmp(url, "/v1/predict") == 0) return ROUTE_PREDICT;
    if (strcmp(url, "/v1/health") == 0) return ROUTE_HEALTH;
    if (strcmp(url, "/v1/metrics") == 0) return ROUTE_METRICS;
    return ROUTE_NONE;
}

/* -2: no or malformed Authorization, -1: unknown key, else the key. */
static int authorize(foil_server *s, struct MHD_Connection *conn)
{
    if (s->o.no_auth) return s->keys.n; /* the anonymous key */
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return -2;
    h += 7;
    while (*h == ' ') h++;
    size_t len = strlen(h);
    if (len == 0 || len > 256) return -1;
    return foilServeKeysFind(&s->keys, h, len);
}

static char *health_body(foil_server *s, size_t *len)
{
    cJSON *root = cJSON_CreateObject();
    char mode[64];
    cJSON_AddStringToObject(root, "status", atomic_load(&s->draining) ? "stopping" : "ok");
    cJSON_AddStringToObject(root, "model", s->model_name);
    cJSON *shape = cJSON_AddArrayToObject(root, "input_shape");
    for (int k = 0; k < s->input_rank; k++) cJSON_AddItemToArray(shape, cJSON_CreateNumber(k ? (double)s->input_shape[k] : -1));
    cJSON_AddNumberToObject(root, "classes", (double)s->classes);
    cJSON_AddStringToObject(root, "output_mode", foil_output_str(&s->o.output, mode, sizeof mode));
    cJSON_AddNumberToObject(root, "max_examples", (double)s->o.max_examples);
    char *t = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    *len = t ? strlen(t) : 0;
    return t;
}

static enum MHD_Result on_headers(foil_server *s, struct MHD_Connection *conn, Request *rq, const char *url,
                                  const char *method)
{
    rq->route = route_of(url);
    rq->key = -1;
    if (rq->route == ROUTE_NONE)
        return refuse_now(s, conn, rq, "(other)", 404, 0, "no such path; the API is /v1/predict, /v1/health, /v1/metrics");
    const char *want = rq->route == ROUTE_PREDICT ? "POST" : "GET";
    if (strcmp(method, want) != 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s takes %s", url, want);
        return refuse_now(s, conn, rq, url, 405, 0, msg);
    }
    if (rq->route == ROUTE_HEALTH) {
        size_t len;
        char *body = health_body(s, &len);
        return send_body(conn, 200, body, len, "application/json", 0, 0, 0);
    }
    int key = authorize(s, conn);
    if (key < 0)
        return refuse_now(s, conn, rq, url, 401, 0,
                          key == -2 ? "an API key is required: send the header Authorization: Bearer KEY"
                                    : "the API key is not valid");
    rq->key = key;
    if (rq->route == ROUTE_METRICS) {
        size_t len = 0;
        char *text = foilServeMetricsText(&s->metrics, &s->keys, &s->o, &len);
        if (!text) return refuse_now(s, conn, rq, url, 500, 0, "out of memory");
        return send_body(conn, 200, text, len, "text/plain; version=0.0.4; charset=utf-8", 0, 0, 0);
    }
    if (atomic_load(&s->draining)) return refuse_now(s, conn, rq, url, 503, 1, "the server is stopping");
    double wait = foilServeTakeRequest(&s->keys, key, foil_now());
    if (wait > 0) return refuse_now(s, conn, rq, url, 429, wait, "the key's request rate limit is reached");
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > s->o.max_body) {
        char msg[128];
        snprintf(msg, sizeof msg, "the body is %s bytes; at most %zu", cl, s->o.max_body);
        return refuse_now(s, conn, rq, url, 413, 0, msg);
    }
    return MHD_YES;
}

static enum MHD_Result on_body_done(foil_server *s, struct MHD_Connection *conn, Request *rq)
{
    Job *j = rq->job = job_new(rq, conn);
    if (!j) return MHD_NO;
    /* NPY when the client says so; anything else is read as JSON (load generators send no type) */
    const char *type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    int npy = type && strncasecmp(type, "application/x-npy", 17) == 0;
    j->npy = npy;
    if (rq->too_large) job_fail(j, 413, "the body is larger than %zu bytes", s->o.max_body);
    else if (npy ? parse_npy(s, j, rq->body, rq->len) : parse_json(s, j, rq->body ? rq->body : "", rq->len)) {
        crypto_hash_sha256(j->sha, (const unsigned char *)j->x, (unsigned long long)(j->n * s->d) * sizeof(float));
        j->have_sha = 1;
        const char *why = "";
        double wait = foilServeTakeExamples(&s->keys, rq->key, j->n, foil_now(), &why);
        if (wait > 0) {
            job_fail(j, 429, "%s", why);
            j->retry_after = wait;
        }
    }
    free(rq->body);
    rq->body = NULL;
    j->conn = conn;
    atomic_fetch_add(&s->in_flight, 1);
    MHD_suspend_connection(conn);
    if (j->status) audit_push(s, j);
    else compute_push(s, j);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *data, size_t *data_size, void **con_cls)
{
    (void)version;
    foil_server *s = cls;
    Request *rq = *con_cls;
    if (!rq) {
        if (!(rq = calloc(1, sizeof *rq))) return MHD_NO;
        *con_cls = rq;
        rq->t0 = foil_now();
        rq->wall0 = wall_now();
        return on_headers(s, conn, rq, url, method);
    }
    if (rq->job) { /* resumed: the answer is ready */
        Job *j = rq->job;
        char *body = j->body;
        j->body = NULL;
        return send_body(conn, j->status, body, j->body_len, j->type, j->id, j->retry_after, 0);
    }
    if (*data_size) {
        size_t n = *data_size;
        *data_size = 0;
        if (rq->too_large || n > s->o.max_body - rq->len) {
            rq->too_large = 1; /* read and dropped: a chunked body has no Content-Length to refuse it by */
            free(rq->body);
            rq->body = NULL;
            rq->len = rq->cap = 0;
            return MHD_YES;
        }
        if (rq->len + n > rq->cap) {
            size_t cap = rq->cap ? rq->cap : 65536;
            while (cap < rq->len + n) cap *= 2;
            char *p = realloc(rq->body, cap);
            if (!p) return MHD_NO;
            rq->body = p;
            rq->cap = cap;
        }
        memcpy(rq->body + rq->len, data, n);
        rq->len += n;
        return MHD_YES;
    }
    return on_body_done(s, conn, rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)conn, (void)why;
    Request *rq = *con_cls;
    if (!rq) return;
    job_free(rq->job);
    free(rq->body);
    free(rq);
    *con_cls = NULL;
}

/* ------------------------------------------------------------------------- */
/* start and stop                                                            */

void foil_serve_options_default(foil_serve_options *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 8080;
    o->audit_sync_full = 1;
    o->output.mode = FOIL_OUTPUT_LOGITS;
    o->max_body = (size_t)8 << 20;
    o->max_examples = 256;
    o->max_batch = 64;
    o->max_wait_ms = 2;
    o->max_connections = 512;
    o->max_per_ip = 128;
    o->timeout_s = 10;
    o->threads = 2;
}

/* A PEM file as the NUL-terminated string libmicrohttpd takes. */
static foil_status read_pem(const char *path, char **out)
{
    uint8_t *buf;
    size_t len;
    foil_status st = foilReadFile(path, (size_t)1 << 20, &buf, &len);
    if (st) return st;
    char *text = len ? realloc(buf, len + 1) : NULL;
    if (!text) {
        free(buf);
        return len ? foil_error(FOIL_ERR_NOMEM, "out of memory") : foil_error(FOIL_ERR_IO, "%s: empty", path);
    }
    text[len] = '\0';
    *out = text;
    return FOIL_OK;
}

static foil_status check_options(const foil_serve_options *o)
{
    if (o->port < 0 || o->port > 65535) return foil_error(FOIL_ERR_ARG, "the port must be 0 to 65535, not %d", o->port);
    if (!o->keys_path && !o->no_auth)
        return foil_error(FOIL_ERR_ARG, "give API keys (--keys FILE; make one with --add-key NAME), or --no-auth to "
                          "serve anyone who can connect");
    if (o->keys_path && o->no_auth) return foil_error(FOIL_ERR_ARG, "--keys and --no-auth exclude each other");
    if (o->max_batch < 1 || o->max_batch > 4096) return foil_error(FOIL_ERR_ARG, "--max-batch must be 1 to 4096");
    if (o->max_examples < 1) return foil_error(FOIL_ERR_ARG, "--max-examples must be at least 1");
    if (!(o->max_wait_ms >= 0 && o->max_wait_ms <= 1000)) return foil_error(FOIL_ERR_ARG, "--max-wait must be 0 to 1000 ms");
    if (o->max_body < 64) return foil_error(FOIL_ERR_ARG, "--max-body must be at least 64 bytes");
    if (!(o->requests_per_s >= 0) || !(o->examples_per_s >= 0) || o->budget < 0)
        return foil_error(FOIL_ERR_ARG, "rates and budgets must be >= 0");
    if (!o->tls_cert != !o->tls_key) return foil_error(FOIL_ERR_ARG, "TLS needs both --tls-cert and --tls-key");
    if (o->n_monitors < 0 || o->n_monitors > FOIL_SERVE_MAX_MONITORS)
        return foil_error(FOIL_ERR_ARG, "at most %d monitors", FOIL_SERVE_MAX_MONITORS);
    if (o->threads < 1 || o->threads > 64) return foil_error(FOIL_ERR_ARG, "--http-threads must be 1 to 64");
    return FOIL_OK;
}

/* One model per batch size, each planned (and checked) by a first pass. */
static foil_status load_models(foil_server *s, const char *path)
{
    int64_t size = 1;
    foil_status st = FOIL_OK;
    while (!st && s->n_models < MAX_BUCKETS) {
        if (size > s->o.max_batch || s->n_models == MAX_BUCKETS - 1) size = s->o.max_batch;
        foil_model *m;
        if ((st = foil_model_load(path, &m))) break;
        foil_model_set_max_batch(m, size);
        s->models[s->n_models] = m;
        s->sizes[s->n_models++] = size;
        if (size == s->o.max_batch) break;
        size *= 2;
    }
    if (st) return st;
    foil_model *m0 = s->models[0];
    s->input_rank = foil_model_input_rank(m0);
    if (s->input_rank < 2)
        return foil_error(FOIL_ERR_UNSUPPORTED, "%s: the model does not declare its input shape", path);
    memcpy(s->input_shape, foil_model_input_shape(m0), (size_t)s->input_rank * sizeof(int64_t));
    s->d = 1;
    for (int k = 1; k < s->input_rank; k++) {
        if (s->input_shape[k] < 1)
            return foil_error(FOIL_ERR_UNSUPPORTED, "%s: input dimension %d is dynamic; foil serve needs a fixed "
                              "example shape", path, k);
        s->d *= s->input_shape[k];
    }
    if ((st = foil_model_num_classes(m0, &s->classes))) return st;
    s->caps = foil_model_capabilities(m0);
    if ((st = foil_output_check(&s->o.output, s->caps, "--output-mode"))) return st;
    snprintf(s->model_name, sizeof s->model_name, "%s", path);
    for (int i = 0; i < s->n_models && !st; i++) {
        foil_tensor x = {0}, z = {0};
        int64_t shape[FOIL_MAX_DIMS];
        memcpy(shape, s->input_shape, sizeof shape);
        shape[0] = s->sizes[i];
        st = foil_tensor_alloc(&x, FOIL_F32, s->input_rank, shape);
        if (!st) st = foil_model_predict(s->models[i], &x, &z);
        foil_tensor_free(&x);
        foil_tensor_free(&z);
    }
    return st;
}

static void set_spent(void *ctx, const char *key, int64_t examples)
{
    FoilServeKeys *k = ctx;
    for (int i = 0; i <= k->n; i++)
        if (strcmp(k->keys[i].name, key) == 0) k->keys[i].spent = examples;
}

static void free_server(foil_server *s)
{
    for (int i = 0; i < s->n_models; i++) foil_model_free(s->models[i]);
    for (int m = 0; m < s->o.n_monitors; m++)
        if (s->o.monitors[m].destroy) s->o.monitors[m].destroy(s->o.monitors[m].ctx);
    foilServeAuditClose(s->audit);
    foilServeMetricsFree(&s->metrics);
    foilServeKeysFree(&s->keys);
    free(s->cert);
    free(s->tls_key);
    pthread_mutex_destroy(&s->qlock);
    pthread_cond_destroy(&s->qcond);
    pthread_mutex_destroy(&s->alock);
    pthread_cond_destroy(&s->acond);
    free(s);
}

static foil_status start_http(foil_server *s)
{
    union {
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } addr;
    memset(&addr, 0, sizeof addr);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    if (inet_pton(AF_INET, s->o.host, &addr.v4.sin_addr) == 1) {
        addr.v4.sin_family = AF_INET;
        addr.v4.sin_port = htons((uint16_t)s->o.port);
    } else if (inet_pton(AF_INET6, s->o.host, &addr.v6.sin6_addr) == 1) {
        addr.v6.sin6_family = AF_INET6;
        addr.v6.sin6_port = htons((uint16_t)s->o.port);
        flags |= MHD_USE_IPv6;
    } else {
        return foil_error(FOIL_ERR_ARG, "--host must be a numeric IPv4 or IPv6 address, not '%s'", s->o.host);
    }
    if (s->o.tls_cert) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
            return foil_error(FOIL_ERR_UNSUPPORTED, "this libmicrohttpd was built without TLS");
        foil_status st = read_pem(s->o.tls_cert, &s->cert);
        if (!st) st = read_pem(s->o.tls_key, &s->tls_key);
        if (st) return st;
        flags |= MHD_USE_TLS;
    }
    struct MHD_OptionItem tls[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, s->cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_OptionItem none[] = {{MHD_OPTION_END, 0, NULL}};
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->o.threads, MHD_OPTION_CONNECTION_LIMIT, s->o.max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->o.max_per_ip, MHD_OPTION_CONNECTION_TIMEOUT, s->o.timeout_s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_ARRAY, s->o.tls_cert ? tls : none, MHD_OPTION_END);
    if (!s->daemon)
        return foil_error(FOIL_ERR_IO, "cannot serve on %s port %d (in use, not an address of this machine, or a bad "
                          "TLS certificate or key)", s->o.host, s->o.port);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : s->o.port;
    return FOIL_OK;
}

foil_status foil_serve_start(const char *model_path, const foil_serve_options *o, foil_server **out)
{
    *out = NULL;
    foil_status st = check_options(o);
    foil_server *s = st ? NULL : calloc(1, sizeof *s);
    if (!st && !s) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    if (st) {
        for (int m = 0; m < o->n_monitors && m < FOIL_SERVE_MAX_MONITORS; m++)
            if (o->monitors[m].destroy) o->monitors[m].destroy(o->monitors[m].ctx);
        return st;
    }
    s->o = *o;
    pthread_mutex_init(&s->qlock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* foil_now() is CLOCK_MONOTONIC */
    pthread_cond_init(&s->qcond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->alock, NULL);
    pthread_cond_init(&s->acond, NULL);
    s->queue_tail = &s->queue;
    s->aqueue_tail = &s->aqueue;
    if (sodium_init() < 0) st = foil_error(FOIL_ERR_RUNTIME, "libsodium failed to initialize");
    if (!st) st = foilServeKeysLoad(&s->keys, o->keys_path, o);
    if (!st) st = foilServeMetricsInit(&s->metrics, s->keys.n + 1);
    if (!st) st = load_models(s, model_path);
    if (!st && o->audit_path) st = foilServeAuditOpen(o->audit_path, o->audit_sync_full, &s->audit);
    if (!st && s->audit) st = foilServeAuditSpent(s->audit, set_spent, &s->keys);
    if (!st && (pthread_create(&s->compute, NULL, compute_main, s) != 0 ||
                (pthread_create(&s->auditor, NULL, audit_main, s) != 0 && (s->stop_compute = 1))))
        st = foil_error(FOIL_ERR_RUNTIME, "cannot start the worker threads");
    if (!st) s->threads_started = 1;
    if (!st) st = start_http(s);
    if (st) {
        foil_serve_stop(s);
        return st;
    }
    *out = s;
    return FOIL_OK;
}

int foil_serve_port(const foil_server *s) { return s->port; }

void foil_serve_stop(foil_server *s)
{
    if (!s) return;
    atomic_store(&s->draining, 1);
    if (s->daemon) {
        MHD_socket l = MHD_quiesce_daemon(s->daemon); /* no new connections */
        if (l != MHD_INVALID_SOCKET) close(l);
        /* what was accepted is answered, for up to 10 s */
        for (double t0 = foil_now(); atomic_load(&s->in_flight) > 0 && foil_now() - t0 < 10;) usleep(2000);
    }
    if (s->threads_started) {
        pthread_mutex_lock(&s->qlock);
        s->stop_compute = 1;
        pthread_cond_broadcast(&s->qcond);
        pthread_mutex_unlock(&s->qlock);
        pthread_join(s->compute, NULL);
        pthread_mutex_lock(&s->alock);
        s->stop_audit = 1;
        pthread_cond_broadcast(&s->acond);
        pthread_mutex_unlock(&s->alock);
        pthread_join(s->auditor, NULL);
    }
    if (s->daemon) MHD_stop_daemon(s->daemon);
    /* rows of requests refused while stopping */
    for (Job *list; (list = audit_take(s, 0));) audit_group(s, list);
    free_server(s);
}
