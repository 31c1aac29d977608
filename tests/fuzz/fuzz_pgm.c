/*
 * tests/fuzz/fuzz_pgm.c - libFuzzer target for the PGM reader (P5 and P2
 * images, the AT&T faces' format): the header's numbers and comments, the
 * raster's length and the pixel values against maxval.
 */
#include "data/data_internal.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FoilPgm img;
    foil_clear_error();
    foil_status st = foilDataParsePgm("fuzz.pgm", data, size, &img);
    fuzz_expect_message(st);
    if (!st) foilDataPgmFree(&img);
    return 0;
}
