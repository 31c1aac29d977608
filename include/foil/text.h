/*
 * foil/text.h - text for text classifiers: tokenizers that turn a message
 * into a fixed-length row of token ids, and files of labelled messages.
 *
 *   foil_text_dataset all, train, test;
 *   foil_tokenizer *tok;
 *   foil_dataset x;
 *   foil_text_load_tsv("SMSSpamCollection", &all);          // ham = 0, spam = 1
 *   foil_text_split(&all, 0, 0.2, &train, &test);           // seeded, stratified 80/20
 *   foil_tokenizer_fit("words", train.texts, train.n, 20000, 2, 64, 1, &tok);
 *   foil_tokenizer_save(tok, "sms.tokenizer.json");
 *   foil_text_encode(&train, tok, &x);                      // x: (N, 64) float32 ids
 *   float ids[64];
 *   int64_t n;
 *   foil_tokenizer_encode(tok, "WINNER!! Claim now", 18, ids, &n);
 *   foil_dataset_free(&x), foil_tokenizer_free(tok);
 *   foil_text_dataset_free(&all), foil_text_dataset_free(&train), foil_text_dataset_free(&test);
 *
 * A message becomes exactly max_length ids: [CLS] when the tokenizer has
 * one, the message's tokens (truncated to fit), [SEP] when it has one (kept
 * when the tokens are truncated: max_length counts both), then pad_id to
 * the end. Ids are stored as float (whole numbers below 2^24, exact in
 * float32) because foil's models take float inputs; an embedding model casts.
 *
 * The tokenizer file (JSON, UTF-8; write your own or let foil write one):
 *
 *   {"format": "foil-tokenizer", "version": 1,
 *    "kind": "bytes" | "words" | "wordpiece",
 *    "max_length": 128,           ids per message, 1 to 65536
 *    "lowercase": true,           optional, default false
 *    "pad_id": 0, "unk_id": 1,    the padding id and the id of unknown tokens
 *    "cls_id": 101, "sep_id": 102,  optional (words, wordpiece): [CLS] first, [SEP] after the last token
 *    "vocab": ["<pad>", "<unk>", ...]}  words, wordpiece: the token of each id (id = index)
 *
 * Every id must lie in [0, vocabulary size); vocab entries are distinct
 * strings; a key foil does not know is an error (a misspelt "lowercase"
 * would otherwise be ignored). The kinds:
 *
 *   bytes      id = 1 + the byte's value: no vocab, vocabulary size 257,
 *              pad_id 0 (unk_id, if given, is never produced). lowercase
 *              lowers ASCII letters only.
 *   words      a word is a maximal run of bytes that are ASCII letters,
 *              digits, the apostrophe, or bytes >= 0x80; every other byte
 *              (space, punctuation, control) separates words. So a word
 *              with a non-ASCII letter in it stays one word: "fr\u0435e"
 *              with a Cyrillic e is one (unknown) word, not "fr" and "e".
 *              lowercase lowers ASCII letters only. A word not in the vocab
 *              is unk_id.
 *   wordpiece  BERT's uncased tokenizer as HuggingFace's BertTokenizer
 *              (do_lower_case=True) does it: drop control characters
 *              (U+0000, U+FFFD, categories Cc, Cf, Co, Cs, and the unassigned
 *              code points below U+0500), whitespace to spaces, CJK
 *              ideographs as words of their own, lowercase and strip
 *              accents (when "lowercase" is true), split on whitespace,
 *              split off every punctuation character (ASCII 33-47, 58-64,
 *              91-96, 123-126 and Unicode category P) as a token of its own,
 *              then greedy longest-match-first word pieces with "##"
 *              continuations; a word of more than 100 characters, or one
 *              that no pieces spell, is unk_id. The text is decoded as
 *              UTF-8; a byte that is not valid UTF-8 is a character that no
 *              token holds, so the word around it is unk_id.
 *              Each character is lowercased on its own, as HuggingFace
 *              does (capital sigma is always small sigma, never final).
 *              Where it differs from HuggingFace's (Python's Unicode):
 *              lowercasing and accent stripping are table-driven for
 *              U+0000-U+04FF only (ASCII, Latin-1, Latin Extended-A/B, IPA,
 *              Greek, Cyrillic): characters above
 *              it keep their case and are not decomposed (Latin Extended
 *              Additional as in Vietnamese, Greek Extended, fullwidth
 *              Latin, kana with voicing marks, Hangul syllables, which
 *              Python splits into jamo), while combining marks (Mn) on
 *              their own are dropped in every script. Unassigned code
 *              points above U+04FF are kept (Python drops them as
 *              controls). With "lowercase" false nothing is normalized
 *              (recent HuggingFace versions apply NFC first). Special
 *              tokens written in a message ("[SEP]") are ordinary text.
 *
 * foil_tokenizer_from_vocab_txt makes a wordpiece file from BERT's vocab.txt.
 * Files are read whole and untrusted: anything malformed is an error naming
 * the file and the problem. A tokenizer is read-only once made, so threads
 * may share it.
 */
