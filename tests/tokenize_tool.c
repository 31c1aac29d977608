/*
 * tests/tokenize_tool.c - foil's tokenizer over lines of text, for the
 * cross-check against HuggingFace's BertTokenizer
 * (tests/text_wordpiece_crosscheck.py):
 *
 *   tokenize_tool TOKENIZER.json < LINES
 *   tokenize_tool --vocab-txt VOCAB.txt MAX_LENGTH < LINES
 *
 * Each line of stdin (its LF, and a CR before it, removed) is one text;
 * each gives one line on stdout: the ids before padding (n_tokens of them),
 * separated by spaces. Exit 0, or 1 with foil's error on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foil/text.h"

int main(int argc, char **argv)
{
    foil_tokenizer *t = NULL;
    foil_status st;
    if (argc == 2) st = foil_tokenizer_load(argv[1], &t);
    else if (argc == 4 && strcmp(argv[1], "--vocab-txt") == 0) st = foil_tokenizer_from_vocab_txt(argv[2], atoll(argv[3]), &t);
    else {
        fprintf(stderr, "usage: %s TOKENIZER.json | --vocab-txt VOCAB.txt MAX_LENGTH  (texts on stdin, one a line)\n",
                argv[0]);
        return 2;
    }
    if (st) {
        fprintf(stderr, "tokenize_tool: %s\n", foil_last_error());
        return 1;
    }
    int64_t L = foil_tokenizer_max_length(t), n;
    float *ids = malloc((size_t)L * sizeof *ids);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while (ids && (len = getline(&line, &cap, stdin)) >= 0) {
        if (len && line[len - 1] == '\n') len--;
        if (len && line[len - 1] == '\r') len--;
        if ((st = foil_tokenizer_encode(t, line, (size_t)len, ids, &n))) break;
        for (int64_t i = 0; i < n; i++) printf(i ? " %.0f" : "%.0f", ids[i]);
        putchar('\n');
    }
    if (st) fprintf(stderr, "tokenize_tool: %s\n", foil_last_error());
    free(line);
    free(ids);
    foil_tokenizer_free(t);
    return st || !ids ? 1 : 0;
}
