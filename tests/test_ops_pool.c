/*
 * tests/test_ops_pool.c - MaxPool (with Indices, both storage orders, uint8),
 * AveragePool (count_include_pad, ceil_mode) and GlobalAveragePool: forward
 * against a naive pooling loop and against the values of the ONNX
 * conformance cases (and PyTorch for ceil_mode edge windows), backward
 * against finite differences, the 2x2 and 3x3 stride-2 fast paths against the general path,
 * and corrupt attributes rejected with an error.
 */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foil/rng.h"
#include "nn/ops/im2col.h"
#include "op_harness.h"

typedef struct pcfg {
    const char *name;
    int nsp;
    int64_t N, C;
    int64_t in[3], k[3];
    const int64_t *strides, *dils, *pads;   /* NULL: attribute absent */
    const char *auto_pad;                   /* NULL: attribute absent */
    int ceil_mode;
    int64_t expect[3];                      /* expected output spatial shape (0: unchecked) */
} pcfg;

#define I64(...) ((const int64_t[]){__VA_ARGS__})

/* ---- naive reference (3 canonical axes, leading unit axes) ------------------ */
typedef struct geom {
    int64_t in[3], k[3], s[3], d[3], p0[3], p1[3], out[3];
} geom;

static void ref_geom(const pcfg *g, geom *r)
{
    int lead = 3 - g->nsp;
    for (int a = 0; a < 3; a++) {
        int j = a - lead;
        if (j < 0) {
            r->in[a] = r->k[a] = r->s[a] = r->d[a] = r->out[a] = 1;
            r->p0[a] = r->p1[a] = 0;
            continue;
        }
        int64_t in = g->in[j], k = g->k[j];
        int64_t s = g->strides ? g->strides[j] : 1, d = g->dils ? g->dils[j] : 1;
        int64_t ext = d * (k - 1) + 1, p0 = 0, p1 = 0, out;
        if (g->auto_pad && !strncmp(g->auto_pad, "SAME", 4)) {
            out = (in + s - 1) / s;
            int64_t total = (out - 1) * s + ext - in;
            if (total < 0) total = 0;
            p0 = !strcmp(g->auto_pad, "SAME_UPPER") ? total / 2 : (total + 1) / 2;
            p1 = total - p0;
        } else {
            if (g->pads && !(g->auto_pad && !strcmp(g->auto_pad, "VALID")))
                p0 = g->pads[j], p1 = g->pads[j + g->nsp];
            double q = (double)(in + p0 + p1 - ext) / (double)s;
            out = (int64_t)(g->ceil_mode ? ceil(q) : floor(q)) + 1;
            if (g->ceil_mode && (out - 1) * s >= in + p0) out--;
        }
        r->in[a] = in, r->k[a] = k, r->s[a] = s, r->d[a] = d, r->p0[a] = p0, r->p1[a] = p1, r->out[a] = out;
    }
}

/* kind 0: max (y, ind with storage order so), 1: average excluding padding,
 * 2: average including padding (within [-p0, in + p1) only). */
static void ref_pool(const pcfg *g, const geom *r, int kind, int so, const float *x, float *y, int64_t *ind)
{
    int64_t isz = r->in[0] * r->in[1] * r->in[2], osz = r->out[0] * r->out[1] * r->out[2];
    for (int64_t p = 0; p < g->N * g->C; p++)
        for (int64_t od = 0; od < r->out[0]; od++)
            for (int64_t oh = 0; oh < r->out[1]; oh++)
                for (int64_t ow = 0; ow < r->out[2]; ow++) {
                    double best = -INFINITY, sum = 0;
                    int64_t bi = -1, n_in = 0, n_pad = 0;
                    for (int64_t kd = 0; kd < r->k[0]; kd++)
                        for (int64_t kh = 0; kh < r->k[1]; kh++)
                            for (int64_t kw = 0; kw < r->k[2]; kw++) {
                                int64_t i[3] = {od * r->s[0] - r->p0[0] + kd * r->d[0],
                                                oh * r->s[1] - r->p0[1] + kh * r->d[1],
                                                ow * r->s[2] - r->p0[2] + kw * r->d[2]};
                                int inside = 1, inpad = 1;
                                for (int a = 0; a < 3; a++) {
                                    if (i[a] < 0 || i[a] >= r->in[a]) inside = 0;
                                    if (i[a] < -r->p0[a] || i[a] >= r->in[a] + r->p1[a]) inpad = 0;
                                }
                                n_pad += inpad;
                                if (!inside) continue;
                                n_in++;
                                int64_t flat = (i[0] * r->in[1] + i[1]) * r->in[2] + i[2];
                                double v = x[p * isz + flat];
                                sum += v;
                                if (v > best) {
                                    best = v;
                                    bi = so ? i[0] + i[1] * r->in[0] + i[2] * r->in[0] * r->in[1] : flat;
                                }
                            }
                    int64_t j = p * osz + (od * r->out[1] + oh) * r->out[2] + ow;
                    /* a window wholly in the padding: lowest float / index -1 / 0 */
                    if (kind == 0) {
                        y[j] = n_in ? (float)best : -FLT_MAX;
                        if (ind) ind[j] = n_in ? p * isz + bi : -1;
                    } else {
                        int64_t cnt = kind == 1 ? n_in : n_pad;
                        y[j] = cnt ? (float)(sum / (double)cnt) : 0.0f;
                    }
                }
}

/* ---- building cases ------------------------------------------------------- */

/* Inputs are distinct values (a shuffled ramp, scaled) so that the max is
 * unique and finite differences never cross a tie. */
static void distinct_input(op_case *oc, int ndim, const int64_t *shape, uint64_t seed)
{
    opc_input(oc, 0, FOIL_F32, ndim, shape, NULL, 0);
    float *x = foil_f32(&oc->in[0]);
    int64_t n = oc->in[0].numel;
    for (int64_t i = 0; i < n; i++) x[i] = (float)i;
    foil_rng r = foil_rng_make(seed, 0);
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)foil_rng_below(&r, (uint64_t)(i + 1));
        float t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
    float scale = n > 1000 ? 1.0f / (float)n : 0.05f;
    for (int64_t i = 0; i < n; i++) x[i] = (x[i] - 0.5f * (float)n) * scale;
}

