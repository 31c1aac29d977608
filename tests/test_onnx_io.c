/*
 * tests/test_onnx_io.c - ONNX import and export: round trips that must
 * reproduce outputs exactly, files the official checker accepts, and broken
 * or hostile files that must give a clear error (never a crash).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "foil/arch.h"

#include "foil/rng.h"
#include "io/file.h"
#include "io/onnx.h"
#include "nn/graph.h"

#define TESTDATA "/usr/share/libonnx-testdata/data"

static char tmpdir[256];

static int have_testdata(void)
{
    struct stat sb;
    return stat(TESTDATA "/pytorch-converted/test_Conv2d/model.onnx", &sb) == 0;
}

static void tmp_path(char *buf, size_t len, const char *name) { snprintf(buf, len, "%s/%s", tmpdir, name); }

static void expect_error(const char *path, foil_status code, const char *needle)
{
    FoilGraph *g = NULL;
    foil_status st = foilOnnxLoad(path, &g);
    if (st != code) fail_msg("%s: expected status %d, got %d (%s)", path, code, st, foil_last_error());
    assert_null(g);
    const char *msg = foil_last_error();
    if (!strstr(msg, path)) fail_msg("error does not name the file: %s", msg);
    if (needle && !strstr(msg, needle)) fail_msg("error lacks '%s': %s", needle, msg);
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    assert_int_equal(foilWriteFileAtomic(path, data, len), FOIL_OK);
}

static void test_missing_empty_garbage(void **state)
{
    (void)state;
    char path[512];
    tmp_path(path, sizeof path, "does-not-exist.onnx");
    expect_error(path, FOIL_ERR_IO, "cannot open");
    tmp_path(path, sizeof path, "empty.onnx");
    write_bytes(path, "", 0);
    expect_error(path, FOIL_ERR_FORMAT, "empty");
    tmp_path(path, sizeof path, "garbage.onnx");
    write_bytes(path, "\xff\xff\xff\xff this is not protobuf \x01\x02", 28);
    expect_error(path, FOIL_ERR_FORMAT, "not a valid ONNX model");
    tmp_path(path, sizeof path, "text.onnx");
    write_bytes(path, "hello world\n", 12);
    FoilGraph *g = NULL;
    assert_int_not_equal(foilOnnxLoad(path, &g), FOIL_OK);
    assert_null(g);
}

static void read_model(const char *rel, uint8_t **buf, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, TESTDATA "/%s", rel);
    assert_int_equal(foilReadFile(path, 1 << 26, buf, len), FOIL_OK);
}

static void test_truncated(void **state)
{
    (void)state;
    if (!have_testdata()) skip();
    uint8_t *buf;
    size_t len;
    read_model("pytorch-converted/test_Conv2d/model.onnx", &buf, &len);
    char path[512];
    tmp_path(path, sizeof path, "truncated.onnx");
    for (int tenth = 1; tenth < 10; tenth++) {
        write_bytes(path, buf, len * (size_t)tenth / 10);
        FoilGraph *g = NULL;
        foil_status st = foilOnnxLoad(path, &g);
        if (st == FOIL_OK) fail_msg("a model truncated to %d0%% loaded", tenth);
        if (!strstr(foil_last_error(), path)) fail_msg("error does not name the file: %s", foil_last_error());
    }
    free(buf);
}

/* Random byte corruption: loading, planning and running must fail cleanly or
 * succeed; under ASan/UBSan this finds out-of-bounds accesses. */
