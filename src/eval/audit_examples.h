/*
 * eval/audit_examples.h - the audit's example grid (audit_examples.c): chosen after
 * the clean evaluation, filled in by the attacks at the headline eps,
 * explained (confidences, integrated gradients) at the end.
 */
#ifndef FOIL_AUDIT_EXAMPLES_H
#define FOIL_AUDIT_EXAMPLES_H

#include "eval/audit.h"

/* Up to FOIL_AUDIT_MAX_EXAMPLES correctly classified examples of the sample
 * x (labels y, clean predictions pred), one per class; nothing when d's
 * examples are not gray or RGB images. */
foil_status foilAuditPickExamples(FoilAudit *a, const foil_dataset *d, const foil_tensor *x, const int64_t *y,
                                  const int64_t *pred);
/* Keep, for each chosen example not fooled yet, the adversarial example of
 * this run when it fooled the model. */
void foilAuditKeepAdversarial(FoilAudit *a, const char *attack, const foil_evasion_result *r);
/* Confidences, distances and (when the model gives gradients) the
 * integrated-gradients maps of every example. */
foil_status foilAuditExplainExamples(FoilAudit *a, foil_model *model, int gradients);
void foilAuditFreeExamples(FoilAudit *a);

/* Integrated gradients of s->target's softmax probability at x (one image
 * of shape C, H, W) from the baseline `from`; fills s->attribution
 * (allocated) and s->gap. */
foil_status foilAuditIntegratedGradients(foil_model *model, const int64_t image[3], const float *x, const float *from,
                                         FoilAuditSaliency *s);

#endif
