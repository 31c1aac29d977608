/*
 * eval/audit.h - `foil audit`: one repeatable robustness check of a model
 * on a seeded sample of its test data. A profile fixes the sample size and
 * the budgets; the audit runs clean evaluation, white-box sweeps over eps
 * (FGSM, PGD, APGD-CE, APGD-DLR; Linf, and L2 for images), one score-based
 * (Square) and one decision-based (HopSkipJump) attack, and keeps every
 * figure with its 95% confidence interval, so that a gate (requirements) or
 * a comparison can tell a real change from the sample's noise.
 *
 * A model that answers queries only (a remote endpoint) gets the black-box
 * attacks alone, and the report says which stages it skipped and why.
 *
 * For a white-box image model the audit also looks for a backdoor (Neural
 * Cleanse on the sample's first images, foil/scan.h): the smallest trigger
 * that sends the images to each class, and the class whose trigger is far
 * smaller than the others' (anomaly index above 2). STRIP then checks the
 * recovered trigger of that class (or, when none stands out, the smallest
 * one): a real backdoor's trigger keeps the model's answer when the image
 * is blended with others, a merely small adversarial patch does not.
 *
 * Where the audit knows which examples the model trained on, it also
 * measures what the model gives away about them (audit_privacy.c):
 * membership inference by the threshold attacks that need no shadow
 * models (foil/infer.h), on a balanced, seeded draw of members and
 * non-members whose indices the report writes down.
 *
 * A declared preprocessing defense is attacked twice (Athalye, Carlini and
 * Wagner 2018; Tramer et al. 2020): as given, as an attacker unaware of it
 * sees it, and adaptively (BPDA through the preprocessors, EOT when they are
 * randomized); the worst case at each eps takes both, and an adaptive attack
 * that finds more than 5 points less robust accuracy is flagged as the
 * defense's gradient masking.
 */
#ifndef FOIL_AUDIT_H
#define FOIL_AUDIT_H

#include <stdint.h>

#include "eval/detection_row.h"
#include "foil/data.h"
#include "foil/eval.h"
#include "foil/evasion.h"
#include "foil/infer.h"
#include "foil/model.h"
#include "foil/scan.h"

typedef enum { FOIL_AUDIT_QUICK = 0, FOIL_AUDIT_STANDARD, FOIL_AUDIT_THOROUGH } FoilAuditProfile;

enum { FOIL_AUDIT_MAX_EPS = 8, FOIL_AUDIT_MAX_RUNS = 128, FOIL_AUDIT_MAX_SKIPPED = 12, FOIL_AUDIT_MAX_EXAMPLES = 10 };
enum { FOIL_AUDIT_MAX_DETECTORS = 4, FOIL_AUDIT_MAX_DETECTIONS = 64 };

/* Integrated gradients' steps: the path integral as a midpoint Riemann sum
 * of this many gradients (Sundararajan, Taly and Yan 2017 suggest 20 to
 * 300; the completeness gap in the report says whether it was enough). */
enum { FOIL_AUDIT_IG_STEPS = 64 };

/* An accuracy measured on n examples, k of them right, with its Wilson
 * score interval at 95%. */
typedef struct FoilAuditFigure {
    int64_t k, n;
    double value, low, high;
} FoilAuditFigure;

/* One attack at one (norm, eps). */
typedef struct FoilAuditRun {
    const char *attack;          /* registry name (static) */
    const char *variant;         /* "" (or NULL) against the model as given; "+bpda" or "+bpda+eot": the adaptive
                                    attack on a declared defense (static) */
    foil_norm norm;
    double eps;
    int64_t steps, restarts, queries; /* as run; 0: not applicable */
    foil_evasion_summary summary;
    FoilAuditFigure robust;
    char warnings[1024];
} FoilAuditRun;

/* The worst case over every attack run at one (norm, eps): an example
 * counts as robust only when no attack fooled it. */
typedef struct FoilAuditWorst {
    foil_norm norm;
    double eps;
    FoilAuditFigure robust;
    int attacks;                 /* how many attacks it combines */
} FoilAuditWorst;

/* Integrated gradients of one class's softmax probability F at x, from the
 * baseline x' (the data's lower bound: a black image):
 * IG_i = (x_i - x'_i) * mean over the path of dF/dx_i. By completeness the
 * attributions sum to F(x) - F(x'); gap is how far they miss, as a share of
 * that difference (the paper checks it is within 5%). */
