/*
 * text/tokenizer.c - foil_tokenizer (foil/text.h): the tokenizer file, the
 * three encoders, a words vocabulary learned from texts, and BERT's
 * vocab.txt.
 *
 * A tokenizer is built once and only read afterwards. Its vocabulary lives
 * in one arena (token i is strings + off[i], off[i + 1] - off[i] - 1 bytes,
 * NUL-terminated) with an open-addressing table of ids over it (FNV-1a
 * mixed by foil_mix64, linear probing, at most half full). Lookups build
 * nothing: a wordpiece continuation is looked up as "##" + piece by hashing
 * the two parts in turn, and a words tokenizer lowercases the text's bytes
 * inside the hash and the comparison. So foil_tokenizer_encode allocates
 * nothing and touches nothing shared; the wordpiece encoder keeps the word
 * it is building on the stack (BERT gives up on words of more than 100
 * characters, so 100 characters is all it ever needs).
 */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "foil/rng.h"
#include "foil/text.h"
#include "io/file.h"
#include "text/text_internal.h"

typedef enum { TOK_BYTES = 0, TOK_WORDS = 1, TOK_WORDPIECE = 2 } TokKind;
static const char *const kind_names[] = {"bytes", "words", "wordpiece"};

#define TOK_MAX_LENGTH 65536
#define TOK_MAX_VOCAB ((int64_t)1 << 24)   /* every id exact in float32 */
#define TOK_FILE_LIMIT ((size_t)1 << 28)   /* larger tokenizer or vocab.txt files are refused */
#define WP_MAX_CHARS 100                   /* BERT's max_input_chars_per_word */

struct foil_tokenizer {
    TokKind kind;
    int lowercase;
    int64_t max_length;
    int64_t pad_id, unk_id, cls_id, sep_id; /* cls_id, sep_id: -1 when absent */
    int64_t vocab_size;                     /* 257 for bytes */
    char *strings;                          /* words, wordpiece: the tokens (NULL for bytes) */
    size_t *off;                            /* vocab_size + 1 offsets into strings */
    int32_t *slot;                          /* hash table: an id, or -1 for empty */
    uint64_t mask;                          /* table size - 1 */
    size_t longest;                         /* bytes of the longest token */
};

/* ------------------------------------------------------------------------- */
/* the vocabulary's hash table                                               */

static inline unsigned char ascii_lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c; }

static inline uint64_t fnv(uint64_t h, const char *s, size_t n, int lower)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n; i++) h = (h ^ (lower ? ascii_lower(u[i]) : u[i])) * 0x100000001b3ULL;
    return h;
}

static inline int same_bytes(const char *token, const char *s, size_t n, int lower)
{
    if (!lower) return memcmp(token, s, n) == 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)token[i] != ascii_lower((unsigned char)s[i])) return 0;
    return 1;
}

static inline size_t token_len(const foil_tokenizer *t, int64_t id) { return t->off[id + 1] - t->off[id] - 1; }

/* The id of the token pre[0..np) + s[0..n) (s lowercased for ASCII when
 * `lower`), or -1. */
static int64_t vocab_find(const foil_tokenizer *t, const char *pre, size_t np, const char *s, size_t n, int lower)
{
    if (!t->slot || np + n > t->longest) return -1;
    uint64_t h = foil_mix64(fnv(fnv(0xcbf29ce484222325ULL, pre, np, 0), s, n, lower));
    for (uint64_t i = h & t->mask;; i = (i + 1) & t->mask) {
        int32_t id = t->slot[i];
        if (id < 0) return -1;
        const char *e = t->strings + t->off[id];
        if (token_len(t, id) == np + n && memcmp(e, pre, np) == 0 && same_bytes(e + np, s, n, lower)) return id;
    }
}

/* Give t the vocabulary tok[0..n) (len[i] bytes each, no NUL inside), id =
 * index. Duplicates are an error naming `what` and the two ids (or, with
 * `lines`, the two lines of a vocab.txt). */
