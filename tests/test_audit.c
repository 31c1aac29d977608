/*
 * tests/test_audit.c - the audit's arithmetic and gates: Wilson intervals
 * against Newcombe's published table, requirement parsing, and judging
 * (by the figure, by the interval's end, and a figure the audit lacks),
 * the interval of a change between two audits (Newcombe's hybrid), and
 * integrated gradients against their closed form on a logistic model,
 * and the backdoor scan of whole audits of a toy model with and without a
 * one-pixel backdoor. The audit's runs are tested end to end in
 * test_audit_cli.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "eval/audit.h"
#include "eval/audit_examples.h"
#include "report/report.h"
#include "toy_data.h"

/* Newcombe (1998), "Two-sided confidence intervals for the single
 * proportion", Statistics in Medicine 17, Table II, method 3 (score
 * interval without continuity correction), to the 4 decimals printed. */
static void test_wilson_matches_newcombe(void **state)
{
    (void)state;
    const struct { int64_t k, n; double low, high; } table[] = {
        {81, 263, 0.2553, 0.3662}, {15, 148, 0.0624, 0.1605}, {0, 20, 0.0, 0.1611}, {1, 29, 0.0061, 0.1718},
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        FoilAuditFigure f = foilAuditFigure(table[i].k, table[i].n);
        assert_true(fabs(f.low - table[i].low) < 6e-5);
        assert_true(fabs(f.high - table[i].high) < 6e-5);
        assert_true(f.value == (double)table[i].k / (double)table[i].n);
    }
}

/* The ends are exact at 0 and n, and the interval mirrors: k of n right is
 * n - k of n wrong. */
static void test_wilson_ends_and_symmetry(void **state)
{
    (void)state;
    const double z2 = 1.959963984540054 * 1.959963984540054;
    FoilAuditFigure none = foilAuditFigure(0, 50), all = foilAuditFigure(50, 50);
    assert_true(none.low == 0.0 && all.high == 1.0);
    assert_true(fabs(none.high - z2 / (50 + z2)) < 1e-12);
    assert_true(fabs(all.low - 50 / (50 + z2)) < 1e-12);
    for (int64_t k = 0; k <= 37; k++) {
        FoilAuditFigure a = foilAuditFigure(k, 37), b = foilAuditFigure(37 - k, 37);
        assert_true(fabs(a.low - (1 - b.high)) < 1e-12);
        assert_true(a.low <= a.value && a.value <= a.high);
    }
    FoilAuditFigure empty = foilAuditFigure(0, 0);
    assert_true(isnan(empty.value));
}

static void test_requirement_parsing(void **state)
{
    (void)state;
    FoilAuditRequirement r;
    assert_int_equal(foilAuditRequirementParse("pgd-linf@0.1>=0.6", 0, &r), FOIL_OK);
    assert_string_equal(r.key, "pgd-linf@0.1");
    assert_true(r.at_least && r.threshold == 0.6 && !r.confident);
    assert_int_equal(foilAuditRequirementParse(" clean <= 0.99 ", 1, &r), FOIL_OK);
    assert_string_equal(r.key, "clean");
    assert_true(!r.at_least && r.threshold == 0.99 && r.confident);
    const char *bad[] = {"clean=0.5", "clean>=", ">=0.5", "clean>=85", "clean>=-0.1", "clean>=0.5x", "clean>=nan",
                         "clean >= 0.5 0.6", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        foil_clear_error();
        assert_int_equal(foilAuditRequirementParse(bad[i], 0, &r), FOIL_ERR_ARG);
        assert_non_null(strstr(foil_last_error(), "FIGURE>=VALUE"));
    }
}

