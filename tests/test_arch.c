/*
 * tests/test_arch.c - the built-in architectures (foil/arch.h) and weight
 * initialization (foil_model_reinit).
 *
 * Checks: every architecture builds, plans and runs forward and backward
 * (inference and training mode) at batch 1 and 5 on 1x28x28 and 3x32x32
 * images (the MLP also on 30 features); parameter counts; whole-model
 * gradients against central finite differences; initialization statistics
 * (bounds and variance of Kaiming-uniform with a = sqrt(5)); determinism per
 * seed; the normalization prefix against normalizing by hand; ONNX export
 * and re-load; re-initialization of user graphs (MatMul (in, out) weights,
 * Gemm with transB = 0, grouped Conv, BatchNorm statistics, constants left
 * alone); bad specifications; the graph builder (nn/builder.h).
 *
 * When /usr/bin/python3 has torch and onnx, the exported models pass
 * onnx.checker (full_check), and their weights, loaded by name into the
 * equivalent torch.nn modules, give foil's logits and input gradients, and
 * in training mode its logits, input and weight gradients and BatchNorm
 * running statistics.
 *
 * FOIL_TEST_FILTER=name runs one test; FOIL_TEST_KEEP=1 keeps the files in
 * /tmp/foil-test-arch-PID.
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "foil/arch.h"
#include "foil/loss.h"
#include "foil/npy.h"
#include "foil/rng.h"
#include "model/model_internal.h"
#include "nn/builder.h"

static char tmpdir[256];

/* ---------------------------------------------------------------------------
 * helpers
 */

static foil_arch_spec spec_of(const char *name, int rank, int64_t d1, int64_t d2, int64_t d3, int64_t classes,
                              uint64_t seed)
{
    foil_arch_spec s;
    memset(&s, 0, sizeof s);
    s.name = name;
    s.input_rank = rank;
    s.input_shape[0] = d1;
    s.input_shape[1] = d2;
    s.input_shape[2] = d3;
    s.classes = classes;
    s.seed = seed;
    return s;
}

static foil_model *build(const foil_arch_spec *s)
{
    foil_model *m = NULL;
    foil_status st = foil_arch_build(s, &m);
    if (st) fail_msg("building %s: %s", s->name, foil_last_error());
    assert_non_null(m);
    return m;
}

static int64_t example_numel(const foil_arch_spec *s)
{
    int64_t n = 1;
    for (int d = 0; d < s->input_rank - 1; d++) n *= s->input_shape[d];
    return n;
}

/* x: (batch, example shape) uniform in [lo, hi). */
static void make_input(foil_tensor *x, const foil_arch_spec *s, int64_t batch, uint64_t seed, float lo, float hi)
{
    int64_t shape[5] = {batch};
    for (int d = 1; d < s->input_rank; d++) shape[d] = s->input_shape[d - 1];
    assert_int_equal(foil_tensor_alloc(x, FOIL_F32, s->input_rank, shape), FOIL_OK);
    foil_rng r = foil_rng_make(seed, 1);
    float *p = foil_f32(x);
    for (int64_t i = 0; i < x->numel; i++) p[i] = lo + (hi - lo) * foil_rng_uniform(&r);
}

static FoilValue *value_named(foil_model *m, const char *name)
{
    int i = foilGraphFindValue(foilGraphModelOf(m)->g, name);
    if (i < 0) fail_msg("no value named '%s'", name);
    return &foilGraphModelOf(m)->g->values[i];
}

static int64_t trainable_count(const foil_model *m)
{
    const FoilGraph *g = foilGraphModelOf(m)->g;
    int64_t n = 0;
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].kind == FOIL_VALUE_PARAM && g->values[i].trainable) n += g->values[i].t.numel;
    return n;
}

/* Plan the model's graph directly for x; the estimator must re-plan after. */
static void plan_graph(foil_model *m, const foil_tensor *x)
{
    const foil_tensor *in[1] = {x};
    foilGraphModelUnplan(foilGraphModelOf(m));
    foil_status st = foilGraphPlan(foilGraphModelOf(m)->g, in);
    if (st) fail_msg("plan: %s", foil_last_error());
}

static double sum_weighted(const foil_tensor *y, const float *w)
{
    double s = 0;
    for (int64_t i = 0; i < y->numel; i++) s += (double)foil_f32(y)[i] * w[i];
    return s;
}

static int all_finite(const foil_tensor *t)
{
    for (int64_t i = 0; i < t->numel; i++)
        if (!isfinite(foil_f32(t)[i])) return 0;
    return 1;
}

static int any_nonzero(const foil_tensor *t)
{
    for (int64_t i = 0; i < t->numel; i++)
        if (foil_f32(t)[i] != 0.0f) return 1;
    return 0;
}

/* ---------------------------------------------------------------------------
 * every architecture runs forward and backward
 */

static void check_runs(const foil_arch_spec *s, int64_t batch)
{
    foil_model *m = build(s);
    FoilGraph *g = foilGraphModelOf(m)->g;
    foil_tensor x = {0}, dy = {0};
    make_input(&x, s, batch, 11, 0.0f, 1.0f);
    plan_graph(m, &x);
    const foil_tensor *in[1] = {&x};
    const foil_tensor *y = foilGraphOutput(g, 0);
    assert_int_equal(y->ndim, 2);
    assert_int_equal(y->shape[0], batch);
    assert_int_equal(y->shape[1], s->classes);
    assert_int_equal(foil_tensor_alloc(&dy, FOIL_F32, 2, y->shape), FOIL_OK);
    foil_rng r = foil_rng_make(5, 5);
    for (int64_t i = 0; i < dy.numel; i++) foil_f32(&dy)[i] = (float)foil_rng_normal(&r);
    const foil_tensor *dys[1] = {&dy};
    for (int training = 0; training <= 1; training++) {
        foil_status st = foilGraphForward(g, in, training, 3);
        if (st) fail_msg("%s forward: %s", s->name, foil_last_error());
        assert_true(all_finite(y));
        assert_true(any_nonzero(y));
        st = foilGraphBackward(g, dys, FOIL_GRAD_PARAMS | FOIL_GRAD_INPUTS);
        if (st) fail_msg("%s backward: %s", s->name, foil_last_error());
        const foil_tensor *dx = foilGraphInputGrad(g, 0);
        assert_true(all_finite(dx));
        assert_true(any_nonzero(dx));
        for (int i = 0; i < g->n_values; i++) {
            const FoilValue *v = &g->values[i];
            if (v->kind != FOIL_VALUE_PARAM || !v->trainable) continue;
            assert_true(all_finite(&v->grad));
            if (!any_nonzero(&v->grad))
                fail_msg("%s batch %lld training %d: parameter '%s' got no gradient", s->name, (long long)batch,
                         training, v->name);
        }
    }
    /* And through the estimator, which plans its own chunks. */
    foil_tensor logits = {0};
    assert_int_equal(foil_model_predict(m, &x, &logits), FOIL_OK);
    assert_int_equal(logits.shape[0], batch);
    assert_int_equal(logits.shape[1], s->classes);
    int64_t classes = 0;
    assert_int_equal(foil_model_num_classes(m, &classes), FOIL_OK);
    assert_int_equal(classes, s->classes);
    foil_tensor_free(&logits);
    foil_tensor_free(&x);
    foil_tensor_free(&dy);
    foil_model_free(m);
}

static void test_all_run(void **state)
{
    (void)state;
    static const char *names[] = {"mlp", "cnn-small", "lenet5", "cnn-tanh", "resnet-mini"};
    static const int64_t shapes[2][3] = {{1, 28, 28}, {3, 32, 32}};
    for (int a = 0; a < 5; a++)
        for (int sh = 0; sh < 2; sh++)
            for (int64_t batch = 1; batch <= 5; batch += 4) {
                foil_arch_spec s = spec_of(names[a], 4, shapes[sh][0], shapes[sh][1], shapes[sh][2], 10, 1);
                check_runs(&s, batch);
            }
    const int64_t hidden[3] = {32, 16, 8};
    for (int64_t batch = 1; batch <= 5; batch += 4) {
        foil_arch_spec s = spec_of("mlp", 2, 30, 0, 0, 2, 1);
        check_runs(&s, batch);
        s.hidden = hidden;
        s.n_hidden = 3;
        check_runs(&s, batch);
        s.n_hidden = 0; /* logistic regression */
        check_runs(&s, batch);
    }
}

/* ---------------------------------------------------------------------------
 * Relu fusion: the planner folds a Relu into the Conv, Gemm or BatchNorm
 * before it (graph.c, absorb_relu), and a MaxPool after a Conv (and its
 * Relu) into the Conv's forward (pool_producer). The fused plan must compute
 * exactly what the unfused one does: logits, input gradient and every
 * weight gradient, bit for bit, in inference and training mode.
 */

typedef struct pass_result {
    float *y, *dx, **dw;
    int absorbed, masked; /* fused Relus; of them, those whose MaxPool applies the backward mask */
    int pooled;           /* MaxPools run by the Conv before them */
} pass_result;

static float *copy_floats(const foil_tensor *t)
{
    float *p = malloc((size_t)t->numel * sizeof *p);
    assert_non_null(p);
    memcpy(p, t->data, (size_t)t->numel * sizeof *p);
    return p;
}

