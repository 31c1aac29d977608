/*
 * cli/cmd_eval.c - `foil eval`: accuracy, per-class accuracy, confusion
 * matrix, confidence and calibration of a model on a labelled set.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "core/dist.h"
#include "foil/data.h"
#include "foil/eval.h"
#include "foil/progress.h"

static int run_eval(int argc, char **argv);

const cli_command cli_eval = {
    "eval", "accuracy, confusion matrix and calibration of a model on a dataset",
    "(--model M.onnx | --endpoint URL | --command CMD) --data DATA [--labels FILE | --label-column NAME] [--split test|train|all] [--json]",
    "Runs the model on DATA (a built-in dataset's test split; every example of\n"
    "your own file, unless --split says otherwise) and reports accuracy,\n"
    "per-class accuracy, the confusion matrix, the mean top-class confidence and\n"
    "the expected calibration error (15 equal-width bins). --json prints one\n"
    "object with the keys accuracy, per_class_accuracy, confusion_matrix,\n"
    "mean_confidence, ece.\n"
    "Images (NCHW) have one input range, [0, 1] unless --bounds LOW,HIGH says\n"
    "otherwise (uint8 pixels span it: --bounds 0,255 feeds raw bytes). A model\n"
    "trained on normalized inputs takes --normalize MEAN[,MEAN...]/STD[,STD...]\n"
    "(one value or one per channel), which puts (x - mean) / std into it.",
    run_eval,
    CLI_DISTRIBUTED,
};

static void print_json(const foil_metrics *mt, const char *model, const foil_dataset *d, const char *split)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model", model);
    cJSON_AddStringToObject(root, "data", d->name);
    cJSON_AddStringToObject(root, "split", split);
    cJSON_AddNumberToObject(root, "examples", (double)mt->examples);
    cJSON_AddNumberToObject(root, "accuracy", mt->accuracy);
    cJSON *pc = cJSON_AddArrayToObject(root, "per_class_accuracy");
    for (int64_t c = 0; c < mt->classes; c++)
        cJSON_AddItemToArray(pc, isnan(mt->per_class_accuracy[c]) ? cJSON_CreateNull()
                                                                   : cJSON_CreateNumber(mt->per_class_accuracy[c]));
    cJSON *cm = cJSON_AddArrayToObject(root, "confusion_matrix");
    for (int64_t r = 0; r < mt->classes; r++) {
        cJSON *row = cJSON_CreateArray();
        for (int64_t c = 0; c < mt->classes; c++)
            cJSON_AddItemToArray(row, cJSON_CreateNumber((double)mt->confusion[r * mt->classes + c]));
        cJSON_AddItemToArray(cm, row);
    }
    cJSON_AddNumberToObject(root, "mean_confidence", mt->mean_confidence);
    cJSON_AddNumberToObject(root, "ece", mt->ece);
    cJSON_AddNumberToObject(root, "seconds", mt->seconds);
    char *text = cJSON_PrintUnformatted(root);
    puts(text);
    free(text);
    cJSON_Delete(root);
}

static void print_text(const foil_metrics *mt, const char *model, const foil_dataset *d, const char *split)
{
    printf("%s on %s (%s split, %lld examples)\n", model, d->name, split, (long long)mt->examples);
    printf("  accuracy         %.2f%%\n  mean confidence  %.2f%%\n  ECE (15 bins)    %.4f\n", 100 * mt->accuracy,
           100 * mt->mean_confidence, mt->ece);
    printf("  per class:\n");
    for (int64_t c = 0; c < mt->classes; c++) {
        const char *name = d->class_names ? d->class_names[c] : NULL;
        printf("    %2lld %-14s %6.2f%%\n", (long long)c, name ? name : "", 100 * mt->per_class_accuracy[c]);
    }
    printf("  confusion matrix (rows: true class, columns: predicted):\n");
    for (int64_t r = 0; r < mt->classes; r++) {
        printf("    ");
        for (int64_t c = 0; c < mt->classes; c++) printf("%6lld", (long long)mt->confusion[r * mt->classes + c]);
        printf("\n");
    }
}

/* foil_evaluate, each MPI rank predicting its share; rank 0 gets the metrics. */
static foil_status evaluate(foil_model *model, const foil_dataset *d, int64_t batch, foil_metrics *mt)
{
    double start = foil_now();
    foil_tensor scores = {0};
    foil_status st = cli_shard_predict(model, &d->x, batch, &scores);
    if (!st && foilDistRank() == 0) st = foil_evaluate_scores(model, &scores, d, mt);
    foil_tensor_free(&scores);
    mt->seconds = foil_now() - start;
    return st;
}

static int run_eval(int argc, char **argv)
{
    cli_model_source source = {.retries = -1};
    const char *split_name = NULL, *bounds = NULL, *normalize = NULL;
    foil_data_spec data = {0};
    int json = 0;
    int64_t batch = 256;
    cli_option opts[] = {
        CLI_MODEL_SOURCE_OPTIONS(source),
        CLI_DATA_OPTIONS(data),
        CLI_SPLIT_OPTIONS(split_name, bounds, normalize),
        {"--batch", OPT_INT, &batch, "N", "examples run at once (default 256)", 0, 0},
        {"--json", OPT_FLAG, &json, NULL, "print the metrics as one JSON object", 0, 0},
    };
    cli_common common;
    int rc = cli_parse(&cli_eval, argc, argv, opts, sizeof opts / sizeof opts[0], &common);
    if (rc) return rc;
    foil_split split;
    if ((rc = cli_data_split(&cli_eval, split_name, data.data, &split, &split_name)) ||
        (rc = cli_parse_bounds(&cli_eval, bounds, &data)))
        return rc;
    if (batch < 1) return cli_usage_error(&cli_eval, "--batch must be at least 1");
    cli_apply_common(&common);
    data.seed = (uint64_t)common.seed;

    foil_model *model = NULL;
    foil_dataset d = {0};
    foil_metrics mt = {0};
    foil_status st;
    rc = cli_open_inputs(&cli_eval, &source, &data, split, normalize, &model, &d);
    if (!rc) {
        foil_model_set_max_batch(model, batch);
        if ((st = evaluate(model, &d, batch, &mt))) rc = cli_fail(&cli_eval, st);
    }
    if (!rc && foilDistRank() == 0) {
        if (json) print_json(&mt, foil_model_name(model), &d, split_name);
        else print_text(&mt, foil_model_name(model), &d, split_name);
    }
    foil_metrics_free(&mt);
    foil_dataset_free(&d);
    foil_model_free(model);
    return rc;
}
