/*
 * cli/cmd_certify.c - `foil certify`: randomized smoothing's CERTIFY (or
 * PREDICT) on each example of a dataset (foil/certify.h), with the
 * certified accuracy at each radius.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/certify_log.h"
#include "cli/cli.h"
#include "core/dist.h"
#include "foil/certify.h"
#include "foil/data.h"
#include "foil/progress.h"

static int run_certify(int argc, char **argv);

const cli_command cli_certify = {
    "certify", "certified L2 robustness by randomized smoothing",
    "--model M.onnx --data DATA --sigma S [--n0 100] [--n 100000] [--alpha 0.001] [--batch B] [--limit N] "
    "[--every K] [--predict] [--json]",
    "Randomized smoothing (Cohen, Rosenfeld and Kolter 2019): the smoothed\n"
    "classifier predicts the class the model gives most often under Gaussian\n"
    "noise of standard deviation S. For each example, CERTIFY draws --n0 noisy\n"
    "copies to choose the class and --n more to bound its probability pA from\n"
    "below (Clopper-Pearson at confidence 1 - alpha); if the bound exceeds 1/2,\n"
    "no input within L2 distance S * Phi^-1(pA) of the example changes the\n"
    "smoothed prediction (with probability 1 - alpha over the noise), else it\n"
    "abstains. --predict runs PREDICT instead: the smoothed prediction from --n\n"
    "copies, or an abstention when the binomial test of the top two counts is\n"
    "above alpha. Train the model with the same noise first: foil train\n"
    "--noise-sigma S.\n"
    "\n"
    "The certificates are sound in floating point (Voracek and Hein 2023): the\n"
    "model sees its input rounded to a grid of --levels values across the input\n"
    "range (256: 8-bit images), the noise is drawn on that grid exactly from 64-bit\n"
    "coin flips, and the sampler's remaining error, the distance from an example\n"
    "to the grid and every rounding are taken off the bound and the radius.\n"
    "\n"
    "Prints the certified accuracy at each --radii value (the share of examples\n"
    "predicted correctly with a radius above it); --json prints every example's\n"
    "prediction, radius, count and time too. Noise streams belong to examples\n"
    "(their index in the split), so --every and --limit choose examples without\n"
    "changing any one's result.",
    run_certify,
    CLI_DISTRIBUTED,
};

enum { MAX_RADII = 32 };

typedef struct certify_args {
    cli_model_source source;
    foil_data_spec data;
    const char *split, *bounds, *normalize, *radii, *log;
    double sigma, alpha;
    int64_t n0, n, batch, limit, every, levels;
    int predict, json;
} certify_args;

typedef struct certify_run {
    int64_t *index;              /* the examples' indices in the split */
    foil_certificate *cert;
    uint8_t *done;               /* read from --log: not certified again */
    certify_log log;
    int64_t count;
    double radii[MAX_RADII];
    int n_radii;
    double sampler_tv, seconds;
} certify_run;

/* Share of examples predicted correctly with a radius above r (r = 0:
 * predicted correctly, not abstained). */
static double certified_accuracy(const certify_run *run, const foil_dataset *d, double r)
{
    int64_t good = 0;
    for (int64_t i = 0; i < run->count; i++) {
        const foil_certificate *c = &run->cert[i];
        good += c->prediction == foil_i64(&d->y)[run->index[i]] && (r == 0 ? c->prediction >= 0 : c->radius > r);
    }
    return run->count ? (double)good / (double)run->count : 0;
}

/* What a run's results depend on, for its JSON and its --log. */
static cJSON *settings_json(const certify_args *a, const foil_dataset *d, const char *model)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", model);
    cJSON_AddStringToObject(o, "data", d->name);
    cJSON_AddStringToObject(o, "split", a->split);
    cJSON_AddStringToObject(o, "mode", a->predict ? "predict" : "certify");
    cJSON_AddNumberToObject(o, "sigma", a->sigma);
    cJSON_AddNumberToObject(o, "n0", (double)a->n0);
    cJSON_AddNumberToObject(o, "n", (double)a->n);
    cJSON_AddNumberToObject(o, "alpha", a->alpha);
    cJSON_AddNumberToObject(o, "levels", (double)a->levels);
    cJSON_AddNumberToObject(o, "seed", (double)a->data.seed);
    return o;
}