static foil_status set_vocab(foil_tokenizer *t, const char *what, int lines, const char *const *tok, const size_t *len,
                             int64_t n)
{
    size_t total = 0;
    for (int64_t i = 0; i < n; i++) total += len[i] + 1;
    uint64_t cap = 16;
    while (cap < 2 * (uint64_t)n) cap *= 2;
    t->vocab_size = n;
    t->strings = malloc(total ? total : 1);
    t->off = malloc(((size_t)n + 1) * sizeof *t->off);
    t->slot = malloc(cap * sizeof *t->slot);
    if (!t->strings || !t->off || !t->slot)
        return foil_error(FOIL_ERR_NOMEM, "%s: out of memory for %lld tokens", what, (long long)n);
    memset(t->slot, 0xff, cap * sizeof *t->slot);
    t->mask = cap - 1;
    t->longest = 0;
    size_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        t->off[i] = at;
        memcpy(t->strings + at, tok[i], len[i]);
        t->strings[at + len[i]] = '\0';
        at += len[i] + 1;
        t->longest = len[i] > t->longest ? len[i] : t->longest;
    }
    t->off[n] = at;
    for (int64_t i = 0; i < n; i++) {
        const char *s = t->strings + t->off[i];
        int64_t dup = vocab_find(t, "", 0, s, len[i], 0);
        if (dup >= 0)
            return foil_error(FOIL_ERR_FORMAT, "%s: %s %lld and %lld are both the token \"%.40s\"", what,
                              lines ? "lines" : "vocab ids", (long long)(dup + lines), (long long)(i + lines), s);
        uint64_t h = foil_mix64(fnv(0xcbf29ce484222325ULL, s, len[i], 0));
        uint64_t k = h & t->mask;
        while (t->slot[k] >= 0) k = (k + 1) & t->mask;
        t->slot[k] = (int32_t)i;
    }
    return FOIL_OK;
}

static foil_tokenizer *tok_new(TokKind kind, int64_t max_length, int lowercase)
{
    foil_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->kind = kind;
    t->max_length = max_length;
    t->lowercase = lowercase ? 1 : 0;
    t->cls_id = t->sep_id = -1;
    if (kind == TOK_BYTES) t->vocab_size = 257;
    return t;
}

void foil_tokenizer_free(foil_tokenizer *t)
{
    if (!t) return;
    free(t->strings);
    free(t->off);
    free(t->slot);
    free(t);
}

/* ------------------------------------------------------------------------- */
/* reading the file                                                          */

enum { K_FORMAT, K_VERSION, K_KIND, K_MAX_LENGTH, K_LOWERCASE, K_PAD, K_UNK, K_CLS, K_SEP, K_VOCAB, K_COUNT };
static const char *const key_names[K_COUNT] = {"format", "version", "kind",   "max_length", "lowercase",
                                               "pad_id", "unk_id",  "cls_id", "sep_id",     "vocab"};
#define KEYS_LIST "format, version, kind, max_length, lowercase, pad_id, unk_id, cls_id, sep_id, vocab"

/* What a JSON value is, for messages: "300", "a string", "missing". */
static const char *describe(const cJSON *v, char *buf, size_t n)
{
    if (!v) return "missing";
    if (cJSON_IsNumber(v)) return snprintf(buf, n, "%.17g", v->valuedouble), buf;
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsArray(v)) return "an array";
    return "an object";
}

/* v must be a whole number in [lo, hi]. */
static foil_status whole_number(const char *path, const cJSON *v, const char *key, double lo, double hi, const char *why,
                                int64_t *out)
{
    char b[40];
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) || v->valuedouble != floor(v->valuedouble))
        return foil_error(FOIL_ERR_FORMAT, "%s: %s must be a whole number from %.0f to %.0f%s (got %s)", path, key, lo, hi,
                          why, describe(v, b, sizeof b));
    *out = (int64_t)v->valuedouble;
    return FOIL_OK;
}

static foil_status read_vocab(const char *path, const cJSON *vocab, foil_tokenizer *t)
{
    if (!cJSON_IsArray(vocab))
        return foil_error(FOIL_ERR_FORMAT, "%s: a %s tokenizer needs \"vocab\", an array of its tokens (id = index)", path,
                          kind_names[t->kind]);
    int64_t n = cJSON_GetArraySize(vocab);
    if (n < 1 || n > TOK_MAX_VOCAB)
        return foil_error(FOIL_ERR_FORMAT, "%s: vocab has %lld tokens; it needs 1 to %lld", path, (long long)n,
                          (long long)TOK_MAX_VOCAB);
    const char **tok = malloc((size_t)n * sizeof *tok);
    size_t *len = malloc((size_t)n * sizeof *len);
    foil_status st = tok && len ? FOIL_OK : foil_error(FOIL_ERR_NOMEM, "%s: out of memory", path);
    int64_t i = 0;
    for (const cJSON *e = vocab->child; !st && e; e = e->next, i++) {
        char b[40];
        if (!cJSON_IsString(e) || !e->valuestring)
            st = foil_error(FOIL_ERR_FORMAT, "%s: vocab entry %lld is %s, not a string", path, (long long)i,
                            describe(e, b, sizeof b));
        else tok[i] = e->valuestring, len[i] = strlen(e->valuestring);
    }
    if (!st) st = set_vocab(t, path, 0, tok, len, n);
    free(tok);
    free(len);
    return st;
}

