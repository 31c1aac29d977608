/*
 * tests/test_attacks_saturated.c - saturated losses are never reported as
 * robustness.
 *
 * The fixture cnn-small with its last Gemm's weights and bias scaled by
 * 1000 predicts exactly what it predicted before, but its logits are so far
 * apart that softmax(z)_y rounds to 1 in float32 and the cross-entropy
 * gradient is exactly zero on almost every example. CE-based PGD then
 * cannot move and "finds" a robust model. The runner must flag it
 * (zero_gradient_fraction near 1 and a warning naming the cause), and PGD
 * with loss=margin or loss=dlr, whose gradients do not saturate, must break
 * the model as it breaks the unscaled one. Every gradient family is checked
 * to report the fraction, and black-box attacks to report none.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attack_fixture.h"
#include "model/model_internal.h"

enum { SCALE = 1000 };

/* PLAIN: the fixture; SAT: the same examples, the scaled model. */
static attack_fixture PLAIN, SAT;

/* Multiply the weights and bias of the graph's last Gemm (the logits
 * layer) by factor: logits scale by factor, predictions do not change.
 * Returns 0, or -1 when there is no such layer. */
static int scale_last_gemm(foil_model *m, float factor)
{
    FoilGraph *g = foilGraphModelOf(m)->g;
    for (int k = g->n_nodes - 1; k >= 0; k--) {
        FoilNode *nd = &g->nodes[k];
        if (strcmp(nd->op_type, "Gemm") != 0) continue;
        for (int a = 1; a < nd->n_in && a <= 2; a++) {
            FoilValue *v = &g->values[nd->in[a]];
            if (v->kind != FOIL_VALUE_PARAM) return -1;
            for (int64_t j = 0; j < v->t.numel; j++) foil_f32(&v->t)[j] *= factor;
        }
        return 0;
    }
    return -1;
}

static foil_threat threat(const attack_fixture *f, float eps)
{
    return attack_fixture_threat(f, FOIL_NORM_LINF, eps);
}

static foil_evasion_summary run(attack_fixture *f, const char *name, float eps, const char *params,
                               foil_evasion_result *keep)
{
    foil_threat t = threat(f, eps);
    foil_evasion_summary s = attack_fixture_run(f, name, &t, params, keep);
    printf("  %31s zero_gradient_fraction %.4f (%lld of %lld)\n", "", s.zero_gradient_fraction,
           (long long)s.zero_grad_examples, (long long)s.grad_examples);
    return s;
}

static int warns_saturation(const foil_evasion_result *r)
{
    return strstr(r->warnings, "saturated softmax") != NULL && strstr(r->warnings, "loss=margin") != NULL;
}

/* ---- the scaled model ---- */

static void test_predictions_unchanged(void **state)
{
    (void)state;
    foil_tensor zp = {0}, zs = {0};
    assert_int_equal(foil_model_predict(PLAIN.model, &PLAIN.data.x, &zp), FOIL_OK);
    assert_int_equal(foil_model_predict(SAT.model, &SAT.data.x, &zs), FOIL_OK);
    int64_t C = zp.shape[1], same = 0;
    double gap_plain = 0, gap_sat = 0; /* median-free summary: mean top-1 minus top-2 logit */
    for (int64_t i = 0; i < PLAIN.examples; i++) {
        const float *a = foil_f32(&zp) + i * C, *b = foil_f32(&zs) + i * C;
        int64_t pa = 0, pb = 0;
        for (int64_t k = 1; k < C; k++) {
            if (a[k] > a[pa]) pa = k;
            if (b[k] > b[pb]) pb = k;
        }
        same += pa == pb;
        float second_a = -INFINITY, second_b = -INFINITY;
        for (int64_t k = 0; k < C; k++) {
            if (k != pa) second_a = fmaxf(second_a, a[k]);
            if (k != pb) second_b = fmaxf(second_b, b[k]);
        }
        gap_plain += a[pa] - second_a;
        gap_sat += b[pb] - second_b;
    }
    printf("  same prediction on %lld of %lld; mean top-2 logit gap %.3g (plain) vs %.3g (x%d)\n", (long long)same,
           (long long)PLAIN.examples, gap_plain / (double)PLAIN.examples, gap_sat / (double)PLAIN.examples, SCALE);
    assert_int_equal(same, PLAIN.examples);
    assert_true(gap_sat > 100 * gap_plain);
    foil_tensor_free(&zp);
    foil_tensor_free(&zs);
}

/* (a) CE PGD cannot move on the scaled model and says so; (b) margin and
 * DLR PGD, same eps and steps, break it; (c) on the plain model CE PGD
 * sees no zero gradient and does not warn. */
