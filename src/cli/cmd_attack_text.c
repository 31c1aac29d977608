/*
 * cli/cmd_attack_text.c - `foil attack --attack deepwordbug|homoglyph|
 * textbugger`: evade a text classifier on the messages of a labelled file,
 * and report how many it still classifies right (a spam filter's detection
 * rate) before and after, with queries, edits and example messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "foil/progress.h"
#include "foil/text.h"
#include "foil/text_attack.h"

const cli_command cli_attack_text = {
    "attack", "run a text attack on a text classifier",
    "--model M.onnx --data MESSAGES --attack deepwordbug|homoglyph|textbugger|hotflip [--class NAME] [--max-edits K] [--json]",
    "Attacks the messages of MESSAGES (LABEL<TAB>TEXT lines; by default the\n"
    "test split foil train held out, --split all for every line) that the model\n"
    "classifies right, optionally only those of --class (e.g. spam), changing\n"
    "characters until the model misclassifies them (foil/text_attack.h):\n"
    "deepwordbug (Gao et al. 2018, TextAttack's recipe), homoglyph (Unicode\n"
    "confusables), textbugger (Li et al. 2019, its character bugs), or the\n"
    "white-box hotflip (Ebrahimi et al. 2018; byte-level models). The model's\n"
    "tokenizer is --tokenizer, or MODEL.tokenizer.json beside it. Reports the\n"
    "share classified right before and after (for spam: the detection rate),\n"
    "the success rate, median queries and edits (Levenshtein distance), and\n"
    "example messages; --out writes LABEL<TAB>ORIGINAL<TAB>ADVERSARIAL lines.",
    cli_run_attack_text,
    0,
};

typedef struct text_args {
    const char *model, *data, *attack, *tokenizer, *class_name, *split, *out, *wir, *search;
    int64_t limit, max_edits, max_queries, examples, beam;
    double max_word_fraction;
    int json, modify_stopwords;
} text_args;

static int64_t median_of(int64_t *v, int64_t n)
{
    if (n == 0) return 0;
    for (int64_t i = 1; i < n; i++) /* insertion sort: n is a few hundred */
        for (int64_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            int64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v[n / 2];
}

/* The messages to attack: those of the split (of --class when given). */
static foil_status load_messages(const text_args *a, uint64_t seed, foil_text_dataset *d, int64_t *class_id)
{
    foil_text_dataset train = {0}, test = {0};
    foil_status st;
    if (strcmp(a->split, "all") == 0) st = foil_text_load_tsv(a->data, d);
    else {
        st = cli_text_split(a->data, seed, &train, &test);
        if (!st) {
            *d = strcmp(a->split, "train") == 0 ? train : test;
            memset(strcmp(a->split, "train") == 0 ? &train : &test, 0, sizeof train);
        }
    }
    foil_text_dataset_free(&train);
    foil_text_dataset_free(&test);
    *class_id = -1;
    for (int64_t c = 0; !st && a->class_name && c < d->classes; c++)
        if (strcmp(d->class_names[c], a->class_name) == 0) *class_id = c;
    if (!st && a->class_name && *class_id < 0)
        st = foil_error(FOIL_ERR_ARG, "%s: no class '%s' (its classes: %s%s%s)", a->data, a->class_name,
                        d->class_names[0], d->classes > 1 ? ", " : "", d->classes > 1 ? d->class_names[1] : "");
    return st;
}

static void print_example(const foil_text_attack_result *r, const char *original)
{
    printf("  %s (%lld edits, %lld queries):\n    before: %s\n    after:  %s\n",
           r->success ? "evaded" : "still caught", (long long)r->edits, (long long)r->queries, original,
           r->adversarial);
}

