/*
 * tests/test_train.c - training through the model interface (foil/train.h,
 * the `fit` operation) and the two plans a graph model keeps side by side.
 *
 * Checks: validation and attacks between training steps run the inference
 * plan while the training plan waits beside it, so a run plans the graph
 * once per use, not once per switch (FoilGraph.plans_made), and the
 * weights come out bit for bit as in a run that never switched; a model
 * without `fit` (a wrapper) is refused with FOIL_ERR_CAPABILITY naming it;
 * the TRADES and distillation losses' gradients against central
 * differences.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "foil/arch.h"
#include "foil/rng.h"
#include "foil/train.h"
#include "defenses/adversarial_training.h"
#include "model/model_internal.h"
#include "toy_data.h"

enum { N = 96, CLASSES = 4, SIDE = 12 };


static foil_model *build_model(void)
{
    foil_arch_spec s;
    memset(&s, 0, sizeof s);
    s.name = "resnet-mini"; /* BatchNorm: training and inference forward differ */
    s.input_rank = 4;
    s.input_shape[0] = 1;
    s.input_shape[1] = SIDE;
    s.input_shape[2] = SIDE;
    s.classes = CLASSES;
    s.seed = 5;
    foil_model *m = NULL;
    if (foil_arch_build(&s, &m)) fail_msg("%s", foil_last_error());
    return m;
}

static void options(foil_train_options *o, int64_t epochs)
{
    foil_train_defaults(o);
    o->epochs = epochs;
    o->batch = 32; /* divides N: every step has the same batch */
    o->seed = 3;
    o->quiet = 1;
}

static void assert_same_weights(foil_model *a, foil_model *b)
{
    FoilGraph *ga = foilGraphModelOf(a)->g, *gb = foilGraphModelOf(b)->g;
    assert_int_equal(ga->n_values, gb->n_values);
    int params = 0;
    for (int i = 0; i < ga->n_values; i++) {
        const FoilValue *va = &ga->values[i], *vb = &gb->values[i];
        if (va->kind != FOIL_VALUE_PARAM) continue;
        params++;
        assert_int_equal(va->t.numel, vb->t.numel);
        if (memcmp(va->t.data, vb->t.data, foil_tensor_nbytes(&va->t)) != 0)
            fail_msg("weight '%s' differs between the two runs", va->name);
    }
    assert_true(params > 4);
}

/* Validation after every epoch runs the inference plan (batch N, input
 * gradients off) between training steps (batch 32, weight gradients):
 * with plans side by side that is 2 plans for the whole run, where
 * re-planning at every switch made 2 per epoch. Validation must not move
 * the weights or the BatchNorm statistics either. */
static void test_validation_keeps_the_training_plan(void **state)
{
    (void)state;
    foil_dataset d;
    toy_quadrants(&d, N, CLASSES, SIDE, 1);
    foil_model *with_val = build_model(), *without = build_model();
    foil_train_options o;
    options(&o, 8);
    foil_train_report rep;
    FoilGraph *g = foilGraphModelOf(with_val)->g;
    int64_t before = g->plans_made;
    if (foil_train(with_val, &d, &d, &o, &rep)) fail_msg("%s", foil_last_error());
    for (int e = 0; e < rep.epochs; e++)
        printf("  epoch %d: train accuracy %.3f, validation accuracy %.3f\n", e + 1, rep.epoch[e].train_accuracy,
               rep.epoch[e].val_accuracy);
    printf("  %lld epochs with validation: %lld plans\n", (long long)rep.epochs, (long long)(g->plans_made - before));
    assert_int_equal(g->plans_made - before, 2);
    assert_true(rep.epoch[rep.epochs - 1].val_accuracy > 0.9); /* it learned: the plans did not mix up buffers */
    if (foil_train(without, &d, NULL, &o, &rep)) fail_msg("%s", foil_last_error());
    assert_same_weights(with_val, without);
    foil_model_free(with_val);
    foil_model_free(without);
    foil_dataset_free(&d);
}

/* last_layer_only (foil train --fine-tune): the Gemm that makes the
 * logits learns, every other weight stays bit for bit, and so do
 * BatchNorm's running statistics (resnet-mini: the fine-tuned layer reads
 * features the frozen part computes in training mode). */
