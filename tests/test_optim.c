/*
 * tests/test_optim.c - optimizer updates against their definitions, worked
 * out by hand, and the learning-rate schedules.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "foil/optim.h"

typedef struct pair {
    foil_tensor w, g;
    foil_tensor *pw, *pg;
} pair;

static void make(pair *p, float w0)
{
    int64_t shape[1] = {1};
    foil_tensor_alloc(&p->w, FOIL_F32, 1, shape);
    foil_tensor_alloc(&p->g, FOIL_F32, 1, shape);
    foil_f32(&p->w)[0] = w0;
    p->pw = &p->w;
    p->pg = &p->g;
}

/* SGD with momentum 0.9 and weight decay 0.1 on f(w) = w^2 / 2 (g = w):
 * step 1: g' = w + 0.1 w = 1.1 w, v = g', w -= lr v; later steps v = 0.9 v + g'. */
static void test_sgd_momentum(void **state)
{
    (void)state;
    pair p;
    make(&p, 2.0f);
    foil_optim_config cfg = foil_optim_defaults(FOIL_OPT_SGD);
    cfg.weight_decay = 0.1;
    foil_optim o;
    assert_int_equal(foil_optim_init(&o, &cfg, 1, &p.pw, &p.pg), FOIL_OK);
    double w = 2.0, v = 0;
    for (int t = 0; t < 5; t++) {
        foil_f32(&p.g)[0] = foil_f32(&p.w)[0];
        foil_optim_step(&o, 0.1);
        double gp = w + 0.1 * w;
        v = t == 0 ? gp : 0.9 * v + gp;
        w -= 0.1 * v;
        assert_true(fabs(foil_f32(&p.w)[0] - w) < 1e-6);
    }
    foil_optim_free(&o);
    foil_tensor_free(&p.w);
    foil_tensor_free(&p.g);
}

/* Adam's first step moves every weight by lr * sign(g) (up to eps): the bias
 * corrections cancel the (1 - beta) factors. Later steps follow the formula. */
static void test_adam(void **state)
{
    (void)state;
    pair p;
    make(&p, 1.0f);
    foil_optim_config cfg = foil_optim_defaults(FOIL_OPT_ADAM);
    foil_optim o;
    assert_int_equal(foil_optim_init(&o, &cfg, 1, &p.pw, &p.pg), FOIL_OK);
    foil_f32(&p.g)[0] = -3.0f;
    foil_optim_step(&o, 0.01);
    assert_true(fabs(foil_f32(&p.w)[0] - 1.01) < 1e-6);
    double m = 0.1 * -3.0, v = 0.001 * 9.0, w = foil_f32(&p.w)[0];
    foil_f32(&p.g)[0] = 0.5f;
    foil_optim_step(&o, 0.01);
    m = 0.9 * m + 0.1 * 0.5;
    v = 0.999 * v + 0.001 * 0.25;
    double mhat = m / (1 - 0.81), vhat = v / (1 - 0.999 * 0.999);
    w -= 0.01 * mhat / (sqrt(vhat) + 1e-8);
    assert_true(fabs(foil_f32(&p.w)[0] - w) < 1e-6);
    foil_optim_free(&o);
    foil_tensor_free(&p.w);
    foil_tensor_free(&p.g);
}

static void test_schedules(void **state)
{
    (void)state;
    foil_optim_config c = foil_optim_defaults(FOIL_OPT_SGD);
    c.lr = 0.1;
    assert_true(fabs(foil_lr_at(&c, 7, 10, 3) - 0.1) < 1e-12);
    c.schedule = FOIL_LR_COSINE;
    assert_true(fabs(foil_lr_at(&c, 0, 100, 0) - 0.1) < 1e-12);
    assert_true(fabs(foil_lr_at(&c, 50, 100, 0) - 0.05) < 1e-12);
    assert_true(foil_lr_at(&c, 99, 100, 0) < 1e-4);
    c.schedule = FOIL_LR_STEP;
    c.step_size = 2;
    c.gamma = 0.5;
    assert_true(fabs(foil_lr_at(&c, 0, 0, 1) - 0.1) < 1e-12);
    assert_true(fabs(foil_lr_at(&c, 0, 0, 2) - 0.05) < 1e-12);
    assert_true(fabs(foil_lr_at(&c, 0, 0, 5) - 0.025) < 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_momentum),
        cmocka_unit_test(test_adam),
        cmocka_unit_test(test_schedules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
