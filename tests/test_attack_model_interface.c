/*
 * tests/test_attack_model_interface.c - the model interface (foil/model.h)
 * under the attacks: the same trained cnn-small attacked directly and as a
 * black box gives bit-identical adversarial examples and identical query
 * counts for the score- and decision-based attacks; white-box attacks are
 * refused on a black box; a labels-only output refuses score-based attacks
 * and leaves HopSkipJump unchanged; budgets, output modes, the counters
 * (the runner's own predictions included) and a model a program defines
 * with its own operations.
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
#include "foil/defense.h"

static attack_fixture ALL;

/* The first k examples (k / 4 in the sanitizer build). */
static attack_fixture head(int64_t k) { return attack_fixture_head(&ALL, ALL.examples >= 1000 ? k : k / 4); }

/* A second copy of the fixture model, hidden behind black_box. */
static foil_model *black_box_copy(int64_t budget, const char *output_mode)
{
    foil_model *inner, *bb;
    if (foil_model_load(getenv("FOIL_ATTACK_MODEL"), &inner)) fail_msg("%s", foil_last_error());
    foil_output o = {0};
    if (output_mode && foil_output_parse(output_mode, &o)) fail_msg("%s", foil_last_error());
    if (foil_model_black_box(inner, budget, &o, &bb)) fail_msg("%s", foil_last_error());
    return bb;
}

static foil_status run_on(foil_model *m, const attack_fixture *f, const char *name, const foil_threat *t,
                          const char *params, foil_evasion_result *r)
{
    foil_evasion_options opt = {.params = params, .batch = 250, .quiet = 1};
    return foil_evasion_run(name, m, &f->data.x, foil_i64(&f->data.y), t, &opt, r);
}

static void assert_same_results(const char *name, const foil_evasion_result *a, const foil_evasion_result *b)
{
    assert_int_equal(a->n, b->n);
    if (memcmp(a->adv.data, b->adv.data, foil_tensor_nbytes(&a->adv)) != 0)
        fail_msg("%s: adversarial examples differ between the direct and the black-box model", name);
    for (int64_t i = 0; i < a->n; i++) {
        if (a->queries[i] != b->queries[i])
            fail_msg("%s: example %lld: %lld queries directly, %lld as a black box", name, (long long)i,
                     (long long)a->queries[i], (long long)b->queries[i]);
        assert_int_equal(a->success[i], b->success[i]);
        assert_int_equal(a->grads[i], 0);
        assert_int_equal(b->grads[i], 0);
    }
    assert_int_equal(a->model_queries, b->model_queries);
}

/* Every query-based attack, directly and through black_box: same bytes,
 * same counts. */
static void test_black_box_matches_direct(void **state)
{
    (void)state;
    attack_fixture f = head(40);
    foil_threat t = attack_fixture_threat(&f, FOIL_NORM_LINF, 0.1f);
    t.queries = 200;
    t.seed = 7;
    const char *attacks[] = {"square", "simba-pixel", "simba-dct", "nes", "hsj"};
    for (size_t k = 0; k < sizeof attacks / sizeof *attacks; k++) {
        foil_model *bb = black_box_copy(0, NULL);
        foil_evasion_result direct, hidden;
        foil_threat tk = t;
        if (strcmp(attacks[k], "hsj") == 0) tk.steps = 5;
        if (run_on(ALL.model, &f, attacks[k], &tk, NULL, &direct)) fail_msg("%s: %s", attacks[k], foil_last_error());
        if (run_on(bb, &f, attacks[k], &tk, NULL, &hidden)) fail_msg("%s: %s", attacks[k], foil_last_error());
        assert_same_results(attacks[k], &direct, &hidden);
        /* The black box counted every input it evaluated, the runner's
         * clean and final predictions (2 per example) included. */
        int64_t charged = 0;
        for (int64_t i = 0; i < hidden.n; i++) charged += hidden.queries[i];
        assert_int_equal(foil_model_queries(bb), charged + 2 * f.examples);
        assert_int_equal(hidden.model_queries, charged + 2 * f.examples);
        assert_int_equal(foil_model_gradients(bb), 0);
        foil_evasion_result_free(&direct);
        foil_evasion_result_free(&hidden);
        foil_model_free(bb);
    }
}

