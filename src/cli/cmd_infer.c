/*
 * cli/cmd_infer.c - foil infer: membership inference against a model
 * (foil/infer.h), measured as Carlini et al. 2022 ask: ROC AUC and the
 * true-positive rate at 0.1% and 1% false positives, on a balanced set of
 * members and non-members whose split is written down.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "cli/dp_options.h"
#include "cli/infer_inversion.h"
#include "foil/eval.h"
#include "foil/infer.h"
#include "foil/npy.h"
#include "foil/rng.h"
#include "core/dist.h"
#include "io/file.h"

static int run_infer(int argc, char **argv);

const cli_command cli_infer = {
    "infer", "membership inference: loss, confidence, entropy, label-only and LiRA with shadow models",
    "--data DATA (--arch ARCH [--pool N] |\n"
    "                  --model M.onnx|--endpoint URL|--command CMD --members FILE.npy [--arch ARCH])\n"
    "                  [--output-mode MODE] [--attack LIST] [--shadows K] [--epochs E] [--out DIR] [--json]",
    "Measures how much a model's outputs give away which examples it was\n"
    "trained on. The candidates are DATA's training split for a built-in\n"
    "dataset (all of it for a file). With --arch alone, foil plays the\n"
    "model's owner first: it draws --pool candidates (default 2000) from\n"
    "--seed, trains the target, --arch on a random half of them, and attacks\n"
    "it; a given target (--model, or an API: --endpoint, --command) comes\n"
    "with --members, an NPY of one 0 or 1 per candidate saying which it\n"
    "trained on. --output-mode says what a query of the target returns, as\n"
    "a deployed API would (probabilities, top-k=K, round=D, labels, ...).\n"
    "Attacks (--attack, default every one the target allows): loss (Yeom et\n"
    "al. 2018), confidence and entropy (Salem et al. 2019), modified-entropy\n"
    "(Song and Mittal 2021), each a threshold on the target's scores; gap\n"
    "(right or wrong) and label-noise (Choquette-Choo et al. 2021: the share\n"
    "of --queries noisy copies, noise --noise times each feature's range,\n"
    "still classified right), which need labels only; lira-offline and\n"
    "lira-online (Carlini et al. 2022, the likelihood-ratio attack): --shadows\n"
    "K shadow models of --arch (with a given target, its architecture, e.g.\n"
    "the ONNX file itself, re-initialized) are trained on random halves of\n"
    "the candidates, each candidate in exactly half of them, and each\n"
    "candidate's scaled logit on the target is compared with its Gaussian\n"
    "fits over the shadows without it (offline) and with it (online); the\n"
    "variance is pooled over the candidates below 64 shadow models (the\n"
    "paper's advice; --variance); shadow-classifier (Shokri et al. 2017):\n"
    "one attack model per class learns from the same shadows' outputs which\n"
    "candidates they trained on, then judges the target's. The shadows'\n"
    "outputs pass through --output-mode as the target's do. Target and\n"
    "shadows train alike: --epochs (default 20), --batch, --lr, --optimizer,\n"
    "--weight-decay, and with --dp by DP-SGD (the options of foil train --dp;\n"
    "the report gives the target's epsilon; the seed is written down, so\n"
    "these are models to measure, not to deploy). The shadow models train side by side, one per thread\n"
    "(--threads), and under mpirun each rank trains its share of them.\n"
    "Prints per attack the ROC AUC, the TPR at 0.1% and 1% FPR and the best\n"
    "balanced accuracy, and the target's accuracy on members and the others;\n"
    "--out DIR writes report.json (the figures, the ROC curves, the\n"
    "candidates' indices and the target's membership) and scores.npy\n"
    "(attacks x candidates).",
    run_infer,
    CLI_DISTRIBUTED,
};

/* The --arch a model is built from, for the examples it trains on (a
 * tabular model normalizes by their moments, as its owner's would). */
static foil_status make_from_arch(void *ctx, const foil_dataset *train, uint64_t seed, foil_model **out)
{
    return cli_build_arch((const char *)ctx, train, NULL, 0, seed, 0, out);
}

/* One attack's figures. */
typedef struct Figures {
    double auc, tpr_01, tpr_1, accuracy;
} Figures;