static void set_attrs(op_case *oc, const pcfg *g)
{
    opc_attr_ints(oc, "kernel_shape", g->nsp, g->k);
    if (g->strides) opc_attr_ints(oc, "strides", g->nsp, g->strides);
    if (g->dils) opc_attr_ints(oc, "dilations", g->nsp, g->dils);
    if (g->pads) opc_attr_ints(oc, "pads", 2 * g->nsp, g->pads);
    if (g->auto_pad) opc_attr_string(oc, "auto_pad", g->auto_pad);
    if (g->ceil_mode) opc_attr_int(oc, "ceil_mode", 1);
}

/* kind: 0 MaxPool (with Indices in storage order so), 1/2 AveragePool with
 * count_include_pad = kind - 1. */
static op_case *make_pool(const pcfg *g, int kind, int so, uint64_t seed)
{
    op_case *oc = opc_new(kind == 0 ? "MaxPool" : "AveragePool", 1, kind == 0 ? 2 : 1);
    int64_t xs[5] = {g->N, g->C};
    for (int j = 0; j < g->nsp; j++) xs[2 + j] = g->in[j];
    distinct_input(oc, g->nsp + 2, xs, seed);
    set_attrs(oc, g);
    if (kind == 0 && so) opc_attr_int(oc, "storage_order", 1);
    if (kind == 2) opc_attr_int(oc, "count_include_pad", 1);
    return oc;
}

static void check_forward(const pcfg *g, int kind, int so)
{
    op_case *oc = make_pool(g, kind, so, 7);
    foil_status st = opc_prepare(oc);
    if (st) fprintf(stderr, "%s: %s\n", g->name, foil_last_error());
    assert_int_equal(st, FOIL_OK);
    geom r;
    ref_geom(g, &r);
    const foil_tensor *y = &oc->out[0];
    assert_int_equal(y->ndim, g->nsp + 2);
    for (int j = 0; j < g->nsp; j++) {
        assert_int_equal(y->shape[2 + j], r.out[3 - g->nsp + j]);
        if (g->expect[0]) assert_int_equal(y->shape[2 + j], g->expect[j]);
    }
    if (kind == 0) {
        assert_int_equal(oc->out[1].dtype, FOIL_I64);
        assert_true(foil_tensor_same_shape(&oc->out[0], &oc->out[1]));
    }
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    float *ref = malloc((size_t)y->numel * sizeof *ref);
    int64_t *rind = malloc((size_t)y->numel * sizeof *rind);
    ref_pool(g, &r, kind, so, foil_f32(&oc->in[0]), ref, rind);
    double err = max_abs_diff(foil_f32(y), ref, y->numel);
    if (err > 1e-5) fprintf(stderr, "%s (kind %d): forward max error %g\n", g->name, kind, err);
    assert_true(err <= 1e-5);
    if (kind == 0) assert_memory_equal(foil_i64(&oc->out[1]), rind, (size_t)y->numel * sizeof *rind);
    free(ref);
    free(rind);
    opc_free(oc);
}

/* ---- forward cases ---------------------------------------------------------- */

