/*
 * tests/test_ops_conv.c - Conv forward against a naive direct convolution,
 * backward (X, W, B) against finite differences, fast paths against the
 * general path, and corrupt attributes/shapes rejected with an error.
 *
 * Many cases mirror the attribute combinations of the ONNX conformance cases
 * (node/test_basic_conv_*, test_conv_with_*, pytorch-converted/test_Conv*d*)
 * and check their output shapes.
 */
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

typedef struct ccfg {
    const char *name;
    int nsp;
    int64_t N, C, M, G;                     /* G = 0: no group attribute (1) */
    int64_t in[3], k[3];
    const int64_t *strides, *dils, *pads;   /* NULL: attribute absent */
    const char *auto_pad;                   /* NULL: attribute absent */
    int kshape;                             /* write kernel_shape */
    int bias;
    int64_t expect[3];                      /* expected output spatial shape (0: unchecked) */
} ccfg;

#define I64(...) ((const int64_t[]){__VA_ARGS__})

/* ---- naive reference -------------------------------------------------------
 * Shapes are padded to 3 spatial axes with leading unit axes. */
typedef struct geom {
    int64_t in[3], k[3], s[3], d[3], p0[3], out[3];
} geom;

static void ref_geom(const ccfg *g, geom *r)
{
    int lead = 3 - g->nsp;
    for (int a = 0; a < 3; a++) {
        int j = a - lead;
        if (j < 0) {
            r->in[a] = r->k[a] = r->s[a] = r->d[a] = r->out[a] = 1;
            r->p0[a] = 0;
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
        } else if (g->auto_pad && !strcmp(g->auto_pad, "VALID")) {
            out = (in - ext) / s + 1;
        } else {
            if (g->pads) p0 = g->pads[j], p1 = g->pads[j + g->nsp];
            out = (in + p0 + p1 - ext) / s + 1;
        }
        r->in[a] = in, r->k[a] = k, r->s[a] = s, r->d[a] = d, r->p0[a] = p0, r->out[a] = out;
    }
}

static void ref_conv(const ccfg *g, const geom *r, const float *x, const float *w, const float *b, float *y)
{
    int64_t G = g->G ? g->G : 1, Cg = g->C / G, Mg = g->M / G;
    int64_t isz = r->in[0] * r->in[1] * r->in[2], ksz = r->k[0] * r->k[1] * r->k[2];
    int64_t osz = r->out[0] * r->out[1] * r->out[2];
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t m = 0; m < g->M; m++)
            for (int64_t od = 0; od < r->out[0]; od++)
                for (int64_t oh = 0; oh < r->out[1]; oh++)
                    for (int64_t ow = 0; ow < r->out[2]; ow++) {
                        double acc = b ? b[m] : 0.0;
                        int64_t grp = m / Mg;
                        for (int64_t c = 0; c < Cg; c++)
                            for (int64_t kd = 0; kd < r->k[0]; kd++)
                                for (int64_t kh = 0; kh < r->k[1]; kh++)
                                    for (int64_t kw = 0; kw < r->k[2]; kw++) {
                                        int64_t id = od * r->s[0] - r->p0[0] + kd * r->d[0];
                                        int64_t ih = oh * r->s[1] - r->p0[1] + kh * r->d[1];
                                        int64_t iw = ow * r->s[2] - r->p0[2] + kw * r->d[2];
                                        if (id < 0 || id >= r->in[0] || ih < 0 || ih >= r->in[1] || iw < 0 ||
                                            iw >= r->in[2])
                                            continue;
                                        double xv = x[(n * g->C + grp * Cg + c) * isz +
                                                      (id * r->in[1] + ih) * r->in[2] + iw];
                                        double wv = w[(m * Cg + c) * ksz + (kd * r->k[1] + kh) * r->k[2] + kw];
                                        acc += xv * wv;
                                    }
                        y[(n * g->M + m) * osz + (od * r->out[1] + oh) * r->out[2] + ow] = (float)acc;
                    }
}

/* dx, dw, db (accumulated, double) of the naive convolution for output
 * gradient dy: every (output, tap) pair that read x[i] with w[j] sends
 * dy * w[j] to dx[i], dy * x[i] to dw[j], and dy to db[m]. */
static void ref_conv_backward(const ccfg *g, const geom *r, const float *x, const float *w, const float *dy,
                              double *dx, double *dw, double *db)
{
    int64_t G = g->G ? g->G : 1, Cg = g->C / G, Mg = g->M / G;
    int64_t isz = r->in[0] * r->in[1] * r->in[2], ksz = r->k[0] * r->k[1] * r->k[2];
    int64_t osz = r->out[0] * r->out[1] * r->out[2];
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t m = 0; m < g->M; m++)
            for (int64_t od = 0; od < r->out[0]; od++)
                for (int64_t oh = 0; oh < r->out[1]; oh++)
                    for (int64_t ow = 0; ow < r->out[2]; ow++) {
                        double gy = dy[(n * g->M + m) * osz + (od * r->out[1] + oh) * r->out[2] + ow];
                        int64_t grp = m / Mg;
                        db[m] += gy;
                        for (int64_t c = 0; c < Cg; c++)
                            for (int64_t kd = 0; kd < r->k[0]; kd++)
                                for (int64_t kh = 0; kh < r->k[1]; kh++)
                                    for (int64_t kw = 0; kw < r->k[2]; kw++) {
                                        int64_t id = od * r->s[0] - r->p0[0] + kd * r->d[0];
                                        int64_t ih = oh * r->s[1] - r->p0[1] + kh * r->d[1];
                                        int64_t iw = ow * r->s[2] - r->p0[2] + kw * r->d[2];
                                        if (id < 0 || id >= r->in[0] || ih < 0 || ih >= r->in[1] || iw < 0 ||
                                            iw >= r->in[2])
                                            continue;
                                        int64_t xi =
                                            (n * g->C + grp * Cg + c) * isz + (id * r->in[1] + ih) * r->in[2] + iw;
                                        int64_t wi = (m * Cg + c) * ksz + (kd * r->k[1] + kh) * r->k[2] + kw;
                                        dx[xi] += gy * w[wi];
                                        dw[wi] += gy * x[xi];
                                    }
                    }
}

/* ---- building cases ------------------------------------------------------- */

