/*
 * bench/bench_engine.c - time foil's forward pass and forward + input
 * gradient through an ONNX classifier, as an attack's inner loop runs them.
 *
 * usage: bench_engine MODEL.onnx BATCH REPEATS [C H W] [--load | --forward]
 * Prints one line per measurement: "foil forward|forward+grad BATCH median_ms
 * images_per_s" (medians over REPEATS timed runs after 3 warm-ups).
 * --load first times loading as the zoo benchmark times ONNX Runtime's and
 * PyTorch's: foil_model_load and the first batch-1 forward, minus a warm
 * batch-1 forward (the median of 3), as "foil load 1 ms 0".
 * --forward times the forward pass only (for profiling it under perf).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "foil/model.h"
#include "foil/rng.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Loading time (see the header): file to first batch-1 logits, minus a
 * warm batch-1 forward. */
static foil_status time_load(const char *path, int64_t c, int64_t h, int64_t w, double *ms)
{
    int64_t shape[4] = {1, c, h, w};
    foil_tensor x = {0}, logits = {0};
    foil_model *m = NULL;
    foil_status st = foil_tensor_alloc(&x, FOIL_F32, 4, shape);
    for (int64_t i = 0; !st && i < x.numel; i++) foil_f32(&x)[i] = 0.5f;
    double t0 = now_ms(), warm[3];
    if (!st) st = foil_model_load(path, &m);
    if (!st) st = foil_model_predict(m, &x, &logits);
    const double first = now_ms() - t0;
    for (int k = 0; !st && k < 3; k++) {
        t0 = now_ms();
        st = foil_model_predict(m, &x, &logits);
        warm[k] = now_ms() - t0;
    }
    if (!st) *ms = first - median(warm, 3);
    foil_model_free(m);
    foil_tensor_free(&x);
    foil_tensor_free(&logits);
    return st;
}

int main(int argc, char **argv)
{
    int load = argc > 4 && strcmp(argv[argc - 1], "--load") == 0;
    int forward_only = argc > 4 && strcmp(argv[argc - 1], "--forward") == 0;
    argc -= load + forward_only;
    if (argc < 4) {
        fprintf(stderr, "usage: bench_engine MODEL.onnx BATCH REPEATS [C H W] [--load | --forward]\n");
        return 2;
    }
    int64_t batch = atoll(argv[2]);
    int repeats = atoi(argv[3]);
    int64_t c = argc > 6 ? atoll(argv[4]) : 1, h = argc > 6 ? atoll(argv[5]) : 28, w = argc > 6 ? atoll(argv[6]) : 28;
    if (batch < 1 || repeats < 1 || repeats > 10000) return 2;
    double load_ms;
    if (load) {
        if (time_load(argv[1], c, h, w, &load_ms)) {
            fprintf(stderr, "%s\n", foil_last_error());
            return 1;
        }
        printf("foil load 1 %.4f 0\n", load_ms);
    }
    foil_model *m;
    if (foil_model_load(argv[1], &m)) {
        fprintf(stderr, "%s\n", foil_last_error());
        return 1;
    }
    foil_model_set_max_batch(m, batch);
    int64_t shape[4] = {batch, c, h, w};
    foil_tensor x = {0}, logits = {0}, grad = {0};
    foil_tensor_alloc(&x, FOIL_F32, 4, shape);
    foil_rng r = foil_rng_make(1, 0);
    for (int64_t i = 0; i < x.numel; i++) foil_f32(&x)[i] = foil_rng_uniform(&r);
    int64_t *labels = calloc((size_t)batch, sizeof *labels);
    for (int64_t i = 0; i < batch; i++) labels[i] = i % 10;
    double *t = malloc((size_t)repeats * sizeof *t);
    for (int mode = 0; mode < 2 - forward_only; mode++) {
        for (int k = -3; k < repeats; k++) {
            double t0 = now_ms();
            foil_status st = mode == 0 ? foil_model_predict(m, &x, &logits)
                                       : foil_model_loss_input_grad(m, &x, labels, NULL, NULL, &grad);
            if (st) {
                fprintf(stderr, "%s\n", foil_last_error());
                return 1;
            }
            if (k >= 0) t[k] = now_ms() - t0;
        }
        double med = median(t, repeats);
        printf("foil %s %lld %.4f %.1f\n", mode == 0 ? "forward" : "forward+grad", (long long)batch, med,
               batch / (med / 1e3));
    }
    free(t);
    free(labels);
    foil_tensor_free(&x);
    foil_tensor_free(&logits);
    foil_tensor_free(&grad);
    foil_model_free(m);
    return 0;
}
