/*
 * model/normalize.c - foil_model_normalize: put a model's input
 * normalization into its graph, so that attacks run in pixel space.
 *
 * Many published models expect (x - mean) / std per channel, computed
 * outside the model. Attacking such a model on normalized inputs makes eps
 * and the bounds mean something else than pixels. This file prepends
 *
 *     pixels --Sub(mean)--> centered --Div(std)--> (the model's old input)
 *
 * with mean and std as Constant nodes shaped (C, 1, ..., 1) (or (1) for one
 * value), so ONNX broadcasting applies them along the channel axis (axis 1)
 * of the declared input. The new graph input keeps the old input's name and
 * declared shape; the old input becomes an activation named NAME.normalized.
 * Constants are folded at plan time and never trained, and the result
 * exports as a valid ONNX model that takes pixels.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "nn/builder.h"

#define NORM_MEAN "foil_normalize_mean"
#define NORM_STD "foil_normalize_std"
#define NORM_CENTERED "foil_normalize_centered"

/* Counts, values and the graph's opset, all checked before the graph is
 * touched. */
static foil_status check_normalization(const FoilGraph *g, int n_mean, const float *mean, int n_std,
                                       const float *std)
{
    const FoilValue *in = &g->values[g->inputs[0]];
    const int64_t channels = in->decl_ndim >= 2 ? in->decl_shape[1] : -1;
    char shape[128];
    foil_tensor decl = {0};
    decl.ndim = in->decl_ndim;
    memcpy(decl.shape, in->decl_shape, sizeof decl.shape);
    foil_shape_str(&decl, shape, sizeof shape);
    const char *what[2] = {"means", "standard deviations"};
    const int counts[2] = {n_mean, n_std};
    for (int k = 0; k < 2; k++) {
        if (counts[k] < 1) return foil_error(FOIL_ERR_ARG, "--normalize: no %s given", what[k]);
        if (counts[k] == 1 || counts[k] == channels) continue;
        if (channels < 0)
            return foil_error(FOIL_ERR_ARG, "--normalize gives %d %s, but the input of %s, %s, declares no channel count "
                              "(dimension 1); give one value", counts[k], what[k], g->path, shape);
        return foil_error(FOIL_ERR_ARG, "--normalize gives %d %s, but the input of %s, %s, has %lld channels "
                          "(dimension 1); give 1 or %lld", counts[k], what[k], g->path, shape, (long long)channels,
                          (long long)channels);
    }
    for (int c = 0; c < n_mean; c++)
        if (!isfinite(mean[c])) return foil_error(FOIL_ERR_ARG, "--normalize: mean %d is not a finite number", c);
    for (int c = 0; c < n_std; c++)
        if (!(std[c] > 0) || !isfinite(std[c]))
            return foil_error(FOIL_ERR_ARG, "--normalize: standard deviation %d is %g; each must be > 0", c, std[c]);
    if (g->opset < 7)
        return foil_error(FOIL_ERR_UNSUPPORTED, "%s: --normalize needs ONNX opset 7 or later (broadcasting Sub and "
                          "Div); the model's is %d", g->path, g->opset);
    const char *names[3] = {NORM_MEAN, NORM_STD, NORM_CENTERED};
    for (int k = 0; k < 3; k++)
        if (foilGraphFindValue(g, names[k]) >= 0)
            return foil_error(FOIL_ERR_ARG, "%s: already has a value '%s' (normalized twice?)", g->path, names[k]);
    return FOIL_OK;
}

/* A Constant node holding n values shaped to broadcast along axis 1 of a
 * rank-`rank` input: (n, 1, ..., 1), or (1) when n is 1. */
static int channel_constant(FoilBuilder *b, const char *name, int rank, int n, const float *v)
{
    int64_t shape[FOIL_MAX_DIMS];
    int ndim = n == 1 || rank < 2 ? 1 : rank - 1;
    for (int d = 0; d < ndim; d++) shape[d] = d == 0 ? n : 1;
    return foilBuilderConstant(b, name, ndim, shape, v);
}

foil_status foil_model_normalize(foil_model *m, int n_mean, const float *mean, int n_std, const float *std)
{
    FoilGraphModel *gm;
    foil_status st = foilGraphModelRequire(m, "--normalize", &gm);
    if (st) return st;
    FoilGraph *g = gm->g;
    if ((st = check_normalization(g, n_mean, mean, n_std, std))) return st;
    foilGraphModelUnplan(gm);
    foilGraphUnplan(g);

    const int first = g->n_nodes, rank = g->values[g->inputs[0]].decl_ndim;
    FoilBuilder b = {.g = g};
    int mv = channel_constant(&b, NORM_MEAN, rank, n_mean, mean);
    int sv = channel_constant(&b, NORM_STD, rank, n_std, std);
    if (b.st) return b.st;
    const int normalized = g->inputs[0];
    const int pixels = foilGraphSplitInput(g, ".normalized");
    const int centered = pixels < 0 ? -1 : foilGraphValue(g, NORM_CENTERED);
    if (centered < 0) return foil_error(FOIL_ERR_NOMEM, "%s: out of memory", g->path);
    if (!foilGraphAddNode(g, "foil_normalize_sub", "Sub", 2, (const int[]){pixels, mv}, 1, &centered) ||
        !foilGraphAddNode(g, "foil_normalize_div", "Div", 2, (const int[]){centered, sv}, 1, &normalized))
        return foil_error(FOIL_ERR_NOMEM, "%s: out of memory", g->path);
    return foilGraphMoveToFront(g, first);
}
