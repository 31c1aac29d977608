/*
 * tests/test_text.c - tokenizers and labelled messages (foil/text.h).
 *
 * Each kind of tokenizer encodes strings whose ids are written out here by
 * hand (truncation, padding, [CLS]/[SEP], lowercasing, a homoglyph word,
 * wordpiece's accents, punctuation, CJK, sigma, controls, bad UTF-8),
 * survives save and load unchanged, and gives the same ids from many
 * threads at once. A words vocabulary is learned deterministically within
 * max_vocab and min_count. Every kind of bad tokenizer file, vocab.txt and
 * message file must give a clean error naming the file (and the line).
 * The split is checked for stratification, determinism and partition; the
 * SMS Spam Collection (FOIL_SHARED_DATA, skipped when absent) is loaded,
 * split and encoded. The HuggingFace cross-check is test_text_wordpiece.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "foil/rng.h"
#include "foil/text.h"
#include "text/text_internal.h"

static char tmpdir[256];

static const char *tpath(const char *name)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/foil_text_XXXXXX", base);
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void write_text(const char *path, const char *s) { write_bytes(path, s, strlen(s)); }

/* text[0..len) must give exactly want[0..n) and then padding. */
static void expect_ids_len(const foil_tokenizer *t, const char *text, size_t len, const int *want, int64_t n)
{
    int64_t L = foil_tokenizer_max_length(t), got_n = -1;
    float *ids = malloc((size_t)L * sizeof *ids);
    assert_non_null(ids);
    assert_int_equal(foil_tokenizer_encode(t, text, len, ids, &got_n), FOIL_OK);
    int ok = got_n == n;
    for (int64_t i = 0; i < L; i++) ok &= ids[i] == (float)(i < n ? want[i] : foil_tokenizer_pad_id(t));
    if (!ok) {
        print_message("\"%.*s\": n_tokens %lld (want %lld), ids:", (int)len, text, (long long)got_n, (long long)n);
        for (int64_t i = 0; i < L; i++) print_message(" %.0f", ids[i]);
        print_message("\n");
    }
    free(ids);
    assert_true(ok);
}

#define EXPECT_IDS(t, text, ...)                                                                    \
    do {                                                                                            \
        static const int want_[] = {__VA_ARGS__};                                                   \
        expect_ids_len(t, text, strlen(text), want_, (int64_t)(sizeof want_ / sizeof want_[0]));    \
    } while (0)

/* Load a tokenizer from JSON text written to `name`. */
static foil_tokenizer *load_json(const char *name, const char *json)
{
    const char *p = tpath(name);
    write_text(p, json);
    foil_tokenizer *t = NULL;
    foil_status st = foil_tokenizer_load(p, &t);
    if (st) print_message("%s\n", foil_last_error());
    assert_int_equal(st, FOIL_OK);
    return t;
}

/* Save t, load it back, and check that both encode every probe alike. */
static foil_tokenizer *round_trip(foil_tokenizer *t, const char *name, const char *const *probes, int np)
{
    const char *p = tpath(name);
    assert_int_equal(foil_tokenizer_save(t, p), FOIL_OK);
    foil_tokenizer *u = NULL;
    foil_status st = foil_tokenizer_load(p, &u);
    if (st) print_message("%s\n", foil_last_error());
    assert_int_equal(st, FOIL_OK);
    assert_string_equal(foil_tokenizer_kind(u), foil_tokenizer_kind(t));
    assert_int_equal(foil_tokenizer_vocab_size(u), foil_tokenizer_vocab_size(t));
    assert_int_equal(foil_tokenizer_max_length(u), foil_tokenizer_max_length(t));
    assert_int_equal(foil_tokenizer_pad_id(u), foil_tokenizer_pad_id(t));
    for (int64_t i = 0; i < foil_tokenizer_vocab_size(t) && foil_tokenizer_token(t, i); i++)
        assert_string_equal(foil_tokenizer_token(u, i), foil_tokenizer_token(t, i));
    int64_t L = foil_tokenizer_max_length(t), na, nb;
    float *a = malloc((size_t)L * sizeof *a), *b = malloc((size_t)L * sizeof *b);
    assert_true(a && b);
    for (int i = 0; i < np; i++) {
        assert_int_equal(foil_tokenizer_encode(t, probes[i], strlen(probes[i]), a, &na), FOIL_OK);
        assert_int_equal(foil_tokenizer_encode(u, probes[i], strlen(probes[i]), b, &nb), FOIL_OK);
        assert_int_equal(na, nb);
        assert_memory_equal(a, b, (size_t)L * sizeof *a);
    }
    free(a);
    free(b);
    foil_tokenizer_free(t);
    return u;
}

static const char *const probes[] = {"", "Hello, World!", "WINNER!! Claim your £900 prize now", "fr\xd0\xb5\x65",
                                     "Caf\xc3\xa9 unaffable \xe4\xb8\xad\xe6\x96\x87", "bad \xff\xfe utf-8"};
#define NPROBES ((int)(sizeof probes / sizeof probes[0]))

/* ------------------------------------------------------------------------- */

