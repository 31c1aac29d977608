/*
 * cli/options.c - one small option parser for every subcommand, so that
 * --help, errors and the common options look the same everywhere.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "cli/cli.h"

extern void openblas_set_num_threads(int);

static cli_option common_options(cli_common *c, int which)
{
    static const cli_option proto[] = {
        {"--seed", OPT_INT, NULL, "N", "random seed (default 0)", 0, 0},
        {"--threads", OPT_INT, NULL, "N", "worker threads (default: OMP_NUM_THREADS or all cores)", 0, 0},
        {"--quiet", OPT_FLAG, NULL, NULL, "no progress output", 0, 0},
    };
    cli_option o = proto[which];
    o.dest = which == 0 ? (void *)&c->seed : which == 1 ? (void *)&c->threads : (void *)&c->quiet;
    return o;
}

static void print_help(const cli_command *cmd, const cli_option *opts, int n_opts, cli_common *common)
{
    printf("usage: foil %s %s\n\n%s\n\noptions:\n", cmd->name, cmd->usage, cmd->description);
    for (int i = 0; i < n_opts + 3; i++) {
        cli_option o = i < n_opts ? opts[i] : common_options(common, i - n_opts);
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", o.name, o.metavar ? " " : "", o.metavar ? o.metavar : "");
        printf("  %-24s %s%s\n", left, o.help, o.required ? " (required)" : "");
    }
    printf("  %-24s %s\n", "-h, --help", "show this help");
}

int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "foil %s: error: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'foil %s --help'.\n", cmd->name);
    return CLI_USAGE_ERROR;
}

int cli_fail(const cli_command *cmd, foil_status st)
{
    const char *msg = foil_last_error();
    fprintf(stderr, "foil %s: %s\n", cmd->name, msg[0] ? msg : foil_status_name(st));
    return CLI_RUNTIME_ERROR;
}

static int parse_value(const cli_command *cmd, cli_option *o, const char *val)
{
    char *end;
    switch (o->kind) {
    case OPT_STRING: *(const char **)o->dest = val; return CLI_OK;
    case OPT_INT: {
        errno = 0;
        long long v = strtoll(val, &end, 10);
        if (errno || end == val || *end) return cli_usage_error(cmd, "%s expects an integer, got '%s'", o->name, val);
        *(int64_t *)o->dest = v;
        return CLI_OK;
    }
    case OPT_FLOAT: {
        errno = 0;
        double v = strtod(val, &end);
        if (errno || end == val || *end || !isfinite(v))
            return cli_usage_error(cmd, "%s expects a number, got '%s'", o->name, val);
        *(double *)o->dest = v;
        return CLI_OK;
    }
    case OPT_FLAG: *(int *)o->dest = 1; return CLI_OK;
    case OPT_LIST: {
        cli_list *l = o->dest;
        if (l->n == CLI_LIST_MAX) return cli_usage_error(cmd, "%s: at most %d times", o->name, CLI_LIST_MAX);
        l->items[l->n++] = val;
        return CLI_OK;
    }
    }
    return CLI_USAGE_ERROR;
}

int cli_parse(const cli_command *cmd, int argc, char **argv, cli_option *opts, int n_opts, cli_common *common)
{
    common->seed = 0;
    common->threads = 0;
    common->quiet = 0;
    cli_option all[64];
    int n = 0;
    for (int i = 0; i < n_opts && n < 61; i++) all[n++] = opts[i];
    for (int i = 0; i < 3; i++) all[n++] = common_options(common, i);
    for (int i = 0; i < n; i++) all[i].seen = 0;
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            print_help(cmd, opts, n_opts, common);
            return CLI_HELP_SHOWN;
        }
        if (strncmp(arg, "--", 2) != 0) return cli_usage_error(cmd, "unexpected argument '%s'", arg);
        const char *eq = strchr(arg, '=');
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        cli_option *o = NULL;
        for (int i = 0; i < n; i++)
            if (strlen(all[i].name) == name_len && strncmp(all[i].name, arg, name_len) == 0) o = &all[i];
        if (!o) return cli_usage_error(cmd, "unknown option '%.*s'", (int)name_len, arg);
        if (o->seen && o->kind != OPT_LIST) return cli_usage_error(cmd, "%s given twice", o->name);
        o->seen = 1;
        const char *val = NULL;
        if (o->kind == OPT_FLAG) {
            if (eq) return cli_usage_error(cmd, "%s takes no value", o->name);
        } else if (eq) {
            val = eq + 1;
        } else {
            if (a + 1 >= argc) return cli_usage_error(cmd, "%s needs a value (%s)", o->name, o->metavar);
            val = argv[++a];
        }
        int rc = parse_value(cmd, o, val);
        if (rc) return rc;
    }
    for (int i = 0; i < n; i++) {
        if (all[i].required && !all[i].seen) return cli_usage_error(cmd, "%s is required", all[i].name);
        if (i < n_opts) opts[i].seen = all[i].seen;
    }
    if (common->threads < 0 || common->threads > 1024)
        return cli_usage_error(cmd, "--threads must be between 1 and 1024");
    return CLI_OK;
}

int cli_parse_eps_list(const cli_command *cmd, const char *s, double *eps, int max, int *count)
{
    *count = 0;
    while (s && *s) {
        if (*count == max) return cli_usage_error(cmd, "--eps: at most %d values", max);
        char *end;
        double v = strtod(s, &end);
        if (end == s || (*end && *end != ',') || !isfinite(v) || v < 0)
            return cli_usage_error(cmd, "--eps expects numbers >= 0 separated by commas, got '%s'", s);
        eps[(*count)++] = v;
        s = *end ? end + 1 : end;
    }
    if (!*count) return cli_usage_error(cmd, "--eps is empty");
    return CLI_OK;
}

int cli_parse_split(const cli_command *cmd, const char *opt, const char *name, foil_split *split)
{
    if (strcmp(name, "test") == 0) *split = FOIL_SPLIT_TEST;
    else if (strcmp(name, "train") == 0) *split = FOIL_SPLIT_TRAIN;
    else if (strcmp(name, "all") == 0) *split = FOIL_SPLIT_ALL;
    else return cli_usage_error(cmd, "%s must be test, train or all, not '%s'", opt, name);
    return CLI_OK;
}

void cli_apply_common(const cli_common *common)
{
    if (common->threads > 0) {
        omp_set_num_threads((int)common->threads);
        openblas_set_num_threads((int)common->threads);
    }
}