static const pcfg fwd_cases[] = {
    /* node/ cases */
    {"1d_default", 1, 1, 3, {32}, {2}, NULL, NULL, NULL, NULL, 0, {31}},
    {"2d_default", 2, 1, 3, {32, 32}, {2, 2}, NULL, NULL, NULL, NULL, 0, {31, 31}},
    {"3d_default", 3, 1, 3, {12, 13, 14}, {2, 2, 2}, NULL, NULL, NULL, NULL, 0, {11, 12, 13}},
    {"2d_same_upper", 2, 1, 3, {32, 32}, {2, 2}, NULL, NULL, NULL, "SAME_UPPER", 0, {32, 32}},
    {"2d_same_lower", 2, 1, 3, {32, 32}, {2, 2}, NULL, NULL, NULL, "SAME_LOWER", 0, {32, 32}},
    {"2d_pads", 2, 1, 3, {28, 28}, {3, 3}, NULL, NULL, I64(2, 2, 2, 2), NULL, 0, {30, 30}},
    {"2d_strides", 2, 1, 3, {32, 32}, {5, 5}, I64(3, 3), NULL, NULL, NULL, 0, {10, 10}},
    {"2d_ceil", 2, 1, 1, {4, 4}, {3, 3}, I64(2, 2), NULL, NULL, NULL, 1, {2, 2}},
    {"2d_dilations", 2, 1, 1, {4, 4}, {2, 2}, I64(1, 1), I64(2, 2), NULL, NULL, 0, {2, 2}},
    {"2d_precomputed_pads", 2, 1, 1, {5, 5}, {5, 5}, NULL, NULL, I64(2, 2, 2, 2), NULL, 0, {5, 5}},
    {"2d_precomputed_strides", 2, 1, 1, {5, 5}, {2, 2}, I64(2, 2), NULL, NULL, NULL, 0, {2, 2}},
    {"2d_precomputed_same_upper", 2, 1, 1, {5, 5}, {3, 3}, I64(2, 2), NULL, NULL, "SAME_UPPER", 0, {3, 3}},
    /* pytorch-converted / pytorch-operator */
    {"MaxPool1d", 1, 2, 10, {4}, {4}, I64(4), NULL, I64(0, 0), NULL, 0, {1}},
    {"MaxPool1d_stride_padding_dilation", 1, 1, 1, {220000}, {200}, I64(10), I64(10), I64(100, 100), NULL, 0,
     {21821}},
    {"MaxPool2d", 2, 1, 3, {7, 7}, {3, 3}, I64(2, 2), NULL, I64(1, 1, 1, 1), NULL, 0, {4, 4}},
    {"MaxPool2d_stride_padding_dilation", 2, 1, 1, {1000, 1000}, {60, 80}, I64(10, 10), I64(10, 10),
     I64(10, 20, 10, 20), NULL, 0, {43, 25}},
    {"MaxPool3d", 3, 2, 3, {5, 5, 5}, {2, 2, 2}, I64(2, 2, 2), NULL, I64(0, 0, 0, 0, 0, 0), NULL, 0, {2, 2, 2}},
    {"MaxPool3d_stride_padding", 3, 2, 3, {5, 5, 5}, {2, 2, 2}, I64(2, 2, 2), NULL, I64(1, 1, 1, 1, 1, 1), NULL, 0,
     {3, 3, 3}},
    {"AvgPool1d_as_2d", 2, 2, 3, {6, 1}, {2, 1}, I64(2, 1), NULL, I64(0, 0, 0, 0), NULL, 0, {3, 1}},
    {"AvgPool2d", 2, 2, 3, {6, 6}, {2, 2}, I64(2, 2), NULL, I64(0, 0, 0, 0), NULL, 0, {3, 3}},
    {"AvgPool3d_stride", 3, 2, 3, {5, 5, 5}, {2, 2, 2}, I64(2, 2, 2), NULL, I64(0, 0, 0, 0, 0, 0), NULL, 0,
     {2, 2, 2}},
    {"AvgPool3d_stride1_pad0", 3, 2, 3, {4, 4, 4}, {3, 3, 3}, I64(1, 1, 1), NULL, I64(0, 0, 0, 0, 0, 0), NULL, 0,
     {2, 2, 2}},
    {"operator_maxpool", 1, 20, 16, {50}, {3}, I64(2), NULL, I64(0, 0), NULL, 0, {24}},
    /* more combinations */
    {"asym_pads", 2, 2, 2, {7, 6}, {3, 2}, I64(2, 1), NULL, I64(0, 1, 2, 0), NULL, 0, {0}},
    {"asym_pads_ceil", 2, 2, 2, {7, 6}, {3, 2}, I64(2, 3), NULL, I64(0, 1, 2, 0), NULL, 1, {0}},
    {"ceil_last_window_in_end_pad", 2, 1, 2, {6, 6}, {3, 3}, I64(2, 2), NULL, I64(1, 1, 1, 1), NULL, 1, {4, 4}},
    {"ceil_window_dropped", 2, 1, 2, {5, 5}, {2, 2}, I64(2, 2), NULL, I64(1, 1, 1, 1), NULL, 1, {3, 3}},
    {"ceil_1d_dilated", 1, 2, 2, {10}, {3}, I64(3), I64(2), I64(1, 0), NULL, 1, {0}},
    {"ceil_3d", 3, 1, 2, {5, 6, 7}, {2, 3, 2}, I64(2, 2, 3), NULL, I64(1, 0, 1, 0, 1, 1), NULL, 1, {0}},
    {"dilated_padded_3d", 3, 1, 2, {6, 5, 7}, {2, 2, 3}, I64(1, 2, 2), I64(2, 1, 2), I64(1, 1, 0, 0, 2, 1), NULL, 0,
     {0}},
    {"same_upper_stride_dilated", 2, 2, 2, {9, 8}, {3, 2}, I64(2, 3), I64(2, 1), NULL, "SAME_UPPER", 0, {5, 3}},
    {"same_lower_odd", 1, 1, 3, {8}, {4}, I64(3), NULL, NULL, "SAME_LOWER", 0, {3}},
    {"valid", 2, 1, 2, {7, 8}, {3, 3}, I64(2, 2), NULL, NULL, "VALID", 0, {3, 3}},
    {"valid_ceil", 2, 1, 2, {7, 8}, {3, 3}, I64(2, 2), NULL, NULL, "VALID", 1, {3, 4}},
    {"notset_explicit", 2, 1, 2, {5, 5}, {3, 3}, NULL, NULL, I64(1, 0, 0, 2), "NOTSET", 0, {4, 5}},
    /* 2x2 stride 2: the fast path (even, odd, single row) */
    {"fast2x2_mnist", 2, 3, 4, {28, 28}, {2, 2}, I64(2, 2), NULL, NULL, NULL, 0, {14, 14}},
    {"fast2x2_odd", 2, 2, 3, {7, 9}, {2, 2}, I64(2, 2), NULL, I64(0, 0, 0, 0), NULL, 0, {3, 4}},
    {"fast2x2_odd_ceil", 2, 2, 3, {7, 9}, {2, 2}, I64(2, 2), NULL, NULL, NULL, 1, {4, 5}},
    {"fast2x2_same", 2, 1, 2, {6, 10}, {2, 2}, I64(2, 2), NULL, NULL, "SAME_UPPER", 0, {3, 5}},
    /* wide rows: several vectors of windows and a tail, at every vector width */
    {"fast2x2_wide", 2, 2, 2, {4, 76}, {2, 2}, I64(2, 2), NULL, NULL, NULL, 0, {2, 38}},
};

static void test_forward_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof fwd_cases / sizeof fwd_cases[0]; i++) {
        check_forward(&fwd_cases[i], 0, 0);
        check_forward(&fwd_cases[i], 0, 1);
        check_forward(&fwd_cases[i], 1, 0);
        check_forward(&fwd_cases[i], 2, 0);
    }
}

/* ---- exact values from the ONNX conformance cases and PyTorch --------------- */

static op_case *ramp_case(const char *type, int n_out, int64_t h, int64_t w)
{
    op_case *oc = opc_new(type, 1, n_out);
    opc_input(oc, 0, FOIL_F32, 4, (int64_t[]){1, 1, h, w}, NULL, 0);
    for (int64_t i = 0; i < h * w; i++) foil_f32(&oc->in[0])[i] = (float)(i + 1);
    return oc;
}

static void run_expect(op_case *oc, const float *y, const int64_t *ind, int64_t n)
{
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(oc->out[0].numel, n);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    double err = max_abs_diff(foil_f32(&oc->out[0]), y, n);
    if (err > 1e-4) fprintf(stderr, "%s: error %g\n", oc->node.op_type, err);
    assert_true(err <= 1e-4);
    if (ind) assert_memory_equal(foil_i64(&oc->out[1]), ind, (size_t)n * sizeof *ind);
    opc_free(oc);
}