typedef struct FoilAuditSaliency {
    int64_t target;              /* the class explained */
    float *attribution;          /* one per feature */
    double gap;
} FoilAuditSaliency;

/* One example of the report's grid: a correctly classified image of the
 * sample and what the attacks at the headline eps made of it. */
typedef struct FoilAuditExample {
    int64_t index;               /* in the sample */
    int64_t label, clean_pred, adv_pred;
    double clean_confidence, adv_confidence; /* softmax probability of the predicted class */
    const char *attack;          /* the first attack that fooled it (static); NULL: none did, adv is x */
    double distance;             /* ||adv - x|| in Linf */
    float *clean, *adv;          /* one example each, as the model takes it */
    FoilAuditSaliency saliency_clean, saliency_adv; /* attribution NULL: the model gives no gradients */
} FoilAuditExample;

/* A detector the audit was given, calibrated on the clean sample: its
 * threshold flags at most the audit's detector_fpr of it. */
typedef struct FoilAuditDetector {
    const char *name;            /* "squeeze", "max-softmax", ... (static) */
    float threshold;
    float *clean_scores;         /* one per example of the sample */
    int adaptive_gap;            /* 1: the attacker who knows it got > 5 points more examples through */
} FoilAuditDetector;

/* One detector against one attack's adversarial examples at the headline
 * eps, the clean sample the negatives. */
typedef struct FoilAuditDetection {
    int detector;                /* index into detectors[] */
    FoilDetectionRow row;        /* attack: the run's, or "orthogonal+selective" */
} FoilAuditDetection;

/* Verified robust accuracy at one Linf eps (foil/verify.h: CROWN, never
 * looser than IBP) on the first `verified.n` examples of the sample: the
 * share whose every input in the eps box keeps the label's class. */
typedef struct FoilAuditVerified {
    double eps;
    FoilAuditFigure verified;
    double seconds;
} FoilAuditVerified;

/* STRIP on the recovered trigger of one class: clean images of the sample
 * (not of that class) and the same images stamped with the trigger,
 * (1 - m) x + m p, each blended with `overlays` other images of the sample;
 * the entropy threshold flags at most 5% of the clean ones. */
typedef struct FoilAuditStrip {
    int64_t images, overlays;    /* images: 0 when not run */
    double fpr;                  /* the clean images flagged (at most the 5% asked) */
    FoilAuditFigure tpr;         /* the stamped images flagged, of `images`, with its interval */
    double threshold_bits;       /* flagged: mean entropy below it */
    double success;              /* the stamped images the model sends to the class */
} FoilAuditStrip;

/* The backdoor scan (audit_backdoor.c). */
typedef struct FoilAuditBackdoor {
    int ran;                     /* 0: not run (skipped[] says why) */
    int64_t images, steps;       /* Neural Cleanse's images (the sample's first) and Adam steps per class */
    foil_cleanse_result cleanse; /* per class: mask norm, success, anomaly index; the flagged class; masks, patterns */
    int64_t shown;               /* the class whose trigger the report shows and STRIP checks: the one with the
                                    smallest mask (the flagged one, when a class is flagged: the smallest mask has the
                                    largest anomaly index below the median); -1 when no trigger reached the target */
    float *stamped;              /* that trigger on one clean image of the sample (another class's) */
    int64_t stamped_index, stamped_label, stamped_pred; /* its place in the sample, its label, the model's answer */
    FoilAuditStrip strip;
    double seconds;
} FoilAuditBackdoor;

/* One membership inference attack against the audited model: how well its
 * score tells the drawn members from the drawn non-members. */
enum { FOIL_AUDIT_MAX_ROC = 48 };
typedef struct FoilAuditMembership {
    foil_membership_attack attack;
    double auc;                  /* ROC AUC, ties counting one half */
    double tpr_01, tpr_1;        /* members flagged at a threshold flagging at most 0.1% and 1% of the non-members */
    double balanced_accuracy;    /* the best over thresholds, (TPR + 1 - FPR) / 2 */
    int n_roc;                   /* the ROC curve at log-spaced FPRs from 1 / non-members to 1 */
    double roc_fpr[FOIL_AUDIT_MAX_ROC], roc_tpr[FOIL_AUDIT_MAX_ROC];
} FoilAuditMembership;

/* Members drawn by default, and as many non-members. */
enum { FOIL_AUDIT_PRIVACY_EXAMPLES = 1000 };

