/*
 * tests/test_model_outputs.c - a classifier with more outputs than its
 * logits (exported models often add probabilities) takes gradients and
 * trains like one without: backward reads one output gradient per graph
 * output, and the estimator passed one. Found by fuzz_onnx (an output
 * listed twice), where it crashed in foilGraphBackward.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>

#include <cmocka.h>

#include "foil/model.h"
#include "model/model_internal.h"
#include "nn/builder.h"

#define FEATURES 3
#define CLASSES 2
#define EXAMPLES 4

/* logits = x W; with_probabilities adds Softmax(logits) as a second output. */
static foil_model *model(int with_probabilities)
{
    static const float w[FEATURES * CLASSES] = {1, -2, 0.5f, 1, -1, 0.25f};
    FoilBuilder b;
    assert_int_equal(foilBuilderBegin(&b, "two-outputs", 13), FOIL_OK);
    int x = foilBuilderInput(&b, "x", FOIL_F32, 2, (int64_t[]){-1, FEATURES}, NULL);
    int wv = foilBuilderParam(&b, "W", 2, (int64_t[]){FEATURES, CLASSES}, w);
    int y = foilBuilderOp(&b, "MatMul", "logits", FOIL_B_IN(x, wv), FOIL_B_NO_ATTRS);
    foilBuilderOutput(&b, y, FOIL_F32, 2, (int64_t[]){-1, CLASSES}, NULL);
    if (with_probabilities) {
        int p = foilBuilderOp(&b, "Softmax", "probabilities", FOIL_B_IN(y), FOIL_B_ATTRS(FOIL_BATTR_INT("axis", 1)));
        foilBuilderOutput(&b, p, FOIL_F32, 2, (int64_t[]){-1, CLASSES}, NULL);
    }
    FoilGraph *g;
    if (foilBuilderFinish(&b, &g)) fail_msg("%s", foil_last_error());
    foil_model *m;
    if (foilModelFromGraph(g, &m)) fail_msg("%s", foil_last_error());
    return m;
}

static void input_grad(foil_model *m, foil_tensor *grad)
{
    foil_tensor x = {0};
    assert_int_equal(foil_tensor_alloc(&x, FOIL_F32, 2, (int64_t[]){EXAMPLES, FEATURES}), FOIL_OK);
    for (int64_t i = 0; i < x.numel; i++) foil_f32(&x)[i] = (float)(i % 5) / 5.0f - 0.3f;
    const int64_t labels[EXAMPLES] = {0, 1, 1, 0};
    float loss[EXAMPLES];
    if (foil_model_loss_input_grad(m, &x, labels, loss, NULL, grad)) fail_msg("%s", foil_last_error());
    foil_tensor_free(&x);
}

static void test_second_output_gets_no_gradient(void **state)
{
    (void)state;
    foil_model *one = model(0), *two = model(1);
    foil_tensor g1 = {0}, g2 = {0};
    input_grad(one, &g1);
    input_grad(two, &g2);
    for (int64_t i = 0; i < g1.numel; i++) assert_float_equal(foil_f32(&g1)[i], foil_f32(&g2)[i], 0);
    double norm = 0;
    for (int64_t i = 0; i < g1.numel; i++) norm += fabs(foil_f32(&g1)[i]);
    assert_true(norm > 0.1); /* a real gradient, not two zero ones */
    foil_tensor_free(&g1);
    foil_tensor_free(&g2);
    foil_model_free(one);
    foil_model_free(two);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_second_output_gets_no_gradient)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
