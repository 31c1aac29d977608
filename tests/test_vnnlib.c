/*
 * tests/test_vnnlib.c - VNN-LIB properties (foil/vnnlib.h): the parser on
 * valid files (spec rows, disjunctive normal form, the two boxes' rounding)
 * and on malformed ones (exact messages with the line); the verifier on
 * properties whose answer is known (a net with a provably true property, a
 * net with an easy counterexample) and on random small MLPs, where every
 * "verified" is attacked (foil's PGD and a dense grid of the 2-D box) and
 * every "falsified" counterexample is checked again.
 * The VNN-COMP files under ../shared/data are parsed by test_vnnlib_cli.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "foil/arch.h"
#include "foil/evasion.h"
#include "foil/rng.h"
#include "foil/vnnlib.h"
#include "model/model_internal.h"
#include "nn/builder.h"
#include "verify/verify_internal.h"

static foil_vnnlib *parse_ok(const char *text)
{
    foil_vnnlib *p = NULL;
    foil_status st = foil_vnnlib_parse(text, strlen(text), "t.vnnlib", &p);
    if (st) fprintf(stderr, "%s\n", foil_last_error());
    assert_int_equal(st, FOIL_OK);
    return p;
}

#define DECL2 "(declare-const X_0 Real)\n(declare-const X_1 Real)\n"
#define DECL3Y "(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n(declare-const Y_2 Real)\n"
#define BOX2 "(assert (<= X_0 1))\n(assert (>= X_0 -1))\n(assert (and (>= 0.5 X_1) (<= 0.1 X_1)))\n"

static void test_parse_valid(void **state)
{
    (void)state;
    foil_vnnlib *p = parse_ok("; a comment (with parentheses\n" DECL2 DECL3Y BOX2
                              "(assert (or (and (<= Y_0 Y_1) (>= Y_2 0.5)) (<= Y_1 -1e0)))\n"
                              "(assert (<= Y_0 3))  ; trailing\n");
    assert_int_equal(p->n_inputs, 2);
    assert_int_equal(p->n_outputs, 3);
    assert_true(p->lo[0] == -1 && p->hi[0] == 1 && p->lo_in[0] == -1 && p->hi_in[0] == 1);
    /* 0.1 and 0.5: 0.5 is a float, 0.1 is not: the outward box is wider */
    assert_true(p->hi[1] == 0.5f && p->hi_in[1] == 0.5f);
    assert_true(p->lo[1] < p->lo_in[1] && (double)p->lo[1] < 0.1 && (double)p->lo_in[1] > 0.1);
    assert_true(nextafterf(p->lo[1], 1) == p->lo_in[1]);
    /* (A or B) and C = (A and C) or (B and C); A has two rows */
    assert_int_equal(p->n_disjuncts, 2);
    assert_int_equal(p->n_rows, 5);
    assert_true(p->first[0] == 0 && p->first[1] == 3 && p->first[2] == 5);
    const double want[5][3] = {{1, -1, 0}, {0, 0, -1}, {1, 0, 0}, {0, 1, 0}, {1, 0, 0}};
    const double d[5] = {0, -0.5, 3, -1, 3};
    for (int r = 0; r < 5; r++) {
        for (int j = 0; j < 3; j++) assert_true(p->C[r * 3 + j] == want[r][j]);
        assert_true(p->d_lo[r] == d[r] && p->d_hi[r] == d[r]);
    }
    /* the unsafe check */
    assert_int_equal(foil_vnnlib_unsafe(p, (float[]){0, 1, 0.6f}), 0);
    assert_int_equal(foil_vnnlib_unsafe(p, (float[]){2, 1, 0.5f}), -1);
    assert_int_equal(foil_vnnlib_unsafe(p, (float[]){2, -1.5f, 0.6f}), 1);
    assert_int_equal(foil_vnnlib_unsafe(p, (float[]){4, -1.5f, 0.6f}), -1);
    foil_vnnlib_free(p);

    /* an inexact constant in an output row: d rounded both ways */
    p = parse_ok(DECL2 "(declare-const Y_0 Real)\n" BOX2 "(assert (>= Y_0 0.1))\n");
    assert_true(p->d_lo[0] < -0.1 && p->d_hi[0] > -0.1 && p->d_lo[0] < p->d_hi[0]);
    foil_vnnlib_free(p);
}

