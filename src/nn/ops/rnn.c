/*
 * nn/ops/rnn.c - LSTM and GRU, forward and backward through time (op.h is
 * the interface they implement).
 *
 * Shapes (layout 0; layout 1 puts batch first in X, Y, Y_h, Y_c, initial_h/c):
 *   X (T, B, I); W (D, G*H, I); R (D, G*H, H); B (D, 2*G*H) = [Wb, Rb];
 *   sequence_lens (B) int32; initial_h (D, B, H); LSTM: initial_c (D, B, H),
 *   P (D, 3H) peepholes [i, o, f];  Y (T, D, B, H), Y_h (D, B, H), Y_c.
 *   D = 2 for direction "bidirectional" (forward, then reverse), else 1;
 *   G = 4 (LSTM gates i, o, f, c) or 3 (GRU gates z, r, h), as stored in W.
 * LSTM, per step, with x = X_t, h = H_{t-1}, c = C_{t-1}:
 *   i = s(x Wi' + h Ri' + Pi.c + bi)    f = s(x Wf' + h Rf' + Pf.c + bf)
 *   g = tanh(x Wc' + h Rc' + bc)        C = f.c + i.g
 *   o = s(x Wo' + h Ro' + Po.C + bo)    H = o.tanh(C)
 * GRU (linear_before_reset 0 / 1):
 *   z = s(x Wz' + h Rz' + bz)           r = s(x Wr' + h Rr' + br)
 *   n = tanh(x Wh' + (r.h) Rh' + Rbh + Wbh)   /   tanh(x Wh' + r.(h Rh' + Rbh) + Wbh)
 *   H = (1 - z).n + z.h
 * (b = Wb + Rb; s = sigmoid.) sequence_lens[b] = L: batch b runs L steps (the
 * reverse direction from t = L-1 down); Y is 0 beyond, and Y_h/Y_c hold the
 * state after step L.
 *
 * Forward projects every X row at once (one sgemm: X W' + biases), then per
 * step one sgemm of the states by R' (two for GRU's default reset), and saves
 * in c->work each step's gates and states. Backward runs the steps in
 * reverse: the gate gradients of a step give dH_{t-1} (sgemm by R) and dR
 * (sgemm with H_{t-1}); those of all steps, kept in X's row order, give dX
 * and dW in one sgemm each at the end.
 * Only the default activations (Sigmoid, Tanh, Tanh) are supported; clip and
 * LSTM's input_forget are refused with a message naming them.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nn/op.h"

enum { RNN_LSTM, RNN_GRU };

typedef struct rnn_state {
    int kind, dirs, reverse, layout, lbr;
    /* per plan */
    int64_t T, B, NI, H;
} rnn_state;

static float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }

static foil_status rnn_init_kind(FoilNode *n, int kind)
{
    rnn_state s = {.kind = kind};
    const char *dir = foilAttrString(n, "direction", "forward");
    if (strcmp(dir, "forward") == 0) s.dirs = 1;
    else if (strcmp(dir, "reverse") == 0) s.dirs = 1, s.reverse = 1;
    else if (strcmp(dir, "bidirectional") == 0) s.dirs = 2;
    else return foilNodeInitError(n, FOIL_ERR_FORMAT, "direction '%s' is not forward, reverse or bidirectional", dir);
    s.layout = (int)foilAttrInt(n, "layout", 0);
    if (s.layout != 0 && s.layout != 1)
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "layout %d is not 0 or 1", s.layout);
    s.lbr = kind == RNN_GRU && foilAttrInt(n, "linear_before_reset", 0) != 0;
    if (foilAttrGet(n, "clip")) return foilNodeInitError(n, FOIL_ERR_UNSUPPORTED, "attribute 'clip' is not supported");
    if (kind == RNN_LSTM && foilAttrInt(n, "input_forget", 0) != 0)
        return foilNodeInitError(n, FOIL_ERR_UNSUPPORTED, "input_forget = 1 is not supported");
    const FoilAttr *a = foilAttrGet(n, "activations");
    if (a) {
        static const char *const lstm_def[3] = {"Sigmoid", "Tanh", "Tanh"}, *const gru_def[2] = {"Sigmoid", "Tanh"};
        int per = kind == RNN_LSTM ? 3 : 2;
        if (a->type != FOIL_ATTR_STRINGS || a->n != per * s.dirs)
            return foilNodeInitError(n, FOIL_ERR_FORMAT, "attribute 'activations' must list %d names", per * s.dirs);
        for (int k = 0; k < a->n; k++) {
            const char *want = kind == RNN_LSTM ? lstm_def[k % per] : gru_def[k % per];
            if (strcasecmp(a->strings[k], want) != 0)
                return foilNodeInitError(n, FOIL_ERR_UNSUPPORTED,
                                            "activation '%s' is not supported (only the defaults %s)", a->strings[k],
                                            kind == RNN_LSTM ? "Sigmoid, Tanh, Tanh" : "Sigmoid, Tanh");
        }
    }
    if (foilAttrGet(n, "activation_alpha") || foilAttrGet(n, "activation_beta"))
        return foilNodeInitError(n, FOIL_ERR_UNSUPPORTED, "activation_alpha/beta are not supported");
    if (!(n->state = malloc(sizeof s))) return foilNodeInitError(n, FOIL_ERR_NOMEM, "out of memory");
    memcpy(n->state, &s, sizeof s);
    return FOIL_OK;
}