static void test_fine_tune_last_layer(void **state)
{
    (void)state;
    foil_dataset d;
    toy_quadrants(&d, N, CLASSES, SIDE, 1);
    foil_model *m = build_model(), *before = build_model();
    foil_train_options o;
    options(&o, 2);
    o.last_layer_only = 1;
    foil_train_report rep;
    if (foil_train(m, &d, NULL, &o, &rep)) fail_msg("%s", foil_last_error());
    FoilGraph *g = foilGraphModelOf(m)->g, *g0 = foilGraphModelOf(before)->g;
    int changed = 0, kept = 0;
    for (int i = 0; i < g->n_values; i++) {
        const FoilValue *v = &g->values[i];
        if (v->kind != FOIL_VALUE_PARAM) continue;
        int same = memcmp(v->t.data, g0->values[i].t.data, foil_tensor_nbytes(&v->t)) == 0;
        int last = strncmp(v->name, "fc.", 3) == 0;
        if (last && same) fail_msg("the last layer's '%s' did not change", v->name);
        if (!last && !same) fail_msg("'%s' changed; only the last layer may", v->name);
        changed += last, kept += !last;
    }
    printf("  fine-tuning: %d weights of the last layer changed, %d others kept\n", changed, kept);
    assert_int_equal(changed, 2);
    assert_true(kept > 20);
    foil_model_free(m), foil_model_free(before);
    foil_dataset_free(&d);
}

/* The pattern of adversarial training, at the graph model's level: a
 * training-mode forward (training plan; it moves the BatchNorm statistics)
 * and an input gradient (inference plan), repeated. Each switch is a swap:
 * no plan after the first round, and the last input gradient equals the
 * one a freshly planned graph gives for the same weights. */
static void test_alternating_uses_do_not_replan(void **state)
{
    (void)state;
    foil_dataset d;
    toy_quadrants(&d, N, CLASSES, SIDE, 2);
    foil_model *m = build_model();
    FoilGraphModel *gm = foilGraphModelOf(m);
    foil_tensor grad = {0}, fresh = {0};
    const foil_tensor *in[1] = {&d.x};
    int64_t plans = -1;
    for (int round = 0; round < 4; round++) {
        assert_int_equal(foilGraphModelUsePlan(gm, FOIL_PLAN_TRAINING), FOIL_OK);
        if (round == 0) assert_int_equal(foilGraphPlan(gm->g, in), FOIL_OK);
        assert_int_equal(foilGraphForward(gm->g, in, 1, (uint64_t)round), FOIL_OK);
        assert_int_equal(foil_model_loss_input_grad(m, &d.x, foil_i64(&d.y), NULL, NULL, &grad), FOIL_OK);
        if (round == 0) plans = gm->g->plans_made;
        assert_int_equal(gm->g->plans_made, plans);
    }
    foilGraphModelUnplan(gm);
    assert_int_equal(foil_model_loss_input_grad(m, &d.x, foil_i64(&d.y), NULL, NULL, &fresh), FOIL_OK);
    assert_int_equal(gm->g->plans_made, plans + 1);
    if (memcmp(grad.data, fresh.data, foil_tensor_nbytes(&grad)) != 0)
        fail_msg("the input gradient after switching plans differs from a fresh plan's");
    foil_tensor_free(&grad);
    foil_tensor_free(&fresh);
    foil_model_free(m);
    foil_dataset_free(&d);
}

static void test_wrapper_cannot_fit(void **state)
{
    (void)state;
    foil_dataset d;
    toy_quadrants(&d, N, CLASSES, SIDE, 3);
    foil_model *bb = NULL;
    foil_output out = {.mode = FOIL_OUTPUT_LOGITS};
    assert_int_equal(foil_model_black_box(build_model(), 0, &out, &bb), FOIL_OK);
    foil_train_options o;
    options(&o, 1);
    foil_train_report rep;
    assert_int_equal(foil_train(bb, &d, NULL, &o, &rep), FOIL_ERR_CAPABILITY);
    assert_non_null(strstr(foil_last_error(), "cannot train a black-box model"));
    foil_model_free(bb);
    foil_dataset_free(&d);
}

/* TRADES's loss on (clean, adversarial) logit pairs against central
 * differences of itself, in double-checked float: every logit of both
 * halves, several betas. */
static double trades_mean_loss(const float *z, const int64_t *y, int64_t b, int64_t c, float beta)
{
    float loss[8], dl[2 * 8 * 8];
    assert_int_equal(foilAdvTradesLoss(z, y, b, c, beta, loss, dl), FOIL_OK);
    double sum = 0;
    for (int64_t i = 0; i < b; i++) sum += loss[i];
    return sum / (double)b;
}

