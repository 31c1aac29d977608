/*
 * report/svg_chart.c - line charts as self-contained SVG: robust accuracy
 * against eps (foil attack --plot), and the audit report's charts. No
 * scripts, no external fonts or files, so the file opens offline anywhere.
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

static void axes(FILE *f, const chart_frame *c, const FoilChart *chart)
{
    for (int k = 0; k <= 5; k++) {
        double y = c->ymin + (c->ymax - c->ymin) * k / 5;
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", c->left,
                c->left + c->width, py(c, y), py(c, y));
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", c->left - 6, py(c, y) + 4);
        if (chart->y_percent) fprintf(f, "%.0f%%", 100 * y);
        else fprintf(f, "%g", y);
        fputs("</text>\n", f);
    }
    for (int k = 0; k <= 5; k++) {
        double x = c->xmax * k / 5;
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.3g</text>\n", px(c, x),
                c->top + c->height + 16, x);
    }
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>\n",
            c->left, c->top, c->width, c->height);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", c->left + c->width / 2, c->top + c->height + 36);
    foilReportPutEscaped(f, chart->x_label);
    fprintf(f, "</text>\n<text transform=\"translate(16,%.1f) rotate(-90)\" text-anchor=\"middle\">",
            c->top + c->height / 2);
    foilReportPutEscaped(f, chart->y_label);
    fputs("</text>\n", f);
    if (chart->title) {
        fprintf(f, "<text x=\"%.1f\" y=\"14\" text-anchor=\"middle\" font-weight=\"bold\">", c->left + c->width / 2);
        foilReportPutEscaped(f, chart->title);
        fputs("</text>\n", f);
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
    axes(f, &c, chart);
    for (int k = 0; k < chart->n_series; k++) series(f, &c, &chart->series[k], k);
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
