/*
 * model/params.c - a graph model's trainable weights as one vector
 * (foil/model.h, "weight space"): tensor after tensor in graph order, the
 * layout foil_model_loss_param_grad writes its gradient in.
 */
#include <string.h>

#include "model/model_internal.h"

static int is_weight(const FoilValue *v) { return v->kind == FOIL_VALUE_PARAM && v->trainable; }

foil_status foil_model_param_count(const foil_model *m, int64_t *count)
{
    FoilGraphModel *gm;
    foil_status st = foilGraphModelRequire(m, "weight space", &gm);
    if (st) return st;
    int64_t n = 0;
    for (int i = 0; i < gm->g->n_values; i++)
        if (is_weight(&gm->g->values[i])) n += gm->g->values[i].t.numel;
    if (n == 0) return foil_error(FOIL_ERR_ARG, "%s: the model has no trainable weights", foil_model_name(m));
    *count = n;
    return FOIL_OK;
}

/* Copy between the weights and theta: to_theta 1 reads them, 0 writes them. */
static foil_status copy_weights(const foil_model *m, float *theta, int to_theta)
{
    FoilGraphModel *gm;
    foil_status st = foilGraphModelRequire(m, "weight space", &gm);
    if (st) return st;
    for (int i = 0; i < gm->g->n_values; i++) {
        FoilValue *v = &gm->g->values[i];
        if (!is_weight(v)) continue;
        size_t bytes = (size_t)v->t.numel * sizeof(float);
        if (to_theta) memcpy(theta, v->t.data, bytes);
        else memcpy(v->t.data, theta, bytes);
        theta += v->t.numel;
    }
    return FOIL_OK;
}

foil_status foil_model_params_get(const foil_model *m, float *theta) { return copy_weights(m, theta, 1); }

foil_status foil_model_params_set(foil_model *m, const float *theta) { return copy_weights(m, (float *)theta, 0); }
