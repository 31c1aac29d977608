/*
 * io/onnx.c - ONNX models in and out.
 *
 * Parsing and serialization are done by protobuf-c code generated at build
 * time from Debian's onnx.proto; this file only translates between
 * Onnx__ModelProto and FoilGraph, and checks everything a hostile or broken
 * file could get wrong (external data, unknown types, sizes that disagree).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/file.h"
#include "io/onnx.h"
#include "io/pb_where.h"
#include "nn/ml/ml.h"
#include "onnx.pb-c.h"

#define FOIL_ONNX_MIN_OPSET 1
/* 20: Gelu's opset. What 19 and 20 changed in the ops foil has is new types
 * (float8, string, bool) and attributes that default to the old behaviour
 * (AveragePool's dilations, which it supports; Pad's mode "wrap", which it
 * refuses by name). */
#define FOIL_ONNX_MAX_OPSET 20
/* ai.onnx.ml (nn/ml/ml.h): the versions scikit-learn, XGBoost and LightGBM
 * exports use; 3 added the *_as_tensor attributes. */
#define FOIL_ONNX_ML_MAX_OPSET 3
/* Models larger than this are refused before reading (protobuf's own limit is 2 GiB). */
#define FOIL_ONNX_MAX_BYTES ((size_t)2 << 30)

/* ---------------------------------------------------------------------------
 * tensors
 */

static foil_status tensor_from_proto(const Onnx__TensorProto *tp, foil_tensor *out, const char *what)
{
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return foil_error(FOIL_ERR_UNSUPPORTED, "%s: tensor data stored in an external file is not supported", what);
    if (tp->segment) return foil_error(FOIL_ERR_UNSUPPORTED, "%s: segmented tensors are not supported", what);
    foil_dtype dt = (foil_dtype)tp->data_type;
    if (foil_dtype_size(dt) == 0)
        return foil_error(FOIL_ERR_UNSUPPORTED, "%s: element type %d is not supported (float32, float64, int8/16/32/64, "
                          "uint8/16/32/64 and bool are)", what, (int)tp->data_type);
    if (tp->n_dims > FOIL_MAX_DIMS)
        return foil_error(FOIL_ERR_UNSUPPORTED, "%s: rank %zu exceeds %d", what, tp->n_dims, FOIL_MAX_DIMS);
    foil_tensor t = {0};
    foil_status st = foil_tensor_set_shape(&t, dt, (int)tp->n_dims, tp->dims);
    if (st) return foil_error_prefix(st, "%s", what);
    size_t nbytes = foil_tensor_nbytes(&t);
    size_t esize = foil_dtype_size(dt);
    size_t n = (size_t)t.numel;
    /* Count the elements actually present before allocating what dims claim. */
    size_t have;
    if (tp->has_raw_data) have = tp->raw_data.len / esize;
    else if (dt == FOIL_F32) have = tp->n_float_data;
    else if (dt == FOIL_F64) have = tp->n_double_data;
    else if (dt == FOIL_I64) have = tp->n_int64_data;
    else if (dt == FOIL_U32 || dt == FOIL_U64) have = tp->n_uint64_data;
    else have = tp->n_int32_data;
    if (tp->has_raw_data && tp->raw_data.len != nbytes)
        return foil_error(FOIL_ERR_FORMAT, "%s: raw data has %zu bytes but shape and type need %zu", what,
                          tp->raw_data.len, nbytes);
    if (have != n)
        return foil_error(FOIL_ERR_FORMAT, "%s: has %zu elements but its shape needs %zu", what, have, n);
    if ((st = foil_tensor_alloc(out, dt, t.ndim, t.shape))) return foil_error_prefix(st, "%s", what);
    if (tp->has_raw_data) {
        if (nbytes) memcpy(out->data, tp->raw_data.data, nbytes); /* ONNX raw data is little-endian, as is x86 */
        return FOIL_OK;
    }
    for (size_t i = 0; i < n; i++) {
        switch (dt) {
        case FOIL_F32: ((float *)out->data)[i] = tp->float_data[i]; break;
        case FOIL_F64: ((double *)out->data)[i] = tp->double_data[i]; break;
        case FOIL_I64: ((int64_t *)out->data)[i] = tp->int64_data[i]; break;
        case FOIL_U64: ((uint64_t *)out->data)[i] = tp->uint64_data[i]; break;
        case FOIL_U32: ((uint32_t *)out->data)[i] = (uint32_t)tp->uint64_data[i]; break;
        case FOIL_I32: ((int32_t *)out->data)[i] = tp->int32_data[i]; break;
        case FOIL_I16: ((int16_t *)out->data)[i] = (int16_t)tp->int32_data[i]; break;
        case FOIL_U16: ((uint16_t *)out->data)[i] = (uint16_t)tp->int32_data[i]; break;
        case FOIL_I8: ((int8_t *)out->data)[i] = (int8_t)tp->int32_data[i]; break;
        case FOIL_U8: case FOIL_BOOL: ((uint8_t *)out->data)[i] = (uint8_t)tp->int32_data[i]; break;
        default: break;
        }
    }
    return FOIL_OK;
}

