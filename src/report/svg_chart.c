/*
 * report/svg_chart.c - line and bar charts as self-contained SVG: robust
 * accuracy against eps (foil attack --plot), and the audit report's charts
 * (its curves, the backdoor scan's mask norm per class, and membership
 * inference's ROC curves on logarithmic axes). No scripts, no
 * external fonts or files, so the file opens offline anywhere.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/report.h"

static const char *const palette[] = {"#222222", "#1f77b4", "#d62728", "#ff7f0e",
                                      "#2ca02c", "#9467bd", "#8c564b", "#e377c2"};

typedef struct chart_frame {
    double left, top, width, height, xmax, ymin, ymax;
    int log_x, log_y;            /* logarithmic axes run from xmin (ymin) to xmax (ymax), both > 0 */
    double xmin;
} chart_frame;

/* Where v lies between lo and hi on a log10 scale, 0 to 1; v at or below
 * lo (a rate of 0 among them) on lo. */
static double log_share(double v, double lo, double hi)
{
    return v <= lo ? 0 : (log10(v) - log10(lo)) / (log10(hi) - log10(lo));
}

static double px(const chart_frame *c, double x)
{
    if (c->log_x) return c->left + c->width * log_share(x, c->xmin, c->xmax);
    return c->left + c->width * (c->xmax > 0 ? x / c->xmax : 0);
}

static double py(const chart_frame *c, double y)
{
    if (c->log_y) return c->top + c->height * (1 - log_share(y, c->ymin, c->ymax));
    return c->top + c->height * (c->ymax - y) / (c->ymax - c->ymin);
}

/* A logarithmic axis's tick: a percentage or the value, as %g writes them
 * ("0.1%", "1e-05"). */
static void log_tick(FILE *f, double v, int percent)
{
    if (percent) fprintf(f, "%g%%", 100 * v);
    else fprintf(f, "%g", v);
}

/* The words around a frame: title (may be NULL), the axes' labels, and
 * where the x label goes below the frame (under the ticks or bar names). */
typedef struct chart_words {
    const char *title, *x_label, *y_label;
    double x_label_below;
} chart_words;

/* A logarithmic y axis: a grid line and its value at each power of ten. */
static void log_y_grid(FILE *f, const chart_frame *c, int y_percent)
{
    for (double y = c->ymin; y <= c->ymax * (1 + 1e-9); y *= 10) {
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", c->left,
                c->left + c->width, py(c, y), py(c, y));
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", c->left - 6, py(c, y) + 4);
        log_tick(f, y, y_percent);
        fputs("</text>\n", f);
    }
}

/* Horizontal grid lines with the y values, the frame, and the words. */
static void axes(FILE *f, const chart_frame *c, const chart_words *w, int y_percent)
{
    if (c->log_y) log_y_grid(f, c, y_percent);
    for (int k = 0; k <= 5 && !c->log_y; k++) {
        double y = c->ymin + (c->ymax - c->ymin) * k / 5;
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", c->left,
                c->left + c->width, py(c, y), py(c, y));
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", c->left - 6, py(c, y) + 4);
        if (y_percent) fprintf(f, "%.0f%%", 100 * y);
        else fprintf(f, "%g", y);
        fputs("</text>\n", f);
    }
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>\n",
            c->left, c->top, c->width, c->height);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", c->left + c->width / 2,
            c->top + c->height + w->x_label_below);
    foilReportPutEscaped(f, w->x_label);
    fprintf(f, "</text>\n<text transform=\"translate(16,%.1f) rotate(-90)\" text-anchor=\"middle\">",
            c->top + c->height / 2);
    foilReportPutEscaped(f, w->y_label);
    fputs("</text>\n", f);
    if (w->title) {
        fprintf(f, "<text x=\"%.1f\" y=\"14\" text-anchor=\"middle\" font-weight=\"bold\">", c->left + c->width / 2);
        foilReportPutEscaped(f, w->title);
        fputs("</text>\n", f);
    }
}

/* A logarithmic x axis: a grid line and a tick at each power of ten. */
static void log_x_ticks(FILE *f, const chart_frame *c, int x_percent)
{
    for (double x = c->xmin; x <= c->xmax * (1 + 1e-9); x *= 10) {
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", px(c, x), px(c, x),
                c->top, c->top + c->height);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", px(c, x), c->top + c->height + 16);
        log_tick(f, x, x_percent);
        fputs("</text>\n", f);
    }
}

