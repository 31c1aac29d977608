/*
 * attacks/text/hotflip.c - HotFlip (Ebrahimi et al. 2018), white-box, on a
 * byte-level text classifier: character flips chosen by the gradient of the
 * loss with respect to the one-hot characters, with beam search.
 *
 * A character is a one-hot vector x_i over the vocabulary, embedded as
 * E^T x_i (E: the model's embedding table, vocab x dim). Flipping position
 * i from character a to b changes the loss by, to first order,
 *
 *     dJ(i, a -> b) = (E[b] - E[a]) . g_i,    g_i = dJ / d(embedded i),
 *
 * so one backward pass scores every flip of every position. The beam
 * search keeps the `beam` texts of highest loss: each step scores every
 * flip of each (one gradient per text), takes each text's `beam` best by
 * that estimate, queries the loss of all of them, and keeps the best
 * `beam`; it stops at the first text the model misclassifies, or after
 * max_edits flips. Each position flips at most once, and only ASCII bytes
 * flip (to printable ASCII), so the text stays valid UTF-8. Flips only: the
 * paper's insertions and deletions are not implemented.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attacks/text/text_attack_internal.h"
#include "foil/loss.h"
#include "foil/text_attack.h"

typedef struct beam_text {
    char *text;             /* NUL-terminated, len bytes */
    unsigned char *flipped; /* per byte: flipped already */
    int flips;
    double loss;
    int64_t cls;
} beam_text;

typedef struct flip {
    int from;               /* beam entry */
    int at;                 /* byte position */
    unsigned char to;
    double estimate;        /* first-order gain in loss */
    double loss;            /* queried */
    int64_t cls;
} flip;

typedef struct hotflip {
    foil_model *m;
    const foil_tokenizer *t;
    int64_t label, L, queries, gradients;
    int beam, lowercase;
    foil_tensor x, logits, grad;
    const foil_tensor *table;
} hotflip;

static foil_status xent_fn(void *ctx, int64_t first, int64_t count, int64_t classes, const float *logits, float *value,
                           float *dvalue)
{
    (void)first;
    const int64_t label = *(const int64_t *)ctx;
    int64_t *labels = malloc((size_t)count * sizeof *labels);
    if (!labels) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < count; i++) labels[i] = label;
    foil_status st = foil_softmax_xent(logits, labels, count, classes, value, dvalue);
    free(labels);
    return st;
}

