/*
 * nn/builder.c - build a FoilGraph in code. See builder.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/builder.h"

foil_status foilBuilderBegin(FoilBuilder *b, const char *name, int opset)
{
    memset(b, 0, sizeof *b);
    b->g = foilGraphNew(name);
    if (!b->g) return b->st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    b->g->name = strdup(name ? name : "foil");
    if (!b->g->name) {
        foilBuilderAbort(b);
        return b->st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    b->g->opset = opset;
    b->g->ir_version = 8;
    return FOIL_OK;
}

foil_status foilBuilderFail(FoilBuilder *b, foil_status st)
{
    if (!b->st) b->st = st;
    return b->st;
}

void foilBuilderAbort(FoilBuilder *b)
{
    foilGraphFree(b->g);
    b->g = NULL;
    if (!b->st) b->st = FOIL_ERR_ARG;
}

static int nomem(FoilBuilder *b) { return foilBuilderFail(b, foil_error(FOIL_ERR_NOMEM, "out of memory")), -1; }

/* A new value of this name; an existing name is an error (every ONNX value
 * has one definition). */
static int new_value(FoilBuilder *b, const char *name, FoilValueKind kind)
{
    if (b->st) return -1;
    if (!name || !name[0]) {
        foilBuilderFail(b, foil_error(FOIL_ERR_ARG, "%s: a value needs a name", b->g->path));
        return -1;
    }
    if (foilGraphFindValue(b->g, name) >= 0) {
        foilBuilderFail(b, foil_error(FOIL_ERR_ARG, "%s: value '%s' is defined twice", b->g->path, name));
        return -1;
    }
    int idx = foilGraphValue(b->g, name);
    if (idx < 0) return nomem(b);
    b->g->values[idx].kind = kind;
    return idx;
}

static foil_status set_decl(FoilBuilder *b, FoilValue *v, foil_dtype dt, int ndim, const int64_t *shape,
                            const char *const *dim_params)
{
    if (ndim > FOIL_MAX_DIMS)
        return foilBuilderFail(b, foil_error(FOIL_ERR_ARG, "%s: value '%s' has rank %d (max %d)", b->g->path,
                                               v->name, ndim, FOIL_MAX_DIMS));
    v->has_decl = ndim < 0 ? 2 : 1;
    v->decl_dtype = dt;
    v->decl_ndim = ndim < 0 ? -1 : ndim;
    for (int d = 0; d < ndim; d++) {
        v->decl_shape[d] = shape[d] < 0 ? -1 : shape[d];
        if (shape[d] >= 0) continue;
        const char *p = dim_params && dim_params[d] ? dim_params[d] : "N";
        free(v->decl_dim_param[d]);
        v->decl_dim_param[d] = strdup(p);
        if (!v->decl_dim_param[d]) return nomem(b), b->st;
    }
    return FOIL_OK;
}

/* Append to g->inputs or g->outputs, growing the array. */
static foil_status push_index(FoilBuilder *b, int **arr, int *n, int *cap, int idx)
{
    if (*n == *cap) {
        int nc = *cap ? 2 * *cap : 4;
        int *na = realloc(*arr, (size_t)nc * sizeof *na);
        if (!na) return nomem(b), b->st;
        *arr = na;
        *cap = nc;
    }
    (*arr)[(*n)++] = idx;
    return FOIL_OK;
}

int foilBuilderInput(FoilBuilder *b, const char *name, foil_dtype dt, int ndim, const int64_t *shape,
                       const char *const *dim_params)
{
    if (b->st) return -1;
    if (ndim < 0) {
        foilBuilderFail(b, foil_error(FOIL_ERR_ARG, "%s: input '%s' needs a shape", b->g->path, name));
        return -1;
    }
    int idx = new_value(b, name, FOIL_VALUE_INPUT);
    if (idx < 0) return -1;
    if (set_decl(b, &b->g->values[idx], dt, ndim, shape, dim_params)) return -1;
    if (push_index(b, &b->g->inputs, &b->g->n_inputs, &b->cap_inputs, idx)) return -1;
    return idx;
}

static int new_initializer(FoilBuilder *b, const char *name, FoilValueKind kind, foil_dtype dt, int ndim,
                           const int64_t *shape, const void *data)
{
    int idx = new_value(b, name, kind);
    if (idx < 0) return -1;
    foil_tensor *t = &b->g->values[idx].t;
    foil_status st = foil_tensor_alloc(t, dt, ndim, shape);
    if (st) {
        foilBuilderFail(b, foil_error_prefix(st, "%s: initializer '%s'", b->g->path, name));
        return -1;
    }
    if (data && t->numel) memcpy(t->data, data, foil_tensor_nbytes(t));
    b->g->values[idx].known = kind == FOIL_VALUE_CONST;
    return idx;
}