static void x_ticks(FILE *f, const chart_frame *c)
{
    for (int k = 0; k <= 5; k++) {
        double x = c->xmax * k / 5;
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.3g</text>\n", px(c, x),
                c->top + c->height + 16, x);
    }
}

/* The legend's row `index`: a line in the series' colour (dashed when
 * dash is not empty), and its name. */
static void legend(FILE *f, const chart_frame *c, int index, const char *colour, const char *dash, const char *name)
{
    double ly = c->top + 10 + 20 * index;
    fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"%s/>\n",
            c->left + c->width + 14, c->left + c->width + 34, ly, ly, colour, dash);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", c->left + c->width + 40, ly + 4);
    foilReportPutEscaped(f, name);
    fputs("</text>\n", f);
}

static void series(FILE *f, const chart_frame *c, const FoilChartSeries *s, int index, int markers)
{
    const char *colour = palette[index % (int)(sizeof palette / sizeof *palette)];
    const char *dash = index >= 8 ? " stroke-dasharray=\"6 3\"" : "";
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", colour, dash);
    for (int i = 0; i < s->n; i++) fprintf(f, "%s%.1f,%.1f", i ? " " : "", px(c, s->x[i]), py(c, s->y[i]));
    fputs("\"/>\n", f);
    for (int i = 0; i < s->n && markers; i++)
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", px(c, s->x[i]), py(c, s->y[i]), colour);
    legend(f, c, index, colour, "", s->name);
}

/* The line y = x across the frame, dashed gray, as the legend's row `index`. */
static void diagonal(FILE *f, const chart_frame *c, const char *name, int index)
{
    double lo = fmax(c->log_x ? c->xmin : 0, c->ymin), hi = fmin(c->xmax, c->ymax);
    fprintf(f, "<polyline fill=\"none\" stroke=\"#888\" stroke-width=\"1.5\" stroke-dasharray=\"6 3\" "
            "points=\"%.1f,%.1f %.1f,%.1f\"/>\n", px(c, lo), py(c, lo), px(c, hi), py(c, hi));
    legend(f, c, index, "#888", " stroke-dasharray=\"6 3\"", name);
}

/* The lowest power of ten at or above v > 0: a logarithmic axis's top. */
static double power_of_ten_above(double v) { return pow(10, ceil(log10(v) - 1e-9)); }

/* The frame's ranges from the points: a linear x from 0, a linear y over
 * [0, 1] (y_percent) or the points' range, a logarithmic axis from its
 * given lowest value to a power of ten. */
static foil_status chart_ranges(const FoilChart *chart, chart_frame *c)
{
    if ((chart->log_x && !(chart->x_min > 0 && isfinite(chart->x_min))) ||
        (chart->log_y && !(chart->y_min > 0 && isfinite(chart->y_min))))
        return foil_error(FOIL_ERR_ARG, "chart: a logarithmic axis needs a finite lowest value above 0");
    c->log_x = chart->log_x, c->log_y = chart->log_y, c->xmin = chart->x_min;
    if (c->log_x) c->xmax = chart->x_min;
    if (c->log_y) c->ymin = c->ymax = chart->y_min;
    for (int k = 0; k < chart->n_series; k++)
        for (int i = 0; i < chart->series[k].n; i++) {
            double x = chart->series[k].x[i], y = chart->series[k].y[i];
            if (!isfinite(x) || !isfinite(y)) return foil_error(FOIL_ERR_ARG, "chart: series '%s' has a value that is "
                                                                "not finite", chart->series[k].name);
            if (x > c->xmax) c->xmax = x;
            if ((c->log_y || !chart->y_percent) && y > c->ymax) c->ymax = y;
            if (!c->log_y && !chart->y_percent && y < c->ymin) c->ymin = y;
        }
    if (c->log_x) c->xmax = power_of_ten_above(c->xmax);
    if (c->log_y) c->ymax = power_of_ten_above(c->ymax);
    return FOIL_OK;
}

