/*
 * model/arch.c - the built-in architectures (foil/arch.h) as graphs of ONNX
 * operators, and PyTorch's default initialization for any model's weights.
 *
 * Every architecture is an ordinary foil graph at opset 13, built with
 * nn/builder.h: it plans, trains and attacks like a loaded model and
 * foil_model_save writes it as an ONNX file that ONNX Runtime and PyTorch
 * run unchanged. Initializer names follow PyTorch's state_dict names
 * ("conv1.weight", "layer2.0.downsample.1.running_var", ...), so the weights
 * load into the equivalent torch.nn module by name.
 *
 * Shapes: the input "input" is (N, C, H, W) for images or (N, F) for
 * features, N symbolic ("N"); the output "logits" is (N, classes).
 *
 * Optional normalization prefix (spec->mean and spec->std, one value per
 * element of an example, i.e. C*H*W or F values):
 *     x = Div(Sub(input, norm.mean), norm.std)
 * with norm.mean and norm.std Constant nodes shaped (1, C, H, W) or
 * (1, F): constants of the model, not weights, so never trained.
 *
 * The architectures, with the trainable parameter counts for a 1x28x28
 * input and 10 classes (PyTorch's count: BatchNorm running statistics are
 * buffers, not parameters):
 *
 *   mlp          Flatten, then fc1..fcK (Gemm, transB=1) + Relu per hidden
 *                size (default 128, 64), then Gemm to the classes.
 *                784-128-64-10: 109,386.
 *   cnn-small    conv1 3x3 C->32 pad 1, relu1, pool1 (MaxPool 2x2 stride 2),
 *                conv2 3x3 32->64 pad 1, relu2, pool2, flatten,
 *                fc1 (64*(H/4)*(W/4))->128, relu3, fc2 128->classes.
 *                421,642 (fc1 is 3136->128 for 28x28).
 *   lenet5       conv1 5x5 C->6 pad 2, relu1, pool1, conv2 5x5 6->16, relu2,
 *                pool2, flatten, fc1 ->120, relu3, fc2 120->84, relu4,
 *                fc3 84->classes. 61,706 (16*5*5 = 400 features at 28x28).
 *   cnn-tanh     the end-to-end CNN of DP-SGD on (Fashion-)MNIST: Papernot
 *                et al. 2020 ("Tempered Sigmoid Activations for Deep
 *                Learning with Differential Privacy", Table 1) with tanh,
 *                as Tramer and Boneh 2021 ("Differentially Private Learning
 *                Needs Better Features (or Much More Data)") train it
 *                (their models.py, MNIST_CNN):
 *                conv1 8x8 stride 2 pad 2 C->16, tanh1, pool1 (MaxPool 2x2
 *                stride 1), conv2 4x4 stride 2 32, tanh2, pool2 (2x2
 *                stride 1), flatten, fc1 ->32, tanh3, fc2 32->classes.
 *                28x28: 32x32 padded, 13x13, 12x12, 5x5, 4x4; fc1 512->32.
 *                26,010 parameters.
 *   resnet-mini  the CIFAR ResNet-20 of He et al. 2016 (section 4.2), with
 *                1x1 convolution + batch norm ("option B") shortcuts where
 *                the shape changes:
 *                  conv1 3x3 C->16 pad 1 (no bias), bn1, relu
 *                  layer1: 3 basic blocks, 16 channels,   H x W
 *                  layer2: 3 basic blocks, 32 channels,   ceil(H/2) x ceil(W/2)
 *                  layer3: 3 basic blocks, 64 channels,   ceil(H/4) x ceil(W/4)
 *                  avgpool (GlobalAveragePool), flatten, fc 64->classes
 *                a basic block layerS.B is
 *                  conv1 3x3 stride s pad 1 (no bias), bn1, relu1,
 *                  conv2 3x3 pad 1 (no bias), bn2,
 *                  add (+ the input, or downsample.0 = conv 1x1 stride s
 *                  (no bias) and downsample.1 = bn on it when s = 2), relu2
 *                where s = 2 for the first block of layer2 and layer3.
 *                272,186 parameters (272,474 for 3-channel inputs). With
 *                widths 16/32/64, 3 blocks per stage is what "about 0.3M"
 *                takes (2 per stage would be 174,970). Work per 28x28
 *                example: 31.0M multiply-adds forward, against 4.2M for
 *                cnn-small.
 *
 * Smallest inputs: cnn-small 4x4, lenet5 12x12 and cnn-tanh 16x16 (their
 * poolings must see at least one window); mlp and resnet-mini take any size.
 *
 * Initialization (init_params) is PyTorch's default for nn.Conv2d,
 * nn.Linear and nn.BatchNorm2d:
 *   weight ~ U(-b, b), b = gain * sqrt(3 / fan_in) with the Kaiming gain
 *            sqrt(2 / (1 + a^2)) for a = sqrt(5), i.e. b = 1 / sqrt(fan_in)
 *   bias   ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in of its layer's weight
 *   BatchNorm: scale 1, bias 0, running mean 0, running variance 1
 *            (epsilon 1e-5; ONNX momentum 0.9 = PyTorch momentum 0.1).
 * Each initialized tensor draws from its own RNG stream, keyed by the seed
 * and the tensor's index among the initialized tensors (in graph order), so
 * the weights do not depend on the thread count, and adding or removing the
 * normalization constants does not change them.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foil/arch.h"
#include "foil/rng.h"
#include "model/model_internal.h"
#include "nn/builder.h"

#define ARCH_OPSET 13
/* Bounds on sizes from the caller: any dimension, hidden size or class
 * count, the element count of one example, and of any one weight tensor. */
