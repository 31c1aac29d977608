/*
 * report/audit_json.c - the audit as report.json (schema "foil-audit/1",
 * docs/audit-report.md): every figure with its sample size and 95%
 * interval, every run with its exact parameters, the requirements as judged.
 */
#include <math.h>

#include "report/report.h"

static cJSON *number_or_null(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

cJSON *foilReportDetectionRowJson(const FoilDetectionRow *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "attack", r->attack);
    cJSON_AddBoolToObject(o, "adaptive", r->adaptive);
    cJSON_AddNumberToObject(o, "attacked", (double)r->attacked);
    cJSON_AddNumberToObject(o, "fooled", (double)r->fooled);
    cJSON_AddNumberToObject(o, "evaded", (double)r->evaded);
    cJSON_AddItemToObject(o, "roc_auc", number_or_null(r->roc_auc));
    cJSON_AddItemToObject(o, "tpr", number_or_null(r->tpr));
    cJSON_AddNumberToObject(o, "seconds", r->seconds);
    return o;
}

static cJSON *figure_json(const FoilAuditFigure *f)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "value", number_or_null(f->value));
    cJSON_AddNumberToObject(o, "correct", (double)f->k);
    cJSON_AddNumberToObject(o, "examples", (double)f->n);
    cJSON_AddNumberToObject(o, "ci_low", f->low);
    cJSON_AddNumberToObject(o, "ci_high", f->high);
    return o;
}

static cJSON *run_json(const FoilAuditRun *r)
{
    cJSON *o = cJSON_CreateObject();
    char key[96];
    foilAuditRunKey(r, key, sizeof key);
    cJSON_AddStringToObject(o, "key", key);
    cJSON_AddStringToObject(o, "attack", r->attack);
    const char *variant = foilAuditRunVariant(r);
    cJSON_AddStringToObject(o, "adaptive", variant[0] ? variant + 1 : "");
    cJSON_AddStringToObject(o, "norm", foil_norm_name(r->norm));
    cJSON_AddNumberToObject(o, "eps", r->eps);
    cJSON_AddItemToObject(o, "steps", r->steps ? cJSON_CreateNumber((double)r->steps) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "queries", r->queries ? cJSON_CreateNumber((double)r->queries) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "robust_accuracy", figure_json(&r->robust));
    const foil_evasion_summary *s = &r->summary;
    cJSON_AddNumberToObject(o, "success_rate", s->success_rate);
    cJSON_AddItemToObject(o, "median_norm", number_or_null(s->median_norm));
    cJSON_AddNumberToObject(o, "mean_gradients", s->mean_grads);
    cJSON_AddNumberToObject(o, "mean_queries", s->mean_queries);
    cJSON_AddItemToObject(o, "zero_gradient_fraction", number_or_null(s->zero_gradient_fraction));
    cJSON_AddNumberToObject(o, "seconds", s->seconds);
    cJSON_AddStringToObject(o, "warnings", r->warnings);
    return o;
}

static cJSON *per_class_json(const FoilAudit *a, const FoilAuditContext *ctx)
{
    cJSON *list = cJSON_CreateArray();
    for (int64_t c = 0; c < a->classes; c++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "class", (double)c);
        if (ctx->class_names) cJSON_AddStringToObject(o, "name", ctx->class_names[c]);
        cJSON_AddItemToObject(o, "clean", number_or_null(a->clean_per_class[c]));
        cJSON_AddItemToObject(o, "robust", number_or_null(a->robust_per_class[c]));
        cJSON_AddItemToArray(list, o);
    }
    return list;
}

/* An image's path inside the report directory, or null when it has none. */
static cJSON *image_path(const FoilAudit *a, int k, FoilExampleView v)
{
    char name[64];
    if (!foilReportExampleHas(&a->examples[k], v)) return cJSON_CreateNull();
    foilReportExampleFile(k, v, name, sizeof name);
    return cJSON_CreateString(name);
}

static cJSON *saliency_json(const FoilAudit *a, int k, FoilExampleView v, const FoilAuditSaliency *s)
{
    if (!foilReportExampleHas(&a->examples[k], v)) return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "class", (double)s->target);
    cJSON_AddItemToObject(o, "image", image_path(a, k, v));
    cJSON_AddItemToObject(o, "completeness_gap", number_or_null(s->gap));
    return o;
}

