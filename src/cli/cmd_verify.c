/*
 * cli/cmd_verify.c - `foil verify`: clean accuracy and verified robust
 * accuracy under Linf perturbations, by IBP and CROWN bounds (foil/verify.h);
 * and, with --vnnlib, one VNN-LIB property decided (foil/vnnlib.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "cli/verify_instances.h"
#include "core/dist.h"
#include "foil/data.h"
#include "foil/progress.h"
#include "foil/verify.h"
#include "foil/vnnlib.h"
#include "foil/npy.h"

static int run_verify(int argc, char **argv);

const cli_command cli_verify = {
    "verify", "verified robust accuracy under Linf perturbations (IBP and CROWN bounds)",
    "--model M.onnx --data DATA --eps E[,E...] [--method ibp|crown|ibp,crown] [--limit N] [--json]\n"
    "       foil verify --model M.onnx --vnnlib P.vnnlib [--timeout S] [--output RESULT.txt]\n"
    "                   [--counterexample CE.npy] [--json]",
    "For every example and every epsilon, bounds the margins logit[y] - logit[j]\n"
    "(j != y, y the true label) over every input within Linf distance eps of the\n"
    "example and inside the input range (--bounds, [0, 1] for images). An\n"
    "example is verified when every margin's lower bound is > 0: no perturbation\n"
    "of that size changes the prediction, whatever the attack. Reports the clean\n"
    "accuracy and, per method and epsilon, the verified robust accuracy (verified\n"
    "examples over all examples) and the time per example.\n"
    "Methods: ibp (interval bound propagation, Gowal et al. 2018: fast, loose on\n"
    "networks not trained for it) and crown (the backward linear relaxation of\n"
    "Zhang et al. 2018, intersected with IBP, so never looser; --crown-only gives\n"
    "CROWN alone, the numbers auto_LiRPA's method='backward' gives). Bounds are\n"
    "sound in floating point (computed in double, rounded outward). The model\n"
    "must be an ONNX file of Conv, Gemm/MatMul, Relu, MaxPool, AveragePool,\n"
    "BatchNormalization, Flatten/Reshape, Add and constant Sub/Mul/Div nodes;\n"
    "another op is an error naming it. --json prints one object with the keys\n"
    "model, data, split, examples, clean_accuracy and results (method, eps,\n"
    "verified, verified_accuracy, seconds_per_example).\n"
    "\n"
    "With --vnnlib: decides one VNN-LIB property (the VNN-COMP format: an input\n"
    "box and the unsafe outputs) over the model as given (the property's X_i\n"
    "index the flattened input; no --normalize). Prints verified (no input of\n"
    "the box reaches an unsafe output: sound CROWN bounds, with branch and\n"
    "bound on ReLU splits), falsified (a counterexample from a PGD attack,\n"
    "re-checked with the model's forward pass) or unknown, and the time.\n"
    "Options of this mode: --timeout S (seconds, default 60), --output FILE\n"
    "(VNN-COMP's result file: unsat, sat with the counterexample, or unknown),\n"
    "--counterexample FILE.npy (the input, float32, the model's input shape;\n"
    "written only for falsified),\n"
    "--restarts N and --steps N (the attack's), --no-bab (attack and CROWN\n"
    "only), --alpha-steps N (Adam steps that optimize the ReLU relaxations'\n"
    "slopes, alpha-CROWN, and in branch and bound the splits' multipliers,\n"
    "beta-CROWN; default 20, 0: CROWN's slopes), --seed, --threads, --quiet, --json (one object: model, property,\n"
    "result, seconds, domains, and for a counterexample its disjunct and\n"
    "outputs). Exit status 0 for any of the three answers.\n"
    "\n"
    "With --instances LIST.csv: every line benchmark,network,property,timeout_s\n"
    "(VNN-COMP's instances.csv; paths relative to the list's directory) decided\n"
    "as --vnnlib decides one, then a line per instance and a table per benchmark\n"
    "(verified, falsified, unknown, errors, seconds). --benchmark NAME,... keeps\n"
    "those benchmarks, --limit N the first N, --timeout S replaces every timeout,\n"
    "--timeout-scale F multiplies them, --results DIR keeps the falsified\n"
    "instances' VNN-COMP result files, --json prints one array. Under mpirun the\n"
    "ranks share the list (every size-th instance each).",
    run_verify,
    CLI_DISTRIBUTED,
};

enum { MAX_EPS = 32 };

typedef struct verify_row {
    foil_bounds_method method;
    double eps;
    int64_t verified;
    double seconds;
} verify_row;

static int parse_methods(const char *text, foil_bounds_method *methods, int *n)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", text);
    const char *known[] = {"ibp", "crown"}, *names[2];
    int rc = cli_split_list(&cli_verify, buf, "--method", known, 2, names, 2, n);
    for (int i = 0; !rc && i < *n; i++) foil_bounds_method_parse(names[i], &methods[i]);
    return rc;
}

/* Verify the correctly classified examples of d at eps; counts into row.
 * Under mpirun each rank takes every size-th example and the counts are
 * summed (the bounds of an example do not depend on the others). */