static op_case *make_conv(const ccfg *g, uint64_t seed)
{
    op_case *oc = opc_new("Conv", g->bias ? 3 : 2, 1);
    int64_t G = g->G ? g->G : 1;
    int64_t xs[5] = {g->N, g->C}, ws[5] = {g->M, g->C / G};
    for (int j = 0; j < g->nsp; j++) xs[2 + j] = g->in[j], ws[2 + j] = g->k[j];
    opc_input_randn(oc, 0, g->nsp + 2, xs, 1.0f, seed);
    opc_input_randn(oc, 1, g->nsp + 2, ws, 0.5f, seed + 1);
    if (g->bias) opc_input_randn(oc, 2, 1, (int64_t[]){g->M}, 0.5f, seed + 2);
    if (g->kshape) opc_attr_ints(oc, "kernel_shape", g->nsp, g->k);
    if (g->strides) opc_attr_ints(oc, "strides", g->nsp, g->strides);
    if (g->dils) opc_attr_ints(oc, "dilations", g->nsp, g->dils);
    if (g->pads) opc_attr_ints(oc, "pads", 2 * g->nsp, g->pads);
    if (g->auto_pad) opc_attr_string(oc, "auto_pad", g->auto_pad);
    if (g->G) opc_attr_int(oc, "group", g->G);
    return oc;
}

static void check_forward(const ccfg *g)
{
    op_case *oc = make_conv(g, 11);
    foil_status st = opc_prepare(oc);
    if (st) fprintf(stderr, "%s: %s\n", g->name, foil_last_error());
    assert_int_equal(st, FOIL_OK);
    geom r;
    ref_geom(g, &r);
    const foil_tensor *y = &oc->out[0];
    assert_int_equal(y->ndim, g->nsp + 2);
    assert_int_equal(y->shape[0], g->N);
    assert_int_equal(y->shape[1], g->M);
    for (int j = 0; j < g->nsp; j++) {
        assert_int_equal(y->shape[2 + j], r.out[3 - g->nsp + j]);
        if (g->expect[0]) assert_int_equal(y->shape[2 + j], g->expect[j]);
    }
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    float *ref = malloc((size_t)y->numel * sizeof *ref);
    ref_conv(g, &r, foil_f32(&oc->in[0]), foil_f32(&oc->in[1]), g->bias ? foil_f32(&oc->in[2]) : NULL, ref);
    double err = max_abs_diff(foil_f32(y), ref, y->numel);
    if (err > 1e-4) fprintf(stderr, "%s: forward max error %g\n", g->name, err);
    assert_true(err <= 1e-4);
    free(ref);
    opc_free(oc);
}

static void check_grads(const ccfg *g)
{
    for (int i = 0; i < (g->bias ? 3 : 2); i++) {
        op_case *oc = make_conv(g, 21);
        double err = opc_gradcheck(oc, i, 1e-2f, 0);
        if (err > 1e-2) fprintf(stderr, "%s: gradient of input %d: error %g\n", g->name, i, err);
        assert_true(err < 1e-2);
        opc_free(oc);
    }
}

/* ---- forward cases ---------------------------------------------------------- */