static void test_white_box_attacks_refused(void **state)
{
    (void)state;
    attack_fixture f = head(8);
    foil_threat t = attack_fixture_threat(&f, FOIL_NORM_LINF, 0.1f);
    foil_model *bb = black_box_copy(0, NULL);
    const char *white[] = {"fgsm", "pgd", "apgd-ce", "cw-l2", "deepfool", "autoattack"};
    for (size_t k = 0; k < sizeof white / sizeof *white; k++) {
        foil_evasion_result r;
        foil_threat tk = t;
        if (strcmp(white[k], "cw-l2") == 0) tk.norm = FOIL_NORM_L2;
        assert_int_equal(run_on(bb, &f, white[k], &tk, NULL, &r), FOIL_ERR_CAPABILITY);
        const char *msg = foil_last_error();
        if (!strstr(msg, "needs input gradients") || !strstr(msg, "black-box") || !strstr(msg, "square"))
            fail_msg("%s: unclear refusal: %s", white[k], msg);
    }
    assert_int_equal(foil_model_queries(bb), 0); /* refused before any query */
    foil_tensor grad = {0};
    assert_int_equal(foil_model_loss_input_grad(bb, &f.data.x, foil_i64(&f.data.y), NULL, NULL, &grad),
                     FOIL_ERR_CAPABILITY);
    foil_tensor_free(&grad);
    foil_model_free(bb);
}

/* Labels only: score-based attacks refused; HopSkipJump, which only ever
 * reads the top label, unchanged to the byte. */
static void test_labels_only(void **state)
{
    (void)state;
    attack_fixture f = head(20);
    foil_threat t = attack_fixture_threat(&f, FOIL_NORM_L2, 0);
    t.queries = 300;
    t.steps = 4;
    t.seed = 3;
    foil_model *bb = black_box_copy(0, "labels");
    assert_false(foil_model_capabilities(bb) & FOIL_MODEL_SCORES);
    foil_evasion_result direct, labels;
    assert_int_equal(run_on(bb, &f, "square", &(foil_threat){.norm = FOIL_NORM_LINF, .eps = 0.1f, .lower = t.lower,
                                                             .upper = t.upper}, NULL, &labels),
                     FOIL_ERR_CAPABILITY);
    assert_non_null(strstr(foil_last_error(), "labels only"));
    if (run_on(ALL.model, &f, "hsj", &t, NULL, &direct) || run_on(bb, &f, "hsj", &t, NULL, &labels))
        fail_msg("hsj: %s", foil_last_error());
    assert_same_results("hsj on labels", &direct, &labels);
    foil_evasion_result_free(&direct);
    foil_evasion_result_free(&labels);
    foil_model_free(bb);
}

/* A probability output keeps the ranking, and a score-based attack still
 * fools the model (it sees log p, which differs from the logits by a
 * per-row constant). */
static void test_probability_outputs(void **state)
{
    (void)state;
    attack_fixture f = head(40);
    foil_threat t = attack_fixture_threat(&f, FOIL_NORM_LINF, 0.1f);
    t.queries = 300;
    const char *modes[] = {"probabilities", "top-k=3", "round=3"};
    for (size_t k = 0; k < sizeof modes / sizeof *modes; k++) {
        foil_model *bb = black_box_copy(0, modes[k]);
        assert_true(foil_model_capabilities(bb) & FOIL_MODEL_PROBABILITIES);
        foil_tensor z = {0}, p = {0};
        if (foil_model_predict(ALL.model, &f.data.x, &z) || foil_model_predict(bb, &f.data.x, &p))
            fail_msg("%s", foil_last_error());
        for (int64_t i = 0; i < f.examples; i++) {
            const float *zi = foil_f32(&z) + i * 10, *pi = foil_f32(&p) + i * 10;
            double sum = 0;
            int64_t nonzero = 0, best_z = 0, best_p = 0;
            for (int c = 0; c < 10; c++) {
                sum += pi[c];
                nonzero += pi[c] != 0;
                if (zi[c] > zi[best_z]) best_z = c;
                if (pi[c] > pi[best_p]) best_p = c;
            }
            if (k < 2) assert_true(best_p == best_z); /* rounding may tie the top two */
            if (k == 0) assert_true(fabs(sum - 1) < 1e-4);
            if (k == 1) assert_true(nonzero <= 3);
            if (k == 2)
                for (int c = 0; c < 10; c++) assert_true(fabsf(pi[c] * 1000 - rintf(pi[c] * 1000)) < 1e-3f);
        }
        foil_evasion_result r;
        if (run_on(bb, &f, "square", &t, NULL, &r)) fail_msg("%s: %s", modes[k], foil_last_error());
        foil_evasion_summary s;
        foil_evasion_summarize(&r, &s);
        if (!(s.success_rate > 0.3))
            fail_msg("square through %s fooled only %.1f%% of the attacked examples", modes[k],
                     100 * s.success_rate);
        foil_evasion_result_free(&r);
        foil_tensor_free(&z);
        foil_tensor_free(&p);
        foil_model_free(bb);
    }
}

