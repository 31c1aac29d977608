/*
 * test_poison.c - foil/poison.h: which examples each attack changes, how,
 * and that the manifest says exactly that; triggers; seeds; bad options.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "attacks/poisoning/poisoning_internal.h"
#include "data/augment.h"
#include "foil/arch.h"
#include "foil/poison.h"
#include "foil/rng.h"
#include "foil/train.h"

enum { N = 300, K = 3, H = 8, W = 8 };

/* N images of 1 x H x W in [0, 1], labels i mod K; or N rows of 5 features. */
static void make_set(foil_dataset *d, int image)
{
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", image ? "toy-images" : "toy-table");
    int64_t xs[4] = {N, 1, H, W}, ys[1] = {N}, es[3] = {1, H, W};
    int64_t F = image ? H * W : 5;
    if (!image) xs[1] = 5, es[0] = 5;
    assert_int_equal(foil_tensor_alloc(&d->x, FOIL_F32, image ? 4 : 2, xs), FOIL_OK);
    assert_int_equal(foil_tensor_alloc(&d->y, FOIL_I64, 1, ys), FOIL_OK);
    assert_int_equal(foil_tensor_alloc(&d->lower, FOIL_F32, image ? 3 : 1, es), FOIL_OK);
    assert_int_equal(foil_tensor_alloc(&d->upper, FOIL_F32, image ? 3 : 1, es), FOIL_OK);
    foil_rng rng = foil_rng_make(5, 0);
    for (int64_t i = 0; i < N * F; i++) foil_f32(&d->x)[i] = 0.25f + 0.5f * foil_rng_uniform(&rng);
    for (int64_t i = 0; i < N; i++) foil_i64(&d->y)[i] = i % K;
    for (int64_t f = 0; f < F; f++) foil_f32(&d->lower)[f] = 0.0f, foil_f32(&d->upper)[f] = 1.0f;
    d->classes = K;
    d->is_image = image;
}

/* The manifest lists exactly the examples that differ, in increasing order,
 * with their labels before and after; returns how many differ in x. */
static int64_t check_manifest(const foil_dataset *clean, const foil_dataset *p, const foil_poison_manifest *m)
{
    const int64_t F = foil_dataset_example_size(clean);
    int64_t k = 0, x_changed = 0;
    for (int64_t i = 0; i < N; i++) {
        int listed = k < m->n && m->index[k] == i;
        int64_t y0 = foil_i64(&clean->y)[i], y1 = foil_i64(&p->y)[i];
        int x_same = memcmp(foil_f32(&clean->x) + i * F, foil_f32(&p->x) + i * F, (size_t)F * sizeof(float)) == 0;
        if (!listed) {
            assert_int_equal(y0, y1);
            assert_true(x_same);
            continue;
        }
        if (k > 0) assert_true(m->index[k - 1] < i);
        assert_int_equal(m->label_before[k], y0);
        assert_int_equal(m->label_after[k], y1);
        x_changed += !x_same;
        k++;
    }
    assert_int_equal(k, m->n);
    return x_changed;
}

