/*
 * tests/test_train_ibp.c - IBP training (foil/train.h, FOIL_ADV_IBP) and
 * its differentiable bounds (model/ibp_train.h).
 *
 * Checks: the gradient of the worst-case cross-entropy with respect to
 * every weight against central differences, on a small cnn-small (Conv,
 * MaxPool, Relu, Flatten, Gemm, the margin folded into the last Gemm) and
 * on an MLP with the input normalization in front (Sub and Div by
 * constants, flat activations); on a model IBP-trained on a toy problem,
 * that the training bounds contain the logits of points sampled in the box
 * and agree with foil/verify.h's sound IBP margins up to float rounding, and
 * that training made some examples verifiable; that a run resumed from a
 * checkpoint in the middle of the eps ramp ends with the same weights, bit
 * for bit, as one that never stopped; bad IBP options are refused.
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

#include "foil/arch.h"
#include "foil/loss.h"
#include "foil/rng.h"
#include "foil/train.h"
#include "foil/verify.h"
#include "model/ibp_train.h"
#include "model/model_internal.h"
#include "toy_data.h"

enum { N = 96, CLASSES = 4, SIDE = 12 };


static foil_model *build(const char *arch, int64_t side, const float *mean, const float *std)
{
    foil_arch_spec s;
    memset(&s, 0, sizeof s);
    s.name = arch;
    s.input_rank = 4;
    s.input_shape[0] = 1;
    s.input_shape[1] = side;
    s.input_shape[2] = side;
    s.classes = CLASSES;
    s.seed = 7;
    static const int64_t hidden[2] = {12, 8};
    if (strcmp(arch, "mlp") == 0) {
        s.hidden = hidden;
        s.n_hidden = 2;
    }
    s.mean = mean;
    s.std = std;
    foil_model *m = NULL;
    if (foil_arch_build(&s, &m)) fail_msg("%s", foil_last_error());
    return m;
}

/* Mean worst-case cross-entropy of the b examples of x at eps (in double),
 * and its gradient dz (may be NULL). */
static double worst_loss(FoilIbp *ib, const foil_dataset *d, int64_t b, float eps, float *dz)
{
    const int64_t f = d->x.numel / d->x.shape[0];
    float *lo = malloc((size_t)(b * f) * sizeof *lo), *hi = malloc((size_t)(b * f) * sizeof *hi);
    float z[N * CLASSES], dzz[N * CLASSES], loss[N];
    foil_bounds_linf_box(b, f, foil_f32(&d->x), eps, foil_f32(&d->lower), foil_f32(&d->upper), lo, hi);
    assert_int_equal(foilIbpForward(ib, b, lo, hi), FOIL_OK);
    foilIbpWorstLogits(ib, foil_i64(&d->y), z);
    assert_int_equal(foil_softmax_xent(z, foil_i64(&d->y), b, CLASSES, loss, dzz), FOIL_OK);
    double sum = 0;
    for (int64_t i = 0; i < b; i++) sum += loss[i];
    if (dz)
        for (int64_t i = 0; i < b * CLASSES; i++) dz[i] = dzz[i] / (float)b;
    free(lo);
    free(hi);
    return sum / (double)b;
}

/* Analytic against central differences for every trained weight (up to 12
 * coordinates of each, chosen at random). A difference across a kink (a
 * bound of a Relu input or a pool's max crossing over) spoils a few; at
 * most 2% may miss. */