static void test_onnx_values(void **state)
{
    (void)state;
    op_case *oc;
    /* test_maxpool_with_argmax_2d_precomputed_pads (and _2d_precomputed_pads) */
    oc = ramp_case("MaxPool", 2, 5, 5);
    opc_attr_ints(oc, "kernel_shape", 2, I64(5, 5));
    opc_attr_ints(oc, "pads", 4, I64(2, 2, 2, 2));
    run_expect(oc,
               (const float[]){13, 14, 15, 15, 15, 18, 19, 20, 20, 20, 23, 24, 25, 25, 25, 23, 24, 25, 25, 25, 23, 24,
                               25, 25, 25},
               (const int64_t[]){12, 13, 14, 14, 14, 17, 18, 19, 19, 19, 22, 23, 24, 24, 24, 22, 23, 24, 24, 24,
                                 22, 23, 24, 24, 24},
               25);
    /* test_maxpool_with_argmax_2d_precomputed_strides (storage_order 1) */
    oc = ramp_case("MaxPool", 2, 5, 5);
    opc_attr_ints(oc, "kernel_shape", 2, I64(2, 2));
    opc_attr_ints(oc, "strides", 2, I64(2, 2));
    opc_attr_int(oc, "storage_order", 1);
    run_expect(oc, (const float[]){7, 9, 17, 19}, (const int64_t[]){6, 16, 8, 18}, 4);
    /* the same in row-major order */
    oc = ramp_case("MaxPool", 2, 5, 5);
    opc_attr_ints(oc, "kernel_shape", 2, I64(2, 2));
    opc_attr_ints(oc, "strides", 2, I64(2, 2));
    run_expect(oc, (const float[]){7, 9, 17, 19}, (const int64_t[]){6, 8, 16, 18}, 4);
    /* test_maxpool_2d_precomputed_same_upper */
    oc = ramp_case("MaxPool", 1, 5, 5);
    opc_attr_ints(oc, "kernel_shape", 2, I64(3, 3));
    opc_attr_ints(oc, "strides", 2, I64(2, 2));
    opc_attr_string(oc, "auto_pad", "SAME_UPPER");
    run_expect(oc, (const float[]){7, 9, 10, 17, 19, 20, 22, 24, 25}, NULL, 9);
    /* test_maxpool_2d_ceil */
    oc = ramp_case("MaxPool", 1, 4, 4);
    opc_attr_ints(oc, "kernel_shape", 2, I64(3, 3));
    opc_attr_ints(oc, "strides", 2, I64(2, 2));
    opc_attr_int(oc, "ceil_mode", 1);
    run_expect(oc, (const float[]){11, 12, 15, 16}, NULL, 4);
    /* test_maxpool_2d_dilations */
    oc = ramp_case("MaxPool", 1, 4, 4);
    opc_attr_ints(oc, "kernel_shape", 2, I64(2, 2));
    opc_attr_ints(oc, "strides", 2, I64(1, 1));
    opc_attr_ints(oc, "dilations", 2, I64(2, 2));
    run_expect(oc, (const float[]){11, 12, 15, 16}, NULL, 4);
    /* test_averagepool_2d_precomputed_pads */
    oc = ramp_case("AveragePool", 1, 5, 5);
    opc_attr_ints(oc, "kernel_shape", 2, I64(5, 5));
    opc_attr_ints(oc, "pads", 4, I64(2, 2, 2, 2));
    run_expect(oc,
               (const float[]){7, 7.5f, 8, 8.5f, 9, 9.5f, 10, 10.5f, 11, 11.5f, 12, 12.5f, 13, 13.5f, 14, 14.5f, 15,
                               15.5f, 16, 16.5f, 17, 17.5f, 18, 18.5f, 19},
               NULL, 25);
    /* test_averagepool_2d_precomputed_pads_count_include_pad */
    oc = ramp_case("AveragePool", 1, 5, 5);
    opc_attr_ints(oc, "kernel_shape", 2, I64(5, 5));
    opc_attr_ints(oc, "pads", 4, I64(2, 2, 2, 2));
    opc_attr_int(oc, "count_include_pad", 1);
    run_expect(oc,
               (const float[]){2.52f, 3.6f, 4.8f, 4.08f, 3.24f, 4.56f, 6.4f, 8.4f, 7.04f, 5.52f, 7.2f, 10, 13, 10.8f,
                               8.4f, 6.96f, 9.6f, 12.4f, 10.24f, 7.92f, 6.12f, 8.4f, 10.8f, 8.88f, 6.84f},
               NULL, 25);
    /* test_averagepool_2d_precomputed_strides */
    oc = ramp_case("AveragePool", 1, 5, 5);
    opc_attr_ints(oc, "kernel_shape", 2, I64(2, 2));
    opc_attr_ints(oc, "strides", 2, I64(2, 2));
    run_expect(oc, (const float[]){4, 6, 14, 16}, NULL, 4);
    /* test_averagepool_2d_precomputed_same_upper */
    oc = ramp_case("AveragePool", 1, 5, 5);
    opc_attr_ints(oc, "kernel_shape", 2, I64(3, 3));
    opc_attr_ints(oc, "strides", 2, I64(2, 2));
    opc_attr_string(oc, "auto_pad", "SAME_UPPER");
    run_expect(oc, (const float[]){4, 5.5f, 7, 11.5f, 13, 14.5f, 19, 20.5f, 22}, NULL, 9);
    /* test_averagepool_2d_ceil */
    oc = ramp_case("AveragePool", 1, 4, 4);
    opc_attr_ints(oc, "kernel_shape", 2, I64(3, 3));
    opc_attr_ints(oc, "strides", 2, I64(2, 2));
    opc_attr_int(oc, "ceil_mode", 1);
    run_expect(oc, (const float[]){6, 7.5f, 12, 13.5f}, NULL, 4);
    /* PyTorch avg_pool2d(1..36 as 6x6, 3, 2, 1, ceil_mode=True, count_include_pad=True):
     * the last window runs past the end padding; only the padded extent counts */
    oc = ramp_case("AveragePool", 1, 6, 6);
    opc_attr_ints(oc, "kernel_shape", 2, I64(3, 3));
    opc_attr_ints(oc, "strides", 2, I64(2, 2));
    opc_attr_ints(oc, "pads", 4, I64(1, 1, 1, 1));
    opc_attr_int(oc, "ceil_mode", 1);
    opc_attr_int(oc, "count_include_pad", 1);
    run_expect(oc,
               (const float[]){2, 4, 16.0f / 3.0f, 3, 9, 15, 17, 9, 17, 27, 29, 15, 10.5f, 16.5f, 17.5f, 9}, NULL,
               16);
    /* ... and count_include_pad=False */
    oc = ramp_case("AveragePool", 1, 6, 6);
    opc_attr_ints(oc, "kernel_shape", 2, I64(3, 3));
    opc_attr_ints(oc, "strides", 2, I64(2, 2));
    opc_attr_ints(oc, "pads", 4, I64(1, 1, 1, 1));
    opc_attr_int(oc, "ceil_mode", 1);
    run_expect(oc,
               (const float[]){4.5f, 6, 8, 9, 13.5f, 15, 17, 18, 25.5f, 27, 29, 30, 31.5f, 33, 35, 36}, NULL, 16);
    /* PyTorch: 5x5, kernel 2, stride 2, pad 1, ceil_mode: a 4th window would
     * start in the end padding, so the output is 3x3 */
    oc = ramp_case("AveragePool", 1, 5, 5);
    opc_attr_ints(oc, "kernel_shape", 2, I64(2, 2));
    opc_attr_ints(oc, "strides", 2, I64(2, 2));
    opc_attr_ints(oc, "pads", 4, I64(1, 1, 1, 1));
    opc_attr_int(oc, "ceil_mode", 1);
    opc_attr_int(oc, "count_include_pad", 1);
    run_expect(oc, (const float[]){0.25f, 1.25f, 2.25f, 4.25f, 10, 12, 9.25f, 20, 22}, NULL, 9);
    oc = ramp_case("MaxPool", 2, 5, 5);
    opc_attr_ints(oc, "kernel_shape", 2, I64(2, 2));
    opc_attr_ints(oc, "strides", 2, I64(2, 2));
    opc_attr_ints(oc, "pads", 4, I64(1, 1, 1, 1));
    opc_attr_int(oc, "ceil_mode", 1);
    run_expect(oc, (const float[]){1, 3, 5, 11, 13, 15, 21, 23, 25}, (const int64_t[]){0, 2, 4, 10, 12, 14, 20, 22, 24},
               9);
}

