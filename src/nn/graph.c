/*
 * nn/graph.c - planning, forward and backward over a static graph.
 * See graph.h for the life cycle; op.h for the contract each op keeps.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "foil/cpu.h"
#include "foil/rng.h"
#include "nn/graph.h"
#include "nn/ml/ml.h"

FoilGraph *foilGraphNew(const char *path)
{
    FoilGraph *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->path = strdup(path ? path : "model");
    g->grad_mode = -1;
    if (!g->path) {
        free(g);
        return NULL;
    }
    return g;
}

static void free_attrs(FoilNode *n)
{
    for (int i = 0; i < n->n_attrs; i++) {
        FoilAttr *a = &n->attrs[i];
        free(a->name);
        free(a->s);
        free(a->ints);
        free(a->floats);
        for (int k = 0; a->strings && k < a->n; k++) free(a->strings[k]);
        free(a->strings);
        if (a->t) {
            foil_tensor_free(a->t);
            free(a->t);
        }
    }
    free(n->attrs);
}

static int is_planned_buffer(const FoilValue *v)
{
    return v->kind == FOIL_VALUE_ACTIVATION || v->kind == FOIL_VALUE_INPUT;
}

void foilGraphUnplan(FoilGraph *g)
{
    for (int i = 0; i < g->n_values; i++) {
        FoilValue *v = &g->values[i];
        if (is_planned_buffer(v)) {
            foil_tensor_free(&v->t);
            v->known = 0;
        }
        foil_tensor_free(&v->grad);
        v->needs_grad = 0;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        FoilOpCtx *c = &g->nodes[i].ctx;
        if (g->nodes[i].op && g->nodes[i].op->plan_state_bytes) free(c->state);
        foil_free(c->work);
        free(c->in);
        free(c->out);
        free(c->d_in);
        free(c->d_out);
        free(c->known);
        memset(c, 0, sizeof *c);
        g->nodes[i].folded = 0;
        g->nodes[i].absorbed = 0;
        g->nodes[i].masked_by_reader = 0;
    }
    g->n_bufs = 0; /* each was freed above, by the tensor or context owning it */
    g->planned = 0;
    g->grad_mode = -1;
}

/* What a plan_slot keeps per value and per node: exactly the fields
 * foilGraphPlan sets and foilGraphUnplan clears. */
struct FoilSavedValue {
    foil_tensor t;             /* planned buffers only (activations, inputs) */
    foil_tensor grad;
    int known, needs_grad;
};
struct FoilSavedNode {
    FoilOpCtx ctx;
    int folded, absorbed, masked_by_reader;
};

static void swap_tensor(foil_tensor *a, foil_tensor *b)
{
    foil_tensor t = *a;
    *a = *b;
    *b = t;
}

static void swap_int(int *a, int *b)
{
    int t = *a;
    *a = *b;
    *b = t;
}

static void swap_ctx(FoilOpCtx *a, FoilOpCtx *b)
{
    FoilOpCtx t = *a;
    *a = *b;
    *b = t;
}

foil_status foilGraphSwapPlan(FoilGraph *g, FoilPlanSlot *slot)
{
    if (!slot->values) { /* first use: an empty slot is an unplanned graph */
        slot->values = calloc((size_t)g->n_values + 1, sizeof *slot->values);
        slot->nodes = calloc((size_t)g->n_nodes + 1, sizeof *slot->nodes);
        if (!slot->values || !slot->nodes) {
            free(slot->values);
            free(slot->nodes);
            slot->values = NULL;
            slot->nodes = NULL;
            return foil_error(FOIL_ERR_NOMEM, "%s: out of memory", g->path);
        }
        slot->planned = 0;
        slot->grad_mode = -1;
    }
    for (int i = 0; i < g->n_values; i++) {
        FoilValue *v = &g->values[i];
        struct FoilSavedValue *s = &slot->values[i];
        if (is_planned_buffer(v)) {
            swap_tensor(&v->t, &s->t);
            swap_int(&v->known, &s->known);
        }
        swap_tensor(&v->grad, &s->grad);
        swap_int(&v->needs_grad, &s->needs_grad);
    }
    for (int k = 0; k < g->n_nodes; k++) {
        FoilNode *n = &g->nodes[k];
        struct FoilSavedNode *s = &slot->nodes[k];
        swap_ctx(&n->ctx, &s->ctx);
        swap_int(&n->folded, &s->folded);
        swap_int(&n->absorbed, &s->absorbed);
        swap_int(&n->masked_by_reader, &s->masked_by_reader);
    }
    swap_int(&g->planned, &slot->planned);
    swap_int(&g->grad_mode, &slot->grad_mode);
    FoilPlanBuf *bufs = g->bufs;
    g->bufs = slot->bufs;
    slot->bufs = bufs;
    swap_int(&g->n_bufs, &slot->n_bufs);
    swap_int(&g->cap_bufs, &slot->cap_bufs);
    return FOIL_OK;
}

void foilGraphFreePlanSlot(FoilGraph *g, FoilPlanSlot *slot)
{
    if (!slot->values) return;
    /* Swap the slot's plan in, release it with the one code that knows how,
     * and swap g's own plan back: cannot fail once the slot exists. */
    foilGraphSwapPlan(g, slot);
    foilGraphUnplan(g);
    foilGraphSwapPlan(g, slot);
    free(slot->values);
    free(slot->nodes);
    free(slot->bufs);
    memset(slot, 0, sizeof *slot);
}

