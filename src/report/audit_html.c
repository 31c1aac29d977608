/*
 * report/audit_html.c - the audit as report.html: one self-contained page a
 * person reads (the scorecard first, then the curves, per-class figures and
 * every run with its parameters). No scripts and no external files: it opens
 * offline, in any browser, years later.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "report/report.h"

static void percent(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, "%.1f%%", 100 * v);
    else fputs("-", f);
}

static void figure_cells(FILE *f, const FoilAuditFigure *x)
{
    fputs("<td class=\"num\">", f);
    percent(f, x->value);
    fprintf(f, "</td><td class=\"num\">%.1f&ndash;%.1f%%</td><td class=\"num\">%lld / %lld</td>", 100 * x->low,
            100 * x->high, (long long)x->k, (long long)x->n);
}

static const char style[] =
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px}"
    "th{background:#f2f2f2}.num{text-align:right}.pass{color:#1a7f37;font-weight:bold}"
    ".fail{color:#c62828;font-weight:bold}.warn{color:#b26a00}.small{font-size:90%;color:#555}"
    ".examples td{text-align:center;vertical-align:top;font-size:90%}"
    ".examples img{width:112px;height:112px;image-rendering:pixelated;display:block;margin:0 auto 2px}";

static void header(FILE *f, const FoilAudit *a, const FoilAuditContext *ctx)
{
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>foil audit: ");
    foilReportPutEscaped(f, ctx->model);
    fprintf(f, "</title><style>%s</style></head><body>\n<h1>Robustness audit</h1>\n<p>Model <b>", style);
    foilReportPutEscaped(f, ctx->model);
    fputs("</b> (", f);
    foilReportPutEscaped(f, ctx->model_kind);
    fputs(") on <b>", f);
    foilReportPutEscaped(f, ctx->data);
    fprintf(f, "</b> (%s split, a seeded sample of %lld examples, seed %llu), profile <b>%s</b>, %.0f s, foil %s.</p>\n",
            ctx->split, (long long)a->config.examples, (unsigned long long)a->config.seed, a->profile_name,
            a->seconds, ctx->version);
    if (a->defense) {
        fputs("<p>Declared defense: preprocessing <b>", f);
        foilReportPutEscaped(f, a->defense);
        fputs("</b>, attacked as given and adaptively (rows marked +bpda, +bpda+eot: BPDA through the "
              "preprocessors, EOT over their random draws); the worst case takes both.</p>\n", f);
    }
    if (a->gradient_masking)
        fprintf(f, "<p class=\"fail\">This defense relies on gradient masking: %d adaptive attacks left more than 5 "
                "points less robust accuracy than the same attacks on the defense as given. Report the adaptive "
                "figures (the worst case includes them).</p>\n", a->gradient_masking);
}

static void scorecard(FILE *f, const FoilAudit *a, const FoilAuditContext *ctx)
{
    fputs("<h2>Summary</h2>\n<table><tr><th>figure</th><th>accuracy</th><th>95% interval</th><th>right / "
          "examples</th></tr>\n<tr><td>clean</td>", f);
    figure_cells(f, &a->clean);
    fputs("</tr>\n", f);
    for (int i = 0; i < a->n_worst; i++) {
        const FoilAuditWorst *w = &a->worst[i];
        fprintf(f, "<tr><td>robust, %s eps %g (worst of %d attacks)</td>", foil_norm_name(w->norm), w->eps,
                w->attacks);
        figure_cells(f, &w->robust);
        fputs("</tr>\n", f);
    }
    fputs("</table>\n<p class=\"small\">Robust accuracy: the share of the sample each attack left correctly "
          "classified within eps; the worst case counts an example robust only when no attack fooled it. "
          "Intervals are Wilson score intervals at 95%: a difference inside them may be the sample's noise.</p>\n",
          f);
    if (ctx->n_requirements) {
        fprintf(f, "<h2>Requirements: <span class=\"%s\">%s</span></h2>\n<table><tr><th>requirement</th>"
                "<th>judged value</th><th>result</th></tr>\n", ctx->failed ? "fail" : "pass",
                ctx->failed ? "FAILED" : "passed");
        for (int i = 0; i < ctx->n_requirements; i++) {
            const FoilAuditRequirement *r = &ctx->requirements[i];
            fputs("<tr><td>", f);
            foilReportPutEscaped(f, r->text);
            fprintf(f, "%s</td><td class=\"num\">", r->confident ? " (interval's end)" : "");
            if (r->found) fprintf(f, "%.4f", r->used);
            else fputs("no such figure", f);
            fprintf(f, "</td><td class=\"%s\">%s</td></tr>\n", r->passed ? "pass" : "fail",
                    r->passed ? "pass" : "FAIL");
        }
        fputs("</table>\n", f);
    }
    for (int i = 0; i < a->n_skipped; i++) {
        fputs("<p class=\"warn\">Not run: ", f);
        foilReportPutEscaped(f, a->skipped[i]);
        fputs(".</p>\n", f);
    }
}

/* One chart per norm: a curve per attack from the clean accuracy at eps 0,
 * and the worst case over them. */