#define ARCH_MAX_DIM ((int64_t)1 << 24)
#define ARCH_MAX_EXAMPLE ((int64_t)1 << 28)
#define ARCH_MAX_WEIGHTS ((int64_t)1 << 30)
#define ARCH_MAX_HIDDEN 64
/* Separates weight-initialization streams from other users of the seed. */
#define INIT_STREAM 0x1a17f0e1c0000000ULL

static const int64_t mlp_default_hidden[2] = {128, 64};

/* ---------------------------------------------------------------------------
 * Layers. A net tracks the activation's shape (without the batch) while the
 * graph is built, so each layer knows its weight shapes and can say when the
 * input is too small. Every function returns the output value, or -1 once
 * anything has failed (the builder's sticky error).
 */

typedef struct net {
    FoilBuilder b;
    const char *arch;
    char input_desc[96];   /* "(1, 28, 28)", for messages */
    int image;             /* 1: (N, c, h, w); 0: (N, f) */
    int64_t c, h, w, f;
} net;

static int net_fail(net *n, foil_status code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int net_fail(net *n, foil_status code, const char *fmt, ...)
{
    if (n->b.st) return -1;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    foilBuilderFail(&n->b, foil_error(code, "%s: %s", n->arch, msg));
    return -1;
}

/* Initializer LAYER.WHAT, zero-filled (init_params fills it). */
static int param(net *n, const char *layer, const char *what, int ndim, const int64_t *shape)
{
    if (n->b.st) return -1;
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        numel *= shape[d];
        if (numel > ARCH_MAX_WEIGHTS)
            return net_fail(n, FOIL_ERR_ARG, "layer '%s' would have more than %lld weights; the input %s is too "
                            "large for this architecture", layer, (long long)ARCH_MAX_WEIGHTS, n->input_desc);
    }
    char name[160];
    snprintf(name, sizeof name, "%s.%s", layer, what);
    return foilBuilderParam(&n->b, name, ndim, shape, NULL);
}

/* Conv k x k, stride s, zero padding p on every side, with or without bias. */
static int conv(net *n, int x, const char *name, int64_t cout, int64_t k, int64_t s, int64_t p, int bias)
{
    if (n->b.st) return -1;
    if (n->h + 2 * p < k || n->w + 2 * p < k)
        return net_fail(n, FOIL_ERR_ARG, "the input %s is too small: layer '%s' would see %lldx%lld pixels (padding "
                        "included), less than its %lldx%lld kernel", n->input_desc, name,
                        (long long)(n->h + 2 * p), (long long)(n->w + 2 * p), (long long)k, (long long)k);
    int wt = param(n, name, "weight", 4, (int64_t[]){cout, n->c, k, k});
    int y;
    if (bias) {
        int bs = param(n, name, "bias", 1, (int64_t[]){cout});
        y = foilBuilderOp(&n->b, "Conv", name, FOIL_B_IN(x, wt, bs),
                            FOIL_B_ATTRS(FOIL_BATTR_INTS("kernel_shape", k, k), FOIL_BATTR_INTS("pads", p, p, p, p),
                                         FOIL_BATTR_INTS("strides", s, s)));
    } else {
        y = foilBuilderOp(&n->b, "Conv", name, FOIL_B_IN(x, wt),
                            FOIL_B_ATTRS(FOIL_BATTR_INTS("kernel_shape", k, k), FOIL_BATTR_INTS("pads", p, p, p, p),
                                         FOIL_BATTR_INTS("strides", s, s)));
    }
    n->c = cout;
    n->h = (n->h + 2 * p - k) / s + 1;
    n->w = (n->w + 2 * p - k) / s + 1;
    return y;
}

/* BatchNormalization with PyTorch's defaults (eps 1e-5, momentum 0.1). */
static int batchnorm(net *n, int x, const char *name)
{
    const int64_t ch[1] = {n->c};
    int scale = param(n, name, "weight", 1, ch);
    int bias = param(n, name, "bias", 1, ch);
    int mean = param(n, name, "running_mean", 1, ch);
    int var = param(n, name, "running_var", 1, ch);
    return foilBuilderOp(&n->b, "BatchNormalization", name, FOIL_B_IN(x, scale, bias, mean, var),
                           FOIL_B_ATTRS(FOIL_BATTR_FLOAT("epsilon", 1e-5f), FOIL_BATTR_FLOAT("momentum", 0.9f)));
}

static int relu(net *n, int x, const char *name)
{
    return foilBuilderOp(&n->b, "Relu", name, FOIL_B_IN(x), FOIL_B_NO_ATTRS);
}

static int tanh_act(net *n, int x, const char *name)
{
    return foilBuilderOp(&n->b, "Tanh", name, FOIL_B_IN(x), FOIL_B_NO_ATTRS);
}

static int add(net *n, int a, int c, const char *name)
{
    return foilBuilderOp(&n->b, "Add", name, FOIL_B_IN(a, c), FOIL_B_NO_ATTRS);
}

/* MaxPool k x k, stride s, no padding (floor). */
static int maxpool_stride(net *n, int x, const char *name, int64_t k, int64_t s)
{
    if (n->b.st) return -1;
    if (n->h < k || n->w < k)
        return net_fail(n, FOIL_ERR_ARG, "the input %s is too small: layer '%s' would see %lldx%lld pixels, less "
                        "than its %lldx%lld window", n->input_desc, name, (long long)n->h, (long long)n->w,
                        (long long)k, (long long)k);
    int y = foilBuilderOp(&n->b, "MaxPool", name, FOIL_B_IN(x),
                            FOIL_B_ATTRS(FOIL_BATTR_INTS("kernel_shape", k, k), FOIL_BATTR_INTS("strides", s, s)));
    n->h = (n->h - k) / s + 1;
    n->w = (n->w - k) / s + 1;
    return y;
}

