/*
 * examples/predict.c - a program on an installed libfoil: load an ONNX
 * classifier, run it on a batch of inputs read from an NPY file (N, ...) and
 * print the libfoil it runs with, then each example's predicted class, one
 * a line, as `foil predict --model MODEL.onnx --input X.npy` prints them.
 *
 *   cmake --install build --prefix ~/.local
 *   export PKG_CONFIG_PATH=~/.local/lib/pkgconfig   # lib/<multiarch>/pkgconfig with --prefix /usr
 *   cc predict.c $(pkg-config --cflags --libs foil) -o predict
 *   ./predict MODEL.onnx X.npy
 *
 * tests/test_install.sh builds and runs it so that it keeps working.
 */
#include <stdio.h>

#include "foil/model.h"
#include "foil/npy.h"
#include "foil/version.h"

/* The library this program loaded, and the headers it was compiled with
 * (foil/version.h): they may differ in minor and patch version, never in
 * major version. */
static int check_version(void)
{
    printf("libfoil %s (compiled against %s)\n", foil_version(), FOIL_VERSION_STRING);
    if (foil_version_number() / 10000 != FOIL_VERSION_MAJOR) {
        fprintf(stderr, "predict: libfoil %s is not the major version this program was built for\n", foil_version());
        return 1;
    }
    return 0;
}

/* The index of the largest of n scores. */
static int64_t argmax(const float *v, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

static int predict(const char *model_path, const char *input_path)
{
    foil_model *model = NULL;
    foil_tensor x = {0}, logits = {0};
    foil_status st = foil_model_load(model_path, &model);
    if (!st) st = foil_npy_read_f32(input_path, &x);
    if (!st) st = foil_model_predict(model, &x, &logits);
    if (st) fprintf(stderr, "predict: %s\n", foil_last_error());
    else
        for (int64_t i = 0; i < logits.shape[0]; i++)
            printf("%lld\n", (long long)argmax(foil_f32(&logits) + i * logits.shape[1], logits.shape[1]));
    foil_tensor_free(&logits);
    foil_tensor_free(&x);
    foil_model_free(model);
    return st ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL.onnx X.npy\n", argv[0]);
        return 2;
    }
    if (check_version()) return 1;
    return predict(argv[1], argv[2]);
}
