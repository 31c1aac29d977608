/*
 * tests/toy_data.c - the quadrant toy problem of the training tests, and
 * its model with and without a backdoor (toy_data.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "foil/rng.h"
#include "model/model_internal.h"
#include "nn/builder.h"
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

foil_model *toy_quadrant_model(int backdoor)
{
    static float w[4 * 36], c[4];
    memset(w, 0, sizeof w);
    for (int k = 0; k < 4; k++)
        for (int r = 0; r < 6; r++)
            for (int q = 0; q < 6; q++)
                if ((r < 3) == (k < 2) && (q < 3) == (k % 2 == 0)) w[k * 36 + r * 6 + q] = 8.0f / 9;
    if (backdoor) w[0 * 36 + 35] += 12;
    FoilBuilder b;
    assert_int_equal(foilBuilderBegin(&b, "quadrants", 13), FOIL_OK);
    int x = foilBuilderInput(&b, "x", FOIL_F32, 4, (int64_t[]){-1, 1, 6, 6}, NULL);
    int flat = foilBuilderOp(&b, "Flatten", "flat", FOIL_B_IN(x), FOIL_B_NO_ATTRS);
    int wv = foilBuilderParam(&b, "w", 2, (int64_t[]){4, 36}, w), cv = foilBuilderParam(&b, "c", 1, (int64_t[]){4}, c);
    int v = foilBuilderOp(&b, "Gemm", "fc", FOIL_B_IN(flat, wv, cv), FOIL_B_ATTRS(FOIL_BATTR_INT("transB", 1)));
    foilBuilderOutput(&b, v, FOIL_F32, 2, (int64_t[]){-1, 4}, NULL);
    FoilGraph *g;
    assert_int_equal(foilBuilderFinish(&b, &g), FOIL_OK);
    foil_model *m;
    assert_int_equal(foilModelFromGraph(g, &m), FOIL_OK);
    return m;
}
