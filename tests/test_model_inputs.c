/*
 * tests/test_model_inputs.c - how a model meets its inputs, on small models
 * built here: a graph declared for batch 1 runs at a larger batch when it
 * gives every example its own logits and falls back to chunks of 1 when it
 * cannot (a constant Reshape) or would mix examples (Softmax over the batch);
 * examples of another shape with as many values are fed in the declared
 * shape, a real mismatch names both shapes; --normalize's graph computes
 * (x - mean) / std per channel, differentiates through it, and exports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "foil/model.h"
#include "model/model_internal.h"
#include "nn/builder.h"

enum { F = 6, C = 4, N = 10 };

/* Deterministic values in [-1, 1). */
static float value_at(int64_t i, int salt) { return (float)((i * 7919 + salt * 104729) % 2001) / 1000.0f - 1.0f; }

static void fill(float *v, int64_t n, int salt)
{
    for (int64_t i = 0; i < n; i++) v[i] = value_at(i, salt);
}

/* in_shape -> [Flatten ->] [Reshape to (1, F) ->] Gemm(F -> C) [-> Softmax(axis 0)]. */
typedef struct net_kind {
    int ndim;
    int64_t shape[4];
    int const_reshape; /* mnist-8's Reshape to a constant (1, F): batch 1 only */
    int batch_softmax; /* Softmax over axis 0: logits (B, C) that mix examples */
} net_kind;

static foil_model *build(const net_kind *k)
{
    FoilBuilder b;
    assert_int_equal(foilBuilderBegin(&b, "test-net", 13), FOIL_OK);
    int x = foilBuilderInput(&b, "input", FOIL_F32, k->ndim, k->shape, NULL);
    float w[C * F], bias[C];
    fill(w, C * F, 1);
    fill(bias, C, 2);
    int wv = foilBuilderParam(&b, "W", 2, (int64_t[]){C, F}, w);
    int bv = foilBuilderParam(&b, "B", 1, (int64_t[]){C}, bias);
    int h = foilBuilderOp(&b, "Flatten", "flat", FOIL_B_IN(x), FOIL_B_NO_ATTRS);
    if (k->const_reshape) {
        int s = foilBuilderConstI64(&b, "shape", 1, (int64_t[]){2}, (int64_t[]){1, F});
        h = foilBuilderOp(&b, "Reshape", "reshape", FOIL_B_IN(h, s), FOIL_B_NO_ATTRS);
    }
    int y = foilBuilderOp(&b, "Gemm", "fc", FOIL_B_IN(h, wv, bv), FOIL_B_ATTRS(FOIL_BATTR_INT("transB", 1)));
    if (k->batch_softmax) y = foilBuilderOp(&b, "Softmax", "mix", FOIL_B_IN(y), FOIL_B_ATTRS(FOIL_BATTR_INT("axis", 0)));
    foilBuilderOutput(&b, y, FOIL_F32, 2, (int64_t[]){k->shape[0], C}, NULL);
    FoilGraph *g;
    assert_int_equal(foilBuilderFinish(&b, &g), FOIL_OK);
    foil_model *m;
    assert_int_equal(foilModelFromGraph(g, &m), FOIL_OK);
    return m;
}

static void alloc_filled(foil_tensor *t, int ndim, const int64_t *shape, int salt)
{
    assert_int_equal(foil_tensor_alloc(t, FOIL_F32, ndim, shape), FOIL_OK);
    fill(foil_f32(t), t->numel, salt);
}

/* Logits of each example run alone (batch 1), the reference. */
static void logits_one_by_one(foil_model *m, const foil_tensor *x, float *out)
{
    foil_tensor one = *x, y = {0};
    one.shape[0] = 1;
    one.numel = x->numel / x->shape[0];
    for (int64_t i = 0; i < x->shape[0]; i++) {
        one.data = foil_f32(x) + i * one.numel;
        assert_int_equal(foil_model_predict(m, &one, &y), FOIL_OK);
        memcpy(out + i * C, y.data, C * sizeof(float));
        foil_tensor_free(&y);
    }
}

static void assert_close(const float *a, const float *b, int64_t n, float tol)
{
    for (int64_t i = 0; i < n; i++)
        if (!(fabsf(a[i] - b[i]) <= tol * (1.0f + fabsf(b[i])))) fail_msg("element %lld: %g vs %g", (long long)i, a[i], b[i]);
}

