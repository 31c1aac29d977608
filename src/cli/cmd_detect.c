/*
 * cli/cmd_detect.c - `foil detect`: adversarial-example detectors,
 * calibrated on clean data, scored against each attack as the attack runs
 * unaware of the detector and against the attacker who evades it
 * (orthogonal PGD), side by side.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "eval/detection_row.h"
#include "report/report.h"
#include "foil/detect.h"
#include "foil/eval.h"

static int run_detect(int argc, char **argv);

const cli_command cli_detect = {
    "detect", "adversarial-example detectors: calibrated, scored per attack, and attacked adaptively",
    "--model M.onnx --data DATA --eps E [--detector LIST] [--attack LIST] [--fpr F] [--json]",
    "Calibrates each detector of LIST (default: all) on clean images, then\n"
    "reports how well it tells clean test images from adversarial ones, for\n"
    "attackers unaware of it and for one who evades it. The detectors:\n"
    "  squeeze      feature squeezing (Xu, Evans, Qi 2018): the largest L1 distance\n"
    "               between the softmax on x and on each --squeezers version of x\n"
    "  max-softmax  minus the top softmax probability (Hendrycks, Gimpel 2017)\n"
    "  energy       -T logsumexp(logits / T) (Liu et al. 2020)\n"
    "  mahalanobis  Lee et al. 2018's class-conditional Gaussian score on the\n"
    "               penultimate features (one layer, no input pre-processing),\n"
    "               fitted on --fit-limit training images\n"
    "The threshold flags at most --fpr of --calibration clean test images (those\n"
    "after the first --limit, which are attacked). Each attack of --attack\n"
    "(Linf, --eps) runs on the first --limit test images, unaware of the\n"
    "detector; its fooled examples are the positives of the ROC AUC and the\n"
    "TPR at the threshold.\n"
    "Then, per detector, orthogonal PGD (Bryniarski et al. 2022) attacks the\n"
    "model and the detector together, and Selective PGD (the same steps\n"
    "unprojected) the images it did not get through: 'evaded' counts the\n"
    "attacked images that end misclassified AND below the threshold. A\n"
    "detector whose evaded rate rises by more than 5 points under this\n"
    "adaptive attack gets a warning: it only stops attackers who do not know\n"
    "it is there.",
    run_detect,
    0,
};

typedef struct detect_args {
    const char *model, *detectors, *attacks, *squeezers, *feature_layer, *bounds, *normalize;
    foil_data_spec data;
    double eps, fpr, temperature;
    int64_t limit, calibration, fit_limit, steps, adaptive_steps, batch;
    int no_adaptive, json;
} detect_args;

enum { MAX_ATTACKS = 8 };

static int check_args(const detect_args *a)
{
    if (!(a->eps > 0)) return cli_usage_error(&cli_detect, "--eps must be positive");
    if (!(a->fpr > 0 && a->fpr < 1)) return cli_usage_error(&cli_detect, "--fpr must lie strictly between 0 and 1");
    if (a->limit < 1 || a->calibration < 1 || a->fit_limit < 1)
        return cli_usage_error(&cli_detect, "--limit, --calibration and --fit-limit must be at least 1");
    if (a->steps < 0 || a->adaptive_steps < 1) return cli_usage_error(&cli_detect, "--steps and --adaptive-steps "
                                                                        "must be positive");
    if (!(a->temperature > 0)) return cli_usage_error(&cli_detect, "--temperature must be positive");
    return CLI_OK;
}

/* The test split: its first `limit` images are attacked, the next
 * `calibration` (clean, unseen by training, like the attacked ones) set
 * the thresholds; a test split too small for both is halved between them.
 * The training split's first fit_limit images fit Mahalanobis. */
static int load_data(detect_args *a, foil_dataset *train, foil_dataset *test)
{
    foil_status st = foil_data_load(&a->data, FOIL_SPLIT_TRAIN, train);
    if (!st) st = foil_data_load(&a->data, FOIL_SPLIT_TEST, test);
    if (st) return cli_fail(&cli_detect, st);
    int64_t n = test->x.shape[0];
    if (n < 2) return cli_usage_error(&cli_detect, "%s: the test split has %lld example(s); detection needs clean "
                                      "examples to calibrate on and others to attack", test->name, (long long)n);
    if (a->limit + a->calibration > n) {
        a->limit = n / 2;
        a->calibration = n - n / 2;
        fprintf(stderr, "foil detect: the test split has %lld examples: attacking the first %lld, calibrating on the "
                "other %lld\n", (long long)n, (long long)a->limit, (long long)a->calibration);
    }
    if (a->fit_limit > train->x.shape[0]) a->fit_limit = train->x.shape[0];
    return CLI_OK;
}

