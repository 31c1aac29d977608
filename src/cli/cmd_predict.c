/*
 * cli/cmd_predict.c - `foil predict`: logits and predicted classes.
 */
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "foil/npy.h"

static int run_predict(int argc, char **argv);

const cli_command cli_predict = {
    "predict", "run a model on a batch: logits and predicted classes",
    "(--model M.onnx | --endpoint URL | --command CMD) --input X.npy [--output LOGITS.npy] [--json]",
    "Runs the ONNX classifier M on every example of X (float32, float64 or uint8,\n"
    "NCHW or NC, batch first; values are used as they are, without scaling) and\n"
    "writes the logits (N, classes) as float32 NPY. With --json, prints the\n"
    "predicted classes as JSON; with neither --output nor --json, prints one\n"
    "predicted class per line. Examples whose shape differs from the model's\n"
    "declared input but hold as many values are fed in the declared shape (a\n"
    "note says so). --normalize 0.5/0.25 (or one MEAN and STD per channel)\n"
    "puts (x - mean) / std into the model, so X holds pixels.",
    run_predict,
    0,
};

static int64_t argmax(const float *v, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

static void print_json(const foil_tensor *logits)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "examples", (double)logits->shape[0]);
    cJSON_AddNumberToObject(root, "classes", (double)logits->shape[1]);
    cJSON *pred = cJSON_AddArrayToObject(root, "predictions");
    for (int64_t i = 0; i < logits->shape[0]; i++)
        cJSON_AddItemToArray(pred, cJSON_CreateNumber((double)argmax(foil_f32(logits) + i * logits->shape[1], logits->shape[1])));
    char *text = cJSON_PrintUnformatted(root);
    puts(text);
    free(text);
    cJSON_Delete(root);
}

static int run_predict(int argc, char **argv)
{
    const char *normalize = NULL;
    cli_model_source source = {.retries = -1};
    const char *input_path = NULL, *output_path = NULL;
    int json = 0;
    int64_t batch = 256;
    cli_option opts[] = {
        CLI_MODEL_SOURCE_OPTIONS(source),
        {"--input", OPT_STRING, &input_path, "FILE", "input batch as NPY", 1, 0},
        {"--output", OPT_STRING, &output_path, "FILE", "write logits (N, classes) as float32 NPY", 0, 0},
        {"--json", OPT_FLAG, &json, NULL, "print predicted classes as JSON", 0, 0},
        {"--batch", OPT_INT, &batch, "N", "examples run at once (default 256)", 0, 0},
        {"--normalize", OPT_STRING, &normalize, "MEAN/STD", "the model's input normalization, moved into it", 0, 0},
    };
    cli_common common;
    int rc = cli_parse(&cli_predict, argc, argv, opts, sizeof opts / sizeof opts[0], &common);
    if (rc) return rc;
    if (batch < 1) return cli_usage_error(&cli_predict, "--batch must be at least 1");
    cli_apply_common(&common);

    foil_model *model;
    foil_tensor x = {0}, logits = {0};
    if ((rc = cli_load_model_input(&cli_predict, &source, input_path, &model, &x))) return rc;
    if ((rc = cli_apply_normalize(&cli_predict, normalize, model))) {
        foil_model_free(model);
        foil_tensor_free(&x);
        return rc;
    }
    foil_model_set_max_batch(model, batch);
    foil_status st = foil_model_predict(model, &x, &logits);
    if (!st && output_path) st = foil_npy_write(output_path, &logits);
    if (st) rc = cli_fail(&cli_predict, st);
    else if (json) print_json(&logits);
    else if (!output_path)
        for (int64_t i = 0; i < logits.shape[0]; i++)
            printf("%lld\n", (long long)argmax(foil_f32(&logits) + i * logits.shape[1], logits.shape[1]));
    foil_tensor_free(&x);
    foil_tensor_free(&logits);
    foil_model_free(model);
    return rc;
}
