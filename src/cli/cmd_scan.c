/*
 * cli/cmd_scan.c - foil scan: find poison in a training set with a model
 * trained on it (foil/scan.h), scored against foil poison's manifest.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "foil/eval.h"
#include "foil/npy.h"
#include "foil/scan.h"
#include "io/file.h"
#include "report/report.h"

static int run_scan(int argc, char **argv);

const cli_command cli_scan = {
    "scan", "find poison: in training data (spectral, clustering), inputs (STRIP), models (Neural Cleanse)",
    "--model M.onnx --data DATA [--method spectral|clustering|loss] [--eps E] [--dims K]\n"
    "                 [--size-threshold T | --trusted DATA] [--manifest manifest.json] [--output-dir DIR] [--json]\n"
    "       foil scan --model M.onnx --data DATA --method strip --triggered X.npy [--overlays N] [--fpr F]\n"
    "       foil scan --model M.onnx --data DATA --method cleanse [--limit N] [--steps N] [--output-dir DIR]",
    "Reads the penultimate features (the input of the logits' linear layer) or\n"
    "the loss of every example of DATA from M, a model trained on DATA, and\n"
    "flags the examples that look poisoned, each label's examples apart:\n"
    "  spectral    Tran, Li and Madry 2018: each example's squared projection\n"
    "              on its label's top singular direction; the 1.5 eps n highest\n"
    "              of each label are flagged (--eps, the largest share of a label\n"
    "              that may be poison, default 0.1)\n"
    "  clustering  Chen et al. 2018: two k-means clusters of the label's\n"
    "              features on their top --dims principal components (default\n"
    "              10); the smaller is flagged when it holds at most\n"
    "              --size-threshold of the label (default 0.35); or, with\n"
    "              --trusted clean data (foil's addition), the cluster that\n"
    "              draws under a fifth of its share of the trusted examples\n"
    "              of the label (a trigger is what clean data lacks), which\n"
    "              also finds a poison that is half its label or more\n"
    "  loss        each example's cross-entropy under M; the 1.5 eps n highest\n"
    "              of each label are flagged (finds flipped labels, not\n"
    "              backdoors, which the model learns)\n"
    "With --manifest (foil poison's), prints precision and recall against the\n"
    "examples it says were poisoned. With --output-dir, writes\n"
    "filtered_x.npy, filtered_y.npy (the examples not flagged: retrain on\n"
    "them) and flagged.json (their indices). DATA is read whole, in order\n"
    "(the manifest's indices).\n"
    "\n"
    "--method strip (Gao et al. 2019) scans inputs at inference instead: each\n"
    "is blended half and half with --overlays clean images and scored by the\n"
    "mean entropy of M's predictions; a backdoor's trigger keeps the answer\n"
    "fixed, so triggered inputs score low. The odd examples of DATA's test\n"
    "split (all of a file) set the threshold that flags --fpr of them (default\n"
    "0.05), the even ones are the blends' pool; prints the share of the\n"
    "--triggered inputs (foil poison's test_triggered_x.npy) flagged.\n"
    "\n"
    "--method cleanse (Neural Cleanse, Wang et al. 2019) scans the model with\n"
    "no poisoned data: for every class, the smallest mask and pattern that\n"
    "send --limit clean test images (default 1000) of DATA to it (Adam,\n"
    "--steps per class, default 1200; the paper's lambda schedule), then each\n"
    "class's anomaly index |norm - median| / (1.4826 MAD); a class below the\n"
    "median with an index above 2 is flagged as a backdoor's target.\n"
    "--output-dir writes each class's trigger (mask times pattern) and mask\n"
    "as PNG.",
    run_scan,
    0,
};

/* The manifest's poisoned indices as a 0/1 array over n examples. */
static foil_status read_manifest(const char *path, int64_t n, uint8_t *poisoned, int64_t *count)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    foil_status st = foilReadFile(path, (size_t)1 << 30, &buf, &len);
    if (st) return st;
    cJSON *root = cJSON_ParseWithLength((const char *)buf, len), *idx = cJSON_GetObjectItem(root, "index");
    free(buf);
    if (!cJSON_IsArray(idx)) {
        cJSON_Delete(root);
        return foil_error(FOIL_ERR_FORMAT, "%s: not a foil poison manifest (no \"index\" array)", path);
    }
    *count = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, idx)
    {
        double v = cJSON_IsNumber(e) ? e->valuedouble : -1;
        if (!(v >= 0 && v < (double)n) || v != (double)(int64_t)v) {
            cJSON_Delete(root);
            return foil_error(FOIL_ERR_FORMAT, "%s: index %g is not an example of the data's %lld", path, v,
                              (long long)n);
        }
        *count += !poisoned[(int64_t)v];
        poisoned[(int64_t)v] = 1;
    }
    cJSON_Delete(root);
    return FOIL_OK;
}

