/*
 * cli/cmd_audit.c - `foil audit`: the repeatable robustness check of a
 * model (eval/audit.h), written as DIR/report.html for people and
 * DIR/report.json for pipelines, with --require gates that make the
 * command fail (exit 3) when the model falls short.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "eval/audit.h"
#include "foil/detect.h"
#include "foil/version.h"
#include "io/file.h"
#include "report/report.h"

static int run_audit(int argc, char **argv);

const cli_command cli_audit = {
    "audit", "run the robustness audit and write a report (HTML and JSON)",
    "(--model M.onnx | --endpoint URL | --command CMD) --data DATA --out DIR [--profile quick|standard|thorough] "
    "[--require 'FIGURE>=V' ...]\n       foil audit --compare OLD NEW [--json]",
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
    "run, and the report says so. --preprocess LIST declares a preprocessing\n"
    "defense (as foil attack takes it): every attack runs on the defense as\n"
    "given and adaptively (NAME+bpda, NAME+bpda+eot for a randomized one), the\n"
    "worst case takes both, and the report flags gradient masking where the\n"
    "adaptive attack leaves more than 5 points less. --detector LIST (squeeze,\n"
    "max-softmax, energy, mahalanobis; see foil detect) scores each detector,\n"
    "its threshold at --detector-fpr of the clean sample, against every attack\n"
    "at the middle Linf eps (ROC AUC, TPR, examples that evade it), then runs\n"
    "the attacker who evades model and detector together (orthogonal and\n"
    "selective PGD) and flags a detector it gets 5 points more through.\n"
    "For a white-box image model it also scans for a backdoor: Neural Cleanse\n"
    "on the sample's first images (500 quick, 1,000 otherwise; --backdoor-steps\n"
    "Adam steps per class, 1200, fewer give false anomalies) finds each class's\n"
    "smallest trigger and flags a class whose anomaly index exceeds 2; STRIP\n"
    "then blends clean images stamped with the smallest trigger (a backdoor's\n"
    "keeps the model's answer). --no-backdoor-scan skips it; black-box models,\n"
    "declared defenses and tabular data skip it.\n"
    "Privacy: membership inference against the model as given, on --privacy-\n"
    "examples (1000) members and as many non-members drawn from --seed: the\n"
    "loss, confidence, entropy and modified-entropy thresholds (gap for a model\n"
    "that answers with labels), each with its ROC curve (log axes), AUC, TPR at\n"
    "0.1% and 1% FPR and best balanced accuracy, and the model's accuracy on\n"
    "members and non-members; report.json writes the drawn indices and their\n"
    "SHA-256. The non-members come from the audited data; the members from\n"
    "--members DATA (the examples the model trained on: a dataset or file, or\n"
    "'train', DATA's training split, which a built-in DATA audited on its test\n"
    "split assumes by default, as foil train trains on it; the tabular ones\n"
    "split by --seed, so audit with the seed the model was trained with;\n"
    "--members-limit N for a model trained on the first N). Without members\n"
    "the report says the audit cannot tell; --no-privacy turns it off. These\n"
    "attacks need no shadow models and bound the leakage from below: foil\n"
    "infer runs LiRA.\n"
    "Writes DIR/report.html (summary, curves, an example per class clean and\n"
    "adversarial with integrated-gradients saliency maps, per-class figures,\n"
    "every run with its parameters), DIR/report.json (schema foil-audit/1,\n"
    "docs/audit-report.md) and DIR/examples/*.png. Every accuracy carries its\n"
    "95% Wilson interval.\n"
    "--require 'FIGURE>=V' (or <=; repeatable) gates a release: FIGURE is clean,\n"
    "worst-NORM@EPS (robust under every attack at that eps, e.g.\n"
    "worst-linf@0.1) or ATTACK-NORM@EPS (e.g. pgd-linf@0.1), V a fraction; with\n"
    "--require-confident the interval's end is judged, so a lucky sample cannot\n"
    "pass; or backdoor-anomaly, the backdoor scan's largest anomaly index below\n"
    "the median ('backdoor-anomaly<=2': no class flagged), which has no interval,\n"
    "or backdoor-strip-tpr, the stamped images STRIP flags at 5% FPR; or\n"
    "membership-auc, membership-tpr@0.1%fpr, membership-tpr@1%fpr (the strongest\n"
    "attack's; membership-loss-auc etc. for one attack) and\n"
    "membership-accuracy-gap, which have no interval ('membership-auc<=0.6').\n"
    "Exit status 3 when a requirement fails, each failure named on stderr.\n"
    "--junit FILE.xml writes the requirements as JUnit XML (a test case each),\n"
    "which CI systems display natively.\n"
    "foil audit --compare OLD NEW [--json] (report.json files, or the directories\n"
    "holding them) prints each figure both hold, its change and the change's 95%\n"
    "interval (Newcombe's hybrid score interval, conservative for two audits of\n"
    "the same sample), and calls it better or worse only when the interval\n"
    "excludes 0. Exit status 3 when any figure got worse beyond the noise.",
    run_audit,
    0,
};

typedef struct audit_args {
    cli_model_source source;
    foil_data_spec data;
    const char *split, *bounds, *normalize, *out, *profile, *eps_linf, *eps_l2, *junit;
    cli_defense_args defense;
    const char *detectors, *squeezers;
    double detector_fpr;
    cli_list require;
    int require_confident, no_backdoor_scan, no_privacy;
    int64_t limit, batch, queries, backdoor_steps;
    const char *members, *members_labels; /* --members: the model's training examples */
    int64_t members_limit, privacy_examples;
} audit_args;