static cJSON *examples_json(const FoilAudit *a)
{
    cJSON *o = cJSON_CreateObject(), *list = cJSON_CreateArray();
    cJSON_AddItemToObject(o, "eps", a->headline >= 0 ? cJSON_CreateNumber(a->worst[a->headline].eps)
                                                       : cJSON_CreateNull());
    cJSON_AddNumberToObject(o, "saliency_steps", FOIL_AUDIT_IG_STEPS);
    for (int k = 0; k < a->n_examples; k++) {
        const FoilAuditExample *e = &a->examples[k];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "sample_index", (double)e->index);
        cJSON_AddNumberToObject(x, "label", (double)e->label);
        cJSON *clean = cJSON_AddObjectToObject(x, "clean");
        cJSON_AddNumberToObject(clean, "predicted", (double)e->clean_pred);
        cJSON_AddNumberToObject(clean, "confidence", e->clean_confidence);
        cJSON_AddItemToObject(clean, "image", image_path(a, k, FOIL_VIEW_CLEAN));
        cJSON_AddItemToObject(clean, "saliency", saliency_json(a, k, FOIL_VIEW_SALIENCY_CLEAN, &e->saliency_clean));
        if (e->attack) {
            cJSON *adv = cJSON_AddObjectToObject(x, "adversarial");
            cJSON_AddStringToObject(adv, "attack", e->attack);
            cJSON_AddNumberToObject(adv, "predicted", (double)e->adv_pred);
            cJSON_AddNumberToObject(adv, "confidence", e->adv_confidence);
            cJSON_AddNumberToObject(adv, "linf_distance", e->distance);
            cJSON_AddItemToObject(adv, "image", image_path(a, k, FOIL_VIEW_ADVERSARIAL));
            cJSON_AddItemToObject(adv, "perturbation_image", image_path(a, k, FOIL_VIEW_PERTURBATION));
            cJSON_AddItemToObject(adv, "saliency",
                                  saliency_json(a, k, FOIL_VIEW_SALIENCY_ADVERSARIAL, &e->saliency_adv));
        } else {
            cJSON_AddNullToObject(x, "adversarial");
        }
        cJSON_AddItemToArray(list, x);
    }
    cJSON_AddItemToObject(o, "items", list);
    return o;
}

static cJSON *detection_json(const FoilAudit *a)
{
    cJSON *o = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(o, "detectors");
    cJSON_AddItemToObject(o, "eps", a->headline >= 0 ? cJSON_CreateNumber(a->worst[a->headline].eps)
                                                       : cJSON_CreateNull());
    cJSON_AddNumberToObject(o, "fpr", a->detector_fpr);
    for (int k = 0; k < a->n_detectors; k++) {
        const FoilAuditDetector *d = &a->detectors[k];
        cJSON *dj = cJSON_CreateObject(), *rows = cJSON_CreateArray();
        cJSON_AddStringToObject(dj, "detector", d->name);
        cJSON_AddNumberToObject(dj, "threshold", d->threshold);
        cJSON_AddBoolToObject(dj, "adaptive_gap", d->adaptive_gap);
        for (int i = 0; i < a->n_detections; i++) {
            if (a->detections[i].detector == k) cJSON_AddItemToArray(rows, foilReportDetectionRowJson(&a->detections[i].row));
        }
        cJSON_AddItemToObject(dj, "attacks", rows);
        cJSON_AddItemToArray(list, dj);
    }
    return o;
}

static cJSON *verification_json(const FoilAudit *a)
{
    cJSON *o = cJSON_CreateObject(), *rows = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "method", "crown");
    cJSON_AddNumberToObject(o, "examples", (double)a->verified[0].verified.n);
    char key[96];
    for (int i = 0; i < a->n_verified; i++) {
        cJSON *r = cJSON_CreateObject();
        foilAuditVerifiedKey(&a->verified[i], key, sizeof key);
        cJSON_AddStringToObject(r, "figure", key);
        cJSON_AddNumberToObject(r, "eps", a->verified[i].eps);
        cJSON_AddNumberToObject(r, "seconds", a->verified[i].seconds);
        cJSON_AddItemToArray(rows, r);
    }
    cJSON_AddItemToObject(o, "eps", rows);
    return o;
}

