/*
 * cli/cmd_extract.c - foil extract: model extraction (foil/extraction.h).
 * Steals a copy of a model it can only query, reports the copy's fidelity
 * and accuracy against the queries spent, and how often adversarial
 * examples crafted white-box on the copy (PGD) fool the victim.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "foil/extraction.h"
#include "io/file.h"

static int run_extract(int argc, char **argv);

const cli_command cli_extract = {
    "extract", "model extraction: Copycat, Knockoff Nets (random, adaptive), Jacobian augmentation",
    "--model M.onnx|--endpoint URL|--command CMD --data DATA --surrogate DATA\n"
    "                  [--attack LIST] [--budget N] [--checkpoints N,...] [--arch ARCH] [--output-mode MODE]\n"
    "                  [--eps E] [--out DIR] [--json]",
    "Steals a model that can only be queried: the attacker labels its own\n"
    "--surrogate data with the victim's answers and trains a copy of --arch\n"
    "(default cnn-small for images, mlp for tabular data) on them. Attacks\n"
    "(--attack, a comma list; default knockoff-random): copycat (Correia-Silva\n"
    "et al. 2018: the victim's top-1 labels), knockoff-random and\n"
    "knockoff-adaptive (Orekondy et al. 2019: the victim's probabilities when\n"
    "it gives scores; adaptive: a gradient-bandit policy over the surrogate's\n"
    "classes), jacobian (Papernot et al. 2017: a seed set grown by\n"
    "x + lambda sign(J(x)[O(x)]) each round). Each attack spends at most\n"
    "--budget victim queries (default 10000), counted by the model interface;\n"
    "a copy is trained from scratch at each --checkpoints query count\n"
    "(jacobian: after every round) and judged on DATA's test split (--split):\n"
    "fidelity (agreement with the victim's top-1) and accuracy. Then PGD\n"
    "(Linf, --eps, default 0.1; 0: skip) crafts adversarial examples on the\n"
    "copy from --transfer-examples test images (1000) and the report says how\n"
    "many also fool the victim. --output-mode is the victim API's output\n"
    "defense (probabilities, top-k=K, round=D, labels, reverse-sigmoid[=B,G],\n"
    "noise=S): the report gives its cost in the victim's accuracy and how\n"
    "often it changes the top-1. --params sets lambda, tau, seed-size,\n"
    "reservoir, sigma (jacobian) and policy-batch, online-batch, window\n"
    "(knockoff-adaptive). The measurements query the victim apart from the\n"
    "attacks' budgets; --judge-model FILE.onnx makes them on that file instead\n"
    "(the same model), so that an endpoint sees the attack's queries alone.\n"
    "--out DIR writes report.json and each copy as DIR/copy-ATTACK.onnx.",
    run_extract,
    0,
};

/* --params key=value,... into o. */
static int parse_params(const char *text, foil_extraction_options *o)
{
    if (!text) return CLI_OK;
    char *copy = strdup(text), *save = NULL;
    if (!copy) return cli_fail(&cli_extract, foil_error(FOIL_ERR_NOMEM, "out of memory"));
    int rc = CLI_OK;
    for (char *kv = strtok_r(copy, ",", &save); kv && !rc; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '='), *end = NULL;
        double v = eq ? strtod(eq + 1, &end) : NAN;
        if (!eq || end == eq + 1 || *end || !isfinite(v) || v < 0) {
            rc = cli_usage_error(&cli_extract, "--params: '%s' is not KEY=NUMBER (a number >= 0)", kv);
            break;
        }
        *eq = '\0';
        const int integral = v == floor(v);
        if (strcmp(kv, "lambda") == 0) o->lambda = (float)v;
        else if (strcmp(kv, "tau") == 0 && integral) o->tau = (int64_t)v;
        else if (strcmp(kv, "seed-size") == 0 && integral) o->seed_size = (int64_t)v;
        else if (strcmp(kv, "reservoir") == 0 && integral) o->reservoir = (int64_t)v;
        else if (strcmp(kv, "sigma") == 0 && integral) o->sigma = (int64_t)v;
        else if (strcmp(kv, "policy-batch") == 0 && integral) o->policy_batch = (int64_t)v;
        else if (strcmp(kv, "online-batch") == 0 && integral) o->online_batch = (int64_t)v;
        else if (strcmp(kv, "window") == 0 && integral) o->window = (int64_t)v;
        else
            rc = cli_usage_error(&cli_extract, "--params: unknown key or non-integer value '%s' (lambda, tau, "
                                 "seed-size, reservoir, sigma, policy-batch, online-batch, window)", kv);
    }
    free(copy);
    return rc;
}

