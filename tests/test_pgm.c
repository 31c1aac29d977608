/*
 * tests/test_pgm.c - PGM images and directories of class folders as
 * --data (src/data/pgm.c). Good P5 and P2 files read back exactly; every
 * kind of bad file (wrong magic, bad or missing header fields, 16-bit,
 * pixels above maxval, truncated rasters, trailing bytes, mixed sizes, empty
 * class folders) is a clear error naming the file; and thousands of
 * mutations of a good file (byte flips, truncations, insertions) each end
 * in success or an error, never a crash (the sanitizer build checks that
 * no byte outside the buffers is read).
 */
#define _XOPEN_SOURCE 700 /* nftw, mkdtemp */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/data_internal.h"
#include "foil/data.h"
#include "foil/rng.h"

static char tmpdir[256];

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/foil-test-pgm-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* A w x h P5 image whose pixel i is (seed + 7 i) % 256, into buf; its length. */
static size_t make_p5(uint8_t *buf, int w, int h, int seed)
{
    int n = snprintf((char *)buf, 64, "P5\n# a comment\n%d %d\n255\n", w, h);
    for (int i = 0; i < w * h; i++) buf[n + i] = (uint8_t)((seed + 7 * i) % 256);
    return (size_t)(n + w * h);
}

/* parse must fail with code and a message holding `path` and `what`. */
static void expect_bad(const char *text, size_t len, foil_status code, const char *what)
{
    FoilPgm img;
    foil_status st = foilDataParsePgm("bad.pgm", (const uint8_t *)text, len, &img);
    if (st != code || !strstr(foil_last_error(), "bad.pgm") || !strstr(foil_last_error(), what))
        fail_msg("'%.20s...': got %d '%s', wanted %d with '%s'", text, st, foil_last_error(), code, what);
}

static void test_good_images(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = make_p5(buf, 5, 3, 11);
    FoilPgm img;
    assert_int_equal(foilDataParsePgm("a.pgm", buf, n, &img), FOIL_OK);
    assert_int_equal(img.width, 5);
    assert_int_equal(img.height, 3);
    assert_int_equal(img.maxval, 255);
    for (int i = 0; i < 15; i++) assert_int_equal(img.pixels[i], (11 + 7 * i) % 256);
    foilDataPgmFree(&img);
    /* P2: ASCII, comments anywhere in the header, maxval below 255, trailing newline */
    const char *p2 = "P2 # ascii\n3 2 # size\n15\n0 1 2\n13 14 15\n\n";
    assert_int_equal(foilDataParsePgm("b.pgm", (const uint8_t *)p2, strlen(p2), &img), FOIL_OK);
    assert_int_equal(img.maxval, 15);
    assert_int_equal(img.pixels[5], 15);
    assert_int_equal(img.binary, 0);
    foilDataPgmFree(&img);
}

static void test_bad_images(void **state)
{
    (void)state;
    expect_bad("", 0, FOIL_ERR_FORMAT, "not a PGM");
    expect_bad("P6\n1 1\n255\n\x01\x02\x03", 14, FOIL_ERR_FORMAT, "not a PGM");
    expect_bad("P55\n1 1\n255\n\x01", 13, FOIL_ERR_FORMAT, "runs on");
    expect_bad("P5\n", 3, FOIL_ERR_FORMAT, "ends before its width");
    expect_bad("P5\nx 1\n255\n\x01", 12, FOIL_ERR_FORMAT, "width");
    expect_bad("P5\n2x 1\n255\n\x01", 13, FOIL_ERR_FORMAT, "width");
    expect_bad("P5\n1 1\n", 7, FOIL_ERR_FORMAT, "maxval");
    expect_bad("P5\n0 1\n255\n", 11, FOIL_ERR_FORMAT, "no pixels");
    expect_bad("P5\n99999 1\n255\n", 15, FOIL_ERR_FORMAT, "larger than");
    expect_bad("P5\n60000 60000\n255\n", 19, FOIL_ERR_FORMAT, "too large");
    expect_bad("P5\n1 1\n0\n\x00", 10, FOIL_ERR_FORMAT, "maxval is 0");
    expect_bad("P5\n1 1\n65535\n\x00\x01", 15, FOIL_ERR_UNSUPPORTED, "16-bit");
    expect_bad("P5\n2 2\n255", 10, FOIL_ERR_FORMAT, "no raster");
    expect_bad("P5\n2 2\n255\n\x01\x02", 13, FOIL_ERR_FORMAT, "needs 4 bytes");
    expect_bad("P5\n1 1\n100\n\xc8", 12, FOIL_ERR_FORMAT, "above the PGM's maxval");
    expect_bad("P5\n1 1\n255\n\x01\x02", 13, FOIL_ERR_FORMAT, "after the PGM's pixels");
    expect_bad("P2\n2 1\n15\n3", 11, FOIL_ERR_FORMAT, "ends before its pixels");
    expect_bad("P2\n2 1\n15\n3 16", 14, FOIL_ERR_FORMAT, "larger than 15");
    expect_bad("P2\n2 1\n15\n3 -1", 14, FOIL_ERR_FORMAT, "pixels");
}

