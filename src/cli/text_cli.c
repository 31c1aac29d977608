/*
 * cli/text_cli.c - what `foil train` and `foil attack` share for text
 * classifiers: the labelled message file and its split, the tokenizer
 * (fitted, or read from a file), the tokenizer file written beside a model.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "foil/arch.h"
#include "foil/text.h"

void cli_tokenizer_beside(const char *model, char *out, size_t n)
{
    size_t len = strlen(model);
    if (len > 5 && strcmp(model + len - 5, ".onnx") == 0) len -= 5;
    snprintf(out, n, "%.*s.tokenizer.json", (int)len, model);
}

foil_status cli_text_split(const char *path, uint64_t seed, foil_text_dataset *train, foil_text_dataset *test)
{
    foil_text_dataset all = {0};
    foil_status st = foil_text_load_tsv(path, &all);
    if (!st) st = foil_text_split(&all, seed, 0.2, train, test);
    foil_text_dataset_free(&all);
    return st;
}

/* Default tokenizers: bytes for the CNN (characters are what HotFlip and
 * DeepWordBug change), words for the others. */
foil_status cli_text_tokenizer(const char *spec, const char *arch, int64_t max_length, int64_t vocab,
                               const foil_text_dataset *train, foil_tokenizer **out)
{
    *out = NULL;
    const char *kind = spec ? spec : strcmp(arch, "text-cnn") == 0 ? "bytes" : "words";
    if (strcmp(kind, "bytes") != 0 && strcmp(kind, "words") != 0) {
        if (max_length > 0 || vocab > 0)
            return foil_error(FOIL_ERR_ARG, "--max-length and --vocab-size shape a tokenizer foil fits; %s is "
                              "read as it is", kind);
        return foil_tokenizer_load(kind, out);
    }
    if (max_length <= 0) max_length = strcmp(kind, "bytes") == 0 ? 160 : 64;
    if (vocab <= 0) vocab = 20000;
    return foil_tokenizer_fit(kind, train->texts, train->n, vocab, 1, max_length, 1, out);
}

foil_status cli_build_text_arch(const char *arch, const foil_tokenizer *t, int64_t classes, uint64_t seed,
                                foil_model **model)
{
    foil_arch_spec spec = {.name = arch,
                           .input_rank = 2,
                           .input_shape = {foil_tokenizer_max_length(t)},
                           .classes = classes,
                           .seed = seed,
                           .vocab_size = foil_tokenizer_vocab_size(t),
                           .pad_id = foil_tokenizer_pad_id(t)};
    return foil_arch_build(&spec, model);
}

foil_status cli_find_tokenizer(const char *given, const char *model, foil_tokenizer **out, char *used, size_t n)
{
    *out = NULL;
    if (given) snprintf(used, n, "%s", given);
    else cli_tokenizer_beside(model, used, n);
    if (!given && access(used, F_OK) != 0)
        return foil_error(FOIL_ERR_ARG, "%s: a text model needs its tokenizer: none beside it (%s); give --tokenizer "
                          "FILE", model, used);
    return foil_tokenizer_load(used, out);
}
