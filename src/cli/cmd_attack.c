/*
 * cli/cmd_attack.c - `foil attack`: run one evasion attack (or a sweep over
 * eps) on a model and a labelled dataset, and report clean and robust
 * accuracy, success rate, perturbation norms, queries and speed.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "core/dist.h"
#include "report/report.h"
#include "foil/evasion.h"
#include "foil/eval.h"
#include "foil/data.h"
#include "foil/defense.h"
#include "foil/npy.h"
#include "foil/text_attack.h"

static int run_attack(int argc, char **argv);

const cli_command cli_attack = {
    "attack", "run an evasion attack and report robust accuracy",
    "(--model M.onnx | --endpoint URL | --command CMD) --data DATA --attack NAME --eps E[,E...] [--norm linf|l2|l1] [--limit N] [--json]",
    "Attacks the first N examples (default: all) of DATA (a built-in dataset's\n"
    "test split; every example of your own file, unless --split says otherwise)\n"
    "and reports clean accuracy, robust accuracy, the attack's success rate on\n"
    "the correctly classified examples, the median and max perturbation of the\n"
    "fooled ones, gradients and queries per attacked example, and speed.\n"
    "Images (NCHW) have one input range, [0, 1] unless --bounds LOW,HIGH says\n"
    "otherwise (uint8 pixels span it: --bounds 0,255 feeds raw bytes, and eps is\n"
    "then in 0-255 units too); --bounds on tabular data sets every feature's\n"
    "range (default: each feature's range in the file). A model trained on\n"
    "normalized inputs takes --normalize MEAN[,MEAN...]/STD[,STD...] (one value\n"
    "or one per channel): foil puts (x - mean) / std into the model, so the\n"
    "attack, eps and --out are in pixel space. universal and patch learn on\n"
    "--fit-split (default train) and, on your own file, are tested on its test\n"
    "split unless --split says otherwise, so that the two never overlap.\n"
    "A comma-separated --eps runs a sweep; a comma-separated --attack runs each\n"
    "attack (at each eps) on the same examples. Adversarial examples always lie in the\n"
    "data's bounds and within eps; foil checks every one before reporting.\n"
    "--json prints one object per run (a list for several) with the keys\n"
    "clean_accuracy, robust_accuracy, success_rate, median_norm, max_norm,\n"
    "empirical_robustness, mean_queries, mean_gradients, zero_gradient_fraction,\n"
    "seconds, images_per_second. empirical_robustness is ART's: the mean over\n"
    "fooled examples of ||adv - x|| / ||x|| in --norm (minimal attacks print it).\n"
    "zero_gradient_fraction (zero_grad in the table): of the examples whose input\n"
    "gradient the attack took, the share whose first gradient was exactly zero or\n"
    "non-finite (null, '-', for black-box attacks); above 1% a warning on stderr\n"
    "names the cause (a saturated softmax) and what to run instead.\n"
    "Tabular data: --immutable and --integer take comma-separated feature names\n"
    "or 0-based indices; --constraints FILE gives the same as lines \"immutable NAMES\",\n"
    "\"integer NAMES\" and \"bounds NAME LOW HIGH\" ('#' comments). The report adds how\n"
    "many features changed and by how much.\n"
    "A defense: --preprocess LIST puts preprocessors in front of the model, in\n"
    "order: squeeze:bits=B (bit-depth reduction), median:size=K (median smoothing,\n"
    "K x K), blur:sigma=S (Gaussian smoothing), jpeg:quality=Q (JPEG, libjpeg-turbo),\n"
    "tv:lambda=L (total-variation minimization, randomized), noise:sigma=S\n"
    "(Gaussian noise, randomized). Every gradient attack then runs twice: as\n"
    "given (the exact derivative, one random draw; where there is none, JPEG\n"
    "and TV, crafted on the model alone and judged through the defense: rows\n"
    "NAME+transfer), and adaptively (rows NAME+bpda, NAME+bpda+eot: BPDA through\n"
    "every preprocessor, and for a randomized defense EOT over --eot draws, 16\n"
    "by default); score- and\n"
    "decision-based attacks run adaptively too against a randomized defense. When\n"
    "the adaptive attack leaves more than 5 points less robust accuracy, a warning\n"
    "says that the defense relies on gradient masking. --out writes the adaptive\n"
    "attack's examples. --plot FILE.svg charts robust accuracy against eps, one\n"
    "curve per row, from the clean accuracy at eps 0; with --preprocess it also\n"
    "attacks the model without the defense (rows NAME (no defense)), so each\n"
    "defense's curves lie next to the undefended model's.\n"
    "Text classifiers: --attack deepwordbug, homoglyph, textbugger or hotflip on a\n"
    "file of LABEL<TAB>MESSAGE lines takes other options: foil attack --attack\n"
    "deepwordbug --help lists them.",
    run_attack,
    CLI_DISTRIBUTED,
};

typedef struct attack_args {
    cli_model_source source;
    const char *attack, *norm, *eps, *split, *targeted, *target_labels, *params, *out, *plot;
    const char *bounds, *normalize;
    const char *output_mode;
    cli_defense_args defense;
    int64_t query_budget;
    int black_box;
    const char *immutable, *integer, *constraints;
    foil_data_spec data;
    const char *fit_split;
    int64_t limit, fit_limit, steps, restarts, queries, batch;
    double step_size;
    int json;
} attack_args;

/* ---- options ---- */