#ifndef FOIL_TEXT_H
#define FOIL_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "foil/data.h"
#include "foil/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct foil_tokenizer foil_tokenizer;

/* Read a tokenizer file (format above). */
foil_status foil_tokenizer_load(const char *path, foil_tokenizer **out);

/* Write t as a tokenizer file, atomically (PATH.tmp.PID, fsync, rename).
 * Tokens are written as their bytes: a words tokenizer fitted on text that
 * is not UTF-8 gives a file foil reads but strict JSON parsers may not. */
foil_status foil_tokenizer_save(const foil_tokenizer *t, const char *path);

/* Learn a tokenizer from texts[0..n) (NUL-terminated).
 *   "bytes"      nothing to learn (texts, max_vocab and min_count unused).
 *   "words"      ids 0 "<pad>", 1 "<unk>", then the max_vocab - 2 most
 *                frequent words seen at least min_count times, most frequent
 *                first, ties in byte order of the words (deterministic).
 *   "wordpiece"  cannot be learned: make it from a vocab.txt.
 * max_length ids per message (1..65536); lowercase as in the file. */
foil_status foil_tokenizer_fit(const char *kind, char *const *texts, int64_t n, int64_t max_vocab, int64_t min_count,
                               int64_t max_length, int lowercase, foil_tokenizer **out);

/* A wordpiece tokenizer from BERT's vocab.txt (one token per line, id =
 * line number - 1, LF or CRLF): lowercase on (uncased BERT; save it and
 * edit the file for a cased vocabulary), pad "[PAD]", unk "[UNK]", cls
 * "[CLS]" and sep "[SEP]", which must all be present. */
foil_status foil_tokenizer_from_vocab_txt(const char *vocab_txt_path, int64_t max_length, foil_tokenizer **out);

void foil_tokenizer_free(foil_tokenizer *t);

const char *foil_tokenizer_kind(const foil_tokenizer *t); /* "bytes", "words" or "wordpiece" */
int64_t foil_tokenizer_vocab_size(const foil_tokenizer *t); /* ids lie in [0, vocab_size) */
int64_t foil_tokenizer_max_length(const foil_tokenizer *t);
int64_t foil_tokenizer_pad_id(const foil_tokenizer *t);
/* The token of id (words, wordpiece); NULL for bytes or an id out of range. */
const char *foil_tokenizer_token(const foil_tokenizer *t, int64_t id);

/* Tokenize text[0..len) (any bytes, NUL included) into ids[0..max_length),
 * padded; *n_tokens (may be NULL) is the count before padding, after
 * truncation, [CLS] and [SEP] included. Allocates nothing and changes
 * nothing shared: call it from any number of threads. */
foil_status foil_tokenizer_encode(const foil_tokenizer *t, const char *text, size_t len, float *ids, int64_t *n_tokens);

/* ------------------------------------------------------------------------- */
/* labelled messages                                                         */

typedef struct foil_text_dataset {
    char **texts;          /* n NUL-terminated messages */
    int64_t *labels;       /* n labels in [0, classes) */
    int64_t n, classes;
    char **class_names;    /* classes names, then NULL */
    char name[64];         /* the file's base name, without its extension */
} foil_text_dataset;

/* Read a file of LABEL<TAB>TEXT lines (the SMS Spam Collection's format),
 * plain or gzip-compressed: the label is what comes before the first tab,
 * the message everything after it. Classes are the distinct labels in byte order (ham = 0,
 * spam = 1). A UTF-8 byte-order mark, CRLF line ends and empty lines at the
 * end of the file are accepted. Errors name the file and line: a line with
 * no tab, an empty label, more than 1000 classes, a NUL byte, a line longer
 * than 1 MiB, and a file with no messages. */
foil_status foil_text_load_tsv(const char *path, foil_text_dataset *out);

/* A seeded, stratified split, the one foil uses for the user's dataset
 * files (src/data/data.c): of each class, ceil((1 - test_fraction) * n_c)
 * messages go to train (at least one to test when the class has two or
 * more), each split in file order. test_fraction in (0, 1). */
foil_status foil_text_split(const foil_text_dataset *all, uint64_t seed, double test_fraction, foil_text_dataset *train,
                            foil_text_dataset *test);

/* Tokenize every message: out->x float32 (N, max_length) ids, y the labels,
 * the class names and the dataset name copied, bounds [0, vocab_size - 1]
 * for every position, is_image 0, feature_names NULL (positions have no
 * names). */
foil_status foil_text_encode(const foil_text_dataset *d, const foil_tokenizer *t, foil_dataset *out);

void foil_text_dataset_free(foil_text_dataset *d);

#ifdef __cplusplus
}
#endif
#endif