/* n values, null where not finite (a class whose trigger never reached the target). */
static cJSON *numbers_json(const double *v, int64_t n)
{
    cJSON *list = cJSON_CreateArray();
    for (int64_t i = 0; i < n; i++) cJSON_AddItemToArray(list, number_or_null(v[i]));
    return list;
}

static cJSON *backdoor_image(const FoilAudit *a, FoilBackdoorView v)
{
    char name[64];
    if (!foilReportBackdoorHas(a, v)) return cJSON_CreateNull();
    foilReportBackdoorFile(v, name, sizeof name);
    return cJSON_CreateString(name);
}

static cJSON *strip_json(const FoilAuditStrip *s)
{
    if (!s->images) return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "images", (double)s->images);
    cJSON_AddNumberToObject(o, "overlays", (double)s->overlays);
    cJSON_AddNumberToObject(o, "success", s->success);
    cJSON_AddNumberToObject(o, "threshold_bits", s->threshold_bits);
    cJSON_AddNumberToObject(o, "fpr", s->fpr);
    cJSON_AddStringToObject(o, "figure", FOIL_AUDIT_STRIP_KEY);
    cJSON_AddItemToObject(o, "tpr", figure_json(&s->tpr));
    return o;
}

/* The class whose trigger the report shows, its images and STRIP's check. */
static cJSON *trigger_json(const FoilAudit *a)
{
    const FoilAuditBackdoor *b = &a->backdoor;
    if (b->shown < 0) return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "class", (double)b->shown);
    cJSON_AddBoolToObject(o, "flagged", b->shown == b->cleanse.flagged);
    cJSON_AddItemToObject(o, "mask_image", backdoor_image(a, FOIL_BACKDOOR_MASK));
    cJSON_AddItemToObject(o, "image", backdoor_image(a, FOIL_BACKDOOR_TRIGGER));
    if (b->stamped) {
        cJSON *st = cJSON_AddObjectToObject(o, "stamped");
        cJSON_AddNumberToObject(st, "sample_index", (double)b->stamped_index);
        cJSON_AddNumberToObject(st, "label", (double)b->stamped_label);
        cJSON_AddNumberToObject(st, "predicted", (double)b->stamped_pred);
        cJSON_AddItemToObject(st, "image", backdoor_image(a, FOIL_BACKDOOR_STAMPED));
    } else {
        cJSON_AddNullToObject(o, "stamped");
    }
    cJSON_AddItemToObject(o, "strip", strip_json(&b->strip));
    return o;
}

static cJSON *backdoor_json(const FoilAudit *a)
{
    const FoilAuditBackdoor *b = &a->backdoor;
    const foil_cleanse_result *r = &b->cleanse;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "method", "neural-cleanse");
    cJSON_AddStringToObject(o, "figure", FOIL_AUDIT_BACKDOOR_KEY);
    cJSON_AddNumberToObject(o, "images", (double)b->images);
    cJSON_AddNumberToObject(o, "steps", (double)b->steps);
    cJSON_AddNumberToObject(o, "seed", (double)a->config.seed);
    cJSON *pc = cJSON_AddObjectToObject(o, "per_class");
    cJSON_AddItemToObject(pc, "mask_l1", numbers_json(r->norm, r->classes));
    cJSON_AddItemToObject(pc, "success", numbers_json(r->success, r->classes));
    cJSON_AddItemToObject(pc, "anomaly_index", numbers_json(r->anomaly, r->classes));
    cJSON_AddItemToObject(o, "median_mask_l1", number_or_null(r->median));
    cJSON_AddItemToObject(o, "mad", number_or_null(r->mad));
    cJSON_AddItemToObject(o, "anomaly_index", number_or_null(r->flagged_anomaly));
    cJSON_AddNumberToObject(o, "threshold", FOIL_AUDIT_ANOMALY_THRESHOLD);
    cJSON_AddItemToObject(o, "flagged", r->flagged >= 0 ? cJSON_CreateNumber((double)r->flagged) : cJSON_CreateNull());
    cJSON_AddStringToObject(o, "verdict", r->flagged >= 0 ? "suspected" : "none");
    cJSON_AddItemToObject(o, "trigger", trigger_json(a));
    cJSON_AddNumberToObject(o, "seconds", b->seconds);
    return o;
}

/* One drawn set of the privacy section: where from, which examples, and
 * their SHA-256, so that others can draw the same and check it. */
