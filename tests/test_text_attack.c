/*
 * Text attacks (foil/text_attack.h) on a bag-of-words spam filter trained
 * here: every reported success is misclassified when the adversarial text
 * is scored again, budgets hold, homoglyph changes only confusables,
 * stopwords stay, bytes between words (invalid UTF-8 included) are kept,
 * and Levenshtein distances are right.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "attacks/text/text_attack_internal.h"
#include "foil/arch.h"
#include "foil/loss.h"
#include "foil/rng.h"
#include "foil/text.h"
#include "foil/text_attack.h"
#include "foil/train.h"
#include "text/text_internal.h"

static const char *const spam_words[] = {"win", "cash", "prize", "claim", "free", "urgent", "winner", "txt"};
static const char *const ham_words[] = {"see", "you", "later", "home", "dinner", "love", "tomorrow", "ok",
                                        "call", "mum", "work", "sleep"};

typedef struct fixture {
    foil_tokenizer *tok;
    foil_model *m;
    foil_text_dataset test;
} fixture;

static char *make_message(foil_rng *r, int spam)
{
    char buf[256] = "";
    const int n = 4 + (int)foil_rng_below(r, 5);
    const int at = (int)foil_rng_below(r, (uint64_t)n);
    for (int k = 0; k < n; k++) {
        const char *w = spam && (k == at || foil_rng_below(r, 4) == 0) ? spam_words[foil_rng_below(r, 8)]
                                                                      : ham_words[foil_rng_below(r, 12)];
        strcat(buf, k ? " " : "");
        strcat(buf, w);
    }
    strcat(buf, spam ? "!" : ".");
    return strdup(buf);
}

static void make_messages(foil_text_dataset *d, int64_t n, uint64_t seed)
{
    memset(d, 0, sizeof *d);
    d->n = n;
    d->classes = 2;
    d->texts = calloc((size_t)n + 1, sizeof *d->texts); /* NULL-terminated, as foil_text_dataset_free reads it */
    d->labels = calloc((size_t)n, sizeof *d->labels);
    d->class_names = calloc(3, sizeof *d->class_names);
    assert_non_null(d->texts);
    assert_non_null(d->labels);
    assert_non_null(d->class_names);
    d->class_names[0] = strdup("ham");
    d->class_names[1] = strdup("spam");
    snprintf(d->name, sizeof d->name, "synthetic");
    foil_rng r = foil_rng_make(seed, 3);
    for (int64_t i = 0; i < n; i++) {
        d->labels[i] = (int64_t)foil_rng_below(&r, 2);
        d->texts[i] = make_message(&r, (int)d->labels[i]);
    }
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    foil_text_dataset train;
    make_messages(&train, 600, 1);
    make_messages(&f->test, 60, 2);
    assert_int_equal(foil_tokenizer_fit("words", train.texts, train.n, 100, 1, 12, 1, &f->tok), FOIL_OK);
    foil_arch_spec s = {.name = "bow-logreg", .input_rank = 2, .input_shape = {12}, .classes = 2, .seed = 1,
                        .vocab_size = foil_tokenizer_vocab_size(f->tok), .pad_id = foil_tokenizer_pad_id(f->tok)};
    assert_int_equal(foil_arch_build(&s, &f->m), FOIL_OK);
    foil_dataset x = {0};
    assert_int_equal(foil_text_encode(&train, f->tok, &x), FOIL_OK);
    foil_train_options o;
    foil_train_defaults(&o);
    o.optim = foil_optim_defaults(FOIL_OPT_ADAM);
    o.optim.lr = 0.05;
    o.epochs = 5;
    o.quiet = 1;
    foil_train_report rep;
    if (foil_train(f->m, &x, NULL, &o, &rep)) fail_msg("%s", foil_last_error());
    foil_dataset_free(&x);
    foil_text_dataset_free(&train);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    foil_tokenizer_free(f->tok);
    foil_model_free(f->m);
    foil_text_dataset_free(&f->test);
    free(f);
    return 0;
}