void foilGraphFree(FoilGraph *g)
{
    if (!g) return;
    foilGraphUnplan(g);
    for (int i = 0; i < g->n_nodes; i++) {
        FoilNode *n = &g->nodes[i];
        if (n->op && n->op->destroy) n->op->destroy(n);
        else free(n->state);
        free_attrs(n);
        free(n->name);
        free(n->op_type);
        free(n->domain);
        free(n->in);
        free(n->out);
    }
    for (int i = 0; i < g->n_values; i++) {
        FoilValue *v = &g->values[i];
        free(v->name);
        foil_tensor_free(&v->t);
        for (int d = 0; d < FOIL_MAX_DIMS; d++) free(v->decl_dim_param[d]);
    }
    free(g->bufs);
    free(g->values);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    free(g->path);
    free(g->name);
    for (int i = 0; i < g->n_meta; i++) free(g->meta_keys[i]), free(g->meta_values[i]);
    free(g->meta_keys), free(g->meta_values);
    free(g);
}

foil_status foilGraphSetMeta(FoilGraph *g, const char *key, const char *value)
{
    int i = 0;
    while (i < g->n_meta && strcmp(g->meta_keys[i], key) != 0) i++;
    char *v = strdup(value), *k = i < g->n_meta ? NULL : strdup(key);
    if (!v || (i == g->n_meta && !k)) {
        free(v), free(k);
        return foil_error(FOIL_ERR_NOMEM, "out of memory for the model's metadata");
    }
    if (i < g->n_meta) {
        free(g->meta_values[i]);
        g->meta_values[i] = v;
        return FOIL_OK;
    }
    char **keys = realloc(g->meta_keys, (size_t)(i + 1) * sizeof *keys);
    if (keys) g->meta_keys = keys;
    char **values = keys ? realloc(g->meta_values, (size_t)(i + 1) * sizeof *values) : NULL;
    if (values) g->meta_values = values;
    if (!keys || !values) {
        free(v), free(k);
        return foil_error(FOIL_ERR_NOMEM, "out of memory for the model's metadata");
    }
    g->meta_keys[i] = k, g->meta_values[i] = v, g->n_meta = i + 1;
    return FOIL_OK;
}

const char *foilGraphMeta(const FoilGraph *g, const char *key)
{
    for (int i = 0; i < g->n_meta; i++)
        if (strcmp(g->meta_keys[i], key) == 0) return g->meta_values[i];
    return NULL;
}

int foilGraphFindValue(const FoilGraph *g, const char *name)
{
    for (int i = 0; i < g->n_values; i++)
        if (strcmp(g->values[i].name, name) == 0) return i;
    return -1;
}

int foilGraphValue(FoilGraph *g, const char *name)
{
    int idx = foilGraphFindValue(g, name);
    if (idx >= 0) return idx;
    if (g->n_values == g->cap_values) {
        int cap = g->cap_values ? 2 * g->cap_values : 64;
        FoilValue *nv = realloc(g->values, (size_t)cap * sizeof *nv);
        if (!nv) return -1;
        g->values = nv;
        g->cap_values = cap;
    }
    FoilValue *v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    v->name = strdup(name);
    if (!v->name) return -1;
    v->producer = -1;
    return g->n_values++;
}

FoilNode *foilGraphAddNode(FoilGraph *g, const char *name, const char *op_type,
                               int n_in, const int *in, int n_out, const int *out)
{
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? 2 * g->cap_nodes : 32;
        FoilNode *nn = realloc(g->nodes, (size_t)cap * sizeof *nn);
        if (!nn) return NULL;
        g->nodes = nn;
        g->cap_nodes = cap;
    }
    FoilNode *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->name = strdup(name ? name : "");
    n->op_type = strdup(op_type);
    n->domain = strdup("");
    n->in = malloc((size_t)(n_in ? n_in : 1) * sizeof *n->in);
    n->out = malloc((size_t)(n_out ? n_out : 1) * sizeof *n->out);
    if (!n->name || !n->op_type || !n->domain || !n->in || !n->out) {
        free(n->name); free(n->op_type); free(n->domain); free(n->in); free(n->out);
        return NULL;
    }
    n->n_in = n_in;
    n->n_out = n_out;
    if (n_in) memcpy(n->in, in, (size_t)n_in * sizeof *in);
    if (n_out) memcpy(n->out, out, (size_t)n_out * sizeof *out);
    n->opset = g->opset;
    g->n_nodes++;
    return n;
}

/* ---------------------------------------------------------------------------
 * finalize: structural checks that do not depend on shapes
 */

static const char *node_label(const FoilNode *n) { return n->name && n->name[0] ? n->name : n->op_type; }