static Figures figures(const float *score, const uint8_t *member, int64_t n, float *in, float *out)
{
    int64_t n_in = 0, n_out = 0;
    for (int64_t j = 0; j < n; j++) {
        if (member[j]) in[n_in++] = score[j];
        else out[n_out++] = score[j];
    }
    Figures f = {foil_roc_auc(out, n_out, in, n_in), NAN, NAN, NAN};
    f.tpr_01 = foil_rate_above(in, n_in, foil_threshold_at_fpr(out, n_out, 0.001));
    f.tpr_1 = foil_rate_above(in, n_in, foil_threshold_at_fpr(out, n_out, 0.01));
    f.accuracy = foil_best_balanced_accuracy(in, n_in, out, n_out); /* last: it sorts in and out */
    return f;
}

/* The ROC curve at log-spaced FPRs from 1/n_out to 1: (fpr, tpr) pairs. */
static cJSON *roc_json(const float *in, int64_t n_in, const float *out, int64_t n_out)
{
    cJSON *fpr = cJSON_CreateArray(), *tpr = cJSON_CreateArray(), *roc = cJSON_CreateObject();
    for (double r = 1.0 / (double)n_out; r <= 1 + 1e-12; r *= 1.25) {
        const float t = foil_threshold_at_fpr(out, n_out, r);
        cJSON_AddItemToArray(fpr, cJSON_CreateNumber(foil_rate_above(out, n_out, t)));
        cJSON_AddItemToArray(tpr, cJSON_CreateNumber(foil_rate_above(in, n_in, t)));
    }
    cJSON_AddItemToObject(roc, "fpr", fpr);
    cJSON_AddItemToObject(roc, "tpr", tpr);
    return roc;
}

typedef struct InferRun {
    foil_model *target;          /* as the attacker queries it (--output-mode applied) */
    int labels_only;             /* the target answers with labels alone */
    int64_t queries;             /* label-noise: noisy copies per candidate */
    double noise;                /* label-noise: their noise, a share of each feature's range */
    uint64_t seed;
    foil_dataset pool;           /* the candidates */
    int64_t *index;              /* their indices in DATA's split */
    uint8_t *member;             /* the target trained on them */
    float *target_logits;        /* (n, classes) */
    int64_t shadows;
    uint8_t *keep;               /* (shadows, n) */
    float *shadow_logits;        /* (shadows, n, classes) */
    foil_train_report *trained;  /* the target's training, when foil trained it (what DP-SGD spent) */
} InferRun;

static void infer_run_free(InferRun *r)
{
    foil_model_free(r->target);
    foil_dataset_free(&r->pool);
    free(r->index), free(r->member), free(r->target_logits), free(r->keep), free(r->shadow_logits), free(r->trained);
}

/* The first m of a random permutation of 0..n-1 from (seed, stream), as
 * flags: chosen[i] = 1 for the m drawn. */
static foil_status draw_flags(int64_t n, int64_t m, uint64_t seed, uint64_t stream, uint8_t *chosen)
{
    int64_t *perm = malloc((size_t)(n ? n : 1) * sizeof *perm);
    if (!perm) return foil_error(FOIL_ERR_NOMEM, "out of memory drawing examples");
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    foil_rng rng = foil_rng_make(seed, stream);
    memset(chosen, 0, (size_t)n);
    for (int64_t i = 0; i < m; i++) { /* partial Fisher-Yates */
        int64_t j = i + (int64_t)foil_rng_below(&rng, (uint64_t)(n - i)), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
        chosen[perm[i]] = 1;
    }
    free(perm);
    return FOIL_OK;
}

/* --pool candidates of all drawn from seed (all of them when pool >= n),
 * kept in index order so the split reads plainly in report.json. */
static foil_status draw_pool(const foil_dataset *all, int64_t pool, uint64_t seed, InferRun *r)
{
    const int64_t n = all->y.numel, m = pool > 0 && pool < n ? pool : n;
    uint8_t *chosen = malloc((size_t)(n ? n : 1));
    r->index = malloc((size_t)(m ? m : 1) * sizeof *r->index);
    foil_status st = chosen && r->index ? draw_flags(n, m, seed, 11, chosen)
                                        : foil_error(FOIL_ERR_NOMEM, "out of memory drawing the candidates");
    for (int64_t i = 0, k = 0; !st && i < n; i++)
        if (chosen[i]) r->index[k++] = i;
    free(chosen);
    return st ? st : foil_dataset_select(&r->pool, all, r->index, m);
}

