/*
 * tests/toy_data.c - the quadrant toy problem of the training tests
 * (toy_data.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "foil/rng.h"
#include "toy_data.h"

void toy_quadrants(foil_dataset *d, int64_t n, int64_t classes, int64_t side, uint64_t seed)
{
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "toy-quadrants");
    int64_t xs[4] = {n, 1, side, side}, ys[1] = {n}, es[3] = {1, side, side};
    assert_int_equal(foil_tensor_alloc(&d->x, FOIL_F32, 4, xs), FOIL_OK);
    assert_int_equal(foil_tensor_alloc(&d->y, FOIL_I64, 1, ys), FOIL_OK);
    assert_int_equal(foil_tensor_alloc(&d->lower, FOIL_F32, 3, es), FOIL_OK);
    assert_int_equal(foil_tensor_alloc(&d->upper, FOIL_F32, 3, es), FOIL_OK);
    for (int64_t p = 0; p < side * side; p++) foil_f32(&d->lower)[p] = 0, foil_f32(&d->upper)[p] = 1;
    d->classes = classes;
    d->is_image = 1;
    foil_rng r = foil_rng_make(seed, 1);
    for (int64_t i = 0; i < n; i++) {
        int64_t c = i % classes;
        foil_i64(&d->y)[i] = c;
        float *img = foil_f32(&d->x) + i * side * side;
        for (int64_t p = 0; p < side * side; p++) {
            int64_t row = p / side, col = p % side, q = (row >= side / 2) * 2 + (col >= side / 2);
            img[p] = 0.3f * (float)foil_rng_uniform(&r) + (q == c ? 0.6f : 0.0f);
        }
    }
}
