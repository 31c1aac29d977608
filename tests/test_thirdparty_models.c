/*
 * tests/test_thirdparty_models.c - models nobody here wrote must import and
 * run: the ONNX model zoo's mnist-8 (opset 8) against its shipped reference
 * outputs, and the VNN-COMP 2021 MNIST and CIFAR-10 networks against their
 * reported accuracy on real test images, the CIFAR-10 ones also with their
 * input normalization moved into the graph (foil_model_normalize) and fed
 * pixels in [0, 1]. Uses ../shared/data; exits 77 (skip) with a message when
 * it is absent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "foil/idx.h"
#include "foil/model.h"
#include "io/onnx.h"
#include "model/model_internal.h"

static char data_dir[4096];

static void path_of(char *buf, size_t len, const char *rel) { snprintf(buf, len, "%s/%s", data_dir, rel); }

static foil_model *load(const char *rel)
{
    char path[4096];
    path_of(path, sizeof path, rel);
    foil_model *m = NULL;
    if (foil_model_load(path, &m)) fail_msg("%s", foil_last_error());
    return m;
}

static int64_t argmax(const float *v, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

static int count_correct(const foil_tensor *logits, const int64_t *labels)
{
    int correct = 0;
    for (int64_t i = 0; i < logits->shape[0]; i++)
        correct += argmax(foil_f32(logits) + i * logits->shape[1], logits->shape[1]) == labels[i];
    return correct;
}

static void test_mnist8_reference_outputs(void **state)
{
    (void)state;
    foil_model *m = load("onnx_mnist8/mnist-8.onnx");
    for (int s = 0; s < 3; s++) {
        char in_path[4096], out_path[4096], rel[256];
        snprintf(rel, sizeof rel, "onnx_mnist8/test_data_set_%d/input_0.pb", s);
        path_of(in_path, sizeof in_path, rel);
        snprintf(rel, sizeof rel, "onnx_mnist8/test_data_set_%d/output_0.pb", s);
        path_of(out_path, sizeof out_path, rel);
        foil_tensor x = {0}, want = {0}, got = {0};
        assert_int_equal(foilOnnxReadTensor(in_path, &x), FOIL_OK);
        assert_int_equal(foilOnnxReadTensor(out_path, &want), FOIL_OK);
        assert_int_equal(foil_model_predict(m, &x, &got), FOIL_OK);
        assert_int_equal(got.numel, want.numel);
        for (int64_t i = 0; i < want.numel; i++) {
            float w = foil_f32(&want)[i], g = foil_f32(&got)[i];
            if (!(fabsf(g - w) <= 1e-3f + 1e-3f * fabsf(w)))
                fail_msg("mnist-8 set %d logit %lld: got %g, reference %g", s, (long long)i, g, w);
        }
        foil_tensor_free(&x);
        foil_tensor_free(&want);
        foil_tensor_free(&got);
    }
    foil_model_free(m);
}

/* First n MNIST test images as float32 (n, 1, 28, 28), scaled by `scale`. */
static void mnist_test(int n, float scale, foil_tensor *x, int64_t *labels)
{
    char ipath[4096], lpath[4096];
    path_of(ipath, sizeof ipath, "mnist/t10k-images-idx3-ubyte.gz");
    path_of(lpath, sizeof lpath, "mnist/t10k-labels-idx1-ubyte.gz");
    foil_tensor img = {0}, lab = {0};
    if (foil_idx_read(ipath, &img) || foil_idx_read(lpath, &lab)) fail_msg("%s", foil_last_error());
    int64_t shape[4] = {n, 1, 28, 28};
    assert_int_equal(foil_tensor_alloc(x, FOIL_F32, 4, shape), FOIL_OK);
    for (int64_t i = 0; i < x->numel; i++) foil_f32(x)[i] = ((uint8_t *)img.data)[i] * scale;
    for (int i = 0; i < n; i++) labels[i] = ((uint8_t *)lab.data)[i];
    foil_tensor_free(&img);
    foil_tensor_free(&lab);
}

/* batched: whether the model, declared for batch 1, must run all N images
 * at once (its graph keeps examples apart) or in chunks of 1 (mnist-8's
 * constant Reshape). */
static double mnist_accuracy(const char *rel, float scale, int flat_784x1, int batched)
{
    enum { N = 1000 };
    static int64_t labels[N];
    foil_tensor x = {0}, logits = {0};
    mnist_test(N, scale, &x, labels);
    if (flat_784x1) { /* mnist-net_256x2 takes (N, 784, 1) */
        x.ndim = 3;
        x.shape[1] = 784;
        x.shape[2] = 1;
        x.shape[3] = 0;
    }
    foil_model *m = load(rel);
    foil_model_set_max_batch(m, N);
    if (foil_model_predict(m, &x, &logits)) fail_msg("%s", foil_last_error());
    assert_int_equal(foilGraphModelOf(m)->planned_batch, batched ? N : 1);
    double acc = count_correct(&logits, labels) / (double)N;
    printf("%s: %.1f%% on the first %d MNIST test images\n", rel, 100 * acc, N);
    foil_tensor_free(&x);
    foil_tensor_free(&logits);
    foil_model_free(m);
    return acc;
}

