/*
 * tests/test_onnx_conformance.c - run the official ONNX backend test cases
 * shipped in Debian's libonnx-testdata against foil's engine.
 *
 * For every case directory (model.onnx + test_data_set_N/{input,output}_K.pb)
 * under data/node, data/pytorch-converted and data/pytorch-operator:
 *   - a case using an operator foil does not implement is SKIPPED;
 *   - every other case must reproduce every stored output (rtol 1e-3,
 *     atol 1e-5; integer outputs exactly), or it FAILS;
 *   - a handful of cases are EXCLUDED, each with its reason below.
 * Prints pass/fail/skip counts by operator. Exits 77 (skip) when the test
 * data is not installed.
 *
 * Usage: test_onnx_conformance [-v] [DATA_DIR] [CASE_SUBSTRING]
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/onnx.h"
#include "nn/graph.h"
#include "onnx.pb-c.h"

#define DEFAULT_DATA "/usr/share/libonnx-testdata/data"
#define RTOL 1e-3
#define ATOL 1e-5

/* Cases that no engine but the reference can pass, or that exercise ONNX
 * value types foil deliberately does not model. */
static const struct {
    const char *name;
    const char *reason;
} excluded[] = {
    {"test_training_dropout", "random mask drawn from numpy's global RNG"},
    {"test_training_dropout_default", "random mask drawn from numpy's global RNG"},
    {"test_training_dropout_default_mask", "random mask drawn from numpy's global RNG"},
    {"test_training_dropout_mask", "random mask drawn from numpy's global RNG"},
    {"test_identity_sequence", "sequence-typed values (foil models tensors only)"},
    {"test_identity_opt", "optional-typed values (foil models tensors only)"},
};

typedef struct op_count {
    char op[64];
    int pass, fail, skip;
} op_count;

static op_count counts[256];
static int n_counts;
static int verbose;

static op_count *count_for(const char *op)
{
    for (int i = 0; i < n_counts; i++)
        if (strcmp(counts[i].op, op) == 0) return &counts[i];
    if (n_counts == 256) return &counts[255];
    snprintf(counts[n_counts].op, sizeof counts[n_counts].op, "%s", op);
    return &counts[n_counts++];
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted subdirectory names of dir (caller frees). */
static int list_dirs(const char *dir, char ***out)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0, cap = 64;
    char **names = malloc((size_t)cap * sizeof *names);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) continue;
        if (n == cap) names = realloc(names, (size_t)(cap *= 2) * sizeof *names);
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    *out = names;
    return n;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

static double as_double(const foil_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case FOIL_F32: return ((const float *)t->data)[i];
    case FOIL_F64: return ((const double *)t->data)[i];
    case FOIL_I64: return (double)((const int64_t *)t->data)[i];
    case FOIL_I32: return ((const int32_t *)t->data)[i];
    case FOIL_I16: return ((const int16_t *)t->data)[i];
    case FOIL_U16: return ((const uint16_t *)t->data)[i];
    case FOIL_I8: return ((const int8_t *)t->data)[i];
    case FOIL_U8: case FOIL_BOOL: return ((const uint8_t *)t->data)[i];
    case FOIL_U32: return ((const uint32_t *)t->data)[i];
    case FOIL_U64: return (double)((const uint64_t *)t->data)[i];
    default: return NAN;
    }
}

static int compare(const foil_tensor *got, const foil_tensor *want, char *why, size_t whylen)
{
    char a[128], b[128];
    if (got->dtype != want->dtype) {
        snprintf(why, whylen, "dtype %s, expected %s", foil_dtype_name(got->dtype), foil_dtype_name(want->dtype));
        return 0;
    }
    if (got->numel != want->numel || (!foil_tensor_same_shape(got, want) && want->ndim != 0)) {
        snprintf(why, whylen, "shape %s, expected %s", foil_shape_str(got, a, sizeof a), foil_shape_str(want, b, sizeof b));
        return 0;
    }
    int is_float = want->dtype == FOIL_F32 || want->dtype == FOIL_F64;
    for (int64_t i = 0; i < want->numel; i++) {
        double g = as_double(got, i), w = as_double(want, i);
        int ok = is_float ? (isnan(w) ? isnan(g) : fabs(g - w) <= ATOL + RTOL * fabs(w)) : g == w;
        if (!ok) {
            snprintf(why, whylen, "element %lld is %.7g, expected %.7g", (long long)i, g, w);
            return 0;
        }
    }
    return 1;
}

