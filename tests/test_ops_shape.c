/*
 * tests/test_ops_shape.c - Flatten, Reshape, Transpose, Concat, Pad, Shape,
 * Gather, Squeeze, Unsqueeze, Constant, Identity, Dropout; Slice, Split,
 * Expand, Tile, Cast, CastLike, ConstantOfShape, Range, Einsum, Resize.
 *
 * Forward values are checked against naive references written here (index
 * arithmetic one element at a time, independent of the kernels' blocking and
 * index maps) and against hand-computed examples; every backward against
 * finite differences (opc_gradcheck); every rejected input returns an error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foil/rng.h"
#include "op_harness.h"

#define GRAD_TOL 1e-2


/* ------------------------------------------------------------------------- */
/* helpers                                                                   */

static op_case *mk(const char *type, int n_in, int n_out, int opset)
{
    op_case *oc = opc_new(type, n_in, n_out);
    oc->node.opset = opset;
    return oc;
}

static void prepare_ok(op_case *oc)
{
    foil_status st = opc_prepare(oc);
    if (st) fail_msg("prepare failed: %s", foil_last_error());
}

static void forward_ok(op_case *oc, int training)
{
    foil_status st = opc_forward(oc, training);
    if (st) fail_msg("forward failed: %s", foil_last_error());
}

/* prepare must fail with `code`; the message must be non-empty. */
static void prepare_fails(op_case *oc, foil_status code)
{
    foil_clear_error();
    foil_status st = opc_prepare(oc);
    if (st != code) fail_msg("expected status %d, got %d (%s)", (int)code, (int)st, foil_last_error());
    assert_true(strlen(foil_last_error()) > 0);
    opc_free(oc);
}

static void assert_shape(const foil_tensor *t, int ndim, const int64_t *shape)
{
    assert_int_equal(t->ndim, ndim);
    for (int i = 0; i < ndim; i++)
        if (t->shape[i] != shape[i])
            fail_msg("dim %d: expected %lld, got %lld", i, (long long)shape[i], (long long)t->shape[i]);
}

static void fill_iota(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) x[i] = (float)i * 0.5f - 3.0f;
}

