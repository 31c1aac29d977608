/*
 * tests/test_graph_shapes.c - output shapes decided by values the planner
 * knows: shape-computing subgraphs (Shape -> Gather -> Concat) feeding
 * Expand and Slice, as ViT and ShuffleNetV2 exports have them, re-planned
 * for a new batch size; and the clear error when such a value really comes
 * from the data.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "nn/builder.h"
#include "nn/graph.h"
#include "op_harness.h"

/* x (N,4,6) -> cls token (1,1,6) expanded to (N,1,6) by a shape computed
 * from Shape(x); concatenated in front of x -> (N,5,6); sliced [2, 4) on
 * axis 1, the end read from Shape(x) -> (N,2,6), which is x[:, 1:3, :].
 * Also Split(x, [1, 3]) on axis 1: its first output is x[:, 0:1, :]. */
static FoilGraph *vit_like(void)
{
    FoilBuilder b;
    foilBuilderBegin(&b, "vit-like", 13);
    const char *dyn[3] = {"N", NULL, NULL};
    int x = foilBuilderInput(&b, "x", FOIL_F32, 3, (int64_t[]){-1, 4, 6}, dyn);
    float cls_data[6] = {1, 2, 3, 4, 5, 6};
    int cls = foilBuilderParam(&b, "cls", 3, (int64_t[]){1, 1, 6}, cls_data);
    int s = foilBuilderOp(&b, "Shape", "shape", FOIL_B_IN(x), FOIL_B_NO_ATTRS);
    int i0 = foilBuilderConstI64(&b, "i0", 1, (int64_t[]){1}, (int64_t[]){0});
    int i1 = foilBuilderConstI64(&b, "i1", 1, (int64_t[]){1}, (int64_t[]){1});
    int n = foilBuilderOp(&b, "Gather", "batch", FOIL_B_IN(s, i0), FOIL_B_NO_ATTRS);
    int rest = foilBuilderConstI64(&b, "rest", 1, (int64_t[]){2}, (int64_t[]){1, 6});
    int shp = foilBuilderOp(&b, "Concat", "cls_shape", FOIL_B_IN(n, rest), FOIL_B_ATTRS(FOIL_BATTR_INT("axis", 0)));
    int e = foilBuilderOp(&b, "Expand", "cls_expand", FOIL_B_IN(cls, shp), FOIL_B_NO_ATTRS);
    int cat = foilBuilderOp(&b, "Concat", "tokens", FOIL_B_IN(e, x), FOIL_B_ATTRS(FOIL_BATTR_INT("axis", 1)));
    int st = foilBuilderConstI64(&b, "start", 1, (int64_t[]){1}, (int64_t[]){2});
    int end = foilBuilderOp(&b, "Gather", "channels", FOIL_B_IN(s, i1), FOIL_B_NO_ATTRS);
    int sl = foilBuilderOp(&b, "Slice", "slice", FOIL_B_IN(cat, st, end, i1), FOIL_B_NO_ATTRS);
    int split = foilBuilderConstI64(&b, "split", 1, (int64_t[]){2}, (int64_t[]){1, 3});
    int parts[2];
    foilBuilderNode(&b, "Split", "split", FOIL_B_IN(x, split), 2, (const char *const[]){"p0", "p1"}, parts,
                      FOIL_B_ATTRS(FOIL_BATTR_INT("axis", 1)));
    foilBuilderOutput(&b, sl, FOIL_F32, 3, (int64_t[]){-1, 2, 6}, dyn);
    foilBuilderOutput(&b, parts[0], FOIL_F32, 3, (int64_t[]){-1, 1, 6}, dyn);
    FoilGraph *g = NULL;
    if (foilBuilderFinish(&b, &g)) fail_msg("build: %s", foil_last_error());
    return g;
}

static void test_shapes_from_shape_subgraph(void **state)
{
    (void)state;
    FoilGraph *g = vit_like();
    for (int64_t N = 2; N <= 3; N++) {
        foil_tensor x = {0};
        assert_int_equal(foil_tensor_alloc(&x, FOIL_F32, 3, (int64_t[]){N, 4, 6}), 0);
        for (int64_t i = 0; i < x.numel; i++) foil_f32(&x)[i] = (float)i;
        const foil_tensor *in[1] = {&x};
        if (foilGraphPlan(g, in) || foilGraphForward(g, in, 0, 0)) fail_msg("%s", foil_last_error());
        const foil_tensor *y = foilGraphOutput(g, 0), *p0 = foilGraphOutput(g, 1);
        assert_int_equal(y->ndim, 3);
        assert_int_equal(y->shape[0], N);
        assert_int_equal(y->shape[1], 2);
        for (int64_t b = 0; b < N; b++)
            for (int64_t c = 0; c < 2; c++)
                for (int64_t k = 0; k < 6; k++)
                    assert_float_equal(foil_f32(y)[(b * 2 + c) * 6 + k], foil_f32(&x)[(b * 4 + c + 1) * 6 + k], 0.0f);
        assert_int_equal(p0->shape[0], N);
        assert_int_equal(p0->shape[1], 1);
        for (int64_t b = 0; b < N; b++)
            for (int64_t k = 0; k < 6; k++)
                assert_float_equal(foil_f32(p0)[b * 6 + k], foil_f32(&x)[b * 24 + k], 0.0f);
        foil_tensor_free(&x);
    }
    foilGraphFree(g);
}

/* Slice whose start is computed from the data (Cast of a float input): the
 * plan fails, naming the node and saying why. */
static void test_data_dependent_shape_refused(void **state)
{
    (void)state;
    FoilBuilder b;
    foilBuilderBegin(&b, "data-dependent", 13);
    int x = foilBuilderInput(&b, "x", FOIL_F32, 1, (int64_t[]){1}, NULL);
    int data = foilBuilderParam(&b, "data", 1, (int64_t[]){5}, NULL);
    int start = foilBuilderOp(&b, "Cast", "to_int", FOIL_B_IN(x), FOIL_B_ATTRS(FOIL_BATTR_INT("to", FOIL_I64)));
    int end = foilBuilderConstI64(&b, "end", 1, (int64_t[]){1}, (int64_t[]){5});
    int y = foilBuilderOp(&b, "Slice", "slice_by_data", FOIL_B_IN(data, start, end), FOIL_B_NO_ATTRS);
    foilBuilderOutput(&b, y, FOIL_F32, -1, NULL, NULL);
    FoilGraph *g = NULL;
    if (foilBuilderFinish(&b, &g)) fail_msg("build: %s", foil_last_error());
    foil_tensor xt = {0};
    assert_int_equal(foil_tensor_alloc(&xt, FOIL_F32, 1, (int64_t[]){1}), 0);
    foil_f32(&xt)[0] = 2.0f;
    const foil_tensor *in[1] = {&xt};
    foil_clear_error();
    assert_int_equal(foilGraphPlan(g, in), FOIL_ERR_UNSUPPORTED);
    assert_non_null(strstr(foil_last_error(), "slice_by_data"));
    assert_non_null(strstr(foil_last_error(), "data-dependent"));
    foil_tensor_free(&xt);
    foilGraphFree(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes_from_shape_subgraph),
        cmocka_unit_test(test_data_dependent_shape_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
