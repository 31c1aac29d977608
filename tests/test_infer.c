/*
 * tests/test_infer.c - membership inference (foil/infer.h): the threshold
 * scores against their formulas, LiRA's statistic and Gaussian fits
 * against hand-computed values and on populations whose answer is known,
 * the shadow models' membership split, shadow models that overfit (the
 * same on any number of threads), and the shadow-model attack classifier
 * on a population where one threshold for all classes cannot work.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <omp.h>

#include "foil/arch.h"
#include "foil/eval.h"
#include "foil/infer.h"
#include "foil/rng.h"
#include "toy_data.h"

/* The scores from probabilities computed the plain way, for logits small
 * enough that the plain way is exact. */
static void test_threshold_scores(void **state)
{
    (void)state;
    enum { N = 3, C = 4 };
    const float z[N * C] = {2, 0.5f, -1, 0, 0, 0, 0, 0, -3, 4, 1, 0.25f};
    const int64_t y[N] = {0, 2, 3};
    float loss[N], conf[N], ent[N], ment[N];
    assert_int_equal(foil_membership_scores(FOIL_MI_LOSS, z, y, N, C, loss), FOIL_OK);
    assert_int_equal(foil_membership_scores(FOIL_MI_CONFIDENCE, z, y, N, C, conf), FOIL_OK);
    assert_int_equal(foil_membership_scores(FOIL_MI_ENTROPY, z, y, N, C, ent), FOIL_OK);
    assert_int_equal(foil_membership_scores(FOIL_MI_MODIFIED_ENTROPY, z, y, N, C, ment), FOIL_OK);
    for (int k = 0; k < N; k++) {
        double p[C], sum = 0, top = 0, h = 0, m = 0;
        for (int i = 0; i < C; i++) sum += p[i] = exp(z[k * C + i]);
        for (int i = 0; i < C; i++) {
            p[i] /= sum;
            if (p[i] > top) top = p[i];
            h -= p[i] * log(p[i]);
            m -= i == y[k] ? (1 - p[i]) * log(p[i]) : p[i] * log(1 - p[i]);
        }
        /* the statistics as the scores carry them: log-odds, -log */
        assert_float_equal(loss[k], log(p[y[k]] / (1 - p[y[k]])), 1e-5);
        assert_float_equal(conf[k], log(top / (1 - top)), 1e-5);
        assert_float_equal(ent[k], -log(h), 1e-5);
        assert_float_equal(ment[k], -log(m), 1e-5);
    }
    /* uniform logits: the largest entropy there is */
    assert_float_equal(ent[1], -log(log(4.0)), 1e-5);
}

/* A confident model's logits (p_y within 1e-40 of 1) keep the scores
 * finite and in the right order, where probabilities in float would tie. */