static void test_output_modes_exact(void **state)
{
    (void)state;
    foil_output o;
    float z[2][4] = {{1, 3, 2, 3}, {0, 0, 0, 0}};
    assert_int_equal(foil_output_parse("top-k=2", &o), FOIL_OK);
    assert_int_equal(foil_output_apply(&o, FOIL_MODEL_SCORES, &z[0][0], 2, 4, NULL), FOIL_OK);
    /* classes 1 and 3 tie at the top; a uniform row keeps classes 0 and 1 */
    assert_true(z[0][0] == 0 && z[0][2] == 0 && z[0][1] > 0 && z[0][1] == z[0][3]);
    assert_true(z[1][0] == 0.25f && z[1][1] == 0.25f && z[1][2] == 0 && z[1][3] == 0);
    float l[4] = {1, 3, 2, 3};
    assert_int_equal(foil_output_parse("labels", &o), FOIL_OK);
    assert_int_equal(foil_output_apply(&o, FOIL_MODEL_SCORES, l, 1, 4, NULL), FOIL_OK);
    assert_true(l[0] == 0 && l[1] == 1 && l[2] == 0 && l[3] == 0); /* ties: the lower class, as argmax */
    float p[3] = {0.123456f, 0.5f, 0.376544f};
    assert_int_equal(foil_output_parse("round=2", &o), FOIL_OK);
    assert_int_equal(foil_output_apply(&o, FOIL_MODEL_SCORES | FOIL_MODEL_PROBABILITIES, p, 1, 3, NULL), FOIL_OK);
    assert_true(p[0] == 0.12f && p[1] == 0.5f && p[2] == 0.38f); /* already probabilities: no second softmax */
    const char *bad[] = {"top-k=0", "top-k=", "round=9", "round=-1", "logit", "", "labels=1"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        assert_int_equal(foil_output_parse(bad[k], &o), FOIL_ERR_ARG);
        assert_non_null(strstr(foil_last_error(), "top-k=K"));
    }
    char buf[32];
    assert_int_equal(foil_output_parse("top-k=5", &o), FOIL_OK);
    assert_string_equal(foil_output_str(&o, buf, sizeof buf), "top-k=5");
}

/* Reverse sigmoid against the formula of Lee et al. 2019 as ART computes
 * it (values from numpy), and Gaussian noise on the probabilities: rows
 * stay distributions, the caller's seeds make a row's noise repeatable,
 * and without them every query draws afresh. */
