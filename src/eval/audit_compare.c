/*
 * eval/audit_compare.c - two audits' report.json side by side (foil audit
 * --compare): for each figure both hold, the change and whether it lies
 * beyond the samples' noise.
 *
 * The change's 95% interval is Newcombe's hybrid score interval for a
 * difference of proportions (Newcombe 1998, "Interval estimation for the
 * difference between independent proportions", method 10), built from the
 * two figures' Wilson intervals that each report already holds. It treats
 * the samples as independent; two audits with the same seed draw the same
 * examples, and for such paired samples the interval is wider than it need
 * be, so a change it calls real is real.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "eval/audit.h"

/* Read and parse path; FOIL_ERR_FORMAT naming it when it is not a report. */
static foil_status load_report(const char *path, cJSON **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return foil_error(FOIL_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    /* a report is a few hundred KiB; anything past 64 MiB is not one */
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    char *text = size >= 0 && size <= (64L << 20) ? malloc((size_t)size + 1) : NULL;
    foil_status st = size < 0 || size > (64L << 20) ? foil_error(FOIL_ERR_FORMAT, "%s: not a readable file under 64 MiB; "
                                                                 "not an audit report", path)
                     : !text ? foil_error(FOIL_ERR_NOMEM, "%s: out of memory", path)
                             : FOIL_OK;
    size_t len = 0;
    if (!st) {
        rewind(f);
        len = fread(text, 1, (size_t)size, f);
        if (ferror(f)) st = foil_error(FOIL_ERR_IO, "%s: read failed", path);
    }
    fclose(f);
    if (!st) {
        text[len] = 0;
        *out = cJSON_Parse(text);
        if (!*out) st = foil_error(FOIL_ERR_FORMAT, "%s: not valid JSON", path);
    }
    free(text);
    const cJSON *schema = *out ? cJSON_GetObjectItemCaseSensitive(*out, "schema") : NULL;
    if (!st && (!cJSON_IsString(schema) || strcmp(schema->valuestring, "foil-audit/1") != 0))
        st = foil_error(FOIL_ERR_FORMAT, "%s: not a foil audit report (schema %s, expected foil-audit/1)", path,
                        cJSON_IsString(schema) ? schema->valuestring : "missing");
    if (!st && !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(*out, "figures")))
        st = foil_error(FOIL_ERR_FORMAT, "%s: no \"figures\" object", path);
    if (st) {
        cJSON_Delete(*out);
        *out = NULL;
    }
    return st;
}

/* A figure object of a report, checked: value in its interval, in [0, 1]. */
static foil_status read_figure(const char *path, const cJSON *o, FoilAuditFigure *f)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "value"), *lo = cJSON_GetObjectItemCaseSensitive(o, "ci_low"),
                *hi = cJSON_GetObjectItemCaseSensitive(o, "ci_high"),
                *n = cJSON_GetObjectItemCaseSensitive(o, "examples");
    if (!cJSON_IsNumber(v) || !cJSON_IsNumber(lo) || !cJSON_IsNumber(hi) || !cJSON_IsNumber(n) ||
        !(0 <= lo->valuedouble && lo->valuedouble <= v->valuedouble + 1e-9 &&
          v->valuedouble <= hi->valuedouble + 1e-9 && hi->valuedouble <= 1) || n->valuedouble < 1)
        return foil_error(FOIL_ERR_FORMAT, "%s: figure '%s' is not a value inside its interval in [0, 1]", path,
                          o->string ? o->string : "?");
    *f = (FoilAuditFigure){.n = (int64_t)n->valuedouble, .value = v->valuedouble, .low = lo->valuedouble,
                           .high = hi->valuedouble};
    f->k = (int64_t)llround(f->value * (double)f->n);
    return FOIL_OK;
}

/* The report's "backdoor" object (null or absent: no scan); FOIL_ERR_FORMAT
 * naming path when it is not the object the schema describes. */
static foil_status read_backdoor(const char *path, const cJSON *report, FoilAuditBackdoorSide *side)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(report, "backdoor");
    *side = (FoilAuditBackdoorSide){.flagged = -1};
    if (!b || cJSON_IsNull(b)) return FOIL_OK;
    const cJSON *index = cJSON_GetObjectItemCaseSensitive(b, "anomaly_index"),
                *flagged = cJSON_GetObjectItemCaseSensitive(b, "flagged");
    if (!cJSON_IsObject(b) || !(cJSON_IsNumber(index) || cJSON_IsNull(index)) ||
        !(cJSON_IsNumber(flagged) || cJSON_IsNull(flagged)) || (cJSON_IsNumber(flagged) && flagged->valuedouble < 0))
        return foil_error(FOIL_ERR_FORMAT, "%s: \"backdoor\" is not an object with an anomaly_index and a flagged "
                          "class (or null)", path);
    side->present = 1;
    side->anomaly = cJSON_IsNumber(index) ? index->valuedouble : INFINITY;
    side->flagged = cJSON_IsNumber(flagged) ? (int64_t)flagged->valuedouble : -1;
    return FOIL_OK;
}

