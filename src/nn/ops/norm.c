/*
 * nn/ops/norm.c - BatchNormalization; LayerNormalization and
 * InstanceNormalization (at the end of the file).
 *
 * Shapes: X (N, C, d1..dk) with k >= 0 (so (N, C) works too); S = d1*...*dk
 * spatial positions, M = N*S values per channel. scale, B, input_mean,
 * input_var are (C). Y has X's shape.
 *
 *   y = scale * (x - mu) / sqrt(var + epsilon) + B
 *
 * Inference mode: mu, var = input_mean, input_var (the running statistics).
 * Training mode: mu, var = the batch mean and the biased batch variance of
 * each channel over its M values. Training mode is used when the model asks
 * for it (opset >= 14: training_mode=1; opsets 6-13: the optional training
 * outputs are present, unless opset 6's is_test=1) or when foil itself trains
 * the model (ctx->training).
 *
 * Running statistics in training mode, momentum m (default 0.9):
 *   - outputs running_mean, running_var (opset >= 14; "mean", "var" before),
 *     when present, get ONNX's  input * m + batch * (1 - m)  with the BIASED
 *     batch variance (the ONNX reference, batchnorm.py);
 *   - opsets < 14 also have saved_mean, saved_var: the batch mean and the
 *     biased batch variance;
 *   - when foil trains (ctx->training) and the model has no running-stat
 *     outputs, input_mean and input_var are UPDATED IN PLACE: they are the
 *     model's parameters (initializers) and an exported model must carry
 *     correct running statistics. That update follows PyTorch, so that a
 *     model trained by foil matches one trained by PyTorch:
 *       running = (1 - m') running + m' batch,  m' = 1 - m,
 *     with the UNBIASED batch variance (times M / (M - 1)).
 *
 * Attributes: epsilon (1e-5), momentum (0.9), training_mode (opset >= 14),
 * is_test and spatial (opset 6; opsets 7-8 spatial only). spatial=0 (per
 * position statistics) is not supported.
 *
 * The workspace holds, per channel, the mu and rstd = 1/sqrt(var + eps) that
 * forward used, and the mode, so backward differentiates what forward did
 * (as llm.c's layernorm saves mean and rstd).
 * Gradients: X, scale, B (grad_inputs 0x7); the statistics inputs get none.
 */
#include <math.h>
#include <stdlib.h>

#include "nn/op.h"
#include "nn/ops/broadcast.h"

typedef struct bn_state {
    float epsilon, momentum;
    int training_mode;    /* opset >= 14: attribute training_mode */
    int by_outputs;       /* opsets 6-13: training mode when a training output is present */
} bn_state;

static foil_status bn_init(FoilNode *n)
{
    if (n->opset < 9) {
        int64_t spatial = foilAttrInt(n, "spatial", 1);
        if (spatial != 1)
            return foilNodeInitError(n, FOIL_ERR_UNSUPPORTED, "spatial=%lld is not supported (only spatial=1)",
                                        (long long)spatial);
    }
    bn_state *st = calloc(1, sizeof *st);
    if (!st) return foilNodeInitError(n, FOIL_ERR_NOMEM, "out of memory");
    st->epsilon = foilAttrFloat(n, "epsilon", 1e-5f);
    st->momentum = foilAttrFloat(n, "momentum", 0.9f);
    if (n->opset >= 14) {
        int64_t tm = foilAttrInt(n, "training_mode", 0);
        if (tm != 0 && tm != 1) {
            free(st);
            return foilNodeInitError(n, FOIL_ERR_FORMAT, "training_mode must be 0 or 1, not %lld", (long long)tm);
        }
        st->training_mode = (int)tm;
    } else {
        st->by_outputs = !(n->opset < 7 && foilAttrInt(n, "is_test", 0) != 0);
    }
    if (!(st->epsilon >= 0.0f)) {
        free(st);
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "epsilon must be >= 0");
    }
    n->state = st;
    return FOIL_OK;
}