/* test_maxpool_2d_uint8 */
static void test_maxpool_uint8(void **state)
{
    (void)state;
    op_case *oc = opc_new("MaxPool", 1, 1);
    uint8_t x[25];
    for (int i = 0; i < 25; i++) x[i] = (uint8_t)(i + 1);
    opc_input(oc, 0, FOIL_U8, 4, (int64_t[]){1, 1, 5, 5}, x, 0);
    opc_attr_ints(oc, "kernel_shape", 2, I64(5, 5));
    opc_attr_ints(oc, "pads", 4, I64(2, 2, 2, 2));
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(oc->out[0].dtype, FOIL_U8);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    static const uint8_t want[25] = {13, 14, 15, 15, 15, 18, 19, 20, 20, 20, 23, 24, 25,
                                     25, 25, 23, 24, 25, 25, 25, 23, 24, 25, 25, 25};
    assert_memory_equal(oc->out[0].data, want, 25);
    opc_free(oc);

    /* uint8 with Indices, larger values, strided */
    oc = opc_new("MaxPool", 1, 2);
    uint8_t big[2 * 36];
    for (int i = 0; i < 72; i++) big[i] = (uint8_t)((i * 37) % 251);
    opc_input(oc, 0, FOIL_U8, 4, (int64_t[]){1, 2, 6, 6}, big, 0);
    opc_attr_ints(oc, "kernel_shape", 2, I64(3, 3));
    opc_attr_ints(oc, "strides", 2, I64(2, 2));
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    const uint8_t *y = oc->out[0].data;
    const int64_t *ind = foil_i64(&oc->out[1]);
    for (int p = 0; p < 2; p++)
        for (int oh = 0; oh < 2; oh++)
            for (int ow = 0; ow < 2; ow++) {
                int best = -1, bi = -1;
                for (int kh = 0; kh < 3; kh++)
                    for (int kw = 0; kw < 3; kw++) {
                        int i = p * 36 + (2 * oh + kh) * 6 + 2 * ow + kw;
                        if (big[i] > best) best = big[i], bi = i;
                    }
                assert_int_equal(y[(p * 2 + oh) * 2 + ow], best);
                assert_int_equal(ind[(p * 2 + oh) * 2 + ow], bi);
            }
    opc_free(oc);
}

/* ---- gradients ---------------------------------------------------------------- */

static const pcfg grad_cases[] = {
    {"g_1d_pad_stride", 1, 2, 2, {9}, {3}, I64(2), NULL, I64(1, 2), NULL, 0, {0}},
    {"g_1d_dilated_ceil", 1, 1, 2, {10}, {3}, I64(3), I64(2), I64(1, 0), NULL, 1, {0}},
    {"g_2d_overlap_pads", 2, 2, 2, {5, 6}, {3, 3}, I64(1, 2), NULL, I64(1, 1, 2, 0), NULL, 0, {0}},
    {"g_2d_ceil_in_pad", 2, 1, 2, {6, 6}, {3, 3}, I64(2, 2), NULL, I64(1, 1, 1, 1), NULL, 1, {0}},
    {"g_2d_same_lower", 2, 1, 2, {5, 5}, {2, 3}, I64(2, 2), NULL, NULL, "SAME_LOWER", 0, {0}},
    {"g_2d_dilated", 2, 1, 2, {6, 7}, {2, 2}, I64(1, 2), I64(2, 3), NULL, NULL, 0, {0}},
    {"g_2x2_fast", 2, 2, 3, {6, 7}, {2, 2}, I64(2, 2), NULL, NULL, NULL, 0, {0}},
    {"g_2x2_tiled", 2, 2, 3, {6, 8}, {2, 2}, I64(2, 2), NULL, NULL, NULL, 0, {0}},
    {"g_3d", 3, 1, 2, {4, 4, 5}, {2, 2, 3}, I64(2, 1, 2), NULL, I64(1, 0, 1, 0, 1, 1), NULL, 1, {0}},
};

static void test_gradients(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof grad_cases / sizeof grad_cases[0]; i++)
        for (int kind = 0; kind < 3; kind++) {
            op_case *oc = make_pool(&grad_cases[i], kind, kind == 0 && (i & 1), 3);
            double err = opc_gradcheck(oc, 0, 1e-2f, 0);
            if (err > 1e-2) fprintf(stderr, "%s (kind %d): gradient error %g\n", grad_cases[i].name, kind, err);
            assert_true(err < 1e-2);
            opc_free(oc);
        }
}

