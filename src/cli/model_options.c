/*
 * cli/model_options.c - the options that say how a model meets its data,
 * shared by attack, eval, predict, grad and train: --bounds (the input
 * range), --normalize (the model's input normalization, moved into its
 * graph), the default --split, and the one-line note when examples are fed
 * in the model's declared shape.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int cli_parse_bounds(const cli_command *cmd, const char *text, foil_data_spec *spec)
{
    if (!text) return CLI_OK;
    char *end;
    errno = 0;
    double lo = strtod(text, &end);
    int ok = end != text && *end == ',';
    double hi = ok ? strtod(end + 1, &end) : 0;
    ok = ok && !errno && *end == '\0' && isfinite(lo) && isfinite(hi) && lo < hi;
    if (!ok)
        return cli_usage_error(cmd, "--bounds expects LOW,HIGH with LOW < HIGH (e.g. --bounds 0,255), got '%s'", text);
    spec->has_bounds = 1;
    spec->bounds_low = (float)lo;
    spec->bounds_high = (float)hi;
    return CLI_OK;
}

/* Parse a comma-separated list of numbers (up to max) from s to the first
 * `stop` character or the end; *rest points after it. */
static int parse_floats(const char *s, char stop, float *v, int max, int *n, const char **rest)
{
    *n = 0;
    for (;;) {
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        if (end == s || errno || *n == max) return -1;
        v[(*n)++] = (float)d;
        if (*end == ',') {
            s = end + 1;
            continue;
        }
        if (*end != stop) return -1;
        *rest = *end ? end + 1 : end;
        return 0;
    }
}

int cli_apply_normalize(const cli_command *cmd, const char *text, foil_model *model)
{
    enum { MAX_CHANNELS = 4096 };
    if (!text) return CLI_OK;
    float *mean = malloc(2 * MAX_CHANNELS * sizeof *mean), *std = mean + MAX_CHANNELS;
    if (!mean) return cli_fail(cmd, foil_error(FOIL_ERR_NOMEM, "out of memory"));
    int n_mean = 0, n_std = 0;
    const char *rest;
    int rc = CLI_OK;
    if (parse_floats(text, '/', mean, MAX_CHANNELS, &n_mean, &rest) ||
        parse_floats(rest, '\0', std, MAX_CHANNELS, &n_std, &rest))
        rc = cli_usage_error(cmd, "--normalize expects MEAN[,MEAN...]/STD[,STD...] (one value or one per channel, "
                             "e.g. 0.4914,0.4822,0.4465/0.2471,0.2435,0.2616), got '%s'", text);
    foil_status st = rc ? FOIL_OK : foil_model_normalize(model, n_mean, mean, n_std, std);
    free(mean);
    if (st == FOIL_ERR_ARG) return cli_usage_error(cmd, "%s", foil_last_error());
    return st ? cli_fail(cmd, st) : rc;
}

int cli_check_model_input(const cli_command *cmd, const foil_model *model, const foil_tensor *x, const char *what)
{
    int reshaped;
    foil_status st = foil_model_check_input(model, x, &reshaped);
    if (st) {
        fprintf(stderr, "foil %s: %s: %s\n", cmd->name, what, foil_last_error());
        return CLI_RUNTIME_ERROR;
    }
    if (!reshaped) return CLI_OK;
    foil_tensor decl = {0}, ex = {0};
    decl.ndim = foil_model_input_rank(model);
    memcpy(decl.shape, foil_model_input_shape(model), (size_t)decl.ndim * sizeof *decl.shape);
    ex.ndim = x->ndim - 1;
    memcpy(ex.shape, x->shape + 1, (size_t)ex.ndim * sizeof *ex.shape);
    char a[128], b[128];
    fprintf(stderr, "foil %s: note: %s declares its input %s; the examples of %s, shaped %s, hold as many values "
            "and are fed in the declared shape\n", cmd->name, foil_model_path(model),
            foil_shape_str(&decl, a, sizeof a), what, foil_shape_str(&ex, b, sizeof b));
    return CLI_OK;
}

void cli_limit_examples(foil_dataset *d, int64_t limit)
{
    if (limit > 0 && limit < d->x.shape[0]) {
        d->x.shape[0] = limit;
        d->x.numel = limit * foil_dataset_example_size(d);
        d->y.shape[0] = d->y.numel = limit;
    }
}

int cli_data_split(const cli_command *cmd, const char *name, const char *data, foil_split *split, const char **shown)
{
    if (!name) name = foil_data_is_builtin(data) ? "test" : "all";
    *shown = name;
    return cli_parse_split(cmd, "--split", name, split);
}
