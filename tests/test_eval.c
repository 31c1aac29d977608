/*
 * tests/test_eval.c - robustness metrics of an attack result (foil/eval.h):
 * empirical robustness (ART's definition) on a hand-made result whose
 * answer is known, including the examples it must leave out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>

#include <cmocka.h>

#include "foil/eval.h"

static void test_empirical_robustness(void **state)
{
    (void)state;
    /* four examples of 2 features: ||x||_2 = 5, 1, 2, 0 */
    float xs[8] = {3, 4, 1, 0, 0, 2, 0, 0};
    foil_tensor x = {.dtype = FOIL_F32, .ndim = 2, .shape = {4, 2}, .numel = 8, .data = xs};
    uint8_t attacked[4] = {1, 1, 0, 1}, success[4] = {1, 0, 0, 1};
    float norm[4] = {0.5f, 0.3f, 0.0f, 0.7f};
    foil_evasion_result r = {.n = 4, .attacked = attacked, .success = success, .norm = norm};
    /* example 0: 0.5 / 5; example 1 not fooled; 2 not attacked; 3 has ||x|| = 0 (no relative size) */
    assert_true(fabs(foil_evasion_empirical_robustness(&r, &x, FOIL_NORM_L2) - 0.1) < 1e-7);
    /* in Linf, ||x_0|| = 4 */
    assert_true(fabs(foil_evasion_empirical_robustness(&r, &x, FOIL_NORM_LINF) - 0.125) < 1e-7);
    success[0] = 0;
    assert_true(isnan(foil_evasion_empirical_robustness(&r, &x, FOIL_NORM_L2)));
}

/* The best balanced accuracy over thresholds, on sets small enough to
 * check by hand: "score >= 4" gives TPR 2/3 at FPR 0, "score >= 3" TPR 1 at
 * FPR 1/3, both 5/6; scores that all tie give nothing better than chance;
 * a set the other way round gives chance too, not its mirror image. */
static void test_best_balanced_accuracy(void **state)
{
    (void)state;
    float pos[3] = {5, 3, 4}, neg[3] = {3.5f, 1, 2};
    assert_float_equal(foil_best_balanced_accuracy(pos, 3, neg, 3), 5.0 / 6, 1e-12);
    assert_true(pos[0] == 3 && pos[2] == 5 && neg[0] == 1); /* sorted in place, as documented */
    float tie_pos[2] = {1, 1}, tie_neg[3] = {1, 1, 1};
    assert_float_equal(foil_best_balanced_accuracy(tie_pos, 2, tie_neg, 3), 0.5, 0);
    float low[2] = {0, 1}, high[2] = {2, 3};
    assert_float_equal(foil_best_balanced_accuracy(low, 2, high, 2), 0.5, 0);
    assert_true(isnan(foil_best_balanced_accuracy(low, 0, high, 2)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_empirical_robustness),
                                       cmocka_unit_test(test_best_balanced_accuracy)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
