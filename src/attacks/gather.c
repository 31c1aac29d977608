/*
 * attacks/gather.c - the shares of a split attack run gathered into the
 * one-process result on rank 0 (gather.h).
 */
#include <stdlib.h>
#include <string.h>

#include "attacks/gather.h"
#include "core/dist.h"

/* One example's scalar fields, as a rank sends them. */
typedef struct example_record {
    int64_t clean_pred, adv_pred, target, queries, grads;
    float norm, norm_l0;
    uint8_t attacked, success, zero_grad;
} example_record;

/* What each rank adds to the whole's totals. */
typedef struct rank_totals {
    int64_t fit_queries, fit_grads, fit_grad_examples, fit_zero_grads, model_queries, model_grads;
    double seconds;
    char warnings[sizeof(((foil_evasion_result *)0)->warnings)];
} rank_totals;

static foil_status alloc_whole(foil_evasion_result *r, const foil_tensor *x)
{
    memset(r, 0, sizeof *r);
    const size_t n = (size_t)x->shape[0];
    r->n = x->shape[0];
    foil_status st = foil_tensor_alloc(&r->adv, FOIL_F32, x->ndim, x->shape);
    r->clean_pred = malloc(n * sizeof *r->clean_pred);
    r->adv_pred = malloc(n * sizeof *r->adv_pred);
    r->target = malloc(n * sizeof *r->target);
    r->attacked = malloc(n);
    r->success = malloc(n);
    r->norm = malloc(n * sizeof *r->norm);
    r->norm_l0 = malloc(n * sizeof *r->norm_l0);
    r->queries = malloc(n * sizeof *r->queries);
    r->grads = malloc(n * sizeof *r->grads);
    r->zero_grad = malloc(n);
    if (!st && (!r->clean_pred || !r->adv_pred || !r->target || !r->attacked || !r->success || !r->norm ||
                !r->norm_l0 || !r->queries || !r->grads || !r->zero_grad))
        st = foil_error(FOIL_ERR_NOMEM, "out of memory for attack results of %lld examples", (long long)r->n);
    if (st) foil_evasion_result_free(r);
    return st;
}

/* Append each line of `lines` that `to` lacks, except `skip`. */
static void merge_lines(char *to, size_t cap, const char *lines, const char *skip)
{
    for (const char *p = lines; *p;) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int seen = skip && strlen(skip) == len && !strncmp(p, skip, len);
        for (const char *q = to; !seen && *q;) {
            const char *qe = strchr(q, '\n');
            size_t ql = qe ? (size_t)(qe - q) : strlen(q);
            seen = ql == len && !strncmp(p, q, len);
            q = qe ? qe + 1 : q + ql;
        }
        size_t used = strlen(to);
        if (!seen && len && used + len + 2 < cap) {
            if (used) to[used++] = '\n';
            memcpy(to + used, p, len);
            to[used + len] = 0;
        }
        p = end ? end + 1 : p + len;
    }
}

static void fill_records(const foil_evasion_result *part, example_record *rec)
{
    for (int64_t i = 0; i < part->n; i++)
        rec[i] = (example_record){part->clean_pred[i], part->adv_pred[i], part->target[i], part->queries[i],
                                  part->grads[i], part->norm[i], part->norm_l0[i], part->attacked[i],
                                  part->success[i], part->zero_grad[i]};
}

static void take_records(foil_evasion_result *r, const example_record *rec)
{
    for (int64_t i = 0; i < r->n; i++) {
        r->clean_pred[i] = rec[i].clean_pred;
        r->adv_pred[i] = rec[i].adv_pred;
        r->target[i] = rec[i].target;
        r->queries[i] = rec[i].queries;
        r->grads[i] = rec[i].grads;
        r->norm[i] = rec[i].norm;
        r->norm_l0[i] = rec[i].norm_l0;
        r->attacked[i] = rec[i].attacked;
        r->success[i] = rec[i].success;
        r->zero_grad[i] = rec[i].zero_grad;
    }
}

/* The whole's totals from every rank's, and its warnings. */
static void take_totals(const char *attack, foil_evasion_result *r, const rank_totals *t, int64_t ranks)
{
    r->fit_queries = t[0].fit_queries;
    r->fit_grads = t[0].fit_grads;
    r->fit_grad_examples = t[0].fit_grad_examples;
    r->fit_zero_grads = t[0].fit_zero_grads;
    for (int64_t k = 0; k < ranks; k++) {
        r->model_queries += t[k].model_queries - (k ? t[k].fit_queries : 0);
        r->model_grads += t[k].model_grads - (k ? t[k].fit_grads : 0);
        if (t[k].seconds > r->seconds) r->seconds = t[k].seconds;
    }
    /* every rank's lines once each (their own zero-gradient lines were left
     * out), then the whole's zero-gradient line, last as the runner puts it */
    r->warnings[0] = 0;
    for (int64_t k = 0; k < ranks; k++) merge_lines(r->warnings, sizeof r->warnings, t[k].warnings, NULL);
    char zero[1024];
    if (foilEvasionZeroGradientWarning(attack, r, zero, sizeof zero))
        merge_lines(r->warnings, sizeof r->warnings, zero, NULL);
}

foil_status foilEvasionGather(const char *attack, const foil_evasion_result *part, const foil_tensor *x,
                              foil_evasion_result *whole)
{
    memset(whole, 0, sizeof *whole);
    const int64_t d = x->shape[0] ? x->numel / x->shape[0] : 0;
    example_record *mine = malloc((size_t)(part->n ? part->n : 1) * sizeof *mine), *all_rec = NULL;
    rank_totals own = {part->fit_queries, part->fit_grads, part->fit_grad_examples, part->fit_zero_grads,
                       part->model_queries, part->model_grads, part->seconds, {0}},
                *all_totals = NULL;
    char zero[1024];
    int own_zero = foilEvasionZeroGradientWarning(attack, part, zero, sizeof zero);
    merge_lines(own.warnings, sizeof own.warnings, part->warnings, own_zero ? zero : NULL);
    float *all_adv = NULL;
    int64_t n_rec = 0, n_adv = 0, n_totals = 0;
    foil_status st = foilDistAgree(mine ? FOIL_OK : foil_error(FOIL_ERR_NOMEM, "out of memory"));
    if (!st) {
        fill_records(part, mine);
        st = foilDistGather(mine, part->n, sizeof *mine, (void **)&all_rec, &n_rec);
    }
    if (!st) st = foilDistGather(part->adv.data, part->n * d, sizeof(float), (void **)&all_adv, &n_adv);
    if (!st) st = foilDistGather(&own, 1, sizeof own, (void **)&all_totals, &n_totals);
    if (!st && foilDistRank() == 0) {
        if (n_rec != x->shape[0] || n_adv != x->numel)
            st = foil_error(FOIL_ERR_ARG, "%s: gathered %lld of %lld examples' results", attack, (long long)n_rec,
                            (long long)x->shape[0]);
        if (!st && !(st = alloc_whole(whole, x))) {
            take_records(whole, all_rec);
            memcpy(whole->adv.data, all_adv, (size_t)x->numel * sizeof(float));
            take_totals(attack, whole, all_totals, n_totals);
        }
    }
    free(mine);
    free(all_rec);
    free(all_adv);
    free(all_totals);
    return st;
}