static void test_corrupted_bytes(void **state)
{
    (void)state;
    if (!have_testdata()) skip();
    static const char *models[] = {"pytorch-converted/test_Conv2d/model.onnx",
                                   "node/test_gemm_all_attributes/model.onnx",
                                   "pytorch-converted/test_MaxPool2d/model.onnx"};
    char path[512];
    tmp_path(path, sizeof path, "corrupt.onnx");
    foil_rng r = foil_rng_make(42, 0);
    for (size_t mi = 0; mi < 3; mi++) {
        uint8_t *buf;
        size_t len;
        read_model(models[mi], &buf, &len);
        uint8_t *copy = malloc(len);
        for (int trial = 0; trial < 150; trial++) {
            memcpy(copy, buf, len);
            int flips = 1 + (int)foil_rng_below(&r, 4);
            for (int k = 0; k < flips; k++) copy[foil_rng_below(&r, len)] = (uint8_t)foil_rng_u64(&r);
            write_bytes(path, copy, len);
            FoilGraph *g = NULL;
            if (foilOnnxLoad(path, &g) != FOIL_OK) continue;
            /* Feed inputs of the declared shapes (dynamic dims as 1). */
            foil_tensor inputs[8] = {{0}};
            const foil_tensor *ptrs[8];
            int ok = g->n_inputs <= 8;
            for (int i = 0; ok && i < g->n_inputs; i++) {
                FoilValue *v = &g->values[g->inputs[i]];
                int64_t shape[FOIL_MAX_DIMS];
                for (int d = 0; d < v->decl_ndim; d++) shape[d] = v->decl_shape[d] < 0 ? 1 : v->decl_shape[d];
                ok = v->decl_ndim >= 0 && foil_tensor_set_shape(&inputs[i], v->decl_dtype, v->decl_ndim, shape) == 0 &&
                     inputs[i].numel < (1 << 22) && foil_tensor_alloc(&inputs[i], v->decl_dtype, v->decl_ndim, shape) == 0;
                ptrs[i] = &inputs[i];
            }
            if (ok && foilGraphPlan(g, ptrs) == FOIL_OK) foilGraphForward(g, ptrs, 0, 0);
            for (int i = 0; i < 8; i++) foil_tensor_free(&inputs[i]);
            foilGraphFree(g);
        }
        free(copy);
        free(buf);
    }
}

/* x (N,4) -> Gemm(W 3x4, b 3, transB) -> Relu -> y; built in code, saved. */
static FoilGraph *tiny_graph(int drop_initializer, const char *op2, int64_t w_cols)
{
    FoilGraph *g = foilGraphNew("tiny");
    g->opset = 13;
    int x = foilGraphValue(g, "x"), w = foilGraphValue(g, "W"), b = foilGraphValue(g, "b");
    int h = foilGraphValue(g, "h"), y = foilGraphValue(g, "y");
    g->values[x].kind = FOIL_VALUE_INPUT;
    g->values[x].has_decl = 1;
    g->values[x].decl_dtype = FOIL_F32;
    g->values[x].decl_ndim = 2;
    g->values[x].decl_shape[0] = -1;
    g->values[x].decl_shape[1] = 4;
    int64_t wshape[2] = {3, w_cols}, bshape[1] = {3};
    g->values[w].kind = FOIL_VALUE_PARAM;
    foil_tensor_alloc(&g->values[w].t, FOIL_F32, 2, wshape);
    for (int i = 0; i < 3 * w_cols; i++) foil_f32(&g->values[w].t)[i] = (float)(i % 5) - 2.0f;
    if (!drop_initializer) {
        g->values[b].kind = FOIL_VALUE_PARAM;
        foil_tensor_alloc(&g->values[b].t, FOIL_F32, 1, bshape);
    }
    g->inputs = malloc(sizeof(int));
    g->inputs[g->n_inputs++] = x;
    g->outputs = malloc(sizeof(int));
    g->outputs[g->n_outputs++] = y;
    int in1[3] = {x, w, b}, out1[1] = {h}, in2[1] = {h}, out2[1] = {y};
    FoilNode *n = foilGraphAddNode(g, "fc", "Gemm", 3, in1, 1, out1);
    n->attrs = calloc(1, sizeof *n->attrs);
    n->attrs[0].name = strdup("transB");
    n->attrs[0].type = FOIL_ATTR_INT;
    n->attrs[0].i = 1;
    n->n_attrs = 1;
    foilGraphAddNode(g, "act", op2, 1, in2, 1, out2);
    return g;
}