/* MaxPool k x k, stride k: the windows tile the input. */
static int maxpool(net *n, int x, const char *name, int64_t k) { return maxpool_stride(n, x, name, k, k); }

static int global_avgpool(net *n, int x, const char *name)
{
    n->h = n->w = 1;
    return foilBuilderOp(&n->b, "GlobalAveragePool", name, FOIL_B_IN(x), FOIL_B_NO_ATTRS);
}

static int flatten(net *n, int x, const char *name)
{
    if (n->image) {
        n->f = n->c * n->h * n->w;
        n->image = 0;
    }
    return foilBuilderOp(&n->b, "Flatten", name, FOIL_B_IN(x), FOIL_B_ATTRS(FOIL_BATTR_INT("axis", 1)));
}

/* nn.Linear: Gemm(x, W (out, in), b (out)) with transB = 1, as PyTorch
 * exports it. The output value is named out_name (NULL: like the layer). */
static int linear(net *n, int x, const char *name, int64_t out, const char *out_name)
{
    int wt = param(n, name, "weight", 2, (int64_t[]){out, n->f});
    int bs = param(n, name, "bias", 1, (int64_t[]){out});
    const char *out_names[1] = {out_name ? out_name : name};
    int y = foilBuilderNode(&n->b, "Gemm", name, FOIL_B_IN(x, wt, bs), 1, out_names, NULL,
                              FOIL_B_ATTRS(FOIL_BATTR_FLOAT("alpha", 1.0f), FOIL_BATTR_FLOAT("beta", 1.0f),
                                           FOIL_BATTR_INT("transB", 1)));
    n->f = out;
    return y;
}

/* ---------------------------------------------------------------------------
 * The architectures. Each takes the (possibly normalized) input and returns
 * the logits value, named "logits".
 */

static int build_mlp(net *n, int x, const foil_arch_spec *s)
{
    const int64_t *hidden = s->hidden ? s->hidden : mlp_default_hidden;
    int n_hidden = s->hidden ? s->n_hidden : 2;
    char name[32], act[32];
    x = flatten(n, x, "flatten");
    for (int i = 0; i < n_hidden; i++) {
        snprintf(name, sizeof name, "fc%d", i + 1);
        snprintf(act, sizeof act, "relu%d", i + 1);
        x = relu(n, linear(n, x, name, hidden[i], NULL), act);
    }
    snprintf(name, sizeof name, "fc%d", n_hidden + 1);
    return linear(n, x, name, s->classes, "logits");
}

static int build_cnn_small(net *n, int x, const foil_arch_spec *s)
{
    x = conv(n, x, "conv1", 32, 3, 1, 1, 1);
    x = relu(n, x, "relu1");
    x = maxpool(n, x, "pool1", 2);
    x = conv(n, x, "conv2", 64, 3, 1, 1, 1);
    x = relu(n, x, "relu2");
    x = maxpool(n, x, "pool2", 2);
    x = flatten(n, x, "flatten");
    x = linear(n, x, "fc1", 128, NULL);
    x = relu(n, x, "relu3");
    return linear(n, x, "fc2", s->classes, "logits");
}

static int build_lenet5(net *n, int x, const foil_arch_spec *s)
{
    x = conv(n, x, "conv1", 6, 5, 1, 2, 1);
    x = relu(n, x, "relu1");
    x = maxpool(n, x, "pool1", 2);
    x = conv(n, x, "conv2", 16, 5, 1, 0, 1);
    x = relu(n, x, "relu2");
    x = maxpool(n, x, "pool2", 2);
    x = flatten(n, x, "flatten");
    x = linear(n, x, "fc1", 120, NULL);
    x = relu(n, x, "relu3");
    x = linear(n, x, "fc2", 84, NULL);
    x = relu(n, x, "relu4");
    return linear(n, x, "fc3", s->classes, "logits");
}

/* Papernot et al. 2020 (Tempered Sigmoid Activations), Table 1's MNIST
 * network with tanh, as Tramer and Boneh 2021 train it end to end on
 * (Fashion-)MNIST (their code, models.py MNIST_CNN). */
static int build_cnn_tanh(net *n, int x, const foil_arch_spec *s)
{
    x = conv(n, x, "conv1", 16, 8, 2, 2, 1);
    x = tanh_act(n, x, "tanh1");
    x = maxpool_stride(n, x, "pool1", 2, 1);
    x = conv(n, x, "conv2", 32, 4, 2, 0, 1);
    x = tanh_act(n, x, "tanh2");
    x = maxpool_stride(n, x, "pool2", 2, 1);
    x = flatten(n, x, "flatten");
    x = linear(n, x, "fc1", 32, NULL);
    x = tanh_act(n, x, "tanh3");
    return linear(n, x, "fc2", s->classes, "logits");
}

/* One basic block "layerS.B" of `planes` channels; stride 2 halves H and W
 * (rounding up), and a change of shape gives the shortcut a 1x1 conv + BN. */
