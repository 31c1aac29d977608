/*
 * foil/remote.h - models that foil can only query: a classifier behind an
 * HTTP endpoint, or behind a local command. This is how a red team attacks
 * a deployed model it cannot download.
 *
 * The protocol (docs/remote-protocol.md). Each request carries a batch of
 * up to max_batch examples x (N, ...) float32, row-major:
 *
 *   HTTP, JSON  POST URL, Content-Type application/json,
 *               {"shape": [N, d1, ...], "inputs": [x as a flat list]};
 *               the answer {"outputs": [[C scores of example 0], ...]}.
 *   HTTP, NPY   POST URL, Content-Type application/x-npy, the body an .npy
 *               float32 array (N, d1, ...); the answer an .npy float32 (N, C).
 *   command     `/bin/sh -c COMMAND` once per request, the .npy request on
 *               its standard input; the .npy float32 (N, C) answer on its
 *               standard output, and exit status 0.
 *
 * C, the number of classes, is learned from the first answer and must stay
 * the same. Every answer is checked (row and class counts, numbers, no NaN
 * or infinity, HTTP status, exit status, .npy dtype and size): a bad one is
 * FOIL_ERR_REMOTE with a message that names the endpoint (the URL or the
 * command) and the problem. Connection failures, timeouts, HTTP 429 and 5xx
 * (and a command's exit status 75, EX_TEMPFAIL, or its timeout) are retried
 * `retries` times after 0.25 s, 0.5 s, ... (doubling, at most 4 s); nothing
 * else is, so no call takes longer than timeout_s * (retries + 1) plus the
 * backoff (plus the rate limit's waits).
 *
 * An HTTP endpoint that wants an API key (foil serve) gets it in the header
 * "Authorization: Bearer KEY" (api_key below).
 *
 * Remote models have no gradients (FOIL_MODEL_GRADIENTS): attack them with
 * black-box attacks. Their kind is "remote", their name the URL or command.
 */
#ifndef FOIL_REMOTE_H
#define FOIL_REMOTE_H

#include <stdint.h>

#include "foil/model.h"
#include "foil/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { FOIL_REMOTE_JSON = 0, FOIL_REMOTE_NPY = 1 };

typedef struct foil_remote_options {
    double timeout_s;           /* per request (connect + answer), default 30 */
    int retries;                /* default 3; see above for what is retried */
    double max_requests_per_s;  /* requests start at least 1/this s apart; 0: no limit */
    int format;                 /* HTTP: FOIL_REMOTE_JSON (default) or FOIL_REMOTE_NPY; commands always speak NPY */
    int input_rank;             /* optional declared input, batch first (-1 there): 0 when unknown */
    const int64_t *input_shape; /* input_rank entries, copied; -1 = any size */
    int64_t max_batch;          /* examples per request, default 256 */
    foil_output_mode returns;   /* what the scores are: FOIL_OUTPUT_LOGITS (capabilities SCORES),
                                   _PROBABILITIES (SCORES | PROBABILITIES) or _LABELS (none: one-hot) */
    const char *api_key;        /* HTTP: sent as "Authorization: Bearer API_KEY" (foil serve's keys); NULL:
                                   none. Copied; never written into an error message */
    const char *ca_file;        /* HTTPS: PEM file of the certificate authorities to trust instead of the
                                   system's (a self-signed foil serve certificate); NULL: the system's. Copied */
} foil_remote_options;

/* The defaults above. */
void foil_remote_options_default(foil_remote_options *o);

/* A model that POSTs to url (http:// or https://). o NULL: the defaults.
 * Nothing is sent until the first query. FOIL_ERR_ARG for a bad option. */
foil_status foil_model_remote_http(const char *url, const foil_remote_options *o, foil_model **out);

/* A model that runs `/bin/sh -c command` for each request (o->format is
 * ignored: NPY both ways). */
foil_status foil_model_remote_command(const char *command, const foil_remote_options *o, foil_model **out);

#ifdef __cplusplus
}
#endif
#endif