static void test_pgd_losses(void **state)
{
    (void)state;
    const float eps = 0.1f;
    attack_fixture sat = attack_fixture_head(&SAT, 250), plain = attack_fixture_head(&PLAIN, 250);
    foil_evasion_result r;
    printf("  Linf eps %g, PGD-10, %lld examples\n", eps, (long long)sat.examples);

    foil_evasion_summary ce = run(&sat, "pgd", eps, NULL, &r);
    assert_true(ce.zero_gradient_fraction >= 0.9);
    assert_true(warns_saturation(&r));
    printf("  warning: %s\n", r.warnings);
    foil_evasion_result_free(&r);

    foil_evasion_summary margin = run(&sat, "pgd", eps, "loss=margin", &r);
    assert_true(margin.zero_gradient_fraction < 0.01);
    assert_int_equal(r.warnings[0], 0);
    foil_evasion_result_free(&r);
    foil_evasion_summary dlr = run(&sat, "pgd", eps, "loss=dlr", NULL);
    assert_true(dlr.zero_gradient_fraction < 0.01);

    foil_evasion_summary plain_ce = run(&plain, "pgd", eps, NULL, &r);
    assert_true(plain_ce.zero_gradient_fraction < 0.01);
    assert_null(strstr(r.warnings, "zero"));
    foil_evasion_result_free(&r);
    foil_evasion_summary plain_margin = run(&plain, "pgd", eps, "loss=margin", NULL);

    /* The saturated model is as breakable as the plain one: CE's robust
     * accuracy is the flat loss, not the model. The margin gradient of the
     * scaled model is SCALE times the plain one, so its signs (the Linf
     * steps) agree but for float rounding: a few examples either way. */
    printf("  robust: CE %.1f%%, margin %.1f%%, DLR %.1f%% on the x%d model; CE %.1f%%, margin %.1f%% plain\n",
           100 * ce.robust_accuracy, 100 * margin.robust_accuracy, 100 * dlr.robust_accuracy, SCALE,
           100 * plain_ce.robust_accuracy, 100 * plain_margin.robust_accuracy);
    assert_true(ce.robust_accuracy - margin.robust_accuracy >= 0.5);
    assert_true(ce.robust_accuracy - dlr.robust_accuracy >= 0.5);
    assert_true(fabs(margin.robust_accuracy - plain_margin.robust_accuracy) <= 0.01 + 2.0 / (double)sat.examples);
    assert_true(margin.robust_accuracy <= plain_ce.robust_accuracy + 0.05);
}

/* FGSM and BIM take the same loss parameter. */
static void test_fgsm_bim_losses(void **state)
{
    (void)state;
    attack_fixture sat = attack_fixture_head(&SAT, 250);
    foil_evasion_summary fgsm_ce = run(&sat, "fgsm", 0.1f, NULL, NULL);
    foil_evasion_summary fgsm_margin = run(&sat, "fgsm", 0.1f, "loss=margin", NULL);
    foil_evasion_summary bim_ce = run(&sat, "bim", 0.1f, "loss=ce", NULL);
    foil_evasion_summary bim_dlr = run(&sat, "bim", 0.1f, "loss=dlr", NULL);
    assert_true(fgsm_ce.zero_gradient_fraction >= 0.9 && bim_ce.zero_gradient_fraction >= 0.9);
    assert_true(fgsm_ce.robust_accuracy - fgsm_margin.robust_accuracy >= 0.3);
    assert_true(bim_ce.robust_accuracy - bim_dlr.robust_accuracy >= 0.5);
}

/* ---- every family reports the fraction ---- */

typedef struct family_case {
    const char *name;
    foil_norm norm;
    float eps;
    int64_t steps;
    const char *params;
    int cross_entropy; /* 1: its first gradient is of CE, which the scaled model flattens */
} family_case;

static foil_evasion_summary run_case(attack_fixture *f, const family_case *fc, const foil_evasion_options *base,
                                    foil_evasion_result *r)
{
    foil_threat t = attack_fixture_threat(f, fc->norm, fc->eps);
    t.steps = fc->steps;
    t.queries = 100; /* black-box budgets: NES needs samples + 1 = 51 per step */
    foil_evasion_options opt = *base;
    opt.params = fc->params;
    foil_status st = foil_evasion_run(fc->name, f->model, &f->data.x, foil_i64(&f->data.y), &t, &opt, r);
    if (st) fail_msg("%s: %s", fc->name, foil_last_error());
    foil_evasion_summary s;
    foil_evasion_summarize(r, &s);
    printf("  %-11s zero_gradient_fraction %.3f (%lld of %lld examples with a gradient)%s, %.2f s\n", fc->name,
           s.zero_gradient_fraction, (long long)s.zero_grad_examples, (long long)s.grad_examples,
           r->warnings[0] ? ", warns" : "", s.seconds);
    return s;
}

/* Which gradient each family takes first decides whether the scaled model
 * flattens it: cross-entropy (FGSM, BIM, PGD, APGD-CE, the patch, and
 * AutoAttack, which starts with APGD-CE) does; DLR, the C&W margin and the
 * logit differences of DeepFool, FAB and the universal perturbation do
 * not. Black-box attacks take no gradient and report none (NaN). */