foil_status foilOnnxReadTensor(const char *path, foil_tensor *out)
{
    uint8_t *buf;
    size_t len;
    foil_status st = foilReadFile(path, FOIL_ONNX_MAX_BYTES, &buf, &len);
    if (st) return st;
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
    free(buf);
    if (!tp) return foil_error(FOIL_ERR_FORMAT, "%s: not a valid ONNX TensorProto (protobuf parse failed)", path);
    st = tensor_from_proto(tp, out, path);
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return st;
}

/* ---------------------------------------------------------------------------
 * import
 */

static foil_status convert_attr(const Onnx__AttributeProto *ap, FoilAttr *a, const char *where)
{
    memset(a, 0, sizeof *a);
    a->name = strdup(ap->name ? ap->name : "");
    if (!a->name) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    if (ap->ref_attr_name) return foil_error(FOIL_ERR_UNSUPPORTED, "%s: attribute references are not supported", where);
    int type = ap->has_type ? (int)ap->type : 0;
    if (!type) { /* IR version 1 models leave the type implicit */
        if (ap->n_ints) type = FOIL_ATTR_INTS;
        else if (ap->n_floats) type = FOIL_ATTR_FLOATS;
        else if (ap->n_strings) type = FOIL_ATTR_STRINGS;
        else if (ap->t) type = FOIL_ATTR_TENSOR;
        else if (ap->has_s) type = FOIL_ATTR_STRING;
        else if (ap->has_f) type = FOIL_ATTR_FLOAT;
        else type = FOIL_ATTR_INT;
    }
    a->type = (FoilAttrType)type;
    switch (type) {
    case FOIL_ATTR_FLOAT: a->f = ap->f; break;
    case FOIL_ATTR_INT: a->i = ap->i; break;
    case FOIL_ATTR_STRING:
        a->s = malloc(ap->s.len + 1);
        if (!a->s) return foil_error(FOIL_ERR_NOMEM, "out of memory");
        if (ap->s.len) memcpy(a->s, ap->s.data, ap->s.len);
        a->s[ap->s.len] = '\0';
        break;
    case FOIL_ATTR_INTS:
        a->n = (int)ap->n_ints;
        a->ints = malloc((ap->n_ints ? ap->n_ints : 1) * sizeof *a->ints);
        if (!a->ints) return foil_error(FOIL_ERR_NOMEM, "out of memory");
        if (ap->n_ints) memcpy(a->ints, ap->ints, ap->n_ints * sizeof *a->ints);
        break;
    case FOIL_ATTR_FLOATS:
        a->n = (int)ap->n_floats;
        a->floats = malloc((ap->n_floats ? ap->n_floats : 1) * sizeof *a->floats);
        if (!a->floats) return foil_error(FOIL_ERR_NOMEM, "out of memory");
        if (ap->n_floats) memcpy(a->floats, ap->floats, ap->n_floats * sizeof *a->floats);
        break;
    case FOIL_ATTR_STRINGS:
        a->n = (int)ap->n_strings;
        a->strings = calloc(ap->n_strings ? ap->n_strings : 1, sizeof *a->strings);
        if (!a->strings) return foil_error(FOIL_ERR_NOMEM, "out of memory");
        for (size_t k = 0; k < ap->n_strings; k++) {
            a->strings[k] = malloc(ap->strings[k].len + 1);
            if (!a->strings[k]) return foil_error(FOIL_ERR_NOMEM, "out of memory");
            if (ap->strings[k].len) memcpy(a->strings[k], ap->strings[k].data, ap->strings[k].len);
            a->strings[k][ap->strings[k].len] = '\0';
        }
        break;
    case FOIL_ATTR_TENSOR: {
        if (!ap->t) return foil_error(FOIL_ERR_FORMAT, "%s: attribute '%s' has no tensor", where, a->name);
        a->t = calloc(1, sizeof *a->t);
        if (!a->t) return foil_error(FOIL_ERR_NOMEM, "out of memory");
        char what[512];
        snprintf(what, sizeof what, "%s: attribute '%s'", where, a->name);
        return tensor_from_proto(ap->t, a->t, what);
    }
    default:
        return foil_error(FOIL_ERR_UNSUPPORTED, "%s: attribute '%s' has type %d (graphs, sparse tensors and type "
                          "protos are not supported)", where, a->name, type);
    }
    return FOIL_OK;
}