enum { CHART_MAX_SERIES = 20, CHART_MAX_POINTS = FOIL_AUDIT_MAX_EPS + 1 };

typedef struct chart_data {
    char names[CHART_MAX_SERIES][48];
    int n_series;
    double x[CHART_MAX_SERIES][CHART_MAX_POINTS], y[CHART_MAX_SERIES][CHART_MAX_POINTS];
    int n[CHART_MAX_SERIES];
} chart_data;

/* A point of the curve `name` (an attack, with its adaptive variant as a
 * curve of its own: "pgd+bpda"). */
static void chart_point(chart_data *c, const char *attack, const char *variant, double clean, double eps,
                        double robust)
{
    char name[48];
    snprintf(name, sizeof name, "%s%s", attack, variant);
    int k = 0;
    while (k < c->n_series && strcmp(c->names[k], name)) k++;
    if (k == c->n_series) {
        if (k == CHART_MAX_SERIES) return;
        snprintf(c->names[c->n_series++], sizeof c->names[k], "%s", name);
        c->x[k][0] = 0, c->y[k][0] = clean, c->n[k] = 1;
    }
    if (c->n[k] == CHART_MAX_POINTS) return;
    c->x[k][c->n[k]] = eps, c->y[k][c->n[k]++] = robust;
}

static foil_status norm_chart(FILE *f, const FoilAudit *a, foil_norm norm)
{
    chart_data c = {0};
    int points = 0;
    for (int i = 0; i < a->n_worst; i++)
        if (a->worst[i].norm == norm && a->worst[i].attacks > 1)
            chart_point(&c, "worst case", "", a->clean.value, a->worst[i].eps, a->worst[i].robust.value), points++;
    for (int i = 0; i < a->n_runs; i++)
        if (a->runs[i].norm == norm)
            chart_point(&c, a->runs[i].attack, foilAuditRunVariant(&a->runs[i]), a->clean.value, a->runs[i].eps, a->runs[i].robust.value), points++;
    if (!points) return FOIL_OK;
    FoilChartSeries series[CHART_MAX_SERIES];
    for (int k = 0; k < c.n_series; k++) series[k] = (FoilChartSeries){c.names[k], c.n[k], c.x[k], c.y[k]};
    char title[64], x_label[32];
    snprintf(title, sizeof title, "Robust accuracy against %s eps", foil_norm_name(norm));
    snprintf(x_label, sizeof x_label, "eps (%s)", foil_norm_name(norm));
    FoilChart chart = {.title = title, .x_label = x_label, .y_label = "robust accuracy", .y_percent = 1,
                       .series = series, .n_series = c.n_series};
    fputs("<div>\n", f);
    foil_status st = foilSvgChartWrite(f, &chart);
    fputs("</div>\n", f);
    return st;
}

static void put_class(FILE *f, const FoilAuditContext *ctx, int64_t c)
{
    if (!ctx->class_names) {
        fprintf(f, "class %lld", (long long)c);
        return;
    }
    foilReportPutEscaped(f, ctx->class_names[c]);
}

/* An image inline, as a data: URL, so the page needs no other file: the
 * PNG as encoded (encoded: the encoder's status), freed here. */