static void expect_error(const char *text, foil_status code, const char *message)
{
    foil_vnnlib *p = NULL;
    foil_status st = foil_vnnlib_parse(text, strlen(text), "t.vnnlib", &p);
    if (st != code || strcmp(foil_last_error(), message) != 0)
        fprintf(stderr, "for:\n%s\nwant %d '%s'\ngot  %d '%s'\n", text, (int)code, message, (int)st, foil_last_error());
    assert_int_equal(st, code);
    assert_string_equal(foil_last_error(), message);
    assert_null(p);
}

static void test_parse_errors(void **state)
{
    (void)state;
    const foil_status F = FOIL_ERR_FORMAT, U = FOIL_ERR_UNSUPPORTED;
    expect_error(DECL2 "(assert (<= X_0 1)", F, "t.vnnlib:3: '(' is never closed");
    expect_error(DECL2 ")", F, "t.vnnlib:3: unexpected ')'");
    expect_error("(declare-const X_0 Int)", U, "t.vnnlib:1: variable sort 'Int': only Real is supported");
    expect_error("(declare-const Z Real)", U,
                 "t.vnnlib:1: variable 'Z': names must be X_<index> (inputs) or Y_<index> (outputs)");
    expect_error("(declare-const X_01 Real)", U,
                 "t.vnnlib:1: variable 'X_01': names must be X_<index> (inputs) or Y_<index> (outputs)");
    expect_error("(declare-const X_99999999999 Real)", U,
                 "t.vnnlib:1: variable 'X_99999999999': index too large (at most 2^24 variables)");
    expect_error(DECL2 "\n(declare-const X_1 Real)", F, "t.vnnlib:4: 'X_1' is declared twice");
    expect_error("(declare-const X_1000 Real)", F,
                 "t.vnnlib:1: variable 'X_1000': the file is too short to declare every variable below it");
    expect_error(DECL2 "(assert (<= X_2 1))", F, "t.vnnlib:3: 'X_2' is not declared");
    expect_error(DECL2 "(assert (< X_0 1))", U, "t.vnnlib:3: operator '<' is not supported (<=, >=, and, or)");
    expect_error(DECL2 "(assert (<= X_0 1 2))", U, "t.vnnlib:3: '<=' takes exactly two operands here");
    expect_error(DECL2 "(assert (<= X_0 1e999))", F, "t.vnnlib:3: constant '1e999' is out of float range");
    expect_error(DECL2 "(assert (<= X_0 0x10))", F,
                 "t.vnnlib:3: '0x10' is neither a declared variable nor a decimal constant");
    expect_error(DECL2 "(assert (<= X_0 X_1))", U,
                 "t.vnnlib:3: a comparison between two inputs is not supported (only bounds on each X_i)");
    expect_error(DECL2 DECL3Y "(assert (<= X_0 Y_1))", U,
                 "t.vnnlib:6: a comparison between an input (X) and an output (Y) is not supported");
    expect_error(DECL2 "(assert (or (<= X_0 1) (>= X_0 0)))", U,
                 "t.vnnlib:3: input (X) constraints inside (or ...) are not supported; the inputs must form one box");
    expect_error(DECL2 DECL3Y "(assert (<= 1 2))", U, "t.vnnlib:6: a formula over constants only is not supported");
    expect_error(DECL2 "(check-sat)", U, "t.vnnlib:3: command 'check-sat' is not supported (declare-const, assert)");
    expect_error(DECL2 "(assert \"x\")", U, "t.vnnlib:3: quoted symbols and strings are not supported");
    expect_error(DECL2 "(assert (or))", F, "t.vnnlib:3: 'or' needs at least one operand");
    expect_error(DECL2 "\x01", F, "t.vnnlib:3: unexpected byte 0x01");
    expect_error("", F, "t.vnnlib: no inputs declared (declare-const X_0 Real ...)");
    expect_error(DECL2, F, "t.vnnlib: no outputs declared (declare-const Y_0 Real ...)");
    expect_error("(declare-const X_1 Real)(declare-const Y_0 Real)", F,
                 "t.vnnlib: X_0 is not declared but X_1 is (inputs are X_0 .. X_n-1)");
    expect_error(DECL2 "(declare-const Y_0 Real)(assert (<= X_0 1))", F,
                 "t.vnnlib: input X_0 has no lower bound (every input needs (>= X_i lo) and (<= X_i hi))");
    expect_error(DECL2 "(declare-const Y_0 Real)" BOX2 "(assert (<= X_0 -2))", F,
                 "t.vnnlib: input X_0: the box is empty (lower -1 > upper -2)");
    expect_error(DECL2 "(declare-const Y_0 Real)" BOX2, F,
                 "t.vnnlib: no output constraint (an assert over Y) describes the unsafe region");
    /* nesting and normal-form limits */
    char deep[1024] = DECL2 "(assert ";
    for (int i = 0; i < 120; i++) strcat(deep, "(");
    expect_error(deep, F, "t.vnnlib:3: nesting deeper than 100 levels");
    char *big = malloc(1 << 16);
    strcpy(big, DECL2 "(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n");
    for (int i = 0; i < 17; i++) strcat(big, "(assert (or (<= Y_0 Y_1) (>= Y_0 Y_1)))\n");
    expect_error(big, U, "t.vnnlib:21: the output formula has more than 65536 disjuncts in normal form");
    free(big);
}