/* The model's class for one text, queried afresh. */
static int64_t classify(const fixture *f, const char *text)
{
    foil_tensor x = {0}, y = {0};
    const int64_t L = foil_tokenizer_max_length(f->tok);
    assert_int_equal(foil_tensor_alloc(&x, FOIL_F32, 2, (int64_t[]){1, L}), FOIL_OK);
    assert_int_equal(foil_tokenizer_encode(f->tok, text, strlen(text), foil_f32(&x), NULL), FOIL_OK);
    assert_int_equal(foil_model_predict(f->m, &x, &y), FOIL_OK);
    const int64_t c = foil_f32(&y)[1] > foil_f32(&y)[0];
    foil_tensor_free(&x);
    foil_tensor_free(&y);
    return c;
}

static foil_status hotflip_xent(void *ctx, int64_t first, int64_t count, int64_t classes, const float *logits,
                                float *value, float *dvalue)
{
    (void)first;
    int64_t labels[256];
    for (int64_t i = 0; i < count && i < 256; i++) labels[i] = *(const int64_t *)ctx;
    return foil_softmax_xent(logits, labels, count, classes, value, dvalue);
}

static int has_spam_word(const fixture *f, const char *text)
{
    float ids[12];
    int64_t n = 0;
    assert_int_equal(foil_tokenizer_encode(f->tok, text, strlen(text), ids, &n), FOIL_OK);
    for (int64_t k = 0; k < n; k++) {
        const char *t = foil_tokenizer_token(f->tok, (int64_t)ids[k]);
        for (int w = 0; t && w < 8; w++)
            if (strcmp(t, spam_words[w]) == 0) return 1;
    }
    return 0;
}

/* Run `kind` on every test spam message; check each result, and return the
 * number of successes. */
static int attack_all(fixture *f, foil_text_attack_kind kind, foil_text_search search, int64_t max_edits,
                      int *attacked)
{
    foil_text_attack_options o;
    foil_text_attack_defaults(&o);
    o.kind = kind;
    o.search = search;
    o.max_edits = max_edits;
    int successes = 0;
    *attacked = 0;
    for (int64_t i = 0; i < f->test.n; i++) {
        if (f->test.labels[i] != 1) continue;
        foil_text_attack_result r;
        o.seed = (uint64_t)i;
        if (foil_text_attack(f->m, f->tok, f->test.texts[i], 1, &o, &r)) fail_msg("%s", foil_last_error());
        assert_int_equal(r.original_class, classify(f, f->test.texts[i]));
        assert_int_equal(r.final_class, classify(f, r.adversarial));
        assert_int_equal(r.edits, foil_text_levenshtein(f->test.texts[i], r.adversarial));
        if (max_edits > 0) assert_true(r.edits <= max_edits);
        assert_true(r.queries >= 1);
        if (r.original_class == 1) ++*attacked;
        if (r.success) {
            successes++;
            assert_int_equal(r.final_class, 0);
            assert_true(r.edits >= 1);
        } else if (r.original_class == 1 && max_edits == 0 && kind != FOIL_TEXT_HOMOGLYPH) {
            /* a failure without a budget has broken every spam word: what
             * still makes it spam is in the words it may not change */
            assert_int_equal(r.final_class, 1);
            assert_false(has_spam_word(f, r.adversarial));
        }
        foil_text_attack_result_free(&r);
    }
    return successes;
}

static void test_deepwordbug_evades(void **state)
{
    fixture *f = *state;
    /* each spam word is one character edit from an unknown word: without a
     * budget every spam message can lose all of them */
    int attacked, n = attack_all(f, FOIL_TEXT_DEEPWORDBUG, FOIL_TEXT_SEARCH_WIR, 0, &attacked);
    printf("  deepwordbug, no budget: %d of %d spam messages evade the bag of words\n", n, attacked);
    assert_true(attacked >= 20);
    assert_true(n >= attacked * 6 / 10);
    n = attack_all(f, FOIL_TEXT_DEEPWORDBUG, FOIL_TEXT_SEARCH_WIR, 5, &attacked);
    printf("  deepwordbug, 5 edits:   %d of %d\n", n, attacked);
    assert_true(n >= attacked * 3 / 10);
    /* the greedy search sees every change the word order would try, and more */
    int greedy = attack_all(f, FOIL_TEXT_DEEPWORDBUG, FOIL_TEXT_SEARCH_GREEDY, 5, &attacked);
    printf("  deepwordbug, 5 edits, greedy search: %d of %d\n", greedy, attacked);
    assert_true(greedy >= n);
    n = attack_all(f, FOIL_TEXT_TEXTBUGGER, FOIL_TEXT_SEARCH_WIR, 0, &attacked);
    printf("  textbugger, no budget:  %d of %d\n", n, attacked);
    assert_true(n >= attacked * 6 / 10);
}