/* Runs one test_data_set directory; returns 1 on pass. */
static int run_data_set(FoilGraph *g, const char *dir, char *why, size_t whylen)
{
    foil_tensor inputs[64] = {{0}}, want = {0};
    const foil_tensor *ptrs[64];
    int ok = 1;
    for (int i = 0; i < g->n_inputs && i < 64; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/input_%d.pb", dir, i);
        if (foilOnnxReadTensor(path, &inputs[i])) {
            snprintf(why, whylen, "%s", foil_last_error());
            ok = 0;
            break;
        }
        ptrs[i] = &inputs[i];
    }
    if (ok && (foilGraphPlan(g, ptrs) || foilGraphForward(g, ptrs, 0, 0))) {
        snprintf(why, whylen, "%s", foil_last_error());
        ok = 0;
    }
    for (int k = 0; ok && k < g->n_outputs; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/output_%d.pb", dir, k);
        if (foilOnnxReadTensor(path, &want)) {
            snprintf(why, whylen, "%s", foil_last_error());
            ok = 0;
            break;
        }
        char sub[512];
        if (!compare(foilGraphOutput(g, k), &want, sub, sizeof sub)) {
            snprintf(why, whylen, "output %d: %s", k, sub);
            ok = 0;
        }
        foil_tensor_free(&want);
    }
    for (int i = 0; i < 64; i++) foil_tensor_free(&inputs[i]);
    return ok;
}

/* Op types of a model, read without building a graph (so that cases with
 * unsupported ops are classified even though they fail to load). */
static int first_unsupported_op(const char *model_path, char *op, size_t oplen, char ops[][64], int *n_ops)
{
    FILE *f = fopen(model_path, "rb");
    *n_ops = 0;
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)len + 1);
    size_t got = fread(buf, 1, (size_t)len, f);
    fclose(f);
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, got, buf);
    free(buf);
    if (!mp || !mp->graph) return 0;
    int unsupported = 0;
    for (size_t k = 0; k < mp->graph->n_node; k++) {
        const char *t = mp->graph->node[k]->op_type;
        int seen = 0;
        for (int j = 0; j < *n_ops; j++) seen |= strcmp(ops[j], t) == 0;
        if (!seen && *n_ops < 16) snprintf(ops[(*n_ops)++], 64, "%s", t);
        if (!unsupported && !foilOpFind(t)) {
            snprintf(op, oplen, "%s", t);
            unsupported = 1;
        }
    }
    onnx__model_proto__free_unpacked(mp, NULL);
    return unsupported;
}

/* Families of cases excluded by name: the cases of `prefix` whose name
 * contains `part`. */
static const struct {
    const char *prefix, *part, *reason;
} excluded_families[] = {
    {"test_cast", "FLOAT16", "float16/bfloat16 tensors (foil's tensors have no such element type)"},
    {"test_cast", "STRING", "string tensors (foil models numeric tensors only)"},
    {"test_max", "float16", "float16 tensors (foil's tensors have no such element type)"},
    {"test_min", "float16", "float16 tensors (foil's tensors have no such element type)"},
    {"test_mod", "float16", "float16 tensors (foil's tensors have no such element type)"},
};

static const char *exclusion_reason(const char *name)
{
    for (size_t i = 0; i < sizeof excluded / sizeof excluded[0]; i++)
        if (strcmp(excluded[i].name, name) == 0) return excluded[i].reason;
    for (size_t i = 0; i < sizeof excluded_families / sizeof excluded_families[0]; i++)
        if (strncmp(name, excluded_families[i].prefix, strlen(excluded_families[i].prefix)) == 0 &&
            strstr(name, excluded_families[i].part))
            return excluded_families[i].reason;
    return NULL;
}

static int total_pass, total_fail, total_skip, total_excluded;