static void test_requirements_judged(void **state)
{
    (void)state;
    FoilAudit a;
    memset(&a, 0, sizeof a);
    a.clean = foilAuditFigure(90, 100); /* 0.90, interval about 0.826 - 0.945 */
    a.worst[0] = (FoilAuditWorst){.norm = FOIL_NORM_LINF, .eps = 0.1, .robust = foilAuditFigure(40, 100)};
    a.n_worst = 1;
    a.runs[0] = (FoilAuditRun){.attack = "pgd", .norm = FOIL_NORM_LINF, .eps = 0.1, .robust = foilAuditFigure(45, 100)};
    a.n_runs = 1;
    FoilAuditRequirement r[6];
    assert_int_equal(foilAuditRequirementParse("clean>=0.85", 0, &r[0]), FOIL_OK);     /* 0.90: pass */
    assert_int_equal(foilAuditRequirementParse("clean>=0.85", 1, &r[1]), FOIL_OK);     /* low 0.826: fail */
    assert_int_equal(foilAuditRequirementParse("worst-linf@0.1>=0.4", 0, &r[2]), FOIL_OK); /* 0.40: pass */
    assert_int_equal(foilAuditRequirementParse("pgd-linf@0.1<=0.5", 1, &r[3]), FOIL_OK);  /* high > 0.5: fail */
    assert_int_equal(foilAuditRequirementParse("pgd-linf@0.2>=0.1", 0, &r[4]), FOIL_OK);  /* no such figure */
    assert_int_equal(foilAuditRequirementParse("pgd-l2@0.1>=0.1", 0, &r[5]), FOIL_OK);    /* no such figure */
    assert_int_equal(foilAuditCheck(&a, r, 6), 4);
    assert_true(r[0].passed && r[0].used == 0.9);
    assert_true(!r[1].passed && r[1].used == a.clean.low);
    assert_true(r[2].passed && r[2].found);
    assert_true(!r[3].passed && r[3].used == a.runs[0].robust.high);
    assert_true(!r[4].passed && !r[4].found && isnan(r[4].used));
    assert_true(!r[5].passed && !r[5].found);
}

/* Newcombe (1998), "Interval estimation for the difference between
 * independent proportions", Statistics in Medicine 17, Table II, method 10
 * (hybrid score interval without continuity correction). */
static void test_difference_matches_newcombe(void **state)
{
    (void)state;
    const struct { int64_t k1, n1, k2, n2; double low, high; } table[] = {
        {56, 70, 48, 80, 0.0524, 0.3339}, {9, 10, 3, 10, 0.1705, 0.8090},
        {6, 7, 2, 7, 0.0582, 0.8062}, {5, 56, 0, 29, -0.0381, 0.1926},
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        FoilAuditFigure first = foilAuditFigure(table[i].k1, table[i].n1);
        FoilAuditFigure second = foilAuditFigure(table[i].k2, table[i].n2);
        /* Newcombe's theta is first - second: "after" is the first */
        FoilAuditChange c = foilAuditDifference(&second, &first);
        assert_true(fabs(c.low - table[i].low) < 6e-5);
        assert_true(fabs(c.high - table[i].high) < 6e-5);
        assert_int_equal(c.verdict, table[i].low > 0 ? 1 : 0);
        FoilAuditChange back = foilAuditDifference(&first, &second); /* the mirror image */
        assert_true(fabs(back.low + c.high) < 1e-12 && fabs(back.high + c.low) < 1e-12);
        assert_int_equal(back.verdict, -c.verdict);
    }
}

/* A logistic model on 2 x 2 images: logits (w . x, 0), so class 0's
 * probability is sigmoid(w . x). Along the straight path from 0 its
 * gradient stays parallel to w, and integrated gradients have a closed
 * form: IG_i = x_i w_i / (w . x) * (sigmoid(w . x) - 1/2). */
static const float logistic_w[4] = {1.5f, -2.0f, 0.75f, 3.0f};

static foil_status logistic_logits(const foil_tensor *x, foil_tensor *scores)
{
    int64_t n = x->shape[0], shape[2] = {n, 2};
    foil_status st = foil_model_ensure_output("logistic", scores, 2, shape, "scores");
    for (int64_t i = 0; i < n && !st; i++) {
        float z = 0;
        for (int j = 0; j < 4; j++) z += logistic_w[j] * foil_f32(x)[i * 4 + j];
        foil_f32(scores)[i * 2] = z, foil_f32(scores)[i * 2 + 1] = 0;
    }
    return st;
}

static foil_status logistic_predict(void *state, const foil_tensor *x, const uint64_t *seeds, foil_tensor *scores)
{
    (void)state, (void)seeds;
    return logistic_logits(x, scores);
}

