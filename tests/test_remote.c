/*
 * tests/test_remote.c - remote models (foil/remote.h): a classifier behind
 * HTTP or a command that foil can only query.
 *
 * tests/remote_server.c (FOIL_REMOTE_SERVER) serves the linear classifier
 * of remote_linear.c on 127.0.0.1, started here as a child per case, and
 * misbehaves on request (--mode). The checks: scores through HTTP JSON,
 * HTTP NPY and a command are bit-identical to the classifier computed here,
 * over batches split into several requests; every bad answer is
 * FOIL_ERR_REMOTE naming the endpoint and the problem; what is retried
 * passes or fails as it should; a slow endpoint costs no more than its
 * timeouts and backoff; the rate limit spaces requests.
 *
 * These tests drive the remote model's operations (foilRemoteOps)
 * directly, to see its request counts; the model interface around them
 * (foil_model_remote_http, counting, attacks through it) is tested end to
 * end by tests/test_attack_remote_cli.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "foil/progress.h"
#include "foil/remote.h"
#include "foil/tensor.h"
#include "model/remote_internal.h"
#include "remote_linear.h"

#define N_EXAMPLES 300

static const char *server_bin;
static char tmpdir[256];

/* ---- the server ---- */

typedef struct server {
    pid_t pid;
    int port;
    char url[64];
    char count_file[320];
} server;

/* remote_server --mode MODE [--count FILE] [--sleep S], its port read
 * from line 1 of its output. */
static void start_server(server *s, const char *mode, int count)
{
    memset(s, 0, sizeof *s);
    int p[2];
    assert_int_equal(pipe(p), 0);
    if (count) snprintf(s->count_file, sizeof s->count_file, "%s/count-%s", tmpdir, mode);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        /* a failed assertion longjmps past stop_server: the server must not outlive the test */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        if (count) execl(server_bin, server_bin, "--mode", mode, "--count", s->count_file, (char *)NULL);
        else execl(server_bin, server_bin, "--mode", mode, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    assert_non_null(f);
    int got = fscanf(f, "%d", &s->port);
    fclose(f);
    assert_int_equal(got, 1);
    assert_true(s->port > 0);
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d/predict", s->port);
}

static void stop_server(server *s)
{
    if (s->pid <= 0) return;
    kill(s->pid, SIGTERM);
    int status;
    while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR) {
    }
    s->pid = 0;
}

