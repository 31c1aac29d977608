/*
 * nn/ops/im2col.c - window attributes, output-shape rules and im2col/col2im
 * (see im2col.h). Shared by conv.c and pool.c.
 */
#include <string.h>

#include "nn/ops/im2col.h"

/* Attribute values larger than this are surely corrupt; the bound keeps every
 * product in the geometry far from int64 overflow. */
#define WIN_MAX_VALUE ((int64_t)1 << 31)

static foil_status get_ints(const FoilNode *n, const char *name, int64_t *dst, int max, int64_t min_value,
                            int *count)
{
    const FoilAttr *a = foilAttrGet(n, name);
    *count = -1;
    if (!a) return FOIL_OK;
    if (a->type != FOIL_ATTR_INTS)
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "attribute '%s' must be a list of ints", name);
    if (a->n > max)
        return foilNodeInitError(n, FOIL_ERR_UNSUPPORTED,
                                    "attribute '%s' has %d values; at most %d spatial axes are supported "
                                    "(%d values)",
                                    name, a->n, FOIL_WIN_DIMS, max);
    for (int i = 0; i < a->n; i++) {
        if (a->ints[i] < min_value || a->ints[i] > WIN_MAX_VALUE)
            return foilNodeInitError(n, FOIL_ERR_FORMAT,
                                        "attribute '%s'[%d] = %lld is out of range (must be >= %lld)", name, i,
                                        (long long)a->ints[i], (long long)min_value);
        dst[i] = a->ints[i];
    }
    *count = a->n;
    return FOIL_OK;
}

foil_status foilWinattrParse(const FoilNode *n, FoilWinattr *a)
{
    foil_status st;
    memset(a, 0, sizeof *a);
    const FoilAttr *ap = foilAttrGet(n, "auto_pad");
    if (ap) {
        if (ap->type != FOIL_ATTR_STRING || !ap->s)
            return foilNodeInitError(n, FOIL_ERR_FORMAT, "attribute 'auto_pad' must be a string");
        if (!strcmp(ap->s, "NOTSET") || !strcmp(ap->s, "")) a->auto_pad = FOIL_AUTOPAD_NOTSET;
        else if (!strcmp(ap->s, "SAME_UPPER")) a->auto_pad = FOIL_AUTOPAD_SAME_UPPER;
        else if (!strcmp(ap->s, "SAME_LOWER")) a->auto_pad = FOIL_AUTOPAD_SAME_LOWER;
        else if (!strcmp(ap->s, "VALID")) a->auto_pad = FOIL_AUTOPAD_VALID;
        else
            return foilNodeInitError(n, FOIL_ERR_FORMAT,
                                        "auto_pad '%.40s' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID", ap->s);
    }
    if ((st = get_ints(n, "kernel_shape", a->k, FOIL_WIN_DIMS, 1, &a->nk))) return st;
    if ((st = get_ints(n, "pads", a->pads, 2 * FOIL_WIN_DIMS, 0, &a->npads))) return st;
    if ((st = get_ints(n, "strides", a->strides, FOIL_WIN_DIMS, 1, &a->nstrides))) return st;
    if ((st = get_ints(n, "dilations", a->dil, FOIL_WIN_DIMS, 1, &a->ndil))) return st;
    if (a->nk == 0) return foilNodeInitError(n, FOIL_ERR_FORMAT, "kernel_shape is empty");
    if (a->npads >= 0 && a->npads % 2)
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "pads has %d values; it needs begin and end per axis",
                                    a->npads);
    return FOIL_OK;
}