static const ccfg fwd_cases[] = {
    /* node/ cases (1x1x5x5 or 1x1x7x5, 3x3 kernel) */
    {"basic_conv_with_padding", 2, 1, 1, 1, 0, {5, 5}, {3, 3}, NULL, NULL, I64(1, 1, 1, 1), NULL, 1, 0, {5, 5}},
    {"basic_conv_without_padding", 2, 1, 1, 1, 0, {5, 5}, {3, 3}, NULL, NULL, I64(0, 0, 0, 0), NULL, 1, 0, {3, 3}},
    {"conv_with_autopad_same", 2, 1, 1, 1, 0, {5, 5}, {3, 3}, I64(2, 2), NULL, NULL, "SAME_LOWER", 1, 0, {3, 3}},
    {"conv_with_strides_and_asymmetric_padding", 2, 1, 1, 1, 0, {7, 5}, {3, 3}, I64(2, 2), NULL, I64(1, 0, 1, 0),
     NULL, 1, 0, {4, 2}},
    {"conv_with_strides_no_padding", 2, 1, 1, 1, 0, {7, 5}, {3, 3}, I64(2, 2), NULL, I64(0, 0, 0, 0), NULL, 1, 0,
     {3, 2}},
    {"conv_with_strides_padding", 2, 1, 1, 1, 0, {7, 5}, {3, 3}, I64(2, 2), NULL, I64(1, 1, 1, 1), NULL, 1, 0,
     {4, 3}},
    /* pytorch-converted Conv1d */
    {"Conv1d", 1, 2, 4, 5, 1, {10}, {3}, I64(1), I64(1), I64(0, 0), NULL, 1, 1, {8}},
    {"Conv1d_dilated", 1, 2, 4, 5, 1, {10}, {3}, I64(1), I64(2), I64(0, 0), NULL, 1, 1, {6}},
    {"Conv1d_groups", 1, 2, 4, 6, 2, {6}, {3}, I64(1), I64(1), I64(0, 0), NULL, 1, 1, {4}},
    {"Conv1d_pad1", 1, 2, 4, 5, 1, {10}, {3}, I64(1), I64(1), I64(1, 1), NULL, 1, 1, {10}},
    {"Conv1d_pad1size1", 1, 1, 4, 4, 1, {1}, {3}, I64(1), I64(1), I64(1, 1), NULL, 1, 1, {1}},
    {"Conv1d_pad2", 1, 2, 4, 5, 1, {10}, {5}, I64(1), I64(1), I64(2, 2), NULL, 1, 1, {10}},
    {"Conv1d_pad2size1", 1, 1, 4, 4, 1, {1}, {5}, I64(1), I64(1), I64(2, 2), NULL, 1, 1, {1}},
    {"Conv1d_stride", 1, 2, 4, 5, 1, {10}, {3}, I64(2), I64(1), I64(0, 0), NULL, 1, 1, {4}},
    /* pytorch-converted Conv2d */
    {"Conv2d", 2, 2, 3, 4, 1, {7, 5}, {3, 2}, I64(1, 1), I64(1, 1), I64(0, 0, 0, 0), NULL, 1, 1, {5, 4}},
    {"Conv2d_depthwise", 2, 2, 4, 4, 4, {6, 6}, {3, 3}, I64(1, 1), I64(1, 1), I64(0, 0, 0, 0), NULL, 1, 1, {4, 4}},
    {"Conv2d_depthwise_padded", 2, 2, 4, 4, 4, {6, 6}, {3, 3}, I64(1, 1), I64(1, 1), I64(1, 1, 1, 1), NULL, 1, 1,
     {6, 6}},
    {"Conv2d_depthwise_strided", 2, 2, 4, 4, 4, {6, 6}, {3, 3}, I64(2, 2), I64(1, 1), I64(0, 0, 0, 0), NULL, 1, 1,
     {2, 2}},
    {"Conv2d_depthwise_with_multiplier", 2, 2, 4, 8, 4, {6, 6}, {3, 3}, I64(1, 1), I64(1, 1), I64(0, 0, 0, 0), NULL,
     1, 1, {4, 4}},
    {"Conv2d_dilated", 2, 2, 3, 2, 1, {8, 8}, {3, 3}, I64(2, 2), I64(2, 2), I64(1, 1, 1, 1), NULL, 1, 1, {3, 3}},
    {"Conv2d_groups", 2, 2, 4, 6, 2, {6, 5}, {3, 2}, I64(1, 1), I64(1, 1), I64(0, 0, 0, 0), NULL, 1, 1, {4, 4}},
    {"Conv2d_no_bias", 2, 2, 3, 4, 1, {6, 5}, {3, 2}, I64(1, 1), I64(1, 1), I64(0, 0, 0, 0), NULL, 1, 0, {4, 4}},
    {"Conv2d_padding", 2, 2, 3, 4, 1, {6, 6}, {3, 3}, I64(2, 2), I64(1, 1), I64(1, 1, 1, 1), NULL, 1, 1, {3, 3}},
    {"Conv2d_strided", 2, 2, 3, 4, 1, {6, 6}, {3, 3}, I64(2, 2), I64(1, 1), I64(0, 0, 0, 0), NULL, 1, 1, {2, 2}},
    /* pytorch-converted Conv3d */
    {"Conv3d", 3, 2, 3, 4, 1, {3, 4, 5}, {2, 3, 4}, I64(1, 1, 1), I64(1, 1, 1), I64(0, 0, 0, 0, 0, 0), NULL, 1, 1,
     {2, 2, 2}},
    {"Conv3d_dilated", 3, 2, 3, 4, 1, {5, 5, 5}, {2, 2, 2}, I64(1, 1, 1), I64(2, 2, 2), I64(0, 0, 0, 0, 0, 0), NULL,
     1, 1, {3, 3, 3}},
    {"Conv3d_dilated_strided", 3, 2, 3, 4, 1, {5, 5, 5}, {2, 2, 2}, I64(2, 2, 2), I64(2, 2, 2),
     I64(0, 0, 0, 0, 0, 0), NULL, 1, 1, {2, 2, 2}},
    {"Conv3d_groups", 3, 2, 4, 6, 2, {4, 5, 4}, {3, 3, 3}, I64(1, 1, 1), I64(1, 1, 1), I64(0, 0, 0, 0, 0, 0), NULL,
     1, 1, {2, 3, 2}},
    {"Conv3d_no_bias", 3, 2, 3, 4, 1, {3, 4, 5}, {2, 3, 4}, I64(1, 1, 1), I64(1, 1, 1), I64(0, 0, 0, 0, 0, 0), NULL,
     1, 0, {2, 2, 2}},
    {"Conv3d_stride_padding", 3, 2, 3, 4, 1, {5, 5, 5}, {2, 2, 2}, I64(2, 2, 2), I64(1, 1, 1),
     I64(1, 1, 1, 1, 1, 1), NULL, 1, 1, {3, 3, 3}},
    /* pytorch-operator/test_operator_conv, scaled down (the real one is 20x16x50x40) */
    {"operator_conv_small", 2, 3, 16, 13, 1, {12, 10}, {3, 3}, I64(1, 1), I64(1, 1), I64(0, 0, 0, 0), NULL, 1, 0,
     {10, 8}},
    /* more attribute combinations */
    {"no_attrs_kernel_from_W", 2, 2, 3, 4, 0, {6, 7}, {3, 2}, NULL, NULL, NULL, NULL, 0, 1, {4, 6}},
    {"same_upper_odd_total", 2, 2, 2, 3, 0, {6, 7}, {4, 3}, I64(1, 2), NULL, NULL, "SAME_UPPER", 0, 1, {6, 4}},
    {"same_lower_odd_total", 2, 2, 2, 3, 0, {6, 7}, {4, 3}, I64(1, 2), NULL, NULL, "SAME_LOWER", 0, 1, {6, 4}},
    {"same_upper_dilated", 1, 2, 2, 3, 0, {9}, {3}, I64(2), I64(2), NULL, "SAME_UPPER", 1, 1, {5}},
    {"valid", 2, 2, 2, 3, 0, {7, 6}, {3, 2}, I64(2, 1), NULL, NULL, "VALID", 1, 1, {3, 5}},
    {"notset_explicit", 2, 1, 2, 3, 0, {5, 5}, {3, 3}, NULL, NULL, I64(1, 0, 0, 2), "NOTSET", 1, 1, {4, 5}},
    {"asym_pads_dilation_stride", 2, 2, 3, 4, 1, {9, 8}, {3, 2}, I64(2, 3), I64(2, 3), I64(2, 0, 1, 3), NULL, 1, 1,
     {0}},
    {"3d_asym_groups", 3, 2, 6, 4, 2, {4, 5, 6}, {2, 3, 2}, I64(1, 2, 2), I64(2, 1, 1), I64(1, 0, 2, 0, 1, 1), NULL,
     0, 1, {0}},
    {"1d_groups3_stride_pad", 1, 3, 6, 9, 3, {11}, {4}, I64(3), I64(1), I64(2, 1), NULL, 1, 1, {0}},
    /* 1x1 kernels: stride 1 unpadded (no im2col) with groups; strided and padded (im2col) */
    {"1x1", 2, 3, 4, 6, 2, {5, 6}, {1, 1}, NULL, NULL, NULL, NULL, 1, 1, {5, 6}},
    {"1x1_single_sample", 2, 1, 8, 5, 0, {7, 3}, {1, 1}, NULL, NULL, NULL, NULL, 1, 1, {7, 3}},
    {"1x1_stride2", 2, 2, 4, 3, 0, {5, 6}, {1, 1}, I64(2, 2), NULL, NULL, NULL, 1, 1, {3, 3}},
    {"1x1_padded", 2, 2, 4, 3, 0, {5, 6}, {1, 1}, NULL, NULL, I64(1, 0, 0, 1), NULL, 1, 1, {6, 7}},
    {"1x1_1d", 1, 2, 3, 4, 0, {9}, {1}, NULL, NULL, NULL, NULL, 1, 1, {9}},
    /* im2col + sgemm in chunks of output rows: K 144 x 40 columns a row, so
     * chunks of 22 rows and a last one of 18 (per group, too); stride 2 is
     * the vectorized gather */
    {"im2col_chunks_stride2", 2, 2, 16, 8, 0, {80, 80}, {3, 3}, I64(2, 2), NULL, I64(1, 1, 1, 1), NULL, 1, 1, {40, 40}},
    {"im2col_chunks_groups", 2, 2, 32, 8, 2, {80, 79}, {3, 3}, I64(2, 2), NULL, I64(1, 1, 0, 0), NULL, 1, 1, {40, 39}},
    /* direct path (2-D, group 1, stride 1, few input channels) */
    {"direct_c1_mnist", 2, 3, 1, 32, 0, {28, 28}, {3, 3}, NULL, NULL, I64(1, 1, 1, 1), NULL, 1, 1, {28, 28}},
    {"direct_c1_single", 2, 1, 1, 32, 0, {28, 28}, {3, 3}, NULL, NULL, I64(1, 1, 1, 1), NULL, 1, 1, {28, 28}},
    {"direct_c1_odd_channels", 2, 2, 1, 7, 0, {20, 37}, {3, 3}, NULL, NULL, I64(1, 1, 1, 1), NULL, 1, 0, {20, 37}},
    {"direct_c2_dilated_asym", 2, 3, 2, 5, 0, {11, 19}, {3, 2}, NULL, I64(2, 3), I64(0, 2, 1, 1), NULL, 1, 1,
     {0}},
    {"direct_c3_5x5", 2, 2, 3, 6, 0, {9, 17}, {2, 2}, NULL, NULL, NULL, "SAME_UPPER", 1, 1, {9, 17}},
};

