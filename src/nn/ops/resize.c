/*
 * nn/ops/resize.c - Resize (opsets 10 to 19) on float32 tensors of any rank
 * (op.h is the interface it implements).
 *
 * Inputs: X; opset 10: scales; opset 11+: roi, scales, sizes (scales or
 * sizes, whichever is non-empty; roi only for tf_crop_and_resize). scales
 * and sizes decide the output shape, so they must be known at plan time
 * (value_inputs: a float graph input is bound at plan time, graph.c).
 *   with scales: out_d = floor(in_d * scale_d)
 *   with sizes:  out_d = sizes_d, scale_d = out_d / in_d (opset 18's
 *                keep_aspect_ratio_policy not_larger / not_smaller: one
 *                scale, the min / max of those, out_d = round(scale * in_d))
 * Each axis is resized separately; an output element is the sum over the
 * taps of every axis of the product of their weights times the input there:
 *   out[o] = sum_{t_0..t_{r-1}} prod_d w_d(o_d, t_d) * in[idx_0(o_0, t_0), ..]
 * The taps of output index x on an axis come from its source coordinate
 * x_ori (coordinate_transformation_mode; s = scale, L = s * in, the resized
 * length as the ONNX reference takes it):
 *   half_pixel (default)   (x + 0.5) / s - 0.5
 *   half_pixel_symmetric   the same shifted to keep the centre: + in/2 * (1 - out/L)
 *   pytorch_half_pixel     L > 1 ? (x + 0.5) / s - 0.5 : 0
 *   align_corners          L == 1 ? 0 : x * (in - 1) / (L - 1)
 *   asymmetric (opset 10)  x / s
 *   tf_half_pixel_for_nn   (x + 0.5) / s
 *   tf_crop_and_resize     roi [starts, ends] of the axis, in [0, 1]:
 *                          start * (in - 1) + x * (end - start) * (in - 1) / (out - 1)
 *                          (out == 1: the middle); outside [0, in - 1] the
 *                          element is extrapolation_value.
 * With f = floor(x_ori), r = x_ori - f (an integer x_ori counts as f = x_ori
 * - 1, r = 1, as in the reference):
 *   nearest  one tap: f + 1 if r is 1, else by nearest_mode round_prefer_floor
 *            (r > 0.5), round_prefer_ceil (r >= 0.5), floor (never), ceil
 *            (always) f + 1, otherwise f; opset 10: floor when upsampling, ceil
 *            when downsampling (ONNX Runtime's behaviour for that opset);
 *   linear   f, f + 1 with weights 1 - r, r;
 *   cubic    f - 1 .. f + 2 with Keys' weights for cubic_coeff_a (-0.75);
 *            exclude_outside drops taps outside the input and renormalizes.
 * Tap indices are clamped to the input (edge padding). The taps of every axis
 * are tabulated in c->work at each forward (O(sum of output dims)).
 * Backward scatters: d_in[idx] += w * d_out, in parallel over the first axis
 * when it is not resized (the batch), serially otherwise.
 * Not supported (refused naming the value): antialias = 1 (opset 18), types
 * other than float32.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/op.h"
#include "nn/ops/op_checks.h"

#define PAR_MIN ((int64_t)1 << 15)

enum { RS_NEAREST, RS_LINEAR, RS_CUBIC };
enum { CT_HALF_PIXEL, CT_HALF_PIXEL_SYM, CT_PYTORCH, CT_ALIGN, CT_ASYM, CT_TF_NN, CT_CROP };
enum { NM_PREFER_FLOOR, NM_PREFER_CEIL, NM_FLOOR, NM_CEIL, NM_SIMPLE };

typedef struct resize_state {
    int mode, ctm, nearest, exclude_outside;
    float cubic_a, extrapolation;
    /* per plan (infer) */
    double scale[FOIL_MAX_DIMS];
} resize_state;

typedef struct resize_tap {
    int64_t off[4]; /* input offsets (index * stride) */
    float w[4];
    int32_t n;      /* taps in use */
    int32_t outside; /* tf_crop_and_resize: the extrapolation value */
} resize_tap;

static int pick(const char *v, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0) return i;
    return -1;
}