static cJSON *result_json(const foil_text_attack_result *r, const char *original)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "label", (double)r->label);
    cJSON_AddBoolToObject(o, "success", r->success);
    cJSON_AddNumberToObject(o, "queries", (double)r->queries);
    cJSON_AddNumberToObject(o, "edits", (double)r->edits);
    cJSON_AddNumberToObject(o, "words_changed", (double)r->words_changed);
    cJSON_AddNumberToObject(o, "flips", (double)r->flips);
    cJSON_AddNumberToObject(o, "label_probability_before", r->original_prob);
    cJSON_AddNumberToObject(o, "label_probability_after", r->final_prob);
    cJSON_AddStringToObject(o, "original", original);
    cJSON_AddStringToObject(o, "adversarial", r->adversarial);
    return o;
}

typedef struct tally {
    int64_t messages, right_before, right_after, attacked, successes, queries;
    int64_t *q, *e;   /* per success: queries, edits */
} tally;

static int report(const text_args *a, const foil_text_dataset *d, const tally *t, double seconds, cJSON *results,
                  foil_text_attack_kind kind)
{
    const int64_t med_q = median_of(t->q, t->successes), med_e = median_of(t->e, t->successes);
    if (a->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "attack", foil_text_attack_name(kind));
        cJSON_AddStringToObject(o, "model", a->model);
        cJSON_AddNumberToObject(o, "messages", (double)t->messages);
        cJSON_AddNumberToObject(o, "right_before", (double)t->right_before);
        cJSON_AddNumberToObject(o, "right_after", (double)t->right_after);
        cJSON_AddNumberToObject(o, "success_rate", t->attacked ? (double)t->successes / (double)t->attacked : 0);
        cJSON_AddNumberToObject(o, "median_queries", (double)med_q);
        cJSON_AddNumberToObject(o, "median_edits", (double)med_e);
        cJSON_AddNumberToObject(o, "max_edits", (double)a->max_edits);
        cJSON_AddStringToObject(o, "search", a->search ? a->search : "wir");
        cJSON_AddNumberToObject(o, "seconds", seconds);
        cJSON_AddItemToObject(o, "results", results);
        char *s = cJSON_Print(o);
        puts(s);
        free(s);
        cJSON_Delete(o);
        return CLI_OK;
    }
    const double n = t->messages ? (double)t->messages : 1;
    printf("%s on %s: %lld %s%smessages of %s (%s split), budget %lld edits%s\n", foil_text_attack_name(kind),
           a->model, (long long)t->messages, a->class_name ? a->class_name : "", a->class_name ? " " : "", d->name,
           a->split, (long long)a->max_edits, a->search && strcmp(a->search, "greedy") == 0 ? ", greedy search" : "");
    printf("  classified right before   %lld (%.2f%%)\n", (long long)t->right_before, 100.0 * t->right_before / n);
    printf("  classified right after    %lld (%.2f%%)\n", (long long)t->right_after, 100.0 * t->right_after / n);
    printf("  success rate              %.2f%% (%lld of %lld attacked)\n",
           t->attacked ? 100.0 * t->successes / t->attacked : 0.0, (long long)t->successes, (long long)t->attacked);
    printf("  median queries, edits     %lld, %lld (of the successes)\n", (long long)med_q, (long long)med_e);
    printf("  queries                   %lld in %.1f s (%.3f s a message attacked)\n", (long long)t->queries,
           seconds, t->attacked ? seconds / (double)t->attacked : 0.0);
    cJSON_Delete(results);
    return CLI_OK;
}