/* ---- the 2x2 and 3x3 stride-2 fast paths against the general path --------------- */

/* fresh: backward writes into a NaN-filled gradient (d_in_fresh); relu_in:
 * it masks by the output > 0, as for a fused Relu before the pool; ties:
 * the input takes five values and now and then a NaN, so windows tie and
 * the first maximum (or a NaN first tap) must win on both paths. */
static void run_max(const pcfg *g, int fast, int fresh, int relu_in, int ties, float **y, int64_t **ind, float **dx,
                    int64_t *ny, int64_t *nx)
{
    foilOpsFastPaths = fast;
    op_case *oc = make_pool(g, 0, 0, 13);
    if (ties)
        for (int64_t j = 0; j < oc->in[0].numel; j++)
            foil_f32(&oc->in[0])[j] = j % 97 == 5 ? NAN : (float)(j * 7 % 5) - 2.0f;
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    *ny = oc->out[0].numel;
    *nx = oc->in[0].numel;
    *y = malloc((size_t)*ny * sizeof **y);
    *ind = malloc((size_t)*ny * sizeof **ind);
    memcpy(*y, oc->out[0].data, (size_t)*ny * sizeof **y);
    memcpy(*ind, oc->out[1].data, (size_t)*ny * sizeof **ind);
    foil_tensor_alloc(&oc->d_out[0], FOIL_F32, oc->out[0].ndim, oc->out[0].shape);
    for (int64_t j = 0; j < *ny; j++) foil_f32(&oc->d_out[0])[j] = (float)(j % 7) - 3.0f;
    oc->pdout[0] = &oc->d_out[0];
    foil_tensor_alloc(&oc->d_in[0], FOIL_F32, oc->in[0].ndim, oc->in[0].shape);
    oc->pdin[0] = &oc->d_in[0];
    if (fresh)
        for (int64_t j = 0; j < *nx; j++) foil_f32(&oc->d_in[0])[j] = NAN;
    oc->node.ctx.d_in_fresh = fresh ? 1u : 0u;
    oc->node.ctx.relu_in = relu_in;
    oc->node.op->backward(&oc->node.ctx);
    *dx = malloc((size_t)*nx * sizeof **dx);
    memcpy(*dx, oc->d_in[0].data, (size_t)*nx * sizeof **dx);
    opc_free(oc);
    foilOpsFastPaths = 1;
}

static const pcfg fast_cases[] = {
    {"f_mnist", 2, 8, 32, {28, 28}, {2, 2}, I64(2, 2), NULL, NULL, NULL, 0, {0}},
    {"f_odd", 2, 3, 5, {9, 11}, {2, 2}, I64(2, 2), NULL, NULL, NULL, 0, {0}},
    {"f_row", 2, 1, 1, {2, 40}, {2, 2}, I64(2, 2), NULL, NULL, NULL, 0, {0}},
    {"f_wide", 2, 2, 3, {5, 71}, {2, 2}, I64(2, 2), NULL, NULL, NULL, 0, {0}}, /* 16 + 16 + 3 windows a row */
    {"f_wide_even", 2, 2, 3, {6, 70}, {2, 2}, I64(2, 2), NULL, NULL, NULL, 0, {0}}, /* tiled: written, not scattered */
    /* 3x3 stride 2: ResNet's stem pool (its 112-wide rows), no padding,
     * asymmetric padding, ceil mode, and planes too narrow for a vector */
    {"f3_stem", 2, 2, 3, {7, 112}, {3, 3}, I64(2, 2), NULL, I64(1, 1, 1, 1), NULL, 0, {0}},
    {"f3_odd", 2, 2, 3, {23, 37}, {3, 3}, I64(2, 2), NULL, I64(1, 1, 1, 1), NULL, 0, {0}}, /* 17 inside a row */
    {"f3_nopad", 2, 1, 2, {9, 40}, {3, 3}, I64(2, 2), NULL, NULL, NULL, 0, {0}},
    {"f3_asym", 2, 1, 2, {8, 35}, {3, 3}, I64(2, 2), NULL, I64(1, 2, 2, 0), NULL, 0, {0}},
    {"f3_ceil", 2, 1, 2, {10, 33}, {3, 3}, I64(2, 2), NULL, I64(1, 1, 1, 1), NULL, 1, {0}},
    {"f3_narrow", 2, 1, 2, {5, 2}, {3, 3}, I64(2, 2), NULL, I64(1, 1, 1, 1), NULL, 0, {0}},
    {"f3_three", 2, 1, 2, {6, 3}, {3, 3}, I64(2, 2), NULL, NULL, NULL, 0, {0}},
};

static void test_fast_paths_match_general(void **state)
{
    (void)state;
    /* variants: accumulate; fresh (the tiled cases write every window); fresh
     * masked by relu_in; and each of those on an input full of ties */
    for (size_t i = 0; i < sizeof fast_cases / sizeof fast_cases[0]; i++)
        for (int variant = 0; variant < 6; variant++) {
            float *y1, *y0, *dx1, *dx0;
            int64_t *i1, *i0, ny, nx;
            int fresh = variant % 3 > 0, relu_in = variant % 3 == 2, ties = variant >= 3;
            run_max(&fast_cases[i], 1, fresh, relu_in, ties, &y1, &i1, &dx1, &ny, &nx);
            run_max(&fast_cases[i], 0, 0, relu_in, ties, &y0, &i0, &dx0, &ny, &nx);
            assert_memory_equal(y1, y0, (size_t)ny * sizeof *y1);
            assert_memory_equal(i1, i0, (size_t)ny * sizeof *i1);
            assert_memory_equal(dx1, dx0, (size_t)nx * sizeof *dx1);
            free(y1), free(y0), free(i1), free(i0), free(dx1), free(dx0);
        }
    /* ties: the first maximum in row-major order wins on both paths */
    for (int fast = 0; fast < 2; fast++) {
        foilOpsFastPaths = fast;
        op_case *oc = opc_new("MaxPool", 1, 2);
        static const float x[16] = {1, 1, 2, 5, 1, 1, 5, 5, 0, 3, 4, 4, 3, 3, 4, 4};
        opc_input(oc, 0, FOIL_F32, 4, (int64_t[]){1, 1, 4, 4}, x, 0);
        opc_attr_ints(oc, "kernel_shape", 2, I64(2, 2));
        opc_attr_ints(oc, "strides", 2, I64(2, 2));
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        static const int64_t want[4] = {0, 3, 9, 10};
        assert_memory_equal(foil_i64(&oc->out[1]), want, sizeof want);
        opc_free(oc);
    }
    foilOpsFastPaths = 1;
}