static foil_status make_copy(void *ctx, const foil_dataset *train, uint64_t seed, foil_model **out)
{
    return cli_build_arch((const char *)ctx, train, NULL, 0, seed, 0, out);
}

static int64_t argmax_row(const float *z, int64_t classes)
{
    int64_t best = 0;
    for (int64_t k = 1; k < classes; k++)
        if (z[k] > z[best]) best = k;
    return best;
}

/* Top-1 labels of m on x (n examples) into pred. */
static foil_status predict_labels(foil_model *m, const foil_tensor *x, int64_t classes, int64_t *pred)
{
    foil_tensor out = {0};
    foil_status st = foil_model_predict(m, x, &out);
    if (!st && (out.ndim != 2 || out.shape[1] != classes))
        st = foil_error(FOIL_ERR_SHAPE, "%s answers with %lld scores an example; the data has %lld classes",
                        foil_model_name(m), (long long)(out.ndim == 2 ? out.shape[1] : -1), (long long)classes);
    for (int64_t i = 0; !st && i < x->shape[0]; i++) pred[i] = argmax_row(foil_f32(&out) + i * classes, classes);
    foil_tensor_free(&out);
    return st;
}

/* The victim with its output defense, as the attacker queries it. */
static int open_api(const cli_model_source *src, const char *mode, uint64_t seed, int64_t budget, foil_model **api)
{
    foil_model *inner = NULL;
    int rc = cli_open_model(&cli_extract, src, &inner);
    if (rc) return rc;
    foil_output output = {0};
    if (mode && foil_output_parse(mode, &output)) {
        foil_model_free(inner);
        return cli_usage_error(&cli_extract, "--output-mode: %s", foil_last_error());
    }
    output.seed = seed;
    foil_status st = foil_model_black_box(inner, budget, mode ? &output : NULL, api);
    return st ? cli_fail(&cli_extract, st) : CLI_OK;
}

typedef struct Transfer {
    int64_t examples, attacked, copy_fooled, victim_correct, victim_fooled;
} Transfer;

/* PGD on the copy, judged by the victim. */
static foil_status transfer(foil_model *copy, foil_model *victim, const foil_dataset *test, int64_t limit, double eps,
                            uint64_t seed, int quiet, Transfer *t)
{
    memset(t, 0, sizeof *t);
    const int64_t n = limit < test->y.numel ? limit : test->y.numel;
    foil_tensor x = cli_rows_of(&test->x, 0, n);
    foil_threat th = {0};
    th.norm = FOIL_NORM_LINF, th.eps = (float)eps, th.seed = seed;
    th.lower = foil_f32(&test->lower), th.upper = foil_f32(&test->upper);
    foil_evasion_options eo = {0};
    eo.batch = 250, eo.quiet = quiet, eo.label = "pgd on the copy";
    foil_evasion_result res = {0};
    foil_status st = foil_evasion_run("pgd", copy, &x, foil_i64(&test->y), &th, &eo, &res);
    if (!st) {
        t->examples = n;
        for (int64_t i = 0; i < n; i++) t->attacked += res.attacked[i], t->copy_fooled += res.success[i];
        st = foil_evasion_judge(victim, &x, foil_i64(&test->y), &th, &res);
    }
    for (int64_t i = 0; !st && i < n; i++) t->victim_correct += res.attacked[i], t->victim_fooled += res.success[i];
    foil_evasion_result_free(&res);
    return st;
}

