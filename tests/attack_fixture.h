/*
 * tests/attack_fixture.h - what the attack tests share: the cnn-small model
 * trained by the attack_models ctest fixture, the first N Fashion-MNIST test
 * images  (N = FOIL_ATTACK_EXAMPLES, 1000 unless the sanitizer build lowers
 * it to 100), and a threat model with the data's [0, 1] bounds.
 */
#ifndef FOIL_TEST_ATTACK_FIXTURE_H
#define FOIL_TEST_ATTACK_FIXTURE_H

#include "foil/evasion.h"
#include "foil/eval.h"
#include "foil/data.h"
#include "foil/model.h"

typedef struct attack_fixture {
    foil_model *model;
    foil_dataset data;       /* x and y cut to the first `examples` test images */
    int64_t examples;
} attack_fixture;

/* Load the image fixture (FOIL_ATTACK_MODEL) or, with tabular = 1, the
 * breast-cancer MLP (FOIL_ATTACK_TABULAR_MODEL) on its whole test split.
 * Returns 0, or 77 (after printing why) when the fixture is absent. */
int attack_fixture_load(attack_fixture *f, int tabular);
void attack_fixture_free(attack_fixture *f);

/* A view of the first k examples (shares f's memory; do not free it). */
attack_fixture attack_fixture_head(const attack_fixture *f, int64_t k);

/* A threat with the data's bounds and the given norm and eps. */
foil_threat attack_fixture_threat(const attack_fixture *f, foil_norm norm, float eps);

/* Run an attack (quiet) and summarize it; fails the test on error. The
 * result is freed unless `keep` is not NULL (then the caller frees it). */
foil_evasion_summary attack_fixture_run(attack_fixture *f, const char *name, const foil_threat *t, const char *params,
                                       foil_evasion_result *keep);

/* Run an attack that is expected to fail (or may): returns its status and
 * prints the error; a result, if any, is freed. opt NULL means quiet with
 * default options. */
foil_status attack_fixture_try(attack_fixture *f, const char *name, const foil_threat *t,
                               const foil_evasion_options *opt);

/* Assert, per example, what the runner promises: adv within bounds, within
 * eps (when eps > 0), non-attacked rows untouched. */
void attack_fixture_check_result(const attack_fixture *f, const foil_threat *t, const foil_evasion_result *r);
#endif