static foil_tensor *bn_out(const FoilOpCtx *c, int i) { return i < c->n_out ? c->out[i] : NULL; }

static foil_status bn_infer(FoilOpCtx *c)
{
    if (c->n_in != 5) return foilNodeError(c, FOIL_ERR_FORMAT, "needs 5 inputs (X, scale, B, mean, var), got %d", c->n_in);
    for (int i = 0; i < 5; i++)
        if (!c->in[i]) return foilNodeError(c, FOIL_ERR_FORMAT, "input %d is missing", i);
    int max_out = c->node->opset >= 14 ? 3 : 5;
    if (c->n_out < 1 || c->n_out > max_out || !c->out[0])
        return foilNodeError(c, FOIL_ERR_FORMAT, "has %d outputs (1 to %d allowed)", c->n_out, max_out);
    const foil_tensor *x = c->in[0];
    char s1[96];
    if (x->dtype != FOIL_F32)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "type %s is not supported (float32 only)",
                               foil_dtype_name(x->dtype));
    if (x->ndim < 2) return foilNodeError(c, FOIL_ERR_SHAPE, "X must be (N, C, ...), got rank %d", x->ndim);
    const int64_t ch = x->shape[1];
    static const char *names[5] = {"X", "scale", "B", "input_mean", "input_var"};
    for (int i = 1; i < 5; i++) {
        const foil_tensor *t = c->in[i];
        if (t->dtype != FOIL_F32 || t->ndim != 1 || t->shape[0] != ch)
            return foilNodeError(c, FOIL_ERR_SHAPE, "%s must be float32 of shape (%lld), got %s %s", names[i],
                                   (long long)ch, foil_dtype_name(t->dtype), foil_shape_str(t, s1, sizeof s1));
    }
    if (foil_tensor_set_shape(c->out[0], FOIL_F32, x->ndim, x->shape))
        return foilNodeError(c, FOIL_ERR_SHAPE, "%s", foil_last_error());
    for (int i = 1; i < c->n_out; i++)
        if (c->out[i] && foil_tensor_set_shape(c->out[i], FOIL_F32, 1, &ch))
            return foilNodeError(c, FOIL_ERR_SHAPE, "%s", foil_last_error());
    /* work: mode flag (64 bytes), then mu[C], rstd[C] */
    c->work_bytes = 64 + (size_t)ch * 2 * sizeof(float);
    return FOIL_OK;
}

typedef struct bn_dims {
    int64_t n, c, s, m; /* batch, channels, spatial size, values per channel */
} bn_dims;

static bn_dims bn_get_dims(const foil_tensor *x)
{
    bn_dims d = {x->shape[0], x->shape[1], 1, 0};
    for (int i = 2; i < x->ndim; i++) d.s *= x->shape[i];
    d.m = d.n * d.s;
    return d;
}