static pass_result fused_pass(foil_model *m, const foil_tensor *x, int fuse, int training)
{
    FoilGraph *g = foilGraphModelOf(m)->g;
    foilGraphFuseRelu = fuse;
    plan_graph(m, x);
    foilGraphFuseRelu = 1;
    pass_result r = {0};
    for (int k = 0; k < g->n_nodes; k++) {
        r.absorbed += g->nodes[k].absorbed;
        r.masked += g->nodes[k].masked_by_reader;
        r.pooled += g->nodes[k].ctx.pool_in;
    }
    const foil_tensor *in[1] = {x};
    if (foilGraphForward(g, in, training, 9)) fail_msg("forward: %s", foil_last_error());
    const foil_tensor *y = foilGraphOutput(g, 0);
    foil_tensor dy = {0};
    assert_int_equal(foil_tensor_alloc(&dy, FOIL_F32, y->ndim, y->shape), FOIL_OK);
    foil_rng rng = foil_rng_make(12, 0);
    for (int64_t i = 0; i < dy.numel; i++) foil_f32(&dy)[i] = (float)foil_rng_normal(&rng);
    const foil_tensor *dys[1] = {&dy};
    if (foilGraphBackward(g, dys, FOIL_GRAD_PARAMS | FOIL_GRAD_INPUTS)) fail_msg("backward: %s", foil_last_error());
    r.y = copy_floats(y);
    r.dx = copy_floats(foilGraphInputGrad(g, 0));
    r.dw = calloc((size_t)g->n_values, sizeof *r.dw);
    assert_non_null(r.dw);
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].kind == FOIL_VALUE_PARAM && g->values[i].trainable) r.dw[i] = copy_floats(&g->values[i].grad);
    foil_tensor_free(&dy);
    return r;
}

static void test_relu_fusion(void **state)
{
    (void)state;
    static const struct { const char *arch; int absorbed, masked, pooled; } cases[] = {
        {"cnn-small", 3, 2, 2},    /* conv1, conv2, fc1; pool1 and pool2 mask, and are pooled by conv1, conv2 */
        {"lenet5", 4, 2, 2},       /* conv1, conv2, fc1, fc2; pool1 and pool2 mask, ... */
        {"mlp", 2, 0, 0},          /* fc1, fc2 */
        {"resnet-mini", 10, 0, 0}, /* the stem's bn1 and each block's bn1; relu2 follows an Add */
    };
    /* batch 1: the threads share each sample; batch 3: a sample per thread */
    for (size_t a = 0; a < sizeof cases / sizeof cases[0]; a++)
        for (int run = 0; run < 4; run++) {
            const int training = run & 1;
            foil_arch_spec s = spec_of(cases[a].arch, 4, 1, 28, 28, 10, 1);
            foil_model *m = build(&s);
            foil_tensor x = {0};
            make_input(&x, &s, run < 2 ? 1 : 3, 4, 0.0f, 1.0f);
            pass_result f = fused_pass(m, &x, 1, training), u = fused_pass(m, &x, 0, training);
            if (f.absorbed != cases[a].absorbed || f.masked != cases[a].masked || f.pooled != cases[a].pooled ||
                u.absorbed || u.masked || u.pooled)
                fail_msg("%s: %d Relus fused, %d masked by their MaxPool, %d MaxPools fused (%d, %d, %d without "
                         "fusion), expected %d, %d, %d",
                         s.name, f.absorbed, f.masked, f.pooled, u.absorbed, u.masked, u.pooled, cases[a].absorbed,
                         cases[a].masked, cases[a].pooled);
            FoilGraph *g = foilGraphModelOf(m)->g;
            assert_memory_equal(f.y, u.y, (size_t)foilGraphOutput(g, 0)->numel * sizeof(float));
            assert_memory_equal(f.dx, u.dx, (size_t)x.numel * sizeof(float));
            for (int i = 0; i < g->n_values; i++) {
                if (!f.dw[i]) continue;
                if (memcmp(f.dw[i], u.dw[i], (size_t)g->values[i].t.numel * sizeof(float)) != 0)
                    fail_msg("%s training %d: gradient of '%s' differs with fusion", s.name, training,
                             g->values[i].name);
                free(f.dw[i]);
                free(u.dw[i]);
            }
            free(f.y), free(f.dx), free(f.dw), free(u.y), free(u.dx), free(u.dw);
            foil_tensor_free(&x);
            foil_model_free(m);
        }
}

/* ---------------------------------------------------------------------------
 * parameter counts and structure
 */

static void test_param_counts(void **state)
{
    (void)state;
    struct { const char *name; int64_t c, h, w; int64_t expect; } cases[] = {
        {"cnn-small", 1, 28, 28, 421642},
        {"lenet5", 1, 28, 28, 61706},
        {"resnet-mini", 1, 28, 28, 272186},
        {"resnet-mini", 3, 32, 32, 272474},
        {"mlp", 1, 28, 28, 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10},
        /* cnn-small: fc1 is 64 * 8 * 8 = 4096 -> 128 on 32x32 */
        {"cnn-small", 3, 32, 32, 3 * 32 * 9 + 32 + 18496 + 4096 * 128 + 128 + 1290},
        /* lenet5 on 32x32 with pad 2: 16 * 6 * 6 = 576 features */
        {"lenet5", 3, 32, 32, 6 * 75 + 6 + 2416 + 576 * 120 + 120 + 10164 + 850},
        /* cnn-tanh: 28x28 padded to 32, 13, pool 12, 5, pool 4: fc1 is 32 * 4 * 4 = 512 -> 32 */
        {"cnn-tanh", 1, 28, 28, 16 * 64 + 16 + 32 * 16 * 16 + 32 + 512 * 32 + 32 + 32 * 10 + 10},
        /* on 3x32x32: 36 padded, 15, 14, 6, 5: fc1 is 32 * 5 * 5 = 800 -> 32 */
        {"cnn-tanh", 3, 32, 32, 16 * 3 * 64 + 16 + 32 * 16 * 16 + 32 + 800 * 32 + 32 + 32 * 10 + 10},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        foil_arch_spec s = spec_of(cases[i].name, 4, cases[i].c, cases[i].h, cases[i].w, 10, 1);
        foil_model *m = build(&s);
        int64_t n = trainable_count(m);
        printf("  %-12s %lldx%lldx%lld, 10 classes: %lld parameters\n", cases[i].name, (long long)cases[i].c,
               (long long)cases[i].h, (long long)cases[i].w, (long long)n);
        assert_int_equal(n, cases[i].expect);
        foil_model_free(m);
    }
    foil_arch_spec s = spec_of("mlp", 2, 30, 0, 0, 3, 1);
    foil_model *m = build(&s);
    assert_int_equal(trainable_count(m), 30 * 128 + 128 + 128 * 64 + 64 + 64 * 3 + 3);
    foil_model_free(m);
    /* resnet-mini is "about 0.3M" */
    s = spec_of("resnet-mini", 4, 1, 28, 28, 10, 1);
    m = build(&s);
    assert_in_range(trainable_count(m), 250000, 350000);
    /* BatchNorm running statistics are initializers but not trainable. */
    assert_false(value_named(m, "bn1.running_mean")->trainable);
    assert_false(value_named(m, "layer3.0.downsample.1.running_var")->trainable);
    assert_true(value_named(m, "layer3.0.downsample.0.weight")->trainable);
    assert_int_equal(value_named(m, "layer3.2.conv2.weight")->t.shape[1], 64);
    /* Declared input and output. */
    const FoilValue *in = &foilGraphModelOf(m)->g->values[foilGraphModelOf(m)->g->inputs[0]];
    assert_string_equal(in->name, "input");
    assert_int_equal(in->decl_ndim, 4);
    assert_int_equal(in->decl_shape[0], -1);
    assert_string_equal(in->decl_dim_param[0], "N");
    assert_int_equal(in->decl_shape[1], 1);
    assert_int_equal(in->decl_shape[3], 28);
    const FoilValue *out = &foilGraphModelOf(m)->g->values[foilGraphModelOf(m)->g->outputs[0]];
    assert_string_equal(out->name, "logits");
    assert_int_equal(out->has_decl, 1);
    assert_int_equal(out->decl_ndim, 2);
    assert_int_equal(out->decl_shape[0], -1);
    assert_int_equal(out->decl_shape[1], 10);
    assert_int_equal(foilGraphModelOf(m)->g->opset, 13);
    foil_model_free(m);
}

/* ---------------------------------------------------------------------------
 * gradients of the whole model against central finite differences
 *
 * L = sum(r * logits) for fixed random r. Along a random direction v of the
 * input (and, separately, of all trainable weights at once):
 *   dL/dt (t = 0) of L(p + t v)  ~  (L(p + h v) - L(p - h v)) / 2h
 * must equal <grad, v> from backward.
 */

static double loss_at(FoilGraph *g, const foil_tensor *x, int training, const float *r)
{
    const foil_tensor *in[1] = {x};
    assert_int_equal(foilGraphForward(g, in, training, 9), FOIL_OK);
    return sum_weighted(foilGraphOutput(g, 0), r);
}

/* The same along a direction of all trainable weights at once, each tensor
 * moved in proportion to its own RMS. */