/* The target's members from an NPY of one 0 or 1 per candidate. */
static foil_status read_members(const char *path, int64_t n, uint8_t *member)
{
    foil_tensor t = {0};
    foil_status st = foil_npy_read_labels(path, &t);
    if (!st && t.numel != n)
        st = foil_error(FOIL_ERR_ARG, "%s: %lld entries for %lld candidates (one 0 or 1 each)", path,
                        (long long)t.numel, (long long)n);
    int64_t in = 0;
    for (int64_t j = 0; !st && j < n; j++) {
        const int64_t v = foil_i64(&t)[j];
        if (v != 0 && v != 1)
            st = foil_error(FOIL_ERR_ARG, "%s: entry %lld is %lld, not 0 or 1", path, (long long)j, (long long)v);
        member[j] = (uint8_t)v, in += v;
    }
    if (!st && (in == 0 || in == n))
        st = foil_error(FOIL_ERR_ARG, "%s: %s; membership needs members and non-members", path,
                        in ? "every candidate is a member" : "no candidate is a member");
    foil_tensor_free(&t);
    return st;
}

/* The training recipe of the target and the shadows. */
typedef struct Recipe {
    int64_t epochs, batch;
    double lr, weight_decay;
    const char *optimizer;
} Recipe;

static foil_status recipe_options(const Recipe *rc, foil_train_options *o)
{
    foil_train_defaults(o);
    if (strcmp(rc->optimizer, "adam") == 0) o->optim = foil_optim_defaults(FOIL_OPT_ADAM);
    else if (strcmp(rc->optimizer, "sgd") != 0)
        return foil_error(FOIL_ERR_ARG, "--optimizer %s: sgd or adam", rc->optimizer);
    o->epochs = rc->epochs, o->batch = rc->batch, o->quiet = 1;
    if (rc->lr > 0) o->optim.lr = rc->lr;
    o->optim.weight_decay = rc->weight_decay;
    return FOIL_OK;
}

/* The target foil trains (--arch): on the candidates r->member marks. */
static foil_status train_target(const char *arch, InferRun *r, const foil_train_options *o)
{
    r->trained = malloc(sizeof *r->trained);
    if (!r->trained) return foil_error(FOIL_ERR_NOMEM, "out of memory training the target");
    foil_status st =
        foil_shadow_model(make_from_arch, (void *)arch, &r->pool, r->member, o, r->seed, &r->target, r->trained);
    return st ? foil_error_prefix(st, "training the target") : FOIL_OK;
}

/* The target's answers on every candidate, as logits (log p for
 * probabilities; one-hot labels when it gives nothing more). */
static foil_status target_scores(InferRun *r, const char *who)
{
    foil_tensor out = {0};
    const int64_t n = r->pool.y.numel, classes = r->pool.classes;
    foil_status st = foil_model_predict(r->target, &r->pool.x, &out);
    if (!st && (out.ndim != 2 || out.shape[0] != n || out.shape[1] != classes))
        st = foil_error(FOIL_ERR_ARG, "%s: its output is not one score for each of %s's %lld classes", who,
                        r->pool.name, (long long)classes);
    if (!st) {
        const unsigned caps = foil_model_capabilities(r->target);
        foil_scores_as_logits(caps, foil_f32(&out), n * classes);
        memcpy(r->target_logits, out.data, foil_tensor_nbytes(&out));
        r->labels_only = !(caps & FOIL_MODEL_SCORES);
    }
    foil_tensor_free(&out);
    return st;
}