static foil_status from_json(const char *path, const cJSON *root, foil_tokenizer **out)
{
    const cJSON *fmt = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "format") : NULL;
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "foil-tokenizer") != 0)
        return foil_error(FOIL_ERR_FORMAT, "%s: not a foil tokenizer file (it needs \"format\": \"foil-tokenizer\")", path);
    const cJSON *v[K_COUNT] = {0};
    for (const cJSON *c = root->child; c; c = c->next) {
        int k = 0;
        while (k < K_COUNT && (!c->string || strcmp(c->string, key_names[k]) != 0)) k++;
        if (k == K_COUNT)
            return foil_error(FOIL_ERR_FORMAT, "%s: unknown key \"%.40s\" (a tokenizer file has " KEYS_LIST ")", path,
                              c->string ? c->string : "");
        if (v[k]) return foil_error(FOIL_ERR_FORMAT, "%s: key \"%s\" appears twice", path, key_names[k]);
        v[k] = c;
    }
    char b[40];
    if (!cJSON_IsNumber(v[K_VERSION]) || v[K_VERSION]->valuedouble != 1)
        return foil_error(FOIL_ERR_UNSUPPORTED, "%s: tokenizer file version %s is not one this foil reads (1)", path,
                          describe(v[K_VERSION], b, sizeof b));
    int kind = 0;
    const cJSON *kv = v[K_KIND];
    while (kind < 3 && !(cJSON_IsString(kv) && strcmp(kv->valuestring, kind_names[kind]) == 0)) kind++;
    if (kind == 3)
        return foil_error(FOIL_ERR_FORMAT, "%s: unknown tokenizer kind \"%.40s\" (bytes, words or wordpiece)", path,
                          cJSON_IsString(kv) ? kv->valuestring : describe(kv, b, sizeof b));
    int64_t max_length;
    foil_status st = whole_number(path, v[K_MAX_LENGTH], "max_length", 1, TOK_MAX_LENGTH, "", &max_length);
    if (st) return st;
    if (v[K_LOWERCASE] && !cJSON_IsBool(v[K_LOWERCASE]))
        return foil_error(FOIL_ERR_FORMAT, "%s: lowercase must be true or false (got %s)", path,
                          describe(v[K_LOWERCASE], b, sizeof b));
    foil_tokenizer *t = tok_new((TokKind)kind, max_length, cJSON_IsTrue(v[K_LOWERCASE]));
    if (!t) return foil_error(FOIL_ERR_NOMEM, "%s: out of memory", path);
    if (kind == TOK_BYTES) {
        if (v[K_VOCAB]) st = foil_error(FOIL_ERR_FORMAT, "%s: a bytes tokenizer has no vocab (id = 1 + byte value)", path);
        else if (v[K_CLS] || v[K_SEP])
            st = foil_error(FOIL_ERR_FORMAT, "%s: a bytes tokenizer has no cls_id or sep_id (every id is a byte)", path);
        else if (v[K_PAD]) st = whole_number(path, v[K_PAD], "pad_id", 0, 0, " (a bytes tokenizer pads with 0)", &t->pad_id);
        if (!st && v[K_UNK]) st = whole_number(path, v[K_UNK], "unk_id", 0, 256, "", &t->unk_id);
    } else {
        st = read_vocab(path, v[K_VOCAB], t);
        char why[80];
        snprintf(why, sizeof why, " (the vocab has %lld tokens)", (long long)t->vocab_size);
        double top = (double)t->vocab_size - 1;
        if (!st) st = whole_number(path, v[K_PAD], "pad_id", 0, top, why, &t->pad_id);
        if (!st) st = whole_number(path, v[K_UNK], "unk_id", 0, top, why, &t->unk_id);
        if (!st && v[K_CLS]) st = whole_number(path, v[K_CLS], "cls_id", 0, top, why, &t->cls_id);
        if (!st && v[K_SEP]) st = whole_number(path, v[K_SEP], "sep_id", 0, top, why, &t->sep_id);
        int specials = (t->cls_id >= 0) + (t->sep_id >= 0);
        if (!st && max_length <= specials)
            st = foil_error(FOIL_ERR_FORMAT, "%s: max_length %lld leaves no room for a token beside [CLS] and [SEP]", path,
                            (long long)max_length);
    }
    if (st) {
        foil_tokenizer_free(t);
        return st;
    }
    *out = t;
    return FOIL_OK;
}