static void test_forward_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof fwd_cases / sizeof fwd_cases[0]; i++) check_forward(&fwd_cases[i]);
}

/* Finite-difference gradients of X, W and B on small cases covering every
 * attribute and path. */
static const ccfg grad_cases[] = {
    {"g_1d_pad_stride", 1, 2, 2, 3, 0, {7}, {3}, I64(2), NULL, I64(1, 2), NULL, 1, 1, {0}},
    {"g_1d_dilated", 1, 1, 2, 2, 0, {9}, {3}, NULL, I64(3), I64(1, 1), NULL, 1, 1, {0}},
    {"g_2d_asym_stride", 2, 2, 2, 3, 0, {5, 6}, {3, 2}, I64(2, 1), NULL, I64(1, 0, 1, 2), NULL, 1, 1, {0}},
    {"g_2d_dilated", 2, 1, 2, 2, 0, {6, 6}, {2, 2}, I64(1, 2), I64(2, 2), I64(1, 1, 1, 1), NULL, 1, 1, {0}},
    {"g_2d_groups", 2, 2, 4, 6, 2, {4, 5}, {2, 3}, NULL, NULL, I64(0, 1, 1, 0), NULL, 1, 1, {0}},
    {"g_2d_depthwise_mult", 2, 2, 3, 6, 3, {5, 4}, {3, 3}, NULL, NULL, I64(1, 1, 1, 1), NULL, 1, 1, {0}},
    {"g_2d_same_lower", 2, 1, 2, 2, 0, {5, 5}, {3, 3}, I64(2, 2), NULL, NULL, "SAME_LOWER", 1, 1, {0}},
    {"g_2d_same_upper", 2, 1, 2, 2, 0, {5, 4}, {2, 2}, I64(2, 1), NULL, NULL, "SAME_UPPER", 1, 1, {0}},
    {"g_3d", 3, 2, 2, 2, 0, {3, 4, 3}, {2, 2, 2}, I64(1, 2, 1), I64(1, 1, 2), I64(0, 1, 1, 1, 0, 1), NULL, 1, 1, {0}},
    {"g_3d_groups", 3, 1, 4, 2, 2, {3, 3, 3}, {2, 2, 2}, NULL, NULL, NULL, NULL, 1, 1, {0}},
    {"g_1x1_groups", 2, 3, 4, 4, 2, {3, 4}, {1, 1}, NULL, NULL, NULL, NULL, 1, 1, {0}},
    {"g_1x1_single", 2, 1, 3, 2, 0, {3, 3}, {1, 1}, NULL, NULL, NULL, NULL, 1, 1, {0}},
    {"g_direct_c1", 2, 3, 1, 5, 0, {6, 18}, {3, 3}, NULL, NULL, I64(1, 1, 1, 1), NULL, 1, 1, {0}},
    {"g_direct_c1_single", 2, 1, 1, 6, 0, {5, 7}, {3, 3}, NULL, NULL, I64(1, 1, 1, 1), NULL, 1, 1, {0}},
    {"g_direct_c2_dilated", 2, 2, 2, 3, 0, {6, 7}, {2, 3}, NULL, I64(2, 2), I64(1, 0, 0, 2), NULL, 1, 0, {0}},
};

static void test_gradients(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof grad_cases / sizeof grad_cases[0]; i++) check_grads(&grad_cases[i]);
}

/* ---- fast paths against the general path ------------------------------------ */

typedef struct run_result {
    float *y, *dx, *dw, *db;
    int64_t ny, nx, nw, nb;
} run_result;

static float *dup_f32(const foil_tensor *t)
{
    float *p = malloc((size_t)t->numel * sizeof *p);
    memcpy(p, t->data, (size_t)t->numel * sizeof *p);
    return p;
}

