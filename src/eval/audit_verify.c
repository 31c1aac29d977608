/*
 * eval/audit_verify.c - the audit's verified accuracy (eval/audit.h):
 * sound CROWN bounds (foil/verify.h) on the first examples of the sample at
 * each Linf eps, smallest first, until one verifies none (a larger box
 * cannot do better in practice; those eps are reported as not bounded).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/audit.h"
#include "foil/progress.h"
#include "foil/verify.h"

foil_status foilAuditVerify(FoilAudit *a, const FoilAuditModels *m, const foil_dataset *d, const foil_tensor *x,
                            const int64_t *y, int64_t examples)
{
    if (!a->config.n_eps_linf || examples <= 0) return FOIL_OK;
    if (m->adaptive) {
        foilAuditSkip(a, "verified accuracy (CROWN): the bounds would cover the model without its declared "
                     "preprocessing");
        return FOIL_OK;
    }
    foil_verifier *v = NULL;
    if (foil_verify_new(m->model, x->ndim - 1, x->shape + 1, &v)) {
        foilAuditSkip(a, "verified accuracy (CROWN): the verifier does not take this model (an ONNX graph of Conv, "
                     "Gemm, Relu, pooling, BatchNorm and affine ops only)");
        return FOIL_OK;
    }
    const int64_t n = examples < x->shape[0] ? examples : x->shape[0], f = x->numel / x->shape[0];
    foil_tensor head = *x;
    head.shape[0] = n, head.numel = n * f, head.owns_data = 0;
    uint8_t *ok = malloc((size_t)(n ? n : 1));
    foil_status st = ok ? FOIL_OK : foil_error(FOIL_ERR_NOMEM, "out of memory");
    foil_bounds_options o = {.method = FOIL_BOUNDS_CROWN};
    for (int k = 0; !st && k < a->config.n_eps_linf && a->n_verified < FOIL_AUDIT_MAX_EPS; k++) {
        const double eps = a->config.eps_linf[k];
        if (!a->config.quiet)
            fprintf(stderr, "foil audit: CROWN bounds on %lld examples at Linf eps %g\n", (long long)n, eps);
        const double start = foil_now();
        st = foil_verify_linf(v, &o, &head, y, (float)eps, foil_f32(&d->lower), foil_f32(&d->upper), ok, NULL);
        if (st) break;
        int64_t count = 0;
        for (int64_t i = 0; i < n; i++) count += ok[i];
        FoilAuditVerified *r = &a->verified[a->n_verified++];
        r->eps = eps, r->verified = foilAuditFigure(count, n), r->seconds = foil_now() - start;
        if (count == 0 && k + 1 < a->config.n_eps_linf) {
            foilAuditSkip(a, "verified accuracy at the larger Linf eps: none was verified at a smaller one");
            break;
        }
    }
    free(ok);
    foil_verify_free(v);
    return st;
}
