/*
 * eval/audit_detection.h - the audit's detector stage (audit_detection.c): each given
 * detector calibrated on the clean sample, scored against every attack at
 * the headline eps as it runs, then attacked by the attacker who evades
 * model and detector together.
 */
#ifndef FOIL_AUDIT_DETECTION_H
#define FOIL_AUDIT_DETECTION_H

#include "eval/audit.h"

/* Score the clean sample x with each detector and set its threshold. */
foil_status foilAuditCalibrateDetectors(FoilAudit *a, const FoilAuditModels *m, const foil_tensor *x);
/* Each detector against the adversarial examples of run r. */
foil_status foilAuditScoreRun(FoilAudit *a, const FoilAuditModels *m, const char *attack,
                              const foil_evasion_result *r);
/* Orthogonal and Selective PGD (foil_detector_evasion_attack) against each
 * detector at threat t, on x (labels y); flags a detector it gets more
 * than 5 points more examples through than any attack unaware of it. */
foil_status foilAuditEvadeDetectors(FoilAudit *a, const FoilAuditModels *m, const foil_tensor *x, const int64_t *y,
                                    const foil_threat *t);
void foilAuditFreeDetectors(FoilAudit *a);

#endif
