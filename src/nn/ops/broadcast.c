/*
 * nn/ops/broadcast.c - see broadcast.h.
 */
#include <string.h>

#include "nn/op.h"
#include "nn/ops/broadcast.h"

int foilBcastShape(int na, const int64_t *a, int nb, const int64_t *b, int *nout, int64_t *out,
                     int *bad_dim)
{
    int n = na > nb ? na : nb;
    for (int i = 0; i < n; i++) {
        int ia = i - (n - na), ib = i - (n - nb);
        int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        if (da == db || db == 1) out[i] = da;
        else if (da == 1) out[i] = db;
        else {
            if (bad_dim) *bad_dim = i;
            return -1;
        }
    }
    *nout = n;
    return 0;
}

int foilBcastTo(int nx, const int64_t *x, int nout, const int64_t *out)
{
    if (nx > nout) {
        /* Extra leading dims are fine only if they are all 1. */
        for (int i = 0; i < nx - nout; i++)
            if (x[i] != 1) return 0;
        x += nx - nout;
        nx = nout;
    }
    for (int i = 0; i < nx; i++) {
        int64_t d = x[i], o = out[nout - nx + i];
        if (d != o && d != 1) return 0;
    }
    return 1;
}

void foilBcastPlan(FoilBcast *bc, int nout, const int64_t *out, int nops, const int *nd,
                     const int64_t *const *shapes)
{
    memset(bc, 0, sizeof *bc);
    bc->nops = nops;
    int64_t numel = 1;
    for (int i = 0; i < nout; i++) numel *= out[i];
    bc->numel = numel;

    /* Per output dim (extent > 1 only): which operands are full there. */
    int64_t ext[FOIL_MAX_DIMS];
    unsigned full[FOIL_MAX_DIMS];
    int m = 0;
    for (int i = 0; i < nout; i++) {
        if (out[i] == 1) continue;
        unsigned mask = 0;
        for (int k = 0; k < nops; k++) {
            int j = i - (nout - nd[k]);
            if (j >= 0 && shapes[k][j] == out[i]) mask |= 1u << k;
        }
        /* Coalesce with the previous kept dim when every operand agrees. */
        if (m > 0 && full[m - 1] == mask) {
            ext[m - 1] *= out[i];
        } else {
            ext[m] = out[i];
            full[m] = mask;
            m++;
        }
    }
    if (m == 0) { /* a single element (or an all-ones shape) */
        ext[0] = 1;
        full[0] = (1u << nops) - 1;
        m = 1;
    }
    bc->ndim = m;
    for (int d = 0; d < m; d++) bc->n[d] = ext[d];
    for (int k = 0; k < nops; k++) {
        int64_t stride = 1;
        for (int d = m - 1; d >= 0; d--) {
            if (full[d] & (1u << k)) {
                bc->s[k][d] = stride;
                stride *= ext[d];
            } else {
                bc->s[k][d] = 0;
            }
        }
    }
    bc->inner = bc->n[m - 1];
    bc->rows = bc->inner ? numel / bc->inner : 0;
}

void foilBcastReducePlan(FoilBcastReduce *r, const FoilBcast *bc, int k)
{
    memset(r, 0, sizeof *r);
    int nops = bc->nops;
    /* Output strides: contiguous over the coalesced shape. */
    int64_t os[FOIL_MAX_DIMS];
    int64_t stride = 1;
    for (int d = bc->ndim - 1; d >= 0; d--) {
        os[d] = stride;
        stride *= bc->n[d];
    }
    r->nx = 1;
    r->nsum = 1;
    for (int d = 0; d < bc->ndim; d++) {
        int keep = bc->s[k][d] != 0 || bc->n[d] == 1;
        if (keep) {
            r->fn[r->nf] = bc->n[d];
            for (int q = 0; q < nops; q++) r->fs[q][r->nf] = bc->s[q][d];
            r->fs[nops][r->nf] = os[d];
            r->nx *= bc->n[d];
            r->nf++;
        } else {
            r->rn[r->nr] = bc->n[d];
            for (int q = 0; q < nops; q++) r->rs[q][r->nr] = bc->s[q][d];
            r->rs[nops][r->nr] = os[d];
            r->nsum *= bc->n[d];
            r->nr++;
        }
    }
}