static int make_config(const audit_args *a, const cli_common *common, FoilAuditConfig *c,
                       FoilAuditRequirement *reqs)
{
    int p = foilAuditProfileParse(a->profile);
    if (p < 0) return cli_usage_error(&cli_audit, "--profile must be quick, standard or thorough, not '%s'", a->profile);
    if (a->limit < 0 || a->queries < 0 || a->batch < 1)
        return cli_usage_error(&cli_audit, "--limit and --queries must be >= 0 and --batch >= 1");
    if (!(a->detector_fpr > 0 && a->detector_fpr < 1))
        return cli_usage_error(&cli_audit, "--detector-fpr must lie strictly between 0 and 1");
    if (a->backdoor_steps < 1) return cli_usage_error(&cli_audit, "--backdoor-steps must be >= 1");
    if (a->privacy_examples < 1 || a->members_limit < 0)
        return cli_usage_error(&cli_audit, "--privacy-examples must be >= 1 and --members-limit >= 0");
    if (a->no_privacy && (a->members || a->members_labels || a->members_limit))
        return cli_usage_error(&cli_audit, "--no-privacy turns membership inference off: --members, "
                               "--members-labels and --members-limit have nothing to do");
    *c = (FoilAuditConfig){.profile = (FoilAuditProfile)p, .examples = a->limit, .seed = (uint64_t)common->seed,
                           .batch = a->batch, .queries = a->queries, .quiet = common->quiet,
                           .no_backdoor_scan = a->no_backdoor_scan, .backdoor_steps = a->backdoor_steps,
                           .no_privacy = a->no_privacy, .privacy_examples = a->privacy_examples};
    int rc = cli_parse_numbers(&cli_audit, "--eps-linf", a->eps_linf, 1, 1, c->eps_linf, FOIL_AUDIT_MAX_EPS,
                               &c->n_eps_linf);
    if (!rc) rc = cli_parse_numbers(&cli_audit, "--eps-l2", a->eps_l2, 1, 1, c->eps_l2, FOIL_AUDIT_MAX_EPS, &c->n_eps_l2);
    for (int i = 0; i < a->require.n && !rc; i++)
        if (foilAuditRequirementParse(a->require.items[i], a->require_confident, &reqs[i]))
            rc = cli_usage_error(&cli_audit, "--require: %s", foil_last_error());
    if (!rc && a->require_confident && !a->require.n)
        rc = cli_usage_error(&cli_audit, "--require-confident needs --require");
    return rc;
}

typedef foil_status (*report_writer)(FILE *f, const FoilAudit *a, const FoilAuditContext *ctx);

static foil_status write_json(FILE *f, const FoilAudit *a, const FoilAuditContext *ctx)
{
    cJSON *json = foilReportAuditJson(a, ctx);
    char *text = json ? cJSON_Print(json) : NULL;
    cJSON_Delete(json);
    if (!text) return foil_error(FOIL_ERR_NOMEM, "out of memory for the JSON report");
    fputs(text, f);
    fputc('\n', f);
    free(text);
    return FOIL_OK;
}