foil_status foilGraphFinalize(FoilGraph *g)
{
    /* Nodes bind to the op tables of the kernel set in use (foil/cpu.h): a
     * FOIL_KERNELS that this build or CPU cannot honour fails here, by name. */
    if (!foil_cpu_kernels()) return foil_error_prefix(FOIL_ERR_ARG, "%s", g->path);
    /* A value is available once it is an input, an initializer or produced
     * by an earlier node; ONNX requires nodes in topological order. */
    unsigned char *avail = calloc((size_t)g->n_values + 1, 1);
    if (!avail) return foil_error(FOIL_ERR_NOMEM, "%s: out of memory", g->path);
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].kind != FOIL_VALUE_ACTIVATION) avail[i] = 1;
    foil_status st = FOIL_OK;
    for (int k = 0; k < g->n_nodes && !st; k++) {
        FoilNode *n = &g->nodes[k];
        for (int i = 0; i < n->n_in; i++) {
            if (n->in[i] < 0) continue;
            if (!avail[n->in[i]]) {
                st = foil_error(FOIL_ERR_FORMAT,
                                "%s: node '%s' (%s): input '%s' is not a graph input, an initializer or the output "
                                "of an earlier node (missing initializer, or nodes not in topological order)",
                                g->path, node_label(n), n->op_type, g->values[n->in[i]].name);
                break;
            }
        }
        for (int i = 0; i < n->n_out && !st; i++) {
            if (n->out[i] < 0) continue;
            FoilValue *v = &g->values[n->out[i]];
            if (avail[n->out[i]]) {
                st = foil_error(FOIL_ERR_FORMAT, "%s: node '%s' (%s): output '%s' is already defined", g->path,
                                node_label(n), n->op_type, v->name);
                break;
            }
            avail[n->out[i]] = 1;
            v->producer = k;
        }
        if (st) break;
        n->op = foilOpFindDomain(n->domain, n->op_type);
        if (!n->op) {
            st = foil_error(FOIL_ERR_UNSUPPORTED, "%s: node '%s': operator '%s'%s%s is not supported (foil supports: %s)",
                            g->path, node_label(n), n->op_type, n->domain[0] ? " of domain " : "", n->domain,
                            foilOpListDomain(n->domain));
            break;
        }
        if (n->op->init && (st = n->op->init(n))) {
            foil_error_prefix(st, "%s", g->path);
            break;
        }
    }
    /* A weight is trainable when some node takes a gradient through it;
     * batch norm's running statistics, for instance, are not. */
    for (int k = 0; k < g->n_nodes && !st; k++) {
        const FoilNode *n = &g->nodes[k];
        for (int i = 0; i < n->n_in; i++)
            if (n->in[i] >= 0 && g->values[n->in[i]].kind == FOIL_VALUE_PARAM && n->op->backward && i < 32 &&
                ((n->op->grad_inputs >> i) & 1u))
                g->values[n->in[i]].trainable = 1;
    }
    for (int i = 0; i < g->n_outputs && !st; i++)
        if (!avail[g->outputs[i]])
            st = foil_error(FOIL_ERR_FORMAT, "%s: graph output '%s' is never produced", g->path,
                            g->values[g->outputs[i]].name);
    free(avail);
    return st;
}

/* ---------------------------------------------------------------------------
 * plan
 */

static foil_status prepare_ctx(FoilGraph *g, FoilNode *n)
{
    FoilOpCtx *c = &n->ctx;
    c->node = n;
    c->model = g->path;
    c->n_in = n->n_in;
    c->n_out = n->n_out;
    size_t ni = (size_t)(n->n_in ? n->n_in : 1), no = (size_t)(n->n_out ? n->n_out : 1);
    c->in = calloc(ni, sizeof *c->in);
    c->d_in = calloc(ni, sizeof *c->d_in);
    c->known = calloc(ni, 1);
    c->out = calloc(no, sizeof *c->out);
    c->d_out = calloc(no, sizeof *c->d_out);
    if (!c->in || !c->d_in || !c->known || !c->out || !c->d_out)
        return foil_error(FOIL_ERR_NOMEM, "%s: out of memory", g->path);
    c->state = n->state;
    if (n->op->plan_state_bytes) {
        if (!(c->state = malloc(n->op->plan_state_bytes))) return foil_error(FOIL_ERR_NOMEM, "%s: out of memory", g->path);
        memcpy(c->state, n->state, n->op->plan_state_bytes);
    }
    for (int i = 0; i < n->n_in; i++) {
        if (n->in[i] < 0) continue;
        FoilValue *v = &g->values[n->in[i]];
        c->in[i] = &v->t;
        c->known[i] = (unsigned char)v->known;
    }
    for (int i = 0; i < n->n_out; i++)
        if (n->out[i] >= 0) c->out[i] = &g->values[n->out[i]].t;
    return FOIL_OK;
}

/* Shape reads only its input's shape, so it folds even when the input's data
 * is computed at run time. */
static int can_fold(const FoilNode *n)
{
    if (strcmp(n->op_type, "Shape") == 0) return 1;
    if (strcmp(n->op_type, "Dropout") == 0) return 0;
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] >= 0 && !n->ctx.known[i]) return 0;
    return 1;
}

static foil_status check_declared_output(FoilGraph *g, const FoilValue *v)
{
    if (!v->has_decl || v->decl_ndim != v->t.ndim) return FOIL_OK; /* rank-less declarations are common */
    for (int d = g->relax_batch ? 1 : 0; d < v->t.ndim; d++)
        if (v->decl_shape[d] >= 0 && v->decl_shape[d] != v->t.shape[d] && v->decl_dim_param[d] == NULL) {
            char buf[128];
            return foil_error(FOIL_ERR_SHAPE, "%s: value '%s' is declared with dimension %d = %lld but computes to %s",
                              g->path, v->name, d, (long long)v->decl_shape[d], foil_shape_str(&v->t, buf, sizeof buf));
        }
    return FOIL_OK;
}

/* How many node inputs and graph outputs read each value. */
static int *count_readers(const FoilGraph *g)
{
    int *readers = calloc((size_t)g->n_values + 1, sizeof *readers);
    if (!readers) return NULL;
    for (int k = 0; k < g->n_nodes; k++)
        for (int i = 0; i < g->nodes[k].n_in; i++)
            if (g->nodes[k].in[i] >= 0) readers[g->nodes[k].in[i]]++;
    for (int k = 0; k < g->n_outputs; k++) readers[g->outputs[k]]++;
    return readers;
}

int foilGraphFuseRelu = 1;

/*
 * A Relu whose input nothing else reads (no other node, no graph output) and
 * whose producer can write max(0, y) itself (op->fuses_relu) is absorbed:
 * the producer applies it (ctx.relu_out), the Relu's output shares the
 * input's buffer, and after planning its gradient buffer too; forward skips
 * the Relu, and its backward masks that one gradient buffer in place (a
 * fresh write, see d_in_fresh, whose d_out is the same memory). A pass over
 * the activation saved forward, a buffer's traffic backward. The producer's
 * own backward never reads its output, so it does not see the difference.
 */