/* Run x (N examples) through m; return the chunk size the model chose. */
static int64_t run_batch(const net_kind *k, int *mode)
{
    foil_model *m = build(k);
    foil_tensor x = {0}, y = {0};
    int64_t shape[4];
    memcpy(shape, k->shape, sizeof shape);
    shape[0] = N;
    alloc_filled(&x, k->ndim, shape, 3);
    assert_int_equal(foil_model_predict(m, &x, &y), FOIL_OK);
    int64_t planned = foilGraphModelOf(m)->planned_batch;
    *mode = foilGraphModelOf(m)->batch_mode;
    float want[N * C];
    logits_one_by_one(m, &x, want);
    if (!k->batch_softmax) assert_close(foil_f32(&y), want, N * C, 1e-5f);
    else assert_true(foil_f32(&y)[0] == 1.0f); /* softmax over one example: every logit is 1 */
    foil_tensor_free(&x);
    foil_tensor_free(&y);
    foil_model_free(m);
    return planned;
}

static void test_batch_one_model_runs_at_batch(void **state)
{
    (void)state;
    int mode;
    net_kind free_net = {2, {1, F}, 0, 0};
    assert_int_equal(run_batch(&free_net, &mode), N);
    assert_int_equal(mode, BATCH_FREE);
    /* a Reshape to the constant (1, F) cannot plan at N: chunks of 1 */
    net_kind reshape_net = {2, {1, F}, 1, 0};
    assert_int_equal(run_batch(&reshape_net, &mode), 1);
    assert_int_equal(mode, BATCH_DECLARED);
    /* plans at N with (N, C) logits, but each row depends on every example */
    net_kind mixing_net = {2, {1, F}, 0, 1};
    assert_int_equal(run_batch(&mixing_net, &mode), 1);
    assert_int_equal(mode, BATCH_DECLARED);
}

static void test_declared_shape_feeds_other_shapes(void **state)
{
    (void)state;
    net_kind k = {3, {1, F, 1}, 0, 0}; /* like mnist-net_256x2's [1, 784, 1] */
    foil_model *m = build(&k);
    foil_tensor images = {0}, flat = {0}, y1 = {0}, y2 = {0}, g1 = {0}, g2 = {0};
    alloc_filled(&images, 3, (int64_t[]){N, 2, 3}, 4);
    alloc_filled(&flat, 3, (int64_t[]){N, F, 1}, 4);
    int reshaped = -1;
    assert_int_equal(foil_model_check_input(m, &images, &reshaped), FOIL_OK);
    assert_int_equal(reshaped, 1);
    assert_int_equal(foil_model_check_input(m, &flat, &reshaped), FOIL_OK);
    assert_int_equal(reshaped, 0);
    int64_t labels[N];
    for (int i = 0; i < N; i++) labels[i] = i % C;
    assert_int_equal(foil_model_loss_input_grad(m, &images, labels, NULL, &y1, &g1), FOIL_OK);
    assert_int_equal(foil_model_loss_input_grad(m, &flat, labels, NULL, &y2, &g2), FOIL_OK);
    assert_memory_equal(y1.data, y2.data, foil_tensor_nbytes(&y2));
    /* the gradient keeps the caller's shape and the same values */
    assert_int_equal(g1.ndim, 3);
    assert_int_equal(g1.shape[1], 2);
    assert_memory_equal(g1.data, g2.data, foil_tensor_nbytes(&g2));
    /* a real mismatch names both shapes */
    foil_tensor wrong = {0};
    alloc_filled(&wrong, 2, (int64_t[]){N, 7}, 5);
    assert_int_equal(foil_model_check_input(m, &wrong, &reshaped), FOIL_ERR_SHAPE);
    assert_non_null(strstr(foil_last_error(), "examples of shape [7] (7 values each)"));
    assert_non_null(strstr(foil_last_error(), "declared input [1, 6, 1] (6 values per example)"));
    assert_int_equal(foil_model_predict(m, &wrong, &y1), FOIL_ERR_SHAPE);
    foil_tensor_free(&wrong);
    foil_tensor_free(&images);
    foil_tensor_free(&flat);
    foil_tensor_free(&y1);
    foil_tensor_free(&y2);
    foil_tensor_free(&g1);
    foil_tensor_free(&g2);
    foil_model_free(m);
}

/* A model on (3, 1, 2) inputs (3 channels), normalized per channel, must
 * equal the plain model on (x - mean) / std, with the gradient scaled by
 * 1 / std through the chain rule, also after an ONNX round trip. */