static void test_bytes(void **state)
{
    (void)state;
    foil_tokenizer *t = NULL;
    assert_int_equal(foil_tokenizer_fit("bytes", NULL, 0, 0, 0, 6, 1, &t), FOIL_OK);
    assert_string_equal(foil_tokenizer_kind(t), "bytes");
    assert_int_equal(foil_tokenizer_vocab_size(t), 257);
    assert_int_equal(foil_tokenizer_pad_id(t), 0);
    assert_null(foil_tokenizer_token(t, 5));
    EXPECT_IDS(t, "Hi!", 1 + 'h', 1 + 'i', 1 + '!');
    expect_ids_len(t, "", 0, NULL, 0);
    EXPECT_IDS(t, "ABCDEFGH", 1 + 'a', 1 + 'b', 1 + 'c', 1 + 'd', 1 + 'e', 1 + 'f'); /* truncated */
    EXPECT_IDS(t, "\xc3\x89", 1 + 0xc3, 1 + 0x89);                                     /* non-ASCII as it is */
    expect_ids_len(t, "a\0b", 3, (const int[]){1 + 'a', 1, 1 + 'b'}, 3);             /* NUL is byte 0 */
    t = round_trip(t, "bytes.json", probes, NPROBES);
    EXPECT_IDS(t, "Hi!", 1 + 'h', 1 + 'i', 1 + '!');
    foil_tokenizer_free(t);

    t = load_json("bytes-cased.json", "{\"format\": \"foil-tokenizer\", \"version\": 1, \"kind\": \"bytes\", "
                                      "\"max_length\": 4}");
    EXPECT_IDS(t, "Hi", 1 + 'H', 1 + 'i');
    foil_tokenizer_free(t);
}

static void test_words(void **state)
{
    (void)state;
    char *texts[] = {"the cat sat", "The dog sat!", "a cat", "zebra", "don't \xd0\xb5"};
    foil_tokenizer *t = NULL;
    assert_int_equal(foil_tokenizer_fit("words", texts, 5, 100, 1, 6, 1, &t), FOIL_OK);
    /* the 2, cat 2, sat 2; a, dog, don't, zebra, "\xd0\xb5" once each: most frequent first, ties in byte order */
    static const char *const vocab[] = {"<pad>", "<unk>", "cat", "sat", "the", "a", "dog", "don't", "zebra", "\xd0\xb5"};
    assert_int_equal(foil_tokenizer_vocab_size(t), 10);
    for (int i = 0; i < 10; i++) assert_string_equal(foil_tokenizer_token(t, i), vocab[i]);
    EXPECT_IDS(t, "The CAT, the bird.", 4, 2, 4, 1);
    EXPECT_IDS(t, "DON'T-dog", 7, 6);
    EXPECT_IDS(t, "a a a a a a a a", 5, 5, 5, 5, 5, 5); /* truncated */
    expect_ids_len(t, "  ...  ", 7, NULL, 0);
    t = round_trip(t, "words.json", probes, NPROBES);
    EXPECT_IDS(t, "The CAT, the bird.", 4, 2, 4, 1);
    foil_tokenizer_free(t);

    /* deterministic: the same vocabulary from the texts in another order */
    char *shuffled[] = {"don't \xd0\xb5", "zebra", "a cat", "The dog sat!", "the cat sat"};
    assert_int_equal(foil_tokenizer_fit("words", shuffled, 5, 100, 1, 6, 1, &t), FOIL_OK);
    for (int i = 0; i < 10; i++) assert_string_equal(foil_tokenizer_token(t, i), vocab[i]);
    foil_tokenizer_free(t);
    /* min_count 2 keeps cat, sat, the; max_vocab 4 keeps cat, sat */
    assert_int_equal(foil_tokenizer_fit("words", texts, 5, 100, 2, 6, 1, &t), FOIL_OK);
    assert_int_equal(foil_tokenizer_vocab_size(t), 5);
    assert_string_equal(foil_tokenizer_token(t, 4), "the");
    foil_tokenizer_free(t);
    assert_int_equal(foil_tokenizer_fit("words", texts, 5, 4, 1, 6, 1, &t), FOIL_OK);
    assert_int_equal(foil_tokenizer_vocab_size(t), 4);
    assert_string_equal(foil_tokenizer_token(t, 3), "sat");
    EXPECT_IDS(t, "the cat", 1, 2);
    foil_tokenizer_free(t);
    /* without lowercasing "The" and "the" are two words */
    assert_int_equal(foil_tokenizer_fit("words", texts, 5, 100, 1, 6, 0, &t), FOIL_OK);
    assert_int_equal(foil_tokenizer_vocab_size(t), 11);
    EXPECT_IDS(t, "The the", 4, 8);
    foil_tokenizer_free(t);

    /* bad arguments */
    assert_int_equal(foil_tokenizer_fit("wordpiece", texts, 5, 100, 1, 6, 1, &t), FOIL_ERR_UNSUPPORTED);
    assert_non_null(strstr(foil_last_error(), "vocab.txt"));
    assert_int_equal(foil_tokenizer_fit("chars", texts, 5, 100, 1, 6, 1, &t), FOIL_ERR_ARG);
    assert_int_equal(foil_tokenizer_fit("words", texts, 5, 1, 1, 6, 1, &t), FOIL_ERR_ARG);
    assert_int_equal(foil_tokenizer_fit("words", texts, 5, 100, 0, 6, 1, &t), FOIL_ERR_ARG);
    assert_int_equal(foil_tokenizer_fit("words", texts, 5, 100, 1, 0, 1, &t), FOIL_ERR_ARG);
    assert_int_equal(foil_tokenizer_fit("words", texts, 5, 100, 1, 65537, 1, &t), FOIL_ERR_ARG);
    assert_null(t);
}