static int absorb_relu(FoilGraph *g, FoilNode *n, const int *readers)
{
    if (!foilGraphFuseRelu || strcmp(n->op->type, "Relu") != 0 || n->n_in != 1 || n->n_out != 1)
        return 0;
    if (n->in[0] < 0 || n->out[0] < 0) return 0;
    FoilValue *x = &g->values[n->in[0]];
    if (x->kind != FOIL_VALUE_ACTIVATION || x->known || x->producer < 0 || readers[n->in[0]] != 1 ||
        x->t.dtype != FOIL_F32)
        return 0;
    FoilNode *p = &g->nodes[x->producer]; /* not folded: x is not known */
    if (!p->op->fuses_relu || p->out[0] != n->in[0]) return 0;
    p->ctx.relu_out = 1;
    n->absorbed = 1;
    return 1;
}

/*
 * The next step for a fused Relu whose output only node n reads, where n's
 * backward can mask its input gradient itself (op->masks_relu_in: MaxPool):
 * n writes the gradient of the Relu's output masked by that output > 0,
 * into the buffer the Relu shares with its input, which is exactly the
 * Relu's backward, so the Relu's backward is skipped too.
 */
static void absorb_relu_backward(FoilGraph *g, FoilNode *n, const int *readers)
{
    if (!n->op->masks_relu_in || n->n_in < 1 || n->in[0] < 0 || readers[n->in[0]] != 1) return;
    int p = g->values[n->in[0]].producer;
    if (p < 0 || !g->nodes[p].absorbed) return;
    n->ctx.relu_in = 1;
    g->nodes[p].masked_by_reader = 1;
}

/*
 * A pooling node (op->pool_sample: MaxPool) whose input only it reads,
 * computed by a node that can pool its own output (op->fuses_pool: Conv),
 * directly or through a fused Relu whose backward this pool does: the
 * producer pools each sample's output as soon as it has written it (into a
 * buffer of the pool's when each thread has its own samples), so a large
 * activation (cnn-small's conv1: 100 KB a sample) does not go out to memory
 * and back between the two; the pool's forward is then skipped. Backward
 * likewise: the producer has the pool write each sample's gradient just
 * before it uses it (when the pool would write it fresh, as the pool is its
 * one reader), and the pool's own backward is skipped. Nothing
 * reads the producer's output tensor any more: the pool was its one reader,
 * the Relu's backward is the pool's, and the producer's backward never
 * reads its output. Returns the producer, or NULL. Off with Relu fusion.
 */
static FoilNode *pool_producer(FoilGraph *g, const FoilNode *n, const int *readers)
{
    if (!foilGraphFuseRelu || !n->op->pool_sample || n->n_in < 1 || n->in[0] < 0 || readers[n->in[0]] != 1)
        return NULL;
    int p = g->values[n->in[0]].producer;
    if (p < 0) return NULL;
    FoilNode *q = &g->nodes[p];
    if (q->absorbed) { /* a fused Relu: its backward must be this pool's (absorb_relu_backward) */
        if (!n->op->masks_relu_in || q->in[0] < 0 || g->values[q->in[0]].producer < 0) return NULL;
        q = &g->nodes[g->values[q->in[0]].producer];
    }
    return q->op->fuses_pool && !q->folded && q->n_out == 1 ? q : NULL;
}

int64_t foilGraphPlanLimit = 0;

static int64_t plan_limit(void)
{
    if (foilGraphPlanLimit > 0) return foilGraphPlanLimit;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (int64_t)pages * page : INT64_MAX;
}

/* Count bytes the plan is about to allocate for `what`, refusing them when
 * they would take the plan over foilGraphPlanLimit. */
static foil_status plan_reserve(FoilGraph *g, const FoilNode *n, size_t bytes, const char *what)
{
    int64_t limit = plan_limit();
    if (bytes <= (size_t)(limit - g->plan_bytes)) {
        g->plan_bytes += (int64_t)bytes;
        return FOIL_OK;
    }
    const double mib = 1024.0 * 1024.0;
    return foil_error(FOIL_ERR_NOMEM,
                      "%s: %s%s%s%s%s%s needs %.0f MiB, which takes this plan past %.0f MiB, the most foil plans for one "
                      "model (%s); the model's shapes are too large for it, or too many examples run at once "
                      "(lower --batch)",
                      g->path, n ? "node '" : "", n ? node_label(n) : "", n ? "' (" : "", n ? n->op_type : "", n ? "): " : "", what, (double)bytes / mib,
                      (double)limit / mib, foilGraphPlanLimit > 0 ? "a set limit" : "this machine's memory");
}

/* ---------------------------------------------------------------------------
 * The plan's buffers: each recorded in g->bufs; re-planning draws from the
 * previous plan's (g->pool) where one fits.
 */

static int in_bufs(const FoilGraph *g, const void *p)
{
    for (int i = 0; p && i < g->n_bufs; i++)
        if (g->bufs[i].p == p) return 1;
    return 0;
}

/* Before re-planning: the current plan's buffers become the pool, their
 * owners letting go of them (foilGraphUnplan then frees nothing of it). */
static void pool_buffers(FoilGraph *g)
{
    for (int i = 0; i < g->n_values; i++) {
        FoilValue *v = &g->values[i];
        if (is_planned_buffer(v) && v->t.owns_data && in_bufs(g, v->t.data)) v->t.owns_data = 0;
        if (v->grad.owns_data && in_bufs(g, v->grad.data)) v->grad.owns_data = 0;
    }
    for (int k = 0; k < g->n_nodes; k++)
        if (in_bufs(g, g->nodes[k].ctx.work)) g->nodes[k].ctx.work = NULL;
    g->pool = g->bufs;
    g->n_pool = g->n_bufs;
    g->bufs = NULL;
    g->n_bufs = g->cap_bufs = 0;
}

static void free_pool(FoilGraph *g)
{
    for (int i = 0; i < g->n_pool; i++) foil_free(g->pool[i].p);
    free(g->pool);
    g->pool = NULL;
    g->n_pool = 0;
}

