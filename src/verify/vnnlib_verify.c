/*
 * verify/vnnlib_verify.c - foil_vnnlib_verify: decide a VNN-LIB property
 * (foil/vnnlib.h is the design) with an attack, CROWN, and branch and
 * bound on ReLU splits, with alpha-CROWN's optimized slopes and
 * beta-CROWN's split multipliers (verify/alpha.c). It does not split
 * inputs, and it never searches for counterexamples inside the branch
 * and bound: a FALSIFIED comes from the attack only.
 *
 * 1. Attack. PGD on the inward box, every disjunct t attacked from
 *    `restarts` starts (the box's centre, then uniform random points):
 *    minimize max_r in t (C_r . y - d_r) by signed-gradient steps scaled by
 *    each input's box width, clipped to the box. A point whose logits
 *    satisfy every row of a disjunct is run again, alone, through
 *    foil_model_predict and re-checked with foil_vnnlib_unsafe; only then
 *    is it a counterexample.
 * 2. CROWN (foil/verify.h) of every row over the outward box. A row r is
 *    refuted when lb_r > d_hi[r] + tol_r, and a disjunct when one of its
 *    rows is. tol_r stands for the float32 forward pass's rounding, which
 *    the exact-arithmetic bounds do not include (foil/verify.h): 1e-4 times
 *    (1 + max(|lb_r|, |ub_r|)), far above what float32 sums of a few
 *    thousand terms lose on these networks, so that a property proved
 *    only by a hair is "unknown", not "verified".
 * 3. Branch and bound, depth first, over the disjuncts CROWN left open: a
 *    subdomain is the box with some ReLU inputs fixed to >= 0 or <= 0
 *    (foilBoundsSplitCompute, which uses a split to clip that neuron's
 *    bounds, adds the splits to the spec rows' bounds with optimized
 *    multipliers, beta-CROWN, or as linear inequalities in x through a
 *    Lagrangian over the box with --alpha-steps 0, and reports a
 *    contradictory subdomain as empty). Each thread bounds one of the
 *    subdomains on top of the stack at a time. The two
 *    children of a subdomain cover it, so when every leaf refutes every
 *    open disjunct, the box does. The neuron split is chosen for the open
 *    disjunct farthest from refutation (its row nearest to refutation) by
 *    filtered smart branching: of the unstable neurons (l < 0 < u) with
 *    the best BaBSR-style scores (|lam| of that row's backward pass on the
 *    neuron's Relu output times the intercept -l u / (u - l) of its upper
 *    line), the one whose worse side gets the best CROWN bound. A subdomain with no
 *    unstable neuron left that still does not refute ends the search
 *    ("unknown"); so does the timeout.
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foil/progress.h"
#include "foil/vnnlib.h"
#include "io/file.h"
#include "verify/verify_internal.h"

enum { MAX_ATTACK_BATCH = 256 };

typedef struct AttackCtx {
    const foil_vnnlib *p;
    const int64_t *target; /* per example of the batch: its disjunct */
} AttackCtx;

/* value = max over the target disjunct's rows of C_r . y - d_lo[r] (<= 0:
 * unsafe), dvalue its gradient (the argmax row). */
