/*
 * model/remote.c - a classifier that foil can only query: behind an HTTP
 * endpoint (libcurl) or a local command (posix_spawn). The protocol is in
 * foil/remote.h and docs/remote-protocol.md.
 *
 * A batch goes out in requests of at most max_batch examples. Each request
 * is encoded once and sent up to retries + 1 times; every attempt starts no
 * sooner than 1 / max_requests_per_s after the one before. Answers are
 * untrusted: they are checked completely before any score is copied out,
 * and the class count is fixed by the first good answer.
 *
 * Numbers go out with "%.9g" (float32 round-trips exactly through 9
 * significant digits) and are parsed back by cJSON, both in the C locale
 * whatever the program set, so a decimal comma never reaches the wire.
 */
#define _GNU_SOURCE /* pipe2 */
#include <curl/curl.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "foil/npy.h"
#include "foil/progress.h"
#include "foil/remote.h"
#include "model/remote_internal.h"

extern char **environ;

/* An answer larger than this is refused (a confused or hostile endpoint). */
#define REMOTE_MAX_RESPONSE ((size_t)256 << 20)
/* How much of a command's standard error is kept, for its last line. */
#define REMOTE_STDERR_TAIL 4096
#define REMOTE_BACKOFF_FIRST_S 0.25
#define REMOTE_BACKOFF_MAX_S 4.0
/* A command's exit status that asks to be run again (sysexits.h EX_TEMPFAIL). */
#define REMOTE_EXIT_TEMPFAIL 75

struct FoilRemote {
    int transport;                 /* FOIL_REMOTE_HTTP or FOIL_REMOTE_COMMAND */
    char *endpoint;                /* the URL or the command */
    char *response_name;           /* "ENDPOINT: response", for the .npy reader's messages */
    foil_remote_options o;         /* o.input_shape points at shape */
    int64_t shape[FOIL_MAX_DIMS];
    int64_t classes;               /* 0 until the first good answer */
    int64_t requests;
    double last_start;             /* monotonic time of the last attempt's start; < 0: none yet */
    char *api_key;                 /* o.api_key, copied (o.api_key points at it) */
    char *ca_file;                 /* o.ca_file, copied (o.ca_file points at it) */
    CURL *curl;                    /* made at the first HTTP request, then reused (keep-alive) */
    struct curl_slist *headers;
    char curl_err[CURL_ERROR_SIZE];
};

typedef struct buf {
    char *p;
    size_t len, cap;
    int overflow;                  /* more than REMOTE_MAX_RESPONSE was offered */
} buf;

/* ------------------------------------------------------------------------- */
/* small helpers                                                             */

/* Sleep until the monotonic time t (signals do not cut it short). */
static void sleep_until(double t)
{
    struct timespec ts;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) ts.tv_nsec = 999999999L;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