/* Split the comma-separated --attack list (in place) and look each name up. */
static int parse_attack_list(char *list, const foil_evasion_info **infos, int max, int *count)
{
    *count = 0;
    for (char *name = strtok(list, ","); name; name = strtok(NULL, ",")) {
        if (*count == max) return cli_usage_error(&cli_attack, "--attack: at most %d attacks", max);
        infos[*count] = foil_evasion_find(name);
        if (!infos[*count]) return cli_usage_error(&cli_attack, "unknown attack '%s' (see --help for the list)", name);
        (*count)++;
    }
    if (!*count) return cli_usage_error(&cli_attack, "--attack is empty");
    return CLI_OK;
}

static int parse_target_mode(const char *s, foil_target_mode *mode)
{
    if (!s) *mode = FOIL_UNTARGETED;
    else if (strcmp(s, "random") == 0) *mode = FOIL_TARGET_RANDOM;
    else if (strcmp(s, "least-likely") == 0) *mode = FOIL_TARGET_LEAST_LIKELY;
    else if (strcmp(s, "given") == 0) *mode = FOIL_TARGET_GIVEN;
    else return cli_usage_error(&cli_attack, "--targeted must be random, least-likely or given, not '%s'", s);
    return CLI_OK;
}

/* Mark the features of a comma-separated --immutable/--integer list. */
static int parse_feature_list(const char *opt, const char *list, const foil_dataset *d, uint8_t *mask)
{
    if (list && foil_features_mark(d, list, mask))
        return cli_usage_error(&cli_attack, "%s: %s", opt, foil_last_error());
    return CLI_OK;
}

/* ---- output ---- */

static double nan_to_zero(double v) { return isnan(v) ? 0 : v; }

static void print_header(const attack_args *a, const foil_dataset *d, const foil_threat *t, int64_t n,
                         const foil_model *model)
{
    printf("%s norm on %s, %s split, %lld examples, model %s (%s), seed %llu\n", foil_norm_name(t->norm), d->name,
           a->split, (long long)n, foil_model_name(model), foil_model_kind(model), (unsigned long long)t->seed);
    printf("  %-18s %-7s %8s %8s %8s %11s %11s %9s %9s %10s %8s %8s\n", "attack", "eps", "clean", "robust", "success",
           "median_norm", "max_norm", "grads/ex", "zero_grad", "queries/ex", "seconds", "img/s");
}

static void print_row(const char *name, const foil_threat *t, const foil_evasion_summary *s,
                      const foil_evasion_result *r, const foil_tensor *x, int tabular, int minimal)
{
    char zero_grad[16] = "-"; /* black-box: no gradients */
    if (!isnan(s->zero_gradient_fraction))
        snprintf(zero_grad, sizeof zero_grad, "%.2f%%", 100 * s->zero_gradient_fraction);
    printf("  %-18s %-7g %7.2f%% %7.2f%% %7.2f%% %11.4g %11.4g %9.1f %9s %10.1f %8.2f %8.1f\n", name, t->eps,
           100 * s->clean_accuracy, 100 * s->robust_accuracy, 100 * s->success_rate, nan_to_zero(s->median_norm),
           nan_to_zero(s->max_norm), s->mean_grads, zero_grad, s->mean_queries, s->seconds, s->images_per_second);
    if (tabular) {
        double changed, mean_abs;
        foil_evasion_change_stats(r, x, &changed, &mean_abs);
        printf("           fooled examples changed %.2f features on average, by %.4g on average\n", changed,
               mean_abs);
    }
    if (minimal) {
        double rho = foil_evasion_empirical_robustness(r, x, t->norm);
        if (!isnan(rho))
            printf("           empirical robustness (mean ||adv - x|| / ||x|| of the fooled, %s): %.4g\n",
                   foil_norm_name(t->norm), rho);
    }
}