/* Every requested attack's scores (attacks x n) and figures, printed or as JSON. */
static foil_status score_attacks(const InferRun *r, const foil_membership_attack *attacks, int n_attacks,
                                 foil_lira_variance variance, float *scores, Figures *fig)
{
    const int64_t n = r->pool.y.numel, classes = r->pool.classes;
    const int64_t *y = foil_i64(&r->pool.y);
    float *phi = NULL, *shadow_phi = NULL, *in = malloc((size_t)n * sizeof *in), *out = malloc((size_t)n * sizeof *out);
    foil_status st = in && out ? FOIL_OK : foil_error(FOIL_ERR_NOMEM, "out of memory for the scores");
    for (int a = 0; !st && a < n_attacks; a++) {
        float *score = scores + a * n;
        if (attacks[a] == FOIL_MI_LABEL_NOISE) {
            st = foil_membership_label_noise(r->target, &r->pool.x, y, foil_f32(&r->pool.lower),
                                             foil_f32(&r->pool.upper), r->queries, r->noise, r->seed + 2, score);
        } else if (attacks[a] == FOIL_MI_SHADOW_CLASSIFIER) {
            st = foil_shadow_classifier_scores(r->target_logits, y, n, classes, r->shadow_logits, r->keep,
                                               r->shadows, r->seed + 4, score);
        } else if (!foil_membership_needs_shadows(attacks[a])) {
            st = foil_membership_scores(attacks[a], r->target_logits, y, n, classes, score);
        } else {
            if (!phi) {
                phi = malloc((size_t)n * sizeof *phi);
                shadow_phi = malloc((size_t)(r->shadows * n) * sizeof *shadow_phi);
                if (!phi || !shadow_phi) st = foil_error(FOIL_ERR_NOMEM, "out of memory for LiRA");
                if (!st) st = foil_lira_statistic(r->target_logits, y, n, classes, phi);
                for (int64_t k = 0; !st && k < r->shadows; k++)
                    st = foil_lira_statistic(r->shadow_logits + k * n * classes, y, n, classes, shadow_phi + k * n);
            }
            if (!st)
                st = foil_lira_scores(phi, shadow_phi, r->keep, r->shadows, n, attacks[a] == FOIL_MI_LIRA_ONLINE,
                                      variance, score);
        }
        if (!st) fig[a] = figures(score, r->member, n, in, out);
    }
    free(phi), free(shadow_phi), free(in), free(out);
    return st;
}

/* The target's accuracy on its members (want 1) or its non-members (0):
 * the generalization gap the threshold attacks feed on. */
static double target_accuracy(const InferRun *r, int want)
{
    const int64_t n = r->pool.y.numel, classes = r->pool.classes;
    int64_t right = 0, count = 0;
    for (int64_t j = 0; j < n; j++) {
        if (r->member[j] != want) continue;
        const float *z = r->target_logits + j * classes;
        int64_t best = 0;
        for (int64_t c = 1; c < classes; c++)
            if (z[c] > z[best]) best = c;
        right += best == foil_i64(&r->pool.y)[j], count++;
    }
    return count ? (double)right / (double)count : NAN;
}

static cJSON *report_json(const char *data, const InferRun *r, const foil_membership_attack *attacks, int n_attacks,
                          const float *scores, const Figures *fig, const char *arch, const char *model,
                          const Recipe *rc, int64_t seed)
{
    const int64_t n = r->pool.y.numel;
    cJSON *root = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(root, "attacks");
    cJSON_AddStringToObject(root, "schema", "foil-membership/1");
    cJSON_AddStringToObject(root, "data", data);
    cJSON_AddNumberToObject(root, "candidates", (double)n);
    int64_t members = 0;
    for (int64_t j = 0; j < n; j++) members += r->member[j];
    cJSON_AddNumberToObject(root, "members", (double)members);
    cJSON_AddNumberToObject(root, "target_accuracy_members", target_accuracy(r, 1));
    cJSON_AddNumberToObject(root, "target_accuracy_non_members", target_accuracy(r, 0));
    if (model) cJSON_AddStringToObject(root, "model", model);
    if (arch) cJSON_AddStringToObject(root, "arch", arch);
    cJSON_AddNumberToObject(root, "shadows", (double)r->shadows);
    cJSON *recipe = cJSON_AddObjectToObject(root, "training");
    cJSON_AddNumberToObject(recipe, "epochs", (double)rc->epochs);
    cJSON_AddNumberToObject(recipe, "batch", (double)rc->batch);
    cJSON_AddStringToObject(recipe, "optimizer", rc->optimizer);
    if (r->trained && r->trained->dp.steps > 0) {
        const foil_dp_report *dp = &r->trained->dp;
        cJSON *o = cJSON_AddObjectToObject(recipe, "dp");
        cJSON_AddNumberToObject(o, "epsilon", dp->epsilon);
        cJSON_AddNumberToObject(o, "delta", dp->delta);
        cJSON_AddNumberToObject(o, "noise_multiplier", dp->noise_multiplier);
        cJSON_AddNumberToObject(o, "sample_rate", dp->sample_rate);
        cJSON_AddNumberToObject(o, "max_grad_norm", dp->max_grad_norm);
        cJSON_AddNumberToObject(o, "steps", (double)dp->steps);
    }
    cJSON_AddNumberToObject(root, "seed", (double)seed);
    float *in = malloc((size_t)n * sizeof *in), *out = malloc((size_t)n * sizeof *out);
    for (int a = 0; in && out && a < n_attacks; a++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "attack", foil_membership_attack_name(attacks[a]));
        cJSON_AddNumberToObject(o, "auc", fig[a].auc);
        cJSON_AddNumberToObject(o, "tpr_at_0.1%_fpr", fig[a].tpr_01);
        cJSON_AddNumberToObject(o, "tpr_at_1%_fpr", fig[a].tpr_1);
        cJSON_AddNumberToObject(o, "balanced_accuracy", fig[a].accuracy);
        int64_t n_in = 0, n_out = 0;
        for (int64_t j = 0; j < n; j++) {
            if (r->member[j]) in[n_in++] = scores[a * n + j];
            else out[n_out++] = scores[a * n + j];
        }
        cJSON_AddItemToObject(o, "roc", roc_json(in, n_in, out, n_out));
        cJSON_AddItemToArray(list, o);
    }
    free(in), free(out);
    /* the split, so that others can reproduce it */
    cJSON *split = cJSON_AddObjectToObject(root, "split"), *idx = cJSON_AddArrayToObject(split, "index"),
          *mem = cJSON_AddArrayToObject(split, "member");
    for (int64_t j = 0; j < n; j++) {
        cJSON_AddItemToArray(idx, cJSON_CreateNumber((double)(r->index ? r->index[j] : j)));
        cJSON_AddItemToArray(mem, cJSON_CreateNumber(r->member[j]));
    }
    return root;
}