static int buf_add(buf *b, const void *d, size_t n)
{
    if (n > REMOTE_MAX_RESPONSE - b->len) {
        b->overflow = 1;
        return 0;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
    b->p[b->len] = '\0'; /* so text answers can be read as strings */
    return 1;
}

static void buf_free(buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* The first line of an answer or of a command's last message, printable
 * and short, for an error message. */
static const char *snippet(const char *s, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n' || c == '\r') {
            if (k) break;
            continue;
        }
        out[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (k + 4 >= cap) memcpy(out + k - 3, "...", 3);
    out[k] = '\0';
    return out;
}

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void make_c_locale(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

/* Switch this thread to the C locale; returns what to restore (0: nothing). */
static locale_t use_c_locale(void)
{
    pthread_once(&c_locale_once, make_c_locale);
    return c_locale ? uselocale(c_locale) : (locale_t)0;
}

static void restore_locale(locale_t old)
{
    if (old) uselocale(old);
}

/* ------------------------------------------------------------------------- */
/* options and state                                                         */

void foil_remote_options_default(foil_remote_options *o)
{
    memset(o, 0, sizeof *o);
    o->timeout_s = 30;
    o->retries = 3;
    o->max_requests_per_s = 0;
    o->format = FOIL_REMOTE_JSON;
    o->max_batch = 256;
    o->returns = FOIL_OUTPUT_LOGITS;
}

static foil_status check_options(const char *endpoint, const foil_remote_options *o)
{
    if (!(o->timeout_s > 0 && o->timeout_s <= 1e6))
        return foil_error(FOIL_ERR_ARG, "%s: the timeout must be > 0 s and at most 10^6 s (it is %g)", endpoint,
                          o->timeout_s);
    if (o->retries < 0 || o->retries > 100)
        return foil_error(FOIL_ERR_ARG, "%s: retries must be 0 to 100 (it is %d)", endpoint, o->retries);
    if (!(o->max_requests_per_s >= 0 && o->max_requests_per_s <= 1e9))
        return foil_error(FOIL_ERR_ARG, "%s: the rate limit must be >= 0 requests/s (0: none; it is %g)", endpoint,
                          o->max_requests_per_s);
    if (o->format != FOIL_REMOTE_JSON && o->format != FOIL_REMOTE_NPY)
        return foil_error(FOIL_ERR_ARG, "%s: unknown remote format %d (json or npy)", endpoint, o->format);
    if (o->max_batch < 1)
        return foil_error(FOIL_ERR_ARG, "%s: max_batch must be >= 1 (it is %lld)", endpoint, (long long)o->max_batch);
    if (o->returns != FOIL_OUTPUT_LOGITS && o->returns != FOIL_OUTPUT_PROBABILITIES &&
        o->returns != FOIL_OUTPUT_LABELS)
        return foil_error(FOIL_ERR_ARG, "%s: a remote model returns logits, probabilities or labels", endpoint);
    if (o->ca_file && access(o->ca_file, R_OK) != 0)
        return foil_error(FOIL_ERR_IO, "%s: cannot read the CA file %s: %s", endpoint, o->ca_file, strerror(errno));
    if (o->api_key && (!*o->api_key || strpbrk(o->api_key, "\r\n")))
        return foil_error(FOIL_ERR_ARG, "%s: the API key is empty or holds a line break", endpoint);
    if (o->input_rank < 0 || o->input_rank > FOIL_MAX_DIMS || (o->input_rank && !o->input_shape))
        return foil_error(FOIL_ERR_ARG, "%s: the declared input must have 1 to %d dimensions", endpoint,
                          FOIL_MAX_DIMS);
    for (int d = 1; d < o->input_rank; d++)
        if (o->input_shape[d] == 0 || o->input_shape[d] < -1)
            return foil_error(FOIL_ERR_ARG, "%s: dimension %d of the declared input is %lld (> 0, or -1 for any)",
                              endpoint, d, (long long)o->input_shape[d]);
    return FOIL_OK;
}

foil_status foilRemoteNew(int transport, const char *endpoint, const foil_remote_options *o, FoilRemote **out)
{
    *out = NULL;
    foil_remote_options defaults;
    foil_remote_options_default(&defaults);
    if (!o) o = &defaults;
    if (!endpoint || !*endpoint)
        return foil_error(FOIL_ERR_ARG, "a remote model needs %s", transport == FOIL_REMOTE_HTTP ? "a URL" : "a command");
    if (transport == FOIL_REMOTE_HTTP && strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0)
        return foil_error(FOIL_ERR_ARG, "%s: the endpoint must be an http:// or https:// URL", endpoint);
    foil_status st = check_options(endpoint, o);
    if (st) return st;
    FoilRemote *r = calloc(1, sizeof *r);
    size_t n = strlen(endpoint);
    if (r) r->endpoint = strdup(endpoint);
    if (r) r->response_name = malloc(n + sizeof ": response");
    if (!r || !r->endpoint || !r->response_name) {
        if (r) free(r->endpoint);
        free(r);
        return foil_error(FOIL_ERR_NOMEM, "%s: out of memory", endpoint);
    }
    snprintf(r->response_name, n + sizeof ": response", "%s: response", endpoint);
    r->transport = transport;
    r->o = *o;
    if (o->input_rank) memcpy(r->shape, o->input_shape, (size_t)o->input_rank * sizeof *r->shape);
    r->shape[0] = -1;
    r->o.input_shape = o->input_rank ? r->shape : NULL;
    if ((o->api_key && !(r->api_key = strdup(o->api_key))) || (o->ca_file && !(r->ca_file = strdup(o->ca_file)))) {
        free(r->api_key);
        free(r->endpoint);
        free(r->response_name);
        free(r);
        return foil_error(FOIL_ERR_NOMEM, "%s: out of memory", endpoint);
    }
    r->o.api_key = r->api_key;
    r->o.ca_file = r->ca_file;
    r->last_start = -1;
    *out = r;
    return FOIL_OK;
}

static void remote_destroy(void *state)
{
    FoilRemote *r = state;
    if (!r) return;
    if (r->curl) curl_easy_cleanup(r->curl);
    curl_slist_free_all(r->headers);
    free(r->endpoint);
    free(r->response_name);
    if (r->api_key) memset(r->api_key, 0, strlen(r->api_key));
    free(r->api_key);
    free(r->ca_file);
    free(r);
}

foil_model_desc foilRemoteDesc(const FoilRemote *r)
{
    unsigned caps = 0;
    if (r->o.returns == FOIL_OUTPUT_LOGITS) caps = FOIL_MODEL_SCORES;
    else if (r->o.returns == FOIL_OUTPUT_PROBABILITIES) caps = FOIL_MODEL_SCORES | FOIL_MODEL_PROBABILITIES;
    foil_model_desc d = {.name = r->endpoint, .capabilities = caps, .input_rank = r->o.input_rank,
                         .input_shape = r->o.input_rank ? r->shape : NULL};
    return d;
}

int64_t foilRemoteRequests(const FoilRemote *r) { return r->requests; }

/* ------------------------------------------------------------------------- */
/* encoding requests                                                         */

static foil_status encode_json(const FoilRemote *r, const foil_tensor *chunk, buf *req)
{
    char num[32];
    int ok = buf_add(req, "{\"shape\":[", 10);
    for (int d = 0; d < chunk->ndim && ok; d++) {
        int k = snprintf(num, sizeof num, d ? ",%lld" : "%lld", (long long)chunk->shape[d]);
        ok = buf_add(req, num, (size_t)k);
    }
    ok = ok && buf_add(req, "],\"inputs\":[", 12);
    const float *v = foil_f32(chunk);
    locale_t old = use_c_locale();
    for (int64_t i = 0; i < chunk->numel && ok; i++) {
        int k = snprintf(num, sizeof num, i ? ",%.9g" : "%.9g", (double)v[i]);
        ok = buf_add(req, num, (size_t)k);
    }
    restore_locale(old);
    ok = ok && buf_add(req, "]}", 2);
    if (!ok) return foil_error(FOIL_ERR_NOMEM, "%s: out of memory for a request", r->endpoint);
    return FOIL_OK;
}

static foil_status encode_request(const FoilRemote *r, const foil_tensor *chunk, buf *req)
{
    if (r->transport == FOIL_REMOTE_HTTP && r->o.format == FOIL_REMOTE_JSON) return encode_json(r, chunk, req);
    void *p;
    size_t len;
    foil_status st = foil_npy_write_mem(chunk, &p, &len);
    if (st) return foil_error_prefix(st, "%s", r->endpoint);
    req->p = p;
    req->len = req->cap = len;
    return FOIL_OK;
}

/* ------------------------------------------------------------------------- */
/* checking answers                                                          */

/* An answer of c scores per example agrees with the ones before. */
static foil_status check_classes(const FoilRemote *r, int64_t c)
{
    if (c < 1) return foil_error(FOIL_ERR_REMOTE, "%s: response has no scores (0 classes)", r->endpoint);
    if (r->classes && c != r->classes)
        return foil_error(FOIL_ERR_REMOTE, "%s: response has %lld classes, earlier responses had %lld", r->endpoint,
                          (long long)c, (long long)r->classes);
    return FOIL_OK;
}

static foil_status check_rows(const FoilRemote *r, int64_t rows, int64_t n)
{
    if (rows != n)
        return foil_error(FOIL_ERR_REMOTE, "%s: response has %lld rows for a request of %lld examples", r->endpoint,
                          (long long)rows, (long long)n);
    return FOIL_OK;
}

static foil_status check_finite(const FoilRemote *r, const float *v, int64_t n, int64_t c)
{
    int64_t i = foil_first_nonfinite(v, n * c);
    if (i < 0) return FOIL_OK;
    return foil_error(FOIL_ERR_REMOTE, "%s: response row %lld, class %lld is %s", r->endpoint, (long long)(i / c),
                      (long long)(i % c), isnan(v[i]) ? "NaN" : "infinite");
}

/* The rows of {"outputs": [[...], ...]} into *out (n x C, malloc'ed). */
static foil_status decode_json_rows(const FoilRemote *r, const cJSON *outputs, int64_t n, float **out, int64_t *c_out)
{
    if (!cJSON_IsArray(outputs))
        return foil_error(FOIL_ERR_REMOTE, "%s: response has no \"outputs\" array", r->endpoint);
    int64_t rows = cJSON_GetArraySize(outputs);
    foil_status st = check_rows(r, rows, n);
    if (st) return st;
    const cJSON *row0 = outputs->child;
    int64_t c = cJSON_IsArray(row0) ? cJSON_GetArraySize(row0) : 0;
    if (!cJSON_IsArray(row0)) return foil_error(FOIL_ERR_REMOTE, "%s: response row 0 is not a list of scores", r->endpoint);
    if ((st = check_classes(r, c))) return st;
    float *v = malloc((size_t)(n * c) * sizeof *v);
    if (!v) return foil_error(FOIL_ERR_NOMEM, "%s: out of memory for a response", r->endpoint);
    int64_t i = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, outputs) {
        int64_t k = cJSON_IsArray(row) ? cJSON_GetArraySize(row) : -1;
        if (k != c) {
            free(v);
            if (k < 0) return foil_error(FOIL_ERR_REMOTE, "%s: response row %lld is not a list of scores", r->endpoint,
                                         (long long)i);
            return foil_error(FOIL_ERR_REMOTE, "%s: response row %lld has %lld scores, row 0 has %lld", r->endpoint,
                              (long long)i, (long long)k, (long long)c);
        }
        int64_t j = 0;
        const cJSON *s;
        cJSON_ArrayForEach(s, row) {
            if (!cJSON_IsNumber(s)) {
                free(v);
                return foil_error(FOIL_ERR_REMOTE, "%s: response row %lld, class %lld is not a number", r->endpoint,
                                  (long long)i, (long long)j);
            }
            v[i * c + j++] = (float)s->valuedouble; /* a double beyond float's range becomes infinite, caught below */
        }
        i++;
    }
    if ((st = check_finite(r, v, n, c))) {
        free(v);
        return st;
    }
    *out = v;
    *c_out = c;
    return FOIL_OK;
}

static foil_status decode_json(const FoilRemote *r, const buf *resp, int64_t n, float **out, int64_t *c)
{
    locale_t old = use_c_locale();
    cJSON *root = cJSON_ParseWithLength(resp->p ? resp->p : "", resp->len);
    restore_locale(old);
    if (!root) {
        char s[96];
        return foil_error(FOIL_ERR_REMOTE, "%s: response is not JSON (it begins \"%s\")", r->endpoint,
                          snippet(resp->p ? resp->p : "", resp->len, s, sizeof s));
    }
    foil_status st;
    if (!cJSON_IsObject(root))
        st = foil_error(FOIL_ERR_REMOTE, "%s: response is not a JSON object {\"outputs\": ...}", r->endpoint);
    else
        st = decode_json_rows(r, cJSON_GetObjectItemCaseSensitive(root, "outputs"), n, out, c);
    cJSON_Delete(root);
    return st;
}

static foil_status decode_npy(const FoilRemote *r, const buf *resp, int64_t n, float **out, int64_t *c)
{
    foil_tensor t;
    foil_status st = foil_npy_read_mem(resp->p, resp->len, r->response_name, &t);
    if (st == FOIL_ERR_NOMEM) return st;
    if (st) return FOIL_ERR_REMOTE; /* the reader's message names the endpoint */
    char sh[128];
    if (t.dtype != FOIL_F32)
        st = foil_error(FOIL_ERR_REMOTE, "%s: response is a %s .npy array; the protocol wants float32 ('<f4')",
                        r->endpoint, foil_dtype_name(t.dtype));
    else if (t.ndim != 2)
        st = foil_error(FOIL_ERR_REMOTE, "%s: response has shape %s; the protocol wants (examples, classes)",
                        r->endpoint, foil_shape_str(&t, sh, sizeof sh));
    else if (!(st = check_rows(r, t.shape[0], n)) && !(st = check_classes(r, t.shape[1])))
        st = check_finite(r, foil_f32(&t), n, t.shape[1]);
    if (st) {
        foil_tensor_free(&t);
        return st;
    }
    float *v = malloc((size_t)t.numel * sizeof *v);
    if (!v) {
        foil_tensor_free(&t);
        return foil_error(FOIL_ERR_NOMEM, "%s: out of memory for a response", r->endpoint);
    }
    memcpy(v, t.data, (size_t)t.numel * sizeof *v);
    *c = t.shape[1];
    foil_tensor_free(&t);
    *out = v;
    return FOIL_OK;
}

/* ------------------------------------------------------------------------- */
/* HTTP                                                                      */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_code;

static void init_curl(void) { curl_init_code = curl_global_init(CURL_GLOBAL_DEFAULT); }

static size_t on_body(char *data, size_t size, size_t count, void *ctx)
{
    buf *b = ctx;
    return buf_add(b, data, size * count) ? size * count : 0; /* 0 aborts the transfer */
}

static foil_status http_setup(FoilRemote *r)
{
    pthread_once(&curl_once, init_curl);
    if (curl_init_code != CURLE_OK)
        return foil_error(FOIL_ERR_REMOTE, "%s: libcurl failed to initialize: %s", r->endpoint,
                          curl_easy_strerror(curl_init_code));
    r->curl = curl_easy_init();
    const char *type = r->o.format == FOIL_REMOTE_NPY ? "Content-Type: application/x-npy"
                                                      : "Content-Type: application/json";
    struct curl_slist *h = curl_slist_append(NULL, type);
    /* curl would send "Expect: 100-continue" before large bodies and wait for
     * servers that never answer it */
    if (h) r->headers = curl_slist_append(h, "Expect:");
    if (r->headers && r->api_key) {
        size_t n = strlen(r->api_key) + sizeof "Authorization: Bearer ";
        char *line = malloc(n);
        struct curl_slist *with = NULL;
        if (line) {
            snprintf(line, n, "Authorization: Bearer %s", r->api_key);
            with = curl_slist_append(r->headers, line); /* copies it */
            memset(line, 0, n);
            free(line);
        }
        if (!with) h = r->headers, r->headers = NULL; /* freed below */
    }
    if (!r->curl || !r->headers) {
        if (!r->headers) curl_slist_free_all(h);
        curl_slist_free_all(r->headers);
        r->headers = NULL;
        if (r->curl) curl_easy_cleanup(r->curl);
        r->curl = NULL; /* the next request tries again */
        return foil_error(FOIL_ERR_NOMEM, "%s: out of memory", r->endpoint);
    }
    long ms = (long)ceil(r->o.timeout_s * 1000);
    CURL *c = r->curl;
    curl_easy_setopt(c, CURLOPT_URL, r->endpoint);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* no SIGALRM for timeouts: foil may run in any thread */
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)REMOTE_MAX_RESPONSE);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->curl_err);
    if (r->ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, r->ca_file);
    return FOIL_OK;
}