static foil_status attack_loss(void *ctx, int64_t first, int64_t count, int64_t classes, const float *logits,
                               float *value, float *dvalue)
{
    const AttackCtx *a = ctx;
    const foil_vnnlib *p = a->p;
    for (int64_t i = 0; i < count; i++) {
        const int64_t t = a->target[first + i];
        const float *y = logits + i * classes;
        float *g = dvalue + i * classes;
        double best = -INFINITY;
        int64_t arg = -1;
        for (int64_t r = p->first[t]; r < p->first[t + 1]; r++) {
            double s = -p->d_lo[r];
            for (int64_t j = 0; j < classes; j++) s += p->C[r * p->n_outputs + j] * (double)y[j];
            if (s > best) best = s, arg = r;
        }
        for (int64_t j = 0; j < classes; j++) g[j] = arg >= 0 ? (float)p->C[arg * p->n_outputs + j] : 0.0f;
        if (value) value[i] = arg >= 0 ? (float)best : -1.0f;
    }
    return FOIL_OK;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Confirm x: one forward pass, alone, and the property's own check. */
static foil_status confirm(foil_model *m, const foil_vnnlib *p, const float *x, foil_vnnlib_result *r, int *ok)
{
    *ok = 0;
    for (int64_t j = 0; j < p->n_inputs; j++)
        if (!(x[j] >= p->lo_in[j] && x[j] <= p->hi_in[j])) return FOIL_OK;
    foil_tensor xt = {0}, y = {0};
    foil_tensor_set_shape(&xt, FOIL_F32, 2, (int64_t[]){1, p->n_inputs});
    xt.data = (void *)x;
    foil_status st = foil_model_predict(m, &xt, &y);
    if (st) return st;
    if (y.numel != p->n_outputs) {
        foil_tensor_free(&y);
        return foil_error(FOIL_ERR_SHAPE, "%s: the model gives %lld outputs, the property has %lld", p->path,
                          (long long)y.numel, (long long)p->n_outputs);
    }
    int64_t t = foil_vnnlib_unsafe(p, foil_f32(&y));
    if (t >= 0) {
        r->x = malloc((size_t)p->n_inputs * sizeof *r->x);
        r->y = malloc((size_t)p->n_outputs * sizeof *r->y);
        if (!r->x || !r->y) {
            foil_tensor_free(&y);
            return foil_error(FOIL_ERR_NOMEM, "out of memory");
        }
        memcpy(r->x, x, (size_t)p->n_inputs * sizeof *x);
        memcpy(r->y, foil_f32(&y), (size_t)p->n_outputs * sizeof *r->y);
        r->disjunct = t;
        r->answer = FOIL_VNNLIB_FALSIFIED;
        *ok = 1;
    }
    foil_tensor_free(&y);
    return FOIL_OK;
}

/* Step 1. */
static foil_status attack(foil_model *m, const foil_vnnlib *p, const foil_vnnlib_options *o, double deadline,
                          foil_vnnlib_result *r)
{
    const int64_t f = p->n_inputs, K = p->n_outputs;
    for (int64_t j = 0; j < f; j++)
        if (p->lo_in[j] > p->hi_in[j]) return FOIL_OK; /* no float input satisfies the bounds exactly */
    const int64_t restarts = o->restarts > 0 ? o->restarts : 8, steps = o->steps > 0 ? o->steps : 100;
    int64_t total = restarts * p->n_disjuncts;
    int64_t batch = total < MAX_ATTACK_BATCH ? total : MAX_ATTACK_BATCH;
    float *x = malloc((size_t)(batch * f) * sizeof *x), *value = malloc((size_t)batch * sizeof *value);
    int64_t *target = malloc((size_t)batch * sizeof *target);
    foil_tensor xt = {0}, logits = {0}, grad = {0};
    foil_status st = x && value && target ? FOIL_OK : foil_error(FOIL_ERR_NOMEM, "out of memory");
    uint64_t rng = o->seed * 0x2545f4914f6cdd1dULL + 1;
    for (int64_t done = 0; !st && done < total && r->answer != FOIL_VNNLIB_FALSIFIED && foil_now() < deadline;
         done += batch) {
        int64_t n = total - done < batch ? total - done : batch;
        for (int64_t i = 0; i < n; i++) {
            int64_t e = done + i, start = e / p->n_disjuncts;
            target[i] = e % p->n_disjuncts;
            for (int64_t j = 0; j < f; j++) {
                double u = start == 0 ? 0.5 : (double)(splitmix(&rng) >> 11) * 0x1.0p-53;
                float v = (float)(p->lo_in[j] + u * ((double)p->hi_in[j] - p->lo_in[j]));
                x[i * f + j] = v < p->lo_in[j] ? p->lo_in[j] : v > p->hi_in[j] ? p->hi_in[j] : v;
            }
        }
        foil_tensor_set_shape(&xt, FOIL_F32, 2, (int64_t[]){n, f});
        xt.data = x;
        foil_tensor_free(&logits), foil_tensor_free(&grad);
        AttackCtx ctx = {p, target};
        for (int64_t s = 0; !st && s <= steps; s++) {
            st = foil_model_input_grad(m, &xt, attack_loss, &ctx, value, &logits, &grad);
            if (st) break;
            if (logits.numel != n * K) {
                st = foil_error(FOIL_ERR_SHAPE, "%s: the model gives %lld outputs, the property has %lld", p->path,
                                (long long)(logits.numel / n), (long long)K);
                break;
            }
            for (int64_t i = 0; i < n && !st; i++) {
                if (foil_vnnlib_unsafe(p, foil_f32(&logits) + i * K) < 0) continue;
                int ok = 0;
                st = confirm(m, p, x + i * f, r, &ok);
                if (ok) goto out;
            }
            if (s == steps || foil_now() > deadline) break;
            /* step size: 1/4 of the box's width, decaying linearly to 1/100 */
            const double frac = 0.25 * (1.0 - (double)s / (double)steps) + 0.01;
            const float *g = foil_f32(&grad);
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < f; j++) {
                    float w = p->hi_in[j] - p->lo_in[j], gv = g[i * f + j];
                    if (w <= 0 || gv == 0 || gv != gv) continue;
                    float v = x[i * f + j] - (gv > 0 ? 1.0f : -1.0f) * (float)(frac * w);
                    x[i * f + j] = v < p->lo_in[j] ? p->lo_in[j] : v > p->hi_in[j] ? p->hi_in[j] : v;
                }
        }
    }
out:
    foil_tensor_free(&logits), foil_tensor_free(&grad);
    free(x), free(value), free(target);
    return st;
}