static void check_fd_weights(FoilGraph *g, const foil_arch_spec *s, int64_t batch, const foil_tensor *x,
                             const float *rw, float h, foil_rng *r)
{
    double analytic_w = 0;
    float **saved = calloc((size_t)g->n_values, sizeof *saved);
    float **dir = calloc((size_t)g->n_values, sizeof *dir);
    assert_non_null(saved);
    assert_non_null(dir);
    for (int i = 0; i < g->n_values; i++) {
        FoilValue *p = &g->values[i];
        if (p->kind != FOIL_VALUE_PARAM || !p->trainable) continue;
        size_t nb = (size_t)p->t.numel * sizeof(float);
        saved[i] = malloc(nb);
        dir[i] = malloc(nb);
        assert_non_null(saved[i]);
        assert_non_null(dir[i]);
        memcpy(saved[i], p->t.data, nb);
        double rms = 0;
        for (int64_t j = 0; j < p->t.numel; j++) rms += (double)saved[i][j] * saved[i][j];
        rms = sqrt(rms / (double)p->t.numel);
        if (rms == 0) rms = 0.1;
        for (int64_t j = 0; j < p->t.numel; j++) {
            dir[i][j] = (float)(foil_rng_normal(r) * rms);
            analytic_w += (double)foil_f32(&p->grad)[j] * dir[i][j];
        }
    }
    double lw[2];
    for (int sgn = 0; sgn < 2; sgn++) {
        for (int i = 0; i < g->n_values; i++)
            if (saved[i])
                for (int64_t j = 0; j < g->values[i].t.numel; j++)
                    foil_f32(&g->values[i].t)[j] = saved[i][j] + (sgn ? -h : h) * dir[i][j];
        lw[sgn] = loss_at(g, x, 0, rw);
    }
    double numeric_w = (lw[0] - lw[1]) / (2.0 * h);
    printf("  %-12s batch %lld eval : weight direction analytic %.6f numeric %.6f\n", s->name, (long long)batch,
           analytic_w, numeric_w);
    if (fabs(analytic_w - numeric_w) > 2e-2 * fabs(numeric_w) + 2e-3)
        fail_msg("%s: weight gradient %.6f vs finite differences %.6f", s->name, analytic_w, numeric_w);
    for (int i = 0; i < g->n_values; i++) {
        if (saved[i]) memcpy(g->values[i].t.data, saved[i], (size_t)g->values[i].t.numel * sizeof(float));
        free(saved[i]);
        free(dir[i]);
    }
    free(saved);
    free(dir);
}

static void check_fd(const foil_arch_spec *s, int64_t batch, int training)
{
    foil_model *m = build(s);
    FoilGraph *g = foilGraphModelOf(m)->g;
    foil_tensor x = {0}, dy = {0};
    make_input(&x, s, batch, 21, -1.0f, 1.0f);
    plan_graph(m, &x);
    const foil_tensor *y = foilGraphOutput(g, 0);
    assert_int_equal(foil_tensor_alloc(&dy, FOIL_F32, 2, y->shape), FOIL_OK);
    foil_rng r = foil_rng_make(8, 8);
    for (int64_t i = 0; i < dy.numel; i++) foil_f32(&dy)[i] = (float)foil_rng_normal(&r);
    const float *rw = foil_f32(&dy);
    const foil_tensor *in[1] = {&x}, *dys[1] = {&dy};
    assert_int_equal(foilGraphForward(g, in, training, 9), FOIL_OK);
    assert_int_equal(foilGraphBackward(g, dys, FOIL_GRAD_PARAMS | FOIL_GRAD_INPUTS), FOIL_OK);

    /* input direction */
    const foil_tensor *dx = foilGraphInputGrad(g, 0);
    foil_tensor v = {0}, xp = {0};
    assert_int_equal(foil_tensor_alloc(&v, FOIL_F32, x.ndim, x.shape), FOIL_OK);
    assert_int_equal(foil_tensor_copy(&xp, &x), FOIL_OK);
    double analytic = 0;
    for (int64_t i = 0; i < v.numel; i++) {
        foil_f32(&v)[i] = (float)foil_rng_normal(&r);
        analytic += (double)foil_f32(dx)[i] * foil_f32(&v)[i];
    }
    const float h = 2e-4f;
    for (int64_t i = 0; i < v.numel; i++) foil_f32(&xp)[i] = foil_f32(&x)[i] + h * foil_f32(&v)[i];
    double lp = loss_at(g, &xp, training, rw);
    for (int64_t i = 0; i < v.numel; i++) foil_f32(&xp)[i] = foil_f32(&x)[i] - h * foil_f32(&v)[i];
    double lm = loss_at(g, &xp, training, rw);
    double numeric = (lp - lm) / (2.0 * h);
    printf("  %-12s batch %lld %s: input direction  analytic %.6f numeric %.6f\n", s->name, (long long)batch,
           training ? "train" : "eval ", analytic, numeric);
    if (fabs(analytic - numeric) > 2e-2 * fabs(numeric) + 2e-3)
        fail_msg("%s: input gradient %.6f vs finite differences %.6f", s->name, analytic, numeric);

    /* In training mode BatchNorm normalizes each channel over a few values
     * (12 per channel at layer3 here), which curves the loss sharply along
     * weight directions and puts many ReLU inputs near their kinks, so
     * differences of this size are not informative; training-mode weight
     * gradients are compared with PyTorch's autograd in test_torch_crosscheck. */
    if (!training) check_fd_weights(g, s, batch, &x, rw, h, &r);
    foil_tensor_free(&x);
    foil_tensor_free(&xp);
    foil_tensor_free(&v);
    foil_tensor_free(&dy);
    foil_model_free(m);
}

static void test_gradients_fd(void **state)
{
    (void)state;
    const int64_t hidden[2] = {10, 8};
    foil_arch_spec s = spec_of("mlp", 2, 12, 0, 0, 4, 2);
    s.hidden = hidden;
    s.n_hidden = 2;
    check_fd(&s, 3, 0);
    s = spec_of("cnn-small", 4, 2, 8, 8, 5, 2);
    check_fd(&s, 2, 0);
    s = spec_of("lenet5", 4, 1, 12, 12, 5, 2);
    check_fd(&s, 2, 0);
    s = spec_of("cnn-tanh", 4, 1, 17, 17, 5, 2); /* tanh, and MaxPool stride 1: windows that overlap */
    check_fd(&s, 2, 0);
    s = spec_of("resnet-mini", 4, 2, 6, 6, 5, 2);
    check_fd(&s, 2, 0);
    check_fd(&s, 3, 1);
}

/* ---------------------------------------------------------------------------
 * initialization
 */

/* Values of a U(-b, b) tensor: all within b, mean ~ 0, variance ~ b^2/3. */
static void check_uniform(foil_model *m, const char *name, int64_t fan_in)
{
    const foil_tensor *t = &value_named(m, name)->t;
    const double b = 1.0 / sqrt((double)fan_in);
    double sum = 0, sq = 0, mx = 0;
    for (int64_t i = 0; i < t->numel; i++) {
        double v = foil_f32(t)[i];
        sum += v;
        sq += v * v;
        if (fabs(v) > mx) mx = fabs(v);
    }
    double n = (double)t->numel, mean = sum / n, var = sq / n - mean * mean;
    double want = b * b / 3.0;
    if (mx > b * (1 + 1e-6)) fail_msg("%s: |value| %.6f exceeds the bound %.6f (fan_in %lld)", name, mx, b, (long long)fan_in);
    /* sd of the sample mean is b/sqrt(3n); of the variance about want*sqrt(0.8/n) */
    if (fabs(mean) > 5 * b / sqrt(3 * n)) fail_msg("%s: mean %.6f is far from 0", name, mean);
    if (fabs(var - want) > 6 * want * sqrt(0.8 / n) + 1e-12)
        fail_msg("%s: variance %.3g, expected %.3g (n %.0f)", name, var, want, n);
    if (n >= 100 && mx < 0.9 * b) fail_msg("%s: largest |value| %.6f is well below the bound %.6f", name, mx, b);
}

static void check_const(foil_model *m, const char *name, float want)
{
    const foil_tensor *t = &value_named(m, name)->t;
    for (int64_t i = 0; i < t->numel; i++)
        if (foil_f32(t)[i] != want) fail_msg("%s[%lld] = %g, expected %g", name, (long long)i, (double)foil_f32(t)[i], (double)want);
}

static void test_init_statistics(void **state)
{
    (void)state;
    foil_arch_spec s = spec_of("cnn-small", 4, 1, 28, 28, 10, 42);
    foil_model *m = build(&s);
    check_uniform(m, "conv1.weight", 9);
    check_uniform(m, "conv1.bias", 9);
    check_uniform(m, "conv2.weight", 32 * 9);
    check_uniform(m, "conv2.bias", 32 * 9);
    check_uniform(m, "fc1.weight", 3136);
    check_uniform(m, "fc1.bias", 3136);
    check_uniform(m, "fc2.weight", 128);
    check_uniform(m, "fc2.bias", 128);
    foil_model_free(m);

    s = spec_of("resnet-mini", 4, 3, 32, 32, 10, 42);
    m = build(&s);
    check_uniform(m, "conv1.weight", 27);
    check_uniform(m, "layer1.0.conv1.weight", 144);
    check_uniform(m, "layer2.0.conv1.weight", 144);
    check_uniform(m, "layer2.0.downsample.0.weight", 16);
    check_uniform(m, "layer3.2.conv2.weight", 576);
    check_uniform(m, "fc.weight", 64);
    check_uniform(m, "fc.bias", 64);
    check_const(m, "bn1.weight", 1.0f);
    check_const(m, "bn1.bias", 0.0f);
    check_const(m, "layer2.1.bn2.running_mean", 0.0f);
    check_const(m, "layer2.0.downsample.1.running_var", 1.0f);
    check_const(m, "layer3.0.downsample.1.weight", 1.0f);
    foil_model_free(m);

    s = spec_of("lenet5", 4, 1, 28, 28, 10, 42);
    m = build(&s);
    check_uniform(m, "conv1.weight", 25);
    check_uniform(m, "conv2.weight", 150);
    check_uniform(m, "fc1.weight", 400);
    check_uniform(m, "fc3.bias", 84);
    foil_model_free(m);
}

