/*
 * report/escape.c - text for HTML, SVG and XML reports: the five characters
 * that markup gives a meaning escaped, so a model's or a file's name cannot
 * break (or inject into) a report.
 */
#include "report/report.h"

void foilReportPutEscaped(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '&') fputs("&amp;", f);
        else if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '"') fputs("&quot;", f);
        else if (*s == '\'') fputs("&#39;", f);
        else fputc(*s, f);
    }
}
