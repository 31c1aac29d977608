/*
 * tests/test_ml_ops.c - the ai.onnx.ml tree ensemble (nn/ml/tree.c) on
 * hand-built trees: every branch mode at, below and above its threshold,
 * the missing-value rule (NaN follows nodes_missing_value_tracks_true, which
 * foil's CLI cannot feed: it refuses NaN inputs), MIN / MAX / AVERAGE
 * aggregation; broken trees refused at load with an error naming what is
 * wrong (duplicate ids, a child the tree lacks, a cycle, arrays of unequal
 * length, a vote on a branch node or for a class that does not exist, no
 * root, a feature beyond the input); and the model built on such a graph
 * has no gradients and says which node is to blame. The cross-check
 * against scikit-learn, XGBoost, LightGBM and onnxruntime is
 * tests/ml_crosscheck.py.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "foil/model.h"
#include "model/model_internal.h"
#include "nn/graph.h"
#include "nn/ml/ml.h"

enum { FEATURES = 2 };

/* A graph x (N, 2) -> op -> outputs, the op's attributes added later. */
static FoilGraph *new_graph(const char *op, int n_out)
{
    FoilGraph *g = foilGraphNew("t.onnx");
    assert_non_null(g);
    int x = foilGraphValue(g, "x");
    FoilValue *v = &g->values[x];
    v->kind = FOIL_VALUE_INPUT;
    v->has_decl = 1;
    v->decl_dtype = FOIL_F32;
    v->decl_ndim = 2;
    v->decl_shape[0] = -1;
    v->decl_shape[1] = FEATURES;
    g->inputs = calloc(1, sizeof *g->inputs);
    g->outputs = calloc(2, sizeof *g->outputs);
    g->inputs[g->n_inputs++] = x;
    int out[2] = {foilGraphValue(g, n_out == 2 ? "label" : "y"), n_out == 2 ? foilGraphValue(g, "scores") : -1};
    for (int i = 0; i < n_out; i++) g->outputs[g->n_outputs++] = out[i];
    FoilNode *n = foilGraphAddNode(g, "trees", op, 1, &x, n_out, out);
    assert_non_null(n);
    free(n->domain);
    n->domain = strdup(FOIL_ML_DOMAIN);
    n->attrs = calloc(32, sizeof *n->attrs);
    return g;
}

static FoilAttr *attr(FoilGraph *g, const char *name, FoilAttrType type)
{
    FoilNode *n = &g->nodes[0];
    FoilAttr *a = &n->attrs[n->n_attrs++];
    a->name = strdup(name);
    a->type = type;
    return a;
}

static void ints(FoilGraph *g, const char *name, int k, const int64_t *v)
{
    FoilAttr *a = attr(g, name, FOIL_ATTR_INTS);
    a->n = k;
    a->ints = malloc((size_t)(k ? k : 1) * sizeof *a->ints);
    memcpy(a->ints, v, (size_t)k * sizeof *v);
}

static void floats(FoilGraph *g, const char *name, int k, const float *v)
{
    FoilAttr *a = attr(g, name, FOIL_ATTR_FLOATS);
    a->n = k;
    a->floats = malloc((size_t)(k ? k : 1) * sizeof *a->floats);
    memcpy(a->floats, v, (size_t)k * sizeof *v);
}

static void strings(FoilGraph *g, const char *name, int k, const char *const *v)
{
    FoilAttr *a = attr(g, name, FOIL_ATTR_STRINGS);
    a->n = k;
    a->strings = calloc((size_t)(k ? k : 1), sizeof *a->strings);
    for (int i = 0; i < k; i++) a->strings[i] = strdup(v[i]);
}

static void string(FoilGraph *g, const char *name, const char *s)
{
    attr(g, name, FOIL_ATTR_STRING)->s = strdup(s);
}

/* A regressor of one tree: node 0 tests feature `feature` with `mode`
 * against 0.5, true -> leaf 1 (votes 10), false -> leaf 2 (votes 20). */
static FoilGraph *stump(const char *mode, int64_t feature, int64_t missing_true)
{
    FoilGraph *g = new_graph("TreeEnsembleRegressor", 1);
    const char *modes[] = {mode, "LEAF", "LEAF"};
    ints(g, "nodes_treeids", 3, (int64_t[]){0, 0, 0});
    ints(g, "nodes_nodeids", 3, (int64_t[]){0, 1, 2});
    ints(g, "nodes_featureids", 3, (int64_t[]){feature, 0, 0});
    strings(g, "nodes_modes", 3, modes);
    floats(g, "nodes_values", 3, (float[]){0.5f, 0, 0});
    ints(g, "nodes_truenodeids", 3, (int64_t[]){1, 0, 0});
    ints(g, "nodes_falsenodeids", 3, (int64_t[]){2, 0, 0});
    ints(g, "nodes_missing_value_tracks_true", 3, (int64_t[]){missing_true, 0, 0});
    ints(g, "target_ids", 2, (int64_t[]){0, 0});
    ints(g, "target_nodeids", 2, (int64_t[]){1, 2});
    ints(g, "target_treeids", 2, (int64_t[]){0, 0});
    floats(g, "target_weights", 2, (float[]){10, 20});
    return g;
}