/* "requests R examples E" from a server started with count. */
static void read_counts(const server *s, long *requests, long *examples)
{
    FILE *f = fopen(s->count_file, "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "requests %ld examples %ld", requests, examples), 2);
    fclose(f);
}

/* ---- models and data ---- */

static FoilRemote *make(int transport, const char *endpoint, foil_remote_options *o)
{
    FoilRemote *r = NULL;
    foil_status st = foilRemoteNew(transport, endpoint, o, &r);
    if (st) print_error("%s\n", foil_last_error());
    assert_int_equal(st, FOIL_OK);
    return r;
}

static void release(FoilRemote *r) { foilRemoteOps()->destroy(r); }

/* n examples (n, 1, 8, 8) of arbitrary floats: every mantissa bit in use,
 * so a lossy encoding would show. */
static void make_inputs(foil_tensor *x, int64_t n)
{
    int64_t shape[4] = {n, 1, 8, 8};
    assert_int_equal(foil_tensor_alloc(x, FOIL_F32, 4, shape), FOIL_OK);
    uint64_t s = 12345;
    for (int64_t i = 0; i < x->numel; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        foil_f32(x)[i] = ((float)(s >> 40) / 16777216.0f - 0.5f) * 6.0f;
    }
}

static foil_status predict(FoilRemote *r, const foil_tensor *x, foil_tensor *scores)
{
    memset(scores, 0, sizeof *scores);
    return foilRemoteOps()->predict(r, x, NULL, scores);
}

/* The scores through r equal the classifier's, bit for bit. */
static void check_scores(FoilRemote *r, int64_t n)
{
    foil_tensor x, scores;
    make_inputs(&x, n);
    foil_status st = predict(r, &x, &scores);
    if (st) print_error("%s\n", foil_last_error());
    assert_int_equal(st, FOIL_OK);
    assert_int_equal(scores.ndim, 2);
    assert_int_equal(scores.shape[0], n);
    assert_int_equal(scores.shape[1], REMOTE_LINEAR_CLASSES);
    float *want = malloc((size_t)n * REMOTE_LINEAR_CLASSES * sizeof *want);
    remote_linear_scores(foil_f32(&x), n, want);
    assert_memory_equal(foil_f32(&scores), want, (size_t)n * REMOTE_LINEAR_CLASSES * sizeof *want);
    free(want);
    foil_tensor_free(&x);
    foil_tensor_free(&scores);
}

/* A query of n examples fails with FOIL_ERR_REMOTE and a message holding
 * every one of the NULL-terminated strings. */
static void expect_failure(FoilRemote *r, int64_t n, ...)
{
    foil_tensor x, scores;
    make_inputs(&x, n);
    foil_status st = predict(r, &x, &scores);
    const char *msg = foil_last_error();
    if (st != FOIL_ERR_REMOTE) print_error("status %d: %s\n", st, msg);
    assert_int_equal(st, FOIL_ERR_REMOTE);
    assert_null(scores.data);
    va_list ap;
    va_start(ap, n);
    for (const char *want; (want = va_arg(ap, const char *));) {
        if (!strstr(msg, want)) print_error("message \"%s\" lacks \"%s\"\n", msg, want);
        assert_non_null(strstr(msg, want));
    }
    va_end(ap);
    foil_tensor_free(&x);
}

static foil_remote_options options(int format, int retries)
{
    foil_remote_options o;
    foil_remote_options_default(&o);
    o.format = format;
    o.retries = retries;
    o.timeout_s = 5;
    return o;
}

/* ---- (a) scores through every transport ---- */

static void http_scores(int format)
{
    server s;
    start_server(&s, "ok", 1);
    foil_remote_options o = options(format, 0);
    o.max_batch = 128;
    FoilRemote *r = make(FOIL_REMOTE_HTTP, s.url, &o);
    check_scores(r, N_EXAMPLES);
    assert_int_equal(foilRemoteRequests(r), 3); /* 128 + 128 + 44 */
    int64_t classes = 0;
    assert_int_equal(foilRemoteOps()->num_classes(r, &classes), FOIL_OK);
    assert_int_equal(classes, REMOTE_LINEAR_CLASSES);
    assert_int_equal(foilRemoteRequests(r), 3); /* known from the answers: no query */
    release(r);
    stop_server(&s);
    long requests, examples;
    read_counts(&s, &requests, &examples);
    assert_int_equal(requests, 3);
    assert_int_equal(examples, N_EXAMPLES);
}

static void test_http_json_scores(void **state)
{
    (void)state;
    http_scores(FOIL_REMOTE_JSON);
}

static void test_http_npy_scores(void **state)
{
    (void)state;
    http_scores(FOIL_REMOTE_NPY);
}

static void command_for(char *cmd, size_t cap, const char *mode)
{
    snprintf(cmd, cap, "'%s' --stdin --mode %s", server_bin, mode);
}

static void test_command_scores(void **state)
{
    (void)state;
    char cmd[600];
    command_for(cmd, sizeof cmd, "ok");
    foil_remote_options o = options(FOIL_REMOTE_JSON, 0); /* ignored: commands speak NPY */
    o.max_batch = 128;
    FoilRemote *r = make(FOIL_REMOTE_COMMAND, cmd, &o);
    check_scores(r, N_EXAMPLES);
    assert_int_equal(foilRemoteRequests(r), 3);
    release(r);
}

/* num_classes before any answer: one query of the declared input, or an
 * error that says to declare it. */
static void test_num_classes(void **state)
{
    (void)state;
    char cmd[600];
    command_for(cmd, sizeof cmd, "ok");
    foil_remote_options o = options(FOIL_REMOTE_NPY, 0);
    FoilRemote *r = make(FOIL_REMOTE_COMMAND, cmd, &o);
    int64_t classes = 0;
    assert_int_equal(foilRemoteOps()->num_classes(r, &classes), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "--input-shape"));
    assert_non_null(strstr(foil_last_error(), cmd));
    release(r);

    const int64_t declared[4] = {-1, 1, 8, 8};
    o.input_rank = 4;
    o.input_shape = declared;
    r = make(FOIL_REMOTE_COMMAND, cmd, &o);
    assert_int_equal(foilRemoteOps()->num_classes(r, &classes), FOIL_OK);
    assert_int_equal(classes, REMOTE_LINEAR_CLASSES);
    assert_int_equal(foilRemoteRequests(r), 1);
    release(r);
}