static void test_scores_stay_finite(void **state)
{
    (void)state;
    const float z[2 * 3] = {100, 0, 0, 120, 0, 0};
    const int64_t y[2] = {0, 0};
    float phi[2], loss[2], ment[2];
    assert_int_equal(foil_lira_statistic(z, y, 2, 3, phi), FOIL_OK);
    assert_float_equal(phi[0], 100 - log(2.0), 1e-3);
    assert_float_equal(phi[1], 120 - log(2.0), 1e-3);
    assert_int_equal(foil_membership_scores(FOIL_MI_LOSS, z, y, 2, 3, loss), FOIL_OK);
    assert_int_equal(foil_membership_scores(FOIL_MI_MODIFIED_ENTROPY, z, y, 2, 3, ment), FOIL_OK);
    float conf[2], ent[2];
    assert_int_equal(foil_membership_scores(FOIL_MI_CONFIDENCE, z, y, 2, 3, conf), FOIL_OK);
    assert_int_equal(foil_membership_scores(FOIL_MI_ENTROPY, z, y, 2, 3, ent), FOIL_OK);
    /* the more confident, the more member-like, by every score; -log H is
     * 100 - log(202) for the first: H = e^-100 (2 + 2 x 100) to first order */
    const float *by[4] = {loss, ment, conf, ent};
    for (int a = 0; a < 4; a++) assert_true(isfinite(by[a][0]) && isfinite(by[a][1]) && by[a][1] > by[a][0]);
    assert_float_equal(ent[0], 100 - log(202.0), 1e-3);
    /* probabilities with zeros (a top-k answer, as logits: log 0 = -inf):
     * no score is NaN; a certain, right answer is the most member-like */
    const float zk[2 * 3] = {logf(0.6f), logf(0.4f), -INFINITY, 0, -INFINITY, -INFINITY};
    for (int a = FOIL_MI_LOSS; a <= FOIL_MI_MODIFIED_ENTROPY; a++) {
        float sk[2];
        assert_int_equal(foil_membership_scores((foil_membership_attack)a, zk, y, 2, 3, sk), FOIL_OK);
        if (isnan(sk[0]) || isnan(sk[1]) || !(sk[1] > sk[0]))
            fail_msg("%s: %g, %g", foil_membership_attack_name((foil_membership_attack)a), sk[0], sk[1]);
    }
    /* a label the model all but rules out: a finite, very low score */
    const int64_t wrong[2] = {1, 1};
    assert_int_equal(foil_membership_scores(FOIL_MI_MODIFIED_ENTROPY, z, wrong, 2, 3, ment), FOIL_OK);
    assert_true(isfinite(ment[0]) && ment[0] < -4);
    const int64_t bad[2] = {0, 3};
    assert_int_equal(foil_membership_scores(FOIL_MI_LOSS, z, bad, 2, 3, loss), FOIL_ERR_ARG);
    assert_int_equal(foil_lira_statistic(z, bad, 2, 3, phi), FOIL_ERR_ARG);
    assert_int_equal(foil_membership_scores(FOIL_MI_LIRA_ONLINE, z, y, 2, 3, loss), FOIL_ERR_ARG);
}

/* One example, four shadow models (two with it: phi 3 and 5; two without:
 * 0 and 2), per-example variance: the fits by hand. */
static void test_lira_by_hand(void **state)
{
    (void)state;
    const float phi[1] = {4}, shadow[4] = {3, 0, 5, 2};
    const uint8_t in[4] = {1, 0, 1, 0};
    float online, offline;
    assert_int_equal(foil_lira_scores(phi, shadow, in, 4, 1, 1, FOIL_LIRA_VARIANCE_PER_EXAMPLE, &online), FOIL_OK);
    assert_int_equal(foil_lira_scores(phi, shadow, in, 4, 1, 0, FOIL_LIRA_VARIANCE_PER_EXAMPLE, &offline), FOIL_OK);
    const double sd = sqrt(2.0); /* both sides: deviations +-1 about the mean, n - 1 = 1 */
    const double log_in = -0.5 * pow((4 - 4) / sd, 2), log_out = -0.5 * pow((4 - 1) / sd, 2);
    assert_float_equal(online, log_in - log_out, 1e-5);
    assert_float_equal(offline, (4 - 1) / sd, 1e-5);
    /* no shadow model without it: nothing to compare with */
    const uint8_t all_in[4] = {1, 1, 1, 1};
    assert_int_equal(foil_lira_scores(phi, shadow, all_in, 4, 1, 0, FOIL_LIRA_VARIANCE_GLOBAL, &offline), FOIL_ERR_ARG);
    /* one shadow model on a side: no variance of its own */
    const uint8_t one_in[4] = {1, 0, 0, 0};
    assert_int_equal(foil_lira_scores(phi, shadow, one_in, 4, 1, 1, FOIL_LIRA_VARIANCE_PER_EXAMPLE, &online),
                     FOIL_ERR_ARG);
}

/* A population where each example has its own difficulty (its phi's
 * mean) and membership adds 1.5: LiRA, which compares each example with
 * itself, separates members far better at low FPR than a global threshold
 * on phi, which the difficulties drown. */