static foil_status read_value_info(FoilGraph *g, const Onnx__ValueInfoProto *vi, FoilValue *v)
{
    const Onnx__TypeProto *tp = vi->type;
    if (!tp) return FOIL_OK; /* untyped: shapes come from inference */
    if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE)
        return foil_error(FOIL_ERR_UNSUPPORTED, "%s: value '%s' is not a tensor (sequences, maps and optionals are not "
                          "supported)", g->path, v->name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    v->has_decl = 1;
    v->decl_dtype = (foil_dtype)tt->elem_type;
    if (foil_dtype_size(v->decl_dtype) == 0)
        return foil_error(FOIL_ERR_UNSUPPORTED, "%s: value '%s' has unsupported element type %d", g->path, v->name,
                          (int)tt->elem_type);
    if (!tt->shape) { /* rank unknown */
        v->has_decl = 2;
        v->decl_ndim = -1;
        return FOIL_OK;
    }
    if (tt->shape->n_dim > FOIL_MAX_DIMS)
        return foil_error(FOIL_ERR_UNSUPPORTED, "%s: value '%s' has rank %zu (max %d)", g->path, v->name,
                          tt->shape->n_dim, FOIL_MAX_DIMS);
    v->decl_ndim = (int)tt->shape->n_dim;
    /* A value declared twice (a name listed twice among the inputs): the
     * last declaration wins, and the first one's names must not leak. */
    for (int d = 0; d < FOIL_MAX_DIMS; d++) {
        free(v->decl_dim_param[d]);
        v->decl_dim_param[d] = NULL;
    }
    for (size_t d = 0; d < tt->shape->n_dim; d++) {
        const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[d];
        v->decl_shape[d] = -1;
        if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && dim->dim_value >= 0)
            v->decl_shape[d] = dim->dim_value;
        else if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM)
            v->decl_dim_param[d] = strdup(dim->dim_param ? dim->dim_param : "");
    }
    return FOIL_OK;
}

/* The default domain's opset; 0 when the model imports only other domains
 * (an XGBoost export is one ai.onnx.ml node): then no node may use it. */
static int default_opset(const Onnx__ModelProto *mp)
{
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const char *dom = mp->opset_import[i]->domain;
        if (!dom || !dom[0] || strcmp(dom, "ai.onnx") == 0) return (int)mp->opset_import[i]->version;
    }
    return mp->n_opset_import ? 0 : 1; /* IR 1-2 models may omit opset_import: opset 1 */
}

/* The ai.onnx.ml opset, or -1 when the model does not import it. */
static int ml_opset(const Onnx__ModelProto *mp)
{
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const char *dom = mp->opset_import[i]->domain;
        if (dom && strcmp(dom, FOIL_ML_DOMAIN) == 0) return (int)mp->opset_import[i]->version;
    }
    return -1;
}

