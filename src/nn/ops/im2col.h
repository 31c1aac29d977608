/*
 * nn/ops/im2col.h - sliding-window geometry shared by Conv and the pooling ops
 * (private to src/nn/ops).
 *
 * Conv, MaxPool and AveragePool all slide a window of kernel_shape over the
 * spatial axes of an (N, C, spatial...) tensor, with strides, dilations and
 * padding given either explicitly (pads) or by auto_pad. This file parses those
 * attributes once (init), resolves them against an input shape (infer), and
 * provides im2col / col2im for Conv, plus the small 16-float vector helpers
 * and the fast-path switch that conv.c and pool.c share.
 *
 * Canonical form: every geometry is stored as 3-D (D, H, W). A model's 1-D or
 * 2-D window gets leading unit axes (in = out = k = s = d = 1, no padding), so
 * one triple loop serves 1-D, 2-D and 3-D. Axis j of the model's spatial axes
 * is canonical axis j + 3 - nsp. More than 3 spatial axes are rejected.
 */
#ifndef FOIL_NN_OPS_IM2COL_H
#define FOIL_NN_OPS_IM2COL_H

#include <stdint.h>
#include <string.h>
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include "nn/op.h"

#define FOIL_WIN_DIMS 3

typedef enum FoilAutopad {
    FOIL_AUTOPAD_NOTSET = 0,
    FOIL_AUTOPAD_SAME_UPPER,
    FOIL_AUTOPAD_SAME_LOWER,
    FOIL_AUTOPAD_VALID
} FoilAutopad;

/* Window attributes as the model states them (parsed by init). A count of -1
 * means the attribute is absent; values are already checked for sign/range. */
typedef struct FoilWinattr {
    FoilAutopad auto_pad;
    int nk, npads, nstrides, ndil;
    int64_t k[FOIL_WIN_DIMS];
    int64_t pads[2 * FOIL_WIN_DIMS];
    int64_t strides[FOIL_WIN_DIMS];
    int64_t dil[FOIL_WIN_DIMS];
} FoilWinattr;

/* Geometry resolved for one input shape (canonical 3-D; see above). Window
 * position o along axis a reads input coordinates o*s[a] - p0[a] + t*d[a] for
 * t in [0, k[a]); coordinates outside [0, in[a]) are padding. */
typedef struct FoilWindow {
    int nsp;                         /* spatial rank in the model: 1..3 */
    int64_t in[FOIL_WIN_DIMS], out[FOIL_WIN_DIMS], k[FOIL_WIN_DIMS];
    int64_t s[FOIL_WIN_DIMS], d[FOIL_WIN_DIMS];
    int64_t p0[FOIL_WIN_DIMS], p1[FOIL_WIN_DIMS];   /* padding at begin / end */
    int64_t in_size, out_size, k_size;               /* products over the axes */
} FoilWindow;

/* Parse auto_pad, kernel_shape, pads, strides, dilations from node->attrs.
 * Rejects wrong attribute types, unknown auto_pad, more than 3 spatial axes,
 * kernel/stride/dilation < 1, negative pads, odd pads counts. */
foil_status foilWinattrParse(const FoilNode *n, FoilWinattr *a);

/* Resolve the window for spatial input shape in_sp[0..nsp) and kernel
 * k[0..nsp): check attribute counts against nsp, apply auto_pad, compute the
 * output shape (floor, or ceil when ceil_mode; a last ceil-mode window that
 * would start at or past the end of the input, in the end padding, is dropped,
 * as PyTorch and ONNX Runtime do). Errors (through foilNodeError) when the
 * dilated kernel is larger than the padded input. */
foil_status foilWindowResolve(const FoilOpCtx *c, const FoilWinattr *a, int nsp,
                                const int64_t *in_sp, const int64_t *k, int ceil_mode,
                                FoilWindow *w);

/* The t in [0, n) with 0 <= off + t*step < limit form one interval [*lo, *hi)
 * (step >= 1). Used for "which outputs of a kernel row read real input" and
 * "which kernel taps of a window fall inside the input". */
static inline void foilWinRange(int64_t off, int64_t step, int64_t limit, int64_t n,
                                  int64_t *lo, int64_t *hi)
{
    int64_t l = off >= 0 ? 0 : (-off + step - 1) / step;
    int64_t h = limit - off <= 0 ? 0 : (limit - off + step - 1) / step;
    if (l > n) l = n;
    if (h > n) h = n;
    if (h < l) h = l;
    *lo = l;
    *hi = h;
}

/* im2col for `ch` channels of one sample: x is (ch, in...) and col is
 * (ch * k_size, out_size) row-major, row (c, kd, kh, kw), column (od, oh, ow);
 * padding reads as 0. */
void foilIm2col(const FoilWindow *w, int64_t ch, const float *x, float *col);