static foil_status logistic_grad(void *state, const foil_tensor *x, const uint64_t *seeds, foil_logit_fn fn, void *ctx,
                                 float *value, foil_tensor *scores, foil_tensor *grad)
{
    (void)state, (void)seeds;
    int64_t n = x->shape[0];
    foil_tensor logits = {0};
    foil_status st = logistic_logits(x, &logits);
    float *dlogits = malloc((size_t)n * 2 * sizeof *dlogits);
    if (!st) st = dlogits ? fn(ctx, 0, n, 2, foil_f32(&logits), value, dlogits) : FOIL_ERR_NOMEM;
    for (int64_t i = 0; i < n && !st; i++)
        for (int j = 0; j < 4; j++) foil_f32(grad)[i * 4 + j] = dlogits[i * 2] * logistic_w[j];
    if (!st && scores && !scores->data) st = logistic_logits(x, scores);
    free(dlogits);
    foil_tensor_free(&logits);
    return st;
}

static foil_status logistic_classes(void *state, int64_t *classes)
{
    (void)state;
    *classes = 2;
    return FOIL_OK;
}

static void test_integrated_gradients_closed_form(void **state)
{
    (void)state;
    static const foil_model_ops ops = {.kind = "logistic", .predict = logistic_predict, .input_grad = logistic_grad,
                                       .num_classes = logistic_classes};
    const int64_t input[4] = {-1, 1, 2, 2}, image[3] = {1, 2, 2};
    foil_model_desc desc = {.name = "logistic", .capabilities = FOIL_MODEL_SCORES | FOIL_MODEL_GRADIENTS,
                            .input_rank = 4, .input_shape = input};
    foil_model *m = NULL;
    assert_int_equal(foil_model_create(&ops, NULL, &desc, &m), FOIL_OK);
    const float x[4] = {0.9f, 0.2f, 0.6f, 0.7f}, zero[4] = {0};
    FoilAuditSaliency s = {.target = 0};
    assert_int_equal(foilAuditIntegratedGradients(m, image, x, zero, &s), FOIL_OK);
    double z = 0, sum = 0;
    for (int j = 0; j < 4; j++) z += logistic_w[j] * x[j];
    double change = 1 / (1 + exp(-z)) - 0.5;
    for (int j = 0; j < 4; j++) {
        double exact = x[j] * logistic_w[j] / z * change;
        assert_true(fabs(s.attribution[j] - exact) < 1e-3 * fabs(change));
        sum += s.attribution[j];
    }
    /* completeness: the sum is the probability's change, and the gap says how far off it is */
    assert_true(fabs(sum - change) < 1e-3 * change);
    assert_true(s.gap >= 0 && fabs(s.gap - fabs(sum - change) / change) < 1e-4);
    /* the other class's attributions are the negatives (its probability is 1 - sigmoid) */
    FoilAuditSaliency other = {.target = 1};
    assert_int_equal(foilAuditIntegratedGradients(m, image, x, zero, &other), FOIL_OK);
    for (int j = 0; j < 4; j++) assert_true(fabs(other.attribution[j] + s.attribution[j]) < 1e-5);
    free(s.attribution);
    free(other.attribution);
    foil_model_free(m);
}

/* backdoor-anomaly: any index from 0 up, and not a fraction's [0, 1]. */
static void test_backdoor_requirement_parsing(void **state)
{
    (void)state;
    FoilAuditRequirement r;
    assert_int_equal(foilAuditRequirementParse("backdoor-anomaly<=2", 0, &r), FOIL_OK);
    assert_string_equal(r.key, FOIL_AUDIT_BACKDOOR_KEY);
    assert_true(!r.at_least && r.threshold == 2);
    assert_int_equal(foilAuditRequirementParse(" backdoor-anomaly <= 2.5 ", 1, &r), FOIL_OK);
    assert_true(r.threshold == 2.5 && !r.confident); /* no interval: judged as it is */
    const char *bad[] = {"backdoor-anomaly<=-1", "backdoor-anomaly<=inf", "backdoor-anomaly<2", "clean>=2",
                         "backdoor-anomalyx<=2"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        foil_clear_error();
        assert_int_equal(foilAuditRequirementParse(bad[i], 0, &r), FOIL_ERR_ARG);
        assert_non_null(strstr(foil_last_error(), "backdoor-anomaly<=2"));
    }
    /* an audit whose scan did not run has no such figure: the gate fails */
    FoilAudit a;
    memset(&a, 0, sizeof a);
    assert_int_equal(foilAuditRequirementParse("backdoor-anomaly<=2", 0, &r), FOIL_OK);
    assert_int_equal(foilAuditCheck(&a, &r, 1), 1);
    assert_true(!r.found && !r.passed);
}

