/*
 * report/attack_json.c - an attack run as the JSON object `foil attack
 * --json` prints (the keys the README lists), for pipelines to gate on.
 */
#include <math.h>
#include <stdlib.h>

#include "report/report.h"

cJSON *foilReportAttackJson(const char *name, const char *eps_text, const foil_threat *t,
                               const foil_evasion_summary *s, const foil_evasion_result *r, const foil_tensor *x,
                               int tabular, const foil_model *model)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "attack", name);
    cJSON_AddStringToObject(o, "model_kind", foil_model_kind(model));
    cJSON_AddStringToObject(o, "norm", foil_norm_name(t->norm));
    cJSON_AddNumberToObject(o, "eps", strtod(eps_text, NULL));
    cJSON_AddNumberToObject(o, "examples", (double)s->examples);
    cJSON_AddNumberToObject(o, "clean_accuracy", s->clean_accuracy);
    cJSON_AddNumberToObject(o, "robust_accuracy", s->robust_accuracy);
    cJSON_AddNumberToObject(o, "success_rate", s->success_rate);
    cJSON_AddItemToObject(o, "median_norm", isnan(s->median_norm) ? cJSON_CreateNull() : cJSON_CreateNumber(s->median_norm));
    cJSON_AddItemToObject(o, "max_norm", isnan(s->max_norm) ? cJSON_CreateNull() : cJSON_CreateNumber(s->max_norm));
    double rho = foil_evasion_empirical_robustness(r, x, t->norm);
    cJSON_AddItemToObject(o, "empirical_robustness", isnan(rho) ? cJSON_CreateNull() : cJSON_CreateNumber(rho));
    cJSON_AddNumberToObject(o, "mean_queries", s->mean_queries);
    cJSON_AddNumberToObject(o, "mean_gradients", s->mean_grads);
    cJSON_AddNumberToObject(o, "model_queries", (double)r->model_queries);
    cJSON_AddNumberToObject(o, "model_gradients", (double)r->model_grads);
    cJSON_AddItemToObject(o, "zero_gradient_fraction", isnan(s->zero_gradient_fraction)
                                                           ? cJSON_CreateNull()
                                                           : cJSON_CreateNumber(s->zero_gradient_fraction));
    cJSON_AddNumberToObject(o, "seconds", s->seconds);
    cJSON_AddNumberToObject(o, "images_per_second", s->images_per_second);
    if (tabular) {
        double changed, mean_abs;
        foil_evasion_change_stats(r, x, &changed, &mean_abs);
        cJSON_AddNumberToObject(o, "mean_features_changed", changed);
        cJSON_AddNumberToObject(o, "mean_abs_change", mean_abs);
    }
    cJSON_AddNumberToObject(o, "seed", (double)t->seed);
    if (r->warnings[0]) cJSON_AddStringToObject(o, "warnings", r->warnings);
    return o;
}