/* Forward, then backward with all gradients wanted (or only dX). */
static run_result run_full(const ccfg *g, int fast, int only_dx)
{
    foilOpsFastPaths = fast;
    op_case *oc = make_conv(g, 5);
    assert_int_equal(opc_prepare(oc), FOIL_OK);
    assert_int_equal(opc_forward(oc, 0), FOIL_OK);
    foil_tensor *y = &oc->out[0];
    foil_tensor_alloc(&oc->d_out[0], FOIL_F32, y->ndim, y->shape);
    foil_rng r = foil_rng_make(99, 0);
    for (int64_t j = 0; j < y->numel; j++) foil_f32(&oc->d_out[0])[j] = (float)foil_rng_normal(&r);
    oc->pdout[0] = &oc->d_out[0];
    for (int i = 0; i < oc->n_in; i++) {
        if (only_dx && i > 0) continue;
        foil_tensor_alloc(&oc->d_in[i], FOIL_F32, oc->in[i].ndim, oc->in[i].shape);
        oc->pdin[i] = &oc->d_in[i];
    }
    oc->node.op->backward(&oc->node.ctx);
    run_result rr = {0};
    rr.y = dup_f32(y), rr.ny = y->numel;
    rr.dx = dup_f32(&oc->d_in[0]), rr.nx = oc->d_in[0].numel;
    if (!only_dx) {
        rr.dw = dup_f32(&oc->d_in[1]), rr.nw = oc->d_in[1].numel;
        if (g->bias) rr.db = dup_f32(&oc->d_in[2]), rr.nb = oc->d_in[2].numel;
    }
    opc_free(oc);
    foilOpsFastPaths = 1;
    return rr;
}

static void free_result(run_result *r)
{
    free(r->y);
    free(r->dx);
    free(r->dw);
    free(r->db);
}

static const ccfg fp_cases[] = {
    {"fp_direct_mnist", 2, 4, 1, 32, 0, {28, 28}, {3, 3}, NULL, NULL, I64(1, 1, 1, 1), NULL, 1, 1, {0}},
    {"fp_direct_single", 2, 1, 1, 32, 0, {28, 28}, {3, 3}, NULL, NULL, I64(1, 1, 1, 1), NULL, 1, 1, {0}},
    {"fp_direct_odd", 2, 3, 2, 7, 0, {13, 21}, {3, 2}, NULL, I64(1, 2), I64(2, 0, 0, 1), NULL, 1, 0, {0}},
    {"fp_direct_c3", 2, 2, 3, 9, 0, {10, 33}, {3, 3}, NULL, NULL, NULL, "SAME_LOWER", 1, 1, {0}},
    {"fp_1x1", 2, 3, 8, 6, 0, {7, 9}, {1, 1}, NULL, NULL, NULL, NULL, 1, 1, {0}},
    {"fp_1x1_groups_single", 2, 1, 8, 6, 2, {7, 9}, {1, 1}, NULL, NULL, NULL, NULL, 1, 1, {0}},
};

static void test_fast_paths_match_general(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof fp_cases / sizeof fp_cases[0]; i++) {
        for (int only_dx = 0; only_dx < 2; only_dx++) {
            run_result a = run_full(&fp_cases[i], 1, only_dx), b = run_full(&fp_cases[i], 0, only_dx);
            double ey = max_abs_diff(a.y, b.y, a.ny), ex = max_abs_diff(a.dx, b.dx, a.nx);
            double ew = only_dx ? 0 : max_abs_diff(a.dw, b.dw, a.nw);
            double eb = only_dx || !fp_cases[i].bias ? 0 : max_abs_diff(a.db, b.db, a.nb);
            if (ey > 1e-4 || ex > 1e-4 || ew > 1e-3 || eb > 1e-3)
                fprintf(stderr, "%s: fast vs general: y %g dx %g dw %g db %g\n", fp_cases[i].name, ey, ex, ew, eb);
            assert_true(ey <= 1e-4 && ex <= 1e-4 && ew <= 1e-3 && eb <= 1e-3);
            free_result(&a);
            free_result(&b);
        }
    }
}

static const ccfg det_case = {"det", 2, 9, 3, 8, 0, {10, 10}, {3, 3}, NULL, NULL, I64(1, 1, 1, 1), NULL, 1, 1, {0}};

/* dW is a sum over the batch, computed in per-thread parts: the result must
 * not depend on scheduling (bitwise equal across runs), and it must equal
 * the single-sample sums. */
static void test_weight_grad_deterministic(void **state)
{
    (void)state;
    const ccfg *g = &det_case;
    run_result a = run_full(g, 1, 0), b = run_full(g, 1, 0);
    assert_memory_equal(a.dw, b.dw, (size_t)a.nw * sizeof(float));
    assert_memory_equal(a.db, b.db, (size_t)a.nb * sizeof(float));
    assert_memory_equal(a.dx, b.dx, (size_t)a.nx * sizeof(float));
    /* against a naive dW: dW[m, c, kh, kw] = sum_n,o dy[n, m, o] * x[n, c, o + k - p] */
    op_case *oc = make_conv(g, 5);
    const float *x = foil_f32(&oc->in[0]);
    foil_rng r = foil_rng_make(99, 0);
    float *dy = malloc((size_t)a.ny * sizeof *dy);
    for (int64_t j = 0; j < a.ny; j++) dy[j] = (float)foil_rng_normal(&r);
    double worst = 0;
    for (int m = 0; m < 8; m++)
        for (int c = 0; c < 3; c++)
            for (int kh = 0; kh < 3; kh++)
                for (int kw = 0; kw < 3; kw++) {
                    double s = 0;
                    for (int n = 0; n < 9; n++)
                        for (int oh = 0; oh < 10; oh++)
                            for (int ow = 0; ow < 10; ow++) {
                                int ih = oh + kh - 1, iw = ow + kw - 1;
                                if (ih < 0 || ih >= 10 || iw < 0 || iw >= 10) continue;
                                s += (double)dy[((n * 8 + m) * 10 + oh) * 10 + ow] *
                                     x[((n * 3 + c) * 10 + ih) * 10 + iw];
                            }
                    double e = fabs(s - a.dw[((m * 3 + c) * 3 + kh) * 3 + kw]);
                    if (e > worst) worst = e;
                }
    assert_true(worst < 1e-3);
    free(dy);
    opc_free(oc);
    free_result(&a);
    free_result(&b);
}

