/*
 * report/report.h - results as people and pipelines read them: JSON objects
 * (cJSON) built here, printed by the CLI. Internal to foil: the public API
 * gives results as structs (foil/evasion.h, foil/eval.h).
 */
#ifndef FOIL_REPORT_H
#define FOIL_REPORT_H

#include <stdio.h>

#include <cjson/cJSON.h>

#include "eval/audit.h"
#include "foil/evasion.h"
#include "foil/eval.h"

/* One attack run: the attack, its threat (eps as the user wrote it), the
 * summary and per-run counts, tabular change statistics when tabular, and
 * the model's kind. */
cJSON *foilReportAttackJson(const char *name, const char *eps_text, const foil_threat *t,
                               const foil_evasion_summary *s, const foil_evasion_result *r, const foil_tensor *x,
                               int tabular, const foil_model *model);

/* s for HTML, SVG or XML text and attribute values (escape.c): & < > " '
 * escaped. */
void foilReportPutEscaped(FILE *f, const char *s);

/* A line chart (svg_chart.c): series of (x, y) points, x from 0 up; y in
 * [0, 1] drawn as percentages when y_percent, else on its own range. An
 * axis may be logarithmic instead (log_x, log_y): from its x_min or y_min
 * (> 0) up to the power of ten at or above its largest value, a grid line
 * and a tick at each power of ten; a point at or below the lowest value
 * (a rate of 0) is drawn on the axis. A ROC curve on log axes, as Carlini
 * et al. 2022 plot them, shows the low false-positive rates that a linear
 * plot squeezes into its corner. */
typedef struct FoilChartSeries {
    const char *name;
    int n;
    const double *x, *y;
} FoilChartSeries;

typedef struct FoilChart {
    const char *title;           /* NULL: none */
    const char *x_label, *y_label;
    int y_percent;
    const FoilChartSeries *series;
    int n_series;
    int log_x, log_y;            /* 1: that axis is logarithmic */
    double x_min, y_min;         /* a logarithmic axis's lowest value */
    int x_percent;               /* x ticks as percentages (a logarithmic x axis only) */
    const char *diagonal;        /* not NULL: a dashed y = x line with that name (a ROC curve's chance) */
    int no_markers;              /* 1: no dot at each point (curves of many points) */
} FoilChart;

/* The chart as one self-contained SVG document; FOIL_ERR_ARG for a point
 * that is not finite, FOIL_ERR_IO naming the path when writing fails. */
foil_status foilSvgChartWrite(FILE *f, const FoilChart *chart);
foil_status foilSvgChartSave(const char *path, const FoilChart *chart);

/* A bar chart (svg_chart.c): one bar per name, the highlighted one in red,
 * a bar whose value is not finite drawn as "none"; dashed horizontal lines
 * mark reference values (a median, a threshold). */
typedef struct FoilChartLine {
    const char *name;
    double y;
} FoilChartLine;

typedef struct FoilBarChart {
    const char *title;           /* NULL: none */
    const char *x_label, *y_label;
    int n;
    const char *const *labels;
    const double *value;         /* >= 0 */
    int highlight;               /* -1: none */
    const FoilChartLine *lines;
    int n_lines;
} FoilBarChart;

/* FOIL_ERR_ARG when there is no bar or a line is not finite. */
foil_status foilSvgBarChartWrite(FILE *f, const FoilBarChart *chart);

/* What the audit report says about its run besides the figures. */
typedef struct FoilAuditContext {
    const char *model, *model_kind, *data, *split, *version;
    int is_image;
    const char *const *class_names;  /* NULL: classes by number */
    const FoilAuditRequirement *requirements;
    int n_requirements, failed;
} FoilAuditContext;

/* report.json (audit_json.c): schema FOIL_AUDIT_SCHEMA, documented in
 * docs/audit-report.md. */
#define FOIL_AUDIT_SCHEMA "foil-audit/1"
cJSON *foilReportAuditJson(const FoilAudit *a, const FoilAuditContext *ctx);

/* report.html (audit_html.c): one self-contained page (inline SVG charts,
 * example images inline as PNG data URLs, no scripts, no external files). */
foil_status foilReportAuditHtml(FILE *f, const FoilAudit *a, const FoilAuditContext *ctx);

/* A PNG in memory (png.c): 8-bit gray (channels 1) or RGB (3) pixels, rows
 * top to bottom. */
typedef struct FoilPng {
    unsigned char *data;
    size_t size, cap;
} FoilPng;
foil_status foilPngEncode(const uint8_t *pixels, int width, int height, int channels, FoilPng *out);
void foilPngFree(FoilPng *png);

/* The audit's example grid as images (audit_examples.c). */
typedef enum FoilExampleView {
    FOIL_VIEW_CLEAN = 0,
    FOIL_VIEW_ADVERSARIAL,
    FOIL_VIEW_PERTURBATION,        /* adv - x, magnified: gray 0, black -eps, white +eps */
    FOIL_VIEW_SALIENCY_CLEAN,      /* integrated gradients: red for, blue against the class */
    FOIL_VIEW_SALIENCY_ADVERSARIAL,
    FOIL_VIEW_COUNT
} FoilExampleView;
const char *foilExampleViewName(FoilExampleView v);
/* Whether example e has that image (no adversarial one when no attack fooled
 * it, no saliency maps without gradients). */
int foilReportExampleHas(const FoilAuditExample *e, FoilExampleView v);
/* "examples/03-clean.png": the image's path inside the report directory. */
void foilReportExampleFile(int k, FoilExampleView v, char *buf, size_t size);
foil_status foilReportExamplePng(const FoilAudit *a, int k, FoilExampleView v, FoilPng *png);
/* The backdoor scan's images of the class it shows (audit_examples.c): its
 * mask (white where the mask is 1), its trigger on a black image
 * ((1 - m) lower + m p) and on a clean image of the sample. */
typedef enum FoilBackdoorView {
    FOIL_BACKDOOR_MASK = 0,
    FOIL_BACKDOOR_TRIGGER,
    FOIL_BACKDOOR_STAMPED,
    FOIL_BACKDOOR_VIEW_COUNT
} FoilBackdoorView;
/* Whether the audit has that image: the scan ran and a class's trigger
 * reached its target, the images can be drawn (gray or RGB), and for the
 * stamped one, the sample had an image of another class. */
int foilReportBackdoorHas(const FoilAudit *a, FoilBackdoorView v);
/* "examples/backdoor-mask.png" */
void foilReportBackdoorFile(FoilBackdoorView v, char *buf, size_t size);
foil_status foilReportBackdoorPng(const FoilAudit *a, FoilBackdoorView v, FoilPng *png);
/* Every example image, and the backdoor scan's, into DIR/examples/ (created). */
foil_status foilReportAuditExamples(const char *dir, const FoilAudit *a);

/* One detector against one attack (foil detect's and the audit's rows):
 * attack, adaptive, attacked, fooled, evaded, roc_auc, tpr (null when
 * nothing was fooled), seconds. */
cJSON *foilReportDetectionRowJson(const FoilDetectionRow *r);

/* The requirements as JUnit XML (audit_junit.c), one test case each, which
 * CI systems (GitLab, Jenkins, GitHub's test reporters) display natively. */
foil_status foilReportAuditJunit(FILE *f, const FoilAudit *a, const FoilAuditContext *ctx);

#endif