static int params_equal(foil_model *a, foil_model *b)
{
    if (foilGraphModelOf(a)->g->n_values != foilGraphModelOf(b)->g->n_values) return 0;
    for (int i = 0; i < foilGraphModelOf(a)->g->n_values; i++) {
        const FoilValue *va = &foilGraphModelOf(a)->g->values[i];
        if (va->kind != FOIL_VALUE_PARAM) continue;
        const FoilValue *vb = &foilGraphModelOf(b)->g->values[foilGraphFindValue(foilGraphModelOf(b)->g, va->name)];
        if (!foil_tensor_same_shape(&va->t, &vb->t) || memcmp(va->t.data, vb->t.data, foil_tensor_nbytes(&va->t)))
            return 0;
    }
    return 1;
}

static void test_determinism(void **state)
{
    (void)state;
    static const char *names[] = {"mlp", "cnn-small", "lenet5", "cnn-tanh", "resnet-mini"};
    for (int a = 0; a < 5; a++) {
        foil_arch_spec s = spec_of(names[a], 4, 1, 28, 28, 10, 7);
        foil_model *m1 = build(&s), *m2 = build(&s);
        assert_true(params_equal(m1, m2));
        s.seed = 8;
        foil_model *m3 = build(&s);
        assert_false(params_equal(m1, m3));
        /* Every randomly initialized tensor changes with the seed. */
        for (int i = 0; i < foilGraphModelOf(m1)->g->n_values; i++) {
            const FoilValue *v = &foilGraphModelOf(m1)->g->values[i];
            if (v->kind != FOIL_VALUE_PARAM || (!strstr(v->name, "conv") && !strstr(v->name, "fc"))) continue;
            const FoilValue *w = value_named(m3, v->name);
            if (memcmp(v->t.data, w->t.data, foil_tensor_nbytes(&v->t)) == 0)
                fail_msg("%s: '%s' is the same for seeds 7 and 8", names[a], v->name);
        }
        /* Re-initializing with seed 7 gives what building with seed 7 gave. */
        assert_int_equal(foil_model_reinit(m3, 7), FOIL_OK);
        assert_true(params_equal(m1, m3));
        foil_model_free(m1);
        foil_model_free(m2);
        foil_model_free(m3);
    }
}

/* ---------------------------------------------------------------------------
 * normalization prefix
 */

static void check_normalization(const char *name, int rank, int64_t d1, int64_t d2, int64_t d3)
{
    foil_arch_spec s = spec_of(name, rank, d1, d2, d3, 7, 3);
    const int64_t n = example_numel(&s), batch = 4;
    float *mean = malloc((size_t)n * sizeof *mean), *sd = malloc((size_t)n * sizeof *sd);
    assert_non_null(mean);
    assert_non_null(sd);
    foil_rng r = foil_rng_make(4, 4);
    for (int64_t i = 0; i < n; i++) {
        mean[i] = 0.2f + 0.3f * foil_rng_uniform(&r);
        sd[i] = 0.1f + 0.5f * foil_rng_uniform(&r);
    }
    foil_model *plain = build(&s);
    s.mean = mean;
    s.std = sd;
    foil_model *norm = build(&s);
    /* The same weights: the constants do not shift the RNG streams. */
    for (int i = 0; i < foilGraphModelOf(plain)->g->n_values; i++) {
        const FoilValue *v = &foilGraphModelOf(plain)->g->values[i];
        if (v->kind != FOIL_VALUE_PARAM) continue;
        const FoilValue *w = value_named(norm, v->name);
        assert_memory_equal(v->t.data, w->t.data, foil_tensor_nbytes(&v->t));
    }
    foil_tensor x = {0}, xn = {0}, y1 = {0}, y2 = {0};
    make_input(&x, &s, batch, 5, 0.0f, 1.0f);
    assert_int_equal(foil_tensor_copy(&xn, &x), FOIL_OK);
    for (int64_t i = 0; i < x.numel; i++) foil_f32(&xn)[i] = (foil_f32(&x)[i] - mean[i % n]) / sd[i % n];
    assert_int_equal(foil_model_predict(norm, &x, &y1), FOIL_OK);
    assert_int_equal(foil_model_predict(plain, &xn, &y2), FOIL_OK);
    for (int64_t i = 0; i < y1.numel; i++) assert_float_equal(foil_f32(&y1)[i], foil_f32(&y2)[i], 1e-5);

    /* The statistics are Constant nodes (folded once planned), not weights. */
    FoilValue *cm = value_named(norm, "norm.mean"), *cs = value_named(norm, "norm.std");
    assert_int_equal(cm->kind, FOIL_VALUE_ACTIVATION);
    assert_string_equal(foilGraphModelOf(norm)->g->nodes[cm->producer].op_type, "Constant");
    assert_true(cm->known);
    assert_false(cm->trainable);
    assert_false(cs->trainable);
    assert_int_equal(cm->t.ndim, rank);
    assert_int_equal(cm->t.shape[0], 1);
    assert_int_equal(cm->t.numel, n);
    assert_memory_equal(cm->t.data, mean, (size_t)n * sizeof *mean);
    assert_memory_equal(cs->t.data, sd, (size_t)n * sizeof *sd);

    /* Training-style backward leaves the constants without gradient, and
     * re-initialization leaves them alone. */
    plan_graph(norm, &x);
    foil_tensor dy = {0};
    assert_int_equal(foil_tensor_alloc(&dy, FOIL_F32, 2, (int64_t[]){batch, 7}), FOIL_OK);
    for (int64_t i = 0; i < dy.numel; i++) foil_f32(&dy)[i] = 1.0f - 0.3f * (float)i;
    const foil_tensor *in[1] = {&x}, *dys[1] = {&dy};
    assert_int_equal(foilGraphForward(foilGraphModelOf(norm)->g, in, 1, 0), FOIL_OK);
    assert_int_equal(foilGraphBackward(foilGraphModelOf(norm)->g, dys, FOIL_GRAD_PARAMS | FOIL_GRAD_INPUTS), FOIL_OK);
    cm = value_named(norm, "norm.mean");
    cs = value_named(norm, "norm.std");
    assert_false(cm->needs_grad);
    assert_false(cm->grad.data && any_nonzero(&cm->grad));
    assert_false(cs->grad.data && any_nonzero(&cs->grad));
    assert_int_equal(foil_model_reinit(norm, 99), FOIL_OK);
    assert_memory_equal(cm->t.data, mean, (size_t)n * sizeof *mean);
    assert_memory_equal(cs->t.data, sd, (size_t)n * sizeof *sd);

    foil_tensor_free(&dy);
    foil_tensor_free(&x);
    foil_tensor_free(&xn);
    foil_tensor_free(&y1);
    foil_tensor_free(&y2);
    foil_model_free(plain);
    foil_model_free(norm);
    free(mean);
    free(sd);
}

static void test_normalization(void **state)
{
    (void)state;
    check_normalization("cnn-small", 4, 1, 28, 28);
    check_normalization("resnet-mini", 4, 3, 16, 16);
    check_normalization("mlp", 2, 30, 0, 0);
}

/* ---------------------------------------------------------------------------
 * ONNX export and re-load
 */

static void test_export_reload(void **state)
{
    (void)state;
    static const char *names[] = {"mlp", "cnn-small", "lenet5", "cnn-tanh", "resnet-mini"};
    float mean[3 * 32 * 32], sd[3 * 32 * 32];
    for (int i = 0; i < 3 * 32 * 32; i++) mean[i] = 0.5f, sd[i] = 0.25f + 0.001f * (float)(i % 7);
    for (int a = 0; a < 5; a++) {
        foil_arch_spec s = spec_of(names[a], 4, 3, 32, 32, 10, 5);
        if (a % 2) s.mean = mean, s.std = sd;
        foil_model *m = build(&s);
        char path[512];
        snprintf(path, sizeof path, "%s/%s.onnx", tmpdir, names[a]);
        if (foil_model_save(m, path)) fail_msg("save: %s", foil_last_error());
        foil_model *l = NULL;
        if (foil_model_load(path, &l)) fail_msg("load: %s", foil_last_error());
        assert_int_equal(foil_model_input_rank(l), 4);
        assert_int_equal(foil_model_input_shape(l)[0], -1);
        assert_int_equal(foil_model_input_shape(l)[1], 3);
        const FoilValue *in = &foilGraphModelOf(l)->g->values[foilGraphModelOf(l)->g->inputs[0]];
        assert_string_equal(in->decl_dim_param[0], "N");
        const FoilValue *out = &foilGraphModelOf(l)->g->values[foilGraphModelOf(l)->g->outputs[0]];
        assert_string_equal(out->name, "logits");
        assert_int_equal(out->decl_shape[1], 10);
        assert_int_equal(foilGraphModelOf(l)->g->opset, 13);
        foil_tensor x = {0}, y1 = {0}, y2 = {0};
        make_input(&x, &s, 6, 3, 0.0f, 1.0f);
        assert_int_equal(foil_model_predict(m, &x, &y1), FOIL_OK);
        assert_int_equal(foil_model_predict(l, &x, &y2), FOIL_OK);
        assert_memory_equal(y1.data, y2.data, foil_tensor_nbytes(&y1));
        /* Re-initializing the loaded file with the build seed reproduces
         * the built weights: the roles are read off the loaded nodes. */
        assert_int_equal(foil_model_reinit(l, 77), FOIL_OK);
        assert_int_equal(foil_model_reinit(m, 77), FOIL_OK);
        assert_true(params_equal(m, l));
        foil_tensor_free(&x);
        foil_tensor_free(&y1);
        foil_tensor_free(&y2);
        foil_model_free(m);
        foil_model_free(l);
    }
}