static void test_output_postprocessors(void **state)
{
    (void)state;
    foil_output o;
    float p[3] = {0.7f, 0.2f, 0.1f};
    assert_int_equal(foil_output_parse("reverse-sigmoid", &o), FOIL_OK);
    assert_true(o.beta == 1.0f && o.gamma == 0.1f); /* ART's defaults */
    assert_int_equal(foil_output_apply(&o, FOIL_MODEL_SCORES | FOIL_MODEL_PROBABILITIES, p, 1, 3, NULL), FOIL_OK);
    const double want[3] = {0.63552381, 0.21963538, 0.14484081};
    for (int k = 0; k < 3; k++) assert_true(fabs(p[k] - want[k]) < 1e-6);
    float q[3] = {0.7f, 0.2f, 0.1f};
    assert_int_equal(foil_output_parse("reverse-sigmoid=3,0.5", &o), FOIL_OK);
    assert_int_equal(foil_output_apply(&o, FOIL_MODEL_SCORES | FOIL_MODEL_PROBABILITIES, q, 1, 3, NULL), FOIL_OK);
    const double want_big[3] = {0.19976531, 0.36139631, 0.43883838}; /* a large beta reverses the order */
    for (int k = 0; k < 3; k++) assert_true(fabs(q[k] - want_big[k]) < 1e-6);

    assert_int_equal(foil_output_parse("noise=0.2", &o), FOIL_OK);
    assert_true(foil_output_capabilities(&o, FOIL_MODEL_SCORES) & FOIL_MODEL_RANDOMIZED);
    float a[2][4] = {{2, 1, 0, -1}, {2, 1, 0, -1}}, b[2][4];
    memcpy(b, a, sizeof a);
    const uint64_t seeds[2] = {11, 12};
    assert_int_equal(foil_output_apply(&o, FOIL_MODEL_SCORES, &a[0][0], 2, 4, seeds), FOIL_OK);
    assert_int_equal(foil_output_apply(&o, FOIL_MODEL_SCORES, &b[0][0], 2, 4, seeds), FOIL_OK);
    assert_memory_equal(a, b, sizeof a);              /* same seeds, same noise */
    assert_memory_not_equal(a[0], a[1], sizeof a[0]); /* another seed, other noise */
    for (int r = 0; r < 2; r++) {
        double sum = 0;
        for (int k = 0; k < 4; k++) {
            assert_true(a[r][k] >= 0);
            sum += a[r][k];
        }
        assert_true(fabs(sum - 1) < 1e-5);
    }
    float c[4] = {2, 1, 0, -1}, d[4] = {2, 1, 0, -1};
    assert_int_equal(foil_output_apply(&o, FOIL_MODEL_SCORES, c, 1, 4, NULL), FOIL_OK);
    assert_int_equal(foil_output_apply(&o, FOIL_MODEL_SCORES, d, 1, 4, NULL), FOIL_OK);
    assert_memory_not_equal(c, d, sizeof c); /* unseeded queries draw afresh */
    const char *bad[] = {"noise=0", "noise=-1", "noise=x", "reverse-sigmoid=1", "reverse-sigmoid=0,1",
                         "reverse-sigmoid=1,0.1,2"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        assert_int_equal(foil_output_parse(bad[k], &o), FOIL_ERR_ARG);
        assert_non_null(strstr(foil_last_error(), "noise=SCALE"));
    }
}

/* The budget is checked before evaluating: a call that would pass it
 * fails whole and costs nothing. */
static void test_query_budget(void **state)
{
    (void)state;
    attack_fixture f = head(100);
    int64_t n = f.examples;
    foil_model *bb = black_box_copy(n + n / 2, NULL);
    foil_tensor z = {0};
    assert_int_equal(foil_model_predict(bb, &f.data.x, &z), FOIL_OK);
    assert_int_equal(foil_model_predict(bb, &f.data.x, &z), FOIL_ERR_BUDGET);
    assert_non_null(strstr(foil_last_error(), "query budget"));
    assert_int_equal(foil_model_queries(bb), n);
    attack_fixture half = attack_fixture_head(&f, n / 2);
    assert_int_equal(foil_model_predict(bb, &half.data.x, &z), FOIL_ERR_ARG); /* z has n rows: wrong shape */
    foil_tensor_free(&z);
    assert_int_equal(foil_model_predict(bb, &half.data.x, &z), FOIL_OK);
    assert_int_equal(foil_model_queries(bb), n + n / 2);
    /* An attack that runs out of budget fails with the budget's error. */
    foil_threat t = attack_fixture_threat(&f, FOIL_NORM_LINF, 0.1f);
    foil_evasion_result r;
    foil_model *small = black_box_copy(3 * n, NULL);
    assert_int_equal(run_on(small, &f, "square", &t, NULL, &r), FOIL_ERR_BUDGET);
    foil_model_free(small);
    foil_tensor_free(&z);
    foil_model_free(bb);
}

/* Every path that evaluates a model counts: predictions, loss gradients,
 * and a white-box attack's gradients plus the runner's predictions. */