static int verify_all(foil_verifier *v, const foil_bounds_options *o, const foil_dataset *d, const uint8_t *correct,
                      float eps, int quiet, verify_row *row)
{
    const int64_t n = d->x.shape[0];
    char label[48], status[64] = "";
    snprintf(label, sizeof label, "%s eps %g", foil_bounds_method_name(o->method), eps);
    foil_progress bar;
    foil_progress_start(&bar, label, n, "img", quiet || foilDistRank() != 0);
    double t0 = foil_now();
    foil_status st = FOIL_OK;
    for (int64_t i = 0; !st && i < n; i++) {
        if (!foilDistOwns(i)) continue;
        if (correct[i]) {
            foil_tensor xi = cli_rows_of(&d->x, i, 1);
            uint8_t ok = 0;
            st = foil_verify_linf(v, o, &xi, foil_i64(&d->y) + i, eps, foil_f32(&d->lower), foil_f32(&d->upper), &ok,
                                  NULL);
            row->verified += ok;
        }
        snprintf(status, sizeof status, "verified %.1f%%", 100.0 * (double)row->verified / (double)(i + 1));
        foil_progress_update(&bar, i + 1, status);
    }
    double verified = (double)row->verified;
    if (!(st = foilDistAgree(st))) st = foilDistSumDoubles(&verified, 1);
    row->verified = (int64_t)verified;
    row->seconds = foil_now() - t0;
    foil_progress_finish(&bar, status);
    return st ? cli_fail(&cli_verify, st) : CLI_OK;
}

static void print_json(const char *model, const foil_dataset *d, const char *split, double clean,
                       const verify_row *rows, int n_rows, int crown_only)
{
    const int64_t n = d->x.shape[0];
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model", model);
    cJSON_AddStringToObject(root, "data", d->name);
    cJSON_AddStringToObject(root, "split", split);
    cJSON_AddNumberToObject(root, "examples", (double)n);
    cJSON_AddNumberToObject(root, "clean_accuracy", clean);
    cJSON *list = cJSON_AddArrayToObject(root, "results");
    for (int i = 0; i < n_rows; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "method", rows[i].method == FOIL_BOUNDS_CROWN && crown_only
                                                 ? "crown-only"
                                                 : foil_bounds_method_name(rows[i].method));
        cJSON_AddNumberToObject(r, "eps", rows[i].eps);
        cJSON_AddNumberToObject(r, "verified", (double)rows[i].verified);
        cJSON_AddNumberToObject(r, "verified_accuracy", n ? (double)rows[i].verified / (double)n : 0.0);
        cJSON_AddNumberToObject(r, "seconds_per_example", n ? rows[i].seconds / (double)n : 0.0);
        cJSON_AddItemToArray(list, r);
    }
    char *text = cJSON_PrintUnformatted(root);
    puts(text);
    free(text);
    cJSON_Delete(root);
}