static void check_gradient(const char *arch, const float *mean, const float *std, int64_t side)
{
    foil_dataset d;
    toy_quadrants(&d, N, CLASSES, side, 11);
    foil_model *m = build(arch, side, mean, std);
    const int64_t b = 8;
    foil_tensor xb = d.x, logits = {0};
    xb.shape[0] = b;
    xb.numel = b * side * side;
    xb.owns_data = 0;
    assert_int_equal(foil_model_predict(m, &xb, &logits), FOIL_OK); /* plans the graph */
    FoilGraph *g = foilGraphModelOf(m)->g;
    FoilIbp *ib = NULL;
    if (foilIbpNew(g, b, &ib)) fail_msg("%s", foil_last_error());
    const float eps = 0.03f;
    float dz[N * CLASSES];
    worst_loss(ib, &d, b, eps, dz);
    foilIbpBackward(ib, foil_i64(&d.y), dz);
    foil_rng r = foil_rng_make(3, 4);
    int checked = 0, missed = 0, tensors = 0;
    for (int v = 0; v < g->n_values; v++) {
        FoilValue *val = &g->values[v];
        const float *an = foilIbpGrad(ib, v);
        if (val->kind != FOIL_VALUE_PARAM || !val->trainable) continue;
        assert_non_null(an); /* every trained weight gets a gradient */
        tensors++;
        float *w = foil_f32(&val->t);
        for (int k = 0; k < 12; k++) {
            int64_t i = (int64_t)foil_rng_below(&r, (uint64_t)val->t.numel);
            const float h = 1e-3f, w0 = w[i];
            w[i] = w0 + h;
            double up = worst_loss(ib, &d, b, eps, NULL);
            w[i] = w0 - h;
            double down = worst_loss(ib, &d, b, eps, NULL);
            w[i] = w0;
            double num = (up - down) / (2.0 * (double)h), a = an[i];
            checked++;
            if (fabs(num - a) > 1e-2 * fmax(fabs(num), fabs(a)) + 2e-3) {
                missed++;
                printf("  %s %s[%lld]: analytic %.6g, numeric %.6g\n", arch, val->name, (long long)i, a, num);
            }
        }
    }
    printf("  %s: %d weight tensors, %d coordinates checked, %d missed\n", arch, tensors, checked, missed);
    assert_true(tensors >= 4);
    assert_true(missed * 50 <= checked);
    foilIbpFree(ib);
    foil_tensor_free(&logits);
    foil_model_free(m);
    foil_dataset_free(&d);
}

static void test_gradient_cnn(void **state)
{
    (void)state;
    check_gradient("cnn-small", NULL, NULL, 8);
}

static void test_gradient_mlp_normalized(void **state)
{
    (void)state;
    float mean[36], std[36];
    for (int i = 0; i < 36; i++) mean[i] = 0.1f + 0.01f * (float)i, std[i] = 0.5f + 0.02f * (float)i;
    check_gradient("mlp", mean, std, 6);
}

/* IBP-train cnn-small on the toy problem, then: the training bounds hold
 * sampled logits, and agree with the verifier's margins. */
