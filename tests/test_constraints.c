/*
 * tests/test_constraints.c - the tabular constraint file and feature lists
 * (attacks/constraints.c) on the breast-cancer dataset: rules set the
 * right masks and bounds, and every malformed file gets an error naming
 * the file, the line and the problem.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "foil/evasion.h"
#include "foil/data.h"

static foil_dataset D;
static int64_t F;
static char path[64];

typedef struct rules {
    uint8_t immutable[64], integer[64];
    float lower[64], upper[64];
} rules;

static void write_text(const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static foil_status load(const char *text, rules *r)
{
    memset(r, 0, sizeof *r);
    memcpy(r->lower, foil_f32(&D.lower), (size_t)F * sizeof(float));
    memcpy(r->upper, foil_f32(&D.upper), (size_t)F * sizeof(float));
    write_text(text);
    return foil_constraints_load(path, &D, r->immutable, r->integer, r->lower, r->upper);
}

static void expect_error(const char *text, const char *what)
{
    rules r;
    assert_int_not_equal(load(text, &r), FOIL_OK);
    const char *msg = foil_last_error();
    printf("  %s\n", msg);
    assert_non_null(strstr(msg, path));
    assert_non_null(strstr(msg, what));
}

static void test_rules(void **state)
{
    (void)state;
    rules r;
    float lo = foil_f32(&D.lower)[23], hi = foil_f32(&D.upper)[23];
    char text[512];
    snprintf(text, sizeof text,
             "# a patient record\n\n  immutable mean radius , mean texture # not these\n"
             "integer 20,21\r\nbounds\tworst area %g %g\n",
             (double)lo - 10, (double)hi + 10);
    assert_int_equal(load(text, &r), FOIL_OK);
    for (int64_t j = 0; j < F; j++) {
        assert_int_equal(r.immutable[j], j == 0 || j == 1);
        assert_int_equal(r.integer[j], j == 20 || j == 21);
        if (j != 23) assert_true(r.lower[j] == foil_f32(&D.lower)[j] && r.upper[j] == foil_f32(&D.upper)[j]);
    }
    assert_string_equal(D.feature_names[23], "worst area");
    assert_float_equal(r.lower[23], lo - 10, 1e-3);
    assert_float_equal(r.upper[23], hi + 10, 1e-3);
    assert_int_equal(load("", &r), FOIL_OK); /* empty file: no rules */
}

static void test_lists(void **state)
{
    (void)state;
    uint8_t mask[64] = {0};
    int64_t j;
    assert_int_equal(foil_feature_index(&D, "7", &j), FOIL_OK);
    assert_int_equal(j, 7);
    assert_int_not_equal(foil_feature_index(&D, "30", &j), FOIL_OK);
    assert_int_not_equal(foil_feature_index(&D, "-1", &j), FOIL_OK);
    assert_int_not_equal(foil_feature_index(&D, "", &j), FOIL_OK);
    assert_int_equal(foil_features_mark(&D, "mean radius, 29", mask), FOIL_OK);
    assert_true(mask[0] && mask[29] && !mask[1]);
    assert_int_not_equal(foil_features_mark(&D, "mean radius,,2", mask), FOIL_OK);
}

static void test_bad_files(void **state)
{
    (void)state;
    expect_error("immutable mean radius\nimmutable no such feature\n", "line 2");
    expect_error("immutable no such feature\n", "not a feature name");
    expect_error("frobnicate 3\n", "unknown rule");
    expect_error("bounds worst area 5\n", "bounds");
    expect_error("bounds worst area 5 x\n", "two finite numbers");
    expect_error("bounds worst area 9 1\n", "LOW <= HIGH");
    expect_error("bounds worst area nan 1\n", "finite");
    expect_error("bounds worst area 500 600\n", "exclude example");
    expect_error("bounds 3\n", "NAME LOW HIGH");
    expect_error("integer 20,\n", "empty");
    expect_error("immutable mean\001radius\n", "not a text file");
    rules r;
    unlink(path);
    assert_int_equal(foil_constraints_load(path, &D, r.immutable, r.integer, r.lower, r.upper), FOIL_ERR_IO);
    assert_non_null(strstr(foil_last_error(), path));
}

int main(void)
{
    foil_data_spec spec = {.data = "breast-cancer"};
    if (foil_data_load(&spec, FOIL_SPLIT_TEST, &D)) {
        printf("skipped: breast-cancer is not available (%s)\n", foil_last_error());
        return 77;
    }
    F = foil_dataset_example_size(&D);
    assert_true(F == 30);
    snprintf(path, sizeof path, "/tmp/foil-constraints-%d.txt", (int)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_bad_files),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    unlink(path);
    foil_dataset_free(&D);
    return rc;
}