/* The toy quadrants (1 x 6 x 6, 4 classes) with their corner pixel black,
 * and the audit's budgets cut to a few seconds. */
static void toy_audit(foil_dataset *d, FoilAuditConfig *c)
{
    toy_quadrants(d, 64, 4, 6, 3);
    for (int64_t i = 0; i < 64; i++) foil_f32(&d->x)[i * 36 + 35] = 0;
    *c = (FoilAuditConfig){.profile = FOIL_AUDIT_QUICK, .seed = 1, .queries = 50, .quiet = 1, .n_eps_linf = 1,
                           .eps_linf = {0.1}, .n_eps_l2 = 1, .eps_l2 = {0.5}, .backdoor_steps = 300};
}

/* What report.json says of the scan. */
static void check_backdoor_json(const FoilAudit *a, int backdoor)
{
    FoilAuditContext ctx = {.model = "toy", .model_kind = "onnx", .data = "toy", .split = "test", .version = "test"};
    cJSON *json = foilReportAuditJson(a, &ctx), *b = cJSON_GetObjectItemCaseSensitive(json, "backdoor");
    assert_non_null(b);
    const cJSON *flagged = cJSON_GetObjectItemCaseSensitive(b, "flagged"),
                *norms = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(b, "per_class"), "mask_l1"),
                *trigger = cJSON_GetObjectItemCaseSensitive(b, "trigger");
    assert_int_equal(cJSON_GetArraySize(norms), 4);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(b, "verdict")->valuestring, backdoor ? "suspected" : "none");
    if (backdoor) assert_true(cJSON_IsNumber(flagged) && flagged->valuedouble == 0);
    else assert_true(cJSON_IsNull(flagged));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(trigger, "image")->valuestring,
                        "examples/backdoor-trigger.png");
    cJSON_Delete(json);
}

/* A whole audit of the toy model: with the one-pixel backdoor, the scan
 * flags class 0 with an anomaly index above 2, its trigger is about one
 * pixel, and stamped on other classes' images it keeps them on class 0
 * when blended (STRIP flags most at 5% false positives); without it, no
 * class is flagged. The gate backdoor-anomaly<=2 follows. */
static void test_audit_backdoor_scan(void **state)
{
    (void)state;
    foil_dataset d;
    FoilAuditConfig c;
    toy_audit(&d, &c);
    for (int backdoor = 1; backdoor >= 0; backdoor--) {
        FoilAuditModels models = {.model = toy_quadrant_model(backdoor)};
        FoilAudit a;
        assert_int_equal(foilAuditRun(&models, &d, &c, &a), FOIL_OK);
        const FoilAuditBackdoor *b = &a.backdoor;
        const foil_cleanse_result *r = &b->cleanse;
        printf("  %s model: mask norms %.2f %.2f %.2f %.2f, anomaly %.2f, flagged %lld; STRIP on class %lld: TPR %.2f "
               "(FPR %.2f, %lld images), stamped success %.2f\n", backdoor ? "backdoored" : "clean", r->norm[0],
               r->norm[1], r->norm[2], r->norm[3], r->flagged_anomaly, (long long)r->flagged, (long long)b->shown,
               b->strip.tpr.value, b->strip.fpr, (long long)b->strip.images, b->strip.success);
        assert_true(b->ran && b->images == 64 && b->steps == 300 && r->classes == 4);
        assert_true(b->strip.images >= 10 && b->strip.fpr <= 0.05);
        FoilAuditRequirement req;
        assert_int_equal(foilAuditRequirementParse("backdoor-anomaly<=2", 0, &req), FOIL_OK);
        assert_int_equal(foilAuditCheck(&a, &req, 1), backdoor);
        assert_true(req.found && req.used == r->flagged_anomaly);
        assert_ptr_equal(foilAuditFind(&a, FOIL_AUDIT_STRIP_KEY), &b->strip.tpr);
        assert_true(b->strip.tpr.n == b->strip.images && b->strip.tpr.low <= b->strip.tpr.value);
        if (backdoor) {
            assert_int_equal(r->flagged, 0);
            assert_true(r->flagged_anomaly > 2 && r->norm[0] < 2);
            assert_int_equal(b->shown, 0);
            assert_true(b->strip.success > 0.9 && b->strip.tpr.value > 0.8);
            assert_true(b->stamped_label != 0 && b->stamped_pred == 0);
        } else {
            assert_int_equal(r->flagged, -1);
            assert_true(r->flagged_anomaly <= 2);
        }
        assert_true(foilReportBackdoorHas(&a, FOIL_BACKDOOR_STAMPED));
        check_backdoor_json(&a, backdoor);
        foilAuditFree(&a);
        foil_model_free(models.model);
    }
    foil_dataset_free(&d);
}