static foil_status bn_forward(FoilOpCtx *c)
{
    const bn_state *st = c->node->state;
    const foil_tensor *xt = c->in[0];
    const bn_dims D = bn_get_dims(xt);
    const float *x = foil_f32(xt), *scale = foil_f32(c->in[1]), *bias = foil_f32(c->in[2]);
    float *in_mean = foil_f32(c->in[3]), *in_var = foil_f32(c->in[4]);
    float *y = foil_f32(c->out[0]);
    int *mode = c->work;
    float *mu = (float *)((char *)c->work + 64), *rstd = mu + D.c;
    const float mom = st->momentum, eps = st->epsilon;
    foil_tensor *o_mean = bn_out(c, 1), *o_var = bn_out(c, 2), *o_smean = bn_out(c, 3), *o_svar = bn_out(c, 4);
    const int model_training = st->training_mode || (st->by_outputs && (o_mean || o_var || o_smean || o_svar));
    const int batch = model_training || c->training;
    const int in_place = c->training && !o_mean && !o_var;
    *mode = batch;

    if (batch) {
#pragma omp parallel for if (xt->numel >= FOIL_PAR_MIN && D.c > 1) schedule(static)
        for (int64_t ch = 0; ch < D.c; ch++) {
            double s = 0;
            for (int64_t n = 0; n < D.n; n++) {
                const float *xp = x + (n * D.c + ch) * D.s;
                float part = 0;
                for (int64_t j = 0; j < D.s; j++) part += xp[j];
                s += part;
            }
            const double mean = D.m ? s / (double)D.m : 0.0;
            double v = 0;
            for (int64_t n = 0; n < D.n; n++) {
                const float *xp = x + (n * D.c + ch) * D.s;
                const float mf = (float)mean;
                float part = 0;
                for (int64_t j = 0; j < D.s; j++) {
                    float dv = xp[j] - mf;
                    part += dv * dv;
                }
                v += part;
            }
            const double var = D.m ? v / (double)D.m : 0.0; /* biased */
            mu[ch] = (float)mean;
            rstd[ch] = (float)(1.0 / sqrt(var + (double)eps));
            if (o_mean) foil_f32(o_mean)[ch] = (float)(in_mean[ch] * (double)mom + mean * (1.0 - (double)mom));
            if (o_var) foil_f32(o_var)[ch] = (float)(in_var[ch] * (double)mom + var * (1.0 - (double)mom));
            if (o_smean) foil_f32(o_smean)[ch] = (float)mean;
            if (o_svar) foil_f32(o_svar)[ch] = (float)var;
            if (in_place) {
                const double unbiased = D.m > 1 ? var * (double)D.m / (double)(D.m - 1) : var;
                in_mean[ch] = (float)((double)mom * in_mean[ch] + (1.0 - (double)mom) * mean);
                in_var[ch] = (float)((double)mom * in_var[ch] + (1.0 - (double)mom) * unbiased);
            }
        }
    } else {
        for (int64_t ch = 0; ch < D.c; ch++) {
            mu[ch] = in_mean[ch];
            rstd[ch] = (float)(1.0 / sqrt((double)in_var[ch] + (double)eps));
            if (o_mean) foil_f32(o_mean)[ch] = in_mean[ch];
            if (o_var) foil_f32(o_var)[ch] = in_var[ch];
            if (o_smean) foil_f32(o_smean)[ch] = in_mean[ch];
            if (o_svar) foil_f32(o_svar)[ch] = in_var[ch];
        }
    }
    /* y = a x + b per channel, a = scale * rstd, b = B - mu * a */
    const int64_t blocks = D.n * D.c;
#pragma omp parallel for if (xt->numel >= FOIL_PAR_MIN && blocks > 1) schedule(static)
    for (int64_t blk = 0; blk < blocks; blk++) {
        const int64_t ch = blk % D.c;
        const float a = scale[ch] * rstd[ch], b = bias[ch] - mu[ch] * a;
        const float *xp = x + blk * D.s;
        float *yp = y + blk * D.s;
        for (int64_t j = 0; j < D.s; j++) yp[j] = a * xp[j] + b;
        if (c->relu_out) foilReluInplace(yp, D.s);
    }
    return FOIL_OK;
}

/*
 * In the forward pass this was, per channel with xhat = (x - mu) * rstd:
 *     y = scale * xhat + B
 * so dB += sum dy and dscale += sum dy * xhat in both modes.
 * Inference mode: mu and rstd are constants, dx = dy * scale * rstd.
 * Training mode: mu = mean(x), rstd = (mean((x - mu)^2) + eps)^-1/2 depend on
 * every x of the channel. Differentiating through them (M values per channel,
 * dxhat = dy * scale):
 *     dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
 *        = scale * rstd * (dy - mean(dy) - xhat * mean(dy * xhat))
 */
