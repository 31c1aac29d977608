/*
 * nn/ops/registry.c - the table of supported ONNX operators.
 * Each family file (conv.c, pool.c, ...) defines its foil_op tables.
 */
#include <string.h>

#include "nn/op.h"

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

const foil_op *foil_op_find(const char *type)
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(ops[i]->type, type) == 0) return ops[i];
    return NULL;
}

const char *foil_op_list(void)
{
    static char list[1024];
    if (list[0]) return list;
    size_t used = 0;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t len = strlen(ops[i]->type);
        if (used + len + 3 >= sizeof list) break;
        if (used) { memcpy(list + used, ", ", 2); used += 2; }
        memcpy(list + used, ops[i]->type, len);
        used += len;
    }
    list[used] = '\0';
    return list;
}