/* Run rows (n x 2) through a finalized graph; returns output 0's floats. */
static const float *run(FoilGraph *g, const float *rows, int64_t n)
{
    foil_tensor x = {0};
    int64_t shape[2] = {n, FEATURES};
    assert_int_equal(foil_tensor_alloc(&x, FOIL_F32, 2, shape), FOIL_OK);
    memcpy(x.data, rows, (size_t)(n * FEATURES) * sizeof(float));
    const foil_tensor *in[1] = {&x};
    foil_status st = foilGraphPlan(g, in);
    if (!st) st = foilGraphForward(g, in, 0, 0);
    foil_tensor_free(&x);
    if (st) fail_msg("run: %s", foil_last_error());
    return foil_f32(foilGraphOutput(g, 0));
}

static void test_branch_modes(void **state)
{
    (void)state;
    /* x0 = 0.4, 0.5, 0.6: which rows go to the true leaf (10) per mode. */
    const struct { const char *mode; float want[3]; } cases[] = {
        {"BRANCH_LEQ", {10, 10, 20}}, {"BRANCH_LT", {10, 20, 20}}, {"BRANCH_GTE", {20, 10, 10}},
        {"BRANCH_GT", {20, 20, 10}},  {"BRANCH_EQ", {20, 10, 20}}, {"BRANCH_NEQ", {10, 20, 10}},
    };
    const float rows[] = {0.4f, 0, 0.5f, 0, 0.6f, 0};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        FoilGraph *g = stump(cases[k].mode, 0, 0);
        if (foilGraphFinalize(g)) fail_msg("%s: %s", cases[k].mode, foil_last_error());
        const float *y = run(g, rows, 3);
        for (int i = 0; i < 3; i++)
            if (y[i] != cases[k].want[i]) fail_msg("%s row %d: %g, want %g", cases[k].mode, i, y[i], cases[k].want[i]);
        foilGraphFree(g);
    }
}

static void test_missing_values(void **state)
{
    (void)state;
    /* NaN fails every comparison but NEQ: without tracking, LEQ sends it
     * false (20); with nodes_missing_value_tracks_true, true (10). */
    const float rows[] = {NAN, 0};
    for (int track = 0; track <= 1; track++) {
        FoilGraph *g = stump("BRANCH_LEQ", 0, track);
        assert_int_equal(foilGraphFinalize(g), FOIL_OK);
        assert_true(run(g, rows, 1)[0] == (track ? 10.0f : 20.0f));
        foilGraphFree(g);
    }
    FoilGraph *g = stump("BRANCH_GT", 0, 1); /* tracked: true even though NaN > 0.5 is false */
    assert_int_equal(foilGraphFinalize(g), FOIL_OK);
    assert_true(run(g, rows, 1)[0] == 10.0f);
    foilGraphFree(g);
}

/* Two stumps; row (0.4, 0.6) reaches leaf 1 (10) of tree 0 and leaf 2 (20)
 * of tree 1 (which tests feature 1), plus base value 1. */
static float two_trees(const char *agg)
{
    FoilGraph *g = new_graph("TreeEnsembleRegressor", 1);
    const char *modes[] = {"BRANCH_LEQ", "LEAF", "LEAF", "BRANCH_LEQ", "LEAF", "LEAF"};
    ints(g, "nodes_treeids", 6, (int64_t[]){0, 0, 0, 1, 1, 1});
    ints(g, "nodes_nodeids", 6, (int64_t[]){0, 1, 2, 0, 1, 2});
    ints(g, "nodes_featureids", 6, (int64_t[]){0, 0, 0, 1, 0, 0});
    strings(g, "nodes_modes", 6, modes);
    floats(g, "nodes_values", 6, (float[]){0.5f, 0, 0, 0.5f, 0, 0});
    ints(g, "nodes_truenodeids", 6, (int64_t[]){1, 0, 0, 1, 0, 0});
    ints(g, "nodes_falsenodeids", 6, (int64_t[]){2, 0, 0, 2, 0, 0});
    ints(g, "target_ids", 4, (int64_t[]){0, 0, 0, 0});
    ints(g, "target_nodeids", 4, (int64_t[]){1, 2, 1, 2});
    ints(g, "target_treeids", 4, (int64_t[]){0, 0, 1, 1});
    floats(g, "target_weights", 4, (float[]){10, 20, 30, 20});
    floats(g, "base_values", 1, (float[]){1});
    string(g, "aggregate_function", agg);
    assert_int_equal(foilGraphFinalize(g), FOIL_OK);
    float y = run(g, (float[]){0.4f, 0.6f}, 1)[0];
    foilGraphFree(g);
    return y;
}

