/*
 * report/audit_junit.c - the audit's requirements as JUnit XML: a test
 * suite named for the model, a test case per --require, a <failure> with
 * the judged value for each one the model misses.
 */
#include <math.h>

#include "report/report.h"

static void failure(FILE *f, const FoilAuditRequirement *r)
{
    fputs("      <failure message=\"", f);
    if (!r->found) {
        fputs("the audit has no figure '", f);
        foilReportPutEscaped(f, r->key);
        fputs("'\"/>\n", f);
        return;
    }
    foilReportPutEscaped(f, r->key);
    fprintf(f, "%s is %.4f, ", r->confident ? (r->at_least ? " (interval's low end)" : " (interval's high end)") : "",
            r->used);
    foilReportPutEscaped(f, r->at_least ? "below " : "above ");
    fprintf(f, "%.4f\"/>\n", r->threshold);
}

foil_status foilReportAuditJunit(FILE *f, const FoilAudit *a, const FoilAuditContext *ctx)
{
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"foil audit\" tests=\"%d\" "
            "failures=\"%d\" time=\"%.1f\">\n  <testsuite name=\"foil audit: ", ctx->n_requirements, ctx->failed,
            a->seconds);
    foilReportPutEscaped(f, ctx->model);
    fputs(" on ", f);
    foilReportPutEscaped(f, ctx->data);
    fprintf(f, "\" tests=\"%d\" failures=\"%d\" time=\"%.1f\">\n", ctx->n_requirements, ctx->failed, a->seconds);
    for (int i = 0; i < ctx->n_requirements; i++) {
        const FoilAuditRequirement *r = &ctx->requirements[i];
        fputs("    <testcase classname=\"foil.audit\" name=\"", f);
        foilReportPutEscaped(f, r->text);
        fputs("\">\n", f);
        if (!r->passed) failure(f, r);
        fputs("    </testcase>\n", f);
    }
    fputs("  </testsuite>\n</testsuites>\n", f);
    return ferror(f) ? foil_error(FOIL_ERR_IO, "JUnit XML: write failed") : FOIL_OK;
}