/* Mutations of a good file: each parse succeeds or fails cleanly. */
static void test_mutations(void **state)
{
    (void)state;
    uint8_t good[128], buf[160];
    const size_t n = make_p5(good, 6, 5, 3);
    foil_rng rng = foil_rng_make(1, 0x70676d);
    int ok = 0, bad = 0;
    for (int t = 0; t < 5000; t++) {
        size_t len = n;
        memcpy(buf, good, n);
        const int kind = (int)foil_rng_below(&rng, 3), times = 1 + (int)foil_rng_below(&rng, 4);
        for (int k = 0; k < times; k++) {
            size_t at = (size_t)foil_rng_below(&rng, len ? len : 1);
            if (kind == 0 && len) buf[at] = (uint8_t)foil_rng_below(&rng, 256); /* flip */
            else if (kind == 1) len = at;                                        /* truncate */
            else if (len < sizeof buf) {                                        /* insert */
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = (uint8_t)"0123456789 #\nP5"[foil_rng_below(&rng, 15)];
                len++;
            }
        }
        /* a copy of exactly len bytes, so that ASan sees any read past the end */
        uint8_t *exact = malloc(len ? len : 1);
        memcpy(exact, buf, len);
        FoilPgm img;
        foil_status st = foilDataParsePgm("m.pgm", exact, len, &img);
        if (st == FOIL_OK) {
            assert_true(img.width * img.height <= (int64_t)len);
            for (int64_t i = 0; i < img.width * img.height; i++) assert_true(img.pixels[i] <= img.maxval);
            foilDataPgmFree(&img);
            ok++;
        } else {
            assert_non_null(strstr(foil_last_error(), "m.pgm"));
            bad++;
        }
        free(exact);
    }
    assert_true(ok > 0 && bad > 0); /* both outcomes were exercised */
}

/* dir/sC/K.pgm for C in 1..classes, K in 1..per, each image 4x3 (w x h). */
static void make_dir(const char *dir, int classes, int per)
{
    mkdir(dir, 0700);
    for (int c = 1; c <= classes; c++) {
        char p[512];
        snprintf(p, sizeof p, "%s/s%d", dir, c);
        mkdir(p, 0700);
        for (int k = 1; k <= per; k++) {
            uint8_t buf[128];
            size_t n = make_p5(buf, 4, 3, 10 * c + k);
            snprintf(p, sizeof p, "%s/s%d/%d.pgm", dir, c, k);
            write_bytes(p, buf, n);
        }
    }
    char readme[512];
    snprintf(readme, sizeof readme, "%s/README", dir);
    write_bytes(readme, "not an image\n", 13); /* files beside the class folders are ignored */
}

static void test_directory(void **state)
{
    (void)state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/faces", tmpdir);
    make_dir(dir, 11, 5);
    foil_data_spec spec = {.data = dir};
    foil_dataset all, tr, te;
    assert_int_equal(foil_data_load(&spec, FOIL_SPLIT_ALL, &all), FOIL_OK);
    assert_string_equal(all.name, "faces");
    assert_int_equal(all.classes, 11);
    assert_int_equal(all.x.ndim, 4);
    assert_int_equal(all.x.shape[0], 55);
    assert_int_equal(all.x.shape[1], 1);
    assert_int_equal(all.x.shape[2], 3);
    assert_int_equal(all.x.shape[3], 4);
    assert_true(all.is_image);
    /* natural order: s2 is class 1, s10 class 9 (not "s10" < "s2") */
    assert_string_equal(all.class_names[1], "s2");
    assert_string_equal(all.class_names[9], "s10");
    assert_int_equal(foil_i64(&all.y)[9 * 5], 9);
    /* pixel 1 of s10/1.pgm: (101 + 7) / 255 */
    assert_float_equal(foil_f32(&all.x)[9 * 5 * 12 + 1], 108.0f / 255.0f, 1e-6);
    assert_int_equal(foil_data_load(&spec, FOIL_SPLIT_TRAIN, &tr), FOIL_OK);
    assert_int_equal(foil_data_load(&spec, FOIL_SPLIT_TEST, &te), FOIL_OK);
    assert_int_equal(tr.x.shape[0], 44); /* 80/20 per class: 4 and 1 of 5 */
    assert_int_equal(te.x.shape[0], 11);
    foil_dataset_free(&all);
    foil_dataset_free(&tr);
    foil_dataset_free(&te);
}

/* A bad directory: the error names `what` (a file or folder). */
static void expect_dir_error(const char *dir, const char *what)
{
    foil_data_spec spec = {.data = dir};
    foil_dataset d;
    assert_int_not_equal(foil_data_load(&spec, FOIL_SPLIT_ALL, &d), FOIL_OK);
    if (!strstr(foil_last_error(), what)) fail_msg("error '%s' does not name '%s'", foil_last_error(), what);
}

static void test_bad_directories(void **state)
{
    (void)state;
    char dir[512], p[600];
    snprintf(dir, sizeof dir, "%s/mixed", tmpdir);
    make_dir(dir, 2, 2);
    uint8_t buf[128];
    size_t n = make_p5(buf, 5, 3, 0);
    snprintf(p, sizeof p, "%s/s2/3.pgm", dir);
    write_bytes(p, buf, n);
    expect_dir_error(dir, p); /* 5x3 among 4x3 images */
    write_bytes(p, buf, n - 4);
    expect_dir_error(dir, p); /* truncated */
    unlink(p);
    snprintf(p, sizeof p, "%s/s3", dir);
    mkdir(p, 0700);
    expect_dir_error(dir, "s3: a class folder without .pgm images");
    snprintf(dir, sizeof dir, "%s/empty", tmpdir);
    mkdir(dir, 0700);
    expect_dir_error(dir, "no class folders");
    foil_data_spec spec = {.data = dir, .labels = "y.npy"};
    foil_dataset d;
    assert_int_equal(foil_data_load(&spec, FOIL_SPLIT_ALL, &d), FOIL_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_images),
        cmocka_unit_test(test_bad_images),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_directory),
        cmocka_unit_test(test_bad_directories),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