const char *const foilAuditPrivacyShown[FOIL_AUDIT_PRIVACY_SHOWN] = {
    FOIL_AUDIT_MEMBERSHIP_PREFIX "auc", FOIL_AUDIT_MEMBERSHIP_PREFIX "tpr@0.1%fpr",
    FOIL_AUDIT_MEMBERSHIP_PREFIX "tpr@1%fpr", FOIL_AUDIT_MEMBERSHIP_PREFIX "accuracy-gap"};

/* The report's "privacy" object (null or absent: no section): its
 * headline figures; FOIL_ERR_FORMAT naming path when it has no "figures"
 * object or one of them is neither a number nor null. */
static foil_status read_privacy(const char *path, const cJSON *report, FoilAuditPrivacySide *side)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(report, "privacy");
    *side = (FoilAuditPrivacySide){0};
    if (!p || cJSON_IsNull(p)) return FOIL_OK;
    const cJSON *figures = cJSON_GetObjectItemCaseSensitive(p, "figures");
    if (!cJSON_IsObject(figures))
        return foil_error(FOIL_ERR_FORMAT, "%s: \"privacy\" is not an object with \"figures\" (or null)", path);
    side->present = 1;
    for (int k = 0; k < FOIL_AUDIT_PRIVACY_SHOWN; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(figures, foilAuditPrivacyShown[k]);
        if (v && !cJSON_IsNumber(v) && !cJSON_IsNull(v))
            return foil_error(FOIL_ERR_FORMAT, "%s: privacy figure '%s' is not a number", path,
                              foilAuditPrivacyShown[k]);
        side->value[k] = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    }
    return FOIL_OK;
}

FoilAuditChange foilAuditDifference(const FoilAuditFigure *before, const FoilAuditFigure *after)
{
    FoilAuditChange c = {.before = *before, .after = *after};
    double p1 = before->value, p2 = after->value;
    c.delta = p2 - p1;
    c.low = c.delta - sqrt((p2 - after->low) * (p2 - after->low) + (before->high - p1) * (before->high - p1));
    c.high = c.delta + sqrt((after->high - p2) * (after->high - p2) + (p1 - before->low) * (p1 - before->low));
    c.verdict = c.low > 0 ? 1 : c.high < 0 ? -1 : 0;
    return c;
}

foil_status foilAuditCompare(const char *before_path, const char *after_path, FoilAuditComparison *out)
{
    memset(out, 0, sizeof *out);
    cJSON *before = NULL, *after = NULL;
    foil_status st = load_report(before_path, &before);
    if (!st) st = load_report(after_path, &after);
    const cJSON *fb = before ? cJSON_GetObjectItemCaseSensitive(before, "figures") : NULL,
                *fa = after ? cJSON_GetObjectItemCaseSensitive(after, "figures") : NULL;
    const cJSON *o;
    cJSON_ArrayForEach(o, fb)
    {
        if (st) break;
        const cJSON *twin = cJSON_GetObjectItemCaseSensitive(fa, o->string);
        if (!twin) {
            out->only_before++;
            continue;
        }
        if (out->n == FOIL_AUDIT_MAX_CHANGES) break;
        FoilAuditFigure b, a;
        if ((st = read_figure(before_path, o, &b)) || (st = read_figure(after_path, twin, &a))) break;
        FoilAuditChange *c = &out->changes[out->n++];
        *c = foilAuditDifference(&b, &a);
        snprintf(c->key, sizeof c->key, "%s", o->string);
        out->better += c->verdict > 0;
        out->worse += c->verdict < 0;
    }
    cJSON_ArrayForEach(o, fa) out->only_after += !st && !cJSON_GetObjectItemCaseSensitive(fb, o->string);
    if (!st) st = read_backdoor(before_path, before, &out->backdoor_before);
    if (!st) st = read_backdoor(after_path, after, &out->backdoor_after);
    if (!st) st = read_privacy(before_path, before, &out->privacy_before);
    if (!st) st = read_privacy(after_path, after, &out->privacy_after);
    cJSON_Delete(before);
    cJSON_Delete(after);
    return st;
}