static void print_json(const certify_args *a, const certify_run *run, const foil_dataset *d, const char *model)
{
    cJSON *root = settings_json(a, d, model);
    cJSON_AddNumberToObject(root, "sampler_tv_bound", run->sampler_tv);
    cJSON_AddNumberToObject(root, "seconds", run->seconds);
    cJSON *curve = cJSON_AddArrayToObject(root, "curve");
    for (int k = 0; k < run->n_radii; k++) {
        cJSON *pt = cJSON_CreateObject();
        cJSON_AddNumberToObject(pt, "radius", run->radii[k]);
        cJSON_AddNumberToObject(pt, "certified_accuracy", certified_accuracy(run, d, run->radii[k]));
        cJSON_AddItemToArray(curve, pt);
    }
    cJSON *ex = cJSON_AddArrayToObject(root, "examples");
    for (int64_t i = 0; i < run->count; i++) {
        const foil_certificate *c = &run->cert[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "index", (double)run->index[i]);
        cJSON_AddNumberToObject(e, "label", (double)foil_i64(&d->y)[run->index[i]]);
        cJSON_AddNumberToObject(e, "prediction", (double)c->prediction);
        if (!a->predict) {
            cJSON_AddNumberToObject(e, "radius", c->radius);
            cJSON_AddNumberToObject(e, "count", (double)c->count);
            cJSON_AddNumberToObject(e, "p_lower", c->p_lower);
            cJSON_AddNumberToObject(e, "grid_distance", c->grid_distance);
        }
        cJSON_AddNumberToObject(e, "seconds", c->seconds);
        cJSON_AddItemToArray(ex, e);
    }
    char *text = cJSON_PrintUnformatted(root);
    puts(text);
    free(text);
    cJSON_Delete(root);
}

static void print_text(const certify_args *a, const certify_run *run, const foil_dataset *d, const char *model)
{
    int64_t abstained = 0;
    for (int64_t i = 0; i < run->count; i++) abstained += run->cert[i].prediction < 0;
    printf("%s on %s (%s split, %lld examples), randomized smoothing sigma %g, %s n=%lld, alpha %g\n", model, d->name,
           a->split, (long long)run->count, a->sigma, a->predict ? "PREDICT" : "CERTIFY", (long long)a->n, a->alpha);
    printf("  abstained        %lld (%.1f%%)\n", (long long)abstained,
           run->count ? 100.0 * (double)abstained / (double)run->count : 0);
    printf("  time             %.1f s (%.2f s per example)\n", run->seconds,
           run->count ? run->seconds / (double)run->count : 0);
    if (a->predict) {
        printf("  smoothed accuracy %.2f%%\n", 100 * certified_accuracy(run, d, 0));
        return;
    }
    printf("  certified accuracy at L2 radius:\n");
    for (int k = 0; k < run->n_radii; k++)
        printf("    %-6g %6.2f%%\n", run->radii[k], 100 * certified_accuracy(run, d, run->radii[k]));
    printf("  (sampler total-variation bound %.2g per noisy input, taken off every bound)\n", run->sampler_tv);
}

static int check_args(certify_args *a)
{
    if (!(a->sigma > 0) || a->sigma > 1e6) return cli_usage_error(&cli_certify, "--sigma must be a number > 0");
    if (a->n0 < 1 || a->n < 1 || a->batch < 1 || a->every < 1)
        return cli_usage_error(&cli_certify, "--n0, --n, --batch and --every must be at least 1");
    if (a->limit < 0) return cli_usage_error(&cli_certify, "--limit must be >= 0");
    if (!(a->alpha > 0 && a->alpha < 0.5)) return cli_usage_error(&cli_certify, "--alpha must lie in (0, 0.5)");
    if (a->levels < 2 || a->levels > (1 << 24)) return cli_usage_error(&cli_certify, "--levels must lie in [2, 2^24]");
    if (a->log && foilDistSize() > 1)
        return cli_usage_error(&cli_certify, "--log is for one process; under mpirun the ranks finish together");
    return CLI_OK;
}

/* The grid spans the data's input range: one range for images, the
 * smallest and largest feature bound for tabular data. */
static void data_range(const foil_dataset *d, float *lo, float *hi)
{
    const float *l = foil_f32(&d->lower), *u = foil_f32(&d->upper);
    *lo = l[0];
    *hi = u[0];
    for (int64_t i = 1; i < d->lower.numel; i++) {
        *lo = fminf(*lo, l[i]);
        *hi = fmaxf(*hi, u[i]);
    }
}

/* One example's result, as a rank sends it to rank 0. */
typedef struct certify_record {
    int64_t position;            /* in run->index */
    foil_certificate cert;
} certify_record;

/* This rank's share of the examples (every size-th, from its rank), each
 * with its own noise stream, so the shares' results are the one-process
 * results. */