/* Warnings go to stderr, line by line (each names its attack), so that they
 * reach a person even when stdout is JSON for a pipeline (which also gets
 * them, as "warnings"). */
static void print_warnings(double eps, const foil_evasion_result *r)
{
    for (const char *line = r->warnings; *line;) {
        size_t len = strcspn(line, "\n");
        fprintf(stderr, "foil attack: warning at eps %g: %.*s\n", eps, (int)len, line);
        line += len + (line[len] == '\n');
    }
}

/* ---- the command ---- */

/* The adaptive attack found the defense weaker than the plain one did:
 * say so where a person reads it, whatever stdout is. */
static void compare_adaptive(const char *name, double eps, const foil_evasion_summary *plain,
                             const foil_evasion_summary *adapted, const char *tag)
{
    double gap = plain->robust_accuracy - adapted->robust_accuracy;
    if (gap > 0.05)
        fprintf(stderr, "foil attack: warning at eps %g: %s leaves %.2f%% robust against the defense as given but "
                "%.2f%% once it adapts (%s): this defense relies on gradient masking; the adaptive figure is the "
                "one to report\n", eps, name, 100 * plain->robust_accuracy, 100 * adapted->robust_accuracy, tag + 1);
}

/* --black-box, --output-mode, --query-budget: the model answers queries
 * only, as a deployed API does. */
static int hide_model(const attack_args *a, uint64_t seed, foil_model **model)
{
    if (!a->black_box && !a->output_mode && !a->query_budget) return CLI_OK;
    foil_output output = {0};
    foil_status st = a->output_mode ? foil_output_parse(a->output_mode, &output) : FOIL_OK;
    if (st) return cli_usage_error(&cli_attack, "--output-mode: %s", foil_last_error());
    output.seed = seed; /* noise=SCALE on queries the attack does not seed itself */
    foil_model *inner = *model;
    *model = NULL;
    st = foil_model_black_box(inner, a->query_budget, &output, model);
    return st ? cli_fail(&cli_attack, st) : CLI_OK;
}

/* --plot: robust accuracy against eps, one series per row name; each
 * starts at eps 0 with the clean accuracy. */
enum { PLOT_MAX_SERIES = 32, PLOT_MAX_POINTS = 66 };
typedef struct plot_series {
    char name[64];
    int n;
    double x[PLOT_MAX_POINTS], y[PLOT_MAX_POINTS];
} plot_series;

static void plot_add(plot_series *ps, int *n_series, const char *name, double eps, const foil_evasion_summary *s)
{
    plot_series *p = NULL;
    for (int k = 0; k < *n_series && !p; k++)
        if (strcmp(ps[k].name, name) == 0) p = &ps[k];
    if (!p) {
        if (*n_series == PLOT_MAX_SERIES) return;
        p = &ps[(*n_series)++];
        snprintf(p->name, sizeof p->name, "%s", name);
        p->n = 0;
        p->x[p->n] = 0, p->y[p->n++] = s->clean_accuracy;
    }
    if (p->n == PLOT_MAX_POINTS) return;
    int at = p->n;
    while (at > 0 && p->x[at - 1] >= eps) at--;
    if (at < p->n && p->x[at] == eps) { /* eps 0: the attack's own figure replaces the clean point */
        p->y[at] = s->robust_accuracy;
        return;
    }
    memmove(p->x + at + 1, p->x + at, (size_t)(p->n - at) * sizeof *p->x);
    memmove(p->y + at + 1, p->y + at, (size_t)(p->n - at) * sizeof *p->y);
    p->x[at] = eps, p->y[at] = s->robust_accuracy, p->n++;
}

static int plot_save(const char *path, const plot_series *ps, int n, const char *norm)
{
    FoilChartSeries series[PLOT_MAX_SERIES];
    for (int k = 0; k < n; k++) series[k] = (FoilChartSeries){ps[k].name, ps[k].n, ps[k].x, ps[k].y};
    char x_label[32];
    snprintf(x_label, sizeof x_label, "eps (%s)", norm);
    FoilChart chart = {.x_label = x_label, .y_label = "robust accuracy", .y_percent = 1, .series = series,
                       .n_series = n};
    foil_status st = foilSvgChartSave(path, &chart);
    return st ? cli_fail(&cli_attack, st) : CLI_OK;
}