typedef struct AttackResult {
    foil_extraction_attack attack;
    foil_extraction_report rep;
    Transfer tr;
    int transferred;
} AttackResult;

static double pct(int64_t a, int64_t b) { return b ? 100.0 * (double)a / (double)b : 0; }

static cJSON *report_json(const char *victim, const char *mode, const foil_dataset *test, const foil_dataset *sur,
                          double victim_acc, double api_acc, double changed_test, double changed_sur,
                          const AttackResult *res, int n_res, const foil_extraction_options *o, const char *arch,
                          double eps, int64_t seed)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "schema", "foil-extraction/1");
    cJSON_AddStringToObject(root, "victim", victim);
    cJSON_AddStringToObject(root, "output_mode", mode ? mode : "logits");
    cJSON_AddStringToObject(root, "test_data", test->name);
    cJSON_AddNumberToObject(root, "test_examples", (double)test->y.numel);
    cJSON_AddStringToObject(root, "surrogate", sur->name);
    cJSON_AddNumberToObject(root, "surrogate_examples", (double)sur->y.numel);
    cJSON_AddNumberToObject(root, "victim_accuracy", victim_acc);
    cJSON_AddNumberToObject(root, "victim_accuracy_through_output_mode", api_acc);
    cJSON_AddNumberToObject(root, "top1_changed_test", changed_test);
    cJSON_AddNumberToObject(root, "top1_changed_surrogate", changed_sur);
    cJSON_AddStringToObject(root, "arch", arch);
    cJSON *tr = cJSON_AddObjectToObject(root, "training");
    cJSON_AddNumberToObject(tr, "epochs", (double)o->train.epochs);
    cJSON_AddNumberToObject(tr, "batch", (double)o->train.batch);
    cJSON_AddStringToObject(tr, "optimizer", o->train.optim.kind == FOIL_OPT_ADAM ? "adam" : "sgd");
    cJSON_AddNumberToObject(tr, "lr", o->train.optim.lr);
    cJSON_AddNumberToObject(root, "budget", (double)o->budget);
    cJSON_AddNumberToObject(root, "seed", (double)seed);
    cJSON *list = cJSON_AddArrayToObject(root, "attacks");
    for (int i = 0; i < n_res; i++) {
        const AttackResult *a = &res[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "attack", foil_extraction_name(a->attack));
        cJSON_AddStringToObject(j, "labels", a->rep.soft ? "soft" : "hard");
        cJSON_AddNumberToObject(j, "queries", (double)a->rep.queries);
        cJSON_AddNumberToObject(j, "seconds", a->rep.seconds);
        cJSON_AddNumberToObject(j, "query_seconds", a->rep.query_seconds);
        cJSON_AddNumberToObject(j, "judge_seconds", a->rep.judge_seconds);
        if (a->attack == FOIL_EXTRACT_JACOBIAN) {
            cJSON_AddNumberToObject(j, "rounds", (double)a->rep.rounds);
            cJSON_AddNumberToObject(j, "lambda", o->lambda);
            cJSON_AddNumberToObject(j, "tau", (double)o->tau);
            cJSON_AddNumberToObject(j, "seed_size", (double)o->seed_size);
            cJSON_AddNumberToObject(j, "reservoir", (double)o->reservoir);
            cJSON_AddNumberToObject(j, "sigma", (double)o->sigma);
        }
        cJSON *pts = cJSON_AddArrayToObject(j, "points");
        for (int p = 0; p < a->rep.n_points; p++) {
            const foil_extraction_point *pt = &a->rep.point[p];
            cJSON *q = cJSON_CreateObject();
            cJSON_AddNumberToObject(q, "queries", (double)pt->queries);
            cJSON_AddNumberToObject(q, "fidelity", pt->fidelity);
            cJSON_AddNumberToObject(q, "accuracy", pt->accuracy);
            cJSON_AddNumberToObject(q, "seconds", pt->seconds);
            cJSON_AddNumberToObject(q, "train_seconds", pt->train_seconds);
            cJSON_AddItemToArray(pts, q);
        }
        if (a->rep.n_points) {
            cJSON_AddNumberToObject(j, "fidelity", a->rep.point[a->rep.n_points - 1].fidelity);
            cJSON_AddNumberToObject(j, "accuracy", a->rep.point[a->rep.n_points - 1].accuracy);
        }
        if (a->rep.policy) {
            cJSON *pol = cJSON_AddArrayToObject(j, "policy"), *pulls = cJSON_AddArrayToObject(j, "pulls");
            for (int64_t k = 0; k < a->rep.actions; k++) {
                cJSON_AddItemToArray(pol, cJSON_CreateNumber(a->rep.policy[k]));
                cJSON_AddItemToArray(pulls, cJSON_CreateNumber((double)a->rep.pulls[k]));
            }
        }
        if (a->transferred) {
            cJSON *t = cJSON_AddObjectToObject(j, "transfer");
            cJSON_AddStringToObject(t, "attack", "pgd");
            cJSON_AddStringToObject(t, "norm", "linf");
            cJSON_AddNumberToObject(t, "eps", eps);
            cJSON_AddNumberToObject(t, "examples", (double)a->tr.examples);
            cJSON_AddNumberToObject(t, "copy_success_rate", pct(a->tr.copy_fooled, a->tr.attacked) / 100);
            cJSON_AddNumberToObject(t, "victim_correct", (double)a->tr.victim_correct);
            cJSON_AddNumberToObject(t, "transfer_rate", pct(a->tr.victim_fooled, a->tr.victim_correct) / 100);
        }
        cJSON_AddItemToArray(list, j);
    }
    return root;
}