/* The privacy section (audit_privacy.c). */
typedef struct FoilAuditPrivacy {
    int ran;                     /* 0: not run (skipped[] says why) */
    int64_t n;                   /* members drawn, and as many non-members */
    int64_t *member_index;       /* n, ascending: in the members' data */
    int64_t *non_member_index;   /* n, ascending: in the audit's data */
    char member_sha256[65], non_member_sha256[65]; /* of the drawn examples (see foilAuditPrivacy) */
    int64_t duplicates;          /* examples of the audit's data identical to a member, left out of the draw */
    char member_data[64];        /* the members' dataset (its name) */
    const char *member_split;    /* as config.members_split */
    int assumed;                 /* as config.members_assumed */
    FoilAuditFigure member_accuracy, non_member_accuracy;
    FoilAuditMembership attacks[FOIL_MI_COUNT];
    int n_attacks;
    double seconds;
} FoilAuditPrivacy;

/* Neural Cleanse's flag: a class whose anomaly index exceeds this (Wang et al. 2019). */
#define FOIL_AUDIT_ANOMALY_THRESHOLD 2.0

typedef struct FoilAuditConfig {
    FoilAuditProfile profile;
    int64_t examples;            /* 0: the profile's sample size */
    uint64_t seed;
    int64_t batch;               /* examples attacked together (0: 250) */
    int64_t queries;             /* black-box query budget per example (0: the profile's) */
    int quiet;
    /* eps lists; n 0: the profile's, in units of the data's range for images */
    int n_eps_linf, n_eps_l2;
    double eps_linf[FOIL_AUDIT_MAX_EPS], eps_l2[FOIL_AUDIT_MAX_EPS];
    int no_backdoor_scan;        /* 1: skip the backdoor scan */
    int64_t backdoor_steps;      /* Neural Cleanse's Adam steps per class (0: 1200, the library's default; fewer
                                    give noisier mask norms and false anomalies) */
    /* membership inference: members from `members`, non-members from the audited data */
    int no_privacy;              /* 1: skip it */
    int64_t privacy_examples;    /* members drawn, and as many non-members (0: FOIL_AUDIT_PRIVACY_EXAMPLES) */
    const foil_dataset *members; /* examples the model trained on; NULL: not known (the report says so) */
    const char *members_split;   /* for the report: the split they came from ("train"; "all" for a whole file) */
    int members_assumed;         /* 1: not given but assumed (a built-in dataset's training split); the report says */
    const char *privacy_why_not; /* static text: why members are NULL, when the caller knows (NULL: not known) */
} FoilAuditConfig;

typedef struct FoilAudit {
    FoilAuditConfig config;      /* as resolved: sample size and eps lists filled in */
    const char *profile_name;
    int64_t classes;
    FoilAuditFigure clean;
    double *clean_per_class;     /* classes entries (NaN: no example of the class in the sample) */
    double *robust_per_class;    /* at the headline (worst Linf at the middle eps), same layout */
    int headline;                /* index into worst[] the per-class figures are at; -1: none */
    FoilAuditRun runs[FOIL_AUDIT_MAX_RUNS];
    int n_runs;
    FoilAuditWorst worst[2 * FOIL_AUDIT_MAX_EPS];
    int n_worst;
    FoilAuditExample examples[FOIL_AUDIT_MAX_EXAMPLES]; /* images only: one per class while classes last */
    int n_examples;
    int64_t image_shape[3];      /* C, H, W of the examples (images) */
    float *lower, *upper;        /* the data's per-feature bounds (copies), for drawing the examples */
    FoilAuditDetector detectors[FOIL_AUDIT_MAX_DETECTORS];
    int n_detectors;
    double detector_fpr;
    FoilAuditDetection detections[FOIL_AUDIT_MAX_DETECTIONS];
    int n_detections;
    FoilAuditVerified verified[FOIL_AUDIT_MAX_EPS]; /* increasing eps, up to the first that verifies none */
    int n_verified;
    FoilAuditBackdoor backdoor;
    FoilAuditPrivacy privacy;
    const char *defense;         /* the declared preprocessing (as given), NULL: none */
    int gradient_masking;        /* (attack, eps) pairs where the adaptive attack left > 5 points less */
    const char *skipped[FOIL_AUDIT_MAX_SKIPPED]; /* stages not run, with why (static text) */
    int n_skipped;
    double seconds;
} FoilAudit;

/* "quick", "standard", "thorough"; -1 for anything else. */
int foilAuditProfileParse(const char *name);
const char *foilAuditProfileName(FoilAuditProfile p);