static void bn_backward(FoilOpCtx *c)
{
    if (!c->d_out[0]) return;
    float *dx = c->d_in[0] ? foil_f32(c->d_in[0]) : NULL;
    float *dscale = c->d_in[1] ? foil_f32(c->d_in[1]) : NULL;
    float *dbias = c->d_in[2] ? foil_f32(c->d_in[2]) : NULL;
    if (!dx && !dscale && !dbias) return;
    const foil_tensor *xt = c->in[0];
    const bn_dims D = bn_get_dims(xt);
    const float *x = foil_f32(xt), *scale = foil_f32(c->in[1]), *dy = foil_f32(c->d_out[0]);
    const int batch = *(const int *)c->work;
    const float *mu = (const float *)((const char *)c->work + 64), *rstd = mu + D.c;
    const int dx_fresh = foilGradFresh(c, 0), ds_fresh = foilGradFresh(c, 1), db_fresh = foilGradFresh(c, 2);

    if (!batch && !dscale && !dbias) {
        /* The attack path: input gradient only, through fixed statistics. */
        const int64_t blocks = D.n * D.c;
#pragma omp parallel for if (xt->numel >= FOIL_PAR_MIN && blocks > 1) schedule(static)
        for (int64_t blk = 0; blk < blocks; blk++) {
            const int64_t ch = blk % D.c;
            const float a = scale[ch] * rstd[ch];
            const float *g = dy + blk * D.s;
            float *d = dx + blk * D.s;
            if (dx_fresh)
                for (int64_t j = 0; j < D.s; j++) d[j] = a * g[j];
            else
                for (int64_t j = 0; j < D.s; j++) d[j] += a * g[j];
        }
        return;
    }
#pragma omp parallel for if (xt->numel >= FOIL_PAR_MIN && D.c > 1) schedule(static)
    for (int64_t ch = 0; ch < D.c; ch++) {
        const float m = mu[ch], r = rstd[ch];
        double sdy = 0, sdyx = 0; /* sum dy, sum dy * xhat */
        for (int64_t n = 0; n < D.n; n++) {
            const float *xp = x + (n * D.c + ch) * D.s, *g = dy + (n * D.c + ch) * D.s;
            float p1 = 0, p2 = 0;
            for (int64_t j = 0; j < D.s; j++) {
                p1 += g[j];
                p2 += g[j] * (xp[j] - m) * r;
            }
            sdy += p1;
            sdyx += p2;
        }
        if (dbias) dbias[ch] = (db_fresh ? 0.0f : dbias[ch]) + (float)sdy;
        if (dscale) dscale[ch] = (ds_fresh ? 0.0f : dscale[ch]) + (float)sdyx;
        if (!dx) continue;
        const float a = scale[ch] * r;
        const float mdy = batch && D.m ? (float)(sdy / (double)D.m) : 0.0f;
        const float mdyx = batch && D.m ? (float)(sdyx / (double)D.m) : 0.0f;
        for (int64_t n = 0; n < D.n; n++) {
            const float *xp = x + (n * D.c + ch) * D.s, *g = dy + (n * D.c + ch) * D.s;
            float *d = dx + (n * D.c + ch) * D.s;
            if (dx_fresh)
                for (int64_t j = 0; j < D.s; j++) d[j] = a * (g[j] - mdy - (xp[j] - m) * r * mdyx);
            else
                for (int64_t j = 0; j < D.s; j++) d[j] += a * (g[j] - mdy - (xp[j] - m) * r * mdyx);
        }
    }
}

const FoilOp foilOpBatchNormalization = {
    .type = "BatchNormalization",
    .grad_inputs = 0x7,
    .init = bn_init,
    .infer = bn_infer,
    .forward = bn_forward,
    .backward = bn_backward,
    .writes_grads = 0x7,
    .fuses_relu = 1,
};