static int open_model(const detect_args *a, foil_model **m)
{
    foil_status st = foil_model_load(a->model, m);
    if (st) return cli_fail(&cli_detect, st);
    return cli_apply_normalize(&cli_detect, a->normalize, *m);
}

static int make_detector(const detect_args *a, const char *name, foil_model *model, const foil_dataset *train,
                         uint64_t seed, foil_detector **d)
{
    cli_detector_args da = {.squeezers = a->squeezers, .temperature = a->temperature, .model_path = a->model,
                            .feature_layer = a->feature_layer, .normalize = a->normalize, .fit_limit = a->fit_limit};
    return cli_make_detector(&cli_detect, name, &da, model, train, seed, d);
}

/* Score adv with the detector and compare its fooled examples with the
 * clean scores. */
static foil_status score_row(foil_detector *d, float threshold, const float *clean, int64_t n_clean,
                             const foil_tensor *adv, const uint8_t *attacked, const uint8_t *fooled,
                             FoilDetectionRow *row)
{
    const int64_t n = adv->shape[0];
    float *s = malloc((size_t)n * sizeof *s);
    foil_status st = s ? foil_detector_score(d, adv, s) : foil_error(FOIL_ERR_NOMEM, "out of memory");
    if (!st) st = foilDetectionRowScore(clean, n_clean, threshold, s, attacked, fooled, n, row);
    free(s);
    return st;
}

static double pct(int64_t k, int64_t n) { return n ? 100.0 * (double)k / (double)n : NAN; }

static void print_row(const FoilDetectionRow *r)
{
    printf("    %-22s %7.1f%% %8.3f %8.1f%% %8.1f%%   %6.0f s\n", r->attack, pct(r->fooled, r->attacked), r->roc_auc,
           100 * r->tpr, pct(r->evaded, r->attacked), r->seconds);
}

/* The attacks unaware of the detector: their examples, computed once. */
typedef struct plain_attack {
    const char *name;
    foil_evasion_result r;       /* success: attacked and misclassified (untargeted) */
} plain_attack;

static int run_plain_attacks(const detect_args *a, foil_model *model, const foil_dataset *test,
                             const foil_threat *t, int quiet, plain_attack *runs, int n)
{
    foil_evasion_options opt = {.batch = a->batch, .quiet = quiet};
    for (int k = 0; k < n; k++) {
        foil_tensor x = cli_rows_of(&test->x, 0, a->limit);
        foil_status st = foil_evasion_run(runs[k].name, model, &x, foil_i64(&test->y), t, &opt, &runs[k].r);
        if (st) return cli_fail(&cli_detect, st);
    }
    return CLI_OK;
}

typedef struct detect_report {
    cJSON *detectors;
    int warned;
} detect_report;