/* ---------------------------------------------------------------------------
 * re-initialization of user graphs
 */

static void fill(FoilGraph *g, const char *name, float v)
{
    foil_tensor *t = &g->values[foilGraphFindValue(g, name)].t;
    for (int64_t i = 0; i < t->numel; i++) foil_f32(t)[i] = v;
}

/* input (N, 20) - Sub c0 - MatMul W1 (20, 64) - Add b1 - Relu - Mul s -
 * Gemm(W2 (64, 30), b2, transB = 0): how TensorFlow-style exporters write
 * dense layers, with weights stored (in, out). */
static foil_model *dense_user_model(void)
{
    FoilBuilder b;
    assert_int_equal(foilBuilderBegin(&b, "user-dense", 13), FOIL_OK);
    int x = foilBuilderInput(&b, "x", FOIL_F32, 2, (int64_t[]){-1, 20}, NULL);
    int c0 = foilBuilderParam(&b, "c0", 2, (int64_t[]){1, 20}, NULL);
    int w1 = foilBuilderParam(&b, "W1", 2, (int64_t[]){20, 64}, NULL);
    int b1 = foilBuilderParam(&b, "b1", 1, (int64_t[]){64}, NULL);
    int sc = foilBuilderParam(&b, "scale", 1, (int64_t[]){64}, NULL);
    int w2 = foilBuilderParam(&b, "W2", 2, (int64_t[]){64, 30}, NULL);
    int b2 = foilBuilderParam(&b, "b2", 1, (int64_t[]){30}, NULL);
    int y = foilBuilderOp(&b, "Sub", "sub", FOIL_B_IN(x, c0), FOIL_B_NO_ATTRS);
    y = foilBuilderOp(&b, "MatMul", "mm", FOIL_B_IN(y, w1), FOIL_B_NO_ATTRS);
    y = foilBuilderOp(&b, "Add", "bias", FOIL_B_IN(b1, y), FOIL_B_NO_ATTRS); /* bias first: either order */
    y = foilBuilderOp(&b, "Relu", "relu", FOIL_B_IN(y), FOIL_B_NO_ATTRS);
    y = foilBuilderOp(&b, "Mul", "mul", FOIL_B_IN(y, sc), FOIL_B_NO_ATTRS);
    const char *outn[1] = {"out"};
    y = foilBuilderNode(&b, "Gemm", "gemm", FOIL_B_IN(y, w2, b2), 1, outn, NULL,
                          FOIL_B_ATTRS(FOIL_BATTR_INT("transB", 0), FOIL_BATTR_STRING("note", "unused")));
    assert_int_equal(foilBuilderOutput(&b, y, FOIL_F32, 2, (int64_t[]){-1, 30}, NULL), FOIL_OK);
    FoilGraph *g;
    if (foilBuilderFinish(&b, &g)) fail_msg("%s", foil_last_error());
    fill(g, "c0", 0.5f);
    fill(g, "scale", 2.0f);
    foil_model *m;
    assert_int_equal(foilModelFromGraph(g, &m), FOIL_OK);
    return m;
}

/* input (N, 4, 6, 6) - Conv W (8, 2, 3, 3) group 2 pad 1 + B - BN - Relu -
 * Flatten - Gemm W3 (10, 288) transB = 1. */
static foil_model *conv_user_model(void)
{
    FoilBuilder b;
    assert_int_equal(foilBuilderBegin(&b, "user-conv", 11), FOIL_OK);
    int x = foilBuilderInput(&b, "x", FOIL_F32, 4, (int64_t[]){-1, 4, 6, 6}, (const char *const[]){"batch"});
    int w = foilBuilderParam(&b, "cw", 4, (int64_t[]){8, 2, 3, 3}, NULL);
    int cb = foilBuilderParam(&b, "cb", 1, (int64_t[]){8}, NULL);
    int s = foilBuilderParam(&b, "bn_s", 1, (int64_t[]){8}, NULL);
    int bb = foilBuilderParam(&b, "bn_b", 1, (int64_t[]){8}, NULL);
    int bm = foilBuilderParam(&b, "bn_m", 1, (int64_t[]){8}, NULL);
    int bv = foilBuilderParam(&b, "bn_v", 1, (int64_t[]){8}, NULL);
    int w3 = foilBuilderParam(&b, "W3", 2, (int64_t[]){10, 288}, NULL);
    int b3 = foilBuilderParam(&b, "b3", 1, (int64_t[]){10}, NULL);
    int y = foilBuilderOp(&b, "Conv", "conv", FOIL_B_IN(x, w, cb),
                            FOIL_B_ATTRS(FOIL_BATTR_INTS("pads", 1, 1, 1, 1), FOIL_BATTR_INT("group", 2)));
    y = foilBuilderOp(&b, "BatchNormalization", "bn", FOIL_B_IN(y, s, bb, bm, bv), FOIL_B_NO_ATTRS);
    y = foilBuilderOp(&b, "Relu", "relu", FOIL_B_IN(y), FOIL_B_NO_ATTRS);
    y = foilBuilderOp(&b, "Flatten", "flat", FOIL_B_IN(y), FOIL_B_NO_ATTRS);
    y = foilBuilderOp(&b, "Gemm", "fc", FOIL_B_IN(y, w3, b3), FOIL_B_ATTRS(FOIL_BATTR_INT("transB", 1)));
    assert_int_equal(foilBuilderOutput(&b, y, FOIL_F32, -1, NULL, NULL), FOIL_OK);
    FoilGraph *g;
    if (foilBuilderFinish(&b, &g)) fail_msg("%s", foil_last_error());
    fill(g, "bn_s", 3.0f);
    fill(g, "bn_b", -1.0f);
    fill(g, "bn_m", 0.7f);
    fill(g, "bn_v", 5.0f);
    foil_model *m;
    assert_int_equal(foilModelFromGraph(g, &m), FOIL_OK);
    return m;
}

static void test_reinit_user_graphs(void **state)
{
    (void)state;
    foil_model *m = dense_user_model();
    assert_int_equal(foil_model_reinit(m, 1), FOIL_OK);
    check_uniform(m, "W1", 20);  /* MatMul B is (in, out) */
    check_uniform(m, "b1", 20);  /* Add after the MatMul: its bias */
    check_uniform(m, "W2", 64);  /* Gemm transB = 0: (K, N) */
    check_uniform(m, "b2", 64);
    check_const(m, "c0", 0.5f);  /* roles unknown: left as the file has them */
    check_const(m, "scale", 2.0f);
    foil_tensor x = {0}, y = {0};
    assert_int_equal(foil_tensor_alloc(&x, FOIL_F32, 2, (int64_t[]){3, 20}), FOIL_OK);
    assert_int_equal(foil_model_predict(m, &x, &y), FOIL_OK);
    assert_int_equal(y.shape[1], 30);
    foil_tensor_free(&x);
    foil_tensor_free(&y);
    foil_model_free(m);

    m = conv_user_model();
    assert_int_equal(foil_model_reinit(m, 2), FOIL_OK);
    check_uniform(m, "cw", 18);  /* C/group * k * k = 2 * 9 */
    check_uniform(m, "cb", 18);
    check_const(m, "bn_s", 1.0f);
    check_const(m, "bn_b", 0.0f);
    check_const(m, "bn_m", 0.0f);
    check_const(m, "bn_v", 1.0f);
    check_uniform(m, "W3", 288);
    check_uniform(m, "b3", 288);
    /* The same through an ONNX file (initializer order survives export). */
    char path[512];
    snprintf(path, sizeof path, "%s/user-conv.onnx", tmpdir);
    assert_int_equal(foil_model_save(m, path), FOIL_OK);
    foil_model *l = NULL;
    if (foil_model_load(path, &l)) fail_msg("load: %s", foil_last_error());
    assert_int_equal(foil_model_reinit(l, 5), FOIL_OK);
    assert_int_equal(foil_model_reinit(m, 5), FOIL_OK);
    assert_true(params_equal(m, l));
    foil_model_free(l);
    foil_model_free(m);

    /* Nothing to initialize: a clear error. */
    FoilBuilder b;
    assert_int_equal(foilBuilderBegin(&b, "no-weights", 13), FOIL_OK);
    int xi = foilBuilderInput(&b, "x", FOIL_F32, 2, (int64_t[]){-1, 3}, NULL);
    int yi = foilBuilderOp(&b, "Relu", "relu", FOIL_B_IN(xi), FOIL_B_NO_ATTRS);
    assert_int_equal(foilBuilderOutput(&b, yi, FOIL_F32, 2, (int64_t[]){-1, 3}, NULL), FOIL_OK);
    FoilGraph *g;
    assert_int_equal(foilBuilderFinish(&b, &g), FOIL_OK);
    assert_int_equal(foilModelFromGraph(g, &m), FOIL_OK);
    assert_int_equal(foil_model_reinit(m, 1), FOIL_ERR_UNSUPPORTED);
    assert_non_null(strstr(foil_last_error(), "no weights"));
    foil_model_free(m);
    assert_int_equal(foil_model_reinit(NULL, 1), FOIL_ERR_ARG);
}

