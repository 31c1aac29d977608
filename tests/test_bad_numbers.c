/*
 * tests/test_bad_numbers.c - nothing silent on bad numbers (issue 9, item 7).
 *
 * Regression tests for the three defects a fuzzing run found: `foil eval`
 * binned a NaN confidence (undefined behaviour), `foil predict` took NaN
 * inputs and turned 3e38 inputs into NaN logits with exit 0, and an attack
 * leaked its logits when a Gather index proved out of range at run time (the
 * leak shows under LeakSanitizer in the sanitizer build). Plus the shared
 * checks: every command rejects a non-finite input naming the file and the
 * example, the estimator rejects a non-finite logit naming the example, and
 * a label the model has no class for names the labels file.
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

#include "foil/evasion.h"
#include "foil/eval.h"
#include "foil/model.h"
#include "foil/npy.h"
#include "model/model_internal.h"
#include "nn/builder.h"

#define FEATURES 4
#define CLASSES 2

static char tmp_dir[] = "/tmp/foil-bad-numbers-XXXXXX";

static void expect_error(foil_status st, const char *needle)
{
    if (st == FOIL_OK) fail_msg("expected an error containing '%s', got success", needle);
    if (!strstr(foil_last_error(), needle)) fail_msg("error '%s' lacks '%s'", foil_last_error(), needle);
}

static foil_model *finish_model(FoilBuilder *b)
{
    FoilGraph *g;
    if (foilBuilderFinish(b, &g)) fail_msg("%s", foil_last_error());
    foil_model *m;
    if (foilModelFromGraph(g, &m)) fail_msg("%s", foil_last_error());
    return m;
}

/* y = x W: a linear classifier, so a 3e38 input overflows to an infinite
 * logit and inf - inf makes a NaN one, as in a real network. */
static foil_model *linear_model(void)
{
    static const float w[FEATURES * CLASSES] = {1, -1, 2, 0.5f, 0, 1, -1, 1};
    FoilBuilder b;
    assert_int_equal(foilBuilderBegin(&b, "linear", 13), FOIL_OK);
    int x = foilBuilderInput(&b, "x", FOIL_F32, 2, (int64_t[]){-1, FEATURES}, NULL);
    int wv = foilBuilderParam(&b, "W", 2, (int64_t[]){FEATURES, CLASSES}, w);
    int y = foilBuilderOp(&b, "MatMul", "mm", FOIL_B_IN(x, wv), FOIL_B_NO_ATTRS);
    foilBuilderOutput(&b, y, FOIL_F32, 2, (int64_t[]){-1, CLASSES}, NULL);
    return finish_model(&b);
}

/* y = Gather(x, Shape(x), axis 1): the indices are the input's own shape
 * [N, 4], known only when the model runs, and 4 is out of range for axis 1
 * of an (N, 4) input. The logits it declares are (N, 2). */
static foil_model *gather_out_of_range_model(void)
{
    FoilBuilder b;
    assert_int_equal(foilBuilderBegin(&b, "gather-shape", 13), FOIL_OK);
    int x = foilBuilderInput(&b, "x", FOIL_F32, 2, (int64_t[]){-1, FEATURES}, NULL);
    int s = foilBuilderOp(&b, "Shape", "shape", FOIL_B_IN(x), FOIL_B_NO_ATTRS);
    int y = foilBuilderOp(&b, "Gather", "gather", FOIL_B_IN(x, s), FOIL_B_ATTRS(FOIL_BATTR_INT("axis", 1)));
    foilBuilderOutput(&b, y, FOIL_F32, 2, (int64_t[]){-1, CLASSES}, NULL);
    return finish_model(&b);
}

/* n examples in [0, 1), with example `bad` (if >= 0) set to `value`. */
static void make_inputs(foil_tensor *x, int64_t n, int64_t bad, float value)
{
    assert_int_equal(foil_tensor_alloc(x, FOIL_F32, 2, (int64_t[]){n, FEATURES}), FOIL_OK);
    for (int64_t i = 0; i < x->numel; i++) foil_f32(x)[i] = (float)((i * 37) % 100) / 100.0f;
    if (bad >= 0)
        for (int f = 0; f < FEATURES; f++) foil_f32(x)[bad * FEATURES + f] = value;
}