static foil_status import_initializers(FoilGraph *g, const Onnx__GraphProto *gp)
{
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        const char *name = tp->name ? tp->name : "";
        if (!name[0]) return foil_error(FOIL_ERR_FORMAT, "%s: initializer %zu has no name", g->path, i);
        if (foilGraphFindValue(g, name) >= 0)
            return foil_error(FOIL_ERR_FORMAT, "%s: initializer '%s' is defined twice", g->path, name);
        int idx = foilGraphValue(g, name);
        if (idx < 0) return foil_error(FOIL_ERR_NOMEM, "out of memory");
        FoilValue *v = &g->values[idx];
        char what[512];
        snprintf(what, sizeof what, "%s: initializer '%s'", g->path, name);
        foil_status st = tensor_from_proto(tp, &v->t, what);
        if (st) return st;
        v->kind = v->t.dtype == FOIL_F32 ? FOIL_VALUE_PARAM : FOIL_VALUE_CONST;
        if (v->t.dtype == FOIL_F64)
            return foil_error(FOIL_ERR_UNSUPPORTED, "%s: float64 weights are not supported; export the model as float32",
                              what);
    }
    if (gp->n_sparse_initializer)
        return foil_error(FOIL_ERR_UNSUPPORTED, "%s: sparse initializers are not supported", g->path);
    return FOIL_OK;
}

static foil_status import_io(FoilGraph *g, const Onnx__GraphProto *gp)
{
    g->inputs = calloc(gp->n_input + 1, sizeof *g->inputs);
    g->outputs = calloc(gp->n_output + 1, sizeof *g->outputs);
    if (!g->inputs || !g->outputs) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < gp->n_input; i++) {
        const char *name = gp->input[i]->name ? gp->input[i]->name : "";
        int existing = foilGraphFindValue(g, name);
        if (existing >= 0 && g->values[existing].kind != FOIL_VALUE_ACTIVATION)
            continue; /* IR < 4 lists initializers among the inputs; the initializer is its default */
        int idx = foilGraphValue(g, name);
        if (idx < 0) return foil_error(FOIL_ERR_NOMEM, "out of memory");
        g->values[idx].kind = FOIL_VALUE_INPUT;
        foil_status st = read_value_info(g, gp->input[i], &g->values[idx]);
        if (st) return st;
        if (g->values[idx].has_decl != 1)
            return foil_error(FOIL_ERR_FORMAT, "%s: graph input '%s' has no tensor type and shape", g->path, name);
        g->inputs[g->n_inputs++] = idx;
    }
    for (size_t i = 0; i < gp->n_output; i++) {
        const char *name = gp->output[i]->name ? gp->output[i]->name : "";
        int idx = foilGraphValue(g, name);
        if (idx < 0) return foil_error(FOIL_ERR_NOMEM, "out of memory");
        const Onnx__TypeProto *tp = gp->output[i]->type;
        /* A sequence of maps (ZipMap's {label: probability}) is left
         * undeclared: foil's ZipMap passes the probabilities tensor on. */
        int non_tensor = tp && (tp->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE ||
                                tp->value_case == ONNX__TYPE_PROTO__VALUE_MAP_TYPE);
        if (g->values[idx].kind == FOIL_VALUE_ACTIVATION && !non_tensor) {
            foil_status st = read_value_info(g, gp->output[i], &g->values[idx]);
            if (st) return st;
        }
        g->outputs[g->n_outputs++] = idx;
    }
    if (g->n_outputs == 0) return foil_error(FOIL_ERR_FORMAT, "%s: the graph has no outputs", g->path);
    return FOIL_OK;
}