static void test_words_homoglyph(void **state)
{
    (void)state;
    foil_tokenizer *t = load_json("words-file.json",
                                  "{\"format\": \"foil-tokenizer\", \"version\": 1, \"kind\": \"words\", \"max_length\": 5,\n"
                                  " \"lowercase\": true, \"pad_id\": 0, \"unk_id\": 1, \"cls_id\": 2, \"sep_id\": 3,\n"
                                  " \"vocab\": [\"<pad>\", \"<unk>\", \"<cls>\", \"<sep>\", \"free\", \"fr\", \"e\", "
                                  "\"money\", \"caf\\u00e9\",\n"
                                  " \"q\\\"\", \"\\\\\", \"\\u0001\\n\"]}"); /* escapes survive the round trip */
    EXPECT_IDS(t, "FREE money", 2, 4, 7, 3);
    /* a Cyrillic e (U+0435) inside: one unknown word, not "fr" + "e" */
    EXPECT_IDS(t, "fr\xd0\xb5\x65 money", 2, 1, 7, 3);
    EXPECT_IDS(t, "Caf\xc3\xa9!", 2, 8, 3);
    EXPECT_IDS(t, "free free free free", 2, 4, 4, 4, 3); /* [SEP] kept when truncated */
    t = round_trip(t, "words-file-saved.json", probes, NPROBES);
    EXPECT_IDS(t, "fr\xd0\xb5\x65 money", 2, 1, 7, 3);
    foil_tokenizer_free(t);
}

/* A small BERT-like vocabulary. */
static const char *const wp_vocab[] = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "hello", "!", ",", /* 0-9 */
    "cafe", "a", "b", "\xe4\xb8\xad", "\xcf\x83", "\xcf\x82", "\xce\xbf\xce\xb4\xce\xbf\xcf\x83", "##s", "i", "e", /* 10-19: 中 σ ς οδοσ */
    "\xd0\xb8", "\xe2\x80\x94", "##e", "\xc3\xb8", "\xc3\x9f", "'", "s", ".", "x", "##x", /* 20-29: и — ø ß */
};
#define WP_N ((int)(sizeof wp_vocab / sizeof wp_vocab[0]))

static foil_tokenizer *wp_tokenizer(int max_length)
{
    const char *p = tpath("vocab.txt");
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    for (int i = 0; i < WP_N; i++) fprintf(f, "%s\n", wp_vocab[i]);
    assert_int_equal(fclose(f), 0);
    foil_tokenizer *t = NULL;
    foil_status st = foil_tokenizer_from_vocab_txt(p, max_length, &t);
    if (st) print_message("%s\n", foil_last_error());
    assert_int_equal(st, FOIL_OK);
    return t;
}

static void test_wordpiece(void **state)
{
    (void)state;
    foil_tokenizer *t = wp_tokenizer(10);
    assert_string_equal(foil_tokenizer_kind(t), "wordpiece");
    assert_int_equal(foil_tokenizer_vocab_size(t), WP_N);
    assert_int_equal(foil_tokenizer_pad_id(t), 0);
    EXPECT_IDS(t, "unaffable Hello!", 2, 4, 5, 6, 7, 8, 3);
    EXPECT_IDS(t, "", 2, 3);
    EXPECT_IDS(t, "Caf\xc3\xa9,CAF\xc3\x89", 2, 10, 9, 10, 3);     /* accents stripped, "," split off */
    EXPECT_IDS(t, "a\xe4\xb8\xad" "b", 2, 11, 13, 12, 3);             /* a CJK ideograph is a word */
    EXPECT_IDS(t, "a\xe2\x80\x94" "b", 2, 11, 21, 12, 3);             /* U+2014, punctuation */
    EXPECT_IDS(t, "a\xc2\xa0" "b\tb\r\na", 2, 11, 12, 12, 11, 3);     /* no-break space, tab, CRLF */
    EXPECT_IDS(t, "he\x01llo h\xc2\xad" "ello", 2, 7, 7, 3);             /* a control, a soft hyphen: dropped */
    EXPECT_IDS(t, "e\xcc\x81 \xd0\x99", 2, 19, 20, 3);                /* e + U+0301; Cyrillic short I */
    EXPECT_IDS(t, "\xc3\x98 \xc3\x9f \xc4\xb0", 2, 23, 24, 18, 3);    /* Ø -> ø; ß stays; İ -> i */
    /* capital sigma is small sigma even at the end of a word, as HuggingFace has it (Python's lower() of
     * the whole word would give final sigma) */
    EXPECT_IDS(t, "\xce\x9f\xce\x94\xce\x9f\xce\xa3 \xce\xa3 \xcf\x82 a\xce\xa3" "a", 2, 16, 14, 15, 1, 3);
    EXPECT_IDS(t, "\xce\x91\xce\xa3.", 2, 1, 27, 3);                  /* "ασ" is unknown, "." split off */
    EXPECT_IDS(t, "hellos unknown", 2, 7, 17, 1, 3);
    EXPECT_IDS(t, "it's", 2, 1, 25, 26, 3);                            /* "it" has no pieces: [UNK] ' s */
    EXPECT_IDS(t, "hel\xfflo \xe2\x82 a", 2, 1, 1, 11, 3);            /* bad UTF-8: the word is [UNK] */
    EXPECT_IDS(t, "hello hello hello hello hello hello hello hello hello", 2, 7, 7, 7, 7, 7, 7, 7, 7, 3);
    char longword[202];
    memset(longword, 'x', 101);
    longword[101] = '\0';
    EXPECT_IDS(t, longword + 1, 2, 28, 29, 29, 29, 29, 29, 29, 29, 3); /* 100 characters: pieces (truncated) */
    EXPECT_IDS(t, longword, 2, 1, 3);                                  /* 101: [UNK] */
    snprintf(longword, sizeof longword, "a %s a", "\xc3\xa9\xc3\xa9\xc3\xa9");
    EXPECT_IDS(t, longword, 2, 11, 19, 22, 22, 11, 3);
    t = round_trip(t, "wordpiece.json", probes, NPROBES);
    EXPECT_IDS(t, "unaffable Hello!", 2, 4, 5, 6, 7, 8, 3);
    foil_tokenizer_free(t);

    /* lowercase false: no lowercasing, no accent stripping */
    t = load_json("wp-cased.json", "{\"format\": \"foil-tokenizer\", \"version\": 1, \"kind\": \"wordpiece\", "
                                   "\"max_length\": 6, \"lowercase\": false, \"pad_id\": 0, \"unk_id\": 1,"
                                   "\"vocab\": [\"[PAD]\", \"[UNK]\", \"Hello\", \"hello\", \"caf\\u00e9\", \"!\"]}");
    EXPECT_IDS(t, "Hello hello caf\xc3\xa9 Caf\xc3\xa9!", 2, 3, 4, 1, 5);
    foil_tokenizer_free(t);
}