static void test_metrics_reject_nan_logits(void **state)
{
    (void)state;
    foil_tensor logits = {0};
    assert_int_equal(foil_tensor_alloc(&logits, FOIL_F32, 2, (int64_t[]){3, CLASSES}), FOIL_OK);
    foil_f32(&logits)[2 * CLASSES + 1] = NAN;
    const int64_t labels[3] = {0, 1, 0};
    foil_metrics mt = {0};
    expect_error(foil_metrics_from_logits(&logits, labels, CLASSES, &mt), "example 2");
    foil_metrics_free(&mt);
    foil_tensor_free(&logits);
}

static void test_first_nonfinite(void **state)
{
    (void)state;
    float v[37] = {0};
    assert_int_equal(foil_first_nonfinite(v, 37), -1);
    v[0] = -3e38f;
    v[36] = 3e38f;
    assert_int_equal(foil_first_nonfinite(v, 37), -1);
    v[21] = INFINITY;
    v[30] = NAN;
    assert_int_equal(foil_first_nonfinite(v, 37), 21);
    v[21] = 0;
    assert_int_equal(foil_first_nonfinite(v, 37), 30);
    v[5] = -INFINITY;
    assert_int_equal(foil_first_nonfinite(v, 37), 5);
}

static void test_input_check_names_file_and_example(void **state)
{
    (void)state;
    foil_tensor x = {0};
    make_inputs(&x, 5, -1, 0);
    assert_int_equal(foil_check_finite_examples("in.npy", &x), FOIL_OK);
    foil_f32(&x)[3 * FEATURES + 2] = NAN;
    expect_error(foil_check_finite_examples("in.npy", &x), "in.npy: example 3, feature 2 is NaN");
    foil_f32(&x)[3 * FEATURES + 2] = 0;
    foil_f32(&x)[1 * FEATURES] = -INFINITY;
    expect_error(foil_check_finite_examples("in.npy", &x), "example 1, feature 0 is infinite");
    foil_tensor_free(&x);
}

/* Huge but finite inputs (3e38) overflow inside the model: the estimator
 * reports the example, in whichever chunk it falls, never a prediction. */
static void test_model_rejects_nonfinite_logits(void **state)
{
    (void)state;
    foil_model *m = linear_model();
    foil_model_set_max_batch(m, 2); /* example 5 is in the third chunk */
    foil_tensor x = {0}, logits = {0};
    make_inputs(&x, 7, 5, 3e38f);
    expect_error(foil_model_predict(m, &x, &logits), "logit for example 5");
    foil_tensor_free(&logits);
    /* gradients and losses go through the same check */
    int64_t labels[7] = {0};
    float loss[7];
    foil_tensor grad = {0};
    expect_error(foil_model_loss_input_grad(m, &x, labels, loss, NULL, &grad), "example 5");
    foil_tensor_free(&grad);
    /* the same inputs without the huge example are fine */
    foil_tensor_free(&x);
    make_inputs(&x, 7, -1, 0);
    assert_int_equal(foil_model_predict(m, &x, &logits), FOIL_OK);
    foil_tensor_free(&logits);
    foil_tensor_free(&x);
    foil_model_free(m);
}

/* Under LeakSanitizer, this failed with the logits tensor of the attack's
 * clean prediction leaked; everywhere it must fail with the node's error. */
static void test_attack_frees_on_runtime_gather_error(void **state)
{
    (void)state;
    foil_model *m = gather_out_of_range_model();
    foil_tensor x = {0};
    make_inputs(&x, 3, -1, 0);
    float lower[FEATURES], upper[FEATURES];
    for (int f = 0; f < FEATURES; f++) lower[f] = 0, upper[f] = 1;
    const int64_t y[3] = {0, 1, 0};
    foil_threat t = {.norm = FOIL_NORM_LINF, .eps = 0.1f, .lower = lower, .upper = upper, .seed = 1};
    foil_evasion_options opt = {.quiet = 1};
    foil_evasion_result r;
    expect_error(foil_evasion_run("pgd", m, &x, y, &t, &opt, &r), "out of range");
    foil_tensor_free(&x);
    foil_model_free(m);
}

/* ---- the foil command ---- */

static void tmp_path(char *buf, size_t len, const char *name) { snprintf(buf, len, "%s/%s", tmp_dir, name); }

/* Run `foil ARGS` with stderr captured; returns the exit status and the
 * output in out. */
