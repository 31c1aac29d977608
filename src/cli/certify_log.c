/*
 * cli/certify_log.c - `foil certify --log FILE`: one JSON line per finished
 * example, so that a certification of hours (500 images x 100,000 noisy
 * copies) that is stopped resumes where it stopped.
 *
 * The first line holds the settings; a later run with other settings is
 * refused rather than mixed in. A last line cut short by a kill is dropped
 * (the file is truncated to its last whole line before appending). The
 * results do not depend on which examples ran in which run: each example's
 * noise is its own (foil/certify.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli/certify_log.h"

static int log_error(const cli_command *cmd, const char *path, const char *what)
{
    return cli_fail(cmd, foil_error(FOIL_ERR_IO, "%s: %s", path, what));
}

/* One example's line into cert/done, by its index in the split. */
static int take_line(const cJSON *e, const int64_t *index, int64_t count, foil_certificate *cert, uint8_t *done)
{
    const cJSON *ix = cJSON_GetObjectItem(e, "index"), *pred = cJSON_GetObjectItem(e, "prediction");
    if (!cJSON_IsNumber(ix) || !cJSON_IsNumber(pred)) return -1;
    for (int64_t i = 0; i < count; i++) {
        if (index[i] != (int64_t)ix->valuedouble) continue;
        foil_certificate *c = &cert[i];
        c->prediction = (int64_t)pred->valuedouble;
        const cJSON *v;
        if ((v = cJSON_GetObjectItem(e, "radius")) && cJSON_IsNumber(v)) c->radius = v->valuedouble;
        if ((v = cJSON_GetObjectItem(e, "count")) && cJSON_IsNumber(v)) c->count = (int64_t)v->valuedouble;
        if ((v = cJSON_GetObjectItem(e, "p_lower")) && cJSON_IsNumber(v)) c->p_lower = v->valuedouble;
        if ((v = cJSON_GetObjectItem(e, "grid_distance")) && cJSON_IsNumber(v)) c->grid_distance = v->valuedouble;
        if ((v = cJSON_GetObjectItem(e, "seconds")) && cJSON_IsNumber(v)) c->seconds = v->valuedouble;
        done[i] = 1;
        return 0;
    }
    return 0; /* an example this run does not certify (another --limit): kept in the file, not used */
}

/* Read an existing log: its settings line must be `settings`. Returns the
 * length of its whole lines in *keep. */
static int read_log(const cli_command *cmd, const char *path, FILE *f, const char *settings, const int64_t *index,
                    int64_t count, foil_certificate *cert, uint8_t *done, long *keep)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0, lineno = 0;
    *keep = 0;
    while (!rc && (len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] != '\n') break; /* cut short: dropped */
        lineno++;
        line[len - 1] = 0;
        if (lineno == 1) {
            if (strcmp(line, settings) != 0)
                rc = log_error(cmd, path, "was written by a run with other settings; remove it or give another --log");
        } else {
            cJSON *e = cJSON_Parse(line);
            if (!e || take_line(e, index, count, cert, done)) {
                char what[96];
                snprintf(what, sizeof what, "line %d is not an example's result; remove the file to start over", lineno);
                rc = log_error(cmd, path, what);
            }
            cJSON_Delete(e);
        }
        *keep += (long)len;
    }
    free(line);
    return rc;
}

int certify_log_open(const cli_command *cmd, const char *path, const char *settings, const int64_t *index,
                     int64_t count, foil_certificate *cert, uint8_t *done, certify_log *log)
{
    log->f = NULL;
    log->path = path;
    FILE *f = fopen(path, "r+");
    if (!f && errno != ENOENT) return log_error(cmd, path, strerror(errno));
    if (!f) {
        if (!(f = fopen(path, "w"))) return log_error(cmd, path, strerror(errno));
        fprintf(f, "%s\n", settings);
    } else {
        long keep;
        int rc = read_log(cmd, path, f, settings, index, count, cert, done, &keep);
        if (!rc && (fflush(f) || ftruncate(fileno(f), keep) || fseek(f, keep, SEEK_SET)))
            rc = log_error(cmd, path, strerror(errno));
        if (!rc && keep == 0) fprintf(f, "%s\n", settings); /* not even the settings line was whole */
        if (rc) {
            fclose(f);
            return rc;
        }
    }
    if (fflush(f)) {
        fclose(f);
        return log_error(cmd, path, strerror(errno));
    }
    log->f = f;
    return CLI_OK;
}

int certify_log_append(const cli_command *cmd, certify_log *log, int64_t index, int64_t label,
                       const foil_certificate *c)
{
    if (!log->f) return CLI_OK;
    fprintf(log->f,
            "{\"index\":%lld,\"label\":%lld,\"prediction\":%lld,\"radius\":%.17g,\"count\":%lld,\"p_lower\":%.17g,"
            "\"grid_distance\":%.17g,\"seconds\":%.6f}\n",
            (long long)index, (long long)label, (long long)c->prediction, c->radius, (long long)c->count, c->p_lower,
            c->grid_distance, c->seconds);
    return fflush(log->f) ? log_error(cmd, log->path, strerror(errno)) : CLI_OK;
}

void certify_log_close(certify_log *log)
{
    if (log->f) fclose(log->f);
    log->f = NULL;
}