/* --no-backdoor-scan: nothing run, the reason in the report, no figure. */
static void test_audit_backdoor_skipped(void **state)
{
    (void)state;
    foil_dataset d;
    FoilAuditConfig c;
    toy_audit(&d, &c);
    c.no_backdoor_scan = 1;
    FoilAuditModels models = {.model = toy_quadrant_model(1)};
    FoilAudit a;
    assert_int_equal(foilAuditRun(&models, &d, &c, &a), FOIL_OK);
    assert_false(a.backdoor.ran);
    int said = 0;
    for (int i = 0; i < a.n_skipped; i++) said += strstr(a.skipped[i], "--no-backdoor-scan") != NULL;
    assert_int_equal(said, 1);
    assert_false(foilReportBackdoorHas(&a, FOIL_BACKDOOR_MASK));
    foilAuditFree(&a);
    c.no_backdoor_scan = 0, c.backdoor_steps = -1;
    foil_clear_error();
    assert_int_equal(foilAuditRun(&models, &d, &c, &a), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "backdoor scan steps"));
    foil_model_free(models.model);
    foil_dataset_free(&d);
}

/* ---- the privacy section ---- */

/* The chart into a string (freed by the caller). */
static char *chart_text(const FoilChart *chart, foil_status *st)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    assert_non_null(f);
    *st = foilSvgChartWrite(f, chart);
    fclose(f);
    return text;
}

static int occurrences(const char *text, const char *what)
{
    int n = 0;
    for (size_t at = 0; (text = strstr(text + at, what)); at = 1) n++;
    return n;
}

/* A log-log chart puts each power of ten an equal step apart: 1e-3 at the
 * frame's bottom-left corner, 1 at its top-right, 1e-2 and 1e-1 a third and
 * two thirds of the way; a rate of 0 sits on the axis; the ticks are
 * percentages at each power of ten; the chance line runs corner to
 * corner. A lowest value that is not above 0 is refused, and a linear
 * chart keeps its axis from 0 to its largest x. */
static void test_svg_log_axes(void **state)
{
    (void)state;
    const double x[4] = {1e-3, 1e-2, 1, 0.5}, y[4] = {1e-3, 1e-1, 1, 0};
    FoilChartSeries series = {"loss", 4, x, y};
    FoilChart chart = {.x_label = "FPR", .y_label = "TPR", .y_percent = 1, .series = &series, .n_series = 1,
                       .log_x = 1, .log_y = 1, .x_min = 1e-3, .y_min = 1e-3, .x_percent = 1, .diagonal = "chance",
                       .no_markers = 1};
    foil_status st;
    char *text = chart_text(&chart, &st);
    assert_int_equal(st, FOIL_OK);
    /* the frame: left 60, top 14, 440 x 340; 0.5 is log10(0.5) + 3 = 2.699 of 3 decades: 455.85 */
    assert_non_null(strstr(text, "points=\"60.0,354.0 206.7,127.3 500.0,14.0 455.8,354.0\""));
    assert_non_null(strstr(text, "points=\"60.0,354.0 500.0,14.0\"")); /* chance */
    const char *ticks[] = {">0.1%<", ">1%<", ">10%<", ">100%<"};
    for (int k = 0; k < 4; k++) assert_int_equal(occurrences(text, ticks[k]), 2); /* on both axes */
    assert_null(strstr(text, "<circle"));
    assert_null(strstr(text, "nan"));
    assert_null(strstr(text, "inf"));
    free(text);
    chart.y_min = 0;
    foil_clear_error();
    text = chart_text(&chart, &st);
    assert_int_equal(st, FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "logarithmic axis"));
    free(text);
    FoilChart linear = {.x_label = "eps", .y_label = "robust", .y_percent = 1, .series = &series, .n_series = 1};
    text = chart_text(&linear, &st);
    assert_int_equal(st, FOIL_OK);
    /* x from 0 to 1: 1e-3 next to the left edge, 0.5 in the middle; y 0 at the bottom; a dot per point */
    assert_non_null(strstr(text, "points=\"60.4,353.7 64.4,320.0 500.0,14.0 280.0,354.0\""));
    assert_non_null(strstr(text, "<circle"));
    free(text);
}