/* ------------------------------------------------------------------------- */
/*
 * LayerNormalization (opset 17) and InstanceNormalization: both normalize
 * rows of d contiguous values,  xhat = (x - mu) * rstd,  rstd = 1/sqrt(var +
 * epsilon) with the biased variance of the row, then apply an affine map.
 *
 * LayerNormalization: X (d0..d_{r-1}), axis a (default -1): rows are
 * prod(d0..d_{a-1}), each of d = prod(d_a..) values; Scale and the optional
 * B have d elements (the shape d_a.. , or one that broadcasts to it with d
 * elements). y = xhat * Scale + B. Optional outputs Mean and InvStdDev
 * (shape d0..d_{a-1} followed by 1s) are mu and rstd; gradients flow back
 * through them too. stash_type must be 1 (float).
 * InstanceNormalization: X (N, C, d1..dk), rows are the N*C channels of
 * d = d1*...*dk values; scale and B are (C): y = xhat * scale[c] + B[c].
 *
 * The workspace holds mu and rstd per row for backward (as llm.c). Per row,
 * with dxhat = dy * scale:
 *   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
 *        + dMean / d - dInvStdDev * rstd^2 * xhat / d
 *   dScale += sum over rows of dy * xhat,  dB += sum over rows of dy
 */

typedef struct ln_state {
    int64_t axis;
    float epsilon;
} ln_state;

static foil_status ln_init_common(FoilNode *n, int64_t def_axis)
{
    ln_state *st = calloc(1, sizeof *st);
    if (!st) return foilNodeInitError(n, FOIL_ERR_NOMEM, "out of memory");
    st->axis = foilAttrInt(n, "axis", def_axis);
    st->epsilon = foilAttrFloat(n, "epsilon", 1e-5f);
    int64_t stash = foilAttrInt(n, "stash_type", 1);
    if (stash != 1) {
        free(st);
        return foilNodeInitError(n, FOIL_ERR_UNSUPPORTED, "stash_type=%lld is not supported (only 1, float)",
                                 (long long)stash);
    }
    if (!(st->epsilon >= 0.0f)) {
        free(st);
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "epsilon must be >= 0");
    }
    n->state = st;
    return FOIL_OK;
}

static foil_status ln_init(FoilNode *n) { return ln_init_common(n, -1); }
static foil_status in_init(FoilNode *n) { return ln_init_common(n, 2); }

/* The rows of x: count and length, for either op. */
static void rows_of(const FoilOpCtx *c, int64_t *rows, int64_t *d)
{
    const foil_tensor *x = c->in[0];
    const int layer = c->node->op_type[0] == 'L';
    int a = layer ? foilNormAxis(((const ln_state *)c->node->state)->axis, x->ndim) : 2;
    *rows = 1;
    *d = 1;
    for (int i = 0; i < x->ndim; i++) {
        if (i < a) *rows *= x->shape[i];
        else *d *= x->shape[i];
    }
}

static foil_status ln_infer(FoilOpCtx *c)
{
    const ln_state *st = c->node->state;
    const int layer = c->node->op_type[0] == 'L';
    if (c->n_in < 2 || c->n_in > 3 || !c->in[0] || !c->in[1] || (!layer && (c->n_in < 3 || !c->in[2])))
        return foilNodeError(c, FOIL_ERR_FORMAT, "needs inputs X, scale%s", layer ? " and optionally B" : " and B");
    if (c->n_out < 1 || !c->out[0] || c->n_out > (layer ? 3 : 1))
        return foilNodeError(c, FOIL_ERR_FORMAT, "has %d outputs (1 to %d allowed)", c->n_out, layer ? 3 : 1);
    const foil_tensor *x = c->in[0];
    if (x->dtype != FOIL_F32)
        return foilNodeError(c, FOIL_ERR_UNSUPPORTED, "type %s is not supported (float32 only)", foil_dtype_name(x->dtype));
    int a = 2;
    if (layer) {
        a = foilNormAxis(st->axis, x->ndim);
        if (a < 0) return foilNodeError(c, FOIL_ERR_FORMAT, "axis %lld is out of range for rank %d", (long long)st->axis, x->ndim);
    } else if (x->ndim < 3) {
        return foilNodeError(c, FOIL_ERR_SHAPE, "X must be (N, C, d1, ...), got rank %d", x->ndim);
    }
    int64_t rows, d;
    rows_of(c, &rows, &d);
    const int64_t want = layer ? d : x->shape[1];
    char s1[96];
    for (int i = 1; i < c->n_in; i++) {
        const foil_tensor *t = c->in[i];
        if (!t) continue;
        int fits = layer ? foilBcastTo(t->ndim, t->shape, x->ndim - a, x->shape + a) : t->ndim == 1;
        if (t->dtype != FOIL_F32 || t->numel != want || !fits)
            return foilNodeError(c, FOIL_ERR_SHAPE, "%s must be float32 with %lld elements%s, got %s %s", i == 1 ? "scale" : "B",
                                 (long long)want, layer ? " (X's normalized dimensions)" : " (C)",
                                 foil_dtype_name(t->dtype), foil_shape_str(t, s1, sizeof s1));
    }
    if (foil_tensor_set_shape(c->out[0], FOIL_F32, x->ndim, x->shape))
        return foilNodeError(c, FOIL_ERR_SHAPE, "%s", foil_last_error());
    int64_t ss[FOIL_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) ss[i] = i < a ? x->shape[i] : 1;
    for (int i = 1; i < c->n_out; i++)
        if (c->out[i] && foil_tensor_set_shape(c->out[i], FOIL_F32, x->ndim, ss))
            return foilNodeError(c, FOIL_ERR_SHAPE, "%s", foil_last_error());
    c->work_bytes = (size_t)rows * 2 * sizeof(float); /* mu[rows], rstd[rows] */
    return FOIL_OK;
}

