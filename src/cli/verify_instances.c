/*
 * cli/verify_instances.c - `foil verify --instances LIST.csv`: a list of
 * VNN-COMP instances (benchmark,network,property,timeout_s, paths relative
 * to the list's directory), each decided by foil_vnnlib_verify, the list
 * shared between MPI ranks (every size-th instance), a table per benchmark
 * printed by rank 0.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "cli/verify_instances.h"
#include "core/dist.h"
#include "foil/progress.h"
#include "foil/vnnlib.h"

enum { FIELD = 512, MAX_INSTANCES = 100000 };

typedef struct instance {
    char benchmark[64], network[FIELD], property[FIELD];
    double timeout;
} instance;

/* What a rank sends rank 0 about one instance. */
typedef struct instance_result {
    int64_t index;
    int answer;                  /* foil_vnnlib_answer, or -1: error */
    double seconds;
    int64_t domains;
    char note[160];              /* unknown: why; error: the message */
} instance_result;

/* Whether name is one of the comma-separated names. */
static int name_in_list(const char *name, const char *list)
{
    const size_t len = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == len && !strncmp(p, name, len)) return 1;
        p += n + (end != NULL);
    }
    return 0;
}

static int list_error(const char *path, int line, const char *what)
{
    return cli_fail(&cli_verify, foil_error(FOIL_ERR_FORMAT, "%s:%d: %s", path, line, what));
}

/* The csv's lines that the options select; paths made relative to its directory. */
static int read_list(const verify_instances_args *a, instance **out, int64_t *n)
{
    *out = NULL;
    *n = 0;
    FILE *f = fopen(a->list, "r");
    if (!f) return cli_fail(&cli_verify, foil_error(FOIL_ERR_IO, "%s: cannot open: %s", a->list, strerror(errno)));
    char dir[FIELD];
    snprintf(dir, sizeof dir, "%s", a->list);
    char *slash = strrchr(dir, '/');
    if (slash) slash[1] = 0;
    else dir[0] = 0;
    instance *list = NULL;
    int64_t cap = 0;
    char line[4 * FIELD];
    int rc = 0;
    for (int lineno = 1; !rc && fgets(line, sizeof line, f); lineno++) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || (lineno == 1 && strncmp(line, "benchmark,", 10) == 0)) continue;
        char *fields[4], *save = NULL, *p = line;
        int k = 0;
        for (char *tok = strtok_r(p, ",", &save); tok && k < 4; tok = strtok_r(NULL, ",", &save)) fields[k++] = tok;
        char *end = NULL;
        double t = k == 4 ? strtod(fields[3], &end) : 0;
        if (k != 4 || !end || *end || !(t > 0) || !isfinite(t)) {
            rc = list_error(a->list, lineno, "expected benchmark,network,property,timeout_s with a timeout > 0");
            break;
        }
        if (a->benchmarks && !name_in_list(fields[0], a->benchmarks)) continue;
        if (a->limit > 0 && *n >= a->limit) break;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            instance *grown = cap <= MAX_INSTANCES ? realloc(list, (size_t)cap * sizeof *grown) : NULL;
            if (!grown) {
                rc = list_error(a->list, lineno, "too many instances");
                break;
            }
            list = grown;
        }
        instance *in = &list[(*n)++];
        snprintf(in->benchmark, sizeof in->benchmark, "%s", fields[0]);
        /* relative paths are the list's directory's; absolute ones stay */
        if ((size_t)snprintf(in->network, sizeof in->network, "%s%s", fields[1][0] == '/' ? "" : dir, fields[1]) >=
                sizeof in->network ||
            (size_t)snprintf(in->property, sizeof in->property, "%s%s", fields[2][0] == '/' ? "" : dir,
                             fields[2]) >= sizeof in->property)
            rc = list_error(a->list, lineno, "a path is too long");
        in->timeout = a->timeout > 0 ? a->timeout : t * a->timeout_scale;
    }
    fclose(f);
    if (rc) free(list);
    else *out = list;
    return rc;
}

/* One instance; the model of the previous instance is kept when the next
 * uses the same network. An error is the instance's, not the run's. */
static void decide(const verify_instances_args *a, const cli_common *common, const instance *in, foil_model **model,
                   char *model_path, instance_result *r)
{
    foil_vnnlib *prop = NULL;
    foil_vnnlib_result v = {0};
    foil_status st = FOIL_OK;
    if (!*model || strcmp(model_path, in->network) != 0) {
        foil_model_free(*model);
        *model = NULL;
        if (!(st = foil_model_load(in->network, model))) snprintf(model_path, FIELD, "%s", in->network);
    }
    if (!st) st = foil_vnnlib_load(in->property, &prop);
    foil_vnnlib_options o = {.timeout = in->timeout, .seed = (uint64_t)common->seed, .quiet = 1};
    if (!st) st = foil_vnnlib_verify(*model, prop, &o, &v);
    if (st) {
        r->answer = -1;
        snprintf(r->note, sizeof r->note, "%s", foil_last_error());
    } else {
        r->answer = (int)v.answer;
        r->seconds = v.seconds;
        r->domains = v.domains;
        if (v.answer == FOIL_VNNLIB_UNKNOWN) snprintf(r->note, sizeof r->note, "%s", v.why);
        if (v.answer == FOIL_VNNLIB_FALSIFIED && a->results_dir) {
            char path[FIELD + 64];
            snprintf(path, sizeof path, "%s/instance-%lld.txt", a->results_dir, (long long)r->index);
            if (foil_vnnlib_write_result(path, prop, &v)) {
                r->answer = -1;
                snprintf(r->note, sizeof r->note, "%s", foil_last_error());
            }
        }
    }
    foil_vnnlib_result_free(&v);
    foil_vnnlib_free(prop);
}

