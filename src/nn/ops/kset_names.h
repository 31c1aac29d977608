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
#define foil_kernel_set_table FOIL_KSET_NAME(foil_kernel_set_table)

/* broadcast.c */
#define foil_bcast_plan FOIL_KSET_NAME(foil_bcast_plan)
#define foil_bcast_reduce_plan FOIL_KSET_NAME(foil_bcast_reduce_plan)
#define foil_bcast_shape FOIL_KSET_NAME(foil_bcast_shape)
#define foil_bcast_to FOIL_KSET_NAME(foil_bcast_to)

/* im2col.c */
#define foil_col2im FOIL_KSET_NAME(foil_col2im)
#define foil_im2col FOIL_KSET_NAME(foil_im2col)
#define foil_winattr_parse FOIL_KSET_NAME(foil_winattr_parse)
#define foil_window_resolve FOIL_KSET_NAME(foil_window_resolve)

/* kernels.c */
#define foil_dconv_pad FOIL_KSET_NAME(foil_dconv_pad)
#define foil_dconv_run FOIL_KSET_NAME(foil_dconv_run)
#define foil_dconv_setup FOIL_KSET_NAME(foil_dconv_setup)
#define foil_gemv_axpy FOIL_KSET_NAME(foil_gemv_axpy)
#define foil_gemv_dot FOIL_KSET_NAME(foil_gemv_dot)
#define foil_wino_run FOIL_KSET_NAME(foil_wino_run)
#define foil_wino_setup FOIL_KSET_NAME(foil_wino_setup)
#define foil_wino_weights FOIL_KSET_NAME(foil_wino_weights)

/* softmax.c (the public foil_softmax_xent is nn/kernel_sets.c's, which calls the set's) */
#define foil_softmax_xent FOIL_KSET_NAME(foil_softmax_xent)

/* The op tables, one per ONNX operator (registry.c lists them). */
#define foil_op_add FOIL_KSET_NAME(foil_op_add)
#define foil_op_averagepool FOIL_KSET_NAME(foil_op_averagepool)
#define foil_op_batchnormalization FOIL_KSET_NAME(foil_op_batchnormalization)
#define foil_op_clip FOIL_KSET_NAME(foil_op_clip)
#define foil_op_concat FOIL_KSET_NAME(foil_op_concat)
#define foil_op_constant FOIL_KSET_NAME(foil_op_constant)
#define foil_op_conv FOIL_KSET_NAME(foil_op_conv)
#define foil_op_div FOIL_KSET_NAME(foil_op_div)
#define foil_op_dropout FOIL_KSET_NAME(foil_op_dropout)
#define foil_op_flatten FOIL_KSET_NAME(foil_op_flatten)
#define foil_op_gather FOIL_KSET_NAME(foil_op_gather)
#define foil_op_gemm FOIL_KSET_NAME(foil_op_gemm)
#define foil_op_globalaveragepool FOIL_KSET_NAME(foil_op_globalaveragepool)
#define foil_op_identity FOIL_KSET_NAME(foil_op_identity)
#define foil_op_leakyrelu FOIL_KSET_NAME(foil_op_leakyrelu)
#define foil_op_logsoftmax FOIL_KSET_NAME(foil_op_logsoftmax)
#define foil_op_matmul FOIL_KSET_NAME(foil_op_matmul)
#define foil_op_maxpool FOIL_KSET_NAME(foil_op_maxpool)
#define foil_op_mul FOIL_KSET_NAME(foil_op_mul)
#define foil_op_pad FOIL_KSET_NAME(foil_op_pad)
#define foil_op_relu FOIL_KSET_NAME(foil_op_relu)
#define foil_op_reshape FOIL_KSET_NAME(foil_op_reshape)
#define foil_op_shape FOIL_KSET_NAME(foil_op_shape)
#define foil_op_sigmoid FOIL_KSET_NAME(foil_op_sigmoid)
#define foil_op_softmax FOIL_KSET_NAME(foil_op_softmax)
#define foil_op_softmaxcrossentropyloss FOIL_KSET_NAME(foil_op_softmaxcrossentropyloss)
#define foil_op_squeeze FOIL_KSET_NAME(foil_op_squeeze)
#define foil_op_sub FOIL_KSET_NAME(foil_op_sub)
#define foil_op_tanh FOIL_KSET_NAME(foil_op_tanh)
#define foil_op_transpose FOIL_KSET_NAME(foil_op_transpose)
#define foil_op_unsqueeze FOIL_KSET_NAME(foil_op_unsqueeze)

#endif