static foil_status lstm_init(FoilNode *n) { return rnn_init_kind(n, RNN_LSTM); }
static foil_status gru_init(FoilNode *n) { return rnn_init_kind(n, RNN_GRU); }

static int gates_of(const rnn_state *s) { return s->kind == RNN_LSTM ? 4 : 3; }

/* Workspace layout (floats), per direction: xw (T*B*G*H: X rows in memory
 * order, projected, with biases), gates (T*B*G*H, by step), hs, cs (T*B*H:
 * states after each step; cs holds GRU's per-step reset product instead),
 * h0, c0 (B*H); then shared: dg (T*B*G*H, X row order), dgs (B*G*H), and
 * B*H buffers tmpg (B*G*H), dh, dh2, dc, q. */
typedef struct rnn_ws {
    float *xw, *gates, *hs, *cs, *h0, *c0;
} rnn_ws;

static size_t dir_floats(const rnn_state *s)
{
    int64_t G = gates_of(s), T = s->T, B = s->B, H = s->H;
    return (size_t)(2 * T * B * G * H + 2 * T * B * H + 2 * B * H);
}

static void ws_dir(const FoilOpCtx *c, int d, rnn_ws *w)
{
    const rnn_state *s = c->state;
    int64_t G = gates_of(s), TBGH = s->T * s->B * G * s->H, TBH = s->T * s->B * s->H, BH = s->B * s->H;
    float *p = (float *)c->work + (size_t)d * dir_floats(s);
    w->xw = p;
    w->gates = p + TBGH;
    w->hs = p + 2 * TBGH;
    w->cs = w->hs + TBH;
    w->h0 = w->cs + TBH;
    w->c0 = w->h0 + BH;
}

static float *ws_shared(const FoilOpCtx *c) { return (float *)c->work + (size_t)((const rnn_state *)c->state)->dirs * dir_floats(c->state); }

static foil_status check_f32(FoilOpCtx *c, int i, int ndim, const int64_t *shape, const char *what)
{
    const foil_tensor *t = c->in[i];
    int ok = t->dtype == FOIL_F32 && t->ndim == ndim;
    for (int d = 0; ok && d < ndim; d++) ok = t->shape[d] == shape[d];
    if (!ok) {
        char b[96];
        foil_tensor want = {.ndim = ndim};
        memcpy(want.shape, shape, (size_t)ndim * sizeof *shape);
        return foilNodeError(c, FOIL_ERR_SHAPE, "input %s must be float32 %s", what, foil_shape_str(&want, b, sizeof b));
    }
    return FOIL_OK;
}