/* ---- the verifier ---- */

/* y0 = relu(x0) + relu(-x0) = |x0|, y1 = 0.5, over x in [-1, 1]^2. */
static foil_model *abs_net(void)
{
    FoilBuilder b;
    assert_int_equal(foilBuilderBegin(&b, "abs", 13), FOIL_OK);
    static float w1[2 * 2] = {1, 0, -1, 0}, w2[2 * 2] = {1, 1, 0, 0}, b2[2] = {0, 0.5f};
    int x = foilBuilderInput(&b, "x", FOIL_F32, 2, (int64_t[]){-1, 2}, NULL);
    int w1v = foilBuilderParam(&b, "w1", 2, (int64_t[]){2, 2}, w1);
    int w2v = foilBuilderParam(&b, "w2", 2, (int64_t[]){2, 2}, w2);
    int b2v = foilBuilderParam(&b, "b2", 1, (int64_t[]){2}, b2);
    int h = foilBuilderOp(&b, "Gemm", "fc1", FOIL_B_IN(x, w1v), FOIL_B_ATTRS(FOIL_BATTR_INT("transB", 1)));
    int r = foilBuilderOp(&b, "Relu", "relu", FOIL_B_IN(h), FOIL_B_NO_ATTRS);
    int y = foilBuilderOp(&b, "Gemm", "fc2", FOIL_B_IN(r, w2v, b2v), FOIL_B_ATTRS(FOIL_BATTR_INT("transB", 1)));
    foilBuilderOutput(&b, y, FOIL_F32, 2, (int64_t[]){-1, 2}, NULL);
    FoilGraph *g;
    assert_int_equal(foilBuilderFinish(&b, &g), FOIL_OK);
    foil_model *m;
    assert_int_equal(foilModelFromGraph(g, &m), FOIL_OK);
    return m;
}

static foil_vnnlib_answer decide(foil_model *m, const char *text, foil_vnnlib_result *r, double timeout)
{
    foil_vnnlib *p = parse_ok(text);
    foil_vnnlib_options o = {.timeout = timeout, .quiet = 1, .seed = 1};
    foil_status st = foil_vnnlib_verify(m, p, &o, r);
    if (st) fprintf(stderr, "%s\n", foil_last_error());
    assert_int_equal(st, FOIL_OK);
    if (r->answer == FOIL_VNNLIB_FALSIFIED) {
        for (int64_t j = 0; j < p->n_inputs; j++) assert_true(r->x[j] >= p->lo_in[j] && r->x[j] <= p->hi_in[j]);
        assert_true(foil_vnnlib_unsafe(p, r->y) >= 0);
    }
    foil_vnnlib_free(p);
    return r->answer;
}

#define ABS_BOX DECL2 "(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n" \
    "(assert (<= X_0 1))(assert (>= X_0 -1))(assert (<= X_1 1))(assert (>= X_1 -1))\n"

