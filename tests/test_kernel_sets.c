/*
 * tests/test_kernel_sets.c - the kernel sets (foil/cpu.h): how one is chosen,
 * and that every set this CPU runs computes the same models.
 *
 * Choice: FOIL_KERNELS picks each set the CPU supports (checked in a child
 * process per value, since the variable is read once per process), "auto"
 * and "" pick the widest, and a set the CPU lacks or the build does not have
 * is refused by name, by foil_cpu_kernels() and by every model load, never
 * run; foil_cpu_use_kernels does the same at run time.
 *
 * Agreement: each built-in architecture (mlp, cnn-small, lenet5,
 * resnet-mini), at batch 1 (the small-batch kernels: gemv tiles, the direct
 * convolution) and batch 4, in inference and training mode (batch norm's
 * batch statistics), is built under every set the CPU runs, from the same
 * seed; its logits, per-example cross-entropy losses (foil_softmax_xent, also
 * per set), input gradient and every weight gradient are compared:
 *
 *   - sets with the same arithmetic (avx2, avx512: both fuse multiply-adds,
 *     and vectors only change how many lanes one instruction holds) must agree
 *     bit for bit;
 *   - the baseline has no FMA (x86-64-v2), so each multiply-add rounds twice:
 *     it must agree with the others within REL_TOL of each tensor's largest
 *     magnitude (see REL_TOL for the measured differences).
 *
 * FOIL_TEST_VERBOSE=1 prints every comparison's largest difference.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "foil/arch.h"
#include "foil/cpu.h"
#include "foil/loss.h"
#include "foil/rng.h"
#include "model/model_internal.h"

/* Largest difference allowed between the baseline and an FMA set, relative
 * to the tensor's largest magnitude. Measured on this project's machine
 * (AMD EPYC Zen 2, avx2 against baseline, every case below; FOIL_TEST_VERBOSE=1):
 * at most 4.8e-7 for logits and losses, 8.7e-6 for gradients (resnet-mini's
 * weight gradients through batch norm's batch statistics at batch 1; 1e-6
 * elsewhere): float32 rounding (6e-8 per operation) grown through up to 20
 * layers. 1e-4 leaves a 10x margin for CPUs whose OpenBLAS kernels round
 * differently (changing what later layers see), while an ISA-specific
 * mistake is off by far more (a vector tail load short by one lane, tried
 * under __AVX2__ only: 0.16 on mlp's logits). */
#define REL_TOL 1e-4

#define MAX_SETS 4

static int verbose;

/* The sets this CPU runs, from foil_cpu_supported() ("baseline avx2"). */
static int supported_sets(char names[MAX_SETS][16])
{
    const char *list = foil_cpu_supported();
    int n = 0;
    while (*list && n < MAX_SETS) {
        size_t len = strcspn(list, " ");
        assert_true(len > 0 && len < 16);
        memcpy(names[n], list, len);
        names[n++][len] = '\0';
        list += len;
        list += strspn(list, " ");
    }
    return n;
}

static int in_list(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; (p = strstr(p, name)) != NULL; p += len)
        if ((p == list || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0')) return 1;
    return 0;
}

/* ---------------------------------------------------------------------------
 * FOIL_KERNELS, in a child process (read once per process)
 */

/* The child's foil_cpu_kernels() under FOIL_KERNELS=value (NULL: unset), or
 * "error: MESSAGE"; and whether building a model there failed, and how. */
static void choice_in_child(const char *value, char *kernels, size_t cap, char *load_error, size_t load_cap)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        if (value) setenv("FOIL_KERNELS", value, 1);
        else unsetenv("FOIL_KERNELS");
        char out[2048];
        const char *k = foil_cpu_kernels();
        int used = snprintf(out, sizeof out, "%s", k ? k : "error: ");
        if (!k) used += snprintf(out + used, sizeof out - (size_t)used, "%s", foil_last_error());
        foil_arch_spec s = {.name = "mlp", .input_rank = 2, .input_shape = {4}, .classes = 2, .seed = 1};
        foil_model *m = NULL;
        foil_status st = foil_arch_build(&s, &m);
        snprintf(out + used + 1, sizeof out - (size_t)used - 1, "%s", st ? foil_last_error() : "");
        foil_model_free(m);
        ssize_t w = write(fds[1], out, sizeof out);
        _exit(w == (ssize_t)sizeof out ? 0 : 1);
    }
    close(fds[1]);
    char out[2048] = "";
    size_t got = 0;
    ssize_t r;
    while (got < sizeof out && (r = read(fds[0], out + got, sizeof out - got)) > 0) got += (size_t)r;
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(got, sizeof out);
    snprintf(kernels, cap, "%s", out);
    snprintf(load_error, load_cap, "%s", out + strlen(out) + 1);
}