static int evaluate_detector(const detect_args *a, const char *name, foil_model *model, const foil_dataset *train,
                             const foil_dataset *test, const foil_threat *t, plain_attack *runs, int n_runs,
                             const cli_common *common, detect_report *rep)
{
    foil_detector *d = NULL;
    int rc = make_detector(a, name, model, train, (uint64_t)common->seed, &d);
    if (rc) return rc;
    const int64_t n_cal = a->calibration, n_test = a->limit;
    float *cal = malloc((size_t)n_cal * sizeof *cal), *clean = malloc((size_t)n_test * sizeof *clean);
    foil_tensor xc = cli_rows_of(&test->x, n_test, n_cal), xt = cli_rows_of(&test->x, 0, n_test);
    foil_status st = cal && clean ? foil_detector_score(d, &xc, cal) : foil_error(FOIL_ERR_NOMEM, "out of memory");
    if (!st) st = foil_detector_score(d, &xt, clean);
    float threshold = foil_threshold_at_fpr(cal, n_cal, a->fpr);
    double test_fpr = foil_rate_above(clean, n_test, threshold);
    cJSON *dj = cJSON_CreateObject(), *rows = NULL;
    cJSON_AddItemToArray(rep->detectors, dj);
    cJSON_AddStringToObject(dj, "detector", name);
    cJSON_AddNumberToObject(dj, "threshold", threshold);
    cJSON_AddNumberToObject(dj, "test_fpr", test_fpr);
    rows = cJSON_AddArrayToObject(dj, "attacks");
    if (!st && !a->json)
        printf("%s: threshold %.4g (test clean images flagged: %.1f%%)\n    %-22s %8s %8s %9s %9s %8s\n", name,
               threshold, 100 * test_fpr, "attack", "fooled", "ROC AUC", "TPR", "evaded", "time");
    double worst_plain = 0;
    for (int k = 0; k < n_runs && !st; k++) {
        FoilDetectionRow row = {.attack = runs[k].name, .seconds = runs[k].r.seconds};
        st = score_row(d, threshold, clean, n_test, &runs[k].r.adv, runs[k].r.attacked, runs[k].r.success, &row);
        if (st) break;
        worst_plain = fmax(worst_plain, pct(row.evaded, row.attacked));
        cJSON_AddItemToArray(rows, foilReportDetectionRowJson(&row));
        if (!a->json) print_row(&row);
    }
    if (!st && !a->no_adaptive) {
        foil_threat ta = *t;
        ta.steps = a->adaptive_steps;
        ta.step_size = 0;
        foil_detector_evasion_result er;
        st = foil_detector_evasion_attack(model, d, threshold, &xt, foil_i64(&test->y), &ta, common->quiet, &er);
        FoilDetectionRow row = {.attack = "orthogonal+selective", .adaptive = 1, .seconds = er.seconds};
        if (!st) st = score_row(d, threshold, clean, n_test, &er.adv, er.attacked, er.fooled, &row);
        foil_detector_evasion_result_free(&er);
        if (!st) {
            cJSON_AddItemToArray(rows, foilReportDetectionRowJson(&row));
            if (!a->json) print_row(&row);
            double adaptive = pct(row.evaded, row.attacked);
            if (adaptive - worst_plain > 5) {
                fflush(stdout);
                fprintf(stderr, "foil detect: warning: %s stops fewer examples from an attacker who knows it: %.1f%% "
                        "evade it (orthogonal and selective PGD) against %.1f%% for the best attack unaware of it; "
                        "do not count on it against an adaptive attacker\n", name, adaptive, worst_plain);
                rep->warned = 1;
            }
        }
    }
    free(cal);
    free(clean);
    foil_detector_free(d);
    return st ? cli_fail(&cli_detect, st) : CLI_OK;
}