static foil_status resize_init(FoilNode *n)
{
    static const char *const modes[] = {"nearest", "linear", "cubic"};
    static const char *const ctms[] = {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
                                       "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize"};
    static const char *const nms[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    resize_state s = {0};
    const char *m = foilAttrString(n, "mode", "nearest");
    /* opset 10 spells linear "linear" too; Upsample's "bilinear" is not Resize's */
    if ((s.mode = pick(m, modes, 3)) < 0)
        return foilNodeInitError(n, FOIL_ERR_UNSUPPORTED, "mode '%s' is not supported (nearest, linear, cubic)", m);
    const char *ct = foilAttrString(n, "coordinate_transformation_mode", n->opset < 11 ? "asymmetric" : "half_pixel");
    if ((s.ctm = pick(ct, ctms, 7)) < 0)
        return foilNodeInitError(n, FOIL_ERR_UNSUPPORTED, "coordinate_transformation_mode '%s' is not supported", ct);
    const char *nm = foilAttrString(n, "nearest_mode", "round_prefer_floor");
    if ((s.nearest = pick(nm, nms, 4)) < 0)
        return foilNodeInitError(n, FOIL_ERR_UNSUPPORTED, "nearest_mode '%s' is not supported", nm);
    if (n->opset < 11) s.nearest = NM_SIMPLE;
    if (foilAttrInt(n, "antialias", 0) != 0)
        return foilNodeInitError(n, FOIL_ERR_UNSUPPORTED, "antialias = %lld is not supported",
                                    (long long)foilAttrInt(n, "antialias", 0));
    s.exclude_outside = foilAttrInt(n, "exclude_outside", 0) != 0;
    s.cubic_a = foilAttrFloat(n, "cubic_coeff_a", -0.75f);
    s.extrapolation = foilAttrFloat(n, "extrapolation_value", 0.0f);
    const char *pol = foilAttrString(n, "keep_aspect_ratio_policy", "stretch");
    if (strcmp(pol, "stretch") && strcmp(pol, "not_larger") && strcmp(pol, "not_smaller"))
        return foilNodeInitError(n, FOIL_ERR_UNSUPPORTED, "keep_aspect_ratio_policy '%s' is not supported", pol);
    if (!(n->state = malloc(sizeof s))) return foilNodeInitError(n, FOIL_ERR_NOMEM, "out of memory");
    memcpy(n->state, &s, sizeof s);
    return FOIL_OK;
}

/* A float input known at plan time, as doubles (float32 or float64). */
static foil_status known_floats(FoilOpCtx *c, int i, const char *what, double *v, int max, int *n)
{
    const foil_tensor *t = c->in[i];
    if (!c->known[i] || (t->numel && !t->data))
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED,
                               "input '%s' must be known when the model is loaded (a constant or an initializer, or "
                               "computed from shapes); a data-dependent %s is not supported", what, what);
    if (t->dtype != FOIL_F32 && t->dtype != FOIL_F64)
        return foilNodeError(c, FOIL_ERR_FORMAT, "input '%s' must be float, got %s", what, foil_dtype_name(t->dtype));
    if (t->numel > max)
        return foilNodeError(c, FOIL_ERR_FORMAT, "input '%s' has %lld values (at most %d)", what, (long long)t->numel, max);
    for (int64_t k = 0; k < t->numel; k++)
        v[k] = t->dtype == FOIL_F32 ? (double)foil_f32(t)[k] : ((const double *)t->data)[k];
    *n = (int)t->numel;
    return FOIL_OK;
}

