/*
 * cli/cmd_infer_inversion.c - foil infer --attack miface: MIFace model
 * inversion (foil/inversion.h) of a white-box classifier, each class's
 * reconstruction set beside the mean of its training images when --data
 * gives them, and judged against every class's mean.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "cli/infer_inversion.h"
#include "foil/inversion.h"
#include "foil/npy.h"
#include "foil/progress.h"
#include "io/file.h"
#include "report/report.h"

static const cli_command cli_inversion = {
    "infer", "model inversion: MIFace (Fredrikson et al. 2015)",
    "--attack miface --model M.onnx [--data DIR] [--classes LIST] [--max-iter N] [--window W]\n"
    "                  [--threshold T] [--lr L] [--init zeros|gray] --out DIR",
    "Reconstructs what the model takes each class to look like by gradient\n"
    "descent on the input (MIFace, Fredrikson, Jha and Ristenpart, CCS 2015,\n"
    "Algorithm 1): from a start image (--init zeros, the paper's, or gray,\n"
    "the middle of the input range), step against the gradient of\n"
    "1 - p(class) by --lr, clipped to the input range, until --max-iter steps\n"
    "(alpha, 5000), the cost no lower than the highest of the last --window\n"
    "costs (beta, 100), or the cost at or below --threshold (gamma, 0.01:\n"
    "the class's probability 0.99); the least-cost image is the answer.\n"
    "--data (a dataset of the model's classes; its training split, as foil\n"
    "train cut it with the same --seed, unless --split says otherwise) gives\n"
    "each class's mean image: the reconstruction's L2 distance and Pearson\n"
    "correlation to its own mean, and the rank of its own mean among all\n"
    "classes' (1: nearest). --out DIR writes inversion.png (per class the\n"
    "reconstruction, then the class mean), inversion.json (the figures and\n"
    "settings) and inversion.npy (the reconstructions).",
    NULL,
    0,
};

typedef struct InversionArgs {
    foil_data_spec data;
    const char *model, *split, *bounds, *classes, *init, *out, *attack;
    foil_inversion_options o;
    cli_common common;
} InversionArgs;

/* One number or one class name of list entry `tok` into *c. */
static int parse_class(const char *tok, const foil_dataset *d, int64_t classes, int64_t *c)
{
    char *end;
    long long v = strtoll(tok, &end, 10);
    if (end != tok && *end == '\0' && v >= 0 && v < classes) return (*c = v), 0;
    for (int64_t k = 0; d && d->class_names && k < classes && d->class_names[k]; k++)
        if (strcmp(d->class_names[k], tok) == 0) return (*c = k), 0;
    return cli_usage_error(&cli_inversion, "--classes: '%s' is not a class number below %lld%s", tok,
                           (long long)classes, d && d->class_names ? " nor a class name of --data" : "");
}

/* --classes LIST (NULL or "all": every class) into labels (malloc'd). */
static int parse_classes(const char *text, const foil_dataset *d, int64_t classes, int64_t **labels, int64_t *n)
{
    *labels = malloc((size_t)classes * sizeof **labels);
    if (!*labels) return cli_fail(&cli_inversion, foil_error(FOIL_ERR_NOMEM, "out of memory"));
    *n = 0;
    if (!text || strcmp(text, "all") == 0) {
        for (int64_t c = 0; c < classes; c++) (*labels)[(*n)++] = c;
        return CLI_OK;
    }
    char *copy = strdup(text), *save = NULL;
    int rc = copy ? CLI_OK : cli_fail(&cli_inversion, foil_error(FOIL_ERR_NOMEM, "out of memory"));
    for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; !rc && tok; tok = strtok_r(NULL, ",", &save)) {
        if (*n == classes) rc = cli_usage_error(&cli_inversion, "--classes lists more than the %lld classes", (long long)classes);
        else rc = parse_class(tok, d, classes, &(*labels)[(*n)++]);
    }
    if (!rc && *n == 0) rc = cli_usage_error(&cli_inversion, "--classes names no class");
    free(copy);
    return rc;
}

/* The start images: zeros (the paper's) or the middle of the range. */
static foil_status make_start(const char *init, const foil_tensor *like, const float *lower, const float *upper,
                              foil_tensor *start)
{
    foil_status st = foil_tensor_alloc(start, FOIL_F32, like->ndim, like->shape);
    const int64_t d = like->numel / like->shape[0];
    for (int64_t i = 0; !st && i < start->numel; i++)
        foil_f32(start)[i] = strcmp(init, "gray") == 0 ? 0.5f * (lower[i % d] + upper[i % d]) : 0.0f;
    return st;
}

