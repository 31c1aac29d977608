/*
 * tests/test_ops_rnn.c - LSTM and GRU (src/nn/ops/rnn.c).
 *
 * Forward values are checked by the ONNX conformance cases (defaults,
 * initial bias, peepholes, batch-first layout, sequence lengths); here every
 * differentiable input's gradient is checked against finite differences
 * through all three outputs at once, with both directions, peepholes,
 * sequences of different lengths and both GRU reset variants, and the
 * unsupported attributes must be refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "op_harness.h"

#define GRAD_TOL 1e-2

/* An LSTM (G = 4) or GRU (G = 3) of T steps, batch B, input NI, hidden H,
 * D directions, every optional input present (sequence lengths 3 and T). */
static op_case *rnn_case(const char *type, int G, int D, int layout, int64_t T, int64_t B, int64_t NI, int64_t H)
{
    int lstm = G == 4;
    op_case *oc = opc_new(type, lstm ? 8 : 6, lstm ? 3 : 2);
    oc->node.opset = 14;
    const int64_t xs[3] = {layout ? B : T, layout ? T : B, NI}, ws[3] = {D, G * H, NI}, rs[3] = {D, G * H, H};
    const int64_t bs[2] = {D, 2 * G * H}, hs[3] = {layout ? B : D, layout ? D : B, H}, ps[2] = {D, 3 * H};
    opc_input_randn(oc, 0, 3, xs, 0.8f, 1);
    opc_input_randn(oc, 1, 3, ws, 0.5f, 2);
    opc_input_randn(oc, 2, 3, rs, 0.5f, 3);
    opc_input_randn(oc, 3, 2, bs, 0.3f, 4);
    int32_t lens[8];
    for (int64_t b = 0; b < B; b++) lens[b] = b % 2 ? 3 : (int32_t)T;
    opc_input(oc, 4, FOIL_I32, 1, &B, lens, 1);
    opc_input_randn(oc, 5, 3, hs, 0.5f, 5);
    if (lstm) {
        opc_input_randn(oc, 6, 3, hs, 0.5f, 6);
        opc_input_randn(oc, 7, 2, ps, 0.5f, 7);
    }
    opc_attr_int(oc, "hidden_size", H);
    opc_attr_int(oc, "layout", layout);
    if (D == 2) opc_attr_string(oc, "direction", "bidirectional");
    return oc;
}

static void gradcheck_all(op_case *oc, int n_in)
{
    if (opc_prepare(oc)) fail_msg("prepare: %s", foil_last_error());
    for (int i = 0; i < n_in; i++) {
        if (i == 4) continue; /* sequence_lens */
        double err = opc_gradcheck(oc, i, 1e-2f, 0);
        if (!(err < GRAD_TOL)) fail_msg("%s: gradient of input %d: relative error %g", oc->node.op_type, i, err);
    }
}

static void test_lstm(void **state)
{
    (void)state;
    op_case *oc = rnn_case("LSTM", 4, 2, 0, 5, 2, 3, 4);
    gradcheck_all(oc, 8);
    opc_free(oc);
    oc = rnn_case("LSTM", 4, 1, 1, 4, 3, 2, 3);
    opc_attr_string(oc, "direction", "reverse");
    gradcheck_all(oc, 8);
    opc_free(oc);
    /* refused: clip, other activations, a W of the wrong shape */
    oc = rnn_case("LSTM", 4, 1, 0, 2, 2, 2, 2);
    opc_attr_float(oc, "clip", 3.0f);
    foil_clear_error();
    assert_int_equal(opc_prepare(oc), FOIL_ERR_UNSUPPORTED);
    assert_non_null(strstr(foil_last_error(), "clip"));
    opc_free(oc);
    oc = rnn_case("LSTM", 3, 1, 0, 2, 2, 2, 2); /* 3 gates' worth of W */
    assert_int_equal(opc_prepare(oc), FOIL_ERR_SHAPE);
    opc_free(oc);
}

static void test_gru(void **state)
{
    (void)state;
    for (int lbr = 0; lbr < 2; lbr++) {
        op_case *oc = rnn_case("GRU", 3, 2, lbr, 5, 2, 3, 4);
        opc_attr_int(oc, "linear_before_reset", lbr);
        gradcheck_all(oc, 6);
        opc_free(oc);
    }
    op_case *oc = rnn_case("GRU", 3, 1, 0, 2, 2, 2, 2);
    opc_attr_strings(oc, "activations", 2, (const char *const[]){"Relu", "Tanh"});
    foil_clear_error();
    assert_int_equal(opc_prepare(oc), FOIL_ERR_UNSUPPORTED);
    assert_non_null(strstr(foil_last_error(), "Relu"));
    opc_free(oc);
}

int main(void)
{
    opc_skip_unless_kernels_run();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lstm),
        cmocka_unit_test(test_gru),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
