/*
 * foil/vnnlib.h - VNN-LIB properties (the VNN-COMP format) and their
 * verification: verified, falsified (with a checked counterexample) or
 * unknown.
 *
 *   foil_vnnlib *p;  foil_model *m;
 *   foil_vnnlib_load("prop.vnnlib", &p);            // strict parser, errors name file:line
 *   foil_model_load("net.onnx", &m);
 *   foil_vnnlib_options o = {.timeout = 60};
 *   foil_vnnlib_result r = {0};
 *   foil_vnnlib_verify(m, p, &o, &r);               // attack, CROWN, branch and bound
 *   if (r.answer == FOIL_VNNLIB_FALSIFIED) use(r.x, r.y);   // x in the box, y = model(x)
 *   foil_vnnlib_result_free(&r);  foil_vnnlib_free(p);
 *
 * What a property is. A VNN-LIB file declares inputs X_0..X_{n-1} and outputs
 * Y_0..Y_{m-1} (declare-const NAME Real) and asserts a conjunction: bounds
 * on each X_i, which make the input box, and conditions on the Y that
 * describe the UNSAFE outputs. The property holds when no input in the box
 * reaches an unsafe output. foil turns the output conditions into
 * disjunctive normal form: the unsafe region is a union of disjuncts, each
 * a conjunction of rows C_r . Y <= d_r (every (<= A B) / (>= A B) atom over
 * Y's and constants becomes one row).
 *
 * What is read (the subset VNN-COMP 2021 uses), strictly: comments (';' to
 * the end of a line); (declare-const X_i Real) / (declare-const Y_j Real),
 * each once, X and Y indices contiguous from 0, declared before use;
 * (assert F) where F is (<= A B), (>= A B), (and F...) or (or F...), A and B
 * an X_i, a Y_j or a decimal constant. Bounds on inputs (an X against a
 * constant) may appear at the top level of an assert or inside a top-level
 * (and); every X_i needs a lower and an upper bound. Anything else (another
 * command or operator, X against Y, X inside (or), a constant against a
 * constant, an undeclared name) is FOIL_ERR_FORMAT or FOIL_ERR_UNSUPPORTED
 * with "FILE:LINE: problem". Limits (so a hostile file costs little): 1 GiB
 * of text, nesting depth 100, 2^24 variables of each kind and no index
 * beyond what the file's length can declare (len / 16), 65,536 disjuncts
 * and 2^26 coefficients in the DNF.
 *
 * Decimal constants are rounded both ways to float exactly (strtof under
 * the two directed rounding modes): the box that bounds use is the
 * outward-rounded one (it holds every real input of the property), the box
 * that the attack searches is the inward-rounded one (every float in it
 * satisfies the property's bounds as real numbers), and each row keeps its
 * constant rounded down (for checking a counterexample) and up (for
 * refuting a disjunct).
 */
#ifndef FOIL_VNNLIB_H
#define FOIL_VNNLIB_H

#include <stdint.h>

#include "foil/model.h"
#include "foil/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct foil_vnnlib {
    char *path;
    int64_t n_inputs, n_outputs;
    float *lo, *hi;              /* outward box: every real input of the property is in it */
    float *lo_in, *hi_in;        /* inward box: every float in it is an input of the property */
    int64_t n_disjuncts;
    int64_t *first;              /* disjunct i is rows [first[i], first[i+1]), n_disjuncts + 1 entries */
    int64_t n_rows;
    double *C;                   /* n_rows x n_outputs: row r says C_r . Y <= d_r */
    double *d_lo, *d_hi;         /* d_r rounded down, up (d_lo = d_hi when exact) */
} foil_vnnlib;

/* Parse a VNN-LIB file (untrusted). */
foil_status foil_vnnlib_load(const char *path, foil_vnnlib **out);
/* The same from memory; name stands for the path in messages. */
foil_status foil_vnnlib_parse(const char *text, size_t len, const char *name, foil_vnnlib **out);
void foil_vnnlib_free(foil_vnnlib *p);

