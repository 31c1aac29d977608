/*
 * tests/fuzz/fuzz_csv.c - libFuzzer target for CSV datasets: the tokenizer
 * (quotes, separators, line ends), numbers, the label column, class
 * mapping and the stratified split, through foil_data_load as `foil train
 * --data FILE.csv --label-column y` reaches them.
 */
#include "foil/data.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_input_file(data, size, ".csv");
    foil_data_spec spec = {.data = path, .label_column = "y", .seed = 1};
    foil_dataset d = {0};
    foil_clear_error();
    fuzz_expect_message(foil_data_load(&spec, FOIL_SPLIT_ALL, &d));
    foil_dataset_free(&d);
    return 0;
}
