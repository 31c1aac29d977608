/*
 * tests/bounds_tool.c - foil's bounds of C . logits over boxes, for the
 * cross-check against auto_LiRPA (tests/crown_lirpa.py), from NPY files:
 *
 *   bounds_tool MODEL.onnx LO.npy HI.npy C.npy ibp|crown|crown-only LB.npy UB.npy
 *
 * LO, HI (N, ...) float32 boxes; C (N, k, classes) float32 specs; LB, UB
 * come out (N, k). Exit 0, or 1 with foil's error on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foil/model.h"
#include "foil/npy.h"
#include "foil/verify.h"

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: %s MODEL LO.npy HI.npy C.npy ibp|crown|crown-only LB.npy UB.npy\n", argv[0]);
        return 2;
    }
    foil_model *m = NULL;
    foil_verifier *v = NULL;
    foil_tensor lo = {0}, hi = {0}, C = {0}, lb = {0}, ub = {0};
    foil_bounds_options o = {.method = FOIL_BOUNDS_CROWN};
    const char *method = argv[5];
    foil_status st = foil_model_load(argv[1], &m);
    if (!st) st = foil_npy_read_f32(argv[2], &lo);
    if (!st) st = foil_npy_read_f32(argv[3], &hi);
    if (!st) st = foil_npy_read_f32(argv[4], &C);
    if (!st && strcmp(method, "crown-only") == 0) o.crown_only = 1;
    else if (!st) st = foil_bounds_method_parse(method, &o.method);
    if (!st && (lo.ndim < 2 || !foil_tensor_same_shape(&lo, &hi) || C.ndim != 3 || C.shape[0] != lo.shape[0]))
        st = foil_error(FOIL_ERR_SHAPE, "LO and HI must be (N, ...) alike, C (N, k, classes)");
    if (!st) st = foil_verify_new(m, lo.ndim - 1, lo.shape + 1, &v);
    int64_t shape[2] = {C.shape[0], C.shape[1]};
    if (!st) st = foil_tensor_alloc(&lb, FOIL_F32, 2, shape);
    if (!st) st = foil_tensor_alloc(&ub, FOIL_F32, 2, shape);
    if (!st && C.shape[2] != foil_verify_classes(v)) st = foil_error(FOIL_ERR_SHAPE, "C has the wrong class count");
    if (!st)
        st = foil_bounds_compute(v, &o, lo.shape[0], foil_f32(&lo), foil_f32(&hi), foil_f32(&C), C.shape[1],
                                 foil_f32(&lb), foil_f32(&ub));
    if (!st) st = foil_npy_write(argv[6], &lb);
    if (!st) st = foil_npy_write(argv[7], &ub);
    if (st) fprintf(stderr, "bounds_tool: %s\n", foil_last_error());
    foil_tensor_free(&lo), foil_tensor_free(&hi), foil_tensor_free(&C), foil_tensor_free(&lb), foil_tensor_free(&ub);
    foil_verify_free(v);
    foil_model_free(m);
    return st ? 1 : 0;
}