foil_status foil_tokenizer_load(const char *path, foil_tokenizer **out)
{
    if (!out) return foil_error(FOIL_ERR_ARG, "foil_tokenizer_load: no place for the result");
    *out = NULL;
    if (!path || !path[0]) return foil_error(FOIL_ERR_ARG, "foil_tokenizer_load: no path");
    uint8_t *buf;
    size_t len;
    foil_status st = foilReadFile(path, TOK_FILE_LIMIT, &buf, &len);
    if (st) return st;
    const char *text = (const char *)buf, *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (root) { /* cJSON stops after the value: what follows must be blank */
        size_t at = (size_t)(end - text);
        while (at < len && (text[at] == ' ' || text[at] == '\t' || text[at] == '\n' || text[at] == '\r')) at++;
        if (at < len) {
            end = text + at;
            cJSON_Delete(root);
            root = NULL;
        }
    }
    if (!root) {
        size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : len;
        long long line = 1, col = 1;
        for (size_t i = 0; i < at; i++) {
            col = text[i] == '\n' ? 1 : col + 1;
            line += text[i] == '\n';
        }
        st = foil_error(FOIL_ERR_FORMAT, "%s: not JSON (error at line %lld, column %lld); a tokenizer file is a JSON "
                        "object (foil/text.h)", path, line, col);
    } else {
        st = from_json(path, root, out);
        cJSON_Delete(root);
    }
    free(buf);
    return st;
}

/* ------------------------------------------------------------------------- */
/* writing the file                                                          */

/* s as a JSON string at out (at most 6 * n + 2 bytes): quotes, backslashes
 * and control bytes escaped, the other bytes as they are; returns the end. */
static char *json_string(char *out, const char *s, size_t n)
{
    *out++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') *out++ = '\\', *out++ = (char)c;
        else if (c < 0x20) out += sprintf(out, "\\u%04x", c);
        else *out++ = (char)c;
    }
    *out++ = '"';
    return out;
}

foil_status foil_tokenizer_save(const foil_tokenizer *t, const char *path)
{
    if (!t || !path || !path[0]) return foil_error(FOIL_ERR_ARG, "foil_tokenizer_save: no tokenizer or no path");
    size_t size = 512; /* the fixed keys; then each token, escaped, with ",\n    " */
    for (int64_t i = 0; t->strings && i < t->vocab_size; i++) size += 6 * token_len(t, i) + 8;
    char *buf = malloc(size), *p = buf;
    if (!buf) return foil_error(FOIL_ERR_NOMEM, "%s: out of memory writing the tokenizer", path);
    p += sprintf(p, "{\n  \"format\": \"foil-tokenizer\",\n  \"version\": 1,\n  \"kind\": \"%s\",\n"
                 "  \"max_length\": %lld,\n  \"lowercase\": %s,\n  \"pad_id\": %lld,\n  \"unk_id\": %lld",
                 kind_names[t->kind], (long long)t->max_length, t->lowercase ? "true" : "false", (long long)t->pad_id,
                 (long long)t->unk_id);
    if (t->cls_id >= 0) p += sprintf(p, ",\n  \"cls_id\": %lld", (long long)t->cls_id);
    if (t->sep_id >= 0) p += sprintf(p, ",\n  \"sep_id\": %lld", (long long)t->sep_id);
    if (t->strings) {
        p += sprintf(p, ",\n  \"vocab\": [");
        for (int64_t i = 0; i < t->vocab_size; i++) {
            p += sprintf(p, i ? ",\n    " : "\n    ");
            p = json_string(p, t->strings + t->off[i], token_len(t, i));
        }
        p += sprintf(p, "\n  ]");
    }
    p += sprintf(p, "\n}\n");
    assert((size_t)(p - buf) < size);
    foil_status st = foilWriteFileAtomic(path, buf, (size_t)(p - buf));
    free(buf);
    return st;
}