/* ---- GlobalAveragePool ---------------------------------------------------------- */

static void test_globalaveragepool(void **state)
{
    (void)state;
    /* test_globalaveragepool_precomputed: mean of 1..9 is 5 */
    op_case *oc = ramp_case("GlobalAveragePool", 1, 3, 3);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(oc->out[0].ndim, 4);
    assert_int_equal(oc->out[0].shape[2], 1);
    assert_int_equal(oc->out[0].shape[3], 1);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    assert_float_equal(foil_f32(&oc->out[0])[0], 5.0f, 1e-6);
    opc_free(oc);

    /* 1-D, 2-D (test_globalaveragepool's 1x3x5x5), 3-D against a naive mean */
    static const int64_t shapes[][5] = {{2, 3, 7}, {1, 3, 5, 5}, {2, 2, 3, 4, 5}, {3, 4, 40, 40}};
    static const int ranks[] = {3, 4, 5, 4};
    for (int s = 0; s < 4; s++) {
        oc = opc_new("GlobalAveragePool", 1, 1);
        opc_input_randn(oc, 0, ranks[s], shapes[s], 1.0f, 3);
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        assert_int_equal(opc_forward(oc, 0), FOIL_OK);
        int64_t planes = shapes[s][0] * shapes[s][1], S = oc->in[0].numel / planes;
        assert_int_equal(oc->out[0].numel, planes);
        for (int64_t p = 0; p < planes; p++) {
            double m = 0;
            for (int64_t i = 0; i < S; i++) m += foil_f32(&oc->in[0])[p * S + i];
            assert_float_equal(foil_f32(&oc->out[0])[p], m / (double)S, 1e-5);
        }
        opc_free(oc);
        if (s < 3) {
            oc = opc_new("GlobalAveragePool", 1, 1);
            opc_input_randn(oc, 0, ranks[s], shapes[s], 1.0f, 4);
            double err = opc_gradcheck(oc, 0, 1e-2f, 0);
            assert_true(err < 1e-2);
            opc_free(oc);
        }
    }
}

/* ---- errors ------------------------------------------------------------------ */

static void expect_error(op_case *oc, const char *what)
{
    foil_clear_error();
    foil_status st = opc_prepare(oc);
    if (st == FOIL_OK) fprintf(stderr, "accepted: %s\n", what);
    assert_int_not_equal(st, FOIL_OK);
    assert_true(strlen(foil_last_error()) > 0);
    opc_free(oc);
}

static op_case *pool2d(const char *type, int64_t h, int64_t k)
{
    op_case *oc = opc_new(type, 1, 1);
    opc_input_randn(oc, 0, 4, (int64_t[]){1, 2, h, h}, 1.0f, 1);
    opc_attr_ints(oc, "kernel_shape", 2, (int64_t[]){k, k});
    return oc;
}

static void test_bad_attributes(void **state)
{
    (void)state;
    op_case *oc;
    for (int t = 0; t < 2; t++) {
        const char *type = t ? "AveragePool" : "MaxPool";

        oc = opc_new(type, 1, 1);
        opc_input_randn(oc, 0, 4, (int64_t[]){1, 2, 5, 5}, 1.0f, 1);
        expect_error(oc, "no kernel_shape");

        oc = opc_new(type, 1, 1);
        opc_input_randn(oc, 0, 4, (int64_t[]){1, 2, 5, 5}, 1.0f, 1);
        opc_attr_ints(oc, "kernel_shape", 1, I64(2));
        expect_error(oc, "kernel_shape rank");

        oc = opc_new(type, 1, 1);
        opc_input_randn(oc, 0, 4, (int64_t[]){1, 2, 5, 5}, 1.0f, 1);
        opc_attr_ints(oc, "kernel_shape", 2, I64(2, 0));
        expect_error(oc, "zero kernel");

        oc = opc_new(type, 1, 1);
        opc_input_randn(oc, 0, 4, (int64_t[]){1, 2, 5, 5}, 1.0f, 1);
        opc_attr_float(oc, "kernel_shape", 2.0f);
        expect_error(oc, "kernel_shape of wrong type");

        oc = pool2d(type, 5, 6);
        expect_error(oc, "kernel larger than input");

        oc = pool2d(type, 5, 3);
        opc_attr_ints(oc, "dilations", 2, I64(3, 1));
        expect_error(oc, "dilated kernel larger than input");

        oc = pool2d(type, 5, 3);
        opc_attr_ints(oc, "pads", 4, I64(0, 0, -1, 0));
        expect_error(oc, "negative pads");

        oc = pool2d(type, 5, 3);
        opc_attr_ints(oc, "pads", 6, I64(0, 0, 0, 0, 0, 0));
        expect_error(oc, "pads count");

        oc = pool2d(type, 5, 3);
        opc_attr_ints(oc, "pads", 4, I64((int64_t)1 << 31, 0, (int64_t)1 << 31, 0));
        expect_error(oc, "huge pads");

        oc = opc_new(type, 1, 1);
        opc_input_randn(oc, 0, 3, (int64_t[]){1, 1, 4}, 1.0f, 1);
        opc_attr_ints(oc, "kernel_shape", 1, I64((int64_t)1 << 31));
        expect_error(oc, "huge kernel");

        oc = pool2d(type, 5, 3);
        opc_attr_ints(oc, "dilations", 2, I64((int64_t)1 << 50, 1));
        expect_error(oc, "huge dilation");

        oc = pool2d(type, 5, 3);
        opc_attr_ints(oc, "strides", 2, I64(0, 1));
        expect_error(oc, "zero stride");

        oc = pool2d(type, 5, 3);
        opc_attr_ints(oc, "strides", 1, I64(2));
        expect_error(oc, "strides count");

        oc = pool2d(type, 5, 3);
        opc_attr_int(oc, "ceil_mode", 2);
        expect_error(oc, "ceil_mode 2");

        oc = pool2d(type, 5, 3);
        opc_attr_string(oc, "auto_pad", "FULL");
        expect_error(oc, "unknown auto_pad");

        oc = pool2d(type, 5, 3);
        opc_attr_int(oc, t ? "count_include_pad" : "storage_order", 3);
        expect_error(oc, "flag out of range");

        oc = pool2d(type, 5, 3);
        opc_attr_float(oc, t ? "count_include_pad" : "storage_order", 1.0f);
        expect_error(oc, "flag of wrong type");

        oc = opc_new(type, 1, 1);
        opc_input(oc, 0, FOIL_I64, 4, (int64_t[]){1, 1, 4, 4}, NULL, 0);
        opc_attr_ints(oc, "kernel_shape", 2, I64(2, 2));
        expect_error(oc, "int64 input");

        oc = opc_new(type, 1, 1);
        opc_input_randn(oc, 0, 6, (int64_t[]){1, 1, 2, 2, 2, 2}, 1.0f, 1);
        opc_attr_ints(oc, "kernel_shape", 4, I64(1, 1, 1, 1));
        expect_error(oc, "4 spatial axes");

        oc = opc_new(type, 1, 1);
        opc_input_randn(oc, 0, 2, (int64_t[]){1, 4}, 1.0f, 1);
        opc_attr_ints(oc, "kernel_shape", 1, I64(2));
        expect_error(oc, "rank-2 input");

        oc = opc_new(type, 1, 1);
        opc_attr_ints(oc, "kernel_shape", 2, I64(2, 2));
        expect_error(oc, "missing input");
    }
    /* uint8 is MaxPool only */
    oc = opc_new("AveragePool", 1, 1);
    opc_input(oc, 0, FOIL_U8, 4, (int64_t[]){1, 1, 4, 4}, NULL, 0);
    opc_attr_ints(oc, "kernel_shape", 2, I64(2, 2));
    expect_error(oc, "uint8 AveragePool");
    /* AveragePool has no second output */
    oc = opc_new("AveragePool", 1, 2);
    opc_input_randn(oc, 0, 4, (int64_t[]){1, 1, 4, 4}, 1.0f, 1);
    opc_attr_ints(oc, "kernel_shape", 2, I64(2, 2));
    expect_error(oc, "two outputs");
    /* GlobalAveragePool */
    oc = opc_new("GlobalAveragePool", 1, 1);
    opc_input_randn(oc, 0, 1, (int64_t[]){4}, 1.0f, 1);
    expect_error(oc, "rank-1 input");
    oc = opc_new("GlobalAveragePool", 1, 1);
    opc_input(oc, 0, FOIL_I64, 3, (int64_t[]){1, 1, 4}, NULL, 0);
    expect_error(oc, "int64 input");
    oc = opc_new("GlobalAveragePool", 1, 1);
    opc_input(oc, 0, FOIL_F32, 3, (int64_t[]){1, 1, 0}, NULL, 0);
    expect_error(oc, "empty spatial axis");
}

