/*
 * nn/ml/tree.c - TreeEnsembleClassifier and TreeEnsembleRegressor
 * (ai.onnx.ml; nn/ml/ml.h): random forests, gradient boosting, XGBoost and
 * LightGBM as scikit-learn and onnxmltools export them.
 *
 * A node is the tuple (nodes_treeids[i], nodes_nodeids[i], ...) of the
 * parallel nodes_* arrays; a branch sends row x to its true child when
 * x[feature] MODE value (BRANCH_LEQ <=, LT <, GTE >=, GT >, EQ ==, NEQ !=),
 * or when x[feature] is NaN and nodes_missing_value_tracks_true is set;
 * else to its false child. A tree's root is its node 0. The leaves reached
 * vote: each (class or target id, weight) of class_* / target_* whose
 * (tree, node) is that leaf adds its weight to the id's score (classifier,
 * and regressor SUM), or the scores are averaged over trees (AVERAGE) or
 * take the minimum or maximum vote (MIN, MAX). base_values are added, then
 * post_transform; the two-class cases with a single score column follow
 * onnxruntime (tree_ensemble_aggregator.h), which exporters are tested on.
 *
 * Everything a hostile file could get wrong is checked once, at load:
 * arrays of unequal length, duplicate or missing node ids, children in
 * another tree, negative feature ids, cycles (a walk could never end),
 * votes on branch nodes or for classes that do not exist; feature ids
 * beyond the input's width are checked when the input's shape is known.
 * A walk is then at most as long as its tree. Scores are accumulated in
 * double.
 *
 * Shapes: X (N, F) float32; classifier: labels (N) int64 and scores (N, C)
 * float32; regressor: Y (N, T) float32.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/ml/ml.h"

enum { MODE_LEQ = 0, MODE_LT, MODE_GTE, MODE_GT, MODE_EQ, MODE_NEQ, MODE_LEAF };
enum { AGG_SUM = 0, AGG_AVERAGE, AGG_MIN, AGG_MAX };

typedef struct TreeNode {
    double value;           /* threshold */
    int32_t feature;
    int32_t yes, no;        /* node indices of the true and false children */
    int32_t w0, nw;         /* a leaf's votes: w_id / w_val [w0, w0 + nw) */
    uint8_t mode, missing_true;
} TreeNode;

typedef struct TreeState {
    TreeNode *nodes;
    int64_t n_nodes;
    int32_t *roots;
    int64_t n_trees;
    int32_t *w_id;
    double *w_val;
    int64_t n_w;
    int64_t n_out;          /* classes or targets */
    int64_t *labels;        /* classifier: n_out labels */
    double *base;
    int64_t n_base;
    FoilMlPost post;
    int agg, classifier, binary_case, all_positive;
    int32_t max_feature;    /* -1: no branch */
} TreeState;

static void tree_destroy(FoilNode *n)
{
    TreeState *t = n->state;
    if (t) {
        free(t->nodes); free(t->roots); free(t->w_id); free(t->w_val); free(t->labels); free(t->base);
    }
    free(t);
    n->state = NULL;
}

typedef struct NodeKey { int64_t tree, node; int32_t index; } NodeKey;