static void test_counters(void **state)
{
    (void)state;
    attack_fixture f = head(20);
    foil_model *m;
    if (foil_model_load(getenv("FOIL_ATTACK_MODEL"), &m)) fail_msg("%s", foil_last_error());
    assert_string_equal(foil_model_kind(m), "onnx");
    assert_int_equal(foil_model_capabilities(m) & FOIL_MODEL_GRADIENTS, FOIL_MODEL_GRADIENTS);
    foil_tensor z = {0}, g = {0};
    assert_int_equal(foil_model_predict(m, &f.data.x, &z), FOIL_OK);
    assert_int_equal(foil_model_loss_input_grad(m, &f.data.x, foil_i64(&f.data.y), NULL, NULL, &g), FOIL_OK);
    assert_int_equal(foil_model_queries(m), 2 * f.examples);
    assert_int_equal(foil_model_gradients(m), f.examples);
    foil_model_reset_counters(m);
    foil_threat t = attack_fixture_threat(&f, FOIL_NORM_LINF, 0.05f);
    t.steps = 5;
    foil_evasion_result r;
    if (run_on(m, &f, "pgd", &t, "early_stop=0", &r)) fail_msg("%s", foil_last_error());
    int64_t q = 0, gr = 0;
    for (int64_t i = 0; i < r.n; i++) {
        q += r.queries[i];
        gr += r.grads[i];
    }
    assert_int_equal(r.model_queries, q + 2 * f.examples);
    assert_int_equal(r.model_grads, gr);
    assert_int_equal(foil_model_gradients(m), gr);
    foil_evasion_result_free(&r);
    foil_tensor_free(&z);
    foil_tensor_free(&g);
    foil_model_free(m);
}

/* ---- a model a program defines: logits = W x over 64 features ---- */

typedef struct linear {
    float w[3][64];
} linear;

static int destroyed;

static foil_status linear_predict(void *state, const foil_tensor *x, const uint64_t *seeds, foil_tensor *scores)
{
    (void)seeds;
    const linear *l = state;
    int64_t n = x->shape[0], shape[2] = {n, 3};
    foil_status st = foil_model_ensure_output("linear", scores, 2, shape, "scores");
    if (st) return st;
    if (x->numel != n * 64) return foil_error(FOIL_ERR_SHAPE, "linear: 64 features per example");
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++) {
            float s = 0;
            for (int j = 0; j < 64; j++) s += l->w[c][j] * foil_f32(x)[i * 64 + j];
            foil_f32(scores)[i * 3 + c] = s;
        }
    return FOIL_OK;
}

static foil_status linear_classes(void *state, int64_t *classes)
{
    (void)state;
    *classes = 3;
    return FOIL_OK;
}

static void linear_destroy(void *state)
{
    destroyed++;
    free(state);
}

static void test_program_defined_model(void **state)
{
    (void)state;
    static const foil_model_ops ops = {.kind = "linear", .predict = linear_predict, .num_classes = linear_classes,
                                       .destroy = linear_destroy};
    linear *l = calloc(1, sizeof *l);
    for (int c = 0; c < 3; c++)
        for (int j = 0; j < 64; j++) l->w[c][j] = (float)(((c + 1) * 37 + j * 11) % 17) / 17.0f - 0.5f;
    foil_model *m;
    int64_t in_shape[2] = {-1, 64};
    foil_model_desc desc = {.name = "linear(64->3)", .capabilities = FOIL_MODEL_SCORES, .input_rank = 2,
                            .input_shape = in_shape};
    assert_int_equal(foil_model_create(&ops, l, &desc, &m), FOIL_OK);
    /* 30 examples of 64 features in [0, 1], labelled by the model itself */
    int64_t xs[2] = {30, 64};
    foil_tensor x = {0}, z = {0};
    assert_int_equal(foil_tensor_alloc(&x, FOIL_F32, 2, xs), FOIL_OK);
    for (int64_t i = 0; i < x.numel; i++) foil_f32(&x)[i] = (float)((i * 7919) % 101) / 100.0f;
    assert_int_equal(foil_model_predict(m, &x, &z), FOIL_OK);
    int64_t y[30];
    for (int i = 0; i < 30; i++) {
        const float *zi = foil_f32(&z) + i * 3;
        y[i] = zi[0] >= zi[1] && zi[0] >= zi[2] ? 0 : zi[1] >= zi[2] ? 1 : 2;
    }
    float lo[64], hi[64];
    for (int j = 0; j < 64; j++) lo[j] = 0, hi[j] = 1;
    foil_threat t = {.norm = FOIL_NORM_LINF, .eps = 0.3f, .lower = lo, .upper = hi, .queries = 500, .seed = 1};
    foil_evasion_options opt = {.quiet = 1};
    foil_evasion_result r;
    assert_int_equal(foil_evasion_run("pgd", m, &x, y, &t, &opt, &r), FOIL_ERR_CAPABILITY);
    assert_int_equal(foil_evasion_run("simba-pixel", m, &x, y, &t, &opt, &r), FOIL_OK);
    foil_evasion_summary s;
    foil_evasion_summarize(&r, &s);
    assert_int_equal(s.attacked, 30);
    assert_true(s.fooled > 0);
    foil_evasion_result_free(&r);
    foil_tensor_free(&x);
    foil_tensor_free(&z);
    foil_model_free(m);
    assert_int_equal(destroyed, 1);
    /* GRADIENTS without an input_grad operation is refused, and the state
     * is still freed. */
    l = calloc(1, sizeof *l);
    desc.capabilities |= FOIL_MODEL_GRADIENTS;
    assert_int_equal(foil_model_create(&ops, l, &desc, &m), FOIL_ERR_ARG);
    assert_null(m);
    assert_int_equal(destroyed, 2);
}

