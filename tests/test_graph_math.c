/*
 * tests/test_graph_math.c - the new math, comparison, reduction and
 * normalization ops inside one graph, as a transformer block exported by
 * PyTorch uses them: LayerNormalization, an Erf-based Gelu (Div, Erf, Add,
 * Mul), ReduceMean with its axes as an int64 initializer (opset 18),
 * HardSwish, a bool condition computed at run time (Less) feeding Where,
 * Exp, Pow, ReduceSum. The graph's input gradient (foilGraphBackward)
 * against finite differences of the graph's output, and the parameters'
 * gradients (LayerNorm's scale) likewise: the ops' backward passes chained
 * through the planner, with bool values that get no gradient buffers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "foil/rng.h"
#include "io/onnx.h"
#include "nn/builder.h"
#include "nn/graph.h"

#define N 2
#define T 3
#define C 4

static FoilGraph *build_block(void)
{
    FoilBuilder b;
    assert_int_equal(foilBuilderBegin(&b, "block", 18), FOIL_OK);
    float s[C], bias[C], w[C];
    foil_rng r = foil_rng_make(3, 0);
    for (int i = 0; i < C; i++) {
        s[i] = 1.0f + 0.3f * (float)foil_rng_normal(&r);
        bias[i] = 0.2f * (float)foil_rng_normal(&r);
        w[i] = (float)foil_rng_normal(&r);
    }
    int x = foilBuilderInput(&b, "x", FOIL_F32, 3, (int64_t[]){N, T, C}, NULL);
    int ps = foilBuilderParam(&b, "ln.scale", 1, (int64_t[]){C}, s);
    int pb = foilBuilderParam(&b, "ln.bias", 1, (int64_t[]){C}, bias);
    int pw = foilBuilderParam(&b, "w", 1, (int64_t[]){C}, w);
    int h = foilBuilderOp(&b, "LayerNormalization", "ln", FOIL_B_IN(x, ps, pb),
                          FOIL_B_ATTRS(FOIL_BATTR_INT("axis", -1)));
    int z = foilBuilderOp(&b, "Mul", "scale", FOIL_B_IN(h, pw), FOIL_B_NO_ATTRS);
    /* Gelu as torch.onnx writes it before opset 20: x * 0.5 * (1 + erf(x / sqrt 2)) */
    int sqrt2 = foilBuilderConstant(&b, "sqrt2", 0, NULL, (float[]){1.41421356f});
    int one = foilBuilderConstant(&b, "one", 0, NULL, (float[]){1.0f});
    int half = foilBuilderConstant(&b, "half", 0, NULL, (float[]){0.5f});
    int u = foilBuilderOp(&b, "Div", "gelu.div", FOIL_B_IN(z, sqrt2), FOIL_B_NO_ATTRS);
    int e = foilBuilderOp(&b, "Erf", "gelu.erf", FOIL_B_IN(u), FOIL_B_NO_ATTRS);
    int e1 = foilBuilderOp(&b, "Add", "gelu.add", FOIL_B_IN(e, one), FOIL_B_NO_ATTRS);
    int g1 = foilBuilderOp(&b, "Mul", "gelu.mul", FOIL_B_IN(z, e1), FOIL_B_NO_ATTRS);
    int g = foilBuilderOp(&b, "Mul", "gelu.half", FOIL_B_IN(g1, half), FOIL_B_NO_ATTRS);
    int axes = foilBuilderConstI64(&b, "axes", 1, (int64_t[]){1}, (int64_t[]){1});
    int m = foilBuilderOp(&b, "ReduceMean", "pool", FOIL_B_IN(g, axes), FOIL_B_ATTRS(FOIL_BATTR_INT("keepdims", 0)));
    int hs = foilBuilderOp(&b, "HardSwish", "hswish", FOIL_B_IN(m), FOIL_B_NO_ATTRS);
    int zero = foilBuilderConstant(&b, "zero", 0, NULL, (float[]){0.0f});
    int neg = foilBuilderOp(&b, "Less", "is_neg", FOIL_B_IN(m, zero), FOIL_B_NO_ATTRS);
    int ex = foilBuilderOp(&b, "Exp", "exp", FOIL_B_IN(m), FOIL_B_NO_ATTRS);
    int sel = foilBuilderOp(&b, "Where", "select", FOIL_B_IN(neg, ex, hs), FOIL_B_NO_ATTRS);
    int two = foilBuilderConstant(&b, "two", 0, NULL, (float[]){2.0f});
    int sq = foilBuilderOp(&b, "Pow", "square", FOIL_B_IN(sel, two), FOIL_B_NO_ATTRS);
    int axes2 = foilBuilderConstI64(&b, "axes2", 1, (int64_t[]){1}, (int64_t[]){-1});
    int y = foilBuilderOp(&b, "ReduceSum", "sum", FOIL_B_IN(sq, axes2), FOIL_B_NO_ATTRS);
    foilBuilderOutput(&b, y, FOIL_F32, 2, (int64_t[]){N, 1}, NULL);
    FoilGraph *graph = NULL;
    if (foilBuilderFinish(&b, &graph)) fail_msg("%s", foil_last_error());
    return graph;
}