static foil_status certify_share(const certify_args *a, foil_smoothed *s, const foil_dataset *d,
                                 certify_run *run, certify_record *mine, int64_t *n_mine, int quiet)
{
    foil_progress bar;
    int64_t share = 0;
    for (int64_t i = 0; i < run->count; i++) share += foilDistOwns(i) && !run->done[i];
    foil_progress_start(&bar, a->predict ? "predict" : "certify", share, "img", quiet || foilDistRank() != 0);
    int64_t correct = 0;
    *n_mine = 0;
    for (int64_t i = 0; i < run->count; i++) {
        if (!foilDistOwns(i) || run->done[i]) continue;
        certify_record *rec = &mine[(*n_mine)++];
        foil_certificate *c = &rec->cert;
        const int64_t row = run->index[i];
        rec->position = i;
        foil_status st;
        if (a->predict) {
            double t0 = foil_now();
            memset(c, 0, sizeof *c);
            st = foil_smoothed_predict(s, &d->x, row, (uint64_t)row, &c->prediction);
            c->seconds = foil_now() - t0;
        } else {
            st = foil_smoothed_certify(s, &d->x, row, (uint64_t)row, c);
        }
        if (st) return foil_error_prefix(st, "example %lld", (long long)row);
        if (certify_log_append(&cli_certify, &run->log, row, foil_i64(&d->y)[row], c))
            return foil_error(FOIL_ERR_IO, "%s: could not write example %lld's result", a->log, (long long)row);
        correct += c->prediction == foil_i64(&d->y)[row];
        char status[64];
        snprintf(status, sizeof status, "%s %.1f%%", a->predict ? "accuracy" : "certified",
                 100.0 * (double)correct / (double)*n_mine);
        foil_progress_update(&bar, *n_mine, status);
    }
    foil_progress_finish(&bar, NULL);
    return FOIL_OK;
}

/* Every rank certifies its share; rank 0 gathers them into run->cert. A
 * rank that failed fails the run on every rank. */
static foil_status certify_all(const certify_args *a, foil_smoothed *s, const foil_dataset *d, certify_run *run,
                               int quiet)
{
    double start = foil_now();
    certify_record *mine = malloc((size_t)(run->count ? run->count : 1) * sizeof *mine), *all = NULL;
    int64_t n_mine = 0, total = 0;
    foil_status st = mine ? certify_share(a, s, d, run, mine, &n_mine, quiet)
                          : foil_error(FOIL_ERR_NOMEM, "out of memory");
    if (!(st = foilDistAgree(st))) st = foilDistGather(mine, n_mine, sizeof *mine, (void **)&all, &total);
    int64_t todo = run->count;
    for (int64_t i = 0; i < run->count; i++) todo -= run->done[i];
    if (!st && foilDistRank() == 0) {
        if (total != todo)
            st = foil_error(FOIL_ERR_ARG, "gathered %lld of %lld results", (long long)total, (long long)todo);
        for (int64_t k = 0; !st && k < total; k++) run->cert[all[k].position] = all[k].cert;
    }
    free(mine);
    free(all);
    run->seconds = foil_now() - start;
    run->sampler_tv = foil_smoothed_sampler_tv(s);
    return st;
}

/* --log FILE: its settings line names everything a result depends on. */
static int open_log(const certify_args *a, const cli_common *common, foil_model *model, const foil_dataset *d,
                    certify_run *run)
{
    if (!a->log) return CLI_OK;
    cJSON *h = settings_json(a, d, foil_model_name(model));
    cJSON_AddNumberToObject(h, "foil_certify_log", 1);
    cJSON_AddNumberToObject(h, "threads", (double)common->threads);
    cJSON_AddNumberToObject(h, "batch", (double)a->batch);
    char *settings = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    int rc = settings ? certify_log_open(&cli_certify, a->log, settings, run->index, run->count, run->cert, run->done,
                                         &run->log)
                      : cli_fail(&cli_certify, foil_error(FOIL_ERR_NOMEM, "out of memory"));
    free(settings);
    return rc;
}

