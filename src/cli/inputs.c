/*
 * cli/inputs.c - loading the model and input batch that most commands need.
 */
#include "cli/cli.h"
#include "foil/npy.h"

int cli_load_model_input(const cli_command *cmd, const char *model_path, const char *input_path, foil_model **model,
                         foil_tensor *x)
{
    foil_status st = foil_model_load(model_path, model);
    if (st) return cli_fail(cmd, st);
    if ((st = foil_npy_read_f32(input_path, x)) || (st = foil_check_finite_examples(input_path, x))) {
        foil_tensor_free(x);
        foil_model_free(*model);
        *model = NULL;
        return cli_fail(cmd, st);
    }
    int rank = foil_model_input_rank(*model);
    if (x->ndim != rank || x->shape[0] < 1) {
        char got[128];
        foil_error(FOIL_ERR_SHAPE, "%s: input has shape %s but the model '%s' expects rank %d with the batch first%s",
                   input_path, foil_shape_str(x, got, sizeof got), model_path, rank,
                   x->ndim == rank - 1 ? " (add a leading batch dimension of 1)" : "");
        foil_model_free(*model);
        *model = NULL;
        foil_tensor_free(x);
        return cli_fail(cmd, FOIL_ERR_SHAPE);
    }
    return CLI_OK;
}
