/*
 * nn/ops/registry.c - the table of supported ONNX operators of one kernel set
 * (nn/kernel_set.h). Each family file (conv.c, pool.c, ...) defines its
 * foil_op tables; nn/kernel_sets.c looks operators up in the chosen set's.
 */
#include "foil/loss.h"
#include "nn/kernel_set.h"

#define FOIL_OPS(X)                                                                       \
    X(conv) X(maxpool) X(averagepool) X(globalaveragepool)                                \
    X(gemm) X(matmul)                                                                     \
    X(add) X(sub) X(mul) X(div) X(relu) X(leakyrelu) X(sigmoid) X(tanh) X(clip)           \
    X(softmax) X(logsoftmax) X(softmaxcrossentropyloss)                                   \
    X(batchnormalization)                                                                 \
    X(flatten) X(reshape) X(transpose) X(concat) X(pad) X(shape) X(gather) X(unsqueeze)   \
    X(squeeze) X(constant) X(identity) X(dropout)

#define DECLARE(name) extern const foil_op foil_op_##name;
FOIL_OPS(DECLARE)
#undef DECLARE

#define ENTRY(name) &foil_op_##name,
static const foil_op *const ops[] = {FOIL_OPS(ENTRY)};
#undef ENTRY

#define FOIL_STRINGIFY_(x) #x
#define FOIL_STRINGIFY(x) FOIL_STRINGIFY_(x)

const foil_kernel_set foil_kernel_set_table = {
    .name = FOIL_STRINGIFY(FOIL_KSET_SUFFIX),
    .ops = ops,
    .n_ops = (int)(sizeof ops / sizeof ops[0]),
    .softmax_xent = foil_softmax_xent,
};