/* Per-example bounds: --data's, else --bounds (or [0, 1]) for every value. */
static foil_status make_bounds(const InversionArgs *a, const foil_dataset *d, int64_t values, float **lower,
                               float **upper)
{
    *lower = malloc((size_t)values * sizeof **lower);
    *upper = malloc((size_t)values * sizeof **upper);
    if (!*lower || !*upper) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    if (d && foil_dataset_example_size(d) != values)
        return foil_error(FOIL_ERR_SHAPE, "%s: examples of %lld values, but the model takes %lld", a->data.data,
                          (long long)foil_dataset_example_size(d), (long long)values);
    for (int64_t j = 0; j < values; j++) {
        (*lower)[j] = d ? foil_f32(&d->lower)[j] : a->data.has_bounds ? a->data.bounds_low : 0.0f;
        (*upper)[j] = d ? foil_f32(&d->upper)[j] : a->data.has_bounds ? a->data.bounds_high : 1.0f;
    }
    return FOIL_OK;
}

/* ------------------------------------------------------------------------- */
/* the PNG grid: per class the reconstruction, then its class mean           */

enum { GRID_GAP = 2, GRID_PAIR_GAP = 10, GRID_PAIRS_PER_ROW = 8 };

typedef struct Grid {
    uint8_t *px;
    int64_t w, h, ch, tile_w, tile_h, per_row, tiles;
} Grid;

/* Draw image v (ch planes of tile_h x tile_w, range [lo, hi]) at (x0, y0). */
static void grid_draw(Grid *g, const float *v, int64_t x0, int64_t y0, float lo, float hi)
{
    const int64_t plane = g->tile_h * g->tile_w;
    for (int64_t y = 0; y < g->tile_h; y++)
        for (int64_t x = 0; x < g->tile_w; x++)
            for (int64_t c = 0; c < g->ch; c++) {
                double u = hi > lo ? ((double)v[c * plane + y * g->tile_w + x] - lo) / (hi - lo) : 0;
                g->px[((y0 + y) * g->w + x0 + x) * g->ch + c] = (uint8_t)(u <= 0 ? 0 : u >= 1 ? 255 : lround(255 * u));
            }
}

static foil_status write_grid(const char *path, const foil_tensor *x, const int64_t *labels, int64_t n,
                              const foil_tensor *means, float lo, float hi)
{
    const int64_t C = x->shape[1], H = x->shape[2], W = x->shape[3];
    Grid g = {.ch = C, .tile_w = W, .tile_h = H, .tiles = means ? 2 : 1};
    g.per_row = n < GRID_PAIRS_PER_ROW ? n : GRID_PAIRS_PER_ROW;
    const int64_t pair_w = g.tiles * W + (g.tiles - 1) * GRID_GAP, rows = (n + g.per_row - 1) / g.per_row;
    g.w = g.per_row * pair_w + (g.per_row - 1) * GRID_PAIR_GAP;
    g.h = rows * H + (rows - 1) * GRID_PAIR_GAP;
    g.px = malloc((size_t)(g.w * g.h * g.ch));
    if (!g.px) return foil_error(FOIL_ERR_NOMEM, "%s: out of memory", path);
    memset(g.px, 255, (size_t)(g.w * g.h * g.ch));
    for (int64_t k = 0; k < n; k++) {
        const int64_t x0 = (k % g.per_row) * (pair_w + GRID_PAIR_GAP), y0 = (k / g.per_row) * (H + GRID_PAIR_GAP);
        grid_draw(&g, foil_f32(x) + k * C * H * W, x0, y0, lo, hi);
        if (means) grid_draw(&g, foil_f32(means) + labels[k] * C * H * W, x0 + W + GRID_GAP, y0, lo, hi);
    }
    FoilPng png = {0};
    foil_status st = foilPngEncode(g.px, (int)g.w, (int)g.h, (int)g.ch, &png);
    if (!st) st = foilWriteFileAtomic(path, png.data, png.size);
    foilPngFree(&png);
    free(g.px);
    return st;
}

/* ------------------------------------------------------------------------- */
/* the report                                                                */

typedef struct InversionReport {
    const InversionArgs *a;
    const foil_dataset *d;               /* NULL without --data */
    const int64_t *labels;
    int64_t n;
    const foil_inversion_result *r;
    const foil_inversion_match *match;   /* NULL without --data */
    double seconds;
    int64_t gradients;
} InversionReport;

static const char *class_name(const InversionReport *rep, int64_t c, char *buf, size_t size)
{
    if (rep->d && rep->d->class_names) return rep->d->class_names[c];
    snprintf(buf, size, "%lld", (long long)c);
    return buf;
}

