/*
 * eval/audit_detection.c - detectors in the audit (see audit_detection.h and
 * foil/detect.h). The threshold is calibrated on the audit's own clean
 * sample, the negatives of every ROC curve here, so the false-positive rate
 * holds on that sample by construction; `foil detect` calibrates on
 * separate images.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/audit_detection.h"
#include "foil/detect.h"

static double detector_fpr(const FoilAuditModels *m) { return m->detector_fpr > 0 ? m->detector_fpr : 0.05; }

foil_status foilAuditCalibrateDetectors(FoilAudit *a, const FoilAuditModels *m, const foil_tensor *x)
{
    int64_t n = x->shape[0];
    a->detector_fpr = detector_fpr(m);
    for (int k = 0; k < m->n_detectors && k < FOIL_AUDIT_MAX_DETECTORS; k++) {
        FoilAuditDetector *d = &a->detectors[a->n_detectors++];
        *d = (FoilAuditDetector){.name = foil_detector_name(m->detectors[k])};
        d->clean_scores = malloc((size_t)n * sizeof *d->clean_scores);
        if (!d->clean_scores) return foil_error(FOIL_ERR_NOMEM, "audit: out of memory for detector scores");
        foil_status st = foil_detector_score(m->detectors[k], x, d->clean_scores);
        if (st) return foil_error_prefix(st, "audit: detector %s on the clean sample", d->name);
        d->threshold = foil_threshold_at_fpr(d->clean_scores, n, a->detector_fpr);
    }
    return FOIL_OK;
}

/* A detection row from the detector's scores of adv, whose fooled examples
 * are the positives (no row past FOIL_AUDIT_MAX_DETECTIONS). */
static foil_status add_detection(FoilAudit *a, int k, FoilDetectionRow row, const float *scores,
                                 const uint8_t *attacked, const uint8_t *fooled, int64_t n)
{
    if (a->n_detections == FOIL_AUDIT_MAX_DETECTIONS)
        return foil_error(FOIL_ERR_ARG, "audit: more than %d detector rows", FOIL_AUDIT_MAX_DETECTIONS);
    const FoilAuditDetector *d = &a->detectors[k];
    foil_status st = foilDetectionRowScore(d->clean_scores, n, d->threshold, scores, attacked, fooled, n, &row);
    if (!st) a->detections[a->n_detections++] = (FoilAuditDetection){.detector = k, .row = row};
    return st;
}

foil_status foilAuditScoreRun(FoilAudit *a, const FoilAuditModels *m, const char *attack,
                              const foil_evasion_result *r)
{
    if (!a->n_detectors) return FOIL_OK;
    float *scores = malloc((size_t)r->n * sizeof *scores);
    if (!scores) return foil_error(FOIL_ERR_NOMEM, "audit: out of memory for detector scores");
    foil_status st = FOIL_OK;
    for (int k = 0; k < a->n_detectors && !st; k++) {
        st = foil_detector_score(m->detectors[k], &r->adv, scores);
        FoilDetectionRow row = {.attack = attack, .seconds = r->seconds};
        if (!st) st = add_detection(a, k, row, scores, r->attacked, r->success, r->n);
    }
    free(scores);
    return st ? foil_error_prefix(st, "audit: detectors on %s's examples", attack) : FOIL_OK;
}

static double rate(int64_t k, int64_t n) { return n ? (double)k / (double)n : 0; }

/* The largest share of attacked examples an attack unaware of detector k
 * got through it. */
static double best_plain_evasion(const FoilAudit *a, int k)
{
    double best = 0;
    for (int i = 0; i < a->n_detections; i++) {
        const FoilDetectionRow *row = &a->detections[i].row;
        if (a->detections[i].detector == k && !row->adaptive) best = fmax(best, rate(row->evaded, row->attacked));
    }
    return best;
}

foil_status foilAuditEvadeDetectors(FoilAudit *a, const FoilAuditModels *m, const foil_tensor *x, const int64_t *y,
                                    const foil_threat *t)
{
    foil_threat ta = *t;
    ta.steps = m->detector_steps > 0 ? m->detector_steps : 100;
    ta.step_size = 0;
    foil_status st = FOIL_OK;
    for (int k = 0; k < a->n_detectors && !st; k++) {
        FoilAuditDetector *d = &a->detectors[k];
        foil_detector_evasion_result er = {0};
        st = foil_detector_evasion_attack(m->model, m->detectors[k], d->threshold, x, y, &ta, a->config.quiet, &er);
        if (st) st = foil_error_prefix(st, "audit: the attack that evades %s", d->name);
        float *scores = st ? NULL : malloc((size_t)er.n * sizeof *scores);
        if (!st && !scores) st = foil_error(FOIL_ERR_NOMEM, "audit: out of memory for detector scores");
        if (!st) st = foil_detector_score(m->detectors[k], &er.adv, scores);
        double plain = best_plain_evasion(a, k);
        FoilDetectionRow row = {.attack = "orthogonal+selective", .adaptive = 1, .seconds = er.seconds};
        if (!st) st = add_detection(a, k, row, scores, er.attacked, er.fooled, er.n);
        if (!st) {
            const FoilDetectionRow *row = &a->detections[a->n_detections - 1].row;
            d->adaptive_gap = rate(row->evaded, row->attacked) - plain > 0.05;
        }
        free(scores);
        foil_detector_evasion_result_free(&er);
    }
    return st;
}

void foilAuditFreeDetectors(FoilAudit *a)
{
    for (int k = 0; k < a->n_detectors; k++) free(a->detectors[k].clean_scores);
    a->n_detectors = 0;
}