static void test_lira_separates_by_example(void **state)
{
    (void)state;
    enum { N = 2000, S = 16 };
    float *phi = malloc(N * sizeof *phi), *shadow = malloc(S * N * sizeof *shadow);
    float *online = malloc(N * sizeof *online), *offline = malloc(N * sizeof *offline);
    uint8_t *keep = malloc(S * N), member[N];
    assert_int_equal(foil_membership_keep(S, N, 1, keep), FOIL_OK);
    foil_rng rng = foil_rng_make(2, 0);
    for (int j = 0; j < N; j++) {
        const double difficulty = 4 * foil_rng_normal(&rng);
        member[j] = j % 2;
        phi[j] = (float)(difficulty + 1.5 * member[j] + 0.3 * foil_rng_normal(&rng));
        for (int k = 0; k < S; k++)
            shadow[k * N + j] = (float)(difficulty + 1.5 * keep[k * N + j] + 0.3 * foil_rng_normal(&rng));
    }
    assert_int_equal(foil_lira_scores(phi, shadow, keep, S, N, 1, FOIL_LIRA_VARIANCE_AUTO, online), FOIL_OK);
    assert_int_equal(foil_lira_scores(phi, shadow, keep, S, N, 0, FOIL_LIRA_VARIANCE_AUTO, offline), FOIL_OK);
    const float *scores[3] = {online, offline, phi};
    double tpr[3];
    for (int a = 0; a < 3; a++) {
        float in[N / 2], out[N / 2];
        for (int j = 0, i = 0, o = 0; j < N; j++) {
            if (member[j]) in[i++] = scores[a][j];
            else out[o++] = scores[a][j];
        }
        tpr[a] = foil_rate_above(in, N / 2, foil_threshold_at_fpr(out, N / 2, 0.01));
    }
    print_message("TPR at 1%% FPR: online %.3f, offline %.3f, global threshold %.3f\n", tpr[0], tpr[1], tpr[2]);
    assert_true(tpr[0] > 0.9 && tpr[1] > 0.5 && tpr[2] < 0.1);
    free(phi), free(shadow), free(online), free(offline), free(keep);
}

/* Every example in exactly half of the models, each model about half. */
static void test_membership_keep(void **state)
{
    (void)state;
    enum { M = 7, N = 1000 };
    uint8_t keep[M * N];
    assert_int_equal(foil_membership_keep(M, N, 3, keep), FOIL_OK);
    for (int j = 0; j < N; j++) {
        int in = 0;
        for (int k = 0; k < M; k++) in += keep[k * N + j];
        assert_int_equal(in, M / 2);
    }
    for (int k = 0; k < M; k++) {
        int in = 0;
        for (int j = 0; j < N; j++) in += keep[k * N + j];
        assert_in_range(in, N * 3 / 7 - 60, N * 3 / 7 + 60);
    }
    uint8_t again[M * N];
    assert_int_equal(foil_membership_keep(M, N, 3, again), FOIL_OK);
    assert_memory_equal(keep, again, sizeof keep);
    assert_int_equal(foil_membership_keep(0, N, 3, keep), FOIL_ERR_ARG);
}

/* Label-noise on a model that solves toy quadrant images: with noise far
 * below the quadrants' contrast every copy keeps its answer (the score is
 * 1 where the model is right, 0 where the label is wrong); with heavy
 * noise the answers scatter; scores are shares of the queries. */