/* A copy of the fixture model behind bit-depth reduction to `bits`. */
static foil_model *squeezed_copy(int bits, foil_gradient_mode mode)
{
    foil_model *inner, *m;
    foil_preprocessor p;
    if (foil_model_load(getenv("FOIL_ATTACK_MODEL"), &inner) || foil_preprocessor_bit_depth(bits, 0, 1, &p) ||
        foil_model_defended(inner, &p, 1, NULL, mode, &m))
        fail_msg("%s", foil_last_error());
    return m;
}

static double zero_rows(const foil_tensor *g)
{
    int64_t n = g->shape[0], d = g->numel / n, zero = 0;
    for (int64_t i = 0; i < n; i++) {
        int all = 1;
        for (int64_t j = 0; j < d && all; j++) all = foil_f32(g)[i * d + j] == 0;
        zero += all;
    }
    return (double)zero / (double)n;
}

/* A non-differentiable preprocessor: through its exact derivative the
 * gradient is zero, PGD stalls and the runner says so; through BPDA the
 * gradient is that of the model at the squeezed input, and PGD breaks the
 * defense. */
static void test_bpda_through_quantizer(void **state)
{
    (void)state;
    attack_fixture f = head(200);
    foil_model *exact = squeezed_copy(3, FOIL_GRADIENT_EXACT), *bpda = squeezed_copy(3, FOIL_GRADIENT_BPDA);
    assert_string_equal(foil_model_kind(exact), "defended");
    assert_non_null(strstr(foil_model_name(exact), "bit-depth(3)"));
    foil_tensor g_exact = {0}, g_bpda = {0}, z_exact = {0}, z_bpda = {0};
    if (foil_model_loss_input_grad(exact, &f.data.x, foil_i64(&f.data.y), NULL, &z_exact, &g_exact) ||
        foil_model_loss_input_grad(bpda, &f.data.x, foil_i64(&f.data.y), NULL, &z_bpda, &g_bpda))
        fail_msg("%s", foil_last_error());
    assert_memory_equal(z_exact.data, z_bpda.data, foil_tensor_nbytes(&z_exact)); /* same forward pass */
    assert_true(zero_rows(&g_exact) == 1.0);
    if (!(zero_rows(&g_bpda) < 0.05)) fail_msg("BPDA gradients zero on %.1f%% of examples", 100 * zero_rows(&g_bpda));
    /* BPDA's gradient is the model's gradient at the squeezed input. */
    foil_model *plain;
    foil_preprocessor p;
    if (foil_model_load(getenv("FOIL_ATTACK_MODEL"), &plain) || foil_preprocessor_bit_depth(3, 0, 1, &p))
        fail_msg("%s", foil_last_error());
    foil_tensor squeezed = {0}, g_plain = {0};
    assert_int_equal(foil_tensor_copy(&squeezed, &f.data.x), FOIL_OK);
    p.forward(p.ctx, foil_f32(&f.data.x), foil_f32(&squeezed), f.examples, squeezed.numel / f.examples, NULL);
    p.destroy(p.ctx);
    if (foil_model_loss_input_grad(plain, &squeezed, foil_i64(&f.data.y), NULL, NULL, &g_plain))
        fail_msg("%s", foil_last_error());
    assert_memory_equal(g_plain.data, g_bpda.data, foil_tensor_nbytes(&g_plain));

    foil_threat t = attack_fixture_threat(&f, FOIL_NORM_LINF, 0.1f);
    t.steps = 20;
    foil_evasion_result r_exact, r_bpda;
    if (run_on(exact, &f, "pgd", &t, NULL, &r_exact) || run_on(bpda, &f, "pgd", &t, NULL, &r_bpda))
        fail_msg("%s", foil_last_error());
    foil_evasion_summary s_exact, s_bpda;
    foil_evasion_summarize(&r_exact, &s_exact);
    foil_evasion_summarize(&r_bpda, &s_bpda);
    printf("bit-depth(3), PGD-20 Linf 0.1: clean %.1f%%, robust %.1f%% through the exact gradient (%.0f%% zero), "
           "%.1f%% through BPDA\n", 100 * s_exact.clean_accuracy, 100 * s_exact.robust_accuracy,
           100 * s_exact.zero_gradient_fraction, 100 * s_bpda.robust_accuracy);
    assert_true(s_exact.zero_gradient_fraction == 1.0);
    assert_non_null(strstr(r_exact.warnings, "zero"));
    assert_true(s_bpda.zero_gradient_fraction < 0.05);
    if (!(s_bpda.robust_accuracy < s_exact.robust_accuracy - 0.3))
        fail_msg("BPDA PGD left %.1f%% robust, the exact-gradient PGD %.1f%%", 100 * s_bpda.robust_accuracy,
                 100 * s_exact.robust_accuracy);
    foil_evasion_result_free(&r_exact);
    foil_evasion_result_free(&r_bpda);
    foil_tensor_free(&g_exact);
    foil_tensor_free(&g_bpda);
    foil_tensor_free(&z_exact);
    foil_tensor_free(&z_bpda);
    foil_tensor_free(&squeezed);
    foil_tensor_free(&g_plain);
    foil_model_free(plain);
    foil_model_free(exact);
    foil_model_free(bpda);
}

