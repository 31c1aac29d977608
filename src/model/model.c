/*
 * model/model.c - the model interface: every call that evaluates a model
 * comes through here, so the checks every model needs (a float32 batch, a
 * capability the call requires) and the query and gradient counters live in
 * one place, whatever implements the model (graph_model.c, black_box.c,
 * remote.c, a program's own foil_model_ops).
 */
#include <stdlib.h>
#include <string.h>

#include "foil/loss.h"
#include "model/model_internal.h"

foil_status foil_model_create(const foil_model_ops *ops, void *state, const foil_model_desc *desc, foil_model **out)
{
    *out = NULL;
    const char *name = desc && desc->name ? desc->name : "(unnamed model)";
    foil_status st = FOIL_OK;
    if (!ops || !ops->predict || !ops->num_classes || !desc)
        st = foil_error(FOIL_ERR_ARG, "%s: a model needs predict and num_classes operations and a description", name);
    else if ((desc->capabilities & FOIL_MODEL_GRADIENTS) && !ops->input_grad)
        st = foil_error(FOIL_ERR_ARG, "%s: a model with gradients needs an input_grad operation", name);
    else if (desc->input_rank < 0 || desc->input_rank > FOIL_MAX_DIMS || (desc->input_rank && !desc->input_shape))
        st = foil_error(FOIL_ERR_ARG, "%s: declared input rank %d is invalid", name, desc->input_rank);
    foil_model *m = st ? NULL : calloc(1, sizeof *m);
    if (m) m->name = strdup(name);
    if (!st && (!m || !m->name)) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    if (st) {
        if (m) free(m->name);
        free(m);
        if (ops && ops->destroy) ops->destroy(state);
        return st;
    }
    m->ops = ops;
    m->state = state;
    m->caps = desc->capabilities;
    m->input_rank = desc->input_rank;
    if (m->input_rank) memcpy(m->input_shape, desc->input_shape, (size_t)m->input_rank * sizeof *m->input_shape);
    *out = m;
    return FOIL_OK;
}

void foil_model_free(foil_model *m)
{
    if (!m) return;
    if (m->ops->destroy) m->ops->destroy(m->state);
    free(m->name);
    free(m->why_no_gradients);
    free(m);
}

foil_status foilModelSetWhyNoGradients(foil_model *m, const char *why)
{
    free(m->why_no_gradients);
    m->why_no_gradients = why ? strdup(why) : NULL;
    return why && !m->why_no_gradients ? foil_error(FOIL_ERR_NOMEM, "out of memory") : FOIL_OK;
}

const char *foil_model_why_no_gradients(const foil_model *m) { return m ? m->why_no_gradients : NULL; }

void *foil_model_state(const foil_model *m) { return m->state; }
unsigned foil_model_capabilities(const foil_model *m) { return m->caps; }
const char *foil_model_kind(const foil_model *m) { return m->ops->kind ? m->ops->kind : "custom"; }
const char *foil_model_name(const foil_model *m) { return m->name; }
const char *foil_model_path(const foil_model *m) { return m->name; }
int foil_model_input_rank(const foil_model *m) { return m->input_rank; }
const int64_t *foil_model_input_shape(const foil_model *m) { return m->input_shape; }
int64_t foil_model_queries(const foil_model *m) { return m->queries; }
int64_t foil_model_gradients(const foil_model *m) { return m->grads; }

void foil_model_reset_counters(foil_model *m)
{
    m->queries = 0;
    m->grads = 0;
}

void foil_model_set_max_batch(foil_model *m, int64_t max_batch)
{
    if (m->ops->set_max_batch) m->ops->set_max_batch(m->state, max_batch > 0 ? max_batch : 1);
}

foil_status foil_model_num_classes(foil_model *m, int64_t *classes) { return m->ops->num_classes(m->state, classes); }

foil_status foilWrapperNumClasses(void *state, int64_t *classes)
{
    return foil_model_num_classes(*(foil_model **)state, classes);
}

void foilWrapperDestroy(void *state)
{
    if (!state) return;
    foil_model_free(*(foil_model **)state);
    free(state);
}

void foilWrapperSetMaxBatch(void *state, int64_t max_batch)
{
    foil_model_set_max_batch(*(foil_model **)state, max_batch);
}