int foilBuilderParam(FoilBuilder *b, const char *name, int ndim, const int64_t *shape, const float *data)
{
    return new_initializer(b, name, FOIL_VALUE_PARAM, FOIL_F32, ndim, shape, data);
}

int foilBuilderConstI64(FoilBuilder *b, const char *name, int ndim, const int64_t *shape, const int64_t *data)
{
    return new_initializer(b, name, FOIL_VALUE_CONST, FOIL_I64, ndim, shape, data);
}

static foil_status copy_attr(FoilBuilder *b, FoilAttr *dst, const FoilBattr *src)
{
    memset(dst, 0, sizeof *dst);
    dst->name = strdup(src->name ? src->name : "");
    if (!dst->name) return nomem(b), b->st;
    dst->type = src->type;
    switch (src->type) {
    case FOIL_ATTR_INT: dst->i = src->i; break;
    case FOIL_ATTR_FLOAT: dst->f = src->f; break;
    case FOIL_ATTR_STRING:
        dst->s = strdup(src->s ? src->s : "");
        if (!dst->s) return nomem(b), b->st;
        break;
    case FOIL_ATTR_INTS:
        if (src->n < 0 || (src->n > 0 && !src->ints))
            return foilBuilderFail(b, foil_error(FOIL_ERR_ARG, "%s: attribute '%s' has no values", b->g->path,
                                                   dst->name));
        dst->n = src->n;
        dst->ints = malloc((size_t)(src->n ? src->n : 1) * sizeof *dst->ints);
        if (!dst->ints) return nomem(b), b->st;
        if (src->n) memcpy(dst->ints, src->ints, (size_t)src->n * sizeof *dst->ints);
        break;
    case FOIL_ATTR_TENSOR:
        dst->t = calloc(1, sizeof *dst->t);
        if (!dst->t || !src->t) return nomem(b), b->st;
        if (foil_tensor_copy(dst->t, src->t)) return nomem(b), b->st;
        break;
    default:
        return foilBuilderFail(b, foil_error(FOIL_ERR_UNSUPPORTED, "%s: attribute '%s': the builder takes int, "
                                               "float, string, ints and tensor attributes", b->g->path, dst->name));
    }
    return FOIL_OK;
}

int foilBuilderNode(FoilBuilder *b, const char *op_type, const char *name, int n_in, const int *in, int n_out,
                      const char *const *out_names, int *out, int n_attrs, const FoilBattr *attrs)
{
    if (b->st) return -1;
    FoilGraph *g = b->g;
    if (n_in < 0 || n_out < 1 || n_attrs < 0 || (n_attrs && !attrs)) {
        foilBuilderFail(b, foil_error(FOIL_ERR_ARG, "%s: node '%s' (%s): bad argument counts", g->path,
                                        name ? name : "", op_type));
        return -1;
    }
    for (int i = 0; i < n_in; i++)
        if (in[i] < 0 || in[i] >= g->n_values) {
            foilBuilderFail(b, foil_error(FOIL_ERR_ARG, "%s: node '%s' (%s): input %d is not a value", g->path,
                                            name ? name : "", op_type, i));
            return -1;
        }
    int *outs = malloc((size_t)n_out * sizeof *outs);
    if (!outs) return nomem(b);
    for (int i = 0; i < n_out; i++) {
        outs[i] = new_value(b, out_names[i], FOIL_VALUE_ACTIVATION);
        if (outs[i] < 0) {
            free(outs);
            return -1;
        }
    }
    FoilNode *n = foilGraphAddNode(g, name, op_type, n_in, in, n_out, outs);
    int first = outs[0];
    if (out) memcpy(out, outs, (size_t)n_out * sizeof *out);
    free(outs);
    if (!n) return nomem(b);
    n->attrs = calloc((size_t)(n_attrs ? n_attrs : 1), sizeof *n->attrs);
    if (!n->attrs) return nomem(b);
    for (int a = 0; a < n_attrs; a++) {
        foil_status st = copy_attr(b, &n->attrs[a], &attrs[a]);
        n->n_attrs = a + 1; /* so that the graph frees what was copied */
        if (st) return -1;
    }
    return first;
}

int foilBuilderOp(FoilBuilder *b, const char *op_type, const char *name, int n_in, const int *in, int n_attrs,
                    const FoilBattr *attrs)
{
    const char *out_names[1] = {name};
    return foilBuilderNode(b, op_type, name, n_in, in, 1, out_names, NULL, n_attrs, attrs);
}