static int run_detect(int argc, char **argv)
{
    static const char all_detectors[] = "squeeze,max-softmax,energy,mahalanobis";
    detect_args a = {.detectors = all_detectors, .attacks = "fgsm,pgd",
                     .squeezers = "squeeze:bits=4,median:3", .fpr = 0.05, .temperature = 1, .limit = 1000,
                     .calibration = 1000, .fit_limit = 10000, .adaptive_steps = 100, .batch = 250};
    cli_option opts[] = {
        {"--model", OPT_STRING, &a.model, "FILE", "the ONNX classifier", 1, 0},
        CLI_DATA_OPTIONS(a.data),
        {"--bounds", OPT_STRING, &a.bounds, "LOW,HIGH", "input range (default 0,1 for images)", 0, 0},
        {"--normalize", OPT_STRING, &a.normalize, "MEAN/STD", "the model's input normalization, moved into it", 0, 0},
        {"--eps", OPT_FLOAT, &a.eps, "E", "Linf budget of every attack", 1, 0},
        {"--detector", OPT_STRING, &a.detectors, "LIST", "squeeze, max-softmax, energy, mahalanobis (default: all)",
         0, 0},
        {"--attack", OPT_STRING, &a.attacks, "LIST", "attacks unaware of the detector (default fgsm,pgd)", 0, 0},
        {"--steps", OPT_INT, &a.steps, "N", "their iterations (0: each attack's default)", 0, 0},
        {"--fpr", OPT_FLOAT, &a.fpr, "F", "false-positive rate the threshold allows on clean data (0.05)", 0, 0},
        {"--limit", OPT_INT, &a.limit, "N", "attack the first N test examples (1000)", 0, 0},
        {"--calibration", OPT_INT, &a.calibration, "N", "clean test examples after --limit that set the threshold "
         "(1000)", 0, 0},
        {"--fit-limit", OPT_INT, &a.fit_limit, "N", "training examples the Mahalanobis detector fits (10000)", 0, 0},
        {"--squeezers", OPT_STRING, &a.squeezers, "LIST",
         "squeeze's squeezers, each on its own (default squeeze:bits=4,median:3)", 0, 0},
        {"--temperature", OPT_FLOAT, &a.temperature, "T", "the energy score's temperature (1)", 0, 0},
        {"--feature-layer", OPT_STRING, &a.feature_layer, "NAME", "mahalanobis: the layer (default: penultimate)", 0,
         0},
        {"--adaptive-steps", OPT_INT, &a.adaptive_steps, "N", "steps of the detector-evading attack (100)", 0, 0},
        {"--no-adaptive", OPT_FLAG, &a.no_adaptive, NULL, "skip the attack that evades the detector", 0, 0},
        {"--batch", OPT_INT, &a.batch, "N", "examples attacked together (250)", 0, 0},
        {"--json", OPT_FLAG, &a.json, NULL, "print the results as one JSON object", 0, 0},
    };
    cli_common common;
    int rc = cli_parse(&cli_detect, argc, argv, opts, sizeof opts / sizeof opts[0], &common);
    if (rc || (rc = check_args(&a)) || (rc = cli_parse_bounds(&cli_detect, a.bounds, &a.data))) return rc;
    char detector_text[256], attack_text[256];
    const char *detectors[CLI_MAX_DETECTORS], *attacks[MAX_ATTACKS];
    int n_detectors, n_attacks;
    snprintf(detector_text, sizeof detector_text, "%s", a.detectors);
    snprintf(attack_text, sizeof attack_text, "%s", a.attacks);
    if ((rc = cli_split_detectors(&cli_detect, detector_text, detectors, &n_detectors)) ||
        (rc = cli_split_list(&cli_detect, attack_text, "attack", NULL, 0, attacks, MAX_ATTACKS, &n_attacks)))
        return rc;
    for (int k = 0; k < n_attacks; k++) {
        const foil_evasion_info *info = foil_evasion_find(attacks[k]);
        if (!info)
            return cli_usage_error(&cli_detect, "unknown attack '%s' (foil attack --help lists them)", attacks[k]);
        if (!(info->norms & (1u << FOIL_NORM_LINF)) || info->fits)
            return cli_usage_error(&cli_detect, "%s cannot run here: foil detect runs Linf attacks on each input",
                                   attacks[k]);
    }
    cli_apply_common(&common);
    a.data.seed = (uint64_t)common.seed;

    foil_dataset train = {0}, test = {0};
    foil_model *model = NULL;
    plain_attack runs[MAX_ATTACKS] = {0};
    detect_report rep = {.detectors = cJSON_CreateArray()};
    if ((rc = load_data(&a, &train, &test)) || (rc = open_model(&a, &model))) goto done;
    foil_tensor xt = cli_rows_of(&test.x, 0, a.limit);
    if ((rc = cli_check_model_input(&cli_detect, model, &xt, a.data.data))) goto done;
    foil_model_set_max_batch(model, a.batch);
    foil_threat t = {.norm = FOIL_NORM_LINF, .eps = (float)a.eps, .lower = foil_f32(&test.lower),
                     .upper = foil_f32(&test.upper), .steps = a.steps, .seed = (uint64_t)common.seed};
    for (int k = 0; k < n_attacks; k++) runs[k].name = attacks[k];
    if (!a.json)
        printf("foil detect: %s on %s, %lld test images at Linf eps %g; thresholds at %.1f%% FPR on the next %lld "
               "clean test images\n",
               a.model, test.name, (long long)a.limit, a.eps, 100 * a.fpr, (long long)a.calibration);
    if ((rc = run_plain_attacks(&a, model, &test, &t, common.quiet, runs, n_attacks))) goto done;
    int64_t correct = 0;
    for (int64_t i = 0; i < a.limit; i++) correct += runs[0].r.attacked[i];
    if (!a.json) printf("clean accuracy %.2f%% (the attacks run on the %lld images classified correctly)\n",
                        100.0 * (double)correct / (double)a.limit, (long long)correct);
    for (int k = 0; k < n_detectors && !rc; k++) {
        /* squeezers work on images: by default, tabular data goes without */
        if (a.detectors == all_detectors && !test.is_image && strcmp(detectors[k], "squeeze") == 0) continue;
        rc = evaluate_detector(&a, detectors[k], model, &train, &test, &t, runs, n_attacks, &common, &rep);
    }
    if (!rc && a.json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "model", a.model);
        cJSON_AddStringToObject(root, "data", test.name);
        cJSON_AddNumberToObject(root, "examples", (double)a.limit);
        cJSON_AddNumberToObject(root, "clean_accuracy", (double)correct / (double)a.limit);
        cJSON_AddNumberToObject(root, "eps", a.eps);
        cJSON_AddNumberToObject(root, "fpr", a.fpr);
        cJSON_AddNumberToObject(root, "calibration_examples", (double)a.calibration);
        cJSON_AddItemToObject(root, "detectors", rep.detectors);
        rep.detectors = NULL;
        char *text = cJSON_PrintUnformatted(root);
        puts(text);
        free(text);
        cJSON_Delete(root);
    }
done:
    cJSON_Delete(rep.detectors);
    for (int k = 0; k < n_attacks; k++) foil_evasion_result_free(&runs[k].r);
    foil_model_free(model);
    foil_dataset_free(&train);
    foil_dataset_free(&test);
    return rc;
}
