/*
 * eval/audit_privacy.c - the audit's privacy section (eval/audit.h):
 * membership inference against the audited model, measured as Carlini et
 * al. 2022 ask (the ROC curve on log axes, its AUC, and the true-positive
 * rate at 0.1% and 1% false positives) on a balanced set of members and
 * non-members drawn from the audit's seed.
 *
 * Only the threshold attacks run here (foil/infer.h: loss, confidence,
 * entropy, modified-entropy; gap for a model that answers with labels):
 * one query per example, no shadow models. They are a lower bound on what
 * the model leaks. LiRA, which compares each example's score with its
 * distribution over shadow models trained with and without it, finds far
 * more at low false-positive rates on an overfit model and costs the
 * training of those models: `foil infer` runs it.
 *
 * The draw is written down whole (indices, and a SHA-256 of each drawn
 * set's examples so that a reader can check they loaded the same data),
 * and an example of the audited data identical to a member is never drawn
 * as a non-member: the model has seen it (Fashion-MNIST's test split
 * repeats a few training images).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "eval/audit.h"
#include "foil/progress.h"
#include "foil/rng.h"

/* The draws' RNG streams: apart from the sample's (audit.c) and each other. */
enum { MEMBER_STREAM = 0x9e3b1, NON_MEMBER_STREAM = 0x9e3b2 };

static const char *why_not(const FoilAudit *a, const foil_dataset *d)
{
    const FoilAuditConfig *c = &a->config;
    if (c->no_privacy) return "membership inference (privacy): turned off (--no-privacy)";
    if (!c->members)
        return c->privacy_why_not ? c->privacy_why_not
                                  : "membership inference (privacy): the audit does not know which examples the model "
                                    "trained on; give them with --members (or turn the section off with --no-privacy)";
    if (c->members->classes != d->classes || foil_dataset_example_size(c->members) != foil_dataset_example_size(d))
        return "membership inference (privacy): the members' data do not have the audited data's example size and "
               "classes";
    return NULL;
}

/* ---- the draw ---- */

static uint64_t example_hash(const float *x, int64_t f)
{
    uint64_t h = 0x6a09e667f3bcc908ull;
    for (int64_t j = 0; j < f; j++) {
        uint32_t bits;
        memcpy(&bits, &x[j], sizeof bits);
        h = foil_mix64(h ^ bits);
    }
    return h;
}

typedef struct hashed {
    uint64_t hash;
    int64_t index;
} hashed;

static int compare_hashed(const void *p, const void *q)
{
    const hashed *a = p, *b = q;
    return (a->hash > b->hash) - (a->hash < b->hash);
}

/* eligible[i] = 0 for each example of d whose values equal a member's
 * (a hash match, confirmed value by value); *duplicates counts them. */
static foil_status mark_duplicates(const foil_dataset *members, const foil_dataset *d, uint8_t *eligible,
                                   int64_t *duplicates)
{
    const int64_t nm = members->x.shape[0], nd = d->x.shape[0], f = foil_dataset_example_size(d);
    hashed *table = malloc((size_t)(nm ? nm : 1) * sizeof *table);
    if (!table) return foil_error(FOIL_ERR_NOMEM, "audit: out of memory comparing members with non-members");
    const float *xm = foil_f32(&members->x), *xd = foil_f32(&d->x);
    for (int64_t i = 0; i < nm; i++) table[i] = (hashed){example_hash(xm + i * f, f), i};
    qsort(table, (size_t)nm, sizeof *table, compare_hashed);
    *duplicates = 0;
    for (int64_t i = 0; i < nd; i++) {
        hashed key = {example_hash(xd + i * f, f), 0};
        const hashed *hit = bsearch(&key, table, (size_t)nm, sizeof *table, compare_hashed);
        /* bsearch lands on any of equal hashes: walk back to the first */
        while (hit && hit > table && hit[-1].hash == key.hash) hit--;
        eligible[i] = 1;
        for (; hit && hit < table + nm && hit->hash == key.hash && eligible[i]; hit++)
            if (memcmp(xm + hit->index * f, xd + i * f, (size_t)f * sizeof(float)) == 0) eligible[i] = 0;
        *duplicates += !eligible[i];
    }
    free(table);
    return FOIL_OK;
}

