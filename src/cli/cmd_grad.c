/*
 * cli/cmd_grad.c - `foil grad`: the input gradient every white-box attack
 * uses, exposed so that anyone can check it against their own framework.
 */
#include <stdint.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "foil/npy.h"

static int run_grad(int argc, char **argv);

const cli_command cli_grad = {
    "grad", "gradient of the cross-entropy loss with respect to the input",
    "--model M.onnx --input X.npy --labels Y.npy --output G.npy [--json]",
    "For each example n, writes d CE(softmax(M(x_n)), y_n) / d x_n, the gradient\n"
    "of that example's softmax cross-entropy loss (equivalently, of the summed\n"
    "loss, not divided by the batch size), as float32 NPY shaped like X.\n"
    "Labels are integers in [0, classes). With --json, prints the per-example\n"
    "losses. With --normalize MEAN/STD the gradient is with respect to the\n"
    "pixels, through the normalization (x - mean) / std.",
    run_grad,
    0,
};

static void print_json(const float *loss, int64_t n)
{
    cJSON *root = cJSON_CreateObject();
    double sum = 0;
    cJSON *arr = cJSON_AddArrayToObject(root, "losses");
    for (int64_t i = 0; i < n; i++) {
        sum += loss[i];
        cJSON_AddItemToArray(arr, cJSON_CreateNumber(loss[i]));
    }
    cJSON_AddNumberToObject(root, "examples", (double)n);
    cJSON_AddNumberToObject(root, "mean_loss", n ? sum / (double)n : 0.0);
    char *text = cJSON_PrintUnformatted(root);
    puts(text);
    free(text);
    cJSON_Delete(root);
}

/* Labels must be classes of the model: say which file, example and label
 * is wrong (the loss alone could name only the model). */
static foil_status check_labels(foil_model *model, const char *path, const foil_tensor *labels)
{
    int64_t classes;
    if (foil_model_num_classes(model, &classes)) {
        /* dynamic input dims: the loss, once the model has run, checks the upper bound */
        foil_clear_error();
        classes = INT64_MAX;
    }
    for (int64_t i = 0; i < labels->shape[0]; i++) {
        int64_t y = foil_i64(labels)[i];
        if (y < 0 || y >= classes)
            return foil_error(FOIL_ERR_ARG, "%s: example %lld has label %lld, outside the model's classes [0, %lld)",
                              path, (long long)i, (long long)y, (long long)classes);
    }
    return FOIL_OK;
}

static int run_grad(int argc, char **argv)
{
    const char *normalize = NULL;
    const char *model_path = NULL, *input_path = NULL, *labels_path = NULL, *output_path = NULL;
    int json = 0;
    int64_t batch = 256;
    cli_option opts[] = {
        {"--model", OPT_STRING, &model_path, "FILE", "ONNX classifier", 1, 0},
        {"--input", OPT_STRING, &input_path, "FILE", "input batch as NPY", 1, 0},
        {"--labels", OPT_STRING, &labels_path, "FILE", "integer labels (N) as NPY", 1, 0},
        {"--output", OPT_STRING, &output_path, "FILE", "write the gradient (shaped like the input) as float32 NPY", 1, 0},
        {"--json", OPT_FLAG, &json, NULL, "print per-example losses as JSON", 0, 0},
        {"--batch", OPT_INT, &batch, "N", "examples run at once (default 256)", 0, 0},
        {"--normalize", OPT_STRING, &normalize, "MEAN/STD", "the model's input normalization, moved into it", 0, 0},
    };
    cli_common common;
    int rc = cli_parse(&cli_grad, argc, argv, opts, sizeof opts / sizeof opts[0], &common);
    if (rc) return rc;
    if (batch < 1) return cli_usage_error(&cli_grad, "--batch must be at least 1");
    cli_apply_common(&common);

    foil_model *model;
    foil_tensor x = {0}, labels = {0}, grad = {0};
    if ((rc = cli_load_model_input(&cli_grad, &(cli_model_source){.model = model_path, .retries = -1}, input_path, &model, &x))) return rc;
    if ((rc = cli_apply_normalize(&cli_grad, normalize, model))) {
        foil_model_free(model);
        foil_tensor_free(&x);
        return rc;
    }
    foil_model_set_max_batch(model, batch);
    foil_status st = foil_npy_read_labels(labels_path, &labels);
    float *loss = NULL;
    if (!st && (labels.ndim != 1 || labels.shape[0] != x.shape[0])) {
        char sh[96];
        st = foil_error(FOIL_ERR_SHAPE, "%s holds labels of shape %s but %s has %lld examples; give one label per "
                        "example, a 1-D array of %lld", labels_path, foil_shape_str(&labels, sh, sizeof sh), input_path,
                        (long long)x.shape[0], (long long)x.shape[0]);
    }
    if (!st) st = check_labels(model, labels_path, &labels);
    if (!st && !(loss = malloc((size_t)x.shape[0] * sizeof *loss))) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    if (!st) st = foil_model_loss_input_grad(model, &x, foil_i64(&labels), loss, NULL, &grad);
    if (!st) st = foil_npy_write(output_path, &grad);
    if (st) rc = cli_fail(&cli_grad, st);
    else if (json) print_json(loss, x.shape[0]);
    free(loss);
    foil_tensor_free(&x);
    foil_tensor_free(&labels);
    foil_tensor_free(&grad);
    foil_model_free(model);
    return rc;
}