static foil_status rnn_infer(FoilOpCtx *c)
{
    rnn_state *s = c->state;
    const int lstm = s->kind == RNN_LSTM, G = gates_of(s), max_in = lstm ? 8 : 6, max_out = lstm ? 3 : 2;
    if (c->n_in < 3 || c->n_in > max_in || !c->in[0] || !c->in[1] || !c->in[2])
        return foilNodeError(c, FOIL_ERR_FORMAT, "expects X, W, R and up to %d optional inputs", max_in - 3);
    if (c->n_out < 1 || c->n_out > max_out) return foilNodeError(c, FOIL_ERR_FORMAT, "expects 1 to %d outputs", max_out);
    const foil_tensor *x = c->in[0], *w = c->in[1], *r = c->in[2];
    if (x->dtype != FOIL_F32 || x->ndim != 3) return foilNodeError(c, FOIL_ERR_SHAPE, "X must be a float32 rank-3 tensor");
    if (r->ndim != 3) return foilNodeError(c, FOIL_ERR_SHAPE, "R must have rank 3");
    const int64_t D = s->dirs, H = r->shape[2];
    s->T = x->shape[s->layout ? 1 : 0];
    s->B = x->shape[s->layout ? 0 : 1];
    s->NI = x->shape[2];
    s->H = H;
    int64_t hs_attr = foilAttrInt(c->node, "hidden_size", H);
    if (hs_attr != H) return foilNodeError(c, FOIL_ERR_SHAPE, "hidden_size %lld but R has %lld", (long long)hs_attr, (long long)H);
    foil_status st;
    if ((st = check_f32(c, 1, 3, (int64_t[]){D, G * H, s->NI}, "W")) || (st = check_f32(c, 2, 3, (int64_t[]){D, G * H, H}, "R")))
        return st;
    (void)w;
    if (c->n_in > 3 && c->in[3] && (st = check_f32(c, 3, 2, (int64_t[]){D, 2 * G * H}, "B"))) return st;
    if (c->n_in > 4 && c->in[4]) {
        const foil_tensor *sl = c->in[4];
        if ((sl->dtype != FOIL_I32 && sl->dtype != FOIL_I64) || sl->numel != s->B)
            return foilNodeError(c, FOIL_ERR_FORMAT, "sequence_lens must hold %lld int32 values", (long long)s->B);
    }
    const int64_t hshape[3] = {s->layout ? s->B : D, s->layout ? D : s->B, H};
    if (c->n_in > 5 && c->in[5] && (st = check_f32(c, 5, 3, hshape, "initial_h"))) return st;
    if (lstm && c->n_in > 6 && c->in[6] && (st = check_f32(c, 6, 3, hshape, "initial_c"))) return st;
    if (lstm && c->n_in > 7 && c->in[7] && (st = check_f32(c, 7, 2, (int64_t[]){D, 3 * H}, "P"))) return st;
    const int64_t yshape[4] = {s->layout ? s->B : s->T, s->layout ? s->T : D, s->layout ? D : s->B, H};
    if (c->out[0] && (st = foil_tensor_set_shape(c->out[0], FOIL_F32, 4, yshape))) return foilNodeError(c, st, "Y: %s", foil_last_error());
    for (int k = 1; k < c->n_out; k++)
        if (c->out[k] && (st = foil_tensor_set_shape(c->out[k], FOIL_F32, 3, hshape)))
            return foilNodeError(c, st, "output %d: %s", k, foil_last_error());
    const int64_t T = s->T, B = s->B;
    c->work_bytes = ((size_t)D * dir_floats(s) + (size_t)(T * B * G * H + 2 * B * G * H + 4 * B * H)) * sizeof(float);
    return FOIL_OK;
}

/* Steps batch b runs, and the time index of its step k in direction d. */
static int64_t seq_len(const FoilOpCtx *c, int64_t b)
{
    const rnn_state *s = c->state;
    if (c->n_in <= 4 || !c->in[4]) return s->T;
    const foil_tensor *sl = c->in[4];
    int64_t L = sl->dtype == FOIL_I32 ? ((const int32_t *)sl->data)[b] : foil_i64(sl)[b];
    return L < 0 ? 0 : L > s->T ? s->T : L;
}

static int dir_reverse(const rnn_state *s, int d) { return s->dirs == 2 ? d == 1 : s->reverse; }

static int64_t x_row(const rnn_state *s, int64_t t, int64_t b) { return s->layout ? b * s->T + t : t * s->B + b; }
static int64_t y_off(const rnn_state *s, int d, int64_t t, int64_t b)
{
    return (s->layout ? (b * s->T + t) * s->dirs + d : (t * s->dirs + d) * s->B + b) * s->H;
}
static int64_t h_off(const rnn_state *s, int d, int64_t b) { return (s->layout ? b * s->dirs + d : d * s->B + b) * s->H; }

static const float *opt_in(const FoilOpCtx *c, int i) { return c->n_in > i && c->in[i] ? foil_f32(c->in[i]) : NULL; }