static int key_cmp(const void *a, const void *b)
{
    const NodeKey *x = a, *y = b;
    if (x->tree != y->tree) return x->tree < y->tree ? -1 : 1;
    if (x->node != y->node) return x->node < y->node ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Index of node (tree, node), or -1. */
static int32_t find_node(const NodeKey *keys, int64_t n, int64_t tree, int64_t node)
{
    NodeKey k = {tree, node, -1};
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(&keys[mid], &k);
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return lo < n && keys[lo].tree == tree && keys[lo].node == node ? keys[lo].index : -1;
}

static int parse_mode(const char *s)
{
    static const char *names[] = {"BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ", "LEAF"};
    for (int i = 0; i < 7; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

typedef struct Vote { int32_t node, order; } Vote;

static int vote_cmp(const void *a, const void *b)
{
    const Vote *x = a, *y = b;
    if (x->node != y->node) return x->node < y->node ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Parse, validate and lay out the ensemble. keys is scratch of n entries. */
static foil_status build(FoilNode *n, TreeState *t, const char *pfx)
{
    const int64_t *treeids, *nodeids, *featureids, *trueids, *falseids, *missing;
    int64_t n_tree, n_node, n_feat, n_true, n_false, n_missing, n_values;
    double *values = NULL;
    foil_status st;
    if ((st = foilMlInts(n, "nodes_treeids", &treeids, &n_tree)) || (st = foilMlInts(n, "nodes_nodeids", &nodeids, &n_node)) ||
        (st = foilMlInts(n, "nodes_featureids", &featureids, &n_feat)) ||
        (st = foilMlInts(n, "nodes_truenodeids", &trueids, &n_true)) ||
        (st = foilMlInts(n, "nodes_falsenodeids", &falseids, &n_false)) ||
        (st = foilMlInts(n, "nodes_missing_value_tracks_true", &missing, &n_missing)) ||
        (st = foilMlFloats(n, "nodes_values", &values, &n_values)))
        return st;
    const FoilAttr *modes = foilAttrGet(n, "nodes_modes");
    int64_t nn = n_tree;
    if (nn == 0) { free(values); return foilNodeInitError(n, FOIL_ERR_FORMAT, "the ensemble has no nodes"); }
    if (nn > INT32_MAX / 2) { free(values); return foilNodeInitError(n, FOIL_ERR_FORMAT, "too many nodes (%lld)", (long long)nn); }
    if (!modes || modes->type != FOIL_ATTR_STRINGS || modes->n != nn || n_node != nn || n_feat != nn || n_true != nn ||
        n_false != nn || n_values != nn || (n_missing && n_missing != nn)) {
        free(values);
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "the nodes_* arrays differ in length (treeids %lld, nodeids %lld, "
                                 "featureids %lld, modes %d, values %lld, truenodeids %lld, falsenodeids %lld, "
                                 "missing_value_tracks_true %lld)", (long long)n_tree, (long long)n_node,
                                 (long long)n_feat, modes && modes->type == FOIL_ATTR_STRINGS ? modes->n : -1,
                                 (long long)n_values, (long long)n_true, (long long)n_false, (long long)n_missing);
    }
    NodeKey *keys = malloc((size_t)nn * sizeof *keys);
    int32_t *indeg = calloc((size_t)nn, sizeof *indeg), *queue = malloc((size_t)nn * sizeof *queue);
    t->nodes = calloc((size_t)nn, sizeof *t->nodes);
    t->roots = malloc((size_t)nn * sizeof *t->roots);
    if (!keys || !indeg || !queue || !t->nodes || !t->roots) { st = foil_error(FOIL_ERR_NOMEM, "out of memory"); goto out; }
    t->n_nodes = nn;
    t->max_feature = -1;
    for (int64_t i = 0; i < nn; i++) keys[i] = (NodeKey){treeids[i], nodeids[i], (int32_t)i};
    qsort(keys, (size_t)nn, sizeof *keys, key_cmp);
    for (int64_t i = 1; i < nn; i++)
        if (keys[i].tree == keys[i - 1].tree && keys[i].node == keys[i - 1].node) {
            st = foilNodeInitError(n, FOIL_ERR_FORMAT, "%s: node %lld of tree %lld is defined twice", pfx,
                                   (long long)keys[i].node, (long long)keys[i].tree);
            goto out;
        }
    for (int64_t i = 0; i < nn; i++) {
        TreeNode *d = &t->nodes[i];
        int m = parse_mode(modes->strings[i]);
        if (m < 0) {
            st = foilNodeInitError(n, FOIL_ERR_FORMAT, "%s: node %lld of tree %lld has mode '%s' (BRANCH_LEQ, BRANCH_LT, "
                                   "BRANCH_GTE, BRANCH_GT, BRANCH_EQ, BRANCH_NEQ or LEAF)", pfx, (long long)nodeids[i],
                                   (long long)treeids[i], modes->strings[i]);
            goto out;
        }
        d->mode = (uint8_t)m;
        d->missing_true = n_missing && missing[i] != 0;
        d->value = values[i];
        if (m == MODE_LEAF) continue;
        if (featureids[i] < 0 || featureids[i] > INT32_MAX - 1) {
            st = foilNodeInitError(n, FOIL_ERR_FORMAT, "%s: node %lld of tree %lld tests feature %lld", pfx,
                                   (long long)nodeids[i], (long long)treeids[i], (long long)featureids[i]);
            goto out;
        }
        d->feature = (int32_t)featureids[i];
        if (d->feature > t->max_feature) t->max_feature = d->feature;
        int32_t y = find_node(keys, nn, treeids[i], trueids[i]), f = find_node(keys, nn, treeids[i], falseids[i]);
        if (y < 0 || f < 0) {
            st = foilNodeInitError(n, FOIL_ERR_FORMAT, "%s: node %lld of tree %lld: its %s child is node %lld, which "
                                   "tree %lld does not have", pfx, (long long)nodeids[i], (long long)treeids[i],
                                   y < 0 ? "true" : "false", (long long)(y < 0 ? trueids[i] : falseids[i]),
                                   (long long)treeids[i]);
            goto out;
        }
        d->yes = y;
        d->no = f;
        indeg[y]++;
        indeg[f]++;
    }
    /* Cycles: Kahn's algorithm over all nodes; what it cannot order lies
     * on (or below) a cycle, and a walk there would never end. */
    int64_t head = 0, tail = 0;
    for (int64_t i = 0; i < nn; i++)
        if (!indeg[i]) queue[tail++] = (int32_t)i;
    while (head < tail) {
        const TreeNode *d = &t->nodes[queue[head++]];
        if (d->mode == MODE_LEAF) continue;
        if (--indeg[d->yes] == 0) queue[tail++] = d->yes;
        if (--indeg[d->no] == 0) queue[tail++] = d->no;
    }
    if (tail != nn) {
        for (int64_t i = 0; i < nn; i++)
            if (indeg[i]) {
                st = foilNodeInitError(n, FOIL_ERR_FORMAT, "%s: tree %lld has a cycle through node %lld (a tree's "
                                       "branches must never lead back)", pfx, (long long)treeids[i], (long long)nodeids[i]);
                goto out;
            }
    }
    /* Roots: node 0 of each tree, trees in increasing id. */
    for (int64_t i = 0; i < nn; i++) {
        if (i && keys[i].tree == keys[i - 1].tree) continue;
        int32_t r = find_node(keys, nn, keys[i].tree, 0);
        if (r < 0) {
            st = foilNodeInitError(n, FOIL_ERR_FORMAT, "%s: tree %lld has no node 0 (its root)", pfx,
                                   (long long)keys[i].tree);
            goto out;
        }
        t->roots[t->n_trees++] = r;
    }
    /* The walk's bound: acyclic, so at most the tree's size. Keys are kept
     * for the votes below. */
    free(indeg); indeg = NULL;
    free(queue); queue = NULL;
    free(values); values = NULL;

    const char *ids_n = t->classifier ? "class_ids" : "target_ids";
    const char *nodes_n = t->classifier ? "class_nodeids" : "target_nodeids";
    const char *trees_n = t->classifier ? "class_treeids" : "target_treeids";
    const char *w_n = t->classifier ? "class_weights" : "target_weights";
    const int64_t *ids, *vnodes, *vtrees;
    int64_t n_ids, n_vnodes, n_vtrees, n_wv;
    double *wv = NULL;
    if ((st = foilMlInts(n, ids_n, &ids, &n_ids)) || (st = foilMlInts(n, nodes_n, &vnodes, &n_vnodes)) ||
        (st = foilMlInts(n, trees_n, &vtrees, &n_vtrees)) || (st = foilMlFloats(n, w_n, &wv, &n_wv)))
        goto out;
    if (n_vnodes != n_ids || n_vtrees != n_ids || n_wv != n_ids) {
        free(wv);
        st = foilNodeInitError(n, FOIL_ERR_FORMAT, "%s: %s, %s, %s and %s differ in length (%lld, %lld, %lld, %lld)",
                               pfx, ids_n, nodes_n, trees_n, w_n, (long long)n_ids, (long long)n_vnodes,
                               (long long)n_vtrees, (long long)n_wv);
        goto out;
    }
    Vote *votes = malloc((size_t)(n_ids ? n_ids : 1) * sizeof *votes);
    t->w_id = malloc((size_t)(n_ids ? n_ids : 1) * sizeof *t->w_id);
    t->w_val = malloc((size_t)(n_ids ? n_ids : 1) * sizeof *t->w_val);
    if (!votes || !t->w_id || !t->w_val || n_ids > INT32_MAX) {
        free(votes); free(wv);
        st = foil_error(FOIL_ERR_NOMEM, "out of memory");
        goto out;
    }
    int64_t first_id = n_ids ? ids[0] : 0;
    t->binary_case = 1;
    t->all_positive = 1;
    for (int64_t i = 0; i < n_ids; i++) {
        int32_t leaf = find_node(keys, nn, vtrees[i], vnodes[i]);
        const char *bad = leaf < 0 ? "a node the ensemble does not have" : t->nodes[leaf].mode != MODE_LEAF ? "a branch node" : NULL;
        if (!bad && (ids[i] < 0 || ids[i] >= t->n_out)) bad = "an id out of range";
        if (bad) {
            st = foilNodeInitError(n, FOIL_ERR_FORMAT, "%s: vote %lld (tree %lld, node %lld, %s %lld of %lld) is for %s",
                                   pfx, (long long)i, (long long)vtrees[i], (long long)vnodes[i],
                                   t->classifier ? "class" : "target", (long long)ids[i], (long long)t->n_out, bad);
            free(votes); free(wv);
            goto out;
        }
        votes[i] = (Vote){leaf, (int32_t)i};
        if (ids[i] != first_id) t->binary_case = 0;
        if (wv[i] < 0) t->all_positive = 0;
    }
    t->binary_case = t->binary_case && t->classifier && t->n_out == 2 && n_ids > 0;
    qsort(votes, (size_t)n_ids, sizeof *votes, vote_cmp);
    for (int64_t i = 0; i < n_ids; i++) {
        TreeNode *d = &t->nodes[votes[i].node];
        if (d->nw == 0) d->w0 = (int32_t)i;
        d->nw++;
        t->w_id[i] = (int32_t)ids[votes[i].order];
        t->w_val[i] = wv[votes[i].order];
    }
    t->n_w = n_ids;
    free(votes);
    free(wv);
out:
    free(keys);
    free(indeg);
    free(queue);
    free(values);
    return st;
}

static foil_status tree_init_common(FoilNode *n, int classifier)
{
    TreeState *t = foilMlNewState(n, sizeof *t);
    if (!t) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    t->classifier = classifier;
    foil_status st = foilMlParsePost(n, &t->post);
    if (st) return st;
    if (classifier) {
        if ((st = foilMlClassLabels(n, "classlabels_int64s", &t->labels, &t->n_out))) return st;
        if (t->n_out < 2) return foilNodeInitError(n, FOIL_ERR_FORMAT, "a classifier needs at least two classes");
    } else {
        t->n_out = foilAttrInt(n, "n_targets", 1);
        if (t->n_out < 1 || t->n_out > (1 << 20))
            return foilNodeInitError(n, FOIL_ERR_FORMAT, "n_targets is %lld", (long long)t->n_out);
        const char *agg = foilAttrString(n, "aggregate_function", "SUM");
        static const char *names[] = {"SUM", "AVERAGE", "MIN", "MAX"};
        t->agg = -1;
        for (int i = 0; i < 4; i++)
            if (strcmp(agg, names[i]) == 0) t->agg = i;
        if (t->agg < 0)
            return foilNodeInitError(n, FOIL_ERR_FORMAT, "aggregate_function '%s' is not one of SUM, AVERAGE, MIN, MAX", agg);
    }
    if ((st = foilMlFloats(n, "base_values", &t->base, &t->n_base))) return st;
    if (t->n_base && t->n_base != t->n_out && !(t->classifier && t->n_out == 2 && t->n_base == 1))
        return foilNodeInitError(n, FOIL_ERR_FORMAT, "%lld base_values for %lld %s", (long long)t->n_base,
                                 (long long)t->n_out, classifier ? "classes" : "targets");
    return build(n, t, classifier ? "TreeEnsembleClassifier" : "TreeEnsembleRegressor");
}

static foil_status classifier_init(FoilNode *n) { return tree_init_common(n, 1); }
static foil_status regressor_init(FoilNode *n) { return tree_init_common(n, 0); }

static foil_status tree_infer(FoilOpCtx *c)
{
    const TreeState *t = c->state;
    int64_t rows, f;
    foil_status st = foilMlRowsIn(c, &rows, &f);
    if (st) return st;
    if (t->max_feature >= f)
        return foilNodeError(c, FOIL_ERR_SHAPE, "a branch tests feature %d, but the input has %lld features",
                             (int)t->max_feature, (long long)f);
    c->work_bytes = (size_t)t->n_out * (sizeof(double) + 1) + 16;
    int64_t shape[2] = {rows, t->n_out};
    if (!t->classifier) return foilMlSetOut(c, 0, FOIL_F32, 2, shape);
    if ((st = foilMlSetOut(c, 0, FOIL_I64, 1, shape))) return st;
    return foilMlSetOut(c, 1, FOIL_F32, 2, shape);
}

static const TreeNode *leaf_of(const TreeState *t, int32_t root, const float *x)
{
    const TreeNode *d = &t->nodes[root];
    while (d->mode != MODE_LEAF) {
        const double v = x[d->feature];
        int yes;
        switch (d->mode) {
        case MODE_LEQ: yes = v <= d->value; break;
        case MODE_LT: yes = v < d->value; break;
        case MODE_GTE: yes = v >= d->value; break;
        case MODE_GT: yes = v > d->value; break;
        case MODE_EQ: yes = v == d->value; break;
        default: yes = v != d->value; break;
        }
        if (d->missing_true && isnan(v)) yes = 1;
        d = &t->nodes[yes ? d->yes : d->no];
    }
    return d;
}

/* Two classes, as onnxruntime's TreeAggregatorClassifier: s and has are
 * the two classes' scores and whether any vote reached them. */
static int64_t finalize_binary(const TreeState *t, double *s, unsigned char *has, float *z)
{
    int ns = 2, add = -1;
    if (t->n_base == 2) {
        if (has[1]) { s[1] = t->base[1] + s[0]; s[0] = -s[1]; }
        else { s[1] += t->base[1]; s[0] += t->base[0]; }
    } else if (t->n_base == 1) {
        s[0] += t->base[0];
        if (!has[1]) ns = 1;
    } else {
        add = 3;
        if (!has[1]) ns = 1;
    }
    double pos = ns == 2 && has[1] ? s[1] : has[0] ? s[0] : 0;
    int64_t label;
    if (t->binary_case) {
        if (t->all_positive) { add = pos > 0.5 ? 0 : 1; }
        else { add = pos > 0 ? 2 : 3; }
        label = t->labels[add == 0 || add == 2];
    } else label = t->labels[pos > 0];
    if (ns == 2) {
        foilMlPostRow(t->post, s, 2);
        z[0] = (float)s[0];
        z[1] = (float)s[1];
    } else if (t->post == FOIL_ML_POST_PROBIT) {
        z[0] = (float)foilMlProbit(s[0]);
        z[1] = 0;
    } else if (add == 0 || add == 1) {
        z[0] = (float)(1 - s[0]);
        z[1] = (float)s[0];
    } else if (add == 2 || add == 3) {
        if (t->post == FOIL_ML_POST_LOGISTIC) {
            z[0] = (float)foilMlLogistic(-s[0]);
            z[1] = (float)foilMlLogistic(s[0]);
        } else {
            z[0] = (float)-s[0];
            z[1] = (float)s[0];
        }
    } else {
        z[0] = (float)s[0];
        z[1] = 0;
    }
    return label;
}

static foil_status tree_forward(FoilOpCtx *c)
{
    const TreeState *t = c->state;
    const foil_tensor *x = c->in[0];
    const int64_t f = x->shape[x->ndim - 1], rows = x->ndim == 2 ? x->shape[0] : 1, k = t->n_out;
    const float *xp = foil_f32(x);
    double *s = c->work;
    unsigned char *has = (unsigned char *)(s + k);
    foil_tensor *yl = t->classifier && c->n_out > 0 ? c->out[0] : NULL;
    foil_tensor *ys = t->classifier ? (c->n_out > 1 ? c->out[1] : NULL) : c->out[0];
    float *zbuf = NULL;
    if (!ys) { /* the label alone still needs the scores */
        if (!(zbuf = malloc((size_t)k * sizeof *zbuf))) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = xp + r * f;
        memset(s, 0, (size_t)k * sizeof *s);
        memset(has, 0, (size_t)k);
        for (int64_t tr = 0; tr < t->n_trees; tr++) {
            const TreeNode *leaf = leaf_of(t, t->roots[tr], xr);
            for (int32_t w = leaf->w0; w < leaf->w0 + leaf->nw; w++) {
                const int32_t id = t->w_id[w];
                const double v = t->w_val[w];
                if (t->agg == AGG_MIN) s[id] = !has[id] || v < s[id] ? v : s[id];
                else if (t->agg == AGG_MAX) s[id] = !has[id] || v > s[id] ? v : s[id];
                else s[id] += v;
                has[id] = 1;
            }
        }
        float *z = ys ? foil_f32(ys) + r * k : zbuf;
        if (t->classifier && k == 2) {
            int64_t label = finalize_binary(t, s, has, z);
            if (yl) foil_i64(yl)[r] = label;
            continue;
        }
        if (t->classifier) {
            for (int64_t j = 0; j < t->n_base; j++) {
                s[j] = has[j] ? s[j] + t->base[j] : t->base[j];
                has[j] = 1;
            }
            int64_t best = -1;
            for (int64_t j = 0; j < k; j++)
                if (has[j] && (best < 0 || s[j] > s[best])) best = j;
            if (yl) foil_i64(yl)[r] = t->labels[best < 0 ? 0 : best];
        } else if (k == 1) {
            double origin = t->n_base == 1 ? t->base[0] : 0;
            if (t->agg == AGG_AVERAGE) s[0] /= (double)t->n_trees;
            s[0] = (t->agg == AGG_MIN || t->agg == AGG_MAX) && !has[0] ? origin : s[0] + origin;
            z[0] = (float)(t->post == FOIL_ML_POST_PROBIT ? foilMlProbit(s[0]) : s[0]);
            continue;
        } else {
            for (int64_t j = 0; j < k; j++) {
                double b = t->n_base == k ? t->base[j] : 0;
                if (t->agg == AGG_AVERAGE) s[j] /= (double)t->n_trees;
                s[j] = (t->agg == AGG_MIN || t->agg == AGG_MAX) && !has[j] ? b : s[j] + b;
            }
        }
        foilMlPostRow(t->post, s, k);
        for (int64_t j = 0; j < k; j++) z[j] = (float)s[j];
    }
    free(zbuf);
    return FOIL_OK;
}

const FoilOp foilMlTreeEnsembleClassifier = {
    .type = "TreeEnsembleClassifier",
    .init = classifier_init, .infer = tree_infer, .forward = tree_forward, .destroy = tree_destroy,
};

const FoilOp foilMlTreeEnsembleRegressor = {
    .type = "TreeEnsembleRegressor",
    .init = regressor_init, .infer = tree_infer, .forward = tree_forward, .destroy = tree_destroy,
};