/* The model audited, and when it sits behind a declared preprocessing
 * defense the adaptive attacker's view of it (foil_model_defended with
 * BPDA, inside foil_model_eot when randomized). */
typedef struct FoilAuditModels {
    foil_model *model;
    foil_model *adaptive;        /* NULL: no declared defense */
    const char *defense;         /* the defense as declared ("squeeze:bits=4,median:3"), for the report */
    const char *adaptive_tag;    /* "+bpda" or "+bpda+eot" */
    struct foil_detector *const *detectors; /* detectors on model (foil/detect.h), scored at the headline eps */
    int n_detectors;
    double detector_fpr;         /* false-positive rate their thresholds allow on the clean sample (0: 0.05) */
    int64_t detector_steps;      /* steps of the attack that evades each detector (0: 100) */
} FoilAuditModels;

/* Audit the models on a seeded sample of d (config->examples of its
 * examples). Fills *out; free with foilAuditFree. */
foil_status foilAuditRun(const FoilAuditModels *models, const foil_dataset *d, const FoilAuditConfig *config,
                         FoilAudit *out);
void foilAuditFree(FoilAudit *a);

/* Note a stage not run, and why (static text), in the report. */
void foilAuditSkip(FoilAudit *a, const char *why);

/* audit_verify.c: the verified accuracy stage on the first `examples` of
 * the sample x, y (skipped, with why, for a model the verifier cannot
 * compile or one behind a declared defense). */
foil_status foilAuditVerify(FoilAudit *a, const FoilAuditModels *m, const foil_dataset *d, const foil_tensor *x,
                            const int64_t *y, int64_t examples);

/* audit_backdoor.c: the backdoor scan on the first `images` of the sample
 * x, y (skipped, with why, when config asks, for a model without
 * gradients or behind a declared defense, and for data that are not
 * images); seeded by the audit's seed. */
foil_status foilAuditBackdoorScan(FoilAudit *a, const FoilAuditModels *m, const foil_dataset *d, const foil_tensor *x,
                                  const int64_t *y, int64_t images);
void foilAuditFreeBackdoor(FoilAudit *a);

/* audit_privacy.c: membership inference against m->model as given, on
 * config.privacy_examples members drawn from config.members and as many
 * non-members drawn from the audited data d, both from the audit's seed
 * (skipped, with why, when config asks or the members are not known).
 * The attacks: loss, confidence, entropy and modified-entropy on a model
 * that returns scores, gap on one that returns labels only. An example of
 * d identical to a member is never drawn as a non-member. Each drawn set's
 * SHA-256 is taken over its examples in index order, each one's float32
 * values (native byte order) then its int64 label. */
foil_status foilAuditPrivacy(FoilAudit *a, const FoilAuditModels *m, const foil_dataset *d);
void foilAuditFreePrivacy(FoilAudit *a);

/* A membership figure by its key (FOIL_AUDIT_MEMBERSHIP_PREFIX...):
 * membership-auc, membership-tpr@0.1%fpr, membership-tpr@1%fpr (each the
 * largest over the attacks), membership-ATTACK-auc and so on for one
 * attack, membership-accuracy-gap (members' accuracy minus the
 * non-members'). 0 when the audit has no such figure. */
#define FOIL_AUDIT_MEMBERSHIP_PREFIX "membership-"
int foilAuditPrivacyValue(const FoilAudit *a, const char *key, double *v);
/* What each attack is measured by, as its keys end: "auc",
 * "tpr@0.1%fpr", "tpr@1%fpr". */
enum { FOIL_AUDIT_MEMBERSHIP_MEASURES = 3 };
extern const char *const foilAuditMembershipMeasures[FOIL_AUDIT_MEMBERSHIP_MEASURES];
/* The key of one attack's figure (attack NULL: the largest over the
 * attacks); what: one of foilAuditMembershipMeasures. */
void foilAuditMembershipKey(const FoilAuditMembership *attack, const char *what, char *buf, size_t size);

/* The Wilson score interval at 95% for k of n. */
FoilAuditFigure foilAuditFigure(int64_t k, int64_t n);

/* A figure by its key: "clean", "ATTACK-NORM@EPS" (a run: "pgd-linf@0.1"),
 * "worst-NORM@EPS", "verified-linf@EPS" or FOIL_AUDIT_STRIP_KEY. NULL when
 * the audit has no such figure. */
const FoilAuditFigure *foilAuditFind(const FoilAudit *a, const char *key);