/* ---- steps 2 and 3 ---- */

typedef struct Domain {
    FoilBoundsSplit *splits;
    int64_t n_splits;
    uint8_t *open;          /* per disjunct: not yet refuted here */
    float *parent_q;        /* the parent's best bounds (lo then hi, total_numel each); NULL at the root */
} Domain;

typedef struct Bab {
    foil_verifier *v;
    const foil_vnnlib *p;
    foil_bounds_options o;
    float *C;               /* rows of the open disjuncts, as float */
    int64_t *row_of;        /* their rows in p */
    float *lb, *ub, *qlo, *qhi;
    uint8_t *is_relu_in;    /* per total_numel offset: the input of a Relu */
    uint8_t *split_here;
    float *score;           /* branching scores, total_numel */
    int64_t worst_row;      /* in the last bounds: the open row (index into C) with the smallest margin */
    double worst;           /* smallest margin lb - d - tol seen on an unrefuted row */
    int keep;
    double *enough;         /* per open row: its d (a lower bound well above refutes it) */
    FoilBoundsRow *row;     /* FSB's trial bounds */
} Bab;

static double tol_of(float lb, float ub)
{
    double a = fabs((double)lb), b = fabs((double)ub);
    return 1e-4 * (1.0 + (a > b ? a : b));
}

/* Bound the open disjuncts of d; clears d->open[t] for those refuted.
 * Returns how many stay open (0 also for an empty subdomain). */
static foil_status bound_domain(Bab *b, Domain *d, int64_t *left)
{
    const foil_vnnlib *p = b->p;
    const int64_t K = p->n_outputs;
    int64_t k = 0;
    for (int64_t t = 0; t < p->n_disjuncts; t++)
        if (d->open[t])
            for (int64_t r = p->first[t]; r < p->first[t + 1]; r++) {
                for (int64_t j = 0; j < K; j++) b->C[k * K + j] = (float)p->C[r * K + j];
                b->enough[k] = p->d_hi[r];
                b->row_of[k++] = r;
            }
    *left = 0;
    if (!k) return FOIL_OK;
    int empty = 0;
    const float *pq = d->parent_q;
    foil_status st = foilBoundsSplitCompute(b->v, &b->o, p->lo, p->hi, b->C, k, d->splits, d->n_splits, pq,
                                            pq ? pq + b->v->total_numel : NULL, b->keep, b->enough, b->lb, b->ub, b->qlo, b->qhi, &empty);
    if (st) return st;
    if (empty) {
        memset(d->open, 0, (size_t)p->n_disjuncts);
        return FOIL_OK;
    }
    k = 0;
    b->worst_row = -1;
    double farthest = INFINITY; /* over open disjuncts: the margin of their row nearest to refutation */
    for (int64_t t = 0; t < p->n_disjuncts; t++) {
        if (!d->open[t]) continue;
        int refuted = 0;
        int64_t nearest = -1;
        double best = -INFINITY;
        for (int64_t r = p->first[t]; r < p->first[t + 1]; r++, k++) {
            double margin = (double)b->lb[k] - p->d_hi[r] - tol_of(b->lb[k], b->ub[k]);
            if (margin > 0) refuted = 1;
            else if (margin < b->worst) b->worst = margin;
            if (margin > best) best = margin, nearest = k;
        }
        /* one refuted row refutes a disjunct: branch for the open disjunct
         * farthest from it, on its row nearest to it */
        if (!refuted && nearest >= 0 && best < farthest) farthest = best, b->worst_row = nearest;
        if (p->first[t] == p->first[t + 1]) refuted = 0; /* no rows: every output is unsafe */
        if (refuted) d->open[t] = 0;
        else (*left)++;
    }
    return FOIL_OK;
}

