/*
 * tests/op_harness.c - see op_harness.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foil/cpu.h"
#include "foil/rng.h"
#include "op_harness.h"

static void die(const char *msg)
{
    fprintf(stderr, "op_harness: %s (%s)\n", msg, foil_last_error());
    abort();
}

void opc_skip_unless_kernels_run(void)
{
    if (foil_cpu_kernels()) return;
    fprintf(stderr, "skipped: %s\n", foil_last_error());
    exit(77);
}

op_case *opc_new(const char *type, int n_in, int n_out)
{
    op_case *oc = calloc(1, sizeof *oc);
    if (!oc || n_in > OPC_MAX_IO || n_out > OPC_MAX_IO) die("bad op case");
    oc->node.op = foilOpFind(type);
    if (!oc->node.op) die(type);
    oc->node.name = strdup("test");
    oc->node.op_type = strdup(type);
    oc->node.domain = strdup("");
    oc->node.opset = 18;
    oc->node.n_in = n_in;
    oc->node.n_out = n_out;
    oc->n_in = n_in;
    oc->n_out = n_out;
    for (int i = 0; i < n_out; i++) oc->pout[i] = &oc->out[i];
    return oc;
}

void opc_input(op_case *oc, int i, foil_dtype dt, int ndim, const int64_t *shape, const void *data, int known)
{
    foil_tensor_free(&oc->in[i]);
    if (foil_tensor_alloc(&oc->in[i], dt, ndim, shape)) die("alloc input");
    if (data) memcpy(oc->in[i].data, data, foil_tensor_nbytes(&oc->in[i]));
    oc->pin[i] = &oc->in[i];
    oc->known[i] = (unsigned char)known;
}

void opc_input_randn(op_case *oc, int i, int ndim, const int64_t *shape, float scale, uint64_t seed)
{
    opc_input(oc, i, FOIL_F32, ndim, shape, NULL, 0);
    foil_rng r = foil_rng_make(seed, (uint64_t)i);
    float *x = foil_f32(&oc->in[i]);
    for (int64_t k = 0; k < oc->in[i].numel; k++) x[k] = scale * (float)foil_rng_normal(&r);
}

void opc_output_absent(op_case *oc, int i) { oc->pout[i] = NULL; }

static FoilAttr *add_attr(op_case *oc, const char *name, FoilAttrType type)
{
    FoilNode *n = &oc->node;
    n->attrs = realloc(n->attrs, (size_t)(n->n_attrs + 1) * sizeof *n->attrs);
    FoilAttr *a = &n->attrs[n->n_attrs++];
    memset(a, 0, sizeof *a);
    a->name = strdup(name);
    a->type = type;
    return a;
}

void opc_attr_int(op_case *oc, const char *name, int64_t v) { add_attr(oc, name, FOIL_ATTR_INT)->i = v; }
void opc_attr_float(op_case *oc, const char *name, float v) { add_attr(oc, name, FOIL_ATTR_FLOAT)->f = v; }
void opc_attr_string(op_case *oc, const char *name, const char *s) { add_attr(oc, name, FOIL_ATTR_STRING)->s = strdup(s); }

void opc_attr_ints(op_case *oc, const char *name, int n, const int64_t *v)
{
    FoilAttr *a = add_attr(oc, name, FOIL_ATTR_INTS);
    a->n = n;
    a->ints = malloc((size_t)(n ? n : 1) * sizeof *a->ints);
    memcpy(a->ints, v, (size_t)n * sizeof *v);
}

void opc_attr_floats(op_case *oc, const char *name, int n, const float *v)
{
    FoilAttr *a = add_attr(oc, name, FOIL_ATTR_FLOATS);
    a->n = n;
    a->floats = malloc((size_t)(n ? n : 1) * sizeof *a->floats);
    memcpy(a->floats, v, (size_t)n * sizeof *v);
}

void opc_attr_strings(op_case *oc, const char *name, int n, const char *const *v)
{
    FoilAttr *a = add_attr(oc, name, FOIL_ATTR_STRINGS);
    a->n = n;
    a->strings = calloc((size_t)(n ? n : 1), sizeof *a->strings);
    for (int i = 0; i < n; i++) a->strings[i] = strdup(v[i]);
}

void opc_attr_tensor(op_case *oc, const char *name, const foil_tensor *t)
{
    FoilAttr *a = add_attr(oc, name, FOIL_ATTR_TENSOR);
    a->t = calloc(1, sizeof *a->t);
    if (foil_tensor_copy(a->t, t)) die("copy attr tensor");
}

foil_status opc_prepare(op_case *oc)
{
    FoilNode *n = &oc->node;
    FoilOpCtx *c = &n->ctx;
    foil_status st;
    if (n->op->init && (st = n->op->init(n))) return st;
    c->node = n;
    c->state = n->state; /* one plan here: no per-plan copy needed (op.h, plan_state_bytes) */
    c->model = "test";
    c->n_in = oc->n_in;
    c->n_out = oc->n_out;
    c->in = oc->pin;
    c->out = oc->pout;
    c->d_in = oc->pdin;
    c->d_out = oc->pdout;
    c->known = oc->known;
    if ((st = n->op->infer(c))) return st;
    for (int i = 0; i < oc->n_out; i++) {
        if (!oc->pout[i]) continue;
        foil_tensor *t = &oc->out[i];
        foil_tensor shaped = *t;
        if (foil_tensor_alloc(t, shaped.dtype, shaped.ndim, shaped.shape)) die("alloc output");
    }
    if (c->work_bytes) {
        c->work = foil_alloc(c->work_bytes);
        if (!c->work) die("alloc work");
    }
    oc->prepared = 1;
    return FOIL_OK;
}