/* `bytes` of zeroed, aligned memory for the plan being made (foil_alloc's):
 * the smallest pooled buffer that holds them and is at most twice as large,
 * else a new one (with 1/8 to spare when re-planning). NULL: out of memory. */
static void *plan_alloc(FoilGraph *g, size_t bytes)
{
    if (g->n_bufs == g->cap_bufs) {
        int cap = g->cap_bufs ? 2 * g->cap_bufs : 64;
        FoilPlanBuf *nb = realloc(g->bufs, (size_t)cap * sizeof *nb);
        if (!nb) return NULL;
        g->bufs = nb;
        g->cap_bufs = cap;
    }
    int best = -1;
    for (int i = 0; i < g->n_pool; i++) {
        const size_t cap = g->pool[i].cap;
        if (g->pool[i].p && cap >= bytes && cap / 2 <= bytes && (best < 0 || cap < g->pool[best].cap)) best = i;
    }
    FoilPlanBuf b;
    if (best >= 0) {
        b = g->pool[best];
        g->pool[best].p = NULL;
        memset(b.p, 0, bytes);
    } else {
        b.cap = g->n_pool ? bytes + bytes / 8 : bytes;
        if (!(b.p = foil_alloc(b.cap))) return NULL;
    }
    g->bufs[g->n_bufs++] = b;
    return b.p;
}

/* foil_tensor_alloc, through plan_alloc. */
static foil_status plan_tensor(FoilGraph *g, foil_tensor *t, foil_dtype dt, int ndim, const int64_t *shape)
{
    foil_tensor tmp = {0};
    foil_status st = foil_tensor_set_shape(&tmp, dt, ndim, shape);
    if (st) return st;
    if (!(tmp.data = plan_alloc(g, foil_tensor_nbytes(&tmp))))
        return foil_error(FOIL_ERR_NOMEM, "out of memory allocating %zu bytes", foil_tensor_nbytes(&tmp));
    tmp.owns_data = 1;
    *t = tmp;
    return FOIL_OK;
}

static foil_status plan_node(FoilGraph *g, FoilNode *n, const int *readers)
{
    FoilOpCtx *c = &n->ctx;
    foil_status st = prepare_ctx(g, n);
    if (st) return st;
    FoilNode *pooler = pool_producer(g, n, readers);
    c->pool_in = pooler != NULL; /* the offer; infer may decline it */
    if ((st = n->op->infer(c))) return st;
    if (pooler && c->pool_in) pooler->ctx.pool_out = c;
    absorb_relu_backward(g, n, readers);
    if (absorb_relu(g, n, readers)) {
        foil_tensor *y = &g->values[n->out[0]].t;
        y->data = g->values[n->in[0]].t.data;
        y->owns_data = 0;
        return check_declared_output(g, &g->values[n->out[0]]);
    }
    for (int i = 0; i < n->n_out; i++) {
        if (n->out[i] < 0) continue;
        FoilValue *v = &g->values[n->out[i]];
        foil_tensor shaped = v->t;
        if ((st = plan_reserve(g, n, foil_tensor_nbytes(&shaped), "its output"))) return st;
        if ((st = plan_tensor(g, &v->t, shaped.dtype, shaped.ndim, shaped.shape)))
            return foil_error_prefix(st, "%s: node '%s' (%s): output '%s'", g->path, node_label(n), n->op_type, v->name);
        if ((st = check_declared_output(g, v))) return st;
    }
    if (c->work_bytes) {
        if ((st = plan_reserve(g, n, c->work_bytes, "its workspace"))) return st;
        c->work = plan_alloc(g, c->work_bytes);
        if (!c->work)
            return foil_error(FOIL_ERR_NOMEM, "%s: node '%s': out of memory for %zu bytes of workspace", g->path,
                              node_label(n), c->work_bytes);
    }
    if (can_fold(n)) {
        c->training = 0;
        c->seed = 0;
        if ((st = n->op->forward(c))) return st;
        n->folded = 1;
        for (int i = 0; i < n->n_out; i++)
            if (n->out[i] >= 0) g->values[n->out[i]].known = 1;
    }
    return FOIL_OK;
}

/* Whether some node reads value vi at an input its op lists in value_inputs
 * (Resize's scales, Range's bounds): a value that decides output shapes. */
static int decides_shapes(const FoilGraph *g, int vi)
{
    for (int k = 0; k < g->n_nodes; k++) {
        const FoilNode *n = &g->nodes[k];
        for (int i = 0; i < n->n_in && i < 32; i++)
            if (n->in[i] == vi && (n->op->value_inputs >> i) & 1u) return 1;
    }
    return 0;
}

/* Whether graph input v, declared integer, is fed float32 values: token
 * ids, as foil's model interface hands every input over (see
 * foilGraphPlan). */
static int fed_as_float(const FoilValue *v, const foil_tensor *x)
{
    return v->has_decl && (v->decl_dtype == FOIL_I64 || v->decl_dtype == FOIL_I32) && x->dtype == FOIL_F32;
}