static void test_label_flips(void **state)
{
    (void)state;
    foil_dataset d, p, q;
    make_set(&d, 0);
    foil_poison_manifest m, m2;
    foil_poison_options o = {.attack = FOIL_POISON_LABEL_FLIP, .rate = 0.2, .seed = 3};
    assert_int_equal(foil_poison_dataset(&d, &o, &p, &m), FOIL_OK);
    assert_int_equal(m.n, 60);
    assert_int_equal(check_manifest(&d, &p, &m), 0);
    for (int64_t k = 0; k < m.n; k++) assert_true(m.label_after[k] != m.label_before[k] && m.label_after[k] < K);
    /* the same seed: the same set; another: another */
    assert_int_equal(foil_poison_dataset(&d, &o, &q, &m2), FOIL_OK);
    assert_memory_equal(m.index, m2.index, (size_t)m.n * sizeof *m.index);
    assert_memory_equal(foil_i64(&p.y), foil_i64(&q.y), N * sizeof(int64_t));
    foil_dataset_free(&q), foil_poison_manifest_free(&m2);
    o.seed = 4;
    assert_int_equal(foil_poison_dataset(&d, &o, &q, &m2), FOIL_OK);
    assert_true(memcmp(m.index, m2.index, (size_t)m.n * sizeof *m.index) != 0);
    foil_dataset_free(&q), foil_poison_manifest_free(&m2);
    foil_dataset_free(&p), foil_poison_manifest_free(&m);

    /* targeted: a share of class 1 becomes class 2 */
    o = (foil_poison_options){.attack = FOIL_POISON_TARGETED_FLIP, .rate = 0.5, .source = 1, .target = 2, .seed = 1};
    assert_int_equal(foil_poison_dataset(&d, &o, &p, &m), FOIL_OK);
    assert_int_equal(m.n, 50); /* half of the 100 of class 1 */
    check_manifest(&d, &p, &m);
    for (int64_t k = 0; k < m.n; k++) assert_true(m.label_before[k] == 1 && m.label_after[k] == 2);
    foil_dataset_free(&p), foil_poison_manifest_free(&m);

    /* aimed at one image: the 10 examples of class 1 nearest to it, no others */
    float image[5] = {0.3f, 0.7f, 0.5f, 0.4f, 0.6f};
    o = (foil_poison_options){.attack = FOIL_POISON_TARGETED_FLIP, .rate = 0.1, .source = 1, .target = 0,
                              .target_x = image};
    assert_int_equal(foil_poison_dataset(&d, &o, &p, &m), FOIL_OK);
    assert_int_equal(m.n, 10);
    check_manifest(&d, &p, &m);
    double farthest_flipped = 0, nearest_kept = INFINITY;
    for (int64_t i = 0, k = 0; i < N; i++) {
        if (foil_i64(&d.y)[i] != 1) continue;
        double dist = 0;
        for (int f = 0; f < 5; f++) dist += pow(foil_f32(&d.x)[i * 5 + f] - image[f], 2);
        int flipped = k < m.n && m.index[k] == i;
        k += flipped;
        if (flipped) farthest_flipped = fmax(farthest_flipped, dist);
        else nearest_kept = fmin(nearest_kept, dist);
    }
    assert_true(farthest_flipped <= nearest_kept);
    foil_dataset_free(&p), foil_poison_manifest_free(&m);
    foil_dataset_free(&d);
}

static void test_badnets(void **state)
{
    (void)state;
    foil_dataset d, p;
    make_set(&d, 1);
    foil_poison_manifest m;
    foil_poison_options o = {.attack = FOIL_POISON_BADNETS, .rate = 0.1, .target = 0, .patch_size = 3, .seed = 2};
    assert_int_equal(foil_poison_dataset(&d, &o, &p, &m), FOIL_OK);
    assert_int_equal(m.n, 30);
    assert_int_equal(check_manifest(&d, &p, &m), m.n);
    for (int64_t k = 0; k < m.n; k++) {
        assert_true(m.label_before[k] != 0); /* all-to-one: only other classes */
        assert_int_equal(m.label_after[k], 0);
        const float *x = foil_f32(&p.x) + m.index[k] * H * W, *x0 = foil_f32(&d.x) + m.index[k] * H * W;
        for (int r = 0; r < H; r++)
            for (int c = 0; c < W; c++) {
                int in = r >= H - 4 && r <= H - 2 && c >= W - 4 && c <= W - 2; /* 3x3, one pixel from the corner */
                if (!in) assert_true(x[r * W + c] == x0[r * W + c]);
                else assert_true(x[r * W + c] == ((r + c - (H - 4) - (W - 4)) % 2 == 0 ? 1.0f : 0.0f));
            }
    }
    foil_dataset_free(&p), foil_poison_manifest_free(&m);

    o.all_to_all = 1;
    assert_int_equal(foil_poison_dataset(&d, &o, &p, &m), FOIL_OK);
    for (int64_t k = 0; k < m.n; k++) assert_int_equal(m.label_after[k], (m.label_before[k] + 1) % K);
    foil_dataset_free(&p), foil_poison_manifest_free(&m);

    /* the triggered test set: the examples not of the target, triggered, labelled with it */
    o.all_to_all = 0;
    foil_dataset t;
    assert_int_equal(foil_poison_triggered_set(&d, &o, &t), FOIL_OK);
    assert_int_equal(t.y.numel, N - N / K);
    assert_int_equal(t.x.shape[0], N - N / K);
    for (int64_t i = 0; i < t.y.numel; i++) {
        assert_int_equal(foil_i64(&t.y)[i], 0);
        assert_true(foil_f32(&t.x)[i * H * W + (H - 4) * W + (W - 4)] == 1.0f);
    }
    /* in order: the first is the first example of class 1, triggered */
    for (int c = 0; c < W - 4; c++) assert_true(foil_f32(&t.x)[c] == foil_f32(&d.x)[H * W + c]);
    foil_dataset_free(&t);
    foil_dataset_free(&d);
}

