/*
 * cli/cmd_poison.c - foil poison: write a poisoned training set and the
 * manifest of what was poisoned (foil/poison.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "foil/npy.h"
#include "foil/poison.h"
#include "io/file.h"

static int run_poison(int argc, char **argv);

const cli_command cli_poison = {
    "poison", "poison a training set (label flips; BadNets, blended, clean-label backdoors; targeted poisons)",
    "--data DATA --attack label-flip|targeted-flip|badnets|blend|clean-label|gradient-matching|\n"
    "                   feature-collision --rate R --output-dir DIR [--target T] [--source S]\n"
    "                   [--target-index I] [--all-to-all]\n"
    "                   [--patch-size P] [--alpha A] [--model M.onnx --eps E --steps N --restarts R]\n"
    "                   [--ensemble M2.onnx,...] [--seed N] [--json]",
    "Poisons the training split of DATA as an attacker who controls some of\n"
    "the training data would, and writes into DIR:\n"
    "  train_x.npy, train_y.npy  the poisoned training set (train on it with\n"
    "                            foil train --data DIR/train_x.npy --labels DIR/train_y.npy)\n"
    "  manifest.json             the attack, its options and every poisoned\n"
    "                            example: index, label before and after\n"
    "  test_triggered_x.npy, test_triggered_y.npy  (backdoors) the test split's\n"
    "                            examples the backdoor should change, with its\n"
    "                            trigger and the label it should give: a\n"
    "                            model's accuracy on them (foil eval) is the\n"
    "                            attack success rate\n"
    "Attacks: label-flip (each poisoned example gets another class, uniformly),\n"
    "targeted-flip (class --source becomes --target; --rate is the share of\n"
    "the source class), badnets (Gu et al. 2017: a --patch-size square\n"
    "checkerboard of the input range's ends in the bottom-right corner, label\n"
    "--target, or y + 1 mod classes with --all-to-all), blend (Chen et al.\n"
    "2017: (1 - alpha) x + alpha k, k a random pattern from --seed; --alpha,\n"
    "default 0.2; labels as badnets), clean-label (Turner, Tsipras and Madry\n"
    "2019: images of class --target keep their label; PGD on --model, a model\n"
    "trained on clean data, first moves each away from its class, Linf radius\n"
    "--eps (default 0.1) in --steps steps (default 20), then the badnets patch\n"
    "is stamped on; --rate is the share of the target class), gradient-matching\n"
    "(Geiping et al. 2021, Witches' Brew: test image --target-index should get\n"
    "class --target; examples of that class keep their labels and are perturbed\n"
    "within Linf --eps (default 16/255) so that their training gradient on\n"
    "--model aligns with the target's; signed Adam, --steps (default 250), the\n"
    "best of --restarts (default 8); --rate is the share of the training set,\n"
    "the paper's budget, e.g. 0.01; --ensemble adds crafting models, the same\n"
    "architecture trained with other seeds, and the poisons match all of them\n"
    "on average, the paper's ensembles; --crop-pad P and --flip augment the\n"
    "poisons while brewing as foil train augments, the reference code's\n"
    "differentiable augmentation), feature-collision (Shafahi et al. 2018,\n"
    "poison frogs: the same aim against a victim that fine-tunes the last layer\n"
    "of --model, foil train --fine-tune; examples of class --target keep their\n"
    "labels and move until their penultimate features collide with the test\n"
    "image's while they stay close to themselves, --steps default 1000). A\n"
    "targeted-flip with --target-index flips the source examples nearest to\n"
    "that test image (--source defaults to its label). With --target-index,\n"
    "DIR also gets target_x.npy, target_y.npy: the\n"
    "image labelled with --target, so a model's accuracy on it (foil eval) is 1\n"
    "when the attack succeeded. --rate is otherwise the share of the training\n"
    "set poisoned, drawn from --seed: the same options write the same files.",
    run_poison,
    0,
};

static foil_status write_manifest(const char *path, const foil_dataset *train, const char *data,
                                  const foil_poison_options *o, const foil_poison_manifest *m, int64_t target_index,
                                  int64_t target_label, int json)
{
    cJSON *root = cJSON_CreateObject(), *idx = cJSON_CreateArray(), *before = cJSON_CreateArray(),
          *after = cJSON_CreateArray();
    cJSON_AddStringToObject(root, "attack", foil_poison_attack_name(o->attack));
    cJSON_AddStringToObject(root, "data", data);
    cJSON_AddStringToObject(root, "split", "train");
    cJSON_AddNumberToObject(root, "examples", (double)train->y.numel);
    cJSON_AddNumberToObject(root, "poisoned", (double)m->n);
    cJSON_AddNumberToObject(root, "rate", o->rate);
    cJSON_AddNumberToObject(root, "seed", (double)o->seed);
    if (o->attack == FOIL_POISON_TARGETED_FLIP) cJSON_AddNumberToObject(root, "source", (double)o->source);
    if (o->attack != FOIL_POISON_LABEL_FLIP && !o->all_to_all) cJSON_AddNumberToObject(root, "target", (double)o->target);
    if (o->attack >= FOIL_POISON_BADNETS && o->attack <= FOIL_POISON_CLEAN_LABEL)
        cJSON_AddBoolToObject(root, "all_to_all", o->all_to_all);
    if (o->attack == FOIL_POISON_BADNETS || o->attack == FOIL_POISON_CLEAN_LABEL) cJSON_AddNumberToObject(root, "patch_size", (double)(o->patch_size ? o->patch_size : 3));
    if (o->attack == FOIL_POISON_BLEND) cJSON_AddNumberToObject(root, "alpha", o->blend_alpha ? o->blend_alpha : 0.2);
    if (o->attack == FOIL_POISON_CLEAN_LABEL) {
        cJSON_AddNumberToObject(root, "eps", o->eps ? o->eps : 0.1);
        cJSON_AddNumberToObject(root, "steps", (double)(o->steps ? o->steps : 20));
    }
    if (o->attack == FOIL_POISON_FEATURE_COLLISION) {
        cJSON_AddNumberToObject(root, "steps", (double)(o->steps ? o->steps : 1000));
        cJSON_AddNumberToObject(root, "objective", m->objective);
    }
    if (o->attack == FOIL_POISON_GRADIENT_MATCHING) {
        cJSON_AddNumberToObject(root, "eps", o->eps ? o->eps : 16.0 / 255);
        cJSON_AddNumberToObject(root, "steps", (double)(o->steps ? o->steps : 250));
        cJSON_AddNumberToObject(root, "restarts", (double)(o->restarts ? o->restarts : 8));
        cJSON_AddNumberToObject(root, "crafting_models", (double)(1 + o->ensemble_size));
        cJSON_AddNumberToObject(root, "crop_pad", (double)o->crop_pad);
        cJSON_AddBoolToObject(root, "flip", o->flip);
        cJSON_AddNumberToObject(root, "objective", m->objective);
    }
    if (o->target_x) {
        cJSON_AddNumberToObject(root, "target_index", (double)target_index);
        cJSON_AddNumberToObject(root, "target_label", (double)target_label);
    }
    for (int64_t k = 0; k < m->n; k++) {
        cJSON_AddItemToArray(idx, cJSON_CreateNumber((double)m->index[k]));
        cJSON_AddItemToArray(before, cJSON_CreateNumber((double)m->label_before[k]));
        cJSON_AddItemToArray(after, cJSON_CreateNumber((double)m->label_after[k]));
    }
    cJSON_AddItemToObject(root, "index", idx);
    cJSON_AddItemToObject(root, "label_before", before);
    cJSON_AddItemToObject(root, "label_after", after);
    char *text = cJSON_PrintUnformatted(root);
    foil_status st = text ? foilWriteFileAtomic(path, text, strlen(text))
                          : foil_error(FOIL_ERR_NOMEM, "out of memory for the manifest");
    if (!st && json) {
        /* stdout: the summary, without the per-example arrays */
        cJSON_DeleteItemFromObject(root, "index");
        cJSON_DeleteItemFromObject(root, "label_before");
        cJSON_DeleteItemFromObject(root, "label_after");
        cJSON_AddStringToObject(root, "manifest", path);
        char *summary = cJSON_PrintUnformatted(root);
        if (summary) printf("%s\n", summary);
        free(summary);
    }
    free(text);
    cJSON_Delete(root);
    return st;
}