static foil_status write_outputs(const char *dir, const foil_dataset *d, const foil_scan_result *r)
{
    foil_status st = foilMakeDir(dir);
    if (st) return st;
    const int64_t n = r->n, F = foil_dataset_example_size(d), kept = n - r->n_flagged;
    foil_tensor x = {0}, y = {0};
    int64_t shape[8];
    for (int i = 0; i < d->x.ndim && i < 8; i++) shape[i] = d->x.shape[i];
    shape[0] = kept;
    st = foil_tensor_alloc(&x, FOIL_F32, d->x.ndim, shape);
    if (!st) st = foil_tensor_alloc(&y, FOIL_I64, 1, &kept);
    cJSON *flagged = cJSON_CreateArray();
    for (int64_t i = 0, k = 0; !st && i < n; i++) {
        if (r->flagged[i]) {
            cJSON_AddItemToArray(flagged, cJSON_CreateNumber((double)i));
            continue;
        }
        memcpy(foil_f32(&x) + k * F, foil_f32(&d->x) + i * F, (size_t)F * sizeof(float));
        foil_i64(&y)[k++] = foil_i64(&d->y)[i];
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/filtered_x.npy", dir);
    if (!st) st = foil_npy_write(path, &x);
    snprintf(path, sizeof path, "%s/filtered_y.npy", dir);
    if (!st) st = foil_npy_write(path, &y);
    char *text = cJSON_PrintUnformatted(flagged);
    snprintf(path, sizeof path, "%s/flagged.json", dir);
    if (!st) st = text ? foilWriteFileAtomic(path, text, strlen(text)) : foil_error(FOIL_ERR_NOMEM, "out of memory");
    free(text);
    cJSON_Delete(flagged);
    foil_tensor_free(&x), foil_tensor_free(&y);
    return st;
}

/* The first `count` examples of t whose index is `parity` mod 2, in order. */
static foil_status every_other(const foil_tensor *t, int parity, int64_t count, foil_tensor *out)
{
    const int64_t n = t->shape[0], F = n ? t->numel / n : 0, have = (n - parity + 1) / 2;
    int64_t shape[8];
    for (int i = 0; i < t->ndim && i < 8; i++) shape[i] = t->shape[i];
    shape[0] = count < have ? count : have;
    foil_status st = foil_tensor_alloc(out, FOIL_F32, t->ndim, shape);
    for (int64_t k = 0; !st && k < shape[0]; k++)
        memcpy(foil_f32(out) + k * F, foil_f32(t) + (2 * k + parity) * F, (size_t)F * sizeof(float));
    return st;
}

/* STRIP's scores as detector scores: low entropy is flagged, so the score is -entropy. */
static foil_status strip_scores(foil_model *m, const foil_tensor *x, const foil_tensor *pool,
                                const foil_strip_options *o, float *score)
{
    const int64_t n = x->shape[0];
    double *h = malloc((size_t)(n ? n : 1) * sizeof *h);
    if (!h) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    foil_status st = foil_strip_entropy(m, x, pool, o, h);
    for (int64_t i = 0; !st && i < n; i++) score[i] = (float)-h[i];
    free(h);
    return st;
}

/* --method strip: clean inputs (the odd examples of DATA's test split) set
 * the entropy threshold at --fpr (foil_threshold_at_fpr, as the detectors
 * are calibrated); the --triggered inputs below it are flagged. The even
 * examples are the blends' pool. */
static int run_strip(foil_data_spec *data, const char *model_path, const char *triggered_path, int64_t overlays,
                     double fpr, int64_t limit, const cli_common *common, int json)
{
    foil_dataset clean = {0};
    foil_tensor pool = {0}, probes = {0}, trig_all = {0};
    foil_model *m = NULL;
    float *s_clean = NULL, *s_trig = NULL;
    foil_status st = foil_data_load(data, foil_data_is_builtin(data->data) ? FOIL_SPLIT_TEST : FOIL_SPLIT_ALL, &clean);
    if (!st) st = foil_model_load(model_path, &m);
    if (!st) st = foil_npy_read_f32(triggered_path, &trig_all);
    if (!st && (trig_all.ndim != clean.x.ndim || trig_all.shape[0] < 1 ||
                trig_all.numel / trig_all.shape[0] != foil_dataset_example_size(&clean)))
        st = foil_error(FOIL_ERR_SHAPE, "%s: the triggered inputs are not shaped like %s's examples", triggered_path,
                        data->data);
    if (!st) st = every_other(&clean.x, 0, INT64_MAX, &pool);
    if (!st) st = every_other(&clean.x, 1, limit, &probes);
    const int64_t nc = probes.ndim ? probes.shape[0] : 0;
    if (!st && nc < 2) st = foil_error(FOIL_ERR_ARG, "%s: too few clean examples to set a threshold", data->data);
    foil_tensor trig = {0};
    if (!st) trig = cli_rows_of(&trig_all, 0, limit < trig_all.shape[0] ? limit : trig_all.shape[0]);
    const int64_t nt = st ? 0 : trig.shape[0];
    if (!st) {
        s_clean = malloc((size_t)nc * sizeof *s_clean), s_trig = malloc((size_t)nt * sizeof *s_trig);
        if (!s_clean || !s_trig) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    foil_strip_options o = {.overlays = overlays, .seed = (uint64_t)common->seed};
    if (!st) st = strip_scores(m, &probes, &pool, &o, s_clean);
    o.seed = (uint64_t)common->seed + 1; /* other blends for the other inputs */
    if (!st) st = strip_scores(m, &trig, &pool, &o, s_trig);
    if (!st) {
        const float t = foil_threshold_at_fpr(s_clean, nc, fpr);
        const double fpr_got = foil_rate_above(s_clean, nc, t), tpr = foil_rate_above(s_trig, nt, t),
                     auc = foil_roc_auc(s_clean, nc, s_trig, nt);
        if (json) {
            cJSON *root = cJSON_CreateObject();
            cJSON_AddStringToObject(root, "model", model_path);
            cJSON_AddStringToObject(root, "method", "strip");
            cJSON_AddNumberToObject(root, "overlays", (double)(overlays ? overlays : 100));
            cJSON_AddNumberToObject(root, "clean", (double)nc);
            cJSON_AddNumberToObject(root, "triggered", (double)nt);
            cJSON_AddNumberToObject(root, "threshold_bits", -(double)t);
            cJSON_AddNumberToObject(root, "fpr", fpr_got);
            cJSON_AddNumberToObject(root, "tpr", tpr);
            if (isfinite(auc)) cJSON_AddNumberToObject(root, "roc_auc", auc);
            char *text = cJSON_PrintUnformatted(root);
            if (text) printf("%s\n", text);
            free(text);
            cJSON_Delete(root);
        } else {
            printf("strip: entropy threshold %.4g bits; %.1f%% of %lld clean inputs below it (false positives), "
                   "%.1f%% of %lld triggered inputs (true positives); ROC AUC %.3f\n",
                   -(double)t, 100 * fpr_got, (long long)nc, 100 * tpr, (long long)nt, auc);
        }
    }
    free(s_clean), free(s_trig);
    foil_tensor_free(&pool), foil_tensor_free(&probes), foil_tensor_free(&trig_all);
    foil_model_free(m);
    foil_dataset_free(&clean);
    return st ? cli_fail(&cli_scan, st) : CLI_OK;
}

/* One PNG of width x height from floats v (channels planes, values in
 * [lo, hi] of the first feature's range), 8-bit. */
static foil_status write_png(const char *path, const float *v, int64_t channels, int64_t h, int64_t w, float lo,
                             float hi)
{
    const int64_t ch = channels == 3 ? 3 : 1;
    uint8_t *px = malloc((size_t)(h * w * ch));
    if (!px) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++)
            for (int64_t c = 0; c < ch; c++) {
                double u = hi > lo ? ((double)v[(c * h + y) * w + x] - lo) / (hi - lo) : 0;
                px[(y * w + x) * ch + c] = (uint8_t)(u <= 0 ? 0 : u >= 1 ? 255 : lround(255 * u));
            }
    FoilPng png = {0};
    foil_status st = foilPngEncode(px, (int)w, (int)h, (int)ch, &png);
    if (!st) st = foilWriteFileAtomic(path, png.data, png.size);
    foilPngFree(&png);
    free(px);
    return st;
}

/* --method cleanse: Neural Cleanse on DATA's test images (the first --limit). */
static int run_cleanse(foil_data_spec *data, const char *model_path, int64_t limit, int64_t steps, const char *dir,
                       const cli_common *common, int json)
{
    foil_dataset d = {0};
    foil_model *m = NULL;
    foil_cleanse_result r = {0};
    foil_tensor img = {0};
    foil_status st = foil_data_load(data, foil_data_is_builtin(data->data) ? FOIL_SPLIT_TEST : FOIL_SPLIT_ALL, &d);
    if (!st) st = foil_model_load(model_path, &m);
    if (!st && (!d.is_image || !d.lower.data))
        st = foil_error(FOIL_ERR_ARG, "neural cleanse: %s is not a set of images with an input range", data->data);
    if (!st) img = cli_rows_of(&d.x, 0, d.x.shape[0] < limit ? d.x.shape[0] : limit);
    foil_cleanse_options o = {.steps = steps, .seed = (uint64_t)common->seed, .quiet = common->quiet || json};
    if (!st) st = foil_neural_cleanse(m, &img, foil_f32(&d.lower), foil_f32(&d.upper), &o, &r);
    const int64_t h = img.shape[img.ndim - 2], w = img.shape[img.ndim - 1], f = foil_dataset_example_size(&d);
    if (!st && dir) st = foilMakeDir(dir);
    for (int64_t c = 0; !st && dir && c < r.classes; c++) { /* the trigger m * p, and the mask */
        char path[4096];
        float *trig = malloc((size_t)f * sizeof *trig);
        if (!trig) {
            st = foil_error(FOIL_ERR_NOMEM, "out of memory");
            break;
        }
        for (int64_t j = 0; j < f; j++)
            trig[j] = foil_f32(&r.mask)[c * h * w + j % (h * w)] * foil_f32(&r.pattern)[c * f + j];
        snprintf(path, sizeof path, "%s/trigger-%lld.png", dir, (long long)c);
        st = write_png(path, trig, f / (h * w), h, w, foil_f32(&d.lower)[0], foil_f32(&d.upper)[0]);
        snprintf(path, sizeof path, "%s/mask-%lld.png", dir, (long long)c);
        if (!st) st = write_png(path, foil_f32(&r.mask) + c * h * w, 1, h, w, 0, 1);
        free(trig);
    }
    if (!st) {
        if (json) {
            cJSON *root = cJSON_CreateObject(), *cls = cJSON_CreateArray();
            cJSON_AddStringToObject(root, "model", model_path);
            cJSON_AddStringToObject(root, "method", "cleanse");
            cJSON_AddNumberToObject(root, "images", (double)img.shape[0]);
            for (int64_t c = 0; c < r.classes; c++) {
                cJSON *e = cJSON_CreateObject();
                cJSON_AddNumberToObject(e, "class", (double)c);
                if (isfinite(r.norm[c])) cJSON_AddNumberToObject(e, "mask_l1", r.norm[c]);
                else cJSON_AddNullToObject(e, "mask_l1");
                cJSON_AddNumberToObject(e, "success", r.success[c]);
                cJSON_AddNumberToObject(e, "anomaly_index", isfinite(r.anomaly[c]) ? r.anomaly[c] : 1e308);
                cJSON_AddItemToArray(cls, e);
            }
            cJSON_AddItemToObject(root, "classes", cls);
            cJSON_AddNumberToObject(root, "flagged", (double)r.flagged);
            cJSON_AddNumberToObject(root, "anomaly_index", r.flagged_anomaly);
            char *text = cJSON_PrintUnformatted(root);
            if (text) printf("%s\n", text);
            free(text);
            cJSON_Delete(root);
        } else {
            printf("neural cleanse of %s on %lld images: the smallest trigger per class (mask L1 norm):\n", model_path,
                   (long long)img.shape[0]);
            for (int64_t c = 0; c < r.classes; c++)
                printf("  class %lld: %8.2f  (success %.1f%%, anomaly index %.2f)\n", (long long)c, r.norm[c],
                       100 * r.success[c], r.anomaly[c]);
            if (r.flagged >= 0)
                printf("backdoor suspected: class %lld, anomaly index %.2f > 2\n", (long long)r.flagged,
                       r.flagged_anomaly);
            else
                printf("no class stands out (largest anomaly index below the median: %.2f <= 2)\n", r.flagged_anomaly);
        }
    }
    foil_cleanse_result_free(&r);
    foil_model_free(m);
    foil_dataset_free(&d);
    return st ? cli_fail(&cli_scan, st) : CLI_OK;
}

static int run_scan(int argc, char **argv)
{
    foil_data_spec data = {0};
    const char *model_path = NULL, *method = "spectral", *manifest = NULL, *dir = NULL, *triggered = NULL;
    foil_data_spec trusted = {0};
    double eps = 0.1, threshold = 0.35, fpr = 0.05;
    int64_t dims = 10, overlays = 100, limit = 1000, steps = 1200;
    int json = 0;
    cli_option opts[] = {
        {"--model", OPT_STRING, &model_path, "FILE", "ONNX classifier trained on DATA", 1, 0},
        CLI_DATA_OPTIONS(data),
        {"--method", OPT_STRING, &method, "NAME", "spectral (default), clustering, loss, strip or cleanse", 0, 0},
        {"--eps", OPT_FLOAT, &eps, "E", "spectral, loss: the largest share of a label that may be poison (0.1)", 0, 0},
        {"--dims", OPT_INT, &dims, "K", "clustering: principal components kept (10)", 0, 0},
        {"--size-threshold", OPT_FLOAT, &threshold, "T", "clustering: the largest poison cluster share (0.35)", 0, 0},
        {"--trusted", OPT_STRING, &trusted.data, "DATA", "clustering: clean reference data (a built-in: its test "
         "split), which decides the poison cluster instead of its size", 0, 0},
        {"--trusted-labels", OPT_STRING, &trusted.labels, "FILE", "labels for an NPY or IDX --trusted file", 0, 0},
        {"--manifest", OPT_STRING, &manifest, "FILE", "foil poison's manifest: precision and recall", 0, 0},
        {"--output-dir", OPT_STRING, &dir, "DIR", "write the filtered data and the flagged indices", 0, 0},
        {"--triggered", OPT_STRING, &triggered, "FILE", "strip: the inputs to scan (NPY)", 0, 0},
        {"--overlays", OPT_INT, &overlays, "N", "strip: blends per input (100)", 0, 0},
        {"--fpr", OPT_FLOAT, &fpr, "F", "strip: the share of clean inputs flagged (0.05)", 0, 0},
        {"--limit", OPT_INT, &limit, "N", "strip, cleanse: at most N clean (and N triggered) inputs (1000)", 0, 0},
        {"--steps", OPT_INT, &steps, "N", "cleanse: Adam steps per class (1200)", 0, 0},
        {"--json", OPT_FLAG, &json, NULL, "print the result as one JSON object", 0, 0},
    };
    cli_common common;
    int rc = cli_parse(&cli_scan, argc, argv, opts, sizeof opts / sizeof opts[0], &common);
    if (rc) return rc;
    const int cleanse = strcmp(method, "cleanse") == 0, strip = strcmp(method, "strip") == 0;
    foil_scan_options o = {.eps = eps, .dims = dims, .size_threshold = threshold, .seed = (uint64_t)common.seed};
    if (cleanse && (limit < 1 || steps < 1)) return cli_usage_error(&cli_scan, "--limit and --steps must be >= 1");
    if (strip && !triggered) return cli_usage_error(&cli_scan, "--method strip needs --triggered FILE");
    if (strip && (overlays < 1 || limit < 2 || !(fpr >= 0 && fpr < 1)))
        return cli_usage_error(&cli_scan, "--overlays must be >= 1, --limit >= 2 and --fpr in [0, 1)");
    if (!cleanse && !strip && foil_scan_method_parse(method, &o.method))
        return cli_usage_error(&cli_scan, "unknown scan '%s' (spectral, clustering, loss, strip or cleanse)", method);
    if (!(eps > 0 && eps <= 0.66)) return cli_usage_error(&cli_scan, "--eps must be in (0, 0.66]");
    if (dims < 1 || dims > 64) return cli_usage_error(&cli_scan, "--dims must be in [1, 64]");
    if (!(threshold > 0 && threshold < 1)) return cli_usage_error(&cli_scan, "--size-threshold must be in (0, 1)");
    if (trusted.data && o.method != FOIL_SCAN_CLUSTERING)
        return cli_usage_error(&cli_scan, "--trusted is for --method clustering");
    cli_apply_common(&common);
    data.seed = (uint64_t)common.seed;
    if (cleanse) return run_cleanse(&data, model_path, limit, steps, dir, &common, json);
    if (strip) return run_strip(&data, model_path, triggered, overlays, fpr, limit, &common, json);
    foil_dataset d = {0}, ref = {0};
    foil_model *features = NULL;
    foil_scan_result r = {0};
    uint8_t *truth = NULL;
    int64_t n_poison = 0, true_pos = 0;
    foil_status st = foil_data_load(&data, FOIL_SPLIT_ALL, &d);
    if (!st) st = o.method == FOIL_SCAN_LOSS ? foil_model_load(model_path, &features)
                                              : foil_model_load_features(model_path, NULL, &features);
    if (!st && manifest) {
        truth = calloc((size_t)(d.y.numel ? d.y.numel : 1), 1);
        st = truth ? read_manifest(manifest, d.y.numel, truth, &n_poison) : foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    if (!st && trusted.data) {
        trusted.seed = data.seed;
        st = foil_data_load(&trusted, foil_data_is_builtin(trusted.data) ? FOIL_SPLIT_TEST : FOIL_SPLIT_ALL, &ref);
        o.trusted_x = &ref.x, o.trusted_y = foil_i64(&ref.y);
        if (!st && ref.classes > d.classes)
            st = foil_error(FOIL_ERR_ARG, "--trusted %s has %lld classes, the data %lld", trusted.data,
                            (long long)ref.classes, (long long)d.classes);
    }
    if (!st) st = foil_scan_data(features, &d.x, foil_i64(&d.y), d.classes, &o, &r);
    if (!st && dir) st = write_outputs(dir, &d, &r);
    if (!st) {
        for (int64_t i = 0; truth && i < r.n; i++) true_pos += truth[i] && r.flagged[i];
        double precision = r.n_flagged ? (double)true_pos / (double)r.n_flagged : 0;
        double recall = n_poison ? (double)true_pos / (double)n_poison : 0;
        if (json) {
            cJSON *root = cJSON_CreateObject();
            cJSON_AddStringToObject(root, "model", model_path);
            cJSON_AddStringToObject(root, "data", data.data);
            cJSON_AddStringToObject(root, "method", foil_scan_method_name(o.method));
            cJSON_AddNumberToObject(root, "examples", (double)r.n);
            cJSON_AddNumberToObject(root, "flagged", (double)r.n_flagged);
            if (manifest) {
                cJSON_AddNumberToObject(root, "poisoned", (double)n_poison);
                cJSON_AddNumberToObject(root, "true_positives", (double)true_pos);
                cJSON_AddNumberToObject(root, "precision", precision);
                cJSON_AddNumberToObject(root, "recall", recall);
            }
            char *text = cJSON_PrintUnformatted(root);
            if (text) printf("%s\n", text);
            free(text);
            cJSON_Delete(root);
        } else {
            printf("%s scan of %s: %lld of %lld examples flagged\n", foil_scan_method_name(o.method), data.data,
                   (long long)r.n_flagged, (long long)r.n);
            if (manifest)
                printf("against the manifest (%lld poisoned): precision %.1f%%, recall %.1f%%\n", (long long)n_poison,
                       100 * precision, 100 * recall);
        }
    }
    free(truth);
    foil_scan_result_free(&r);
    foil_model_free(features);
    foil_dataset_free(&d), foil_dataset_free(&ref);
    return st ? cli_fail(&cli_scan, st) : CLI_OK;
}