static void test_environment_picks_the_set(void **state)
{
    (void)state;
    char sets[MAX_SETS][16], kernels[1024], load_error[1024];
    int n = supported_sets(sets);
    assert_true(n >= 1);
    if (verbose) printf("built: %s; this CPU supports: %s\n", foil_cpu_built(), foil_cpu_supported());

    /* unset, empty and "auto": the widest set the CPU runs */
    const char *automatic[] = {NULL, "", "auto"};
    for (int i = 0; i < 3; i++) {
        choice_in_child(automatic[i], kernels, sizeof kernels, load_error, sizeof load_error);
        assert_string_equal(kernels, sets[n - 1]);
        assert_string_equal(load_error, "");
    }
    /* each supported set, by name */
    for (int i = 0; i < n; i++) {
        choice_in_child(sets[i], kernels, sizeof kernels, load_error, sizeof load_error);
        assert_string_equal(kernels, sets[i]);
        assert_string_equal(load_error, "");
    }
    /* a built set this CPU cannot run (only on CPUs that lack one), a set this
     * build lacks, and no set at all: refused by name, and so is a model */
    static const char *const names[] = {"baseline", "avx2", "avx512", "native"};
    int refused_for_cpu = 0;
    for (int i = 0; i < 4; i++) {
        if (in_list(foil_cpu_supported(), names[i])) continue;
        const int built = in_list(foil_cpu_built(), names[i]);
        const char *why = built ? "this CPU cannot run" : "this build has no";
        refused_for_cpu += built;
        choice_in_child(names[i], kernels, sizeof kernels, load_error, sizeof load_error);
        if (!strstr(kernels, "error: FOIL_KERNELS=") || !strstr(kernels, names[i]) || !strstr(kernels, why))
            fail_msg("FOIL_KERNELS=%s gave '%s'", names[i], kernels);
        if (!strstr(load_error, "FOIL_KERNELS=") || !strstr(load_error, why))
            fail_msg("a model under FOIL_KERNELS=%s failed with '%s'", names[i], load_error);
    }
    choice_in_child("avx3000", kernels, sizeof kernels, load_error, sizeof load_error);
    if (!strstr(kernels, "error: FOIL_KERNELS=avx3000: there is no 'avx3000' kernel set") || !load_error[0])
        fail_msg("FOIL_KERNELS=avx3000 gave '%s' (model: '%s')", kernels, load_error);
    if (verbose) printf("%d built set(s) refused for this CPU\n", refused_for_cpu);
}

static void test_use_kernels(void **state)
{
    (void)state;
    char sets[MAX_SETS][16];
    int n = supported_sets(sets);
    const FoilOp *conv[MAX_SETS];
    for (int i = 0; i < n; i++) {
        assert_int_equal(foil_cpu_use_kernels(sets[i]), FOIL_OK);
        assert_string_equal(foil_cpu_kernels(), sets[i]);
        conv[i] = foilOpFind("Conv");
        assert_non_null(conv[i]);
        assert_string_equal(conv[i]->type, "Conv");
        for (int j = 0; j < i; j++) assert_ptr_not_equal(conv[i], conv[j]); /* each set its own table */
    }
    /* refusals leave the set in use alone */
    assert_int_equal(foil_cpu_use_kernels("avx3000"), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "kernel set 'avx3000'"));
    assert_int_equal(foil_cpu_use_kernels(NULL), FOIL_ERR_ARG);
    if (!in_list(foil_cpu_supported(), "avx512")) {
        assert_int_equal(foil_cpu_use_kernels("avx512"), FOIL_ERR_ARG);
        assert_non_null(strstr(foil_last_error(), "avx512"));
    }
    assert_string_equal(foil_cpu_kernels(), sets[n - 1]);
    assert_int_equal(foil_cpu_use_kernels("auto"), FOIL_OK);
    assert_string_equal(foil_cpu_kernels(), sets[n - 1]);
}

/* ---------------------------------------------------------------------------
 * The same model under every set
 */

typedef struct pass {
    float *logits, *loss, *dx;
    float **dw;      /* per value index; NULL unless a trainable weight */
    int64_t n_logits, n_dx;
    int n_values;
    int64_t *dw_numel;
    char **names;
} pass;