/* Whether outputs y (n_outputs floats) lie in the unsafe region: the index
 * of the first disjunct whose every row holds (C_r . y <= d_lo[r], in
 * double, every product exact and the sum's rounding accounted for), or -1. */
int64_t foil_vnnlib_unsafe(const foil_vnnlib *p, const float *y);

typedef enum foil_vnnlib_answer {
    FOIL_VNNLIB_UNKNOWN = 0,     /* neither proved nor broken in the time given */
    FOIL_VNNLIB_VERIFIED = 1,    /* the property holds: sound bounds refute every disjunct */
    FOIL_VNNLIB_FALSIFIED = 2    /* a counterexample: x in the box, model(x) unsafe */
} foil_vnnlib_answer;

const char *foil_vnnlib_answer_name(foil_vnnlib_answer a);  /* "verified", "falsified", "unknown" */

typedef struct foil_vnnlib_options {
    double timeout;              /* seconds for the whole property; <= 0: 60 */
    uint64_t seed;               /* the attack's random starts */
    int64_t restarts;            /* random starts per disjunct (0: 8) */
    int64_t steps;               /* PGD steps per start (0: 100) */
    int no_bab;                  /* 1: attack and CROWN only */
    /* Adam steps that optimize the ReLU slopes (alpha-CROWN) of every bound
     * and, in branch and bound, the splits' multipliers (beta-CROWN), with
     * the root's intermediate bounds kept in every subdomain (0: 20). < 0:
     * CROWN's slopes, intermediate bounds again per subdomain and the
     * splits' Lagrangian at the input (foil's first branch and bound). */
    int64_t alpha_steps;
    int quiet;                   /* no progress lines on stderr */
} foil_vnnlib_options;

typedef struct foil_vnnlib_result {
    foil_vnnlib_answer answer;
    float *x;                    /* FALSIFIED: the counterexample, n_inputs floats (inside lo_in..hi_in) */
    float *y;                    /* FALSIFIED: model(x) by foil's forward pass, n_outputs floats */
    int64_t disjunct;            /* FALSIFIED: the disjunct model(x) satisfies */
    double seconds;
    int64_t domains;             /* branch-and-bound subdomains bounded */
    int64_t open_disjuncts;      /* UNKNOWN: disjuncts neither refuted nor hit */
    double worst_margin;         /* UNKNOWN: the smallest refutation margin left (lb - d) */
    char why[160];               /* UNKNOWN: what stopped it */
    int stable_leaf;             /* branch and bound met a subdomain it cannot split further */
} foil_vnnlib_result;

/* Decide the property for model (an ONNX graph model whose input holds
 * n_inputs values, in the property's X order, and whose first output has
 * n_outputs). In order: PGD on the inward box against every disjunct
 * (a hit is re-checked with foil_model_predict and foil_vnnlib_unsafe
 * before it is reported; at most 10% of the timeout), CROWN bounds of
 * every row over the outward box, then branch and bound on ReLU splits
 * (up to 90% of the timeout); when that ends undecided, more attack rounds
 * (other seeds, 4x the starts, 2x the steps) until the timeout. VERIFIED rests
 * only on foil/verify.h's sound bounds, each refutation with a margin above
 * an allowance for the float32 forward pass's rounding (1e-4 of the row's
 * bound range: a margin kept free, not a proven bound on that rounding; the
 * bounds themselves hold for the network in exact arithmetic). */
foil_status foil_vnnlib_verify(foil_model *model, const foil_vnnlib *p, const foil_vnnlib_options *o,
                               foil_vnnlib_result *r);
void foil_vnnlib_result_free(foil_vnnlib_result *r);

/* The VNN-COMP result file (2022 and later format): "unsat" (verified),
 * "sat" and the counterexample ((X_0 v) ... (Y_0 v) ...), or "unknown";
 * written atomically. */
foil_status foil_vnnlib_write_result(const char *path, const foil_vnnlib *p, const foil_vnnlib_result *r);

#ifdef __cplusplus
}
#endif

#endif
