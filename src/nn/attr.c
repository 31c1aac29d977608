/*
 * nn/attr.c - attribute lookup and error helpers shared by all ops.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nn/op.h"

const FoilAttr *foilAttrGet(const FoilNode *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}

int64_t foilAttrInt(const FoilNode *n, const char *name, int64_t def)
{
    const FoilAttr *a = foilAttrGet(n, name);
    return a && a->type == FOIL_ATTR_INT ? a->i : def;
}

float foilAttrFloat(const FoilNode *n, const char *name, float def)
{
    const FoilAttr *a = foilAttrGet(n, name);
    if (!a) return def;
    if (a->type == FOIL_ATTR_FLOAT) return a->f;
    if (a->type == FOIL_ATTR_INT) return (float)a->i;
    return def;
}

const char *foilAttrString(const FoilNode *n, const char *name, const char *def)
{
    const FoilAttr *a = foilAttrGet(n, name);
    return a && a->type == FOIL_ATTR_STRING ? a->s : def;
}

int foilAttrInts(const FoilNode *n, const char *name, const int64_t **vals)
{
    const FoilAttr *a = foilAttrGet(n, name);
    if (!a || a->type != FOIL_ATTR_INTS) {
        *vals = NULL;
        return -1;
    }
    *vals = a->ints;
    return a->n;
}

const foil_tensor *foilAttrTensor(const FoilNode *n, const char *name)
{
    const FoilAttr *a = foilAttrGet(n, name);
    return a && a->type == FOIL_ATTR_TENSOR ? a->t : NULL;
}

foil_status foilNodeError(const FoilOpCtx *c, foil_status code, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const FoilNode *n = c->node;
    return foil_error(code, "%s: node '%s' (%s): %s", c->model ? c->model : "model",
                      n && n->name ? n->name : "", n && n->op_type ? n->op_type : "?", msg);
}

foil_status foilNodeInitError(const FoilNode *n, foil_status code, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return foil_error(code, "node '%s' (%s): %s", n->name ? n->name : "", n->op_type ? n->op_type : "?", msg);
}

int foilNormAxis(int64_t axis, int rank)
{
    if (axis < 0) axis += rank;
    return axis >= 0 && axis < rank ? (int)axis : -1;
}

void foilGradClearFresh(FoilOpCtx *c, int i)
{
    if (i >= c->n_in || !foilGradFresh(c, i) || !c->d_in[i]) return;
    memset(c->d_in[i]->data, 0, foil_tensor_nbytes(c->d_in[i]));
    c->d_in_fresh &= ~(1u << i);
}