/* Random bytes through every kind: nothing out of bounds (ASan), every id
 * in range, n_tokens within max_length. */
static void test_encode_random(void **state)
{
    (void)state;
    foil_tokenizer *kinds[3] = {NULL};
    char *texts[] = {"hello world", "\xd0\xb5\xd0\xb5 x"};
    assert_int_equal(foil_tokenizer_fit("bytes", NULL, 0, 0, 0, 7, 1, &kinds[0]), FOIL_OK);
    assert_int_equal(foil_tokenizer_fit("words", texts, 2, 10, 1, 3, 1, &kinds[1]), FOIL_OK);
    kinds[2] = wp_tokenizer(9);
    foil_rng r = foil_rng_make(42, 0);
    unsigned char buf[300];
    float ids[9];
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = (size_t)foil_rng_below(&r, sizeof buf);
        for (size_t i = 0; i < len; i++) {
            uint64_t v = foil_rng_u64(&r);
            /* mostly UTF-8 lead and continuation bytes, spaces and letters */
            buf[i] = (unsigned char)(v % 4 == 0 ? ' ' : v % 4 == 1 ? 'a' + (v >> 8) % 3 : (v >> 8) & 0xff);
        }
        for (int k = 0; k < 3; k++) {
            int64_t n = -1, L = foil_tokenizer_max_length(kinds[k]);
            assert_int_equal(foil_tokenizer_encode(kinds[k], (const char *)buf, len, ids, &n), FOIL_OK);
            assert_true(n >= 0 && n <= L);
            for (int64_t i = 0; i < L; i++) assert_true(ids[i] >= 0 && ids[i] < foil_tokenizer_vocab_size(kinds[k]));
        }
    }
    for (int k = 0; k < 3; k++) foil_tokenizer_free(kinds[k]);
}

/* One tokenizer, many threads: the same ids as one thread. */
static void test_encode_threads(void **state)
{
    (void)state;
    foil_tokenizer *t = wp_tokenizer(16);
    enum { N = 2000 };
    static float serial[N][16], parallel[N][16];
    static char text[N][64];
    for (int i = 0; i < N; i++) snprintf(text[i], sizeof text[i], "Caf\xc3\xa9 unaffable %d hello, a\xce\xa3", i);
    for (int i = 0; i < N; i++) assert_int_equal(foil_tokenizer_encode(t, text[i], strlen(text[i]), serial[i], NULL), 0);
    int bad = 0;
#pragma omp parallel for num_threads(4) reduction(+ : bad)
    for (int i = 0; i < N; i++) bad += foil_tokenizer_encode(t, text[i], strlen(text[i]), parallel[i], NULL) != FOIL_OK;
    assert_int_equal(bad, 0);
    assert_memory_equal(serial, parallel, sizeof serial);
    foil_tokenizer_free(t);
}

static void test_unicode_tables(void **state)
{
    (void)state;
    assert_int_equal(foilTextFold('A'), 'a');
    assert_int_equal(foilTextFold(0xC9), 'e');     /* É */
    assert_int_equal(foilTextFold(0x130), 'i');    /* İ */
    assert_int_equal(foilTextFold(0x419), 0x438);  /* Й -> и */
    assert_int_equal(foilTextFold(0x3A3), 0x3C3);  /* Σ -> σ */
    assert_int_equal(foilTextFold(0x301), 0);      /* a combining acute: dropped */
    assert_int_equal(foilTextFold(0x94D), 0);      /* a Devanagari virama (Mn): dropped */
    assert_int_equal(foilTextFold(0x1E00), 0x1E00); /* above U+04FF: as it is */
    assert_int_equal(foilTextClass(' '), FOIL_TEXT_SPACE);
    assert_int_equal(foilTextClass(0xA0), FOIL_TEXT_SPACE);
    assert_int_equal(foilTextClass(0x3000), FOIL_TEXT_SPACE);
    assert_int_equal(foilTextClass(0x2028), FOIL_TEXT_SPACE);
    assert_int_equal(foilTextClass(0), FOIL_TEXT_CONTROL);
    assert_int_equal(foilTextClass(0x0C), FOIL_TEXT_CONTROL); /* form feed: a Cc BERT drops */
    assert_int_equal(foilTextClass(0xAD), FOIL_TEXT_CONTROL);
    assert_int_equal(foilTextClass(0x200B), FOIL_TEXT_CONTROL);
    assert_int_equal(foilTextClass(0xFEFF), FOIL_TEXT_CONTROL);
    assert_int_equal(foilTextClass(0xFFFD), FOIL_TEXT_CONTROL);
    assert_int_equal(foilTextClass('$'), FOIL_TEXT_PUNCT);   /* ASCII symbols count as punctuation */
    assert_int_equal(foilTextClass(0xBF), FOIL_TEXT_PUNCT);  /* ¿ */
    assert_int_equal(foilTextClass(0x2019), FOIL_TEXT_PUNCT);
    assert_int_equal(foilTextClass(0x3002), FOIL_TEXT_PUNCT);
    assert_int_equal(foilTextClass(0xA3), FOIL_TEXT_OTHER);  /* £ is a symbol, not punctuation */
    assert_int_equal(foilTextClass(0x1F600), FOIL_TEXT_OTHER);
    size_t used;
    assert_int_equal(foilTextDecode((const unsigned char *)"\xc0\xaf", 2, &used), FOIL_TEXT_BAD_BYTE); /* overlong */
    assert_int_equal(foilTextDecode((const unsigned char *)"\xed\xa0\x80", 3, &used), FOIL_TEXT_BAD_BYTE); /* surrogate */
    assert_int_equal(foilTextDecode((const unsigned char *)"\xf4\x90\x80\x80", 4, &used), FOIL_TEXT_BAD_BYTE);
    assert_int_equal(foilTextDecode((const unsigned char *)"\xe2\x82\xac", 2, &used), FOIL_TEXT_BAD_BYTE); /* cut */
    assert_int_equal(foilTextDecode((const unsigned char *)"\xe2\x82\xac", 3, &used), 0x20AC);
    assert_int_equal(used, 3);
    assert_int_equal(foilTextDecode((const unsigned char *)"\xf0\x9f\x98\x80", 4, &used), 0x1F600);
}