static void test_aggregates(void **state)
{
    (void)state;
    assert_true(two_trees("SUM") == 31.0f);
    assert_true(two_trees("AVERAGE") == 16.0f);
    assert_true(two_trees("MIN") == 11.0f);
    assert_true(two_trees("MAX") == 21.0f);
}

static void expect_refused(FoilGraph *g, const char *needle)
{
    foil_status st = foilGraphFinalize(g);
    if (st == FOIL_OK) fail_msg("expected an error containing '%s'", needle);
    if (!strstr(foil_last_error(), needle)) fail_msg("error '%s' lacks '%s'", foil_last_error(), needle);
    foilGraphFree(g);
}

/* stump() with attribute `name` replaced. */
static FoilGraph *stump_with(const char *name, int k, const int64_t *v)
{
    FoilGraph *g = stump("BRANCH_LEQ", 0, 0);
    FoilNode *n = &g->nodes[0];
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) {
            free(n->attrs[i].ints);
            n->attrs[i].ints = malloc((size_t)(k ? k : 1) * sizeof *v);
            memcpy(n->attrs[i].ints, v, (size_t)k * sizeof *v);
            n->attrs[i].n = k;
        }
    return g;
}

static void test_broken_trees_refused(void **state)
{
    (void)state;
    expect_refused(stump_with("nodes_nodeids", 3, (int64_t[]){0, 1, 1}), "node 1 of tree 0 is defined twice");
    expect_refused(stump_with("nodes_truenodeids", 3, (int64_t[]){7, 0, 0}), "its true child is node 7, which tree 0 does not have");
    expect_refused(stump_with("nodes_falsenodeids", 3, (int64_t[]){-1, 0, 0}), "its false child is node -1");
    expect_refused(stump_with("nodes_truenodeids", 3, (int64_t[]){0, 0, 0}), "tree 0 has a cycle");
    expect_refused(stump_with("nodes_featureids", 3, (int64_t[]){-3, 0, 0}), "tests feature -3");
    expect_refused(stump_with("nodes_treeids", 2, (int64_t[]){0, 0}), "the nodes_* arrays differ in length");
    expect_refused(stump_with("nodes_nodeids", 3, (int64_t[]){5, 1, 2}), "tree 0 has no node 0");
    expect_refused(stump_with("target_nodeids", 2, (int64_t[]){1, 0}), "is for a branch node");
    expect_refused(stump_with("target_nodeids", 2, (int64_t[]){1, 9}), "is for a node the ensemble does not have");
    expect_refused(stump_with("target_ids", 2, (int64_t[]){0, 3}), "target 3 of 1) is for an id out of range");
    expect_refused(stump_with("target_treeids", 1, (int64_t[]){0}), "differ in length");

    /* A cycle below the root, through two branch nodes. */
    FoilGraph *g = new_graph("TreeEnsembleRegressor", 1);
    const char *modes[] = {"BRANCH_LEQ", "BRANCH_LEQ", "BRANCH_LEQ", "LEAF"};
    ints(g, "nodes_treeids", 4, (int64_t[]){4, 4, 4, 4});
    ints(g, "nodes_nodeids", 4, (int64_t[]){0, 1, 2, 3});
    ints(g, "nodes_featureids", 4, (int64_t[]){0, 1, 0, 0});
    strings(g, "nodes_modes", 4, modes);
    floats(g, "nodes_values", 4, (float[]){0, 0, 0, 0});
    ints(g, "nodes_truenodeids", 4, (int64_t[]){1, 2, 1, 0});
    ints(g, "nodes_falsenodeids", 4, (int64_t[]){3, 3, 3, 0});
    expect_refused(g, "tree 4 has a cycle through node");

    g = stump("BRANCH_SOMETIMES", 0, 0);
    expect_refused(g, "has mode 'BRANCH_SOMETIMES'");
    g = stump("BRANCH_LEQ", 0, 0);
    string(g, "aggregate_function", "MEDIAN");
    expect_refused(g, "aggregate_function 'MEDIAN'");
    g = stump("BRANCH_LEQ", 0, 0);
    string(g, "post_transform", "SQUASH");
    expect_refused(g, "post_transform 'SQUASH' is not one of NONE, SOFTMAX, LOGISTIC, SOFTMAX_ZERO, PROBIT");
}

