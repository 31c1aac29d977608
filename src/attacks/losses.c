/*
 * attacks/losses.c - the attack objectives on logits z (one row per
 * example, C classes), each with its gradient d value / d z, as
 * foil_logit_fn callbacks for foil_model_input_grad.
 *
 * DLR (Croce & Hein 2020, eq. 5 and its targeted form in sec. 4): with
 * pi the classes sorted by decreasing logit,
 *   DLR(z, y)    = -(z_y - max_{k!=y} z_k) / (z_pi1 - z_pi3 + 1e-12)
 *   DLR_T(z,y,t) = -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2 + 1e-12)
 * Both are quotients num / den of picked logits, so with q = -num / den
 *   dq/dz_a = -(dnum/dz_a) / den + (num / den^2) (dden/dz_a),
 * summed over whichever picked indices coincide.
 *
 * The margin losses are differences of two logits (C&W 2017, f6):
 *   MARGIN(z, y)        = max(z_y - max_{k!=y} z_k, -kappa), minimised (C&W)
 *   NEG_MARGIN(z, y)    = max_{k!=y} z_k - z_y, maximised (PGD's loss=margin)
 *   NEG_MARGIN_T(z, t)  = z_t - max_{k!=t} z_k, maximised
 * with gradient +1 on the first logit and -1 on the second (0 where the
 * cap holds). Unlike cross-entropy, neither these nor DLR saturate: with
 * logits so large that softmax(z)_y rounds to 1 in float32, dCE/dz is
 * exactly 0, while their gradients stay +-1 (margin) or scale-free (DLR).
 */
#include <math.h>
#include <string.h>

#include "attacks/attack_internal.h"
#include "foil/loss.h"

/* Indices of the four largest entries of z, in decreasing order (fewer
 * classes: the last index repeats). */
static void top4(const float *z, int64_t C, int64_t top[4])
{
    int64_t n = foilTopClasses(z, C, -1, 4, top);
    for (int64_t s = n; s < 4; s++) top[s] = top[n - 1];
}

/* max_{k != y} z_k and its index. */
static int64_t best_other(const float *z, int64_t C, int64_t y)
{
    int64_t m = -1;
    for (int64_t k = 0; k < C; k++)
        if (k != y && (m < 0 || z[k] > z[m])) m = k;
    return m < 0 ? y : m;
}

static void dlr_row(const float *z, int64_t C, int64_t y, float *value, float *dz)
{
    int64_t p[4];
    top4(z, C, p);
    int64_t m = best_other(z, C, y);
    double num = (double)z[y] - z[m], den = (double)z[p[0]] - z[p[2]] + 1e-12;
    if (value) *value = (float)(-num / den);
    if (!dz) return;
    memset(dz, 0, (size_t)C * sizeof *dz);
    dz[y] += (float)(-1 / den);
    dz[m] += (float)(1 / den);
    dz[p[0]] += (float)(num / (den * den));
    dz[p[2]] -= (float)(num / (den * den));
}

static void dlr_targeted_row(const float *z, int64_t C, int64_t y, int64_t t, float *value, float *dz)
{
    int64_t p[4];
    top4(z, C, p);
    double num = (double)z[y] - z[t], den = (double)z[p[0]] - 0.5 * ((double)z[p[2]] + z[p[3]]) + 1e-12;
    if (value) *value = (float)(-num / den);
    if (!dz) return;
    memset(dz, 0, (size_t)C * sizeof *dz);
    double g = num / (den * den);
    dz[y] += (float)(-1 / den);
    dz[t] += (float)(1 / den);
    dz[p[0]] += (float)g;
    dz[p[2]] -= (float)(0.5 * g);
    dz[p[3]] -= (float)(0.5 * g);
}

/* C&W f6: max(z_a - z_b, -kappa) with (a, b) = (y, best other) untargeted,
 * (best other than t, t) targeted; kappa = INFINITY: the plain difference. */
static void margin_row(const float *z, int64_t C, int64_t a, int64_t b, float kappa, float *value, float *dz)
{
    double diff = (double)z[a] - z[b];
    int active = diff > -kappa;
    if (value) *value = (float)(active ? diff : -kappa);
    if (!dz) return;
    memset(dz, 0, (size_t)C * sizeof *dz);
    if (active && a != b) {
        dz[a] = 1;
        dz[b] = -1;
    }
}

foil_status foilLogitLossFn(void *ctx, int64_t first, int64_t count, int64_t classes, const float *logits,
                               float *value, float *dvalue)
{
    const FoilLogitLoss *L = ctx;
    const int64_t *label = L->label + first, *other = L->other ? L->other + first : NULL;
    if (L->kind == FOIL_LOSS_CE || L->kind == FOIL_LOSS_NEG_CE) {
        foil_status st = foil_softmax_xent(logits, label, count, classes, value, dvalue);
        if (st || L->kind == FOIL_LOSS_CE) return st;
        if (value)
            for (int64_t i = 0; i < count; i++) value[i] = -value[i];
        for (int64_t i = 0; dvalue && i < count * classes; i++) dvalue[i] = -dvalue[i];
        return FOIL_OK;
    }
    for (int64_t i = 0; i < count; i++) {
        const float *z = logits + i * classes;
        float *v = value ? value + i : NULL, *dz = dvalue ? dvalue + i * classes : NULL;
        int64_t y = label[i];
        if (y < 0 || y >= classes || (other && (other[i] < 0 || other[i] >= classes)))
            return foil_error(FOIL_ERR_ARG, "attack loss: class index out of range for row %lld", (long long)i);
        switch (L->kind) {
        case FOIL_LOSS_DLR: dlr_row(z, classes, y, v, dz); break;
        case FOIL_LOSS_DLR_T: dlr_targeted_row(z, classes, y, other[i], v, dz); break;
        case FOIL_LOSS_MARGIN: margin_row(z, classes, y, best_other(z, classes, y), L->kappa, v, dz); break;
        case FOIL_LOSS_MARGIN_T:
            margin_row(z, classes, best_other(z, classes, other[i]), other[i], L->kappa, v, dz);
            break;
        case FOIL_LOSS_NEG_MARGIN: margin_row(z, classes, best_other(z, classes, y), y, INFINITY, v, dz); break;
        case FOIL_LOSS_NEG_MARGIN_T:
            margin_row(z, classes, other[i], best_other(z, classes, other[i]), INFINITY, v, dz);
            break;
        case FOIL_LOSS_LOGIT_DIFF:
            if (v) *v = z[other[i]] - z[y];
            if (!dz) break;
            memset(dz, 0, (size_t)classes * sizeof *dz);
            dz[other[i]] += 1;
            dz[y] -= 1;
            break;
        default: return foil_error(FOIL_ERR_ARG, "attack loss: unknown kind %d", (int)L->kind);
        }
    }
    return FOIL_OK;
}