static void test_blend(void **state)
{
    (void)state;
    foil_dataset d, p;
    make_set(&d, 1);
    foil_poison_manifest m;
    foil_poison_options o = {.attack = FOIL_POISON_BLEND, .rate = 0.2, .target = 1, .blend_alpha = 0.25, .seed = 9};
    assert_int_equal(foil_poison_dataset(&d, &o, &p, &m), FOIL_OK);
    assert_int_equal(check_manifest(&d, &p, &m), m.n);
    /* one pattern k for all: (x' - 0.75 x) / 0.25 is the same in every poisoned example, inside [0, 1] */
    double spread = 0;
    for (int f = 0; f < H * W; f++) {
        double k0 = 0, lo = INFINITY, hi = -INFINITY;
        for (int64_t q = 0; q < m.n; q++) {
            int64_t i = m.index[q];
            double k = (foil_f32(&p.x)[i * H * W + f] - 0.75 * foil_f32(&d.x)[i * H * W + f]) / 0.25;
            if (q == 0) k0 = k;
            lo = fmin(lo, k), hi = fmax(hi, k);
        }
        assert_true(hi - lo < 1e-5 && k0 >= -1e-6 && k0 <= 1 + 1e-6);
        spread += fabs(k0 - 0.5);
    }
    assert_true(spread / (H * W) > 0.15); /* uniform on [0, 1]: mean |k - 0.5| is 0.25 */
    /* the trigger alone, on fresh inputs, is the same blend */
    foil_tensor x;
    assert_int_equal(foil_tensor_copy(&x, &d.x), FOIL_OK);
    assert_int_equal(foil_poison_add_trigger(&d, &o, &x), FOIL_OK);
    int64_t i = m.index[0];
    assert_memory_equal(foil_f32(&x) + i * H * W, foil_f32(&p.x) + i * H * W, H * W * sizeof(float));
    foil_tensor_free(&x);
    foil_dataset_free(&p), foil_poison_manifest_free(&m);
    foil_dataset_free(&d);
}