/* Sum of the output with weights wv (fixed), at the current input. */
static double loss(FoilGraph *g, const foil_tensor *x, const float *wv)
{
    const foil_tensor *in[1] = {x};
    if (foilGraphForward(g, in, 0, 0)) fail_msg("%s", foil_last_error());
    const float *y = foil_f32(foilGraphOutput(g, 0));
    double l = 0;
    for (int i = 0; i < N; i++) l += (double)wv[i] * y[i];
    return l;
}

/* Each p[i] (an input or a weight, n values) moved by +-h: the loss's
 * central difference against the gradient backward gave. */
static void check_fd(FoilGraph *g, const foil_tensor *x, const float *wv, float *p, int64_t n, const float *analytic,
                     const char *what)
{
    const float h = 1e-3f;
    for (int64_t i = 0; i < n; i++) {
        const float saved = p[i];
        p[i] = saved + h;
        double lp = loss(g, x, wv);
        p[i] = saved - h;
        double lm = loss(g, x, wv);
        p[i] = saved;
        double num = (lp - lm) / (2.0 * h);
        if (fabs(num - analytic[i]) > 1e-2 * (1 + fabs(num)))
            fail_msg("d %s[%lld]: backward %g, finite difference %g", what, (long long)i, analytic[i], num);
    }
}

static void test_block_gradients(void **state)
{
    (void)state;
    FoilGraph *g = build_block();
    foil_tensor x = {0}, dy = {0};
    assert_int_equal(foil_tensor_alloc(&x, FOIL_F32, 3, (int64_t[]){N, T, C}), FOIL_OK);
    assert_int_equal(foil_tensor_alloc(&dy, FOIL_F32, 2, (int64_t[]){N, 1}), FOIL_OK);
    foil_rng r = foil_rng_make(11, 0);
    float *xv = foil_f32(&x);
    for (int64_t i = 0; i < x.numel; i++) xv[i] = (float)foil_rng_normal(&r);
    const float wv[N] = {1.0f, -0.7f};
    memcpy(dy.data, wv, sizeof wv);
    const foil_tensor *in[1] = {&x};
    assert_int_equal(foilGraphPlan(g, in), FOIL_OK);
    /* both branches of Where are taken */
    (void)loss(g, &x, wv);
    int neg = 0;
    for (int k = 0; k < g->n_nodes; k++)
        if (strcmp(g->nodes[k].name, "is_neg") == 0) {
            const foil_tensor *c = &g->values[g->nodes[k].out[0]].t;
            assert_int_equal(c->dtype, FOIL_BOOL);
            assert_null(g->values[g->nodes[k].out[0]].grad.data); /* no gradient buffer for bool */
            for (int64_t i = 0; i < c->numel; i++) neg += ((const uint8_t *)c->data)[i];
            assert_true(neg > 0 && neg < c->numel);
        }
    assert_true(neg > 0);
    const foil_tensor *dys[1] = {&dy};
    assert_int_equal(foilGraphBackward(g, dys, FOIL_GRAD_INPUTS | FOIL_GRAD_PARAMS), FOIL_OK);
    const foil_tensor *dx = foilGraphInputGrad(g, 0);
    float *analytic = malloc((size_t)x.numel * sizeof *analytic);
    memcpy(analytic, dx->data, (size_t)x.numel * sizeof *analytic);
    check_fd(g, &x, wv, xv, x.numel, analytic, "x");
    /* LayerNorm's scale, a trained parameter */
    int ps = foilGraphFindValue(g, "ln.scale");
    assert_true(ps >= 0);
    float ds[C];
    memcpy(ds, g->values[ps].grad.data, sizeof ds);
    check_fd(g, &x, wv, foil_f32(&g->values[ps].t), C, ds, "ln.scale");
    free(analytic);
    foil_tensor_free(&x);
    foil_tensor_free(&dy);
    foilGraphFree(g);
}

