/*
 * tests/test_npy.c - NumPy .npy reading and writing.
 *
 * Round-trips every dtype at ranks 0 to 8; reads files written by real NumPy
 * (versions 1.0, 2.0, 3.0) and has NumPy read foil's files, when
 * /usr/bin/python3 with numpy exists; and feeds the reader hand-crafted bad
 * files, each of which must give a clear error naming the file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "foil/npy.h"
#include "foil/tensor.h"

static char tmpdir[256];

static const char *tpath(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/foil_npy_XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    DIR *d = opendir(tmpdir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlink(tpath(e->d_name));
        closedir(d);
    }
    rmdir(tmpdir);
    return 0;
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (len) assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* An .npy file from a header dict (padded as NumPy does unless raw) and data. */
static void make_npy(const char *path, int major, int minor, const char *dict, const void *data, size_t dlen)
{
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t hlen = (pre + dl + 1 + 63) / 64 * 64 - pre;
    unsigned char *buf = calloc(1, pre + hlen + dlen + 1);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = (unsigned char)minor;
    for (size_t i = 0; i < pre - 8; i++) buf[8 + i] = (unsigned char)(hlen >> (8 * i));
    memcpy(buf + pre, dict, dl);
    memset(buf + pre + dl, ' ', hlen - dl - 1);
    buf[pre + hlen - 1] = '\n';
    if (dlen) memcpy(buf + pre + hlen, data, dlen);
    write_bytes(path, buf, pre + hlen + dlen);
    free(buf);
}

static void expect_fail(const char *name, foil_status code, const char *needle)
{
    foil_tensor t;
    const char *path = tpath(name);
    foil_clear_error();
    foil_status st = foil_npy_read(path, &t);
    if (st != code) fail_msg("%s: expected status %d, got %d (%s)", name, (int)code, (int)st, foil_last_error());
    assert_null(t.data);
    const char *msg = foil_last_error();
    if (!strstr(msg, path)) fail_msg("%s: message does not name the file: %s", name, msg);
    if (needle && !strstr(msg, needle)) fail_msg("%s: message lacks '%s': %s", name, needle, msg);
}

/* ------------------------------------------------------------------------- */

static const foil_dtype all_dtypes[] = {FOIL_F32, FOIL_F64, FOIL_U8,  FOIL_I8,  FOIL_BOOL, FOIL_I16,
                                        FOIL_U16, FOIL_I32, FOIL_U32, FOIL_I64, FOIL_U64};

static void fill_pattern(foil_tensor *t)
{
    unsigned char *b = t->data;
    size_t n = foil_tensor_nbytes(t);
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(i * 131 + 7);
    if (t->dtype == FOIL_BOOL)
        for (size_t i = 0; i < n; i++) b[i] &= 1;
    if (t->dtype == FOIL_F32)
        for (int64_t i = 0; i < t->numel; i++) foil_f32(t)[i] = (float)i * 0.25f - 1.0f;
    if (t->dtype == FOIL_F64)
        for (int64_t i = 0; i < t->numel; i++) ((double *)t->data)[i] = (double)i / 3.0;
}