static void test_label_noise(void **state)
{
    (void)state;
    enum { N = 40, Q = 20 };
    foil_dataset d;
    toy_quadrants(&d, N, 4, 6, 3);
    foil_model *m = toy_quadrant_model(0);
    int64_t y[N];
    for (int j = 0; j < N; j++) y[j] = j % 5 == 0 ? (foil_i64(&d.y)[j] + 1) % 4 : foil_i64(&d.y)[j];
    float quiet[N], loud[N];
    assert_int_equal(foil_membership_label_noise(m, &d.x, y, foil_f32(&d.lower), foil_f32(&d.upper), Q, 1e-4, 1, quiet),
                     FOIL_OK);
    float logits_buf[N * 4], gap[N];
    foil_tensor out = {0};
    assert_int_equal(foil_model_predict(m, &d.x, &out), FOIL_OK);
    memcpy(logits_buf, out.data, sizeof logits_buf);
    foil_tensor_free(&out);
    assert_int_equal(foil_membership_scores(FOIL_MI_GAP, logits_buf, y, N, 4, gap), FOIL_OK);
    for (int j = 0; j < N; j++) assert_float_equal(quiet[j], gap[j], 0);
    assert_int_equal(foil_membership_label_noise(m, &d.x, y, foil_f32(&d.lower), foil_f32(&d.upper), Q, 2, 1, loud),
                     FOIL_OK);
    double mean = 0;
    for (int j = 0; j < N; j++) {
        assert_true(loud[j] >= 0 && loud[j] <= 1 && fabsf(loud[j] * Q - roundf(loud[j] * Q)) < 1e-4f);
        mean += loud[j] / N;
    }
    assert_true(mean > 0.05 && mean < 0.6);
    assert_int_equal(foil_membership_label_noise(m, &d.x, y, foil_f32(&d.lower), foil_f32(&d.upper), 0, 2, 1, loud),
                     FOIL_ERR_ARG);
    foil_model_free(m);
    foil_dataset_free(&d);
}

static foil_status make_mlp(void *ctx, const foil_dataset *train, uint64_t seed, foil_model **out)
{
    (void)ctx, (void)train;
    int64_t hidden[1] = {64};
    foil_arch_spec spec = {.name = "mlp", .input_rank = 4, .input_shape = {1, 6, 6}, .classes = 4, .seed = seed,
                           .hidden = hidden, .n_hidden = 1};
    return foil_arch_build(&spec, out);
}

/* Shadow models on toy images, a fifth of them relabelled, trained long
 * enough to learn those by heart: a relabelled example's phi is far higher
 * on the models that trained on it. */
static void test_shadow_models_overfit(void **state)
{
    (void)state;
    enum { N = 64, M = 4, C = 4 };
    foil_dataset pool;
    toy_quadrants(&pool, N, C, 6, 5);
    for (int j = 0; j < N; j += 5) foil_i64(&pool.y)[j] = (foil_i64(&pool.y)[j] + 1) % C; /* learnt by heart only */
    uint8_t keep[M * N];
    assert_int_equal(foil_membership_keep(M, N, 4, keep), FOIL_OK);
    foil_train_options o;
    foil_train_defaults(&o);
    o.epochs = 60, o.batch = 16, o.quiet = 1;
    float *logits = malloc(M * N * C * sizeof *logits), phi[M * N];
    assert_int_equal(foil_shadow_logits(make_mlp, NULL, &pool, keep, M, &o, 9, logits), FOIL_OK);
    double in = 0, out = 0;
    int64_t n_in = 0, n_out = 0;
    for (int k = 0; k < M; k++) {
        assert_int_equal(foil_lira_statistic(logits + k * N * C, foil_i64(&pool.y), N, C, phi + k * N), FOIL_OK);
        for (int j = 0; j < N; j += 5) {
            if (keep[k * N + j]) in += phi[k * N + j], n_in++;
            else out += phi[k * N + j], n_out++;
        }
    }
    in /= (double)n_in, out /= (double)n_out;
    print_message("mean phi of the relabelled examples: members %.2f, non-members %.2f\n", in, out);
    assert_true(in > out + 1);
    free(logits);
    foil_dataset_free(&pool);
}

/* The same shadow models on one thread as on two, where two train side by
 * side: each model's arithmetic does not depend on the threads. */