/* One report file: path (dir/name, or name alone when dir is NULL). */
static foil_status write_report(const char *dir, const char *name, report_writer write, const FoilAudit *a,
                                const FoilAuditContext *ctx)
{
    char path[4096];
    snprintf(path, sizeof path, "%s%s%s", dir ? dir : "", dir ? "/" : "", name);
    FILE *f = fopen(path, "w");
    if (!f) return foil_error(FOIL_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    foil_status st = write(f, a, ctx);
    if (fclose(f) && !st) st = foil_error(FOIL_ERR_IO, "%s: write failed", path);
    return st;
}

static int write_reports(const audit_args *args, const FoilAudit *au, const FoilAuditContext *ctx)
{
    foil_status st = foilReportAuditExamples(args->out, au);
    if (!st) st = write_report(args->out, "report.json", write_json, au, ctx);
    if (!st) st = write_report(args->out, "report.html", foilReportAuditHtml, au, ctx);
    if (!st && args->junit) st = write_report(NULL, args->junit, foilReportAuditJunit, au, ctx);
    return st ? cli_fail(&cli_audit, st) : CLI_OK;
}

/* The backdoor scan's line of the summary. */
static void print_backdoor(const FoilAudit *au, const FoilAuditContext *ctx)
{
    const FoilAuditBackdoor *b = &au->backdoor;
    if (!b->ran) return;
    const foil_cleanse_result *r = &b->cleanse;
    printf("  %-28s %9.2f  (Neural Cleanse, %lld images, %lld steps; ", FOIL_AUDIT_BACKDOOR_KEY, r->flagged_anomaly,
           (long long)b->images, (long long)b->steps);
    if (r->flagged >= 0)
        printf("BACKDOOR SUSPECTED: class %lld%s%s, mask L1 %.3g against a median of %.3g", (long long)r->flagged,
               ctx->class_names ? " " : "", ctx->class_names ? ctx->class_names[r->flagged] : "", r->norm[r->flagged],
               r->median);
    else printf("no class flagged");
    printf(")\n");
    const FoilAuditFigure *tpr = &b->strip.tpr;
    if (b->strip.images)
        printf("  %-28s %8.2f%% %7.2f%% - %5.2f%%  (STRIP at 5%% FPR, class %lld's trigger on %lld images)\n",
               FOIL_AUDIT_STRIP_KEY, 100 * tpr->value, 100 * tpr->low, 100 * tpr->high, (long long)b->shown,
               (long long)tpr->n);
}

/* The privacy section's lines of the summary: the strongest attack's
 * figures and the accuracy gap they feed on. */
static void print_privacy(const FoilAudit *au)
{
    const FoilAuditPrivacy *p = &au->privacy;
    if (!p->ran) return;
    char key[96];
    double v;
    for (int w = 0; w < FOIL_AUDIT_MEMBERSHIP_MEASURES; w++) {
        foilAuditMembershipKey(NULL, foilAuditMembershipMeasures[w], key, sizeof key);
        if (!foilAuditPrivacyValue(au, key, &v)) continue;
        if (w == 0) printf("  %-28s %9.4f  (the strongest of %d threshold attacks, %lld members and %lld non-members)\n",
                           key, v, p->n_attacks, (long long)p->n, (long long)p->n);
        else printf("  %-28s %8.2f%%\n", key, 100 * v);
    }
    printf("  %-28s %+8.2f%%  (accuracy %.2f%% on the members, %.2f%% on the non-members)\n",
           FOIL_AUDIT_MEMBERSHIP_PREFIX "accuracy-gap",
           100 * (p->member_accuracy.value - p->non_member_accuracy.value), 100 * p->member_accuracy.value,
           100 * p->non_member_accuracy.value);
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
    for (int i = 0; i < au->n_verified; i++) {
        foilAuditVerifiedKey(&au->verified[i], key, sizeof key);
        const FoilAuditFigure *f = &au->verified[i].verified;
        printf("  %-28s %8.2f%% %7.2f%% - %5.2f%%  (CROWN, %lld examples)\n", key, 100 * f->value, 100 * f->low,
               100 * f->high, (long long)f->n);
    }
    print_backdoor(au, ctx);
    print_privacy(au);
    for (int i = 0; i < au->n_skipped; i++) printf("  not run: %s\n", au->skipped[i]);
    if (au->gradient_masking)
        printf("  WARNING: the defense (%s) relies on gradient masking: %d adaptive attacks left more than 5 points "
               "less robust accuracy than the same attacks on the defense as given (see the report)\n",
               au->defense, au->gradient_masking);
    for (int k = 0; k < au->n_detectors; k++) {
        printf("  detector %-12s ROC AUC", au->detectors[k].name);
        for (int i = 0; i < au->n_detections; i++) {
            const FoilDetectionRow *r = &au->detections[i].row;
            if (au->detections[i].detector != k) continue;
            if (!r->adaptive) printf(" %s %.3f", r->attack, r->roc_auc);
            else
                printf("; adaptive attacker: %.1f%% evade", r->attacked ? 100.0 * (double)r->evaded / (double)r->attacked : 0);
        }
        printf("%s\n", au->detectors[k].adaptive_gap ? " (WARNING: it stops fewer from an attacker who knows it)" : "");
    }
    for (int i = 0; i < ctx->n_requirements; i++) {
        const FoilAuditRequirement *r = &ctx->requirements[i];
        printf("  requirement %-32s %s", r->text, r->passed ? "pass" : "FAIL");
        if (r->found) printf(" (%.4f)\n", r->used);
        else printf(" (the audit has no figure '%s')\n", r->key);
    }
    printf("report: %s/report.html and %s/report.json\n", dir, dir);
}

/* --detector LIST on the model: mahalanobis fits on the training split. */
static int make_detectors(const audit_args *a, foil_model *model, const foil_dataset *test, uint64_t seed,
                          foil_detector **out, int *n)
{
    *n = 0;
    if (!a->detectors) return CLI_OK;
    char text[256];
    const char *names[CLI_MAX_DETECTORS];
    int count, rc;
    snprintf(text, sizeof text, "%s", a->detectors);
    if ((rc = cli_split_detectors(&cli_audit, text, names, &count))) return rc;
    cli_detector_args da = {.squeezers = a->squeezers, .temperature = 1, .model_path = a->source.model,
                            .normalize = a->normalize, .fit_limit = 10000};
    foil_dataset train = {0};
    for (int k = 0; k < count && !rc; k++) {
        const foil_dataset *fit = test;
        if (strcmp(names[k], "mahalanobis") == 0) {
            foil_status st = train.x.data ? FOIL_OK : foil_data_load(&a->data, FOIL_SPLIT_TRAIN, &train);
            if (st) rc = cli_fail(&cli_audit, st);
            fit = &train;
        }
        if (!rc && !(rc = cli_make_detector(&cli_audit, names[k], &da, model, fit, seed, &out[*n]))) (*n)++;
    }
    foil_dataset_free(&train);
    return rc;
}

/* The examples the model trained on (config->members, loaded into
 * *members), and where they came from: --members DATA (a built-in's
 * training split, or a whole file), --members train (DATA's own training
 * split, the one foil train trains on), or, for a built-in DATA audited on
 * its test split, that training split, assumed. Without them the audit
 * says why it cannot tell members from non-members. */
static int load_members(const audit_args *a, foil_split split, FoilAuditConfig *config, foil_dataset *members)
{
    const int builtin = foil_data_is_builtin(a->data.data);
    const char *from = a->members ? a->members : builtin ? "train" : NULL;
    if (config->no_privacy || !from) return CLI_OK;
    const int own = strcmp(from, "train") == 0;
    if (own && split != FOIL_SPLIT_TEST) {
        if (a->members)
            return cli_usage_error(&cli_audit, "--members train needs --split test: the audited data are the "
                                   "non-members, and DATA's other splits hold its training examples");
        config->privacy_why_not = "membership inference (privacy): the audited split holds the training split's "
                                  "examples, so none of it is surely a non-member; audit --split test, or give "
                                  "--members";
        return CLI_OK;
    }
    foil_data_spec spec = a->data;
    if (!own) spec.data = from, spec.labels = a->members_labels;
    const foil_split which = own || foil_data_is_builtin(from) ? FOIL_SPLIT_TRAIN : FOIL_SPLIT_ALL;
    foil_status st = foil_data_load(&spec, which, members);
    if (st) return cli_fail(&cli_audit, foil_error_prefix(st, "--members"));
    cli_limit_examples(members, a->members_limit);
    config->members = members;
    config->members_split = which == FOIL_SPLIT_TRAIN ? "train" : "all";
    config->members_assumed = !a->members;
    return CLI_OK;
}

static int audit(const audit_args *a, const FoilAuditConfig *given, FoilAuditRequirement *reqs)
{
    FoilAuditConfig conf = *given, *config = &conf;
    foil_dataset members = {0};
    foil_split split;
    const char *split_name = a->split;
    int rc = cli_data_split(&cli_audit, a->split, a->data.data, &split, &split_name);
    foil_dataset d = {0};
    foil_model *model = NULL, *adaptive = NULL;
    foil_detector *detectors[CLI_MAX_DETECTORS] = {0};
    int n_detectors = 0;
    FoilAudit au;
    foil_status st;
    if (rc) return rc;
    /* before the attacks run: a report that cannot be written must not cost the audit */
    foil_status made = foilMakeDir(a->out);
    if (made) return cli_fail(&cli_audit, made);
    FILE *junit = a->junit ? fopen(a->junit, "w") : NULL;
    if (a->junit && !junit)
        return cli_fail(&cli_audit, foil_error(FOIL_ERR_IO, "%s: cannot write: %s", a->junit, strerror(errno)));
    if (junit) fclose(junit);
    if ((rc = cli_open_model(&cli_audit, &a->source, &model))) return rc;
    if ((st = foil_data_load(&a->data, split, &d))) rc = cli_fail(&cli_audit, st);
    if (!rc) rc = load_members(a, split, config, &members);
    if (!rc && !(rc = cli_apply_normalize(&cli_audit, a->normalize, model)) &&
        !(rc = cli_check_model_input(&cli_audit, model, &d.x, a->data.data)) &&
        !(rc = cli_defend_model(&cli_audit, &a->defense, &a->source, a->normalize, &d, config->seed, &model,
                                &adaptive)) &&
        !(rc = make_detectors(a, model, &d, config->seed, detectors, &n_detectors))) {
        FoilAuditModels models = {.model = model, .adaptive = adaptive, .defense = a->defense.preprocess,
                                  .adaptive_tag = cli_adaptive_tag(model), .detectors = detectors,
                                  .n_detectors = n_detectors, .detector_fpr = a->detector_fpr};
        foil_model_set_max_batch(model, a->batch);
        if (adaptive) foil_model_set_max_batch(adaptive, a->batch);
        if ((st = foilAuditRun(&models, &d, config, &au))) rc = cli_fail(&cli_audit, st);
    }
    if (!rc) {
        FoilAuditContext ctx = {.model = foil_model_name(model), .model_kind = foil_model_kind(model), .data = d.name,
                                .split = split_name, .version = foil_version(),
                                .is_image = d.is_image, .class_names = (const char *const *)d.class_names,
                                .requirements = reqs, .n_requirements = a->require.n};
        ctx.failed = foilAuditCheck(&au, reqs, a->require.n);
        rc = write_reports(a, &au, &ctx);
        if (!rc) print_summary(&au, &ctx, a->out);
        for (int i = 0; i < a->require.n && !rc; i++)
            if (!reqs[i].passed)
                fprintf(stderr, "foil audit: requirement not met: %s (%s)\n", reqs[i].text,
                        reqs[i].found ? "see the report" : "no such figure in this audit");
        if (!rc && ctx.failed) rc = CLI_REQUIREMENT_FAILED;
        foilAuditFree(&au);
    }
    for (int k = 0; k < n_detectors; k++) foil_detector_free(detectors[k]);
    foil_dataset_free(&members);
    foil_dataset_free(&d);
    foil_model_free(model);
    foil_model_free(adaptive);
    return rc;
}

/* --compare's argument: a report.json, or a directory holding one. */
static void report_path(const char *arg, char *path, size_t size)
{
    struct stat sb;
    if (stat(arg, &sb) == 0 && S_ISDIR(sb.st_mode)) snprintf(path, size, "%s/report.json", arg);
    else snprintf(path, size, "%s", arg);
}

static const char *verdict_name(int v) { return v > 0 ? "better" : v < 0 ? "WORSE" : "within noise"; }

static void print_backdoor_side(const FoilAuditBackdoorSide *b)
{
    if (!b->present) printf("not scanned");
    else if (b->flagged >= 0) printf("%.2f, class %lld flagged", b->anomaly, (long long)b->flagged);
    else printf("%.2f, none flagged", b->anomaly);
}

/* The backdoor scans beside the figures: no interval, so no verdict. */
static void print_backdoor_change(const FoilAuditComparison *c)
{
    if (!c->backdoor_before.present && !c->backdoor_after.present) return;
    printf("  %-24s ", FOIL_AUDIT_BACKDOOR_KEY);
    print_backdoor_side(&c->backdoor_before);
    printf(" -> ");
    print_backdoor_side(&c->backdoor_after);
    printf("  (no interval; gate it with --require)\n");
}

static void print_privacy_side(const FoilAuditPrivacySide *p, int k)
{
    if (!p->present) printf("%8s", "none");
    else if (isnan(p->value[k])) printf("%8s", "-");
    else printf("%8.4f", p->value[k]);
}

/* The privacy sections' headline figures beside the others: no interval,
 * so no verdict. */
static void print_privacy_change(const FoilAuditComparison *c)
{
    if (!c->privacy_before.present && !c->privacy_after.present) return;
    for (int k = 0; k < FOIL_AUDIT_PRIVACY_SHOWN; k++) {
        printf("  %-24s ", foilAuditPrivacyShown[k]);
        print_privacy_side(&c->privacy_before, k);
        printf(" ");
        print_privacy_side(&c->privacy_after, k);
        printf("  (no interval; gate it with --require)\n");
    }
}

static void print_comparison(const FoilAuditComparison *c, const char *before, const char *after)
{
    printf("foil audit --compare: %s -> %s\n", before, after);
    printf("  %-24s %8s %8s %9s %21s  %s\n", "figure", "before", "after", "change", "95% interval (points)",
           "verdict");
    for (int i = 0; i < c->n; i++) {
        const FoilAuditChange *x = &c->changes[i];
        printf("  %-24s %7.2f%% %7.2f%% %+9.2f   [%+7.2f, %+7.2f]  %s\n", x->key, 100 * x->before.value,
               100 * x->after.value, 100 * x->delta, 100 * x->low, 100 * x->high, verdict_name(x->verdict));
    }
    print_backdoor_change(c);
    print_privacy_change(c);
    printf("%d better, %d worse beyond the noise, %d within it", c->better, c->worse, c->n - c->better - c->worse);
    if (c->only_before || c->only_after)
        printf("; %d figures only in the first report, %d only in the second", c->only_before, c->only_after);
    printf("\n");
}

/* null when the report has no scan; the anomaly index null when infinite */
static cJSON *backdoor_side_json(const FoilAuditBackdoorSide *b)
{
    if (!b->present) return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "anomaly_index",
                          isfinite(b->anomaly) ? cJSON_CreateNumber(b->anomaly) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "flagged", b->flagged >= 0 ? cJSON_CreateNumber((double)b->flagged) : cJSON_CreateNull());
    return o;
}