/* The label's probability for one text, queried afresh. */
static double label_prob(const fixture *f, const char *text, int64_t label)
{
    foil_tensor x = {0}, y = {0};
    const int64_t L = foil_tokenizer_max_length(f->tok);
    assert_int_equal(foil_tensor_alloc(&x, FOIL_F32, 2, (int64_t[]){1, L}), FOIL_OK);
    assert_int_equal(foil_tokenizer_encode(f->tok, text, strlen(text), foil_f32(&x), NULL), FOIL_OK);
    assert_int_equal(foil_model_predict(f->m, &x, &y), FOIL_OK);
    double ce;
    foilTextRowScores(foil_f32(&y), 2, label, &ce);
    foil_tensor_free(&x);
    foil_tensor_free(&y);
    return exp(-ce);
}

/* The lowest label probability of any one-edit change of one word of text
 * (lowercase ASCII words between spaces and punctuation, as make_message
 * writes them): each letter a-z substituted or inserted at each position,
 * each character deleted; stopwords left alone. */
static double best_single_edit(const fixture *f, const char *text, int64_t label)
{
    const size_t len = strlen(text);
    char cand[300];
    double best = label_prob(f, text, label);
    for (size_t a = 0; a < len;) {
        if (text[a] < 'a' || text[a] > 'z') {
            a++;
            continue;
        }
        size_t b = a;
        uint32_t w[64];
        while (b < len && text[b] >= 'a' && text[b] <= 'z') {
            w[b - a] = (uint32_t)text[b];
            b++;
        }
        if (!foilIsStopword(w, (int)(b - a))) {
            for (size_t i = a; i <= b; i++) {
                for (char l = 'a'; l <= 'z'; l++) {
                    /* insert l before i; substitute l for text[i] */
                    snprintf(cand, sizeof cand, "%.*s%c%s", (int)i, text, l, text + i);
                    best = fmin(best, label_prob(f, cand, label));
                    if (i < b && l != text[i]) {
                        snprintf(cand, sizeof cand, "%.*s%c%s", (int)i, text, l, text + i + 1);
                        best = fmin(best, label_prob(f, cand, label));
                    }
                }
                if (i < b && b - a >= 2) {
                    snprintf(cand, sizeof cand, "%.*s%s", (int)i, text, text + i + 1);
                    best = fmin(best, label_prob(f, cand, label));
                }
            }
        }
        a = b;
    }
    return best;
}

/* With a budget of one edit, the greedy search keeps the best single edit
 * there is, checked against every one by brute force; the search by word
 * importance keeps one of them, so never a better one. */