/* The same for output rows (second spatial axis) [oh0, oh1) only: col is
 * (ch * k_size, out[0] * (oh1 - oh0) * out[2]). */
void foilIm2colRows(const FoilWindow *w, int64_t ch, const float *x, int64_t oh0, int64_t oh1, float *col);

/* The adjoint of foilIm2col: dx (ch, in...) += col scattered back. */
void foilCol2im(const FoilWindow *w, int64_t ch, const float *col, float *dx);

/* 16-float vectors (GCC vector extensions: one AVX-512 register, or pieces
 * of smaller ones on other targets), unaligned loads and stores of them, and
 * loads/stores of their first n lanes (masked on AVX-512). */
/* Vectors pass by value only to and from these static inline helpers (and
 * static functions in the files that include this header), never across an
 * external interface, so gcc's note that their ABI differs without AVX-512
 * does not apply; it is silenced for every file that includes this one. The
 * helpers are always inlined: without AVX-512, gcc would otherwise split
 * off out-of-line pieces of them (v16_load_part.part.0) whose vector return
 * draws the same note as an error that no pragma can silence. */
#pragma GCC diagnostic ignored "-Wpsabi"
#define FOIL_V16_INLINE static inline __attribute__((always_inline))

typedef float v16 __attribute__((vector_size(64)));
typedef int32_t vi16 __attribute__((vector_size(64)));

/* Lane j of v16_shuffle2(a, b, mask) is a[mask[j]] for mask[j] < 16, else
 * b[mask[j] - 16]: gcc's __builtin_shuffle; clang (the fuzzing build,
 * tests/fuzz) lacks it and gets the same, element by element. */
#if defined(__clang__)
FOIL_V16_INLINE v16 v16_shuffle2(v16 a, v16 b, vi16 mask)
{
    v16 r;
    for (int i = 0; i < 16; i++) r[i] = mask[i] < 16 ? a[mask[i] & 15] : b[mask[i] & 15];
    return r;
}
#else
#define v16_shuffle2(a, b, mask) __builtin_shuffle((a), (b), (mask))
#endif

FOIL_V16_INLINE v16 v16_load(const float *p)
{
    v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

FOIL_V16_INLINE void v16_store(float *p, v16 v) { memcpy(p, &v, sizeof v); }

#ifdef __AVX512F__
FOIL_V16_INLINE v16 v16_load_part(const float *p, int64_t n)
{
    if (n >= 16) return v16_load(p);
    return n > 0 ? (v16)_mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1u), p) : (v16){0};
}

FOIL_V16_INLINE void v16_store_part(float *p, v16 v, int64_t n)
{
    if (n >= 16) v16_store(p, v);
    else if (n > 0) _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1u), (__m512)v);
}
#else
FOIL_V16_INLINE v16 v16_load_part(const float *p, int64_t n)
{
    if (n >= 16) return v16_load(p);
    float t[16] = {0};
    if (n > 0) memcpy(t, p, (size_t)n * sizeof *t);
    return v16_load(t);
}

FOIL_V16_INLINE void v16_store_part(float *p, v16 v, int64_t n)
{
    if (n >= 16) v16_store(p, v);
    else if (n > 0) memcpy(p, &v, (size_t)n * sizeof *p);
}
#endif

/* m ? a : b, lane by lane (m lanes are 0 or -1, as comparisons give). */
FOIL_V16_INLINE v16 v16_select(vi16 m, v16 a, v16 b) { return (v16)((m & (vi16)a) | (~m & (vi16)b)); }

/* Vectors of the target's native width (VN floats), for hot loops: gcc
 * splits a 16-float vector into pieces where registers are narrower and
 * then spills them (a Winograd or axpy tile of them on AVX2 compiled to
 * more stack moves than arithmetic, at a third of the speed). A tile that
 * spans 16 floats of output holds 16 / VN of these per row instead; each
 * sum is the same, in the same order. */
#if defined(__AVX512F__)
#define VN 16
#elif defined(__AVX__)
#define VN 8
#else
#define VN 4
#endif
typedef float vn __attribute__((vector_size(4 * VN)));
typedef int32_t vin __attribute__((vector_size(4 * VN)));

FOIL_V16_INLINE vn vn_load(const float *p)
{
    vn v;
    memcpy(&v, p, sizeof v);
    return v;
}

FOIL_V16_INLINE void vn_store(float *p, vn v) { memcpy(p, &v, sizeof v); }

/* The first n lanes (n <= 0: none) from p, the rest 0; and their store.
 * Masked on AVX-512 and AVX2, so memory past the n floats is not touched
 * and a tail costs what a whole vector does; through a copy elsewhere. */