/* null when the report has no privacy section; its headline figures, null where missing */
static cJSON *privacy_side_json(const FoilAuditPrivacySide *p)
{
    if (!p->present) return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    for (int k = 0; k < FOIL_AUDIT_PRIVACY_SHOWN; k++)
        cJSON_AddItemToObject(o, foilAuditPrivacyShown[k],
                              isnan(p->value[k]) ? cJSON_CreateNull() : cJSON_CreateNumber(p->value[k]));
    return o;
}

static void print_comparison_json(const FoilAuditComparison *c, const char *before, const char *after)
{
    cJSON *o = cJSON_CreateObject(), *list = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "before", before);
    cJSON_AddStringToObject(o, "after", after);
    cJSON_AddNumberToObject(o, "better", c->better);
    cJSON_AddNumberToObject(o, "worse", c->worse);
    cJSON_AddNumberToObject(o, "only_before", c->only_before);
    cJSON_AddNumberToObject(o, "only_after", c->only_after);
    for (int i = 0; i < c->n; i++) {
        const FoilAuditChange *x = &c->changes[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "figure", x->key);
        cJSON_AddNumberToObject(e, "before", x->before.value);
        cJSON_AddNumberToObject(e, "after", x->after.value);
        cJSON_AddNumberToObject(e, "change", x->delta);
        cJSON_AddNumberToObject(e, "ci_low", x->low);
        cJSON_AddNumberToObject(e, "ci_high", x->high);
        cJSON_AddStringToObject(e, "verdict", x->verdict > 0 ? "better" : x->verdict < 0 ? "worse" : "same");
        cJSON_AddItemToArray(list, e);
    }
    cJSON_AddItemToObject(o, "changes", list);
    cJSON *backdoor = cJSON_AddObjectToObject(o, "backdoor");
    cJSON_AddItemToObject(backdoor, "before", backdoor_side_json(&c->backdoor_before));
    cJSON_AddItemToObject(backdoor, "after", backdoor_side_json(&c->backdoor_after));
    cJSON *privacy = cJSON_AddObjectToObject(o, "privacy");
    cJSON_AddItemToObject(privacy, "before", privacy_side_json(&c->privacy_before));
    cJSON_AddItemToObject(privacy, "after", privacy_side_json(&c->privacy_after));
    char *text = cJSON_PrintUnformatted(o);
    if (text) puts(text);
    free(text);
    cJSON_Delete(o);
}