static int64_t byte_id(const hotflip *h, unsigned char c)
{
    if (h->lowercase && c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
    return 1 + (int64_t)c;
}

/* Encode texts[0..n) into h->x (beam rows; the rest copies of the last). */
static foil_status encode_rows(hotflip *h, char *const *texts, int n)
{
    for (int k = 0; k < h->beam; k++) {
        float *ids = foil_f32(&h->x) + (int64_t)k * h->L;
        if (k >= n) {
            memcpy(ids, ids - h->L, (size_t)h->L * sizeof *ids);
            continue;
        }
        foil_status st = foil_tokenizer_encode(h->t, texts[k], strlen(texts[k]), ids, NULL);
        if (st) return st;
    }
    return FOIL_OK;
}

/* Cross-entropy of the label and the class, for rows [0, n) of logits. */
static void read_rows(const hotflip *h, int n, double *loss, int64_t *cls)
{
    const int64_t c = h->logits.shape[1];
    float *z = foil_f32(&h->logits);
    foil_scores_as_logits(foil_model_capabilities(h->m), z, (int64_t)n * c);
    for (int k = 0; k < n; k++) cls[k] = foilTextRowScores(z + (int64_t)k * c, c, h->label, &loss[k]);
}

/* The `beam` best flips of entry e by the first-order estimate, added to
 * out[*n]. g: the entry's (L, dim) gradient. */
static void best_flips(const hotflip *h, const beam_text *e, int from, const float *g, flip *out, int *n)
{
    const int64_t dim = h->table->shape[1];
    const float *E = foil_f32(h->table);
    const size_t len = strlen(e->text);
    flip *mine = out + *n;
    int kept = 0;
    for (size_t i = 0; i < len && (int64_t)i < h->L; i++) {
        const unsigned char a = (unsigned char)e->text[i];
        if (a >= 0x80 || e->flipped[i]) continue;
        const float *gi = g + (int64_t)i * dim, *ea = E + byte_id(h, a) * dim;
        for (unsigned c = 32; c < 127; c++) {
            const int64_t b = byte_id(h, (unsigned char)c);
            if (b == byte_id(h, a) || (h->lowercase && c >= 'A' && c <= 'Z')) continue;
            const float *eb = E + b * dim;
            double est = 0;
            for (int64_t d = 0; d < dim; d++) est += ((double)eb[d] - ea[d]) * gi[d];
            if (kept == h->beam && est <= mine[kept - 1].estimate) continue;
            int at = kept < h->beam ? kept++ : kept - 1;
            while (at > 0 && mine[at - 1].estimate < est) {
                mine[at] = mine[at - 1];
                at--;
            }
            mine[at] = (flip){.from = from, .at = (int)i, .to = (unsigned char)c, .estimate = est};
        }
    }
    *n += kept;
}

static void free_beam(beam_text *b, int n)
{
    for (int k = 0; k < n; k++) {
        free(b[k].text);
        free(b[k].flipped);
    }
}

static foil_status beam_copy(const beam_text *src, const flip *f, beam_text *dst)
{
    const size_t len = strlen(src->text);
    dst->text = malloc(len + 1);
    dst->flipped = malloc(len ? len : 1);
    if (!dst->text || !dst->flipped) {
        free(dst->text);
        free(dst->flipped);
        dst->text = NULL;
        dst->flipped = NULL;
        return foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    memcpy(dst->text, src->text, len + 1);
    memcpy(dst->flipped, src->flipped, len);
    dst->text[f->at] = (char)f->to;
    dst->flipped[f->at] = 1;
    dst->flips = src->flips + 1;
    dst->loss = f->loss;
    dst->cls = f->cls;
    return FOIL_OK;
}

/* Query the loss of each flip, in chunks of beam rows. */
static foil_status query_flips(hotflip *h, const beam_text *beam, flip *f, int n, int64_t max_queries)
{
    char **texts = malloc((size_t)h->beam * sizeof *texts);
    double *loss = malloc((size_t)h->beam * sizeof *loss);
    int64_t *cls = malloc((size_t)h->beam * sizeof *cls);
    foil_status st = texts && loss && cls ? FOIL_OK : foil_error(FOIL_ERR_NOMEM, "out of memory");
    int made = 0;
    for (int first = 0; !st && first < n; first += h->beam) {
        const int count = n - first < h->beam ? n - first : h->beam;
        if (max_queries > 0 && h->queries + count > max_queries) {
            for (int k = first; k < n; k++) f[k].loss = -INFINITY; /* not queried */
            break;
        }
        for (made = 0; made < count; made++) {
            const flip *q = &f[first + made];
            texts[made] = strdup(beam[q->from].text);
            if (!texts[made]) break;
            texts[made][q->at] = (char)q->to;
        }
        if (made < count) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
        if (!st) st = encode_rows(h, texts, count);
        if (!st) st = foil_model_predict(h->m, &h->x, &h->logits);
        for (int k = 0; k < made; k++) free(texts[k]);
        made = 0;
        if (st) break;
        h->queries += count;
        read_rows(h, count, loss, cls);
        for (int k = 0; k < count; k++) {
            f[first + k].loss = loss[k];
            f[first + k].cls = cls[k];
        }
    }
    free(texts);
    free(loss);
    free(cls);
    return st;
}

static int by_loss(const void *a, const void *b)
{
    const flip *x = a, *y = b;
    return x->loss < y->loss ? 1 : x->loss > y->loss ? -1 : (x->at > y->at) - (x->at < y->at);
}

/* One step: gradients of the beam, each entry's best flips, their losses.
 * Leaves in beam the best `beam` texts after it, the misclassified one
 * first when there is one (*won set); *moved is 0 when no flip was left to
 * try or to query (the beam then stays as it was). */
static foil_status step(hotflip *h, beam_text *beam, int *n_beam, int *won, int *moved, int64_t max_queries)
{
    *moved = 0;
    char **texts = malloc((size_t)*n_beam * sizeof *texts);
    flip *f = malloc((size_t)(h->beam * h->beam) * sizeof *f);
    float *value = malloc((size_t)h->beam * sizeof *value);
    foil_status st = texts && f && value ? FOIL_OK : foil_error(FOIL_ERR_NOMEM, "out of memory");
    for (int k = 0; !st && k < *n_beam; k++) texts[k] = beam[k].text;
    if (!st) st = encode_rows(h, texts, *n_beam);
    if (!st) st = foil_model_embedding_grad(h->m, &h->x, xent_fn, &h->label, value, &h->logits, &h->grad, &h->table);
    int n = 0;
    if (!st) {
        h->gradients += *n_beam;
        const int64_t per = h->L * h->table->shape[1];
        for (int k = 0; k < *n_beam; k++) best_flips(h, &beam[k], k, foil_f32(&h->grad) + k * per, f, &n);
        st = query_flips(h, beam, f, n, max_queries);
    }
    if (!st && n > 0) {
        qsort(f, (size_t)n, sizeof *f, by_loss);
        /* a misclassified text wins; the best loss among them first */
        int first_won = -1;
        for (int k = 0; k < n && first_won < 0; k++)
            if (isfinite(f[k].loss) && f[k].cls != h->label) first_won = k;
        beam_text next[64];
        int kept = 0;
        if (first_won >= 0) {
            st = beam_copy(&beam[f[first_won].from], &f[first_won], &next[kept]);
            kept += !st;
            *won = 1;
        }
        for (int k = 0; !st && !*won && k < n && kept < h->beam; k++)
            if (isfinite(f[k].loss)) {
                st = beam_copy(&beam[f[k].from], &f[k], &next[kept]);
                kept += !st;
            }
        if (!st && kept > 0) {
            free_beam(beam, *n_beam);
            memcpy(beam, next, (size_t)kept * sizeof *next);
            *n_beam = kept;
            *moved = 1;
        } else {
            free_beam(next, kept);
        }
    }
    free(texts);
    free(f);
    free(value);
    return st;
}

foil_status foilTextHotflip(foil_model *m, const foil_tokenizer *t, const char *text, int64_t label,
                            const foil_text_attack_options *o, foil_text_attack_result *r)
{
    if (strcmp(foil_tokenizer_kind(t), "bytes") != 0)
        return foil_error(FOIL_ERR_UNSUPPORTED, "hotflip flips characters: it needs a byte-level model (tokenizer kind "
                          "bytes), and this tokenizer's kind is %s", foil_tokenizer_kind(t));
    const int width = o->beam > 0 ? o->beam : 10;
    if (width > 64) return foil_error(FOIL_ERR_ARG, "hotflip: a beam of %d texts; at most 64", width);
    hotflip h = {.m = m, .t = t, .label = label, .L = foil_tokenizer_max_length(t), .beam = width};
    foil_status st = foil_tensor_alloc(&h.x, FOIL_F32, 2, (int64_t[]){width, h.L});
    /* lowercasing tokenizers give A and a one id: flip to lowercase only */
    if (!st) st = foil_tokenizer_encode(t, "A", 1, foil_f32(&h.x), NULL);
    h.lowercase = !st && foil_f32(&h.x)[0] == (float)('a' + 1);
    beam_text beam[64];
    int n_beam = 0, won = 0;
    if (!st) {
        const size_t len = strlen(text);
        beam[0].text = strdup(text);
        beam[0].flipped = calloc(len ? len : 1, 1);
        beam[0].flips = 0;
        if (!beam[0].text || !beam[0].flipped) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
        n_beam = 1;
    }
    double loss0 = 0;
    int64_t cls0 = -1;
    if (!st) st = encode_rows(&h, (char *const[]){beam[0].text}, 1);
    if (!st) st = foil_model_predict(m, &h.x, &h.logits);
    if (!st) {
        h.queries++;
        read_rows(&h, 1, &loss0, &cls0);
        beam[0].loss = loss0;
        beam[0].cls = cls0;
    }
    const int64_t max_flips = o->max_edits > 0 ? o->max_edits : h.L;
    int moved = 1;
    for (int64_t s = 0; !st && cls0 == label && !won && moved && s < max_flips; s++) {
        if (o->max_queries > 0 && h.queries >= o->max_queries) break;
        st = step(&h, beam, &n_beam, &won, &moved, o->max_queries);
    }
    if (!st) {
        /* the result: the winner, else the beam's best (highest loss) */
        const beam_text *best = &beam[0];
        r->label = label;
        r->original_class = cls0;
        r->original_prob = exp(-loss0);
        r->adversarial = strdup(best->text);
        if (!r->adversarial) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
        r->final_class = best->cls;
        r->final_prob = exp(-best->loss);
        r->success = cls0 == label && r->final_class != label;
        r->flips = best->flips;
        r->queries = h.queries;
        r->gradients = h.gradients;
        if (!st) r->edits = foil_text_levenshtein(text, r->adversarial);
    }
    free_beam(beam, n_beam);
    foil_tensor_free(&h.x);
    foil_tensor_free(&h.logits);
    foil_tensor_free(&h.grad);
    return st;
}