static void print_table(const char *mode, const foil_dataset *test, double victim_acc, double api_acc,
                        double changed_test, double changed_sur, const AttackResult *res, int n_res, double eps)
{
    printf("victim accuracy %.2f%% on %s (%lld test examples); answers: %s", 100 * victim_acc, test->name,
           (long long)test->y.numel, mode ? mode : "logits");
    if (mode)
        printf(" (accuracy through it %.2f%%; top-1 changed on %.2f%% of the test and %.2f%% of the surrogate data)",
               100 * api_acc, 100 * changed_test, 100 * changed_sur);
    printf("\n%-18s %-6s %9s %9s %9s %9s\n", "attack", "labels", "queries", "fidelity", "accuracy", "seconds");
    for (int i = 0; i < n_res; i++) {
        const AttackResult *a = &res[i];
        for (int p = 0; p < a->rep.n_points; p++) {
            const foil_extraction_point *pt = &a->rep.point[p];
            printf("%-18s %-6s %9lld %8.2f%% %8.2f%% %9.1f\n", foil_extraction_name(a->attack),
                   a->rep.soft ? "soft" : "hard", (long long)pt->queries, 100 * pt->fidelity, 100 * pt->accuracy,
                   pt->seconds);
        }
    }
    for (int i = 0; i < n_res; i++)
        if (res[i].transferred)
            printf("transfer %-18s PGD linf eps %g on %lld test images: fools the copy %.1f%%, the victim %.1f%% "
                   "(of the %lld it classifies right)\n", foil_extraction_name(res[i].attack), eps,
                   (long long)res[i].tr.examples, pct(res[i].tr.copy_fooled, res[i].tr.attacked),
                   pct(res[i].tr.victim_fooled, res[i].tr.victim_correct), (long long)res[i].tr.victim_correct);
}