/* Larger cases, too big for finite differences, whose backward goes through
 * the batch-parallel, the sample-parallel (one sample split over the threads)
 * and the direct paths: every gradient against the naive reference, with only
 * dX wanted and with all three. */
static const ccfg big_cases[] = {
    {"b_conv2_single", 2, 1, 32, 64, 0, {14, 14}, {3, 3}, NULL, NULL, I64(1, 1, 1, 1), NULL, 1, 1, {0}},
    {"b_conv2_batch", 2, 3, 32, 64, 0, {14, 14}, {3, 3}, NULL, NULL, I64(1, 1, 1, 1), NULL, 1, 1, {0}},
    {"b_groups_single", 2, 1, 8, 16, 2, {16, 15}, {3, 3}, I64(1, 2), NULL, I64(1, 0, 2, 1), NULL, 1, 1, {0}},
    {"b_1x1_single", 2, 1, 64, 48, 0, {16, 16}, {1, 1}, NULL, NULL, NULL, NULL, 1, 1, {0}},
    {"b_3d_single", 3, 1, 8, 16, 0, {6, 8, 8}, {3, 3, 3}, NULL, NULL, I64(1, 1, 1, 1, 1, 1), NULL, 1, 1, {0}},
    {"b_direct_mnist_single", 2, 1, 1, 32, 0, {28, 28}, {3, 3}, NULL, NULL, I64(1, 1, 1, 1), NULL, 1, 1, {0}},
    {"b_direct_mnist_batch", 2, 3, 1, 32, 0, {28, 28}, {3, 3}, NULL, NULL, I64(1, 1, 1, 1), NULL, 1, 1, {0}},
};

static void test_backward_against_reference(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof big_cases / sizeof big_cases[0]; i++) {
        const ccfg *g = &big_cases[i];
        op_case *oc = make_conv(g, 5);
        geom r;
        ref_geom(g, &r);
        int64_t nx = oc->in[0].numel, nw = oc->in[1].numel, ny;
        double *dx = calloc((size_t)nx, sizeof *dx), *dw = calloc((size_t)nw, sizeof *dw);
        double *db = calloc((size_t)g->M, sizeof *db);
        for (int only_dx = 0; only_dx < 2; only_dx++) {
            run_result a = run_full(g, 1, only_dx);
            ny = a.ny;
            if (!only_dx) {
                float *dy = malloc((size_t)ny * sizeof *dy);
                foil_rng rng = foil_rng_make(99, 0);
                for (int64_t j = 0; j < ny; j++) dy[j] = (float)foil_rng_normal(&rng);
                ref_conv_backward(g, &r, foil_f32(&oc->in[0]), foil_f32(&oc->in[1]), dy, dx, dw, db);
                free(dy);
            }
            double ex = 0, ew = 0, eb = 0;
            for (int64_t j = 0; j < nx; j++) ex = fmax(ex, fabs(a.dx[j] - dx[j]));
            if (!only_dx) {
                for (int64_t j = 0; j < nw; j++) ew = fmax(ew, fabs(a.dw[j] - dw[j]));
                for (int64_t j = 0; j < g->M; j++) eb = fmax(eb, fabs(a.db[j] - db[j]));
            }
            if (ex > 1e-3 || ew > 1e-2 || eb > 1e-2)
                fprintf(stderr, "%s: backward vs reference: dx %g dw %g db %g\n", g->name, ex, ew, eb);
            assert_true(ex <= 1e-3 && ew <= 1e-2 && eb <= 1e-2);
            free_result(&a);
        }
        free(dx), free(dw), free(db);
        opc_free(oc);
    }
}

/* ---- the direct kernel and Winograd ------------------------------------------
 * 1-D and 2-D, group-1, stride-1 convolutions run through the direct kernel,
 * and Winograd F(2x2, 3x3) for 3x3 kernels where it pays (fast paths = 2
 * forces it wherever it applies); a batch smaller than the thread count
 * splits each sample over the threads, a larger one runs a sample per thread.
 * Every one against the general path (im2col + sgemm), forward and all three
 * gradients, and the gradients against finite differences. */
static const ccfg small_cases[] = {
    {"s_conv2_batch", 2, 3, 32, 64, 0, {14, 14}, {3, 3}, NULL, NULL, I64(1, 1, 1, 1), NULL, 1, 1, {0}},
    {"s_odd_batch", 2, 5, 9, 19, 0, {7, 10}, {3, 3}, NULL, NULL, I64(0, 1, 2, 1), NULL, 1, 1, {0}},
    {"s_many_taps_batch", 2, 3, 7, 11, 0, {8, 9}, {5, 3}, NULL, NULL, I64(2, 1, 2, 1), NULL, 1, 1, {0}},
    {"s_conv2", 2, 1, 32, 64, 0, {14, 14}, {3, 3}, NULL, NULL, I64(1, 1, 1, 1), NULL, 1, 1, {0}},
    {"s_odd_channels", 2, 1, 17, 35, 0, {9, 30}, {3, 3}, NULL, NULL, NULL, "SAME_UPPER", 1, 1, {0}},
    {"s_many_taps_dilated", 2, 1, 12, 13, 0, {9, 11}, {3, 2}, NULL, I64(2, 1), I64(1, 0, 2, 1), NULL, 1, 0, {0}},
    {"s_1d", 1, 1, 6, 10, 0, {33}, {5}, NULL, NULL, I64(2, 2), NULL, 1, 1, {0}},
    {"s_unpadded_odd", 2, 1, 9, 20, 0, {7, 6}, {3, 3}, NULL, NULL, NULL, NULL, 1, 1, {0}},
    {"s_big_pads", 2, 1, 8, 16, 0, {4, 5}, {3, 3}, NULL, NULL, I64(3, 2, 1, 4), NULL, 1, 1, {0}},
    {"s_wide", 2, 1, 16, 24, 0, {5, 70}, {3, 3}, NULL, NULL, I64(1, 1, 1, 1), NULL, 1, 0, {0}},
};