static void test_trades_loss_gradient(void **state)
{
    (void)state;
    enum { B = 3, C = 5 };
    const int64_t y[B] = {0, 3, 4};
    const float betas[3] = {0.5f, 1.0f, 6.0f};
    foil_rng r = foil_rng_make(9, 9);
    for (int k = 0; k < 3; k++) {
        float z[2 * B * C], dl[2 * B * C], loss[B];
        for (int i = 0; i < 2 * B * C; i++) z[i] = 2.0f * (float)foil_rng_normal(&r);
        assert_int_equal(foilAdvTradesLoss(z, y, B, C, betas[k], loss, dl), FOIL_OK);
        double worst = 0;
        for (int i = 0; i < 2 * B * C; i++) {
            const float h = 1e-2f, keep = z[i];
            z[i] = keep + h;
            double up = trades_mean_loss(z, y, B, C, betas[k]);
            z[i] = keep - h;
            double down = trades_mean_loss(z, y, B, C, betas[k]);
            z[i] = keep;
            double numeric = (up - down) / (2.0 * h), err = fabs(numeric - dl[i]);
            if (err > worst) worst = err;
            if (err > 2e-3 + 1e-2 * fabs(numeric))
                fail_msg("beta %g, logit %d: analytic %.6f, numeric %.6f", betas[k], i, dl[i], numeric);
        }
        printf("  TRADES beta %g: worst gradient error %.2e\n", betas[k], worst);
    }
    int64_t bad[1] = {7};
    float z[2 * C] = {0}, dl[2 * C], loss[1];
    assert_int_equal(foilAdvTradesLoss(z, bad, 1, C, 6, loss, dl), FOIL_ERR_ARG);
}

/* Distillation's loss at temperature T against central differences, with
 * soft targets and with hard labels. */
static double distill_mean_loss(const float *z, const int64_t *y, const float *soft, int64_t b, int64_t c, float t)
{
    float loss[8], dl[64];
    assert_int_equal(foilDistillLoss(z, y, soft, b, c, t, loss, dl), FOIL_OK);
    double sum = 0;
    for (int64_t i = 0; i < b; i++) sum += loss[i];
    return sum / (double)b;
}

static void test_distillation_loss_gradient(void **state)
{
    (void)state;
    enum { B = 3, C = 4 };
    const int64_t y[B] = {1, 0, 3};
    foil_rng r = foil_rng_make(10, 10);
    float soft[B * C];
    for (int i = 0; i < B * C; i++) soft[i] = 5.0f * (float)foil_rng_normal(&r);
    foilDistillSoftLabels(soft, B, C, 4.0f);
    for (int i = 0; i < B; i++) {
        double sum = 0;
        for (int k = 0; k < C; k++) sum += soft[i * C + k];
        assert_true(fabs(sum - 1) < 1e-5);
    }
    const float temps[2] = {1.0f, 20.0f};
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < 2; k++) {
            float z[B * C], dl[B * C], loss[B];
            for (int i = 0; i < B * C; i++) z[i] = 10.0f * (float)foil_rng_normal(&r);
            const float *target = s ? soft : NULL;
            assert_int_equal(foilDistillLoss(z, y, target, B, C, temps[k], loss, dl), FOIL_OK);
            for (int i = 0; i < B * C; i++) {
                const float h = 1e-2f, keep = z[i];
                z[i] = keep + h;
                double up = distill_mean_loss(z, y, target, B, C, temps[k]);
                z[i] = keep - h;
                double down = distill_mean_loss(z, y, target, B, C, temps[k]);
                z[i] = keep;
                double numeric = (up - down) / (2.0 * h);
                if (fabs(numeric - dl[i]) > 2e-3 + 1e-2 * fabs(numeric))
                    fail_msg("T %g, %s, logit %d: analytic %.6f, numeric %.6f", temps[k], s ? "soft" : "hard", i,
                             dl[i], numeric);
            }
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validation_keeps_the_training_plan),
        cmocka_unit_test(test_alternating_uses_do_not_replan),
        cmocka_unit_test(test_wrapper_cannot_fit),
        cmocka_unit_test(test_fine_tune_last_layer),
        cmocka_unit_test(test_trades_loss_gradient),
        cmocka_unit_test(test_distillation_loss_gradient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