static foil_status resize_infer(FoilOpCtx *c)
{
    const int opset = c->node->opset;
    const int i_scales = opset < 11 ? 1 : 2, i_sizes = 3;
    if (c->n_in < 1 || !c->in[0] || c->n_in > 4 || (opset < 13 && c->n_in < i_scales + 1))
        return foilNodeError(c, FOIL_ERR_FORMAT, "unexpected inputs (%d)", c->n_in);
    if (c->n_out != 1 || !c->out[0]) return foilNodeError(c, FOIL_ERR_FORMAT, "expects 1 output");
    const foil_tensor *x = c->in[0];
    if (x->dtype != FOIL_F32)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "input X is %s (only float32 is supported)",
                               foil_dtype_name(x->dtype));
    resize_state *s = c->state;
    const int r = x->ndim;
    int axes[FOIL_MAX_DIMS], na = r;
    const int64_t *av;
    int nav = opset >= 18 ? foilAttrInts(c->node, "axes", &av) : -1;
    for (int d = 0; d < r; d++) axes[d] = d;
    if (nav >= 0) {
        if (nav > r) return foilNodeError(c, FOIL_ERR_FORMAT, "axes has %d values for rank %d", nav, r);
        int seen[FOIL_MAX_DIMS] = {0};
        for (int k = 0; k < nav; k++) {
            int a = foilNormAxis(av[k], r);
            if (a < 0 || seen[a]) return foilNodeError(c, FOIL_ERR_FORMAT, "axis %lld is out of range or repeated",
                                                       (long long)av[k]);
            seen[a] = 1;
            axes[k] = a;
        }
        na = nav;
    }
    double sc[FOIL_MAX_DIMS];
    int64_t shape[FOIL_MAX_DIMS], sz[FOIL_MAX_DIMS];
    int nsc = 0, nsz = 0;
    foil_status st;
    int has_scales = c->n_in > i_scales && c->in[i_scales] && c->in[i_scales]->numel > 0;
    int has_sizes = c->n_in > i_sizes && c->in[i_sizes] && c->in[i_sizes]->numel > 0;
    if (has_scales == has_sizes)
        return foilNodeError(c, FOIL_ERR_FORMAT, "exactly one of scales and sizes must be given");
    for (int d = 0; d < r; d++) {
        shape[d] = x->shape[d];
        s->scale[d] = 1.0;
    }
    if (has_scales) {
        if ((st = known_floats(c, i_scales, "scales", sc, FOIL_MAX_DIMS, &nsc))) return st;
        if (nsc != na) return foilNodeError(c, FOIL_ERR_FORMAT, "scales has %d values for %d axes", nsc, na);
        for (int k = 0; k < na; k++) {
            if (!(sc[k] > 0.0) || !isfinite(sc[k]))
                return foilNodeError(c, FOIL_ERR_FORMAT, "scales[%d] = %g is not positive", k, sc[k]);
            if (s->ctm == CT_CROP)
                return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "tf_crop_and_resize with scales (not sizes) is not supported");
            s->scale[axes[k]] = sc[k];
            shape[axes[k]] = (int64_t)floor((double)x->shape[axes[k]] * sc[k]);
        }
    } else {
        if ((st = foilKnownInts(c, i_sizes, "sizes", sz, FOIL_MAX_DIMS, &nsz))) return st;
        if (nsz != na) return foilNodeError(c, FOIL_ERR_FORMAT, "sizes has %d values for %d axes", nsz, na);
        const char *pol = foilAttrString(c->node, "keep_aspect_ratio_policy", "stretch");
        double one = 0.0;
        for (int k = 0; k < na; k++) {
            if (sz[k] < 0) return foilNodeError(c, FOIL_ERR_FORMAT, "sizes[%d] = %lld is negative", k, (long long)sz[k]);
            if (x->shape[axes[k]] == 0) return foilNodeError(c, FOIL_ERR_SHAPE, "cannot resize an empty axis");
            double q = (double)sz[k] / (double)x->shape[axes[k]];
            if (k == 0 || (pol[4] == 'l' ? q < one : q > one)) one = q; /* not_larger: min; not_smaller: max */
        }
        for (int k = 0; k < na; k++) {
            int a = axes[k];
            if (opset >= 18 && strcmp(pol, "stretch") != 0) {
                s->scale[a] = one;
                shape[a] = (int64_t)floor(one * (double)x->shape[a] + 0.5);
            } else {
                s->scale[a] = (double)sz[k] / (double)x->shape[a];
                shape[a] = sz[k];
            }
        }
    }
    if (s->ctm == CT_CROP && (c->n_in < 2 || !c->in[1] || c->in[1]->numel != 2 * na))
        return foilNodeError(c, FOIL_ERR_FORMAT, "tf_crop_and_resize needs roi with %d values", 2 * na);
    if (s->ctm == CT_CROP && na != r)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "tf_crop_and_resize with axes is not supported");
    st = foil_tensor_set_shape(c->out[0], FOIL_F32, r, shape);
    if (st) return foilNodeError(c, st, "output: %s", foil_last_error());
    int64_t taps = 0;
    for (int d = 0; d < r; d++) taps += shape[d];
    c->work_bytes = (size_t)taps * sizeof(resize_tap);
    return FOIL_OK;
}

/* Keys' cubic weights of the taps f-1, f, f+1, f+2 for r = x_ori - f. */
static void cubic_weights(double r, double A, double *w)
{
    double t = r + 1;
    w[0] = ((A * t - 5 * A) * t + 8 * A) * t - 4 * A;
    w[1] = ((A + 2) * r - (A + 3)) * r * r + 1;
    t = 1 - r;
    w[2] = ((A + 2) * t - (A + 3)) * t * t + 1;
    t = 2 - r;
    w[3] = ((A * t - 5 * A) * t + 8 * A) * t - 4 * A;
}

