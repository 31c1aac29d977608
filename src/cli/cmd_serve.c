/*
 * cli/cmd_serve.c - `foil serve`: one ONNX model behind HTTP, with API keys,
 * limits, batching, metrics and an audit log (foil/serve.h,
 * docs/serve-api.md). Built only where libmicrohttpd and SQLite were found
 * (FOIL_HAVE_SERVE); elsewhere the command says what to install.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#ifdef FOIL_HAVE_SERVE
#include <pthread.h>
#include "foil/data.h"
#include "foil/model.h"
#include "foil/serve.h"
#endif

static int run_serve(int argc, char **argv);

const cli_command cli_serve = {
    "serve", "serve a model over HTTP: API keys, limits, batching, metrics, audit log",
    "--model M.onnx (--keys FILE | --no-auth) [--audit AUDIT.db] [--port N] [options]\n"
    "       foil serve --keys FILE --add-key NAME",
    "Serves the ONNX classifier M at http://HOST:PORT/v1/predict in the JSON and NPY\n"
    "formats of docs/remote-protocol.md (so foil attack --endpoint works against it),\n"
    "with /v1/health and /v1/metrics (Prometheus); the API is in docs/serve-api.md.\n"
    "Requests carry 'Authorization: Bearer KEY'; --add-key NAME prints a new key once\n"
    "and stores only its hash in the keys file. Each key has token-bucket rate limits\n"
    "(--rate requests/s, --examples-rate examples/s) and a --budget of examples in all;\n"
    "a keys-file line may set its own. Concurrent requests are batched into one\n"
    "forward pass (--max-batch examples, waiting at most --max-wait ms). With --audit,\n"
    "every answered request is a row of an SQLite database (WAL), committed before\n"
    "the answer is sent (--audit-sync full survives power loss, normal a process\n"
    "kill). --monitor prada watches each key's query stream for model extraction\n"
    "(PRADA, Juuti et al. 2019); --monitor drift compares windows of the traffic with\n"
    "--reference DATA (the training distribution); alarms go to the audit log and to\n"
    "/v1/metrics. The first line on stdout says where it listens (--port 0: a free port).\n"
    "SIGTERM or SIGINT stops it gracefully.",
    run_serve,
    0,
};

#ifndef FOIL_HAVE_SERVE
static int run_serve(int argc, char **argv)
{
    (void)argc, (void)argv;
    fprintf(stderr, "foil serve: this foil was built without the server (install libmicrohttpd-dev and "
                    "libsqlite3-dev, e.g. with scripts/install-deps.sh, and rebuild)\n");
    return CLI_RUNTIME_ERROR;
}
#else
static int add_key(const char *keys, const char *name)
{
    if (!keys) return cli_usage_error(&cli_serve, "--add-key needs --keys FILE, where its hash is stored");
    char key[FOIL_SERVE_KEY_CHARS];
    foil_status st = foil_serve_add_key(keys, name, key, sizeof key);
    if (st == FOIL_ERR_ARG) return cli_usage_error(&cli_serve, "%s", foil_last_error());
    if (st) return cli_fail(&cli_serve, st);
    fprintf(stderr, "foil serve: added key '%s' to %s; it is shown once, only its hash is kept:\n", name, keys);
    printf("%s\n", key);
    return CLI_OK;
}

/* The reference of the drift monitor: at most this many examples of DATA
 * (the train split of a built-in dataset, a file whole), and the model's
 * logits on them. */
enum { REFERENCE_MAX = 10000 };