static void test_shadow_models_any_threads(void **state)
{
    (void)state;
    enum { N = 40, M = 4, C = 4 };
    foil_dataset pool;
    toy_quadrants(&pool, N, C, 6, 7);
    uint8_t keep[M * N];
    assert_int_equal(foil_membership_keep(M, N, 5, keep), FOIL_OK);
    foil_train_options o;
    foil_train_defaults(&o);
    o.epochs = 5, o.batch = 8, o.quiet = 1;
    float *one = malloc(M * N * C * sizeof *one), *two = malloc(M * N * C * sizeof *two);
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    assert_int_equal(foil_shadow_logits(make_mlp, NULL, &pool, keep, M, &o, 3, one), FOIL_OK);
    omp_set_num_threads(2);
    assert_int_equal(foil_shadow_logits(make_mlp, NULL, &pool, keep, M, &o, 3, two), FOIL_OK);
    assert_int_equal(omp_get_max_threads(), 2); /* the workers' one thread each stays theirs */
    omp_set_num_threads(threads);
    assert_memory_equal(one, two, M * N * C * sizeof *one);
    float spread = 0; /* and the models differ from each other: each trained on its own half, its own seed */
    for (int i = 0; i < N * C; i++) spread = fmaxf(spread, fabsf(one[i] - one[N * C + i]));
    assert_true(spread > 1e-3f);
    free(one), free(two);
    foil_dataset_free(&pool);
}

/* One synthetic prediction: class y's logit `margin` above the others,
 * which are spread a little so that the vector is not degenerate. */
static void synthetic_logits(float *z, int classes, int y, double margin, foil_rng *rng)
{
    for (int c = 0; c < classes; c++) z[c] = (float)(0.3 * foil_rng_normal(rng));
    z[y] += (float)margin;
}

/* Membership that shows differently per class: class 0's members have a
 * margin of 2 against 0 for its non-members, class 1's 8 against 6. One
 * loss threshold for both classes orders class 1's non-members above
 * class 0's members; Shokri et al.'s attack model per class does not. */
static void test_shadow_classifier_per_class(void **state)
{
    (void)state;
    enum { N = 400, S = 8, C = 2 };
    float *shadow = malloc(S * N * C * sizeof *shadow), target[N * C], score[N], loss[N];
    uint8_t *keep = malloc(S * N), member[N];
    int64_t y[N];
    assert_int_equal(foil_membership_keep(S, N, 6, keep), FOIL_OK);
    foil_rng rng = foil_rng_make(8, 0);
    for (int j = 0; j < N; j++) {
        y[j] = j % 2, member[j] = (j / 2) % 2;
        const double base = y[j] ? 6 : 0;
        for (int k = 0; k < S; k++)
            synthetic_logits(shadow + (k * N + j) * C, C, (int)y[j], base + 2 * keep[k * N + j] + 0.5 * foil_rng_normal(&rng), &rng);
        synthetic_logits(target + j * C, C, (int)y[j], base + 2 * member[j] + 0.5 * foil_rng_normal(&rng), &rng);
    }
    assert_int_equal(foil_shadow_classifier_scores(target, y, N, C, shadow, keep, S, 1, score), FOIL_OK);
    assert_int_equal(foil_membership_scores(FOIL_MI_LOSS, target, y, N, C, loss), FOIL_OK);
    double auc[2];
    for (int a = 0; a < 2; a++) {
        float in[N], out[N];
        int n_in = 0, n_out = 0;
        for (int j = 0; j < N; j++) {
            const float v = a ? loss[j] : score[j];
            if (member[j]) in[n_in++] = v;
            else out[n_out++] = v;
        }
        auc[a] = foil_roc_auc(out, n_out, in, n_in);
    }
    print_message("AUC: attack models per class %.3f, one loss threshold %.3f\n", auc[0], auc[1]);
    assert_true(auc[0] > 0.9 && auc[1] < 0.85);
    assert_int_equal(foil_shadow_classifier_scores(target, y, N, C, shadow, keep, 0, 1, score), FOIL_ERR_ARG);
    y[3] = 2;
    assert_int_equal(foil_shadow_classifier_scores(target, y, N, C, shadow, keep, S, 1, score), FOIL_ERR_ARG);
    free(shadow), free(keep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threshold_scores),
        cmocka_unit_test(test_scores_stay_finite),
        cmocka_unit_test(test_lira_by_hand),
        cmocka_unit_test(test_lira_separates_by_example),
        cmocka_unit_test(test_membership_keep),
        cmocka_unit_test(test_label_noise),
        cmocka_unit_test(test_shadow_models_overfit),
        cmocka_unit_test(test_shadow_models_any_threads),
        cmocka_unit_test(test_shadow_classifier_per_class),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