static void test_direct_paths(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof small_cases / sizeof small_cases[0]; i++)
        for (int fast = 1; fast <= 2; fast++)
            for (int only_dx = 0; only_dx < 2; only_dx++) {
                const ccfg *g = &small_cases[i];
                run_result a = run_full(g, fast, only_dx), b = run_full(g, 0, only_dx);
                double ey = max_abs_diff(a.y, b.y, a.ny), ex = max_abs_diff(a.dx, b.dx, a.nx);
                double ew = only_dx ? 0 : max_abs_diff(a.dw, b.dw, a.nw);
                double eb = only_dx || !g->bias ? 0 : max_abs_diff(a.db, b.db, a.nb);
                if (ey > 1e-4 || ex > 1e-4 || ew > 1e-3 || eb > 1e-3)
                    fprintf(stderr, "%s (fast %d): vs general: y %g dx %g dw %g db %g\n", g->name, fast, ey, ex, ew,
                            eb);
                assert_true(ey <= 1e-4 && ex <= 1e-4 && ew <= 1e-3 && eb <= 1e-3);
                /* and the same again: identical run to run */
                run_result c = run_full(g, fast, only_dx);
                assert_memory_equal(a.y, c.y, (size_t)a.ny * sizeof(float));
                assert_memory_equal(a.dx, c.dx, (size_t)a.nx * sizeof(float));
                free_result(&a);
                free_result(&b);
                free_result(&c);
            }
}

static const ccfg small_grad_cases[] = {
    /* 4 channels: 36 taps, past SMALLK_MAX_K, so these take the direct path */
    {"sg_wino", 2, 1, 4, 4, 0, {5, 6}, {3, 3}, NULL, NULL, I64(1, 1, 1, 1), NULL, 1, 1, {0}},
    {"sg_wino_batch", 2, 3, 4, 2, 0, {4, 5}, {3, 3}, NULL, NULL, I64(1, 0, 1, 1), NULL, 1, 1, {0}},
    {"sg_wino_crop", 2, 1, 4, 3, 0, {6, 5}, {3, 3}, NULL, NULL, I64(0, 2, 1, 0), NULL, 1, 1, {0}},
    {"sg_smallk", 2, 2, 3, 4, 0, {5, 6}, {3, 3}, NULL, NULL, I64(1, 1, 1, 1), NULL, 1, 1, {0}},
    {"sg_direct_many_taps", 2, 1, 5, 3, 0, {5, 7}, {3, 3}, NULL, I64(1, 2), I64(1, 2, 1, 0), NULL, 1, 1, {0}},
    {"sg_1d", 1, 1, 7, 2, 0, {9}, {3}, NULL, NULL, I64(1, 1), NULL, 1, 0, {0}},
};

static void test_direct_gradients(void **state)
{
    (void)state;
    for (int fast = 1; fast <= 2; fast++) {
        foilOpsFastPaths = fast;
        for (size_t i = 0; i < sizeof small_grad_cases / sizeof small_grad_cases[0]; i++)
            check_grads(&small_grad_cases[i]);
    }
    foilOpsFastPaths = 1;
}

/* Winograd caches its transformed weights with a copy of the weights: a pass
 * after the weights change (a training step) must see the new ones. */