static cJSON *class_json(const InversionReport *rep, int64_t k)
{
    char nb[32];
    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "class", (double)rep->labels[k]);
    cJSON_AddStringToObject(e, "name", class_name(rep, rep->labels[k], nb, sizeof nb));
    cJSON_AddNumberToObject(e, "cost", rep->r->cost[k]);
    cJSON_AddNumberToObject(e, "probability", rep->r->probability[k]);
    cJSON_AddNumberToObject(e, "iterations", (double)rep->r->iterations[k]);
    cJSON_AddNumberToObject(e, "best_iteration", (double)rep->r->best_iteration[k]);
    cJSON_AddStringToObject(e, "stop", foil_inversion_stop_name(rep->r->stop[k]));
    if (rep->match) {
        const foil_inversion_match *m = rep->match + k;
        cJSON_AddNumberToObject(e, "l2_to_own_mean", m->l2_own);
        cJSON_AddNumberToObject(e, "correlation_with_own_mean", m->corr_own);
        cJSON_AddNumberToObject(e, "own_mean_rank_l2", (double)m->rank_l2);
        cJSON_AddNumberToObject(e, "own_mean_rank_correlation", (double)m->rank_corr);
        cJSON_AddNumberToObject(e, "nearest_mean_l2", (double)m->nearest_l2);
    }
    return e;
}

/* How many reconstructions have their own class's mean first, by L2 and by correlation. */
static void count_firsts(const InversionReport *rep, int64_t *l2, int64_t *corr)
{
    *l2 = *corr = 0;
    for (int64_t k = 0; rep->match && k < rep->n; k++) {
        *l2 += rep->match[k].rank_l2 == 1;
        *corr += rep->match[k].rank_corr == 1;
    }
}

static cJSON *report_json(const InversionReport *rep)
{
    const InversionArgs *a = rep->a;
    cJSON *root = cJSON_CreateObject(), *set = cJSON_CreateObject(), *cls = cJSON_CreateArray();
    cJSON_AddStringToObject(root, "attack", "miface");
    cJSON_AddStringToObject(root, "model", a->model);
    if (rep->d) cJSON_AddStringToObject(root, "data", a->data.data);
    if (rep->d) cJSON_AddStringToObject(root, "means_from_split", a->split ? a->split : "train");
    cJSON_AddNumberToObject(set, "max_iter", (double)a->o.max_iter);
    cJSON_AddNumberToObject(set, "window_length", (double)a->o.window_length);
    cJSON_AddNumberToObject(set, "threshold", a->o.threshold);
    cJSON_AddNumberToObject(set, "learning_rate", a->o.learning_rate);
    cJSON_AddStringToObject(set, "init", a->init);
    cJSON_AddNumberToObject(set, "seed", (double)a->common.seed);
    cJSON_AddItemToObject(root, "settings", set);
    cJSON_AddNumberToObject(root, "seconds", rep->seconds);
    cJSON_AddNumberToObject(root, "gradients", (double)rep->gradients);
    if (rep->match) {
        int64_t l2, corr;
        count_firsts(rep, &l2, &corr);
        cJSON_AddNumberToObject(root, "own_mean_nearest_l2", (double)l2);
        cJSON_AddNumberToObject(root, "own_mean_most_correlated", (double)corr);
    }
    for (int64_t k = 0; k < rep->n; k++) cJSON_AddItemToArray(cls, class_json(rep, k));
    cJSON_AddItemToObject(root, "classes", cls);
    return root;
}

static void print_table(const InversionReport *rep)
{
    char nb[32];
    printf("%-8s %-10s %8s %8s %6s %-9s", "class", "name", "cost", "p", "steps", "stop");
    if (rep->match) printf(" %8s %6s %7s %9s", "L2 own", "corr", "rank L2", "rank corr");
    printf("\n");
    for (int64_t k = 0; k < rep->n; k++) {
        const int64_t c = rep->labels[k];
        printf("%-8lld %-10.10s %8.4f %8.4f %6lld %-9s", (long long)c, class_name(rep, c, nb, sizeof nb),
               rep->r->cost[k], rep->r->probability[k], (long long)rep->r->iterations[k],
               foil_inversion_stop_name(rep->r->stop[k]));
        if (rep->match)
            printf(" %8.2f %6.3f %7lld %9lld", rep->match[k].l2_own, rep->match[k].corr_own,
                   (long long)rep->match[k].rank_l2, (long long)rep->match[k].rank_corr);
        printf("\n");
    }
    int64_t l2, corr;
    count_firsts(rep, &l2, &corr);
    printf("miface: %lld classes in %.1f s (%lld gradients)", (long long)rep->n, rep->seconds,
           (long long)rep->gradients);
    if (rep->match)
        printf("; own class mean nearest in L2 for %lld, most correlated for %lld", (long long)l2, (long long)corr);
    printf("\n");
}