static void test_greedy_takes_the_best_edit(void **state)
{
    fixture *f = *state;
    foil_text_attack_options o;
    foil_text_attack_defaults(&o);
    o.max_edits = 1;
    int checked = 0, better = 0;
    for (int64_t i = 0; i < f->test.n && checked < 6; i++) {
        const char *text = f->test.texts[i];
        if (f->test.labels[i] != 1 || classify(f, text) != 1) continue;
        foil_text_attack_result g, w;
        o.search = FOIL_TEXT_SEARCH_GREEDY;
        assert_int_equal(foil_text_attack(f->m, f->tok, text, 1, &o, &g), FOIL_OK);
        o.search = FOIL_TEXT_SEARCH_WIR;
        assert_int_equal(foil_text_attack(f->m, f->tok, text, 1, &o, &w), FOIL_OK);
        const double best = best_single_edit(f, text, 1);
        assert_true(best < g.original_prob); /* some edit helps: the check below is not vacuous */
        assert_int_equal(g.edits, 1);
        assert_true(fabs(g.final_prob - best) <= 1e-5);
        assert_true(fabs(label_prob(f, g.adversarial, 1) - best) <= 1e-5);
        assert_true(w.final_prob >= best - 1e-5);
        better += w.final_prob > g.final_prob + 1e-6;
        foil_text_attack_result_free(&g);
        foil_text_attack_result_free(&w);
        checked++;
    }
    printf("  one edit: the greedy search found the best edit of all in %d of %d spam messages, "
           "the word order in %d\n", checked, checked, checked - better);
    assert_int_equal(checked, 6);
    assert_true(better >= 1); /* the word order misses one: the two searches differ */

    /* each distinct word queried once: "balloon" has 7 x 25 substitutions, 5
     * distinct deletions (of its 7) and 8 x 26 - 7 distinct insertions (an
     * "l" before or after an "l" is one word); the swaps cost 2 edits */
    o.search = FOIL_TEXT_SEARCH_GREEDY;
    foil_text_attack_result r;
    const int64_t label = classify(f, "balloon");
    assert_int_equal(foil_text_attack(f->m, f->tok, "balloon", label, &o, &r), FOIL_OK);
    assert_int_equal(r.queries, 1 + 7 * 25 + 5 + (8 * 26 - 7));
    foil_text_attack_result_free(&r);
}

/* Homoglyphs change only letters into their confusables, one per word. */
static void test_homoglyph_changes_only_confusables(void **state)
{
    fixture *f = *state;
    int attacked, n = attack_all(f, FOIL_TEXT_HOMOGLYPH, FOIL_TEXT_SEARCH_WIR, 0, &attacked);
    printf("  homoglyph, no budget:   %d of %d\n", n, attacked);
    assert_true(n >= attacked * 6 / 10);
    foil_text_attack_options o;
    foil_text_attack_defaults(&o);
    o.kind = FOIL_TEXT_HOMOGLYPH;
    const char *msg = "claim your free prize now!";
    foil_text_attack_result r;
    assert_int_equal(foil_text_attack(f->m, f->tok, msg, 1, &o, &r), FOIL_OK);
    size_t i = 0, j = 0, la = strlen(msg), lb = strlen(r.adversarial);
    int changed = 0;
    while (i < la && j < lb) {
        size_t ua, ub;
        uint32_t a = foilTextDecode((const unsigned char *)msg + i, la - i, &ua);
        uint32_t b = foilTextDecode((const unsigned char *)r.adversarial + j, lb - j, &ub);
        if (a != b) {
            assert_int_equal(foilHomoglyphOf(a), b);
            changed++;
        }
        i += ua;
        j += ub;
    }
    assert_true(i == la && j == lb); /* as many characters as before */
    assert_int_equal(changed, r.edits);
    assert_true(r.words_changed >= 1 && changed == r.words_changed); /* one character a word */
    foil_text_attack_result_free(&r);
}

static void test_stopwords_and_bytes_kept(void **state)
{
    fixture *f = *state;
    foil_text_attack_options o;
    foil_text_attack_defaults(&o);
    o.max_edits = 0;
    /* all words are stopwords: nothing may change, one query */
    const char *only_stop = "you and the other of it";
    foil_text_attack_result r;
    assert_int_equal(foil_text_attack(f->m, f->tok, only_stop, 0, &o, &r), FOIL_OK);
    assert_string_equal(r.adversarial, only_stop);
    assert_int_equal(r.queries, 1);
    foil_text_attack_result_free(&r);
    /* an invalid UTF-8 byte and the punctuation between words survive */
    const char *odd = "win\xff cash -- prize!!";
    assert_int_equal(foil_text_attack(f->m, f->tok, odd, 1, &o, &r), FOIL_OK);
    assert_non_null(strstr(r.adversarial, "\xff "));
    assert_non_null(strstr(r.adversarial, " -- "));
    assert_non_null(strstr(r.adversarial, "!!"));
    foil_text_attack_result_free(&r);
    /* a run of 65 letters is no word: left alone, by the greedy search too */
    char long_run[128] = "win ";
    memset(long_run + 4, 'z', 65);
    strcat(long_run, " cash prize!");
    o.search = FOIL_TEXT_SEARCH_GREEDY;
    assert_int_equal(foil_text_attack(f->m, f->tok, long_run, 1, &o, &r), FOIL_OK);
    char run[80] = " ";
    memset(run + 1, 'z', 65);
    strcat(run, " ");
    assert_non_null(strstr(r.adversarial, run)); /* as it was */
    assert_true(r.queries < 54 * 65);              /* and not one of its 3,536 changes tried */
    assert_true(r.words_changed >= 1);
    foil_text_attack_result_free(&r);
    assert_true(foilIsStopword((const uint32_t[]){'T', 'h', 'E'}, 3));
    assert_false(foilIsStopword((const uint32_t[]){'w', 'i', 'n'}, 3));
    assert_int_equal(foilStopwordCount(), 179);
}