/* The declared input decides what fits; (N, 64) goes out as (N, 1, 8, 8). */
static void test_declared_input(void **state)
{
    (void)state;
    server s;
    start_server(&s, "ok", 0);
    const int64_t declared[4] = {-1, 1, 8, 8};
    foil_remote_options o = options(FOIL_REMOTE_JSON, 0);
    o.input_rank = 4;
    o.input_shape = declared;
    /* through the model interface, which applies the declared input */
    foil_model *m;
    assert_int_equal(foil_model_remote_http(s.url, &o, &m), FOIL_OK);
    FoilRemote *r = foil_model_state(m);
    foil_tensor x, flat, scores = {0};
    make_inputs(&x, 5);
    int reshaped = -1;
    assert_int_equal(foil_model_check_input(m, &x, &reshaped), FOIL_OK);
    assert_int_equal(reshaped, 0);
    flat = x;
    flat.ndim = 2;
    flat.shape[1] = 64;
    assert_int_equal(foil_model_check_input(m, &flat, &reshaped), FOIL_OK);
    assert_int_equal(reshaped, 1);
    assert_int_equal(foil_model_predict(m, &flat, &scores), FOIL_OK);
    assert_int_equal(scores.shape[0], 5);
    foil_tensor_free(&scores);
    flat.shape[1] = 32;
    flat.ndim = 3;
    flat.shape[2] = 2;
    assert_int_equal(foil_model_check_input(m, &flat, &reshaped), FOIL_OK); /* 64 values still */
    flat.shape[0] = 10;
    flat.shape[1] = 16;
    assert_int_equal(foil_model_check_input(m, &flat, &reshaped), FOIL_ERR_SHAPE);
    assert_non_null(strstr(foil_last_error(), s.url));

    foil_model_desc d = foilRemoteDesc(r);
    assert_string_equal(d.name, s.url);
    assert_int_equal(d.capabilities, FOIL_MODEL_SCORES);
    assert_int_equal(d.input_rank, 4);
    assert_null(foilRemoteOps()->input_grad);
    assert_string_equal(foil_model_kind(m), "remote");
    assert_int_equal(foil_model_queries(m), 5);
    foil_model_free(m);
    foil_tensor_free(&x);
    stop_server(&s);
}

/* ---- (b) failures ---- */

/* A server in mode, queried with n examples, fails naming it and what. */
static void http_failure(const char *mode, int format, int retries, int64_t n, const char *what, const char *what2)
{
    server s;
    start_server(&s, mode, 0);
    foil_remote_options o = options(format, retries);
    FoilRemote *r = make(FOIL_REMOTE_HTTP, s.url, &o);
    expect_failure(r, n, s.url, what, what2, (const char *)NULL);
    release(r);
    stop_server(&s);
}

static void test_http_bad_answers(void **state)
{
    (void)state;
    http_failure("garbage", FOIL_REMOTE_JSON, 0, 4, "response is not JSON", "<html>");
    http_failure("garbage", FOIL_REMOTE_NPY, 0, 4, "not a NumPy .npy", NULL);
    http_failure("wrong-shape", FOIL_REMOTE_JSON, 0, 8, "response has 7 rows for a request of 8 examples", NULL);
    http_failure("wrong-shape", FOIL_REMOTE_NPY, 0, 8, "response has 7 rows for a request of 8 examples", NULL);
    http_failure("ragged", FOIL_REMOTE_JSON, 0, 8, "row 7 has 11 scores, row 0 has 10", NULL);
    http_failure("nan", FOIL_REMOTE_JSON, 0, 3, "row 0, class 0 is infinite", NULL);
    http_failure("nan", FOIL_REMOTE_NPY, 0, 3, "row 0, class 0 is NaN", NULL);
    http_failure("f64", FOIL_REMOTE_NPY, 0, 3, "float64", "float32");
    http_failure("truncated", FOIL_REMOTE_NPY, 0, 3, "truncated", NULL);
    http_failure("status500", FOIL_REMOTE_JSON, 0, 3, "HTTP status 500", "on purpose");
    http_failure("status500", FOIL_REMOTE_JSON, 1, 3, "HTTP status 500", "gave up after 2 attempts");
    http_failure("close", FOIL_REMOTE_JSON, 1, 3, "request failed", "gave up after 2 attempts");
}