static foil_status rnn_forward(FoilOpCtx *c)
{
    const rnn_state *s = c->state;
    const int lstm = s->kind == RNN_LSTM;
    const int64_t T = s->T, B = s->B, NI = s->NI, H = s->H, G = gates_of(s), GH = G * H, rows = T * B;
    const float *x = foil_f32(c->in[0]), *bias = opt_in(c, 3), *ih = opt_in(c, 5);
    const float *ic = lstm ? opt_in(c, 6) : NULL, *peep = lstm ? opt_in(c, 7) : NULL;
    float *y = c->out[0] ? foil_f32(c->out[0]) : NULL;
    if (y) memset(y, 0, foil_tensor_nbytes(c->out[0]));
    float *sh = ws_shared(c), *tmpg = sh + rows * GH + B * GH, *q = tmpg + B * GH;
    for (int d = 0; d < s->dirs; d++) {
        rnn_ws w;
        ws_dir(c, d, &w);
        const float *W = foil_f32(c->in[1]) + d * GH * NI, *R = foil_f32(c->in[2]) + d * GH * H;
        const float *Wb = bias ? bias + d * 2 * GH : NULL, *Rb = Wb ? Wb + GH : NULL;
        const float *P = peep ? peep + d * 3 * H : NULL;
        const int rev = dir_reverse(s, d);
        /* xw = X W' + Wb (+ Rb, except GRU's Rbh, which the reset gate multiplies or which follows r.h) */
        if (rows && GH)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)GH, (int)NI, 1.0f, x, (int)(NI ? NI : 1), W,
                        (int)(NI ? NI : 1), 0.0f, w.xw, (int)GH);
        if (Wb)
            for (int64_t rw = 0; rw < rows; rw++)
                for (int64_t j = 0; j < GH; j++) w.xw[rw * GH + j] += Wb[j] + (lstm || j < 2 * H ? Rb[j] : 0.0f);
        for (int64_t b = 0; b < B; b++)
            for (int64_t j = 0; j < H; j++) {
                w.h0[b * H + j] = ih ? ih[h_off(s, d, b) + j] : 0.0f;
                w.c0[b * H + j] = ic ? ic[h_off(s, d, b) + j] : 0.0f;
            }
        for (int64_t k = 0; k < T; k++) {
            const float *hp = k ? w.hs + (k - 1) * B * H : w.h0;
            const float *cp = k ? w.cs + (k - 1) * B * H : w.c0; /* LSTM */
            float *hn = w.hs + k * B * H, *cn = w.cs + k * B * H, *gk = w.gates + k * B * GH;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)GH, (int)H, 1.0f, hp, (int)H, R, (int)H,
                        0.0f, tmpg, (int)GH);
            for (int64_t b = 0; b < B; b++) {
                const int64_t L = seq_len(c, b);
                float *gb = gk + b * GH;
                if (k >= L) { /* finished: carry the state */
                    memcpy(hn + b * H, hp + b * H, (size_t)H * sizeof(float));
                    if (lstm) memcpy(cn + b * H, cp + b * H, (size_t)H * sizeof(float));
                    else memset(cn + b * H, 0, (size_t)H * sizeof(float));
                    memset(gb, 0, (size_t)GH * sizeof(float));
                    continue;
                }
                const int64_t t = rev ? L - 1 - k : k;
                const float *xg = w.xw + x_row(s, t, b) * GH, *rg = tmpg + b * GH;
                if (lstm) {
                    for (int64_t j = 0; j < H; j++) {
                        const float c0 = cp[b * H + j];
                        float ig = sigm(xg[j] + rg[j] + (P ? P[j] * c0 : 0.0f));
                        float fg = sigm(xg[2 * H + j] + rg[2 * H + j] + (P ? P[2 * H + j] * c0 : 0.0f));
                        float cg = tanhf(xg[3 * H + j] + rg[3 * H + j]);
                        float C = fg * c0 + ig * cg;
                        float og = sigm(xg[H + j] + rg[H + j] + (P ? P[H + j] * C : 0.0f));
                        gb[j] = ig;
                        gb[H + j] = og;
                        gb[2 * H + j] = fg;
                        gb[3 * H + j] = cg;
                        cn[b * H + j] = C;
                        hn[b * H + j] = og * tanhf(C);
                    }
                } else {
                    for (int64_t j = 0; j < H; j++) {
                        float z = sigm(xg[j] + rg[j]), r = sigm(xg[H + j] + rg[H + j]);
                        gb[j] = z;
                        gb[H + j] = r;
                        /* cs: linear_before_reset: h Rh' + Rbh; else r.h (Rh' applied below) */
                        cn[b * H + j] = s->lbr ? rg[2 * H + j] + (Rb ? Rb[2 * H + j] : 0.0f) : r * hp[b * H + j];
                    }
                }
            }
            if (!lstm) {
                if (!s->lbr)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)H, (int)H, 1.0f, cn, (int)H,
                                R + 2 * H * H, (int)H, 0.0f, q, (int)H);
                for (int64_t b = 0; b < B; b++) {
                    const int64_t L = seq_len(c, b);
                    if (k >= L) continue;
                    const int64_t t = rev ? L - 1 - k : k;
                    const float *xg = w.xw + x_row(s, t, b) * GH;
                    float *gb = gk + b * GH;
                    for (int64_t j = 0; j < H; j++) {
                        float pre = s->lbr ? xg[2 * H + j] + gb[H + j] * cn[b * H + j]
                                           : xg[2 * H + j] + q[b * H + j] + (Rb ? Rb[2 * H + j] : 0.0f);
                        float n = tanhf(pre), z = gb[j];
                        gb[2 * H + j] = n;
                        hn[b * H + j] = (1.0f - z) * n + z * hp[b * H + j];
                    }
                }
            }
            if (y)
                for (int64_t b = 0; b < B; b++) {
                    const int64_t L = seq_len(c, b);
                    if (k < L) memcpy(y + y_off(s, d, rev ? L - 1 - k : k, b), hn + b * H, (size_t)H * sizeof(float));
                }
        }
        /* final states: the state after the last step (carried past each sequence's end) */
        for (int o = 1; o < c->n_out; o++) {
            if (!c->out[o]) continue;
            const float *src = T ? (o == 1 ? w.hs : w.cs) + (T - 1) * B * H : (o == 1 ? w.h0 : w.c0);
            for (int64_t b = 0; b < B; b++)
                memcpy(foil_f32(c->out[o]) + h_off(s, d, b), src + b * H, (size_t)H * sizeof(float));
        }
    }
    return FOIL_OK;
}