static int run_foil(const char *args, char *out, size_t len)
{
    const char *bin = getenv("FOIL_BIN");
    if (!bin) fail_msg("FOIL_BIN is not set (run the test through ctest)");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t got = fread(out, 1, len - 1, p);
    out[got] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void expect_foil(int want_rc, const char *needle, const char *fmt, ...)
{
    char args[4096], out[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    int rc = run_foil(args, out, sizeof out);
    if (rc != want_rc) fail_msg("foil %s: exit %d, expected %d; output:\n%s", args, rc, want_rc, out);
    if (!strstr(out, needle)) fail_msg("foil %s: output lacks '%s':\n%s", args, needle, out);
}

static void write_npy(const char *name, const foil_tensor *t)
{
    char path[512];
    tmp_path(path, sizeof path, name);
    if (foil_npy_write(path, t)) fail_msg("%s", foil_last_error());
}

static void test_cli_commands_reject_bad_numbers(void **state)
{
    (void)state;
    char model[512];
    tmp_path(model, sizeof model, "linear.onnx");
    foil_model *m = linear_model();
    if (foil_model_save(m, model)) fail_msg("%s", foil_last_error());
    foil_model_free(m);
    foil_tensor x = {0}, y = {0};
    make_inputs(&x, 6, 4, 3e38f);
    write_npy("huge.npy", &x);
    foil_f32(&x)[4 * FEATURES + 1] = NAN;
    write_npy("nan.npy", &x);
    foil_tensor_free(&x);
    assert_int_equal(foil_tensor_alloc(&y, FOIL_I64, 1, (int64_t[]){6}), FOIL_OK);
    write_npy("y.npy", &y);
    foil_tensor_free(&y);

    const char *d = tmp_dir;
    /* non-finite inputs: the same message from every command */
    const char *nan_msg = "nan.npy: example 4, feature 1 is NaN";
    expect_foil(1, nan_msg, "predict --model %s --input %s/nan.npy", model, d);
    expect_foil(1, nan_msg, "grad --model %s --input %s/nan.npy --labels %s/y.npy --output %s/g.npy", model, d, d, d);
    expect_foil(1, nan_msg, "eval --model %s --data %s/nan.npy --labels %s/y.npy --split all", model, d, d);
    expect_foil(1, nan_msg, "attack --model %s --data %s/nan.npy --labels %s/y.npy --attack fgsm --eps 0.1", model,
                d, d);
    expect_foil(1, nan_msg, "train --arch mlp --data %s/nan.npy --labels %s/y.npy --output %s/t.onnx --quiet", d, d,
                d);
    /* finite inputs that overflow inside the model: an error, never exit 0 */
    const char *logit_msg = "logit for example 4";
    expect_foil(1, logit_msg, "predict --model %s --input %s/huge.npy --json", model, d);
    expect_foil(1, logit_msg, "grad --model %s --input %s/huge.npy --labels %s/y.npy --output %s/g.npy", model, d, d,
                d);
    expect_foil(1, logit_msg, "eval --model %s --data %s/huge.npy --labels %s/y.npy --split all", model, d, d);
    /* training that diverges stops with an error instead of writing a model of NaN weights */
    expect_foil(1, "training diverged at step", "train --arch mlp --data breast-cancer --epochs 3 --optimizer sgd "
                "--lr 1e6 --quiet --output %s/diverged.onnx", d);
    /* a label the model has no class for names the labels file, the example and the label */
    assert_int_equal(foil_tensor_alloc(&y, FOIL_I64, 1, (int64_t[]){6}), FOIL_OK);
    foil_i64(&y)[3] = CLASSES;
    write_npy("y-out-of-range.npy", &y);
    foil_tensor_free(&y);
    expect_foil(1, "y-out-of-range.npy: example 3 has label 2, outside the model's classes [0, 2)",
                "grad --model %s --input %s/huge.npy --labels %s/y-out-of-range.npy --output %s/g.npy", model, d, d, d);
}

static int make_tmp_dir(void **state)
{
    (void)state;
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int remove_tmp_dir(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_reject_nan_logits),
        cmocka_unit_test(test_first_nonfinite),
        cmocka_unit_test(test_input_check_names_file_and_example),
        cmocka_unit_test(test_model_rejects_nonfinite_logits),
        cmocka_unit_test(test_attack_frees_on_runtime_gather_error),
        cmocka_unit_test(test_cli_commands_reject_bad_numbers),
    };
    return cmocka_run_group_tests(tests, make_tmp_dir, remove_tmp_dir);
}