static void test_bad_options(void **state)
{
    (void)state;
    foil_dataset img, tab, p;
    make_set(&img, 1), make_set(&tab, 0);
    foil_poison_manifest m;
    struct {
        const foil_dataset *d;
        foil_poison_options o;
        const char *says;
    } cases[] = {
        {&tab, {.attack = FOIL_POISON_LABEL_FLIP, .rate = 1.5}, "the rate must be in [0, 1]"},
        {&tab, {.attack = FOIL_POISON_TARGETED_FLIP, .rate = 0.1, .source = 1, .target = 3}, "target class 3 is not a class"},
        {&tab, {.attack = FOIL_POISON_TARGETED_FLIP, .rate = 0.1, .source = 2, .target = 2}, "source class 2 must be"},
        {&tab, {.attack = FOIL_POISON_BADNETS, .rate = 0.1, .target = 0}, "a trigger needs images"},
        {&img, {.attack = FOIL_POISON_BADNETS, .rate = 0.1, .target = 0, .patch_size = 8}, "does not fit 8x8 images"},
        {&img, {.attack = FOIL_POISON_BLEND, .rate = 0.1, .target = 0, .blend_alpha = 2}, "alpha must be in (0, 1]"},
        {&img, {.attack = FOIL_POISON_BADNETS, .rate = 0.9, .target = 0}, "only 200 can be poisoned"},
        {&img, {.attack = FOIL_POISON_CLEAN_LABEL, .rate = 0.1, .target = 0}, "PGD needs a model"},
        {&img, {.attack = FOIL_POISON_CLEAN_LABEL, .rate = 0.1, .all_to_all = 1}, "the backdoor is all-to-one"},
        {&img, {.attack = FOIL_POISON_GRADIENT_MATCHING, .rate = 0.1, .target = 0}, "needs a model trained on clean"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        assert_int_equal(foil_poison_dataset(cases[c].d, &cases[c].o, &p, &m), FOIL_ERR_ARG);
        if (!strstr(foil_last_error(), cases[c].says)) fail_msg("'%s' does not say '%s'", foil_last_error(), cases[c].says);
    }
    foil_poison_attack a;
    assert_int_equal(foil_poison_attack_parse("badnets", &a), FOIL_OK);
    assert_int_equal(a, FOIL_POISON_BADNETS);
    assert_int_equal(foil_poison_attack_parse("bad", &a), FOIL_ERR_ARG);
    foil_dataset_free(&img), foil_dataset_free(&tab);
}

/* An mlp on the toy images, trained a little so that its gradients are
 * those of a model that has learned something. */
static foil_model *toy_model_seeded(const foil_dataset *d, uint64_t seed)
{
    foil_arch_spec spec = {.name = "mlp", .input_rank = 4, .input_shape = {1, H, W}, .classes = K, .seed = seed};
    int64_t hidden[1] = {16};
    spec.hidden = hidden, spec.n_hidden = 1;
    foil_model *m;
    assert_int_equal(foil_arch_build(&spec, &m), FOIL_OK);
    foil_train_options o;
    foil_train_defaults(&o);
    o.epochs = 3, o.quiet = 1, o.seed = 1;
    foil_train_report r;
    assert_int_equal(foil_train(m, d, NULL, &o, &r), FOIL_OK);
    return m;
}

static foil_model *toy_model(const foil_dataset *d)
{
    return toy_model_seeded(d, 2);
}

static double summed_loss(foil_model *m, const foil_tensor *x, const int64_t *y)
{
    float loss[N];
    assert_int_equal(foil_model_loss_input_grad(m, x, y, loss, NULL, NULL), FOIL_OK);
    double s = 0;
    for (int64_t i = 0; i < x->shape[0]; i++) s += loss[i];
    return s;
}

/* foil_model_loss_param_grad against central differences of the summed
 * loss along random weight directions; get and set round-trip. */
static void test_weight_gradient(void **state)
{
    (void)state;
    foil_dataset d;
    make_set(&d, 1);
    foil_model *m = toy_model(&d);
    int64_t P;
    assert_int_equal(foil_model_param_count(m, &P), FOIL_OK);
    assert_int_equal(P, H * W * 16 + 16 + 16 * K + K);
    float *theta = malloc((size_t)P * sizeof *theta), *grad = malloc((size_t)P * sizeof *grad),
          *moved = malloc((size_t)P * sizeof *moved), *u = malloc((size_t)P * sizeof *u);
    assert_int_equal(foil_model_params_get(m, theta), FOIL_OK);
    /* 20 examples: few ReLU kinks inside the steps, little float32 rounding in the sums */
    foil_tensor x = d.x;
    x.owns_data = 0, x.shape[0] = 20, x.numel = 20 * H * W;
    const int64_t *y = foil_i64(&d.y);
    assert_int_equal(foil_model_loss_param_grad(m, &x, y, NULL, grad), FOIL_OK);
    foil_rng rng = foil_rng_make(9, 0);
    for (int trial = 0; trial < 3; trial++) {
        double along = 0, norm = 0;
        for (int64_t k = 0; k < P; k++) u[k] = (float)foil_rng_normal(&rng), norm += (double)u[k] * u[k];
        for (int64_t k = 0; k < P; k++) u[k] /= (float)sqrt(norm), along += (double)u[k] * grad[k];
        const double h = 1e-3; /* a unit direction: 3e-5 per weight */
        for (int64_t k = 0; k < P; k++) moved[k] = theta[k] + (float)h * u[k];
        assert_int_equal(foil_model_params_set(m, moved), FOIL_OK);
        double plus = summed_loss(m, &x, y);
        for (int64_t k = 0; k < P; k++) moved[k] = theta[k] - (float)h * u[k];
        assert_int_equal(foil_model_params_set(m, moved), FOIL_OK);
        double minus = summed_loss(m, &x, y);
        assert_int_equal(foil_model_params_set(m, theta), FOIL_OK);
        double fd = (plus - minus) / (2 * h);
        if (fabs(fd - along) > 0.01 * fabs(along) + 1e-3) fail_msg("weight gradient %g, differences %g", along, fd);
    }
    assert_int_equal(foil_model_params_get(m, moved), FOIL_OK);
    assert_memory_equal(moved, theta, (size_t)P * sizeof *theta);
    free(theta), free(grad), free(moved), free(u);
    foil_model_free(m);
    foil_dataset_free(&d);
}

/* The first `n` examples of class c of d, as a tensor, with their labels. */
static void class_examples(const foil_dataset *d, int64_t c, int64_t n, foil_tensor *x, int64_t *y)
{
    int64_t shape[4] = {n, 1, H, W};
    assert_int_equal(foil_tensor_alloc(x, FOIL_F32, 4, shape), FOIL_OK);
    for (int64_t i = 0, k = 0; k < n; i++)
        if (foil_i64(&d->y)[i] == c) {
            memcpy(foil_f32(x) + k * H * W, foil_f32(&d->x) + i * H * W, H * W * sizeof(float));
            y[k++] = c;
        }
}

/* The matching objective's input gradient, which foil takes by central
 * differences in weight space, against central differences of the
 * objective itself along random input directions. */
static void test_gradient_matching_gradient(void **state)
{
    (void)state;
    foil_dataset d;
    make_set(&d, 1);
    foil_model *m = toy_model(&d);
    enum { P = 8 };
    foil_tensor x = {0}, moved = {0};
    int64_t y[P];
    class_examples(&d, 2, P, &x, y);
    const float *target = foil_f32(&d.x); /* example 0, of class 0 */
    float dJ[P * H * W];
    double J, plus, minus;
    assert_int_equal(foilGradientMatchingObjective(m, &x, y, target, 2, &J, dJ), FOIL_OK);
    assert_true(J >= 0 && J <= 2);
    assert_int_equal(foil_tensor_alloc(&moved, FOIL_F32, x.ndim, x.shape), FOIL_OK);
    foil_rng rng = foil_rng_make(4, 0);
    for (int trial = 0; trial < 3; trial++) {
        /* directions along dJ, randomly reweighted (a random direction is
         * nearly orthogonal to dJ, and would test nothing) */
        float u[P * H * W];
        double along = 0, norm = 0;
        for (int k = 0; k < P * H * W; k++) {
            u[k] = dJ[k] * (float)(1 + 0.5 * foil_rng_normal(&rng));
            along += (double)u[k] * dJ[k];
            norm += (double)u[k] * u[k];
        }
        const double h = 1e-2 / sqrt(norm); /* a move of norm 0.01 */
        for (int k = 0; k < P * H * W; k++) foil_f32(&moved)[k] = foil_f32(&x)[k] + (float)h * u[k];
        assert_int_equal(foilGradientMatchingObjective(m, &moved, y, target, 2, &plus, NULL), FOIL_OK);
        for (int k = 0; k < P * H * W; k++) foil_f32(&moved)[k] = foil_f32(&x)[k] - (float)h * u[k];
        assert_int_equal(foilGradientMatchingObjective(m, &moved, y, target, 2, &minus, NULL), FOIL_OK);
        double fd = (plus - minus) / (2 * h);
        if (fabs(fd - along) > 0.01 * fabs(along)) fail_msg("matching gradient %g, differences %g", along, fd);
    }
    foil_tensor_free(&x), foil_tensor_free(&moved);
    foil_model_free(m);
    foil_dataset_free(&d);
}

/* The attack: only examples of the intended class change, within eps and
 * the input range, labels kept; the kept restart's objective is well below
 * the clean poisons'. */
static void test_gradient_matching(void **state)
{
    (void)state;
    foil_dataset d, p;
    make_set(&d, 1);
    foil_model *m = toy_model(&d);
    const float *target = foil_f32(&d.x); /* example 0, of class 0 */
    foil_poison_options o = {.attack = FOIL_POISON_GRADIENT_MATCHING, .rate = 0.1, .target = 2, .model = m,
                             .target_x = target, .eps = 0.1, .steps = 60, .restarts = 2, .seed = 3};
    foil_poison_manifest man;
    assert_int_equal(foil_poison_dataset(&d, &o, &p, &man), FOIL_OK);
    assert_int_equal(man.n, 30);
    assert_true(check_manifest(&d, &p, &man) == man.n);
    for (int64_t k = 0; k < man.n; k++) {
        assert_int_equal(man.label_before[k], 2);
        for (int64_t f = 0; f < H * W; f++) {
            float a = foil_f32(&d.x)[man.index[k] * H * W + f], b = foil_f32(&p.x)[man.index[k] * H * W + f];
            assert_true(fabsf(a - b) <= 0.1f + 1e-6f && b >= 0 && b <= 1);
        }
    }
    foil_tensor clean = {0};
    int64_t shape[4] = {man.n, 1, H, W};
    assert_int_equal(foil_tensor_alloc(&clean, FOIL_F32, 4, shape), FOIL_OK);
    for (int64_t k = 0; k < man.n; k++)
        memcpy(foil_f32(&clean) + k * H * W, foil_f32(&d.x) + man.index[k] * H * W, H * W * sizeof(float));
    double J0;
    assert_int_equal(foilGradientMatchingObjective(m, &clean, man.label_before, target, 2, &J0, NULL), FOIL_OK);
    print_message("gradient matching: 1 - cos from %.3f (clean poisons) to %.3f\n", J0, man.objective);
    assert_true(man.objective < 0.5 * J0);
    foil_tensor_free(&clean);
    foil_dataset_free(&p), foil_poison_manifest_free(&man);
    foil_model_free(m);
    foil_dataset_free(&d);
}

/* The poisons of manifest man in p, as a tensor; *clean the same examples of d. */
static void poisons_of(const foil_dataset *d, const foil_dataset *p, const foil_poison_manifest *man, foil_tensor *poisons,
                       foil_tensor *clean)
{
    int64_t shape[4] = {man->n, 1, H, W};
    assert_int_equal(foil_tensor_alloc(poisons, FOIL_F32, 4, shape), FOIL_OK);
    assert_int_equal(foil_tensor_alloc(clean, FOIL_F32, 4, shape), FOIL_OK);
    for (int64_t k = 0; k < man->n; k++) {
        memcpy(foil_f32(poisons) + k * H * W, foil_f32(&p->x) + man->index[k] * H * W, H * W * sizeof(float));
        memcpy(foil_f32(clean) + k * H * W, foil_f32(&d->x) + man->index[k] * H * W, H * W * sizeof(float));
    }
}

/* An ensemble of two crafting models (other seeds): the kept objective is
 * the mean of the two models' own, and the poisons align on each of them
 * far better than the clean examples do. */
static void test_gradient_matching_ensemble(void **state)
{
    (void)state;
    foil_dataset d, p;
    make_set(&d, 1);
    foil_model *m = toy_model(&d), *other = toy_model_seeded(&d, 5);
    const float *target = foil_f32(&d.x); /* example 0, of class 0 */
    foil_poison_options o = {.attack = FOIL_POISON_GRADIENT_MATCHING, .rate = 0.1, .target = 2, .model = m,
                             .ensemble = &other, .ensemble_size = 1, .target_x = target, .eps = 0.1, .steps = 60,
                             .restarts = 1, .seed = 3};
    foil_poison_manifest man;
    assert_int_equal(foil_poison_dataset(&d, &o, &p, &man), FOIL_OK);
    foil_tensor poisons = {0}, clean = {0};
    poisons_of(&d, &p, &man, &poisons, &clean);
    double J[2], J0[2];
    foil_model *models[2] = {m, other};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(foilGradientMatchingObjective(models[i], &poisons, man.label_before, target, 2, &J[i], NULL),
                         FOIL_OK);
        assert_int_equal(foilGradientMatchingObjective(models[i], &clean, man.label_before, target, 2, &J0[i], NULL),
                         FOIL_OK);
        print_message("ensemble, model %d: 1 - cos from %.3f (clean poisons) to %.3f\n", i, J0[i], J[i]);
        assert_true(J[i] < 0.5 * J0[i]);
    }
    assert_true(fabs(man.objective - (J[0] + J[1]) / 2) < 1e-4);
    o.ensemble_size = FOIL_ENSEMBLE_MAX;
    foil_dataset q;
    foil_poison_manifest man2;
    assert_int_equal(foil_poison_dataset(&d, &o, &q, &man2), FOIL_ERR_ARG);
    foil_tensor_free(&poisons), foil_tensor_free(&clean);
    foil_dataset_free(&p), foil_poison_manifest_free(&man);
    foil_model_free(m), foil_model_free(other);
    foil_dataset_free(&d);
}