static void save_tiny(const char *name, int drop_initializer, const char *op2, int64_t w_cols, char *path, size_t len)
{
    tmp_path(path, len, name);
    FoilGraph *g = tiny_graph(drop_initializer, op2, w_cols);
    assert_int_equal(foilOnnxSave(g, path), FOIL_OK);
    foilGraphFree(g);
}

static void test_model_errors_name_node(void **state)
{
    (void)state;
    char path[512];
    save_tiny("unknown_op.onnx", 0, "FancyActivation", 4, path, sizeof path);
    expect_error(path, FOIL_ERR_UNSUPPORTED, "'act': operator 'FancyActivation' is not supported");
    save_tiny("no_bias.onnx", 1, "Relu", 4, path, sizeof path);
    expect_error(path, FOIL_ERR_FORMAT, "input 'b'");
    /* A weight of the wrong shape loads, and planning names node and shapes. */
    save_tiny("bad_shape.onnx", 0, "Relu", 5, path, sizeof path);
    FoilGraph *g = NULL;
    assert_int_equal(foilOnnxLoad(path, &g), FOIL_OK);
    foil_tensor x = {0};
    int64_t shape[2] = {2, 4};
    foil_tensor_alloc(&x, FOIL_F32, 2, shape);
    const foil_tensor *in[1] = {&x};
    foil_status st = foilGraphPlan(g, in);
    assert_int_not_equal(st, FOIL_OK);
    if (!strstr(foil_last_error(), "'fc'")) fail_msg("shape error does not name the node: %s", foil_last_error());
    /* Wrong input shape for a good model. */
    foilGraphFree(g);
    save_tiny("good.onnx", 0, "Relu", 4, path, sizeof path);
    assert_int_equal(foilOnnxLoad(path, &g), FOIL_OK);
    int64_t bad[2] = {2, 5};
    foil_tensor x5 = {0};
    foil_tensor_alloc(&x5, FOIL_F32, 2, bad);
    in[0] = &x5;
    assert_int_equal(foilGraphPlan(g, in), FOIL_ERR_SHAPE);
    foilGraphFree(g);
    foil_tensor_free(&x);
    foil_tensor_free(&x5);
}

static int python_onnx_available(void)
{
    return system("/usr/bin/python3 -c 'import onnx' >/dev/null 2>&1") == 0;
}

/* Load -> save -> reload must give bit-identical outputs on the case's test
 * inputs; the official checker must accept the saved file. */
static void roundtrip(const char *rel_dir, int check)
{
    char model[512], saved[512], in_path[512];
    snprintf(model, sizeof model, TESTDATA "/%s/model.onnx", rel_dir);
    tmp_path(saved, sizeof saved, "roundtrip.onnx");
    FoilGraph *g1 = NULL, *g2 = NULL;
    if (foilOnnxLoad(model, &g1)) fail_msg("%s", foil_last_error());
    assert_int_equal(foilOnnxSave(g1, saved), FOIL_OK);
    if (foilOnnxLoad(saved, &g2)) fail_msg("%s", foil_last_error());
    assert_int_equal(g1->n_inputs, g2->n_inputs);
    foil_tensor inputs[8] = {{0}};
    const foil_tensor *ptrs[8];
    for (int i = 0; i < g1->n_inputs; i++) {
        snprintf(in_path, sizeof in_path, TESTDATA "/%s/test_data_set_0/input_%d.pb", rel_dir, i);
        assert_int_equal(foilOnnxReadTensor(in_path, &inputs[i]), FOIL_OK);
        ptrs[i] = &inputs[i];
    }
    FoilGraph *gs[2] = {g1, g2};
    for (int k = 0; k < 2; k++) {
        if (foilGraphPlan(gs[k], ptrs) || foilGraphForward(gs[k], ptrs, 0, 0)) fail_msg("%s", foil_last_error());
    }
    for (int o = 0; o < g1->n_outputs; o++) {
        foil_tensor *a = foilGraphOutput(g1, o), *b = foilGraphOutput(g2, o);
        assert_true(foil_tensor_same_shape(a, b));
        assert_memory_equal(a->data, b->data, foil_tensor_nbytes(a));
    }
    if (check) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c \"import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), "
                 "full_check=True)\" %s", saved);
        if (system(cmd) != 0) fail_msg("onnx.checker rejected the export of %s", rel_dir);
    }
    for (int i = 0; i < 8; i++) foil_tensor_free(&inputs[i]);
    foilGraphFree(g1);
    foilGraphFree(g2);
}