/* The model without its defense, for the attacker unaware of one. */
static int open_bare_model(const attack_args *a, foil_model **bare)
{
    int rc = cli_open_model(&cli_attack, &a->source, bare);
    if (!rc) rc = cli_apply_normalize(&cli_attack, a->normalize, *bare);
    return rc;
}

static int load_inputs(const attack_args *a, foil_split split, int64_t limit, foil_dataset *d, foil_tensor *targets)
{
    foil_status st = foil_data_load(&a->data, split, d);
    if (st) return cli_fail(&cli_attack, st);
    cli_limit_examples(d, limit);
    if (targets && a->target_labels) {
        if ((st = foil_npy_read_labels(a->target_labels, targets))) return cli_fail(&cli_attack, st);
        if (targets->numel < d->y.numel)
            return cli_usage_error(&cli_attack, "%s holds %lld target labels for %lld examples", a->target_labels,
                                   (long long)targets->numel, (long long)d->y.numel);
    }
    return CLI_OK;
}

static int check_args(const attack_args *a, const foil_evasion_info *const *infos, int n_attacks, foil_norm norm,
                      const double *eps, int n_eps, foil_target_mode mode)
{
    for (int i = 0; i < n_attacks; i++) {
        const foil_evasion_info *info = infos[i];
        if (!(info->norms & (1u << norm)))
            return cli_usage_error(&cli_attack, "%s does not support --norm %s", info->name, a->norm);
        for (int k = 0; k < n_eps; k++)
            if (eps[k] == 0 && !info->minimal)
                return cli_usage_error(&cli_attack, "%s needs --eps > 0", info->name);
        if (mode != FOIL_UNTARGETED && !info->targeted)
            return cli_usage_error(&cli_attack, "%s has no targeted mode", info->name);
    }
    if (mode == FOIL_TARGET_GIVEN && !a->target_labels)
        return cli_usage_error(&cli_attack, "--targeted given needs --target-labels FILE.npy");
    if (a->target_labels && mode != FOIL_TARGET_GIVEN)
        return cli_usage_error(&cli_attack, "--target-labels needs --targeted given");
    if (a->out && (n_eps > 1 || n_attacks > 1))
        return cli_usage_error(&cli_attack, "--out needs a single --attack and a single --eps");
    if (a->query_budget < 0) return cli_usage_error(&cli_attack, "--query-budget must be >= 0");
    if (a->limit < 0 || a->fit_limit < 0 || a->steps < 0 || a->restarts < 0 || a->queries < 0 || a->step_size < 0 || a->batch < 1)
        return cli_usage_error(&cli_attack, "--limit, --fit-limit, --steps, --restarts, --queries, --step-size must be >= 0 "
                                            "and --batch >= 1");
    return CLI_OK;
}

static void print_attack_list(void)
{
    printf("\nattacks (the README gives each one's paper and defaults):\n");
    for (int i = 0; i < foil_evasion_count(); i++) {
        const foil_evasion_info *info = foil_evasion_at(i);
        char norms[32] = "";
        for (int k = 0; k < 4; k++)
            if (info->norms & (1u << k))
                snprintf(norms + strlen(norms), sizeof norms - strlen(norms), "%s%s", norms[0] ? "," : "",
                         foil_norm_name((foil_norm)k));
        printf("  %-12s [%s%s] %s\n", info->name, norms, info->black_box ? ", black-box" : "", info->summary);
    }
}

/* Whether --attack names a text attack (deepwordbug, homoglyph, textbugger, hotflip):
 * those run on messages, in cmd_attack_text.c. */
/* The text attacks' names are foil/text_attack.h's: one table for both. */
static int is_text_attack(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *name = strcmp(argv[i], "--attack") == 0 && i + 1 < argc ? argv[i + 1]
                           : strncmp(argv[i], "--attack=", 9) == 0      ? argv[i] + 9
                                                                        : NULL;
        for (int k = FOIL_TEXT_DEEPWORDBUG; name && k <= FOIL_TEXT_HOTFLIP; k++)
            if (strcmp(name, foil_text_attack_name((foil_text_attack_kind)k)) == 0) return 1;
    }
    return 0;
}