static float *copy_floats(const float *p, int64_t n)
{
    float *q = malloc((size_t)(n ? n : 1) * sizeof *q);
    assert_non_null(q);
    memcpy(q, p, (size_t)n * sizeof *q);
    return q;
}

/* Build `spec` under kernel set `set`, run forward and the backward of the
 * summed cross-entropy (labels i mod classes), and keep every result. */
static pass run_under(const char *set, const foil_arch_spec *spec, int64_t batch, int training)
{
    assert_int_equal(foil_cpu_use_kernels(set), FOIL_OK);
    foil_model *m = NULL;
    if (foil_arch_build(spec, &m)) fail_msg("building %s under %s: %s", spec->name, set, foil_last_error());
    FoilGraph *g = foilGraphModelOf(m)->g;
    for (int k = 0; k < g->n_nodes; k++) assert_ptr_equal(g->nodes[k].op, foilOpFind(g->nodes[k].op_type));

    int64_t shape[5] = {batch};
    for (int d = 1; d < spec->input_rank; d++) shape[d] = spec->input_shape[d - 1];
    foil_tensor x = {0}, dlogits = {0};
    assert_int_equal(foil_tensor_alloc(&x, FOIL_F32, spec->input_rank, shape), FOIL_OK);
    foil_rng r = foil_rng_make(2024, (uint64_t)batch);
    for (int64_t i = 0; i < x.numel; i++) foil_f32(&x)[i] = foil_rng_uniform(&r);

    const foil_tensor *in[1] = {&x};
    if (foilGraphPlan(g, in)) fail_msg("plan: %s", foil_last_error());
    if (foilGraphForward(g, in, training, 7)) fail_msg("forward: %s", foil_last_error());
    const foil_tensor *y = foilGraphOutput(g, 0);
    assert_int_equal(foil_tensor_alloc(&dlogits, FOIL_F32, y->ndim, y->shape), FOIL_OK);
    int64_t *labels = malloc((size_t)batch * sizeof *labels);
    float *loss = malloc((size_t)batch * sizeof *loss);
    assert_true(labels && loss);
    for (int64_t i = 0; i < batch; i++) labels[i] = i % spec->classes;
    assert_int_equal(foil_softmax_xent(foil_f32(y), labels, batch, spec->classes, loss, foil_f32(&dlogits)),
                     FOIL_OK);
    const foil_tensor *dys[1] = {&dlogits};
    if (foilGraphBackward(g, dys, FOIL_GRAD_PARAMS | FOIL_GRAD_INPUTS)) fail_msg("backward: %s", foil_last_error());

    pass p = {.n_logits = y->numel, .n_dx = x.numel, .n_values = g->n_values};
    p.logits = copy_floats(foil_f32(y), y->numel);
    p.loss = loss;
    p.dx = copy_floats(foil_f32(foilGraphInputGrad(g, 0)), x.numel);
    p.dw = calloc((size_t)g->n_values, sizeof *p.dw);
    p.dw_numel = calloc((size_t)g->n_values, sizeof *p.dw_numel);
    p.names = calloc((size_t)g->n_values, sizeof *p.names);
    assert_true(p.dw && p.dw_numel && p.names);
    for (int i = 0; i < g->n_values; i++) {
        const FoilValue *v = &g->values[i];
        if (v->kind != FOIL_VALUE_PARAM || !v->trainable) continue;
        p.dw[i] = copy_floats(foil_f32(&v->grad), v->grad.numel);
        p.dw_numel[i] = v->grad.numel;
        p.names[i] = strdup(v->name);
    }
    free(labels);
    foil_tensor_free(&x);
    foil_tensor_free(&dlogits);
    foil_model_free(m);
    return p;
}

static void free_pass(pass *p)
{
    for (int i = 0; i < p->n_values; i++) free(p->dw[i]), free(p->names[i]);
    free(p->dw), free(p->dw_numel), free(p->names);
    free(p->logits), free(p->loss), free(p->dx);
}

/* Largest |a - b| over the largest |b|; fails on a non-finite value. */
static double rel_diff(const float *a, const float *b, int64_t n)
{
    double diff = 0, scale = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i])) fail_msg("non-finite value at %lld", (long long)i);
        diff = fmax(diff, fabs((double)a[i] - (double)b[i]));
        scale = fmax(scale, fabs((double)b[i]));
    }
    return scale > 0 ? diff / scale : diff;
}

