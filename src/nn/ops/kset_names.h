/*
 * nn/ops/kset_names.h - per-kernel-set names of src/nn/ops's external symbols.
 *
 * The files of src/nn/ops are compiled once per kernel set (baseline, avx2,
 * avx512; or native alone: see CMakeLists.txt and core/cpu.c), each time with
 * its own -march and with this header force-included (-include) and
 * FOIL_KSET_SUFFIX set to the set's name. Every symbol one op file exports to
 * another (or to nn/kernel_sets.c) is renamed here to NAME_<set>, so that each
 * set's objects link only to each other and the avx512 set's code cannot be
 * reached except through its own table, which nn/kernel_sets.c hands out only
 * on a CPU that runs it.
 *
 * A symbol missing from this list is caught at link time (defined once per
 * set: "multiple definition") and by tests/test_kset_symbols.sh, which checks
 * that every global symbol each set's objects define carries its suffix.
 * Code outside src/nn/ops that must call one set directly (tests/test_kernels.c)
 * is compiled with the same header and suffix, but for the baseline ISA.
 */
#ifndef FOIL_NN_OPS_KSET_NAMES_H
#define FOIL_NN_OPS_KSET_NAMES_H

#ifndef FOIL_KSET_SUFFIX
#error "kset_names.h needs FOIL_KSET_SUFFIX (the kernel set's name); see CMakeLists.txt"
#endif

#define FOIL_KSET_PASTE(name, set) name##_##set
#define FOIL_KSET_JOIN(name, set) FOIL_KSET_PASTE(name, set)
#define FOIL_KSET_NAME(name) FOIL_KSET_JOIN(name, FOIL_KSET_SUFFIX)

/* registry.c: the set's table (nn/kernel_set.h) */
#define foilKernelSetTable FOIL_KSET_NAME(foilKernelSetTable)

/* broadcast.c */
#define foilBcastInferOut FOIL_KSET_NAME(foilBcastInferOut)
#define foilBcastPlan FOIL_KSET_NAME(foilBcastPlan)
#define foilBcastPlanInputs FOIL_KSET_NAME(foilBcastPlanInputs)
#define foilBcastReducePlan FOIL_KSET_NAME(foilBcastReducePlan)
#define foilBcastShape FOIL_KSET_NAME(foilBcastShape)
#define foilBcastSumInto FOIL_KSET_NAME(foilBcastSumInto)
#define foilBcastTo FOIL_KSET_NAME(foilBcastTo)

/* im2col.c */
#define foilCol2im FOIL_KSET_NAME(foilCol2im)
#define foilIm2col FOIL_KSET_NAME(foilIm2col)
#define foilIm2colRows FOIL_KSET_NAME(foilIm2colRows)
#define foilWinattrParse FOIL_KSET_NAME(foilWinattrParse)
#define foilWindowResolve FOIL_KSET_NAME(foilWindowResolve)

/* kernels.c */
#define foilDconvPad FOIL_KSET_NAME(foilDconvPad)
#define foilDconvRun FOIL_KSET_NAME(foilDconvRun)
#define foilDconvSetup FOIL_KSET_NAME(foilDconvSetup)
#define foilGemvAxpy FOIL_KSET_NAME(foilGemvAxpy)
#define foilGemvDot FOIL_KSET_NAME(foilGemvDot)
#define foilWinoRun FOIL_KSET_NAME(foilWinoRun)
#define foilWinoRunSamples FOIL_KSET_NAME(foilWinoRunSamples)
#define foilWinoSetup FOIL_KSET_NAME(foilWinoSetup)
#define foilWinoWeights FOIL_KSET_NAME(foilWinoWeights)

/* softmax.c (the public foil_softmax_xent is nn/kernel_sets.c's, which calls the set's) */
#define foil_softmax_xent FOIL_KSET_NAME(foilSoftmaxXent)