static foil_status ln_forward(FoilOpCtx *c)
{
    const ln_state *st = c->node->state;
    const int layer = c->node->op_type[0] == 'L';
    int64_t rows, d;
    rows_of(c, &rows, &d);
    const int64_t ch = layer ? 1 : c->in[0]->shape[1];
    const float *x = foil_f32(c->in[0]), *scale = foil_f32(c->in[1]);
    const float *bias = c->n_in > 2 && c->in[2] ? foil_f32(c->in[2]) : NULL;
    float *y = foil_f32(c->out[0]), *mu = c->work, *rstd = mu + rows;
    float *o_mean = c->n_out > 1 && c->out[1] ? foil_f32(c->out[1]) : NULL;
    float *o_rstd = c->n_out > 2 && c->out[2] ? foil_f32(c->out[2]) : NULL;
    const double eps = st->epsilon;
#pragma omp parallel for if (rows * d >= FOIL_PAR_MIN && rows > 1) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * d;
        float *yr = y + r * d;
        double s = 0, v = 0;
        for (int64_t j = 0; j < d; j++) s += xr[j];
        const float m = d ? (float)(s / (double)d) : 0.0f;
        for (int64_t j = 0; j < d; j++) v += (double)(xr[j] - m) * (xr[j] - m);
        const float rs = (float)(1.0 / sqrt((d ? v / (double)d : 0.0) + eps));
        mu[r] = m;
        rstd[r] = rs;
        if (o_mean) o_mean[r] = m;
        if (o_rstd) o_rstd[r] = rs;
        if (layer) {
            if (bias)
                for (int64_t j = 0; j < d; j++) yr[j] = (xr[j] - m) * rs * scale[j] + bias[j];
            else
                for (int64_t j = 0; j < d; j++) yr[j] = (xr[j] - m) * rs * scale[j];
        } else {
            const float a = scale[r % ch] * rs, b = bias[r % ch] - m * a;
            for (int64_t j = 0; j < d; j++) yr[j] = a * xr[j] + b;
        }
    }
    return FOIL_OK;
}