int cli_run_attack_text(int argc, char **argv)
{
    text_args a = {.split = "test", .max_edits = 30, .examples = 3, .wir = NULL};
    cli_option opts[] = {
        {"--model", OPT_STRING, &a.model, "FILE", "the text classifier (ONNX, token-id input)", 1, 0},
        {"--data", OPT_STRING, &a.data, "FILE", "labelled messages, LABEL<TAB>TEXT lines", 1, 0},
        {"--attack", OPT_STRING, &a.attack, "NAME", "deepwordbug, homoglyph, textbugger or hotflip", 1, 0},
        {"--beam", OPT_INT, &a.beam, "B", "hotflip: beam width (default 10)", 0, 0},
        {"--tokenizer", OPT_STRING, &a.tokenizer, "FILE", "the model's tokenizer (default: beside the model)", 0, 0},
        {"--split", OPT_STRING, &a.split, "SPLIT", "test (default: the messages foil train held out), train, all",
         0, 0},
        {"--class", OPT_STRING, &a.class_name, "NAME", "attack only the messages of this class (e.g. spam)", 0, 0},
        {"--limit", OPT_INT, &a.limit, "N", "attack the first N messages (default: all)", 0, 0},
        {"--max-edits", OPT_INT, &a.max_edits, "K", "at most K character edits per message (default 30, "
         "TextAttack's recipe; 0: no limit)", 0, 0},
        {"--max-word-fraction", OPT_FLOAT, &a.max_word_fraction, "F", "at most this share of the words changed", 0, 0},
        {"--max-queries", OPT_INT, &a.max_queries, "Q", "at most Q queries per message", 0, 0},
        {"--wir", OPT_STRING, &a.wir, "HOW", "word importance: unk (default) or delete (textbugger's default)", 0, 0},
        {"--search", OPT_STRING, &a.search, "HOW", "wir (default: word by word, most important first, as TextAttack's "
         "recipes) or greedy (every change of every word scored at each step; many more queries)", 0, 0},
        {"--modify-stopwords", OPT_FLAG, &a.modify_stopwords, NULL, "let the attack change stopwords too", 0, 0},
        {"--examples", OPT_INT, &a.examples, "N", "print N example messages (default 3)", 0, 0},
        {"--out", OPT_STRING, &a.out, "FILE", "write LABEL<TAB>ORIGINAL<TAB>ADVERSARIAL lines", 0, 0},
        {"--json", OPT_FLAG, &a.json, NULL, "print the results as JSON, every message included", 0, 0},
    };
    cli_common common;
    int rc = cli_parse(&cli_attack_text, argc, argv, opts, sizeof opts / sizeof opts[0], &common);
    if (rc) return rc;
    foil_text_attack_options o;
    foil_text_attack_defaults(&o);
    foil_status st = foil_text_attack_parse(a.attack, &o.kind);
    if (st) return cli_usage_error(&cli_attack_text, "%s", foil_last_error());
    o.wir = o.kind == FOIL_TEXT_TEXTBUGGER ? FOIL_TEXT_WIR_DELETE : FOIL_TEXT_WIR_UNK;
    if (a.wir && strcmp(a.wir, "unk") != 0 && strcmp(a.wir, "delete") != 0)
        return cli_usage_error(&cli_attack_text, "--wir must be unk or delete, not '%s'", a.wir);
    if (a.wir) o.wir = strcmp(a.wir, "delete") == 0 ? FOIL_TEXT_WIR_DELETE : FOIL_TEXT_WIR_UNK;
    if (a.search && strcmp(a.search, "wir") != 0 && strcmp(a.search, "greedy") != 0)
        return cli_usage_error(&cli_attack_text, "--search must be wir or greedy, not '%s'", a.search);
    if (a.search && strcmp(a.search, "greedy") == 0) o.search = FOIL_TEXT_SEARCH_GREEDY;
    if (o.search == FOIL_TEXT_SEARCH_GREEDY && o.kind == FOIL_TEXT_HOTFLIP)
        return cli_usage_error(&cli_attack_text, "--search greedy is for deepwordbug, homoglyph and textbugger; "
                               "hotflip searches with its beam (--beam)");
    if (strcmp(a.split, "test") != 0 && strcmp(a.split, "train") != 0 && strcmp(a.split, "all") != 0)
        return cli_usage_error(&cli_attack_text, "--split must be test, train or all, not '%s'", a.split);
    if (a.beam < 0 || a.beam > 64) return cli_usage_error(&cli_attack_text, "--beam must lie in [1, 64]");
    o.beam = (int)a.beam;
    if (a.limit < 0 || a.max_edits < 0 || a.max_queries < 0 || a.examples < 0 ||
        !(a.max_word_fraction >= 0 && a.max_word_fraction <= 1))
        return cli_usage_error(&cli_attack_text, "--limit, --max-edits, --max-queries and --examples must be >= 0, "
                               "--max-word-fraction in [0, 1]");
    o.max_edits = a.max_edits;
    o.max_queries = a.max_queries;
    o.max_word_fraction = a.max_word_fraction;
    o.modify_stopwords = a.modify_stopwords;
    cli_apply_common(&common);

    foil_model *m = NULL;
    foil_tokenizer *tok = NULL;
    foil_text_dataset d = {0};
    char tok_path[4096];
    int64_t class_id = -1;
    st = foil_model_load(a.model, &m);
    if (!st) st = cli_find_tokenizer(a.tokenizer, a.model, &tok, tok_path, sizeof tok_path);
    if (!st) st = load_messages(&a, (uint64_t)common.seed, &d, &class_id);
    FILE *out = NULL;
    if (!st && a.out && !(out = fopen(a.out, "w")))
        st = foil_error(FOIL_ERR_IO, "%s: cannot write the adversarial messages", a.out);
    tally t = {0};
    t.q = calloc((size_t)(d.n ? d.n : 1), sizeof *t.q);
    t.e = calloc((size_t)(d.n ? d.n : 1), sizeof *t.e);
    if (!st && (!t.q || !t.e)) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    cJSON *results = cJSON_CreateArray();
    int64_t total = 0;
    for (int64_t i = 0; i < d.n; i++) total += class_id < 0 || d.labels[i] == class_id;
    if (a.limit && a.limit < total) total = a.limit;
    foil_progress bar;
    foil_progress_start(&bar, foil_text_attack_name(o.kind), total, "messages", common.quiet || a.json);
    const double t0 = foil_now();
    int64_t shown = 0;
    for (int64_t i = 0; !st && i < d.n && t.messages < total; i++) {
        if (class_id >= 0 && d.labels[i] != class_id) continue;
        foil_text_attack_result r;
        o.seed = (uint64_t)common.seed + (uint64_t)i;
        if ((st = foil_text_attack(m, tok, d.texts[i], d.labels[i], &o, &r))) break;
        t.messages++;
        t.right_before += r.original_class == r.label;
        t.right_after += r.final_class == r.label;
        t.attacked += r.original_class == r.label;
        t.queries += r.queries;
        if (r.success) {
            t.q[t.successes] = r.queries;
            t.e[t.successes++] = r.edits;
        }
        if (!a.json && r.success && shown < a.examples) {
            if (!shown) printf("examples:\n");
            print_example(&r, d.texts[i]);
            shown++;
        }
        if (out) fprintf(out, "%s\t%s\t%s\n", d.class_names[r.label], d.texts[i], r.adversarial);
        cJSON_AddItemToArray(results, result_json(&r, d.texts[i]));
        foil_text_attack_result_free(&r);
        char status[64];
        snprintf(status, sizeof status, "%lld evaded", (long long)t.successes);
        foil_progress_update(&bar, t.messages, status);
    }
    foil_progress_finish(&bar, NULL);
    if (out && fclose(out) != 0 && !st) st = foil_error(FOIL_ERR_IO, "%s: write failed", a.out);
    if (!st) rc = report(&a, &d, &t, foil_now() - t0, results, o.kind);
    else {
        cJSON_Delete(results);
        rc = cli_fail(&cli_attack_text, st);
    }
    free(t.q);
    free(t.e);
    foil_text_dataset_free(&d);
    foil_tokenizer_free(tok);
    foil_model_free(m);
    return rc;
}