/* ------------------------------------------------------------------------- */
/* accessors                                                                 */

const char *foil_tokenizer_kind(const foil_tokenizer *t) { return t ? kind_names[t->kind] : NULL; }
int64_t foil_tokenizer_vocab_size(const foil_tokenizer *t) { return t ? t->vocab_size : 0; }
int64_t foil_tokenizer_max_length(const foil_tokenizer *t) { return t ? t->max_length : 0; }
int64_t foil_tokenizer_pad_id(const foil_tokenizer *t) { return t ? t->pad_id : 0; }

const char *foil_tokenizer_token(const foil_tokenizer *t, int64_t id)
{
    return t && t->strings && id >= 0 && id < t->vocab_size ? t->strings + t->off[id] : NULL;
}

/* ------------------------------------------------------------------------- */
/* encoding                                                                  */

/* Where the tokens go: ids[0..room), the slots between [CLS] and [SEP]. */
typedef struct Out {
    float *ids;
    int64_t n, room;
} Out;

/* 0 when full (the caller stops: truncation). */
static inline int emit(Out *o, int64_t id)
{
    if (o->n >= o->room) return 0;
    o->ids[o->n++] = (float)id;
    return 1;
}

static void encode_bytes(const foil_tokenizer *t, const unsigned char *s, size_t len, Out *o)
{
    for (size_t i = 0; i < len && o->n < o->room; i++) emit(o, 1 + (t->lowercase ? ascii_lower(s[i]) : s[i]));
}

/* ASCII letters and digits, the apostrophe, and every byte of a multibyte
 * UTF-8 sequence (or any byte >= 0x80). */
static inline int word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '\'' || c >= 0x80;
}

static void encode_words(const foil_tokenizer *t, const char *s, size_t len, Out *o)
{
    for (size_t i = 0; i < len;) {
        if (!word_byte((unsigned char)s[i])) {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < len && word_byte((unsigned char)s[j])) j++;
        int64_t id = vocab_find(t, "", 0, s + i, j - i, t->lowercase);
        if (!emit(o, id >= 0 ? id : t->unk_id)) return;
        i = j;
    }
}

/* The wordpiece encoder's word: its first WP_MAX_CHARS characters as UTF-8,
 * char k at bytes[off[k] .. off[k + 1]); nchars counts on past the limit. */
typedef struct WpWord {
    size_t nchars;
    int bad; /* holds a byte that is not UTF-8 */
    size_t off[WP_MAX_CHARS + 1];
    char bytes[WP_MAX_CHARS * 4];
} WpWord;

static inline void wp_add(WpWord *w, uint32_t cp)
{
    if (w->nchars < WP_MAX_CHARS) {
        size_t at = w->off[w->nchars];
        if (cp == FOIL_TEXT_BAD_BYTE) w->bad = 1;
        else at += foilTextEncode(cp, w->bytes + at);
        w->off[w->nchars + 1] = at;
    }
    w->nchars++;
}

/* Emit the word's pieces (greedy longest match first, "##" after the first)
 * or unk_id, and empty it; 0 when the output is full. */
static int wp_flush(const foil_tokenizer *t, WpWord *w, Out *o)
{
    size_t n = w->nchars;
    if (n == 0) return 1;
    int ok = n <= WP_MAX_CHARS && !w->bad;
    int32_t piece[WP_MAX_CHARS];
    size_t np = 0;
    for (size_t start = 0; ok && start < n;) {
        int64_t id = -1;
        size_t end = n;
        for (; end > start; end--) {
            id = vocab_find(t, "##", start ? 2 : 0, w->bytes + w->off[start], w->off[end] - w->off[start], 0);
            if (id >= 0) break;
        }
        if (id < 0) ok = 0;
        else piece[np++] = (int32_t)id, start = end;
    }
    w->nchars = 0;
    w->bad = 0;
    if (!ok) return emit(o, t->unk_id);
    for (size_t i = 0; i < np; i++)
        if (!emit(o, piece[i])) return 0;
    return 1;
}