static int run_vnnlib(int argc, char **argv)
{
    const char *model_path = NULL, *prop_path = NULL, *output = NULL, *ce_path = NULL;
    double timeout = 60;
    int64_t restarts = 0, steps = 0, alpha_steps = 20;
    int json = 0, no_bab = 0;
    cli_option opts[] = {
        {"--model", OPT_STRING, &model_path, "FILE", "ONNX network", 1, 0},
        {"--vnnlib", OPT_STRING, &prop_path, "FILE", "VNN-LIB property", 1, 0},
        {"--timeout", OPT_FLOAT, &timeout, "S", "seconds for the property (default 60)", 0, 0},
        {"--output", OPT_STRING, &output, "FILE", "VNN-COMP result file", 0, 0},
        {"--counterexample", OPT_STRING, &ce_path, "FILE", "the counterexample's input as NPY", 0, 0},
        {"--restarts", OPT_INT, &restarts, "N", "attack starts per disjunct (default 8)", 0, 0},
        {"--steps", OPT_INT, &steps, "N", "attack steps per start (default 100)", 0, 0},
        {"--no-bab", OPT_FLAG, &no_bab, NULL, "attack and CROWN only, no branch and bound", 0, 0},
        {"--alpha-steps", OPT_INT, &alpha_steps, "N", "steps optimizing slopes and multipliers (default 20; 0: none)",
         0, 0},
        {"--json", OPT_FLAG, &json, NULL, "print the result as one JSON object", 0, 0},
    };
    cli_common common;
    int rc = cli_parse(&cli_verify, argc, argv, opts, sizeof opts / sizeof opts[0], &common);
    if (rc) return rc;
    if (!(timeout > 0) || !isfinite(timeout)) return cli_usage_error(&cli_verify, "--timeout must be > 0");
    if (foilDistSize() > 1)
        return cli_usage_error(&cli_verify, "one --vnnlib property is decided by one process; under mpirun, verify "
                               "a dataset's examples (--data, --eps)");
    if (restarts < 0 || steps < 0 || alpha_steps < 0)
        return cli_usage_error(&cli_verify, "--restarts, --steps and --alpha-steps must be >= 0");
    cli_apply_common(&common);
    foil_vnnlib *prop = NULL;
    foil_model *model = NULL;
    foil_status st = foil_vnnlib_load(prop_path, &prop);
    if (st) return cli_fail(&cli_verify, st);
    if ((st = foil_model_load(model_path, &model))) {
        foil_vnnlib_free(prop);
        return cli_fail(&cli_verify, st);
    }
    foil_vnnlib_options o = {.timeout = timeout, .seed = (uint64_t)common.seed, .restarts = restarts,
                             .steps = steps, .no_bab = no_bab, .alpha_steps = alpha_steps ? alpha_steps : -1,
                             .quiet = common.quiet || json};
    foil_vnnlib_result r = {0};
    st = foil_vnnlib_verify(model, prop, &o, &r);
    if (!st && output) st = foil_vnnlib_write_result(output, prop, &r);
    if (!st && ce_path && r.answer == FOIL_VNNLIB_FALSIFIED) {
        foil_tensor t = {0};
        int rank = foil_model_input_rank(model);
        const int64_t *shape = foil_model_input_shape(model);
        int64_t dims[8], numel = 1;
        for (int i = 0; i < rank && i < 8; i++) dims[i] = i == 0 ? 1 : shape[i], numel *= dims[i];
        if (rank < 1 || rank > 8 || numel != prop->n_inputs) rank = 2, dims[0] = 1, dims[1] = prop->n_inputs;
        foil_tensor_set_shape(&t, FOIL_F32, rank, dims);
        t.data = r.x;
        st = foil_npy_write(ce_path, &t);
    }
    if (st) rc = cli_fail(&cli_verify, st);
    else if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "model", model_path);
        cJSON_AddStringToObject(root, "property", prop_path);
        cJSON_AddStringToObject(root, "result", foil_vnnlib_answer_name(r.answer));
        cJSON_AddNumberToObject(root, "seconds", r.seconds);
        cJSON_AddNumberToObject(root, "domains", (double)r.domains);
        if (r.answer == FOIL_VNNLIB_FALSIFIED) {
            cJSON_AddNumberToObject(root, "disjunct", (double)r.disjunct);
            cJSON *y = cJSON_AddArrayToObject(root, "outputs");
            for (int64_t j = 0; j < prop->n_outputs; j++) cJSON_AddItemToArray(y, cJSON_CreateNumber(r.y[j]));
        } else if (r.answer == FOIL_VNNLIB_UNKNOWN) {
            cJSON_AddStringToObject(root, "why", r.why);
        }
        char *text = cJSON_PrintUnformatted(root);
        puts(text);
        free(text);
        cJSON_Delete(root);
    } else {
        printf("%s %.2f s", foil_vnnlib_answer_name(r.answer), r.seconds);
        if (r.answer == FOIL_VNNLIB_FALSIFIED) printf(" (disjunct %lld)", (long long)r.disjunct);
        if (r.answer == FOIL_VNNLIB_UNKNOWN && r.why[0]) printf(" (%s)", r.why);
        if (r.answer != FOIL_VNNLIB_FALSIFIED) printf(", %lld subdomains", (long long)r.domains);
        printf("\n");
    }
    foil_vnnlib_result_free(&r);
    foil_model_free(model);
    foil_vnnlib_free(prop);
    return rc;
}