static foil_status bind_input(FoilGraph *g, int k, const foil_tensor *x)
{
    FoilValue *v = &g->values[g->inputs[k]];
    char want[128], got[128];
    if (!x) return foil_error(FOIL_ERR_ARG, "%s: no tensor given for input '%s'", g->path, v->name);
    const int ids = fed_as_float(v, x);
    if (v->has_decl) {
        if (v->decl_dtype != x->dtype && !ids)
            return foil_error(FOIL_ERR_ARG, "%s: input '%s' must be %s, got %s", g->path, v->name,
                              foil_dtype_name(v->decl_dtype), foil_dtype_name(x->dtype));
        int rank_ok = v->decl_ndim == x->ndim;
        for (int d = g->relax_batch ? 1 : 0; rank_ok && d < x->ndim; d++)
            if (v->decl_shape[d] >= 0 && v->decl_shape[d] != x->shape[d]) rank_ok = 0;
        if (!rank_ok) {
            foil_tensor decl = {0};
            decl.ndim = v->decl_ndim;
            memcpy(decl.shape, v->decl_shape, sizeof decl.shape);
            return foil_error(FOIL_ERR_SHAPE, "%s: input '%s' has shape %s, expected %s (-1: any)", g->path, v->name,
                              foil_shape_str(x, got, sizeof got), foil_shape_str(&decl, want, sizeof want));
        }
    }
    const foil_dtype dt = ids ? v->decl_dtype : x->dtype;
    foil_status st = plan_reserve(g, NULL, foil_tensor_nbytes(x), "the input");
    if (!st) st = plan_tensor(g, &v->t, dt, x->ndim, x->shape);
    if (st) return st;
    if (ids) return FOIL_OK; /* data: converted at every forward */
    /* Integer inputs given as integers (shapes, indices) are taken as known:
     * their values may decide output shapes. Float inputs are data, fed at
     * every forward, except those read where a float decides shapes
     * (decides_shapes). */
    if (x->dtype != FOIL_F32 || decides_shapes(g, g->inputs[k])) {
        memcpy(v->t.data, x->data, foil_tensor_nbytes(x));
        v->known = 1;
    }
    return FOIL_OK;
}

foil_status foilGraphPlan(FoilGraph *g, const foil_tensor *const *inputs)
{
    free_pool(g);
    pool_buffers(g);
    foilGraphUnplan(g);
    foil_status st = FOIL_OK;
    g->plan_bytes = 0;
    for (int i = 0; i < g->n_values; i++) {
        FoilValue *v = &g->values[i];
        v->known = v->kind == FOIL_VALUE_CONST;
    }
    for (int k = 0; k < g->n_inputs && !st; k++) st = bind_input(g, k, inputs[k]);
    int *readers = count_readers(g);
    if (!readers) st = foil_error(FOIL_ERR_NOMEM, "%s: out of memory", g->path);
    for (int k = 0; k < g->n_nodes && !st; k++) st = plan_node(g, &g->nodes[k], readers);
    free(readers);
    /* Gradient buffers for every float value that is computed at run time or
     * trained; known (folded) values are constants. An absorbed Relu's
     * output shares its input's. */
    for (int i = 0; i < g->n_values && !st; i++) {
        FoilValue *v = &g->values[i];
        if (v->t.dtype != FOIL_F32 || v->known || !v->t.data || (v->producer >= 0 && g->nodes[v->producer].absorbed))
            continue;
        st = plan_reserve(g, NULL, foil_tensor_nbytes(&v->t), "the gradient buffers");
        if (!st) st = plan_tensor(g, &v->grad, FOIL_F32, v->t.ndim, v->t.shape);
    }
    for (int k = 0; k < g->n_nodes && !st; k++) {
        const FoilNode *n = &g->nodes[k];
        if (!n->absorbed) continue;
        foil_tensor *dy = &g->values[n->out[0]].grad;
        *dy = g->values[n->in[0]].grad;
        dy->owns_data = 0;
    }
    free_pool(g);
    if (st) {
        foilGraphUnplan(g);
        return st;
    }
    g->planned = 1;
    g->plans_made++;
    return FOIL_OK;
}

/* ---------------------------------------------------------------------------
 * forward and backward
 */

/* An input bound at plan time (its values may decide shapes) must come back
 * unchanged: new values would need a new plan, and ignoring them would give
 * an answer for other inputs than the caller's. NULL: the plan's. */
static foil_status check_known_input(const FoilGraph *g, const FoilValue *v, const foil_tensor *x)
{
    if (!x || (x->dtype == v->t.dtype && foil_tensor_same_shape(x, &v->t) &&
               memcmp(x->data, v->t.data, foil_tensor_nbytes(&v->t)) == 0))
        return FOIL_OK;
    return foil_error(FOIL_ERR_ARG, "%s: input '%s' decides shapes, so its values were fixed when the graph was "
                      "planned; these differ: plan again for them", g->path, v->name);
}

/* Copy a run-time input into the plan's buffer; token ids fed as float32
 * (fed_as_float) are converted, and must be whole numbers in the integer
 * type's range. */
static foil_status feed_input(const FoilGraph *g, FoilValue *v, const foil_tensor *x)
{
    const int ids = x && fed_as_float(v, x) && v->t.dtype != FOIL_F32;
    if (!x || !foil_tensor_same_shape(x, &v->t) || (x->dtype != v->t.dtype && !ids)) {
        char a[128], b[128];
        return foil_error(FOIL_ERR_SHAPE, "%s: input '%s' has shape %s but the plan was made for %s", g->path,
                          v->name, x ? foil_shape_str(x, a, sizeof a) : "none", foil_shape_str(&v->t, b, sizeof b));
    }
    if (!ids) {
        memcpy(v->t.data, x->data, foil_tensor_nbytes(&v->t));
        return FOIL_OK;
    }
    const float *f = foil_f32(x);
    const double lim = v->t.dtype == FOIL_I32 ? 2147483647.0 : 9007199254740992.0; /* 2^53: exact in a double */
    for (int64_t i = 0; i < x->numel; i++) {
        const double d = f[i];
        if (!(d == floor(d) && fabs(d) <= lim))
            return foil_error(FOIL_ERR_ARG, "%s: input '%s' is %s ids, and value %lld is %g, not a whole number in "
                              "its range", g->path, v->name, foil_dtype_name(v->t.dtype), (long long)i, d);
        if (v->t.dtype == FOIL_I32) ((int32_t *)v->t.data)[i] = (int32_t)d;
        else foil_i64(&v->t)[i] = (int64_t)d;
    }
    return FOIL_OK;
}

