/*
 * tests/attack_fixture.c - see attack_fixture.h.
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

int attack_fixture_load(attack_fixture *f, int tabular)
{
    memset(f, 0, sizeof *f);
    const char *var = tabular ? "FOIL_ATTACK_TABULAR_MODEL" : "FOIL_ATTACK_MODEL";
    const char *path = getenv(var);
    if (!path || !*path) {
        printf("SKIP: %s is not set (run through ctest, which trains the fixture models)\n", var);
        return 77;
    }
    if (foil_model_load(path, &f->model)) {
        printf("SKIP: %s: %s\n", path, foil_last_error());
        return 77;
    }
    foil_data_spec spec = {.data = tabular ? "breast-cancer" : "fashion-mnist"};
    if (foil_data_load(&spec, FOIL_SPLIT_TEST, &f->data)) {
        printf("SKIP: %s: %s\n", spec.data, foil_last_error());
        foil_model_free(f->model);
        return 77;
    }
    const char *n = getenv("FOIL_ATTACK_EXAMPLES");
    int64_t want = tabular ? f->data.x.shape[0] : (n && atoll(n) > 0 ? atoll(n) : 1000);
    if (want > f->data.x.shape[0]) want = f->data.x.shape[0];
    f->examples = want;
    f->data.x.numel = want * foil_dataset_example_size(&f->data);
    f->data.x.shape[0] = want;
    f->data.y.numel = f->data.y.shape[0] = want;
    return 0;
}

void attack_fixture_free(attack_fixture *f)
{
    foil_model_free(f->model);
    foil_dataset_free(&f->data);
}

attack_fixture attack_fixture_head(const attack_fixture *f, int64_t k)
{
    attack_fixture h = *f;
    if (k > f->examples) k = f->examples;
    h.examples = k;
    h.data.x.shape[0] = k;
    h.data.x.numel = k * foil_dataset_example_size(&f->data);
    h.data.y.shape[0] = h.data.y.numel = k;
    return h;
}

foil_threat attack_fixture_threat(const attack_fixture *f, foil_norm norm, float eps)
{
    foil_threat t = {0};
    t.norm = norm;
    t.eps = eps;
    t.lower = foil_f32(&f->data.lower);
    t.upper = foil_f32(&f->data.upper);
    return t;
}

foil_evasion_summary attack_fixture_run(attack_fixture *f, const char *name, const foil_threat *t, const char *params,
                                       foil_evasion_result *keep)
{
    foil_evasion_options opt = {.params = params, .batch = 250, .quiet = 1};
    foil_evasion_result r;
    foil_evasion_summary s;
    foil_status st = foil_evasion_run(name, f->model, &f->data.x, foil_i64(&f->data.y), t, &opt, &r);
    if (st) fail_msg("%s: %s", name, foil_last_error());
    attack_fixture_check_result(f, t, &r);
    foil_evasion_summarize(&r, &s);
    printf("  %-12s %-4s eps %-6g robust %6.2f%%  success %6.2f%%  median norm %.4g  grads/ex %.1f  queries/ex %.1f"
           "  %.2f s\n",
           name, foil_norm_name(t->norm), t->eps, 100 * s.robust_accuracy, 100 * s.success_rate, s.median_norm,
           s.mean_grads, s.mean_queries, s.seconds);
    if (keep) *keep = r;
    else foil_evasion_result_free(&r);
    return s;
}

foil_status attack_fixture_try(attack_fixture *f, const char *name, const foil_threat *t,
                               const foil_evasion_options *opt)
{
    foil_evasion_options quiet = {.quiet = 1};
    foil_evasion_result r;
    foil_status st = foil_evasion_run(name, f->model, &f->data.x, foil_i64(&f->data.y), t, opt ? opt : &quiet, &r);
    if (st) printf("  expected error: %s\n", foil_last_error());
    else foil_evasion_result_free(&r);
    return st;
}

void attack_fixture_check_result(const attack_fixture *f, const foil_threat *t, const foil_evasion_result *r)
{
    int64_t n = r->n, d = foil_dataset_example_size(&f->data);
    const float *x = foil_f32(&f->data.x), *a = foil_f32(&r->adv);
    float *delta = malloc((size_t)d * sizeof *delta);
    assert_non_null(delta);
    for (int64_t i = 0; i < n; i++) {
        float rounding = 0; /* Linf: x + eps rounds by up to an ulp of |x| + eps */
        for (int64_t j = 0; j < d; j++) {
            float edge = fabsf(x[i * d + j]) + t->eps;
            rounding = fmaxf(rounding, nextafterf(edge, INFINITY) - edge);
            float v = a[i * d + j];
            if (!(v >= t->lower[j] && v <= t->upper[j]))
                fail_msg("example %lld feature %lld = %g outside [%g, %g]", (long long)i, (long long)j, v,
                         t->lower[j], t->upper[j]);
            delta[j] = v - x[i * d + j];
            if (!r->attacked[i] && delta[j] != 0) fail_msg("example %lld was not attacked but changed", (long long)i);
        }
        float norm = foil_vec_norm(t->norm, delta, d);
        float slack = t->eps * 1e-5f + 1e-6f + (t->norm == FOIL_NORM_LINF ? rounding : 0);
        if (t->eps > 0 && norm > t->eps + slack)
            fail_msg("example %lld: %s norm %g exceeds eps %g", (long long)i, foil_norm_name(t->norm), norm, t->eps);
        if (fabsf(norm - r->norm[i]) > 1e-4f * (1 + norm))
            fail_msg("example %lld: reported norm %g, actual %g", (long long)i, r->norm[i], norm);
        if (r->success[i] && !r->attacked[i]) fail_msg("example %lld: success without being attacked", (long long)i);
    }
    free(delta);
}
