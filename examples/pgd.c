/*
 * examples/pgd.c - libfoil in a few lines: load an ONNX classifier, load
 * Fashion-MNIST's test images, run PGD (Linf, eps 0.1) on the first 100 and
 * print clean and robust accuracy. The same model is then attacked as a
 * black box with the Square Attack, and PGD on the black box is refused.
 *
 *   examples/pgd MODEL.onnx
 *
 * Build against an installed libfoil, or as the tests do (examples/CMakeLists.txt).
 */
#include <stdio.h>

#include "foil/evasion.h"
#include "foil/eval.h"
#include "foil/data.h"
#include "foil/model.h"

static int report(const char *what, foil_status st, const foil_evasion_result *r)
{
    if (st) {
        fprintf(stderr, "%s: %s\n", what, foil_last_error());
        return 1;
    }
    foil_evasion_summary s;
    foil_evasion_summarize(r, &s);
    printf("%-22s clean %.1f%%  robust %.1f%%  queries/example %.1f\n", what, 100 * s.clean_accuracy,
           100 * s.robust_accuracy, s.mean_queries);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL.onnx\n", argv[0]);
        return 2;
    }
    foil_model *model = NULL, *hidden = NULL, *copy = NULL;
    foil_dataset test = {0};
    foil_data_spec spec = {.data = "fashion-mnist"};
    if (foil_model_load(argv[1], &model) || foil_data_load(&spec, FOIL_SPLIT_TEST, &test)) {
        fprintf(stderr, "%s\n", foil_last_error());
        foil_model_free(model);
        return 1;
    }
    /* the first 100 images */
    test.x.shape[0] = test.y.shape[0] = test.y.numel = 100;
    test.x.numel = 100 * foil_dataset_example_size(&test);

    foil_threat threat = {.norm = FOIL_NORM_LINF, .eps = 0.1f, .lower = foil_f32(&test.lower),
                          .upper = foil_f32(&test.upper), .seed = 1};
    foil_evasion_options opt = {.quiet = 1};
    foil_evasion_result r;
    int rc = report("pgd", foil_evasion_run("pgd", model, &test.x, foil_i64(&test.y), &threat, &opt, &r), &r);
    if (!rc) foil_evasion_result_free(&r);

    /* The same model as a deployed API sees it: queries only. */
    if (!rc && (foil_model_load(argv[1], &copy) || foil_model_black_box(copy, 0, NULL, &hidden))) {
        fprintf(stderr, "%s\n", foil_last_error());
        rc = 1;
    }
    threat.queries = 300;
    if (!rc) rc = report("square on a black box",
                         foil_evasion_run("square", hidden, &test.x, foil_i64(&test.y), &threat, &opt, &r), &r);
    if (!rc) foil_evasion_result_free(&r);
    if (!rc) {
        foil_status st = foil_evasion_run("pgd", hidden, &test.x, foil_i64(&test.y), &threat, &opt, &r);
        printf("pgd on a black box:    %s\n", st == FOIL_ERR_CAPABILITY ? "refused" : "NOT refused");
        printf("  (%s)\n", foil_last_error());
        if (st != FOIL_ERR_CAPABILITY) rc = 1;
    }
    foil_model_free(hidden);
    foil_model_free(model);
    foil_dataset_free(&test);
    return rc;
}