static void test_known_answers(void **state)
{
    (void)state;
    foil_model *m = abs_net();
    foil_vnnlib_result r;
    /* |x0| >= 1.5 is unreachable: CROWN's upper line of each relu gives |x0| <= 1 */
    assert_int_equal(decide(m, ABS_BOX "(assert (>= Y_0 1.5))", &r, 5), FOIL_VNNLIB_VERIFIED);
    foil_vnnlib_result_free(&r);
    /* |x0| <= 0.2 (or y0 below y1 = 0.5) is reachable near x0 = 0 */
    assert_int_equal(decide(m, ABS_BOX "(assert (or (<= Y_0 0.2) (and (<= Y_0 Y_1) (>= Y_0 0.45))))", &r, 5),
                     FOIL_VNNLIB_FALSIFIED);
    assert_true(fabsf(r.x[0]) <= 0.2f || (fabsf(r.x[0]) >= 0.45f && fabsf(r.x[0]) <= 0.5f));
    foil_vnnlib_result_free(&r);
    /* a hair's margin: |x0| >= 1 + 1e-7 is unreachable in exact arithmetic,
     * but within the forward pass's rounding: unknown, never verified */
    assert_int_equal(decide(m, ABS_BOX "(assert (>= Y_0 1.0000001))", &r, 1), FOIL_VNNLIB_UNKNOWN);
    foil_vnnlib_result_free(&r);
    foil_model_free(m);
}

/* Random 2-16-12-3 MLPs, robustness of the centre's class over boxes of
 * several widths. */
static void test_random_mlps(void **state)
{
    (void)state;
    int counts[3] = {0, 0, 0};
    for (uint64_t seed = 1; seed <= 20; seed++) {
        foil_arch_spec s;
        memset(&s, 0, sizeof s);
        static const int64_t hidden[2] = {16, 12};
        s.name = "mlp", s.input_rank = 2, s.input_shape[0] = 2, s.classes = 3, s.seed = seed;
        s.hidden = hidden, s.n_hidden = 2;
        foil_model *m = NULL;
        assert_int_equal(foil_arch_build(&s, &m), FOIL_OK);
        float c[2] = {(float)(seed % 5) * 0.3f - 0.6f, (float)(seed % 3) * 0.4f - 0.4f};
        const float eps = (float[]){0.1f, 1.0f, 3.0f, 6.0f}[seed % 4];
        foil_tensor xt = {0}, y = {0};
        foil_tensor_set_shape(&xt, FOIL_F32, 2, (int64_t[]){1, 2});
        xt.data = c;
        assert_int_equal(foil_model_predict(m, &xt, &y), FOIL_OK);
        int64_t label = 0;
        for (int j = 1; j < 3; j++) label = foil_f32(&y)[j] > foil_f32(&y)[label] ? j : label;
        foil_tensor_free(&y);
        float lo[2] = {c[0] - eps, c[1] - eps}, hi[2] = {c[0] + eps, c[1] + eps};
        char text[2048];
        int n = snprintf(text, sizeof text, DECL2 DECL3Y);
        for (int j = 0; j < 2; j++)
            n += snprintf(text + n, sizeof text - (size_t)n, "(assert (>= X_%d %.9g))(assert (<= X_%d %.9g))\n", j,
                          (double)lo[j], j, (double)hi[j]);
        n += snprintf(text + n, sizeof text - (size_t)n, "(assert (or");
        for (int j = 0; j < 3; j++)
            if (j != label) n += snprintf(text + n, sizeof text - (size_t)n, " (and (>= Y_%d Y_%lld))", j, (long long)label);
        snprintf(text + n, sizeof text - (size_t)n, "))\n");
        foil_vnnlib_result r;
        foil_vnnlib_answer a = decide(m, text, &r, 1.5);
        counts[a]++;
        foil_vnnlib_result_free(&r);
        if (a != FOIL_VNNLIB_VERIFIED) {
            foil_model_free(m);
            continue;
        }
        /* a verified property: no grid point and no PGD point breaks it */
        foil_vnnlib *p = parse_ok(text);
        enum { G = 101 };
        foil_tensor grid = {0}, out = {0};
        assert_int_equal(foil_tensor_alloc(&grid, FOIL_F32, 2, (int64_t[]){G * G, 2}), FOIL_OK);
        for (int i = 0; i < G; i++)
            for (int k = 0; k < G; k++) {
                foil_f32(&grid)[(i * G + k) * 2] = p->lo_in[0] + (p->hi_in[0] - p->lo_in[0]) * (float)i / (G - 1);
                foil_f32(&grid)[(i * G + k) * 2 + 1] = p->lo_in[1] + (p->hi_in[1] - p->lo_in[1]) * (float)k / (G - 1);
            }
        assert_int_equal(foil_model_predict(m, &grid, &out), FOIL_OK);
        for (int64_t i = 0; i < G * G; i++) assert_int_equal(foil_vnnlib_unsafe(p, foil_f32(&out) + i * 3), -1);
        foil_threat t = {.norm = FOIL_NORM_LINF, .eps = eps * 0.999f, .lower = lo, .upper = hi, .steps = 50,
                         .restarts = 5, .seed = seed};
        foil_evasion_options eo = {.quiet = 1};
        foil_evasion_result er = {0};
        assert_int_equal(foil_evasion_run("pgd", m, &xt, &label, &t, &eo, &er), FOIL_OK);
        assert_int_equal(er.success[0], 0);
        foil_evasion_result_free(&er);
        foil_tensor_free(&grid), foil_tensor_free(&out);
        foil_vnnlib_free(p);
        foil_model_free(m);
    }
    printf("  random MLPs: %d verified, %d falsified, %d unknown\n", counts[1], counts[2], counts[0]);
    assert_true(counts[1] >= 2 && counts[2] >= 2);
}