/* n of the `total` examples whose eligible[] is 1 (NULL: all), each subset
 * equally likely, in ascending order: selection sampling (Knuth, TAOCP
 * vol. 2, 3.4.2, Algorithm S), as the audit's sample is drawn. */
static void draw(int64_t total, const uint8_t *eligible, int64_t available, int64_t n, uint64_t seed,
                 uint64_t stream, int64_t *index)
{
    foil_rng rng = foil_rng_make(seed, stream);
    for (int64_t i = 0, seen = 0, taken = 0; taken < n && i < total; i++) {
        if (eligible && !eligible[i]) continue;
        if (foil_rng_uniform_d(&rng) * (double)(available - seen++) < (double)(n - taken)) index[taken++] = i;
    }
}

/* SHA-256 of the drawn examples, each one's values then its label, as hex. */
static void drawn_sha256(const foil_dataset *s, char hex[65])
{
    crypto_hash_sha256_state h;
    unsigned char digest[crypto_hash_sha256_BYTES];
    const int64_t f = foil_dataset_example_size(s);
    crypto_hash_sha256_init(&h);
    for (int64_t i = 0; i < s->x.shape[0]; i++) {
        crypto_hash_sha256_update(&h, (const unsigned char *)(foil_f32(&s->x) + i * f), (size_t)f * sizeof(float));
        crypto_hash_sha256_update(&h, (const unsigned char *)(foil_i64(&s->y) + i), sizeof(int64_t));
    }
    crypto_hash_sha256_final(&h, digest);
    sodium_bin2hex(hex, 65, digest, sizeof digest);
}

/* ---- the attacks ---- */

/* The model's answers on s as logits (log p for probabilities), and its
 * accuracy there. */
static foil_status answers(foil_model *model, const foil_dataset *s, float *logits, FoilAuditFigure *accuracy)
{
    foil_tensor out = {0};
    const int64_t n = s->x.shape[0], classes = s->classes;
    foil_status st = foil_model_predict(model, &s->x, &out);
    if (!st && out.numel != n * classes)
        st = foil_error(FOIL_ERR_SHAPE, "audit: membership inference: the model gives %lld scores per example, "
                        "not one for each of %lld classes", (long long)(out.numel / n), (long long)classes);
    if (st) {
        foil_tensor_free(&out);
        return foil_error_prefix(st, "audit: membership inference on %s", s->name);
    }
    memcpy(logits, out.data, (size_t)(n * classes) * sizeof(float));
    foil_tensor_free(&out);
    foil_scores_as_logits(foil_model_capabilities(model), logits, n * classes);
    int64_t right = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *z = logits + i * classes;
        int64_t top = 0;
        for (int64_t c = 1; c < classes; c++) top = z[c] > z[top] ? c : top;
        right += top == foil_i64(&s->y)[i];
    }
    *accuracy = foilAuditFigure(right, n);
    return FOIL_OK;
}

/* The ROC curve at FPRs growing by a constant factor from 1/n to 1, each
 * point the rates a threshold achieves, a point the same as the one
 * before left out (at most FOIL_AUDIT_MAX_ROC). */
static void roc_points(const float *in, const float *out, int64_t n, FoilAuditMembership *r)
{
    const double factor = fmax(1.25, pow((double)n, 1.0 / (FOIL_AUDIT_MAX_ROC - 2)));
    r->n_roc = 0;
    for (double fpr = 1.0 / (double)n; r->n_roc < FOIL_AUDIT_MAX_ROC; fpr *= factor) {
        const float t = foil_threshold_at_fpr(out, n, fmin(fpr, 1));
        const double x = foil_rate_above(out, n, t), y = foil_rate_above(in, n, t);
        const int k = r->n_roc;
        if (k == 0 || x != r->roc_fpr[k - 1] || y != r->roc_tpr[k - 1]) r->roc_fpr[k] = x, r->roc_tpr[r->n_roc++] = y;
        if (fpr >= 1) break;
    }
}