/* A model that memorised some of its members: on an image whose first
 * pixel is exactly 1 (the members it memorised carry that mark; the toy
 * images' pixels never reach 1) it answers the brightest quadrant with
 * logit 10, on any other image all logits 0, so every other image scores
 * alike under every attack. *labels_only: one-hot answers, no scores. */
static foil_status memoriser_predict(void *state, const foil_tensor *x, const uint64_t *seeds, foil_tensor *scores)
{
    (void)seeds;
    const int labels_only = *(const int *)state;
    int64_t n = x->shape[0], shape[2] = {n, 4};
    foil_status st = foil_model_ensure_output("memoriser", scores, 2, shape, "scores");
    for (int64_t i = 0; i < n && !st; i++) {
        const float *img = foil_f32(x) + i * 36;
        float *z = foil_f32(scores) + i * 4;
        double mean[4] = {0};
        for (int p = 0; p < 36; p++) mean[(p / 6 >= 3) * 2 + (p % 6 >= 3)] += img[p];
        int top = 0;
        for (int k = 1; k < 4; k++) top = mean[k] > mean[top] ? k : top;
        for (int k = 0; k < 4; k++) z[k] = 0;
        if (img[0] == 1.0f) z[top] = 10;
        if (labels_only) z[img[0] == 1.0f ? top : 0] = 1; /* uniform answers' argmax: class 0 */
    }
    return st;
}

static foil_status memoriser_classes(void *state, int64_t *classes)
{
    (void)state;
    *classes = 4;
    return FOIL_OK;
}

static foil_model *memoriser(int labels_only)
{
    static const foil_model_ops ops = {.kind = "memoriser", .predict = memoriser_predict,
                                       .num_classes = memoriser_classes};
    static const int answers[2] = {0, 1};
    const int64_t input[4] = {-1, 1, 6, 6};
    foil_model_desc desc = {.name = "memoriser", .capabilities = labels_only ? 0 : FOIL_MODEL_SCORES,
                            .input_rank = 4, .input_shape = input};
    foil_model *m = NULL;
    assert_int_equal(foil_model_create(&ops, (void *)&answers[labels_only], &desc, &m), FOIL_OK);
    return m;
}

/* 64 members (every `every`-th one memorised; 0: none) and 64 non-members. */
static void privacy_data(foil_dataset *members, foil_dataset *others, int every)
{
    toy_quadrants(members, 64, 4, 6, 2);
    toy_quadrants(others, 64, 4, 6, 3);
    for (int64_t i = 0; every && i < 64; i += every) foil_f32(&members->x)[i * 36] = 1;
}

static void privacy_of(foil_model *m, const foil_dataset *members, const foil_dataset *others, int64_t n,
                       uint64_t seed, FoilAudit *a)
{
    memset(a, 0, sizeof *a);
    a->classes = 4;
    a->config = (FoilAuditConfig){.seed = seed, .quiet = 1, .privacy_examples = n, .members = members,
                                  .members_split = "train"};
    FoilAuditModels models = {.model = m};
    assert_int_equal(foilAuditPrivacy(a, &models, others), FOIL_OK);
    assert_true(a->privacy.ran);
}

static double privacy_value(const FoilAudit *a, const char *key)
{
    double v = NAN;
    assert_true(foilAuditPrivacyValue(a, key, &v));
    return v;
}

/* Known answers, every example drawn. Memorised members score above
 * everything else and the rest tie, so with all of them memorised every
 * attack separates perfectly, with none it is chance exactly (ties count
 * one half and are never flagged), and with half of them AUC is 1/2 + 1/2
 * x 1/2 = 0.75 and half the members are flagged at any FPR. The accuracy:
 * memorised members right, the rest answered class 0, right for a quarter
 * of the non-members (labels i mod 4) and, with every second member
 * memorised (the even ones), for none of the odd members left. */