/* The class count is fixed by the first answer. */
static void test_http_class_drift(void **state)
{
    (void)state;
    server s;
    start_server(&s, "drift", 0);
    foil_remote_options o = options(FOIL_REMOTE_NPY, 0);
    o.max_batch = 4;
    FoilRemote *r = make(FOIL_REMOTE_HTTP, s.url, &o);
    expect_failure(r, 8, s.url, "response has 11 classes, earlier responses had 10", (const char *)NULL);
    assert_int_equal(foilRemoteRequests(r), 2);
    release(r);
    stop_server(&s);
}

static void test_http_unreachable(void **state)
{
    (void)state;
    server s;
    start_server(&s, "ok", 0);
    stop_server(&s); /* its port is closed now */
    foil_remote_options o = options(FOIL_REMOTE_JSON, 0);
    FoilRemote *r = make(FOIL_REMOTE_HTTP, s.url, &o);
    expect_failure(r, 2, s.url, "request failed", (const char *)NULL);
    release(r);
}

/* flaky=K: K answers of 503, then good ones. */
static void test_http_retries(void **state)
{
    (void)state;
    server s;
    start_server(&s, "flaky=2", 0);
    foil_remote_options o = options(FOIL_REMOTE_JSON, 3);
    FoilRemote *r = make(FOIL_REMOTE_HTTP, s.url, &o);
    double t0 = foil_now();
    check_scores(r, 10);
    double took = foil_now() - t0;
    assert_int_equal(foilRemoteRequests(r), 3);
    assert_true(took >= 0.25 + 0.5 - 0.01); /* the backoff */
    release(r);
    stop_server(&s);

    start_server(&s, "flaky=5", 0);
    r = make(FOIL_REMOTE_HTTP, s.url, &o);
    expect_failure(r, 10, s.url, "HTTP status 503", "gave up after 4 attempts", (const char *)NULL);
    assert_int_equal(foilRemoteRequests(r), 4);
    release(r);
    stop_server(&s);
}

/* A server slower than the timeout: two attempts of 0.5 s and a 0.25 s
 * backoff, then an error, not a hang. */
static void test_http_timeout(void **state)
{
    (void)state;
    server s;
    start_server(&s, "slow", 0);
    foil_remote_options o = options(FOIL_REMOTE_JSON, 1);
    o.timeout_s = 0.5;
    FoilRemote *r = make(FOIL_REMOTE_HTTP, s.url, &o);
    double t0 = foil_now();
    expect_failure(r, 2, s.url, "no response within 0.5 s", "gave up after 2 attempts", (const char *)NULL);
    double took = foil_now() - t0;
    assert_true(took >= 2 * 0.5);
    assert_true(took < 2 * 0.5 + 0.25 + 2.0);
    release(r);
    stop_server(&s);
}

static void command_failure(const char *mode, int64_t n, const char *what, const char *what2)
{
    char cmd[600];
    command_for(cmd, sizeof cmd, mode);
    foil_remote_options o = options(FOIL_REMOTE_NPY, 0);
    FoilRemote *r = make(FOIL_REMOTE_COMMAND, cmd, &o);
    expect_failure(r, n, cmd, what, what2, (const char *)NULL);
    release(r);
}

static void test_command_bad_answers(void **state)
{
    (void)state;
    command_failure("garbage", 4, "not a NumPy .npy", NULL);
    command_failure("wrong-shape", 8, "response has 7 rows for a request of 8 examples", NULL);
    command_failure("nan", 3, "row 0, class 0 is NaN", NULL);
    command_failure("truncated", 3, "truncated", NULL);
    command_failure("exit-nonzero", 3, "exited with status 3", "remote_server: refusing on purpose");

    foil_remote_options o = options(FOIL_REMOTE_NPY, 0);
    FoilRemote *r = make(FOIL_REMOTE_COMMAND, "/nonexistent/foil-model", &o);
    expect_failure(r, 1, "/nonexistent/foil-model", "exited with status 127", (const char *)NULL);
    release(r);
}