/* The taps of output index x on axis d (input length in, output length out). */
static void axis_taps(const resize_state *s, double scale, int64_t in, int64_t out, int64_t x, double roi0,
                      double roi1, int64_t stride, resize_tap *t)
{
    const double L = scale * (double)in;
    double xo;
    switch (s->ctm) {
    case CT_HALF_PIXEL: xo = ((double)x + 0.5) / scale - 0.5; break;
    case CT_HALF_PIXEL_SYM: {
        double adj = (double)out / L, center = (double)in / 2;
        xo = center * (1 - adj) + ((double)x + 0.5) / scale - 0.5;
        break;
    }
    case CT_PYTORCH: xo = L > 1 ? ((double)x + 0.5) / scale - 0.5 : 0.0; break;
    case CT_ALIGN: xo = L == 1 ? 0.0 : (double)x * (double)(in - 1) / (L - 1); break;
    case CT_ASYM: xo = (double)x / scale; break;
    case CT_TF_NN: xo = ((double)x + 0.5) / scale; break;
    default:
        xo = out > 1 ? roi0 * (double)(in - 1) + (double)x * (roi1 - roi0) * (double)(in - 1) / (double)(out - 1)
                     : 0.5 * (roi0 + roi1) * (double)(in - 1);
        break;
    }
    t->outside = s->ctm == CT_CROP && (xo < 0 || xo > (double)(in - 1));
    int64_t idx[4];
    double w[4];
    int n;
    double f = floor(xo), r = xo - f;
    if (r == 0) {
        f -= 1;
        r = 1;
    }
    if (s->mode == RS_NEAREST) {
        int up;
        switch (s->nearest) {
        case NM_PREFER_FLOOR: up = r > 0.5; break;
        case NM_PREFER_CEIL: up = r >= 0.5; break;
        case NM_FLOOR: up = r == 1; break;
        case NM_CEIL: up = 1; break;
        default: up = scale < 1 ? 1 : r == 1; break; /* opset 10: ceil down, floor up */
        }
        n = 1;
        idx[0] = (int64_t)f + up;
        w[0] = 1;
    } else if (s->mode == RS_LINEAR) {
        n = 2;
        idx[0] = (int64_t)f;
        idx[1] = (int64_t)f + 1;
        w[0] = 1 - r;
        w[1] = r;
    } else {
        n = 4;
        for (int k = 0; k < 4; k++) idx[k] = (int64_t)f - 1 + k;
        cubic_weights(r, s->cubic_a, w);
    }
    if (s->exclude_outside) {
        double sum = 0;
        for (int k = 0; k < n; k++) {
            if (idx[k] < 0 || idx[k] >= in) w[k] = 0;
            sum += w[k];
        }
        if (sum != 0)
            for (int k = 0; k < n; k++) w[k] /= sum;
    }
    /* clamp (edge padding), merge equal indices, drop zero weights */
    t->n = 0;
    for (int k = 0; k < n; k++) {
        int64_t i = idx[k] < 0 ? 0 : idx[k] >= in ? in - 1 : idx[k];
        if (w[k] == 0) continue;
        int j = 0;
        while (j < t->n && t->off[j] != i * stride) j++;
        if (j == t->n) {
            t->off[j] = i * stride;
            t->w[j] = 0;
            t->n++;
        }
        t->w[j] += (float)w[k];
    }
    if (t->n == 0) { /* every weight zero: keep one tap so the sum is defined */
        t->off[0] = 0;
        t->w[0] = 0;
        t->n = 1;
    }
}

static double roi_at(const foil_tensor *roi, int k)
{
    return roi->dtype == FOIL_F64 ? ((const double *)roi->data)[k] : (double)foil_f32(roi)[k];
}

/* Tabulate every axis's taps in c->work: tab[d] points at axis d's. */
static void resize_tables(FoilOpCtx *c, resize_tap **tab)
{
    const resize_state *s = c->state;
    const foil_tensor *x = c->in[0], *y = c->out[0];
    const int r = x->ndim;
    resize_tap *t = c->work;
    int64_t stride = 1;
    for (int d = r - 1; d >= 0; d--) {
        tab[d] = t;
        t += y->shape[d];
    }
    for (int d = r - 1; d >= 0; d--) {
        double r0 = 0, r1 = 1;
        if (s->ctm == CT_CROP) {
            r0 = roi_at(c->in[1], d);
            r1 = roi_at(c->in[1], r + d);
        }
        for (int64_t o = 0; o < y->shape[d]; o++)
            axis_taps(s, s->scale[d], x->shape[d], y->shape[d], o, r0, r1, stride, &tab[d][o]);
        stride *= x->shape[d];
    }
}