/* The op tables, one per ONNX operator (registry.c lists them). */
#define foilOpAdd FOIL_KSET_NAME(foilOpAdd)
#define foilOpAveragePool FOIL_KSET_NAME(foilOpAveragePool)
#define foilOpBatchNormalization FOIL_KSET_NAME(foilOpBatchNormalization)
#define foilOpClip FOIL_KSET_NAME(foilOpClip)
#define foilOpConcat FOIL_KSET_NAME(foilOpConcat)
#define foilOpConstant FOIL_KSET_NAME(foilOpConstant)
#define foilOpConv FOIL_KSET_NAME(foilOpConv)
#define foilOpDiv FOIL_KSET_NAME(foilOpDiv)
#define foilOpDropout FOIL_KSET_NAME(foilOpDropout)
#define foilOpFlatten FOIL_KSET_NAME(foilOpFlatten)
#define foilOpGather FOIL_KSET_NAME(foilOpGather)
#define foilOpGatherElements FOIL_KSET_NAME(foilOpGatherElements)
#define foilOpGemm FOIL_KSET_NAME(foilOpGemm)
#define foilOpGlobalAveragePool FOIL_KSET_NAME(foilOpGlobalAveragePool)
#define foilOpIdentity FOIL_KSET_NAME(foilOpIdentity)
#define foilOpLeakyRelu FOIL_KSET_NAME(foilOpLeakyRelu)
#define foilOpLogSoftmax FOIL_KSET_NAME(foilOpLogSoftmax)
#define foilOpMatMul FOIL_KSET_NAME(foilOpMatMul)
#define foilOpMaxPool FOIL_KSET_NAME(foilOpMaxPool)
#define foilOpMul FOIL_KSET_NAME(foilOpMul)
#define foilOpNegativeLogLikelihoodLoss FOIL_KSET_NAME(foilOpNegativeLogLikelihoodLoss)
#define foilOpPad FOIL_KSET_NAME(foilOpPad)
#define foilOpRelu FOIL_KSET_NAME(foilOpRelu)
#define foilOpReshape FOIL_KSET_NAME(foilOpReshape)
#define foilOpRound FOIL_KSET_NAME(foilOpRound)
#define foilOpScatter FOIL_KSET_NAME(foilOpScatter)
#define foilOpScatterElements FOIL_KSET_NAME(foilOpScatterElements)
#define foilOpShape FOIL_KSET_NAME(foilOpShape)
#define foilOpSize FOIL_KSET_NAME(foilOpSize)
#define foilOpSigmoid FOIL_KSET_NAME(foilOpSigmoid)
#define foilOpSoftmax FOIL_KSET_NAME(foilOpSoftmax)
#define foilOpSoftmaxCrossEntropyLoss FOIL_KSET_NAME(foilOpSoftmaxCrossEntropyLoss)
#define foilOpSqueeze FOIL_KSET_NAME(foilOpSqueeze)
#define foilOpSub FOIL_KSET_NAME(foilOpSub)
#define foilOpTanh FOIL_KSET_NAME(foilOpTanh)
#define foilOpTranspose FOIL_KSET_NAME(foilOpTranspose)
#define foilOpUnsqueeze FOIL_KSET_NAME(foilOpUnsqueeze)
/* math.c, compare.c, reduce.c, norm.c (LayerNormalization, InstanceNormalization) */
#define foilOpAbs FOIL_KSET_NAME(foilOpAbs)
#define foilOpArgMax FOIL_KSET_NAME(foilOpArgMax)
#define foilOpArgMin FOIL_KSET_NAME(foilOpArgMin)
#define foilOpEqual FOIL_KSET_NAME(foilOpEqual)
#define foilOpErf FOIL_KSET_NAME(foilOpErf)
#define foilOpExp FOIL_KSET_NAME(foilOpExp)
#define foilOpGelu FOIL_KSET_NAME(foilOpGelu)
#define foilOpGreater FOIL_KSET_NAME(foilOpGreater)
#define foilOpHardSigmoid FOIL_KSET_NAME(foilOpHardSigmoid)
#define foilOpHardSwish FOIL_KSET_NAME(foilOpHardSwish)
#define foilOpInstanceNormalization FOIL_KSET_NAME(foilOpInstanceNormalization)
#define foilOpLayerNormalization FOIL_KSET_NAME(foilOpLayerNormalization)
#define foilOpLess FOIL_KSET_NAME(foilOpLess)
#define foilOpLog FOIL_KSET_NAME(foilOpLog)
#define foilOpNeg FOIL_KSET_NAME(foilOpNeg)
#define foilOpNot FOIL_KSET_NAME(foilOpNot)
#define foilOpPow FOIL_KSET_NAME(foilOpPow)
#define foilOpReciprocal FOIL_KSET_NAME(foilOpReciprocal)
#define foilOpReduceL1 FOIL_KSET_NAME(foilOpReduceL1)
#define foilOpReduceL2 FOIL_KSET_NAME(foilOpReduceL2)
#define foilOpReduceLogSum FOIL_KSET_NAME(foilOpReduceLogSum)
#define foilOpReduceLogSumExp FOIL_KSET_NAME(foilOpReduceLogSumExp)
#define foilOpReduceProd FOIL_KSET_NAME(foilOpReduceProd)
#define foilOpReduceSumSquare FOIL_KSET_NAME(foilOpReduceSumSquare)
#define foilOpReduceMax FOIL_KSET_NAME(foilOpReduceMax)
#define foilOpReduceMean FOIL_KSET_NAME(foilOpReduceMean)
#define foilOpReduceMin FOIL_KSET_NAME(foilOpReduceMin)
#define foilOpReduceSum FOIL_KSET_NAME(foilOpReduceSum)
#define foilOpSqrt FOIL_KSET_NAME(foilOpSqrt)
#define foilOpWhere FOIL_KSET_NAME(foilOpWhere)