static int basic_block(net *n, int x, const char *prefix, int64_t planes, int64_t stride)
{
    char nm[64];
#define NM(part) (snprintf(nm, sizeof nm, "%s.%s", prefix, part), nm)
    const int64_t cin = n->c, hin = n->h, win = n->w;
    int y = conv(n, x, NM("conv1"), planes, 3, stride, 1, 0);
    y = batchnorm(n, y, NM("bn1"));
    y = relu(n, y, NM("relu1"));
    y = conv(n, y, NM("conv2"), planes, 3, 1, 1, 0);
    y = batchnorm(n, y, NM("bn2"));
    int shortcut = x;
    if (stride != 1 || cin != planes) {
        const int64_t h = n->h, w = n->w;
        n->c = cin, n->h = hin, n->w = win;
        shortcut = conv(n, x, NM("downsample.0"), planes, 1, stride, 0, 0);
        shortcut = batchnorm(n, shortcut, NM("downsample.1"));
        if (!n->b.st && (n->h != h || n->w != w))
            return net_fail(n, FOIL_ERR_RUNTIME, "block '%s': shortcut and residual shapes differ", prefix);
    }
    y = add(n, y, shortcut, NM("add"));
    return relu(n, y, NM("relu2"));
#undef NM
}

static const int resnet_blocks[3] = {3, 3, 3};
static const int64_t resnet_planes[3] = {16, 32, 64};

static int build_resnet_mini(net *n, int x, const foil_arch_spec *s)
{
    x = conv(n, x, "conv1", 16, 3, 1, 1, 0);
    x = batchnorm(n, x, "bn1");
    x = relu(n, x, "relu");
    for (int stage = 0; stage < 3; stage++)
        for (int blk = 0; blk < resnet_blocks[stage]; blk++) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "layer%d.%d", stage + 1, blk);
            x = basic_block(n, x, prefix, resnet_planes[stage], stage > 0 && blk == 0 ? 2 : 1);
        }
    x = global_avgpool(n, x, "avgpool");
    x = flatten(n, x, "flatten");
    return linear(n, x, "fc", s->classes, "logits");
}

/* ---------------------------------------------------------------------------
 * Text classifiers over token ids (N, L) int64 (foil/text.h's tokenizers).
 */

enum { TEXT_EMBED = 64, TEXT_FILTERS = 100, TEXT_HIDDEN = 64 };

/* nn.Embedding: Gather(table (vocab, dim), ids) -> (N, L, dim). */
static int embedding(net *n, int ids, const char *name, int64_t vocab, int64_t dim)
{
    int table = param(n, name, "weight", 2, (int64_t[]){vocab, dim});
    return foilBuilderOp(&n->b, "Gather", name, FOIL_B_IN(table, ids), FOIL_B_ATTRS(FOIL_BATTR_INT("axis", 0)));
}

static int transpose(net *n, int x, const char *name, int64_t a, int64_t b, int64_t c)
{
    return foilBuilderOp(&n->b, "Transpose", name, FOIL_B_IN(x), FOIL_B_ATTRS(FOIL_BATTR_INTS("perm", a, b, c)));
}

/* Conv1d (cout, cin, k) with bias, no padding, over (N, cin, L). */
static int conv1d(net *n, int x, const char *name, int64_t cin, int64_t cout, int64_t k)
{
    int wt = param(n, name, "weight", 3, (int64_t[]){cout, cin, k});
    int bs = param(n, name, "bias", 1, (int64_t[]){cout});
    return foilBuilderOp(&n->b, "Conv", name, FOIL_B_IN(x, wt, bs),
                         FOIL_B_ATTRS(FOIL_BATTR_INTS("kernel_shape", k), FOIL_BATTR_INTS("pads", 0, 0)));
}

/* Kim (2014)'s CNN for sentence classification: an embedding, convolutions
 * of widths 3, 4 and 5 (100 filters each) with ReLU, each max-pooled over
 * the whole text, concatenated, then a linear layer (without Kim's dropout). */
static int build_text_cnn(net *n, int ids, const foil_arch_spec *s)
{
    static const int64_t widths[3] = {3, 4, 5};
    int x = transpose(n, embedding(n, ids, "embed", s->vocab_size, TEXT_EMBED), "embed.t", 0, 2, 1);
    int pooled[3];
    for (int i = 0; i < 3; i++) {
        char conv[16], act[16], pool[16];
        snprintf(conv, sizeof conv, "conv%lld", (long long)widths[i]);
        snprintf(act, sizeof act, "relu%lld", (long long)widths[i]);
        snprintf(pool, sizeof pool, "pool%lld", (long long)widths[i]);
        int y = relu(n, conv1d(n, x, conv, TEXT_EMBED, TEXT_FILTERS, widths[i]), act);
        pooled[i] = foilBuilderOp(&n->b, "GlobalMaxPool", pool, FOIL_B_IN(y), FOIL_B_NO_ATTRS);
    }
    x = foilBuilderOp(&n->b, "Concat", "concat", FOIL_B_IN(pooled[0], pooled[1], pooled[2]),
                      FOIL_B_ATTRS(FOIL_BATTR_INT("axis", 1)));
    n->f = 3 * TEXT_FILTERS;
    x = foilBuilderOp(&n->b, "Flatten", "flatten", FOIL_B_IN(x), FOIL_B_ATTRS(FOIL_BATTR_INT("axis", 1)));
    return linear(n, x, "fc", s->classes, "logits");
}

/* An embedding, a one-layer LSTM (64 units) over the text, its outputs
 * max-pooled over time (so the padding after a short message cannot wash
 * out what the words said), then a linear layer. */
