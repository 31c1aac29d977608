/*
 * cli/cmd_audit.c - `foil audit`: the repeatable robustness check of a
 * model (audit/audit.h), written as DIR/report.html for people and
 * DIR/report.json for pipelines, with --require gates that make the
 * command fail (exit 3) when the model falls short.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "report/report.h"

static int run_audit(int argc, char **argv);

const cli_command cli_audit = {
    "audit", "run the robustness audit and write a report (HTML and JSON)",
    "(--model M.onnx | --endpoint URL | --command CMD) --data DATA --out DIR [--profile quick|standard|thorough] "
    "[--require 'FIGURE>=V' ...]",
    "Runs, on a seeded sample of DATA's test split: clean evaluation; FGSM,\n"
    "PGD, APGD-CE and APGD-DLR over Linf eps, PGD and APGD-CE over L2 eps\n"
    "(images); the Square Attack (score-based; SimBA on tabular data) and\n"
    "HopSkipJump (decision-based, labels only) at the middle Linf eps under the\n"
    "profile's query budget. Profiles: quick (500 examples, PGD-20, APGD-50,\n"
    "1,000 queries), standard (1,000, PGD-50, APGD-100, 5,000 queries), thorough\n"
    "(10,000, PGD-100, APGD-100, 10,000 queries, and AutoAttack at every Linf\n"
    "eps). Image eps (Linf 0.03, 0.05, 0.1, 0.2; L2 0.5, 1, 2) are in units of\n"
    "the pixel range, L2 scaled by sqrt(pixels / 784); tabular Linf eps are in\n"
    "the data's units; --eps-linf and --eps-l2 replace them. A model behind\n"
    "--endpoint or --command gives no gradients: only the black-box attacks\n"
    "run, and the report says so.\n"
    "Writes DIR/report.html (summary, curves, per-class figures, every run with\n"
    "its parameters) and DIR/report.json (schema foil-audit/1,\n"
    "docs/audit-report.md). Every accuracy carries its 95% Wilson interval.\n"
    "--require 'FIGURE>=V' (or <=; repeatable) gates a release: FIGURE is clean,\n"
    "worst-NORM@EPS (robust under every attack at that eps, e.g.\n"
    "worst-linf@0.1) or ATTACK-NORM@EPS (e.g. pgd-linf@0.1), V a fraction; with\n"
    "--require-confident the interval's end is judged, so a lucky sample cannot\n"
    "pass. Exit status 3 when a requirement fails, each failure named on stderr.",
    run_audit,
};

typedef struct audit_args {
    cli_model_source source;
    foil_data_spec data;
    const char *split, *bounds, *normalize, *out, *profile, *eps_linf, *eps_l2;
    cli_list require;
    int require_confident;
    int64_t limit, batch, queries;
} audit_args;

static int parse_eps(const char *opt, const char *s, double *eps, int *n)
{
    *n = 0;
    while (s && *s) {
        char *end;
        double v = strtod(s, &end);
        if (end == s || (*end && *end != ',') || !isfinite(v) || v <= 0)
            return cli_usage_error(&cli_audit, "%s expects numbers > 0 separated by commas, got '%s'", opt, s);
        if (*n == FOIL_AUDIT_MAX_EPS) return cli_usage_error(&cli_audit, "%s: at most %d values", opt, FOIL_AUDIT_MAX_EPS);
        if (*n && v <= eps[*n - 1]) return cli_usage_error(&cli_audit, "%s: give the values in increasing order", opt);
        eps[(*n)++] = v;
        s = *end ? end + 1 : end;
    }
    return CLI_OK;
}

static int make_config(const audit_args *a, const cli_common *common, FoilAuditConfig *c,
                       FoilAuditRequirement *reqs)
{
    int p = foilAuditProfileParse(a->profile);
    if (p < 0) return cli_usage_error(&cli_audit, "--profile must be quick, standard or thorough, not '%s'", a->profile);
    if (a->limit < 0 || a->queries < 0 || a->batch < 1)
        return cli_usage_error(&cli_audit, "--limit and --queries must be >= 0 and --batch >= 1");
    *c = (FoilAuditConfig){.profile = (FoilAuditProfile)p, .examples = a->limit, .seed = (uint64_t)common->seed,
                           .batch = a->batch, .queries = a->queries, .quiet = common->quiet};
    int rc = parse_eps("--eps-linf", a->eps_linf, c->eps_linf, &c->n_eps_linf);
    if (!rc) rc = parse_eps("--eps-l2", a->eps_l2, c->eps_l2, &c->n_eps_l2);
    for (int i = 0; i < a->require.n && !rc; i++)
        if (foilAuditRequirementParse(a->require.items[i], a->require_confident, &reqs[i]))
            rc = cli_usage_error(&cli_audit, "--require: %s", foil_last_error());
    if (!rc && a->require_confident && !a->require.n)
        rc = cli_usage_error(&cli_audit, "--require-confident needs --require");
    return rc;
}

static int write_reports(const char *dir, const FoilAudit *au, const FoilAuditContext *ctx)
{
    char path[4096];
    cJSON *json = foilReportAuditJson(au, ctx);
    char *text = json ? cJSON_Print(json) : NULL;
    cJSON_Delete(json);
    snprintf(path, sizeof path, "%s/report.json", dir);
    FILE *f = text ? fopen(path, "w") : NULL;
    foil_status st = !text ? foil_error(FOIL_ERR_NOMEM, "out of memory for report.json")
                     : !f  ? foil_error(FOIL_ERR_IO, "%s: cannot write: %s", path, strerror(errno))
                           : FOIL_OK;
    if (f) {
        fputs(text, f);
        fputc('\n', f);
        if (fclose(f)) st = foil_error(FOIL_ERR_IO, "%s: write failed", path);
    }
    free(text);
    if (!st) {
        snprintf(path, sizeof path, "%s/report.html", dir);
        if (!(f = fopen(path, "w"))) st = foil_error(FOIL_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        else {
            st = foilReportAuditHtml(f, au, ctx);
            if (fclose(f) && !st) st = foil_error(FOIL_ERR_IO, "%s: write failed", path);
        }
    }
    return st ? cli_fail(&cli_audit, st) : CLI_OK;
}

/* The one-screen summary at the end. */
static void print_summary(const FoilAudit *au, const FoilAuditContext *ctx, const char *dir)
{
    printf("foil audit: %s on %s (%lld examples, profile %s, %.0f s)\n", ctx->model, ctx->data,
           (long long)au->config.examples, au->profile_name, au->seconds);
    printf("  %-28s %9s %17s\n", "figure", "accuracy", "95% interval");
    printf("  %-28s %8.2f%% %7.2f%% - %5.2f%%\n", "clean", 100 * au->clean.value, 100 * au->clean.low,
           100 * au->clean.high);
    char key[96];
    for (int i = 0; i < au->n_worst; i++) {
        foilAuditWorstKey(&au->worst[i], key, sizeof key);
        const FoilAuditFigure *f = &au->worst[i].robust;
        printf("  %-28s %8.2f%% %7.2f%% - %5.2f%%\n", key, 100 * f->value, 100 * f->low, 100 * f->high);
    }
    for (int i = 0; i < au->n_skipped; i++) printf("  not run: %s\n", au->skipped[i]);
    for (int i = 0; i < ctx->n_requirements; i++) {
        const FoilAuditRequirement *r = &ctx->requirements[i];
        printf("  requirement %-32s %s", r->text, r->passed ? "pass" : "FAIL");
        if (r->found) printf(" (%.4f)\n", r->used);
        else printf(" (the audit has no figure '%s')\n", r->key);
    }
    printf("report: %s/report.html and %s/report.json\n", dir, dir);
}

