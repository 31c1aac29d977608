/*
 * defenses/defend.c - `foil defend`'s core: write preprocessing defenses
 * into a model's ONNX graph, in front of its input, so that a deployment
 * runs them with the model (foil/defense.h, foil_model_prepend_preprocessors).
 *
 * ONNX expresses two of foil's preprocessors exactly:
 *   bit-depth  Sub(lo) Div(range) Clip(0, 1) Mul(levels) Round Div(levels)
 *              Mul(range) Add(lo): squeeze.c's arithmetic, step for step;
 *   blur       Pad(reflect, r) and a depthwise Conv with the outer product of
 *              the 1-D Gaussian (blur.c runs it separably, so the two agree
 *              to float rounding).
 * Median smoothing has no ONNX operator, and random noise would make the
 * exported model draw from ONNX's RandomNormalLike, which runtimes seed as
 * they please; both stay outside the graph, as does a program's own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "defenses/preprocessor_internal.h"
#include "model/model_internal.h"
#include "nn/builder.h"

static int expressible(const foil_preprocessor *p)
{
    return p->kind == FOIL_PREPROCESSOR_BIT_DEPTH || p->kind == FOIL_PREPROCESSOR_BLUR;
}

static int scalar(FoilBuilder *b, const char *name, float v)
{
    return foilBuilderConstant(b, name, 0, NULL, &v); /* rank 0: Clip's min and max must be scalars */
}

/* A node named stage.op with one new output value stage.op.out. */
static int op1(FoilBuilder *b, const char *stage, const char *op, int n_in, const int *in, int n_attrs,
               const FoilBattr *attrs)
{
    char name[96], out[104];
    snprintf(name, sizeof name, "%s.%s", stage, op);
    snprintf(out, sizeof out, "%s.out", name);
    const char *outs[1] = {out};
    int y = -1;
    foilBuilderNode(b, op, name, n_in, in, 1, outs, &y, n_attrs, attrs);
    return y;
}

static int write_bit_depth(FoilBuilder *b, const char *stage, const FoilBitDepth *q, int x)
{
    char n[5][96];
    const char *what[5] = {"lo", "range", "levels", "zero", "one"};
    for (int k = 0; k < 5; k++) snprintf(n[k], sizeof n[k], "%s.%s", stage, what[k]);
    int lo = scalar(b, n[0], q->lo), range = scalar(b, n[1], q->hi - q->lo), levels = scalar(b, n[2], q->levels);
    int zero = scalar(b, n[3], 0.0f), one = scalar(b, n[4], 1.0f);
    int y = op1(b, stage, "Sub", FOIL_B_IN(x, lo), FOIL_B_NO_ATTRS);
    y = op1(b, stage, "Div", FOIL_B_IN(y, range), FOIL_B_NO_ATTRS);
    if (b->g->opset >= 11) y = op1(b, stage, "Clip", FOIL_B_IN(y, zero, one), FOIL_B_NO_ATTRS);
    else y = op1(b, stage, "Clip", FOIL_B_IN(y), FOIL_B_ATTRS(FOIL_BATTR_FLOAT("min", 0), FOIL_BATTR_FLOAT("max", 1)));
    y = op1(b, stage, "Mul", FOIL_B_IN(y, levels), FOIL_B_NO_ATTRS);
    y = op1(b, stage, "Round", FOIL_B_IN(y), FOIL_B_NO_ATTRS);
    char dl[104], mr[104];
    snprintf(dl, sizeof dl, "%s.unlevel", stage);
    snprintf(mr, sizeof mr, "%s.rescale", stage);
    y = op1(b, dl, "Div", FOIL_B_IN(y, levels), FOIL_B_NO_ATTRS);
    y = op1(b, mr, "Mul", FOIL_B_IN(y, range), FOIL_B_NO_ATTRS);
    return op1(b, stage, "Add", FOIL_B_IN(y, lo), FOIL_B_NO_ATTRS);
}

static int write_blur(FoilBuilder *b, const char *stage, const FoilBlur *f, int x)
{
    const int64_t k = 2 * f->r + 1, pads[8] = {0, 0, f->r, f->r, 0, 0, f->r, f->r};
    float *w = malloc((size_t)(f->c * k * k) * sizeof *w);
    if (!w) {
        foilBuilderFail(b, foil_error(FOIL_ERR_NOMEM, "out of memory"));
        return -1;
    }
    for (int64_t ch = 0; ch < f->c; ch++)
        for (int64_t i = 0; i < k; i++)
            for (int64_t j = 0; j < k; j++) w[(ch * k + i) * k + j] = f->g[i] * f->g[j];
    char wn[96], pn[96];
    snprintf(wn, sizeof wn, "%s.kernel", stage);
    snprintf(pn, sizeof pn, "%s.pads", stage);
    int wv = foilBuilderConstant(b, wn, 4, (const int64_t[]){f->c, 1, k, k}, w);
    free(w);
    int y;
    if (b->g->opset >= 11) {
        int pv = foilBuilderConstI64(b, pn, 1, (const int64_t[]){8}, pads);
        y = op1(b, stage, "Pad", FOIL_B_IN(x, pv), FOIL_B_ATTRS(FOIL_BATTR_STRING("mode", "reflect")));
    }
    else
        y = op1(b, stage, "Pad", FOIL_B_IN(x),
                FOIL_B_ATTRS(FOIL_BATTR_STRING("mode", "reflect"), FOIL_BATTR_INTS_N("pads", 8, pads)));
    return op1(b, stage, "Conv", FOIL_B_IN(y, wv),
               FOIL_B_ATTRS(FOIL_BATTR_INT("group", f->c), FOIL_BATTR_INTS("kernel_shape", k, k)));
}

foil_status foil_model_prepend_preprocessors(foil_model *m, const foil_preprocessor *pre, int n, int *first)
{
    FoilGraphModel *gm;
    foil_status st = foilGraphModelRequire(m, "writing preprocessors into the model", &gm);
    *first = n;
    if (st) return st;
    int k = n;
    while (k > 0 && expressible(&pre[k - 1])) k--;
    if (k == n) return FOIL_OK;
    FoilGraph *g = gm->g;
    if (g->opset < 11)
        return foil_error(FOIL_ERR_UNSUPPORTED, "%s: writing preprocessors needs ONNX opset 11 or later (Round); the "
                          "model's is %d", g->path, g->opset);
    foilGraphModelUnplan(gm);
    const int old_input = g->inputs[0], first_node = g->n_nodes;
    FoilBuilder b = {.g = g};
    int x = foilGraphSplitInput(g, ".defended");
    if (x < 0) return foil_error(FOIL_ERR_NOMEM, "%s: out of memory", g->path);
    for (int i = k; i < n && !b.st; i++) {
        char stage[64];
        snprintf(stage, sizeof stage, "foil_defense%d_%s", i, pre[i].kind == FOIL_PREPROCESSOR_BLUR ? "blur" : "squeeze");
        x = pre[i].kind == FOIL_PREPROCESSOR_BLUR ? write_blur(&b, stage, pre[i].ctx, x)
                                                  : write_bit_depth(&b, stage, pre[i].ctx, x);
    }
    if (b.st) return b.st;
    /* the last stage's output is the model's old input */
    if (!foilGraphAddNode(g, "foil_defense_out", "Identity", 1, &x, 1, &old_input))
        return foil_error(FOIL_ERR_NOMEM, "%s: out of memory", g->path);
    if ((st = foilGraphMoveToFront(g, first_node))) return st;
    *first = k;
    return FOIL_OK;
}