foil_status foilBuilderOutput(FoilBuilder *b, int value, foil_dtype dt, int ndim, const int64_t *shape,
                                const char *const *dim_params)
{
    if (b->st) return b->st;
    if (value < 0 || value >= b->g->n_values)
        return foilBuilderFail(b, foil_error(FOIL_ERR_ARG, "%s: graph output is not a value", b->g->path));
    FoilValue *v = &b->g->values[value];
    foil_status st = set_decl(b, v, dt, ndim, shape, dim_params);
    if (st) return st;
    return push_index(b, &b->g->outputs, &b->g->n_outputs, &b->cap_outputs, value);
}

foil_status foilBuilderFinish(FoilBuilder *b, FoilGraph **out)
{
    *out = NULL;
    foil_status st = b->st;
    if (!st && b->g->n_outputs == 0) st = foil_error(FOIL_ERR_ARG, "%s: the graph has no outputs", b->g->path);
    if (!st && b->g->n_nodes == 0) st = foil_error(FOIL_ERR_ARG, "%s: the graph has no nodes", b->g->path);
    if (!st) st = foilGraphFinalize(b->g);
    if (st) {
        foilGraphFree(b->g);
        b->g = NULL;
        b->st = st;
        return st;
    }
    *out = b->g;
    b->g = NULL;
    b->st = FOIL_ERR_ARG; /* spent */
    return FOIL_OK;
}

int foilBuilderConstant(FoilBuilder *b, const char *name, int ndim, const int64_t *shape, const float *data)
{
    if (b->st) return -1;
    foil_tensor t = {0};
    foil_status st = foil_tensor_set_shape(&t, FOIL_F32, ndim, shape);
    if (st) {
        foilBuilderFail(b, foil_error_prefix(st, "%s: constant '%s'", b->g->path, name));
        return -1;
    }
    t.data = (void *)data;
    FoilBattr value = {.name = "value", .type = FOIL_ATTR_TENSOR, .t = &t};
    const char *out_names[1] = {name};
    int out;
    return foilBuilderNode(b, "Constant", name, 0, NULL, 1, out_names, &out, 1, &value);
}

/* ---------------------------------------------------------------------------
 * prepending to a finished graph
 */

int foilGraphSplitInput(FoilGraph *g, const char *suffix)
{
    const int old = g->inputs[0];
    char *name = g->values[old].name;
    size_t len = strlen(name) + strlen(suffix) + 1;
    char *renamed = malloc(len);
    if (!renamed) return -1;
    snprintf(renamed, len, "%s%s", name, suffix);
    g->values[old].name = renamed;
    int idx = foilGraphValue(g, name); /* may move g->values */
    if (idx < 0) {
        g->values[old].name = name;
        free(renamed);
        return -1;
    }
    free(name);
    FoilValue *pix = &g->values[idx], *was = &g->values[old];
    pix->kind = FOIL_VALUE_INPUT;
    pix->has_decl = was->has_decl;
    pix->decl_dtype = was->decl_dtype;
    pix->decl_ndim = was->decl_ndim;
    memcpy(pix->decl_shape, was->decl_shape, sizeof pix->decl_shape);
    memcpy(pix->decl_dim_param, was->decl_dim_param, sizeof pix->decl_dim_param);
    memset(was->decl_dim_param, 0, sizeof was->decl_dim_param);
    was->has_decl = 0;
    was->kind = FOIL_VALUE_ACTIVATION;
    g->inputs[0] = idx;
    return idx;
}

foil_status foilGraphMoveToFront(FoilGraph *g, int first)
{
    const int k = g->n_nodes - first;
    FoilNode *moved = malloc((size_t)k * sizeof *moved);
    if (!moved) return foil_error(FOIL_ERR_NOMEM, "%s: out of memory", g->path);
    memcpy(moved, g->nodes + first, (size_t)k * sizeof *moved);
    memmove(g->nodes + k, g->nodes, (size_t)first * sizeof *g->nodes);
    memcpy(g->nodes, moved, (size_t)k * sizeof *moved);
    free(moved);
    for (int i = 0; i < g->n_nodes; i++)
        for (int o = 0; o < g->nodes[i].n_out; o++)
            if (g->nodes[i].out[o] >= 0) g->values[g->nodes[i].out[o]].producer = i;
    for (int i = 0; i < k; i++) {
        FoilNode *n = &g->nodes[i];
        n->op = foilOpFind(n->op_type);
        foil_status st = n->op ? FOIL_OK : foil_error(FOIL_ERR_RUNTIME, "%s: no %s op", g->path, n->op_type);
        if (!st && n->op->init) st = n->op->init(n);
        if (st) return foil_error_prefix(st, "%s", g->path);
    }
    return FOIL_OK;
}
