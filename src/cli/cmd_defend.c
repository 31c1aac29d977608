/*
 * cli/cmd_defend.c - `foil defend`: write preprocessing defenses into a
 * model, so that a deployment runs them with it.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "foil/defense.h"

static int run_defend(int argc, char **argv);

const cli_command cli_defend = {
    "defend", "write preprocessing defenses into an ONNX model",
    "--model M.onnx --preprocess LIST --output M_defended.onnx [--bounds LOW,HIGH]",
    "Puts the preprocessors of LIST (as foil attack --preprocess takes them:\n"
    "squeeze:bits=B, median:size=K, blur:sigma=S, jpeg:quality=Q, tv:lambda=L,\n"
    "noise:sigma=S; in order) in\n"
    "front of the model's (N, C, H, W) image input, inside its ONNX graph, where\n"
    "ONNX expresses them exactly: bit-depth reduction (Round and arithmetic) and\n"
    "Gaussian blur (Pad and a depthwise Conv). Median smoothing (ONNX has no\n"
    "median), JPEG, TV minimization and random noise (a runtime seeds ONNX's\n"
    "RandomNormalLike as it pleases) cannot go in: foil says so, and writes the stages after the last\n"
    "of those, which a deployment then runs after applying the others itself.\n"
    "Pixels lie in [0, 1] unless --bounds says otherwise. Then evaluate the\n"
    "written model as given and adaptively: foil attack --model M_defended.onnx\n"
    "... sees the squeezing inside the graph as a zero gradient; attack the\n"
    "undefended model with --preprocess LIST for the adaptive (BPDA) figures.",
    run_defend,
    0,
};

static const char *cannot_write_reason(foil_preprocessor_kind kind)
{
    switch (kind) {
    case FOIL_PREPROCESSOR_MEDIAN: return " (no median operator)";
    case FOIL_PREPROCESSOR_NOISE: return " (runtimes seed random operators as they please)";
    case FOIL_PREPROCESSOR_JPEG: return " (no JPEG codec operator)";
    case FOIL_PREPROCESSOR_TV: return " (an iterative solver over a random pixel mask)";
    default: return "";
    }
}

/* (C, H, W) from the model's declared input (N, C, H, W). */
static int image_input(const foil_model *m, const char *path, foil_input_desc *in)
{
    const int64_t *s = foil_model_input_shape(m);
    if (foil_model_input_rank(m) != 4 || !s || s[1] < 1 || s[2] < 1 || s[3] < 1)
        return cli_usage_error(&cli_defend, "%s: foil defend works on image models with a declared input (N, C, H, "
                               "W) of fixed C, H and W", path);
    in->is_image = 1;
    in->c = s[1], in->h = s[2], in->w = s[3];
    return CLI_OK;
}

static int run_defend(int argc, char **argv)
{
    const char *model_path = NULL, *list = NULL, *output = NULL, *bounds = NULL;
    cli_option opts[] = {
        {"--model", OPT_STRING, &model_path, "FILE", "the ONNX model to defend", 1, 0},
        {"--preprocess", OPT_STRING, &list, "LIST", "the defense, e.g. squeeze:bits=4,median:3", 1, 0},
        {"--output", OPT_STRING, &output, "FILE", "write the defended model here", 1, 0},
        {"--bounds", OPT_STRING, &bounds, "LOW,HIGH", "the input range (default 0,1)", 0, 0},
    };
    cli_common common;
    foil_data_spec range = {0};
    int rc = cli_parse(&cli_defend, argc, argv, opts, sizeof opts / sizeof opts[0], &common);
    if (rc || (rc = cli_parse_bounds(&cli_defend, bounds, &range))) return rc;
    cli_apply_common(&common);
    foil_input_desc in = {.lo = range.has_bounds ? range.bounds_low : 0, .hi = range.has_bounds ? range.bounds_high : 1};
    foil_model *model = NULL;
    foil_status st = foil_model_load(model_path, &model);
    if (st) return cli_fail(&cli_defend, st);
    foil_preprocessor pre[8];
    int n = 0, first = 0;
    if ((rc = image_input(model, model_path, &in))) goto done;
    if ((st = foil_preprocessors_parse(list, &in, (uint64_t)common.seed, pre, 8, &n))) {
        rc = cli_usage_error(&cli_defend, "%s", foil_last_error());
        goto done;
    }
    if (!(st = foil_model_prepend_preprocessors(model, pre, n, &first)) && first < n)
        st = foil_model_save(model, output);
    if (st) {
        rc = cli_fail(&cli_defend, st);
        goto done;
    }
    for (int k = 0; k < first; k++)
        fprintf(stderr, "foil defend: %s cannot be written into ONNX%s; apply it to the inputs before the model\n",
                pre[k].name, cannot_write_reason(pre[k].kind));
    if (first == n) {
        fprintf(stderr, "foil defend: nothing written: the last stage of the list cannot go into ONNX, so no later "
                "stage can either\n");
        rc = CLI_RUNTIME_ERROR;
        goto done;
    }
    if (!common.quiet) {
        printf("wrote %s with", output);
        for (int k = first; k < n; k++) printf(" %s", pre[k].name);
        printf(" in front of the model%s\n", first ? " (apply the stages above first)" : "");
    }
done:
    foil_preprocessors_free(pre, n);
    foil_model_free(model);
    return rc;
}
