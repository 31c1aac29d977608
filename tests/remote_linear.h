/*
 * tests/remote_linear.h - the classifier tests/remote_server.c serves and
 * tests/test_remote.c checks it against: logits = W x + b, x (N, 1, 8, 8)
 * flattened to 64 features, 10 classes, W and b drawn from a fixed seed.
 *
 * remote_linear.c is compiled into both programs with -ffp-contract=off, so
 * both round every product and sum alike and the scores agree bit for bit.
 */
#ifndef FOIL_TESTS_REMOTE_LINEAR_H
#define FOIL_TESTS_REMOTE_LINEAR_H

#include <stdint.h>

#define REMOTE_LINEAR_FEATURES 64
#define REMOTE_LINEAR_CLASSES 10

/* scores (n x 10) of x (n x 64). */
void remote_linear_scores(const float *x, int64_t n, float *scores);

#endif
