/*
 * tests/fuzz/fuzz_constraints.c - libFuzzer target for the constraint-file
 * parser (`foil attack --constraints`): rules, feature names with spaces,
 * indices, numbers, comments, control bytes. The dataset is a fixed tabular
 * one with three named features and two examples (bounds must contain
 * them).
 */
#include <string.h>

#include "foil/evasion.h"
#include "fuzz_common.h"

enum { FEATURES = 3 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_input_file(data, size, ".txt");
    static char *names[FEATURES] = {"mean radius", "age", "x"};
    foil_dataset d = {.classes = 2, .feature_names = names};
    strcpy(d.name, "fuzz-table");
    static float rows[2 * FEATURES] = {10, 40, 0, 20, 60, 0.5f};
    foil_tensor_set_shape(&d.x, FOIL_F32, 2, (int64_t[]){2, FEATURES});
    d.x.data = rows;
    uint8_t immutable[FEATURES] = {0}, integer[FEATURES] = {0};
    float lower[FEATURES] = {0, 0, -1}, upper[FEATURES] = {30, 120, 1};
    foil_clear_error();
    fuzz_expect_message(foil_constraints_load(path, &d, immutable, integer, lower, upper));
    for (int f = 0; f < FEATURES; f++)
        if (immutable[f] > 1 || integer[f] > 1 || !(lower[f] <= upper[f])) abort();
    return 0;
}