foil_status foil_model_ensure_output(const char *who, foil_tensor *t, int ndim, const int64_t *shape, const char *what)
{
    if (!t->data) return foil_tensor_alloc(t, FOIL_F32, ndim, shape);
    foil_tensor want = {0};
    foil_status st = foil_tensor_set_shape(&want, FOIL_F32, ndim, shape);
    if (st) return st;
    if (t->dtype != FOIL_F32 || !foil_tensor_same_shape(t, &want))
        return foil_error(FOIL_ERR_ARG, "%s: %s tensor has the wrong shape", who, what);
    return FOIL_OK;
}

static foil_status check_batch(const foil_model *m, const foil_tensor *x)
{
    if (x->dtype != FOIL_F32)
        return foil_error(FOIL_ERR_ARG, "%s: input must be float32, got %s", m->name, foil_dtype_name(x->dtype));
    if (x->ndim < 1 || x->shape[0] < 1)
        return foil_error(FOIL_ERR_ARG, "%s: input must have a batch dimension with at least one example", m->name);
    return FOIL_OK;
}

/* The view of x its examples reach the model in: their own shape when it
 * fits the declared input (or none is declared), else the declared
 * per-example shape when that is static and holds as many values. One rule
 * for every model, applied here once per call. */
static foil_status feed_view(const foil_model *m, const foil_tensor *x, foil_tensor *view, int *reshaped)
{
    foil_status st = check_batch(m, x);
    if (st) return st;
    *view = *x;
    view->owns_data = 0;
    *reshaped = 0;
    const int rank = m->input_rank;
    const int64_t *decl = m->input_shape;
    if (!rank) return FOIL_OK;
    int fits = rank == x->ndim, fixed = 1;
    int64_t per_x = x->numel / x->shape[0], per_decl = 1;
    for (int d = 1; d < rank; d++) {
        fixed &= decl[d] >= 0;
        per_decl *= decl[d] >= 0 ? decl[d] : 1;
        if (fits && decl[d] >= 0 && decl[d] != x->shape[d]) fits = 0;
    }
    if (fits) return FOIL_OK;
    if (fixed && per_decl == per_x) {
        int64_t shape[FOIL_MAX_DIMS];
        memcpy(shape, decl, (size_t)rank * sizeof *shape);
        shape[0] = x->shape[0];
        *reshaped = 1;
        return foil_tensor_set_shape(view, FOIL_F32, rank, shape);
    }
    foil_tensor ex = {0}, declared = {0};
    ex.ndim = x->ndim - 1;
    memcpy(ex.shape, x->shape + 1, (size_t)ex.ndim * sizeof *ex.shape);
    declared.ndim = rank;
    memcpy(declared.shape, decl, (size_t)rank * sizeof *decl);
    char a[128], b[128];
    if (!fixed)
        return foil_error(FOIL_ERR_SHAPE, "%s: examples of shape %s do not fit the model's declared input %s (-1: any "
                          "size)", m->name, foil_shape_str(&ex, a, sizeof a), foil_shape_str(&declared, b, sizeof b));
    return foil_error(FOIL_ERR_SHAPE, "%s: examples of shape %s (%lld values each) do not fit the model's declared "
                      "input %s (%lld values per example)", m->name, foil_shape_str(&ex, a, sizeof a),
                      (long long)per_x, foil_shape_str(&declared, b, sizeof b), (long long)per_decl);
}

foil_status foil_model_check_input(const foil_model *m, const foil_tensor *x, int *reshaped)
{
    foil_tensor view;
    int r = 0;
    foil_status st = feed_view(m, x, &view, &r);
    if (reshaped) *reshaped = st ? 0 : r;
    return st;
}

foil_status foil_model_predict_seeded(foil_model *m, const foil_tensor *x, const uint64_t *seeds, foil_tensor *scores)
{
    foil_tensor view;
    int reshaped;
    foil_status st = feed_view(m, x, &view, &reshaped);
    if (!st) st = m->ops->predict(m->state, &view, seeds, scores);
    if (!st) m->queries += x->shape[0];
    return st;
}

foil_status foil_model_predict(foil_model *m, const foil_tensor *x, foil_tensor *scores)
{
    return foil_model_predict_seeded(m, x, NULL, scores);
}

/* fn's values on scores a model without gradients returned: dvalue is
 * scratch, since fn always writes it. */