static foil_status write_outputs(const InversionReport *rep, const foil_tensor *means, const float *lower,
                                 const float *upper)
{
    const char *dir = rep->a->out;
    char path[4096];
    foil_status st = foilMakeDir(dir);
    const foil_tensor *x = &rep->r->x;
    if (!st && x->ndim == 4 && (x->shape[1] == 1 || x->shape[1] == 3)) {
        snprintf(path, sizeof path, "%s/inversion.png", dir);
        st = write_grid(path, x, rep->labels, rep->n, means, lower[0], upper[0]);
    }
    snprintf(path, sizeof path, "%s/inversion.npy", dir);
    if (!st) st = foil_npy_write(path, x);
    cJSON *root = st ? NULL : report_json(rep);
    char *text = root ? cJSON_Print(root) : NULL;
    snprintf(path, sizeof path, "%s/inversion.json", dir);
    if (!st) st = text ? foilWriteFileAtomic(path, text, strlen(text)) : foil_error(FOIL_ERR_NOMEM, "out of memory");
    free(text);
    cJSON_Delete(root);
    return st;
}

/* ------------------------------------------------------------------------- */
/* the command                                                               */

static int parse_args(int argc, char **argv, InversionArgs *a)
{
    foil_inversion_defaults(&a->o);
    a->init = "zeros";
    cli_option opts[] = {
        {"--attack", OPT_STRING, &a->attack, "miface", "the inversion attack (miface)", 1, 0},
        {"--model", OPT_STRING, &a->model, "FILE", "ONNX classifier (white box: MIFace needs its gradients)", 1, 0},
        {"--data", OPT_STRING, &a->data.data, "DATA", "the model's dataset, for the class means (optional)", 0, 0},
        {"--split", OPT_STRING, &a->split, "SPLIT", "whose means: train (default), test or all", 0, 0},
        {"--bounds", OPT_STRING, &a->bounds, "LOW,HIGH", "input range (default 0,1, or --data's)", 0, 0},
        {"--classes", OPT_STRING, &a->classes, "LIST", "classes to invert, numbers or --data's names (all)", 0, 0},
        {"--max-iter", OPT_INT, &a->o.max_iter, "N", "alpha: at most N steps (5000)", 0, 0},
        {"--window", OPT_INT, &a->o.window_length, "W", "beta: stop when the cost is no lower than the last W "
         "costs' highest (100; 0: never)", 0, 0},
        {"--threshold", OPT_FLOAT, &a->o.threshold, "T", "gamma: stop at a cost 1 - p at or below T (0.01)", 0, 0},
        {"--lr", OPT_FLOAT, &a->o.learning_rate, "L", "lambda: the step (0.1)", 0, 0},
        {"--init", OPT_STRING, &a->init, "START", "zeros (the paper's) or gray (the middle of the range)", 0, 0},
        {"--out", OPT_STRING, &a->out, "DIR", "write inversion.png, inversion.json and inversion.npy there", 1, 0},
    };
    int rc = cli_parse(&cli_inversion, argc, argv, opts, sizeof opts / sizeof opts[0], &a->common);
    if (rc) return rc;
    if (strcmp(a->attack, "miface") != 0)
        return cli_usage_error(&cli_inversion, "--attack %s: the inversion attack is miface", a->attack);
    if (strcmp(a->init, "zeros") != 0 && strcmp(a->init, "gray") != 0)
        return cli_usage_error(&cli_inversion, "--init must be zeros or gray, not '%s'", a->init);
    if (a->o.max_iter < 0 || a->o.window_length < 0 || !(a->o.learning_rate > 0) || !(a->o.threshold >= 0))
        return cli_usage_error(&cli_inversion, "--max-iter and --window must be >= 0, --lr > 0, --threshold >= 0");
    if (a->bounds && a->data.data)
        return cli_usage_error(&cli_inversion, "--bounds comes from --data's range; give one or the other");
    a->o.quiet = a->common.quiet;
    return cli_parse_bounds(&cli_inversion, a->bounds, &a->data);
}

