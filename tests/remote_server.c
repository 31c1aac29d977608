/*
 * tests/remote_server.c - a model behind HTTP (libmicrohttpd) or behind a
 * command, for tests/test_remote.c: it speaks foil's remote protocol
 * (docs/remote-protocol.md) and scores with the fixed linear classifier of
 * remote_linear.c (inputs of 64 values per example, 10 classes).
 *
 *   remote_server [--mode MODE] [--sleep S] [--count FILE]
 *       binds 127.0.0.1 on a free port, prints the port as line 1 of its
 *       standard output, and serves POSTs (JSON, or NPY when the request's
 *       Content-Type is application/x-npy) until SIGTERM or SIGINT; with
 *       --count it then writes "requests R examples E" to FILE.
 *   remote_server --stdin [--mode MODE] [--sleep S]
 *       answers one NPY request from standard input on standard output, as
 *       a --command model.
 *
 * MODE says how to misbehave:
 *   ok             answer correctly (the default)
 *   slow           sleep S seconds (default 5) first
 *   garbage        answer 200 with a body that is neither JSON nor NPY
 *   close          close the connection without an answer (HTTP)
 *   wrong-shape    answer N-1 rows for N examples
 *   ragged         the last row has one score too many (NPY: every row)
 *   drift          from the second request on, one class more
 *   nan            a score that is NaN (JSON: 1e999, infinite once parsed)
 *   f64            the NPY answer as float64
 *   truncated      the NPY answer cut short
 *   status500      HTTP 500
 *   flaky=K        HTTP 503 for the first K requests, then ok
 *   exit-nonzero   (--stdin) say why on standard error and exit 3
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "foil/npy.h"
#include "foil/model.h"
#include "remote_linear.h"

#define C REMOTE_LINEAR_CLASSES

/* --model FILE.onnx: serve that model (its logits, C of them, through
 * foil's engine) instead of the linear classifier; --features D: its
 * values per example. */
static foil_model *served;
static int64_t features = REMOTE_LINEAR_FEATURES;

static pthread_mutex_t served_lock = PTHREAD_MUTEX_INITIALIZER; /* one request at a time in the engine */

static void served_scores(const float *x, int64_t n, float *out)
{
    pthread_mutex_lock(&served_lock);
    foil_tensor in = {0}, z = {0};
    int64_t shape[2] = {n, features};
    if (foil_tensor_set_shape(&in, FOIL_F32, 2, shape)) abort();
    in.data = (void *)x;
    if (foil_model_predict(served, &in, &z) || z.shape[1] != C) {
        fprintf(stderr, "remote_server: %s\n", foil_last_error());
        abort();
    }
    memcpy(out, z.data, (size_t)(n * C) * sizeof *out);
    foil_tensor_free(&z);
    pthread_mutex_unlock(&served_lock);
}

static const char *mode = "ok";
static int flaky_k;
static double sleep_s = 5;
static atomic_long n_requests, n_examples;

typedef struct answer {
    int status;                    /* HTTP status */
    char *body;                    /* malloc'ed */
    size_t len;
    const char *type;
} answer;

static int is_mode(const char *m) { return strcmp(mode, m) == 0; }

static void sleep_for(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void text(answer *a, int status, const char *msg)
{
    a->status = status;
    a->body = strdup(msg);
    a->len = strlen(msg);
    a->type = "text/plain";
}

/* The scores of n examples as the mode wants them: rows x cols. */
static float *scores_for(const float *x, int64_t n, long request, int64_t *rows, int64_t *cols)
{
    float *s = calloc((size_t)n * (C + 1) + 1, sizeof *s);
    float *good = malloc((size_t)n * C * sizeof *good + 1);
    if (!s || !good) abort();
    if (served) served_scores(x, n, good);
    else remote_linear_scores(x, n, good);
    *rows = is_mode("wrong-shape") ? n - 1 : n;
    *cols = (is_mode("drift") && request > 1) ? C + 1 : C;
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < C; c++) s[i * *cols + c] = good[i * C + c];
    free(good);
    if (is_mode("nan")) s[0] = NAN;
    return s;
}