/* The fixture model behind Gaussian noise (sigma 0.3), seen through EOT
 * with `draws` draws; *noisy receives the defended model inside (owned by
 * the EOT model) to read its counter. */
static foil_model *eot_copy(int draws, uint64_t seed, foil_model **noisy)
{
    foil_model *inner, *m;
    foil_preprocessor p;
    if (foil_model_load(getenv("FOIL_ATTACK_MODEL"), &inner) || foil_preprocessor_gaussian_noise(0.3f, 11, &p) ||
        foil_model_defended(inner, &p, 1, NULL, FOIL_GRADIENT_EXACT, noisy) ||
        foil_model_eot(*noisy, draws, seed, &m))
        fail_msg("%s", foil_last_error());
    return m;
}

/* Mean over examples of the cosine between two gradients of each. */
static double mean_cosine(const foil_tensor *a, const foil_tensor *b)
{
    int64_t n = a->shape[0], d = a->numel / n;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        double ab = 0, aa = 0, bb = 0;
        for (int64_t j = 0; j < d; j++) {
            double u = foil_f32(a)[i * d + j], v = foil_f32(b)[i * d + j];
            ab += u * v, aa += u * u, bb += v * v;
        }
        sum += aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
    }
    return sum / (double)n;
}

/* EOT over a randomized defense: the draws differ between queries, the
 * averaged gradient is far steadier than one draw's, an attack's result
 * does not depend on its batch size, and each input costs the model inside
 * `draws` queries. */
