/*
 * nn/attr.c - attribute lookup and error helpers shared by all ops.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nn/op.h"

const foil_attr *foil_attr_get(const foil_node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}

int64_t foil_attr_int(const foil_node *n, const char *name, int64_t def)
{
    const foil_attr *a = foil_attr_get(n, name);
    return a && a->type == FOIL_ATTR_INT ? a->i : def;
}

float foil_attr_float(const foil_node *n, const char *name, float def)
{
    const foil_attr *a = foil_attr_get(n, name);
    if (!a) return def;
    if (a->type == FOIL_ATTR_FLOAT) return a->f;
    if (a->type == FOIL_ATTR_INT) return (float)a->i;
    return def;
}

const char *foil_attr_string(const foil_node *n, const char *name, const char *def)
{
    const foil_attr *a = foil_attr_get(n, name);
    return a && a->type == FOIL_ATTR_STRING ? a->s : def;
}

int foil_attr_ints(const foil_node *n, const char *name, const int64_t **vals)
{
    const foil_attr *a = foil_attr_get(n, name);
    if (!a || a->type != FOIL_ATTR_INTS) {
        *vals = NULL;
        return -1;
    }
    *vals = a->ints;
    return a->n;
}

const foil_tensor *foil_attr_tensor(const foil_node *n, const char *name)
{
    const foil_attr *a = foil_attr_get(n, name);
    return a && a->type == FOIL_ATTR_TENSOR ? a->t : NULL;
}

foil_status foil_node_error(const foil_op_ctx *c, foil_status code, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const foil_node *n = c->node;
    return foil_error(code, "%s: node '%s' (%s): %s", c->model ? c->model : "model",
                      n && n->name ? n->name : "", n && n->op_type ? n->op_type : "?", msg);
}

foil_status foil_node_init_error(const foil_node *n, foil_status code, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return foil_error(code, "node '%s' (%s): %s", n->name ? n->name : "", n->op_type ? n->op_type : "?", msg);
}

int foil_norm_axis(int64_t axis, int rank)
{
    if (axis < 0) axis += rank;
    return axis >= 0 && axis < rank ? (int)axis : -1;
}

void foil_grad_clear_fresh(foil_op_ctx *c, int i)
{
    if (i >= c->n_in || !foil_grad_fresh(c, i) || !c->d_in[i]) return;
    memset(c->d_in[i]->data, 0, foil_tensor_nbytes(c->d_in[i]));
    c->d_in_fresh &= ~(1u << i);
}