/* foil audit --compare OLD NEW [--json] */
static int run_compare(int argc, char **argv)
{
    int json = argc == 5 && strcmp(argv[4], "--json") == 0;
    if (argc != 4 + json)
        return cli_usage_error(&cli_audit, "--compare takes two reports: foil audit --compare OLD NEW [--json]");
    char before[4096], after[4096];
    report_path(argv[2], before, sizeof before);
    report_path(argv[3], after, sizeof after);
    FoilAuditComparison *c = malloc(sizeof *c);
    if (!c) return cli_fail(&cli_audit, foil_error(FOIL_ERR_NOMEM, "out of memory"));
    foil_status st = foilAuditCompare(before, after, c);
    int rc = st ? cli_fail(&cli_audit, st) : CLI_OK;
    if (!rc && json) print_comparison_json(c, before, after);
    else if (!rc) print_comparison(c, before, after);
    if (!rc && c->worse) rc = CLI_REQUIREMENT_FAILED;
    free(c);
    return rc;
}

static int run_audit(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--compare") == 0) return run_compare(argc, argv);
    audit_args a = {.source.retries = -1, .profile = "quick", .batch = 250, .squeezers = "squeeze:bits=4,median:3",
                    .detector_fpr = 0.05, .backdoor_steps = FOIL_CLEANSE_DEFAULT_STEPS,
                    .privacy_examples = FOIL_AUDIT_PRIVACY_EXAMPLES};
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
        {"--junit", OPT_STRING, &a.junit, "FILE.xml", "also write the requirements as JUnit XML", 0, 0},
        {"--require-confident", OPT_FLAG, &a.require_confident, NULL,
         "judge requirements by the 95% interval's end, not the sample's figure", 0, 0},
        {"--batch", OPT_INT, &a.batch, "B", "examples attacked together (default 250)", 0, 0},
        CLI_DEFENSE_OPTIONS(a.defense),
        {"--detector", OPT_STRING, &a.detectors, "LIST",
         "detectors to score at the headline eps: squeeze, max-softmax, energy, mahalanobis", 0, 0},
        {"--detector-fpr", OPT_FLOAT, &a.detector_fpr, "F",
         "false-positive rate the detectors' thresholds allow on the clean sample (0.05)", 0, 0},
        {"--squeezers", OPT_STRING, &a.squeezers, "LIST", "the squeeze detector's squeezers (squeeze:bits=4,median:3)",
         0, 0},
        {"--no-backdoor-scan", OPT_FLAG, &a.no_backdoor_scan, NULL, "skip the backdoor scan (Neural Cleanse, STRIP)", 0,
         0},
        {"--backdoor-steps", OPT_INT, &a.backdoor_steps, "N",
         "Neural Cleanse's Adam steps per class (1200; fewer are noisier)", 0, 0},
        {"--members", OPT_STRING, &a.members, "DATA",
         "the model's training examples, for membership inference: a dataset or file, or 'train' (DATA's training "
         "split; the default for a built-in DATA)", 0, 0},
        {"--members-labels", OPT_STRING, &a.members_labels, "FILE", "labels for an IDX or NPY --members file", 0, 0},
        {"--members-limit", OPT_INT, &a.members_limit, "N",
         "the model trained on the first N members only (as foil train --limit N)", 0, 0},
        {"--privacy-examples", OPT_INT, &a.privacy_examples, "N",
         "members drawn for membership inference, and as many non-members (1000)", 0, 0},
        {"--no-privacy", OPT_FLAG, &a.no_privacy, NULL, "skip membership inference", 0, 0},
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