static void test_roundtrip(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof all_dtypes / sizeof all_dtypes[0]; k++) {
        for (int r = 0; r <= 8; r++) {
            int64_t shape[8];
            for (int d = 0; d < r; d++) shape[d] = 1 + (d * 2 + r) % 3;
            foil_tensor t, u;
            assert_int_equal(foil_tensor_alloc(&t, all_dtypes[k], r, shape), FOIL_OK);
            fill_pattern(&t);
            const char *path = tpath("rt.npy");
            if (foil_npy_write(path, &t)) fail_msg("%s", foil_last_error());
            struct stat sb;
            assert_int_equal(stat(path, &sb), 0);
            /* header padded to 64, ends in '\n' */
            size_t data_start = (size_t)sb.st_size - foil_tensor_nbytes(&t);
            assert_int_equal(data_start % 64, 0);
            FILE *f = fopen(path, "rb");
            unsigned char head[512];
            assert_int_equal(fread(head, 1, data_start, f), data_start);
            fclose(f);
            assert_int_equal(head[data_start - 1], '\n');
            assert_int_equal(head[6], 1);
            assert_int_equal(head[7], 0);
            if (foil_npy_read(path, &u)) fail_msg("%s", foil_last_error());
            assert_int_equal(u.dtype, t.dtype);
            assert_int_equal(u.ndim, r);
            assert_true(foil_tensor_same_shape(&t, &u));
            assert_true(u.owns_data);
            assert_memory_equal(u.data, t.data, foil_tensor_nbytes(&t));
            foil_tensor_free(&t);
            foil_tensor_free(&u);
        }
    }
    /* zero-sized array */
    const int64_t z[3] = {2, 0, 3};
    foil_tensor t, u;
    assert_int_equal(foil_tensor_alloc(&t, FOIL_F32, 3, z), FOIL_OK);
    assert_int_equal(foil_npy_write(tpath("zero.npy"), &t), FOIL_OK);
    assert_int_equal(foil_npy_read(tpath("zero.npy"), &u), FOIL_OK);
    assert_int_equal(u.numel, 0);
    assert_true(foil_tensor_same_shape(&t, &u));
    foil_tensor_free(&t);
    foil_tensor_free(&u);

    /* overwrite in place; no temporary left behind */
    const int64_t n3 = 3;
    assert_int_equal(foil_tensor_alloc(&t, FOIL_I64, 1, &n3), FOIL_OK);
    foil_i64(&t)[2] = 42;
    assert_int_equal(foil_npy_write(tpath("zero.npy"), &t), FOIL_OK);
    assert_int_equal(foil_npy_read(tpath("zero.npy"), &u), FOIL_OK);
    assert_int_equal(foil_i64(&u)[2], 42);
    foil_tensor_free(&u);
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) fail_msg("temporary file left behind: %s", e->d_name);
    closedir(d);
    /* unwritable destination */
    foil_clear_error();
    assert_int_equal(foil_npy_write(tpath("no/such/dir/x.npy"), &t), FOIL_ERR_IO);
    assert_non_null(strstr(foil_last_error(), "no/such/dir"));
    /* unsupported dtype */
    t.dtype = FOIL_UNDEFINED;
    assert_int_equal(foil_npy_write(tpath("bad.npy"), &t), FOIL_ERR_UNSUPPORTED);
    t.dtype = FOIL_I64;
    foil_tensor_free(&t);
}

/* ------------------------------------------------------------------------- */
/* interoperability with real NumPy                                          */

static int have_numpy(void)
{
    if (access("/usr/bin/python3", X_OK) != 0) return 0;
    return system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
}

static int run_python(const char *code)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd '%s' && /usr/bin/python3 -c \"%s\"", tmpdir, code);
    return system(cmd);
}