static cJSON *drawn_json(const char *data, const char *split, const int64_t *index, int64_t n, const char *sha256)
{
    cJSON *o = cJSON_CreateObject(), *list = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "data", data);
    cJSON_AddStringToObject(o, "split", split);
    cJSON_AddNumberToObject(o, "examples", (double)n);
    for (int64_t i = 0; i < n; i++) cJSON_AddItemToArray(list, cJSON_CreateNumber((double)index[i]));
    cJSON_AddItemToObject(o, "index", list);
    cJSON_AddStringToObject(o, "sha256", sha256);
    return o;
}

static cJSON *membership_attack_json(const FoilAuditMembership *r)
{
    cJSON *o = cJSON_CreateObject(), *roc;
    cJSON_AddStringToObject(o, "attack", foil_membership_attack_name(r->attack));
    cJSON_AddItemToObject(o, "auc", number_or_null(r->auc));
    cJSON_AddNumberToObject(o, "tpr_at_0.1%_fpr", r->tpr_01);
    cJSON_AddNumberToObject(o, "tpr_at_1%_fpr", r->tpr_1);
    cJSON_AddNumberToObject(o, "balanced_accuracy", r->balanced_accuracy);
    roc = cJSON_AddObjectToObject(o, "roc");
    cJSON_AddItemToObject(roc, "fpr", numbers_json(r->roc_fpr, r->n_roc));
    cJSON_AddItemToObject(roc, "tpr", numbers_json(r->roc_tpr, r->n_roc));
    return o;
}

/* Every membership figure --require can name, by its key. */
static cJSON *membership_figures_json(const FoilAudit *a)
{
    cJSON *o = cJSON_CreateObject();
    char key[96];
    double v;
    for (int i = -1; i < a->privacy.n_attacks; i++)
        for (int w = 0; w < FOIL_AUDIT_MEMBERSHIP_MEASURES; w++) {
            foilAuditMembershipKey(i < 0 ? NULL : &a->privacy.attacks[i], foilAuditMembershipMeasures[w], key,
                                   sizeof key);
            if (foilAuditPrivacyValue(a, key, &v)) cJSON_AddItemToObject(o, key, number_or_null(v));
        }
    if (foilAuditPrivacyValue(a, FOIL_AUDIT_MEMBERSHIP_PREFIX "accuracy-gap", &v))
        cJSON_AddNumberToObject(o, FOIL_AUDIT_MEMBERSHIP_PREFIX "accuracy-gap", v);
    return o;
}

static cJSON *privacy_json(const FoilAudit *a, const FoilAuditContext *ctx)
{
    const FoilAuditPrivacy *p = &a->privacy;
    cJSON *o = cJSON_CreateObject(), *list = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "method", "threshold attacks");
    cJSON_AddNumberToObject(o, "seed", (double)a->config.seed);
    cJSON *members = drawn_json(p->member_data, p->member_split, p->member_index, p->n, p->member_sha256);
    cJSON_AddBoolToObject(members, "assumed", p->assumed);
    cJSON_AddItemToObject(o, "members", members);
    cJSON *others = drawn_json(ctx->data, ctx->split, p->non_member_index, p->n, p->non_member_sha256);
    cJSON_AddNumberToObject(others, "duplicates_left_out", (double)p->duplicates);
    cJSON_AddItemToObject(o, "non_members", others);
    cJSON *accuracy = cJSON_AddObjectToObject(o, "accuracy");
    cJSON_AddItemToObject(accuracy, "members", figure_json(&p->member_accuracy));
    cJSON_AddItemToObject(accuracy, "non_members", figure_json(&p->non_member_accuracy));
    cJSON_AddNumberToObject(accuracy, "gap", p->member_accuracy.value - p->non_member_accuracy.value);
    for (int i = 0; i < p->n_attacks; i++) cJSON_AddItemToArray(list, membership_attack_json(&p->attacks[i]));
    cJSON_AddItemToObject(o, "attacks", list);
    cJSON_AddItemToObject(o, "figures", membership_figures_json(a));
    cJSON_AddStringToObject(o, "lira", "not run: these threshold attacks need no shadow models and bound the leakage "
                            "from below; foil infer runs LiRA (Carlini et al. 2022), which trains shadow models and "
                            "finds more at low false-positive rates");
    cJSON_AddNumberToObject(o, "seconds", p->seconds);
    return o;
}

