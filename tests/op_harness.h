/*
 * tests/op_harness.h - run one operator outside any graph, for unit and
 * gradient tests. It prepares a FoilNode and FoilOpCtx the way the planner
 * does, so ops are tested through exactly the interface the engine uses.
 */
#ifndef FOIL_TEST_OP_HARNESS_H
#define FOIL_TEST_OP_HARNESS_H

#include <stdint.h>

#include "foil/tensor.h"
#include "nn/op.h"

#define OPC_MAX_IO 16

typedef struct op_case {
    FoilNode node;
    int n_in, n_out;
    foil_tensor in[OPC_MAX_IO], out[OPC_MAX_IO];
    foil_tensor d_in[OPC_MAX_IO], d_out[OPC_MAX_IO];
    foil_tensor *pin[OPC_MAX_IO], *pout[OPC_MAX_IO];
    foil_tensor *pdin[OPC_MAX_IO], *pdout[OPC_MAX_IO];
    unsigned char known[OPC_MAX_IO];
    int prepared;
} op_case;

/* Exit with 77 (ctest's "skipped") when FOIL_KERNELS names a kernel set
 * this build or CPU cannot run: tests/CMakeLists.txt runs every op test once
 * per kernel set, and a set the CPU lacks must skip, not fail. Call first. */
void opc_skip_unless_kernels_run(void);

/* A node of ONNX type `type` with n_in inputs and n_out outputs (opset 18;
 * change node.opset before opc_prepare for older behaviour). Every input is
 * absent until set. Aborts the test program if the op is not registered. */
op_case *opc_new(const char *type, int n_in, int n_out);

/* Input i from data (copied). known: the planner would know its value at plan
 * time (a constant or shape tensor). */
void opc_input(op_case *oc, int i, foil_dtype dt, int ndim, const int64_t *shape, const void *data, int known);
/* Input i as float32 filled with N(0, scale^2) values from `seed`. */
void opc_input_randn(op_case *oc, int i, int ndim, const int64_t *shape, float scale, uint64_t seed);
/* Mark output i absent (an omitted optional output). */
void opc_output_absent(op_case *oc, int i);

void opc_attr_int(op_case *oc, const char *name, int64_t v);
void opc_attr_float(op_case *oc, const char *name, float v);
void opc_attr_string(op_case *oc, const char *name, const char *s);
void opc_attr_ints(op_case *oc, const char *name, int n, const int64_t *v);
void opc_attr_floats(op_case *oc, const char *name, int n, const float *v);
void opc_attr_strings(op_case *oc, const char *name, int n, const char *const *v);
void opc_attr_tensor(op_case *oc, const char *name, const foil_tensor *t); /* copied */

/* init + infer + allocate outputs, gradients and workspace. */
foil_status opc_prepare(op_case *oc);
foil_status opc_forward(op_case *oc, int training);

/* Central finite-difference check of dL/d in[i], where L = sum over float
 * outputs of <w_k, out_k> with fixed random weights w (accumulated in double).
 * Runs forward (training flag as given) and backward with d_out = w, compares
 * against (L(x + h e_j) - L(x - h e_j)) / 2h for every element j. Returns the
 * largest |analytic - numeric| / max(1, |numeric|_inf) over elements. Also
 * checks that backward accumulates (+=) rather than overwrites, and, for an
 * op that lists input i in writes_grads, that backward with d_in_fresh set
 * writes every element (from a NaN-filled buffer) with the same gradient. */
double opc_gradcheck(op_case *oc, int i, float h, int training);

void opc_free(op_case *oc);

/* Flat index into a tensor of shape s (rank n) broadcast (numpy) to the
 * output shape o (rank no), for output flat index i: a naive reference for
 * the broadcasting ops' tests. */
int64_t opc_bcast_index(int n, const int64_t *s, int no, const int64_t *o, int64_t i);

/* Max |a - b| over float32 arrays. */
double max_abs_diff(const float *a, const float *b, int64_t n);

#endif