/* The neuron to split in the bounds just computed, or -1: filtered smart
 * branching (FSB, De Palma et al. 2021) for the open row with the smallest
 * margin: the FSB_CANDIDATES unstable neurons with the best BaBSR scores,
 * and of those the one whose worse side CROWN bounds highest. Less than
 * the paper's: the candidates come from the BaBSR score alone (FSB also
 * filters by a second score), and each side is bounded with CROWN's
 * slopes and without the splits' multipliers. */
enum { FSB_CANDIDATES = 8 };

static foil_status pick_split(Bab *b, const Domain *d, int64_t *best)
{
    const int64_t n = b->v->total_numel;
    *best = -1;
    if (b->worst_row < 0) return FOIL_OK;
    const float *coef = b->C + b->worst_row * b->p->n_outputs;
    foil_status st = foilBoundsSplitScores(b->v, b->p->lo, b->p->hi, b->qlo, b->qhi, coef, b->score);
    if (st) return st;
    int64_t cand[FSB_CANDIDATES];
    int n_cand = 0;
    for (int64_t s = 0; s < d->n_splits; s++) b->split_here[d->splits[s].at] = 1;
    for (int64_t j = 0; j < n; j++) {
        if (!b->is_relu_in[j] || b->split_here[j]) continue;
        if (!(b->qlo[j] < 0 && b->qhi[j] > 0) || !(b->score[j] > 0)) continue;
        int at; /* cand: the best so far, best first */
        if (n_cand < FSB_CANDIDATES) at = n_cand++;
        else if (b->score[j] > b->score[cand[FSB_CANDIDATES - 1]]) at = FSB_CANDIDATES - 1;
        else continue;
        while (at > 0 && b->score[cand[at - 1]] < b->score[j]) cand[at] = cand[at - 1], at--;
        cand[at] = j;
    }
    for (int64_t s = 0; s < d->n_splits; s++) b->split_here[d->splits[s].at] = 0;
    if (n_cand <= 1) {
        if (n_cand) *best = cand[0];
        return FOIL_OK;
    }
    double top = -INFINITY;
    for (int c = 0; c < n_cand; c++) {
        double on = foilBoundsSplitTry(b->v, b->row, b->qlo, b->qhi, coef, cand[c], 1);
        double off = foilBoundsSplitTry(b->v, b->row, b->qlo, b->qhi, coef, cand[c], 0);
        double worse = on < off ? on : off;
        if (*best < 0 || worse > top) top = worse, *best = cand[c];
    }
    return FOIL_OK;
}

static void bab_free(Bab *b)
{
    free(b->C), free(b->row_of), free(b->enough), free(b->lb), free(b->ub), free(b->qlo), free(b->qhi);
    free(b->is_relu_in), free(b->split_here), free(b->score);
    foilBoundsRowFree(b->row);
}