static foil_status write_outputs(const char *dir, cJSON *root, const float *scores, int n_attacks, int64_t n)
{
    foil_status st = foilMakeDir(dir);
    char path[4096];
    char *text = cJSON_Print(root);
    snprintf(path, sizeof path, "%s/report.json", dir);
    if (!st) st = text ? foilWriteFileAtomic(path, text, strlen(text)) : foil_error(FOIL_ERR_NOMEM, "out of memory");
    free(text);
    foil_tensor t = {0};
    int64_t shape[2] = {n_attacks, n};
    if (!st) st = foil_tensor_alloc(&t, FOIL_F32, 2, shape);
    if (!st) memcpy(t.data, scores, (size_t)(n_attacks * n) * sizeof *scores);
    snprintf(path, sizeof path, "%s/scores.npy", dir);
    if (!st) st = foil_npy_write(path, &t);
    foil_tensor_free(&t);
    return st;
}

static void print_table(const InferRun *r, const foil_membership_attack *attacks, int n_attacks, const Figures *fig)
{
    int64_t members = 0, n = r->pool.y.numel;
    for (int64_t j = 0; j < n; j++) members += r->member[j];
    printf("membership inference on %lld candidates (%lld members)%s; the target's accuracy %.2f%% on its members, "
           "%.2f%% on the others:\n", (long long)n, (long long)members, r->shadows ? "" : ", no shadow models",
           100 * target_accuracy(r, 1), 100 * target_accuracy(r, 0));
    if (r->trained && r->trained->dp.steps > 0)
        printf("the target was trained by DP-SGD: epsilon %.3f at delta %g (noise multiplier %.3f)\n",
               r->trained->dp.epsilon, r->trained->dp.delta, r->trained->dp.noise_multiplier);
    printf("%-18s %7s %14s %12s %9s\n", "attack", "AUC", "TPR@0.1%FPR", "TPR@1%FPR", "accuracy");
    for (int a = 0; a < n_attacks; a++)
        printf("%-18s %7.4f %14.4f %12.4f %9.4f\n", foil_membership_attack_name(attacks[a]), fig[a].auc, fig[a].tpr_01,
               fig[a].tpr_1, fig[a].accuracy);
}

static int parse_attacks(char *list, foil_membership_attack *attacks, int *n)
{
    *n = 0;
    char *save = NULL;
    for (char *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        if (*n == FOIL_MI_COUNT) return cli_usage_error(&cli_infer, "--attack: at most %d attacks", FOIL_MI_COUNT);
        if (foil_membership_attack_parse(name, &attacks[*n]))
            return cli_usage_error(&cli_infer, "%s", foil_last_error());
        for (int i = 0; i < *n; i++)
            if (attacks[i] == attacks[*n]) return cli_usage_error(&cli_infer, "--attack names %s twice", name);
        (*n)++;
    }
    return *n ? CLI_OK : cli_usage_error(&cli_infer, "--attack names no attack");
}

/* Which attacks run: --attack's list, or by default every one the target
 * allows (labels only: gap, label-noise; LiRA and shadow-classifier only
 * with shadow models). */
