/*
 * tests/test_plan_limit.c - a model whose shapes ask for more memory than a
 * plan may take (foilGraphPlanLimit) gets a clear error naming the node and
 * what to change, and leaves the model usable. Found by fuzz_onnx: a Conv
 * padded by 2^31 - 1 on one side planned a 2.4 GB output for two examples.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "foil/model.h"
#include "model/model_internal.h"
#include "nn/builder.h"
#include "nn/graph.h"

#define SIDE 4
#define MIB ((int64_t)1 << 20)

/* x (N, 1, 4, 4) -> Conv 3x3 (2 channels) padded by pad_end at the right
 * -> GlobalAveragePool -> Flatten: (N, 2) logits. */
static foil_model *conv_model(int64_t pad_end)
{
    static const float w[2 * 9] = {1, 0, -1, 1, 0, -1, 1, 0, -1, 0.5f, 0.5f, 0.5f, 0, 0, 0, -0.5f, -0.5f, -0.5f};
    FoilBuilder b;
    assert_int_equal(foilBuilderBegin(&b, "padded-conv", 13), FOIL_OK);
    int x = foilBuilderInput(&b, "x", FOIL_F32, 4, (int64_t[]){-1, 1, SIDE, SIDE}, NULL);
    int wv = foilBuilderParam(&b, "W", 4, (int64_t[]){2, 1, 3, 3}, w);
    int c = foilBuilderOp(&b, "Conv", "wide_conv", FOIL_B_IN(x, wv),
                          FOIL_B_ATTRS(FOIL_BATTR_INTS("pads", 1, 1, 1, pad_end),
                                       FOIL_BATTR_INTS("kernel_shape", 3, 3)));
    int p = foilBuilderOp(&b, "GlobalAveragePool", "mean", FOIL_B_IN(c), FOIL_B_NO_ATTRS);
    int y = foilBuilderOp(&b, "Flatten", "logits", FOIL_B_IN(p), FOIL_B_NO_ATTRS);
    foilBuilderOutput(&b, y, FOIL_F32, 2, (int64_t[]){-1, 2}, NULL);
    FoilGraph *g;
    if (foilBuilderFinish(&b, &g)) fail_msg("%s", foil_last_error());
    foil_model *m;
    if (foilModelFromGraph(g, &m)) fail_msg("%s", foil_last_error());
    return m;
}

static foil_status predict(foil_model *m, int64_t n, foil_tensor *logits)
{
    foil_tensor x = {0};
    assert_int_equal(foil_tensor_alloc(&x, FOIL_F32, 4, (int64_t[]){n, 1, SIDE, SIDE}), FOIL_OK);
    for (int64_t i = 0; i < x.numel; i++) foil_f32(&x)[i] = (float)(i % 7) / 7.0f;
    foil_clear_error();
    foil_status st = foil_model_predict(m, &x, logits);
    foil_tensor_free(&x);
    return st;
}

/* Padding of 2^24 on one side: a (2, 2, 4, 2^24) output, 1 GiB, plus
 * its gradient and workspace. Refused under a 64 MiB limit, by name. */
static void test_huge_padding_is_refused(void **state)
{
    (void)state;
    foilGraphPlanLimit = 64 * MIB;
    foil_model *m = conv_model((int64_t)1 << 24);
    foil_tensor logits = {0};
    assert_int_equal(predict(m, 2, &logits), FOIL_ERR_NOMEM);
    const char *msg = foil_last_error();
    assert_non_null(strstr(msg, "wide_conv"));
    assert_non_null(strstr(msg, "64 MiB"));
    assert_non_null(strstr(msg, "--batch"));
    foil_tensor_free(&logits);
    foil_model_free(m);
    foilGraphPlanLimit = 0;
}

/* The limit counts the whole plan: a batch that fits plans, a batch whose
 * buffers together pass the limit is refused, and the model still runs the
 * batch that fit afterwards, with the same answer. */
static void test_limit_counts_the_batch(void **state)
{
    (void)state;
    foilGraphPlanLimit = 4 * MIB;
    foil_model *m = conv_model(1);
    foil_tensor small = {0}, again = {0}, large = {0};
    assert_int_equal(predict(m, 8, &small), FOIL_OK);
    /* per example: 2 x 4 x 5 floats of output, about 40 more in other
     * buffers and workspace: 64k examples need well over 4 MiB */
    foil_model_set_max_batch(m, 1 << 16);
    assert_int_equal(predict(m, 1 << 16, &large), FOIL_ERR_NOMEM);
    assert_non_null(strstr(foil_last_error(), "--batch"));
    assert_int_equal(predict(m, 8, &again), FOIL_OK);
    assert_memory_equal(small.data, again.data, foil_tensor_nbytes(&small));
    foilGraphPlanLimit = 0;
    assert_int_equal(predict(m, 1 << 16, &large), FOIL_OK);
    assert_memory_equal(small.data, large.data, foil_tensor_nbytes(&small));
    foil_tensor_free(&small);
    foil_tensor_free(&again);
    foil_tensor_free(&large);
    foil_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_huge_padding_is_refused),
        cmocka_unit_test(test_limit_counts_the_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