static foil_status bab_init(Bab *b, foil_verifier *v, const foil_vnnlib *p, const foil_vnnlib_options *o)
{
    const int64_t K = p->n_outputs, N = v->total_numel;
    *b = (Bab){.v = v, .p = p, .o = {.method = FOIL_BOUNDS_CROWN}, .worst = INFINITY};
    if (o->alpha_steps >= 0) {
        b->o.alpha_steps = o->alpha_steps > 0 ? (int)(o->alpha_steps < 1000 ? o->alpha_steps : 1000) : 20;
        b->keep = 1;
    }
    b->C = malloc((size_t)(p->n_rows * K + 1) * sizeof *b->C);
    b->row_of = malloc((size_t)(p->n_rows + 1) * sizeof *b->row_of);
    b->enough = malloc((size_t)(p->n_rows + 1) * sizeof *b->enough);
    b->lb = malloc((size_t)(p->n_rows + 1) * sizeof *b->lb), b->ub = malloc((size_t)(p->n_rows + 1) * sizeof *b->ub);
    b->qlo = malloc((size_t)N * sizeof *b->qlo), b->qhi = malloc((size_t)N * sizeof *b->qhi);
    b->is_relu_in = calloc((size_t)N, 1), b->split_here = calloc((size_t)N, 1);
    b->score = malloc((size_t)N * sizeof *b->score);
    b->row = foilBoundsRowNew(v);
    if (!(b->C && b->row_of && b->enough && b->lb && b->ub && b->qlo && b->qhi && b->is_relu_in && b->split_here &&
          b->score && b->row)) {
        bab_free(b);
        return foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < v->n_layers; i++)
        if (v->layers[i].kind == FOIL_BL_RELU) {
            const FoilBoundsSlot *s = &v->slots[v->layers[i].in[0]];
            memset(b->is_relu_in + s->off, 1, (size_t)s->numel);
        }
    return FOIL_OK;
}

static void domain_free(Domain *d) { free(d->splits), free(d->open), free(d->parent_q); }

/* Bound subdomain d with b's buffers: *left its open disjuncts, *split the
 * neuron to split (-1: none left). */
static foil_status bound_and_pick(Bab *b, Domain *d, int64_t *left, int64_t *split)
{
    *split = -1;
    foil_status st = bound_domain(b, d, left);
    if (!st && *left) st = pick_split(b, d, split);
    return st;
}

enum { BAB_MAX_THREADS = 16 };