static int choose_attacks(const char *text, int labels_only, int with_shadows, foil_membership_attack *attacks,
                          int *n)
{
    if (!text) {
        *n = 0;
        for (int a = 0; a < FOIL_MI_COUNT; a++) {
            if ((labels_only && !foil_membership_label_only(a)) ||
                (foil_membership_needs_shadows(a) && !with_shadows))
                continue;
            attacks[(*n)++] = (foil_membership_attack)a;
        }
        return CLI_OK;
    }
    char *list = strdup(text);
    if (!list) return cli_fail(&cli_infer, foil_error(FOIL_ERR_NOMEM, "out of memory"));
    int rc = parse_attacks(list, attacks, n);
    free(list);
    for (int a = 0; !rc && labels_only && a < *n; a++)
        if (!foil_membership_label_only(attacks[a]))
            rc = cli_usage_error(&cli_infer, "--attack %s needs the target's scores, and it returns labels only "
                                 "(gap and label-noise need nothing more)", foil_membership_attack_name(attacks[a]));
    return rc;
}

/* The attacker's view of the target: --output-mode, what a query returns
 * (noise=SCALE drawn from seed). */
static foil_status wrap_output(const char *mode, uint64_t seed, foil_model **target)
{
    if (!mode) return FOIL_OK;
    foil_output output = {0};
    foil_status st = foil_output_parse(mode, &output);
    if (st) return st;
    output.seed = seed;
    foil_model *inner = *target;
    *target = NULL; /* the wrapper owns it from here, also when it fails */
    return foil_model_black_box(inner, 0, &output, target);
}

/* Candidates, membership and the target (given, or trained here), as the
 * attacker sees it; then the shadow models. */
static foil_status prepare(InferRun *r, const foil_data_spec *data, const cli_model_source *source,
                           const char *members_path, const char *arch, int64_t pool, const foil_train_options *to,
                           const char *output_mode)
{
    foil_dataset all_data = {0};
    const int given = source->model || source->endpoint || source->command;
    foil_status st = foil_data_load(data, foil_data_is_builtin(data->data) ? FOIL_SPLIT_TRAIN : FOIL_SPLIT_ALL,
                                    &all_data);
    if (!st) st = given ? foil_dataset_copy(&r->pool, &all_data) : draw_pool(&all_data, pool, r->seed, r);
    foil_dataset_free(&all_data);
    const int64_t n = r->pool.y.numel, classes = r->pool.classes;
    if (!st) {
        r->member = malloc((size_t)(n ? n : 1));
        r->target_logits = malloc((size_t)(n * classes) * sizeof *r->target_logits);
        if (!r->member || !r->target_logits)
            st = foil_error(FOIL_ERR_NOMEM, "out of memory for %lld candidates", (long long)n);
    }
    if (!st && given) st = read_members(members_path, n, r->member);
    if (!st && !given) st = draw_flags(n, n / 2, r->seed, 12, r->member);
    if (!st && !given) st = train_target(arch, r, to);
    if (!st) st = wrap_output(output_mode, r->seed + 3, &r->target);
    return st;
}

/* The shadows' answers as the attacker would get them from the target
 * (--output-mode): the attacker knows what the API returns, and a shadow
 * model whose outputs were rounded or cut to the top k like the target's
 * is what membership looks like through that API. */
static foil_status shadow_outputs_as_target(InferRun *r, const char *mode)
{
    if (!mode) return FOIL_OK;
    foil_output output = {0};
    foil_status st = foil_output_parse(mode, &output);
    const int64_t rows = r->shadows * r->pool.y.numel, classes = r->pool.classes;
    output.seed = r->seed + 5;
    if (!st) st = foil_output_apply(&output, 0, r->shadow_logits, rows, classes, NULL);
    if (!st) foil_scores_as_logits(foil_output_capabilities(&output, FOIL_MODEL_SCORES), r->shadow_logits,
                                   rows * classes);
    return st;
}

static foil_status train_shadows(InferRun *r, const char *arch, const foil_train_options *to, const char *mode)
{
    const int64_t n = r->pool.y.numel, classes = r->pool.classes;
    r->keep = malloc((size_t)(r->shadows * n));
    r->shadow_logits = malloc((size_t)(r->shadows * n * classes) * sizeof *r->shadow_logits);
    if (!r->keep || !r->shadow_logits)
        return foil_error(FOIL_ERR_NOMEM, "out of memory for %lld shadow models", (long long)r->shadows);
    foil_status st = foil_membership_keep(r->shadows, n, r->seed + 1, r->keep);
    if (!st)
        st = foil_shadow_logits(make_from_arch, (void *)arch, &r->pool, r->keep, r->shadows, to, r->seed + 1000,
                                r->shadow_logits);
    return st ? st : shadow_outputs_as_target(r, mode);
}