/* ---------------------------------------------------------------------------
 * the builder: constants, attributes, and its own errors
 */

static void test_builder(void **state)
{
    (void)state;
    FoilBuilder b;
    FoilGraph *g = (FoilGraph *)1;
    /* int64 constants: Reshape (N, 12) -> (N, 3, 4) by a CONST shape, then
     * Transpose with an ints attribute given as an array. */
    assert_int_equal(foilBuilderBegin(&b, "reshape", 13), FOIL_OK);
    int x = foilBuilderInput(&b, "x", FOIL_F32, 2, (int64_t[]){-1, 12}, NULL);
    int shp = foilBuilderConstI64(&b, "shape", 1, (int64_t[]){3}, (int64_t[]){-1, 3, 4});
    int y = foilBuilderOp(&b, "Reshape", "reshape", FOIL_B_IN(x, shp), FOIL_B_NO_ATTRS);
    const int64_t perm[3] = {0, 2, 1};
    y = foilBuilderOp(&b, "Transpose", "transpose", FOIL_B_IN(y), FOIL_B_ATTRS(FOIL_BATTR_INTS_N("perm", 3, perm)));
    assert_int_equal(foilBuilderOutput(&b, y, FOIL_F32, 3, (int64_t[]){-1, 4, 3}, NULL), FOIL_OK);
    assert_int_equal(foilBuilderFinish(&b, &g), FOIL_OK);
    assert_int_equal(g->values[shp].kind, FOIL_VALUE_CONST);
    assert_int_equal(g->values[shp].t.dtype, FOIL_I64);
    foil_tensor in = {0};
    assert_int_equal(foil_tensor_alloc(&in, FOIL_F32, 2, (int64_t[]){2, 12}), FOIL_OK);
    for (int i = 0; i < 24; i++) foil_f32(&in)[i] = (float)i;
    const foil_tensor *ins[1] = {&in};
    assert_int_equal(foilGraphPlan(g, ins), FOIL_OK);
    assert_int_equal(foilGraphForward(g, ins, 0, 0), FOIL_OK);
    const foil_tensor *out = foilGraphOutput(g, 0);
    assert_int_equal(out->ndim, 3);
    assert_int_equal(out->shape[1], 4);
    for (int n = 0; n < 2; n++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++) assert_float_equal(foil_f32(out)[n * 12 + j * 3 + i], n * 12 + i * 4 + j, 0);
    foil_tensor_free(&in);
    foilGraphFree(g);

    /* A duplicate name is reported, and the error sticks. */
    assert_int_equal(foilBuilderBegin(&b, "dup", 13), FOIL_OK);
    x = foilBuilderInput(&b, "x", FOIL_F32, 2, (int64_t[]){-1, 3}, NULL);
    assert_true(x >= 0);
    assert_int_equal(foilBuilderParam(&b, "x", 1, (int64_t[]){3}, NULL), -1);
    assert_non_null(strstr(foil_last_error(), "defined twice"));
    assert_int_equal(foilBuilderOp(&b, "Relu", "r", FOIL_B_IN(x), FOIL_B_NO_ATTRS), -1);
    assert_int_equal(foilBuilderFinish(&b, &g), FOIL_ERR_ARG);
    assert_null(g);
    assert_non_null(strstr(foil_last_error(), "defined twice"));
    /* An unknown operator fails at finish (from foilGraphFinalize). */
    assert_int_equal(foilBuilderBegin(&b, "unknown-op", 13), FOIL_OK);
    x = foilBuilderInput(&b, "x", FOIL_F32, 2, (int64_t[]){-1, 3}, NULL);
    y = foilBuilderOp(&b, "Frobnicate", "f", FOIL_B_IN(x), FOIL_B_ATTRS(FOIL_BATTR_FLOAT("alpha", 2.0f)));
    assert_true(y >= 0);
    assert_int_equal(foilBuilderOutput(&b, y, FOIL_F32, -1, NULL, NULL), FOIL_OK);
    assert_int_equal(foilBuilderFinish(&b, &g), FOIL_ERR_UNSUPPORTED);
    assert_null(g);
    assert_non_null(strstr(foil_last_error(), "Frobnicate"));
    /* A bad value index. */
    assert_int_equal(foilBuilderBegin(&b, "bad-index", 13), FOIL_OK);
    assert_int_equal(foilBuilderOp(&b, "Relu", "r", FOIL_B_IN(42), FOIL_B_NO_ATTRS), -1);
    foilBuilderAbort(&b);
    /* No outputs. */
    assert_int_equal(foilBuilderBegin(&b, "no-out", 13), FOIL_OK);
    x = foilBuilderInput(&b, "x", FOIL_F32, 2, (int64_t[]){-1, 3}, NULL);
    foilBuilderOp(&b, "Relu", "r", FOIL_B_IN(x), FOIL_B_NO_ATTRS);
    assert_int_equal(foilBuilderFinish(&b, &g), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "no outputs"));
}

/* ---------------------------------------------------------------------------
 * bad specifications
 */

static void expect_bad(const foil_arch_spec *s, const char *needle1, const char *needle2)
{
    foil_model *m = (foil_model *)1;
    foil_status st = foil_arch_build(s, &m);
    if (st == FOIL_OK) fail_msg("spec %s was accepted", s && s->name ? s->name : "(null)");
    assert_int_equal(st, FOIL_ERR_ARG);
    assert_null(m);
    const char *msg = foil_last_error();
    printf("  error: %s\n", msg);
    if (needle1 && !strstr(msg, needle1)) fail_msg("error lacks '%s': %s", needle1, msg);
    if (needle2 && !strstr(msg, needle2)) fail_msg("error lacks '%s': %s", needle2, msg);
}

static void test_bad_specs(void **state)
{
    (void)state;
    assert_string_equal(foil_arch_list(), "mlp, cnn-small, lenet5, cnn-tanh, resnet-mini, text-cnn, text-lstm, bow-logreg");
    foil_model *m;
    assert_int_equal(foil_arch_build(NULL, &m), FOIL_ERR_ARG);
    foil_arch_spec s = spec_of("cnn-small", 4, 1, 28, 28, 10, 1);
    assert_int_equal(foil_arch_build(&s, NULL), FOIL_ERR_ARG);

    s = spec_of("vgg16", 4, 1, 28, 28, 10, 1);
    expect_bad(&s, "unknown architecture 'vgg16'", "resnet-mini");
    s.name = NULL;
    expect_bad(&s, "no architecture", "cnn-small");
    s = spec_of("cnn-small", 4, 1, 28, 28, 0, 1);
    expect_bad(&s, "cnn-small", "classes");
    s.classes = 1;
    expect_bad(&s, "cnn-small", "classes");
    s.classes = -3;
    expect_bad(&s, "cnn-small", "classes");
    s = spec_of("cnn-small", 4, 1, 3, 3, 10, 1);
    expect_bad(&s, "cnn-small", "too small");
    s = spec_of("cnn-small", 4, 1, 28, 3, 10, 1);
    expect_bad(&s, "cnn-small", "too small");
    s = spec_of("lenet5", 4, 1, 11, 11, 10, 1);
    expect_bad(&s, "lenet5", "too small");
    s = spec_of("lenet5", 4, 1, 12, 12, 10, 1);
    m = build(&s); /* the smallest that fits */
    foil_model_free(m);
    s = spec_of("cnn-tanh", 4, 1, 15, 15, 10, 1);
    expect_bad(&s, "cnn-tanh", "too small");
    s = spec_of("cnn-tanh", 4, 1, 16, 16, 10, 1);
    m = build(&s); /* the smallest that fits */
    foil_model_free(m);
    s = spec_of("resnet-mini", 4, 1, 1, 1, 10, 1);
    m = build(&s); /* strided 3x3 convolutions with padding shrink 1x1 to 1x1 */
    foil_model_free(m);
    s = spec_of("cnn-small", 2, 784, 0, 0, 10, 1);
    expect_bad(&s, "cnn-small", "rank 4");
    s = spec_of("mlp", 6, 2, 2, 2, 10, 1);
    expect_bad(&s, "mlp", "rank");
    s = spec_of("mlp", 1, 2, 2, 2, 10, 1);
    expect_bad(&s, "mlp", "rank");
    s = spec_of("lenet5", 4, 0, 28, 28, 10, 1);
    expect_bad(&s, "lenet5", "dimension 1");
    s = spec_of("mlp", 2, -5, 0, 0, 10, 1);
    expect_bad(&s, "mlp", "dimension 1");
    const int64_t bad_hidden[2] = {16, 0};
    s = spec_of("mlp", 2, 30, 0, 0, 3, 1);
    s.hidden = bad_hidden;
    s.n_hidden = 2;
    expect_bad(&s, "mlp", "hidden layer 2");
    s.n_hidden = -1;
    expect_bad(&s, "mlp", "hidden");
    /* Too large: refused before any allocation is tried. */
    const int64_t huge[1] = {(int64_t)1 << 23};
    s = spec_of("mlp", 2, (int64_t)1 << 23, 0, 0, 3, 1);
    s.hidden = huge;
    s.n_hidden = 1;
    expect_bad(&s, "mlp", "too large");
    s = spec_of("cnn-small", 4, 1 << 12, 1 << 12, 1 << 12, 10, 1);
    expect_bad(&s, "cnn-small", "values");
    /* Normalization constants. */
    float mean[30], sd[30];
    for (int i = 0; i < 30; i++) mean[i] = 0.0f, sd[i] = 1.0f;
    s = spec_of("mlp", 2, 30, 0, 0, 3, 1);
    s.mean = mean;
    expect_bad(&s, "mlp", "both mean and std");
    s.std = sd;
    sd[7] = 0.0f;
    expect_bad(&s, "std[7]", "positive");
    sd[7] = 1.0f;
    mean[3] = NAN;
    expect_bad(&s, "mean[3]", "finite");
}