static void encode_wordpiece(const foil_tokenizer *t, const unsigned char *s, size_t len, Out *o)
{
    const unsigned char *e = s + len;
    WpWord w;
    w.nchars = 0;
    w.bad = 0;
    w.off[0] = 0;
    while (s < e) {
        size_t used;
        uint32_t cp = foilTextDecode(s, (size_t)(e - s), &used);
        s += used;
        int cls = cp == FOIL_TEXT_BAD_BYTE ? FOIL_TEXT_OTHER : foilTextClass(cp);
        if (cls == FOIL_TEXT_CONTROL) continue;
        if (cls == FOIL_TEXT_SPACE || foilTextIsCjk(cp)) {
            if (!wp_flush(t, &w, o)) return;
            if (cls == FOIL_TEXT_SPACE) continue;
            wp_add(&w, cp);
            if (!wp_flush(t, &w, o)) return;
            continue;
        }
        uint32_t f = cp;
        if (t->lowercase && cp != FOIL_TEXT_BAD_BYTE) {
            f = foilTextFold(cp);
            if (f == 0) continue; /* a combining mark, stripped */
            if (f != cp) cls = foilTextClass(f);
        }
        if (cls == FOIL_TEXT_PUNCT) {
            if (!wp_flush(t, &w, o)) return;
            wp_add(&w, f);
            if (!wp_flush(t, &w, o)) return;
            continue;
        }
        wp_add(&w, f);
    }
    wp_flush(t, &w, o);
}

foil_status foil_tokenizer_encode(const foil_tokenizer *t, const char *text, size_t len, float *ids, int64_t *n_tokens)
{
    if (n_tokens) *n_tokens = 0;
    if (!t || !ids || (!text && len))
        return foil_error(FOIL_ERR_ARG, "foil_tokenizer_encode: %s", !t ? "no tokenizer" : !ids ? "no ids" : "no text");
    if (!text) text = "";
    int64_t at = 0;
    if (t->cls_id >= 0) ids[at++] = (float)t->cls_id;
    Out o = {ids + at, 0, t->max_length - at - (t->sep_id >= 0)};
    if (t->kind == TOK_BYTES) encode_bytes(t, (const unsigned char *)text, len, &o);
    else if (t->kind == TOK_WORDS) encode_words(t, text, len, &o);
    else encode_wordpiece(t, (const unsigned char *)text, len, &o);
    at += o.n;
    if (t->sep_id >= 0) ids[at++] = (float)t->sep_id;
    if (n_tokens) *n_tokens = at;
    for (; at < t->max_length; at++) ids[at] = (float)t->pad_id;
    return FOIL_OK;
}

/* ------------------------------------------------------------------------- */
/* learning a words vocabulary                                               */

typedef struct WordCount {
    const char *s; /* into the counter's arena (an offset while counting) */
    size_t len;
    int64_t count;
} WordCount;

/* Words of the texts and how often each appears: entries in arena order,
 * an open-addressing table of entry indices (at most half full). */
typedef struct Counter {
    WordCount *w;
    int64_t n, cap;
    int64_t *slot;
    uint64_t mask;
    char *arena;
    size_t used, size;
} Counter;

static int counter_grow(Counter *c)
{
    int64_t cap = c->cap ? 2 * c->cap : 1024;
    WordCount *w = realloc(c->w, (size_t)cap * sizeof *w);
    if (!w) return 0;
    c->w = w;
    int64_t *slot = malloc((size_t)cap * 2 * sizeof *slot);
    if (!slot) return 0;
    memset(slot, 0xff, (size_t)cap * 2 * sizeof *slot);
    uint64_t mask = (uint64_t)cap * 2 - 1;
    for (int64_t i = 0; i < c->n; i++) {
        uint64_t k = foil_mix64(fnv(0xcbf29ce484222325ULL, c->arena + (size_t)c->w[i].s, c->w[i].len, 0)) & mask;
        while (slot[k] >= 0) k = (k + 1) & mask;
        slot[k] = i;
    }
    free(c->slot);
    c->slot = slot, c->mask = mask, c->cap = cap;
    return 1;
}

