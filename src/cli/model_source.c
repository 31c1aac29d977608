/*
 * cli/model_source.c - where a command's model comes from: an ONNX file
 * (--model), an HTTP endpoint (--endpoint) or a local command (--command),
 * with the remote client's settings (--remote-format, --remote-returns,
 * --timeout, --retries, --rate-limit, --input-shape, --ca-cert), and an --endpoint's
 * API key from the environment: FOIL_API_KEY, or the first line of the file
 * FOIL_API_KEY_FILE names (never an option: a command line is visible to
 * every user of the machine).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "foil/remote.h"

/* --input-shape D1,D2,... (one example's shape) into shape[1..], shape[0]
 * = -1 (any batch). */
static int parse_input_shape(const cli_command *cmd, const char *text, int64_t *shape, int *rank)
{
    *rank = 1;
    shape[0] = -1;
    const char *s = text;
    for (;;) {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (end == s || errno || v < 1 || v > (1LL << 31) || *rank == FOIL_MAX_DIMS)
            return cli_usage_error(cmd, "--input-shape expects one example's dimensions, positive and comma-separated "
                                   "(e.g. 1,28,28), got '%s'", text);
        shape[(*rank)++] = v;
        if (*end == '\0') return CLI_OK;
        if (*end != ',') return cli_usage_error(cmd, "--input-shape: unexpected '%c' in '%s'", *end, text);
        s = end + 1;
    }
}

static int parse_returns(const cli_command *cmd, const char *text, foil_output_mode *mode)
{
    if (!text || strcmp(text, "logits") == 0) *mode = FOIL_OUTPUT_LOGITS;
    else if (strcmp(text, "probabilities") == 0) *mode = FOIL_OUTPUT_PROBABILITIES;
    else if (strcmp(text, "labels") == 0) *mode = FOIL_OUTPUT_LABELS;
    else return cli_usage_error(cmd, "--remote-returns must be logits, probabilities or labels, not '%s'", text);
    return CLI_OK;
}

/* The API key an --endpoint sends (foil serve's): $FOIL_API_KEY, or the
 * first line of the file $FOIL_API_KEY_FILE; NULL when neither is set. */
static int api_key(const cli_command *cmd, char *buf, size_t cap, const char **key)
{
    *key = NULL;
    const char *env = getenv("FOIL_API_KEY"), *file = getenv("FOIL_API_KEY_FILE");
    if (env && *env) {
        *key = env;
        return CLI_OK;
    }
    if (!file || !*file) return CLI_OK;
    FILE *f = fopen(file, "r");
    if (!f) return cli_usage_error(cmd, "FOIL_API_KEY_FILE: cannot read %s: %s", file, strerror(errno));
    int got = fgets(buf, (int)cap, f) != NULL;
    fclose(f);
    buf[got ? strcspn(buf, "\r\n") : 0] = '\0';
    if (!*buf) return cli_usage_error(cmd, "FOIL_API_KEY_FILE: %s has no key on its first line", file);
    *key = buf;
    return CLI_OK;
}

static int remote_options(const cli_command *cmd, const cli_model_source *src, foil_remote_options *o,
                          int64_t *shape, char *key_buf, size_t key_cap)
{
    foil_remote_options_default(o);
    int rc = parse_returns(cmd, src->returns, &o->returns);
    if (rc) return rc;
    if (src->format && strcmp(src->format, "json") == 0) o->format = FOIL_REMOTE_JSON;
    else if (src->format && strcmp(src->format, "npy") == 0) o->format = FOIL_REMOTE_NPY;
    else if (src->format) return cli_usage_error(cmd, "--remote-format must be json or npy, not '%s'", src->format);
    if (src->timeout_s != 0) o->timeout_s = src->timeout_s;
    if (src->retries >= 0) o->retries = (int)src->retries;
    o->max_requests_per_s = src->rate_limit;
    if (src->input_shape && (rc = parse_input_shape(cmd, src->input_shape, shape, &o->input_rank))) return rc;
    o->input_shape = src->input_shape ? shape : NULL;
    if (src->ca_cert && !(src->endpoint && strncmp(src->endpoint, "https://", 8) == 0))
        return cli_usage_error(cmd, "--ca-cert is for an https:// --endpoint");
    o->ca_file = src->ca_cert;
    if (src->endpoint && (rc = api_key(cmd, key_buf, key_cap, &o->api_key))) return rc;
    return CLI_OK;
}

foil_status cli_load_model_list(const char *list, foil_model **members, int *n)
{
    char *copy = strdup(list), *save = NULL;
    foil_status st = copy ? FOIL_OK : foil_error(FOIL_ERR_NOMEM, "out of memory");
    for (char *path = copy ? strtok_r(copy, ",", &save) : NULL; path && !st; path = strtok_r(NULL, ",", &save)) {
        if (*n == FOIL_ENSEMBLE_MAX) st = foil_error(FOIL_ERR_ARG, "--ensemble: at most %d models in all", FOIL_ENSEMBLE_MAX);
        else if (!(st = foil_model_load(path, &members[*n]))) (*n)++;
    }
    free(copy);
    return st;
}

/* *model (loaded from --model) and the comma-separated files of list, as
 * one ensemble. */
static int open_ensemble(const cli_command *cmd, const char *list, foil_model **model)
{
    foil_model *members[FOIL_ENSEMBLE_MAX] = {*model};
    int n = 1;
    *model = NULL;
    foil_status st = cli_load_model_list(list, members, &n);
    if (!st) { /* the ensemble owns the members from here, also when it fails */
        st = foil_model_ensemble(members, n, model);
        return st ? cli_fail(cmd, st) : CLI_OK;
    }
    for (int i = 0; i < n; i++) foil_model_free(members[i]);
    return st == FOIL_ERR_ARG ? cli_usage_error(cmd, "%s", foil_last_error()) : cli_fail(cmd, st);
}

int cli_open_model(const cli_command *cmd, const cli_model_source *src, foil_model **model)
{
    *model = NULL;
    int given = (src->model != NULL) + (src->endpoint != NULL) + (src->command != NULL);
    if (given != 1)
        return cli_usage_error(cmd, "give the model as exactly one of --model FILE.onnx, --endpoint URL or "
                               "--command CMD");
    int remote_opts = src->format || src->returns || src->timeout_s != 0 || src->retries >= 0 || src->rate_limit != 0 ||
                      src->input_shape || src->ca_cert;
    if (src->model && remote_opts)
        return cli_usage_error(cmd, "--remote-format, --remote-returns, --timeout, --retries, --rate-limit, "
                               "--input-shape and --ca-cert are for --endpoint or --command models");
    if (src->ensemble && !src->model)
        return cli_usage_error(cmd, "--ensemble adds ONNX models to a --model; give the first with --model");
    foil_status st;
    if (src->model) {
        st = foil_model_load(src->model, model);
        if (!st && src->ensemble) return open_ensemble(cmd, src->ensemble, model);
    } else {
        foil_remote_options o;
        int64_t shape[FOIL_MAX_DIMS];
        char key[512] = "";
        int rc = remote_options(cmd, src, &o, shape, key, sizeof key);
        if (rc) return rc;
        st = src->endpoint ? foil_model_remote_http(src->endpoint, &o, model)
                           : foil_model_remote_command(src->command, &o, model);
        memset(key, 0, sizeof key); /* the model keeps its own copy */
        if (st == FOIL_ERR_ARG) return cli_usage_error(cmd, "%s", foil_last_error());
    }
    return st ? cli_fail(cmd, st) : CLI_OK;
}