static void test_eot_over_noise(void **state)
{
    (void)state;
    attack_fixture f = head(40);
    foil_model *noisy, *one = eot_copy(1, 5, &noisy), *noisy16, *many = eot_copy(16, 5, &noisy16);
    assert_true(foil_model_capabilities(one) & FOIL_MODEL_RANDOMIZED);
    assert_true(foil_model_capabilities(many) & FOIL_MODEL_PROBABILITIES);
    assert_string_equal(foil_model_kind(many), "eot");
    foil_tensor p1 = {0}, p2 = {0};
    if (foil_model_predict(one, &f.data.x, &p1) || foil_model_predict(one, &f.data.x, &p2))
        fail_msg("%s", foil_last_error());
    assert_true(memcmp(p1.data, p2.data, foil_tensor_nbytes(&p1)) != 0); /* fresh noise on every query */
    foil_tensor ga = {0}, gb = {0}, ha = {0}, hb = {0};
    const int64_t *y = foil_i64(&f.data.y);
    if (foil_model_loss_input_grad(one, &f.data.x, y, NULL, NULL, &ga) ||
        foil_model_loss_input_grad(one, &f.data.x, y, NULL, NULL, &gb) ||
        foil_model_loss_input_grad(many, &f.data.x, y, NULL, NULL, &ha) ||
        foil_model_loss_input_grad(many, &f.data.x, y, NULL, NULL, &hb))
        fail_msg("%s", foil_last_error());
    double c1 = mean_cosine(&ga, &gb), c16 = mean_cosine(&ha, &hb);
    printf("gaussian-noise(0.3): mean cosine between two gradients: one draw %.3f, EOT-16 %.3f\n", c1, c16);
    if (!(c16 > c1 + 0.2 && c16 > 0.5)) fail_msg("EOT-16 gradients not steadier: cosine %.3f vs %.3f", c16, c1);
    assert_int_equal(foil_model_queries(noisy16), 16 * foil_model_queries(many));
    foil_tensor_free(&p1), foil_tensor_free(&p2), foil_tensor_free(&ga), foil_tensor_free(&gb);
    foil_tensor_free(&ha), foil_tensor_free(&hb);
    foil_model_free(one);
    foil_model_free(many);

    /* Batch size does not change an attack on a randomized model. */
    foil_threat t = attack_fixture_threat(&f, FOIL_NORM_LINF, 0.1f);
    t.steps = 5;
    t.seed = 9;
    foil_evasion_result r[2];
    const int64_t batches[2] = {250, 7};
    for (int k = 0; k < 2; k++) {
        foil_model *m = eot_copy(4, 5, &noisy);
        foil_evasion_options opt = {.params = "early_stop=0", .batch = batches[k], .quiet = 1};
        if (foil_evasion_run("pgd", m, &f.data.x, y, &t, &opt, &r[k])) fail_msg("%s", foil_last_error());
        foil_model_free(m);
    }
    assert_memory_equal(r[0].adv.data, r[1].adv.data, foil_tensor_nbytes(&r[0].adv));
    foil_evasion_result_free(&r[0]);
    foil_evasion_result_free(&r[1]);
}

/* What needs an ONNX graph says so instead of misbehaving on a wrapper. */
static void test_graph_only_operations(void **state)
{
    (void)state;
    foil_model *bb = black_box_copy(0, NULL);
    assert_int_equal(foil_model_save(bb, "/tmp/foil_should_not_exist.onnx"), FOIL_ERR_CAPABILITY);
    assert_non_null(strstr(foil_last_error(), "ONNX graph"));
    float mean = 0.5f, std = 0.25f;
    assert_int_equal(foil_model_normalize(bb, 1, &mean, 1, &std), FOIL_ERR_CAPABILITY);
    foil_model_free(bb);
}

int main(void)
{
    int rc = attack_fixture_load(&ALL, 0);
    if (rc) return rc;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_black_box_matches_direct), cmocka_unit_test(test_white_box_attacks_refused),
        cmocka_unit_test(test_labels_only),             cmocka_unit_test(test_probability_outputs),
        cmocka_unit_test(test_output_modes_exact),      cmocka_unit_test(test_output_postprocessors),
        cmocka_unit_test(test_query_budget),
        cmocka_unit_test(test_counters),                cmocka_unit_test(test_program_defined_model),
        cmocka_unit_test(test_graph_only_operations),   cmocka_unit_test(test_bpda_through_quantizer),
        cmocka_unit_test(test_eot_over_noise),
    };
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    attack_fixture_free(&ALL);
    return rc;
}