static void test_privacy_known_answers(void **state)
{
    (void)state;
    const struct { int every; double auc, tpr, balanced, member_accuracy; } cases[] = {
        {1, 1.0, 1.0, 1.0, 1.0}, {0, 0.5, 0.0, 0.5, 0.25}, {2, 0.75, 0.5, 0.75, 0.5}};
    foil_model *m = memoriser(0);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        foil_dataset members, others;
        privacy_data(&members, &others, cases[c].every);
        FoilAudit a;
        privacy_of(m, &members, &others, 64, 5, &a);
        const FoilAuditPrivacy *p = &a.privacy;
        assert_int_equal(p->n, 64);
        assert_int_equal(p->n_attacks, 4);
        for (int i = 0; i < p->n_attacks; i++) {
            const FoilAuditMembership *r = &p->attacks[i];
            assert_true(fabs(r->auc - cases[c].auc) < 1e-12);
            assert_true(r->tpr_01 == cases[c].tpr && r->tpr_1 == cases[c].tpr);
            assert_true(fabs(r->balanced_accuracy - cases[c].balanced) < 1e-12);
            assert_true(r->n_roc >= 2 && r->roc_fpr[r->n_roc - 1] == 1 && r->roc_tpr[r->n_roc - 1] == 1);
        }
        assert_true(p->member_accuracy.value == cases[c].member_accuracy && p->non_member_accuracy.value == 0.25);
        assert_true(privacy_value(&a, "membership-auc") == p->attacks[0].auc);
        assert_true(privacy_value(&a, "membership-modified-entropy-tpr@1%fpr") == cases[c].tpr);
        assert_true(fabs(privacy_value(&a, "membership-accuracy-gap") - (cases[c].member_accuracy - 0.25)) < 1e-12);
        /* the gate: membership-auc<=0.6 fails a model that memorised */
        FoilAuditRequirement req[3];
        assert_int_equal(foilAuditRequirementParse("membership-auc<=0.6", 1, &req[0]), FOIL_OK);
        assert_int_equal(foilAuditRequirementParse("membership-loss-tpr@0.1%fpr<=0.01", 0, &req[1]), FOIL_OK);
        assert_int_equal(foilAuditRequirementParse("membership-bogus-auc<=0.6", 0, &req[2]), FOIL_OK);
        assert_false(req[0].confident); /* no interval */
        assert_int_equal(foilAuditCheck(&a, req, 3), cases[c].every ? 3 : 1);
        assert_true(!req[2].found && !req[2].passed);
        foilAuditFree(&a);
        foil_dataset_free(&members), foil_dataset_free(&others);
    }
    foil_model_free(m);
}

/* A model that answers with labels only gets the gap attack: members
 * right half the time (those memorised), non-members 1 in 4, so AUC =
 * 1/2 x 3/4 + 1/2 (1/2 x 1/4 + 1/2 x 3/4) = 0.625. */
static void test_privacy_labels_only(void **state)
{
    (void)state;
    foil_model *m = memoriser(1);
    foil_dataset members, others;
    privacy_data(&members, &others, 2);
    FoilAudit a;
    privacy_of(m, &members, &others, 64, 5, &a);
    assert_int_equal(a.privacy.n_attacks, 1);
    assert_int_equal(a.privacy.attacks[0].attack, FOIL_MI_GAP);
    assert_true(fabs(a.privacy.attacks[0].auc - 0.625) < 1e-12);
    foilAuditFree(&a);
    foil_dataset_free(&members), foil_dataset_free(&others);
    foil_model_free(m);
}

static int ascending_in_range(const int64_t *v, int64_t n, int64_t total)
{
    for (int64_t i = 0; i < n; i++)
        if (v[i] < 0 || v[i] >= total || (i && v[i] <= v[i - 1])) return 0;
    return 1;
}

/* The draw: n distinct indices of each set, ascending, the same for the
 * same seed and not for another; a non-member identical to a member
 * (here a memorised one, which would score as a member) is never drawn;
 * report.json writes the indices and the sets' SHA-256. */