static void answer_json(answer *a, const float *s, int64_t rows, int64_t cols)
{
    size_t cap = (size_t)(rows * (cols + 1)) * 20 + 64, len = 0;
    char *b = malloc(cap);
    if (!b) abort();
    len += (size_t)sprintf(b + len, "{\"outputs\":[");
    for (int64_t i = 0; i < rows; i++) {
        int64_t k = is_mode("ragged") && i == rows - 1 ? cols + 1 : cols;
        len += (size_t)sprintf(b + len, i ? ",[" : "[");
        for (int64_t c = 0; c < k; c++) {
            float v = c < cols ? s[i * cols + c] : 0.0f;
            if (isnan(v)) len += (size_t)sprintf(b + len, c ? ",1e999" : "1e999");
            else len += (size_t)sprintf(b + len, c ? ",%.9g" : "%.9g", (double)v);
        }
        len += (size_t)sprintf(b + len, "]");
    }
    len += (size_t)sprintf(b + len, "]}");
    a->status = 200;
    a->body = b;
    a->len = len;
    a->type = "application/json";
}

static void answer_npy(answer *a, const float *s, int64_t rows, int64_t cols)
{
    /* an NPY array cannot be ragged: one more class in every row */
    int64_t out_cols = cols + is_mode("ragged");
    foil_tensor t = {0};
    int64_t shape[2] = {rows, out_cols};
    if (foil_tensor_alloc(&t, is_mode("f64") ? FOIL_F64 : FOIL_F32, 2, shape)) abort();
    for (int64_t i = 0; i < rows; i++)
        for (int64_t c = 0; c < out_cols; c++) {
            float v = c < cols ? s[i * cols + c] : 0.0f;
            if (t.dtype == FOIL_F64) ((double *)t.data)[i * out_cols + c] = v;
            else foil_f32(&t)[i * out_cols + c] = v;
        }
    void *buf;
    size_t len;
    if (foil_npy_write_mem(&t, &buf, &len)) abort();
    foil_tensor_free(&t);
    if (is_mode("truncated")) len -= len > 10 ? 10 : len;
    a->status = 200;
    a->body = buf;
    a->len = len;
    a->type = "application/x-npy";
}

/* Inputs of a JSON request: {"shape": [N, ...], "inputs": [...]}. */
static int parse_json(const char *body, size_t len, float **x, int64_t *n, answer *a)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(root, "shape");
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    int64_t numel = 1, k = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, shape) numel *= (int64_t)d->valuedouble;
    *n = cJSON_IsArray(shape) && shape->child ? (int64_t)shape->child->valuedouble : 0;
    if (!cJSON_IsArray(shape) || !cJSON_IsArray(inputs) || *n < 1 || cJSON_GetArraySize(inputs) != numel ||
        numel != *n * features) {
        cJSON_Delete(root);
        text(a, 400, "bad request: want {\"shape\": [N, 1, 8, 8], \"inputs\": [N*64 numbers]}");
        return 0;
    }
    *x = malloc((size_t)numel * sizeof **x);
    if (!*x) abort();
    cJSON_ArrayForEach(d, inputs) {
        (*x)[k++] = (float)d->valuedouble;
    }
    cJSON_Delete(root);
    return 1;
}

static int parse_npy(const char *body, size_t len, float **x, int64_t *n, answer *a)
{
    foil_tensor t;
    if (foil_npy_read_mem(body, len, "request", &t)) {
        text(a, 400, foil_last_error());
        return 0;
    }
    if (t.dtype != FOIL_F32 || t.ndim < 1 || t.shape[0] < 1 || t.numel != t.shape[0] * features) {
        foil_tensor_free(&t);
        text(a, 400, "bad request: want a float32 (N, 1, 8, 8) array");
        return 0;
    }
    *n = t.shape[0];
    *x = malloc((size_t)t.numel * sizeof **x);
    memcpy(*x, t.data, (size_t)t.numel * sizeof **x);
    foil_tensor_free(&t);
    return 1;
}

/* The answer to one request body, whatever the transport. */
static void serve(const char *body, size_t len, int npy, answer *a)
{
    long request = atomic_fetch_add(&n_requests, 1) + 1;
    if (is_mode("slow")) sleep_for(sleep_s);
    if (is_mode("status500")) {
        text(a, 500, "internal error (on purpose)");
        return;
    }
    if (flaky_k && request <= flaky_k) {
        text(a, 503, "busy (on purpose)");
        return;
    }
    if (is_mode("garbage")) {
        text(a, 200, "<html>this is not a model</html>");
        a->type = "text/html";
        return;
    }
    float *x = NULL;
    int64_t n = 0, rows, cols;
    if (!(npy ? parse_npy(body, len, &x, &n, a) : parse_json(body, len, &x, &n, a))) return;
    atomic_fetch_add(&n_examples, n);
    float *s = scores_for(x, n, request, &rows, &cols);
    if (npy) answer_npy(a, s, rows, cols);
    else answer_json(a, s, rows, cols);
    free(s);
    free(x);
}