static foil_status write_pair(const char *dir, const char *stem, const foil_dataset *d)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s_x.npy", dir, stem);
    foil_status st = foil_npy_write(path, &d->x);
    snprintf(path, sizeof path, "%s/%s_y.npy", dir, stem);
    if (!st) st = foil_npy_write(path, &d->y);
    return st;
}

/* Test example `index` of test as the attack's target: *image its values,
 * and *one a dataset of that example labelled `target` (accuracy on it is
 * the attack's success). */
static foil_status target_example(const foil_dataset *test, int64_t index, int64_t target, foil_dataset *one)
{
    if (index < 0 || index >= test->y.numel)
        return foil_error(FOIL_ERR_ARG, "--target-index %lld: %s's test split has %lld examples", (long long)index,
                          test->name, (long long)test->y.numel);
    foil_status st = foil_dataset_copy(one, test);
    if (st) return st;
    const int64_t F = foil_dataset_example_size(test);
    memmove(one->x.data, foil_f32(&one->x) + index * F, (size_t)F * sizeof(float));
    one->x.shape[0] = 1, one->x.numel = F;
    one->y.shape[0] = 1, one->y.numel = 1;
    foil_i64(&one->y)[0] = target;
    return FOIL_OK;
}

static int run_poison(int argc, char **argv)
{
    foil_data_spec data = {0};
    const char *attack = NULL, *dir = NULL, *model_path = NULL, *ensemble = NULL;
    double rate = -1, alpha = 0, eps = 0;
    int64_t target = -1, source = -1, patch = 0, steps = 0, restarts = 0, target_index = -1, crop_pad = 0;
    int all_to_all = 0, json = 0, flip = 0;
    cli_option opts[] = {
        CLI_DATA_OPTIONS(data),
        {"--attack", OPT_STRING, &attack, "NAME", "label-flip, targeted-flip, badnets, blend, clean-label, "
         "gradient-matching, feature-collision", 1, 0},
        {"--rate", OPT_FLOAT, &rate, "R", "share of the training set poisoned, 0 to 1", 1, 0},
        {"--output-dir", OPT_STRING, &dir, "DIR", "where the poisoned set and manifest go", 1, 0},
        {"--target", OPT_INT, &target, "T", "the class the flip or backdoor gives", 0, 0},
        {"--source", OPT_INT, &source, "S", "targeted-flip: the class flipped", 0, 0},
        {"--all-to-all", OPT_FLAG, &all_to_all, NULL, "backdoors: label y + 1 mod classes, not --target", 0, 0},
        {"--patch-size", OPT_INT, &patch, "P", "badnets: the patch's side in pixels (default 3)", 0, 0},
        {"--alpha", OPT_FLOAT, &alpha, "A", "blend: the pattern's weight, 0 < A <= 1 (default 0.2)", 0, 0},
        {"--model", OPT_STRING, &model_path, "FILE", "clean-label, gradient-matching, feature-collision: a model "
         "trained on clean data",
         0, 0},
        {"--ensemble", OPT_STRING, &ensemble, "FILE,...", "gradient-matching: more crafting models (other seeds), "
         "the objective averaged over them and --model", 0, 0},
        {"--eps", OPT_FLOAT, &eps, "E", "clean-label: PGD's Linf radius (default 0.1); gradient-matching (16/255)", 0, 0},
        {"--steps", OPT_INT, &steps, "N", "clean-label: PGD's steps (default 20); gradient-matching (250); "
         "feature-collision (1000)", 0, 0},
        {"--restarts", OPT_INT, &restarts, "R", "gradient-matching: restarts, the best kept (default 8)", 0, 0},
        {"--target-index", OPT_INT, &target_index, "I", "gradient-matching, feature-collision, targeted-flip: the test "
         "image attacked",
         0, 0},
        {"--crop-pad", OPT_INT, &crop_pad, "P", "gradient-matching: brew through random crops after padding P pixels",
         0, 0},
        {"--flip", OPT_FLAG, &flip, NULL, "gradient-matching: brew through random horizontal flips", 0, 0},
        {"--json", OPT_FLAG, &json, NULL, "print a JSON summary", 0, 0},
    };
    cli_common common;
    int rc = cli_parse(&cli_poison, argc, argv, opts, sizeof opts / sizeof opts[0], &common);
    if (rc) return rc;
    foil_poison_options o = {.rate = rate, .source = source, .target = target, .all_to_all = all_to_all,
                             .patch_size = patch, .blend_alpha = alpha, .eps = eps, .steps = steps,
                             .restarts = restarts, .crop_pad = crop_pad, .flip = flip, .seed = (uint64_t)common.seed, .quiet = common.quiet || json};
    foil_status st = foil_poison_attack_parse(attack, &o.attack);
    if (st) return cli_usage_error(&cli_poison, "%s", foil_last_error());
    int backdoor = o.attack == FOIL_POISON_BADNETS || o.attack == FOIL_POISON_BLEND ||
                   o.attack == FOIL_POISON_CLEAN_LABEL;
    const int matching = o.attack == FOIL_POISON_GRADIENT_MATCHING || o.attack == FOIL_POISON_FEATURE_COLLISION;
    if ((o.attack == FOIL_POISON_CLEAN_LABEL || matching) != (model_path != NULL))
        return cli_usage_error(&cli_poison, "--model is for --attack clean-label, gradient-matching and "
                               "feature-collision, which need it");
    if (ensemble && o.attack != FOIL_POISON_GRADIENT_MATCHING)
        return cli_usage_error(&cli_poison, "--ensemble is for --attack gradient-matching");
    if ((crop_pad || flip) && o.attack != FOIL_POISON_GRADIENT_MATCHING)
        return cli_usage_error(&cli_poison, "--crop-pad and --flip are for --attack gradient-matching");
    if (crop_pad < 0 || crop_pad > 64) return cli_usage_error(&cli_poison, "--crop-pad must be between 0 and 64");
    if (eps < 0 || steps < 0 || restarts < 0)
        return cli_usage_error(&cli_poison, "--eps, --steps and --restarts must be >= 0");
    if ((o.attack == FOIL_POISON_TARGETED_FLIP || matching || (backdoor && !all_to_all)) && target < 0)
        return cli_usage_error(&cli_poison, "--attack %s needs --target", attack);
    if (matching && target_index < 0) return cli_usage_error(&cli_poison, "--attack %s needs --target-index", attack);
    if (target_index >= 0 && o.attack != FOIL_POISON_TARGETED_FLIP && !matching)
        return cli_usage_error(&cli_poison, "--target-index is for targeted-flip, gradient-matching and feature-collision");
    if (o.attack == FOIL_POISON_TARGETED_FLIP && source < 0 && target_index < 0)
        return cli_usage_error(&cli_poison, "--attack targeted-flip needs --source (or --target-index)");
    if (patch < 0) return cli_usage_error(&cli_poison, "--patch-size must be >= 1");
    cli_apply_common(&common);
    if ((st = foilMakeDir(dir))) return cli_fail(&cli_poison, st);
    data.seed = (uint64_t)common.seed;
    if (model_path && (st = foil_model_load(model_path, &o.model))) return cli_fail(&cli_poison, st);
    foil_model *crafters[FOIL_ENSEMBLE_MAX] = {o.model};
    int n_crafters = 1;
    if (ensemble && (st = cli_load_model_list(ensemble, crafters, &n_crafters))) {
        for (int i = 0; i < n_crafters; i++) foil_model_free(crafters[i]);
        return cli_fail(&cli_poison, st);
    }
    o.ensemble = crafters + 1, o.ensemble_size = n_crafters - 1;
    foil_dataset train = {0}, poisoned = {0}, test = {0}, triggered = {0}, one = {0};
    foil_poison_manifest m = {0};
    int64_t target_label = -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    st = foil_data_load(&data, FOIL_SPLIT_TRAIN, &train);
    if (!st && (backdoor || target_index >= 0)) st = foil_data_load(&data, FOIL_SPLIT_TEST, &test);
    if (!st && target_index >= 0) st = target_example(&test, target_index, target, &one);
    if (!st && target_index >= 0) {
        target_label = foil_i64(&test.y)[target_index];
        o.target_x = foil_f32(&one.x);
        if (o.source < 0) o.source = target_label;
        if (target_label == target)
            st = foil_error(FOIL_ERR_ARG, "--target-index %lld: that test image is already of class %lld, the --target",
                            (long long)target_index, (long long)target);
    }
    if (!st) st = foil_poison_dataset(&train, &o, &poisoned, &m);
    if (!st) st = write_pair(dir, "train", &poisoned);
    if (!st && backdoor) st = foil_poison_triggered_set(&test, &o, &triggered);
    if (!st && backdoor) st = write_pair(dir, "test_triggered", &triggered);
    if (!st && target_index >= 0) st = write_pair(dir, "target", &one);
    if (!st) st = write_manifest(path, &train, data.data, &o, &m, target_index, target_label, json);
    if (!st && !json && !common.quiet)
        printf("%s: poisoned %lld of %lld training examples of %s; wrote %s/train_x.npy, train_y.npy, manifest.json%s\n",
               foil_poison_attack_name(o.attack), (long long)m.n, (long long)train.y.numel, data.data, dir,
               backdoor ? ", test_triggered_x.npy, test_triggered_y.npy" : target_index >= 0 ? ", target_x.npy, target_y.npy" : "");
    if (!st && !json && !common.quiet && o.attack == FOIL_POISON_GRADIENT_MATCHING)
        printf("the poisons' gradient against the target's: 1 - cos = %.4f (0: aligned)\n", m.objective);
    if (!st && !json && !common.quiet && o.attack == FOIL_POISON_FEATURE_COLLISION)
        printf("the poisons' features from the target's: %.4f of their bases' squared distance\n", m.objective);
    foil_poison_manifest_free(&m);
    for (int i = 0; i < n_crafters; i++) foil_model_free(crafters[i]);
    foil_dataset_free(&train), foil_dataset_free(&poisoned), foil_dataset_free(&test), foil_dataset_free(&triggered);
    foil_dataset_free(&one);
    return st ? cli_fail(&cli_poison, st) : CLI_OK;
}