static void test_weight_change(void **state)
{
    (void)state;
    const ccfg *g = &small_cases[0];
    for (int fast = 0; fast <= 2; fast++) {
        foilOpsFastPaths = fast;
        op_case *oc = make_conv(g, 5);
        assert_int_equal(opc_prepare(oc), FOIL_OK);
        foil_tensor *y = &oc->out[0], *w = &oc->in[1];
        foil_tensor_alloc(&oc->d_out[0], FOIL_F32, y->ndim, y->shape);
        for (int64_t j = 0; j < y->numel; j++) foil_f32(&oc->d_out[0])[j] = (float)(j % 7) - 3.0f;
        oc->pdout[0] = &oc->d_out[0];
        foil_tensor_alloc(&oc->d_in[0], FOIL_F32, oc->in[0].ndim, oc->in[0].shape);
        oc->pdin[0] = &oc->d_in[0];
        float *y1 = NULL, *dx1 = NULL;
        for (int pass = 0; pass < 2; pass++) {
            if (pass) /* change one weight: the cache's copy differs in one element */
                foil_f32(w)[w->numel / 2] += 0.75f;
            assert_int_equal(opc_forward(oc, 0), FOIL_OK);
            memset(oc->d_in[0].data, 0, foil_tensor_nbytes(&oc->d_in[0]));
            oc->node.op->backward(&oc->node.ctx);
            if (!pass) {
                y1 = dup_f32(y);
                dx1 = dup_f32(&oc->d_in[0]);
            }
        }
        /* fresh op with the changed weights, general path */
        static float *ref_y, *ref_dx;
        if (fast == 0) {
            ref_y = dup_f32(y);
            ref_dx = dup_f32(&oc->d_in[0]);
        } else {
            assert_true(max_abs_diff(foil_f32(y), ref_y, y->numel) <= 1e-4);
            assert_true(max_abs_diff(foil_f32(&oc->d_in[0]), ref_dx, oc->d_in[0].numel) <= 1e-4);
            assert_true(max_abs_diff(foil_f32(y), y1, y->numel) > 1e-3);
            assert_true(max_abs_diff(foil_f32(&oc->d_in[0]), dx1, oc->d_in[0].numel) > 1e-3);
        }
        if (fast == 2) {
            free(ref_y);
            free(ref_dx);
        }
        free(y1);
        free(dx1);
        opc_free(oc);
    }
    foilOpsFastPaths = 1;
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

static op_case *basic(int64_t C, int64_t M, int64_t Cg, int64_t H, int64_t K)
{
    op_case *oc = opc_new("Conv", 2, 1);
    opc_input_randn(oc, 0, 4, (int64_t[]){1, C, H, H}, 1.0f, 1);
    opc_input_randn(oc, 1, 4, (int64_t[]){M, Cg, K, K}, 1.0f, 2);
    return oc;
}

static void test_bad_attributes(void **state)
{
    (void)state;
    op_case *oc;

    oc = basic(2, 3, 2, 5, 3);
    opc_attr_ints(oc, "kernel_shape", 2, I64(3, 2));
    expect_error(oc, "kernel_shape disagrees with W");

    oc = basic(2, 3, 2, 5, 3);
    opc_attr_ints(oc, "kernel_shape", 1, I64(3));
    expect_error(oc, "kernel_shape of wrong rank");

    oc = basic(4, 3, 2, 5, 3);
    opc_attr_int(oc, "group", 2);
    expect_error(oc, "M not divisible by group");

    oc = basic(4, 4, 3, 5, 3);
    opc_attr_int(oc, "group", 2);
    expect_error(oc, "C/group disagrees with W");

    oc = basic(2, 3, 2, 5, 3);
    opc_attr_int(oc, "group", 0);
    expect_error(oc, "group 0");

    oc = basic(2, 3, 2, 5, 3);
    opc_attr_float(oc, "group", 1.0f);
    expect_error(oc, "group of wrong type");

    oc = basic(2, 3, 2, 5, 3);
    opc_attr_ints(oc, "pads", 2, I64(1, 1));
    expect_error(oc, "pads with 2 values on a 2-D conv");

    oc = basic(2, 3, 2, 5, 3);
    opc_attr_ints(oc, "pads", 3, I64(1, 1, 1));
    expect_error(oc, "odd pads count");

    oc = basic(2, 3, 2, 5, 3);
    opc_attr_ints(oc, "pads", 4, I64(1, -1, 1, 1));
    expect_error(oc, "negative pad");

    oc = basic(2, 3, 2, 5, 3);
    opc_attr_ints(oc, "strides", 2, I64(1, 0));
    expect_error(oc, "zero stride");

    oc = basic(2, 3, 2, 5, 3);
    opc_attr_ints(oc, "strides", 3, I64(1, 1, 1));
    expect_error(oc, "strides of wrong rank");

    oc = basic(2, 3, 2, 5, 3);
    opc_attr_ints(oc, "dilations", 2, I64(-2, 1));
    expect_error(oc, "negative dilation");

    oc = basic(2, 3, 2, 5, 3);
    opc_attr_string(oc, "auto_pad", "SAME");
    expect_error(oc, "unknown auto_pad");

    oc = basic(2, 3, 2, 5, 3);
    opc_attr_int(oc, "auto_pad", 1);
    expect_error(oc, "auto_pad of wrong type");

    oc = basic(2, 3, 2, 3, 5);
    expect_error(oc, "kernel larger than input");

    oc = basic(2, 3, 2, 5, 3);
    opc_attr_ints(oc, "dilations", 2, I64(3, 3));
    expect_error(oc, "dilated kernel larger than input");

    /* absurd sizes: an error, never an attempt to allocate or an overflow */
    oc = basic(2, 3, 2, 5, 3);
    opc_attr_ints(oc, "pads", 4, I64((int64_t)1 << 31, (int64_t)1 << 31, (int64_t)1 << 31, (int64_t)1 << 31));
    expect_error(oc, "huge pads");

    oc = basic(2, 3, 2, 5, 3);
    opc_attr_ints(oc, "strides", 2, I64((int64_t)1 << 40, 1));
    expect_error(oc, "huge stride");

    oc = opc_new("Conv", 2, 1);
    opc_input_randn(oc, 0, 3, (int64_t[]){1, 1, 4}, 1.0f, 1);
    opc_input_randn(oc, 1, 3, (int64_t[]){1, 1, 2}, 1.0f, 2);
    opc_attr_ints(oc, "pads", 2, I64((int64_t)1 << 31, (int64_t)1 << 31));
    expect_error(oc, "1-D output too large for BLAS");

    /* W rank differs from X rank */
    oc = opc_new("Conv", 2, 1);
    opc_input_randn(oc, 0, 4, (int64_t[]){1, 2, 5, 5}, 1.0f, 1);
    opc_input_randn(oc, 1, 3, (int64_t[]){3, 2, 3}, 1.0f, 2);
    expect_error(oc, "W rank");

    /* bias of the wrong length */
    oc = basic(2, 3, 2, 5, 3);
    oc->n_in = oc->node.n_in = 3;
    opc_input_randn(oc, 2, 1, (int64_t[]){4}, 1.0f, 3);
    expect_error(oc, "bias length");

    /* 4 spatial axes */
    oc = opc_new("Conv", 2, 1);
    opc_input_randn(oc, 0, 6, (int64_t[]){1, 1, 2, 2, 2, 2}, 1.0f, 1);
    opc_input_randn(oc, 1, 6, (int64_t[]){1, 1, 1, 1, 1, 1}, 1.0f, 2);
    expect_error(oc, "4-D conv");

    /* rank-2 X */
    oc = opc_new("Conv", 2, 1);
    opc_input_randn(oc, 0, 2, (int64_t[]){1, 2}, 1.0f, 1);
    opc_input_randn(oc, 1, 2, (int64_t[]){3, 2}, 1.0f, 2);
    expect_error(oc, "rank-2 X");

    /* integer X */
    oc = opc_new("Conv", 2, 1);
    opc_input(oc, 0, FOIL_I64, 4, (int64_t[]){1, 1, 3, 3}, NULL, 0);
    opc_input_randn(oc, 1, 4, (int64_t[]){1, 1, 2, 2}, 1.0f, 2);
    expect_error(oc, "int64 X");

    /* missing W */
    oc = opc_new("Conv", 2, 1);
    opc_input_randn(oc, 0, 4, (int64_t[]){1, 1, 3, 3}, 1.0f, 1);
    expect_error(oc, "missing W");
}

/* The registry hands out Conv's table (of the kernel set in use). */
static void test_registered(void **state)
{
    (void)state;
    const FoilOp *conv = foilOpFind("Conv");
    assert_non_null(conv);
    assert_string_equal(conv->type, "Conv");
    assert_int_equal(conv->grad_inputs, 0x7);
}

int main(void)
{
    opc_skip_unless_kernels_run();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registered),
        cmocka_unit_test(test_forward_cases),
        cmocka_unit_test(test_gradients),
        cmocka_unit_test(test_fast_paths_match_general),
        cmocka_unit_test(test_weight_grad_deterministic),
        cmocka_unit_test(test_backward_against_reference),
        cmocka_unit_test(test_direct_paths),
        cmocka_unit_test(test_direct_gradients),
        cmocka_unit_test(test_weight_change),
        cmocka_unit_test(test_bad_attributes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