/* The reference figures are an independent NumPy evaluation of each graph on
 * the same images (see ../shared/data READMEs): mnist-8 98.7%, Convnet_avgpool
 * 97.4%, Convnet_maxpool 97.6%, mnist-net_256x2 97.8%. */
static void test_mnist_models_accuracy(void **state)
{
    (void)state;
    assert_true(mnist_accuracy("onnx_mnist8/mnist-8.onnx", 1.0f, 0, 0) >= 0.985);
    assert_true(mnist_accuracy("onnx_vnncomp2021/mnist/Convnet_avgpool.onnx", 1.0f / 255, 0, 1) >= 0.972);
    assert_true(mnist_accuracy("onnx_vnncomp2021/mnist/Convnet_maxpool.onnx", 1.0f / 255, 0, 1) >= 0.974);
    assert_true(mnist_accuracy("onnx_vnncomp2021/mnist/mnist-net_256x2.onnx", 1.0f / 255, 1, 1) >= 0.976);
    /* mnist-net_256x2 declares [1, 784, 1] and takes the images as they are */
    assert_true(mnist_accuracy("onnx_vnncomp2021/mnist/mnist-net_256x2.onnx", 1.0f / 255, 0, 1) >= 0.976);
}

/* CIFAR-10 CSV: label, then 3072 bytes HWC. Returns images normalized per
 * channel as (x/255 - mean[c]) / std[c], NCHW. */
static int cifar_test(foil_tensor *x, int64_t *labels, const float mean[3], const float std[3])
{
    char path[4096];
    path_of(path, sizeof path, "cifar10_test100/cifar10_test.csv");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int64_t shape[4] = {100, 3, 32, 32};
    assert_int_equal(foil_tensor_alloc(x, FOIL_F32, 4, shape), FOIL_OK);
    int n = 0;
    for (; n < 100; n++) {
        int label;
        if (fscanf(f, "%d", &label) != 1) break;
        labels[n] = label;
        for (int p = 0; p < 1024; p++)
            for (int c = 0; c < 3; c++) {
                int v;
                if (fscanf(f, " ,%d", &v) != 1) fail_msg("%s: bad CSV at image %d", path, n);
                foil_f32(x)[((int64_t)n * 3 + c) * 1024 + p] = ((float)v / 255.0f - mean[c]) / std[c];
            }
    }
    fclose(f);
    return n;
}

/* in_graph: feed pixels in [0, 1] to the model with (x - mean) / std
 * prepended to its graph, rather than normalized images to the model. */
static int cifar_correct(const char *rel, const float mean[3], const float std[3], int in_graph)
{
    static const float zero[3] = {0, 0, 0}, one[3] = {1, 1, 1};
    static int64_t labels[100];
    foil_tensor x = {0}, logits = {0};
    assert_int_equal(cifar_test(&x, labels, in_graph ? zero : mean, in_graph ? one : std), 100);
    foil_model *m = load(rel);
    if (in_graph && foil_model_normalize(m, 3, mean, 3, std)) fail_msg("%s", foil_last_error());
    if (foil_model_predict(m, &x, &logits)) fail_msg("%s", foil_last_error());
    int correct = count_correct(&logits, labels);
    printf("%s: %d/100 CIFAR-10 test images correct%s\n", rel, correct, in_graph ? " (normalization in the graph)" : "");
    foil_tensor_free(&x);
    foil_tensor_free(&logits);
    foil_model_free(m);
    return correct;
}

/* Independent NumPy evaluation on these images: cifar_base_kw 73/100,
 * resnet_2b 77/100 (../shared/data/onnx_vnncomp2021/README.md). */
static void test_cifar_models_accuracy(void **state)
{
    (void)state;
    const float kw_mean[3] = {0.485f, 0.456f, 0.406f}, kw_std[3] = {0.225f, 0.225f, 0.225f};
    const float rn_mean[3] = {0.4914f, 0.4822f, 0.4465f}, rn_std[3] = {0.2471f, 0.2435f, 0.2616f};
    int kw = cifar_correct("onnx_vnncomp2021/cifar10/cifar_base_kw.onnx", kw_mean, kw_std, 0);
    int rn = cifar_correct("onnx_vnncomp2021/cifar10/resnet_2b.onnx", rn_mean, rn_std, 0);
    assert_in_range(kw, 72, 74);
    assert_in_range(rn, 76, 78);
    /* the same models taking pixels, their normalization in the graph */
    assert_int_equal(cifar_correct("onnx_vnncomp2021/cifar10/cifar_base_kw.onnx", kw_mean, kw_std, 1), kw);
    assert_int_equal(cifar_correct("onnx_vnncomp2021/cifar10/resnet_2b.onnx", rn_mean, rn_std, 1), rn);
}

int main(void)
{
    const char *env = getenv("FOIL_SHARED_DATA");
    snprintf(data_dir, sizeof data_dir, "%s", env ? env : "../shared/data");
    struct stat sb;
    char probe[4096];
    path_of(probe, sizeof probe, "onnx_mnist8/mnist-8.onnx");
    if (stat(probe, &sb) != 0) {
        printf("SKIP: third-party models not found under %s (../shared/data is optional)\n", data_dir);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mnist8_reference_outputs),
        cmocka_unit_test(test_mnist_models_accuracy),
        cmocka_unit_test(test_cifar_models_accuracy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