static void run_case(const char *suite, const char *dir, const char *name)
{
    char model[4096], op[64], ops[16][64];
    int n_ops;
    snprintf(model, sizeof model, "%s/%s/model.onnx", dir, name);
    if (first_unsupported_op(model, op, sizeof op, ops, &n_ops)) {
        count_for(op)->skip++;
        total_skip++;
        if (verbose) printf("SKIP %s/%s (op %s not supported)\n", suite, name, op);
        return;
    }
    /* Cases are attributed to their first op (models with several ops are
     * PyTorch exports like AvgPool1d = Unsqueeze + AveragePool + Squeeze). */
    const char *main_op = n_ops ? ops[0] : "?";
    for (int j = 0; j < n_ops; j++)
        if (strcmp(ops[j], "Unsqueeze") && strcmp(ops[j], "Squeeze") && strcmp(ops[j], "Constant")) {
            main_op = ops[j];
            break;
        }
    const char *reason = exclusion_reason(name);
    if (reason) {
        total_excluded++;
        printf("EXCLUDED %s/%s: %s\n", suite, name, reason);
        return;
    }
    char why[1024] = "";
    FoilGraph *g = NULL;
    int ok = foilOnnxLoad(model, &g) == FOIL_OK;
    if (!ok) snprintf(why, sizeof why, "%s", foil_last_error());
    char sets_dir[4096];
    snprintf(sets_dir, sizeof sets_dir, "%s/%s", dir, name);
    char **sets = NULL;
    int n_sets = ok ? list_dirs(sets_dir, &sets) : 0;
    if (ok && n_sets <= 0) {
        ok = 0;
        snprintf(why, sizeof why, "no test_data_set directories");
    }
    for (int s = 0; ok && s < n_sets; s++) {
        char set_dir[4096];
        snprintf(set_dir, sizeof set_dir, "%s/%s", sets_dir, sets[s]);
        ok = run_data_set(g, set_dir, why, sizeof why);
    }
    if (sets) free_names(sets, n_sets);
    foilGraphFree(g);
    op_count *c = count_for(main_op);
    if (ok) {
        c->pass++;
        total_pass++;
        if (verbose) printf("PASS %s/%s\n", suite, name);
    } else {
        c->fail++;
        total_fail++;
        printf("FAIL %s/%s: %s\n", suite, name, why);
    }
}

static int cmp_count(const void *a, const void *b)
{
    return strcmp(((const op_count *)a)->op, ((const op_count *)b)->op);
}

int main(int argc, char **argv)
{
    const char *data = DEFAULT_DATA;
    const char *filter = NULL;
    int argi = 1;
    if (argi < argc && strcmp(argv[argi], "-v") == 0) { verbose = 1; argi++; }
    if (argi < argc) data = argv[argi++];
    if (argi < argc) filter = argv[argi++];
    static const char *suites[] = {"node", "pytorch-converted", "pytorch-operator"};
    int found = 0;
    for (size_t s = 0; s < 3; s++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", data, suites[s]);
        char **names;
        int n = list_dirs(dir, &names);
        if (n < 0) continue;
        found = 1;
        for (int i = 0; i < n; i++)
            if (!filter || strstr(names[i], filter)) run_case(suites[s], dir, names[i]);
        free_names(names, n);
    }
    if (!found) {
        printf("SKIP: ONNX test data not found under %s (install Debian's libonnx-testdata)\n", data);
        return 77;
    }
    qsort(counts, (size_t)n_counts, sizeof counts[0], cmp_count);
    printf("\nONNX conformance by operator (supported operators only):\n");
    printf("%-28s %6s %6s\n", "operator", "pass", "fail");
    for (int i = 0; i < n_counts; i++)
        if (counts[i].pass || counts[i].fail) printf("%-28s %6d %6d\n", counts[i].op, counts[i].pass, counts[i].fail);
    printf("\nunsupported operators (cases skipped): ");
    int first = 1;
    for (int i = 0; i < n_counts; i++)
        if (counts[i].skip) {
            printf("%s%s %d", first ? "" : ", ", counts[i].op, counts[i].skip);
            first = 0;
        }
    printf("\n\nconformance: %d passed, %d failed, %d skipped (unsupported op), %d excluded\n", total_pass, total_fail,
           total_skip, total_excluded);
    return total_fail ? 1 : 0;
}