static void test_every_family(void **state)
{
    (void)state;
    attack_fixture few = attack_fixture_head(&SAT, 20);
    attack_fixture fit = attack_fixture_head(&SAT, 40);
    const family_case cases[] = {
        {"fgsm", FOIL_NORM_LINF, 0.1f, 0, NULL, 1},
        {"bim", FOIL_NORM_L2, 1.0f, 5, NULL, 1},
        {"pgd", FOIL_NORM_L1, 5.0f, 5, NULL, 1},
        {"apgd-ce", FOIL_NORM_LINF, 0.1f, 5, NULL, 1},
        {"apgd-dlr", FOIL_NORM_LINF, 0.1f, 5, NULL, 0},
        {"apgd-t", FOIL_NORM_LINF, 0.1f, 5, "n_target_classes=2", 0},
        {"cw-l2", FOIL_NORM_L2, 0, 5, "binary_search_steps=1", 0},
        {"deepfool", FOIL_NORM_L2, 0, 5, "nb_candidate=3", 0},
        {"fab-t", FOIL_NORM_LINF, 0, 5, "n_target_classes=2", 0},
        {"universal", FOIL_NORM_LINF, 0.1f, 0, "max_passes=1,df_iter=3,nb_candidate=3", 0},
        {"patch", FOIL_NORM_L0, 25, 5, NULL, 1},
        {"autoattack", FOIL_NORM_LINF, 0.1f, 5, "n_target_classes=2", 1},
    };
    foil_evasion_options base = {.batch = 250, .quiet = 1, .fit_x = &fit.data.x, .fit_y = foil_i64(&fit.data.y)};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const family_case *fc = &cases[k];
        foil_evasion_result r;
        foil_evasion_summary s = run_case(&few, fc, &base, &r);
        int fits = foil_evasion_find(fc->name)->fits;
        assert_true(s.grad_examples > 0);
        /* Over the examples the gradients were taken on: the attacked
         * ones, or the fit set for attacks that learn on it. */
        if (!fits) assert_int_equal(s.grad_examples, s.attacked);
        if (fc->cross_entropy) { /* the patch's pasted squares lower confidence: 87.5% measured */
            assert_true(s.zero_gradient_fraction >= 0.5);
            assert_non_null(strstr(r.warnings, "saturated softmax"));
        } else {
            assert_true(s.zero_gradient_fraction <= 0.05);
            assert_null(strstr(r.warnings, "saturated softmax"));
        }
        foil_evasion_result_free(&r);
    }
    const char *black_box[] = {"square", "simba-pixel", "nes", "hsj"};
    attack_fixture five = attack_fixture_head(&SAT, 5);
    for (size_t k = 0; k < sizeof black_box / sizeof black_box[0]; k++) {
        family_case fc = {black_box[k], FOIL_NORM_LINF, 0.1f, 0, NULL, 0};
        foil_evasion_result r;
        foil_evasion_summary s = run_case(&five, &fc, &base, &r);
        assert_int_equal(s.grad_examples, 0);
        assert_true(isnan(s.zero_gradient_fraction));
        assert_null(strstr(r.warnings, "saturated softmax"));
        foil_evasion_result_free(&r);
    }
}

/* The loss parameter takes only its words, and DLR needs a third class. */
static void test_bad_loss(void **state)
{
    (void)state;
    attack_fixture few = attack_fixture_head(&PLAIN, 5);
    foil_threat t = threat(&few, 0.1f);
    foil_evasion_options opt = {.params = "loss=hinge", .quiet = 1};
    assert_int_equal(attack_fixture_try(&few, "pgd", &t, &opt), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "ce, margin, dlr"));
    opt.params = "loss=";
    assert_int_equal(attack_fixture_try(&few, "fgsm", &t, &opt), FOIL_ERR_ARG);
    opt.params = "loss=margin";
    assert_int_equal(attack_fixture_try(&few, "apgd-ce", &t, &opt), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "unknown parameter"));
    attack_fixture tab;
    if (attack_fixture_load(&tab, 1) == 0) {
        foil_threat tt = threat(&tab, 0.1f);
        opt.params = "loss=dlr";
        assert_int_equal(attack_fixture_try(&tab, "pgd", &tt, &opt), FOIL_ERR_ARG);
        assert_non_null(strstr(foil_last_error(), "classes"));
        opt.params = "loss=margin"; /* two classes are enough for the margin */
        assert_int_equal(attack_fixture_try(&tab, "pgd", &tt, &opt), FOIL_OK);
        attack_fixture_free(&tab);
    }
}

int main(void)
{
    int rc = attack_fixture_load(&PLAIN, 0);
    if (rc) return rc;
    SAT = PLAIN;
    if (foil_model_load(getenv("FOIL_ATTACK_MODEL"), &SAT.model) || scale_last_gemm(SAT.model, SCALE)) {
        printf("FAIL: cannot scale the logits layer of %s\n", getenv("FOIL_ATTACK_MODEL"));
        attack_fixture_free(&PLAIN);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_predictions_unchanged), cmocka_unit_test(test_pgd_losses),
        cmocka_unit_test(test_fgsm_bim_losses),       cmocka_unit_test(test_every_family),
        cmocka_unit_test(test_bad_loss),
    };
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    foil_model_free(SAT.model);
    attack_fixture_free(&PLAIN);
    return rc;
}