static foil_status bab(foil_verifier *v, const foil_vnnlib *p, const foil_vnnlib_options *o, double deadline,
                       foil_vnnlib_result *r)
{
    const int64_t N = v->total_numel;
    int threads = omp_get_max_threads();
    threads = threads < 1 ? 1 : threads > BAB_MAX_THREADS ? BAB_MAX_THREADS : threads;
    Bab b[BAB_MAX_THREADS];
    foil_status st = FOIL_OK;
    int ready = 0;
    for (; ready < threads && !st; ready++) st = bab_init(&b[ready], v, p, o);
    if (st) ready--;
    Domain *stack = NULL;
    int64_t n_stack = 0, cap = 0;
    /* the root: the whole box, every disjunct open */
    Domain root = {NULL, 0, malloc((size_t)p->n_disjuncts + 1), NULL};
    if (!st && !root.open) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    if (!st) {
        memset(root.open, 1, (size_t)p->n_disjuncts);
        cap = 64;
        stack = malloc((size_t)cap * sizeof *stack);
        if (!stack) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
        else stack[n_stack++] = root, root.open = NULL;
    }
    free(root.open);
    int64_t unresolved = 0;
    int first = 1;
    const double started = foil_now();
    double decided = 0; /* the share of the box refuted: 2^-depth per refuted subdomain */
    Domain batch[BAB_MAX_THREADS];
    int64_t left[BAB_MAX_THREADS], split[BAB_MAX_THREADS];
    foil_status sts[BAB_MAX_THREADS];
    while (!st && n_stack > 0 && !unresolved) {
        if (!first && (o->no_bab || foil_now() > deadline)) {
            snprintf(r->why, sizeof r->why, "%s with %lld subdomains open (%.3g%% of the search tree decided)",
                     o->no_bab ? "branch and bound off" : "timeout", (long long)n_stack, 100 * decided);
            unresolved = 1;
            break;
        }
        /* the root alone (its bounds use every thread), then a subdomain per thread */
        int n = first ? 1 : (int)(n_stack < threads ? n_stack : threads);
        for (int t = 0; t < n; t++) batch[t] = stack[--n_stack];
#pragma omp parallel for schedule(dynamic, 1) num_threads(n) if (n > 1)
        for (int t = 0; t < n; t++) sts[t] = bound_and_pick(&b[t], &batch[t], &left[t], &split[t]);
        if (first && !sts[0] && left[0] && b[0].o.alpha_steps) {
            /* optimized slopes for the root's intermediate bounds too
             * (every subdomain keeps them), as many steps as about 5% of
             * the timeout pays for, measured by the pass just made */
            const double cost = foil_now() - started, budget = 0.05 * (o->timeout > 0 ? o->timeout : 60.0);
            int steps = b[0].o.alpha_steps;
            if (cost * 3 * steps > budget) steps = (int)(budget / (3 * cost));
            if (steps >= 3) {
                for (int t = 0; t < ready; t++) b[t].o.alpha_intermediate_steps = steps;
                sts[0] = bound_and_pick(&b[0], &batch[0], &left[0], &split[0]);
            }
        }
        for (int t = 0; t < n; t++) {
            Domain d = batch[t];
            r->domains++;
            if (!st) st = sts[t];
            if (first) {
                for (int64_t q = 0; q < p->n_disjuncts; q++) r->open_disjuncts += d.open[q];
                int64_t unstable = 0;
                for (int64_t q = 0; q < N; q++) unstable += b[t].is_relu_in[q] && b[t].qlo[q] < 0 && b[t].qhi[q] > 0;
                if (!o->quiet)
                    fprintf(stderr, "%s: %s over the box refutes %lld of %lld disjuncts (%lld unstable ReLUs, %.2f s)\n",
                            p->path, b[t].o.alpha_steps ? "alpha-CROWN" : "CROWN",
                            (long long)(p->n_disjuncts - left[t]), (long long)p->n_disjuncts, (long long)unstable,
                            foil_now() - started);
            }
            first = 0;
            if (!st && left[t] && split[t] < 0 && !unresolved) {
                snprintf(r->why, sizeof r->why, "a subdomain with no unstable ReLU left is not refuted");
                r->stable_leaf = 1;
                unresolved = 1;
            }
            if (!st && !left[t]) decided += ldexp(1.0, -(int)(d.n_splits < 1000 ? d.n_splits : 1000));
            if (st || !left[t] || unresolved) {
                domain_free(&d);
                continue;
            }
            if (n_stack + 2 > cap) {
                Domain *ns = realloc(stack, (size_t)(2 * cap) * sizeof *ns);
                if (!ns) {
                    st = foil_error(FOIL_ERR_NOMEM, "out of memory");
                    domain_free(&d);
                    continue;
                }
                stack = ns, cap *= 2;
            }
            for (int side = 0; side < 2 && !st; side++) {
                Domain c = {malloc((size_t)(d.n_splits + 1) * sizeof *c.splits), d.n_splits + 1,
                            malloc((size_t)p->n_disjuncts), malloc((size_t)(2 * N) * sizeof *c.parent_q)};
                if (!c.splits || !c.open || !c.parent_q) {
                    domain_free(&c);
                    st = foil_error(FOIL_ERR_NOMEM, "out of memory");
                    break;
                }
                if (d.n_splits) memcpy(c.splits, d.splits, (size_t)d.n_splits * sizeof *c.splits);
                c.splits[d.n_splits] = (FoilBoundsSplit){split[t], side};
                memcpy(c.open, d.open, (size_t)p->n_disjuncts);
                memcpy(c.parent_q, b[t].qlo, (size_t)N * sizeof *c.parent_q);
                memcpy(c.parent_q + N, b[t].qhi, (size_t)N * sizeof *c.parent_q);
                stack[n_stack++] = c;
            }
            domain_free(&d);
        }
    }
    if (!st && !unresolved) r->answer = FOIL_VNNLIB_VERIFIED;
    if (unresolved) {
        r->worst_margin = INFINITY;
        for (int t = 0; t < ready; t++)
            if (b[t].worst < r->worst_margin) r->worst_margin = b[t].worst;
    }
    for (int64_t i = 0; i < n_stack; i++) domain_free(&stack[i]);
    free(stack);
    for (int t = 0; t < ready; t++) bab_free(&b[t]);
    return st;
}