/* The augmentation's adjoint is its transpose: <A u, v> = <u, A' v> for
 * every draw; and a draw moves pixels where it says. */
static void test_augment_adjoint(void **state)
{
    (void)state;
    enum { C = 2, AH = 5, AW = 7, F = C * AH * AW };
    float u[F], v[F], Au[F], Atv[F];
    foil_rng rng = foil_rng_make(11, 0);
    for (int k = 0; k < F; k++) u[k] = foil_rng_uniform(&rng) - 0.5f, v[k] = foil_rng_uniform(&rng) - 0.5f;
    int mirrored = 0, shifted = 0;
    for (int t = 0; t < 40; t++) {
        FoilAugmentDraw a = foilAugmentDraw(&rng, 2, 1);
        mirrored += a.mirror, shifted += a.dx != 0 || a.dy != 0;
        assert_true(a.dx >= -2 && a.dx <= 2 && a.dy >= -2 && a.dy <= 2);
        foilAugmentApply(u, Au, C, AH, AW, a);
        foilAugmentAdjoint(v, Atv, C, AH, AW, a);
        double left = 0, right = 0;
        for (int k = 0; k < F; k++) left += (double)Au[k] * v[k], right += (double)u[k] * Atv[k];
        assert_true(fabs(left - right) < 1e-5);
    }
    assert_true(mirrored > 5 && mirrored < 35 && shifted > 20);
    FoilAugmentDraw down = {1, 0, 0}, mirror = {0, 0, 1};
    foilAugmentApply(u, Au, C, AH, AW, down);
    assert_true(Au[0] == u[AW] && Au[(AH - 1) * AW] == 0.0f);
    foilAugmentApply(u, Au, C, AH, AW, mirror);
    assert_true(Au[0] == u[AW - 1] && Au[AW + 2] == u[AW + AW - 3]);
}

