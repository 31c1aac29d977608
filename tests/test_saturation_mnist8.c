/*
 * tests/test_saturation_mnist8.c - the saturated loss on a model nobody here
 * wrote: the ONNX model zoo's mnist-8 takes 0-255 pixels, and its logits are
 * large enough that softmax cross-entropy has an exactly zero input gradient
 * on most MNIST test images. CE PGD must report that (zero_gradient_fraction,
 * the warning) instead of passing it off as robustness, and margin PGD at
 * the same eps and steps must break what CE PGD could not. Attacked through
 * the library with bounds [0, 255] (eps 0.1 of the range). Uses
 * ../shared/data; exits 77 (skip) with a message when it is absent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "foil/evasion.h"
#include "foil/eval.h"
#include "foil/idx.h"
#include "foil/model.h"

enum { N = 200, D = 28 * 28 };

static char data_dir[4096];
static foil_model *model;
static foil_tensor images;
static int64_t labels[N];
static float lower[D], upper[D];

static void path_of(char *buf, size_t len, const char *rel) { snprintf(buf, len, "%s/%s", data_dir, rel); }

/* The first N MNIST test images, pixels 0-255 as float32 (N, 1, 28, 28). */
static int load_inputs(void)
{
    char ipath[4096], lpath[4096], mpath[4096];
    path_of(ipath, sizeof ipath, "mnist/t10k-images-idx3-ubyte.gz");
    path_of(lpath, sizeof lpath, "mnist/t10k-labels-idx1-ubyte.gz");
    path_of(mpath, sizeof mpath, "onnx_mnist8/mnist-8.onnx");
    foil_tensor img = {0}, lab = {0};
    int64_t shape[4] = {N, 1, 28, 28};
    if (foil_idx_read(ipath, &img) || foil_idx_read(lpath, &lab) || foil_model_load(mpath, &model) ||
        foil_tensor_alloc(&images, FOIL_F32, 4, shape)) {
        printf("FAIL: %s\n", foil_last_error());
        return 1;
    }
    for (int64_t i = 0; i < images.numel; i++) foil_f32(&images)[i] = ((uint8_t *)img.data)[i];
    for (int i = 0; i < N; i++) labels[i] = ((uint8_t *)lab.data)[i];
    for (int j = 0; j < D; j++) {
        lower[j] = 0;
        upper[j] = 255;
    }
    foil_tensor_free(&img);
    foil_tensor_free(&lab);
    return 0;
}

static foil_evasion_summary attack(const char *params, foil_evasion_result *r)
{
    foil_threat t = {.norm = FOIL_NORM_LINF, .eps = 25.5f, .lower = lower, .upper = upper, .seed = 1};
    foil_evasion_options opt = {.params = params, .batch = N, .quiet = 1};
    if (foil_evasion_run("pgd", model, &images, labels, &t, &opt, r)) fail_msg("pgd: %s", foil_last_error());
    foil_evasion_summary s;
    foil_evasion_summarize(r, &s);
    printf("  pgd loss=%-6s Linf eps 25.5 (0.1 of 0-255), %d images: clean %.1f%%, robust %.1f%%, "
           "zero_gradient_fraction %.3f (%lld of %lld)\n",
           params ? params + 5 : "ce", N, 100 * s.clean_accuracy, 100 * s.robust_accuracy, s.zero_gradient_fraction,
           (long long)s.zero_grad_examples, (long long)s.grad_examples);
    return s;
}

static void test_mnist8_ce_saturates(void **state)
{
    (void)state;
    foil_evasion_result r;
    foil_evasion_summary ce = attack(NULL, &r);
    assert_true(ce.clean_accuracy >= 0.95);
    assert_true(ce.zero_gradient_fraction >= 0.9);
    assert_non_null(strstr(r.warnings, "saturated softmax"));
    foil_evasion_result_free(&r);
    foil_evasion_summary margin = attack("loss=margin", &r);
    assert_true(margin.zero_gradient_fraction < 0.01);
    assert_int_equal(r.warnings[0], 0);
    foil_evasion_result_free(&r);
    foil_evasion_summary dlr = attack("loss=dlr", &r);
    assert_true(dlr.zero_gradient_fraction < 0.01);
    foil_evasion_result_free(&r);
    /* Measured: CE 99.0% robust, margin 45.5%, DLR 46.0%. */
    assert_true(ce.robust_accuracy - margin.robust_accuracy >= 0.4);
    assert_true(ce.robust_accuracy - dlr.robust_accuracy >= 0.4);
}

int main(void)
{
    const char *dir = getenv("FOIL_SHARED_DATA");
    snprintf(data_dir, sizeof data_dir, "%s", dir && *dir ? dir : "../shared/data");
    char probe[4096];
    struct stat st;
    path_of(probe, sizeof probe, "onnx_mnist8/mnist-8.onnx");
    if (stat(probe, &st) != 0) {
        printf("SKIP: %s not found (third-party data lives in ../shared/data beside the checkout; "
               "set FOIL_SHARED_DATA to point elsewhere)\n", probe);
        return 77;
    }
    path_of(probe, sizeof probe, "mnist/t10k-images-idx3-ubyte.gz");
    if (stat(probe, &st) != 0) {
        printf("SKIP: %s not found\n", probe);
        return 77;
    }
    if (load_inputs()) return 1;
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_mnist8_ce_saturates)};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    foil_model_free(model);
    foil_tensor_free(&images);
    return rc;
}
