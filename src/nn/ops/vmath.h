/*
 * nn/ops/vmath.h - exp, tanh and erf that gcc vectorizes (glibc's expf,
 * tanhf and erff are not without -ffast-math), for Sigmoid, Tanh, the
 * softmax family, Erf and Gelu.
 */
#ifndef FOIL_NN_OPS_VMATH_H
#define FOIL_NN_OPS_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Vectorizable math for the elementwise kernels (Sigmoid, Tanh, softmax).
 *
 * glibc's expf/tanhf are scalar calls unless the build uses -ffast-math,
 * which foil does not. These are branch-free inline versions gcc vectorizes:
 * Cephes' expf (Cody-Waite range reduction, degree-6 polynomial, about 1 ulp)
 * and tanhf (odd polynomial below 0.625, 1 - 2/(e^2x + 1) above).
 * Deliberate differences from libm: results below FLT_MIN flush to 0
 * (exp(x) for x < -87.34), NaN propagates, +-inf behave as limits. */

static inline float foilBitsToFloat(uint32_t u)
{
    union { uint32_t u; float f; } v = {u};
    return v.f;
}

static inline uint32_t foilFloatToBits(float f)
{
    union { float f; uint32_t u; } v = {f};
    return v.u;
}

static inline float foilExpf(float x)
{
    /* ln(FLT_MAX) and ln(FLT_MIN): outside, the result is inf or flushed to 0 */
    const float hi = 88.7228391f, lo = -87.3365448f;
    float xc = x > hi ? hi : x;
    xc = xc < lo ? lo : xc; /* NaN passes both */
    /* n = round(x / ln2) with the 1.5 * 2^23 trick: its low mantissa bits are n */
    const float t = xc * 1.44269504088896341f + 12582912.0f;
    const float n = t - 12582912.0f;
    const int32_t ni = (int32_t)(foilFloatToBits(t) - 0x4B400000u); /* in [-126, 128] */
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    /* 2^n as a float needs n <= 127: for n > 0 scale by 2^(n-1), then by 2 */
    const int32_t k = ni > 0 ? 1 : 0;
    float y = p * foilBitsToFloat((uint32_t)(ni - k + 127) << 23);
    y = k ? y * 2.0f : y;
    y = x < lo ? 0.0f : y;
    y = x > hi ? (float)INFINITY : y;
    return y;
}

static inline float foilTanhf(float x)
{
    const float ax = x < 0.0f ? -x : x;
    /* large |x|: 1 - 2 / (exp(2|x|) + 1), exact limit 1 for big |x| */
    const float big = 1.0f - 2.0f / (foilExpf(2.0f * ax) + 1.0f);
    const float yb = x < 0.0f ? -big : big;
    /* small |x|: Cephes' odd polynomial, no cancellation */
    const float z = x * x;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    const float ys = p * z * x + x;
    return ax < 0.625f ? ys : yb; /* NaN: ys is NaN */
}

/* erf(x) as the rational approximation Eigen and XLA use for float: x P(x^2)
 * / Q(x^2) on [-4, 4], degrees 13 over 8, clamped outside (erf(4) is 1 in
 * float32). Within 3.4e-7 of erf everywhere with fused multiply-add, 4.5e-7
 * without (about 5 to 7 ulp near |x| = 3.9; glibc's erff: 5e-8), relative
 * error as small down to the smallest floats; NaN propagates. A transformer's Gelu spends 15% of its forward
 * pass in glibc's scalar erff otherwise. */
static inline float foilErff(float x)
{
    float xc = x > 4.0f ? 4.0f : x;
    xc = xc < -4.0f ? -4.0f : xc; /* NaN passes both */
    const float z = xc * xc;
    float p = -2.72614225801306e-10f;
    p = p * z + 2.77068142495902e-08f;
    p = p * z - 2.10102402082508e-06f;
    p = p * z - 5.69250639462346e-05f;
    p = p * z - 7.34990630326855e-04f;
    p = p * z - 2.95459980854025e-03f;
    p = p * z - 1.60960333262415e-02f;
    float q = -1.45660718464996e-05f;
    q = q * z - 2.13374055278905e-04f;
    q = q * z - 1.68282697438203e-03f;
    q = q * z - 7.37332916720468e-03f;
    q = q * z - 1.42647390514189e-02f;
    return xc * p / q;
}

#endif