static void test_numpy_files(void **state)
{
    (void)state;
    if (!have_numpy()) {
        print_message("SKIP part: /usr/bin/python3 with numpy not found; NumPy interoperability not tested\n");
        return;
    }
    /* NumPy writes: each array a = arange(n).reshape(shape) * k in a dtype,
     * in format 1.0, 2.0 and 3.0. */
    int rc = run_python(
        "import numpy as np\n"
        "from numpy.lib import format as F\n"
        "specs = [('f4', (2,3,4)), ('f8', (5,)), ('u1', (3,3)), ('i8', ()), ('i4', (2,2,2,2)), ('i1', (7,)),"
        " ('b1', (2,5)), ('u2', (4,)), ('i2', (1,1,3)), ('u4', (3,)), ('u8', (2,))]\n"
        "for code, shape in specs:\n"
        "    n = int(np.prod(shape))\n"
        "    a = (np.arange(n) * 3 - 5).reshape(shape)\n"
        "    a = (a % 2 == 0) if code == 'b1' else a.astype(code) if code[0] in 'fi' else (np.arange(n) * 3).reshape(shape).astype(code)\n"
        "    np.save('np_%s.npy' % code, a)\n"
        "    for v in [(2, 0), (3, 0)]:\n"
        "        with open('np_%s_v%d.npy' % (code, v[0]), 'wb') as f: F.write_array(f, a, version=v)\n"
        "np.save('np_f4_8d.npy', np.arange(256, dtype=np.float32).reshape((2,)*8))\n"
        "np.save('np_f4_empty.npy', np.zeros((0, 3), dtype=np.float32))\n"
        "np.save('np_f4_fortran.npy', np.asfortranarray(np.ones((2, 3), dtype=np.float32)))\n"
        "np.save('np_f4_big.npy', np.ones(3, dtype='>f4'))\n"
        "np.save('np_c8.npy', np.ones(3, dtype=np.complex64))\n"
        "np.save('np_f2.npy', np.ones(3, dtype=np.float16))\n");
    assert_int_equal(rc, 0);
    const struct { const char *code; foil_dtype dt; int r; int64_t shape[4]; } specs[] = {
        {"f4", FOIL_F32, 3, {2, 3, 4}}, {"f8", FOIL_F64, 1, {5}},       {"u1", FOIL_U8, 2, {3, 3}},
        {"i8", FOIL_I64, 0, {0}},       {"i4", FOIL_I32, 4, {2, 2, 2, 2}}, {"i1", FOIL_I8, 1, {7}},
        {"b1", FOIL_BOOL, 2, {2, 5}},   {"u2", FOIL_U16, 1, {4}},       {"i2", FOIL_I16, 3, {1, 1, 3}},
        {"u4", FOIL_U32, 1, {3}},       {"u8", FOIL_U64, 1, {2}},
    };
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        for (int v = 1; v <= 3; v++) {
            char name[64];
            if (v == 1) snprintf(name, sizeof name, "np_%s.npy", specs[k].code);
            else snprintf(name, sizeof name, "np_%s_v%d.npy", specs[k].code, v);
            foil_tensor t;
            if (foil_npy_read(tpath(name), &t)) fail_msg("%s", foil_last_error());
            assert_int_equal(t.dtype, specs[k].dt);
            assert_int_equal(t.ndim, specs[k].r);
            for (int d = 0; d < t.ndim; d++) assert_int_equal(t.shape[d], specs[k].shape[d]);
            /* the values, through the float32 converter */
            foil_tensor f;
            if (foil_npy_read_f32(tpath(name), &f)) fail_msg("%s", foil_last_error());
            assert_int_equal(f.dtype, FOIL_F32);
            for (int64_t i = 0; i < f.numel; i++) {
                double want;
                if (specs[k].dt == FOIL_BOOL) want = (double)((i * 3 - 5) % 2 == 0);
                else if (specs[k].dt == FOIL_U8 || specs[k].dt == FOIL_U16 || specs[k].dt == FOIL_U32 ||
                         specs[k].dt == FOIL_U64)
                    want = (double)(i * 3) - (specs[k].dt == FOIL_U8 && i * 3 > 255 ? 256 : 0);
                else want = (double)(i * 3 - 5);
                if (fabs(foil_f32(&f)[i] - want) > 1e-6)
                    fail_msg("%s[%lld] = %g, expected %g", name, (long long)i, (double)foil_f32(&f)[i], want);
            }
            foil_tensor_free(&f);
            foil_tensor_free(&t);
        }
    }
    foil_tensor t;
    assert_int_equal(foil_npy_read(tpath("np_f4_8d.npy"), &t), FOIL_OK);
    assert_int_equal(t.ndim, 8);
    assert_true(foil_f32(&t)[255] == 255.0f);
    foil_tensor_free(&t);
    assert_int_equal(foil_npy_read(tpath("np_f4_empty.npy"), &t), FOIL_OK);
    assert_int_equal(t.numel, 0);
    assert_int_equal(t.shape[1], 3);
    foil_tensor_free(&t);
    expect_fail("np_f4_fortran.npy", FOIL_ERR_UNSUPPORTED, "fortran");
    expect_fail("np_f4_big.npy", FOIL_ERR_UNSUPPORTED, "big-endian");
    expect_fail("np_c8.npy", FOIL_ERR_UNSUPPORTED, "<c8");
    expect_fail("np_f2.npy", FOIL_ERR_UNSUPPORTED, "<f2");

    /* NumPy reads what foil writes */
    const int64_t s[3] = {2, 3, 4};
    const foil_dtype dts[4] = {FOIL_F32, FOIL_U8, FOIL_I64, FOIL_BOOL};
    const char *names[4] = {"foil_f4.npy", "foil_u1.npy", "foil_i8.npy", "foil_b1.npy"};
    for (int k = 0; k < 4; k++) {
        assert_int_equal(foil_tensor_alloc(&t, dts[k], 3, s), FOIL_OK);
        for (int64_t i = 0; i < 24; i++) {
            if (dts[k] == FOIL_F32) foil_f32(&t)[i] = (float)i - 0.5f;
            else if (dts[k] == FOIL_U8) ((uint8_t *)t.data)[i] = (uint8_t)(i * 10);
            else if (dts[k] == FOIL_I64) foil_i64(&t)[i] = -i * 1000000000000LL;
            else ((uint8_t *)t.data)[i] = (uint8_t)(i % 3 == 0);
        }
        assert_int_equal(foil_npy_write(tpath(names[k]), &t), FOIL_OK);
        foil_tensor_free(&t);
    }
    foil_tensor_alloc(&t, FOIL_F64, 0, NULL);
    ((double *)t.data)[0] = 3.25;
    assert_int_equal(foil_npy_write(tpath("foil_scalar.npy"), &t), FOIL_OK);
    foil_tensor_free(&t);
    rc = run_python("import numpy as np\n"
                    "i = np.arange(24).reshape(2, 3, 4)\n"
                    "assert np.array_equal(np.load('foil_f4.npy'), (i - 0.5).astype(np.float32))\n"
                    "assert np.load('foil_f4.npy').dtype == np.float32\n"
                    "assert np.array_equal(np.load('foil_u1.npy'), (i * 10).astype(np.uint8))\n"
                    "assert np.array_equal(np.load('foil_i8.npy'), -i * 1000000000000)\n"
                    "b = np.load('foil_b1.npy'); assert b.dtype == bool and np.array_equal(b, i % 3 == 0)\n"
                    "s = np.load('foil_scalar.npy'); assert s.shape == () and s == 3.25\n");
    assert_int_equal(rc, 0);
}