static void test_budgets_and_errors(void **state)
{
    fixture *f = *state;
    foil_text_attack_options o;
    foil_text_attack_defaults(&o);
    o.max_queries = 3;
    foil_text_attack_result r;
    assert_int_equal(foil_text_attack(f->m, f->tok, "claim your free prize now winner!", 1, &o, &r), FOIL_OK);
    assert_true(r.queries <= 3);
    foil_text_attack_result_free(&r);
    o.max_queries = 0;
    o.max_word_fraction = 0.2; /* one word of six */
    assert_int_equal(foil_text_attack(f->m, f->tok, "claim your free prize now winner!", 1, &o, &r), FOIL_OK);
    assert_true(r.words_changed <= 1);
    foil_text_attack_result_free(&r);
    assert_int_equal(foil_text_attack(f->m, f->tok, "hello", 2, &o, &r), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "label 2"));
    o.kind = FOIL_TEXT_HOTFLIP;
    o.search = FOIL_TEXT_SEARCH_GREEDY;
    assert_int_equal(foil_text_attack(f->m, f->tok, "hello", 1, &o, &r), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "beam"));
    o.kind = FOIL_TEXT_DEEPWORDBUG;
    o.search = (foil_text_search)7;
    assert_int_equal(foil_text_attack(f->m, f->tok, "hello", 1, &o, &r), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "search 7"));
    foil_text_attack_kind k;
    assert_int_equal(foil_text_attack_parse("hotflap", &k), FOIL_ERR_ARG);
    assert_int_equal(foil_text_attack_parse("textbugger", &k), FOIL_OK);
    assert_int_equal(k, FOIL_TEXT_TEXTBUGGER);
}

/* HotFlip on a byte-level CNN trained on the same messages: every success
 * is re-checked, flips keep the length (substitutions), stay in budget, and
 * the embedding gradient it reads sums, token by token, to the table's
 * weight gradient (the Gather's backward: an exact identity). */