enum { AUG_PAD = 0 };

/* J of the poisons each augmented by draws from rng, the mean over draws. */
static double augmented_objective(foil_model *m, const foil_tensor *x, const int64_t *labels, const float *target,
                                  foil_rng *rng)
{
    foil_tensor moved = {0};
    assert_int_equal(foil_tensor_alloc(&moved, FOIL_F32, x->ndim, x->shape), FOIL_OK);
    double sum = 0;
    for (int t = 0; t < 8; t++) {
        for (int64_t k = 0; k < x->shape[0]; k++)
            foilAugmentApply(foil_f32(x) + k * H * W, foil_f32(&moved) + k * H * W, 1, H, W,
                             foilAugmentDraw(rng, AUG_PAD, 1));
        double J;
        assert_int_equal(foilGradientMatchingObjective(m, &moved, labels, target, 2, &J, NULL), FOIL_OK);
        sum += J;
    }
    foil_tensor_free(&moved);
    return sum / 8;
}

/* Brewed through random flips (the toy mlp on noise cannot follow shifts:
 * a pixel's shift is a new image to it), the poisons stay aligned under
 * fresh flips, better than the clean examples and better than poisons
 * brewed without augmentation; on a table the options are refused. */
static void test_gradient_matching_augmented(void **state)
{
    (void)state;
    foil_dataset d, p, plain;
    make_set(&d, 1);
    foil_model *m = toy_model(&d);
    const float *target = foil_f32(&d.x); /* example 0, of class 0 */
    foil_poison_options o = {.attack = FOIL_POISON_GRADIENT_MATCHING, .rate = 0.1, .target = 2, .model = m,
                             .target_x = target, .eps = 0.1, .steps = 200, .restarts = 1, .crop_pad = AUG_PAD,
                             .flip = 1, .seed = 3};
    foil_poison_manifest man, plain_man;
    assert_int_equal(foil_poison_dataset(&d, &o, &p, &man), FOIL_OK);
    assert_true(check_manifest(&d, &p, &man) == man.n);
    o.flip = 0;
    assert_int_equal(foil_poison_dataset(&d, &o, &plain, &plain_man), FOIL_OK);
    foil_tensor poisons = {0}, clean = {0}, plain_poisons = {0}, clean2 = {0};
    poisons_of(&d, &p, &man, &poisons, &clean);
    poisons_of(&d, &plain, &plain_man, &plain_poisons, &clean2);
    foil_rng rng = foil_rng_make(99, 1);
    double J = augmented_objective(m, &poisons, man.label_before, target, &rng);
    double J0 = augmented_objective(m, &clean, man.label_before, target, &rng);
    double J_plain = augmented_objective(m, &plain_poisons, plain_man.label_before, target, &rng);
    print_message("under fresh flips, 1 - cos: clean %.3f, brewed without flips %.3f (%.3f unflipped), with %.3f\n",
                  J0, J_plain, plain_man.objective, J);
    assert_true(J < 0.75 * J0 && J < J_plain);
    foil_tensor_free(&poisons), foil_tensor_free(&clean), foil_tensor_free(&plain_poisons), foil_tensor_free(&clean2);
    foil_dataset_free(&p), foil_poison_manifest_free(&man), foil_dataset_free(&plain), foil_poison_manifest_free(&plain_man);

    foil_dataset t, q;
    make_set(&t, 0);
    o.flip = 1;
    assert_int_equal(foil_poison_dataset(&t, &o, &q, &man), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "augment images"));
    o.flip = 0, o.crop_pad = 9;
    assert_int_equal(foil_poison_dataset(&d, &o, &q, &man), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "does not fit 8x8 images"));
    o.attack = FOIL_POISON_FEATURE_COLLISION, o.crop_pad = 1;
    assert_int_equal(foil_poison_dataset(&d, &o, &q, &man), FOIL_ERR_ARG);
    assert_non_null(strstr(foil_last_error(), "is for gradient matching"));
    foil_dataset_free(&t);
    foil_model_free(m);
    foil_dataset_free(&d);
}

