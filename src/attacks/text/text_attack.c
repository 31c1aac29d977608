/*
 * attacks/text/text_attack.c - DeepWordBug, homoglyph and TextBugger
 * (character level): the greedy search by word importance of
 * foil/text_attack.h, over a message split into words and the bytes
 * between them.
 *
 * A message is kept as its words (code points, so that an edit changes a
 * character, not a byte of one) and the separators around them (the bytes
 * exactly as given: invalid UTF-8 stays as it was). A text to query is the
 * separators and the current words, written out; queries go to the model
 * in chunks of the same number of texts (a short one padded with copies of
 * its last text, not counted), so the engine plans once: WIR_CHUNK for the
 * search by word importance, which tries a word's few changes at a time,
 * GREEDY_CHUNK for the greedy search's thousands a step.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attacks/text/text_attack_internal.h"
#include "foil/rng.h"
#include "foil/text_attack.h"
#include "text/text_internal.h"

/* A word: code points, and how many of them. */
typedef struct word {
    uint32_t *c;
    int n;
} word;

typedef struct message {
    char **sep;       /* n_words + 1 separators: sep[i] before word i, sep[n_words] after the last */
    word *orig;       /* the words as given */
    word *cur;        /* the words now (cur[i].c == orig[i].c while unchanged) */
    int n_words;
    int *changed;     /* per word: changed already (each word changes once) */
    int64_t edits;    /* sum over changed words of their distance to the original */
} message;

typedef struct search {
    foil_model *m;
    const foil_tokenizer *t;
    const foil_text_attack_options *o;
    message msg;
    int64_t label, queries;
    foil_rng rng;
    /* query batch */
    int chunk;        /* texts a query batch */
    foil_tensor x, logits;
    char *buf;        /* one rendered text */
    size_t cap;
} search;

/* ---------------------------------------------------------------------------
 * splitting and writing out
 */

/* Word characters, as TextAttack's words_from_text has them (Python's
 * isalnum), approximately: ASCII letters and digits, the letters of
 * Latin-1, and the code points from U+0100 on that are not spaces,
 * punctuation or controls, outside the blocks of symbols (currency,
 * arrows, mathematical, box drawing, dingbats, U+2000-U+2BFF) and emoji
 * (U+1F000 on); and ' - _ * @ inside a word. */
static int starts_word(uint32_t c)
{
    if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (c < 0x100) return c >= 0xC0 && c != 0xD7 && c != 0xF7;
    if ((c >= 0x2000 && c <= 0x2BFF) || (c >= 0x1F000 && c < FOIL_TEXT_BAD_BYTE)) return 0;
    return c != FOIL_TEXT_BAD_BYTE && foilTextClass(c) == FOIL_TEXT_OTHER;
}

static int continues_word(uint32_t c) { return starts_word(c) || c == '\'' || c == '-' || c == '_' || c == '*' || c == '@'; }

static void message_free(message *g)
{
    for (int i = 0; g->sep && i <= g->n_words; i++) free(g->sep[i]);
    for (int i = 0; g->orig && i < g->n_words; i++) {
        if (g->cur && g->cur[i].c != g->orig[i].c) free(g->cur[i].c);
        free(g->orig[i].c);
    }
    free(g->sep);
    free(g->orig);
    free(g->cur);
    free(g->changed);
    memset(g, 0, sizeof *g);
}