/* --instances LIST.csv: many VNN-LIB properties, shared between MPI ranks. */
static int run_instances(int argc, char **argv)
{
    verify_instances_args a = {.timeout_scale = 1};
    cli_option opts[] = {
        {"--instances", OPT_STRING, &a.list, "LIST.csv", "benchmark,network,property,timeout_s lines", 1, 0},
        {"--benchmark", OPT_STRING, &a.benchmarks, "NAME,...", "only these benchmarks", 0, 0},
        {"--timeout", OPT_FLOAT, &a.timeout, "S", "every instance's timeout (default: the list's)", 0, 0},
        {"--timeout-scale", OPT_FLOAT, &a.timeout_scale, "F", "the list's timeouts times F (default 1)", 0, 0},
        {"--limit", OPT_INT, &a.limit, "N", "the first N selected instances", 0, 0},
        {"--results", OPT_STRING, &a.results_dir, "DIR", "VNN-COMP result files of the falsified instances", 0, 0},
        {"--json", OPT_FLAG, &a.json, NULL, "one JSON array of the instances' results", 0, 0},
    };
    cli_common common;
    int rc = cli_parse(&cli_verify, argc, argv, opts, sizeof opts / sizeof opts[0], &common);
    if (rc) return rc;
    if (a.timeout < 0 || !isfinite(a.timeout) || !(a.timeout_scale > 0) || !isfinite(a.timeout_scale) || a.limit < 0)
        return cli_usage_error(&cli_verify, "--timeout must be >= 0, --timeout-scale > 0 and --limit >= 0");
    cli_apply_common(&common);
    return verify_instances(&a, &common);
}