static cJSON *requirements_json(const FoilAuditContext *ctx)
{
    cJSON *list = cJSON_CreateArray();
    for (int i = 0; i < ctx->n_requirements; i++) {
        const FoilAuditRequirement *r = &ctx->requirements[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "requirement", r->text);
        cJSON_AddStringToObject(o, "figure", r->key);
        cJSON_AddStringToObject(o, "op", r->at_least ? ">=" : "<=");
        cJSON_AddNumberToObject(o, "threshold", r->threshold);
        cJSON_AddBoolToObject(o, "confident", r->confident);
        cJSON_AddBoolToObject(o, "found", r->found);
        cJSON_AddItemToObject(o, "value", number_or_null(r->used));
        cJSON_AddBoolToObject(o, "passed", r->passed);
        cJSON_AddItemToArray(list, o);
    }
    return list;
}

cJSON *foilReportAuditJson(const FoilAudit *a, const FoilAuditContext *ctx)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "schema", FOIL_AUDIT_SCHEMA);
    cJSON_AddStringToObject(o, "foil_version", ctx->version);
    cJSON *model = cJSON_AddObjectToObject(o, "model");
    cJSON_AddStringToObject(model, "name", ctx->model);
    cJSON_AddStringToObject(model, "kind", ctx->model_kind);
    cJSON *data = cJSON_AddObjectToObject(o, "data");
    cJSON_AddStringToObject(data, "name", ctx->data);
    cJSON_AddStringToObject(data, "split", ctx->split);
    cJSON_AddNumberToObject(data, "examples", (double)a->config.examples);
    cJSON_AddNumberToObject(data, "classes", (double)a->classes);
    cJSON_AddNumberToObject(data, "seed", (double)a->config.seed);
    cJSON_AddStringToObject(o, "profile", a->profile_name);
    if (a->defense) {
        cJSON *def = cJSON_AddObjectToObject(o, "defense");
        cJSON_AddStringToObject(def, "preprocess", a->defense);
        cJSON_AddNumberToObject(def, "gradient_masking", a->gradient_masking);
    } else {
        cJSON_AddNullToObject(o, "defense");
    }
    cJSON_AddNumberToObject(o, "seconds", a->seconds);
    cJSON *figures = cJSON_AddObjectToObject(o, "figures");
    cJSON_AddItemToObject(figures, "clean", figure_json(&a->clean));
    char key[96];
    for (int i = 0; i < a->n_worst; i++) {
        foilAuditWorstKey(&a->worst[i], key, sizeof key);
        cJSON_AddItemToObject(figures, key, figure_json(&a->worst[i].robust));
    }
    for (int i = 0; i < a->n_runs; i++) {
        foilAuditRunKey(&a->runs[i], key, sizeof key);
        cJSON_AddItemToObject(figures, key, figure_json(&a->runs[i].robust));
    }
    for (int i = 0; i < a->n_verified; i++) {
        foilAuditVerifiedKey(&a->verified[i], key, sizeof key);
        cJSON_AddItemToObject(figures, key, figure_json(&a->verified[i].verified));
    }
    cJSON *runs = cJSON_AddArrayToObject(o, "runs");
    for (int i = 0; i < a->n_runs; i++) cJSON_AddItemToArray(runs, run_json(&a->runs[i]));
    if (a->headline >= 0) {
        cJSON *pc = cJSON_AddObjectToObject(o, "per_class");
        foilAuditWorstKey(&a->worst[a->headline], key, sizeof key);
        cJSON_AddStringToObject(pc, "robust_figure", key);
        cJSON_AddItemToObject(pc, "classes", per_class_json(a, ctx));
    }
    if (a->n_examples) cJSON_AddItemToObject(o, "examples", examples_json(a));
    cJSON_AddItemToObject(o, "detection", a->n_detectors ? detection_json(a) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "verification", a->n_verified ? verification_json(a) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "backdoor", a->backdoor.ran ? backdoor_json(a) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "privacy", a->privacy.ran ? privacy_json(a, ctx) : cJSON_CreateNull());
    cJSON *skipped = cJSON_AddArrayToObject(o, "skipped");
    for (int i = 0; i < a->n_skipped; i++) cJSON_AddItemToArray(skipped, cJSON_CreateString(a->skipped[i]));
    cJSON_AddItemToObject(o, "requirements", requirements_json(ctx));
    cJSON_AddBoolToObject(o, "passed", ctx->failed == 0);
    return o;
}
