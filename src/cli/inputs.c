/*
 * cli/inputs.c - loading the model and input batch that most commands need.
 */
#include "cli/cli.h"
#include "foil/npy.h"

int cli_load_model_input(const cli_command *cmd, const cli_model_source *source, const char *input_path,
                         foil_model **model, foil_tensor *x)
{
    int rc = cli_open_model(cmd, source, model);
    if (rc) return rc;
    foil_status st;
    if ((st = foil_npy_read_f32(input_path, x)) || (st = foil_check_finite_examples(input_path, x))) {
        foil_tensor_free(x);
        foil_model_free(*model);
        *model = NULL;
        return cli_fail(cmd, st);
    }
    rc = cli_check_model_input(cmd, *model, x, input_path);
    if (rc) {
        foil_model_free(*model);
        *model = NULL;
        foil_tensor_free(x);
        return rc;
    }
    return CLI_OK;
}
