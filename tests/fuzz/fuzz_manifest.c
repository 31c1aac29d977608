/*
 * tests/fuzz/fuzz_manifest.c - libFuzzer target for the dataset manifest
 * reader (foil/manifest.h): JSON that is not a manifest, fields missing or
 * of the wrong type, hashes that are not 64 hex digits, counts that
 * disagree with the lists.
 */
#include "foil/manifest.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_input_file(data, size, ".json");
    foil_manifest m;
    foil_clear_error();
    fuzz_expect_message(foil_manifest_read(path, &m));
    foil_manifest_free(&m);
    return 0;
}