static int audit(const audit_args *a, const FoilAuditConfig *config, FoilAuditRequirement *reqs)
{
    foil_split split;
    const char *split_name = a->split;
    int rc = cli_data_split(&cli_audit, a->split, a->data.data, &split, &split_name);
    foil_dataset d = {0};
    foil_model *model = NULL;
    FoilAudit au;
    foil_status st;
    if (rc) return rc;
    /* before the attacks run: a report that cannot be written must not cost the audit */
    if (mkdir(a->out, 0777) && errno != EEXIST)
        return cli_fail(&cli_audit, foil_error(FOIL_ERR_IO, "%s: cannot create the directory: %s", a->out,
                                               strerror(errno)));
    if ((rc = cli_open_model(&cli_audit, &a->source, &model))) return rc;
    if ((st = foil_data_load(&a->data, split, &d))) rc = cli_fail(&cli_audit, st);
    if (!rc && !(rc = cli_apply_normalize(&cli_audit, a->normalize, model)) &&
        !(rc = cli_check_model_input(&cli_audit, model, &d.x, a->data.data))) {
        foil_model_set_max_batch(model, a->batch);
        if ((st = foilAuditRun(model, &d, config, &au))) rc = cli_fail(&cli_audit, st);
    }
    if (!rc) {
        FoilAuditContext ctx = {.model = foil_model_name(model), .model_kind = foil_model_kind(model), .data = d.name,
                                .split = split_name, .version = FOIL_VERSION_STRING,
                                .is_image = d.is_image, .class_names = (const char *const *)d.class_names,
                                .requirements = reqs, .n_requirements = a->require.n};
        ctx.failed = foilAuditCheck(&au, reqs, a->require.n);
        rc = write_reports(a->out, &au, &ctx);
        if (!rc) print_summary(&au, &ctx, a->out);
        for (int i = 0; i < a->require.n && !rc; i++)
            if (!reqs[i].passed)
                fprintf(stderr, "foil audit: requirement not met: %s (%s)\n", reqs[i].text,
                        reqs[i].found ? "see the report" : "no such figure in this audit");
        if (!rc && ctx.failed) rc = CLI_REQUIREMENT_FAILED;
        foilAuditFree(&au);
    }
    foil_dataset_free(&d);
    foil_model_free(model);
    return rc;
}