/* One tensor of set `a` against the same of set `b`: bitwise, or within REL_TOL. */
static double compare(const char *what, const char *tensor, const char *a, const char *b, const float *x,
                      const float *y, int64_t n, int bitwise)
{
    double d = rel_diff(x, y, n);
    if (bitwise && memcmp(x, y, (size_t)n * sizeof *x) != 0)
        fail_msg("%s: %s: %s and %s differ (by %.3g of its largest value), where the arithmetic is the same",
                 what, tensor, a, b, d);
    if (!bitwise && !(d <= REL_TOL))
        fail_msg("%s: %s: %s and %s differ by %.3g of its largest value (allowed %g)", what, tensor, a, b, d,
                 REL_TOL);
    return d;
}

/* Does set `name` fuse multiply-adds (everything but the baseline)? */
static int has_fma(const char *name) { return strcmp(name, "baseline") != 0; }

static void compare_passes(const char *what, const char *a, const char *b, const pass *pa, const pass *pb,
                           int64_t batch)
{
    const int bitwise = has_fma(a) == has_fma(b);
    double worst_out = 0, worst_grad = 0;
    worst_out = fmax(worst_out, compare(what, "logits", a, b, pa->logits, pb->logits, pa->n_logits, bitwise));
    worst_out = fmax(worst_out, compare(what, "losses", a, b, pa->loss, pb->loss, batch, bitwise));
    worst_grad = fmax(worst_grad, compare(what, "input gradient", a, b, pa->dx, pb->dx, pa->n_dx, bitwise));
    int weights = 0;
    for (int i = 0; i < pa->n_values; i++) {
        if (!pa->dw[i]) continue;
        assert_non_null(pb->dw[i]);
        char tensor[160];
        snprintf(tensor, sizeof tensor, "gradient of '%s'", pa->names[i]);
        worst_grad = fmax(worst_grad, compare(what, tensor, a, b, pa->dw[i], pb->dw[i], pa->dw_numel[i], bitwise));
        weights++;
    }
    assert_true(weights >= 2);
    if (verbose)
        printf("%-34s %-8s vs %-8s %s: outputs %.2g, gradients %.2g (%d weights)\n", what, a, b,
               bitwise ? "bitwise" : "relative", worst_out, worst_grad, weights);
}

static void test_sets_agree(void **state)
{
    (void)state;
    char sets[MAX_SETS][16];
    int n = supported_sets(sets);
    if (n < 2) {
        print_message("only the %s set runs on this CPU: nothing to compare\n", sets[0]);
        skip();
    }
    static const struct { const char *arch; int rank; int64_t shape[3]; int64_t classes; } archs[] = {
        {"mlp", 2, {30}, 3},
        {"cnn-small", 4, {1, 28, 28}, 10},
        {"lenet5", 4, {1, 28, 28}, 10},
        {"resnet-mini", 4, {3, 32, 32}, 10},
    };
    static const int64_t batches[] = {1, 4};
    for (size_t a = 0; a < sizeof archs / sizeof archs[0]; a++)
        for (int bi = 0; bi < 2; bi++)
            for (int training = 0; training <= 1; training++) {
                foil_arch_spec spec = {.name = archs[a].arch, .input_rank = archs[a].rank,
                                       .classes = archs[a].classes, .seed = 5};
                memcpy(spec.input_shape, archs[a].shape, sizeof archs[a].shape);
                char what[96];
                snprintf(what, sizeof what, "%s batch %lld %s", spec.name, (long long)batches[bi],
                         training ? "training" : "inference");
                pass p[MAX_SETS];
                for (int s = 0; s < n; s++) p[s] = run_under(sets[s], &spec, batches[bi], training);
                for (int s = 1; s < n; s++)
                    for (int t = 0; t < s; t++) compare_passes(what, sets[s], sets[t], &p[s], &p[t], batches[bi]);
                for (int s = 0; s < n; s++) free_pass(&p[s]);
            }
    assert_int_equal(foil_cpu_use_kernels("auto"), FOIL_OK);
}

int main(void)
{
    verbose = getenv("FOIL_TEST_VERBOSE") && atoi(getenv("FOIL_TEST_VERBOSE"));
    /* The environment is read in children: the parent's own choice must not
     * depend on a FOIL_KERNELS the caller set. */
    unsetenv("FOIL_KERNELS");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_environment_picks_the_set),
        cmocka_unit_test(test_use_kernels),
        cmocka_unit_test(test_sets_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
