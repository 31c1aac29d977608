/*
 * cli/defense_options.c - a declared preprocessing defense (--preprocess,
 * --bpda, --no-adaptive, --eot), shared by `foil attack` and `foil audit`:
 * the model behind the defense as an attacker unaware of it sees it, and as
 * one who adapts to it (Athalye, Carlini and Wagner 2018; Tramer et al. 2020).
 */
#include "cli/cli.h"
#include "foil/defense.h"

/* One of the two defended models: k 0 as given (exact derivatives, one
 * random draw), k 1 adaptive (BPDA through every preprocessor; for a
 * randomized defense, EOT over def->eot draws). */
static int wrap(const cli_command *cmd, const cli_defense_args *def, const foil_input_desc *in, uint64_t seed,
                int adapt, foil_model **model)
{
    foil_preprocessor pre[8];
    int n = 0, randomized = 0;
    foil_status st = foil_preprocessors_parse(def->preprocess, in, seed, pre, 8, &n);
    if (st) return cli_usage_error(cmd, "%s", foil_last_error());
    for (int i = 0; i < n; i++) randomized |= pre[i].randomized;
    foil_model *inner = *model;
    *model = NULL;
    st = foil_model_defended(inner, pre, n, NULL, adapt ? FOIL_GRADIENT_BPDA : FOIL_GRADIENT_EXACT, model);
    if (!st && adapt && randomized) {
        inner = *model;
        *model = NULL;
        st = foil_model_eot(inner, def->eot ? (int)def->eot : 16, seed, model);
    }
    return st ? cli_fail(cmd, st) : CLI_OK;
}

int cli_defend_model(const cli_command *cmd, const cli_defense_args *def, const cli_model_source *source,
                     const char *normalize, const foil_dataset *d, uint64_t seed, foil_model **model,
                     foil_model **adaptive)
{
    *adaptive = NULL;
    if (!def->preprocess) {
        if (def->bpda || def->no_adaptive || def->eot)
            return cli_usage_error(cmd, "--bpda, --no-adaptive and --eot need --preprocess");
        return CLI_OK;
    }
    if (def->bpda && def->no_adaptive) return cli_usage_error(cmd, "--bpda and --no-adaptive exclude each other");
    if (def->eot < 0 || def->eot > 1000) return cli_usage_error(cmd, "--eot must be between 1 and 1000");
    foil_input_desc in = {.is_image = d->is_image && d->x.ndim == 4, .lo = foil_f32(&d->lower)[0],
                          .hi = foil_f32(&d->upper)[0]};
    if (in.is_image) in.c = d->x.shape[1], in.h = d->x.shape[2], in.w = d->x.shape[3];
    foil_model *models[2] = {*model, NULL};
    *model = NULL;
    int rc = def->bpda || def->no_adaptive ? CLI_OK : cli_open_model(cmd, source, &models[1]);
    if (!rc && models[1]) rc = cli_apply_normalize(cmd, normalize, models[1]);
    for (int k = 0; k < 2 && !rc; k++)
        if (models[k]) rc = wrap(cmd, def, &in, seed, k == 1 || def->bpda, &models[k]);
    if (rc) {
        foil_model_free(models[0]);
        foil_model_free(models[1]);
        return rc;
    }
    *model = models[0];
    *adaptive = models[1];
    return CLI_OK;
}

const char *cli_adaptive_tag(const foil_model *plain)
{
    return foil_model_capabilities(plain) & FOIL_MODEL_RANDOMIZED ? "+bpda+eot" : "+bpda";
}
