/*
 * attacks/text/text_attack_internal.h - the text attacks' tables
 * (char_tables.c), shared with their tests. Not public.
 */
#ifndef FOIL_TEXT_ATTACK_INTERNAL_H
#define FOIL_TEXT_ATTACK_INTERNAL_H

#include <stdint.h>

#include "foil/text_attack.h"

/* The Unicode confusable of Latin letter c (0: none). */
uint32_t foilHomoglyphOf(uint32_t c);
/* TextBugger's look-alike of c (0: none). */
uint32_t foilLookalikeOf(uint32_t c);
/* Whether the word w[0..n) is an English stopword, ignoring ASCII case. */
int foilIsStopword(const uint32_t *w, int n);
int foilStopwordCount(void);

/* One row of logits (classes of them): the predicted class, and in *ce the
 * label's cross-entropy (its probability is exp(-ce)). */
int64_t foilTextRowScores(const float *row, int64_t classes, int64_t label, double *ce);

/* HotFlip (hotflip.c); foil_text_attack hands it over, options checked. */
foil_status foilTextHotflip(foil_model *m, const foil_tokenizer *t, const char *text, int64_t label,
                            const foil_text_attack_options *o, foil_text_attack_result *r);

#endif