foil_status foil_vnnlib_verify(foil_model *model, const foil_vnnlib *p, const foil_vnnlib_options *o,
                               foil_vnnlib_result *r)
{
    static const foil_vnnlib_options defaults = {0};
    if (!o) o = &defaults;
    if (!model || !p || !r) return foil_error(FOIL_ERR_ARG, "foil_vnnlib_verify: missing argument");
    memset(r, 0, sizeof *r);
    r->disjunct = -1;
    const double t0 = foil_now(), timeout = o->timeout > 0 ? o->timeout : 60.0, deadline = t0 + timeout;

    /* the verifier, for the model's declared example shape when it has the
     * property's number of inputs, else for a flat vector */
    int rank = foil_model_input_rank(model);
    const int64_t *shape = foil_model_input_shape(model);
    int64_t ex[8], numel = 1;
    int ex_rank = rank - 1;
    if (ex_rank >= 1 && ex_rank <= 8)
        for (int i = 1; i < rank; i++) numel *= shape[i] > 0 ? shape[i] : -1, ex[i - 1] = shape[i];
    if (ex_rank >= 1 && ex_rank <= 8 && numel > 0 && numel != p->n_inputs)
        return foil_error(FOIL_ERR_SHAPE, "%s: the property has %lld inputs and %lld outputs, the model %s takes %lld inputs",
                          p->path, (long long)p->n_inputs, (long long)p->n_outputs, foil_model_name(model),
                          (long long)numel);
    if (ex_rank < 1 || ex_rank > 8 || numel != p->n_inputs) ex_rank = 1, ex[0] = p->n_inputs;
    foil_verifier *v = NULL;
    foil_status st = foil_verify_new(model, ex_rank, ex, &v);
    if (st) return st;
    if (foil_verify_input_size(v) != p->n_inputs || foil_verify_classes(v) != p->n_outputs) {
        st = foil_error(FOIL_ERR_SHAPE, "%s: the property has %lld inputs and %lld outputs, the model %s %lld and %lld",
                        p->path, (long long)p->n_inputs, (long long)p->n_outputs, foil_model_name(model),
                        (long long)foil_verify_input_size(v), (long long)foil_verify_classes(v));
        foil_verify_free(v);
        return st;
    }
    /* time: the first attack at most 10%, bounds and branch and bound up to
     * 90%, and the rest for more attacks when nothing was decided */
    st = attack(model, p, o, t0 + 0.1 * timeout, r);
    if (!o->quiet && !st)
        fprintf(stderr, "%s: attack %s (%.2f s)\n", p->path,
                r->answer == FOIL_VNNLIB_FALSIFIED ? "found a counterexample" : "found none", foil_now() - t0);
    if (!st && r->answer != FOIL_VNNLIB_FALSIFIED) st = bab(v, p, o, t0 + 0.9 * timeout, r);
    /* undecided (a subdomain that no split can refute further suggests a
     * counterexample): what time is left goes to attacks from other starts */
    for (uint64_t round = 1; !st && r->answer == FOIL_VNNLIB_UNKNOWN && foil_now() < deadline; round++) {
        foil_vnnlib_options again = *o;
        again.seed = o->seed + round;
        again.restarts = 4 * (o->restarts > 0 ? o->restarts : 8);
        again.steps = 2 * (o->steps > 0 ? o->steps : 100);
        st = attack(model, p, &again, deadline, r);
    }
    foil_verify_free(v);
    r->seconds = foil_now() - t0;
    return st;
}

void foil_vnnlib_result_free(foil_vnnlib_result *r)
{
    if (!r) return;
    free(r->x), free(r->y);
    r->x = r->y = NULL;
}

foil_status foil_vnnlib_write_result(const char *path, const foil_vnnlib *p, const foil_vnnlib_result *r)
{
    if (r->answer != FOIL_VNNLIB_FALSIFIED) {
        const char *text = r->answer == FOIL_VNNLIB_VERIFIED ? "unsat\n" : "unknown\n";
        return foilWriteFileAtomic(path, text, strlen(text));
    }
    size_t cap = (size_t)(p->n_inputs + p->n_outputs) * 48 + 64, len = 0;
    char *buf = malloc(cap);
    if (!buf) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    len += (size_t)snprintf(buf + len, cap - len, "sat\n(");
    for (int64_t j = 0; j < p->n_inputs; j++)
        len += (size_t)snprintf(buf + len, cap - len, "%s(X_%lld %.17g)\n", j ? " " : "", (long long)j, (double)r->x[j]);
    for (int64_t j = 0; j < p->n_outputs; j++)
        len += (size_t)snprintf(buf + len, cap - len, " (Y_%lld %.17g)%s\n", (long long)j, (double)r->y[j],
                                j + 1 == p->n_outputs ? ")" : "");
    foil_status st = foilWriteFileAtomic(path, buf, len);
    free(buf);
    return st;
}
