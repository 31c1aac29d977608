/*
 * tests/fuzz/fuzz_idx.c - libFuzzer target for the IDX reader (MNIST's
 * format: magic, dtype code, big-endian dimensions, data; plain or gzip).
 */
#include "foil/idx.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_input_file(data, size, ".idx");
    foil_tensor t = {0};
    foil_clear_error();
    fuzz_expect_message(foil_idx_read(path, &t));
    foil_tensor_free(&t);
    return 0;
}