static char *copy_bytes(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

static foil_status split_message(const char *text, message *g)
{
    memset(g, 0, sizeof *g);
    const size_t len = strlen(text);
    const unsigned char *s = (const unsigned char *)text;
    int cap = 16;
    g->sep = malloc((size_t)(cap + 1) * sizeof *g->sep);
    g->orig = malloc((size_t)cap * sizeof *g->orig);
    if (!g->sep || !g->orig) goto nomem;
    size_t i = 0, sep_start = 0;
    while (i < len) {
        size_t used;
        uint32_t c = foilTextDecode(s + i, len - i, &used);
        if (!starts_word(c)) {
            i += used;
            continue;
        }
        /* a word from i: its code points, apostrophes and hyphens inside */
        size_t j = i;
        int n = 0;
        while (j < len) {
            size_t u;
            uint32_t d = foilTextDecode(s + j, len - j, &u);
            if (!(n == 0 ? starts_word(d) : continues_word(d))) break;
            j += u;
            n++;
        }
        if (g->n_words == cap) {
            cap *= 2;
            char **ns = realloc(g->sep, (size_t)(cap + 1) * sizeof *ns);
            if (ns) g->sep = ns;
            word *nw = realloc(g->orig, (size_t)cap * sizeof *nw);
            if (nw) g->orig = nw;
            if (!ns || !nw) goto nomem;
        }
        word *w = &g->orig[g->n_words];
        w->n = n;
        w->c = malloc((size_t)n * sizeof *w->c);
        g->sep[g->n_words] = copy_bytes(text + sep_start, i - sep_start);
        g->n_words++;
        if (!w->c || !g->sep[g->n_words - 1]) goto nomem;
        for (int k = 0; k < n; k++) {
            size_t u;
            w->c[k] = foilTextDecode(s + i, len - i, &u);
            i += u;
        }
        sep_start = i;
    }
    if (!(g->sep[g->n_words] = copy_bytes(text + sep_start, len - sep_start))) goto nomem;
    g->cur = malloc((size_t)(g->n_words ? g->n_words : 1) * sizeof *g->cur);
    g->changed = calloc((size_t)(g->n_words ? g->n_words : 1), sizeof *g->changed);
    if (!g->cur || !g->changed) goto nomem;
    memcpy(g->cur, g->orig, (size_t)g->n_words * sizeof *g->cur);
    return FOIL_OK;
nomem:
    if (g->sep) g->sep[g->n_words] = NULL; /* words and separators so far are freed, the rest never set */
    if (!g->orig) g->n_words = 0;
    free(g->cur);
    g->cur = NULL;
    message_free(g);
    return foil_error(FOIL_ERR_NOMEM, "out of memory splitting a message into words");
}

/* Write the message out with word `at` replaced by w (at < 0: none) into
 * s->buf; returns it, NULL when out of memory. */
static const char *render(search *s, int at, const word *w)
{
    const message *g = &s->msg;
    size_t need = 1;
    for (int i = 0; i <= g->n_words; i++) need += strlen(g->sep[i]);
    for (int i = 0; i < g->n_words; i++) need += 4 * (size_t)(i == at ? w->n : g->cur[i].n);
    if (need > s->cap) {
        char *nb = realloc(s->buf, need);
        if (!nb) return NULL;
        s->buf = nb;
        s->cap = need;
    }
    char *p = s->buf;
    for (int i = 0; i <= g->n_words; i++) {
        size_t l = strlen(g->sep[i]);
        memcpy(p, g->sep[i], l);
        p += l;
        if (i == g->n_words) break;
        const word *x = i == at ? w : &g->cur[i];
        for (int k = 0; k < x->n; k++) p += foilTextEncode(x->c[k], p);
    }
    *p = 0;
    return s->buf;
}

/* ---------------------------------------------------------------------------
 * queries
 */

/* DeepWordBug's recipe tries four changes of a word at a time; the greedy
 * search scores thousands a step, in batches big enough for sgemm. */
enum { WIR_CHUNK = 4, GREEDY_CHUNK = 32 };

int64_t foilTextRowScores(const float *row, int64_t classes, int64_t label, double *ce)
{
    int64_t best = 0;
    double sum = 0;
    for (int64_t j = 1; j < classes; j++)
        if (row[j] > row[best]) best = j;
    for (int64_t j = 0; j < classes; j++) sum += exp((double)row[j] - row[best]);
    *ce = log(sum) - ((double)row[label] - row[best]);
    return best;
}

/* Score variants [first, first + n) of at/w into p_label and cls: one chunk
 * of the model's, padded to s->chunk rows with copies of the last. */
static foil_status score_chunk(search *s, int first, int n, const int *at, const word *w, double *p_label,
                               int64_t *cls)
{
    const int64_t L = foil_tokenizer_max_length(s->t);
    foil_status st = FOIL_OK;
    if (s->x.ndim != 2 && (st = foil_tensor_alloc(&s->x, FOIL_F32, 2, (int64_t[]){s->chunk, L}))) return st;
    for (int64_t k = 0; k < s->chunk; k++) {
        float *ids = foil_f32(&s->x) + k * L;
        if (k >= n) {
            memcpy(ids, ids - L, (size_t)L * sizeof *ids);
            continue;
        }
        const char *text = render(s, at[first + k], &w[first + k]);
        if (!text) return foil_error(FOIL_ERR_NOMEM, "out of memory writing a text");
        int64_t used;
        if ((st = foil_tokenizer_encode(s->t, text, strlen(text), ids, &used))) return st;
    }
    if ((st = foil_model_predict(s->m, &s->x, &s->logits))) return st;
    const int64_t c = s->logits.shape[1];
    float *z = foil_f32(&s->logits);
    foil_scores_as_logits(foil_model_capabilities(s->m), z, n * c);
    for (int k = 0; k < n; k++) {
        double ce;
        cls[first + k] = foilTextRowScores(z + (int64_t)k * c, c, s->label, &ce);
        p_label[first + k] = exp(-ce);
    }
    return FOIL_OK;
}

/* Score n variants of the message (variant k: word at[k] replaced by w[k];
 * at[k] < 0: the current text): the label's probability and the predicted
 * class of each. Every query goes to the model in chunks of the same size,
 * so the engine plans once. Stops early at the query budget: *done says how
 * many were scored. */
static foil_status score(search *s, int n, const int *at, const word *w, double *p_label, int64_t *cls, int *done)
{
    *done = 0;
    if (s->o->max_queries > 0 && s->queries + n > s->o->max_queries) n = (int)(s->o->max_queries - s->queries);
    for (int first = 0; first < n; first += s->chunk) {
        const int count = n - first < s->chunk ? n - first : s->chunk;
        foil_status st = score_chunk(s, first, count, at, w, p_label, cls);
        if (st) return st;
        s->queries += count;
        *done += count;
    }
    return FOIL_OK;
}

/* ---------------------------------------------------------------------------
 * candidate changes of one word
 */

static uint32_t random_letter(foil_rng *r) { return 'a' + (uint32_t)foil_rng_below(r, 26); }

static int same_word(const word *a, const word *b)
{
    return a->n == b->n && memcmp(a->c, b->c, (size_t)a->n * sizeof *a->c) == 0;
}

/* Append to out[*n] a copy of w with the code points [at, at + del) replaced
 * by ins[0..n_ins): unless it equals w. */
static foil_status add_edit(const word *w, int at, int del, const uint32_t *ins, int n_ins, word *out, int *n)
{
    word v;
    v.n = w->n - del + n_ins;
    v.c = malloc((size_t)(v.n > 0 ? v.n : 1) * sizeof *v.c);
    if (!v.c) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    memcpy(v.c, w->c, (size_t)at * sizeof *v.c);
    if (n_ins) memcpy(v.c + at, ins, (size_t)n_ins * sizeof *v.c); /* ins is NULL for a deletion */
    memcpy(v.c + at + n_ins, w->c + at + del, (size_t)(w->n - at - del) * sizeof *v.c);
    if (same_word(&v, w)) {
        free(v.c);
        return FOIL_OK;
    }
    out[(*n)++] = v;
    return FOIL_OK;
}

/* Random position in [lo, hi] (hi >= lo). */
static int pick(foil_rng *r, int lo, int hi) { return lo + (int)foil_rng_below(r, (uint64_t)(hi - lo + 1)); }

/* DeepWordBug (TextAttack's recipe): one random swap of neighbours, one
 * random letter substituted, one character deleted, one letter inserted. */
static foil_status deepwordbug_changes(const word *w, foil_rng *r, word *out, int *n)
{
    foil_status st = FOIL_OK;
    if (w->n >= 2) {
        int i = pick(r, 0, w->n - 2);
        uint32_t sw[2] = {w->c[i + 1], w->c[i]};
        st = add_edit(w, i, 2, sw, 2, out, n);
    }
    if (!st && w->n >= 1) {
        uint32_t l = random_letter(r);
        st = add_edit(w, pick(r, 0, w->n - 1), 1, &l, 1, out, n);
    }
    if (!st && w->n >= 2) st = add_edit(w, pick(r, 0, w->n - 1), 1, NULL, 0, out, n);
    if (!st && w->n >= 1) {
        uint32_t l = random_letter(r);
        st = add_edit(w, pick(r, 0, w->n - 1), 0, &l, 1, out, n);
    }
    return st;
}

/* Whether deleting character i of w gives the word deleting i - 1 gave
 * (the two are the same letter), or inserting l before i the word
 * inserting it before i - 1 gave: the greedy search queries each word once. */
static int same_deletion(const word *w, int i) { return i > 0 && w->c[i] == w->c[i - 1]; }
static int same_insertion(const word *w, int i, uint32_t l) { return i > 0 && w->c[i - 1] == l; }

/* DeepWordBug's changes at every position, for the greedy search: each swap
 * of neighbours, each letter a-z substituted for each character, each
 * deletion, each letter inserted at each position; each distinct word once. */
static foil_status deepwordbug_every_change(const word *w, word *out, int *n)
{
    foil_status st = FOIL_OK;
    for (int i = 0; i + 1 < w->n && !st; i++) {
        uint32_t sw[2] = {w->c[i + 1], w->c[i]};
        st = add_edit(w, i, 2, sw, 2, out, n);
    }
    for (int i = 0; i < w->n && !st; i++)
        for (uint32_t l = 'a'; l <= 'z' && !st; l++) st = add_edit(w, i, 1, &l, 1, out, n);
    for (int i = 0; w->n >= 2 && i < w->n && !st; i++)
        if (!same_deletion(w, i)) st = add_edit(w, i, 1, NULL, 0, out, n);
    for (int i = 0; i <= w->n && !st; i++)
        for (uint32_t l = 'a'; l <= 'z' && !st; l++)
            if (!same_insertion(w, i, l)) st = add_edit(w, i, 0, &l, 1, out, n);
    return st;
}

/* One candidate per character that has a replacement in table. */
static foil_status each_character(const word *w, uint32_t (*table)(uint32_t), word *out, int *n)
{
    foil_status st = FOIL_OK;
    for (int i = 0; i < w->n && !st; i++) {
        uint32_t h = table(w->c[i]);
        if (h) st = add_edit(w, i, 1, &h, 1, out, n);
    }
    return st;
}

/* TextBugger's character bugs: a space inserted, an inner character
 * deleted, two inner neighbours swapped (random positions, first and last
 * characters kept), and each look-alike substitution. */
static foil_status textbugger_changes(const word *w, foil_rng *r, word *out, int *n)
{
    foil_status st = FOIL_OK;
    const uint32_t space = ' ';
    if (w->n >= 2) st = add_edit(w, pick(r, 1, w->n - 1), 0, &space, 1, out, n);
    if (!st && w->n >= 3) st = add_edit(w, pick(r, 1, w->n - 2), 1, NULL, 0, out, n);
    if (!st && w->n >= 4) {
        int i = pick(r, 1, w->n - 3);
        uint32_t sw[2] = {w->c[i + 1], w->c[i]};
        st = add_edit(w, i, 2, sw, 2, out, n);
    }
    if (!st) st = each_character(w, foilLookalikeOf, out, n);
    return st;
}

/* TextBugger's character bugs at every position, for the greedy search. */
static foil_status textbugger_every_change(const word *w, word *out, int *n)
{
    foil_status st = FOIL_OK;
    const uint32_t space = ' ';
    for (int i = 1; i < w->n && !st; i++) st = add_edit(w, i, 0, &space, 1, out, n);
    for (int i = 1; i + 1 < w->n && !st; i++)
        if (i == 1 || !same_deletion(w, i)) st = add_edit(w, i, 1, NULL, 0, out, n);
    for (int i = 1; i + 2 < w->n && !st; i++) {
        uint32_t sw[2] = {w->c[i + 1], w->c[i]};
        st = add_edit(w, i, 2, sw, 2, out, n);
    }
    if (!st) st = each_character(w, foilLookalikeOf, out, n);
    return st;
}

static int greedy(const search *s) { return s->o->search == FOIL_TEXT_SEARCH_GREEDY; }

/* The most candidates a word of n characters can give (deepwordbug's every
 * change: n - 1 swaps, 26 n substitutions, n deletions, 26 (n + 1)
 * insertions). */
static int max_changes(const search *s, int n) { return greedy(s) ? 54 * n + 26 : 4 + n; }

static foil_status word_changes(search *s, const word *w, word *out, int *n)
{
    *n = 0;
    switch (s->o->kind) {
    case FOIL_TEXT_DEEPWORDBUG:
        return greedy(s) ? deepwordbug_every_change(w, out, n) : deepwordbug_changes(w, &s->rng, out, n);
    case FOIL_TEXT_HOMOGLYPH: return each_character(w, foilHomoglyphOf, out, n);
    case FOIL_TEXT_TEXTBUGGER:
        return greedy(s) ? textbugger_every_change(w, out, n) : textbugger_changes(w, &s->rng, out, n);
    case FOIL_TEXT_HOTFLIP: break; /* foilTextHotflip */
    }
    return foil_error(FOIL_ERR_ARG, "unknown text attack %d", (int)s->o->kind);
}

/* ---------------------------------------------------------------------------
 * the search
 */

static int64_t levenshtein(const uint32_t *a, int64_t n, const uint32_t *b, int64_t m, int64_t *row)
{
    for (int64_t j = 0; j <= m; j++) row[j] = j;
    for (int64_t i = 1; i <= n; i++) {
        int64_t diag = row[0];
        row[0] = i;
        for (int64_t j = 1; j <= m; j++) {
            int64_t up = row[j];
            int64_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[m];
}

static int64_t word_distance(const word *a, const word *b)
{
    int64_t small[64];
    int64_t *row = b->n < 64 ? small : malloc((size_t)(b->n + 1) * sizeof *row);
    if (!row) return INT64_MAX / 2;
    int64_t d = levenshtein(a->c, a->n, b->c, b->n, row);
    if (row != small) free(row);
    return d;
}

/* Whether a change of word i to v keeps within the budget. */
static int within_budget(const search *s, int i, const word *v, int words_changed)
{
    const foil_text_attack_options *o = s->o;
    if (o->max_word_fraction > 0 && (double)(words_changed + 1) > o->max_word_fraction * s->msg.n_words + 1e-9)
        return 0;
    return o->max_edits <= 0 || s->msg.edits + word_distance(&s->msg.orig[i], v) <= o->max_edits;
}

/* The longest word the attacks change: a run of letters longer than this is
 * no word a reader reads, and its changes (each a copy of it, up to 54 a
 * character) would grow with the square of its length. */
enum { LONGEST_WORD = 64 };

static int may_change(const search *s, int i)
{
    const word *w = &s->msg.orig[i];
    return !s->msg.changed[i] && w->n <= LONGEST_WORD && (s->o->modify_stopwords || !foilIsStopword(w->c, w->n));
}

/* The order to try the words in: most important first (the label's
 * probability lowest with the word replaced by "[UNK]", or deleted). */
static foil_status rank_words(search *s, int *order, int *n_order, double p0)
{
    const message *g = &s->msg;
    static const uint32_t unk[5] = {'[', 'U', 'N', 'K', ']'};
    const word replacement = {(uint32_t *)unk, s->o->wir == FOIL_TEXT_WIR_DELETE ? 0 : 5};
    int n = 0;
    for (int i = 0; i < g->n_words; i++)
        if (may_change(s, i)) order[n++] = i;
    *n_order = 0;
    if (n == 0) return FOIL_OK;
    word *w = malloc((size_t)n * sizeof *w);
    double *p = malloc((size_t)n * sizeof *p);
    int64_t *cls = malloc((size_t)n * sizeof *cls);
    foil_status st = w && p && cls ? FOIL_OK : foil_error(FOIL_ERR_NOMEM, "out of memory");
    for (int k = 0; !st && k < n; k++) w[k] = replacement;
    int done = 0;
    if (!st) st = score(s, n, order, w, p, cls, &done);
    if (!st) {
        /* insertion sort by drop, stable: the earlier word first on ties */
        for (int a = 1; a < done; a++) {
            int oi = order[a];
            double pa = p[a];
            int b = a - 1;
            while (b >= 0 && p0 - p[b] < p0 - pa) {
                order[b + 1] = order[b];
                p[b + 1] = p[b];
                b--;
            }
            order[b + 1] = oi;
            p[b + 1] = pa;
        }
        *n_order = done;
    }
    free(w);
    free(p);
    free(cls);
    return st;
}

static void free_words(word *w, int n)
{
    for (int k = 0; k < n; k++) free(w[k].c);
}

/* Candidates scored at a time by change_best (plus one word's worth): the
 * greedy search's memory stays this size however long the message. */
enum { CANDIDATE_BLOCK = 1024 };

/* The candidates of the words being tried, and the best change so far. */
typedef struct candidates {
    word *w;
    int *at;          /* the word each replaces */
    double *p;
    int64_t *cls;
    int n, cap;
    word best;        /* owned; best.c NULL: none yet */
    int best_at;
    double best_p;
    int64_t best_cls;
} candidates;

/* Score the candidates held, keep the best of them if it beats the best so
 * far, free the rest. */
static foil_status flush_candidates(search *s, candidates *c)
{
    int done = 0;
    foil_status st = c->n ? score(s, c->n, c->at, c->w, c->p, c->cls, &done) : FOIL_OK;
    for (int k = 0; !st && k < done; k++)
        if (c->p[k] < c->best_p) {
            free(c->best.c);
            c->best = c->w[k];
            c->w[k].c = NULL;
            c->best_at = c->at[k];
            c->best_p = c->p[k];
            c->best_cls = c->cls[k];
        }
    free_words(c->w, c->n);
    c->n = 0;
    return st;
}

/* Add word i's changes that keep within the budget. */
static foil_status add_word_changes(search *s, candidates *c, int i, int words_changed)
{
    int made = 0;
    foil_status st = word_changes(s, &s->msg.orig[i], c->w + c->n, &made);
    const int end = c->n + made;
    for (int k = c->n; k < end; k++) {
        if (st || !within_budget(s, i, &c->w[k], words_changed)) {
            free(c->w[k].c);
            continue;
        }
        c->w[c->n] = c->w[k];
        c->at[c->n++] = i;
    }
    return st;
}

/* Try the changes of the words idx[0..n_idx) on the current text, in
 * blocks, and keep the best if it lowers the label's probability (*kept:
 * whether one was). *p and *cls: the current text's. */
static foil_status change_best(search *s, const int *idx, int n_idx, double *p, int64_t *cls, int *words_changed,
                               int *kept)
{
    message *g = &s->msg;
    int widest = 0;
    for (int k = 0; k < n_idx; k++)
        if (max_changes(s, g->orig[idx[k]].n) > widest) widest = max_changes(s, g->orig[idx[k]].n);
    *kept = 0;
    if (widest == 0) return FOIL_OK;
    candidates c = {.cap = CANDIDATE_BLOCK + widest, .best_p = *p, .best_at = -1};
    c.w = calloc((size_t)c.cap, sizeof *c.w);
    c.at = malloc((size_t)c.cap * sizeof *c.at);
    c.p = malloc((size_t)c.cap * sizeof *c.p);
    c.cls = malloc((size_t)c.cap * sizeof *c.cls);
    foil_status st = c.w && c.at && c.p && c.cls ? FOIL_OK : foil_error(FOIL_ERR_NOMEM, "out of memory");
    for (int k = 0; !st && k < n_idx; k++) {
        if (c.n + max_changes(s, g->orig[idx[k]].n) > c.cap) st = flush_candidates(s, &c);
        if (!st) st = add_word_changes(s, &c, idx[k], *words_changed);
    }
    if (!st) st = flush_candidates(s, &c);
    if (!st && c.best_at >= 0) {
        const int i = c.best_at;
        g->edits += word_distance(&g->orig[i], &c.best);
        g->cur[i] = c.best;
        g->changed[i] = 1;
        (*words_changed)++;
        *p = c.best_p;
        *cls = c.best_cls;
        c.best.c = NULL;
        *kept = 1;
    }
    if (c.w) free_words(c.w, c.n);
    free(c.best.c);
    free(c.w);
    free(c.at);
    free(c.p);
    free(c.cls);
    return st;
}

/* The search by word importance: the words in order, each once. */
static foil_status search_by_importance(search *s, double *p, int64_t *cls, int *words_changed)
{
    int *order = malloc((size_t)(s->msg.n_words ? s->msg.n_words : 1) * sizeof *order);
    if (!order) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    int n_order = 0, kept;
    foil_status st = rank_words(s, order, &n_order, *p);
    for (int k = 0; !st && *cls == s->label && k < n_order; k++) {
        if (s->o->max_queries > 0 && s->queries >= s->o->max_queries) break;
        st = change_best(s, &order[k], 1, p, cls, words_changed, &kept);
    }
    free(order);
    return st;
}

/* The greedy search: every change of every word that may still change,
 * the best kept, until the label goes, nothing helps or the budget ends. */
static foil_status search_greedy(search *s, double *p, int64_t *cls, int *words_changed)
{
    int *open = malloc((size_t)(s->msg.n_words ? s->msg.n_words : 1) * sizeof *open);
    if (!open) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    foil_status st = FOIL_OK;
    int kept = 1;
    while (!st && kept && *cls == s->label) {
        if (s->o->max_queries > 0 && s->queries >= s->o->max_queries) break;
        int n = 0;
        for (int i = 0; i < s->msg.n_words; i++)
            if (may_change(s, i)) open[n++] = i;
        st = change_best(s, open, n, p, cls, words_changed, &kept);
    }
    free(open);
    return st;
}

static foil_status check_options(const foil_text_attack_options *o, int64_t label, int64_t classes)
{
    if (o->kind < FOIL_TEXT_DEEPWORDBUG || o->kind > FOIL_TEXT_HOTFLIP)
        return foil_error(FOIL_ERR_ARG, "unknown text attack %d", (int)o->kind);
    if (o->search != FOIL_TEXT_SEARCH_WIR && o->search != FOIL_TEXT_SEARCH_GREEDY)
        return foil_error(FOIL_ERR_ARG, "unknown text search %d (wir or greedy)", (int)o->search);
    if (o->kind == FOIL_TEXT_HOTFLIP && o->search != FOIL_TEXT_SEARCH_WIR)
        return foil_error(FOIL_ERR_ARG, "hotflip has its own beam search; the greedy search is for deepwordbug, "
                          "homoglyph and textbugger");
    if (o->max_edits < 0 || o->max_queries < 0 || !(o->max_word_fraction >= 0 && o->max_word_fraction <= 1))
        return foil_error(FOIL_ERR_ARG, "text attack: the edit and query budgets must be >= 0 and the word fraction "
                          "in [0, 1]");
    if (label < 0 || label >= classes)
        return foil_error(FOIL_ERR_ARG, "text attack: label %lld is not a class of the model (0 to %lld)",
                          (long long)label, (long long)classes - 1);
    return FOIL_OK;
}

foil_status foil_text_attack(foil_model *m, const foil_tokenizer *t, const char *text, int64_t label,
                             const foil_text_attack_options *o, foil_text_attack_result *r)
{
    memset(r, 0, sizeof *r);
    if (!m || !t || !text || !o) return foil_error(FOIL_ERR_ARG, "foil_text_attack: missing argument");
    int64_t classes = 0;
    foil_status st = foil_model_num_classes(m, &classes);
    if (!st) st = check_options(o, label, classes);
    if (st) return st;
    if (o->kind == FOIL_TEXT_HOTFLIP) return foilTextHotflip(m, t, text, label, o, r);
    search s = {.m = m, .t = t, .o = o, .label = label, .rng = foil_rng_make(o->seed, 0x7e47),
                .chunk = o->search == FOIL_TEXT_SEARCH_GREEDY ? GREEDY_CHUNK : WIR_CHUNK};
    if ((st = split_message(text, &s.msg))) return st;
    r->label = label;
    r->words = s.msg.n_words;
    double p = 0;
    int64_t cls = -1;
    int done = 0, words_changed = 0;
    const int none = -1;
    const word nothing = {NULL, 0};
    st = score(&s, 1, &none, &nothing, &p, &cls, &done);
    if (!st && done == 1) {
        r->original_class = cls;
        r->original_prob = p;
    }
    if (!st && done == 1 && cls == label)
        st = o->search == FOIL_TEXT_SEARCH_GREEDY ? search_greedy(&s, &p, &cls, &words_changed)
                                                  : search_by_importance(&s, &p, &cls, &words_changed);
    if (!st) {
        const char *final = render(&s, -1, NULL);
        r->adversarial = final ? copy_bytes(final, strlen(final)) : NULL;
        if (!r->adversarial) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    if (!st) {
        r->final_class = done == 1 ? cls : r->original_class;
        r->final_prob = p;
        r->success = r->original_class == label && r->final_class != label;
        r->queries = s.queries;
        r->words_changed = words_changed;
        r->edits = foil_text_levenshtein(text, r->adversarial);
    }
    message_free(&s.msg);
    foil_tensor_free(&s.x);
    foil_tensor_free(&s.logits);
    free(s.buf);
    if (st) foil_text_attack_result_free(r);
    return st;
}

void foil_text_attack_result_free(foil_text_attack_result *r)
{
    if (!r) return;
    free(r->adversarial);
    r->adversarial = NULL;
}

/* Code points of s (invalid bytes one each, as FOIL_TEXT_BAD_BYTE plus the
 * byte, so that two different invalid bytes differ). */
static uint32_t *code_points(const char *s, int64_t *n)
{
    const size_t len = strlen(s);
    uint32_t *c = malloc((len ? len : 1) * sizeof *c);
    *n = 0;
    for (size_t i = 0; c && i < len;) {
        size_t u;
        uint32_t d = foilTextDecode((const unsigned char *)s + i, len - i, &u);
        c[(*n)++] = d == FOIL_TEXT_BAD_BYTE ? d + (unsigned char)s[i] : d;
        i += u;
    }
    return c;
}

int64_t foil_text_levenshtein(const char *a, const char *b)
{
    int64_t n, m;
    uint32_t *ca = code_points(a, &n), *cb = code_points(b, &m);
    int64_t *row = malloc((size_t)(m + 1) * sizeof *row);
    int64_t d = ca && cb && row ? levenshtein(ca, n, cb, m, row) : -1;
    free(ca);
    free(cb);
    free(row);
    return d;
}

void foil_text_attack_defaults(foil_text_attack_options *o)
{
    memset(o, 0, sizeof *o);
    o->kind = FOIL_TEXT_DEEPWORDBUG;
    o->wir = FOIL_TEXT_WIR_UNK;
    o->max_edits = 30;
}

static const char *const kind_names[] = {"deepwordbug", "homoglyph", "textbugger", "hotflip"};

foil_status foil_text_attack_parse(const char *name, foil_text_attack_kind *kind)
{
    for (int k = 0; name && k < 4; k++)
        if (strcmp(name, kind_names[k]) == 0) {
            *kind = (foil_text_attack_kind)k;
            return FOIL_OK;
        }
    return foil_error(FOIL_ERR_ARG, "unknown text attack '%s' (text attacks: deepwordbug, homoglyph, textbugger, hotflip)",
                      name ? name : "");
}

const char *foil_text_attack_name(foil_text_attack_kind kind)
{
    return kind >= FOIL_TEXT_DEEPWORDBUG && kind <= FOIL_TEXT_HOTFLIP ? kind_names[kind] : "unknown";
}