/* One attack's figures from the members' scores `in` and the others' `out`
 * (n each; sorted on return). */
static void figures(FoilAuditMembership *r, float *in, float *out, int64_t n)
{
    r->auc = foil_roc_auc(out, n, in, n);
    r->tpr_01 = foil_rate_above(in, n, foil_threshold_at_fpr(out, n, 0.001));
    r->tpr_1 = foil_rate_above(in, n, foil_threshold_at_fpr(out, n, 0.01));
    roc_points(in, out, n, r);
    r->balanced_accuracy = foil_best_balanced_accuracy(in, n, out, n);
}

/* Every attack the model's answers allow, scored on both drawn sets. */
static foil_status attack_all(FoilAudit *a, int labels_only, const float *logits_in, const float *logits_out,
                              const int64_t *y_in, const int64_t *y_out)
{
    FoilAuditPrivacy *p = &a->privacy;
    const int64_t n = p->n;
    float *in = malloc((size_t)n * sizeof *in), *out = malloc((size_t)n * sizeof *out);
    foil_status st = in && out ? FOIL_OK : foil_error(FOIL_ERR_NOMEM, "audit: out of memory for membership scores");
    static const foil_membership_attack scored[] = {FOIL_MI_LOSS, FOIL_MI_CONFIDENCE, FOIL_MI_ENTROPY,
                                                    FOIL_MI_MODIFIED_ENTROPY};
    const foil_membership_attack *list = labels_only ? (const foil_membership_attack[]){FOIL_MI_GAP} : scored;
    const int count = labels_only ? 1 : (int)(sizeof scored / sizeof *scored);
    for (int k = 0; k < count && !st; k++) {
        st = foil_membership_scores(list[k], logits_in, y_in, n, a->classes, in);
        if (!st) st = foil_membership_scores(list[k], logits_out, y_out, n, a->classes, out);
        if (st) break;
        FoilAuditMembership *r = &p->attacks[p->n_attacks++];
        r->attack = list[k];
        figures(r, in, out, n);
    }
    free(in), free(out);
    return st;
}

/* Both drawn sets as datasets, their hashes, the model's answers on them, and the attacks. */
static foil_status measure(FoilAudit *a, foil_model *model, const foil_dataset *members, const foil_dataset *d)
{
    FoilAuditPrivacy *p = &a->privacy;
    foil_dataset in = {0}, out = {0};
    const int64_t n = p->n;
    float *logits_in = malloc((size_t)(n * a->classes) * sizeof *logits_in),
          *logits_out = malloc((size_t)(n * a->classes) * sizeof *logits_out);
    foil_status st = logits_in && logits_out ? FOIL_OK
                                             : foil_error(FOIL_ERR_NOMEM, "audit: out of memory for membership inference");
    if (!st) st = foil_dataset_select(&in, members, p->member_index, n);
    if (!st) st = foil_dataset_select(&out, d, p->non_member_index, n);
    if (!st) {
        drawn_sha256(&in, p->member_sha256);
        drawn_sha256(&out, p->non_member_sha256);
        st = answers(model, &in, logits_in, &p->member_accuracy);
    }
    if (!st) st = answers(model, &out, logits_out, &p->non_member_accuracy);
    const int labels_only = !(foil_model_capabilities(model) & FOIL_MODEL_SCORES);
    if (!st) st = attack_all(a, labels_only, logits_in, logits_out, foil_i64(&in.y), foil_i64(&out.y));
    free(logits_in), free(logits_out);
    foil_dataset_free(&in), foil_dataset_free(&out);
    return st;
}