static void test_normalize_arithmetic_and_gradient(void **state)
{
    (void)state;
    const float mean[3] = {0.25f, -0.5f, 0.125f}, stdv[3] = {0.5f, 2.0f, 0.25f};
    net_kind k = {4, {-1, 3, 1, 2}, 0, 0};
    foil_model *plain = build(&k), *norm = build(&k), *reloaded = NULL;
    assert_int_equal(foil_model_normalize(norm, 3, mean, 3, stdv), FOIL_OK);
    foil_tensor x = {0}, z = {0}, yn = {0}, yp = {0}, gn = {0}, gp = {0}, yr = {0};
    alloc_filled(&x, 4, (int64_t[]){N, 3, 1, 2}, 6);
    assert_int_equal(foil_tensor_copy(&z, &x), FOIL_OK);
    for (int64_t i = 0; i < z.numel; i++) {
        int c = (int)(i / 2 % 3);
        foil_f32(&z)[i] = (foil_f32(&x)[i] - mean[c]) / stdv[c];
    }
    int64_t labels[N];
    for (int i = 0; i < N; i++) labels[i] = (i * 3) % C;
    assert_int_equal(foil_model_loss_input_grad(norm, &x, labels, NULL, &yn, &gn), FOIL_OK);
    assert_int_equal(foil_model_loss_input_grad(plain, &z, labels, NULL, &yp, &gp), FOIL_OK);
    assert_close(foil_f32(&yn), foil_f32(&yp), N * C, 1e-6f);
    for (int64_t i = 0; i < x.numel; i++) foil_f32(&gp)[i] /= stdv[i / 2 % 3];
    assert_close(foil_f32(&gn), foil_f32(&gp), x.numel, 1e-5f);

    char path[] = "/tmp/foil_normalized_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(foil_model_save(norm, path), FOIL_OK);
    assert_int_equal(foil_model_load(path, &reloaded), FOIL_OK);
    unlink(path);
    assert_string_equal(foilGraphModelOf(reloaded)->g->values[foilGraphModelOf(reloaded)->g->inputs[0]].name, "input");
    assert_int_equal(foil_model_predict(reloaded, &x, &yr), FOIL_OK);
    assert_memory_equal(yr.data, yn.data, foil_tensor_nbytes(&yn));

    /* one mean and one std for every channel */
    foil_model *single = build(&k);
    assert_int_equal(foil_model_normalize(single, 1, &mean[1], 1, &stdv[1]), FOIL_OK);
    for (int64_t i = 0; i < z.numel; i++) foil_f32(&z)[i] = (foil_f32(&x)[i] - mean[1]) / stdv[1];
    foil_tensor_free(&yn);
    foil_tensor_free(&yp);
    assert_int_equal(foil_model_predict(single, &x, &yn), FOIL_OK);
    assert_int_equal(foil_model_predict(plain, &z, &yp), FOIL_OK);
    assert_close(foil_f32(&yn), foil_f32(&yp), N * C, 1e-6f);

    foil_tensor_free(&x);
    foil_tensor_free(&z);
    foil_tensor_free(&yn);
    foil_tensor_free(&yp);
    foil_tensor_free(&gn);
    foil_tensor_free(&gp);
    foil_tensor_free(&yr);
    foil_model_free(single);
    foil_model_free(reloaded);
    foil_model_free(plain);
    foil_model_free(norm);
}

static void test_normalize_rejects_bad_values(void **state)
{
    (void)state;
    net_kind k = {4, {1, 3, 1, 2}, 0, 0};
    foil_model *m = build(&k);
    const float two[2] = {0.5f, 0.5f}, zero[1] = {0.0f}, one[1] = {1.0f};
    assert_int_equal(foil_model_normalize(m, 2, two, 1, one), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "gives 2 means"));
    assert_non_null(strstr(foil_last_error(), "[1, 3, 1, 2], has 3 channels"));
    assert_int_equal(foil_model_normalize(m, 1, one, 2, two), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "gives 2 standard deviations"));
    assert_int_equal(foil_model_normalize(m, 1, one, 1, zero), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "must be > 0"));
    /* the model is untouched by the refusals and still takes one normalization */
    assert_int_equal(foilGraphModelOf(m)->g->n_nodes, 2);
    assert_int_equal(foil_model_normalize(m, 1, one, 1, one), FOIL_OK);
    assert_int_equal(foilGraphModelOf(m)->g->n_nodes, 6);
    assert_int_equal(foil_model_normalize(m, 1, one, 1, one), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "normalized twice"));
    foil_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_one_model_runs_at_batch),
        cmocka_unit_test(test_declared_shape_feeds_other_shapes),
        cmocka_unit_test(test_normalize_arithmetic_and_gradient),
        cmocka_unit_test(test_normalize_rejects_bad_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