/* d += column sums of the n rows (width m) of g. */
static void add_colsum(float *d, const float *g, int64_t n, int64_t m)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < m; j++) d[j] += g[i * m + j];
}

/*
 * In the forward pass this was, per step, the gate equations in the header
 * comment; so, with dH the gradient reaching H_t (from Y and from step t+1)
 * and dC likewise for LSTM's C_t:
 *   LSTM: dC += dH.o.(1 - tanh(C)^2); do = dH.tanh(C); dao = do.o(1-o);
 *         dC += dao.Po; dai = dC.g.i(1-i); daf = dC.c.f(1-f);
 *         dag = dC.i.(1-g^2); dc_{t-1} = dC.f + dai.Pi + daf.Pf
 *   GRU:  dan = dH.(1-z).(1-n^2); daz = dH.(h - n).z(1-z); dh_{t-1} = dH.z
 *         + (reset: d(r.h) = dan Rh, dar = d(r.h).h.r(1-r), dh_{t-1} += d(r.h).r;
 *            linear_before_reset: dar = dan.(h Rh' + Rbh).r(1-r), and dan.r
 *            flows through Rh like the other gates)
 * and then, for the gate pre-activations da of the step (all gates, rows b):
 *   dh_{t-1} += da R,  dR += da' h_{t-1},  dRb += column sums of da;
 * and for all steps at once (da of every X row): dX += da W, dW += da' X,
 * dWb += column sums. A finished sequence's rows pass dH and dC unchanged.
 */