static void test_trained_bounds_are_sound(void **state)
{
    (void)state;
    foil_dataset d;
    toy_quadrants(&d, N, CLASSES, SIDE, 21);
    foil_model *m = build("cnn-small", SIDE, NULL, NULL);
    foil_train_options o;
    foil_train_defaults(&o);
    o.epochs = 30;
    o.batch = 32;
    o.seed = 3;
    o.quiet = 1;
    o.optim = foil_optim_defaults(FOIL_OPT_ADAM);
    o.adv.mode = FOIL_ADV_IBP;
    o.adv.eps = 0.05f;
    o.adv.warmup_epochs = 5;
    o.adv.ramp_epochs = 15;
    foil_train_report rep;
    if (foil_train(m, &d, NULL, &o, &rep)) fail_msg("%s", foil_last_error());
    for (int e = 0; e < rep.epochs; e += 5)
        printf("  epoch %d: eps %.3f kappa %.2f, loss %.3f, train accuracy %.3f, IBP-verified %.3f\n", e + 1,
               rep.epoch[e].eps, rep.epoch[e].kappa, rep.epoch[e].train_loss, rep.epoch[e].train_accuracy,
               rep.epoch[e].ibp_verified);
    const foil_epoch_stats *last = &rep.epoch[rep.epochs - 1];
    assert_true(rep.epoch[4].ibp_verified == -1 && rep.epoch[4].kappa == 1); /* the warm-up is clean training */
    assert_true(fabs(last->eps - 0.05) < 1e-6 && fabs(last->kappa - 0.5) < 1e-6);
    assert_true(last->ibp_verified > 0.5); /* an easy problem: IBP training makes most of it verifiable */

    const int64_t b = 16, f = SIDE * SIDE;
    const float eps = 0.05f;
    foil_tensor xb = d.x, logits = {0};
    xb.shape[0] = b;
    xb.numel = b * f;
    xb.owns_data = 0;
    assert_int_equal(foil_model_predict(m, &xb, &logits), FOIL_OK);
    FoilIbp *ib = NULL;
    if (foilIbpNew(foilGraphModelOf(m)->g, b, &ib)) fail_msg("%s", foil_last_error());
    float *lo = malloc((size_t)(b * f) * sizeof *lo), *hi = malloc((size_t)(b * f) * sizeof *hi);
    float lb[16 * CLASSES], ub[16 * CLASSES], z[16 * CLASSES];
    foil_bounds_linf_box(b, f, foil_f32(&d.x), eps, foil_f32(&d.lower), foil_f32(&d.upper), lo, hi);
    assert_int_equal(foilIbpForward(ib, b, lo, hi), FOIL_OK);
    foilIbpLogitBounds(ib, lb, ub);
    foilIbpWorstLogits(ib, foil_i64(&d.y), z);

    /* sampled points (corners and uniform) stay inside the bounds, up to float rounding */
    foil_tensor xs = {0}, ls = {0};
    int64_t shape[4] = {b, 1, SIDE, SIDE};
    assert_int_equal(foil_tensor_alloc(&xs, FOIL_F32, 4, shape), FOIL_OK);
    foil_rng r = foil_rng_make(9, 9);
    double worst_out = 0;
    for (int s = 0; s < 50; s++) {
        for (int64_t k = 0; k < b * f; k++) {
            double u = s < 10 ? (double)(foil_rng_u64(&r) & 1) : foil_rng_uniform(&r);
            foil_f32(&xs)[k] = (float)(lo[k] + u * (hi[k] - lo[k]));
        }
        assert_int_equal(foil_model_predict(m, &xs, &ls), FOIL_OK);
        for (int64_t k = 0; k < b * CLASSES; k++) {
            float v = foil_f32(&ls)[k], tol = 1e-4f * (1 + fabsf(v));
            worst_out = fmax(worst_out, fmax(lb[k] - v, v - ub[k]));
            if (v < lb[k] - tol || v > ub[k] + tol) fail_msg("logit %g outside [%g, %g]", v, lb[k], ub[k]);
            int64_t i = k / CLASSES, y = foil_i64(&d.y)[i];
            float margin = foil_f32(&ls)[i * CLASSES + k % CLASSES] - foil_f32(&ls)[i * CLASSES + y];
            if (margin > z[k] + tol) fail_msg("logit margin %g above its worst case %g", margin, z[k]);
        }
    }
    printf("  sampled logits: largest excursion past a bound %.3g\n", worst_out);

    /* the verifier's sound IBP margins (double, rounded outward) agree */
    foil_verifier *v = NULL;
    int64_t ex[3] = {1, SIDE, SIDE};
    if (foil_verify_new(m, 3, ex, &v)) fail_msg("%s", foil_last_error());
    float C[16 * (CLASSES - 1) * CLASSES], vlb[16 * (CLASSES - 1)], vub[16 * (CLASSES - 1)];
    foil_bounds_margin_spec(CLASSES, foil_i64(&d.y), b, C);
    foil_bounds_options bo = {.method = FOIL_BOUNDS_IBP};
    assert_int_equal(foil_bounds_compute(v, &bo, b, lo, hi, C, CLASSES - 1, vlb, vub), FOIL_OK);
    double most = 0;
    for (int64_t i = 0; i < b; i++) {
        int64_t y = foil_i64(&d.y)[i], row = 0;
        for (int64_t j = 0; j < CLASSES; j++) {
            if (j == y) continue;
            float train_lower = -z[i * CLASSES + j], sound = vlb[i * (CLASSES - 1) + row++];
            double diff = (double)train_lower - (double)sound, tol = 1e-4 * (1 + fabs(sound));
            most = fmax(most, fabs(diff));
            if (fabs(diff) > tol) fail_msg("example %lld margin %lld: training bound %g, verifier %g", (long long)i,
                                           (long long)j, train_lower, sound);
        }
    }
    printf("  training vs verifier IBP margin bounds: largest difference %.3g\n", most);
    foil_verify_free(v);
    foil_tensor_free(&xs);
    foil_tensor_free(&ls);
    foil_tensor_free(&logits);
    free(lo);
    free(hi);
    foilIbpFree(ib);
    foil_model_free(m);
    foil_dataset_free(&d);
}