static void print_json(cJSON *root)
{
    cJSON_DeleteItemFromObject(root, "split");
    for (cJSON *o = cJSON_GetObjectItem(root, "attacks")->child; o; o = o->next) cJSON_DeleteItemFromObject(o, "roc");
    char *text = cJSON_PrintUnformatted(root);
    if (text) printf("%s\n", text);
    free(text);
}

/* --attack miface: model inversion, a command of its own behind foil infer. */
static int wants_inversion(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--attack=miface") == 0) return 1;
        if (strcmp(argv[i], "--attack") == 0 && i + 1 < argc && strcmp(argv[i + 1], "miface") == 0) return 1;
    }
    return 0;
}

static int run_infer(int argc, char **argv)
{
    if (wants_inversion(argc, argv)) {
        if (foilDistSize() > 1) return cli_usage_error(&cli_infer, "--attack miface runs as one process");
        return cli_infer_inversion(argc, argv);
    }
    foil_data_spec data = {0};
    cli_model_source source = {.retries = -1};
    const char *arch = NULL, *members_path = NULL, *dir = NULL, *attack_text = NULL, *output_mode = NULL;
    const char *variance_text = "auto";
    Recipe rc = {.epochs = 20, .batch = 64, .optimizer = "sgd"};
    int64_t pool = -1, shadows = 16, queries = 100;
    double noise = 0.1;
    int json = 0;
    cli_dp_args dpa = CLI_DP_ARGS_INIT;
    cli_option opts[] = {
        CLI_DATA_OPTIONS(data),
        CLI_MODEL_SOURCE_OPTIONS(source),
        {"--arch", OPT_STRING, &arch, "ARCH", "the architecture of the target foil trains and of the shadow models "
         "(mlp, cnn-small, lenet5, resnet-mini, or an ONNX file, re-initialized)", 0, 0},
        {"--members", OPT_STRING, &members_path, "FILE", "with a given target: NPY, one 0 or 1 per candidate", 0, 0},
        {"--pool", OPT_INT, &pool, "N", "with --arch alone: candidates drawn from DATA (2000)", 0, 0},
        {"--output-mode", OPT_STRING, &output_mode, "MODE", "what a query of the target returns: logits, "
         "probabilities, top-k=K, round=D, labels, ... (as foil attack)", 0, 0},
        {"--attack", OPT_STRING, &attack_text, "LIST", "loss, confidence, entropy, modified-entropy, lira-offline, "
         "lira-online, gap, label-noise, shadow-classifier (default: all the target allows); miface: model "
         "inversion (foil infer --attack miface --help)", 0, 0},
        {"--shadows", OPT_INT, &shadows, "K", "shadow models for LiRA and shadow-classifier (16; 0: none)", 0, 0},
        {"--variance", OPT_STRING, &variance_text, "V", "LiRA's Gaussians: auto (default), global or per-example", 0,
         0},
        {"--queries", OPT_INT, &queries, "N", "label-noise: noisy copies per candidate (100)", 0, 0},
        {"--noise", OPT_FLOAT, &noise, "S", "label-noise: their noise, a share of each feature's range (0.1)", 0, 0},
        {"--epochs", OPT_INT, &rc.epochs, "E", "training epochs of the target and the shadow models (20)", 0, 0},
        {"--batch", OPT_INT, &rc.batch, "B", "their minibatch (64)", 0, 0},
        {"--lr", OPT_FLOAT, &rc.lr, "RATE", "their learning rate (sgd 0.05, adam 1e-3)", 0, 0},
        {"--optimizer", OPT_STRING, &rc.optimizer, "NAME", "sgd (default) or adam", 0, 0},
        {"--weight-decay", OPT_FLOAT, &rc.weight_decay, "W", "their L2 weight decay (0)", 0, 0},
        {"--out", OPT_STRING, &dir, "DIR", "write report.json and scores.npy there", 0, 0},
        {"--json", OPT_FLAG, &json, NULL, "print the figures as JSON", 0, 0},
        CLI_DP_OPTIONS(dpa),
    };
    cli_common common;
    int rc_parse = cli_parse(&cli_infer, argc, argv, opts, sizeof opts / sizeof opts[0], &common);
    if (rc_parse) return rc_parse;
    const int given = source.model || source.endpoint || source.command;
    foil_lira_variance variance;
    if (strcmp(variance_text, "auto") == 0) variance = FOIL_LIRA_VARIANCE_AUTO;
    else if (strcmp(variance_text, "global") == 0) variance = FOIL_LIRA_VARIANCE_GLOBAL;
    else if (strcmp(variance_text, "per-example") == 0) variance = FOIL_LIRA_VARIANCE_PER_EXAMPLE;
    else return cli_usage_error(&cli_infer, "--variance must be auto, global or per-example, not '%s'", variance_text);
    if (given != (members_path != NULL))
        return cli_usage_error(&cli_infer, "a given target (--model, --endpoint or --command) and --members go "
                               "together: the target and which candidates it trained on");
    if (!given && !arch)
        return cli_usage_error(&cli_infer, "give the target: --arch (foil trains it) or --model with --members");
    if (given && pool != -1) return cli_usage_error(&cli_infer, "--pool is for a target foil trains (--arch alone)");
    if (pool == -1) pool = 2000;
    if (pool < 4 || shadows < 0 || rc.epochs < 1 || rc.batch < 1 || rc.lr < 0 || rc.weight_decay < 0 || queries < 1 ||
        !(noise > 0))
        return cli_usage_error(&cli_infer, "--pool must be >= 4; --shadows >= 0; --epochs, --batch, --queries >= 1; "
                               "--lr, --weight-decay >= 0; --noise > 0");
    foil_output probe;
    if (output_mode && foil_output_parse(output_mode, &probe))
        return cli_usage_error(&cli_infer, "--output-mode: %s", foil_last_error());
    foil_train_options to;
    foil_status st = recipe_options(&rc, &to);
    if (st) return cli_usage_error(&cli_infer, "%s", foil_last_error());
    int dp_rc = cli_dp_parse(&cli_infer, &dpa, &to.dp);
    if (dp_rc) return dp_rc;
    to.quiet = common.quiet || json;
    cli_apply_common(&common);
    data.seed = (uint64_t)common.seed;

    InferRun r = {.queries = queries, .noise = noise, .seed = (uint64_t)common.seed};
    foil_membership_attack attacks[FOIL_MI_COUNT];
    int n_attacks = 0, wants_shadows = 0;
    if (given) {
        int orc = cli_open_model(&cli_infer, &source, &r.target);
        if (orc) return orc;
    }
    st = prepare(&r, &data, &source, members_path, arch, pool, &to, output_mode);
    if (!st) st = target_scores(&r, given ? foil_model_name(r.target) : "the target");
    int arc = st ? CLI_OK : choose_attacks(attack_text, r.labels_only, shadows > 0 && arch, attacks, &n_attacks);
    for (int a = 0; a < n_attacks; a++) wants_shadows |= foil_membership_needs_shadows(attacks[a]);
    if (!st && !arc && wants_shadows && (shadows < 2 || !arch))
        arc = cli_usage_error(&cli_infer, "LiRA and shadow-classifier need --shadows 2 or more and their --arch");
    if (arc) {
        infer_run_free(&r);
        return arc;
    }
    r.shadows = wants_shadows ? shadows : 0;
    if (!st && r.shadows) st = train_shadows(&r, arch, &to, output_mode);
    const int64_t n = r.pool.y.numel;
    float *scores = st ? NULL : malloc((size_t)(n_attacks * (n ? n : 1)) * sizeof *scores);
    Figures fig[FOIL_MI_COUNT];
    if (!st && !scores) st = foil_error(FOIL_ERR_NOMEM, "out of memory for the scores");
    if (!st) st = score_attacks(&r, attacks, n_attacks, variance, scores, fig);
    if (!st && foilDistRank() == 0) { /* rank 0 alone writes and prints */
        cJSON *root = report_json(data.data, &r, attacks, n_attacks, scores, fig, arch,
                                  given ? foil_model_name(r.target) : NULL, &rc, common.seed);
        if (output_mode) cJSON_AddStringToObject(root, "output_mode", output_mode);
        if (dir) st = write_outputs(dir, root, scores, n_attacks, n);
        if (!st && json) print_json(root);
        else if (!st && !common.quiet) {
            print_table(&r, attacks, n_attacks, fig);
            if (dir) printf("wrote %s/report.json, %s/scores.npy\n", dir, dir);
        }
        cJSON_Delete(root);
    }
    free(scores);
    infer_run_free(&r);
    return st ? cli_fail(&cli_infer, st) : CLI_OK;
}