/* Poison frogs: only examples of the base class change, labels kept,
 * inside the input range; their features move most of the way to the
 * target's (checked here from the features themselves). */
static void test_feature_collision(void **state)
{
    (void)state;
    foil_dataset d, p;
    make_set(&d, 1);
    foil_model *trained = toy_model(&d), *m, *features;
    char path[] = "/tmp/foil-test-frogs-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(foil_model_save(trained, path), FOIL_OK);
    assert_int_equal(foil_model_load(path, &m), FOIL_OK);
    assert_int_equal(foil_model_load_features(path, NULL, &features), FOIL_OK);
    const float *target = foil_f32(&d.x); /* example 0, of class 0 */
    foil_poison_options o = {.attack = FOIL_POISON_FEATURE_COLLISION, .rate = 0.05, .target = 2, .model = m,
                             .target_x = target, .steps = 300, .seed = 1};
    foil_poison_manifest man;
    assert_int_equal(foil_poison_dataset(&d, &o, &p, &man), FOIL_OK);
    assert_int_equal(man.n, 15);
    assert_true(check_manifest(&d, &p, &man) == man.n);
    foil_tensor one = {0}, f = {0};
    int64_t shape[4] = {1, 1, H, W};
    assert_int_equal(foil_tensor_alloc(&one, FOIL_F32, 4, shape), FOIL_OK);
    memcpy(one.data, target, H * W * sizeof(float));
    assert_int_equal(foil_model_predict(features, &one, &f), FOIL_OK);
    const int64_t k = f.numel;
    float *ft = malloc((size_t)k * sizeof *ft);
    memcpy(ft, f.data, (size_t)k * sizeof *ft);
    double ratio_sum = 0;
    for (int64_t i = 0; i < man.n; i++) {
        double dist[2];
        for (int which = 0; which < 2; which++) {
            const foil_dataset *src = which ? &p : &d;
            memcpy(one.data, foil_f32(&src->x) + man.index[i] * H * W, H * W * sizeof(float));
            assert_int_equal(foil_model_predict(features, &one, &f), FOIL_OK);
            dist[which] = 0;
            for (int64_t j = 0; j < k; j++) dist[which] += pow(foil_f32(&f)[j] - ft[j], 2);
        }
        ratio_sum += dist[1] / dist[0];
        assert_int_equal(man.label_before[i], 2);
        for (int64_t q = 0; q < H * W; q++) {
            float v = foil_f32(&p.x)[man.index[i] * H * W + q];
            assert_true(v >= 0 && v <= 1);
        }
    }
    print_message("feature collision: |f(x) - f(t)|^2 at %.3f of the base's (%.3f reported)\n",
                  ratio_sum / (double)man.n, man.objective);
    assert_true(fabs(ratio_sum / (double)man.n - man.objective) < 1e-3);
    assert_true(man.objective < 0.3);
    free(ft);
    foil_tensor_free(&one), foil_tensor_free(&f);
    foil_dataset_free(&p), foil_poison_manifest_free(&man);
    foil_model_free(trained), foil_model_free(m), foil_model_free(features);
    unlink(path);
    foil_dataset_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_flips),
        cmocka_unit_test(test_badnets),
        cmocka_unit_test(test_blend),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_weight_gradient),
        cmocka_unit_test(test_gradient_matching_gradient),
        cmocka_unit_test(test_gradient_matching),
        cmocka_unit_test(test_gradient_matching_ensemble),
        cmocka_unit_test(test_augment_adjoint),
        cmocka_unit_test(test_gradient_matching_augmented),
        cmocka_unit_test(test_feature_collision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