foil_status foilWindowResolve(const FoilOpCtx *c, const FoilWinattr *a, int nsp, const int64_t *in_sp,
                                const int64_t *k, int ceil_mode, FoilWindow *w)
{
    if (nsp < 1 || nsp > FOIL_WIN_DIMS)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "%d spatial axes (1 to %d are supported)", nsp,
                               FOIL_WIN_DIMS);
    if (a->nk >= 0 && a->nk != nsp)
        return foilNodeError(c, FOIL_ERR_SHAPE, "kernel_shape has %d values but the input has %d spatial axes",
                               a->nk, nsp);
    if (a->nstrides >= 0 && a->nstrides != nsp)
        return foilNodeError(c, FOIL_ERR_SHAPE, "strides has %d values but the input has %d spatial axes",
                               a->nstrides, nsp);
    if (a->ndil >= 0 && a->ndil != nsp)
        return foilNodeError(c, FOIL_ERR_SHAPE, "dilations has %d values but the input has %d spatial axes",
                               a->ndil, nsp);
    if (a->auto_pad == FOIL_AUTOPAD_NOTSET && a->npads >= 0 && a->npads != 2 * nsp)
        return foilNodeError(c, FOIL_ERR_SHAPE, "pads has %d values but the input has %d spatial axes (needs %d)",
                               a->npads, nsp, 2 * nsp);
    memset(w, 0, sizeof *w);
    w->nsp = nsp;
    w->in_size = w->out_size = w->k_size = 1;
    int lead = FOIL_WIN_DIMS - nsp;
    for (int ax = 0; ax < FOIL_WIN_DIMS; ax++) {
        int j = ax - lead; /* model axis, < 0 for a unit axis */
        if (j < 0) {
            w->in[ax] = w->out[ax] = w->k[ax] = w->s[ax] = w->d[ax] = 1;
            continue;
        }
        int64_t in = in_sp[j], kk = k[j];
        int64_t s = a->nstrides >= 0 ? a->strides[j] : 1;
        int64_t d = a->ndil >= 0 ? a->dil[j] : 1;
        if (kk < 1 || kk > WIN_MAX_VALUE)
            return foilNodeError(c, FOIL_ERR_SHAPE, "kernel size %lld on spatial axis %d is out of range",
                                   (long long)kk, j);
        int64_t dk = (kk - 1) * d + 1; /* extent of the dilated kernel */
        int64_t p0 = 0, p1 = 0, out;
        if (a->auto_pad == FOIL_AUTOPAD_SAME_UPPER || a->auto_pad == FOIL_AUTOPAD_SAME_LOWER) {
            /* out = ceil(in / s); total padding makes the last window end at the padded edge */
            out = (in + s - 1) / s;
            int64_t total = (out - 1) * s + dk - in;
            if (total < 0) total = 0;
            p0 = a->auto_pad == FOIL_AUTOPAD_SAME_UPPER ? total / 2 : total - total / 2;
            p1 = total - p0;
        } else {
            if (a->auto_pad == FOIL_AUTOPAD_NOTSET && a->npads >= 0) {
                p0 = a->pads[j];
                p1 = a->pads[j + nsp];
            }
            int64_t span = in + p0 + p1 - dk;
            if (span < 0)
                return foilNodeError(c, FOIL_ERR_SHAPE,
                                       "kernel extent %lld on spatial axis %d is larger than the padded input "
                                       "(%lld + %lld + %lld)",
                                       (long long)dk, j, (long long)in, (long long)p0, (long long)p1);
            if (ceil_mode) {
                out = (span + s - 1) / s + 1;
                /* a last window that would start at or past the end of the
                 * input (inside the end padding) is dropped */
                if ((out - 1) * s >= in + p0) out--;
            } else {
                out = span / s + 1;
            }
        }
        if (out < 1 || in < 1)
            return foilNodeError(c, FOIL_ERR_SHAPE, "spatial axis %d of size %lld gives an empty output", j,
                                   (long long)in);
        w->in[ax] = in;
        w->out[ax] = out;
        w->k[ax] = kk;
        w->s[ax] = s;
        w->d[ax] = d;
        w->p0[ax] = p0;
        w->p1[ax] = p1;
    }
    for (int ax = 0; ax < FOIL_WIN_DIMS; ax++) {
        /* products: each factor < 2^31 and the caller's tensors are bounded,
         * but check anyway so a hostile shape cannot wrap around */
        if (__builtin_mul_overflow(w->in_size, w->in[ax], &w->in_size) ||
            __builtin_mul_overflow(w->out_size, w->out[ax], &w->out_size) ||
            __builtin_mul_overflow(w->k_size, w->k[ax], &w->k_size) || w->in_size > ((int64_t)1 << 40) ||
            w->out_size > ((int64_t)1 << 40) || w->k_size > ((int64_t)1 << 40))
            return foilNodeError(c, FOIL_ERR_SHAPE, "window geometry too large");
    }
    return FOIL_OK;
}

/*
 * im2col: col[(c, kd, kh, kw), (od, oh, ow)] = x[c, id, ih, iw] with
 * i = o*s - p0 + k*d on each axis, or 0 where that falls in the padding.
 * The innermost axis is handled as a run: the outputs ow in [lo, hi) read real
 * input (foilWinRange), the rest are zeros; with stride 1 the run is a copy.
 */
void foilIm2col(const FoilWindow *w, int64_t ch, const float *x, float *col)
{
    foilIm2colRows(w, ch, x, 0, w->out[1], col);
}