/* Load --data's split (when given). */
static int load_data(InversionArgs *a, foil_dataset *d, int *have)
{
    *have = a->data.data != NULL;
    if (!*have) return CLI_OK;
    foil_split split = FOIL_SPLIT_TRAIN;
    if (a->split && cli_parse_split(&cli_inversion, "--split", a->split, &split)) return CLI_USAGE_ERROR;
    a->data.seed = (uint64_t)a->common.seed;
    foil_status st = foil_data_load(&a->data, split, d);
    return st ? cli_fail(&cli_inversion, st) : CLI_OK;
}

typedef struct InversionRun {
    foil_model *m;
    foil_dataset d;
    int have_data;
    int64_t *labels, n;
    float *lower, *upper;
    foil_tensor start, means;
    foil_inversion_result r;
    foil_inversion_match *match;
} InversionRun;

static void run_free(InversionRun *r)
{
    foil_model_free(r->m);
    foil_dataset_free(&r->d);
    free(r->labels);
    free(r->lower);
    free(r->upper);
    foil_tensor_free(&r->start);
    foil_tensor_free(&r->means);
    foil_inversion_result_free(&r->r);
    free(r->match);
}

/* Everything the descent needs: model, data, classes, bounds and start. */
static int prepare(InversionArgs *a, InversionRun *run)
{
    foil_status st = foil_model_load(a->model, &run->m);
    if (st) return cli_fail(&cli_inversion, st);
    int rc = load_data(a, &run->d, &run->have_data);
    if (rc) return rc;
    int64_t classes;
    if ((st = foil_model_num_classes(run->m, &classes))) return cli_fail(&cli_inversion, st);
    if (run->have_data && run->d.classes > classes)
        return cli_fail(&cli_inversion, foil_error(FOIL_ERR_SHAPE, "%s has %lld classes, the model %lld",
                                                   a->data.data, (long long)run->d.classes, (long long)classes));
    if ((rc = parse_classes(a->classes, run->have_data ? &run->d : NULL, classes, &run->labels, &run->n))) return rc;
    const int rank = foil_model_input_rank(run->m);
    const int64_t *in = foil_model_input_shape(run->m);
    int64_t shape[FOIL_MAX_DIMS] = {run->n}, values = 1;
    for (int j = 1; j < rank; j++) {
        if (in[j] < 1) return cli_fail(&cli_inversion, foil_error(FOIL_ERR_SHAPE, "%s: the input's dimension %d is "
                                                                  "not fixed; MIFace needs the image size", a->model, j));
        values *= shape[j] = in[j];
    }
    foil_tensor like = {.dtype = FOIL_F32, .ndim = rank};
    if (rank < 2 || (st = foil_tensor_set_shape(&like, FOIL_F32, rank, shape)))
        return cli_fail(&cli_inversion, rank < 2 ? foil_error(FOIL_ERR_SHAPE, "%s declares no input shape", a->model) : st);
    st = make_bounds(a, run->have_data ? &run->d : NULL, values, &run->lower, &run->upper);
    if (!st) st = make_start(a->init, &like, run->lower, run->upper, &run->start);
    return st ? cli_fail(&cli_inversion, st) : CLI_OK;
}

/* The class means and each reconstruction against them. */
static foil_status judge(InversionRun *run)
{
    if (!run->have_data) return FOIL_OK;
    foil_status st = foil_inversion_class_means(&run->d, &run->means);
    run->match = st ? NULL : calloc((size_t)run->n, sizeof *run->match);
    if (!st && !run->match) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    if (!st) st = foil_inversion_compare(&run->r.x, run->labels, run->n, &run->means, run->match);
    return st;
}

int cli_infer_inversion(int argc, char **argv)
{
    InversionArgs a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    cli_apply_common(&a.common);
    InversionRun run = {0};
    rc = prepare(&a, &run);
    foil_status st = FOIL_OK;
    double t0 = foil_now();
    if (!rc) st = foil_miface(run.m, run.labels, run.n, run.lower, run.upper, &run.start, &a.o, &run.r);
    InversionReport rep = {&a, run.have_data ? &run.d : NULL, run.labels, run.n, &run.r, NULL, foil_now() - t0,
                           run.m ? foil_model_gradients(run.m) : 0};
    if (!rc && !st) st = judge(&run);
    rep.match = run.match;
    if (!rc && !st) st = write_outputs(&rep, run.have_data ? &run.means : NULL, run.lower, run.upper);
    if (!rc && !st) {
        print_table(&rep);
        printf("wrote inversion.json, inversion.npy%s in %s\n", run.r.x.ndim == 4 ? " and inversion.png" : "", a.out);
    }
    if (!rc && st) rc = cli_fail(&cli_inversion, st);
    run_free(&run);
    return rc;
}