/* The victim's top-1 on test, and what the output defense (api, NULL:
 * none) does to it: its accuracy through the defense and how often the
 * top-1 changes on the test and the first 2000 surrogate examples. */
static foil_status measure_victim(foil_model *raw, foil_model *api, const foil_dataset *test, const foil_dataset *sur,
                                  int64_t *victim_pred, double *acc, double *api_acc, double *changed_test,
                                  double *changed_sur)
{
    const int64_t n = test->y.numel, m = sur->y.numel < 2000 ? sur->y.numel : 2000, classes = test->classes;
    int64_t *pred = malloc((size_t)(n + 2 * m + 1) * sizeof *pred);
    if (!pred) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    foil_status st = predict_labels(raw, &test->x, classes, victim_pred);
    int64_t right = 0, api_right = 0, changed = 0, changed_s = 0;
    for (int64_t i = 0; !st && i < n; i++) right += victim_pred[i] == foil_i64(&test->y)[i];
    *acc = *api_acc = n ? (double)right / (double)n : 0;
    *changed_test = *changed_sur = 0;
    if (!st && api) {
        foil_tensor xs = cli_rows_of(&sur->x, 0, m);
        st = predict_labels(api, &test->x, classes, pred);
        if (!st) st = predict_labels(raw, &xs, classes, pred + n);
        if (!st) st = predict_labels(api, &xs, classes, pred + n + m);
        for (int64_t i = 0; !st && i < n; i++)
            api_right += pred[i] == foil_i64(&test->y)[i], changed += pred[i] != victim_pred[i];
        for (int64_t i = 0; !st && i < m; i++) changed_s += pred[n + i] != pred[n + m + i];
        *api_acc = n ? (double)api_right / (double)n : 0;
        *changed_test = n ? (double)changed / (double)n : 0;
        *changed_sur = m ? (double)changed_s / (double)m : 0;
    }
    free(pred);
    return st;
}

static foil_status write_copy(const char *dir, foil_extraction_attack a, const foil_model *copy)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/copy-%s.onnx", dir, foil_extraction_name(a));
    return foil_model_save(copy, path);
}