/* STRIP's TPR on the smallest recovered trigger: a share with an interval,
 * like the accuracies, but one that a backdoor raises (gate it with <=). */
#define FOIL_AUDIT_STRIP_KEY "backdoor-strip-tpr"

/* The one figure that is not a share: Neural Cleanse's largest anomaly
 * index below the median, which --require gates as 'backdoor-anomaly<=2'.
 * It has no interval: a requirement on it is never `confident`. */
#define FOIL_AUDIT_BACKDOOR_KEY "backdoor-anomaly"
/* "verified-linf@EPS" */
void foilAuditVerifiedKey(const FoilAuditVerified *v, char *buf, size_t size);

/* A run's variant, "" for NULL. */
static inline const char *foilAuditRunVariant(const FoilAuditRun *r) { return r->variant ? r->variant : ""; }

/* The key of a run or worst case, as foilAuditFind takes it. */
void foilAuditRunKey(const FoilAuditRun *r, char *buf, size_t size);
void foilAuditWorstKey(const FoilAuditWorst *w, char *buf, size_t size);

/* A requirement, "KEY>=VALUE" or "KEY<=VALUE" (--require): VALUE in [0, 1]
 * for an accuracy, any VALUE >= 0 for the backdoor anomaly index. */
typedef struct FoilAuditRequirement {
    char text[96];
    char key[64];
    int at_least;                /* 1: >=, 0: <= */
    double threshold;
    int confident;               /* judge by the interval's end (low for >=, high for <=) */
    /* after foilAuditCheck */
    int found, passed;
    double used;                 /* the value judged */
} FoilAuditRequirement;

/* Parse one --require; FOIL_ERR_ARG with a message naming the text. */
foil_status foilAuditRequirementParse(const char *text, int confident, FoilAuditRequirement *req);
/* Judge each requirement against the audit; returns how many failed (a
 * figure the audit does not have fails). */
int foilAuditCheck(const FoilAudit *a, FoilAuditRequirement *reqs, int n);

/* --compare (audit_compare.c): two report.json files, figure by figure. */
enum { FOIL_AUDIT_MAX_CHANGES = 256 };

typedef struct FoilAuditChange {
    char key[96];
    FoilAuditFigure before, after;
    double delta, low, high;     /* after - before, and its 95% interval */
    int verdict;                 /* 1 better, -1 worse (the interval excludes 0), 0 within the noise */
} FoilAuditChange;

/* One report's backdoor scan, as --compare shows it beside the figures.
 * Its anomaly index has no interval, so no verdict is drawn from it: the
 * gate for it is --require 'backdoor-anomaly<=2'. */
typedef struct FoilAuditBackdoorSide {
    int present;                 /* 0: the report has no backdoor scan (skipped, or written before it existed) */
    double anomaly;              /* INFINITY where the report has null */
    int64_t flagged;             /* -1: none */
} FoilAuditBackdoorSide;

/* One report's privacy section, as --compare shows it beside the figures:
 * its headline membership figures, without a verdict (they have no
 * interval; --require gates them). */
enum { FOIL_AUDIT_PRIVACY_SHOWN = 4 };
extern const char *const foilAuditPrivacyShown[FOIL_AUDIT_PRIVACY_SHOWN]; /* membership-auc, ... -accuracy-gap */
typedef struct FoilAuditPrivacySide {
    int present;                 /* 0: the report has no privacy section */
    double value[FOIL_AUDIT_PRIVACY_SHOWN]; /* foilAuditPrivacyShown's figures; NaN where missing or null */
} FoilAuditPrivacySide;

typedef struct FoilAuditComparison {
    FoilAuditChange changes[FOIL_AUDIT_MAX_CHANGES]; /* the figures both reports hold, in the first's order */
    int n, better, worse;
    int only_before, only_after; /* figures one report holds and the other lacks */
    FoilAuditBackdoorSide backdoor_before, backdoor_after;
    FoilAuditPrivacySide privacy_before, privacy_after;
} FoilAuditComparison;

/* The change from one figure to another, with Newcombe's hybrid score
 * interval for a difference of proportions. */
FoilAuditChange foilAuditDifference(const FoilAuditFigure *before, const FoilAuditFigure *after);

/* Read two reports (schema foil-audit/1) and compare their figures; a file
 * that is not such a report is an error naming it. */
foil_status foilAuditCompare(const char *before_path, const char *after_path, FoilAuditComparison *out);

#endif