static void test_export_roundtrip(void **state)
{
    (void)state;
    if (!have_testdata()) skip();
    int check = python_onnx_available();
    if (!check) printf("note: python3-onnx not installed; exported files are not run through onnx.checker\n");
    static const char *cases[] = {
        "pytorch-converted/test_Conv2d", "pytorch-converted/test_BatchNorm2d_eval", "pytorch-converted/test_Linear",
        "pytorch-converted/test_MaxPool2d", "pytorch-converted/test_Conv2d_groups", "pytorch-operator/test_operator_flatten",
        "node/test_gemm_all_attributes", "node/test_conv_with_autopad_same", "node/test_softmax_axis_1",
        "node/test_reshape_negative_dim", "node/test_batchnorm_example", "node/test_constant_pad",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) roundtrip(cases[i], check);
}

/* Metadata set on a model survives saving and loading, a second value for
 * a key replaces the first, and a wrapper model (no graph) refuses it. */
static void test_metadata_roundtrip(void **state)
{
    (void)state;
    const int64_t hidden[1] = {4};
    foil_arch_spec spec = {.name = "mlp", .input_rank = 2, .input_shape = {3}, .classes = 2, .hidden = hidden,
                           .n_hidden = 1, .seed = 1};
    foil_model *m = NULL, *back = NULL, *wrapped = NULL;
    assert_int_equal(foil_arch_build(&spec, &m), FOIL_OK);
    assert_null(foil_model_metadata(m, "foil.training_command"));
    assert_int_equal(foil_model_set_metadata(m, "foil.training_command", "foil train --arch mlp"), FOIL_OK);
    assert_int_equal(foil_model_set_metadata(m, "foil.data_manifest_sha256", "old"), FOIL_OK);
    assert_int_equal(foil_model_set_metadata(m, "foil.data_manifest_sha256", "ab12"), FOIL_OK);
    char path[600];
    snprintf(path, sizeof path, "%s/meta.onnx", tmpdir);
    assert_int_equal(foil_model_save(m, path), FOIL_OK);
    assert_int_equal(foil_model_load(path, &back), FOIL_OK);
    assert_string_equal(foil_model_metadata(back, "foil.training_command"), "foil train --arch mlp");
    assert_string_equal(foil_model_metadata(back, "foil.data_manifest_sha256"), "ab12");
    assert_null(foil_model_metadata(back, "absent"));
    assert_int_equal(foil_model_black_box(back, 0, NULL, &wrapped), FOIL_OK);
    assert_int_equal(foil_model_set_metadata(wrapped, "k", "v"), FOIL_ERR_CAPABILITY);
    assert_null(foil_model_metadata(wrapped, "foil.training_command"));
    foil_model_free(wrapped);
    foil_model_free(m);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/foil-test-onnx-io-%ld", (long)getpid());
    mkdir(tmpdir, 0700);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_empty_garbage),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_corrupted_bytes),
        cmocka_unit_test(test_model_errors_name_node),
        cmocka_unit_test(test_export_roundtrip),
        cmocka_unit_test(test_metadata_roundtrip),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return rc;
}