/* Gelu is an opset-20 operator: a model of that opset, in both forms,
 * through the ONNX writer and reader; opset 21 is refused by name. */
static void test_gelu_opset20_file(void **state)
{
    (void)state;
    for (int opset = 20; opset <= 21; opset++) {
        FoilBuilder b;
        assert_int_equal(foilBuilderBegin(&b, "gelu", opset), FOIL_OK);
        int x = foilBuilderInput(&b, "x", FOIL_F32, 1, (int64_t[]){5}, NULL);
        int y0 = foilBuilderOp(&b, "Gelu", "exact", FOIL_B_IN(x), FOIL_B_NO_ATTRS);
        int y1 = foilBuilderOp(&b, "Gelu", "approx", FOIL_B_IN(x),
                               FOIL_B_ATTRS(FOIL_BATTR_STRING("approximate", "tanh")));
        foilBuilderOutput(&b, y0, FOIL_F32, 1, (int64_t[]){5}, NULL);
        foilBuilderOutput(&b, y1, FOIL_F32, 1, (int64_t[]){5}, NULL);
        FoilGraph *g = NULL;
        if (foilBuilderFinish(&b, &g)) fail_msg("%s", foil_last_error());
        uint8_t *buf = NULL;
        size_t len = 0;
        assert_int_equal(foilOnnxSaveBuffer(g, &buf, &len), FOIL_OK);
        foilGraphFree(g);
        g = NULL;
        foil_status st = foilOnnxLoadBuffer(buf, len, "gelu.onnx", &g);
        free(buf);
        if (opset == 21) {
            assert_int_equal(st, FOIL_ERR_UNSUPPORTED);
            assert_non_null(strstr(foil_last_error(), "opset 21"));
            continue;
        }
        if (st) fail_msg("%s", foil_last_error());
        const float xv[5] = {-3.0f, -0.5f, 0.0f, 0.7f, 2.5f};
        foil_tensor x5 = {0};
        assert_int_equal(foil_tensor_alloc(&x5, FOIL_F32, 1, (int64_t[]){5}), FOIL_OK);
        memcpy(x5.data, xv, sizeof xv);
        const foil_tensor *in[1] = {&x5};
        assert_int_equal(foilGraphPlan(g, in), FOIL_OK);
        assert_int_equal(foilGraphForward(g, in, 0, 0), FOIL_OK);
        for (int i = 0; i < 5; i++) {
            double v = xv[i];
            double exact = 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
            double approx = 0.5 * v * (1.0 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
            assert_float_equal(foil_f32(foilGraphOutput(g, 0))[i], exact, 1e-6);
            assert_float_equal(foil_f32(foilGraphOutput(g, 1))[i], approx, 1e-6);
        }
        foil_tensor_free(&x5);
        foilGraphFree(g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_gradients),
        cmocka_unit_test(test_gelu_opset20_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