/* The schedule is a function of the global step: 2 epochs, a checkpoint,
 * then 2 more resumed from it, end where 4 straight epochs do (a constant
 * learning rate, so the first run's shorter horizon changes nothing). */
static void test_resume_mid_ramp(void **state)
{
    (void)state;
    foil_dataset d;
    toy_quadrants(&d, N, CLASSES, SIDE, 5);
    foil_model *straight = build("cnn-small", SIDE, NULL, NULL), *resumed = build("cnn-small", SIDE, NULL, NULL);
    foil_train_options o;
    foil_train_defaults(&o);
    o.batch = 32;
    o.seed = 4;
    o.quiet = 1;
    o.optim = foil_optim_defaults(FOIL_OPT_ADAM);
    o.optim.schedule = FOIL_LR_CONSTANT;
    o.adv.mode = FOIL_ADV_IBP;
    o.adv.eps = 0.05f;
    o.adv.warmup_epochs = 1;
    o.adv.ramp_epochs = 2;
    o.epochs = 4;
    foil_train_report rep;
    if (foil_train(straight, &d, NULL, &o, &rep)) fail_msg("%s", foil_last_error());
    char ck[64];
    snprintf(ck, sizeof ck, "/tmp/foil-ibp-resume-%d.ckpt", (int)getpid());
    remove(ck);
    o.checkpoint = ck;
    o.resume = 1;
    o.epochs = 2;
    if (foil_train(resumed, &d, NULL, &o, &rep)) fail_msg("%s", foil_last_error());
    o.epochs = 4;
    if (foil_train(resumed, &d, NULL, &o, &rep)) fail_msg("%s", foil_last_error());
    assert_int_equal(rep.resumed_epoch, 2);
    remove(ck);
    FoilGraph *ga = foilGraphModelOf(straight)->g, *gb = foilGraphModelOf(resumed)->g;
    for (int i = 0; i < ga->n_values; i++)
        if (ga->values[i].kind == FOIL_VALUE_PARAM &&
            memcmp(ga->values[i].t.data, gb->values[i].t.data, foil_tensor_nbytes(&ga->values[i].t)) != 0)
            fail_msg("weight '%s' differs after resuming", ga->values[i].name);
    foil_model_free(straight);
    foil_model_free(resumed);
    foil_dataset_free(&d);
}

/* Bad options: a library error, not a crash; an unsupported op names itself. */
static void test_bad_options(void **state)
{
    (void)state;
    foil_dataset d;
    toy_quadrants(&d, N, CLASSES, SIDE, 1);
    foil_model *m = build("cnn-small", SIDE, NULL, NULL);
    foil_train_options o;
    foil_train_defaults(&o);
    o.epochs = 1;
    o.quiet = 1;
    o.adv.mode = FOIL_ADV_IBP;
    o.adv.eps = 0.1f;
    foil_train_report rep;
    o.adv.kappa_final = 1.5f;
    assert_int_equal(foil_train(m, &d, NULL, &o, &rep), FOIL_ERR_ARG);
    o.adv.kappa_final = 0.5f;
    o.adv.steps = 3;
    assert_int_equal(foil_train(m, &d, NULL, &o, &rep), FOIL_ERR_ARG);
    o.adv.steps = 0;
    foil_model *res = build("resnet-mini", SIDE, NULL, NULL); /* BatchNorm */
    assert_int_equal(foil_train(res, &d, NULL, &o, &rep), FOIL_ERR_UNSUPPORTED);
    assert_non_null(strstr(foil_last_error(), "BatchNormalization"));
    foil_model_free(res);
    foil_model_free(m);
    foil_dataset_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradient_cnn),
        cmocka_unit_test(test_gradient_mlp_normalized),
        cmocka_unit_test(test_trained_bounds_are_sound),
        cmocka_unit_test(test_resume_mid_ramp),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