static int add_monitors(const char *spec, const char *reference, const char *model, foil_serve_options *o)
{
    int prada = 0, drift = 0;
    foil_prada_options po;
    foil_drift_options dro;
    if (foil_serve_monitors_parse(spec, &prada, &po, &drift, &dro))
        return cli_usage_error(&cli_serve, "%s", foil_last_error());
    if (drift && !reference) return cli_usage_error(&cli_serve, "--monitor drift needs --reference DATA");
    if (!drift && reference) return cli_usage_error(&cli_serve, "--reference is for --monitor drift");
    if (prada && foil_serve_monitor_prada(&po, &o->monitors[o->n_monitors++]))
        return cli_fail(&cli_serve, FOIL_ERR_ARG);
    if (!drift) return CLI_OK;
    foil_data_spec ds = {0};
    ds.data = reference;
    foil_dataset ref = {0};
    foil_model *m = NULL;
    foil_tensor x = {0}, z = {0};
    foil_status st = foil_data_load(&ds, foil_data_is_builtin(reference) ? FOIL_SPLIT_TRAIN : FOIL_SPLIT_ALL, &ref);
    if (!st) st = foil_model_load(model, &m);
    if (!st) {
        x = ref.x;
        x.owns_data = 0;
        if (x.shape[0] > REFERENCE_MAX) x.shape[0] = REFERENCE_MAX, x.numel = REFERENCE_MAX * foil_dataset_example_size(&ref);
        st = foil_model_predict(m, &x, &z);
    }
    if (!st) {
        const int64_t n = x.shape[0], d = foil_dataset_example_size(&ref), c = z.shape[1];
        st = foil_serve_monitor_drift(&dro, foil_f32(&x), foil_f32(&z), n, d, c, &o->monitors[o->n_monitors]);
        if (!st) o->n_monitors++;
    }
    foil_tensor_free(&z);
    foil_model_free(m);
    foil_dataset_free(&ref);
    if (st) {
        for (int i = 0; i < o->n_monitors; i++)
            if (o->monitors[i].destroy) o->monitors[i].destroy(o->monitors[i].ctx);
        o->n_monitors = 0;
        return cli_fail(&cli_serve, st);
    }
    return CLI_OK;
}