static int build_text_lstm(net *n, int ids, const foil_arch_spec *s)
{
    const int64_t h = TEXT_HIDDEN;
    int x = transpose(n, embedding(n, ids, "embed", s->vocab_size, TEXT_EMBED), "embed.t", 1, 0, 2); /* (L, N, D) */
    int w = param(n, "lstm", "weight_ih", 3, (int64_t[]){1, 4 * h, TEXT_EMBED});
    int r = param(n, "lstm", "weight_hh", 3, (int64_t[]){1, 4 * h, h});
    int b = param(n, "lstm", "bias", 2, (int64_t[]){1, 8 * h});
    int y = foilBuilderOp(&n->b, "LSTM", "lstm", FOIL_B_IN(x, w, r, b), FOIL_B_ATTRS(FOIL_BATTR_INT("hidden_size", h)));
    y = foilBuilderOp(&n->b, "ReduceMax", "lstm.max", FOIL_B_IN(y),
                      FOIL_B_ATTRS(FOIL_BATTR_INTS("axes", 0, 1), FOIL_BATTR_INT("keepdims", 0))); /* (N, H) */
    n->f = h;
    return linear(n, y, "fc", s->classes, "logits");
}

/* Logistic regression on a bag of words: logits = sum over the message's
 * tokens (padding excluded) of a row of W (vocab, classes), plus a bias:
 * W^T counts + b, without building the counts. */
static int build_bow_logreg(net *n, int ids, const foil_arch_spec *s)
{
    int rows = embedding(n, ids, "bow", s->vocab_size, s->classes); /* (N, L, C) */
    int pad = foilBuilderConstI64(&n->b, "bow.pad_id", 0, NULL, (int64_t[]){s->pad_id});
    int is_pad = foilBuilderOp(&n->b, "Equal", "bow.is_pad", FOIL_B_IN(ids, pad), FOIL_B_NO_ATTRS);
    int keep = foilBuilderOp(&n->b, "Not", "bow.keep", FOIL_B_IN(is_pad), FOIL_B_NO_ATTRS);
    keep = foilBuilderOp(&n->b, "Cast", "bow.mask", FOIL_B_IN(keep), FOIL_B_ATTRS(FOIL_BATTR_INT("to", FOIL_F32)));
    int axis2 = foilBuilderConstI64(&n->b, "bow.axis2", 1, (int64_t[]){1}, (int64_t[]){2});
    keep = foilBuilderOp(&n->b, "Unsqueeze", "bow.mask3", FOIL_B_IN(keep, axis2), FOIL_B_NO_ATTRS); /* (N, L, 1) */
    int kept = foilBuilderOp(&n->b, "Mul", "bow.kept", FOIL_B_IN(rows, keep), FOIL_B_NO_ATTRS);
    int axis1 = foilBuilderConstI64(&n->b, "bow.axis1", 1, (int64_t[]){1}, (int64_t[]){1});
    int sum = foilBuilderOp(&n->b, "ReduceSum", "bow.sum", FOIL_B_IN(kept, axis1),
                            FOIL_B_ATTRS(FOIL_BATTR_INT("keepdims", 0)));
    int bias = param(n, "bow", "bias", 1, (int64_t[]){s->classes});
    const char *out[1] = {"logits"};
    return foilBuilderNode(&n->b, "Add", "bow.add", FOIL_B_IN(sum, bias), 1, out, NULL, FOIL_B_NO_ATTRS);
}

enum { ARCH_TABULAR = 0, ARCH_IMAGE, ARCH_TEXT };

typedef struct arch_entry {
    const char *name;
    int input;             /* ARCH_IMAGE: needs (N, C, H, W); ARCH_TEXT: token ids (N, L) */
    int (*build)(net *n, int x, const foil_arch_spec *s);
} arch_entry;

static const arch_entry archs[] = {
    {"mlp", ARCH_TABULAR, build_mlp},
    {"cnn-small", ARCH_IMAGE, build_cnn_small},
    {"lenet5", ARCH_IMAGE, build_lenet5},
    {"cnn-tanh", ARCH_IMAGE, build_cnn_tanh},
    {"resnet-mini", ARCH_IMAGE, build_resnet_mini},
    {"text-cnn", ARCH_TEXT, build_text_cnn},
    {"text-lstm", ARCH_TEXT, build_text_lstm},
    {"bow-logreg", ARCH_TEXT, build_bow_logreg},
};

const char *foil_arch_list(void) { return "mlp, cnn-small, lenet5, cnn-tanh, resnet-mini, text-cnn, text-lstm, bow-logreg"; }

int foil_arch_is_text(const char *name)
{
    for (size_t i = 0; name && i < sizeof archs / sizeof archs[0]; i++)
        if (strcmp(archs[i].name, name) == 0) return archs[i].input == ARCH_TEXT;
    return 0;
}

/* ---------------------------------------------------------------------------
 * Initialization, shared by foil_arch_build and foil_model_reinit.
 *
 * A weight's role is read off the node that consumes it (the first such
 * node that tells):
 *   Conv W (M, C/group, k...)          weight, fan_in = C/group * prod(k)
 *   Conv B                             bias of that Conv
 *   Gemm B: (N, K) with transB = 1,    weight, fan_in = K
 *           (K, N) with transB = 0
 *   Gemm A (a weight on the left):     weight, fan_in = K ((M, K), or (K, M)
 *                                      with transA = 1)
 *   Gemm C                             bias, fan_in = K of that Gemm
 *   MatMul B (..., K, N) (or (K))      weight, fan_in = K (x @ W, W stored
 *                                      (in, out) as TensorFlow and Keras do)
 *   MatMul A (..., M, K)               weight, fan_in = K (W @ x)
 *   Add(y, P) with y produced by a Conv, Gemm or MatMul:
 *                                      bias of that layer (MatMul + Add is how
 *                                      many exporters write a dense layer)
 *   BatchNormalization scale, B, mean, var:  1, 0, 0, 1
 *   Gather data (V, D)                 an embedding table: N(0, 1), as
 *                                      nn.Embedding
 *   LSTM, GRU, RNN W, R, B             U(+-1/sqrt(hidden_size)), as PyTorch
 * Weights get U(+-1/sqrt(fan_in)); biases U(+-1/sqrt(fan_in of the layer)),
 * or 0 when that layer's fan_in cannot be read from an initializer.
 * Initializers with no such role (normalization constants of Sub and Div, a
 * Mul's scale, ...) keep the values the model file gave them: what they mean
 * is the model author's choice, and no default would be right for all.
 */