foil_status foilGraphForward(FoilGraph *g, const foil_tensor *const *inputs, int training, uint64_t seed)
{
    if (!g->planned) return foil_error(FOIL_ERR_ARG, "%s: forward before plan", g->path);
    for (int k = 0; k < g->n_inputs; k++) {
        FoilValue *v = &g->values[g->inputs[k]];
        foil_status st = v->known ? check_known_input(g, v, inputs[k]) : feed_input(g, v, inputs[k]);
        if (st) return st;
    }
    for (int k = 0; k < g->n_nodes; k++) {
        FoilNode *n = &g->nodes[k];
        if (n->folded || n->absorbed) continue;
        n->ctx.training = training;
        n->ctx.seed = foil_rng_at(seed, (uint64_t)k);
        foil_status st = n->op->forward(&n->ctx);
        if (st) return st;
    }
    return FOIL_OK;
}

void foilGraphSetGradLeaf(FoilGraph *g, int vi)
{
    g->grad_leaf = vi + 1;
    g->grad_mode = -1; /* needs_grad must be worked out again */
}

static int input_is_differentiable(const FoilNode *n, int i)
{
    return n->op->backward && i < 32 && (n->op->grad_inputs >> i) & 1u;
}

/* Mark the values on a path from a wanted leaf, so that backward touches only
 * nodes whose gradient someone asked for. */
static void mark_needs_grad(FoilGraph *g, int want)
{
    for (int i = 0; i < g->n_values; i++) {
        FoilValue *v = &g->values[i];
        v->needs_grad = 0;
        if (!v->grad.data) continue;
        if (v->kind == FOIL_VALUE_INPUT && (want & FOIL_GRAD_INPUTS)) v->needs_grad = 1;
        if (v->kind == FOIL_VALUE_PARAM && v->trainable && (want & FOIL_GRAD_PARAMS)) v->needs_grad = 1;
    }
    const int leaf = want & FOIL_GRAD_INPUTS ? g->grad_leaf - 1 : -1;
    for (int k = 0; k < g->n_nodes; k++) {
        FoilNode *n = &g->nodes[k];
        if (n->folded) continue;
        int any = 0;
        for (int i = 0; i < n->n_in; i++)
            if (n->in[i] >= 0 && input_is_differentiable(n, i) && g->values[n->in[i]].needs_grad) any = 1;
        for (int i = 0; i < n->n_out; i++)
            if (n->out[i] >= 0 && g->values[n->out[i]].grad.data)
                g->values[n->out[i]].needs_grad = any || n->out[i] == leaf;
    }
    g->grad_mode = want;
}

/* needs_grad is 1 for a value whose gradient is wanted, 2 once this backward
 * pass has initialized its buffer (zeroed, seeded from d_outputs, or handed
 * to a node that writes it: see d_in_fresh in op.h). */
enum { GRAD_PENDING = 1, GRAD_READY = 2 };

static void grad_ready(FoilValue *v)
{
    if (v->needs_grad != GRAD_PENDING) return;
    memset(v->grad.data, 0, foil_tensor_nbytes(&v->grad));
    v->needs_grad = GRAD_READY;
}

/* Whether node n's backward may write input i's gradient instead of
 * accumulating: the op says it can, and no other input of n is the same
 * value (its gradient must add to this one). */
static int can_write_fresh(const FoilNode *n, int i)
{
    if (i >= 32 || !((n->op->writes_grads >> i) & 1u)) return 0;
    for (int j = 0; j < n->n_in; j++)
        if (j != i && n->in[j] == n->in[i]) return 0;
    return 1;
}

/* The trainable weights among node n's differentiable inputs, as a mask. */
static uint32_t weight_inputs(const FoilGraph *g, const FoilNode *n)
{
    uint32_t m = 0;
    for (int i = 0; i < n->n_in && i < 32; i++) {
        if (n->in[i] < 0 || !input_is_differentiable(n, i)) continue;
        const FoilValue *v = &g->values[n->in[i]];
        if (v->kind == FOIL_VALUE_PARAM && v->trainable) m |= 1u << i;
    }
    return m;
}

/* Backward as foilGraphBackward describes it; with sq, the per-example
 * norms pass of foilGraphExampleNorms (checked before). */
static foil_status run_backward(FoilGraph *g, const foil_tensor *const *d_outputs, int want, int64_t examples,
                                float *sq);

foil_status foilGraphBackward(FoilGraph *g, const foil_tensor *const *d_outputs, int want)
{
    return run_backward(g, d_outputs, want, 0, NULL);
}

enum { NORMS_MAX_IN = 8 }; /* inputs of a node with weights, for the scratch table */