/* A window entirely in the padding (pads larger than the kernel) has no input
 * taps: MaxPool gives the lowest float and index -1 and no gradient, AveragePool
 * gives 0 (count_include_pad 0); nothing reads out of bounds. */
static void test_window_in_padding(void **state)
{
    (void)state;
    op_case *oc = opc_new("MaxPool", 1, 2);
    opc_input(oc, 0, FOIL_F32, 3, (int64_t[]){1, 1, 2}, (const float[]){3, 4}, 0);
    opc_attr_ints(oc, "kernel_shape", 1, I64(1));
    opc_attr_ints(oc, "pads", 2, I64(2, 0));
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    assert_int_equal(oc->out[0].shape[2], 4);
    assert_true(foil_f32(&oc->out[0])[0] == -FLT_MAX);
    assert_int_equal(foil_i64(&oc->out[1])[0], -1);
    assert_true(foil_f32(&oc->out[0])[2] == 3.0f);
    assert_int_equal(foil_i64(&oc->out[1])[3], 1);
    /* backward: dy = (1, 2, 3, 4) reaches x only from the windows that read it */
    foil_tensor_alloc(&oc->d_out[0], FOIL_F32, 3, oc->out[0].shape);
    for (int j = 0; j < 4; j++) foil_f32(&oc->d_out[0])[j] = (float)(j + 1);
    oc->pdout[0] = &oc->d_out[0];
    foil_tensor_alloc(&oc->d_in[0], FOIL_F32, 3, oc->in[0].shape);
    oc->pdin[0] = &oc->d_in[0];
    oc->node.op->backward(&oc->node.ctx);
    assert_true(foil_f32(&oc->d_in[0])[0] == 3.0f && foil_f32(&oc->d_in[0])[1] == 4.0f);
    opc_free(oc);

    oc = opc_new("AveragePool", 1, 1);
    opc_input(oc, 0, FOIL_F32, 3, (int64_t[]){1, 1, 2}, (const float[]){3, 4}, 0);
    opc_attr_ints(oc, "kernel_shape", 1, I64(1));
    opc_attr_ints(oc, "pads", 2, I64(2, 0));
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    assert_true(foil_f32(&oc->out[0])[0] == 0.0f);
    assert_true(foil_f32(&oc->out[0])[3] == 4.0f);
    assert_true(opc_gradcheck(oc, 0, 1e-2f, 0) < 1e-2);
    opc_free(oc);
}

/* The registry hands out these op tables (of the kernel set in use) by ONNX name. */
static void test_registered(void **state)
{
    (void)state;
    const char *const names[] = {"MaxPool", "AveragePool", "GlobalAveragePool"};
    for (int i = 0; i < 3; i++) {
        const FoilOp *op = foilOpFind(names[i]);
        assert_non_null(op);
        assert_string_equal(op->type, names[i]);
        assert_int_equal(op->grad_inputs, 0x1);
    }
}

int main(void)
{
    opc_skip_unless_kernels_run();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registered),
        cmocka_unit_test(test_forward_cases),
        cmocka_unit_test(test_onnx_values),
        cmocka_unit_test(test_maxpool_uint8),
        cmocka_unit_test(test_gradients),
        cmocka_unit_test(test_fast_paths_match_general),
        cmocka_unit_test(test_globalaveragepool),
        cmocka_unit_test(test_bad_attributes),
        cmocka_unit_test(test_window_in_padding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
