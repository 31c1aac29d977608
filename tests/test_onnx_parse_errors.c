/*
 * tests/test_onnx_parse_errors.c - an ONNX file that protobuf cannot parse
 * gets an error saying where it breaks (byte offset, message path, field),
 * not one generic line. The files are written byte by byte here, so each
 * test knows the exact offset to expect.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "io/onnx.h"
#include "nn/builder.h"

static void expect_load_error(const uint8_t *bytes, size_t len, const char *needle)
{
    FoilGraph *g = NULL;
    foil_status st = foilOnnxLoadBuffer(bytes, len, "m.onnx", &g);
    assert_null(g);
    if (st == FOIL_OK) fail_msg("expected an error containing '%s'", needle);
    if (!strstr(foil_last_error(), needle)) fail_msg("error '%s' lacks '%s'", foil_last_error(), needle);
}

/* ModelProto { ir_version: 8, graph { node { op_type: <length 200, 3 bytes: "Add"> } } }:
 * every enclosing length is right, only the innermost runs past its message. */
static void test_length_past_end_inside_a_node(void **state)
{
    (void)state;
    const uint8_t bytes[] = {0x08, 0x08,             /* 0: ir_version = 8 */
                             0x3a, 0x08,             /* 2: graph, 8 bytes */
                             0x0a, 0x06,             /* 4: graph.node[0], 6 bytes */
                             0x22, 0xc8, 0x01,       /* 6: op_type, 200 bytes */
                             'A', 'd', 'd'};         /* 9..11; the node ends at 12 */
    expect_load_error(bytes, sizeof bytes,
                      "byte 6 in graph.node[0]: field 'op_type' (4) declares 200 bytes but only 3 remain before byte 12");
}

/* The second node is the broken one: the path says so. */
static void test_names_the_repeated_element(void **state)
{
    (void)state;
    const uint8_t bytes[] = {0x3a, 0x0c,                        /* 0: graph, 12 bytes */
                             0x0a, 0x05, 0x22, 0x03, 'A', 'd', 'd', /* 2: node[0], op_type "Add" */
                             0x0a, 0x03, 0x22, 0x05, 'R'};          /* 9: node[1], op_type of 5 bytes, 1 there */
    expect_load_error(bytes, sizeof bytes, "byte 11 in graph.node[1]: field 'op_type' (4) declares 5 bytes");
}

static void test_wrong_wire_type(void **state)
{
    (void)state;
    const uint8_t bytes[] = {0x08, 0x08, 0x38, 0x01}; /* graph (7) as a varint */
    expect_load_error(bytes, sizeof bytes, "byte 2 in the model: field 'graph' (7) has wire type 0, expected 2");
}

static void test_packed_array_of_partial_elements(void **state)
{
    (void)state;
    const uint8_t bytes[] = {0x3a, 0x07,                    /* 0: graph, 7 bytes */
                             0x2a, 0x05,                    /* 2: graph.initializer[0], 5 bytes */
                             0x22, 0x03, 0x00, 0x00, 0x80}; /* 4: float_data, packed, 3 bytes: not whole floats */
    expect_load_error(bytes, sizeof bytes, "byte 4 in graph.initializer[0]: packed field 'float_data' (4) of 3 bytes "
                                           "does not hold whole elements");
}

static void test_cut_short_tag_and_group(void **state)
{
    (void)state;
    const uint8_t cut[] = {0x08, 0x08, 0x80};
    expect_load_error(cut, sizeof cut, "byte 2 in the model: a field tag is cut short");
    const uint8_t group[] = {0x08, 0x08, 0x0b}; /* field 1, wire type 3 */
    expect_load_error(group, sizeof group, "groups are not supported");
}

/* A real model cut in half: the graph's length runs past the end of the file. */
static void test_truncated_model(void **state)
{
    (void)state;
    FoilBuilder b;
    assert_int_equal(foilBuilderBegin(&b, "relu", 13), FOIL_OK);
    int x = foilBuilderInput(&b, "x", FOIL_F32, 2, (int64_t[]){-1, 4}, NULL);
    int y = foilBuilderOp(&b, "Relu", "relu", FOIL_B_IN(x), FOIL_B_NO_ATTRS);
    foilBuilderOutput(&b, y, FOIL_F32, 2, (int64_t[]){-1, 4}, NULL);
    FoilGraph *g;
    if (foilBuilderFinish(&b, &g)) fail_msg("%s", foil_last_error());
    uint8_t *bytes;
    size_t len;
    if (foilOnnxSaveBuffer(g, &bytes, &len)) fail_msg("%s", foil_last_error());
    foilGraphFree(g);
    expect_load_error(bytes, len / 2, "field 'graph' (7) declares");
    free(bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_length_past_end_inside_a_node),
        cmocka_unit_test(test_names_the_repeated_element),
        cmocka_unit_test(test_wrong_wire_type),
        cmocka_unit_test(test_packed_array_of_partial_elements),
        cmocka_unit_test(test_cut_short_tag_and_group),
        cmocka_unit_test(test_truncated_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