foil_status foilGraphCheckExampleNorms(FoilGraph *g, int64_t examples)
{
    if (!g->planned) return foil_error(FOIL_ERR_ARG, "%s: per-example norms before plan", g->path);
    if (g->grad_mode != FOIL_GRAD_PARAMS) mark_needs_grad(g, FOIL_GRAD_PARAMS);
    int *readers = count_readers(g);
    if (!readers) return foil_error(FOIL_ERR_NOMEM, "%s: out of memory", g->path);
    foil_status st = FOIL_OK;
    for (int k = 0; k < g->n_nodes && !st; k++) {
        FoilNode *n = &g->nodes[k];
        const uint32_t w = n->folded ? 0 : weight_inputs(g, n);
        if (!w) continue;
        int first = 0;
        while (!((w >> first) & 1u)) first++;
        const char *weight = g->values[n->in[first]].name;
        if (!n->op->example_norms) {
            const int bn = strcmp(n->op_type, "BatchNormalization") == 0;
            st = foil_error(FOIL_ERR_UNSUPPORTED,
                            "%s: node '%s' (%s) trains the weight '%s', and foil has no per-example gradient for "
                            "it%s; DP-SGD clips each example's gradient, which it computes for the weights of Conv, "
                            "Gemm, MatMul, Add, Sub, Mul and Div",
                            g->path, node_label(n), n->op_type, weight,
                            bn ? " (batch normalization mixes the examples of a batch, so one example's gradient "
                                 "depends on the others: use a model without it)" : "");
            break;
        }
        for (int i = 0; i < n->n_in && !st; i++)
            if (((w >> i) & 1u) && readers[n->in[i]] != 1)
                st = foil_error(FOIL_ERR_UNSUPPORTED,
                                "%s: the weight '%s' is read %d times; per-example gradient norms add up node by "
                                "node, which is exact only for a weight read once", g->path,
                                g->values[n->in[i]].name, readers[n->in[i]]);
        if (!st && n->n_in > NORMS_MAX_IN)
            st = foil_error(FOIL_ERR_UNSUPPORTED, "%s: node '%s' (%s) has %d inputs; per-example norms take at most %d",
                            g->path, node_label(n), n->op_type, n->n_in, NORMS_MAX_IN);
        if (st) break;
        /* the inputs whose gradient backward computes, as the pass will set them */
        FoilOpCtx *c = &n->ctx;
        for (int i = 0; i < n->n_in; i++) {
            FoilValue *v = n->in[i] >= 0 ? &g->values[n->in[i]] : NULL;
            c->d_in[i] = v && v->needs_grad && input_is_differentiable(n, i) && !((w >> i) & 1u) ? &v->grad : NULL;
        }
        st = n->op->example_norms(c, w, examples, NULL, NULL);
    }
    free(readers);
    return st;
}

foil_status foilGraphExampleNorms(FoilGraph *g, const foil_tensor *const *d_outputs, int64_t examples, float *sq)
{
    foil_status st = foilGraphCheckExampleNorms(g, examples);
    if (st) return st;
    memset(sq, 0, (size_t)examples * sizeof *sq);
    return run_backward(g, d_outputs, FOIL_GRAD_PARAMS, examples, sq);
}

static foil_status run_backward(FoilGraph *g, const foil_tensor *const *d_outputs, int want, int64_t examples,
                                float *sq)
{
    if (!g->planned) return foil_error(FOIL_ERR_ARG, "%s: backward before plan", g->path);
    if (g->grad_mode != want) mark_needs_grad(g, want);
    for (int k = 0; k < g->n_outputs; k++) {
        FoilValue *v = &g->values[g->outputs[k]];
        if (!v->needs_grad || !d_outputs || !d_outputs[k]) continue;
        if (d_outputs[k]->numel != v->grad.numel || d_outputs[k]->dtype != FOIL_F32)
            return foil_error(FOIL_ERR_SHAPE, "%s: gradient for output '%s' has the wrong size", g->path, v->name);
    }
    for (int k = 0; k < g->n_outputs; k++) {
        FoilValue *v = &g->values[g->outputs[k]];
        if (!v->needs_grad || !d_outputs || !d_outputs[k]) continue;
        memcpy(v->grad.data, d_outputs[k]->data, foil_tensor_nbytes(&v->grad));
        v->needs_grad = GRAD_READY;
    }
    /* The norms pass leaves the weights' gradient buffers to the nodes as
     * scratch: nothing zeroes them. */
    for (int i = 0; sq && i < g->n_values; i++) {
        FoilValue *v = &g->values[i];
        if (v->kind == FOIL_VALUE_PARAM && v->trainable && v->needs_grad) v->needs_grad = GRAD_READY;
    }
    /* Each gradient buffer is zeroed just before the first node that
     * accumulates into it (so it is in cache when that node runs), and the
     * ones no node reaches are zeroed at the end. */
    foil_status st = FOIL_OK;
    for (int k = g->n_nodes - 1; k >= 0 && !st; k--) {
        FoilNode *n = &g->nodes[k];
        if (n->folded) continue;
        FoilOpCtx *c = &n->ctx;
        const uint32_t weights = sq ? weight_inputs(g, n) : 0;
        float *scratch[NORMS_MAX_IN] = {0};
        int flows = 0, wanted = weights != 0;
        for (int i = 0; i < n->n_out; i++) {
            FoilValue *v = n->out[i] >= 0 ? &g->values[n->out[i]] : NULL;
            if (v) grad_ready(v);
            c->d_out[i] = v && v->needs_grad ? &v->grad : NULL;
            flows |= c->d_out[i] != NULL;
        }
        for (int i = 0; i < n->n_in; i++) {
            FoilValue *v = n->in[i] >= 0 ? &g->values[n->in[i]] : NULL;
            c->d_in[i] = v && v->needs_grad && input_is_differentiable(n, i) ? &v->grad : NULL;
            if ((weights >> i) & 1u) { /* i < NORMS_MAX_IN: checked */
                scratch[i] = foil_f32(&v->grad);
                c->d_in[i] = NULL;
            }
            wanted |= c->d_in[i] != NULL;
        }
        if (flows && wanted) {
            c->d_in_fresh = 0;
            for (int i = 0; i < n->n_in; i++) {
                if (!c->d_in[i]) continue;
                FoilValue *v = &g->values[n->in[i]];
                if (v->needs_grad == GRAD_PENDING && can_write_fresh(n, i)) {
                    c->d_in_fresh |= 1u << i;
                    v->needs_grad = GRAD_READY;
                }
                grad_ready(v);
            }
            /* a fused pool's fresh input gradient: its producer's backward
             * computes it, sample by sample (pool_producer) */
            int pooled = c->pool_in && c->d_in[0] && foilGradFresh(c, 0);
            if (weights) st = n->op->example_norms(c, weights, examples, sq, scratch);
            else if (!n->masked_by_reader && !pooled) n->op->backward(c);
        }
    }
    for (int i = 0; i < g->n_values; i++) {
        FoilValue *v = &g->values[i];
        grad_ready(v);
        if (v->needs_grad) v->needs_grad = GRAD_PENDING;
    }
    return st;
}