static foil_status put_png(FILE *f, foil_status encoded, FoilPng *png, const char *alt)
{
    if (encoded) return encoded;
    size_t size = sodium_base64_ENCODED_LEN(png->size, sodium_base64_VARIANT_ORIGINAL);
    char *text = malloc(size);
    if (text) {
        sodium_bin2base64(text, size, png->data, png->size, sodium_base64_VARIANT_ORIGINAL);
        fprintf(f, "<img alt=\"%s\" src=\"data:image/png;base64,%s\">", alt, text);
    }
    free(text);
    foilPngFree(png);
    return text ? FOIL_OK : foil_error(FOIL_ERR_NOMEM, "report.html: out of memory for an image");
}

static foil_status put_image(FILE *f, const FoilAudit *a, int k, FoilExampleView v)
{
    FoilPng png;
    return put_png(f, foilReportExamplePng(a, k, v, &png), &png, foilExampleViewName(v));
}

static foil_status example_row(FILE *f, const FoilAudit *a, const FoilAuditContext *ctx, int k)
{
    const FoilAuditExample *e = &a->examples[k];
    fputs("<tr><td>", f);
    put_class(f, ctx, e->label);
    fprintf(f, "<br>sample #%lld</td><td>", (long long)e->index);
    foil_status st = put_image(f, a, k, FOIL_VIEW_CLEAN);
    put_class(f, ctx, e->clean_pred);
    fprintf(f, " %.1f%%</td>", 100 * e->clean_confidence);
    if (!e->attack) {
        fputs("<td colspan=\"2\">no attack fooled it at this eps</td>", f);
    } else {
        fputs("<td>", f);
        if (!st) st = put_image(f, a, k, FOIL_VIEW_ADVERSARIAL);
        put_class(f, ctx, e->adv_pred);
        fprintf(f, " %.1f%%<br>(%s)</td><td>", 100 * e->adv_confidence, e->attack);
        if (!st) st = put_image(f, a, k, FOIL_VIEW_PERTURBATION);
        fprintf(f, "Linf %.3g</td>", e->distance);
    }
    const FoilAuditSaliency *maps[2] = {&e->saliency_clean, &e->saliency_adv};
    for (int m = 0; m < 2; m++) {
        FoilExampleView v = m ? FOIL_VIEW_SALIENCY_ADVERSARIAL : FOIL_VIEW_SALIENCY_CLEAN;
        fputs("<td>", f);
        if (!foilReportExampleHas(e, v)) {
            fputs("-</td>", f);
            continue;
        }
        if (!st) st = put_image(f, a, k, v);
        fputs("for ", f);
        put_class(f, ctx, maps[m]->target);
        if (isfinite(maps[m]->gap)) fprintf(f, "<br>gap %.1f%%", 100 * maps[m]->gap);
        fputs("</td>", f);
    }
    fputs("</tr>\n", f);
    return st;
}

static foil_status examples_table(FILE *f, const FoilAudit *a, const FoilAuditContext *ctx)
{
    if (!a->n_examples) return FOIL_OK;
    double eps = a->headline >= 0 ? a->worst[a->headline].eps : NAN;
    fprintf(f, "<h2>Examples at Linf eps %g</h2>\n<p class=\"small\">One correctly classified image per class "
            "from the sample, and the adversarial example of the first attack (in the order of the runs below) that "
            "fooled the model at this eps, with each predicted label and its softmax probability. Perturbation: "
            "adversarial minus clean, gray at 0, white at +eps, black at -eps. Saliency: integrated gradients "
            "(Sundararajan, Taly and Yan 2017; %d steps from a black image) of the predicted class's probability, "
            "red where a pixel raised it and blue where it lowered it, both maps of an image on one scale; the gap "
            "is how far the attributions miss summing to the probability's change from the black image.</p>\n"
            "<table class=\"examples\"><tr><th>true class</th><th>clean</th><th>adversarial</th><th>perturbation"
            "</th><th>saliency, clean</th><th>saliency, adversarial</th></tr>\n", eps, FOIL_AUDIT_IG_STEPS);
    foil_status st = FOIL_OK;
    for (int k = 0; k < a->n_examples && !st; k++) st = example_row(f, a, ctx, k);
    fputs("</table>\n", f);
    return st;
}