enum { ROLE_KEEP = 0, ROLE_WEIGHT, ROLE_BIAS, ROLE_ONE, ROLE_ZERO, ROLE_EMBEDDING };

static const foil_tensor *param_at(const FoilGraph *g, const FoilNode *nd, int slot)
{
    if (slot >= nd->n_in || nd->in[slot] < 0) return NULL;
    const FoilValue *v = &g->values[nd->in[slot]];
    return v->kind == FOIL_VALUE_PARAM ? &v->t : NULL;
}

static int64_t prod_from(const foil_tensor *t, int d0)
{
    int64_t p = 1;
    for (int d = d0; d < t->ndim; d++) p *= t->shape[d];
    return p;
}

/* fan_in of the weight w in input slot `slot` of node nd (0: not a weight). */
static int64_t weight_fan_in(const FoilNode *nd, int slot, const foil_tensor *w)
{
    if (!w || w->ndim < 1) return 0;
    if (strcmp(nd->op_type, "Conv") == 0) return slot == 1 && w->ndim >= 3 ? prod_from(w, 1) : 0;
    if (strcmp(nd->op_type, "Gemm") == 0) {
        if (w->ndim != 2) return 0;
        if (slot == 1) return foilAttrInt(nd, "transB", 0) ? w->shape[1] : w->shape[0];
        if (slot == 0) return foilAttrInt(nd, "transA", 0) ? w->shape[0] : w->shape[1];
        return 0;
    }
    if (strcmp(nd->op_type, "MatMul") == 0) {
        if (slot == 1) return w->ndim >= 2 ? w->shape[w->ndim - 2] : w->shape[0];
        if (slot == 0) return w->shape[w->ndim - 1];
    }
    return 0;
}

/* fan_in of a Conv, Gemm or MatMul node, from its weight initializer. */
static int64_t layer_fan_in(const FoilGraph *g, const FoilNode *nd)
{
    int64_t f = weight_fan_in(nd, 1, param_at(g, nd, 1));
    if (!f && strcmp(nd->op_type, "Conv") != 0) f = weight_fan_in(nd, 0, param_at(g, nd, 0));
    return f;
}

static int is_linear_layer(const FoilNode *nd)
{
    return strcmp(nd->op_type, "Conv") == 0 || strcmp(nd->op_type, "Gemm") == 0 ||
           strcmp(nd->op_type, "MatMul") == 0;
}

static int is_recurrent_layer(const FoilNode *nd)
{
    return strcmp(nd->op_type, "LSTM") == 0 || strcmp(nd->op_type, "GRU") == 0 || strcmp(nd->op_type, "RNN") == 0;
}

/* Role of the initializer in input slot `slot` of node nd. */
static int slot_role(const FoilGraph *g, const FoilNode *nd, int slot, int64_t *fan_in)
{
    const foil_tensor *t = param_at(g, nd, slot);
    *fan_in = 0;
    if (strcmp(nd->op_type, "BatchNormalization") == 0) {
        static const int bn_roles[5] = {ROLE_KEEP, ROLE_ONE, ROLE_ZERO, ROLE_ZERO, ROLE_ONE};
        return slot < 5 ? bn_roles[slot] : ROLE_KEEP;
    }
    if (strcmp(nd->op_type, "Gather") == 0 && slot == 0 && t && t->ndim == 2) return ROLE_EMBEDDING;
    if (is_recurrent_layer(nd) && slot >= 1 && slot <= 3) {
        *fan_in = foilAttrInt(nd, "hidden_size", 0);
        return *fan_in > 0 ? ROLE_WEIGHT : ROLE_KEEP;
    }
    if (is_linear_layer(nd)) {
        int bias_slot = strcmp(nd->op_type, "MatMul") == 0 ? -1 : 2;
        if (slot == bias_slot) {
            *fan_in = layer_fan_in(g, nd);
            return ROLE_BIAS;
        }
        if (slot > 1 || (slot == 0 && strcmp(nd->op_type, "Conv") == 0)) return ROLE_KEEP;
        *fan_in = weight_fan_in(nd, slot, t);
        if (!*fan_in && t && t->ndim >= 2 && t->shape[0] > 0) *fan_in = t->numel / t->shape[0];
        return *fan_in ? ROLE_WEIGHT : ROLE_KEEP;
    }
    if (strcmp(nd->op_type, "Add") == 0 && nd->n_in == 2 && (slot == 0 || slot == 1)) {
        int other = nd->in[1 - slot];
        int producer = other >= 0 ? g->values[other].producer : -1;
        if (producer >= 0 && is_linear_layer(&g->nodes[producer])) {
            *fan_in = layer_fan_in(g, &g->nodes[producer]);
            return ROLE_BIAS;
        }
    }
    return ROLE_KEEP;
}

static void fill_uniform(foil_tensor *t, double bound, uint64_t seed, uint64_t index)
{
    foil_rng r = foil_rng_make(seed, INIT_STREAM + index);
    float *p = foil_f32(t);
    for (int64_t j = 0; j < t->numel; j++) p[j] = (float)((2.0 * foil_rng_uniform_d(&r) - 1.0) * bound);
}