static int run_audit(int argc, char **argv)
{
    audit_args a = {.source.retries = -1, .profile = "quick", .batch = 250};
    cli_option opts[] = {
        CLI_MODEL_SOURCE_OPTIONS(a.source),
        CLI_DATA_OPTIONS(a.data),
        CLI_SPLIT_OPTIONS(a.split, a.bounds, a.normalize),
        {"--out", OPT_STRING, &a.out, "DIR", "where report.html and report.json go (created)", 1, 0},
        {"--profile", OPT_STRING, &a.profile, "NAME", "quick (default), standard or thorough", 0, 0},
        {"--limit", OPT_INT, &a.limit, "N", "audit N examples (default: the profile's)", 0, 0},
        {"--queries", OPT_INT, &a.queries, "Q", "black-box query budget per example (default: the profile's)", 0, 0},
        {"--eps-linf", OPT_STRING, &a.eps_linf, "E,...", "the Linf eps (default: the profile's)", 0, 0},
        {"--eps-l2", OPT_STRING, &a.eps_l2, "E,...", "the L2 eps, images (default: the profile's)", 0, 0},
        {"--require", OPT_LIST, &a.require, "'FIGURE>=V'", "fail (exit 3) unless the figure meets V (repeatable)", 0,
         0},
        {"--require-confident", OPT_FLAG, &a.require_confident, NULL,
         "judge requirements by the 95% interval's end, not the sample's figure", 0, 0},
        {"--batch", OPT_INT, &a.batch, "B", "examples attacked together (default 250)", 0, 0},
    };
    cli_common common;
    int rc = cli_parse(&cli_audit, argc, argv, opts, sizeof opts / sizeof opts[0], &common);
    if (rc) return rc;
    FoilAuditConfig config;
    FoilAuditRequirement reqs[CLI_LIST_MAX];
    if ((rc = make_config(&a, &common, &config, reqs)) || (rc = cli_parse_bounds(&cli_audit, a.bounds, &a.data)))
        return rc;
    cli_apply_common(&common);
    a.data.seed = (uint64_t)common.seed;
    return audit(&a, &config, reqs);
}