static foil_status values_of_scores(const foil_model *m, foil_logit_fn fn, void *ctx, const foil_tensor *scores,
                                    float *value)
{
    const int64_t n = scores->shape[0], classes = scores->shape[1];
    float *dvalue = malloc((size_t)(n * classes) * sizeof *dvalue);
    if (!dvalue) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    foil_status st = fn(ctx, 0, n, classes, foil_f32(scores), value, dvalue);
    free(dvalue);
    return st ? foil_error_prefix(st, "%s", m->name) : FOIL_OK;
}

static foil_status no_gradients(const foil_model *m)
{
    if (m->why_no_gradients)
        return foil_error(FOIL_ERR_CAPABILITY, "%s: the model is not differentiable: %s; use an attack that only "
                          "queries it (score-based: square, simba-pixel, simba-dct, nes; decision-based: hsj)", m->name,
                          m->why_no_gradients);
    return foil_error(FOIL_ERR_CAPABILITY, "%s: this %s model gives no input gradients; use an attack that only "
                      "queries it (score-based: square, simba-pixel, simba-dct, nes; decision-based: hsj)", m->name,
                      foil_model_kind(m));
}

foil_status foil_model_input_grad_seeded(foil_model *m, const foil_tensor *x, const uint64_t *seeds, foil_logit_fn fn,
                                         void *ctx, float *value, foil_tensor *scores, foil_tensor *grad)
{
    foil_tensor view;
    int reshaped;
    foil_status st = feed_view(m, x, &view, &reshaped);
    if (st) return st;
    if ((value || grad) && !fn) return foil_error(FOIL_ERR_ARG, "%s: a gradient needs a function of the logits", m->name);
    const int64_t n = x->shape[0];
    if (grad) {
        if (!(m->caps & FOIL_MODEL_GRADIENTS)) return no_gradients(m);
        if ((st = foil_model_ensure_output(m->name, grad, x->ndim, x->shape, "gradient"))) return st;
    }
    if (grad || (m->ops->input_grad && (m->caps & FOIL_MODEL_GRADIENTS))) {
        st = m->ops->input_grad(m->state, &view, seeds, fn, ctx, value, scores, grad);
    } else {
        /* Values only, from what a query returns. */
        foil_tensor own = {0}, *s = scores ? scores : &own;
        st = m->ops->predict(m->state, &view, seeds, s);
        if (!st && value) st = values_of_scores(m, fn, ctx, s, value);
        foil_tensor_free(&own);
    }
    if (st) return st;
    m->queries += n;
    if (grad) m->grads += n;
    return FOIL_OK;
}

foil_status foil_model_input_grad(foil_model *m, const foil_tensor *x, foil_logit_fn fn, void *ctx, float *value,
                                  foil_tensor *scores, foil_tensor *grad)
{
    return foil_model_input_grad_seeded(m, x, NULL, fn, ctx, value, scores, grad);
}

/* Cross-entropy as a foil_logit_fn: ctx is the caller's label array. */
static foil_status xent_fn(void *ctx, int64_t first, int64_t count, int64_t classes, const float *logits,
                           float *value, float *dvalue)
{
    const int64_t *labels = (const int64_t *)ctx + first;
    return foil_softmax_xent(logits, labels, count, classes, value, dvalue);
}

foil_status foil_model_loss_input_grad(foil_model *m, const foil_tensor *x, const int64_t *labels, float *loss,
                                       foil_tensor *logits, foil_tensor *grad)
{
    if ((grad || loss) && !labels) return foil_error(FOIL_ERR_ARG, "%s: labels are required for the loss", m->name);
    return foil_model_input_grad(m, x, labels ? xent_fn : NULL, (void *)labels, loss, logits, grad);
}

foil_status foil_model_loss_param_grad(foil_model *m, const foil_tensor *x, const int64_t *labels, float *loss,
                                       float *grad)
{
    FoilGraphModel *gm;
    foil_tensor view;
    int reshaped;
    int64_t count;
    foil_status st = foilGraphModelRequire(m, "weight gradients", &gm);
    if (!st && (!labels || !grad)) st = foil_error(FOIL_ERR_ARG, "%s: weight gradients need labels and an output", m->name);
    if (!st) st = feed_view(m, x, &view, &reshaped);
    if (!st) st = foil_model_param_count(m, &count);
    if (st) return st;
    memset(grad, 0, (size_t)count * sizeof *grad);
    if ((st = foilGraphModelParamGrad(gm, &view, xent_fn, (void *)labels, loss, grad))) return st;
    m->queries += x->shape[0];
    return FOIL_OK;
}