void foilIm2colRows(const FoilWindow *w, int64_t ch, const float *x, int64_t oh0, int64_t oh1, float *col)
{
    const int64_t I0 = w->in[0], I1 = w->in[1], I2 = w->in[2];
    const int64_t O0 = w->out[0], O2 = w->out[2];
    const int64_t s2 = w->s[2], cols = O0 * (oh1 - oh0) * O2;
    float *row = col;
    for (int64_t c = 0; c < ch; c++) {
        const float *xc = x + c * w->in_size;
        for (int64_t kd = 0; kd < w->k[0]; kd++)
            for (int64_t kh = 0; kh < w->k[1]; kh++)
                for (int64_t kw = 0; kw < w->k[2]; kw++, row += cols) {
                    int64_t offw = kw * w->d[2] - w->p0[2], lo, hi;
                    foilWinRange(offw, s2, I2, O2, &lo, &hi);
                    float *dst = row;
                    for (int64_t od = 0; od < O0; od++) {
                        int64_t id = od * w->s[0] - w->p0[0] + kd * w->d[0];
                        if (id < 0 || id >= I0) {
                            foilZeroFloats(dst, (oh1 - oh0) * O2);
                            dst += (oh1 - oh0) * O2;
                            continue;
                        }
                        for (int64_t oh = oh0; oh < oh1; oh++, dst += O2) {
                            int64_t ih = oh * w->s[1] - w->p0[1] + kh * w->d[1];
                            if (ih < 0 || ih >= I1) {
                                foilZeroFloats(dst, O2);
                                continue;
                            }
                            /* input column of output t is offw + t*s2 (>= 0 for t >= lo) */
                            const float *src = xc + (id * I1 + ih) * I2;
                            foilZeroFloats(dst, lo);
                            if (s2 == 1) {
                                if (hi > lo) foilCopyFloats(dst + lo, src + offw + lo, hi - lo);
                            } else if (s2 == 2) {
                                /* a constant stride: vectorized as even-lane permutes of two loads (the
                                 * variable stride below is a scalar loop; ResNet's stride-2 layers spent
                                 * as long in im2col as in half their sgemm) */
                                const float *s = src + offw;
                                for (int64_t t = lo; t < hi; t++) dst[t] = s[2 * t];
                            } else {
                                for (int64_t t = lo; t < hi; t++) dst[t] = src[offw + t * s2];
                            }
                            foilZeroFloats(dst + hi, O2 - hi);
                        }
                    }
                }
    }
}

/* col2im: the adjoint of the copy above, dx[c, i] += col[(c, k), o] for every
 * (k, o) that reads input i (padding taps are dropped). */
void foilCol2im(const FoilWindow *w, int64_t ch, const float *col, float *dx)
{
    const int64_t I0 = w->in[0], I1 = w->in[1], I2 = w->in[2];
    const int64_t O0 = w->out[0], O1 = w->out[1], O2 = w->out[2];
    const int64_t s2 = w->s[2];
    const float *row = col;
    for (int64_t c = 0; c < ch; c++) {
        float *xc = dx + c * w->in_size;
        for (int64_t kd = 0; kd < w->k[0]; kd++)
            for (int64_t kh = 0; kh < w->k[1]; kh++)
                for (int64_t kw = 0; kw < w->k[2]; kw++, row += w->out_size) {
                    int64_t offw = kw * w->d[2] - w->p0[2], lo, hi;
                    foilWinRange(offw, s2, I2, O2, &lo, &hi);
                    for (int64_t od = 0; od < O0; od++) {
                        int64_t id = od * w->s[0] - w->p0[0] + kd * w->d[0];
                        if (id < 0 || id >= I0) continue;
                        for (int64_t oh = 0; oh < O1; oh++) {
                            int64_t ih = oh * w->s[1] - w->p0[1] + kh * w->d[1];
                            if (ih < 0 || ih >= I1) continue;
                            const float *src = row + (od * O1 + oh) * O2;
                            float *dst = xc + (id * I1 + ih) * I2;
                            if (hi <= lo) continue;
                            if (s2 == 1) {
                                float *d1 = dst + offw + lo;
                                const float *s1 = src + lo;
                                for (int64_t t = 0; t < hi - lo; t++) d1[t] += s1[t];
                            } else {
                                for (int64_t t = lo; t < hi; t++) dst[offw + t * s2] += src[t];
                            }
                        }
                    }
                }
    }
}