/* ------------------------------------------------------------------------- */
/* bad files                                                                 */

static void expect_error(foil_status got, foil_status want, const char *path, const char *needle)
{
    const char *msg = foil_last_error();
    int ok = got == want && strstr(msg, path) && (!needle || strstr(msg, needle));
    if (!ok) print_message("got %s \"%s\", wanted %s naming %s and \"%s\"\n", foil_status_name(got), msg,
                           foil_status_name(want), path, needle ? needle : "");
    assert_true(ok);
}

static void expect_load_error(const char *json, foil_status want, const char *needle)
{
    const char *p = tpath("bad-tokenizer.json");
    write_text(p, json);
    foil_tokenizer *t = (foil_tokenizer *)&t;
    expect_error(foil_tokenizer_load(p, &t), want, p, needle);
    assert_null(t);
}

#define HEAD "{\"format\": \"foil-tokenizer\", \"version\": 1, "
#define WORDS HEAD "\"kind\": \"words\", \"max_length\": 8, \"pad_id\": 0, \"unk_id\": 1, "

static void test_load_errors(void **state)
{
    (void)state;
    expect_load_error("", FOIL_ERR_FORMAT, "not JSON");
    expect_load_error("{\"format\": \"foil-tokenizer\",\n \"version\": 1,,}", FOIL_ERR_FORMAT, "line 2");
    expect_load_error(WORDS "\"vocab\": [\"a\", \"b\"]} trailing", FOIL_ERR_FORMAT, "not JSON");
    expect_load_error("[1, 2]", FOIL_ERR_FORMAT, "not a foil tokenizer file");
    expect_load_error("{\"format\": \"hf-tokenizer\", \"version\": 1}", FOIL_ERR_FORMAT, "not a foil tokenizer file");
    expect_load_error(HEAD "\"kind\": \"bytes\", \"max_length\": 8, \"version\": 1}", FOIL_ERR_FORMAT, "twice");
    expect_load_error("{\"format\": \"foil-tokenizer\", \"version\": 2, \"kind\": \"bytes\", \"max_length\": 8}",
                      FOIL_ERR_UNSUPPORTED, "version 2");
    expect_load_error(HEAD "\"kind\": \"bpe\", \"max_length\": 8}", FOIL_ERR_FORMAT, "unknown tokenizer kind \"bpe\"");
    expect_load_error(HEAD "\"kind\": 3, \"max_length\": 8}", FOIL_ERR_FORMAT, "unknown tokenizer kind");
    expect_load_error(HEAD "\"kind\": \"bytes\", \"max_length\": 0}", FOIL_ERR_FORMAT, "max_length");
    expect_load_error(HEAD "\"kind\": \"bytes\", \"max_length\": 65537}", FOIL_ERR_FORMAT, "max_length");
    expect_load_error(HEAD "\"kind\": \"bytes\", \"max_length\": 2.5}", FOIL_ERR_FORMAT, "max_length");
    expect_load_error(HEAD "\"kind\": \"bytes\", \"max_length\": \"8\"}", FOIL_ERR_FORMAT, "a string");
    expect_load_error(HEAD "\"kind\": \"bytes\", \"max_length\": 8, \"lowercase\": 1}", FOIL_ERR_FORMAT, "lowercase");
    expect_load_error(HEAD "\"kind\": \"bytes\", \"max_length\": 8, \"lowercse\": true}", FOIL_ERR_FORMAT,
                      "unknown key \"lowercse\"");
    expect_load_error(HEAD "\"kind\": \"bytes\", \"max_length\": 8, \"vocab\": []}", FOIL_ERR_FORMAT, "no vocab");
    expect_load_error(HEAD "\"kind\": \"bytes\", \"max_length\": 8, \"pad_id\": 1}", FOIL_ERR_FORMAT, "pad_id");
    expect_load_error(HEAD "\"kind\": \"bytes\", \"max_length\": 8, \"unk_id\": 257}", FOIL_ERR_FORMAT, "unk_id");
    expect_load_error(HEAD "\"kind\": \"bytes\", \"max_length\": 8, \"cls_id\": 1}", FOIL_ERR_FORMAT, "cls_id");
    expect_load_error(HEAD "\"kind\": \"words\", \"max_length\": 8, \"pad_id\": 0, \"unk_id\": 1}", FOIL_ERR_FORMAT,
                      "needs \"vocab\"");
    expect_load_error(HEAD "\"kind\": \"wordpiece\", \"max_length\": 8, \"pad_id\": 0, \"unk_id\": 1, \"vocab\": {}}",
                      FOIL_ERR_FORMAT, "needs \"vocab\"");
    expect_load_error(WORDS "\"vocab\": []}", FOIL_ERR_FORMAT, "0 tokens");
    expect_load_error(WORDS "\"vocab\": [\"a\", \"b\", 3]}", FOIL_ERR_FORMAT, "vocab entry 2 is 3, not a string");
    expect_load_error(WORDS "\"vocab\": [\"a\", null]}", FOIL_ERR_FORMAT, "vocab entry 1 is null");
    expect_load_error(WORDS "\"vocab\": [\"a\", \"b\", \"c\", \"b\"]}", FOIL_ERR_FORMAT,
                      "vocab ids 1 and 3 are both the token \"b\"");
    expect_load_error(WORDS "\"vocab\": [\"a\"]}", FOIL_ERR_FORMAT, "unk_id must be a whole number from 0 to 0");
    expect_load_error(HEAD "\"kind\": \"words\", \"max_length\": 8, \"pad_id\": -1, \"unk_id\": 1, \"vocab\": [\"a\", "
                      "\"b\"]}", FOIL_ERR_FORMAT, "pad_id");
    expect_load_error(HEAD "\"kind\": \"words\", \"max_length\": 8, \"unk_id\": 1, \"vocab\": [\"a\", \"b\"]}",
                      FOIL_ERR_FORMAT, "pad_id must be a whole number from 0 to 1 (the vocab has 2 tokens) (got missing)");
    expect_load_error(WORDS "\"sep_id\": 2, \"vocab\": [\"a\", \"b\"]}", FOIL_ERR_FORMAT, "sep_id");
    expect_load_error(HEAD "\"kind\": \"words\", \"max_length\": 2, \"pad_id\": 0, \"unk_id\": 1, \"cls_id\": 0, "
                      "\"sep_id\": 1, \"vocab\": [\"a\", \"b\"]}", FOIL_ERR_FORMAT, "no room");
    foil_tokenizer *t = (foil_tokenizer *)&t;
    expect_error(foil_tokenizer_load(tpath("missing.json"), &t), FOIL_ERR_IO, tpath("missing.json"), NULL);
    assert_null(t);
    expect_error(foil_tokenizer_load(tmpdir, &t), FOIL_ERR_IO, tmpdir, "not a regular file");
    assert_int_equal(foil_tokenizer_load(NULL, &t), FOIL_ERR_ARG);

    /* vocab.txt */
    const char *p = tpath("bad-vocab.txt");
    write_text(p, "[PAD]\n[UNK]\n[CLS]\nhello\n");
    expect_error(foil_tokenizer_from_vocab_txt(p, 16, &t), FOIL_ERR_FORMAT, p, "no [SEP] line");
    write_text(p, "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\nworld\nhello\n");
    expect_error(foil_tokenizer_from_vocab_txt(p, 16, &t), FOIL_ERR_FORMAT, p, "lines 5 and 7");
    static const char nul_vocab[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhel\0lo\n";
    write_bytes(p, nul_vocab, sizeof nul_vocab - 1);
    expect_error(foil_tokenizer_from_vocab_txt(p, 16, &t), FOIL_ERR_FORMAT, p, ":5: a NUL byte");
    write_text(p, "");
    expect_error(foil_tokenizer_from_vocab_txt(p, 16, &t), FOIL_ERR_FORMAT, p, "empty");
    assert_int_equal(foil_tokenizer_from_vocab_txt(p, 2, &t), FOIL_ERR_ARG);
    /* CRLF and no final newline are fine */
    write_text(p, "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nhello");
    assert_int_equal(foil_tokenizer_from_vocab_txt(p, 4, &t), FOIL_OK);
    EXPECT_IDS(t, "Hello hello", 2, 4, 4, 3);
    foil_tokenizer_free(t);
    /* save into a directory that does not exist */
    assert_int_equal(foil_tokenizer_fit("bytes", NULL, 0, 0, 0, 4, 0, &t), FOIL_OK);
    expect_error(foil_tokenizer_save(t, tpath("no/such/dir.json")), FOIL_ERR_IO, tpath("no/such/dir.json"), NULL);
    foil_tokenizer_free(t);
}

/* ------------------------------------------------------------------------- */
/* message files                                                             */

static void test_tsv(void **state)
{
    (void)state;
    const char *p = tpath("messages.tsv");
    write_text(p, "\xEF\xBB\xBFspam\tWIN a prize!\r\nham\tsee you at 5\thome\r\nham\t\r\neggs\tx\n\n\n");
    foil_text_dataset d;
    foil_status st = foil_text_load_tsv(p, &d);
    if (st) print_message("%s\n", foil_last_error());
    assert_int_equal(st, FOIL_OK);
    assert_string_equal(d.name, "messages");
    assert_int_equal(d.n, 4);
    assert_int_equal(d.classes, 3);
    assert_string_equal(d.class_names[0], "eggs");
    assert_string_equal(d.class_names[1], "ham");
    assert_string_equal(d.class_names[2], "spam");
    assert_null(d.class_names[3]);
    static const int64_t labels[4] = {2, 1, 1, 0};
    assert_memory_equal(d.labels, labels, sizeof labels);
    assert_string_equal(d.texts[0], "WIN a prize!");
    assert_string_equal(d.texts[1], "see you at 5\thome");
    assert_string_equal(d.texts[2], "");
    assert_string_equal(d.texts[3], "x");
    foil_text_dataset_free(&d);
    foil_text_dataset_free(&d); /* twice is fine */

    static const char nul_line[] = "ham\tok\nham\tnul \0 here\n";
    struct {
        const char *text;
        const char *needle;
    } bad[] = {
        {"ham\tok\nspam  no tab\n", ":2: no tab"},
        {"ham\tok\n\nham\tok\n", ":2: no tab"},                 /* an empty line before the end */
        {"ham\tok\n\tno label\n", ":2: empty label"},
        {nul_line, ":2: a NUL byte"},
        {"", "no messages"},
        {"\n\r\n\n", "no messages"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = strlen(bad[i].text);
        if (bad[i].text == nul_line) len = sizeof nul_line - 1;
        write_bytes(p, bad[i].text, len);
        expect_error(foil_text_load_tsv(p, &d), FOIL_ERR_FORMAT, p, bad[i].needle);
        assert_null(d.texts);
        assert_int_equal(d.n, 0);
    }
    /* 1001 classes */
    size_t cap = 1002 * 16, n = 0;
    char *big = malloc(cap + (1 << 20) + 64);
    assert_non_null(big);
    for (int i = 0; i <= 1000; i++) n += (size_t)snprintf(big + n, cap - n, "c%d\tx\n", i);
    write_bytes(p, big, n);
    expect_error(foil_text_load_tsv(p, &d), FOIL_ERR_FORMAT, p, ":1001: label \"c1000\" would be class 1001");
    /* a line of more than 1 MiB */
    n = (size_t)snprintf(big, cap, "ham\tok\nham\t");
    memset(big + n, 'x', 1 << 20);
    n += 1 << 20;
    big[n++] = '\n';
    write_bytes(p, big, n);
    expect_error(foil_text_load_tsv(p, &d), FOIL_ERR_FORMAT, p, ":2: line longer than 1 MiB");
    free(big);
    expect_error(foil_text_load_tsv(tpath("none.tsv"), &d), FOIL_ERR_IO, tpath("none.tsv"), NULL);
}

/* 100 messages: 50 of class 0, 30 of class 1, 20 of class 2, interleaved. */
static void make_messages(foil_text_dataset *d)
{
    memset(d, 0, sizeof *d);
    d->n = 100;
    d->classes = 3;
    snprintf(d->name, sizeof d->name, "made");
    d->texts = calloc(101, sizeof *d->texts);
    d->labels = malloc(100 * sizeof *d->labels);
    d->class_names = calloc(4, sizeof *d->class_names);
    assert_true(d->texts && d->labels && d->class_names);
    for (int i = 0; i < 100; i++) {
        d->texts[i] = malloc(16);
        assert_non_null(d->texts[i]);
        snprintf(d->texts[i], 16, "m%d", i);
        d->labels[i] = i % 10 < 5 ? 0 : i % 10 < 8 ? 1 : 2;
    }
    for (int c = 0; c < 3; c++) {
        d->class_names[c] = malloc(8);
        snprintf(d->class_names[c], 8, "c%d", c);
    }
}

static void test_split(void **state)
{
    (void)state;
    foil_text_dataset all, tr, te, tr2, te2;
    make_messages(&all);
    assert_int_equal(foil_text_split(&all, 7, 0.2, &tr, &te), FOIL_OK);
    assert_int_equal(tr.n, 80);
    assert_int_equal(te.n, 20);
    int64_t count[2][3] = {{0}};
    for (int64_t i = 0; i < tr.n; i++) count[0][tr.labels[i]]++;
    for (int64_t i = 0; i < te.n; i++) count[1][te.labels[i]]++;
    static const int64_t want[2][3] = {{40, 24, 16}, {10, 6, 4}};
    assert_memory_equal(count, want, sizeof want);
    assert_string_equal(tr.class_names[2], "c2");
    assert_string_equal(te.name, "made");
    /* a partition, in file order, labels carried along */
    int seen[100] = {0}, last = -1;
    for (int64_t i = 0; i < tr.n; i++) {
        int k = atoi(tr.texts[i] + 1);
        assert_true(k > last);
        last = k;
        seen[k]++;
        assert_int_equal(tr.labels[i], all.labels[k]);
    }
    last = -1;
    for (int64_t i = 0; i < te.n; i++) {
        int k = atoi(te.texts[i] + 1);
        assert_true(k > last);
        last = k;
        seen[k]++;
    }
    for (int i = 0; i < 100; i++) assert_int_equal(seen[i], 1);
    /* deterministic; another seed, another split */
    assert_int_equal(foil_text_split(&all, 7, 0.2, &tr2, &te2), FOIL_OK);
    for (int64_t i = 0; i < te.n; i++) assert_string_equal(te.texts[i], te2.texts[i]);
    foil_text_dataset_free(&tr2);
    foil_text_dataset_free(&te2);
    assert_int_equal(foil_text_split(&all, 8, 0.2, &tr2, &te2), FOIL_OK);
    int differ = 0;
    for (int64_t i = 0; i < te.n; i++) differ |= strcmp(te.texts[i], te2.texts[i]) != 0;
    assert_true(differ);
    foil_text_dataset_free(&tr2);
    foil_text_dataset_free(&te2);
    /* 25% */
    assert_int_equal(foil_text_split(&all, 7, 0.25, &tr2, &te2), FOIL_OK);
    assert_int_equal(tr2.n, 38 + 23 + 15);
    foil_text_dataset_free(&tr2);
    foil_text_dataset_free(&te2);
    assert_int_equal(foil_text_split(&all, 7, 0.0, &tr2, &te2), FOIL_ERR_ARG);
    assert_int_equal(foil_text_split(&all, 7, 1.0, &tr2, &te2), FOIL_ERR_ARG);
    all.labels[5] = 3;
    assert_int_equal(foil_text_split(&all, 7, 0.2, &tr2, &te2), FOIL_ERR_ARG);
    assert_null(tr2.texts);

    /* encode: (N, max_length) ids, labels, names, bounds */
    all.labels[5] = 1;
    foil_tokenizer *t = NULL;
    assert_int_equal(foil_tokenizer_fit("words", tr.texts, tr.n, 50, 1, 3, 1, &t), FOIL_OK);
    foil_dataset x;
    assert_int_equal(foil_text_encode(&te, t, &x), FOIL_OK);
    assert_int_equal(x.x.dtype, FOIL_F32);
    assert_int_equal(x.x.ndim, 2);
    assert_int_equal(x.x.shape[0], te.n);
    assert_int_equal(x.x.shape[1], 3);
    assert_int_equal(x.y.dtype, FOIL_I64);
    assert_memory_equal(foil_i64(&x.y), te.labels, (size_t)te.n * sizeof *te.labels);
    assert_int_equal(x.classes, 3);
    assert_string_equal(x.class_names[1], "c1");
    assert_null(x.class_names[3]);
    assert_string_equal(x.name, "made");
    assert_int_equal(x.is_image, 0);
    assert_null(x.feature_names);
    assert_int_equal(foil_dataset_example_size(&x), 3);
    for (int j = 0; j < 3; j++) {
        assert_true(foil_f32(&x.lower)[j] == 0.0f);
        assert_true(foil_f32(&x.upper)[j] == (float)(foil_tokenizer_vocab_size(t) - 1));
    }
    /* a test message is a word the training split never saw: [UNK] */
    for (int64_t i = 0; i < te.n; i++) {
        assert_true(foil_f32(&x.x)[i * 3] == 1.0f);
        assert_true(foil_f32(&x.x)[i * 3 + 1] == 0.0f);
    }
    foil_dataset copy;
    assert_int_equal(foil_dataset_copy(&copy, &x), FOIL_OK);
    foil_dataset_free(&copy);
    foil_dataset_free(&x);
    foil_tokenizer_free(t);
    foil_text_dataset_free(&tr);
    foil_text_dataset_free(&te);
    foil_text_dataset_free(&all);
}

/* The SMS Spam Collection (FOIL_SHARED_DATA/sms_spam_collection). */
static void test_sms(void **state)
{
    (void)state;
    const char *shared = getenv("FOIL_SHARED_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/sms_spam_collection/SMSSpamCollection", shared ? shared : "../shared/data");
    if (access(path, R_OK) != 0) {
        print_message("skipping: no SMS Spam Collection at %s (FOIL_SHARED_DATA)\n", path);
        skip();
    }
    foil_text_dataset all, tr, te;
    assert_int_equal(foil_text_load_tsv(path, &all), FOIL_OK);
    assert_int_equal(all.n, 5574);
    assert_int_equal(all.classes, 2);
    assert_string_equal(all.class_names[0], "ham");
    assert_string_equal(all.class_names[1], "spam");
    assert_string_equal(all.name, "SMSSpamCollection");
    int64_t spam = 0;
    for (int64_t i = 0; i < all.n; i++) spam += all.labels[i];
    assert_int_equal(spam, 747);
    assert_int_equal(all.labels[0], 0);
    assert_int_equal(strncmp(all.texts[0], "Go until jurong point, crazy..", 30), 0);
    assert_int_equal(foil_text_split(&all, 0, 0.2, &tr, &te), FOIL_OK);
    assert_int_equal(tr.n, 3862 + 598); /* ceil(0.8 * 4827) + ceil(0.8 * 747) */
    assert_int_equal(te.n, 965 + 149);

    foil_tokenizer *t = NULL;
    assert_int_equal(foil_tokenizer_fit("words", tr.texts, tr.n, 5000, 2, 64, 1, &t), FOIL_OK);
    int64_t V = foil_tokenizer_vocab_size(t);
    print_message("SMS: %lld words seen twice or more in the training split, of 4998 allowed\n", (long long)V - 2);
    foil_dataset x;
    clock_t c0 = clock();
    assert_int_equal(foil_text_encode(&all, t, &x), FOIL_OK);
    double s = (double)(clock() - c0) / CLOCKS_PER_SEC;
    assert_int_equal(x.x.shape[0], 5574);
    assert_int_equal(x.x.shape[1], 64);
    int64_t unk = 0, tokens = 0;
    for (int64_t i = 0; i < x.x.numel; i++) {
        float v = foil_f32(&x.x)[i];
        assert_true(v >= 0 && v < V && v == (float)(int64_t)v);
        tokens += v != 0;
        unk += v == 1;
    }
    print_message("SMS: %lld tokens, %.1f%% unknown, encoded in %.3f s\n", (long long)tokens, 100.0 * unk / tokens, s);
    assert_true(unk < tokens / 10);
    /* "Go until jurong point" */
    const float *row = foil_f32(&x.x);
    assert_string_equal(foil_tokenizer_token(t, (int64_t)row[0]), "go");
    assert_string_equal(foil_tokenizer_token(t, (int64_t)row[1]), "until");
    foil_dataset_free(&x);
    foil_tokenizer_free(t);
    foil_text_dataset_free(&tr);
    foil_text_dataset_free(&te);
    foil_text_dataset_free(&all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes),          cmocka_unit_test(test_words),       cmocka_unit_test(test_words_homoglyph),
        cmocka_unit_test(test_wordpiece),      cmocka_unit_test(test_encode_random), cmocka_unit_test(test_encode_threads),
        cmocka_unit_test(test_unicode_tables), cmocka_unit_test(test_load_errors), cmocka_unit_test(test_tsv),
        cmocka_unit_test(test_split),          cmocka_unit_test(test_sms),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