/* Branch and bound's bounds under ReLU splits (foilBoundsSplitCompute),
 * on 2-8-6-3 MLPs evaluated here in double: at every sampled point of the
 * box that satisfies the splits (uniform points and corners), each spec
 * row is at least its lower bound; an empty subdomain has no such point. */
enum { NI = 2, H1 = 8, H2 = 6, NO = 3 };
typedef struct SmallNet {
    float w1[H1 * NI], b1[H1], w2[H2 * H1], b2[H2], w3[NO * H2], b3[NO];
} SmallNet;

static foil_model *small_net(const SmallNet *n)
{
    FoilBuilder b;
    assert_int_equal(foilBuilderBegin(&b, "small", 13), FOIL_OK);
    int x = foilBuilderInput(&b, "x", FOIL_F32, 2, (int64_t[]){-1, NI}, NULL);
    int v = x;
    const float *w[3] = {n->w1, n->w2, n->w3}, *bias[3] = {n->b1, n->b2, n->b3};
    const int64_t rows[3] = {H1, H2, NO}, cols[3] = {NI, H1, H2};
    for (int l = 0; l < 3; l++) {
        char wn[8], bn[8], fc[8], rn[8];
        snprintf(wn, sizeof wn, "w%d", l), snprintf(bn, sizeof bn, "b%d", l);
        snprintf(fc, sizeof fc, "fc%d", l), snprintf(rn, sizeof rn, "relu%d", l);
        int wv = foilBuilderParam(&b, wn, 2, (int64_t[]){rows[l], cols[l]}, w[l]);
        int bv = foilBuilderParam(&b, bn, 1, (int64_t[]){rows[l]}, bias[l]);
        v = foilBuilderOp(&b, "Gemm", fc, FOIL_B_IN(v, wv, bv), FOIL_B_ATTRS(FOIL_BATTR_INT("transB", 1)));
        if (l < 2) v = foilBuilderOp(&b, "Relu", rn, FOIL_B_IN(v), FOIL_B_NO_ATTRS);
    }
    foilBuilderOutput(&b, v, FOIL_F32, 2, (int64_t[]){-1, NO}, NULL);
    FoilGraph *g;
    assert_int_equal(foilBuilderFinish(&b, &g), FOIL_OK);
    foil_model *m;
    assert_int_equal(foilModelFromGraph(g, &m), FOIL_OK);
    return m;
}