/* ---------------------------------------------------------------------------
 * cross-check against PyTorch (optional)
 */

static const char *crosscheck_py =
    "import os, sys\n"
    "try:\n"
    "    import numpy as np, onnx, torch, torch.nn as nn, torch.nn.functional as F\n"
    "    from onnx import numpy_helper\n"
    "except ImportError as e:\n"
    "    print('SKIP: torch/onnx not importable (%s)' % e); sys.exit(77)\n"
    "torch.set_num_threads(1)\n"
    "D = sys.argv[1]\n"
    "class CnnSmall(nn.Module):\n"
    "    def __init__(self, c, h, w, k):\n"
    "        super().__init__()\n"
    "        self.conv1 = nn.Conv2d(c, 32, 3, padding=1)\n"
    "        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)\n"
    "        self.fc1 = nn.Linear(64 * (h // 4) * (w // 4), 128)\n"
    "        self.fc2 = nn.Linear(128, k)\n"
    "    def forward(self, x):\n"
    "        x = F.max_pool2d(F.relu(self.conv1(x)), 2)\n"
    "        x = F.max_pool2d(F.relu(self.conv2(x)), 2)\n"
    "        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))\n"
    "class LeNet5(nn.Module):\n"
    "    def __init__(self, c, h, w, k):\n"
    "        super().__init__()\n"
    "        self.conv1 = nn.Conv2d(c, 6, 5, padding=2)\n"
    "        self.conv2 = nn.Conv2d(6, 16, 5)\n"
    "        self.fc1 = nn.Linear(16 * ((h // 2 - 4) // 2) * ((w // 2 - 4) // 2), 120)\n"
    "        self.fc2 = nn.Linear(120, 84)\n"
    "        self.fc3 = nn.Linear(84, k)\n"
    "    def forward(self, x):\n"
    "        x = F.max_pool2d(F.relu(self.conv1(x)), 2)\n"
    "        x = F.max_pool2d(F.relu(self.conv2(x)), 2)\n"
    "        x = torch.flatten(x, 1)\n"
    "        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))\n"
    "class Block(nn.Module):\n"
    "    def __init__(self, cin, planes, stride):\n"
    "        super().__init__()\n"
    "        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)\n"
    "        self.bn1 = nn.BatchNorm2d(planes)\n"
    "        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)\n"
    "        self.bn2 = nn.BatchNorm2d(planes)\n"
    "        self.downsample = None\n"
    "        if stride != 1 or cin != planes:\n"
    "            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))\n"
    "    def forward(self, x):\n"
    "        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))\n"
    "        return F.relu(y + (x if self.downsample is None else self.downsample(x)))\n"
    "class ResNetMini(nn.Module):\n"
    "    def __init__(self, c, h, w, k):\n"
    "        super().__init__()\n"
    "        self.conv1 = nn.Conv2d(c, 16, 3, 1, 1, bias=False)\n"
    "        self.bn1 = nn.BatchNorm2d(16)\n"
    "        cin = 16\n"
    "        for s, planes in enumerate((16, 32, 64)):\n"
    "            blocks = []\n"
    "            for b in range(3):\n"
    "                blocks.append(Block(cin, planes, 2 if s > 0 and b == 0 else 1))\n"
    "                cin = planes\n"
    "            setattr(self, 'layer%d' % (s + 1), nn.Sequential(*blocks))\n"
    "        self.fc = nn.Linear(64, k)\n"
    "    def forward(self, x):\n"
    "        x = F.relu(self.bn1(self.conv1(x)))\n"
    "        x = self.layer3(self.layer2(self.layer1(x)))\n"
    "        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))\n"
    "class MLP(nn.Module):\n"
    "    def __init__(self, f, hidden, k):\n"
    "        super().__init__()\n"
    "        sizes = [f] + hidden + [k]\n"
    "        self.n = len(sizes) - 1\n"
    "        for i in range(self.n):\n"
    "            setattr(self, 'fc%d' % (i + 1), nn.Linear(sizes[i], sizes[i + 1]))\n"
    "    def forward(self, x):\n"
    "        x = torch.flatten(x, 1)\n"
    "        for i in range(self.n):\n"
    "            x = getattr(self, 'fc%d' % (i + 1))(x)\n"
    "            if i < self.n - 1:\n"
    "                x = F.relu(x)\n"
    "        return x\n"
    "# A ReLU input closer than KINK to zero may take the other branch in foil's\n"
    "# float32 arithmetic than in torch's (the two differ by rounding, ~1e-7), and\n"
    "# the gradient through that unit then differs legitimately: such passes are\n"
    "# compared by relative L2 error instead of elementwise.\n"
    "KINK = 1e-5\n"
    "relu0, margin = F.relu, [np.inf]\n"
    "def relu(x, inplace=False):\n"
    "    margin[0] = min(margin[0], x.detach().abs().min().item())\n"
    "    return relu0(x)\n"
    "F.relu = relu\n"
    "fail = 0\n"
    "def close(name, what, got, want, rtol, atol):\n"
    "    global fail\n"
    "    ok = np.allclose(got, want, rtol=rtol, atol=atol)\n"
    "    print('  %-16s %-26s max|diff| %.3g (max|want| %.3g) %s' % (name, what, np.max(np.abs(got - want)),\n"
    "          np.max(np.abs(want)), 'ok' if ok else 'FAIL'))\n"
    "    fail |= not ok\n"
    "    return ok\n"
    "def close_grad(name, what, got, want):\n"
    "    global fail\n"
    "    if margin[0] >= KINK:\n"
    "        return close(name, what, got, want, 1e-3, 1e-4 * np.max(np.abs(want)))\n"
    "    rel = np.linalg.norm(got - want) / np.linalg.norm(want)\n"
    "    print('  %-16s %-26s relative L2 error %.3g (a ReLU input is %.2g from its kink) %s' % (name, what, rel,\n"
    "          margin[0], 'ok' if rel < 5e-2 else 'FAIL'))\n"
    "    fail |= rel >= 5e-2\n"
    "    return True\n"
    "for line in open(os.path.join(D, 'manifest.txt')):\n"
    "    name, arch, dims, k, hidden, train, count = line.split()\n"
    "    dims, k = [int(v) for v in dims.split(',')], int(k)\n"
    "    P = lambda s: os.path.join(D, name + s)\n"
    "    model = onnx.load(P('.onnx'))\n"
    "    onnx.checker.check_model(model, full_check=True)\n"
    "    inits = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}\n"
    "    if arch == 'mlp':\n"
    "        net = MLP(int(np.prod(dims)), [int(v) for v in hidden.split(',')] if hidden != '-' else [], k)\n"
    "    else:\n"
    "        net = {'cnn-small': CnnSmall, 'lenet5': LeNet5, 'resnet-mini': ResNetMini}[arch](*dims, k)\n"
    "    sd = net.state_dict()\n"
    "    want = {n for n in sd if not n.endswith('num_batches_tracked')}\n"
    "    have = set(inits)\n"
    "    if want != have:\n"
    "        print('  %s: initializers differ from the torch state_dict: %s' % (name, sorted(want ^ have)))\n"
    "        fail = 1\n"
    "        continue\n"
    "    net.load_state_dict({n: inits[n] for n in want}, strict=False)\n"
    "    nparams = sum(p.numel() for p in net.parameters())\n"
    "    print('  %-16s onnx.checker ok; %d parameters, names and shapes as torch.nn %s' % (name, nparams, arch))\n"
    "    fail |= nparams != int(count)\n"
    "    x = torch.from_numpy(np.load(P('_x.npy')))\n"
    "    y = torch.from_numpy(np.load(P('_y.npy')))\n"
    "    consts = {n.output[0]: torch.from_numpy(numpy_helper.to_array(n.attribute[0].t).copy())\n"
    "              for n in model.graph.node if n.op_type == 'Constant'}\n"
    "    prep = lambda x: (x - consts['norm.mean']) / consts['norm.std'] if 'norm.mean' in consts else x\n"
    "    net.eval()\n"
    "    xg = x.clone().requires_grad_(True)\n"
    "    margin[0] = np.inf\n"
    "    logits = net(prep(xg))\n"
    "    F.cross_entropy(logits, y, reduction='sum').backward()\n"
    "    close(name, 'logits', np.load(P('_logits.npy')), logits.detach().numpy(), 1e-4, 1e-5)\n"
    "    close_grad(name, 'input gradient', np.load(P('_grad.npy')), xg.grad.numpy())\n"
    "    if train != '1':\n"
    "        continue\n"
    "    net.train()\n"
    "    net.zero_grad()\n"
    "    xg = x.clone().requires_grad_(True)\n"
    "    margin[0] = np.inf\n"
    "    tl = net(prep(xg))\n"
    "    F.cross_entropy(tl, y, reduction='sum').backward()\n"
    "    close(name, 'training-mode logits', np.load(P('_train_logits.npy')), tl.detach().numpy(), 1e-4, 1e-5)\n"
    "    close_grad(name, 'training input gradient', np.load(P('_train_grad.npy')), xg.grad.numpy())\n"
    "    params = dict(net.named_parameters())\n"
    "    order = [t.name for t in model.graph.initializer if t.name in params]\n"
    "    ref = np.concatenate([params[n].grad.numpy().ravel() for n in order])\n"
    "    got = np.load(P('_train_pgrad.npy'))\n"
    "    if not close_grad(name, 'training weight gradients', got, ref):\n"
    "        at = 0\n"
    "        for n in order:\n"
    "            g = params[n].grad.numpy().ravel()\n"
    "            if not np.allclose(got[at:at + g.size], g, rtol=1e-3, atol=1e-4 * np.max(np.abs(ref))):\n"
    "                print('      differs: %s' % n)\n"
    "            at += g.size\n"
    "    after = {t.name: numpy_helper.to_array(t) for t in onnx.load(P('_after.onnx')).graph.initializer}\n"
    "    keys = [n for n in net.state_dict() if n.endswith('running_mean') or n.endswith('running_var')]\n"
    "    if keys:\n"
    "        got = np.concatenate([after[n].ravel() for n in keys])\n"
    "        ref = np.concatenate([net.state_dict()[n].numpy().ravel() for n in keys])\n"
    "        close(name, 'BN running statistics', got, ref, 1e-4, 1e-6)\n"
    "sys.exit(1 if fail else 0)\n";

