/*
 * tests/fuzz/fuzz_onnx.c - libFuzzer target for the ONNX importer
 * (protobuf parse, initializers, nodes, attributes, graph checks), from
 * memory through foilOnnxLoadBuffer. A model that loads is exported and
 * loaded again (what foil accepts it must be able to write back), and, when
 * its input is small, run on two examples with an input gradient: shape
 * inference, planning and the ops' own run-time checks (a Gather index out
 * of range) must end in a clean error too, without leaking. Plans are held
 * to 256 MiB, under libFuzzer's 2 GB memory limit: a model whose shapes ask
 * for more must be refused by the plan's limit (foilGraphPlanLimit).
 */
#include <stdlib.h>

#include "foil/model.h"
#include "fuzz_common.h"
#include "io/onnx.h"
#include "model/model_internal.h"
#include "nn/graph.h"

enum { MAX_EXAMPLE_FEATURES = 1024, EXAMPLES = 2 };

static void round_trip(const FoilGraph *g)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    foil_clear_error();
    foil_status st = foilOnnxSaveBuffer(g, &bytes, &len);
    fuzz_expect_message(st);
    if (!st) {
        FoilGraph *again = NULL;
        foil_clear_error();
        fuzz_expect_message(foilOnnxLoadBuffer(bytes, len, "fuzz-exported.onnx", &again));
        foilGraphFree(again);
    }
    free(bytes);
}

/* Two examples shaped as the model declares (batch first); 0 when the
 * shape is not fully declared or one example is too large to be quick. */
static int make_input(foil_model *m, foil_tensor *x)
{
    int rank = foil_model_input_rank(m);
    const int64_t *decl = foil_model_input_shape(m);
    int64_t shape[FOIL_MAX_DIMS], per = 1;
    shape[0] = decl[0] > 0 ? decl[0] : EXAMPLES;
    for (int d = 1; d < rank; d++) {
        if (decl[d] <= 0 || decl[d] > MAX_EXAMPLE_FEATURES) return 0;
        shape[d] = decl[d];
        per *= decl[d];
        if (per > MAX_EXAMPLE_FEATURES) return 0;
    }
    if (shape[0] > EXAMPLES || foil_tensor_alloc(x, FOIL_F32, rank, shape)) return 0;
    for (int64_t i = 0; i < x->numel; i++) foil_f32(x)[i] = (float)(i % 7) / 7.0f;
    return 1;
}

static void run_model(FoilGraph *g)
{
    foil_model *m = NULL;
    foil_clear_error();
    foil_status st = foilModelFromGraph(g, &m); /* takes g, even on failure */
    fuzz_expect_message(st);
    if (st) return;
    foil_tensor x = {0}, logits = {0}, grad = {0};
    if (make_input(m, &x)) {
        foil_clear_error();
        st = foil_model_predict(m, &x, &logits);
        fuzz_expect_message(st);
        if (!st) {
            int64_t labels[EXAMPLES] = {0};
            foil_clear_error();
            fuzz_expect_message(foil_model_loss_input_grad(m, &x, labels, NULL, NULL, &grad));
        }
    }
    foil_tensor_free(&x);
    foil_tensor_free(&logits);
    foil_tensor_free(&grad);
    foil_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FoilGraph *g = NULL;
    foilGraphPlanLimit = (int64_t)256 << 20;
    foil_clear_error();
    foil_status st = foilOnnxLoadBuffer(data, size, "fuzz.onnx", &g);
    fuzz_expect_message(st);
    if (st) return 0;
    round_trip(g);
    run_model(g);
    return 0;
}