static int run_extract(int argc, char **argv)
{
    foil_data_spec data = {0}, sur_spec = {0};
    cli_model_source source = {.retries = -1};
    const char *split_name = NULL, *arch = NULL, *attack_text = "knockoff-random", *checkpoints_text = NULL;
    const char *output_mode = NULL, *params = NULL, *dir = NULL, *optimizer = "adam", *label_kind = "auto";
    const char *sur_split = NULL, *judge_path = NULL;
    int64_t budget = 10000, epochs = 10, batch = 64, test_limit = 0, sur_skip = 0, sur_limit = 0, transfer_n = 1000;
    double lr = 0, eps = 0.1;
    int json = 0;
    cli_option opts[] = {
        CLI_MODEL_SOURCE_OPTIONS(source),
        CLI_DATA_OPTIONS(data),
        {"--split", OPT_STRING, &split_name, "SPLIT", "DATA's split the copies are judged on (default: test)", 0, 0},
        {"--limit", OPT_INT, &test_limit, "N", "judge on the first N examples of that split", 0, 0},
        {"--surrogate", OPT_STRING, &sur_spec.data, "DATA", "the attacker's data (a built-in name or a file)", 1, 0},
        {"--surrogate-labels", OPT_STRING, &sur_spec.labels, "FILE", "labels of an IDX or NPY --surrogate", 0, 0},
        {"--surrogate-split", OPT_STRING, &sur_split, "SPLIT", "its split (default: train for a built-in, all)", 0,
         0},
        {"--surrogate-skip", OPT_INT, &sur_skip, "N", "leave out its first N examples (e.g. the victim's)", 0, 0},
        {"--surrogate-limit", OPT_INT, &sur_limit, "N", "then keep at most N", 0, 0},
        {"--attack", OPT_STRING, &attack_text, "LIST", "copycat, knockoff-random, knockoff-adaptive, jacobian", 0, 0},
        {"--budget", OPT_INT, &budget, "N", "victim queries for each attack (10000)", 0, 0},
        {"--checkpoints", OPT_STRING, &checkpoints_text, "N,...", "query counts where a copy is trained (the budget)",
         0, 0},
        {"--label-kind", OPT_STRING, &label_kind, "K", "what the copy learns: auto, hard or soft (auto)", 0, 0},
        {"--output-mode", OPT_STRING, &output_mode, "MODE", "the victim's answers: logits, probabilities, top-k=K, "
         "round=D, labels, reverse-sigmoid[=B,G], noise=S", 0, 0},
        {"--params", OPT_STRING, &params, "K=V,...", "lambda, tau, seed-size, reservoir, sigma; policy-batch, "
         "online-batch, window", 0, 0},
        {"--arch", OPT_STRING, &arch, "ARCH", "the copy (cnn-small for images, mlp otherwise; or FILE.onnx)", 0, 0},
        {"--epochs", OPT_INT, &epochs, "E", "training epochs of each copy (10)", 0, 0},
        {"--batch", OPT_INT, &batch, "B", "their minibatch (64)", 0, 0},
        {"--lr", OPT_FLOAT, &lr, "RATE", "their learning rate (adam 1e-3, sgd 0.05)", 0, 0},
        {"--optimizer", OPT_STRING, &optimizer, "NAME", "adam (default) or sgd", 0, 0},
        {"--eps", OPT_FLOAT, &eps, "E", "transfer: PGD's Linf radius on the copy (0.1; 0: no transfer)", 0, 0},
        {"--transfer-examples", OPT_INT, &transfer_n, "N", "transfer: test images attacked (1000)", 0, 0},
        {"--judge-model", OPT_STRING, &judge_path, "FILE", "the victim's ONNX file, to measure fidelity, its cost and "
         "transfer locally, so that an endpoint sees the attack's queries alone", 0, 0},
        {"--out", OPT_STRING, &dir, "DIR", "write report.json and copy-ATTACK.onnx there", 0, 0},
        {"--json", OPT_FLAG, &json, NULL, "print the report as JSON", 0, 0},
    };
    cli_common common;
    int rc = cli_parse(&cli_extract, argc, argv, opts, sizeof opts / sizeof opts[0], &common);
    if (rc) return rc;
    foil_extraction_options o;
    foil_extraction_defaults(&o);
    o.budget = budget;
    if (budget < 1 || epochs < 1 || batch < 1 || lr < 0 || test_limit < 0 || sur_skip < 0 || sur_limit < 0 ||
        transfer_n < 1 || !(eps >= 0) || eps > 1e6)
        return cli_usage_error(&cli_extract, "--budget, --epochs, --batch and --transfer-examples must be >= 1; "
                               "--lr, --eps, --limit, --surrogate-skip and --surrogate-limit >= 0");
    double cp[FOIL_EXTRACT_MAX_POINTS];
    if (checkpoints_text &&
        (rc = cli_parse_numbers(&cli_extract, "--checkpoints", checkpoints_text, 1, 1, cp, FOIL_EXTRACT_MAX_POINTS,
                                &o.n_checkpoints)))
        return rc;
    for (int i = 0; i < o.n_checkpoints; i++) {
        if (cp[i] != floor(cp[i]) || cp[i] > (double)budget)
            return cli_usage_error(&cli_extract, "--checkpoints: whole query counts up to the budget (%lld), not %g",
                                   (long long)budget, cp[i]);
        o.checkpoints[i] = (int64_t)cp[i];
    }
    if (strcmp(label_kind, "auto") == 0) o.labels = FOIL_LABELS_AUTO;
    else if (strcmp(label_kind, "hard") == 0) o.labels = FOIL_LABELS_HARD;
    else if (strcmp(label_kind, "soft") == 0) o.labels = FOIL_LABELS_SOFT;
    else return cli_usage_error(&cli_extract, "--label-kind must be auto, hard or soft, not '%s'", label_kind);
    if (strcmp(optimizer, "adam") == 0) o.train.optim = foil_optim_defaults(FOIL_OPT_ADAM);
    else if (strcmp(optimizer, "sgd") == 0) o.train.optim.schedule = FOIL_LR_COSINE;
    else return cli_usage_error(&cli_extract, "--optimizer must be adam or sgd, not '%s'", optimizer);
    if (lr > 0) o.train.optim.lr = lr;
    o.train.epochs = epochs, o.train.batch = batch;
    if ((rc = parse_params(params, &o))) return rc;
    foil_extraction_attack attacks[FOIL_EXTRACT_COUNT];
    int n_attacks = 0;
    {
        char *list = strdup(attack_text), *save = NULL;
        for (char *name = list ? strtok_r(list, ",", &save) : NULL; name && !rc; name = strtok_r(NULL, ",", &save)) {
            foil_extraction_attack a;
            if (foil_extraction_parse(name, &a)) rc = cli_usage_error(&cli_extract, "--attack: %s", foil_last_error());
            for (int i = 0; !rc && i < n_attacks; i++)
                if (attacks[i] == a) rc = cli_usage_error(&cli_extract, "--attack names %s twice", name);
            if (!rc) attacks[n_attacks++] = a;
        }
        free(list);
        if (!rc && !n_attacks) rc = cli_usage_error(&cli_extract, "--attack names no attack");
        if (rc) return rc;
    }
    foil_output probe;
    if (output_mode && foil_output_parse(output_mode, &probe))
        return cli_usage_error(&cli_extract, "--output-mode: %s", foil_last_error());
    foil_split split, ssplit;
    if ((rc = cli_data_split(&cli_extract, split_name, data.data, &split, &split_name))) return rc;
    if (!sur_split) ssplit = foil_data_is_builtin(sur_spec.data) ? FOIL_SPLIT_TRAIN : FOIL_SPLIT_ALL;
    else if ((rc = cli_parse_split(&cli_extract, "--surrogate-split", sur_split, &ssplit))) return rc;
    cli_apply_common(&common);
    data.seed = sur_spec.seed = (uint64_t)common.seed;
    o.seed = (uint64_t)common.seed;
    o.quiet = common.quiet || json;

    foil_dataset test = {0}, sur = {0};
    foil_status st = foil_data_load(&data, split, &test);
    if (!st) st = foil_data_load(&sur_spec, ssplit, &sur);
    if (st) {
        foil_dataset_free(&test);
        return cli_fail(&cli_extract, st);
    }
    cli_limit_examples(&test, test_limit);
    if (sur_skip >= sur.y.numel) {
        rc = cli_usage_error(&cli_extract, "--surrogate-skip %lld leaves none of the %lld surrogate examples",
                             (long long)sur_skip, (long long)sur.y.numel);
    } else if (sur_skip) {
        int64_t m = sur.y.numel - sur_skip, *idx = malloc((size_t)m * sizeof *idx);
        foil_dataset rest = {0};
        for (int64_t i = 0; idx && i < m; i++) idx[i] = sur_skip + i;
        st = idx ? foil_dataset_select(&rest, &sur, idx, m) : foil_error(FOIL_ERR_NOMEM, "out of memory");
        free(idx);
        foil_dataset_free(&sur);
        sur = rest;
    }
    cli_limit_examples(&sur, sur_limit);
    if (!arch) arch = test.is_image ? "cnn-small" : "mlp";
    o.make = make_copy, o.make_ctx = (void *)arch;
    if (!st && !rc && foil_dataset_example_size(&test) != foil_dataset_example_size(&sur))
        rc = cli_usage_error(&cli_extract, "the surrogate data %s has examples of %lld values and %s of %lld: the "
                             "copy takes one shape", sur.name, (long long)foil_dataset_example_size(&sur), test.name,
                             (long long)foil_dataset_example_size(&test));
    const int64_t n = test.y.numel;
    int64_t *victim_pred = malloc((size_t)(n ? n : 1) * sizeof *victim_pred);
    double acc = 0, api_acc = 0, ch_test = 0, ch_sur = 0;
    if (!st && !rc && !victim_pred) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    foil_model *raw = NULL, *shown = NULL;
    /* the measurements' victim: --judge-model, or the victim itself (opened apart from the attacks' budgets) */
    cli_model_source judge = {.model = judge_path, .retries = -1};
    const cli_model_source *measured = judge_path ? &judge : &source;
    if (!st && !rc) rc = cli_open_model(&cli_extract, measured, &raw);
    if (!st && !rc) rc = cli_check_model_input(&cli_extract, raw, &test.x, test.name);
    if (!st && !rc) rc = cli_check_model_input(&cli_extract, raw, &sur.x, sur.name);
    if (!st && !rc && output_mode) rc = open_api(measured, output_mode, (uint64_t)common.seed + 7, 0, &shown);
    if (!st && !rc) st = measure_victim(raw, shown, &test, &sur, victim_pred, &acc, &api_acc, &ch_test, &ch_sur);
    foil_model_free(shown);
    AttackResult res[FOIL_EXTRACT_COUNT];
    memset(res, 0, sizeof res);
    int done = 0;
    if (!st && !rc && dir) st = foilMakeDir(dir);
    for (int i = 0; !st && !rc && i < n_attacks; i++) {
        foil_model *api = NULL, *copy = NULL;
        o.attack = attacks[i];
        res[i].attack = attacks[i];
        if ((rc = open_api(&source, output_mode, (uint64_t)common.seed + 11 + (uint64_t)i, budget, &api))) break;
        st = foil_extract(api, &sur, &test, victim_pred, &o, &copy, &res[i].rep);
        foil_model_free(api);
        if (!st && dir) st = write_copy(dir, attacks[i], copy);
        if (!st && eps > 0) {
            st = transfer(copy, raw, &test, transfer_n, eps, (uint64_t)common.seed + 13, o.quiet, &res[i].tr);
            res[i].transferred = !st;
        }
        foil_model_free(copy);
        if (st) st = foil_error_prefix(st, "%s", foil_extraction_name(attacks[i]));
        else done = i + 1;
    }
    if (!st && !rc) {
        cJSON *root = report_json(source.model ? source.model : source.endpoint ? source.endpoint : source.command, output_mode, &test, &sur, acc, api_acc, ch_test,
                                  ch_sur, res, done, &o, arch, eps, common.seed);
        if (judge_path) cJSON_AddStringToObject(root, "judge_model", judge_path);
        char *text = cJSON_Print(root);
        char path[4096];
        snprintf(path, sizeof path, "%s/report.json", dir ? dir : ".");
        if (dir) st = text ? foilWriteFileAtomic(path, text, strlen(text)) : foil_error(FOIL_ERR_NOMEM, "out of memory");
        if (!st && json) {
            char *flat = cJSON_PrintUnformatted(root);
            if (flat) printf("%s\n", flat);
            free(flat);
        } else if (!st && !common.quiet) {
            print_table(output_mode, &test, acc, api_acc, ch_test, ch_sur, res, done, eps);
            if (dir) printf("wrote %s/report.json and the copies\n", dir);
        }
        free(text);
        cJSON_Delete(root);
    }
    for (int i = 0; i < n_attacks; i++) foil_extraction_report_free(&res[i].rep);
    foil_model_free(raw);
    free(victim_pred);
    foil_dataset_free(&test);
    foil_dataset_free(&sur);
    if (rc) return rc;
    return st ? cli_fail(&cli_extract, st) : CLI_OK;
}
