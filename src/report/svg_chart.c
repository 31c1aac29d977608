/*
 * report/svg_chart.c - line and bar charts as self-contained SVG: robust
 * accuracy against eps (foil attack --plot), and the audit report's charts
 * (its curves, and the backdoor scan's mask norm per class). No scripts, no
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
} chart_frame;

static double px(const chart_frame *c, double x) { return c->left + c->width * (c->xmax > 0 ? x / c->xmax : 0); }
static double py(const chart_frame *c, double y) { return c->top + c->height * (c->ymax - y) / (c->ymax - c->ymin); }

/* The words around a frame: title (may be NULL), the axes' labels, and
 * where the x label goes below the frame (under the ticks or bar names). */
typedef struct chart_words {
    const char *title, *x_label, *y_label;
    double x_label_below;
} chart_words;

/* Horizontal grid lines with the y values, the frame, and the words. */
static void axes(FILE *f, const chart_frame *c, const chart_words *w, int y_percent)
{
    for (int k = 0; k <= 5; k++) {
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

static void x_ticks(FILE *f, const chart_frame *c)
{
    for (int k = 0; k <= 5; k++) {
        double x = c->xmax * k / 5;
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.3g</text>\n", px(c, x),
                c->top + c->height + 16, x);
    }
}

static void series(FILE *f, const chart_frame *c, const FoilChartSeries *s, int index)
{
    const char *colour = palette[index % (int)(sizeof palette / sizeof *palette)];
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", colour,
            index >= 8 ? " stroke-dasharray=\"6 3\"" : "");
    for (int i = 0; i < s->n; i++) fprintf(f, "%s%.1f,%.1f", i ? " " : "", px(c, s->x[i]), py(c, s->y[i]));
    fputs("\"/>\n", f);
    for (int i = 0; i < s->n; i++)
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", px(c, s->x[i]), py(c, s->y[i]), colour);
    double ly = c->top + 10 + 20 * index;
    fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/>\n",
            c->left + c->width + 14, c->left + c->width + 34, ly, ly, colour);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", c->left + c->width + 40, ly + 4);
    foilReportPutEscaped(f, s->name);
    fputs("</text>\n", f);
}

foil_status foilSvgChartWrite(FILE *f, const FoilChart *chart)
{
    chart_frame c = {.left = 60, .top = chart->title ? 26 : 14, .width = 440, .ymin = 0, .ymax = 1};
    c.height = 340;
    int legend_rows = chart->n_series;
    double height = c.top + c.height + 50, legend = c.top + 20 * legend_rows + 10;
    if (legend > height) height = legend;
    for (int k = 0; k < chart->n_series; k++)
        for (int i = 0; i < chart->series[k].n; i++) {
            double x = chart->series[k].x[i], y = chart->series[k].y[i];
            if (!isfinite(x) || !isfinite(y)) return foil_error(FOIL_ERR_ARG, "chart: series '%s' has a value that is "
                                                                "not finite", chart->series[k].name);
            if (x > c.xmax) c.xmax = x;
            if (!chart->y_percent && y > c.ymax) c.ymax = y;
            if (!chart->y_percent && y < c.ymin) c.ymin = y;
        }
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
            "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", c.left + c.width + 300,
            height);
    chart_words words = {chart->title, chart->x_label, chart->y_label, 36};
    axes(f, &c, &words, chart->y_percent);
    x_ticks(f, &c);
    for (int k = 0; k < chart->n_series; k++) series(f, &c, &chart->series[k], k);
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
