/*
 * cli/detector_options.c - adversarial-example detectors by name, shared by
 * `foil detect` and `foil audit --detector`.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "foil/detect.h"

static const char *const detector_names[CLI_MAX_DETECTORS] = {"squeeze", "max-softmax", "energy", "mahalanobis"};

int cli_split_list(const cli_command *cmd, char *list, const char *what, const char *const *known, int n_known,
                   const char **names, int max, int *count)
{
    *count = 0;
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int ok = !known;
        for (int k = 0; k < n_known && !ok; k++) ok = strcmp(tok, known[k]) == 0;
        if (!ok) {
            char names[256] = "";
            for (int k = 0; k < n_known; k++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", k ? ", " : "", known[k]);
            return cli_usage_error(cmd, "unknown %s '%s' (known: %s)", what, tok, names);
        }
        if (*count == max) return cli_usage_error(cmd, "at most %d %ss", max, what);
        names[(*count)++] = tok;
    }
    if (!*count) return cli_usage_error(cmd, "no %s given", what);
    return CLI_OK;
}

int cli_split_detectors(const cli_command *cmd, char *list, const char **names, int *count)
{
    return cli_split_list(cmd, list, "detector", detector_names, CLI_MAX_DETECTORS, names, CLI_MAX_DETECTORS, count);
}

/* Rows [first, first + count) of t, sharing its memory. */
foil_tensor cli_rows_of(const foil_tensor *t, int64_t first, int64_t count)
{
    foil_tensor v = *t;
    int64_t per = t->numel / t->shape[0];
    v.shape[0] = count;
    v.numel = count * per;
    v.data = (char *)t->data + (size_t)(first * per) * foil_dtype_size(t->dtype);
    v.owns_data = 0;
    return v;
}

static int squeeze_detector(const cli_command *cmd, const cli_detector_args *da, foil_model *model,
                            const foil_dataset *d, uint64_t seed, foil_detector **out)
{
    foil_input_desc in = {.is_image = d->is_image && d->x.ndim == 4, .lo = foil_f32(&d->lower)[0],
                          .hi = foil_f32(&d->upper)[0]};
    if (in.is_image) in.c = d->x.shape[1], in.h = d->x.shape[2], in.w = d->x.shape[3];
    foil_preprocessor sq[8];
    int n = 0;
    if (foil_preprocessors_parse(da->squeezers, &in, seed, sq, 8, &n))
        return cli_usage_error(cmd, "--squeezers: %s", foil_last_error());
    foil_status st = foil_detector_squeeze(model, sq, n, out);
    return st ? cli_fail(cmd, st) : CLI_OK;
}

/* Mahalanobis on the features of the ONNX file the model came from. */
static int mahalanobis_detector(const cli_command *cmd, const cli_detector_args *da, const foil_dataset *train,
                                foil_detector **out)
{
    if (!da->model_path)
        return cli_usage_error(cmd, "the mahalanobis detector reads a layer of the network: give --model FILE.onnx");
    foil_model *features = NULL;
    foil_status st = foil_model_load_features(da->model_path, da->feature_layer, &features);
    if (st) return cli_fail(cmd, st);
    int rc = cli_apply_normalize(cmd, da->normalize, features);
    if (rc) {
        foil_model_free(features);
        return rc;
    }
    int64_t fit = da->fit_limit < train->x.shape[0] ? da->fit_limit : train->x.shape[0];
    foil_tensor x = cli_rows_of(&train->x, 0, fit);
    st = foil_detector_mahalanobis(features, &x, foil_i64(&train->y), train->classes, out);
    return st ? cli_fail(cmd, st) : CLI_OK;
}

int cli_make_detector(const cli_command *cmd, const char *name, const cli_detector_args *da, foil_model *model,
                      const foil_dataset *train, uint64_t seed, foil_detector **out)
{
    foil_status st = FOIL_OK;
    *out = NULL;
    if (strcmp(name, "max-softmax") == 0) st = foil_detector_max_softmax(model, out);
    else if (strcmp(name, "energy") == 0) st = foil_detector_energy(model, (float)da->temperature, out);
    else if (strcmp(name, "squeeze") == 0) return squeeze_detector(cmd, da, model, train, seed, out);
    else return mahalanobis_detector(cmd, da, train, out);
    return st ? cli_fail(cmd, st) : CLI_OK;
}
