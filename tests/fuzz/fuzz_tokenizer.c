/*
 * tests/fuzz/fuzz_tokenizer.c - libFuzzer target for text (foil/text.h):
 * each input is read as a tokenizer file (JSON that is not a tokenizer,
 * keys missing, duplicated or of the wrong type, ids out of range,
 * duplicate or non-string tokens), as a LABEL<TAB>TEXT message file, and
 * as a message, encoded by a bytes, a words and a wordpiece tokenizer made
 * once (UTF-8 decoding, BERT's character classes, long words, truncation)
 * and by the input's own tokenizer when it loads.
 */
#include <string.h>

#include "foil/text.h"
#include "fuzz_common.h"

static foil_tokenizer *kinds[3];

static void make_kinds(void)
{
    static const char vocab[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nun\n##aff\n##able\nhello\n!\n,\ncafe\na\n##a\n"
                                "\xcf\x83\n\xcf\x82\n\xe4\xb8\xad\n##s\n'\n";
    char *texts[] = {"hello world", "fr\xd0\xb5\x65 money", "don't"};
    const char *path = fuzz_input_file((const uint8_t *)vocab, sizeof vocab - 1, "-vocab.txt");
    if (foil_tokenizer_fit("bytes", NULL, 0, 0, 0, 16, 1, &kinds[0]) ||
        foil_tokenizer_fit("words", texts, 3, 100, 1, 8, 1, &kinds[1]) ||
        foil_tokenizer_from_vocab_txt(path, 12, &kinds[2])) {
        fprintf(stderr, "fuzz_tokenizer: %s\n", foil_last_error());
        abort();
    }
}

static void encode(const foil_tokenizer *t, const uint8_t *data, size_t size)
{
    float ids[65536];
    int64_t n, L = foil_tokenizer_max_length(t), V = foil_tokenizer_vocab_size(t);
    if (foil_tokenizer_encode(t, (const char *)data, size, ids, &n) || n < 0 || n > L) abort();
    for (int64_t i = 0; i < L; i++)
        if (!(ids[i] >= 0 && ids[i] < (float)V)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!kinds[0]) make_kinds();
    for (int k = 0; k < 3; k++) encode(kinds[k], data, size);

    foil_tokenizer *t = NULL;
    foil_clear_error();
    foil_status st = foil_tokenizer_load(fuzz_input_file(data, size, ".json"), &t);
    fuzz_expect_message(st);
    if (!st) {
        encode(t, data, size);
        foil_tokenizer_free(t);
    }

    foil_text_dataset d;
    foil_clear_error();
    st = foil_text_load_tsv(fuzz_input_file(data, size, ".tsv"), &d);
    fuzz_expect_message(st);
    if (!st && (d.n < 1 || d.classes < 1 || d.classes > 1000)) abort();
    foil_text_dataset_free(&d);
    return 0;
}
