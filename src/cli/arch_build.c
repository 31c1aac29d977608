/*
 * cli/arch_build.c - a model to train from --arch: a built-in architecture
 * shaped by the training data, or the user's ONNX file (re-initialized, or
 * kept for fine-tuning). Shared by train and by infer's shadow models.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "foil/arch.h"

int cli_is_onnx_path(const char *arch)
{
    size_t len = strlen(arch);
    return len > 5 && strcmp(arch + len - 5, ".onnx") == 0;
}

foil_status cli_build_arch(const char *arch, const foil_dataset *train, const int64_t *hidden, int n_hidden,
                           uint64_t seed, int keep_weights, foil_model **model)
{
    if (cli_is_onnx_path(arch)) {
        foil_status st = foil_model_load(arch, model);
        if (!st && !keep_weights) st = foil_model_reinit(*model, seed);
        return st;
    }
    foil_arch_spec spec = {0};
    spec.name = arch;
    spec.input_rank = train->x.ndim;
    for (int d = 1; d < train->x.ndim && d <= 4; d++) spec.input_shape[d - 1] = train->x.shape[d];
    spec.classes = train->classes;
    spec.hidden = hidden; /* NULL: the default; n_hidden 0: no hidden layer (softmax regression) */
    spec.n_hidden = n_hidden;
    spec.seed = seed;
    float *mean = NULL, *std = NULL;
    if (!train->is_image) { /* tabular features come in their own units: normalize inside the model */
        int64_t f = foil_dataset_example_size(train);
        mean = malloc((size_t)f * sizeof *mean);
        std = malloc((size_t)f * sizeof *std);
        if (!mean || !std) {
            free(mean);
            free(std);
            return foil_error(FOIL_ERR_NOMEM, "out of memory");
        }
        foil_dataset_moments(train, mean, std);
        spec.mean = mean;
        spec.std = std;
    }
    foil_status st = foil_arch_build(&spec, model);
    free(mean);
    free(std);
    return st;
}