static void test_feature_beyond_input(void **state)
{
    (void)state;
    FoilGraph *g = stump("BRANCH_LEQ", 5, 0);
    assert_int_equal(foilGraphFinalize(g), FOIL_OK);
    foil_tensor x = {0};
    int64_t shape[2] = {1, FEATURES};
    assert_int_equal(foil_tensor_alloc(&x, FOIL_F32, 2, shape), FOIL_OK);
    const foil_tensor *in[1] = {&x};
    assert_int_not_equal(foilGraphPlan(g, in), FOIL_OK);
    assert_non_null(strstr(foil_last_error(), "a branch tests feature 5, but the input has 2 features"));
    foil_tensor_free(&x);
    foilGraphFree(g);
}

/* A classifier: labels first, probabilities second. The model scores by
 * the probabilities, has no gradients, and says which node is why. */
static void test_model_without_gradients(void **state)
{
    (void)state;
    FoilGraph *g = new_graph("TreeEnsembleClassifier", 2);
    const char *modes[] = {"BRANCH_LEQ", "LEAF", "LEAF"};
    ints(g, "nodes_treeids", 3, (int64_t[]){0, 0, 0});
    ints(g, "nodes_nodeids", 3, (int64_t[]){0, 1, 2});
    ints(g, "nodes_featureids", 3, (int64_t[]){1, 0, 0});
    strings(g, "nodes_modes", 3, modes);
    floats(g, "nodes_values", 3, (float[]){0.5f, 0, 0});
    ints(g, "nodes_truenodeids", 3, (int64_t[]){1, 0, 0});
    ints(g, "nodes_falsenodeids", 3, (int64_t[]){2, 0, 0});
    ints(g, "class_ids", 4, (int64_t[]){0, 1, 0, 1});
    ints(g, "class_nodeids", 4, (int64_t[]){1, 1, 2, 2});
    ints(g, "class_treeids", 4, (int64_t[]){0, 0, 0, 0});
    floats(g, "class_weights", 4, (float[]){0.75f, 0.25f, 0.1f, 0.9f});
    ints(g, "classlabels_int64s", 2, (int64_t[]){0, 1});
    g->values[g->outputs[0]].has_decl = 1;
    g->values[g->outputs[0]].decl_dtype = FOIL_I64;
    assert_int_equal(foilGraphFinalize(g), FOIL_OK);
    foil_model *m = NULL;
    assert_int_equal(foilModelFromGraph(g, &m), FOIL_OK);
    assert_false(foil_model_capabilities(m) & FOIL_MODEL_GRADIENTS);
    assert_non_null(strstr(foil_model_why_no_gradients(m), "node 'trees' (TreeEnsembleClassifier, ai.onnx.ml)"));
    foil_tensor x = {0}, scores = {0}, grad = {0};
    int64_t shape[2] = {2, FEATURES};
    assert_int_equal(foil_tensor_alloc(&x, FOIL_F32, 2, shape), FOIL_OK);
    foil_f32(&x)[1] = 0.2f; /* row 0: leaf 1 */
    foil_f32(&x)[3] = 0.8f; /* row 1: leaf 2 */
    assert_int_equal(foil_model_predict(m, &x, &scores), FOIL_OK);
    const float want[4] = {0.75f, 0.25f, 0.1f, 0.9f};
    for (int i = 0; i < 4; i++) assert_true(fabsf(foil_f32(&scores)[i] - want[i]) < 1e-7f);
    int64_t labels[2] = {0, 1};
    assert_int_equal(foil_model_loss_input_grad(m, &x, labels, NULL, NULL, &grad), FOIL_ERR_CAPABILITY);
    assert_non_null(strstr(foil_last_error(), "not differentiable"));
    assert_non_null(strstr(foil_last_error(), "TreeEnsembleClassifier"));

    /* Written back (the ai.onnx.ml domain and opset with it) and read
     * again, it scores the same. */
    char path[] = "/tmp/foil-ml-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    if (foil_model_save(m, path)) fail_msg("save: %s", foil_last_error());
    foil_model *again = NULL;
    if (foil_model_load(path, &again)) fail_msg("reload: %s", foil_last_error());
    foil_tensor scores2 = {0};
    assert_int_equal(foil_model_predict(again, &x, &scores2), FOIL_OK);
    assert_memory_equal(scores.data, scores2.data, 4 * sizeof(float));
    assert_false(foil_model_capabilities(again) & FOIL_MODEL_GRADIENTS);
    foil_tensor_free(&scores2);
    foil_model_free(again);
    unlink(path);
    foil_tensor_free(&x);
    foil_tensor_free(&scores);
    foil_tensor_free(&grad);
    foil_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_branch_modes),       cmocka_unit_test(test_missing_values),
        cmocka_unit_test(test_aggregates),         cmocka_unit_test(test_broken_trees_refused),
        cmocka_unit_test(test_feature_beyond_input), cmocka_unit_test(test_model_without_gradients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