/* A command slower than the timeout is killed (with what it started) and
 * reaped; one attempt, no retries. */
static void test_command_timeout(void **state)
{
    (void)state;
    char cmd[600];
    command_for(cmd, sizeof cmd, "slow");
    foil_remote_options o = options(FOIL_REMOTE_NPY, 0);
    o.timeout_s = 0.5;
    FoilRemote *r = make(FOIL_REMOTE_COMMAND, cmd, &o);
    double t0 = foil_now();
    expect_failure(r, 2, cmd, "no answer within 0.5 s", "killed", (const char *)NULL);
    double took = foil_now() - t0;
    assert_true(took >= 0.5);
    assert_true(took < 0.5 + 2.0);
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* no child left behind */
    assert_int_equal(errno, ECHILD);
    release(r);
}

/* ---- (c) the rate limit ---- */

static void test_rate_limit(void **state)
{
    (void)state;
    server s;
    start_server(&s, "ok", 0);
    foil_remote_options o = options(FOIL_REMOTE_NPY, 0);
    o.max_requests_per_s = 20;
    o.max_batch = 1;
    FoilRemote *r = make(FOIL_REMOTE_HTTP, s.url, &o);
    double t0 = foil_now();
    check_scores(r, 10);
    double took = foil_now() - t0;
    assert_int_equal(foilRemoteRequests(r), 10);
    assert_true(took >= 0.45); /* nine gaps of 1/20 s */
    release(r);
    stop_server(&s);
}

/* ---- options ---- */

static void test_bad_options(void **state)
{
    (void)state;
    foil_remote_options o;
    foil_remote_options_default(&o);
    assert_true(o.timeout_s == 30);
    assert_int_equal(o.retries, 3);
    assert_int_equal(o.max_batch, 256);
    foil_model *m = (foil_model *)&o;
    assert_int_equal(foil_model_remote_http("ftp://example/x", &o, &m), FOIL_ERR_ARG);
    assert_null(m);
    assert_non_null(strstr(foil_last_error(), "ftp://example/x"));
    o.timeout_s = 0;
    assert_int_equal(foil_model_remote_http("http://127.0.0.1:1/", &o, &m), FOIL_ERR_ARG);
    foil_remote_options_default(&o);
    o.returns = FOIL_OUTPUT_TOP_K;
    assert_int_equal(foil_model_remote_command("true", &o, &m), FOIL_ERR_ARG);
    foil_remote_options_default(&o);
    o.max_batch = 0;
    assert_int_equal(foil_model_remote_command("true", &o, &m), FOIL_ERR_ARG);
    assert_int_equal(foil_model_remote_command("", NULL, &m), FOIL_ERR_ARG);

    foil_remote_options_default(&o);
    o.returns = FOIL_OUTPUT_PROBABILITIES;
    FoilRemote *r = make(FOIL_REMOTE_COMMAND, "true", &o);
    assert_int_equal(foilRemoteDesc(r).capabilities, FOIL_MODEL_SCORES | FOIL_MODEL_PROBABILITIES);
    release(r);
    o.returns = FOIL_OUTPUT_LABELS;
    r = make(FOIL_REMOTE_COMMAND, "true", &o);
    assert_int_equal(foilRemoteDesc(r).capabilities, 0);
    release(r);
}

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/foil_remote_XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    server_bin = getenv("FOIL_REMOTE_SERVER");
    if (!server_bin || access(server_bin, X_OK) != 0) {
        fprintf(stderr, "test_remote: FOIL_REMOTE_SERVER (tests/remote_server) is not set or not executable; "
                        "skipping\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_json_scores),   cmocka_unit_test(test_http_npy_scores),
        cmocka_unit_test(test_command_scores),     cmocka_unit_test(test_num_classes),
        cmocka_unit_test(test_declared_input),     cmocka_unit_test(test_http_bad_answers),
        cmocka_unit_test(test_http_class_drift),   cmocka_unit_test(test_http_unreachable),
        cmocka_unit_test(test_http_retries),       cmocka_unit_test(test_http_timeout),
        cmocka_unit_test(test_command_bad_answers), cmocka_unit_test(test_command_timeout),
        cmocka_unit_test(test_rate_limit),         cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