static void rnn_backward(FoilOpCtx *c)
{
    if (!c->d_in || !c->d_out) return;
    const rnn_state *s = c->state;
    const int lstm = s->kind == RNN_LSTM;
    const int64_t T = s->T, B = s->B, NI = s->NI, H = s->H, G = gates_of(s), GH = G * H, rows = T * B;
    float *dX = c->d_in[0] ? foil_f32(c->d_in[0]) : NULL, *dW = c->d_in[1] ? foil_f32(c->d_in[1]) : NULL;
    float *dR = c->d_in[2] ? foil_f32(c->d_in[2]) : NULL;
    float *dB = c->n_in > 3 && c->d_in[3] ? foil_f32(c->d_in[3]) : NULL;
    float *dh0 = c->n_in > 5 && c->d_in[5] ? foil_f32(c->d_in[5]) : NULL;
    float *dc0 = lstm && c->n_in > 6 && c->d_in[6] ? foil_f32(c->d_in[6]) : NULL;
    float *dP = lstm && c->n_in > 7 && c->d_in[7] ? foil_f32(c->d_in[7]) : NULL;
    if (!dX && !dW && !dR && !dB && !dh0 && !dc0 && !dP) return;
    if (rows == 0 || H == 0) return;
    const float *dY = c->d_out[0] ? foil_f32(c->d_out[0]) : NULL;
    const float *dYh = c->n_out > 1 && c->d_out[1] ? foil_f32(c->d_out[1]) : NULL;
    const float *dYc = c->n_out > 2 && c->d_out[2] ? foil_f32(c->d_out[2]) : NULL;
    const float *x = foil_f32(c->in[0]), *peep = lstm ? opt_in(c, 7) : NULL;
    float *dg = ws_shared(c), *dgs = dg + rows * GH, *tmpg = dgs + B * GH, *q = tmpg + B * GH;
    float *dh = q + B * H, *dh2 = dh + B * H, *dc = dh2 + B * H;
    for (int d = 0; d < s->dirs; d++) {
        rnn_ws w;
        ws_dir(c, d, &w);
        const float *W = foil_f32(c->in[1]) + d * GH * NI, *R = foil_f32(c->in[2]) + d * GH * H;
        const float *P = peep ? peep + d * 3 * H : NULL;
        float *dRd = dR ? dR + d * GH * H : NULL, *dBd = dB ? dB + d * 2 * GH : NULL;
        float *dPd = dP ? dP + d * 3 * H : NULL;
        const int rev = dir_reverse(s, d);
        for (int64_t b = 0; b < B; b++)
            for (int64_t j = 0; j < H; j++) {
                dh[b * H + j] = dYh ? dYh[h_off(s, d, b) + j] : 0.0f;
                dc[b * H + j] = dYc ? dYc[h_off(s, d, b) + j] : 0.0f;
            }
        memset(dg, 0, (size_t)(rows * GH) * sizeof(float));
        for (int64_t k = T - 1; k >= 0; k--) {
            const float *hp = k ? w.hs + (k - 1) * B * H : w.h0, *cp = k ? w.cs + (k - 1) * B * H : w.c0;
            const float *cn = w.cs + k * B * H, *gk = w.gates + k * B * GH;
            memset(dgs, 0, (size_t)(B * GH) * sizeof(float));
            memset(q, 0, (size_t)(B * H) * sizeof(float));
            for (int64_t b = 0; b < B; b++) {
                const int64_t L = seq_len(c, b);
                if (k >= L) {
                    memset(dh2 + b * H, 0, (size_t)H * sizeof(float));
                    continue;
                }
                const int64_t t = rev ? L - 1 - k : k;
                const float *gb = gk + b * GH;
                float *ds = dgs + b * GH, *da = dg + x_row(s, t, b) * GH, *dhb = dh + b * H;
                if (dY)
                    for (int64_t j = 0; j < H; j++) dhb[j] += dY[y_off(s, d, t, b) + j];
                for (int64_t j = 0; j < H; j++) {
                    if (lstm) {
                        const float ig = gb[j], og = gb[H + j], fg = gb[2 * H + j], cg = gb[3 * H + j];
                        const float C = cn[b * H + j], c0 = cp[b * H + j], tc = tanhf(C), g = dhb[j];
                        float dC = dc[b * H + j] + g * og * (1.0f - tc * tc);
                        const float dao = g * tc * og * (1.0f - og);
                        if (P) dC += dao * P[H + j];
                        const float dai = dC * cg * ig * (1.0f - ig), daf = dC * c0 * fg * (1.0f - fg);
                        const float dag = dC * ig * (1.0f - cg * cg);
                        dc[b * H + j] = dC * fg + (P ? dai * P[j] + daf * P[2 * H + j] : 0.0f);
                        if (dPd) {
                            dPd[j] += dai * c0;
                            dPd[H + j] += dao * C;
                            dPd[2 * H + j] += daf * c0;
                        }
                        ds[j] = da[j] = dai;
                        ds[H + j] = da[H + j] = dao;
                        ds[2 * H + j] = da[2 * H + j] = daf;
                        ds[3 * H + j] = da[3 * H + j] = dag;
                    } else {
                        const float z = gb[j], r = gb[H + j], n = gb[2 * H + j], h = hp[b * H + j], g = dhb[j];
                        const float dan = g * (1.0f - z) * (1.0f - n * n), daz = g * (h - n) * z * (1.0f - z);
                        dh2[b * H + j] = g * z;
                        ds[j] = da[j] = daz;
                        da[2 * H + j] = dan;
                        if (s->lbr) {
                            ds[H + j] = da[H + j] = dan * cn[b * H + j] * r * (1.0f - r);
                            ds[2 * H + j] = dan * r;
                        } else {
                            q[b * H + j] = dan;
                        }
                    }
                }
            }
            if (!lstm && !s->lbr) {
                /* d(r.h) = dan Rh; the rest of the reset gate's chain */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)H, (int)H, 1.0f, q, (int)H,
                            R + 2 * H * H, (int)H, 0.0f, tmpg, (int)H);
                if (dRd)
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)H, (int)H, (int)B, 1.0f, q, (int)H, cn,
                                (int)H, 1.0f, dRd + 2 * H * H, (int)H);
                if (dBd) add_colsum(dBd + GH + 2 * H, q, B, H);
                for (int64_t b = 0; b < B; b++) {
                    const int64_t L = seq_len(c, b);
                    if (k >= L) continue;
                    const float *gb = gk + b * GH;
                    float *da = dg + x_row(s, rev ? L - 1 - k : k, b) * GH;
                    for (int64_t j = 0; j < H; j++) {
                        const float drh = tmpg[b * H + j], r = gb[H + j];
                        dh2[b * H + j] += drh * r;
                        dgs[b * GH + H + j] = da[H + j] = drh * hp[b * H + j] * r * (1.0f - r);
                    }
                }
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)H, (int)GH, 1.0f, dgs, (int)GH, R,
                        (int)H, lstm ? 0.0f : 1.0f, dh2, (int)H);
            if (dRd)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)GH, (int)H, (int)B, 1.0f, dgs, (int)GH, hp,
                            (int)H, 1.0f, dRd, (int)H);
            if (dBd && !lstm) add_colsum(dBd + GH, dgs, B, GH);
            for (int64_t b = 0; b < B; b++)
                if (k >= seq_len(c, b)) memcpy(dh2 + b * H, dh + b * H, (size_t)H * sizeof(float));
            float *sw = dh;
            dh = dh2;
            dh2 = sw;
        }
        for (int64_t b = 0; b < B; b++)
            for (int64_t j = 0; j < H; j++) {
                if (dh0) dh0[h_off(s, d, b) + j] += dh[b * H + j];
                if (dc0) dc0[h_off(s, d, b) + j] += dc[b * H + j];
            }
        if (dX && NI)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)NI, (int)GH, 1.0f, dg, (int)GH, W,
                        (int)NI, 1.0f, dX, (int)NI);
        if (dW && NI)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)GH, (int)NI, (int)rows, 1.0f, dg, (int)GH, x,
                        (int)NI, 1.0f, dW + d * GH * NI, (int)NI);
        if (dBd) {
            add_colsum(dBd, dg, rows, GH);
            if (lstm) add_colsum(dBd + GH, dg, rows, GH);
        }
    }
}

const FoilOp foilOpLSTM = {
    .type = "LSTM", .grad_inputs = 0xefu, /* X, W, R, B, initial_h, initial_c, P; not sequence_lens */
    .init = lstm_init, .infer = rnn_infer, .forward = rnn_forward, .backward = rnn_backward,
    .plan_state_bytes = sizeof(rnn_state),
};

const FoilOp foilOpGRU = {
    .type = "GRU", .grad_inputs = 0x2fu, /* X, W, R, B, initial_h */
    .init = gru_init, .infer = rnn_infer, .forward = rnn_forward, .backward = rnn_backward,
    .plan_state_bytes = sizeof(rnn_state),
};