/* ---- HTTP ---- */

typedef struct upload {
    char *p;
    size_t len, cap;
} upload;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *data, size_t *data_size, void **con_cls)
{
    (void)cls, (void)url, (void)version;
    upload *u = *con_cls;
    if (!u) {
        *con_cls = calloc(1, sizeof *u);
        return *con_cls ? MHD_YES : MHD_NO;
    }
    if (*data_size) {
        if (u->len + *data_size > u->cap) {
            u->cap = (u->len + *data_size) * 2;
            u->p = realloc(u->p, u->cap);
            if (!u->p) return MHD_NO;
        }
        memcpy(u->p + u->len, data, *data_size);
        u->len += *data_size;
        *data_size = 0;
        return MHD_YES;
    }
    if (is_mode("close")) {
        atomic_fetch_add(&n_requests, 1);
        return MHD_NO; /* MHD closes the connection, answering nothing */
    }
    answer a = {0};
    if (strcmp(method, "POST") != 0) {
        text(&a, 405, "POST only");
    } else {
        const char *type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        serve(u->p ? u->p : "", u->len, type && strncmp(type, "application/x-npy", 17) == 0, &a);
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(a.len, a.body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a.type);
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)a.status, r);
    MHD_destroy_response(r);
    return ok;
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)conn, (void)why;
    upload *u = *con_cls;
    if (u) free(u->p);
    free(u);
    *con_cls = NULL;
}

static int serve_http(const char *count_file)
{
    /* the signals that end the server are taken by sigwait below, in every thread */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
                                            NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &addr,
                                            MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "remote_server: cannot start the HTTP daemon\n");
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("%u\n", info ? (unsigned)info->port : 0u);
    fflush(stdout);
    int sig;
    sigwait(&stop, &sig);
    if (count_file) {
        FILE *f = fopen(count_file, "w");
        if (f) {
            fprintf(f, "requests %ld examples %ld\n", atomic_load(&n_requests), atomic_load(&n_examples));
            fclose(f);
        }
    }
    /* no MHD_stop_daemon: it would wait for a slow handler's sleep */
    _exit(0);
}

/* ---- one request over stdin and stdout ---- */

static int serve_stdin(void)
{
    size_t cap = 1 << 16, len = 0;
    char *in = malloc(cap);
    size_t got;
    while (in && (got = fread(in + len, 1, cap - len, stdin)) > 0) {
        len += got;
        if (len == cap) in = realloc(in, cap *= 2);
    }
    if (!in) return 1;
    if (is_mode("exit-nonzero")) {
        free(in);
        fprintf(stderr, "remote_server: some detail\nremote_server: refusing on purpose\n");
        return 3;
    }
    answer a = {0};
    serve(in, len, 1, &a);
    free(in);
    if (a.status != 200 && !is_mode("garbage")) {
        fprintf(stderr, "remote_server: %.*s\n", (int)a.len, a.body);
        free(a.body);
        return 2;
    }
    fwrite(a.body, 1, a.len, stdout);
    free(a.body);
    return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *count_file = NULL;
    int use_stdin = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--stdin") == 0) use_stdin = 1;
        else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) mode = argv[++i];
        else if (strcmp(argv[i], "--sleep") == 0 && i + 1 < argc) sleep_s = atof(argv[++i]);
        else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) count_file = argv[++i];
        else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            if (foil_model_load(argv[++i], &served)) {
                fprintf(stderr, "remote_server: %s\n", foil_last_error());
                return 2;
            }
        } else if (strcmp(argv[i], "--features") == 0 && i + 1 < argc) features = atoll(argv[++i]);
        else {
            fprintf(stderr, "usage: remote_server [--stdin] [--mode MODE] [--sleep S] [--count FILE] [--model F.onnx --features D]\n");
            return 2;
        }
    }
    if (strncmp(mode, "flaky=", 6) == 0) flaky_k = atoi(mode + 6);
    return use_stdin ? serve_stdin() : serve_http(count_file);
}
