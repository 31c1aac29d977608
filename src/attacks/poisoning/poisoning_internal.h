/*
 * attacks/poisoning/poisoning_internal.h - the poisoning attacks' parts
 * that poison.c dispatches to, and that tests reach in to check. Not public.
 */
#ifndef FOIL_POISONING_INTERNAL_H
#define FOIL_POISONING_INTERNAL_H

#include "foil/poison.h"

/* Witches' Brew (gradient_matching.c) on the examples m->index of
 * poisoned, in place, their labels m->label_before; *objective gets the
 * kept restart's 1 - cos(poisons' gradient, target's). */
foil_status foilGradientMatching(const foil_poison_options *o, const foil_poison_manifest *m, foil_dataset *poisoned,
                                 double *objective);

/* Poison frogs (feature_collision.c) on the examples m->index of
 * poisoned, in place; *objective gets their mean feature distance ratio. */
foil_status foilFeatureCollision(const foil_poison_options *o, const foil_poison_manifest *m, foil_dataset *poisoned,
                                 double *objective);

/* The matching objective J at poisons x (labels their own) for target_x
 * (one example) and the intended class y_adv; dJ (like x), when not NULL,
 * its gradient with respect to x as the attack computes it. For tests. */
foil_status foilGradientMatchingObjective(foil_model *model, const foil_tensor *x, const int64_t *labels,
                                          const float *target_x, int64_t y_adv, double *J, float *dJ);

#endif
