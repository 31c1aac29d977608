/*
 * nn/ops/registry.c - the table of supported ONNX operators of one kernel set
 * (nn/kernel_set.h). Each family file (conv.c, pool.c, ...) defines its
 * FoilOp tables; nn/kernel_sets.c looks operators up in the chosen set's.
 */
#include "foil/loss.h"
#include "nn/kernel_set.h"

#define FOIL_OPS(X)                                                                       \
    X(Conv) X(MaxPool) X(AveragePool) X(GlobalAveragePool)                                \
    X(Gemm) X(MatMul)                                                                     \
    X(Add) X(Sub) X(Mul) X(Div) X(Relu) X(LeakyRelu) X(Sigmoid) X(Tanh) X(Clip) X(Round)           \
    X(Softmax) X(LogSoftmax) X(SoftmaxCrossEntropyLoss)                                   \
    X(BatchNormalization)                                                                 \
    X(Flatten) X(Reshape) X(Transpose) X(Concat) X(Pad) X(Shape) X(Gather) X(Unsqueeze)   \
    X(Squeeze) X(Constant) X(Identity) X(Dropout)                                         \
    /* math.c, compare.c, reduce.c, norm.c */                                           \
    X(Pow) X(Sqrt) X(Exp) X(Log) X(Neg) X(Abs) X(Reciprocal) X(Erf) X(Gelu)               \
    X(HardSigmoid) X(HardSwish) X(Equal) X(Less) X(Greater) X(Not) X(Where)               \
    X(ReduceMean) X(ReduceSum) X(ReduceMax) X(ReduceMin) X(ReduceL2) X(ArgMax) X(ArgMin)  \
    X(LayerNormalization) X(InstanceNormalization)                                        \
    /* slice.c, resize.c, einsum.c, rnn.c, shape.c */                                   \
    X(Slice) X(Split) X(Expand) X(Tile) X(Cast) X(CastLike) X(ConstantOfShape) X(Range)   \
    X(Einsum) X(Resize) X(LSTM) X(GRU)                                                    \
    /* variadic.c */                                                                    \
    X(Max) X(Min) X(Sum) X(Mean)                                                          \
    /* reduce.c, softmax.c, layout.c, shape.c, math.c, compare.c */                     \
    X(ReduceL1) X(ReduceSumSquare) X(ReduceLogSum) X(ReduceLogSumExp) X(ReduceProd)       \
    X(NegativeLogLikelihoodLoss) X(GatherElements) X(ScatterElements) X(Scatter) X(Size)  \
    X(Elu) X(Selu) X(Celu) X(Softplus) X(Softsign) X(ThresholdedRelu) X(PRelu)            \
    X(Sin) X(Cos) X(Tan) X(Asin) X(Acos) X(Atan) X(Sinh) X(Cosh) X(Asinh) X(Acosh)       \
    X(Atanh) X(Floor) X(Ceil) X(Sign) X(Shrink) X(IsNaN) X(IsInf) X(BitShift)              \
    X(GreaterOrEqual) X(LessOrEqual) X(And) X(Or) X(Xor) X(Mod)                           \
    /* axisops.c; reduce.c (GlobalMaxPool) */                                           \
    X(Trilu) X(CumSum) X(Hardmax) X(DepthToSpace) X(SpaceToDepth) X(GlobalMaxPool)        \
    X(EyeLike)

#define DECLARE(name) extern const FoilOp foilOp##name;
FOIL_OPS(DECLARE)
#undef DECLARE

#define ENTRY(name) &foilOp##name,
static const FoilOp *const ops[] = {FOIL_OPS(ENTRY)};
#undef ENTRY

#define FOIL_STRINGIFY_(x) #x
#define FOIL_STRINGIFY(x) FOIL_STRINGIFY_(x)

const FoilKernelSet foilKernelSetTable = {
    .name = FOIL_STRINGIFY(FOIL_KSET_SUFFIX),
    .ops = ops,
    .n_ops = (int)(sizeof ops / sizeof ops[0]),
    .softmax_xent = foil_softmax_xent,
};
