/*
 * text/text_internal.h - what the text code shares (not public): UTF-8
 * decoding and the character classes of BERT's basic tokenizer
 * (unicode.c), used by tokenizer.c's wordpiece encoder.
 */
#ifndef FOIL_TEXT_INTERNAL_H
#define FOIL_TEXT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* What foilTextDecode returns for a byte that starts no valid UTF-8
 * sequence (a stray continuation byte, an overlong form, a surrogate, a
 * value past U+10FFFF, a truncated sequence): not a code point, so no
 * token holds it. */
#define FOIL_TEXT_BAD_BYTE 0x110000u

/* Decode the code point at s[0..len) (len >= 1); *used: bytes taken (1 for
 * FOIL_TEXT_BAD_BYTE). */
static inline uint32_t foilTextDecode(const unsigned char *s, size_t len, size_t *used)
{
    uint32_t c = s[0];
    *used = 1;
    if (c < 0x80) return c;
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (n == 0 || c > 0xF4 || n > len) return FOIL_TEXT_BAD_BYTE;
    uint32_t cp = c & (0x7Fu >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return FOIL_TEXT_BAD_BYTE;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return FOIL_TEXT_BAD_BYTE;
    *used = n;
    return cp;
}

/* UTF-8 of code point cp (< 0x110000) into out (4 bytes room); returns the length. */
static inline size_t foilTextEncode(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) return o[0] = (unsigned char)cp, 1;
    if (cp < 0x800) return o[0] = (unsigned char)(0xC0 | cp >> 6), o[1] = (unsigned char)(0x80 | (cp & 0x3F)), 2;
    if (cp < 0x10000)
        return o[0] = (unsigned char)(0xE0 | cp >> 12), o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)),
               o[2] = (unsigned char)(0x80 | (cp & 0x3F)), 3;
    return o[0] = (unsigned char)(0xF0 | cp >> 18), o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F)),
           o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)), o[3] = (unsigned char)(0x80 | (cp & 0x3F)), 4;
}

/* BERT's classes of a code point, in the order _clean_text and
 * _run_split_on_punc test them: CONTROL is dropped (U+0000, U+FFFD,
 * categories Cc, Cf, Co, Cs and, below U+0500, Cn; not \t \n \r), SPACE
 * separates words (\t \n \r, Zs, and what Python's str.split() splits
 * on), PUNCT is a token of its own (ASCII 33-47, 58-64, 91-96, 123-126,
 * category P). FOIL_TEXT_BAD_BYTE is OTHER. */
enum { FOIL_TEXT_OTHER = 0, FOIL_TEXT_CONTROL = 1, FOIL_TEXT_SPACE = 2, FOIL_TEXT_PUNCT = 3 };
int foilTextClass(uint32_t cp);

/* Lowercased with accents stripped (Python's lower() of the character on
 * its own, NFD, combining marks dropped) for cp < U+0500; combining marks
 * (Mn) of any script give 0 (dropped); anything else above U+04FF is
 * returned as it is. */
uint32_t foilTextFold(uint32_t cp);

/* A CJK ideograph (BERT's _is_chinese_char): a word of its own. */
int foilTextIsCjk(uint32_t cp);

#endif
