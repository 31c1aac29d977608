/*
 * foil/text_attack.h - evasion of text classifiers, on strings.
 *
 * The attacks change a message's characters, query the model on the
 * changed text (tokenized with the model's own tokenizer, foil/text.h), and
 * stop as soon as the model no longer gives the message's label. All three
 * are black-box: they need only the model's scores. They share one search,
 * the greedy search by word importance that DeepWordBug (Gao et al. 2018)
 * introduced and TextAttack's recipes use (GreedyWordSwapWIR):
 *
 *   1. rank the words by importance: the drop in the label's probability
 *      when the word is replaced by "[UNK]" (FOIL_TEXT_WIR_UNK, the paper's
 *      Replace-1 and TextAttack's default) or deleted (FOIL_TEXT_WIR_DELETE,
 *      TextBugger's black-box scoring), one query per word;
 *   2. in that order, try the attack's changes of the word on the current
 *      text, keep the one that lowers the label's probability most if it
 *      lowers it at all, and stop at the first text the model misclassifies.
 *
 * Or, with search FOIL_TEXT_SEARCH_GREEDY, TextAttack's GreedySearch (its
 * BeamSearch of width 1): at every step, every change of every word not yet
 * changed is scored on the current text, and the best one is kept while it
 * lowers the label's probability. The changes are then taken at every
 * position of the word (TextAttack's random_one=False) and, for
 * deepwordbug, with every letter a-z where the recipe draws one at random.
 * It costs many more queries (about 54 per character of the message a step
 * for deepwordbug) and finds what the word order misses: an edit spent on
 * a word that helps a little is an edit not spent on one that helps most.
 *
 * Each word is changed at most once; stopwords (NLTK's English list, as
 * TextAttack's StopwordModification) and runs of more than 64 word
 * characters are left alone. The changes:
 *
 *   deepwordbug  Gao et al. 2018, as TextAttack's DeepWordBugGao2018 recipe:
 *                one random instance each of swapping two neighbouring
 *                characters, substituting a random letter, deleting a
 *                character and inserting a random letter.
 *   homoglyph    each character that has a Unicode confusable (Latin letters
 *                and digits that look the same in Cyrillic, Greek, ...: the
 *                table is in homoglyphs.c) replaced by it, one candidate per
 *                character: the text reads the same to a person.
 *   textbugger   the character-level bugs of TextBugger (Li et al. 2019):
 *                insert a space into the word, delete or swap inner
 *                characters (neither the first nor the last), and
 *                substitute a character that looks alike (o -> 0, l -> 1,
 *                a -> @, ...); the paper's word-level substitution (nearest
 *                neighbours in an embedding) is not implemented.
 *
 * One white-box attack does not search words:
 *
 *   hotflip      Ebrahimi et al. 2018 on a byte-level model (tokenizer kind
 *                bytes): character flips scored by the loss's gradient with
 *                respect to the one-hot characters, (E[b] - E[a]) . dJ/de_i
 *                through the embedding table E (foil_model_embedding_grad),
 *                with a beam search of `beam` texts (the paper's 10); flips
 *                only (not its insertions and deletions), ASCII to printable
 *                ASCII, each position once; max_edits bounds the flips.
 *
 * Budget. max_edits bounds the edits counted word by word (the Levenshtein
 * distance of each changed word to its original, summed; the text's own
 * Levenshtein distance, reported, is at most that); max_word_fraction the
 * share of words changed; max_queries the model queries per message.
 */
#ifndef FOIL_TEXT_ATTACK_H
#define FOIL_TEXT_ATTACK_H

#include <stdint.h>

#include "foil/model.h"
#include "foil/status.h"
#include "foil/text.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum foil_text_attack_kind {
    FOIL_TEXT_DEEPWORDBUG = 0,
    FOIL_TEXT_HOMOGLYPH,
    FOIL_TEXT_TEXTBUGGER,
    FOIL_TEXT_HOTFLIP,
} foil_text_attack_kind;

typedef enum foil_text_wir { FOIL_TEXT_WIR_UNK = 0, FOIL_TEXT_WIR_DELETE } foil_text_wir;

/* The search over words: by importance (TextAttack's GreedyWordSwapWIR, the
 * recipes' default) or greedy over every change of every word. */
typedef enum foil_text_search { FOIL_TEXT_SEARCH_WIR = 0, FOIL_TEXT_SEARCH_GREEDY } foil_text_search;

typedef struct foil_text_attack_options {
    foil_text_attack_kind kind;
    foil_text_wir wir;          /* word importance (defaults: unk; textbugger: delete) */
    int64_t max_edits;          /* > 0: at most this many character edits (0: no limit) */
    double max_word_fraction;   /* in (0, 1]: at most this share of the words changed (0: no limit) */
    int64_t max_queries;        /* > 0: at most this many queries per message (0: no limit) */
    int modify_stopwords;       /* 1: stopwords may change too */
    uint64_t seed;              /* the random choices of deepwordbug and textbugger */
    int beam;                   /* hotflip: beam width (0: 10) */
    foil_text_search search;    /* deepwordbug, homoglyph, textbugger: the search (default wir) */
} foil_text_attack_options;

/* deepwordbug, "[UNK]" importance, TextAttack's recipe budget of 30 edits. */
void foil_text_attack_defaults(foil_text_attack_options *o);
/* "deepwordbug", "homoglyph", "textbugger", "hotflip" <-> kind; FOIL_ERR_ARG names the
 * accepted ones. */
foil_status foil_text_attack_parse(const char *name, foil_text_attack_kind *kind);
const char *foil_text_attack_name(foil_text_attack_kind kind);

typedef struct foil_text_attack_result {
    char *adversarial;          /* UTF-8 (malloc'd): the final text, the original when nothing changed */
    int64_t label;              /* the class attacked away from */
    int64_t original_class;     /* the model's class for the original text */
    int64_t final_class;        /* ... and for the final one */
    double original_prob, final_prob; /* the label's probability before and after */
    int success;                /* the model gave the label, and no longer does */
    int64_t queries;            /* model queries spent on this message */
    int64_t gradients;          /* hotflip: gradients taken (texts differentiated) */
    int64_t edits;              /* Levenshtein distance of the final text to the original, in characters */
    int64_t words, words_changed; /* the message's words, and those changed (hotflip: 0, 0) */
    int64_t flips;              /* hotflip: characters flipped (the others: 0) */
} foil_text_attack_result;

/* Attack one message `text` (UTF-8, NUL-terminated) of class `label` on
 * model m, whose input is t's token ids. A message the model already
 * misclassifies is not attacked (one query; success 0). */
foil_status foil_text_attack(foil_model *m, const foil_tokenizer *t, const char *text, int64_t label,
                             const foil_text_attack_options *o, foil_text_attack_result *r);
void foil_text_attack_result_free(foil_text_attack_result *r);

/* Levenshtein distance between two UTF-8 strings, in code points. */
int64_t foil_text_levenshtein(const char *a, const char *b);

#ifdef __cplusplus
}
#endif
#endif
