/*
 * attacks/inference/shadow.c - shadow models (foil/infer.h): models of the
 * target's architecture trained on known halves of a data pool, whose
 * outputs tell a membership attack what a member and a non-member look
 * like.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "foil/infer.h"
#include "foil/progress.h"
#include "foil/rng.h"

#include "core/dist.h"

foil_status foil_membership_keep(int64_t models, int64_t n, uint64_t seed, uint8_t *keep)
{
    if (models < 1 || n < 0) return foil_error(FOIL_ERR_ARG, "membership split: %lld models", (long long)models);
    int64_t *order = malloc((size_t)models * sizeof *order);
    if (!order) return foil_error(FOIL_ERR_NOMEM, "out of memory for the membership split");
    foil_rng rng = foil_rng_make(seed, 0);
    memset(keep, 0, (size_t)(models * n));
    for (int64_t j = 0; j < n; j++) {
        /* a random half of the models, by a partial Fisher-Yates shuffle */
        for (int64_t k = 0; k < models; k++) order[k] = k;
        for (int64_t k = 0; k < models / 2; k++) {
            int64_t pick = k + (int64_t)foil_rng_below(&rng, (uint64_t)(models - k)), t = order[k];
            order[k] = order[pick], order[pick] = t;
            keep[order[k] * n + j] = 1;
        }
    }
    free(order);
    return FOIL_OK;
}

foil_status foil_shadow_model(foil_model_factory make, void *ctx, const foil_dataset *pool, const uint8_t *keep,
                              const foil_train_options *o, uint64_t seed, foil_model **out,
                              foil_train_report *report)
{
    *out = NULL;
    const int64_t n = pool->y.numel;
    int64_t *index = malloc((size_t)(n ? n : 1) * sizeof *index), m = 0;
    if (!index) return foil_error(FOIL_ERR_NOMEM, "out of memory for a shadow model");
    for (int64_t j = 0; j < n; j++)
        if (keep[j]) index[m++] = j;
    foil_dataset part = {0};
    foil_train_options to = *o;
    to.seed = seed, to.quiet = 1;
    foil_train_report own;
    if (!report) report = &own;
    foil_status st = m ? foil_dataset_select(&part, pool, index, m)
                       : foil_error(FOIL_ERR_ARG, "a model with no training examples");
    if (!st) st = make(ctx, &part, seed, out);
    if (!st) st = foil_train(*out, &part, NULL, &to, report);
    if (st) foil_model_free(*out), *out = NULL;
    foil_dataset_free(&part);
    free(index);
    return st;
}

/* Model k: trained on its half of pool, then its logits on all of pool. */
static foil_status train_one(foil_model_factory make, void *ctx, const foil_dataset *pool, const uint8_t *keep,
                             const foil_train_options *o, uint64_t seed, float *logits)
{
    foil_model *model = NULL;
    foil_tensor out = {0};
    foil_status st = foil_shadow_model(make, ctx, pool, keep, o, seed, &model, NULL);
    if (!st) st = foil_model_predict(model, &pool->x, &out);
    if (!st && (out.ndim != 2 || out.shape[1] != pool->classes))
        st = foil_error(FOIL_ERR_ARG, "the shadow model's output is not one score for each of %s's %lld classes",
                        pool->name, (long long)pool->classes);
    if (!st) { /* probabilities (an ONNX architecture ending in Softmax) as log p */
        foil_scores_as_logits(foil_model_capabilities(model), foil_f32(&out), out.numel);
        memcpy(logits, out.data, foil_tensor_nbytes(&out));
    }
    foil_tensor_free(&out);
    foil_model_free(model);
    return st;
}

/* The models this process trains: every one of them, or with MPI the
 * ones its rank owns (model k on rank k % size). */
static int64_t owned_models(int64_t models, int64_t *mine)
{
    int64_t m = 0;
    for (int64_t k = 0; k < models; k++)
        if (foilDistOwns(k)) mine[m++] = k;
    return m;
}

/* Shadow models are many small, independent trainings: on T threads, T
 * of them train at once, one thread each, which keeps every thread busy
 * where one small model's layers would split poorly between threads (and
 * each model the arithmetic it gets on one thread, so the shadow models
 * are the same whatever the number of threads or ranks). A worker's error text
 * lives in its own thread, so the first one is copied out. */
foil_status foil_shadow_logits(foil_model_factory make, void *ctx, const foil_dataset *pool, const uint8_t *keep,
                               int64_t models, const foil_train_options *o, uint64_t seed, float *logits)
{
    const int64_t n = pool->y.numel, classes = pool->classes;
    int64_t *mine = malloc((size_t)(models > 0 ? models : 1) * sizeof *mine);
    if (!mine) return foilDistAgree(foil_error(FOIL_ERR_NOMEM, "out of memory for the shadow models"));
    const int64_t count = owned_models(models, mine);
    memset(logits, 0, (size_t)(models * n * classes) * sizeof *logits);
    foil_progress bar;
    foil_progress_start(&bar, "shadow models", count, "models", o->quiet || foilDistRank() != 0);
    foil_status first = FOIL_OK;
    char message[1024] = "";
    int64_t done = 0;
    const int threads = omp_get_max_threads() < count ? omp_get_max_threads() : (int)(count > 0 ? count : 1);
    foilDistSoloBegin(); /* each rank trains its own models: no data-parallel training across ranks */
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int64_t i = 0; i < count; i++) {
        omp_set_num_threads(1); /* this worker's model, on this thread alone */
        const int64_t k = mine[i];
        foil_status st;
#pragma omp atomic read
        st = first;
        if (st) continue; /* another model failed: stop early */
        st = train_one(make, ctx, pool, keep + k * n, o, seed + (uint64_t)k, logits + k * n * classes);
#pragma omp critical(foil_shadow_logits)
        {
            if (st && !first) {
#pragma omp atomic write
                first = st;
                snprintf(message, sizeof message, "shadow model %lld of %lld: %s", (long long)k + 1,
                         (long long)models, foil_last_error());
            }
            foil_progress_update(&bar, ++done, NULL);
        }
    }
    foilDistSoloEnd();
    foil_progress_finish(&bar, NULL);
    free(mine);
    foil_status st = first ? foil_error(first, "%s", message) : FOIL_OK;
    st = foilDistAgree(st);
    if (!st && foilDistSize() > 1) st = foilDistSumFloats(logits, models * n * classes);
    return st;
}
