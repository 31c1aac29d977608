/*
 * attacks/text/char_tables.c - the fixed tables of the text attacks:
 * Unicode confusables (homoglyph), TextBugger's look-alike characters
 * (sub-C), and NLTK's English stopwords (which words stay unchanged).
 */
#include <stdint.h>
#include <string.h>

#include "attacks/text/text_attack_internal.h"

/* Latin letters and the code points Unicode's confusables.txt (UTS #39)
 * lists as their look-alikes, from Cyrillic, Greek and Armenian: a text
 * that renders the same and tokenizes differently. */
static const struct {
    uint32_t from, to;
} homoglyphs[] = {
    {'a', 0x0430}, {'c', 0x0441}, {'d', 0x0501}, {'e', 0x0435}, {'g', 0x0261}, {'h', 0x04BB}, {'i', 0x0456},
    {'j', 0x0458}, {'l', 0x04CF}, {'n', 0x0578}, {'o', 0x043E}, {'p', 0x0440}, {'q', 0x051B}, {'r', 0x0433},
    {'s', 0x0455}, {'u', 0x057D}, {'v', 0x0475}, {'w', 0x051D}, {'x', 0x0445}, {'y', 0x0443},
    {'A', 0x0410}, {'B', 0x0412}, {'C', 0x0421}, {'E', 0x0415}, {'H', 0x041D}, {'I', 0x0406}, {'J', 0x0408},
    {'K', 0x041A}, {'M', 0x041C}, {'N', 0x039D}, {'O', 0x041E}, {'P', 0x0420}, {'S', 0x0405}, {'T', 0x0422},
    {'X', 0x0425}, {'Y', 0x04AE}, {'Z', 0x0396},
};

uint32_t foilHomoglyphOf(uint32_t c)
{
    for (size_t i = 0; i < sizeof homoglyphs / sizeof homoglyphs[0]; i++)
        if (homoglyphs[i].from == c) return homoglyphs[i].to;
    return 0;
}

/* TextBugger's Sub-C: "visually similar characters (e.g., replacing o with
 * 0, l with 1, a with @)" (Li et al. 2019), extended to the usual others. */
static const struct {
    uint32_t from, to;
} lookalikes[] = {
    {'o', '0'}, {'O', '0'}, {'l', '1'}, {'I', '1'}, {'i', '1'}, {'a', '@'}, {'e', '3'},
    {'s', '$'}, {'S', '$'}, {'t', '7'}, {'b', '8'}, {'g', '9'}, {'z', '2'},
};

uint32_t foilLookalikeOf(uint32_t c)
{
    for (size_t i = 0; i < sizeof lookalikes / sizeof lookalikes[0]; i++)
        if (lookalikes[i].from == c) return lookalikes[i].to;
    return 0;
}

/* NLTK's English stopword list (nltk_data corpora/stopwords/english, 179
 * words), the list TextAttack's StopwordModification reads. */
static const char *const stopwords[] = {
    "i", "me", "my", "myself", "we", "our", "ours", "ourselves", "you", "you're", "you've", "you'll", "you'd",
    "your", "yours", "yourself", "yourselves", "he", "him", "his", "himself", "she", "she's", "her", "hers",
    "herself", "it", "it's", "its", "itself", "they", "them", "their", "theirs", "themselves", "what", "which",
    "who", "whom", "this", "that", "that'll", "these", "those", "am", "is", "are", "was", "were", "be", "been",
    "being", "have", "has", "had", "having", "do", "does", "did", "doing", "a", "an", "the", "and", "but", "if",
    "or", "because", "as", "until", "while", "of", "at", "by", "for", "with", "about", "against", "between",
    "into", "through", "during", "before", "after", "above", "below", "to", "from", "up", "down", "in", "out",
    "on", "off", "over", "under", "again", "further", "then", "once", "here", "there", "when", "where", "why",
    "how", "all", "any", "both", "each", "few", "more", "most", "other", "some", "such", "no", "nor", "not",
    "only", "own", "same", "so", "than", "too", "very", "s", "t", "can", "will", "just", "don", "don't",
    "should", "should've", "now", "d", "ll", "m", "o", "re", "ve", "y", "ain", "aren", "aren't", "couldn",
    "couldn't", "didn", "didn't", "doesn", "doesn't", "hadn", "hadn't", "hasn", "hasn't", "haven", "haven't",
    "isn", "isn't", "ma", "mightn", "mightn't", "mustn", "mustn't", "needn", "needn't", "shan", "shan't",
    "shouldn", "shouldn't", "wasn", "wasn't", "weren", "weren't", "won", "won't", "wouldn", "wouldn't",
};

int foilIsStopword(const uint32_t *w, int n)
{
    char low[16];
    if (n <= 0 || n >= (int)sizeof low) return 0;
    for (int i = 0; i < n; i++) {
        if (w[i] >= 0x80) return 0;
        low[i] = (char)(w[i] >= 'A' && w[i] <= 'Z' ? w[i] + 32 : w[i]);
    }
    low[n] = 0;
    for (size_t i = 0; i < sizeof stopwords / sizeof stopwords[0]; i++)
        if (strcmp(stopwords[i], low) == 0) return 1;
    return 0;
}

int foilStopwordCount(void) { return (int)(sizeof stopwords / sizeof stopwords[0]); }