static void test_privacy_draw(void **state)
{
    (void)state;
    foil_model *m = memoriser(0);
    foil_dataset members, others;
    privacy_data(&members, &others, 1);
    memcpy(foil_f32(&others.x) + 5 * 36, foil_f32(&members.x) + 3 * 36, 36 * sizeof(float));
    FoilAudit a, b;
    privacy_of(m, &members, &others, 32, 5, &a);
    privacy_of(m, &members, &others, 32, 5, &b);
    const FoilAuditPrivacy *p = &a.privacy;
    assert_int_equal(p->n, 32);
    assert_int_equal(p->duplicates, 1);
    assert_true(ascending_in_range(p->member_index, 32, 64) && ascending_in_range(p->non_member_index, 32, 64));
    for (int64_t i = 0; i < 32; i++) assert_true(p->non_member_index[i] != 5);
    assert_memory_equal(p->member_index, b.privacy.member_index, 32 * sizeof(int64_t));
    assert_string_equal(p->member_sha256, b.privacy.member_sha256);
    assert_int_equal(strlen(p->member_sha256), 64);
    assert_true(p->attacks[0].auc == 1.0);
    foilAuditFree(&b);
    privacy_of(m, &members, &others, 32, 6, &b);
    assert_true(memcmp(p->member_index, b.privacy.member_index, 32 * sizeof(int64_t)) != 0);
    assert_string_not_equal(p->member_sha256, b.privacy.member_sha256);
    FoilAuditContext ctx = {.model = "memoriser", .model_kind = "memoriser", .data = "toy", .split = "test",
                            .version = "test"};
    a.headline = -1, a.profile_name = "quick"; /* the rest of a report the privacy section alone does not fill */
    cJSON *json = foilReportAuditJson(&a, &ctx), *pj = cJSON_GetObjectItemCaseSensitive(json, "privacy");
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(pj, "non_members"),
                *index = cJSON_GetObjectItemCaseSensitive(nm, "index");
    assert_int_equal(cJSON_GetArraySize(index), 32);
    assert_true(cJSON_GetArrayItem(index, 7)->valuedouble == (double)p->non_member_index[7]);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(nm, "sha256")->valuestring, p->non_member_sha256);
    assert_true(cJSON_GetObjectItemCaseSensitive(nm, "duplicates_left_out")->valuedouble == 1);
    assert_true(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pj, "figures"),
                                                 "membership-auc")->valuedouble == 1);
    cJSON_Delete(json);
    foilAuditFree(&a), foilAuditFree(&b);
    foil_dataset_free(&members), foil_dataset_free(&others);
    foil_model_free(m);
}

/* Without members the section says why and has no figures; --no-privacy
 * says it was turned off. */
static void test_privacy_skipped(void **state)
{
    (void)state;
    foil_model *m = memoriser(0);
    foil_dataset others;
    toy_quadrants(&others, 16, 4, 6, 3);
    FoilAuditModels models = {.model = m};
    for (int off = 0; off <= 1; off++) {
        FoilAudit a;
        memset(&a, 0, sizeof a);
        a.classes = 4, a.config.no_privacy = off;
        assert_int_equal(foilAuditPrivacy(&a, &models, &others), FOIL_OK);
        assert_false(a.privacy.ran);
        assert_int_equal(a.n_skipped, 1);
        assert_non_null(strstr(a.skipped[0], off ? "--no-privacy" : "does not know which examples"));
        double v;
        assert_false(foilAuditPrivacyValue(&a, "membership-auc", &v));
        foilAuditFree(&a);
    }
    foil_dataset_free(&others);
    foil_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wilson_matches_newcombe),
        cmocka_unit_test(test_wilson_ends_and_symmetry),
        cmocka_unit_test(test_requirement_parsing),
        cmocka_unit_test(test_requirements_judged),
        cmocka_unit_test(test_difference_matches_newcombe),
        cmocka_unit_test(test_integrated_gradients_closed_form),
        cmocka_unit_test(test_backdoor_requirement_parsing),
        cmocka_unit_test(test_audit_backdoor_scan),
        cmocka_unit_test(test_audit_backdoor_skipped),
        cmocka_unit_test(test_svg_log_axes),
        cmocka_unit_test(test_privacy_known_answers),
        cmocka_unit_test(test_privacy_labels_only),
        cmocka_unit_test(test_privacy_draw),
        cmocka_unit_test(test_privacy_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
