/*
 * tests/fuzz/fuzz_npy.c - libFuzzer target for the NPY reader: the header
 * dictionary, shapes, dtypes, byte order and the conversions to float32
 * inputs and int64 labels.
 */
#include "foil/npy.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_input_file(data, size, ".npy");
    foil_status (*readers[])(const char *, foil_tensor *) = {foil_npy_read, foil_npy_read_f32, foil_npy_read_labels};
    for (size_t k = 0; k < sizeof readers / sizeof readers[0]; k++) {
        foil_tensor t = {0};
        foil_clear_error();
        fuzz_expect_message(readers[k](path, &t));
        foil_tensor_free(&t);
    }
    return 0;
}
