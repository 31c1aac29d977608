/*
 * tests/fuzz/fuzz_onnx.c - libFuzzer target for the ONNX importer
 * (protobuf parse, initializers, nodes, attributes, graph checks), from
 * memory through foil_onnx_load_buffer. A model that loads is exported and
 * loaded again: what foil accepts it must also be able to write back.
 */
#include <stdlib.h>

#include "fuzz_common.h"
#include "io/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    foil_graph *g = NULL;
    foil_clear_error();
    foil_status st = foil_onnx_load_buffer(data, size, "fuzz.onnx", &g);
    fuzz_expect_message(st);
    if (st) return 0;
    uint8_t *bytes = NULL;
    size_t len = 0;
    foil_clear_error();
    st = foil_onnx_save_buffer(g, &bytes, &len);
    fuzz_expect_message(st);
    if (!st) {
        foil_graph *again = NULL;
        foil_clear_error();
        st = foil_onnx_load_buffer(bytes, len, "fuzz-exported.onnx", &again);
        fuzz_expect_message(st);
        foil_graph_free(again);
    }
    free(bytes);
    foil_graph_free(g);
    return 0;
}