/* Certify the chosen examples of d and print the results (rank 0). */
static int certify_examples(const certify_args *a, const cli_common *common, foil_model *model,
                            const foil_dataset *d, certify_run *run)
{
    int64_t total = d->x.shape[0];
    if (a->limit > 0 && a->limit * a->every < total) total = a->limit * a->every;
    run->count = (total + a->every - 1) / a->every;
    run->index = malloc((size_t)(run->count ? run->count : 1) * sizeof *run->index);
    run->cert = calloc((size_t)(run->count ? run->count : 1), sizeof *run->cert);
    run->done = calloc((size_t)(run->count ? run->count : 1), 1);
    if (!run->index || !run->cert || !run->done)
        return cli_fail(&cli_certify, foil_error(FOIL_ERR_NOMEM, "out of memory"));
    for (int64_t i = 0; i < run->count; i++) run->index[i] = i * a->every;
    int rc = open_log(a, common, model, d, run);
    if (rc) return rc;
    foil_smoothing_options o;
    foil_smoothing_defaults(&o);
    o.sigma = (float)a->sigma;
    o.n0 = a->n0;
    o.n = a->n;
    o.alpha = a->alpha;
    o.batch = a->batch;
    o.levels = (int)a->levels;
    o.seed = (uint64_t)common->seed;
    data_range(d, &o.lo, &o.hi);
    foil_smoothed *s = NULL;
    foil_status st = foil_smoothed_create(model, &o, &s);
    if (!st) st = certify_all(a, s, d, run, common->quiet);
    foil_smoothed_free(s);
    certify_log_close(&run->log);
    if (st) return cli_fail(&cli_certify, st);
    if (foilDistRank() == 0) {
        if (a->json) print_json(a, run, d, foil_model_name(model));
        else print_text(a, run, d, foil_model_name(model));
    }
    return CLI_OK;
}

static int certify(certify_args *a, const cli_common *common)
{
    foil_split split;
    int rc;
    if ((rc = cli_data_split(&cli_certify, a->split, a->data.data, &split, &a->split)) ||
        (rc = cli_parse_bounds(&cli_certify, a->bounds, &a->data)))
        return rc;
    certify_run run = {0};
    run.radii[0] = 0;
    run.n_radii = 1;
    if (a->radii && (rc = cli_parse_numbers(&cli_certify, "--radii", a->radii, 0, 1, run.radii, MAX_RADII,
                                            &run.n_radii)))
        return rc;
    if (!a->radii) {
        const double standard[] = {0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0};
        memcpy(run.radii, standard, sizeof standard);
        run.n_radii = 7;
    }
    cli_apply_common(common);
    a->data.seed = (uint64_t)common->seed;

    foil_model *model = NULL;
    foil_dataset d = {0};
    rc = cli_open_inputs(&cli_certify, &a->source, &a->data, split, a->normalize, &model, &d);
    if (!rc) rc = certify_examples(a, common, model, &d, &run);
    free(run.index);
    free(run.cert);
    free(run.done);
    foil_dataset_free(&d);
    foil_model_free(model);
    return rc;
}

static int run_certify(int argc, char **argv)
{
    certify_args a = {.source = {.retries = -1}, .alpha = 0.001, .n0 = 100, .n = 100000, .batch = 1000,
                      .every = 1, .levels = 256};
    cli_option opts[] = {
        CLI_MODEL_SOURCE_OPTIONS(a.source),
        CLI_DATA_OPTIONS(a.data),
        CLI_SPLIT_OPTIONS(a.split, a.bounds, a.normalize),
        {"--sigma", OPT_FLOAT, &a.sigma, "S", "noise standard deviation, in input units", 1, 0},
        {"--n0", OPT_INT, &a.n0, "N", "samples that choose the class (default 100)", 0, 0},
        {"--n", OPT_INT, &a.n, "N", "samples that bound its probability (default 100000)", 0, 0},
        {"--alpha", OPT_FLOAT, &a.alpha, "A", "failure probability (default 0.001)", 0, 0},
        {"--batch", OPT_INT, &a.batch, "B", "noisy copies per forward pass (default 1000)", 0, 0},
        {"--limit", OPT_INT, &a.limit, "N", "certify N examples (default: all)", 0, 0},
        {"--every", OPT_INT, &a.every, "K", "take every K-th example of the split (default 1)", 0, 0},
        {"--levels", OPT_INT, &a.levels, "L", "the grid the model sees: L levels across the range (default 256)", 0,
         0},
        {"--radii", OPT_STRING, &a.radii, "R,...", "radii of the certified-accuracy curve (default "
         "0,0.25,0.5,0.75,1,1.5,2)", 0, 0},
        {"--predict", OPT_FLAG, &a.predict, NULL, "PREDICT (the smoothed classifier's accuracy) instead of CERTIFY", 0,
         0},
        {"--json", OPT_FLAG, &a.json, NULL, "print the curve and every example as one JSON object", 0, 0},
        {"--log", OPT_STRING, &a.log, "FILE", "append each example's result to FILE as it finishes; a run stopped "
         "resumes from it", 0, 0},
    };
    cli_common common;
    int rc = cli_parse(&cli_certify, argc, argv, opts, sizeof opts / sizeof opts[0], &common);
    if (rc || (rc = check_args(&a))) return rc;
    return certify(&a, &common);
}