static void detection_table(FILE *f, const FoilAudit *a)
{
    if (!a->n_detectors) return;
    fprintf(f, "<h2>Detectors at Linf eps %g</h2>\n<p class=\"small\">Each detector's threshold flags %.1f%% of the "
            "clean sample, whose scores are the negatives of every ROC curve; the positives are the adversarial "
            "examples that fooled the model. Evaded: attacked examples that ended misclassified and not flagged. The "
            "last row of each detector is the attacker who knows it (orthogonal and selective PGD, Bryniarski et "
            "al. 2022).</p>\n<table><tr><th>detector</th><th>attack</th><th>fooled</th><th>ROC AUC</th><th>TPR</th>"
            "<th>evaded</th></tr>\n", a->headline >= 0 ? a->worst[a->headline].eps : NAN, 100 * a->detector_fpr);
    for (int i = 0; i < a->n_detections; i++) {
        const FoilDetectionRow *r = &a->detections[i].row;
        fprintf(f, "<tr><td>%s</td><td>%s%s</td><td class=\"num\">%lld / %lld</td><td class=\"num\">",
                a->detectors[a->detections[i].detector].name, r->attack, r->adaptive ? " (adaptive)" : "", (long long)r->fooled,
                (long long)r->attacked);
        if (isfinite(r->roc_auc)) fprintf(f, "%.3f", r->roc_auc);
        else fputs("-", f);
        fputs("</td><td class=\"num\">", f);
        percent(f, r->tpr);
        fputs("</td><td class=\"num\">", f);
        percent(f, r->attacked ? (double)r->evaded / (double)r->attacked : NAN);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
    for (int k = 0; k < a->n_detectors; k++)
        if (a->detectors[k].adaptive_gap)
            fprintf(f, "<p class=\"fail\">%s stops fewer examples from an attacker who knows it (more than 5 points "
                    "more evade it): do not count on it against an adaptive attacker.</p>\n", a->detectors[k].name);
}

static void verification_table(FILE *f, const FoilAudit *a)
{
    if (!a->n_verified) return;
    fprintf(f, "<h2>Verified robust accuracy (Linf)</h2>\n<p class=\"small\">Sound bounds (CROWN, never looser than "
            "IBP) on the first %lld examples of the sample: an example counts when no input within eps of it, "
            "inside the input range, changes the prediction from its label, whatever the attack. The attacks' "
            "robust accuracy bounds the true one from above, this from below; the truth lies between.</p>\n<table><tr><th>figure (for --require)</th><th>eps</th><th>verified</th>"
            "<th>95%% interval</th><th>right / examples</th><th>seconds</th></tr>\n",
            (long long)a->verified[0].verified.n);
    char key[96];
    for (int i = 0; i < a->n_verified; i++) {
        foilAuditVerifiedKey(&a->verified[i], key, sizeof key);
        fprintf(f, "<tr><td>%s</td><td class=\"num\">%g</td>", key, a->verified[i].eps);
        figure_cells(f, &a->verified[i].verified);
        fprintf(f, "<td class=\"num\">%.1f</td></tr>\n", a->verified[i].seconds);
    }
    fputs("</table>\n", f);
}

/* ---- the backdoor scan ---- */

/* One sentence: the class Neural Cleanse flags, or that none stands out. */
static void backdoor_verdict(FILE *f, const FoilAudit *a, const FoilAuditContext *ctx)
{
    const foil_cleanse_result *r = &a->backdoor.cleanse;
    if (r->flagged >= 0) {
        fputs("<p class=\"fail\">Backdoor suspected: ", f);
        put_class(f, ctx, r->flagged);
        fprintf(f, " is reached by a trigger of mask L1 norm %.3g where the median class needs %.3g (anomaly index "
                "%.2f, above %g).</p>\n", r->norm[r->flagged], r->median, r->flagged_anomaly,
                FOIL_AUDIT_ANOMALY_THRESHOLD);
    } else if (isnan(r->median)) {
        fputs("<p class=\"warn\">Inconclusive: fewer than 3 classes' triggers reached the target success, so no "
              "class can be compared with the rest.</p>\n", f);
    } else {
        fprintf(f, "<p class=\"pass\">No class stands out: the largest anomaly index below the median is %.2f (a "
                "class is flagged above %g).</p>\n", r->flagged_anomaly, FOIL_AUDIT_ANOMALY_THRESHOLD);
    }
}

static foil_status backdoor_chart(FILE *f, const FoilAudit *a, const FoilAuditContext *ctx)
{
    const foil_cleanse_result *r = &a->backdoor.cleanse;
    const int64_t n = r->classes;
    char(*names)[24] = malloc((size_t)n * sizeof *names);
    const char **labels = malloc((size_t)n * sizeof *labels);
    if (!names || !labels) {
        free(names), free(labels);
        return foil_error(FOIL_ERR_NOMEM, "report.html: out of memory for the backdoor chart");
    }
    for (int64_t c = 0; c < n; c++) {
        snprintf(names[c], sizeof names[c], "%lld", (long long)c);
        labels[c] = ctx->class_names ? ctx->class_names[c] : names[c];
    }
    FoilChartLine lines[2] = {{"median", r->median},
                              {"flagged below", r->median - FOIL_AUDIT_ANOMALY_THRESHOLD * r->mad}};
    int n_lines = isfinite(r->median) ? (isfinite(lines[1].y) && lines[1].y > 0 ? 2 : 1) : 0;
    FoilBarChart chart = {.title = "Smallest trigger per class (Neural Cleanse)", .x_label = "class",
                          .y_label = "mask L1 norm (pixels)", .n = (int)n, .labels = labels, .value = r->norm,
                          .highlight = (int)r->flagged, .lines = lines, .n_lines = n_lines};
    fputs("<div>\n", f);
    foil_status st = foilSvgBarChartWrite(f, &chart);
    fputs("</div>\n", f);
    free(names), free(labels);
    return st;
}

static foil_status backdoor_images(FILE *f, const FoilAudit *a, const FoilAuditContext *ctx)
{
    const FoilAuditBackdoor *b = &a->backdoor;
    if (!foilReportBackdoorHas(a, FOIL_BACKDOOR_MASK)) return FOIL_OK;
    fputs("<table class=\"examples\"><tr><th>mask</th><th>trigger</th><th>on a clean image</th></tr>\n<tr>", f);
    foil_status st = FOIL_OK;
    for (int v = 0; v < FOIL_BACKDOOR_VIEW_COUNT && !st; v++) {
        fputs("<td>", f);
        FoilPng png;
        if (foilReportBackdoorHas(a, (FoilBackdoorView)v))
            st = put_png(f, foilReportBackdoorPng(a, (FoilBackdoorView)v, &png), &png,
                         v == FOIL_BACKDOOR_MASK ? "backdoor mask" : v == FOIL_BACKDOOR_TRIGGER ? "backdoor trigger"
                                                                                                : "stamped image");
        else fputs("-", f);
        if (v == FOIL_BACKDOOR_MASK) fprintf(f, "L1 %.3g", b->cleanse.norm[b->shown]);
        if (v == FOIL_BACKDOOR_STAMPED && b->stamped) {
            put_class(f, ctx, b->stamped_label);
            fputs(" &rarr; ", f);
            put_class(f, ctx, b->stamped_pred);
        }
        fputs("</td>", f);
    }
    fputs("</tr></table>\n", f);
    return st;
}

static void backdoor_strip(FILE *f, const FoilAudit *a, const FoilAuditContext *ctx)
{
    const FoilAuditStrip *s = &a->backdoor.strip;
    if (!s->images) return;
    fprintf(f, "<p>STRIP (Gao et al. 2019) on this trigger: stamped on %lld clean images of other classes, it sent "
            "%.1f%% of them to ", (long long)s->images, 100 * s->success);
    put_class(f, ctx, a->backdoor.shown);
    fprintf(f, ". Blended half and half with %lld other images each, <b>%.1f%%</b> (95%% interval %.1f&ndash;%.1f%%) "
            "of the stamped images kept the model's answer as firmly as only %.1f%% of the same images clean do (mean "
            "entropy below %.3g bits): the figure <b>%s</b>. A backdoor's trigger tends to keep its hold under "
            "blending (a high share) and a small natural or adversarial trigger to lose it; but this trigger is only "
            "the smallest that reaches 99%%, weaker than a backdoor's own, so a middling share decides nothing.</p>\n",
            (long long)s->overlays, 100 * s->tpr.value, 100 * s->tpr.low, 100 * s->tpr.high, 100 * s->fpr,
            s->threshold_bits, FOIL_AUDIT_STRIP_KEY);
}

static void backdoor_table(FILE *f, const FoilAudit *a, const FoilAuditContext *ctx)
{
    const foil_cleanse_result *r = &a->backdoor.cleanse;
    fputs("<table><tr><th>class</th><th>mask L1 norm</th><th>success</th><th>anomaly index</th></tr>\n", f);
    for (int64_t c = 0; c < r->classes; c++) {
        fprintf(f, "<tr%s><td>%lld", c == r->flagged ? " class=\"fail\"" : "", (long long)c);
        if (ctx->class_names) {
            fputs(" ", f);
            put_class(f, ctx, c);
        }
        if (isfinite(r->norm[c])) fprintf(f, "</td><td class=\"num\">%.2f</td><td class=\"num\">", r->norm[c]);
        else fputs("</td><td class=\"num\">none reached the target</td><td class=\"num\">", f);
        percent(f, r->success[c]);
        fprintf(f, "</td><td class=\"num\">%.2f</td></tr>\n", r->anomaly[c]);
    }
    fputs("</table>\n", f);
}

static foil_status backdoor_section(FILE *f, const FoilAudit *a, const FoilAuditContext *ctx)
{
    const FoilAuditBackdoor *b = &a->backdoor;
    if (!b->ran) return FOIL_OK;
    fputs("<h2>Backdoor scan</h2>\n", f);
    backdoor_verdict(f, a, ctx);
    fprintf(f, "<p class=\"small\">Neural Cleanse (Wang et al. 2019) on the sample's first %lld images, %lld Adam "
            "steps per class, seed %llu, %.0f s: for each class the smallest mask and pattern that send 99%% of the "
            "images there. A backdoor's target needs a far smaller trigger than the other classes; a class below "
            "the median whose anomaly index, |norm - median| / (1.4826 MAD), exceeds %g is flagged. The figure "
            "<b>%s</b> (for --require) is the largest index below the median. The index varies with the seed and "
            "the images, and a class with a small natural feature can exceed 2: read it with STRIP's check of the "
            "trigger below. Shown: the trigger of the class with the smallest mask, %s",
            (long long)b->images, (long long)b->steps, (unsigned long long)a->config.seed, b->seconds,
            FOIL_AUDIT_ANOMALY_THRESHOLD, FOIL_AUDIT_BACKDOOR_KEY, b->cleanse.flagged >= 0 ? "the flagged one, " : "");
    if (b->shown >= 0) put_class(f, ctx, b->shown);
    else fputs("(none: no trigger reached the target)", f);
    fputs(".</p>\n", f);
    foil_status st = backdoor_chart(f, a, ctx);
    if (!st) st = backdoor_images(f, a, ctx);
    if (st) return st;
    backdoor_strip(f, a, ctx);
    backdoor_table(f, a, ctx);
    return FOIL_OK;
}

/* ---- the privacy section ---- */

/* The strongest attack (the largest AUC) in one sentence, against chance. */
static void privacy_verdict(FILE *f, const FoilAudit *a)
{
    const FoilAuditPrivacy *p = &a->privacy;
    const FoilAuditMembership *best = &p->attacks[0];
    for (int i = 1; i < p->n_attacks; i++)
        if (p->attacks[i].auc > best->auc) best = &p->attacks[i];
    fprintf(f, "<p>The strongest threshold attack, <b>%s</b>, tells members from non-members with ROC AUC <b>%.3f</b> "
            "(chance: 0.5) and flags <b>%.1f%%</b> of the members at 0.1%% false positives, %.1f%% at 1%% (chance: "
            "0.1%% and 1%%). The model is right on %.1f%% of the members and %.1f%% of the non-members: a gap of %+.1f "
            "points, which these attacks feed on.</p>\n", foil_membership_attack_name(best->attack), best->auc,
            100 * best->tpr_01, 100 * best->tpr_1, 100 * p->member_accuracy.value, 100 * p->non_member_accuracy.value,
            100 * (p->member_accuracy.value - p->non_member_accuracy.value));
}

static void privacy_explanation(FILE *f, const FoilAudit *a, const FoilAuditContext *ctx)
{
    const FoilAuditPrivacy *p = &a->privacy;
    fprintf(f, "<p class=\"small\">Members: %lld examples of ", (long long)p->n);
    foilReportPutEscaped(f, p->member_data);
    fprintf(f, " (%s split)%s; non-members: as many of ", p->member_split,
            p->assumed ? ", <b>assumed</b> to be what the model trained on, as foil train trains on it (if it did "
                         "not, give --members, or --members-limit N for a model trained on the first N)" : "");
    foilReportPutEscaped(f, ctx->data);
    fprintf(f, " (%s split)", ctx->split);
    if (p->assumed && !ctx->is_image)
        fputs(" (a built-in tabular dataset splits by the seed: this holds when the model was trained with the "
              "audit's seed)", f);
    if (p->duplicates) fprintf(f, ", leaving out %lld that are identical to a member", (long long)p->duplicates);
    fprintf(f, "; both drawn from seed %llu, %.1f s. Their indices and SHA-256 are in report.json (privacy.members, "
            "privacy.non_members), so that others can draw the same examples. Each attack is a threshold on one score "
            "per example, one query each (Yeom et al. 2018, Salem et al. 2019, Song and Mittal 2021): they need no "
            "shadow models and bound the leakage from below. LiRA (Carlini et al. 2022), which foil infer runs, "
            "compares each example's score with shadow models trained with and without it and finds far more at low "
            "false-positive rates on a model that memorises. With %lld non-members the lowest false-positive rate "
            "measured is %.2g%%: the TPR at 0.1%% FPR rests on the few highest-scoring non-members, so these figures "
            "carry no interval.</p>\n", (unsigned long long)a->config.seed, p->seconds, (long long)p->n,
            100.0 / (double)p->n);
}

static foil_status privacy_chart(FILE *f, const FoilAudit *a)
{
    const FoilAuditPrivacy *p = &a->privacy;
    FoilChartSeries series[FOIL_MI_COUNT];
    for (int i = 0; i < p->n_attacks; i++)
        series[i] = (FoilChartSeries){foil_membership_attack_name(p->attacks[i].attack), p->attacks[i].n_roc,
                                      p->attacks[i].roc_fpr, p->attacks[i].roc_tpr};
    /* the axes start at the power of ten at or below the lowest FPR measured, 1 / non-members */
    const double lowest = pow(10, floor(log10(1.0 / (double)p->n) + 1e-9));
    FoilChart chart = {.title = "Membership inference: ROC curves (log-log)", .x_label = "false-positive rate",
                       .y_label = "true-positive rate", .y_percent = 1, .series = series, .n_series = p->n_attacks,
                       .log_x = 1, .log_y = 1, .x_min = lowest, .y_min = lowest, .x_percent = 1,
                       .diagonal = "chance", .no_markers = 1};
    fputs("<div>\n", f);
    foil_status st = foilSvgChartWrite(f, &chart);
    fputs("</div>\n", f);
    return st;
}

static void privacy_table(FILE *f, const FoilAudit *a)
{
    const FoilAuditPrivacy *p = &a->privacy;
    fputs("<table><tr><th>attack</th><th>figures (for --require)</th><th>ROC AUC</th><th>TPR at 0.1% FPR</th>"
          "<th>TPR at 1% FPR</th><th>best balanced accuracy</th></tr>\n", f);
    char key[96];
    for (int i = 0; i < p->n_attacks; i++) {
        const FoilAuditMembership *r = &p->attacks[i];
        foilAuditMembershipKey(r, "*", key, sizeof key);
        fprintf(f, "<tr><td>%s</td><td>%s</td><td class=\"num\">%.4f</td><td class=\"num\">",
                foil_membership_attack_name(r->attack), key, r->auc);
        percent(f, r->tpr_01);
        fputs("</td><td class=\"num\">", f);
        percent(f, r->tpr_1);
        fputs("</td><td class=\"num\">", f);
        percent(f, r->balanced_accuracy);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n<p class=\"small\">Figures for --require: membership-auc, membership-tpr@0.1%fpr and "
          "membership-tpr@1%fpr, the largest over the attacks; membership-ATTACK-auc, -tpr@0.1%fpr and -tpr@1%fpr, "
          "one attack's (the * in the table); membership-accuracy-gap, the members' accuracy minus the "
          "non-members'.</p>\n", f);
}

static foil_status privacy_section(FILE *f, const FoilAudit *a, const FoilAuditContext *ctx)
{
    if (!a->privacy.ran) return FOIL_OK;
    fputs("<h2>Privacy: membership inference</h2>\n", f);
    privacy_verdict(f, a);
    privacy_explanation(f, a, ctx);
    foil_status st = privacy_chart(f, a);
    if (!st) privacy_table(f, a);
    return st;
}

static void per_class_table(FILE *f, const FoilAudit *a, const FoilAuditContext *ctx)
{
    if (a->headline < 0) return;
    const FoilAuditWorst *w = &a->worst[a->headline];
    fprintf(f, "<h2>Per class</h2>\n<table><tr><th>class</th><th>clean</th><th>robust, %s eps %g (worst case)</th>"
            "</tr>\n", foil_norm_name(w->norm), w->eps);
    for (int64_t k = 0; k < a->classes; k++) {
        fprintf(f, "<tr><td>%lld", (long long)k);
        if (ctx->class_names) {
            fputs(" ", f);
            put_class(f, ctx, k);
        }
        fputs("</td><td class=\"num\">", f);
        percent(f, a->clean_per_class[k]);
        fputs("</td><td class=\"num\">", f);
        percent(f, a->robust_per_class[k]);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

static void runs_table(FILE *f, const FoilAudit *a)
{
    fputs("<h2>Every run</h2>\n<table><tr><th>figure (for --require)</th><th>attack</th><th>norm</th><th>eps</th>"
          "<th>steps</th><th>queries</th><th>robust</th><th>95% interval</th><th>right / examples</th>"
          "<th>success</th><th>median norm</th><th>grads / ex</th><th>queries / ex</th><th>seconds</th></tr>\n", f);
    char key[96];
    for (int i = 0; i < a->n_runs; i++) {
        const FoilAuditRun *r = &a->runs[i];
        const foil_evasion_summary *s = &r->summary;
        foilAuditRunKey(r, key, sizeof key);
        fprintf(f, "<tr><td>%s</td><td>%s%s</td><td>%s</td><td class=\"num\">%g</td>", key, r->attack, foilAuditRunVariant(r),
                foil_norm_name(r->norm), r->eps);
        if (r->steps) fprintf(f, "<td class=\"num\">%lld</td>", (long long)r->steps);
        else fputs("<td>-</td>", f); /* one step (FGSM), or driven by queries */
        if (r->queries) fprintf(f, "<td class=\"num\">%lld</td>", (long long)r->queries);
        else fputs("<td>-</td>", f);
        figure_cells(f, &r->robust);
        fputs("<td class=\"num\">", f);
        percent(f, s->success_rate);
        fprintf(f, "</td><td class=\"num\">%.4g</td><td class=\"num\">%.1f</td><td class=\"num\">%.1f</td>"
                "<td class=\"num\">%.1f</td></tr>\n", isfinite(s->median_norm) ? s->median_norm : 0, s->mean_grads,
                s->mean_queries, s->seconds);
    }
    fputs("</table>\n", f);
    for (int i = 0; i < a->n_runs; i++) {
        if (!a->runs[i].warnings[0]) continue;
        foilAuditRunKey(&a->runs[i], key, sizeof key);
        fprintf(f, "<p class=\"warn\">%s: ", key);
        foilReportPutEscaped(f, a->runs[i].warnings);
        fputs("</p>\n", f);
    }
}

foil_status foilReportAuditHtml(FILE *f, const FoilAudit *a, const FoilAuditContext *ctx)
{
    header(f, a, ctx);
    scorecard(f, a, ctx);
    fputs("<h2>Robust accuracy against eps</h2>\n", f);
    foil_status st = norm_chart(f, a, FOIL_NORM_LINF);
    if (!st) st = norm_chart(f, a, FOIL_NORM_L2);
    if (!st) st = examples_table(f, a, ctx);
    if (st) return st;
    detection_table(f, a);
    verification_table(f, a);
    if ((st = backdoor_section(f, a, ctx))) return st;
    if ((st = privacy_section(f, a, ctx))) return st;
    per_class_table(f, a, ctx);
    runs_table(f, a);
    fputs("</body></html>\n", f);
    return ferror(f) ? foil_error(FOIL_ERR_IO, "report.html: write failed") : FOIL_OK;
}
