/*
 * foil/arch.h - the built-in architectures, built as ONNX-exportable graphs.
 *
 *   mlp           Flatten, then Gemm+ReLU layers of the given hidden sizes,
 *                 then Gemm to the classes.
 *   cnn-small     Conv 1-32 3x3 pad 1, ReLU, MaxPool 2, Conv 32-64 3x3 pad 1,
 *                 ReLU, MaxPool 2, Flatten, Gemm 3136-128, ReLU, Gemm 128-10
 *                 (channels and sizes follow the input shape).
 *   lenet5        LeCun et al. 1998 with ReLU and max pooling: Conv 6 5x5
 *                 pad 2, ReLU, MaxPool 2, Conv 16 5x5, ReLU, MaxPool 2,
 *                 Gemm 120, ReLU, Gemm 84, ReLU, Gemm classes.
 *   cnn-tanh      the end-to-end DP-SGD CNN of Papernot et al. 2020 and
 *                 Tramer and Boneh 2021: Conv 16 8x8 stride 2 pad 2, tanh,
 *                 MaxPool 2 stride 1, Conv 32 4x4 stride 2, tanh, MaxPool 2
 *                 stride 1, Gemm 512-32, tanh, Gemm 32-10 (26,010 weights).
 *   resnet-mini   a small residual network with batch norm (He et al. 2016,
 *                 basic blocks), about 0.3M parameters.
 *
 * Text classifiers take token ids (N, L), int64 in the ONNX file (fed as
 * float32 whole numbers through the model interface), from a tokenizer of
 * foil/text.h with `vocab_size` ids:
 *   text-cnn      Kim 2014: Embedding 64, Conv1d widths 3, 4, 5 with 100
 *                 filters each, ReLU, max over the text, concatenated,
 *                 Gemm 300-classes.
 *   text-lstm     Embedding 64, LSTM 64, max over time, Gemm 64-classes.
 *   bow-logreg    logistic regression on the bag of words (padding
 *                 `pad_id` excluded): a (vocab, classes) table summed over
 *                 the tokens, plus a bias; starts from zero weights.
 *
 * Weights are initialized as PyTorch initializes the same layers (Kaiming-
 * uniform with a = sqrt(5) for Conv and Gemm weights, uniform(+-1/sqrt(fan_in))
 * for biases, BatchNorm scale 1, bias 0, running mean 0, variance 1,
 * Embedding N(0, 1), LSTM/GRU weights and biases uniform(+-1/sqrt(hidden))), from
 * the given seed. If `mean`/`std` are given (one value per input feature),
 * the graph starts with (x - mean) / std as constant Sub and Div nodes, so
 * the model takes raw inputs and attacks work in the data's own units.
 */
#ifndef FOIL_ARCH_H
#define FOIL_ARCH_H

#include <stdint.h>

#include "foil/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct foil_arch_spec {
    const char *name;            /* "mlp", "cnn-small", ..., "text-cnn", "text-lstm", "bow-logreg" */
    int input_rank;              /* 4 for (N, C, H, W), 2 for (N, F) or token ids (N, L) */
    int64_t input_shape[4];      /* without the batch: C, H, W, or F, or L */
    int64_t classes;
    const int64_t *hidden;       /* mlp hidden sizes (NULL: {128, 64}) */
    int n_hidden;
    const float *mean, *std;     /* optional input normalization */
    uint64_t seed;
    int64_t vocab_size, pad_id;  /* text architectures: ids lie in [0, vocab_size); pad_id pads short texts */
} foil_arch_spec;

/* Build a freshly initialized model. Errors name the architecture and the
 * problem (unknown name; input too small for the architecture's pooling). */
foil_status foil_arch_build(const foil_arch_spec *spec, foil_model **out);

/* Re-initialize every trainable weight of a loaded model as above (the
 * user's own architecture, --arch FILE.onnx). */
foil_status foil_model_reinit(foil_model *m, uint64_t seed);

/* Comma-separated list of architecture names. */
const char *foil_arch_list(void);

/* Whether `name` is a built-in text architecture (input: token ids). */
int foil_arch_is_text(const char *name);

#ifdef __cplusplus
}
#endif
#endif