typedef struct xcase {
    const char *name, *arch;
    int rank;
    int64_t d[3];
    int64_t classes;
    const int64_t *hidden;
    int n_hidden;
    int norm, train;
} xcase;

static void save_npy(const char *name, const char *suffix, const foil_tensor *t)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s%s", tmpdir, name, suffix);
    if (foil_npy_write(path, t)) fail_msg("%s", foil_last_error());
}

static void write_case(FILE *manifest, const xcase *c)
{
    foil_arch_spec s = spec_of(c->arch, c->rank, c->d[0], c->d[1], c->d[2], c->classes, 1234);
    s.hidden = c->hidden;
    s.n_hidden = c->n_hidden;
    const int64_t n = example_numel(&s), batch = 4;
    float *mean = malloc((size_t)n * sizeof *mean), *sd = malloc((size_t)n * sizeof *sd);
    assert_non_null(mean);
    assert_non_null(sd);
    for (int64_t i = 0; i < n; i++) mean[i] = 0.3f + 0.2f * (float)(i % 5) / 5, sd[i] = 0.2f + 0.1f * (float)(i % 3);
    if (c->norm) s.mean = mean, s.std = sd;
    foil_model *m = build(&s);
    char path[512];
    snprintf(path, sizeof path, "%s/%s.onnx", tmpdir, c->name);
    if (foil_model_save(m, path)) fail_msg("%s", foil_last_error());
    foil_tensor x = {0}, logits = {0}, grad = {0}, labels = {0};
    make_input(&x, &s, batch, 99, 0.0f, 1.0f);
    assert_int_equal(foil_tensor_alloc(&labels, FOIL_I64, 1, &batch), FOIL_OK);
    for (int64_t i = 0; i < batch; i++) foil_i64(&labels)[i] = (i * 3) % c->classes;
    if (foil_model_loss_input_grad(m, &x, foil_i64(&labels), NULL, &logits, &grad))
        fail_msg("%s", foil_last_error());
    save_npy(c->name, "_x.npy", &x);
    save_npy(c->name, "_y.npy", &labels);
    save_npy(c->name, "_logits.npy", &logits);
    save_npy(c->name, "_grad.npy", &grad);
    if (c->train) {
        /* One training step's forward and backward: BatchNorm on batch
         * statistics (running statistics updated in place, as PyTorch does),
         * then the gradients of the summed cross-entropy for every trainable
         * weight, concatenated in initializer order. */
        plan_graph(m, &x);
        FoilGraph *g = foilGraphModelOf(m)->g;
        const foil_tensor *in[1] = {&x};
        assert_int_equal(foilGraphForward(g, in, 1, 0), FOIL_OK);
        const foil_tensor *y = foilGraphOutput(g, 0);
        save_npy(c->name, "_train_logits.npy", y);
        foil_tensor dy = {0}, pg = {0};
        assert_int_equal(foil_tensor_alloc(&dy, FOIL_F32, 2, y->shape), FOIL_OK);
        assert_int_equal(foil_softmax_xent(foil_f32(y), foil_i64(&labels), batch, c->classes, NULL, foil_f32(&dy)),
                         FOIL_OK);
        const foil_tensor *dys[1] = {&dy};
        assert_int_equal(foilGraphBackward(g, dys, FOIL_GRAD_PARAMS | FOIL_GRAD_INPUTS), FOIL_OK);
        save_npy(c->name, "_train_grad.npy", foilGraphInputGrad(g, 0));
        int64_t total = trainable_count(m), at = 0;
        assert_int_equal(foil_tensor_alloc(&pg, FOIL_F32, 1, &total), FOIL_OK);
        for (int i = 0; i < g->n_values; i++) {
            const FoilValue *v = &g->values[i];
            if (v->kind != FOIL_VALUE_PARAM || !v->trainable) continue;
            memcpy(foil_f32(&pg) + at, v->grad.data, foil_tensor_nbytes(&v->grad));
            at += v->grad.numel;
        }
        save_npy(c->name, "_train_pgrad.npy", &pg);
        foil_tensor_free(&dy);
        foil_tensor_free(&pg);
        snprintf(path, sizeof path, "%s/%s_after.onnx", tmpdir, c->name);
        if (foil_model_save(m, path)) fail_msg("%s", foil_last_error());
    }
    char dims[96], hid[96] = "-";
    if (c->rank == 4) snprintf(dims, sizeof dims, "%lld,%lld,%lld", (long long)c->d[0], (long long)c->d[1], (long long)c->d[2]);
    else snprintf(dims, sizeof dims, "%lld", (long long)c->d[0]);
    if (strcmp(c->arch, "mlp") == 0 && !c->hidden) snprintf(hid, sizeof hid, "128,64"); /* the default sizes */
    for (int i = 0, len = 0; c->hidden && i < c->n_hidden; i++)
        len += snprintf(hid + len, sizeof hid - (size_t)len, "%s%lld", i ? "," : "", (long long)c->hidden[i]);
    fprintf(manifest, "%s %s %s %lld %s %d %lld\n", c->name, c->arch, dims, (long long)c->classes, hid, c->train,
            (long long)trainable_count(m));
    foil_tensor_free(&x);
    foil_tensor_free(&logits);
    foil_tensor_free(&grad);
    foil_tensor_free(&labels);
    foil_model_free(m);
    free(mean);
    free(sd);
}

static void test_torch_crosscheck(void **state)
{
    (void)state;
    if (access("/usr/bin/python3", X_OK) != 0) {
        printf("  SKIP: /usr/bin/python3 is not available (the check needs Debian's python3-torch and python3-onnx)\n");
        skip();
    }
    static const int64_t hidden[2] = {16, 8};
    const xcase cases[] = {
        {"cnn_small", "cnn-small", 4, {1, 28, 28}, 10, NULL, 0, 1, 1},
        {"lenet5", "lenet5", 4, {3, 32, 32}, 10, NULL, 0, 0, 1},
        {"resnet_mini", "resnet-mini", 4, {1, 28, 28}, 10, NULL, 0, 0, 1},
        {"resnet_mini_rgb", "resnet-mini", 4, {3, 32, 32}, 7, NULL, 0, 1, 1},
        {"resnet_mini_12", "resnet-mini", 4, {2, 12, 12}, 5, NULL, 0, 0, 1},
        {"mlp", "mlp", 2, {30, 0, 0}, 3, hidden, 2, 1, 1},
        {"mlp_img", "mlp", 4, {1, 28, 28}, 10, NULL, 0, 0, 0},
    };
    char path[512];
    snprintf(path, sizeof path, "%s/manifest.txt", tmpdir);
    FILE *mf = fopen(path, "w");
    assert_non_null(mf);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) write_case(mf, &cases[i]);
    fclose(mf);
    snprintf(path, sizeof path, "%s/crosscheck.py", tmpdir);
    FILE *py = fopen(path, "w");
    assert_non_null(py);
    fputs(crosscheck_py, py);
    fclose(py);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s", path, tmpdir);
    fflush(stdout);
    int rc = system(cmd);
    int code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    if (code == 77) skip();
    if (code != 0) fail_msg("the PyTorch cross-check failed (exit %d)", code);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/foil-test-arch-%ld", (long)getpid());
    mkdir(tmpdir, 0700);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_builder),
        cmocka_unit_test(test_param_counts),
        cmocka_unit_test(test_init_statistics),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_all_run),
        cmocka_unit_test(test_relu_fusion),
        cmocka_unit_test(test_gradients_fd),
        cmocka_unit_test(test_normalization),
        cmocka_unit_test(test_export_reload),
        cmocka_unit_test(test_reinit_user_graphs),
        cmocka_unit_test(test_torch_crosscheck),
    };
    if (getenv("FOIL_TEST_FILTER")) cmocka_set_test_filter(getenv("FOIL_TEST_FILTER"));
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (!getenv("FOIL_TEST_KEEP") && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return rc;
}
