/*
 * foil/poison.h - poisoning attacks on a training set (ART's vocabulary:
 * poisoning attacks, backdoors, triggers).
 *
 * An attack takes the training set and returns a poisoned copy of it and a
 * manifest: which examples it changed, with their labels before and after,
 * so that a defense's detections can be scored against the truth.
 *
 *   label flip      random label flipping: each poisoned example gets
 *                   another class, uniformly.
 *   targeted flip   the poisoned examples of class `source` get class
 *                   `target`.
 *   badnets         Gu, Dolan-Gavitt and Garg 2017: a patch_size x
 *                   patch_size checkerboard of the input range's two ends
 *                   one pixel from the bottom-right corner of every channel
 *                   (ART's add_pattern_bd draws a smaller pattern of the same
 *                   kind), and the label `target` (all-to-one, chosen among
 *                   examples of the other classes) or y + 1 mod classes
 *                   (all-to-all).
 *   blend           Chen et al. 2017, the blended-injection backdoor:
 *                   x' = (1 - alpha) x + alpha k, k a pattern of uniform
 *                   random values over the input range (the paper's random
 *                   pattern key), drawn from the seed; labels as badnets.
 *   clean-label     Turner, Tsipras and Madry 2019: examples of class
 *                   `target` keep their label; each is first moved by PGD
 *                   (Linf, radius eps, `steps` steps) away from its class
 *                   on `model` (trained on clean data), so that its natural
 *                   features no longer explain the label, then stamped with
 *                   the badnets patch. foil uses the full-amplitude patch in
 *                   one corner (the paper also tries fainter ones and four
 *                   corners).
 *   gradient matching  Geiping et al. 2021, "Witches' Brew": a targeted
 *                   attack on one test image target_x. Examples of class
 *                   `target` (the class the image should get) keep their
 *                   labels and get perturbations (Linf radius eps, default
 *                   16/255) chosen so that their training gradient on
 *                   `model` (trained on clean data) aligns with that of
 *                   the target's loss for class `target`: a model trained
 *                   from scratch on them learns to misclassify target_x.
 *                   Signed Adam, `steps` (default 250) steps, the best of
 *                   `restarts` (default 8); with an `ensemble` of more
 *                   crafting models, the mean of their objectives (the
 *                   paper's ensembles); see gradient_matching.c for
 *                   what foil does differently from the reference code.
 *   feature collision  Shafahi et al. 2018, "poison frogs": the same aim, against a
 *                   victim that fine-tunes only the last layer of `model`
 *                   (foil train --fine-tune). Examples of class `target`
 *                   keep their labels; each moves to where its penultimate
 *                   features collide with target_x's while it stays close
 *                   to itself (forward-backward splitting, `steps`,
 *                   default 1000; see feature_collision.c).
 *
 * A targeted flip given target_x flips the `source` examples nearest to it
 * (Euclidean distance) instead of random ones: a label flip aimed at one
 * test image.
 *
 * `rate` is the share of the training set poisoned (targeted flip: the
 * share of class `source`; clean-label: of class `target`; gradient
 * matching, feature collision: of the whole set), rounded to the
 * nearest count; the examples are
 * drawn uniformly without replacement from those eligible. Everything is
 * drawn from `seed`: the same options give the same poisoned set.
 */
#ifndef FOIL_POISON_H
#define FOIL_POISON_H

#include <stdint.h>

#include "foil/data.h"
#include "foil/model.h"
#include "foil/status.h"
#include "foil/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum foil_poison_attack {
    FOIL_POISON_LABEL_FLIP = 0,
    FOIL_POISON_TARGETED_FLIP,
    FOIL_POISON_BADNETS,
    FOIL_POISON_BLEND,
    FOIL_POISON_CLEAN_LABEL,
    FOIL_POISON_GRADIENT_MATCHING,
    FOIL_POISON_FEATURE_COLLISION
} foil_poison_attack;

/* "label-flip", "targeted-flip", "badnets", "blend", "clean-label", "gradient-matching", "feature-collision";
 * parse: FOIL_ERR_ARG naming s. */
const char *foil_poison_attack_name(foil_poison_attack a);
foil_status foil_poison_attack_parse(const char *s, foil_poison_attack *a);

typedef struct foil_poison_options {
    foil_poison_attack attack;
    double rate;            /* 0 <= rate <= 1 */
    int64_t source;         /* targeted flip: the class flipped */
    int64_t target;         /* targeted flip; badnets and blend all-to-one: the label they give */
    int all_to_all;         /* badnets, blend: label y + 1 mod classes instead of target */
    int64_t patch_size;     /* badnets: the patch's side in pixels (0: 3) */
    double blend_alpha;     /* blend: 0 < alpha <= 1 (0: 0.2) */
    foil_model *model;      /* clean-label: the model PGD runs on; gradient matching, feature collision: the
                             * one they attack (feature collision: loaded from an ONNX file) */
    double eps;             /* clean-label: PGD's Linf radius (0: 0.1); gradient matching: (0: 16/255) */
    int64_t steps;          /* clean-label: PGD's steps (0: 20); gradient matching: (0: 250); feature
                             * collision (0: 1000) */
    int64_t restarts;       /* gradient matching (0: 8) */
    int64_t crop_pad;       /* gradient matching: augment the poisons while brewing, as the victim trains (foil
                             * train --crop-pad P --flip): a random crop after zero padding by P pixels (0: none) */
    int flip;               /* ... and a random horizontal flip */
    foil_model *const *ensemble; /* gradient matching: more crafting models (the same architecture, other seeds),
                             * the objective averaged over model and these, the paper's ensembles */
    int64_t ensemble_size;  /* their number, 0 to FOIL_ENSEMBLE_MAX - 1 (0: model alone) */
    const float *target_x;  /* gradient matching, feature collision: the test image attacked (one example, like the training
                             * set's); targeted flip: flip the source examples nearest to it (NULL: random) */
    uint64_t seed;
    int quiet;              /* no progress bar (gradient matching, feature collision) */
} foil_poison_options;

typedef struct foil_poison_manifest {
    int64_t n;              /* poisoned examples */
    int64_t *index;         /* their indices in the training set, increasing */
    int64_t *label_before, *label_after;
    double objective;       /* gradient matching: 1 - cos(poisons' gradient, target's), 0 to 2; feature
                             * collision: the mean of |f(poison) - f(target)|^2 / |f(base) - f(target)|^2
                             * (NaN: neither) */
} foil_poison_manifest;

/* The attack o on train: *poisoned a copy of train (names, bounds and all)
 * with the manifest's examples changed. Errors: options out of range, a
 * class outside the dataset's, a trigger attack on tabular data, a patch
 * larger than the image. */
foil_status foil_poison_dataset(const foil_dataset *train, const foil_poison_options *o, foil_dataset *poisoned,
                                foil_poison_manifest *manifest);

/* The trigger of backdoor o (badnets, blend, clean-label) applied in place to x, images
 * shaped like d's examples, (N, ...) with d's bounds. */
foil_status foil_poison_add_trigger(const foil_dataset *d, const foil_poison_options *o, foil_tensor *x);

/* For a backdoor's attack success rate: the examples of test whose label
 * the backdoor changes (all-to-one: those not of class target; all-to-all:
 * all), triggered, each labelled with the class the backdoor should give
 * it. A model's accuracy on *out is its attack success rate. */
foil_status foil_poison_triggered_set(const foil_dataset *test, const foil_poison_options *o, foil_dataset *out);

void foil_poison_manifest_free(foil_poison_manifest *m);

#ifdef __cplusplus
}
#endif

#endif