/* Failures that another attempt may not meet: the network's, not the answer's. */
static int curl_transient(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_CONNECT: case CURLE_OPERATION_TIMEDOUT: case CURLE_GOT_NOTHING: case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR: case CURLE_PARTIAL_FILE: case CURLE_COULDNT_RESOLVE_HOST:
        return 1;
    default:
        return 0;
    }
}

static foil_status http_exchange(FoilRemote *r, const buf *req, buf *resp, int *retry)
{
    foil_status st;
    if (!r->curl && (st = http_setup(r))) return st;
    CURL *c = r->curl;
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->p);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->len);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    r->curl_err[0] = '\0';
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_FILESIZE_EXCEEDED || resp->overflow)
        return foil_error(FOIL_ERR_REMOTE, "%s: response is larger than %zu MiB", r->endpoint,
                          REMOTE_MAX_RESPONSE >> 20);
    if (cc != CURLE_OK) {
        *retry = curl_transient(cc);
        if (cc == CURLE_OPERATION_TIMEDOUT)
            return foil_error(FOIL_ERR_REMOTE, "%s: no response within %g s (timeout)", r->endpoint, r->o.timeout_s);
        return foil_error(FOIL_ERR_REMOTE, "%s: request failed: %s", r->endpoint,
                          r->curl_err[0] ? r->curl_err : curl_easy_strerror(cc));
    }
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 || code > 299) {
        char s[160];
        *retry = code == 429 || code >= 500;
        return foil_error(FOIL_ERR_REMOTE, "%s: HTTP status %ld%s%s", r->endpoint, code, resp->len ? ": " : "",
                          snippet(resp->p ? resp->p : "", resp->len, s, sizeof s));
    }
    return FOIL_OK;
}