static void small_forward(const SmallNet *n, const double *x, double *z1, double *z2, double *y)
{
    double h1[H1], h2[H2];
    for (int i = 0; i < H1; i++) {
        z1[i] = n->b1[i];
        for (int j = 0; j < NI; j++) z1[i] += (double)n->w1[i * NI + j] * x[j];
        h1[i] = z1[i] > 0 ? z1[i] : 0;
    }
    for (int i = 0; i < H2; i++) {
        z2[i] = n->b2[i];
        for (int j = 0; j < H1; j++) z2[i] += (double)n->w2[i * H1 + j] * h1[j];
        h2[i] = z2[i] > 0 ? z2[i] : 0;
    }
    for (int i = 0; i < NO; i++) {
        y[i] = n->b3[i];
        for (int j = 0; j < H2; j++) y[i] += (double)n->w3[i * H2 + j] * h2[j];
    }
}

static void test_split_bounds_sound(void **state)
{
    (void)state;
    int in_domain = 0, empties = 0, tighter = 0, looser = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        foil_rng rng = foil_rng_make(seed, 7);
        SmallNet n;
        float *all = (float *)&n;
        for (size_t i = 0; i < sizeof n / sizeof(float); i++) all[i] = foil_rng_uniform(&rng) * 2 - 1;
        foil_model *m = small_net(&n);
        foil_verifier *v;
        assert_int_equal(foil_verify_new(m, 1, (int64_t[]){NI}, &v), FOIL_OK);
        /* the two Relu inputs' slots */
        int64_t off[2] = {-1, -1};
        for (int l = 0, r = 0; l < v->n_layers; l++)
            if (v->layers[l].kind == FOIL_BL_RELU) off[r++] = v->slots[v->layers[l].in[0]].off;
        assert_true(off[0] >= 0 && off[1] >= 0);
        float lo[NI], hi[NI];
        for (int j = 0; j < NI; j++) {
            float c = foil_rng_uniform(&rng) * 2 - 1, e = foil_rng_uniform(&rng) * 0.8f + 0.05f;
            lo[j] = c - e, hi[j] = c + e;
        }
        /* splits that a random point of the box satisfies (1 in 4: random
         * sides, often contradictory) */
        FoilBoundsSplit splits[5];
        int64_t ns = 1 + (int64_t)(seed % 5);
        double x0[NI], z10[H1], z20[H2], y0[NO];
        for (int j = 0; j < NI; j++) x0[j] = lo[j] + foil_rng_uniform(&rng) * ((double)hi[j] - lo[j]);
        small_forward(&n, x0, z10, z20, y0);
        for (int64_t t = 0; t < ns; t++) {
            int layer = (int)(foil_rng_uniform(&rng) * 2) & 1;
            int64_t neuron = (int64_t)(foil_rng_uniform(&rng) * (layer ? H2 : H1)) % (layer ? H2 : H1);
            double z = layer ? z20[neuron] : z10[neuron];
            int active = seed % 4 == 0 ? foil_rng_uniform(&rng) < 0.5f : z >= 0;
            splits[t] = (FoilBoundsSplit){off[layer] + neuron, active};
        }
        float C[NO * NO] = {1, -1, 0, 0, 1, -1, -1, 0, 1}, lb[NO], ub[NO];
        foil_bounds_options o = {.method = FOIL_BOUNDS_CROWN}, oa = {.method = FOIL_BOUNDS_CROWN, .alpha_steps = 20,
                                                                   .alpha_intermediate_steps = 20};
        int empty = 0, empty_a = 0;
        assert_int_equal(
            foilBoundsSplitCompute(v, &o, lo, hi, C, NO, splits, ns, NULL, NULL, 0, NULL, lb, ub, NULL, NULL, &empty), FOIL_OK);
        empties += empty;
        /* optimized slopes: never looser, and as sound (checked below) */
        float lba[NO], uba[NO], lbk[NO], ubk[NO];
        assert_int_equal(
            foilBoundsSplitCompute(v, &oa, lo, hi, C, NO, splits, ns, NULL, NULL, 0, NULL, lba, uba, NULL, NULL, &empty_a),
            FOIL_OK);
        assert_int_equal(empty_a, empty);
        for (int r = 0; r < NO && !empty; r++) {
            tighter += lba[r] > lb[r] + 1e-6f * (1 + fabsf(lb[r]));
            looser += lba[r] < lb[r] - 1e-6f * (1 + fabsf(lb[r]));
        }
        memcpy(lbk, lba, sizeof lbk), memcpy(ubk, uba, sizeof ubk);
        float lbp[NO];
        int child_empty = empty;
        memcpy(lbp, lb, sizeof lbp);
        /* the same from the parent's bounds (the splits but the last): no
         * different answer */
        if (ns > 1) {
            float plo[64], phi[64], lb2[NO], ub2[NO];
            int pempty = 0, empty2 = 0;
            assert_true(v->total_numel <= 64);
            assert_int_equal(foilBoundsSplitCompute(v, &o, lo, hi, C, NO, splits, ns - 1, NULL, NULL, 0, NULL, lb2, ub2,
                                                    plo, phi, &pempty),
                             FOIL_OK);
            if (!pempty) {
                assert_int_equal(foilBoundsSplitCompute(v, &o, lo, hi, C, NO, splits, ns, plo, phi, 0, NULL, lb2, ub2, NULL,
                                                        NULL, &empty2),
                                 FOIL_OK);
                /* the parent's bounds hold on the child too: never looser */
                assert_true(empty2 >= empty);
                for (int r = 0; r < NO && !empty2; r++) assert_true(lb2[r] >= lb[r] && ub2[r] <= ub[r]);
                if (!empty2) memcpy(lbp, lb2, sizeof lbp);
                child_empty = empty2;
                /* the parent's intermediate bounds kept (branch and bound's
                 * fast mode), with optimized slopes: checked below */
                int empty_k = 0;
                assert_int_equal(foilBoundsSplitCompute(v, &oa, lo, hi, C, NO, splits, ns, plo, phi, 1, NULL, lbk, ubk,
                                                        NULL, NULL, &empty_k),
                                 FOIL_OK);
                if (empty_k) assert_true(empty); /* an empty subdomain found by IBP alone is empty */
                if (empty_k) memcpy(lbk, lba, sizeof lbk);
            }
        }
        for (int s = 0; s < 4000; s++) {
            double x[NI], z1[H1], z2[H2], y[NO];
            for (int j = 0; j < NI; j++) {
                double u = foil_rng_uniform(&rng);
                if (s % 4 == 0) u = u < 0.5 ? 0 : 1; /* corners */
                x[j] = lo[j] + u * ((double)hi[j] - lo[j]);
            }
            small_forward(&n, x, z1, z2, y);
            int in = 1;
            for (int64_t t = 0; t < ns; t++) {
                int64_t at = splits[t].at;
                double z = at >= off[1] && at < off[1] + H2 ? z2[at - off[1]] : z1[at - off[0]];
                if (splits[t].active ? z < 0 : z > 0) in = 0;
            }
            if (!in) continue;
            in_domain++;
            assert_false(empty);
            assert_false(child_empty);
            for (int r = 0; r < NO; r++) {
                double val = 0;
                for (int j = 0; j < NO; j++) val += (double)C[r * NO + j] * y[j];
                const float *bounds[4] = {lb, lba, lbk, lbp};
                for (int b = 0; b < 4; b++) {
                    double bound = bounds[b][r];
                    if (val < bound - 1e-6 * (1 + fabs(val)))
                        fprintf(stderr, "seed %llu row %d variant %d: value %.9g below its bound %.9g\n",
                                (unsigned long long)seed, r, b, val, bound);
                    assert_true(val >= bound - 1e-6 * (1 + fabs(val)));
                }
            }
        }
        foil_verify_free(v);
        foil_model_free(m);
    }
    printf("  split bounds: %d sampled points in their subdomains, %d empty subdomains, %d rows tighter and %d "
           "looser with optimized slopes and multipliers\n",
           in_domain, empties, tighter, looser);
    assert_true(in_domain > 1000);
    assert_true(tighter > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_random_mlps),
        cmocka_unit_test(test_split_bounds_sound),
    };
    if (getenv("FOIL_TEST_FILTER")) cmocka_set_test_filter(getenv("FOIL_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