static int64_t numel_of(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

static void gradcheck_ok(op_case *oc, int i, float h, int training)
{
    double err = opc_gradcheck(oc, i, h, training);
    if (!(err < GRAD_TOL)) fail_msg("gradient of input %d: relative error %g", i, err);
}

/* ------------------------------------------------------------------------- */
/* Flatten                                                                   */

static void test_flatten(void **state)
{
    (void)state;
    const int64_t shp[4] = {2, 3, 4, 5};
    const int64_t expect[9][2] = {{1, 120}, {2, 60}, {6, 20}, {24, 5}, {120, 1},
                                  {24, 5},  {6, 20}, {2, 60}, {1, 120}};
    const int64_t axes[9] = {0, 1, 2, 3, 4, -1, -2, -3, -4};
    for (int k = 0; k < 9; k++) {
        op_case *oc = mk("Flatten", 1, 1, 13);
        opc_input_randn(oc, 0, 4, shp, 1.0f, 1);
        opc_attr_int(oc, "axis", axes[k]);
        prepare_ok(oc);
        forward_ok(oc, 0);
        assert_shape(&oc->out[0], 2, expect[k]);
        assert_memory_equal(oc->out[0].data, oc->in[0].data, 120 * sizeof(float));
        opc_free(oc);
    }
    /* default axis 1 */
    op_case *oc = mk("Flatten", 1, 1, 9);
    opc_input_randn(oc, 0, 4, shp, 1.0f, 2);
    prepare_ok(oc);
    assert_shape(&oc->out[0], 2, expect[1]);
    gradcheck_ok(oc, 0, 1e-2f, 0);
    opc_free(oc);

    /* 1-D input, axis = rank (test_operator_view) */
    const int64_t one = 1, want[2] = {1, 1};
    oc = mk("Flatten", 1, 1, 6);
    opc_input(oc, 0, FOIL_F32, 1, &one, NULL, 0);
    opc_attr_int(oc, "axis", 1);
    prepare_ok(oc);
    assert_shape(&oc->out[0], 2, want);
    opc_free(oc);

    /* int64 data flows through unchanged */
    const int64_t s2[2] = {3, 2};
    const int64_t v[6] = {1, -2, 3, INT64_MAX, 5, INT64_MIN};
    oc = mk("Flatten", 1, 1, 13);
    opc_input(oc, 0, FOIL_I64, 2, s2, v, 1);
    opc_attr_int(oc, "axis", 0);
    prepare_ok(oc);
    forward_ok(oc, 0);
    assert_int_equal(oc->out[0].dtype, FOIL_I64);
    assert_memory_equal(oc->out[0].data, v, sizeof v);
    opc_free(oc);

    /* out-of-range axes */
    oc = mk("Flatten", 1, 1, 13);
    opc_input_randn(oc, 0, 4, shp, 1.0f, 1);
    opc_attr_int(oc, "axis", 5);
    prepare_fails(oc, FOIL_ERR_FORMAT);
    oc = mk("Flatten", 1, 1, 13);
    opc_input_randn(oc, 0, 4, shp, 1.0f, 1);
    opc_attr_int(oc, "axis", -5);
    prepare_fails(oc, FOIL_ERR_FORMAT);
    /* wrong attribute type */
    oc = mk("Flatten", 1, 1, 13);
    opc_input_randn(oc, 0, 4, shp, 1.0f, 1);
    opc_attr_float(oc, "axis", 1.0f);
    prepare_fails(oc, FOIL_ERR_FORMAT);
}

/* ------------------------------------------------------------------------- */
/* Reshape                                                                   */

static op_case *reshape_case(int ndim, const int64_t *shape, int n, const int64_t *req, int known)
{
    op_case *oc = mk("Reshape", 2, 1, 14);
    opc_input_randn(oc, 0, ndim, shape, 1.0f, 3);
    int64_t len = n;
    opc_input(oc, 1, FOIL_I64, 1, &len, req, known);
    return oc;
}

static void test_reshape(void **state)
{
    (void)state;
    const int64_t x[3] = {2, 3, 4};
    struct { int n; int64_t req[5]; int ndim; int64_t want[5]; } cases[] = {
        {4, {2, 3, 2, 2}, 4, {2, 3, 2, 2}}, {3, {2, -1, 2}, 3, {2, 6, 2}},   {4, {-1, 2, 3, 4}, 4, {1, 2, 3, 4}},
        {1, {24}, 1, {24}},                 {2, {2, 12}, 2, {2, 12}},        {3, {4, 2, 3}, 3, {4, 2, 3}},
        {4, {2, 0, 1, -1}, 4, {2, 3, 1, 4}}, {4, {2, 0, 4, 1}, 4, {2, 3, 4, 1}}, {1, {-1}, 1, {24}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        op_case *oc = reshape_case(3, x, cases[k].n, cases[k].req, 1);
        prepare_ok(oc);
        forward_ok(oc, 0);
        assert_shape(&oc->out[0], cases[k].ndim, cases[k].want);
        assert_memory_equal(oc->out[0].data, oc->in[0].data, 24 * sizeof(float));
        opc_free(oc);
    }
    /* allowzero: 0 is honoured (test_reshape_allowzero_reordered) */
    const int64_t z[3] = {0, 3, 4}, req[3] = {3, 4, 0}, want[3] = {3, 4, 0};
    op_case *oc = reshape_case(3, z, 3, req, 1);
    opc_attr_int(oc, "allowzero", 1);
    prepare_ok(oc);
    forward_ok(oc, 0);
    assert_shape(&oc->out[0], 3, want);
    opc_free(oc);
    /* ... but without allowzero 0 copies the input dim: [0,3,4] -> [3,4,4]? count mismatch */
    oc = reshape_case(3, z, 3, req, 1);
    prepare_fails(oc, FOIL_ERR_SHAPE);

    /* opset 4: shape attribute */
    const int64_t attr[2] = {4, -1}, want2[2] = {4, 6};
    oc = mk("Reshape", 1, 1, 4);
    opc_input_randn(oc, 0, 3, x, 1.0f, 3);
    opc_attr_ints(oc, "shape", 2, attr);
    prepare_ok(oc);
    forward_ok(oc, 0);
    assert_shape(&oc->out[0], 2, want2);
    gradcheck_ok(oc, 0, 1e-2f, 0);
    opc_free(oc);

    /* gradient */
    const int64_t r6[2] = {6, 4};
    oc = reshape_case(3, x, 2, r6, 1);
    gradcheck_ok(oc, 0, 1e-2f, 0);
    opc_free(oc);

    /* errors */
    const int64_t two_neg[2] = {-1, -1}, bad_count[2] = {5, 5}, neg2[2] = {-2, 12}, zero_far[4] = {2, 3, 4, 0};
    const int64_t zneg[2] = {0, -1};
    prepare_fails(reshape_case(3, x, 2, two_neg, 1), FOIL_ERR_FORMAT);
    prepare_fails(reshape_case(3, x, 2, bad_count, 1), FOIL_ERR_SHAPE);
    prepare_fails(reshape_case(3, x, 2, neg2, 1), FOIL_ERR_FORMAT);
    prepare_fails(reshape_case(3, x, 4, zero_far, 1), FOIL_ERR_FORMAT);
    prepare_fails(reshape_case(3, x, 2, r6, 0), FOIL_ERR_UNSUPPORTED); /* shape not known at plan time */
    oc = reshape_case(3, x, 2, zneg, 1);
    opc_attr_int(oc, "allowzero", 1);
    prepare_fails(oc, FOIL_ERR_FORMAT);
    /* -1 with a zero-sized other dim cannot be inferred */
    const int64_t zm[2] = {0, -1};
    op_case *oz = reshape_case(3, z, 2, zm, 1);
    opc_attr_int(oz, "allowzero", 1);
    prepare_fails(oz, FOIL_ERR_FORMAT);
    /* shape must be int64 */
    oc = mk("Reshape", 2, 1, 14);
    opc_input_randn(oc, 0, 3, x, 1.0f, 3);
    const int64_t two = 2;
    const float fshape[2] = {6, 4};
    opc_input(oc, 1, FOIL_F32, 1, &two, fshape, 1);
    prepare_fails(oc, FOIL_ERR_FORMAT);
    /* opset 4 without the attribute */
    oc = mk("Reshape", 1, 1, 4);
    opc_input_randn(oc, 0, 3, x, 1.0f, 3);
    prepare_fails(oc, FOIL_ERR_FORMAT);
}

/* ------------------------------------------------------------------------- */
/* Transpose                                                                 */

/* Naive: for each output index, decode its coordinates, map to the input. */
static void naive_transpose(const void *in, void *out, size_t es, int r, const int64_t *shape, const int *perm)
{
    int64_t oshape[8], istride[8], s = 1, n = numel_of(r, shape);
    for (int d = r - 1; d >= 0; d--) {
        istride[d] = s;
        s *= shape[d];
    }
    for (int k = 0; k < r; k++) oshape[k] = shape[perm[k]];
    for (int64_t o = 0; o < n; o++) {
        int64_t rem = o, src = 0;
        for (int k = r - 1; k >= 0; k--) {
            int64_t c = rem % oshape[k];
            rem /= oshape[k];
            src += c * istride[perm[k]];
        }
        memcpy((char *)out + (size_t)o * es, (const char *)in + (size_t)src * es, es);
    }
}

static void check_transpose(foil_dtype dt, int r, const int64_t *shape, const int *perm, int use_default)
{
    op_case *oc = mk("Transpose", 1, 1, 13);
    size_t es = foil_dtype_size(dt);
    int64_t n = numel_of(r, shape);
    unsigned char *data = malloc((size_t)n * es + 1);
    foil_rng g = foil_rng_make(99, (uint64_t)r);
    for (int64_t i = 0; i < n * (int64_t)es; i++) data[i] = (unsigned char)foil_rng_u64(&g);
    if (dt == FOIL_F32)
        for (int64_t i = 0; i < n; i++) ((float *)data)[i] = (float)i;
    opc_input(oc, 0, dt, r, shape, data, 0);
    int p[8];
    for (int k = 0; k < r; k++) p[k] = use_default ? r - 1 - k : perm[k];
    if (!use_default) {
        int64_t pv[8];
        for (int k = 0; k < r; k++) pv[k] = perm[k];
        opc_attr_ints(oc, "perm", r, pv);
    }
    prepare_ok(oc);
    forward_ok(oc, 0);
    unsigned char *want = malloc((size_t)n * es + 1);
    naive_transpose(data, want, es, r, shape, p);
    int64_t oshape[8];
    for (int k = 0; k < r; k++) oshape[k] = shape[p[k]];
    assert_shape(&oc->out[0], r, oshape);
    if (n) assert_memory_equal(oc->out[0].data, want, (size_t)n * es);
    free(want);
    free(data);
    opc_free(oc);
}

static void test_transpose(void **state)
{
    (void)state;
    const int64_t s3[3] = {2, 3, 4};
    const int perms3[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    for (int k = 0; k < 6; k++) check_transpose(FOIL_F32, 3, s3, perms3[k], 0);
    check_transpose(FOIL_F32, 3, s3, NULL, 1); /* default: reversed */

    /* NCHW <-> NHWC at sizes that do not divide the 32-wide tiles, every dtype size */
    const int64_t s4[4] = {3, 37, 19, 45};
    const int nhwc[4] = {0, 2, 3, 1}, nchw[4] = {0, 3, 1, 2}, odd[4] = {3, 1, 0, 2}, swap[4] = {1, 0, 3, 2};
    const foil_dtype dts[4] = {FOIL_F32, FOIL_U8, FOIL_I16, FOIL_I64};
    for (int t = 0; t < 4; t++) {
        check_transpose(dts[t], 4, s4, nhwc, 0);
        check_transpose(dts[t], 4, s4, nchw, 0);
        check_transpose(dts[t], 4, s4, odd, 0);
        check_transpose(dts[t], 4, s4, swap, 0);
    }
    /* 2-D, large enough for the threaded path */
    const int64_t s2[2] = {300, 257};
    const int t2[2] = {1, 0};
    check_transpose(FOIL_F32, 2, s2, t2, 0);
    check_transpose(FOIL_U8, 2, s2, t2, 0);
    /* pixel shuffle (test_PixelShuffle) and size-1 dims (test_operator_permute2) */
    const int64_t s6[6] = {1, 1, 3, 3, 4, 4}, ones[6] = {1, 1, 1, 1, 1, 1};
    const int ps[6] = {0, 1, 4, 2, 5, 3};
    check_transpose(FOIL_F32, 6, s6, ps, 0);
    check_transpose(FOIL_F32, 6, ones, ps, 0);
    /* rank 8, zero-sized, rank 0 */
    const int64_t s8[8] = {2, 1, 3, 2, 1, 2, 3, 2};
    const int p8[8] = {7, 0, 5, 2, 4, 1, 6, 3};
    check_transpose(FOIL_F32, 8, s8, p8, 0);
    const int64_t s0[3] = {2, 0, 3};
    check_transpose(FOIL_F32, 3, s0, perms3[4], 0);
    check_transpose(FOIL_I64, 0, NULL, NULL, 1);

    /* gradients */
    op_case *oc = mk("Transpose", 1, 1, 13);
    const int64_t g4[4] = {2, 3, 4, 5};
    const int64_t gp[4] = {0, 2, 3, 1};
    opc_input_randn(oc, 0, 4, g4, 1.0f, 5);
    opc_attr_ints(oc, "perm", 4, gp);
    gradcheck_ok(oc, 0, 1e-2f, 0);
    opc_free(oc);
    oc = mk("Transpose", 1, 1, 13);
    opc_input_randn(oc, 0, 3, s3, 1.0f, 5);
    gradcheck_ok(oc, 0, 1e-2f, 0);
    opc_free(oc);

    /* errors */
    const int64_t notperm[3] = {0, 0, 1}, outside[3] = {0, 1, 3}, shortp[2] = {1, 0};
    oc = mk("Transpose", 1, 1, 13);
    opc_input_randn(oc, 0, 3, s3, 1.0f, 5);
    opc_attr_ints(oc, "perm", 3, notperm);
    prepare_fails(oc, FOIL_ERR_FORMAT);
    oc = mk("Transpose", 1, 1, 13);
    opc_input_randn(oc, 0, 3, s3, 1.0f, 5);
    opc_attr_ints(oc, "perm", 3, outside);
    prepare_fails(oc, FOIL_ERR_FORMAT);
    oc = mk("Transpose", 1, 1, 13);
    opc_input_randn(oc, 0, 3, s3, 1.0f, 5);
    opc_attr_ints(oc, "perm", 2, shortp);
    prepare_fails(oc, FOIL_ERR_SHAPE);
}

/* ------------------------------------------------------------------------- */
/* Concat                                                                    */

static void test_concat(void **state)
{
    (void)state;
    /* hand example (test_concat_2d_axis_1) */
    const int64_t s22[2] = {2, 2};
    const float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8};
    const float want1[8] = {1, 2, 5, 6, 3, 4, 7, 8}, want0[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    for (int ax = -2; ax < 2; ax++) {
        op_case *oc = mk("Concat", 2, 1, 13);
        opc_input(oc, 0, FOIL_F32, 2, s22, a, 0);
        opc_input(oc, 1, FOIL_F32, 2, s22, b, 0);
        opc_attr_int(oc, "axis", ax);
        prepare_ok(oc);
        forward_ok(oc, 0);
        const int64_t w0[2] = {4, 2}, w1[2] = {2, 4};
        int axis = ax < 0 ? ax + 2 : ax;
        assert_shape(&oc->out[0], 2, axis == 0 ? w0 : w1);
        assert_memory_equal(oc->out[0].data, axis == 0 ? want0 : want1, sizeof want0);
        opc_free(oc);
    }

    /* three inputs of different sizes on the middle axis, one of size 0,
     * against a naive reference */
    const int64_t sa[3] = {3, 2, 5}, sb[3] = {3, 4, 5}, sc[3] = {3, 0, 5}, sd[3] = {3, 1, 5};
    const int64_t *ss[4] = {sa, sb, sc, sd};
    op_case *oc = mk("Concat", 4, 1, 11);
    for (int i = 0; i < 4; i++) opc_input_randn(oc, i, 3, ss[i], 1.0f, (uint64_t)(10 + i));
    opc_attr_int(oc, "axis", -2);
    prepare_ok(oc);
    forward_ok(oc, 0);
    const int64_t wo[3] = {3, 7, 5};
    assert_shape(&oc->out[0], 3, wo);
    const float *y = foil_f32(&oc->out[0]);
    for (int64_t i = 0; i < 3; i++)
        for (int64_t j = 0; j < 7; j++)
            for (int64_t k = 0; k < 5; k++) {
                int src = 0;
                int64_t jj = j;
                while (jj >= ss[src][1]) jj -= ss[src++][1];
                float w = foil_f32(&oc->in[src])[(i * ss[src][1] + jj) * 5 + k];
                assert_true(y[(i * 7 + j) * 5 + k] == w);
            }
    for (int i = 0; i < 4; i++) gradcheck_ok(oc, i, 1e-2f, 0);
    opc_free(oc);

    /* int64 shape tensors (the Shape -> Concat -> Reshape idiom), axis 0 */
    const int64_t n2 = 2, n1 = 1, v1[2] = {7, 8}, v2[1] = {-1}, want[3] = {7, 8, -1};
    oc = mk("Concat", 2, 1, 13);
    opc_input(oc, 0, FOIL_I64, 1, &n2, v1, 1);
    opc_input(oc, 1, FOIL_I64, 1, &n1, v2, 1);
    opc_attr_int(oc, "axis", 0);
    prepare_ok(oc);
    forward_ok(oc, 0);
    assert_memory_equal(oc->out[0].data, want, sizeof want);
    opc_free(oc);

    /* errors: mismatched dims, dtypes, ranks, axis, missing axis */
    const int64_t s23[2] = {2, 3}, s32[2] = {3, 2}, s2[1] = {2};
    oc = mk("Concat", 2, 1, 13);
    opc_input_randn(oc, 0, 2, s23, 1.0f, 1);
    opc_input_randn(oc, 1, 2, s32, 1.0f, 2);
    opc_attr_int(oc, "axis", 1);
    prepare_fails(oc, FOIL_ERR_SHAPE);
    oc = mk("Concat", 2, 1, 13);
    opc_input_randn(oc, 0, 2, s23, 1.0f, 1);
    opc_input(oc, 1, FOIL_I64, 2, s23, NULL, 0);
    opc_attr_int(oc, "axis", 1);
    prepare_fails(oc, FOIL_ERR_FORMAT);
    oc = mk("Concat", 2, 1, 13);
    opc_input_randn(oc, 0, 2, s23, 1.0f, 1);
    opc_input_randn(oc, 1, 1, s2, 1.0f, 2);
    opc_attr_int(oc, "axis", 0);
    prepare_fails(oc, FOIL_ERR_SHAPE);
    oc = mk("Concat", 2, 1, 13);
    opc_input_randn(oc, 0, 2, s23, 1.0f, 1);
    opc_input_randn(oc, 1, 2, s23, 1.0f, 2);
    opc_attr_int(oc, "axis", 2);
    prepare_fails(oc, FOIL_ERR_FORMAT);
    oc = mk("Concat", 2, 1, 13);
    opc_input_randn(oc, 0, 2, s23, 1.0f, 1);
    opc_input_randn(oc, 1, 2, s23, 1.0f, 2);
    prepare_fails(oc, FOIL_ERR_FORMAT);
}

/* ------------------------------------------------------------------------- */
/* Pad                                                                       */

enum { M_CONST, M_REFLECT, M_EDGE };
static const char *const mode_names[3] = {"constant", "reflect", "edge"};

/* Reference: crop (negative pads) by explicit slicing into a new buffer,
 * then pad coordinate by coordinate, reflecting by repeated folding. Works
 * in double, for float32 data. */
static float *naive_pad(const float *x, int r, const int64_t *shape, const int64_t *pads, int mode, float value,
                        int64_t *oshape)
{
    int64_t cshape[8], lo[8], n = 1, cn = 1;
    for (int d = 0; d < r; d++) {
        lo[d] = pads[d] < 0 ? -pads[d] : 0;
        cshape[d] = shape[d] - lo[d] - (pads[r + d] < 0 ? -pads[r + d] : 0);
        cn *= cshape[d];
    }
    float *crop = malloc((size_t)(cn ? cn : 1) * sizeof *crop);
    for (int64_t i = 0; i < cn; i++) {
        int64_t rem = i, src = 0, stride = 1;
        for (int d = r - 1; d >= 0; d--) {
            int64_t c = rem % cshape[d];
            rem /= cshape[d];
            src += (c + lo[d]) * stride;
            stride *= shape[d];
        }
        crop[i] = x[src];
    }
    for (int d = 0; d < r; d++) {
        oshape[d] = cshape[d] + (pads[d] > 0 ? pads[d] : 0) + (pads[r + d] > 0 ? pads[r + d] : 0);
        n *= oshape[d];
    }
    float *y = malloc((size_t)(n ? n : 1) * sizeof *y);
    for (int64_t o = 0; o < n; o++) {
        int64_t rem = o, src = 0, stride = 1;
        int fill = 0;
        for (int d = r - 1; d >= 0; d--) {
            int64_t c = rem % oshape[d] - (pads[d] > 0 ? pads[d] : 0);
            rem /= oshape[d];
            int64_t m = cshape[d];
            if (c < 0 || c >= m) {
                if (mode == M_CONST) fill = 1;
                else if (mode == M_EDGE) c = c < 0 ? 0 : m - 1;
                else if (m == 1) c = 0;
                else
                    while (c < 0 || c >= m) c = c < 0 ? -c : 2 * (m - 1) - c;
            }
            src += c * stride;
            stride *= m;
        }
        y[o] = fill ? value : crop[src];
    }
    free(crop);
    return y;
}

/* Pad a random float32 tensor (opset 13 inputs, or opset 6 attributes) and
 * compare with the reference; then check the gradient. */
static void check_pad(int r, const int64_t *shape, const int64_t *pads, int mode, float value, int opset, int grad)
{
    op_case *oc = mk("Pad", opset >= 11 ? 3 : 1, 1, opset);
    opc_input_randn(oc, 0, r, shape, 1.0f, 21);
    int64_t np = 2 * r;
    if (opset >= 11) {
        opc_input(oc, 1, FOIL_I64, 1, &np, pads, 1);
        if (value != 0.0f) opc_input(oc, 2, FOIL_F32, 0, NULL, &value, 0);
    } else {
        opc_attr_ints(oc, "pads", 2 * r, pads);
        if (value != 0.0f) opc_attr_float(oc, "value", value);
    }
    if (mode != M_CONST || (r & 1)) opc_attr_string(oc, "mode", mode_names[mode]);
    prepare_ok(oc);
    forward_ok(oc, 0);
    int64_t oshape[8];
    float *want = naive_pad(foil_f32(&oc->in[0]), r, shape, pads, mode, value, oshape);
    assert_shape(&oc->out[0], r, oshape);
    double err = max_abs_diff(foil_f32(&oc->out[0]), want, oc->out[0].numel);
    if (err != 0.0) fail_msg("pad mode %s: forward differs by %g", mode_names[mode], err);
    free(want);
    if (grad) gradcheck_ok(oc, 0, 1e-2f, 0);
    opc_free(oc);
}

static void test_pad(void **state)
{
    (void)state;
    /* hand examples */
    {
        const int64_t s[1] = {3}, p[2] = {2, 2};
        const float x[3] = {1, 2, 3};
        const float w_reflect[7] = {3, 2, 1, 2, 3, 2, 1}, w_edge[7] = {1, 1, 1, 2, 3, 3, 3},
                    w_const[7] = {9, 9, 1, 2, 3, 9, 9};
        const float *ws[3] = {w_const, w_reflect, w_edge};
        for (int mode = 0; mode < 3; mode++) {
            op_case *oc = mk("Pad", 3, 1, 13);
            opc_input(oc, 0, FOIL_F32, 1, s, x, 0);
            int64_t two = 2;
            float nine = 9;
            opc_input(oc, 1, FOIL_I64, 1, &two, p, 1);
            opc_input(oc, 2, FOIL_F32, 0, NULL, &nine, 0);
            opc_attr_string(oc, "mode", mode_names[mode]);
            prepare_ok(oc);
            forward_ok(oc, 0);
            assert_memory_equal(oc->out[0].data, ws[mode], sizeof w_edge);
            opc_free(oc);
        }
        /* numpy: np.pad([1,2,3], 5, mode='reflect') */
        const int64_t p5[2] = {5, 5};
        const float w5[13] = {2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2};
        op_case *oc = mk("Pad", 2, 1, 13);
        opc_input(oc, 0, FOIL_F32, 1, s, x, 0);
        int64_t two = 2;
        opc_input(oc, 1, FOIL_I64, 1, &two, p5, 1);
        opc_attr_string(oc, "mode", "reflect");
        prepare_ok(oc);
        forward_ok(oc, 0);
        assert_memory_equal(oc->out[0].data, w5, sizeof w5);
        opc_free(oc);
    }

    /* the conformance geometries: 4-D, pads on H and W (pytorch ...Pad2d) */
    const int64_t s4[4] = {2, 3, 4, 4}, s8[4] = {2, 3, 8, 8}, sp[4] = {1, 1, 2, 4};
    const int64_t p2d[8] = {0, 0, 3, 1, 0, 0, 4, 2}, pop[8] = {0, 0, 0, 2, 0, 0, 1, 3},
                  pnode[8] = {0, 0, 1, 3, 0, 0, 2, 4};
    check_pad(4, s4, p2d, M_CONST, 2.0f, 6, 1);
    check_pad(4, s4, p2d, M_CONST, 0.0f, 6, 0);
    check_pad(4, s8, p2d, M_REFLECT, 0.0f, 6, 1);
    check_pad(4, s4, p2d, M_EDGE, 0.0f, 6, 1);
    check_pad(4, sp, pop, M_REFLECT, 0.0f, 6, 1);
    check_pad(4, s4, pnode, M_CONST, 1.2f, 13, 1);
    /* every axis padded, 3-D, pads larger than the dims for reflect */
    const int64_t s3[3] = {3, 2, 5}, p3[6] = {2, 3, 1, 1, 4, 6};
    for (int mode = 0; mode < 3; mode++) check_pad(3, s3, p3, mode, -0.5f, 13, 1);
    /* negative pads crop (mixed with padding on the other side) */
    const int64_t pneg[6] = {-1, 2, -2, 1, -1, 3}, s3b[3] = {4, 5, 6};
    for (int mode = 0; mode < 3; mode++) check_pad(3, s3b, pneg, mode, 0.25f, 11, 1);
    /* size-1 reflect repeats the element (numpy) */
    const int64_t s1[2] = {1, 3}, p1[4] = {2, 0, 1, 0};
    check_pad(2, s1, p1, M_REFLECT, 0.0f, 13, 1);
    /* large enough for the threaded loops */
    const int64_t big[4] = {4, 8, 64, 64}, pbig[8] = {0, 0, 2, 2, 0, 0, 2, 2};
    for (int mode = 0; mode < 3; mode++) check_pad(4, big, pbig, mode, 0.0f, 13, 0);
    /* 1-D */
    const int64_t s1d[1] = {6}, p1d[2] = {3, -2};
    for (int mode = 0; mode < 3; mode++) check_pad(1, s1d, p1d, mode, 4.0f, 13, 1);

    /* int32 data (test_edge_pad/test_reflect_pad) and uint8 with a value */
    {
        const int64_t s[2] = {2, 3}, p[4] = {1, 1, 1, 1}, four = 4;
        const int32_t x[6] = {1, 2, 3, 4, 5, 6};
        const int32_t w_edge[20] = {1, 1, 2, 3, 3, 1, 1, 2, 3, 3, 4, 4, 5, 6, 6, 4, 4, 5, 6, 6};
        const int32_t w_refl[20] = {5, 4, 5, 6, 5, 2, 1, 2, 3, 2, 5, 4, 5, 6, 5, 2, 1, 2, 3, 2};
        for (int k = 0; k < 2; k++) {
            op_case *oc = mk("Pad", 2, 1, 13);
            opc_input(oc, 0, FOIL_I32, 2, s, x, 0);
            opc_input(oc, 1, FOIL_I64, 1, &four, p, 1);
            opc_attr_string(oc, "mode", k ? "reflect" : "edge");
            prepare_ok(oc);
            forward_ok(oc, 0);
            assert_int_equal(oc->out[0].dtype, FOIL_I32);
            assert_memory_equal(oc->out[0].data, k ? w_refl : w_edge, sizeof w_edge);
            opc_free(oc);
        }
        const uint8_t xb[6] = {1, 2, 3, 4, 5, 6}, vb = 200;
        const uint8_t wb[20] = {200, 200, 200, 200, 200, 200, 1, 2, 3, 200,
                                200, 4,   5,   6,   200, 200, 200, 200, 200, 200};
        op_case *oc = mk("Pad", 3, 1, 13);
        opc_input(oc, 0, FOIL_U8, 2, s, xb, 0);
        opc_input(oc, 1, FOIL_I64, 1, &four, p, 1);
        opc_input(oc, 2, FOIL_U8, 0, NULL, &vb, 0);
        prepare_ok(oc);
        forward_ok(oc, 0);
        assert_memory_equal(oc->out[0].data, wb, sizeof wb);
        opc_free(oc);
        /* opset 6 attribute value converted to the data type */
        oc = mk("Pad", 1, 1, 6);
        const double xd[6] = {1, 2, 3, 4, 5, 6};
        opc_input(oc, 0, FOIL_F64, 2, s, xd, 0);
        opc_attr_ints(oc, "pads", 4, p);
        opc_attr_float(oc, "value", 2.5f);
        prepare_ok(oc);
        forward_ok(oc, 0);
        const double *yd = oc->out[0].data;
        assert_true(yd[0] == 2.5 && yd[6] == 1.0 && yd[13] == 6.0 && yd[19] == 2.5);
        opc_free(oc);
    }

    /* opset 18 axes: pad only axes -1 and 1 of a 3-D tensor */
    {
        const int64_t s[3] = {2, 3, 4}, naxes = 2, npads = 4;
        const int64_t axes[2] = {-1, 1}, pads[4] = {1, 0, 2, 1}; /* W: (1,2), C: (0,1) */
        const int64_t full[6] = {0, 0, 1, 0, 1, 2};
        op_case *oc = mk("Pad", 4, 1, 18);
        opc_input_randn(oc, 0, 3, s, 1.0f, 8);
        opc_input(oc, 1, FOIL_I64, 1, &npads, pads, 1);
        opc_input(oc, 3, FOIL_I64, 1, &naxes, axes, 1);
        opc_attr_string(oc, "mode", "edge");
        prepare_ok(oc);
        forward_ok(oc, 0);
        int64_t oshape[3];
        float *want = naive_pad(foil_f32(&oc->in[0]), 3, s, full, M_EDGE, 0, oshape);
        assert_shape(&oc->out[0], 3, oshape);
        assert_true(max_abs_diff(foil_f32(&oc->out[0]), want, oc->out[0].numel) == 0.0);
        free(want);
        gradcheck_ok(oc, 0, 1e-2f, 0);
        opc_free(oc);
        /* repeated axis */
        const int64_t bad_axes[2] = {2, -1};
        oc = mk("Pad", 4, 1, 18);
        opc_input_randn(oc, 0, 3, s, 1.0f, 8);
        opc_input(oc, 1, FOIL_I64, 1, &npads, pads, 1);
        opc_input(oc, 3, FOIL_I64, 1, &naxes, bad_axes, 1);
        prepare_fails(oc, FOIL_ERR_FORMAT);
    }

    /* errors */
    {
        const int64_t s[2] = {2, 3}, three = 3, four = 4;
        const int64_t p3[3] = {1, 1, 1}, pcrop[4] = {0, -2, 0, -2}, pok[4] = {1, 1, 1, 1};
        const int64_t pempty[4] = {0, -3, 0, 1};
        op_case *oc = mk("Pad", 2, 1, 13);
        opc_input_randn(oc, 0, 2, s, 1.0f, 1);
        opc_input(oc, 1, FOIL_I64, 1, &three, p3, 1);
        prepare_fails(oc, FOIL_ERR_FORMAT); /* wrong count */
        oc = mk("Pad", 2, 1, 13);
        opc_input_randn(oc, 0, 2, s, 1.0f, 1);
        opc_input(oc, 1, FOIL_I64, 1, &four, pcrop, 1);
        prepare_fails(oc, FOIL_ERR_SHAPE); /* crops more than the axis */
        oc = mk("Pad", 2, 1, 13);
        opc_input_randn(oc, 0, 2, s, 1.0f, 1);
        opc_input(oc, 1, FOIL_I64, 1, &four, pempty, 1);
        opc_attr_string(oc, "mode", "reflect");
        prepare_fails(oc, FOIL_ERR_SHAPE); /* reflect from nothing */
        oc = mk("Pad", 2, 1, 13);
        opc_input_randn(oc, 0, 2, s, 1.0f, 1);
        opc_input(oc, 1, FOIL_I64, 1, &four, pok, 0);
        prepare_fails(oc, FOIL_ERR_UNSUPPORTED); /* pads not known */
        oc = mk("Pad", 2, 1, 13);
        opc_input_randn(oc, 0, 2, s, 1.0f, 1);
        opc_input(oc, 1, FOIL_I64, 1, &four, pok, 1);
        opc_attr_string(oc, "mode", "wrap");
        prepare_fails(oc, FOIL_ERR_UNSUPPORTED);
        oc = mk("Pad", 2, 1, 13);
        opc_input_randn(oc, 0, 2, s, 1.0f, 1);
        opc_input(oc, 1, FOIL_I64, 1, &four, pok, 1);
        opc_attr_string(oc, "mode", "mirror");
        prepare_fails(oc, FOIL_ERR_FORMAT);
        oc = mk("Pad", 3, 1, 13);
        opc_input_randn(oc, 0, 2, s, 1.0f, 1);
        opc_input(oc, 1, FOIL_I64, 1, &four, pok, 1);
        opc_input(oc, 2, FOIL_I64, 0, NULL, NULL, 0);
        prepare_fails(oc, FOIL_ERR_FORMAT); /* constant_value of another type */
        oc = mk("Pad", 1, 1, 6);
        opc_input_randn(oc, 0, 2, s, 1.0f, 1);
        prepare_fails(oc, FOIL_ERR_FORMAT); /* opset 6 without pads */
    }
}

/* ------------------------------------------------------------------------- */
/* Shape                                                                     */

static void test_shape(void **state)
{
    (void)state;
    const int64_t s[3] = {3, 4, 5};
    struct { int has_s, has_e; int64_t start, end; int n; int64_t want[3]; } cases[] = {
        {0, 0, 0, 0, 3, {3, 4, 5}},  {0, 1, 0, 10, 3, {3, 4, 5}}, {1, 0, -10, 0, 3, {3, 4, 5}},
        {0, 1, 0, 1, 1, {3}},        {0, 1, 0, -1, 2, {3, 4}},    {1, 0, 1, 0, 2, {4, 5}},
        {1, 1, 1, 2, 1, {4}},        {1, 1, 1, -1, 1, {4}},       {1, 0, -1, 0, 1, {5}},
        {1, 1, 2, 1, 0, {0}},        {1, 1, 5, 7, 0, {0}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        op_case *oc = mk("Shape", 1, 1, 15);
        /* the data is never read: leave the input without values */
        opc_input(oc, 0, FOIL_F32, 3, s, NULL, 0);
        if (cases[k].has_s) opc_attr_int(oc, "start", cases[k].start);
        if (cases[k].has_e) opc_attr_int(oc, "end", cases[k].end);
        prepare_ok(oc);
        foil_free(oc->in[0].data);
        oc->in[0].data = NULL; /* forward must read only the shape */
        oc->in[0].owns_data = 0;
        forward_ok(oc, 0);
        int64_t n = cases[k].n;
        assert_int_equal(oc->out[0].dtype, FOIL_I64);
        assert_shape(&oc->out[0], 1, &n);
        if (n) assert_memory_equal(oc->out[0].data, cases[k].want, (size_t)n * 8);
        opc_free(oc);
    }
    /* before opset 15 start/end do not exist */
    op_case *oc = mk("Shape", 1, 1, 13);
    opc_input(oc, 0, FOIL_U8, 3, s, NULL, 0);
    opc_attr_int(oc, "start", 1);
    prepare_ok(oc);
    forward_ok(oc, 0);
    assert_int_equal(oc->out[0].numel, 3);
    assert_memory_equal(oc->out[0].data, s, sizeof s);
    assert_null(oc->node.op->backward);
    opc_free(oc);
    /* scalar input: empty shape */
    oc = mk("Shape", 1, 1, 15);
    opc_input(oc, 0, FOIL_F32, 0, NULL, NULL, 0);
    prepare_ok(oc);
    assert_int_equal(oc->out[0].numel, 0);
    opc_free(oc);
}

/* ------------------------------------------------------------------------- */
/* Gather                                                                    */

static void check_gather(foil_dtype idt, int r, const int64_t *shape, int64_t axis, int qr, const int64_t *qshape,
                         const int64_t *idx, int grad)
{
    op_case *oc = mk("Gather", 2, 1, 13);
    opc_input_randn(oc, 0, r, shape, 1.0f, 31);
    int64_t K = numel_of(qr, qshape);
    if (idt == FOIL_I64) {
        opc_input(oc, 1, FOIL_I64, qr, qshape, idx, 0);
    } else {
        int32_t i32[64];
        for (int64_t k = 0; k < K; k++) i32[k] = (int32_t)idx[k];
        opc_input(oc, 1, FOIL_I32, qr, qshape, i32, 0);
    }
    opc_attr_int(oc, "axis", axis);
    prepare_ok(oc);
    forward_ok(oc, 0);
    int a = (int)(axis < 0 ? axis + r : axis);
    int64_t oshape[8];
    int ro = 0;
    for (int d = 0; d < a; d++) oshape[ro++] = shape[d];
    for (int d = 0; d < qr; d++) oshape[ro++] = qshape[d];
    for (int d = a + 1; d < r; d++) oshape[ro++] = shape[d];
    assert_shape(&oc->out[0], ro, oshape);
    /* naive: decode each output coordinate */
    const float *x = foil_f32(&oc->in[0]), *y = foil_f32(&oc->out[0]);
    for (int64_t o = 0; o < oc->out[0].numel; o++) {
        int64_t coord[8], rem = o;
        for (int d = ro - 1; d >= 0; d--) {
            coord[d] = rem % oshape[d];
            rem /= oshape[d];
        }
        int64_t qflat = 0;
        for (int d = 0; d < qr; d++) qflat = qflat * qshape[d] + coord[a + d];
        int64_t j = idx[qflat] < 0 ? idx[qflat] + shape[a] : idx[qflat];
        int64_t src = 0;
        for (int d = 0; d < r; d++) {
            int64_t c = d < a ? coord[d] : d == a ? j : coord[d - 1 + qr];
            src = src * shape[d] + c;
        }
        assert_true(y[o] == x[src]);
    }
    if (grad) gradcheck_ok(oc, 0, 1e-2f, 0);
    opc_free(oc);
}

static void test_gather(void **state)
{
    (void)state;
    const int64_t s4[4] = {5, 4, 3, 2}, q3 = 3, i013[3] = {0, 1, 3};
    check_gather(FOIL_I64, 4, s4, 0, 1, &q3, i013, 1);
    check_gather(FOIL_I64, 4, s4, 1, 1, &q3, i013, 1);
    check_gather(FOIL_I32, 4, s4, -1, 1, &q3, (const int64_t[]){1, 0, 1}, 1);
    const int64_t s33[2] = {3, 3}, q12[2] = {1, 2}, i02[2] = {0, 2};
    check_gather(FOIL_I64, 2, s33, 1, 2, q12, i02, 1);
    const int64_t s10 = 10, ineg[3] = {0, -9, -10};
    check_gather(FOIL_I64, 1, &s10, 0, 1, &q3, ineg, 1);
    /* embedding: repeated rows accumulate their gradients */
    const int64_t emb[2] = {4, 3}, q14[2] = {1, 4}, rep[4] = {0, 1, 0, 1};
    check_gather(FOIL_I64, 2, emb, 0, 2, q14, rep, 1);
    check_gather(FOIL_I32, 2, emb, 0, 2, q14, rep, 1);
    /* scalar index removes the axis; indices of rank 3 */
    check_gather(FOIL_I64, 4, s4, 2, 0, NULL, (const int64_t[]){2}, 1);
    const int64_t q222[3] = {2, 2, 2}, i8[8] = {0, 1, 2, 3, 3, 2, 1, -4};
    check_gather(FOIL_I64, 4, s4, 1, 3, q222, i8, 0);

    /* int64 data (gathering from a shape) */
    const int64_t sh = 4, data[4] = {8, 3, 224, 224}, two = 2, which[2] = {0, -1}, want[2] = {8, 224};
    op_case *oc = mk("Gather", 2, 1, 13);
    opc_input(oc, 0, FOIL_I64, 1, &sh, data, 1);
    opc_input(oc, 1, FOIL_I64, 1, &two, which, 1);
    prepare_ok(oc);
    forward_ok(oc, 0);
    assert_memory_equal(oc->out[0].data, want, sizeof want);
    opc_free(oc);

    /* out-of-range indices: forward fails cleanly */
    const int64_t bad[2][1] = {{5}, {-6}};
    for (int k = 0; k < 2; k++) {
        oc = mk("Gather", 2, 1, 13);
        const int64_t s5 = 5, one = 1;
        opc_input_randn(oc, 0, 1, &s5, 1.0f, 1);
        opc_input(oc, 1, FOIL_I64, 1, &one, bad[k], 0);
        prepare_ok(oc);
        foil_clear_error();
        assert_int_equal(opc_forward(oc, 0), FOIL_ERR_ARG);
        assert_non_null(strstr(foil_last_error(), "out of range"));
        opc_free(oc);
    }
    /* bad axis, bad index type */
    oc = mk("Gather", 2, 1, 13);
    opc_input_randn(oc, 0, 4, s4, 1.0f, 1);
    opc_input(oc, 1, FOIL_I64, 1, &q3, i013, 0);
    opc_attr_int(oc, "axis", 4);
    prepare_fails(oc, FOIL_ERR_FORMAT);
    oc = mk("Gather", 2, 1, 13);
    opc_input_randn(oc, 0, 4, s4, 1.0f, 1);
    opc_input_randn(oc, 1, 1, &q3, 1.0f, 1);
    prepare_fails(oc, FOIL_ERR_FORMAT);
}

/* ------------------------------------------------------------------------- */
/* Squeeze / Unsqueeze                                                       */

static op_case *axes_case(const char *type, int opset, int r, const int64_t *shape, int n, const int64_t *axes)
{
    op_case *oc = mk(type, opset >= 13 && n >= 0 ? 2 : 1, 1, opset);
    opc_input_randn(oc, 0, r, shape, 1.0f, 41);
    if (n >= 0) {
        if (opset >= 13) {
            int64_t len = n;
            opc_input(oc, 1, FOIL_I64, 1, &len, axes, 1);
        } else {
            opc_attr_ints(oc, "axes", n, axes);
        }
    }
    return oc;
}

static void expect_view(op_case *oc, int ndim, const int64_t *want)
{
    prepare_ok(oc);
    forward_ok(oc, 0);
    assert_shape(&oc->out[0], ndim, want);
    assert_memory_equal(oc->out[0].data, oc->in[0].data, foil_tensor_nbytes(&oc->in[0]));
}

static void test_unsqueeze(void **state)
{
    (void)state;
    const int64_t s[3] = {3, 4, 5};
    struct { int n; int64_t axes[3]; int r; int64_t want[6]; } cases[] = {
        {1, {0}, 4, {1, 3, 4, 5}},          {1, {1}, 4, {3, 1, 4, 5}},          {1, {2}, 4, {3, 4, 1, 5}},
        {1, {3}, 4, {3, 4, 5, 1}},          {1, {-1}, 4, {3, 4, 5, 1}},         {3, {2, 4, 5}, 6, {3, 4, 1, 5, 1, 1}},
        {2, {1, 4}, 5, {3, 1, 4, 5, 1}},    {3, {5, 4, 2}, 6, {3, 4, 1, 5, 1, 1}}, {2, {-2, 0}, 5, {1, 3, 4, 1, 5}},
    };
    for (int opset = 11; opset <= 13; opset += 2)
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            op_case *oc = axes_case("Unsqueeze", opset, 3, s, cases[k].n, cases[k].axes);
            expect_view(oc, cases[k].r, cases[k].want);
            opc_free(oc);
        }
    const int64_t s1315[4] = {1, 3, 1, 5}, m2 = -2, w5[5] = {1, 3, 1, 1, 5};
    op_case *oc = axes_case("Unsqueeze", 13, 4, s1315, 1, &m2);
    expect_view(oc, 5, w5);
    gradcheck_ok(oc, 0, 1e-2f, 0);
    opc_free(oc);
    /* scalar -> [1] */
    const int64_t zero = 0, one = 1;
    oc = axes_case("Unsqueeze", 13, 0, NULL, 1, &zero);
    expect_view(oc, 1, &one);
    opc_free(oc);

    const int64_t dup[2] = {1, 1}, far = 4, farneg = -5;
    prepare_fails(axes_case("Unsqueeze", 13, 3, s, 2, dup), FOIL_ERR_FORMAT);
    prepare_fails(axes_case("Unsqueeze", 13, 3, s, 1, &far), FOIL_ERR_FORMAT);
    prepare_fails(axes_case("Unsqueeze", 11, 3, s, 1, &farneg), FOIL_ERR_FORMAT);
    prepare_fails(axes_case("Unsqueeze", 11, 3, s, -1, NULL), FOIL_ERR_FORMAT); /* axes required */
    prepare_fails(axes_case("Unsqueeze", 13, 3, s, -1, NULL), FOIL_ERR_FORMAT);
    oc = mk("Unsqueeze", 2, 1, 13);
    opc_input_randn(oc, 0, 3, s, 1.0f, 1);
    opc_input(oc, 1, FOIL_I64, 1, &one, &zero, 0);
    prepare_fails(oc, FOIL_ERR_UNSUPPORTED); /* axes not known at plan time */
    const int64_t s7[7] = {1, 1, 1, 1, 1, 1, 1}, two[2] = {0, 1};
    prepare_fails(axes_case("Unsqueeze", 13, 7, s7, 2, two), FOIL_ERR_UNSUPPORTED); /* rank 9 */
}

static void test_squeeze(void **state)
{
    (void)state;
    const int64_t s[4] = {1, 3, 1, 5};
    const int64_t a0 = 0, am2 = -2, both[2] = {2, 0};
    const int64_t w0[3] = {3, 1, 5}, wm2[3] = {1, 3, 5}, wall[2] = {3, 5};
    for (int opset = 11; opset <= 13; opset += 2) {
        op_case *oc = axes_case("Squeeze", opset, 4, s, 1, &a0);
        expect_view(oc, 3, w0);
        opc_free(oc);
        oc = axes_case("Squeeze", opset, 4, s, 1, &am2);
        expect_view(oc, 3, wm2);
        opc_free(oc);
        oc = axes_case("Squeeze", opset, 4, s, 2, both);
        expect_view(oc, 2, wall);
        opc_free(oc);
        oc = axes_case("Squeeze", opset, 4, s, -1, NULL); /* no axes: all 1s */
        expect_view(oc, 2, wall);
        gradcheck_ok(oc, 0, 1e-2f, 0);
        opc_free(oc);
        oc = axes_case("Squeeze", opset, 4, s, 0, both); /* empty axes: all 1s */
        expect_view(oc, 2, wall);
        opc_free(oc);
    }
    /* [1] -> scalar; test_AvgPool1d's Squeeze(axes=[3]) at opset 6 */
    const int64_t one = 1, s4[4] = {2, 3, 3, 1}, three = 3, w3[3] = {2, 3, 3};
    op_case *oc = axes_case("Squeeze", 13, 1, &one, 1, &a0);
    expect_view(oc, 0, NULL);
    opc_free(oc);
    oc = axes_case("Squeeze", 6, 4, s4, 1, &three);
    expect_view(oc, 3, w3);
    opc_free(oc);

    const int64_t a1 = 1, a4 = 4, dup[2] = {0, -4};
    prepare_fails(axes_case("Squeeze", 13, 4, s, 1, &a1), FOIL_ERR_SHAPE); /* size 3 */
    prepare_fails(axes_case("Squeeze", 13, 4, s, 1, &a4), FOIL_ERR_FORMAT);
    prepare_fails(axes_case("Squeeze", 11, 4, s, 2, dup), FOIL_ERR_FORMAT);
}

/* ------------------------------------------------------------------------- */
/* Constant                                                                  */

static void test_constant(void **state)
{
    (void)state;
    /* value: a tensor */
    foil_tensor t;
    const int64_t s[2] = {5, 5};
    assert_int_equal(foil_tensor_alloc(&t, FOIL_F32, 2, s), FOIL_OK);
    fill_iota(foil_f32(&t), 25);
    op_case *oc = mk("Constant", 0, 1, 13);
    opc_attr_tensor(oc, "value", &t);
    prepare_ok(oc);
    forward_ok(oc, 0);
    assert_shape(&oc->out[0], 2, s);
    assert_memory_equal(oc->out[0].data, t.data, 25 * sizeof(float));
    opc_free(oc);
    foil_tensor_free(&t);
    /* int64 1-D value at opset 6 (test_PixelShuffle) */
    const int64_t six = 6, v6[6] = {1, 1, 3, 3, 4, 4};
    assert_int_equal(foil_tensor_alloc(&t, FOIL_I64, 1, &six), FOIL_OK);
    memcpy(t.data, v6, sizeof v6);
    oc = mk("Constant", 0, 1, 6);
    opc_attr_tensor(oc, "value", &t);
    prepare_ok(oc);
    forward_ok(oc, 0);
    assert_int_equal(oc->out[0].dtype, FOIL_I64);
    assert_memory_equal(oc->out[0].data, v6, sizeof v6);
    opc_free(oc);
    foil_tensor_free(&t);

    /* opset 12 forms */
    oc = mk("Constant", 0, 1, 13);
    opc_attr_float(oc, "value_float", 2.5f);
    prepare_ok(oc);
    forward_ok(oc, 0);
    assert_int_equal(oc->out[0].ndim, 0);
    assert_true(foil_f32(&oc->out[0])[0] == 2.5f);
    opc_free(oc);
    const float fl[3] = {1, -2, 3};
    oc = mk("Constant", 0, 1, 12);
    opc_attr_floats(oc, "value_floats", 3, fl);
    prepare_ok(oc);
    forward_ok(oc, 0);
    assert_int_equal(oc->out[0].numel, 3);
    assert_memory_equal(oc->out[0].data, fl, sizeof fl);
    opc_free(oc);
    oc = mk("Constant", 0, 1, 13);
    opc_attr_int(oc, "value_int", -7);
    prepare_ok(oc);
    forward_ok(oc, 0);
    assert_int_equal(oc->out[0].dtype, FOIL_I64);
    assert_int_equal(foil_i64(&oc->out[0])[0], -7);
    opc_free(oc);
    oc = mk("Constant", 0, 1, 13);
    opc_attr_ints(oc, "value_ints", 6, v6);
    prepare_ok(oc);
    forward_ok(oc, 0);
    assert_memory_equal(oc->out[0].data, v6, sizeof v6);
    opc_free(oc);

    /* errors */
    oc = mk("Constant", 0, 1, 13);
    prepare_fails(oc, FOIL_ERR_FORMAT); /* no value */
    oc = mk("Constant", 0, 1, 13);
    opc_attr_int(oc, "value_int", 1);
    opc_attr_float(oc, "value_float", 1);
    prepare_fails(oc, FOIL_ERR_FORMAT); /* two values */
    oc = mk("Constant", 0, 1, 11);
    opc_attr_int(oc, "value_int", 1);
    prepare_fails(oc, FOIL_ERR_FORMAT); /* too new for the opset */
    oc = mk("Constant", 0, 1, 13);
    opc_attr_string(oc, "value_string", "x");
    prepare_fails(oc, FOIL_ERR_UNSUPPORTED);
    oc = mk("Constant", 0, 1, 13);
    opc_attr_int(oc, "sparse_value", 0);
    prepare_fails(oc, FOIL_ERR_UNSUPPORTED);
    oc = mk("Constant", 0, 1, 13);
    opc_attr_float(oc, "value", 1.0f);
    prepare_fails(oc, FOIL_ERR_FORMAT); /* wrong type */
}

/* ------------------------------------------------------------------------- */
/* Identity                                                                  */

static void test_identity(void **state)
{
    (void)state;
    const int64_t s[4] = {1, 1, 2, 2};
    op_case *oc = mk("Identity", 1, 1, 16);
    opc_input_randn(oc, 0, 4, s, 1.0f, 3);
    expect_view(oc, 4, s);
    gradcheck_ok(oc, 0, 1e-2f, 0);
    opc_free(oc);
    const uint8_t b[4] = {1, 0, 0, 1};
    oc = mk("Identity", 1, 1, 13);
    opc_input(oc, 0, FOIL_BOOL, 4, s, b, 0);
    expect_view(oc, 4, s);
    assert_int_equal(oc->out[0].dtype, FOIL_BOOL);
    opc_free(oc);
    oc = mk("Identity", 2, 1, 13);
    opc_input_randn(oc, 0, 4, s, 1.0f, 3);
    opc_input_randn(oc, 1, 4, s, 1.0f, 3);
    prepare_fails(oc, FOIL_ERR_FORMAT);
}

/* ------------------------------------------------------------------------- */
/* Dropout                                                                   */

static op_case *dropout_case(int opset, int nout, const int64_t *shape, int r, int has_ratio, float ratio, int has_tm,
                             int tm)
{
    int nin = opset >= 12 ? (has_tm ? 3 : has_ratio ? 2 : 1) : 1;
    op_case *oc = mk("Dropout", nin, nout, opset);
    opc_input_randn(oc, 0, r, shape, 1.0f, 51);
    if (opset >= 12) {
        if (has_ratio) opc_input(oc, 1, FOIL_F32, 0, NULL, &ratio, 0);
        if (has_tm) {
            uint8_t t = (uint8_t)tm;
            opc_input(oc, 2, FOIL_BOOL, 0, NULL, &t, 0);
        }
    } else if (has_ratio) {
        opc_attr_float(oc, "ratio", ratio);
    }
    return oc;
}

static void assert_identity_dropout(op_case *oc, int training)
{
    prepare_ok(oc);
    forward_ok(oc, training);
    assert_memory_equal(oc->out[0].data, oc->in[0].data, foil_tensor_nbytes(&oc->in[0]));
    if (oc->n_out > 1) {
        const foil_tensor *m = &oc->out[1];
        for (int64_t i = 0; i < m->numel; i++)
            assert_true(m->dtype == FOIL_BOOL ? ((uint8_t *)m->data)[i] == 1 : foil_f32(m)[i] == 1.0f);
    }
}

/* Training: the fraction kept is near 1 - ratio, kept values are scaled,
 * the mask output matches; returns the mask (caller frees). */
static uint8_t *check_training_dropout(op_case *oc, float ratio, int training, uint64_t seed)
{
    if (!oc->prepared) prepare_ok(oc);
    oc->node.ctx.training = training;
    oc->node.ctx.seed = seed;
    if (oc->node.op->forward(&oc->node.ctx)) fail_msg("%s", foil_last_error());
    const int64_t n = oc->in[0].numel;
    const float *x = foil_f32(&oc->in[0]), *y = foil_f32(&oc->out[0]);
    const uint8_t *m = oc->out[1].data;
    uint8_t *copy = malloc((size_t)n);
    int64_t kept = 0;
    for (int64_t i = 0; i < n; i++) {
        assert_true(m[i] == 0 || m[i] == 1);
        kept += m[i];
        float want = m[i] ? x[i] / (1.0f - ratio) : 0.0f;
        assert_true(fabsf(y[i] - want) <= 1e-6f * (1.0f + fabsf(want)));
        copy[i] = m[i];
    }
    double frac = (double)kept / (double)n, sd = sqrt(ratio * (1 - ratio) / (double)n);
    if (fabs(frac - (1.0 - ratio)) > 5 * sd + 1e-9)
        fail_msg("kept fraction %g, expected %g", frac, 1.0 - ratio);
    return copy;
}

static void test_dropout(void **state)
{
    (void)state;
    const int64_t s[3] = {3, 4, 5}, s3 = 3;
    /* inference: identity, mask all true (test_dropout_default*, *_old) */
    op_case *oc = dropout_case(13, 1, s, 3, 0, 0, 0, 0);
    assert_identity_dropout(oc, 0);
    opc_free(oc);
    oc = dropout_case(13, 2, s, 3, 1, 0.1f, 0, 0);
    assert_identity_dropout(oc, 0);
    assert_int_equal(oc->out[1].dtype, FOIL_BOOL);
    opc_free(oc);
    oc = dropout_case(11, 1, &s3, 1, 1, 0.2f, 0, 0);
    assert_identity_dropout(oc, 0);
    opc_free(oc);
    oc = dropout_case(13, 2, s, 3, 1, 0.5f, 1, 0); /* training_mode false */
    assert_identity_dropout(oc, 0);
    gradcheck_ok(oc, 0, 1e-2f, 0);
    opc_free(oc);
    /* opset 7: the mask has the data's type */
    oc = dropout_case(7, 2, s, 3, 1, 0.3f, 0, 0);
    assert_identity_dropout(oc, 0);
    assert_int_equal(oc->out[1].dtype, FOIL_F32);
    opc_free(oc);
    /* training with ratio 0: identity (test_training_dropout_zero_ratio*) */
    oc = dropout_case(13, 2, s, 3, 1, 0.0f, 1, 1);
    assert_identity_dropout(oc, 0);
    opc_free(oc);

    /* training: statistics, scaling, determinism by seed */
    const int64_t big[2] = {100, 100};
    const float ratios[3] = {0.5f, 0.75f, 0.1f};
    for (int k = 0; k < 3; k++) {
        oc = dropout_case(13, 2, big, 2, 1, ratios[k], 1, 1); /* training_mode input */
        uint8_t *m1 = check_training_dropout(oc, ratios[k], 0, 1);
        uint8_t *m2 = check_training_dropout(oc, ratios[k], 0, 1);
        assert_memory_equal(m1, m2, 10000);
        uint8_t *m3 = check_training_dropout(oc, ratios[k], 0, 2);
        assert_true(memcmp(m1, m3, 10000) != 0);
        free(m1);
        free(m2);
        free(m3);
        opc_free(oc);
    }
    /* c->training alone switches training on (opset 13 without inputs; opset 10 attr) */
    oc = dropout_case(13, 2, big, 2, 0, 0, 0, 0);
    free(check_training_dropout(oc, 0.5f, 1, 7));
    opc_free(oc);
    oc = dropout_case(10, 2, big, 2, 1, 0.25f, 0, 0);
    free(check_training_dropout(oc, 0.25f, 1, 7));
    opc_free(oc);
    /* ratio 1 drops everything */
    oc = dropout_case(13, 2, s, 3, 1, 1.0f, 1, 1);
    prepare_ok(oc);
    forward_ok(oc, 0);
    for (int64_t i = 0; i < 60; i++) assert_true(foil_f32(&oc->out[0])[i] == 0.0f && ((uint8_t *)oc->out[1].data)[i] == 0);
    opc_free(oc);

    /* gradient in training mode (the harness reruns forward with one seed) */
    oc = dropout_case(13, 1, s, 3, 1, 0.4f, 1, 1);
    gradcheck_ok(oc, 0, 1e-2f, 0);
    opc_free(oc);
    oc = dropout_case(13, 2, s, 3, 1, 0.4f, 0, 0);
    gradcheck_ok(oc, 0, 1e-2f, 1);
    opc_free(oc);

    /* errors */
    oc = dropout_case(13, 1, s, 3, 1, 1.5f, 1, 1);
    prepare_ok(oc);
    assert_int_equal(opc_forward(oc, 0), FOIL_ERR_ARG);
    opc_free(oc);
    oc = dropout_case(11, 1, s, 3, 1, -0.5f, 0, 0);
    prepare_fails(oc, FOIL_ERR_FORMAT);
    oc = mk("Dropout", 1, 1, 13);
    opc_input(oc, 0, FOIL_I64, 3, s, NULL, 0);
    prepare_fails(oc, FOIL_ERR_UNSUPPORTED);
    oc = dropout_case(13, 1, s, 3, 1, 0.5f, 0, 0);
    const int64_t two = 2;
    const uint8_t tt[2] = {1, 1};
    opc_input(oc, 2, FOIL_BOOL, 1, &two, tt, 0);
    oc->n_in = oc->node.n_in = 3;
    prepare_fails(oc, FOIL_ERR_FORMAT); /* training_mode not a scalar */
}

/* ------------------------------------------------------------------------- */
/* Slice                                                                     */

/* The indices a numpy slice s:e:t takes on an axis of size d, by walking
 * (an independent formulation of slice.c's count formula). */
static int64_t walk_slice(int64_t d, int64_t s, int64_t e, int64_t t, int64_t *idx)
{
    if (s < 0) s += d;
    if (e < 0) e += d;
    int64_t n = 0;
    if (t > 0) {
        if (s < 0) s = 0;
        if (e > d) e = d;
        for (int64_t i = s; i < e; i += t) idx[n++] = i;
    } else {
        if (s > d - 1) s = d - 1;
        if (e < -1) e = -1;
        for (int64_t i = s; i > e && i >= 0; i += t) idx[n++] = i;
    }
    return n;
}

/* Slice a (4,5,6) float input on the given axes; check against walk_slice,
 * then the gradient. nax < 0: axes and steps inputs omitted. */
static void check_slice(int nax, const int64_t *st, const int64_t *en, const int64_t *ax, const int64_t *stp)
{
    const int64_t shp[3] = {4, 5, 6};
    int n = nax < 0 ? -nax : nax;
    const int64_t nn = n;
    op_case *oc = mk("Slice", nax < 0 ? 3 : 5, 1, 13);
    opc_input_randn(oc, 0, 3, shp, 1.0f, 11);
    opc_input(oc, 1, FOIL_I64, 1, &nn, st, 1);
    opc_input(oc, 2, FOIL_I64, 1, &nn, en, 1);
    if (nax > 0) {
        opc_input(oc, 3, FOIL_I64, 1, &nn, ax, 1);
        opc_input(oc, 4, FOIL_I32, 1, &nn, (const int32_t[]){(int32_t)stp[0], (int32_t)stp[1 % n], (int32_t)stp[2 % n]}, 1);
    }
    prepare_ok(oc);
    forward_ok(oc, 0);
    int64_t idx[3][16], cnt[3];
    for (int d = 0; d < 3; d++) cnt[d] = walk_slice(shp[d], 0, shp[d], 1, idx[d]);
    for (int k = 0; k < n; k++) {
        int a = (int)(nax < 0 ? k : (ax[k] < 0 ? ax[k] + 3 : ax[k]));
        cnt[a] = walk_slice(shp[a], st[k], en[k], nax < 0 ? 1 : stp[k], idx[a]);
    }
    assert_shape(&oc->out[0], 3, cnt);
    const float *x = foil_f32(&oc->in[0]), *y = foil_f32(&oc->out[0]);
    int64_t o = 0;
    for (int64_t i = 0; i < cnt[0]; i++)
        for (int64_t j = 0; j < cnt[1]; j++)
            for (int64_t k = 0; k < cnt[2]; k++, o++)
                assert_float_equal(y[o], x[(idx[0][i] * 5 + idx[1][j]) * 6 + idx[2][k]], 0.0f);
    gradcheck_ok(oc, 0, 1e-2f, 0);
    opc_free(oc);
}

static void test_slice(void **state)
{
    (void)state;
    /* default axes and steps */
    check_slice(-2, (const int64_t[]){1, 0}, (const int64_t[]){3, -1}, NULL, NULL);
    /* negative axes, steps 2 and -1, clamping of out-of-range starts/ends */
    check_slice(3, (const int64_t[]){0, 100, -1}, (const int64_t[]){INT64_MAX, -100, -7},
                (const int64_t[]){-1, 1, 0}, (const int64_t[]){2, -1, -2});
    /* empty result (start past end), step -3 from the end */
    check_slice(2, (const int64_t[]){3, -1}, (const int64_t[]){1, 0}, (const int64_t[]){0, 2},
                (const int64_t[]){1, -3});
    /* start beyond the axis: empty */
    check_slice(1, (const int64_t[]){10}, (const int64_t[]){20}, (const int64_t[]){1}, (const int64_t[]){1});

    /* opset 1: attributes; int64 data (a shape) */
    const int64_t four = 4, shp[4] = {8, 3, 224, 224}, want[2] = {224, 224};
    op_case *oc = mk("Slice", 1, 1, 1);
    opc_input(oc, 0, FOIL_I64, 1, &four, shp, 1);
    opc_attr_ints(oc, "starts", 1, (const int64_t[]){2});
    opc_attr_ints(oc, "ends", 1, (const int64_t[]){INT64_MAX});
    prepare_ok(oc);
    forward_ok(oc, 0);
    assert_int_equal(oc->out[0].numel, 2);
    assert_memory_equal(oc->out[0].data, want, sizeof want);
    opc_free(oc);

    /* errors: starts not known at plan time; step 0; repeated axis; lengths differ */
    const int64_t s2[2] = {4, 5}, one = 1, two = 2, z[2] = {0, 0}, e[2] = {2, 2};
    oc = mk("Slice", 3, 1, 13);
    opc_input_randn(oc, 0, 2, s2, 1.0f, 1);
    opc_input(oc, 1, FOIL_I64, 1, &one, z, 0);
    opc_input(oc, 2, FOIL_I64, 1, &one, e, 1);
    prepare_fails(oc, FOIL_ERR_UNSUPPORTED);
    oc = mk("Slice", 5, 1, 13);
    opc_input_randn(oc, 0, 2, s2, 1.0f, 1);
    opc_input(oc, 1, FOIL_I64, 1, &one, z, 1);
    opc_input(oc, 2, FOIL_I64, 1, &one, e, 1);
    opc_input(oc, 3, FOIL_I64, 1, &one, z, 1);
    opc_input(oc, 4, FOIL_I64, 1, &one, z, 1);
    prepare_fails(oc, FOIL_ERR_FORMAT);
    oc = mk("Slice", 4, 1, 13);
    opc_input_randn(oc, 0, 2, s2, 1.0f, 1);
    opc_input(oc, 1, FOIL_I64, 1, &two, z, 1);
    opc_input(oc, 2, FOIL_I64, 1, &two, e, 1);
    opc_input(oc, 3, FOIL_I64, 1, &two, z, 1);
    prepare_fails(oc, FOIL_ERR_FORMAT);
    oc = mk("Slice", 3, 1, 13);
    opc_input_randn(oc, 0, 2, s2, 1.0f, 1);
    opc_input(oc, 1, FOIL_I64, 1, &two, z, 1);
    opc_input(oc, 2, FOIL_I64, 1, &one, e, 1);
    prepare_fails(oc, FOIL_ERR_FORMAT);
}

/* ------------------------------------------------------------------------- */
/* Split                                                                     */

/* Split (3, 7, 2) on axis 1 into parts of the given lengths (how: 0 equal,
 * 1 attribute (opset 11), 2 input (opset 13), 3 num_outputs (opset 18)). */
static void check_split(int how, int K, const int64_t *len)
{
    const int64_t shp[3] = {3, 7, 2};
    op_case *oc = mk("Split", how == 2 ? 2 : 1, K, how == 1 ? 11 : how == 2 ? 13 : 18);
    opc_input_randn(oc, 0, 3, shp, 1.0f, 5);
    opc_attr_int(oc, "axis", -2);
    const int64_t k64 = K;
    if (how == 1) opc_attr_ints(oc, "split", K, len);
    if (how == 2) opc_input(oc, 1, FOIL_I64, 1, &k64, len, 1);
    if (how == 3) opc_attr_int(oc, "num_outputs", K);
    prepare_ok(oc);
    forward_ok(oc, 0);
    const float *x = foil_f32(&oc->in[0]);
    int64_t off = 0;
    for (int k = 0; k < K; k++) {
        const int64_t want[3] = {3, len[k], 2};
        assert_shape(&oc->out[k], 3, want);
        const float *y = foil_f32(&oc->out[k]);
        for (int64_t i = 0; i < 3; i++)
            for (int64_t j = 0; j < len[k]; j++)
                for (int64_t t = 0; t < 2; t++)
                    assert_float_equal(y[(i * len[k] + j) * 2 + t], x[(i * 7 + off + j) * 2 + t], 0.0f);
        off += len[k];
    }
    gradcheck_ok(oc, 0, 1e-2f, 0);
    opc_free(oc);
}

static void test_split(void **state)
{
    (void)state;
    check_split(1, 3, (const int64_t[]){2, 0, 5});
    check_split(2, 2, (const int64_t[]){6, 1});
    check_split(3, 3, (const int64_t[]){3, 3, 1}); /* ceil(7/3) each, the rest last */
    /* equal parts (opset 13, no split): 7 into 7 */
    check_split(0, 7, (const int64_t[]){1, 1, 1, 1, 1, 1, 1});
    /* errors: 7 into 2 equal parts; lengths not summing to the axis */
    const int64_t shp[3] = {3, 7, 2};
    op_case *oc = mk("Split", 1, 2, 13);
    opc_input_randn(oc, 0, 3, shp, 1.0f, 5);
    opc_attr_int(oc, "axis", 1);
    prepare_fails(oc, FOIL_ERR_SHAPE);
    oc = mk("Split", 1, 2, 11);
    opc_input_randn(oc, 0, 3, shp, 1.0f, 5);
    opc_attr_int(oc, "axis", 1);
    opc_attr_ints(oc, "split", 2, (const int64_t[]){3, 3});
    prepare_fails(oc, FOIL_ERR_SHAPE);
}

/* ------------------------------------------------------------------------- */
/* Expand, Tile                                                              */

static void test_expand(void **state)
{
    (void)state;
    /* (3,1) expanded by shape (2,1,4) -> (2,3,4): out[a,b,c] = x[b] */
    const int64_t xs[2] = {3, 1}, three = 3, req[3] = {2, 1, 4}, want[3] = {2, 3, 4};
    op_case *oc = mk("Expand", 2, 1, 13);
    opc_input_randn(oc, 0, 2, xs, 1.0f, 3);
    opc_input(oc, 1, FOIL_I64, 1, &three, req, 1);
    prepare_ok(oc);
    forward_ok(oc, 0);
    assert_shape(&oc->out[0], 3, want);
    const float *x = foil_f32(&oc->in[0]), *y = foil_f32(&oc->out[0]);
    for (int64_t i = 0; i < 24; i++) assert_float_equal(y[i], x[(i / 4) % 3], 0.0f);
    gradcheck_ok(oc, 0, 1e-2f, 0);
    opc_free(oc);
    /* a ViT class token: (1,1,8) to (5,-) through shape (5,1,1) */
    const int64_t cls[3] = {1, 1, 8}, r3[3] = {5, 1, 1}, w3[3] = {5, 1, 8};
    oc = mk("Expand", 2, 1, 13);
    opc_input_randn(oc, 0, 3, cls, 1.0f, 4);
    opc_input(oc, 1, FOIL_I64, 1, &three, r3, 1);
    prepare_ok(oc);
    assert_shape(&oc->out[0], 3, w3);
    gradcheck_ok(oc, 0, 1e-2f, 0);
    opc_free(oc);
    /* incompatible: (3,1) to (2,4,4) */
    const int64_t bad[3] = {2, 4, 4};
    oc = mk("Expand", 2, 1, 13);
    opc_input_randn(oc, 0, 2, xs, 1.0f, 3);
    opc_input(oc, 1, FOIL_I64, 1, &three, bad, 1);
    prepare_fails(oc, FOIL_ERR_SHAPE);
}

static void test_tile(void **state)
{
    (void)state;
    const int64_t xs[2] = {2, 3}, two = 2, rep[2] = {3, 2}, want[2] = {6, 6};
    op_case *oc = mk("Tile", 2, 1, 13);
    opc_input_randn(oc, 0, 2, xs, 1.0f, 8);
    opc_input(oc, 1, FOIL_I64, 1, &two, rep, 1);
    prepare_ok(oc);
    forward_ok(oc, 0);
    assert_shape(&oc->out[0], 2, want);
    const float *x = foil_f32(&oc->in[0]), *y = foil_f32(&oc->out[0]);
    for (int64_t i = 0; i < 6; i++)
        for (int64_t j = 0; j < 6; j++) assert_float_equal(y[i * 6 + j], x[(i % 2) * 3 + j % 3], 0.0f);
    gradcheck_ok(oc, 0, 1e-2f, 0);
    opc_free(oc);
    /* repeats of the wrong length; negative */
    oc = mk("Tile", 2, 1, 13);
    opc_input_randn(oc, 0, 2, xs, 1.0f, 8);
    opc_input(oc, 1, FOIL_I64, 1, &(const int64_t){1}, rep, 1);
    prepare_fails(oc, FOIL_ERR_FORMAT);
    oc = mk("Tile", 2, 1, 13);
    opc_input_randn(oc, 0, 2, xs, 1.0f, 8);
    opc_input(oc, 1, FOIL_I64, 1, &two, (const int64_t[]){1, -1}, 1);
    prepare_fails(oc, FOIL_ERR_FORMAT);
}

/* ------------------------------------------------------------------------- */
/* Cast, CastLike                                                            */

static void test_cast(void **state)
{
    (void)state;
    const int64_t six = 6;
    const float xf[6] = {1.9f, -1.9f, 0.0f, NAN, 3e20f, -0.5f};
    /* float -> int64: truncation, NaN -> 0, saturation */
    op_case *oc = mk("Cast", 1, 1, 13);
    opc_input(oc, 0, FOIL_F32, 1, &six, xf, 0);
    opc_attr_int(oc, "to", FOIL_I64);
    prepare_ok(oc);
    forward_ok(oc, 0);
    const int64_t wi[6] = {1, -1, 0, 0, INT64_MAX, 0};
    assert_memory_equal(oc->out[0].data, wi, sizeof wi);
    opc_free(oc);
    /* float -> bool, -> double; int64 -> int32 wraps, -> float */
    oc = mk("Cast", 1, 1, 13);
    opc_input(oc, 0, FOIL_F32, 1, &six, xf, 0);
    opc_attr_int(oc, "to", FOIL_BOOL);
    prepare_ok(oc);
    forward_ok(oc, 0);
    const uint8_t wb[6] = {1, 1, 0, 1, 1, 1};
    assert_memory_equal(oc->out[0].data, wb, sizeof wb);
    opc_free(oc);
    oc = mk("Cast", 1, 1, 13);
    opc_input(oc, 0, FOIL_F32, 1, &six, xf, 0);
    opc_attr_int(oc, "to", FOIL_F64);
    prepare_ok(oc);
    forward_ok(oc, 0);
    assert_true(((const double *)oc->out[0].data)[1] == (double)-1.9f);
    opc_free(oc);
    const int64_t iv[2] = {((int64_t)1 << 32) + 5, -7}, two = 2;
    oc = mk("Cast", 1, 1, 13);
    opc_input(oc, 0, FOIL_I64, 1, &two, iv, 1);
    opc_attr_int(oc, "to", FOIL_I32);
    prepare_ok(oc);
    forward_ok(oc, 0);
    assert_int_equal(((const int32_t *)oc->out[0].data)[0], 5);
    assert_int_equal(((const int32_t *)oc->out[0].data)[1], -7);
    opc_free(oc);
    /* CastLike takes the type of input 1; gradient float -> float */
    oc = mk("CastLike", 2, 1, 15);
    opc_input_randn(oc, 0, 1, &six, 1.0f, 2);
    opc_input_randn(oc, 1, 1, &two, 1.0f, 3);
    prepare_ok(oc);
    forward_ok(oc, 0);
    assert_int_equal(oc->out[0].dtype, FOIL_F32);
    assert_memory_equal(oc->out[0].data, oc->in[0].data, 6 * sizeof(float));
    gradcheck_ok(oc, 0, 1e-2f, 0);
    opc_free(oc);
    /* types foil has no tensors for: a clear error at init */
    static const int64_t lacking[3] = {8, 10, 16};
    for (int k = 0; k < 3; k++) {
        oc = mk("Cast", 1, 1, 13);
        opc_input(oc, 0, FOIL_F32, 1, &six, xf, 0);
        opc_attr_int(oc, "to", lacking[k]);
        prepare_fails(oc, FOIL_ERR_UNSUPPORTED);
    }
}

/* ------------------------------------------------------------------------- */
/* ConstantOfShape, Range                                                    */

static void test_constant_of_shape(void **state)
{
    (void)state;
    const int64_t two = 2, shp[2] = {3, 4};
    foil_tensor v = {0};
    assert_int_equal(foil_tensor_alloc(&v, FOIL_I32, 1, &(const int64_t){1}), 0);
    ((int32_t *)v.data)[0] = 7;
    op_case *oc = mk("ConstantOfShape", 1, 1, 13);
    opc_input(oc, 0, FOIL_I64, 1, &two, shp, 1);
    opc_attr_tensor(oc, "value", &v);
    prepare_ok(oc);
    forward_ok(oc, 0);
    assert_int_equal(oc->out[0].dtype, FOIL_I32);
    assert_shape(&oc->out[0], 2, shp);
    for (int i = 0; i < 12; i++) assert_int_equal(((const int32_t *)oc->out[0].data)[i], 7);
    opc_free(oc);
    foil_tensor_free(&v);
    /* default: float zeros; shape (0) */
    const int64_t one = 1, zero = 0;
    oc = mk("ConstantOfShape", 1, 1, 13);
    opc_input(oc, 0, FOIL_I64, 1, &one, &zero, 1);
    prepare_ok(oc);
    forward_ok(oc, 0);
    assert_int_equal(oc->out[0].dtype, FOIL_F32);
    assert_int_equal(oc->out[0].numel, 0);
    opc_free(oc);
    /* shape computed at run time; negative dim */
    oc = mk("ConstantOfShape", 1, 1, 13);
    opc_input(oc, 0, FOIL_I64, 1, &two, shp, 0);
    prepare_fails(oc, FOIL_ERR_UNSUPPORTED);
    oc = mk("ConstantOfShape", 1, 1, 13);
    opc_input(oc, 0, FOIL_I64, 1, &two, (const int64_t[]){2, -1}, 1);
    prepare_fails(oc, FOIL_ERR_FORMAT);
}

static void test_range(void **state)
{
    (void)state;
    const int32_t is[3] = {10, 4, -3};
    op_case *oc = mk("Range", 3, 1, 11);
    for (int i = 0; i < 3; i++) opc_input(oc, i, FOIL_I32, 0, NULL, &is[i], 1);
    prepare_ok(oc);
    forward_ok(oc, 0);
    const int32_t wi[2] = {10, 7};
    assert_int_equal(oc->out[0].numel, 2);
    assert_memory_equal(oc->out[0].data, wi, sizeof wi);
    opc_free(oc);
    const float fs[3] = {1.0f, 2.0f, 0.3f};
    oc = mk("Range", 3, 1, 11);
    for (int i = 0; i < 3; i++) opc_input(oc, i, FOIL_F32, 0, NULL, &fs[i], 1);
    prepare_ok(oc);
    forward_ok(oc, 0);
    assert_int_equal(oc->out[0].numel, 4); /* ceil(1 / 0.3) */
    assert_float_equal(foil_f32(&oc->out[0])[3], 1.9f, 1e-6f);
    opc_free(oc);
    /* empty range; delta 0; bounds only known at run time; mixed types */
    const int64_t ls[3] = {5, 5, 1}, l0[3] = {0, 5, 0};
    oc = mk("Range", 3, 1, 11);
    for (int i = 0; i < 3; i++) opc_input(oc, i, FOIL_I64, 0, NULL, &ls[i], 1);
    prepare_ok(oc);
    assert_int_equal(oc->out[0].numel, 0);
    opc_free(oc);
    oc = mk("Range", 3, 1, 11);
    for (int i = 0; i < 3; i++) opc_input(oc, i, FOIL_I64, 0, NULL, &l0[i], 1);
    prepare_fails(oc, FOIL_ERR_FORMAT);
    oc = mk("Range", 3, 1, 11);
    for (int i = 0; i < 3; i++) opc_input(oc, i, FOIL_F32, 0, NULL, &fs[i], i != 1);
    prepare_fails(oc, FOIL_ERR_UNSUPPORTED);
    oc = mk("Range", 3, 1, 11);
    opc_input(oc, 0, FOIL_I64, 0, NULL, &ls[0], 1);
    opc_input(oc, 1, FOIL_I32, 0, NULL, &is[1], 1);
    opc_input(oc, 2, FOIL_I64, 0, NULL, &ls[2], 1);
    prepare_fails(oc, FOIL_ERR_FORMAT);
}

/* ------------------------------------------------------------------------- */
/* Einsum                                                                    */

/* out = einsum(eq, A, B) checked against a reference computed here: for
 * every assignment of the labels (letters only), out[out labels] +=
 * A[A labels] * B[B labels]. Then both gradients. */
static void check_einsum(const char *eq, const char *la, int na, const int64_t *sa, const char *lb, int nb,
                         const int64_t *sb, const char *lo, int grad)
{
    op_case *oc = mk("Einsum", nb ? 2 : 1, 1, 12);
    opc_attr_string(oc, "equation", eq);
    opc_input_randn(oc, 0, na, sa, 1.0f, 21);
    if (nb) opc_input_randn(oc, 1, nb, sb, 1.0f, 22);
    prepare_ok(oc);
    forward_ok(oc, 0);
    int64_t size[128] = {0};
    for (int i = 0; la[i]; i++) size[(int)la[i]] = sa[i];
    for (int i = 0; nb && lb[i]; i++) size[(int)lb[i]] = sb[i];
    char labels[16];
    int nl = 0;
    for (int ch = 0; ch < 128; ch++)
        if (size[ch]) labels[nl++] = (char)ch;
    int no = (int)strlen(lo);
    int64_t oshape[FOIL_MAX_DIMS], total = 1;
    for (int d = 0; d < no; d++) oshape[d] = size[(int)lo[d]];
    assert_shape(&oc->out[0], no, oshape);
    for (int d = 0; d < nl; d++) total *= size[(int)labels[d]];
    double *ref = calloc((size_t)oc->out[0].numel + 1, sizeof *ref);
    const float *A = foil_f32(&oc->in[0]), *B = nb ? foil_f32(&oc->in[1]) : NULL;
    for (int64_t t = 0; t < total; t++) {
        int64_t v[128] = {0}, q = t;
        for (int d = nl - 1; d >= 0; d--) {
            v[(int)labels[d]] = q % size[(int)labels[d]];
            q /= size[(int)labels[d]];
        }
        int64_t ia = 0, ib = 0, io = 0;
        for (int d = 0; la[d]; d++) ia = ia * sa[d] + v[(int)la[d]];
        for (int d = 0; nb && lb[d]; d++) ib = ib * sb[d] + v[(int)lb[d]];
        for (int d = 0; d < no; d++) io = io * oshape[d] + v[(int)lo[d]];
        /* a repeated label of one operand: only the diagonal */
        ref[io] += (double)A[ia] * (B ? B[ib] : 1.0);
    }
    for (int64_t i = 0; i < oc->out[0].numel; i++)
        if (fabs(foil_f32(&oc->out[0])[i] - ref[i]) > 1e-4 * (1 + fabs(ref[i])))
            fail_msg("%s: element %lld is %g, expected %g", eq, (long long)i, (double)foil_f32(&oc->out[0])[i], ref[i]);
    free(ref);
    if (grad) {
        gradcheck_ok(oc, 0, 1e-2f, 0);
        if (nb) gradcheck_ok(oc, 1, 1e-2f, 0);
    }
    opc_free(oc);
}

static void test_einsum(void **state)
{
    (void)state;
    /* the matmul path: transformers' forms */
    check_einsum("bij,bjk->bik", "bij", 3, (const int64_t[]){2, 3, 4}, "bjk", 3, (const int64_t[]){2, 4, 5}, "bik", 1);
    check_einsum("bhqd,bhkd->bhqk", "bhqd", 4, (const int64_t[]){2, 2, 3, 4}, "bhkd", 4, (const int64_t[]){2, 2, 5, 4},
                 "bhqk", 1);
    check_einsum("bhqk, bhkd -> bqhd", "bhqk", 4, (const int64_t[]){2, 2, 3, 5}, "bhkd", 4,
                 (const int64_t[]){2, 2, 5, 4}, "bqhd", 1);
    /* "..." as the batch: labels Y, Z stand for its two axes in the reference */
    check_einsum("...ij,...jk->...ik", "YZij", 4, (const int64_t[]){2, 3, 3, 4}, "YZjk", 4,
                 (const int64_t[]){2, 3, 4, 2}, "YZik", 1);
    check_einsum("i,i", "i", 1, (const int64_t[]){7}, "i", 1, (const int64_t[]){7}, "", 1);
    check_einsum("ij,jk", "ij", 2, (const int64_t[]){3, 4}, "jk", 2, (const int64_t[]){4, 2}, "ik", 1);
    /* the direct path: sums, transposes, diagonals, one-sided sums */
    check_einsum("ij->i", "ij", 2, (const int64_t[]){3, 4}, "", 0, NULL, "i", 1);
    check_einsum("ij->ji", "ij", 2, (const int64_t[]){3, 4}, "", 0, NULL, "ji", 1);
    check_einsum("bii->bi", "bii", 3, (const int64_t[]){2, 3, 3}, "", 0, NULL, "bi", 1);
    check_einsum("ij,jk->k", "ij", 2, (const int64_t[]){3, 4}, "jk", 2, (const int64_t[]){4, 2}, "k", 1);
    check_einsum("ij->", "ij", 2, (const int64_t[]){3, 4}, "", 0, NULL, "", 1);
    /* refused: three operands, sizes that differ, a label the output invents */
    const int64_t s2[2] = {3, 4}, s3[2] = {4, 4};
    op_case *oc = mk("Einsum", 3, 1, 12);
    opc_attr_string(oc, "equation", "ij,jk,kl->il");
    for (int i = 0; i < 3; i++) opc_input_randn(oc, i, 2, i ? s3 : s2, 1.0f, 1);
    foil_clear_error();
    assert_int_equal(opc_prepare(oc), FOIL_ERR_UNSUPPORTED);
    assert_non_null(strstr(foil_last_error(), "ij,jk,kl->il"));
    opc_free(oc);
    oc = mk("Einsum", 2, 1, 12);
    opc_attr_string(oc, "equation", "ij,ij->i");
    opc_input_randn(oc, 0, 2, s2, 1.0f, 1);
    opc_input_randn(oc, 1, 2, s3, 1.0f, 1);
    prepare_fails(oc, FOIL_ERR_UNSUPPORTED);
    oc = mk("Einsum", 1, 1, 12);
    opc_attr_string(oc, "equation", "ij->iz");
    opc_input_randn(oc, 0, 2, s2, 1.0f, 1);
    prepare_fails(oc, FOIL_ERR_UNSUPPORTED);
}

/* ------------------------------------------------------------------------- */
/* Resize                                                                    */

/* A Resize of a float input x (rank 4) by known scales (or sizes). */
static op_case *resize_case(const char *mode, const char *ctm, const int64_t *xs, const float *x, const float *scales,
                            const int64_t *sizes)
{
    op_case *oc = mk("Resize", 4, 1, 13);
    if (x) opc_input(oc, 0, FOIL_F32, 4, xs, x, 0);
    else opc_input_randn(oc, 0, 4, xs, 1.0f, 31);
    const int64_t four = 4, zero = 0;
    opc_input(oc, 1, FOIL_F32, 1, &zero, NULL, 1);
    opc_input(oc, 2, FOIL_F32, 1, scales ? &four : &zero, scales, 1);
    if (sizes) opc_input(oc, 3, FOIL_I64, 1, &four, sizes, 1);
    else oc->n_in = oc->node.n_in = 3;
    opc_attr_string(oc, "mode", mode);
    if (ctm) opc_attr_string(oc, "coordinate_transformation_mode", ctm);
    return oc;
}

static void test_resize(void **state)
{
    (void)state;
    /* linear, half_pixel, 2x2 -> 4x4 (the values of the ONNX operator docs) */
    const int64_t xs[4] = {1, 1, 2, 2}, ws[4] = {1, 1, 4, 4};
    const float x[4] = {1, 2, 3, 4}, up2[4] = {1, 1, 2, 2};
    const float want[16] = {1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f, 3.5f, 3, 3.25f, 3.75f, 4};
    op_case *oc = resize_case("linear", NULL, xs, x, up2, NULL);
    prepare_ok(oc);
    forward_ok(oc, 0);
    assert_shape(&oc->out[0], 4, ws);
    assert_true(max_abs_diff(foil_f32(&oc->out[0]), want, 16) < 1e-6);
    opc_free(oc);
    /* nearest, asymmetric, sizes 4x4: out[i][j] = x[floor(i/2)][floor(j/2)] (round_prefer_floor of i/2) */
    const int64_t sz[4] = {1, 1, 4, 4};
    oc = resize_case("nearest", "asymmetric", xs, x, NULL, sz);
    opc_attr_string(oc, "nearest_mode", "floor");
    prepare_ok(oc);
    forward_ok(oc, 0);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) assert_float_equal(foil_f32(&oc->out[0])[i * 4 + j], x[(i / 2) * 2 + j / 2], 0.0f);
    opc_free(oc);
    /* gradients: every mode, up and down, a batch of 2 (parallel backward) */
    static const char *const modes[3] = {"nearest", "linear", "cubic"};
    static const char *const ctms[3] = {"half_pixel", "align_corners", "pytorch_half_pixel"};
    const int64_t gs[4] = {2, 2, 5, 4};
    const float fac[2][4] = {{1, 1, 2, 1.5f}, {1, 1, 0.6f, 0.5f}};
    for (int m = 0; m < 3; m++)
        for (int f = 0; f < 2; f++) {
            oc = resize_case(modes[m], ctms[(m + f) % 3], gs, NULL, fac[f], NULL);
            if (m == 2 && f == 1) opc_attr_int(oc, "exclude_outside", 1);
            prepare_ok(oc);
            gradcheck_ok(oc, 0, 1e-2f, 0);
            opc_free(oc);
        }
    /* errors: scales known only at run time; antialias; both scales and sizes; mode */
    oc = resize_case("linear", NULL, xs, x, up2, NULL);
    oc->known[2] = 0;
    prepare_fails(oc, FOIL_ERR_UNSUPPORTED);
    oc = resize_case("linear", NULL, xs, x, up2, NULL);
    opc_attr_int(oc, "antialias", 1);
    oc->node.opset = 18;
    prepare_fails(oc, FOIL_ERR_UNSUPPORTED);
    oc = resize_case("linear", NULL, xs, x, up2, sz);
    prepare_fails(oc, FOIL_ERR_FORMAT);
    oc = resize_case("area", NULL, xs, x, up2, NULL);
    prepare_fails(oc, FOIL_ERR_UNSUPPORTED);
}

int main(void)
{
    opc_skip_unless_kernels_run();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flatten),   cmocka_unit_test(test_reshape),   cmocka_unit_test(test_transpose),
        cmocka_unit_test(test_concat),    cmocka_unit_test(test_pad),       cmocka_unit_test(test_shape),
        cmocka_unit_test(test_gather),    cmocka_unit_test(test_unsqueeze), cmocka_unit_test(test_squeeze),
        cmocka_unit_test(test_constant),  cmocka_unit_test(test_identity),  cmocka_unit_test(test_dropout),
        cmocka_unit_test(test_slice),     cmocka_unit_test(test_split),     cmocka_unit_test(test_expand),
        cmocka_unit_test(test_tile),      cmocka_unit_test(test_cast),      cmocka_unit_test(test_constant_of_shape),
        cmocka_unit_test(test_range),     cmocka_unit_test(test_einsum),     cmocka_unit_test(test_resize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