static foil_status import_nodes(FoilGraph *g, const Onnx__GraphProto *gp, int ml_version)
{
    for (size_t k = 0; k < gp->n_node; k++) {
        const Onnx__NodeProto *np = gp->node[k];
        const char *op_type = np->op_type ? np->op_type : "";
        const char *domain = np->domain ? np->domain : "";
        char where[512];
        snprintf(where, sizeof where, "%s: node %zu '%s' (%s)", g->path, k, np->name ? np->name : "", op_type);
        int ml = strcmp(domain, FOIL_ML_DOMAIN) == 0;
        if (domain[0] && strcmp(domain, "ai.onnx") != 0 && !ml)
            return foil_error(FOIL_ERR_UNSUPPORTED, "%s: operator domain '%s' is not supported (the default ONNX "
                              "domain and %s are)", where, domain, FOIL_ML_DOMAIN);
        if (ml && ml_version < 0)
            return foil_error(FOIL_ERR_FORMAT, "%s: the node is of domain %s, but the model imports no opset for it",
                              where, FOIL_ML_DOMAIN);
        if (ml && (ml_version < 1 || ml_version > FOIL_ONNX_ML_MAX_OPSET))
            return foil_error(FOIL_ERR_UNSUPPORTED, "%s: %s opset %d is not supported (foil reads 1 to %d)", where,
                              FOIL_ML_DOMAIN, ml_version, FOIL_ONNX_ML_MAX_OPSET);
        if (!ml && g->opset == 0)
            return foil_error(FOIL_ERR_FORMAT, "%s: the node is of the default ONNX domain, but the model imports no "
                              "opset for it", where);
        if (np->n_input > 4096 || np->n_output > 4096)
            return foil_error(FOIL_ERR_FORMAT, "%s: too many inputs or outputs", where);
        int in[4096], out[4096];
        for (size_t i = 0; i < np->n_input; i++) {
            const char *name = np->input[i] ? np->input[i] : "";
            in[i] = name[0] ? foilGraphValue(g, name) : -1; /* "" marks an omitted optional input */
        }
        for (size_t i = 0; i < np->n_output; i++) {
            const char *name = np->output[i] ? np->output[i] : "";
            out[i] = name[0] ? foilGraphValue(g, name) : -1;
        }
        FoilNode *n = foilGraphAddNode(g, np->name, op_type, (int)np->n_input, in, (int)np->n_output, out);
        if (!n) return foil_error(FOIL_ERR_NOMEM, "out of memory");
        if (ml) {
            free(n->domain);
            if (!(n->domain = strdup(FOIL_ML_DOMAIN))) return foil_error(FOIL_ERR_NOMEM, "out of memory");
            n->opset = ml_version;
        }
        n->attrs = calloc(np->n_attribute + 1, sizeof *n->attrs);
        if (!n->attrs) return foil_error(FOIL_ERR_NOMEM, "out of memory");
        for (size_t a = 0; a < np->n_attribute; a++) {
            foil_status st = convert_attr(np->attribute[a], &n->attrs[a], where);
            n->n_attrs = (int)a + 1;
            if (st) return st;
        }
    }
    return FOIL_OK;
}

/* Carry the intermediate value_info shapes: they let the planner check its
 * own shape inference against the exporter's. */
static foil_status import_value_info(FoilGraph *g, const Onnx__GraphProto *gp)
{
    for (size_t i = 0; i < gp->n_value_info; i++) {
        const char *name = gp->value_info[i]->name ? gp->value_info[i]->name : "";
        int idx = foilGraphFindValue(g, name);
        if (idx < 0 || g->values[idx].kind != FOIL_VALUE_ACTIVATION || g->values[idx].has_decl) continue;
        const Onnx__TypeProto *tp = gp->value_info[i]->type;
        if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) continue;
        foil_status st = read_value_info(g, gp->value_info[i], &g->values[idx]);
        if (st) return st;
    }
    return FOIL_OK;
}

foil_status foilOnnxLoadBuffer(const void *data, size_t len, const char *path, FoilGraph **out)
{
    *out = NULL;
    if (len == 0) return foil_error(FOIL_ERR_FORMAT, "%s: the file is empty", path);
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, data);
    if (!mp) {
        char where[512];
        if (foilPbWhere(&onnx__model_proto__descriptor, data, len, where, sizeof where))
            return foil_error(FOIL_ERR_FORMAT, "%s: not a valid ONNX model (truncated or corrupt): %s", path, where);
        return foil_error(FOIL_ERR_FORMAT, "%s: not a valid ONNX model: protobuf-c rejected it although every field "
                          "is well framed (a value it does not accept)", path);
    }
    FoilGraph *g = foilGraphNew(path);
    if (!g) {
        onnx__model_proto__free_unpacked(mp, NULL);
        return foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    const Onnx__GraphProto *gp = mp->graph;
    foil_status st = FOIL_OK;
    g->ir_version = mp->has_ir_version ? mp->ir_version : 0;
    g->opset = default_opset(mp);
    if (!gp) st = foil_error(FOIL_ERR_FORMAT, "%s: the model has no graph (is this an ONNX file?)", path);
    else if (g->opset != 0 && (g->opset < FOIL_ONNX_MIN_OPSET || g->opset > FOIL_ONNX_MAX_OPSET))
        st = foil_error(FOIL_ERR_UNSUPPORTED, "%s: ONNX opset %d is not supported (foil reads opsets %d to %d)", path,
                        g->opset, FOIL_ONNX_MIN_OPSET, FOIL_ONNX_MAX_OPSET);
    else if (gp->n_node == 0) st = foil_error(FOIL_ERR_FORMAT, "%s: the graph has no nodes", path);
    if (!st) {
        g->name = strdup(gp->name ? gp->name : "foil");
        st = import_initializers(g, gp);
    }
    for (size_t i = 0; !st && i < mp->n_metadata_props; i++) {
        const Onnx__StringStringEntryProto *e = mp->metadata_props[i];
        if (e && e->key) st = foilGraphSetMeta(g, e->key, e->value ? e->value : "");
    }
    if (!st) st = import_io(g, gp);
    if (!st) st = import_nodes(g, gp, ml_opset(mp));
    if (!st) st = import_value_info(g, gp);
    onnx__model_proto__free_unpacked(mp, NULL);
    if (!st) st = foilGraphFinalize(g);
    if (st) {
        foilGraphFree(g);
        return st;
    }
    *out = g;
    return FOIL_OK;
}