/* slice.c, cast.c, generate.c, resize.c, einsum.c, rnn.c; shape.c's shared checks (op_checks.h) */
#define foilKnownInts FOIL_KSET_NAME(foilKnownInts)
#define foilOpCheckArity FOIL_KSET_NAME(foilOpCheckArity)
#define foilOpCheckAttr FOIL_KSET_NAME(foilOpCheckAttr)
#define foilOpSetOutput FOIL_KSET_NAME(foilOpSetOutput)
#define foilOpCast FOIL_KSET_NAME(foilOpCast)
#define foilOpCastLike FOIL_KSET_NAME(foilOpCastLike)
#define foilOpConstantOfShape FOIL_KSET_NAME(foilOpConstantOfShape)
#define foilOpEinsum FOIL_KSET_NAME(foilOpEinsum)
#define foilOpEyeLike FOIL_KSET_NAME(foilOpEyeLike)
#define foilOpExpand FOIL_KSET_NAME(foilOpExpand)
#define foilOpGRU FOIL_KSET_NAME(foilOpGRU)
#define foilOpLSTM FOIL_KSET_NAME(foilOpLSTM)
#define foilOpRange FOIL_KSET_NAME(foilOpRange)
#define foilOpResize FOIL_KSET_NAME(foilOpResize)
#define foilOpSlice FOIL_KSET_NAME(foilOpSlice)
#define foilOpSplit FOIL_KSET_NAME(foilOpSplit)
#define foilOpTile FOIL_KSET_NAME(foilOpTile)

/* math.c: activations, trigonometric, rounding, PRelu */
#define foilOpAcos FOIL_KSET_NAME(foilOpAcos)
#define foilOpAcosh FOIL_KSET_NAME(foilOpAcosh)
#define foilOpAsin FOIL_KSET_NAME(foilOpAsin)
#define foilOpAsinh FOIL_KSET_NAME(foilOpAsinh)
#define foilOpAtan FOIL_KSET_NAME(foilOpAtan)
#define foilOpAtanh FOIL_KSET_NAME(foilOpAtanh)
#define foilOpCeil FOIL_KSET_NAME(foilOpCeil)
#define foilOpCelu FOIL_KSET_NAME(foilOpCelu)
#define foilOpCos FOIL_KSET_NAME(foilOpCos)
#define foilOpCosh FOIL_KSET_NAME(foilOpCosh)
#define foilOpElu FOIL_KSET_NAME(foilOpElu)
#define foilOpFloor FOIL_KSET_NAME(foilOpFloor)
#define foilOpPRelu FOIL_KSET_NAME(foilOpPRelu)
#define foilOpSelu FOIL_KSET_NAME(foilOpSelu)
#define foilOpShrink FOIL_KSET_NAME(foilOpShrink)
#define foilOpSign FOIL_KSET_NAME(foilOpSign)
#define foilOpSin FOIL_KSET_NAME(foilOpSin)
#define foilOpSinh FOIL_KSET_NAME(foilOpSinh)
#define foilOpSoftplus FOIL_KSET_NAME(foilOpSoftplus)
#define foilOpSoftsign FOIL_KSET_NAME(foilOpSoftsign)
#define foilOpTan FOIL_KSET_NAME(foilOpTan)
#define foilOpThresholdedRelu FOIL_KSET_NAME(foilOpThresholdedRelu)

/* compare.c: more comparisons, logic, IsNaN, IsInf, Mod, BitShift */
#define foilOpAnd FOIL_KSET_NAME(foilOpAnd)
#define foilOpBitShift FOIL_KSET_NAME(foilOpBitShift)
#define foilOpIsInf FOIL_KSET_NAME(foilOpIsInf)
#define foilOpIsNaN FOIL_KSET_NAME(foilOpIsNaN)
#define foilOpGreaterOrEqual FOIL_KSET_NAME(foilOpGreaterOrEqual)
#define foilOpLessOrEqual FOIL_KSET_NAME(foilOpLessOrEqual)
#define foilOpMod FOIL_KSET_NAME(foilOpMod)
#define foilOpOr FOIL_KSET_NAME(foilOpOr)
#define foilOpXor FOIL_KSET_NAME(foilOpXor)

/* variadic.c */
#define foilOpMax FOIL_KSET_NAME(foilOpMax)
#define foilOpMean FOIL_KSET_NAME(foilOpMean)
#define foilOpMin FOIL_KSET_NAME(foilOpMin)
#define foilOpSum FOIL_KSET_NAME(foilOpSum)

/* axisops.c; reduce.c (GlobalMaxPool) */
#define foilOpCumSum FOIL_KSET_NAME(foilOpCumSum)
#define foilOpDepthToSpace FOIL_KSET_NAME(foilOpDepthToSpace)
#define foilOpGlobalMaxPool FOIL_KSET_NAME(foilOpGlobalMaxPool)
#define foilOpHardmax FOIL_KSET_NAME(foilOpHardmax)
#define foilOpSpaceToDepth FOIL_KSET_NAME(foilOpSpaceToDepth)
#define foilOpTrilu FOIL_KSET_NAME(foilOpTrilu)

#endif