foil_status foilAuditPrivacy(FoilAudit *a, const FoilAuditModels *m, const foil_dataset *d)
{
    const char *why = why_not(a, d);
    if (why) {
        foilAuditSkip(a, why);
        return FOIL_OK;
    }
    if (sodium_init() < 0) return foil_error(FOIL_ERR_IO, "audit: libsodium failed to initialize");
    FoilAuditPrivacy *p = &a->privacy;
    const foil_dataset *members = a->config.members;
    const double start = foil_now();
    snprintf(p->member_data, sizeof p->member_data, "%s", members->name);
    p->member_split = a->config.members_split ? a->config.members_split : "all";
    p->assumed = a->config.members_assumed;
    const int64_t nm = members->x.shape[0], nd = d->x.shape[0];
    uint8_t *eligible = malloc((size_t)(nd ? nd : 1));
    if (!eligible) return foil_error(FOIL_ERR_NOMEM, "audit: out of memory for membership inference");
    foil_status st = mark_duplicates(members, d, eligible, &p->duplicates);
    const int64_t want = a->config.privacy_examples > 0 ? a->config.privacy_examples : FOIL_AUDIT_PRIVACY_EXAMPLES;
    p->n = want < nm ? want : nm;
    if (nd - p->duplicates < p->n) p->n = nd - p->duplicates;
    if (!st && p->n < 1) {
        foilAuditSkip(a, "membership inference (privacy): the audited data hold no example that is not also a "
                      "member");
        free(eligible);
        return FOIL_OK;
    }
    p->member_index = malloc((size_t)(p->n ? p->n : 1) * sizeof *p->member_index);
    p->non_member_index = malloc((size_t)(p->n ? p->n : 1) * sizeof *p->non_member_index);
    if (!st && (!p->member_index || !p->non_member_index))
        st = foil_error(FOIL_ERR_NOMEM, "audit: out of memory for membership inference");
    if (!st) {
        if (!a->config.quiet)
            fprintf(stderr, "foil audit: membership inference on %lld members and %lld non-members\n",
                    (long long)p->n, (long long)p->n);
        draw(nm, NULL, nm, p->n, a->config.seed, MEMBER_STREAM, p->member_index);
        draw(nd, eligible, nd - p->duplicates, p->n, a->config.seed, NON_MEMBER_STREAM, p->non_member_index);
        st = measure(a, m->model, members, d);
    }
    free(eligible);
    p->ran = !st;
    p->seconds = foil_now() - start;
    return st;
}

void foilAuditFreePrivacy(FoilAudit *a)
{
    free(a->privacy.member_index);
    free(a->privacy.non_member_index);
    a->privacy.member_index = a->privacy.non_member_index = NULL;
}

/* ---- figures by key ---- */

const char *const foilAuditMembershipMeasures[FOIL_AUDIT_MEMBERSHIP_MEASURES] = {"auc", "tpr@0.1%fpr", "tpr@1%fpr"};

void foilAuditMembershipKey(const FoilAuditMembership *attack, const char *what, char *buf, size_t size)
{
    snprintf(buf, size, FOIL_AUDIT_MEMBERSHIP_PREFIX "%s%s%s", attack ? foil_membership_attack_name(attack->attack) : "",
             attack ? "-" : "", what);
}

static double membership_value(const FoilAuditMembership *r, int what)
{
    return what == 0 ? r->auc : what == 1 ? r->tpr_01 : r->tpr_1;
}

int foilAuditPrivacyValue(const FoilAudit *a, const char *key, double *v)
{
    const char *const *what = foilAuditMembershipMeasures;
    const FoilAuditPrivacy *p = &a->privacy;
    char k[96];
    if (!p->ran) return 0;
    if (strcmp(key, FOIL_AUDIT_MEMBERSHIP_PREFIX "accuracy-gap") == 0) {
        *v = p->member_accuracy.value - p->non_member_accuracy.value;
        return 1;
    }
    for (int w = 0; w < FOIL_AUDIT_MEMBERSHIP_MEASURES; w++) {
        foilAuditMembershipKey(NULL, what[w], k, sizeof k);
        if (strcmp(key, k) == 0) {
            *v = 0; /* the largest over the attacks: the strongest one is the leak */
            for (int i = 0; i < p->n_attacks; i++) *v = fmax(*v, membership_value(&p->attacks[i], w));
            return 1;
        }
        for (int i = 0; i < p->n_attacks; i++) {
            foilAuditMembershipKey(&p->attacks[i], what[w], k, sizeof k);
            if (strcmp(key, k) == 0) {
                *v = membership_value(&p->attacks[i], w);
                return 1;
            }
        }
    }
    return 0;
}