static int run_verify(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--vnnlib") == 0 || strncmp(argv[i], "--vnnlib=", 9) == 0) return run_vnnlib(argc, argv);
        if (strcmp(argv[i], "--instances") == 0 || strncmp(argv[i], "--instances=", 12) == 0)
            return run_instances(argc, argv);
    }
    const char *model_path = NULL, *eps_text = NULL, *methods_text = "ibp,crown";
    const char *split_name = NULL, *bounds = NULL, *normalize = NULL;
    foil_data_spec data = {0};
    int64_t limit = 0;
    int json = 0, crown_only = 0;
    cli_option opts[] = {
        {"--model", OPT_STRING, &model_path, "FILE", "ONNX classifier", 1, 0},
        CLI_DATA_OPTIONS(data),
        CLI_SPLIT_OPTIONS(split_name, bounds, normalize),
        {"--eps", OPT_STRING, &eps_text, "E[,E...]", "Linf radius(es), in input units", 1, 0},
        {"--method", OPT_STRING, &methods_text, "M[,M]", "ibp, crown or both (default ibp,crown)", 0, 0},
        {"--crown-only", OPT_FLAG, &crown_only, NULL, "CROWN's bounds alone, not intersected with IBP's", 0, 0},
        {"--limit", OPT_INT, &limit, "N", "verify the first N examples (default: all)", 0, 0},
        {"--json", OPT_FLAG, &json, NULL, "print the results as one JSON object", 0, 0},
    };
    cli_common common;
    int rc = cli_parse(&cli_verify, argc, argv, opts, sizeof opts / sizeof opts[0], &common);
    if (rc) return rc;
    double eps[MAX_EPS];
    int n_eps, n_methods;
    foil_bounds_method methods[2];
    foil_split split;
    if ((rc = cli_parse_numbers(&cli_verify, "--eps", eps_text, 0, 0, eps, MAX_EPS, &n_eps)) ||
        (rc = parse_methods(methods_text, methods, &n_methods)) ||
        (rc = cli_data_split(&cli_verify, split_name, data.data, &split, &split_name)) ||
        (rc = cli_parse_bounds(&cli_verify, bounds, &data)))
        return rc;
    if (!n_eps) return cli_usage_error(&cli_verify, "--eps is empty");
    if (limit < 0) return cli_usage_error(&cli_verify, "--limit must be >= 0");
    cli_apply_common(&common);
    data.seed = (uint64_t)common.seed;

    foil_model *model = NULL;
    foil_verifier *v = NULL;
    foil_dataset d = {0};
    foil_tensor logits = {0};
    uint8_t *correct = NULL;
    verify_row rows[2 * MAX_EPS];
    int n_rows = 0;
    foil_status st;
    cli_model_source source = {.model = model_path, .retries = -1};
    rc = cli_open_inputs(&cli_verify, &source, &data, split, normalize, &model, &d);
    if (!rc) cli_limit_examples(&d, limit);
    if (!rc && (st = foil_verify_new(model, d.x.ndim - 1, d.x.shape + 1, &v))) rc = cli_fail(&cli_verify, st);
    if (!rc && (st = foil_model_predict(model, &d.x, &logits))) rc = cli_fail(&cli_verify, st);
    const int64_t n = d.x.shape[0];
    int64_t n_correct = 0;
    if (!rc) {
        correct = calloc((size_t)(n ? n : 1), 1);
        if (!correct) rc = cli_fail(&cli_verify, foil_error(FOIL_ERR_NOMEM, "out of memory"));
        const int64_t K = logits.numel / (n ? n : 1);
        for (int64_t i = 0; !rc && i < n; i++) {
            const float *z = foil_f32(&logits) + i * K;
            int64_t best = 0;
            for (int64_t j = 1; j < K; j++) best = z[j] > z[best] ? j : best;
            correct[i] = best == foil_i64(&d.y)[i];
            n_correct += correct[i];
        }
    }
    const double clean = n ? (double)n_correct / (double)n : 0.0;
    const int printer = foilDistRank() == 0;
    if (!rc && !json && printer)
        printf("%s on %s (%s split, %lld examples)\n  clean accuracy  %.2f%%\n  %-11s %-8s %-10s %s\n",
               foil_model_name(model), d.name, split_name, (long long)n, 100 * clean, "method", "eps", "verified",
               "s/example");
    for (int mi = 0; !rc && mi < n_methods; mi++)
        for (int k = 0; !rc && k < n_eps; k++) {
            foil_bounds_options o = {.method = methods[mi], .crown_only = crown_only};
            verify_row *row = &rows[n_rows++];
            *row = (verify_row){methods[mi], eps[k], 0, 0};
            rc = verify_all(v, &o, &d, correct, (float)eps[k], common.quiet || json, row);
            if (!rc && !json && printer)
                printf("  %-11s %-8g %6.2f%%    %.4f\n",
                       methods[mi] == FOIL_BOUNDS_CROWN && crown_only ? "crown-only"
                                                                      : foil_bounds_method_name(methods[mi]),
                       eps[k], n ? 100.0 * (double)row->verified / (double)n : 0.0,
                       n ? row->seconds / (double)n : 0.0);
        }
    if (!rc && json && printer) print_json(foil_model_name(model), &d, split_name, clean, rows, n_rows, crown_only);
    free(correct);
    foil_tensor_free(&logits);
    foil_verify_free(v);
    foil_dataset_free(&d);
    foil_model_free(model);
    return rc;
}