static int run_attack(int argc, char **argv)
{
    if (is_text_attack(argc, argv)) return cli_run_attack_text(argc, argv);
    attack_args a = {0};
    a.norm = "linf";
    a.source.retries = -1;
    a.batch = 250;
    a.fit_split = "train";
    a.fit_limit = 2000;
    cli_option opts[] = {
        CLI_MODEL_SOURCE_OPTIONS(a.source),
        CLI_DATA_OPTIONS(a.data),
        CLI_SPLIT_OPTIONS(a.split, a.bounds, a.normalize),
        {"--limit", OPT_INT, &a.limit, "N", "attack the first N examples (default: all)", 0, 0},
        {"--attack", OPT_STRING, &a.attack, "NAME[,...]", "attack(s) to run (list below)", 1, 0},
        {"--norm", OPT_STRING, &a.norm, "NORM", "linf (default), l2, l1 or l0", 0, 0},
        {"--eps", OPT_STRING, &a.eps, "E[,E...]", "perturbation budget(s); 0 = unbounded (minimal attacks)", 1, 0},
        {"--steps", OPT_INT, &a.steps, "K", "iterations (default: the attack's)", 0, 0},
        {"--step-size", OPT_FLOAT, &a.step_size, "A", "step size (default: the attack's)", 0, 0},
        {"--restarts", OPT_INT, &a.restarts, "R", "random restarts (default: the attack's)", 0, 0},
        {"--queries", OPT_INT, &a.queries, "Q", "query budget per example, black-box attacks", 0, 0},
        {"--targeted", OPT_STRING, &a.targeted, "MODE", "random, least-likely or given (default: untargeted)", 0, 0},
        {"--target-labels", OPT_STRING, &a.target_labels, "FILE", "NPY target classes for --targeted given", 0, 0},
        {"--params", OPT_STRING, &a.params, "K=V,...", "attack-specific settings (see the README)", 0, 0},
        {"--immutable", OPT_STRING, &a.immutable, "LIST", "tabular: features the attack may not change", 0, 0},
        {"--integer", OPT_STRING, &a.integer, "LIST", "tabular: features that must stay integers", 0, 0},
        {"--constraints", OPT_STRING, &a.constraints, "FILE", "tabular: rules file (immutable, integer, bounds)", 0, 0},
        {"--fit-split", OPT_STRING, &a.fit_split, "SPLIT", "universal/patch: learn on this split (default train)", 0, 0},
        {"--fit-limit", OPT_INT, &a.fit_limit, "N", "universal/patch: learn on its first N examples (default 2000)", 0,
         0},
        {"--batch", OPT_INT, &a.batch, "B", "examples attacked together (default 250)", 0, 0},
        CLI_DEFENSE_OPTIONS(a.defense),
        {"--bpda", OPT_FLAG, &a.defense.bpda, NULL, "run only the adaptive attack (BPDA, and EOT if randomized)", 0,
         0},
        {"--no-adaptive", OPT_FLAG, &a.defense.no_adaptive, NULL, "run only the attack unaware of --preprocess", 0,
         0},
        {"--black-box", OPT_FLAG, &a.black_box, NULL, "the model only answers queries: no gradients", 0, 0},
        {"--output-mode", OPT_STRING, &a.output_mode, "MODE",
         "what a query returns: logits, probabilities, top-k=K, round=D, labels, reverse-sigmoid[=BETA,GAMMA], "
         "noise=SCALE (implies --black-box)", 0, 0},
        {"--query-budget", OPT_INT, &a.query_budget, "Q", "at most Q queries of the model in all (implies --black-box)",
         0, 0},
        {"--out", OPT_STRING, &a.out, "FILE.npy", "write the adversarial examples", 0, 0},
        {"--plot", OPT_STRING, &a.plot, "FILE.svg", "chart robust accuracy against eps, one curve per row", 0, 0},
        {"--json", OPT_FLAG, &a.json, NULL, "print the results as JSON", 0, 0},
    };
    cli_common common;
    int rc = cli_parse(&cli_attack, argc, argv, opts, sizeof opts / sizeof opts[0], &common);
    if (rc == CLI_HELP_SHOWN) print_attack_list();
    if (rc) return rc;
    int norm = foil_norm_parse(a.norm);
    if (norm < 0) return cli_usage_error(&cli_attack, "--norm must be linf, l2, l1 or l0, not '%s'", a.norm);
    double eps[64];
    int n_eps;
    foil_target_mode mode = FOIL_UNTARGETED;
    foil_split split = FOIL_SPLIT_TEST;
    if ((rc = cli_parse_numbers(&cli_attack, "--eps", a.eps, 0, 0, eps, 64, &n_eps)) ||
        (rc = parse_target_mode(a.targeted, &mode)))
        return rc;
    if (!n_eps) return cli_usage_error(&cli_attack, "--eps is empty");
    foil_split fit_split = FOIL_SPLIT_TRAIN;
    char attack_list[512];
    snprintf(attack_list, sizeof attack_list, "%s", a.attack);
    const foil_evasion_info *infos[16];
    int n_attacks, fits = 0;
    if ((rc = parse_attack_list(attack_list, infos, 16, &n_attacks)) ||
        (rc = check_args(&a, infos, n_attacks, (foil_norm)norm, eps, n_eps, mode)))
        return rc;
    for (int i = 0; i < n_attacks; i++) fits |= infos[i]->fits;
    if (fits && !a.split) a.split = "test"; /* held out from --fit-split */
    if ((rc = cli_data_split(&cli_attack, a.split, a.data.data, &split, &a.split)) ||
        (rc = cli_parse_split(&cli_attack, "--fit-split", a.fit_split, &fit_split)) ||
        (rc = cli_parse_bounds(&cli_attack, a.bounds, &a.data)))
        return rc;
    cli_apply_common(&common);
    a.data.seed = (uint64_t)common.seed;

    foil_dataset d = {0}, fit = {0};
    foil_tensor targets = {0};
    foil_model *model = NULL, *adaptive = NULL, *bare = NULL;
    plot_series series[PLOT_MAX_SERIES];
    int n_series = 0;
    uint8_t *immutable = NULL, *integer = NULL;
    cJSON *list = cJSON_CreateArray();
    if ((rc = load_inputs(&a, split, a.limit, &d, &targets))) goto agree;
    if (fits && (rc = load_inputs(&a, fit_split, a.fit_limit, &fit, NULL))) goto agree;
    foil_status st;
    if ((rc = cli_open_model(&cli_attack, &a.source, &model))) goto agree;
    if ((rc = cli_apply_normalize(&cli_attack, a.normalize, model)) ||
        (rc = cli_check_model_input(&cli_attack, model, &d.x, a.data.data)) ||
        (rc = cli_defend_model(&cli_attack, &a.defense, &a.source, a.normalize, &d, (uint64_t)common.seed, &model, &adaptive)) ||
        (rc = hide_model(&a, (uint64_t)common.seed, &model)) ||
        (adaptive && (rc = hide_model(&a, (uint64_t)common.seed, &adaptive))))
        goto agree;
    int64_t f = foil_dataset_example_size(&d);
    if (a.immutable || a.integer || a.constraints) {
        immutable = calloc((size_t)f, 1);
        integer = calloc((size_t)f, 1);
        if (!immutable || !integer) {
            rc = cli_fail(&cli_attack, foil_error(FOIL_ERR_NOMEM, "out of memory"));
            goto agree;
        }
        if ((rc = parse_feature_list("--immutable", a.immutable, &d, immutable)) ||
            (rc = parse_feature_list("--integer", a.integer, &d, integer)))
            goto agree;
        if (a.constraints && (st = foil_constraints_load(a.constraints, &d, immutable, integer, foil_f32(&d.lower),
                                                         foil_f32(&d.upper)))) {
            rc = cli_fail(&cli_attack, st);
            goto agree;
        }
    }
agree:
    /* Every rank has its inputs, or none goes on (and rank 0 says which failed). */
    if ((st = foilDistAgree(rc ? FOIL_ERR_ARG : FOIL_OK)) && !rc) rc = cli_fail(&cli_attack, st);
    if (rc) goto done;
    foil_threat t = {0};
    t.norm = (foil_norm)norm;
    t.lower = foil_f32(&d.lower);
    t.upper = foil_f32(&d.upper);
    t.immutable = immutable;
    t.integer = integer;
    t.target_mode = mode;
    t.targets = targets.data ? foil_i64(&targets) : NULL;
    t.steps = a.steps;
    t.step_size = (float)a.step_size;
    t.restarts = a.restarts;
    t.queries = a.queries;
    t.seed = (uint64_t)common.seed;
    foil_evasion_options opt = {.params = a.params, .batch = a.batch, .quiet = common.quiet};
    if (fits) {
        opt.fit_x = &fit.x;
        opt.fit_y = foil_i64(&fit.y);
    }
    const int tabular = !d.is_image;
    const int printer = foilDistRank() == 0; /* rank 0 alone prints and writes */
    if (!a.json && printer) print_header(&a, &d, &t, d.x.shape[0], model);
    int n_runs = n_attacks * n_eps;
    for (int run = 0; run < n_runs && !rc; run++) {
        const foil_evasion_info *info = infos[run / n_eps];
        int k = run % n_eps;
        t.eps = (float)eps[k];
        /* the adaptive attack runs where it differs: gradients through the
         * defense, or EOT over a randomized one */
        int both = adaptive && (info->needs == FOIL_NEEDS_GRADIENTS ||
                                (foil_model_capabilities(model) & FOIL_MODEL_RANDOMIZED));
        foil_evasion_summary plain = {0};
        /* A preprocessor without a derivative (JPEG, TV) leaves the plain
         * gradient attack nothing to follow: the attacker unaware of it
         * crafts on the model alone, and the examples are judged through
         * the defense ("+transfer"). */
        int transfer = both && info->needs == FOIL_NEEDS_GRADIENTS &&
                       !(foil_model_capabilities(model) & FOIL_MODEL_GRADIENTS);
        /* --plot with a defense: its curves next to the model's own */
        int with_bare = a.plot && a.defense.preprocess && !transfer;
        if ((transfer || with_bare) && !bare && (rc = open_bare_model(&a, &bare))) break;
        for (int pass = 0; pass <= 2 && !rc; pass++) {
            if ((pass == 1 && !both) || (pass == 2 && !with_bare)) continue;
            char name[64];
            snprintf(name, sizeof name, "%s%s", info->name,
                     pass == 1 ? cli_adaptive_tag(model) : pass == 2 ? " (no defense)" : transfer ? "+transfer" : "");
            foil_evasion_result r = {0};
            foil_evasion_summary s;
            foil_model *target = pass == 1 ? adaptive : pass == 2 || transfer ? bare : model;
            if ((st = cli_shard_attack(info->name, target, &d.x, foil_i64(&d.y), &t, &opt, &r))) {
                rc = cli_fail(&cli_attack, st);
                break;
            }
            if (!printer) continue;
            if (pass == 0 && transfer) {
                char own[64];
                snprintf(own, sizeof own, "%s (no defense)", info->name);
                foil_evasion_summarize(&r, &s);
                if (a.plot) plot_add(series, &n_series, own, eps[k], &s);
                if ((st = foil_evasion_judge(model, &d.x, foil_i64(&d.y), &t, &r))) {
                    foil_evasion_result_free(&r);
                    rc = cli_fail(&cli_attack, st);
                    break;
                }
            }
            foil_evasion_summarize(&r, &s);
            if (a.plot) plot_add(series, &n_series, name, eps[k], &s);
            if (a.json) {
                char eps_text[32];
                snprintf(eps_text, sizeof eps_text, "%g", eps[k]);
                cJSON_AddItemToArray(list, foilReportAttackJson(name, eps_text, &t, &s, &r, &d.x, tabular, target));
            }
            else print_row(name, &t, &s, &r, &d.x, tabular, info->minimal);
            print_warnings(eps[k], &r);
            if (pass == 1) compare_adaptive(info->name, eps[k], &plain, &s, cli_adaptive_tag(model));
            if (pass == 0) plain = s;
            /* --out keeps the strongest attack's examples: the adaptive one's when it ran */
            if (pass == both && a.out && (st = foil_npy_write(a.out, &r.adv))) rc = cli_fail(&cli_attack, st);
            foil_evasion_result_free(&r);
        }
    }
    if (!rc && a.plot && printer) rc = plot_save(a.plot, series, n_series, a.norm);
    if (!rc && a.json && printer) {
        char *text = cJSON_PrintUnformatted(cJSON_GetArraySize(list) == 1 ? cJSON_GetArrayItem(list, 0) : list);
        puts(text);
        free(text);
    }
done:
    cJSON_Delete(list);
    free(immutable);
    free(integer);
    foil_model_free(model);
    foil_model_free(adaptive);
    foil_model_free(bare);
    foil_tensor_free(&targets);
    foil_dataset_free(&d);
    foil_dataset_free(&fit);
    return rc;
}