foil_status opc_forward(op_case *oc, int training)
{
    FoilOpCtx *c = &oc->node.ctx;
    c->training = training;
    c->seed = 12345;
    return oc->node.op->forward(c);
}

/* L = sum_k <w_k, out_k> in double, w drawn from a fixed stream per output. */
static double weighted_loss(op_case *oc)
{
    double loss = 0;
    for (int k = 0; k < oc->n_out; k++) {
        if (!oc->pout[k] || oc->out[k].dtype != FOIL_F32) continue;
        foil_rng r = foil_rng_make(777, (uint64_t)k);
        const float *y = foil_f32(&oc->out[k]);
        for (int64_t j = 0; j < oc->out[k].numel; j++) loss += foil_rng_normal(&r) * (double)y[j];
    }
    return loss;
}

static void setup_grads(op_case *oc, int i)
{
    for (int k = 0; k < oc->n_out; k++) {
        oc->pdout[k] = NULL;
        if (!oc->pout[k] || oc->out[k].dtype != FOIL_F32) continue;
        foil_tensor_free(&oc->d_out[k]);
        if (foil_tensor_alloc(&oc->d_out[k], FOIL_F32, oc->out[k].ndim, oc->out[k].shape)) die("alloc d_out");
        foil_rng r = foil_rng_make(777, (uint64_t)k);
        float *g = foil_f32(&oc->d_out[k]);
        for (int64_t j = 0; j < oc->out[k].numel; j++) g[j] = (float)foil_rng_normal(&r);
        oc->pdout[k] = &oc->d_out[k];
    }
    for (int k = 0; k < oc->n_in; k++) oc->pdin[k] = NULL;
    foil_tensor_free(&oc->d_in[i]);
    if (foil_tensor_alloc(&oc->d_in[i], FOIL_F32, oc->in[i].ndim, oc->in[i].shape)) die("alloc d_in");
    oc->pdin[i] = &oc->d_in[i];
}