/* ------------------------------------------------------------------------- */
/* conversions                                                               */

static void test_convert(void **state)
{
    (void)state;
    const int64_t n4 = 4;
    const uint8_t u8[4] = {0, 1, 128, 255};
    make_npy(tpath("u8.npy"), 1, 0, "{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }", u8, 4);
    foil_tensor t;
    assert_int_equal(foil_npy_read_f32(tpath("u8.npy"), &t), FOIL_OK);
    const float wf[4] = {0, 1, 128, 255};
    assert_memory_equal(t.data, wf, sizeof wf); /* no scaling */
    foil_tensor_free(&t);
    assert_int_equal(foil_npy_read_labels(tpath("u8.npy"), &t), FOIL_OK);
    assert_int_equal(t.dtype, FOIL_I64);
    assert_int_equal(foil_i64(&t)[3], 255);
    foil_tensor_free(&t);

    const double f8[4] = {1e10, -2.5, 0.0, 7.0};
    make_npy(tpath("f8.npy"), 1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", f8, sizeof f8);
    assert_int_equal(foil_npy_read_f32(tpath("f8.npy"), &t), FOIL_OK);
    assert_true(foil_f32(&t)[0] == 1e10f && foil_f32(&t)[1] == -2.5f);
    foil_tensor_free(&t);
    foil_clear_error();
    assert_int_equal(foil_npy_read_labels(tpath("f8.npy"), &t), FOIL_ERR_FORMAT); /* -2.5 */
    assert_non_null(strstr(foil_last_error(), "f8.npy"));
    assert_null(t.data);

    const float f4[4] = {0, 3, 9, -1};
    make_npy(tpath("f4.npy"), 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", f4, sizeof f4);
    assert_int_equal(foil_npy_read_labels(tpath("f4.npy"), &t), FOIL_OK);
    assert_int_equal(t.ndim, 2);
    assert_int_equal(foil_i64(&t)[2], 9);
    assert_int_equal(foil_i64(&t)[3], -1);
    foil_tensor_free(&t);
    const float fnan[2] = {1, NAN}, fbig[2] = {1, 1e30f};
    make_npy(tpath("fnan.npy"), 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", fnan, 8);
    assert_int_equal(foil_npy_read_labels(tpath("fnan.npy"), &t), FOIL_ERR_FORMAT);
    make_npy(tpath("fbig.npy"), 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", fbig, 8);
    assert_int_equal(foil_npy_read_labels(tpath("fbig.npy"), &t), FOIL_ERR_FORMAT);
    const uint64_t u64[2] = {5, UINT64_MAX};
    make_npy(tpath("u64.npy"), 1, 0, "{'descr': '<u8', 'fortran_order': False, 'shape': (2,), }", u64, 16);
    assert_int_equal(foil_npy_read_labels(tpath("u64.npy"), &t), FOIL_ERR_FORMAT);

    const int32_t i4[4] = {-3, 0, 9, 2147483647};
    make_npy(tpath("i4.npy"), 1, 0, "{'descr': '<i4', 'fortran_order': False, 'shape': (4,), }", i4, sizeof i4);
    assert_int_equal(foil_npy_read_labels(tpath("i4.npy"), &t), FOIL_OK);
    assert_int_equal(foil_i64(&t)[0], -3);
    assert_int_equal(foil_i64(&t)[3], 2147483647);
    foil_tensor_free(&t);
    const int64_t i8[4] = {1, 2, 3, 4};
    make_npy(tpath("i8.npy"), 1, 0, "{'descr': '<i8', 'fortran_order': False, 'shape': (4,), }", i8, sizeof i8);
    assert_int_equal(foil_npy_read_labels(tpath("i8.npy"), &t), FOIL_OK);
    assert_memory_equal(t.data, i8, sizeof i8);
    foil_tensor_free(&t);
    assert_int_equal(foil_npy_read_f32(tpath("i8.npy"), &t), FOIL_OK);
    assert_true(foil_f32(&t)[3] == 4.0f);
    foil_tensor_free(&t);
    /* bool bytes other than 0/1 are normalized */
    const uint8_t b1[4] = {0, 1, 2, 255};
    make_npy(tpath("b1.npy"), 1, 0, "{'descr': '|b1', 'fortran_order': False, 'shape': (4,), }", b1, 4);
    assert_int_equal(foil_npy_read(tpath("b1.npy"), &t), FOIL_OK);
    const uint8_t wb[4] = {0, 1, 1, 1};
    assert_memory_equal(t.data, wb, 4);
    foil_tensor_free(&t);
    (void)n4;
    /* conversion of a bad file still fails cleanly */
    write_bytes(tpath("junk.npy"), "hello", 5);
    assert_int_equal(foil_npy_read_f32(tpath("junk.npy"), &t), FOIL_ERR_FORMAT);
    assert_int_equal(foil_npy_read_labels(tpath("junk.npy"), &t), FOIL_ERR_FORMAT);
}

/* ------------------------------------------------------------------------- */
/* hostile input                                                             */

static void test_bad_files(void **state)
{
    (void)state;
    const float four[4] = {1, 2, 3, 4};
    const char *ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }";

    /* sanity: the good file reads, in each version, with odd spacing and
     * double quotes, and Python 2 long suffixes */
    make_npy(tpath("good.npy"), 1, 0, ok, four, 16);
    make_npy(tpath("good2.npy"), 2, 0, ok, four, 16);
    make_npy(tpath("good3.npy"), 3, 0, "{ \"shape\" :(2,2) ,\"fortran_order\":False,\"descr\":\"<f4\"}", four, 16);
    make_npy(tpath("goodL.npy"), 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 2L), }", four, 16);
    const char *goods[4] = {"good.npy", "good2.npy", "good3.npy", "goodL.npy"};
    for (int k = 0; k < 4; k++) {
        foil_tensor t;
        if (foil_npy_read(tpath(goods[k]), &t)) fail_msg("%s", foil_last_error());
        assert_memory_equal(t.data, four, 16);
        foil_tensor_free(&t);
    }

    /* missing / empty / not npy */
    expect_fail("does_not_exist.npy", FOIL_ERR_IO, NULL);
    write_bytes(tpath("empty.npy"), "", 0);
    expect_fail("empty.npy", FOIL_ERR_FORMAT, "magic");
    write_bytes(tpath("magic.npy"), "\x93NUMPX\x01\x00\x10\x00", 10);
    expect_fail("magic.npy", FOIL_ERR_FORMAT, "magic");
    write_bytes(tpath("short.npy"), "\x93NUMPY\x01", 7);
    expect_fail("short.npy", FOIL_ERR_FORMAT, "truncated");
    write_bytes(tpath("short2.npy"), "\x93NUMPY\x02\x00\xff", 9);
    expect_fail("short2.npy", FOIL_ERR_FORMAT, "truncated");

    /* versions */
    make_npy(tpath("v4.npy"), 4, 0, ok, four, 16);
    expect_fail("v4.npy", FOIL_ERR_UNSUPPORTED, "version 4.0");
    make_npy(tpath("v11.npy"), 1, 1, ok, four, 16);
    expect_fail("v11.npy", FOIL_ERR_UNSUPPORTED, "version 1.1");

    /* header length: absurd (v2, 1 GiB), or beyond the end of the file */
    write_bytes(tpath("hlong.npy"), "\x93NUMPY\x02\x00\x00\x00\x00\x40{}", 14);
    expect_fail("hlong.npy", FOIL_ERR_FORMAT, "too long");
    write_bytes(tpath("htrunc.npy"), "\x93NUMPY\x01\x00\x00\x01{'descr': '<f4',", 10 + 16);
    expect_fail("htrunc.npy", FOIL_ERR_FORMAT, "truncated");

    /* malformed headers */
    const struct { const char *name, *dict; } malformed[] = {
        {"garbage.npy", "hello world"},
        {"nobrace.npy", "'descr': '<f4', 'fortran_order': False, 'shape': (4,)"},
        {"unterminated.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), "},
        {"unterm_str.npy", "{'descr': '<f4, 'fortran_order': False, 'shape': (4,)}"},
        {"unterm_tuple.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4, }"},
        {"nodescr.npy", "{'fortran_order': False, 'shape': (4,), }"},
        {"noorder.npy", "{'descr': '<f4', 'shape': (4,), }"},
        {"noshape.npy", "{'descr': '<f4', 'fortran_order': False, }"},
        {"extra_key.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': 1}"},
        {"dup_key.npy", "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (4,)}"},
        {"bad_bool.npy", "{'descr': '<f4', 'fortran_order': 0, 'shape': (4,)}"},
        {"bad_bool2.npy", "{'descr': '<f4', 'fortran_order': Falsey, 'shape': (4,)}"},
        {"shape_list.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': [4]}"},
        {"shape_int.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4)}"},
        {"shape_float.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4.0,)}"},
        {"shape_hex.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (0x4,)}"},
        {"no_colon.npy", "{'descr' '<f4', 'fortran_order': False, 'shape': (4,)}"},
        {"trailing.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)} junk"},
        {"descr_int.npy", "{'descr': 4, 'fortran_order': False, 'shape': (4,)}"},
        {"nul.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)}\x01"},
        {"two_commas.npy", "{'descr': '<f4',, 'fortran_order': False, 'shape': (4,)}"},
        {"long_key.npy", "{'descrdescrdescrdescrdescrdescrdescrdescr': '<f4'}"},
    };
    for (size_t k = 0; k < sizeof malformed / sizeof malformed[0]; k++) {
        make_npy(tpath(malformed[k].name), 1, 0, malformed[k].dict, four, 16);
        expect_fail(malformed[k].name, FOIL_ERR_FORMAT, "header");
    }

    /* layout / types that are valid NumPy but not supported */
    const struct { const char *name, *dict, *needle; } unsupported[] = {
        {"fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", "fortran"},
        {"bigend.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", "big-endian"},
        {"bigend8.npy", "{'descr': '>i8', 'fortran_order': False, 'shape': (2,), }", "big-endian"},
        {"complex.npy", "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", "<c8"},
        {"object.npy", "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", "|O"},
        {"unicode.npy", "{'descr': '<U4', 'fortran_order': False, 'shape': (1,), }", "<U4"},
        {"noorder_f4.npy", "{'descr': 'f4', 'fortran_order': False, 'shape': (4,), }", "f4"},
        {"pipe_f4.npy", "{'descr': '|f4', 'fortran_order': False, 'shape': (4,), }", "|f4"},
        {"struct.npy", "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,), }", "structured"},
        {"nine_dims.npy", "{'descr': '|u1', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,16), }", "dimensions"},
    };
    for (size_t k = 0; k < sizeof unsupported / sizeof unsupported[0]; k++) {
        make_npy(tpath(unsupported[k].name), 1, 0, unsupported[k].dict, four, 16);
        expect_fail(unsupported[k].name, FOIL_ERR_UNSUPPORTED, unsupported[k].needle);
    }
    /* 1-byte types accept '<' and '|' */
    make_npy(tpath("lt_u1.npy"), 1, 0, "{'descr': '<u1', 'fortran_order': False, 'shape': (16,), }", four, 16);
    foil_tensor t;
    assert_int_equal(foil_npy_read(tpath("lt_u1.npy"), &t), FOIL_OK);
    foil_tensor_free(&t);

    /* shapes: negative, absurd (count overflows), huge but finite (must not
     * be allocated: the file is too short), digits overflowing int64 */
    make_npy(tpath("neg.npy"), 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }", four, 16);
    expect_fail("neg.npy", FOIL_ERR_FORMAT, "negative");
    make_npy(tpath("overflow.npy"), 1, 0,
             "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", four, 16);
    expect_fail("overflow.npy", FOIL_ERR_FORMAT, "absurd");
    make_npy(tpath("huge.npy"), 1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }", four,
             16);
    expect_fail("huge.npy", FOIL_ERR_FORMAT, "truncated");
    make_npy(tpath("digits.npy"), 1, 0,
             "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }", four, 16);
    expect_fail("digits.npy", FOIL_ERR_FORMAT, "large");

    /* data shorter or longer than the header says */
    make_npy(tpath("dshort.npy"), 1, 0, ok, four, 12);
    expect_fail("dshort.npy", FOIL_ERR_FORMAT, "truncated");
    make_npy(tpath("dlong.npy"), 1, 0, ok, four, 16 + 0);
    {
        FILE *f = fopen(tpath("dlong.npy"), "ab");
        fputc(0, f);
        fclose(f);
    }
    expect_fail("dlong.npy", FOIL_ERR_FORMAT, "longer");
    make_npy(tpath("scalar_long.npy"), 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", four, 8);
    expect_fail("scalar_long.npy", FOIL_ERR_FORMAT, "longer");
    make_npy(tpath("empty_data.npy"), 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }", four, 4);
    expect_fail("empty_data.npy", FOIL_ERR_FORMAT, "longer");

    /* a directory is not a file */
    expect_fail("", FOIL_ERR_IO, NULL);

    /* every prefix of a valid file fails cleanly (no crash, no leak) */
    FILE *f = fopen(tpath("good2.npy"), "rb");
    unsigned char buf[256];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    for (size_t cut = 0; cut < len; cut++) {
        write_bytes(tpath("prefix.npy"), buf, cut);
        foil_tensor p;
        assert_int_not_equal(foil_npy_read(tpath("prefix.npy"), &p), FOIL_OK);
        assert_null(p.data);
    }
    /* and every single-byte corruption of the header either fails cleanly or
     * reads a tensor of the right size */
    for (size_t pos = 0; pos < len - 16; pos++) {
        unsigned char c[256];
        memcpy(c, buf, len);
        c[pos] ^= 0x5a;
        write_bytes(tpath("flip.npy"), c, len);
        foil_tensor p;
        if (foil_npy_read(tpath("flip.npy"), &p) == FOIL_OK) {
            assert_true(foil_tensor_nbytes(&p) <= 16);
            foil_tensor_free(&p);
        } else {
            assert_null(p.data);
        }
    }
}

/* The in-memory reader and writer (remote models' requests and answers):
 * the same bytes as a file, and the same refusals of a short or long
 * buffer, with the given name in the message. */
static void test_memory(void **state)
{
    (void)state;
    int64_t shape[3] = {2, 3, 5};
    foil_tensor t, back;
    assert_int_equal(foil_tensor_alloc(&t, FOIL_F32, 3, shape), FOIL_OK);
    for (int64_t i = 0; i < t.numel; i++) foil_f32(&t)[i] = (float)i * 0.1f - 1.0f;
    void *buf;
    size_t len;
    assert_int_equal(foil_npy_write_mem(&t, &buf, &len), FOIL_OK);
    assert_int_equal(len % 64, (size_t)(t.numel * 4) % 64);

    /* the file foil_npy_write makes holds the same bytes */
    assert_int_equal(foil_npy_write(tpath("mem.npy"), &t), FOIL_OK);
    FILE *f = fopen(tpath("mem.npy"), "rb");
    assert_non_null(f);
    unsigned char *file = malloc(len + 1);
    assert_int_equal(fread(file, 1, len + 1, f), len);
    fclose(f);
    assert_memory_equal(file, buf, len);
    free(file);

    assert_int_equal(foil_npy_read_mem(buf, len, "answer", &back), FOIL_OK);
    assert_true(foil_tensor_same_shape(&t, &back));
    assert_int_equal(back.dtype, FOIL_F32);
    assert_memory_equal(back.data, t.data, foil_tensor_nbytes(&t));
    foil_tensor_free(&back);

    assert_int_equal(foil_npy_read_mem(buf, len - 1, "answer", &back), FOIL_ERR_FORMAT);
    assert_non_null(strstr(foil_last_error(), "answer: truncated"));
    assert_null(back.data);
    assert_int_equal(foil_npy_read_mem(buf, 7, "answer", &back), FOIL_ERR_FORMAT);
    assert_int_equal(foil_npy_read_mem(buf, 0, "answer", &back), FOIL_ERR_FORMAT);
    assert_non_null(strstr(foil_last_error(), "answer"));
    unsigned char *longer = calloc(1, len + 4);
    memcpy(longer, buf, len);
    assert_int_equal(foil_npy_read_mem(longer, len + 4, "answer", &back), FOIL_ERR_FORMAT);
    assert_non_null(strstr(foil_last_error(), "longer than its header says"));
    free(longer);
    free(buf);
    foil_tensor_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_numpy_files),
        cmocka_unit_test(test_convert),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_memory),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