foil_status foilOnnxLoad(const char *path, FoilGraph **out)
{
    *out = NULL;
    uint8_t *buf;
    size_t len;
    foil_status st = foilReadFile(path, FOIL_ONNX_MAX_BYTES, &buf, &len);
    if (st) return st;
    st = foilOnnxLoadBuffer(buf, len, path, out);
    free(buf);
    return st;
}

/* ---------------------------------------------------------------------------
 * export
 *
 * The protobuf structs below point into the graph's own memory; only the
 * arrays of pointers are allocated here, and freed after packing.
 */

typedef struct export_arena {
    void **ptrs;
    size_t n, cap;
    int failed;
} export_arena;

static void *arena_calloc(export_arena *a, size_t count, size_t size)
{
    if (a->failed) return NULL;
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 256;
        void **np = realloc(a->ptrs, cap * sizeof *np);
        if (!np) { a->failed = 1; return NULL; }
        a->ptrs = np;
        a->cap = cap;
    }
    void *p = calloc(count ? count : 1, size);
    if (!p) { a->failed = 1; return NULL; }
    a->ptrs[a->n++] = p;
    return p;
}

static void arena_free(export_arena *a)
{
    for (size_t i = 0; i < a->n; i++) free(a->ptrs[i]);
    free(a->ptrs);
}

static Onnx__TensorProto *tensor_to_proto(export_arena *ar, const foil_tensor *t, char *name)
{
    Onnx__TensorProto *tp = arena_calloc(ar, 1, sizeof *tp);
    if (!tp) return NULL;
    onnx__tensor_proto__init(tp);
    tp->name = name;
    tp->n_dims = (size_t)t->ndim;
    tp->dims = (int64_t *)t->shape;
    tp->has_data_type = 1;
    tp->data_type = (int32_t)t->dtype;
    tp->has_raw_data = 1;
    tp->raw_data.len = foil_tensor_nbytes(t);
    tp->raw_data.data = t->data;
    return tp;
}