static void ln_backward(FoilOpCtx *c)
{
    const int layer = c->node->op_type[0] == 'L';
    int64_t rows, d;
    rows_of(c, &rows, &d);
    if (rows == 0 || d == 0) return;
    const int64_t ch = layer ? 1 : c->in[0]->shape[1];
    const float *x = foil_f32(c->in[0]), *scale = foil_f32(c->in[1]);
    const float *mu = c->work, *rstd = mu + rows;
    const float *dy = c->d_out[0] ? foil_f32(c->d_out[0]) : NULL;
    const float *dmean = c->n_out > 1 && c->d_out[1] ? foil_f32(c->d_out[1]) : NULL;
    const float *drstd = c->n_out > 2 && c->d_out[2] ? foil_f32(c->d_out[2]) : NULL;
    float *dx = c->d_in[0] ? foil_f32(c->d_in[0]) : NULL;
    float *dscale = c->d_in[1] ? foil_f32(c->d_in[1]) : NULL;
    float *dbias = c->n_in > 2 && c->d_in[2] ? foil_f32(c->d_in[2]) : NULL;
    if (dx) {
#pragma omp parallel for if (rows * d >= FOIL_PAR_MIN && rows > 1) schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            const float *xr = x + r * d, *g = dy ? dy + r * d : NULL;
            float *dr = dx + r * d;
            const float m = mu[r], rs = rstd[r];
            const float *sc = layer ? scale : scale + r % ch;
            const int64_t ss = layer ? 1 : 0;
            double s1 = 0, s2 = 0; /* sum dxhat, sum dxhat * xhat */
            if (g)
                for (int64_t j = 0; j < d; j++) {
                    const float dh = g[j] * sc[j * ss];
                    s1 += dh;
                    s2 += dh * (xr[j] - m) * rs;
                }
            const float m1 = (float)(s1 / (double)d), m2 = (float)(s2 / (double)d);
            const float gm = dmean ? dmean[r] / (float)d : 0.0f;
            const float gr = drstd ? -drstd[r] * rs * rs / (float)d : 0.0f;
            for (int64_t j = 0; j < d; j++) {
                const float xh = (xr[j] - m) * rs;
                const float dh = g ? g[j] * sc[j * ss] : 0.0f;
                dr[j] += rs * (dh - m1 - xh * m2) + gm + gr * xh;
            }
        }
    }
    if (!dy || (!dscale && !dbias)) return;
    if (layer) {
        /* columns in blocks of 64 per thread, rows streamed through */
        const int64_t blocks = (d + 63) / 64;
#pragma omp parallel for if (rows * d >= FOIL_PAR_MIN && blocks > 1) schedule(static)
        for (int64_t b = 0; b < blocks; b++) {
            const int64_t j0 = b * 64, j1 = j0 + 64 < d ? j0 + 64 : d;
            float as[64] = {0}, ab[64] = {0};
            for (int64_t r = 0; r < rows; r++) {
                const float *xr = x + r * d, *g = dy + r * d;
                const float m = mu[r], rs = rstd[r];
                for (int64_t j = j0; j < j1; j++) {
                    as[j - j0] += g[j] * (xr[j] - m) * rs;
                    ab[j - j0] += g[j];
                }
            }
            for (int64_t j = j0; j < j1; j++) {
                if (dscale) dscale[j] += as[j - j0];
                if (dbias) dbias[j] += ab[j - j0];
            }
        }
    } else {
        const int64_t n = rows / ch;
#pragma omp parallel for if (rows * d >= FOIL_PAR_MIN && ch > 1) schedule(static)
        for (int64_t k = 0; k < ch; k++) {
            double as = 0, ab = 0;
            for (int64_t i = 0; i < n; i++) {
                const int64_t r = i * ch + k;
                const float *xr = x + r * d, *g = dy + r * d;
                const float m = mu[r], rs = rstd[r];
                for (int64_t j = 0; j < d; j++) {
                    as += g[j] * (xr[j] - m) * rs;
                    ab += g[j];
                }
            }
            if (dscale) dscale[k] += (float)as;
            if (dbias) dbias[k] += (float)ab;
        }
    }
}

const FoilOp foilOpLayerNormalization = {
    .type = "LayerNormalization",
    .grad_inputs = 0x7,
    .init = ln_init,
    .infer = ln_infer,
    .forward = ln_forward,
    .backward = ln_backward,
};

const FoilOp foilOpInstanceNormalization = {
    .type = "InstanceNormalization",
    .grad_inputs = 0x7,
    .init = in_init,
    .infer = ln_infer,
    .forward = ln_forward,
    .backward = ln_backward,
};