double opc_gradcheck(op_case *oc, int i, float h, int training)
{
    if (!oc->prepared && opc_prepare(oc)) die("prepare");
    if (!oc->node.op->backward) die("op has no backward");
    setup_grads(oc, i);
    if (opc_forward(oc, training)) die("forward");
    const int64_t numel = oc->d_in[i].numel;
    float *g = foil_f32(&oc->d_in[i]);
    /* Pre-fill with a known value: backward must add to it, not overwrite. */
    for (int64_t j = 0; j < numel; j++) g[j] = 0.5f;
    oc->node.op->backward(&oc->node.ctx);
    /* An op that writes fresh gradients must write every element: start
     * from NaN, which survives anywhere it does not. */
    const int writes = i < 32 && ((oc->node.op->writes_grads >> i) & 1u);
    float *fresh = malloc((size_t)(numel ? numel : 1) * sizeof *fresh);
    if (!fresh) die("alloc");
    if (writes) {
        float *accumulated = malloc((size_t)(numel ? numel : 1) * sizeof *accumulated);
        if (!accumulated) die("alloc");
        memcpy(accumulated, g, (size_t)numel * sizeof *g);
        for (int64_t j = 0; j < numel; j++) g[j] = NAN;
        oc->node.ctx.d_in_fresh = 1u << i;
        oc->node.op->backward(&oc->node.ctx);
        oc->node.ctx.d_in_fresh = 0;
        memcpy(fresh, g, (size_t)numel * sizeof *g);
        memcpy(g, accumulated, (size_t)numel * sizeof *g);
        free(accumulated);
    }
    float *x = foil_f32(&oc->in[i]);
    double worst = 0, scale = 1;
    double *numeric = malloc((size_t)oc->in[i].numel * sizeof *numeric);
    for (int64_t j = 0; j < oc->in[i].numel; j++) {
        float saved = x[j];
        x[j] = saved + h;
        if (opc_forward(oc, training)) die("forward+");
        double lp = weighted_loss(oc);
        x[j] = saved - h;
        if (opc_forward(oc, training)) die("forward-");
        double lm = weighted_loss(oc);
        x[j] = saved;
        numeric[j] = (lp - lm) / (2.0 * (double)h);
        if (fabs(numeric[j]) > scale) scale = fabs(numeric[j]);
    }
    for (int64_t j = 0; j < oc->in[i].numel; j++) {
        double analytic = (double)g[j] - 0.5;
        double err = fabs(analytic - numeric[j]) / scale;
        if (err > worst) worst = err;
        if (!writes) continue;
        err = fabs((double)fresh[j] - numeric[j]) / scale;
        if (!(err <= worst)) worst = isnan(err) ? INFINITY : err;
    }
    free(numeric);
    free(fresh);
    return worst;
}

void opc_free(op_case *oc)
{
    if (!oc) return;
    FoilNode *n = &oc->node;
    if (n->op && n->op->destroy) n->op->destroy(n);
    else free(n->state);
    for (int i = 0; i < n->n_attrs; i++) {
        FoilAttr *a = &n->attrs[i];
        free(a->name);
        free(a->s);
        free(a->ints);
        free(a->floats);
        for (int k = 0; a->strings && k < a->n; k++) free(a->strings[k]);
        free(a->strings);
        if (a->t) { foil_tensor_free(a->t); free(a->t); }
    }
    free(n->attrs);
    free(n->name);
    free(n->op_type);
    free(n->domain);
    foil_free(n->ctx.work);
    for (int i = 0; i < OPC_MAX_IO; i++) {
        foil_tensor_free(&oc->in[i]);
        foil_tensor_free(&oc->out[i]);
        foil_tensor_free(&oc->d_in[i]);
        foil_tensor_free(&oc->d_out[i]);
    }
    free(oc);
}

double max_abs_diff(const float *a, const float *b, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || d != d) m = d != d ? INFINITY : d;
    }
    return m;
}

int64_t opc_bcast_index(int n, const int64_t *s, int no, const int64_t *o, int64_t i)
{
    int64_t idx = 0, mul = 1;
    for (int d = no - 1; d >= 0; d--) {
        int64_t c = i % o[d];
        i /= o[d];
        int k = d - (no - n);
        if (k >= 0) {
            if (s[k] != 1) idx += c * mul;
            mul *= s[k];
        }
    }
    return idx;
}