static int run_serve(int argc, char **argv)
{
    foil_serve_options o;
    foil_serve_options_default(&o);
    const char *model = NULL, *add = NULL, *output_mode = NULL, *sync = NULL, *monitor = NULL, *reference = NULL;
    int64_t port = o.port, max_examples = o.max_examples, max_batch = o.max_batch, budget = 0;
    int64_t max_body = (int64_t)o.max_body, max_conn = o.max_connections, max_ip = o.max_per_ip, timeout = o.timeout_s;
    int64_t threads = o.threads;
    double rate = 0, examples_rate = 0, max_wait = o.max_wait_ms;
    cli_option opts[] = {
        {"--model", OPT_STRING, &model, "FILE", "ONNX classifier to serve", 0, 0},
        {"--keys", OPT_STRING, &o.keys_path, "FILE", "API keys (hashes); made by --add-key", 0, 0},
        {"--add-key", OPT_STRING, &add, "NAME", "add a key to --keys, print it once, and exit", 0, 0},
        {"--no-auth", OPT_FLAG, &o.no_auth, NULL, "serve without keys (anyone who can connect)", 0, 0},
        {"--audit", OPT_STRING, &o.audit_path, "FILE", "SQLite audit log (WAL), one row per answered request", 0, 0},
        {"--audit-sync", OPT_STRING, &sync, "MODE", "full (default: survives power loss) or normal (a process kill)",
         0, 0},
        {"--host", OPT_STRING, &o.host, "ADDR", "address to listen on (default 127.0.0.1)", 0, 0},
        {"--port", OPT_INT, &port, "N", "port (default 8080; 0: any free port)", 0, 0},
        {"--output-mode", OPT_STRING, &output_mode, "MODE",
         "what a query returns: logits (default), probabilities, top-k=K, round=D, labels, reverse-sigmoid[=B,G], "
         "noise=S", 0, 0},
        {"--rate", OPT_FLOAT, &rate, "R", "requests per second per key (token bucket; 0: no limit)", 0, 0},
        {"--examples-rate", OPT_FLOAT, &examples_rate, "E", "examples per second per key (0: no limit)", 0, 0},
        {"--budget", OPT_INT, &budget, "N", "examples per key in all, across restarts with --audit (0: none)", 0, 0},
        {"--max-body", OPT_INT, &max_body, "BYTES", "largest request body (default 8 MiB): 413 beyond", 0, 0},
        {"--max-examples", OPT_INT, &max_examples, "N", "examples per request (default 256): 413 beyond", 0, 0},
        {"--max-batch", OPT_INT, &max_batch, "N", "examples per forward pass (default 64)", 0, 0},
        {"--max-wait", OPT_FLOAT, &max_wait, "MS", "longest wait for a batch to fill (default 2 ms)", 0, 0},
        {"--max-connections", OPT_INT, &max_conn, "N", "open connections in all (default 512)", 0, 0},
        {"--max-per-ip", OPT_INT, &max_ip, "N", "open connections per client address (default 128; 0: no limit)", 0,
         0},
        {"--timeout", OPT_INT, &timeout, "S", "close a connection idle this long (default 10 s)", 0, 0},
        {"--tls-cert", OPT_STRING, &o.tls_cert, "PEM", "serve HTTPS with this certificate (and --tls-key)", 0, 0},
        {"--tls-key", OPT_STRING, &o.tls_key, "PEM", "the certificate's private key", 0, 0},
        {"--http-threads", OPT_INT, &threads, "N", "HTTP threads (default 2)", 0, 0},
        {"--monitor", OPT_STRING, &monitor, "SPEC",
         "prada[:delta=0.9,min=100,max-stored=10000], drift[:window=500,alpha=0.01], or both comma-separated", 0, 0},
        {"--reference", OPT_STRING, &reference, "DATA",
         "the drift monitor's reference: the training data (train split of a built-in; first 10,000)", 0, 0},
    };
    cli_common common;
    int rc = cli_parse(&cli_serve, argc, argv, opts, sizeof opts / sizeof opts[0], &common);
    if (rc) return rc;
    if (add) return add_key(o.keys_path, add);
    if (!model) return cli_usage_error(&cli_serve, "--model is required (or --add-key NAME with --keys)");
    if (output_mode && foil_output_parse(output_mode, &o.output))
        return cli_usage_error(&cli_serve, "--output-mode: %s", foil_last_error());
    if (sync && strcmp(sync, "full") != 0 && strcmp(sync, "normal") != 0)
        return cli_usage_error(&cli_serve, "--audit-sync must be full or normal, not '%s'", sync);
    if (port < 0 || port > 65535) return cli_usage_error(&cli_serve, "--port must be 0 to 65535");
    if (max_conn < 1 || max_conn > 100000 || max_ip < 0 || max_ip > 100000 || timeout < 1 || timeout > 3600 ||
        max_body < 64 || max_examples < 1 || max_batch < 1)
        return cli_usage_error(&cli_serve, "a limit is out of range (see foil serve --help)");
    o.audit_sync_full = !sync || strcmp(sync, "full") == 0;
    o.port = (int)port;
    o.requests_per_s = rate;
    o.examples_per_s = examples_rate;
    o.budget = budget;
    o.max_body = (size_t)max_body;
    o.max_examples = max_examples;
    o.max_batch = max_batch;
    o.max_wait_ms = max_wait;
    o.max_connections = (unsigned)max_conn;
    o.max_per_ip = (unsigned)max_ip;
    o.timeout_s = (unsigned)timeout;
    o.threads = (int)threads;
    cli_apply_common(&common);
    if (reference && !monitor) return cli_usage_error(&cli_serve, "--reference is for --monitor drift");
    if (monitor) {
        rc = add_monitors(monitor, reference, model, &o);
        if (rc) return rc;
    }

    /* SIGTERM and SIGINT are taken by sigwait below, never by a server thread */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    foil_server *s;
    foil_status st = foil_serve_start(model, &o, &s);
    if (st == FOIL_ERR_ARG) return cli_usage_error(&cli_serve, "%s", foil_last_error());
    if (st) return cli_fail(&cli_serve, st);
    printf("foil serve: serving %s on %s://%s:%d/v1/predict\n", model, o.tls_cert ? "https" : "http", o.host,
           foil_serve_port(s));
    fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    if (!common.quiet) fprintf(stderr, "foil serve: %s: answering what is in flight, then stopping\n", strsignal(sig));
    foil_serve_stop(s);
    return CLI_OK;
}
#endif