static void fill_normal(foil_tensor *t, uint64_t seed, uint64_t index)
{
    foil_rng r = foil_rng_make(seed, INIT_STREAM + index);
    float *p = foil_f32(t);
    for (int64_t j = 0; j < t->numel; j++) p[j] = (float)foil_rng_normal(&r);
}

static void fill_const(foil_tensor *t, float v)
{
    float *p = foil_f32(t);
    for (int64_t j = 0; j < t->numel; j++) p[j] = v;
}

static void zero_param(FoilGraph *g, const char *name)
{
    int v = foilGraphFindValue(g, name);
    if (v >= 0) fill_const(&g->values[v].t, 0.0f);
}

/* Initialize every initializer that has a role; returns how many. */
static foil_status init_params(FoilGraph *g, uint64_t seed, int *count)
{
    int *role = calloc((size_t)g->n_values + 1, sizeof *role);
    int64_t *fan = calloc((size_t)g->n_values + 1, sizeof *fan);
    if (!role || !fan) {
        free(role);
        free(fan);
        return foil_error(FOIL_ERR_NOMEM, "%s: out of memory", g->path);
    }
    for (int k = 0; k < g->n_nodes; k++) {
        const FoilNode *nd = &g->nodes[k];
        for (int i = 0; i < nd->n_in; i++) {
            int v = nd->in[i];
            if (v < 0 || g->values[v].kind != FOIL_VALUE_PARAM || role[v] != ROLE_KEEP) continue;
            role[v] = slot_role(g, nd, i, &fan[v]);
        }
    }
    uint64_t index = 0;
    for (int v = 0; v < g->n_values; v++) {
        FoilValue *val = &g->values[v];
        if (val->kind != FOIL_VALUE_PARAM || val->t.dtype != FOIL_F32 || role[v] == ROLE_KEEP) continue;
        /* Weights and biases only when something trains them; BatchNorm's
         * running statistics are never trainable but are reset all the same. */
        if ((role[v] == ROLE_WEIGHT || role[v] == ROLE_BIAS) && !val->trainable) continue;
        switch (role[v]) {
        case ROLE_WEIGHT:
        case ROLE_BIAS:
            if (fan[v] > 0) fill_uniform(&val->t, 1.0 / sqrt((double)fan[v]), seed, index);
            else fill_const(&val->t, 0.0f);
            break;
        case ROLE_EMBEDDING: fill_normal(&val->t, seed, index); break;
        case ROLE_ONE: fill_const(&val->t, 1.0f); break;
        case ROLE_ZERO: fill_const(&val->t, 0.0f); break;
        }
        index++;
    }
    free(role);
    free(fan);
    *count = (int)index;
    return FOIL_OK;
}

foil_status foil_model_reinit(foil_model *m, uint64_t seed)
{
    if (!m) return foil_error(FOIL_ERR_ARG, "foil_model_reinit: no model");
    FoilGraphModel *gm;
    foil_status st = foilGraphModelRequire(m, "re-initializing weights", &gm);
    if (st) return st;
    int count = 0;
    st = init_params(gm->g, seed, &count);
    if (st) return st;
    if (count == 0)
        return foil_error(FOIL_ERR_UNSUPPORTED, "%s: the model has no weights to re-initialize (no Conv, Gemm, MatMul "
                          "or BatchNormalization reads a float initializer; weights stored in Constant nodes cannot "
                          "be trained)", gm->g->path);
    return FOIL_OK;
}

/* ---------------------------------------------------------------------------
 * Building
 */