static void print_table(const instance *list, const instance_result *res, int64_t n, int json)
{
    const char *names[] = {"unknown", "verified", "falsified"};
    if (json) {
        cJSON *root = cJSON_CreateArray();
        for (int64_t i = 0; i < n; i++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "benchmark", list[i].benchmark);
            cJSON_AddStringToObject(e, "network", list[i].network);
            cJSON_AddStringToObject(e, "property", list[i].property);
            cJSON_AddNumberToObject(e, "timeout", list[i].timeout);
            cJSON_AddStringToObject(e, "result", res[i].answer < 0 ? "error" : names[res[i].answer]);
            cJSON_AddNumberToObject(e, "seconds", res[i].seconds);
            cJSON_AddNumberToObject(e, "domains", (double)res[i].domains);
            if (res[i].note[0]) cJSON_AddStringToObject(e, "note", res[i].note);
            cJSON_AddItemToArray(root, e);
        }
        char *text = cJSON_PrintUnformatted(root);
        puts(text);
        free(text);
        cJSON_Delete(root);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        printf("%s,%s,%s,%s,%.2f%s%s\n", list[i].benchmark, list[i].network, list[i].property,
               res[i].answer < 0 ? "error" : names[res[i].answer], res[i].seconds, res[i].note[0] ? ",": "",
               res[i].note);
    printf("\n| benchmark | instances | verified | falsified | unknown | errors | seconds |\n|---|---|---|---|---|---|---|\n");
    for (int64_t i = 0; i < n; i++) {
        int first = 1;
        for (int64_t j = 0; j < i; j++) first &= strcmp(list[j].benchmark, list[i].benchmark) != 0;
        if (!first) continue;
        int64_t count[4] = {0}, total = 0;
        double seconds = 0;
        for (int64_t j = i; j < n; j++)
            if (!strcmp(list[j].benchmark, list[i].benchmark)) {
                count[res[j].answer + 1]++, total++;
                seconds += res[j].seconds;
            }
        printf("| %s | %lld | %lld | %lld | %lld | %lld | %.1f |\n", list[i].benchmark, (long long)total,
               (long long)count[2], (long long)count[3], (long long)count[1], (long long)count[0], seconds);
    }
}

int verify_instances(const verify_instances_args *a, const cli_common *common)
{
    instance *list = NULL;
    int64_t n = 0;
    int rc = read_list(a, &list, &n);
    foil_status st = foilDistAgree(rc ? FOIL_ERR_FORMAT : FOIL_OK);
    if (st) {
        free(list);
        return rc ? rc : cli_fail(&cli_verify, st);
    }
    instance_result *mine = calloc((size_t)(n ? n : 1), sizeof *mine), *all = NULL;
    int64_t n_mine = 0, total = 0;
    foil_model *model = NULL;
    char model_path[FIELD] = "";
    foil_progress bar;
    int64_t share = 0;
    for (int64_t i = 0; i < n; i++) share += foilDistOwns(i);
    foil_progress_start(&bar, "instances", share, "prop", common->quiet || a->json || foilDistRank() != 0);
    for (int64_t i = 0; mine && i < n; i++) {
        if (!foilDistOwns(i)) continue;
        instance_result *r = &mine[n_mine++];
        r->index = i;
        decide(a, common, &list[i], &model, model_path, r);
        foil_progress_update(&bar, n_mine, NULL);
    }
    foil_progress_finish(&bar, NULL);
    foil_model_free(model);
    st = foilDistAgree(mine ? FOIL_OK : foil_error(FOIL_ERR_NOMEM, "out of memory"));
    if (!st) st = foilDistGather(mine, n_mine, sizeof *mine, (void **)&all, &total);
    if (!st && foilDistRank() == 0) {
        instance_result *ordered = calloc((size_t)(n ? n : 1), sizeof *ordered);
        if (!ordered || total != n) st = foil_error(FOIL_ERR_NOMEM, "gathering %lld instances' results", (long long)n);
        for (int64_t k = 0; !st && k < total; k++) ordered[all[k].index] = all[k];
        if (!st) print_table(list, ordered, n, a->json);
        free(ordered);
    }
    free(mine);
    free(all);
    free(list);
    return st ? cli_fail(&cli_verify, st) : CLI_OK;
}