/* ------------------------------------------------------------------------- */
/* commands                                                                  */

/* write() that turns a reader's exit into EPIPE without the process-wide
 * SIGPIPE: the signal is blocked in this thread and, if the write raised
 * it, taken back. */
static ssize_t write_nosigpipe(int fd, const void *p, size_t n)
{
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    ssize_t w = write(fd, p, n);
    int err = errno;
    if (w < 0 && err == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        sigtimedwait(&pipe_set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = err;
    return w;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

typedef struct child {
    pid_t pid;                     /* 0 once reaped */
    int in, out, err;              /* our ends of its stdin, stdout, stderr (-1: closed) */
    int status;
    char tail[REMOTE_STDERR_TAIL]; /* the end of its standard error */
    size_t tail_len;
} child;

/* /bin/sh -c endpoint in a process group of its own, its three standard
 * streams piped to ch. */
static foil_status spawn_child(const FoilRemote *r, child *ch)
{
    int p[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
    for (int i = 0; i < 3; i++)
        if (pipe2(p[i], O_CLOEXEC) != 0) {
            int err = errno;
            for (int j = 0; j < i; j++) close(p[j][0]), close(p[j][1]);
            return foil_error(FOIL_ERR_REMOTE, "%s: cannot make a pipe: %s", r->endpoint, strerror(err));
        }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&fa, p[0][0], 0);
    posix_spawn_file_actions_adddup2(&fa, p[1][1], 1);
    posix_spawn_file_actions_adddup2(&fa, p[2][1], 2);
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE); /* even if this program ignores it */
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    char *argv[] = {"sh", "-c", r->endpoint, NULL};
    int rc = posix_spawn(&ch->pid, "/bin/sh", &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(p[0][0]);
    close(p[1][1]);
    close(p[2][1]);
    ch->in = p[0][1];
    ch->out = p[1][0];
    ch->err = p[2][0];
    if (rc != 0) {
        ch->pid = 0;
        return foil_error(FOIL_ERR_REMOTE, "%s: cannot run /bin/sh: %s", r->endpoint, strerror(rc));
    }
    fcntl(ch->in, F_SETFL, O_NONBLOCK);
    fcntl(ch->out, F_SETFL, O_NONBLOCK);
    fcntl(ch->err, F_SETFL, O_NONBLOCK);
    return FOIL_OK;
}

/* Kill the child's whole process group (the shell and what it started),
 * reap it, close the pipes. */
static void end_child(child *ch)
{
    if (ch->pid > 0) {
        kill(-ch->pid, SIGKILL);
        while (waitpid(ch->pid, &ch->status, 0) < 0 && errno == EINTR) {
        }
        ch->pid = 0;
    }
    close_fd(&ch->in);
    close_fd(&ch->out);
    close_fd(&ch->err);
}

static void keep_tail(child *ch, const char *d, size_t n)
{
    if (n >= sizeof ch->tail) {
        memcpy(ch->tail, d + n - sizeof ch->tail, sizeof ch->tail);
        ch->tail_len = sizeof ch->tail;
        return;
    }
    if (ch->tail_len + n > sizeof ch->tail) {
        size_t drop = ch->tail_len + n - sizeof ch->tail;
        memmove(ch->tail, ch->tail + drop, ch->tail_len - drop);
        ch->tail_len -= drop;
    }
    memcpy(ch->tail + ch->tail_len, d, n);
    ch->tail_len += n;
}

/* Read what fd has; 0 at its end (closes it), 1 for more, -1 when resp
 * overflows. */
static int drain(int *fd, buf *resp, child *ch)
{
    char chunk[65536];
    for (;;) {
        ssize_t n = read(*fd, chunk, sizeof chunk);
        if (n > 0) {
            if (resp) {
                if (!buf_add(resp, chunk, (size_t)n)) return -1;
            } else {
                keep_tail(ch, chunk, (size_t)n);
            }
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 1;
        close_fd(fd); /* end of file, or an error that ends it too */
        return 0;
    }
}

/* Feed req to the child and collect its stdout until both outputs end, all
 * before the deadline. 0 done, 1 timed out, -1 the answer overflowed. */
static int exchange_pipes(child *ch, const buf *req, buf *resp, double deadline)
{
    size_t sent = 0;
    if (req->len == 0) close_fd(&ch->in);
    while (ch->out >= 0 || ch->err >= 0) {
        struct pollfd pf[3];
        int n = 0, i_in = -1, i_out = -1, i_err = -1;
        if (ch->in >= 0) i_in = n, pf[n++] = (struct pollfd){.fd = ch->in, .events = POLLOUT};
        if (ch->out >= 0) i_out = n, pf[n++] = (struct pollfd){.fd = ch->out, .events = POLLIN};
        if (ch->err >= 0) i_err = n, pf[n++] = (struct pollfd){.fd = ch->err, .events = POLLIN};
        double left = deadline - foil_now();
        if (left <= 0) return 1;
        int rc = poll(pf, (nfds_t)n, (int)ceil(left * 1000));
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) return 1;
        if (i_in >= 0 && pf[i_in].revents) {
            ssize_t w = write_nosigpipe(ch->in, req->p + sent, req->len - sent);
            if (w > 0) sent += (size_t)w;
            /* a command that stops reading early is judged by its answer and exit status */
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || sent == req->len) close_fd(&ch->in);
        }
        if (i_out >= 0 && pf[i_out].revents && drain(&ch->out, resp, ch) < 0) return -1;
        if (i_err >= 0 && pf[i_err].revents) drain(&ch->err, NULL, ch);
    }
    close_fd(&ch->in);
    /* the outputs ended: the child is exiting; wait for it, still to the deadline */
    for (;;) {
        pid_t w = waitpid(ch->pid, &ch->status, WNOHANG);
        if (w == ch->pid) {
            ch->pid = 0;
            return 0;
        }
        if (w < 0 && errno != EINTR) {
            ch->pid = 0;
            ch->status = 0;
            return 0;
        }
        if (foil_now() >= deadline) return 1;
        sleep_until(foil_now() + 0.001);
    }
}

/* The last non-empty line of the child's standard error, for a message. */
static const char *last_line(const child *ch, char *out, size_t cap)
{
    size_t end = ch->tail_len;
    while (end && (ch->tail[end - 1] == '\n' || ch->tail[end - 1] == '\r')) end--;
    size_t start = end;
    while (start && ch->tail[start - 1] != '\n') start--;
    return snippet(ch->tail + start, end - start, out, cap);
}

static foil_status command_exchange(FoilRemote *r, const buf *req, buf *resp, int *retry)
{
    child ch = {.in = -1, .out = -1, .err = -1};
    foil_status st = spawn_child(r, &ch);
    if (st) {
        end_child(&ch);
        return st;
    }
    int rc = exchange_pipes(&ch, req, resp, foil_now() + r->o.timeout_s);
    end_child(&ch);
    if (rc > 0) {
        *retry = 1;
        return foil_error(FOIL_ERR_REMOTE, "%s: no answer within %g s (timeout; the command was killed)", r->endpoint,
                          r->o.timeout_s);
    }
    if (rc < 0)
        return foil_error(FOIL_ERR_REMOTE, "%s: the answer is larger than %zu MiB", r->endpoint,
                          REMOTE_MAX_RESPONSE >> 20);
    char line[240];
    last_line(&ch, line, sizeof line);
    if (WIFSIGNALED(ch.status))
        return foil_error(FOIL_ERR_REMOTE, "%s: killed by signal %d%s%s", r->endpoint, WTERMSIG(ch.status),
                          *line ? ": " : "", line);
    if (WIFEXITED(ch.status) && WEXITSTATUS(ch.status) != 0) {
        *retry = WEXITSTATUS(ch.status) == REMOTE_EXIT_TEMPFAIL;
        return foil_error(FOIL_ERR_REMOTE, "%s: exited with status %d%s%s", r->endpoint, WEXITSTATUS(ch.status),
                          *line ? ": " : "", line);
    }
    return FOIL_OK;
}

/* ------------------------------------------------------------------------- */
/* requests                                                                  */

/* Wait for the rate limit, then mark the start of an attempt. */
static void rate_wait(FoilRemote *r)
{
    if (r->o.max_requests_per_s > 0 && r->last_start >= 0) {
        double next = r->last_start + 1.0 / r->o.max_requests_per_s;
        if (foil_now() < next) sleep_until(next);
    }
    r->last_start = foil_now();
    r->requests++;
}

/* One attempt: send req, check the answer, scores into *out (n x C). */
static foil_status attempt(FoilRemote *r, const buf *req, int64_t n, float **out, int64_t *c, int *retry)
{
    buf resp = {0};
    rate_wait(r);
    foil_status st = r->transport == FOIL_REMOTE_HTTP ? http_exchange(r, req, &resp, retry)
                                                      : command_exchange(r, req, &resp, retry);
    if (!st) {
        int json = r->transport == FOIL_REMOTE_HTTP && r->o.format == FOIL_REMOTE_JSON;
        st = json ? decode_json(r, &resp, n, out, c) : decode_npy(r, &resp, n, out, c);
    }
    buf_free(&resp);
    return st;
}

/* The scores of chunk (n examples) into *out (n x C, malloc'ed), retrying
 * what may pass another time. */
static foil_status query(FoilRemote *r, const foil_tensor *chunk, float **out, int64_t *c)
{
    buf req = {0};
    foil_status st = encode_request(r, chunk, &req);
    if (st) return st;
    double backoff = REMOTE_BACKOFF_FIRST_S;
    int tries = 0;
    for (;;) {
        int retry = 0;
        st = attempt(r, &req, chunk->shape[0], out, c, &retry);
        tries++;
        if (!st || !retry || tries > r->o.retries) break;
        sleep_until(foil_now() + backoff);
        backoff = fmin(2 * backoff, REMOTE_BACKOFF_MAX_S);
    }
    buf_free(&req);
    if (st && tries > 1) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", foil_last_error());
        foil_error(st, "%s (gave up after %d attempts)", msg, tries);
    }
    if (!st) r->classes = *c;
    return st;
}

static foil_status remote_predict(void *state, const foil_tensor *x, const uint64_t *seeds, foil_tensor *scores)
{
    (void)seeds; /* a remote model's randomness, if any, is its own */
    FoilRemote *r = state;
    int64_t shape[FOIL_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    const int ndim = x->ndim; /* the declared shape when one is (see foil_model_check_input) */
    /* JSON has no NaN, and no endpoint should be asked about one */
    foil_status st = foil_check_finite_examples(r->endpoint, x);
    if (st) return st;
    const int64_t n = x->shape[0], per = x->numel / n;
    int allocated = !scores->data;
    for (int64_t first = 0; first < n;) {
        int64_t count = n - first < r->o.max_batch ? n - first : r->o.max_batch;
        foil_tensor chunk = {0};
        shape[0] = count;
        if ((st = foil_tensor_set_shape(&chunk, FOIL_F32, ndim, shape))) return st;
        chunk.data = foil_f32(x) + first * per;
        float *rows = NULL;
        int64_t c = 0;
        st = query(r, &chunk, &rows, &c);
        if (!st && !scores->data) {
            int64_t sshape[2] = {n, c};
            st = foil_tensor_alloc(scores, FOIL_F32, 2, sshape);
        } else if (!st && (scores->ndim != 2 || scores->shape[0] != n || scores->shape[1] != c)) {
            char s[128];
            st = foil_error(FOIL_ERR_SHAPE, "%s: scores are %s for %lld examples of %lld classes", r->endpoint,
                            foil_shape_str(scores, s, sizeof s), (long long)n, (long long)c);
        }
        if (!st) memcpy(foil_f32(scores) + first * c, rows, (size_t)(count * c) * sizeof *rows);
        free(rows);
        if (st) {
            if (allocated) foil_tensor_free(scores); /* the caller gets nothing half-made to free */
            return st;
        }
        first += count;
    }
    return FOIL_OK;
}

/* Known after the first answer; before it, one query of a zero example of
 * the declared input. */
static foil_status remote_num_classes(void *state, int64_t *classes)
{
    FoilRemote *r = state;
    if (r->classes) {
        *classes = r->classes;
        return FOIL_OK;
    }
    int known = r->o.input_rank > 0;
    for (int d = 1; d < r->o.input_rank; d++) known &= r->shape[d] > 0;
    if (!known)
        return foil_error(FOIL_ERR_ARG, "%s: the number of classes is learned from a first query, which needs the "
                          "input shape: pass --input-shape (foil_remote_options.input_shape)", r->endpoint);
    int64_t shape[FOIL_MAX_DIMS];
    memcpy(shape, r->shape, sizeof shape);
    shape[0] = 1;
    foil_tensor x = {0}, scores = {0};
    foil_status st = foil_tensor_alloc(&x, FOIL_F32, r->o.input_rank, shape);
    if (!st) st = remote_predict(r, &x, NULL, &scores);
    foil_tensor_free(&x);
    foil_tensor_free(&scores);
    if (!st) *classes = r->classes;
    return st;
}

static void remote_set_max_batch(void *state, int64_t max_batch)
{
    FoilRemote *r = state;
    r->o.max_batch = max_batch > 0 ? max_batch : 1;
}

static const foil_model_ops remote_ops = {
    .kind = "remote",
    .predict = remote_predict,
    .input_grad = NULL,
    .num_classes = remote_num_classes,
    .set_max_batch = remote_set_max_batch,
    .destroy = remote_destroy,
};

const foil_model_ops *foilRemoteOps(void) { return &remote_ops; }

/* ------------------------------------------------------------------------- */
/* the public constructors                                                   */

static foil_status remote_model(int transport, const char *endpoint, const foil_remote_options *o, foil_model **out)
{
    *out = NULL;
    FoilRemote *r;
    foil_status st = foilRemoteNew(transport, endpoint, o, &r);
    if (st) return st;
    foil_model_desc d = foilRemoteDesc(r);
    return foil_model_create(&remote_ops, r, &d, out);
}

foil_status foil_model_remote_http(const char *url, const foil_remote_options *o, foil_model **out)
{
    return remote_model(FOIL_REMOTE_HTTP, url, o, out);
}

foil_status foil_model_remote_command(const char *command, const foil_remote_options *o, foil_model **out)
{
    return remote_model(FOIL_REMOTE_COMMAND, command, o, out);
}