#if defined(__AVX512F__)
FOIL_V16_INLINE vn vn_load_part(const float *p, int64_t n) { return v16_load_part(p, n); }
FOIL_V16_INLINE void vn_store_part(float *p, vn v, int64_t n) { v16_store_part(p, v, n); }
#elif defined(__AVX2__)
FOIL_V16_INLINE __m256i vn_lanes_below(int64_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* n <= 0 goes through the mask too (no lane set: zeros, memory untouched):
 * a constant-zero arm let gcc split `acc += a * b` over the two arms and
 * drop the fused multiply-add on the tail's second vector, so the avx2 set
 * rounded tails twice where the avx512 set fuses (different logits, found
 * by test_kernel_sets on the first AVX-512 machine it ran on). */
FOIL_V16_INLINE vn vn_load_part(const float *p, int64_t n)
{
    if (n >= VN) return vn_load(p);
    return (vn)_mm256_maskload_ps(p, vn_lanes_below(n > 0 ? n : 0));
}

FOIL_V16_INLINE void vn_store_part(float *p, vn v, int64_t n)
{
    if (n >= VN) vn_store(p, v);
    else if (n > 0) _mm256_maskstore_ps(p, vn_lanes_below(n), (__m256)v);
}
#else
FOIL_V16_INLINE vn vn_load_part(const float *p, int64_t n)
{
    if (n >= VN) return vn_load(p);
    vn v = {0};
    for (int i = 0; i < n; i++) v[i] = p[i];
    return v;
}

FOIL_V16_INLINE void vn_store_part(float *p, vn v, int64_t n)
{
    if (n >= VN) vn_store(p, v);
    else
        for (int i = 0; i < n; i++) p[i] = v[i];
}
#endif
FOIL_V16_INLINE vn vn_select(vin m, vn a, vn b) { return (vn)((m & (vin)a) | (~m & (vin)b)); }

/* vn_shuffle2: v16_shuffle2 for native vectors (lane j: a[mask[j]], or
 * b[mask[j] - VN] from VN on). */
#if defined(__clang__)
FOIL_V16_INLINE vn vn_shuffle2(vn a, vn b, vin mask)
{
    vn r;
    for (int i = 0; i < VN; i++) r[i] = mask[i] < VN ? a[mask[i] & (VN - 1)] : b[mask[i] & (VN - 1)];
    return r;
}
#else
#define vn_shuffle2(a, b, mask) __builtin_shuffle((a), (b), (mask))
#endif

/* Constant lane masks: VN_EVEN picks lanes 0, 2, 4, ... of (a, b), VN_ODD
 * lanes 1, 3, 5, ...; VN_ZIP_LO interleaves the low halves of a and b
 * (a0 b0 a1 b1 ...), VN_ZIP_HI their high halves. */
#if VN == 16
#define VN_EVEN {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30}
#define VN_ODD {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31}
#define VN_ZIP_LO {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23}
#define VN_ZIP_HI {8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31}
#define VN_IOTA {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
#elif VN == 8
#define VN_EVEN {0, 2, 4, 6, 8, 10, 12, 14}
#define VN_ODD {1, 3, 5, 7, 9, 11, 13, 15}
#define VN_ZIP_LO {0, 8, 1, 9, 2, 10, 3, 11}
#define VN_ZIP_HI {4, 12, 5, 13, 6, 14, 7, 15}
#define VN_IOTA {0, 1, 2, 3, 4, 5, 6, 7}
#else
#define VN_EVEN {0, 2, 4, 6}
#define VN_ODD {1, 3, 5, 7}
#define VN_ZIP_LO {0, 4, 1, 5}
#define VN_ZIP_HI {2, 6, 3, 7}
#define VN_IOTA {0, 1, 2, 3}
#endif

/* Short copies and fills (a few dozen floats: inline vector code, where a
 * libc call per row would cost more than the copy itself). The empty asm
 * keeps gcc from turning the loops back into memcpy / memset calls. */
FOIL_V16_INLINE void foilCopyFloats(float *d, const float *s, int64_t n)
{
    int64_t i = 0;
    for (; i + VN <= n; i += VN) {
        __asm__("");
        vn_store(d + i, vn_load(s + i));
    }
    if (i < n) vn_store_part(d + i, vn_load_part(s + i, n - i), n - i);
}

FOIL_V16_INLINE void foilZeroFloats(float *d, int64_t n)
{
    vn z = {0};
    int64_t i = 0;
    for (; i + VN <= n; i += VN) {
        __asm__("");
        vn_store(d + i, z);
    }
    if (i < n) vn_store_part(d + i, z, n - i);
}

FOIL_V16_INLINE int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
FOIL_V16_INLINE int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* Fast paths on (1) / off (0). Tests turn them off to compare the general
 * path against the fast ones, or set 2 to force each fast path wherever it
 * applies, even where it would not pay (Conv's Winograd on small shapes);
 * read by infer, so set it before planning. One switch for every kernel set:
 * it lives in nn/kernel_sets.c, compiled once. */
extern int foilOpsFastPaths;

#endif