static void test_hotflip(void **state)
{
    fixture *f = *state;
    foil_text_dataset train;
    make_messages(&train, 600, 1);
    char *texts[1] = {"x"};
    foil_tokenizer *bytes = NULL;
    assert_int_equal(foil_tokenizer_fit("bytes", texts, 1, 0, 1, 48, 1, &bytes), FOIL_OK);
    foil_arch_spec s = {.name = "text-cnn", .input_rank = 2, .input_shape = {48}, .classes = 2, .seed = 2,
                        .vocab_size = foil_tokenizer_vocab_size(bytes), .pad_id = 0};
    foil_model *cnn = NULL;
    assert_int_equal(foil_arch_build(&s, &cnn), FOIL_OK);
    foil_dataset x = {0};
    assert_int_equal(foil_text_encode(&train, bytes, &x), FOIL_OK);
    foil_train_options o;
    foil_train_defaults(&o);
    o.optim = foil_optim_defaults(FOIL_OPT_ADAM);
    o.epochs = 3;
    o.quiet = 1;
    foil_train_report rep;
    if (foil_train(cnn, &x, NULL, &o, &rep)) fail_msg("%s", foil_last_error());

    /* the identity, on three messages */
    x.x.shape[0] = 3;
    x.x.numel = 3 * 48;
    foil_tensor grad = {0}, logits = {0};
    const foil_tensor *table = NULL;
    float value[3];
    int64_t label = 1;
    assert_int_equal(foil_model_embedding_grad(cnn, &x.x, hotflip_xent, &label, value, &logits, &grad, &table),
                     FOIL_OK);
    assert_int_equal(grad.ndim, 3);
    const int64_t dim = table->shape[1];
    double *rows = calloc((size_t)table->numel, sizeof *rows);
    assert_non_null(rows);
    for (int64_t k = 0; k < 3 * 48; k++)
        for (int64_t d = 0; d < dim; d++) rows[(int64_t)foil_f32(&x.x)[k] * dim + d] += foil_f32(&grad)[k * dim + d];
    int64_t n_params = 0;
    assert_int_equal(foil_model_param_count(cnn, &n_params), FOIL_OK);
    float *pg = calloc((size_t)n_params, sizeof *pg);
    assert_non_null(pg);
    const int64_t labels[3] = {1, 1, 1};
    assert_int_equal(foil_model_loss_param_grad(cnn, &x.x, labels, NULL, pg), FOIL_OK);
    double worst = 0, scale = 0;
    for (int64_t j = 0; j < table->numel; j++) { /* the table is the first weight */
        worst = fmax(worst, fabs(rows[j] - pg[j]));
        scale = fmax(scale, fabs(rows[j]));
    }
    printf("  embedding gradient vs the table's weight gradient: max |diff| %.2g (max %.2g)\n", worst, scale);
    assert_true(scale > 0 && worst <= 1e-5 * scale);
    free(rows);
    free(pg);
    foil_tensor_free(&grad);
    foil_tensor_free(&logits);

    foil_text_attack_options ao;
    foil_text_attack_defaults(&ao);
    ao.kind = FOIL_TEXT_HOTFLIP;
    ao.max_edits = 3;
    ao.beam = 4;
    int attacked = 0, won = 0;
    for (int64_t i = 0; i < f->test.n; i++) {
        if (f->test.labels[i] != 1) continue;
        foil_text_attack_result r;
        if (foil_text_attack(cnn, bytes, f->test.texts[i], 1, &ao, &r)) fail_msg("%s", foil_last_error());
        assert_int_equal(strlen(r.adversarial), strlen(f->test.texts[i]));
        assert_true(r.edits <= 3 && r.edits == r.flips && r.words_changed == 0);
        attacked += r.original_class == 1;
        if (r.success) {
            won++;
            assert_true(r.gradients >= 1);
            fixture g = {.tok = bytes, .m = cnn};
            assert_int_equal(classify(&g, r.adversarial), 0);
        }
        foil_text_attack_result_free(&r);
    }
    printf("  hotflip, 3 flips, beam 4: %d of %d spam messages evade the byte-level CNN\n", won, attacked);
    assert_true(attacked >= 20 && won >= attacked / 2);
    /* a word-level model has no characters to flip */
    foil_text_attack_result r;
    assert_int_equal(foil_text_attack(f->m, f->tok, "win cash", 1, &ao, &r), FOIL_ERR_UNSUPPORTED);
    assert_non_null(strstr(foil_last_error(), "byte-level"));
    foil_dataset_free(&x);
    foil_text_dataset_free(&train);
    foil_tokenizer_free(bytes);
    foil_model_free(cnn);
}

static void test_levenshtein(void **state)
{
    (void)state;
    assert_int_equal(foil_text_levenshtein("kitten", "sitting"), 3);
    assert_int_equal(foil_text_levenshtein("", "abc"), 3);
    assert_int_equal(foil_text_levenshtein("free", "fr\xd0\xb5" "e"), 1); /* Cyrillic e: one character */
    assert_int_equal(foil_text_levenshtein("caf\xc3\xa9", "cafe"), 1);
    assert_int_equal(foil_text_levenshtein("same", "same"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levenshtein),
        cmocka_unit_test(test_deepwordbug_evades),
        cmocka_unit_test(test_greedy_takes_the_best_edit),
        cmocka_unit_test(test_homoglyph_changes_only_confusables),
        cmocka_unit_test(test_stopwords_and_bytes_kept),
        cmocka_unit_test(test_budgets_and_errors),
        cmocka_unit_test(test_hotflip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