foil_status foilSvgChartWrite(FILE *f, const FoilChart *chart)
{
    chart_frame c = {.left = 60, .top = chart->title ? 26 : 14, .width = 440, .ymin = 0, .ymax = 1};
    c.height = 340;
    int legend_rows = chart->n_series + (chart->diagonal != NULL);
    double height = c.top + c.height + 50, legend = c.top + 20 * legend_rows + 10;
    if (legend > height) height = legend;
    foil_status st = chart_ranges(chart, &c);
    if (st) return st;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
            "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", c.left + c.width + 300,
            height);
    chart_words words = {chart->title, chart->x_label, chart->y_label, 36};
    axes(f, &c, &words, chart->y_percent);
    if (c.log_x) log_x_ticks(f, &c, chart->x_percent);
    else x_ticks(f, &c);
    if (chart->diagonal) diagonal(f, &c, chart->diagonal, chart->n_series);
    for (int k = 0; k < chart->n_series; k++) series(f, &c, &chart->series[k], k, !chart->no_markers);
    fputs("</svg>\n", f);
    return ferror(f) ? foil_error(FOIL_ERR_IO, "chart: write failed") : FOIL_OK;
}

/* The smallest of 1, 2, 2.5, 5 times a power of ten that is at least v > 0:
 * a y range of five such steps has round ticks. */
static double round_step(double v)
{
    const double steps[] = {1, 2, 2.5, 5, 10};
    double power = pow(10, floor(log10(v)));
    for (int k = 0; k < 5; k++)
        if (steps[k] * power >= v) return steps[k] * power;
    return 10 * power;
}

/* A bar, or "none" where the value is not finite, and its name below, slanted so long names fit. */
static void bar(FILE *f, const chart_frame *c, const FoilBarChart *chart, int i)
{
    const double slot = c->width / chart->n, x = c->left + slot * i, v = chart->value[i];
    if (isfinite(v)) {
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n", x + slot * 0.15,
                py(c, v), slot * 0.7, py(c, 0) - py(c, v), i == chart->highlight ? "#d62728" : "#1f77b4");
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"10\">%.3g</text>\n",
                x + slot / 2, py(c, v) - 3, v);
    } else {
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"10\">none</text>\n", x + slot / 2,
                py(c, 0) - 3);
    }
    fprintf(f, "<text transform=\"translate(%.1f,%.1f) rotate(-35)\" text-anchor=\"end\">", x + slot / 2 + 4,
            c->top + c->height + 14);
    foilReportPutEscaped(f, chart->labels[i]);
    fputs("</text>\n", f);
}

/* A dashed horizontal line across the bars, named at its right end. */
static void reference_line(FILE *f, const chart_frame *c, double y, const char *name)
{
    fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#222\" stroke-dasharray=\"6 3\"/>\n",
            c->left, c->left + c->width, py(c, y), py(c, y));
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", c->left + c->width + 6, py(c, y) + 4);
    foilReportPutEscaped(f, name);
    fputs("</text>\n", f);
}

foil_status foilSvgBarChartWrite(FILE *f, const FoilBarChart *chart)
{
    if (chart->n < 1) return foil_error(FOIL_ERR_ARG, "chart: no bars");
    chart_frame c = {.left = 60, .top = chart->title ? 26 : 14, .width = 440, .height = 260};
    double top = 0;
    for (int i = 0; i < chart->n; i++)
        if (isfinite(chart->value[i])) top = fmax(top, chart->value[i]);
    for (int k = 0; k < chart->n_lines; k++) {
        if (!isfinite(chart->lines[k].y))
            return foil_error(FOIL_ERR_ARG, "chart: line '%s' is not finite", chart->lines[k].name);
        top = fmax(top, chart->lines[k].y);
    }
    c.ymax = 5 * round_step(top > 0 ? top * 1.08 / 5 : 0.2);
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
            "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", c.left + c.width + 160,
            c.top + c.height + 110);
    chart_words words = {chart->title, chart->x_label, chart->y_label, 100};
    axes(f, &c, &words, 0);
    for (int i = 0; i < chart->n; i++) bar(f, &c, chart, i);
    for (int k = 0; k < chart->n_lines; k++) reference_line(f, &c, chart->lines[k].y, chart->lines[k].name);
    fputs("</svg>\n", f);
    return ferror(f) ? foil_error(FOIL_ERR_IO, "chart: write failed") : FOIL_OK;
}

foil_status foilSvgChartSave(const char *path, const FoilChart *chart)
{
    FILE *f = fopen(path, "w");
    if (!f) return foil_error(FOIL_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    foil_status st = foilSvgChartWrite(f, chart);
    if (fclose(f) && !st) st = foil_error(FOIL_ERR_IO, "%s: write failed", path);
    if (st) foil_error_prefix(st, "%s", path);
    return st;
}