/* The taps of output element o on each axis (tp[d]); 1 when o is
 * extrapolated (tf_crop_and_resize outside the input). */
static int element_taps(resize_tap *const *tab, const foil_tensor *y, int64_t o, const resize_tap **tp)
{
    int outside = 0;
    for (int d = y->ndim - 1; d >= 0; d--) {
        tp[d] = &tab[d][o % y->shape[d]];
        o /= y->shape[d];
        outside |= tp[d]->outside;
    }
    return outside;
}

static foil_status resize_forward(FoilOpCtx *c)
{
    const resize_state *s = c->state;
    const foil_tensor *x = c->in[0];
    foil_tensor *y = c->out[0];
    const int r = y->ndim;
    if (y->numel == 0) return FOIL_OK;
    if (x->numel == 0) return foilNodeError(c, FOIL_ERR_SHAPE, "cannot resize an empty input to a non-empty output");
    resize_tap *tab[FOIL_MAX_DIMS];
    resize_tables(c, tab);
    const float *xp = foil_f32(x);
    float *yp = foil_f32(y);
    const float extra = s->extrapolation;
#pragma omp parallel for if (y->numel > PAR_MIN / 4) schedule(static)
    for (int64_t o = 0; o < y->numel; o++) {
        const resize_tap *tp[FOIL_MAX_DIMS];
        if (element_taps(tab, y, o, tp)) {
            yp[o] = extra;
            continue;
        }
        /* odometer over the taps of every axis */
        int k[FOIL_MAX_DIMS] = {0};
        double acc = 0;
        for (;;) {
            int64_t off = 0;
            double w = 1;
            for (int d = 0; d < r; d++) {
                off += tp[d]->off[k[d]];
                w *= tp[d]->w[k[d]];
            }
            acc += w * xp[off];
            int d = r - 1;
            while (d >= 0 && ++k[d] == tp[d]->n) k[d--] = 0;
            if (d < 0) break;
        }
        yp[o] = (float)acc;
    }
    return FOIL_OK;
}

/*
 * In the forward pass this was out[o] = sum_t w(o, t) * in[idx(o, t)], so
 *   d_in[idx(o, t)] += w(o, t) * d_out[o]
 * (nothing for extrapolated elements). Several o share input elements, so
 * the loop is serial, except over the first axis when it maps each output
 * index to the same input index with weight 1 (not resized: the batch),
 * whose slices are then independent. The tables are forward's.
 */
static void resize_backward(FoilOpCtx *c)
{
    if (!c->d_in || !c->d_in[0] || !c->d_out || !c->d_out[0]) return;
    const foil_tensor *x = c->in[0], *y = c->out[0];
    const int r = y->ndim;
    if (y->numel == 0 || x->numel == 0) return;
    resize_tap *tab[FOIL_MAX_DIMS];
    resize_tap *t = c->work;
    for (int d = r - 1; d >= 0; d--) {
        tab[d] = t;
        t += y->shape[d];
    }
    float *dx = foil_f32(c->d_in[0]);
    const float *dy = foil_f32(c->d_out[0]);
    int64_t n0 = y->shape[0], per = y->numel / n0;
    int batch_free = x->shape[0] == n0;
    for (int64_t o = 0; batch_free && o < n0; o++)
        batch_free = tab[0][o].n == 1 && tab[0][o].w[0] == 1.0f && tab[0][o].off[0] == o * (x->numel / n0);
#pragma omp parallel for if (batch_free && n0 > 1 && y->numel > PAR_MIN / 4) schedule(static)
    for (int64_t b = 0; b < n0; b++)
        for (int64_t o = b * per; o < (b + 1) * per; o++) {
            const resize_tap *tp[FOIL_MAX_DIMS];
            if (element_taps(tab, y, o, tp)) continue;
            const float g = dy[o];
            int k[FOIL_MAX_DIMS] = {0};
            for (;;) {
                int64_t off = 0;
                float w = g;
                for (int d = 0; d < r; d++) {
                    off += tp[d]->off[k[d]];
                    w *= tp[d]->w[k[d]];
                }
                dx[off] += w;
                int d = r - 1;
                while (d >= 0 && ++k[d] == tp[d]->n) k[d--] = 0;
                if (d < 0) break;
            }
        }
}

const FoilOp foilOpResize = {
    .type = "Resize", .grad_inputs = 1u,
    .init = resize_init, .infer = resize_infer, .forward = resize_forward, .backward = resize_backward,
    .plan_state_bytes = sizeof(resize_state),
    .value_inputs = 0xeu, /* roi, scales, sizes (opset 10: scales is input 1) */
};