void foilBcastSumInto(float *dx, int nx, const int64_t *xs, const float *g, int nout, const int64_t *out)
{
    FoilBcast bc;
    const int nd[1] = {nx};
    const int64_t *shapes[1] = {xs};
    foilBcastPlan(&bc, nout, out, 1, nd, shapes);
    if (bc.numel == 0) return;
    int64_t n = 1;
    for (int d = 0; d < nx; d++) n *= xs[d];
    if (n == bc.numel) { /* not broadcast: same flat index */
#pragma omp parallel for if (n >= FOIL_PAR_MIN) schedule(static)
        for (int64_t i = 0; i < n; i++) dx[i] += g[i];
        return;
    }
    FoilBcastReduce r;
    foilBcastReducePlan(&r, &bc, 0);
    const int last = r.nr - 1; /* nr >= 1: x is broadcast somewhere */
    const int64_t run = r.rn[last], runs = r.nsum / run, gg = r.rs[1][last];
#pragma omp parallel for if (bc.numel >= FOIL_PAR_MIN && r.nx > 1) schedule(static)
    for (int64_t e = 0; e < r.nx; e++) {
        int64_t og = 0, q = e;
        for (int d = r.nf - 1; d >= 0 && q > 0; d--) {
            int64_t p = q / r.fn[d];
            og += (q - p * r.fn[d]) * r.fs[1][d];
            q = p;
        }
        double acc = 0;
        for (int64_t s = 0; s < runs; s++) {
            int64_t pg = og, u = s;
            for (int d = last - 1; d >= 0 && u > 0; d--) {
                int64_t p = u / r.rn[d];
                pg += (u - p * r.rn[d]) * r.rs[1][d];
                u = p;
            }
            float part = 0;
            for (int64_t j = 0; j < run; j++) part += g[pg + j * gg];
            acc += part;
        }
        dx[e] += (float)acc;
    }
}

/* Broadcast output shape of inputs [0, n) into out[0] with dtype dt. */
foil_status foilBcastInferOut(FoilOpCtx *c, int n, foil_dtype dt)
{
    int no = c->in[0]->ndim, bad = 0;
    int64_t os[FOIL_MAX_DIMS];
    memcpy(os, c->in[0]->shape, sizeof(int64_t) * (size_t)no);
    for (int i = 1; i < n; i++) {
        int64_t prev[FOIL_MAX_DIMS];
        int np = no;
        memcpy(prev, os, sizeof prev);
        if (foilBcastShape(np, prev, c->in[i]->ndim, c->in[i]->shape, &no, os, &bad)) {
            char s[96];
            return foilNodeError(c, FOIL_ERR_SHAPE, "input %d's shape %s cannot be broadcast with the others (output dim %d)",
                                 i, foil_shape_str(c->in[i], s, sizeof s), bad);
        }
    }
    if (foil_tensor_set_shape(c->out[0], dt, no, os)) return foilNodeError(c, FOIL_ERR_SHAPE, "%s", foil_last_error());
    return FOIL_OK;
}

void foilBcastPlanInputs(const FoilOpCtx *c, int n, FoilBcast *bc)
{
    int nd[FOIL_BCAST_MAX_OPS];
    const int64_t *shapes[FOIL_BCAST_MAX_OPS];
    for (int i = 0; i < n; i++) {
        nd[i] = c->in[i]->ndim;
        shapes[i] = c->in[i]->shape;
    }
    foilBcastPlan(bc, c->out[0]->ndim, c->out[0]->shape, n, nd, shapes);
}