static foil_status check_spec(const foil_arch_spec *s, const arch_entry *a, int64_t *example)
{
    if (s->classes < 2 || s->classes > ARCH_MAX_DIM)
        return foil_error(FOIL_ERR_ARG, "%s: the number of classes must be between 2 and %lld, not %lld", a->name,
                          (long long)ARCH_MAX_DIM, (long long)s->classes);
    if (a->input == ARCH_IMAGE && s->input_rank != 4)
        return foil_error(FOIL_ERR_ARG, "%s: needs image inputs (N, C, H, W), i.e. input rank 4, not %d", a->name,
                          s->input_rank);
    if (a->input == ARCH_TEXT) {
        if (s->input_rank != 2)
            return foil_error(FOIL_ERR_ARG, "%s: needs token ids (N, L), i.e. input rank 2, not %d", a->name,
                              s->input_rank);
        if (s->vocab_size < 2 || s->vocab_size > ARCH_MAX_DIM)
            return foil_error(FOIL_ERR_ARG, "%s: the vocabulary must have 2 to %lld tokens, not %lld", a->name,
                              (long long)ARCH_MAX_DIM, (long long)s->vocab_size);
        if (s->pad_id < 0 || s->pad_id >= s->vocab_size)
            return foil_error(FOIL_ERR_ARG, "%s: the padding id %lld is outside the vocabulary [0, %lld)", a->name,
                              (long long)s->pad_id, (long long)s->vocab_size);
        if (s->input_shape[0] < 5)
            return foil_error(FOIL_ERR_ARG, "%s: texts of %lld tokens are too short (at least 5: the widest "
                              "convolution of text-cnn)", a->name, (long long)s->input_shape[0]);
        if (s->mean)
            return foil_error(FOIL_ERR_ARG, "%s: token ids cannot be normalized by a mean and std", a->name);
    }
    if (s->input_rank < 2 || s->input_rank > 5)
        return foil_error(FOIL_ERR_ARG, "%s: input rank must be 2 (N, F) to 5, not %d", a->name, s->input_rank);
    *example = 1;
    for (int d = 0; d < s->input_rank - 1; d++) {
        if (s->input_shape[d] < 1 || s->input_shape[d] > ARCH_MAX_DIM)
            return foil_error(FOIL_ERR_ARG, "%s: input dimension %d is %lld (must be 1 to %lld)", a->name, d + 1,
                              (long long)s->input_shape[d], (long long)ARCH_MAX_DIM);
        *example *= s->input_shape[d];
        if (*example > ARCH_MAX_EXAMPLE)
            return foil_error(FOIL_ERR_ARG, "%s: one input example has more than %lld values", a->name,
                              (long long)ARCH_MAX_EXAMPLE);
    }
    if (s->hidden && (s->n_hidden < 0 || s->n_hidden > ARCH_MAX_HIDDEN))
        return foil_error(FOIL_ERR_ARG, "%s: %d hidden layers (0 to %d allowed)", a->name, s->n_hidden,
                          ARCH_MAX_HIDDEN);
    if (s->hidden && a->input == ARCH_TABULAR)
        for (int i = 0; i < s->n_hidden; i++)
            if (s->hidden[i] < 1 || s->hidden[i] > ARCH_MAX_DIM)
                return foil_error(FOIL_ERR_ARG, "%s: hidden layer %d has size %lld (must be 1 to %lld)", a->name,
                                  i + 1, (long long)s->hidden[i], (long long)ARCH_MAX_DIM);
    if ((s->mean == NULL) != (s->std == NULL))
        return foil_error(FOIL_ERR_ARG, "%s: input normalization needs both mean and std", a->name);
    for (int64_t i = 0; s->mean && i < *example; i++) {
        if (!isfinite(s->mean[i]))
            return foil_error(FOIL_ERR_ARG, "%s: normalization mean[%lld] is not finite", a->name, (long long)i);
        if (!isfinite(s->std[i]) || !(s->std[i] > 0.0f))
            return foil_error(FOIL_ERR_ARG, "%s: normalization std[%lld] = %g must be positive and finite", a->name,
                              (long long)i, (double)s->std[i]);
    }
    return FOIL_OK;
}

foil_status foil_arch_build(const foil_arch_spec *spec, foil_model **out)
{
    if (!out) return foil_error(FOIL_ERR_ARG, "foil_arch_build: no output pointer");
    *out = NULL;
    if (!spec || !spec->name || !spec->name[0])
        return foil_error(FOIL_ERR_ARG, "no architecture given (built-in architectures: %s)", foil_arch_list());
    const arch_entry *a = NULL;
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
        if (strcmp(archs[i].name, spec->name) == 0) a = &archs[i];
    if (!a)
        return foil_error(FOIL_ERR_ARG, "unknown architecture '%s' (built-in architectures: %s)", spec->name,
                          foil_arch_list());
    int64_t example = 0;
    foil_status st = check_spec(spec, a, &example);
    if (st) return st;

    net n;
    memset(&n, 0, sizeof n);
    if ((st = foilBuilderBegin(&n.b, a->name, ARCH_OPSET))) return st;
    n.arch = a->name;
    const int rank = spec->input_rank;
    int64_t shape[5] = {-1};
    int len = snprintf(n.input_desc, sizeof n.input_desc, "(");
    for (int d = 1; d < rank; d++) {
        shape[d] = spec->input_shape[d - 1];
        len += snprintf(n.input_desc + len, sizeof n.input_desc - (size_t)len, "%s%lld", d > 1 ? ", " : "",
                        (long long)shape[d]);
    }
    snprintf(n.input_desc + len, sizeof n.input_desc - (size_t)len, ")");
    n.image = rank == 4;
    if (n.image) n.c = shape[1], n.h = shape[2], n.w = shape[3];
    else n.f = example;

    static const char *const batch_dim[5] = {"N", NULL, NULL, NULL, NULL};
    int x = foilBuilderInput(&n.b, "input", a->input == ARCH_TEXT ? FOIL_I64 : FOIL_F32, rank, shape, batch_dim);
    if (spec->mean) {
        int64_t cshape[5];
        memcpy(cshape, shape, sizeof cshape);
        cshape[0] = 1;
        /* Constant nodes, not initializers: statistics of the data, not
         * weights, so no optimizer, weight decay or re-initialization may
         * touch them, in foil or in whatever runs the exported model. */
        int mean = foilBuilderConstant(&n.b, "norm.mean", rank, cshape, spec->mean);
        int std = foilBuilderConstant(&n.b, "norm.std", rank, cshape, spec->std);
        x = foilBuilderOp(&n.b, "Sub", "norm.sub", FOIL_B_IN(x, mean), FOIL_B_NO_ATTRS);
        x = foilBuilderOp(&n.b, "Div", "norm.div", FOIL_B_IN(x, std), FOIL_B_NO_ATTRS);
    }
    int logits = a->build(&n, x, spec);
    static const char *const logits_dims[2] = {"N", NULL};
    foilBuilderOutput(&n.b, logits, FOIL_F32, 2, (int64_t[]){-1, spec->classes}, logits_dims);
    FoilGraph *g;
    if ((st = foilBuilderFinish(&n.b, &g))) return st;
    int count;
    if ((st = init_params(g, spec->seed, &count))) {
        foilGraphFree(g);
        return st;
    }
    if (a->build == build_bow_logreg) zero_param(g, "bow.weight"); /* logistic regression starts at 0, as scikit-learn's */
    return foilModelFromGraph(g, out);
}