static Onnx__ValueInfoProto *value_info_to_proto(export_arena *ar, const FoilValue *v)
{
    Onnx__ValueInfoProto *vi = arena_calloc(ar, 1, sizeof *vi);
    Onnx__TypeProto *tp = arena_calloc(ar, 1, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = arena_calloc(ar, 1, sizeof *tt);
    if (!vi || !tp || !tt) return NULL;
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    vi->name = v->name;
    vi->type = tp;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    tt->has_elem_type = 1;
    tt->elem_type = (int32_t)(v->has_decl ? v->decl_dtype : v->t.dtype ? v->t.dtype : FOIL_F32);
    int ndim = v->has_decl == 1 ? v->decl_ndim : -1;
    if (ndim < 0) return vi; /* rank unknown: no shape */
    Onnx__TensorShapeProto *sp = arena_calloc(ar, 1, sizeof *sp);
    Onnx__TensorShapeProto__Dimension **dims = arena_calloc(ar, (size_t)ndim, sizeof *dims);
    if (!sp || !dims) return NULL;
    onnx__tensor_shape_proto__init(sp);
    sp->n_dim = (size_t)ndim;
    sp->dim = dims;
    tt->shape = sp;
    for (int d = 0; d < ndim; d++) {
        Onnx__TensorShapeProto__Dimension *dim = arena_calloc(ar, 1, sizeof *dim);
        if (!dim) return NULL;
        onnx__tensor_shape_proto__dimension__init(dim);
        if (v->decl_shape[d] >= 0) {
            dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dim->dim_value = v->decl_shape[d];
        } else {
            dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dim->dim_param = v->decl_dim_param[d] ? v->decl_dim_param[d] : (char *)"N";
        }
        dims[d] = dim;
    }
    return vi;
}

static Onnx__AttributeProto *attr_to_proto(export_arena *ar, const FoilAttr *a)
{
    Onnx__AttributeProto *ap = arena_calloc(ar, 1, sizeof *ap);
    if (!ap) return NULL;
    onnx__attribute_proto__init(ap);
    ap->name = a->name;
    ap->has_type = 1;
    ap->type = (Onnx__AttributeProto__AttributeType)a->type;
    switch (a->type) {
    case FOIL_ATTR_FLOAT: ap->has_f = 1; ap->f = a->f; break;
    case FOIL_ATTR_INT: ap->has_i = 1; ap->i = a->i; break;
    case FOIL_ATTR_STRING:
        ap->has_s = 1;
        ap->s.data = (uint8_t *)a->s;
        ap->s.len = strlen(a->s);
        break;
    case FOIL_ATTR_INTS: ap->n_ints = (size_t)a->n; ap->ints = a->ints; break;
    case FOIL_ATTR_FLOATS: ap->n_floats = (size_t)a->n; ap->floats = a->floats; break;
    case FOIL_ATTR_STRINGS:
        ap->n_strings = (size_t)a->n;
        ap->strings = arena_calloc(ar, (size_t)a->n, sizeof *ap->strings);
        if (!ap->strings) return NULL;
        for (int k = 0; k < a->n; k++) {
            ap->strings[k].data = (uint8_t *)a->strings[k];
            ap->strings[k].len = strlen(a->strings[k]);
        }
        break;
    case FOIL_ATTR_TENSOR: ap->t = tensor_to_proto(ar, a->t, NULL); break;
    }
    return ap;
}

static char **value_names(export_arena *ar, const FoilGraph *g, const int *idx, int n)
{
    char **names = arena_calloc(ar, (size_t)n, sizeof *names);
    if (!names) return NULL;
    for (int i = 0; i < n; i++) names[i] = idx[i] >= 0 ? g->values[idx[i]].name : (char *)"";
    return names;
}

static foil_status build_graph_proto(export_arena *ar, const FoilGraph *g, Onnx__GraphProto *gp)
{
    onnx__graph_proto__init(gp);
    gp->name = g->name ? g->name : (char *)"foil";
    gp->node = arena_calloc(ar, (size_t)g->n_nodes, sizeof *gp->node);
    gp->initializer = arena_calloc(ar, (size_t)g->n_values, sizeof *gp->initializer);
    gp->input = arena_calloc(ar, (size_t)g->n_inputs, sizeof *gp->input);
    gp->output = arena_calloc(ar, (size_t)g->n_outputs, sizeof *gp->output);
    for (int k = 0; k < g->n_nodes && !ar->failed; k++) {
        const FoilNode *n = &g->nodes[k];
        Onnx__NodeProto *np = arena_calloc(ar, 1, sizeof *np);
        if (!np) break;
        onnx__node_proto__init(np);
        np->name = n->name;
        np->op_type = n->op_type;
        if (n->domain && n->domain[0]) np->domain = n->domain;
        np->n_input = (size_t)n->n_in;
        np->input = value_names(ar, g, n->in, n->n_in);
        np->n_output = (size_t)n->n_out;
        np->output = value_names(ar, g, n->out, n->n_out);
        np->n_attribute = (size_t)n->n_attrs;
        np->attribute = arena_calloc(ar, (size_t)n->n_attrs, sizeof *np->attribute);
        for (int a = 0; a < n->n_attrs && np->attribute; a++) np->attribute[a] = attr_to_proto(ar, &n->attrs[a]);
        gp->node[gp->n_node++] = np;
    }
    for (int i = 0; i < g->n_values && !ar->failed; i++) {
        const FoilValue *v = &g->values[i];
        if (v->kind == FOIL_VALUE_PARAM || v->kind == FOIL_VALUE_CONST)
            gp->initializer[gp->n_initializer++] = tensor_to_proto(ar, &v->t, v->name);
    }
    for (int i = 0; i < g->n_inputs && !ar->failed; i++)
        gp->input[gp->n_input++] = value_info_to_proto(ar, &g->values[g->inputs[i]]);
    for (int i = 0; i < g->n_outputs && !ar->failed; i++)
        gp->output[gp->n_output++] = value_info_to_proto(ar, &g->values[g->outputs[i]]);
    return ar->failed ? foil_error(FOIL_ERR_NOMEM, "out of memory while exporting") : FOIL_OK;
}

foil_status foilOnnxSaveBuffer(const FoilGraph *g, uint8_t **data, size_t *len)
{
    export_arena ar = {0};
    Onnx__ModelProto mp;
    Onnx__GraphProto gp;
    Onnx__OperatorSetIdProto opset, ml;
    Onnx__OperatorSetIdProto *opsets[2];
    size_t n_opsets = 0;
    onnx__model_proto__init(&mp);
    onnx__operator_set_id_proto__init(&opset);
    onnx__operator_set_id_proto__init(&ml);
    opset.domain = (char *)"";
    opset.has_version = 1;
    /* The model's own opset: re-versioning would change op semantics. */
    opset.version = g->opset;
    if (g->opset) opsets[n_opsets++] = &opset; /* 0: the model uses only other domains */
    ml.domain = (char *)FOIL_ML_DOMAIN;
    ml.has_version = 1;
    /* A node read from ONNX carries its ai.onnx.ml opset; one made in code
     * carries the default domain's, and is taken to be of the newest. */
    for (int k = 0; k < g->n_nodes; k++) {
        const FoilNode *n = &g->nodes[k];
        if (!n->domain || strcmp(n->domain, FOIL_ML_DOMAIN) != 0) continue;
        int v = n->opset >= 1 && n->opset <= FOIL_ONNX_ML_MAX_OPSET ? n->opset : FOIL_ONNX_ML_MAX_OPSET;
        if (v > ml.version) ml.version = v;
    }
    if (ml.version) opsets[n_opsets++] = &ml;
    mp.has_ir_version = 1;
    mp.ir_version = 8; /* IR 8 (ONNX 1.12): initializers need not be listed as inputs */
    mp.producer_name = (char *)"foil";
    mp.producer_version = (char *)"0.1.0";
    mp.n_opset_import = n_opsets;
    mp.opset_import = opsets;
    mp.graph = &gp;
    *data = NULL;
    *len = 0;
    Onnx__StringStringEntryProto *meta = g->n_meta ? calloc((size_t)g->n_meta, sizeof *meta) : NULL;
    Onnx__StringStringEntryProto **meta_list = g->n_meta ? calloc((size_t)g->n_meta, sizeof *meta_list) : NULL;
    if (g->n_meta && (!meta || !meta_list)) {
        free(meta), free(meta_list);
        return foil_error(FOIL_ERR_NOMEM, "out of memory while exporting");
    }
    for (int i = 0; i < g->n_meta; i++) {
        onnx__string_string_entry_proto__init(&meta[i]);
        meta[i].key = g->meta_keys[i], meta[i].value = g->meta_values[i];
        meta_list[i] = &meta[i];
    }
    mp.n_metadata_props = (size_t)g->n_meta;
    mp.metadata_props = meta_list;
    foil_status st = build_graph_proto(&ar, g, &gp);
    if (!st) {
        size_t n = onnx__model_proto__get_packed_size(&mp);
        uint8_t *buf = malloc(n ? n : 1);
        if (!buf) st = foil_error(FOIL_ERR_NOMEM, "out of memory while exporting");
        else {
            onnx__model_proto__pack(&mp, buf);
            *data = buf;
            *len = n;
        }
    }
    arena_free(&ar);
    free(meta), free(meta_list);
    return st;
}

foil_status foilOnnxSave(const FoilGraph *g, const char *path)
{
    uint8_t *buf;
    size_t len;
    foil_status st = foilOnnxSaveBuffer(g, &buf, &len);
    if (st) return foil_error_prefix(st, "%s", path);
    st = foilWriteFileAtomic(path, buf, len);
    free(buf);
    return st;
}