/* Count word s[0..n) (ASCII-lowercased when `lower`); 0 when out of memory. */
static int counter_add(Counter *c, const char *s, size_t n, int lower)
{
    if (c->n == c->cap && !counter_grow(c)) return 0;
    uint64_t k = foil_mix64(fnv(0xcbf29ce484222325ULL, s, n, lower)) & c->mask;
    for (; c->slot[k] >= 0; k = (k + 1) & c->mask) {
        WordCount *w = &c->w[c->slot[k]];
        if (w->len == n && same_bytes(c->arena + (size_t)w->s, s, n, lower)) {
            w->count++;
            return 1;
        }
    }
    if (c->size - c->used < n) {
        size_t size = c->size ? c->size : 1 << 16;
        while (size - c->used < n) size *= 2;
        char *a = realloc(c->arena, size);
        if (!a) return 0;
        c->arena = a, c->size = size;
    }
    for (size_t i = 0; i < n; i++) c->arena[c->used + i] = lower ? (char)ascii_lower((unsigned char)s[i]) : s[i];
    c->w[c->n] = (WordCount){(const char *)(uintptr_t)c->used, n, 1};
    c->used += n;
    c->slot[k] = c->n++;
    return 1;
}

/* Most frequent first, then the words' bytes in order (a prefix first). */
static int by_count(const void *a, const void *b)
{
    const WordCount *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    int c = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static foil_status fit_words(char *const *texts, int64_t n, int64_t max_vocab, int64_t min_count, foil_tokenizer *t)
{
    Counter c = {0};
    foil_status st = FOIL_OK;
    if (!counter_grow(&c)) st = foil_error(FOIL_ERR_NOMEM, "foil_tokenizer_fit: out of memory");
    for (int64_t i = 0; !st && i < n; i++) {
        const char *s = texts[i];
        if (!s) {
            st = foil_error(FOIL_ERR_ARG, "foil_tokenizer_fit: text %lld is NULL", (long long)i);
            break;
        }
        for (size_t a = 0; s[a];) {
            if (!word_byte((unsigned char)s[a])) {
                a++;
                continue;
            }
            size_t b = a + 1;
            while (s[b] && word_byte((unsigned char)s[b])) b++;
            if (!counter_add(&c, s + a, b - a, t->lowercase)) {
                st = foil_error(FOIL_ERR_NOMEM, "foil_tokenizer_fit: out of memory counting words");
                break;
            }
            a = b;
        }
    }
    int64_t kept = 0;
    for (int64_t i = 0; !st && i < c.n; i++)
        if (c.w[i].count >= min_count) {
            c.w[kept] = c.w[i];
            c.w[kept++].s = c.arena + (size_t)c.w[i].s;
        }
    if (!st) {
        qsort(c.w, (size_t)kept, sizeof *c.w, by_count);
        if (kept > max_vocab - 2) kept = max_vocab - 2;
        const char **tok = malloc(((size_t)kept + 2) * sizeof *tok);
        size_t *len = malloc(((size_t)kept + 2) * sizeof *len);
        if (!tok || !len) st = foil_error(FOIL_ERR_NOMEM, "foil_tokenizer_fit: out of memory");
        else {
            tok[0] = "<pad>", len[0] = 5, tok[1] = "<unk>", len[1] = 5;
            for (int64_t i = 0; i < kept; i++) tok[i + 2] = c.w[i].s, len[i + 2] = c.w[i].len;
            st = set_vocab(t, "foil_tokenizer_fit", 0, tok, len, kept + 2);
            t->pad_id = 0, t->unk_id = 1;
        }
        free(tok);
        free(len);
    }
    free(c.w);
    free(c.slot);
    free(c.arena);
    return st;
}

foil_status foil_tokenizer_fit(const char *kind, char *const *texts, int64_t n, int64_t max_vocab, int64_t min_count,
                               int64_t max_length, int lowercase, foil_tokenizer **out)
{
    if (!out) return foil_error(FOIL_ERR_ARG, "foil_tokenizer_fit: no place for the result");
    *out = NULL;
    if (!kind) return foil_error(FOIL_ERR_ARG, "foil_tokenizer_fit: no kind (bytes or words)");
    if (strcmp(kind, "wordpiece") == 0)
        return foil_error(FOIL_ERR_UNSUPPORTED, "a wordpiece tokenizer cannot be learned here: make it from the model's "
                          "vocab.txt (foil_tokenizer_from_vocab_txt) or write the file (foil/text.h)");
    int words = strcmp(kind, "words") == 0;
    if (!words && strcmp(kind, "bytes") != 0)
        return foil_error(FOIL_ERR_ARG, "unknown tokenizer kind \"%.40s\" (bytes, words or wordpiece)", kind);
    if (max_length < 1 || max_length > TOK_MAX_LENGTH)
        return foil_error(FOIL_ERR_ARG, "max_length %lld: it must be from 1 to %d", (long long)max_length, TOK_MAX_LENGTH);
    if (words && (max_vocab < 2 || max_vocab > TOK_MAX_VOCAB))
        return foil_error(FOIL_ERR_ARG, "max_vocab %lld: it must be from 2 (<pad> and <unk>) to %lld", (long long)max_vocab,
                          (long long)TOK_MAX_VOCAB);
    if (words && min_count < 1) return foil_error(FOIL_ERR_ARG, "min_count %lld: it must be 1 or more", (long long)min_count);
    if (words && (n < 0 || (n > 0 && !texts)))
        return foil_error(FOIL_ERR_ARG, "foil_tokenizer_fit: %lld texts but no array", (long long)n);
    foil_tokenizer *t = tok_new(words ? TOK_WORDS : TOK_BYTES, max_length, lowercase);
    if (!t) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    foil_status st = words ? fit_words(texts, n, max_vocab, min_count, t) : FOIL_OK;
    if (st) {
        foil_tokenizer_free(t);
        return st;
    }
    *out = t;
    return FOIL_OK;
}

/* ------------------------------------------------------------------------- */
/* BERT's vocab.txt                                                          */

foil_status foil_tokenizer_from_vocab_txt(const char *vocab_txt_path, int64_t max_length, foil_tokenizer **out)
{
    const char *path = vocab_txt_path;
    if (!out) return foil_error(FOIL_ERR_ARG, "foil_tokenizer_from_vocab_txt: no place for the result");
    *out = NULL;
    if (!path || !path[0]) return foil_error(FOIL_ERR_ARG, "foil_tokenizer_from_vocab_txt: no path");
    if (max_length < 3 || max_length > TOK_MAX_LENGTH)
        return foil_error(FOIL_ERR_ARG, "max_length %lld: it must be from 3 ([CLS], a token, [SEP]) to %d",
                          (long long)max_length, TOK_MAX_LENGTH);
    uint8_t *buf;
    size_t len;
    foil_status st = foilReadFile(path, TOK_FILE_LIMIT, &buf, &len);
    if (st) return st;
    const char *text = (const char *)buf;
    int64_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    lines += len && text[len - 1] != '\n';
    const char **tok = malloc((size_t)(lines ? lines : 1) * sizeof *tok);
    size_t *tlen = malloc((size_t)(lines ? lines : 1) * sizeof *tlen);
    foil_tokenizer *t = tok_new(TOK_WORDPIECE, max_length, 1);
    if (!tok || !tlen || !t) st = foil_error(FOIL_ERR_NOMEM, "%s: out of memory", path);
    else if (lines > TOK_MAX_VOCAB)
        st = foil_error(FOIL_ERR_FORMAT, "%s: %lld tokens; at most %lld", path, (long long)lines, (long long)TOK_MAX_VOCAB);
    int64_t k = 0;
    for (size_t a = 0; !st && a < len; k++) {
        size_t b = a;
        while (b < len && text[b] != '\n' && text[b] != '\0') b++;
        if (b < len && text[b] == '\0') st = foil_error(FOIL_ERR_FORMAT, "%s:%lld: a NUL byte", path, (long long)k + 1);
        tok[k] = text + a;
        tlen[k] = b - a - (b > a && text[b - 1] == '\r');
        a = b + 1;
    }
    if (!st && k == 0) st = foil_error(FOIL_ERR_FORMAT, "%s: empty (a vocab.txt has one token per line)", path);
    if (!st) st = set_vocab(t, path, 1, tok, tlen, k);
    static const char *const special[4] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]"};
    for (int i = 0; !st && i < 4; i++) {
        int64_t v = vocab_find(t, "", 0, special[i], 5, 0);
        if (v < 0)
            st = foil_error(FOIL_ERR_FORMAT, "%s: no %s line (BERT's vocab.txt has [PAD], [UNK], [CLS] and [SEP])", path,
                            special[i]);
        else *(i == 0 ? &t->pad_id : i == 1 ? &t->unk_id : i == 2 ? &t->cls_id : &t->sep_id) = v;
    }
    free(tok);
    free(tlen);
    free(buf);
    if (st) {
        foil_tokenizer_free(t);
        return st;
    }
    *out = t;
    return FOIL_OK;
}
